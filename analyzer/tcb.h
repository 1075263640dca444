/*
 * tcb.h - public interface of the analyzer module.
 *
 * Owns: the connection table (one record per connection incarnation), the
 * per-endpoint RFC 9293 state machines inferred from what a tap sees, the
 * open/close classification, Zeek-compatible conn_state/history, and the
 * timeline of every state change.
 *
 * Leaves to others: reading and decoding frames (dissectors/), writing
 * results (storage/ implements struct tcb_output).  Nothing here prints.
 */
#ifndef TCBSCOPE_TCB_H
#define TCBSCOPE_TCB_H

#include "dis.h"

/* RFC 9293 connection states; printed with their RFC spelling. */
#define TCB_STATE_LIST(X)                                                                          \
    X(CLOSED, "CLOSED")                                                                            \
    X(LISTEN, "LISTEN")                                                                            \
    X(SYN_SENT, "SYN-SENT")                                                                        \
    X(SYN_RECEIVED, "SYN-RECEIVED")                                                                \
    X(ESTABLISHED, "ESTABLISHED")                                                                  \
    X(FIN_WAIT_1, "FIN-WAIT-1")                                                                    \
    X(FIN_WAIT_2, "FIN-WAIT-2")                                                                    \
    X(CLOSE_WAIT, "CLOSE-WAIT")                                                                    \
    X(CLOSING, "CLOSING")                                                                          \
    X(LAST_ACK, "LAST-ACK")                                                                        \
    X(TIME_WAIT, "TIME-WAIT")

enum tcb_state {
#define TCB_X(n, s) TCB_##n,
    TCB_STATE_LIST(TCB_X)
#undef TCB_X
        TCB_STATE_COUNT
};

/*
 * Why a state changed (timeline cause codes).  Beside each name: which
 * endpoint sent the segment behind the change (SELF = the endpoint whose
 * state changed, PEER = the other one, NONE = no segment: inferred or a
 * timer) and the TCP flags that segment carried, so that a drawing of the
 * timeline needs no analysis of its own.  Receipts are recorded at the
 * receiver's answer (docs/vantage.md rule 2): rcv_syn at its SYN/ACK,
 * rcv_synack and rcv_fin at its ACK.
 */
#define TCB_CAUSE_LIST(X)                                                                          \
    X(SND_SYN, "snd_syn", SELF, DIS_TH_SYN)           /* sent a SYN (active open) */               \
    X(RCV_SYN, "rcv_syn", SELF, DIS_TH_SYN | DIS_TH_ACK) /* got a SYN: passive, or crossing */    \
    X(RCV_SYNACK, "rcv_synack", SELF, DIS_TH_ACK)     /* got the SYN/ACK for its SYN */            \
    X(RCV_ACK_OF_SYN, "rcv_ack_of_syn", PEER, DIS_TH_ACK) /* got the ACK of its SYN */            \
    X(SND_FIN, "snd_fin", SELF, DIS_TH_FIN)                                                        \
    X(RCV_FIN, "rcv_fin", SELF, DIS_TH_ACK)                                                        \
    X(RCV_ACK_OF_FIN, "rcv_ack_of_fin", PEER, DIS_TH_ACK)                                          \
    X(SND_RST, "snd_rst", SELF, DIS_TH_RST)                                                        \
    X(RCV_RST, "rcv_rst", PEER, DIS_TH_RST)                                                        \
    X(TIME_WAIT_EXPIRED, "time_wait_expired", NONE, 0)                                             \
    X(NEW_INCARNATION, "new_incarnation", NONE, 0) /* a new SYN on the tuple took over the TCB */ \
    X(MIDSTREAM, "midstream", NONE, 0)     /* inferred: the capture began mid-connection */       \
    X(SYN_NOT_SEEN, "syn_not_seen", NONE, 0) /* inferred: a SYN/ACK answered an unseen SYN */     \
    X(PASSIVE_OPEN, "passive_open", NONE, 0) /* inferred: an endpoint seen CLOSED answers a SYN, \
                                                so it had been listening since */

enum tcb_cause {
#define TCB_X(n, s, by, fl) TCB_CAUSE_##n,
    TCB_CAUSE_LIST(TCB_X)
#undef TCB_X
        TCB_CAUSE_COUNT
};

#define TCB_OPEN_KIND_LIST(X)                                                                      \
    X(ACTIVE_PASSIVE, "active_passive")                                                            \
    X(SIMULTANEOUS, "simultaneous")                                                                \
    X(MIDSTREAM, "midstream")                                                                      \
    X(NONE, "none")
