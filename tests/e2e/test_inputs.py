#!/usr/bin/env python3
"""End-to-end tests of how `tcbscope analyze` takes its input: several files
merged by timestamp (rotated files in glob and reverse order, interleaved
files as mergecap merges them), --as-given, directories, gzip/zstd
compressed captures (also on standard input, also cut short), damage in the
middle of a file and a bad first file.

Usage: test_inputs.py TCBSCOPE SAMPLES_DIR

Expected values come from how the inputs are made here: a sample is cut into
pieces (Python standard library), so reading the pieces must give exactly
what reading the sample gives (same connections, same frame numbers), and
the frame map must say which piece each frame came from.  Interleaved files
are compared with `mergecap -w` when it is installed, else with a merge done
here.  Exits 0 when every test passes, 1 otherwise; one line per test.
"""
import gzip
import heapq
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import traceback

TCBSCOPE = os.path.abspath(sys.argv[1])
SAMPLES = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="tcbscope-inputs-")
ENV = dict(os.environ, NO_COLOR="1")
RESULTS = []


def test(fn):
    RESULTS.append(fn)
    return fn


def run(*args, stdin=None):
    return subprocess.run([TCBSCOPE] + [str(a) for a in args], stdin=stdin, capture_output=True,
                          env=ENV, timeout=120, cwd=TMP)


def sample(name):
    return os.path.join(SAMPLES, name)


def tmp(name):
    return os.path.join(TMP, name)


def no_crash(r):
    err = r.stderr.decode(errors="replace")
    assert r.returncode in (0, 2), (r.returncode, err)
    assert not re.search(r"AddressSanitizer|runtime error:|LeakSanitizer", err), err


def analyze_json(*inputs, extra=(), stdin=None, want_exit=0):
    """NDJSON lines of `analyze --json -` (a list of dicts) and the stderr text."""
    r = run("analyze", "-q", "--hash-seed", "7", "--json", "-", *extra, *inputs, stdin=stdin)
    no_crash(r)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == want_exit, (r.returncode, err)
    return [json.loads(l) for l in r.stdout.decode().splitlines()], err


def analyze_db(db, *inputs, extra=(), want_exit=0):
    if os.path.exists(db):
        os.unlink(db)
    r = run("analyze", "-q", "--hash-seed", "7", "--db", db, *extra, *inputs)
    no_crash(r)
    assert r.returncode == want_exit, (r.returncode, r.stderr)
    return sqlite3.connect(db)


def read_pcap(path):
    """(global header, [(ts_sec, ts_frac, record bytes)]) of a little-endian classic pcap."""
    b = open(path, "rb").read()
    assert b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), path
    recs, off = [], 24
    while off + 16 <= len(b):
        sec, frac, incl = struct.unpack("<III", b[off:off + 12])
        recs.append((sec, frac, b[off:off + 16 + incl]))
        off += 16 + incl
    return b[:24], recs


