/*
 * test_tcb.c - the TCB engine on crafted segment sequences, one test per
 * corner of RFC 9293 the engine must get right.  Expected states and
 * classifications come from the RFC's state diagram (§3.3.2, Figures 6-13),
 * never from the engine's own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcb.h"

#define C 0 /* client sends */
#define S 1 /* server sends */
#define SYN DIS_TH_SYN
#define ACK DIS_TH_ACK
#define FIN DIS_TH_FIN
#define RST DIS_TH_RST
#define PSH DIS_TH_PSH
#define MS 1000000ULL
#define SEC 1000000000ULL

/* What the engine emitted: a copy of each connection with its timeline. */
struct got {
    struct tcb_conn_info c;
    struct tcb_event ev[32];
    struct tcb_anom an[8];
};

struct fx {
    struct tcb_table *t;
    struct got out[16];
    int n;
    uint64_t frame;
    uint64_t base_ns;
    uint16_t cport, sport;
    uint8_t caddr[16], saddr[16];
};

static int collect(void *ctx, const struct tcb_conn_info *c)
{
    struct fx *f = ctx;
    assert_true(f->n < 16);
    struct got *g = &f->out[f->n++];
    g->c = *c;
    assert_true(c->event_count <= 32);
    memcpy(g->ev, c->events, c->event_count * sizeof(*c->events));
    memcpy(g->an, c->anomalies, (c->anomaly_count > 8 ? 8 : c->anomaly_count) * sizeof(*g->an));
    g->c.events = g->ev;
    g->c.anomalies = g->an;
    return 0;
}

/* A fixture with the given engine settings (NULL: the defaults). */
static struct fx *fx_new_with(const struct tcb_config *base)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct tcb_config cfg;
    tcb_config_default(&cfg);
    if (base)
        cfg = *base;
    cfg.seed_set = true;
    cfg.hash_seed = 42;
    struct tcb_output out = {f, collect};
    char err[TCBS_ERRLEN];
    assert_int_equal(tcb_table_new(&f->t, &cfg, &out, err), 0);
    f->base_ns = 1700000000ULL * SEC;
    f->cport = 40000;
    f->sport = 80;
    f->caddr[0] = 10, f->caddr[3] = 1;
    f->saddr[0] = 10, f->saddr[3] = 2;
    return f;
}

static struct fx *fx_new(void)
{
    return fx_new_with(NULL);
}

static void fx_free(struct fx *f)
{
    tcb_table_free(f->t);
    free(f);
}

/* One segment from dir at t_ms milliseconds into the capture. */
static void seg_opt(struct fx *f, int dir, uint16_t flags, uint32_t seq, uint32_t ack,
                    uint32_t len, double t_ms, uint16_t win, const struct dis_tcp_opts *opt)
{
    struct dis_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = f->base_ns + (uint64_t)(t_ms * 1e6);
    p.frame = ++f->frame;
    p.ip_version = 4;
    memcpy(p.src, dir == C ? f->caddr : f->saddr, 16);
    memcpy(p.dst, dir == C ? f->saddr : f->caddr, 16);
    p.sport = dir == C ? f->cport : f->sport;
    p.dport = dir == C ? f->sport : f->cport;
    p.seq = seq;
    p.ack = ack;
    p.tcp_flags = flags;
    p.payload_len = len;
    p.ip_len = 40 + len; /* 20 bytes of IPv4 and 20 of TCP header */
    p.window = win;
    if (opt)
        p.opt = *opt;
    assert_int_equal(tcb_packet(f->t, &p), 0);
}

static void seg(struct fx *f, int dir, uint16_t flags, uint32_t seq, uint32_t ack, uint32_t len,
                double t_ms)
{
    seg_opt(f, dir, flags, seq, ack, len, t_ms, 65000, NULL);
}

static void finish(struct fx *f)
{
    assert_int_equal(tcb_finish(f->t), 0);
}

/* The endpoint's chain of states, e.g. "CLOSED SYN-SENT ESTABLISHED". */
static void chain(const struct got *g, int ep, char *buf, size_t n)
{
    buf[0] = 0;
    bool first = true;
    for (uint32_t i = 0; i < g->c.event_count; i++) {
        const struct tcb_event *e = &g->ev[i];
        if (e->endpoint != ep)
            continue;
        if (first) {
            strncat(buf, tcb_state_name(e->from), n - strlen(buf) - 1);
            first = false;
        }
        strncat(buf, " ", n - strlen(buf) - 1);
        strncat(buf, tcb_state_name(e->to), n - strlen(buf) - 1);
    }
}

static void assert_chain(const struct got *g, int ep, const char *want)
{
    char buf[512];
    chain(g, ep, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static bool has_cause(const struct got *g, int ep, enum tcb_cause c, enum tcb_state to)
{
    for (uint32_t i = 0; i < g->c.event_count; i++)
        if (g->ev[i].endpoint == ep && g->ev[i].cause == c && g->ev[i].to == to)
            return true;
    return false;
}

static bool has_anomaly(const struct got *g, enum tcb_anomaly a)
{
    for (uint32_t i = 0; i < g->c.anomaly_count && i < 8; i++)
        if (g->an[i].kind == a)
            return true;
    return false;
}

#define ASSERT_WORDS(g, ok, co, so, hs, ck)                                                        \
    do {                                                                                           \
        assert_string_equal(tcb_open_kind_name((g)->c.open_kind), ok);                             \
        assert_string_equal(tcb_ep_open_name((g)->c.client_open), co);                             \
        assert_string_equal(tcb_ep_open_name((g)->c.server_open), so);                             \
        assert_string_equal(tcb_handshake_name((g)->c.handshake), hs);                             \
        assert_string_equal(tcb_close_kind_name((g)->c.close_kind), ck);                           \
    } while (0)

#define ASSERT_FINAL(g, cs, ss)                                                                    \
    do {                                                                                           \
        assert_string_equal(tcb_state_name((g)->c.client_final_state), cs);                        \
        assert_string_equal(tcb_state_name((g)->c.server_final_state), ss);                        \
    } while (0)

/* Client ISN 1000, server ISN 5000; a 3-way handshake at 0/1/2 ms. */
static void handshake(struct fx *f)
{
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, C, ACK, 1001, 5001, 0, 2);
}

/* RFC 9293 Figure 6 then Figure 12: client closes first. */
static void test_plain_open_client_closes_first(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK | PSH, 1001, 5001, 100, 3);
    seg(f, S, ACK | PSH, 5001, 1101, 2000, 4);
    seg(f, C, ACK, 1101, 7001, 0, 5);
    seg(f, C, FIN | ACK, 1101, 7001, 0, 6);
    seg(f, S, ACK, 7001, 1102, 0, 7);
    seg(f, S, FIN | ACK, 7001, 1102, 0, 8);
    seg(f, C, ACK, 1102, 7002, 0, 9);
    finish(f);
    assert_int_equal(f->n, 1);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "active_passive", "active", "passive", "complete", "active_client");
    ASSERT_FINAL(g, "TIME-WAIT", "CLOSED");
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT");
    assert_chain(g, S, "LISTEN SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");
    assert_true(has_cause(g, C, TCB_CAUSE_SND_SYN, TCB_SYN_SENT));
    assert_true(has_cause(g, S, TCB_CAUSE_RCV_SYN, TCB_SYN_RECEIVED));
    assert_true(has_cause(g, C, TCB_CAUSE_RCV_SYNACK, TCB_ESTABLISHED));
    assert_true(has_cause(g, S, TCB_CAUSE_RCV_ACK_OF_SYN, TCB_ESTABLISHED));
    assert_true(has_cause(g, S, TCB_CAUSE_RCV_ACK_OF_FIN, TCB_CLOSED));
    assert_int_equal(g->c.data_bytes[C], 100);
    assert_int_equal(g->c.data_bytes[S], 2000);
    assert_int_equal(g->c.packets[C], 6); /* SYN, ACK, data, ACK, FIN, ACK */
    assert_int_equal(g->c.packets[S], 4);
    assert_int_equal(g->c.syn_ns, f->base_ns);
    assert_int_equal(g->c.synack_ns, f->base_ns + 1 * MS);
    assert_int_equal(g->c.ack_ns, f->base_ns + 2 * MS);
    assert_int_equal(g->c.incarnation, 1);
    assert_int_equal(g->c.id, 1);
    /* Frame numbers of the events: the SYN is frame 1, the final ACK frame 10. */
    assert_int_equal(g->ev[0].frame, 1);
    assert_int_equal(g->ev[g->c.event_count - 1].frame, 10);
    fx_free(f);
}

