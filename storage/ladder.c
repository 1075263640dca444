/*
 * ladder.c - cutting one connection's transitions into the steps of a
 * ladder diagram (client left, server right, one arrow per segment that
 * changed a state), shared by the text ladder of `tcbscope show` and the
 * SVG ladders of `tcbscope report`.
 *
 * The database keeps transitions, not segments: the arrow's direction and
 * flags follow from the causes (docs/vantage.md: a receipt of a SYN,
 * SYN/ACK or FIN is recorded at the receiver's answer).
 *
 * Leaves to others: drawing (cli/show.c, report.c), the queries (dbread.c).
 */
#include <stdio.h>
#include <string.h>

#include "sink.h"

/* Sender of the segment behind a transition: TCB_CLIENT/TCB_SERVER, or -1
 * (no segment).  What a cause means is the analyzer's (TCB_CAUSE_LIST). */
static int sender_of(const struct tcb_event *e)
{
    if (e->frame == 0)
        return -1;
    switch (tcb_cause_sender((enum tcb_cause)e->cause)) {
    case TCB_BY_SELF: return e->endpoint;
    case TCB_BY_PEER: return !e->endpoint;
    default: return -1;
    }
}

size_t sink_ladder_step(const struct tcb_event *ev, size_t n, size_t i,
                        struct sink_ladder_step *step)
{
    size_t j = i + 1;
    if (ev[i].frame)
        while (j < n && ev[j].frame == ev[i].frame)
            j++;
    memset(step, 0, sizeof(*step));
    step->first = i;
    step->count = j - i;
    step->sender = -1;
    for (size_t k = i; k < j; k++) {
        int side = ev[k].endpoint == TCB_CLIENT ? TCB_CLIENT : TCB_SERVER;
        if (step->nto[side] < SINK_LADDER_MAX_STATES)
            step->to[side][step->nto[side]++] = ev[k].to;
        step->flags |= tcb_cause_flags((enum tcb_cause)ev[k].cause);
        if (step->sender < 0)
            step->sender = sender_of(&ev[k]);
    }
    return j;
}

void sink_ladder_start(const struct tcb_event *ev, size_t n, const char *const final[2],
                       const char *start[2])
{
    start[TCB_CLIENT] = final[TCB_CLIENT];
    start[TCB_SERVER] = final[TCB_SERVER];
    for (size_t i = n; i-- > 0;) /* the first from_state of each side */
        start[ev[i].endpoint == TCB_CLIENT ? TCB_CLIENT : TCB_SERVER] =
            tcb_state_name((enum tcb_state)ev[i].from);
}

const char *sink_flag_label(unsigned flags, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {DIS_TH_SYN, "SYN"}, {DIS_TH_FIN, "FIN"}, {DIS_TH_RST, "RST"}, {DIS_TH_PSH, "PSH"},
        {DIS_TH_ACK, "ACK"}, {DIS_TH_URG, "URG"}, {DIS_TH_ECE, "ECE"}, {DIS_TH_CWR, "CWR"},
        {DIS_TH_AE, "AE"},
    };
    size_t o = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (flags & names[i].bit)
            o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%s%s", o ? "," : "",
                                  names[i].name);
    return buf;
}
