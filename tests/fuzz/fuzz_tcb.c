/*
 * fuzz_tcb.c - libFuzzer target for the TCB engine (tcb_packet() and friends)
 * fed a structured stream of segments, checking its invariants after every
 * segment and on every record it emits.
 *
 * Input: a 3-byte header, then 8 bytes per segment.
 *   header[0]  bits 0-2: --max-connections (0 = unlimited, else 1..7);
 *              bit 3: VLAN id not in the key; bit 4: time may go backwards;
 *              bit 5: feed tcb_advance() between segments too
 *   header[1]  idle timeout: (h & 15) + 1 seconds, or 300 s when h & 16
 *   header[2]  TIME-WAIT: (h & 15) seconds (0 is allowed), or 60 s when h & 16
 *   segment    b0 bits 0-1: one of four tuples (tuples 0 and 1 share every
 *                 field but the VLAN, so they are one connection without the
 *                 VLAN key); bit 2: direction; bit 3: IPv6; bit 7: AE flag;
 *              b1 TCP flags (FIN SYN RST PSH ACK URG ECE CWR);
 *              b2 seq: top 2 bits pick next / back / ahead / a new ISN,
 *                 relative to what this side sent last;
 *              b3 ack: the same relative to what the peer sent last;
 *              b4 payload length (>= 200: multiples of 1000);
 *              b5 time step in ms (>= 240: big jumps past the timeouts;
 *                 255 with header bit 4: one second back);
 *              b6 options: MSS, wscale, SACK-permitted, TS, bad checksum,
 *                 malformed option, TFO; b7 window / wscale value.
 * The tuples are few so connections collide, end and are reused (new
 * incarnations), and max-connections evicts.
 *
 * Invariants (a violation is __builtin_trap(), so libFuzzer keeps the input):
 *  - every state, cause, kind and endpoint in an emitted record is in range;
 *  - each endpoint's timeline is a chain: an event's `from` is the previous
 *    event's `to` for that endpoint (the first starts at CLOSED or LISTEN,
 *    the inferred pre-capture state); from != to; the final state is the
 *    last event's `to` unless the timeline overflowed (timeline_full, or
 *    the anomaly list is full so that flag may have been dropped);
 *  - ids are unique, 1..connections, and increase with the first packet;
 *  - engine counters never decrease; open connections <= max-connections when set;
 *  - every segment is counted in exactly one record (sum of packets equals
 *    segments); events and evictions in the records match the counters,
 *    and an evicted record carries the `evicted` anomaly (unless its
 *    anomaly list is full).
 * Leaves decoding to fuzz_dissect and files/sinks to fuzz_pipeline.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_SEGS 4096
#define FZ_MAX_IDS (FZ_MAX_SEGS + 1)

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* With FUZZ_TCB_DEBUG set, a failed record check prints the record first. */
static void fz_dump(const struct tcb_conn_info *c)
{
    if (!getenv("FUZZ_TCB_DEBUG"))
        return;
    fprintf(stderr, "conn %llu: final %s / %s, %u events\n", (unsigned long long)c->id,
            tcb_state_name(c->client_final_state), tcb_state_name(c->server_final_state),
            c->event_count);
    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        fprintf(stderr, "  frame %llu %s: %s -> %s (%s)\n", (unsigned long long)e->frame,
                tcb_endpoint_name(e->endpoint), tcb_state_name(e->from), tcb_state_name(e->to),
                tcb_cause_name(e->cause));
    }
}

#define CHECK_CONN(x, c)                                                                           \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fz_dump(c);                                                                            \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

struct fz_state {
    bool monotonic;
    bool lax_listen;        /* FUZZ_TCB_LAX_LISTEN: see the check */
    uint64_t frame;         /* last frame fed */
    uint64_t emitted;       /* records seen */
    uint64_t packets;       /* sum of packets over them */
    uint64_t events;        /* sum of event_count */
    uint64_t evicted;       /* records flagged evicted */
    uint8_t seen[FZ_MAX_IDS];
    uint64_t first_ns[FZ_MAX_IDS];
};

