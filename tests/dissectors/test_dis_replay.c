/*
 * test_dis_replay.c - replay frames through dis_decode() and check that
 * nothing crashes and the decoded packets stay consistent.
 *
 * Usage:
 *   test_dis_replay traces DIR      every capture in DIR (classic pcap, and
 *                                   pcapng when libpcap reads it), each frame
 *                                   at every snaplen from 0 to its length
 *   test_dis_replay fuzz DIR        every fuzz_dissect-* file in DIR as a fuzz
 *                                   input (first byte picks the link type, as
 *                                   in tests/fuzz/fuzz_dissect.c)
 *   test_dis_replay expect DIR TSV  decode every frame of the captures named in
 *                                   TSV (made from tshark by make_expect.py)
 *                                   and compare with it
 * Exit 0 on success, 1 on a failed check, 77 (meson: skipped) when DIR does
 * not exist.  Reading captures is libpcap's job here, not reader.c's, so the
 * test does not depend on the reader module.
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dis.h"

/* Snaplens tried per frame: every one for small frames, about this many
 * evenly spread (plus the last 64) for big ones. */
#define REPLAY_STEPS 256

static unsigned long failures, decodes;

static void check(bool ok, const char *what, const char *file, unsigned long frame, uint32_t snap)
{
    if (ok)
        return;
    failures++;
    if (failures <= 20)
        fprintf(stderr, "FAIL %s: %s frame %lu snaplen %u\n", what, file, frame, snap);
}

static void check_pkt(enum dis_skip s, const struct dis_pkt *p, const uint8_t *b, uint32_t cap,
                      const char *file, unsigned long frame)
{
    check((unsigned)s < DIS_SKIP_COUNT, "skip in range", file, frame, cap);
    if (s != DIS_SKIP_NONE)
        return;
    check(p->payload_caplen <= p->payload_len, "payload_caplen <= payload_len", file, frame, cap);
    check(p->payload >= b && p->payload + p->payload_caplen <= b + cap, "payload inside frame",
          file, frame, cap);
    check(p->hdr_len >= 20 && p->hdr_len <= 60, "tcp header length", file, frame, cap);
}

static void replay_frame(int lt, const uint8_t *b, uint32_t cap, uint32_t wire, const char *file,
                         unsigned long frame)
{
    struct dis_pkt full, p;
    enum dis_skip s_full = dis_decode(lt, b, cap, wire, true, &full);
    uint32_t step = cap <= REPLAY_STEPS ? 1 : cap / REPLAY_STEPS;
    size_t hdrs = 0;

    check_pkt(s_full, &full, b, cap, file, frame);
    if (s_full == DIS_SKIP_NONE)
        hdrs = (size_t)(full.payload - b);
    for (uint32_t snap = 0; snap <= cap; snap += (snap + 64 >= cap ? 1 : step)) {
        /* A private copy of exactly snap bytes, so ASan sees any overread. */
        uint8_t *copy = malloc(snap ? snap : 1);
        enum dis_skip s;

        if (!copy) {
            check(false, "malloc", file, frame, snap);
            return;
        }
        memcpy(copy, b, snap);
        s = dis_decode(lt, copy, snap, wire, true, &p);
        decodes++;
        check_pkt(s, &p, copy, snap, file, frame);
        /* Cutting only payload must not change the verdict nor the length. */
        if (s_full == DIS_SKIP_NONE && snap >= hdrs) {
            check(s == DIS_SKIP_NONE, "cut payload still decodes", file, frame, snap);
            check(s != DIS_SKIP_NONE || p.payload_len == full.payload_len,
                  "cut payload keeps payload_len", file, frame, snap);
            /* (frames may carry padding past the IP datagram) */
            check(s != DIS_SKIP_NONE ||
                      p.payload_caplen ==
                          (snap - hdrs < full.payload_len ? snap - hdrs : full.payload_len),
                  "payload_caplen", file, frame, snap);
        }
        free(copy);
    }
}

static int replay_capture(const char *path, unsigned long *frames)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *pc = pcap_open_offline(path, err);
    unsigned long n = 0;
    int r, lt;

    if (!pc) {
        fprintf(stderr, "note: %s not replayed: %s\n", path, err);
        return 0;
    }
    lt = pcap_datalink(pc);
    while ((r = pcap_next_ex(pc, &h, &d)) == 1) {
        n++;
        replay_frame(lt, d, h->caplen, h->len, path, n);
    }
    pcap_close(pc);
    *frames += n;
    return 0;
}

/* Same selector table as tests/fuzz/fuzz_dissect.c. */
static const int fuzz_linktypes[] = {0, 1, 101, 12, 108, 113, 228, 229, 276};

static int replay_fuzz_input(const char *path, unsigned long *frames)
{
    FILE *fp = fopen(path, "rb");
    static uint8_t buf[65536 + 1];
    size_t n;

    if (!fp) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    if (n < 1)
        return 0;
    int lt = fuzz_linktypes[buf[0] % (sizeof(fuzz_linktypes) / sizeof(fuzz_linktypes[0]))];
    uint32_t cap = (uint32_t)(n - 1);

    replay_frame(lt, buf + 1, cap, cap, path, 1);
    replay_frame(lt, buf + 1, cap, cap + 1500, path, 1);
    (*frames)++;
    return 0;
}

