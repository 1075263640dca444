/*
 * bench/gencorpus.c: deterministic synthetic capture generator for the
 * benchmark corpora and the truth test.
 *
 * Owns: the traffic model (a busy access link seen from a tap near the
 * clients), the pcap writer and the per-connection ground truth (JSON lines).
 * Leaves to others: reading captures (dissectors/), checking tcbscope against
 * the truth (tests/e2e/truth_check.py), the corpus cache (bench/corpus.sh).
 *
 * Design: connections start one after another (Poisson arrivals whose rate
 * keeps about --concurrency connections open).  When a connection starts, its
 * whole life is scripted at once into its slot: frames (pcap record header
 * included, cut at the snaplen) in a byte buffer plus an index of (time,
 * emission number).  The index is sorted, and the slot joins a binary heap
 * keyed by (time of its next frame, connection id).  Before a connection
 * starts at time T, every frame before T is popped from the heap into a large
 * output buffer; every frame of the new connection is at or after T, so the
 * file is in timestamp order.  A slot whose frames are all written is free
 * again and its 4-tuple may be reused.  No allocation per packet: slots keep
 * their buffers.
 *
 * Determinism: one xoshiro256** generator seeded by splitmix64 from --seed
 * drives every choice, so the same arguments give a byte-identical pcap and
 * truth (on the same libm: lognormal sizes and delays use exp/log).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };

#define PAY_BITS 17 /* payload stream: 128 KiB, seq-addressed */
#define PAY_LEN (1u << PAY_BITS)
#define PAY_TAIL 4096u /* copy of the start past the end: no wrap inside one segment */
#define OUTBUF (4u << 20)
#define POOL_MAX 20000 /* closed tuples kept for reuse */
#define RECENT 2000    /* durations the arrival rate is estimated from */

/* Fractions of --connections per variant; midstream is capped at
 * --concurrency/2 (they are open when the capture starts) and fin takes the rest. */
enum variant { V_FIN, V_RST, V_REFUSED, V_NOANSWER, V_SIMOPEN, V_SIMCLOSE, V_MIDSTREAM, V_COUNT };
static const char *const variant_name[V_COUNT] = {"fin",     "rst",      "refused",  "noanswer",
                                                  "simopen", "simclose", "midstream"};
static const double variant_frac[V_COUNT] = {0.85, 0.05, 0.03, 0.02, 0.01, 0.01, 0.03};

/* Orthogonal events: per connection (reuse, SYN retransmission), per
 * response (losses), per request (tail RTO, at most once a connection). */
#define P_REUSE 0.015
#define P_SYN_RETX 0.005
#define P_LOSS_DOWN 0.02 /* lost after the tap: the tap sees it twice */
#define P_LOSS_UP 0.01   /* lost before the tap: gap, dup ACKs + SACK, retransmission */
#define P_OOO 0.01       /* two segments swapped before the tap */
#define P_REQ_RTO 0.005  /* last request segment lost after the tap, RTO */

/* Client host profiles. */
enum profile { PR_LINUX, PR_WINDOWS, PR_MACOS };
static const struct {
    const char *name;
    uint8_t ttl, ws;
    uint16_t synwin;
    bool ts;
    uint16_t port_lo, port_hi;
    int64_t ato; /* delayed-ACK timeout, us */
} profiles[] = {
    {"linux", 64, 7, 64240, true, 32768, 60999, 40000},
    {"windows", 128, 8, 64240, false, 49152, 65535, 200000},
    {"macos", 64, 6, 65535, true, 49152, 65535, 100000},
};
#define SERVER_ATO 40000

/* Ports >= 32768 that tshark decodes as an application protocol by number:
 * no client or simultaneous-open port takes them. */
static const uint16_t avoid_ports[] = {34980, 44321, 44322, 44818, 48049, 48898, 57000};
static const uint8_t gw_mac[6] = {0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01};

struct opts {
    long connections, concurrency, clients, servers;
    uint64_t seed;
    double ipv6, vlan, start;
    long req_median, resp_median, max_resp, snaplen;
    const char *out, *truth, *ports;
    bool quiet;
};

/* ---- random numbers ---------------------------------------------------- */

struct rng {
    uint64_t s[4];
    double spare; /* second normal deviate of the polar method */
    bool has_spare;
};

/* splitmix64: expands the seed into the xoshiro state. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Seeds the generator from a 64-bit seed. */
static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    r->has_spare = false;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the next 64 random bits. */
static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, 1). */
static inline double rng_unif(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

/* Uniform integer in [0, n). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(rng_unif(r) * (double)n);
}

/* Standard normal deviate (Marsaglia's polar method). */
static double rng_gauss(struct rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * rng_unif(r) - 1.0;
        v = 2.0 * rng_unif(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = true;
    return u * m;
}

/* Lognormal with the given median and sigma, clamped to [lo, hi]. */
static int64_t rng_lognorm(struct rng *r, double median, double sigma, double lo, double hi)
{
    double v = median * exp(sigma * rng_gauss(r));
    return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

/* ---- payload stream ---------------------------------------------------- */

/* Payload bytes come from one random stream addressed by sequence number;
 * bytes 0xA0..0xFF look like ciphertext to tshark's heuristic dissectors.
 * Prefix sums of its big-endian 16-bit words (from even and from odd
 * offsets) give any segment's checksum contribution in O(1). */
static uint8_t pay[PAY_LEN + PAY_TAIL];
static uint64_t pay_even[(PAY_LEN + PAY_TAIL) / 2 + 1], pay_odd[(PAY_LEN + PAY_TAIL) / 2 + 1];

/* Fills the payload stream and its prefix sums from the seed. */
static void pay_init(uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed ^ 0x7061796c6f616421ull);
    for (uint32_t i = 0; i < PAY_LEN; i += 8) {
        uint64_t x = rng_next(&r);
        for (int k = 0; k < 8; k++, x >>= 8)
            pay[i + k] = (uint8_t)(0xA0 + (x & 0xff) % 96);
    }
    memcpy(pay + PAY_LEN, pay, PAY_TAIL);
    uint32_t n = PAY_LEN + PAY_TAIL;
    pay_even[0] = pay_odd[0] = 0;
    for (uint32_t i = 0; i < n / 2; i++)
        pay_even[i + 1] = pay_even[i] + (uint32_t)(pay[2 * i] << 8 | pay[2 * i + 1]);
    for (uint32_t i = 0; i < (n - 1) / 2; i++)
        pay_odd[i + 1] = pay_odd[i] + (uint32_t)(pay[2 * i + 1] << 8 | pay[2 * i + 2]);
}

/* Unfolded checksum sum of plen payload bytes at stream offset o. */
static inline uint64_t pay_sum(uint32_t o, uint32_t plen)
{
    uint32_t h = o >> 1, w = plen >> 1;
    uint64_t s = (o & 1) ? pay_odd[h + w] - pay_odd[h] : pay_even[h + w] - pay_even[h];
    if (plen & 1)
        s += (uint32_t)pay[o + plen - 1] << 8;
    return s;
}

/* Folds a ones-complement sum to 16 bits. */
static inline uint16_t fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Sum of the big-endian 16-bit words of n bytes (n even). */
static uint64_t words_sum(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    return s;
}

static inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- connections ------------------------------------------------------- */

struct frame {
    int64_t t;   /* tap time, us */
    uint32_t n;  /* emission number inside the connection (tie break) */
    uint32_t off; /* into the slot's byte buffer */
};

/* The 4-tuple as indices (addresses are a function of them). */
struct tuple {
    uint32_t cidx, sidx;
    uint16_t cport, sport, vlan;
    uint8_t v6, profile;
};

/* Per direction: d = 0 client -> server, 1 server -> client. */
struct dir {
    uint8_t hdr[18]; /* Ethernet (+ 802.1Q) header */
    uint8_t hdrlen, ttl, ws;
    uint16_t synwin, win, amss, mss, ipid;
    uint32_t isn, snd, rcv, tsoff, pbase, flow;
    uint64_t pseudo; /* pseudo-header addresses and protocol, unfolded */
    uint64_t ipbase; /* IPv4 header words but length and id, unfolded */
    int64_t tap_rtt; /* tap -> this endpoint -> tap, us */
    int64_t ato;     /* this endpoint's delayed-ACK timeout when receiving */
    double upb;      /* us per wire byte when sending */
    uint64_t pbytes;
    int64_t tmax;    /* tap time of this direction's latest frame so far */
    bool pend;       /* a delayed ACK is due at pend_t unless it sends first */
    int64_t pend_t;
    uint32_t pend_ack;
    int64_t *tst; /* tap times of this direction's TS-bearing frames, sorted */
    uint32_t ntst, captst;
};

/* How a connection ends (truth notes "close" / "abort"); 0 = not that way. */
enum close_kind { CL_NONE, CL_CLIENT_FIN, CL_SERVER_FIN, CL_SIMULTANEOUS, CL_HALF_CLOSE, CL_COUNT };
static const char *const close_name[CL_COUNT] = {"", "client_fin", "server_fin", "simultaneous",
                                                 "half_close"};
enum abort_kind { AB_NONE, AB_CLIENT, AB_CLIENT_MID, AB_SERVER, AB_COUNT };
static const char *const abort_name[AB_COUNT] = {"", "client", "client_mid_transfer", "server"};

struct notes {
    enum close_kind close;
    enum abort_kind abort;
    int syn_retx, syn_tries, retx_down, retx_up, ooo, req_rto;
};

struct conn {
    uint64_t cid;
    enum variant v;
    struct tuple tup;
    uint8_t caddr[16], saddr[16];
    bool reused;
    int64_t t0, tbeg, tend;
    struct dir dir[2];
    struct notes notes;
    /* frames: index and bytes (kept across reuse of the slot) */
    struct frame *fr;
    uint32_t nfr, capfr, next;
    uint8_t *buf;
    size_t nbuf, capbuf;
};

struct gen {
    struct opts o;
    struct rng r;
    struct conn *slots;
    uint32_t nslots, capslots;
    uint32_t *freel, nfree;
    uint32_t *heap, nheap; /* slots with frames left, by (next frame time, cid) */
    /* open tuples: open addressing, linear probing, backward-shift deletion */
    struct tuple *tset;
    uint8_t *tused;
    uint32_t tcap, tcount;
    struct {
        struct tuple tup;
    } pool[POOL_MAX];
    uint32_t npool;
    double *port_cum;
    uint16_t *port_num;
    int nports;
    FILE *out, *truth;
    uint8_t *obuf;
    size_t nobuf;
    uint64_t packets, bytes, wire;
    uint64_t stat_reused, stat_synretx, stat_retx_down, stat_retx_up, stat_ooo, stat_reqrto,
        stat_v6, stat_vlan;
    bool failed;
};

/* Grows *p (elements of size sz, capacity *cap) to hold at least need. */
static void *grow(void *p, uint32_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * sz);
    if (!q) {
        fprintf(stderr, "gencorpus: out of memory\n");
        exit(1);
    }
    *cap = (uint32_t)n;
    return q;
}

/* Client address of index idx: 10.x.y.z or 2001:db8:100:..., unique per index. */
static void addr_client(bool v6, uint32_t idx, uint8_t *a)
{
    if (v6) {
        uint64_t iid = ((uint64_t)idx * 0x9e3779b97f4a7c15ull) | 1;
        put32(a, 0x20010db8);
        put16(a + 4, 0x0100);
        put16(a + 6, (idx >> 8) & 0xffff);
        put32(a + 8, (uint32_t)(iid >> 32));
        put32(a + 12, (uint32_t)iid);
    } else {
        a[0] = 10;
        a[1] = (uint8_t)(idx / 254 / 256);
        a[2] = (uint8_t)(idx / 254 % 256);
        a[3] = (uint8_t)(idx % 254 + 1);
    }
}

/* Server address of index idx: 198.18.0.0/15 or 2001:db8:ff00:... */
static void addr_server(bool v6, uint32_t idx, uint8_t *a)
{
    if (v6) {
        put32(a, 0x20010db8);
        put16(a + 4, 0xff00);
        put16(a + 6, idx >> 16);
        put32(a + 8, 0);
        put32(a + 12, 0x1000 + (idx & 0xffff));
    } else {
        a[0] = 198;
        a[1] = (uint8_t)(18 + idx / 254 / 256 % 2);
        a[2] = (uint8_t)(idx / 254 % 256);
        a[3] = (uint8_t)(idx % 254 + 1);
    }
}

/* Inserts t into the direction's sorted list of TS-bearing frame times. */
static void tst_add(struct dir *dr, int64_t t)
{
    dr->tst = grow(dr->tst, &dr->captst, dr->ntst + 1, sizeof *dr->tst);
    uint32_t i = dr->ntst++;
    while (i && dr->tst[i - 1] > t) {
        dr->tst[i] = dr->tst[i - 1];
        i--;
    }
    dr->tst[i] = t;
}

/* TSecr of a frame d sends past the tap at t: the TSval of the peer's latest
 * TS-bearing frame that passed the tap early enough to have reached d.  Frames
 * are scripted out of time order, hence the lookup by time.  With none
 * (mid-stream start) the peer's clock at that moment stands in. */
static uint32_t ts_echo(const struct conn *c, int d, int64_t t)
{
    const struct dir *p = &c->dir[1 - d];
    int64_t tl = t - c->dir[d].tap_rtt;
    uint32_t lo = 0, hi = p->ntst; /* first index with tst > tl */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->tst[mid] <= tl)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo)
        tl = p->tst[lo - 1];
    return p->tsoff + (uint32_t)(tl / 1000);
}