enum tcb_open_kind {
#define TCB_X(n, s) TCB_OPEN_##n,
    TCB_OPEN_KIND_LIST(TCB_X)
#undef TCB_X
        TCB_OPEN_KIND_COUNT
};

#define TCB_EP_OPEN_LIST(X)                                                                        \
    X(ACTIVE, "active")                                                                            \
    X(PASSIVE, "passive")                                                                          \
    X(SIMULTANEOUS, "simultaneous")                                                                \
    X(UNKNOWN, "unknown")
enum tcb_ep_open {
#define TCB_X(n, s) TCB_EPOPEN_##n,
    TCB_EP_OPEN_LIST(TCB_X)
#undef TCB_X
        TCB_EP_OPEN_COUNT
};

#define TCB_HANDSHAKE_LIST(X)                                                                      \
    X(COMPLETE, "complete")                                                                        \
    X(REFUSED, "refused")                                                                          \
    X(UNANSWERED, "unanswered")                                                                    \
    X(RESET, "reset")                                                                              \
    X(INCOMPLETE, "incomplete")                                                                    \
    X(NOT_SEEN, "not_seen")
enum tcb_handshake {
#define TCB_X(n, s) TCB_HS_##n,
    TCB_HANDSHAKE_LIST(TCB_X)
#undef TCB_X
        TCB_HANDSHAKE_COUNT
};

#define TCB_CLOSE_KIND_LIST(X)                                                                     \
    X(ACTIVE_CLIENT, "active_client")                                                              \
    X(ACTIVE_SERVER, "active_server")                                                              \
    X(SIMULTANEOUS, "simultaneous")                                                                \
    X(RESET_CLIENT, "reset_client")                                                                \
    X(RESET_SERVER, "reset_server")                                                                \
    X(REFUSED, "refused")                                                                          \
    X(OPEN, "open")                                                                                \
    X(NONE, "none")
enum tcb_close_kind {
#define TCB_X(n, s) TCB_CLOSE_##n,
    TCB_CLOSE_KIND_LIST(TCB_X)
#undef TCB_X
        TCB_CLOSE_KIND_COUNT
};

#define TCB_ANOMALY_LIST(X)                                                                        \
    X(BAD_CHECKSUM, "bad_checksum")                                                                \
    X(RST_OUT_OF_WINDOW, "rst_out_of_window")                                                      \
    X(DATA_AFTER_FIN, "data_after_fin")                                                            \
    X(ACK_UNSEEN_DATA, "ack_unseen_data")                                                          \
    X(SYNACK_ISN_CHANGED, "synack_isn_changed")                                                    \
    X(SYN_FIN, "syn_fin")                                                                          \
    X(SYN_RST, "syn_rst")                                                                          \
    X(OPT_MALFORMED, "opt_malformed")                                                              \
    X(EVICTED, "evicted")                                                                          \
    X(UNEXPECTED_SYN, "unexpected_syn")     /* SYN with a new ISN on a live connection */  \
    X(TIMELINE_FULL, "timeline_full")       /* more state changes than a record keeps */

enum tcb_anomaly {
#define TCB_X(n, s) TCB_ANOM_##n,
    TCB_ANOMALY_LIST(TCB_X)
#undef TCB_X
        TCB_ANOMALY_COUNT
};

enum tcb_endpoint { TCB_CLIENT = 0, TCB_SERVER = 1 };

/* Stable printed names of the enums above ("SYN-RECEIVED", "rcv_syn", ...). */
const char *tcb_state_name(enum tcb_state s);
const char *tcb_cause_name(enum tcb_cause c);
const char *tcb_open_kind_name(enum tcb_open_kind k);
const char *tcb_ep_open_name(enum tcb_ep_open k);
const char *tcb_handshake_name(enum tcb_handshake h);
const char *tcb_close_kind_name(enum tcb_close_kind k);
const char *tcb_anomaly_name(enum tcb_anomaly a);
const char *tcb_endpoint_name(enum tcb_endpoint e); /* "client" / "server" */

/* The segment behind a state change with cause c, as TCB_CAUSE_LIST says. */
enum tcb_cause_by { TCB_BY_SELF, TCB_BY_PEER, TCB_BY_NONE };
enum tcb_cause_by tcb_cause_sender(enum tcb_cause c);
uint16_t tcb_cause_flags(enum tcb_cause c); /* DIS_TH_* bits; 0 with TCB_BY_NONE */

/* One state change of one endpoint. */
struct tcb_event {
    uint64_t ts_ns;
    uint64_t frame;   /* 1-based frame number of the segment that caused it; 0 = no segment
                         (time_wait_expired) */
    uint8_t endpoint; /* enum tcb_endpoint */
    uint8_t from, to; /* enum tcb_state */
    uint8_t cause;    /* enum tcb_cause */
};

