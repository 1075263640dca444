/*
 * test_reader.c - unit tests of the capture reader (dissectors/reader.c,
 * dissectors/pcapng.c) through its public API in dis.h.
 *
 * Every capture is written here, byte by byte, into a temporary directory,
 * so expected values (timestamps, lengths, link types) come from how the
 * file was made, not from the reader's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "dis.h"

/* ---------------------------------------------------------------------------
 * Building capture bytes.
 */

struct buf {
    uint8_t *p;
    size_t n, cap;
    bool be; /* byte order of multi-byte fields written */
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void put16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    if (!b->be) {
        x[0] = (uint8_t)v;
        x[1] = (uint8_t)(v >> 8);
    }
    put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[b->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    put(b, x, 4);
}

static void put64(struct buf *b, uint64_t v)
{
    if (b->be) {
        put32(b, (uint32_t)(v >> 32));
        put32(b, (uint32_t)v);
    } else {
        put32(b, (uint32_t)v);
        put32(b, (uint32_t)(v >> 32));
    }
}

static void pad4(struct buf *b)
{
    while (b->n % 4)
        put8(b, 0);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Classic pcap. */
static void pcap_hdr(struct buf *b, bool ns, uint32_t linktype)
{
    put32(b, ns ? 0xA1B23C4Du : 0xA1B2C3D4u);
    put16(b, 2);
    put16(b, 4);
    put32(b, 0);
    put32(b, 0);
    put32(b, 65535);
    put32(b, linktype);
}

static void pcap_rec(struct buf *b, uint32_t sec, uint32_t frac, const uint8_t *data,
                     uint32_t caplen, uint32_t wirelen)
{
    put32(b, sec);
    put32(b, frac);
    put32(b, caplen);
    put32(b, wirelen);
    put(b, data, caplen);
}

/* pcapng blocks: begin writes type + a length patched by end. */
static size_t ng_begin(struct buf *b, uint32_t type)
{
    size_t at = b->n;
    put32(b, type);
    put32(b, 0);
    return at;
}

static void ng_end(struct buf *b, size_t at)
{
    pad4(b);
    uint32_t len = (uint32_t)(b->n - at + 4);
    put32(b, len);
    struct buf t = {.p = b->p + at + 4, .cap = 4, .be = b->be};
    put32(&t, len);
}

static void ng_shb(struct buf *b)
{
    size_t at = ng_begin(b, 0x0A0D0D0Au);
    put32(b, 0x1A2B3C4Du);
    put16(b, 1);
    put16(b, 0);
    put64(b, UINT64_MAX);
    ng_end(b, at);
}

/* tsresol < 0: no option; has_off: an if_tsoffset option. */
static void ng_idb(struct buf *b, uint16_t linktype, uint32_t snaplen, int tsresol, bool has_off,
                   int64_t off)
{
    size_t at = ng_begin(b, 1);
    put16(b, linktype);
    put16(b, 0);
    put32(b, snaplen);
    put16(b, 2); /* if_name, to be skipped */
    put16(b, 4);
    put(b, "eth0", 4);
    if (tsresol >= 0) {
        put16(b, 9);
        put16(b, 1);
        put8(b, (uint8_t)tsresol);
        pad4(b);
    }
    if (has_off) {
        put16(b, 14);
        put16(b, 8);
        put64(b, (uint64_t)off);
    }
    put16(b, 0);
    put16(b, 0);
    ng_end(b, at);
}

static void ng_epb(struct buf *b, uint32_t ifid, uint64_t ts, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen)
{
    size_t at = ng_begin(b, 6);
    put32(b, ifid);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, caplen);
    put32(b, wirelen);
    put(b, data, caplen);
    ng_end(b, at);
}

static void ng_pb(struct buf *b, uint16_t ifid, uint64_t ts, const uint8_t *data, uint32_t caplen,
                  uint32_t wirelen)
{
    size_t at = ng_begin(b, 2);
    put16(b, ifid);
    put16(b, 0);
    put32(b, (uint32_t)(ts >> 32));
    put32(b, (uint32_t)ts);
    put32(b, caplen);
    put32(b, wirelen);
    put(b, data, caplen);
    ng_end(b, at);
}

static void ng_spb(struct buf *b, uint32_t wirelen, const uint8_t *data, uint32_t n)
{
    size_t at = ng_begin(b, 3);
    put32(b, wirelen);
    put(b, data, n);
    ng_end(b, at);
}

/* A block we do not parse (NRB, ISB, DSB, custom...) with n body bytes. */
static void ng_other(struct buf *b, uint32_t type, size_t n)
{
    size_t at = ng_begin(b, type);
    for (size_t i = 0; i < n; i++)
        put8(b, (uint8_t)i);
    ng_end(b, at);
}

/* Ethernet + IPv4 + TCP (proto 6) or UDP (17), 54 or 42 bytes; RAW without eth. */
static uint32_t make_ip(uint8_t *out, bool eth, uint8_t proto, uint16_t sport, uint16_t dport)
{
    uint8_t *p = out;
    if (eth) {
        static const uint8_t mac[12] = {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6};
        memcpy(p, mac, 12);
        p[12] = 0x08;
        p[13] = 0x00;
        p += 14;
    }
    uint16_t l4 = proto == 6 ? 20 : 8;
    uint16_t tot = (uint16_t)(20 + l4);
    static const uint8_t ip[20] = {0x45, 0, 0,  0, 0, 1, 0x40, 0, 64, 0,
                                   0,    0, 10, 0, 0, 1, 10,   0, 0,  2}; /* 10.0.0.1 > 10.0.0.2 */
    memcpy(p, ip, 20);
    p[2] = (uint8_t)(tot >> 8);
    p[3] = (uint8_t)tot;
    p[9] = proto;
    p += 20;
    memset(p, 0, l4);
    p[0] = (uint8_t)(sport >> 8);
    p[1] = (uint8_t)sport;
    p[2] = (uint8_t)(dport >> 8);
    p[3] = (uint8_t)dport;
    if (proto == 6) {
        p[12] = 0x50;
        p[13] = 0x02;
    } else {
        p[4] = 0;
        p[5] = 8;
    }
    p += l4;
    return (uint32_t)(p - out);
}

/* ---------------------------------------------------------------------------
 * Files in a temporary directory.
 */

static char tmpdir[256];
static char paths[128][300];
static int npaths;

static int group_setup(void **state)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tcbs-reader-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    for (int i = 0; i < npaths; i++) {
        chmod(paths[i], 0700);
        if (unlink(paths[i]) != 0)
            rmdir(paths[i]);
    }
    return rmdir(tmpdir);
}

static const char *path_of(const char *name)
{
    assert_true(npaths < 128);
    char *p = paths[npaths++];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const void *d, size_t n)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(d, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return p;
}

static const char *write_buf(const char *name, const struct buf *b)
{
    return write_file(name, b->p, b->n);
}

/* ---------------------------------------------------------------------------
 * Reading everything.
 */

#define MAX_FR 256
#define MAX_WARN 8
#define MAX_ERR 8

struct got {
    struct dis_frame fr[MAX_FR];
    uint8_t first[MAX_FR]; /* first data byte, 0 when caplen is 0 */
    int n;
    char warn[MAX_WARN][TCBS_ERRLEN];
    int nwarn;
    char err[MAX_ERR][TCBS_ERRLEN];
    int rcs[MAX_ERR];
    int nerr;
    struct dis_file_info info[16];
    char names[16][300]; /* info[i].name, which lives only as long as the reader */
    size_t ninfo;
    uint64_t total;
    struct dis_frame_run map[MAX_FR];
    size_t nmap;
};

