/*
 * sqlite.c - the SQLite sink: one database per run with the tables
 * connections, transitions, anomalies, captures and run, the views
 * handshake_latency and timeline (schema documented in docs/schema.md).
 *
 * The database is built in a temporary file beside the target (same
 * directory, so the final rename is atomic) with journalling and syncing
 * off in one long transaction: a half-written file is never visible under
 * the target name, and a failed or abandoned run leaves an existing target
 * untouched.  Only a regular file is ever renamed over: a device, FIFO,
 * socket, directory or descriptor name (/dev/stdout) is refused at open and
 * checked for again right before the rename.  Secondary indexes are built once at the end (faster than
 * maintaining them row by row).
 *
 * Leaves to others: what the values mean (analyzer/), choosing the path and
 * printing errors (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "sink_int.h"

/*
 * Rows wait in these arrays until a batch is full, then one statement per
 * table copies the whole batch (see "Bulk loading" below).
 */
#define BATCH_CONNS 256
#define BATCH_TRANSITIONS 4096
#define BATCH_ANOMALIES 1024

enum batch_kind { BATCH_CONN, BATCH_TR, BATCH_AN, BATCH_KINDS };

struct tr_row {
    uint64_t conn_id;
    uint32_t seq;
    struct tcb_event e;
};

struct an_row {
    uint64_t conn_id;
    struct tcb_anom a;
};

struct sqlite_sink;

/* What one of the batch virtual tables reads: the sink and which array. */
struct batch_ref {
    struct sqlite_sink *s;
    enum batch_kind kind;
};

struct sqlite_sink {
    struct sink base;
    sqlite3 *db;
    char *path; /* target: the file renamed over (a symbolic link resolved) */
    char *tmp;  /* temporary file beside it; NULL once renamed */
    bool force; /* a regular file appearing at path during the run may be replaced */
    bool keep_tmp; /* the target changed during the run: the database stays in tmp */
    sqlite3_stmt *ins[BATCH_KINDS]; /* INSERT INTO table SELECT * FROM its batch */
    int failed; /* sticky: the first error, repeated by every later call */
    char failmsg[TCBS_ERRLEN];
    bool finished;
    struct batch_ref ref[BATCH_KINDS];
    struct sink_conn_row *crow; /* texts handed to SQLite as SQLITE_STATIC */
    struct tr_row *trow;
    struct an_row *arow;
    uint32_t n[BATCH_KINDS]; /* rows waiting in each array */
    uint64_t transitions;    /* rows written to transitions */
};

/* A growable string for the few statements built at open and finish. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;

    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = sink_realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/*
 * "CHECK (col = 'a' OR col = 'b' ...)" from a vocabulary.  Not IN (...):
 * SQLite 3.40 evaluates an IN list of more than two constants by building
 * a temporary b-tree on every statement execution, which made each insert
 * ~100 times slower; a chain of comparisons means the same and costs a few
 * string compares.
 */
static void sb_check(struct sbuf *b, const char *col, enum sink_voc voc)
{
    if (voc == SINK_VOC_BOOL) {
        sb_add(b, " CHECK (%s IN (0, 1))", col);
        return;
    }
    sb_add(b, " CHECK (");
    for (size_t i = 0; i < sink_voc_count(voc); i++)
        sb_add(b, "%s%s = '%s'", i ? " OR " : "", col, sink_voc_word(voc, i));
    sb_add(b, ")");
}

