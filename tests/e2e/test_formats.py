#!/usr/bin/env python3
"""End-to-end tests of the analyst formats: the Zeek conn.log (--zeek), CSV
(--csv), the derived fields (first_time, last_time, duration_ns, service,
community_id) and the one summary (analyze's live summary = `summary DB`).

Usage: test_formats.py TCBSCOPE SAMPLES_DIR

The Zeek log is read back by a zeek-cut-compatible parser below and the CSV
by Python's csv module; both are compared with the SQLite database written
in the same run.  The derived fields are checked against Python's datetime,
the capture files' own timestamps, and tshark's Community ID (when tshark is
installed).  Python 3 standard library only.  Exits 0 when every test
passes; prints one line per test.
"""
import csv
import datetime
import io
import ipaddress
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

from harness import Skip, main, test

TCBSCOPE = os.path.abspath(sys.argv[1])
SAMPLES = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="tcbscope-formats-")
ENV = dict(os.environ, NO_COLOR="1")

# Several scenarios in one run: IPv4 and IPv6, refused, unanswered,
# simultaneous open, mid-stream, reset, several incarnations of one tuple.
CAPTURES = ["ipv4-basic.pcap", "ipv6-basic.pcap", "refused.pcap", "unanswered.pcap",
            "simultaneous-open.pcap", "midstream.pcap", "rst-abort.pcap", "port-reuse.pcap",
            "pcapng-multi.pcapng", "snaplen-64.pcap"]

ZEEK_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
               "service", "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig",
               "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts",
               "resp_ip_bytes", "tunnel_parents"]
ZEEK_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "interval",
              "count", "count", "string", "bool", "bool", "count", "string", "count", "count",
              "count", "count", "set[string]"]


def run(*args, env=None):
    return subprocess.run([TCBSCOPE] + [str(a) for a in args], capture_output=True, text=True,
                          env=env or ENV, timeout=120, cwd=TMP)


def sample(name):
    return os.path.join(SAMPLES, name)


def tmp(name):
    p = os.path.join(TMP, name)
    if os.path.exists(p):
        os.unlink(p)
    return p


def zeek_cut(text, fields):
    """What `zeek-cut FIELD...` prints, as lists: the separator from the
    #separator line (\\xHH escapes), columns by the #fields line, comment
    lines dropped."""
    sep, names, out = "\t", None, []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#separator "):
            sep = line.split(" ", 1)[1].encode().decode("unicode_escape")
            continue
        if line.startswith("#"):
            parts = line.split(sep)
            if parts[0] == "#fields":
                names = parts[1:]
            continue
        assert names is not None, "data before #fields"
        vals = line.split(sep)
        assert len(vals) == len(names), (vals, names)
        row = dict(zip(names, vals))
        out.append([row[f] for f in fields])
    return out


