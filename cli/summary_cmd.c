/*
 * summary_cmd.c - `tcbscope summary DB`: the terminal summary of a database
 * written earlier: connections by open kind, handshake, close kind and
 * final-state pair; handshake latency percentiles with a text histogram;
 * the top servers by connections and by p99 handshake time; skipped frames
 * by reason.
 *
 * Leaves to others: the queries (storage/dbread.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static const char summary_usage[] =
    "usage: tcbscope summary [options] DB\n"
    "\n"
    "Print the summary of a database written by 'tcbscope analyze --db DB':\n"
    "connections by open kind, handshake, close kind and final-state pair,\n"
    "handshake latency (p50/p90/p99/max and a histogram), the top servers by\n"
    "connection count and by p99 handshake time, skipped frames by reason.\n"
    "\n"
    "options:\n"
    "  -n, --top N    servers listed in each top table (default 10)\n"
    "  -h, --help     this help\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 DB missing, unreadable or not a tcbscope database\n";

/* Label column of the count tables: every table lines up with the others. */
#define LABEL_W 32

struct summary_ctx {
    FILE *out;
    struct cli_style st;
    uint64_t total;
};

static void heading(struct summary_ctx *c, const char *title)
{
    fprintf(c->out, "\n%s%s%s\n", c->st.bold, title, c->st.reset);
}

static void count_rows(struct summary_ctx *c, const char *title, const struct sink_db_count *r,
                       size_t n)
{
    char b[32];
    size_t w = LABEL_W;
    heading(c, title);
    for (size_t i = 0; i < n; i++)
        if (strlen(r[i].key) > w)
            w = strlen(r[i].key);
    for (size_t i = 0; i < n; i++)
        fprintf(c->out, "  %-*s %12s  %5.1f%%\n", (int)w, r[i].key,
                cli_num((uint64_t)r[i].count, b),
                c->total ? 100.0 * (double)r[i].count / (double)c->total : 0.0);
    if (n == 0)
        fprintf(c->out, "  (none)\n");
}

static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

/* Histogram over fixed 1-3-10 buckets from 10 µs to 10 s, trimmed to the used range. */
static void histogram(struct summary_ctx *c, const uint64_t *v, size_t n)
{
    static const uint64_t edge[] = {10000ULL,     30000ULL,     100000ULL,     300000ULL,
                                    1000000ULL,   3000000ULL,   10000000ULL,   30000000ULL,
                                    100000000ULL, 300000000ULL, 1000000000ULL, 3000000000ULL,
                                    10000000000ULL};
    enum { NE = sizeof(edge) / sizeof(edge[0]), NB = NE + 1, BAR = 40 };
    uint64_t cnt[NB] = {0}, max = 0;
    size_t lo = NB, hi = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        while (b < NE && v[i] >= edge[b])
            b++;
        cnt[b]++;
    }
    for (size_t b = 0; b < NB; b++) {
        if (!cnt[b])
            continue;
        if (lo == NB)
            lo = b;
        hi = b;
        if (cnt[b] > max)
            max = cnt[b];
    }
    if (lo == NB)
        return;
    for (size_t b = lo; b <= hi; b++) {
        char l1[32], l2[32], label[64], num[32];
        if (b == 0)
            snprintf(label, sizeof(label), "< %s", cli_duration(edge[0], l1));
        else if (b == NE)
            snprintf(label, sizeof(label), ">= %s", cli_duration(edge[NE - 1], l1));
        else
            snprintf(label, sizeof(label), "%s - %s", cli_duration(edge[b - 1], l1),
                     cli_duration(edge[b], l2));
        int len = max ? (int)((cnt[b] * BAR + max - 1) / max) : 0;
        char bar[BAR + 1];
        memset(bar, '#', (size_t)len);
        bar[len] = '\0';
        fprintf(c->out, "  %17s |%s%-*s%s %s\n", label, c->st.cyan, BAR, bar, c->st.reset,
                cli_num(cnt[b], num));
    }
}

