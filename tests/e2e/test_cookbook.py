#!/usr/bin/env python3
"""Runs every `-- cookbook: NAME` SQL block of README.md against a database made
from bundled samples and asserts its results.  Expected values come from how
the samples were made (samples/*.expected.tsv and the scripts that made them):
e.g. synack-lost.pcap lost its first SYN/ACK after the tap, so its client
waited one initial RTO (1 s on Linux) and retransmitted its SYN once.

Usage: test_cookbook.py TCBSCOPE SAMPLES_DIR README.md
"""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

SAMPLES = ["ipv4-basic", "refused", "unanswered", "simultaneous-open", "synack-lost", "rst-abort",
           "rtt-delay"]


def expected_rows(samples):
    rows = []
    for s in SAMPLES:
        path = os.path.join(samples, s + ".expected.tsv")
        with open(path) as f:
            lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
        head = lines[0]
        rows += [dict(zip(head, l), sample=s) for l in lines[1:]]
    return rows


def main():
    tool, samples, readme = sys.argv[1:4]
    blocks = dict(re.findall(r"```sql\n-- cookbook: (\w+)\n(.*?)```", open(readme).read(), re.S))
    want = {"latency_percentiles", "slowest_handshakes", "failed_by_port", "simultaneous_opens",
            "final_state_pairs", "timeline", "by_service", "delay_split"}
    missing = want - set(blocks)
    assert not missing, "README lacks cookbook queries %s" % missing
    exp = expected_rows(samples)
    d = tempfile.mkdtemp(prefix="tcbs-cook-")
    db = os.path.join(d, "demo.db")
    try:
        caps = [os.path.join(samples, s + ".pcap") for s in SAMPLES]
        # The samples were captured minutes apart: a long TIME-WAIT keeps each
        # one's end-of-capture states as its expected.tsv describes them (rtt-delay
        # was made days after the others).
        subprocess.run([tool, "analyze", *caps, "--db", db, "--quiet", "--time-wait", "10000000"], check=True,
                       stderr=subprocess.DEVNULL)
        con = sqlite3.connect(db)
        q = lambda name: con.execute(blocks[name]).fetchall()
        fails = []

        def check(cond, what):
            print(("ok   " if cond else "FAIL ") + what)
            if not cond:
                fails.append(what)

        complete = [r for r in exp if r["handshake"] == "complete"]
        rows = q("latency_percentiles")
        check(sum(r[2] for r in rows) == len(complete),
              "latency_percentiles covers every complete handshake (%d)" % len(complete))
        check(all(r[3] <= r[4] <= r[5] for r in rows), "p50 <= p90 <= p99 for every server")
        servers = {(r["server"].rsplit(":", 1)[0].strip("[]"), int(r["server"].rsplit(":", 1)[1]))
                   for r in complete}
        check({(r[0], r[1]) for r in rows} == servers, "one row per server with a complete handshake")

        rows = q("slowest_handshakes")
        slow = rows[0]
        sl = [r for r in exp if r["sample"] == "synack-lost"][0]
        check("%s:%d" % (slow[1], slow[2]) == sl["client"],
              "the slowest handshake is the one whose SYN/ACK was lost (%s)" % sl["client"])
        check(slow[6] == int(sl["syn_retransmits"]) and 900 < slow[5] < 3500,
              "it took one initial RTO (~1 s) and %s SYN retransmission" % sl["syn_retransmits"])

        rows = q("delay_split")
        # rtt-delay.pcap: 50 ms each way between the tap and the server, the tap
        # beside the client; a 777-byte server segment never passed the tap and
        # one 1448-byte client segment was dropped after it (samples/rtt-delay.md)
        rd = [r for r in exp if r["sample"] == "rtt-delay"][0]
        top = rows[0]
        check("%s:%d" % (top[1], top[2]) == rd["client"],
              "the longest handshake split is rtt-delay's (%s)" % rd["client"])
        check(top[5] < 5 and 100 <= top[6] < 115 and 100 <= top[8] < 115,
              "tap->client ~0 ms, tap->server and its data round trip ~100 ms: %s" % (top,))
        check(top[9] == 1448 and top[10] == 777, "1448 bytes resent, 777 missed: %s" % (top,))
        sl = [r for r in exp if r["sample"] == "synack-lost"][0]
        check(all("%s:%d" % (r[1], r[2]) != sl["client"] for r in rows),
              "no split for synack-lost: its SYN was retransmitted (Karn)")

        rows = q("failed_by_port")
        failed = sorted((int(r["server"].rsplit(":", 1)[1]), r["handshake"]) for r in exp
                        if r["handshake"] in ("refused", "unanswered"))
        check(sorted((r[0], r[1]) for r in rows) == failed,
              "refused/unanswered by port: %s" % failed)
        un = [r for r in exp if r["handshake"] == "unanswered"][0]
        check([r[3] for r in rows if r[1] == "unanswered"] == [int(un["syn_retransmits"])],
              "unanswered SYN retransmissions: %s" % un["syn_retransmits"])

        rows = q("simultaneous_opens")
        so = [r for r in exp if r["open_kind"] == "simultaneous"]
        check(["%s:%d-%s:%d" % (r[1], r[2], r[3], r[4]) for r in rows] ==
              ["%s-%s" % (r["client"], r["server"]) for r in so] and
              all(r[5] == r[6] == "simultaneous" for r in rows), "simultaneous opens: %d" % len(so))

        rows = q("final_state_pairs")
        pairs = {}
        for r in exp:
            if "-" in (r["client_final_state"], r["server_final_state"]):
                continue
            k = (r["client_final_state"], r["server_final_state"])
            pairs[k] = pairs.get(k, 0) + 1
        got = {(r[0], r[1]): r[2] for r in rows}
        check(all(got.get(k) == n for k, n in pairs.items()), "final state pairs include %s" % pairs)
        check(sum(got.values()) == len(exp), "every connection in one pair (%d)" % len(exp))

        rows = q("timeline")
        first = [r for r in exp if r["sample"] == SAMPLES[0]][0]
        client = [r[4] for r in rows if r[2] == "client"]
        check(client[:3] == ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1"] and
              client[-1] == first["client_final_state"],
              "timeline of connection 1: client SYN-SENT, ESTABLISHED, FIN-WAIT-1 ... %s" %
              first["client_final_state"])
        check([r[0] for r in rows] == list(range(len(rows))), "timeline seq is 0, 1, 2, ...")

        rows = q("by_service")
        # the samples' server ports as Debian's /etc/services (netbase 6.4, the table's
        # source) names them; None = not listed there
        iana = {8080: "http-alt", 8081: "tproxy", 8082: None, 5001: None}
        svc = {}
        for r in exp:
            k = iana[int(r["server"].rsplit(":", 1)[1])]
            svc[k] = svc.get(k, 0) + 1
        check({r[0]: r[1] for r in rows} == svc, "connections by service: %s" % svc)
        con.close()
        return 1 if fails else 0
    finally:
        if os.path.exists(db):
            os.unlink(db)
        os.rmdir(d)


if __name__ == "__main__":
    sys.exit(main())
