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

#include "tcb.h"
#include "zeek_int.h"

/* Sequence arithmetic mod 2^32 [RFC 9293 §3.4, Linux before()/after()]. */
static inline bool tcb_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool tcb_seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
#define tcb_seq_gt(a, b) tcb_seq_lt((b), (a))
#define tcb_seq_geq(a, b) tcb_seq_leq((b), (a))

#define TCB_MAX_EVENTS 20 /* a full open and close takes at most 14 */
#define TCB_MAX_ANOMS 8

/* Timeline entries as kept in a record: 16 bytes, widened to the public
 * struct tcb_event only when the record is emitted.  Frames up to 2^40. */
struct tcb_ev_int {
    uint64_t ts_ns;
    uint32_t frame_lo;
    uint8_t frame_hi;
    uint8_t ep_from; /* endpoint << 4 | from-state */
    uint8_t to;
    uint8_t cause;
};

struct tcb_an_int {
    uint64_t ts_ns;
    uint32_t frame_lo;
    uint8_t frame_hi;
    uint8_t endpoint;
    uint8_t kind;
    uint8_t pad_;
};
#define TCB_NIL UINT32_MAX

/* Facts about one endpoint (bits of tcb_ep.f). */
#define EP_SYN_SENT 0x0001     /* sent a SYN without ACK (isn valid) */
#define EP_SYNACK_SENT 0x0002  /* sent a SYN/ACK (isn valid) */
#define EP_ISN 0x0004          /* isn known */
#define EP_SEQ 0x0008          /* lo/snd_max valid */
#define EP_ACKED 0x0010        /* has sent an ACK: ack_max valid */
#define EP_FIN 0x0020          /* sent a FIN at fin_seq */
#define EP_WANT_SYN 0x0040     /* a SYN seen while CLOSED: to become SYN-SENT */
#define EP_GOT_SYN 0x0080      /* evidence: received the peer's SYN */
#define EP_GOT_SYNACK 0x0100   /* evidence: received a SYN/ACK for its SYN */
#define EP_GOT_ACK_SYN 0x0200  /* peer ACKed our SYN (assumed delivered) */
#define EP_GOT_FIN 0x0400      /* received the peer's FIN */
#define EP_GOT_ACK_FIN 0x0800  /* peer ACKed our FIN (assumed delivered) */
#define EP_WS 0x1000           /* window scale option on its SYN */
#define EP_SACKP 0x2000        /* SACK-permitted on its SYN */
#define EP_TS 0x4000           /* timestamps on its SYN */
#define EP_PASSED_SR 0x8000    /* went through SYN-RECEIVED */

/* Record flags (tcb_rec.rf). */
#define RF_DONE 0x0001          /* both endpoints CLOSED/TIME-WAIT: on the done list */
#define RF_MIDSTREAM 0x0002
#define RF_ESTABLISHED 0x0004   /* some endpoint reached ESTABLISHED */
#define RF_REFUSED 0x0008
#define RF_HS_RESET 0x0010      /* RST after the SYN/ACK, before completion */
#define RF_RST_ABORT 0x0020     /* an accepted RST ended an open connection */
#define RF_SIM_CLOSE 0x0040     /* FINs crossed */
#define RF_TFO 0x0080
#define RF_EVICTED 0x0100
#define RF_SERVER_ANSWERED 0x0200 /* server sent anything */
#define RF_ACK_UNSEEN0 0x0800   /* anomaly ack_unseen_data reported for sender 0 */
#define RF_ACK_UNSEEN1 0x1000
#define RF_DATA_AFTER_FIN0 0x2000
#define RF_DATA_AFTER_FIN1 0x4000

struct tcb_ep {
    uint8_t addr[16];
    uint16_t port;
    uint8_t state;
    uint8_t wscale;
    uint16_t f;       /* EP_* */
    uint16_t mss;
    uint32_t isn;
    uint32_t alt_isn; /* a second SYN/ACK ISN, until the client's ACK picks one */
    uint64_t alt_ns;
    uint32_t snd_max; /* highest sequence number sent + 1 (data, SYN and FIN count) */
    uint32_t lo;      /* lowest data sequence number seen */
    uint64_t span;    /* snd_max - lo, in 64 bits (long transfers wrap 2^32) */
    uint32_t fin_seq;
    uint32_t ack_max; /* highest ACK this endpoint sent */
    uint16_t win;     /* last window it advertised (raw) */
    uint8_t ord_fin, ord_got_fin, ord_ack_fin; /* order in which FIN facts arrived */
    uint64_t tw_ns;   /* when it entered TIME-WAIT */
    uint64_t packets, retrans;
};

/* Canonical key: the lower (address, port) first, so both directions meet. */
struct tcb_key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint16_t vlan;
    uint8_t ver;
    uint8_t pad_;
};

struct tcb_rec {
    struct tcb_key key;
    uint64_t id;
    uint32_t incarnation;
    uint32_t prev, next; /* expiry list links (indices) */
    uint32_t hash;
    uint32_t rf;
    uint8_t ip_version;
    uint8_t first_sender; /* 0 = client sent the first segment of the record, 1 = server */
    uint8_t order;        /* counter for ord_* facts */
    uint8_t rst_by;
    uint8_t nev, nanom;
    uint16_t vlan;
    uint32_t have;
    uint64_t first_ns, last_ns, syn_ns, synack_ns, ack_ns, done_ns;
    uint64_t list_ns; /* when it was last appended to the active list */
    uint32_t syn_retx, synack_retx;
    struct tcb_ep ep[2]; /* TCB_CLIENT, TCB_SERVER */
    struct zeek_state zeek;
    struct tcb_ev_int ev[TCB_MAX_EVENTS];
    struct tcb_an_int an[TCB_MAX_ANOMS];
};

/* A hash slot: the hash beside the index, so probing touches no record. */
struct tcb_slot {
    uint32_t idx1; /* record index + 1, 0 = empty */
    uint32_t hash;
};

#define TCB_CHUNK_SHIFT 12 /* 4096 records a chunk: growing never moves a record */

/* An intrusive doubly-linked list of record indices. */
struct tcb_list {
    uint32_t head, tail;
};

struct tcb_table {
    struct tcb_config cfg;
    struct tcb_output out;
    struct tcb_stats st;
    uint64_t k0, k1; /* SipHash key */

    struct tcb_rec **chunks; /* pool of records in fixed chunks; held by index */
    uint32_t nrecs, nchunks;
    uint32_t free_head; /* free records chained through .next */

    struct tcb_slot *slots; /* open addressing, linear probing */
    uint32_t nslots; /* power of two */
    uint32_t used;

