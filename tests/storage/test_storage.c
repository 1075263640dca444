/*
 * test_storage.c - unit tests of the storage module: the SQLite sink (every
 * column, NULL rules, CHECK constraints, views, indexes, run/captures,
 * target handling, errors), the NDJSON sink (parsed back with json-c), the
 * two agreeing on every value, the terminal summary, and the fan-out.
 *
 * Expected values come from synth.c's recipe or are written out here (the
 * column names are the public contract, spelled independently of the
 * sink's own column list); never from reading one sink to check itself.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "sink.h"
#include "sink_int.h"
#include "synth.h"

/* The public column list, in order (docs/schema.md). */
static const char *const conn_columns[] = {
    "id", "client_ip", "client_port", "server_ip", "server_port", "ip_version", "vlan",
    "incarnation", "open_kind", "client_open", "server_open", "handshake", "close_kind",
    "client_final_state", "server_final_state", "first_ns", "last_ns", "syn_ns", "synack_ns",
    "ack_ns", "syn_retransmits", "synack_retransmits", "packets_c2s", "packets_s2c",
    "data_bytes_c2s", "data_bytes_s2c", "retrans_packets_c2s", "retrans_packets_s2c",
    "client_mss", "server_mss", "client_wscale", "server_wscale", "sack_permitted",
    "timestamps", "tfo", "zeek_conn_state", "zeek_history", "evicted", "first_time",
    "last_time", "duration_ns", "service", "community_id", "first_frame", "last_frame", "tunnel",
    "tunnel_id", "ip_bytes_c2s", "ip_bytes_s2c", "retrans_bytes_c2s", "retrans_bytes_s2c",
    "zero_windows_c2s", "zero_windows_s2c", "dup_acks_c2s", "dup_acks_s2c", "out_of_order_c2s",
    "out_of_order_s2c", "missed_bytes_c2s", "missed_bytes_s2c", "rtt_c2s_samples",
    "rtt_c2s_min_ns", "rtt_c2s_avg_ns", "rtt_c2s_max_ns", "rtt_s2c_samples", "rtt_s2c_min_ns",
    "rtt_s2c_avg_ns", "rtt_s2c_max_ns", "tap_to_server_ns", "tap_to_client_ns"};
#define NCOLS (sizeof(conn_columns) / sizeof(conn_columns[0]))

/* ------------------------------------------------------------------------
 * Helpers.
 */

struct tdir {
    char path[256];
};

static void tdir_make(struct tdir *d)
{
    const char *t = getenv("TMPDIR");
    snprintf(d->path, sizeof(d->path), "%s/tcbs-storage-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(d->path));
}

static void tdir_file(const struct tdir *d, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", d->path, name);
}

/* Number of entries in the directory whose name contains `part`. */
static int tdir_count(const struct tdir *d, const char *part)
{
    DIR *dir = opendir(d->path);
    struct dirent *e;
    int n = 0;

    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part))
            n++;
    closedir(dir);
    return n;
}

static void tdir_remove(struct tdir *d)
{
    DIR *dir = opendir(d->path);
    struct dirent *e;
    char p[512];

    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", d->path, e->d_name);
        unlink(p);
    }
    closedir(dir);
    rmdir(d->path);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* An expected column value computed from the record (independently of sink.c). */
struct expv {
    int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_TEXT */
    int64_t i;
    char s[64];
};

static void ev_int(struct expv *e, int64_t v)
{
    e->type = SQLITE_INTEGER;
    e->i = v;
}

static void ev_opt(struct expv *e, bool have, int64_t v)
{
    e->type = have ? SQLITE_INTEGER : SQLITE_NULL;
    e->i = v;
}

static void ev_text(struct expv *e, const char *s)
{
    e->type = SQLITE_TEXT;
    snprintf(e->s, sizeof(e->s), "%s", s);
}

/* RFC 3339 UTC with nanoseconds, made with strftime (not sink.c's formatter). */
static void ev_time(struct expv *e, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000ULL);
    struct tm tm;
    char date[32];

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    e->type = SQLITE_TEXT;
    snprintf(e->s, sizeof(e->s), "%s.%09lluZ", date, (unsigned long long)(ns % 1000000000ULL));
}

static bool expect_stat(struct expv *e, const char *col, const struct tcb_conn_info *c);

static void expect_col(const struct tcb_conn_info *c, const char *col, struct expv *e)
{
    uint32_t h = c->have;
    int af = c->ip_version == 6 ? AF_INET6 : AF_INET;

    memset(e, 0, sizeof(*e));
    if (!strcmp(col, "id"))
        ev_int(e, (int64_t)c->id);
    else if (!strcmp(col, "client_ip")) {
        e->type = SQLITE_TEXT;
        inet_ntop(af, c->client_ip, e->s, sizeof(e->s));
    } else if (!strcmp(col, "server_ip")) {
        e->type = SQLITE_TEXT;
        inet_ntop(af, c->server_ip, e->s, sizeof(e->s));
    } else if (!strcmp(col, "client_port"))
        ev_int(e, c->client_port);
    else if (!strcmp(col, "server_port"))
        ev_int(e, c->server_port);
    else if (!strcmp(col, "ip_version"))
        ev_int(e, c->ip_version);
    else if (!strcmp(col, "vlan"))
        ev_opt(e, h & TCB_HAVE_VLAN, c->vlan);
    else if (!strcmp(col, "incarnation"))
        ev_int(e, c->incarnation);
    else if (!strcmp(col, "open_kind"))
        ev_text(e, tcb_open_kind_name(c->open_kind));
    else if (!strcmp(col, "client_open"))
        ev_text(e, tcb_ep_open_name(c->client_open));
    else if (!strcmp(col, "server_open"))
        ev_text(e, tcb_ep_open_name(c->server_open));
    else if (!strcmp(col, "handshake"))
        ev_text(e, tcb_handshake_name(c->handshake));
    else if (!strcmp(col, "close_kind"))
        ev_text(e, tcb_close_kind_name(c->close_kind));
    else if (!strcmp(col, "client_final_state"))
        ev_text(e, tcb_state_name(c->client_final_state));
    else if (!strcmp(col, "server_final_state"))
        ev_text(e, tcb_state_name(c->server_final_state));
    else if (!strcmp(col, "first_ns"))
        ev_int(e, (int64_t)c->first_ns);
    else if (!strcmp(col, "last_ns"))
        ev_int(e, (int64_t)c->last_ns);
    else if (!strcmp(col, "syn_ns"))
        ev_opt(e, h & TCB_HAVE_SYN, (int64_t)c->syn_ns);
    else if (!strcmp(col, "synack_ns"))
        ev_opt(e, h & TCB_HAVE_SYNACK, (int64_t)c->synack_ns);
    else if (!strcmp(col, "ack_ns"))
        ev_opt(e, h & TCB_HAVE_ACK, (int64_t)c->ack_ns);
    else if (!strcmp(col, "syn_retransmits"))
        ev_int(e, c->syn_retransmits);
    else if (!strcmp(col, "synack_retransmits"))
        ev_int(e, c->synack_retransmits);
    else if (!strcmp(col, "packets_c2s"))
        ev_int(e, (int64_t)c->packets[0]);
    else if (!strcmp(col, "packets_s2c"))
        ev_int(e, (int64_t)c->packets[1]);
    else if (!strcmp(col, "data_bytes_c2s"))
        ev_int(e, (int64_t)c->data_bytes[0]);
    else if (!strcmp(col, "data_bytes_s2c"))
        ev_int(e, (int64_t)c->data_bytes[1]);
    else if (!strcmp(col, "retrans_packets_c2s"))
        ev_int(e, (int64_t)c->retrans_packets[0]);
    else if (!strcmp(col, "retrans_packets_s2c"))
        ev_int(e, (int64_t)c->retrans_packets[1]);
    else if (!strcmp(col, "client_mss"))
        ev_opt(e, h & TCB_HAVE_CMSS, c->mss[0]);
    else if (!strcmp(col, "server_mss"))
        ev_opt(e, h & TCB_HAVE_SMSS, c->mss[1]);
    else if (!strcmp(col, "client_wscale"))
        ev_opt(e, h & TCB_HAVE_CWSCALE, c->wscale[0]);
    else if (!strcmp(col, "server_wscale"))
        ev_opt(e, h & TCB_HAVE_SWSCALE, c->wscale[1]);
    else if (!strcmp(col, "sack_permitted"))
        ev_opt(e, h & TCB_HAVE_OPTS, c->sack_permitted);
    else if (!strcmp(col, "timestamps"))
        ev_opt(e, h & TCB_HAVE_OPTS, c->timestamps);
    else if (!strcmp(col, "tfo"))
        ev_int(e, c->tfo);
    else if (!strcmp(col, "zeek_conn_state"))
        ev_text(e, c->zeek_conn_state);
    else if (!strcmp(col, "zeek_history"))
        ev_text(e, c->zeek_history);
    else if (!strcmp(col, "evicted"))
        ev_int(e, c->evicted);
    else if (!strcmp(col, "first_time"))
        ev_time(e, c->first_ns);
    else if (!strcmp(col, "last_time"))
        ev_time(e, c->last_ns);
    else if (!strcmp(col, "duration_ns"))
        ev_int(e, c->last_ns > c->first_ns ? (int64_t)(c->last_ns - c->first_ns) : 0);
    else if (!strcmp(col, "service")) {
        /* the table itself is checked against known ports below */
        const char *svc = sink_service_name(c->server_port);
        if (svc)
            ev_text(e, svc);
        else
            e->type = SQLITE_NULL;
    } else if (!strcmp(col, "community_id")) {
        /* the hash itself is checked against the spec's vectors below */
        char b[SINK_COMMUNITY_ID_LEN];
        ev_text(e, sink_community_id(0, c->ip_version, c->client_ip, c->client_port,
                                     c->server_ip, c->server_port, b));
    } else if (!strcmp(col, "first_frame"))
        ev_int(e, (int64_t)c->first_frame);
    else if (!strcmp(col, "last_frame"))
        ev_int(e, (int64_t)c->last_frame);
    else if (!strcmp(col, "tunnel"))
        ev_text(e, dis_tunnel_name((enum dis_tunnel)c->tunnel));
    else if (!strcmp(col, "tunnel_id"))
        ev_opt(e, h & TCB_HAVE_TUNNEL_ID, c->tunnel_id);
    else if (!expect_stat(e, col, c))
        fail_msg("unknown column %s", col);
}

