/*
 * zeek_int.h - private to analyzer/: Zeek-compatible conn_state and history
 * for one connection record, computed packet by packet beside (and
 * independently of) the RFC 9293 state machines in tcb.c.
 *
 * tcb.c owns the record and calls zeek_packet() for every segment of it in
 * capture order; zeek.c owns everything about Zeek's rules (endpoint states,
 * history letters and their repetition rules, role flips).
 */
#ifndef TCBSCOPE_ZEEK_INT_H
#define TCBSCOPE_ZEEK_INT_H

#include "tcb.h"

/*
 * Fixed size, no pointers: it lives inside every connection record.  128
 * bytes: two endpoints' sequence bookkeeping (48 bytes each), the "seen"
 * bits, role flags and up to 28 history letters.  Aligned for the 32-bit
 * fields zeek.c keeps in it.
 */
struct zeek_state {
    _Alignas(4) uint8_t opaque_[128]; /* layout private to zeek.c (static_assert there) */
};

/* Start a record.  dir 0 is the endpoint that sent the record's first segment. */
void zeek_init(struct zeek_state *z);

/*
 * One segment of the record.  dir: 0 = sent by the endpoint that sent the
 * record's first segment, 1 = by the other.  p->csum says whether checksum
 * verification found it bad (DIS_CSUM_BAD_*): Zeek then records only c/C and
 * does not count or act on the segment.
 */
void zeek_packet(struct zeek_state *z, int dir, const struct dis_pkt *p);

/*
 * Zeek's view at the end of the record: conn_state ("S0", "SF", ... "OTH"),
 * history (NUL-terminated, truncated to fit), and which dir Zeek calls the
 * originator after any flips (0 or 1).
 */
void zeek_result(const struct zeek_state *z, char conn_state[8], char history[TCB_ZEEK_HISTORY_MAX],
                 int *orig_dir);

#endif /* TCBSCOPE_ZEEK_INT_H */
