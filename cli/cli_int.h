/*
 * cli_int.h - private to the cli module: the commands, the one error
 * printer, terminal helpers (colour, number formatting) and the progress
 * line.
 *
 * Leaves to others: analysis (analyzer/), reading captures (dissectors/),
 * writing and reading databases (storage/).
 */
#ifndef TCBSCOPE_CLI_INT_H
#define TCBSCOPE_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sink.h"

/* Exit status, documented in tcbscope(1). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_USAGE = 1, CLI_EXIT_INPUT = 2, CLI_EXIT_OUTPUT = 3,
       CLI_EXIT_INTERRUPTED = 130 };

/* The commands: argv[0] is the command name.  Each returns the exit status. */
int cli_analyze(int argc, char **argv, const char *cmdline);
int cli_summary(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_report(int argc, char **argv);

/* The one place that prints errors: "tcbscope: <msg>" on stderr (erases the progress line). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "tcbscope: warning: <msg>" on stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: message plus "(see 'tcbscope CMD --help')"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The one operand left after getopt (argv[optind]) opened as a tcbscope
 * database into *db: 0, or the exit status after printing the error (a
 * usage error when there is not exactly one operand).
 */
int cli_open_one_db(const char *cmd, int argc, char **argv, struct sink_db **db);

/* Flush stdout: status, or CLI_EXIT_OUTPUT after an error other than EPIPE. */
int cli_stdout_status(int status);

/* Colour on stream f: a terminal and NO_COLOR unset (or empty, as no-color.org says). */
bool cli_color_ok(FILE *f);

/* ANSI sequences, or "" when colour is off. */
struct cli_style {
    const char *bold, *dim, *red, *green, *yellow, *blue, *cyan, *reset;
};
void cli_style_init(struct cli_style *st, bool color);

/* Formatting into caller buffers (at least 32 bytes). */
const char *cli_num(uint64_t v, char *buf);               /* 1234567 -> "1,234,567" */
const char *cli_bytes(uint64_t v, char *buf);             /* 1536 -> "1.5 KiB" */
const char *cli_duration(uint64_t ns, char *buf);         /* 117000 -> "117 µs", 1.5e9 -> "1.50 s" */
const char *cli_reltime(uint64_t ns, char *buf);          /* "+0.000117" seconds */

/*
 * "ip:port" or "[ip6]:port" from s[0..len) into canonical inet_ntop text
 * and *port.  has_port NULL: the port is required; else "ip", "ip6" and
 * "[ip6]" are accepted too and *has_port says whether a port was given.
 * false when malformed.
 */
bool cli_parse_endpoint(const char *s, size_t len, char ip[48], uint16_t *port, bool *has_port);

/* "ip:port", or "[ip6]:port" for an address with colons, into buf. */
void cli_fmt_endpoint(char *buf, size_t len, const char *ip, uint16_t port);

/* Progress line on stderr (see progress.c).  All calls are no-ops unless enabled. */
struct dis_reader;
struct pipeline;
void cli_progress_start(const struct dis_reader *rd, const struct pipeline *pl);
/* Call once per frame; cheap: looks at the clock every few thousand frames. */
void cli_progress_tick(void);
/* Erase the line (before any other output on stderr/stdout); may be shown again by tick. */
void cli_progress_clear(void);
/* Erase for good. */
void cli_progress_stop(void);


#endif /* TCBSCOPE_CLI_INT_H */