static void on_warn(void *ctx, const char *msg)
{
    struct got *g = ctx;
    if (g->nwarn < MAX_WARN)
        snprintf(g->warn[g->nwarn], TCBS_ERRLEN, "%s", msg);
    g->nwarn++;
}

/*
 * Open files, read to the end (calling on after errors), keep frames,
 * warnings, errors, per-file facts and the frame map.  as_given: read the
 * files one after another instead of merged by time.  Returns
 * dis_reader_open()'s result; on failure its message is g->err[0].
 */
static int read_all_as(const char *const *files, size_t nfiles, const char *filter, bool as_given,
                       struct got *g)
{
    memset(g, 0, sizeof *g);
    struct dis_reader *r;
    char err[TCBS_ERRLEN];
    int rc = dis_reader_open(&r, files, nfiles, filter, on_warn, g, err);
    if (rc < 0) {
        assert_null(r);
        snprintf(g->err[0], TCBS_ERRLEN, "%s", err);
        g->rcs[0] = rc;
        g->nerr = 1;
        return rc;
    }
    g->total = dis_reader_total_bytes(r);
    dis_reader_set_as_given(r, as_given);
    struct dis_frame f;
    for (int guard = 0; guard < 10000; guard++) {
        rc = dis_reader_next(r, &f, err);
        if (rc == 0)
            break;
        if (rc < 0) {
            assert_true(g->nerr < MAX_ERR);
            g->rcs[g->nerr] = rc;
            snprintf(g->err[g->nerr++], TCBS_ERRLEN, "%s", err);
            continue;
        }
        assert_int_equal(rc, 1);
        if (g->n < MAX_FR) {
            g->fr[g->n] = f;
            g->first[g->n] = f.caplen ? f.data[0] : 0;
            g->fr[g->n].data = NULL;
        }
        g->n++;
    }
    assert_int_equal(dis_reader_next(r, &f, err), 0); /* stays at the end */
    const struct dis_file_info *fi = dis_reader_files(r, &g->ninfo);
    for (size_t i = 0; i < g->ninfo && i < 16; i++) {
        g->info[i] = fi[i];
        snprintf(g->names[i], sizeof g->names[i], "%s", fi[i].name);
        g->info[i].name = g->names[i];
    }
    const struct dis_frame_run *map = dis_reader_frame_map(r, &g->nmap);
    for (size_t i = 0; i < g->nmap && i < MAX_FR; i++)
        g->map[i] = map[i];
    dis_reader_close(r);
    return 0;
}

/* read_all_as() merged by time (the default), checking one info per file. */
static int read_all(const char *const *files, size_t nfiles, const char *filter, struct got *g)
{
    int rc = read_all_as(files, nfiles, filter, false, g);
    if (rc == 0)
        assert_int_equal(g->ninfo, nfiles);
    return rc;
}

