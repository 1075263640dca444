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
    uint64_t w[6];
    int n = 0;
    w[n++] = tcb_load64(k->a);
    if (k->ver == 6)
        w[n++] = tcb_load64(k->a + 8);
    w[n++] = tcb_load64(k->b);
    if (k->ver == 6)
        w[n++] = tcb_load64(k->b + 8);
    w[n++] = (uint64_t)k->pa << 48 | (uint64_t)k->pb << 32 | (uint64_t)k->vlan << 16 | k->ver;
    if (k->tun)
        w[n++] = k->tun;
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
/* List operations on tagged indices (full records and embryos alike). */
void tcb_list_remove(struct tcb_table *t, struct tcb_list *l, uint32_t i)
{
    uint32_t prev = *tcb_prev_of(t, i), next = *tcb_next_of(t, i);
    if (prev != TCB_NIL)
        *tcb_next_of(t, prev) = next;
    else
        l->head = next;
    if (next != TCB_NIL)
        *tcb_prev_of(t, next) = prev;
    else
        l->tail = prev;
    *tcb_prev_of(t, i) = *tcb_next_of(t, i) = TCB_NIL;
}

void tcb_list_append(struct tcb_table *t, struct tcb_list *l, uint32_t i)
{
    *tcb_next_of(t, i) = TCB_NIL;
    *tcb_prev_of(t, i) = l->tail;
    if (l->tail != TCB_NIL)
        *tcb_next_of(t, l->tail) = i;
    else
        l->head = i;
    l->tail = i;
}

