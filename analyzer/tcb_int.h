/*
 * tcb_int.h - private to analyzer/: the connection record, the table and
 * the functions the engine's parts share.
 *
 * The engine is cut along its seams:
 *   table.c   the connection table: hash, record pool, expiry, eviction
 *   listen.c  the listener set (who answered a SYN: the server mid-stream)
 *   infer.c   endpoint inference: one segment's phases, RFC 9293 edges
 *   emit.c    classification and the record handed to the output
 *   clock.c   capture time: outliers, backwards steps
 *   tcb.c     the public API (tcb.h)
 */
#ifndef TCBSCOPE_TCB_INT_H
#define TCBSCOPE_TCB_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "seq.h"
#include "tcb.h"
#include "zeek_int.h"

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

/* Statistic flags (tcb_ep.sf). */
#define SF_PREV_ACK 0x01 /* its previous segment carried an ACK: last_ack/last_win valid */
#define SF_MISS 0x02     /* miss_hi valid: its bytes up to there counted missed or seen */
#define SF_TIMING 0x04   /* a segment ending at rtt_end is timed since rtt_ts (Karn) */

#define TCB_HOLES 3 /* sequence holes remembered per endpoint (out-of-order, missed bytes) */

/* Counters of what one endpoint sent, all computed in tcb_segment()'s path (infer.c). */
struct tcb_ep_stats {
    uint64_t ip_bytes;
    uint64_t retx_bytes; /* payload bytes below snd_max outside a known hole */
    uint64_t missed;     /* its bytes the peer ACKed and the tap never saw */
    uint32_t zero_win, dup_acks, ooo;
    uint32_t last_ack;   /* ACK field of its previous segment (dup ACK rule) */
    uint16_t last_win;   /* raw window of its previous segment */
    uint8_t sf;          /* SF_* */
    uint8_t nholes;
    uint32_t miss_hi;    /* with SF_MISS: one past the highest byte counted missed */
    struct {
        uint32_t lo, hi; /* [lo, hi): sequence space skipped, not yet seen nor ACKed */
    } hole[TCB_HOLES];
    uint32_t rtt_end;    /* with SF_TIMING: the timed segment's end sequence */
    uint32_t rtt_n;      /* samples taken */
    uint64_t rtt_ts;     /* with SF_TIMING: when the timed segment passed the tap */
    uint64_t rtt_sum, rtt_min, rtt_max;
};

struct tcb_ep {
    uint8_t addr[16];
    uint16_t port;
    uint8_t state;
    uint8_t wscale;
    uint8_t win_syn; /* win was advertised on a SYN: never scaled (RFC 7323 §2.2) */
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
    struct tcb_ep_stats st;
};

/* Canonical key: the lower (address, port) first, so both directions meet. */
struct tcb_key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint16_t vlan;
    uint8_t ver;
    uint8_t pad_;
    uint64_t tun; /* 1 << 32 | tunnel id when the innermost tunnel has one (VNI, GRE key), else 0 */
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
    uint8_t tunnel;
    uint32_t have;
    uint64_t first_ns, last_ns, syn_ns, synack_ns, ack_ns;
    uint64_t first_frame, last_frame;
    uint64_t done_ns; /* when both endpoints became CLOSED/TIME-WAIT (last TIME-WAIT restart) */
    uint64_t list_ns; /* when it was last appended to the active list */
    uint32_t syn_retx, synack_retx;
    struct tcb_ep ep[2]; /* TCB_CLIENT, TCB_SERVER */
    struct zeek_state zeek;
    struct tcb_ev_int ev[TCB_MAX_EVENTS];
    struct tcb_an_int an[TCB_MAX_ANOMS];
};

/*
 * An embryonic connection (embryo.c): nothing seen but a bare SYN and its
 * retransmissions, as Linux keeps a request sock instead of a full socket.
 * It holds what replaying that SYN through tcb_segment() needs to rebuild
 * the full record exactly (tcb_emb_rebuild): 144 bytes instead of ~1200.
 */
struct tcb_emb {
    struct tcb_key key;
    uint64_t id;
    uint32_t hash, incarnation;
    uint32_t prev, next; /* links of the active list (tagged indices, as tcb_rec's) */
    uint64_t first_ns, last_ns, list_ns;
    uint64_t first_frame, last_frame;
    uint32_t seq, ack;
    uint32_t retx; /* identical SYNs after the first */
    uint16_t flags, window;
    uint16_t opt_present, mss;
    uint16_t ip_len; /* of the SYN (and each copy): IP bytes counted per segment */
    uint8_t wscale, tfo_cookie_len, tunnel;
    uint8_t client_is_a : 1, has_vlan : 1;
    uint16_t vlan;
};

