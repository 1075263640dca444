/*
 * synth.h - hand-built connection records for the storage tests and the
 * benchmark.  Every value is a pure function of the id, so a test can
 * recompute what a sink must have written without reading the sink's output.
 */
#ifndef TCBSCOPE_SYNTH_H
#define TCBSCOPE_SYNTH_H

#include "tcb.h"

#define SYNTH_MAX_EVENTS 8
#define SYNTH_MAX_ANOMS 3
#define SYNTH_BASE_NS 1700000000000000000ull

/* A record with storage for its timeline. */
struct synth_conn {
    struct tcb_conn_info info;
    struct tcb_event ev[SYNTH_MAX_EVENTS];
    struct tcb_anom an[SYNTH_MAX_ANOMS];
};

/*
 * Fill *s for connection `id` (1-based).  Varies: IPv4 (id % 3 != 0) or
 * IPv6; id % 4 == 0 has no SYN/SYN-ACK/ACK, MSS, wscale or options seen
 * (NULL columns) and handshake not_seen; otherwise a complete handshake
 * with SYN at SYNTH_BASE_NS + id*1e6, SYN-ACK 1.5 ms later, ACK 0.25 ms
 * after that.  id % 6 events, id % 3 anomalies; even event/anomaly
 * indexes have frame 0.  VLAN only when id % 5 == 0.
 */
void synth_fill(struct synth_conn *s, uint64_t id);

#endif /* TCBSCOPE_SYNTH_H */
