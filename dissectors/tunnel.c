/*
 * tunnel.c - tunnels for dis_decode(): VXLAN, Geneve, GRE (IP, gretap,
 * ERSPAN types I to III and any ethertype inside), IP-in-IP and IPv6-in-IP.
 * Takes the payload of an IP datagram that is not TCP and, when it is one of
 * these, finds the inner IP header (dis.h, DIS_TUNNEL_LIST, says which bytes
 * make which tunnel).
 *
 * Leaves the outer and inner IP headers to ip.c, the Ethernet, VLAN and MPLS
 * headers inside a tunnel to link.c, and bounding the nesting to decode.c.
 */
#include "dis_int.h"

#define IPPROTO_IPIP 4
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_GRE 47

#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GENEVE 6081

#define GRE_F_CSUM 0x8000
#define GRE_F_ROUTING 0x4000
#define GRE_F_KEY 0x2000
#define GRE_F_SEQ 0x1000
#define GRE_VERSION 0x0007

#define ETH_P_TEB 0x6558     /* transparent Ethernet bridging */
#define ETH_P_ERSPAN 0x88be  /* type II (with S), type I (without) */
#define ETH_P_ERSPAN3 0x22eb /* type III */

/* What a tunnel's protocol field (an ethertype) carries: Ethernet, or what
 * dis_ethertype() knows (IPv4, IPv6, VLAN tags, MPLS, PPPoE). */
static enum dis_skip dis_tun_payload(uint16_t proto, struct dis_cur *c, struct dis_pkt *p,
                                     enum dis_l3 *l3)
{
    if (proto == ETH_P_TEB)
        return dis_en10mb(c, p, l3);
    return dis_ethertype(proto, c, p, l3);
}

/* Set the innermost tunnel's kind and, when it has one, its id. */
static void dis_tun_set(struct dis_pkt *p, enum dis_tunnel t, bool has_id, uint32_t id)
{
    p->tunnel = (uint8_t)t;
    p->has_tunnel_id = has_id;
    p->tunnel_id = has_id ? id : 0;
}

/* VXLAN (RFC 7348): flags(1, I = 0x08) reserved(3) VNI(3) reserved(1),
 * then an Ethernet frame. */
static enum dis_skip dis_vxlan(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint8_t flags;
    uint32_t vni;

    if (!dis_u8(c, &flags) || !dis_skip(c, 3) || !dis_be32(c, &vni))
        return DIS_SKIP_LINK_TRUNCATED;
    if (!(flags & 0x08)) /* no valid VNI: a receiver drops it */
        return DIS_SKIP_LINK_MALFORMED;
    dis_tun_set(p, DIS_TUNNEL_VXLAN, true, vni >> 8);
    return dis_en10mb(c, p, l3);
}

/* Geneve (RFC 8926): ver(2 bits) optlen(6 bits, 4-byte units) flags(1)
 * protocol(2) VNI(3) reserved(1), options, then the protocol's payload. */
static enum dis_skip dis_geneve(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint8_t b0;
    uint16_t proto;
    uint32_t vni;

    if (!dis_u8(c, &b0) || !dis_skip(c, 1) || !dis_be16(c, &proto) || !dis_be32(c, &vni))
        return DIS_SKIP_LINK_TRUNCATED;
    if (b0 >> 6 != 0)
        return DIS_SKIP_LINK_MALFORMED;
    if (!dis_skip(c, (size_t)(b0 & 0x3f) * 4))
        return DIS_SKIP_LINK_TRUNCATED;
    dis_tun_set(p, DIS_TUNNEL_GENEVE, true, vni >> 8);
    return dis_tun_payload(proto, c, p, l3);
}

/* ERSPAN type II header (8 bytes, version 1) or type III (12 bytes, version
 * 2, plus an 8-byte platform subheader when O is set); *c is just after the
 * GRE header.  Inside: Ethernet (type III frame type 0) or IP (2). */
static enum dis_skip dis_erspan(bool type3, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t w0, w1, w3;

    if (!dis_be16(c, &w0) || !dis_be16(c, &w1))
        return DIS_SKIP_LINK_TRUNCATED;
    if (!type3) {
        if (!dis_skip(c, 4)) /* reserved, index */
            return DIS_SKIP_LINK_TRUNCATED;
        if (w0 >> 12 != 1)
            return DIS_SKIP_LINK_MALFORMED;
        dis_tun_set(p, DIS_TUNNEL_ERSPAN, true, w1 & 0x3ff);
        return dis_en10mb(c, p, l3);
    }
    if (!dis_skip(c, 6) || !dis_be16(c, &w3)) /* timestamp, SGT, P/FT/HW ID/D/Gra/O */
        return DIS_SKIP_LINK_TRUNCATED;
    if (w0 >> 12 != 2)
        return DIS_SKIP_LINK_MALFORMED;
    if ((w3 & 1) && !dis_skip(c, 8))
        return DIS_SKIP_LINK_TRUNCATED;
    dis_tun_set(p, DIS_TUNNEL_ERSPAN, true, w1 & 0x3ff);
    switch ((w3 >> 10) & 0x1f) {
    case 0:
        return dis_en10mb(c, p, l3);
    case 2:
        *l3 = DIS_L3_GUESS;
        return DIS_SKIP_NONE;
    default:
        return DIS_SKIP_NOT_IP;
    }
}