struct tcb_anom {
    uint64_t ts_ns;
    uint64_t frame;
    uint8_t endpoint; /* enum tcb_endpoint: the sender of the segment */
    uint8_t kind;     /* enum tcb_anomaly */
};

/* Which optional values of struct tcb_conn_info were seen (bits of .have). */
#define TCB_HAVE_SYN 0x001       /* syn_ns */
#define TCB_HAVE_SYNACK 0x002    /* synack_ns */
#define TCB_HAVE_ACK 0x004       /* ack_ns */
#define TCB_HAVE_CMSS 0x008      /* mss[TCB_CLIENT] */
#define TCB_HAVE_SMSS 0x010      /* mss[TCB_SERVER] */
#define TCB_HAVE_CWSCALE 0x020   /* wscale[TCB_CLIENT] */
#define TCB_HAVE_SWSCALE 0x040   /* wscale[TCB_SERVER] */
#define TCB_HAVE_OPTS 0x080      /* sack_permitted/timestamps known (both SYNs seen) */
#define TCB_HAVE_VLAN 0x100      /* vlan */
#define TCB_HAVE_TUNNEL_ID 0x200 /* tunnel_id */
#define TCB_HAVE_RTT_C2S 0x400   /* rtt_*_ns[TCB_CLIENT]: at least one data-to-ACK sample */
#define TCB_HAVE_RTT_S2C 0x800   /* rtt_*_ns[TCB_SERVER] */

#define TCB_ZEEK_HISTORY_MAX 48

/*
 * One finished connection incarnation, handed to the output.  Pointers
 * (events, anomalies) are valid only during the callback.
 */
struct tcb_conn_info {
    uint64_t id; /* 1, 2, ... in order of the first packet */
    uint8_t ip_version;
    uint8_t client_ip[16], server_ip[16]; /* IPv4 in the first 4 bytes */
    uint16_t client_port, server_port;
    uint16_t vlan;
    uint8_t tunnel;       /* enum dis_tunnel of the innermost encapsulation (DIS_TUNNEL_NONE) */
    uint32_t tunnel_id;   /* VNI / GRE key / ERSPAN session, with TCB_HAVE_TUNNEL_ID; part of
                             the connection key, so tenants reusing addresses stay apart */
    uint32_t incarnation; /* 1, 2, ... per tuple */
    uint32_t have;        /* TCB_HAVE_* */

    uint8_t open_kind;   /* enum tcb_open_kind */
    uint8_t client_open; /* enum tcb_ep_open */
    uint8_t server_open;
    uint8_t handshake;   /* enum tcb_handshake */
    uint8_t close_kind;  /* enum tcb_close_kind */
    uint8_t client_final_state; /* enum tcb_state */
    uint8_t server_final_state;

    uint64_t first_ns, last_ns, syn_ns, synack_ns, ack_ns;
    uint64_t first_frame, last_frame; /* run frame numbers of its first and last segment */
    uint32_t syn_retransmits, synack_retransmits;
    uint64_t packets[2];         /* indexed by enum tcb_endpoint of the sender: c2s, s2c */
    uint64_t data_bytes[2];      /* unique payload bytes sent */
    uint64_t retrans_packets[2]; /* segments retransmitting data already seen */
    /* What the tap saw each endpoint send, indexed like packets[] (docs/schema.md). */
    uint64_t ip_bytes[2];      /* IP datagram lengths (IPv4 total length, IPv6 40 + payload) */
    uint64_t retrans_bytes[2]; /* payload bytes sent again below the highest sequence seen */
    uint64_t zero_windows[2];  /* segments advertising a zero window (not SYN/FIN/RST) */
    uint64_t dup_acks[2];      /* duplicate ACKs (Wireshark's tcp.analysis.duplicate_ack) */
    uint64_t out_of_order[2];  /* segments filling a hole below the highest sequence seen */
    uint64_t missed_bytes[2];  /* its bytes the peer ACKed that the tap never saw (Zeek's
                                  missed_bytes, per direction) */
    /* Data-to-ACK round trips (Karn's rule) of the data an endpoint sent, timed at the
     * tap: [TCB_CLIENT] = tap to server and back, [TCB_SERVER] = tap to client and back.
     * Valid with TCB_HAVE_RTT_C2S / TCB_HAVE_RTT_S2C. */
    uint64_t rtt_samples[2];
    uint64_t rtt_min_ns[2], rtt_avg_ns[2], rtt_max_ns[2];
    uint16_t mss[2];
    uint8_t wscale[2];
    bool sack_permitted; /* both SYNs carried SACK-permitted (with TCB_HAVE_OPTS) */
    bool timestamps;     /* both SYNs carried timestamps (with TCB_HAVE_OPTS) */
    bool tfo;            /* data on the SYN or a TFO option in the handshake */
    bool evicted;        /* finished early by --max-connections */

