/*
 * report.c - `tcbscope report`: one self-contained HTML page for a
 * database written by `analyze --db`: overview figures, a handshake-latency
 * histogram (SVG) and per-server p50/p90/p99, the open kinds, handshake
 * outcomes, close kinds and final-state pairs, and SVG ladder diagrams of
 * the slowest handshakes, reset connections and simultaneous opens, each
 * with its transitions.
 *
 * No script, nothing fetched: CSS and SVG are inline.  Every value that
 * comes from the database (names, words, addresses) goes through esc(), so
 * a capture named "<script>" shows as text.  Loading (every query) and
 * writing are separate steps, so the caller can tell a database error from
 * an output error.
 *
 * Leaves to others: the queries (dbread.c), cutting transitions into ladder
 * steps (ladder.c), parsing the command line and printing errors (cli/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "sink_int.h"

/* Capture names listed in the overview; the rest are counted. */
#define REPORT_MAX_CAPTURES 50

struct report_conn {
    struct sink_db_conn c;
    int64_t handshake_ns; /* -1: no complete handshake */
    struct tcb_event *ev;
    size_t nev;
};

struct sink_report {
    struct sink_report_opts opts;
    char *db_label;
    char version[64], start_time[64];
    int64_t frames, interrupted;
    uint64_t total, first_ns, last_ns;
    bool have_span;
    struct sink_db_count *groups[SINK_DB_GROUP_COUNT];
    size_t ngroups[SINK_DB_GROUP_COUNT];
    char **captures;
    size_t ncaptures;
    uint64_t *lat; /* complete handshakes, ascending */
    size_t nlat;
    struct sink_db_server *srv; /* busiest first, at most opts.top_servers used */
    size_t nsrv;
    struct report_conn *picks[SINK_DB_PICK_COUNT];
    size_t npicks[SINK_DB_PICK_COUNT];
};

/* ---- loading ----------------------------------------------------------- */

/* Servers by connections, then handshakes, then address. */
static int by_conns(const void *a, const void *b)
{
    const struct sink_db_server *x = a, *y = b;
    if (x->conns != y->conns)
        return x->conns < y->conns ? 1 : -1;
    if (x->handshakes != y->handshakes)
        return x->handshakes < y->handshakes ? 1 : -1;
    int r = strcmp(x->ip, y->ip);
    return r ? r : (x->port > y->port) - (x->port < y->port);
}

/* The connections of one pick, each with its row and transitions. */
static int load_picks(struct sink_report *r, struct sink_db *db, enum sink_db_pick what,
                      size_t limit, char err[TCBS_ERRLEN])
{
    struct sink_db_pick_row *ids;
    size_t n;
    int rc = sink_db_pick_conns(db, what, limit, &ids, &n, err);
    if (rc < 0 || n == 0)
        return rc;
    r->picks[what] = sink_malloc(n * sizeof(*r->picks[what]));
    if (r->picks[what] == NULL) {
        free(ids);
        snprintf(err, TCBS_ERRLEN, "out of memory");
        return -ENOMEM;
    }
    memset(r->picks[what], 0, n * sizeof(*r->picks[what]));
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct report_conn *p = &r->picks[what][r->npicks[what]];
        struct sink_db_conn *rows;
        size_t nrows;
        rc = sink_db_find_conns(db, ids[i].id, NULL, 0, NULL, 0, &rows, &nrows, err);
        if (rc < 0)
            break;
        if (nrows == 1) {
            p->c = rows[0];
            p->handshake_ns = ids[i].handshake_ns;
            rc = sink_db_transitions(db, p->c.id, &p->ev, &p->nev, err);
            if (rc == 0)
                r->npicks[what]++;
        }
        free(rows);
    }
    free(ids);
    return rc;
}

