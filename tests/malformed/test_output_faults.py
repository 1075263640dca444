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
  - --db in a directory that does not exist: exit 3 before any work.
The tmpfs cases need mount(2) (root); without it they are reported skipped
(exit 77 when nothing else ran).  Python 3 standard library only.
"""
import os
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile


def write_syns(path, n):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i in range(n):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                             struct.pack("!I", (10 << 24) + i), bytes([192, 0, 2, 1]))
            tcp = struct.pack("!HHIIBBHHH", 1024 + i % 60000, 80, i, 0, 0x50, 0x02, 64240, 0, 0)
            f.write(struct.pack("<IIII", 1700000000, i % 1000000, 40, 40) + ip + tcp)


def run(exe, args):
    p = subprocess.run([exe, "analyze", "--quiet"] + args, capture_output=True, text=True,
                       errors="replace", timeout=300)
    return p.returncode, p.stderr


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
