#!/usr/bin/env python3
"""Agreement of tcbscope with the benchmark generator's per-connection truth.

Usage: truth_check.py TCBSCOPE GEN [--connections N] [--seed S]
       truth_check.py TCBSCOPE --pcap F.pcap --truth F.truth.jsonl

Generates a corpus with GEN (the bench/gencorpus executable, or a directory
holding the Python gen_corpus.py: same arguments, same truth format), or reads
a given one, runs
`tcbscope analyze --json`, and checks for every connection of the truth file:
who is client, open kind, close kind (client-first / server-first /
simultaneous / RST by whom / refused / unanswered), the mid-stream flag, the
incarnation number of reused tuples, packet count and SYN retransmissions.
Prints the agreement and every kind of disagreement; exits 1 unless all agree.
Exit 77 (skip) when the generator is not there.
"""
import argparse
import collections
import json
import sqlite3
import os
import subprocess
import sys
import tempfile

OPEN = {"simopen": "simultaneous", "midstream": "midstream", "refused": "none", "noanswer": "none"}
CLOSE = {"client_fin": "active_client", "server_fin": "active_server",
         "half_close": "active_client", "simultaneous": "simultaneous"}


def expected(t):
    v, n = t["variant"], t["notes"]
    if v == "refused":
        close = "refused"
    elif v == "noanswer":
        close = "none"
    elif "abort" in n:
        close = "reset_server" if n["abort"] == "server" else "reset_client"
    else:
        close = CLOSE[n["close"]]
    syn_retx = n.get("syn_tries", 1) - 1 if v == "refused" else n.get("syn_retx", 0)
    return {
        "open_kind": OPEN.get(v, "active_passive"),
        "close_kind": close,
        "handshake": {"refused": "refused", "noanswer": "unanswered", "midstream": "not_seen"}.get(v, "complete"),
        "client": t["client"],
        "packets": t["packets"],
        "syn_retransmits": syn_retx,
    }


def compare(truth, ours):
    by_pair = collections.defaultdict(list)
    for c in ours:
        pair = frozenset([(c["client_ip"], c["client_port"]), (c["server_ip"], c["server_port"])])
        by_pair[pair].append(c)
    for v in by_pair.values():
        v.sort(key=lambda c: (c["first_ns"], c["id"]))
    taken = collections.Counter()
    seen_tuple = collections.Counter()
    bad = collections.Counter()
    example = {}
    agree = 0
    for t in truth:
        pair = frozenset([tuple(t["client"]), tuple(t["server"])])
        i = taken[pair]
        taken[pair] += 1
        seen_tuple[pair] += 1
        cands = by_pair.get(pair, [])
        if i >= len(cands):
            bad["missing connection"] += 1
            example.setdefault("missing connection", t["id"])
            continue
        c = cands[i]
        e = expected(t)
        ok = True
        checks = [
            ("open_kind", c["open_kind"], e["open_kind"]),
            ("close_kind", c["close_kind"], e["close_kind"]),
            ("handshake", c["handshake"], e["handshake"]),
            ("client", [c["client_ip"], c["client_port"]], e["client"]),
            ("packets", c["packets_c2s"] + c["packets_s2c"], e["packets"]),
            ("syn_retransmits", c["syn_retransmits"], e["syn_retransmits"]),
            ("incarnation", c["incarnation"], seen_tuple[pair]),
        ]
        for name, got, want in checks:
            if got != want:
                ok = False
                k = "%s (%s): ours %s, truth %s" % (name, t["variant"], got, want)
                bad[k] += 1
                example.setdefault(k, "truth id %d, our id %d" % (t["id"], c["id"]))
        agree += ok
    extra = len(ours) - sum(min(taken[p], len(v)) for p, v in by_pair.items())
    return agree, bad, example, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("bench", nargs="?")
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pcap")
    ap.add_argument("--truth")
    ap.add_argument("--cap-check", action="store_true",
                    help="also run with --max-connections at the plain run's engine.peak_live "
                         "(the most connections open at once, below the records held): the "
                         "NDJSON lines must be the same, closed records folded, none evicted")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tcbs-truth-")
    try:
        if a.pcap:
            pcap, truth_path = a.pcap, a.truth
        else:
            gen = [a.bench or ""]
            if os.path.isdir(gen[0]):
                gen = [sys.executable, os.path.join(gen[0], "gen_corpus.py")]
            if not os.path.exists(gen[-1]):
                print("no generator at", gen[-1])
                return 77
            pcap = os.path.join(tmp, "c.pcap")
            truth_path = os.path.join(tmp, "c.truth.jsonl")
            subprocess.run(gen + ["--connections", str(a.connections), "--seed", str(a.seed),
                                  "--snaplen", "128", "--out", pcap, "--truth", truth_path, "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
        out = os.path.join(tmp, "out.json")
        db = os.path.join(tmp, "out.db")
        subprocess.run([a.tool, "analyze", pcap, "--json", out, "--db", db, "--quiet", "--force"],
                       check=True)
        cap_fail = 0
        if a.cap_check:
            con = sqlite3.connect(db)
            run = dict(con.execute("SELECT key, value FROM run"))
            con.close()
            cap = run["engine.peak_live"]
            capped, cdb = os.path.join(tmp, "capped.json"), os.path.join(tmp, "capped.db")
            subprocess.run([a.tool, "analyze", pcap, "--json", capped, "--db", cdb, "--quiet",
                            "--force", "--max-connections", str(cap)], check=True)
            con = sqlite3.connect(cdb)
            crun = dict(con.execute("SELECT key, value FROM run"))
            con.close()
            # The same records (lines), written in the order connections leave
            # the table, which memory pressure may change.
            same = sorted(open(out, "rb")) == sorted(open(capped, "rb"))
            print("--max-connections %d (peak open %d, peak held %d): %s, folded %d, evicted %d"
                  % (cap, run["engine.peak_live"], run["engine.peak_held"],
                     "identical records" if same else "RECORDS DIFFER", crun["engine.folded"],
                     crun["engine.evictions"]))
            cap_fail = not same or crun["engine.evictions"] != 0 or \
                cap >= run["engine.peak_held"]
        truth = [json.loads(x) for x in open(truth_path)]
        ours = [json.loads(x) for x in open(out)]
        agree, bad, example, extra = compare(truth, ours)
        print("%d of %d connections agree on every field (%.3f %%); %d records of ours not in the truth"
              % (agree, len(truth), 100.0 * agree / max(1, len(truth)), extra))
        for k, n in bad.most_common():
            print("  %6d  %s   e.g. %s" % (n, k, example[k]))
        return 0 if agree == len(truth) and extra == 0 and not cap_fail else 1
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
