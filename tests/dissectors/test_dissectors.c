/*
 * test_dissectors.c - unit tests of dis_decode(), dis_stats_add() and the
 * name tables, on hand-built frames.
 *
 * Frames are made by small builders below (link headers, IPv4/IPv6, TCP with
 * options) with checksums computed here, independently of the decoder.
 * Expected values are the ones written into the frames.  Replaying captures
 * is test_dis_replay.c's job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dis.h"

/* ---------------------------------------------------------------------------
 * Builders.  Each writes at o and returns the bytes written.
 */

#define T_SPORT 40000
#define T_DPORT 80
#define T_SEQ 0x01020304u
#define T_ACK 0xa0b0c0d0u
#define T_WIN 29200
#define T_PAYLEN 10

static const uint8_t src4[4] = {192, 0, 2, 1}, dst4[4] = {198, 51, 100, 7};
static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 2};

static size_t put16(uint8_t *o, uint16_t v)
{
    o[0] = (uint8_t)(v >> 8);
    o[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *o, uint32_t v)
{
    put16(o, (uint16_t)(v >> 16));
    put16(o + 2, (uint16_t)v);
    return 4;
}

/* RFC 1071 sum of 16-bit big-endian words, not complemented. */
static uint32_t sum16(uint32_t acc, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        acc += (uint32_t)b[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

struct tcpb {
    uint16_t flags; /* 12 bits: AE at 0x100, reserved above */
    const uint8_t *opt;
    size_t optlen; /* multiple of 4 */
    size_t paylen;
    int doff; /* 0: from optlen */
    uint16_t urg;
};

/* TCP segment with a zero checksum (the IP builders fill it in). */
static size_t tcp(uint8_t *o, const struct tcpb *t)
{
    size_t hl = 20 + t->optlen;
    int doff = t->doff ? t->doff : (int)(hl / 4);

    put16(o, T_SPORT);
    put16(o + 2, T_DPORT);
    put32(o + 4, T_SEQ);
    put32(o + 8, T_ACK);
    o[12] = (uint8_t)(doff << 4 | (t->flags >> 8 & 0x0f));
    o[13] = (uint8_t)t->flags;
    put16(o + 14, T_WIN);
    put16(o + 16, 0);
    put16(o + 18, t->urg);
    if (t->optlen)
        memcpy(o + 20, t->opt, t->optlen);
    memset(o + hl, 'x', t->paylen);
    return hl + t->paylen;
}

static const struct tcpb plain = {.flags = 0x018, .paylen = T_PAYLEN};

/* IPv4 header (+ options of optlen bytes of NOP) around l4; fills both checksums. */
static size_t ip4(uint8_t *o, uint8_t proto, uint16_t frag, size_t optlen, const uint8_t *l4,
                  size_t l4len)
{
    size_t hl = 20 + optlen;
    uint32_t acc;

    o[0] = (uint8_t)(0x40 | hl / 4);
    o[1] = 0;
    put16(o + 2, (uint16_t)(hl + l4len));
    put16(o + 4, 0x1234);
    put16(o + 6, frag);
    o[8] = 64;
    o[9] = proto;
    put16(o + 10, 0);
    memcpy(o + 12, src4, 4);
    memcpy(o + 16, dst4, 4);
    memset(o + 20, 1, optlen);
    put16(o + 10, fold(sum16(0, o, hl)));
    memcpy(o + hl, l4, l4len);
    if (proto == 6 && l4len >= 18) {
        acc = sum16(0, src4, 4);
        acc = sum16(acc, dst4, 4);
        acc += 6 + (uint32_t)l4len;
        put16(o + hl + 16, fold(sum16(acc, o + hl, l4len)));
    }
    return hl + l4len;
}

/* IPv6 header, raw extension bytes, then l4; nh is the first next header.
 * With tcp_csum, the TCP checksum is filled (pseudo-header per RFC 8200). */
static size_t ip6(uint8_t *o, uint8_t nh, const uint8_t *ext, size_t extlen, const uint8_t *l4,
                  size_t l4len, bool tcp_csum)
{
    uint32_t acc;

    put32(o, 0x60000000u);
    put16(o + 4, (uint16_t)(extlen + l4len));
    o[6] = nh;
    o[7] = 55;
    memcpy(o + 8, src6, 16);
    memcpy(o + 24, dst6, 16);
    if (extlen)
        memcpy(o + 40, ext, extlen);
    if (l4len)
        memcpy(o + 40 + extlen, l4, l4len);
    if (tcp_csum) {
        acc = sum16(0, src6, 16);
        acc = sum16(acc, dst6, 16);
        acc += 6 + (uint32_t)l4len;
        put16(o + 40 + extlen + 16, fold(sum16(acc, o + 40 + extlen, l4len)));
    }
    return 40 + extlen + l4len;
}

static size_t eth(uint8_t *o, uint16_t type)
{
    static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10};

    memcpy(o, macs, 12);
    return 12 + put16(o + 12, type);
}

static size_t vlan(uint8_t *o, uint16_t tci, uint16_t next)
{
    put16(o, tci);
    return 2 + put16(o + 2, next);
}

/* Ethernet + IPv4 + TCP; returns the frame length.  tcp at 34. */
static size_t eth4(uint8_t *o, const struct tcpb *t)
{
    uint8_t seg[256];
    size_t n = eth(o, 0x0800);

    return n + ip4(o + n, 6, 0, 0, seg, tcp(seg, t));
}

static size_t eth6(uint8_t *o, const struct tcpb *t)
{
    uint8_t seg[256];
    size_t n = eth(o, 0x86dd);

    return n + ip6(o + n, 6, NULL, 0, seg, tcp(seg, t), true);
}

/* A plain IPv4 / IPv6 TCP datagram to put behind any link header. */
static size_t dg4(uint8_t *o)
{
    uint8_t seg[256];

    return ip4(o, 6, 0, 0, seg, tcp(seg, &plain));
}

static size_t dg6(uint8_t *o)
{
    uint8_t seg[256];

    return ip6(o, 6, NULL, 0, seg, tcp(seg, &plain), true);
}

static enum dis_skip dec(int lt, const uint8_t *f, size_t n, struct dis_pkt *p)
{
    return dis_decode(lt, f, (uint32_t)n, (uint32_t)n, true, p);
}

/* The fields every builder-made segment carries. */
static void assert_plain(const struct dis_pkt *p, int ipv)
{
    assert_int_equal(p->ip_version, ipv);
    assert_int_equal(p->sport, T_SPORT);
    assert_int_equal(p->dport, T_DPORT);
    assert_int_equal(p->seq, T_SEQ);
    assert_int_equal(p->ack, T_ACK);
    assert_int_equal(p->window, T_WIN);
    assert_int_equal(p->tcp_flags, DIS_TH_ACK | DIS_TH_PSH);
    assert_int_equal(p->hdr_len, 20);
    assert_int_equal(p->payload_len, T_PAYLEN);
    assert_int_equal(p->payload_caplen, T_PAYLEN);
    assert_memory_equal(p->payload, "xxxxxxxxxx", T_PAYLEN);
    assert_int_equal(p->csum, DIS_CSUM_GOOD);
    if (ipv == 4) {
        assert_memory_equal(p->src, src4, 4);
        assert_memory_equal(p->dst, dst4, 4);
        assert_int_equal(p->src[4] | p->src[15] | p->dst[4] | p->dst[15], 0);
        assert_int_equal(p->ttl, 64);
    } else {
        assert_memory_equal(p->src, src6, 16);
        assert_memory_equal(p->dst, dst6, 16);
        assert_int_equal(p->ttl, 55);
    }
}

/* ---------------------------------------------------------------------------
 * Link types.
 */

static void test_en10mb_ipv4_decodes_all_fields(void **state)
{
    uint8_t f[256];
    struct dis_pkt p = {.ts_ns = 77, .frame = 5};
    size_t n = eth4(f, &plain);

    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_ptr_equal(p.payload, f + 54);
    assert_int_equal(p.ip_len, 20 + 20 + T_PAYLEN); /* the IPv4 total length */
    assert_int_equal(p.linktype, DIS_LINKTYPE_EN10MB);
    assert_int_equal(p.caplen, n);
    assert_int_equal(p.wirelen, n);
    assert_int_equal(p.ts_ns, 77); /* the caller's fields are left alone */
    assert_int_equal(p.frame, 5);
    assert_int_equal(p.vlan_count, 0);
    assert_int_equal(p.flags_odd, 0);
}

static void test_en10mb_ipv6_decodes_all_fields(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth6(f, &plain);

    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_ptr_equal(p.payload, f + 74);
    assert_int_equal(p.ip_len, 40 + 20 + T_PAYLEN); /* 40 + the payload length */
}

static void test_vlan_tags_keep_first_two_ids_and_count_all(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x88a8);

    n += vlan(f + n, 0x2064, 0x8100); /* PCP 1, VID 100 */
    n += vlan(f + n, 0x00c8, 0x9100); /* VID 200 */
    n += vlan(f + n, 0x012c, 0x0800); /* VID 300 */
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.vlan_count, 3);
    assert_int_equal(p.vlan[0], 100);
    assert_int_equal(p.vlan[1], 200);
}

static void test_vlan_tag_cut_short_is_link_truncated(void **state)
{
    uint8_t f[64];
    struct dis_pkt p;
    size_t n = eth(f, 0x8100);

    f[n++] = 0;
    f[n++] = 5;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_mpls_stack_is_popped_to_ipv4_and_ipv6(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8847);

    n += put32(f + n, 0x00010040); /* label 16, not bottom */
    n += put32(f + n, 0x00020140); /* label 32, bottom of stack */
    size_t m = n + dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.mpls_count, 2);

    m = n + dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
}

static void test_mpls_inside_vlan_decodes(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8100);

    n += vlan(f + n, 7, 0x8848);
    n += put32(f + n, 0x00010140);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.vlan[0], 7);
    assert_int_equal(p.mpls_count, 1);
}

static void test_mpls_stack_too_deep_is_link_malformed(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8847);

    for (int i = 0; i < 20; i++)
        n += put32(f + n, 0x00010040); /* never bottom of stack */
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_LINK_MALFORMED);
}

static void test_mpls_pseudowire_payload_is_not_ip(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8847);

    n += put32(f + n, 0x00010140);
    n += put32(f + n, 0); /* pseudowire control word: first nibble 0 */
    n += eth(f + n, 0x0800);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NOT_IP);
}

