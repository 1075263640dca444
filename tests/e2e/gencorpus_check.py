#!/usr/bin/env python3
"""The corpus generator (bench/gencorpus) is deterministic and its truth file
describes the pcap it wrote.

Usage: gencorpus_check.py GENCORPUS [--connections N] [--seed S]

1. The same arguments twice give byte-identical pcap and truth; another seed
   gives another pcap.
2. The pcap, read here with struct (not with tcbscope): classic µs pcap,
   Ethernet, the snaplen asked for, every caplen <= snaplen and <= the frame
   length, timestamps never decreasing, and as many frames as the truth's
   `packets` add up to.  The truth has one line per connection, ids in order,
   and the variant counts of the documented mix (fractions of N, mid-stream
   capped at concurrency/2).
3. With tshark installed: `-z conv,tcp` finds exactly the truth's
   connections, each (endpoint pair, frames) as in the truth; on a corpus
   without snaplen every IPv4 and TCP checksum is good.  Without tshark these
   checks are skipped (and say so).
Exits 1 on any failure.
"""
import argparse
import collections
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MIX = {"rst": 0.05, "refused": 0.03, "noanswer": 0.02, "simopen": 0.01, "simclose": 0.01, "midstream": 0.03}
CONCURRENCY = 3000  # the generator's default


def generate(gen, d, name, n, seed, snaplen=None):
    """Runs the generator; returns (pcap path, truth path)."""
    pcap, truth = os.path.join(d, name + ".pcap"), os.path.join(d, name + ".truth.jsonl")
    args = [gen, "--connections", str(n), "--seed", str(seed), "--out", pcap, "--truth", truth, "--quiet"]
    if snaplen:
        args += ["--snaplen", str(snaplen)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return pcap, truth


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_pcap(path):
    """(snaplen, linktype, frames, problems) of a classic little-endian pcap."""
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    magic, vmaj, vmin, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if (magic, vmaj, vmin) != (0xA1B2C3D4, 2, 4):
        problems.append("not a µs pcap 2.4 (magic %#x, version %d.%d)" % (magic, vmaj, vmin))
    off, frames, last = 24, 0, (0, 0)
    while off + 16 <= len(data):
        sec, usec, caplen, length = struct.unpack_from("<IIII", data, off)
        if usec >= 1000000 or caplen > snaplen or caplen > length or off + 16 + caplen > len(data):
            problems.append("bad record header at offset %d" % off)
            break
        if (sec, usec) < last:
            problems.append("timestamp goes back at frame %d" % (frames + 1))
        last = (sec, usec)
        frames += 1
        off += 16 + caplen
    if off != len(data) and not problems:
        problems.append("%d trailing bytes" % (len(data) - off))
    return snaplen, linktype, frames, problems


def tshark_conversations(pcap):
    """Counter of (endpoint pair, frames) from tshark's TCP conversation table."""
    out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "conv,tcp"], check=True,
                         capture_output=True, text=True).stdout
    conv = collections.Counter()
    for line in out.splitlines():
        t = line.split()
        if len(t) > 9 and t[1] == "<->":
            a, b = t[0].rsplit(":", 1), t[2].rsplit(":", 1)
            conv[(frozenset([(a[0], int(a[1])), (b[0], int(b[1]))]), int(t[9]))] += 1
    return conv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gen")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    n = a.connections
    fails = []

    def check(ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            fails.append(what)

    d = tempfile.mkdtemp(prefix="tcbs-gen-")
    try:
        p1, t1 = generate(a.gen, d, "a", n, a.seed, 128)
        p2, t2 = generate(a.gen, d, "b", n, a.seed, 128)
        p3, _ = generate(a.gen, d, "c", n, a.seed + 1, 128)
        check(sha(p1) == sha(p2) and sha(t1) == sha(t2),
              "same arguments twice: pcap and truth byte-identical (sha256 %s)" % sha(p1)[:16])
        check(sha(p1) != sha(p3), "another seed: another pcap")

        snaplen, linktype, frames, problems = read_pcap(p1)
        check(not problems, "pcap records well formed and in time order%s" % (
            "" if not problems else ": " + "; ".join(problems[:3])))
        check(snaplen == 128 and linktype == 1, "snaplen 128, Ethernet (got %d, linktype %d)" % (snaplen, linktype))
        truth = [json.loads(x) for x in open(t1)]
        check(len(truth) == n and [t["id"] for t in truth] == list(range(n)),
              "one truth line per connection, ids 0..%d in order (%d lines)" % (n - 1, len(truth)))
        want_pk = sum(t["packets"] for t in truth)
        check(frames == want_pk, "pcap frames %d = sum of truth packets %d" % (frames, want_pk))
        got = collections.Counter(t["variant"] for t in truth)
        want = {k: int(round(f * n)) for k, f in MIX.items()}
        want["midstream"] = min(want["midstream"], CONCURRENCY // 2)
        want["fin"] = n - sum(want.values())
        check(dict(got) == want, "variant counts as documented: %s" % dict(sorted(got.items())))

        if shutil.which("tshark") is None:
            print("skip tshark not installed: conversation and checksum checks not run")
        else:
            conv = tshark_conversations(p1)
            tr = collections.Counter((frozenset([tuple(t["client"]), tuple(t["server"])]), t["packets"])
                                     for t in truth)
            check(sum(conv.values()) == n, "tshark conv,tcp: %d conversations, truth %d" % (sum(conv.values()), n))
            check(conv == tr, "tshark conv,tcp: every (endpoint pair, frames) as in the truth (%d differ)"
                  % sum(((conv - tr) + (tr - conv)).values()))
            pf, _ = generate(a.gen, d, "full", 300, a.seed)
            st = subprocess.run(["tshark", "-r", pf, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                                 "-T", "fields", "-e", "tcp.checksum.status", "-e", "ip.checksum.status"],
                                check=True, capture_output=True, text=True).stdout
            status = collections.Counter(st.split())
            check(status and set(status) == {"1"}, "tshark: every TCP and IPv4 checksum good without snaplen "
                  "(status counts %s; 1 = good)" % dict(status))
    finally:
        shutil.rmtree(d)
    print("%d failure(s)" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
