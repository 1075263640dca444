/*
 * tcb.c - the connection table and the per-endpoint RFC 9293 state machines.
 *
 * Owns: connection records (one per incarnation of a 4-tuple), the keyed
 * hash table that finds them, their expiry (TIME-WAIT, idle timeout), the
 * inference of each endpoint's state from what the tap sees, the timeline of
 * state changes, and the classification handed to the output.
 * Leaves to others: decoding (dissectors/), Zeek's rules (zeek.c), writing
 * (storage/ through struct tcb_output).
 *
 * Vantage point.  The tap sees a segment some time before or after the
 * endpoints do, and a segment it sees may still be lost.  So:
 *  - what an endpoint SENDS changes its state at the frame it is seen
 *    (snd_syn, snd_fin, snd_rst);
 *  - that an endpoint RECEIVED a SYN, a SYN/ACK or a FIN is believed only on
 *    evidence: a later segment from it whose ACK covers it (or a SYN/ACK).
 *    A SYN/ACK lost after the tap therefore never moves the client on;
 *  - receipts that draw no answer (an RST, the ACK of a SYN in SYN-RECEIVED,
 *    the ACK of a FIN) are assumed delivered when the tap sees them, and a
 *    delivered segment implies the delivery of every earlier segment of the
 *    same sender (in-order delivery): that is what makes crossing FINs end
 *    FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both sides.
 * Facts about a connection accumulate (ISNs, highest ACKs, FIN sequence
 * numbers) and tcb_settle() advances each endpoint along RFC 9293 edges as
 * far as the facts allow, so segments reordered at the tap still end in the
 * right states.  States never go backwards except through CLOSED.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tcb_int.h"

/* Which endpoint of record r sent p. */
static int tcb_sender(const struct tcb_rec *r, const struct dis_pkt *p)
{
    const struct tcb_ep *c = &r->ep[TCB_CLIENT];
    return memcmp(p->src, c->addr, 16) == 0 && p->sport == c->port ? TCB_CLIENT : TCB_SERVER;
}

/* Put record i into the empty slot for (k, h). */
static void tcb_slot_put(struct tcb_table *t, const struct tcb_key *k, uint32_t h, uint32_t i)
{
    uint32_t j = tcb_find_slot(t, k, h);
    t->slots[j].idx1 = i + 1;
    t->slots[j].hash = h;
    t->used++;
}

/* A segment that found no record: start one (incarnation inc).  A bare SYN
 * starts an embryo (embryo.c): then *out is TCB_NIL. */
static int tcb_start(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k,
                     uint32_t h, uint32_t inc, uint32_t *out)
{
    uint16_t fl = p->tcp_flags;
    bool client = true, midstream = false;
    int rc;
    if (!t->cfg.full_records_only && tcb_emb_eligible(p)) {
        *out = TCB_NIL;
        return tcb_emb_new(t, p, k, h, inc);
    }
    if ((fl & (DIS_TH_SYN | DIS_TH_ACK | DIS_TH_RST)) == DIS_TH_SYN)
        client = true;
    else if ((fl & (DIS_TH_SYN | DIS_TH_ACK)) == (DIS_TH_SYN | DIS_TH_ACK))
        client = false; /* a SYN/ACK first: its sender answered a SYN we missed */
    else {
        client = tcb_receiver_is_server(t, p);
        midstream = true;
    }
    if ((rc = tcb_new_rec(t, p, k, h, client, inc, 0, out)) != 0)
        return rc;
    tcb_slot_put(t, k, h, *out);
    struct tcb_rec *r = R(t, *out);
    if (midstream) {
        r->rf |= RF_MIDSTREAM;
        if (!(fl & DIS_TH_RST)) {
            /* Inferred, not seen: both TCBs were open before the capture began. */
            tcb_set_state(t, r, TCB_CLIENT, TCB_ESTABLISHED, TCB_CAUSE_MIDSTREAM, p->ts_ns,
                          p->frame);
            tcb_set_state(t, r, TCB_SERVER, TCB_ESTABLISHED, TCB_CAUSE_MIDSTREAM, p->ts_ns,
                          p->frame);
        }
    }
    tcb_segment(t, r, client ? TCB_CLIENT : TCB_SERVER, p);
    return 0;
}

