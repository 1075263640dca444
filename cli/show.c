/*
 * show.c - `tcbscope show DB CONN`: one connection's state timeline as a
 * two-column ladder diagram (client left, server right, one arrow per
 * segment that changed a state, each endpoint's new state beside it), like
 * the figures of RFC 9293 §3.5.  --packets adds every segment of the
 * connection, re-read from the capture files the database names.
 *
 * Arrows come from the transition causes and frame numbers (the database
 * keeps transitions, not segments): snd_* at an endpoint is a segment it
 * sent; receipts of a SYN, SYN/ACK or FIN are recorded at the receiver's
 * answer (docs/vantage.md rule 2), so rcv_syn/rcv_synack/rcv_fin are also
 * segments sent by that endpoint; rcv_ack_of_syn, rcv_ack_of_fin and
 * rcv_rst are segments sent by the other one.
 *
 * Leaves to others: the queries (storage/dbread.c), cutting transitions
 * into ladder steps (storage/ladder.c), reading and decoding the captures
 * (dissectors/).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "seq.h"

static const char show_usage[] =
    "usage: tcbscope show [options] DB CONN\n"
    "\n"
    "Draw one connection's state timeline as a ladder diagram: client on the\n"
    "left, server on the right, one arrow per segment that changed a state,\n"
    "with the time since the connection's first packet and the frame number.\n"
    "\n"
    "CONN is a connection id (the `id` column), or a 4-tuple in either order:\n"
    "  10.0.0.1:40000-10.0.0.2:80      [2001:db8::1]:40000-[2001:db8::2]:80\n"
    "A tuple reused by several incarnations shows all of them; append #N\n"
    "(e.g. 10.0.0.1:40000-10.0.0.2:80#2) to show only the Nth.\n"
    "\n"
    "options:\n"
    "  -p, --packets  also list every segment of the connection, re-read from the\n"
    "                 capture files recorded in DB (relative names are tried as\n"
    "                 given, then beside DB): relative seq/ack, flags, length,\n"
    "                 window, options, retransmission marks, state changes\n"
    "  -h, --help     this help\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 no such connection, DB or capture unreadable\n";

struct conn_spec {
    bool by_id;
    uint64_t id;
    char ip_a[48], ip_b[48];
    uint16_t port_a, port_b;
    uint32_t incarnation; /* 0 = all */
};

static bool parse_conn(const char *s, struct conn_spec *c)
{
    memset(c, 0, sizeof(*c));
    char *end;
    if (s[0] >= '0' && s[0] <= '9' && !strpbrk(s, ":-.[")) {
        errno = 0;
        c->id = strtoull(s, &end, 10);
        c->by_id = true;
        return !errno && *end == '\0';
    }
    size_t len = strlen(s);
    const char *hash = strrchr(s, '#');
    if (hash) {
        errno = 0;
        unsigned long n = strtoul(hash + 1, &end, 10);
        if (errno || end == hash + 1 || *end || n == 0 || n > UINT32_MAX)
            return false;
        c->incarnation = (uint32_t)n;
        len = (size_t)(hash - s);
    }
    /* The separator: the '-' after the first endpoint's port. */
    const char *p = s;
    if (*p == '[') {
        p = memchr(s, ']', len);
        if (!p)
            return false;
    }
    const char *dash = memchr(p, '-', len - (size_t)(p - s));
    if (!dash)
        return false;
    return cli_parse_endpoint(s, (size_t)(dash - s), c->ip_a, &c->port_a, NULL) &&
           cli_parse_endpoint(dash + 1, len - (size_t)(dash + 1 - s), c->ip_b, &c->port_b, NULL);
}

/* ---- ladder ------------------------------------------------------------ */

enum { ARROW_W = 34, STATE_W = 13 };