static void build_schema(struct sbuf *b)
{
    sb_add(b, "CREATE TABLE connections (");
    for (size_t i = 0; i < SINK_COL_COUNT; i++) {
        const struct sink_col_def *d = &sink_conn_cols[i];
        sb_add(b, "%s\n  %s %s", i ? "," : "", d->name, d->decl);
        if (d->voc != SINK_VOC_NONE)
            sb_check(b, d->name, d->voc);
    }
    sb_add(b, "\n);\n");

    sb_add(b, "CREATE TABLE transitions (\n"
              "  conn_id INTEGER NOT NULL REFERENCES connections(id),\n"
              "  seq INTEGER NOT NULL,\n"
              "  ts_ns INTEGER NOT NULL,\n"
              "  endpoint TEXT NOT NULL");
    sb_check(b, "endpoint", SINK_VOC_ENDPOINT);
    sb_add(b, ",\n  from_state TEXT NOT NULL");
    sb_check(b, "from_state", SINK_VOC_STATE);
    sb_add(b, ",\n  to_state TEXT NOT NULL");
    sb_check(b, "to_state", SINK_VOC_STATE);
    sb_add(b, ",\n  cause TEXT NOT NULL");
    sb_check(b, "cause", SINK_VOC_CAUSE);
    sb_add(b, ",\n  frame INTEGER\n);\n");

    sb_add(b, "CREATE TABLE anomalies (\n"
              "  conn_id INTEGER NOT NULL REFERENCES connections(id),\n"
              "  ts_ns INTEGER NOT NULL,\n"
              "  endpoint TEXT NOT NULL");
    sb_check(b, "endpoint", SINK_VOC_ENDPOINT);
    sb_add(b, ",\n  kind TEXT NOT NULL");
    sb_check(b, "kind", SINK_VOC_ANOMALY);
    sb_add(b, ",\n  frame INTEGER\n);\n");

    sb_add(b, "CREATE TABLE captures (\n"
              "  file_index INTEGER PRIMARY KEY,\n"
              "  name TEXT NOT NULL,\n"
              "  format TEXT NOT NULL CHECK (format IN ('pcap', 'pcapng')),\n"
              "  link_types TEXT NOT NULL,\n"
              "  packets INTEGER NOT NULL,\n"
              "  packets_matched INTEGER NOT NULL,\n"
              "  first_ns INTEGER,\n"
              "  last_ns INTEGER,\n"
              "  truncated INTEGER NOT NULL CHECK (truncated IN (0, 1))\n"
              ");\n");

    sb_add(b, "CREATE TABLE frame_map (\n"
              "  file_index INTEGER NOT NULL REFERENCES captures(file_index),\n"
              "  run_first INTEGER PRIMARY KEY,\n"
              "  file_first INTEGER NOT NULL,\n"
              "  count INTEGER NOT NULL\n"
              ");\n");

    sb_add(b, "CREATE TABLE run (\n"
              "  key TEXT PRIMARY KEY,\n"
              "  value\n"
              ");\n");

    sb_add(b, "CREATE VIEW handshake_latency AS\n"
              "  SELECT id AS conn_id, client_ip, client_port, server_ip, server_port,\n"
              "         (synack_ns - syn_ns) / 1e6 AS syn_to_synack_ms,\n"
              "         (ack_ns - synack_ns) / 1e6 AS synack_to_ack_ms,\n"
              "         (ack_ns - syn_ns) / 1e6 AS handshake_ms,\n"
              "         syn_retransmits\n"
              "  FROM connections WHERE handshake = 'complete';\n");

    sb_add(b, "CREATE VIEW timeline AS\n"
              "  SELECT t.conn_id, t.seq, t.ts_ns, c.client_ip, c.client_port,\n"
              "         c.server_ip, c.server_port, t.endpoint, t.from_state, t.to_state,\n"
              "         t.cause, t.frame\n"
              "  FROM transitions t JOIN connections c ON c.id = t.conn_id\n"
              "  ORDER BY t.conn_id, t.seq;\n");

    sb_add(b, "PRAGMA user_version = %d;\n", SINK_SQLITE_SCHEMA_VERSION);
}

/*
 * From this many transitions on, CREATE INDEX may sort with a helper
 * thread (PRAGMA threads = 1).  The sort then spills to many runs of the
 * page cache's size (8 MiB, ~280,000 index entries each), and sorting one
 * while the next is read makes the index build of the large corpus (10 M
 * transitions) about a fifth faster, on the core the finished engine left
 * idle; with a few runs (the small corpus: 0.5 M) the thread costs more
 * than it saves.
 */
#define SORT_THREAD_MIN_ROWS 2000000