static void test_mpls_label_cut_short_is_link_truncated(void **state)
{
    uint8_t f[64];
    struct dis_pkt p;
    size_t n = eth(f, 0x8847);

    n += put16(f + n, 0x0001);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_LINK_TRUNCATED);
}

/* PPPoE session header with the given PPP protocol; returns bytes. */
static size_t pppoe(uint8_t *o, uint8_t vt, uint16_t len, uint16_t proto)
{
    o[0] = vt;
    o[1] = 0;
    put16(o + 2, 0x1234);
    put16(o + 4, len);
    return 6 + put16(o + 6, proto);
}

static void test_pppoe_ipv4_trusts_ip_length_over_pppoe_length(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8864);

    n += pppoe(f + n, 0x11, 3 /* wrong on purpose */, 0x0021);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_true(p.pppoe);
}

static void test_pppoe_over_qinq_ipv6_decodes(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x88a8);

    n += vlan(f + n, 10, 0x8100);
    n += vlan(f + n, 20, 0x8864);
    n += pppoe(f + n, 0x11, 62, 0x0057);
    n += dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_int_equal(p.vlan_count, 2);
    assert_true(p.pppoe);
}

static void test_pppoe_lcp_is_not_ip(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8864);

    n += pppoe(f + n, 0x11, 10, 0xc021);
    memset(f + n, 0, 8);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n + 8, &p), DIS_SKIP_NOT_IP);
}

static void test_pppoe_bad_version_is_link_malformed(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth(f, 0x8864);

    n += pppoe(f + n, 0x21, 40, 0x0021);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_LINK_MALFORMED);
}

static void test_pppoe_cut_short_is_link_truncated(void **state)
{
    uint8_t f[64];
    struct dis_pkt p;
    size_t n = eth(f, 0x8864);

    n += pppoe(f + n, 0x11, 40, 0x0021);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n - 1, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_8023_llc_snap_ipv4_decodes(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    static const uint8_t snap[8] = {0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
    size_t n = eth(f, 0); /* length filled below */

    memcpy(f + n, snap, 8);
    n += 8;
    n += dg4(f + n);
    put16(f + 12, (uint16_t)(n - 14));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
}

static void test_8023_stp_llc_is_not_ip(void **state)
{
    uint8_t f[64] = {0};
    struct dis_pkt p;
    size_t n = eth(f, 38);

    f[n] = 0x42;
    f[n + 1] = 0x42;
    f[n + 2] = 0x03;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 60, &p), DIS_SKIP_NOT_IP);
}

static void test_arp_is_not_ip(void **state)
{
    uint8_t f[64] = {0};
    struct dis_pkt p;

    eth(f, 0x0806);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 42, &p), DIS_SKIP_NOT_IP);
}

static void test_short_ethernet_is_link_truncated(void **state)
{
    uint8_t f[64] = {0};
    struct dis_pkt p;

    eth(f, 0x0800);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 13, &p), DIS_SKIP_LINK_TRUNCATED);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 0, &p), DIS_SKIP_LINK_TRUNCATED);
}

static size_t sll(uint8_t *o, uint16_t hatype, uint16_t proto)
{
    memset(o, 0, 16);
    put16(o, 0); /* to us */
    put16(o + 2, hatype);
    put16(o + 4, 6);
    return 14 + put16(o + 14, proto);
}

static size_t sll2(uint8_t *o, uint16_t hatype, uint16_t proto)
{
    memset(o, 0, 20);
    put16(o, proto);
    put32(o + 4, 3); /* ifindex */
    put16(o + 8, hatype);
    o[11] = 6;
    return 20;
}

static void test_linux_sll_ipv4_and_vlan_decode(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = sll(f, 1, 0x0800);

    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.linktype, DIS_LINKTYPE_LINUX_SLL);

    n = sll(f, 1, 0x8100);
    n += vlan(f + n, 42, 0x86dd);
    n += dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_int_equal(p.vlan[0], 42);
}

static void test_linux_sll_tun_device_decodes(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = sll(f, 0xfffe /* ARPHRD_NONE */, 0x0800);

    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL, f, n, &p), DIS_SKIP_NONE);
}

static void test_linux_sll_netlink_is_not_ip(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = sll(f, 824, 0x0800); /* ARPHRD_NETLINK: protocol is a family */

    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL, f, n, &p), DIS_SKIP_NOT_IP);
}

static void test_linux_sll_short_is_link_truncated(void **state)
{
    uint8_t f[64];
    struct dis_pkt p;

    sll(f, 1, 0x0800);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL, f, 15, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_linux_sll2_ipv6_and_vlan_decode(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = sll2(f, 1, 0x86dd);

    n += dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL2, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);

    n = sll2(f, 1, 0x8100);
    n += vlan(f + n, 9, 0x0800);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL2, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.vlan[0], 9);
    assert_int_equal(dec(DIS_LINKTYPE_LINUX_SLL2, f, 19, &p), DIS_SKIP_LINK_TRUNCATED);
}

static size_t af_le(uint8_t *o, uint32_t af)
{
    o[0] = (uint8_t)af;
    o[1] = (uint8_t)(af >> 8);
    o[2] = (uint8_t)(af >> 16);
    o[3] = (uint8_t)(af >> 24);
    return 4;
}

static void test_null_accepts_both_byte_orders(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n;

    n = af_le(f, 2);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_NULL, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    n = put32(f, 2);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_NULL, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);

    static const uint32_t v6[] = {24, 28, 30, 10};
    for (size_t i = 0; i < 4; i++) {
        n = af_le(f, v6[i]);
        n += dg6(f + n);
        assert_int_equal(dec(DIS_LINKTYPE_NULL, f, n, &p), DIS_SKIP_NONE);
        assert_plain(&p, 6);
        n = put32(f, v6[i]);
        n += dg6(f + n);
        assert_int_equal(dec(DIS_LINKTYPE_NULL, f, n, &p), DIS_SKIP_NONE);
    }
}

static void test_null_unknown_family_is_not_ip(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = af_le(f, 7);

    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_NULL, f, n, &p), DIS_SKIP_NOT_IP);
    assert_int_equal(dec(DIS_LINKTYPE_NULL, f, 3, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_loop_is_network_order_only(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = put32(f, 24);

    n += dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LOOP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    n = af_le(f, 2);
    n += dg4(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_LOOP, f, n, &p), DIS_SKIP_NOT_IP);
    assert_int_equal(dec(DIS_LINKTYPE_LOOP, f, 2, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_raw_guesses_version_from_nibble(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = dg4(f);

    assert_int_equal(dec(DIS_LINKTYPE_RAW, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(dec(12, f, n, &p), DIS_SKIP_NONE); /* OpenBSD DLT_RAW */
    assert_plain(&p, 4);
    n = dg6(f);
    assert_int_equal(dec(DIS_LINKTYPE_RAW, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    f[0] = 0x50;
    assert_int_equal(dec(DIS_LINKTYPE_RAW, f, n, &p), DIS_SKIP_IP_BAD_VERSION);
    assert_int_equal(dec(DIS_LINKTYPE_RAW, f, 0, &p), DIS_SKIP_IP_TRUNCATED);
}

static void test_ipv4_and_ipv6_link_types_check_version(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = dg4(f);

    assert_int_equal(dec(DIS_LINKTYPE_IPV4, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(dec(DIS_LINKTYPE_IPV6, f, n, &p), DIS_SKIP_IP_BAD_VERSION);
    n = dg6(f);
    assert_int_equal(dec(DIS_LINKTYPE_IPV6, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_int_equal(dec(DIS_LINKTYPE_IPV4, f, n, &p), DIS_SKIP_IP_BAD_VERSION);
}

static void test_unsupported_link_type_is_skipped(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = dg4(f);

    assert_int_equal(dec(105, f, n, &p), DIS_SKIP_LINK_UNSUPPORTED);
    assert_int_equal(p.linktype, 105);
    assert_false(dis_linktype_supported(105));
    assert_true(dis_linktype_supported(DIS_LINKTYPE_LINUX_SLL2));
    assert_true(dis_linktype_supported(12));
}

/* ---------------------------------------------------------------------------
 * IPv4.
 */

static void test_ipv4_rejects_zero_and_short_ihl(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    f[14] = 0x40;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV4_BAD_IHL);
    assert_int_equal(p.ip_version, 4);
    f[14] = 0x44;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV4_BAD_IHL);
}

static void test_ipv4_rejects_total_length_below_header(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    put16(f + 16, 19);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IP_BAD_LENGTH);
    put16(f + 16, 0); /* TSO-style zero length: the frame's length instead */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_IP_LEN_FROM_FRAME);
    /* ... but a frame shorter than the header is still a bad length. */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 14 + 19, &p), DIS_SKIP_IP_BAD_LENGTH);
}

static void test_ipv4_rejects_total_length_beyond_wire(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    put16(f + 16, (uint16_t)(n - 14 + 1));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IP_BAD_LENGTH);
    /* ... but not when the wire had it and the snaplen cut it. */
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, (uint32_t)n, (uint32_t)n + 1, true, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.payload_len, T_PAYLEN + 1);
    assert_int_equal(p.payload_caplen, T_PAYLEN);
}

static void test_ipv4_header_wider_than_wire_is_bad_length(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;

    eth4(f, &plain);
    f[14] = 0x4f; /* 60-byte header in a 30-byte datagram */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 14 + 30, &p), DIS_SKIP_IP_BAD_LENGTH);
}

static void test_ipv4_cut_by_snaplen_is_ip_truncated(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 14 + 12, (uint32_t)n, true, &p),
                     DIS_SKIP_IP_TRUNCATED);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 14, (uint32_t)n, true, &p),
                     DIS_SKIP_IP_TRUNCATED);
}

static void test_ipv4_options_are_skipped(void **state)
{
    uint8_t f[256], seg[128];
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);

    n += ip4(f + n, 6, 0, 8, seg, tcp(seg, &plain));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_ptr_equal(p.payload, f + 14 + 28 + 20);
}

static void test_ipv4_udp_is_not_tcp(void **state)
{
    uint8_t f[256], udp[16] = {0};
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);

    n += ip4(f + n, 17, 0, 0, udp, sizeof(udp));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NOT_TCP);
    assert_int_equal(p.ip_version, 4);
}

