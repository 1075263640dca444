/*
 * sink.h - public interface of the storage module.
 *
 * Owns: the sinks that finished connections are written to (terminal
 * summary, SQLite database, NDJSON stream), all peers behind struct sink,
 * and the fan-out that feeds several sinks from the analyzer's one output.
 *
 * Leaves to others: deciding what a connection is (analyzer/), reading
 * captures (dissectors/), parsing options and printing errors (cli/).
 */
#ifndef TCBSCOPE_SINK_H
#define TCBSCOPE_SINK_H

#include <errno.h>
#include <stdio.h>

#include "tcb.h"

/* Facts about the whole run, handed to every sink when it finishes. */
struct sink_run_info {
    const char *version;
    const char *command_line;  /* argv joined with spaces */
    uint64_t start_unix_ns;    /* wall clock when the run started */
    const struct dis_file_info *files;
    size_t file_count;
    const struct dis_stats *dis;
    const struct tcb_stats *tcb;
    bool interrupted;          /* Ctrl-C: results are what was analysed so far */
    bool as_given;             /* files read one after another, not merged by time */
    /* Run frame number -> file and frame in it: one entry per maximal run of
     * consecutive frames from one file (dis_reader_frame_map()); may be NULL. */
    const struct dis_frame_run *frame_map;
    size_t frame_map_count;
    const char *filter;        /* the BPF filter (-f), NULL when none; dis counts only
                                * the frames it passed, files[].frames every frame read */
};

/* Frames read over all files (before the filter): the sum of files[].frames. */
uint64_t sink_run_frames_read(const struct sink_run_info *run);

struct sink;

struct sink_ops {
    const char *name;
    /* One finished connection.  0, or a negative value with err filled.
     * A sink may hold rows back and write them in batches: an error in
     * writing a connection can then come from a later conn() or finish(). */
    int (*conn)(struct sink *s, const struct tcb_conn_info *c, char err[TCBS_ERRLEN]);
    /* The run ended (also after an input error or interruption: whatever
     * was analysed is kept).  Commits what was written.  0 or negative. */
    int (*finish)(struct sink *s, const struct sink_run_info *run, char err[TCBS_ERRLEN]);
    /* Free everything.  When finish() was not called or failed, undo:
     * e.g. remove a temporary database, leave an existing target untouched. */
    void (*destroy)(struct sink *s);
};

struct sink {
    const struct sink_ops *ops;
};

/*
 * Terminal summary printed to `out` at finish: frames, link types, skips by
 * reason, connections by open_kind/handshake/close_kind, handshake latency
 * median/p90/p99.  color: use ANSI colours.  Returns NULL on ENOMEM.
 */
struct sink *sink_summary_new(FILE *out, bool color);

/*
 * SQLite database at `path`, written to a temporary file beside it and
 * renamed into place by finish().  An existing regular file is refused
 * unless force; anything else that exists (device, FIFO, socket,
 * directory) and a descriptor name (/dev/stdout, /dev/fd/N: see
 * sink_path_fd()) is refused always (-EINVAL, -EISDIR), so nothing but a
 * regular file is ever replaced.  A symbolic link to a regular file is
 * followed: the database replaces the file it points to (built beside
 * that file), the link stays.  finish() checks again right before the
 * rename: when the target is then no longer a regular file (or appeared
 * without force), nothing is renamed and the error names the temporary
 * file, which is kept.  Returns 0 and *out, or negative with err.
 */
int sink_sqlite_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);

/* Schema version kept in PRAGMA user_version. */
#define SINK_SQLITE_SCHEMA_VERSION 2

/*
 * NDJSON: one object per connection per line, to `path` ("-" = stdout),
 * written as connections finish.  A regular file is created (an existing
 * one refused unless force, then truncated); a character device or a FIFO
 * is opened and written in place, no force needed; a descriptor name
 * (/dev/stdout, /dev/fd/N, see sink_path_fd()) writes to that descriptor
 * (a copy of it), whatever it is; a directory, block device or socket path
 * is refused.  Nothing is ever renamed.  Returns 0 and *out, or negative
 * with err.
 */
int sink_json_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);

/*
 * CSV (RFC 4180): a header row with the `connections` column names, then one
 * row per connection, NULL as an empty field, to `path` ("-" = stdout).  An
 * existing file is refused unless force.  Returns 0 and *out, or negative
 * with err.
 */
int sink_csv_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);

/*
 * Zeek conn.log (TSV with Zeek's # headers, fields ts uid id.orig_h
 * id.orig_p id.resp_h id.resp_p proto service duration orig_bytes
 * resp_bytes conn_state local_orig local_resp missed_bytes history
 * orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents; values
 * tcbscope lacks are "-") to `path` ("-" = stdout).  As sink_csv_open().
 */
