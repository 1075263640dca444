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
};

struct sink;

struct sink_ops {
    const char *name;
    /* One finished connection.  0, or a negative value with err filled. */
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
 * renamed into place by finish().  An existing `path` is refused unless
 * force.  Returns 0 and *out, or negative with err.
 */
int sink_sqlite_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);

/* Schema version kept in PRAGMA user_version. */
#define SINK_SQLITE_SCHEMA_VERSION 1

/*
 * NDJSON: one object per connection per line, to `path` ("-" = stdout),
 * written as connections finish.  Returns 0 and *out, or negative with err.
 */
int sink_json_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN]);

/*
 * Fan-out: an analyzer output that hands every connection to each sink in
 * turn.  The first sink error stops the run: it is kept in the set's err
 * and the analyzer sees the non-zero return.
 */
#define SINK_SET_MAX 4
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

/* Text form of an address (inet_ntop) into buf (at least 46 bytes). */
const char *sink_ip_str(uint8_t version, const uint8_t addr[16], char *buf, size_t len);

/*
 * Returned by a sink's conn()/finish() (and so by the fan-out) when its
 * reader went away: `tcbscope ... --json - | head -1`.  Not a failure to
 * report: the cli stops quietly.  The JSON sink holds SIGPIPE off around its
 * own writes, so the process is not killed by the signal.
 */
#define SINK_EPIPE (-EPIPE)

#endif /* TCBSCOPE_SINK_H */
