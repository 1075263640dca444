#!/usr/bin/env python3
"""Output faults: a full device mid-run is an output error, never lost data.

Usage: test_output_faults.py TCBSCOPE
Makes a capture of 20000 SYNs (an SQLite database of a few MiB), then:
  - --json /dev/full --force: exit 3, "/dev/full" and the reason on stderr;
  - the same beside --db (the two sinks then run on threads of their own):
    exit 3, the NDJSON error on stderr, and the database still written
    whole with what was analysed before the stop;
  - --db on a 512 KiB tmpfs over an existing file (--force): exit 3, the
    error on stderr, the previous file byte for byte untouched and no
    temporary file left beside it;
  - --json on the same full tmpfs: exit 3 and the error on stderr;
  - --db in a directory that does not exist: exit 3 before any work;
  - --db to what is not a regular file (/dev/null, a FIFO, /dev/stdout and
    /dev/fd/N on a pipe, a directory), also with --force: exit 3, the
    target as it was (same inode, type, device number; a directory's
    entries); a target that turns into a FIFO during the run is not
    replaced either (exit 3, the database kept in the temporary file named);
  - --json to /dev/null, a FIFO with a reader and /dev/fd/N on a pipe,
    without --force: exit 0, the reader gets exactly the lines a regular
    file gets, the FIFO is still a FIFO; to a directory: exit 3.
The tmpfs cases need mount(2) (root); without it they are reported skipped
(exit 77 when nothing else ran).  Python 3 standard library only.
"""
import os
import re
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time


def write_syns(path, n):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i in range(n):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                             struct.pack("!I", (10 << 24) + i), bytes([192, 0, 2, 1]))
            tcp = struct.pack("!HHIIBBHHH", 1024 + i % 60000, 80, i, 0, 0x50, 0x02, 64240, 0, 0)
            f.write(struct.pack("<IIII", 1700000000, i % 1000000, 40, 40) + ip + tcp)


def file_id(path):
    """What must not change about a target: type, inode, device number, size."""
    st = os.lstat(path)
    return (stat.S_IFMT(st.st_mode), st.st_ino, st.st_rdev, st.st_size)


def run(exe, args):
    p = subprocess.run([exe, "analyze", "--quiet"] + args, capture_output=True, text=True,
                       errors="replace", timeout=300)
    return p.returncode, p.stderr


def read_all_from(fd, out):
    """Read fd to its end into out[0] (a reader thread)."""
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    out.append(b"".join(chunks))


