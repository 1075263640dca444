/*
 * term.c - the terminal side of the cli: the one error printer, colour
 * decisions and human-readable numbers.
 *
 * Leaves to others: what the commands print (analyze.c, summary_cmd.c, show.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    cli_progress_clear();
    fflush(stdout);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("tcbscope: ", fmt, ap);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("tcbscope: warning: ", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cmd)
        cli_error("%s (see 'tcbscope %s --help')", msg, cmd);
    else
        cli_error("%s (see 'tcbscope --help')", msg);
    return CLI_EXIT_USAGE;
}

bool cli_color_ok(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(f)) == 1;
}

void cli_style_init(struct cli_style *st, bool color)
{
    if (color) {
        *st = (struct cli_style){"\033[1m", "\033[2m", "\033[31m", "\033[32m",
                                 "\033[33m", "\033[34m", "\033[36m", "\033[0m"};
    } else {
        *st = (struct cli_style){"", "", "", "", "", "", "", ""};
    }
}

const char *cli_num(uint64_t v, char *buf)
{
    return sink_fmt_count(v, buf);
}

const char *cli_bytes(uint64_t v, char *buf)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    unsigned u = 0;
    while (d >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%llu B", (unsigned long long)v);
    else
        snprintf(buf, 32, "%.1f %s", d, unit[u]);
    return buf;
}

const char *cli_duration(uint64_t ns, char *buf)
{
    return sink_fmt_duration(ns, buf);
}

const char *cli_reltime(uint64_t ns, char *buf)
{
    snprintf(buf, 32, "+%llu.%06llu", (unsigned long long)(ns / 1000000000ULL),
             (unsigned long long)(ns % 1000000000ULL / 1000));
    return buf;
}