static void test_server_closes_first(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK | PSH, 1001, 5001, 10, 3);
    seg(f, S, FIN | ACK | PSH, 5001, 1011, 50, 4);
    seg(f, C, ACK, 1011, 5052, 0, 5);
    seg(f, C, FIN | ACK, 1011, 5052, 0, 6);
    seg(f, S, ACK, 5052, 1012, 0, 7);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "active_passive", "active", "passive", "complete", "active_server");
    ASSERT_FINAL(g, "CLOSED", "TIME-WAIT");
    assert_chain(g, S, "LISTEN SYN-RECEIVED ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT");
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");
    assert_int_equal(g->c.data_bytes[S], 50);
    fx_free(f);
}

/* RFC 9293 Figure 8: crossing SYNs. */
static void test_crossing_syns_are_simultaneous(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    f->sport = 5001;
    f->cport = 5000;
    seg(f, C, SYN, 100, 0, 0, 0);
    seg(f, S, SYN, 300, 0, 0, 1);
    seg(f, C, SYN | ACK, 100, 301, 0, 2);
    seg(f, S, SYN | ACK, 300, 101, 0, 3);
    seg(f, C, ACK, 101, 301, 0, 4);
    finish(f);
    assert_int_equal(f->n, 1);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "simultaneous", "simultaneous", "simultaneous", "complete", "open");
    ASSERT_FINAL(g, "ESTABLISHED", "ESTABLISHED");
    assert_chain(g, C, "CLOSED SYN-SENT SYN-RECEIVED ESTABLISHED");
    assert_chain(g, S, "CLOSED SYN-SENT SYN-RECEIVED ESTABLISHED");
    fx_free(f);
}

/* RFC 9293 Figure 13: FINs cross; both go FIN-WAIT-1 -> CLOSING -> TIME-WAIT. */
static void test_crossing_fins_are_simultaneous_close(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 10);
    seg(f, S, FIN | ACK, 5001, 1001, 0, 10.1);
    seg(f, C, ACK, 1002, 5002, 0, 11);
    seg(f, S, ACK, 5002, 1002, 0, 11.1);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "active_passive", "active", "passive", "complete", "simultaneous");
    ASSERT_FINAL(g, "TIME-WAIT", "TIME-WAIT");
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED FIN-WAIT-1 CLOSING TIME-WAIT");
    assert_chain(g, S, "LISTEN SYN-RECEIVED ESTABLISHED FIN-WAIT-1 CLOSING TIME-WAIT");
    fx_free(f);
}

static void test_rst_answering_syn_is_refused(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, RST | ACK, 0, 1001, 0, 0.1);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "none", "active", "unknown", "refused", "refused");
    ASSERT_FINAL(g, "CLOSED", "CLOSED");
    assert_chain(g, C, "CLOSED SYN-SENT CLOSED");
    assert_true(has_cause(g, C, TCB_CAUSE_RCV_RST, TCB_CLOSED));
    assert_false(g->c.have & TCB_HAVE_SYNACK);
    fx_free(f);
}

/* A Windows client retries a refused connect with the same ISN: one record. */
static void test_refused_retries_same_isn_are_one_record(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    for (int i = 0; i < 3; i++) {
        seg(f, C, SYN, 1000, 0, 0, i * 500.0);
        seg(f, S, RST | ACK, 0, 1001, 0, i * 500.0 + 0.1);
    }
    finish(f);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->out[0].c.syn_retransmits, 2);
    assert_string_equal(tcb_handshake_name(f->out[0].c.handshake), "refused");
    fx_free(f);
}

static void test_unanswered_syn_counts_retransmits(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, C, SYN, 1000, 0, 0, 1000);
    seg(f, C, SYN, 1000, 0, 0, 3000);
    finish(f);
    assert_int_equal(f->n, 1);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "none", "active", "unknown", "unanswered", "none");
    assert_string_equal(tcb_state_name(g->c.client_final_state), "SYN-SENT");
    assert_int_equal(g->c.syn_retransmits, 2);
    assert_int_equal(g->c.syn_ns, f->base_ns);
    assert_chain(g, C, "CLOSED SYN-SENT");
    fx_free(f);
}

static void test_rst_abort_by_client(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK | PSH, 1001, 5001, 100, 3);
    seg(f, S, ACK, 5001, 1101, 0, 4);
    seg(f, C, RST | ACK, 1101, 5001, 0, 5);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "active_passive", "active", "passive", "complete", "reset_client");
    ASSERT_FINAL(g, "CLOSED", "CLOSED");
    assert_true(has_cause(g, C, TCB_CAUSE_SND_RST, TCB_CLOSED));
    assert_true(has_cause(g, S, TCB_CAUSE_RCV_RST, TCB_CLOSED));
    fx_free(f);
}

/* RFC 5961 §3: an RST outside the window changes nothing. */
static void test_rst_out_of_window_is_anomaly_only(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, S, RST, 5001 + 10000000, 0, 0, 3);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_FINAL(g, "ESTABLISHED", "ESTABLISHED");
    assert_string_equal(tcb_close_kind_name(g->c.close_kind), "open");
    assert_true(has_anomaly(g, TCB_ANOM_RST_OUT_OF_WINDOW));
    fx_free(f);
}

