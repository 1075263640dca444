/*
 * list_cmd.c - `tcbscope list DB [filters]`: a table of the connections of
 * a database with their ids, to find what to `show`: id, client, server,
 * open kind, handshake and its time, close kind, final states, duration.
 *
 * Leaves to others: the query (storage/dbread.c sink_db_list(), which binds
 * every filter value as an SQL parameter).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static const char list_usage[] =
    "usage: tcbscope list [options] DB\n"
    "\n"
    "List the connections of a database written by 'tcbscope analyze --db DB',\n"
    "one line each in id order: id, client, server, open kind, handshake,\n"
    "handshake time (SYN to ACK, ms), close kind, final states (client / server),\n"
    "duration.  'tcbscope show DB ID' draws one of them.\n"
    "\n"
    "options (all given must match):\n"
    "      --server IP[:PORT]     the server's address (and port); [IPv6]:PORT\n"
    "      --port N               N is the client's or the server's port\n"
    "      --state S              S is the client's or the server's final state\n"
    "                             (RFC 9293 name: TIME-WAIT, ESTABLISHED, ...)\n"
    "      --open-kind K          active_passive, simultaneous, midstream or none\n"
    "      --min-handshake-ms X   complete handshakes that took X ms or more\n"
    "      --limit N              at most N lines\n"
    "  -h, --help                 this help\n"
    "\n"
    "exit status: 0 ok (also when nothing matches), 1 usage, 2 DB missing,\n"
    "unreadable or not a tcbscope database\n";

/* The vocabulary word w matches, ignoring case and '_' for '-'; NULL when none. */
static const char *vocab_match(const char *w, const char *(*name)(int), int count)
{
    for (int i = 0; i < count; i++) {
        const char *v = name(i);
        size_t k = 0;
        while (v[k] && w[k] &&
               (tolower((unsigned char)v[k]) == tolower((unsigned char)w[k]) ||
                (v[k] == '-' && w[k] == '_') || (v[k] == '_' && w[k] == '-')))
            k++;
        if (!v[k] && !w[k])
            return v;
    }
    return NULL;
}

static const char *state_word(int i)
{
    return tcb_state_name((enum tcb_state)i);
}

static const char *open_word(int i)
{
    return tcb_open_kind_name((enum tcb_open_kind)i);
}

/* Non-negative integer up to max; false when not one. */
static bool parse_uint(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return !errno && end != s && !*end && s[0] != '-' && *v <= max;
}

/* Print the table; widths from the rows. */
static void print_rows(FILE *o, const struct cli_style *st, const struct sink_db_list_row *r,
                       size_t n)
{
    enum { C_ID, C_CLIENT, C_SERVER, C_OPEN, C_HS, C_MS, C_CLOSE, C_FINAL, C_DUR, NCOL };
    static const char *const head[NCOL] = {"id",    "client",     "server",
                                           "open",  "handshake",  "hs ms",
                                           "close", "final (client / server)", "duration"};
    size_t w[NCOL];
    char cell[NCOL][96];

    for (int k = 0; k < NCOL; k++)
        w[k] = strlen(head[k]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            fprintf(o, "%s", st->dim);
            for (int k = 0; k < NCOL; k++)
                fprintf(o, k == C_ID || k == C_MS || k == C_DUR ? "%*s%s" : "%-*s%s", (int)w[k],
                        head[k], k + 1 < NCOL ? "  " : "");
            fprintf(o, "%s\n", st->reset);
        }
        for (size_t i = 0; i < n; i++) {
            char d[32];
            snprintf(cell[C_ID], sizeof(cell[0]), "%llu", (unsigned long long)r[i].id);
            cli_fmt_endpoint(cell[C_CLIENT], sizeof(cell[0]), r[i].client_ip, r[i].client_port);
            cli_fmt_endpoint(cell[C_SERVER], sizeof(cell[0]), r[i].server_ip, r[i].server_port);
            snprintf(cell[C_OPEN], sizeof(cell[0]), "%s", r[i].open_kind);
            snprintf(cell[C_HS], sizeof(cell[0]), "%s", r[i].handshake);
            if (r[i].handshake_ns >= 0)
                snprintf(cell[C_MS], sizeof(cell[0]), "%.3f", (double)r[i].handshake_ns / 1e6);
            else
                snprintf(cell[C_MS], sizeof(cell[0]), "-");
            snprintf(cell[C_CLOSE], sizeof(cell[0]), "%s", r[i].close_kind);
            snprintf(cell[C_FINAL], sizeof(cell[0]), "%s / %s", r[i].client_final_state,
                     r[i].server_final_state);
            snprintf(cell[C_DUR], sizeof(cell[0]), "%s",
                     cli_duration(r[i].last_ns > r[i].first_ns ? r[i].last_ns - r[i].first_ns : 0,
                                  d));
            for (int k = 0; k < NCOL; k++) {
                /* "µs": two bytes, one column */
                size_t cw = 0;
                for (const char *q = cell[k]; *q; q++)
                    cw += ((unsigned char)*q & 0xC0) != 0x80;
                if (pass == 0) {
                    if (cw > w[k])
                        w[k] = cw;
                    continue;
                }
                bool right = k == C_ID || k == C_MS || k == C_DUR;
                size_t pad = w[k] > cw ? w[k] - cw : 0;
                fprintf(o, "%*s%s%*s%s", right ? (int)pad : 0, "", cell[k], right ? 0 : (int)pad,
                        "", k + 1 < NCOL ? "  " : "");
            }
            if (pass == 1)
                fputc('\n', o);
        }
    }
}

