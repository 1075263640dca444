/*
 * link.c - link-layer decoding for dis_decode(): Ethernet II and 802.3
 * LLC/SNAP, 802.1Q/802.1ad VLAN tags, MPLS label stacks, PPPoE sessions,
 * Linux cooked captures (SLL, SLL2), BSD loopback (NULL, LOOP), the
 * header-less raw IP link types, PPP and Cisco HDLC (PPP, PPP_HDLC, C_HDLC),
 * IP over InfiniBand, Linux NFLOG, Apple PKTAP and Solaris IPNET.
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
#define PPP_MPLS_UC 0x0281
#define PPP_MPLS_MC 0x0283

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

/* What a PPP protocol number (RFC 1661; *c just after it) says comes next:
 * IPv4, IPv6 or an MPLS stack; LCP, PAP, CHAP, IPCP, ... are not IP. */
static enum dis_skip dis_ppp_proto(uint16_t proto, struct dis_cur *c, struct dis_pkt *p,
                                   enum dis_l3 *l3)
{
    switch (proto) {
    case PPP_IPV4:
        *l3 = DIS_L3_IPV4;
        return DIS_SKIP_NONE;
    case PPP_IPV6:
        *l3 = DIS_L3_IPV6;
        return DIS_SKIP_NONE;
    case PPP_MPLS_UC:
    case PPP_MPLS_MC:
        return dis_mpls(c, p, l3);
    default:
        return DIS_SKIP_NOT_IP;
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
    return dis_ppp_proto(proto, c, p, l3);
}

/* From an ethertype on: VLAN tags (any number, each consumes 4 bytes so the
 * loop ends), then MPLS, PPPoE or IP.  *c is just after the ethertype. */
enum dis_skip dis_ethertype(uint16_t type, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
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

enum dis_skip dis_en10mb(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
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

/* PPP (RFC 1661), with the HDLC-like address/control bytes FF 03 (RFC 1662)
 * or without them; a protocol field of one byte (odd first byte: protocol
 * field compression, RFC 1661 section 6.5) or two. */
static enum dis_skip dis_ppp(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint8_t b0, b1;

    if (!dis_peek8(c, 0, &b0))
        return DIS_SKIP_LINK_TRUNCATED;
    if (b0 == 0xff) {
        if (!dis_skip(c, 1) || !dis_u8(c, &b1))
            return DIS_SKIP_LINK_TRUNCATED;
        if (b1 != 0x03)
            return DIS_SKIP_LINK_MALFORMED;
    }
    if (!dis_u8(c, &b0))
        return DIS_SKIP_LINK_TRUNCATED;
    if (b0 & 1)
        return dis_ppp_proto(b0, c, p, l3);
    if (!dis_u8(c, &b1))
        return DIS_SKIP_LINK_TRUNCATED;
    return dis_ppp_proto((uint16_t)(b0 << 8 | b1), c, p, l3);
}

/* Cisco HDLC: address (0x0F unicast, 0x8F broadcast), control, ethertype. */
static enum dis_skip dis_chdlc(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint16_t type;

    if (!dis_skip(c, 2) || !dis_be16(c, &type))
        return DIS_SKIP_LINK_TRUNCATED;
    return dis_ethertype(type, c, p, l3);
}

/* PPP_HDLC (50): the first byte tells PPP in HDLC-like framing (0xFF) from
 * Cisco HDLC (0x0F, 0x8F); pcap-linktype(7) allows no other. */
static enum dis_skip dis_ppp_hdlc(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint8_t b0;

    if (!dis_peek8(c, 0, &b0))
        return DIS_SKIP_LINK_TRUNCATED;
    if (b0 == 0xff)
        return dis_ppp(c, p, l3);
    if (b0 == 0x0f || b0 == 0x8f)
        return dis_chdlc(c, p, l3);
    return DIS_SKIP_LINK_MALFORMED;
}

/* Solaris ipnet: version(1) family(1) htype(2) pktlen(4) ifindex(4)
 * grifindex(4) zsrc(4) zdst(4), big-endian; family 2 = IPv4, 26 = IPv6
 * (Solaris' AF_INET6). */
static enum dis_skip dis_ipnet(struct dis_cur *c, enum dis_l3 *l3)
{
    uint8_t version, family;

    if (!dis_u8(c, &version) || !dis_u8(c, &family) || !dis_skip(c, 22))
        return DIS_SKIP_LINK_TRUNCATED;
    if (family == 2) {
        *l3 = DIS_L3_IPV4;
        return DIS_SKIP_NONE;
    }
    if (family == 26) {
        *l3 = DIS_L3_IPV6;
        return DIS_SKIP_NONE;
    }
    return DIS_SKIP_NOT_IP;
}

#define NFULA_PAYLOAD 9

/*
 * Linux NFLOG: family(1) version(1) resource id(2, big-endian), then TLVs of
 * length(2) type(2) value, each padded to 4 bytes, length and type in the
 * capturing host's byte order (not recorded: the order that makes the first
 * TLV's length fit is taken, little-endian when both do).  The packet is the
 * value of the NFULA_PAYLOAD TLV; a snaplen cut inside it is left to IP.
 */
static enum dis_skip dis_nflog(struct dis_cur *c, enum dis_l3 *l3)
{
    uint8_t family;
    uint16_t len, type;
    bool be = false, first = true;

    if (!dis_u8(c, &family) || !dis_skip(c, 3))
        return DIS_SKIP_LINK_TRUNCATED;
    for (;;) {
        struct dis_cur t = *c;

        if (dis_left(c) == 0)
            return DIS_SKIP_NOT_IP; /* no payload TLV (e.g. --nflog-size 0) */
        if (!dis_le16(&t, &len) || !dis_le16(&t, &type))
            return DIS_SKIP_LINK_TRUNCATED;
        if (first) {
            uint16_t swapped = (uint16_t)(len << 8 | len >> 8);

            be = (len < 4 || len > dis_left(c)) && swapped >= 4 && swapped <= dis_left(c);
            first = false;
        }
        if (be) {
            len = (uint16_t)(len << 8 | len >> 8);
            type = (uint16_t)(type << 8 | type >> 8);
        }
        if (len < 4)
            return DIS_SKIP_LINK_MALFORMED;
        if ((type & 0x7fff) == NFULA_PAYLOAD) {
            (void)dis_skip(c, 4); /* read above through the copy t */
            dis_cur_limit(c, (size_t)len - 4);
            break;
        }
        /* Another TLV: step over it and its padding. */
        if (!dis_skip(c, ((size_t)len + 3) & ~(size_t)3))
            return DIS_SKIP_LINK_TRUNCATED;
    }
    switch (family) {
    case 2:
        *l3 = DIS_L3_IPV4;
        break;
    case 10:
        *l3 = DIS_L3_IPV6;
        break;
    default:
        *l3 = DIS_L3_GUESS;
        break;
    }
    return DIS_SKIP_NONE;
}

/* Apple PKTAP: pth_length(4) pth_type_next(4) pth_dlt(4) ..., little-endian
 * (Apple hosts are).  The inner frame starts pth_length bytes in (at least
 * the 108 bytes of struct pktap_header) and has link type pth_dlt; only
 * pth_type_next 1 (a packet) carries one.  PKTAP inside PKTAP is refused. */
#define PKTAP_MIN_LEN 108
#define PKTAP_TYPE_PACKET 1
#define DLT_PKTAP_APPLE 149

static enum dis_skip dis_pktap(struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint32_t hlen, next, dlt;
    struct dis_cur h = *c;

    if (!dis_le32(&h, &hlen) || !dis_le32(&h, &next) || !dis_le32(&h, &dlt))
        return DIS_SKIP_LINK_TRUNCATED;
    if (hlen < PKTAP_MIN_LEN)
        return DIS_SKIP_LINK_MALFORMED;
    if (!dis_skip(c, hlen))
        return DIS_SKIP_LINK_TRUNCATED;
    if (next != PKTAP_TYPE_PACKET)
        return DIS_SKIP_NOT_IP;
    if (dlt == DIS_LINKTYPE_PKTAP || dlt == DLT_PKTAP_APPLE || dlt > INT32_MAX)
        return DIS_SKIP_LINK_MALFORMED;
    return dis_link_decode((int)dlt, c, p, l3);
}

enum dis_skip dis_link_decode(int linktype, struct dis_cur *c, struct dis_pkt *p, enum dis_l3 *l3)
{
    uint32_t af;
    uint16_t type;

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
    case DIS_LINKTYPE_PPP:
        return dis_ppp(c, p, l3);
    case DIS_LINKTYPE_PPP_HDLC:
        return dis_ppp_hdlc(c, p, l3);
    case DIS_LINKTYPE_C_HDLC:
        return dis_chdlc(c, p, l3);
    case DIS_LINKTYPE_IPOIB: /* RFC 4391: ethertype, 2 reserved bytes */
        if (!dis_be16(c, &type) || !dis_skip(c, 2))
            return DIS_SKIP_LINK_TRUNCATED;
        return dis_ethertype(type, c, p, l3);
    case DIS_LINKTYPE_IPNET:
        return dis_ipnet(c, l3);
    case DIS_LINKTYPE_NFLOG:
        return dis_nflog(c, l3);
    case DIS_LINKTYPE_PKTAP:
        return dis_pktap(c, p, l3);
    default:
        return DIS_SKIP_LINK_UNSUPPORTED;
    }
}
