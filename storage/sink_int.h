/*
 * sink_int.h - private to the storage module (and its tests).
 *
 * Owns: the one column list of a connection record that both the SQLite
 * `connections` table and the NDJSON keys are made from (so the two cannot
 * disagree), the vocabularies behind the CHECK constraints, the shared
 * rules for output paths (refuse an existing file, what a path names), and the fault-injection hook through
 * which tests fail an allocation or a write at call N.
 *
 * Leaves to others: the output formats themselves (sqlite.c, json.c,
 * summary.c) and the fan-out (sink.c).
 */
#ifndef TCBSCOPE_SINK_INT_H
#define TCBSCOPE_SINK_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

/* Which word list constrains a column (SQL CHECK ... IN, JSON enum). */
enum sink_voc {
    SINK_VOC_NONE = 0,
    SINK_VOC_STATE,
    SINK_VOC_CAUSE,
    SINK_VOC_OPEN_KIND,
    SINK_VOC_EP_OPEN,
    SINK_VOC_HANDSHAKE,
    SINK_VOC_CLOSE_KIND,
    SINK_VOC_ANOMALY,
    SINK_VOC_ENDPOINT,
    SINK_VOC_BOOL, /* 0/1 integers */
    SINK_VOC_COUNT
};

/* Number of words in a vocabulary (SINK_VOC_BOOL: 2, SINK_VOC_NONE: 0). */
size_t sink_voc_count(enum sink_voc v);

/* Word i of a text vocabulary (NULL for SINK_VOC_NONE/SINK_VOC_BOOL or i out of range). */
const char *sink_voc_word(enum sink_voc v, size_t i);

/*
 * The columns of `connections` = the scalar keys of one NDJSON line, in
 * order: X(name, SQL declaration, vocabulary).  Append only: the order is
 * the column order of the public schema.
 */