static void test_half_close_keeps_data_flowing(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, FIN | ACK | PSH, 1001, 5001, 100, 3);
    seg(f, S, ACK, 5001, 1102, 0, 4);
    seg(f, S, ACK | PSH, 5001, 1102, 1000, 5);
    seg(f, C, ACK, 1102, 6001, 0, 6);
    seg(f, S, ACK | PSH, 6001, 1102, 1000, 7);
    seg(f, C, ACK, 1102, 7001, 0, 8);
    seg(f, S, FIN | ACK, 7001, 1102, 0, 9);
    seg(f, C, ACK, 1102, 7002, 0, 10);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "active_passive", "active", "passive", "complete", "active_client");
    ASSERT_FINAL(g, "TIME-WAIT", "CLOSED");
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT");
    assert_int_equal(g->c.data_bytes[S], 2000);
    assert_int_equal(g->c.data_bytes[C], 100);
    assert_false(has_anomaly(g, TCB_ANOM_DATA_AFTER_FIN));
    fx_free(f);
}

static void close_cleanly(struct fx *f, uint32_t cs, uint32_t ss, double t)
{
    seg(f, C, FIN | ACK, cs, ss, 0, t);
    seg(f, S, FIN | ACK, ss, cs + 1, 0, t + 1);
    seg(f, C, ACK, cs + 1, ss + 1, 0, t + 2);
}

/* A new SYN with a new ISN on a tuple in TIME-WAIT starts incarnation n+1. */
static void test_port_reuse_three_incarnations(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    for (int i = 0; i < 3; i++) {
        uint32_t ci = 1000 + 100000u * i, si = 9000 + 700000u * i;
        double t = i * 1000.0;
        seg(f, C, SYN, ci, 0, 0, t);
        seg(f, S, SYN | ACK, si, ci + 1, 0, t + 1);
        seg(f, C, ACK, ci + 1, si + 1, 0, t + 2);
        close_cleanly(f, ci + 1, si + 1, t + 3);
    }
    finish(f);
    assert_int_equal(f->n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->out[i].c.incarnation, i + 1);
        assert_string_equal(tcb_handshake_name(f->out[i].c.handshake), "complete");
    }
    /* The first two left TIME-WAIT because the next SYN took over the tuple. */
    assert_true(has_cause(&f->out[0], C, TCB_CAUSE_NEW_INCARNATION, TCB_CLOSED));
    ASSERT_FINAL(&f->out[0], "CLOSED", "CLOSED");
    ASSERT_FINAL(&f->out[2], "TIME-WAIT", "CLOSED");
    /* ids follow the first packet: 1, 2, 3. */
    assert_int_equal(f->out[0].c.id, 1);
    assert_int_equal(f->out[2].c.id, 3);
    fx_free(f);
}

static void test_midstream_picks_server_by_port(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    /* The first segment comes from the server (port 80) to the client. */
    seg(f, S, ACK | PSH, 7000, 3000, 500, 0);
    seg(f, C, ACK, 3000, 7500, 0, 1);
    close_cleanly(f, 3000, 7500, 2);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.server_port, 80);
    assert_int_equal(g->c.client_port, 40000);
    ASSERT_WORDS(g, "midstream", "unknown", "unknown", "not_seen", "active_client");
    assert_true(has_cause(g, C, TCB_CAUSE_MIDSTREAM, TCB_ESTABLISHED));
    ASSERT_FINAL(g, "TIME-WAIT", "CLOSED");
    assert_false(g->c.have & TCB_HAVE_SYN);
    fx_free(f);
}

/* The SYN/ACK is seen at the tap but lost before the client: the client
 * retransmits its SYN and must stay SYN-SENT until its ACK is seen. */
static void test_synack_lost_after_tap_no_regression(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, C, SYN, 1000, 0, 0, 1000);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1001);
    seg(f, C, ACK, 1001, 5001, 0, 1002);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.syn_retransmits, 1);
    assert_int_equal(g->c.synack_retransmits, 1);
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED");
    /* The client became ESTABLISHED at its ACK (frame 5), not at the first SYN/ACK. */
    for (uint32_t i = 0; i < g->c.event_count; i++)
        if (g->ev[i].endpoint == C && g->ev[i].to == TCB_ESTABLISHED)
            assert_int_equal(g->ev[i].frame, 5);
    assert_int_equal(g->c.synack_ns, f->base_ns + 1 * MS);
    assert_int_equal(g->c.ack_ns, f->base_ns + 1002 * MS);
    fx_free(f);
}

static void test_sequence_wraparound(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    uint32_t ci = 0xFFFFFF00u;
    seg(f, C, SYN, ci, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, ci + 1, 0, 1);
    seg(f, C, ACK, ci + 1, 5001, 0, 2);
    seg(f, C, ACK, ci + 1, 5001, 1000, 3);          /* crosses 2^32 */
    seg(f, C, ACK, ci + 1001, 5001, 1000, 4);
    seg(f, C, ACK, ci + 1, 5001, 1000, 5);          /* a retransmission */
    seg(f, S, ACK, 5001, ci + 2001, 0, 6);
    close_cleanly(f, ci + 2001, 5001, 7);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.data_bytes[C], 2000);
    assert_int_equal(g->c.retrans_packets[C], 1);
    ASSERT_FINAL(g, "TIME-WAIT", "CLOSED");
    fx_free(f);
}

static void test_tfo_data_on_syn(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    struct dis_tcp_opts o = {0};
    o.present = DIS_OPT_TFO;
    o.tfo_cookie_len = 8;
    seg_opt(f, C, SYN, 1000, 0, 100, 0, 65000, &o);
    seg(f, S, SYN | ACK, 5000, 1101, 0, 1);
    seg(f, C, ACK, 1101, 5001, 0, 2);
    finish(f);
    struct got *g = &f->out[0];
    assert_true(g->c.tfo);
    assert_int_equal(g->c.data_bytes[C], 100);
    assert_string_equal(tcb_handshake_name(g->c.handshake), "complete");
    fx_free(f);
}

/* Two SYN/ACKs with different ISNs: the one the client ACKs wins. */
static void test_synack_isn_chosen_by_client_ack(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, S, SYN | ACK, 8000, 1001, 0, 2);
    seg(f, C, ACK, 1001, 8001, 0, 3);
    seg(f, S, ACK | PSH, 8001, 1001, 300, 4);
    finish(f);
    struct got *g = &f->out[0];
    assert_string_equal(tcb_handshake_name(g->c.handshake), "complete");
    assert_int_equal(g->c.synack_ns, f->base_ns + 2 * MS);
    assert_int_equal(g->c.data_bytes[S], 300);
    assert_true(has_anomaly(g, TCB_ANOM_SYNACK_ISN_CHANGED));
    fx_free(f);
}

static void test_keepalive_changes_nothing(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK | PSH, 1001, 5001, 10, 3);
    seg(f, S, ACK, 5001, 1011, 0, 4);
    seg(f, C, ACK, 1010, 5001, 1, 60000); /* keep-alive with one byte below snd.nxt */
    seg(f, S, ACK, 5001, 1011, 0, 60001);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.retrans_packets[C], 0);
    assert_int_equal(g->c.data_bytes[C], 10);
    ASSERT_FINAL(g, "ESTABLISHED", "ESTABLISHED");
    fx_free(f);
}

