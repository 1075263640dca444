#!/usr/bin/env python3
"""The engine's results do not depend on timestamp order, file order or table pressure.

Usage: test_time_model.py TCBSCOPE SAMPLES_DIR

Builds one capture from the kernel-made Ethernet samples (each shifted to
start 0.3 s after the previous one, so their connections overlap in time;
records merged by timestamp), then checks that tcbscope writes the same
connection records (ids and frame numbers aside, as frames are renumbered)
for:
  (a) the capture with one UDP frame dated six years ahead inserted in the
      middle (an outlier: engine.ts_outliers = 1 in the run table);
  (b) its frames cut into 12 files named as `tcpdump -C` names them
      (rot.pcap, rot.pcap1 ... rot.pcap11) and given in shell-glob order;
  (c) the same files given in reverse order;
and that (d) --max-connections at the number of connections open at once
(engine.peak_live of the plain run, below engine.peak_held) gives exactly the
records of the plain run, ids and frame numbers included, with closed records
folded (engine.folded > 0) and none evicted.
The expected records are those of the plain capture: the variants are made
from it here, so any difference is the engine's.
"""
import glob
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

SAMPLES = ["ipv4-basic", "close-server-first", "half-close", "ipv6-basic", "loss-retrans",
           "midstream", "port-reuse", "refused", "rst-abort", "simultaneous-close",
           "simultaneous-open", "synack-lost", "tfo", "unanswered", "vlan", "qinq"]
T0 = 1_750_000_000  # seconds: where the combined capture starts
SIX_YEARS = 6 * 365 * 86400


def read_pcap(path):
    """(snaplen, [(ts_us, orig_len, data)]) of a little-endian microsecond pcap."""
    with open(path, "rb") as f:
        b = f.read()
    magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", b[:24])
    assert magic == 0xA1B2C3D4 and linktype == 1, (path, hex(magic), linktype)
    recs, off = [], 24
    while off + 16 <= len(b):
        sec, usec, incl, orig = struct.unpack("<IIII", b[off:off + 16])
        recs.append((sec * 1_000_000 + usec, orig, b[off + 16:off + 16 + incl]))
        off += 16 + incl
    return snaplen, recs


def write_pcap(path, snaplen, recs):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        for ts, orig, data in recs:
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), orig))
            f.write(data)


def udp_frame():
    """Ethernet + IPv4 + UDP, 10.231.99.1:5353 -> 10.231.99.2:5353, 4 bytes of payload."""
    payload = b"ping"
    udp = struct.pack(">HHHH", 5353, 5353, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([10, 231, 99, 1]), bytes([10, 231, 99, 2]))
    s = sum(struct.unpack(">10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack(">H", ~s & 0xFFFF) + ip[12:]
    eth = bytes.fromhex("02000000000202000000000108 00".replace(" ", ""))
    return eth + ip + udp


def combined(samples_dir):
    snap, out = 0, []
    for i, name in enumerate(SAMPLES):
        s, recs = read_pcap(os.path.join(samples_dir, name + ".pcap"))
        snap = max(snap, s)
        base = recs[0][0]
        shift = T0 * 1_000_000 + i * 300_000 - base
        out += [(ts + shift, orig, data) for ts, orig, data in recs]
    out.sort(key=lambda r: r[0])  # stable: ties keep sample order
    return snap, out


def run(tcbscope, files, tmp, tag, extra=()):
    js, db = os.path.join(tmp, tag + ".json"), os.path.join(tmp, tag + ".db")
    p = subprocess.run([tcbscope, "analyze", "-q", "--json", js, "--db", db, "--force",
                        *extra, *files], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL {tag}: exit {p.returncode}: {p.stderr.strip()}")
    with open(js) as f:
        recs = [json.loads(line) for line in f]
    con = sqlite3.connect(db)
    runt = dict(con.execute("SELECT key, value FROM run"))
    con.close()
    return recs, runt, p.stderr


def strip_frames(recs):
    """Records without ids and frame numbers, in a stable order."""
    out = []
    for r in recs:
        r = dict(r)
        for k in ("id", "first_frame", "last_frame"):
            r.pop(k, None)
        r["transitions"] = [{k: v for k, v in t.items() if k != "frame"} for t in r["transitions"]]
        r["anomalies"] = [{k: v for k, v in a.items() if k != "frame"} for a in r["anomalies"]]
        out.append(r)
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


def main():
    tcbscope, samples_dir = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        snap, recs = combined(samples_dir)
        plain = os.path.join(tmp, "plain.pcap")
        write_pcap(plain, snap, recs)
        base, base_run, _ = run(tcbscope, [plain], tmp, "plain")
        want = strip_frames(base)
        print(f"plain: {len(recs)} frames, {len(base)} connections, "
              f"peak_live {base_run['engine.peak_live']}, peak_held {base_run['engine.peak_held']}")
        if base_run["engine.ts_outliers"] or base_run["engine.ts_clamped"]:
            failures.append(f"plain run corrected timestamps: {base_run}")

        # (a) one UDP frame six years ahead in the middle
        mid = len(recs) // 2
        bogus = (recs[mid][0] + SIX_YEARS * 1_000_000, len(udp_frame()), udp_frame())
        a_path = os.path.join(tmp, "outlier.pcap")
        write_pcap(a_path, snap, recs[:mid] + [bogus] + recs[mid:])
        got, runt, err = run(tcbscope, [a_path], tmp, "outlier")
        if strip_frames(got) != want:
            failures.append("(a) a frame six years ahead changed the records")
        if runt.get("engine.ts_outliers") != 1:
            failures.append(f"(a) engine.ts_outliers = {runt.get('engine.ts_outliers')}, want 1")
        if "engine.ts_outliers" not in err:
            failures.append(f"(a) no warning about the outlier: {err!r}")

        # (b) 12 rotated files in glob order, (c) reversed
        rot = os.path.join(tmp, "rot")
        os.mkdir(rot)
        n = 12
        per = (len(recs) + n - 1) // n
        for k in range(n):
            name = "rot.pcap" + (str(k) if k else "")
            write_pcap(os.path.join(rot, name), snap, recs[k * per:(k + 1) * per])
        globbed = sorted(glob.glob(os.path.join(rot, "rot.pcap*")))
        assert [os.path.basename(g) for g in globbed][:4] == \
            ["rot.pcap", "rot.pcap1", "rot.pcap10", "rot.pcap11"], globbed
        for tag, files in (("glob", globbed), ("reverse", globbed[::-1])):
            got, runt, _ = run(tcbscope, files, tmp, tag)
            if strip_frames(got) != want:
                failures.append(f"({tag}) 12 files in {tag} order changed the records")
            if got != base:
                failures.append(f"({tag}) records differ from the plain run even in frame numbers")

        # (d) a cap at the open connections, below the records held
        cap = base_run["engine.peak_live"]
        if not cap < base_run["engine.peak_held"]:
            failures.append(f"(d) no TIME-WAIT backlog to fold: {base_run}")
        got, runt, _ = run(tcbscope, [plain], tmp, "capped", ["--max-connections", str(cap)])
        if got != base:
            failures.append(f"(d) --max-connections {cap} changed the records")
        if not runt["engine.folded"] or runt["engine.evictions"]:
            failures.append(f"(d) folded {runt['engine.folded']}, evicted {runt['engine.evictions']}")
        print(f"capped at {cap}: folded {runt['engine.folded']}, evictions {runt['engine.evictions']}")

    for f in failures:
        print("FAIL", f)
    print("FAIL" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