/* The per-direction statistics columns: 0 for c2s, 1 for s2c by the name's suffix. */
static bool expect_stat(struct expv *e, const char *col, const struct tcb_conn_info *c)
{
    size_t n = strlen(col);
    int d = n > 4 && !strcmp(col + n - 4, "_s2c");
    uint32_t h = c->have;
    bool rtt = h & (d ? TCB_HAVE_RTT_S2C : TCB_HAVE_RTT_C2S);
    if (!strncmp(col, "rtt_", 4)) /* rtt_c2s_samples: the direction is in the middle */
        d = !strncmp(col, "rtt_s2c", 7), rtt = h & (d ? TCB_HAVE_RTT_S2C : TCB_HAVE_RTT_C2S);
    if (!strncmp(col, "ip_bytes_", 9))
        ev_int(e, (int64_t)c->ip_bytes[d]);
    else if (!strncmp(col, "retrans_bytes_", 14))
        ev_int(e, (int64_t)c->retrans_bytes[d]);
    else if (!strncmp(col, "zero_windows_", 13))
        ev_int(e, (int64_t)c->zero_windows[d]);
    else if (!strncmp(col, "dup_acks_", 9))
        ev_int(e, (int64_t)c->dup_acks[d]);
    else if (!strncmp(col, "out_of_order_", 13))
        ev_int(e, (int64_t)c->out_of_order[d]);
    else if (!strncmp(col, "missed_bytes_", 13))
        ev_int(e, (int64_t)c->missed_bytes[d]);
    else if (!strcmp(col + 7, "_samples"))
        ev_int(e, rtt ? (int64_t)c->rtt_samples[d] : 0);
    else if (!strcmp(col + 7, "_min_ns"))
        ev_opt(e, rtt, (int64_t)c->rtt_min_ns[d]);
    else if (!strcmp(col + 7, "_avg_ns"))
        ev_opt(e, rtt, (int64_t)c->rtt_avg_ns[d]);
    else if (!strcmp(col + 7, "_max_ns"))
        ev_opt(e, rtt, (int64_t)c->rtt_max_ns[d]);
    else if (!strcmp(col, "tap_to_server_ns")) /* NULL after a SYN retransmission (Karn) */
        ev_opt(e, (h & TCB_HAVE_SYN) && (h & TCB_HAVE_SYNACK) && !c->syn_retransmits,
               (int64_t)(c->synack_ns - c->syn_ns));
    else if (!strcmp(col, "tap_to_client_ns"))
        ev_opt(e, (h & TCB_HAVE_SYNACK) && (h & TCB_HAVE_ACK) && !c->synack_retransmits,
               (int64_t)(c->ack_ns - c->synack_ns));
    else
        return false;
    return true;
}

static void check_sql_value(sqlite3_stmt *st, int i, const struct expv *e, const char *col,
                            uint64_t id)
{
    int t = sqlite3_column_type(st, i);
    if (t != e->type)
        fail_msg("id %llu column %s: type %d, expected %d", (unsigned long long)id, col, t,
                 e->type);
    if (t == SQLITE_INTEGER)
        assert_int_equal(sqlite3_column_int64(st, i), e->i);
    else if (t == SQLITE_TEXT)
        assert_string_equal((const char *)sqlite3_column_text(st, i), e->s);
}

static void check_json_value(struct json_object *v, const struct expv *e, const char *col,
                             uint64_t id)
{
    if (e->type == SQLITE_NULL) {
        if (v != NULL)
            fail_msg("id %llu key %s: expected null", (unsigned long long)id, col);
    } else if (e->type == SQLITE_INTEGER) {
        assert_non_null(v);
        assert_true(json_object_is_type(v, json_type_int));
        assert_int_equal(json_object_get_int64(v), e->i);
    } else {
        assert_non_null(v);
        assert_true(json_object_is_type(v, json_type_string));
        assert_string_equal(json_object_get_string(v), e->s);
    }
}

static void feed(struct sink *s, uint64_t n)
{
    char err[TCBS_ERRLEN] = "";
    struct synth_conn c;

    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        if (s->ops->conn(s, &c.info, err) != 0)
            fail_msg("conn %llu: %s", (unsigned long long)id, err);
    }
}

/* A run with known input counters. */
struct run_fixture {
    struct dis_stats dis;
    struct tcb_stats tcb;
    struct dis_file_info files[2];
    struct sink_run_info run;
};

static void run_fixture_init(struct run_fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->dis.frames = 1234567;
    f->dis.bytes = 987654321;
    f->dis.ipv4 = 1000000;
    f->dis.ipv6 = 200000;
    f->dis.tcp = 1100000;
    f->dis.skipped[DIS_SKIP_NOT_TCP] = 100000;
    f->dis.skipped[DIS_SKIP_TCP_TRUNCATED] = 34567;
    f->dis.bad_tcp_csum = 12;
    f->dis.link[0].linktype = DIS_LINKTYPE_EN10MB;
    f->dis.link[0].frames = 1000000;
    f->dis.link[1].linktype = DIS_LINKTYPE_LINUX_SLL2;
    f->dis.link[1].frames = 234567;
    f->dis.link_count = 2;
    f->tcb.connections = 50;
    f->tcb.peak_live = 17;
    f->tcb.events = 123;
    f->tcb.evictions = 4;
    f->files[0].name = "a.pcapng";
    f->files[0].pcapng = true;
    f->files[0].linktypes[0] = DIS_LINKTYPE_EN10MB;
    f->files[0].linktypes[1] = DIS_LINKTYPE_LINUX_SLL2;
    f->files[0].linktype_count = 2;
    f->files[0].frames = 1300000; /* read; the filter passed dis.frames of them */
    f->files[0].frames_matched = 1234567;
    f->files[0].first_ns = 111;
    f->files[0].last_ns = 222;
    f->files[1].name = "b.pcap";
    f->files[1].linktypes[0] = 65000; /* no name: printed as the number */
    f->files[1].linktype_count = 1;
    f->files[1].truncated = true;
    f->run.version = "9.9.9";
    f->run.command_line = "tcbscope analyze a.pcapng b.pcap --db x.db";
    f->run.start_unix_ns = 1700000000123456789ull;
    f->run.filter = "tcp";
    f->run.files = f->files;
    f->run.file_count = 2;
    f->run.dis = &f->dis;
    f->run.tcb = &f->tcb;
}

/* Open path, feed n synthetic connections, finish; the file must exist after. */
static void write_db(const char *path, uint64_t n, bool force, bool interrupted)
{
    struct sink *s = NULL;
    char err[TCBS_ERRLEN] = "";
    struct run_fixture f;

    run_fixture_init(&f);
    f.run.interrupted = interrupted;
    if (sink_sqlite_open(&s, path, force, err) != 0)
        fail_msg("open: %s", err);
    feed(s, n);
    if (s->ops->finish(s, &f.run, err) != 0)
        fail_msg("finish: %s", err);
    s->ops->destroy(s);
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Text result of a one-value query into buf ("" when NULL). */
static const char *db_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, len, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    return buf;
}

#define NCONN 60

/* ------------------------------------------------------------------------
 * SQLite.
 */

static void test_sqlite_writes_every_column_with_nulls_where_unseen(void **state)
{
    struct tdir d;
    char path[300];
    sqlite3 *db;
    sqlite3_stmt *st;
    uint64_t id = 0;
    int nulls = 0;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, NCONN, false, false);
    db = db_open(path);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM connections ORDER BY id", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal((size_t)sqlite3_column_count(st), NCOLS);
    for (size_t i = 0; i < NCOLS; i++)
        assert_string_equal(sqlite3_column_name(st, (int)i), conn_columns[i]);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct synth_conn c;
        synth_fill(&c, ++id);
        for (size_t i = 0; i < NCOLS; i++) {
            struct expv e;
            expect_col(&c.info, conn_columns[i], &e);
            nulls += e.type == SQLITE_NULL;
            check_sql_value(st, (int)i, &e, conn_columns[i], id);
        }
    }
    sqlite3_finalize(st);
    assert_int_equal(id, NCONN);
    assert_true(nulls > 0);
    /* booleans are 0/1 integers, NULL only with TCB_HAVE_OPTS missing */
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections WHERE sack_permitted IS NULL"),
                     NCONN / 4);
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections WHERE typeof(tfo) != 'integer'"),
                     0);
    sqlite3_close(db);
    tdir_remove(&d);
}

static void test_sqlite_transitions_and_anomalies_keep_order_and_null_frames(void **state)
{
    struct tdir d;
    char path[300];
    sqlite3 *db;
    sqlite3_stmt *st;
    uint64_t want_tr = 0, want_an = 0;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, NCONN, false, false);
    db = db_open(path);

    for (uint64_t id = 1; id <= NCONN; id++) {
        struct synth_conn c;
        synth_fill(&c, id);
        want_tr += c.info.event_count;
        want_an += c.info.anomaly_count;
    }
    assert_int_equal(db_int(db, "SELECT count(*) FROM transitions"), want_tr);
    assert_int_equal(db_int(db, "SELECT count(*) FROM anomalies"), want_an);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT conn_id, seq, ts_ns, endpoint, from_state, "
                                        "to_state, cause, frame FROM transitions "
                                        "ORDER BY conn_id, seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (uint64_t id = 1; id <= NCONN; id++) {
        struct synth_conn c;
        synth_fill(&c, id);
        for (uint32_t i = 0; i < c.info.event_count; i++) {
            const struct tcb_event *e = &c.ev[i];
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int64(st, 0), id);
            assert_int_equal(sqlite3_column_int64(st, 1), i);
            assert_int_equal(sqlite3_column_int64(st, 2), e->ts_ns);
            assert_string_equal(sqlite3_column_text(st, 3), e->endpoint ? "server" : "client");
            assert_string_equal(sqlite3_column_text(st, 4), tcb_state_name(e->from));
            assert_string_equal(sqlite3_column_text(st, 5), tcb_state_name(e->to));
            assert_string_equal(sqlite3_column_text(st, 6), tcb_cause_name(e->cause));
            if (e->frame == 0)
                assert_int_equal(sqlite3_column_type(st, 7), SQLITE_NULL);
            else
                assert_int_equal(sqlite3_column_int64(st, 7), e->frame);
        }
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT conn_id, ts_ns, endpoint, kind, frame "
                                        "FROM anomalies ORDER BY conn_id, ts_ns",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (uint64_t id = 1; id <= NCONN; id++) {
        struct synth_conn c;
        synth_fill(&c, id);
        for (uint32_t i = 0; i < c.info.anomaly_count; i++) {
            const struct tcb_anom *a = &c.an[i];
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int64(st, 0), id);
            assert_int_equal(sqlite3_column_int64(st, 1), a->ts_ns);
            assert_string_equal(sqlite3_column_text(st, 2), a->endpoint ? "server" : "client");
            assert_string_equal(sqlite3_column_text(st, 3), tcb_anomaly_name(a->kind));
            if (a->frame == 0)
                assert_int_equal(sqlite3_column_type(st, 4), SQLITE_NULL);
            else
                assert_int_equal(sqlite3_column_int64(st, 4), a->frame);
        }
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tdir_remove(&d);
}