static int fz_conn(void *ctx, const struct tcb_conn_info *c)
{
    struct fz_state *st = ctx;

    CHECK(c->id >= 1 && c->id < FZ_MAX_IDS);
    CHECK(!st->seen[c->id]); /* ids unique */
    st->seen[c->id] = 1;
    st->first_ns[c->id] = c->first_ns;
    st->emitted++;

    CHECK(c->ip_version == 4 || c->ip_version == 6);
    CHECK(c->open_kind < TCB_OPEN_KIND_COUNT && c->client_open < TCB_EP_OPEN_COUNT &&
          c->server_open < TCB_EP_OPEN_COUNT && c->handshake < TCB_HANDSHAKE_COUNT &&
          c->close_kind < TCB_CLOSE_KIND_COUNT);
    CHECK(c->client_final_state < TCB_STATE_COUNT && c->server_final_state < TCB_STATE_COUNT);
    CHECK(c->incarnation >= 1);
    CHECK(c->packets[0] + c->packets[1] >= 1);
    CHECK(memchr(c->zeek_history, 0, sizeof(c->zeek_history)) != NULL);
    CHECK(memchr(c->zeek_conn_state, 0, sizeof(c->zeek_conn_state)) != NULL);
    if (st->monotonic)
        CHECK(c->first_ns <= c->last_ns);
    st->packets += c->packets[0] + c->packets[1];

    bool full = false, evicted_anom = false;
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        const struct tcb_anom *a = &c->anomalies[i];
        CHECK(a->kind < TCB_ANOMALY_COUNT && a->endpoint <= 1);
        CHECK(a->frame <= st->frame);
        full |= a->kind == TCB_ANOM_TIMELINE_FULL;
        evicted_anom |= a->kind == TCB_ANOM_EVICTED;
    }
    /* The record keeps at most 8 anomalies (one per kind and sender) and
     * drops later ones silently, evicted and timeline_full included: with a
     * full list, their absence proves nothing.  (Reported: the `evicted`
     * column is still right; the anomaly row can be missing.) */
    bool anoms_full = c->anomaly_count >= 8;
    full |= anoms_full;
    if (c->evicted) {
        st->evicted++;
        CHECK(evicted_anom || anoms_full);
    }

    int cur[2] = {-1, -1}; /* state after the last event of each endpoint */
    uint64_t prev_ts = 0;
    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        CHECK(e->endpoint <= 1 && e->from < TCB_STATE_COUNT && e->to < TCB_STATE_COUNT &&
              e->cause < TCB_CAUSE_COUNT);
        CHECK(e->from != e->to);
        CHECK(e->frame <= st->frame);
        if (cur[e->endpoint] < 0)
            CHECK_CONN(e->from == TCB_CLOSED || e->from == TCB_LISTEN, c);
        else if (!(st->lax_listen && cur[e->endpoint] == TCB_CLOSED && e->from == TCB_LISTEN))
            CHECK_CONN(e->from == cur[e->endpoint], c); /* no transition without an event */
        cur[e->endpoint] = e->to;
        if (st->monotonic && e->frame) {
            CHECK(e->ts_ns >= prev_ts);
            prev_ts = e->ts_ns;
        }
    }
    st->events += c->event_count;
    if (!full) {
        uint8_t fin[2] = {c->client_final_state, c->server_final_state};
        for (int s = 0; s < 2; s++) {
            if (cur[s] >= 0)
                CHECK_CONN(fin[s] == cur[s], c);
            else
                CHECK_CONN(fin[s] == TCB_CLOSED || fin[s] == TCB_LISTEN, c);
        }
    }
    return 0;
}

struct fz_tuple {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint16_t vlan;
};

