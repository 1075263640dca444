/*
 * link.c - link-layer decoding for dis_decode(): Ethernet II and 802.3
 * LLC/SNAP, 802.1Q/802.1ad VLAN tags, MPLS label stacks, PPPoE sessions,
 * Linux cooked captures (SLL, SLL2), BSD loopback (NULL, LOOP) and the
 * header-less raw IP link types.
 *
 * Leaves to ip.c everything from the IP header on (including telling a bad
 * version nibble from a good one) and to decode.c the choice of link type.
 */
#include "dis_int.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ_OLD 0x9100
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_PPPOE_SESS 0x8864

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

/* More labels than any real network stacks; bounds the pop loop. */
#define DIS_MPLS_MAX_DEPTH 16

/* Linux ARPHRD_NETLINK: SLL protocol field is a netlink family, not an ethertype. */
#define ARPHRD_NETLINK 824

static enum dis_skip dis_mpls(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    for (;;) {
        uint32_t lse;
        uint8_t nib;

        if (!dis_be32(c, &lse))
            return DIS_SKIP_LINK_TRUNCATED;
        if (p->mpls_count >= DIS_MPLS_MAX_DEPTH)
            return DIS_SKIP_LINK_MALFORMED;
        p->mpls_count++;
        if (!(lse & 0x100)) /* bottom-of-stack bit */
            continue;
        /* MPLS does not say what it carries: guess from the first nibble as
         * Zeek and Wireshark do (0 would be a pseudowire control word). */
        if (!dis_peek8(c, 0, &nib))
            return DIS_SKIP_IP_TRUNCATED;
        switch (nib >> 4) {
        case 4:
            *l3 = DIS_L3_IPV4;
            return DIS_SKIP_NONE;
        case 6:
            *l3 = DIS_L3_IPV6;
            return DIS_SKIP_NONE;
        default:
            return DIS_SKIP_NOT_IP;
        }
    }
}

/* PPPoE session header (RFC 2516 section 4) and the PPP protocol field.  The
 * PPPoE length is not used: senders get it wrong and the IP header says how
 * long the datagram is (Zeek trusts IP too). */
static enum dis_skip dis_pppoe(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint8_t vt, code;
    uint16_t sess, len, proto;

    if (!dis_u8(c, &vt) || !dis_u8(c, &code) || !dis_be16(c, &sess) || !dis_be16(c, &len))
        return DIS_SKIP_LINK_TRUNCATED;
    if (vt != 0x11 || code != 0)
        return DIS_SKIP_LINK_MALFORMED;
    p->pppoe = true;
    if (!dis_be16(c, &proto))
        return DIS_SKIP_LINK_TRUNCATED;
    switch (proto) {
    case PPP_IPV4:
        *l3 = DIS_L3_IPV4;
        return DIS_SKIP_NONE;
    case PPP_IPV6:
        *l3 = DIS_L3_IPV6;
        return DIS_SKIP_NONE;
    default: /* LCP 0xc021, PAP, CHAP, IPCP, ... */
        return DIS_SKIP_NOT_IP;
    }
}

/* From an ethertype on: VLAN tags (any number, each consumes 4 bytes so the
 * loop ends), then MPLS, PPPoE or IP.  *c is just after the ethertype. */
static enum dis_skip dis_ethertype(uint16_t type, struct dis_cur *c, struct dis_pkt *p,
                                   enum dis_l3 *l3)
{
    for (;;) {
        switch (type) {
        case ETH_P_IPV4:
            *l3 = DIS_L3_IPV4;
            return DIS_SKIP_NONE;
        case ETH_P_IPV6:
            *l3 = DIS_L3_IPV6;
            return DIS_SKIP_NONE;
        case ETH_P_8021Q:
        case ETH_P_8021AD:
        case ETH_P_QINQ_OLD: {
            uint16_t tci;

            if (!dis_be16(c, &tci) || !dis_be16(c, &type))
                return DIS_SKIP_LINK_TRUNCATED;
            if (p->vlan_count < 2)
                p->vlan[p->vlan_count] = tci & 0x0fff;
            if (p->vlan_count < UINT8_MAX)
                p->vlan_count++;
            break;
        }
        case ETH_P_MPLS_UC:
        case ETH_P_MPLS_MC:
            return dis_mpls(c, p, l3);
        case ETH_P_PPPOE_SESS:
            return dis_pppoe(c, p, l3);
        default: /* ARP, PPPoE discovery, LLDP, ... */
            return DIS_SKIP_NOT_IP;
        }
    }
}