static int read_one(const char *file, const char *filter, struct got *g)
{
    const char *files[1] = {file};
    return read_all(files, 1, filter, g);
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

/* ---------------------------------------------------------------------------
 * Classic pcap.
 */

static const uint8_t payload[64] = {0xAA, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void test_pcap_every_magic_and_byte_order_gives_ns_timestamps(void **state)
{
    for (int v = 0; v < 4; v++) {
        bool be = v & 1, ns = v & 2;
        struct buf b = {.be = be};
        pcap_hdr(&b, ns, 1);
        pcap_rec(&b, 1700000000, ns ? 123456789 : 123456, payload, 60, 60);
        pcap_rec(&b, 1700000001, ns ? 5 : 7, payload + 1, 20, 1514);
        char name[32];
        snprintf(name, sizeof name, "magic%d.pcap", v);
        const char *p = write_buf(name, &b);
        buf_free(&b);

        struct got g;
        assert_int_equal(read_one(p, NULL, &g), 0);
        assert_int_equal(g.n, 2);
        assert_int_equal(g.nwarn, 0);
        assert_int_equal(g.nerr, 0);
        assert_int_equal(g.fr[0].ts_ns, ns ? 1700000000123456789ull : 1700000000123456000ull);
        assert_int_equal(g.fr[1].ts_ns, ns ? 1700000001000000005ull : 1700000001000007000ull);
        assert_int_equal(g.fr[0].caplen, 60);
        assert_int_equal(g.fr[0].wirelen, 60);
        assert_int_equal(g.fr[1].caplen, 20);
        assert_int_equal(g.fr[1].wirelen, 1514);
        assert_int_equal(g.first[0], 0xAA);
        assert_int_equal(g.first[1], 1);
        assert_int_equal(g.fr[0].frame, 1);
        assert_int_equal(g.fr[1].frame, 2);
        assert_int_equal(g.fr[0].linktype, DIS_LINKTYPE_EN10MB);
        assert_int_equal(g.fr[1].file_index, 0);
        assert_false(g.info[0].pcapng);
        assert_int_equal(g.info[0].nanosecond, ns);
        assert_int_equal(g.info[0].linktype_count, 1);
        assert_int_equal(g.info[0].linktypes[0], 1);
        assert_int_equal(g.info[0].frames, 2);
        assert_int_equal(g.info[0].frames_matched, 2);
        assert_int_equal(g.info[0].first_ns, g.fr[0].ts_ns);
        assert_int_equal(g.info[0].last_ns, g.fr[1].ts_ns);
        assert_int_equal(g.info[0].bytes, file_size(p));
        assert_int_equal(g.total, file_size(p));
        assert_true(g.info[0].done);
        assert_false(g.info[0].truncated);
    }
}

static void test_pcap_raw_linktype_is_linktype_101_not_dlt(void **state)
{
    struct buf b = {0};
    pcap_hdr(&b, false, 101);
    uint8_t d[64];
    uint32_t n = make_ip(d, false, 6, 1234, 80);
    pcap_rec(&b, 1, 0, d, n, n);
    const char *p = write_buf("raw.pcap", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, "tcp port 80", &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.fr[0].linktype, DIS_LINKTYPE_RAW);
    assert_int_equal(g.info[0].linktypes[0], DIS_LINKTYPE_RAW);
    assert_int_equal(g.nwarn, 0);
}

/* ---------------------------------------------------------------------------
 * pcapng.
 */

static void test_pcapng_default_resolution_is_microseconds(void **state)
{
    for (int be = 0; be < 2; be++) {
        struct buf b = {.be = be};
        ng_shb(&b);
        ng_idb(&b, 1, 0, -1, false, 0);
        ng_epb(&b, 0, 1700000000123456ull, payload, 61, 61); /* odd length: padded */
        ng_epb(&b, 0, 1700000000123457ull, payload + 2, 3, 100);
        const char *p = write_buf(be ? "us-be.pcapng" : "us-le.pcapng", &b);
        buf_free(&b);
        struct got g;
        assert_int_equal(read_one(p, NULL, &g), 0);
        assert_int_equal(g.nwarn, 0);
        assert_int_equal(g.n, 2);
        assert_int_equal(g.fr[0].ts_ns, 1700000000123456000ull);
        assert_int_equal(g.fr[1].ts_ns, 1700000000123457000ull);
        assert_int_equal(g.fr[0].caplen, 61);
        assert_int_equal(g.fr[1].caplen, 3);
        assert_int_equal(g.fr[1].wirelen, 100);
        assert_int_equal(g.first[1], 2);
        assert_int_equal(g.fr[1].frame, 2);
        assert_true(g.info[0].pcapng);
        assert_false(g.info[0].nanosecond);
        assert_int_equal(g.info[0].bytes, file_size(p));
    }
}

static void test_pcapng_two_interfaces_with_different_linktypes(void **state)
{
    struct buf b = {.be = true};
    ng_shb(&b);
    ng_idb(&b, 1, 65535, 9, false, 0);     /* Ethernet, ns */
    ng_idb(&b, 113, 262144, -1, false, 0); /* Linux cooked (dumpcap -i any), us */
    ng_epb(&b, 1, 1000000, payload, 10, 10);
    ng_epb(&b, 0, 2000000000123ull, payload + 1, 10, 10);
    const char *p = write_buf("two-if.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.fr[0].linktype, DIS_LINKTYPE_LINUX_SLL);
    assert_int_equal(g.fr[0].ts_ns, 1000000000ull);
    assert_int_equal(g.fr[1].linktype, DIS_LINKTYPE_EN10MB);
    assert_int_equal(g.fr[1].ts_ns, 2000000000123ull);
    assert_int_equal(g.info[0].linktype_count, 2);
    assert_int_equal(g.info[0].linktypes[0], 1);
    assert_int_equal(g.info[0].linktypes[1], 113);
    assert_true(g.info[0].nanosecond);
}

static void test_pcapng_tsresol_powers_of_two_and_ten_and_tsoffset(void **state)
{
    struct buf b = {0};
    ng_shb(&b);
    ng_idb(&b, 1, 0, 0x80 | 20, false, 0); /* 2^-20 s ticks */
    ng_idb(&b, 1, 0, 3, true, 100);        /* ms ticks, +100 s */
    ng_idb(&b, 1, 0, 12, true, -5);        /* ps ticks, -5 s */
    ng_idb(&b, 1, 0, 0x80 | 0, false, 0);  /* whole seconds */
    /* 3.5 s in 2^-20 ticks = 3.5 * 1048576 */
    ng_epb(&b, 0, 3670016, payload, 4, 4);
    ng_epb(&b, 1, 1500, payload, 4, 4);
    ng_epb(&b, 2, 10000000000123456ull, payload, 4, 4); /* 10000.000000123456 s */
    ng_epb(&b, 3, 42, payload, 4, 4);
    ng_epb(&b, 0, 1, payload, 4, 4); /* one 2^-20 tick = 953.67 ns */
    const char *p = write_buf("tsresol.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.fr[0].ts_ns, 3500000000ull);
    assert_int_equal(g.fr[1].ts_ns, 101500000000ull);
    assert_int_equal(g.fr[2].ts_ns, 9995000000123ull);
    assert_int_equal(g.fr[3].ts_ns, 42000000000ull);
    assert_int_equal(g.fr[4].ts_ns, 953ull);
    assert_true(g.info[0].nanosecond);
    assert_int_equal(g.info[0].linktype_count, 1);
}

static void test_pcapng_simple_packet_block_takes_last_ts_and_snaplen(void **state)
{
    struct buf b = {0};
    ng_shb(&b);
    ng_idb(&b, 1, 16, 9, false, 0);
    ng_spb(&b, 40, payload, 40); /* no timestamp seen yet: 0; snaplen cuts to 16 */
    ng_epb(&b, 0, 777, payload, 16, 16);
    ng_spb(&b, 1500, payload + 3, 8); /* block holds 8 of 1500 */
    const char *p = write_buf("spb.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.fr[0].caplen, 16);
    assert_int_equal(g.fr[0].wirelen, 40);
    assert_int_equal(g.fr[0].ts_ns, 0);
    assert_int_equal(g.fr[2].ts_ns, 777);
    assert_int_equal(g.fr[2].caplen, 8);
    assert_int_equal(g.fr[2].wirelen, 1500);
    assert_int_equal(g.first[2], 3);
}

static void test_pcapng_obsolete_packet_block_is_read(void **state)
{
    struct buf b = {.be = true};
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_idb(&b, 101, 0, -1, false, 0);
    ng_pb(&b, 1, 5000000, payload, 12, 80);
    const char *p = write_buf("pb.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.fr[0].ts_ns, 5000000000ull);
    assert_int_equal(g.fr[0].caplen, 12);
    assert_int_equal(g.fr[0].wirelen, 80);
    assert_int_equal(g.fr[0].linktype, 101);
}

static void test_pcapng_skips_blocks_it_does_not_read(void **state)
{
    struct buf b = {0};
    ng_shb(&b);
    ng_other(&b, 4, 20); /* NRB */
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_other(&b, 0x0A, 0); /* DSB, empty */
    ng_epb(&b, 0, 1, payload, 8, 8);
    ng_other(&b, 5, 28);          /* ISB */
    ng_other(&b, 0xBAD, 200000);  /* custom, bigger than one read chunk */
    ng_other(&b, 0x40000BAD, 13); /* custom, padded */
    ng_epb(&b, 0, 2, payload, 8, 8);
    const char *p = write_buf("other.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.fr[1].ts_ns, 2000);
    assert_int_equal(g.info[0].bytes, file_size(p));
}

static void test_pcapng_new_section_resets_interfaces_and_byte_order(void **state)
{
    struct buf b = {0};
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_idb(&b, 113, 0, -1, false, 0);
    ng_epb(&b, 1, 1, payload, 8, 8);
    b.be = true;
    ng_shb(&b);
    ng_idb(&b, 101, 0, 9, false, 0);
    ng_epb(&b, 0, 7, payload, 8, 8);
    ng_epb(&b, 1, 8, payload, 8, 8); /* interface 1 was the old section's */
    ng_epb(&b, 0, 9, payload, 8, 8);
    const char *p = write_buf("sections.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.fr[0].linktype, 113);
    assert_int_equal(g.fr[1].linktype, 101);
    assert_int_equal(g.fr[1].ts_ns, 7);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], -EBADMSG);
    assert_non_null(strstr(g.err[0], "packet on unknown interface 1"));
    assert_non_null(strstr(g.err[0], "sections.pcapng: damaged at byte "));
    /* not read: the bad EPB and the one after it, each as long as this one */
    struct buf one = {0};
    ng_epb(&one, 1, 8, payload, 8, 8);
    assert_int_equal(g.info[0].unread, 2 * one.n);
    assert_true(g.info[0].damaged);
    buf_free(&one);
    assert_int_equal(g.info[0].linktype_count, 3);
    assert_false(g.info[0].truncated);
}

/* ---------------------------------------------------------------------------
 * Several files, standard input, pipes.
 */

static void test_files_as_given_are_one_stream_with_continuing_frame_numbers(void **state)
{
    struct buf a = {0}, b = {0}, c = {.be = true};
    pcap_hdr(&a, false, 1);
    pcap_rec(&a, 100, 0, payload, 4, 4);
    pcap_rec(&a, 200, 500000, payload, 4, 4);
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_epb(&b, 0, 198250000, payload, 4, 4); /* 198.25 s: 2.250 s back */
    ng_epb(&b, 0, 300000000, payload, 4, 4);
    pcap_hdr(&c, true, 1);
    pcap_rec(&c, 300, 1, payload, 4, 4); /* later: no warning */
    const char *files[3] = {write_buf("multi-a.pcap", &a), write_buf("multi-b.pcapng", &b),
                            write_buf("multi-c.pcap", &c)};
    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
    struct got g;
    assert_int_equal(read_all_as(files, 3, NULL, true, &g), 0);
    assert_int_equal(g.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(g.fr[i].frame, (uint64_t)i + 1);
    assert_int_equal(g.fr[1].file_index, 0);
    assert_int_equal(g.fr[2].file_index, 1);
    assert_int_equal(g.fr[4].file_index, 2);
    assert_int_equal(g.fr[4].ts_ns, 300000000001ull);
    assert_int_equal(g.nwarn, 1);
    char want[TCBS_ERRLEN];
    snprintf(want, sizeof want, "%s: timestamps go back 2.250 s from the previous file", files[1]);
    assert_string_equal(g.warn[0], want);
    assert_int_equal(g.info[1].frames, 2);
    assert_int_equal(g.info[1].first_ns, 198250000000ull);
    assert_int_equal(g.total, file_size(files[0]) + file_size(files[1]) + file_size(files[2]));
    for (int i = 0; i < 3; i++)
        assert_true(g.info[i].done);
}

/* In a child: fd 0 is a pipe fed with the bytes; read "-" and check. Exit 0 = good. */
static int child_reads_stdin(const struct buf *b, bool pcapng, int want_frames)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return 10;
    if (write(pfd[1], b->p, b->n) != (ssize_t)b->n) /* small: fits the pipe buffer */
        return 11;
    close(pfd[1]);
    if (dup2(pfd[0], STDIN_FILENO) < 0)
        return 12;
    close(pfd[0]);
    const char *files[1] = {"-"};
    struct dis_reader *r;
    char err[TCBS_ERRLEN];
    if (dis_reader_open(&r, files, 1, NULL, NULL, NULL, err) != 0)
        return 13;
    if (dis_reader_total_bytes(r) != 0)
        return 14;
    struct dis_frame f;
    int n = 0, rc;
    while ((rc = dis_reader_next(r, &f, err)) == 1) {
        if (f.ts_ns != (uint64_t)(n + 1) * 1000000000u || f.caplen != 4 || f.data[0] != 0xAA)
            return 15;
        n++;
    }
    size_t nf;
    const struct dis_file_info *fi = dis_reader_files(r, &nf);
    bool ok = rc == 0 && n == want_frames && fi[0].pcapng == pcapng && fi[0].bytes == b->n;
    dis_reader_close(r);
    return ok ? 0 : 16;
}

static void test_standard_input_reads_pcap_and_pcapng(void **state)
{
    for (int v = 0; v < 2; v++) {
        struct buf b = {.be = v == 1};
        if (v == 0) {
            pcap_hdr(&b, false, 1);
            for (uint32_t i = 1; i <= 3; i++)
                pcap_rec(&b, i, 0, payload, 4, 4);
        } else {
            ng_shb(&b);
            ng_idb(&b, 1, 0, 0, false, 0);
            for (uint32_t i = 1; i <= 3; i++)
                ng_epb(&b, 0, i, payload, 4, 4);
        }
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_reads_stdin(&b, v == 1, 3));
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        buf_free(&b);
    }
}

/* A named file that cannot seek (a pipe through /proc/self/fd) goes through the replay FILE. */
static void test_named_pipe_with_classic_pcap_is_read(void **state)
{
    struct buf b = {.be = true};
    pcap_hdr(&b, true, 1);
    pcap_rec(&b, 9, 8, payload, 30, 30);
    pcap_rec(&b, 9, 9, payload + 1, 30, 30);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], b.p, b.n), (ssize_t)b.n);
    close(pfd[1]); /* an anonymous pipe opened by name does not wait for a writer */
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", pfd[0]);
    struct dis_reader *r;
    char err[TCBS_ERRLEN];
    const char *files[1] = {name};
    int rc = dis_reader_open(&r, files, 1, NULL, NULL, NULL, err);
    if (rc != 0)
        fail_msg("%s", err);
    struct dis_frame f;
    assert_int_equal(dis_reader_next(r, &f, err), 1);
    assert_int_equal(f.ts_ns, 9000000008ull);
    assert_int_equal(dis_reader_next(r, &f, err), 1);
    assert_int_equal(f.data[0], 1);
    assert_int_equal(dis_reader_next(r, &f, err), 0);
    assert_int_equal(dis_reader_total_bytes(r), 0);
    dis_reader_close(r);
    close(pfd[0]);
    buf_free(&b);
}

/* ---------------------------------------------------------------------------
 * Several files merged by time, directories.
 */

static const char *small_pcap(const char *name, uint32_t sec);

/* tcpdump -C names: base, base1, base2, ... */
static void rot_name(char *out, size_t n, const char *base, int k)
{
    if (k == 0)
        snprintf(out, n, "%s", base);
    else
        snprintf(out, n, "%s%d", base, k);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * 36 frames 1 s apart (first data byte = original index) cut into 12 files
 * of 3 as tcpdump -C names them; given in shell-glob order and in reverse,
 * the merged stream is the original one with the original numbering.
 */
static void test_rotated_files_in_glob_and_reverse_order_read_in_time_order(void **state)
{
    static uint8_t data[36][8];
    const char *paths_by_k[12];
    for (int k = 0; k < 12; k++) {
        struct buf b = {0};
        pcap_hdr(&b, false, 1);
        for (int i = 3 * k; i < 3 * k + 3; i++) {
            memset(data[i], 0, sizeof data[i]);
            data[i][0] = (uint8_t)i;
            pcap_rec(&b, 1000 + (uint32_t)i, 0, data[i], 8, 8);
        }
        char name[32];
        rot_name(name, sizeof name, "rot.pcap", k);
        paths_by_k[k] = write_buf(name, &b);
        buf_free(&b);
    }
    for (int v = 0; v < 2; v++) {
        const char *files[12];
        memcpy(files, paths_by_k, sizeof files);
        qsort(files, 12, sizeof files[0], cmp_str); /* rot.pcap rot.pcap1 rot.pcap10 ... */
        assert_non_null(strstr(files[2], "rot.pcap10"));
        if (v == 1)
            for (int i = 0; i < 6; i++) {
                const char *t = files[i];
                files[i] = files[11 - i];
                files[11 - i] = t;
            }
        struct got g;
        assert_int_equal(read_all(files, 12, NULL, &g), 0);
        assert_int_equal(g.nerr, 0);
        assert_int_equal(g.nwarn, 1);
        assert_string_equal(g.warn[0], "reading 12 files in timestamp order, not as given; "
                                       "--as-given to keep it");
        assert_int_equal(g.n, 36);
        for (int i = 0; i < 36; i++) {
            assert_int_equal(g.first[i], i);
            assert_int_equal(g.fr[i].frame, (uint64_t)i + 1);
            assert_int_equal(g.fr[i].ts_ns, (1000ull + (uint64_t)i) * 1000000000ull);
            assert_int_equal(g.fr[i].file_frame, (uint64_t)(i % 3) + 1);
            assert_ptr_equal(files[g.fr[i].file_index], paths_by_k[i / 3]);
        }
        /* one map entry per file, in time order */
        assert_int_equal(g.nmap, 12);
        for (int k = 0; k < 12; k++) {
            assert_ptr_equal(files[g.map[k].file_index], paths_by_k[k]);
            assert_int_equal(g.map[k].run_first, 3 * k + 1);
            assert_int_equal(g.map[k].file_first, 1);
            assert_int_equal(g.map[k].count, 3);
        }
    }
    /* --as-given keeps the glob order: 1, 2, then rot.pcap10's frames */
    const char *files[12];
    memcpy(files, paths_by_k, sizeof files);
    qsort(files, 12, sizeof files[0], cmp_str);
    struct got g;
    assert_int_equal(read_all_as(files, 12, NULL, true, &g), 0);
    assert_int_equal(g.first[3], 3);
    assert_int_equal(g.first[6], 30);
    assert_int_equal(g.fr[6].frame, 7);
}

/* Two files with interleaved times: merged like mergecap, ties to the file given first. */
static void test_overlapping_files_are_merged_frame_by_frame(void **state)
{
    static const uint32_t ta[4] = {1, 3, 5, 7}, tb[4] = {2, 3, 4, 8};
    struct buf a = {0}, b = {.be = true};
    uint8_t da[4][4], db[4][4];
    pcap_hdr(&a, false, 1);
    ng_shb(&b);
    ng_idb(&b, 1, 0, 0, false, 0); /* 1-second ticks */
    for (int i = 0; i < 4; i++) {
        memset(da[i], 0xA0 + i, 4);
        memset(db[i], 0xB0 + i, 4);
        pcap_rec(&a, ta[i], 0, da[i], 4, 4);
        ng_epb(&b, 0, tb[i], db[i], 4, 4);
    }
    const char *pa = write_buf("merge-a.pcap", &a), *pb = write_buf("merge-b.pcapng", &b);
    buf_free(&a);
    buf_free(&b);
    for (int v = 0; v < 2; v++) {
        const char *files[2] = {v ? pb : pa, v ? pa : pb};
        struct got g;
        assert_int_equal(read_all(files, 2, NULL, &g), 0);
        assert_int_equal(g.n, 8);
        assert_int_equal(g.nwarn, v ? 1 : 0); /* b given first but starts later */
        /* by time; at 3 s the file given first wins */
        uint8_t want[8] = {0xA0, 0xB0, 0xA1, 0xB1, 0xB2, 0xA2, 0xA3, 0xB3};
        if (v) {
            want[2] = 0xB1;
            want[3] = 0xA1;
        }
        for (int i = 0; i < 8; i++) {
            assert_int_equal(g.first[i], want[i]);
            assert_int_equal(g.fr[i].frame, (uint64_t)i + 1);
            assert_int_equal(g.fr[i].file_frame, (uint64_t)(want[i] & 0x0F) + 1);
            assert_ptr_equal(files[g.fr[i].file_index], (want[i] >> 4) == 0xA ? pa : pb);
        }
        /* the map has an entry per switch of file; together they cover every frame */
        uint64_t next = 1;
        for (size_t k = 0; k < g.nmap; k++) {
            assert_int_equal(g.map[k].run_first, next);
            assert_true(k == 0 || g.map[k].file_index != g.map[k - 1].file_index);
            next += g.map[k].count;
        }
        assert_int_equal(next, 9);
        assert_int_equal(g.nmap, 6);
    }
}

/* A directory: its captures by time, other entries skipped with a warning each. */
static void test_directory_reads_the_captures_in_it(void **state)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s", path_of("capdir"));
    assert_int_equal(mkdir(dir, 0700), 0);
    char sub[460], p[460];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    static const uint32_t secs[3] = {30, 10, 20}; /* names z-, a-, m- */
    static const char *const names[3] = {"a.pcap", "m.pcap", "z.pcap"};
    for (int i = 0; i < 3; i++) {
        struct buf b = {0};
        uint8_t d[4] = {(uint8_t)i, 0, 0, 0};
        pcap_hdr(&b, false, 1);
        pcap_rec(&b, secs[i], 0, d, 4, 4);
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *fp = fopen(p, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(b.p, 1, b.n, fp), b.n);
        fclose(fp);
        buf_free(&b);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("not a capture\n", fp);
    fclose(fp);
    const char *files[1] = {dir};
    struct got g;
    assert_int_equal(read_all_as(files, 1, NULL, false, &g), 0);
    assert_int_equal(g.ninfo, 3);
    char want[500];
    snprintf(want, sizeof want, "%s/m.pcap", dir);
    assert_string_equal(g.info[1].name, want);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.first[0], 1); /* m.pcap at 10 s */
    assert_int_equal(g.first[1], 2);
    assert_int_equal(g.first[2], 0);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.nwarn, 3); /* notes.txt, sub, then the order */
    snprintf(want, sizeof want, "%s/notes.txt: not a capture (pcap, pcapng, gzip or zstd), skipped",
             dir);
    assert_string_equal(g.warn[0], want);
    assert_non_null(strstr(g.warn[1], "/sub: a directory inside"));
    assert_non_null(strstr(g.warn[2], "reading 3 files in timestamp order"));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        assert_int_equal(unlink(p), 0);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rmdir(sub), 0);

    /* an empty directory: an error naming it */
    snprintf(sub, sizeof sub, "%s", path_of("emptydir"));
    assert_int_equal(mkdir(sub, 0700), 0);
    files[0] = sub;
    assert_int_equal(read_all_as(files, 1, NULL, false, &g), 0);
    assert_int_equal(g.ninfo, 1);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], -ENODATA);
    snprintf(want, sizeof want, "%s: no capture files in this directory", sub);
    assert_string_equal(g.err[0], want);
}