/* Built by finish(), after the bulk load. */
static const char index_sql[] =
    "CREATE INDEX connections_server ON connections(server_ip, server_port);\n"
    "CREATE INDEX connections_client ON connections(client_ip, client_port);\n"
    "CREATE INDEX connections_handshake ON connections(handshake);\n"
    "CREATE INDEX connections_close_kind ON connections(close_kind);\n"

    "CREATE UNIQUE INDEX transitions_conn_seq ON transitions(conn_id, seq);\n"
    "CREATE INDEX anomalies_conn ON anomalies(conn_id);\n"
    "CREATE INDEX anomalies_kind ON anomalies(kind);\n";

/*
 * Bulk loading.  An INSERT per row costs SQLite a statement run (start,
 * program, halt, reset) for every row, more than the row's own b-tree
 * work.  Rows are therefore collected in arrays and copied a batch at a
 * time by "INSERT INTO t SELECT * FROM tcbscope_batch_t": three
 * eponymous-only virtual tables (no xCreate, so nothing of them is stored
 * in the file) whose cursors walk the arrays.  Texts are handed over as
 * SQLITE_STATIC: the vocabulary is static and the row buffers stay put
 * until the statement has finished.
 */
struct batch_vtab {
    sqlite3_vtab base;
    const struct batch_ref *ref;
};

struct batch_cursor {
    sqlite3_vtab_cursor base;
    const struct batch_ref *ref;
    uint32_t row;
};

static int bv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **errmsg)
{
    static const char *const decl[BATCH_KINDS] = {
        NULL, /* built from sink_conn_cols below */
        "CREATE TABLE x(conn_id, seq, ts_ns, endpoint, from_state, to_state, cause, frame)",
        "CREATE TABLE x(conn_id, ts_ns, endpoint, kind, frame)",
    };
    const struct batch_ref *ref = aux;
    struct batch_vtab *vt;
    int rc;

    (void)argc;
    (void)argv;
    (void)errmsg;
    if (ref->kind == BATCH_CONN) {
        struct sbuf b = {0};
        sb_add(&b, "CREATE TABLE x(");
        for (size_t i = 0; i < SINK_COL_COUNT; i++)
            sb_add(&b, "%s%s", i ? ", " : "", sink_conn_cols[i].name);
        sb_add(&b, ")");
        rc = b.oom ? SQLITE_NOMEM : sqlite3_declare_vtab(db, b.p);
        free(b.p);
    } else {
        rc = sqlite3_declare_vtab(db, decl[ref->kind]);
    }
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    vt = sqlite3_malloc(sizeof(*vt));
    if (vt == NULL)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof(*vt));
    vt->ref = ref;
    *out = &vt->base;
    return SQLITE_OK;
}

static int bv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    const struct batch_ref *ref = ((struct batch_vtab *)vt)->ref;

    info->estimatedRows = ref->s->n[ref->kind];
    info->estimatedCost = (double)ref->s->n[ref->kind] + 1;
    return SQLITE_OK;
}

static int bv_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int bv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    struct batch_cursor *c = sqlite3_malloc(sizeof(*c));

    if (c == NULL)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof(*c));
    c->ref = ((struct batch_vtab *)vt)->ref;
    *out = &c->base;
    return SQLITE_OK;
}

static int bv_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int bv_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc,
                     sqlite3_value **argv)
{
    (void)idx;
    (void)idxstr;
    (void)argc;
    (void)argv;
    ((struct batch_cursor *)cur)->row = 0;
    return SQLITE_OK;
}

static int bv_next(sqlite3_vtab_cursor *cur)
{
    ((struct batch_cursor *)cur)->row++;
    return SQLITE_OK;
}

static int bv_eof(sqlite3_vtab_cursor *cur)
{
    const struct batch_cursor *c = (const struct batch_cursor *)cur;
    return c->row >= c->ref->s->n[c->ref->kind];
}

static void result_word(sqlite3_context *ctx, const char *w)
{
    sqlite3_result_text(ctx, w, (int)strlen(w), SQLITE_STATIC);
}

static void result_frame(sqlite3_context *ctx, uint64_t frame)
{
    if (frame)
        sqlite3_result_int64(ctx, (sqlite3_int64)frame);
    else
        sqlite3_result_null(ctx);
}

