/*
 * ip.c - IPv4 and IPv6 decoding for dis_decode(): header checks, IPv4
 * options and fragments, the IPv6 extension header chain, the IPv4 header
 * checksum and the TCP pseudo-header sum.
 *
 * Leaves the link layer to link.c and everything inside the TCP segment
 * (including the TCP checksum itself) to tcp.c.
 */
#include <string.h>

#include "dis_int.h"

#define DIS_PROTO_TCP 6

/* Extension headers walked before giving up: real chains have a handful. */
#define DIS_IPV6_MAX_EXT 16

/*
 * IPv4 (RFC 791).  Lengths are checked against the bytes the frame had on the
 * wire (wire_left), truncation against the captured ones, so a snaplen cut is
 * never mistaken for a bad header.
 */
static inline enum dis_skip dis_ipv4(struct dis_cur *c, size_t wire_left, bool verify_csum,
                                     struct dis_pkt *p, struct dis_l4 *l4)
{
    const struct dis_cur hdr = *c;
    struct dis_cur addrs;
    uint8_t vihl, tos, ttl, proto;
    uint16_t tot16, id, frag, sum;
    size_t hlen, tot;

    if (!dis_peek8(c, 0, &vihl))
        return DIS_SKIP_IP_TRUNCATED;
    if (vihl >> 4 != 4)
        return DIS_SKIP_IP_BAD_VERSION;
    p->ip_version = 4;
    hlen = (size_t)(vihl & 0x0f) * 4;
    if (hlen < 20)
        return DIS_SKIP_IPV4_BAD_IHL;
    if (wire_left < hlen)
        return DIS_SKIP_IP_BAD_LENGTH;
    if (!dis_skip(c, 1) || !dis_u8(c, &tos) || !dis_be16(c, &tot16) || !dis_be16(c, &id) ||
        !dis_be16(c, &frag) || !dis_u8(c, &ttl) || !dis_u8(c, &proto) || !dis_be16(c, &sum))
        return DIS_SKIP_IP_TRUNCATED;
    addrs = *c;
    if (!dis_bytes(c, p->src, 4) || !dis_bytes(c, p->dst, 4) || !dis_skip(c, hlen - 20))
        return DIS_SKIP_IP_TRUNCATED;
    memset(p->src + 4, 0, 12); /* dis.h: IPv4 in the first 4 bytes, the rest zero */
    memset(p->dst + 4, 0, 12);
    /* A zero total length is what a sending Linux host hands tcpdump for a
     * TSO/GSO or BIG TCP (over 64 KiB) segment: the frame's length is the
     * datagram's, as tshark takes it. */
    tot = tot16;
    if (tot == 0) {
        tot = wire_left;
        p->flags_odd |= DIS_ODD_IP_LEN_FROM_FRAME;
    }
    if (tot < hlen || tot > wire_left)
        return DIS_SKIP_IP_BAD_LENGTH;
    if (wire_left > tot)
        p->flags_odd |= DIS_ODD_ETH_PADDING;
    p->ttl = ttl;
    p->ip_len = (uint32_t)tot;

    if (verify_csum && dis_csum_fold(dis_csum_add(0, &hdr, hlen)) != 0xffff)
        p->csum = DIS_CSUM_BAD_IP;

    l4->seg = *c;
    l4->seg_len = (uint32_t)(tot - hlen);
    dis_cur_limit(&l4->seg, l4->seg_len);
    if (proto != DIS_PROTO_TCP) { /* a tunnel, perhaps: dis_tunnel_decode() */
        l4->proto = proto;
        l4->later_fragment = (frag & 0x1fff) != 0;
        l4->fragment = !l4->later_fragment && (frag & 0x2000);
        return DIS_SKIP_NOT_TCP;
    }
    if (frag & 0x1fff) /* offset != 0: no TCP header here, no reassembly */
        return DIS_SKIP_IPV4_FRAGMENT;
    l4->fragment = (frag & 0x2000) != 0; /* MF */
    if (l4->fragment)
        p->flags_odd |= DIS_ODD_IP_FRAGMENT;

    l4->csum_ok = true;
    l4->pseudo = dis_csum_add(DIS_PROTO_TCP + (uint64_t)l4->seg_len, &addrs, 8);
    return DIS_SKIP_NONE;
}

/*
 * The Jumbo Payload option (RFC 2675: type 0xC2, 4 bytes of length) in the
 * hop-by-hop header at c (not consumed), into *len.  False when it is not
 * there or cut off; the chain walk then finds out what is wrong.
 */
static bool dis_ipv6_jumbo(const struct dis_cur *c, uint32_t *len)
{
    struct dis_cur h = *c;
    uint8_t hlen, type, olen;

    if (!dis_skip(&h, 1) || !dis_u8(&h, &hlen))
        return false;
    dis_cur_limit(&h, ((size_t)hlen + 1) * 8 - 2);
    while (dis_u8(&h, &type)) {
        if (type == 0) /* Pad1 */
            continue;
        if (!dis_u8(&h, &olen))
            return false;
        if (type == 0xc2 && olen == 4)
            return dis_be32(&h, len);
        if (!dis_skip(&h, olen))
            return false;
    }
    return false;
}

/*
 * IPv6 (RFC 8200) and its extension header chain up to TCP.  The payload
 * length bounds the walk as well as the captured bytes; both running out
 * inside the chain are IPV6_EXT_TRUNCATED.
 */