/* ---------------------------------------------------------------------------
 * Compressed captures.
 */

/* in compressed as one gzip member (deflate with a gzip wrapper). */
static void gzip_buf(const struct buf *in, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&z, (uLong)in->n);
    memset(out, 0, sizeof *out);
    out->p = malloc(cap);
    assert_non_null(out->p);
    z.next_in = in->p;
    z.avail_in = (uInt)in->n;
    z.next_out = out->p;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->n = out->cap = cap - z.avail_out;
    deflateEnd(&z);
}

static void zstd_buf(const struct buf *in, struct buf *out)
{
    size_t cap = ZSTD_compressBound(in->n);
    memset(out, 0, sizeof *out);
    out->p = malloc(cap);
    assert_non_null(out->p);
    size_t n = ZSTD_compress(out->p, cap, in->p, in->n, 3);
    assert_false(ZSTD_isError(n));
    out->n = out->cap = n;
}

/* A pcap and a pcapng of 3 frames each (1, 2, 3 s; data 0xAA...). */
static void three_frames(struct buf *b, bool pcapng)
{
    memset(b, 0, sizeof *b);
    if (!pcapng) {
        pcap_hdr(b, false, 1);
        for (uint32_t i = 1; i <= 3; i++)
            pcap_rec(b, i, 0, payload, 4, 4);
    } else {
        ng_shb(b);
        ng_idb(b, 1, 0, 0, false, 0);
        for (uint32_t i = 1; i <= 3; i++)
            ng_epb(b, 0, i, payload, 4, 4);
    }
}