/* Insert by hand; returns the sqlite3_exec code. */
static int try_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void test_sqlite_check_constraints_reject_words_outside_the_vocabulary(void **state)
{
    struct tdir d;
    char path[300];
    sqlite3 *db;
    static const char good[] =
        "INSERT INTO connections VALUES (9001, '10.0.0.1', 1, '10.0.0.2', 2, 4, NULL, 1, "
        "'%s', '%s', 'passive', 'complete', '%s', '%s', 'CLOSED', 1, 2, NULL, NULL, NULL, 0, 0, "
        "0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, %s, 'OTH', '', 0, "
        "'1970-01-01T00:00:00.000000001Z', '1970-01-01T00:00:00.000000002Z', 1, NULL, "
        "'1:wCb3OG7yAFWelaUydu0D+125CLM=', 1, 2, 'none', NULL, "
        "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL)";
    char sql[1024];

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, 3, false, false);
    db = db_open(path);

    snprintf(sql, sizeof(sql), good, "active_passive", "active", "active_client",
             "ESTABLISHED", "0");
    assert_int_equal(try_sql(db, sql), SQLITE_OK);
    snprintf(sql, sizeof(sql), good, "bogus", "active", "active_client", "ESTABLISHED", "0");
    assert_int_equal(try_sql(db, sql), SQLITE_CONSTRAINT);
    assert_non_null(strstr(sqlite3_errmsg(db), "CHECK constraint failed"));
    snprintf(sql, sizeof(sql), good, "active_passive", "Active", "active_client",
             "ESTABLISHED", "0");
    assert_int_equal(try_sql(db, sql), SQLITE_CONSTRAINT);
    snprintf(sql, sizeof(sql), good, "active_passive", "active", "closed_nicely",
             "ESTABLISHED", "0");
    assert_int_equal(try_sql(db, sql), SQLITE_CONSTRAINT);
    /* the C enum spelling is not the printed one */
    snprintf(sql, sizeof(sql), good, "active_passive", "active", "active_client",
             "SYN_RECEIVED", "0");
    assert_int_equal(try_sql(db, sql), SQLITE_CONSTRAINT);
    snprintf(sql, sizeof(sql), good, "active_passive", "active", "active_client",
             "ESTABLISHED", "2");
    assert_int_equal(try_sql(db, sql), SQLITE_CONSTRAINT);

    assert_int_equal(try_sql(db, "INSERT INTO transitions VALUES (1, 9, 5, 'client', "
                                 "'LISTEN', 'SYN-RECEIVED', 'rcv_syn', NULL)"),
                     SQLITE_OK);
    assert_int_equal(try_sql(db, "INSERT INTO transitions VALUES (1, 10, 5, 'both', "
                                 "'LISTEN', 'SYN-RECEIVED', 'rcv_syn', NULL)"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(try_sql(db, "INSERT INTO transitions VALUES (1, 10, 5, 'client', "
                                 "'LISTEN', 'SYN-RECEIVED', 'got_syn', NULL)"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(try_sql(db, "INSERT INTO anomalies VALUES (1, 5, 'server', 'weird', 3)"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(try_sql(db, "INSERT INTO anomalies VALUES (1, 5, 'server', 'syn_fin', 3)"),
                     SQLITE_OK);
    /* (conn_id, seq) is unique */
    assert_int_equal(try_sql(db, "INSERT INTO transitions VALUES (1, 9, 6, 'client', "
                                 "'LISTEN', 'SYN-RECEIVED', 'rcv_syn', NULL)"),
                     SQLITE_CONSTRAINT);
    /* every word of every vocabulary is accepted */
    for (int i = 0; i < TCB_STATE_COUNT; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO transitions VALUES (2, %d, 5, 'server', '%s', '%s', "
                 "'midstream', 1)",
                 100 + i, tcb_state_name((enum tcb_state)i), tcb_state_name((enum tcb_state)i));
        assert_int_equal(try_sql(db, sql), SQLITE_OK);
    }
    for (int i = 0; i < TCB_CAUSE_COUNT; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO transitions VALUES (3, %d, 5, 'server', 'CLOSED', 'LISTEN', '%s', 1)",
                 200 + i, tcb_cause_name((enum tcb_cause)i));
        assert_int_equal(try_sql(db, sql), SQLITE_OK);
    }
    sqlite3_close(db);
    tdir_remove(&d);
}

static void test_sqlite_views_compute_latency_and_timeline(void **state)
{
    struct tdir d;
    char path[300], buf[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t complete = 0, tr = 0;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, NCONN, false, false);
    db = db_open(path);
    for (uint64_t id = 1; id <= NCONN; id++) {
        struct synth_conn c;
        synth_fill(&c, id);
        complete += c.info.handshake == TCB_HS_COMPLETE;
        tr += c.info.event_count;
    }
    assert_int_equal(db_int(db, "SELECT count(*) FROM handshake_latency"), complete);
    /* synth: SYN-ACK 1.5 ms after SYN, ACK 0.25 ms after SYN-ACK */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT conn_id, client_ip, client_port, server_ip, "
                                        "server_port, syn_to_synack_ms, synack_to_ack_ms, "
                                        "handshake_ms, syn_retransmits FROM handshake_latency "
                                        "WHERE conn_id = 6",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 6);
    assert_string_equal(sqlite3_column_text(st, 1), "2001:db8::6");
    assert_int_equal(sqlite3_column_int(st, 2), 40006);
    assert_string_equal(sqlite3_column_text(st, 3), "fe80::1");
    assert_int_equal(sqlite3_column_int(st, 4), 80);
    assert_int_equal(sqlite3_column_type(st, 5), SQLITE_FLOAT);
    assert_float_equal(sqlite3_column_double(st, 5), 1.5, 1e-9);
    assert_float_equal(sqlite3_column_double(st, 6), 0.25, 1e-9);
    assert_float_equal(sqlite3_column_double(st, 7), 1.75, 1e-9);
    assert_int_equal(sqlite3_column_int(st, 8), 0);
    sqlite3_finalize(st);
    assert_int_equal(db_int(db, "SELECT count(*) FROM handshake_latency WHERE conn_id % 4 = 0"),
                     0);

    assert_int_equal(db_int(db, "SELECT count(*) FROM timeline"), tr);
    assert_string_equal(db_text(db,
                                "SELECT group_concat(conn_id || ':' || seq, ',') FROM "
                                "(SELECT conn_id, seq FROM timeline LIMIT 6)",
                                buf, sizeof(buf)),
                        "1:0,2:0,2:1,3:0,3:1,3:2");
    assert_string_equal(db_text(db,
                                "SELECT client_ip || ' ' || client_port || ' ' || server_ip "
                                "|| ' ' || server_port || ' ' || to_state FROM timeline "
                                "WHERE conn_id = 2 AND seq = 1",
                                buf, sizeof(buf)),
                        "10.0.0.2 40002 192.0.2.3 80 SYN-SENT");
    sqlite3_close(db);
    tdir_remove(&d);
}

static void test_sqlite_has_user_version_and_indexes_used_by_queries(void **state)
{
    struct tdir d;
    char path[300], plan[256];
    sqlite3 *db;
    static const char *const idx[] = {"connections_server", "connections_handshake",
                                      "connections_close_kind", "transitions_conn_seq",
                                      "anomalies_conn"};

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, 10, false, false);
    db = db_open(path);
    assert_int_equal(db_int(db, "PRAGMA user_version"), SINK_SQLITE_SCHEMA_VERSION);
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        char sql[200];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '%s'",
                 idx[i]);
        assert_int_equal(db_int(db, sql), 1);
    }
    {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "EXPLAIN QUERY PLAN SELECT * FROM connections "
                                            "WHERE server_ip = '192.0.2.1' AND server_port = 443",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "connections_server"));
        sqlite3_finalize(st);
    }
    assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND "
                                "name IN ('handshake_latency', 'timeline')"),
                     2);
    assert_string_equal(db_text(db, "PRAGMA integrity_check", plan, sizeof(plan)), "ok");
    sqlite3_close(db);
    tdir_remove(&d);
}