/* Options of an ordinary segment: timestamps when negotiated (not on a bare
 * RST), SACK block [lo, hi) when sack is set.  Returns the length. */
static int seg_opts(struct conn *c, int d, int64_t t, unsigned flags, bool sack, uint32_t lo,
                    uint32_t hi, uint8_t *o)
{
    int n = 0;
    if (profiles[c->tup.profile].ts && ((flags & TH_ACK) || !(flags & TH_RST))) {
        uint32_t tsval = c->dir[d].tsoff + (uint32_t)(t / 1000);
        uint32_t tsecr = ts_echo(c, d, t);
        tst_add(&c->dir[d], t);
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
        put32(o + 4, tsval);
        put32(o + 8, tsecr);
        n = 12;
    }
    if (sack) {
        o[n] = 1, o[n + 1] = 1, o[n + 2] = 5, o[n + 3] = 10;
        put32(o + n + 4, lo);
        put32(o + n + 8, hi);
        n += 12;
    }
    return n;
}

/* SYN / SYN-ACK options in the sending host's usual layout. */
static int syn_opts(struct conn *c, int d, int64_t t, bool synack, uint8_t *o)
{
    struct dir *dr = &c->dir[d];
    int prof = c->tup.profile;
    bool ts = profiles[prof].ts;
    o[0] = 2, o[1] = 4;
    put16(o + 2, dr->amss);
    if (d == 1 || prof == PR_LINUX) {
        if (!ts) { /* MSS NOP NOP SACKOK NOP WS */
            memcpy(o + 4, "\x01\x01\x04\x02\x01\x03\x03", 7);
            o[11] = dr->ws;
            return 12;
        }
        /* MSS SACKOK TS NOP WS */
        o[4] = 4, o[5] = 2, o[6] = 8, o[7] = 10;
        put32(o + 8, dr->tsoff + (uint32_t)(t / 1000));
        put32(o + 12, synack ? ts_echo(c, d, t) : 0);
        tst_add(dr, t);
        o[16] = 1, o[17] = 3, o[18] = 3, o[19] = dr->ws;
        return 20;
    }
    if (prof == PR_WINDOWS) { /* MSS NOP WS NOP NOP SACKOK */
        o[4] = 1, o[5] = 3, o[6] = 3, o[7] = dr->ws;
        memcpy(o + 8, "\x01\x01\x04\x02", 4);
        return 12;
    }
    /* macOS: MSS NOP WS NOP NOP TS SACKOK EOL EOL */
    o[4] = 1, o[5] = 3, o[6] = 3, o[7] = dr->ws;
    o[8] = 1, o[9] = 1, o[10] = 8, o[11] = 10;
    put32(o + 12, dr->tsoff + (uint32_t)(t / 1000));
    put32(o + 16, 0);
    tst_add(dr, t);
    memcpy(o + 20, "\x04\x02\x00\x00", 4);
    return 24;
}

/* Writes one frame (record header, Ethernet, IP, TCP, options, payload cut
 * at the snaplen) into the connection's buffer. */
