/*
 * test_zeek.c - unit tests of analyzer/zeek.c (Zeek-compatible conn_state
 * and history).
 *
 * Each test feeds a crafted segment sequence and checks conn_state, history
 * and the originator.  Expected values come from Zeek's baselines (the trace
 * named in the comment, see tests/zeek/expected.tsv) or, where no
 * baseline covers a case (S2, S3, W, I, Q), from the rules of Zeek's
 * conn_state() and history documentation; never from our own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "zeek_int.h"

/* One crafted segment.  dir 0 sent the record's first segment. */
struct step {
    int dir;
    const char *fl; /* S=SYN A=ACK F=FIN R=RST P=PSH */
    uint32_t seq, ack, len;
    bool nocap; /* payload cut by the snaplen (not delivered to the reassembler) */
    bool bad;   /* bad TCP checksum */
    bool win0;  /* zero window advertised */
};

/* Default ports: dir 0 is 40000, dir 1 is 5555 (neither a likely server port). */
struct ports {
    uint16_t p0, p1;
};
static const struct ports plain = {40000, 5555};

static void build(struct dis_pkt *p, const struct step *s, struct ports pt)
{
    memset(p, 0, sizeof *p);
    p->ip_version = 4;
    p->sport = s->dir == 0 ? pt.p0 : pt.p1;
    p->dport = s->dir == 0 ? pt.p1 : pt.p0;
    p->seq = s->seq;
    p->ack = s->ack;
    for (const char *f = s->fl; *f; ++f) {
        switch (*f) {
        case 'S':
            p->tcp_flags |= DIS_TH_SYN;
            break;
        case 'A':
            p->tcp_flags |= DIS_TH_ACK;
            break;
        case 'F':
            p->tcp_flags |= DIS_TH_FIN;
            break;
        case 'R':
            p->tcp_flags |= DIS_TH_RST;
            break;
        case 'P':
            p->tcp_flags |= DIS_TH_PSH;
            break;
        default:
            fail_msg("bad flag %c", *f);
        }
    }
    p->window = s->win0 ? 0 : 65535;
    p->payload_len = s->len;
    p->payload_caplen = s->nocap ? 0 : s->len;
    p->csum = s->bad ? DIS_CSUM_BAD_TCP : DIS_CSUM_GOOD;
    p->hdr_len = 20;
}

static void run(const struct step *st, size_t n, struct ports pt, const char *want_state,
                const char *want_hist, int want_orig)
{
    struct zeek_state z;
    struct dis_pkt p;
    char state[8], hist[TCB_ZEEK_HISTORY_MAX];
    int orig = -1;

    zeek_init(&z);
    for (size_t i = 0; i < n; ++i) {
        build(&p, &st[i], pt);
        zeek_packet(&z, st[i].dir, &p);
    }
    zeek_result(&z, state, hist, &orig);
    assert_string_equal(hist, want_hist);
    if (want_state)
        assert_string_equal(state, want_state);
    assert_int_equal(orig, want_orig);
}

#define RUN(steps, pt, state, hist, orig)                                                          \
    run(steps, sizeof(steps) / sizeof((steps)[0]), pt, state, hist, orig)

/* Client 0 ISN 100, server 1 ISN 500: handshake in three steps. */
#define HANDSHAKE                                                                                  \
    {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},                                         \
        {.dir = 1, .fl = "SA", .seq = 500, .ack = 101, .len = 0},                                  \
    {                                                                                              \
        .dir = 0, .fl = "A", .seq = 101, .ack = 501, .len = 0                                      \
    }

/* http-get.pcap and most ssh-ssh rows: SF ShADadFf. */
static void test_clean_close_is_sf(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 521, .len = 0},
        {.dir = 1, .fl = "FA", .seq = 521, .ack = 112, .len = 0},
        {.dir = 0, .fl = "A", .seq = 112, .ack = 522, .len = 0},
    };
    RUN(s, plain, "SF", "ShADadFf", 0);
}

