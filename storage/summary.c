/*
 * summary.c - the terminal summary sink: counts connections as they finish
 * and prints one readable report at finish (input, link types, skips,
 * connections by open/handshake/close kind and final-state pair, handshake
 * latency percentiles, anomalies).
 *
 * Memory: fixed counters plus one uint32 (microseconds) per complete
 * handshake, so O(connections) at 4 bytes each.
 *
 * Leaves to others: choosing the stream and whether to colour (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "sink_int.h"

#define SUMMARY_TOP_PAIRS 10

struct summary_sink {
    struct sink base;
    FILE *out;
    bool color;
    bool finished;
    uint64_t conns, evicted;
    uint64_t ipv4, ipv6;
    uint64_t by_open[TCB_OPEN_KIND_COUNT + 1]; /* last slot: value out of range */
    uint64_t by_hs[TCB_HANDSHAKE_COUNT + 1];
    uint64_t by_close[TCB_CLOSE_KIND_COUNT + 1];
    uint64_t pairs[TCB_STATE_COUNT + 1][TCB_STATE_COUNT + 1];
    uint64_t anomalies[TCB_ANOMALY_COUNT + 1];
    uint32_t *lat_us; /* syn -> ack of complete handshakes */
    size_t nlat, caplat;
};

static inline unsigned clampi(unsigned v, unsigned count)
{
    return v < count ? v : count;
}

