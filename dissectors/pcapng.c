/*
 * pcapng.c - streaming pcapng reader, block by block.
 *
 * Owns: Section Header (either byte order, several per file, each resetting
 * the interfaces), Interface Description (link type, snaplen, if_tsresol,
 * if_tsoffset), Enhanced / Simple / obsolete Packet Blocks; every other block
 * is skipped by its length.  We read pcapng ourselves rather than through
 * libpcap because libpcap 1.10 refuses files whose interfaces have different
 * link types.  Block bytes are untrusted: every field is read through the
 * cursor of dis_int.h, and a claimed block length only grows the buffer as
 * the bytes actually arrive.
 *
 * Leaves to reader.c: opening files, decompression, format detection, the
 * filter, frame numbers, merging and the messages' file names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dis_int.h"
#include "reader_int.h"

#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1A2B3C4Du

#define NG_OPT_END 0
#define NG_OPT_TSRESOL 9
#define NG_OPT_TSOFFSET 14

#define NG_CHUNK (64u << 10) /* buffer floor, and the unit in which skipped blocks are read */

static bool ng_u16(const struct dis_ng *ng, struct dis_cur *c, uint16_t *out)
{
    return ng->be ? dis_be16(c, out) : dis_le16(c, out);
}

static bool ng_u32(const struct dis_ng *ng, struct dis_cur *c, uint32_t *out)
{
    return ng->be ? dis_be32(c, out) : dis_le32(c, out);
}

/* A 64-bit option value in section byte order. */
static bool ng_u64(const struct dis_ng *ng, struct dis_cur *c, uint64_t *out)
{
    uint32_t a, b;
    if (!ng_u32(ng, c, &a) || !ng_u32(ng, c, &b))
        return false;
    *out = ng->be ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
    return true;
}

/* 32-bit value at buf[off], which the caller knows is inside the buffer. */
static uint32_t ng_get32(const struct dis_ng *ng, size_t off)
{
    struct dis_cur c = dis_cur_make(ng->buf + off, 4);
    uint32_t v = 0;
    ng_u32(ng, &c, &v);
    return v;
}

void dis_file_add_linktype(struct dis_file_info *info, int linktype)
{
    for (unsigned i = 0; i < info->linktype_count; i++)
        if (info->linktypes[i] == (uint32_t)linktype)
            return;
    if (info->linktype_count < DIS_MAX_FILE_LINKTYPES)
        info->linktypes[info->linktype_count++] = (uint32_t)linktype;
}

/* Make the buffer at least n bytes. */
static int ng_reserve(struct dis_ng *ng, size_t n)
{
    if (n <= ng->cap)
        return 0;
    size_t cap = ng->cap ? ng->cap : NG_CHUNK;
    while (cap < n)
        cap *= 2;
    uint8_t *b = realloc(ng->buf, cap);
    if (!b)
        return -ENOMEM;
    ng->buf = b;
    ng->cap = cap;
    return 0;
}

/*
 * Read n bytes into buf[off..off+n).  The buffer grows only as bytes arrive
 * (at most doubling what is already filled), so a block that claims 200 MiB
 * in a 1 KiB file costs no 200 MiB allocation.  Sets *got to the bytes read;
 * returns 0 (short at EOF when *got < n), -EIO or -ENOMEM.
 */
static int ng_fill(struct dis_ng *ng, size_t off, size_t n, size_t *got, char msg[TCBS_ERRLEN])
{
    size_t have = 0;
    *got = 0;
    while (have < n) {
        size_t pos = off + have;
        if (pos == ng->cap && ng_reserve(ng, pos + 1) < 0) {
            snprintf(msg, TCBS_ERRLEN, "out of memory for a %zu-byte block", off + n);
            return -ENOMEM;
        }
        size_t want = n - have;
        if (want > ng->cap - pos)
            want = ng->cap - pos;
        size_t k = fread_unlocked(ng->buf + pos, 1, want, ng->fp); /* one thread per file */
        have += k;
        ng->pos += k;
        if (k < want) {
            *got = have;
            if (ferror(ng->fp)) {
                snprintf(msg, TCBS_ERRLEN, "read error: %s", strerror(errno ? errno : EIO));
                return -EIO;
            }
            return 0;
        }
    }
    *got = have;
    return 0;
}

/* Discard n bytes of a block we do not parse, in chunks, keeping memory flat. */
static int ng_discard(struct dis_ng *ng, size_t n, size_t *got, char msg[TCBS_ERRLEN])
{
    size_t have = 0;
    int rc = ng_reserve(ng, NG_CHUNK);
    if (rc < 0) {
        snprintf(msg, TCBS_ERRLEN, "out of memory");
        return rc;
    }
    *got = 0;
    while (have < n) {
        size_t want = n - have < NG_CHUNK ? n - have : NG_CHUNK;
        size_t k;
        rc = ng_fill(ng, 0, want, &k, msg);
        have += k;
        if (rc < 0 || k < want) {
            *got = have;
            return rc;
        }
    }
    *got = have;
    return 0;
}

