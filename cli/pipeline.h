/*
 * pipeline.h - private to cli/: the frame loop, on one thread or spread over
 * two, three or four (reader+decoder | engine | sinks [| more sinks]) joined
 * by bounded queues of batches.  Wiring only: every stage calls the modules'
 * public functions in the same order as the single-threaded loop, so the
 * output never depends on thread timing (--threads 1 gives byte-identical
 * results).
 */
#ifndef TCBSCOPE_CLI_PIPELINE_H
#define TCBSCOPE_CLI_PIPELINE_H

#include <signal.h>

#include "sink.h"

struct pipeline;

#define PIPELINE_GROUPS 2

struct pipeline_cfg {
    int threads;                  /* 1, 2 (reader | engine+sinks) or 3 (reader | engine | sinks) */
    bool verify;                  /* --verify-checksums */
    /* Where finished connections finally go: one or two groups of sinks
     * (sinks[1].conn NULL for one), each connection to group 0 first.  With
     * 3 threads each group runs on a thread of its own, so that two slow
     * sinks (SQLite and NDJSON) work at the same time. */
    struct tcb_output sinks[PIPELINE_GROUPS];
    volatile sig_atomic_t *stop;  /* set by Ctrl-C: end the input there */
    void (*on_frame)(void);       /* once per frame, on the reader thread (progress) */
    void (*on_input_error)(const char *msg); /* a file could not be read (reader thread) */
    void (*on_linktype)(int linktype);       /* first frame of an unsupported link type */
    /* Tests: the Nth thread start of the run fails as if pthread_create had
     * (0 = never).  Starts come in this order: sink thread of group 0, of
     * group 1 (both only with 3 threads), engine thread. */
    unsigned fail_thread_start;
};

/* Returns NULL on ENOMEM.  cfg is copied. */
struct pipeline *pipeline_new(const struct pipeline_cfg *cfg);

/* The output to give tcb_table_new(): it feeds the sinks through the pipeline. */
struct tcb_output pipeline_engine_output(struct pipeline *pl);

struct pipeline_result {
    int input_status;   /* 0, or 2 when some input file could not be read */
    int out_rc;         /* 0, or the engine/sink return that stopped the run */
    int out_group;      /* with out_rc: the sink group it came from (0 for the engine) */
    bool engine_failed; /* with out_rc: no sink failed, the analysis did (-ENOMEM) */
    struct dis_stats ds;
};

/*
 * Read every frame of rd, decode, feed tcb (whose output must be
 * pipeline_engine_output(pl)), finish tcb.  Returns 0, or -errno when a
 * thread could not be started: the run then went on with fewer threads (the
 * engine writing to the sinks itself, or the reading thread running the
 * engine) and its results are complete and the same.
 */
int pipeline_run(struct pipeline *pl, struct dis_reader *rd, struct tcb_table *tcb,
                 struct pipeline_result *res);

/* Live connections, safe to call from any thread (progress line). */
uint64_t pipeline_live(const struct pipeline *pl);

void pipeline_free(struct pipeline *pl);

#endif /* TCBSCOPE_CLI_PIPELINE_H */
