/*
 * zeek.c - Zeek-compatible conn_state and history for one connection record.
 *
 * Owns: an emulation, packet by packet, of what Zeek's TCP analysis would
 * log for the record in conn.log's `conn_state` and `history` columns: Zeek's
 * own per-endpoint states (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL,
 * ESTABLISHED, CLOSED, RESET), the history letters with their repetition
 * rules, the three ways Zeek flips originator and responder, retransmission
 * (t/T) and content-gap (g/G) detection, bad-checksum (c/C) handling, and the
 * final conn_state decision of Zeek's base/protocols/conn script.
 * Leaves to others: which segments make up a record and when a record ends
 * (tcb.c; Zeek's timers split connections differently), counting packets
 * and bytes (tcb.c), printing (storage/).
 *
 * Read from Zeek's sources for understanding (no code copied):
 * src/packet_analysis/protocol/tcp/TCP.cc (WantConnection, DeliverPacket,
 * update_history, update_last_seq, ValidateChecksum), TCPSessionAdapter.cc
 * (UpdateStateMachine and its per-state handlers, IsReuse),
 * src/analyzer/protocol/tcp/TCP_Endpoint.cc (CheckHistory, DidRxmit,
 * ZeroWindow, Gap, ChecksumError), TCP_Reassembler.cc (AckReceived,
 * Undelivered, Gap), src/Conn.cc (CheckHistory, ScaledHistoryEntry,
 * FlipRoles), scripts/base/protocols/conn/main.zeek (conn_state), and Zeek
 * pull requests #2191 (flip a connection that began with a SYN/ACK once an
 * ACK or data follows) and #2552.
 *
 * Simplifications (documented, deliberate):
 *  - Zeek's reassembler keeps every out-of-order block; we keep one buffered
 *    range per direction (merged by union), enough to tell a reordered segment
 *    from data that was never seen when the ACK for it arrives.
 *  - Endpoint sizes (used only by the REJ rule) come from the highest
 *    sequence number sent, not also from the peer's ACKs.
 *  - The logarithmic counters (c, g, t, w) saturate at 65535, so a sixth
 *    copy of a letter (100000 events) is never written.
 *  - The history kept here holds ZK_HIST_CAP letters; Zeek's is unbounded.
 *  - likely_server_ports: a fixed table emulating a plain `zeek -r` with the
 *    default scripts loaded (see zk_likely_server_port()).
 *  - Zeek starts a new connection where we cannot (a SYN with a new ISN on a
 *    live connection, timers): the record boundaries are tcb.c's.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "seq.h"
#include "zeek_int.h"

/* Zeek's endpoint states (TCP_ENDPOINT_* in TCP_Endpoint.h). */
enum zk_state {
    ZK_INACTIVE = 0,
    ZK_SYN_SENT,
    ZK_SYN_ACK_SENT,
    ZK_PARTIAL,
    ZK_ESTABLISHED,
    ZK_CLOSED,
    ZK_RESET
};

/* Logarithmic history counters, one set per endpoint. */
enum zk_counter { ZK_CNT_CSUM, ZK_CNT_GAP, ZK_CNT_RXMIT, ZK_CNT_WIN0, ZK_CNT_COUNT };

/* "Seen once" history bits (Zeek's HIST_*_PKT); the responder's are << 8. */
#define ZK_H_SYN 0x01
#define ZK_H_FIN 0x02
#define ZK_H_RST 0x04
#define ZK_H_FIN_RST 0x08
#define ZK_H_DATA 0x10
#define ZK_H_ACK 0x20
#define ZK_H_MULTI 0x40

/* zk_ep.flags */
#define ZK_EP_FIN 0x01 /* has sent a FIN (Zeek's FIN_cnt > 0); fin_rel valid */

/* zk_conn.flags */
#define ZK_C_ORIG1 0x01   /* dir 1 is Zeek's originator (else dir 0) */
#define ZK_C_STARTED 0x02 /* the first segment has been seen */
#define ZK_C_PARTIAL 0x04 /* Zeek's is_partial: a side's first packet was no plain SYN */
#define ZK_C_FPS_O 0x08   /* Zeek's first_packet_seen, originator role */
#define ZK_C_FPS_R 0x10   /* ... responder role */

#define ZK_HIST_CAP 28