static void test_ipv4_later_fragment_is_skipped(void **state)
{
    uint8_t f[256], seg[128];
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);

    n += ip4(f + n, 6, 0x0003 /* offset 24 bytes, last */, 0, seg, tcp(seg, &plain));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV4_FRAGMENT);
    n = eth(f, 0x0800);
    n += ip4(f + n, 6, 0x2003 /* MF, offset 24 */, 0, seg, tcp(seg, &plain));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV4_FRAGMENT);
}

static void test_ipv4_first_fragment_with_whole_tcp_header_decodes(void **state)
{
    uint8_t f[256], seg[128];
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);

    n += ip4(f + n, 6, 0x2000 /* MF */, 0, seg, tcp(seg, &plain));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_IP_FRAGMENT);
    assert_int_equal(p.payload_len, T_PAYLEN);    /* this fragment's bytes */
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED); /* TCP sum covers the datagram */
}

static void test_ipv4_first_fragment_without_whole_tcp_header_is_incomplete(void **state)
{
    uint8_t f[256], seg[128];
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);
    struct tcpb t = plain;

    tcp(seg, &plain);
    n += ip4(f + n, 6, 0x2000, 0, seg, 8); /* only ports and seq */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_FRAG_TCP_INCOMPLETE);

    /* A header with options that spill into the next fragment. */
    static const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
    t.opt = ts;
    t.optlen = 12;
    t.paylen = 0;
    tcp(seg, &t);
    n = eth(f, 0x0800);
    n += ip4(f + n, 6, 0x2000, 0, seg, 24);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_FRAG_TCP_INCOMPLETE);
}

static void test_ethernet_padding_is_not_payload(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n;

    t.paylen = 0;
    n = eth4(f, &t); /* 54 bytes: padded to 60 on the wire */
    memset(f + n, 0, 6);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n + 6, &p), DIS_SKIP_NONE);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.payload_caplen, 0);
    assert_true(p.flags_odd & DIS_ODD_ETH_PADDING);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
    assert_int_equal(p.ip_len, 40); /* the padding is no part of the datagram */

    n = eth6(f, &t); /* also for IPv6 */
    memset(f + n, 0, 4);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n + 4, &p), DIS_SKIP_NONE);
    assert_int_equal(p.payload_len, 0);
    assert_true(p.flags_odd & DIS_ODD_ETH_PADDING);
}

static void test_snaplen_cut_keeps_real_payload_len(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 58, (uint32_t)n, true, &p), DIS_SKIP_NONE);
    assert_int_equal(p.payload_len, T_PAYLEN);
    assert_int_equal(p.payload_caplen, 4);
    assert_int_equal(p.caplen, 58);
    assert_int_equal(p.wirelen, n);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);
}

static void test_ipv4_checksums_good_and_bad(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, (uint32_t)n, (uint32_t)n, false, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);

    f[n - 1] ^= 1; /* payload byte */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_BAD_TCP);
    f[n - 1] ^= 1;

    f[22] ^= 1; /* TTL: IP header checksum breaks */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_BAD_IP);
}

static void test_odd_length_segment_checksum_verifies(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n;

    t.paylen = 7;
    n = eth4(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
    n = eth6(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
}

/* ---------------------------------------------------------------------------
 * IPv6.
 */

static void test_ipv6_checksums_good_and_bad(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth6(f, &plain);

    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
    f[14 + 8] ^= 0x80; /* source address: pseudo-header changes */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_BAD_TCP);
}

static void test_ipv6_extension_chain_is_walked_to_tcp(void **state)
{
    uint8_t f[256], seg[128];
    struct dis_pkt p;
    /* hop-by-hop (8, PadN) -> routing (type 4, 0 segments left, 8+16) ->
     * AH (12 bytes: len 1) -> destination options (8) -> TCP */
    uint8_t ext[8 + 24 + 16 + 8] = {0};
    size_t n = eth(f, 0x86dd);

    ext[0] = 43;
    ext[1] = 0;
    ext[2] = 1;
    ext[3] = 4;
    ext[8] = 51; /* routing: next AH */
    ext[9] = 2;
    ext[10] = 4;
    ext[11] = 0;  /* segments left */
    ext[32] = 60; /* AH: next dest opts, len (16/4)-2 = 2 */
    ext[33] = 2;
    ext[48] = 6; /* dest opts: next TCP */
    ext[49] = 0;
    ext[50] = 1;
    ext[51] = 4;
    n += ip6(f + n, 0, ext, sizeof(ext), seg, tcp(seg, &plain), true);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_int_equal(p.ip_len, 40 + sizeof(ext) + 20 + T_PAYLEN); /* extension headers count */

    /* With segments left, the pseudo-header needs the final destination:
     * the checksum is left unchecked rather than called bad. */
    f[14 + 40 + 11] = 1;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);
}

/* n destination-options headers of 8 bytes each, the last pointing at TCP. */
static size_t dstopts(uint8_t *o, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        memset(o + 8 * i, 0, 8);
        o[8 * i] = i + 1 == n ? 6 : 60;
    }
    return 8 * (size_t)n;
}

static void test_ipv6_long_extension_chain_is_bounded(void **state)
{
    uint8_t f[512], seg[128], ext[8 * 40];
    struct dis_pkt p;
    size_t n, m = tcp(seg, &plain);

    n = eth(f, 0x86dd);
    n += ip6(f + n, 60, ext, dstopts(ext, 15), seg, m, true);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);

    n = eth(f, 0x86dd);
    n += ip6(f + n, 60, ext, dstopts(ext, 40), seg, m, true);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV6_EXT_TRUNCATED);
}

static void test_ipv6_extension_chain_past_packet_is_ext_truncated(void **state)
{
    uint8_t f[256], ext[8] = {6, 30 /* 248 bytes */};
    struct dis_pkt p;
    size_t n = eth(f, 0x86dd);

    n += ip6(f + n, 0, ext, sizeof(ext), NULL, 0, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV6_EXT_TRUNCATED);
    assert_int_equal(p.ip_version, 6);
    /* Payload of 1 byte: the header's length byte is past the payload. */
    n = eth(f, 0x86dd);
    n += ip6(f + n, 0, ext, 1, NULL, 0, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV6_EXT_TRUNCATED);
}

static void test_ipv6_later_fragment_is_skipped(void **state)
{
    uint8_t f[256], seg[128], frag[8] = {6, 0, 0x00, 0x19 /* offset 24, M */, 0, 0, 0, 1};
    struct dis_pkt p;
    size_t n = eth(f, 0x86dd);

    n += ip6(f + n, 44, frag, 8, seg, tcp(seg, &plain), false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IPV6_FRAGMENT);
}

static void test_ipv6_first_fragment_decodes_flagged(void **state)
{
    uint8_t f[256], seg[128], frag[8] = {6, 0, 0, 1 /* offset 0, M */, 0, 0, 0, 1};
    struct dis_pkt p;
    size_t n = eth(f, 0x86dd);

    n += ip6(f + n, 44, frag, 8, seg, tcp(seg, &plain), false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_IP_FRAGMENT);
    assert_int_equal(p.payload_len, T_PAYLEN);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);

    n = eth(f, 0x86dd);
    n += ip6(f + n, 44, frag, 8, seg, 12, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_FRAG_TCP_INCOMPLETE);
}

static void test_ipv6_no_next_header_and_udp_are_not_tcp(void **state)
{
    uint8_t f[256], pad[8] = {0};
    struct dis_pkt p;
    size_t n = eth(f, 0x86dd);

    n += ip6(f + n, 59, NULL, 0, pad, 8, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NOT_TCP);
    n = eth(f, 0x86dd);
    n += ip6(f + n, 17, NULL, 0, pad, 8, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NOT_TCP);
}

static void test_ipv6_bad_payload_lengths(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth6(f, &plain);

    put16(f + 18, 0); /* BIG TCP without the jumbo option: the frame's length */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_IP_LEN_FROM_FRAME);
    assert_int_equal(p.payload_len, T_PAYLEN);
    put16(f + 18, (uint16_t)(n - 54 + 1));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_IP_BAD_LENGTH);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, 14 + 30, &p), DIS_SKIP_IP_BAD_LENGTH);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 14 + 30, (uint32_t)n, true, &p),
                     DIS_SKIP_IP_TRUNCATED);
}

/* ---------------------------------------------------------------------------
 * TCP header.
 */

static void test_tcp_rejects_doff_below_5(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n;

    t.doff = 4;
    n = eth4(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_TCP_BAD_OFFSET);
    t.doff = 0;
    t.optlen = 0;
    n = eth4(f, &t);
    f[46] = 0x00;
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_TCP_BAD_OFFSET);
}

static void test_tcp_rejects_doff_past_segment_end(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n;

    t.doff = 15; /* 60 bytes, segment has 30 */
    n = eth4(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_TCP_BAD_OFFSET);
}

static void test_tcp_segment_shorter_than_header_is_bad_offset(void **state)
{
    uint8_t f[256], seg[64];
    struct dis_pkt p;
    size_t n = eth(f, 0x0800);

    tcp(seg, &plain);
    n += ip4(f + n, 6, 0, 0, seg, 12);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_TCP_BAD_OFFSET);
}

static void test_tcp_cut_in_fixed_header_is_truncated(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n = eth4(f, &plain);

    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34 + 19, (uint32_t)n, true, &p),
                     DIS_SKIP_TCP_TRUNCATED);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34, (uint32_t)n, true, &p),
                     DIS_SKIP_TCP_TRUNCATED);
}

static void test_tcp_cut_in_options_keeps_fixed_header(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    /* MSS, NOP, NOP, TS: as a SYN; then cut by a 64-byte snaplen */
    static const uint8_t o[16] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0};
    size_t n;

    t.opt = o;
    t.optlen = sizeof(o);
    n = eth4(f, &t);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 64, (uint32_t)n, true, &p), DIS_SKIP_NONE);
    assert_int_equal(p.seq, T_SEQ);
    assert_int_equal(p.hdr_len, 36);
    assert_int_equal(p.opt.present, DIS_OPT_MSS); /* TS was cut */
    assert_int_equal(p.opt.mss, 1460);
    assert_int_equal(p.flags_odd, DIS_ODD_OPT_TRUNCATED); /* not malformed */
    assert_int_equal(p.payload_len, T_PAYLEN);
    assert_int_equal(p.payload_caplen, 0);
    assert_ptr_equal(p.payload, f + 64);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);

    /* Cut right after an option kind byte: its length is unknown. */
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34 + 20 + 7, (uint32_t)n, true, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_OPT_TRUNCATED);
    /* Cut inside MSS. */
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34 + 22, (uint32_t)n, true, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(p.flags_odd, DIS_ODD_OPT_TRUNCATED);
    /* Options whole, payload cut: nothing odd. */
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34 + 36, (uint32_t)n, true, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, 0);
    assert_int_equal(p.opt.ts_val, 7);
}