/* "----- SYN ----------->" or "<---------- SYN,ACK -----", ARROW_W wide. */
static void arrow(char *buf, int dir, const char *label)
{
    int lw = (int)strlen(label) + 2, pad = ARROW_W - lw;
    int lead = dir == TCB_CLIENT ? 5 : pad - 5;
    for (int i = 0; i < ARROW_W; i++)
        buf[i] = '-';
    buf[ARROW_W] = '\0';
    memcpy(buf + lead, " ", 1);
    memcpy(buf + lead + 1, label, strlen(label));
    buf[lead + lw - 1] = ' ';
    if (dir == TCB_CLIENT)
        buf[ARROW_W - 1] = '>';
    else
        buf[0] = '<';
}

static void ladder_row(FILE *o, const struct cli_style *st, const char *t, const char *frame,
                       const char *cst, const char *mid, const char *midcolor, const char *sst)
{
    fprintf(o, "  %11s %6s  %s%-*s%s %s%-*s%s %s%s%s\n", t, frame, st->green, STATE_W, cst,
            st->reset, midcolor, ARROW_W, mid, st->reset, st->green, sst, st->reset);
}

static void ladder(FILE *o, const struct cli_style *st, const struct sink_db_conn *c,
                   const struct tcb_event *ev, size_t n)
{
    char cep[80], sep[80];
    cli_fmt_endpoint(cep, sizeof(cep), c->client_ip, c->client_port);
    cli_fmt_endpoint(sep, sizeof(sep), c->server_ip, c->server_port);
    fprintf(o, "\n  %s%11s %6s  %-*s %-*s %s%s\n", st->dim, "time", "frame", STATE_W, "client",
            ARROW_W, "", "server", st->reset);
    const char *final[2] = {c->client_final_state, c->server_final_state}, *start[2];
    sink_ladder_start(ev, n, final, start);
    fprintf(o, "  %11s %6s  %s%-*s %s%s\n", "", "", st->dim, STATE_W + ARROW_W + 1, cep, sep,
            st->reset);
    ladder_row(o, st, "", "", start[TCB_CLIENT], "", "", start[TCB_SERVER]);

    for (size_t i = 0; i < n;) {
        char t[32], fr[24], mid[ARROW_W + 1] = "";
        struct sink_ladder_step sp;
        size_t j = sink_ladder_step(ev, n, i, &sp);
        size_t nc = sp.nto[TCB_CLIENT], ns = sp.nto[TCB_SERVER];
        unsigned fl = sp.flags;
        int dir = sp.sender;
        cli_reltime(ev[i].ts_ns >= c->first_ns ? ev[i].ts_ns - c->first_ns : 0, t);
        if (ev[i].frame)
            snprintf(fr, sizeof(fr), "%llu", (unsigned long long)ev[i].frame);
        else
            fr[0] = '\0';
        const char *color = "";
        if (dir >= 0) {
            char label[40];
            sink_flag_label(fl, label, sizeof(label));
            arrow(mid, dir, label[0] ? label : "?");
            color = fl & DIS_TH_RST ? st->red : dir == TCB_CLIENT ? st->cyan : st->yellow;
        } else {
            snprintf(mid, sizeof(mid), "   (%s)", tcb_cause_name((enum tcb_cause)ev[i].cause));
            color = st->dim;
        }
        /* Several changes of one side on one segment: one row each, the arrow on the last. */
        size_t rows = nc > ns ? nc : ns;
        if (rows == 0)
            rows = 1;
        for (size_t r = 0; r < rows; r++) {
            bool last = r + 1 == rows;
            ladder_row(o, st, r == 0 ? t : "", r == 0 ? fr : "",
                       r < nc ? tcb_state_name((enum tcb_state)sp.to[TCB_CLIENT][r]) : "",
                       last ? mid : "", last ? color : "",
                       r < ns ? tcb_state_name((enum tcb_state)sp.to[TCB_SERVER][r]) : "");
        }
        i = j;
    }
}