static void emit_raw(struct gen *g, struct conn *c, int d, int64_t t, unsigned flags,
                     uint32_t seq, uint32_t ack, uint32_t plen, const uint8_t *opt, int olen,
                     uint16_t win)
{
    struct dir *dr = &c->dir[d];
    uint8_t h[18 + 40 + 60];
    size_t n = dr->hdrlen;
    memcpy(h, dr->hdr, n);
    uint32_t tcplen = 20 + (uint32_t)olen + plen;
    if (c->tup.v6) {
        put32(h + n, dr->flow);
        put16(h + n + 4, tcplen);
        h[n + 6] = 6;
        h[n + 7] = dr->ttl;
        memcpy(h + n + 8, d ? c->saddr : c->caddr, 16);
        memcpy(h + n + 24, d ? c->caddr : c->saddr, 16);
        n += 40;
    } else {
        uint32_t tot = 20 + tcplen;
        uint16_t id = dr->ipid++;
        h[n] = 0x45, h[n + 1] = 0;
        put16(h + n + 2, tot);
        put16(h + n + 4, id);
        put16(h + n + 6, 0x4000);
        h[n + 8] = dr->ttl, h[n + 9] = 6;
        put16(h + n + 10, (uint16_t)~fold(dr->ipbase + tot + id));
        memcpy(h + n + 12, d ? c->saddr : c->caddr, 4);
        memcpy(h + n + 16, d ? c->caddr : c->saddr, 4);
        n += 20;
    }
    uint8_t *tcp = h + n;
    put16(tcp, d ? c->tup.sport : c->tup.cport);
    put16(tcp + 2, d ? c->tup.cport : c->tup.sport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    put16(tcp + 12, ((20u + (uint32_t)olen) << 10) | flags);
    put16(tcp + 14, win);
    put32(tcp + 16, 0);
    memcpy(tcp + 20, opt, (size_t)olen);
    uint32_t po = (dr->pbase + seq) & (PAY_LEN - 1);
    uint64_t s = dr->pseudo + tcplen + words_sum(tcp, 20 + (size_t)olen);
    if (plen)
        s += pay_sum(po, plen);
    put16(tcp + 16, (uint16_t)~fold(s));
    n += 20 + (size_t)olen;

    uint32_t flen = (uint32_t)n + plen;
    uint32_t cap = flen < (uint32_t)g->o.snaplen ? flen : (uint32_t)g->o.snaplen;
    c->fr = grow(c->fr, &c->capfr, c->nfr + 1, sizeof *c->fr);
    uint32_t cb = (uint32_t)c->capbuf;
    c->buf = grow(c->buf, &cb, c->nbuf + 16 + cap, 1);
    c->capbuf = cb;
    uint8_t *p = c->buf + c->nbuf;
    put32le(p, (uint32_t)(t / 1000000));
    put32le(p + 4, (uint32_t)(t % 1000000));
    put32le(p + 8, cap);
    put32le(p + 12, flen);
    uint32_t hc = cap < n ? cap : (uint32_t)n;
    memcpy(p + 16, h, hc);
    if (cap > n)
        memcpy(p + 16 + n, pay + po, cap - n);
    c->fr[c->nfr] = (struct frame){t, c->nfr, (uint32_t)c->nbuf};
    c->nfr++;
    c->nbuf += 16 + cap;
    g->wire += flen;
    dr->pbytes += plen;
    if (t > dr->tmax)
        dr->tmax = t;
    if (t > c->tend)
        c->tend = t;
    if (t < c->tbeg)
        c->tbeg = t;
}

/* A segment with the default options (timestamps, optional SACK block). */
static void emit(struct gen *g, struct conn *c, int d, int64_t t, unsigned flags, uint32_t seq,
                 uint32_t ack, uint32_t plen, uint16_t win)
{
    uint8_t o[40];
    int olen = seg_opts(c, d, t, flags, false, 0, 0, o);
    emit_raw(g, c, d, t, flags, seq, ack, plen, o, olen, win);
}

/* A pure ACK from d, with a SACK block [lo, hi) when sack. */
static void emit_ack(struct gen *g, struct conn *c, int d, int64_t t, uint32_t ack, bool sack,
                     uint32_t lo, uint32_t hi)
{
    uint8_t o[40];
    int olen = seg_opts(c, d, t, TH_ACK, sack, lo, hi, o);
    emit_raw(g, c, d, t, TH_ACK, c->dir[d].snd, ack, 0, o, olen, c->dir[d].win);
}

/* A SYN (synack: SYN-ACK) from d with its ISN and SYN options. */
static void emit_syn(struct gen *g, struct conn *c, int d, int64_t t, bool synack, uint32_t ack)
{
    uint8_t o[40];
    int olen = syn_opts(c, d, t, synack, o);
    emit_raw(g, c, d, t, synack ? TH_SYN | TH_ACK : TH_SYN, c->dir[d].isn, ack, 0, o, olen,
             c->dir[d].synwin);
}

/* When d decides to send something new at t: not before its own latest
 * frame (an endpoint acts on data after it has ACKed it, so a FIN or request
 * never passes the tap ahead of the ACK that precedes it). */
static int64_t after_own(const struct conn *c, int d, int64_t t)
{
    return t > c->dir[d].tmax ? t : c->dir[d].tmax + 1;
}

/* d is about to send at t: its pending delayed ACK goes first if due. */
static void flush_ack(struct gen *g, struct conn *c, int d, int64_t t)
{
    struct dir *dr = &c->dir[d];
    if (dr->pend && dr->pend_t <= t)
        emit_ack(g, c, d, dr->pend_t, dr->pend_ack, false, 0, 0);
    dr->pend = false;
}

/* What goes wrong with one message: a segment lost after the tap, lost
 * before it, or swapped with the next one. */
enum loss { L_NONE, L_DOWN, L_UP, L_OOO };

/* Sender d sends nbytes from tap time t in slow-start flights; the receiver
 * ACKs every second segment, delays the ACK of an odd tail, sends an immediate
 * duplicate ACK (with SACK) for data beyond a hole and an immediate ACK when
 * the hole fills.  Segment lk suffers loss kind lkind.  abort_k >= 0: the
 * receiver resets after data segment abort_k.  count: record the loss in the
 * notes.  Returns the tap time of the last data segment. */
static int64_t send_msg(struct gen *g, struct conn *c, int d, int64_t t, uint32_t nbytes,
                        enum loss lkind, uint32_t lk, long abort_k, bool count)
{
    struct dir *S = &c->dir[d], *R = &c->dir[1 - d];
    int r = 1 - d;
    t = after_own(c, d, t);
    flush_ack(g, c, d, t);
    uint32_t mss = S->mss, seq0 = S->snd, end = seq0 + nbytes, ackv = S->rcv;
    uint32_t nseg = (nbytes + mss - 1) / mss;
    int64_t A = R->tap_rtt, Rt = S->tap_rtt, ato = R->ato;
    int64_t rto = 200000 + c->dir[0].tap_rtt + c->dir[1].tap_rtt;
    uint32_t cwnd = 10, i = 0, pend = 0;
    uint32_t cum = seq0, hi = seq0, sack_lo = 0; /* receiver: next expected, highest + 1 */
    bool has_sack = false;
    int64_t tf = t, t_last = t, tl = t;
    int64_t tm[64];
    uint32_t ord[64];
    while (i < nseg) {
        uint32_t k = nseg - i < cwnd ? nseg - i : cwnd;
        int64_t tc = tf;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t L = (i + j + 1 == nseg) ? end - (seq0 + (i + j) * mss) : mss;
            tm[j] = tc;
            ord[j] = i + j;
            tc += 1 + (int64_t)((double)(L + 66) * S->upb);
        }
        bool here = lkind != L_NONE && lk >= i && lk < i + k;
        if (here && lkind == L_OOO) {
            if (lk + 1 < i + k) {
                int64_t x = tm[lk - i];
                tm[lk - i] = tm[lk - i + 1];
                tm[lk - i + 1] = x;
                ord[lk - i] = lk + 1;
                ord[lk - i + 1] = lk;
            } else {
                here = false;
            }
        }
        int64_t first_ack = -1, t3 = -1;
        int ndup = 0;
        for (uint32_t pos = 0; pos < k; pos++) {
            uint32_t idx = ord[pos];
            uint32_t sq = seq0 + idx * mss;
            uint32_t L = idx + 1 == nseg ? end - sq : mss;
            int64_t ts = tm[idx - i];
            unsigned fl = sq + L == end ? TH_ACK | TH_PSH : TH_ACK;
            bool lost = here && idx == lk && lkind != L_OOO;
            if (!(lost && lkind == L_UP)) {
                emit(g, c, d, ts, fl, sq, ackv, L, S->win);
                if (ts > t_last)
                    t_last = ts;
            }
            if (lost)
                continue;
            int64_t ta = ts + A;
            if (sq == cum) {
                cum = sq + L;
                if (hi - seq0 > cum - seq0) { /* hole filled: ACK at once */
                    cum = hi;
                    has_sack = false;
                    emit_ack(g, c, r, ta, cum, false, 0, 0);
                    pend = 0;
                    if (first_ack < 0)
                        first_ack = ta;
                } else {
                    hi = cum;
                    if (++pend >= 2) {
                        emit_ack(g, c, r, ta, cum, false, 0, 0);
                        pend = 0;
                        if (first_ack < 0)
                            first_ack = ta;
                    }
                }
            } else { /* beyond a hole: duplicate ACK */
                if (!has_sack) {
                    sack_lo = sq;
                    has_sack = true;
                }
                if (sq + L - seq0 > hi - seq0)
                    hi = sq + L;
                emit_ack(g, c, r, ta, cum, true, sack_lo, hi);
                if (++ndup == 3)
                    t3 = ta;
                if (first_ack < 0)
                    first_ack = ta;
                pend = 0;
            }
            if (abort_k >= 0 && idx == (uint32_t)abort_k) {
                /* the receiver gives up: RST/ACK, then a bare RST for each
                 * segment already on its way */
                int64_t t_rst = ta + 1, cut = t_rst + Rt;
                emit(g, c, r, t_rst, TH_RST | TH_ACK, R->snd, cum, 0, 0);
                for (uint32_t p2 = pos + 1; p2 < k; p2++) {
                    uint32_t j2 = ord[p2];
                    if (tm[j2 - i] >= cut)
                        continue;
                    uint32_t sq2 = seq0 + j2 * mss, L2 = j2 + 1 == nseg ? end - sq2 : mss;
                    emit(g, c, d, tm[j2 - i], sq2 + L2 == end ? TH_ACK | TH_PSH : TH_ACK, sq2,
                         ackv, L2, S->win);
                    int64_t tr = tm[j2 - i] + A > t_rst + 1 ? tm[j2 - i] + A : t_rst + 1;
                    emit(g, c, r, tr, TH_RST, ackv, 0, 0, 0);
                    if (tm[j2 - i] > t_last)
                        t_last = tm[j2 - i];
                }
                S->pend = R->pend = false;
                return t_last;
            }
        }
        tl = tm[0];
        for (uint32_t j = 1; j < k; j++)
            if (tm[j] > tl)
                tl = tm[j];
        int64_t nxt;
        if (here && lkind != L_OOO) {
            uint32_t hs = seq0 + lk * mss, hl = lk + 1 == nseg ? end - hs : mss;
            int64_t trx = t3 >= 0 ? t3 + Rt : tm[lk - i] + rto;
            if (trx <= tl)
                trx = tl + 1;
            emit(g, c, d, trx, hs + hl == end ? TH_ACK | TH_PSH : TH_ACK, hs, ackv, hl, S->win);
            t_last = tl = trx;
            cum = hi - seq0 > hs + hl - seq0 ? hi : hs + hl;
            has_sack = false;
            int64_t ta = trx + A;
            emit_ack(g, c, r, ta, cum, false, 0, 0);
            pend = 0;
            nxt = ta + Rt > tc ? ta + Rt : tc;
            cwnd = cwnd / 2 > 2 ? cwnd / 2 : 2;
            if (count) {
                if (lkind == L_DOWN)
                    c->notes.retx_down++;
                else
                    c->notes.retx_up++;
            }
            lkind = L_NONE;
        } else {
            if (here) {
                c->notes.ooo++;
                lkind = L_NONE;
            }
            if (i + k >= nseg) {
                nxt = tc;
            } else {
                int64_t w = first_ack + Rt > tc ? first_ack + Rt : tc;
                if (pend && (first_ack < 0 || tl + ato < w)) {
                    int64_t ta = tl + A + ato;
                    emit_ack(g, c, r, ta, cum, false, 0, 0);
                    pend = 0;
                    if (first_ack < 0)
                        first_ack = ta;
                }
                nxt = first_ack + Rt > tc ? first_ack + Rt : tc;
                cwnd = cwnd * 2 < 64 ? cwnd * 2 : 64;
            }
        }
        i += k;
        tf = nxt;
    }
    if (pend) {
        R->pend = true;
        R->pend_t = tl + A + ato;
        R->pend_ack = end;
    }
    S->snd = end;
    R->rcv = end;
    return t_last;
}