static void test_sqlite_run_and_captures_tables_describe_the_run(void **state)
{
    struct tdir d;
    char path[300], buf[256];
    sqlite3 *db;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, 5, false, false);
    db = db_open(path);
    assert_string_equal(db_text(db, "SELECT value FROM run WHERE key = 'tcbscope_version'", buf,
                                sizeof(buf)),
                        "9.9.9");
    assert_string_equal(db_text(db, "SELECT value FROM run WHERE key = 'command_line'", buf,
                                sizeof(buf)),
                        "tcbscope analyze a.pcapng b.pcap --db x.db");
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'start_ns'"),
                     1700000000123456789ll);
    /* 1700000000 s = 2023-11-14T22:13:20Z */
    assert_string_equal(db_text(db, "SELECT value FROM run WHERE key = 'start_time'", buf,
                                sizeof(buf)),
                        "2023-11-14T22:13:20.123456789Z");
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'interrupted'"), 0);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'frames'"), 1300000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'frames_matched'"), 1234567);
    assert_string_equal(db_text(db, "SELECT value FROM run WHERE key = 'filter'", buf, sizeof(buf)),
                        "tcp");
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'bytes'"), 987654321);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'ipv4'"), 1000000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'ipv6'"), 200000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'tcp_segments'"), 1100000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'skipped.not_tcp'"), 100000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'skipped.tcp_truncated'"),
                     34567);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'skipped.link_unsupported'"),
                     0);
    /* every skip reason but "none" has its row */
    assert_int_equal(db_int(db, "SELECT count(*) FROM run WHERE key LIKE 'skipped.%'"),
                     DIS_SKIP_COUNT - 1);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'bad_tcp_checksums'"), 12);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'engine.connections'"), 50);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'engine.peak_live'"), 17);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'engine.events'"), 123);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'engine.evictions'"), 4);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'link.EN10MB'"), 1000000);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'link.LINUX_SLL2'"), 234567);
    assert_int_equal(db_int(db, "SELECT typeof(value) = 'integer' FROM run "
                                "WHERE key = 'frames'"),
                     1);

    assert_int_equal(db_int(db, "SELECT count(*) FROM captures"), 2);
    assert_string_equal(db_text(db,
                                "SELECT file_index || '|' || name || '|' || format || '|' || "
                                "link_types || '|' || packets || '|' || packets_matched || '|' "
                                "|| first_ns || '|' || last_ns || '|' || truncated "
                                "FROM captures WHERE file_index = 0",
                                buf, sizeof(buf)),
                        "0|a.pcapng|pcapng|EN10MB,LINUX_SLL2|1300000|1234567|111|222|0");
    assert_string_equal(db_text(db,
                                "SELECT name || '|' || format || '|' || link_types || '|' || "
                                "quote(first_ns) || '|' || quote(last_ns) || '|' || truncated "
                                "FROM captures WHERE file_index = 1",
                                buf, sizeof(buf)),
                        "b.pcap|pcap|65000|NULL|NULL|1");
    sqlite3_close(db);
    tdir_remove(&d);
}

static void test_sqlite_interrupted_run_keeps_partial_results(void **state)
{
    struct tdir d;
    char path[300];
    sqlite3 *db;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, 7, false, true);
    db = db_open(path);
    assert_int_equal(db_int(db, "SELECT value FROM run WHERE key = 'interrupted'"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections"), 7);
    sqlite3_close(db);
    assert_int_equal(tdir_count(&d, ".tmp-"), 0);
    tdir_remove(&d);
}

static void test_sqlite_refuses_existing_target_without_force(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "", want[400];
    struct sink *s = NULL;
    char *text;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_file(path, "precious");
    assert_int_equal(sink_sqlite_open(&s, path, false, err), -EEXIST);
    assert_null(s);
    snprintf(want, sizeof(want), "%s exists (use --force to overwrite)", path);
    assert_string_equal(err, want);
    text = read_all(path, NULL);
    assert_string_equal(text, "precious");
    free(text);
    assert_int_equal(tdir_count(&d, ".tmp-"), 0);
    tdir_remove(&d);
}

static void test_sqlite_force_overwrites_existing_target(void **state)
{
    struct tdir d;
    char path[300];
    sqlite3 *db;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_file(path, "not a database");
    write_db(path, 4, true, false);
    db = db_open(path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections"), 4);
    sqlite3_close(db);
    assert_int_equal(tdir_count(&d, ""), 1);
    tdir_remove(&d);
}

static void test_sqlite_destroy_without_finish_keeps_old_target_and_no_temp(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    sqlite3 *db;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    write_db(path, 3, false, false);
    assert_int_equal(sink_sqlite_open(&s, path, true, err), 0);
    assert_int_equal(tdir_count(&d, ".out.db.tmp-"), 1); /* written beside the target */
    feed(s, 20);
    s->ops->destroy(s);
    assert_int_equal(tdir_count(&d, ".tmp-"), 0);
    db = db_open(path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections"), 3);
    sqlite3_close(db);

    /* without a previous target, nothing at all is left */
    unlink(path);
    assert_int_equal(sink_sqlite_open(&s, path, false, err), 0);
    feed(s, 2);
    s->ops->destroy(s);
    assert_int_equal(tdir_count(&d, ""), 0);
    tdir_remove(&d);
}

static void test_sqlite_unwritable_directory_is_one_line_error_naming_path(void **state)
{
    struct tdir d;
    char path[400], file[300], err[TCBS_ERRLEN] = "", want[600];
    struct sink *s = NULL;

    tdir_make(&d);
    /* a parent that does not exist */
    tdir_file(&d, "missing/out.db", path, sizeof(path));
    assert_int_equal(sink_sqlite_open(&s, path, false, err), -ENOENT);
    assert_null(s);
    snprintf(want, sizeof(want), "%s: cannot create database: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));

    /* a parent that is a regular file (permission bits do not stop root) */
    tdir_file(&d, "plain", file, sizeof(file));
    write_file(file, "x");
    snprintf(path, sizeof(path), "%s/out.db", file);
    assert_int_equal(sink_sqlite_open(&s, path, true, err), -ENOTDIR);
    snprintf(want, sizeof(want), "%s: cannot create database: %s", path, strerror(ENOTDIR));
    assert_string_equal(err, want);

    /* a directory as the target, even with --force */
    assert_int_equal(sink_sqlite_open(&s, d.path, true, err), -EISDIR);
    assert_non_null(strstr(err, "is a directory"));
    tdir_remove(&d);
}

static void test_sqlite_refuses_non_regular_targets_even_with_force(void **state)
{
    struct tdir d;
    char fifo[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct stat before, after;

    tdir_make(&d);
    assert_int_equal(stat("/dev/null", &before), 0);
    /* A sink opened by mistake is destroyed, never finished: no rename over /dev. */
    int rc = sink_sqlite_open(&s, "/dev/null", true, err);
    if (rc == 0)
        s->ops->destroy(s);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, "/dev/null: is a character device; a database only ever replaces "
                             "a regular file");
    assert_int_equal(stat("/dev/null", &after), 0);
    assert_true(S_ISCHR(after.st_mode) && after.st_rdev == before.st_rdev &&
                after.st_ino == before.st_ino);

    tdir_file(&d, "fifo", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(sink_sqlite_open(&s, fifo, true, err), -EINVAL);
    assert_non_null(strstr(err, "is a FIFO"));
    assert_int_equal(stat(fifo, &after), 0);
    assert_true(S_ISFIFO(after.st_mode));
    assert_int_equal(tdir_count(&d, ".tmp-"), 0);

    /* descriptor names, whatever they lead to */
    static const char *const fds[] = {"/dev/stdout", "/proc/self/fd/2"};
    for (int i = 0; i < 2; i++) {
        rc = sink_sqlite_open(&s, fds[i], true, err);
        if (rc == 0)
            s->ops->destroy(s);
        assert_int_equal(rc, -EINVAL);
        assert_non_null(strstr(err, "names a file descriptor"));
    }
    unlink(fifo);
    tdir_remove(&d);
}

static void test_sqlite_symlink_replaces_the_file_it_points_to(void **state)
{
    struct tdir d;
    char file[300], link[300], target[300];
    struct stat st;
    sqlite3 *db;

    tdir_make(&d);
    tdir_file(&d, "real.db", file, sizeof(file));
    tdir_file(&d, "link.db", link, sizeof(link));
    write_file(file, "old");
    assert_int_equal(symlink("real.db", link), 0);
    write_db(link, 2, true, false);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* the link stays a link */
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "real.db");
    db = db_open(file);
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections"), 2);
    sqlite3_close(db);
    assert_int_equal(tdir_count(&d, ""), 2);
    unlink(link);
    tdir_remove(&d);
}

/* Open path (absent), feed, make what `make` makes at path, finish: refused, temp kept. */
static void finish_after_target_changed(bool force, bool fifo)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "", tmp[400];
    struct sink *s = NULL;
    struct run_fixture f;
    struct stat st;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    run_fixture_init(&f);
    assert_int_equal(sink_sqlite_open(&s, path, force, err), 0);
    feed(s, 3);
    if (fifo)
        assert_int_equal(mkfifo(path, 0600), 0);
    else
        write_file(path, "someone else's");
    assert_true(s->ops->finish(s, &f.run, err) < 0);
    assert_non_null(strstr(err, fifo ? "out.db is now a FIFO (pipe)" : "out.db appeared"));
    const char *in = strstr(err, "the database is in ");
    assert_non_null(in);
    snprintf(tmp, sizeof(tmp), "%s", in + strlen("the database is in "));
    s->ops->destroy(s);
    assert_int_equal(stat(path, &st), 0);
    if (fifo) {
        assert_true(S_ISFIFO(st.st_mode));
    } else {
        char *text = read_all(path, NULL);
        assert_string_equal(text, "someone else's");
        free(text);
    }
    sqlite3 *db = db_open(tmp); /* the results are not lost */
    assert_int_equal(db_int(db, "SELECT count(*) FROM connections"), 3);
    sqlite3_close(db);
    unlink(tmp);
    unlink(path);
    tdir_remove(&d);
}

static void test_sqlite_target_turned_fifo_is_not_replaced_and_temp_kept(void **state)
{
    finish_after_target_changed(true, true);
}

static void test_sqlite_target_appearing_without_force_is_not_replaced(void **state)
{
    finish_after_target_changed(false, false);
}

static void test_sqlite_error_mid_run_carries_sqlite_message(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct synth_conn c;
    struct run_fixture f;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    run_fixture_init(&f);
    assert_int_equal(sink_sqlite_open(&s, path, false, err), 0);
    feed(s, 5);
    synth_fill(&c, 6);
    c.info.close_kind = 200; /* not an enum value: the name is "?", the CHECK refuses it */
    assert_int_equal(s->ops->conn(s, &c.info, err), -EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "CHECK constraint failed: close_kind"));
    /* sticky: later calls repeat the first error */
    err[0] = '\0';
    synth_fill(&c, 7);
    assert_int_equal(s->ops->conn(s, &c.info, err), -EINVAL);
    assert_non_null(strstr(err, "CHECK constraint failed"));
    assert_int_not_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    assert_int_equal(tdir_count(&d, ""), 0);
    tdir_remove(&d);
}

static void test_sqlite_error_from_sqlite_names_its_message(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct synth_conn c;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    assert_int_equal(sink_sqlite_open(&s, path, false, err), 0);
    feed(s, 3);
    synth_fill(&c, 2); /* the same id again: the PRIMARY KEY refuses it */
    {
        /* rows are written in batches: the error comes from conn() or finish() */
        struct run_fixture f;
        int rc = s->ops->conn(s, &c.info, err);
        run_fixture_init(&f);
        if (rc == 0)
            rc = s->ops->finish(s, &f.run, err);
        assert_int_equal(rc, -EIO);
    }
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "UNIQUE constraint failed: connections.id"));
    s->ops->destroy(s);
    assert_int_equal(tdir_count(&d, ""), 0);

    /* a bad transition or anomaly word is caught too */
    assert_int_equal(sink_sqlite_open(&s, path, false, err), 0);
    synth_fill(&c, 5);
    c.ev[1].to = TCB_STATE_COUNT;
    assert_int_equal(s->ops->conn(s, &c.info, err), -EINVAL);
    assert_non_null(strstr(err, "transition 1"));
    s->ops->destroy(s);
    assert_int_equal(sink_sqlite_open(&s, path, false, err), 0);
    synth_fill(&c, 5);
    c.an[1].kind = 250;
    assert_int_equal(s->ops->conn(s, &c.info, err), -EINVAL);
    assert_non_null(strstr(err, "anomaly 1"));
    s->ops->destroy(s);
    tdir_remove(&d);
}