/* socks.pcap: an attempt of 5 SYNs (same ISN) nobody answers: S0 "S". */
static void test_unanswered_syns_are_s0(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
    };
    RUN(s, plain, "S0", "S", 0);
}

/* RSTs repeat like FINs: only with a new sequence number ("r" twice, not three times). */
static void test_rst_repeats_only_with_new_seq(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 1, .fl = "R", .seq = 501, .ack = 0, .len = 0},
        {.dir = 1, .fl = "R", .seq = 501, .ack = 0, .len = 0},
        {.dir = 1, .fl = "R", .seq = 1501, .ack = 0, .len = 0},
    };
    RUN(s, plain, "RSTR", "ShArr", 0);
}

/* ssh-client-side-half-duplex: SYN, ACK and data from the client only: S0 "SAD". */
static void test_one_sided_client_after_syn_stays_s0(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 30},
        {.dir = 0, .fl = "PA", .seq = 131, .ack = 501, .len = 30},
    };
    RUN(s, plain, "S0", "SAD", 0);
}

/* ssh-client-side-half-duplex and mixed-vlan-mpls: SYN..FIN, no reply: SH "SADF". */
static void test_syn_then_fin_without_reply_is_sh(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 0, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 30},
        {.dir = 0, .fl = "FA", .seq = 131, .ack = 501, .len = 0},
    };
    RUN(s, plain, "SH", "SADF", 0);
}

/* socks.pcap: a lone FIN after the connection was removed: SH "F". */
static void test_lone_fin_is_sh(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "FA", .seq = 3000, .ack = 7000, .len = 0}};
    RUN(s, ((struct ports){53994, 8124}), "SH", "F", 0);
}

/* pop3-pop3.pcap: SYN answered by RST: REJ "Sr". */
static void test_syn_answered_by_rst_is_rej(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
                                    {.dir = 1, .fl = "RA", .seq = 0, .ack = 101, .len = 0}};
    RUN(s, ((struct ports){26242, 110}), "REJ", "Sr", 0);
}

/* ldap-simpleauth.pcap: RSTO "ShADdR". */
static void test_originator_reset_is_rsto(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "RA", .seq = 111, .ack = 521, .len = 0},
    };
    RUN(s, plain, "RSTO", "ShADdR", 0);
}

/* modbus: RSTO "ShR" (reset right after the handshake reply). */
static void test_reset_after_synack_is_rsto(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
                                    {.dir = 1, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
                                    {.dir = 0, .fl = "R", .seq = 101, .ack = 0, .len = 0}};
    RUN(s, ((struct ports){60293, 502}), "RSTO", "ShR", 0);
}

/* tls-https-to-http.pcap: RSTO "ShADadfR" (responder's FIN, originator's RST). */
static void test_reset_after_responder_fin_is_rsto(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 1, .fl = "FA", .seq = 521, .ack = 111, .len = 0},
        {.dir = 0, .fl = "RA", .seq = 111, .ack = 522, .len = 0},
    };
    RUN(s, plain, "RSTO", "ShADadfR", 0);
}

/* ldap-ctu-sme-11: RSTR "ShADdFar" (client FIN, server ACK then RST). */
static void test_responder_reset_after_fin_is_rstr(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 521, .len = 0},
        {.dir = 1, .fl = "A", .seq = 521, .ack = 112, .len = 0},
        {.dir = 1, .fl = "RA", .seq = 521, .ack = 112, .len = 0},
    };
    RUN(s, plain, "RSTR", "ShADdFar", 0);
}

/* http-to-ssh.pcap: RSTR "ShADadFr". */
static void test_responder_reset_is_rstr(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 521, .len = 0},
        {.dir = 1, .fl = "R", .seq = 521, .ack = 0, .len = 0},
    };
    RUN(s, plain, "RSTR", "ShADadFr", 0);
}

/* tcp-syn-then-rst.pcap: RSTOS0 "SR". */
static void test_syn_then_own_rst_is_rstos0(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
                                    {.dir = 0, .fl = "R", .seq = 101, .ack = 0, .len = 0}};
    RUN(s, plain, "RSTOS0", "SR", 0);
}

