/*
 * summary_cmd.c - `tcbscope summary DB`: the terminal summary of a database
 * written earlier, the same text `analyze` prints live for the same capture.
 *
 * Leaves to others: the queries and the rendering (storage/dbread.c,
 * storage/summary.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static const char summary_usage[] =
    "usage: tcbscope summary [options] DB\n"
    "\n"
    "Print the summary of a database written by 'tcbscope analyze --db DB', the\n"
    "same one analyze prints: capture times (UTC), input counters, connections\n"
    "by open kind, handshake, close kind and final-state pair, handshake latency\n"
    "(p50/p90/p99/max and a histogram), the top servers by connection count and\n"
    "by p99 handshake time (servers with 5 or more handshakes), anomalies,\n"
    "skipped frames by reason.\n"
    "\n"
    "options:\n"
    "  -n, --top N    servers listed in each top table (default 10)\n"
    "  -h, --help     this help\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 DB missing, unreadable or not a tcbscope database\n";

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
    struct sink_db *db;
    int rc = cli_open_one_db("summary", argc, argv, &db);
    if (rc)
        return rc;
    char title[300], err[TCBS_ERRLEN];
    snprintf(title, sizeof(title), "tcbscope summary of %s", argv[optind]);
    if (sink_db_summary(db, stdout, cli_color_ok(stdout), title, top, err) < 0) {
        cli_error("%s", err);
        rc = CLI_EXIT_INPUT;
    }
    sink_db_close(db);
    return cli_stdout_status(rc);
}