/* The client's ACK overtakes the SYN/ACK at the tap. */
static void test_handshake_reordered_at_tap(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, C, ACK, 1001, 5001, 0, 2);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 2.1);
    seg(f, C, ACK | PSH, 1001, 5001, 10, 3);
    finish(f);
    struct got *g = &f->out[0];
    assert_string_equal(tcb_handshake_name(g->c.handshake), "complete");
    ASSERT_FINAL(g, "ESTABLISHED", "ESTABLISHED");
    assert_chain(g, S, "LISTEN SYN-RECEIVED ESTABLISHED");
    fx_free(f);
}

/* TIME-WAIT ends after 2*MSL of capture time; the record is emitted then. */
static void test_time_wait_expires_after_2msl(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    close_cleanly(f, 1001, 5001, 3);
    assert_int_equal(tcb_advance(f->t, f->base_ns + 30 * SEC), 0);
    assert_int_equal(f->n, 0); /* still in TIME-WAIT */
    assert_int_equal(tcb_advance(f->t, f->base_ns + 61 * SEC), 0);
    assert_int_equal(f->n, 1);
    struct got *g = &f->out[0];
    ASSERT_FINAL(g, "CLOSED", "CLOSED");
    assert_true(has_cause(g, C, TCB_CAUSE_TIME_WAIT_EXPIRED, TCB_CLOSED));
    const struct tcb_event *last = &g->ev[g->c.event_count - 1];
    assert_int_equal(last->frame, 0);
    assert_int_equal(last->ts_ns, f->base_ns + 5 * MS + 60 * SEC);
    finish(f);
    assert_int_equal(f->n, 1);
    fx_free(f);
}

static void test_idle_connection_is_emitted_during_the_run(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    /* A jump past the idle timeout counts once the frames after it confirm it. */
    for (int k = 0; k < TCB_CLOCK_HOLD - 1; k++) {
        assert_int_equal(tcb_advance(f->t, f->base_ns + 301 * SEC + (uint64_t)k * MS), 0);
        assert_int_equal(f->n, 0);
    }
    assert_int_equal(tcb_advance(f->t, f->base_ns + 302 * SEC), 0);
    assert_int_equal(f->n, 1);
    assert_string_equal(tcb_close_kind_name(f->out[0].c.close_kind), "open");
    assert_int_equal(tcb_table_stats(f->t)->live, 0);
    finish(f);
    fx_free(f);
}

static void test_fin_retransmission_counted_no_regression(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 3);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 300);
    seg(f, S, ACK, 5001, 1002, 0, 301);
    seg(f, S, FIN | ACK, 5001, 1002, 0, 302);
    seg(f, S, FIN | ACK, 5001, 1002, 0, 600);
    seg(f, C, ACK, 1002, 5002, 0, 601);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.retrans_packets[C], 1);
    assert_int_equal(g->c.retrans_packets[S], 1);
    assert_chain(g, C, "CLOSED SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT");
    assert_int_equal(f->n, 1);
    fx_free(f);
}

static void test_rst_after_synack_is_handshake_reset(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, C, RST, 1001, 0, 0, 2);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "none", "active", "passive", "reset", "none");
    ASSERT_FINAL(g, "CLOSED", "CLOSED");
    fx_free(f);
}

static void test_synack_only_at_capture_end_is_incomplete(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 0);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    finish(f);
    struct got *g = &f->out[0];
    ASSERT_WORDS(g, "none", "active", "passive", "incomplete", "none");
    ASSERT_FINAL(g, "SYN-SENT", "SYN-RECEIVED");
    fx_free(f);
}

static void test_data_after_fin_is_flagged(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 3);
    seg(f, C, ACK | PSH, 1002, 5001, 50, 4);
    finish(f);
    assert_true(has_anomaly(&f->out[0], TCB_ANOM_DATA_AFTER_FIN));
    fx_free(f);
}

/* Several tuples at once: every record comes out, in id order at the end. */
static void test_many_connections_emitted_in_id_order(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    for (int i = 0; i < 12; i++) {
        f->cport = (uint16_t)(50000 - i * 7);
        seg(f, C, SYN, 1000, 0, 0, i);
    }
    finish(f);
    assert_int_equal(f->n, 12);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(f->out[i].c.id, i + 1);
        assert_int_equal(f->out[i].c.client_port, 50000 - i * 7);
    }
    fx_free(f);
}

/* --max-connections: a SYN flood evicts the oldest half-open records first,
 * each emitted flagged evicted; an established connection survives. */
static void test_max_connections_evicts_oldest_half_open(void **st)
{
    (void)st;
    struct fx *f = calloc(1, sizeof(*f));
    struct tcb_config cfg;
    tcb_config_default(&cfg);
    cfg.max_connections = 8;
    struct tcb_output out = {f, collect};
    char err[TCBS_ERRLEN];
    assert_int_equal(tcb_table_new(&f->t, &cfg, &out, err), 0);
    f->base_ns = 1700000000ULL * SEC;
    f->sport = 80;
    f->caddr[0] = 10, f->caddr[3] = 1;
    f->saddr[0] = 10, f->saddr[3] = 2;
    f->cport = 1000;
    handshake(f); /* established: id 1 */
    for (int i = 0; i < 10; i++) {
        f->cport = (uint16_t)(2000 + i);
        seg(f, C, SYN, 7, 0, 0, 10 + i);
    }
    const struct tcb_stats *ts = tcb_table_stats(f->t);
    assert_true(ts->held <= 8);
    assert_true(ts->evictions >= 2);
    assert_int_equal(f->n, (int)ts->evictions);
    for (int i = 0; i < f->n; i++) {
        assert_true(f->out[i].c.evicted);
        assert_true(has_anomaly(&f->out[i], TCB_ANOM_EVICTED));
        assert_int_equal(f->out[i].c.client_port, 2000 + i); /* oldest first */
    }
    finish(f);
    bool established_kept = false;
    for (int i = 0; i < f->n; i++)
        if (f->out[i].c.client_port == 1000)
            established_kept = !f->out[i].c.evicted;
    assert_true(established_kept);
    fx_free(f);
}

/* ---- time model (docs/vantage.md "Time") ---------------------------------- */

#define YEARS6_MS (6.0 * 365 * 86400 * 1000)

/* A plain open and close at 0..9 ms, with an optional frame in the middle. */
static void open_close(struct fx *f, int middle_dir, double middle_ms)
{
    handshake(f);
    seg(f, C, ACK | PSH, 1001, 5001, 100, 3);
    if (middle_dir == C)
        seg(f, C, ACK, 1101, 5001, 0, middle_ms);
    else if (middle_dir == S + 10)
        assert_int_equal(tcb_advance(f->t, f->base_ns + (uint64_t)(middle_ms * 1e6)), 0);
    seg(f, S, ACK | PSH, 5001, 1101, 2000, 4);
    seg(f, C, FIN | ACK, 1101, 7001, 0, 6);
    seg(f, S, FIN | ACK, 7001, 1102, 0, 8);
    seg(f, C, ACK, 1102, 7002, 0, 9);
    finish(f);
}

/* One frame (not TCP) dated six years ahead in the middle changes nothing
 * but a counter: without the hold it would have ended the connection. */
