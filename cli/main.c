/*
 * cli/main.c - the tcbscope command: argument parsing, wiring the reader,
 * the analyzer and the sinks together, progress and error reporting, exit
 * status.  No analysis logic lives here.
 *
 * Exit status: 0 success, 1 bad usage, 2 input error (a file could not be
 * read; results from the other input are still written), 3 output error,
 * 130 interrupted (results analysed so far are written).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "tcbscope_config.h"

enum { EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_OUTPUT = 3, EXIT_INTERRUPTED = 130 };

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The one place that prints errors. */
static void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("tcbscope: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void cli_warn(void *ctx, const char *msg)
{
    bool *quiet = ctx;
    (void)quiet;
    fprintf(stderr, "tcbscope: warning: %s\n", msg);
}

static const char analyze_usage[] =
    "usage: tcbscope analyze [options] CAPTURE...\n"
    "\n"
    "Read pcap/pcapng captures (\"-\" = standard input) as one stream and rebuild\n"
    "every TCP connection's per-endpoint RFC 9293 state, its timeline and how it\n"
    "opened and closed.\n"
    "\n"
    "options:\n"
    "  -f, --filter EXPR      BPF filter (tcpdump syntax) applied to every frame\n"
    "      --db FILE          write an SQLite database (refuses an existing FILE)\n"
    "      --json FILE|-      write NDJSON, one connection per line (- = stdout)\n"
    "      --force            overwrite an existing --db / --json file\n"
    "      --idle-timeout SEC finish a connection idle this long (capture time; 300)\n"
    "      --time-wait SEC    TIME-WAIT length, 2*MSL (capture time; 60)\n"
    "      --verify-checksums check IPv4 and TCP checksums; bad segments change no state\n"
    "      --no-vlan-key      do not separate connections by VLAN id\n"
    "      --hash-seed N      fixed connection-table hash seed (reproducible runs)\n"
    "  -q, --quiet            no summary on the terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 input error, 3 output error, 130 interrupted\n";

static const char main_usage[] =
    "usage: tcbscope COMMAND [options] ...\n"
    "\n"
    "commands:\n"
    "  analyze CAPTURE...   rebuild TCP connection state from captures\n"
    "\n"
    "  tcbscope --version   print the version\n"
    "  tcbscope COMMAND --help\n";

static bool parse_seconds(const char *s, uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e9)
        return false;
    *ns = (uint64_t)(v * 1e9 + 0.5);
    return true;
}

struct analyze_opts {
    const char *filter, *db, *json;
    bool force, quiet, verify;
    struct tcb_config tcb;
};

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* Warn once per unsupported link type. */
static void warn_linktype(int linktype)
{
    static int seen[16];
    static unsigned nseen;
    for (unsigned i = 0; i < nseen; i++)
        if (seen[i] == linktype)
            return;
    if (nseen < 16)
        seen[nseen++] = linktype;
    fprintf(stderr, "tcbscope: warning: link type %d is not supported; its frames are counted and skipped\n",
            linktype);
}

