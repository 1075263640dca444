/*
 * report_cmd.c - `tcbscope report DB -o FILE`: one self-contained HTML
 * page for a database written by `analyze --db` (overview, handshake
 * latency, open/close kinds, ladder diagrams).  Parses the options and maps
 * errors to exit statuses: the database's to 2, the output's to 3.
 *
 * Leaves to others: the queries and the page itself (storage/dbread.c,
 * storage/report.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static const char report_usage[] =
    "usage: tcbscope report [options] DB -o FILE\n"
    "\n"
    "Write one self-contained HTML page (inline CSS and SVG, no script, nothing\n"
    "fetched) for a database written by 'tcbscope analyze --db DB': connections,\n"
    "frames, captures and time span; a handshake-latency histogram and p50/p90/p99\n"
    "per server; open kinds, handshake outcomes, close kinds, final-state pairs;\n"
    "ladder diagrams with the state transitions of the slowest handshakes, reset\n"
    "connections and simultaneous opens.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE|-  the HTML file to write (- = standard output); written\n"
    "                       beside FILE and renamed into place when complete\n"
    "      --force          overwrite an existing FILE\n"
    "  -n, --top N          servers in the per-server latency table (default 20)\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 DB missing, unreadable or not a tcbscope database,\n"
    "3 FILE exists (without --force) or cannot be written\n";

int cli_report(int argc, char **argv)
{
    enum { OPT_FORCE = 256 };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, OPT_FORCE},
        {"top", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct sink_report_opts opts = {.top_servers = 20, .slowest = 5, .resets = 3,
                                    .simultaneous = 3};
    const char *output = NULL;
    bool force = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case OPT_FORCE: force = true; break;
        case 'n': {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || v == 0 || optarg[0] == '-')
                return cli_usage_error("report", "--top needs a positive number, not '%s'",
                                       optarg);
            opts.top_servers = v;
            break;
        }
        case 'h': fputs(report_usage, stdout); return 0;
        case ':': return cli_usage_error("report", "option '%s' needs an argument", argv[optind - 1]);
        default: return cli_usage_error("report", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("report", "report needs exactly one database file");
    if (output == NULL)
        return cli_usage_error("report", "report needs -o FILE (or -o - for standard output)");
    const char *path = argv[optind];
    opts.db_label = path;

    char err[TCBS_ERRLEN];
    struct sink_db *db;
    struct sink_report *rep;
    if (sink_db_open(&db, path, err) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    int rc = sink_report_load(&rep, db, &opts, err);
    sink_db_close(db);
    if (rc < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    /* A reader of standard output that goes away (| head) ends the run quietly. */
    if (strcmp(output, "-") == 0)
        signal(SIGPIPE, SIG_IGN);
    rc = sink_report_write(rep, output, force, err);
    sink_report_free(rep);
    if (rc == SINK_EPIPE)
        return CLI_EXIT_OK;
    if (rc < 0) {
        cli_error("%s", err);
        return CLI_EXIT_OUTPUT;
    }
    return CLI_EXIT_OK;
}