/* tcp-syn-then-ack-then-rst.pcap: RSTOS0 "SaR" (a bare ACK from the responder). */
static void test_syn_ack_from_peer_then_rst_is_rstos0(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
                                    {.dir = 1, .fl = "A", .seq = 500, .ack = 101, .len = 0},
                                    {.dir = 0, .fl = "R", .seq = 101, .ack = 0, .len = 0}};
    RUN(s, plain, "RSTOS0", "SaR", 0);
}

/* tcp-syn-then-stuff-then-rst.pcap: OTH "SaFR" (an F before the R breaks RSTOS0). */
static void test_syn_fin_rst_without_reply_is_oth(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 1, .fl = "A", .seq = 500, .ack = 101, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 101, .ack = 501, .len = 0},
        {.dir = 0, .fl = "R", .seq = 102, .ack = 0, .len = 0},
    };
    RUN(s, plain, "OTH", "SaFR", 0);
}

/* tcp-single-rst.pcap: OTH "R". */
static void test_single_rst_is_oth(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "R", .seq = 100, .ack = 0, .len = 0}};
    RUN(s, plain, "OTH", "R", 0);
}

/* modbus (port reuse after a reset): RSTRH "Dr" (data, then the responder's RST). */
static void test_midstream_data_then_responder_rst_is_rstrh(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "PA", .seq = 1000, .ack = 5000, .len = 109},
                                    {.dir = 1, .fl = "R", .seq = 5000, .ack = 0, .len = 0}};
    RUN(s, ((struct ports){60293, 502}), "RSTRH", "Dr", 0);
}

/* wikipedia.pcap: midstream OTH "DdA". */
static void test_midstream_is_oth(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "PA", .seq = 1000, .ack = 5000, .len = 400},
        {.dir = 1, .fl = "PA", .seq = 5000, .ack = 1400, .len = 350},
        {.dir = 0, .fl = "A", .seq = 1400, .ack = 5350, .len = 0},
    };
    RUN(s, ((struct ports){35634, 80}), "OTH", "DdA", 0);
}

/* ssh-ssh.pcap: midstream, both FINs: SF "DaFfA". */
static void test_midstream_with_both_fins_is_sf(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "PA", .seq = 1000, .ack = 5000, .len = 76},
        {.dir = 1, .fl = "A", .seq = 5000, .ack = 1076, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 1076, .ack = 5000, .len = 0},
        {.dir = 1, .fl = "FA", .seq = 5000, .ack = 1077, .len = 0},
        {.dir = 0, .fl = "A", .seq = 1077, .ack = 5001, .len = 0},
    };
    RUN(s, ((struct ports){51476, 8118}), "SF", "DaFfA", 0);
}

/* wikipedia.pcap: established, not closed when the trace ends: S1 "ShADad". */
static void test_open_at_end_is_s1(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
    };
    RUN(s, ((struct ports){49996, 80}), "S1", "ShADad", 0);
}

/* conn_state rule: originator closed, responder established: S2. */
static void test_only_originator_closed_is_s2(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 521, .len = 0},
    };
    RUN(s, plain, "S2", "ShADdF", 0);
}

/* conn_state rule: responder closed, originator established: S3. */
static void test_only_responder_closed_is_s3(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 1, .fl = "FA", .seq = 521, .ack = 111, .len = 0},
    };
    RUN(s, plain, "S3", "ShADdf", 0);
}

/* tls-xmpp-starttls.pcap: a RST after both FINs keeps SF: "ShADadfFr". */
static void test_rst_after_both_fins_stays_sf(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 1, .fl = "FA", .seq = 521, .ack = 111, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 522, .len = 0},
        {.dir = 1, .fl = "R", .seq = 522, .ack = 0, .len = 0},
    };
    RUN(s, ((struct ports){56048, 5222}), "SF", "ShADadfFr", 0);
}