int sink_zeek_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);


/*
 * Fan-out: an analyzer output that hands every connection to each sink in
 * turn.  The first sink error stops the run: it is kept in the set's err
 * and the analyzer sees the non-zero return.
 */
#define SINK_SET_MAX 6
struct sink_set {
    struct sink *sinks[SINK_SET_MAX];
    size_t count;
    char err[TCBS_ERRLEN];
};

/* The tcb_output that feeds set (set must outlive the analyzer). */
struct tcb_output sink_set_output(struct sink_set *set);

/* finish() every sink; stops at the first error (kept in set->err). */
int sink_set_finish(struct sink_set *set, const struct sink_run_info *run);

/* destroy() every sink and empty the set. */
void sink_set_destroy(struct sink_set *set);

/*
 * The descriptor an output path names: /dev/stdin, /dev/stdout and
 * /dev/stderr (0, 1, 2), /dev/fd/N, /proc/self/fd/N and
 * /proc/thread-self/fd/N (N); -1 for any other path.  Only the spelling is
 * looked at, not the file system.
 */
int sink_path_fd(const char *path);

/* Text form of an address (inet_ntop) into buf (at least 46 bytes). */
const char *sink_ip_str(uint8_t version, const uint8_t addr[16], char *buf, size_t len);

/*
 * Returned by a sink's conn()/finish() (and so by the fan-out) when its
 * reader went away: `tcbscope ... --json - | head -1`.  Not a failure to
 * report: the cli stops quietly.  The JSON sink holds SIGPIPE off around its
 * own writes, so the process is not killed by the signal.
 */
#define SINK_EPIPE (-EPIPE)

/* ----------------------------------------------------------------------------
 * Reading a database back (dbread.c): what `tcbscope summary` and `show`
 * render.  Read-only; every list is one malloc'd block the caller free()s.
 */
struct sink_db;

/*
 * Open the tcbscope database at path read-only and check it is one: the
 * tables exist and PRAGMA user_version is SINK_SQLITE_SCHEMA_VERSION.
 * Returns 0 and *out, or with a one-line message naming path in err:
 * -ENOENT/-EACCES/-EISDIR (cannot open), -EINVAL (not a tcbscope
 * database), -EPROTO (another schema version), -EIO.
 */
int sink_db_open(struct sink_db **out, const char *path, char err[TCBS_ERRLEN]);

/* Close; NULL is fine. */
void sink_db_close(struct sink_db *db);

/* One counted word (or "client / server" state pair, or run key suffix). */
struct sink_db_count {
    char key[64];
    int64_t count;
};

enum sink_db_group {
    SINK_DB_BY_OPEN_KIND,
    SINK_DB_BY_HANDSHAKE,
    SINK_DB_BY_CLOSE_KIND,
    SINK_DB_BY_FINAL_STATES, /* key "CLIENT-STATE / SERVER-STATE" */
    SINK_DB_GROUP_COUNT
};

/*
 * Connections grouped by one column, most frequent first (ties by key).
 * *rows is malloc'd (caller frees; NULL when *n is 0).  0 or negative with err.
 */
int sink_db_group_counts(struct sink_db *db, enum sink_db_group g, struct sink_db_count **rows,
                         size_t *n, char err[TCBS_ERRLEN]);

/*
 * Integer rows of the `run` table whose key starts with prefix, the prefix
 * cut from the key, in key order ("skipped." -> "not_tcp", ...).  As above.
 */
int sink_db_run_ints(struct sink_db *db, const char *prefix, struct sink_db_count **rows,
                     size_t *n, char err[TCBS_ERRLEN]);

/* One `run` value: 1 and *v when the key exists as an integer, 0 when not, negative on error. */
int sink_db_run_int(struct sink_db *db, const char *key, int64_t *v, char err[TCBS_ERRLEN]);

/*
 * SYN -> handshake-completing ACK time (ns) of every complete handshake,
 * sorted ascending.  *ns malloc'd (caller frees).  0 or negative with err.
 */
int sink_db_handshake_ns(struct sink_db *db, uint64_t **ns, size_t *n, char err[TCBS_ERRLEN]);

/* One server (server_ip, server_port) over all its connections. */
struct sink_db_server {
    char ip[48];
    uint16_t port;
    uint64_t conns;
    uint64_t handshakes;      /* complete ones with SYN and ACK times */
    uint64_t p99_ns, max_ns;  /* of those handshakes (nearest rank); 0 when none */
    uint64_t p50_ns, p90_ns;  /* likewise */
};

/* Every server, in (ip, port) order.  *rows malloc'd.  0 or negative with err. */
int sink_db_servers(struct sink_db *db, struct sink_db_server **rows, size_t *n,
                    char err[TCBS_ERRLEN]);