/* Picks the segment a response loses or swaps (if any). */
static enum loss pick_loss(struct rng *r, uint32_t nseg, uint32_t *lk)
{
    double x = rng_unif(r);
    if (x < P_LOSS_DOWN) {
        *lk = (uint32_t)rng_below(r, nseg);
        return L_DOWN;
    }
    if (x < P_LOSS_DOWN + P_LOSS_UP) {
        *lk = (uint32_t)rng_below(r, nseg);
        return L_UP;
    }
    if (x < P_LOSS_DOWN + P_LOSS_UP + P_OOO && nseg >= 2) {
        *lk = (uint32_t)rng_below(r, (nseg < 10 ? nseg : 10) - 1);
        return L_OOO;
    }
    return L_NONE;
}

/* Request/response rounds (server_first: a server greeting first; the
 * client half-closes after the last request; abort_last: the client resets
 * during the last response).  Returns the tap time of the last data frame. */
static int64_t rounds(struct gen *g, struct conn *c, int64_t t, int nr, bool long_lived,
                      bool half_close, bool abort_last, bool server_first)
{
    struct rng *r = &g->r;
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    if (server_first) {
        t += S->tap_rtt + (int64_t)rng_below(r, 2000);
        t = send_msg(g, c, 1, t, (uint32_t)rng_lognorm(r, 60, 0.5, 10, 400), L_NONE, 0, -1, true);
        t += C->tap_rtt + rng_lognorm(r, 2000, 1.0, 50, 200000);
    }
    for (int k = 0; k < nr; k++) {
        if (k == 0)
            t += 10 + (int64_t)rng_below(r, 500);
        else if (long_lived)
            t += rng_lognorm(r, 2000000, 0.8, 200000, 20000000);
        else
            t += rng_lognorm(r, 30000, 1.5, 200, 5000000);
        bool last = k == nr - 1;
        bool rto = !c->notes.req_rto && rng_unif(r) < P_REQ_RTO;
        uint32_t req = (uint32_t)rng_lognorm(r, (double)g->o.req_median, 1.0, 1, 16000);
        if (rto)
            c->notes.req_rto = 1;
        t = send_msg(g, c, 0, t, req, rto ? L_DOWN : L_NONE, (req + C->mss - 1) / C->mss - 1, -1,
                     false);
        if (last && half_close) {
            t += 5 + (int64_t)rng_below(r, 200);
            flush_ack(g, c, 0, t);
            emit(g, c, 0, t, TH_FIN | TH_ACK, C->snd, C->rcv, 0, C->win);
            C->snd++;
            S->rcv++;
            /* a FIN is ACKed at once unless the response comes sooner */
            S->pend = true;
            S->pend_t = t + S->tap_rtt;
            S->pend_ack = S->rcv;
        }
        int64_t t_resp = t + S->tap_rtt + rng_lognorm(r, 3000, 1.2, 50, 2000000);
        if (last && abort_last) {
            uint32_t resp = (8 + (uint32_t)rng_below(r, 40)) * S->mss;
            long ak = 1 + (long)rng_below(r, 7);
            return send_msg(g, c, 1, t_resp, resp, L_NONE, 0, ak, true);
        }
        uint32_t resp = (uint32_t)rng_lognorm(r, (double)g->o.resp_median, 1.3, 1,
                                              (double)g->o.max_resp);
        uint32_t lk = 0;
        enum loss lkind = pick_loss(r, (resp + S->mss - 1) / S->mss, &lk);
        t = send_msg(g, c, 1, t_resp, resp, lkind, lk, -1, true);
    }
    return t;
}

/* FIN exchange started by side a (0 client, 1 server) after an idle time
 * drawn from (median, lo, hi); the peer sends FIN with its ACK (probability
 * p_joint) or ACK then FIN after up to gap_max us; a closes with an ACK. */
static void close_fin(struct gen *g, struct conn *c, int64_t t, int a, double median, double lo,
                      double hi, double p_joint, int64_t gap_min, uint64_t gap_max)
{
    struct rng *r = &g->r;
    int b = 1 - a;
    struct dir *A = &c->dir[a], *B = &c->dir[b];
    t = after_own(c, a, t + rng_lognorm(r, median, 1.5, lo, hi));
    flush_ack(g, c, a, t);
    flush_ack(g, c, b, t + B->tap_rtt);
    uint32_t x = A->snd, y = B->snd;
    emit(g, c, a, t, TH_FIN | TH_ACK, x, A->rcv, 0, A->win);
    A->snd++;
    t += B->tap_rtt;
    if (rng_unif(r) < p_joint) {
        emit(g, c, b, t, TH_FIN | TH_ACK, y, x + 1, 0, B->win);
    } else {
        emit(g, c, b, t, TH_ACK, y, x + 1, 0, B->win);
        t += gap_min + (int64_t)rng_below(r, gap_max);
        emit(g, c, b, t, TH_FIN | TH_ACK, y, x + 1, 0, B->win);
    }
    B->snd++;
    t += A->tap_rtt;
    emit(g, c, a, t, TH_ACK, x + 1, y + 1, 0, A->win);
}

/* Client closes first. */
static void close_client_first(struct gen *g, struct conn *c, int64_t t)
{
    c->notes.close = CL_CLIENT_FIN;
    close_fin(g, c, t, 0, 100000, 100, 30000000, 0.7, 20, 5000);
}

/* Server closes first (keep-alive timeout). */
static void close_server_first(struct gen *g, struct conn *c, int64_t t)
{
    c->notes.close = CL_SERVER_FIN;
    close_fin(g, c, t, 1, 500000, 1000, 60000000, 0.4, 50, 20000);
}

/* Both FINs cross at the tap's sides. */
static void close_simultaneous(struct gen *g, struct conn *c, int64_t t)
{
    struct rng *r = &g->r;
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    c->notes.close = CL_SIMULTANEOUS;
    t = after_own(c, 0, t + rng_lognorm(r, 200000, 1.2, 100, 20000000));
    flush_ack(g, c, 0, t);
    flush_ack(g, c, 1, t);
    uint32_t x = C->snd, y = S->snd;
    emit(g, c, 0, t, TH_FIN | TH_ACK, x, y, 0, C->win);
    int64_t tb = t + (int64_t)((double)S->tap_rtt * (0.1 + 0.8 * rng_unif(r)));
    emit(g, c, 1, tb, TH_FIN | TH_ACK, y, x, 0, S->win);
    emit(g, c, 0, tb + C->tap_rtt, TH_ACK, x + 1, y + 1, 0, C->win);
    emit(g, c, 1, t + S->tap_rtt, TH_ACK, y + 1, x + 1, 0, S->win);
    C->snd++;
    S->snd++;
}

/* Abort by RST/ACK from side d after an idle time. */
static void close_rst(struct gen *g, struct conn *c, int64_t t, int d, enum abort_kind who)
{
    c->notes.abort = who;
    t = after_own(c, d, t + rng_lognorm(&g->r, 150000, 1.5, 100, 30000000));
    flush_ack(g, c, 0, t);
    flush_ack(g, c, 1, t);
    emit(g, c, d, t, TH_RST | TH_ACK, c->dir[d].snd, c->dir[d].rcv, 0, 0);
}

/* Server finishes after the client's half-close: its FIN, the client's ACK. */
static void close_after_half(struct gen *g, struct conn *c, int64_t t)
{
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    c->notes.close = CL_HALF_CLOSE;
    t += 5 + (int64_t)rng_below(&g->r, 300);
    flush_ack(g, c, 1, t);
    emit(g, c, 1, t, TH_FIN | TH_ACK, S->snd, C->snd, 0, S->win);
    S->snd++;
    C->pend = false;
    emit(g, c, 0, t + C->tap_rtt, TH_ACK, C->snd, S->snd, 0, C->win);
}

