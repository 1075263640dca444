/*
 * pipeline.c - the frame loop of `tcbscope analyze`, on one, two or three
 * threads.
 *
 * Owns: threads, bounded queues of batches between them, and stopping every
 * stage cleanly when one of them fails or the user interrupts.  Leaves all
 * decisions to the modules: it only calls dis_reader_next(), dis_decode(),
 * tcb_packet()/tcb_advance()/tcb_finish() and the sinks' output, in exactly the
 * order a single thread would, so output never depends on thread timing.
 *
 *   threads 1:  [read, decode, engine, sinks]
 *   threads 2:  [read, decode] -> packets -> [engine, sinks]
 *   threads 3:  [read, decode] -> packets -> [engine] -> connections -> [sinks 0]
 *                                                                  \-> [sinks 1]
 *
 * With a second group of sinks, each batch of connections goes to both sink
 * threads and is recycled when the second of them is done with it.
 * Every queue holds at most QUEUE_DEPTH full batches and batches are recycled
 * through a free queue, so memory is bounded whatever the speed of each stage.
 * A stage that must stop (an output error) keeps draining its input queue
 * until the end marker, so no stage ever blocks on a full queue forever.
 *
 * A thread that cannot be started is not fatal: without a sink thread the
 * engine writes to the sinks itself, without the engine thread the reading
 * thread runs the engine too; the calls and their order stay the same, so
 * the output does too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

#define PKT_BATCH 1024            /* decoded segments per batch */
#define CONN_BATCH_BYTES (256u << 10) /* finished connections per batch, in bytes */
#define QUEUE_DEPTH 4             /* full batches waiting at most */
#define NBATCH (QUEUE_DEPTH + 2)  /* batches in circulation per queue */

/* A bounded FIFO of pointers, mutex + condition variables: batches are large,
 * so a lock per batch costs nothing measurable. */
struct queue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    void *item[NBATCH];
    unsigned head, count;
};

static void q_init(struct queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->nonfull, NULL);
    q->head = q->count = 0;
}

static void q_destroy(struct queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->nonfull);
}

static void q_push(struct queue *q, void *x)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == NBATCH)
        pthread_cond_wait(&q->nonfull, &q->mu);
    q->item[(q->head + q->count) % NBATCH] = x;
    q->count++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
}

static void *q_pop(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->nonempty, &q->mu);
    void *x = q->item[q->head];
    q->head = (q->head + 1) % NBATCH;
    q->count--;
    pthread_cond_signal(&q->nonfull);
    pthread_mutex_unlock(&q->mu);
    return x;
}

/* Decoded segments; an entry with frame == 0 only advances the clock. */
struct pkt_batch {
    uint32_t n;
    bool last;
    struct dis_pkt p[PKT_BATCH];
};

/* Finished connections, each a tcb_conn_info followed by its events and
 * anomalies, copied because the engine's pointers live only during its call. */
struct conn_batch {
    size_t used, cap;
    uint32_t n;
    bool last;
    atomic_int refs; /* sink threads still reading it */
    unsigned char *buf;
};

#define NGROUPS PIPELINE_GROUPS

struct pipeline {
    struct pipeline_cfg cfg;
    struct queue pkt_full, pkt_free;
    struct queue conn_full[NGROUPS], conn_free;
    struct pkt_batch *pkts[NBATCH];
    struct conn_batch conns[NBATCH];
    struct conn_batch *cur_conn; /* being filled by the engine (3 threads) */
    struct tcb_table *tcb;
    atomic_int halt;        /* an output failed: stop reading */
    atomic_int sink_rc[NGROUPS]; /* each group's first error (3 threads) */
    int nthreads_out;       /* sink threads (3 threads: 1, or 2 with a second group) */
    bool queued;            /* sink threads run: the engine's output goes to them */
    unsigned starts;        /* thread starts so far (fault injection) */
    atomic_uint_fast64_t live;
    int out_rc;             /* engine side */
};

/* ------------------------------------------------------------------------
 * The engine's output.
 */
static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Groups from..to-1 in turn; the group that failed is kept in *failed. */
static int emit_groups(struct pipeline *pl, int from, int to, const struct tcb_conn_info *c,
                       int *failed)
{
    for (int g = from; g < to; g++) {
        const struct tcb_output *o = &pl->cfg.sinks[g];
        int rc = o->conn ? o->conn(o->ctx, c) : 0;
        if (rc) {
            *failed = g;
            return rc;
        }
    }
    return 0;
}

