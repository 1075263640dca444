/*
 * csv.c - the CSV sink: one header row with the columns of the SQLite
 * `connections` table, then one row per connection, as RFC 4180 says:
 * CRLF line ends, a field with a comma, quote, CR or LF in double quotes
 * with its quotes doubled.  NULL is an empty field.  The timeline and
 * anomalies are not in it (they are rows of their own in SQLite/NDJSON).
 *
 * Leaves to others: the values (sink_conn_row_fill), the file and its
 * errors (outfile.c), printing errors (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "sink_int.h"

#define CSV_BUF (256 * 1024)
#define CSV_FLUSH_AT (64 * 1024)


/* Append one field, quoted only when RFC 4180 requires it. */
static int put_field(struct sink_out *o, const char *s, char err[TCBS_ERRLEN])
{
    size_t n = strlen(s);
    int rc = sink_out_reserve(o, 2 * n + 3, err);

    if (rc != 0)
        return rc;
    char *p = o->buf + o->len;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        memcpy(p, s, n);
        p += n;
    } else {
        *p++ = '"';
        for (; *s; s++) {
            if (*s == '"')
                *p++ = '"';
            *p++ = *s;
        }
        *p++ = '"';
    }
    o->len = (size_t)(p - o->buf);
    return 0;
}

static int csv_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct sink_stream *s = (struct sink_stream *)base;
    struct sink_out *o = &s->out;
    int rc = 0;

    if (o->failed)
        return sink_out_fail(o, o->failed, err, "%s", "");
    sink_conn_row_fill(&s->row, c);
    for (int i = 0; i < SINK_COL_COUNT && rc == 0; i++) {
        const struct sink_val *v = &s->row.v[i];
        char num[24];
        const char *text = "";
        if (v->type == SINK_V_INT) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)v->u);
            text = num;
        } else if (v->type == SINK_V_TEXT) {
            text = v->s;
        }
        if (i > 0)
            rc = sink_out_printf(o, err, ",");
        if (rc == 0)
            rc = put_field(o, text, err);
    }
    if (rc == 0)
        rc = sink_out_printf(o, err, "\r\n");
    if (rc == 0 && o->len >= CSV_FLUSH_AT)
        rc = sink_out_flush(o, err);
    return rc;
}

static const struct sink_ops csv_ops = {
    .name = "csv",
    .conn = csv_conn,
    .finish = sink_stream_finish,
    .destroy = sink_stream_destroy,
};

int sink_csv_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN])
{
    struct sink_stream *s;
    int rc = sink_stream_open(&s, &csv_ops, path, force, CSV_BUF, err);

    *out = NULL;
    if (rc != 0)
        return rc;
    for (int i = 0; i < SINK_COL_COUNT && rc == 0; i++)
        rc = sink_out_printf(&s->out, err, "%s%s", i ? "," : "", sink_conn_cols[i].name);
    if (rc == 0)
        rc = sink_out_printf(&s->out, err, "\r\n");
    if (rc != 0) {
        sink_stream_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