static void latency(struct summary_ctx *c, const uint64_t *v, size_t n)
{
    char b[32], t1[32], t2[32], t3[32], t4[32];
    char title[96];
    snprintf(title, sizeof(title), "Handshake latency (SYN to ACK, %s complete handshake%s)",
             cli_num(n, b), n == 1 ? "" : "s");
    heading(c, title);
    if (n == 0) {
        fprintf(c->out, "  (none)\n");
        return;
    }
    fprintf(c->out, "  p50 %s   p90 %s   p99 %s   max %s\n\n", cli_duration(pct(v, n, 50), t1),
            cli_duration(pct(v, n, 90), t2), cli_duration(pct(v, n, 99), t3),
            cli_duration(v[n - 1], t4));
    histogram(c, v, n);
}

static int by_conns(const void *a, const void *b)
{
    const struct sink_db_server *x = a, *y = b;
    if (x->conns != y->conns)
        return x->conns < y->conns ? 1 : -1;
    int r = strcmp(x->ip, y->ip);
    return r ? r : (x->port > y->port) - (x->port < y->port);
}

static int by_p99(const void *a, const void *b)
{
    const struct sink_db_server *x = a, *y = b;
    if (x->p99_ns != y->p99_ns)
        return x->p99_ns < y->p99_ns ? 1 : -1;
    return by_conns(a, b);
}

static void server_table(struct summary_ctx *c, const char *title, const struct sink_db_server *s,
                         size_t n, size_t top, bool need_hs)
{
    char ep[80], b1[32], b2[32], b3[32], b4[32];
    size_t w = 6, shown = 0;
    heading(c, title);
    for (size_t i = 0; i < n && shown < top; i++) {
        if (need_hs && !s[i].handshakes)
            continue;
        snprintf(ep, sizeof(ep), strchr(s[i].ip, ':') ? "[%s]:%u" : "%s:%u", s[i].ip, s[i].port);
        if (strlen(ep) > w)
            w = strlen(ep);
        shown++;
    }
    if (!shown) {
        fprintf(c->out, "  (none)\n");
        return;
    }
    fprintf(c->out, "  %s%-*s %12s %12s %10s %10s%s\n", c->st.dim, (int)w, "server", "conns",
            "handshakes", "p99", "max", c->st.reset);
    shown = 0;
    for (size_t i = 0; i < n && shown < top; i++) {
        if (need_hs && !s[i].handshakes)
            continue;
        snprintf(ep, sizeof(ep), strchr(s[i].ip, ':') ? "[%s]:%u" : "%s:%u", s[i].ip, s[i].port);
        fprintf(c->out, "  %-*s %12s %12s %10s %10s\n", (int)w, ep, cli_num(s[i].conns, b1),
                cli_num(s[i].handshakes, b2), s[i].handshakes ? cli_duration(s[i].p99_ns, b3) : "-",
                s[i].handshakes ? cli_duration(s[i].max_ns, b4) : "-");
        shown++;
    }
}