int sink_report_load(struct sink_report **out, struct sink_db *db,
                     const struct sink_report_opts *opts, char err[TCBS_ERRLEN])
{
    struct sink_report *r = sink_malloc(sizeof(*r));
    int rc = 0;

    *out = NULL;
    if (r == NULL) {
        snprintf(err, TCBS_ERRLEN, "out of memory");
        return -ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->opts = *opts;
    r->db_label = sink_malloc(strlen(opts->db_label) + 1);
    if (r->db_label == NULL) {
        free(r);
        snprintf(err, TCBS_ERRLEN, "out of memory");
        return -ENOMEM;
    }
    strcpy(r->db_label, opts->db_label);
    r->opts.db_label = r->db_label;

    for (int g = 0; g < SINK_DB_GROUP_COUNT && rc == 0; g++)
        rc = sink_db_group_counts(db, (enum sink_db_group)g, &r->groups[g], &r->ngroups[g], err);
    if (rc == 0)
        rc = sink_db_run_int(db, "frames", &r->frames, err);
    if (rc >= 0)
        rc = sink_db_run_int(db, "interrupted", &r->interrupted, err);
    if (rc >= 0)
        rc = sink_db_run_text(db, "tcbscope_version", r->version, sizeof(r->version), err);
    if (rc >= 0)
        rc = sink_db_run_text(db, "start_time", r->start_time, sizeof(r->start_time), err);
    if (rc >= 0 && (rc = sink_db_time_span(db, &r->first_ns, &r->last_ns, err)) >= 0)
        r->have_span = rc == 1;
    if (rc >= 0)
        rc = sink_db_captures(db, &r->captures, &r->ncaptures, err);
    if (rc == 0)
        rc = sink_db_handshake_ns(db, &r->lat, &r->nlat, err);
    if (rc == 0)
        rc = sink_db_servers(db, &r->srv, &r->nsrv, err);
    const size_t limit[SINK_DB_PICK_COUNT] = {
        [SINK_DB_PICK_SLOWEST] = opts->slowest,
        [SINK_DB_PICK_RESET] = opts->resets,
        [SINK_DB_PICK_SIMULTANEOUS] = opts->simultaneous,
    };
    for (int k = 0; k < SINK_DB_PICK_COUNT && rc == 0; k++)
        rc = load_picks(r, db, (enum sink_db_pick)k, limit[k], err);
    if (rc < 0) {
        sink_report_free(r);
        return rc;
    }
    for (size_t i = 0; i < r->ngroups[SINK_DB_BY_OPEN_KIND]; i++)
        r->total += (uint64_t)r->groups[SINK_DB_BY_OPEN_KIND][i].count;
    if (r->nsrv)
        qsort(r->srv, r->nsrv, sizeof(*r->srv), by_conns);
    *out = r;
    return 0;
}

void sink_report_free(struct sink_report *r)
{
    if (r == NULL)
        return;
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        free(r->groups[g]);
    for (int k = 0; k < SINK_DB_PICK_COUNT; k++) {
        for (size_t i = 0; i < r->npicks[k]; i++)
            free(r->picks[k][i].ev);
        free(r->picks[k]);
    }
    free(r->captures);
    free(r->lat);
    free(r->srv);
    free(r->db_label);
    free(r);
}

/* ---- HTML helpers ------------------------------------------------------ */

/* s as HTML text or attribute value: & < > " ' escaped. */
static void esc(FILE *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default: fputc(*s, o);
        }
    }
}

/* "ip:port", IPv6 in brackets. */
static void fmt_ep(char *buf, size_t len, const char *ip, uint16_t port)
{
    snprintf(buf, len, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
}

/* Nanoseconds as milliseconds with three decimals (µs resolution): "1003.215". */
static const char *fmt_ms(uint64_t ns, char buf[32])
{
    snprintf(buf, 32, "%.3f", (double)ns / 1e6);
    return buf;
}

/* Seconds since t0: "+0.050570". */
static const char *fmt_rel(uint64_t ns, uint64_t t0, char buf[32])
{
    uint64_t d = ns >= t0 ? ns - t0 : 0;
    snprintf(buf, 32, "+%llu.%06llu", (unsigned long long)(d / 1000000000ULL),
             (unsigned long long)(d % 1000000000ULL / 1000));
    return buf;
}

/* Capture time in UTC: "2026-11-25 12:33:14.466786". */
static const char *fmt_utc(uint64_t ns, char buf[48])
{
    time_t t = (time_t)(ns / 1000000000ULL);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, 48, "%llu ns", (unsigned long long)ns);
        return buf;
    }
    size_t n = strftime(buf, 48, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, 48 - n, ".%06llu", (unsigned long long)(ns % 1000000000ULL / 1000));
    return buf;
}

