#!/usr/bin/env python3
"""`tcbscope report DB -o FILE` end to end, rendered in headless Chromium.

Builds a database from bundled samples (one of them copied under a name full
of HTML metacharacters), then checks:
- the command: -o required (1), not a database (2), an existing file refused
  without --force and left as it was (3), --force, "-o -", /dev/full and a
  missing directory (3), no temporary file left, nothing fetched from outside;
- in the DOM Chromium rendered (--dump-dom): the figures and the count tables
  equal what SQL says of the database, p50/p90/p99 of every server equal a
  nearest-rank computation in SQL, the histogram holds every complete
  handshake, the capture name shows as text (escaped, no element injected),
  the slowest handshake is synack-lost's, rst-abort's connection is among the
  resets, and the ladder of simultaneous-open.pcap shows RFC 9293 Figure 8:
  crossing SYNs, then SYN/ACKs, each side CLOSED -> SYN-SENT -> SYN-RECEIVED ->
  ESTABLISHED, then the close its script did (A closes first: A ends in
  TIME-WAIT, B in CLOSED), in the order of the transitions table;
- that rendering logs no console error (a page with a script error is run
  first to show the check sees one), and that a screenshot PNG is written and
  shows a drawn page (decoded here: many non-white pixels, many colours).

Chromium missing: the browser checks are skipped (exit 77, naming chromium);
tests/deps.sh installs it, so CI runs them.

Usage: test_report.py TCBSCOPE SAMPLES_DIR [CHROMIUM]  (default /usr/bin/chromium; "" = none)
"""
import html.parser
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import zlib

CHROMIUM = "/usr/bin/chromium"  # or argv[3]
SAMPLES = ["ipv4-basic", "refused", "unanswered", "simultaneous-open", "synack-lost",
           "port-reuse", "ipv6-basic", "simultaneous-close"]
ODD_NAME = "rst <b>&\"'abort.pcap"  # a copy of rst-abort.pcap
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def expected(samples, name):
    with open(os.path.join(samples, name + ".expected.tsv")) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    return [dict(zip(lines[0], l)) for l in lines[1:]]


# ---- a small DOM from Chromium's serialisation ----------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag=None, cls=None):
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (
                        cls is None or cls in (c.attrs.get("class") or "").split()):
                    out.append(c)
                out += c.all(tag, cls)
        return out

    def by_id(self, ident):
        for n in self.all():
            if n.attrs.get("id") == ident:
                return n
        return None


class Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text):
    b = Builder()
    b.feed(text)
    b.close()
    return b.root


def rows(table):
    return [[td.text().strip() for td in tr.all("td")] for tr in table.all("tr") if tr.all("td")]


# ---- Chromium ------------------------------------------------------------

def chromium(workdir, url, *extra):
    """Run headless Chromium on url; returns (stdout, stderr)."""
    prof = tempfile.mkdtemp(prefix="chrome-", dir=workdir)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--user-data-dir=" + prof, "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", *extra, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    shutil.rmtree(prof, ignore_errors=True)
    return p.stdout, p.stderr


def console_errors(stderr):
    return [l for l in stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]


