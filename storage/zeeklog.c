/*
 * zeeklog.c - the Zeek conn.log sink: Zeek's TSV format (the #separator,
 * #set_separator, #empty_field, #unset_field, #path, #open, #fields and
 * #types headers, one line per connection, #close), so that zeek-cut and
 * the tools built for conn.log read it.
 *
 * Orientation: Zeek names the endpoints originator and responder, which is
 * usually our client and server, but Zeek flips roles in its own ways
 * (analyzer/zeek.c); the analyzer says which endpoint ends up the
 * originator (tcb_conn_info.zeek_orig).
 *
 * Values tcbscope does not have are unset ("-"): local_orig, local_resp,
 * tunnel_parents.  missed_bytes is both directions' missed bytes together
 * (Zeek keeps one count per connection); orig_ip_bytes and resp_ip_bytes
 * are the IP lengths each endpoint sent, as Zeek sums them.  service is
 * the IANA name of the responder's port (not Zeek's payload detection).
 * uid is "C" + the connection id in base62 (C1 = id 1), stable for a
 * capture and the way back to `tcbscope show DB ID`.
 *
 * Leaves to others: the values (analyzer/, sink_conn_row_fill), the file
 * and its errors (outfile.c), printing errors (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"
#include "sink_int.h"

#define ZEEK_BUF (256 * 1024)
#define ZEEK_FLUSH_AT (64 * 1024)

static const char zeek_fields[] =
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
    "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n";
static const char zeek_types[] =
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
    "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

/* "C" + base62 of id into buf (at least 16 bytes). */
static const char *zeek_uid(uint64_t id, char buf[16])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;

    do {
        tmp[n++] = digits[id % 62];
        id /= 62;
    } while (id && n < 12);
    buf[0] = 'C';
    for (int i = 0; i < n; i++)
        buf[1 + i] = tmp[n - 1 - i];
    buf[1 + n] = '\0';
    return buf;
}

/* Zeek's "#open"/"#close" time stamp, local time like Zeek's. */
static const char *zeek_stamp(char buf[32])
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL || strftime(buf, 32, "%Y-%m-%d-%H-%M-%S", &tm) == 0)
        snprintf(buf, 32, "-");
    return buf;
}

static int zk_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct sink_stream *s = (struct sink_stream *)base;
    struct sink_out *o = &s->out;
    const struct sink_conn_row *r = &s->row;
    char uid[16];

    if (o->failed)
        return sink_out_fail(o, o->failed, err, "%s", "");
    sink_conn_row_fill(&s->row, c);
    int orig = c->zeek_orig;
    int resp = !orig;
    const char *oh = orig == TCB_CLIENT ? r->client_ip : r->server_ip;
    const char *rh = orig == TCB_CLIENT ? r->server_ip : r->client_ip;
    unsigned op = orig == TCB_CLIENT ? c->client_port : c->server_port;
    unsigned rp = orig == TCB_CLIENT ? c->server_port : c->client_port;
    uint64_t dur = r->v[SINK_COL_duration_ns].u;
    const char *svc = sink_service_name((uint16_t)rp);
    int rc = sink_out_printf(
        o, err,
        "%llu.%06llu\t%s\t%s\t%u\t%s\t%u\ttcp\t%s\t%llu.%06llu\t%llu\t%llu\t%s\t-\t-\t%llu\t%s\t%llu"
        "\t%llu\t%llu\t%llu\t-\n",
        (unsigned long long)(c->first_ns / 1000000000ULL),
        (unsigned long long)(c->first_ns % 1000000000ULL / 1000), zeek_uid(c->id, uid), oh, op,
        rh, rp, svc ? svc : "-", (unsigned long long)(dur / 1000000000ULL),
        (unsigned long long)(dur % 1000000000ULL / 1000),
        (unsigned long long)c->data_bytes[orig], (unsigned long long)c->data_bytes[resp],
        r->zeek_conn_state[0] ? r->zeek_conn_state : "-",
        (unsigned long long)(c->missed_bytes[0] + c->missed_bytes[1]),
        r->zeek_history[0] ? r->zeek_history : "(empty)", (unsigned long long)c->packets[orig],
        (unsigned long long)c->ip_bytes[orig], (unsigned long long)c->packets[resp],
        (unsigned long long)c->ip_bytes[resp]);
    if (rc == 0 && o->len >= ZEEK_FLUSH_AT)
        rc = sink_out_flush(o, err);
    return rc;
}

/* Zeek's last line, written at finish. */
static int zk_trailer(struct sink_stream *s, char err[TCBS_ERRLEN])
{
    char stamp[32];
    return sink_out_printf(&s->out, err, "#close\t%s\n", zeek_stamp(stamp));
}

static const struct sink_ops zeek_ops = {
    .name = "zeek",
    .conn = zk_conn,
    .finish = sink_stream_finish,
    .destroy = sink_stream_destroy,
};

int sink_zeek_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN])
{
    struct sink_stream *s;
    char stamp[32];
    int rc = sink_stream_open(&s, &zeek_ops, path, force, ZEEK_BUF, err);

    *out = NULL;
    if (rc != 0)
        return rc;
    s->trailer = zk_trailer;
    rc = sink_out_printf(&s->out, err,
                         "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
                         "#unset_field\t-\n#path\tconn\n#open\t%s\n%s%s",
                         zeek_stamp(stamp), zeek_fields, zeek_types);
    if (rc != 0) {
        sink_stream_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