static const char report_css[] =
    ":root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg2:#f6f8fa;--c2s:#0969da;"
    "--s2c:#bc4c00;--rst:#cf222e;--state:#1a7f37;--bar:#54aeff}"
    "*{box-sizing:border-box}"
    "body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}"
    "main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}"
    "h1{font-size:24px;margin:0 0 4px}"
    "h2{font-size:18px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}"
    "h3{font-size:15px;margin:0 0 4px}"
    "code,.mono,td.n,td.num{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace}"
    "code{font-size:13px}"
    ".sub,.note{color:var(--muted)}"
    ".warn{color:var(--rst);font-weight:600}"
    ".figures{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}"
    ".figure{flex:1 1 150px;border:1px solid var(--line);border-radius:8px;padding:12px 16px;"
    "background:var(--bg2)}"
    ".figure .v{display:block;font-size:26px;font-weight:600}"
    ".figure .k{color:var(--muted)}"
    "table{border-collapse:collapse;margin:8px 0}"
    "th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:top}"
    "th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.03em}"
    "td.n,td.num,th.num{text-align:right}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px 28px}"
    ".grid table{width:100%}"
    ".barcell{width:35%}td.key{white-space:nowrap}"
    ".hbar{height:10px;background:var(--bar);border-radius:2px;min-width:1px}"
    "ol.captures{margin:4px 0;padding-left:22px;columns:2;column-gap:32px}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
    "font-size:12px;fill:var(--fg)}"
    "svg .axis{fill:var(--muted);font-size:11px}"
    "svg .bar{fill:var(--bar)}"
    "svg .life{stroke:#8c959f;stroke-width:2}"
    "svg .st{fill:var(--state);font-weight:600}"
    "svg .st0{fill:var(--muted);font-weight:600}"
    "svg .c2s line,svg .c2s polygon{stroke:var(--c2s);fill:var(--c2s)}"
    "svg .s2c line,svg .s2c polygon{stroke:var(--s2c);fill:var(--s2c)}"
    "svg .rst line,svg .rst polygon{stroke:var(--rst);fill:var(--rst)}"
    "svg .lbl{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}"
    "svg .c2s .lbl{fill:var(--c2s)}svg .s2c .lbl{fill:var(--s2c)}svg .rst .lbl{fill:var(--rst)}"
    "svg .cause{fill:var(--muted);font-style:italic}"
    ".conn{border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:14px 0}"
    ".conn .meta{color:var(--muted);margin:0 0 8px}"
    "details{margin-top:8px}summary{cursor:pointer;color:var(--muted)}"
    "footer{margin-top:40px;color:var(--muted);font-size:12px}";

/* ---- sections ---------------------------------------------------------- */

static void figure(FILE *o, const char *id, const char *value, const char *label)
{
    fprintf(o, "<div class=\"figure\" id=\"%s\"><span class=\"v\">", id);
    esc(o, value);
    fprintf(o, "</span><span class=\"k\">%s</span></div>\n", label);
}

static void overview(FILE *o, const struct sink_report *r)
{
    char b[32], d[32], t1[48], t2[48];
    fputs("<section id=\"overview\">\n<h2>Overview</h2>\n", o);
    if (r->interrupted)
        fputs("<p class=\"warn\">The run was interrupted (Ctrl-C): results cover what was read."
              "</p>\n",
              o);
    fputs("<div class=\"figures\">\n", o);
    figure(o, "fig-connections", sink_fmt_count(r->total, b), "connections");
    figure(o, "fig-frames", sink_fmt_count((uint64_t)(r->frames > 0 ? r->frames : 0), b),
           "frames");
    figure(o, "fig-captures", sink_fmt_count(r->ncaptures, b),
           r->ncaptures == 1 ? "capture file" : "capture files");
    figure(o, "fig-span", r->have_span ? sink_fmt_duration(r->last_ns - r->first_ns, d) : "-",
           "time span");
    figure(o, "fig-handshakes", sink_fmt_count(r->nlat, b), "complete handshakes");
    fputs("</div>\n", o);
    if (r->have_span)
        fprintf(o, "<p>Capture time from <span class=\"mono\">%s</span> to "
                   "<span class=\"mono\">%s</span> UTC.</p>\n",
                fmt_utc(r->first_ns, t1), fmt_utc(r->last_ns, t2));
    fputs("<p class=\"note\">Captures, in the order read:</p>\n<ol class=\"captures\" "
          "id=\"captures\">\n",
          o);
    for (size_t i = 0; i < r->ncaptures && i < REPORT_MAX_CAPTURES; i++) {
        fputs("<li><code>", o);
        esc(o, r->captures[i]);
        fputs("</code></li>\n", o);
    }
    fputs("</ol>\n", o);
    if (r->ncaptures > REPORT_MAX_CAPTURES)
        fprintf(o, "<p class=\"note\">and %s more</p>\n",
                sink_fmt_count(r->ncaptures - REPORT_MAX_CAPTURES, b));
    fputs("</section>\n", o);
}

/* Histogram bucket edges: the 1-2-5 series from 1 µs; bucket i is [edge(i), edge(i+1)). */
static uint64_t edge(size_t i)
{
    static const unsigned step[3] = {1, 2, 5};
    uint64_t v = 1000;
    for (size_t k = 0; k < i / 3; k++)
        v *= 10;
    return v * step[i % 3];
}

enum { HIST_BUCKETS = 33 }; /* 1 µs .. 10000 s; below and above go to the ends */

/* Axis labels at the decades edge(0), edge(3), ... */
static const char *const decade[HIST_BUCKETS / 3 + 1] = {
    "1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s", "100 s", "1000 s",
    "10000 s", "100000 s"};