/* Every allocation/write fails once in turn: a clean error, nothing left behind, no leak. */
static void test_sqlite_fault_at_every_call_ends_cleanly(void **state)
{
    struct tdir d;
    char path[300];
    unsigned long n;
    int successes = 0;

    tdir_make(&d);
    tdir_file(&d, "out.db", path, sizeof(path));
    for (n = 1; n < 400 && successes == 0; n++) {
        char err[TCBS_ERRLEN] = "";
        struct sink *s = NULL;
        struct run_fixture f;
        struct synth_conn c;
        int rc;

        run_fixture_init(&f);
        sink_fault_countdown = n;
        rc = sink_sqlite_open(&s, path, false, err);
        for (uint64_t id = 1; rc == 0 && id <= 8; id++) {
            synth_fill(&c, id);
            rc = s->ops->conn(s, &c.info, err);
        }
        if (rc == 0)
            rc = s->ops->finish(s, &f.run, err);
        if (s != NULL)
            s->ops->destroy(s);
        if (rc == 0) {
            assert_true(sink_fault_countdown > 0); /* the fault was never reached */
            successes++;
        } else {
            assert_true(err[0] != '\0');
            assert_int_equal(tdir_count(&d, ""), 0);
        }
    }
    sink_fault_countdown = 0;
    assert_int_equal(successes, 1);
    assert_true(n > 20); /* many distinct failure points were reached */
    tdir_remove(&d);
}

/* ------------------------------------------------------------------------
 * NDJSON.
 */

static const char *const json_extra_keys[] = {"transitions", "anomalies"};

/* Parse every line of buf with json-c; returns the number of lines. */
static size_t json_check_lines(const char *buf, size_t len, bool check_values)
{
    size_t lines = 0;
    const char *p = buf, *end = buf + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o, *v;
        size_t k = 0;
        struct synth_conn c;

        assert_non_null(nl);
        o = json_tokener_parse_ex(tok, p, (int)(nl - p));
        if (o == NULL || json_tokener_get_parse_end(tok) != (size_t)(nl - p))
            fail_msg("line %zu does not parse: %.*s", lines + 1, (int)(nl - p), p);
        json_tokener_free(tok);
        assert_true(json_object_is_type(o, json_type_object));
        json_object_object_foreach(o, key, val)
        {
            (void)val;
            const char *want = k < NCOLS ? conn_columns[k] : json_extra_keys[k - NCOLS];
            assert_true(k < NCOLS + 2);
            assert_string_equal(key, want);
            k++;
        }
        assert_int_equal(k, NCOLS + 2);
        lines++;
        if (check_values) {
            synth_fill(&c, lines);
            for (size_t i = 0; i < NCOLS; i++) {
                struct expv e;
                expect_col(&c.info, conn_columns[i], &e);
                assert_true(json_object_object_get_ex(o, conn_columns[i], &v));
                check_json_value(v, &e, conn_columns[i], lines);
            }
            assert_true(json_object_object_get_ex(o, "transitions", &v));
            assert_int_equal(json_object_array_length(v), c.info.event_count);
            for (uint32_t i = 0; i < c.info.event_count; i++) {
                struct json_object *t = json_object_array_get_idx(v, i), *x;
                assert_int_equal(json_object_object_length(t), 6);
                assert_true(json_object_object_get_ex(t, "ts_ns", &x));
                assert_int_equal(json_object_get_int64(x), c.ev[i].ts_ns);
                assert_true(json_object_object_get_ex(t, "endpoint", &x));
                assert_string_equal(json_object_get_string(x),
                                    c.ev[i].endpoint ? "server" : "client");
                assert_true(json_object_object_get_ex(t, "from_state", &x));
                assert_string_equal(json_object_get_string(x), tcb_state_name(c.ev[i].from));
                assert_true(json_object_object_get_ex(t, "to_state", &x));
                assert_string_equal(json_object_get_string(x), tcb_state_name(c.ev[i].to));
                assert_true(json_object_object_get_ex(t, "cause", &x));
                assert_string_equal(json_object_get_string(x), tcb_cause_name(c.ev[i].cause));
                assert_true(json_object_object_get_ex(t, "frame", &x));
                if (c.ev[i].frame)
                    assert_int_equal(json_object_get_int64(x), c.ev[i].frame);
                else
                    assert_null(x);
            }
            assert_true(json_object_object_get_ex(o, "anomalies", &v));
            assert_int_equal(json_object_array_length(v), c.info.anomaly_count);
            for (uint32_t i = 0; i < c.info.anomaly_count; i++) {
                struct json_object *a = json_object_array_get_idx(v, i), *x;
                assert_int_equal(json_object_object_length(a), 4);
                assert_true(json_object_object_get_ex(a, "ts_ns", &x));
                assert_int_equal(json_object_get_int64(x), c.an[i].ts_ns);
                assert_true(json_object_object_get_ex(a, "endpoint", &x));
                assert_string_equal(json_object_get_string(x),
                                    c.an[i].endpoint ? "server" : "client");
                assert_true(json_object_object_get_ex(a, "kind", &x));
                assert_string_equal(json_object_get_string(x), tcb_anomaly_name(c.an[i].kind));
                assert_true(json_object_object_get_ex(a, "frame", &x));
                if (c.an[i].frame)
                    assert_int_equal(json_object_get_int64(x), c.an[i].frame);
                else
                    assert_null(x);
            }
        }
        json_object_put(o);
        p = nl + 1;
    }
    return lines;
}

static void write_json(const char *path, uint64_t n, bool force)
{
    struct sink *s = NULL;
    char err[TCBS_ERRLEN] = "";
    struct run_fixture f;

    run_fixture_init(&f);
    if (sink_json_open(&s, path, force, err) != 0)
        fail_msg("open: %s", err);
    feed(s, n);
    if (s->ops->finish(s, &f.run, err) != 0)
        fail_msg("finish: %s", err);
    s->ops->destroy(s);
}

static void test_json_lines_parse_with_column_keys_and_nulls(void **state)
{
    struct tdir d;
    char path[300];
    size_t len;
    char *buf;

    tdir_make(&d);
    tdir_file(&d, "out.ndjson", path, sizeof(path));
    write_json(path, 3000, false); /* several 64 KB flushes */
    buf = read_all(path, &len);
    assert_int_equal(json_check_lines(buf, len, true), 3000);
    /* plain: no spaces, no escaped slashes, one object per line */
    assert_null(strstr(buf, "\": "));
    assert_null(strstr(buf, "\\/"));
    assert_non_null(strstr(buf, "\"vlan\":null"));
    free(buf);
    tdir_remove(&d);
}