static void test_gzip_and_zstd_read_like_the_plain_file(void **state)
{
    for (int v = 0; v < 4; v++) {
        bool ng = v & 1, zst = v & 2;
        struct buf plain, comp;
        three_frames(&plain, ng);
        (zst ? zstd_buf : gzip_buf)(&plain, &comp);
        /* the name says nothing: the magic decides */
        const char *files[2] = {write_buf(ng ? "plain.pcapng" : "plain.pcap", &plain),
                                write_buf(zst ? "comp-z.cap" : "comp-g.cap", &comp)};
        struct got g, h;
        assert_int_equal(read_all_as(files, 1, NULL, false, &g), 0);
        assert_int_equal(read_all_as(files + 1, 1, NULL, false, &h), 0);
        assert_int_equal(h.nerr, 0);
        assert_int_equal(h.nwarn, 0);
        assert_int_equal(h.n, 3);
        assert_int_equal(g.n, 3);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(h.fr[i].ts_ns, g.fr[i].ts_ns);
            assert_int_equal(h.fr[i].caplen, g.fr[i].caplen);
            assert_int_equal(h.first[i], 0xAA);
        }
        assert_int_equal(h.info[0].compression, zst ? DIS_COMP_ZSTD : DIS_COMP_GZIP);
        assert_int_equal(h.info[0].pcapng, ng);
        /* progress counts the compressed bytes: all of them at the end */
        assert_int_equal(h.total, comp.n);
        assert_int_equal(h.info[0].bytes, comp.n);
        assert_false(h.info[0].truncated);

        /* from a pipe as standard input too */
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_reads_stdin(&comp, ng, 3));
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);

        if (!zst) {
            /* without its 8-byte trailer: every frame, and a warning */
            struct buf cut = comp;
            cut.n = comp.n - 8;
            const char *pc = write_buf(ng ? "cut-trailer.pcapng.gz" : "cut-trailer.pcap.gz", &cut);
            assert_int_equal(read_all_as(&pc, 1, NULL, false, &h), 0);
            assert_int_equal(h.nerr, 0);
            assert_int_equal(h.n, 3);
            assert_int_equal(h.nwarn, 1);
            assert_non_null(strstr(h.warn[0], "the gzip data ends early"));
            assert_true(h.info[0].truncated);
        }
        buf_free(&plain);
        buf_free(&comp);
    }
}