/*
 * A folded closed record (table.c): what lookup and expiry need in the
 * clear, then the record's image (the record up to its timeline, its
 * events, its anomalies) without the key, as 8-byte words with the zero
 * words left out (a bitmap says which are there).
 */
struct tcb_blob {
    struct tcb_key key;
    uint64_t id, deadline;
    uint32_t hash;
    uint32_t k;   /* its index in blobs[] while its slot points to it */
    uint8_t dead; /* unfolded or written: freed when the FIFO reaches it */
    uint8_t nev, nanom;
    uint8_t nwords; /* words in the image */
    uint64_t data[]; /* bitmap (one bit a word), then the nonzero words */
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
    uint64_t next_id;

    /* Embryonic records (embryo.c), a pool of their own; their slots hold
     * TCB_EMB_BIT | index + 1. */
    struct tcb_emb **echunks;
    uint32_t nembs, nechunks, efree, nemb_live;

    /* Capture time (clock.c).  now is the confirmed clock: it reclaims
     * memory and marks the capture end, and decides nothing about a
     * connection.  held[] are frames waiting for a time jump to be
     * confirmed or refuted; held[0] is the jump. */
    uint64_t now;
    uint64_t next_sweep_ns; /* tcb_expire() runs again once now reaches it */
    bool clock_started;
    uint32_t nheld;
    struct tcb_held {
        struct dis_pkt p;
        bool segment; /* false: a tcb_advance() time mark */
    } held[TCB_CLOCK_HOLD];

    /* Folded closed records (table.c): their slots hold TCB_FOLD_BIT | k + 1
     * for blobs[k]; the FIFO holds them by age. */
    struct tcb_blob **blobs;
    uint32_t *bfree;           /* free indices of blobs[] (a stack) */
    uint32_t nblobs, capblobs, nbfree;
    struct tcb_blob **fifo;    /* ring of blobs in folding order */
    uint32_t fifo_head, fifo_len, fifo_cap;
    uint32_t nfull;            /* full records held (what --max-connections bounds) */

    /* Endpoints seen answering a SYN (for choosing the server mid-stream). */
    struct tcb_listener {
        uint8_t addr[16];
        uint16_t port;
        uint8_t ver, used;
    } *listeners;
    uint32_t nlisteners, caplisteners;
};

static inline struct tcb_rec *R(struct tcb_table *t, uint32_t i)
{
    return &t->chunks[i >> TCB_CHUNK_SHIFT][i & ((1u << TCB_CHUNK_SHIFT) - 1)];
}

static inline uint64_t tcb_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline bool ep_idle_state(uint8_t s)
{
    return s == TCB_CLOSED || s == TCB_TIME_WAIT;
}

#define TCB_EMB_BIT 0x80000000u  /* in tcb_slot.idx1: an embryonic record */
#define TCB_FOLD_BIT 0x40000000u /* in tcb_slot.idx1: a folded record (blobs[]) */
#define TCB_MAX_INDEX (TCB_FOLD_BIT - 2) /* records, embryos and blobs stay below */

static inline struct tcb_emb *E(struct tcb_table *t, uint32_t i)
{
    return &t->echunks[i >> TCB_CHUNK_SHIFT][i & ((1u << TCB_CHUNK_SHIFT) - 1)];
}

/*
 * The active list holds full records (their index) and embryos (TCB_EMB_BIT
 * | their index), in one order of activity: its links are tagged indices.
 */
static inline uint32_t *tcb_prev_of(struct tcb_table *t, uint32_t i)
{
    return (i & TCB_EMB_BIT) ? &E(t, i & ~TCB_EMB_BIT)->prev : &R(t, i)->prev;
}

static inline uint32_t *tcb_next_of(struct tcb_table *t, uint32_t i)
{
    return (i & TCB_EMB_BIT) ? &E(t, i & ~TCB_EMB_BIT)->next : &R(t, i)->next;
}

/* The key of the record behind a slot's idx1 (full or embryonic). */
static inline const struct tcb_key *tcb_slot_key(struct tcb_table *t, uint32_t idx1)
{
    if (idx1 & TCB_EMB_BIT)
        return &E(t, (idx1 & ~TCB_EMB_BIT) - 1)->key;
    if (idx1 & TCB_FOLD_BIT)
        return &t->blobs[(idx1 & ~TCB_FOLD_BIT) - 1]->key;
    return &R(t, idx1 - 1)->key;
}