/* One expectation line: file, frame, "-" or the fields make_expect.py writes. */
static int expect_line(const char *dir, char *line, char *cur_file, pcap_t **pc,
                       unsigned long *next, unsigned long *frames)
{
    char file[256], csum[16];
    unsigned long frame, sport, dport, seq, ack, flags, plen, vlan0, vlan1;
    int nf = sscanf(line, "%255s %lu %lu %lu %lu %lu %lu %lu %15s %lu %lu", file, &frame, &sport,
                    &dport, &seq, &ack, &flags, &plen, csum, &vlan0, &vlan1);
    char err[PCAP_ERRBUF_SIZE], path[4096];
    struct pcap_pkthdr *h;
    const u_char *d;
    struct dis_pkt p;
    enum dis_skip sk;
    static const char *const csum_names[] = {"unchecked", "good", "bad_ip", "bad_tcp"};

    if (nf < 2) {
        fprintf(stderr, "bad expectation line: %s", line);
        return -1;
    }
    if (strcmp(file, cur_file) != 0) {
        if (*pc)
            pcap_close(*pc);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        *pc = pcap_open_offline(path, err);
        if (!*pc) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        snprintf(cur_file, 256, "%s", file);
        *next = 1;
    }
    for (;;) {
        if (pcap_next_ex(*pc, &h, &d) != 1) {
            fprintf(stderr, "%s: no frame %lu\n", file, frame);
            return -1;
        }
        if ((*next)++ == frame)
            break;
    }
    (*frames)++;
    sk = dis_decode(pcap_datalink(*pc), d, h->caplen, h->len, true, &p);
    if (nf == 2) { /* "-": tshark saw no TCP segment */
        check(sk != DIS_SKIP_NONE, "not TCP for tshark", file, frame, h->caplen);
        return 0;
    }
    if (nf != 11) {
        fprintf(stderr, "bad expectation line: %s", line);
        return -1;
    }
    check(sk == DIS_SKIP_NONE, "TCP for tshark", file, frame, h->caplen);
    if (sk != DIS_SKIP_NONE)
        return 0;
    check(p.sport == sport && p.dport == dport, "ports", file, frame, h->caplen);
    check(p.seq == seq && p.ack == ack, "seq/ack", file, frame, h->caplen);
    check(p.tcp_flags == flags, "flags", file, frame, h->caplen);
    check(p.payload_len == plen, "payload_len", file, frame, h->caplen);
    check(strcmp(csum, "*") == 0 || strcmp(csum_names[p.csum], csum) == 0, "checksum verdict", file,
          frame, h->caplen);
    check(p.vlan[0] == vlan0 && p.vlan[1] == vlan1, "vlan ids", file, frame, h->caplen);
    return 0;
}

static int expect_all(const char *dir, const char *tsv)
{
    char line[1024], cur[256] = "";
    FILE *fp = fopen(tsv, "r");
    pcap_t *pc = NULL;
    unsigned long next = 1, frames = 0;
    int rc = 0;

    if (!fp) {
        fprintf(stderr, "%s: %s\n", tsv, strerror(errno));
        return 1;
    }
    while (rc == 0 && fgets(line, sizeof(line), fp))
        rc = expect_line(dir, line, cur, &pc, &next, &frames);
    if (pc)
        pcap_close(pc);
    fclose(fp);
    printf("%lu frames compared with tshark, %lu failed checks\n", frames, failures);
    return rc || failures ? 1 : 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    bool fuzz;
    DIR *dir;
    struct dirent *e;
    char *names[4096];
    size_t count = 0;
    unsigned long frames = 0;
    int rc = 0;

    if (argc == 4 && strcmp(argv[1], "expect") == 0) {
        if (!(dir = opendir(argv[2]))) {
            fprintf(stderr, "%s: %s: skipped\n", argv[2], strerror(errno));
            return 77;
        }
        closedir(dir);
        return expect_all(argv[2], argv[3]);
    }
    if (argc != 3 || (strcmp(argv[1], "traces") && strcmp(argv[1], "fuzz"))) {
        fprintf(stderr, "usage: %s traces|fuzz DIR | expect DIR TSV\n", argv[0]);
        return 2;
    }
    fuzz = strcmp(argv[1], "fuzz") == 0;
    dir = opendir(argv[2]);
    if (!dir) {
        fprintf(stderr, "%s: %s: skipped\n", argv[2], strerror(errno));
        return 77;
    }
    while ((e = readdir(dir)) && count < 4096) {
        const char *dot = strrchr(e->d_name, '.');
        size_t len;

        if (e->d_name[0] == '.')
            continue;
        /* Regressions of other targets (fuzz_reader-*) are not frames. */
        if (fuzz && strncmp(e->d_name, "fuzz_dissect-", 13) != 0)
            continue;
        if (!fuzz &&
            (!dot || (strcmp(dot, ".pcap") && strcmp(dot, ".pcapng") && strcmp(dot, ".cap"))))
            continue;
        len = strlen(argv[2]) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count])
            break;
        snprintf(names[count], len, "%s/%s", argv[2], e->d_name);
        count++;
    }
    closedir(dir);
    qsort(names, count, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < count; i++) {
        if ((fuzz ? replay_fuzz_input : replay_capture)(names[i], &frames) < 0)
            rc = 1;
        free(names[i]);
    }
    printf("%zu files, %lu frames replayed, %lu decodes, %lu failed checks\n", count, frames,
           decodes, failures);
    return rc || failures ? 1 : 0;
}
