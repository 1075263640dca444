#!/usr/bin/env python3
"""End-to-end tests of the tcbscope command line: every command, bad input of
every kind, exit status, Ctrl-C, pipes.

Usage: test_cli.py TCBSCOPE SAMPLES_DIR

Expected values come from how the inputs were made: samples/X.expected.tsv
(written from the scenario that made each capture), samples/tshark-counts.tsv
and tshark itself when installed, RFC 9293's state sequences, or the bytes this
script crafts.  Never from tcbscope's own output.  Exits 0 when every test
passes, 1 otherwise; prints one line per test.
"""
import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

from harness import Skip, main, test

TCBSCOPE = os.path.abspath(sys.argv[1])
SAMPLES = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="tcbscope-cli-")
os.chmod(TMP, 0o755)  # the unprivileged-user test reads from here
ENV = dict(os.environ, NO_COLOR="1")


def run(*args, stdin=None, env=None, timeout=120, cwd=None):
    return subprocess.run([TCBSCOPE] + [str(a) for a in args], stdin=stdin, capture_output=True,
                          text=True, env=env or ENV, timeout=timeout, cwd=cwd or TMP)


def sample(name):
    return os.path.join(SAMPLES, name)


def tmp(name):
    return os.path.join(TMP, name)


def one_line_error(r, code, *needles):
    """Exit status code, exactly one stderr line starting 'tcbscope: ' naming each needle."""
    assert r.returncode == code, "exit %d, wanted %d; stderr: %r" % (r.returncode, code, r.stderr)
    lines = r.stderr.strip("\n").split("\n")
    assert len(lines) == 1, "wanted one error line, got %r" % r.stderr
    assert lines[0].startswith("tcbscope: "), lines[0]
    for n in needles:
        assert n in lines[0], "%r not in %r" % (n, lines[0])
    assert "Traceback" not in r.stderr and "AddressSanitizer" not in r.stderr


def pcap_header(linktype, snaplen=65535):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(ts, data):
    return struct.pack("<IIII", ts, 0, len(data), len(data)) + data


def read_pcap(path):
    """(global header, [record bytes]) of a classic little- or big-endian pcap."""
    b = open(path, "rb").read()
    magic = b[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    recs, off = [], 24
    while off + 16 <= len(b):
        incl = struct.unpack(endian + "I", b[off + 8:off + 12])[0]
        recs.append(b[off:off + 16 + incl])
        off += 16 + incl
    return b[:24], recs


def expected_rows(name):
    path = sample(name + ".expected.tsv")
    lines = [l for l in open(path).read().splitlines() if l and not l.startswith("#")]
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


def analyze_db(capture, db, *extra):
    if os.path.exists(db):
        os.unlink(db)
    r = run("analyze", "-q", capture, "--db", db, *extra)
    assert r.returncode == 0, r.stderr
    return db


# ---------------------------------------------------------------------------
# help, version, usage

@test
def help_and_version():
    r = run("--version")
    assert r.returncode == 0 and re.match(r"tcbscope \d+\.\d+", r.stdout), r
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("analyze", "summary", "show", "list"):
        assert cmd in r.stdout
        h = run(cmd, "--help")
        assert h.returncode == 0 and h.stdout.startswith("usage: tcbscope " + cmd), h
        assert "exit status" in h.stdout
    opts = run("analyze", "--help").stdout
    for o in ("--filter", "--db", "--json", "--force", "--idle-timeout", "--time-wait",
              "--verify-checksums", "--quiet", "--no-vlan-key", "--hash-seed", "--zeek", "--csv",
              "--read"):
        assert o in opts, o
    assert "--packets" in run("show", "--help").stdout
    for o in ("--server", "--port", "--state", "--open-kind", "--min-handshake-ms", "--limit"):
        assert o in run("list", "--help").stdout, o


@test
def man_page_describes_every_option():
    man = os.path.join(os.path.dirname(SAMPLES), "cli", "tcbscope.1")
    text = open(man).read().replace("\\-", "-")
    for o in ("--filter", "--db", "--json", "--force", "--idle-timeout", "--time-wait",
              "--verify-checksums", "--quiet", "--no-vlan-key", "--hash-seed", "--packets",
              "--top", "--version", "--help", "NO_COLOR", "--zeek", "--csv", "--server",
              "--port", "--state", "--open-kind", "--min-handshake-ms", "--limit", "--read"):
        assert o in text, o
    for code in ("130",):
        assert code in text


@test
def no_command_is_usage_error():
    r = run()
    assert r.returncode == 1 and "usage" in r.stderr


@test
def unknown_command_and_options():
    one_line_error(run("frobnicate"), 1, "frobnicate")
    one_line_error(run("analyze", "--bogus", sample("ipv4-basic.pcap")), 1, "--bogus")
    one_line_error(run("summary", "--bogus", "x.db"), 1, "--bogus")
    one_line_error(run("show", "--bogus", "x.db", "1"), 1, "--bogus")


@test
def missing_option_arguments():
    one_line_error(run("analyze", sample("ipv4-basic.pcap"), "--db"), 1, "--db")
    one_line_error(run("analyze", sample("ipv4-basic.pcap"), "--json"), 1, "--json")
    one_line_error(run("analyze", sample("ipv4-basic.pcap"), "-f"), 1, "-f")
    one_line_error(run("analyze", sample("ipv4-basic.pcap"), "--idle-timeout"), 1,
                   "--idle-timeout")
    one_line_error(run("analyze", sample("ipv4-basic.pcap"), "--time-wait", "soon"), 1,
                   "--time-wait")
    one_line_error(run("analyze"), 1, "capture")
    one_line_error(run("summary", "--top"), 1, "--top")
    one_line_error(run("show", "only-db"), 1)
    one_line_error(run("show", "x.db", "not-a-conn"), 1, "not-a-conn")


# ---------------------------------------------------------------------------
# bad input to analyze

@test
def missing_file():
    one_line_error(run("analyze", "-q", tmp("nope.pcap")), 2, "nope.pcap")


@test
def directory():
    os.makedirs(tmp("adir"), exist_ok=True)
    one_line_error(run("analyze", "-q", tmp("adir")), 2, "adir", "directory")


@test
def unreadable_file():
    path = tmp("secret.pcap")
    shutil.copy(sample("ipv4-basic.pcap"), path)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            raise Skip("running as root and setpriv is missing: cannot drop privileges")
        probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                TCBSCOPE, "--version"], capture_output=True)
        if probe.returncode != 0:
            raise Skip("the unprivileged user cannot run the binary here")
        r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                            TCBSCOPE, "analyze", "-q", path], capture_output=True, text=True,
                           env=ENV, cwd="/")
    else:
        os.chmod(path, 0)
        r = run("analyze", "-q", path)
    one_line_error(r, 2, "secret.pcap", "ermission denied")


