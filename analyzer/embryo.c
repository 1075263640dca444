/*
 * embryo.c - embryonic records: a connection of which the tap has seen only
 * a bare SYN (and identical retransmissions of it) is kept in a compact
 * record, as Linux keeps a request sock for a connection not yet accepted.
 * A SYN flood or a port scan then costs 144 bytes a tuple instead of a full
 * record of ~940.
 *
 * Exactness: an embryo holds the SYN's fields that tcb_segment() reads, so
 * replaying the SYN (and its retransmissions) through the same path the
 * full record would have taken rebuilds that record bit for bit.  Any other
 * segment for the tuple, or a SYN that differs in anything the engine or the
 * Zeek emulation reads, first rebuilds the full record ("grows up") and is
 * then processed as usual; an embryo written (idle timeout, eviction, end of
 * capture) is rebuilt into a record on the stack and written from it.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tcb_int.h"

/* A bare SYN that an embryo can stand for. */
bool tcb_emb_eligible(const struct dis_pkt *p)
{
    return (p->tcp_flags & (DIS_TH_SYN | DIS_TH_ACK | DIS_TH_RST | DIS_TH_FIN)) == DIS_TH_SYN &&
           p->payload_len == 0 && p->flags_odd == 0 && p->ip_len <= UINT16_MAX &&
           p->csum != DIS_CSUM_BAD_IP &&
           p->csum != DIS_CSUM_BAD_TCP;
}

static int tcb_emb_alloc(struct tcb_table *t, uint32_t *out)
{
    if (t->efree != TCB_NIL) {
        *out = t->efree;
        t->efree = E(t, *out)->next;
        return 0;
    }
    if ((t->nembs >> TCB_CHUNK_SHIFT) == t->nechunks) {
        if (t->nechunks == (TCB_MAX_INDEX >> TCB_CHUNK_SHIFT))
            return -ENOMEM;
        struct tcb_emb **c = realloc(t->echunks, (size_t)(t->nechunks + 1) * sizeof(*c));
        if (!c)
            return -ENOMEM;
        t->echunks = c;
        c[t->nechunks] = malloc(sizeof(struct tcb_emb) << TCB_CHUNK_SHIFT);
        if (!c[t->nechunks])
            return -ENOMEM;
        t->nechunks++;
    }
    *out = t->nembs++;
    return 0;
}

/* An embryo for bare SYN p (tcb_emb_eligible()) in the empty slot of (k, h). */
int tcb_emb_new(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k, uint32_t h,
                uint32_t incarnation)
{
    uint32_t i;
    int rc = tcb_emb_alloc(t, &i);
    if (rc)
        return rc;
    struct tcb_emb *e = E(t, i);
    memset(e, 0, sizeof(*e));
    e->key = *k;
    e->hash = h;
    e->id = ++t->next_id;
    e->incarnation = incarnation;
    e->first_ns = e->last_ns = e->list_ns = p->ts_ns;
    e->first_frame = e->last_frame = p->frame;
    e->seq = p->seq;
    e->ack = p->ack;
    e->flags = p->tcp_flags;
    e->window = p->window;
    e->ip_len = (uint16_t)p->ip_len;
    e->opt_present = p->opt.present;
    e->mss = p->opt.mss;
    e->wscale = p->opt.wscale;
    e->tfo_cookie_len = p->opt.tfo_cookie_len;
    e->tunnel = p->tunnel;
    e->client_is_a = memcmp(p->src, k->a, 16) == 0 && p->sport == k->pa;
    e->has_vlan = p->vlan_count != 0;
    e->vlan = p->vlan[0];
    e->prev = e->next = TCB_NIL;
    tcb_list_append(t, &t->active, TCB_EMB_BIT | i);

    uint32_t j = tcb_find_slot(t, k, h);
    t->slots[j].idx1 = TCB_EMB_BIT | (i + 1);
    t->slots[j].hash = h;
    t->used++;
    t->nemb_live++;
    t->st.embryos++;
    t->st.connections++;
    if (++t->st.live > t->st.peak_live)
        t->st.peak_live = t->st.live;
    if (++t->st.held > t->st.peak_held)
        t->st.peak_held = t->st.held;
    return 0;
}

/* The SYN an embryo stands for, at (ts, frame). */
static void tcb_emb_syn(const struct tcb_emb *e, uint64_t ts, uint64_t frame, struct dis_pkt *p)
{
    const struct tcb_key *k = &e->key;
    memset(p, 0, sizeof(*p));
    p->ts_ns = ts;
    p->frame = frame;
    p->ip_version = k->ver;
    memcpy(p->src, e->client_is_a ? k->a : k->b, 16);
    memcpy(p->dst, e->client_is_a ? k->b : k->a, 16);
    p->sport = e->client_is_a ? k->pa : k->pb;
    p->dport = e->client_is_a ? k->pb : k->pa;
    p->seq = e->seq;
    p->ack = e->ack;
    p->tcp_flags = e->flags;
    p->window = e->window;
    p->ip_len = e->ip_len;
    p->opt.present = e->opt_present;
    p->opt.mss = e->mss;
    p->opt.wscale = e->wscale;
    p->opt.tfo_cookie_len = e->tfo_cookie_len;
    p->tunnel = e->tunnel;
    p->has_tunnel_id = k->tun != 0;
    p->tunnel_id = (uint32_t)k->tun;
    p->vlan_count = e->has_vlan;
    p->vlan[0] = e->vlan;
}

