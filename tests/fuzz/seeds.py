#!/usr/bin/env python3
"""Write a libFuzzer seed corpus from capture files (classic pcap and pcapng).

Usage: seeds.py OUTDIR MAX FILE...
Each frame becomes one file: a link-type selector byte (its index in
fuzz_dissect.c's table) followed by the captured bytes.  Frames of link
types the dissector does not decode are left out.  Stops after MAX seeds,
spreading them over the files.  Python 3 standard library only.
"""
import hashlib
import os
import struct
import sys

# Same order as fuzz_linktypes[] in fuzz_dissect.c.
LINKTYPES = [0, 1, 101, 12, 108, 113, 228, 229, 276, 9, 50, 104, 226, 239, 242, 258]


def pcap_frames(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    if len(data) < 24:
        return
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if caplen > len(data) - off:
            return
        yield linktype, data[off:off + caplen]
        off += caplen


def pcapng_frames(data):
    off = 0
    e = "<"
    iface_lt = []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            iface_lt = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            iface_lt.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifid, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            if ifid < len(iface_lt) and caplen <= len(body) - 20:
                yield iface_lt[ifid], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and iface_lt:
            yield iface_lt[0], body[4:]
        off += blen


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return pcapng_frames(data)
    return pcap_frames(data)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: seeds.py OUTDIR MAX FILE...\n")
        return 2
    out, cap, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    per_file = max(1, cap // max(1, len(files)))
    written = 0
    for path in files:
        n = 0
        try:
            for lt, frame in frames(path):
                if written >= cap or n >= per_file:
                    break
                if lt not in LINKTYPES:
                    continue
                seed = bytes([LINKTYPES.index(lt)]) + frame
                name = hashlib.sha1(seed).hexdigest()
                with open(os.path.join(out, name), "wb") as f:
                    f.write(seed)
                n += 1
                written += 1
        except (OSError, struct.error) as exc:
            sys.stderr.write("seeds.py: %s: %s\n" % (path, exc))
    print("seeds.py: %d seeds in %s" % (written, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