@test
def not_a_capture():
    txt = tmp("notes.txt")
    open(txt, "w").write("this is not a capture\n" * 10)
    one_line_error(run("analyze", "-q", txt), 2, "notes.txt")
    one_line_error(run("analyze", "-q", TCBSCOPE), 2, os.path.basename(TCBSCOPE))
    empty = tmp("empty.pcap")
    open(empty, "wb").close()
    one_line_error(run("analyze", "-q", empty), 2, "empty.pcap")


@test
def header_only_capture():
    path = tmp("header-only.pcap")
    open(path, "wb").write(pcap_header(1))
    db = tmp("header-only.db")
    r = run("analyze", "-q", path, "--db", db)
    assert r.returncode == 0 and r.stderr == "", r
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM connections").fetchone()[0] == 0
    assert con.execute("SELECT value FROM run WHERE key = 'frames'").fetchone()[0] == 0


@test
def truncated_last_record_keeps_results():
    head, recs = read_pcap(sample("ipv4-basic.pcap"))
    path = tmp("trunc.pcap")
    # All 12 records, the last cut in the middle of its packet bytes.
    open(path, "wb").write(head + b"".join(recs[:-1]) + recs[-1][:len(recs[-1]) - 10])
    db = tmp("trunc.db")
    r = run("analyze", "-q", path, "--db", db)
    assert r.returncode == 0, r
    assert "warning" in r.stderr and "trunc.pcap" in r.stderr, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM connections").fetchone()[0] == 1
    assert con.execute("SELECT truncated, packets FROM captures").fetchone() == (1, 11)


@test
def unsupported_link_type_is_counted():
    path = tmp("lt147.pcap")
    frame = bytes(range(60))
    open(path, "wb").write(pcap_header(147) + pcap_record(1, frame) + pcap_record(2, frame))
    db = tmp("lt147.db")
    r = run("analyze", "-q", path, "--db", db)
    assert r.returncode == 0, r
    warn = [l for l in r.stderr.splitlines() if "147" in l]
    assert len(warn) == 1 and "warning" in warn[0], r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM run WHERE key = 'skipped.link_unsupported'"
                       ).fetchone()[0] == 2
    s = run("summary", db)
    assert s.returncode == 0, s
    skips = s.stdout.split("Skipped frames by reason")[1]
    assert re.search(r"link_unsupported\s+2\b", skips), skips


@test
def invalid_filter():
    one_line_error(run("analyze", "-q", "-f", "tcp port", sample("ipv4-basic.pcap")), 1,
                   "tcp port")


def tshark_counts():
    """file -> (frames, tcp_frames) from samples/tshark-counts.tsv."""
    rows = [l.split("\t") for l in open(sample("tshark-counts.tsv")).read().splitlines()
            if l and not l.startswith("#")]
    head = rows[0]
    return {r[0]: (int(r[head.index("frames")]), int(r[head.index("tcp_frames")]))
            for r in rows[1:]}