static void test_json_writes_fifo_and_device_in_place_without_force(void **state)
{
    struct tdir d;
    char fifo[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct run_fixture f;
    struct stat st;
    char buf[1 << 16];
    size_t got = 0;
    ssize_t r;

    tdir_make(&d);
    tdir_file(&d, "fifo", fifo, sizeof(fifo));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open returns */
    assert_true(rd >= 0);
    run_fixture_init(&f);
    assert_int_equal(sink_json_open(&s, fifo, false, err), 0);
    feed(s, 3);
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    while ((r = read(rd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    close(rd);
    assert_int_equal(json_check_lines(buf, got, true), 3);
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(tdir_count(&d, ""), 1); /* no temporary file, nothing renamed */

    write_json("/dev/null", 5, false);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));

    /* a directory is refused, with or without force */
    assert_int_equal(sink_json_open(&s, d.path, true, err), -EISDIR);
    unlink(fifo);
    tdir_remove(&d);
}

static void test_path_fd_names(void **state)
{
    assert_int_equal(sink_path_fd("/dev/stdout"), 1);
    assert_int_equal(sink_path_fd("/dev/stderr"), 2);
    assert_int_equal(sink_path_fd("/dev/fd/63"), 63);
    assert_int_equal(sink_path_fd("/proc/self/fd/7"), 7);
    assert_int_equal(sink_path_fd("/dev/fd/"), -1);
    assert_int_equal(sink_path_fd("/dev/fd/3x"), -1);
    assert_int_equal(sink_path_fd("/dev/null"), -1);
    assert_int_equal(sink_path_fd("out.json"), -1);
}

static void test_json_refuses_existing_file_unless_force(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "", want[400];
    struct sink *s = NULL;
    size_t len;
    char *buf;

    tdir_make(&d);
    tdir_file(&d, "out.ndjson", path, sizeof(path));
    write_file(path, "old\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\n"
                     "old\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\n"
                     "old\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\nold\n");
    assert_int_equal(sink_json_open(&s, path, false, err), -EEXIST);
    assert_null(s);
    snprintf(want, sizeof(want), "%s exists (use --force to overwrite)", path);
    assert_string_equal(err, want);
    write_json(path, 1, true); /* truncates */
    buf = read_all(path, &len);
    assert_int_equal(json_check_lines(buf, len, true), 1);
    free(buf);

    tdir_file(&d, "missing/out.ndjson", path, sizeof(path));
    assert_int_equal(sink_json_open(&s, path, false, err), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot create: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
    tdir_remove(&d);
}

static void test_json_escapes_odd_bytes_in_analyzer_strings(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct synth_conn c;
    struct run_fixture f;
    struct json_object *o, *v;
    char *buf;

    tdir_make(&d);
    tdir_file(&d, "out.ndjson", path, sizeof(path));
    run_fixture_init(&f);
    assert_int_equal(sink_json_open(&s, path, false, err), 0);
    synth_fill(&c, 1);
    strcpy(c.info.zeek_history, "a\"b\\c\x01/\xff");
    memset(c.info.zeek_conn_state, 'S', sizeof(c.info.zeek_conn_state)); /* unterminated */
    assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    buf = read_all(path, NULL);
    o = json_tokener_parse(buf);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "zeek_history", &v));
    assert_string_equal(json_object_get_string(v), "a\"b\\c\x01/\xc3\xbf"); /* \u00ff */
    assert_true(json_object_object_get_ex(o, "zeek_conn_state", &v));
    assert_string_equal(json_object_get_string(v), "SSSSSSSS");
    json_object_put(o);
    free(buf);
    tdir_remove(&d);
}

static void test_json_extreme_values_and_long_timeline_fit(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct synth_conn c;
    struct run_fixture f;
    enum { NEV = 20000 };
    struct tcb_event *ev = calloc(NEV, sizeof(*ev));
    struct tcb_anom *an = calloc(NEV, sizeof(*an));
    size_t len;
    char *buf;
    struct json_object *o, *v;

    assert_non_null(ev);
    assert_non_null(an);
    for (int i = 0; i < NEV; i++) {
        ev[i] = (struct tcb_event){UINT64_MAX, UINT64_MAX, 1, TCB_SYN_RECEIVED, TCB_FIN_WAIT_1,
                                   TCB_CAUSE_TIME_WAIT_EXPIRED};
        an[i] = (struct tcb_anom){UINT64_MAX, UINT64_MAX, 1, TCB_ANOM_SYNACK_ISN_CHANGED};
    }
    tdir_make(&d);
    tdir_file(&d, "out.ndjson", path, sizeof(path));
    run_fixture_init(&f);
    assert_int_equal(sink_json_open(&s, path, false, err), 0);
    synth_fill(&c, 1);
    c.info.id = UINT64_MAX;
    c.info.first_ns = c.info.last_ns = UINT64_MAX;
    memset(c.info.zeek_history, 0xff, sizeof(c.info.zeek_history) - 1);
    c.info.ip_version = 6;
    memset(c.info.client_ip, 0xff, 16);
    c.info.events = ev;
    c.info.event_count = NEV;
    c.info.anomalies = an;
    c.info.anomaly_count = NEV;
    assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    synth_fill(&c, 2);
    assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    buf = read_all(path, &len);
    assert_non_null(strstr(buf, "\"id\":18446744073709551615,"));
    o = json_tokener_parse(buf);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "transitions", &v));
    assert_int_equal(json_object_array_length(v), NEV);
    assert_true(json_object_object_get_ex(o, "client_ip", &v));
    assert_string_equal(json_object_get_string(v), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    json_object_put(o);
    free(buf);
    free(ev);
    free(an);
    tdir_remove(&d);
}

static void test_json_closed_pipe_on_stdout_stops_quietly_with_sink_epipe(void **state)
{
    int fds[2], saved;
    char err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct synth_conn c;
    int rc = 0;
    sigset_t pending;

    assert_int_equal(pipe(fds), 0);
    close(fds[0]); /* the reader went away (`| head -1` exited) */
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    close(fds[1]);
    assert_int_equal(sink_json_open(&s, "-", false, err), 0);
    /* SIGPIPE keeps its default action: only the sink's guard keeps us alive */
    for (uint64_t id = 1; id <= 2000 && rc == 0; id++) {
        synth_fill(&c, id);
        rc = s->ops->conn(s, &c.info, err);
    }
    assert_int_equal(rc, SINK_EPIPE);
    assert_int_equal(SINK_EPIPE, -EPIPE);
    assert_non_null(strstr(err, "stdout"));
    s->ops->destroy(s);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* NDJSON, Zeek log and CSV: a failed write or allocation ends cleanly with the reason. */
static void test_json_write_fault_is_reported(void **state)
{
    static int (*const open_fn[])(struct sink **, const char *, bool, char[TCBS_ERRLEN]) = {
        sink_json_open, sink_zeek_open, sink_csv_open};
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct run_fixture f;

    tdir_make(&d);
    tdir_file(&d, "out.txt", path, sizeof(path));
    run_fixture_init(&f);
    for (size_t k = 0; k < sizeof(open_fn) / sizeof(open_fn[0]); k++) {
        unlink(path);
        assert_int_equal(open_fn[k](&s, path, false, err), 0);
        feed(s, 5);
        sink_fault_countdown = 1; /* the flush at finish */
        assert_int_equal(s->ops->finish(s, &f.run, err), -EIO);
        sink_fault_countdown = 0;
        assert_non_null(strstr(err, "write failed"));
        assert_non_null(strstr(err, path));
        s->ops->destroy(s);

        /* and at every allocation of open */
        unlink(path);
        for (unsigned long n = 1; n <= 3; n++) {
            sink_fault_countdown = n;
            int rc = open_fn[k](&s, path, true, err);
            sink_fault_countdown = 0;
            if (rc == 0)
                s->ops->destroy(s);
            else
                assert_true(err[0] != '\0');
        }
    }
    tdir_remove(&d);
}

/* The schema document and the vocabularies in tcb.h say the same. */
static void test_json_schema_document_matches_columns_and_vocabulary(void **state)
{
    const char *path = getenv("TCBS_SCHEMA_JSON");
    struct json_object *doc, *props, *defs, *v;
    size_t k = 0;

    if (path == NULL)
        skip();
    doc = json_object_from_file(path);
    assert_non_null(doc);
    assert_true(json_object_object_get_ex(doc, "properties", &props));
    assert_true(json_object_object_get_ex(doc, "$defs", &defs));
    json_object_object_foreach(props, key, val)
    {
        (void)val;
        assert_true(k < NCOLS + 2);
        assert_string_equal(key, k < NCOLS ? conn_columns[k] : json_extra_keys[k - NCOLS]);
        k++;
    }
    assert_int_equal(k, NCOLS + 2);
    assert_true(json_object_object_get_ex(doc, "required", &v));
    assert_int_equal(json_object_array_length(v), NCOLS + 2);

    static const struct {
        const char *def;
        enum sink_voc voc;
    } vocs[] = {{"state", SINK_VOC_STATE},         {"cause", SINK_VOC_CAUSE},
                {"open_kind", SINK_VOC_OPEN_KIND}, {"ep_open", SINK_VOC_EP_OPEN},
                {"handshake", SINK_VOC_HANDSHAKE}, {"close_kind", SINK_VOC_CLOSE_KIND},
                {"anomaly", SINK_VOC_ANOMALY},     {"endpoint", SINK_VOC_ENDPOINT}};
    for (size_t i = 0; i < sizeof(vocs) / sizeof(vocs[0]); i++) {
        struct json_object *def, *en;
        if (!json_object_object_get_ex(defs, vocs[i].def, &def))
            fail_msg("$defs/%s missing", vocs[i].def);
        assert_true(json_object_object_get_ex(def, "enum", &en));
        assert_int_equal(json_object_array_length(en), sink_voc_count(vocs[i].voc));
        for (size_t j = 0; j < sink_voc_count(vocs[i].voc); j++)
            assert_string_equal(json_object_get_string(json_object_array_get_idx(en, j)),
                                sink_voc_word(vocs[i].voc, j));
    }
    json_object_put(doc);
}

/* ------------------------------------------------------------------------
 * Both sinks through the fan-out: same values.
 */

static void test_sqlite_and_json_agree_on_every_value(void **state)
{
    struct tdir d;
    char dbp[300], jsp[300];
    struct sink_set set = {0};
    struct tcb_output out;
    struct run_fixture f;
    sqlite3 *db;
    sqlite3_stmt *st;
    char *buf, *line;
    size_t len;
    uint64_t rows = 0;

    tdir_make(&d);
    tdir_file(&d, "out.db", dbp, sizeof(dbp));
    tdir_file(&d, "out.ndjson", jsp, sizeof(jsp));
    run_fixture_init(&f);
    assert_int_equal(sink_sqlite_open(&set.sinks[0], dbp, false, set.err), 0);
    assert_int_equal(sink_json_open(&set.sinks[1], jsp, false, set.err), 0);
    set.count = 2;
    out = sink_set_output(&set);
    for (uint64_t id = 1; id <= NCONN; id++) {
        struct synth_conn c;
        synth_fill(&c, id);
        assert_int_equal(out.conn(out.ctx, &c.info), 0);
    }
    assert_int_equal(sink_set_finish(&set, &f.run), 0);
    sink_set_destroy(&set);
    assert_int_equal(set.count, 0);

    db = db_open(dbp);
    buf = read_all(jsp, &len);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT * FROM connections ORDER BY id", -1, &st,
                                        NULL),
                     SQLITE_OK);
    line = buf;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char *nl = strchr(line, '\n');
        struct json_object *o;
        assert_non_null(nl);
        *nl = '\0';
        o = json_tokener_parse(line);
        assert_non_null(o);
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *name = sqlite3_column_name(st, i);
            struct json_object *v;
            assert_true(json_object_object_get_ex(o, name, &v));
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                assert_null(v);
                break;
            case SQLITE_INTEGER:
                assert_true(json_object_is_type(v, json_type_int));
                assert_int_equal(json_object_get_int64(v), sqlite3_column_int64(st, i));
                break;
            case SQLITE_TEXT:
                assert_true(json_object_is_type(v, json_type_string));
                assert_string_equal(json_object_get_string(v), sqlite3_column_text(st, i));
                break;
            default:
                fail_msg("column %s has an unexpected type", name);
            }
        }
        /* transitions too */
        {
            sqlite3_stmt *t;
            struct json_object *arr;
            size_t n = 0;
            assert_true(json_object_object_get_ex(o, "transitions", &arr));
            assert_int_equal(sqlite3_prepare_v2(db,
                                                "SELECT ts_ns, endpoint, from_state, to_state, "
                                                "cause, frame FROM transitions WHERE conn_id = ? "
                                                "ORDER BY seq",
                                                -1, &t, NULL),
                             SQLITE_OK);
            sqlite3_bind_int64(t, 1, sqlite3_column_int64(st, 0));
            while (sqlite3_step(t) == SQLITE_ROW) {
                struct json_object *e = json_object_array_get_idx(arr, n++), *x;
                static const char *const keys[] = {"ts_ns",    "endpoint", "from_state",
                                                   "to_state", "cause",    "frame"};
                for (int k = 0; k < 6; k++) {
                    assert_true(json_object_object_get_ex(e, keys[k], &x));
                    if (sqlite3_column_type(t, k) == SQLITE_NULL)
                        assert_null(x);
                    else
                        assert_string_equal(json_object_get_string(x), sqlite3_column_text(t, k));
                }
            }
            assert_int_equal(n, json_object_array_length(arr));
            sqlite3_finalize(t);
        }
        json_object_put(o);
        line = nl + 1;
        rows++;
    }
    assert_int_equal(rows, NCONN);
    assert_int_equal(*line, '\0');
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(buf);
    tdir_remove(&d);
}

