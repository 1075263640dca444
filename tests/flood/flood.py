#!/usr/bin/env python3
"""SYN flood test: many distinct tuples, bounded memory, nothing dropped.

Usage: flood.py TCBSCOPE [--tuples N] [--rss-mb MB] [--max-connections N --capped-rss-mb MB]
                         [--keep DIR]

Writes (streamed, never held in memory) a classic pcap of N bare SYNs
(default 2,000,000), each from its own source address to one server, 1 us
apart, into a temporary directory, then:
  1. runs `tcbscope analyze --db` on it and asserts its peak RSS (the
     kernel's ru_maxrss of that child, i.e. VmHWM) is under --rss-mb, and that
     the database holds one connection per tuple;
  2. with --max-connections N: the same with the cap, asserting the peak RSS
     is under --capped-rss-mb, engine.evictions in the `run` table is at
     least N_tuples - N, as many connections are flagged `evicted`, and still
     one connection per tuple (evicted records are finished early, never
     dropped).
Prints the figures.  Python 3 standard library only.
"""
import argparse
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

LINKTYPE_RAW = 101


def write_flood(path, n):
    """n SYNs, source 10.0.0.0 + i (distinct tuples), to 192.0.2.1:80."""
    rec = bytearray(16 + 40)
    # IPv4 header (checksums left 0: not verified by default)
    struct.pack_into("!BBHHHBBH4s4s", rec, 16, 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                     b"\0\0\0\0", bytes([192, 0, 2, 1]))
    struct.pack_into("!HHIIBBHHH", rec, 36, 0, 80, 0, 0, 5 << 4, 0x02, 64240, 0, 0)
    struct.pack_into("<IIII", rec, 0, 0, 0, 40, 40)
    t0 = 1700000000
    with open(path, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        batch = []
        for i in range(n):
            struct.pack_into("<II", rec, 0, t0 + i // 1000000, i % 1000000)
            struct.pack_into("!I", rec, 16 + 12, (10 << 24) + i)  # source address
            struct.pack_into("!HHI", rec, 36, 1024 + (i % 60000), 80, (i * 7919) & 0xFFFFFFFF)  # sport, dport, seq
            batch.append(bytes(rec))
            if len(batch) == 65536:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))


def run(exe, args):
    """Run tcbscope; return (exit status, peak RSS in MiB, seconds, stderr)."""
    t = time.monotonic()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([exe] + args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    return p.returncode, ru.ru_maxrss / 1024.0, time.monotonic() - t, text


def check_db(db, n):
    con = sqlite3.connect(db)
    runt = dict(con.execute("SELECT key, value FROM run"))
    conns, evicted = con.execute("SELECT count(*), coalesce(sum(evicted), 0) FROM connections").fetchone()
    con.close()
    return runt, conns, evicted


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tcbscope")
    ap.add_argument("--tuples", type=int, default=2000000)
    ap.add_argument("--rss-mb", type=float, default=1024)
    ap.add_argument("--max-connections", type=int, default=0)
    ap.add_argument("--capped-rss-mb", type=float, default=256)
    ap.add_argument("--keep", help="write the capture and databases here and keep them")
    a = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        d = a.keep or tmp
        os.makedirs(d, exist_ok=True)
        cap = os.path.join(d, "syn-flood.pcap")
        t = time.monotonic()
        write_flood(cap, a.tuples)
        print(f"wrote {a.tuples} SYNs ({os.path.getsize(cap) >> 20} MiB) in {time.monotonic() - t:.1f} s")

        cases = [("unlimited", [], a.rss_mb)]
        if a.max_connections:
            cases.append((f"max-connections {a.max_connections}",
                          ["--max-connections", str(a.max_connections)], a.capped_rss_mb))
        for name, extra, bound in cases:
            db = os.path.join(d, "flood-%s.db" % ("capped" if extra else "unlimited"))
            rc, rss, secs, err = run(a.tcbscope, ["analyze", "--quiet", "--force", "--hash-seed", "7",
                                                  "--db", db] + extra + [cap])
            print(f"{name}: exit {rc}, peak RSS {rss:.0f} MiB (bound {bound:.0f}), {secs:.1f} s")
            if rc != 0:
                failures.append(f"{name}: exit {rc}: {err.strip()}")
                continue
            if rss > bound:
                failures.append(f"{name}: peak RSS {rss:.0f} MiB over the bound {bound:.0f} MiB")
            runt, conns, evicted = check_db(db, a.tuples)
            ev = runt.get("engine.evictions")
            print(f"  connections {conns}, engine.evictions {ev}, flagged evicted {evicted}, "
                  f"engine.peak_live {runt.get('engine.peak_live')}")
            if conns != a.tuples:
                failures.append(f"{name}: {conns} connections in the database for {a.tuples} tuples")
            if ev != evicted:
                failures.append(f"{name}: engine.evictions {ev} but {evicted} connections flagged")
            if extra:
                if ev is None or ev < a.tuples - a.max_connections:
                    failures.append(f"{name}: engine.evictions {ev} < {a.tuples - a.max_connections}")
                if (runt.get("engine.peak_live") or 0) > a.max_connections:
                    failures.append(f"{name}: peak_live {runt.get('engine.peak_live')} over the cap")
            elif ev:
                failures.append(f"{name}: {ev} evictions without a cap")
            if not a.keep:
                os.unlink(db)
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