/* ftp-ipv6.pcap data connection: SF "ShAdfFa". */
static void test_responder_sends_and_closes_first(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 101, .len = 342},
        {.dir = 1, .fl = "FA", .seq = 843, .ack = 101, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 101, .ack = 844, .len = 0},
        {.dir = 1, .fl = "A", .seq = 844, .ack = 102, .len = 0},
    };
    RUN(s, ((struct ports){49186, 57086}), "SF", "ShAdfFa", 0);
}

/* tcp-one-sided-2745.pcap: SYN/ACK, ACK, FIN/ACK of the server only: "^haf". */
static void test_synack_then_ack_same_side_flips(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 0, .fl = "A", .seq = 501, .ack = 101, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 501, .ack = 101, .len = 0},
    };
    /* the SYN/ACK's sender (dir 0) becomes the responder */
    RUN(s, ((struct ports){1433, 2745}), "SHR", "^haf", 1);
}

/* tcp-ctu-64702-888.pcap: "^hAfdtFr" (flip on the client's ACK). */
static void test_synack_then_peer_ack_flips(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 1, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 501, .ack = 101, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 101, .len = 10},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 101, .len = 10},
        {.dir = 1, .fl = "FA", .seq = 101, .ack = 502, .len = 0},
        {.dir = 0, .fl = "R", .seq = 502, .ack = 0, .len = 0},
    };
    RUN(s, ((struct ports){888, 64702}), NULL, "^hAfdtFr", 1);
}

/* tcp-http-on-irc-port-missing-syn: 80 and 6669 both likely, so no flip at creation. */
static void test_synack_both_ports_likely_flips_on_ack(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 1, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 101, .ack = 501, .len = 136},
        {.dir = 0, .fl = "A", .seq = 501, .ack = 237, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 237, .len = 50},
        {.dir = 1, .fl = "FA", .seq = 237, .ack = 551, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 551, .ack = 238, .len = 0},
        {.dir = 1, .fl = "A", .seq = 238, .ack = 552, .len = 0},
    };
    RUN(s, ((struct ports){80, 6669}), "SF", "^hADadFf", 1);
}

/* tcp-missing-syn.pcap: SYN/ACK from port 80 is flipped at creation: "^hADdFaf". */
static void test_synack_from_server_port_flips_at_creation(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 1, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 101, .ack = 501, .len = 98},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 199, .len = 100},
        {.dir = 1, .fl = "FA", .seq = 199, .ack = 601, .len = 0},
        {.dir = 0, .fl = "A", .seq = 601, .ack = 200, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 601, .ack = 200, .len = 0},
        {.dir = 1, .fl = "A", .seq = 200, .ack = 602, .len = 0},
    };
    RUN(s, ((struct ports){80, 56730}), "SF", "^hADdFaf", 1);
}

/* wikipedia.pcap (full zeek -r): a lone SYN/ACK from port 80: OTH "^h". */
static void test_lone_synack_from_server_port(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0}};
    RUN(s, ((struct ports){80, 6705}), "OTH", "^h", 1);
}

/* With no likely port a lone SYN/ACK stays "H" (zeek -b view of the same row). */
static void test_lone_synack_unknown_ports_stays_h(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0}};
    RUN(s, plain, "OTH", "H", 0);
}

/* mpls-in-vlan.pcap: one data packet from port 80: OTH "^d". */
static void test_midstream_from_server_port_flips(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "PA", .seq = 7000, .ack = 3000, .len = 100}};
    RUN(s, ((struct ports){80, 32828}), "OTH", "^d", 1);
}

/* krb-optional-service-name.pcap: S1 "^hADd". */
static void test_synack_first_then_handshake_ack_is_s1(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 1, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 101, .ack = 501, .len = 110},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 211, .len = 90},
    };
    RUN(s, ((struct ports){88, 43792}), "S1", "^hADd", 1);
}

/* ssh-server-side-half-duplex: only the server's packets: SHR "^hdaf". */
static void test_server_side_only_is_shr(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 101, .len = 40},
        {.dir = 0, .fl = "A", .seq = 541, .ack = 150, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 541, .ack = 150, .len = 0},
    };
    RUN(s, ((struct ports){22, 51880}), "SHR", "^hdaf", 1);
}

