/*
 * json.c - the NDJSON sink: one JSON object per connection per line, keys
 * identical to the columns of the SQLite `connections` table plus the arrays
 * `transitions` and `anomalies` (docs/connection.schema.json).
 *
 * Lines are formatted by a small writer into one buffer that is written out
 * every ~64 KB and at finish, so `tail -f` sees progress.  Why not a json-c
 * object tree: measured on 200k synthetic connections it stayed under the
 * 100 MB/s target (tests/storage/bench_storage.c compares both), while
 * this writer did several times better; and every string here is either fixed
 * vocabulary, a number or an inet_ntop() address.  The only text that comes
 * from the analyzer (zeek_conn_state, zeek_history) is escaped anyway.  The
 * tests parse every line with json-c's tokener.
 *
 * Every target is written in place, never renamed (consumers may tail a
 * file; a device, FIFO or /dev/fd/N is a stream); "-" is stdout.
 * A reader that goes away (`| head -1`) ends the run quietly with
 * SINK_EPIPE: SIGPIPE is held off around our writes, so the cli need not
 * ignore it (the file, buffer and pipe handling is outfile.c's).
 *
 * Leaves to others: what the values mean (analyzer/), printing errors (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "sink_int.h"

#define JSON_FLUSH_AT (64 * 1024) /* write out once this much is buffered */
#define JSON_BUF_INIT (256 * 1024)

/* Upper bounds of the bytes one line needs (checked by tests with extremes). */
#define JSON_LINE_FIXED 4096
#define JSON_PER_EVENT 256
#define JSON_PER_ANOM 192


/* `,"name":` for every column, made from the one column list. */
static const struct {
    const char *s;
    size_t len;
} json_keys[SINK_COL_COUNT] = {
#define SINK_X(n, d, v) {",\"" #n "\":", sizeof(",\"" #n "\":") - 1},
    SINK_CONN_COLUMN_LIST(SINK_X)
#undef SINK_X
};

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof(tmp);

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--t = digits2[d + 1];
        *--t = digits2[d];
    }
    if (v >= 10) {
        *--t = digits2[v * 2 + 1];
        *--t = digits2[v * 2];
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

static inline char *put_raw(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_raw(p, lit, sizeof(lit) - 1)

/* A JSON string; bytes outside printable ASCII become \u00XX (at most 6x). */
static char *put_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    *p++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            *p++ = (char)ch;
        } else if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else {
            p = PUT_LIT(p, "\\u00");
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p++ = '"';
    return p;
}

/* Vocabulary words need no escaping: quote and copy. */
static inline char *put_word(char *p, const char *w)
{
    size_t n = strlen(w);
    *p++ = '"';
    memcpy(p, w, n);
    p += n;
    *p++ = '"';
    return p;
}

static char *put_frame(char *p, uint64_t frame)
{
    return frame ? put_u64(p, frame) : PUT_LIT(p, "null");
}

static char *format_line(char *p, const struct sink_conn_row *row, const struct tcb_conn_info *c)
{
    *p++ = '{';
    for (int i = 0; i < SINK_COL_COUNT; i++) {
        const struct sink_val *v = &row->v[i];
        /* skip the leading comma of the first key */
        p = i ? put_raw(p, json_keys[i].s, json_keys[i].len)
              : put_raw(p, json_keys[i].s + 1, json_keys[i].len - 1);
        if (v->type == SINK_V_INT)
            p = put_u64(p, v->u);
        else if (v->type == SINK_V_TEXT)
            p = put_str(p, v->s);
        else
            p = PUT_LIT(p, "null");
    }
    p = PUT_LIT(p, ",\"transitions\":[");
    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        p = i ? PUT_LIT(p, ",{\"ts_ns\":") : PUT_LIT(p, "{\"ts_ns\":");
        p = put_u64(p, e->ts_ns);
        p = PUT_LIT(p, ",\"endpoint\":");
        p = put_word(p, tcb_endpoint_name(e->endpoint));
        p = PUT_LIT(p, ",\"from_state\":");
        p = put_word(p, tcb_state_name(e->from));
        p = PUT_LIT(p, ",\"to_state\":");
        p = put_word(p, tcb_state_name(e->to));
        p = PUT_LIT(p, ",\"cause\":");
        p = put_word(p, tcb_cause_name(e->cause));
        p = PUT_LIT(p, ",\"frame\":");
        p = put_frame(p, e->frame);
        *p++ = '}';
    }
    p = PUT_LIT(p, "],\"anomalies\":[");
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        const struct tcb_anom *a = &c->anomalies[i];
        p = i ? PUT_LIT(p, ",{\"ts_ns\":") : PUT_LIT(p, "{\"ts_ns\":");
        p = put_u64(p, a->ts_ns);
        p = PUT_LIT(p, ",\"endpoint\":");
        p = put_word(p, tcb_endpoint_name(a->endpoint));
        p = PUT_LIT(p, ",\"kind\":");
        p = put_word(p, tcb_anomaly_name(a->kind));
        p = PUT_LIT(p, ",\"frame\":");
        p = put_frame(p, a->frame);
        *p++ = '}';
    }
    p = PUT_LIT(p, "]}\n");
    return p;
}

static int js_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct sink_stream *s = (struct sink_stream *)base;
    struct sink_out *o = &s->out;
    size_t need = JSON_LINE_FIXED + (size_t)c->event_count * JSON_PER_EVENT +
                  (size_t)c->anomaly_count * JSON_PER_ANOM;
    int rc = sink_out_reserve(o, need, err);

    if (rc != 0)
        return rc;
    sink_conn_row_fill(&s->row, c);
    char *end = format_line(o->buf + o->len, &s->row, c);
    o->len = (size_t)(end - o->buf);
    assert(o->len <= o->cap);
    if (o->len >= JSON_FLUSH_AT)
        return sink_out_flush(o, err);
    return 0;
}

static const struct sink_ops json_ops = {
    .name = "json",
    .conn = js_conn,
    .finish = sink_stream_finish,
    .destroy = sink_stream_destroy,
};


int sink_json_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN])
{
    struct sink_stream *s;
    int rc = sink_stream_open(&s, &json_ops, path, force, JSON_BUF_INIT, err);

    *out = rc == 0 ? &s->base : NULL;
    return rc;
}