/* Stop Zeek's trust in a sequence jump larger than this (TOO_LARGE_SEQ_DELTA). */
#define ZK_TOO_LARGE_SEQ_DELTA 1048576

/*
 * One endpoint, indexed by dir (not by Zeek role: flips only change which
 * dir is the originator).  Relative numbers count from start, as Zeek's do.
 */
struct zk_ep {
    uint32_t start;    /* ISN, or the faked ISN of an endpoint seen without SYN */
    uint32_t last;     /* one past the highest sequence number sent (absolute) */
    uint32_t hist_syn; /* relative seq of the last SYN, FIN end, RST (repeat rule) */
    uint32_t hist_fin;
    uint32_t hist_rst;
    uint32_t fin_rel; /* relative seq one past the FIN */
    uint32_t reassem; /* relative seq the reassembler waits for next */
    uint32_t blk_lo;  /* relative range buffered above a hole; lo == hi: none */
    uint32_t blk_hi;
    uint16_t cnt[ZK_CNT_COUNT];
    uint8_t state, prev_state; /* enum zk_state */
    uint8_t flags;             /* ZK_EP_* */
    uint8_t pad_;
};

struct zk_conn {
    struct zk_ep ep[2];
    uint16_t hist_seen; /* ZK_H_* of the originator role, responder's << 8 */
    uint8_t flags;      /* ZK_C_* */
    uint8_t hist_len;
    char hist[ZK_HIST_CAP]; /* not NUL-terminated */
};

static_assert(sizeof(struct zk_conn) <= sizeof(struct zeek_state),
              "struct zeek_state too small for struct zk_conn");
static_assert(_Alignof(struct zk_conn) <= _Alignof(struct zeek_state),
              "struct zeek_state under-aligned for struct zk_conn");

static inline struct zk_conn *zk(struct zeek_state *z)
{
    return (struct zk_conn *)(void *)z->opaque_;
}

static inline const struct zk_conn *zk_c(const struct zeek_state *z)
{
    return (const struct zk_conn *)(const void *)z->opaque_;
}

static inline int zk_orig_dir(const struct zk_conn *c) { return (c->flags & ZK_C_ORIG1) ? 1 : 0; }

/* ------------------------------------------------------------------------
 * History.
 */

static void zk_add(struct zk_conn *c, char code)
{
    if (c->hist_len < ZK_HIST_CAP)
        c->hist[c->hist_len++] = code;
}

/* Letter in Zeek's case: upper for the originator, lower for the responder. */
static inline char zk_case(const struct zk_conn *c, int dir, char upper)
{
    return dir == zk_orig_dir(c) ? upper : (char)(upper + ('a' - 'A'));
}

static inline void zk_add_for(struct zk_conn *c, int dir, char upper)
{
    zk_add(c, zk_case(c, dir, upper));
}

/*
 * Zeek's Connection::CheckHistory through TCP_Endpoint: record a letter the
 * first time its bit is seen for the endpoint's current role.  Returns true
 * when the bit had been seen before (nothing added).
 */
static bool zk_check(struct zk_conn *c, int dir, uint16_t bit, char upper)
{
    if (dir != zk_orig_dir(c))
        bit = (uint16_t)(bit << 8);
    if (c->hist_seen & bit)
        return true;
    c->hist_seen |= bit;
    zk_add_for(c, dir, upper);
    return false;
}

/* Zeek's ScaledHistoryEntry with base 10: a letter at 1, 10, 100, ... events. */
static void zk_scaled(struct zk_conn *c, int dir, enum zk_counter k, char upper)
{
    uint16_t *n = &c->ep[dir].cnt[k];

    if (*n == UINT16_MAX)
        return;
    ++*n;
    if (*n == 1 || *n == 10 || *n == 100 || *n == 1000 || *n == 10000)
        zk_add_for(c, dir, upper);
}

/* Connection::FlipRoles: swap the roles and note it in the history. */
static void zk_flip(struct zk_conn *c)
{
    uint8_t fps = c->flags & (ZK_C_FPS_O | ZK_C_FPS_R);

    c->flags ^= ZK_C_ORIG1;
    c->flags &= (uint8_t) ~(ZK_C_FPS_O | ZK_C_FPS_R | ZK_C_PARTIAL);
    if (fps & ZK_C_FPS_O)
        c->flags |= ZK_C_FPS_R;
    if (fps & ZK_C_FPS_R)
        c->flags |= ZK_C_FPS_O;
    zk_add(c, '^');
}