static int bv_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    const struct batch_cursor *c = (const struct batch_cursor *)cur;
    const struct sqlite_sink *s = c->ref->s;

    switch (c->ref->kind) {
    case BATCH_CONN: {
        const struct sink_val *v = &s->crow[c->row].v[col];
        if (v->type == SINK_V_INT)
            sqlite3_result_int64(ctx, (sqlite3_int64)v->u);
        else if (v->type == SINK_V_TEXT)
            result_word(ctx, v->s);
        else
            sqlite3_result_null(ctx);
        break;
    }
    case BATCH_TR: {
        const struct tr_row *r = &s->trow[c->row];
        switch (col) {
        case 0: sqlite3_result_int64(ctx, (sqlite3_int64)r->conn_id); break;
        case 1: sqlite3_result_int64(ctx, r->seq); break;
        case 2: sqlite3_result_int64(ctx, (sqlite3_int64)r->e.ts_ns); break;
        case 3: result_word(ctx, tcb_endpoint_name(r->e.endpoint)); break;
        case 4: result_word(ctx, tcb_state_name(r->e.from)); break;
        case 5: result_word(ctx, tcb_state_name(r->e.to)); break;
        case 6: result_word(ctx, tcb_cause_name(r->e.cause)); break;
        default: result_frame(ctx, r->e.frame); break;
        }
        break;
    }
    default: {
        const struct an_row *r = &s->arow[c->row];
        switch (col) {
        case 0: sqlite3_result_int64(ctx, (sqlite3_int64)r->conn_id); break;
        case 1: sqlite3_result_int64(ctx, (sqlite3_int64)r->a.ts_ns); break;
        case 2: result_word(ctx, tcb_endpoint_name(r->a.endpoint)); break;
        case 3: result_word(ctx, tcb_anomaly_name(r->a.kind)); break;
        default: result_frame(ctx, r->a.frame); break;
        }
        break;
    }
    }
    return SQLITE_OK;
}

static int bv_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = ((struct batch_cursor *)cur)->row;
    return SQLITE_OK;
}

static const sqlite3_module batch_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = bv_connect,
    .xBestIndex = bv_best_index,
    .xDisconnect = bv_disconnect,
    .xOpen = bv_open,
    .xClose = bv_close,
    .xFilter = bv_filter,
    .xNext = bv_next,
    .xEof = bv_eof,
    .xColumn = bv_column,
    .xRowid = bv_rowid,
};

static const char *const batch_name[BATCH_KINDS] = {
    "tcbscope_batch_connections",
    "tcbscope_batch_transitions",
    "tcbscope_batch_anomalies",
};

static const char *const batch_insert[BATCH_KINDS] = {
    "INSERT INTO connections SELECT * FROM tcbscope_batch_connections",
    "INSERT INTO transitions (conn_id, seq, ts_ns, endpoint, from_state, to_state, cause, "
    "frame) SELECT * FROM tcbscope_batch_transitions",
    "INSERT INTO anomalies (conn_id, ts_ns, endpoint, kind, frame) "
    "SELECT * FROM tcbscope_batch_anomalies",
};