static int ng_truncated(struct dis_ng *ng, uint64_t bytes)
{
    ng->trunc_bytes = bytes;
    return DIS_NG_TRUNCATED;
}

__attribute__((format(printf, 2, 3))) static int ng_malformed(char msg[TCBS_ERRLEN],
                                                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, TCBS_ERRLEN, fmt, ap);
    va_end(ap);
    return DIS_NG_MALFORMED;
}

/* Interface timestamp resolution from the if_tsresol byte (pcapng §4.2). */
static void ng_set_tsresol(struct dis_ng *ng, struct dis_ng_iface *ifc, uint8_t v)
{
    unsigned e = v & 0x7f;
    bool finer_than_us;
    if (v & 0x80) {
        ifc->ts_kind = DIS_NG_TS_POW2;
        ifc->ts_exp = (uint8_t)e;
        finer_than_us = e >= 20; /* 2^-20 s < 1 us */
    } else if (e <= 9) {
        ifc->ts_kind = DIS_NG_TS_MUL;
        ifc->ts_factor = 1;
        for (unsigned i = e; i < 9; i++)
            ifc->ts_factor *= 10;
        finer_than_us = e > 6;
    } else if (e - 9 <= 19) { /* 10^19 still fits in 64 bits */
        ifc->ts_kind = DIS_NG_TS_DIV;
        ifc->ts_factor = 1;
        for (unsigned i = 9; i < e; i++)
            ifc->ts_factor *= 10;
        finer_than_us = true;
    } else { /* a tick below 10^-28 s: every 64-bit timestamp is under 1 ns */
        ifc->ts_kind = DIS_NG_TS_ZERO;
        finer_than_us = true;
    }
    if (finer_than_us)
        ng->info->nanosecond = true;
}

/* Ticks of an interface to ns since the epoch (wrapping, never undefined). */
static uint64_t ng_ts_ns(const struct dis_ng_iface *ifc, uint64_t t)
{
    uint64_t ns = 0;
    switch (ifc->ts_kind) {
    case DIS_NG_TS_MUL:
        ns = t * ifc->ts_factor;
        break;
    case DIS_NG_TS_DIV:
        ns = t / ifc->ts_factor;
        break;
    case DIS_NG_TS_POW2: {
        unsigned e = ifc->ts_exp;
        uint64_t sec = e >= 64 ? 0 : t >> e;
        uint64_t frac = e >= 64 ? t : t & ((UINT64_C(1) << e) - 1);
        if (e > 34) { /* keep frac * 10^9 below 2^64: frac < 2^34 after this */
            unsigned sh = e - 34;
            frac = sh >= 64 ? 0 : frac >> sh;
            e = 34;
        }
        ns = sec * UINT64_C(1000000000) + ((frac * UINT64_C(1000000000)) >> e);
        break;
    }
    default:
        break;
    }
    return ns + ifc->ts_offset_ns;
}

/* Section Header Block body after the byte-order magic. */
static int ng_parse_shb(struct dis_ng *ng, struct dis_cur *c, char msg[TCBS_ERRLEN])
{
    uint16_t major, minor;
    if (!ng_u16(ng, c, &major) || !ng_u16(ng, c, &minor))
        return ng_malformed(msg, "section header too short");
    if (major != 1)
        return ng_malformed(msg, "unsupported pcapng version %u.%u", major, minor);
    ng->nifs = 0; /* a new section starts a new interface list */
    return DIS_NG_END;
}