#define SINK_CONN_COLUMN_LIST(X)                                                                   \
    X(id, "INTEGER PRIMARY KEY", SINK_VOC_NONE)                                                    \
    X(client_ip, "TEXT NOT NULL", SINK_VOC_NONE)                                                   \
    X(client_port, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(server_ip, "TEXT NOT NULL", SINK_VOC_NONE)                                                   \
    X(server_port, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(ip_version, "INTEGER NOT NULL CHECK (ip_version IN (4, 6))", SINK_VOC_NONE)                  \
    X(vlan, "INTEGER", SINK_VOC_NONE)                                                              \
    X(incarnation, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(open_kind, "TEXT NOT NULL", SINK_VOC_OPEN_KIND)                                              \
    X(client_open, "TEXT NOT NULL", SINK_VOC_EP_OPEN)                                              \
    X(server_open, "TEXT NOT NULL", SINK_VOC_EP_OPEN)                                              \
    X(handshake, "TEXT NOT NULL", SINK_VOC_HANDSHAKE)                                              \
    X(close_kind, "TEXT NOT NULL", SINK_VOC_CLOSE_KIND)                                            \
    X(client_final_state, "TEXT NOT NULL", SINK_VOC_STATE)                                         \
    X(server_final_state, "TEXT NOT NULL", SINK_VOC_STATE)                                         \
    X(first_ns, "INTEGER NOT NULL", SINK_VOC_NONE)                                                 \
    X(last_ns, "INTEGER NOT NULL", SINK_VOC_NONE)                                                  \
    X(syn_ns, "INTEGER", SINK_VOC_NONE)                                                            \
    X(synack_ns, "INTEGER", SINK_VOC_NONE)                                                         \
    X(ack_ns, "INTEGER", SINK_VOC_NONE)                                                            \
    X(syn_retransmits, "INTEGER NOT NULL", SINK_VOC_NONE)                                          \
    X(synack_retransmits, "INTEGER NOT NULL", SINK_VOC_NONE)                                       \
    X(packets_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(packets_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(data_bytes_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                           \
    X(data_bytes_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                           \
    X(retrans_packets_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                      \
    X(retrans_packets_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                      \
    X(client_mss, "INTEGER", SINK_VOC_NONE)                                                        \
    X(server_mss, "INTEGER", SINK_VOC_NONE)                                                        \
    X(client_wscale, "INTEGER", SINK_VOC_NONE)                                                     \
    X(server_wscale, "INTEGER", SINK_VOC_NONE)                                                     \
    X(sack_permitted, "INTEGER", SINK_VOC_BOOL)                                                    \
    X(timestamps, "INTEGER", SINK_VOC_BOOL)                                                        \
    X(tfo, "INTEGER NOT NULL", SINK_VOC_BOOL)                                                      \
    X(zeek_conn_state, "TEXT NOT NULL", SINK_VOC_NONE)                                             \
    X(zeek_history, "TEXT NOT NULL", SINK_VOC_NONE)                                                \
    X(evicted, "INTEGER NOT NULL", SINK_VOC_BOOL)

enum sink_col {
#define SINK_X(name, decl, voc) SINK_COL_##name,
    SINK_CONN_COLUMN_LIST(SINK_X)
#undef SINK_X
        SINK_COL_COUNT
};

struct sink_col_def {
    const char *name;
    const char *decl;
    enum sink_voc voc;
};
extern const struct sink_col_def sink_conn_cols[SINK_COL_COUNT];

enum sink_vtype { SINK_V_NULL = 0, SINK_V_INT, SINK_V_TEXT };

/* One value of a row: an unsigned integer, a NUL-terminated text, or NULL. */
struct sink_val {
    uint8_t type; /* enum sink_vtype */
    uint64_t u;
    const char *s; /* SINK_V_TEXT: static vocabulary or a buffer of the row */
};

/*
 * A connection flattened to column values.  Texts point to static
 * vocabulary or into the row's own buffers, so the row owns everything it
 * refers to and stays valid after the callback that filled it.
 */
struct sink_conn_row {
    struct sink_val v[SINK_COL_COUNT];
    char client_ip[48], server_ip[48];
    char zeek_conn_state[sizeof(((struct tcb_conn_info *)0)->zeek_conn_state) + 1];
    char zeek_history[TCB_ZEEK_HISTORY_MAX + 1];
};

/* Fill *row from *c (NULLs from the have bits).  No allocation. */
void sink_conn_row_fill(struct sink_conn_row *row, const struct tcb_conn_info *c);

/* What an output path names, as sink_target_check() found it. */
enum sink_target {
    SINK_TARGET_ABSENT, /* nothing yet (or unreachable: creating it will say why) */
    SINK_TARGET_FILE,   /* a regular file, or a symbolic link to one */
    SINK_TARGET_STREAM, /* a character device or a FIFO (/dev/null, mkfifo, >(...)) */
};

/*
 * Check an output path before anything is written, following symbolic
 * links.  Refused always: a directory (-EISDIR, "PATH: is a directory"), a
 * block device or a socket (-EINVAL), a symbolic link to nothing (-ENOENT);
 * an existing regular file unless force (-EEXIST, "PATH exists (use --force
 * to overwrite)").  Returns 0 and *kind, or negative with a one-line err.
 * Whether a stream is acceptable is the sink's decision: for one, err
 * describes it ("PATH: is a character device") for a sink that refuses it.
 */
int sink_target_check(const char *path, bool force, enum sink_target *kind,
                      char err[TCBS_ERRLEN]);

/*
 * Right before a rename over path: 1 when path (not following a symbolic
 * link) is a regular file, 0 when it does not exist, else negative with
 * "PATH is now a FIFO (pipe)" (or the like) in err.
 */
int sink_target_regular(const char *path, char err[TCBS_ERRLEN]);

/*
 * Fault injection for tests: when sink_fault_countdown is non-zero it is
 * decremented by every sink_fault() call and the call that brings it to
 * zero fails (returns true).  Every allocation and every write of a sink
 * asks sink_fault() first.  Zero (the default) never fails.
 */
extern unsigned long sink_fault_countdown;
bool sink_fault(void);

/* malloc/realloc that fail when sink_fault() says so. */
void *sink_malloc(size_t n);
void *sink_realloc(void *p, size_t n);

/*
 * Sticky failure of a sink: the first error's message is kept in msg and
 * *failed = rc; every call (this one and later ones) copies that first
 * message to err (when not NULL) and returns *failed.
 */
int sink_fail_record(int *failed, char msg[TCBS_ERRLEN], int rc, char err[TCBS_ERRLEN],
                     const char *fmt, va_list ap);

#endif /* TCBSCOPE_SINK_INT_H */
