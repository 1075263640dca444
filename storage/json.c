/*
 * json.c - the NDJSON sink: one JSON object per connection per line, keys
 * identical to the columns of the SQLite `connections` table plus the arrays
 * `transitions` and `anomalies` (docs/connection.schema.json).
 *
 * Lines are formatted by a small writer into one buffer that is written out
 * every ~64 KB and at finish, so `tail -f` sees progress.  Why not a json-c
 * object tree: measured on 200k synthetic connections it stayed under the
 * 100 MB/s target (tests/storage/bench_storage.c compares both), while
 * this writer did several times better; and every string here is either fixed
 * vocabulary, a number or an inet_ntop() address.  The only text that comes
 * from the analyzer (zeek_conn_state, zeek_history) is escaped anyway.  The
 * tests parse every line with json-c's tokener.
 *
 * Every target is written in place, never renamed (consumers may tail a
 * file; a device, FIFO or /dev/fd/N is a stream); "-" is stdout.
 * A reader that goes away (`| head -1`) ends the run quietly with
 * SINK_EPIPE: SIGPIPE is held off around our writes, so the cli need not
 * ignore it.
 *
 * Leaves to others: what the values mean (analyzer/), printing errors (cli/).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "sink_int.h"

#define JSON_FLUSH_AT (64 * 1024) /* write out once this much is buffered */
#define JSON_BUF_INIT (256 * 1024)

/* Upper bounds of the bytes one line needs (checked by tests with extremes). */
#define JSON_LINE_FIXED 4096
#define JSON_PER_EVENT 256
#define JSON_PER_ANOM 192

struct json_sink {
    struct sink base;
    int fd;
    bool own_fd;     /* a file we opened (closed at finish), not stdout */
    bool sigguard;   /* fd is a pipe or socket: hold SIGPIPE off around writes */
    bool finished;
    int failed;      /* sticky first error */
    char failmsg[TCBS_ERRLEN];
    char *name;      /* path, or "stdout" */
    char *buf;
    size_t len, cap;
    struct sink_conn_row row;
};

/* `,"name":` for every column, made from the one column list. */
static const struct {
    const char *s;
    size_t len;
} json_keys[SINK_COL_COUNT] = {
#define SINK_X(n, d, v) {",\"" #n "\":", sizeof(",\"" #n "\":") - 1},
    SINK_CONN_COLUMN_LIST(SINK_X)
#undef SINK_X
};

