/*
 * analyze.c - `tcbscope analyze`: parse its options, open the sinks, then
 * the reader and the engine, run the frame loop (pipeline.c, the one
 * place frames are read) and finish every sink, also after an error or
 * Ctrl-C, so whatever was analysed is kept.
 *
 * Leaves to others: decoding (dissectors/), state (analyzer/), output
 * formats (storage/), the progress line (progress.c).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "pipeline.h"
#include "tcbscope_config.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void on_reader_warning(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warning("%s", msg);
}

static const char analyze_usage[] =
    "usage: tcbscope analyze [options] CAPTURE...   (or -r CAPTURE, as in tcpdump)\n"
    "\n"
    "Read pcap/pcapng captures (\"-\" = standard input; gzip or zstd compressed;\n"
    "a directory = the captures in it) as one stream and rebuild every TCP\n"
    "connection's per-endpoint RFC 9293 state, its timeline and how it opened\n"
    "and closed.  Several captures are merged by timestamp, as mergecap does.\n"
    "\n"
    "options:\n"
    "  -r, --read CAPTURE     a capture to read, as tcpdump -r (repeatable; read in\n"
    "                         command-line order with the other CAPTUREs)\n"
    "  -f, --filter EXPR      BPF filter (tcpdump syntax) applied to every frame\n"
    "      --db FILE          write an SQLite database (refuses an existing FILE)\n"
    "      --json FILE|-      write NDJSON, one connection per line (- = stdout)\n"
    "      --zeek FILE|-      write a Zeek conn.log (TSV, zeek-cut reads it; - = stdout)\n"
    "      --csv FILE|-       write CSV (RFC 4180), one row per connection (- = stdout)\n"
    "      --force            overwrite an existing --db / --json / --zeek / --csv file\n"
    "      --as-given         read the captures one after another in the order given,\n"
    "                         not merged by timestamp\n"
    "      --idle-timeout SEC finish a connection idle this long (capture time; 300)\n"
    "      --time-wait SEC    TIME-WAIT length, 2*MSL (capture time; 60)\n"
    "      --verify-checksums check IPv4 and TCP checksums; bad segments change no state\n"
    "      --no-vlan-key      do not separate connections by VLAN id\n"
    "      --hash-seed N      fixed connection-table hash seed (reproducible runs)\n"
    "      --max-connections N keep at most N full records; when full, closed ones\n"
    "                         waiting out TIME-WAIT are folded (results unchanged),\n"
    "                         then idle, then half-open ones finished early (evicted)\n"
    "      --threads N        1: one thread; 2: reading | analysis+output; 3: reading |\n"
    "                         analysis | output, with --db beside another output the\n"
    "                         database on a thread of its own (default: 3 with an\n"
    "                         output file, else 2).  The output is the same for every N.\n"
    "  -q, --quiet            no summary and no progress line on the terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "A progress line is shown on standard error when it is a terminal and the\n"
    "input is files.  Ctrl-C stops reading; results so far are written (exit 130).\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 input error, 3 output error, 130 interrupted\n";

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
    const char **files; /* the captures in command-line order (argv strings) */
    size_t nfiles;
    const char *filter, *db, *json, *zeek, *csv;
    bool force, quiet, verify, as_given;
    int threads; /* 0 = choose */
    struct tcb_config tcb;
};

/* Warn once per unsupported link type. */
/* Say what the engine's clock had to correct (docs/vantage.md, "Time"). */
static void warn_time(const struct tcb_stats *ts)
{
    if (ts->ts_outliers) {
        time_t sec = (time_t)(ts->ts_outlier_first_ns / 1000000000ULL);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&sec, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        cli_warning("%llu frame(s) dated far from the frames around them (the first dated %s) "
                    "were taken at their neighbours' time (engine.ts_outliers)",
                    (unsigned long long)ts->ts_outliers, when);
    }
    if (ts->ts_clamped)
        cli_warning("%llu segment(s) dated before their connection's previous segment were "
                    "taken at that segment's time (engine.ts_clamped)",
                    (unsigned long long)ts->ts_clamped);
}