/* Record the first error (sticky) and return it. */
static int fail(struct sqlite_sink *s, int rc, char err[TCBS_ERRLEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = sink_fail_record(&s->failed, s->failmsg, rc, err, fmt, ap);
    va_end(ap);
    return r;
}

static int fail_db(struct sqlite_sink *s, char err[TCBS_ERRLEN], const char *what)
{
    return fail(s, -EIO, err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* sqlite3_step() that asks the fault hook first (tests fail it at call N). */
static int step(struct sqlite_sink *s, sqlite3_stmt *st)
{
    int rc;

    if (sink_fault()) {
        sqlite3_reset(st);
        return fail(s, -EIO, NULL, "%s: insert: disk I/O error (injected)", s->path);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        /* The message belongs to the statement until it is reset. */
        fail(s, -EIO, NULL, "%s: insert: %s", s->path, sqlite3_errmsg(s->db));
        sqlite3_reset(st);
        return s->failed;
    }
    sqlite3_reset(st);
    return 0;
}

static int exec(struct sqlite_sink *s, const char *sql, char err[TCBS_ERRLEN], const char *what)
{
    if (sink_fault())
        return fail(s, -EIO, err, "%s: %s: disk I/O error (injected)", s->path, what);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(s, err, what);
    return 0;
}

static int prepare(struct sqlite_sink *s, const char *sql, sqlite3_stmt **st,
                   char err[TCBS_ERRLEN])
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail_db(s, err, "prepare");
    return 0;
}

/*
 * The words we write come from the enums in tcb.h, and the CHECK
 * constraints are made from the same lists, so for our own inserts the
 * constraints are off for this connection only (PRAGMA
 * ignore_check_constraints, not stored in the file: it roughly doubled
 * the insert rate) and the one thing that
 * could break them, an enum value out of range (its name is "?"), is
 * checked here instead.  Anyone else writing to the database gets the
 * constraints.
 */
static int check_words(struct sqlite_sink *s, const struct sink_conn_row *row,
                       const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    for (int i = 0; i < SINK_COL_COUNT; i++) {
        const struct sink_val *v = &row->v[i];
        if (v->type == SINK_V_TEXT && sink_conn_cols[i].voc != SINK_VOC_NONE && v->s[0] == '?')
            return fail(s, -EINVAL, err,
                        "%s: connection %llu: CHECK constraint failed: %s is not a known word",
                        s->path, (unsigned long long)c->id, sink_conn_cols[i].name);
    }
    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        if (e->endpoint > TCB_SERVER || e->from >= TCB_STATE_COUNT || e->to >= TCB_STATE_COUNT ||
            e->cause >= TCB_CAUSE_COUNT)
            return fail(s, -EINVAL, err,
                        "%s: connection %llu: CHECK constraint failed: transition %u has an "
                        "unknown endpoint, state or cause",
                        s->path, (unsigned long long)c->id, i);
    }
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        const struct tcb_anom *a = &c->anomalies[i];
        if (a->endpoint > TCB_SERVER || a->kind >= TCB_ANOMALY_COUNT)
            return fail(s, -EINVAL, err,
                        "%s: connection %llu: CHECK constraint failed: anomaly %u has an "
                        "unknown endpoint or kind",
                        s->path, (unsigned long long)c->id, i);
    }
    return 0;
}

/*
 * Copy every waiting row into the database: connections first, so that a
 * transition or anomaly never lands before the row it refers to.
 */
static int flush(struct sqlite_sink *s)
{
    for (int k = 0; k < BATCH_KINDS; k++) {
        if (s->n[k] == 0)
            continue;
        if (step(s, s->ins[k]) != 0)
            return s->failed;
        s->n[k] = 0;
    }
    return 0;
}

static int sq_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;
    struct sink_conn_row *row;

    if (s->failed)
        return fail(s, s->failed, err, "%s", "");
    if (s->n[BATCH_CONN] == BATCH_CONNS && flush(s) != 0)
        return fail(s, s->failed, err, "%s", "");
    row = &s->crow[s->n[BATCH_CONN]];
    sink_conn_row_fill(row, c);
    if (check_words(s, row, c, err) != 0)
        return s->failed;
    s->n[BATCH_CONN]++;

    for (uint32_t i = 0; i < c->event_count; i++) {
        if (s->n[BATCH_TR] == BATCH_TRANSITIONS && flush(s) != 0)
            return fail(s, s->failed, err, "%s", "");
        struct tr_row *r = &s->trow[s->n[BATCH_TR]++];
        r->conn_id = c->id;
        r->seq = i;
        r->e = c->events[i];
    }
    s->transitions += c->event_count;
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        if (s->n[BATCH_AN] == BATCH_ANOMALIES && flush(s) != 0)
            return fail(s, s->failed, err, "%s", "");
        struct an_row *r = &s->arow[s->n[BATCH_AN]++];
        r->conn_id = c->id;
        r->a = c->anomalies[i];
    }
    return 0;
}

static int run_text(struct sqlite_sink *s, sqlite3_stmt *st, const char *key, const char *val)
{
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (val != NULL)
        sqlite3_bind_text(st, 2, val, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    return step(s, st);
}

static int run_int(struct sqlite_sink *s, sqlite3_stmt *st, const char *key, uint64_t val)
{
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)val);
    return step(s, st);
}

