/*
 * emit.c - classification (open kind, handshake, close kind) and the
 * record handed to the output.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcb_int.h"

/* ------------------------------------------------------------------------
 * Emitting.
 */
static bool ep_open_path(const struct tcb_rec *r, int side, enum tcb_ep_open *k);

static void tcb_classify(const struct tcb_rec *r, struct tcb_conn_info *c)
{
    const struct tcb_ep *cl = &r->ep[TCB_CLIENT], *sv = &r->ep[TCB_SERVER];
    bool est = r->rf & RF_ESTABLISHED;

    /* handshake */
    if (r->rf & RF_MIDSTREAM)
        c->handshake = TCB_HS_NOT_SEEN;
    else if (r->rf & RF_REFUSED)
        c->handshake = TCB_HS_REFUSED;
    else if (est)
        c->handshake = TCB_HS_COMPLETE;
    else if (r->rf & RF_HS_RESET)
        c->handshake = TCB_HS_RESET;
    else if (!(r->rf & RF_SERVER_ANSWERED))
        c->handshake = TCB_HS_UNANSWERED;
    else
        c->handshake = TCB_HS_INCOMPLETE;

    /* who opened how */
    enum tcb_ep_open ko[2];
    ep_open_path(r, TCB_CLIENT, &ko[0]);
    ep_open_path(r, TCB_SERVER, &ko[1]);
    c->client_open = (uint8_t)ko[0];
    c->server_open = (uint8_t)ko[1];
    if (r->rf & RF_MIDSTREAM) {
        c->open_kind = TCB_OPEN_MIDSTREAM;
        c->client_open = c->server_open = TCB_EPOPEN_UNKNOWN;
    } else if (!est) {
        c->open_kind = TCB_OPEN_NONE;
    } else if (ko[0] == TCB_EPOPEN_SIMULTANEOUS && ko[1] == TCB_EPOPEN_SIMULTANEOUS) {
        c->open_kind = TCB_OPEN_SIMULTANEOUS;
    } else {
        c->open_kind = TCB_OPEN_ACTIVE_PASSIVE;
    }

    /* how it closed */
    if (r->rf & RF_REFUSED)
        c->close_kind = TCB_CLOSE_REFUSED;
    else if (!est)
        c->close_kind = TCB_CLOSE_NONE;
    else if (r->rf & RF_RST_ABORT)
        c->close_kind = r->rst_by == TCB_CLIENT ? TCB_CLOSE_RESET_CLIENT : TCB_CLOSE_RESET_SERVER;
    else if (r->rf & RF_SIM_CLOSE)
        c->close_kind = TCB_CLOSE_SIMULTANEOUS;
    else if ((cl->f & EP_FIN) && (!(sv->f & EP_FIN) || cl->ord_fin < sv->ord_fin))
        c->close_kind = TCB_CLOSE_ACTIVE_CLIENT;
    else if (sv->f & EP_FIN)
        c->close_kind = TCB_CLOSE_ACTIVE_SERVER;
    else
        c->close_kind = TCB_CLOSE_OPEN;
}

/* How an endpoint opened, read off the path its state took. */
static bool ep_open_path(const struct tcb_rec *r, int side, enum tcb_ep_open *k)
{
    const struct tcb_ep *e = &r->ep[side];
    bool sent_syn = e->f & EP_SYN_SENT || (side == TCB_CLIENT && !(r->rf & RF_MIDSTREAM));
    bool sr = e->f & EP_PASSED_SR;
    if (sent_syn && sr && (e->f & EP_SYN_SENT) && (e->f & EP_SYNACK_SENT))
        *k = TCB_EPOPEN_SIMULTANEOUS;
    else if (sent_syn)
        *k = TCB_EPOPEN_ACTIVE;
    else if (sr || (e->f & EP_SYNACK_SENT))
        *k = TCB_EPOPEN_PASSIVE;
    else
        *k = TCB_EPOPEN_UNKNOWN;
    return true;
}

