/*
 * progress.c - the progress line of `tcbscope analyze` on standard error:
 * bytes read / total, frames per second, live connections, ETA.  Shown
 * only when stderr is a terminal, the input is regular files of known size
 * and --quiet is off (the caller decides by calling cli_progress_start()).
 * Redrawn at most 4 times a second; the clock is read every 4096 frames.
 *
 * Leaves to others: reading (dissectors/), counting connections (analyzer/).
 */
#include <time.h>

#include "cli_int.h"
#include "pipeline.h"

#define PROGRESS_CHECK_EVERY 4096
#define PROGRESS_INTERVAL_NS 250000000ULL

static struct {
    bool on, shown;
    const struct dis_reader *rd;
    const struct pipeline *pl;
    uint64_t total, t0, last, frames;
    unsigned countdown;
} pg;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void cli_progress_start(const struct dis_reader *rd, const struct pipeline *pl)
{
    pg.rd = rd;
    pg.pl = pl;
    pg.total = dis_reader_total_bytes(rd);
    pg.t0 = pg.last = now_ns();
    pg.frames = 0;
    pg.countdown = PROGRESS_CHECK_EVERY;
    pg.on = pg.total > 0;
}

static void draw(uint64_t t)
{
    size_t n;
    const struct dis_file_info *fi = dis_reader_files(pg.rd, &n);
    uint64_t done = 0;
    for (size_t i = 0; i < n; i++)
        done += fi[i].bytes;
    double secs = (double)(t - pg.t0) / 1e9;
    double rate = secs > 0 ? (double)pg.frames / secs : 0;
    char b1[32], b2[32], b3[32], b4[32], eta[32] = "--:--";
    if (done > 0 && done < pg.total && secs > 0.1) {
        double left = secs * (double)(pg.total - done) / (double)done;
        unsigned l = (unsigned)(left + 0.5);
        snprintf(eta, sizeof(eta), "%u:%02u", l / 60, l % 60);
    }
    unsigned pct = pg.total ? (unsigned)(100.0 * (double)done / (double)pg.total) : 0;
    fprintf(stderr, "\r\033[K%s / %s (%u%%)  %s frames/s  %s open  ETA %s",
            cli_bytes(done, b1), cli_bytes(pg.total, b2), pct > 100 ? 100 : pct,
            cli_num((uint64_t)rate, b3), cli_num(pipeline_live(pg.pl), b4), eta);
    fflush(stderr);
    pg.shown = true;
}

void cli_progress_tick(void)
{
    if (!pg.on)
        return;
    pg.frames++;
    if (--pg.countdown)
        return;
    pg.countdown = PROGRESS_CHECK_EVERY;
    uint64_t t = now_ns();
    if (t - pg.last < PROGRESS_INTERVAL_NS)
        return;
    pg.last = t;
    draw(t);
}

void cli_progress_clear(void)
{
    if (!pg.shown)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    pg.shown = false;
}

void cli_progress_stop(void)
{
    cli_progress_clear();
    pg.on = false;
}