/* Three-way handshake (SYN possibly retransmitted); returns the time of the ACK. */
static int64_t handshake(struct gen *g, struct conn *c, int64_t t)
{
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    emit_syn(g, c, 0, t, false, 0);
    if (rng_unif(&g->r) < P_SYN_RETX) {
        t += 1000000 + (int64_t)rng_below(&g->r, 3000);
        emit_syn(g, c, 0, t, false, 0);
        c->notes.syn_retx = 1;
    }
    t += S->tap_rtt;
    emit_syn(g, c, 1, t, true, C->isn + 1);
    t += C->tap_rtt;
    emit(g, c, 0, t, TH_ACK, C->isn + 1, S->isn + 1, 0, C->win);
    return t;
}

/* Client-first or server-first FIN close, chosen with probability p_client. */
static void close_either(struct gen *g, struct conn *c, int64_t t, double p_client)
{
    if (rng_unif(&g->r) < p_client)
        close_client_first(g, c, t);
    else
        close_server_first(g, c, t);
}

/* Scripts the connection's whole life from c->t0. */
static void script(struct gen *g, struct conn *c)
{
    struct rng *r = &g->r;
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    int64_t t = c->t0;
    switch (c->v) {
    case V_REFUSED: {
        int tries = c->tup.profile == PR_WINDOWS ? 3 : 1;
        for (int k = 0; k < tries; k++) {
            emit_syn(g, c, 0, t, false, 0);
            emit_raw(g, c, 1, t + S->tap_rtt, TH_RST | TH_ACK, 0, C->isn + 1, 0,
                     (const uint8_t *)"", 0, 0);
            t += S->tap_rtt + 500000 + (int64_t)rng_below(r, 20000);
        }
        c->notes.syn_tries = tries;
        return;
    }
    case V_NOANSWER: {
        static const int nret_pick[6] = {1, 2, 2, 3, 3, 4};
        int nret = nret_pick[rng_below(r, 6)];
        if (c->tup.profile == PR_WINDOWS && nret > 2)
            nret = 2;
        int64_t rto = 1000000;
        emit_syn(g, c, 0, t, false, 0);
        for (int k = 0; k < nret; k++) {
            t += rto + (int64_t)rng_below(r, 3000);
            rto *= 2;
            emit_syn(g, c, 0, t, false, 0);
        }
        c->notes.syn_retx = nret;
        return;
    }
    case V_MIDSTREAM: {
        /* already established: no SYN, options unknown to the observer */
        int nr;
        t += 1;
        if (rng_unif(r) < 0.4) {
            uint32_t n = (uint32_t)rng_lognorm(r, 4.0 * (double)g->o.resp_median, 1.2, 1,
                                               (double)g->o.max_resp);
            t = send_msg(g, c, 1, t, n, L_NONE, 0, -1, true);
            nr = (int)rng_below(r, 3);
        } else {
            nr = 1 + (int)rng_below(r, 3);
        }
        if (nr)
            t = rounds(g, c, t, nr, rng_unif(r) < 0.3, false, false, false);
        double x = rng_unif(r);
        if (x < 0.5)
            close_client_first(g, c, t);
        else if (x < 0.9)
            close_server_first(g, c, t);
        else
            close_rst(g, c, t, 0, AB_CLIENT);
        return;
    }
    case V_SIMOPEN: {
        emit_syn(g, c, 0, t, false, 0);
        int64_t tb = t + (int64_t)((double)S->tap_rtt * (0.1 + 0.8 * rng_unif(r)));
        emit_syn(g, c, 1, tb, false, 0);
        int64_t ta = tb + C->tap_rtt, tsa = t + S->tap_rtt;
        emit_syn(g, c, 0, ta, true, S->isn + 1);
        emit_syn(g, c, 1, tsa, true, C->isn + 1);
        t = (ta > tsa ? ta : tsa) + C->tap_rtt;
        t = rounds(g, c, t, 1 + (int)rng_below(r, 3), false, false, false, false);
        close_either(g, c, t, 0.5);
        return;
    }
    case V_RST: {
        t = handshake(g, c, t);
        double x = rng_unif(r);
        int nr = 1 + (int)rng_below(r, 3);
        if (x < 0.35) {
            c->notes.abort = AB_CLIENT_MID;
            rounds(g, c, t, nr, false, false, true, false);
            return;
        }
        t = rounds(g, c, t, nr, false, false, false, false);
        if (x < 0.7)
            close_rst(g, c, t, 0, AB_CLIENT);
        else
            close_rst(g, c, t, 1, AB_SERVER);
        return;
    }
    case V_SIMCLOSE:
        t = handshake(g, c, t);
        t = rounds(g, c, t, 1 + (int)rng_below(r, 3), false, false, false, false);
        close_simultaneous(g, c, t);
        return;
    case V_FIN: {
        t = handshake(g, c, t);
        double x = rng_unif(r);
        bool long_lived = rng_unif(r) < 0.04;
        int nr;
        if (rng_unif(r) < 0.03) {
            nr = 0;
        } else if (long_lived) {
            nr = 5 + (int)rng_below(r, 10);
        } else {
            double y = rng_unif(r);
            nr = y < 0.6 ? 1 : y < 0.8 ? 2 : y < 0.9 ? 3 : 4 + (int)rng_below(r, 5);
        }
        bool server_first = nr > 0 && rng_unif(r) < 0.10;
        if (x < 0.05 && nr > 0) {
            t = rounds(g, c, t, nr, long_lived, true, false, server_first);
            close_after_half(g, c, t);
            return;
        }
        t = rounds(g, c, t, nr, long_lived, false, false, server_first);
        /* of the rest: client first 52 % of all, server first 43 % */
        if (x < 0.05 + 0.55 * 0.95)
            close_client_first(g, c, t);
        else
            close_server_first(g, c, t);
        return;
    }
    case V_COUNT:
        break;
    }
}

/* Draws the connection's host and path parameters and its per-direction constants. */
static void conn_init(struct gen *g, struct conn *c)
{
    struct rng *r = &g->r;
    struct dir *C = &c->dir[0], *S = &c->dir[1];
    const struct tuple *tp = &c->tup;
    int prof = tp->profile;
    bool v6 = tp->v6, ts = profiles[prof].ts;
    addr_client(v6, tp->cidx, c->caddr);
    addr_server(v6, tp->sidx, c->saddr);
    memset(&c->notes, 0, sizeof c->notes);
    c->nfr = 0;
    c->nbuf = 0;
    c->next = 0;
    c->tbeg = INT64_MAX;
    c->tend = c->t0;
    for (int d = 0; d < 2; d++) {
        c->dir[d].ntst = 0;
        c->dir[d].pbytes = 0;
        c->dir[d].pend = false;
        c->dir[d].tmax = 0;
    }
    C->synwin = profiles[prof].synwin;
    S->synwin = v6 ? 64800 : 64240;
    C->ws = profiles[prof].ws;
    S->ws = rng_unif(r) < 0.8 ? 7 : 9;
    C->win = (uint16_t)(C->ws >= 7 ? 200 + rng_below(r, 2800) : 1026 + rng_below(r, 500));
    S->win = (uint16_t)(200 + rng_below(r, 1800));
    C->ato = profiles[prof].ato;
    S->ato = SERVER_ATO;
    C->ttl = profiles[prof].ttl;
    uint32_t hops = 6 + (uint32_t)rng_below(r, 18);
    S->ttl = (uint8_t)((rng_unif(r) < 0.8 ? 64 : 128) - hops);
    if (v6) {
        static const uint16_t alt6[3] = {1420, 1380, 1220};
        C->amss = rng_unif(r) < 0.85 ? 1440 : alt6[rng_below(r, 3)];
        S->amss = 1440;
    } else {
        static const uint16_t alt4[4] = {1452, 1400, 1380, 1360};
        double x = rng_unif(r);
        C->amss = x < 0.8 ? 1460 : alt4[(int)((x - 0.8) * 20)];
        S->amss = rng_unif(r) < 0.9 ? 1460 : 1400;
    }
    C->mss = S->mss = (uint16_t)((C->amss < S->amss ? C->amss : S->amss) - (ts ? 12 : 0));
    /* delays as seen from the tap: client side ~0.3 ms, server side ~25 ms */
    double cr = 300.0 * exp(0.6 * rng_gauss(r)), sr = 25000.0 * exp(0.9 * rng_gauss(r));
    C->tap_rtt = (int64_t)(cr < 50 ? 50 : cr > 5000 ? 5000 : cr);
    S->tap_rtt = (int64_t)(sr < 500 ? 500 : sr > 600000 ? 600000 : sr);
    double rate = 40e6 * exp(rng_gauss(r)); /* bottleneck bit/s toward the client */
    rate = rate < 2e6 ? 2e6 : rate > 1e9 ? 1e9 : rate;
    C->upb = 8e6 / 1e9;
    S->upb = 8e6 / rate;
    for (int d = 0; d < 2; d++) {
        struct dir *dr = &c->dir[d];
        uint64_t x = rng_next(r), y = rng_next(r);
        dr->isn = (uint32_t)(x >> 32);
        dr->tsoff = (uint32_t)x;
        dr->pbase = (uint32_t)(y >> 47);
        dr->ipid = (uint16_t)(y >> 16);
        dr->flow = (6u << 28) | (uint32_t)(y & 0xfffff);
    }
    C->snd = C->isn + 1;
    S->snd = S->isn + 1;
    C->rcv = S->isn + 1;
    S->rcv = C->isn + 1;
    size_t alen = v6 ? 16 : 4;
    uint64_t aw = words_sum(c->caddr, alen) + words_sum(c->saddr, alen);
    uint8_t cmac[6] = {0x02, 0x00};
    put32(cmac + 2, tp->cidx);
    for (int d = 0; d < 2; d++) {
        struct dir *dr = &c->dir[d];
        dr->pseudo = aw + 6;
        dr->ipbase = 0x4500 + 0x4000 + (uint32_t)(dr->ttl << 8 | 6) + aw;
        memcpy(dr->hdr, d ? cmac : gw_mac, 6);
        memcpy(dr->hdr + 6, d ? gw_mac : cmac, 6);
        size_t n = 12;
        if (tp->vlan) {
            put16(dr->hdr + 12, 0x8100);
            put16(dr->hdr + 14, tp->vlan);
            n = 16;
        }
        put16(dr->hdr + n, v6 ? 0x86dd : 0x0800);
        dr->hdrlen = (uint8_t)(n + 2);
    }
}

