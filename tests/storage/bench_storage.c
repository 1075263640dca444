/*
 * bench_storage.c - throughput of the sinks on N synthetic connections
 * (synth.c: 2.5 transitions and 1 anomaly per connection on average).
 *
 *   SQLite: rows/s, rows = connections + transitions (+ anomalies shown),
 *           once for the insert loop alone and once including finish()
 *           (index build, commit, rename).
 *   NDJSON: MB/s of the sink's own writer, and of two json-c alternatives
 *           that build the same line as a json_object tree (fresh per
 *           connection, and with the top-level object reused), serialised
 *           with json_object_to_json_string_ext(PLAIN | NOSLASHESCAPE).
 *
 * Usage: bench_storage [N [sqlite|json|all]] (default 200000 all).  Files go
 * to $TMPDIR.
 *
 * Corpus mode: bench_storage --pcap FILE [RUNS] first runs the capture
 * through the decoder and the engine (single-threaded, untimed) and keeps
 * a copy of every finished connection, then times the SQLite sink and the
 * NDJSON sink on exactly those connections RUNS times (default 5) and
 * prints each run and the medians: what the sinks cost on a real corpus
 * (e.g. the `small` corpus of the shared benchmark), without the reading
 * and the engine around them.  bench/run.sh calls it.
 */
#include <json-c/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "sink_int.h"
#include "synth.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static struct json_object *jval(const struct sink_val *v)
{
    if (v->type == SINK_V_INT)
        return json_object_new_int64((int64_t)v->u);
    if (v->type == SINK_V_TEXT)
        return json_object_new_string(v->s);
    return NULL;
}

static struct json_object *jframe(uint64_t f)
{
    return f ? json_object_new_int64((int64_t)f) : NULL;
}

static void add_arrays(struct json_object *o, const struct tcb_conn_info *c)
{
    struct json_object *tr = json_object_new_array_ext((int)c->event_count);
    struct json_object *an = json_object_new_array_ext((int)c->anomaly_count);

    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "ts_ns", json_object_new_int64((int64_t)e->ts_ns));
        json_object_object_add(t, "endpoint", json_object_new_string(tcb_endpoint_name(e->endpoint)));
        json_object_object_add(t, "from_state", json_object_new_string(tcb_state_name(e->from)));
        json_object_object_add(t, "to_state", json_object_new_string(tcb_state_name(e->to)));
        json_object_object_add(t, "cause", json_object_new_string(tcb_cause_name(e->cause)));
        json_object_object_add(t, "frame", jframe(e->frame));
        json_object_array_add(tr, t);
    }
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        const struct tcb_anom *a = &c->anomalies[i];
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "ts_ns", json_object_new_int64((int64_t)a->ts_ns));
        json_object_object_add(t, "endpoint", json_object_new_string(tcb_endpoint_name(a->endpoint)));
        json_object_object_add(t, "kind", json_object_new_string(tcb_anomaly_name(a->kind)));
        json_object_object_add(t, "frame", jframe(a->frame));
        json_object_array_add(an, t);
    }
    json_object_object_add(o, "transitions", tr);
    json_object_object_add(o, "anomalies", an);
}

/* json-c tree: a fresh object per connection. */
static double bench_jsonc_fresh(const char *path, uint64_t n, long long *bytes)
{
    FILE *f = fopen(path, "w");
    struct sink_conn_row row;
    struct synth_conn c;
    double t0 = now();

    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        sink_conn_row_fill(&row, &c.info);
        struct json_object *o = json_object_new_object();
        for (int i = 0; i < SINK_COL_COUNT; i++)
            json_object_object_add(o, sink_conn_cols[i].name, jval(&row.v[i]));
        add_arrays(o, &c.info);
        size_t len;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        fwrite(s, 1, len, f);
        fputc('\n', f);
        json_object_put(o);
    }
    fclose(f);
    *bytes = file_size(path);
    return now() - t0;
}

/* json-c tree: the top-level object and its scalar children reused. */
static double bench_jsonc_reuse(const char *path, uint64_t n, long long *bytes)
{
    FILE *f = fopen(path, "w");
    struct sink_conn_row row;
    struct synth_conn c;
    struct json_object *o = json_object_new_object();
    struct json_object *kid[SINK_COL_COUNT] = {0};
    double t0 = now();

    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        sink_conn_row_fill(&row, &c.info);
        for (int i = 0; i < SINK_COL_COUNT; i++) {
            const struct sink_val *v = &row.v[i];
            /* reuse the child when its type stays, else replace it */
            if (v->type == SINK_V_INT && kid[i] && json_object_is_type(kid[i], json_type_int)) {
                json_object_set_int64(kid[i], (int64_t)v->u);
            } else if (v->type == SINK_V_TEXT && kid[i]) {
                json_object_set_string(kid[i], v->s);
            } else {
                kid[i] = jval(v);
                json_object_object_add(o, sink_conn_cols[i].name, kid[i]);
            }
        }
        add_arrays(o, &c.info);
        size_t len;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        fwrite(s, 1, len, f);
        fputc('\n', f);
    }
    json_object_put(o);
    fclose(f);
    *bytes = file_size(path);
    return now() - t0;
}

