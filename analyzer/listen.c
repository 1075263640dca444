/*
 * listen.c - the listener set: endpoints seen answering a SYN, used to
 * choose the server of a connection first seen mid-stream.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcb_int.h"

/* ------------------------------------------------------------------------
 * Listeners and the choice of server for mid-stream connections.
 */
#define TCB_MAX_LISTENERS (1u << 16)

static uint32_t tcb_listener_hash(const uint8_t *addr, uint16_t port)
{
    uint64_t x = (tcb_load64(addr) ^ tcb_load64(addr + 8) * 0xC2B2AE3D27D4EB4FULL) *
                 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(x >> 32) ^ port;
}

static void tcb_listener_put(struct tcb_table *t, const uint8_t *addr, uint16_t port, uint8_t ver);

/* The set grows from small (a run's first table costs nothing) up to a fixed
 * cap; past it, an entry whose probe window is full is simply not kept: it
 * only helps choose the server of mid-stream connections. */
void tcb_listener_add(struct tcb_table *t, const struct tcb_ep *e, uint8_t ver)
{
    if (t->nlisteners * 2 >= t->caplisteners && t->caplisteners < TCB_MAX_LISTENERS) {
        uint32_t n = t->caplisteners ? t->caplisteners * 2 : 256;
        struct tcb_listener *old = t->listeners, *nl = calloc(n, sizeof(*nl));
        if (nl) {
            uint32_t oc = t->caplisteners;
            t->listeners = nl;
            t->caplisteners = n;
            t->nlisteners = 0;
            for (uint32_t i = 0; i < oc; i++)
                if (old[i].used)
                    tcb_listener_put(t, old[i].addr, old[i].port, old[i].ver);
            free(old);
        }
    }
    if (t->caplisteners)
        tcb_listener_put(t, e->addr, e->port, ver);
}

static void tcb_listener_put(struct tcb_table *t, const uint8_t *addr, uint16_t port, uint8_t ver)
{
    uint32_t h = tcb_listener_hash(addr, port);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t j = (h + k) & (t->caplisteners - 1);
        if (t->listeners[j].used) {
            if (t->listeners[j].port == port && t->listeners[j].ver == ver &&
                !memcmp(t->listeners[j].addr, addr, 16))
                return;
            continue;
        }
        memcpy(t->listeners[j].addr, addr, 16);
        t->listeners[j].port = port;
        t->listeners[j].ver = ver;
        t->listeners[j].used = 1;
        t->nlisteners++;
        return;
    }
}

static bool tcb_listener_has(const struct tcb_table *t, const uint8_t *addr, uint16_t port,
                             uint8_t ver)
{
    if (!t->caplisteners)
        return false;
    uint32_t h = tcb_listener_hash(addr, port);
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t j = (h + k) & (t->caplisteners - 1);
        if (!t->listeners[j].used)
            return false;
        if (t->listeners[j].port == port && t->listeners[j].ver == ver &&
            !memcmp(t->listeners[j].addr, addr, 16))
            return true;
    }
    return false;
}

/* Mid-stream: is the receiver of the first segment the server? */
bool tcb_receiver_is_server(const struct tcb_table *t, const struct dis_pkt *p)
{
    bool ls = tcb_listener_has(t, p->src, p->sport, p->ip_version);
    bool ld = tcb_listener_has(t, p->dst, p->dport, p->ip_version);
    if (ls != ld)
        return ld;
    if ((p->sport < 1024) != (p->dport < 1024))
        return p->dport < 1024;
    if (p->sport != p->dport)
        return p->dport < p->sport;
    return true;
}