/* One segment at its (clock-checked) time: find or start its record. */
static int tcb_segment_in(struct tcb_table *t, const struct dis_pkt *p)
{
    int rc;
    if (t->used * 10 >= t->nslots * 7 && (rc = tcb_grow_slots(t)) != 0)
        return rc;

    struct tcb_key k;
    tcb_make_key(t, p, &k);
    uint32_t h = tcb_hash(t, &k);
    uint32_t j = tcb_find_slot(t, &k, h), i = TCB_NIL, inc = 1;
    bool bare_syn = (p->tcp_flags & (DIS_TH_SYN | DIS_TH_ACK | DIS_TH_RST)) == DIS_TH_SYN;

    if (t->slots[j].idx1 & TCB_EMB_BIT) {
        uint32_t ei = (t->slots[j].idx1 & ~TCB_EMB_BIT) - 1;
        if (E(t, ei)->last_ns + t->cfg.idle_timeout_ns <= p->ts_ns) {
            /* Idle past its deadline: no longer held. */
            if ((rc = tcb_emb_finish(t, ei, false, false)) != 0)
                return rc;
        } else if (tcb_emb_absorb(t, ei, p)) {
            return 0; /* its SYN again */
        } else if ((rc = tcb_emb_grow_up(t, j, &i)) != 0) {
            return rc;
        }
    } else if (t->slots[j].idx1 & TCB_FOLD_BIT) {
        if ((rc = tcb_fold_take(t, j, p->ts_ns, &i)) < 0)
            return rc;
        if (rc == 0)
            i = TCB_NIL; /* written at its deadline: no longer held */
    } else if (t->slots[j].idx1) {
        i = t->slots[j].idx1 - 1;
        if (tcb_deadline(t, R(t, i)) <= p->ts_ns) {
            /* Past its own deadline: no longer held, whatever the sweep did. */
            if ((rc = tcb_retire(t, i)) != 0)
                return rc;
            i = TCB_NIL;
        }
    }
    struct dis_pkt clamped; /* p may point here to the end: a takeover starts with it */
    if (i != TCB_NIL) {
        struct tcb_rec *r = R(t, i);
        if (p->ts_ns < r->last_ns) {
            /* Dated before the connection's previous segment: take it then. */
            clamped = *p;
            clamped.ts_ns = r->last_ns;
            p = &clamped;
            t->st.ts_clamped++;
        }
        int s = tcb_sender(r, p);
        if (!(bare_syn && tcb_takes_over(t, r, s, p))) {
            tcb_segment(t, r, s, p);
            tcb_relist(t, i, p->ts_ns);
            return 0;
        }
        /* A new incarnation takes the tuple: finish the old record. */
        inc = r->incarnation + 1;
        tcb_close_for_new(t, r, p);
        if ((rc = tcb_finish_rec(t, i, true)) != 0)
            return rc;
    } else if (t->cfg.max_connections && t->nfull + t->nemb_live >= t->cfg.max_connections &&
               (rc = tcb_evict(t)) != 0) {
        return rc;
    }
    if ((rc = tcb_start(t, p, &k, h, inc, &i)) != 0)
        return rc;
    if (i != TCB_NIL)
        tcb_relist(t, i, p->ts_ns);
    return 0;
}

/*
 * One frame in clock order (clock.c decided its time).  jump: the clock
 * takes this time even when it is earlier (a confirmed step back).
 */
int tcb_step(struct tcb_table *t, const struct dis_pkt *p, bool segment, bool jump)
{
    int rc;
    if (p->ts_ns > t->now || !t->clock_started || jump)
        t->now = p->ts_ns;
    t->clock_started = true;
    /* Reclaiming memory once a millisecond of capture time is enough (what a
     * record says never depends on when it is reclaimed: tcb_deadline()). */
    if (t->now >= t->next_sweep_ns || jump) {
        t->next_sweep_ns = t->now + 1000000;
        if ((rc = tcb_expire(t)) != 0)
            return rc;
    }
    return segment ? tcb_segment_in(t, p) : 0;
}

int tcb_packet(struct tcb_table *t, const struct dis_pkt *p)
{
    t->st.segments++;
    return tcb_clock_in(t, p, true);
}

int tcb_advance(struct tcb_table *t, uint64_t ts_ns)
{
    struct dis_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = ts_ns;
    return tcb_clock_in(t, &p, false);
}

