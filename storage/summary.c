/*
 * summary.c - the one terminal summary, rendered the same way whether its
 * numbers come from a live run (the summary sink of `analyze`) or from a
 * database written earlier (`tcbscope summary DB`, filled by dbread.c):
 * input, link types, connections by open kind, handshake, close kind and
 * final-state pair, handshake latency percentiles with a histogram, the top
 * servers by connections and by p99 handshake time, anomalies, skipped
 * frames.  Every list is ordered by count, then by name, on both paths, so
 * the same capture gives the same text.
 *
 * Memory of the live sink: fixed counters plus 32 bytes per connection
 * (server address and port, handshake time) for the server tables.
 *
 * Leaves to others: choosing the stream and whether to colour (cli/), the
 * database queries (dbread.c).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "sink_int.h"

/* Label column of the count tables: every table lines up with the others. */
#define LABEL_W 32

/* ANSI sequences, or "" without colour. */
struct sum_style {
    const char *bold, *dim, *cyan, *yellow, *reset;
};

struct sum_out {
    FILE *out;
    struct sum_style st;
};

/* Display columns of a UTF-8 string (continuation bytes take none). */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s right-aligned in width display columns. */
static void put_right(FILE *o, const char *s, size_t width)
{
    for (size_t w = display_width(s); w < width; w++)
        fputc(' ', o);
    fputs(s, o);
}

static void heading(struct sum_out *c, const char *title)
{
    fprintf(c->out, "\n%s%s%s\n", c->st.bold, title, c->st.reset);
}

/* "  label     1,234  12.3%": total 0 = no percentage column. */
static void count_line(struct sum_out *c, size_t w, const char *label, uint64_t v, uint64_t total,
                       bool pct)
{
    char b[32];
    fprintf(c->out, "  %-*s %12s", (int)w, label, sink_fmt_count(v, b));
    if (pct)
        fprintf(c->out, "  %5.1f%%", total ? 100.0 * (double)v / (double)total : 0.0);
    fputc('\n', c->out);
}

/* A titled table of counted words; zero counts left out; "(none)" when empty. */
static void count_table(struct sum_out *c, const char *title, const struct sink_db_count *r,
                        size_t n, uint64_t total)
{
    size_t w = LABEL_W, shown = 0;
    heading(c, title);
    for (size_t i = 0; i < n; i++)
        if (r[i].count > 0 && strlen(r[i].key) > w)
            w = strlen(r[i].key);
    for (size_t i = 0; i < n; i++) {
        if (r[i].count <= 0)
            continue;
        count_line(c, w, r[i].key, (uint64_t)r[i].count, total, true);
        shown++;
    }
    if (!shown)
        fprintf(c->out, "  (none)\n");
}

static uint64_t nearest_rank(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    assert(n > 0);
    return v[rank ? rank - 1 : 0];
}

/* Histogram over fixed 1-3-10 buckets from 10 µs to 10 s, trimmed to the used range. */
static void histogram(struct sum_out *c, const uint64_t *v, size_t n)
{
    static const uint64_t edge[] = {10000ULL,     30000ULL,     100000ULL,     300000ULL,
                                    1000000ULL,   3000000ULL,   10000000ULL,   30000000ULL,
                                    100000000ULL, 300000000ULL, 1000000000ULL, 3000000000ULL,
                                    10000000000ULL};
    enum { NE = sizeof(edge) / sizeof(edge[0]), NB = NE + 1, BAR = 40, LABEL = 17 };
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
    for (size_t b = lo; b <= hi && lo < NB; b++) {
        char l1[32], l2[32], label[64], num[32];
        if (b == 0)
            snprintf(label, sizeof(label), "< %s", sink_fmt_duration(edge[0], l1));
        else if (b == NE)
            snprintf(label, sizeof(label), ">= %s", sink_fmt_duration(edge[NE - 1], l1));
        else
            snprintf(label, sizeof(label), "%s - %s", sink_fmt_duration(edge[b - 1], l1),
                     sink_fmt_duration(edge[b], l2));
        int len = max ? (int)((cnt[b] * BAR + max - 1) / max) : 0;
        char bar[BAR + 1];
        memset(bar, '#', (size_t)len);
        bar[len] = '\0';
        fputs("  ", c->out);
        put_right(c->out, label, LABEL);
        fprintf(c->out, " |%s%-*s%s %s\n", c->st.cyan, BAR, bar, c->st.reset,
                sink_fmt_count(cnt[b], num));
    }
}

