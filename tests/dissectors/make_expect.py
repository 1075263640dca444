#!/usr/bin/env python3
"""Write the expected decodes of the Zeek conformance traces, from tshark.

Usage: make_expect.py TRACEDIR > expect-zeek.tsv
One line per frame: file, frame number, then "-" when tshark sees no TCP
segment (ARP, UDP, ICMP quoting TCP, ...) or:
  sport dport seq ack flags payload_len csum vlan0 vlan1
where flags are the 9 flag bits (reserved bits are a DIS_ODD_* finding in
tcbscope, not flags), payload_len comes from the IP header's own length
(IPv4: ip.len - ip.hdr_len - tcp.hdr_len; tshark's tcp.len trusts a
PPPoE length instead, and the TCP checksum shows IP is right), and csum is
tshark's verdict with checksum checks on: good / bad_ip / bad_tcp /
unchecked (segment not whole in the capture), or "*" where tshark
checked a different length than IP's.  Run by hand when traces change;
test_dis_replay compares dis_decode() with the file.
"""
import os
import subprocess
import sys

FIELDS = ["frame.number", "frame.protocols", "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
          "tcp.ack_raw", "tcp.flags", "tcp.len", "tcp.hdr_len", "ip.len", "ip.hdr_len",
          "ip.checksum.status", "tcp.checksum.status", "vlan.id"]


def main():
    d = sys.argv[1]
    names = sorted(n for n in os.listdir(d) if n.endswith((".pcap", ".pcapng")))
    for name in names:
        cmd = ["tshark", "-n", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
               "-o", "tcp.analyze_sequence_numbers:FALSE", "-r", os.path.join(d, name),
               "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for f in FIELDS:
            cmd += ["-e", f]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            v = dict(zip(FIELDS, line.split("\t")))
            vlans = v["vlan.id"]
            v = {k: x.split(",")[0] for k, x in v.items()}
            protos = v["frame.protocols"].split(":")
            if "tcp" not in protos or "icmp" in protos or "icmpv6" in protos or \
                    protos.count("ip") + protos.count("ipv6") != 1:
                print("%s\t%s\t-" % (name, v["frame.number"]))
                continue
            flags = int(v["tcp.flags"], 16) & 0x1ff
            plen = int(v["tcp.len"])
            csum = {"0": "bad_tcp", "1": "good"}.get(v["tcp.checksum.status"], "unchecked")
            if v["ip.len"]:
                ip_plen = int(v["ip.len"]) - int(v["ip.hdr_len"]) - int(v["tcp.hdr_len"])
                if ip_plen != plen:
                    plen, csum = ip_plen, "*"
                if v["ip.checksum.status"] == "0":
                    csum = "bad_ip"
            vl = (vlans.split(",") + ["0", "0"])[:2] if vlans else ["0", "0"]
            print("\t".join([name, v["frame.number"], v["tcp.srcport"], v["tcp.dstport"],
                             v["tcp.seq_raw"], v["tcp.ack_raw"], "%d" % flags, "%d" % plen, csum,
                             vl[0], vl[1]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
