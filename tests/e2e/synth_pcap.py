#!/usr/bin/env python3
"""A synthetic capture of many interleaved TCP connections, for tests that
need more output than the samples give (several batches between threads).

Usage as a module: write_corpus(path, n) writes a classic pcap (Ethernet,
microseconds) and returns what it contains by construction:
{"connections": n, "refused": r, "frames": f}.  Connection i (0-based):
client 10.231.X.Y:(20000 + i % 40000) -> server 10.231.250.1:80, starting
1 ms after connection i-1, its segments 0.5 ms apart (so about eight are
open at once).  Every 7th connection is refused (SYN, RST+ACK); the others
do SYN, SYN+ACK, ACK, 100*(1 + i % 3) data bytes from the client, the ACK of
them, FIN+ACK from the client, FIN+ACK from the server, the last ACK (the
client closes first: the server ends in CLOSED, the client in TIME-WAIT).
Python 3 standard library only.
"""
import heapq
import struct
import sys

SERVER = bytes([10, 231, 250, 1])
MAC_C = bytes([2, 0, 0, 0, 0, 1])
MAC_S = bytes([2, 0, 0, 0, 0, 2])
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """Ethernet + IPv4 + TCP with valid checksums."""
    tcp_len = 20 + len(payload)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, tcp_len)
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    to_server = dst == SERVER
    return (MAC_S if to_server else MAC_C) + (MAC_C if to_server else MAC_S) + b"\x08\x00" + ip + tcp


def connection(i):
    """The segments of connection i as (time offset in us, frame bytes)."""
    c = bytes([10, 231, (i >> 8) & 0xFF, i & 0xFF])
    cp, sp = 20000 + i % 40000, 80
    ciss, siss = (i * 7919) & 0xFFFFFFFF, (i * 104729 + 5) & 0xFFFFFFFF
    up = lambda seq, ack, fl, data=b"": frame(c, SERVER, cp, sp, seq, ack, fl, data)
    down = lambda seq, ack, fl: frame(SERVER, c, sp, cp, seq, ack, fl)
    if i % 7 == 6:
        segs = [up(ciss, 0, SYN), down(0, ciss + 1, RST | ACK)]
    else:
        n = 100 * (1 + i % 3)
        c1, s1 = ciss + 1, siss + 1
        segs = [up(ciss, 0, SYN), down(siss, c1, SYN | ACK), up(c1, s1, ACK),
                up(c1, s1, PSH | ACK, bytes(n)), down(s1, c1 + n, ACK),
                up(c1 + n, s1, FIN | ACK), down(s1, c1 + n + 1, FIN | ACK),
                up(c1 + n + 1, s1 + 1, ACK)]
    return [(k * 500, f) for k, f in enumerate(segs)]


def write_corpus(path, n):
    heap = []
    for i in range(n):
        for k, (dt, f) in enumerate(connection(i)):
            heap.append((i * 1000 + dt, i, k, f))
    heapq.heapify(heap)
    frames = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t0 = 1700000000 * 1000000
        while heap:
            us, _, _, f = heapq.heappop(heap)
            t = t0 + us
            out.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(f), len(f)) + f)
            frames += 1
    return {"connections": n, "refused": sum(1 for i in range(n) if i % 7 == 6), "frames": frames}


if __name__ == "__main__":
    print(write_corpus(sys.argv[1], int(sys.argv[2])))