static void conn_header(FILE *o, const struct cli_style *st, const struct sink_db_conn *c)
{
    char cep[80], sep[80], b1[32], b2[32], b3[32], b4[32], d[32], t[SINK_TIME_LEN];
    cli_fmt_endpoint(cep, sizeof(cep), c->client_ip, c->client_port);
    cli_fmt_endpoint(sep, sizeof(sep), c->server_ip, c->server_port);
    fprintf(o, "%sconnection %llu%s  %s -> %s  (IPv%u", st->bold, (unsigned long long)c->id,
            st->reset, cep, sep, c->ip_version);
    if (c->vlan >= 0)
        fprintf(o, ", VLAN %d", c->vlan);
    fprintf(o, ", incarnation %u)  started %s\n", c->incarnation, sink_fmt_rfc3339(c->first_ns, t));
    fprintf(o, "  open %s, handshake %s, close %s; final %s / %s\n", c->open_kind, c->handshake,
            c->close_kind, c->client_final_state, c->server_final_state);
    fprintf(o, "  %s + %s segments, %s + %s data bytes (client + server), %s, history %s\n",
            cli_num(c->packets[0], b1), cli_num(c->packets[1], b2), cli_num(c->data_bytes[0], b3),
            cli_num(c->data_bytes[1], b4), cli_duration(c->last_ns - c->first_ns, d),
            c->zeek_history);
}

/* ---- packets ----------------------------------------------------------- */

struct dir_track {
    bool seen, have_ws;
    uint8_t ws;
    uint32_t base, next, last_ack;
    uint16_t last_win;
    uint32_t *starts; /* seq of segments seen (for retransmission vs out-of-order) */
    size_t nstarts, cap;
};

static bool seen_start(struct dir_track *d, uint32_t seq)
{
    for (size_t i = 0; i < d->nstarts; i++)
        if (d->starts[i] == seq)
            return true;
    return false;
}

static void add_start(struct dir_track *d, uint32_t seq)
{
    if (d->nstarts == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        uint32_t *p = realloc(d->starts, cap * sizeof(*p));
        if (!p)
            return; /* marks only: losing one is harmless */
        d->starts = p;
        d->cap = cap;
    }
    d->starts[d->nstarts++] = seq;
}

