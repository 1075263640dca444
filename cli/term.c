/*
 * term.c - the terminal side of the cli: the one error printer, colour
 * decisions and human-readable numbers.
 *
 * Leaves to others: what the commands print (analyze.c, summary_cmd.c, show.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
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

bool cli_parse_endpoint(const char *s, size_t len, char ip[48], uint16_t *port, bool *has_port)
{
    bool port_optional = has_port != NULL;
    char buf[80];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *addr = buf, *colon = NULL;
    unsigned char bin[16];
    if (buf[0] == '[') {
        char *rb = strchr(buf, ']');
        if (!rb || (rb[1] != ':' && !(port_optional && rb[1] == '\0')))
            return false;
        *rb = '\0';
        addr = buf + 1;
        colon = rb[1] ? rb + 1 : NULL;
    } else if (port_optional && strchr(buf, ':') != strrchr(buf, ':')) {
        colon = NULL; /* a bare IPv6 address */
    } else {
        colon = strrchr(buf, ':');
        if (!colon && !port_optional)
            return false;
        if (colon)
            *colon = '\0';
    }
    *port = 0;
    if (has_port)
        *has_port = colon != NULL;
    if (colon) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || p > 65535 || colon[1] == '-')
            return false;
        *port = (uint16_t)p;
    }
    if (inet_pton(AF_INET, addr, bin) == 1)
        return inet_ntop(AF_INET, bin, ip, 48) != NULL;
    if (inet_pton(AF_INET6, addr, bin) == 1)
        return inet_ntop(AF_INET6, bin, ip, 48) != NULL;
    return false;
}

void cli_fmt_endpoint(char *buf, size_t len, const char *ip, uint16_t port)
{
    snprintf(buf, len, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
}

int cli_open_one_db(const char *cmd, int argc, char **argv, struct sink_db **db)
{
    char err[TCBS_ERRLEN];

    if (argc - optind != 1)
        return cli_usage_error(cmd, "%s needs exactly one database file", cmd);
    if (sink_db_open(db, argv[optind], err) < 0) {
        cli_error("%s", err);
        return CLI_EXIT_INPUT;
    }
    return 0;
}

int cli_stdout_status(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) {
            cli_error("standard output: %s", strerror(errno));
            return CLI_EXIT_OUTPUT;
        }
    }
    return status;
}