static void test_option_past_header_end_is_malformed_even_when_cut(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    static const uint8_t o[8] = {1, 1, 30, 12, 0, 0, 0, 0}; /* 12 > the 6 bytes left */
    size_t n;

    t.opt = o;
    t.optlen = sizeof(o);
    n = eth4(f, &t);
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 34 + 20 + 5, (uint32_t)n, true, &p),
                     DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_true(p.flags_odd & DIS_ODD_OPT_TRUNCATED);
}

static void test_pure_ack_with_cut_options_skips_checksum(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    static const uint8_t o[12] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};
    size_t n;

    t.opt = o;
    t.optlen = sizeof(o);
    t.paylen = 0;
    n = eth4(f, &t); /* 66 bytes */
    assert_int_equal(dis_decode(DIS_LINKTYPE_EN10MB, f, 64, (uint32_t)n, true, &p), DIS_SKIP_NONE);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.csum, DIS_CSUM_UNCHECKED);
}

static void test_tcp_ae_ece_cwr_flags_and_reserved_bits(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n;

    t.flags = DIS_TH_AE | DIS_TH_CWR | DIS_TH_ECE | DIS_TH_SYN | DIS_TH_URG;
    t.urg = 3;
    n = eth4(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.tcp_flags, DIS_TH_AE | DIS_TH_CWR | DIS_TH_ECE | DIS_TH_SYN | DIS_TH_URG);
    assert_int_equal(p.urgent, 3);
    assert_int_equal(p.flags_odd & DIS_ODD_TCP_RESERVED, 0);

    t.flags = 0xe00 | DIS_TH_FIN | DIS_TH_RST;
    n = eth4(f, &t);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.tcp_flags, DIS_TH_FIN | DIS_TH_RST);
    assert_true(p.flags_odd & DIS_ODD_TCP_RESERVED);
    assert_int_equal(p.csum, DIS_CSUM_GOOD);
}

/* ---------------------------------------------------------------------------
 * TCP options.
 */

static enum dis_skip dec_opts(const uint8_t *opt, size_t optlen, struct dis_pkt *p)
{
    static uint8_t f[256];
    struct tcpb t = plain;
    size_t n;

    t.opt = opt;
    t.optlen = optlen;
    n = eth4(f, &t);
    return dec(DIS_LINKTYPE_EN10MB, f, n, p);
}

static void test_syn_options_mss_ws_sackok_ts(void **state)
{
    static const uint8_t o[20] = {2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22,
                                  0x33, 0x44, 0,    0,    0, 0, 1, 3,  3,    7};
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_MSS | DIS_OPT_SACK_PERM | DIS_OPT_TS | DIS_OPT_WSCALE);
    assert_int_equal(p.opt.mss, 1460);
    assert_int_equal(p.opt.wscale, 7);
    assert_int_equal(p.opt.ts_val, 0x11223344u);
    assert_int_equal(p.opt.ts_ecr, 0);
    assert_int_equal(p.flags_odd, 0);
    assert_int_equal(p.hdr_len, 40);
    assert_int_equal(p.payload_len, T_PAYLEN);
}

static void test_sack_blocks_and_timestamps_values(void **state)
{
    static const uint8_t o[32] = {1,    1, 8,    10,   0,    0,    1, 0,    0, 0,   2,
                                  0,    1, 1,    5,    18,   0,    0, 0x10, 0, 0,   0,
                                  0x20, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0,    0, 0x10};
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_TS | DIS_OPT_SACK);
    assert_int_equal(p.opt.ts_val, 256);
    assert_int_equal(p.opt.ts_ecr, 512);
    assert_int_equal(p.opt.sack_count, 2);
    assert_int_equal(p.opt.sack[0][0], 0x1000);
    assert_int_equal(p.opt.sack[0][1], 0x2000);
    assert_int_equal(p.opt.sack[1][0], 0xfffffff0u);
    assert_int_equal(p.opt.sack[1][1], 0x10);
    assert_int_equal(p.flags_odd, 0);
}