def non_regular_targets(exe, tmp, expect, failures):
    """--db never replaces a non-regular file; --json writes one in place."""
    cap = os.path.join(tmp, "syn50.pcap")
    write_syns(cap, 50)
    ref = os.path.join(tmp, "ref.json")
    p = subprocess.run([exe, "analyze", "-q", cap, "--json", ref], capture_output=True)
    with open(ref, "rb") as f:
        want = f.read()
    lines = want.count(b"\n")
    if p.returncode != 0 or lines != 50:
        failures.append(f"reference NDJSON: exit {p.returncode}, {lines} lines")
        return

    def unchanged(name, path, before):
        if file_id(path) != before:
            failures.append(f"{name}: {path} changed: {before} -> {file_id(path)}")

    # Private device nodes first: a tcbscope that replaces them must not be
    # let loose on the real /dev/null and /dev/stdout below.
    nfail = len(failures)
    for force in ([], ["--force"]):
        null = os.path.join(tmp, "null")
        try:
            os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except OSError as e:
            print(f"skip private null device: mknod needs root ({e})")
        else:
            before = file_id(null)
            rc, err = run(exe, ["--db", null, *force, cap])
            expect("db to a null device " + " ".join(force), rc, err, r"null: is a character device")
            unchanged("db to a null device", null, before)
            os.unlink(null)

        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        before = file_id(fifo)
        rc, err = run(exe, ["--db", fifo, *force, cap])
        expect("db to a FIFO " + " ".join(force), rc, err, r"fifo: is a FIFO")
        unchanged("db to a FIFO", fifo, before)
        os.unlink(fifo)

        if len(failures) > nfail:
            failures.append("the private device and FIFO cases failed: the real /dev cases are not run")
            return
        before = file_id("/dev/null")
        rc, err = run(exe, ["--db", "/dev/null", *force, cap])
        expect("db to /dev/null " + " ".join(force), rc, err, r"/dev/null: is a character device")
        unchanged("db to /dev/null", "/dev/null", before)

        d = os.path.join(tmp, "adir")
        os.mkdir(d)
        open(os.path.join(d, "keep"), "w").write("x")
        before = file_id(d)
        for opt in ("--db", "--json"):
            rc, err = run(exe, [opt, d, *force, cap])
            expect(f"{opt} to a directory " + " ".join(force), rc, err, r"adir: is a directory")
        unchanged("to a directory", d, before)
        if os.listdir(d) != ["keep"]:
            failures.append(f"to a directory: entries now {os.listdir(d)}")
        os.unlink(os.path.join(d, "keep"))
        os.rmdir(d)

        # /dev/stdout and /dev/fd/N on a pipe (what >(...) gives)
        for name in ("/dev/stdout", "/dev/fd/N"):
            r, w = os.pipe()
            path = "/dev/stdout" if name == "/dev/stdout" else f"/dev/fd/{w}"
            out = []
            t = threading.Thread(target=read_all_from, args=(r, out))
            t.start()
            p = subprocess.run([exe, "analyze", "-q", cap, "--db", path, *force],
                               stdout=w, pass_fds=(w,), stderr=subprocess.PIPE, text=True,
                               timeout=60)
            os.close(w)
            t.join()
            expect(f"db to {name} on a pipe " + " ".join(force), p.returncode, p.stderr,
                   r"names a file descriptor")
            if out[0]:
                failures.append(f"db to {name} on a pipe: {len(out[0])} bytes written")

    # --json to streams: written in place, no --force needed
    def ok(name, rc, err, got):
        if rc == 0 and err == "" and (got is None or got == want):
            print(f"ok   {name}" + ("" if got is None else f": {len(got)} bytes, as in a regular file"))
        else:
            failures.append(f"{name}: exit {rc}, stderr {err.strip()!r}, "
                            f"{len(got or b'')} bytes ({'same' if got == want else 'different'})")

    before = file_id("/dev/null")
    p = subprocess.run([exe, "analyze", "-q", cap, "--json", "/dev/null"], capture_output=True,
                       text=True, timeout=60)
    ok("json to /dev/null", p.returncode, p.stderr, None)
    unchanged("json to /dev/null", "/dev/null", before)

    fifo = os.path.join(tmp, "jfifo")
    os.mkfifo(fifo)
    before = file_id(fifo)
    out = []
    t = threading.Thread(target=lambda: read_all_from(os.open(fifo, os.O_RDONLY), out))
    t.start()
    p = subprocess.run([exe, "analyze", "-q", cap, "--json", fifo], capture_output=True,
                       text=True, timeout=60)
    t.join()
    ok("json to a FIFO with a reader", p.returncode, p.stderr, out[0])
    unchanged("json to a FIFO", fifo, before)
    os.unlink(fifo)

    for name in ("/dev/stdout", "/dev/fd/N"):
        r, w = os.pipe()
        path = "/dev/stdout" if name == "/dev/stdout" else f"/dev/fd/{w}"
        out = []
        t = threading.Thread(target=read_all_from, args=(r, out))
        t.start()
        p = subprocess.run([exe, "analyze", "-q", cap, "--json", path], stdout=w,
                           pass_fds=(w,), stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(w)
        t.join()
        ok(f"json to {name} on a pipe", p.returncode, p.stderr, out[0])

    # The target turns into a FIFO while the run reads its input: not replaced.
    target = os.path.join(tmp, "late.db")
    p = subprocess.Popen([exe, "analyze", "-q", "-", "--db", target, "--force"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
    with open(cap, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()
    # Once the temporary database exists the target has been checked: now change it.
    for _ in range(600):
        if any(n.startswith(".late.db.tmp-") for n in os.listdir(tmp)):
            break
        time.sleep(0.05)
    os.mkfifo(target)
    before = file_id(target)
    p.stdin.close()
    err = p.stderr.read().decode(errors="replace")
    rc = p.wait(timeout=60)
    expect("db target turned FIFO during the run", rc, err,
           r"late\.db is now a FIFO.*not replaced, the database is in ")
    unchanged("db target turned FIFO", target, before)
    m = re.search(r"the database is in (\S+)", err)
    if m and os.path.exists(m.group(1)):
        con = sqlite3.connect(m.group(1))
        n = con.execute("SELECT count(*) FROM connections").fetchone()[0]
        con.close()
        os.unlink(m.group(1))
        if n != 50:
            failures.append(f"db target turned FIFO: the kept database has {n} connections, not 50")
    else:
        failures.append(f"db target turned FIFO: no kept database named in {err.strip()!r}")
    os.unlink(target)


def main():
    exe = sys.argv[1]
    failures, ran, skipped = [], 0, 0

    def expect(name, rc, err, pattern):
        nonlocal ran
        ran += 1
        bad = []
        if rc != 3:
            bad.append(f"exit {rc}, expected 3 (output error)")
        if not re.search(pattern, err):
            bad.append(f"stderr lacks /{pattern}/: {err.strip()!r}")
        if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", err):
            bad.append("sanitizer report")
        if bad:
            failures.append(f"{name}: " + "; ".join(bad))
        else:
            print(f"ok   {name}")

    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "syn20k.pcap")
        write_syns(cap, 20000)

        rc, err = run(exe, ["--json", "/dev/full", "--force", cap])
        expect("json to /dev/full", rc, err, r"/dev/full.*(No space|space left|write)")

        db = os.path.join(tmp, "beside.db")
        rc, err = run(exe, ["--json", "/dev/full", "--force", "--db", db, cap])
        expect("json to /dev/full beside --db", rc, err, r"/dev/full.*(No space|space left|write)")
        try:
            con = sqlite3.connect(db)
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            n = con.execute("SELECT count(*) FROM connections").fetchone()[0]
            con.close()
            if ok != "ok" or not 0 < n <= 20000:
                failures.append(f"database beside the failed NDJSON: integrity {ok}, {n} rows")
            else:
                print(f"ok   database beside the failed NDJSON: {n} connections kept")
        except sqlite3.Error as e:
            failures.append(f"database beside the failed NDJSON: {e}")

        rc, err = run(exe, ["--db", os.path.join(tmp, "no", "such", "dir", "x.db"), cap])
        expect("db in a missing directory", rc, err, r"x\.db")

        non_regular_targets(exe, tmp, expect, failures)

        mnt = os.path.join(tmp, "small")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                           capture_output=True, text=True)
        if m.returncode != 0:
            skipped += 2
            print(f"skip tmpfs cases: cannot mount a tmpfs ({m.stderr.strip()})")
        else:
            try:
                old = os.path.join(mnt, "old.db")
                previous = b"previous run's database\n"
                with open(old, "wb") as f:
                    f.write(previous)
                rc, err = run(exe, ["--db", old, "--force", cap])
                expect("db on a full tmpfs", rc, err, r"old\.db.*(full|space|I/O|write)")
                with open(old, "rb") as f:
                    if f.read() != previous:
                        failures.append("db on a full tmpfs: the previous database was changed")
                left = [n for n in os.listdir(mnt) if n != "old.db"]
                if left:
                    failures.append(f"db on a full tmpfs: left behind {left}")
                rc, err = run(exe, ["--json", os.path.join(mnt, "x.json"), cap])
                expect("json on a full tmpfs", rc, err, r"x\.json.*(No space|space left|write)")
            finally:
                subprocess.run(["umount", mnt])
    for f in failures:
        print("FAIL " + f)
    print(f"{ran} cases run, {len(failures)} failed, {skipped} skipped")
    if failures:
        return 1
    return 77 if ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