    struct tcb_list active, done;
    uint64_t now;
    uint64_t next_id;

    /* Endpoints seen answering a SYN (for choosing the server mid-stream). */
    struct tcb_listener {
        uint8_t addr[16];
        uint16_t port;
        uint8_t ver, used;
    } *listeners;
    uint32_t nlisteners, caplisteners;
};

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

static uint64_t tcb_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t tcb_hash(const struct tcb_table *t, const struct tcb_key *k)
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
static inline struct tcb_rec *R(struct tcb_table *t, uint32_t i)
{
    return &t->chunks[i >> TCB_CHUNK_SHIFT][i & ((1u << TCB_CHUNK_SHIFT) - 1)];
}

static void tcb_list_remove(struct tcb_table *t, struct tcb_list *l, uint32_t i)
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

static void tcb_list_append(struct tcb_table *t, struct tcb_list *l, uint32_t i)
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

static struct tcb_list *tcb_list_of(struct tcb_table *t, const struct tcb_rec *r)
{
    return (r->rf & RF_DONE) ? &t->done : &t->active;
}

static int tcb_grow_slots(struct tcb_table *t)
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
static uint32_t tcb_find_slot(struct tcb_table *t, const struct tcb_key *k, uint32_t h)
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
static void tcb_slot_delete(struct tcb_table *t, uint32_t j)
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

/* ------------------------------------------------------------------------
 * Timeline and anomalies.
 */
static void tcb_anomaly(struct tcb_rec *r, int side, enum tcb_anomaly kind,
                        const struct dis_pkt *p)
{
    for (unsigned i = 0; i < r->nanom; i++)
        if (r->an[i].kind == kind && r->an[i].endpoint == side)
            return; /* one per kind and sender is enough to flag it */
    if (r->nanom == TCB_MAX_ANOMS) {
        /* Full: the record-level markers still must show; they take the last place. */
        if (kind != TCB_ANOM_EVICTED && kind != TCB_ANOM_TIMELINE_FULL)
            return;
        r->nanom--;
    }
    struct tcb_an_int *a = &r->an[r->nanom++];
    uint64_t frame = p ? p->frame : 0;
    a->ts_ns = p ? p->ts_ns : r->last_ns;
    a->frame_lo = (uint32_t)frame;
    a->frame_hi = (uint8_t)(frame >> 32);
    a->endpoint = (uint8_t)side;
    a->kind = (uint8_t)kind;
}

/* The only writer of ep->state: logs the transition with its cause. */
static void tcb_set_state(struct tcb_table *t, struct tcb_rec *r, int side, enum tcb_state to,
                          enum tcb_cause why, uint64_t ts, uint64_t frame)
{
    struct tcb_ep *e = &r->ep[side];
    assert(to != e->state);
    if (r->nev < TCB_MAX_EVENTS) {
        struct tcb_ev_int *ev = &r->ev[r->nev++];
        ev->ts_ns = ts;
        ev->frame_lo = (uint32_t)frame;
        ev->frame_hi = (uint8_t)(frame >> 32);
        ev->ep_from = (uint8_t)(side << 4 | e->state);
        ev->to = (uint8_t)to;
        ev->cause = (uint8_t)why;
        t->st.events++;
    } else {
        tcb_anomaly(r, side, TCB_ANOM_TIMELINE_FULL, NULL);
    }
    if (to == TCB_ESTABLISHED) {
        r->rf |= RF_ESTABLISHED;
        /* The handshake completes when the client reaches ESTABLISHED. */
        if (side == TCB_CLIENT && why != TCB_CAUSE_MIDSTREAM && !(r->have & TCB_HAVE_ACK)) {
            r->ack_ns = ts;
            r->have |= TCB_HAVE_ACK;
        }
    }
    if (to == TCB_SYN_RECEIVED)
        e->f |= EP_PASSED_SR;
    if (to == TCB_TIME_WAIT)
        e->tw_ns = ts;
    e->state = (uint8_t)to;
}

/* ------------------------------------------------------------------------
 * The state machines.  tcb_settle() moves one endpoint along the RFC 9293
 * edges its facts allow; one short handler per state.
 */
struct tcb_now {
    uint64_t ts, frame;
};

static bool ep_has(const struct tcb_ep *e, uint16_t f)
{
    return (e->f & f) == f;
}