static void warn_linktype(int linktype)
{
    static int seen[16];
    static unsigned nseen;
    for (unsigned i = 0; i < nseen; i++)
        if (seen[i] == linktype)
            return;
    if (nseen < 16)
        seen[nseen++] = linktype;
    cli_warning("link type %d is not supported; its frames are counted and skipped", linktype);
}

/* Fill *o (o->files has room for argc names); 0, or the exit status of a usage error. */
static int parse_analyze(int argc, char **argv, struct analyze_opts *o, bool *help)
{
    static const struct option longopts[] = {
        {"filter", required_argument, NULL, 'f'},
        {"read", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'D'},
        {"json", required_argument, NULL, 'J'},
        {"zeek", required_argument, NULL, 'Z'},
        {"csv", required_argument, NULL, 'X'},
        {"force", no_argument, NULL, 'F'},
        {"as-given", no_argument, NULL, 'G'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"time-wait", required_argument, NULL, 'T'},
        {"verify-checksums", no_argument, NULL, 'C'},
        {"no-vlan-key", no_argument, NULL, 'V'},
        {"hash-seed", required_argument, NULL, 'S'},
        {"max-connections", required_argument, NULL, 'M'},
        {"threads", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    /* Options may follow the capture names; "-" first in optstring hands
     * every capture name over in place (code 1), so that "a -r b c" keeps
     * the order a, b, c. */
    while ((c = getopt_long(argc, argv, "-:f:r:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
        case 'r': o->files[o->nfiles++] = optarg; break;
        case 'f': o->filter = optarg; break;
        case 'D': o->db = optarg; break;
        case 'J': o->json = optarg; break;
        case 'Z': o->zeek = optarg; break;
        case 'X': o->csv = optarg; break;
        case 'F': o->force = true; break;
        case 'G': o->as_given = true; break;
        case 'C': o->verify = true; break;
        case 'V': o->tcb.vlan_in_key = false; break;
        case 'q': o->quiet = true; break;
        case 'I':
            if (!parse_seconds(optarg, &o->tcb.idle_timeout_ns) || !o->tcb.idle_timeout_ns)
                return cli_usage_error("analyze",
                                       "--idle-timeout needs a positive number of seconds, not '%s'",
                                       optarg);
            break;
        case 'T':
            if (!parse_seconds(optarg, &o->tcb.time_wait_ns))
                return cli_usage_error("analyze", "--time-wait needs a number of seconds, not '%s'",
                                       optarg);
            break;
        case 'S': {
            char *end;
            errno = 0;
            o->tcb.hash_seed = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end)
                return cli_usage_error("analyze", "--hash-seed needs a number, not '%s'", optarg);
            o->tcb.seed_set = true;
            break;
        }
        case 'M': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || v == 0 || v > UINT32_MAX || optarg[0] == '-')
                return cli_usage_error("analyze", "--max-connections needs a positive number, not '%s'",
                                       optarg);
            o->tcb.max_connections = (uint32_t)v;
            break;
        }
        case 'P': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > 3)
                return cli_usage_error("analyze", "--threads needs 1, 2 or 3, not '%s'", optarg);
            o->threads = (int)v;
            break;
        }
        case 'h': *help = true; return 0;
        case ':':
            return cli_usage_error("analyze", "option '%s' needs an argument", argv[optind - 1]);
        default:
            return cli_usage_error("analyze", "unknown option '%s'", argv[optind - 1]);
        }
    }
    while (optind < argc) /* after "--" */
        o->files[o->nfiles++] = argv[optind++];
    if (o->nfiles == 0)
        return cli_usage_error("analyze", "analyze needs at least one capture file");
    return 0;
}

/*
 * Tests only: TCBSCOPE_FAULT_THREAD=N makes the Nth thread start of the run
 * fail (see pipeline_cfg.fail_thread_start); unset or not a number: none.
 */
static unsigned fault_thread_start(void)
{
    const char *v = getenv("TCBSCOPE_FAULT_THREAD");
    char *end;
    if (v == NULL || *v == '\0')
        return 0;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' && n <= UINT32_MAX ? (unsigned)n : 0;
}

/* Tests only: TCBSCOPE_FULL_RECORDS=1 keeps every connection in a full record
 * (no embryos, no folding), to check that the compact ones change nothing. */
