#!/usr/bin/env python3
"""Run tcbscope on every hand-made malformed capture and check what it reports.

Usage: test_malformed.py TCBSCOPE CAPTURES_DIR
CAPTURES_DIR holds the files make_malformed.py wrote and its expected.json
(see there for the format).  First checks the committed files are what the
generator makes now (so an edit to one is not forgotten in the other).  For
each case: the exit status, no sanitizer report, the stderr warnings, the
`run` counters of --db (every skipped.* key not named must be 0), one NDJSON
line per connection, and no database at all when the input was refused.
Python 3 standard library only.
"""
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    exe, capdir = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as regen:
        subprocess.run([sys.executable, os.path.join(HERE, "make_malformed.py"), regen], check=True)
        for name in sorted(os.listdir(regen)):
            with open(os.path.join(regen, name), "rb") as a:
                fresh = a.read()
            try:
                with open(os.path.join(capdir, name), "rb") as b:
                    committed = b.read()
            except OSError:
                committed = None
            if fresh != committed:
                failures.append(f"{name}: committed file differs from make_malformed.py's "
                                "(run it and commit the result)")
    with open(os.path.join(capdir, "expected.json")) as f:
        expected = json.load(f)

    for case, exp in sorted(expected.items()):
        files = [os.path.join(capdir, n) for n in exp.get("files", [case])]
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "out.db")
            js = os.path.join(tmp, "out.json")
            cmd = ([exe, "analyze", "--quiet", "--hash-seed", "1", "--db", db, "--json", js]
                   + exp.get("args", []) + files)
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
            except subprocess.TimeoutExpired:
                failures.append(f"{case}: timed out (hang)")
                continue
            err = p.stderr
            bad = []
            if p.returncode != exp["exit"]:
                bad.append(f"exit {p.returncode}, expected {exp['exit']}")
            if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer", err):
                bad.append("sanitizer report")
            for pat in exp.get("stderr", []):
                if not re.search(pat, err):
                    bad.append(f"stderr lacks /{pat}/")
            if exp.get("db", True):
                if not os.path.exists(db):
                    bad.append("no database written")
                else:
                    con = sqlite3.connect(db)
                    run = dict(con.execute("SELECT key, value FROM run"))
                    nconn = con.execute("SELECT count(*) FROM connections").fetchone()[0]
                    con.close()
                    want = dict(exp.get("run", {}))
                    for k in run:
                        if k.startswith("skipped.") and k not in want:
                            want[k] = 0
                    for k, v in sorted(want.items()):
                        if run.get(k) != v:
                            bad.append(f"run[{k}] = {run.get(k)!r}, expected {v}")
                    if run.get("engine.connections") != nconn:
                        bad.append(f"{nconn} rows in connections, run says {run.get('engine.connections')}")
                    with open(js) as f:
                        lines = sum(1 for _ in f)
                    if lines != nconn:
                        bad.append(f"{lines} NDJSON lines for {nconn} connections")
            elif os.path.exists(db):
                bad.append("a database was written for a refused input")
            if bad:
                failures.append(f"{case}: " + "; ".join(bad) + (f"\n    stderr: {err.strip()}" if err.strip() else ""))
            else:
                print(f"ok   {case}")
    for f in failures:
        print(f"FAIL {f}")
    print(f"{len(expected) - len([f for f in failures if f.split(':')[0] in expected])} of {len(expected)} cases ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
