/*
 * infer.c - endpoint inference: what one segment tells about each
 * endpoint, and the RFC 9293 edges each endpoint then takes.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcb_int.h"

/* ------------------------------------------------------------------------
 * Timeline and anomalies.
 */
void tcb_anomaly(struct tcb_rec *r, int side, enum tcb_anomaly kind,
                        const struct dis_pkt *p)
{
    for (unsigned i = 0; i < r->nanom; i++)
        if (r->an[i].kind == kind && r->an[i].endpoint == side)
            return; /* one per kind and sender is enough to flag it */
    if (r->nanom == TCB_MAX_ANOMS) {
        /* Full: the record-level markers still must show; they take the last place. */
        if (kind != TCB_ANOM_EVICTED && kind != TCB_ANOM_TIMELINE_FULL)
            return;
        r->nanom--;
    }
    struct tcb_an_int *a = &r->an[r->nanom++];
    uint64_t frame = p ? p->frame : 0;
    a->ts_ns = p ? p->ts_ns : r->last_ns;
    a->frame_lo = (uint32_t)frame;
    a->frame_hi = (uint8_t)(frame >> 32);
    a->endpoint = (uint8_t)side;
    a->kind = (uint8_t)kind;
    a->pad_ = 0; /* whole words: folding compares them */
}

/* The only writer of ep->state: logs the transition with its cause. */
void tcb_set_state(struct tcb_table *t, struct tcb_rec *r, int side, enum tcb_state to,
                          enum tcb_cause why, uint64_t ts, uint64_t frame)
{
    struct tcb_ep *e = &r->ep[side];
    assert(to != e->state);
    if (r->nev < TCB_MAX_EVENTS) {
        struct tcb_ev_int *ev = &r->ev[r->nev++];
        ev->ts_ns = ts;
        ev->frame_lo = (uint32_t)frame;
        ev->frame_hi = (uint8_t)(frame >> 32);
        ev->ep_from = (uint8_t)(side << 4 | e->state);
        ev->to = (uint8_t)to;
        ev->cause = (uint8_t)why;
        t->st.events++;
    } else {
        tcb_anomaly(r, side, TCB_ANOM_TIMELINE_FULL, NULL);
    }
    if (to == TCB_ESTABLISHED) {
        r->rf |= RF_ESTABLISHED;
        /* The handshake completes when the client reaches ESTABLISHED. */
        if (side == TCB_CLIENT && why != TCB_CAUSE_MIDSTREAM && !(r->have & TCB_HAVE_ACK)) {
            r->ack_ns = ts;
            r->have |= TCB_HAVE_ACK;
        }
    }
    if (to == TCB_SYN_RECEIVED)
        e->f |= EP_PASSED_SR;
    if (to == TCB_TIME_WAIT)
        e->tw_ns = ts;
    e->state = (uint8_t)to;
}

/* ------------------------------------------------------------------------
 * The state machines.  tcb_settle() moves one endpoint along the RFC 9293
 * edges its facts allow; one short handler per state.
 */
static bool ep_has(const struct tcb_ep *e, uint16_t f)
{
    return (e->f & f) == f;
}