static void histogram(FILE *o, const struct sink_report *r)
{
    uint64_t cnt[HIST_BUCKETS] = {0}, max = 0;
    size_t lo = HIST_BUCKETS, hi = 0;
    for (size_t i = 0; i < r->nlat; i++) {
        size_t b = 0;
        while (b + 1 < HIST_BUCKETS && r->lat[i] >= edge(b + 1))
            b++;
        cnt[b]++;
    }
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
        if (!cnt[b])
            continue;
        if (lo == HIST_BUCKETS)
            lo = b;
        hi = b;
        if (cnt[b] > max)
            max = cnt[b];
    }
    if (lo == HIST_BUCKETS)
        return;
    /* Whole decades around the used range, so the axis reads 10 µs, 100 µs, 1 ms ... */
    lo -= lo % 3;
    hi = hi - hi % 3 + 2;
    if (hi >= HIST_BUCKETS)
        hi = HIST_BUCKETS - 1;
    const int W = 760, H = 230, L = 48, R = 12, T = 22, B = 42;
    size_t nb = hi - lo + 1;
    double bw = (double)(W - L - R) / (double)nb;
    int ph = H - T - B;
    fprintf(o, "<svg id=\"latency-histogram\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
               "role=\"img\" aria-label=\"handshake latency histogram\">\n",
            W, H, W, H);
    fprintf(o, "<line class=\"life\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
               "style=\"stroke-width:1\"/>\n",
            L, H - B, W - R, H - B);
    fprintf(o, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>\n", L - 6,
            T + 4, (unsigned long long)max);
    fprintf(o, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", L - 6,
            H - B + 4);
    for (size_t b = lo; b <= hi; b++) {
        char l1[32], l2[32];
        double x = L + bw * (double)(b - lo);
        if (b % 3 == 0)
            fprintf(o, "<text class=\"axis\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s"
                       "</text>\n",
                    x, H - B + 16, decade[b / 3]);
        if (!cnt[b])
            continue;
        double h = (double)ph * (double)cnt[b] / (double)max;
        if (h < 1)
            h = 1;
        fprintf(o, "<rect class=\"bar\" data-count=\"%llu\" data-lo-ns=\"%llu\" x=\"%.1f\" "
                   "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%s to %s: %llu</title>"
                   "</rect>\n",
                (unsigned long long)cnt[b], (unsigned long long)edge(b), x + 1,
                (double)(H - B) - h, bw - 2, h, sink_fmt_duration(edge(b), l1),
                sink_fmt_duration(edge(b + 1), l2), (unsigned long long)cnt[b]);
        fprintf(o, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%llu"
                   "</text>\n",
                x + bw / 2, (double)(H - B) - h - 4, (unsigned long long)cnt[b]);
    }
    fprintf(o, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">SYN to "
               "handshake-completing ACK (log scale)</text>\n</svg>\n",
            L + (W - L - R) / 2, H - 6);
}

static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

static void latency(FILE *o, const struct sink_report *r)
{
    char b[32], t[4][32];
    fputs("<section id=\"latency\">\n<h2>Handshake latency</h2>\n", o);
    if (r->nlat == 0) {
        fputs("<p class=\"note\">No complete handshake in this database.</p>\n</section>\n", o);
        return;
    }
    fprintf(o, "<p>From the first SYN to the ACK that completes the handshake, %s complete "
               "handshake%s: p50 <b>%s</b> &middot; p90 <b>%s</b> &middot; p99 <b>%s</b> "
               "&middot; max <b>%s</b></p>\n",
            sink_fmt_count(r->nlat, b), r->nlat == 1 ? "" : "s",
            sink_fmt_duration(pct(r->lat, r->nlat, 50), t[0]),
            sink_fmt_duration(pct(r->lat, r->nlat, 90), t[1]),
            sink_fmt_duration(pct(r->lat, r->nlat, 99), t[2]),
            sink_fmt_duration(r->lat[r->nlat - 1], t[3]));
    histogram(o, r);
    size_t shown = r->nsrv < r->opts.top_servers ? r->nsrv : r->opts.top_servers;
    fprintf(o, "<h3 style=\"margin-top:18px\">Per server (%s busiest of %s, milliseconds, "
               "nearest rank)</h3>\n",
            sink_fmt_count(shown, t[0]), sink_fmt_count(r->nsrv, t[1]));
    fputs("<table id=\"servers\">\n<thead><tr><th>server</th><th class=\"num\">connections</th>"
          "<th class=\"num\">handshakes</th><th class=\"num\">p50</th><th class=\"num\">p90</th>"
          "<th class=\"num\">p99</th><th class=\"num\">max</th></tr></thead>\n<tbody>\n",
          o);
    for (size_t i = 0; i < shown; i++) {
        const struct sink_db_server *s = &r->srv[i];
        char ep[80];
        fmt_ep(ep, sizeof(ep), s->ip, s->port);
        fputs("<tr><td class=\"mono\">", o);
        esc(o, ep);
        fprintf(o, "</td><td class=\"n\">%s</td>", sink_fmt_count(s->conns, t[0]));
        fprintf(o, "<td class=\"n\">%s</td>", sink_fmt_count(s->handshakes, t[0]));
        if (s->handshakes)
            fprintf(o, "<td class=\"n p50\">%s</td><td class=\"n p90\">%s</td>"
                       "<td class=\"n p99\">%s</td><td class=\"n max\">%s</td></tr>\n",
                    fmt_ms(s->p50_ns, t[0]), fmt_ms(s->p90_ns, t[1]), fmt_ms(s->p99_ns, t[2]),
                    fmt_ms(s->max_ns, t[3]));
        else
            fputs("<td class=\"n p50\">-</td><td class=\"n p90\">-</td><td class=\"n p99\">-"
                  "</td><td class=\"n max\">-</td></tr>\n",
                  o);
    }
    fputs("</tbody>\n</table>\n</section>\n", o);
}

