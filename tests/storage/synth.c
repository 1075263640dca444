/* synth.c - see synth.h. */
#include <string.h>

#include "synth.h"

void synth_fill(struct synth_conn *s, uint64_t id)
{
    struct tcb_conn_info *c = &s->info;
    bool seen = id % 4 != 0;

    memset(s, 0, sizeof(*s));
    c->id = id;
    c->ip_version = id % 3 == 0 ? 6 : 4;
    if (c->ip_version == 4) {
        uint8_t cip[4] = {10, 0, (uint8_t)(id >> 8), (uint8_t)id};
        uint8_t sip[4] = {192, 0, 2, (uint8_t)(id % 7 + 1)};
        memcpy(c->client_ip, cip, 4);
        memcpy(c->server_ip, sip, 4);
    } else {
        c->client_ip[0] = 0x20;
        c->client_ip[1] = 0x01;
        c->client_ip[2] = 0x0d;
        c->client_ip[3] = 0xb8;
        c->client_ip[14] = (uint8_t)(id >> 8);
        c->client_ip[15] = (uint8_t)id;
        c->server_ip[0] = 0xfe;
        c->server_ip[1] = 0x80;
        c->server_ip[15] = 1;
    }
    c->client_port = (uint16_t)(40000 + id % 20000);
    c->server_port = id % 2 ? 443 : 80;
    c->incarnation = (uint32_t)(1 + id % 2);
    if (id % 5 == 0) {
        c->vlan = (uint16_t)(id % 4095);
        c->have |= TCB_HAVE_VLAN;
    }
    c->open_kind = (uint8_t)(id % TCB_OPEN_KIND_COUNT);
    c->client_open = (uint8_t)(id % TCB_EP_OPEN_COUNT);
    c->server_open = (uint8_t)((id + 1) % TCB_EP_OPEN_COUNT);
    c->handshake = seen ? TCB_HS_COMPLETE : TCB_HS_NOT_SEEN;
    c->close_kind = (uint8_t)(id % TCB_CLOSE_KIND_COUNT);
    c->client_final_state = (uint8_t)(id % TCB_STATE_COUNT);
    c->server_final_state = (uint8_t)((id + 3) % TCB_STATE_COUNT);

    c->first_ns = SYNTH_BASE_NS + id * 1000000u;
    c->last_ns = c->first_ns + 5000000000u + id;
    if (seen) {
        c->syn_ns = c->first_ns;
        c->synack_ns = c->syn_ns + 1500000u;
        c->ack_ns = c->synack_ns + 250000u;
        c->have |= TCB_HAVE_SYN | TCB_HAVE_SYNACK | TCB_HAVE_ACK | TCB_HAVE_CMSS |
                   TCB_HAVE_SMSS | TCB_HAVE_CWSCALE | TCB_HAVE_SWSCALE | TCB_HAVE_OPTS;
        c->mss[0] = 1460;
        c->mss[1] = (uint16_t)(1400 + id % 60);
        c->wscale[0] = 7;
        c->wscale[1] = (uint8_t)(id % 15);
        c->sack_permitted = id % 2;
        c->timestamps = id % 3 != 1;
    }
    c->syn_retransmits = (uint32_t)(id % 3);
    c->synack_retransmits = (uint32_t)(id % 2);
    c->packets[0] = 10 + id;
    c->packets[1] = 20 + id;
    c->data_bytes[0] = 1000 * id;
    c->data_bytes[1] = 5000000000ull + id; /* above 2^32 */
    c->retrans_packets[0] = id % 4;
    c->retrans_packets[1] = id % 5;
    for (int d = 0; d < 2; d++) {
        c->ip_bytes[d] = c->data_bytes[d] + 52 * c->packets[d];
        c->retrans_bytes[d] = 1448 * c->retrans_packets[d];
        c->zero_windows[d] = (id + (uint64_t)d) % 3;
        c->dup_acks[d] = (id * 3 + (uint64_t)d) % 7;
        c->out_of_order[d] = (id + (uint64_t)d) % 2;
        c->missed_bytes[d] = d ? 4300000000ull + id : id % 5 * 100; /* above 2^32 too */
        if ((id + (uint64_t)d) % 3) {
            c->have |= d ? TCB_HAVE_RTT_S2C : TCB_HAVE_RTT_C2S;
            c->rtt_samples[d] = 1 + id % 9;
            c->rtt_min_ns[d] = 100000u + id;
            c->rtt_avg_ns[d] = 2500000u + id;
            c->rtt_max_ns[d] = 9000000000ull + id; /* 9 s: above 2^32 ns */
        }
    }
    c->tfo = id % 7 == 0;
    c->evicted = id % 11 == 0;
    c->first_frame = 10 * id;
    c->last_frame = 10 * id + 7;
    c->tunnel = (uint8_t)(id % DIS_TUNNEL_COUNT);
    if (c->tunnel && id % 2) {
        c->tunnel_id = (uint32_t)(0xfffff000u + id); /* near the top of 32 bits */
        c->have |= TCB_HAVE_TUNNEL_ID;
    }
    strcpy(c->zeek_conn_state, seen ? "SF" : "OTH");
    strcpy(c->zeek_history, seen ? "ShAdDaFf" : "Dd");

    c->event_count = (uint32_t)(id % 6);
    for (uint32_t i = 0; i < c->event_count; i++) {
        struct tcb_event *e = &s->ev[i];
        e->ts_ns = c->first_ns + i * 1000u;
        e->frame = i % 2 ? 100 * id + i : 0;
        e->endpoint = (uint8_t)(i % 2);
        e->from = (uint8_t)(i % TCB_STATE_COUNT);
        e->to = (uint8_t)((i + 1) % TCB_STATE_COUNT);
        e->cause = (uint8_t)((id + i) % TCB_CAUSE_COUNT);
    }
    c->events = s->ev;
    c->anomaly_count = (uint32_t)(id % 3);
    for (uint32_t i = 0; i < c->anomaly_count; i++) {
        struct tcb_anom *a = &s->an[i];
        a->ts_ns = c->first_ns + 77 + i;
        a->frame = i % 2 ? 100 * id + 50 + i : 0;
        a->endpoint = (uint8_t)((i + 1) % 2);
        a->kind = (uint8_t)((id + i) % TCB_ANOMALY_COUNT);
    }
    c->anomalies = s->an;
}
