#!/usr/bin/env python3
"""End-to-end checks of tcbscope on the bundled kernel captures in samples/.

Usage: check_samples.py TCBSCOPE SAMPLES_DIR KIND [NAME]

KIND is one of:
  expected  every samples/X.expected.tsv (written from how the capture was made,
            see samples/X.md) against the NDJSON of `tcbscope analyze X`
  counts    frame and TCP segment counts of every capture against
            samples/tshark-counts.tsv (recorded with tshark, commands in its header)
  fields    per endpoint pair and direction: IP bytes, zero-window advertisements
            and duplicate ACKs against samples/tshark-fields.tsv (recorded with
            tshark by samples/tshark_fields.py)
An expected.tsv cell "LO..HI" accepts any integer from LO to HI (timing values).
With NAME, only that capture.  Exits 0 when every check passes, 1 otherwise,
77 (skip) when the data it needs is absent.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

COLUMNS = {
    # expected.tsv column -> function(conn) giving our value as text
    "incarnation": lambda c: str(c["incarnation"]),
    "open_kind": lambda c: c["open_kind"],
    "client_open": lambda c: c["client_open"],
    "server_open": lambda c: c["server_open"],
    "handshake": lambda c: c["handshake"],
    "close_kind": lambda c: c["close_kind"],
    "client_final_state": lambda c: c["client_final_state"],
    "server_final_state": lambda c: c["server_final_state"],
    "syn_retransmits": lambda c: str(c["syn_retransmits"]),
    "data_bytes_c2s": lambda c: str(c["data_bytes_c2s"]),
    "data_bytes_s2c": lambda c: str(c["data_bytes_s2c"]),
    "tfo": lambda c: "1" if c["tfo"] else "0",
}
# Per-direction statistics and RTTs (null -> "null").
for _k in ("ip_bytes", "retrans_packets", "retrans_bytes", "zero_windows", "dup_acks",
           "out_of_order", "missed_bytes"):
    for _d in ("c2s", "s2c"):
        COLUMNS["%s_%s" % (_k, _d)] = (lambda key: lambda c: str(c[key]))("%s_%s" % (_k, _d))
for _k in ("rtt_c2s_samples", "rtt_c2s_min_ns", "rtt_c2s_avg_ns", "rtt_c2s_max_ns",
           "rtt_s2c_samples", "rtt_s2c_min_ns", "rtt_s2c_avg_ns", "rtt_s2c_max_ns",
           "tap_to_server_ns", "tap_to_client_ns"):
    COLUMNS[_k] = (lambda key: lambda c: "null" if c[key] is None else str(c[key]))(_k)


def value_ok(got, want):
    """want is a value, or LO..HI for an integer range."""
    if ".." in want:
        lo, hi = want.split("..")
        try:
            return int(lo) <= int(got) <= int(hi)
        except ValueError:
            return False
    return got == want


def endpoint(ip, port):
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def run_json(tool, capture):
    r = subprocess.run([tool, "analyze", capture, "--json", "-", "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (capture, r.returncode, r.stderr.decode(errors="replace").strip()))
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


def run_db(tool, capture):
    d = tempfile.mkdtemp(prefix="tcbs-e2e-")
    db = os.path.join(d, "out.db")
    r = subprocess.run([tool, "analyze", capture, "--db", db, "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (capture, r.returncode, r.stderr.decode(errors="replace").strip()))
    con = sqlite3.connect(db)
    run = dict(con.execute("SELECT key, value FROM run"))
    nconn = con.execute("SELECT count(*) FROM connections").fetchone()[0]
    con.close()
    os.unlink(db)
    os.rmdir(d)
    return run, nconn


def read_tsv(path):
    rows = []
    header = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                continue
            rows.append(dict(zip(header, cells)))
    return rows


def check_expected(tool, samples, only):
    names = sorted(f[:-len(".expected.tsv")] for f in os.listdir(samples) if f.endswith(".expected.tsv"))
    if only:
        names = [n for n in names if n == only]
    if not names:
        print("no expected.tsv files")
        return 77
    failures = 0
    checked = 0
    for name in names:
        cap = None
        for ext in (".pcap", ".pcapng"):
            if os.path.exists(os.path.join(samples, name + ext)):
                cap = os.path.join(samples, name + ext)
        if cap is None:
            print("FAIL %s: capture missing" % name)
            failures += 1
            continue
        try:
            conns = run_json(tool, cap)
        except Exception as e:  # noqa: BLE001 - report and go on
            print("FAIL %s: %s" % (name, e))
            failures += 1
            continue
        by_key = {}
        for c in conns:
            key = (endpoint(c["client_ip"], c["client_port"]), endpoint(c["server_ip"], c["server_port"]))
            by_key.setdefault(key, []).append(c)
        for row in read_tsv(os.path.join(samples, name + ".expected.tsv")):
            key = (row["client"], row["server"])
            cands = by_key.get(key, [])
            inc = row.get("incarnation", "-")
            if inc not in ("-", ""):
                cands = [c for c in cands if str(c["incarnation"]) == inc]
            if not cands:
                print("FAIL %s: no connection %s -> %s (incarnation %s); we have %s" %
                      (name, key[0], key[1], inc, sorted(by_key)))
                failures += 1
                continue
            c = cands[0]
            for col, get in COLUMNS.items():
                want = row.get(col, "-")
                if want in ("-", ""):
                    continue
                checked += 1
                got = get(c)
                if not value_ok(got, want):
                    print("FAIL %s %s->%s #%s: %s = %s, expected %s" %
                          (name, key[0], key[1], c["incarnation"], col, got, want))
                    failures += 1
    print("%d values checked, %d failures" % (checked, failures))
    return 1 if failures else 0


def check_counts(tool, samples, only):
    path = os.path.join(samples, "tshark-counts.tsv")
    if not os.path.exists(path):
        print("no tshark-counts.tsv")
        return 77
    failures = 0
    rows = read_tsv(path)
    if only:
        rows = [r for r in rows if r["file"].startswith(only + ".")]
    for row in rows:
        cap = os.path.join(samples, row["file"])
        try:
            run, nconn = run_db(tool, cap)
        except Exception as e:  # noqa: BLE001
            print("FAIL %s: %s" % (row["file"], e))
            failures += 1
            continue
        frames = int(run.get("frames", -1))
        tcp = int(run.get("tcp_segments", -1))
        ok = frames == int(row["frames"]) and tcp == int(row["tcp_frames"])
        print("%s %s: frames %d (tshark %s), tcp %d (tshark %s), connections %d (tshark conversations %s)" %
              ("ok  " if ok else "FAIL", row["file"], frames, row["frames"], tcp, row["tcp_frames"],
               nconn, row.get("tcp_conversations", "?")))
        if not ok:
            failures += 1
    return 1 if failures else 0


def check_fields(tool, samples, only):
    path = os.path.join(samples, "tshark-fields.tsv")
    if not os.path.exists(path):
        print("no tshark-fields.tsv")
        return 77
    rows = read_tsv(path)
    if only:
        rows = [r for r in rows if r["file"].startswith(only + ".")]
    failures = checked = 0
    conns_of = {}
    for row in rows:
        f = row["file"]
        if f not in conns_of:
            try:
                conns_of[f] = run_json(tool, os.path.join(samples, f))
            except Exception as e:  # noqa: BLE001
                print("FAIL %s: %s" % (f, e))
                failures += 1
                conns_of[f] = None
        if conns_of[f] is None:
            continue
        a, b = row["a"], row["b"]
        ours = {"ip_bytes": [0, 0], "zero_win": [0, 0], "dup_ack": [0, 0]}
        n = 0
        for c in conns_of[f]:
            cl = endpoint(c["client_ip"], c["client_port"])
            sv = endpoint(c["server_ip"], c["server_port"])
            if {cl, sv} != {a, b}:
                continue
            n += 1
            ab = 0 if cl == a else 1  # index of c2s in (a->b, b->a)
            for key, col in (("ip_bytes", "ip_bytes"), ("zero_win", "zero_windows"),
                             ("dup_ack", "dup_acks")):
                ours[key][ab] += c[col + "_c2s"]
                ours[key][1 - ab] += c[col + "_s2c"]
        if not n:
            print("FAIL %s: no connection %s <-> %s" % (f, a, b))
            failures += 1
            continue
        for key in ours:
            for i, d in enumerate(("ab", "ba")):
                checked += 1
                want = int(row["%s_%s" % (key, d)])
                if ours[key][i] != want:
                    print("FAIL %s %s <-> %s: %s_%s = %d, tshark %d" %
                          (f, a, b, key, d, ours[key][i], want))
                    failures += 1
    print("%d values checked against tshark, %d failures" % (checked, failures))
    return 1 if failures else 0


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    tool, samples, kind = sys.argv[1:4]
    only = sys.argv[4] if len(sys.argv) > 4 else None
    if not os.path.isdir(samples):
        return 77
    if kind == "expected":
        return check_expected(tool, samples, only)
    if kind == "counts":
        return check_counts(tool, samples, only)
    if kind == "fields":
        return check_fields(tool, samples, only)
    print("unknown kind", kind)
    return 2


if __name__ == "__main__":
    sys.exit(main())
