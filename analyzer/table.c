/*
 * table.c - the connection table: SipHash-keyed open addressing over a pool
 * of records held by index, the active and done lists, expiry and eviction.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcb_int.h"

/* ------------------------------------------------------------------------
 * SipHash-1-3 over the key [Aumasson & Bernstein]: keyed so that a crafted
 * capture cannot aim its tuples at one bucket.
 */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

uint32_t tcb_hash(const struct tcb_table *t, const struct tcb_key *k)
{
    uint64_t v0 = t->k0 ^ 0x736f6d6570736575ULL, v1 = t->k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = t->k0 ^ 0x6c7967656e657261ULL, v3 = t->k1 ^ 0x7465646279746573ULL;
    uint64_t w[5];
    int n = 0;
    w[n++] = tcb_load64(k->a);
    if (k->ver == 6)
        w[n++] = tcb_load64(k->a + 8);
    w[n++] = tcb_load64(k->b);
    if (k->ver == 6)
        w[n++] = tcb_load64(k->b + 8);
    w[n++] = (uint64_t)k->pa << 48 | (uint64_t)k->pb << 32 | (uint64_t)k->vlan << 16 | k->ver;
    for (int i = 0; i < n; i++) {
        v3 ^= w[i];
        SIPROUND;
        v0 ^= w[i];
    }
    uint64_t b = (uint64_t)(n * 8) << 56;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return (uint32_t)(h ^ (h >> 32));
}

/* ------------------------------------------------------------------------
 * Records: pool, lists, table.
 */
void tcb_list_remove(struct tcb_table *t, struct tcb_list *l, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    if (r->prev != TCB_NIL)
        R(t, r->prev)->next = r->next;
    else
        l->head = r->next;
    if (r->next != TCB_NIL)
        R(t, r->next)->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = TCB_NIL;
}

void tcb_list_append(struct tcb_table *t, struct tcb_list *l, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    r->next = TCB_NIL;
    r->prev = l->tail;
    if (l->tail != TCB_NIL)
        R(t, l->tail)->next = i;
    else
        l->head = i;
    l->tail = i;
}

int tcb_grow_slots(struct tcb_table *t)
{
    uint32_t n = t->nslots ? t->nslots * 2 : 1024;
    struct tcb_slot *s = calloc(n, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i].idx1)
            continue;
        uint32_t j = t->slots[i].hash & (n - 1);
        while (s[j].idx1)
            j = (j + 1) & (n - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return 0;
}

/* Slot holding the record for key k, or the empty slot where it would go. */
uint32_t tcb_find_slot(struct tcb_table *t, const struct tcb_key *k, uint32_t h)
{
    uint32_t mask = t->nslots - 1, j = h & mask;
    for (;;) {
        const struct tcb_slot *sl = &t->slots[j];
        if (!sl->idx1)
            return j;
        if (sl->hash == h && memcmp(&R(t, sl->idx1 - 1)->key, k, sizeof(*k)) == 0)
            return j;
        j = (j + 1) & mask;
    }
}

/* Delete slot j with backward-shift (no tombstones under linear probing). */
void tcb_slot_delete(struct tcb_table *t, uint32_t j)
{
    uint32_t mask = t->nslots - 1;
    t->slots[j].idx1 = 0;
    t->used--;
    uint32_t i = (j + 1) & mask;
    while (t->slots[i].idx1) {
        uint32_t home = t->slots[i].hash & mask;
        /* Move slots[i] back to j if its home is not in (j, i]. */
        bool in_range = (j < i) ? (home > j && home <= i) : (home > j || home <= i);
        if (!in_range) {
            t->slots[j] = t->slots[i];
            t->slots[i].idx1 = 0;
            j = i;
        }
        i = (i + 1) & mask;
    }
}

static int tcb_alloc_rec(struct tcb_table *t, uint32_t *out)
{
    if (t->free_head != TCB_NIL) {
        *out = t->free_head;
        t->free_head = R(t, *out)->next;
        return 0;
    }
    if ((t->nrecs >> TCB_CHUNK_SHIFT) == t->nchunks) {
        if (t->nchunks == (UINT32_MAX >> TCB_CHUNK_SHIFT))
            return -ENOMEM;
        struct tcb_rec **c = realloc(t->chunks, (size_t)(t->nchunks + 1) * sizeof(*c));
        if (!c)
            return -ENOMEM;
        t->chunks = c;
        c[t->nchunks] = malloc(sizeof(struct tcb_rec) << TCB_CHUNK_SHIFT);
        if (!c[t->nchunks])
            return -ENOMEM;
        t->nchunks++;
    }
    *out = t->nrecs++;
    return 0;
}