static enum dis_skip dis_en10mb(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t type;

    if (!dis_skip(c, 12) || !dis_be16(c, &type))
        return DIS_SKIP_LINK_TRUNCATED;
    if (type < 0x0600) {
        /* IEEE 802.3: a length, then LLC.  Only SNAP (AA AA 03, OUI, type)
         * can carry an ethertype; anything else (STP, NetBIOS, ...) is not IP. */
        uint8_t dsap, ssap, ctl;

        if (type > 1500)
            return DIS_SKIP_NOT_IP; /* 1501..1535: undefined */
        /* The 802.3 length is not applied: as with PPPoE, IP's own length
         * decides (a wrong one here must not turn into a snaplen skip). */
        if (!dis_u8(c, &dsap) || !dis_u8(c, &ssap) || !dis_u8(c, &ctl))
            return DIS_SKIP_LINK_TRUNCATED;
        if (dsap != 0xaa || ssap != 0xaa || ctl != 0x03)
            return DIS_SKIP_NOT_IP;
        if (!dis_skip(c, 3) || !dis_be16(c, &type))
            return DIS_SKIP_LINK_TRUNCATED;
    }
    return dis_ethertype(type, c, p, l3);
}

/* Linux cooked v1: pkttype(2) hatype(2) addrlen(2) addr(8) protocol(2). */
static enum dis_skip dis_sll(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t pkttype, hatype, proto;

    if (!dis_be16(c, &pkttype) || !dis_be16(c, &hatype) || !dis_skip(c, 10) || !dis_be16(c, &proto))
        return DIS_SKIP_LINK_TRUNCATED;
    if (hatype == ARPHRD_NETLINK)
        return DIS_SKIP_NOT_IP;
    /* For every other hatype (Ethernet, tun/ARPHRD_NONE, GRE, PPP, ...) the
     * kernel puts the ethertype here; values like ETH_P_802_2 (4) or
     * ETH_P_80211_RAW fall to NOT_IP in dis_ethertype(). */
    return dis_ethertype(proto, c, p, l3);
}

/* Linux cooked v2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1)
 * addrlen(1) addr(8). */
static enum dis_skip dis_sll2(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t proto, hatype;

    if (!dis_be16(c, &proto) || !dis_skip(c, 6) || !dis_be16(c, &hatype) || !dis_skip(c, 10))
        return DIS_SKIP_LINK_TRUNCATED;
    if (hatype == ARPHRD_NETLINK)
        return DIS_SKIP_NOT_IP;
    return dis_ethertype(proto, c, p, l3);
}

/* BSD loopback: a 4-byte address family.  AF_INET is 2 everywhere; AF_INET6
 * is 24 (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly), 30 (macOS) or 10 (Linux). */
static enum dis_skip dis_af(uint32_t af, enum dis_l3 *l3)
{
    switch (af) {
    case 2:
        *l3 = DIS_L3_IPV4;
        return DIS_SKIP_NONE;
    case 10:
    case 24:
    case 28:
    case 30:
        *l3 = DIS_L3_IPV6;
        return DIS_SKIP_NONE;
    default:
        return DIS_SKIP_NOT_IP;
    }
}

enum dis_skip dis_link_decode(int linktype, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint32_t af;

    switch (linktype) {
    case DIS_LINKTYPE_EN10MB:
        return dis_en10mb(c, p, l3);
    case DIS_LINKTYPE_LINUX_SLL:
        return dis_sll(c, p, l3);
    case DIS_LINKTYPE_LINUX_SLL2:
        return dis_sll2(c, p, l3);
    case DIS_LINKTYPE_NULL:
        /* NULL uses the capturing host's byte order, which the file does not
         * record.  Families are small: whichever order leaves the high half
         * zero is the right one. */
        if (!dis_le32(c, &af))
            return DIS_SKIP_LINK_TRUNCATED;
        if (af & 0xffff0000u)
            af = (af >> 24) | ((af >> 8) & 0xff00u) | ((af << 8) & 0xff0000u) | (af << 24);
        return dis_af(af, l3);
    case DIS_LINKTYPE_LOOP:
        if (!dis_be32(c, &af))
            return DIS_SKIP_LINK_TRUNCATED;
        return dis_af(af, l3);
    case DIS_LINKTYPE_RAW:
    case 12: /* DLT_RAW as written by some OpenBSD tools */
        *l3 = DIS_L3_GUESS;
        return DIS_SKIP_NONE;
    case DIS_LINKTYPE_IPV4:
        *l3 = DIS_L3_IPV4;
        return DIS_SKIP_NONE;
    case DIS_LINKTYPE_IPV6:
        *l3 = DIS_L3_IPV6;
        return DIS_SKIP_NONE;
    default:
        return DIS_SKIP_LINK_UNSUPPORTED;
    }
}