/* ------------------------------------------------------------------------
 * Fan-out errors.
 */

struct fake_sink {
    struct sink base;
    int conn_rc, finish_rc;
    int conns, finishes;
    bool destroyed;
};

static int fake_conn(struct sink *s, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct fake_sink *f = (struct fake_sink *)s;
    f->conns++;
    if (f->conn_rc)
        snprintf(err, TCBS_ERRLEN, "fake conn failed");
    return f->conn_rc;
}

static int fake_finish(struct sink *s, const struct sink_run_info *r, char err[TCBS_ERRLEN])
{
    struct fake_sink *f = (struct fake_sink *)s;
    f->finishes++;
    if (f->finish_rc)
        snprintf(err, TCBS_ERRLEN, "fake finish failed %d", f->finish_rc);
    return f->finish_rc;
}

static void fake_destroy(struct sink *s)
{
    ((struct fake_sink *)s)->destroyed = true;
}

static const struct sink_ops fake_ops = {"fake", fake_conn, fake_finish, fake_destroy};

static void test_set_stops_conn_at_first_error_but_finishes_every_sink(void **state)
{
    struct fake_sink a = {{&fake_ops}, 0, 0, 0, 0, false};
    struct fake_sink b = {{&fake_ops}, SINK_EPIPE, -EIO, 0, 0, false};
    struct fake_sink c = {{&fake_ops}, 0, -ENOSPC, 0, 0, false};
    struct sink_set set = {{&a.base, &b.base, &c.base}, 3, ""};
    struct tcb_output out = sink_set_output(&set);
    struct synth_conn sc;
    struct run_fixture f;

    run_fixture_init(&f);
    synth_fill(&sc, 1);
    assert_int_equal(out.conn(out.ctx, &sc.info), SINK_EPIPE);
    assert_string_equal(set.err, "fake conn failed");
    assert_int_equal(a.conns, 1);
    assert_int_equal(b.conns, 1);
    assert_int_equal(c.conns, 0);
    assert_int_equal(sink_set_finish(&set, &f.run), -EIO);
    assert_string_equal(set.err, "fake finish failed -5");
    assert_int_equal(a.finishes + b.finishes + c.finishes, 3);
    sink_set_destroy(&set);
    assert_true(a.destroyed && b.destroyed && c.destroyed);
    assert_int_equal(set.count, 0);
}

static void test_ip_str_formats_v4_and_v6(void **state)
{
    uint8_t a[16] = {192, 0, 2, 33};
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    char buf[64];

    assert_string_equal(sink_ip_str(4, a, buf, sizeof(buf)), "192.0.2.33");
    assert_string_equal(sink_ip_str(6, b, buf, sizeof(buf)), "2001:db8::1");
}

/* ------------------------------------------------------------------------
 * Summary.
 */

static char *run_summary(bool color, bool interrupted, uint64_t ncomplete, uint64_t nother)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    struct sink *s;
    char err[TCBS_ERRLEN] = "";
    struct run_fixture f;
    struct synth_conn c;

    assert_non_null(mem);
    run_fixture_init(&f);
    f.run.interrupted = interrupted;
    s = sink_summary_new(mem, color);
    assert_non_null(s);
    /* complete handshakes with SYN->ACK = k ms for k = 1..ncomplete (shuffled order) */
    for (uint64_t i = 0; i < ncomplete; i++) {
        uint64_t k = (i * 37) % ncomplete + 1;
        synth_fill(&c, 1); /* complete, IPv4, active_passive... */
        c.info.id = i + 1;
        c.info.open_kind = TCB_OPEN_ACTIVE_PASSIVE;
        c.info.close_kind = TCB_CLOSE_ACTIVE_CLIENT;
        c.info.client_final_state = TCB_TIME_WAIT;
        c.info.server_final_state = TCB_CLOSED;
        c.info.ack_ns = c.info.syn_ns + k * 1000000u;
        c.info.anomaly_count = 0;
        assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    }
    for (uint64_t i = 0; i < nother; i++) {
        synth_fill(&c, 4); /* handshake not seen */
        c.info.open_kind = TCB_OPEN_MIDSTREAM;
        c.info.close_kind = TCB_CLOSE_RESET_SERVER;
        c.info.client_final_state = TCB_CLOSED;
        c.info.server_final_state = TCB_CLOSED;
        c.info.anomaly_count = 1;
        c.an[0].kind = TCB_ANOM_RST_OUT_OF_WINDOW;
        assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    }
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    fclose(mem);
    return text;
}

/* The line that starts (after spaces) with label has value `want` after it. */
static void assert_line(const char *text, const char *label, const char *want)
{
    const char *p = text;
    size_t ll = strlen(label);

    for (;;) {
        const char *nl = strchr(p, '\n');
        const char *q = p;
        while (*q == ' ')
            q++;
        if (strncmp(q, label, ll) == 0 && q[ll] == ' ') {
            q += ll;
            while (*q == ' ')
                q++;
            if (strncmp(q, want, strlen(want)) != 0)
                fail_msg("line '%s': got '%.*s', want '%s'", label,
                         (int)(nl ? nl - q : (ptrdiff_t)strlen(q)), q, want);
            return;
        }
        if (nl == NULL)
            fail_msg("no line '%s' in:\n%s", label, text);
        p = nl + 1;
    }
}

/* The text of one section: from its title line to the next blank line. */
static char *section(const char *text, const char *title)
{
    char key[160];
    snprintf(key, sizeof(key), "\n%s\n", title);
    const char *p = strstr(text, key);
    if (p == NULL)
        fail_msg("no section '%s' in:\n%s", title, text);
    p += strlen(key);
    const char *end = strstr(p, "\n\n");
    return strndup(p, end ? (size_t)(end - p + 1) : strlen(p));
}

static void test_summary_reports_counts_and_latency_percentiles(void **state)
{
    char *t = run_summary(false, false, 200, 100);

    assert_null(strstr(t, "interrupted"));
    assert_null(strchr(t, '\033'));
    assert_non_null(strstr(t, "  300 connections from 1,300,000 frames in "));
    assert_line(t, "frames read", "1,300,000");
    assert_line(t, "frames matched (filter)", "1,234,567");
    assert_line(t, "bytes captured", "987,654,321");
    assert_line(t, "IPv4 packets", "1,000,000");
    assert_line(t, "TCP segments", "1,100,000");
    assert_line(t, "EN10MB", "1,000,000");
    assert_line(t, "LINUX_SLL2", "234,567");
    assert_line(t, "not_tcp", "100,000");
    assert_line(t, "tcp_truncated", "34,567");
    assert_null(strstr(t, "link_unsupported")); /* zero counters are left out */
    assert_line(t, "active_passive", "200   66.7%");
    assert_line(t, "midstream", "100   33.3%");
    assert_line(t, "complete", "200");
    assert_line(t, "not_seen", "100");
    assert_line(t, "reset_server", "100");
    assert_line(t, "TIME-WAIT / CLOSED", "200");
    assert_line(t, "CLOSED / CLOSED", "100");
    assert_line(t, "rst_out_of_window", "100");
    /* nearest rank over 1..200 ms */
    assert_non_null(strstr(t, "Handshake latency (SYN to ACK, 200 complete handshakes)\n"
                              "  p50 100.0 ms   p90 180.0 ms   p99 198.0 ms   max 200.0 ms\n"));
    char *c = section(t, "Connections");
    assert_line(c, "total", "300");
    free(c);
    /* 192.0.2.2:443 got the 200 handshakes, 192.0.2.5:80 the 100 others */
    c = section(t, "Top servers by connections");
    assert_line(c, "192.0.2.2:443", "200          200   198.0 ms   200.0 ms");
    assert_line(c, "192.0.2.5:80", "100            0          -          -");
    free(c);
    c = section(t, "Top servers by p99 handshake time (servers with 5 or more handshakes)");
    assert_line(c, "192.0.2.2:443", "200          200   198.0 ms");
    assert_null(strstr(c, "192.0.2.5"));
    free(c);
    free(t);
}