static bool full_records_only(void)
{
    const char *v = getenv("TCBSCOPE_FULL_RECORDS");
    return v != NULL && strcmp(v, "1") == 0;
}

static void on_input_error(const char *msg)
{
    cli_error("%s", msg);
}

static int analyze_main(int argc, char **argv, const char *cmdline, const char **files);

int cli_analyze(int argc, char **argv, const char *cmdline)
{
    const char **files = malloc((size_t)argc * sizeof(*files));
    if (!files) {
        cli_error("out of memory");
        return CLI_EXIT_INPUT;
    }
    int rc = analyze_main(argc, argv, cmdline, files);
    free(files);
    return rc;
}

/* The command, its captures collected into files (room for argc names). */
static int analyze_main(int argc, char **argv, const char *cmdline, const char **files)
{
    struct analyze_opts o = {.files = files};
    bool help = false;
    tcb_config_default(&o.tcb);
    int rc = parse_analyze(argc, argv, &o, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(analyze_usage, stdout);
        return 0;
    }
    /* At most one output on standard output ("-", /dev/stdout, /dev/fd/1); the
     * terminal summary then goes to stderr. */
    const char *outs[] = {o.json, o.zeek, o.csv};
    int on_stdout = 0;
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
        on_stdout += outs[i] && (strcmp(outs[i], "-") == 0 || sink_path_fd(outs[i]) == 1);
    if (on_stdout > 1)
        return cli_usage_error("analyze", "only one of --json, --zeek and --csv can be standard output");
    bool any_stdout = on_stdout > 0;

    char err[TCBS_ERRLEN] = "";
    struct sink_set set = {0};
    struct dis_reader *rd = NULL;
    struct tcb_table *tcb = NULL;

    /* Ctrl-C from here on finishes cleanly (also while the first file is opened:
     * a FIFO blocks there).  No SA_RESTART: a blocked read returns. */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Sinks first: an unwritable output is found before any work is done. */
    static int (*const open_stream[])(struct sink **, const char *, bool, char[TCBS_ERRLEN]) = {
        sink_json_open, sink_zeek_open, sink_csv_open};
    for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
        struct sink *s;
        if (!outs[i])
            continue;
        if (open_stream[i](&s, outs[i], o.force, err) < 0) {
            cli_error("%s", err);
            sink_set_destroy(&set);
            return CLI_EXIT_OUTPUT;
        }
        set.sinks[set.count++] = s;
    }
    struct sink *db = NULL;
    if (o.db) {
        if (sink_sqlite_open(&db, o.db, o.force, err) < 0) {
            cli_error("%s", err);
            sink_set_destroy(&set);
            return CLI_EXIT_OUTPUT;
        }
        set.sinks[set.count++] = db;
    }
    FILE *term = any_stdout ? stderr : stdout;
    if (!o.quiet) {
        struct sink *s = sink_summary_new(term, cli_color_ok(term));
        if (!s) {
            cli_error("out of memory");
            sink_set_destroy(&set);
            return CLI_EXIT_OUTPUT;
        }
        set.sinks[set.count++] = s;
    }

    struct timespec ts0;
    clock_gettime(CLOCK_REALTIME, &ts0);
    if ((rc = dis_reader_open(&rd, o.files, o.nfiles, o.filter, on_reader_warning, NULL, err)) < 0) {
        if (interrupted) {
            cli_error("interrupted before any frame was read; nothing written");
            sink_set_destroy(&set);
            return CLI_EXIT_INTERRUPTED;
        }
        cli_error("%s", err);
        sink_set_destroy(&set);
        return rc == DIS_EFILTER ? CLI_EXIT_USAGE : CLI_EXIT_INPUT;
    }
    dis_reader_set_as_given(rd, o.as_given);
    /* Two groups when the SQLite sink has company: it is the slowest, and
     * with 3 threads each group gets a thread.  The groups only borrow the
     * sinks; `set` owns, finishes (in its order) and destroys them. */
    struct sink_set groups[PIPELINE_GROUPS] = {{.count = 0}, {.count = 0}};
    bool split = db != NULL && set.count > 1;
    for (size_t i = 0; i < set.count; i++) {
        struct sink_set *g = &groups[split && set.sinks[i] != db ? 1 : 0];
        g->sinks[g->count++] = set.sinks[i];
    }
    struct pipeline_cfg pc = {
        .threads = o.threads ? o.threads : (o.db || o.json || o.zeek || o.csv) ? 3 : 2,
        .verify = o.verify,
        .sinks = {sink_set_output(&groups[0]),
                  split ? sink_set_output(&groups[1]) : (struct tcb_output){0}},
        .stop = &interrupted,
        .on_frame = cli_progress_tick,
        .on_input_error = on_input_error,
        .on_linktype = warn_linktype,
        .fail_thread_start = fault_thread_start(),
    };
    o.tcb.full_records_only = full_records_only();
    struct pipeline *pl = pipeline_new(&pc);
    struct tcb_output out = pl ? pipeline_engine_output(pl) : (struct tcb_output){0};
    if (!pl || tcb_table_new(&tcb, &o.tcb, &out, err) < 0) {
        cli_error("%s", pl ? err : "out of memory");
        pipeline_free(pl);
        dis_reader_close(rd);
        sink_set_destroy(&set);
        return CLI_EXIT_OUTPUT;
    }

    if (!o.quiet && isatty(STDERR_FILENO))
        cli_progress_start(rd, pl);
    struct pipeline_result res = {0};
    int prc = pipeline_run(pl, rd, tcb, &res);
    cli_progress_stop();
    if (prc < 0)
        cli_warning("could not start a thread (%s); the run went on with fewer threads, same "
                    "results",
                    strerror(-prc));
    warn_time(tcb_table_stats(tcb));

    int status = res.input_status;
    size_t nf;
    const struct dis_file_info *fi = dis_reader_files(rd, &nf);
    size_t nmap;
    const struct dis_frame_run *map = dis_reader_frame_map(rd, &nmap);
    struct sink_run_info run = {
        .version = TCBSCOPE_VERSION,
        .command_line = cmdline,
        .start_unix_ns = (uint64_t)ts0.tv_sec * 1000000000ULL + (uint64_t)ts0.tv_nsec,
        .files = fi,
        .file_count = nf,
        .dis = &res.ds,
        .tcb = tcb_table_stats(tcb),
        .interrupted = interrupted != 0,
        .as_given = o.as_given,
        .frame_map = map,
        .frame_map_count = nmap,
        .filter = o.filter,
    };
    if (res.out_rc == SINK_EPIPE) {
        /* The reader of our standard output went away (| head): stop quietly,
         * but still finish the other sinks (a --db beside --json -). */
        (void)sink_set_finish(&set, &run);
        sink_set_destroy(&set);
        tcb_table_free(tcb);
        pipeline_free(pl);
        dis_reader_close(rd);
        return 0;
    }
    const char *conn_err = groups[res.out_group].err;
    if (res.out_rc && res.engine_failed) {
        /* Not the outputs' fault: the analysis itself ran out of memory. */
        char nb[32];
        cli_error("out of memory analysing connections after %s frames: connections finished "
                  "before are written, the open ones are lost (--max-connections bounds memory)",
                  cli_num(res.ds.frames, nb));
        status = CLI_EXIT_INPUT;
    } else if (res.out_rc) {
        cli_error("%s", conn_err[0] ? conn_err : "out of memory");
        status = CLI_EXIT_OUTPUT;
    }
    /* Finish even after an error: whatever was analysed is kept.  A reader of
     * standard output that went away (| head) is not an error to report. */
    char first_err[TCBS_ERRLEN];
    snprintf(first_err, sizeof(first_err), "%s", res.out_rc ? conn_err : "");
    int frc = sink_set_finish(&set, &run);
    if (frc < 0 && frc != SINK_EPIPE) {
        if (strcmp(set.err, first_err) != 0) /* a sticky sink error repeats its first message */
            cli_error("%s", set.err);
        status = CLI_EXIT_OUTPUT;
    }
    sink_set_destroy(&set);
    tcb_table_free(tcb);
    pipeline_free(pl);
    dis_reader_close(rd);
    if (interrupted) {
        cli_error("interrupted: results up to this point were written");
        return CLI_EXIT_INTERRUPTED;
    }
    return status;
}