/* Is p a copy of the embryo's SYN (a retransmission changing nothing but times)? */
static bool tcb_emb_same(const struct tcb_emb *e, const struct dis_pkt *p)
{
    struct dis_pkt q;
    if (!tcb_emb_eligible(p))
        return false;
    tcb_emb_syn(e, p->ts_ns, p->frame, &q);
    return p->sport == q.sport && memcmp(p->src, q.src, 16) == 0 && p->seq == q.seq &&
           p->ack == q.ack && p->tcp_flags == q.tcp_flags && p->window == q.window &&
           p->ip_len == q.ip_len &&
           p->opt.present == q.opt.present && p->opt.mss == q.opt.mss &&
           p->opt.wscale == q.opt.wscale && p->opt.tfo_cookie_len == q.opt.tfo_cookie_len &&
           p->tunnel == q.tunnel;
}

/*
 * Segment p for embryo i, before its deadline: a retransmission of its SYN
 * is absorbed (true); anything else is for the full record (false).
 */
bool tcb_emb_absorb(struct tcb_table *t, uint32_t i, const struct dis_pkt *p)
{
    struct tcb_emb *e = E(t, i);
    if (!tcb_emb_same(e, p))
        return false;
    e->retx++;
    if (p->ts_ns < e->last_ns)
        t->st.ts_clamped++; /* as the full record would take it */
    else
        e->last_ns = p->ts_ns;
    e->last_frame = p->frame;
    return true;
}

/* Rebuild the full record of embryo e into r by replaying its SYNs. */
static void tcb_emb_rebuild(struct tcb_table *t, const struct tcb_emb *e, struct tcb_rec *r)
{
    struct dis_pkt p;
    tcb_emb_syn(e, e->first_ns, e->first_frame, &p);
    tcb_rec_init(r, &p, &e->key, e->hash, true, e->incarnation, e->id);
    tcb_segment(t, r, TCB_CLIENT, &p);
    if (e->retx) { /* only the last retransmission's time and frame remain */
        tcb_emb_syn(e, e->last_ns, e->last_frame, &p);
        for (uint32_t k = 0; k < e->retx; k++)
            tcb_segment(t, r, TCB_CLIENT, &p);
    }
    r->list_ns = e->list_ns;
}

/* Return embryo i to the pool (out of the active list already). */
static void tcb_emb_release(struct tcb_table *t, uint32_t i)
{
    E(t, i)->next = t->efree;
    t->efree = i;
    t->nemb_live--;
}

/*
 * The embryo in slot j grows up: a full record, on the active list, in the
 * same slot; *out is its index.
 */
int tcb_emb_grow_up(struct tcb_table *t, uint32_t j, uint32_t *out)
{
    uint32_t ei = (t->slots[j].idx1 & ~TCB_EMB_BIT) - 1, i;
    int rc = tcb_alloc_rec(t, &i);
    if (rc)
        return rc;
    tcb_emb_rebuild(t, E(t, ei), R(t, i));
    tcb_list_replace(t, &t->active, TCB_EMB_BIT | ei, i); /* its place in the order */
    t->slots[j].idx1 = i + 1;
    tcb_emb_release(t, ei);
    t->nfull++;
    *out = i;
    return 0;
}

/*
 * Write embryo i and forget it: at its idle deadline (at_end false,
 * evicted false), evicted by --max-connections, or at the end of the run.
 */
int tcb_emb_finish(struct tcb_table *t, uint32_t i, bool evicted, bool at_end)
{
    struct tcb_emb *e = E(t, i);
    struct tcb_rec r;
    (void)at_end; /* an embryo has no TIME-WAIT to end */
    tcb_emb_rebuild(t, e, &r);
    uint32_t j = tcb_find_slot(t, &e->key, e->hash);
    if (t->slots[j].idx1 == (TCB_EMB_BIT | (i + 1)))
        tcb_slot_delete(t, j);
    tcb_list_remove(t, &t->active, TCB_EMB_BIT | i);
    tcb_emb_release(t, i);
    t->st.live--;
    t->st.held--;
    if (evicted) {
        r.rf |= RF_EVICTED;
        tcb_anomaly(&r, TCB_CLIENT, TCB_ANOM_EVICTED, NULL);
        t->st.evictions++;
    }
    return tcb_emit(t, &r);
}

void tcb_emb_free(struct tcb_table *t)
{
    for (uint32_t c = 0; c < t->nechunks; c++)
        free(t->echunks[c]);
    free(t->echunks);
}
