#!/usr/bin/env python3
"""Client/server socket programs for make_samples.sh (python3 stdlib only).

Each connection runs a small "step script": a comma-separated list of
  send:N        send N bytes (pattern data)
  recv:N        receive exactly N bytes (fails on early EOF)
  eof           receive until EOF (or RST) and report the byte count
  shut          shutdown(SHUT_WR)  -> FIN
  close         close()            -> FIN (or RST with linger0 / unread data)
  linger0       setsockopt SO_LINGER {1,0} (next close sends RST)
  sleep:S       sleep S seconds (float)
  wait:FILE     wait until FILE exists (orchestrator barrier)
  touch:FILE    create FILE
  chunks:N:K:S  send K chunks of N bytes with S seconds between them

  server  --listen ADDR --port P [--conns N] [--tfo] [--rcvbuf BYTES] --steps STEPS
  client  --connect ADDR --port P [--bind ADDR:PORT] [--reuseaddr]
          [--tfo-data N] [--repeat N] [--gap S] [--timeout S]
          [--expect-fail] [--wait FILE] --steps STEPS
  (simultaneous open = two "client"s that bind fixed ports and connect to
   each other at the same moment.)
"""
import argparse, os, socket, struct, sys, time


def log(*a):
    print("[%s %.3f]" % (os.path.basename(sys.argv[0]), time.time()), *a,
          file=sys.stderr, flush=True)


def pattern(n, off=0):
    base = b"tcbscope-sample-data-0123456789\n"
    out = (base * (n // len(base) + 2))
    return out[off % len(base): off % len(base) + n]


def recv_exact(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            raise RuntimeError("EOF after %d of %d bytes" % (got, n))
        got += len(b)
    return got


def recv_eof(s):
    got = 0
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            log("connection reset while reading (after %d bytes)" % got)
            return got
        if not b:
            return got
        got += len(b)


def run_steps(s, steps, sent0=0):
    sent = sent0
    for st in [x for x in steps.split(",") if x]:
        p = st.split(":")
        op = p[0]
        if op == "send":
            n = int(p[1]); s.sendall(pattern(n, sent)); sent += n
        elif op == "recv":
            recv_exact(s, int(p[1]))
        elif op == "eof":
            log("eof after %d bytes" % recv_eof(s))
        elif op == "shut":
            s.shutdown(socket.SHUT_WR)
        elif op == "close":
            s.close()
        elif op == "linger0":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif op == "sleep":
            time.sleep(float(p[1]))
        elif op == "wait":
            while not os.path.exists(p[1]):
                time.sleep(0.001)
        elif op == "touch":
            open(p[1], "w").close()
        elif op == "chunks":
            n, k, gap = int(p[1]), int(p[2]), float(p[3])
            for i in range(k):
                s.sendall(pattern(n, sent)); sent += n
                if i != k - 1:
                    time.sleep(gap)
        else:
            raise SystemExit("unknown step " + st)
        log("step", st, "done")


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def split_hostport(hp):
    host, _, port = hp.rpartition(":")
    return host.strip("[]"), int(port)


def server(a):
    s = socket.socket(family(a.listen), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.tfo:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    if a.rcvbuf:  # set before listen(): accepted sockets inherit it and the window scale
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind((a.listen, a.port))
    s.listen(16)
    log("listening on", a.listen, a.port)
    if a.ready:
        open(a.ready, "w").close()
    for i in range(a.conns):
        c, peer = s.accept()
        log("accepted", peer)
        run_steps(c, a.steps)
        try:
            c.close()
        except OSError:
            pass
    s.close()


def client(a):
    if a.wait:
        while not os.path.exists(a.wait):
            time.sleep(0.001)
    for i in range(a.repeat):
        if i:
            time.sleep(a.gap)
        s = socket.socket(family(a.connect), socket.SOCK_STREAM)
        if a.reuseaddr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if a.bind:
            s.bind(split_hostport(a.bind))
        if not a.tfo_data:   # MSG_FASTOPEN needs a blocking socket
            s.settimeout(a.timeout)
        dst = (a.connect, a.port)
        sent0 = 0
        try:
            if a.tfo_data:
                data = pattern(a.tfo_data)
                n = s.sendto(data, socket.MSG_FASTOPEN, dst)
                if n < len(data):
                    s.sendall(data[n:])
                sent0 = len(data)
                log("MSG_FASTOPEN sendto returned", n)
            else:
                s.connect(dst)
        except OSError as e:
            log("connect failed:", repr(e))
            s.close()
            if a.expect_fail:
                continue
            raise SystemExit(1)
        s.settimeout(None)
        log("connected", s.getsockname(), "->", dst)
        run_steps(s, a.steps, sent0)
        try:
            s.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    sv = sub.add_parser("server")
    sv.add_argument("--listen", required=True)
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--conns", type=int, default=1)
    sv.add_argument("--tfo", action="store_true")
    sv.add_argument("--rcvbuf", type=int, default=0)
    sv.add_argument("--ready")
    sv.add_argument("--steps", default="")
    cl = sub.add_parser("client")
    cl.add_argument("--connect", required=True)
    cl.add_argument("--port", type=int, default=8080)
    cl.add_argument("--bind")
    cl.add_argument("--reuseaddr", action="store_true")
    cl.add_argument("--tfo-data", type=int, default=0)
    cl.add_argument("--repeat", type=int, default=1)
    cl.add_argument("--gap", type=float, default=0.5)
    cl.add_argument("--timeout", type=float, default=20.0)
    cl.add_argument("--expect-fail", action="store_true")
    cl.add_argument("--wait", help="wait until this file exists before connecting")
    cl.add_argument("--steps", default="")
    a = ap.parse_args()
    server(a) if a.role == "server" else client(a)


if __name__ == "__main__":
    main()