static void test_summary_small_latency_set_and_interrupted_banner_in_colour(void **state)
{
    char *t = run_summary(true, true, 3, 0);

    assert_non_null(strstr(t, "interrupted"));
    assert_true(strstr(t, "interrupted") < strstr(t, "Input"));
    assert_non_null(strchr(t, '\033'));
    assert_non_null(strstr(t, "  p50 2.00 ms   p90 3.00 ms   p99 3.00 ms   max 3.00 ms\n"));
    /* 3 handshakes: below the minimum of the p99 ranking */
    assert_non_null(strstr(t, "handshakes)\033[0m\n  (none)\n"));
    free(t);

    t = run_summary(false, false, 0, 2);
    assert_non_null(strstr(t, "Handshake latency (SYN to ACK, 0 complete handshakes)\n  (none)"));
    free(t);
}

/* Histogram labels end in one column whatever the unit's bytes ("µs" is 2 bytes, 1 column). */
static void test_summary_histogram_bars_aligned_with_multibyte_units(void **state)
{
    static const uint64_t ns[] = {50000, 200000, 2000000, 20000000}; /* 50 µs .. 20 ms */
    char *text = NULL, err[TCBS_ERRLEN] = "";
    size_t len = 0, col = 0, rows = 0;
    FILE *mem = open_memstream(&text, &len);
    struct sink *s = sink_summary_new(mem, false);
    struct run_fixture f;
    struct synth_conn c;

    (void)state;
    run_fixture_init(&f);
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        synth_fill(&c, 1);
        c.info.ack_ns = c.info.syn_ns + ns[k];
        c.info.anomaly_count = 0;
        assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    }
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    fclose(mem);
    /* every histogram line: the display column of its '|' */
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        const char *nl = strchr(line, '\n'), *bar = strstr(line, " |");
        if (bar == NULL || bar > nl)
            continue;
        size_t w = 0;
        for (const char *q = line; q < bar; q++)
            w += ((unsigned char)*q & 0xC0) != 0x80;
        if (rows++ == 0)
            col = w;
        assert_int_equal(w, col);
    }
    assert_int_equal(rows, 6); /* 30 µs - 100 µs ... 10.0 ms - 30.0 ms */
    assert_non_null(strstr(text, "     30 µs - 100 µs |"));
    assert_non_null(strstr(text, "  10.0 ms - 30.0 ms |"));
    free(text);
}

/* ------------------------------------------------------------------------
 * Derived fields: Community ID, RFC 3339 times, service names.
 */

/*
 * The TCP rows of the Community ID spec's baseline tables
 * (community-id-spec/baseline/README.md, default seed and seed=1), both
 * directions; the IPv6 flow is samples/ipv6-basic.pcap as tshark 4.0
 * computes it (`--enable-protocol communityid -e communityid`).
 */
static void test_community_id_matches_published_vectors(void **state)
{
    uint8_t a[16] = {1, 2, 3, 4}, b[16] = {5, 6, 7, 8};
    char buf[SINK_COMMUNITY_ID_LEN];

    (void)state;
    assert_string_equal(sink_community_id(0, 4, a, 1122, b, 3344, buf),
                        "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    assert_string_equal(sink_community_id(0, 4, b, 3344, a, 1122, buf),
                        "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    assert_string_equal(sink_community_id(1, 4, a, 1122, b, 3344, buf),
                        "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
    assert_string_equal(sink_community_id(1, 4, b, 3344, a, 1122, buf),
                        "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");

    uint8_t c6[16], s6[16];
    assert_int_equal(inet_pton(AF_INET6, "fd00:231:1::2", c6), 1);
    assert_int_equal(inet_pton(AF_INET6, "fd00:231:2::2", s6), 1);
    assert_string_equal(sink_community_id(0, 6, c6, 40002, s6, 8080, buf),
                        "1:9sTb32fQ4im4/8z/ya2zog4R/zk=");
    assert_string_equal(sink_community_id(0, 6, s6, 8080, c6, 40002, buf),
                        "1:9sTb32fQ4im4/8z/ya2zog4R/zk=");
    /* the ports order the flow when the addresses are equal */
    char x[SINK_COMMUNITY_ID_LEN], y[SINK_COMMUNITY_ID_LEN];
    sink_community_id(0, 4, a, 1122, a, 3344, x);
    sink_community_id(0, 4, a, 3344, a, 1122, y);
    assert_string_equal(x, y);
    sink_community_id(0, 4, a, 1122, a, 3345, y);
    assert_string_not_equal(x, y);
}

/* Expected strings from Python's datetime (UTC), not from our formatter. */
static void test_rfc3339_times_in_utc_with_nanoseconds(void **state)
{
    char buf[SINK_TIME_LEN];

    (void)state;
    assert_string_equal(sink_fmt_rfc3339(0, buf), "1970-01-01T00:00:00.000000000Z");
    assert_string_equal(sink_fmt_rfc3339(1764064800123456789ULL, buf),
                        "2025-11-25T10:00:00.123456789Z");
    assert_string_equal(sink_fmt_rfc3339(4102444799999999999ULL, buf),
                        "2099-12-31T23:59:59.999999999Z");
}

/* Names as IANA registers them (and Debian's /etc/services lists them). */
static void test_service_names_of_common_ports(void **state)
{
    (void)state;
    assert_string_equal(sink_service_name(22), "ssh");
    assert_string_equal(sink_service_name(25), "smtp");
    assert_string_equal(sink_service_name(53), "domain");
    assert_string_equal(sink_service_name(80), "http");
    assert_string_equal(sink_service_name(443), "https");
    assert_string_equal(sink_service_name(3306), "mysql");
    assert_string_equal(sink_service_name(5432), "postgresql");
    assert_null(sink_service_name(0));
    assert_null(sink_service_name(40000));
    assert_null(sink_service_name(65535));
}

/* CSV: a field with a comma or quote is quoted, its quotes doubled; CRLF ends rows. */
static void test_csv_quotes_fields_as_rfc4180(void **state)
{
    struct tdir d;
    char path[300], err[TCBS_ERRLEN] = "";
    struct sink *s;
    struct synth_conn c;
    struct run_fixture f;

    (void)state;
    tdir_make(&d);
    tdir_file(&d, "out.csv", path, sizeof(path));
    run_fixture_init(&f);
    assert_int_equal(sink_csv_open(&s, path, false, err), 0);
    synth_fill(&c, 1);
    strcpy(c.info.zeek_history, "S,\"h\"");
    assert_int_equal(s->ops->conn(s, &c.info, err), 0);
    assert_int_equal(s->ops->finish(s, &f.run, err), 0);
    s->ops->destroy(s);
    char *text = read_all(path, NULL);
    assert_true(strncmp(text, "id,client_ip,", 13) == 0);
    char *row = strstr(text, "\r\n");
    assert_non_null(row);
    assert_non_null(strstr(row, ",\"S,\"\"h\"\"\","));
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_int_equal(text[strlen(text) - 2], '\r');
    /* an existing file is refused without force, as --json */
    assert_int_equal(sink_csv_open(&s, path, false, err), -EEXIST);
    assert_non_null(strstr(err, "--force"));
    free(text);
    tdir_remove(&d);
}

/*
 * Zeek's originator from the history: upper case is the originator's letter
 * in the roles holding at that point, and '^' swaps the roles (Zeek's
 * Connection::FlipRoles); our client sent the SYN, the server the SYN/ACK.
 */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_writes_every_column_with_nulls_where_unseen),
        cmocka_unit_test(test_sqlite_transitions_and_anomalies_keep_order_and_null_frames),
        cmocka_unit_test(test_sqlite_check_constraints_reject_words_outside_the_vocabulary),
        cmocka_unit_test(test_sqlite_views_compute_latency_and_timeline),
        cmocka_unit_test(test_sqlite_has_user_version_and_indexes_used_by_queries),
        cmocka_unit_test(test_sqlite_run_and_captures_tables_describe_the_run),
        cmocka_unit_test(test_sqlite_interrupted_run_keeps_partial_results),
        cmocka_unit_test(test_sqlite_refuses_existing_target_without_force),
        cmocka_unit_test(test_sqlite_force_overwrites_existing_target),
        cmocka_unit_test(test_sqlite_destroy_without_finish_keeps_old_target_and_no_temp),
        cmocka_unit_test(test_sqlite_unwritable_directory_is_one_line_error_naming_path),
        cmocka_unit_test(test_sqlite_refuses_non_regular_targets_even_with_force),
        cmocka_unit_test(test_sqlite_symlink_replaces_the_file_it_points_to),
        cmocka_unit_test(test_sqlite_target_turned_fifo_is_not_replaced_and_temp_kept),
        cmocka_unit_test(test_sqlite_target_appearing_without_force_is_not_replaced),
        cmocka_unit_test(test_sqlite_error_mid_run_carries_sqlite_message),
        cmocka_unit_test(test_sqlite_error_from_sqlite_names_its_message),
        cmocka_unit_test(test_sqlite_fault_at_every_call_ends_cleanly),
        cmocka_unit_test(test_json_lines_parse_with_column_keys_and_nulls),
        cmocka_unit_test(test_json_refuses_existing_file_unless_force),
        cmocka_unit_test(test_json_writes_fifo_and_device_in_place_without_force),
        cmocka_unit_test(test_path_fd_names),
        cmocka_unit_test(test_json_escapes_odd_bytes_in_analyzer_strings),
        cmocka_unit_test(test_json_extreme_values_and_long_timeline_fit),
        cmocka_unit_test(test_json_closed_pipe_on_stdout_stops_quietly_with_sink_epipe),
        cmocka_unit_test(test_json_write_fault_is_reported),
        cmocka_unit_test(test_json_schema_document_matches_columns_and_vocabulary),
        cmocka_unit_test(test_sqlite_and_json_agree_on_every_value),
        cmocka_unit_test(test_community_id_matches_published_vectors),
        cmocka_unit_test(test_rfc3339_times_in_utc_with_nanoseconds),
        cmocka_unit_test(test_service_names_of_common_ports),
        cmocka_unit_test(test_csv_quotes_fields_as_rfc4180),
        cmocka_unit_test(test_set_stops_conn_at_first_error_but_finishes_every_sink),
        cmocka_unit_test(test_ip_str_formats_v4_and_v6),
        cmocka_unit_test(test_summary_reports_counts_and_latency_percentiles),
        cmocka_unit_test(test_summary_small_latency_set_and_interrupted_banner_in_colour),
        cmocka_unit_test(test_summary_histogram_bars_aligned_with_multibyte_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
