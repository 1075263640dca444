/*
 * fuzz_pipeline.c - libFuzzer target for the whole analysis pipeline on one
 * capture file: reader -> decoder -> statistics -> engine -> every sink
 * (NDJSON and SQLite to temporary files, the terminal summary to /dev/null),
 * the way `tcbscope analyze --db F --json F` runs it (cli/analyze.c's loop).
 *
 * Input: a whole capture file (classic pcap, pcapng or anything), written to
 * a memfd and read by name.  Half of the runs also verify checksums (the
 * input's last byte decides) and cap the engine at a few live connections,
 * so eviction runs on real traffic.
 * Checks: every frame is counted once (TCP segments plus skips = frames);
 * the NDJSON file has one line per connection the engine made; the database
 * reads back with the same frame, segment and connection counts.  A failed
 * check is __builtin_trap(); crashes, leaks and timeouts are libFuzzer's.
 * Leaves the reader's own invariants to fuzz_reader and single frames to
 * fuzz_dissect.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int fuzz_fd = -1;
static char fuzz_dir[256];
static char db_path[300], json_path[300];
static FILE *devnull;

static void fuzz_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void fuzz_cleanup(void)
{
    unlink(db_path);
    unlink(json_path);
    rmdir(fuzz_dir);
}

static void fuzz_init(void)
{
    fuzz_fd = memfd_create("fuzz_pipeline", 0);
    CHECK(fuzz_fd >= 0);
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/tcbscope-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(fuzz_dir) != NULL);
    snprintf(db_path, sizeof db_path, "%s/out.db", fuzz_dir);
    snprintf(json_path, sizeof json_path, "%s/out.json", fuzz_dir);
    devnull = fopen("/dev/null", "w");
    CHECK(devnull != NULL);
    atexit(fuzz_cleanup);
}

static uint64_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    uint64_t n = 0;
    int c, last = '\n';
    while ((c = getc(f)) != EOF) {
        n += c == '\n';
        last = c;
    }
    fclose(f);
    CHECK(last == '\n'); /* no half-written line */
    return n;
}

static void check_db(const struct dis_stats *ds, const struct tcb_stats *ts)
{
    struct sink_db *db;
    char err[TCBS_ERRLEN];
    CHECK(sink_db_open(&db, db_path, err) == 0);
    int64_t v;
    CHECK(sink_db_run_int(db, "frames", &v, err) == 1 && (uint64_t)v == ds->frames);
    CHECK(sink_db_run_int(db, "tcp_segments", &v, err) == 1 && (uint64_t)v == ds->tcp);
    CHECK(sink_db_run_int(db, "engine.connections", &v, err) == 1 && (uint64_t)v == ts->connections);
    CHECK(sink_db_run_int(db, "engine.evictions", &v, err) == 1 && (uint64_t)v == ts->evictions);
    struct sink_db_conn *rows;
    size_t n;
    CHECK(sink_db_find_conns(db, 1, NULL, 0, NULL, 0, &rows, &n, err) == 0);
    CHECK(n == (ts->connections ? 1u : 0u));
    free(rows);
    sink_db_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (256u << 10))
        return 0;
    if (fuzz_fd < 0)
        fuzz_init();
    CHECK(ftruncate(fuzz_fd, 0) == 0 && pwrite(fuzz_fd, data, size, 0) == (ssize_t)size);
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", fuzz_fd);
    const char *files[1] = {name};
    bool variant = size && (data[size - 1] & 1);

    char err[TCBS_ERRLEN];
    struct sink_set set = {0};
    struct sink *s;
    CHECK(sink_json_open(&s, json_path, true, err) == 0);
    set.sinks[set.count++] = s;
    CHECK(sink_sqlite_open(&s, db_path, true, err) == 0);
    set.sinks[set.count++] = s;
    s = sink_summary_new(devnull, variant);
    CHECK(s != NULL);
    set.sinks[set.count++] = s;

    struct dis_reader *rd;
    if (dis_reader_open(&rd, files, 1, NULL, fuzz_warn, NULL, err) < 0) {
        sink_set_destroy(&set); /* not a capture: nothing to analyse */
        return 0;
    }
    struct tcb_config cfg;
    tcb_config_default(&cfg);
    cfg.hash_seed = 42;
    cfg.seed_set = true;
    if (variant)
        cfg.max_connections = 3;
    struct tcb_output out = sink_set_output(&set);
    struct tcb_table *tcb;
    CHECK(tcb_table_new(&tcb, &cfg, &out, err) == 0);

    struct dis_stats ds;
    memset(&ds, 0, sizeof ds);
    struct dis_frame f;
    struct dis_pkt p;
    int rc;
    while ((rc = dis_reader_next(rd, &f, err)) != 0) {
        if (rc < 0)
            continue;
        enum dis_skip sk = dis_decode(f.linktype, f.data, f.caplen, f.wirelen, variant, &p);
        dis_stats_add(&ds, &f, sk, &p);
        if (sk == DIS_SKIP_NONE) {
            p.ts_ns = f.ts_ns;
            p.frame = f.frame;
            CHECK(tcb_packet(tcb, &p) == 0);
        } else {
            CHECK(tcb_advance(tcb, f.ts_ns) == 0);
        }
    }
    CHECK(tcb_finish(tcb) == 0);

    uint64_t skipped = 0;
    for (int i = 1; i < DIS_SKIP_COUNT; i++)
        skipped += ds.skipped[i];
    CHECK(ds.tcp + skipped == ds.frames);
    const struct tcb_stats *ts = tcb_table_stats(tcb);
    CHECK(ts->segments == ds.tcp && ts->live == 0);

    size_t nf;
    const struct dis_file_info *fi = dis_reader_files(rd, &nf);
    struct sink_run_info run = {
        .version = "fuzz",
        .command_line = "fuzz_pipeline",
        .start_unix_ns = 1,
        .files = fi,
        .file_count = nf,
        .dis = &ds,
        .tcb = ts,
    };
    CHECK(sink_set_finish(&set, &run) == 0);
    sink_set_destroy(&set);
    CHECK(count_lines(json_path) == ts->connections);
    check_db(&ds, ts);
    tcb_table_free(tcb);
    dis_reader_close(rd);
    return 0;
}