int tcb_emit(struct tcb_table *t, struct tcb_rec *r)
{
    struct tcb_conn_info c;
    memset(&c, 0, sizeof(c));
    const struct tcb_ep *cl = &r->ep[TCB_CLIENT], *sv = &r->ep[TCB_SERVER];
    c.id = r->id;
    c.ip_version = r->ip_version;
    memcpy(c.client_ip, cl->addr, 16);
    memcpy(c.server_ip, sv->addr, 16);
    c.client_port = cl->port;
    c.server_port = sv->port;
    c.vlan = r->vlan;
    c.tunnel = r->tunnel;
    c.tunnel_id = (uint32_t)r->key.tun; /* the key holds it (with its flag bit above) */
    c.incarnation = r->incarnation;
    c.have = r->have;
    tcb_classify(r, &c);
    c.client_final_state = cl->state;
    c.server_final_state = sv->state;
    c.first_ns = r->first_ns;
    c.last_ns = r->last_ns;
    c.first_frame = r->first_frame;
    c.last_frame = r->last_frame;
    c.syn_ns = r->syn_ns;
    c.synack_ns = r->synack_ns;
    c.ack_ns = r->ack_ns;
    c.syn_retransmits = r->syn_retx;
    c.synack_retransmits = r->synack_retx;
    for (int i = 0; i < 2; i++) {
        const struct tcb_ep *e = &r->ep[i];
        c.packets[i] = e->packets;
        c.retrans_packets[i] = e->retrans;
        uint64_t b = e->span;
        if ((e->f & EP_FIN) && b)
            b--; /* the FIN occupies one sequence number */
        c.data_bytes[i] = b;
        c.mss[i] = e->mss;
        c.wscale[i] = e->wscale;
        c.ip_bytes[i] = e->st.ip_bytes;
        c.retrans_bytes[i] = e->st.retx_bytes;
        c.zero_windows[i] = e->st.zero_win;
        c.dup_acks[i] = e->st.dup_acks;
        c.out_of_order[i] = e->st.ooo;
        c.missed_bytes[i] = e->st.missed;
        c.rtt_samples[i] = e->st.rtt_n;
        if (e->st.rtt_n) {
            c.have |= i == TCB_CLIENT ? TCB_HAVE_RTT_C2S : TCB_HAVE_RTT_S2C;
            c.rtt_min_ns[i] = e->st.rtt_min;
            c.rtt_avg_ns[i] = e->st.rtt_sum / e->st.rtt_n;
            c.rtt_max_ns[i] = e->st.rtt_max;
        }
    }
    if ((cl->f & EP_ISN) && (sv->f & EP_ISN) && (cl->f & (EP_SYN_SENT | EP_SYNACK_SENT)) &&
        (sv->f & (EP_SYN_SENT | EP_SYNACK_SENT))) {
        c.have |= TCB_HAVE_OPTS;
        c.sack_permitted = (cl->f & EP_SACKP) && (sv->f & EP_SACKP);
        c.timestamps = (cl->f & EP_TS) && (sv->f & EP_TS);
    }
    c.tfo = r->rf & RF_TFO;
    c.evicted = r->rf & RF_EVICTED;
    int orig;
    zeek_result(&r->zeek, c.zeek_conn_state, c.zeek_history, &orig);
    /* Zeek's direction 0 is the record's first sender. */
    c.zeek_orig = (uint8_t)(orig == 0 ? r->first_sender : !r->first_sender);
    struct tcb_event ev[TCB_MAX_EVENTS];
    struct tcb_anom an[TCB_MAX_ANOMS];
    for (unsigned i = 0; i < r->nev; i++) {
        const struct tcb_ev_int *x = &r->ev[i];
        ev[i].ts_ns = x->ts_ns;
        ev[i].frame = (uint64_t)x->frame_hi << 32 | x->frame_lo;
        ev[i].endpoint = x->ep_from >> 4;
        ev[i].from = x->ep_from & 15;
        ev[i].to = x->to;
        ev[i].cause = x->cause;
    }
    for (unsigned i = 0; i < r->nanom; i++) {
        const struct tcb_an_int *x = &r->an[i];
        an[i].ts_ns = x->ts_ns;
        an[i].frame = (uint64_t)x->frame_hi << 32 | x->frame_lo;
        an[i].endpoint = x->endpoint;
        an[i].kind = x->kind;
    }
    c.events = ev;
    c.event_count = r->nev;
    c.anomalies = an;
    c.anomaly_count = r->nanom;
    return t->out.conn ? t->out.conn(t->out.ctx, &c) : 0;
}

/* Take record i out of the table and lists, emit it, free it. */
