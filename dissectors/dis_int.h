/*
 * dis_int.h - private to dissectors/: the one bounds-checked cursor through
 * which every packet byte is read, and the per-layer decoders.
 *
 * A cursor is [p, end).  Reads check the remaining length first and never
 * form a pointer past end.  Length fields from the packet may only shrink a
 * cursor (dis_cur_limit), never grow it.
 */
#ifndef TCBSCOPE_DIS_INT_H
#define TCBSCOPE_DIS_INT_H

#include "dis.h"

struct dis_cur {
    const uint8_t *p, *end;
};

static inline struct dis_cur dis_cur_make(const uint8_t *p, size_t n)
{
    struct dis_cur c = {p, p + n};
    return c;
}

static inline size_t dis_left(const struct dis_cur *c)
{
    return (size_t)(c->end - c->p);
}

static inline bool dis_skip(struct dis_cur *c, size_t n)
{
    if (dis_left(c) < n)
        return false;
    c->p += n;
    return true;
}

static inline bool dis_u8(struct dis_cur *c, uint8_t *out)
{
    if (dis_left(c) < 1)
        return false;
    *out = c->p[0];
    c->p += 1;
    return true;
}

static inline bool dis_be16(struct dis_cur *c, uint16_t *out)
{
    if (dis_left(c) < 2) /* never compute p + n past end */
        return false;
    *out = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    return true;
}

static inline bool dis_le16(struct dis_cur *c, uint16_t *out)
{
    if (dis_left(c) < 2)
        return false;
    *out = (uint16_t)(c->p[1] << 8 | c->p[0]);
    c->p += 2;
    return true;
}

static inline bool dis_be32(struct dis_cur *c, uint32_t *out)
{
    if (dis_left(c) < 4)
        return false;
    *out = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 |
           (uint32_t)c->p[3];
    c->p += 4;
    return true;
}

static inline bool dis_le32(struct dis_cur *c, uint32_t *out)
{
    if (dis_left(c) < 4)
        return false;
    *out = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 |
           (uint32_t)c->p[0];
    c->p += 4;
    return true;
}

/* Copy n bytes out. */
static inline bool dis_bytes(struct dis_cur *c, void *out, size_t n)
{
    if (dis_left(c) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)out)[i] = c->p[i];
    c->p += n;
    return true;
}

/* Look at byte i ahead without consuming; false when past end. */
static inline bool dis_peek8(const struct dis_cur *c, size_t i, uint8_t *out)
{
    if (dis_left(c) <= i)
        return false;
    *out = c->p[i];
    return true;
}

/* Shrink the cursor to at most n bytes from here (a length field can only
 * shrink what we may read, never grow it). */
static inline void dis_cur_limit(struct dis_cur *c, size_t n)
{
    if (n < dis_left(c))
        c->end = c->p + n;
}

#endif /* TCBSCOPE_DIS_INT_H */