static int ng_parse_idb(struct dis_ng *ng, struct dis_cur *c, char msg[TCBS_ERRLEN])
{
    uint16_t linktype, reserved;
    uint32_t snaplen;
    if (!ng_u16(ng, c, &linktype) || !ng_u16(ng, c, &reserved) || !ng_u32(ng, c, &snaplen))
        return ng_malformed(msg, "interface description block too short (%u bytes)",
                            (uint32_t)dis_left(c));
    if (ng->nifs >= DIS_NG_MAX_IFACES)
        return ng_malformed(msg, "more than %u interfaces in one section", DIS_NG_MAX_IFACES);
    if (ng->nifs == ng->cap_ifs) {
        uint32_t cap = ng->cap_ifs ? ng->cap_ifs * 2 : 8;
        struct dis_ng_iface *ifs = realloc(ng->ifs, cap * sizeof *ifs);
        if (!ifs) {
            snprintf(msg, TCBS_ERRLEN, "out of memory");
            return -ENOMEM;
        }
        ng->ifs = ifs;
        ng->cap_ifs = cap;
    }
    struct dis_ng_iface *ifc = &ng->ifs[ng->nifs++];
    memset(ifc, 0, sizeof *ifc);
    ifc->linktype = linktype;
    ifc->snaplen = snaplen;
    ng_set_tsresol(ng, ifc, 6); /* default: microseconds */
    dis_file_add_linktype(ng->info, linktype);

    /* Options: a bad one ends option parsing, keeping what came before. */
    uint16_t code, len;
    while (ng_u16(ng, c, &code) && ng_u16(ng, c, &len) && code != NG_OPT_END) {
        if (len > dis_left(c))
            break;
        struct dis_cur v = *c;
        dis_cur_limit(&v, len);
        size_t padded = ((size_t)len + 3) & ~(size_t)3;
        dis_skip(c, padded <= dis_left(c) ? padded : dis_left(c));
        uint8_t res;
        uint64_t off;
        if (code == NG_OPT_TSRESOL && dis_u8(&v, &res))
            ng_set_tsresol(ng, ifc, res);
        else if (code == NG_OPT_TSOFFSET && ng_u64(ng, &v, &off))
            ifc->ts_offset_ns = off * UINT64_C(1000000000); /* signed seconds, wrapping */
    }
    return DIS_NG_END;
}

/* Packet data of caplen bytes at c; caplen must fit in what the block holds. */
static int ng_frame(struct dis_ng *ng, struct dis_cur *c, const struct dis_ng_iface *ifc,
                    uint64_t ts, uint32_t caplen, uint32_t wirelen, struct dis_ng_frame *out,
                    char msg[TCBS_ERRLEN])
{
    if (caplen > dis_left(c))
        return ng_malformed(msg, "captured length %u exceeds its block", caplen);
    out->data = c->p;
    out->caplen = caplen;
    out->wirelen = wirelen;
    out->ts_ns = ng_ts_ns(ifc, ts);
    out->linktype = ifc->linktype;
    ng->last_ts = out->ts_ns;
    return DIS_NG_FRAME;
}

static int ng_parse_epb(struct dis_ng *ng, struct dis_cur *c, bool obsolete,
                        struct dis_ng_frame *out, char msg[TCBS_ERRLEN])
{
    uint32_t ifid, hi, lo, caplen, wirelen;
    bool ok;
    if (obsolete) { /* Packet Block: 16-bit interface id, 16-bit drops count */
        uint16_t id16, drops;
        ok = ng_u16(ng, c, &id16) && ng_u16(ng, c, &drops);
        ifid = id16;
    } else {
        ok = ng_u32(ng, c, &ifid);
    }
    if (!ok || !ng_u32(ng, c, &hi) || !ng_u32(ng, c, &lo) || !ng_u32(ng, c, &caplen) ||
        !ng_u32(ng, c, &wirelen))
        return ng_malformed(msg, "packet block too short (%u bytes)", (uint32_t)dis_left(c));
    if (ifid >= ng->nifs)
        return ng_malformed(msg, "packet on unknown interface %u", ifid);
    return ng_frame(ng, c, &ng->ifs[ifid], (uint64_t)hi << 32 | lo, caplen, wirelen, out, msg);
}

static int ng_parse_spb(struct dis_ng *ng, struct dis_cur *c, struct dis_ng_frame *out,
                        char msg[TCBS_ERRLEN])
{
    uint32_t wirelen;
    if (!ng_u32(ng, c, &wirelen))
        return ng_malformed(msg, "simple packet block too short (%u bytes)", (uint32_t)dis_left(c));
    if (ng->nifs == 0)
        return ng_malformed(msg, "simple packet block before any interface");
    const struct dis_ng_iface *ifc = &ng->ifs[0];
    /* No captured length: the original length, cut by the block and the snaplen. */
    uint32_t caplen = wirelen;
    if (caplen > dis_left(c))
        caplen = (uint32_t)dis_left(c);
    if (ifc->snaplen && caplen > ifc->snaplen)
        caplen = ifc->snaplen;
    out->data = c->p;
    out->caplen = caplen;
    out->wirelen = wirelen;
    out->ts_ns = ng->last_ts; /* no timestamp of its own: the last one seen */
    out->linktype = ifc->linktype;
    return DIS_NG_FRAME;
}

/*
 * Read one block whose first `pre` bytes (0 or 4) are already in buf, and
 * parse it.  Returns an enum dis_ng_rc (DIS_NG_END here means "a block that
 * carried no packet"), DIS_NG_END with *eof at a clean end, or a negative errno.
 */