/* "EN10MB" or the number when the link type has no name. */
static const char *linktype_str(int lt, char *buf, size_t len)
{
    const char *n = dis_linktype_name(lt);
    if (n != NULL)
        return n;
    snprintf(buf, len, "%d", lt);
    return buf;
}

static int write_run(struct sqlite_sink *s, const struct sink_run_info *run, sqlite3_stmt *st)
{
    char key[96], val[SINK_TIME_LEN];
    int rc = 0;

    rc |= run_text(s, st, "tcbscope_version", run->version);
    rc |= run_text(s, st, "command_line", run->command_line);
    rc |= run_int(s, st, "start_ns", run->start_unix_ns);
    rc |= run_text(s, st, "start_time", sink_fmt_rfc3339(run->start_unix_ns, val));
    rc |= run_int(s, st, "interrupted", run->interrupted);
    rc |= run_int(s, st, "schema_version", SINK_SQLITE_SCHEMA_VERSION);
    rc |= run_int(s, st, "files", run->file_count);
    rc |= run_int(s, st, "as_given", run->as_given);

    if (run->dis != NULL) {
        const struct dis_stats *d = run->dis;
        rc |= run_int(s, st, "frames", sink_run_frames_read(run));
        rc |= run_int(s, st, "frames_matched", d->frames);
        if (run->filter != NULL)
            rc |= run_text(s, st, "filter", run->filter);
        rc |= run_int(s, st, "bytes", d->bytes);
        rc |= run_int(s, st, "ipv4", d->ipv4);
        rc |= run_int(s, st, "ipv6", d->ipv6);
        rc |= run_int(s, st, "tcp_segments", d->tcp);
        for (int i = 1; i < DIS_SKIP_COUNT; i++) {
            snprintf(key, sizeof(key), "skipped.%s", dis_skip_name((enum dis_skip)i));
            rc |= run_int(s, st, key, d->skipped[i]);
        }
        rc |= run_int(s, st, "bad_ip_checksums", d->bad_ip_csum);
        rc |= run_int(s, st, "bad_tcp_checksums", d->bad_tcp_csum);
        rc |= run_int(s, st, "opt_malformed", d->opt_malformed);
        rc |= run_int(s, st, "first_fragments", d->first_fragments);
        for (uint32_t i = 0; i < d->link_count && i < DIS_MAX_LINKTYPES; i++) {
            char num[16];
            snprintf(key, sizeof(key), "link.%s",
                     linktype_str(d->link[i].linktype, num, sizeof(num)));
            rc |= run_int(s, st, key, d->link[i].frames);
        }
        if (d->link_other)
            rc |= run_int(s, st, "link.other", d->link_other);
    }
    if (run->tcb != NULL) {
        const struct tcb_stats *t = run->tcb;
        rc |= run_int(s, st, "engine.segments", t->segments);
        rc |= run_int(s, st, "engine.connections", t->connections);
        rc |= run_int(s, st, "engine.peak_live", t->peak_live);
        rc |= run_int(s, st, "engine.peak_held", t->peak_held);
        rc |= run_int(s, st, "engine.events", t->events);
        rc |= run_int(s, st, "engine.evictions", t->evictions);
        rc |= run_int(s, st, "engine.folded", t->folded);
        rc |= run_int(s, st, "engine.embryos", t->embryos);
        rc |= run_int(s, st, "engine.bad_checksum_ignored", t->bad_checksum_ignored);
        rc |= run_int(s, st, "engine.ts_outliers", t->ts_outliers);
        rc |= run_int(s, st, "engine.ts_clamped", t->ts_clamped);
    }
    return rc ? s->failed : 0;
}

