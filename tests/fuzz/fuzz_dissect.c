/*
 * fuzz_dissect.c - libFuzzer target for dis_decode().
 *
 * Input: first byte picks one of the supported link types, the rest is the
 * frame.  Each input is decoded with and without checksum verification, at
 * its full length and with a wire length larger than the capture (snaplen
 * case), and the decoded packet's invariants are checked.  Leaves the
 * readers and the analyzer to their own targets.
 */
#include <stddef.h>
#include <stdint.h>

#include "dis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int fuzz_linktypes[] = {
    DIS_LINKTYPE_NULL,       DIS_LINKTYPE_EN10MB,    DIS_LINKTYPE_RAW,  12,
    DIS_LINKTYPE_LOOP,       DIS_LINKTYPE_LINUX_SLL, DIS_LINKTYPE_IPV4, DIS_LINKTYPE_IPV6,
    DIS_LINKTYPE_LINUX_SLL2, DIS_LINKTYPE_PPP,       DIS_LINKTYPE_PPP_HDLC, DIS_LINKTYPE_C_HDLC,
    DIS_LINKTYPE_IPNET,      DIS_LINKTYPE_NFLOG,     DIS_LINKTYPE_IPOIB,    DIS_LINKTYPE_PKTAP,
};
#define FUZZ_NLINK (sizeof(fuzz_linktypes) / sizeof(fuzz_linktypes[0]))

static void fuzz_check(const uint8_t *frame, uint32_t caplen, enum dis_skip s,
                       const struct dis_pkt *p)
{
    if ((unsigned)s >= DIS_SKIP_COUNT)
        __builtin_trap();
    if (s != DIS_SKIP_NONE)
        return;
    if (p->payload_caplen > p->payload_len || p->payload < frame ||
        p->payload + p->payload_caplen > frame + caplen)
        __builtin_trap();
    if (p->hdr_len < 20 || p->hdr_len > 60 || (p->ip_version != 4 && p->ip_version != 6))
        __builtin_trap();
    if (p->opt.sack_count > DIS_MAX_SACK)
        __builtin_trap();
    if (p->tunnel >= DIS_TUNNEL_COUNT || p->tunnel_depth > DIS_MAX_TUNNELS ||
        (p->tunnel_depth == 0) != (p->tunnel == DIS_TUNNEL_NONE) ||
        (p->has_tunnel_id && p->tunnel == DIS_TUNNEL_NONE))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dis_pkt p;
    const uint8_t *frame;
    uint32_t caplen;
    int lt;

    if (size < 1 || size > 65536 + 1)
        return 0;
    lt = fuzz_linktypes[data[0] % FUZZ_NLINK];
    frame = data + 1;
    caplen = (uint32_t)(size - 1);

    fuzz_check(frame, caplen, dis_decode(lt, frame, caplen, caplen, true, &p), &p);
    fuzz_check(frame, caplen, dis_decode(lt, frame, caplen, caplen, false, &p), &p);
    /* Snaplen case: the wire had more than was captured. */
    fuzz_check(frame, caplen, dis_decode(lt, frame, caplen, caplen + 1500, true, &p), &p);
    /* A record header claiming less on the wire than captured. */
    if (caplen > 0)
        fuzz_check(frame, caplen, dis_decode(lt, frame, caplen, caplen / 2, true, &p), &p);
    return 0;
}
