#!/usr/bin/env python3
"""Rewrite the link-layer header / file byte order of classic pcap files
(python3 stdlib only).  Packet contents above the link layer are copied
byte for byte; timestamps are kept (microsecond or nanosecond, as in input).

  relink.py --to ipv4|ipv6|null|loop|raw|swap -o OUT IN [IN ...]

Inputs must be classic pcap with linktype EN10MB (1) or RAW (101).
Several inputs are merged in timestamp order.

  ipv4  -> LINKTYPE_IPV4 (228): Ethernet header stripped, IPv4 frames only
  ipv6  -> LINKTYPE_IPV6 (229): Ethernet header stripped, IPv6 frames only
  null  -> DLT_NULL (0): 4-byte AF header in the file's (little-endian)
           byte order: 2 = AF_INET, 24 = AF_INET6 (BSD value)
  loop  -> DLT_LOOP (108): 4-byte AF header in network byte order (2 / 24)
  raw   -> LINKTYPE_RAW (101): Ethernet header stripped, IPv4+IPv6 frames
  swap  -> same linktype and frames, file written in big-endian byte order
Non-IP frames (ARP, ...) are dropped for every mode except swap.
Caplen and original length are reduced by the removed header size and
increased by the added one.
"""
import argparse, struct, sys

MAGIC_US, MAGIC_NS = 0xa1b2c3d4, 0xa1b23c4d


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    m = struct.unpack("<I", data[:4])[0]
    if m in (MAGIC_US, MAGIC_NS):
        e = "<"
    else:
        e = ">"
        m = struct.unpack(">I", data[:4])[0]
        if m not in (MAGIC_US, MAGIC_NS):
            raise SystemExit("%s: not a classic pcap" % path)
    _, vmaj, vmin, tz, sig, snap, lt = struct.unpack(e + "IHHiIII", data[:24])
    off, pkts = 24, []
    while off + 16 <= len(data):
        s, frac, cap, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkts.append((s, frac, orig, data[off + 16: off + 16 + cap]))
        off += 16 + cap
    return m, snap, lt, pkts


def ip_payload(lt, frame):
    """Return (ethertype-ish version, bytes-from-IP-header, removed-hdr-len)."""
    if lt == 101:
        if not frame:
            return None, None, 0
        v = frame[0] >> 4
        return v, frame, 0
    if lt == 1:
        off = 12
        et = struct.unpack("!H", frame[off:off + 2])[0]
        while et in (0x8100, 0x88a8):
            off += 4
            et = struct.unpack("!H", frame[off:off + 2])[0]
        off += 2
        v = {0x0800: 4, 0x86dd: 6}.get(et)
        return v, frame[off:], off
    raise SystemExit("unsupported input linktype %d" % lt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True,
                    choices=["ipv4", "ipv6", "null", "loop", "raw", "swap"])
    ap.add_argument("-o", required=True)
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    allp, magic, snap, lt0 = [], None, 0, None
    for p in a.inputs:
        m, sn, lt, pkts = read_pcap(p)
        if magic is not None and m != magic:
            raise SystemExit("mixed timestamp precision")
        magic, snap, lt0 = m, max(snap, sn), lt
        allp += [(x, lt) for x in pkts]
    allp.sort(key=lambda t: (t[0][0], t[0][1]))
    out_lt = {"ipv4": 228, "ipv6": 229, "null": 0, "loop": 108, "raw": 101,
              "swap": lt0}[a.to]
    e = ">" if a.to == "swap" else "<"
    buf = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snap, out_lt)]
    n = 0
    for (s, frac, orig, frame), lt in allp:
        if a.to == "swap":
            body, hdr, removed = frame, b"", 0
        else:
            v, body, removed = ip_payload(lt, frame)
            if v not in (4, 6):
                continue
            if (a.to == "ipv4" and v != 4) or (a.to == "ipv6" and v != 6):
                continue
            af = 2 if v == 4 else 24
            hdr = {"null": struct.pack("<I", af), "loop": struct.pack(">I", af)
                   }.get(a.to, b"")
        pkt = hdr + body
        buf.append(struct.pack(e + "IIII", s, frac, len(pkt),
                               orig - removed + len(hdr)) + pkt)
        n += 1
    with open(a.o, "wb") as f:
        f.write(b"".join(buf))
    print("%s: %d frames, linktype %d" % (a.o, n, out_lt), file=sys.stderr)


if __name__ == "__main__":
    main()