static void latency(struct sum_out *c, const uint64_t *v, size_t n)
{
    char b[32], t1[32], t2[32], t3[32], t4[32];
    char title[96];
    snprintf(title, sizeof(title), "Handshake latency (SYN to ACK, %s complete handshake%s)",
             sink_fmt_count(n, b), n == 1 ? "" : "s");
    heading(c, title);
    if (n == 0) {
        fprintf(c->out, "  (none)\n");
        return;
    }
    fprintf(c->out, "  p50 %s   p90 %s   p99 %s   max %s\n\n",
            sink_fmt_duration(nearest_rank(v, n, 50), t1),
            sink_fmt_duration(nearest_rank(v, n, 90), t2),
            sink_fmt_duration(nearest_rank(v, n, 99), t3), sink_fmt_duration(v[n - 1], t4));
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

static void fmt_server(char *buf, size_t len, const struct sink_db_server *s)
{
    snprintf(buf, len, strchr(s->ip, ':') ? "[%s]:%u" : "%s:%u", s->ip, s->port);
}

/* The first `top` servers of s[] having at least min_hs handshakes. */
static void server_table(struct sum_out *c, const char *title, const struct sink_db_server *s,
                         size_t n, size_t top, uint64_t min_hs)
{
    char ep[80], b1[32], b2[32], b3[32], b4[32];
    size_t w = 6, shown = 0;
    heading(c, title);
    for (size_t i = 0; i < n && shown < top; i++) {
        if (s[i].handshakes < min_hs)
            continue;
        fmt_server(ep, sizeof(ep), &s[i]);
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
        if (s[i].handshakes < min_hs)
            continue;
        fmt_server(ep, sizeof(ep), &s[i]);
        fprintf(c->out, "  %-*s %12s %12s ", (int)w, ep, sink_fmt_count(s[i].conns, b1),
                sink_fmt_count(s[i].handshakes, b2));
        put_right(c->out, s[i].handshakes ? sink_fmt_duration(s[i].p99_ns, b3) : "-", 10);
        fputc(' ', c->out);
        put_right(c->out, s[i].handshakes ? sink_fmt_duration(s[i].max_ns, b4) : "-", 10);
        fputc('\n', c->out);
        shown++;
    }
}

static void input_section(struct sum_out *c, const struct sink_summary_data *d)
{
    uint64_t f = d->frames;
    heading(c, "Input");
    count_line(c, LABEL_W, "frames read", d->frames_read, 0, false);
    if (d->filtered) /* the rows below count only these */
        count_line(c, LABEL_W, "frames matched (filter)", f, d->frames_read, true);
    count_line(c, LABEL_W, "bytes captured", d->bytes, 0, false);
    count_line(c, LABEL_W, "IPv4 packets", d->ipv4_pkts, f, true);
    count_line(c, LABEL_W, "IPv6 packets", d->ipv6_pkts, f, true);
    count_line(c, LABEL_W, "TCP segments", d->tcp_segments, f, true);
    if (d->bad_ip_csum || d->bad_tcp_csum) {
        count_line(c, LABEL_W, "bad IPv4 header checksums", d->bad_ip_csum, 0, false);
        count_line(c, LABEL_W, "bad TCP checksums", d->bad_tcp_csum, 0, false);
    }
    count_table(c, "Link types", d->links, d->nlinks, f);
}

void sink_summary_render(FILE *out, bool color, const char *title,
                         struct sink_summary_data *d, size_t top)
{
    static const char *const titles[SINK_DB_GROUP_COUNT] = {
        [SINK_DB_BY_OPEN_KIND] = "Open kind",
        [SINK_DB_BY_HANDSHAKE] = "Handshake",
        [SINK_DB_BY_CLOSE_KIND] = "Close kind",
        [SINK_DB_BY_FINAL_STATES] = "Final states (client / server)",
    };
    struct sum_out c = {.out = out};
    char b1[32], b2[32], b3[32], t1[SINK_TIME_LEN], t2[SINK_TIME_LEN];

    if (color)
        c.st = (struct sum_style){"\033[1m", "\033[2m", "\033[36m", "\033[33m", "\033[0m"};
    else
        c.st = (struct sum_style){"", "", "", "", ""};
    fprintf(out, "%s%s%s\n", c.st.bold, title, c.st.reset);
    fprintf(out, "  %s connection%s from %s frame%s in %s capture file%s\n",
            sink_fmt_count(d->conns, b1), d->conns == 1 ? "" : "s",
            sink_fmt_count(d->frames_read, b2), d->frames_read == 1 ? "" : "s", sink_fmt_count(d->files, b3), d->files == 1 ? "" : "s");
    if (d->have_times)
        fprintf(out, "  captured %s to %s\n", sink_fmt_rfc3339(d->first_ns, t1),
                sink_fmt_rfc3339(d->last_ns, t2));
    if (d->interrupted)
        fprintf(out, "  %sthe run was interrupted: results cover what was read%s\n", c.st.yellow,
                c.st.reset);
    if (d->have_input)
        input_section(&c, d);

    heading(&c, "Connections");
    count_line(&c, LABEL_W, "total", d->conns, 0, false);
    count_line(&c, LABEL_W, "IPv4", d->conns_v4, d->conns, true);
    count_line(&c, LABEL_W, "IPv6", d->conns_v6, d->conns, true);
    if (d->evicted)
        count_line(&c, LABEL_W, "evicted (--max-connections)", d->evicted, d->conns, true);
    if (d->peak_live)
        count_line(&c, LABEL_W, "peak open at once", d->peak_live, 0, false);
    if (d->peak_held)
        count_line(&c, LABEL_W, "peak records held", d->peak_held, 0, false);
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        count_table(&c, titles[g], d->groups[g], d->ngroups[g], d->conns);
    latency(&c, d->lat_ns, d->nlat);

    if (d->nservers)
        qsort(d->servers, d->nservers, sizeof(*d->servers), by_conns);
    server_table(&c, "Top servers by connections", d->servers, d->nservers, top, 0);
    if (d->nservers)
        qsort(d->servers, d->nservers, sizeof(*d->servers), by_p99);
    char p99_title[96];
    snprintf(p99_title, sizeof(p99_title),
             "Top servers by p99 handshake time (servers with %u or more handshakes)",
             SINK_SUMMARY_MIN_HANDSHAKES);
    server_table(&c, p99_title, d->servers, d->nservers, top, SINK_SUMMARY_MIN_HANDSHAKES);

    uint64_t anomalies = 0;
    for (size_t i = 0; i < d->nanom; i++)
        anomalies += (uint64_t)d->anom[i].count;
    if (anomalies)
        count_table(&c, "Anomalies", d->anom, d->nanom, 0);
    count_table(&c, "Skipped frames by reason", d->skips, d->nskips, d->frames);
}

/* Most frequent first, ties by key: the order of the database queries. */
static int by_count_then_key(const void *a, const void *b)
{
    const struct sink_db_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

void sink_summary_sort_counts(struct sink_db_count *r, size_t n)
{
    if (n)
        qsort(r, n, sizeof(*r), by_count_then_key);
}

void sink_summary_data_free(struct sink_summary_data *d)
{
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        free(d->groups[g]);
    free(d->links);
    free(d->skips);
    free(d->anom);
    free(d->lat_ns);
    free(d->servers);
    memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------------
 * The live sink.
 */

/* One connection's part of the server tables. */
struct sum_conn {
    uint8_t ip[16];
    uint16_t port;
    uint8_t version;
    uint64_t hs_ns; /* UINT64_MAX: no complete handshake with both times */
};

struct summary_sink {
    struct sink base;
    FILE *out;
    bool color;
    bool finished;
    uint64_t conns, evicted, ipv4, ipv6;
    uint64_t by_open[TCB_OPEN_KIND_COUNT + 1]; /* last slot: value out of range */
    uint64_t by_hs[TCB_HANDSHAKE_COUNT + 1];
    uint64_t by_close[TCB_CLOSE_KIND_COUNT + 1];
    uint64_t pairs[TCB_STATE_COUNT + 1][TCB_STATE_COUNT + 1];
    uint64_t anomalies[TCB_ANOMALY_COUNT + 1];
    struct sum_conn *sc;
    size_t nsc, capsc;
};

static inline unsigned clampi(unsigned v, unsigned count)
{
    return v < count ? v : count;
}

static int sum_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct summary_sink *s = (struct summary_sink *)base;

    if (s->nsc == s->capsc) {
        size_t cap = s->capsc ? s->capsc * 2 : 1024;
        struct sum_conn *p = sink_realloc(s->sc, cap * sizeof(*p));
        if (p == NULL) {
            snprintf(err, TCBS_ERRLEN, "summary: out of memory");
            return -ENOMEM;
        }
        s->sc = p;
        s->capsc = cap;
    }
    s->conns++;
    s->evicted += c->evicted;
    if (c->ip_version == 6)
        s->ipv6++;
    else
        s->ipv4++;
    s->by_open[clampi(c->open_kind, TCB_OPEN_KIND_COUNT)]++;
    s->by_hs[clampi(c->handshake, TCB_HANDSHAKE_COUNT)]++;
    s->by_close[clampi(c->close_kind, TCB_CLOSE_KIND_COUNT)]++;
    s->pairs[clampi(c->client_final_state, TCB_STATE_COUNT)]
            [clampi(c->server_final_state, TCB_STATE_COUNT)]++;
    for (uint32_t i = 0; i < c->anomaly_count; i++)
        s->anomalies[clampi(c->anomalies[i].kind, TCB_ANOMALY_COUNT)]++;

    struct sum_conn *e = &s->sc[s->nsc++];
    memset(e, 0, sizeof(*e));
    memcpy(e->ip, c->server_ip, 16);
    e->port = c->server_port;
    e->version = c->ip_version;
    e->hs_ns = UINT64_MAX;
    /* the database's rule (dbread.c HS_WHERE) */
    if (c->handshake == TCB_HS_COMPLETE &&
        (c->have & (TCB_HAVE_SYN | TCB_HAVE_ACK)) == (TCB_HAVE_SYN | TCB_HAVE_ACK) &&
        c->ack_ns >= c->syn_ns)
        e->hs_ns = c->ack_ns - c->syn_ns;
    return 0;
}

static int cmp_sum_conn(const void *a, const void *b)
{
    const struct sum_conn *x = a, *y = b;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    int r = memcmp(x->ip, y->ip, 16);
    if (r)
        return r;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    return (x->hs_ns > y->hs_ns) - (x->hs_ns < y->hs_ns); /* UINT64_MAX (none) last */
}

static bool same_server(const struct sum_conn *x, const struct sum_conn *y)
{
    return x->version == y->version && x->port == y->port && !memcmp(x->ip, y->ip, 16);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Append (key, v) to a count list of capacity cap (always enough here). */
static void add_count(struct sink_db_count *r, size_t *n, const char *key, uint64_t v)
{
    if (v == 0)
        return;
    snprintf(r[*n].key, sizeof(r[*n].key), "%s", key);
    r[*n].count = (int64_t)v;
    (*n)++;
}

/* A count list from an enum-indexed array (slot n = out of range). */
static struct sink_db_count *enum_counts(const uint64_t *v, size_t n,
                                         const char *(*name)(size_t), size_t *out_n)
{
    struct sink_db_count *r = sink_malloc((n + 1) * sizeof(*r));
    *out_n = 0;
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        add_count(r, out_n, i < n ? name(i) : "(invalid)", v[i]);
    sink_summary_sort_counts(r, *out_n);
    return r;
}

static const char *open_name(size_t i) { return tcb_open_kind_name((enum tcb_open_kind)i); }
static const char *hs_name(size_t i) { return tcb_handshake_name((enum tcb_handshake)i); }
static const char *close_name(size_t i) { return tcb_close_kind_name((enum tcb_close_kind)i); }
static const char *anom_name(size_t i) { return tcb_anomaly_name((enum tcb_anomaly)i); }
static const char *state_name(size_t i)
{
    return i < TCB_STATE_COUNT ? tcb_state_name((enum tcb_state)i) : "(invalid)";
}

/* Latencies and per-server rows from the per-connection entries (sorted here). */
static int live_servers(struct summary_sink *s, struct sink_summary_data *d)
{
    size_t nhs = 0;
    if (s->nsc)
        qsort(s->sc, s->nsc, sizeof(*s->sc), cmp_sum_conn);
    for (size_t i = 0; i < s->nsc; i++)
        nhs += s->sc[i].hs_ns != UINT64_MAX;
    d->lat_ns = sink_malloc((nhs ? nhs : 1) * sizeof(*d->lat_ns));
    d->servers = sink_malloc((s->nsc ? s->nsc : 1) * sizeof(*d->servers));
    if (d->lat_ns == NULL || d->servers == NULL)
        return -ENOMEM;
    for (size_t i = 0, j; i < s->nsc; i = j) {
        struct sink_db_server *v = &d->servers[d->nservers++];
        const struct sum_conn *e = &s->sc[i];
        size_t first_hs = d->nlat;
        memset(v, 0, sizeof(*v));
        sink_ip_str(e->version, e->ip, v->ip, sizeof(v->ip));
        v->port = e->port;
        for (j = i; j < s->nsc && same_server(&s->sc[j], e); j++) {
            v->conns++;
            if (s->sc[j].hs_ns != UINT64_MAX)
                d->lat_ns[d->nlat++] = s->sc[j].hs_ns;
        }
        v->handshakes = d->nlat - first_hs;
        if (v->handshakes) { /* sorted ascending within the server */
            v->p99_ns = nearest_rank(d->lat_ns + first_hs, v->handshakes, 99);
            v->max_ns = d->lat_ns[d->nlat - 1];
        }
    }
    if (d->nlat)
        qsort(d->lat_ns, d->nlat, sizeof(*d->lat_ns), cmp_u64);
    return 0;
}

/* Everything the renderer needs from this run. */
static int live_data(struct summary_sink *s, const struct sink_run_info *run,
                     struct sink_summary_data *d)
{
    const struct dis_stats *ds = run->dis;

    d->interrupted = run->interrupted;
    d->files = run->file_count;
    for (size_t i = 0; i < run->file_count && run->files; i++) {
        const struct dis_file_info *f = &run->files[i];
        if (f->frames == 0) /* as the captures table: no times without frames */
            continue;
        if (!d->have_times || f->first_ns < d->first_ns)
            d->first_ns = f->first_ns;
        if (!d->have_times || f->last_ns > d->last_ns)
            d->last_ns = f->last_ns;
        d->have_times = true;
    }
    if (ds != NULL) {
        d->have_input = true;
        d->frames = ds->frames;
        d->frames_read = run->files != NULL ? sink_run_frames_read(run) : ds->frames;
        d->filtered = run->filter != NULL;
        d->bytes = ds->bytes;
        d->ipv4_pkts = ds->ipv4;
        d->ipv6_pkts = ds->ipv6;
        d->tcp_segments = ds->tcp;
        d->bad_ip_csum = ds->bad_ip_csum;
        d->bad_tcp_csum = ds->bad_tcp_csum;
        d->links = sink_malloc((DIS_MAX_LINKTYPES + 1) * sizeof(*d->links));
        d->skips = sink_malloc(DIS_SKIP_COUNT * sizeof(*d->skips));
        if (d->links == NULL || d->skips == NULL)
            return -ENOMEM;
        for (uint32_t i = 0; i < ds->link_count && i < DIS_MAX_LINKTYPES; i++) {
            char num[16];
            const char *n = dis_linktype_name(ds->link[i].linktype);
            if (n == NULL) {
                snprintf(num, sizeof(num), "%d", ds->link[i].linktype);
                n = num;
            }
            add_count(d->links, &d->nlinks, n, ds->link[i].frames);
        }
        add_count(d->links, &d->nlinks, "other", ds->link_other);
        sink_summary_sort_counts(d->links, d->nlinks);
        for (int i = 1; i < DIS_SKIP_COUNT; i++)
            add_count(d->skips, &d->nskips, dis_skip_name((enum dis_skip)i), ds->skipped[i]);
        sink_summary_sort_counts(d->skips, d->nskips);
    }
    d->conns = s->conns;
    d->conns_v4 = s->ipv4;
    d->conns_v6 = s->ipv6;
    d->evicted = s->evicted;
    d->peak_live = run->tcb ? run->tcb->peak_live : 0;
    d->peak_held = run->tcb ? run->tcb->peak_held : 0;
    d->groups[SINK_DB_BY_OPEN_KIND] = enum_counts(s->by_open, TCB_OPEN_KIND_COUNT, open_name,
                                                  &d->ngroups[SINK_DB_BY_OPEN_KIND]);
    d->groups[SINK_DB_BY_HANDSHAKE] = enum_counts(s->by_hs, TCB_HANDSHAKE_COUNT, hs_name,
                                                  &d->ngroups[SINK_DB_BY_HANDSHAKE]);
    d->groups[SINK_DB_BY_CLOSE_KIND] = enum_counts(s->by_close, TCB_CLOSE_KIND_COUNT, close_name,
                                                   &d->ngroups[SINK_DB_BY_CLOSE_KIND]);
    d->anom = enum_counts(s->anomalies, TCB_ANOMALY_COUNT, anom_name, &d->nanom);
    enum { NS = TCB_STATE_COUNT + 1 };
    struct sink_db_count *p = sink_malloc(NS * NS * sizeof(*p));
    d->groups[SINK_DB_BY_FINAL_STATES] = p;
    if (p == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < NS; i++)
        for (size_t j = 0; j < NS; j++) {
            char key[64];
            snprintf(key, sizeof(key), "%s / %s", state_name(i), state_name(j));
            add_count(p, &d->ngroups[SINK_DB_BY_FINAL_STATES], key, s->pairs[i][j]);
        }
    sink_summary_sort_counts(p, d->ngroups[SINK_DB_BY_FINAL_STATES]);
    for (int g = 0; g < SINK_DB_GROUP_COUNT; g++)
        if (d->groups[g] == NULL)
            return -ENOMEM;
    if (d->anom == NULL)
        return -ENOMEM;
    return live_servers(s, d);
}

static int sum_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN])
{
    struct summary_sink *s = (struct summary_sink *)base;
    struct sink_summary_data d;
    char title[96];

    if (s->finished)
        return 0;
    s->finished = true;
    memset(&d, 0, sizeof(d));
    if (live_data(s, run, &d) != 0) {
        sink_summary_data_free(&d);
        snprintf(err, TCBS_ERRLEN, "summary: out of memory");
        return -ENOMEM;
    }
    snprintf(title, sizeof(title), "tcbscope %s summary", run->version ? run->version : "");
    sink_summary_render(s->out, s->color, title, &d, SINK_SUMMARY_TOP);
    sink_summary_data_free(&d);
    if (fflush(s->out) != 0 || ferror(s->out)) {
        int e = errno ? errno : EIO;
        if (e == EPIPE) {
            snprintf(err, TCBS_ERRLEN, "summary: reader went away (broken pipe)");
            return SINK_EPIPE;
        }
        snprintf(err, TCBS_ERRLEN, "summary: write failed: %s", strerror(e));
        return -e;
    }
    return 0;
}

static void sum_destroy(struct sink *base)
{
    struct summary_sink *s = (struct summary_sink *)base;

    if (s == NULL)
        return;
    free(s->sc);
    free(s);
}

static const struct sink_ops summary_ops = {
    .name = "summary",
    .conn = sum_conn,
    .finish = sum_finish,
    .destroy = sum_destroy,
};

struct sink *sink_summary_new(FILE *out, bool color)
{
    struct summary_sink *s;

    assert(out != NULL);
    s = sink_malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->base.ops = &summary_ops;
    s->out = out;
    s->color = color;
    return &s->base;
}