/* Put i where old is in list l (old leaves it). */
void tcb_list_replace(struct tcb_table *t, struct tcb_list *l, uint32_t old, uint32_t i)
{
    uint32_t prev = *tcb_prev_of(t, old), next = *tcb_next_of(t, old);
    *tcb_prev_of(t, i) = prev;
    *tcb_next_of(t, i) = next;
    if (prev != TCB_NIL)
        *tcb_next_of(t, prev) = i;
    else
        l->head = i;
    if (next != TCB_NIL)
        *tcb_prev_of(t, next) = i;
    else
        l->tail = i;
    *tcb_prev_of(t, old) = *tcb_next_of(t, old) = TCB_NIL;
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
        if (sl->hash == h && memcmp(tcb_slot_key(t, sl->idx1), k, sizeof(*k)) == 0)
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

int tcb_alloc_rec(struct tcb_table *t, uint32_t *out)
{
    if (t->free_head != TCB_NIL) {
        *out = t->free_head;
        t->free_head = R(t, *out)->next;
        return 0;
    }
    if ((t->nrecs >> TCB_CHUNK_SHIFT) == t->nchunks) {
        if (t->nchunks == (TCB_MAX_INDEX >> TCB_CHUNK_SHIFT))
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
    t->nfull--;
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

static int tcb_fold_expire(struct tcb_table *t);
static int tcb_fold(struct tcb_table *t, uint32_t i);

/* A closed record is folded (below) once it has been closed this long: a
 * last ACK or a retransmitted FIN usually comes within an RTO, and would
 * only unfold it again. */
#define TCB_FOLD_AFTER_NS 1000000000ULL

/*
 * Reclaim the records whose deadline has passed on the table's clock.  Only
 * memory depends on when this runs: a record is finished by tcb_retire()
 * from its own deadline, and a segment for a record past its deadline
 * retires it first (tcb.c), wherever the sweep has got to.
 */
int tcb_expire(struct tcb_table *t)
{
    int rc = tcb_fold_expire(t);
    if (rc)
        return rc;
    /* Closed records, in order of closing: past their deadline written,
     * else folded once closed for a while (as Linux keeps a TIME-WAIT
     * connection in a small tcp_timewait_sock, not its full socket). */
    while (t->done.head != TCB_NIL) {
        const struct tcb_rec *r = R(t, t->done.head);
        if (tcb_deadline(t, r) <= t->now)
            rc = tcb_retire(t, t->done.head);
        else if (r->done_ns + TCB_FOLD_AFTER_NS <= t->now && !t->cfg.full_records_only)
            rc = tcb_fold(t, t->done.head);
        else
            break;
        if (rc)
            return rc;
    }
    /* Idle records.  The active list is in order of when each record was
     * last put at its tail (list_ns), and records are moved only here, when
     * they reach the head having been active since: one record touched per
     * check instead of three list neighbours per packet. */
    while (t->active.head != TCB_NIL) {
        uint32_t i = t->active.head;
        uint64_t *list_ns, last_ns;
        if (i & TCB_EMB_BIT) {
            struct tcb_emb *e = E(t, i & ~TCB_EMB_BIT);
            list_ns = &e->list_ns, last_ns = e->last_ns;
        } else {
            list_ns = &R(t, i)->list_ns, last_ns = R(t, i)->last_ns;
        }
        if (*list_ns + t->cfg.idle_timeout_ns > t->now)
            break;
        if (last_ns + t->cfg.idle_timeout_ns > t->now) {
            tcb_list_remove(t, &t->active, i);
            *list_ns = last_ns;
            tcb_list_append(t, &t->active, i);
            continue;
        }
        rc = (i & TCB_EMB_BIT) ? tcb_emb_finish(t, i & ~TCB_EMB_BIT, false, false)
                               : tcb_retire(t, i);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Folded records: closed records waiting out TIME-WAIT, moved out of the
 * record pool into a blob of their non-zero words (a second after they
 * close, or at once to make room under --max-connections).  Nothing is
 * lost: a segment for one unfolds it into a full record again, and its
 * deadline writes it exactly as it would have been written unfolded.  A
 * blob keeps its record's hash slot (TCB_FOLD_BIT | k + 1 for blobs[k]) and
 * is expired in the order of folding (a FIFO); a blob unfolded or written
 * is marked dead and freed when the FIFO reaches it.
 */
/* The record image a blob holds: from just after the key to the end of its
 * timeline and anomalies, in whole words (the layout of struct tcb_rec). */
#define TCB_IMG_OFF sizeof(struct tcb_key)
#define TCB_FOLD_MAP_WORDS 3 /* bitmap words: one bit per 8 bytes of a record */
#define TCB_IMG_PREFIX (offsetof(struct tcb_rec, ev) - TCB_IMG_OFF)
_Static_assert(TCB_IMG_OFF % 8 == 0 && TCB_IMG_PREFIX % 8 == 0, "records fold by words");
_Static_assert(sizeof(struct tcb_ev_int) % 8 == 0 && sizeof(struct tcb_an_int) % 8 == 0,
               "timeline entries fold by words");

/* Copy record r's image into img (uint64 words); returns the word count. */
static unsigned tcb_image(const struct tcb_rec *r, uint64_t *img)
{
    unsigned char *p = (unsigned char *)img;
    size_t evb = r->nev * sizeof(r->ev[0]), anb = r->nanom * sizeof(r->an[0]);
    memcpy(p, (const unsigned char *)r + TCB_IMG_OFF, TCB_IMG_PREFIX);
    memcpy(p + TCB_IMG_PREFIX, r->ev, evb);
    memcpy(p + TCB_IMG_PREFIX + evb, r->an, anb);
    return (unsigned)((TCB_IMG_PREFIX + evb + anb) / 8);
}

/* Copy blob b back into the full record layout at dst. */
static void tcb_unfold_into(const struct tcb_blob *b, struct tcb_rec *dst)
{
    uint64_t img[sizeof(struct tcb_rec) / 8];
    unsigned nmap = (b->nwords + 63u) / 64u;
    const uint64_t *w = b->data + nmap;
    for (unsigned k = 0; k < b->nwords; k++)
        img[k] = (b->data[k / 64] >> (k % 64) & 1) ? *w++ : 0;
    const unsigned char *p = (const unsigned char *)img;
    size_t evb = b->nev * sizeof(dst->ev[0]);
    dst->key = b->key;
    memcpy((unsigned char *)dst + TCB_IMG_OFF, p, TCB_IMG_PREFIX);
    memcpy(dst->ev, p + TCB_IMG_PREFIX, evb);
    memcpy(dst->an, p + TCB_IMG_PREFIX + evb, b->nanom * sizeof(dst->an[0]));
}

/* Room for one more blob: an index in blobs[] (*k) and a place in the FIFO. */
static int tcb_fold_room(struct tcb_table *t, uint32_t *k)
{
    if (t->nbfree == 0 && t->nblobs == t->capblobs) {
        uint32_t n = t->capblobs ? t->capblobs * 2 : 1024;
        if (n > TCB_MAX_INDEX)
            return -ENOMEM;
        struct tcb_blob **b = realloc(t->blobs, n * sizeof(*b));
        if (!b)
            return -ENOMEM;
        t->blobs = b;
        uint32_t *f = realloc(t->bfree, n * sizeof(*f));
        if (!f)
            return -ENOMEM;
        t->bfree = f;
        t->capblobs = n;
    }
    if (t->fifo_len == t->fifo_cap) {
        uint32_t n = t->fifo_cap ? t->fifo_cap * 2 : 1024;
        struct tcb_blob **q = malloc(n * sizeof(*q));
        if (!q)
            return -ENOMEM;
        for (uint32_t i = 0; i < t->fifo_len; i++)
            q[i] = t->fifo[(t->fifo_head + i) & (t->fifo_cap - 1)];
        free(t->fifo);
        t->fifo = q;
        t->fifo_cap = n;
        t->fifo_head = 0;
    }
    *k = t->nbfree ? t->bfree[--t->nbfree] : t->nblobs++;
    return 0;
}

/* Blob b no longer has a slot: its index is free again. */
static void tcb_blob_release(struct tcb_table *t, struct tcb_blob *b)
{
    t->blobs[b->k] = NULL;
    t->bfree[t->nbfree++] = b->k;
}

/* Fold closed record i out of the pool. */
static int tcb_fold(struct tcb_table *t, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    assert(r->rf & RF_DONE);
    uint32_t k;
    int rc = tcb_fold_room(t, &k);
    if (rc)
        return rc;
    uint64_t img[sizeof(struct tcb_rec) / 8], map[TCB_FOLD_MAP_WORDS] = {0};
    unsigned n = tcb_image(r, img), used = 0;
    _Static_assert(sizeof(struct tcb_rec) / 8 <= 64 * TCB_FOLD_MAP_WORDS, "bitmap words");
    for (unsigned w = 0; w < n; w++)
        if (img[w]) {
            map[w / 64] |= 1ULL << (w % 64);
            used++;
        }
    unsigned nmap = (n + 63u) / 64u;
    struct tcb_blob *blob = malloc(sizeof(*blob) + (nmap + used) * sizeof(uint64_t));
    if (!blob) {
        t->bfree[t->nbfree++] = k;
        return -ENOMEM;
    }
    blob->key = r->key;
    blob->id = r->id;
    blob->deadline = tcb_deadline(t, r);
    blob->hash = r->hash;
    blob->k = k;
    blob->dead = 0;
    blob->nev = r->nev;
    blob->nanom = r->nanom;
    blob->nwords = (uint8_t)n;
    memcpy(blob->data, map, nmap * sizeof(uint64_t));
    for (unsigned w = 0, o = nmap; w < n; w++)
        if (img[w])
            blob->data[o++] = img[w];

    /* The blob takes the record's slot. */
    uint32_t j = tcb_find_slot(t, &r->key, r->hash);
    assert(t->slots[j].idx1 == i + 1);
    t->slots[j].idx1 = TCB_FOLD_BIT | (k + 1);
    t->blobs[k] = blob;
    tcb_list_remove(t, &t->done, i);
    r->next = t->free_head;
    t->free_head = i;
    t->nfull--;
    t->fifo[(t->fifo_head + t->fifo_len++) & (t->fifo_cap - 1)] = blob;
    t->st.folded++;
    return 0;
}

/* Write blob b as its deadline writes it (it leaves the table). */
static int tcb_fold_emit(struct tcb_table *t, struct tcb_blob *b)
{
    struct tcb_rec tmp;
    tcb_unfold_into(b, &tmp);
    tcb_expire_time_wait(t, &tmp, b->deadline);
    b->dead = 1;
    t->st.held--;
    return tcb_emit(t, &tmp);
}

/* Free the dead blobs at the FIFO's head and write those whose deadline
 * passed on the table's clock. */
static int tcb_fold_expire(struct tcb_table *t)
{
    while (t->fifo_len) {
        struct tcb_blob *b = t->fifo[t->fifo_head];
        if (!b->dead) {
            if (b->deadline > t->now)
                return 0;
            uint32_t j = tcb_find_slot(t, &b->key, b->hash);
            assert(t->slots[j].idx1 == (TCB_FOLD_BIT | (b->k + 1)));
            tcb_slot_delete(t, j);
            tcb_blob_release(t, b);
            int rc = tcb_fold_emit(t, b);
            if (rc)
                return rc;
        }
        free(b);
        t->fifo_head = (t->fifo_head + 1) & (t->fifo_cap - 1);
        t->fifo_len--;
    }
    return 0;
}

/*
 * A segment at ts found the folded record in slot j.  Past its deadline it
 * is written and leaves the table (return 0); else it is unfolded into a
 * full record on the done list, in the same slot, *out (return 1).
 */
int tcb_fold_take(struct tcb_table *t, uint32_t j, uint64_t ts, uint32_t *out)
{
    struct tcb_blob *b = t->blobs[(t->slots[j].idx1 & ~TCB_FOLD_BIT) - 1];
    if (b->deadline <= ts) {
        tcb_slot_delete(t, j);
        tcb_blob_release(t, b);
        return tcb_fold_emit(t, b);
    }
    uint32_t i;
    int rc = 0;
    b->dead = 1; /* an eviction now must not fold or write it */
    if (t->cfg.max_connections && t->nfull + t->nemb_live >= t->cfg.max_connections)
        rc = tcb_evict(t);
    if (rc || (rc = tcb_alloc_rec(t, &i)) != 0)
        return rc;
    struct tcb_rec *r = R(t, i);
    tcb_unfold_into(b, r);
    tcb_list_append(t, &t->done, i);
    j = tcb_find_slot(t, &b->key, b->hash); /* an eviction may have moved it */
    t->slots[j].idx1 = i + 1;
    tcb_blob_release(t, b);
    t->nfull++;
    *out = i;
    return 1;
}

/* Every folded record still held, for the end of the run. */
uint32_t tcb_fold_list(const struct tcb_table *t, struct tcb_blob **out)
{
    uint32_t n = 0;
    for (uint32_t x = 0; x < t->fifo_len; x++) {
        struct tcb_blob *b = t->fifo[(t->fifo_head + x) & (t->fifo_cap - 1)];
        if (!b->dead)
            out[n++] = b;
    }
    return n;
}

/* Write folded record b at the end of the run (states at the capture end). */
int tcb_fold_finish(struct tcb_table *t, struct tcb_blob *b)
{
    struct tcb_rec tmp;
    tcb_unfold_into(b, &tmp);
    tcb_expire_time_wait(t, &tmp, t->now);
    b->dead = 1;
    t->st.held--;
    return tcb_emit(t, &tmp);
}

void tcb_fold_free(struct tcb_table *t)
{
    for (uint32_t x = 0; x < t->fifo_len; x++)
        free(t->fifo[(t->fifo_head + x) & (t->fifo_cap - 1)]);
    free(t->fifo);
    free(t->blobs);
    free(t->bfree);
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
    /* Tenants behind one tunnel endpoint pair reuse addresses: the VNI / key separates them. */
    k->tun = p->has_tunnel_id ? (1ULL << 32 | p->tunnel_id) : 0;
}

/* Fill record r for a connection whose first segment is p (no table work). */
void tcb_rec_init(struct tcb_rec *r, const struct dis_pkt *p, const struct tcb_key *k, uint32_t h,
                  bool sender_is_client, uint32_t incarnation, uint64_t id)
{
    memset(r, 0, offsetof(struct tcb_rec, ev));
    r->key = *k;
    r->hash = h;
    r->id = id;
    r->incarnation = incarnation;
    r->ip_version = p->ip_version;
    if (p->vlan_count) {
        r->vlan = p->vlan[0];
        r->have |= TCB_HAVE_VLAN;
    }
    r->tunnel = p->tunnel;
    if (p->has_tunnel_id)
        r->have |= TCB_HAVE_TUNNEL_ID;
    struct tcb_ep *c = &r->ep[TCB_CLIENT], *s = &r->ep[TCB_SERVER];
    memcpy(sender_is_client ? c->addr : s->addr, p->src, 16);
    memcpy(sender_is_client ? s->addr : c->addr, p->dst, 16);
    c->port = sender_is_client ? p->sport : p->dport;
    s->port = sender_is_client ? p->dport : p->sport;
    c->state = s->state = TCB_CLOSED;
    r->first_sender = sender_is_client ? 0 : 1;
    r->first_ns = r->last_ns = r->list_ns = p->ts_ns;
    r->first_frame = r->last_frame = p->frame;
    r->prev = r->next = TCB_NIL;
    zeek_init(&r->zeek);
}

/* A new full record in the pool, on the active list (id: 0 = the next one). */
int tcb_new_rec(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k,
                uint32_t h, bool sender_is_client, uint32_t incarnation, uint64_t id,
                uint32_t *out)
{
    uint32_t i;
    int rc = tcb_alloc_rec(t, &i);
    if (rc)
        return rc;
    tcb_rec_init(R(t, i), p, k, h, sender_is_client, incarnation, id ? id : ++t->next_id);
    tcb_list_append(t, &t->active, i);
    if (!id) { /* a new connection, not an embryonic one grown up */
        t->st.connections++;
        if (++t->st.live > t->st.peak_live)
            t->st.peak_live = t->st.live;
        if (++t->st.held > t->st.peak_held)
            t->st.peak_held = t->st.held;
    }
    t->nfull++;
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
 * --max-connections full records are held: make room, in a batch so the cost is paid
 * rarely, taking first what changes the results least (open connections are
 * finished early only when steps 0 and 1 cannot bring the count under the cap):
 *  0. records past their own deadline (the sweep had not reached them):
 *     finished exactly as without a cap;
 *  1. closed records waiting out TIME-WAIT, oldest first: folded out of
 *     the pool (exact: a later segment unfolds them);
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
        next = *tcb_next_of(t, i);
        if (i & TCB_EMB_BIT) {
            if (E(t, i & ~TCB_EMB_BIT)->last_ns + t->cfg.idle_timeout_ns <= t->now) {
                if ((rc = tcb_emb_finish(t, i & ~TCB_EMB_BIT, false, false)) != 0)
                    return rc;
                n++;
            }
        } else if (tcb_deadline(t, R(t, i)) <= t->now) {
            if ((rc = tcb_retire(t, i)) != 0)
                return rc;
            n++;
        }
    }
    uint64_t cap = t->cfg.max_connections;
    while (t->done.head != TCB_NIL && (n < want || t->nfull + t->nemb_live >= cap)) {
        if ((rc = tcb_fold(t, t->done.head)) != 0)
            return rc;
        n++;
    }
    if (t->nfull + t->nemb_live < cap)
        return 0; /* room made without finishing an open connection early */
    n = 0; /* open ones go in a batch of their own */
    for (int pass = 0; pass < 4 && n < want; pass++) {
        for (i = t->active.head; i != TCB_NIL && n < want; i = next) {
            next = *tcb_next_of(t, i);
            bool emb = i & TCB_EMB_BIT; /* an embryo: half-open, all it holds is a SYN */
            const struct tcb_rec *r = emb ? NULL : R(t, i);
            bool open = !emb && (r->rf & (RF_ESTABLISHED | RF_MIDSTREAM));
            uint64_t last = emb ? E(t, i & ~TCB_EMB_BIT)->last_ns : r->last_ns;
            bool idle = last + TCB_INITIAL_RTO_NS <= t->now;
            if ((pass == 0 && !(open && idle)) || (pass == 1 && (open || !idle)) ||
                (pass == 2 && open))
                continue;
            rc = emb ? tcb_emb_finish(t, i & ~TCB_EMB_BIT, true, false) : tcb_evict_one(t, i);
            if (rc)
                return rc;
            n++;
        }
    }
    return 0;
}
