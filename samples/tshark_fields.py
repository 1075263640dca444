#!/usr/bin/env python3
"""Per-connection values tshark computes for the sample captures, written as
samples/tshark-fields.tsv for tests/e2e/check_samples.py (python3 stdlib; needs tshark).

    python3 samples/tshark_fields.py samples/*.pcap samples/*.pcapng > samples/tshark-fields.tsv

One row per capture and TCP endpoint pair (every stream of the pair summed, so
the incarnations of one 4-tuple count together), endpoints as tshark prints
them (a = the lower "addr:port" text), per direction a->b and b->a:
  ip_bytes   sum of the innermost IP header's length: ip.len, or ipv6.plen + 40
  zero_win   frames tshark flags tcp.analysis.zero_window
  dup_ack    frames tshark flags tcp.analysis.duplicate_ack
"""
import subprocess
import sys

FIELDS = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "ip.len",
          "ipv6.plen", "tcp.analysis.zero_window", "tcp.analysis.duplicate_ack"]


def endpoint(ip, port):
    return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)


def rows(path):
    cmd = ["tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "occurrence=l",
           "-o", "tcp.analyze_sequence_numbers:TRUE"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
                         universal_newlines=True).stdout
    pairs = {}
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        if v["ip.src"] and v["ipv6.src"]:
            raise SystemExit("%s: IPv4 and IPv6 in one frame: innermost unknown" % path)
        src = endpoint(v["ip.src"] or v["ipv6.src"], v["tcp.srcport"])
        dst = endpoint(v["ip.dst"] or v["ipv6.dst"], v["tcp.dstport"])
        iplen = int(v["ip.len"]) if v["ip.len"] else int(v["ipv6.plen"]) + 40
        a, b = sorted([src, dst])
        d = 0 if src == a else 1
        acc = pairs.setdefault((a, b), [0] * 6)
        acc[d] += iplen
        acc[2 + d] += bool(v["tcp.analysis.zero_window"])
        acc[4 + d] += bool(v["tcp.analysis.duplicate_ack"])
    return pairs


def main():
    print("# tshark -r F -Y tcp -T fields -E occurrence=l -e " + " -e ".join(FIELDS) +
          "; summed per endpoint pair by samples/tshark_fields.py")
    print("\t".join(["file", "a", "b", "ip_bytes_ab", "ip_bytes_ba", "zero_win_ab", "zero_win_ba",
                     "dup_ack_ab", "dup_ack_ba"]))
    for path in sys.argv[1:]:
        name = path.rsplit("/", 1)[-1]
        for (a, b), acc in sorted(rows(path).items()):
            print("\t".join([name, a, b] + [str(x) for x in acc]))


if __name__ == "__main__":
    main()