/* tcp-handshake-reorder.pcap (zeek -b, no likely ports): "Hs^ADadFf". */
static void test_syn_after_synack_flips_mid_history(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "SA", .seq = 500, .ack = 101, .len = 0},
        {.dir = 1, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 1, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 0, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 0, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 1, .fl = "FA", .seq = 111, .ack = 521, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 521, .ack = 112, .len = 0},
        {.dir = 1, .fl = "A", .seq = 112, .ack = 522, .len = 0},
    };
    RUN(s, ((struct ports){9080, 59856}), "SF", "Hs^ADadFf", 1);
}

/* Retransmissions are logarithmic: 9 give one T, 10 give two (tcp-ssh-dups). */
static void test_nine_retransmissions_one_t(void **st)
{
    (void)st;
    struct step s[4 + 9] = {HANDSHAKE, {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10}};
    for (int i = 4; i < 13; ++i)
        s[i] = (struct step){.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10};
    RUN(s, plain, "S1", "ShADT", 0);
}

static void test_ten_retransmissions_two_t(void **st)
{
    (void)st;
    struct step s[4 + 10] = {HANDSHAKE, {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10}};
    for (int i = 4; i < 14; ++i)
        s[i] = (struct step){.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10};
    RUN(s, plain, "S1", "ShADTT", 0);
}

/* http-connect-with-smtp.pcap: t and T, then SF "ShADadtTfF". */
static void test_retransmissions_both_ways(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 111, .len = 20},
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 521, .len = 10},
        {.dir = 1, .fl = "FA", .seq = 521, .ack = 111, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 111, .ack = 522, .len = 0},
        {.dir = 1, .fl = "A", .seq = 522, .ack = 112, .len = 0},
    };
    RUN(s, plain, "SF", "ShADadtTfF", 0);
}

/* socks.pcap-like FIN retransmissions: same seq adds nothing, a new seq adds f. */
static void test_fin_repeats_only_with_new_seq(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 1, .fl = "FA", .seq = 501, .ack = 101, .len = 0},
        {.dir = 1, .fl = "FA", .seq = 501, .ack = 101, .len = 0},
        {.dir = 1, .fl = "FA", .seq = 502, .ack = 101, .len = 0},
    };
    RUN(s, plain, "S3", "ShAff", 0);
}

/* tcp-syn-bad.pcap: a SYN with a bad checksum: OTH "C", nothing else. */
static void test_bad_checksum_syn_is_c(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0, .bad = true}};
    RUN(s, plain, "OTH", "C", 0);
}

/* Bad checksums are logarithmic and change no state: 10 of them give "CC". */
static void test_ten_bad_checksums_two_c(void **st)
{
    (void)st;
    struct step s[10];
    for (int i = 0; i < 10; ++i)
        s[i] = (struct step){.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0, .bad = true};
    RUN(s, plain, "OTH", "CC", 0);
}

/* chksums-localhost-bad-chksum: the client's segments are all bad, the server's fine. */
static void test_bad_client_checksums_lower_c_for_responder(void **st)
{
    (void)st;
    static const struct step s[] = {
        {.dir = 0, .fl = "S", .seq = 100, .ack = 0, .len = 0},
        {.dir = 1, .fl = "SA", .seq = 500, .ack = 101, .len = 0, .bad = true},
        {.dir = 0, .fl = "A", .seq = 101, .ack = 501, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 101, .len = 5, .bad = true},
    };
    RUN(s, plain, "S0", "ScA", 0);
}

/* tcp-miss_end_data.pcap: the ACK of the FIN reveals unseen data: SF "ShADafgF". */
static void test_acked_unseen_data_is_gap(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 100},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 201, .len = 0},
        {.dir = 1,
         .fl = "FA",
         .seq = 3403,
         .ack = 201,
         .len = 0}, /* 2902 bytes of the response never captured */
        {.dir = 0, .fl = "A", .seq = 201, .ack = 3404, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 201, .ack = 3404, .len = 0},
        {.dir = 1, .fl = "A", .seq = 3404, .ack = 202, .len = 0},
    };
    RUN(s, ((struct ports){60648, 80}), "SF", "ShADafgF", 0);
}