static void test_far_future_frame_is_an_outlier(void **st)
{
    (void)st;
    struct fx *a = fx_new(), *b = fx_new();
    open_close(a, -1, 0);
    open_close(b, S + 10, YEARS6_MS);
    assert_int_equal(a->n, 1);
    assert_int_equal(b->n, 1);
    assert_int_equal(tcb_table_stats(b->t)->ts_outliers, 1);
    assert_int_equal(tcb_table_stats(a->t)->ts_outliers, 0);
    assert_int_equal(b->out[0].c.last_ns, a->out[0].c.last_ns);
    ASSERT_WORDS(&b->out[0], "active_passive", "active", "passive", "complete", "active_client");
    ASSERT_FINAL(&b->out[0], "TIME-WAIT", "CLOSED");
    fx_free(a);
    fx_free(b);
}

/* A segment of the connection itself dated six years ahead is taken at the
 * clock's time: no duration or latency comes out huge or negative. */
static void test_far_future_segment_is_taken_at_clock_time(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    open_close(f, C, YEARS6_MS);
    assert_int_equal(f->n, 1);
    const struct tcb_conn_info *c = &f->out[0].c;
    assert_int_equal(tcb_table_stats(f->t)->ts_outliers, 1);
    assert_true(c->last_ns - c->first_ns < 10 * MS);
    assert_int_equal(c->last_ns, f->base_ns + 9 * MS);
    ASSERT_FINAL(&f->out[0], "TIME-WAIT", "CLOSED");
    fx_free(f);
}

/* A real pause longer than the timers, confirmed by the frames after it,
 * is not an outlier: the idle connection ends, the next SYN starts afresh. */
static void test_confirmed_jump_is_real(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    for (int k = 0; k < TCB_CLOCK_HOLD; k++)
        seg(f, C, SYN, 90000 + (uint32_t)k, 0, 0, 400000.0 + k); /* 400 s later, other ports */
    finish(f);
    assert_int_equal(tcb_table_stats(f->t)->ts_outliers, 0);
    /* the old record and one new incarnation-1 record (same ISN-changing SYNs
     * on the same tuple are new incarnations of it only while held) */
    assert_true(f->n >= 2);
    assert_int_equal(f->out[0].c.id, 1);
    assert_string_equal(tcb_close_kind_name(f->out[0].c.close_kind), "open");
    assert_int_equal(f->out[1].c.incarnation, 1);
    fx_free(f);
}

/* A sparse capture, one segment every two minutes (longer than 2*MSL), has
 * no outliers: each frame is nearer the one before it than the clock. */
static void test_sparse_capture_has_no_outliers(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    for (int k = 1; k <= 6; k++)
        seg(f, C, ACK, 1001, 5001, 0, 2 + k * 120000.0); /* keep the idle timer going */
    finish(f);
    assert_int_equal(tcb_table_stats(f->t)->ts_outliers, 0);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->out[0].c.last_ns, f->base_ns + 2 * MS + 720 * SEC);
    fx_free(f);
}

/* Two bogus frames in a row (both years ahead) are both outliers when the
 * frames after them return to the clock. */
static void test_burst_of_bogus_frames_are_outliers(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    assert_int_equal(tcb_advance(f->t, f->base_ns + (uint64_t)(YEARS6_MS * 1e6)), 0);
    assert_int_equal(tcb_advance(f->t, f->base_ns + (uint64_t)(YEARS6_MS * 1e6) + SEC), 0);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 6);
    seg(f, S, FIN | ACK, 5001, 1002, 0, 8);
    seg(f, C, ACK, 1002, 5002, 0, 9);
    finish(f);
    assert_int_equal(tcb_table_stats(f->t)->ts_outliers, 2);
    assert_int_equal(f->n, 1);
    ASSERT_FINAL(&f->out[0], "TIME-WAIT", "CLOSED");
    fx_free(f);
}

/* Segments dated before the connection's previous one are taken at its time. */
static void test_backwards_timestamps_are_clamped_per_connection(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg(f, C, SYN, 1000, 0, 0, 10);
    seg(f, S, SYN | ACK, 5000, 1001, 0, 5); /* dated 5 ms before the SYN */
    seg(f, C, ACK, 1001, 5001, 0, 2);       /* and the ACK before both */
    finish(f);
    assert_int_equal(f->n, 1);
    const struct tcb_conn_info *c = &f->out[0].c;
    assert_int_equal(tcb_table_stats(f->t)->ts_clamped, 2);
    assert_string_equal(tcb_handshake_name(c->handshake), "complete");
    assert_true(c->synack_ns >= c->syn_ns && c->ack_ns >= c->synack_ns);
    assert_true(c->last_ns >= c->first_ns);
    for (uint32_t i = 1; i < c->event_count; i++)
        assert_true(f->out[0].ev[i].ts_ns >= f->out[0].ev[i - 1].ts_ns);
    fx_free(f);
}

/* Whether an idle record is still held depends on its own deadline, not on
 * other flows moving the clock: a SYN 301 s after the last segment starts
 * incarnation 1 of a new record in both runs. */
static void test_idle_deadline_is_the_connections_own(void **st)
{
    (void)st;
    for (int busy = 0; busy < 2; busy++) {
        struct fx *f = fx_new();
        handshake(f);
        if (busy) { /* another flow keeps the clock going, 10 s apart */
            uint16_t keep = f->cport;
            f->cport = 50000;
            seg(f, C, SYN, 77, 0, 0, 100);
            for (int k = 1; k <= 30; k++)
                seg(f, C, ACK, 78, 1, 0, 100 + k * 10000.0);
            f->cport = keep;
        }
        seg(f, C, SYN, 424242, 0, 0, 2 + 301000.0);
        finish(f);
        int found = 0;
        for (int i = 0; i < f->n; i++) {
            if (f->out[i].c.client_port != 40000)
                continue;
            found++;
            assert_int_equal(f->out[i].c.incarnation, 1);
        }
        assert_int_equal(found, 2);
        fx_free(f);
    }
}

/* RFC 7323 §2.2: the window of a SYN or SYN/ACK is never scaled.  An RST
 * 100,000 bytes past the server's (unscaled, 65,000-byte) window is out of
 * window even with window scale 7 on both SYNs. */
static void test_rst_window_of_a_syn_is_not_scaled(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    struct dis_tcp_opts ws = {.present = DIS_OPT_WSCALE, .wscale = 7};
    seg_opt(f, C, SYN, 1000, 0, 0, 0, 64240, &ws);
    seg_opt(f, S, SYN | ACK, 5000, 1001, 0, 1, 65000, &ws);
    seg(f, C, ACK, 1001, 5001, 0, 2);
    seg(f, C, RST, 1001 + 100000, 0, 0, 3);
    finish(f);
    assert_int_equal(f->n, 1);
    assert_true(has_anomaly(&f->out[0], TCB_ANOM_RST_OUT_OF_WINDOW));
    ASSERT_FINAL(&f->out[0], "ESTABLISHED", "ESTABLISHED");
    /* Once the server advertises a window on a non-SYN segment, it is scaled:
     * 65,000 << 7 covers the same RST. */
    struct fx *g = fx_new();
    seg_opt(g, C, SYN, 1000, 0, 0, 0, 64240, &ws);
    seg_opt(g, S, SYN | ACK, 5000, 1001, 0, 1, 65000, &ws);
    seg(g, C, ACK, 1001, 5001, 0, 2);
    seg(g, S, ACK, 5001, 1001, 0, 2.5);
    seg(g, C, RST, 1001 + 100000, 0, 0, 3);
    finish(g);
    assert_false(has_anomaly(&g->out[0], TCB_ANOM_RST_OUT_OF_WINDOW));
    ASSERT_FINAL(&g->out[0], "CLOSED", "CLOSED");
    fx_free(f);
    fx_free(g);
}