static int jfail(struct json_sink *s, int rc, char err[TCBS_ERRLEN], const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int jfail(struct json_sink *s, int rc, char err[TCBS_ERRLEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = sink_fail_record(&s->failed, s->failmsg, rc, err, fmt, ap);
    va_end(ap);
    return r;
}

/*
 * write() with SIGPIPE held off: a vanished reader gives EPIPE instead of
 * killing the process, and the SIGPIPE that write raised is consumed unless
 * one was already pending before.
 */
static ssize_t write_guarded(struct json_sink *s, const char *p, size_t n)
{
    sigset_t pipe_set, old, pending;
    bool was_pending;
    ssize_t w;
    int e;

    if (!s->sigguard)
        return write(s->fd, p, n);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    w = write(s->fd, p, n);
    e = errno;
    if (w < 0 && e == EPIPE && !was_pending) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

static int flush_buf(struct json_sink *s, char err[TCBS_ERRLEN])
{
    size_t off = 0;

    while (off < s->len) {
        ssize_t w;
        if (sink_fault()) {
            errno = EIO;
            w = -1;
        } else {
            w = write_guarded(s, s->buf + off, s->len - off);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            s->len = 0;
            if (errno == EPIPE)
                return jfail(s, SINK_EPIPE, err, "%s: reader went away (broken pipe)", s->name);
            return jfail(s, -errno, err, "%s: write failed: %s", s->name, strerror(errno));
        }
        off += (size_t)w;
    }
    s->len = 0;
    return 0;
}

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof(tmp);

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--t = digits2[d + 1];
        *--t = digits2[d];
    }
    if (v >= 10) {
        *--t = digits2[v * 2 + 1];
        *--t = digits2[v * 2];
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(p, t, n);
    return p + n;
}

static inline char *put_raw(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_raw(p, lit, sizeof(lit) - 1)

/* A JSON string; bytes outside printable ASCII become \u00XX (at most 6x). */
static char *put_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    *p++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            *p++ = (char)ch;
        } else if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else {
            p = PUT_LIT(p, "\\u00");
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p++ = '"';
    return p;
}

/* Vocabulary words need no escaping: quote and copy. */
static inline char *put_word(char *p, const char *w)
{
    size_t n = strlen(w);
    *p++ = '"';
    memcpy(p, w, n);
    p += n;
    *p++ = '"';
    return p;
}

static char *put_frame(char *p, uint64_t frame)
{
    return frame ? put_u64(p, frame) : PUT_LIT(p, "null");
}

static char *format_line(char *p, const struct sink_conn_row *row, const struct tcb_conn_info *c)
{
    *p++ = '{';
    for (int i = 0; i < SINK_COL_COUNT; i++) {
        const struct sink_val *v = &row->v[i];
        /* skip the leading comma of the first key */
        p = i ? put_raw(p, json_keys[i].s, json_keys[i].len)
              : put_raw(p, json_keys[i].s + 1, json_keys[i].len - 1);
        if (v->type == SINK_V_INT)
            p = put_u64(p, v->u);
        else if (v->type == SINK_V_TEXT)
            p = put_str(p, v->s);
        else
            p = PUT_LIT(p, "null");
    }
    p = PUT_LIT(p, ",\"transitions\":[");
    for (uint32_t i = 0; i < c->event_count; i++) {
        const struct tcb_event *e = &c->events[i];
        p = i ? PUT_LIT(p, ",{\"ts_ns\":") : PUT_LIT(p, "{\"ts_ns\":");
        p = put_u64(p, e->ts_ns);
        p = PUT_LIT(p, ",\"endpoint\":");
        p = put_word(p, tcb_endpoint_name(e->endpoint));
        p = PUT_LIT(p, ",\"from\":");
        p = put_word(p, tcb_state_name(e->from));
        p = PUT_LIT(p, ",\"to\":");
        p = put_word(p, tcb_state_name(e->to));
        p = PUT_LIT(p, ",\"cause\":");
        p = put_word(p, tcb_cause_name(e->cause));
        p = PUT_LIT(p, ",\"frame\":");
        p = put_frame(p, e->frame);
        *p++ = '}';
    }
    p = PUT_LIT(p, "],\"anomalies\":[");
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        const struct tcb_anom *a = &c->anomalies[i];
        p = i ? PUT_LIT(p, ",{\"ts_ns\":") : PUT_LIT(p, "{\"ts_ns\":");
        p = put_u64(p, a->ts_ns);
        p = PUT_LIT(p, ",\"endpoint\":");
        p = put_word(p, tcb_endpoint_name(a->endpoint));
        p = PUT_LIT(p, ",\"kind\":");
        p = put_word(p, tcb_anomaly_name(a->kind));
        p = PUT_LIT(p, ",\"frame\":");
        p = put_frame(p, a->frame);
        *p++ = '}';
    }
    p = PUT_LIT(p, "]}\n");
    return p;
}

static int js_conn(struct sink *base, const struct tcb_conn_info *c, char err[TCBS_ERRLEN])
{
    struct json_sink *s = (struct json_sink *)base;
    size_t need;

    if (s->failed)
        return jfail(s, s->failed, err, "%s", "");
    need = JSON_LINE_FIXED + (size_t)c->event_count * JSON_PER_EVENT +
           (size_t)c->anomaly_count * JSON_PER_ANOM;
    if (s->cap - s->len < need) {
        if (flush_buf(s, err) != 0)
            return s->failed;
        if (s->cap < need) { /* a huge timeline: grow once, keep the larger buffer */
            char *b = sink_realloc(s->buf, need);
            if (b == NULL)
                return jfail(s, -ENOMEM, err, "%s: out of memory", s->name);
            s->buf = b;
            s->cap = need;
        }
    }
    sink_conn_row_fill(&s->row, c);
    char *end = format_line(s->buf + s->len, &s->row, c);
    s->len = (size_t)(end - s->buf);
    assert(s->len <= s->cap);
    if (s->len >= JSON_FLUSH_AT)
        return flush_buf(s, err);
    return 0;
}

static int js_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN])
{
    struct json_sink *s = (struct json_sink *)base;

    (void)run;
    if (s->failed)
        return jfail(s, s->failed, err, "%s", "");
    if (s->finished)
        return 0;
    if (flush_buf(s, err) != 0)
        return s->failed;
    if (s->own_fd) {
        int fd = s->fd;
        s->fd = -1;
        if (close(fd) != 0)
            return jfail(s, -errno, err, "%s: close failed: %s", s->name, strerror(errno));
    }
    s->finished = true;
    return 0;
}

