/*
 * dbread.c - reading a tcbscope SQLite database back: the checks that a
 * file is one (tables, schema version) and the queries behind `tcbscope
 * summary` and `tcbscope show`.  Returns plain structs in malloc'd blocks.
 *
 * Leaves to others: rendering, parsing the command line and printing errors
 * (cli/), writing databases (sqlite.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "sink.h"
#include "sink_int.h"

struct sink_db {
    sqlite3 *db;
    char path[256];
};

static int db_fail(struct sink_db *d, char err[TCBS_ERRLEN], const char *what)
{
    snprintf(err, TCBS_ERRLEN, "%s: %s: %s", d->path, what, sqlite3_errmsg(d->db));
    return -EIO;
}

static int oom(char err[TCBS_ERRLEN])
{
    snprintf(err, TCBS_ERRLEN, "out of memory");
    return -ENOMEM;
}

/* The end of a row loop (rc = the last sqlite3_step()): finalizes st; 0 when
 * every row was read, else frees rows and reports the query's error. */
static int rows_done(struct sink_db *d, sqlite3_stmt *st, int rc, void *rows,
                     char err[TCBS_ERRLEN])
{
    if (rc != SQLITE_DONE) {
        rc = db_fail(d, err, "query failed");
        sqlite3_finalize(st);
        free(rows);
        return rc;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Grow *v (element size sz) so that index n fits. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = sink_realloc(*v, c * sz);
    if (p == NULL)
        return -ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

int sink_db_open(struct sink_db **out, const char *path, char err[TCBS_ERRLEN])
{
    struct stat sb;
    *out = NULL;
    if (stat(path, &sb) < 0) {
        int e = errno;
        snprintf(err, TCBS_ERRLEN, "%s: %s", path, strerror(e));
        return -e;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, TCBS_ERRLEN, "%s: is a directory, not a tcbscope database", path);
        return -EISDIR;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(err, TCBS_ERRLEN, "%s: %s", path, strerror(e));
        return -e;
    }
    char magic[16] = {0};
    size_t got = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    if (got < sizeof(magic) || memcmp(magic, "SQLite format 3", 16) != 0) {
        snprintf(err, TCBS_ERRLEN, "%s: not a tcbscope database (not an SQLite file)", path);
        return -EINVAL;
    }

    struct sink_db *d = sink_malloc(sizeof(*d));
    if (d == NULL)
        return oom(err);
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s", path);
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = db_fail(d, err, "cannot open");
        sink_db_close(d);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    int ver = -1;
    if (sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        snprintf(err, TCBS_ERRLEN, "%s: not a tcbscope database (%s)", path,
                 sqlite3_errmsg(d->db));
        sink_db_close(d);
        return -EINVAL;
    }
    ver = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);

    static const char *const tables[] = {"connections", "transitions", "captures", "run"};
    int found = 0;
    if (sqlite3_prepare_v2(d->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name IN ('connections', 'transitions', 'captures', 'run')",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        found = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (found != (int)(sizeof(tables) / sizeof(tables[0]))) {
        snprintf(err, TCBS_ERRLEN, "%s: not a tcbscope database (no tcbscope tables)", path);
        sink_db_close(d);
        return -EINVAL;
    }
    if (ver != SINK_SQLITE_SCHEMA_VERSION) {
        snprintf(err, TCBS_ERRLEN,
                 "%s: tcbscope database schema version %d, this tcbscope reads version %d", path,
                 ver, SINK_SQLITE_SCHEMA_VERSION);
        sink_db_close(d);
        return -EPROTO;
    }
    *out = d;
    return 0;
}

void sink_db_close(struct sink_db *db)
{
    if (db == NULL)
        return;
    sqlite3_close(db->db);
    free(db);
}

/* Run a query whose rows are (TEXT key, INTEGER count) into a count list. */
static int query_counts(struct sink_db *d, const char *sql, const char *bind,
                        struct sink_db_count **rows, size_t *n, char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    struct sink_db_count *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(d, err, "query failed");
    if (bind)
        sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        copy_text(v[cnt].key, sizeof(v[cnt].key), st, 0);
        v[cnt].count = sqlite3_column_int64(st, 1);
        cnt++;
    }
    if ((rc = rows_done(d, st, rc, v, err)) == 0) {
        *rows = v;
        *n = cnt;
    }
    return rc;
}