static void test_sack_with_bad_length_is_malformed(void **state)
{
    static const uint8_t o[16] = {2, 4, 0x05, 0xb4, 5, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_int_equal(p.opt.present, DIS_OPT_MSS); /* kept what came before */
    assert_int_equal(p.opt.mss, 1460);
}

static void test_option_length_zero_or_one_is_malformed(void **state)
{
    static const uint8_t zero[8] = {1, 30, 0, 0, 8, 10, 0, 0};
    static const uint8_t one[8] = {30, 1, 2, 4, 0x05, 0xb4, 0, 0};
    struct dis_pkt p;

    assert_int_equal(dec_opts(zero, sizeof(zero), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(dec_opts(one, sizeof(one), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_int_equal(p.opt.present, 0);
}

static void test_option_length_past_header_end_is_malformed(void **state)
{
    static const uint8_t o[8] = {1, 1, 8, 10, 0, 0, 0, 1}; /* TS needs 10, 6 left */
    static const uint8_t nolen[4] = {1, 1, 1, 2};          /* kind without length */
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(dec_opts(nolen, sizeof(nolen), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
}

static void test_known_option_with_wrong_length_is_malformed(void **state)
{
    static const uint8_t mss[8] = {2, 6, 0, 0, 5, 0xb4, 0, 0};
    static const uint8_t ws[4] = {3, 4, 7, 0};
    struct dis_pkt p;

    assert_int_equal(dec_opts(mss, sizeof(mss), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(dec_opts(ws, sizeof(ws), &p), DIS_SKIP_NONE);
    assert_true(p.flags_odd & DIS_ODD_OPT_MALFORMED);
}

static void test_tfo_cookie_and_cookie_request(void **state)
{
    static const uint8_t cookie[12] = {34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1};
    static const uint8_t request[4] = {34, 2, 1, 1};
    static const uint8_t exp[12] = {254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t exp_req[4] = {254, 4, 0xf9, 0x89};
    static const uint8_t other_exp[8] = {254, 6, 0x12, 0x34, 0, 0, 1, 0};
    struct dis_pkt p;

    assert_int_equal(dec_opts(cookie, sizeof(cookie), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_TFO);
    assert_int_equal(p.opt.tfo_cookie_len, 8);
    assert_int_equal(dec_opts(request, sizeof(request), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_TFO);
    assert_int_equal(p.opt.tfo_cookie_len, 0);
    assert_int_equal(dec_opts(exp, sizeof(exp), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_TFO);
    assert_int_equal(p.opt.tfo_cookie_len, 8);
    assert_int_equal(dec_opts(exp_req, sizeof(exp_req), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_TFO);
    assert_int_equal(p.opt.tfo_cookie_len, 0);
    assert_int_equal(p.flags_odd, 0);
    assert_int_equal(dec_opts(other_exp, sizeof(other_exp), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(p.opt.unknown_count, 1);
    assert_int_equal(p.flags_odd, 0);
}

static void test_unknown_options_are_skipped_by_length(void **state)
{
    static const uint8_t o[12] = {30, 4, 0xaa, 0xbb, 19, 2, 2, 4, 0x02, 0x18, 0, 0};
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.unknown_count, 2);
    assert_int_equal(p.opt.present, DIS_OPT_MSS);
    assert_int_equal(p.opt.mss, 536);
    assert_int_equal(p.flags_odd, 0);
}

static void test_eol_ends_options(void **state)
{
    static const uint8_t o[8] = {0, 2, 4, 0x05, 0xb4, 0, 0, 0}; /* garbage after EOL */
    struct dis_pkt p;

    assert_int_equal(dec_opts(o, sizeof(o), &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(p.flags_odd, 0);
}

/* ---------------------------------------------------------------------------
 * Names and stats.
 */

static void test_reused_pkt_keeps_nothing_from_previous_frame(void **state)
{
    uint8_t f[256], g[256];
    static const uint8_t o[16] = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1};
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n = eth(f, 0x8100), m;

    t.opt = o;
    t.optlen = sizeof(o);
    t.flags = 0xe12;
    n += vlan(f + n, 5, 0x8864);
    n += pppoe(f + n, 0x11, 0, 0x0057);
    n += ip6(f + n, 6, NULL, 0, g, tcp(g, &t), true);
    assert_int_equal(dec(1, f, n, &p), DIS_SKIP_NONE);
    assert_int_equal(p.opt.present, DIS_OPT_MSS | DIS_OPT_TS);
    assert_true(p.pppoe);

    m = eth4(g, &plain);
    g[22] ^= 1; /* and a bad IP checksum, then a good frame again */
    assert_int_equal(dec(1, g, m, &p), DIS_SKIP_NONE);
    assert_int_equal(p.csum, DIS_CSUM_BAD_IP);
    g[22] ^= 1;
    assert_int_equal(dec(1, g, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.vlan_count, 0);
    assert_int_equal(p.vlan[0], 0);
    assert_false(p.pppoe);
    assert_int_equal(p.opt.present, 0);
    assert_int_equal(p.opt.ts_val, 0);
    assert_int_equal(p.flags_odd, 0);
}

static void test_cuts_inside_each_header_name_the_layer(void **state)
{
    uint8_t f[256], seg[128], frag[8] = {6, 0, 0, 1, 0, 0, 0, 1};
    static const uint8_t snap[8] = {0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
    struct dis_pkt p;
    size_t n = eth4(f, &plain), m;

    /* IPv4 fixed header cut before and after the addresses. */
    assert_int_equal(dis_decode(1, f, 14 + 5, (uint32_t)n, true, &p), DIS_SKIP_IP_TRUNCATED);
    assert_int_equal(dis_decode(1, f, 14 + 16, (uint32_t)n, true, &p), DIS_SKIP_IP_TRUNCATED);
    n = eth6(f, &plain);
    assert_int_equal(dis_decode(1, f, 14 + 6, (uint32_t)n, true, &p), DIS_SKIP_IP_TRUNCATED);
    /* IPv6 fragment header cut by the snaplen. */
    n = eth(f, 0x86dd);
    n += ip6(f + n, 44, frag, 8, seg, tcp(seg, &plain), false);
    assert_int_equal(dis_decode(1, f, 14 + 40 + 5, (uint32_t)n, true, &p),
                     DIS_SKIP_IPV6_EXT_TRUNCATED);
    /* PPPoE header cut before the PPP protocol. */
    n = eth(f, 0x8864);
    n += pppoe(f + n, 0x11, 40, 0x0021);
    assert_int_equal(dec(1, f, 14 + 3, &p), DIS_SKIP_LINK_TRUNCATED);
    /* 802.3 LLC and SNAP cut short. */
    m = eth(f, 40);
    memcpy(f + m, snap, 8);
    assert_int_equal(dec(1, f, m + 2, &p), DIS_SKIP_LINK_TRUNCATED);
    assert_int_equal(dec(1, f, m + 7, &p), DIS_SKIP_LINK_TRUNCATED);
    /* 1501..1535 is neither a length nor an ethertype. */
    put16(f + 12, 1501);
    assert_int_equal(dec(1, f, 60, &p), DIS_SKIP_NOT_IP);
}

/* ---------------------------------------------------------------------------
 * Tunnels, BIG TCP lengths and the link types of issue 14.  Outer headers
 * get their own addresses and TTL so that the inner ones are seen to win.
 */

static const uint8_t osrc4[4] = {10, 9, 0, 1}, odst4[4] = {10, 9, 0, 2};

/* IPv4 datagram of protocol proto around l4 with the outer addresses and
 * TTL 9; only the header checksum is computed. */
static size_t oip4(uint8_t *o, uint8_t proto, uint16_t frag, const uint8_t *l4, size_t l4len)
{
    o[0] = 0x45;
    o[1] = 0;
    put16(o + 2, (uint16_t)(20 + l4len));
    put16(o + 4, 0x4321);
    put16(o + 6, frag);
    o[8] = 9;
    o[9] = proto;
    put16(o + 10, 0);
    memcpy(o + 12, osrc4, 4);
    memcpy(o + 16, odst4, 4);
    put16(o + 10, fold(sum16(0, o, 20)));
    memcpy(o + 20, l4, l4len);
    return 20 + l4len;
}

/* UDP header to dport (checksum 0) before len bytes of body. */
static size_t udp(uint8_t *o, uint16_t dport, const uint8_t *body, size_t len)
{
    put16(o, 51000);
    put16(o + 2, dport);
    put16(o + 4, (uint16_t)(8 + len));
    put16(o + 6, 0);
    memcpy(o + 8, body, len);
    return 8 + len;
}

/* Ethernet (+ one VLAN tag when vid) + IPv4 TCP datagram: the inner frame of
 * VXLAN, Geneve, gretap and ERSPAN. */
static size_t inner_eth4(uint8_t *o, uint16_t vid)
{
    size_t n;

    if (vid) {
        n = eth(o, 0x8100);
        n += vlan(o + n, vid, 0x0800);
    } else {
        n = eth(o, 0x0800);
    }
    return n + dg4(o + n);
}

/* Underlay: Ethernet with VLAN 100, outer IPv4 of protocol proto. */
static size_t underlay4(uint8_t *f, uint8_t proto, const uint8_t *l4, size_t l4len)
{
    size_t n = eth(f, 0x8100);

    n += vlan(f + n, 100, 0x0800);
    return n + oip4(f + n, proto, 0, l4, l4len);
}

/* Decode f cut at every length below n into an exact-size heap copy (so a
 * read past the cut is an ASan error), with wire bytes on the wire: each cut
 * before min_ok is a skip, each from min_ok on decodes.  With short_skips,
 * the same cut with the wire length = the cut (a frame that really is that
 * short) must be a skip too. */
static void assert_cuts(int lt, const uint8_t *f, size_t n, size_t min_ok, uint32_t wire,
                        bool short_skips)
{
    struct dis_pkt p;

    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *b = test_malloc(cut ? cut : 1);
        enum dis_skip s;

        memcpy(b, f, cut);
        s = dis_decode(lt, b, (uint32_t)cut, wire, true, &p);
        if (cut < min_ok && s == DIS_SKIP_NONE)
            fail_msg("cut at %zu of %zu decoded", cut, n);
        if (cut >= min_ok && s != DIS_SKIP_NONE)
            fail_msg("cut at %zu of %zu: %s", cut, n, dis_skip_name(s));
        s = dis_decode(lt, b, (uint32_t)cut, (uint32_t)cut, true, &p);
        if (short_skips && s == DIS_SKIP_NONE)
            fail_msg("frame of %zu bytes (of %zu) decoded", cut, n);
        test_free(b);
    }
    assert_int_equal(dis_decode(lt, f, (uint32_t)n, wire, true, &p), DIS_SKIP_NONE);
}

/* assert_cuts() of a frame whose headers give every length. */
static void assert_every_cut(int lt, const uint8_t *f, size_t n, size_t min_ok)
{
    assert_cuts(lt, f, n, min_ok, (uint32_t)n, true);
}

/* Offset of the inner TCP header: the inner datagram is the builders' dg4()
 * (20-byte IPv4 header) ending the frame, or dg6() (40). */
#define TCP_END4(n) ((n) - T_PAYLEN)          /* cut at or past: the fixed TCP header is there */
#define DG4_LEN (20 + 20 + T_PAYLEN)

static void assert_tunnel(const struct dis_pkt *p, enum dis_tunnel t, int depth, bool has_id,
                          uint32_t id)
{
    assert_int_equal(p->tunnel, t);
    assert_int_equal(p->tunnel_depth, depth);
    assert_int_equal(p->has_tunnel_id, has_id);
    assert_int_equal(p->tunnel_id, id);
}

static void test_vxlan_inner_tcp_decodes_with_vni_and_inner_vlan(void **state)
{
    uint8_t f[512], t[256], u[256];
    struct dis_pkt p;
    size_t n = 8 + inner_eth4(t + 8, 7);

    memset(t, 0, 8);
    t[0] = 0x08; /* I flag */
    t[4] = 0x12, t[5] = 0x34, t[6] = 0x56;
    n = udp(u, 4789, t, n);
    n = underlay4(f, 17, u, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_VXLAN, 1, true, 0x123456);
    assert_int_equal(p.vlan_count, 1); /* the inner tag, not the underlay's 100 */
    assert_int_equal(p.vlan[0], 7);
    assert_ptr_equal(p.payload, f + n - T_PAYLEN);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, n, TCP_END4(n));

    f[18 + 20 + 8] = 0; /* no I flag */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_LINK_MALFORMED);
    f[18 + 20 + 8] = 0x08;
    put16(f + 18 + 20 + 2, 4790); /* another UDP port: plain UDP */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, n, &p), DIS_SKIP_NOT_TCP);
}

static void test_vxlan_inner_udp_or_arp_is_skipped_as_such(void **state)
{
    uint8_t f[512], t[256], u[256], d[64] = {0};
    struct dis_pkt p;
    size_t n = 8, m;

    memset(t, 0, 8);
    t[0] = 0x08;
    m = n + eth(t + n, 0x0800);
    m += oip4(t + m, 17, 0, d, 16);
    m = underlay4(f, 17, u, udp(u, 4789, t, m));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NOT_TCP);
    m = n + eth(t + n, 0x0806);
    memset(t + m, 0, 28);
    m = underlay4(f, 17, u, udp(u, 4789, t, m + 28));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NOT_IP);
}

/* Geneve header with optlen 4-byte words of options before the payload. */
static size_t geneve(uint8_t *o, uint8_t ver, uint8_t optwords, uint16_t proto, uint32_t vni)
{
    o[0] = (uint8_t)(ver << 6 | optwords);
    o[1] = 0;
    put16(o + 2, proto);
    put32(o + 4, vni << 8);
    memset(o + 8, 0xee, (size_t)optwords * 4);
    return 8 + (size_t)optwords * 4;
}

static void test_geneve_skips_options_and_carries_ethernet_or_ip(void **state)
{
    uint8_t f[512], t[256], u[256], o6[512];
    struct dis_pkt p;
    size_t n, m;

    n = geneve(t, 0, 3, 0x6558, 0xabcdef);
    n += inner_eth4(t + n, 0);
    m = underlay4(f, 17, u, udp(u, 6081, t, n));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_GENEVE, 1, true, 0xabcdef);
    assert_int_equal(p.vlan_count, 0);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    /* IPv6 directly (protocol 0x86DD) over an IPv6 underlay. */
    n = geneve(t, 0, 0, 0x86dd, 5);
    n += dg6(t + n);
    n = udp(u, 6081, t, n);
    m = eth(f, 0x86dd);
    m += ip6(f + m, 17, NULL, 0, u, n, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_tunnel(&p, DIS_TUNNEL_GENEVE, 1, true, 5);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, m - T_PAYLEN);

    n = geneve(t, 1, 0, 0x0800, 5); /* version 1 */
    n += dg4(t + n);
    m = underlay4(o6, 17, u, udp(u, 6081, t, n));
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, o6, m, &p), DIS_SKIP_LINK_MALFORMED);
}

/* GRE header: flags (C 0x8000, K 0x2000, S 0x1000, version), protocol, and
 * the optional fields the flags announce. */
static size_t gre(uint8_t *o, uint16_t flags, uint16_t proto, uint32_t key)
{
    size_t n = put16(o, flags);

    n += put16(o + n, proto);
    if (flags & 0x8000)
        n += put32(o + n, 0xffff0000u);
    if (flags & 0x2000)
        n += put32(o + n, key);
    if (flags & 0x1000)
        n += put32(o + n, 77);
    return n;
}

static void test_gre_key_checksum_sequence_and_payload_kinds(void **state)
{
    uint8_t f[512], t[256];
    struct dis_pkt p;
    size_t n, m;

    /* IPv4 inside, checksum + key + sequence present. */
    n = gre(t, 0xb000, 0x0800, 0xdeadbeef);
    n += dg4(t + n);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_GRE, 1, true, 0xdeadbeef);
    assert_int_equal(p.vlan_count, 0); /* underlay VLAN dropped */
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    /* IPv6 inside, no optional fields: no id. */
    n = gre(t, 0, 0x86dd, 0);
    n += dg6(t + n);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_tunnel(&p, DIS_TUNNEL_GRE, 1, false, 0);

    /* gretap: Ethernet (0x6558) with a key. */
    n = gre(t, 0x2000, 0x6558, 42);
    n += inner_eth4(t + n, 0);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_GRE, 1, true, 42);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    /* Version 1 (PPTP) is not looked into; the RFC 1701 routing bit is
     * malformed; an unknown protocol inside is not IP. */
    n = gre(t, 0x0001, 0x0800, 0);
    n += dg4(t + n);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NOT_TCP);
    n = gre(t, 0x4000, 0x0800, 0);
    n += dg4(t + n);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_LINK_MALFORMED);
    n = gre(t, 0, 0x0806, 0);
    memset(t + n, 0, 28);
    m = underlay4(f, 47, t, n + 28);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NOT_IP);
}

static void test_erspan_types_one_two_three(void **state)
{
    uint8_t f[512], t[256];
    struct dis_pkt p;
    size_t n, m;

    /* Type II: GRE with S, ERSPAN version 1, session 0x155. */
    n = gre(t, 0x3000, 0x88be, 9);
    n += put16(t + n, 0x1000 | 55);  /* version 1, VLAN 55 */
    n += put16(t + n, 0x0400 | 0x155); /* COS/En/T, session id */
    n += put32(t + n, 0x000abcde);   /* index */
    n += inner_eth4(t + n, 0);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_ERSPAN, 1, true, 0x155);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));
    f[18 + 20 + 12] = 0x20; /* version 2 in a type II header */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_LINK_MALFORMED);

    /* Type III with the optional platform subheader (O bit), frame type 0. */
    n = gre(t, 0x1000, 0x22eb, 0);
    n += put16(t + n, 0x2000);       /* version 2 */
    n += put16(t + n, 0x3ff);        /* session 1023 */
    n += put32(t + n, 0x01020304);   /* timestamp */
    n += put16(t + n, 0);            /* SGT */
    n += put16(t + n, 0x0001);       /* FT 0, O */
    n += put32(t + n, 0x55555555);   /* platform subheader */
    n += put32(t + n, 0x55555555);
    n += inner_eth4(t + n, 0);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_ERSPAN, 1, true, 0x3ff);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    /* Type I: 0x88BE without S, the mirrored frame right after GRE. */
    n = gre(t, 0, 0x88be, 0);
    n += inner_eth4(t + n, 0);
    m = underlay4(f, 47, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_tunnel(&p, DIS_TUNNEL_ERSPAN, 1, false, 0);
}