static int write_captures(struct sqlite_sink *s, const struct sink_run_info *run,
                          sqlite3_stmt *st)
{
    for (size_t i = 0; i < run->file_count; i++) {
        const struct dis_file_info *f = &run->files[i];
        char links[DIS_MAX_FILE_LINKTYPES * 24] = "";
        size_t n = 0;

        for (unsigned k = 0; k < f->linktype_count && k < DIS_MAX_FILE_LINKTYPES; k++) {
            char num[16];
            const char *name = linktype_str((int)f->linktypes[k], num, sizeof(num));
            int w = snprintf(links + n, sizeof(links) - n, "%s%s", k ? "," : "", name);
            if (w < 0 || (size_t)w >= sizeof(links) - n)
                break;
            n += (size_t)w;
        }
        sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
        sqlite3_bind_text(st, 2, f->name ? f->name : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, f->pcapng ? "pcapng" : "pcap", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, links, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)f->frames);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)f->frames_matched);
        if (f->frames) {
            sqlite3_bind_int64(st, 7, (sqlite3_int64)f->first_ns);
            sqlite3_bind_int64(st, 8, (sqlite3_int64)f->last_ns);
        } else {
            sqlite3_bind_null(st, 7);
            sqlite3_bind_null(st, 8);
        }
        sqlite3_bind_int(st, 9, f->truncated);
        if (step(s, st) != 0)
            return s->failed;
    }
    return 0;
}

/* One frame_map row per run of consecutive frames from one file. */
static int write_frame_map(struct sqlite_sink *s, const struct sink_run_info *run,
                           sqlite3_stmt *st)
{
    for (size_t i = 0; run->frame_map && i < run->frame_map_count; i++) {
        const struct dis_frame_run *m = &run->frame_map[i];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)m->file_index);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)m->run_first);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)m->file_first);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)m->count);
        if (step(s, st) != 0)
            return s->failed;
    }
    return 0;
}

static void finalize_all(struct sqlite_sink *s)
{
    for (int k = 0; k < BATCH_KINDS; k++) {
        sqlite3_finalize(s->ins[k]);
        s->ins[k] = NULL;
    }
}

static int sq_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN])
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;
    sqlite3_stmt *st = NULL;
    int rc;

    if (s->failed)
        return fail(s, s->failed, err, "%s", "");
    if (s->finished)
        return 0;
    if (flush(s) != 0)
        return fail(s, s->failed, err, "%s", "");

    if (prepare(s, "INSERT INTO run(key, value) VALUES (?, ?)", &st, err) != 0)
        return s->failed;
    rc = write_run(s, run, st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != 0)
        return fail(s, rc, err, "%s", "");

    if (prepare(s, "INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, err) != 0)
        return s->failed;
    rc = write_captures(s, run, st);
    sqlite3_finalize(st);
    if (rc != 0)
        return fail(s, rc, err, "%s", "");

    if (prepare(s, "INSERT INTO frame_map VALUES (?, ?, ?, ?)", &st, err) != 0)
        return s->failed;
    rc = write_frame_map(s, run, st);
    sqlite3_finalize(st);
    if (rc != 0)
        return fail(s, rc, err, "%s", "");

    if (s->transitions >= SORT_THREAD_MIN_ROWS &&
        exec(s, "PRAGMA threads = 1", err, "configure") != 0)
        return s->failed;
    if (exec(s, index_sql, err, "create indexes") != 0 || exec(s, "COMMIT", err, "commit") != 0)
        return s->failed;
    finalize_all(s);
    if (sqlite3_close(s->db) != SQLITE_OK)
        return fail_db(s, err, "close");
    s->db = NULL;
    /* Never rename over anything but a regular file, nor (without force)
     * over one that appeared since open: check again right before. */
    char why[TCBS_ERRLEN];
    rc = sink_target_regular(s->path, why);
    if (rc == 1 && !s->force) {
        snprintf(why, sizeof(why), "%s appeared during the run", s->path);
        rc = -EEXIST;
    }
    if (rc < 0) {
        s->keep_tmp = true;
        return fail(s, rc, err, "%s; not replaced, the database is in %s", why, s->tmp);
    }
    errno = EIO; /* what an injected fault reports */
    if (sink_fault() || rename(s->tmp, s->path) != 0)
        return fail(s, -errno, err, "%s: cannot rename %s into place: %s", s->path, s->tmp,
                    strerror(errno));
    free(s->tmp);
    s->tmp = NULL;
    s->finished = true;
    return 0;
}

static void sq_destroy(struct sink *base)
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;

    if (s == NULL)
        return;
    finalize_all(s);
    if (s->db != NULL)
        sqlite3_close(s->db);
    if (s->tmp != NULL && !s->keep_tmp)
        unlink(s->tmp); /* never renamed: the target stays as it was */
    free(s->tmp);
    free(s->path);
    free(s->crow);
    free(s->trow);
    free(s->arow);
    free(s);
}