int sink_db_group_counts(struct sink_db *db, enum sink_db_group g, struct sink_db_count **rows,
                         size_t *n, char err[TCBS_ERRLEN])
{
    static const char *const sql[SINK_DB_GROUP_COUNT] = {
        [SINK_DB_BY_OPEN_KIND] = "SELECT open_kind, count(*) FROM connections GROUP BY 1 "
                                 "ORDER BY 2 DESC, 1",
        [SINK_DB_BY_HANDSHAKE] = "SELECT handshake, count(*) FROM connections GROUP BY 1 "
                                 "ORDER BY 2 DESC, 1",
        [SINK_DB_BY_CLOSE_KIND] = "SELECT close_kind, count(*) FROM connections GROUP BY 1 "
                                  "ORDER BY 2 DESC, 1",
        [SINK_DB_BY_FINAL_STATES] = "SELECT client_final_state || ' / ' || server_final_state, "
                                    "count(*) FROM connections GROUP BY 1 ORDER BY 2 DESC, 1",
    };
    if ((unsigned)g >= SINK_DB_GROUP_COUNT) {
        snprintf(err, TCBS_ERRLEN, "unknown grouping %d", (int)g);
        return -EINVAL;
    }
    return query_counts(db, sql[g], NULL, rows, n, err);
}

int sink_db_run_ints(struct sink_db *db, const char *prefix, struct sink_db_count **rows,
                     size_t *n, char err[TCBS_ERRLEN])
{
    /* substr() is 1-based; the prefix is matched literally (no LIKE wildcards). */
    return query_counts(db,
                        "SELECT substr(key, length(?1) + 1), value FROM run "
                        "WHERE substr(key, 1, length(?1)) = ?1 AND typeof(value) = 'integer' "
                        "ORDER BY key",
                        prefix, rows, n, err);
}

/* The `run` value of key: 1 with *out on its row when the value has the given
 * SQLite type (the caller reads it and finalizes *out), 0 when the key is
 * missing or of another type, negative with err; *out is left NULL unless 1. */
static int run_value(struct sink_db *db, const char *key, int type, sqlite3_stmt **out,
                     char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT value FROM run WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(db, err, "query failed");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == type) {
        *out = st;
        return 1;
    }
    int found = rc != SQLITE_ROW && rc != SQLITE_DONE ? db_fail(db, err, "query failed") : 0;
    sqlite3_finalize(st);
    return found;
}

int sink_db_run_int(struct sink_db *db, const char *key, int64_t *v, char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    int found = run_value(db, key, SQLITE_INTEGER, &st, err);
    if (found == 1) {
        *v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return found;
}

/* Complete handshakes with both times: (server_ip, server_port, ns), in the given order. */
#define HS_WHERE                                                                                   \
    "handshake = 'complete' AND syn_ns IS NOT NULL AND ack_ns IS NOT NULL AND ack_ns >= syn_ns"

int sink_db_handshake_ns(struct sink_db *db, uint64_t **ns, size_t *n, char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    uint64_t *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *ns = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT ack_ns - syn_ns FROM connections WHERE " HS_WHERE
                                   " ORDER BY 1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        v[cnt++] = (uint64_t)sqlite3_column_int64(st, 0);
    }
    if ((rc = rows_done(db, st, rc, v, err)) == 0) {
        *ns = v;
        *n = cnt;
    }
    return rc;
}