/* ------------------------------------------------------------------------
 * Roles at creation: Zeek's likely_server_ports heuristic.
 */

/*
 * Ports the default scripts of a plain `zeek -r` put into
 * likely_server_ports (each protocol script adds its analyzer's ports).
 * Sorted.  Under `zeek -b` with only base/protocols/conn the set is empty;
 * we emulate the full run because that is what users compare with.
 */
static const uint16_t zk_server_ports[] = {
    21,   22,   25,   53,   80,   81,   88,   110,  135,  139,  143,  389,  443,  445,   502,  563,
    585,  587,  614,  631,  636,  989,  990,  992,  993,  995,  1080, 1883, 2811, 3128,  3268, 3306,
    3389, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
};

static bool zk_likely_server_port(uint16_t port)
{
    size_t lo = 0, hi = sizeof zk_server_ports / sizeof zk_server_ports[0];

    while (lo < hi) { /* once per record: a binary search is plenty */
        size_t mid = lo + (hi - lo) / 2;
        if (zk_server_ports[mid] == port)
            return true;
        if (zk_server_ports[mid] < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/*
 * TCPAnalyzer::WantConnection: a connection whose first packet is not a
 * plain SYN is flipped when its source port looks like a server's and its
 * destination port does not; when both do, only a non-SYN packet from the
 * lower port is flipped (a SYN/ACK might be a stealth scan's answer).
 */
static bool zk_flip_at_creation(const struct dis_pkt *p)
{
    bool syn = p->tcp_flags & DIS_TH_SYN, ack = p->tcp_flags & DIS_TH_ACK;

    if (syn && !ack)
        return false;
    if (!zk_likely_server_port(p->sport))
        return false;
    if (zk_likely_server_port(p->dport))
        return !syn && p->sport < p->dport;
    return true;
}

/* ------------------------------------------------------------------------
 * Endpoint bookkeeping.
 */

/* TCP_Endpoint::SetState: the only writer of state and prev_state. */
static void zk_set_state(struct zk_ep *e, enum zk_state to)
{
    if (e->state != to) {
        e->prev_state = e->state;
        e->state = (uint8_t)to;
    }
}

static void zk_init_seq(struct zk_ep *e, uint32_t start, uint32_t last)
{
    e->start = start;
    e->last = last;
}

/* init_endpoint(): (re)initialise the sequence space before the packet is used. */
static void zk_init_endpoint(struct zk_ep *e, bool syn, uint32_t seq, uint32_t end)
{
    switch (e->state) {
    case ZK_INACTIVE:
        if (syn)
            zk_init_seq(e, seq, end);
        else /* partial: pretend a SYN came just before; the first packet is no rxmit */
            zk_init_seq(e, seq - 1, seq);
        break;
    case ZK_SYN_SENT:
    case ZK_SYN_ACK_SENT:
        if (syn && seq != e->start) /* SYN_seq_jump */
            zk_init_seq(e, seq, end);
        break;
    case ZK_ESTABLISHED:
    case ZK_PARTIAL:
        if (syn) /* guess: this SYN is the one that really sets the connection up */
            zk_init_seq(e, seq, end);
        break;
    case ZK_RESET:
        if (syn && e->prev_state == ZK_INACTIVE) /* the earlier RST may have been injected */
            zk_init_seq(e, seq, end);
        break;
    default:
        break;
    }
}

/* update_last_seq(): advance last, or count a retransmission (t/T). */
static void zk_update_last(struct zk_conn *c, int dir, uint32_t end, bool syn, bool fin, bool rst,
                           uint32_t len)
{
    struct zk_ep *e = &c->ep[dir];
    int32_t delta = (int32_t)(end - e->last);

    if ((syn || rst) && (delta > ZK_TOO_LARGE_SEQ_DELTA || delta < -ZK_TOO_LARGE_SEQ_DELTA))
        return; /* do not trust wild SYN/RST sequence numbers */
    if (fin && e->last == e->start + 1)
        e->last = end; /* only SYN and FIN seen: take the FIN even if "behind" */
    else if (e->state == ZK_RESET)
        return;
    else if (delta > 0)
        e->last = end;
    else if (len > 0)
        zk_scaled(c, dir, ZK_CNT_RXMIT, 'T');
}

static inline bool zk_is_clean(const struct zk_ep *e)
{
    return e->state == ZK_ESTABLISHED || (e->state == ZK_CLOSED && e->prev_state == ZK_ESTABLISHED);
}

/* TCP_Reassembler::Gap: the letter only while both sides are cleanly established. */
static void zk_gap(struct zk_conn *c, int dir)
{
    if (zk_is_clean(&c->ep[dir]) && zk_is_clean(&c->ep[!dir]))
        zk_scaled(c, dir, ZK_CNT_GAP, 'G');
}

/* Reassembler of dir: payload [seq, seq + len) (relative) was captured whole. */
static void zk_data_sent(struct zk_ep *e, uint32_t seq, uint32_t len)
{
    uint32_t upper = seq + len;

    if (tcb_seq_leq(upper, e->reassem))
        return; /* delivered already */
    if (tcb_seq_leq(seq, e->reassem)) {
        e->reassem = upper;
        if (e->blk_lo != e->blk_hi && tcb_seq_leq(e->blk_lo, e->reassem)) {
            if (tcb_seq_gt(e->blk_hi, e->reassem))
                e->reassem = e->blk_hi;
            e->blk_lo = e->blk_hi = 0;
        }
        return;
    }
    /* Above a hole: buffer (one range, merged by union). */
    if (e->blk_lo == e->blk_hi) {
        e->blk_lo = seq;
        e->blk_hi = upper;
        return;
    }
    if (tcb_seq_lt(seq, e->blk_lo))
        e->blk_lo = seq;
    if (tcb_seq_gt(upper, e->blk_hi))
        e->blk_hi = upper;
}

/*
 * TCP_Reassembler::AckReceived for dir's data: the peer ACKed up to rel_ack.
 * Bytes ACKed but never seen are a content gap.
 */
static void zk_ack_received(struct zk_conn *c, int dir, uint32_t rel_ack)
{
    struct zk_ep *e = &c->ep[dir];

    if ((e->flags & ZK_EP_FIN) && tcb_seq_geq(rel_ack, e->fin_rel))
        rel_ack = e->fin_rel - 1; /* the FIN's octet is no data */
    if (tcb_seq_leq(rel_ack, e->reassem))
        return;
    /* Undelivered(): a partial connection's faked first octets are no gap. */
    if (rel_ack <= 2 && (c->flags & ZK_C_PARTIAL))
        return;
    if (e->blk_lo != e->blk_hi && tcb_seq_lt(e->blk_lo, rel_ack)) {
        zk_gap(c, dir); /* the hole below the buffered range */
        if (tcb_seq_gt(e->blk_hi, e->reassem))
            e->reassem = e->blk_hi;
        e->blk_lo = e->blk_hi = 0;
    }
    if (tcb_seq_gt(rel_ack, e->reassem)) {
        zk_gap(c, dir);
        e->reassem = rel_ack;
    }
}

/* ------------------------------------------------------------------------
 * The per-state handlers of TCPSessionAdapter::UpdateStateMachine.
 */

struct zk_seg {
    uint32_t seq, ack, len;
    bool syn, fin, rst, has_ack;
};

static void zk_in_inactive(struct zk_conn *c, int dir, const struct zk_seg *s)
{
    struct zk_ep *e = &c->ep[dir], *peer = &c->ep[!dir];
    bool is_orig = dir == zk_orig_dir(c);

    if (s->syn) {
        if (is_orig) {
            zk_set_state(e, s->has_ack ? ZK_SYN_ACK_SENT : ZK_SYN_SENT);
        } else {
            if (!s->has_ack && peer->state == ZK_SYN_ACK_SENT && s->seq == e->start) {
                /* SYN/SYN-ACK reversal seen by the tap: flip and establish (Hs^...). */
                zk_flip(c);
                c->flags &= (uint8_t)~ZK_C_PARTIAL;
                c->flags |= ZK_C_FPS_O;
                zk_set_state(peer, ZK_ESTABLISHED);
            }
            if (peer->state == ZK_SYN_SENT)
                zk_set_state(peer, ZK_ESTABLISHED);
            zk_set_state(e, ZK_ESTABLISHED);
        }
    }
    if (s->fin)
        zk_set_state(e, ZK_CLOSED);
    if (s->rst)
        zk_set_state(e, ZK_RESET);

    if (e->state == ZK_INACTIVE) { /* no control flag moved it */
        const struct zk_ep *orig = &c->ep[zk_orig_dir(c)];
        if (!is_orig && s->len == 0 && orig->state == ZK_SYN_SENT) {
            /* some stacks ACK a SYN before answering it: not a partial connection */
        } else if (s->has_ack && peer->state == ZK_ESTABLISHED) {
            /* SYN/ACK seen, the SYN missed, now the handshake's ACK */
            zk_set_state(e, ZK_ESTABLISHED);
            c->flags &= (uint8_t)~ZK_C_PARTIAL;
            c->flags |= is_orig ? ZK_C_FPS_O : ZK_C_FPS_R;
        } else {
            zk_set_state(e, ZK_PARTIAL);
        }
    }
}

static void zk_in_syn_sent(struct zk_conn *c, int dir, const struct zk_seg *s)
{
    struct zk_ep *e = &c->ep[dir];

    if (s->fin)
        zk_set_state(e, ZK_CLOSED);
    if (s->rst)
        zk_set_state(e, ZK_RESET);
}

static void zk_in_established(struct zk_conn *c, int dir, const struct zk_seg *s)
{
    struct zk_ep *e = &c->ep[dir], *peer = &c->ep[!dir];

    if (s->syn && e->state == ZK_PARTIAL && peer->state == ZK_INACTIVE && !s->has_ack)
        zk_set_state(e, ZK_SYN_SENT); /* SYN_after_partial */
    if (s->fin && !s->rst) {
        zk_set_state(e, ZK_CLOSED);
        if (peer->state == ZK_RESET && peer->prev_state == ZK_CLOSED)
            zk_set_state(peer, ZK_CLOSED); /* FIN then RST was a normal close */
    }
    if (s->rst)
        zk_set_state(e, ZK_RESET);
}

static void zk_in_closed(struct zk_conn *c, int dir, const struct zk_seg *s)
{
    /* After a FIN exchange a RST changes nothing (xmpp: ...fFr is still SF). */
    if (s->rst && c->ep[!dir].state != ZK_CLOSED)
        zk_set_state(&c->ep[dir], ZK_RESET);
}

static void zk_update_state(struct zk_conn *c, int dir, const struct zk_seg *s)
{
    switch (c->ep[dir].state) {
    case ZK_INACTIVE:
        zk_in_inactive(c, dir, s);
        break;
    case ZK_SYN_SENT:
    case ZK_SYN_ACK_SENT:
        zk_in_syn_sent(c, dir, s);
        break;
    case ZK_ESTABLISHED:
    case ZK_PARTIAL:
        zk_in_established(c, dir, s);
        break;
    case ZK_CLOSED:
        zk_in_closed(c, dir, s);
        break;
    default: /* RESET: only weirds in Zeek */
        break;
    }
}

/* update_history(): the letters one segment adds. */
static void zk_update_history(struct zk_conn *c, int dir, const struct zk_seg *s, uint32_t rel)
{
    struct zk_ep *e = &c->ep[dir];
    int bits = s->syn + s->fin + s->rst;

    if (bits > 1) {
        if (s->fin && s->rst)
            zk_check(c, dir, ZK_H_FIN_RST, 'I');
        else
            zk_check(c, dir, ZK_H_MULTI, 'Q');
    } else if (s->syn) {
        char code = s->has_ack ? 'H' : 'S';
        if (zk_check(c, dir, ZK_H_SYN, code) && rel != e->hist_syn)
            zk_add_for(c, dir, code);
        e->hist_syn = rel;
    } else if (s->fin) {
        /* a FIN's sequence number is the one after its data */
        if (zk_check(c, dir, ZK_H_FIN, 'F') && rel + s->len != e->hist_fin)
            zk_add_for(c, dir, 'F');
        e->hist_fin = rel + s->len;
    } else if (s->rst) {
        if (zk_check(c, dir, ZK_H_RST, 'R') && rel != e->hist_rst)
            zk_add_for(c, dir, 'R');
        e->hist_rst = rel;
    } else if (s->len) {
        zk_check(c, dir, ZK_H_DATA, 'D');
    } else if (s->has_ack) {
        zk_check(c, dir, ZK_H_ACK, 'A');
    }
}

/* ------------------------------------------------------------------------
 * Public entry points.
 */

void zeek_init(struct zeek_state *z)
{
    struct zk_conn *c;

    assert(z);
    memset(z, 0, sizeof *z);
    c = zk(z);
    c->ep[0].reassem = c->ep[1].reassem = 1; /* relative: the octet after the SYN */
}

void zeek_packet(struct zeek_state *z, int dir, const struct dis_pkt *p)
{
    struct zk_conn *c = zk(z);
    struct zk_ep *e, *peer;
    struct zk_seg s;
    uint32_t seg_len, end, rel;
    bool is_orig, seq_underflow;

    assert(z && p && (dir == 0 || dir == 1));

    if (!(c->flags & ZK_C_STARTED)) {
        /* WantConnection() runs before the checksum is looked at. */
        c->flags |= ZK_C_STARTED;
        if (zk_flip_at_creation(p))
            zk_flip(c); /* dir 0 becomes the responder: history starts "^" */
    }

    if (p->csum == DIS_CSUM_BAD_IP || p->csum == DIS_CSUM_BAD_TCP) {
        /* Zeek without -C: c/C, nothing else (not counted, no state). */
        zk_scaled(c, dir, ZK_CNT_CSUM, 'C');
        return;
    }

    s.seq = p->seq;
    s.ack = p->ack;
    s.len = p->payload_len;
    s.syn = p->tcp_flags & DIS_TH_SYN;
    s.fin = p->tcp_flags & DIS_TH_FIN;
    s.rst = p->tcp_flags & DIS_TH_RST;
    s.has_ack = p->tcp_flags & DIS_TH_ACK;

    /*
     * Zeek PR #2191: a connection that began with a SYN/ACK (history "H",
     * the SYN/ACK's sender taken as originator) is flipped as soon as an ACK
     * or data segment follows in either direction, and its history reads
     * "^h" from then on: a stealth scan's SYN/ACK draws only RSTs or nothing.
     */
    if (c->hist_len == 1 && c->hist[0] == 'H' && !s.syn && !s.fin && !s.rst &&
        (s.has_ack || s.len > 0)) {
        uint16_t o_syn = ZK_H_SYN, r_syn = (uint16_t)(ZK_H_SYN << 8);
        c->hist_len = 0;
        zk_flip(c);
        zk_add(c, 'h');
        if (c->hist_seen & o_syn) /* the SYN/ACK now belongs to the responder */
            c->hist_seen = (uint16_t)((c->hist_seen & ~o_syn) | r_syn);
    }

    is_orig = dir == zk_orig_dir(c);
    e = &c->ep[dir];
    peer = &c->ep[!dir];

    /* SetPartialStatus(): is this side's first packet anything but a plain SYN? */
    if (is_orig) {
        if (!(c->flags & ZK_C_FPS_O) && (!s.syn || s.has_ack))
            c->flags |= ZK_C_PARTIAL;
        else if (!(c->flags & ZK_C_FPS_O))
            c->flags &= (uint8_t)~ZK_C_PARTIAL;
    } else if (!(c->flags & ZK_C_FPS_R) && !(c->flags & ZK_C_PARTIAL) && !s.syn) {
        c->flags |= ZK_C_PARTIAL;
    }

    /* get_segment_len(): SYN and FIN take an octet; a RST's payload is no stream data. */
    seg_len = s.len + s.syn + s.fin - (s.rst ? s.len : 0);
    end = s.seq + seg_len;

    zk_init_endpoint(e, s.syn, s.seq, end);
    rel = s.seq - e->start;
    seq_underflow = (int32_t)rel < 0;

    zk_update_history(c, dir, &s, rel);

    /* update_window(): a zero window is news unless a RST or a closed peer explains it. */
    if (p->window == 0 && !s.rst && peer->state != ZK_CLOSED && e->state != ZK_RESET)
        zk_scaled(c, dir, ZK_CNT_WIN0, 'W');

    if (s.fin) {
        e->flags |= ZK_EP_FIN;
        e->fin_rel = rel + seg_len;
    }

    uint32_t rel_ack = 0;
    if (s.has_ack) {
        if (peer->state == ZK_INACTIVE) {
            /* init_peer(): number the peer's space as if its SYN had been seen */
            zk_init_seq(peer, s.ack - 1, s.ack - 1);
            rel_ack = 1;
        } else if (tcb_seq_geq(s.ack, peer->start)) {
            rel_ack = s.ack - peer->start;
        }
    }

    zk_update_last(c, dir, end, s.syn, s.fin, s.rst, s.len);
    zk_update_state(c, dir, &s);

    /* After the state machine, so a gap revealed by a FIN or RST is not flagged. */
    if (s.has_ack && rel_ack)
        zk_ack_received(c, !dir, rel_ack);

    /* TCPSessionAdapter::DataSent: only whole captured payload reaches the reassembler. */
    if (s.len > 0 && !s.rst && !seq_underflow && p->payload_caplen >= p->payload_len)
        zk_data_sent(e, rel + s.syn, s.len);

    /* CheckPIA_FirstPacket(): this role has now been seen. */
    c->flags |= is_orig ? ZK_C_FPS_O : ZK_C_FPS_R; /* Zeek passes the role held on entry */
}

/* Zeek's Size() reduced to "sent any data" (the REJ rule needs only == 0). */
static bool zk_size_zero(const struct zk_ep *e)
{
    int32_t size = (int32_t)(e->last - e->start);

    if (size < 0)
        return false; /* a huge uint64 in Zeek */
    if (size > 0)
        --size; /* the SYN octet */
    if ((e->flags & ZK_EP_FIN) && size > 0)
        --size;
    return size == 0;
}

/* The RSTOS0 test of main.zeek: history matches /^\^?S[^HAFGIQ]*R.*$/. */
static bool zk_rstos0_history(const struct zk_conn *c)
{
    int i = 0;

    if (i < c->hist_len && c->hist[i] == '^')
        ++i;
    if (i >= c->hist_len || c->hist[i] != 'S')
        return false;
    for (++i; i < c->hist_len; ++i) {
        char ch = c->hist[i];
        if (ch == 'R')
            return true;
        if (strchr("HAFGIQ", ch))
            return false;
    }
    return false;
}

/* conn_state() of scripts/base/protocols/conn/main.zeek, in its order. */
static const char *zk_conn_state(const struct zk_conn *c)
{
    const struct zk_ep *o = &c->ep[zk_orig_dir(c)], *r = &c->ep[!zk_orig_dir(c)];
    int os = o->state, rs = r->state;
    bool o_inactive = os == ZK_INACTIVE || os == ZK_PARTIAL;
    bool r_inactive = rs == ZK_INACTIVE || rs == ZK_PARTIAL;

    if (rs == ZK_RESET) {
        if (os == ZK_SYN_SENT || os == ZK_SYN_ACK_SENT ||
            (os == ZK_RESET && zk_size_zero(o) && zk_size_zero(r)))
            return "REJ";
        return o_inactive ? "RSTRH" : "RSTR";
    }
    if (os == ZK_RESET) {
        if (r_inactive)
            return zk_rstos0_history(c) ? "RSTOS0" : "OTH";
        return "RSTO";
    }
    if (rs == ZK_CLOSED && os == ZK_CLOSED)
        return "SF";
    if (os == ZK_CLOSED)
        return r_inactive ? "SH" : "S2";
    if (rs == ZK_CLOSED)
        return o_inactive ? "SHR" : "S3";
    if (os == ZK_SYN_SENT && rs == ZK_INACTIVE)
        return "S0";
    if (os == ZK_ESTABLISHED && rs == ZK_ESTABLISHED)
        return "S1";
    return "OTH";
}

void zeek_result(const struct zeek_state *z, char conn_state[8], char history[TCB_ZEEK_HISTORY_MAX],
                 int *orig_dir)
{
    const struct zk_conn *c = zk_c(z);
    size_t n = c->hist_len;

    assert(z && conn_state && history && orig_dir);
    if (n > TCB_ZEEK_HISTORY_MAX - 1)
        n = TCB_ZEEK_HISTORY_MAX - 1;
    memcpy(history, c->hist, n);
    history[n] = '\0';
    strcpy(conn_state, zk_conn_state(c));
    *orig_dir = zk_orig_dir(c);
}
