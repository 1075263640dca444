/*
 * seq.h - TCP sequence-number arithmetic mod 2^32 [RFC 9293 §3.4, Linux
 * before()/after()], shared by the engine, the Zeek emulation and `show`.
 * Never compare sequence numbers with < directly.
 */
#ifndef TCBSCOPE_SEQ_H
#define TCBSCOPE_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool tcb_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool tcb_seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

static inline bool tcb_seq_gt(uint32_t a, uint32_t b)
{
    return tcb_seq_lt(b, a);
}

static inline bool tcb_seq_geq(uint32_t a, uint32_t b)
{
    return tcb_seq_leq(b, a);
}

#endif /* TCBSCOPE_SEQ_H */
