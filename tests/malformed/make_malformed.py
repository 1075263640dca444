#!/usr/bin/env python3
"""Write the hand-made malformed captures of tests/malformed/ and what each must give.

Usage: make_malformed.py [OUTDIR]   (default: the captures/ directory beside this script)

Each capture is built byte by byte below; the expectation written beside it
in expected.json comes from that construction, never from tcbscope's output:
  exit     tcbscope's exit status (0 ok, 2 input error)
  run      keys of the `run` table of --db that must have these values
           (every skipped.* key not named must be 0)
  stderr   regular expressions stderr must match (warnings the user must see)
  db       false when no database may be written (the input was refused)
  files    the captures to give, in order (default: the one named by the key)
Python 3 standard library only; the output is deterministic.
"""
import json
import os
import struct
import sys

ETH_IP4 = 0x0800
ETH_IP6 = 0x86DD
LINKTYPE_EN10MB = 1
TS0 = 1700000000  # capture time of the first frame (seconds)

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def tcp(sport=40000, dport=80, seq=1000, ack=0, flags=SYN, doff=None, opts=b"", payload=b""):
    if doff is None:
        assert len(opts) % 4 == 0
        doff = 5 + len(opts) // 4
    return (struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0)
            + opts + payload)


def ipv4(seg, ihl=5, total=None, proto=6, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    opts = b"\x01" * (max(ihl, 5) * 4 - 20)
    if total is None:
        total = 20 + len(opts) + len(seg)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0x4000, 64, proto, 0, src, dst)
    return hdr + opts + seg


def ipv6(next_hdr, payload, plen=None):
    if plen is None:
        plen = len(payload)
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    return struct.pack("!IHBB", 0x60000000, plen, next_hdr, 64) + src + dst + payload


def eth(payload, ethertype=ETH_IP4):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", ethertype) + payload