/* ---- open-tuple set ---------------------------------------------------- */

static inline bool tuple_eq(const struct tuple *a, const struct tuple *b)
{
    return a->cidx == b->cidx && a->sidx == b->sidx && a->cport == b->cport &&
           a->sport == b->sport && a->v6 == b->v6;
}

/* Hash of the 4-tuple (VLAN and profile are not part of it). */
static inline uint32_t tuple_hash(const struct tuple *t)
{
    uint64_t x = ((uint64_t)t->cidx << 33) ^ ((uint64_t)t->cport << 17) ^ t->v6;
    uint64_t y = ((uint64_t)t->sidx << 16) ^ t->sport;
    x ^= y * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x ^ (x >> 32));
}

/* Index of t's slot in the set, or of the empty slot where it would go. */
static uint32_t tset_find(const struct gen *g, const struct tuple *t)
{
    uint32_t m = g->tcap - 1, i = tuple_hash(t) & m;
    while (g->tused[i] && !tuple_eq(&g->tset[i], t))
        i = (i + 1) & m;
    return i;
}

/* Whether t is open now. */
static bool tset_has(const struct gen *g, const struct tuple *t)
{
    return g->tcap && g->tused[tset_find(g, t)];
}

/* Adds t (not present) to the set, doubling it past half load. */
static void tset_add(struct gen *g, const struct tuple *t)
{
    if (2 * (g->tcount + 1) > g->tcap) {
        struct tuple *ot = g->tset;
        uint8_t *ou = g->tused;
        uint32_t oc = g->tcap;
        g->tcap = oc ? 2 * oc : 8192;
        g->tset = calloc(g->tcap, sizeof *g->tset);
        g->tused = calloc(g->tcap, 1);
        if (!g->tset || !g->tused) {
            fprintf(stderr, "gencorpus: out of memory\n");
            exit(1);
        }
        for (uint32_t i = 0; i < oc; i++)
            if (ou[i]) {
                uint32_t j = tset_find(g, &ot[i]);
                g->tset[j] = ot[i];
                g->tused[j] = 1;
            }
        free(ot);
        free(ou);
    }
    uint32_t i = tset_find(g, t);
    g->tset[i] = *t;
    g->tused[i] = 1;
    g->tcount++;
}

/* Removes t (present) with backward-shift deletion. */
static void tset_del(struct gen *g, const struct tuple *t)
{
    uint32_t m = g->tcap - 1, i = tset_find(g, t), j = i;
    g->tused[i] = 0;
    g->tcount--;
    for (;;) {
        j = (j + 1) & m;
        if (!g->tused[j])
            return;
        uint32_t h = tuple_hash(&g->tset[j]) & m;
        /* move j back to the hole i unless its home lies cyclically in (i, j] */
        if ((i <= j) ? (i < h && h <= j) : (i < h || h <= j))
            continue;
        g->tset[i] = g->tset[j];
        g->tused[i] = 1;
        g->tused[j] = 0;
        i = j;
    }
}

/* ---- output ------------------------------------------------------------ */

/* Writes the output buffer out. */
static void out_flush(struct gen *g)
{
    if (g->nobuf && fwrite(g->obuf, 1, g->nobuf, g->out) != g->nobuf)
        g->failed = true;
    g->bytes += g->nobuf;
    g->nobuf = 0;
}

static inline bool heap_less(const struct gen *g, uint32_t a, uint32_t b)
{
    const struct conn *x = &g->slots[a], *y = &g->slots[b];
    int64_t tx = x->fr[x->next].t, ty = y->fr[y->next].t;
    return tx < ty || (tx == ty && x->cid < y->cid);
}

/* Restores the heap below position i. */
static void heap_down(struct gen *g, uint32_t i)
{
    uint32_t *h = g->heap, n = g->nheap, v = h[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n)
            break;
        if (l + 1 < n && heap_less(g, h[l + 1], h[l]))
            l++;
        if (!heap_less(g, h[l], v))
            break;
        h[i] = h[l];
        i = l;
    }
    h[i] = v;
}