@test
def file_without_command_suggests_analyze():
    cap = tmp("trace.pcap")
    shutil.copy(sample("ipv4-basic.pcap"), cap)
    r = run("trace.pcap")
    one_line_error(r, 1, "did you mean: tcbscope analyze trace.pcap")
    assert r.stdout == ""
    r = run("trace.pcap", "--db", "my run.db")
    one_line_error(r, 1, "did you mean: tcbscope analyze trace.pcap --db 'my run.db'")
    one_line_error(run("-r", "trace.pcap"), 1, "did you mean: tcbscope analyze -r trace.pcap")
    assert not os.path.exists(tmp("my run.db"))
    # A word that is no file stays an unknown command, with no guess.
    r = run("nothere.pcap")
    one_line_error(r, 1, "unknown command 'nothere.pcap'")
    assert "did you mean" not in r.stderr


@test
def json_to_dev_stdout_is_like_dash():
    dash = run("analyze", sample("ipv4-basic.pcap"), "--json", "-")
    dev = run("analyze", sample("ipv4-basic.pcap"), "--json", "/dev/stdout")
    assert dash.returncode == 0 and dev.returncode == 0, (dash, dev)
    # NDJSON alone on stdout, the summary on stderr, in both spellings.
    assert dev.stdout == dash.stdout and len(dev.stdout.splitlines()) == \
        len(expected_rows("ipv4-basic")), dev.stdout
    assert "frames read" in dev.stderr and "frames read" not in dev.stdout, dev


@test
def read_option_like_tcpdump():
    counts = tshark_counts()
    db = tmp("read-r.db")
    # -r repeated and mixed with positional names: read in command-line order.
    names = ["refused.pcap", "ipv4-basic.pcap", "null.pcap", "port-reuse.pcap"]
    r = run("analyze", "-q", sample(names[0]), "-r", sample(names[1]), sample(names[2]),
            "--read", sample(names[3]), "--db", db)
    assert r.returncode == 0, r
    con = sqlite3.connect(db)
    got = con.execute("SELECT name, packets FROM captures ORDER BY file_index").fetchall()
    assert got == [(sample(n), counts[n][0]) for n in names], got
    r = run("analyze", "-q", "-r", sample("ipv4-basic.pcap"), "--json", "-")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == len(expected_rows("ipv4-basic")), r
    one_line_error(run("analyze", "-q", "-r"), 1, "-r")


@test
def filter_reports_frames_read_and_matched():
    counts = tshark_counts()
    v4, v6 = counts["ipv4-basic.pcap"][0], counts["ipv6-basic.pcap"][0]
    db = tmp("filtered.db")
    r = run("analyze", "-f", "ip6", sample("ipv4-basic.pcap"), "-r", sample("ipv6-basic.pcap"),
            "--db", db)
    assert r.returncode == 0, r
    assert re.search(r"frames read\s+%d\b" % (v4 + v6), r.stdout), r.stdout
    assert re.search(r"frames matched \(filter\)\s+%d\b" % v6, r.stdout), r.stdout
    con = sqlite3.connect(db)
    run_table = dict(con.execute("SELECT key, value FROM run"))
    assert run_table["frames"] == v4 + v6 and run_table["frames_matched"] == v6, run_table
    assert run_table["filter"] == "ip6", run_table
    assert con.execute("SELECT count(*) FROM connections WHERE ip_version = 4").fetchone()[0] == 0
    s = run("summary", db)
    # The database's summary is the live one (one renderer): the same two lines.
    assert "from %d frames" % (v4 + v6) in s.stdout, s.stdout
    assert re.search(r"frames read\s+%d\b" % (v4 + v6), s.stdout), s.stdout
    assert re.search(r"frames matched \(filter\)\s+%d\b" % v6, s.stdout), s.stdout
    # A filter that matches nothing: every frame was still read.
    r = run("analyze", "-f", "port 9", sample("ipv4-basic.pcap"))
    assert r.returncode == 0, r
    assert re.search(r"frames read\s+%d\b" % v4, r.stdout), r.stdout
    assert re.search(r"frames matched \(filter\)\s+0\b", r.stdout), r.stdout
    # Without a filter there is no "matched" line.
    r = run("analyze", sample("ipv4-basic.pcap"))
    assert "matched" not in r.stdout and re.search(r"frames read\s+%d\b" % v4, r.stdout), r.stdout


@test
def exit_status_by_kind_not_by_message():
    # A missing capture is an input error even when a filter is given and the
    # file name says "filter"; a bad filter is a usage error whatever the file.
    one_line_error(run("analyze", "-q", "-f", "tcp", tmp("no-such-filter.pcap")), 2,
                   "no-such-filter.pcap")
    one_line_error(run("analyze", "-q", "-f", "tcp and", tmp("no-such-filter.pcap")), 1,
                   "tcp and")
    one_line_error(run("analyze", "-q", "-f", "filter", sample("ipv4-basic.pcap")), 1, "filter")