static int cmd_analyze(int argc, char **argv, char *cmdline)
{
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"db", required_argument, NULL, 'D'},
        {"json", required_argument, NULL, 'J'},
        {"force", no_argument, NULL, 'F'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"time-wait", required_argument, NULL, 'T'},
        {"verify-checksums", no_argument, NULL, 'C'},
        {"no-vlan-key", no_argument, NULL, 'V'},
        {"hash-seed", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct analyze_opts o = {0};
    tcb_config_default(&o.tcb);
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': o.filter = optarg; break;
        case 'D': o.db = optarg; break;
        case 'J': o.json = optarg; break;
        case 'F': o.force = true; break;
        case 'C': o.verify = true; break;
        case 'V': o.tcb.vlan_in_key = false; break;
        case 'q': o.quiet = true; break;
        case 'I':
            if (!parse_seconds(optarg, &o.tcb.idle_timeout_ns) || !o.tcb.idle_timeout_ns) {
                cli_error("--idle-timeout needs a positive number of seconds, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'T':
            if (!parse_seconds(optarg, &o.tcb.time_wait_ns)) {
                cli_error("--time-wait needs a number of seconds, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'S': {
            char *end;
            errno = 0;
            o.tcb.hash_seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end) {
                cli_error("--hash-seed needs a number, not '%s'", optarg);
                return EXIT_USAGE;
            }
            o.tcb.seed_set = true;
            break;
        }
        case 'h': fputs(analyze_usage, stdout); return 0;
        case ':':
            cli_error("option '%s' needs an argument (see 'tcbscope analyze --help')",
                      argv[optind - 1]);
            return EXIT_USAGE;
        default:
            cli_error("unknown option '%s' (see 'tcbscope analyze --help')", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("analyze needs at least one capture file (see 'tcbscope analyze --help')");
        return EXIT_USAGE;
    }
    const char *const *files = (const char *const *)&argv[optind];
    size_t nfiles = (size_t)(argc - optind);
    bool json_stdout = o.json && strcmp(o.json, "-") == 0;

    char err[TCBS_ERRLEN] = "";
    struct sink_set set = {0};
    int status = 0;
    struct dis_reader *rd = NULL;
    struct tcb_table *tcb = NULL;

    /* Sinks first: an unwritable output is found before any work is done. */
    if (o.json) {
        struct sink *s;
        if (sink_json_open(&s, o.json, o.force, err) < 0) {
            cli_error("%s", err);
            return EXIT_OUTPUT;
        }
        set.sinks[set.count++] = s;
    }
    if (o.db) {
        struct sink *s;
        if (sink_sqlite_open(&s, o.db, o.force, err) < 0) {
            cli_error("%s", err);
            sink_set_destroy(&set);
            return EXIT_OUTPUT;
        }
        set.sinks[set.count++] = s;
    }
    if (!o.quiet) {
        FILE *out = json_stdout ? stderr : stdout;
        struct sink *s = sink_summary_new(out, isatty(fileno(out)) && !getenv("NO_COLOR"));
        if (!s) {
            cli_error("out of memory");
            sink_set_destroy(&set);
            return EXIT_OUTPUT;
        }
        set.sinks[set.count++] = s;
    }

    if (dis_reader_open(&rd, files, nfiles, o.filter, cli_warn, &o.quiet, err) < 0) {
        cli_error("%s", err);
        sink_set_destroy(&set);
        return o.filter && strstr(err, "filter") ? EXIT_USAGE : EXIT_INPUT;
    }
    struct tcb_output out = sink_set_output(&set);
    if (tcb_table_new(&tcb, &o.tcb, &out, err) < 0) {
        cli_error("%s", err);
        dis_reader_close(rd);
        sink_set_destroy(&set);
        return EXIT_OUTPUT;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct timespec ts0;
    clock_gettime(CLOCK_REALTIME, &ts0);
    struct dis_stats ds = {0};
    struct dis_frame f;
    struct dis_pkt p;
    int rc = 0, out_rc = 0;
    for (;;) {
        if (interrupted)
            break;
        rc = dis_reader_next(rd, &f, err);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* This input is lost; what came before stays, the next file goes on. */
            cli_error("%s", err);
            status = EXIT_INPUT;
            continue;
        }
        enum dis_skip sk = dis_decode(f.linktype, f.data, f.caplen, f.wirelen, o.verify, &p);
        dis_stats_add(&ds, &f, sk, &p);
        if (sk == DIS_SKIP_NONE) {
            p.ts_ns = f.ts_ns;
            p.frame = f.frame;
            out_rc = tcb_packet(tcb, &p);
        } else {
            if (sk == DIS_SKIP_LINK_UNSUPPORTED)
                warn_linktype(f.linktype);
            out_rc = tcb_advance(tcb, f.ts_ns);
        }
        if (out_rc)
            break;
    }
    if (!out_rc)
        out_rc = tcb_finish(tcb);

    size_t nf;
    const struct dis_file_info *fi = dis_reader_files(rd, &nf);
    struct sink_run_info run = {
        .version = TCBSCOPE_VERSION,
        .command_line = cmdline,
        .start_unix_ns = (uint64_t)ts0.tv_sec * 1000000000ULL + (uint64_t)ts0.tv_nsec,
        .files = fi,
        .file_count = nf,
        .dis = &ds,
        .tcb = tcb_table_stats(tcb),
        .interrupted = interrupted != 0,
    };
    if (out_rc == SINK_EPIPE) {
        /* The reader of our standard output went away (| head): stop quietly. */
        sink_set_destroy(&set);
        tcb_table_free(tcb);
        dis_reader_close(rd);
        return 0;
    }
    if (out_rc) {
        cli_error("%s", set.err[0] ? set.err : "out of memory");
        status = EXIT_OUTPUT;
    }
    /* Finish even after an error: whatever was analysed is kept. */
    if (sink_set_finish(&set, &run) < 0) {
        if (strcmp(set.err, "EPIPE") != 0)
            cli_error("%s", set.err);
        status = EXIT_OUTPUT;
    }
    sink_set_destroy(&set);
    tcb_table_free(tcb);
    dis_reader_close(rd);
    if (interrupted) {
        cli_error("interrupted: results up to this point were written");
        return EXIT_INTERRUPTED;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("tcbscope %s\n", TCBSCOPE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(main_usage, stdout);
        return 0;
    }
    char *cmdline = join_args(argc, argv);
    int rc;
    if (!strcmp(cmd, "analyze")) {
        rc = cmd_analyze(argc - 1, argv + 1, cmdline ? cmdline : "tcbscope");
    } else {
        cli_error("unknown command '%s' (see 'tcbscope --help')", cmd);
        rc = EXIT_USAGE;
    }
    free(cmdline);
    return rc;
}