/* Adds slot s (with frames) to the heap. */
static void heap_push(struct gen *g, uint32_t s)
{
    uint32_t *h = g->heap, i = g->nheap++;
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(g, s, h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = s;
}

/* A connection whose frames are all written: its tuple is closed and may be
 * reused (the pool keeps POOL_MAX, replacing at random when full). */
static void conn_done(struct gen *g, uint32_t s)
{
    struct conn *c = &g->slots[s];
    tset_del(g, &c->tup);
    if (g->npool < POOL_MAX)
        g->pool[g->npool++].tup = c->tup;
    else
        g->pool[rng_below(&g->r, g->npool)].tup = c->tup;
    g->freel[g->nfree++] = s;
}

/* Writes every queued frame before time t (all of them when t < 0). */
static void pop_until(struct gen *g, int64_t t)
{
    while (g->nheap) {
        uint32_t s = g->heap[0];
        struct conn *c = &g->slots[s];
        const struct frame *f = &c->fr[c->next];
        if (t >= 0 && f->t >= t)
            break;
        const uint8_t *p = c->buf + f->off;
        size_t len = 16 + (size_t)(p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24);
        if (g->nobuf + len > OUTBUF)
            out_flush(g);
        memcpy(g->obuf + g->nobuf, p, len);
        g->nobuf += len;
        g->packets++;
        if (++c->next == c->nfr) {
            g->heap[0] = g->heap[--g->nheap];
            conn_done(g, s);
        }
        if (g->nheap)
            heap_down(g, 0);
    }
}

/* Sorts the connection's frames by (time, emission number): nearly sorted
 * already, so insertion sort. */
static void sort_frames(struct conn *c)
{
    struct frame *f = c->fr;
    for (uint32_t i = 1; i < c->nfr; i++) {
        struct frame x = f[i];
        uint32_t j = i;
        while (j && (f[j - 1].t > x.t || (f[j - 1].t == x.t && f[j - 1].n > x.n))) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
}

/* A free connection slot. */
static uint32_t slot_get(struct gen *g)
{
    if (g->nfree)
        return g->freel[--g->nfree];
    if (g->nslots == g->capslots) {
        uint32_t cap = g->capslots;
        g->slots = grow(g->slots, &cap, g->nslots + 1, sizeof *g->slots);
        memset(g->slots + g->capslots, 0, (cap - g->capslots) * sizeof *g->slots);
        uint32_t c2 = g->capslots, c3 = g->capslots;
        g->freel = grow(g->freel, &c2, cap, sizeof *g->freel);
        g->heap = grow(g->heap, &c3, cap, sizeof *g->heap);
        g->capslots = cap;
    }
    return g->nslots++;
}

/* Writes the connection's truth line (keys sorted, like json.dumps(sort_keys=True)). */
static void write_truth(struct gen *g, const struct conn *c)
{
    char ca[INET6_ADDRSTRLEN], sa[INET6_ADDRSTRLEN];
    int af = c->tup.v6 ? AF_INET6 : AF_INET;
    inet_ntop(af, c->caddr, ca, sizeof ca);
    inet_ntop(af, c->saddr, sa, sizeof sa);
    const struct notes *n = &c->notes;
    const char *end = c->v == V_REFUSED    ? "refused"
                      : c->v == V_NOANSWER ? "unanswered"
                      : n->abort           ? "rst"
                                           : "fin";
    char nb[256];
    size_t k = 0;
#define NOTE(...) k += (size_t)snprintf(nb + k, sizeof nb - k, __VA_ARGS__)
    const char *sep = "";
    if (n->abort)
        NOTE("%s\"abort\": \"%s\"", sep, abort_name[n->abort]), sep = ", ";
    if (n->close)
        NOTE("%s\"close\": \"%s\"", sep, close_name[n->close]), sep = ", ";
    if (n->ooo)
        NOTE("%s\"ooo\": %d", sep, n->ooo), sep = ", ";
    if (n->req_rto)
        NOTE("%s\"req_rto\": %d", sep, n->req_rto), sep = ", ";
    if (n->retx_down)
        NOTE("%s\"retx_down\": %d", sep, n->retx_down), sep = ", ";
    if (n->retx_up)
        NOTE("%s\"retx_up\": %d", sep, n->retx_up), sep = ", ";
    if (n->syn_retx)
        NOTE("%s\"syn_retx\": %d", sep, n->syn_retx), sep = ", ";
    if (n->syn_tries)
        NOTE("%s\"syn_tries\": %d", sep, n->syn_tries);
#undef NOTE
    fprintf(g->truth,
            "{\"client\": [\"%s\", %u], \"end\": \"%s\", \"family\": %d, \"first_us\": %lld, "
            "\"id\": %llu, \"isn_client\": %u, \"isn_server\": %u, \"last_us\": %lld, "
            "\"notes\": {%s}, \"packets\": %u, \"payload_bytes\": [%llu, %llu], "
            "\"profile\": \"%s\", \"reused_tuple\": %s, \"server\": [\"%s\", %u], "
            "\"variant\": \"%s\", \"vlan\": %u}\n",
            ca, c->tup.cport, end, c->tup.v6 ? 6 : 4, (long long)c->tbeg,
            (unsigned long long)c->cid, c->dir[0].isn, c->dir[1].isn, (long long)c->tend, nb,
            c->nfr, (unsigned long long)c->dir[0].pbytes, (unsigned long long)c->dir[1].pbytes,
            profiles[c->tup.profile].name, c->reused ? "true" : "false", sa, c->tup.sport,
            variant_name[c->v], c->tup.vlan);
}

static bool avoided(uint32_t port)
{
    for (size_t i = 0; i < sizeof avoid_ports / sizeof avoid_ports[0]; i++)
        if (port == avoid_ports[i])
            return true;
    return false;
}

/* Chooses the connection's 4-tuple: a closed one again (P_REUSE, when
 * allowed) or a fresh one not open now.  Returns true for a reused tuple. */
static bool new_tuple(struct gen *g, enum variant v, bool allow_reuse, struct tuple *out)
{
    struct rng *r = &g->r;
    const struct opts *o = &g->o;
    if (allow_reuse && g->npool && rng_unif(r) < P_REUSE) {
        uint32_t j = (uint32_t)rng_below(r, g->npool);
        struct tuple cand = g->pool[j].tup;
        g->pool[j] = g->pool[--g->npool];
        if (!tset_has(g, &cand)) {
            *out = cand;
            return true;
        }
    }
    for (;;) {
        struct tuple t = {0};
        t.v6 = rng_unif(r) < o->ipv6;
        t.cidx = 1 + (uint32_t)rng_below(r, (uint64_t)o->clients);
        /* linux 45 %, windows 35 %, macos 20 % of client hosts */
        uint32_t h = t.cidx % 20;
        t.profile = h < 9 ? PR_LINUX : h < 16 ? PR_WINDOWS : PR_MACOS;
        if (v == V_SIMOPEN) { /* peer-to-peer style: both ports ephemeral */
            t.profile = PR_LINUX;
            t.cport = (uint16_t)(40000 + rng_below(r, 25000));
            t.sport = (uint16_t)(40000 + rng_below(r, 25000));
            if (avoided(t.sport))
                continue;
        } else {
            uint32_t lo = profiles[t.profile].port_lo, hi = profiles[t.profile].port_hi;
            t.cport = (uint16_t)(lo + rng_below(r, hi - lo + 1));
        }
        if (avoided(t.cport))
            continue;
        if (v != V_SIMOPEN) {
            double x = rng_unif(r);
            int k = 0;
            while (k < g->nports - 1 && x >= g->port_cum[k])
                k++;
            t.sport = g->port_num[k];
        }
        if (rng_unif(r) < 0.6) { /* a few popular servers */
            double u = rng_unif(r);
            t.sidx = 1 + (uint32_t)(100.0 * u * u * u);
        } else {
            t.sidx = 1 + (uint32_t)rng_below(r, (uint64_t)o->servers);
        }
        if (o->vlan > 0 && rng_unif(r) < o->vlan)
            t.vlan = (uint16_t)(100 + t.cidx % 8);
        if (!tset_has(g, &t)) {
            *out = t;
            return false;
        }
    }
}

/* Parses "port:weight,..." into cumulative weights. */
static bool parse_ports(struct gen *g, const char *s)
{
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    g->port_cum = calloc((size_t)n, sizeof *g->port_cum);
    g->port_num = calloc((size_t)n, sizeof *g->port_num);
    double *w = calloc((size_t)n, sizeof *w);
    if (!g->port_cum || !g->port_num || !w)
        return false;
    double tot = 0;
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *e;
        long port = strtol(p, &e, 10);
        if (e == p || port < 1 || port > 65535)
            return free(w), false;
        w[i] = 1;
        if (*e == ':') {
            p = e + 1;
            w[i] = strtod(p, &e);
            if (e == p || !(w[i] > 0))
                return free(w), false;
        }
        if (*e != (i + 1 < n ? ',' : '\0'))
            return free(w), false;
        p = e + 1;
        g->port_num[i] = (uint16_t)port;
        tot += w[i];
    }
    double acc = 0;
    for (int i = 0; i < n; i++)
        g->port_cum[i] = (acc += w[i] / tot);
    g->nports = n;
    free(w);
    return true;
}

static void usage(FILE *f)
{
    fputs("usage: gencorpus --connections N --out F.pcap [--truth F.jsonl] [--seed S]\n"
          "         [--snaplen B] [--concurrency C] [--ipv6 FRAC] [--vlan FRAC]\n"
          "         [--req-median B] [--resp-median B] [--max-resp B] [--clients N]\n"
          "         [--servers N] [--ports P:W,...] [--start EPOCH_S] [--quiet]\n"
          "Writes a deterministic synthetic pcap (us, Ethernet) of a busy access link\n"
          "and, with --truth, one JSON line of ground truth per connection.\n",
          f);
}

/* Parses the command line into o; returns false (after a message) on a bad one. */
static bool parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"connections", 1, 0, 'n'}, {"seed", 1, 0, 's'},        {"out", 1, 0, 'o'},
        {"truth", 1, 0, 't'},       {"concurrency", 1, 0, 'c'}, {"ipv6", 1, 0, '6'},
        {"vlan", 1, 0, 'v'},        {"req-median", 1, 0, 'q'},  {"resp-median", 1, 0, 'r'},
        {"max-resp", 1, 0, 'm'},    {"snaplen", 1, 0, 'S'},     {"clients", 1, 0, 'C'},
        {"servers", 1, 0, 'V'},     {"ports", 1, 0, 'p'},       {"start", 1, 0, 'T'},
        {"quiet", 0, 0, 'Q'},       {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    *o = (struct opts){.connections = -1, .concurrency = 3000, .clients = 40000, .servers = 3000,
                       .seed = 1, .ipv6 = 0.10, .start = 1700000000.0, .req_median = 400,
                       .resp_median = 2500, .max_resp = 131072, .snaplen = 262144,
                       .ports = "8443:50,4433:15,10443:15,8444:10,20443:10"};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *e = NULL;
        errno = 0;
        switch (ch) {
        case 'n': o->connections = strtol(optarg, &e, 10); break;
        case 's': o->seed = strtoull(optarg, &e, 10); break;
        case 'o': o->out = optarg; break;
        case 't': o->truth = optarg; break;
        case 'c': o->concurrency = strtol(optarg, &e, 10); break;
        case '6': o->ipv6 = strtod(optarg, &e); break;
        case 'v': o->vlan = strtod(optarg, &e); break;
        case 'q': o->req_median = strtol(optarg, &e, 10); break;
        case 'r': o->resp_median = strtol(optarg, &e, 10); break;
        case 'm': o->max_resp = strtol(optarg, &e, 10); break;
        case 'S': o->snaplen = strtol(optarg, &e, 10); break;
        case 'C': o->clients = strtol(optarg, &e, 10); break;
        case 'V': o->servers = strtol(optarg, &e, 10); break;
        case 'p': o->ports = optarg; break;
        case 'T': o->start = strtod(optarg, &e); break;
        case 'Q': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return false;
        }
        if (e && (*e || e == optarg || errno)) {
            fprintf(stderr, "gencorpus: bad number '%s'\n", optarg);
            return false;
        }
    }
    const char *bad = NULL;
    if (optind < argc)
        bad = "unexpected argument";
    else if (o->connections < 1)
        bad = "--connections N (>= 1) is required";
    else if (!o->out)
        bad = "--out FILE is required";
    else if (o->snaplen < 54 || o->snaplen > 262144)
        bad = "--snaplen must be in [54, 262144]";
    else if (o->clients < 1 || o->clients > 254L * 65536 - 1)
        bad = "--clients must be in [1, 16646143]";
    else if (o->servers < 100 || o->servers > 254L * 512 - 1)
        bad = "--servers must be in [100, 130047]";
    else if (!(o->ipv6 >= 0 && o->ipv6 <= 1) || !(o->vlan >= 0 && o->vlan <= 1))
        bad = "--ipv6 and --vlan are fractions in [0, 1]";
    else if (o->req_median < 1 || o->resp_median < 1 || o->max_resp < 1 ||
             o->max_resp > 64L << 20)
        bad = "sizes must be >= 1 (--max-resp <= 64 MiB)";
    else if (o->concurrency < 1)
        bad = "--concurrency must be >= 1";
    else if (!(o->start >= 0 && o->start < 4e9))
        bad = "--start must be epoch seconds before 2096";
    if (bad) {
        fprintf(stderr, "gencorpus: %s\n", bad);
        usage(stderr);
        return false;
    }
    return true;
}

/* Frees every buffer of the generator. */
static void gen_free(struct gen *g)
{
    for (uint32_t i = 0; i < g->nslots; i++) {
        struct conn *c = &g->slots[i];
        free(c->fr);
        free(c->buf);
        free(c->dir[0].tst);
        free(c->dir[1].tst);
    }
    free(g->slots);
    free(g->freel);
    free(g->heap);
    free(g->tset);
    free(g->tused);
    free(g->port_cum);
    free(g->port_num);
    free(g->obuf);
}