static void count_table(FILE *o, const struct sink_report *r, const char *id, const char *title,
                        enum sink_db_group g)
{
    char b[32];
    int64_t max = 0;
    for (size_t i = 0; i < r->ngroups[g]; i++)
        if (r->groups[g][i].count > max)
            max = r->groups[g][i].count;
    fprintf(o, "<div><h3>%s</h3>\n<table id=\"%s\">\n<tbody>\n", title, id);
    for (size_t i = 0; i < r->ngroups[g]; i++) {
        const struct sink_db_count *c = &r->groups[g][i];
        fputs("<tr><td class=\"key mono\">", o);
        esc(o, c->key);
        fprintf(o, "</td><td class=\"n\">%s</td><td class=\"num\">%.1f%%</td>"
                   "<td class=\"barcell\"><div class=\"hbar\" style=\"width:%.1f%%\"></div></td>"
                   "</tr>\n",
                sink_fmt_count((uint64_t)c->count, b),
                r->total ? 100.0 * (double)c->count / (double)r->total : 0.0,
                max ? 100.0 * (double)c->count / (double)max : 0.0);
    }
    if (r->ngroups[g] == 0)
        fputs("<tr><td class=\"note\">(none)</td></tr>\n", o);
    fputs("</tbody>\n</table></div>\n", o);
}

/* ---- ladders ----------------------------------------------------------- */

enum {
    LAD_W = 720,
    LAD_TIME_X = 76,    /* right edge of the time column */
    LAD_FRAME_X = 124,  /* right edge of the frame column */
    LAD_CLIENT_X = 262, /* the client's life line */
    LAD_SERVER_X = 580, /* the server's */
    LAD_ROW = 24,
    LAD_TOP = 66, /* y of the start-state row */
};

static void svg_text(FILE *o, const char *cls, double x, double y, const char *anchor,
                     const char *text)
{
    fprintf(o, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cls, x, y, anchor);
    esc(o, text);
    fputs("</text>\n", o);
}

/* An endpoint above its life line; a long IPv6 one squeezed to fit between the columns. */
static void endpoint_label(FILE *o, int x, const char *ep)
{
    enum { FIT = 250, FIT_CHARS = 34 }; /* 12px monospace: about 7.2px a character */
    if (strlen(ep) <= FIT_CHARS) {
        svg_text(o, "mono", x, 34, "middle", ep);
        return;
    }
    fprintf(o, "<text class=\"mono\" x=\"%d\" y=\"34\" text-anchor=\"middle\" textLength=\"%d\" "
               "lengthAdjust=\"spacingAndGlyphs\">",
            x, FIT);
    esc(o, ep);
    fputs("</text>\n", o);
}

/* One arrow from the sender's life line to the other, sloping down like RFC 9293's figures. */
static void arrow(FILE *o, int sender, unsigned flags, double y)
{
    char label[48];
    double x1 = sender == TCB_CLIENT ? LAD_CLIENT_X : LAD_SERVER_X;
    double x2 = sender == TCB_CLIENT ? LAD_SERVER_X : LAD_CLIENT_X;
    double y1 = y - 9, y2 = y + 1, dir = x2 > x1 ? 1 : -1;
    const char *cls = flags & DIS_TH_RST ? "rst" : sender == TCB_CLIENT ? "c2s" : "s2c";
    sink_flag_label(flags, label, sizeof(label));
    fprintf(o, "<g class=\"seg %s\" data-from=\"%s\" data-flags=\"%s\">", cls,
            tcb_endpoint_name((enum tcb_endpoint)sender), label[0] ? label : "?");
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"1.6\"/>", x1,
            y1, x2 - dir * 8, y2 - 0.3);
    /* The head: a triangle along the line's direction ending on the receiver's line. */
    fprintf(o, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>", x2, y2, x2 - dir * 10,
            y2 - 4.8, x2 - dir * 9, y2 + 3.8);
    fprintf(o, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text></g>\n",
            (x1 + x2) / 2, (y1 + y2) / 2 - 5, label[0] ? label : "?");
}

