/*
 * names.c - the printed names of the analyzer's enums.  These strings are
 * the public vocabulary of the sinks (SQL CHECK constraints, JSON values):
 * they never change once released.
 */
#include "tcb.h"

#define TCB_X_NAME(n, s) s,
static const char *const state_names[] = {TCB_STATE_LIST(TCB_X_NAME)};
static const char *const open_kind_names[] = {TCB_OPEN_KIND_LIST(TCB_X_NAME)};
static const char *const ep_open_names[] = {TCB_EP_OPEN_LIST(TCB_X_NAME)};
static const char *const handshake_names[] = {TCB_HANDSHAKE_LIST(TCB_X_NAME)};
static const char *const close_kind_names[] = {TCB_CLOSE_KIND_LIST(TCB_X_NAME)};
static const char *const anomaly_names[] = {TCB_ANOMALY_LIST(TCB_X_NAME)};
#undef TCB_X_NAME

#define TCB_X_CAUSE(n, s, by, fl) s,
static const char *const cause_names[] = {TCB_CAUSE_LIST(TCB_X_CAUSE)};
#undef TCB_X_CAUSE
#define TCB_X_CAUSE(n, s, by, fl) TCB_BY_##by,
static const uint8_t cause_by[] = {TCB_CAUSE_LIST(TCB_X_CAUSE)};
#undef TCB_X_CAUSE
#define TCB_X_CAUSE(n, s, by, fl) (fl),
static const uint16_t cause_flags[] = {TCB_CAUSE_LIST(TCB_X_CAUSE)};
#undef TCB_X_CAUSE

#define NAME_OF(table, v)                                                                          \
    ((unsigned)(v) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(v)] : "?")

const char *tcb_state_name(enum tcb_state s)
{
    return NAME_OF(state_names, s);
}

const char *tcb_cause_name(enum tcb_cause c)
{
    return NAME_OF(cause_names, c);
}

const char *tcb_open_kind_name(enum tcb_open_kind k)
{
    return NAME_OF(open_kind_names, k);
}

const char *tcb_ep_open_name(enum tcb_ep_open k)
{
    return NAME_OF(ep_open_names, k);
}

const char *tcb_handshake_name(enum tcb_handshake h)
{
    return NAME_OF(handshake_names, h);
}

const char *tcb_close_kind_name(enum tcb_close_kind k)
{
    return NAME_OF(close_kind_names, k);
}

const char *tcb_anomaly_name(enum tcb_anomaly a)
{
    return NAME_OF(anomaly_names, a);
}

const char *tcb_endpoint_name(enum tcb_endpoint e)
{
    return e == TCB_CLIENT ? "client" : "server";
}

enum tcb_cause_by tcb_cause_sender(enum tcb_cause c)
{
    return (unsigned)c < TCB_CAUSE_COUNT ? (enum tcb_cause_by)cause_by[c] : TCB_BY_NONE;
}

uint16_t tcb_cause_flags(enum tcb_cause c)
{
    return (unsigned)c < TCB_CAUSE_COUNT ? cause_flags[c] : 0;
}
