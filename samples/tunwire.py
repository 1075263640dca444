#!/usr/bin/env python3
"""Userspace "wire" between two tun/tap devices living in two network
namespaces (python3 stdlib only; needs root).

Used by make_samples.sh where the kernel lacks a feature:
  * tun mode (IFF_TUN|IFF_NO_PI): gives a RAW (linktype 101) capture point.
  * --delay MS: one-way delay (tc netem is not available in this kernel);
    used to make SYNs cross for the simultaneous-open sample.
  * --drop-ba LEN: drop the first frame going from b to a whose IPv4 total
    length is LEN (tap mode), once: a segment lost on the wire before a tap
    in a's namespace, so the tap sees its retransmission fill a hole.
  * --mirror NS:IF --vlan ID [--svlan ID]: tap mode only.  This kernel has no
    802.1Q support (CONFIG_VLAN_8021Q unset, no bridge vlan filtering), so the
    wire itself behaves as a VLAN trunk: every frame it carries between the two
    endpoints is also written, with an 802.1Q tag (and an outer 802.1ad tag
    when --svlan is given) inserted after the MAC addresses, into a third tap
    device in a monitor namespace, where tcpdump captures it.

The devices are created by this process (non-persistent), so they vanish when
it exits.  Prints "ready" on stdout once all devices exist.
"""
import argparse, ctypes, fcntl, os, select, signal, struct, sys, time, heapq

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(name):
    fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns " + name)
    os.close(fd)


def open_dev(spec, flags):
    ns, ifname = spec.split(":")
    setns(ns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(), flags))
    os.set_blocking(fd, False)
    return fd


def tag(frame, vid, tpid):
    return frame[:12] + struct.pack("!HH", tpid, vid & 0x0fff) + frame[12:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["tun", "tap"], default="tun")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--delay", type=float, default=0.0, help="one-way delay, ms")
    ap.add_argument("--mirror", help="NS:IF tap receiving tagged copies")
    ap.add_argument("--vlan", type=int, default=100)
    ap.add_argument("--svlan", type=int, help="outer 802.1ad tag (QinQ)")
    ap.add_argument("--drop-ba", type=int, help="drop the first b->a frame of this IPv4 length")
    args = ap.parse_args()
    flags = (IFF_TUN if args.mode == "tun" else IFF_TAP) | IFF_NO_PI
    fa = open_dev(args.a, flags)
    fb = open_dev(args.b, flags)
    fm = open_dev(args.mirror, IFF_TAP | IFF_NO_PI) if args.mirror else None
    peer = {fa: fb, fb: fa}
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("ready", flush=True)
    delay = args.delay / 1000.0
    drop_ba = args.drop_ba
    q = []  # (due, seq, outfd, frame)
    seq = 0
    while True:
        timeout = None
        if q:
            timeout = max(0.0, q[0][0] - time.monotonic())
        r, _, _ = select.select([fa, fb], [], [], timeout)
        now = time.monotonic()
        for fd in r:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if fm is not None and len(pkt) >= 14:
                    t = tag(pkt, args.vlan, 0x8100)
                    if args.svlan is not None:
                        t = tag(t, args.svlan, 0x88a8)
                    try:
                        os.write(fm, t)
                    except OSError:
                        pass
                if (drop_ba is not None and fd == fb and args.mode == "tap" and len(pkt) >= 18 and
                        pkt[12:14] == b"\x08\x00" and struct.unpack("!H", pkt[16:18])[0] == drop_ba):
                    drop_ba = None  # once
                    continue
                seq += 1
                heapq.heappush(q, (now + delay, seq, peer[fd], pkt))
        now = time.monotonic()
        while q and q[0][0] <= now:
            _, _, out, pkt = heapq.heappop(q)
            try:
                os.write(out, pkt)
            except OSError:
                pass


if __name__ == "__main__":
    main()
