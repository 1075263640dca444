/*
 * clock.c - capture time as the engine sees it.
 *
 * Timestamps in real captures are not always monotonic: one frame can be
 * dated years ahead (a bad clock, a corrupt record), a clock can step back,
 * files can be concatenated out of order.  The table's clock (t->now) only
 * reclaims memory and marks the capture end, but a wrong jump would still
 * reclaim records early, so a frame dated further than J from the clock
 * (J = min(idle timeout, 2*MSL), the shortest timer a jump can fire) is held
 * with the frames after it until they decide:
 *  - the next TCB_CLOCK_HOLD - 1 frames agree with it (within J of it): the
 *    jump is real (a gap in the capture, a clock step); all go on in order
 *    and the clock takes the jump, backwards too;
 *  - one of them does not: the held frame is an outlier, taken at the
 *    clock's time (stats.ts_outliers), and the others are looked at again.
 * At the end of input, a jump that no frame after it refuted is real (a
 * capture's last frames after a long pause are more common than a bad last
 * timestamp).  The first frame of a run is checked the same way against the
 * frames after it.
 */
#include <string.h>

#include "tcb_int.h"

static uint64_t tcb_clock_j(const struct tcb_table *t)
{
    uint64_t a = t->cfg.idle_timeout_ns, b = t->cfg.time_wait_ns;
    uint64_t j = a < b ? a : b;
    return j ? j : 1;
}

static bool tcb_far(uint64_t a, uint64_t b, uint64_t j)
{
    return a > b ? a - b > j : b - a > j;
}

/* Hand on held[0..n), the first as a confirmed jump (the clock follows it, backwards too). */
static int tcb_clock_release(struct tcb_table *t, uint32_t n)
{
    struct tcb_held h[TCB_CLOCK_HOLD];
    memcpy(h, t->held, n * sizeof(h[0]));
    t->nheld = 0;
    int rc = 0;
    for (uint32_t k = 0; k < n && !rc; k++)
        rc = tcb_step(t, &h[k].p, h[k].segment, k == 0);
    return rc;
}

/* held[0] is an outlier: take it at the clock's time, look at the rest again. */
static int tcb_clock_outlier(struct tcb_table *t)
{
    struct tcb_held h[TCB_CLOCK_HOLD];
    uint32_t n = t->nheld;
    memcpy(h, t->held, n * sizeof(h[0]));
    t->nheld = 0;
    if (!t->st.ts_outliers++)
        t->st.ts_outlier_first_ns = h[0].p.ts_ns;
    /* Before any frame was taken, the next frame's time stands in. */
    h[0].p.ts_ns = t->clock_started ? t->now : (n > 1 ? h[1].p.ts_ns : h[0].p.ts_ns);
    int rc = tcb_step(t, &h[0].p, h[0].segment, false);
    for (uint32_t k = 1; k < n && !rc; k++)
        rc = tcb_clock_in(t, &h[k].p, h[k].segment);
    return rc;
}

/*
 * Decide about held[0] if the frames held after it allow it: the first
 * frame far from it refutes it when no frame between agreed with it;
 * after at least one agreeing frame, the jump stands and the far frame is
 * looked at afresh.
 */
static int tcb_clock_decide(struct tcb_table *t, bool at_end)
{
    uint64_t j = tcb_clock_j(t), c = t->held[0].p.ts_ns;
    for (uint32_t k = 1; k < t->nheld; k++) {
        if (!tcb_far(t->held[k].p.ts_ns, c, j))
            continue;
        if (k == 1)
            return tcb_clock_outlier(t);
        uint32_t n = t->nheld;
        struct tcb_held rest[TCB_CLOCK_HOLD];
        memcpy(rest, t->held + k, (n - k) * sizeof(rest[0]));
        int rc = tcb_clock_release(t, k);
        for (uint32_t x = 0; x < n - k && !rc; x++)
            rc = tcb_clock_in(t, &rest[x].p, rest[x].segment);
        return rc;
    }
    if (t->nheld == TCB_CLOCK_HOLD || at_end)
        return tcb_clock_release(t, t->nheld);
    return 0;
}

int tcb_clock_in(struct tcb_table *t, const struct dis_pkt *p, bool segment)
{
    if (!t->nheld && t->clock_started && !tcb_far(p->ts_ns, t->now, tcb_clock_j(t)))
        return tcb_step(t, p, segment, false);
    struct tcb_held *h = &t->held[t->nheld++];
    h->p = *p;
    h->p.payload = NULL; /* not ours to keep; the engine reads no payload bytes */
    h->segment = segment;
    return t->nheld > 1 ? tcb_clock_decide(t, false) : 0;
}

int tcb_clock_drain(struct tcb_table *t)
{
    int rc = 0;
    while (t->nheld && !rc)
        rc = tcb_clock_decide(t, true);
    return rc;
}
