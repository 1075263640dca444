/* Being written: see zeek_int.h for the contract. */
#include "zeek_int.h"

void zeek_init(struct zeek_state *z)
{
    (void)z;
}

void zeek_packet(struct zeek_state *z, int dir, const struct dis_pkt *p)
{
    (void)z, (void)dir, (void)p;
}

void zeek_result(const struct zeek_state *z, char conn_state[8],
                 char history[TCB_ZEEK_HISTORY_MAX], int *orig_dir)
{
    (void)z;
    conn_state[0] = 0;
    history[0] = 0;
    *orig_dir = 0;
}