def db_rows(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM connections ORDER BY id")]
    cols = [r[1] for r in con.execute("PRAGMA table_info(connections)")]
    con.close()
    return rows, cols


def one_run(*extra):
    """One analyze run of CAPTURES writing the database, Zeek log, CSV and NDJSON."""
    db, zk, cv, js = tmp("all.db"), tmp("conn.log"), tmp("all.csv"), tmp("all.json")
    r = run("analyze", "-q", *[sample(c) for c in CAPTURES], "--db", db, "--zeek", zk,
            "--csv", cv, "--json", js, *extra)
    assert r.returncode == 0, r.stderr
    return db, zk, cv, js


def b62(n):
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        s = digits[n % 62] + s
        n //= 62
        if not n:
            return s


@test
def zeek_log_headers_are_zeeks():
    _, zk, _, _ = one_run()
    lines = open(zk, encoding="utf-8").read().split("\n")
    assert lines[0] == "#separator \\x09", lines[0]
    assert lines[1] == "#set_separator\t,"
    assert lines[2] == "#empty_field\t(empty)"
    assert lines[3] == "#unset_field\t-"
    assert lines[4] == "#path\tconn"
    assert re.fullmatch(r"#open\t\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d", lines[5]), lines[5]
    assert lines[6].split("\t") == ["#fields"] + ZEEK_FIELDS
    assert lines[7].split("\t") == ["#types"] + ZEEK_TYPES
    assert re.fullmatch(r"#close\t\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d", lines[-2]), lines[-2]
    assert lines[-1] == ""


@test
def zeek_log_matches_the_database():
    db, zk, _, _ = one_run()
    rows, _ = db_rows(db)
    got = zeek_cut(open(zk, encoding="utf-8").read(), ZEEK_FIELDS)
    assert len(got) == len(rows) > 10, (len(got), len(rows))
    # lines come as connections finish; the uid names the database row
    by_uid = {"C" + b62(d["id"]): d for d in rows}
    for z in got:
        z = dict(zip(ZEEK_FIELDS, z))
        d = by_uid.pop(z["uid"])
        # every sample's history starts with the client's SYN, or has none: client = orig
        assert (z["id.orig_h"], int(z["id.orig_p"])) == (d["client_ip"], d["client_port"]), z
        assert (z["id.resp_h"], int(z["id.resp_p"])) == (d["server_ip"], d["server_port"]), z
        assert z["ts"] == "%d.%06d" % (d["first_ns"] // 10**9, d["first_ns"] % 10**9 // 1000)
        dur = d["last_ns"] - d["first_ns"]
        assert z["duration"] == "%d.%06d" % (dur // 10**9, dur % 10**9 // 1000), z
        assert z["proto"] == "tcp"
        assert z["service"] == (d["service"] or "-")
        assert int(z["orig_bytes"]) == d["data_bytes_c2s"]
        assert int(z["resp_bytes"]) == d["data_bytes_s2c"]
        assert int(z["orig_pkts"]) == d["packets_c2s"]
        assert int(z["resp_pkts"]) == d["packets_s2c"]
        assert z["conn_state"] == d["zeek_conn_state"]
        assert z["history"] == d["zeek_history"]
        assert int(z["orig_ip_bytes"]) == d["ip_bytes_c2s"]
        assert int(z["resp_ip_bytes"]) == d["ip_bytes_s2c"]
        assert int(z["missed_bytes"]) == d["missed_bytes_c2s"] + d["missed_bytes_s2c"]
        for unset in ("local_orig", "local_resp", "tunnel_parents"):
            assert z[unset] == "-", (unset, z)
    # two incarnations of one tuple stay two rows with distinct uids
    assert len({z[1] for z in got}) == len(got)


@test
def csv_matches_the_database():
    db, _, cv, _ = one_run()
    rows, cols = db_rows(db)
    raw = open(cv, "rb").read()
    assert raw.count(b"\r\n") == len(rows) + 1 and raw.count(b"\n") == len(rows) + 1, \
        "RFC 4180 wants CRLF line ends"
    with open(cv, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == cols, (table[0], cols)
    assert len(table) - 1 == len(rows)
    by_id = {str(d["id"]): d for d in rows}
    for line in table[1:]:
        d = by_id.pop(line[0])  # rows come as connections finish
        want = ["" if d[c] is None else str(d[c]) for c in cols]
        assert line == want, (line, want)


@test
def csv_quotes_as_rfc4180_says():
    # Python's csv.writer (minimal quoting, CRLF) writes exactly our bytes for
    # the table it read from them: nothing quoted that needs no quotes.
    _, _, cv, _ = one_run()
    text = open(cv, newline="", encoding="utf-8").read()
    table = list(csv.reader(io.StringIO(text, newline="")))
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerows(table)
    assert buf.getvalue() == text


def pcap_times(path):
    """(first, last) frame time in ns of a classic pcap or a pcapng (EPB, 1 us/1 ns units)."""
    b = open(path, "rb").read()
    magic = b[:4]
    times = []
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        ns = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        off = 24
        while off + 16 <= len(b):
            sec, frac, incl, _ = struct.unpack(e + "IIII", b[off:off + 16])
            times.append(sec * 10**9 + (frac if ns else frac * 1000))
            off += 16 + incl
        return times[0], times[-1]
    raise Skip("not a classic pcap")


@test
def derived_fields_follow_from_the_capture():
    db, _, _, js = one_run()
    rows, _ = db_rows(db)
    lines = [json.loads(l) for l in open(js, encoding="utf-8")]
    assert len(lines) == len(rows)
    by_id = {d["id"]: d for d in rows}
    for o in lines:
        d = by_id[o["id"]]
        for k in ("first_time", "last_time", "duration_ns", "service", "community_id"):
            assert o[k] == d[k], (k, o[k], d[k])
        for t, ns in (("first_time", o["first_ns"]), ("last_time", o["last_ns"])):
            dt = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
            assert o[t] == dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9), (t, o[t])
        assert o["duration_ns"] == o["last_ns"] - o["first_ns"] >= 0
        assert re.fullmatch(r"1:[A-Za-z0-9+/]{27}=", o["community_id"]), o["community_id"]
        for tr in o["transitions"]:
            assert set(tr) == {"ts_ns", "endpoint", "from_state", "to_state", "cause", "frame"}
    # one capture, one connection: its first_ns/last_ns are the file's first/last frame
    one = [o for o in lines if o["client_port"] == 40001 and o["ip_version"] == 4]
    first, last = pcap_times(sample("ipv4-basic.pcap"))
    assert len(one) == 1 and one[0]["first_ns"] == first and one[0]["last_ns"] == last, one
    # service names as IANA registers them, where the sample's ports have one
    by_port = {o["server_port"]: o["service"] for o in lines}
    assert by_port[8080] == "http-alt" and by_port[8082] is None, by_port


@test
def community_id_is_tsharks():
    if not shutil.which("tshark"):
        raise Skip("tshark not installed")
    checked = 0
    for cap in CAPTURES:
        r = subprocess.run(["tshark", "-r", sample(cap), "--enable-protocol", "communityid",
                            "-Y", "tcp", "-T", "fields", "-e", "ip.src", "-e", "ipv6.src",
                            "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e",
                            "tcp.dstport", "-e", "communityid"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not r.stdout.strip():
            raise Skip("this tshark has no communityid field")
        want = {}
        for line in r.stdout.splitlines():
            s4, s6, sp, d4, d6, dp, cid = line.split("\t")
            a = (str(ipaddress.ip_address(s4 or s6)), int(sp))
            b = (str(ipaddress.ip_address(d4 or d6)), int(dp))
            want[frozenset((a, b))] = cid
        js = tmp("cid.json")
        assert run("analyze", "-q", sample(cap), "--json", js).returncode == 0
        for l in open(js, encoding="utf-8"):
            o = json.loads(l)
            k = frozenset(((o["client_ip"], o["client_port"]), (o["server_ip"], o["server_port"])))
            assert o["community_id"] == want[k], (cap, o["community_id"], want[k])
            checked += 1
    assert checked > 10, checked


def summary_pair(caps, *extra):
    db = tmp("sum.db")
    live = run("analyze", *[sample(c) for c in caps], "--db", db, *extra)
    assert live.returncode == 0, live.stderr
    dbs = run("summary", db)
    assert dbs.returncode == 0, dbs.stderr
    return live.stdout, dbs.stdout


@test
def live_summary_equals_summary_of_the_database():
    for caps, extra in ((CAPTURES, ()), (["port-reuse.pcap"], ()),
                        (["snaplen-64.pcap", "vlan.pcap", "qinq.pcap", "sll2-any.pcap"], ()),
                        (CAPTURES, ("--threads", "1")),
                        (["tfo.pcap", "loss-retrans.pcap"], ("--max-connections", "1"))):
        live, fromdb = summary_pair(caps, *extra)
        l, d = live.split("\n"), fromdb.split("\n")
        assert l[0].startswith("tcbscope ") and l[0].endswith(" summary"), l[0]
        assert d[0].startswith("tcbscope summary of "), d[0]
        assert l[1:] == d[1:], "\n".join(
            "%r != %r" % x for x in zip(l[1:], d[1:]) if x[0] != x[1])


@test
def summary_gives_the_capture_times_in_utc():
    first, _ = pcap_times(sample("ipv4-basic.pcap"))
    _, last = pcap_times(sample("refused.pcap"))
    live, _ = summary_pair(["ipv4-basic.pcap", "refused.pcap"])
    f = datetime.datetime.fromtimestamp(first // 10**9, datetime.timezone.utc)
    want_first = f.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (first % 10**9)
    assert ("  captured %s to " % want_first) in live, live[:300]
    fl = [pcap_times(sample(c)) for c in ("ipv4-basic.pcap", "refused.pcap")]
    lo, hi = min(x[0] for x in fl), max(x[1] for x in fl)
    m = re.search(r"captured (\S+) to (\S+)", live)
    to_ns = lambda s: int(datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(s[20:29])
    assert (to_ns(m.group(1)), to_ns(m.group(2))) == (lo, hi), (m.groups(), lo, hi, last)


def expected_rows(base):
    with open(sample(base + ".expected.tsv"), encoding="utf-8") as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    return [dict(zip(lines[0], l)) for l in lines[1:]]


@test
def summary_ranks_p99_only_with_five_handshakes():
    # Handshakes per server as the scenarios made them: 7 to 10.231.2.2:8080 (5 samples),
    # 1 to [fd00:231:2::2]:8080.  Read in capture-time order.
    bases = ["port-reuse", "close-server-first", "half-close", "ipv4-ns", "sll", "ipv6-basic"]
    bases.sort(key=lambda b: pcap_times(sample(b + ".pcap"))[0])
    hs = {}
    for b in bases:
        for r in expected_rows(b):
            if r["handshake"] == "complete":
                hs[r["server"]] = hs.get(r["server"], 0) + 1
    assert hs == {"10.231.2.2:8080": 7, "[fd00:231:2::2]:8080": 1}, hs
    live, _ = summary_pair([b + ".pcap" for b in bases])
    sec = live.split("\nTop servers by p99 handshake time (servers with 5 or more handshakes)\n",
                     1)[1].split("\n\n", 1)[0]
    rows = sec.split("\n")[1:]
    assert len(rows) == 1 and re.match(r"\s+10\.231\.2\.2:8080\s+7\s+7\s", rows[0]), sec
    sec = live.split("\nTop servers by connections\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"\[fd00:231:2::2\]:8080\s+1\s+1\s", sec), sec


@test
def outputs_refuse_existing_files_and_share_stdout_once():
    for opt in ("--zeek", "--csv"):
        p = tmp("exists" + opt)
        open(p, "w").write("keep")
        r = run("analyze", "-q", sample("ipv4-basic.pcap"), opt, p)
        assert r.returncode == 3 and "exists" in r.stderr and "--force" in r.stderr, r
        assert open(p).read() == "keep"
        r = run("analyze", "-q", sample("ipv4-basic.pcap"), opt, p, "--force")
        assert r.returncode == 0 and open(p).read() != "keep", r
        r = run("analyze", "-q", sample("ipv4-basic.pcap"), opt, "-")
        assert r.returncode == 0 and r.stdout.count("10.231.1.2") == 1, r
        r = run("analyze", "-q", sample("ipv4-basic.pcap"), opt, "/nonexistent-dir/x")
        assert r.returncode == 3 and "/nonexistent-dir/x" in r.stderr, r
    r = run("analyze", "-q", sample("ipv4-basic.pcap"), "--zeek", "-", "--csv", "-")
    assert r.returncode == 1 and "only one" in r.stderr, r
    # the summary moves to stderr when a format owns stdout
    r = run("analyze", sample("ipv4-basic.pcap"), "--csv", "-")
    assert r.returncode == 0 and "Handshake latency" in r.stderr and r.stdout.startswith("id,")


if __name__ == "__main__":
    sys.exit(main(TMP))
