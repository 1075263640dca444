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

#include <assert.h>

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

/* ----------------------------------------------------------------------------
 * Per-layer decoders (link.c, ip.c, tcp.c), called in turn by dis_decode()
 * in decode.c.  Each takes the cursor positioned at its header, consumes what
 * it decodes and returns DIS_SKIP_NONE or why the frame is unusable.
 */

/* What the link layer says comes next. */
enum dis_l3 {
    DIS_L3_IPV4,
    DIS_L3_IPV6,
    DIS_L3_GUESS /* RAW: the version nibble decides */
};

/*
 * Decode the link header(s) of a frame of a supported link type: VLAN tags,
 * MPLS labels and PPPoE inside it included.  On DIS_SKIP_NONE, *c starts at
 * the IP header and *l3 says which IP version the link announced.  Fills
 * p->vlan*, p->mpls_count, p->pppoe.
 */
enum dis_skip dis_link_decode(int linktype, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3);

/* An Ethernet header (with VLAN, MPLS, PPPoE, LLC/SNAP) at c, as for EN10MB;
 * tunnels carrying Ethernet use it.  Same contract as dis_link_decode(). */
enum dis_skip dis_en10mb(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3);

/* From an ethertype on (c just after it): VLAN tags, MPLS, PPPoE or IP. */
enum dis_skip dis_ethertype(uint16_t type, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3);

/* What the IP layer hands to TCP. */
struct dis_l4 {
    struct dis_cur seg; /* captured bytes of the TCP segment, limited by the IP length */
    uint32_t seg_len;   /* segment length claimed by IP (header + payload, this fragment) */
    bool fragment;      /* first fragment of a fragmented datagram */
    bool csum_ok;       /* TCP checksum verifiable (pseudo-header known: no pending route) */
    uint64_t pseudo;    /* pseudo-header sum (not folded) */
    /* On DIS_SKIP_NOT_TCP from dis_ip_decode() (only then): the protocol /
     * next header that is not TCP, with seg and seg_len its payload as for
     * TCP, and later_fragment for an IPv4 datagram that is a non-first
     * fragment (fragment: a first one).  dis_tunnel_decode() reads them. */
    uint8_t proto;
    bool later_fragment;
};

/*
 * Decode the IPv4 / IPv6 header(s) at c (by value: the caller has no use for
 * it afterwards, and a local copy stays in registers).  wire_left is how many bytes of the
 * frame on the wire start here (captured ones may be fewer).  Fills p's IP
 * fields (p->ip_version as soon as the version is known) and *l4.  With
 * verify_csum, an IPv4 header with a bad checksum sets p->csum = BAD_IP.
 */
enum dis_skip dis_ip_decode(enum dis_l3 l3, struct dis_cur c, size_t wire_left, bool verify_csum,
                            struct dis_pkt *p, struct dis_l4 *l4);

/*
 * Look into the payload of an IP datagram that is not TCP (l4 as left by
 * dis_ip_decode() returning DIS_SKIP_NOT_TCP; p->ip_version is the outer
 * version) for one of the tunnels of DIS_TUNNEL_LIST, and decode the tunnel
 * header and any Ethernet inside it.  On DIS_SKIP_NONE, *c is at the inner
 * IP header, *wire_left how many bytes of it were on the wire, *l3 its
 * announced version, and p->tunnel/tunnel_id/has_tunnel_id/tunnel_depth
 * describe this tunnel (the caller bounds the depth).  DIS_SKIP_NOT_TCP
 * when the payload is no tunnel we decode; else why the frame is unusable.
 */
enum dis_skip dis_tunnel_decode(const struct dis_l4 *l4, struct dis_pkt *p, struct dis_cur *c,
                                size_t *wire_left, enum dis_l3 *l3);

/*
 * Decode the TCP header and options of l4->seg, set the payload fields and,
 * with verify_csum and the whole segment captured, the TCP checksum verdict.
 */
enum dis_skip dis_tcp_decode(const struct dis_l4 *l4, bool verify_csum, struct dis_pkt *p);

/*
 * Add the next n bytes of c (not consumed) to a one's-complement sum as
 * big-endian 16-bit words, an odd last byte padded with zero.  The caller has
 * checked dis_left(c) >= n; the assert restates it.  Words go into a 64-bit
 * accumulator, folded only by dis_csum_fold().
 */
static inline uint64_t dis_csum_add(uint64_t acc, const struct dis_cur *c, size_t n)
{
    const uint8_t *b = c->p;
    size_t i = 0;

    assert(dis_left(c) >= n);
    for (; i + 4 <= n; i += 4)
        acc += (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 | (uint32_t)b[i + 2] << 8 |
               (uint32_t)b[i + 3];
    for (; i + 2 <= n; i += 2)
        acc += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (i < n)
        acc += (uint32_t)b[i] << 8;
    return acc;
}

/* Fold a sum from dis_csum_add() to 16 bits (0xffff means "verifies"). */
static inline uint16_t dis_csum_fold(uint64_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

#endif /* TCBSCOPE_DIS_INT_H */
