/*
 * stats.c - dis_stats_add(): per-run counters of decoded frames.
 *
 * Leaves decoding to decode.c and reporting the counters to the sinks.
 */
#include "dis_int.h"

/* True when an IP header of the frame was decoded whole: the skip came after
 * it, or inside a tunnel, whose header follows an IP header (link decoders
 * never set ip_version; dis_decode() clears it first). */
static bool dis_ip_header_decoded(enum dis_skip skip, const struct dis_pkt *p)
{
    switch (skip) {
    case DIS_SKIP_LINK_UNSUPPORTED:
        return false;
    case DIS_SKIP_LINK_TRUNCATED:
    case DIS_SKIP_LINK_MALFORMED:
    case DIS_SKIP_NOT_IP:
        return p->ip_version != 0;
    case DIS_SKIP_IP_TRUNCATED:
    case DIS_SKIP_IP_BAD_VERSION:
    case DIS_SKIP_IPV4_BAD_IHL:
    case DIS_SKIP_IP_BAD_LENGTH:
        return p->tunnel_depth > 0;
    default:
        return true;
    }
}

void dis_stats_add(struct dis_stats *s, const struct dis_frame *f, enum dis_skip skip,
                   const struct dis_pkt *p)
{
    int linktype = f ? f->linktype : p->linktype;
    uint32_t i;

    assert(s != NULL && p != NULL && (unsigned)skip < DIS_SKIP_COUNT);
    s->frames++;
    s->bytes += f ? f->caplen : p->caplen;

    for (i = 0; i < s->link_count && s->link[i].linktype != linktype; i++)
        ;
    if (i < s->link_count) {
        s->link[i].frames++;
    } else if (s->link_count < DIS_MAX_LINKTYPES) {
        s->link[i].linktype = linktype;
        s->link[i].frames = 1;
        s->link_count++;
    } else {
        s->link_other++;
    }

    if (dis_ip_header_decoded(skip, p)) {
        if (p->ip_version == 4)
            s->ipv4++;
        else if (p->ip_version == 6)
            s->ipv6++;
    }
    if (p->flags_odd & DIS_ODD_IP_FRAGMENT)
        s->first_fragments++;
    if (skip != DIS_SKIP_NONE) {
        s->skipped[skip]++;
        return;
    }
    s->tcp++;
    if (p->csum == DIS_CSUM_BAD_IP)
        s->bad_ip_csum++;
    else if (p->csum == DIS_CSUM_BAD_TCP)
        s->bad_tcp_csum++;
    if (p->flags_odd & DIS_ODD_OPT_MALFORMED)
        s->opt_malformed++;
    if (p->tunnel != DIS_TUNNEL_NONE)
        s->tunnelled++;
    if (p->flags_odd & (DIS_ODD_IP_LEN_FROM_FRAME | DIS_ODD_IP_JUMBO))
        s->ip_len_from_frame++;
}
