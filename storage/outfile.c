/*
 * outfile.c - the buffered text output the streaming sinks share (NDJSON,
 * CSV, Zeek conn.log): "-" for stdout, the "refuse an existing file unless
 * --force" rule, one buffer written out in large pieces, SIGPIPE held off
 * around writes to pipes (a reader that goes away ends the run quietly with
 * SINK_EPIPE), and the sticky first error.
 *
 * Also the sink base those three share (struct sink_stream): opening,
 * finishing and destroying are the same for each.
 *
 * Leaves to others: what the lines say (json.c, csv.c, zeeklog.c).
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

#include "sink_int.h"

int sink_out_fail(struct sink_out *o, int rc, char err[TCBS_ERRLEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = sink_fail_record(&o->failed, o->failmsg, rc, err, fmt, ap);
    va_end(ap);
    return r;
}

/*
 * write() with SIGPIPE held off: a vanished reader gives EPIPE instead of
 * killing the process, and the SIGPIPE that write raised is consumed unless
 * one was already pending before.
 */
static ssize_t write_guarded(struct sink_out *o, const char *p, size_t n)
{
    sigset_t pipe_set, old, pending;
    bool was_pending;
    ssize_t w;
    int e;

    if (!o->sigguard)
        return write(o->fd, p, n);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    w = write(o->fd, p, n);
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

int sink_out_flush(struct sink_out *o, char err[TCBS_ERRLEN])
{
    size_t off = 0;

    if (o->failed)
        return sink_out_fail(o, o->failed, err, "%s", "");
    while (off < o->len) {
        ssize_t w;
        if (sink_fault()) {
            errno = EIO;
            w = -1;
        } else {
            w = write_guarded(o, o->buf + off, o->len - off);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->len = 0;
            if (errno == EPIPE)
                return sink_out_fail(o, SINK_EPIPE, err, "%s: reader went away (broken pipe)",
                                     o->name);
            return sink_out_fail(o, -errno, err, "%s: write failed: %s", o->name,
                                 strerror(errno));
        }
        off += (size_t)w;
    }
    o->len = 0;
    return 0;
}

int sink_out_reserve(struct sink_out *o, size_t need, char err[TCBS_ERRLEN])
{
    if (o->failed)
        return sink_out_fail(o, o->failed, err, "%s", "");
    if (o->cap - o->len >= need)
        return 0;
    if (sink_out_flush(o, err) != 0)
        return o->failed;
    if (o->cap < need) { /* a huge record: grow once, keep the larger buffer */
        char *b = sink_realloc(o->buf, need);
        if (b == NULL)
            return sink_out_fail(o, -ENOMEM, err, "%s: out of memory", o->name);
        o->buf = b;
        o->cap = need;
    }
    return 0;
}

int sink_out_printf(struct sink_out *o, char err[TCBS_ERRLEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return sink_out_fail(o, -EINVAL, err, "%s: formatting failed", o->name);
    int rc = sink_out_reserve(o, (size_t)n + 1, err);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
    return 0;
}

/*
 * The descriptor to write path to: /dev/stdout and /dev/fd/N are that
 * descriptor itself (a dup: never a new open, which would write from offset
 * 0 of a file opened by `>>`); a device or FIFO is opened in place, without
 * creating or truncating; a regular file is created (refused when it exists,
 * unless force).  Negative errno with err on failure.
 */
static int sink_out_open_fd(const char *path, bool force, char err[TCBS_ERRLEN])
{
    enum sink_target kind;
    int fd = sink_path_fd(path), rc;

    if (fd >= 0) {
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

int sink_out_open(struct sink_out *o, const char *path, bool force, size_t bufsize,
                  char err[TCBS_ERRLEN])
{
    bool to_stdout;
    struct stat st;

    assert(o != NULL && path != NULL && bufsize > 0);
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    to_stdout = strcmp(path, "-") == 0;
    o->name = strdup(to_stdout ? "stdout" : path);
    o->buf = sink_malloc(bufsize);
    o->cap = bufsize;
    if (o->name == NULL || o->buf == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        sink_out_free(o);
        return -ENOMEM;
    }
    if (to_stdout) {
        fflush(stdout); /* anything printed before us goes first */
        o->fd = STDOUT_FILENO;
    } else {
        int fd = sink_out_open_fd(path, force, err);
        if (fd < 0) {
            sink_out_free(o);
            return fd;
        }
        if (sink_path_fd(path) == STDOUT_FILENO)
            fflush(stdout); /* anything printed before us goes first */
        o->fd = fd;
        o->own_fd = true;
    }
    if (fstat(o->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        o->sigguard = true;
    return 0;
}

int sink_out_close(struct sink_out *o, char err[TCBS_ERRLEN])
{
    if (sink_out_flush(o, err) != 0)
        return o->failed;
    if (o->own_fd) {
        int fd = o->fd;
        o->fd = -1;
        o->own_fd = false;
        if (close(fd) != 0)
            return sink_out_fail(o, -errno, err, "%s: close failed: %s", o->name,
                                 strerror(errno));
    }
    return 0;
}

void sink_out_free(struct sink_out *o)
{
    /* What was written stays: a consumer may have read it. */
    if (o->own_fd && o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    o->own_fd = false;
    free(o->buf);
    free(o->name);
    o->buf = NULL;
    o->name = NULL;
}

int sink_stream_open(struct sink_stream **out, const struct sink_ops *ops, const char *path,
                     bool force, size_t bufsize, char err[TCBS_ERRLEN])
{
    struct sink_stream *s;
    int rc;

    assert(out != NULL && ops != NULL && path != NULL);
    *out = NULL;
    s = sink_malloc(sizeof(*s));
    if (s == NULL) {
        snprintf(err, TCBS_ERRLEN, "%s: out of memory", path);
        return -ENOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->base.ops = ops;
    if ((rc = sink_out_open(&s->out, path, force, bufsize, err)) != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sink_stream_finish(struct sink *base, const struct sink_run_info *run, char err[TCBS_ERRLEN])
{
    struct sink_stream *s = (struct sink_stream *)base;
    int rc;

    (void)run;
    if (s->out.failed)
        return sink_out_fail(&s->out, s->out.failed, err, "%s", "");
    if (s->finished)
        return 0;
    if (s->trailer != NULL && (rc = s->trailer(s, err)) != 0)
        return rc;
    if ((rc = sink_out_close(&s->out, err)) == 0)
        s->finished = true;
    return rc;
}

void sink_stream_destroy(struct sink *base)
{
    struct sink_stream *s = (struct sink_stream *)base;

    if (s == NULL)
        return;
    sink_out_free(&s->out);
    free(s);
}