static int ng_block(struct dis_ng *ng, size_t pre, bool *eof, uint32_t *type_out,
                    struct dis_ng_frame *out, char msg[TCBS_ERRLEN])
{
    size_t got;
    int rc;
    *eof = false;
    ng->block_start = ng->pos - pre;
    if ((rc = ng_reserve(ng, NG_CHUNK)) < 0) {
        snprintf(msg, TCBS_ERRLEN, "out of memory");
        return rc;
    }
    if ((rc = ng_fill(ng, pre, 8 - pre, &got, msg)) < 0)
        return rc;
    if (pre + got == 0) {
        *eof = true;
        return DIS_NG_END;
    }
    if (got < 8 - pre)
        return ng_truncated(ng, pre + got);
    size_t hdr = 8;
    uint32_t type = ng_get32(ng, 0); /* the SHB type reads the same in both orders */
    *type_out = type;
    if (type == NG_SHB) {
        if ((rc = ng_fill(ng, 8, 4, &got, msg)) < 0)
            return rc;
        if (got < 4)
            return ng_truncated(ng, 8 + got);
        struct dis_cur c = dis_cur_make(ng->buf + 8, 4);
        uint32_t bom = 0;
        dis_le32(&c, &bom);
        if (bom == NG_BOM)
            ng->be = false;
        else if (bom == 0x4D3C2B1Au)
            ng->be = true;
        else
            return ng_malformed(msg, "section header with bad byte-order magic 0x%08x", bom);
        hdr = 12;
    }
    uint32_t len = ng_get32(ng, 4);
    if (len < 12 || len % 4 || len > DIS_NG_MAX_BLOCK || (type == NG_SHB && len < 28))
        return ng_malformed(msg, "bad block length %u (block type 0x%08x)", len, type);
    bool parse =
        type == NG_SHB || type == NG_IDB || type == NG_EPB || type == NG_SPB || type == NG_PB;
    if (!parse) {
        if ((rc = ng_discard(ng, len - 12, &got, msg)) < 0)
            return rc;
        if (got < len - 12)
            return ng_truncated(ng, 8 + got);
        if ((rc = ng_fill(ng, 0, 4, &got, msg)) < 0)
            return rc;
        if (got < 4)
            return ng_truncated(ng, len - 4 + got);
        uint32_t trail = ng_get32(ng, 0);
        if (trail != len)
            return ng_malformed(msg, "block length %u differs from its trailing length %u", len,
                                trail);
        return DIS_NG_END;
    }
    if ((rc = ng_fill(ng, hdr, len - hdr, &got, msg)) < 0)
        return rc;
    if (got < len - hdr)
        return ng_truncated(ng, hdr + got);
    uint32_t trail = ng_get32(ng, len - 4);
    if (trail != len)
        return ng_malformed(msg, "block length %u differs from its trailing length %u", len, trail);
    struct dis_cur c = dis_cur_make(ng->buf + hdr, len - hdr - 4);
    switch (type) {
    case NG_SHB:
        return ng_parse_shb(ng, &c, msg);
    case NG_IDB:
        return ng_parse_idb(ng, &c, msg);
    case NG_EPB:
        return ng_parse_epb(ng, &c, false, out, msg);
    case NG_PB:
        return ng_parse_epb(ng, &c, true, out, msg);
    default:
        return ng_parse_spb(ng, &c, out, msg);
    }
}

int dis_ng_open(struct dis_ng *ng, FILE *fp, const uint8_t magic[4], struct dis_file_info *info,
                char msg[TCBS_ERRLEN])
{
    ng->fp = fp;
    ng->info = info;
    ng->nifs = 0;
    ng->be = false;
    ng->trunc_bytes = 0;
    int rc = ng_reserve(ng, NG_CHUNK);
    if (rc < 0) {
        snprintf(msg, TCBS_ERRLEN, "out of memory");
        return rc;
    }
    memcpy(ng->buf, magic, 4);
    ng->pos = 4;
    bool eof;
    uint32_t type = 0;
    struct dis_ng_frame unused;
    rc = ng_block(ng, 4, &eof, &type, &unused, msg);
    if (rc < 0)
        return rc;
    if (rc == DIS_NG_TRUNCATED) {
        snprintf(msg, TCBS_ERRLEN, "truncated pcapng section header (%llu bytes)",
                 (unsigned long long)ng->trunc_bytes);
        return -EINVAL;
    }
    if (rc != DIS_NG_END) /* DIS_NG_MALFORMED: msg is set */
        return -EINVAL;
    return 0;
}

int dis_ng_next(struct dis_ng *ng, struct dis_ng_frame *out, char msg[TCBS_ERRLEN])
{
    for (;;) {
        bool eof;
        uint32_t type = 0;
        int rc = ng_block(ng, 0, &eof, &type, out, msg);
        if (rc != DIS_NG_END || eof)
            return rc;
    }
}

void dis_ng_free(struct dis_ng *ng)
{
    free(ng->buf);
    free(ng->ifs);
    ng->buf = NULL;
    ng->ifs = NULL;
    ng->cap = 0;
    ng->cap_ifs = 0;
    ng->nifs = 0;
}