static void ladder_svg(FILE *o, const struct report_conn *p)
{
    const struct sink_db_conn *c = &p->c;
    const char *final[2] = {c->client_final_state, c->server_final_state}, *start[2];
    struct sink_ladder_step sp;
    size_t rows = 0;
    for (size_t i = 0; i < p->nev;) {
        i = sink_ladder_step(p->ev, p->nev, i, &sp);
        size_t n = sp.nto[0] > sp.nto[1] ? sp.nto[0] : sp.nto[1];
        rows += n ? n : 1;
    }
    int h = LAD_TOP + (int)(rows + 1) * LAD_ROW;
    char cep[80], sep[80];
    fmt_ep(cep, sizeof(cep), c->client_ip, c->client_port);
    fmt_ep(sep, sizeof(sep), c->server_ip, c->server_port);
    fprintf(o, "<svg class=\"ladder\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
               "role=\"img\" aria-label=\"ladder diagram of connection %llu\">\n",
            LAD_W, h, LAD_W, h, (unsigned long long)c->id);
    svg_text(o, "axis", LAD_TIME_X, 16, "end", "time (s)");
    svg_text(o, "axis", LAD_FRAME_X, 16, "end", "frame");
    svg_text(o, "axis", LAD_CLIENT_X, 16, "middle", "client");
    svg_text(o, "axis", LAD_SERVER_X, 16, "middle", "server");
    endpoint_label(o, LAD_CLIENT_X, cep);
    endpoint_label(o, LAD_SERVER_X, sep);
    fprintf(o, "<line class=\"life\" x1=\"%d\" y1=\"44\" x2=\"%d\" y2=\"%d\"/>\n", LAD_CLIENT_X,
            LAD_CLIENT_X, h - 8);
    fprintf(o, "<line class=\"life\" x1=\"%d\" y1=\"44\" x2=\"%d\" y2=\"%d\"/>\n", LAD_SERVER_X,
            LAD_SERVER_X, h - 8);
    sink_ladder_start(p->ev, p->nev, final, start);
    svg_text(o, "st0 st-c", LAD_CLIENT_X - 8, LAD_TOP, "end", start[TCB_CLIENT]);
    svg_text(o, "st0 st-s", LAD_SERVER_X + 8, LAD_TOP, "start", start[TCB_SERVER]);

    double y = LAD_TOP;
    for (size_t i = 0; i < p->nev;) {
        size_t next = sink_ladder_step(p->ev, p->nev, i, &sp);
        size_t n = sp.nto[0] > sp.nto[1] ? sp.nto[0] : sp.nto[1];
        char t[32], fr[24] = "";
        if (n == 0)
            n = 1;
        y += LAD_ROW;
        svg_text(o, "axis", LAD_TIME_X, y, "end", fmt_rel(p->ev[i].ts_ns, c->first_ns, t));
        if (p->ev[i].frame)
            snprintf(fr, sizeof(fr), "%llu", (unsigned long long)p->ev[i].frame);
        svg_text(o, "axis", LAD_FRAME_X, y, "end", fr);
        /* Several changes of one side on one segment: one row each, the arrow on the last. */
        for (size_t k = 0; k < n; k++) {
            double yk = y + (double)k * LAD_ROW;
            if (k < sp.nto[TCB_CLIENT])
                svg_text(o, "st st-c", LAD_CLIENT_X - 8, yk, "end",
                         tcb_state_name((enum tcb_state)sp.to[TCB_CLIENT][k]));
            if (k < sp.nto[TCB_SERVER])
                svg_text(o, "st st-s", LAD_SERVER_X + 8, yk, "start",
                         tcb_state_name((enum tcb_state)sp.to[TCB_SERVER][k]));
        }
        y += (double)(n - 1) * LAD_ROW;
        if (sp.sender >= 0) {
            arrow(o, sp.sender, sp.flags, y);
        } else {
            char cause[48];
            snprintf(cause, sizeof(cause), "(%s)",
                     tcb_cause_name((enum tcb_cause)p->ev[i].cause));
            svg_text(o, "cause", (LAD_CLIENT_X + LAD_SERVER_X) / 2.0, y - 4, "middle", cause);
        }
        i = next;
    }
    fputs("</svg>\n", o);
}