static int pl_emit_direct(void *ctx, const struct tcb_conn_info *c)
{
    struct pipeline *pl = ctx;
    int g = 0;
    int rc = emit_groups(pl, 0, NGROUPS, c, &g);
    if (rc)
        atomic_store(&pl->sink_rc[g], rc);
    return rc;
}

static int sinks_failed(struct pipeline *pl)
{
    for (int g = 0; g < NGROUPS; g++) {
        int rc = atomic_load_explicit(&pl->sink_rc[g], memory_order_relaxed);
        if (rc)
            return rc;
    }
    return 0;
}

/* A full batch (or the last) to every sink thread. */
static void hand_over(struct pipeline *pl, struct conn_batch *b)
{
    atomic_store(&b->refs, pl->nthreads_out);
    for (int g = 0; g < pl->nthreads_out; g++)
        q_push(&pl->conn_full[g], b);
}

static int pl_emit_queued(void *ctx, const struct tcb_conn_info *c)
{
    struct pipeline *pl = ctx;
    int rc = sinks_failed(pl);
    if (rc)
        return rc;
    size_t ev = (size_t)c->event_count * sizeof(*c->events);
    size_t an = (size_t)c->anomaly_count * sizeof(*c->anomalies);
    size_t need = align8(sizeof(*c)) + align8(ev) + align8(an);
    struct conn_batch *b = pl->cur_conn;
    if (b->used + need > b->cap && b->n) {
        hand_over(pl, b);
        b = pl->cur_conn = q_pop(&pl->conn_free);
        b->used = 0, b->n = 0, b->last = false;
    }
    if (b->used + need > b->cap) {
        unsigned char *nb = realloc(b->buf, need);
        if (!nb)
            return -ENOMEM;
        b->buf = nb;
        b->cap = need;
    }
    unsigned char *at = b->buf + b->used;
    struct tcb_conn_info *copy = (struct tcb_conn_info *)(void *)at;
    *copy = *c;
    struct tcb_event *evs = (struct tcb_event *)(void *)(at + align8(sizeof(*c)));
    struct tcb_anom *ans = (struct tcb_anom *)(void *)(at + align8(sizeof(*c)) + align8(ev));
    if (ev)
        memcpy(evs, c->events, ev);
    if (an)
        memcpy(ans, c->anomalies, an);
    copy->events = evs;
    copy->anomalies = ans;
    b->used += need;
    b->n++;
    return 0;
}

/* The engine's one output: queued while sink threads run, else straight to the sinks. */
static int pl_emit(void *ctx, const struct tcb_conn_info *c)
{
    struct pipeline *pl = ctx;
    return pl->queued ? pl_emit_queued(pl, c) : pl_emit_direct(pl, c);
}

struct tcb_output pipeline_engine_output(struct pipeline *pl)
{
    struct tcb_output o = {pl, pl_emit};
    return o;
}

/* The batch being filled goes to the sink threads as the last one: they end after it. */
static void conn_end(struct pipeline *pl)
{
    struct conn_batch *b = pl->cur_conn;
    b->last = true;
    hand_over(pl, b);
    pl->cur_conn = NULL;
}

/* ------------------------------------------------------------------------
 * Stages.
 */

/* Engine on one batch; keeps draining (doing nothing) once stopped. */
static void engine_batch(struct pipeline *pl, const struct pkt_batch *b)
{
    for (uint32_t i = 0; i < b->n && !pl->out_rc; i++) {
        const struct dis_pkt *p = &b->p[i];
        pl->out_rc = p->frame ? tcb_packet(pl->tcb, p) : tcb_advance(pl->tcb, p->ts_ns);
    }
    atomic_store_explicit(&pl->live, tcb_table_stats(pl->tcb)->live, memory_order_relaxed);
    if (pl->out_rc)
        atomic_store(&pl->halt, 1);
}

static void engine_end(struct pipeline *pl)
{
    if (!pl->out_rc)
        pl->out_rc = tcb_finish(pl->tcb);
    atomic_store_explicit(&pl->live, tcb_table_stats(pl->tcb)->live, memory_order_relaxed);
}

static void *engine_main(void *arg)
{
    struct pipeline *pl = arg;
    for (;;) {
        struct pkt_batch *b = q_pop(&pl->pkt_full);
        bool last = b->last;
        engine_batch(pl, b);
        q_push(&pl->pkt_free, b);
        if (last)
            break;
    }
    engine_end(pl);
    if (pl->queued)
        conn_end(pl);
    return NULL;
}