def write_synacks(path, n):
    """n SYN/ACKs of n distinct tuples (RAW IPv4), one microsecond apart: n live connections."""
    with open(path, "wb") as f:
        f.write(pcap_header(101))
        for i in range(n):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                             struct.pack("!I", (10 << 24) + i), bytes([192, 0, 2, 1]))
            # SYN/ACKs (flags 0x12) whose SYN the tap missed: each needs a full record
            # (a bare SYN would only need a compact embryonic one)
            tcp = struct.pack("!HHIIBBHHH", 80, 1024 + i % 60000, i, 1, 0x50, 0x12, 64240, 0, 0)
            f.write(struct.pack("<IIII", 1700000000, i % 1000000, 40, 40) + ip + tcp)


@test
def engine_out_of_memory_is_not_an_output_error():
    import resource
    limit = 96 << 20  # address space: far below what 150,000 live connections need

    def capped():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    probe = subprocess.run([TCBSCOPE, "--version"], preexec_fn=capped, capture_output=True)
    if probe.returncode != 0:
        raise Skip("this build cannot run under an address-space limit (sanitizer shadow memory)")
    cap = tmp("syn150k.pcap")
    write_synacks(cap, 150000)
    js = tmp("oom.json")
    for threads in ("1", "2"):
        if os.path.exists(js):
            os.unlink(js)
        r = subprocess.run([TCBSCOPE, "analyze", "-q", cap, "--threads", threads, "--json", js],
                           preexec_fn=capped, capture_output=True, text=True, timeout=120)
        one_line_error(r, 2, "out of memory", "--max-connections")
        assert "output" not in r.stderr and "write" not in r.stderr, r.stderr
        assert os.path.exists(js), "the NDJSON file was not kept"
    # Control: the same run, memory bounded by --max-connections, fits the limit.
    r = subprocess.run([TCBSCOPE, "analyze", "-q", cap, "--max-connections", "1000"],
                       preexec_fn=capped, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r


@test
def unwritable_outputs():
    one_line_error(run("analyze", "-q", sample("ipv4-basic.pcap"), "--db",
                       tmp("no/such/dir/x.db")), 3, "x.db")
    one_line_error(run("analyze", "-q", sample("ipv4-basic.pcap"), "--json",
                       tmp("no/such/dir/x.json")), 3, "x.json")


@test
def existing_db_needs_force():
    db = tmp("exists.db")
    open(db, "w").write("precious")
    one_line_error(run("analyze", "-q", sample("ipv4-basic.pcap"), "--db", db), 3, "exists.db")
    assert open(db).read() == "precious"
    r = run("analyze", "-q", sample("ipv4-basic.pcap"), "--db", db, "--force")
    assert r.returncode == 0, r
    assert sqlite3.connect(db).execute("SELECT count(*) FROM connections").fetchone()[0] == 1


@test
def json_to_closed_pipe_is_quiet():
    cmd = "'%s' analyze -q '%s' --json - | head -1 >/dev/null" % (TCBSCOPE,
                                                                 sample("port-reuse.pcap"))
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.stderr == "", r.stderr
    assert r.returncode == 0, r
    # The pipeline's status is head's: check ours directly too.
    p = subprocess.Popen([TCBSCOPE, "analyze", "-q", sample("port-reuse.pcap"), "--json", "-"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(60)
    assert rc == 0 and err == "", (rc, err)


@test
def stdin_dash():
    with open(sample("ipv4-basic.pcap"), "rb") as f:
        r = run("analyze", "-q", "-", "--json", tmp("stdin.json"), stdin=f)
    assert r.returncode == 0, r
    assert len(open(tmp("stdin.json")).read().splitlines()) == 1


@test
def sigint_finishes_cleanly():
    fifo = tmp("live.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    db, js = tmp("interrupted.db"), tmp("interrupted.json")
    # --db beside --json: the two sinks run on threads of their own
    p = subprocess.Popen([TCBSCOPE, "analyze", "-q", fifo, "--db", db, "--json", js, "--force"],
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    head, recs = read_pcap(sample("ipv4-basic.pcap"))
    w = open(fifo, "wb")
    # The reader fills 256 KiB stdio buffers before it hands frames on (dissectors/reader.c),
    # so send well over two buffers of whole copies of the sample, then keep the FIFO open.
    copies = (3 * 256 * 1024) // sum(len(r) for r in recs) + 1
    w.write(head + b"".join(recs) * copies)
    w.flush()
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    finally:
        w.close()
    assert p.returncode == 130, (p.returncode, err)
    # The copies of the sample go back in time: the engine's clock warnings may
    # come first; the interruption is the one error.
    lines = [l for l in err.strip().splitlines() if "warning:" not in l]
    assert len(lines) == 1 and "interrupted" in lines[0], err
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM run WHERE key = 'interrupted'").fetchone()[0] == 1
    frames = con.execute("SELECT value FROM run WHERE key = 'frames'").fetchone()[0]
    assert 0 < frames <= copies * len(recs), frames
    # Every whole copy of the sample read is one more incarnation of its tuple.
    conns = con.execute("SELECT count(*) FROM connections").fetchone()[0]
    assert conns >= 1, (conns, frames)
    with open(js) as f:
        assert len(f.read().splitlines()) == conns, conns


@test
def no_colour_or_progress_when_not_a_terminal():
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    r = run("analyze", sample("ipv4-basic.pcap"), env=env)
    assert r.returncode == 0
    assert "\033" not in r.stdout and "\033" not in r.stderr and "\r" not in r.stderr


@test
def progress_and_colour_on_a_terminal():
    import pty
    # A capture big enough for a few progress updates: ipv4-basic's 12 frames, many times over,
    # with ports changed so each copy is a new connection.
    head, recs = read_pcap(sample("ipv4-basic.pcap"))
    big = tmp("big.pcap")
    with open(big, "wb") as f:
        f.write(head)
        for i in range(60000):
            for r in recs:
                f.write(r)
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"

    def on_tty(extra_env):
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.clear()
            os.environ.update(extra_env)
            os.execv(TCBSCOPE, [TCBSCOPE, "analyze", big, big, big])
        data = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), data.decode(errors="replace")

    rc, out = on_tty(env)
    assert rc == 0, out
    assert "\033[1m" in out, "no colour on a terminal"
    if "frames/s" not in out:
        raise Skip("the run was too fast for a progress update (needs > 250 ms)")
    assert "\r\033[K" in out  # erased before the summary
    env["NO_COLOR"] = "1"
    rc, out = on_tty(env)
    assert rc == 0 and "\033[1m" not in out


# ---------------------------------------------------------------------------
# summary

def summary_section(text, title):
    part = text.split("\n" + title + "\n", 1)[1]
    return part.split("\n\n", 1)[0]


@test
def summary_counts_match_how_samples_were_made():
    checked = 0
    for name in sorted(os.listdir(SAMPLES)):
        if not name.endswith(".expected.tsv"):
            continue
        base = name[:-len(".expected.tsv")]
        cap = [c for c in (base + ".pcap", base + ".pcapng") if os.path.exists(sample(c))]
        if not cap:
            continue
        rows = expected_rows(base)
        db = analyze_db(sample(cap[0]), tmp(base + ".db"))
        r = run("summary", db)
        assert r.returncode == 0, r
        assert re.search(r"\b%d connections?\b" % len(rows), r.stdout), (base, r.stdout[:200])
        for title, col in (("Open kind", "open_kind"), ("Handshake", "handshake"),
                           ("Close kind", "close_kind")):
            want = {}
            for row in rows:
                want[row[col]] = want.get(row[col], 0) + 1
            sec = summary_section(r.stdout, title)
            got = {l.split()[0]: int(l.split()[1].replace(",", "")) for l in sec.splitlines()}
            assert got == want, (base, title, got, want)
        want = {}
        if any("-" in (row["client_final_state"], row["server_final_state"]) for row in rows):
            continue  # "-": the scenario does not say (e.g. the server never answered)
        for row in rows:
            k = "%s / %s" % (row["client_final_state"], row["server_final_state"])
            want[k] = want.get(k, 0) + 1
        sec = summary_section(r.stdout, "Final states (client / server)")
        got = {}
        for l in sec.splitlines():
            m = re.match(r"\s*(\S+ / \S+)\s+([\d,]+)", l)
            got[m.group(1)] = int(m.group(2).replace(",", ""))
        assert got == want, (base, got, want)
        checked += 1
        hs = sum(1 for row in rows if row["handshake"] == "complete")
        assert re.search(r"Handshake latency \(SYN to ACK, %d complete" % hs, r.stdout)
    assert checked >= 5, checked


@test
def summary_top_servers():
    rows = expected_rows("port-reuse")
    db = analyze_db(sample("port-reuse.pcap"), tmp("top.db"))
    r = run("summary", db)
    sec = summary_section(r.stdout, "Top servers by connections")
    servers = {}
    for row in rows:
        servers[row["server"]] = servers.get(row["server"], 0) + 1
    for srv, n in servers.items():
        assert re.search(re.escape(srv) + r"\s+%d\b" % n, sec), (srv, sec)
    assert "p50" in r.stdout and "p99" in r.stdout and "#" in r.stdout


@test
def summary_rejects_non_databases():
    txt = tmp("notes.txt")
    open(txt, "w").write("hello\n")
    one_line_error(run("summary", txt), 2, "notes.txt", "not a tcbscope database")
    one_line_error(run("summary", TCBSCOPE), 2, "not a tcbscope database")
    one_line_error(run("summary", tmp("missing.db")), 2, "missing.db")
    other = tmp("other.db")
    if os.path.exists(other):
        os.unlink(other)
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    one_line_error(run("summary", other), 2, "other.db", "not a tcbscope database")
    # this tcbscope writes and reads version 2: an older (1) and a newer (3) are refused
    for ver in (1, 3):
        vdb = tmp(f"v{ver}.db")
        analyze_db(sample("ipv4-basic.pcap"), vdb)
        con = sqlite3.connect(vdb)
        con.execute(f"PRAGMA user_version = {ver}")
        con.commit()
        con.close()
        one_line_error(run("summary", vdb), 2, f"v{ver}.db", f"version {ver}")
        one_line_error(run("show", vdb, "1"), 2, f"version {ver}")
        one_line_error(run("list", vdb), 2, f"version {ver}")


# ---------------------------------------------------------------------------
# show

STATES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
          "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"]


def ladder_states(text):
    """States written in the client and the server column, in order."""
    lines = text.splitlines()
    hdr = next(l for l in lines if re.search(r"\bclient\b.*\bserver\b", l) and "frame" in l)
    ccol, scol = hdr.index("client"), hdr.index("server")
    client, server = [], []
    pat = re.compile(r"\b(%s)\b" % "|".join(re.escape(s) for s in
                                            sorted(STATES, key=len, reverse=True)))
    for l in lines[lines.index(hdr) + 1:]:
        if not l.strip():
            break
        for m in pat.finditer(l):
            (client if m.start() < scol - 2 else server).append(m.group(1))
            assert m.start() >= ccol
    return client, server


@test
def show_ladder_rfc_order():
    row = expected_rows("ipv4-basic")[0]
    assert row["close_kind"] == "active_client" and row["open_kind"] == "active_passive"
    db = analyze_db(sample("ipv4-basic.pcap"), tmp("basic.db"))
    # RFC 9293 §3.5 figures: active opener / active closer on the left.
    want_client = ["CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT"]
    want_server = ["LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"]
    for spec in ("1", "%s-%s" % (row["client"], row["server"]),
                 "%s-%s" % (row["server"], row["client"]), "%s-%s#1" % (row["client"], row["server"])):
        r = run("show", db, spec)
        assert r.returncode == 0, r
        c, s = ladder_states(r.stdout)
        assert c == want_client, (spec, c)
        assert s == want_server, (spec, s)
        for arrow in ("SYN -", "<", "SYN,ACK", "FIN", "ACK -"):
            assert arrow in r.stdout, arrow


@test
def show_ipv6_tuple():
    row = expected_rows("ipv6-basic")[0]
    assert row["client"].startswith("[")
    db = analyze_db(sample("ipv6-basic.pcap"), tmp("v6.db"))
    r = run("show", db, "%s-%s" % (row["client"], row["server"]))
    assert r.returncode == 0, r
    c, s = ladder_states(r.stdout)
    assert c[:3] == ["CLOSED", "SYN-SENT", "ESTABLISHED"], c
    assert c[-1] == row["client_final_state"] and s[-1] == row["server_final_state"], (c, s)


@test
def show_incarnations():
    rows = expected_rows("port-reuse")
    tuples = {}
    for row in rows:
        tuples.setdefault((row["client"], row["server"]), []).append(row)
    (cl, sv), inc = max(tuples.items(), key=lambda kv: len(kv[1]))
    db = analyze_db(sample("port-reuse.pcap"), tmp("reuse.db"))
    r = run("show", db, "%s-%s" % (cl, sv))
    assert r.returncode == 0, r
    assert len(re.findall(r"^connection \d+", r.stdout, re.M)) == len(inc), r.stdout
    r = run("show", db, "%s-%s#%d" % (cl, sv, len(inc)))
    assert r.returncode == 0 and "incarnation %d" % len(inc) in r.stdout, r
    assert len(re.findall(r"^connection \d+", r.stdout, re.M)) == 1
    one_line_error(run("show", db, "%s-%s#%d" % (cl, sv, len(inc) + 1)), 2, "#%d" % (len(inc) + 1))


@test
def show_missing_connection():
    db = analyze_db(sample("ipv4-basic.pcap"), tmp("basic2.db"))
    one_line_error(run("show", db, "99"), 2, "99")
    one_line_error(run("show", db, "192.0.2.1:1-192.0.2.2:2"), 2, "192.0.2.1:1-192.0.2.2:2")
    one_line_error(run("show", tmp("nodb.db"), "1"), 2, "nodb.db")


def tshark_frames(cap):
    if not shutil.which("tshark"):
        return None
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tcp", "-T", "fields", "-e", "frame.number"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None
    return [int(x) for x in r.stdout.split()]


def packet_frames(text):
    return [int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+\+\d+\.\d+ (?:-->|<--) ", text,
                                                  re.M)]


@test
def show_packets_lists_the_tshark_frames():
    counts = {}
    for l in open(sample("tshark-counts.tsv")).read().splitlines():
        f = l.split("\t")
        if l.startswith("#") or f[0] == "file":
            continue
        counts[f[0]] = (int(f[1]), int(f[2]), int(f[3]))
    for cap in ("ipv4-basic.pcap", "ipv6-basic.pcap", "half-close.pcap", "loss-retrans.pcap"):
        frames, tcp_frames, convs = counts[cap]
        assert convs == 1
        db = analyze_db(sample(cap), tmp(cap + ".db"))
        r = run("show", "--packets", db, "1")
        assert r.returncode == 0, r
        got = packet_frames(r.stdout)
        assert len(got) == tcp_frames, (cap, len(got), tcp_frames)
        ts = tshark_frames(sample(cap))
        if ts is not None:
            assert got == ts, (cap, got, ts)
        assert re.search(r"\b%d segments?\b" % tcp_frames, r.stdout)
    # The state changes sit beside the segment that caused them (basic: the first SYN).
    db = tmp("ipv4-basic.pcap.db")
    r = run("show", "--packets", db, "1")
    first = next(l for l in r.stdout.splitlines() if re.match(r"\s+1\s+\+0\.000000", l))
    assert "[SYN]" in first and "client CLOSED>SYN-SENT" in first, first


@test
def show_packets_splits_incarnations():
    rows = expected_rows("port-reuse")
    tcp_frames = [l.split("\t") for l in open(sample("tshark-counts.tsv")).read().splitlines()
                  if l.startswith("port-reuse.pcap\t")][0]
    db = analyze_db(sample("port-reuse.pcap"), tmp("reuse-packets.db"))
    seen = []
    for i in range(1, len(rows) + 1):
        r = run("show", "--packets", db, str(i))
        assert r.returncode == 0, r
        got = packet_frames(r.stdout)
        assert got, r.stdout
        # Each incarnation opens with the client's SYN.
        first = next(l for l in r.stdout.splitlines() if re.match(r"\s+%d\s+\+" % got[0], l))
        assert "[SYN]" in first, first
        seen += got
    # Every TCP frame of the capture in exactly one incarnation.
    assert sorted(seen) == list(range(1, int(tcp_frames[2]) + 1)), seen


@test
def show_packets_marks_retransmissions():
    db = analyze_db(sample("loss-retrans.pcap"), tmp("loss.db"))
    r = run("show", "--packets", db, "1")
    assert r.returncode == 0, r
    assert "[retransmission]" in r.stdout or "[out-of-order]" in r.stdout, r.stdout


@test
def show_packets_captures_gone():
    cap = tmp("moving.pcap")
    shutil.copy(sample("ipv4-basic.pcap"), cap)
    db = analyze_db(cap, tmp("moving.db"))
    os.unlink(cap)
    one_line_error(run("show", "--packets", db, "1"), 2, "moving.pcap")
    # The ladder alone needs only the database.
    assert run("show", db, "1").returncode == 0
    with open(sample("ipv4-basic.pcap"), "rb") as f:
        r = run("analyze", "-q", "-", "--db", tmp("stdin.db"), "--force", stdin=f)
    assert r.returncode == 0, r
    one_line_error(run("show", "--packets", tmp("stdin.db"), "1"), 2, "standard input")


# ---------------------------------------------------------------------------
# list

LIST_SAMPLES = ("ipv4-basic", "port-reuse", "refused", "unanswered", "simultaneous-open",
                "rst-abort", "ipv6-basic", "half-close")


def list_rows(text):
    """The data lines of `list` as dicts (columns split on runs of 2+ spaces)."""
    lines = text.rstrip("\n").split("\n")
    head = re.split(r"\s{2,}", lines[0].strip())
    assert head == ["id", "client", "server", "open", "handshake", "hs ms", "close",
                    "final (client / server)", "duration"], head
    return [dict(zip(head, re.split(r"\s{2,}", l.strip()))) for l in lines[1:]]


def list_db():
    """One database of several samples (in LIST_SAMPLES order) and their expected rows."""
    db = tmp("list.db")
    caps, rows = [], []
    for base in LIST_SAMPLES:
        caps.append(sample(base + ".pcap"))
        rows += expected_rows(base)
    if os.path.exists(db):
        os.unlink(db)
    r = run("analyze", "-q", "--time-wait", "86400", *caps, "--db", db)
    assert r.returncode == 0, r.stderr
    return db, rows


def key(row):
    return (row["client"].replace("[", "").replace("]", ""),
            row["server"].replace("[", "").replace("]", ""))


def as_multiset(rows, fields):
    out = {}
    for r in rows:
        k = tuple(r[f] for f in fields)
        out[k] = out.get(k, 0) + 1
    return out


@test
def list_shows_every_connection_as_made():
    db, want = list_db()
    r = run("list", db)
    assert r.returncode == 0, r
    got = list_rows(r.stdout)
    assert len(got) == len(want), (len(got), len(want))
    assert [int(g["id"]) for g in got] == list(range(1, len(want) + 1))
    for g in got:
        g["client_ep"], g["server_ep"] = g["client"], g["server"]
    # what the scenarios say: endpoints, open kind, handshake, close kind
    w = as_multiset([{"c": r["client"], "s": r["server"], "o": r["open_kind"],
                      "h": r["handshake"], "k": r["close_kind"]} for r in want], "cshok")
    g = as_multiset([{"c": x["client"], "s": x["server"], "o": x["open"], "h": x["handshake"],
                      "k": x["close"]} for x in got], "cshok")
    assert g == w, (g, w)
    # final states wherever the scenario says them
    for x in want:
        if "-" in (x["client_final_state"], x["server_final_state"]):
            continue
        f = "%s / %s" % (x["client_final_state"], x["server_final_state"])
        assert any(y["client"] == x["client"] and y["server"] == x["server"] and
                   y["final (client / server)"] == f for y in got), (x, got)


@test
def list_filters_match_the_scenarios():
    db, want = list_db()

    def ids(*args):
        r = run("list", db, *args)
        assert r.returncode == 0, r
        if r.stdout.startswith("(no connection matches)"):
            return []
        return list_rows(r.stdout)

    got = ids("--server", "10.231.2.2:8080")
    assert len(got) == sum(1 for x in want if x["server"] == "10.231.2.2:8080"), got
    assert all(x["server"] == "10.231.2.2:8080" for x in got)
    ip_only = ids("--server", "10.231.2.2")
    assert len(ip_only) == sum(1 for x in want if x["server"].startswith("10.231.2.2:"))
    v6 = ids("--server", "fd00:231:2::2")
    assert len(v6) == sum(1 for x in want if x["server"].startswith("[fd00:231:2::2]")) >= 1
    assert ids("--server", "[fd00:0231:2:0::2]:8080") == v6  # any spelling of the address
    port = ids("--port", "8080")
    assert len(port) == sum(1 for x in want if x["server"].endswith(":8080") or
                            x["client"].endswith(":8080"))
    sim = ids("--open-kind", "simultaneous")
    assert [(x["client"], x["server"]) for x in sim] == \
        [(x["client"], x["server"]) for x in want if x["open_kind"] == "simultaneous"]
    tw = ids("--state", "time-wait")  # any case, '-' or '_'
    assert len(tw) == sum(1 for x in want if "TIME-WAIT" in (x["client_final_state"],
                                                            x["server_final_state"]))
    assert ids("--state", "TIME_WAIT") == tw
    assert len(ids("--limit", "2")) == 2
    assert len(ids("--limit", "0")) == 0
    both = ids("--server", "10.231.2.2:8080", "--state", "TIME-WAIT", "--limit", "1")
    assert len(both) == 1 and both[0]["server"] == "10.231.2.2:8080"
    complete = sum(1 for x in want if x["handshake"] == "complete")
    assert len(ids("--min-handshake-ms", "0")) == complete
    assert ids("--min-handshake-ms", "60000") == []


@test
def list_handshake_ms_is_tsharks_initial_rtt():
    if not shutil.which("tshark"):
        raise Skip("tshark not installed")
    cap = sample("ipv4-basic.pcap")
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tcp.analysis.initial_rtt", "-T", "fields",
                        "-e", "tcp.analysis.initial_rtt"], capture_output=True, text=True,
                       timeout=120)
    rtt = {float(x) for x in r.stdout.split()}
    assert len(rtt) == 1, rtt
    db = analyze_db(cap, tmp("rtt.db"))
    got = list_rows(run("list", db).stdout)
    assert len(got) == 1
    assert got[0]["hs ms"] == "%.3f" % (rtt.pop() * 1000), got


@test
def list_rejects_bad_filters_and_keeps_data_out_of_sql():
    db, _ = list_db()
    for args, needle in ((("--server", "10.0.0.1' OR 1=1 --"), "--server"),
                         (("--state", "x' OR '1'='1"), "--state"),
                         (("--open-kind", "active"), "--open-kind"),
                         (("--port", "70000"), "--port"),
                         (("--port", "-1"), "--port"),
                         (("--limit", "many"), "--limit"),
                         (("--min-handshake-ms", "-3"), "--min-handshake-ms"),
                         (("--server", "10.0.0.1:99999"), "--server")):
        one_line_error(run("list", db, *args), 1, needle)
    one_line_error(run("list"), 1, "database")
    one_line_error(run("list", tmp("no-such.db")), 2, "no-such.db")
    r = run("list", db, "--server", "192.0.2.99")
    assert r.returncode == 0 and r.stdout == "(no connection matches)\n", r


if __name__ == "__main__":
    sys.exit(main(TMP))
