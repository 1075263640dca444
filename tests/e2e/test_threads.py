#!/usr/bin/env python3
"""--threads 1, 2 and 3 give byte-identical NDJSON and identical database rows
(every table but the run metadata that names the command line and start time)
and the same terminal summary; so does a run where a thread cannot start.

Usage: test_threads.py TCBSCOPE SAMPLES_DIR
Runs on a synthetic capture of 3000 interleaved connections (synth_pcap.py:
many batches between the threads, connections finishing mid-run and at the
end) and on all bundled samples read as one stream.  Thread start failures
are injected with TCBSCOPE_FAULT_THREAD=N (the Nth thread start of the run
fails; with --db and --json on 3 threads the starts are: sink thread of the
database, sink thread of the other outputs, engine): each must exit 0 with
one warning and give exactly the --threads 1 results.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

from synth_pcap import write_corpus

TABLES = {
    "connections": "SELECT * FROM connections ORDER BY id",
    "transitions": "SELECT * FROM transitions ORDER BY conn_id, seq",
    "anomalies": "SELECT * FROM anomalies ORDER BY conn_id, ts_ns, kind",
    "captures": "SELECT * FROM captures ORDER BY 1",
    "run": "SELECT key, value FROM run WHERE key NOT IN ('command_line', 'start_ns', 'start_time') ORDER BY key",
}
WARNING = "could not start a thread"


def run(tool, inputs, threads, d, extra, fault=None):
    """One run with --db and --json and the summary; its outputs and stderr."""
    js, db = os.path.join(d, "t.json"), os.path.join(d, "t.db")
    env = dict(os.environ)
    env.pop("TCBSCOPE_FAULT_THREAD", None)
    if fault:
        env["TCBSCOPE_FAULT_THREAD"] = str(fault)
    p = subprocess.run([tool, "analyze", *inputs, "--threads", str(threads), "--hash-seed", "7",
                        "--json", js, "--db", db, "--force", *extra], env=env,
                       capture_output=True, timeout=300)
    con = sqlite3.connect(db)
    rows = {t: con.execute(q).fetchall() for t, q in TABLES.items()}
    con.close()
    with open(js, "rb") as f:
        out = f.read()
    os.unlink(js)
    os.unlink(db)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), out, rows


def compare(label, base, got, want_warning):
    rc, summary, err, js, rows = got
    _, base_summary, base_err, base_js, base_rows = base
    if err.startswith(base_err):  # the input's own warnings come first
        err = err[len(base_err):]
    bad = []
    if rc != 0:
        bad.append("exit %d" % rc)
    if js != base_js or not js:
        bad.append("NDJSON differs (%d vs %d bytes)" % (len(js), len(base_js)))
    diff_tables = [k for k in TABLES if rows[k] != base_rows[k]]
    if diff_tables:
        bad.append("tables differ: %s" % diff_tables)
    if summary != base_summary:
        bad.append("summary differs")
    if want_warning and (err.count(WARNING) != 1 or len(err.splitlines()) != 1):
        bad.append("stderr is not the one warning: %r" % err)
    if not want_warning and err:
        bad.append("stderr: %r" % err)
    print("%s %s%s" % ("ok  " if not bad else "FAIL", label,
                       ": identical (%d NDJSON bytes)" % len(js) if not bad else ": " + "; ".join(bad)))
    return 0 if not bad else 1


def main():
    tool, samples = sys.argv[1:3]
    fails = 0
    with tempfile.TemporaryDirectory(prefix="tcbs-thr-") as d:
        pcap = os.path.join(d, "synth.pcap")
        facts = write_corpus(pcap, 3000)
        caps = sorted(os.path.join(samples, f) for f in os.listdir(samples)
                      if f.endswith((".pcap", ".pcapng")))
        sets = [("synthetic", [pcap], ["--time-wait", "1"]), ("samples", caps, [])]
        for name, inputs, extra in sets:
            base = run(tool, inputs, 1, d, extra)
            if base[0] != 0:
                print("FAIL %s: --threads 1 exit %d, stderr %r" % (name, base[0], base[2]))
                fails += 1
                continue
            if name == "synthetic":
                lines = base[3].count(b"\n")
                if lines != facts["connections"]:
                    print("FAIL synthetic: %d NDJSON lines, %d connections made" %
                          (lines, facts["connections"]))
                    fails += 1
            for t in (2, 3):
                fails += compare("%s: --threads %d vs 1" % (name, t),
                                 base, run(tool, inputs, t, d, extra), False)
            if name != "synthetic":
                continue
            # A thread that cannot start: fewer threads, the same results.
            for threads, fault, what in ((3, 1, "the database's sink thread"),
                                         (3, 2, "the other outputs' sink thread"),
                                         (3, 3, "the engine thread (3 threads)"),
                                         (2, 1, "the engine thread (2 threads)")):
                fails += compare("%s: --threads %d, %s fails to start, vs --threads 1" %
                                 (name, threads, what), base,
                                 run(tool, inputs, threads, d, extra, fault), True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
