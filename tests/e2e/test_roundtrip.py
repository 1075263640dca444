#!/usr/bin/env python3
"""Round trip: for every bundled sample, one `tcbscope analyze --db F --json G`
pass writes the same values to SQLite and to NDJSON: every column of every
connection, every transition and every anomaly.

Usage: test_roundtrip.py TCBSCOPE SAMPLES_DIR
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile


def main():
    tool, samples = sys.argv[1:3]
    caps = sorted(f for f in os.listdir(samples) if f.endswith((".pcap", ".pcapng")))
    if not caps:
        return 77
    fails = 0
    d = tempfile.mkdtemp(prefix="tcbs-rt-")
    db, js = os.path.join(d, "o.db"), os.path.join(d, "o.json")
    try:
        for cap in caps:
            for f in (db, js):
                if os.path.exists(f):
                    os.unlink(f)
            subprocess.run([tool, "analyze", os.path.join(samples, cap), "--db", db, "--json", js, "-q"],
                           check=True, stderr=subprocess.DEVNULL)
            lines = [json.loads(l) for l in open(js)]
            con = sqlite3.connect(db)
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM connections ORDER BY id")]
            trans = {}
            for r in con.execute("SELECT * FROM transitions ORDER BY conn_id, seq"):
                trans.setdefault(r["conn_id"], []).append(
                    {"ts_ns": r["ts_ns"], "endpoint": r["endpoint"], "from_state": r["from_state"],
                     "to_state": r["to_state"], "cause": r["cause"], "frame": r["frame"]})
            anoms = {}
            for r in con.execute("SELECT * FROM anomalies ORDER BY conn_id, rowid"):
                anoms.setdefault(r["conn_id"], []).append(
                    {"ts_ns": r["ts_ns"], "endpoint": r["endpoint"], "kind": r["kind"], "frame": r["frame"]})
            con.close()
            problems = []
            if len(rows) != len(lines):
                problems.append("%d rows vs %d lines" % (len(rows), len(lines)))
            by_id = {l["id"]: l for l in lines}
            for row in rows:
                l = by_id.get(row["id"])
                if l is None:
                    problems.append("id %d missing in NDJSON" % row["id"])
                    continue
                for k, v in row.items():
                    if l.get(k, "<absent>") != v:
                        problems.append("id %d %s: sqlite %r json %r" % (row["id"], k, v, l.get(k, "<absent>")))
                if set(l) - set(row) != {"transitions", "anomalies"}:
                    problems.append("id %d: json keys beyond the columns: %s" % (row["id"], set(l) - set(row)))
                if l["transitions"] != trans.get(row["id"], []):
                    problems.append("id %d: transitions differ" % row["id"])
                if l["anomalies"] != anoms.get(row["id"], []):
                    problems.append("id %d: anomalies differ" % row["id"])
            print("%s %s: %d connections" % ("FAIL" if problems else "ok  ", cap, len(rows)))
            for p in problems[:10]:
                print("     ", p)
            fails += bool(problems)
    finally:
        for f in (db, js):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(d)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