/* GRE (RFC 2784, key and sequence from RFC 2890).  Version 1 (PPTP) is not
 * looked into; the RFC 1701 routing bit is malformed for RFC 2784. */
static enum dis_skip dis_gre(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t fl, proto;
    uint32_t key = 0;

    if (!dis_be16(c, &fl) || !dis_be16(c, &proto))
        return DIS_SKIP_LINK_TRUNCATED;
    if (fl & GRE_VERSION)
        return DIS_SKIP_NOT_TCP;
    if (fl & GRE_F_ROUTING)
        return DIS_SKIP_LINK_MALFORMED;
    if ((fl & GRE_F_CSUM) && !dis_skip(c, 4)) /* checksum, reserved1 */
        return DIS_SKIP_LINK_TRUNCATED;
    if ((fl & GRE_F_KEY) && !dis_be32(c, &key))
        return DIS_SKIP_LINK_TRUNCATED;
    if ((fl & GRE_F_SEQ) && !dis_skip(c, 4))
        return DIS_SKIP_LINK_TRUNCATED;
    if (proto == ETH_P_ERSPAN && (fl & GRE_F_SEQ))
        return dis_erspan(false, c, p, l3);
    if (proto == ETH_P_ERSPAN3)
        return dis_erspan(true, c, p, l3);
    if (proto == ETH_P_ERSPAN) { /* type I: the mirrored frame right away */
        dis_tun_set(p, DIS_TUNNEL_ERSPAN, false, 0);
        return dis_en10mb(c, p, l3);
    }
    dis_tun_set(p, DIS_TUNNEL_GRE, (fl & GRE_F_KEY) != 0, key);
    return dis_tun_payload(proto, c, p, l3);
}

/* The reason a fragmented outer datagram is skipped with. */
static enum dis_skip dis_tun_fragment(const struct dis_pkt *p)
{
    return p->ip_version == 4 ? DIS_SKIP_IPV4_FRAGMENT : DIS_SKIP_IPV6_FRAGMENT;
}

enum dis_skip dis_tunnel_decode(const struct dis_l4 *l4, struct dis_pkt *p, struct dis_cur *c,
                                size_t *wire_left, enum dis_l3 *l3)
{
    enum dis_skip s;
    uint16_t dport;

    *c = l4->seg;
    switch (l4->proto) {
    case IPPROTO_UDP:
        /* Only the destination port names the tunnel (the source port is a
         * flow hash); a non-first fragment has no UDP header. */
        if (l4->later_fragment || !dis_skip(c, 2) || !dis_be16(c, &dport))
            return DIS_SKIP_NOT_TCP;
        if (dport != UDP_PORT_VXLAN && dport != UDP_PORT_GENEVE)
            return DIS_SKIP_NOT_TCP;
        if (l4->fragment)
            return dis_tun_fragment(p);
        if (!dis_skip(c, 4)) /* length, checksum */
            return DIS_SKIP_LINK_TRUNCATED;
        break;
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
    case IPPROTO_GRE:
        if (l4->fragment || l4->later_fragment)
            return dis_tun_fragment(p);
        break;
    default:
        return DIS_SKIP_NOT_TCP;
    }

    /* The inner packet's VLAN tags, not the underlay's, go with its tuple. */
    p->vlan[0] = p->vlan[1] = 0;
    p->vlan_count = 0;
    switch (l4->proto) {
    case IPPROTO_UDP:
        s = dport == UDP_PORT_VXLAN ? dis_vxlan(c, p, l3) : dis_geneve(c, p, l3);
        break;
    case IPPROTO_GRE:
        s = dis_gre(c, p, l3);
        break;
    case IPPROTO_IPIP:
        dis_tun_set(p, DIS_TUNNEL_IPIP, false, 0);
        *l3 = DIS_L3_IPV4;
        s = DIS_SKIP_NONE;
        break;
    default: /* IPPROTO_IPV6 */
        dis_tun_set(p, DIS_TUNNEL_IPIP6, false, 0);
        *l3 = DIS_L3_IPV6;
        s = DIS_SKIP_NONE;
        break;
    }
    if (s != DIS_SKIP_NONE)
        return s;
    /* seg is limited to seg_len, so what was consumed fits in it. */
    *wire_left = l4->seg_len - (size_t)(c->p - l4->seg.p);
    return DIS_SKIP_NONE;
}