/* Nearest rank: the smallest value with at least p% at or below it. */
static uint64_t nearest_rank(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

/* A server's percentiles from its sorted handshake times. */
static void server_ranks(struct sink_db_server *s, const uint64_t *lat, size_t n)
{
    s->p50_ns = nearest_rank(lat, n, 50);
    s->p90_ns = nearest_rank(lat, n, 90);
    s->p99_ns = nearest_rank(lat, n, 99);
    s->max_ns = lat[n - 1];
}

int sink_db_servers(struct sink_db *db, struct sink_db_server **rows, size_t *n,
                    char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    struct sink_db_server *v = NULL;
    uint64_t *lat = NULL;
    size_t cap = 0, cnt = 0, lcap = 0, nlat = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    /* One pass over connections sorted by server, complete handshakes by time within it. */
    if (sqlite3_prepare_v2(db->db,
                           "SELECT server_ip, server_port, CASE WHEN " HS_WHERE
                           " THEN ack_ns - syn_ns END AS hs FROM connections "
                           "ORDER BY server_ip, server_port, hs IS NULL, hs",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        uint16_t port = (uint16_t)sqlite3_column_int(st, 1);
        if (cnt == 0 || strcmp(v[cnt - 1].ip, ip ? ip : "") != 0 || v[cnt - 1].port != port) {
            if (cnt && nlat)
                server_ranks(&v[cnt - 1], lat, nlat);
            if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0)
                goto nomem;
            memset(&v[cnt], 0, sizeof(v[cnt]));
            copy_text(v[cnt].ip, sizeof(v[cnt].ip), st, 0);
            v[cnt].port = port;
            cnt++;
            nlat = 0;
        }
        v[cnt - 1].conns++;
        if (sqlite3_column_type(st, 2) == SQLITE_INTEGER) {
            if (grow((void **)&lat, &lcap, nlat, sizeof(*lat)) < 0)
                goto nomem;
            lat[nlat++] = (uint64_t)sqlite3_column_int64(st, 2);
            v[cnt - 1].handshakes++;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(db, err, "query failed");
        sqlite3_finalize(st);
        free(v);
        free(lat);
        return rc;
    }
    if (cnt && nlat)
        server_ranks(&v[cnt - 1], lat, nlat);
    sqlite3_finalize(st);
    free(lat);
    *rows = v;
    *n = cnt;
    return 0;
nomem:
    sqlite3_finalize(st);
    free(v);
    free(lat);
    return oom(err);
}

int sink_db_find_conns(struct sink_db *db, uint64_t id, const char *ip_a, uint16_t port_a,
                       const char *ip_b, uint16_t port_b, struct sink_db_conn **rows, size_t *n,
                       char err[TCBS_ERRLEN])
{
    static const char cols[] =
        "SELECT id, client_ip, client_port, server_ip, server_port, ip_version, "
        "coalesce(vlan, -1), incarnation, open_kind, handshake, close_kind, client_final_state, "
        "server_final_state, first_ns, last_ns, packets_c2s, packets_s2c, data_bytes_c2s, "
        "data_bytes_s2c, zeek_history, first_frame, last_frame FROM connections ";
    char sql[1024];
    sqlite3_stmt *st;
    struct sink_db_conn *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (ip_a == NULL)
        snprintf(sql, sizeof(sql), "%sWHERE id = ?1", cols);
    else
        snprintf(sql, sizeof(sql),
                 "%sWHERE (client_ip = ?2 AND client_port = ?3 AND server_ip = ?4 AND "
                 "server_port = ?5) OR (client_ip = ?4 AND client_port = ?5 AND server_ip = ?2 "
                 "AND server_port = ?3) ORDER BY id",
                 cols);
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    if (ip_a == NULL) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    } else {
        sqlite3_bind_text(st, 2, ip_a, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, port_a);
        sqlite3_bind_text(st, 4, ip_b, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, port_b);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        struct sink_db_conn *c = &v[cnt++];
        memset(c, 0, sizeof(*c));
        c->id = (uint64_t)sqlite3_column_int64(st, 0);
        copy_text(c->client_ip, sizeof(c->client_ip), st, 1);
        c->client_port = (uint16_t)sqlite3_column_int(st, 2);
        copy_text(c->server_ip, sizeof(c->server_ip), st, 3);
        c->server_port = (uint16_t)sqlite3_column_int(st, 4);
        c->ip_version = (uint8_t)sqlite3_column_int(st, 5);
        c->vlan = sqlite3_column_int(st, 6);
        c->incarnation = (uint32_t)sqlite3_column_int64(st, 7);
        copy_text(c->open_kind, sizeof(c->open_kind), st, 8);
        copy_text(c->handshake, sizeof(c->handshake), st, 9);
        copy_text(c->close_kind, sizeof(c->close_kind), st, 10);
        copy_text(c->client_final_state, sizeof(c->client_final_state), st, 11);
        copy_text(c->server_final_state, sizeof(c->server_final_state), st, 12);
        c->first_ns = (uint64_t)sqlite3_column_int64(st, 13);
        c->last_ns = (uint64_t)sqlite3_column_int64(st, 14);
        c->packets[TCB_CLIENT] = (uint64_t)sqlite3_column_int64(st, 15);
        c->packets[TCB_SERVER] = (uint64_t)sqlite3_column_int64(st, 16);
        c->data_bytes[TCB_CLIENT] = (uint64_t)sqlite3_column_int64(st, 17);
        c->data_bytes[TCB_SERVER] = (uint64_t)sqlite3_column_int64(st, 18);
        copy_text(c->zeek_history, sizeof(c->zeek_history), st, 19);
        c->first_frame = (uint64_t)sqlite3_column_int64(st, 20);
        c->last_frame = (uint64_t)sqlite3_column_int64(st, 21);
    }
    if ((rc = rows_done(db, st, rc, v, err)) == 0) {
        *rows = v;
        *n = cnt;
    }
    return rc;
}

/* Index of word in a vocabulary, or -1. */
static int word_index(enum sink_voc voc, const char *w)
{
    for (size_t i = 0; i < sink_voc_count(voc); i++) {
        const char *x = sink_voc_word(voc, i);
        if (x && w && strcmp(x, w) == 0)
            return (int)i;
    }
    return -1;
}

int sink_db_transitions(struct sink_db *db, uint64_t conn_id, struct tcb_event **ev, size_t *n,
                        char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    struct tcb_event *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *ev = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT ts_ns, coalesce(frame, 0), endpoint, from_state, to_state, "
                           "cause FROM transitions WHERE conn_id = ?1 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)conn_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        int ep = word_index(SINK_VOC_ENDPOINT, (const char *)sqlite3_column_text(st, 2));
        int from = word_index(SINK_VOC_STATE, (const char *)sqlite3_column_text(st, 3));
        int to = word_index(SINK_VOC_STATE, (const char *)sqlite3_column_text(st, 4));
        int cause = word_index(SINK_VOC_CAUSE, (const char *)sqlite3_column_text(st, 5));
        if (ep < 0 || from < 0 || to < 0 || cause < 0) {
            snprintf(err, TCBS_ERRLEN, "%s: connection %llu has a transition with unknown words",
                     db->path, (unsigned long long)conn_id);
            sqlite3_finalize(st);
            free(v);
            return -EINVAL;
        }
        v[cnt].ts_ns = (uint64_t)sqlite3_column_int64(st, 0);
        v[cnt].frame = (uint64_t)sqlite3_column_int64(st, 1);
        v[cnt].endpoint = (uint8_t)ep;
        v[cnt].from = (uint8_t)from;
        v[cnt].to = (uint8_t)to;
        v[cnt].cause = (uint8_t)cause;
        cnt++;
    }
    if ((rc = rows_done(db, st, rc, v, err)) == 0) {
        *ev = v;
        *n = cnt;
    }
    return rc;
}