def split_rotated(src, base, pieces):
    """Cut src into `pieces` files named as tcpdump -C names them; [(path, n records)]."""
    head, recs = read_pcap(src)
    out, n = [], len(recs)
    for k in range(pieces):
        part = recs[k * n // pieces:(k + 1) * n // pieces]
        path = tmp(base + (str(k) if k else ""))
        with open(path, "wb") as f:
            f.write(head + b"".join(r[2] for r in part))
        out.append((path, len(part)))
    return out


ROT_SRC = "loss-retrans.pcap"  # 53 frames: 12 pieces of 4 or 5


@test
def rotated_files_in_glob_and_reverse_order_give_the_original_stream():
    pieces = split_rotated(sample(ROT_SRC), "rot.pcap", 12)
    want, _ = analyze_json(sample(ROT_SRC))
    assert want, "the sample has connections"
    glob = sorted(p for p, _ in pieces)  # what the shell's rot.pcap* gives
    assert os.path.basename(glob[2]) == "rot.pcap10", glob
    for order in (glob, list(reversed(glob))):
        got, err = analyze_json(*order)
        assert got == want, "merged pieces differ from the whole capture"
        assert "reading 12 files in timestamp order, not as given; --as-given to keep it" in err, err
        assert err.count("warning") == 1, err
    # The frame map: run frames 1..5 from the first piece, 6..10 from the second, ...
    con = analyze_db(tmp("rot.db"), *reversed(glob))
    names = dict(con.execute("SELECT file_index, name FROM captures"))
    rows = con.execute("SELECT file_index, run_first, file_first, count FROM frame_map "
                       "ORDER BY run_first").fetchall()
    assert len(rows) == 12, rows
    first = 1
    for (fi, run_first, file_first, count), (path, n) in zip(rows, pieces):
        assert names[fi] == path and run_first == first and file_first == 1 and count == n, rows
        first += n
    assert con.execute("SELECT value FROM run WHERE key = 'as_given'").fetchone() == (0,)
    # Frame numbers in the timeline are those of the whole capture.
    frames = [f for (f,) in con.execute("SELECT frame FROM transitions WHERE frame IS NOT NULL")]
    assert frames and max(frames) <= first - 1


@test
def as_given_keeps_the_order_given():
    pieces = split_rotated(sample(ROT_SRC), "keep.pcap", 12)
    glob = sorted(p for p, _ in pieces)
    con = analyze_db(tmp("keep.db"), *glob, extra=("--as-given",))
    rows = con.execute("SELECT f.file_index, c.name, f.run_first FROM frame_map f "
                       "JOIN captures c USING (file_index) ORDER BY run_first").fetchall()
    # Concatenation in glob order: one map row per file, file_index = position given.
    assert [r[1] for r in rows] == glob, rows
    assert [r[0] for r in rows] == list(range(12)), rows
    assert con.execute("SELECT value FROM run WHERE key = 'as_given'").fetchone() == (1,)
    r = run("analyze", "-q", "--as-given", *glob)
    assert r.returncode == 0 and b"timestamps go back" in r.stderr, r.stderr


@test
def standard_input_is_read_where_given():
    pieces = split_rotated(sample(ROT_SRC), "std.pcap", 3)
    p0, p1, p2 = (p for p, _ in pieces)
    db = tmp("stdin.db")
    with open(p1, "rb") as f:
        r = run("analyze", "-q", "--db", db, p2, p0, "-", stdin=f)
    no_crash(r)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    rows = con.execute("SELECT c.name FROM frame_map f JOIN captures c USING (file_index) "
                       "ORDER BY run_first").fetchall()
    # p2 and p0 are merged (p0 first, by time); standard input comes after them.
    assert [n for (n,) in rows] == [p0, p2, "-"], rows
    assert b"standard input: timestamps go back" in r.stderr, r.stderr


@test
def more_overlapping_files_than_descriptors_is_a_clean_input_error():
    import resource
    copies = []
    for k in range(12):  # the same capture 12 times: all overlap in time
        copies.append(tmp("same%02d.pcap" % k))
        shutil.copy(sample("ipv4-basic.pcap"), copies[-1])
    lim = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (10, 10))
    r = subprocess.run([TCBSCOPE, "analyze", "-q", "--json", "-"] + copies, capture_output=True,
                       env=ENV, timeout=120, cwd=TMP, preexec_fn=lim)
    no_crash(r)
    assert r.returncode == 2, r.stderr
    assert b"Too many open files" in r.stderr and b"ulimit -n" in r.stderr, r.stderr
    assert r.stdout.count(b"\n") >= 1  # the files that could be opened were analysed


def python_merge(paths, out):
    """mergecap's rule: the record with the smallest time next, ties to the file given first."""
    heads, streams = [], []
    for i, p in enumerate(paths):
        head, recs = read_pcap(p)
        heads.append(head)
        streams.append([((sec, frac), i, n, rec) for n, (sec, frac, rec) in enumerate(recs)])
    with open(out, "wb") as f:
        f.write(heads[0] + b"".join(r[3] for r in heapq.merge(*streams)))