static void fz_tuple(int i, bool v6, struct fz_tuple *t)
{
    /* 0 and 1: same addresses and ports, VLAN 10 vs 20; 2: another client
     * of the same server; 3: tuple 0 with the roles swapped (same key). */
    memset(t, 0, sizeof(*t));
    int last = v6 ? 15 : 3;
    t->a[0] = t->b[0] = v6 ? 0xfd : 10;
    t->a[last] = i == 2 ? 2 : 1;
    t->b[last] = 100;
    t->pa = i == 2 ? 40001 : 40000;
    t->pb = 80;
    t->vlan = i == 1 ? 20 : 10;
    if (i == 3) {
        uint8_t x[16];
        memcpy(x, t->a, 16);
        memcpy(t->a, t->b, 16);
        memcpy(t->b, x, 16);
        t->pa = 80;
        t->pb = 40000;
    }
}

static uint32_t fz_rel(uint32_t base, uint8_t b)
{
    switch (b >> 6) {
    case 0: return base;
    case 1: return base - (b & 63u) * 100u;
    case 2: return base + (b & 63u) * 100u;
    default: return base ^ ((uint32_t)b << 24) ^ 0x5a5a5au;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct fz_state *st = calloc(1, sizeof(*st));
    CHECK(st != NULL);
    struct tcb_config cfg;
    tcb_config_default(&cfg);
    cfg.max_connections = data[0] & 7u;
    cfg.vlan_in_key = !(data[0] & 8u);
    st->monotonic = !(data[0] & 16u);
    /* Known finding (tests/fuzz/regressions/fuzz_tcb-listen-without-event):
     * CLOSED -> LISTEN written without an event.  Set FUZZ_TCB_LAX_LISTEN to
     * look past it until it is fixed. */
    st->lax_listen = getenv("FUZZ_TCB_LAX_LISTEN") != NULL;
    bool advance = data[0] & 32u;
    cfg.idle_timeout_ns = (data[1] & 16u) ? 300000000000ull : ((data[1] & 15u) + 1) * 1000000000ull;
    cfg.time_wait_ns = (data[2] & 16u) ? 60000000000ull : (data[2] & 15u) * 1000000000ull;
    cfg.hash_seed = 0x0123456789abcdefull;
    cfg.seed_set = true;

    struct tcb_output out = {st, fz_conn};
    struct tcb_table *t;
    char err[TCBS_ERRLEN];
    CHECK(tcb_table_new(&t, &cfg, &out, err) == 0);

    uint32_t nxt[4][2][2]; /* tuple, v6, direction: next seq that side would send */
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < 2; v++)
            for (int d = 0; d < 2; d++)
                nxt[i][v][d] = 1000u * (uint32_t)(i * 4 + v * 2 + d + 1) + 0xfffff000u * (uint32_t)d;
    uint64_t ts = 1700000000ull * 1000000000ull;
    struct tcb_stats prev = *tcb_table_stats(t);

    data += 3;
    size -= 3;
    for (size_t k = 0; k + 8 <= size && st->frame < FZ_MAX_SEGS; k += 8) {
        const uint8_t *b = data + k;
        int ti = b[0] & 3, dir = (b[0] >> 2) & 1, v6 = (b[0] >> 3) & 1;
        struct fz_tuple tu;
        fz_tuple(ti, v6, &tu);

        struct dis_pkt p;
        memset(&p, 0, sizeof(p));
        if (b[5] == 255 && !st->monotonic)
            ts -= 1000000000ull;
        else if (b[5] >= 240)
            ts += (uint64_t)(b[5] - 239) * 37000000000ull;
        else
            ts += (uint64_t)b[5] * 1000000ull;
        if (st->monotonic)
            ts += 1; /* strictly increasing: ids must follow first_ns */
        p.ts_ns = ts;
        p.frame = ++st->frame;
        p.linktype = DIS_LINKTYPE_RAW;
        p.ip_version = v6 ? 6 : 4;
        p.ttl = 64;
        p.vlan[0] = tu.vlan;
        p.vlan_count = 1;
        memcpy(p.src, dir ? tu.b : tu.a, 16);
        memcpy(p.dst, dir ? tu.a : tu.b, 16);
        p.sport = dir ? tu.pb : tu.pa;
        p.dport = dir ? tu.pa : tu.pb;
        p.tcp_flags = (uint16_t)(b[1] | ((b[0] & 0x80u) ? DIS_TH_AE : 0));
        p.seq = fz_rel(nxt[ti][v6][dir], b[2]);
        p.ack = fz_rel(nxt[ti][v6][!dir], b[3]);
        p.window = (uint16_t)(b[7] << 8 | b[7]);
        p.hdr_len = 20;
        p.payload_len = b[4] < 200 ? b[4] : (uint32_t)(b[4] - 199) * 1000u;
        p.payload_caplen = 0;
        if (b[6] & 1u) {
            p.opt.present |= DIS_OPT_MSS;
            p.opt.mss = (uint16_t)(536 + b[7] * 4);
        }
        if (b[6] & 2u) {
            p.opt.present |= DIS_OPT_WSCALE;
            p.opt.wscale = b[7] & 31u; /* > 14 on purpose: RFC 7323 clamps */
        }
        if (b[6] & 4u)
            p.opt.present |= DIS_OPT_SACK_PERM;
        if (b[6] & 8u) {
            p.opt.present |= DIS_OPT_TS;
            p.opt.ts_val = (uint32_t)(ts / 1000000u);
            p.opt.ts_ecr = b[7];
        }
        if (b[6] & 16u)
            p.csum = (b[6] & 128u) ? DIS_CSUM_BAD_IP : DIS_CSUM_BAD_TCP;
        if (b[6] & 32u)
            p.flags_odd |= DIS_ODD_OPT_MALFORMED;
        if (b[6] & 64u) {
            p.opt.present |= DIS_OPT_TFO;
            p.opt.tfo_cookie_len = b[7] & 15u;
        }
        p.hdr_len = (uint8_t)(20 + 4 * __builtin_popcount(b[6] & 0x4fu));

        CHECK(tcb_packet(t, &p) == 0);
        if (b[2] >> 6 != 1) /* a retransmission does not move what the side sends next */
            nxt[ti][v6][dir] = p.seq + p.payload_len + !!(p.tcp_flags & DIS_TH_SYN) +
                               !!(p.tcp_flags & DIS_TH_FIN);
        if (advance && (b[4] & 1u))
            CHECK(tcb_advance(t, ts + 500000000ull) == 0);

        const struct tcb_stats *s = tcb_table_stats(t);
        CHECK(s->segments == st->frame);
        CHECK(s->segments >= prev.segments && s->connections >= prev.connections &&
              s->events >= prev.events && s->evictions >= prev.evictions &&
              s->peak_live >= prev.peak_live &&
              s->bad_checksum_ignored >= prev.bad_checksum_ignored);
        CHECK(s->live <= s->peak_live && s->live <= s->connections);
        CHECK(s->connections - s->held == st->emitted);
        if (cfg.max_connections)
            CHECK(s->live <= cfg.max_connections);
        prev = *s;
    }
    CHECK(tcb_finish(t) == 0);
    const struct tcb_stats *s = tcb_table_stats(t);
    CHECK(s->live == 0);
    CHECK(st->emitted == s->connections);
    CHECK(st->packets == s->segments); /* every segment in exactly one record */
    CHECK(st->events == s->events);
    CHECK(st->evicted == s->evictions);
    for (uint64_t id = 1; id <= s->connections; id++) {
        CHECK(st->seen[id]);
        if (st->monotonic && id > 1)
            CHECK(st->first_ns[id - 1] < st->first_ns[id]); /* ids follow the first packet */
    }
    tcb_table_free(t);
    free(st);
    return 0;
}