def pcap_header(snaplen=65535, linktype=LINKTYPE_EN10MB, magic=0xA1B2C3D4, major=2, minor=4):
    return struct.pack("<IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def record(frame, ts=0.0, caplen=None, wirelen=None, data=None):
    """One record: frame bytes, its time offset from TS0, and optionally lying lengths."""
    if data is None:
        data = frame
    sec = TS0 + int(ts)
    usec = int(round((ts - int(ts)) * 1e6))
    if sec < 0:
        sec, usec = 0, 0
    return struct.pack("<IIII", sec, usec, len(frame) if caplen is None else caplen,
                       len(frame) if wirelen is None else wirelen) + data


def good(i=0, flags=SYN, ts=None):
    """A plain TCP segment (a SYN of connection i)."""
    return record(eth(ipv4(tcp(sport=40000 + i, flags=flags))), ts=i * 0.001 if ts is None else ts)


def build():
    """Yield (file name, bytes, expectation) for every case."""
    # --- file level: the input is refused (exit 2), no database is written.
    yield ("bad-magic.pcap", struct.pack("<I", 0xDEADBEEF) + pcap_header()[4:] + good(),
           {"exit": 2, "db": False, "stderr": ["bad-magic\\.pcap"]})
    yield ("wrong-version.pcap", pcap_header(major=1, minor=0) + good(),
           {"exit": 2, "db": False, "stderr": ["wrong-version\\.pcap"]})
    yield ("short-header.pcap", pcap_header()[:10],
           {"exit": 2, "db": False, "stderr": ["short-header\\.pcap"]})
    yield ("empty.pcap", b"", {"exit": 2, "db": False, "stderr": ["empty\\.pcap"]})

    # --- header fields out of range that libpcap and we must live with.
    three = good(0) + good(1) + good(2)
    yield ("snaplen-0.pcap", pcap_header(snaplen=0) + three,
           {"exit": 0, "run": {"frames": 3, "tcp_segments": 3, "engine.connections": 3}})
    yield ("snaplen-huge.pcap", pcap_header(snaplen=0xFFFFFFFF) + three,
           {"exit": 0, "run": {"frames": 3, "tcp_segments": 3, "engine.connections": 3}})

    # caplen > the file's snaplen (64): libpcap keeps at most snaplen bytes of
    # the record and stays in step; the TCP header is within the first 54.
    big = eth(ipv4(tcp(sport=40000, flags=ACK, payload=b"x" * 40)))  # 94 bytes
    yield ("caplen-over-snaplen.pcap", pcap_header(snaplen=64) + record(big) + good(1, ts=0.002),
           {"exit": 0, "run": {"frames": 2, "tcp_segments": 2, "engine.connections": 2}})

    # caplen past any link type's maximum (256 KiB): a damaged record; the frame
    # before it is kept, the rest of the file skipped, the user warned.
    yield ("caplen-over-max.pcap",
           pcap_header() + good(0) + record(b"", caplen=0x7FFFFFFF, wirelen=60, data=b"\0" * 60)
           + good(1),
           {"exit": 0, "run": {"frames": 1, "tcp_segments": 1},
            "stderr": ["caplen-over-max\\.pcap.*(capture length|caplen)"]})

    # caplen > wirelen: the wire length is a lie, the captured bytes are used.
    f = eth(ipv4(tcp()))
    yield ("caplen-over-len.pcap", pcap_header() + record(f, wirelen=len(f) - 20),
           {"exit": 0, "run": {"frames": 1, "tcp_segments": 1}})

    # A record whose data runs past the end of the file: frames before it kept.
    yield ("record-past-eof.pcap", pcap_header() + good(0) + good(1) + record(b"\0" * 100, data=b"\0" * 10),
           {"exit": 0, "run": {"frames": 2, "tcp_segments": 2},
            "stderr": ["record-past-eof\\.pcap.*truncated"]})
    yield ("record-header-past-eof.pcap", pcap_header() + good(0) + good(1) + good(2)[:8],
           {"exit": 0, "run": {"frames": 2, "tcp_segments": 2},
            "stderr": ["record-header-past-eof\\.pcap.*truncated"]})

    # Timestamps going backwards inside one file: every frame still analysed,
    # one connection (SYN, SYN/ACK, ACK, data) despite the clock.
    c = lambda fl, ts, seq=1000, ack=0, rev=False: record(
        eth(ipv4(tcp(sport=80 if rev else 40000, dport=40000 if rev else 80, seq=seq, ack=ack,
                     flags=fl),
                 src=b"\x0a\x00\x00\x02" if rev else b"\x0a\x00\x00\x01",
                 dst=b"\x0a\x00\x00\x01" if rev else b"\x0a\x00\x00\x02")), ts=ts)
    back = (c(SYN, 10.0) + c(SYN | ACK, 5.0, seq=5000, ack=1001, rev=True)
            + c(ACK, 2.0, seq=1001, ack=5001) + c(ACK | FIN, 1.0, seq=1001, ack=5001))
    yield ("ts-backwards.pcap", pcap_header() + back,
           {"exit": 0, "run": {"frames": 4, "tcp_segments": 4, "engine.connections": 1}})
    # ... and between two files: warned once.
    yield ("ts-later.pcap", pcap_header() + good(0, ts=100.0) + good(1, ts=101.0), None)
    yield ("ts-earlier.pcap", pcap_header() + good(2, ts=1.0) + good(3, ts=2.0),
           {"files": ["ts-later.pcap", "ts-earlier.pcap"], "exit": 0,
            "run": {"frames": 4, "tcp_segments": 4, "files": 2},
            "stderr": ["ts-earlier\\.pcap.*timestamps go back"]})

    # Zero-length frames (caplen 0; wire length 0 and 60).
    z = record(b"") + record(b"", ts=0.001) + record(b"", wirelen=60, ts=0.002)
    yield ("zero-length.pcap", pcap_header() + z + good(3, ts=0.003),
           {"exit": 0, "run": {"frames": 4, "tcp_segments": 1, "skipped.link_truncated": 3}})

    # IPv4 IHL 0..4 (the datagram is otherwise a fine SYN).
    frames = b"".join(record(eth(ipv4(tcp(), ihl=i)), ts=i * 0.001) for i in range(5))
    yield ("ipv4-ihl-below-5.pcap", pcap_header() + frames,
           {"exit": 0, "run": {"frames": 5, "tcp_segments": 0, "skipped.ipv4_bad_ihl": 5}})

    # IPv4 total length 0, below the header, beyond the frame (all on the wire),
    # then two that are fine: Ethernet padding after the datagram, and a
    # snaplen cut (the wire had the whole datagram).  Length 0 is what TSO /
    # BIG TCP hand tcpdump on the sender: the frame's length is used (as
    # tshark does), so that SYN is a segment.
    seg = tcp()
    bad = [ipv4(seg, total=0), ipv4(seg, total=19), ipv4(seg, total=40 + 100)]
    recs = b"".join(record(eth(d), ts=i * 0.001) for i, d in enumerate(bad))
    padded = eth(ipv4(tcp(sport=40001), total=40) + b"\0" * 6)
    cut = eth(ipv4(tcp(sport=40002, flags=ACK), total=1500))  # only 54 bytes captured
    recs += record(padded, ts=0.01) + record(cut, wirelen=14 + 1500, ts=0.02)
    yield ("ipv4-total-length.pcap", pcap_header() + recs,
           {"exit": 0, "run": {"frames": 5, "tcp_segments": 3, "skipped.ip_bad_length": 2}})

    # IPv6 extension chains: destination options (60) pointing at another one
    # until the data ends (5 headers, the payload length says exactly that),
    # and 40 of them (past the dissector's limit), each 8 bytes.
    dst_opt = bytes([60, 0]) + b"\x01\x04\0\0\0\0"  # next = 60, 8 bytes, PadN
    f1 = eth(ipv6(60, dst_opt * 5), ETH_IP6)
    f2 = eth(ipv6(60, dst_opt * 40 + tcp()), ETH_IP6)
    yield ("ipv6-ext-loop.pcap", pcap_header() + record(f1) + record(f2, ts=0.001),
           {"exit": 0, "run": {"frames": 2, "tcp_segments": 0, "ipv6": 2,
                               "skipped.ipv6_ext_truncated": 2}})

    # TCP data offset 0..4, and 15 (60 bytes) in a 20-byte segment.
    frames = b"".join(record(eth(ipv4(tcp(doff=d))), ts=d * 0.001) for d in range(5))
    frames += record(eth(ipv4(tcp(doff=15))), ts=0.01)
    yield ("tcp-offset-bad.pcap", pcap_header() + frames,
           {"exit": 0, "run": {"frames": 6, "tcp_segments": 0, "skipped.tcp_bad_offset": 6}})

    # TCP options with length 0 and 1 (MSS kind 2 and wscale kind 3): the
    # segment is still used, the option parse stops and is counted odd.
    o0 = b"\x02\x00\x05\xb4"
    o1 = b"\x03\x01\x07\x01"
    frames = (record(eth(ipv4(tcp(sport=40000, opts=o0))))
              + record(eth(ipv4(tcp(sport=40001, opts=o1))), ts=0.001)
              + record(eth(ipv4(tcp(sport=40002, opts=b"\x01\x01\x00\x00"))), ts=0.002))
    yield ("tcp-opt-len-0-1.pcap", pcap_header() + frames,
           {"exit": 0, "run": {"frames": 3, "tcp_segments": 3, "opt_malformed": 2,
                               "engine.connections": 3}})

    # A 65535-byte jumbo frame (IPv4 total 65521, 65481 bytes of TCP payload).
    jumbo = eth(ipv4(tcp(flags=ACK | PSH, payload=b"J" * (65535 - 14 - 40))))
    assert len(jumbo) == 65535
    yield ("jumbo-65535.pcap", pcap_header(snaplen=65535) + record(jumbo),
           {"exit": 0, "run": {"frames": 1, "tcp_segments": 1, "bytes": 65535}})


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "captures")
    os.makedirs(out, exist_ok=True)
    expected = {}
    for name, data, exp in build():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        if exp is not None:
            expected[name] = exp
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
