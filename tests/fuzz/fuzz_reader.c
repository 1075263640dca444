/*
 * fuzz_reader.c - libFuzzer target for the capture reader (dis_reader_*).
 *
 * Input: a whole capture file (classic pcap, pcapng or anything).  It is
 * written to a memfd and read to the end by name (/proc/self/fd/N), twice:
 * once alone without a filter, once as two files with a BPF filter (merged
 * by timestamp: frame numbering across files, the frame map, filters
 * compiled for whatever link types the input names).  Compressed inputs
 * (gzip, zstd magic) are decompressed by the reader like any file.  Every frame's bytes are touched
 * so ASan sees a frame that points outside its buffer; the per-file facts'
 * invariants are checked.  Leaves decoding frames to fuzz_dissect.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_fd = -1;
static volatile uint8_t fuzz_sink; /* keeps the reads of frame bytes */

static void fuzz_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void fuzz_read(const char *const *files, size_t nfiles, const char *filter, size_t size)
{
    struct dis_reader *r;
    char err[TCBS_ERRLEN];
    if (dis_reader_open(&r, files, nfiles, filter, fuzz_warn, NULL, err) < 0)
        return;
    struct dis_frame f;
    uint64_t last_frame = 0, matched = 0;
    uint8_t x = 0;
    int rc;
    while ((rc = dis_reader_next(r, &f, err)) != 0) {
        if (rc < 0)
            continue; /* a later file cannot be opened: go on */
        if (f.frame <= last_frame || f.file_index >= nfiles || (f.caplen && !f.data))
            __builtin_trap();
        last_frame = f.frame;
        matched++;
        for (uint32_t i = 0; i < f.caplen; i++)
            x ^= f.data[i];
    }
    fuzz_sink = x;
    size_t n;
    const struct dis_file_info *fi = dis_reader_files(r, &n);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (fi[i].frames_matched > fi[i].frames || fi[i].linktype_count > DIS_MAX_FILE_LINKTYPES ||
            fi[i].bytes > size || !fi[i].done)
            __builtin_trap();
        sum += fi[i].frames_matched;
    }
    if (sum != matched || dis_reader_total_bytes(r) != size * nfiles)
        __builtin_trap();
    dis_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (fuzz_fd < 0) {
        fuzz_fd = memfd_create("fuzz_reader", 0);
        if (fuzz_fd < 0)
            __builtin_trap();
    }
    if (ftruncate(fuzz_fd, 0) != 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
        __builtin_trap();
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", fuzz_fd);
    const char *files[2] = {name, name};
    fuzz_read(files, 1, NULL, size);
    fuzz_read(files, 2, "tcp port 80 or ip6", size);
    return 0;
}