/* A SYN with Fast Open data, then the client's FIN,ACK with an ACK field of
 * 0 ten seconds later: no SYN/ACK was seen and an ACK of 0 acknowledges
 * none, so the handshake is not complete (docs/vantage.md rule 2). */
static void test_tfo_fin_with_ack_zero_is_not_a_handshake(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    struct dis_tcp_opts tfo = {.present = DIS_OPT_TFO, .tfo_cookie_len = 8};
    seg_opt(f, C, SYN, 1000, 0, 100, 0, 64240, &tfo);
    seg(f, C, FIN | ACK, 1101, 0, 0, 10000);
    finish(f);
    assert_int_equal(f->n, 1);
    const struct tcb_conn_info *c = &f->out[0].c;
    assert_true(c->tfo);
    assert_string_not_equal(tcb_handshake_name(c->handshake), "complete");
    assert_false(c->have & TCB_HAVE_ACK);
    assert_string_equal(tcb_state_name(c->client_final_state), "SYN-SENT");
    fx_free(f);
}

/* Compare two runs' records field by field (ids and all). */
static void assert_same_records(const struct fx *a, const struct fx *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const struct tcb_conn_info *x = &a->out[i].c, *y = &b->out[i].c;
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->incarnation, y->incarnation);
        assert_int_equal(x->client_port, y->client_port);
        assert_int_equal(x->packets[0], y->packets[0]);
        assert_int_equal(x->packets[1], y->packets[1]);
        assert_int_equal(x->last_ns, y->last_ns);
        assert_int_equal(x->evicted, y->evicted);
        assert_string_equal(x->zeek_history, y->zeek_history);
        assert_int_equal(x->event_count, y->event_count);
        for (uint32_t k = 0; k < x->event_count; k++) {
            const struct tcb_event *p = &a->out[i].ev[k], *q = &b->out[i].ev[k];
            assert_int_equal(p->ts_ns, q->ts_ns);
            assert_int_equal(p->frame, q->frame);
            assert_int_equal(p->endpoint, q->endpoint);
            assert_int_equal(p->from, q->from);
            assert_int_equal(p->to, q->to);
            assert_int_equal(p->cause, q->cause);
        }
    }
}

/* Closed connections, a FIN retransmitted into TIME-WAIT, a refused
 * connection retried with the same ISN and a tuple reused: with a cap of 2
 * records, closed ones are folded out of the pool and unfolded when touched,
 * so every record is what an uncapped run writes. */
static void test_max_connections_folds_closed_records_exactly(void **st)
{
    (void)st;
    struct tcb_config cfg;
    tcb_config_default(&cfg);
    cfg.max_connections = 2;
    struct fx *runs[2] = {fx_new(), fx_new_with(&cfg)};
    for (int r = 0; r < 2; r++) {
        struct fx *f = runs[r];
        for (int k = 0; k < 6; k++) { /* six closed connections */
            f->cport = (uint16_t)(41000 + k);
            double t0 = 100.0 * k;
            seg(f, C, SYN, 1000, 0, 0, t0);
            seg(f, S, SYN | ACK, 5000, 1001, 0, t0 + 1);
            seg(f, C, ACK, 1001, 5001, 0, t0 + 2);
            seg(f, C, FIN | ACK, 1001, 5001, 0, t0 + 3);
            seg(f, S, FIN | ACK, 5001, 1002, 0, t0 + 4);
            seg(f, C, ACK, 1002, 5002, 0, t0 + 5);
        }
        f->cport = 41000; /* the server's FIN again: TIME-WAIT restarts */
        seg(f, S, FIN | ACK, 5001, 1002, 0, 700);
        f->cport = 42000; /* refused, retried with the same ISN */
        seg(f, C, SYN, 3000, 0, 0, 800);
        seg(f, S, RST | ACK, 0, 3001, 0, 801);
        for (int k = 0; k < 5; k++) { /* more closed ones in between */
            f->cport = (uint16_t)(43000 + k);
            seg(f, C, SYN, 1000, 0, 0, 810.0 + k);
            seg(f, S, RST | ACK, 0, 1001, 0, 810.5 + k);
        }
        f->cport = 42000;
        seg(f, C, SYN, 3000, 0, 0, 1800);
        seg(f, S, RST | ACK, 0, 3001, 0, 1801);
        f->cport = 41001; /* reused with a new ISN during TIME-WAIT */
        seg(f, C, SYN, 9000, 0, 0, 2000);
        finish(f);
    }
    const struct tcb_stats *s = tcb_table_stats(runs[1]->t);
    assert_true(s->folded > 0);
    assert_int_equal(s->evictions, 0);
    assert_same_records(runs[0], runs[1]);
    fx_free(runs[0]);
    fx_free(runs[1]);
}

/* Zeek's originator, after Zeek's role flips, as an endpoint. */
static void test_zeek_originator(void **st)
{
    (void)st;
    struct fx *f = fx_new(); /* a plain handshake: the client */
    handshake(f);
    finish(f);
    assert_int_equal(f->out[0].c.zeek_orig, TCB_CLIENT);
    assert_null(strchr(f->out[0].c.zeek_history, '^'));
    fx_free(f);

    f = fx_new(); /* the SYN missed, its SYN/ACK first: Zeek flips to the client */
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, C, ACK, 1001, 5001, 0, 2);
    finish(f);
    assert_int_equal(f->out[0].c.zeek_orig, TCB_CLIENT);
    assert_int_equal(f->out[0].c.zeek_history[0], '^');
    fx_free(f);

    f = fx_new(); /* mid-stream, first from the server port 80: Zeek flips it too */
    seg(f, S, ACK | PSH, 5001, 1001, 100, 1);
    seg(f, C, ACK, 1001, 5101, 0, 2);
    finish(f);
    assert_string_equal(tcb_open_kind_name(f->out[0].c.open_kind), "midstream");
    assert_int_equal(f->out[0].c.zeek_orig, TCB_CLIENT);
    fx_free(f);
}

/* ------------------------------------------------------------------------
 * Per-direction statistics: expected values are counted by hand from the
 * crafted segments (each carries 40 bytes of headers, see seg_opt()).
 */