static int sum_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct summary_sink *s = (struct summary_sink *)base;

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

    if (c->handshake == TCB_HS_COMPLETE && (c->have & (TCB_HAVE_SYN | TCB_HAVE_ACK)) ==
                                               (TCB_HAVE_SYN | TCB_HAVE_ACK)) {
        uint64_t us = c->ack_ns >= c->syn_ns ? (c->ack_ns - c->syn_ns) / 1000 : 0;
        if (s->nlat == s->caplat) {
            size_t cap = s->caplat ? s->caplat * 2 : 1024;
            uint32_t *p = sink_realloc(s->lat_us, cap * sizeof(*p));
            if (p == NULL) {
                snprintf(err, TCBS_ERRLEN, "summary: out of memory");
                return -ENOMEM;
            }
            s->lat_us = p;
            s->caplat = cap;
        }
        s->lat_us[s->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    return 0;
}

/* 1234567 -> "1,234,567" */
static const char *num(uint64_t v, char buf[32])
{
    return sink_fmt_count(v, buf);
}

static void heading(struct summary_sink *s, const char *title)
{
    if (s->color)
        fprintf(s->out, "\n\033[1m%s\033[0m\n", title);
    else
        fprintf(s->out, "\n%s\n", title);
}

/* "  label ........ 1,234  (12.3%)": total 0 = no percentage. */
static void row(struct summary_sink *s, const char *label, uint64_t v, uint64_t total)
{
    char b[32];

    if (total)
        fprintf(s->out, "  %-34s %15s  %5.1f%%\n", label, num(v, b), 100.0 * (double)v / (double)total);
    else
        fprintf(s->out, "  %-34s %15s\n", label, num(v, b));
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n): the smallest value with at
 * least p% of the values at or below it. */
static uint32_t percentile(const uint32_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    assert(n > 0);
    return v[rank ? rank - 1 : 0];
}

static void print_ms(struct summary_sink *s, const char *label, uint32_t us)
{
    fprintf(s->out, "  %-34s %11u.%03u ms\n", label, us / 1000, us % 1000);
}

static void print_counts(struct summary_sink *s, const char *title, const uint64_t *counts,
                         size_t n, const char *(*name)(size_t))
{
    heading(s, title);
    for (size_t i = 0; i <= n; i++)
        if (counts[i])
            row(s, i < n ? name(i) : "(invalid)", counts[i], s->conns);
}

static const char *open_name(size_t i)
{
    return tcb_open_kind_name((enum tcb_open_kind)i);
}
static const char *hs_name(size_t i)
{
    return tcb_handshake_name((enum tcb_handshake)i);
}
static const char *close_name(size_t i)
{
    return tcb_close_kind_name((enum tcb_close_kind)i);
}
static const char *anom_name(size_t i)
{
    return tcb_anomaly_name((enum tcb_anomaly)i);
}

static void print_pairs(struct summary_sink *s)
{
    enum { N = TCB_STATE_COUNT + 1 };
    bool used[N][N] = {{false}};

    heading(s, "Final states (client / server)");
    for (int k = 0; k < SUMMARY_TOP_PAIRS; k++) {
        int bi = -1, bj = -1;
        uint64_t best = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                if (!used[i][j] && s->pairs[i][j] > best) {
                    best = s->pairs[i][j];
                    bi = i;
                    bj = j;
                }
        if (bi < 0)
            break;
        used[bi][bj] = true;
        char label[64];
        snprintf(label, sizeof(label), "%s / %s",
                 bi < TCB_STATE_COUNT ? tcb_state_name((enum tcb_state)bi) : "(invalid)",
                 bj < TCB_STATE_COUNT ? tcb_state_name((enum tcb_state)bj) : "(invalid)");
        row(s, label, best, s->conns);
    }
}

static void print_input(struct summary_sink *s, const struct sink_run_info *run)
{
    const struct dis_stats *d = run->dis;
    char b[32];

    heading(s, "Input");
    row(s, "files", run->file_count, 0);
    if (d == NULL)
        return;
    uint64_t read = sink_run_frames_read(run);
    row(s, "frames read", read, 0);
    if (run->filter != NULL) /* the rows below count only these */
        row(s, "frames matched (filter)", d->frames, read);
    row(s, "bytes captured", d->bytes, 0);
    row(s, "IPv4 packets", d->ipv4, d->frames);
    row(s, "IPv6 packets", d->ipv6, d->frames);
    row(s, "TCP segments", d->tcp, d->frames);
    if (d->bad_ip_csum || d->bad_tcp_csum) {
        row(s, "bad IPv4 header checksums", d->bad_ip_csum, 0);
        row(s, "bad TCP checksums", d->bad_tcp_csum, 0);
    }

    if (d->link_count || d->link_other) {
        heading(s, "Link types");
        for (uint32_t i = 0; i < d->link_count && i < DIS_MAX_LINKTYPES; i++) {
            const char *n = dis_linktype_name(d->link[i].linktype);
            if (n == NULL) {
                snprintf(b, sizeof(b), "%d", d->link[i].linktype);
                n = b;
            }
            char label[48];
            snprintf(label, sizeof(label), "%s", n);
            row(s, label, d->link[i].frames, d->frames);
        }
        if (d->link_other)
            row(s, "other", d->link_other, d->frames);
    }

    uint64_t skipped = 0;
    for (int i = 1; i < DIS_SKIP_COUNT; i++)
        skipped += d->skipped[i];
    if (skipped) {
        heading(s, "Skipped frames");
        for (int i = 1; i < DIS_SKIP_COUNT; i++)
            if (d->skipped[i])
                row(s, dis_skip_name((enum dis_skip)i), d->skipped[i], d->frames);
        row(s, "total", skipped, d->frames);
    }
}

static int sum_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN])
{
    struct summary_sink *s = (struct summary_sink *)base;
    FILE *o = s->out;

    if (s->finished)
        return 0;
    s->finished = true;
    fprintf(o, "%stcbscope %s summary%s\n", s->color ? "\033[1m" : "",
            run->version ? run->version : "", s->color ? "\033[0m" : "");
    if (run->interrupted)
        fprintf(o, "%sINTERRUPTED: results cover only the frames read before the stop%s\n",
                s->color ? "\033[1;33m" : "", s->color ? "\033[0m" : "");
    print_input(s, run);

    heading(s, "Connections");
    row(s, "total", s->conns, 0);
    row(s, "IPv4", s->ipv4, s->conns);
    row(s, "IPv6", s->ipv6, s->conns);
    if (s->evicted)
        row(s, "evicted (--max-connections)", s->evicted, s->conns);
    if (run->tcb != NULL && run->tcb->peak_live)
        row(s, "peak live", run->tcb->peak_live, 0);
    if (s->conns) {
        print_counts(s, "Open kind", s->by_open, TCB_OPEN_KIND_COUNT, open_name);
        print_counts(s, "Handshake", s->by_hs, TCB_HANDSHAKE_COUNT, hs_name);
        print_counts(s, "Close kind", s->by_close, TCB_CLOSE_KIND_COUNT, close_name);
        print_pairs(s);
    }

    heading(s, "Handshake latency (SYN to ACK, complete handshakes)");
    if (s->nlat == 0) {
        fprintf(o, "  %-34s\n", "no complete handshake with both SYN and ACK seen");
    } else {
        qsort(s->lat_us, s->nlat, sizeof(*s->lat_us), cmp_u32);
        row(s, "handshakes", s->nlat, 0);
        print_ms(s, "median", percentile(s->lat_us, s->nlat, 50));
        print_ms(s, "p90", percentile(s->lat_us, s->nlat, 90));
        print_ms(s, "p99", percentile(s->lat_us, s->nlat, 99));
        print_ms(s, "max", s->lat_us[s->nlat - 1]);
    }

    uint64_t anomalies = 0;
    for (int i = 0; i <= TCB_ANOMALY_COUNT; i++)
        anomalies += s->anomalies[i];
    if (anomalies)
        print_counts(s, "Anomalies", s->anomalies, TCB_ANOMALY_COUNT, anom_name);

    if (fflush(o) != 0 || ferror(o)) {
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
    free(s->lat_us);
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