/* tcp-retransmit-fast009.pcap: payload stripped, so every ACKed byte is a gap. */
static void test_stripped_payload_gaps_both_ways(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 100, .nocap = true},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 201, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 201, .len = 50, .nocap = true},
        {.dir = 0, .fl = "A", .seq = 201, .ack = 551, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 201, .len = 50, .nocap = true},
        {.dir = 0, .fl = "R", .seq = 201, .ack = 0, .len = 0},
    };
    RUN(s, ((struct ports){50368, 80}), "RSTO", "ShADaGdgtR", 0);
}

/* A segment reordered at the tap is buffered, not a gap (Zeek still calls it a T:
 * its end lies below the highest sequence number seen). */
static void test_reordered_segment_is_no_gap(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 111, .ack = 501, .len = 10},
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 121, .len = 0},
    };
    RUN(s, plain, "S1", "ShADTa", 0);
}

/* No G for a connection that is not cleanly established (here: after the RST). */
static void test_gap_revealed_by_rst_is_not_flagged(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 1, .fl = "RA", .seq = 501, .ack = 301, .len = 0},
    };
    RUN(s, plain, "RSTR", "ShAr", 0);
}

/* History rules: SYN+FIN is Q, FIN+RST is I, each at most once per side. */
static void test_syn_fin_is_q(void **st)
{
    (void)st;
    static const struct step s[] = {{.dir = 0, .fl = "SF", .seq = 100, .ack = 0, .len = 0},
                                    {.dir = 0, .fl = "SF", .seq = 100, .ack = 0, .len = 0}};
    RUN(s, plain, "SH", "Q", 0);
}

static void test_fin_rst_is_i(void **st)
{
    (void)st;
    static const struct step s[] = {HANDSHAKE,
                                    {.dir = 1, .fl = "FRA", .seq = 501, .ack = 101, .len = 0}};
    RUN(s, plain, "RSTR", "ShAi", 0);
}

/* W: a zero window, logarithmic; none once the peer has closed. */
static void test_zero_window_is_w(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0, .win0 = true},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 111, .len = 0, .win0 = true},
    };
    RUN(s, plain, "S1", "ShADaw", 0);
}

/* a, d only once per side, however many. */
static void test_ack_and_data_once_per_side(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 501, .len = 10},
        {.dir = 0, .fl = "PA", .seq = 111, .ack = 501, .len = 10},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 121, .len = 0},
        {.dir = 1, .fl = "A", .seq = 501, .ack = 121, .len = 0},
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 121, .len = 5},
        {.dir = 1, .fl = "PA", .seq = 506, .ack = 121, .len = 5},
    };
    RUN(s, plain, "S1", "ShADad", 0);
}

/* pop3-pop3.pcap: the server speaks first: SF "ShAdDafF". */
static void test_server_speaks_first(void **st)
{
    (void)st;
    static const struct step s[] = {
        HANDSHAKE,
        {.dir = 1, .fl = "PA", .seq = 501, .ack = 101, .len = 40},
        {.dir = 0, .fl = "PA", .seq = 101, .ack = 541, .len = 6},
        {.dir = 1, .fl = "A", .seq = 541, .ack = 107, .len = 0},
        {.dir = 1, .fl = "FA", .seq = 541, .ack = 107, .len = 0},
        {.dir = 0, .fl = "FA", .seq = 107, .ack = 542, .len = 0},
        {.dir = 1, .fl = "A", .seq = 542, .ack = 108, .len = 0},
    };
    RUN(s, ((struct ports){26272, 110}), "SF", "ShAdDafF", 0);
}