/* IP bytes: every segment's IP length, whoever sent it, data or not. */
static void test_ip_bytes_sum_every_segment_per_direction(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);                               /* C: 40 + 40, S: 40 */
    seg(f, C, ACK | PSH, 1001, 5001, 100, 3);   /* C: 140 */
    seg(f, S, ACK | PSH, 5001, 1101, 2000, 4);  /* S: 2040 */
    seg(f, S, ACK | PSH, 5001, 1101, 2000, 5);  /* S: 2040 (a retransmission counts too) */
    seg(f, C, ACK, 1101, 7001, 0, 6);           /* C: 40 */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.ip_bytes[C], 40 + 40 + 140 + 40);
    assert_int_equal(g->c.ip_bytes[S], 40 + 2040 + 2040);
    fx_free(f);
}

/* Retransmitted bytes: only the part below what was already sent. */
static void test_retransmitted_bytes_count_only_the_resent_part(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 3);  /* [1001, 2001) new */
    seg(f, C, ACK, 1001, 5001, 1000, 4);  /* all again: 1000 */
    seg(f, C, ACK, 1501, 5001, 1000, 5);  /* [1501, 2001) again, [2001, 2501) new: 500 */
    seg(f, C, ACK, 2500, 5001, 1, 6);     /* keep-alive byte: not data */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.retrans_bytes[C], 1500);
    assert_int_equal(g->c.retrans_packets[C], 1); /* the partly new one is no retransmission */
    assert_int_equal(g->c.data_bytes[C], 1500);
    assert_int_equal(g->c.retrans_bytes[S], 0);
    fx_free(f);
}

/* Zero windows: window 0 on a segment without SYN, FIN or RST. */
static void test_zero_window_advertisements_skip_syn_fin_rst(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    seg_opt(f, C, SYN, 1000, 0, 0, 0, 0, NULL);          /* SYN: not counted */
    seg(f, S, SYN | ACK, 5000, 1001, 0, 1);
    seg(f, C, ACK, 1001, 5001, 0, 2);
    seg(f, C, ACK | PSH, 1001, 5001, 100, 3);
    seg_opt(f, S, ACK, 5001, 1101, 0, 4, 0, NULL);        /* 1 */
    seg_opt(f, S, ACK, 5001, 1101, 0, 5, 0, NULL);        /* 2 */
    seg_opt(f, S, ACK, 5001, 1101, 0, 6, 4000, NULL);     /* window opens */
    seg_opt(f, S, FIN | ACK, 5001, 1101, 0, 7, 0, NULL);  /* FIN: not counted */
    seg_opt(f, C, RST, 1101, 0, 0, 8, 0, NULL);           /* RST: not counted */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.zero_windows[S], 2);
    assert_int_equal(g->c.zero_windows[C], 0);
    fx_free(f);
}

/* Duplicate ACKs (Wireshark's rule): same ACK and window as the sender's
 * previous segment, no payload, at the sender's next sequence number. */
static void test_duplicate_acks_repeat_ack_and_window_without_payload(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 3);
    seg(f, C, ACK, 2001, 5001, 1000, 3.1);
    seg(f, C, ACK, 3001, 5001, 1000, 3.2);
    seg(f, S, ACK, 5001, 2001, 0, 4);                     /* new ACK */
    seg(f, S, ACK, 5001, 2001, 0, 4.1);                   /* dup 1 */
    seg(f, S, ACK, 5001, 2001, 0, 4.2);                   /* dup 2 */
    seg_opt(f, S, ACK, 5001, 2001, 0, 4.3, 3000, NULL);   /* window update: no dup */
    seg_opt(f, S, ACK, 5001, 2001, 0, 4.4, 3000, NULL);   /* dup 3 */
    seg_opt(f, S, ACK, 5001, 4001, 0, 5, 3000, NULL);     /* all ACKed */
    seg_opt(f, S, ACK, 5001, 4001, 0, 6, 3000, NULL);     /* nothing outstanding: dup 4 */
    seg(f, C, ACK, 4001, 5001, 10, 7);
    seg_opt(f, S, ACK | PSH, 5001, 4001, 5, 7.1, 3000, NULL); /* payload: no dup */
    seg_opt(f, S, ACK, 5006, 4001, 0, 7.2, 3000, NULL);   /* ACK 4001 again: dup 5 */
    seg_opt(f, S, ACK, 5005, 4001, 0, 7.3, 3000, NULL);   /* below its next seq: no dup */
    seg_opt(f, S, FIN | ACK, 5006, 4001, 0, 7.4, 3000, NULL); /* FIN: no dup */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.dup_acks[S], 5);
    assert_int_equal(g->c.dup_acks[C], 0);
    fx_free(f);
}

/* A segment filling a hole the tap saw skipped is out of order, not a
 * retransmission; sending it again after that is one. */
static void test_hole_fill_is_out_of_order_then_retransmission(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 3);  /* [1001, 2001) */
    seg(f, C, ACK, 3001, 5001, 1000, 4);  /* [3001, 4001): hole [2001, 3001) */
    seg(f, C, ACK, 2001, 5001, 500, 5);   /* fills half: out of order 1 */
    seg(f, C, ACK, 2501, 5001, 500, 6);   /* fills the rest: out of order 2 */
    seg(f, C, ACK, 2001, 5001, 1000, 7);  /* seen already: retransmission */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.out_of_order[C], 2);
    assert_int_equal(g->c.retrans_packets[C], 1);
    assert_int_equal(g->c.retrans_bytes[C], 1000);
    assert_int_equal(g->c.data_bytes[C], 3000);
    assert_int_equal(g->c.missed_bytes[C], 0);
    fx_free(f);
}

/* A hole never filled nor ACKed (the peer's ACKs not captured) is forgotten
 * long before the sequence space wraps onto it again. */
static void test_stale_hole_is_forgotten_before_the_sequence_space_wraps(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 3); /* [1001, 2001) */
    seg(f, C, ACK, 3001, 5001, 1000, 4); /* [3001, 4001): hole [2001, 3001) */
    for (int i = 0; i < 4; i++)          /* 4 x 2^30 bytes: 4001 + 2^32 is 4001 again */
        seg(f, C, ACK, 4001 + ((uint32_t)i << 30), 5001, 1u << 30, 5 + i);
    seg(f, C, ACK, 2001, 5001, 1000, 10); /* 2^32 bytes later: a retransmission, no fill */
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.out_of_order[C], 0);
    assert_int_equal(g->c.retrans_packets[C], 1);
    fx_free(f);
}

/* Missed bytes: a hole the peer ACKs over, and data ACKed past the highest
 * sequence the tap saw; neither is counted twice when data follows. */
static void test_missed_bytes_are_acked_bytes_never_seen(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 3);  /* [1001, 2001) */
    seg(f, C, ACK, 3001, 5001, 1000, 4);  /* [3001, 4001): hole of 1000 */
    seg(f, S, ACK, 5001, 4001, 0, 5);     /* ACKs over the hole: 1000 missed */
    seg(f, S, ACK, 5001, 4501, 0, 6);     /* [4001, 4501) never seen: 500 missed */
    seg(f, C, ACK, 4501, 5001, 100, 7);   /* continues after the missed part: no hole */
    seg(f, S, ACK, 5001, 4601, 0, 8);
    seg(f, S, ACK | PSH, 5001, 4601, 10, 9);
    seg(f, C, ACK, 4601, 5011, 0, 10);
    finish(f);
    struct got *g = &f->out[0];
    assert_int_equal(g->c.missed_bytes[C], 1500);
    assert_int_equal(g->c.missed_bytes[S], 0);
    assert_int_equal(g->c.out_of_order[C], 0);
    fx_free(f);
}