static void transitions_table(FILE *o, const struct report_conn *p)
{
    char t[32], fr[24];
    fprintf(o, "<details open><summary>%zu state transition%s</summary>\n<table "
               "class=\"transitions\">\n<thead><tr><th class=\"num\">seq</th><th "
               "class=\"num\">time (s)</th><th class=\"num\">frame</th><th>endpoint</th>"
               "<th>from</th><th>to</th><th>cause</th></tr></thead>\n<tbody>\n",
            p->nev, p->nev == 1 ? "" : "s");
    for (size_t i = 0; i < p->nev; i++) {
        const struct tcb_event *e = &p->ev[i];
        fr[0] = '\0';
        if (e->frame)
            snprintf(fr, sizeof(fr), "%llu", (unsigned long long)e->frame);
        fprintf(o, "<tr><td class=\"n\">%zu</td><td class=\"n\">%s</td><td class=\"n\">%s</td>",
                i, fmt_rel(e->ts_ns, p->c.first_ns, t), fr);
        fputs("<td>", o);
        esc(o, tcb_endpoint_name((enum tcb_endpoint)e->endpoint));
        fputs("</td><td class=\"mono\">", o);
        esc(o, tcb_state_name((enum tcb_state)e->from));
        fputs("</td><td class=\"mono\">", o);
        esc(o, tcb_state_name((enum tcb_state)e->to));
        fputs("</td><td class=\"mono\">", o);
        esc(o, tcb_cause_name((enum tcb_cause)e->cause));
        fputs("</td></tr>\n", o);
    }
    fputs("</tbody>\n</table>\n</details>\n", o);
}

static void conn_article(FILE *o, const char *section, const struct report_conn *p)
{
    const struct sink_db_conn *c = &p->c;
    char cep[80], sep[80], b[5][32];
    fmt_ep(cep, sizeof(cep), c->client_ip, c->client_port);
    fmt_ep(sep, sizeof(sep), c->server_ip, c->server_port);
    /* One connection may be in several sections: the id names both. */
    fprintf(o, "<article class=\"conn\" id=\"%s-%llu\" data-conn-id=\"%llu\">\n<h3>connection "
               "%llu &nbsp;<span class=\"mono\">",
            section, (unsigned long long)c->id, (unsigned long long)c->id,
            (unsigned long long)c->id);
    esc(o, cep);
    fputs(" &rarr; ", o);
    esc(o, sep);
    fprintf(o, "</span> <span class=\"note\">(IPv%u", c->ip_version);
    if (c->vlan >= 0)
        fprintf(o, ", VLAN %d", c->vlan);
    fprintf(o, ", incarnation %u)</span></h3>\n<p class=\"meta\">open <b>", c->incarnation);
    esc(o, c->open_kind);
    fputs("</b>, handshake <b>", o);
    esc(o, c->handshake);
    if (p->handshake_ns >= 0)
        fprintf(o, "</b> in <b class=\"hs\">%s</b>", sink_fmt_duration((uint64_t)p->handshake_ns,
                                                                       b[0]));
    else
        fputs("</b>", o);
    fputs(", close <b>", o);
    esc(o, c->close_kind);
    fputs("</b>; final <b>", o);
    esc(o, c->client_final_state);
    fputs(" / ", o);
    esc(o, c->server_final_state);
    fprintf(o, "</b><br>%s + %s segments, %s + %s data bytes (client + server), %s, "
               "history <code>",
            sink_fmt_count(c->packets[0], b[0]), sink_fmt_count(c->packets[1], b[1]),
            sink_fmt_count(c->data_bytes[0], b[2]), sink_fmt_count(c->data_bytes[1], b[3]),
            sink_fmt_duration(c->last_ns >= c->first_ns ? c->last_ns - c->first_ns : 0, b[4]));
    esc(o, c->zeek_history);
    fputs("</code></p>\n", o);
    ladder_svg(o, p);
    transitions_table(o, p);
    fputs("</article>\n", o);
}

