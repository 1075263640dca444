/*
 * cli/main.c - the tcbscope command: picks the subcommand, --help and
 * --version.  The commands live in analyze.c, summary_cmd.c, list_cmd.c, show.c
 * and report_cmd.c;
 * terminal helpers in term.c and progress.c.  No analysis logic lives in cli/.
 *
 * Exit status (tcbscope(1)): 0 success, 1 bad usage, 2 input error (a file
 * could not be read; results from the other input are still written),
 * 3 output error, 130 interrupted (results analysed so far are written).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_int.h"
#include "tcbscope_config.h"

static const char main_usage[] =
    "usage: tcbscope COMMAND [options] ...\n"
    "\n"
    "Rebuild every TCP connection's RFC 9293 state from packet captures.\n"
    "\n"
    "commands:\n"
    "  analyze CAPTURE...   rebuild TCP connection state from pcap/pcapng captures\n"
    "                       (--db FILE writes SQLite, --json FILE|- writes NDJSON)\n"
    "  summary DB           the terminal summary of a database written by analyze\n"
    "  list DB              the connections of a database with their ids (filters:\n"
    "                       --server, --port, --state, --open-kind, ...)\n"
    "  show DB CONN         one connection's timeline as a ladder diagram\n"
    "                       (--packets: every segment, re-read from the captures)\n"
    "  report DB -o FILE    one self-contained HTML page: latency, kinds, ladders\n"
    "\n"
    "  tcbscope --version   print the version\n"
    "  tcbscope COMMAND --help   options of one command; see also tcbscope(1)\n"
    "\n"
    "exit status: 0 ok, 1 usage, 2 input error, 3 output error, 130 interrupted\n";

/* argv joined with spaces, for the run table; NULL on ENOMEM. */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    char *p = s;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (i)
            *p++ = ' ';
        memcpy(p, argv[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

/*
 * `tcbscope trace.pcap ...`: the first word is no command but an existing
 * file, so the user most likely meant analyze.  One line with the command
 * they meant (words quoted for a shell where needed); returns CLI_EXIT_USAGE.
 */
static int suggest_analyze(int argc, char **argv)
{
    char line[1024];
    size_t n = 0;
    for (int i = 1; i < argc && n < sizeof(line); i++) {
        bool plain = argv[i][0] != '\0' && strspn(argv[i], "abcdefghijklmnopqrstuvwxyz"
                                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                            "-_./:=,+@%") == strlen(argv[i]);
        int w = snprintf(line + n, sizeof(line) - n, plain ? " %s" : " '%s'", argv[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (n >= sizeof(line)) /* too long to show whole: the file alone */
        snprintf(line, sizeof(line), " %s ...", argv[1]);
    cli_error("'%s' is not a command; did you mean: tcbscope analyze%s", argv[1], line);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_EXIT_USAGE;
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
    if (!strcmp(cmd, "analyze")) {
        char *cmdline = join_args(argc, argv);
        int rc = cli_analyze(argc - 1, argv + 1, cmdline ? cmdline : "tcbscope");
        free(cmdline);
        return rc;
    }
    if (!strcmp(cmd, "summary"))
        return cli_summary(argc - 1, argv + 1);
    if (!strcmp(cmd, "show"))
        return cli_show(argc - 1, argv + 1);
    if (!strcmp(cmd, "-r") && argc > 2) /* tcpdump -r habit */
        return suggest_analyze(argc, argv);
    if (!strcmp(cmd, "list"))
        return cli_list(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cli_report(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", cmd);
    struct stat st;
    if (stat(cmd, &st) == 0 && !S_ISDIR(st.st_mode))
        return suggest_analyze(argc, argv);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