/* Monotonic clock in seconds. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static struct gen G;
    struct gen *g = &G;
    if (!parse_args(argc, argv, &g->o))
        return 2;
    const struct opts *o = &g->o;
    if (!parse_ports(g, o->ports)) {
        fprintf(stderr, "gencorpus: bad --ports '%s' (port:weight,...)\n", o->ports);
        gen_free(g);
        return 2;
    }
    double t_begin = now_s();
    rng_seed(&g->r, o->seed);
    pay_init(o->seed);

    /* exact counts per variant, shuffled; mid-stream ones first (they are
     * open at the start of the capture) */
    long n = o->connections, cnt[V_COUNT], sum = 0;
    for (int v = 1; v < V_COUNT; v++)
        sum += cnt[v] = lround(variant_frac[v] * (double)n);
    long capm = o->concurrency / 2 > 1 ? o->concurrency / 2 : 1;
    if (cnt[V_MIDSTREAM] > capm) {
        sum -= cnt[V_MIDSTREAM] - capm;
        cnt[V_MIDSTREAM] = capm;
    }
    cnt[V_FIN] = n - sum;
    int rc = 2;
    uint8_t *var = NULL;
    int64_t *recent = NULL;
    if (cnt[V_FIN] < 0) {
        fprintf(stderr, "gencorpus: too few connections for the mix\n");
        goto done;
    }
    rc = 1;
    var = malloc((size_t)n);
    g->obuf = malloc(OUTBUF);
    recent = calloc(RECENT, sizeof *recent);
    if (!var || !g->obuf || !recent) {
        fprintf(stderr, "gencorpus: out of memory\n");
        goto done;
    }
    long k = 0;
    for (long i = 0; i < cnt[V_MIDSTREAM]; i++)
        var[k++] = V_MIDSTREAM;
    long rest0 = k;
    for (int v = 0; v < V_MIDSTREAM; v++)
        for (long i = 0; i < cnt[v]; i++)
            var[k++] = (uint8_t)v;
    for (long i = n - 1; i > rest0; i--) {
        long j = rest0 + (long)rng_below(&g->r, (uint64_t)(i - rest0 + 1));
        uint8_t x = var[i];
        var[i] = var[j];
        var[j] = x;
    }

    g->out = fopen(o->out, "wb");
    if (!g->out) {
        fprintf(stderr, "gencorpus: %s: %s\n", o->out, strerror(errno));
        goto done;
    }
    if (o->truth && !(g->truth = fopen(o->truth, "w"))) {
        fprintf(stderr, "gencorpus: %s: %s\n", o->truth, strerror(errno));
        goto done;
    }
    uint8_t fh[24];
    put32le(fh, 0xa1b2c3d4);
    fh[4] = 2, fh[5] = 0, fh[6] = 4, fh[7] = 0; /* version 2.4 */
    put32le(fh + 8, 0);
    put32le(fh + 12, 0);
    put32le(fh + 16, (uint32_t)o->snaplen);
    put32le(fh + 20, 1); /* LINKTYPE_ETHERNET */
    memcpy(g->obuf, fh, sizeof fh);
    g->nobuf = sizeof fh;

    const int64_t T0 = llround(o->start * 1e6);
    const double C = (double)o->concurrency;
    int64_t t = T0, t_last_start = T0, peak = 0;
    double d_eff = 1e6, area = 0, last_prog = t_begin;
    uint32_t nrecent = 0, rpos = 0;
    bool have_deff = false;
    long closes[CL_COUNT] = {0}, aborts[AB_COUNT] = {0};
    for (long cid = 0; cid < n; cid++) {
        enum variant v = (enum variant)var[cid];
        int64_t start;
        if (v == V_MIDSTREAM) {
            start = T0 + (int64_t)rng_below(&g->r, 300000);
        } else {
            /* Little's law: rate = target / E[min(duration, elapsed + 1 s)]
             * over recent connections, nudged by how many are open now */
            if (((cid & 127) == 0 || !have_deff) && nrecent) {
                have_deff = true;
                int64_t tau = t - T0 + 1000000, s = 0;
                for (uint32_t i = 0; i < nrecent; i++)
                    s += recent[i] < tau ? recent[i] : tau;
                d_eff = (double)s / nrecent;
                if (d_eff < 50000)
                    d_eff = 50000;
            }
            double fb = sqrt(C / (g->nheap > 1 ? (double)g->nheap : 1.0));
            fb = fb < 0.5 ? 0.5 : fb > 2.0 ? 2.0 : fb;
            double lam = C / d_eff * fb; /* arrivals per us */
            t += 1 + (int64_t)(-log(1.0 - rng_unif(&g->r)) / lam);
            start = t;
            area += (double)g->nheap * (double)(t - t_last_start);
            t_last_start = t;
            pop_until(g, start);
        }
        uint32_t s = slot_get(g);
        struct conn *c = &g->slots[s];
        c->cid = (uint64_t)cid;
        c->v = v;
        c->t0 = start;
        c->reused = new_tuple(g, v, v == V_FIN || v == V_RST || v == V_REFUSED || v == V_NOANSWER,
                              &c->tup);
        conn_init(g, c);
        script(g, c);
        if (c->tbeg < start) {
            fprintf(stderr, "gencorpus: internal error: frame before its connection's start\n");
            goto done;
        }
        sort_frames(c);
        tset_add(g, &c->tup);
        heap_push(g, s);
        if ((int64_t)g->nheap > peak)
            peak = g->nheap;
        recent[rpos] = c->tend - start;
        rpos = (rpos + 1) % RECENT;
        if (nrecent < RECENT)
            nrecent++;
        const struct notes *nt = &c->notes;
        g->stat_reused += c->reused;
        g->stat_synretx += nt->syn_retx && v != V_NOANSWER;
        g->stat_retx_down += (uint64_t)nt->retx_down;
        g->stat_retx_up += (uint64_t)nt->retx_up;
        g->stat_ooo += (uint64_t)nt->ooo;
        g->stat_reqrto += (uint64_t)nt->req_rto;
        g->stat_v6 += c->tup.v6;
        g->stat_vlan += c->tup.vlan != 0;
        closes[nt->close]++;
        aborts[nt->abort]++;
        if (g->truth)
            write_truth(g, c);
        if (!o->quiet && (cid & 0x3fff) == 0 && now_s() - last_prog > 2) {
            last_prog = now_s();
            fprintf(stderr, "\r%ld/%ld connections, %llu packets written", cid, n,
                    (unsigned long long)g->packets);
        }
    }
    pop_until(g, -1);
    out_flush(g);
    int e = fclose(g->out);
    g->out = NULL;
    if (e != 0 || g->failed) {
        fprintf(stderr, "gencorpus: %s: write failed\n", o->out);
        goto done;
    }
    if (g->truth) {
        e = ferror(g->truth) | fclose(g->truth);
        g->truth = NULL;
        if (e) {
            fprintf(stderr, "gencorpus: %s: write failed\n", o->truth);
            goto done;
        }
    }
    if (!o->quiet)
        fprintf(stderr, "\r%60s\r", "");
    double el = now_s() - t_begin;
    printf("%-18s %s\n%-18s %llu\n%-18s %ld\n%-18s %llu\n%-18s %llu\n%-18s %llu\n", "out", o->out,
           "seed", (unsigned long long)o->seed, "connections", n, "packets",
           (unsigned long long)g->packets, "file_bytes", (unsigned long long)g->bytes,
           "wire_bytes", (unsigned long long)g->wire);
    printf("%-18s %.3f\n%-18s %.1f\n%-18s %lld\n%-18s %.2f\n", "arrival_seconds",
           (double)(t_last_start - T0) / 1e6, "concurrency_mean",
           area / (double)(t_last_start > T0 ? t_last_start - T0 : 1), "concurrency_peak",
           (long long)peak, "gen_seconds", el);
    printf("%-18s", "variants");
    for (int v = 0; v < V_COUNT; v++)
        printf(" %s=%ld", variant_name[v], cnt[v]);
    printf("\n%-18s", "closes");
    for (int i = 1; i < CL_COUNT; i++)
        printf(" %s=%ld", close_name[i], closes[i]);
    printf("\n%-18s", "aborts");
    for (int i = 1; i < AB_COUNT; i++)
        printf(" %s=%ld", abort_name[i], aborts[i]);
    printf("\n");
    printf("%-18s %llu\n%-18s %llu\n%-18s %llu\n%-18s %llu\n%-18s %llu\n%-18s %llu\n%-18s %llu\n"
           "%-18s %llu\n",
           "reused", (unsigned long long)g->stat_reused, "syn_retx_conns",
           (unsigned long long)g->stat_synretx, "retx_down", (unsigned long long)g->stat_retx_down,
           "retx_up", (unsigned long long)g->stat_retx_up, "ooo", (unsigned long long)g->stat_ooo,
           "req_rto", (unsigned long long)g->stat_reqrto, "ipv6", (unsigned long long)g->stat_v6,
           "vlan", (unsigned long long)g->stat_vlan);
    rc = 0;
done:
    if (g->out)
        fclose(g->out);
    if (g->truth)
        fclose(g->truth);
    free(var);
    free(recent);
    gen_free(g);
    return rc;
}