static const struct sink_ops sqlite_ops = {
    .name = "sqlite",
    .conn = sq_conn,
    .finish = sq_finish,
    .destroy = sq_destroy,
};

/* Is path itself a symbolic link? */
static bool is_symlink(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

int sink_sqlite_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN])
{
    struct sqlite_sink *s;
    struct sbuf schema = {0};
    enum sink_target kind;
    int fd, rc;
    mode_t um;

    assert(out != NULL && path != NULL);
    *out = NULL;
    if (sink_path_fd(path) >= 0) {
        snprintf(err, TCBS_ERRLEN,
                 "%s: names a file descriptor; a database is written to a file and renamed into "
                 "place, give a file name",
                 path);
        return -EINVAL;
    }
    if ((rc = sink_target_check(path, force, &kind, err)) != 0)
        return rc;
    if (kind == SINK_TARGET_STREAM) {
        /* err describes it: "/dev/null: is a character device" */
        size_t n = strlen(err);
        snprintf(err + n, TCBS_ERRLEN - n, "; a database only ever replaces a regular file");
        return -EINVAL;
    }
    s = sink_malloc(sizeof(*s));
    if (s == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        return -ENOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->base.ops = &sqlite_ops;
    s->force = force;
    /* A symbolic link to a file: replace the file, beside it, keep the link. */
    s->path = kind == SINK_TARGET_FILE && is_symlink(path) ? realpath(path, NULL) : strdup(path);
    s->tmp = s->path != NULL ? sink_temp_name(s->path) : NULL;
    s->crow = sink_malloc(BATCH_CONNS * sizeof(*s->crow));
    s->trow = sink_malloc(BATCH_TRANSITIONS * sizeof(*s->trow));
    s->arow = sink_malloc(BATCH_ANOMALIES * sizeof(*s->arow));
    if (s->path == NULL || s->tmp == NULL || s->crow == NULL || s->trow == NULL ||
        s->arow == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        free(s->tmp);
        s->tmp = NULL;
        sq_destroy(&s->base);
        return -ENOMEM;
    }

    fd = sink_fault() ? (errno = EIO, -1) : mkstemp(s->tmp);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, TCBS_ERRLEN, "%s: cannot create database: %s", path, strerror(errno));
        free(s->tmp);
        s->tmp = NULL;
        sq_destroy(&s->base);
        return rc;
    }
    /* mkstemp makes 0600; a database is as readable as any file we create. */
    um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    close(fd);

    if (sqlite3_open_v2(s->tmp, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = fail(s, -EIO, err, "%s: cannot open database: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_destroy(&s->base);
        return rc;
    }
    build_schema(&schema);
    if (schema.oom) {
        free(schema.p);
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        sq_destroy(&s->base);
        return -ENOMEM;
    }
    /* Fresh private file: no journal, no syncs; a crash leaves only the temp file. */
    rc = exec(s,
              "PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
              "PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -8192;",
              err, "configure");
    if (rc == 0)
        rc = exec(s, schema.p, err, "create schema");
    free(schema.p);
    /* our inserts are checked by check_words(): see there */
    if (rc == 0)
        rc = exec(s, "PRAGMA ignore_check_constraints = ON", err, "configure");
    for (int k = 0; rc == 0 && k < BATCH_KINDS; k++) {
        s->ref[k].s = s;
        s->ref[k].kind = (enum batch_kind)k;
        if (sqlite3_create_module(s->db, batch_name[k], &batch_module, &s->ref[k]) != SQLITE_OK)
            rc = fail_db(s, err, "create module");
        else
            rc = prepare(s, batch_insert[k], &s->ins[k], err);
    }
    if (rc == 0)
        rc = exec(s, "BEGIN", err, "begin");
    if (rc != 0) {
        sq_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
