#!/usr/bin/env python3
"""--threads 1, 2 and 3 give byte-identical NDJSON and identical database rows
(every table but the run metadata that names the command line and start time).

Usage: test_threads.py TCBSCOPE GENCORPUS SAMPLES_DIR
Runs on a generated corpus of 3000 connections (GENCORPUS: bench/gencorpus, or a
directory holding the Python gen_corpus.py) and on
all bundled samples read as one stream.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

TABLES = {
    "connections": "SELECT * FROM connections ORDER BY id",
    "transitions": "SELECT * FROM transitions ORDER BY conn_id, seq",
    "anomalies": "SELECT * FROM anomalies ORDER BY conn_id, ts_ns, kind",
    "captures": "SELECT * FROM captures ORDER BY 1",
    "run": "SELECT key, value FROM run WHERE key NOT IN ('command_line', 'start_ns', 'start_time') ORDER BY key",
}


def run(tool, inputs, threads, d):
    js, db = os.path.join(d, "t%d.json" % threads), os.path.join(d, "t%d.db" % threads)
    subprocess.run([tool, "analyze", *inputs, "--threads", str(threads), "--hash-seed", "7",
                    "--json", js, "--db", db, "--force", "-q"], check=True, stderr=subprocess.DEVNULL)
    con = sqlite3.connect(db)
    rows = {t: con.execute(q).fetchall() for t, q in TABLES.items()}
    con.close()
    return open(js, "rb").read(), rows


def main():
    tool, bench, samples = sys.argv[1:4]
    d = tempfile.mkdtemp(prefix="tcbs-thr-")
    fails = 0
    try:
        sets = []
        gen = [bench]
        if os.path.isdir(bench):
            gen = [sys.executable, os.path.join(bench, "gen_corpus.py")]
        if os.path.exists(gen[-1]):
            pcap = os.path.join(d, "c.pcap")
            subprocess.run(gen + ["--connections", "3000", "--seed", "3", "--snaplen", "128",
                            "--out", pcap, "--quiet"], check=True, stdout=subprocess.DEVNULL)
            sets.append(("corpus", [pcap]))
        caps = sorted(os.path.join(samples, f) for f in os.listdir(samples) if f.endswith((".pcap", ".pcapng")))
        sets.append(("samples", caps))
        for name, inputs in sets:
            base_js, base_rows = run(tool, inputs, 1, d)
            for t in (2, 3):
                js, rows = run(tool, inputs, t, d)
                same_js = js == base_js
                diff_tables = [k for k in TABLES if rows[k] != base_rows[k]]
                ok = same_js and not diff_tables and len(base_js) > 0
                print("%s %s: --threads %d vs 1: NDJSON %s (%d bytes), tables %s" % (
                    "ok  " if ok else "FAIL", name, t, "identical" if same_js else "DIFFERENT", len(js),
                    "identical" if not diff_tables else "differ: %s" % diff_tables))
                fails += not ok
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