/* Render everything; 0 or an exit status. */
static int render(struct sink_db *db, const char *path, size_t top)
{
    static const char *const titles[SINK_DB_GROUP_COUNT] = {
        [SINK_DB_BY_OPEN_KIND] = "Open kind",
        [SINK_DB_BY_HANDSHAKE] = "Handshake",
        [SINK_DB_BY_CLOSE_KIND] = "Close kind",
        [SINK_DB_BY_FINAL_STATES] = "Final states (client / server)",
    };
    char err[TCBS_ERRLEN];
    struct summary_ctx c = {.out = stdout};
    struct sink_db_count *rows[SINK_DB_GROUP_COUNT] = {0}, *skips = NULL;
    size_t nrows[SINK_DB_GROUP_COUNT] = {0}, nskips = 0, nlat = 0, nsrv = 0;
    uint64_t *lat = NULL;
    struct sink_db_server *srv = NULL;
    int64_t frames = 0, matched = -1, files = 0, interrupted = 0;
    int status = CLI_EXIT_INPUT;

    cli_style_init(&c.st, cli_color_ok(stdout));
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        if (sink_db_group_counts(db, (enum sink_db_group)g, &rows[g], &nrows[g], err) < 0)
            goto fail;
    if (sink_db_handshake_ns(db, &lat, &nlat, err) < 0 || sink_db_servers(db, &srv, &nsrv, err) < 0 ||
        sink_db_run_ints(db, "skipped.", &skips, &nskips, err) < 0 ||
        sink_db_run_int(db, "frames", &frames, err) < 0 ||
        sink_db_run_int(db, "frames_matched", &matched, err) < 0 ||
        sink_db_run_int(db, "files", &files, err) < 0 ||
        sink_db_run_int(db, "interrupted", &interrupted, err) < 0)
        goto fail;
    for (size_t i = 0; i < nrows[SINK_DB_BY_OPEN_KIND]; i++)
        c.total += (uint64_t)rows[SINK_DB_BY_OPEN_KIND][i].count;

    char b1[32], b2[32], b3[32];
    fprintf(c.out, "%stcbscope summary of %s%s\n", c.st.bold, path, c.st.reset);
    fprintf(c.out, "  %s connection%s from %s frame%s in %s capture file%s\n",
            cli_num(c.total, b1), c.total == 1 ? "" : "s", cli_num((uint64_t)frames, b2),
            frames == 1 ? "" : "s", cli_num((uint64_t)files, b3), files == 1 ? "" : "s");
    if (matched >= 0 && matched != frames) /* a filter: the counts below are of these */
        fprintf(c.out, "  %s frame%s matched the filter\n", cli_num((uint64_t)matched, b1),
                matched == 1 ? "" : "s");
    else
        matched = frames;
    if (interrupted)
        fprintf(c.out, "  %sthe run was interrupted: results cover what was read%s\n", c.st.yellow,
                c.st.reset);
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        count_rows(&c, titles[g], rows[g], nrows[g]);
    latency(&c, lat, nlat);

    if (nsrv)
        qsort(srv, nsrv, sizeof(*srv), by_conns);
    server_table(&c, "Top servers by connections", srv, nsrv, top, false);
    if (nsrv)
        qsort(srv, nsrv, sizeof(*srv), by_p99);
    server_table(&c, "Top servers by p99 handshake time", srv, nsrv, top, true);

    heading(&c, "Skipped frames by reason");
    uint64_t skipped = 0;
    for (size_t i = 0; i < nskips; i++)
        skipped += (uint64_t)skips[i].count;
    size_t w = LABEL_W;
    for (size_t i = 0; i < nskips; i++)
        if (skips[i].count && strlen(skips[i].key) > w)
            w = strlen(skips[i].key);
    for (size_t i = 0; i < nskips; i++)
        if (skips[i].count)
            fprintf(c.out, "  %-*s %12s  %5.1f%%\n", (int)w, skips[i].key,
                    cli_num((uint64_t)skips[i].count, b1),
                    matched ? 100.0 * (double)skips[i].count / (double)matched : 0.0);
    if (!skipped)
        fprintf(c.out, "  (none)\n");
    status = 0;
    goto done;
fail:
    cli_error("%s", err);
done:
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        free(rows[g]);
    free(skips);
    free(lat);
    free(srv);
    return status;
}

int cli_summary(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"top", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    size_t top = 10;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || v == 0 || optarg[0] == '-')
                return cli_usage_error("summary", "--top needs a positive number, not '%s'",
                                       optarg);
            top = v;
            break;
        }
        case 'h': fputs(summary_usage, stdout); return 0;
        case ':': return cli_usage_error("summary", "option '%s' needs an argument", argv[optind - 1]);
        default: return cli_usage_error("summary", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("summary", "summary needs exactly one database file");
    const char *path = argv[optind];
    char err[TCBS_ERRLEN];
    struct sink_db *db;
    if (sink_db_open(&db, path, err) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    int rc = render(db, path, top);
    sink_db_close(db);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) {
            cli_error("standard output: %s", strerror(errno));
            return CLI_EXIT_OUTPUT;
        }
    }
    return rc;
}