/* RTT: data timed at the tap, sampled at the peer's covering ACK; a timed
 * segment sent again gives no sample (Karn). */
static void test_rtt_samples_follow_karns_rule(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 1000, 10);  /* timed */
    seg(f, C, ACK, 2001, 5001, 1000, 11);  /* not timed: one at a time */
    seg(f, S, ACK, 5001, 2001, 0, 30);     /* sample 20 ms */
    seg(f, S, ACK, 5001, 3001, 0, 31);     /* nothing timed */
    seg(f, C, ACK, 3001, 5001, 1000, 40);  /* timed */
    seg(f, C, ACK, 3001, 5001, 1000, 100); /* sent again: the timing is void */
    seg(f, S, ACK, 5001, 4001, 0, 110);    /* no sample */
    seg(f, C, ACK, 4001, 5001, 1000, 120); /* timed */
    seg(f, S, ACK | PSH, 5001, 5001, 100, 125); /* sample 5 ms; the server's data timed */
    seg(f, C, ACK, 5001, 5101, 0, 126);    /* server's sample 1 ms */
    finish(f);
    struct got *g = &f->out[0];
    assert_true(g->c.have & TCB_HAVE_RTT_C2S);
    assert_int_equal(g->c.rtt_samples[C], 2);
    assert_int_equal(g->c.rtt_min_ns[C], 5 * MS);
    assert_int_equal(g->c.rtt_max_ns[C], 20 * MS);
    assert_int_equal(g->c.rtt_avg_ns[C], 12500000);
    assert_true(g->c.have & TCB_HAVE_RTT_S2C);
    assert_int_equal(g->c.rtt_samples[S], 1);
    assert_int_equal(g->c.rtt_min_ns[S], 1 * MS);
    assert_int_equal(g->c.rtt_max_ns[S], 1 * MS);
    fx_free(f);

    f = fx_new(); /* no data ACKed: no sample, no RTT */
    handshake(f);
    seg(f, C, ACK, 1001, 5001, 100, 3);
    finish(f);
    assert_false(f->out[0].c.have & (TCB_HAVE_RTT_C2S | TCB_HAVE_RTT_S2C));
    assert_int_equal(f->out[0].c.rtt_samples[C], 0);
    fx_free(f);
}

/* A SYN with a new ISN dated before the closed connection's last segment:
 * taken at that segment's time, it starts incarnation 2 (the clamped copy
 * of the segment must outlive the old record: found by fuzz_tcb under ASan). */
static void test_backdated_syn_takes_over_at_the_clamped_time(void **st)
{
    (void)st;
    struct fx *f = fx_new();
    handshake(f);
    seg(f, C, FIN | ACK, 1001, 5001, 0, 6);
    seg(f, S, FIN | ACK, 5001, 1002, 0, 8);
    seg(f, C, ACK, 1002, 5002, 0, 9);
    seg(f, C, SYN, 777777, 0, 0, 5); /* 4 ms before the last segment */
    finish(f);
    assert_int_equal(f->n, 2);
    assert_int_equal(f->out[1].c.incarnation, 2);
    assert_int_equal(f->out[1].c.first_ns, f->base_ns + 9 * MS);
    assert_int_equal(tcb_table_stats(f->t)->ts_clamped, 1);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_open_client_closes_first),
        cmocka_unit_test(test_server_closes_first),
        cmocka_unit_test(test_crossing_syns_are_simultaneous),
        cmocka_unit_test(test_crossing_fins_are_simultaneous_close),
        cmocka_unit_test(test_rst_answering_syn_is_refused),
        cmocka_unit_test(test_refused_retries_same_isn_are_one_record),
        cmocka_unit_test(test_unanswered_syn_counts_retransmits),
        cmocka_unit_test(test_rst_abort_by_client),
        cmocka_unit_test(test_rst_out_of_window_is_anomaly_only),
        cmocka_unit_test(test_half_close_keeps_data_flowing),
        cmocka_unit_test(test_port_reuse_three_incarnations),
        cmocka_unit_test(test_midstream_picks_server_by_port),
        cmocka_unit_test(test_synack_lost_after_tap_no_regression),
        cmocka_unit_test(test_sequence_wraparound),
        cmocka_unit_test(test_tfo_data_on_syn),
        cmocka_unit_test(test_synack_isn_chosen_by_client_ack),
        cmocka_unit_test(test_keepalive_changes_nothing),
        cmocka_unit_test(test_handshake_reordered_at_tap),
        cmocka_unit_test(test_time_wait_expires_after_2msl),
        cmocka_unit_test(test_idle_connection_is_emitted_during_the_run),
        cmocka_unit_test(test_fin_retransmission_counted_no_regression),
        cmocka_unit_test(test_rst_after_synack_is_handshake_reset),
        cmocka_unit_test(test_synack_only_at_capture_end_is_incomplete),
        cmocka_unit_test(test_data_after_fin_is_flagged),
        cmocka_unit_test(test_many_connections_emitted_in_id_order),
        cmocka_unit_test(test_max_connections_evicts_oldest_half_open),
        cmocka_unit_test(test_far_future_frame_is_an_outlier),
        cmocka_unit_test(test_far_future_segment_is_taken_at_clock_time),
        cmocka_unit_test(test_confirmed_jump_is_real),
        cmocka_unit_test(test_sparse_capture_has_no_outliers),
        cmocka_unit_test(test_burst_of_bogus_frames_are_outliers),
        cmocka_unit_test(test_backwards_timestamps_are_clamped_per_connection),
        cmocka_unit_test(test_idle_deadline_is_the_connections_own),
        cmocka_unit_test(test_rst_window_of_a_syn_is_not_scaled),
        cmocka_unit_test(test_tfo_fin_with_ack_zero_is_not_a_handshake),
        cmocka_unit_test(test_max_connections_folds_closed_records_exactly),
        cmocka_unit_test(test_zeek_originator),
        cmocka_unit_test(test_backdated_syn_takes_over_at_the_clamped_time),
        cmocka_unit_test(test_ip_bytes_sum_every_segment_per_direction),
        cmocka_unit_test(test_retransmitted_bytes_count_only_the_resent_part),
        cmocka_unit_test(test_zero_window_advertisements_skip_syn_fin_rst),
        cmocka_unit_test(test_duplicate_acks_repeat_ack_and_window_without_payload),
        cmocka_unit_test(test_hole_fill_is_out_of_order_then_retransmission),
        cmocka_unit_test(test_stale_hole_is_forgotten_before_the_sequence_space_wraps),
        cmocka_unit_test(test_missed_bytes_are_acked_bytes_never_seen),
        cmocka_unit_test(test_rtt_samples_follow_karns_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