/* A compressed capture cut in the middle: the frames before the cut, a warning, no error. */
static void test_compressed_capture_cut_short_warns_and_keeps_frames(void **state)
{
    struct buf plain = {0};
    pcap_hdr(&plain, false, 1);
    uint8_t d[100];
    uint32_t x = 12345;
    for (uint32_t i = 0; i < 3000; i++) { /* ~350 KB, little to compress: several zstd blocks */
        for (size_t k = 0; k < sizeof d; k++) {
            x = x * 1103515245u + 12345u;
            d[k] = (uint8_t)(x >> 24);
        }
        pcap_rec(&plain, 100 + i, 0, d, sizeof d, sizeof d);
    }
    for (int zst = 0; zst < 2; zst++) {
        struct buf comp;
        (zst ? zstd_buf : gzip_buf)(&plain, &comp);
        comp.n = comp.n * 6 / 10;
        const char *p = write_buf(zst ? "half.pcap.zst" : "half.pcap.gz", &comp);
        struct got g;
        assert_int_equal(read_all_as(&p, 1, NULL, false, &g), 0);
        if (g.nerr)
            fail_msg("%s", g.err[0]);
        assert_int_equal(g.nwarn, 1);
        assert_true(g.info[0].truncated);
        assert_true(g.info[0].frames > 0 && g.info[0].frames < 3000);
        assert_int_equal(g.info[0].bytes, comp.n);
        buf_free(&comp);
    }
    buf_free(&plain);
}

/* Corrupt compressed data: a read error naming the file, the next file read. */
static void test_corrupt_gzip_is_an_error_and_the_stream_goes_on(void **state)
{
    struct buf plain, comp;
    three_frames(&plain, false);
    for (int i = 0; i < 200; i++) /* more data so the damage is inside the deflate stream */
        pcap_rec(&plain, 10 + (uint32_t)i, 0, payload, 40, 40);
    gzip_buf(&plain, &comp);
    for (size_t i = 20; i < comp.n - 20; i += 7)
        comp.p[i] ^= 0x5A;
    const char *files[2] = {write_buf("corrupt.pcap.gz", &comp), small_pcap("after-gz.pcap", 5000)};
    struct got g;
    assert_int_equal(read_all(files, 2, NULL, &g), 0);
    assert_true(g.nerr >= 1);
    assert_non_null(strstr(g.err[0], "corrupt.pcap.gz: "));
    assert_int_equal(g.fr[g.n - 1].file_index, 1);
    buf_free(&plain);
    buf_free(&comp);
}

/* ---------------------------------------------------------------------------
 * Files that are not captures.
 */

static const char *small_pcap(const char *name, uint32_t sec)
{
    struct buf b = {0};
    pcap_hdr(&b, false, 1);
    pcap_rec(&b, sec, 0, payload, 4, 4);
    const char *p = write_buf(name, &b);
    buf_free(&b);
    return p;
}

static void test_first_file_missing_is_an_error_and_the_others_are_read(void **state)
{
    struct got g;
    const char *files[2] = {path_of("no-such.pcap"), small_pcap("after-missing.pcap", 4)};
    assert_int_equal(read_all(files, 2, NULL, &g), 0);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], -ENOENT);
    char want[TCBS_ERRLEN];
    snprintf(want, sizeof want, "%s: No such file or directory", files[0]);
    assert_string_equal(g.err[0], want);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.fr[0].file_index, 1);
    assert_int_equal(g.fr[0].frame, 1);
    assert_true(g.info[0].done);
}

static void expect_bad_second_file(const char *bad, const char *problem, int want_rc)
{
    const char *files[3] = {small_pcap("ok1.pcap", 1), bad, small_pcap("ok3.pcap", 3)};
    struct got g;
    assert_int_equal(read_all(files, 3, NULL, &g), 0);
    assert_int_equal(g.n, 2); /* frames of files 1 and 3 */
    assert_int_equal(g.fr[0].frame, 1);
    assert_int_equal(g.fr[1].frame, 2);
    assert_int_equal(g.fr[1].file_index, 2);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], want_rc);
    char want[TCBS_ERRLEN];
    snprintf(want, sizeof want, "%s: %s", bad, problem);
    assert_string_equal(g.err[0], want);
    assert_true(g.info[1].done);
    assert_int_equal(g.info[1].frames, 0);
}

static void test_later_bad_files_are_errors_and_the_stream_goes_on(void **state)
{
    expect_bad_second_file(path_of("missing.pcap"), "No such file or directory", -ENOENT);

    expect_bad_second_file(write_file("empty.pcap", "", 0), "empty file", -EINVAL);
    const char *text = "Hello, this is not a capture.\n";
    expect_bad_second_file(write_file("text.pcap", text, strlen(text)),
                           "not a pcap or pcapng capture file", -EINVAL);
    static const uint8_t elf[64] = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
    expect_bad_second_file(write_file("elf.pcap", elf, sizeof elf),
                           "not a pcap or pcapng capture file", -EINVAL);
    expect_bad_second_file(write_file("three.pcap", "\xd4\xc3\xb2", 3),
                           "not a pcap or pcapng capture file", -EINVAL);
    /* pcapng whose section header has a bad byte-order magic */
    static const uint8_t badbom[28] = {0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 1, 2, 3, 4};
    expect_bad_second_file(write_file("badbom.pcapng", badbom, sizeof badbom),
                           "section header with bad byte-order magic 0x04030201", -EINVAL);
}