/* Order of emission at the end: by id (first-packet order), never hash order. */
struct tcb_end {
    uint64_t id;
    uint32_t idx;        /* record (or embryo) index, or TCB_NIL for a folded record */
    struct tcb_blob *blob;
    bool embryo;
};

static int tcb_cmp_end(const void *a, const void *b)
{
    uint64_t x = ((const struct tcb_end *)a)->id, y = ((const struct tcb_end *)b)->id;
    return x < y ? -1 : x > y;
}

int tcb_finish(struct tcb_table *t)
{
    int rc = tcb_clock_drain(t);
    if (rc)
        return rc;
    uint64_t n = t->st.held;
    if (!n)
        return 0;
    struct tcb_end *ends = malloc(n * sizeof(*ends));
    struct tcb_blob **blobs = malloc((t->fifo_len + 1) * sizeof(*blobs));
    if (!ends || !blobs) {
        free(ends);
        free(blobs);
        return -ENOMEM;
    }
    uint64_t k = 0;
    const struct tcb_list *lists[2] = {&t->active, &t->done};
    for (int l = 0; l < 2; l++)
        for (uint32_t i = lists[l]->head; i != TCB_NIL && k < n; i = *tcb_next_of(t, i))
            ends[k++] = (i & TCB_EMB_BIT) ? (struct tcb_end){E(t, i & ~TCB_EMB_BIT)->id,
                                                              i & ~TCB_EMB_BIT, NULL, true}
                                          : (struct tcb_end){R(t, i)->id, i, NULL, false};
    uint32_t nb = tcb_fold_list(t, blobs);
    for (uint32_t x = 0; x < nb && k < n; x++)
        ends[k++] = (struct tcb_end){blobs[x]->id, TCB_NIL, blobs[x], false};
    qsort(ends, k, sizeof(*ends), tcb_cmp_end);
    for (uint64_t x = 0; x < k && !rc; x++) {
        if (ends[x].blob) {
            rc = tcb_fold_finish(t, ends[x].blob);
            continue;
        }
        if (ends[x].embryo) {
            rc = tcb_emb_finish(t, ends[x].idx, false, true);
            continue;
        }
        /* At the capture end: a TIME-WAIT whose 2*MSL ran out before it is over. */
        tcb_expire_time_wait(t, R(t, ends[x].idx), t->now);
        rc = tcb_finish_rec(t, ends[x].idx, true);
    }
    free(ends);
    free(blobs);
    return rc;
}

const struct tcb_stats *tcb_table_stats(const struct tcb_table *t)
{
    return &t->st;
}

void tcb_config_default(struct tcb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->idle_timeout_ns = 300ULL * 1000000000ULL;
    cfg->time_wait_ns = 60ULL * 1000000000ULL;
    cfg->vlan_in_key = true;
}

int tcb_table_new(struct tcb_table **out, const struct tcb_config *cfg,
                  const struct tcb_output *output, char err[TCBS_ERRLEN])
{
    struct tcb_table *t = calloc(1, sizeof(*t));
    if (!t)
        goto nomem;
    t->cfg = *cfg;
    if (output)
        t->out = *output;
    if (cfg->seed_set) {
        t->k0 = cfg->hash_seed;
        t->k1 = cfg->hash_seed * 0x9E3779B97F4A7C15ULL + 1;
    } else {
        uint64_t k[2] = {0, 0};
        if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
            k[0] = (uint64_t)(uintptr_t)t ^ 0x5bd1e995ULL; /* no entropy: still a working table */
        t->k0 = k[0], t->k1 = k[1];
    }
    t->free_head = TCB_NIL;
    t->efree = TCB_NIL;
    t->active.head = t->active.tail = TCB_NIL;
    t->done.head = t->done.tail = TCB_NIL;
    if (tcb_grow_slots(t))
        goto nomem;
    *out = t;
    return 0;
nomem:
    tcb_table_free(t);
    snprintf(err, TCBS_ERRLEN, "out of memory creating the connection table");
    return -ENOMEM;
}

void tcb_table_free(struct tcb_table *t)
{
    if (!t)
        return;
    for (uint32_t c = 0; c < t->nchunks; c++)
        free(t->chunks[c]);
    free(t->chunks);
    free(t->slots);
    free(t->listeners);
    tcb_fold_free(t);
    tcb_emb_free(t);
    free(t);
}