/* Truncation: the history never overflows the caller's buffer. */
static void test_long_history_is_truncated(void **st)
{
    (void)st;
    struct zeek_state z;
    struct dis_pkt p;
    char state[8], hist[TCB_ZEEK_HISTORY_MAX];
    int orig;

    zeek_init(&z);
    for (uint32_t i = 0; i < 200; ++i) { /* FINs, each at a new sequence number */
        struct step s = {.dir = 0, .fl = "FA", .seq = 100 + i * 7, .ack = 500, .len = 0};
        build(&p, &s, plain);
        zeek_packet(&z, 0, &p);
    }
    zeek_result(&z, state, hist, &orig);
    assert_true(strlen(hist) < TCB_ZEEK_HISTORY_MAX);
    assert_true(strlen(hist) > 10);
    assert_string_equal(state, "SH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_close_is_sf),
        cmocka_unit_test(test_unanswered_syns_are_s0),
        cmocka_unit_test(test_rst_repeats_only_with_new_seq),
        cmocka_unit_test(test_one_sided_client_after_syn_stays_s0),
        cmocka_unit_test(test_syn_then_fin_without_reply_is_sh),
        cmocka_unit_test(test_lone_fin_is_sh),
        cmocka_unit_test(test_syn_answered_by_rst_is_rej),
        cmocka_unit_test(test_originator_reset_is_rsto),
        cmocka_unit_test(test_reset_after_synack_is_rsto),
        cmocka_unit_test(test_reset_after_responder_fin_is_rsto),
        cmocka_unit_test(test_responder_reset_after_fin_is_rstr),
        cmocka_unit_test(test_responder_reset_is_rstr),
        cmocka_unit_test(test_syn_then_own_rst_is_rstos0),
        cmocka_unit_test(test_syn_ack_from_peer_then_rst_is_rstos0),
        cmocka_unit_test(test_syn_fin_rst_without_reply_is_oth),
        cmocka_unit_test(test_single_rst_is_oth),
        cmocka_unit_test(test_midstream_data_then_responder_rst_is_rstrh),
        cmocka_unit_test(test_midstream_is_oth),
        cmocka_unit_test(test_midstream_with_both_fins_is_sf),
        cmocka_unit_test(test_open_at_end_is_s1),
        cmocka_unit_test(test_only_originator_closed_is_s2),
        cmocka_unit_test(test_only_responder_closed_is_s3),
        cmocka_unit_test(test_rst_after_both_fins_stays_sf),
        cmocka_unit_test(test_responder_sends_and_closes_first),
        cmocka_unit_test(test_synack_then_ack_same_side_flips),
        cmocka_unit_test(test_synack_then_peer_ack_flips),
        cmocka_unit_test(test_synack_both_ports_likely_flips_on_ack),
        cmocka_unit_test(test_synack_from_server_port_flips_at_creation),
        cmocka_unit_test(test_lone_synack_from_server_port),
        cmocka_unit_test(test_lone_synack_unknown_ports_stays_h),
        cmocka_unit_test(test_midstream_from_server_port_flips),
        cmocka_unit_test(test_synack_first_then_handshake_ack_is_s1),
        cmocka_unit_test(test_server_side_only_is_shr),
        cmocka_unit_test(test_syn_after_synack_flips_mid_history),
        cmocka_unit_test(test_nine_retransmissions_one_t),
        cmocka_unit_test(test_ten_retransmissions_two_t),
        cmocka_unit_test(test_retransmissions_both_ways),
        cmocka_unit_test(test_fin_repeats_only_with_new_seq),
        cmocka_unit_test(test_bad_checksum_syn_is_c),
        cmocka_unit_test(test_ten_bad_checksums_two_c),
        cmocka_unit_test(test_bad_client_checksums_lower_c_for_responder),
        cmocka_unit_test(test_acked_unseen_data_is_gap),
        cmocka_unit_test(test_stripped_payload_gaps_both_ways),
        cmocka_unit_test(test_reordered_segment_is_no_gap),
        cmocka_unit_test(test_gap_revealed_by_rst_is_not_flagged),
        cmocka_unit_test(test_syn_fin_is_q),
        cmocka_unit_test(test_fin_rst_is_i),
        cmocka_unit_test(test_zero_window_is_w),
        cmocka_unit_test(test_ack_and_data_once_per_side),
        cmocka_unit_test(test_server_speaks_first),
        cmocka_unit_test(test_long_history_is_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