static void ladders(FILE *o, const struct sink_report *r, enum sink_db_pick k, const char *id,
                    const char *title, const char *what)
{
    fprintf(o, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
    if (r->npicks[k] == 0)
        fprintf(o, "<p class=\"note\">No %s in this database.</p>\n", what);
    for (size_t i = 0; i < r->npicks[k]; i++)
        conn_article(o, id, &r->picks[k][i]);
    fputs("</section>\n", o);
}

/* The whole page to o; the caller checks the stream for errors. */
static void render(FILE *o, const struct sink_report *r)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"tcbscope\">\n<title>tcbscope report: ",
          o);
    esc(o, r->db_label);
    fprintf(o, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", report_css);
    fputs("<header>\n<h1>tcbscope report</h1>\n<p class=\"sub\">database <code id=\"db-name\">",
          o);
    esc(o, r->db_label);
    fputs("</code>", o);
    if (r->version[0]) {
        fputs(" &middot; written by tcbscope ", o);
        esc(o, r->version);
    }
    if (r->start_time[0]) {
        fputs(" on ", o);
        esc(o, r->start_time);
    }
    fputs("</p>\n</header>\n", o);
    overview(o, r);
    latency(o, r);
    fputs("<section id=\"kinds\">\n<h2>How connections opened and closed</h2>\n"
          "<div class=\"grid\">\n",
          o);
    count_table(o, r, "open-kind", "Open kind", SINK_DB_BY_OPEN_KIND);
    count_table(o, r, "handshake", "Handshake", SINK_DB_BY_HANDSHAKE);
    count_table(o, r, "close-kind", "Close kind", SINK_DB_BY_CLOSE_KIND);
    count_table(o, r, "final-states", "Final states (client / server)", SINK_DB_BY_FINAL_STATES);
    fputs("</div>\n</section>\n", o);
    ladders(o, r, SINK_DB_PICK_SLOWEST, "slowest", "Slowest handshakes", "complete handshake");
    ladders(o, r, SINK_DB_PICK_RESET, "resets", "Reset connections", "reset connection");
    ladders(o, r, SINK_DB_PICK_SIMULTANEOUS, "simultaneous", "Simultaneous opens",
            "simultaneous open");
    fputs("<footer>Ladders: client left, server right, one arrow per segment that changed a "
          "state, the new state beside each side; receipts are recorded at the receiver's "
          "answer (see docs/vantage.md). Times are seconds since the connection's first "
          "packet.</footer>\n</main>\n</body>\n</html>\n",
          o);
}

/* ---- writing ----------------------------------------------------------- */

/* Render to an open stream and close it (unless stdout); 0 or -errno. */
static int render_close(FILE *o, const struct sink_report *r, bool is_stdout)
{
    render(o, r);
    int e = 0;
    if (fflush(o) != 0 || ferror(o))
        e = errno ? errno : EIO;
    if (!is_stdout && fclose(o) != 0 && e == 0)
        e = errno ? errno : EIO;
    return -e;
}

int sink_report_write(const struct sink_report *r, const char *path, bool force,
                      char err[TCBS_ERRLEN])
{
    enum sink_target kind;
    int rc;

    if (strcmp(path, "-") == 0) {
        errno = 0;
        rc = render_close(stdout, r, true);
        if (rc == -EPIPE)
            return SINK_EPIPE;
        if (rc < 0)
            snprintf(err, TCBS_ERRLEN, "standard output: %s", strerror(-rc));
        return rc;
    }
    if ((rc = sink_target_check(path, force, &kind, err)) != 0)
        return rc;
    if (kind == SINK_TARGET_STREAM) {
        /* A device or FIFO: written in place, never renamed over. */
        FILE *o = fopen(path, "w");
        if (o == NULL) {
            rc = -errno;
            snprintf(err, TCBS_ERRLEN, "%s: %s", path, strerror(errno));
            return rc;
        }
        errno = 0;
        if ((rc = render_close(o, r, false)) < 0)
            snprintf(err, TCBS_ERRLEN, "%s: cannot write report: %s", path, strerror(-rc));
        return rc;
    }
    char *tmp = sink_temp_name(path);
    if (tmp == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        return -ENOMEM;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, TCBS_ERRLEN, "%s: cannot create report: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    /* mkstemp makes 0600; a report is as readable as any file we create. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    FILE *o = fdopen(fd, "w");
    if (o == NULL) {
        rc = -errno;
        close(fd);
        snprintf(err, TCBS_ERRLEN, "%s: cannot create report: %s", path, strerror(-rc));
    } else {
        errno = 0;
        if ((rc = render_close(o, r, false)) < 0)
            snprintf(err, TCBS_ERRLEN, "%s: cannot write report: %s", path, strerror(-rc));
        else if ((rc = sink_target_regular(path, err)) < 0)
            ; /* it became something else meanwhile: never rename over it */
        else if ((rc = rename(tmp, path)) != 0) {
            rc = -errno;
            snprintf(err, TCBS_ERRLEN, "%s: cannot rename %s into place: %s", path, tmp,
                     strerror(errno));
        }
    }
    if (rc < 0)
        unlink(tmp); /* never renamed: an existing target stays as it was */
    free(tmp);
    return rc;
}