/* A sink thread: group g, or (one sink thread for two groups) both. */
struct sink_thread {
    struct pipeline *pl;
    int g;
};

static void *sink_main(void *arg)
{
    struct sink_thread *st = arg;
    struct pipeline *pl = st->pl;
    int from = st->g, rc = 0;
    for (;;) {
        struct conn_batch *b = q_pop(&pl->conn_full[st->g]);
        /* read after the pop: the queue's lock orders it after the setting */
        int to = pl->nthreads_out == 1 ? NGROUPS : st->g + 1;
        size_t off = 0;
        for (uint32_t i = 0; i < b->n && !rc; i++) {
            const struct tcb_conn_info *c = (const void *)(b->buf + off);
            off += align8(sizeof(*c)) + align8((size_t)c->event_count * sizeof(*c->events)) +
                   align8((size_t)c->anomaly_count * sizeof(*c->anomalies));
            int g = from;
            rc = emit_groups(pl, from, to, c, &g);
            if (rc) {
                atomic_store(&pl->sink_rc[g], rc);
                atomic_store(&pl->halt, 1);
            }
        }
        bool last = b->last; /* read before the batch may be recycled */
        if (atomic_fetch_sub(&b->refs, 1) == 1) {
            b->used = 0, b->n = 0, b->last = false;
            q_push(&pl->conn_free, b);
        }
        if (last)
            break;
    }
    return NULL;
}

/* One frame read and decoded into *p; false at the end of the input. */
static bool read_frame(struct pipeline *pl, struct dis_reader *rd, struct pipeline_result *res,
                       struct dis_pkt *p)
{
    char err[TCBS_ERRLEN];
    struct dis_frame f;
    for (;;) {
        if (*pl->cfg.stop || atomic_load_explicit(&pl->halt, memory_order_relaxed))
            return false;
        int rc = dis_reader_next(rd, &f, err);
        if (rc == 0)
            return false;
        if (rc < 0) {
            if (*pl->cfg.stop)
                return false; /* a read cut by Ctrl-C is no input error */
            /* This input is lost; what came before stays, the next file goes on. */
            if (pl->cfg.on_input_error)
                pl->cfg.on_input_error(err);
            res->input_status = 2;
            continue;
        }
        if (pl->cfg.on_frame)
            pl->cfg.on_frame();
        enum dis_skip sk = dis_decode(f.linktype, f.data, f.caplen, f.wirelen, pl->cfg.verify, p);
        dis_stats_add(&res->ds, &f, sk, p);
        p->ts_ns = f.ts_ns;
        if (sk == DIS_SKIP_NONE) {
            p->frame = f.frame;
            p->payload = NULL; /* the frame buffer is reused: nothing may point into it */
        } else {
            p->frame = 0; /* only moves the clock */
            if (sk == DIS_SKIP_LINK_UNSUPPORTED && pl->cfg.on_linktype)
                pl->cfg.on_linktype(f.linktype);
        }
        return true;
    }
}

/* Reading, decoding and the engine on the calling thread (sinks as pl_emit says). */
static void run_inline(struct pipeline *pl, struct dis_reader *rd, struct pipeline_result *res)
{
    struct dis_pkt p;
    uint32_t k = 0;
    while (read_frame(pl, rd, res, &p)) {
        pl->out_rc = p.frame ? tcb_packet(pl->tcb, &p) : tcb_advance(pl->tcb, p.ts_ns);
        if (pl->out_rc)
            break;
        if (++k % PKT_BATCH == 0)
            atomic_store_explicit(&pl->live, tcb_table_stats(pl->tcb)->live,
                                  memory_order_relaxed);
    }
    engine_end(pl);
    if (pl->queued)
        conn_end(pl);
}

/* pthread_create, except that the cfg.fail_thread_start-th start fails (tests). */
static int start_thread(struct pipeline *pl, pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (pl->cfg.fail_thread_start && ++pl->starts == pl->cfg.fail_thread_start)
        return EAGAIN;
    return pthread_create(t, NULL, fn, arg);
}

/* The error that stopped the run: a sink group's first (group 0 before 1), else the engine's. */
static void result(struct pipeline *pl, struct pipeline_result *res)
{
    res->out_rc = pl->out_rc;
    res->out_group = 0;
    for (int g = 0; g < NGROUPS; g++) {
        int rc = atomic_load(&pl->sink_rc[g]);
        if (rc) {
            res->out_rc = rc;
            res->out_group = g;
            return;
        }
    }
    res->engine_failed = res->out_rc != 0;
}