@test
def interleaved_files_merge_like_mergecap():
    head, recs = read_pcap(sample("ipv4-basic.pcap"))
    a, b = tmp("odd.pcap"), tmp("even.pcap")
    with open(a, "wb") as f:
        f.write(head + b"".join(r[2] for r in recs[0::2]))
    with open(b, "wb") as f:
        f.write(head + b"".join(r[2] for r in recs[1::2]))
    merged = tmp("merged.pcap")
    mergecap = shutil.which("mergecap")
    if mergecap:
        subprocess.run([mergecap, "-F", "pcap", "-w", merged, a, b], check=True)
    else:
        python_merge([a, b], merged)
    want, _ = analyze_json(merged)
    got, err = analyze_json(a, b)
    assert got == want, "differs from the merged file"
    assert "not as given" not in err, err  # a starts first: the order given is kept
    want_orig, _ = analyze_json(sample("ipv4-basic.pcap"))
    assert got == want_orig
    con = analyze_db(tmp("inter.db"), a, b)
    rows = con.execute("SELECT file_index, run_first, file_first, count FROM frame_map "
                       "ORDER BY run_first").fetchall()
    # Alternating frames: every frame its own run, file 0 for odd run frames.
    assert len(rows) == len(recs), rows
    for n, (fi, run_first, file_first, count) in enumerate(rows):
        assert (fi, run_first, file_first, count) == (n % 2, n + 1, n // 2 + 1, 1), rows


COMPRESSED = ["ipv4-basic.pcap.gz", "ipv4-basic.pcap.zst", "pcapng-multi.pcapng.gz",
              "pcapng-multi.pcapng.zst"]


@test
def compressed_samples_read_like_the_plain_ones():
    for name in COMPRESSED:
        plain = sample(name.rsplit(".", 1)[0])
        want, _ = analyze_json(plain)
        assert want
        got, err = analyze_json(sample(name))
        assert got == want and err == "", (name, err)
        with open(sample(name), "rb") as f:
            got, err = analyze_json("-", stdin=f)
        assert got == want and err == "", (name, err)
        # By magic, not by name.
        renamed = tmp("capture-" + name.replace(".", "-"))
        shutil.copy(sample(name), renamed)
        got, _ = analyze_json(renamed)
        assert got == want, name
        con = analyze_db(tmp("z.db"), sample(name))
        assert con.execute("SELECT format, packets FROM captures").fetchone()[0] == \
            ("pcapng" if "pcapng" in name else "pcap")


@test
def truncated_compressed_capture_is_a_warning_not_a_crash():
    data = gzip.compress(open(sample("loss-retrans.pcap"), "rb").read(), mtime=0)
    for cut in (len(data) // 2, len(data) - 4, 12):
        path = tmp("cut.pcap.gz")
        with open(path, "wb") as f:
            f.write(data[:cut])
        r = run("analyze", "-q", "--json", tmp("cut.json"), "--force", path)
        no_crash(r)
        assert b"cut.pcap.gz" in r.stderr, r.stderr
        if cut > 12:
            assert r.returncode == 0 and b"warning" in r.stderr, (cut, r.stderr)


@test
def directory_reads_its_captures_by_time():
    d = tmp("capdir")
    os.makedirs(d)
    head, recs = read_pcap(sample(ROT_SRC))
    # Names in reverse time order, a text file and a subdirectory beside them.
    for k, part in enumerate((recs[40:], recs[20:40], recs[:20])):
        with open(os.path.join(d, "part-%c.pcap" % "abc"[k]), "wb") as f:
            f.write(head + b"".join(r[2] for r in part))
    open(os.path.join(d, "README.txt"), "w").write("notes\n")
    os.makedirs(os.path.join(d, "older"))
    want, _ = analyze_json(sample(ROT_SRC))
    got, err = analyze_json(d)
    assert got == want
    assert "README.txt: not a capture" in err and "older: a directory inside" in err, err
    empty = tmp("emptydir")
    os.makedirs(empty)
    r = run("analyze", "-q", empty)
    assert r.returncode == 2 and b"no capture files in this directory" in r.stderr, r.stderr


@test
def bad_first_capture_other_files_are_read_and_written():
    want, _ = analyze_json(sample("ipv4-basic.pcap"))
    notcap = tmp("notes.pcap")
    open(notcap, "w").write("not a capture\n")
    for bad in (tmp("missing.pcap"), notcap):
        js, db = tmp("bad-first.json"), tmp("bad-first.db")
        r = run("analyze", "-q", "--hash-seed", "7", "--force", "--json", js, "--db", db, bad,
                sample("ipv4-basic.pcap"))
        no_crash(r)
        assert r.returncode == 2, r.stderr
        assert os.path.basename(bad).encode() in r.stderr, r.stderr
        got = [json.loads(l) for l in open(js)]
        assert got == want, "the good file's connections are in the NDJSON"
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM connections").fetchone()[0] == len(want)
        con.close()


@test
def damage_mid_file_is_an_input_error_with_results_kept():
    head, recs = read_pcap(sample("ipv4-basic.pcap"))
    good = b"".join(r[2] for r in recs[:6])
    bad = struct.pack("<IIII", recs[6][0], 0, 0x7FFFFFFF, 60) + b"\0" * 60
    rest = b"".join(r[2] for r in recs[6:])
    path = tmp("damaged.pcap")
    with open(path, "wb") as f:
        f.write(head + good + bad + rest)
    other = split_rotated(sample("refused.pcap"), "other.pcap", 1)[0][0]
    con = analyze_db(tmp("damaged.db"), path, other, want_exit=2)
    r = run("analyze", "-q", path, other)
    msg = r.stderr.decode()
    assert "damaged.pcap: damaged at byte %d" % (len(head) + len(good)) in msg, msg
    assert "%d bytes not read" % (len(bad) + len(rest)) in msg, msg
    pk = dict(con.execute("SELECT name, packets FROM captures"))
    assert pk[path] == 6 and pk[other] == len(read_pcap(sample("refused.pcap"))[1]), pk
    assert con.execute("SELECT count(*) FROM connections").fetchone()[0] >= 2


def main():
    failed = 0
    for fn in RESULTS:
        try:
            fn()
            print("ok    %s" % fn.__name__)
        except Exception:
            failed += 1
            print("FAIL  %s" % fn.__name__)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (len(RESULTS) - failed, failed))
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
