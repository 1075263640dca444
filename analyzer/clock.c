/*
 * clock.c - capture time as the engine sees it.
 *
 * Timestamps in real captures are not always monotonic: one frame can be
 * dated years ahead (a bad clock, a corrupt record), a clock can step back,
 * files can be concatenated out of order.  The table's clock (t->now) only
 * reclaims memory and marks the capture end, but a wrong jump would still
 * reclaim records early, so a frame dated further than J from the clock
 * (J = min(idle timeout, 2*MSL), the shortest timer a jump can fire, at
 * least 1 s) is held
 * with the frames after it until they decide:
 *  - the next TCB_CLOCK_HOLD - 1 frames agree with it (each nearer the
 *    jump's time than the clock's): the jump is real (a pause in the
 *    capture, a clock step, files out of order); all go on in order and the
 *    clock takes the jump, backwards too;
 *  - one of them is nearer the clock: the jump and the frames held before
 *    that one are outliers, taken at the clock's time (stats.ts_outliers),
 *    and the rest are looked at again.
 * At the end of input, a jump that no frame after it refuted is real (a
 * capture's last frames after a long pause are more common than a bad last
 * timestamp).  The first frame of a run is checked the same way against the
 * frames after it.
 */
#include <string.h>

#include "tcb_int.h"

/* The jump that is looked at: min(idle timeout, 2*MSL), but at least a
 * second (below that, a timestamp off by a jump cannot be told from jitter,
 * and --time-wait 0 would make every frame a jump). */
static uint64_t tcb_clock_j(const struct tcb_table *t)
{
    uint64_t a = t->cfg.idle_timeout_ns, b = t->cfg.time_wait_ns;
    uint64_t j = a < b ? a : b;
    return j > 1000000000ULL ? j : 1000000000ULL;
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

static uint64_t tcb_dist(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* held[0..k) are outliers: take them at the clock's time, look at the rest again. */
static int tcb_clock_outliers(struct tcb_table *t, uint32_t k)
{
    struct tcb_held h[TCB_CLOCK_HOLD];
    uint32_t n = t->nheld;
    memcpy(h, t->held, n * sizeof(h[0]));
    t->nheld = 0;
    if (!t->st.ts_outliers)
        t->st.ts_outlier_first_ns = h[0].p.ts_ns;
    t->st.ts_outliers += k;
    int rc = 0;
    for (uint32_t x = 0; x < k && !rc; x++) {
        h[x].p.ts_ns = t->now;
        rc = tcb_step(t, &h[x].p, h[x].segment, false);
    }
    for (uint32_t x = k; x < n && !rc; x++)
        rc = tcb_clock_in(t, &h[x].p, h[x].segment);
    return rc;
}

/* Hand on held[0..k) as real, look at the rest again. */
static int tcb_clock_confirm(struct tcb_table *t, uint32_t k)
{
    uint32_t n = t->nheld;
    struct tcb_held rest[TCB_CLOCK_HOLD];
    memcpy(rest, t->held + k, (n - k) * sizeof(rest[0]));
    int rc = tcb_clock_release(t, k);
    for (uint32_t x = 0; x < n - k && !rc; x++)
        rc = tcb_clock_in(t, &rest[x].p, rest[x].segment);
    return rc;
}

/*
 * Decide about held[0] (the jump) if the frames held after it allow it.  A
 * frame agrees with the jump when it is nearer the jump's time than the
 * clock's (time goes on from the jump, further jumps included); one that is
 * nearer the clock refutes it, and the frames before it are outliers.  The
 * jump stands once TCB_CLOCK_HOLD - 1 frames agree, or at the end of input.
 * Before the clock has started there is nothing to return to: the first
 * frames stand up to the first frame far from them, which is looked at
 * afresh.
 */
static int tcb_clock_decide(struct tcb_table *t, bool at_end)
{
    uint64_t c = t->held[0].p.ts_ns;
    for (uint32_t k = 1; k < t->nheld; k++) {
        uint64_t x = t->held[k].p.ts_ns;
        if (!t->clock_started) {
            if (tcb_far(x, c, tcb_clock_j(t)))
                return tcb_clock_confirm(t, k);
        } else if (tcb_dist(x, c) > tcb_dist(x, t->now)) {
            return tcb_clock_outliers(t, k);
        }
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