/* Take record i out of the table and lists, emit it, free it. */
int tcb_finish_rec(struct tcb_table *t, uint32_t i, bool in_table)
{
    struct tcb_rec *r = R(t, i);
    tcb_list_remove(t, tcb_list_of(t, r), i);
    if (in_table) {
        uint32_t j = tcb_find_slot(t, &r->key, r->hash);
        if (t->slots[j].idx1 == i + 1)
            tcb_slot_delete(t, j);
    }
    int rc = tcb_emit(t, r);
    r->next = t->free_head;
    t->free_head = i;
    if (!(r->rf & RF_DONE))
        t->st.live--;
    t->st.held--;
    return rc;
}

/* Expiry of TIME-WAIT endpoints at record end: those whose 2*MSL ran out by
 * `until` go CLOSED at their own deadline. */
void tcb_expire_time_wait(struct tcb_table *t, struct tcb_rec *r, uint64_t until)
{
    for (int s = 0; s < 2; s++) {
        struct tcb_ep *e = &r->ep[s];
        if (e->state == TCB_TIME_WAIT && e->tw_ns + t->cfg.time_wait_ns <= until)
            tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_TIME_WAIT_EXPIRED,
                          e->tw_ns + t->cfg.time_wait_ns, 0);
    }
}

/* When the record stops being held, by its own times alone: a closed one
 * 2*MSL after it closed (or TIME-WAIT last restarted), an open one an idle
 * timeout after its last segment. */
uint64_t tcb_deadline(const struct tcb_table *t, const struct tcb_rec *r)
{
    return (r->rf & RF_DONE) ? r->done_ns + t->cfg.time_wait_ns
                             : r->last_ns + t->cfg.idle_timeout_ns;
}

/* Finish record i as its deadline finishes it: TIME-WAIT endpoints whose
 * 2*MSL ran out by then go CLOSED, then it is emitted.  The result depends
 * on the record alone, never on when this runs. */
int tcb_retire(struct tcb_table *t, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    tcb_expire_time_wait(t, r, tcb_deadline(t, r));
    return tcb_finish_rec(t, i, true);
}

/*
 * Reclaim the records whose deadline has passed on the table's clock.  Only
 * memory depends on when this runs: a record is finished by tcb_retire()
 * from its own deadline, and a segment for a record past its deadline
 * retires it first (tcb.c), wherever the sweep has got to.
 */