int cli_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},
        {"state", required_argument, NULL, 'S'},
        {"open-kind", required_argument, NULL, 'o'},
        {"min-handshake-ms", required_argument, NULL, 'm'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct sink_db_list_filter f = {.server_port = -1, .port = -1, .min_handshake_ms = -1,
                                    .limit = -1};
    char server_ip[48];
    unsigned long long v;
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': {
            uint16_t port;
            bool has_port;
            if (!cli_parse_endpoint(optarg, strlen(optarg), server_ip, &port, &has_port))
                return cli_usage_error("list", "--server needs IP, IP:PORT or [IPv6]:PORT, not '%s'",
                                       optarg);
            f.server_ip = server_ip;
            f.server_port = has_port ? port : -1;
            break;
        }
        case 'p':
            if (!parse_uint(optarg, 65535, &v))
                return cli_usage_error("list", "--port needs a port number, not '%s'", optarg);
            f.port = (int32_t)v;
            break;
        case 'S':
            f.state = vocab_match(optarg, state_word, TCB_STATE_COUNT);
            if (!f.state)
                return cli_usage_error("list",
                                       "--state needs an RFC 9293 state (CLOSED, LISTEN, SYN-SENT, "
                                       "SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, "
                                       "CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT), not '%s'",
                                       optarg);
            break;
        case 'o':
            f.open_kind = vocab_match(optarg, open_word, TCB_OPEN_KIND_COUNT);
            if (!f.open_kind)
                return cli_usage_error("list",
                                       "--open-kind needs active_passive, simultaneous, midstream "
                                       "or none, not '%s'",
                                       optarg);
            break;
        case 'm': {
            char *end;
            errno = 0;
            double x = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(x >= 0) || !isfinite(x))
                return cli_usage_error("list", "--min-handshake-ms needs a number of ms, not '%s'",
                                       optarg);
            f.min_handshake_ms = x;
            break;
        }
        case 'l':
            if (!parse_uint(optarg, INT64_MAX, &v))
                return cli_usage_error("list", "--limit needs a number, not '%s'", optarg);
            f.limit = (int64_t)v;
            break;
        case 'h': fputs(list_usage, stdout); return 0;
        case ':': return cli_usage_error("list", "option '%s' needs an argument", argv[optind - 1]);
        default: return cli_usage_error("list", "unknown option '%s'", argv[optind - 1]);
        }
    }
    char err[TCBS_ERRLEN];
    struct sink_db *db;
    struct sink_db_list_row *rows;
    size_t n;
    int rc = cli_open_one_db("list", argc, argv, &db);
    if (rc)
        return rc;
    rc = sink_db_list(db, &f, &rows, &n, err);
    sink_db_close(db);
    if (rc < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    struct cli_style st;
    cli_style_init(&st, cli_color_ok(stdout));
    if (n)
        print_rows(stdout, &st, rows, n);
    else
        fprintf(stdout, "(no connection matches)\n");
    free(rows);
    return cli_stdout_status(0);
}