/* One `connections` row, the columns show needs. */
struct sink_db_conn {
    uint64_t id;
    char client_ip[48], server_ip[48];
    uint16_t client_port, server_port;
    uint8_t ip_version;
    int32_t vlan; /* -1 = no VLAN */
    uint32_t incarnation;
    char open_kind[24], handshake[24], close_kind[24];
    char client_final_state[16], server_final_state[16];
    uint64_t first_ns, last_ns;
    uint64_t first_frame, last_frame; /* run frame numbers of its first and last segment */
    uint64_t packets[2], data_bytes[2]; /* by enum tcb_endpoint of the sender */
    char zeek_history[TCB_ZEEK_HISTORY_MAX];
};

/*
 * Connections by id (ip_a == NULL) or by 4-tuple in either direction (ip_a,
 * ip_b in inet_ntop form as stored), in id order.  *rows malloc'd; *n may be
 * 0.  0 or negative with err.
 */
int sink_db_find_conns(struct sink_db *db, uint64_t id, const char *ip_a, uint16_t port_a,
                       const char *ip_b, uint16_t port_b, struct sink_db_conn **rows, size_t *n,
                       char err[TCBS_ERRLEN]);

/*
 * The transitions of one connection in seq order, as tcb_events (frame 0 =
 * none).  *ev malloc'd.  0, or negative with err (-EINVAL: an unknown word).
 */
int sink_db_transitions(struct sink_db *db, uint64_t conn_id, struct tcb_event **ev, size_t *n,
                        char err[TCBS_ERRLEN]);

/*
 * The capture file names of the run in file_index order.  *names is one
 * malloc'd block holding the pointers and the strings (one free()).
 */
int sink_db_captures(struct sink_db *db, char ***names, size_t *n, char err[TCBS_ERRLEN]);

/* Filters of sink_db_list(); NULL / negative = no filter. */
struct sink_db_list_filter {
    const char *server_ip;  /* server_ip, inet_ntop form as stored */
    int32_t server_port;    /* server_port */
    int32_t port;           /* client_port or server_port */
    const char *state;      /* client_final_state or server_final_state (state word) */
    const char *open_kind;  /* open_kind word */
    double min_handshake_ms; /* complete handshakes at least this slow (SYN to ACK) */
    int64_t limit;          /* at most this many rows; negative = all */
};

/* One row of `tcbscope list`. */
struct sink_db_list_row {
    uint64_t id;
    char client_ip[48], server_ip[48];
    uint16_t client_port, server_port;
    char open_kind[24], handshake[24], close_kind[24];
    char client_final_state[16], server_final_state[16];
    int64_t handshake_ns; /* SYN to completing ACK; -1 when not a complete handshake */
    uint64_t first_ns, last_ns;
};

/*
 * Connections matching every filter in f, in id order.  The filter values
 * are bound as SQL parameters (never part of the SQL text).  *rows
 * malloc'd (caller frees; NULL when *n is 0).  0 or negative with err.
 */
int sink_db_list(struct sink_db *db, const struct sink_db_list_filter *f,
                 struct sink_db_list_row **rows, size_t *n, char err[TCBS_ERRLEN]);

/*
 * The terminal summary of the database (the same text the live summary of
 * `analyze` prints for the same capture, below its own title line) to out,
 * under the title line given; top = rows of each top-servers table; color:
 * ANSI colours.  0, or negative with err (nothing printed then).
 */
int sink_db_summary(struct sink_db *db, FILE *out, bool color, const char *title, size_t top,
                    char err[TCBS_ERRLEN]);

/* 1234567 -> "1,234,567" into buf; returns buf. */
const char *sink_fmt_count(uint64_t v, char buf[32]);

/* "2026-11-25T10:00:00.123456789Z" plus NUL (years up to 9999; 40 leaves room). */
#define SINK_TIME_LEN 40

/*
 * ns since the Unix epoch as RFC 3339 UTC with nanoseconds into buf;
 * returns buf ("" for a time past the year 9999).
 */
const char *sink_fmt_rfc3339(uint64_t ns, char buf[SINK_TIME_LEN]);

/* 117000 -> "117 µs", 1500000000 -> "1.50 s" into buf; returns buf. */
const char *sink_fmt_duration(uint64_t ns, char buf[32]);

/*
 * A `run` TEXT value into buf (truncated to len): 1 when the key exists as
 * text, 0 when not, negative with err on a query error.
 */
int sink_db_run_text(struct sink_db *db, const char *key, char *buf, size_t len,
                     char err[TCBS_ERRLEN]);

/*
 * First and last frame time over all captures: 1 and *first, *last when
 * some capture had frames, 0 when none, negative with err.
 */
