/*
 * decode.c - dis_decode(), the entry point that runs a frame through the
 * link, IP, tunnel and TCP decoders, and the name tables of the public enums.
 *
 * Leaves each layer to link.c, ip.c, tunnel.c and tcp.c; reading files to reader.c and
 * pcapng.c; counting to stats.c.
 */
#include "dis_int.h"

static const char *const dis_skip_names[DIS_SKIP_COUNT] = {
#define DIS_X_NAME(name, str) str,
    DIS_SKIP_LIST(DIS_X_NAME)
#undef DIS_X_NAME
};

const char *dis_skip_name(enum dis_skip s)
{
    if ((unsigned)s >= DIS_SKIP_COUNT)
        return "unknown";
    return dis_skip_names[s];
}

static const char *const dis_tunnel_names[DIS_TUNNEL_COUNT] = {
#define DIS_X_NAME(name, str) str,
    DIS_TUNNEL_LIST(DIS_X_NAME)
#undef DIS_X_NAME
};

const char *dis_tunnel_name(enum dis_tunnel t)
{
    if ((unsigned)t >= DIS_TUNNEL_COUNT)
        return "unknown";
    return dis_tunnel_names[t];
}

bool dis_linktype_supported(int linktype)
{
    switch (linktype) {
    case DIS_LINKTYPE_NULL:
    case DIS_LINKTYPE_EN10MB:
    case DIS_LINKTYPE_RAW:
    case 12: /* DLT_RAW as some OpenBSD files carry it */
    case DIS_LINKTYPE_LOOP:
    case DIS_LINKTYPE_LINUX_SLL:
    case DIS_LINKTYPE_IPV4:
    case DIS_LINKTYPE_IPV6:
    case DIS_LINKTYPE_LINUX_SLL2:
    case DIS_LINKTYPE_PPP:
    case DIS_LINKTYPE_PPP_HDLC:
    case DIS_LINKTYPE_C_HDLC:
    case DIS_LINKTYPE_IPNET:
    case DIS_LINKTYPE_NFLOG:
    case DIS_LINKTYPE_IPOIB:
    case DIS_LINKTYPE_PKTAP:
        return true;
    default:
        return false;
    }
}

const char *dis_linktype_name(int linktype)
{
    /* Names as in pcap-linktype(7), without the LINKTYPE_ prefix; a few
     * common unsupported ones too, so messages can name them. */
    switch (linktype) {
    case DIS_LINKTYPE_NULL:
        return "NULL";
    case DIS_LINKTYPE_EN10MB:
        return "EN10MB";
    case DIS_LINKTYPE_PPP:
        return "PPP";
    case 12:
        return "RAW";
    case DIS_LINKTYPE_PPP_HDLC:
        return "PPP_HDLC";
    case DIS_LINKTYPE_RAW:
        return "RAW";
    case DIS_LINKTYPE_C_HDLC:
        return "C_HDLC";
    case 105:
        return "IEEE802_11";
    case DIS_LINKTYPE_LOOP:
        return "LOOP";
    case DIS_LINKTYPE_LINUX_SLL:
        return "LINUX_SLL";
    case 127:
        return "IEEE802_11_RADIOTAP";
    case 192:
        return "PPI";
    case DIS_LINKTYPE_IPNET:
        return "IPNET";
    case DIS_LINKTYPE_IPV4:
        return "IPV4";
    case DIS_LINKTYPE_IPV6:
        return "IPV6";
    case DIS_LINKTYPE_NFLOG:
        return "NFLOG";
    case DIS_LINKTYPE_IPOIB:
        return "IPOIB";
    case DIS_LINKTYPE_PKTAP:
        return "PKTAP";
    case DIS_LINKTYPE_LINUX_SLL2:
        return "LINUX_SLL2";
    default:
        return NULL;
    }
}

/*
 * Checksum verdict: BAD_IP whenever the IPv4 header checksum is wrong (the
 * header is always captured whole once decoded); GOOD or BAD_TCP only when
 * the whole TCP segment was captured and is not a fragment; else UNCHECKED.
 * Tunnels: each IP datagram that is not TCP goes to dis_tunnel_decode(); a
 * tunnel found starts the IP layer again on the inner packet, at most
 * DIS_MAX_TUNNELS times (one more is LINK_MALFORMED).
 */
enum dis_skip dis_decode(int linktype, const uint8_t *bytes, uint32_t caplen, uint32_t wirelen,
                         bool verify_csum, struct dis_pkt *p)
{
    struct dis_cur c = dis_cur_make(bytes, caplen);
    struct dis_l4 l4 = {.fragment = false};
    enum dis_l3 l3 = DIS_L3_GUESS;
    enum dis_skip s;
    size_t wire, wire_left;

    assert(p != NULL && (bytes != NULL || caplen == 0));
    /* Reset only what a decoder sets conditionally (or stats reads after a
     * skip); the rest is written on the way to DIS_SKIP_NONE.  Zeroing the
     * whole struct compiles to a `rep stos` costing a third of the time. */
    p->vlan[0] = p->vlan[1] = 0;
    p->vlan_count = p->mpls_count = 0;
    p->pppoe = false;
    p->ip_version = 0;
    p->opt = (struct dis_tcp_opts){.present = 0};
    p->flags_odd = 0;
    p->csum = DIS_CSUM_UNCHECKED;
    p->tunnel = DIS_TUNNEL_NONE;
    p->tunnel_depth = 0;
    p->has_tunnel_id = false;
    p->tunnel_id = 0;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->linktype = linktype;

    s = dis_link_decode(linktype, &c, p, &l3);
    if (s != DIS_SKIP_NONE)
        return s;
    /* Bytes on the wire from the IP header on.  A wirelen below caplen is a
     * broken record header; the captured bytes are then the better bound. */
    wire = wirelen > caplen ? wirelen : caplen;
    wire_left = wire - (size_t)(c.p - bytes);
    for (;;) {
        s = dis_ip_decode(l3, c, wire_left, verify_csum, p, &l4);
        if (s != DIS_SKIP_NOT_TCP)
            break;
        s = dis_tunnel_decode(&l4, p, &c, &wire_left, &l3);
        if (s != DIS_SKIP_NONE)
            return s;
        if (++p->tunnel_depth > DIS_MAX_TUNNELS)
            return DIS_SKIP_LINK_MALFORMED;
        l4.fragment = false;
    }
    if (s != DIS_SKIP_NONE)
        return s;
    return dis_tcp_decode(&l4, verify_csum, p);
}
