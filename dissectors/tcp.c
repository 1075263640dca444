/*
 * tcp.c - TCP header and option decoding for dis_decode(), and the TCP
 * checksum verdict.
 *
 * Leaves the IP layer (and the pseudo-header sum it prepares) to ip.c, and
 * any meaning of the values (sequence space, window scaling) to analyzer/.
 */
#include "dis_int.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8
#define TCPOPT_TFO 34
#define TCPOPT_EXP 254
#define TCPOPT_TFO_MAGIC 0xf989

/*
 * Options (RFC 9293 section 3.2 and the RFCs of each kind).  A length that
 * cannot be right stops the walk with DIS_ODD_OPT_MALFORMED: what was decoded
 * before it stays, as a receiver would keep the header.  missing is how many
 * option bytes of the header the snaplen cut off: an option running into
 * them is not malformed, the walk just stops there.
 */
static void dis_tcp_opts(struct dis_cur *c, size_t missing, struct dis_pkt *p)
{
    struct dis_tcp_opts *o = &p->opt;
    uint8_t kind, len;

    while (dis_u8(c, &kind)) {
        struct dis_cur v;
        uint16_t magic;
        bool ok = true;

        if (kind == TCPOPT_EOL)
            return;
        if (kind == TCPOPT_NOP)
            continue;
        if (!dis_u8(c, &len)) {
            if (missing)
                return; /* the length byte was cut off */
            goto malformed;
        }
        if (len < 2 || dis_left(c) + missing < (size_t)len - 2)
            goto malformed; /* runs past the header's end */
        if (dis_left(c) < (size_t)len - 2)
            return; /* runs past the snaplen */
        v = *c;
        dis_cur_limit(&v, (size_t)len - 2);
        (void)dis_skip(c, (size_t)len - 2); /* cannot fail: checked above */
        switch (kind) {
        case TCPOPT_MSS:
            ok = len == 4 && dis_be16(&v, &o->mss);
            if (ok)
                o->present |= DIS_OPT_MSS;
            break;
        case TCPOPT_WSCALE:
            ok = len == 3 && dis_u8(&v, &o->wscale);
            if (ok)
                o->present |= DIS_OPT_WSCALE;
            break;
        case TCPOPT_SACK_PERM:
            ok = len == 2;
            if (ok)
                o->present |= DIS_OPT_SACK_PERM;
            break;
        case TCPOPT_SACK:
            ok = len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= DIS_MAX_SACK;
            if (!ok)
                break;
            o->sack_count = 0;
            while (o->sack_count < (len - 2) / 8 && dis_be32(&v, &o->sack[o->sack_count][0]) &&
                   dis_be32(&v, &o->sack[o->sack_count][1]))
                o->sack_count++;
            o->present |= DIS_OPT_SACK;
            break;
        case TCPOPT_TS:
            ok = len == 10 && dis_be32(&v, &o->ts_val) && dis_be32(&v, &o->ts_ecr);
            if (ok)
                o->present |= DIS_OPT_TS;
            break;
        case TCPOPT_TFO: /* RFC 7413: empty = cookie request, cookie 4..16 bytes */
            ok = len == 2 || (len >= 6 && len <= 18);
            if (ok) {
                o->present |= DIS_OPT_TFO;
                o->tfo_cookie_len = (uint8_t)(len - 2);
            }
            break;
        case TCPOPT_EXP:
            /* Shared experimental kind (RFC 6994): only the TFO magic is ours. */
            if (len >= 4 && dis_be16(&v, &magic) && magic == TCPOPT_TFO_MAGIC) {
                ok = len == 4 || (len >= 8 && len <= 20);
                if (ok) {
                    o->present |= DIS_OPT_TFO;
                    o->tfo_cookie_len = (uint8_t)(len - 4);
                }
            } else if (o->unknown_count < UINT8_MAX) {
                o->unknown_count++;
            }
            break;
        default:
            if (o->unknown_count < UINT8_MAX)
                o->unknown_count++;
            break;
        }
        if (!ok)
            goto malformed;
    }
    return;
malformed:
    p->flags_odd |= DIS_ODD_OPT_MALFORMED;
}

enum dis_skip dis_tcp_decode(const struct dis_l4 *l4, bool verify_csum, struct dis_pkt *p)
{
    struct dis_cur c = l4->seg, opts;
    uint8_t off, flags;
    size_t hlen;

    /* Shorter than a minimal header on the wire: the offset cannot fit. */
    if (l4->seg_len < 20)
        return l4->fragment ? DIS_SKIP_FRAG_TCP_INCOMPLETE : DIS_SKIP_TCP_BAD_OFFSET;
    if (!dis_be16(&c, &p->sport) || !dis_be16(&c, &p->dport) || !dis_be32(&c, &p->seq) ||
        !dis_be32(&c, &p->ack) || !dis_u8(&c, &off) || !dis_u8(&c, &flags) ||
        !dis_be16(&c, &p->window) || !dis_skip(&c, 2) || !dis_be16(&c, &p->urgent))
        return DIS_SKIP_TCP_TRUNCATED;
    hlen = (size_t)(off >> 4) * 4;
    if (hlen < 20)
        return DIS_SKIP_TCP_BAD_OFFSET;
    if (hlen > l4->seg_len)
        return l4->fragment ? DIS_SKIP_FRAG_TCP_INCOMPLETE : DIS_SKIP_TCP_BAD_OFFSET;
    p->hdr_len = (uint8_t)hlen;
    /* 12-bit flags field (RFC 9293 + RFC 9768 AE); bits 9..11 are reserved. */
    p->tcp_flags = (uint16_t)((off & 0x01) << 8 | flags);
    if (off & 0x0e)
        p->flags_odd |= DIS_ODD_TCP_RESERVED;

    /* A snaplen cut inside the options (tcpdump -s 64 with timestamps) still
     * leaves the fixed header: decode it, flag what is missing.  Only a cut
     * inside the fixed 20 bytes is TCP_TRUNCATED. */
    opts = c;
    dis_cur_limit(&opts, hlen - 20);
    if (dis_left(&opts) < hlen - 20)
        p->flags_odd |= DIS_ODD_OPT_TRUNCATED;
    if (dis_left(&opts))
        dis_tcp_opts(&opts, hlen - 20 - dis_left(&opts), p);
    if (!dis_skip(&c, hlen - 20))
        (void)dis_skip(&c, dis_left(&c)); /* options cut: no payload captured */

    p->payload = c.p;
    p->payload_len = l4->seg_len - (uint32_t)hlen;
    p->payload_caplen = (uint32_t)dis_left(&c); /* seg is limited to seg_len */

    if (verify_csum && p->csum == DIS_CSUM_UNCHECKED && l4->csum_ok && !l4->fragment &&
        dis_left(&l4->seg) == l4->seg_len) {
        uint64_t acc = dis_csum_add(l4->pseudo, &l4->seg, l4->seg_len);

        p->csum = dis_csum_fold(acc) == 0xffff ? DIS_CSUM_GOOD : DIS_CSUM_BAD_TCP;
    }
    return DIS_SKIP_NONE;
}