/* Next edge out of `state` for endpoint e, or false when none applies. */
static bool tcb_next_edge(const struct tcb_ep *e, enum tcb_state *to, enum tcb_cause *why)
{
    switch (e->state) {
    case TCB_CLOSED:
        /* RFC 9293 §3.10.1: OPEN call, active: send SYN, enter SYN-SENT */
        if (ep_has(e, EP_WANT_SYN)) {
            *to = TCB_SYN_SENT, *why = TCB_CAUSE_SND_SYN;
            return true;
        }
        return false;
    case TCB_LISTEN:
        /* §3.10.7.2: SYN in LISTEN: send SYN/ACK, enter SYN-RECEIVED */
        if (ep_has(e, EP_GOT_SYN)) {
            *to = TCB_SYN_RECEIVED, *why = TCB_CAUSE_RCV_SYN;
            return true;
        }
        return false;
    case TCB_SYN_SENT:
        /* §3.10.7.3: SYN/ACK acking our SYN: ESTABLISHED */
        if (ep_has(e, EP_GOT_SYNACK)) {
            *to = TCB_ESTABLISHED, *why = TCB_CAUSE_RCV_SYNACK;
            return true;
        }
        /* §3.10.7.3: SYN without ACK in SYN-SENT: SYN-RECEIVED (simultaneous open) */
        if (ep_has(e, EP_GOT_SYN)) {
            *to = TCB_SYN_RECEIVED, *why = TCB_CAUSE_RCV_SYN;
            return true;
        }
        return false;
    case TCB_SYN_RECEIVED:
        /* §3.10.7.4 fifth check: ACK of our SYN: ESTABLISHED */
        if (ep_has(e, EP_GOT_ACK_SYN)) {
            *to = TCB_ESTABLISHED, *why = TCB_CAUSE_RCV_ACK_OF_SYN;
            return true;
        }
        /* §3.10.4: CLOSE in SYN-RECEIVED: send FIN, FIN-WAIT-1 */
        if (ep_has(e, EP_FIN)) {
            *to = TCB_FIN_WAIT_1, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_ESTABLISHED:
        /* Whichever came first: the peer's FIN (CLOSE-WAIT) or our own (FIN-WAIT-1). */
        if (ep_has(e, EP_GOT_FIN) && (!ep_has(e, EP_FIN) || e->ord_got_fin < e->ord_fin)) {
            *to = TCB_CLOSE_WAIT, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        if (ep_has(e, EP_FIN)) {
            *to = TCB_FIN_WAIT_1, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_FIN_WAIT_1:
        /* §3.10.7.4: our FIN ACKed first: FIN-WAIT-2; the peer's FIN first: CLOSING */
        if (ep_has(e, EP_GOT_ACK_FIN) &&
            (!ep_has(e, EP_GOT_FIN) || e->ord_ack_fin < e->ord_got_fin)) {
            *to = TCB_FIN_WAIT_2, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        if (ep_has(e, EP_GOT_FIN)) {
            *to = TCB_CLOSING, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        return false;
    case TCB_FIN_WAIT_2:
        if (ep_has(e, EP_GOT_FIN)) {
            *to = TCB_TIME_WAIT, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        return false;
    case TCB_CLOSE_WAIT:
        if (ep_has(e, EP_FIN)) {
            *to = TCB_LAST_ACK, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_CLOSING:
        if (ep_has(e, EP_GOT_ACK_FIN)) {
            *to = TCB_TIME_WAIT, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        return false;
    case TCB_LAST_ACK:
        if (ep_has(e, EP_GOT_ACK_FIN)) {
            *to = TCB_CLOSED, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        return false;
    default: /* TIME-WAIT leaves by timer or a new incarnation only */
        return false;
    }
}

static void tcb_settle(struct tcb_table *t, struct tcb_rec *r, int side, const struct tcb_now *n)
{
    enum tcb_state to;
    enum tcb_cause why;
    for (int guard = 0; guard < 12 && tcb_next_edge(&r->ep[side], &to, &why); guard++) {
        if (to == TCB_SYN_SENT)
            r->ep[side].f &= (uint16_t)~EP_WANT_SYN;
        tcb_set_state(t, r, side, to, why, n->ts, n->frame);
    }
}

static void tcb_settle_both(struct tcb_table *t, struct tcb_rec *r, const struct tcb_now *n)
{
    tcb_settle(t, r, TCB_CLIENT, n);
    tcb_settle(t, r, TCB_SERVER, n);
}

static void tcb_listener_add(struct tcb_table *t, const struct tcb_ep *e, uint8_t ver);

/*
 * A passive open: the endpoint answers a SYN, so it was in LISTEN.  When the
 * record has no event for it yet, LISTEN is its initial state (its listen()
 * predates the capture, docs/vantage.md rule 5) and the first event reads
 * LISTEN -> SYN-RECEIVED.  When it was seen CLOSED before (e.g. after an
 * RST), the move back to LISTEN is a timeline event of its own.
 */
static void tcb_assume_listen(struct tcb_table *t, struct tcb_rec *r, int side,
                              const struct tcb_now *n)
{
    bool has_events = false;
    for (unsigned i = 0; i < r->nev && !has_events; i++)
        has_events = (r->ev[i].ep_from >> 4) == side;
    if (has_events || r->nev == TCB_MAX_EVENTS)
        tcb_set_state(t, r, side, TCB_LISTEN, TCB_CAUSE_PASSIVE_OPEN, n->ts, n->frame);
    else
        r->ep[side].state = TCB_LISTEN; /* initial state, not a change */
    tcb_listener_add(t, &r->ep[side], r->ip_version);
}

static void ep_fact(struct tcb_rec *r, struct tcb_ep *e, uint16_t f)
{
    if (e->f & f)
        return;
    e->f |= f;
    uint8_t o = ++r->order;
    if (f == EP_FIN)
        e->ord_fin = o;
    else if (f == EP_GOT_FIN)
        e->ord_got_fin = o;
    else if (f == EP_GOT_ACK_FIN)
        e->ord_ack_fin = o;
}

static bool ep_idle_state(uint8_t s)
{
    return s == TCB_CLOSED || s == TCB_TIME_WAIT;
}

/* ------------------------------------------------------------------------
 * Sequence-space bookkeeping of what an endpoint sent.
 */
static void ep_seq_init(struct tcb_ep *e, uint32_t lo)
{
    e->lo = lo;
    e->snd_max = lo;
    e->span = 0;
    e->f |= EP_SEQ;
}

/* Account [seq, end) sent by e; returns true when all of it was seen before. */
static bool ep_seq_advance(struct tcb_ep *e, uint32_t seq, uint32_t end)
{
    if (!(e->f & EP_SEQ))
        ep_seq_init(e, seq);
    if (tcb_seq_lt(seq, e->lo) && !(e->f & EP_ISN)) {
        /* Mid-stream: an earlier segment came late; extend downwards. */
        e->span += (uint32_t)(e->lo - seq);
        e->lo = seq;
    }
    if (tcb_seq_gt(end, e->snd_max)) {
        e->span += (uint32_t)(end - e->snd_max);
        e->snd_max = end;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * RST acceptability, RFC 9293 §3.10.7 with RFC 5961 §3 in mind: an RST
 * is believed only when its sequence number falls in the receiver's window.
 */
static bool tcb_rst_acceptable(const struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    const struct tcb_ep *snd = &r->ep[s], *rcv = &r->ep[!s];
    /* §3.10.7.3: in SYN-SENT an RST is acceptable if it ACKs the SYN. */
    if (rcv->state == TCB_SYN_SENT && (rcv->f & EP_ISN) && !(rcv->f & EP_GOT_SYN)) {
        if (!(p->tcp_flags & DIS_TH_ACK))
            return false;
        return tcb_seq_gt(p->ack, rcv->isn) && tcb_seq_leq(p->ack, rcv->snd_max);
    }
    if (!(snd->f & EP_SEQ))
        return true; /* nothing known of the sender's sequence space */
    /* The receiver expects at least what it last ACKed; it may already have
     * received everything the sender sent (the tap can lag the receiver). */
    uint32_t lo = (rcv->f & EP_ACKED) ? rcv->ack_max : snd->lo;
    if (tcb_seq_gt(lo, snd->snd_max))
        lo = snd->snd_max;
    uint32_t wnd = rcv->win;
    if ((rcv->f & EP_WS) && (snd->f & EP_WS))
        wnd <<= (rcv->wscale > 14 ? 14 : rcv->wscale);
    if (!(rcv->f & EP_ACKED) || wnd == 0)
        wnd = wnd ? wnd : 1;
    uint32_t hi = snd->snd_max + wnd;
    /* The SYN-RECEIVED / reply-to-stray case: seq equals the ACK we carry. */
    return tcb_seq_geq(p->seq, lo) && tcb_seq_lt(p->seq, hi);
}

/* ------------------------------------------------------------------------
 * Emitting.
 */
static bool ep_open_path(const struct tcb_rec *r, int side, enum tcb_ep_open *k);

static void tcb_classify(const struct tcb_rec *r, struct tcb_conn_info *c)
{
    const struct tcb_ep *cl = &r->ep[TCB_CLIENT], *sv = &r->ep[TCB_SERVER];
    bool est = r->rf & RF_ESTABLISHED;

    /* handshake */
    if (r->rf & RF_MIDSTREAM)
        c->handshake = TCB_HS_NOT_SEEN;
    else if (r->rf & RF_REFUSED)
        c->handshake = TCB_HS_REFUSED;
    else if (est)
        c->handshake = TCB_HS_COMPLETE;
    else if (r->rf & RF_HS_RESET)
        c->handshake = TCB_HS_RESET;
    else if (!(r->rf & RF_SERVER_ANSWERED))
        c->handshake = TCB_HS_UNANSWERED;
    else
        c->handshake = TCB_HS_INCOMPLETE;

    /* who opened how */
    enum tcb_ep_open ko[2];
    ep_open_path(r, TCB_CLIENT, &ko[0]);
    ep_open_path(r, TCB_SERVER, &ko[1]);
    c->client_open = (uint8_t)ko[0];
    c->server_open = (uint8_t)ko[1];
    if (r->rf & RF_MIDSTREAM) {
        c->open_kind = TCB_OPEN_MIDSTREAM;
        c->client_open = c->server_open = TCB_EPOPEN_UNKNOWN;
    } else if (!est) {
        c->open_kind = TCB_OPEN_NONE;
    } else if (ko[0] == TCB_EPOPEN_SIMULTANEOUS && ko[1] == TCB_EPOPEN_SIMULTANEOUS) {
        c->open_kind = TCB_OPEN_SIMULTANEOUS;
    } else {
        c->open_kind = TCB_OPEN_ACTIVE_PASSIVE;
    }

    /* how it closed */
    if (r->rf & RF_REFUSED)
        c->close_kind = TCB_CLOSE_REFUSED;
    else if (!est)
        c->close_kind = TCB_CLOSE_NONE;
    else if (r->rf & RF_RST_ABORT)
        c->close_kind = r->rst_by == TCB_CLIENT ? TCB_CLOSE_RESET_CLIENT : TCB_CLOSE_RESET_SERVER;
    else if (r->rf & RF_SIM_CLOSE)
        c->close_kind = TCB_CLOSE_SIMULTANEOUS;
    else if ((cl->f & EP_FIN) && (!(sv->f & EP_FIN) || cl->ord_fin < sv->ord_fin))
        c->close_kind = TCB_CLOSE_ACTIVE_CLIENT;
    else if (sv->f & EP_FIN)
        c->close_kind = TCB_CLOSE_ACTIVE_SERVER;
    else
        c->close_kind = TCB_CLOSE_OPEN;
}

/* How an endpoint opened, read off the path its state took. */
static bool ep_open_path(const struct tcb_rec *r, int side, enum tcb_ep_open *k)
{
    const struct tcb_ep *e = &r->ep[side];
    bool sent_syn = e->f & EP_SYN_SENT || (side == TCB_CLIENT && !(r->rf & RF_MIDSTREAM));
    bool sr = e->f & EP_PASSED_SR;
    if (sent_syn && sr && (e->f & EP_SYN_SENT) && (e->f & EP_SYNACK_SENT))
        *k = TCB_EPOPEN_SIMULTANEOUS;
    else if (sent_syn)
        *k = TCB_EPOPEN_ACTIVE;
    else if (sr || (e->f & EP_SYNACK_SENT))
        *k = TCB_EPOPEN_PASSIVE;
    else
        *k = TCB_EPOPEN_UNKNOWN;
    return true;
}

static int tcb_emit(struct tcb_table *t, struct tcb_rec *r)
{
    struct tcb_conn_info c;
    memset(&c, 0, sizeof(c));
    const struct tcb_ep *cl = &r->ep[TCB_CLIENT], *sv = &r->ep[TCB_SERVER];
    c.id = r->id;
    c.ip_version = r->ip_version;
    memcpy(c.client_ip, cl->addr, 16);
    memcpy(c.server_ip, sv->addr, 16);
    c.client_port = cl->port;
    c.server_port = sv->port;
    c.vlan = r->vlan;
    c.incarnation = r->incarnation;
    c.have = r->have;
    tcb_classify(r, &c);
    c.client_final_state = cl->state;
    c.server_final_state = sv->state;
    c.first_ns = r->first_ns;
    c.last_ns = r->last_ns;
    c.syn_ns = r->syn_ns;
    c.synack_ns = r->synack_ns;
    c.ack_ns = r->ack_ns;
    c.syn_retransmits = r->syn_retx;
    c.synack_retransmits = r->synack_retx;
    for (int i = 0; i < 2; i++) {
        const struct tcb_ep *e = &r->ep[i];
        c.packets[i] = e->packets;
        c.retrans_packets[i] = e->retrans;
        uint64_t b = e->span;
        if ((e->f & EP_FIN) && b)
            b--; /* the FIN occupies one sequence number */
        c.data_bytes[i] = b;
        c.mss[i] = e->mss;
        c.wscale[i] = e->wscale;
    }
    if ((cl->f & EP_ISN) && (sv->f & EP_ISN) && (cl->f & (EP_SYN_SENT | EP_SYNACK_SENT)) &&
        (sv->f & (EP_SYN_SENT | EP_SYNACK_SENT))) {
        c.have |= TCB_HAVE_OPTS;
        c.sack_permitted = (cl->f & EP_SACKP) && (sv->f & EP_SACKP);
        c.timestamps = (cl->f & EP_TS) && (sv->f & EP_TS);
    }
    c.tfo = r->rf & RF_TFO;
    c.evicted = r->rf & RF_EVICTED;
    int orig;
    zeek_result(&r->zeek, c.zeek_conn_state, c.zeek_history, &orig);
    struct tcb_event ev[TCB_MAX_EVENTS];
    struct tcb_anom an[TCB_MAX_ANOMS];
    for (unsigned i = 0; i < r->nev; i++) {
        const struct tcb_ev_int *x = &r->ev[i];
        ev[i].ts_ns = x->ts_ns;
        ev[i].frame = (uint64_t)x->frame_hi << 32 | x->frame_lo;
        ev[i].endpoint = x->ep_from >> 4;
        ev[i].from = x->ep_from & 15;
        ev[i].to = x->to;
        ev[i].cause = x->cause;
    }
    for (unsigned i = 0; i < r->nanom; i++) {
        const struct tcb_an_int *x = &r->an[i];
        an[i].ts_ns = x->ts_ns;
        an[i].frame = (uint64_t)x->frame_hi << 32 | x->frame_lo;
        an[i].endpoint = x->endpoint;
        an[i].kind = x->kind;
    }
    c.events = ev;
    c.event_count = r->nev;
    c.anomalies = an;
    c.anomaly_count = r->nanom;
    return t->out.conn ? t->out.conn(t->out.ctx, &c) : 0;
}

/* Take record i out of the table and lists, emit it, free it. */
static int tcb_finish_rec(struct tcb_table *t, uint32_t i, bool in_table)
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
    t->st.live--;
    return rc;
}

/* Expiry of TIME-WAIT endpoints at record end: ts is the 2*MSL deadline. */
static void tcb_expire_time_wait(struct tcb_table *t, struct tcb_rec *r, uint64_t now)
{
    for (int s = 0; s < 2; s++) {
        struct tcb_ep *e = &r->ep[s];
        if (e->state == TCB_TIME_WAIT && e->tw_ns + t->cfg.time_wait_ns <= now)
            tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_TIME_WAIT_EXPIRED,
                          e->tw_ns + t->cfg.time_wait_ns, 0);
    }
}

static int tcb_expire(struct tcb_table *t)
{
    int rc;
    /* Closed records: TIME-WAIT (2*MSL) after they became done. */
    while (t->done.head != TCB_NIL) {
        struct tcb_rec *r = R(t, t->done.head);
        if (r->done_ns + t->cfg.time_wait_ns > t->now)
            break;
        tcb_expire_time_wait(t, r, t->now);
        if ((rc = tcb_finish_rec(t, t->done.head, true)) != 0)
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
        if (r->last_ns + t->cfg.idle_timeout_ns > t->now) {
            tcb_list_remove(t, &t->active, i);
            r->list_ns = r->last_ns;
            tcb_list_append(t, &t->active, i);
            continue;
        }
        if ((rc = tcb_finish_rec(t, i, true)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Listeners and the choice of server for mid-stream connections.
 */
#define TCB_MAX_LISTENERS (1u << 16)

static uint32_t tcb_listener_hash(const uint8_t *addr, uint16_t port)
{
    uint64_t x = (tcb_load64(addr) ^ tcb_load64(addr + 8) * 0xC2B2AE3D27D4EB4FULL) *
                 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(x >> 32) ^ port;
}

static void tcb_listener_put(struct tcb_table *t, const uint8_t *addr, uint16_t port, uint8_t ver);

/* The set grows from small (a run's first table costs nothing) up to a fixed
 * cap; past it, an entry whose probe window is full is simply not kept: it
 * only helps choose the server of mid-stream connections. */
static void tcb_listener_add(struct tcb_table *t, const struct tcb_ep *e, uint8_t ver)
{
    if (t->nlisteners * 2 >= t->caplisteners && t->caplisteners < TCB_MAX_LISTENERS) {
        uint32_t n = t->caplisteners ? t->caplisteners * 2 : 256;
        struct tcb_listener *old = t->listeners, *nl = calloc(n, sizeof(*nl));
        if (nl) {
            uint32_t oc = t->caplisteners;
            t->listeners = nl;
            t->caplisteners = n;
            t->nlisteners = 0;
            for (uint32_t i = 0; i < oc; i++)
                if (old[i].used)
                    tcb_listener_put(t, old[i].addr, old[i].port, old[i].ver);
            free(old);
        }
    }
    if (t->caplisteners)
        tcb_listener_put(t, e->addr, e->port, ver);
}

static void tcb_listener_put(struct tcb_table *t, const uint8_t *addr, uint16_t port, uint8_t ver)
{
    uint32_t h = tcb_listener_hash(addr, port);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t j = (h + k) & (t->caplisteners - 1);
        if (t->listeners[j].used) {
            if (t->listeners[j].port == port && t->listeners[j].ver == ver &&
                !memcmp(t->listeners[j].addr, addr, 16))
                return;
            continue;
        }
        memcpy(t->listeners[j].addr, addr, 16);
        t->listeners[j].port = port;
        t->listeners[j].ver = ver;
        t->listeners[j].used = 1;
        t->nlisteners++;
        return;
    }
}

static bool tcb_listener_has(const struct tcb_table *t, const uint8_t *addr, uint16_t port,
                             uint8_t ver)
{
    if (!t->caplisteners)
        return false;
    uint32_t h = tcb_listener_hash(addr, port);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t j = (h + k) & (t->caplisteners - 1);
        if (!t->listeners[j].used)
            return false;
        if (t->listeners[j].port == port && t->listeners[j].ver == ver &&
            !memcmp(t->listeners[j].addr, addr, 16))
            return true;
    }
    return false;
}

/* Mid-stream: is the receiver of the first segment the server? */
static bool tcb_receiver_is_server(const struct tcb_table *t, const struct dis_pkt *p)
{
    bool ls = tcb_listener_has(t, p->src, p->sport, p->ip_version);
    bool ld = tcb_listener_has(t, p->dst, p->dport, p->ip_version);
    if (ls != ld)
        return ld;
    if ((p->sport < 1024) != (p->dport < 1024))
        return p->dport < 1024;
    if (p->sport != p->dport)
        return p->dport < p->sport;
    return true;
}

/* ------------------------------------------------------------------------
 * Creating records.
 */
static void tcb_make_key(const struct tcb_table *t, const struct dis_pkt *p, struct tcb_key *k)
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

static int tcb_new_rec(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k,
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
    t->st.live++;
    if (t->st.live > t->st.peak_live)
        t->st.peak_live = t->st.live;
    *out = i;
    return 0;
}

/* ------------------------------------------------------------------------
 * One segment.
 */
static void tcb_handshake_opts(struct tcb_rec *r, struct tcb_ep *e, int side,
                               const struct dis_pkt *p)
{
    const struct dis_tcp_opts *o = &p->opt;
    if (o->present & DIS_OPT_MSS) {
        e->mss = o->mss;
        r->have |= side == TCB_CLIENT ? TCB_HAVE_CMSS : TCB_HAVE_SMSS;
    }
    if (o->present & DIS_OPT_WSCALE) {
        e->wscale = o->wscale;
        e->f |= EP_WS;
        r->have |= side == TCB_CLIENT ? TCB_HAVE_CWSCALE : TCB_HAVE_SWSCALE;
    }
    if (o->present & DIS_OPT_SACK_PERM)
        e->f |= EP_SACKP;
    if (o->present & DIS_OPT_TS)
        e->f |= EP_TS;
    /* Fast Open: data on the SYN, or a SYN presenting a cookie (RFC 7413). */
    if (p->payload_len || ((o->present & DIS_OPT_TFO) && o->tfo_cookie_len && !(p->tcp_flags & DIS_TH_ACK)))
        r->rf |= RF_TFO;
}

/* Process a RST from side s.  Returns true when it was accepted. */
static bool tcb_on_rst(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p,
                       const struct tcb_now *n)
{
    struct tcb_ep *snd = &r->ep[s], *rcv = &r->ep[!s];
    if (ep_idle_state(snd->state) && ep_idle_state(rcv->state))
        return false; /* nothing left to reset */
    if (!tcb_rst_acceptable(r, s, p)) {
        tcb_anomaly(r, s, TCB_ANOM_RST_OUT_OF_WINDOW, p);
        return false;
    }
    bool client_syn_sent = r->ep[TCB_CLIENT].state == TCB_SYN_SENT;
    if (s == TCB_SERVER && client_syn_sent && !(snd->f & (EP_SYNACK_SENT | EP_SYN_SENT)))
        r->rf |= RF_REFUSED; /* RST answering a SYN */
    else if (!(r->rf & RF_ESTABLISHED) && !(r->rf & RF_MIDSTREAM))
        r->rf |= RF_HS_RESET;
    else if (!(r->rf & RF_RST_ABORT) &&
             !(ep_idle_state(snd->state) && (rcv->state == TCB_LAST_ACK ||
                                             ep_idle_state(rcv->state)))) {
        r->rf |= RF_RST_ABORT;
        r->rst_by = (uint8_t)s;
    }
    /* §3.10.7.4: an acceptable RST closes the TCB (LISTEN ignores it). */
    if (snd->state != TCB_CLOSED && snd->state != TCB_LISTEN)
        tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_SND_RST, n->ts, n->frame);
    if (rcv->state != TCB_CLOSED && rcv->state != TCB_LISTEN)
        tcb_set_state(t, r, !s, TCB_CLOSED, TCB_CAUSE_RCV_RST, n->ts, n->frame);
    snd->f &= (uint16_t)~EP_WANT_SYN;
    rcv->f &= (uint16_t)~EP_WANT_SYN;
    return true;
}

static void tcb_segment(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    struct tcb_now n = {p->ts_ns, p->frame};
    uint16_t fl = p->tcp_flags;
    bool syn = fl & DIS_TH_SYN, ack = fl & DIS_TH_ACK, fin = fl & DIS_TH_FIN, rst = fl & DIS_TH_RST;

    r->last_ns = p->ts_ns;
    e->packets++;
    if (s == TCB_SERVER)
        r->rf |= RF_SERVER_ANSWERED;
    zeek_packet(&r->zeek, s == r->first_sender ? 0 : 1, p);

    if (p->csum == DIS_CSUM_BAD_IP || p->csum == DIS_CSUM_BAD_TCP) {
        /* A receiver drops it too: it changes nothing. */
        tcb_anomaly(r, s, TCB_ANOM_BAD_CHECKSUM, p);
        t->st.bad_checksum_ignored++;
        return;
    }
    if (p->flags_odd & DIS_ODD_OPT_MALFORMED)
        tcb_anomaly(r, s, TCB_ANOM_OPT_MALFORMED, p);
    if (syn && fin)
        tcb_anomaly(r, s, TCB_ANOM_SYN_FIN, p);

    if (rst) {
        if (syn)
            tcb_anomaly(r, s, TCB_ANOM_SYN_RST, p);
        tcb_on_rst(t, r, s, p, &n);
        return;
    }

    /* 1. The SYN this segment carries, and its sequence space. */
    uint32_t len = p->payload_len;
    uint32_t seq = p->seq;
    if (syn) {
        if (!(e->f & EP_ISN)) {
            if (e->state != TCB_CLOSED && e->state != TCB_LISTEN && e->state != TCB_SYN_SENT) {
                /* A SYN on a connection we believe open (seen mid-stream). */
                tcb_anomaly(r, s, TCB_ANOM_UNEXPECTED_SYN, p);
                return;
            }
            e->isn = seq;
            e->f |= EP_ISN;
            ep_seq_init(e, seq + 1);
            tcb_handshake_opts(r, e, s, p);
        } else if (seq != e->isn) {
            if (ack && s == TCB_SERVER && !(r->rf & RF_ESTABLISHED)) {
                /* Another SYN/ACK with a new ISN: keep both until the client's ACK picks. */
                tcb_anomaly(r, s, TCB_ANOM_SYNACK_ISN_CHANGED, p);
                e->alt_isn = seq;
                e->alt_ns = p->ts_ns;
            } else {
                tcb_anomaly(r, s, TCB_ANOM_UNEXPECTED_SYN, p);
            }
            return;
        } else if (ack) {
            if (e->f & EP_SYNACK_SENT)
                r->synack_retx++;
        } else if (e->f & EP_SYN_SENT) {
            r->syn_retx++;
        }
        if (!ack) {
            if (!(e->f & EP_SYN_SENT) && !r->syn_ns) {
                r->syn_ns = p->ts_ns;
                r->have |= TCB_HAVE_SYN;
            }
            e->f |= EP_SYN_SENT;
            if (e->state == TCB_CLOSED)
                e->f |= EP_WANT_SYN; /* first SYN, or a retry after a refusal */
        }
        if (len || fin)
            ep_seq_advance(e, seq + 1, seq + 1 + len + (fin ? 1 : 0));
    } else if (len || fin) {
        bool retx = ep_seq_advance(e, seq, seq + len + (fin ? 1 : 0));
        /* Keep-alive: one byte just below what was sent (RFC 9293 §3.8.4): not data. */
        if (retx && len == 1 && seq + 1 == e->snd_max && !fin)
            retx = false;
        if (retx)
            e->retrans++;
        if ((e->f & EP_FIN) && len && tcb_seq_gt(seq + len, e->fin_seq)) {
            uint32_t bit = s ? RF_DATA_AFTER_FIN1 : RF_DATA_AFTER_FIN0;
            if (!(r->rf & bit)) {
                r->rf |= bit;
                tcb_anomaly(r, s, TCB_ANOM_DATA_AFTER_FIN, p);
            }
        }
    } else if (!(e->f & EP_SEQ)) {
        ep_seq_init(e, seq);
    }
    e->win = p->window;

    /* 2. What the ACK field proves this endpoint received (evidence). */
    if (ack) {
        if (!(e->f & EP_ACKED) || tcb_seq_gt(p->ack, e->ack_max))
            e->ack_max = p->ack;
        e->f |= EP_ACKED;
        if (syn) {
            /* A SYN/ACK: proof that e got the peer's SYN. */
            if (!(e->f & EP_SYNACK_SENT)) {
                e->f |= EP_SYNACK_SENT;
                if (!r->synack_ns) {
                    r->synack_ns = p->ts_ns;
                    r->have |= TCB_HAVE_SYNACK;
                }
                if (e->state == TCB_CLOSED && !(e->f & EP_SYN_SENT))
                    tcb_assume_listen(t, r, s, &n);
            }
            if (!(q->f & EP_ISN)) {
                /* The SYN it answers was not seen: infer it from the ACK. */
                q->isn = p->ack - 1;
                q->f |= EP_ISN;
                ep_seq_init(q, p->ack);
                if (q->state == TCB_CLOSED)
                    tcb_set_state(t, r, !s, TCB_SYN_SENT, TCB_CAUSE_SYN_NOT_SEEN, n.ts, n.frame);
            }
            e->f |= EP_GOT_SYN;
        } else if (!(e->f & EP_GOT_SYNACK) && e->state == TCB_SYN_SENT) {
            /* A plain ACK from SYN-SENT: it got a SYN/ACK for its SYN. */
            if (q->f & EP_ISN) {
                if ((q->f & EP_SYNACK_SENT) && q->alt_ns && p->ack != q->isn + 1 &&
                    p->ack == q->alt_isn + 1) {
                    /* The client chose the other SYN/ACK. */
                    q->isn = q->alt_isn;
                    ep_seq_init(q, q->isn + 1);
                    r->synack_ns = q->alt_ns;
                }
                if (tcb_seq_gt(p->ack, q->isn))
                    e->f |= EP_GOT_SYNACK | EP_GOT_SYN;
            } else {
                /* The SYN/ACK was not seen at the tap: infer it. */
                q->isn = p->ack - 1;
                q->f |= EP_ISN | EP_SYNACK_SENT | EP_GOT_SYN;
                ep_seq_init(q, p->ack);
                if (q->state == TCB_CLOSED)
                    tcb_assume_listen(t, r, !s, &n);
                e->f |= EP_GOT_SYNACK | EP_GOT_SYN;
            }
        }
        /* The peer's FIN, once this endpoint ACKs past it. */
        if ((q->f & EP_FIN) && tcb_seq_gt(p->ack, q->fin_seq))
            ep_fact(r, e, EP_GOT_FIN);
        /* ACK of data the tap never saw. */
        if ((q->f & EP_SEQ) && tcb_seq_gt(p->ack, q->snd_max) &&
            (q->f & (EP_ISN | EP_ACKED))) {
            uint32_t bit = s ? RF_ACK_UNSEEN1 : RF_ACK_UNSEEN0;
            if (!(r->rf & bit)) {
                r->rf |= bit;
                tcb_anomaly(r, s, TCB_ANOM_ACK_UNSEEN_DATA, p);
            }
        }
    }
    tcb_settle(t, r, s, &n);

    /* 3. The FIN this segment carries. */
    if (fin) {
        uint32_t fs = seq + len + (syn ? 1 : 0);
        if (!(e->f & EP_FIN)) {
            e->fin_seq = fs;
            ep_fact(r, e, EP_FIN);
            /* FINs crossed: the peer's FIN is out and this one does not ACK it. */
            if ((q->f & EP_FIN) && !(e->f & EP_GOT_FIN) && (r->rf & RF_ESTABLISHED))
                r->rf |= RF_SIM_CLOSE;
        } else if (e->state == TCB_TIME_WAIT || q->state == TCB_TIME_WAIT) {
            /* A retransmitted FIN restarts the peer's 2*MSL wait (§3.10.7.4). */
            if (q->state == TCB_TIME_WAIT)
                q->tw_ns = p->ts_ns;
        }
        tcb_settle(t, r, s, &n);
    }

    /* 4. Delivery to the peer, assumed when the tap sees it. */
    if ((e->f & EP_FIN) && tcb_seq_gt(seq + len + (fin ? 1 : 0), e->fin_seq + (fin ? 1u : 0u)))
        ep_fact(r, q, EP_GOT_FIN); /* in-order: a segment after our FIN implies the FIN */
    if (ack) {
        if ((q->f & EP_ISN) && tcb_seq_gt(p->ack, q->isn))
            q->f |= EP_GOT_ACK_SYN;
        if ((q->f & EP_FIN) && tcb_seq_gt(p->ack, q->fin_seq))
            ep_fact(r, q, EP_GOT_ACK_FIN);
    }
    tcb_settle_both(t, r, &n);
}

/* Place the record on the list that matches its state. */
static void tcb_relist(struct tcb_table *t, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    bool done = ep_idle_state(r->ep[0].state) && ep_idle_state(r->ep[1].state) &&
                (r->ep[0].f | r->ep[1].f);
    bool was = r->rf & RF_DONE;
    if (done && !was) {
        tcb_list_remove(t, &t->active, i);
        r->rf |= RF_DONE;
        r->done_ns = t->now;
        tcb_list_append(t, &t->done, i);
    } else if (!done && was) {
        tcb_list_remove(t, &t->done, i);
        r->rf &= ~(uint32_t)RF_DONE;
        r->list_ns = t->now;
        tcb_list_append(t, &t->active, i);
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

/* Should a bare SYN from side s with a new ISN start a new incarnation? */
static bool tcb_takes_over(const struct tcb_table *t, const struct tcb_rec *r, int s,
                           const struct dis_pkt *p)
{
    const struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    if (p->ts_ns >= r->last_ns + t->cfg.idle_timeout_ns)
        return true;
    if (!(e->f & EP_ISN)) {
        /* The other side has not sent a SYN yet: simultaneous open, not a new record. */
        if (s == TCB_SERVER && r->ep[TCB_CLIENT].state == TCB_SYN_SENT &&
            !(e->f & EP_SEQ))
            return false;
        return ep_idle_state(e->state) && (ep_idle_state(q->state) || q->state == TCB_LAST_ACK);
    }
    if (e->isn == p->seq)
        return false; /* same ISN: a retransmission */
    if (ep_idle_state(e->state) || e->state == TCB_SYN_SENT)
        return ep_idle_state(q->state) || q->state == TCB_LISTEN || q->state == TCB_LAST_ACK ||
               !(r->rf & RF_SERVER_ANSWERED);
    return false;
}

/* End the record's incarnation because a new SYN took over the tuple. */
static void tcb_close_for_new(struct tcb_table *t, struct tcb_rec *r, const struct dis_pkt *p)
{
    tcb_expire_time_wait(t, r, p->ts_ns);
    for (int s = 0; s < 2; s++)
        if (r->ep[s].state != TCB_CLOSED)
            tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_NEW_INCARNATION, p->ts_ns, p->frame);
}

static int tcb_evict_one(struct tcb_table *t, uint32_t i)
{
    struct tcb_rec *r = R(t, i);
    r->rf |= RF_EVICTED;
    tcb_anomaly(r, TCB_CLIENT, TCB_ANOM_EVICTED, NULL);
    t->st.evictions++;
    return tcb_finish_rec(t, i, true);
}

/*
 * --max-connections is reached: make room by finishing records early, in a
 * batch so the cost is paid rarely.  The oldest half-open records go first
 * (a SYN flood fills the table with them), then the oldest closed ones, then
 * the oldest of all.  Each is emitted flagged `evicted`, never dropped.
 */
static int tcb_evict(struct tcb_table *t)
{
    uint64_t want = t->cfg.max_connections / 8 + 1, n = 0, scanned = 0;
    int rc;
    for (uint32_t i = t->active.head; i != TCB_NIL && n < want && scanned < 4 * want + 1024;
         scanned++) {
        uint32_t next = R(t, i)->next;
        if (!(R(t, i)->rf & (RF_ESTABLISHED | RF_MIDSTREAM))) {
            if ((rc = tcb_evict_one(t, i)) != 0)
                return rc;
            n++;
        }
        i = next;
    }
    while (n < want && t->done.head != TCB_NIL) {
        if ((rc = tcb_evict_one(t, t->done.head)) != 0)
            return rc;
        n++;
    }
    while (n < want && t->active.head != TCB_NIL) {
        if ((rc = tcb_evict_one(t, t->active.head)) != 0)
            return rc;
        n++;
    }
    return 0;
}

int tcb_packet(struct tcb_table *t, const struct dis_pkt *p)
{
    int rc;
    t->st.segments++;
    if (p->ts_ns > t->now)
        t->now = p->ts_ns;
    if ((rc = tcb_expire(t)) != 0)
        return rc;

    if (t->used * 10 >= t->nslots * 7 && (rc = tcb_grow_slots(t)) != 0)
        return rc;

    struct tcb_key k;
    tcb_make_key(t, p, &k);
    uint32_t h = tcb_hash(t, &k);
    uint32_t j = tcb_find_slot(t, &k, h);
    if (!t->slots[j].idx1 && t->cfg.max_connections && t->st.live >= t->cfg.max_connections) {
        if ((rc = tcb_evict(t)) != 0)
            return rc;
        j = tcb_find_slot(t, &k, h); /* deletions moved slots */
    }
    uint16_t fl = p->tcp_flags;
    bool bare_syn = (fl & (DIS_TH_SYN | DIS_TH_ACK | DIS_TH_RST)) == DIS_TH_SYN;
    uint32_t i;

    if (t->slots[j].idx1) {
        i = t->slots[j].idx1 - 1;
        struct tcb_rec *r = R(t, i);
        int s = memcmp(p->src, r->ep[TCB_CLIENT].addr, 16) == 0 &&
                        p->sport == r->ep[TCB_CLIENT].port
                    ? TCB_CLIENT
                    : TCB_SERVER;
        if (bare_syn && tcb_takes_over(t, r, s, p)) {
            uint32_t inc = r->incarnation + 1;
            tcb_close_for_new(t, r, p);
            /* Finish the old record; the new one takes its slot. */
            tcb_list_remove(t, tcb_list_of(t, r), i);
            t->slots[j].idx1 = 0;
            t->used--;
            rc = tcb_emit(t, r);
            r->next = t->free_head;
            t->free_head = i;
            t->st.live--;
            if (rc)
                return rc;
            if ((rc = tcb_new_rec(t, p, &k, h, true, inc, &i)) != 0)
                return rc;
            uint32_t nj = tcb_find_slot(t, &k, h);
            t->slots[nj].idx1 = i + 1;
            t->slots[nj].hash = h;
            t->used++;
            tcb_segment(t, R(t, i), TCB_CLIENT, p);
        } else {
            tcb_segment(t, r, s, p);
        }
    } else {
        bool client;
        bool midstream = false;
        if (bare_syn)
            client = true;
        else if ((fl & (DIS_TH_SYN | DIS_TH_ACK)) == (DIS_TH_SYN | DIS_TH_ACK))
            client = false; /* a SYN/ACK first: its sender answered a SYN we missed */
        else {
            client = !tcb_receiver_is_server(t, p) ? false : true;
            midstream = true;
        }
        if ((rc = tcb_new_rec(t, p, &k, h, client, 1, &i)) != 0)
            return rc;
        t->slots[j].idx1 = i + 1;
        t->slots[j].hash = h;
        t->used++;
        struct tcb_rec *r = R(t, i);
        int s = client ? TCB_CLIENT : TCB_SERVER;
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
        tcb_segment(t, r, s, p);
    }
    tcb_relist(t, i);
    return 0;
}

int tcb_advance(struct tcb_table *t, uint64_t ts_ns)
{
    if (ts_ns > t->now)
        t->now = ts_ns;
    return tcb_expire(t);
}

static int tcb_cmp_id(const void *a, const void *b, void *ctx)
{
    const struct tcb_table *t = ctx;
    uint64_t x = R((struct tcb_table *)t, *(const uint32_t *)a)->id;
    uint64_t y = R((struct tcb_table *)t, *(const uint32_t *)b)->id;
    return x < y ? -1 : x > y;
}

int tcb_finish(struct tcb_table *t)
{
    /* Every live record, in id order (first-packet order), never hash order. */
    uint64_t n = t->st.live;
    if (!n)
        return 0;
    uint32_t *ids = malloc(n * sizeof(*ids));
    if (!ids)
        return -ENOMEM;
    uint64_t k = 0;
    for (uint32_t i = t->active.head; i != TCB_NIL; i = R(t, i)->next)
        ids[k++] = i;
    for (uint32_t i = t->done.head; i != TCB_NIL; i = R(t, i)->next)
        ids[k++] = i;
    qsort_r(ids, k, sizeof(*ids), tcb_cmp_id, t);
    int rc = 0;
    for (uint64_t x = 0; x < k && !rc; x++)
        rc = tcb_finish_rec(t, ids[x], true);
    free(ids);
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
    free(t);
}