int sink_db_time_span(struct sink_db *db, uint64_t *first, uint64_t *last, char err[TCBS_ERRLEN]);

/* Which connections sink_db_pick_conns() picks. */
enum sink_db_pick {
    SINK_DB_PICK_SLOWEST,      /* complete handshakes, slowest (SYN to ACK) first, then id */
    SINK_DB_PICK_RESET,        /* close_kind reset_client or reset_server, in id order */
    SINK_DB_PICK_SIMULTANEOUS, /* open_kind simultaneous, in id order */
    SINK_DB_PICK_COUNT
};

struct sink_db_pick_row {
    uint64_t id;
    int64_t handshake_ns; /* SYN to completing ACK; -1 when no complete handshake */
};

/*
 * At most limit connections of one kind (see enum sink_db_pick), with
 * their handshake time.  *rows malloc'd (caller frees; NULL when *n is 0).
 * 0 or negative with err.
 */
int sink_db_pick_conns(struct sink_db *db, enum sink_db_pick what, size_t limit,
                       struct sink_db_pick_row **rows, size_t *n, char err[TCBS_ERRLEN]);

/* ----------------------------------------------------------------------------
 * Ladder diagrams (ladder.c): the transitions of one connection cut into
 * the steps that `tcbscope show` draws as text and `tcbscope report` as
 * SVG.  A step is every transition caused by one segment (one frame), or
 * one transition no segment caused (a timer, the end of the capture, an
 * inferred state).
 */
#define SINK_LADDER_MAX_STATES 8

struct sink_ladder_step {
    size_t first, count;    /* the step is ev[first .. first + count) */
    int sender;             /* TCB_CLIENT / TCB_SERVER sent the segment; -1: no segment */
    unsigned flags;         /* DIS_TH_* flags the causes imply the segment carried */
    uint8_t to[2][SINK_LADDER_MAX_STATES]; /* states entered, per enum tcb_endpoint, in order */
    size_t nto[2];          /* (more than SINK_LADDER_MAX_STATES are not kept) */
};

/*
 * The step starting at ev[i] (i < n) into *step; returns the index of the
 * next step's first transition.  The sender follows from the causes:
 * snd_* and the receipts recorded at the receiver's answer (rcv_syn,
 * rcv_synack, rcv_fin: docs/vantage.md rule 2) are segments of the
 * transition's endpoint; rcv_ack_of_syn, rcv_ack_of_fin and rcv_rst are
 * segments of the other one.
 */
size_t sink_ladder_step(const struct tcb_event *ev, size_t n, size_t i,
                        struct sink_ladder_step *step);

/*
 * Each side's state before its first transition ("CLOSED", "LISTEN", ...);
 * a side with no transition keeps final[side] (the stored final state).
 */
void sink_ladder_start(const struct tcb_event *ev, size_t n, const char *const final[2],
                       const char *start[2]);

/* "SYN,ACK" for DIS_TH_SYN | DIS_TH_ACK into buf (len bytes); returns buf. */
const char *sink_flag_label(unsigned flags, char *buf, size_t len);

/* ----------------------------------------------------------------------------
 * HTML report (report.c): `tcbscope report DB -o FILE`.  One self-contained
 * file: inline CSS and SVG, no script, nothing fetched.  Every value read
 * from the database is HTML-escaped.
 */
struct sink_report;

struct sink_report_opts {
    const char *db_label; /* the database as named to the user (shown, escaped) */
    size_t top_servers;   /* rows of the per-server latency table */
    size_t slowest;       /* ladders of the slowest handshakes */
    size_t resets;        /* ladders of reset connections */
    size_t simultaneous;  /* ladders of simultaneous opens */
};

/*
 * Read everything the report shows from db (which may be closed after).
 * Returns 0 and *out (free with sink_report_free), or negative with err:
 * an error here is the database's (-EIO, -EINVAL, -ENOMEM).
 */
int sink_report_load(struct sink_report **out, struct sink_db *db,
                     const struct sink_report_opts *opts, char err[TCBS_ERRLEN]);

/* Free; NULL is fine. */
void sink_report_free(struct sink_report *r);

/*
 * Write the report as HTML to path: "-" = standard output; an existing
 * path is refused unless force (-EEXIST), a directory always (-EISDIR).
 * A regular file is written to ".NAME.tmp-XXXXXX" beside path and renamed
 * over it only when complete, so a failure leaves an existing file as it
 * was; an existing non-regular file (a device, a FIFO) is written in place.
 * 0, SINK_EPIPE (stdout's reader went away), or negative with a one-line
 * message naming path in err: every error here is the output's.
 */
int sink_report_write(const struct sink_report *r, const char *path, bool force,
                      char err[TCBS_ERRLEN]);

#endif /* TCBSCOPE_SINK_H */