static void test_unreadable_file_is_an_error(void **state)
{
    const char *p = small_pcap("noperm.pcap", 1);
    assert_int_equal(chmod(p, 0), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* root reads through mode 000: be nobody in a child */
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        const char *files[1] = {p};
        struct dis_reader *r = NULL;
        char err[TCBS_ERRLEN];
        if (dis_reader_open(&r, files, 1, NULL, NULL, NULL, err) != 0)
            _exit(12);
        struct dis_frame f;
        int rc = dis_reader_next(r, &f, err);
        bool ok = rc == -EACCES && strstr(err, ": Permission denied") &&
                  dis_reader_next(r, &f, err) == 0;
        dis_reader_close(r);
        _exit(ok ? 0 : 11);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_header_only_files_are_captures_with_no_frames(void **state)
{
    struct buf a = {0}, b = {.be = true};
    pcap_hdr(&a, true, 1);
    ng_shb(&b);
    const char *files[2] = {write_buf("hdr-only.pcap", &a), write_buf("hdr-only.pcapng", &b)};
    buf_free(&a);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_all(files, 2, NULL, &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.info[0].frames, 0);
    assert_int_equal(g.info[0].first_ns, 0);
    assert_int_equal(g.info[0].bytes, 24);
    assert_true(g.info[1].pcapng);
    assert_int_equal(g.info[1].bytes, 28);
    assert_true(g.info[1].done);
}

static void test_no_files_is_an_empty_stream(void **state)
{
    struct got g;
    assert_int_equal(read_all(NULL, 0, NULL, &g), 0);
    assert_int_equal(g.n, 0);
}

/* ---------------------------------------------------------------------------
 * Truncated and malformed files.
 */

static void test_truncated_pcap_record_warns_and_keeps_frames(void **state)
{
    for (int v = 0; v < 2; v++) {
        struct buf b = {0};
        pcap_hdr(&b, false, 1);
        pcap_rec(&b, 1, 0, payload, 40, 40);
        pcap_rec(&b, 2, 0, payload, 40, 40);
        size_t cut = v == 0 ? 45 : 10; /* leaves 11 header bytes / 30 data bytes */
        b.n -= cut;
        const char *files[2] = {write_buf(v ? "trunc-data.pcap" : "trunc-hdr.pcap", &b),
                                small_pcap("after-trunc.pcap", 5)};
        buf_free(&b);
        struct got g;
        assert_int_equal(read_all(files, 2, NULL, &g), 0);
        assert_int_equal(g.n, 2);
        assert_int_equal(g.fr[g.n - 1].file_index, 1);
        assert_int_equal(g.nwarn, 1);
        char want[TCBS_ERRLEN];
        snprintf(want, sizeof want,
                 "%s: truncated record at the end (%zu bytes), frames before it kept", files[0],
                 (size_t)(40 + 16 - cut));
        assert_string_equal(g.warn[0], want);
        assert_true(g.info[0].truncated);
        assert_int_equal(g.info[0].frames, 1);
        assert_int_equal(g.info[0].bytes, file_size(files[0]));
        assert_false(g.info[1].truncated);
    }
}

static void test_truncated_pcapng_block_warns_and_keeps_frames(void **state)
{
    static const size_t cuts[] = {3, 8, 20}; /* inside: trailer, data, block header */
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct buf b = {0};
        ng_shb(&b);
        ng_idb(&b, 1, 0, -1, false, 0);
        ng_epb(&b, 0, 1, payload, 16, 16);
        ng_epb(&b, 0, 2, payload, 16, 16); /* 48 bytes */
        b.n -= cuts[i] == 20 ? 48 - 5 : cuts[i];
        const char *p = write_buf("trunc.pcapng", &b);
        struct got g;
        assert_int_equal(read_one(p, NULL, &g), 0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.nwarn, 1);
        char want[TCBS_ERRLEN];
        snprintf(want, sizeof want,
                 "%s: truncated record at the end (%zu bytes), frames before it kept", p,
                 cuts[i] == 20 ? (size_t)5 : 48 - cuts[i]);
        assert_string_equal(g.warn[0], want);
        assert_true(g.info[0].truncated);
        assert_int_equal(g.info[0].bytes, b.n);
        assert_int_equal(unlink(p), 0);
        npaths--;
        buf_free(&b);
    }
}

/*
 * Write an SHB + IDB + one good EPB, then raw bytes: expect 1 frame, then a
 * damage error at the tail's first byte saying the whole tail was not read,
 * and the next file still read.
 */
static void expect_malformed_tail(const char *name, bool be, const struct buf *tail,
                                  const char *problem)
{
    struct buf b = {.be = be};
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_epb(&b, 0, 1, payload, 16, 16);
    size_t at = b.n;
    put(&b, tail->p, tail->n);
    const char *files[2] = {write_buf(name, &b), small_pcap("after-bad.pcap", 9)};
    buf_free(&b);
    struct got g;
    assert_int_equal(read_all(files, 2, NULL, &g), 0);
    assert_int_equal(g.n, 2); /* one before the problem, one from the next file */
    assert_int_equal(g.fr[1].file_index, 1);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], -EBADMSG);
    assert_int_equal(g.nwarn, 0);
    char want[TCBS_ERRLEN];
    snprintf(want, sizeof want,
             "%s: damaged at byte %zu: %s; 1 frame before it kept, %zu bytes not read", files[0],
             at, problem, tail->n);
    assert_string_equal(g.err[0], want);
    assert_false(g.info[0].truncated);
    assert_true(g.info[0].damaged);
    assert_int_equal(g.info[0].unread, tail->n);
    assert_true(g.info[0].done);
}

static void test_pcapng_bad_block_lengths_stop_the_file(void **state)
{
    struct buf t = {0};
    put32(&t, 6);
    put32(&t, 30); /* not a multiple of 4 */
    put(&t, payload, 40);
    expect_malformed_tail("len30.pcapng", false, &t, "bad block length 30 (block type 0x00000006)");
    buf_free(&t);

    t.be = true;
    put32(&t, 6);
    put32(&t, 8); /* below 12 */
    put(&t, payload, 40);
    expect_malformed_tail("len8.pcapng", true, &t, "bad block length 8 (block type 0x00000006)");
    buf_free(&t);

    put32(&t, 0xBAD);
    put32(&t, 512u << 20); /* over the 256 MiB bound */
    expect_malformed_tail("len512m.pcapng", false, &t,
                          "bad block length 536870912 (block type 0x00000bad)");
    buf_free(&t);

    put32(&t, 6);
    put32(&t, 48);
    put(&t, payload, 36);
    put32(&t, 44); /* trailing length differs */
    expect_malformed_tail("trailer.pcapng", false, &t,
                          "block length 48 differs from its trailing length 44");
    buf_free(&t);

    put32(&t, 5);
    put32(&t, 16);
    put32(&t, 0);
    put32(&t, 20); /* skipped block with a wrong trailer */
    expect_malformed_tail("trailer-skip.pcapng", false, &t,
                          "block length 16 differs from its trailing length 20");
    buf_free(&t);
}

static void test_pcapng_packet_on_unknown_interface_stops_the_file(void **state)
{
    struct buf t = {0};
    ng_epb(&t, 3, 1, payload, 4, 4);
    expect_malformed_tail("unknown-if.pcapng", false, &t, "packet on unknown interface 3");
    buf_free(&t);
}

static void test_pcapng_captured_length_beyond_block_stops_the_file(void **state)
{
    struct buf t = {.be = true};
    size_t at = ng_begin(&t, 6);
    put32(&t, 0);
    put32(&t, 0);
    put32(&t, 1);
    put32(&t, 1000); /* caplen: the block holds 8 */
    put32(&t, 1000);
    put(&t, payload, 8);
    ng_end(&t, at);
    expect_malformed_tail("caplen.pcapng", true, &t, "captured length 1000 exceeds its block");
    buf_free(&t);
}

static void test_pcap_invalid_caplen_mid_file_is_damage(void **state)
{
    struct buf b = {0};
    pcap_hdr(&b, false, 1);
    pcap_rec(&b, 1, 0, payload, 8, 8);
    put32(&b, 2);
    put32(&b, 0);
    put32(&b, 0x7FFFFFFF);
    put32(&b, 8);
    put(&b, payload, 64);
    const char *p = write_buf("bad-caplen.pcap", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, NULL, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.rcs[0], -EBADMSG);
    assert_int_equal(g.nwarn, 0);
    /* the bad record starts after the header (24) and one 8-byte record (24) */
    assert_non_null(strstr(g.err[0], "bad-caplen.pcap: damaged at byte 48: "));
    assert_non_null(strstr(g.err[0], "invalid packet capture length"));
    assert_non_null(strstr(g.err[0], "1 frame before it kept, 80 bytes not read"));
    assert_int_equal(g.info[0].unread, 16 + 64);
}