def png_pixels(path):
    """Decode an 8-bit RGB/RGBA non-interlaced PNG: (width, height, rows of pixel tuples)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, out, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, out


# ---- the tests -----------------------------------------------------------

def cli_checks(tool, d, db):
    out = os.path.join(d, "r.html")
    run = lambda *a: subprocess.run([tool, "report", *a], capture_output=True, text=True)
    p = run(db)
    check(p.returncode == 1 and "-o" in p.stderr, "report without -o: usage error (1)")
    notdb = os.path.join(d, "not.db")
    open(notdb, "w").write("hello\n")
    p = run(notdb, "-o", out)
    check(p.returncode == 2 and "not a tcbscope database" in p.stderr and not os.path.exists(out),
          "not a database: exit 2, one line, no report")
    p = run(db, "-o", out)
    check(p.returncode == 0 and os.path.getsize(out) > 0, "report written (exit 0)")
    page = open(out, encoding="utf-8").read()
    p = run(db, "-o", out)
    check(p.returncode == 3 and "exists" in p.stderr and open(out, encoding="utf-8").read() == page,
          "existing -o file refused without --force (3), left as it was")
    p = run(db, "-o", out, "--force")
    check(p.returncode == 0 and open(out, encoding="utf-8").read() == page,
          "--force overwrites it with the same page")
    p = run(db, "-o", "-")
    check(p.returncode == 0 and p.stdout == page, "-o - writes the same page to standard output")
    p = run(db, "-o", "/dev/full", "--force")
    check(p.returncode == 3 and "/dev/full" in p.stderr and
          stat.S_ISCHR(os.stat("/dev/full").st_mode), "-o /dev/full --force: exit 3, device kept")
    p = run(db, "-o", os.path.join(d, "missing", "r.html"))
    check(p.returncode == 3 and "missing" in p.stderr, "-o in a missing directory: exit 3")
    check(not [f for f in os.listdir(d) if ".tmp-" in f], "no temporary file left behind")
    low = page.lower()
    check(not any(s in low for s in ("http://", "https://", "<script", "<link", " src=", "url(",
                                      "@import")),
          "self-contained: no script, link, src, url() or http(s) reference")
    return out


def browser_checks(tool, samples, d, db, out):
    con = sqlite3.connect(db)
    one = lambda sql, *a: con.execute(sql, a).fetchone()[0]

    # The console check must be able to fail: a page with a script error.
    bad = os.path.join(d, "bad.html")
    open(bad, "w").write("<!DOCTYPE html><p>x</p><script>undefinedFunction()</script>")
    _, err = chromium(d, "file://" + bad, "--dump-dom")
    check(any("undefinedFunction" in l for l in console_errors(err)),
          "the console check sees a script error on a broken page")

    dom_text, err = chromium(d, "file://" + out, "--dump-dom")
    errs = console_errors(err)
    check(not errs, "no console error rendering the report %s" % errs[:3])
    dom = parse(dom_text)
    check(dom.by_id("overview") is not None, "Chromium rendered the report (section overview)")

    fig = lambda i: int(dom.by_id(i).all("span", "v")[0].text().replace(",", ""))
    check(fig("fig-connections") == one("SELECT count(*) FROM connections"),
          "connections figure = count(*) of connections (%d)" % one(
              "SELECT count(*) FROM connections"))
    check(fig("fig-frames") == one("SELECT value FROM run WHERE key = 'frames'"),
          "frames figure = run.frames")
    check(fig("fig-captures") == len(SAMPLES) + 1, "captures figure = %d files" % (len(SAMPLES) + 1))
    n_hs = one("SELECT count(*) FROM handshake_latency WHERE handshake_ms >= 0")
    check(fig("fig-handshakes") == n_hs, "complete handshakes figure = %d" % n_hs)

    for ident, col in (("open-kind", "open_kind"), ("handshake", "handshake"),
                       ("close-kind", "close_kind"),
                       ("final-states", "client_final_state || ' / ' || server_final_state")):
        want = {k: n for k, n in con.execute("SELECT %s, count(*) FROM connections GROUP BY 1" % col)}
        got = {r[0]: int(r[1].replace(",", "")) for r in rows(dom.by_id(ident))}
        check(got == want, "%s table = SQL GROUP BY %s: %s" % (ident, col, want))

    # Nearest rank, as the README cookbook computes it.
    q = """WITH l AS (SELECT server_ip, server_port, handshake_ms,
                 ROW_NUMBER() OVER (PARTITION BY server_ip, server_port ORDER BY handshake_ms) AS rn,
                 COUNT(*) OVER (PARTITION BY server_ip, server_port) AS n
               FROM handshake_latency WHERE handshake_ms >= 0)
           SELECT server_ip, server_port, n,
             MIN(CASE WHEN rn >= 0.50 * n THEN handshake_ms END),
             MIN(CASE WHEN rn >= 0.90 * n THEN handshake_ms END),
             MIN(CASE WHEN rn >= 0.99 * n THEN handshake_ms END)
           FROM l GROUP BY 1, 2"""
    want = {("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port):
            [str(n), "%.3f" % p50, "%.3f" % p90, "%.3f" % p99]
            for ip, port, n, p50, p90, p99 in con.execute(q)}
    got = {r[0]: [r[2], r[3], r[4], r[5]] for r in rows(dom.by_id("servers")) if r[3] != "-"}
    check(got == want and len(want) >= 3,
          "per-server handshakes, p50/p90/p99 (ms) = SQL nearest rank for %d servers" % len(want))
    busiest = max(want.items(), key=lambda kv: int(kv[1][0]))
    check(got.get(busiest[0]) == busiest[1], "busiest server %s: %s" % busiest)

    bars = dom.by_id("latency-histogram").all("rect", "bar")
    check(sum(int(b.attrs["data-count"]) for b in bars) == n_hs,
          "histogram bars hold every complete handshake (%d)" % n_hs)
    slow = one("SELECT max(handshake_ms) FROM handshake_latency")
    top = max(bars, key=lambda b: int(b.attrs["data-lo-ns"]))
    check(int(top.attrs["data-lo-ns"]) <= slow * 1e6, "the last bar's bucket holds the slowest")

    caps = [li.text() for li in dom.by_id("captures").all("li")]
    check(os.path.join(d, ODD_NAME) in caps and not dom.by_id("captures").all("b"),
          "capture name with <b>&\"' shows as text, no element injected")
    check(dom.all("title")[0].text() == "tcbscope report: " + db, "page title names the database")

    arts = dom.by_id("slowest").all("article")
    sl = expected(samples, "synack-lost")[0]
    ip, port = sl["client"].rsplit(":", 1)
    sl_id = one("SELECT id FROM connections WHERE client_ip = ? AND client_port = ?", ip, int(port))
    check(1 <= len(arts) <= 5 and arts[0].attrs["data-conn-id"] == str(sl_id),
          "slowest handshake first: synack-lost's (lost SYN/ACK, one RTO)")
    ra = expected(samples, "rst-abort")[0]
    ip, port = ra["client"].rsplit(":", 1)
    ra_id = one("SELECT id FROM connections WHERE client_ip = ? AND client_port = ?", ip, int(port))
    check(str(ra_id) in [a.attrs["data-conn-id"] for a in dom.by_id("resets").all("article")],
          "rst-abort's connection is among the reset connections")

    so = expected(samples, "simultaneous-open")[0]
    ip, port = so["client"].rsplit(":", 1)
    so_id = one("SELECT id FROM connections WHERE client_ip = ? AND client_port = ?", ip, int(port))
    art = [a for a in dom.by_id("simultaneous").all("article")
           if a.attrs["data-conn-id"] == str(so_id)]
    check(len(art) == 1, "simultaneous-open's connection has a ladder")
    if art:
        svg = art[0].all("svg", "ladder")[0]
        cs = [t.text() for t in svg.all("text", "st-c")]
        ss = [t.text() for t in svg.all("text", "st-s")]
        opened = ["CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"]  # RFC 9293 Figure 8
        check(cs == opened + ["FIN-WAIT-1", "FIN-WAIT-2", so["client_final_state"]],
              "client (A, closes first): %s" % " > ".join(cs))
        check(ss == opened + ["CLOSE-WAIT", "LAST-ACK", so["server_final_state"]],
              "server (B, closes on EOF): %s" % " > ".join(ss))
        segs = [(g.attrs["data-from"], g.attrs["data-flags"]) for g in svg.all("g", "seg")]
        check(segs[:4] == [("client", "SYN"), ("server", "SYN"), ("client", "SYN,ACK"),
                           ("server", "SYN,ACK")], "arrows: crossing SYNs, then SYN/ACKs %s" % segs[:4])
        trs = rows(art[0].all("table", "transitions")[0])
        db_tr = [list(r) for r in con.execute(
            "SELECT endpoint, from_state, to_state, cause FROM transitions WHERE conn_id = ? "
            "ORDER BY seq", (so_id,))]
        check([r[3:7] for r in trs] == db_tr, "transitions table = the database's %d rows" %
              len(db_tr))
        check([r[2] for r in db_tr if r[0] == "client"] == cs[1:] and
              [r[2] for r in db_tr if r[0] == "server"] == ss[1:],
              "ladder states in the order of the transitions")
    con.close()

    png = os.path.join(d, "report.png")
    _, err = chromium(d, "file://" + out, "--window-size=1200,1600", "--screenshot=" + png)
    check(os.path.exists(png), "screenshot written")
    if os.path.exists(png):
        w, h, px = png_pixels(png)
        flat = [p for row in px[::4] for p in row[::4]]
        nonwhite = sum(1 for p in flat if min(p) < 200) / len(flat)
        colours = len(set(flat))
        check((w, h) == (1200, 1600) and nonwhite > 0.02 and colours > 30,
              "screenshot %dx%d shows a drawn page (%.1f%% dark pixels, %d colours)" %
              (w, h, 100 * nonwhite, colours))


def main():
    global CHROMIUM
    tool, samples = sys.argv[1:3]
    if len(sys.argv) > 3:
        CHROMIUM = sys.argv[3]
    d = tempfile.mkdtemp(prefix="tcbs-report-")
    try:
        caps = [os.path.join(samples, s + ".pcap") for s in SAMPLES]
        odd = os.path.join(d, ODD_NAME)
        shutil.copy(os.path.join(samples, "rst-abort.pcap"), odd)
        db = os.path.join(d, "demo.db")
        subprocess.run([tool, "analyze", *caps, odd, "--db", db, "--quiet", "--time-wait", "86400"],
                       check=True, stderr=subprocess.DEVNULL)
        out = cli_checks(tool, d, db)
        if not CHROMIUM or not os.access(CHROMIUM, os.X_OK):
            print("SKIP browser checks: chromium not installed (%s); tests/deps.sh installs it" %
                  (CHROMIUM or "not on PATH"))
            return 1 if FAILS else 77
        browser_checks(tool, samples, d, db, out)
        return 1 if FAILS else 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