static inline enum dis_skip dis_ipv6(struct dis_cur *c, size_t wire_left, struct dis_pkt *p,
                                     struct dis_l4 *l4)
{
    struct dis_cur addrs;
    uint8_t b0, nh, hlim;
    uint16_t plen16;
    size_t rest, plen;
    bool route_pending = false;

    if (!dis_peek8(c, 0, &b0))
        return DIS_SKIP_IP_TRUNCATED;
    if (b0 >> 4 != 6)
        return DIS_SKIP_IP_BAD_VERSION;
    p->ip_version = 6;
    if (wire_left < 40)
        return DIS_SKIP_IP_BAD_LENGTH;
    if (!dis_skip(c, 4) || !dis_be16(c, &plen16) || !dis_u8(c, &nh) || !dis_u8(c, &hlim))
        return DIS_SKIP_IP_TRUNCATED;
    addrs = *c;
    if (!dis_bytes(c, p->src, 16) || !dis_bytes(c, p->dst, 16))
        return DIS_SKIP_IP_TRUNCATED;
    /* Payload length 0: a jumbogram (RFC 2675: the hop-by-hop Jumbo Payload
     * option has the length) or Linux BIG TCP / GSO, which may have dropped
     * that option before tcpdump saw the packet: then the frame says. */
    plen = plen16;
    if (plen == 0) {
        uint32_t jumbo;

        if (nh == 0 && dis_ipv6_jumbo(c, &jumbo)) {
            plen = jumbo;
            p->flags_odd |= DIS_ODD_IP_JUMBO;
        } else {
            plen = wire_left - 40;
            p->flags_odd |= DIS_ODD_IP_LEN_FROM_FRAME;
        }
    }
    if (plen + 40 > wire_left)
        return DIS_SKIP_IP_BAD_LENGTH;
    if (wire_left > plen + 40)
        p->flags_odd |= DIS_ODD_ETH_PADDING;
    p->ttl = hlim;
    p->ip_len = (uint32_t)(plen + 40);
    dis_cur_limit(c, plen);
    rest = plen; /* wire bytes of the payload from c->p on; always >= dis_left(c) */

    for (unsigned n = 0; nh != DIS_PROTO_TCP; n++) {
        uint8_t next, len, segleft;
        uint16_t offfl;
        size_t sz;

        if (n == DIS_IPV6_MAX_EXT)
            return DIS_SKIP_IPV6_EXT_TRUNCATED;
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            if (!dis_peek8(c, 0, &next) || !dis_peek8(c, 1, &len))
                return DIS_SKIP_IPV6_EXT_TRUNCATED;
            sz = ((size_t)len + 1) * 8;
            if (nh == 43) {
                /* Segments left: the pseudo-header would need the final
                 * destination from inside the routing header. */
                if (!dis_peek8(c, 3, &segleft))
                    return DIS_SKIP_IPV6_EXT_TRUNCATED;
                if (segleft)
                    route_pending = true;
            }
            break;
        case 51: /* AH: length in 4-byte units minus 2 (RFC 4302) */
            if (!dis_peek8(c, 0, &next) || !dis_peek8(c, 1, &len))
                return DIS_SKIP_IPV6_EXT_TRUNCATED;
            sz = ((size_t)len + 2) * 4;
            break;
        case 44: /* fragment: next, reserved, offset/flags, id */
            if (!dis_u8(c, &next) || !dis_skip(c, 1) || !dis_be16(c, &offfl) || !dis_skip(c, 4))
                return DIS_SKIP_IPV6_EXT_TRUNCATED;
            rest -= 8;
            if (offfl & 0xfff8)
                return DIS_SKIP_IPV6_FRAGMENT;
            if (offfl & 1) { /* M: first fragment (else an atomic fragment) */
                l4->fragment = true;
                p->flags_odd |= DIS_ODD_IP_FRAGMENT;
            }
            nh = next;
            continue;
        default: /* 59 no next header, UDP, ICMPv6, ESP, a tunnel, ... */
            l4->proto = nh;
            l4->later_fragment = false; /* those stopped at the fragment header */
            l4->seg = *c;
            l4->seg_len = (uint32_t)rest;
            return DIS_SKIP_NOT_TCP;
        }
        if (!dis_skip(c, sz))
            return DIS_SKIP_IPV6_EXT_TRUNCATED;
        rest -= sz;
        nh = next;
    }

    l4->seg = *c;
    l4->seg_len = (uint32_t)rest;
    l4->csum_ok = !route_pending;
    l4->pseudo = dis_csum_add(DIS_PROTO_TCP + (uint64_t)rest, &addrs, 32);
    return DIS_SKIP_NONE;
}

enum dis_skip dis_ip_decode(enum dis_l3 l3, struct dis_cur c, size_t wire_left, bool verify_csum,
                            struct dis_pkt *p, struct dis_l4 *l4)
{
    uint8_t b0;

    if (l3 == DIS_L3_GUESS) {
        if (!dis_peek8(&c, 0, &b0))
            return DIS_SKIP_IP_TRUNCATED;
        if (b0 >> 4 == 4)
            l3 = DIS_L3_IPV4;
        else if (b0 >> 4 == 6)
            l3 = DIS_L3_IPV6;
        else
            return DIS_SKIP_IP_BAD_VERSION;
    }
    /* c is a local copy: the inlined layer keeps it in registers. */
    if (l3 == DIS_L3_IPV4)
        return dis_ipv4(&c, wire_left, verify_csum, p, l4);
    return dis_ipv6(&c, wire_left, p, l4);
}