/* A block claiming 64 MiB in a small file: truncated, and no 64 MiB buffer. */
static void test_huge_claimed_block_is_not_allocated(void **state)
{
    struct buf b = {0};
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_epb(&b, 0, 1, payload, 16, 16);
    put32(&b, 6);
    put32(&b, 64u << 20);
    put(&b, payload, 64);
    const char *p = write_buf("huge.pcapng", &b);
    buf_free(&b);

    const char *files[1] = {p};
    struct dis_reader *r;
    char err[TCBS_ERRLEN];
    struct got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(dis_reader_open(&r, files, 1, NULL, on_warn, &g, err), 0);
    struct dis_frame f;
    assert_int_equal(dis_reader_next(r, &f, err), 1);
    assert_int_equal(dis_reader_next(r, &f, err), 0);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 mi = mallinfo2();
    assert_true(mi.arena + mi.hblkhd < (16u << 20)); /* the reader's buffer is still held here */
#endif
    dis_reader_close(r);
    assert_int_equal(g.nwarn, 1);
    assert_non_null(strstr(g.warn[0], "truncated record at the end (72 bytes)"));
}

/* ---------------------------------------------------------------------------
 * The filter.
 */

static void test_bad_filter_syntax_is_one_line_at_open(void **state)
{
    struct got g;
    assert_int_equal(read_one(small_pcap("f.pcap", 1), "tcp port", &g), DIS_EFILTER);
    assert_string_equal(g.err[0], "invalid filter 'tcp port': can't parse filter expression: "
                                  "syntax error");
}

static void test_filter_selects_tcp_port_80(void **state)
{
    uint8_t d[4][64];
    uint32_t n[4] = {make_ip(d[0], true, 6, 40000, 80), make_ip(d[1], true, 6, 40000, 443),
                     make_ip(d[2], true, 17, 40000, 80), make_ip(d[3], true, 6, 80, 40001)};
    struct buf a = {0}, b = {.be = true};
    pcap_hdr(&a, false, 1);
    for (int i = 0; i < 4; i++)
        pcap_rec(&a, 10, (uint32_t)i, d[i], n[i], n[i]);
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_idb(&b, 101, 0, -1, false, 0);
    uint8_t raw[64];
    uint32_t rn = make_ip(raw, false, 6, 80, 5555);
    ng_epb(&b, 1, 20000000, raw, rn, rn);
    ng_epb(&b, 0, 21000000, d[1], n[1], n[1]);
    const char *files[2] = {write_buf("filter.pcap", &a), write_buf("filter.pcapng", &b)};
    buf_free(&a);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_all(files, 2, "tcp port 80", &g), 0);
    assert_int_equal(g.nwarn, 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.fr[0].frame, 1);
    assert_int_equal(g.fr[1].frame, 4); /* numbers count every frame read */
    assert_int_equal(g.fr[2].frame, 5);
    assert_int_equal(g.fr[2].linktype, DIS_LINKTYPE_RAW);
    assert_int_equal(g.info[0].frames, 4);
    assert_int_equal(g.info[0].frames_matched, 2);
    assert_int_equal(g.info[1].frames, 2);
    assert_int_equal(g.info[1].frames_matched, 1);
}

static void test_filter_not_for_a_linktype_drops_its_frames_warned_once(void **state)
{
    uint8_t raw[64], eth[64];
    uint32_t rn = make_ip(raw, false, 6, 80, 5555), en = make_ip(eth, true, 6, 80, 5555);
    struct buf b = {0};
    ng_shb(&b);
    ng_idb(&b, 101, 0, -1, false, 0);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_epb(&b, 0, 1, raw, rn, rn);
    ng_epb(&b, 1, 2, eth, en, en);
    ng_epb(&b, 0, 3, raw, rn, rn);
    const char *p = write_buf("ether-on-raw.pcapng", &b);
    buf_free(&b);
    struct got g;
    assert_int_equal(read_one(p, "ether host 00:01:02:03:04:05", &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.fr[0].frame, 2);
    assert_int_equal(g.nwarn, 1);
    char want[TCBS_ERRLEN];
    snprintf(
        want, sizeof want,
        "%s: filter 'ether host 00:01:02:03:04:05' does not apply to link type 101 (RAW): ", p);
    assert_memory_equal(g.warn[0], want, strlen(want));
    assert_non_null(strstr(g.warn[0], "; its frames are dropped"));
    assert_int_equal(g.info[0].frames, 3);
    assert_int_equal(g.info[0].frames_matched, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_every_magic_and_byte_order_gives_ns_timestamps),
        cmocka_unit_test(test_pcap_raw_linktype_is_linktype_101_not_dlt),
        cmocka_unit_test(test_pcapng_default_resolution_is_microseconds),
        cmocka_unit_test(test_pcapng_two_interfaces_with_different_linktypes),
        cmocka_unit_test(test_pcapng_tsresol_powers_of_two_and_ten_and_tsoffset),
        cmocka_unit_test(test_pcapng_simple_packet_block_takes_last_ts_and_snaplen),
        cmocka_unit_test(test_pcapng_obsolete_packet_block_is_read),
        cmocka_unit_test(test_pcapng_skips_blocks_it_does_not_read),
        cmocka_unit_test(test_pcapng_new_section_resets_interfaces_and_byte_order),
        cmocka_unit_test(test_files_as_given_are_one_stream_with_continuing_frame_numbers),
        cmocka_unit_test(test_standard_input_reads_pcap_and_pcapng),
        cmocka_unit_test(test_rotated_files_in_glob_and_reverse_order_read_in_time_order),
        cmocka_unit_test(test_overlapping_files_are_merged_frame_by_frame),
        cmocka_unit_test(test_directory_reads_the_captures_in_it),
        cmocka_unit_test(test_gzip_and_zstd_read_like_the_plain_file),
        cmocka_unit_test(test_corrupt_gzip_is_an_error_and_the_stream_goes_on),
        cmocka_unit_test(test_compressed_capture_cut_short_warns_and_keeps_frames),
        cmocka_unit_test(test_named_pipe_with_classic_pcap_is_read),
        cmocka_unit_test(test_first_file_missing_is_an_error_and_the_others_are_read),
        cmocka_unit_test(test_later_bad_files_are_errors_and_the_stream_goes_on),
        cmocka_unit_test(test_unreadable_file_is_an_error),
        cmocka_unit_test(test_header_only_files_are_captures_with_no_frames),
        cmocka_unit_test(test_no_files_is_an_empty_stream),
        cmocka_unit_test(test_truncated_pcap_record_warns_and_keeps_frames),
        cmocka_unit_test(test_truncated_pcapng_block_warns_and_keeps_frames),
        cmocka_unit_test(test_pcapng_bad_block_lengths_stop_the_file),
        cmocka_unit_test(test_pcapng_packet_on_unknown_interface_stops_the_file),
        cmocka_unit_test(test_pcapng_captured_length_beyond_block_stops_the_file),
        cmocka_unit_test(test_pcap_invalid_caplen_mid_file_is_damage),
        cmocka_unit_test(test_huge_claimed_block_is_not_allocated),
        cmocka_unit_test(test_bad_filter_syntax_is_one_line_at_open),
        cmocka_unit_test(test_filter_selects_tcp_port_80),
        cmocka_unit_test(test_filter_not_for_a_linktype_drops_its_frames_warned_once),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