/* Next edge out of `state` for endpoint e, or false when none applies. */
static bool tcb_next_edge(const struct tcb_ep *e, enum tcb_state *to, enum tcb_cause *why)
{
    switch (e->state) {
    case TCB_CLOSED:
        /* RFC 9293 §3.10.1: OPEN call, active: send SYN, enter SYN-SENT */
        if (ep_has(e, EP_WANT_SYN)) {
            *to = TCB_SYN_SENT, *why = TCB_CAUSE_SND_SYN;
            return true;
        }
        return false;
    case TCB_LISTEN:
        /* §3.10.7.2: SYN in LISTEN: send SYN/ACK, enter SYN-RECEIVED */
        if (ep_has(e, EP_GOT_SYN)) {
            *to = TCB_SYN_RECEIVED, *why = TCB_CAUSE_RCV_SYN;
            return true;
        }
        return false;
    case TCB_SYN_SENT:
        /* §3.10.7.3: SYN/ACK acking our SYN: ESTABLISHED */
        if (ep_has(e, EP_GOT_SYNACK)) {
            *to = TCB_ESTABLISHED, *why = TCB_CAUSE_RCV_SYNACK;
            return true;
        }
        /* §3.10.7.3: SYN without ACK in SYN-SENT: SYN-RECEIVED (simultaneous open) */
        if (ep_has(e, EP_GOT_SYN)) {
            *to = TCB_SYN_RECEIVED, *why = TCB_CAUSE_RCV_SYN;
            return true;
        }
        return false;
    case TCB_SYN_RECEIVED:
        /* §3.10.7.4 fifth check: ACK of our SYN: ESTABLISHED */
        if (ep_has(e, EP_GOT_ACK_SYN)) {
            *to = TCB_ESTABLISHED, *why = TCB_CAUSE_RCV_ACK_OF_SYN;
            return true;
        }
        /* §3.10.4: CLOSE in SYN-RECEIVED: send FIN, FIN-WAIT-1 */
        if (ep_has(e, EP_FIN)) {
            *to = TCB_FIN_WAIT_1, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_ESTABLISHED:
        /* Whichever came first: the peer's FIN (§3.10.7.4 eighth check: CLOSE-WAIT)
         * or our own (§3.10.4 CLOSE call: send FIN, FIN-WAIT-1). */
        if (ep_has(e, EP_GOT_FIN) && (!ep_has(e, EP_FIN) || e->ord_got_fin < e->ord_fin)) {
            *to = TCB_CLOSE_WAIT, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        if (ep_has(e, EP_FIN)) {
            *to = TCB_FIN_WAIT_1, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_FIN_WAIT_1:
        /* §3.10.7.4 fifth check: our FIN ACKed first: FIN-WAIT-2;
         * eighth check: the peer's FIN first: CLOSING */
        if (ep_has(e, EP_GOT_ACK_FIN) &&
            (!ep_has(e, EP_GOT_FIN) || e->ord_ack_fin < e->ord_got_fin)) {
            *to = TCB_FIN_WAIT_2, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        if (ep_has(e, EP_GOT_FIN)) {
            *to = TCB_CLOSING, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        return false;
    case TCB_FIN_WAIT_2:
        /* §3.10.7.4 eighth check: FIN in FIN-WAIT-2: TIME-WAIT */
        if (ep_has(e, EP_GOT_FIN)) {
            *to = TCB_TIME_WAIT, *why = TCB_CAUSE_RCV_FIN;
            return true;
        }
        return false;
    case TCB_CLOSE_WAIT:
        /* §3.10.4: CLOSE in CLOSE-WAIT: send FIN, LAST-ACK */
        if (ep_has(e, EP_FIN)) {
            *to = TCB_LAST_ACK, *why = TCB_CAUSE_SND_FIN;
            return true;
        }
        return false;
    case TCB_CLOSING:
        /* §3.10.7.4 fifth check: our FIN ACKed in CLOSING: TIME-WAIT */
        if (ep_has(e, EP_GOT_ACK_FIN)) {
            *to = TCB_TIME_WAIT, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        return false;
    case TCB_LAST_ACK:
        /* §3.10.7.4 fifth check: our FIN ACKed in LAST-ACK: CLOSED */
        if (ep_has(e, EP_GOT_ACK_FIN)) {
            *to = TCB_CLOSED, *why = TCB_CAUSE_RCV_ACK_OF_FIN;
            return true;
        }
        return false;
    default: /* TIME-WAIT leaves by its 2*MSL timer (§3.10.8) or a new incarnation only */
        return false;
    }
}

static void tcb_settle(struct tcb_table *t, struct tcb_rec *r, int side, const struct tcb_now *n)
{
    enum tcb_state to;
    enum tcb_cause why;
    for (int guard = 0; guard < 12 && tcb_next_edge(&r->ep[side], &to, &why); guard++) {
        if (to == TCB_SYN_SENT)
            r->ep[side].f &= (uint16_t)~EP_WANT_SYN;
        tcb_set_state(t, r, side, to, why, n->ts, n->frame);
    }
}

static void tcb_settle_both(struct tcb_table *t, struct tcb_rec *r, const struct tcb_now *n)
{
    tcb_settle(t, r, TCB_CLIENT, n);
    tcb_settle(t, r, TCB_SERVER, n);
}

void tcb_listener_add(struct tcb_table *t, const struct tcb_ep *e, uint8_t ver);

/*
 * A passive open: the endpoint answers a SYN, so it was in LISTEN.  When the
 * record has no event for it yet, LISTEN is its initial state (its listen()
 * predates the capture, docs/vantage.md rule 5) and the first event reads
 * LISTEN -> SYN-RECEIVED.  When it was seen CLOSED before (e.g. after an
 * RST), the move back to LISTEN is a timeline event of its own.
 */
static void tcb_assume_listen(struct tcb_table *t, struct tcb_rec *r, int side,
                              const struct tcb_now *n)
{
    bool has_events = false;
    for (unsigned i = 0; i < r->nev && !has_events; i++)
        has_events = (r->ev[i].ep_from >> 4) == side;
    if (has_events || r->nev == TCB_MAX_EVENTS)
        tcb_set_state(t, r, side, TCB_LISTEN, TCB_CAUSE_PASSIVE_OPEN, n->ts, n->frame);
    else
        r->ep[side].state = TCB_LISTEN; /* initial state, not a change */
    tcb_listener_add(t, &r->ep[side], r->ip_version);
}

static void ep_fact(struct tcb_rec *r, struct tcb_ep *e, uint16_t f)
{
    if (e->f & f)
        return;
    e->f |= f;
    uint8_t o = ++r->order;
    if (f == EP_FIN)
        e->ord_fin = o;
    else if (f == EP_GOT_FIN)
        e->ord_got_fin = o;
    else if (f == EP_GOT_ACK_FIN)
        e->ord_ack_fin = o;
}

/* ------------------------------------------------------------------------
 * Sequence-space bookkeeping of what an endpoint sent.
 */
static void ep_seq_init(struct tcb_ep *e, uint32_t lo)
{
    e->lo = lo;
    e->snd_max = lo;
    e->span = 0;
    e->f |= EP_SEQ;
    /* A new sequence space: holes and timing of the old one mean nothing in it. */
    e->st.nholes = 0;
    e->st.sf &= (uint8_t)~(SF_MISS | SF_TIMING);
}

/* Account [seq, end) sent by e; returns true when all of it was seen before. */
static bool ep_seq_advance(struct tcb_ep *e, uint32_t seq, uint32_t end)
{
    if (!(e->f & EP_SEQ))
        ep_seq_init(e, seq);
    if (tcb_seq_lt(seq, e->lo) && !(e->f & EP_ISN)) {
        /* Mid-stream: an earlier segment came late; extend downwards. */
        e->span += (uint32_t)(e->lo - seq);
        e->lo = seq;
    }
    if (tcb_seq_gt(end, e->snd_max)) {
        e->span += (uint32_t)(end - e->snd_max);
        e->snd_max = end;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Per-direction statistics (docs/schema.md): holes in what an endpoint
 * sent, out-of-order and retransmitted data, missed bytes, zero windows,
 * duplicate ACKs and data-to-ACK round trips.  All of it is computed from
 * the segment at hand, inside tcb_segment(), so replaying a record's
 * segments rebuilds it.
 */

/* A peer ACK further than this past what the tap saw is not trusted as missed data. */
#define TCB_MISS_MAX (1u << 30)

/* Remember [lo, hi) as skipped by the tap; when every slot is taken the lowest hole gives way. */
static void ep_hole_add(struct tcb_ep_stats *st, uint32_t lo, uint32_t hi)
{
    if (st->nholes == TCB_HOLES) {
        unsigned low = 0;
        for (unsigned i = 1; i < st->nholes; i++)
            if (tcb_seq_lt(st->hole[i].lo, st->hole[low].lo))
                low = i;
        st->hole[low] = st->hole[--st->nholes];
    }
    st->hole[st->nholes].lo = lo;
    st->hole[st->nholes].hi = hi;
    st->nholes++;
}

/* Take [lo, hi) out of the holes; returns how many of its bytes were in one. */
static uint32_t ep_hole_take(struct tcb_ep_stats *st, uint32_t lo, uint32_t hi)
{
    uint32_t got = 0;
    for (unsigned i = 0; i < st->nholes;) {
        uint32_t a = st->hole[i].lo, b = st->hole[i].hi;
        uint32_t x = tcb_seq_gt(lo, a) ? lo : a, y = tcb_seq_lt(hi, b) ? hi : b;
        if (!tcb_seq_lt(x, y)) {
            i++;
            continue;
        }
        got += y - x;
        if (x == a && y == b) {
            st->hole[i] = st->hole[--st->nholes]; /* look at slot i again */
            continue;
        }
        if (x == a) {
            st->hole[i].lo = y;
        } else if (y == b) {
            st->hole[i].hi = x;
        } else {
            /* The segment lies inside the hole: keep both ends if there is room
             * (else a later fill of the upper end counts as a retransmission). */
            st->hole[i].hi = x;
            if (st->nholes < TCB_HOLES) {
                st->hole[st->nholes].lo = y;
                st->hole[st->nholes].hi = b;
                st->nholes++;
            }
        }
        i++;
    }
    return got;
}

/* Forget holes ending over TCB_MISS_MAX below top: never ACKed (a one-sided
 * capture), they would match data again once the sequence space wraps. */
static void ep_hole_prune(struct tcb_ep_stats *st, uint32_t top)
{
    for (unsigned i = 0; i < st->nholes;) {
        if ((uint32_t)(top - st->hole[i].hi) > TCB_MISS_MAX)
            st->hole[i] = st->hole[--st->nholes];
        else
            i++;
    }
}

/* Take every hole byte below seq out of the holes; returns how many there were. */
static uint32_t ep_hole_below(struct tcb_ep_stats *st, uint32_t seq)
{
    uint32_t got = 0;
    for (unsigned i = 0; i < st->nholes;) {
        if (!tcb_seq_lt(st->hole[i].lo, seq)) {
            i++;
            continue;
        }
        if (tcb_seq_lt(seq, st->hole[i].hi)) {
            got += seq - st->hole[i].lo;
            st->hole[i].lo = seq;
            i++;
        } else {
            got += st->hole[i].hi - st->hole[i].lo;
            st->hole[i] = st->hole[--st->nholes];
        }
    }
    return got;
}

/*
 * Payload [seq, seq + len) from e, before e's sequence space takes it in:
 * the hole it leaves when it starts past snd_max, the hole bytes it fills
 * (an out-of-order segment: first seen now, below what was already seen),
 * the bytes it sends again (retransmitted; a keep-alive's byte is not),
 * and the RTT timing of new data (Karn: a timed range sent again, or a
 * hole below it filled, gives no sample).  Returns true when it filled a
 * hole, so it is no retransmission.
 */
static bool ep_data_stats(struct tcb_ep *e, uint32_t seq, uint32_t len, bool fin, uint64_t ts)
{
    struct tcb_ep_stats *st = &e->st;
    uint32_t end = seq + len, max = e->snd_max;
    bool filled = false;

    if (!(e->f & EP_SEQ))
        return false; /* nothing seen before it: nothing to compare, no timing yet */
    if (tcb_seq_gt(seq, max)) {
        /* Skipped bytes (a FIN alone shows them too); those already counted
         * missed (ACKed unseen) are no hole. */
        uint32_t from = (st->sf & SF_MISS) && tcb_seq_gt(st->miss_hi, max) ? st->miss_hi : max;
        if (tcb_seq_lt(from, seq))
            ep_hole_add(st, from, seq);
    } else if (!len) {
        return false;
    } else if (!(len == 1 && !fin && seq + 1 == max)) {
        uint32_t lo = tcb_seq_lt(seq, e->lo) ? e->lo : seq; /* below lo: new (mid-stream) */
        uint32_t below = tcb_seq_lt(end, max) ? end : max;
        if (tcb_seq_lt(lo, below)) {
            uint32_t got = ep_hole_take(st, lo, below);
            if (got) {
                st->ooo++;
                filled = true;
            }
            st->retx_bytes += below - lo - got;
            if ((st->sf & SF_TIMING) && tcb_seq_lt(lo, st->rtt_end))
                st->sf &= (uint8_t)~SF_TIMING;
        }
    }
    if ((st->sf & SF_MISS) && tcb_seq_geq(end, st->miss_hi))
        st->sf &= (uint8_t)~SF_MISS;
    if (!len || !tcb_seq_gt(end, max))
        return filled;
    if (st->nholes)
        ep_hole_prune(st, end);
    if (!(st->sf & SF_TIMING)) {
        st->rtt_end = end;
        st->rtt_ts = ts;
        st->sf |= SF_TIMING;
    }
    return filled;
}

/*
 * An ACK from q's peer, at time ts, of q's data: the RTT sample of q's
 * timed segment once covered, and q's bytes it covers that the tap never
 * saw (holes, or past the highest sequence seen): missed bytes.
 */
static void ep_ack_stats(struct tcb_ep *q, uint32_t ack, uint64_t ts)
{
    struct tcb_ep_stats *st = &q->st;
    if (!(q->f & EP_SEQ))
        return;
    if ((st->sf & SF_TIMING) && tcb_seq_geq(ack, st->rtt_end)) {
        uint64_t d = ts > st->rtt_ts ? ts - st->rtt_ts : 0;
        if (!st->rtt_n || d < st->rtt_min)
            st->rtt_min = d;
        if (d > st->rtt_max)
            st->rtt_max = d;
        st->rtt_sum += d;
        st->rtt_n++;
        st->sf &= (uint8_t)~SF_TIMING;
    }
    uint32_t a = ack;
    if ((q->f & EP_FIN) && tcb_seq_gt(a, q->fin_seq))
        a = q->fin_seq; /* the FIN's sequence number is no data */
    st->missed += ep_hole_below(st, a);
    uint32_t top = (st->sf & SF_MISS) && tcb_seq_gt(st->miss_hi, q->snd_max) ? st->miss_hi
                                                                             : q->snd_max;
    /* Only for an endpoint the tap sees sending (as Zeek counts gaps only
     * between established endpoints): one side of a half-duplex capture
     * ACKs the other's data, which the tap never had a chance to see. */
    if ((q->f & (EP_ISN | EP_ACKED)) && q->packets && tcb_seq_gt(a, top) &&
        a - top < TCB_MISS_MAX) {
        st->missed += a - top;
        st->miss_hi = a;
        st->sf |= SF_MISS;
    }
}

/*
 * Counters read off the segment's header before it changes anything:
 * zero-window advertisements (Wireshark's tcp.analysis.zero_window) and
 * duplicate ACKs (tcp.analysis.duplicate_ack: no payload, no SYN/FIN/RST,
 * a non-zero window, at the next sequence number, with the ACK and window
 * of the sender's previous segment).  Like Wireshark, and unlike RFC 5681
 * §2, data outstanding is not required: the ACK a receiver repeats for a
 * spurious retransmission (a D-SACK) is a duplicate on the wire too.
 */
static void tcb_seg_counters(struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s];
    struct tcb_ep_stats *st = &e->st;
    uint16_t fl = p->tcp_flags;
    bool plain = !(fl & (DIS_TH_SYN | DIS_TH_FIN | DIS_TH_RST));

    if (plain && p->window == 0)
        st->zero_win++;
    if (plain && (fl & DIS_TH_ACK) && !p->payload_len && p->window != 0 &&
        (st->sf & SF_PREV_ACK) && p->ack == st->last_ack && p->window == st->last_win &&
        (e->f & EP_SEQ) && p->seq == e->snd_max)
        st->dup_acks++;
    if (fl & DIS_TH_ACK) {
        st->last_ack = p->ack;
        st->sf |= SF_PREV_ACK;
    } else {
        st->sf &= (uint8_t)~SF_PREV_ACK;
    }
    st->last_win = p->window;
}

/* ------------------------------------------------------------------------
 * RST acceptability, RFC 9293 §3.10.7 with RFC 5961 §3 in mind: an RST
 * is believed only when its sequence number falls in the receiver's window.
 */
static bool tcb_rst_acceptable(const struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    const struct tcb_ep *snd = &r->ep[s], *rcv = &r->ep[!s];
    /* §3.10.7.3: in SYN-SENT an RST is acceptable if it ACKs the SYN. */
    if (rcv->state == TCB_SYN_SENT && (rcv->f & EP_ISN) && !(rcv->f & EP_GOT_SYN)) {
        if (!(p->tcp_flags & DIS_TH_ACK))
            return false;
        return tcb_seq_gt(p->ack, rcv->isn) && tcb_seq_leq(p->ack, rcv->snd_max);
    }
    if (!(snd->f & EP_SEQ))
        return true; /* nothing known of the sender's sequence space */
    /* The receiver expects at least what it last ACKed; it may already have
     * received everything the sender sent (the tap can lag the receiver). */
    uint32_t lo = (rcv->f & EP_ACKED) ? rcv->ack_max : snd->lo;
    if (tcb_seq_gt(lo, snd->snd_max))
        lo = snd->snd_max;
    uint32_t wnd = rcv->win;
    if ((rcv->f & EP_WS) && (snd->f & EP_WS) && !rcv->win_syn)
        wnd <<= (rcv->wscale > 14 ? 14 : rcv->wscale);
    if (!(rcv->f & EP_ACKED) || wnd == 0)
        wnd = wnd ? wnd : 1;
    uint32_t hi = snd->snd_max + wnd;
    /* The SYN-RECEIVED / reply-to-stray case: seq equals the ACK we carry. */
    return tcb_seq_geq(p->seq, lo) && tcb_seq_lt(p->seq, hi);
}

/* ------------------------------------------------------------------------
 * One segment.
 */
static void tcb_handshake_opts(struct tcb_rec *r, struct tcb_ep *e, int side,
                               const struct dis_pkt *p)
{
    const struct dis_tcp_opts *o = &p->opt;
    if (o->present & DIS_OPT_MSS) {
        e->mss = o->mss;
        r->have |= side == TCB_CLIENT ? TCB_HAVE_CMSS : TCB_HAVE_SMSS;
    }
    if (o->present & DIS_OPT_WSCALE) {
        e->wscale = o->wscale;
        e->f |= EP_WS;
        r->have |= side == TCB_CLIENT ? TCB_HAVE_CWSCALE : TCB_HAVE_SWSCALE;
    }
    if (o->present & DIS_OPT_SACK_PERM)
        e->f |= EP_SACKP;
    if (o->present & DIS_OPT_TS)
        e->f |= EP_TS;
    /* Fast Open: data on the SYN, or a SYN presenting a cookie (RFC 7413). */
    if (p->payload_len || ((o->present & DIS_OPT_TFO) && o->tfo_cookie_len && !(p->tcp_flags & DIS_TH_ACK)))
        r->rf |= RF_TFO;
}

/* Process a RST from side s.  Returns true when it was accepted. */
static bool tcb_on_rst(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p,
                       const struct tcb_now *n)
{
    struct tcb_ep *snd = &r->ep[s], *rcv = &r->ep[!s];
    if (ep_idle_state(snd->state) && ep_idle_state(rcv->state))
        return false; /* nothing left to reset */
    if (!tcb_rst_acceptable(r, s, p)) {
        tcb_anomaly(r, s, TCB_ANOM_RST_OUT_OF_WINDOW, p);
        return false;
    }
    bool client_syn_sent = r->ep[TCB_CLIENT].state == TCB_SYN_SENT;
    if (s == TCB_SERVER && client_syn_sent && !(snd->f & (EP_SYNACK_SENT | EP_SYN_SENT)))
        r->rf |= RF_REFUSED; /* RST answering a SYN */
    else if (!(r->rf & RF_ESTABLISHED) && !(r->rf & RF_MIDSTREAM))
        r->rf |= RF_HS_RESET;
    else if (!(r->rf & RF_RST_ABORT) &&
             !(ep_idle_state(snd->state) && (rcv->state == TCB_LAST_ACK ||
                                             ep_idle_state(rcv->state)))) {
        r->rf |= RF_RST_ABORT;
        r->rst_by = (uint8_t)s;
    }
    /* §3.10.7.4: an acceptable RST closes the TCB (LISTEN ignores it). */
    if (snd->state != TCB_CLOSED && snd->state != TCB_LISTEN)
        tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_SND_RST, n->ts, n->frame);
    if (rcv->state != TCB_CLOSED && rcv->state != TCB_LISTEN)
        tcb_set_state(t, r, !s, TCB_CLOSED, TCB_CAUSE_RCV_RST, n->ts, n->frame);
    snd->f &= (uint16_t)~EP_WANT_SYN;
    rcv->f &= (uint16_t)~EP_WANT_SYN;
    return true;
}

/*
 * Phase 1: the SYN this segment carries, and its sequence space.  Returns
 * false when the segment is to be ignored (a SYN that cannot belong here).
 */
static bool tcb_seg_syn(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s];
    uint16_t fl = p->tcp_flags;
    bool ack = fl & DIS_TH_ACK, fin = fl & DIS_TH_FIN;
    uint32_t len = p->payload_len, seq = p->seq;

    if (!(fl & DIS_TH_SYN)) {
        if (len || fin) {
            bool filled = ep_data_stats(e, seq, len, fin, p->ts_ns);
            bool retx = ep_seq_advance(e, seq, seq + len + (fin ? 1 : 0));
            /* Keep-alive: one byte just below what was sent (RFC 9293 §3.8.4): not data. */
            if (retx && len == 1 && seq + 1 == e->snd_max && !fin)
                retx = false;
            if (retx && !filled) /* a hole filled is first seen now: out of order */
                e->retrans++;
            if ((e->f & EP_FIN) && len && tcb_seq_gt(seq + len, e->fin_seq)) {
                uint32_t bit = s ? RF_DATA_AFTER_FIN1 : RF_DATA_AFTER_FIN0;
                if (!(r->rf & bit)) {
                    r->rf |= bit;
                    tcb_anomaly(r, s, TCB_ANOM_DATA_AFTER_FIN, p);
                }
            }
        } else if (!(e->f & EP_SEQ)) {
            ep_seq_init(e, seq);
        }
        return true;
    }
    if (!(e->f & EP_ISN)) {
        if (e->state != TCB_CLOSED && e->state != TCB_LISTEN && e->state != TCB_SYN_SENT) {
            /* A SYN on a connection we believe open (seen mid-stream). */
            tcb_anomaly(r, s, TCB_ANOM_UNEXPECTED_SYN, p);
            return false;
        }
        e->isn = seq;
        e->f |= EP_ISN;
        ep_seq_init(e, seq + 1);
        tcb_handshake_opts(r, e, s, p);
    } else if (seq != e->isn) {
        if (ack && s == TCB_SERVER && !(r->rf & RF_ESTABLISHED)) {
            /* Another SYN/ACK with a new ISN: keep both until the client's ACK picks. */
            tcb_anomaly(r, s, TCB_ANOM_SYNACK_ISN_CHANGED, p);
            e->alt_isn = seq;
            e->alt_ns = p->ts_ns;
        } else {
            tcb_anomaly(r, s, TCB_ANOM_UNEXPECTED_SYN, p);
        }
        return false;
    } else if (ack) {
        if (e->f & EP_SYNACK_SENT)
            r->synack_retx++;
    } else if (e->f & EP_SYN_SENT) {
        r->syn_retx++;
    }
    if (!ack) {
        if (!(e->f & EP_SYN_SENT) && !r->syn_ns) {
            r->syn_ns = p->ts_ns;
            r->have |= TCB_HAVE_SYN;
        }
        e->f |= EP_SYN_SENT;
        if (e->state == TCB_CLOSED)
            e->f |= EP_WANT_SYN; /* first SYN, or a retry after a refusal */
    }
    if (len || fin)
        ep_seq_advance(e, seq + 1, seq + 1 + len + (fin ? 1 : 0));
    return true;
}

/*
 * Could a plain ACK from an endpoint in SYN-SENT answer a SYN/ACK the tap
 * did not see?  Only if it acknowledges something (an ACK field of 0 next
 * to the ACK flag acknowledges no SYN/ACK: broken or crafted senders, and
 * the TFO client's FIN of a connection never answered) and comes from where
 * the sender's sequence space continues after its SYN (and SYN data, TFO).
 */
static bool tcb_ack_answers_unseen_synack(const struct tcb_ep *e, const struct dis_pkt *p)
{
    if (p->ack == 0)
        return false;
    if (!(e->f & EP_ISN))
        return true;
    return tcb_seq_geq(p->seq, e->isn + 1) && tcb_seq_leq(p->seq, e->snd_max);
}

/* Phase 2: what the ACK field proves this endpoint received (evidence). */
static void tcb_seg_ack(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p,
                        const struct tcb_now *n)
{
    struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    if (!(e->f & EP_ACKED) || tcb_seq_gt(p->ack, e->ack_max))
        e->ack_max = p->ack;
    e->f |= EP_ACKED;
    if (p->tcp_flags & DIS_TH_SYN) {
        /* A SYN/ACK: proof that e got the peer's SYN. */
        if (!(e->f & EP_SYNACK_SENT)) {
            e->f |= EP_SYNACK_SENT;
            if (!r->synack_ns) {
                r->synack_ns = p->ts_ns;
                r->have |= TCB_HAVE_SYNACK;
            }
            if (e->state == TCB_CLOSED && !(e->f & EP_SYN_SENT))
                tcb_assume_listen(t, r, s, n);
        }
        if (!(q->f & EP_ISN)) {
            /* The SYN it answers was not seen: infer it from the ACK. */
            q->isn = p->ack - 1;
            q->f |= EP_ISN;
            ep_seq_init(q, p->ack);
            if (q->state == TCB_CLOSED)
                tcb_set_state(t, r, !s, TCB_SYN_SENT, TCB_CAUSE_SYN_NOT_SEEN, n->ts, n->frame);
        }
        e->f |= EP_GOT_SYN;
    } else if (!(e->f & EP_GOT_SYNACK) && e->state == TCB_SYN_SENT) {
        /* A plain ACK from SYN-SENT: it got a SYN/ACK for its SYN. */
        if (q->f & EP_ISN) {
            if ((q->f & EP_SYNACK_SENT) && q->alt_ns && p->ack != q->isn + 1 &&
                p->ack == q->alt_isn + 1) {
                /* The client chose the other SYN/ACK. */
                q->isn = q->alt_isn;
                ep_seq_init(q, q->isn + 1);
                r->synack_ns = q->alt_ns;
            }
            if (tcb_seq_gt(p->ack, q->isn))
                e->f |= EP_GOT_SYNACK | EP_GOT_SYN;
        } else if (tcb_ack_answers_unseen_synack(e, p)) {
            /* The SYN/ACK was not seen at the tap: infer it. */
            q->isn = p->ack - 1;
            q->f |= EP_ISN | EP_SYNACK_SENT | EP_GOT_SYN;
            ep_seq_init(q, p->ack);
            if (q->state == TCB_CLOSED)
                tcb_assume_listen(t, r, !s, n);
            e->f |= EP_GOT_SYNACK | EP_GOT_SYN;
        }
    }
    /* The peer's FIN, once this endpoint ACKs past it. */
    if ((q->f & EP_FIN) && tcb_seq_gt(p->ack, q->fin_seq))
        ep_fact(r, e, EP_GOT_FIN);
    ep_ack_stats(q, p->ack, p->ts_ns);
    /* ACK of data the tap never saw. */
    if ((q->f & EP_SEQ) && tcb_seq_gt(p->ack, q->snd_max) && (q->f & (EP_ISN | EP_ACKED))) {
        uint32_t bit = s ? RF_ACK_UNSEEN1 : RF_ACK_UNSEEN0;
        if (!(r->rf & bit)) {
            r->rf |= bit;
            tcb_anomaly(r, s, TCB_ANOM_ACK_UNSEEN_DATA, p);
        }
    }
}

/* Phase 3: the FIN this segment carries. */
static void tcb_seg_fin(struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    uint32_t fs = p->seq + p->payload_len + ((p->tcp_flags & DIS_TH_SYN) ? 1 : 0);
    if (!(e->f & EP_FIN)) {
        e->fin_seq = fs;
        ep_fact(r, e, EP_FIN);
        /* FINs crossed: the peer's FIN is out and this one does not ACK it. */
        if ((q->f & EP_FIN) && !(e->f & EP_GOT_FIN) && (r->rf & RF_ESTABLISHED))
            r->rf |= RF_SIM_CLOSE;
    } else if (q->state == TCB_TIME_WAIT) {
        /* A retransmitted FIN restarts the peer's 2*MSL wait (§3.10.7.4). */
        q->tw_ns = p->ts_ns;
    }
}

/* Phase 4: delivery to the peer, assumed when the tap sees the segment. */
static void tcb_seg_deliver(struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    bool fin = p->tcp_flags & DIS_TH_FIN;
    uint32_t end = p->seq + p->payload_len + (fin ? 1 : 0);
    if ((e->f & EP_FIN) && tcb_seq_gt(end, e->fin_seq + (fin ? 1u : 0u)))
        ep_fact(r, q, EP_GOT_FIN); /* in-order: a segment after our FIN implies the FIN */
    if (p->tcp_flags & DIS_TH_ACK) {
        if ((q->f & EP_ISN) && tcb_seq_gt(p->ack, q->isn))
            q->f |= EP_GOT_ACK_SYN;
        if ((q->f & EP_FIN) && tcb_seq_gt(p->ack, q->fin_seq))
            ep_fact(r, q, EP_GOT_ACK_FIN);
    }
}

/*
 * One segment from side s of record r, in four phases (docs/vantage.md):
 * 1. its SYN and sequence space, 2. what its ACK proves s received,
 * 3. its FIN, 4. its delivery to the peer; each endpoint settles along
 * the RFC 9293 edges its facts allow after 2, 3 and 4.
 */
void tcb_segment(struct tcb_table *t, struct tcb_rec *r, int s, const struct dis_pkt *p)
{
    struct tcb_ep *e = &r->ep[s];
    struct tcb_now n = {p->ts_ns, p->frame};
    uint16_t fl = p->tcp_flags;

    r->last_ns = p->ts_ns;
    r->last_frame = p->frame;
    e->packets++;
    e->st.ip_bytes += p->ip_len;
    if (s == TCB_SERVER)
        r->rf |= RF_SERVER_ANSWERED;
    zeek_packet(&r->zeek, s == r->first_sender ? 0 : 1, p);

    if (p->csum == DIS_CSUM_BAD_IP || p->csum == DIS_CSUM_BAD_TCP) {
        /* A receiver drops it too: it changes nothing. */
        tcb_anomaly(r, s, TCB_ANOM_BAD_CHECKSUM, p);
        t->st.bad_checksum_ignored++;
        return;
    }
    if (p->flags_odd & DIS_ODD_OPT_MALFORMED)
        tcb_anomaly(r, s, TCB_ANOM_OPT_MALFORMED, p);
    if ((fl & DIS_TH_SYN) && (fl & DIS_TH_FIN))
        tcb_anomaly(r, s, TCB_ANOM_SYN_FIN, p);
    tcb_seg_counters(r, s, p);

    if (fl & DIS_TH_RST) {
        if (fl & DIS_TH_SYN)
            tcb_anomaly(r, s, TCB_ANOM_SYN_RST, p);
        tcb_on_rst(t, r, s, p, &n);
        return;
    }

    if (!tcb_seg_syn(t, r, s, p))
        return;
    e->win = p->window;
    e->win_syn = (fl & DIS_TH_SYN) != 0; /* RFC 7323 §2.2: a SYN's window is never scaled */

    if (fl & DIS_TH_ACK)
        tcb_seg_ack(t, r, s, p, &n);
    tcb_settle(t, r, s, &n);

    if (fl & DIS_TH_FIN) {
        tcb_seg_fin(r, s, p);
        tcb_settle(t, r, s, &n);
    }

    tcb_seg_deliver(r, s, p);
    tcb_settle_both(t, r, &n);
}

bool tcb_takes_over(const struct tcb_table *t, const struct tcb_rec *r, int s,
                           const struct dis_pkt *p)
{
    const struct tcb_ep *e = &r->ep[s], *q = &r->ep[!s];
    if (p->ts_ns >= r->last_ns + t->cfg.idle_timeout_ns)
        return true;
    if (!(e->f & EP_ISN)) {
        /* The other side has not sent a SYN yet: simultaneous open, not a new record. */
        if (s == TCB_SERVER && r->ep[TCB_CLIENT].state == TCB_SYN_SENT &&
            !(e->f & EP_SEQ))
            return false;
        return ep_idle_state(e->state) && (ep_idle_state(q->state) || q->state == TCB_LAST_ACK);
    }
    if (e->isn == p->seq)
        return false; /* same ISN: a retransmission */
    if (ep_idle_state(e->state) || e->state == TCB_SYN_SENT)
        return ep_idle_state(q->state) || q->state == TCB_LISTEN || q->state == TCB_LAST_ACK ||
               !(r->rf & RF_SERVER_ANSWERED);
    return false;
}

/* End the record's incarnation because a new SYN took over the tuple. */
void tcb_close_for_new(struct tcb_table *t, struct tcb_rec *r, const struct dis_pkt *p)
{
    tcb_expire_time_wait(t, r, p->ts_ns);
    for (int s = 0; s < 2; s++)
        if (r->ep[s].state != TCB_CLOSED)
            tcb_set_state(t, r, s, TCB_CLOSED, TCB_CAUSE_NEW_INCARNATION, p->ts_ns, p->frame);
}