static inline struct tcb_list *tcb_list_of(struct tcb_table *t, const struct tcb_rec *r)
{
    return (r->rf & RF_DONE) ? &t->done : &t->active;
}

/* The time and frame of the segment being processed. */
struct tcb_now {
    uint64_t ts, frame;
};

/* table.c */
uint32_t tcb_hash(const struct tcb_table *t, const struct tcb_key *k);
void tcb_list_remove(struct tcb_table *t, struct tcb_list *l, uint32_t i);
void tcb_list_append(struct tcb_table *t, struct tcb_list *l, uint32_t i);
void tcb_list_replace(struct tcb_table *t, struct tcb_list *l, uint32_t old, uint32_t i);
int tcb_alloc_rec(struct tcb_table *t, uint32_t *out);
int tcb_grow_slots(struct tcb_table *t);
uint32_t tcb_find_slot(struct tcb_table *t, const struct tcb_key *k, uint32_t h);
void tcb_slot_delete(struct tcb_table *t, uint32_t j);
int tcb_finish_rec(struct tcb_table *t, uint32_t i, bool in_table);
void tcb_expire_time_wait(struct tcb_table *t, struct tcb_rec *r, uint64_t now);
int tcb_expire(struct tcb_table *t);
void tcb_make_key(const struct tcb_table *t, const struct dis_pkt *p, struct tcb_key *k);
void tcb_rec_init(struct tcb_rec *r, const struct dis_pkt *p, const struct tcb_key *k, uint32_t h,
                  bool sender_is_client, uint32_t incarnation, uint64_t id);
int tcb_new_rec(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k, uint32_t h,
                bool sender_is_client, uint32_t incarnation, uint64_t id, uint32_t *out);
void tcb_relist(struct tcb_table *t, uint32_t i, uint64_t ts);
int tcb_evict(struct tcb_table *t);
uint64_t tcb_deadline(const struct tcb_table *t, const struct tcb_rec *r);
int tcb_retire(struct tcb_table *t, uint32_t i);
int tcb_fold_take(struct tcb_table *t, uint32_t j, uint64_t ts, uint32_t *out);
uint32_t tcb_fold_list(const struct tcb_table *t, struct tcb_blob **out);
int tcb_fold_finish(struct tcb_table *t, struct tcb_blob *b);
void tcb_fold_free(struct tcb_table *t);

/* tcb.c */
int tcb_step(struct tcb_table *t, const struct dis_pkt *p, bool segment, bool jump);

/* clock.c */
int tcb_clock_in(struct tcb_table *t, const struct dis_pkt *p, bool segment);
int tcb_clock_drain(struct tcb_table *t);

/* listen.c */
void tcb_listener_add(struct tcb_table *t, const struct tcb_ep *e, uint8_t ver);
bool tcb_receiver_is_server(const struct tcb_table *t, const struct dis_pkt *p);

/* infer.c */
void tcb_anomaly(struct tcb_rec *r, int side, enum tcb_anomaly kind, const struct dis_pkt *p);
void tcb_set_state(struct tcb_table *t, struct tcb_rec *r, int side, enum tcb_state to,
                   enum tcb_cause why, uint64_t ts, uint64_t frame);
void tcb_segment(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p);
bool tcb_takes_over(const struct tcb_table *t, const struct tcb_rec *r, int s,
                    const struct dis_pkt *p);
void tcb_close_for_new(struct tcb_table *t, struct tcb_rec *r, const struct dis_pkt *p);

/* embryo.c */
bool tcb_emb_eligible(const struct dis_pkt *p);
int tcb_emb_new(struct tcb_table *t, const struct dis_pkt *p, const struct tcb_key *k, uint32_t h,
                uint32_t incarnation);
bool tcb_emb_absorb(struct tcb_table *t, uint32_t e, const struct dis_pkt *p);
int tcb_emb_grow_up(struct tcb_table *t, uint32_t j, uint32_t *out);
int tcb_emb_finish(struct tcb_table *t, uint32_t e, bool evicted, bool at_end);
void tcb_emb_free(struct tcb_table *t);

/* emit.c */
int tcb_emit(struct tcb_table *t, struct tcb_rec *r);

#endif /* TCBSCOPE_TCB_INT_H */