static void js_destroy(struct sink *base)
{
    struct json_sink *s = (struct json_sink *)base;

    if (s == NULL)
        return;
    /* Lines already written stay: a consumer may have read them. */
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->name);
    free(s);
}

static const struct sink_ops json_ops = {
    .name = "json",
    .conn = js_conn,
    .finish = js_finish,
    .destroy = js_destroy,
};

/*
 * The descriptor to write path's NDJSON to: a copy of a named descriptor,
 * an in-place open of a device or FIFO, or a new (or, with force,
 * truncated) regular file.  Returns the fd (own: close it at the end), or
 * negative with err.
 */
static int json_open_fd(const char *path, bool force, char err[TCBS_ERRLEN])
{
    enum sink_target kind;
    int fd = sink_path_fd(path), rc;

    if (fd >= 0) {
        /* /dev/stdout, /dev/fd/N: that descriptor itself, never a new open
         * (which would write from offset 0 of a file opened by `>>`). */
        int dup = sink_fault() ? (errno = EIO, -1) : fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0) {
            rc = -errno;
            snprintf(err, TCBS_ERRLEN, "%s: cannot write: %s", path,
                     errno == EBADF ? "no such open descriptor" : strerror(errno));
            return rc;
        }
        return dup;
    }
    if ((rc = sink_target_check(path, force, &kind, err)) != 0)
        return rc;
    int flags = O_WRONLY | O_CLOEXEC;
    if (kind != SINK_TARGET_STREAM) /* a device or FIFO: no create, no truncate */
        flags |= O_CREAT | (force ? O_TRUNC : O_EXCL);
    fd = sink_fault() ? (errno = EIO, -1) : open(path, flags, 0666);
    if (fd < 0) {
        rc = -errno;
        if (errno == EEXIST)
            snprintf(err, TCBS_ERRLEN, "%s exists (use --force to overwrite)", path);
        else
            snprintf(err, TCBS_ERRLEN, "%s: cannot %s: %s", path,
                     kind == SINK_TARGET_STREAM ? "open" : "create", strerror(errno));
        return rc;
    }
    return fd;
}

int sink_json_open(struct sink **out, const char *path, bool force, char err[TCBS_ERRLEN])
{
    struct json_sink *s;
    bool to_stdout;
    struct stat st;

    assert(out != NULL && path != NULL);
    *out = NULL;
    to_stdout = strcmp(path, "-") == 0;
    s = sink_malloc(sizeof(*s));
    if (s == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        return -ENOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->base.ops = &json_ops;
    s->fd = -1;
    s->name = strdup(to_stdout ? "stdout" : path);
    s->buf = sink_malloc(JSON_BUF_INIT);
    s->cap = JSON_BUF_INIT;
    if (s->name == NULL || s->buf == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        js_destroy(&s->base);
        return -ENOMEM;
    }
    if (to_stdout) {
        fflush(stdout); /* anything printed before us goes first */
        s->fd = STDOUT_FILENO;
    } else {
        int fd = json_open_fd(path, force, err);
        if (fd < 0) {
            js_destroy(&s->base);
            return fd;
        }
        if (sink_path_fd(path) == STDOUT_FILENO)
            fflush(stdout);
        s->fd = fd;
        s->own_fd = true;
    }
    if (fstat(s->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        s->sigguard = true;
    *out = &s->base;
    return 0;
}
