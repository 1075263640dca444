#!/usr/bin/env python3
"""Compact records change nothing: embryos (a bare SYN in 144 bytes) and folded
closed records give byte-identical results to full records only.

Usage: test_compact.py TCBSCOPE GENCORPUS SAMPLES_DIR ZEEK_TRACES_DIR

For every sample capture, every vendored Zeek trace, a generated corpus of
3,000 connections and a capture of SYN scans with retransmissions (made
here), the NDJSON of `analyze` with the default engine equals, byte for byte,
that of `TCBSCOPE_FULL_RECORDS=1` (every connection in a full record, no
folding), with 1 and 3 threads; and the corpus and scan runs did use the
compact records (engine.embryos, engine.folded > 0 in the run table).
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile


def analyze(tool, inputs, threads, env_full, tmp):
    env = dict(os.environ)
    if env_full:
        env["TCBSCOPE_FULL_RECORDS"] = "1"
    db = os.path.join(tmp, "run.db")
    p = subprocess.run([tool, "analyze", "-q", "--threads", str(threads), "--json", "-",
                        "--db", db, "--force", *inputs], capture_output=True, env=env)
    con = sqlite3.connect(db)
    run = dict(con.execute("SELECT key, value FROM run"))
    con.close()
    return p.returncode, p.stdout, run


def scan_capture(path):
    """RAW IPv4: 500 tuples SYN-scanned, each SYN sent 3 times (1 s apart), a
    third of them answered by an RST, every tenth by a SYN/ACK and an ACK."""
    def seg(ts, src, dst, sport, dport, flags, seq, ack):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, src, dst)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 64240, 0, 0)
        return struct.pack("<IIII", ts // 1000000, ts % 1000000, 40, 40) + ip + tcp
    recs = []
    c, s = bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2])
    for i in range(500):
        t0 = 1700000000 * 1000000 + i * 1000
        for k in range(3):
            recs.append((t0 + k * 1000000, seg(t0 + k * 1000000, c, s, 20000 + i, 80, 0x02, 7 * i, 0)))
        if i % 3 == 0:
            recs.append((t0 + 500, seg(t0 + 500, s, c, 80, 20000 + i, 0x14, 0, 7 * i + 1)))
        if i % 10 == 0:
            recs.append((t0 + 2000600, seg(t0 + 2000600, s, c, 80, 20000 + i, 0x12, 99, 7 * i + 1)))
            recs.append((t0 + 2000700, seg(t0 + 2000700, c, s, 20000 + i, 80, 0x10, 7 * i + 1, 100)))
    recs.sort(key=lambda r: r[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for _, r in recs:
            f.write(r)


def main():
    tool, gen, samples, zeek = sys.argv[1:5]
    fails = 0
    with tempfile.TemporaryDirectory(prefix="tcbs-compact-") as tmp:
        corpus = os.path.join(tmp, "corpus.pcap")
        subprocess.run([gen, "--connections", "3000", "--seed", "5", "--snaplen", "128",
                        "--out", corpus, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        scan = os.path.join(tmp, "scan.pcap")
        scan_capture(scan)
        sets = [("corpus", [corpus], True), ("scan", [scan], True)]
        for d in (samples, zeek):
            for f in sorted(os.listdir(d)):
                if f.endswith((".pcap", ".pcapng", ".gz", ".zst")) or d == zeek:
                    sets.append((f, [os.path.join(d, f)], False))
        checked = 0
        for name, inputs, must_compact in sets:
            for threads in (1, 3):
                rc_a, out_a, run_a = analyze(tool, inputs, threads, False, tmp)
                rc_b, out_b, run_b = analyze(tool, inputs, threads, True, tmp)
                if (rc_a, out_a) != (rc_b, out_b):
                    print("FAIL %s (threads %d): compact records change the output "
                          "(exit %d vs %d, %d vs %d bytes)" % (name, threads, rc_a, rc_b,
                                                               len(out_a), len(out_b)))
                    fails += 1
                if must_compact and threads == 1:
                    print("%s: %d connections, engine.embryos %d, engine.folded %d" % (
                        name, out_a.count(b"\n"), run_a["engine.embryos"], run_a["engine.folded"]))
                    if not run_a["engine.embryos"] or (name == "corpus" and not run_a["engine.folded"]):
                        print("FAIL %s: the compact records were not used" % name)
                        fails += 1
                    if run_b["engine.embryos"] or run_b["engine.folded"]:
                        print("FAIL %s: TCBSCOPE_FULL_RECORDS=1 still used them" % name)
                        fails += 1
                checked += 1
        print("%d runs compared, %d failed" % (checked, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