/* ------------------------------------------------------------------------
 * Corpus mode.
 */

struct corpus {
    struct tcb_conn_info *conns; /* events/anomalies point into copies owned here */
    size_t n, cap;
    uint64_t transitions, anomalies;
};

/* A malloc'd copy of n bytes; NULL when n is 0 or memory ran out. */
static void *dup_bytes(const void *p, size_t n)
{
    void *d = n ? malloc(n) : NULL;
    if (d != NULL)
        memcpy(d, p, n);
    return d;
}

static int keep_conn(void *ctx, const struct tcb_conn_info *c)
{
    struct corpus *k = ctx;
    struct tcb_conn_info *d;

    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4096;
        void *p = realloc(k->conns, cap * sizeof(*k->conns));
        if (p == NULL)
            return -ENOMEM;
        k->conns = p;
        k->cap = cap;
    }
    d = &k->conns[k->n];
    *d = *c;
    d->events = dup_bytes(c->events, c->event_count * sizeof(*c->events));
    d->anomalies = dup_bytes(c->anomalies, c->anomaly_count * sizeof(*c->anomalies));
    if ((c->event_count && d->events == NULL) || (c->anomaly_count && d->anomalies == NULL)) {
        free((void *)d->events);
        free((void *)d->anomalies);
        return -ENOMEM;
    }
    k->n++;
    k->transitions += c->event_count;
    k->anomalies += c->anomaly_count;
    return 0;
}