int pipeline_run(struct pipeline *pl, struct dis_reader *rd, struct tcb_table *tcb,
                 struct pipeline_result *res)
{
    pthread_t eng, snk[NGROUPS];
    struct sink_thread st[NGROUPS] = {{pl, 0}, {pl, 1}};
    int nsnk = 0, rc = 0, e;

    pl->tcb = tcb;
    if (pl->cfg.threads >= 3) {
        pl->cur_conn = q_pop(&pl->conn_free);
        /* set before the threads start: they read it */
        pl->nthreads_out = pl->cfg.sinks[1].conn ? 2 : 1;
        if ((e = start_thread(pl, &snk[0], sink_main, &st[0])) != 0) {
            rc = -e; /* no sink thread: the engine writes to the sinks itself */
            q_push(&pl->conn_free, pl->cur_conn);
            pl->cur_conn = NULL;
        } else {
            nsnk = 1;
            pl->queued = true;
            if (pl->nthreads_out == 2) {
                if ((e = start_thread(pl, &snk[1], sink_main, &st[1])) == 0) {
                    nsnk = 2;
                } else {
                    rc = -e;
                    pl->nthreads_out = 1; /* the first sink thread serves both groups */
                }
            }
        }
    }
    e = pl->cfg.threads >= 2 ? start_thread(pl, &eng, engine_main, pl) : -1;
    if (e == 0) {
        struct pkt_batch *b = q_pop(&pl->pkt_free);
        b->n = 0;
        b->last = false;
        for (;;) {
            if (!read_frame(pl, rd, res, &b->p[b->n]))
                break;
            if (++b->n == PKT_BATCH) {
                q_push(&pl->pkt_full, b);
                b = q_pop(&pl->pkt_free);
                b->n = 0;
                b->last = false;
            }
        }
        b->last = true;
        q_push(&pl->pkt_full, b);
        pthread_join(eng, NULL);
    } else {
        if (e > 0)
            rc = -e; /* no engine thread: this one runs the engine too */
        run_inline(pl, rd, res);
    }
    for (int i = 0; i < nsnk; i++)
        pthread_join(snk[i], NULL);
    result(pl, res);
    return rc;
}

uint64_t pipeline_live(const struct pipeline *pl)
{
    return atomic_load_explicit(&((struct pipeline *)pl)->live, memory_order_relaxed);
}

struct pipeline *pipeline_new(const struct pipeline_cfg *cfg)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return NULL;
    pl->cfg = *cfg;
    if (pl->cfg.threads < 1)
        pl->cfg.threads = 1;
    atomic_init(&pl->halt, 0);
    for (int g = 0; g < NGROUPS; g++)
        atomic_init(&pl->sink_rc[g], 0);
    atomic_init(&pl->live, 0);
    q_init(&pl->pkt_full);
    q_init(&pl->pkt_free);
    for (int g = 0; g < NGROUPS; g++)
        q_init(&pl->conn_full[g]);
    q_init(&pl->conn_free);
    if (pl->cfg.threads >= 2) {
        for (int i = 0; i < NBATCH; i++) {
            pl->pkts[i] = malloc(sizeof(*pl->pkts[i]));
            if (!pl->pkts[i])
                goto nomem;
            q_push(&pl->pkt_free, pl->pkts[i]);
        }
    }
    if (pl->cfg.threads >= 3) {
        for (int i = 0; i < NBATCH; i++) {
            struct conn_batch *b = &pl->conns[i];
            b->buf = malloc(CONN_BATCH_BYTES);
            if (!b->buf)
                goto nomem;
            b->cap = CONN_BATCH_BYTES;
            atomic_init(&b->refs, 0);
            q_push(&pl->conn_free, b);
        }
    }
    return pl;
nomem:
    pipeline_free(pl);
    return NULL;
}

void pipeline_free(struct pipeline *pl)
{
    if (!pl)
        return;
    for (int i = 0; i < NBATCH; i++) {
        free(pl->pkts[i]);
        free(pl->conns[i].buf);
    }
    q_destroy(&pl->pkt_full);
    q_destroy(&pl->pkt_free);
    for (int g = 0; g < NGROUPS; g++)
        q_destroy(&pl->conn_full[g]);
    q_destroy(&pl->conn_free);
    free(pl);
}
