/*
 * json_sample.c - writes NDJSON through the JSON sink for the schema test
 * (test_schema.py): the synthetic connections of synth.c plus one record
 * with extreme values and odd bytes.  Usage: json_sample OUT.ndjson [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"
#include "synth.h"

int main(int argc, char **argv)
{
    char err[TCBS_ERRLEN] = "";
    struct sink *s = NULL;
    struct sink_run_info run = {0};
    struct synth_conn c;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 500;

    if (argc < 2) {
        fprintf(stderr, "usage: json_sample OUT.ndjson [N]\n");
        return 2;
    }
    if (sink_json_open(&s, argv[1], true, err) != 0) {
        fprintf(stderr, "json_sample: %s\n", err);
        return 1;
    }
    for (uint64_t id = 1; id <= n; id++) {
        synth_fill(&c, id);
        if (s->ops->conn(s, &c.info, err) != 0)
            goto fail;
    }
    /* extremes: every optional value present, largest numbers, bytes to escape */
    synth_fill(&c, n + 1);
    c.info.id = UINT64_MAX;
    c.info.have = 0x1ff;
    c.info.vlan = 4095;
    c.info.client_port = c.info.server_port = 65535;
    c.info.first_ns = c.info.last_ns = c.info.syn_ns = UINT64_MAX;
    c.info.data_bytes[0] = c.info.packets[1] = UINT64_MAX;
    c.info.open_kind = TCB_OPEN_KIND_COUNT - 1;
    c.info.close_kind = TCB_CLOSE_KIND_COUNT - 1;
    c.info.client_final_state = TCB_STATE_COUNT - 1;
    strcpy(c.info.zeek_history, "\"\\\x01\x7f\xff");
    if (s->ops->conn(s, &c.info, err) != 0 || s->ops->finish(s, &run, err) != 0)
        goto fail;
    s->ops->destroy(s);
    return 0;
fail:
    fprintf(stderr, "json_sample: %s\n", err);
    s->ops->destroy(s);
    return 1;
}
