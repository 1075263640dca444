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
    SINK_VOC_TUNNEL, /* dis_tunnel_name() */
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
    X(evicted, "INTEGER NOT NULL", SINK_VOC_BOOL)                                                  \
    X(first_time, "TEXT NOT NULL", SINK_VOC_NONE)                                                  \
    X(last_time, "TEXT NOT NULL", SINK_VOC_NONE)                                                   \
    X(duration_ns, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(service, "TEXT", SINK_VOC_NONE)                                                              \
    X(community_id, "TEXT NOT NULL", SINK_VOC_NONE)                                                \
    X(first_frame, "INTEGER NOT NULL", SINK_VOC_NONE)                                              \
    X(last_frame, "INTEGER NOT NULL", SINK_VOC_NONE)                                               \
    X(tunnel, "TEXT NOT NULL", SINK_VOC_TUNNEL)                                                    \
    X(tunnel_id, "INTEGER", SINK_VOC_NONE)                                                         \
    X(ip_bytes_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                             \
    X(ip_bytes_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                             \
    X(retrans_bytes_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                        \
    X(retrans_bytes_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                        \
    X(zero_windows_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(zero_windows_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(dup_acks_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                             \
    X(dup_acks_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                             \
    X(out_of_order_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(out_of_order_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(missed_bytes_c2s, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(missed_bytes_s2c, "INTEGER NOT NULL", SINK_VOC_NONE)                                         \
    X(rtt_c2s_samples, "INTEGER NOT NULL", SINK_VOC_NONE)                                          \
    X(rtt_c2s_min_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(rtt_c2s_avg_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(rtt_c2s_max_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(rtt_s2c_samples, "INTEGER NOT NULL", SINK_VOC_NONE)                                          \
    X(rtt_s2c_min_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(rtt_s2c_avg_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(rtt_s2c_max_ns, "INTEGER", SINK_VOC_NONE)                                                    \
    X(tap_to_server_ns, "INTEGER", SINK_VOC_NONE)                                                  \
    X(tap_to_client_ns, "INTEGER", SINK_VOC_NONE)

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

/* "1:" + 28 base64 characters of a SHA-1 + NUL. */
#define SINK_COMMUNITY_ID_LEN 32

/*
 * Community ID v1 of the TCP flow a:aport <-> b:bport (either order gives
 * the same ID) with the given seed (0 = the spec's default), addresses 4
 * (ip_version 4) or 16 bytes.  Into buf, returns buf.  No allocation.
 */
const char *sink_community_id(uint16_t seed, uint8_t ip_version, const uint8_t a[16],
                              uint16_t aport, const uint8_t b[16], uint16_t bport,
                              char buf[SINK_COMMUNITY_ID_LEN]);

/*
 * IANA service name of a TCP port ("http" for 80) from the compiled-in
 * table generated from Debian's /etc/services (services.c); NULL when the
 * port has none.  The string is static.
 */
const char *sink_service_name(uint16_t port);

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
    char first_time[SINK_TIME_LEN], last_time[SINK_TIME_LEN];
    char community_id[SINK_COMMUNITY_ID_LEN];
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

/* ".NAME.tmp-XXXXXX" in the directory of path (a mkstemp() template),
 * sink_malloc'd (caller frees); NULL on ENOMEM. */
char *sink_temp_name(const char *path);

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

/* ----------------------------------------------------------------------------
 * The one terminal summary (summary.c), fed by the live sink or from a
 * database (dbread.c).
 */

/* "Top servers by p99" ranks only servers with at least this many handshakes. */
#define SINK_SUMMARY_MIN_HANDSHAKES 5
/* Rows of each top-servers table of the live summary (summary DB: -n). */
#define SINK_SUMMARY_TOP 10

/*
 * What the summary shows.  Every pointer is malloc'd and owned by the
 * struct (sink_summary_data_free()); count lists are ordered by count, then
 * key (sink_summary_sort_counts()); zero counts are not shown.
 */
struct sink_summary_data {
    bool interrupted;
    bool have_input; /* the decoder counters below are known */
    bool have_times; /* first_ns/last_ns: of the frames read */
    uint64_t files, frames, bytes, ipv4_pkts, ipv6_pkts, tcp_segments; /* frames: analysed */
    uint64_t frames_read; /* before the BPF filter */
    bool filtered;        /* a filter was given: frames = the frames it matched */
    uint64_t bad_ip_csum, bad_tcp_csum;
    uint64_t first_ns, last_ns;
    struct sink_db_count *links, *skips, *anom; /* link type name, skip reason, anomaly kind */
    size_t nlinks, nskips, nanom;
    uint64_t conns, conns_v4, conns_v6, evicted, peak_live, peak_held;
    struct sink_db_count *groups[SINK_DB_GROUP_COUNT];
    size_t ngroups[SINK_DB_GROUP_COUNT];
    uint64_t *lat_ns; /* SYN -> completing ACK of complete handshakes, ascending */
    size_t nlat;
    struct sink_db_server *servers; /* any order: the renderer sorts them */
    size_t nservers;
};

/* Print the summary of d under the title line; top = rows per server table. */
void sink_summary_render(FILE *out, bool color, const char *title, struct sink_summary_data *d,
                         size_t top);

/* Sort a count list by count (descending), then key: the databases' order. */
void sink_summary_sort_counts(struct sink_db_count *r, size_t n);

/* Free everything d points to and zero it. */
void sink_summary_data_free(struct sink_summary_data *d);

/*
 * Buffered text output shared by the streaming sinks (outfile.c): a file,
 * or stdout for "-".  Every function that can fail records the first error
 * (sticky: later calls repeat its message into err and return it) and
 * returns 0 or a negative value; SINK_EPIPE when a pipe's reader went away.
 */
struct sink_out {
    int fd;
    bool own_fd;   /* a file we opened (closed by sink_out_close), not stdout */
    bool sigguard; /* fd is a pipe or socket: SIGPIPE held off around writes */
    char *name;    /* path, or "stdout" (for messages) */
    char *buf;     /* o->buf[o->len..o->cap) is free room */
    size_t len, cap;
    int failed;
    char failmsg[TCBS_ERRLEN];
};

/*
 * Open path ("-" = stdout) for writing with a bufsize-byte buffer.  An
 * existing file is refused unless force (sink_target_check()).  On error *o
 * holds nothing to free.
 */
int sink_out_open(struct sink_out *o, const char *path, bool force, size_t bufsize,
                  char err[TCBS_ERRLEN]);

/* Make room for need more bytes at o->buf + o->len (flushes, grows once). */
int sink_out_reserve(struct sink_out *o, size_t need, char err[TCBS_ERRLEN]);

/* Append printf-formatted text to the buffer. */
int sink_out_printf(struct sink_out *o, char err[TCBS_ERRLEN], const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write the buffer out. */
int sink_out_flush(struct sink_out *o, char err[TCBS_ERRLEN]);

/* Flush and close a file we opened (stdout stays open). */
int sink_out_close(struct sink_out *o, char err[TCBS_ERRLEN]);

/* Free the buffer and close the file if still open; what was written stays. */
void sink_out_free(struct sink_out *o);

/* Record a failure (sticky, see above) and return it. */
int sink_out_fail(struct sink_out *o, int rc, char err[TCBS_ERRLEN], const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The sink the streaming formats share (NDJSON, Zeek log, CSV): the output
 * file, a row buffer for sink_conn_row_fill(), and an optional trailer
 * written at finish before the file is closed (Zeek's #close line).
 */
struct sink_stream {
    struct sink base;
    struct sink_out out;
    bool finished;
    struct sink_conn_row row;
    int (*trailer)(struct sink_stream *s, char err[TCBS_ERRLEN]);
};

/*
 * A new stream sink with these ops writing to path ("-" = stdout; an
 * existing file refused unless force).  0 and *out, or negative with err.
 */
int sink_stream_open(struct sink_stream **out, const struct sink_ops *ops, const char *path,
                     bool force, size_t bufsize, char err[TCBS_ERRLEN]);

/* The finish() of every stream sink: trailer, flush, close; sticky errors. */
int sink_stream_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN]);

/* The destroy() of every stream sink (what was written stays). */
void sink_stream_destroy(struct sink *base);

#endif /* TCBSCOPE_SINK_INT_H */