int tcb_expire(struct tcb_table *t)
{
    int rc;
    /* Closed records, in order of closing. */
    while (t->done.head != TCB_NIL) {
        if (tcb_deadline(t, R(t, t->done.head)) > t->now)
            break;
        if ((rc = tcb_retire(t, t->done.head)) != 0)
            return rc;
    }
    /* Idle records.  The active list is in order of when each record was
     * last put at its tail (list_ns), and records are moved only here, when
     * they reach the head having been active since: one record touched per
     * check instead of three list neighbours per packet. */
    while (t->active.head != TCB_NIL) {
        uint32_t i = t->active.head;
        struct tcb_rec *r = R(t, i);
        if (r->list_ns + t->cfg.idle_timeout_ns > t->now)
            break;
        if (tcb_deadline(t, r) > t->now) {
            tcb_list_remove(t, &t->active, i);
            r->list_ns = r->last_ns;
            tcb_list_append(t, &t->active, i);
            continue;
        }
        if ((rc = tcb_retire(t, i)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Ghosts: closed records written before their TIME-WAIT ran out.
 */
static struct tcb_ghost *tcb_ghost_find(struct tcb_table *t, const struct tcb_key *k,
                                        uint32_t h)
{
    uint32_t mask = t->capghosts - 1;
    for (uint32_t j = h & mask;; j = (j + 1) & mask) {
        struct tcb_ghost *g = &t->ghosts[j];
        if (!g->hash)
            return NULL;
        if (g->hash == h && memcmp(&g->key, k, sizeof(*k)) == 0)
            return g;
    }
}

/* Delete ghost slot j with backward shift (as tcb_slot_delete). */
static void tcb_ghost_delete(struct tcb_table *t, uint32_t j)
{
    uint32_t mask = t->capghosts - 1;
    t->ghosts[j].hash = 0;
    t->nghosts--;
    for (uint32_t i = (j + 1) & mask; t->ghosts[i].hash; i = (i + 1) & mask) {
        uint32_t home = t->ghosts[i].hash & mask;
        bool in_range = (j < i) ? (home > j && home <= i) : (home > j || home <= i);
        if (!in_range) {
            t->ghosts[j] = t->ghosts[i];
            t->ghosts[i].hash = 0;
            j = i;
        }
    }
}

/* Rebuild the ghost table at capacity n, dropping ghosts past their deadline. */
static int tcb_ghost_rehash(struct tcb_table *t, uint32_t n)
{
    struct tcb_ghost *g = calloc(n, sizeof(*g)), *old = t->ghosts;
    if (!g)
        return -ENOMEM;
    uint32_t oc = t->capghosts;
    t->ghosts = g;
    t->capghosts = n;
    t->nghosts = 0;
    for (uint32_t i = 0; i < oc; i++) {
        if (!old[i].hash || old[i].deadline <= t->now)
            continue;
        uint32_t j = old[i].hash & (n - 1);
        while (g[j].hash)
            j = (j + 1) & (n - 1);
        g[j] = old[i];
        t->nghosts++;
    }
    free(old);
    return 0;
}

static int tcb_ghost_add(struct tcb_table *t, const struct tcb_rec *r, uint64_t deadline)
{
    int rc;
    if ((t->nghosts + 1) * 10 >= t->capghosts * 7) {
        /* Full: drop the expired first; grow only if that did not free a third. */
        uint32_t n = t->capghosts ? t->capghosts : 256;
        if ((rc = tcb_ghost_rehash(t, n)) != 0)
            return rc;
        if ((t->nghosts + 1) * 10 >= n * 5 && (rc = tcb_ghost_rehash(t, n * 2)) != 0)
            return rc;
    }
    uint32_t h = r->hash ? r->hash : 1, mask = t->capghosts - 1;
    struct tcb_ghost *g = tcb_ghost_find(t, &r->key, h);
    if (!g) {
        uint32_t j = h & mask;
        while (t->ghosts[j].hash)
            j = (j + 1) & mask;
        g = &t->ghosts[j];
        t->nghosts++;
    }
    g->key = r->key;
    g->hash = h;
    g->incarnation = r->incarnation;
    g->deadline = deadline;
    return 0;
}

/*
 * A segment at ts found no record for key k.  Returns 1 when a ghost of a
 * closed record written early still holds the tuple (its TIME-WAIT has not
 * run out by ts): *incarnation is that record's number, and the ghost is
 * gone.  Returns 0 otherwise.
 */
int tcb_ghost_take(struct tcb_table *t, const struct tcb_key *k, uint32_t h, uint64_t ts,
                   uint32_t *incarnation)
{
    if (!t->nghosts)
        return 0;
    h = h ? h : 1;
    struct tcb_ghost *g = tcb_ghost_find(t, k, h);
    if (!g)
        return 0;
    bool live = g->deadline > ts;
    *incarnation = g->incarnation;
    tcb_ghost_delete(t, (uint32_t)(g - t->ghosts));
    return live;
}

/* ------------------------------------------------------------------------
 * Creating records.
 */
void tcb_make_key(const struct tcb_table *t, const struct dis_pkt *p, struct tcb_key *k)
{
    memset(k, 0, sizeof(*k));
    size_t n = p->ip_version == 6 ? 16 : 4;
    int c = memcmp(p->src, p->dst, n);
    bool src_first = c < 0 || (c == 0 && p->sport <= p->dport);
    if (src_first) {
        memcpy(k->a, p->src, n), memcpy(k->b, p->dst, n);
        k->pa = p->sport, k->pb = p->dport;
    } else {
        memcpy(k->a, p->dst, n), memcpy(k->b, p->src, n);
        k->pa = p->dport, k->pb = p->sport;
    }
    k->ver = p->ip_version;
    k->vlan = (t->cfg.vlan_in_key && p->vlan_count) ? (uint16_t)(p->vlan[0] + 1) : 0;
}

int tcb_new_rec(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k,
                       uint32_t h, bool sender_is_client, uint32_t incarnation, uint32_t *out)
{
    uint32_t i;
    int rc = tcb_alloc_rec(t, &i);
    if (rc)
        return rc;
    struct tcb_rec *r = R(t, i);
    memset(r, 0, offsetof(struct tcb_rec, ev));
    r->key = *k;
    r->hash = h;
    r->id = ++t->next_id;
    r->incarnation = incarnation;
    r->ip_version = p->ip_version;
    if (p->vlan_count) {
        r->vlan = p->vlan[0];
        r->have |= TCB_HAVE_VLAN;
    }
    int cs = sender_is_client ? 0 : 1;
    struct tcb_ep *c = &r->ep[TCB_CLIENT], *s = &r->ep[TCB_SERVER];
    memcpy(sender_is_client ? c->addr : s->addr, p->src, 16);
    memcpy(sender_is_client ? s->addr : c->addr, p->dst, 16);
    c->port = sender_is_client ? p->sport : p->dport;
    s->port = sender_is_client ? p->dport : p->sport;
    c->state = s->state = TCB_CLOSED;
    r->first_sender = (uint8_t)cs;
    r->first_ns = r->last_ns = r->list_ns = p->ts_ns;
    r->prev = r->next = TCB_NIL;
    zeek_init(&r->zeek);
    tcb_list_append(t, &t->active, i);
    t->st.connections++;
    if (++t->st.live > t->st.peak_live)
        t->st.peak_live = t->st.live;
    if (++t->st.held > t->st.peak_held)
        t->st.peak_held = t->st.held;
    *out = i;
    return 0;
}

/* Place the record on the list that matches its state; ts is the time of
 * the segment just processed (the record's own clock). */
void tcb_relist(struct tcb_table *t, uint32_t i, uint64_t ts)
{
    struct tcb_rec *r = R(t, i);
    bool done = ep_idle_state(r->ep[0].state) && ep_idle_state(r->ep[1].state) &&
                (r->ep[0].f | r->ep[1].f);
    bool was = r->rf & RF_DONE;
    if (done && !was) {
        tcb_list_remove(t, &t->active, i);
        r->rf |= RF_DONE;
        r->done_ns = ts;
        tcb_list_append(t, &t->done, i);
        t->st.live--;
    } else if (!done && was) {
        tcb_list_remove(t, &t->done, i);
        r->rf &= ~(uint32_t)RF_DONE;
        r->list_ns = ts;
        tcb_list_append(t, &t->active, i);
        if (++t->st.live > t->st.peak_live)
            t->st.peak_live = t->st.live;
    } else if (done && (r->ep[0].state == TCB_TIME_WAIT || r->ep[1].state == TCB_TIME_WAIT)) {
        /* A FIN retransmitted into TIME-WAIT restarted 2*MSL. */
        uint64_t tw = 0;
        for (int s = 0; s < 2; s++)
            if (r->ep[s].state == TCB_TIME_WAIT && r->ep[s].tw_ns > tw)
                tw = r->ep[s].tw_ns;
        if (tw > r->done_ns) {
            r->done_ns = tw;
            tcb_list_remove(t, &t->done, i);
            tcb_list_append(t, &t->done, i);
        }
    }
}

static int tcb_evict_one(struct tcb_table *t, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    r->rf |= RF_EVICTED;
    tcb_anomaly(r, TCB_CLIENT, TCB_ANOM_EVICTED, NULL);
    t->st.evictions++;
    return tcb_finish_rec(t, i, true);
}

/* The initial retransmission timeout (RFC 6298 §2.1): a half-open record
 * younger than this may still be answered. */
#define TCB_INITIAL_RTO_NS 1000000000ULL

/*
 * --max-connections is reached: make room, in a batch so the cost is paid
 * rarely, taking first what changes the results least:
 *  0. records past their own deadline (the sweep had not reached them):
 *     finished exactly as without a cap;
 *  1. closed records waiting out TIME-WAIT, oldest first: written now as
 *     their deadline would write them (not flagged), leaving a ghost so a
 *     SYN on the tuple still counts as the next incarnation;
 *  2. established (or mid-stream) records idle for longer than the initial
 *     RTO, least recently active first;
 *  3. half-open records idle for longer than the initial RTO;
 *  4. half-open records, then any, least recently active first.
 * Records of steps 2-4 are written flagged `evicted`, never dropped.
 * "Least recently active" follows the active list, which the sweep keeps
 * roughly in order of last activity.
 */
int tcb_evict(struct tcb_table *t)
{
    uint64_t want = t->cfg.max_connections / 8 + 1, n = 0;
    uint32_t i, next;
    int rc;
    for (i = t->done.head; i != TCB_NIL; i = next) {
        next = R(t, i)->next;
        if (tcb_deadline(t, R(t, i)) <= t->now) {
            if ((rc = tcb_retire(t, i)) != 0)
                return rc;
            n++;
        }
    }
    for (i = t->active.head; i != TCB_NIL; i = next) {
        next = R(t, i)->next;
        if (tcb_deadline(t, R(t, i)) <= t->now) {
            if ((rc = tcb_retire(t, i)) != 0)
                return rc;
            n++;
        }
    }
    while (n < want && t->done.head != TCB_NIL) {
        struct tcb_rec *r = R(t, t->done.head);
        if ((rc = tcb_ghost_add(t, r, tcb_deadline(t, r))) != 0)
            return rc;
        t->st.retired_early++;
        if ((rc = tcb_retire(t, t->done.head)) != 0)
            return rc;
        n++;
    }
    for (int pass = 0; pass < 4 && n < want; pass++) {
        for (i = t->active.head; i != TCB_NIL && n < want; i = next) {
            const struct tcb_rec *r = R(t, i);
            next = r->next;
            bool open = r->rf & (RF_ESTABLISHED | RF_MIDSTREAM);
            bool idle = r->last_ns + TCB_INITIAL_RTO_NS <= t->now;
            if ((pass == 0 && !(open && idle)) || (pass == 1 && (open || !idle)) ||
                (pass == 2 && open))
                continue;
            if ((rc = tcb_evict_one(t, i)) != 0)
                return rc;
            n++;
        }
    }
    return 0;
}