    char zeek_conn_state[8];
    char zeek_history[TCB_ZEEK_HISTORY_MAX];
    uint8_t zeek_orig; /* enum tcb_endpoint Zeek calls the originator (after its role flips) */

    const struct tcb_event *events;
    uint32_t event_count;
    const struct tcb_anom *anomalies;
    uint32_t anomaly_count;
};

/*
 * Where finished connections go.  conn() is called once per incarnation,
 * in the order connections finish (capture time), from the thread that calls
 * tcb_packet()/tcb_finish().  A non-zero return stops the analysis: it is
 * passed back out of tcb_packet()/tcb_finish().
 */
struct tcb_output {
    void *ctx;
    int (*conn)(void *ctx, const struct tcb_conn_info *c);
};

struct tcb_config {
    uint64_t idle_timeout_ns; /* default 300 s */
    uint64_t time_wait_ns;    /* 2*MSL; default 60 s */
    uint64_t hash_seed;       /* used when seed_set; else drawn from getrandom() */
    bool seed_set;
    bool vlan_in_key;         /* default true: the VLAN id is part of the connection key */
    uint32_t max_connections; /* 0 = unlimited */
    bool full_records_only;   /* no embryos, no folding after close (tests: the compact
                                 records must give byte-identical results) */
};

/* Fill *cfg with the defaults above. */
void tcb_config_default(struct tcb_config *cfg);

/* Engine counters for the run table and the summary. */
struct tcb_stats {
    uint64_t segments;     /* TCP segments given to tcb_packet() */
    uint64_t connections;  /* records created */
    uint64_t live, peak_live; /* open connections: records not yet closed on both sides */
    uint64_t held, peak_held; /* records in the table: open + closed ones waiting out TIME-WAIT */
    uint64_t events;
    uint64_t evictions;    /* records finished early by --max-connections (flagged evicted) */
    uint64_t folded;       /* closed records folded into compact blobs (a second after
                              closing, or to make room): results unchanged */
    uint64_t embryos;      /* connections begun as a 144-byte embryonic record (bare SYN) */
    uint64_t bad_checksum_ignored; /* segments with bad checksums (not advancing state) */
    uint64_t ts_outliers;  /* frames dated far from their neighbours: taken at their time */
    uint64_t ts_outlier_first_ns; /* the first such frame's own (bad) timestamp */
    uint64_t ts_clamped;   /* segments dated before their connection's previous one */
};

struct tcb_table;

/*
 * Create an engine.  *cfg is copied; out->ctx is not owned.  Returns 0, or
 * -ENOMEM with a message in err.
 */
int tcb_table_new(struct tcb_table **out, const struct tcb_config *cfg,
                  const struct tcb_output *output, char err[TCBS_ERRLEN]);

/*
 * Feed one decoded TCP segment (dis_decode() returned DIS_SKIP_NONE), in
 * capture order.  May finish and emit connections whose TIME-WAIT or idle
 * time ran out.  Time model (docs/vantage.md, "Time"): every decision about
 * a connection compares that connection's own deadlines (last activity +
 * idle timeout; entry into TIME-WAIT + 2*MSL) with the segment's timestamp;
 * the table's clock only reclaims memory and marks the capture end.  A
 * frame dated further than min(idle timeout, 2*MSL) from the clock is held
 * (with up to TCB_CLOCK_HOLD - 1 frames after it) until the frames after it
 * confirm the jump; if they do not, it is an outlier and is taken at the
 * clock's time (stats.ts_outliers).  A segment dated before its
 * connection's previous one is taken at that one's time (stats.ts_clamped),
 * so no duration or latency is negative.  p is copied when held; its
 * payload pointer is not kept.  Returns 0, or the output's non-zero return,
 * or -ENOMEM.
 */
int tcb_packet(struct tcb_table *t, const struct dis_pkt *p);

#define TCB_CLOCK_HOLD 4

/*
 * Advance capture time without a segment (frames that were skipped still
 * move the clock so timeouts fire).  Returns as tcb_packet().
 */
int tcb_advance(struct tcb_table *t, uint64_t ts_ns);

/*
 * End of input: emit every remaining connection in id order, with its state
 * at the capture end.  Returns as tcb_packet().
 */
int tcb_finish(struct tcb_table *t);

const struct tcb_stats *tcb_table_stats(const struct tcb_table *t);

void tcb_table_free(struct tcb_table *t);

#endif /* TCBSCOPE_TCB_H */