static void opts_text(const struct dis_pkt *p, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
#define OPT_ADD(...) o += (size_t)snprintf(buf + o, len > o ? len - o : 0, __VA_ARGS__)
    if (p->opt.present & DIS_OPT_MSS)
        OPT_ADD("%smss=%u", o ? " " : "", p->opt.mss);
    if (p->opt.present & DIS_OPT_SACK_PERM)
        OPT_ADD("%ssackOK", o ? " " : "");
    if (p->opt.present & DIS_OPT_TS)
        OPT_ADD("%sTS", o ? " " : "");
    if (p->opt.present & DIS_OPT_WSCALE)
        OPT_ADD("%swscale=%u", o ? " " : "", p->opt.wscale);
    if (p->opt.present & DIS_OPT_SACK)
        OPT_ADD("%ssack=%u", o ? " " : "", p->opt.sack_count);
    if (p->opt.present & DIS_OPT_TFO)
        OPT_ADD("%stfo", o ? " " : "");
    if (p->flags_odd & DIS_ODD_OPT_MALFORMED)
        OPT_ADD("%s[bad options]", o ? " " : "");
#undef OPT_ADD
    if (o >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

static bool same_ip(const uint8_t a[16], const char *text, uint8_t ver)
{
    char buf[64];
    return strcmp(sink_ip_str(ver, a, buf, sizeof(buf)), text) == 0;
}

/* Resolve a recorded capture name: as given, else beside the database. */
static const char *resolve_capture(const char *name, const char *db, char *buf, size_t len)
{
    if (access(name, R_OK) == 0 || name[0] == '/')
        return name;
    const char *slash = strrchr(db, '/');
    if (!slash)
        return name;
    snprintf(buf, len, "%.*s/%s", (int)(slash - db), db, name);
    return access(buf, R_OK) == 0 ? buf : name;
}

static void on_warn(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warning("%s", msg);
}

/* The packet list; 0 or an exit status. */
static int packets(FILE *o, const struct cli_style *st, struct sink_db *db, const char *dbpath,
                   const struct sink_db_conn *c, const struct tcb_event *ev, size_t nev)
{
    char err[TCBS_ERRLEN];
    char **names;
    size_t nn;
    if (sink_db_captures(db, &names, &nn, err) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    char (*paths)[4096] = calloc(nn ? nn : 1, sizeof(*paths));
    const char **files = calloc(nn ? nn : 1, sizeof(*files));
    if (!paths || !files) {
        free(paths);
        free(files);
        free(names);
        cli_error("out of memory");
        return CLI_EXIT_OUTPUT;
    }
    for (size_t i = 0; i < nn; i++) {
        if (strcmp(names[i], "-") == 0) {
            cli_error("%s: the run read standard input; its packets cannot be read again",
                      dbpath);
            goto input_error;
        }
        files[i] = resolve_capture(names[i], dbpath, paths[i], sizeof(paths[i]));
        if (access(files[i], R_OK) != 0) {
            cli_error("%s: capture file '%s' recorded in the database is gone or moved (%s)",
                      dbpath, names[i], strerror(errno));
            goto input_error;
        }
    }
    struct dis_reader *rd;
    if (dis_reader_open(&rd, files, nn, NULL, on_warn, NULL, err) < 0) {
        cli_error("%s", err);
        goto input_error;
    }
    /* Read the files in the order the analysis did, so frame numbers agree
     * (a database from before `as_given` was recorded read them as given). */
    int64_t as_given = 1;
    if (sink_db_run_int(db, "as_given", &as_given, err) < 0) {
        dis_reader_close(rd);
        cli_error("%s", err);
        goto input_error;
    }
    dis_reader_set_as_given(rd, as_given != 0);

    bool *matched = calloc(nev ? nev : 1, sizeof(*matched));
    if (!matched) {
        dis_reader_close(rd);
        free(paths);
        free(files);
        free(names);
        cli_error("out of memory");
        return CLI_EXIT_OUTPUT;
    }
    struct dir_track tr[2] = {0};
    struct dis_frame f;
    struct dis_pkt p;
    size_t shown = 0;
    int rc, status = 0;
    fprintf(o, "\n  %s%7s %11s %3s %-14s %10s %10s %6s %7s  %-30s %s%s\n", st->dim, "No.", "time",
            "dir", "flags", "seq", "ack", "len", "win", "options", "notes / state changes",
            st->reset);
    while ((rc = dis_reader_next(rd, &f, err)) != 0) {
        if (rc < 0) {
            cli_error("%s", err);
            status = CLI_EXIT_INPUT;
            continue;
        }
        /* The connection's segments are its tuple's frames from its first to
         * its last segment, numbered as the analysis numbered the run (the
         * same file order, read again). */
        if (f.frame > c->last_frame)
            break;
        if (f.frame < c->first_frame)
            continue;
        if (dis_decode(f.linktype, f.data, f.caplen, f.wirelen, false, &p) != DIS_SKIP_NONE)
            continue;
        int dir;
        if (p.ip_version == c->ip_version && p.sport == c->client_port &&
            p.dport == c->server_port && same_ip(p.src, c->client_ip, p.ip_version) &&
            same_ip(p.dst, c->server_ip, p.ip_version))
            dir = TCB_CLIENT;
        else if (p.ip_version == c->ip_version && p.sport == c->server_port &&
                 p.dport == c->client_port && same_ip(p.src, c->server_ip, p.ip_version) &&
                 same_ip(p.dst, c->client_ip, p.ip_version))
            dir = TCB_SERVER;
        else
            continue;
        if (c->vlan >= 0 && (p.vlan_count == 0 || p.vlan[0] != c->vlan))
            continue;

        struct dir_track *d = &tr[dir], *other = &tr[!dir];
        bool syn = p.tcp_flags & DIS_TH_SYN, fin = p.tcp_flags & DIS_TH_FIN;
        uint32_t seglen = p.payload_len + syn + fin;
        char notes[256] = "";
        size_t no = 0;
#define NOTE(...) no += (size_t)snprintf(notes + no, sizeof(notes) > no ? sizeof(notes) - no : 0, __VA_ARGS__)
        if (!d->seen) {
            d->seen = true;
            d->base = p.seq;
            d->next = p.seq;
        }
        if (syn && (p.opt.present & DIS_OPT_WSCALE)) {
            d->have_ws = true;
            d->ws = p.opt.wscale > 14 ? 14 : p.opt.wscale;
        }
        if (seglen > 0) {
            uint32_t end = p.seq + seglen;
            if (tcb_seq_lt(p.seq, d->next)) {
                if (tcb_seq_lt(d->next, end))
                    NOTE("%s[partial retransmission]", no ? " " : "");
                else if (seen_start(d, p.seq))
                    NOTE("%s[retransmission]", no ? " " : "");
                else
                    NOTE("%s[out-of-order]", no ? " " : "");
            } else if (tcb_seq_lt(d->next, p.seq) && shown) {
                NOTE("%s[previous segment not captured]", no ? " " : "");
            }
            if (tcb_seq_lt(d->next, end))
                d->next = end;
            add_start(d, p.seq);
        } else if ((p.tcp_flags & (DIS_TH_ACK | DIS_TH_RST)) == DIS_TH_ACK && d->seen &&
                   p.ack == d->last_ack && p.window == d->last_win && shown) {
            NOTE("%s[dup ACK]", no ? " " : "");
        }
        if (p.window == 0 && !(p.tcp_flags & DIS_TH_RST))
            NOTE("%s[zero window]", no ? " " : "");
        d->last_ack = p.ack;
        d->last_win = p.window;
        for (size_t k = 0; k < nev; k++)
            if (ev[k].frame == f.frame && (matched[k] = true))
                NOTE("%s%s%s %s>%s%s", no ? "  " : "", st->green,
                     tcb_endpoint_name((enum tcb_endpoint)ev[k].endpoint),
                     tcb_state_name((enum tcb_state)ev[k].from),
                     tcb_state_name((enum tcb_state)ev[k].to), st->reset);
#undef NOTE
        char t[32], fl[48], flb[52], opts[64], ack[16] = "", win[16];
        /* A frame dated before the first segment was taken then by the engine. */
        cli_reltime(f.ts_ns >= c->first_ns ? f.ts_ns - c->first_ns : 0, t);
        sink_flag_label(p.tcp_flags, fl, sizeof(fl));
        snprintf(flb, sizeof(flb), "[%s]", fl);
        if ((p.tcp_flags & DIS_TH_ACK) && other->seen)
            snprintf(ack, sizeof(ack), "%u", p.ack - other->base);
        else if (p.tcp_flags & DIS_TH_ACK)
            snprintf(ack, sizeof(ack), "%u", p.ack);
        /* RFC 7323 §2.2: the window of a SYN is never scaled. */
        uint32_t w = p.window;
        if (!syn && d->have_ws && other->have_ws)
            w <<= d->ws;
        snprintf(win, sizeof(win), "%u", w);
        opts_text(&p, opts, sizeof(opts));
        const char *col = p.tcp_flags & DIS_TH_RST ? st->red : dir == TCB_CLIENT ? st->cyan : st->yellow;
        fprintf(o, "  %7llu %11s %s%3s%s %-14s %10u %10s %6u %7s  %-30s %s\n",
                (unsigned long long)f.frame, t, col, dir == TCB_CLIENT ? "-->" : "<--", st->reset,
                flb, p.seq - d->base, ack, p.payload_len, win, opts, notes);
        shown++;
    }
    /* Changes no listed segment caused (timers, end of capture, a new incarnation). */
    for (size_t k = 0; k < nev; k++)
        if (!matched[k]) {
            char fr[24] = "-";
            if (ev[k].frame)
                snprintf(fr, sizeof(fr), "%llu", (unsigned long long)ev[k].frame);
            char t[32];
            fprintf(o, "  %7s %11s     %s%s %s>%s (%s)%s\n", fr,
                    cli_reltime(ev[k].ts_ns >= c->first_ns ? ev[k].ts_ns - c->first_ns : 0, t), st->dim,
                    tcb_endpoint_name((enum tcb_endpoint)ev[k].endpoint),
                    tcb_state_name((enum tcb_state)ev[k].from),
                    tcb_state_name((enum tcb_state)ev[k].to),
                    tcb_cause_name((enum tcb_cause)ev[k].cause), st->reset);
        }
    char b[32];
    fprintf(o, "  %s%s segment%s%s\n", st->dim, cli_num(shown, b), shown == 1 ? "" : "s",
            st->reset);
    free(matched);
    free(tr[0].starts);
    free(tr[1].starts);
    dis_reader_close(rd);
    free(paths);
    free(files);
    free(names);
    return status;
input_error:
    free(paths);
    free(files);
    free(names);
    return CLI_EXIT_INPUT;
}

int cli_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"packets", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    bool want_packets = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":ph", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': want_packets = true; break;
        case 'h': fputs(show_usage, stdout); return 0;
        case ':': return cli_usage_error("show", "option '%s' needs an argument", argv[optind - 1]);
        default: return cli_usage_error("show", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("show", "show needs a database and a connection");
    const char *path = argv[optind], *spec_text = argv[optind + 1];
    struct conn_spec spec;
    if (!parse_conn(spec_text, &spec))
        return cli_usage_error("show",
                               "'%s' is not a connection id or ip:port-ip:port[#N] tuple",
                               spec_text);

    char err[TCBS_ERRLEN];
    struct sink_db *db;
    if (sink_db_open(&db, path, err) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    struct sink_db_conn *rows = NULL;
    size_t n = 0;
    int status = 0;
    if (sink_db_find_conns(db, spec.id, spec.by_id ? NULL : spec.ip_a, spec.port_a,
                           spec.by_id ? NULL : spec.ip_b, spec.port_b, &rows, &n, err) < 0) {
        cli_error("%s", err);
        sink_db_close(db);
        return CLI_EXIT_INPUT;
    }
    size_t shown = 0;
    struct cli_style st;
    cli_style_init(&st, cli_color_ok(stdout));
    for (size_t i = 0; i < n && !status; i++) {
        if (spec.incarnation && rows[i].incarnation != spec.incarnation)
            continue;
        struct tcb_event *ev;
        size_t nev;
        if (sink_db_transitions(db, rows[i].id, &ev, &nev, err) < 0) {
            cli_error("%s", err);
            status = CLI_EXIT_INPUT;
            break;
        }
        if (shown)
            fputc('\n', stdout);
        conn_header(stdout, &st, &rows[i]);
        ladder(stdout, &st, &rows[i], ev, nev);
        if (want_packets)
            status = packets(stdout, &st, db, path, &rows[i], ev, nev);
        free(ev);
        shown++;
    }
    if (!shown && !status) {
        if (spec.incarnation && n)
            cli_error("%s: connection %s has %zu incarnation%s, not #%u", path, spec_text, n,
                      n == 1 ? "" : "s", spec.incarnation);
        else
            cli_error("%s: no connection %s", path, spec_text);
        status = CLI_EXIT_INPUT;
    }
    free(rows);
    sink_db_close(db);
    return status;
}