static void test_ip_in_ip_four_combinations(void **state)
{
    uint8_t f[512], t[256];
    struct dis_pkt p;
    size_t n, m;

    n = dg4(t); /* ipip */
    m = underlay4(f, 4, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_IPIP, 1, false, 0);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    n = dg6(t); /* 6in4 (sit) */
    m = underlay4(f, 41, t, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_tunnel(&p, DIS_TUNNEL_IPIP6, 1, false, 0);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, m - T_PAYLEN);

    n = dg4(t); /* 4in6 */
    m = eth(f, 0x86dd);
    m += ip6(f + m, 4, NULL, 0, t, n, false);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_IPIP, 1, false, 0);
    assert_every_cut(DIS_LINKTYPE_EN10MB, f, m, TCP_END4(m));

    n = dg6(t); /* 6in6 */
    m = ip6(f, 41, NULL, 0, t, n, false);
    assert_int_equal(dec(DIS_LINKTYPE_RAW, f, m, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_tunnel(&p, DIS_TUNNEL_IPIP6, 1, false, 0);
    assert_every_cut(DIS_LINKTYPE_RAW, f, m, m - T_PAYLEN);
}

static void test_tunnels_nest_up_to_the_limit(void **state)
{
    uint8_t a[1024], b[1024];
    struct dis_pkt p;
    size_t n = dg4(a);

    /* Innermost: GRE with key 7; around it IP-in-IP, DIS_MAX_TUNNELS in all. */
    memcpy(b, a, n);
    n = gre(a, 0x2000, 0x0800, 7);
    memcpy(a + n, b, DG4_LEN);
    n += DG4_LEN;
    for (int i = 1; i < DIS_MAX_TUNNELS; i++) {
        n = oip4(b, i == 1 ? 47 : 4, 0, a, n);
        memcpy(a, b, n);
    }
    n = oip4(b, DIS_MAX_TUNNELS == 1 ? 47 : 4, 0, a, n);
    assert_int_equal(dec(DIS_LINKTYPE_RAW, b, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_tunnel(&p, DIS_TUNNEL_GRE, DIS_MAX_TUNNELS, true, 7);
    assert_every_cut(DIS_LINKTYPE_RAW, b, n, n - T_PAYLEN);
    /* One more level is too deep. */
    n = oip4(a, 4, 0, b, n);
    assert_int_equal(dec(DIS_LINKTYPE_RAW, a, n, &p), DIS_SKIP_LINK_MALFORMED);
}

static void test_fragmented_tunnels_are_fragment_skips(void **state)
{
    uint8_t f[512], t[256], u[256];
    struct dis_pkt p;
    size_t n, m;

    n = gre(t, 0, 0x0800, 0);
    n += dg4(t + n);
    m = eth(f, 0x0800);
    m += oip4(f + m, 47, 0x2000, t, n); /* first fragment (MF) */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_IPV4_FRAGMENT);
    m = eth(f, 0x0800);
    m += oip4(f + m, 4, 0x0010, t, n); /* offset 128 */
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_IPV4_FRAGMENT);
    /* A first fragment to the VXLAN port; a later UDP fragment stays UDP. */
    n = udp(u, 4789, t, 40);
    m = eth(f, 0x0800);
    m += oip4(f + m, 17, 0x2000, u, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_IPV4_FRAGMENT);
    m = eth(f, 0x0800);
    m += oip4(f + m, 17, 0x0010, u, n);
    assert_int_equal(dec(DIS_LINKTYPE_EN10MB, f, m, &p), DIS_SKIP_NOT_TCP);
}

static void test_big_tcp_lengths_come_from_the_frame_or_jumbo_option(void **state)
{
    uint8_t f[256], seg[128], ext[8];
    struct dis_pkt p;
    size_t n = eth4(f, &plain), sl;

    /* IPv4 total length 0 on a 70000-byte frame cut to what we have. */
    put16(f + 16, 0);
    put16(f + 24, 0);
    put16(f + 24, fold(sum16(0, f + 14, 20)));
    assert_int_equal(dis_decode(1, f, (uint32_t)n, 70000, false, &p), DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_IP_LEN_FROM_FRAME);
    assert_int_equal(p.payload_len, 70000 - 54);
    assert_int_equal(p.payload_caplen, T_PAYLEN);

    /* IPv6 payload length 0 with a hop-by-hop Jumbo Payload option. */
    sl = tcp(seg, &plain);
    ext[0] = 6, ext[1] = 0, ext[2] = 0xc2, ext[3] = 4;
    put32(ext + 4, (uint32_t)(8 + sl + 70000));
    n = eth(f, 0x86dd);
    n += ip6(f + n, 0, ext, 8, seg, sl, false);
    put16(f + 18, 0);
    assert_int_equal(dis_decode(1, f, (uint32_t)n, (uint32_t)n + 70000, false, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_IP_JUMBO);
    assert_int_equal(p.payload_len, T_PAYLEN + 70000);
    assert_cuts(1, f, n, n - T_PAYLEN, (uint32_t)n + 70000, false);
    /* ... the jumbo length past the frame is a bad length ... */
    assert_int_equal(dis_decode(1, f, (uint32_t)n, (uint32_t)n + 69999, false, &p),
                     DIS_SKIP_IP_BAD_LENGTH);
    /* ... a Pad1 before the option is stepped over ... */
    memmove(ext + 3, ext + 2, 5);
    ext[2] = 0; /* Pad1; the option now ends at 9: cut, so not found */
    memcpy(f + 54, ext, 8);
    assert_int_equal(dis_decode(1, f, (uint32_t)n, (uint32_t)n + 70000, false, &p),
                     DIS_SKIP_NONE);
    assert_int_equal(p.flags_odd, DIS_ODD_IP_LEN_FROM_FRAME);
    assert_int_equal(p.payload_len, T_PAYLEN + 70000);
    assert_cuts(1, f, n, n - T_PAYLEN, (uint32_t)n + 70000, false);
}

/* ---------------------------------------------------------------------------
 * PPP, HDLC, IPoIB, IPNET, NFLOG, PKTAP.
 */

static void test_ppp_with_and_without_hdlc_framing(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n;

    f[0] = 0xff, f[1] = 0x03, f[2] = 0x00, f[3] = 0x21;
    n = 4 + dg4(f + 4);
    assert_int_equal(dec(DIS_LINKTYPE_PPP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_every_cut(DIS_LINKTYPE_PPP, f, n, TCP_END4(n));
    assert_int_equal(dec(DIS_LINKTYPE_PPP_HDLC, f, n, &p), DIS_SKIP_NONE);
    assert_every_cut(DIS_LINKTYPE_PPP_HDLC, f, n, TCP_END4(n));
    f[1] = 0x05; /* bad control byte */
    assert_int_equal(dec(DIS_LINKTYPE_PPP, f, n, &p), DIS_SKIP_LINK_MALFORMED);

    f[0] = 0x00, f[1] = 0x57; /* no framing, IPv6 */
    n = 2 + dg6(f + 2);
    assert_int_equal(dec(DIS_LINKTYPE_PPP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    f[0] = 0x21; /* protocol field compression: one byte, IPv4 */
    n = 1 + dg4(f + 1);
    assert_int_equal(dec(DIS_LINKTYPE_PPP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_every_cut(DIS_LINKTYPE_PPP, f, n, TCP_END4(n));
    f[0] = 0xc0, f[1] = 0x21; /* LCP */
    assert_int_equal(dec(DIS_LINKTYPE_PPP, f, 40, &p), DIS_SKIP_NOT_IP);
    f[0] = 0x42; /* neither PPP nor Cisco HDLC on PPP_HDLC */
    assert_int_equal(dec(DIS_LINKTYPE_PPP_HDLC, f, 40, &p), DIS_SKIP_LINK_MALFORMED);
}

static void test_cisco_hdlc_and_ipoib_carry_ethertypes(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;
    size_t n;

    f[0] = 0x0f, f[1] = 0;
    put16(f + 2, 0x86dd);
    n = 4 + dg6(f + 4);
    assert_int_equal(dec(DIS_LINKTYPE_C_HDLC, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_every_cut(DIS_LINKTYPE_C_HDLC, f, n, n - T_PAYLEN);
    f[0] = 0x8f; /* broadcast: Cisco HDLC on PPP_HDLC too */
    assert_int_equal(dec(DIS_LINKTYPE_PPP_HDLC, f, n, &p), DIS_SKIP_NONE);
    assert_every_cut(DIS_LINKTYPE_PPP_HDLC, f, n, n - T_PAYLEN);
    put16(f + 2, 0x8035); /* SLARP */
    assert_int_equal(dec(DIS_LINKTYPE_C_HDLC, f, n, &p), DIS_SKIP_NOT_IP);

    put16(f, 0x0800);
    put16(f + 2, 0);
    n = 4 + dg4(f + 4);
    assert_int_equal(dec(DIS_LINKTYPE_IPOIB, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_every_cut(DIS_LINKTYPE_IPOIB, f, n, TCP_END4(n));
}

static void test_ipnet_family_picks_the_version(void **state)
{
    uint8_t f[256] = {0};
    struct dis_pkt p;
    size_t n;

    f[0] = 1, f[1] = 26; /* Solaris AF_INET6 */
    n = 24 + dg6(f + 24);
    assert_int_equal(dec(DIS_LINKTYPE_IPNET, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_every_cut(DIS_LINKTYPE_IPNET, f, n, n - T_PAYLEN);
    f[1] = 2;
    n = 24 + dg4(f + 24);
    assert_int_equal(dec(DIS_LINKTYPE_IPNET, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    f[1] = 2, f[24] = 0x60; /* family says IPv4, the bytes are not */
    assert_int_equal(dec(DIS_LINKTYPE_IPNET, f, n, &p), DIS_SKIP_IP_BAD_VERSION);
    f[1] = 7;
    assert_int_equal(dec(DIS_LINKTYPE_IPNET, f, n, &p), DIS_SKIP_NOT_IP);
}

/* NFLOG TLV header in the given byte order. */
static size_t nftlv(uint8_t *o, bool be, uint16_t len, uint16_t type)
{
    if (be) {
        put16(o, len);
        put16(o + 2, type);
    } else {
        o[0] = (uint8_t)len, o[1] = (uint8_t)(len >> 8);
        o[2] = (uint8_t)type, o[3] = (uint8_t)(type >> 8);
    }
    return 4;
}

static void test_nflog_tlvs_either_byte_order_to_the_payload(void **state)
{
    uint8_t f[256];
    struct dis_pkt p;

    for (int be = 0; be < 2; be++) {
        size_t n = 0, d;

        f[n++] = 10; /* AF_INET6 */
        f[n++] = 0;
        n += put16(f + n, 5); /* group */
        n += nftlv(f + n, be, 8, 1); /* NFULA_PACKET_HDR */
        n += put32(f + n, 0x86dd0300);
        n += nftlv(f + n, be, 5, 10); /* NFULA_PREFIX "x\0" padded to 8 */
        memcpy(f + n, "x\0\0\0", 4);
        n += 4;
        d = dg6(f + n + 4);
        n += nftlv(f + n, be, (uint16_t)(4 + d), 9);
        n += d;
        assert_int_equal(dec(DIS_LINKTYPE_NFLOG, f, n, &p), DIS_SKIP_NONE);
        assert_plain(&p, 6);
        assert_every_cut(DIS_LINKTYPE_NFLOG, f, n, n - T_PAYLEN);
        f[0] = 0; /* AF_UNSPEC: the version nibble decides */
        assert_int_equal(dec(DIS_LINKTYPE_NFLOG, f, n, &p), DIS_SKIP_NONE);
        /* No payload TLV at all (logged with --nflog-size 0). */
        assert_int_equal(dec(DIS_LINKTYPE_NFLOG, f, 4 + 8 + 8, &p), DIS_SKIP_NOT_IP);
    }
    /* A TLV length below its own header is malformed. */
    f[4] = 2, f[5] = 0, f[6] = 1, f[7] = 0;
    assert_int_equal(dec(DIS_LINKTYPE_NFLOG, f, 40, &p), DIS_SKIP_LINK_MALFORMED);
}

/* PKTAP header of hlen bytes (little-endian fields) for an inner dlt. */
static size_t pktap(uint8_t *o, uint32_t hlen, uint32_t next, uint32_t dlt)
{
    memset(o, 0, hlen);
    for (int i = 0; i < 4; i++) {
        o[i] = (uint8_t)(hlen >> (8 * i));
        o[4 + i] = (uint8_t)(next >> (8 * i));
        o[8 + i] = (uint8_t)(dlt >> (8 * i));
    }
    memcpy(o + 12, "en0", 3);
    return hlen;
}

static void test_pktap_header_length_and_inner_link_type(void **state)
{
    uint8_t f[512];
    struct dis_pkt p;
    size_t n;

    n = pktap(f, 108, 1, 1);
    n += eth4(f + n, &plain);
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 4);
    assert_int_equal(p.linktype, DIS_LINKTYPE_PKTAP);
    assert_every_cut(DIS_LINKTYPE_PKTAP, f, n, TCP_END4(n));

    n = pktap(f, 156, 1, 12); /* a longer header; DLT_RAW as Apple numbers it */
    n += dg6(f + n);
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_NONE);
    assert_plain(&p, 6);
    assert_every_cut(DIS_LINKTYPE_PKTAP, f, n, n - T_PAYLEN);

    pktap(f, 156, 2, 12); /* not a packet record */
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_NOT_IP);
    pktap(f, 100, 1, 12); /* shorter than struct pktap_header */
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_LINK_MALFORMED);
    pktap(f, 156, 1, 149); /* PKTAP in PKTAP */
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_LINK_MALFORMED);
    pktap(f, 156, 1, 105); /* 802.11 inside: unsupported */
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_LINK_UNSUPPORTED);
    pktap(f, 156, 1, 12);
    f[0] = 0xf0, f[1] = f[2] = f[3] = 0xff; /* header length past everything */
    assert_int_equal(dec(DIS_LINKTYPE_PKTAP, f, n, &p), DIS_SKIP_LINK_TRUNCATED);
}

static void test_tunnel_names_and_new_link_types(void **state)
{
    static const char *const names[] = {"none", "vxlan", "geneve", "gre", "erspan", "ipip", "ipip6"};
    static const struct {
        int lt;
        const char *name;
    } lts[] = {{9, "PPP"},     {50, "PPP_HDLC"},  {104, "C_HDLC"}, {226, "IPNET"},
               {239, "NFLOG"}, {242, "IPOIB"},    {258, "PKTAP"}};

    assert_int_equal(DIS_TUNNEL_COUNT, sizeof(names) / sizeof(names[0]));
    for (int t = 0; t < DIS_TUNNEL_COUNT; t++)
        assert_string_equal(dis_tunnel_name((enum dis_tunnel)t), names[t]);
    assert_string_equal(dis_tunnel_name(DIS_TUNNEL_COUNT), "unknown");
    for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
        assert_true(dis_linktype_supported(lts[i].lt));
        assert_string_equal(dis_linktype_name(lts[i].lt), lts[i].name);
    }
}

static void test_stats_count_tunnelled_and_frame_lengths(void **state)
{
    uint8_t f[512], t[256];
    struct dis_stats s = {0};
    struct dis_frame fr = {.linktype = 1};
    struct dis_pkt p;
    size_t n = underlay4(f, 4, t, dg4(t));

    dis_stats_add(&s, &fr, dec(1, f, n, &p), &p);
    n = eth4(f, &plain);
    dis_stats_add(&s, &fr, dec(1, f, n, &p), &p);
    put16(f + 16, 0);
    dis_stats_add(&s, &fr, dis_decode(1, f, (uint32_t)n, (uint32_t)n, false, &p), &p);
    /* Cut inside the GRE header and inside the inner IPv4 header: the outer
     * IPv4 header was decoded whole, so both count as IPv4 frames. */
    n = underlay4(f, 47, t, gre(t, 0, 0x0800, 0) + dg4(t + 4));
    dis_stats_add(&s, &fr, dis_decode(1, f, 18 + 20 + 2, (uint32_t)n, false, &p), &p);
    dis_stats_add(&s, &fr, dis_decode(1, f, 18 + 20 + 4 + 10, (uint32_t)n, false, &p), &p);
    assert_int_equal(s.tcp, 3);
    assert_int_equal(s.tunnelled, 1);
    assert_int_equal(s.ip_len_from_frame, 1);
    assert_int_equal(s.skipped[DIS_SKIP_LINK_TRUNCATED], 1);
    assert_int_equal(s.skipped[DIS_SKIP_IP_TRUNCATED], 1);
    assert_int_equal(s.ipv4, 5);
}

static void test_skip_names_are_stable(void **state)
{
    assert_string_equal(dis_skip_name(DIS_SKIP_NONE), "none");
    assert_string_equal(dis_skip_name(DIS_SKIP_TCP_BAD_OFFSET), "tcp_bad_offset");
    assert_string_equal(dis_skip_name(DIS_SKIP_FRAG_TCP_INCOMPLETE), "frag_tcp_incomplete");
    assert_string_equal(dis_skip_name(DIS_SKIP_COUNT), "unknown");
    for (int s = 0; s < DIS_SKIP_COUNT; s++)
        assert_non_null(dis_skip_name((enum dis_skip)s));
    assert_string_equal(dis_linktype_name(DIS_LINKTYPE_EN10MB), "EN10MB");
    assert_string_equal(dis_linktype_name(DIS_LINKTYPE_LINUX_SLL2), "LINUX_SLL2");
    assert_null(dis_linktype_name(4242));
    static const int lts[] = {0, 1, 12, 101, 108, 113, 228, 229, 276};
    for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
        assert_true(dis_linktype_supported(lts[i]));
        assert_non_null(dis_linktype_name(lts[i]));
    }
    assert_string_equal(dis_linktype_name(127), "IEEE802_11_RADIOTAP");
    assert_false(dis_linktype_supported(127));
}

static void test_stats_count_frames_ip_tcp_and_skips(void **state)
{
    uint8_t f[256], g[256], udp[8] = {0};
    struct dis_stats s = {0};
    struct dis_frame fr = {.linktype = DIS_LINKTYPE_EN10MB};
    struct dis_pkt p;
    enum dis_skip k;
    size_t n = eth4(f, &plain), m;

    fr.caplen = (uint32_t)n;
    k = dec(DIS_LINKTYPE_EN10MB, f, n, &p);
    dis_stats_add(&s, &fr, k, &p);
    f[n - 1] ^= 1; /* bad TCP checksum */
    k = dec(DIS_LINKTYPE_EN10MB, f, n, &p);
    dis_stats_add(&s, &fr, k, &p);

    m = eth(g, 0x86dd);
    m += ip6(g + m, 17, NULL, 0, udp, 8, false);
    fr.caplen = (uint32_t)m;
    k = dec(DIS_LINKTYPE_EN10MB, g, m, &p);
    dis_stats_add(&s, &fr, k, &p);

    g[14] = 0x60; /* IPv4 link type, IPv6 bytes: header not decoded */
    fr.linktype = DIS_LINKTYPE_IPV4;
    fr.caplen = (uint32_t)(m - 14);
    k = dec(DIS_LINKTYPE_IPV4, g + 14, m - 14, &p);
    dis_stats_add(&s, &fr, k, &p);

    assert_int_equal(s.frames, 4);
    assert_int_equal(s.bytes, 2 * n + m + m - 14);
    assert_int_equal(s.tcp, 2);
    assert_int_equal(s.ipv4, 2);
    assert_int_equal(s.ipv6, 1);
    assert_int_equal(s.bad_tcp_csum, 1);
    assert_int_equal(s.bad_ip_csum, 0);
    assert_int_equal(s.skipped[DIS_SKIP_NOT_TCP], 1);
    assert_int_equal(s.skipped[DIS_SKIP_IP_BAD_VERSION], 1);
    assert_int_equal(s.skipped[DIS_SKIP_NONE], 0);
    assert_int_equal(s.link_count, 2);
    assert_int_equal(s.link[0].linktype, DIS_LINKTYPE_EN10MB);
    assert_int_equal(s.link[0].frames, 3);
    assert_int_equal(s.link[1].linktype, DIS_LINKTYPE_IPV4);
    assert_int_equal(s.link[1].frames, 1);
}

static void test_stats_count_fragments_malformed_options_and_link_overflow(void **state)
{
    uint8_t f[256], seg[128];
    static const uint8_t bad[4] = {2, 0, 0, 0};
    struct dis_stats s = {0};
    struct dis_frame fr = {.linktype = 1};
    struct dis_pkt p;
    struct tcpb t = plain;
    size_t n = eth(f, 0x0800);

    n += ip4(f + n, 6, 0x2000, 0, seg, tcp(seg, &plain));
    dis_stats_add(&s, &fr, dec(1, f, n, &p), &p);
    t.opt = bad;
    t.optlen = 4;
    n = eth4(f, &t);
    dis_stats_add(&s, &fr, dec(1, f, n, &p), &p);
    f[22] ^= 1; /* TTL: bad IP header checksum */
    dis_stats_add(&s, &fr, dec(1, f, n, &p), &p);
    f[22] ^= 1;
    assert_int_equal(s.first_fragments, 1);
    assert_int_equal(s.opt_malformed, 2);
    assert_int_equal(s.bad_ip_csum, 1);

    for (int lt = 1000; lt < 1000 + DIS_MAX_LINKTYPES + 3; lt++) {
        fr.linktype = lt;
        dis_stats_add(&s, &fr, dec(lt, f, n, &p), &p);
    }
    assert_int_equal(s.link_count, DIS_MAX_LINKTYPES);
    assert_int_equal(s.link_other, 4); /* EN10MB + 15 new fill the table; 4 left over */
    assert_int_equal(s.skipped[DIS_SKIP_LINK_UNSUPPORTED], DIS_MAX_LINKTYPES + 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_en10mb_ipv4_decodes_all_fields),
        cmocka_unit_test(test_en10mb_ipv6_decodes_all_fields),
        cmocka_unit_test(test_vlan_tags_keep_first_two_ids_and_count_all),
        cmocka_unit_test(test_vlan_tag_cut_short_is_link_truncated),
        cmocka_unit_test(test_mpls_stack_is_popped_to_ipv4_and_ipv6),
        cmocka_unit_test(test_mpls_inside_vlan_decodes),
        cmocka_unit_test(test_mpls_stack_too_deep_is_link_malformed),
        cmocka_unit_test(test_mpls_pseudowire_payload_is_not_ip),
        cmocka_unit_test(test_mpls_label_cut_short_is_link_truncated),
        cmocka_unit_test(test_pppoe_ipv4_trusts_ip_length_over_pppoe_length),
        cmocka_unit_test(test_pppoe_over_qinq_ipv6_decodes),
        cmocka_unit_test(test_pppoe_lcp_is_not_ip),
        cmocka_unit_test(test_pppoe_bad_version_is_link_malformed),
        cmocka_unit_test(test_pppoe_cut_short_is_link_truncated),
        cmocka_unit_test(test_8023_llc_snap_ipv4_decodes),
        cmocka_unit_test(test_8023_stp_llc_is_not_ip),
        cmocka_unit_test(test_arp_is_not_ip),
        cmocka_unit_test(test_short_ethernet_is_link_truncated),
        cmocka_unit_test(test_linux_sll_ipv4_and_vlan_decode),
        cmocka_unit_test(test_linux_sll_tun_device_decodes),
        cmocka_unit_test(test_linux_sll_netlink_is_not_ip),
        cmocka_unit_test(test_linux_sll_short_is_link_truncated),
        cmocka_unit_test(test_linux_sll2_ipv6_and_vlan_decode),
        cmocka_unit_test(test_null_accepts_both_byte_orders),
        cmocka_unit_test(test_null_unknown_family_is_not_ip),
        cmocka_unit_test(test_loop_is_network_order_only),
        cmocka_unit_test(test_raw_guesses_version_from_nibble),
        cmocka_unit_test(test_ipv4_and_ipv6_link_types_check_version),
        cmocka_unit_test(test_unsupported_link_type_is_skipped),
        cmocka_unit_test(test_ipv4_rejects_zero_and_short_ihl),
        cmocka_unit_test(test_ipv4_rejects_total_length_below_header),
        cmocka_unit_test(test_ipv4_rejects_total_length_beyond_wire),
        cmocka_unit_test(test_ipv4_header_wider_than_wire_is_bad_length),
        cmocka_unit_test(test_ipv4_cut_by_snaplen_is_ip_truncated),
        cmocka_unit_test(test_ipv4_options_are_skipped),
        cmocka_unit_test(test_ipv4_udp_is_not_tcp),
        cmocka_unit_test(test_ipv4_later_fragment_is_skipped),
        cmocka_unit_test(test_ipv4_first_fragment_with_whole_tcp_header_decodes),
        cmocka_unit_test(test_ipv4_first_fragment_without_whole_tcp_header_is_incomplete),
        cmocka_unit_test(test_ethernet_padding_is_not_payload),
        cmocka_unit_test(test_snaplen_cut_keeps_real_payload_len),
        cmocka_unit_test(test_ipv4_checksums_good_and_bad),
        cmocka_unit_test(test_odd_length_segment_checksum_verifies),
        cmocka_unit_test(test_ipv6_checksums_good_and_bad),
        cmocka_unit_test(test_ipv6_extension_chain_is_walked_to_tcp),
        cmocka_unit_test(test_ipv6_long_extension_chain_is_bounded),
        cmocka_unit_test(test_ipv6_extension_chain_past_packet_is_ext_truncated),
        cmocka_unit_test(test_ipv6_later_fragment_is_skipped),
        cmocka_unit_test(test_ipv6_first_fragment_decodes_flagged),
        cmocka_unit_test(test_ipv6_no_next_header_and_udp_are_not_tcp),
        cmocka_unit_test(test_ipv6_bad_payload_lengths),
        cmocka_unit_test(test_tcp_rejects_doff_below_5),
        cmocka_unit_test(test_tcp_rejects_doff_past_segment_end),
        cmocka_unit_test(test_tcp_segment_shorter_than_header_is_bad_offset),
        cmocka_unit_test(test_tcp_cut_in_fixed_header_is_truncated),
        cmocka_unit_test(test_tcp_cut_in_options_keeps_fixed_header),
        cmocka_unit_test(test_option_past_header_end_is_malformed_even_when_cut),
        cmocka_unit_test(test_pure_ack_with_cut_options_skips_checksum),
        cmocka_unit_test(test_tcp_ae_ece_cwr_flags_and_reserved_bits),
        cmocka_unit_test(test_syn_options_mss_ws_sackok_ts),
        cmocka_unit_test(test_sack_blocks_and_timestamps_values),
        cmocka_unit_test(test_sack_with_bad_length_is_malformed),
        cmocka_unit_test(test_option_length_zero_or_one_is_malformed),
        cmocka_unit_test(test_option_length_past_header_end_is_malformed),
        cmocka_unit_test(test_known_option_with_wrong_length_is_malformed),
        cmocka_unit_test(test_tfo_cookie_and_cookie_request),
        cmocka_unit_test(test_unknown_options_are_skipped_by_length),
        cmocka_unit_test(test_eol_ends_options),
        cmocka_unit_test(test_reused_pkt_keeps_nothing_from_previous_frame),
        cmocka_unit_test(test_cuts_inside_each_header_name_the_layer),
        cmocka_unit_test(test_vxlan_inner_tcp_decodes_with_vni_and_inner_vlan),
        cmocka_unit_test(test_vxlan_inner_udp_or_arp_is_skipped_as_such),
        cmocka_unit_test(test_geneve_skips_options_and_carries_ethernet_or_ip),
        cmocka_unit_test(test_gre_key_checksum_sequence_and_payload_kinds),
        cmocka_unit_test(test_erspan_types_one_two_three),
        cmocka_unit_test(test_ip_in_ip_four_combinations),
        cmocka_unit_test(test_tunnels_nest_up_to_the_limit),
        cmocka_unit_test(test_fragmented_tunnels_are_fragment_skips),
        cmocka_unit_test(test_big_tcp_lengths_come_from_the_frame_or_jumbo_option),
        cmocka_unit_test(test_ppp_with_and_without_hdlc_framing),
        cmocka_unit_test(test_cisco_hdlc_and_ipoib_carry_ethertypes),
        cmocka_unit_test(test_ipnet_family_picks_the_version),
        cmocka_unit_test(test_nflog_tlvs_either_byte_order_to_the_payload),
        cmocka_unit_test(test_pktap_header_length_and_inner_link_type),
        cmocka_unit_test(test_tunnel_names_and_new_link_types),
        cmocka_unit_test(test_stats_count_tunnelled_and_frame_lengths),
        cmocka_unit_test(test_skip_names_are_stable),
        cmocka_unit_test(test_stats_count_frames_ip_tcp_and_skips),
        cmocka_unit_test(test_stats_count_fragments_malformed_options_and_link_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