int sink_db_captures(struct sink_db *db, char ***names, size_t *n, char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    size_t cnt = 0, bytes = 0;
    int rc;

    *names = NULL;
    *n = 0;
    /* Two passes: size the one block, then fill it. */
    if (sqlite3_prepare_v2(db->db, "SELECT name FROM captures ORDER BY file_index", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cnt++;
        bytes += (size_t)sqlite3_column_bytes(st, 0) + 1;
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(db, err, "query failed");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_reset(st);
    char **v = sink_malloc((cnt + 1) * sizeof(char *) + bytes + 1);
    if (v == NULL) {
        sqlite3_finalize(st);
        return oom(err);
    }
    char *p = (char *)(v + cnt + 1), *end = p + bytes + 1;
    size_t i = 0;
    while (i < cnt && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        int len = snprintf(p, (size_t)(end - p), "%s", t ? (const char *)t : "");
        v[i++] = p;
        p += len + 1;
    }
    v[i] = NULL;
    sqlite3_finalize(st);
    *names = v;
    *n = i;
    return 0;
}

int sink_db_run_text(struct sink_db *db, const char *key, char *buf, size_t len,
                     char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    int found = run_value(db, key, SQLITE_TEXT, &st, err);
    if (found == 1) {
        copy_text(buf, len, st, 0);
        sqlite3_finalize(st);
    }
    return found;
}

int sink_db_time_span(struct sink_db *db, uint64_t *first, uint64_t *last, char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT min(first_ns), max(last_ns) FROM captures", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
        sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
        *first = (uint64_t)sqlite3_column_int64(st, 0);
        *last = (uint64_t)sqlite3_column_int64(st, 1);
        found = 1;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        found = db_fail(db, err, "query failed");
    }
    sqlite3_finalize(st);
    return found;
}

int sink_db_pick_conns(struct sink_db *db, enum sink_db_pick what, size_t limit,
                       struct sink_db_pick_row **rows, size_t *n, char err[TCBS_ERRLEN])
{
#define PICK_COLS "SELECT id, CASE WHEN " HS_WHERE " THEN ack_ns - syn_ns ELSE -1 END FROM connections "
    static const char *const sql[SINK_DB_PICK_COUNT] = {
        [SINK_DB_PICK_SLOWEST] = PICK_COLS "WHERE " HS_WHERE " ORDER BY ack_ns - syn_ns DESC, id "
                                           "LIMIT ?1",
        [SINK_DB_PICK_RESET] = PICK_COLS "WHERE close_kind IN ('reset_client', 'reset_server') "
                                         "ORDER BY id LIMIT ?1",
        [SINK_DB_PICK_SIMULTANEOUS] = PICK_COLS "WHERE open_kind = 'simultaneous' ORDER BY id "
                                                "LIMIT ?1",
    };
#undef PICK_COLS
    sqlite3_stmt *st;
    struct sink_db_pick_row *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if ((unsigned)what >= SINK_DB_PICK_COUNT) {
        snprintf(err, TCBS_ERRLEN, "unknown pick %d", (int)what);
        return -EINVAL;
    }
    if (sqlite3_prepare_v2(db->db, sql[what], -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    sqlite3_bind_int64(st, 1, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        v[cnt].id = (uint64_t)sqlite3_column_int64(st, 0);
        v[cnt].handshake_ns = sqlite3_column_int64(st, 1);
        cnt++;
    }
    if ((rc = rows_done(db, st, rc, v, err)) == 0) {
        *rows = v;
        *n = cnt;
    }
    return rc;
}

/* One row of integers from a query without parameters into v[0..n); 0 or negative. */
static int query_ints(struct sink_db *d, const char *sql, int64_t *v, int n,
                      char err[TCBS_ERRLEN])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(d, err, "query failed");
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = db_fail(d, err, "query failed");
        sqlite3_finalize(st);
        return rc;
    }
    for (int i = 0; i < n; i++)
        v[i] = sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
    return 0;
}

/* A `run` integer into *out (unset keys leave it 0); 1 found, 0 not, negative on error. */
static int run_u64(struct sink_db *db, const char *key, uint64_t *out, char err[TCBS_ERRLEN])
{
    int64_t v = 0;
    int rc = sink_db_run_int(db, key, &v, err);
    if (rc > 0)
        *out = (uint64_t)v;
    return rc;
}

/* Fill *d from the database (everything sink_summary_render() shows). */
static int db_summary_data(struct sink_db *db, struct sink_summary_data *d, char err[TCBS_ERRLEN])
{
    int64_t v[3];
    uint64_t interrupted = 0;
    int rc;

    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        if ((rc = sink_db_group_counts(db, (enum sink_db_group)g, &d->groups[g], &d->ngroups[g],
                                       err)) < 0)
            return rc;
    if ((rc = query_counts(db, "SELECT kind, count(*) FROM anomalies GROUP BY 1 ORDER BY 2 DESC, 1",
                           NULL, &d->anom, &d->nanom, err)) < 0 ||
        (rc = sink_db_run_ints(db, "skipped.", &d->skips, &d->nskips, err)) < 0 ||
        (rc = sink_db_run_ints(db, "link.", &d->links, &d->nlinks, err)) < 0 ||
        (rc = sink_db_handshake_ns(db, &d->lat_ns, &d->nlat, err)) < 0 ||
        (rc = sink_db_servers(db, &d->servers, &d->nservers, err)) < 0)
        return rc;
    sink_summary_sort_counts(d->skips, d->nskips);
    sink_summary_sort_counts(d->links, d->nlinks);
    if ((rc = query_ints(db,
                         "SELECT count(*), coalesce(sum(ip_version = 6), 0), "
                         "coalesce(sum(evicted), 0) FROM connections",
                         v, 3, err)) < 0)
        return rc;
    d->conns = (uint64_t)v[0];
    d->conns_v6 = (uint64_t)v[1];
    d->conns_v4 = d->conns - d->conns_v6;
    d->evicted = (uint64_t)v[2];
    if ((rc = sink_db_time_span(db, &d->first_ns, &d->last_ns, err)) < 0)
        return rc;
    d->have_times = rc > 0;
    if ((rc = run_u64(db, "frames", &d->frames_read, err)) < 0)
        return rc;
    d->have_input = rc > 0;
    d->frames = d->frames_read;
    if ((rc = run_u64(db, "frames_matched", &d->frames, err)) < 0)
        return rc;
    char filter[8];
    if ((rc = sink_db_run_text(db, "filter", filter, sizeof(filter), err)) < 0)
        return rc;
    d->filtered = rc > 0;
    if ((rc = run_u64(db, "files", &d->files, err)) < 0 ||
        (rc = run_u64(db, "interrupted", &interrupted, err)) < 0 ||
        (rc = run_u64(db, "bytes", &d->bytes, err)) < 0 ||
        (rc = run_u64(db, "ipv4", &d->ipv4_pkts, err)) < 0 ||
        (rc = run_u64(db, "ipv6", &d->ipv6_pkts, err)) < 0 ||
        (rc = run_u64(db, "tcp_segments", &d->tcp_segments, err)) < 0 ||
        (rc = run_u64(db, "bad_ip_checksums", &d->bad_ip_csum, err)) < 0 ||
        (rc = run_u64(db, "bad_tcp_checksums", &d->bad_tcp_csum, err)) < 0 ||
        (rc = run_u64(db, "engine.peak_live", &d->peak_live, err)) < 0 ||
        (rc = run_u64(db, "engine.peak_held", &d->peak_held, err)) < 0)
        return rc;
    d->interrupted = interrupted != 0;
    return 0;
}

int sink_db_summary(struct sink_db *db, FILE *out, bool color, const char *title, size_t top,
                    char err[TCBS_ERRLEN])
{
    struct sink_summary_data d;

    memset(&d, 0, sizeof(d));
    int rc = db_summary_data(db, &d, err);
    if (rc == 0)
        sink_summary_render(out, color, title, &d, top);
    sink_summary_data_free(&d);
    return rc < 0 ? rc : 0;
}

int sink_db_list(struct sink_db *db, const struct sink_db_list_filter *f,
                 struct sink_db_list_row **rows, size_t *n, char err[TCBS_ERRLEN])
{
    /* Fixed text; every value arrives through ?1..?7 (NULL = that filter is off). */
    static const char sql[] =
        "SELECT id, client_ip, client_port, server_ip, server_port, open_kind, handshake, "
        "close_kind, client_final_state, server_final_state, first_ns, last_ns, "
        "CASE WHEN " HS_WHERE " THEN ack_ns - syn_ns END AS hs FROM connections "
        "WHERE (?1 IS NULL OR server_ip = ?1) AND (?2 IS NULL OR server_port = ?2) "
        "AND (?3 IS NULL OR client_port = ?3 OR server_port = ?3) "
        "AND (?4 IS NULL OR client_final_state = ?4 OR server_final_state = ?4) "
        "AND (?5 IS NULL OR open_kind = ?5) "
        "AND (?6 IS NULL OR (" HS_WHERE " AND ack_ns - syn_ns >= ?6)) "
        "ORDER BY id LIMIT ?7";
    sqlite3_stmt *st;
    struct sink_db_list_row *v = NULL;
    size_t cap = 0, cnt = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "query failed");
    if (f->server_ip)
        sqlite3_bind_text(st, 1, f->server_ip, -1, SQLITE_STATIC);
    if (f->server_port >= 0)
        sqlite3_bind_int(st, 2, f->server_port);
    if (f->port >= 0)
        sqlite3_bind_int(st, 3, f->port);
    if (f->state)
        sqlite3_bind_text(st, 4, f->state, -1, SQLITE_STATIC);
    if (f->open_kind)
        sqlite3_bind_text(st, 5, f->open_kind, -1, SQLITE_STATIC);
    if (f->min_handshake_ms >= 0)
        sqlite3_bind_double(st, 6, f->min_handshake_ms * 1e6);
    sqlite3_bind_int64(st, 7, f->limit >= 0 ? f->limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
            sqlite3_finalize(st);
            free(v);
            return oom(err);
        }
        struct sink_db_list_row *r = &v[cnt++];
        memset(r, 0, sizeof(*r));
        r->id = (uint64_t)sqlite3_column_int64(st, 0);
        copy_text(r->client_ip, sizeof(r->client_ip), st, 1);
        r->client_port = (uint16_t)sqlite3_column_int(st, 2);
        copy_text(r->server_ip, sizeof(r->server_ip), st, 3);
        r->server_port = (uint16_t)sqlite3_column_int(st, 4);
        copy_text(r->open_kind, sizeof(r->open_kind), st, 5);
        copy_text(r->handshake, sizeof(r->handshake), st, 6);
        copy_text(r->close_kind, sizeof(r->close_kind), st, 7);
        copy_text(r->client_final_state, sizeof(r->client_final_state), st, 8);
        copy_text(r->server_final_state, sizeof(r->server_final_state), st, 9);
        r->first_ns = (uint64_t)sqlite3_column_int64(st, 10);
        r->last_ns = (uint64_t)sqlite3_column_int64(st, 11);
        r->handshake_ns =
            sqlite3_column_type(st, 12) == SQLITE_INTEGER ? sqlite3_column_int64(st, 12) : -1;
    }
    if ((rc = rows_done(db, st, rc, v, err)) == 0) {
        *rows = v;
        *n = cnt;
    }
    return rc;
}