/* Decode and analyse the whole capture into *k. */
static int load_corpus(const char *pcap, struct corpus *k, char err[TCBS_ERRLEN])
{
    const char *files[1] = {pcap};
    struct tcb_output out = {.ctx = k, .conn = keep_conn};
    struct tcb_config cfg;
    struct dis_reader *rd = NULL;
    struct tcb_table *t = NULL;
    struct dis_frame f;
    struct dis_pkt p;
    int rc;

    tcb_config_default(&cfg);
    cfg.seed_set = true;
    if ((rc = dis_reader_open(&rd, files, 1, NULL, NULL, NULL, err)) != 0)
        return rc;
    if ((rc = tcb_table_new(&t, &cfg, &out, err)) != 0) {
        dis_reader_close(rd);
        return rc;
    }
    while ((rc = dis_reader_next(rd, &f, err)) > 0) {
        if (dis_decode(f.linktype, f.data, f.caplen, f.wirelen, false, &p) == DIS_SKIP_NONE) {
            p.ts_ns = f.ts_ns; /* as cli/pipeline.c: the decoder leaves time and number */
            p.frame = f.frame;
            p.payload = NULL;
            rc = tcb_packet(t, &p);
        } else {
            rc = tcb_advance(t, f.ts_ns);
        }
        if (rc != 0)
            break;
    }
    if (rc == 0)
        rc = tcb_finish(t);
    else if (rc > 0)
        rc = -EIO;
    if (rc != 0 && err[0] == '\0')
        snprintf(err, TCBS_ERRLEN, "%s: analysis failed (%d)", pcap, rc);
    tcb_table_free(t);
    dis_reader_close(rd);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One timed pass of a sink over the corpus: *feed = conn() calls, *all = incl. finish(). */
static int time_sink(bool sqlite, const char *path, const struct corpus *k, double *feed,
                     double *all, char err[TCBS_ERRLEN])
{
    struct sink_run_info run = {.version = "bench", .command_line = "bench"};
    struct sink *s;
    double t0, t1;
    int rc;

    unlink(path);
    rc = sqlite ? sink_sqlite_open(&s, path, true, err) : sink_json_open(&s, path, true, err);
    if (rc != 0)
        return rc;
    t0 = now();
    for (size_t i = 0; i < k->n && rc == 0; i++)
        rc = s->ops->conn(s, &k->conns[i], err);
    t1 = now();
    if (rc == 0)
        rc = s->ops->finish(s, &run, err);
    *feed = t1 - t0;
    *all = now() - t0;
    s->ops->destroy(s);
    return rc;
}

static int corpus_main(const char *pcap, int runs)
{
    char err[TCBS_ERRLEN] = "";
    const char *tmp = getenv("TMPDIR");
    char dir[256], db[300], js[300];
    struct corpus k = {0};
    double feed[64], all[64], jall[64], unused;
    double rows;
    long long dbsize = 0, jsize = 0;
    int rc;

    if (runs < 1 || runs > 64) {
        fprintf(stderr, "bench_storage: RUNS must be 1..64\n");
        return 2;
    }
    if ((rc = load_corpus(pcap, &k, err)) != 0) {
        fprintf(stderr, "bench_storage: %s\n", err);
        return 1;
    }
    rows = (double)(k.n + k.transitions);
    printf("corpus %s: %zu connections, %llu transitions, %llu anomalies\n", pcap, k.n,
           (unsigned long long)k.transitions, (unsigned long long)k.anomalies);
    snprintf(dir, sizeof(dir), "%s/tcbs-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    snprintf(js, sizeof(js), "%s/bench.ndjson", dir);
    for (int r = 0; r < runs; r++) {
        if (time_sink(true, db, &k, &feed[r], &all[r], err) != 0 ||
            time_sink(false, js, &k, &unused, &jall[r], err) != 0) {
            fprintf(stderr, "bench_storage: %s\n", err);
            rc = 1;
            break;
        }
        dbsize = file_size(db);
        jsize = file_size(js);
        printf("run %d: sqlite inserts %.3f s, with finish %.3f s (%.2f M rows/s); "
               "ndjson %.3f s (%.0f MB/s)\n",
               r + 1, feed[r], all[r], rows / all[r] / 1e6, jall[r], (double)jsize / 1e6 / jall[r]);
    }
    if (rc == 0) {
        double f = median(feed, runs), a = median(all, runs), j = median(jall, runs);
        printf("median of %d: sqlite %.0f rows (connections + transitions) in %.3f s = %.2f M "
               "rows/s (inserts alone %.3f s = %.2f M rows/s; database %.1f MB)\n",
               runs, rows, a, rows / a / 1e6, f, rows / f / 1e6, (double)dbsize / 1e6);
        printf("median of %d: ndjson %.1f MB in %.3f s = %.0f MB/s\n", runs, (double)jsize / 1e6,
               j, (double)jsize / 1e6 / j);
    }
    unlink(db);
    unlink(js);
    rmdir(dir);
    for (size_t i = 0; i < k.n; i++) {
        free((void *)k.conns[i].events);
        free((void *)k.conns[i].anomalies);
    }
    free(k.conns);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--pcap") == 0)
        return corpus_main(argv[2], argc > 3 ? atoi(argv[3]) : 5);

    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    const char *only = argc > 2 ? argv[2] : "all";
    const char *tmp = getenv("TMPDIR");
    char dir[256], db[300], js[300], jc[300];
    char err[TCBS_ERRLEN] = "";
    struct sink_run_info run = {.version = "bench", .command_line = "bench"};
    struct sink *s;
    struct synth_conn c;
    uint64_t rows = 0, anoms = 0;
    double t0, t1, t2, c0, c1, c2;
    long long bytes;

    snprintf(dir, sizeof(dir), "%s/tcbs-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    snprintf(js, sizeof(js), "%s/bench.ndjson", dir);
    snprintf(jc, sizeof(jc), "%s/jsonc.ndjson", dir);

    if (strcmp(only, "json") == 0)
        goto json;
    if (sink_sqlite_open(&s, db, true, err) != 0)
        goto fail;
    c0 = cpu();
    t0 = now();
    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        rows += 1 + c.info.event_count;
        anoms += c.info.anomaly_count;
        if (s->ops->conn(s, &c.info, err) != 0)
            goto fail;
    }
    t1 = now();
    c1 = cpu();
    if (s->ops->finish(s, &run, err) != 0)
        goto fail;
    t2 = now();
    c2 = cpu();
    s->ops->destroy(s);
    printf("sqlite: %llu connections + transitions rows (+%llu anomalies): inserts %.0f rows/s, "
           "with finish %.0f rows/s (%.2f s; file %.1f MB)\n",
           (unsigned long long)rows, (unsigned long long)anoms, (double)rows / (t1 - t0),
           (double)rows / (t2 - t0), t2 - t0, (double)file_size(db) / 1e6);
    printf("sqlite (CPU time of this process): inserts %.0f rows/s, with finish %.0f rows/s\n",
           (double)rows / (c1 - c0), (double)rows / (c2 - c0));

    if (strcmp(only, "sqlite") == 0)
        goto done;
json:
    if (sink_json_open(&s, js, true, err) != 0)
        goto fail;
    c0 = cpu();
    t0 = now();
    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        if (s->ops->conn(s, &c.info, err) != 0)
            goto fail;
    }
    if (s->ops->finish(s, &run, err) != 0)
        goto fail;
    t1 = now();
    c1 = cpu();
    s->ops->destroy(s);
    bytes = file_size(js);
    printf("ndjson (sink writer): %.1f MB in %.3f s = %.0f MB/s (CPU time: %.0f MB/s)\n",
           (double)bytes / 1e6, t1 - t0, (double)bytes / 1e6 / (t1 - t0),
           (double)bytes / 1e6 / (c1 - c0));

    t0 = bench_jsonc_fresh(jc, n, &bytes);
    printf("ndjson (json-c tree per connection): %.1f MB in %.3f s = %.0f MB/s\n",
           (double)bytes / 1e6, t0, (double)bytes / 1e6 / t0);
    t0 = bench_jsonc_reuse(jc, n, &bytes);
    printf("ndjson (json-c tree reused): %.1f MB in %.3f s = %.0f MB/s\n", (double)bytes / 1e6,
           t0, (double)bytes / 1e6 / t0);

done:
    unlink(db);
    unlink(js);
    unlink(jc);
    rmdir(dir);
    return 0;
fail:
    fprintf(stderr, "bench_storage: %s\n", err);
    return 1;
}
