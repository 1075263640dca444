/*
 * reader.c - the capture reader: several files read as one stream of frames,
 * merged by timestamp (or one after another, as given).
 *
 * Owns: expanding directories, opening files (lazily, "-" = standard input),
 * decompressing gzip and zstd (detected by magic) under a FILE, telling
 * classic pcap from pcapng by the first 4 bytes, classic pcap through
 * libpcap (its buffer is passed through, no copy), peeking every file's first
 * timestamp and merging open files frame by frame, the BPF filter compiled
 * per link type, frame numbering across the run and within each file, the
 * map between the two, the per-file facts and every warning about input.
 * pcapng blocks are parsed by pcapng.c.
 *
 * Leaves to others: decoding frames (decode.c and the layers), anything about
 * connections.  Nothing here prints; warnings go to the caller's callback.
 *
 * What is an error and what is a warning (both name the file):
 *  - cannot open / directory / empty / not a capture / bad header: an error
 *    from dis_reader_next() when the stream reaches the file;
 *  - read or decompression error (ferror): an error, the file is abandoned;
 *  - file ends inside a record, or a compressed stream ends early: a
 *    warning, frames before it kept, info.truncated set (a capture cut short
 *    or still being written);
 *  - damage after a good header (bad block length, packet on an unknown
 *    interface, libpcap's "invalid packet capture length"): an error saying
 *    where and how many bytes were not read; frames before it kept, the rest
 *    of that file skipped, the other files read;
 *  - the filter cannot compile for a link type met later: a warning once per
 *    link type, and that link type's frames are dropped (counted in frames,
 *    not in frames_matched).  An expression that cannot apply to a link
 *    type (`ether host` on RAW) could match none of its frames anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zlib.h>
#include <zstd.h>

#include "dis_int.h"
#include "reader_int.h"

#define RD_MAX_PROGS 16          /* compiled filters cached, one per link type */
#define RD_FILE_BUF (256u << 10) /* stdio buffer of a named input file */
#define RD_Z_BUF (64u << 10)     /* compressed bytes read at once */
#define RD_PCAP_HDR 24u          /* classic pcap file header */
#define RD_PCAP_REC 16u          /* classic pcap record header */

enum rd_kind { RD_CLOSED, RD_PCAP, RD_PCAPNG };

struct rd_prog {
    int linktype;
    bool ok; /* false: does not compile for this link type (warned) */
    struct bpf_program prog;
};

/*
 * A FILE over a stream that cannot seek back or is compressed: it first
 * hands out the raw bytes already taken (pre), decompresses when asked, and
 * can give back decoded bytes peeked before the FILE existed (out_pre).
 */
struct rd_in {
    FILE *raw;
    bool own;    /* fclose raw at the end (false for stdin) */
    bool use_fd; /* a pipe: read(2) on its descriptor, nothing buffered in raw */
    uint8_t pre[4];
    size_t npre, pre_off;
    uint8_t out_pre[4];
    size_t nout_pre, out_pre_off;
    enum dis_compression z;
    z_stream gz;
    bool gz_init, gz_reset; /* gz_reset: a gzip member ended; the next byte starts one */
    ZSTD_DStream *zs;
    uint8_t *ibuf;
    size_t ilen, ipos;
    bool raw_eof;
    bool z_end;         /* the compressed data ended at a member / frame boundary */
    uint64_t raw_bytes; /* bytes taken from the raw file (compressed size read) */
};

/* One input file being read. */
struct rd_src {
    enum rd_kind kind;
    FILE *fp;          /* pcapng: what it reads (the file or a struct rd_in FILE) */
    FILE *raw;         /* the file itself when not owned by fp / the pcap */
    pcap_t *pcap;      /* classic pcap: owns its FILE */
    int pcap_linktype; /* LINKTYPE_ number of the open classic file */
    struct rd_in *in;  /* when reading through one (owned by its FILE) */
    bool seekable;     /* a regular uncompressed file: its size says what is left */
    uint64_t size;     /* of a seekable file */
    uint64_t pos;      /* classic pcap: bytes of the file read (uncompressed) */
    struct dis_ng ng;
    struct dis_file_info *fi; /* where facts go (scratch while peeking) */
    struct dis_frame pend;    /* the next frame, read ahead for the merge */
    struct pcap_pkthdr *hdr;  /* libpcap's header of pend (NULL for pcapng) */
};

/* One capture of the run. */
struct rd_file {
    bool stream;    /* stdin, a FIFO: read once, alone, where given (never peeked) */
    bool has_first; /* peeked: the first frame's time is first_ts */
    uint64_t first_ts;
    uint32_t seg;   /* segment: files merged together share one */
    bool empty_dir; /* a directory with no capture in it: an error when reached */
    struct rd_src *src; /* while open, with a pending frame */
};

struct dis_reader {
    size_t nfiles;
    struct dis_file_info *info;
    struct rd_file *file;
    char **names; /* owned copies of every capture name */
    uint32_t *order; /* files in reading order */
    size_t pos;      /* next file of order[] to open */
    uint32_t *active; /* files open with a pending frame */
    size_t nactive;
    bool as_given, started;
    long refill; /* file whose pending frame was handed out last; -1 = none */
    uint64_t frame;   /* frames read in the run (before the filter) */
    uint64_t last_ts; /* of the last frame read, for the going-back warning */
    uint64_t total_bytes;
    struct dis_frame_run *map;
    size_t nmap, cap_map;
    bool quiet; /* peeking: no warnings */

    char *filter;
    struct rd_prog progs[RD_MAX_PROGS];
    unsigned nprogs, prog_evict;
    struct rd_prog *last_prog; /* most recent lookup: consecutive frames share a link type */

    dis_warn_fn warn;
    void *warn_ctx;
};

/* The file's name in messages. */
static const char *rd_shown(const char *name)
{
    return strcmp(name, "-") == 0 ? "standard input" : name;
}

__attribute__((format(printf, 2, 3))) static void rd_warn(struct dis_reader *r, const char *fmt,
                                                          ...)
{
    if (!r->warn || r->quiet)
        return;
    char msg[TCBS_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->warn(r->warn_ctx, msg);
}

/* Format a one-line message into a TCBS_ERRLEN buffer (cut if longer). */
__attribute__((format(printf, 2, 3))) static void rd_err(char err[TCBS_ERRLEN], const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, TCBS_ERRLEN, fmt, ap);
    va_end(ap);
}

/*
 * libpcap hands out DLT_ numbers; files and dis.h use LINKTYPE_ numbers.
 * They differ for a few old types, RAW above all (DLT_RAW is 12 or 14).
 */
static const struct {
    int linktype, dlt;
} rd_dlt_map[] = {
    {100, DLT_ATM_RFC1483}, {101, DLT_RAW},      {102, DLT_SLIP_BSDOS},
    {103, DLT_PPP_BSDOS},   {106, DLT_ATM_CLIP},
};

static int rd_dlt_to_linktype(int dlt)
{
    for (size_t i = 0; i < sizeof rd_dlt_map / sizeof rd_dlt_map[0]; i++)
        if (rd_dlt_map[i].dlt == dlt)
            return rd_dlt_map[i].linktype;
    return dlt;
}

static int rd_linktype_to_dlt(int linktype)
{
    for (size_t i = 0; i < sizeof rd_dlt_map / sizeof rd_dlt_map[0]; i++)
        if (rd_dlt_map[i].linktype == linktype)
            return rd_dlt_map[i].dlt;
    return linktype;
}

/*
 * Compile the filter for a link type into *p.  Returns 0 (p->ok says whether
 * it compiled; if not, msg holds libpcap's reason) or -ENOMEM.
 */
static int rd_compile(const char *filter, int linktype, struct rd_prog *p, char msg[TCBS_ERRLEN])
{
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(rd_linktype_to_dlt(linktype), 262144,
                                                        PCAP_TSTAMP_PRECISION_NANO);
    if (!dead) {
        rd_err(msg, "out of memory compiling the filter");
        return -ENOMEM;
    }
    p->linktype = linktype;
    p->ok = pcap_compile(dead, &p->prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (!p->ok)
        rd_err(msg, "%s", pcap_geterr(dead));
    pcap_close(dead);
    return 0;
}

/* The cached program for a link type, compiling (and warning) on a miss. */
static struct rd_prog *rd_prog_for(struct dis_reader *r, int linktype, const char *file)
{
    if (r->last_prog && r->last_prog->linktype == linktype)
        return r->last_prog;
    for (unsigned i = 0; i < r->nprogs; i++)
        if (r->progs[i].linktype == linktype)
            return r->last_prog = &r->progs[i];
    struct rd_prog *p;
    if (r->nprogs < RD_MAX_PROGS) {
        p = &r->progs[r->nprogs++];
    } else { /* more link types than slots: recycle one */
        p = &r->progs[r->prog_evict++ % RD_MAX_PROGS];
        if (p->ok)
            pcap_freecode(&p->prog);
    }
    char msg[TCBS_ERRLEN];
    if (rd_compile(r->filter, linktype, p, msg) < 0) {
        p->ok = false; /* out of memory: drop these frames rather than pass them unfiltered */
        p->linktype = linktype;
    }
    if (!p->ok) {
        const char *name = pcap_datalink_val_to_name(rd_linktype_to_dlt(linktype));
        rd_warn(r,
                "%s: filter '%s' does not apply to link type %d (%s): %s; its frames are dropped",
                rd_shown(file), r->filter, linktype, name ? name : "unknown", msg);
    }
    return r->last_prog = p;
}

/* ---------------------------------------------------------------------------
 * The input FILE: replaying bytes already taken, decompressing.
 */

/* Up to size raw bytes: the replayed ones first, then one read. */
static ssize_t rd_in_raw(struct rd_in *c, uint8_t *buf, size_t size)
{
    size_t n = 0;
    while (c->pre_off < c->npre && n < size)
        buf[n++] = c->pre[c->pre_off++];
    if (n < size) {
        if (c->use_fd) {
            /* One read(2): a pipe hands over what it has now, so frames reach the
             * analyzer as they arrive (tcpdump -w - | tcbscope analyze -) and a
             * Ctrl-C (EINTR) stops the wait instead of losing a buffer's worth. */
            ssize_t k = read(fileno(c->raw), buf + n, size - n);
            if (k < 0) {
                if (n)
                    goto out;
                return -1;
            }
            n += (size_t)k;
        } else {
            size_t k = fread(buf + n, 1, size - n, c->raw);
            if (k == 0 && n == 0 && ferror(c->raw))
                return -1;
            n += k;
        }
    }
out:
    c->raw_bytes += n;
    return (ssize_t)n;
}

/* Take more compressed input when the buffer is used up; false on a read error. */
static bool rd_in_feed(struct rd_in *c)
{
    if (c->ipos < c->ilen || c->raw_eof)
        return true;
    ssize_t k = rd_in_raw(c, c->ibuf, RD_Z_BUF);
    if (k < 0)
        return false;
    c->ilen = (size_t)k;
    c->ipos = 0;
    if (k == 0)
        c->raw_eof = true;
    return true;
}

/* Up to size decoded bytes: 0 at the end, -1 with errno on a read or data error. */
static ssize_t rd_in_decode(struct rd_in *c, uint8_t *buf, size_t size)
{
    if (c->z == DIS_COMP_NONE)
        return rd_in_raw(c, buf, size);
    for (;;) {
        if (!rd_in_feed(c))
            return -1;
        if (c->ipos == c->ilen)
            return 0; /* raw end: z_end says whether the data was complete */
        size_t produced;
        if (c->z == DIS_COMP_GZIP) {
            if (c->gz_reset) { /* concatenated gzip members read as one stream (gzip -d) */
                inflateReset(&c->gz);
                c->gz_reset = false;
                c->z_end = false;
            }
            c->gz.next_in = c->ibuf + c->ipos;
            c->gz.avail_in = (uInt)(c->ilen - c->ipos);
            c->gz.next_out = buf;
            c->gz.avail_out = size > UINT32_MAX ? UINT32_MAX : (uInt)size;
            uInt before = c->gz.avail_out;
            int zr = inflate(&c->gz, Z_NO_FLUSH);
            c->ipos = c->ilen - c->gz.avail_in;
            produced = before - c->gz.avail_out;
            if (zr == Z_STREAM_END) {
                c->z_end = true;
                c->gz_reset = true;
            } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                errno = EIO;
                return -1;
            }
        } else {
            ZSTD_inBuffer in = {c->ibuf, c->ilen, c->ipos};
            ZSTD_outBuffer out = {buf, size, 0};
            size_t zr = ZSTD_decompressStream(c->zs, &out, &in);
            if (ZSTD_isError(zr)) {
                errno = EIO;
                return -1;
            }
            c->ipos = in.pos;
            c->z_end = zr == 0;
            produced = out.pos;
        }
        if (produced)
            return (ssize_t)produced;
    }
}

/* fopencookie read: the peeked decoded bytes first, then decoded data. */
static ssize_t rd_in_read(void *cookie, char *buf, size_t size)
{
    struct rd_in *c = cookie;
    size_t n = 0;
    while (c->out_pre_off < c->nout_pre && n < size)
        buf[n++] = (char)c->out_pre[c->out_pre_off++];
    if (n == size)
        return (ssize_t)n;
    ssize_t k = rd_in_decode(c, (uint8_t *)buf + n, size - n);
    if (k < 0)
        return n ? (ssize_t)n : -1;
    return (ssize_t)(n + (size_t)k);
}

/* Free an rd_in (and its raw file when owned). */
static int rd_in_free(struct rd_in *c)
{
    int rc = c->own ? fclose(c->raw) : 0;
    if (c->gz_init)
        inflateEnd(&c->gz);
    ZSTD_freeDStream(c->zs);
    free(c->ibuf);
    free(c);
    return rc;
}

/* fopencookie close. */
static int rd_in_close(void *cookie)
{
    return rd_in_free(cookie);
}

/* A new rd_in over raw, replaying pre[0..npre); NULL on ENOMEM (raw untouched). */
static struct rd_in *rd_in_new(FILE *raw, bool own, bool use_fd, const uint8_t *pre, size_t npre,
                               enum dis_compression z)
{
    struct rd_in *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->raw = raw;
    c->use_fd = use_fd;
    memcpy(c->pre, pre, npre);
    c->npre = npre;
    c->z = z;
    if (z == DIS_COMP_GZIP) {
        c->ibuf = malloc(RD_Z_BUF);
        if (!c->ibuf || inflateInit2(&c->gz, 15 + 16) != Z_OK) /* gzip wrapper only */
            goto nomem;
        c->gz_init = true;
    } else if (z == DIS_COMP_ZSTD) {
        c->ibuf = malloc(RD_Z_BUF);
        c->zs = ZSTD_createDStream();
        if (!c->ibuf || !c->zs || ZSTD_isError(ZSTD_initDStream(c->zs)))
            goto nomem;
    }
    c->own = own; /* only now: a failed rd_in_new leaves raw to the caller */
    return c;
nomem:
    rd_in_free(c);
    return NULL;
}

/* The FILE reading through c (which it then owns); NULL on ENOMEM. */
static FILE *rd_in_file(struct rd_in *c)
{
    cookie_io_functions_t io = {.read = rd_in_read, .close = rd_in_close};
    FILE *f = fopencookie(c, "r", io);
    if (f)
        setvbuf(f, NULL, _IOFBF, RD_FILE_BUF);
    return f;
}

/* ---------------------------------------------------------------------------
 * Opening and closing one input file.
 */

/* Close an input file and free its reader; NULL is fine. */
static void rd_src_close(struct rd_src *s)
{
    if (!s)
        return;
    if (s->pcap)
        pcap_close(s->pcap); /* closes its FILE (an rd_in never closes stdin) */
    if (s->fp && s->fp != stdin)
        fclose(s->fp);
    if (s->raw && s->raw != stdin)
        fclose(s->raw);
    dis_ng_free(&s->ng);
    free(s);
}

/* Is m (read big-endian) a classic pcap magic?  *ns: the nanosecond one. */
static bool rd_is_pcap_magic(uint32_t m, bool *ns)
{
    *ns = m == 0xA1B23C4Du || m == 0x4D3CB2A1u;
    return *ns || m == 0xA1B2C3D4u || m == 0xD4C3B2A1u;
}

/* 4 bytes as a big-endian number (how the magics are compared). */
static uint32_t rd_be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Compression named by a file's first bytes. */
static enum dis_compression rd_z_magic(const uint8_t m[4])
{
    if (m[0] == 0x1F && m[1] == 0x8B)
        return DIS_COMP_GZIP;
    if (rd_be32(m) == 0x28B52FFDu) /* zstd frame magic, little-endian 0xFD2FB528 */
        return DIS_COMP_ZSTD;
    return DIS_COMP_NONE;
}

/* "gzip", "zstd" or "" for messages. */
static const char *rd_z_name(enum dis_compression z)
{
    return z == DIS_COMP_GZIP ? "gzip" : z == DIS_COMP_ZSTD ? "zstd" : "";
}

/* Up to 4 bytes from a stream with read(2) (nothing buffered); *got, false on a read error. */
static bool rd_take4(FILE *fp, bool stream, uint8_t m[4], size_t *got)
{
    *got = 0;
    if (!stream) {
        *got = fread(m, 1, 4, fp);
        return *got == 4 || !ferror(fp);
    }
    while (*got < 4) {
        ssize_t k = read(fileno(fp), m + *got, 4 - *got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return false;
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return true;
}

/* Decoded bytes of c before its FILE exists, given back by the FILE; same contract. */
static bool rd_in_peek4(struct rd_in *c, uint8_t m[4], size_t *got)
{
    *got = 0;
    while (*got < 4) {
        ssize_t k = rd_in_decode(c, m + *got, 4 - *got);
        if (k < 0)
            return false;
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    memcpy(c->out_pre, m, *got);
    c->nout_pre = *got;
    return true;
}

/*
 * Open the file `name` for reading into a new *out, facts into fi.  Returns
 * 0, or a negative errno with "FILE: problem" in err.
 */
static int rd_src_open(struct dis_reader *r, const char *name, struct dis_file_info *fi,
                       struct rd_src **out, char err[TCBS_ERRLEN])
{
    const char *shown = rd_shown(name);
    bool is_stdin = strcmp(name, "-") == 0;
    FILE *fp = stdin;
    int rc;
    *out = NULL;
    struct rd_src *s = calloc(1, sizeof *s);
    if (!s) {
        rd_err(err, "%s: out of memory", shown);
        return -ENOMEM;
    }
    s->fi = fi;
    if (!is_stdin) {
        fp = fopen(name, "rbe");
        if (!fp) {
            rc = -errno;
            if (errno == EMFILE)
                rd_err(err, "%s: %s (too many captures overlap in time; raise the limit, "
                            "ulimit -n, or use --as-given)", shown, strerror(errno));
            else
                rd_err(err, "%s: %s", shown, strerror(errno));
            free(s);
            return rc;
        }
        struct stat st;
        if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
            fclose(fp);
            free(s);
            rd_err(err, "%s: is a directory", shown);
            return -EISDIR;
        }
        setvbuf(fp, NULL, _IOFBF, RD_FILE_BUF);
    }
    s->raw = fp;

    struct stat sst;
    bool stream = is_stdin || fstat(fileno(fp), &sst) != 0 || !S_ISREG(sst.st_mode);
    uint8_t magic[4];
    size_t got;
    /* Not seekable: take the magic with read(2) so stdio buffers nothing
     * that the replaying FILE below would have to give back. */
    if (!rd_take4(fp, stream, magic, &got)) {
        rc = -EIO;
        rd_err(err, "%s: read error: %s", shown, strerror(errno ? errno : EIO));
        goto fail;
    }
    enum dis_compression z = got == 4 ? rd_z_magic(magic) : DIS_COMP_NONE;
    fi->compression = (uint8_t)z;
    FILE *in = fp; /* what the format reader reads */
    bool at_magic = false; /* in is positioned after the magic (true) or at byte 0 */
    if (z == DIS_COMP_NONE && !stream) {
        s->seekable = true;
        s->size = (uint64_t)sst.st_size;
        at_magic = true;
    } else if (got == 4) {
        /* The magic is replayed, then the file read on (read(2) on a stream). */
        s->in = rd_in_new(fp, !is_stdin, stream, magic, 4, z);
        if (!s->in) {
            rd_err(err, "%s: out of memory", shown);
            rc = -ENOMEM;
            goto fail;
        }
        s->raw = NULL; /* the rd_in owns it now */
        if (!rd_in_peek4(s->in, magic, &got)) {
            rc = -EIO;
            rd_err(err, "%s: %s error: %s", shown, z ? "decompression" : "read",
                   strerror(errno ? errno : EIO));
            rd_in_free(s->in);
            free(s);
            return rc;
        }
        in = rd_in_file(s->in);
        if (!in) {
            rd_in_free(s->in);
            free(s);
            rd_err(err, "%s: out of memory", shown);
            return -ENOMEM;
        }
        s->fp = in; /* owns the rd_in until libpcap takes it over */
    }
    if (got < 4) {
        rc = -EINVAL;
        rd_err(err, "%s: %s%s%s", shown,
               got == 0 ? "empty file" : "not a pcap or pcapng capture file",
               z ? " once decompressed with " : "", rd_z_name(z));
        goto fail;
    }
    uint32_t m = rd_be32(magic);
    bool ns;
    if (m == 0x0A0D0D0Au) {
        char msg[TCBS_ERRLEN];
        if (!at_magic && fread(magic, 1, 4, in) != 4) { /* the FILE gives the magic back */
            rc = -EIO;
            rd_err(err, "%s: read error", shown);
            goto fail;
        }
        fi->pcapng = true;
        s->ng.last_ts = r->last_ts;
        rc = dis_ng_open(&s->ng, in, magic, fi, msg);
        if (rc < 0) {
            rd_err(err, "%s: %s", shown, msg);
            goto fail;
        }
        s->fp = in;
        if (in == fp)
            s->raw = NULL;
        s->kind = RD_PCAPNG;
        *out = s;
        return 0;
    }
    if (!rd_is_pcap_magic(m, &ns)) {
        rd_err(err, "%s: not a pcap or pcapng capture file%s%s", shown,
               z ? " once decompressed with " : "", rd_z_name(z));
        rc = -EINVAL;
        goto fail;
    }

    /* Classic pcap: give libpcap the stream from byte 0. */
    if (at_magic && fseek(fp, 0, SEEK_SET) != 0) {
        rc = -EIO;
        rd_err(err, "%s: cannot seek: %s", shown, strerror(errno));
        goto fail;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';
    s->pcap = pcap_fopen_offline_with_tstamp_precision(in, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!s->pcap) {
        rd_err(err, "%s: %s", shown, errbuf[0] ? errbuf : "cannot read pcap header");
        rc = -EINVAL;
        goto fail;
    }
    /* libpcap owns `in` now. */
    if (in == fp)
        s->raw = NULL;
    else
        s->fp = NULL;
    s->kind = RD_PCAP;
    s->pcap_linktype = rd_dlt_to_linktype(pcap_datalink(s->pcap));
    fi->nanosecond = ns;
    s->pos = RD_PCAP_HDR;
    dis_file_add_linktype(fi, s->pcap_linktype);
    *out = s;
    return 0;

fail:
    rd_src_close(s); /* closes fp (never stdin) or the rd_in FILE over it */
    return rc;
}

/* ---------------------------------------------------------------------------
 * Reading one file.
 */

/* Bytes of the file consumed, for progress: compressed bytes when compressed. */
static void rd_src_bytes(struct rd_src *s)
{
    if (s->in && s->in->z != DIS_COMP_NONE)
        s->fi->bytes = s->in->raw_bytes;
    else
        s->fi->bytes = s->kind == RD_PCAPNG ? s->ng.pos : s->pos;
}

/* The file ends inside a record: warn, keep what came before. */
static void rd_truncated(struct dis_reader *r, struct rd_src *s, const char *name, uint64_t bytes)
{
    s->fi->truncated = true;
    rd_warn(r, "%s: truncated record at the end (%llu bytes), frames before it kept",
            rd_shown(name), (unsigned long long)bytes);
}

/* Bytes left in fp from where it stands to its end (read and counted). */
static uint64_t rd_drain(FILE *fp)
{
    char sink[16384];
    uint64_t n = 0;
    size_t k;
    while ((k = fread(sink, 1, sizeof sink, fp)) > 0)
        n += k;
    return n;
}

/*
 * The file is damaged where the record or block at `at` starts, `consumed`
 * bytes of it already read from fp: set the facts and write the error.
 */
static int rd_damaged(struct rd_src *s, const char *name, uint64_t at, uint64_t consumed, FILE *fp,
                      const char *problem, char err[TCBS_ERRLEN])
{
    uint64_t left = s->seekable && s->size >= at ? s->size - at : consumed + rd_drain(fp);
    s->fi->damaged = true;
    s->fi->unread = left;
    rd_err(err, "%s: damaged at byte %llu: %s; %llu frame%s before it kept, %llu bytes%s not read",
           rd_shown(name), (unsigned long long)at, problem, (unsigned long long)s->fi->frames,
           s->fi->frames == 1 ? "" : "s", (unsigned long long)left,
           s->in && s->in->z != DIS_COMP_NONE ? " (uncompressed)" : "");
    return -EBADMSG;
}

/*
 * libpcap failed mid-file.  Returns 0 (truncated: warned; the file ends here),
 * -EIO (a read error) or -EBADMSG (damage), message in err.
 */
static int rd_pcap_failed(struct dis_reader *r, struct rd_src *s, const char *name,
                          char err[TCBS_ERRLEN])
{
    const char *msg = pcap_geterr(s->pcap);
    if (ferror(pcap_file(s->pcap))) {
        rd_err(err, "%s: %s", rd_shown(name), msg);
        return -EIO;
    }
    if (strstr(msg, "truncated dump file")) {
        /* libpcap 1.10: "...tried to read N header bytes, only got M" or
         * "...tried to read N captured bytes, only got M" */
        const char *got = strstr(msg, "only got ");
        unsigned long long n = got ? strtoull(got + 9, NULL, 10) : 0;
        if (!strstr(msg, "header bytes"))
            n += RD_PCAP_REC;
        s->pos += n;
        rd_truncated(r, s, name, n);
        return 0;
    }
    /* libpcap read the record header, then refused its lengths. */
    return rd_damaged(s, name, s->pos, RD_PCAP_REC, pcap_file(s->pcap), msg, err);
}

/*
 * Read the next frame of s into s->pend (data, caplen, wirelen, ts_ns,
 * linktype) and s->hdr.  Returns 1, 0 at the end of the file (warnings
 * given), or a negative errno with err set.
 */
static int rd_src_read(struct dis_reader *r, struct rd_src *s, const char *name,
                       char err[TCBS_ERRLEN])
{
    struct dis_frame *f = &s->pend;
    int rc;
    if (s->kind == RD_PCAP) {
        const u_char *data;
        rc = pcap_next_ex(s->pcap, &s->hdr, &data);
        if (rc == 1) {
            const struct pcap_pkthdr *h = s->hdr;
            f->data = data;
            f->caplen = h->caplen;
            f->wirelen = h->len;
            /* nanosecond precision asked for: tv_usec holds ns */
            f->ts_ns = (uint64_t)h->ts.tv_sec * UINT64_C(1000000000) + (uint64_t)h->ts.tv_usec;
            f->linktype = s->pcap_linktype;
            s->pos += RD_PCAP_REC + h->caplen;
        } else if (rc == PCAP_ERROR_BREAK) { /* end of file */
            rc = 0;
        } else {
            rc = rd_pcap_failed(r, s, name, err);
        }
    } else {
        struct dis_ng_frame nf;
        char msg[TCBS_ERRLEN];
        s->hdr = NULL;
        rc = dis_ng_next(&s->ng, &nf, msg);
        switch (rc) {
        case DIS_NG_FRAME:
            f->data = nf.data;
            f->caplen = nf.caplen;
            f->wirelen = nf.wirelen;
            f->ts_ns = nf.ts_ns;
            f->linktype = nf.linktype;
            rc = 1;
            break;
        case DIS_NG_END:
            rc = 0;
            break;
        case DIS_NG_TRUNCATED:
            rd_truncated(r, s, name, s->ng.trunc_bytes);
            rc = 0;
            break;
        case DIS_NG_MALFORMED:
            rc = rd_damaged(s, name, s->ng.block_start, s->ng.pos - s->ng.block_start, s->fp,
                            msg, err);
            break;
        default:
            rd_err(err, "%s: %s", rd_shown(name), msg);
            break;
        }
    }
    rd_src_bytes(s);
    if (rc == 0 && s->in && s->in->z != DIS_COMP_NONE && !s->in->z_end && !s->fi->truncated) {
        /* The decoded bytes ended on a record boundary but the compressed data did not. */
        s->fi->truncated = true;
        rd_warn(r, "%s: the %s data ends early (file cut short), frames before it kept",
                rd_shown(name), rd_z_name(s->in->z));
    }
    return rc;
}

/* ---------------------------------------------------------------------------
 * Directories.
 */

/* Version sort of names (qsort). */
static int rd_name_cmp(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Append an owned name to the list; false on ENOMEM (name freed). */
static bool rd_push_name(char ***v, size_t *n, size_t *cap, char *name)
{
    if (!name)
        return false;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(name);
            return false;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = name;
    return true;
}

/* Does the regular file at path start like a capture (pcap, pcapng, gzip, zstd)? */
static bool rd_looks_like_capture(const char *path)
{
    FILE *fp = fopen(path, "rbe");
    if (!fp)
        return true; /* let opening it later say what is wrong */
    uint8_t m[4];
    size_t got = fread(m, 1, 4, fp);
    fclose(fp);
    bool ns;
    return got == 4 && (rd_is_pcap_magic(rd_be32(m), &ns) || rd_be32(m) == 0x0A0D0D0Au ||
                        rd_z_magic(m) != DIS_COMP_NONE);
}

/*
 * Add the captures directly in directory dir to the list, in version order.
 * Returns 0, or -ENOMEM.  A directory that cannot be read, or holds no
 * capture, is added as itself (*none set for the latter), so that the error
 * comes from dis_reader_next() in order.
 */
static int rd_expand_dir(struct dis_reader *r, const char *dir, char ***v, size_t *n, size_t *cap,
                         bool *none)
{
    *none = false;
    DIR *d = opendir(dir);
    if (!d)
        return rd_push_name(v, n, cap, strdup(dir)) ? 0 : -ENOMEM;
    char **ents = NULL;
    size_t ne = 0, ce = 0;
    struct dirent *e;
    int rc = 0;
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path;
        if (asprintf(&path, "%s%s%s", dir, slash ? "" : "/", e->d_name) < 0 ||
            !rd_push_name(&ents, &ne, &ce, path)) {
            rc = -ENOMEM;
            break;
        }
    }
    closedir(d);
    if (ents)
        qsort(ents, ne, sizeof *ents, rd_name_cmp);
    size_t found = 0;
    for (size_t i = 0; i < ne; i++) {
        struct stat st;
        bool keep = false;
        if (rc == 0 && stat(ents[i], &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rd_warn(r, "%s: a directory inside %s, not read (no recursion)", ents[i], dir);
            else if (!S_ISREG(st.st_mode))
                rd_warn(r, "%s: not a regular file, skipped", ents[i]);
            else if (!rd_looks_like_capture(ents[i]))
                rd_warn(r, "%s: not a capture (pcap, pcapng, gzip or zstd), skipped", ents[i]);
            else
                keep = true;
        }
        if (keep) {
            if (!rd_push_name(v, n, cap, ents[i]))
                rc = -ENOMEM;
            found++;
        } else {
            free(ents[i]);
        }
    }
    free(ents);
    if (rc == 0 && found == 0) {
        *none = true;
        return rd_push_name(v, n, cap, strdup(dir)) ? 0 : -ENOMEM;
    }
    return rc;
}

/* ---------------------------------------------------------------------------
 * Ordering and merging.
 */

/* Peek the first frame's time of every file that can be read twice. */
static void rd_peek_all(struct dis_reader *r)
{
    char err[TCBS_ERRLEN];
    r->quiet = true;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct rd_file *fl = &r->file[i];
        if (fl->stream)
            continue;
        struct dis_file_info scratch = {.name = r->names[i]};
        struct rd_src *s;
        if (rd_src_open(r, r->names[i], &scratch, &s, err) < 0)
            continue;
        if (rd_src_read(r, s, r->names[i], err) == 1) {
            fl->has_first = true;
            fl->first_ts = s->pend.ts_ns;
        }
        rd_src_close(s);
    }
    r->quiet = false;
}

/* Order within a segment: first timestamp, files without one last, then given order. */
static int rd_order_cmp(const struct dis_reader *r, uint32_t a, uint32_t b)
{
    const struct rd_file *x = &r->file[a], *y = &r->file[b];
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    if (x->has_first != y->has_first)
        return x->has_first ? -1 : 1;
    if (x->has_first && x->first_ts != y->first_ts)
        return x->first_ts < y->first_ts ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Decide the reading order (first dis_reader_next()); warns when it is not the given one. */
static void rd_plan(struct dis_reader *r)
{
    uint32_t seg = 0;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct rd_file *fl = &r->file[i];
        /* as given: every file its own segment; by time: a stream alone between two */
        if (r->as_given || fl->stream || (i > 0 && r->file[i - 1].stream))
            seg++;
        fl->seg = seg;
        r->order[i] = (uint32_t)i;
    }
    if (r->as_given)
        return;
    rd_peek_all(r);
    /* Insertion sort: stable, and the list is usually nearly sorted already. */
    for (size_t i = 1; i < r->nfiles; i++) {
        uint32_t x = r->order[i];
        size_t j = i;
        while (j > 0 && rd_order_cmp(r, r->order[j - 1], x) > 0) {
            r->order[j] = r->order[j - 1];
            j--;
        }
        r->order[j] = x;
    }
    /* Only files with frames count: moving an empty one to the end changes nothing read. */
    size_t n = 0;
    uint32_t prev = 0;
    bool moved = false;
    for (size_t i = 0; i < r->nfiles; i++) {
        uint32_t k = r->order[i];
        if (!r->file[k].has_first)
            continue;
        if (n++ && k < prev)
            moved = true;
        prev = k;
    }
    if (moved)
        rd_warn(r, "reading %zu files in timestamp order, not as given; --as-given to keep it",
                r->nfiles);
}

/* File k is done: close it. */
static void rd_finish_file(struct dis_reader *r, uint32_t k)
{
    rd_src_close(r->file[k].src);
    r->file[k].src = NULL;
    r->info[k].done = true;
}

/* Drop file k from the active set and close it. */
static void rd_deactivate(struct dis_reader *r, uint32_t k)
{
    for (size_t i = 0; i < r->nactive; i++)
        if (r->active[i] == k) {
            r->active[i] = r->active[--r->nactive];
            break;
        }
    rd_finish_file(r, k);
}

/* Open order[pos] and read its first frame.  0 (it may have ended at once) or an error. */
static int rd_activate(struct dis_reader *r, char err[TCBS_ERRLEN])
{
    uint32_t k = r->order[r->pos++];
    struct rd_src *s;
    if (r->file[k].empty_dir) {
        r->info[k].done = true;
        rd_err(err, "%s: no capture files in this directory", r->names[k]);
        return -ENODATA;
    }
    int rc = rd_src_open(r, r->names[k], &r->info[k], &s, err);
    if (rc < 0) {
        r->info[k].done = true;
        return rc;
    }
    r->file[k].src = s;
    rc = rd_src_read(r, s, r->names[k], err);
    if (rc <= 0) {
        rd_finish_file(r, k);
        return rc;
    }
    r->active[r->nactive++] = k;
    return 0;
}

/* The active file whose pending frame comes next: smallest time, ties to the
 * file given first (as mergecap does). */
static size_t rd_pick(const struct dis_reader *r)
{
    size_t best = 0;
    for (size_t i = 1; i < r->nactive; i++) {
        const struct rd_src *a = r->file[r->active[i]].src, *b = r->file[r->active[best]].src;
        if (a->pend.ts_ns < b->pend.ts_ns ||
            (a->pend.ts_ns == b->pend.ts_ns && r->active[i] < r->active[best]))
            best = i;
    }
    return best;
}

/* Count run frame r->frame as frame `ff` of file k in the map; false on ENOMEM. */
static bool rd_map_add(struct dis_reader *r, uint32_t k, uint64_t ff)
{
    struct dis_frame_run *last = r->nmap ? &r->map[r->nmap - 1] : NULL;
    if (last && last->file_index == k && last->run_first + last->count == r->frame &&
        last->file_first + last->count == ff) {
        last->count++;
        return true;
    }
    if (r->nmap == r->cap_map) {
        size_t nc = r->cap_map ? r->cap_map * 2 : 64;
        struct dis_frame_run *m = realloc(r->map, nc * sizeof *m);
        if (!m)
            return false;
        r->map = m;
        r->cap_map = nc;
    }
    r->map[r->nmap++] = (struct dis_frame_run){k, r->frame, ff, 1};
    return true;
}

/* Does the frame pass the filter? */
static bool rd_match(struct dis_reader *r, const struct dis_frame *f, struct pcap_pkthdr *hdr)
{
    struct rd_prog *p = rd_prog_for(r, f->linktype, r->names[f->file_index]);
    if (!p->ok)
        return false;
    struct pcap_pkthdr h;
    if (!hdr) {
        h.caplen = f->caplen;
        h.len = f->wirelen;
        h.ts.tv_sec = (time_t)(f->ts_ns / 1000000000u);
        h.ts.tv_usec = (suseconds_t)(f->ts_ns % 1000000000u / 1000u);
        hdr = &h;
    }
    return pcap_offline_filter(&p->prog, hdr, f->data) != 0;
}

int dis_reader_next(struct dis_reader *r, struct dis_frame *f, char err[TCBS_ERRLEN])
{
    if (!r->started) {
        r->started = true;
        rd_plan(r);
    }
    for (;;) {
        if (r->refill >= 0) { /* the frame handed out last is done with: read on in its file */
            uint32_t k = (uint32_t)r->refill;
            r->refill = -1;
            int rc = rd_src_read(r, r->file[k].src, r->names[k], err);
            if (rc <= 0) {
                rd_deactivate(r, k);
                if (rc < 0)
                    return rc;
            }
        }
        /* Open the files whose first frame the merge has reached (only within
         * the segment being read; the next segment when this one is done). */
        while (r->pos < r->nfiles) {
            const struct rd_file *nx = &r->file[r->order[r->pos]];
            if (r->nactive) {
                const struct rd_src *cur = r->file[r->active[rd_pick(r)]].src;
                if (nx->seg != r->file[r->active[0]].seg || !nx->has_first ||
                    nx->first_ts > cur->pend.ts_ns)
                    break;
            }
            int rc = rd_activate(r, err);
            if (rc < 0)
                return rc;
        }
        if (r->nactive == 0)
            return 0;
        size_t ai = rd_pick(r);
        uint32_t k = r->active[ai];
        struct rd_src *s = r->file[k].src;
        struct dis_file_info *fi = &r->info[k];
        *f = s->pend;
        r->refill = k;
        if (fi->frames == 0) {
            fi->first_ns = f->ts_ns;
            if (r->frame > 0 && f->ts_ns < r->last_ts) {
                uint64_t d = r->last_ts - f->ts_ns;
                rd_warn(r, "%s: timestamps go back %llu.%03llu s from the previous file",
                        rd_shown(fi->name), (unsigned long long)(d / 1000000000u),
                        (unsigned long long)(d % 1000000000u / 1000000u));
            }
        }
        fi->frames++;
        fi->last_ns = f->ts_ns;
        r->last_ts = f->ts_ns;
        f->frame = ++r->frame;
        f->file_index = k;
        f->file_frame = fi->frames;
        if (!rd_map_add(r, k, fi->frames)) {
            rd_err(err, "%s: out of memory for the frame map", rd_shown(fi->name));
            return -ENOMEM;
        }
        if (r->filter && !rd_match(r, f, s->hdr))
            continue;
        fi->frames_matched++;
        return 1;
    }
}

/* ---------------------------------------------------------------------------
 * The run.
 */

int dis_reader_open(struct dis_reader **out, const char *const *files, size_t nfiles,
                    const char *filter, dis_warn_fn warn, void *warn_ctx, char err[TCBS_ERRLEN])
{
    *out = NULL;
    struct dis_reader *r = calloc(1, sizeof *r);
    if (!r) {
        rd_err(err, "out of memory");
        return -ENOMEM;
    }
    r->warn = warn;
    r->warn_ctx = warn_ctx;
    r->refill = -1;

    if (filter) {
        char msg[TCBS_ERRLEN];
        r->filter = strdup(filter);
        if (!r->filter) {
            rd_err(err, "out of memory");
            dis_reader_close(r);
            return -ENOMEM;
        }
        /* Compile for Ethernet now so a syntax error shows before any reading. */
        struct rd_prog *p = &r->progs[0];
        int rc = rd_compile(filter, DIS_LINKTYPE_EN10MB, p, msg);
        if (rc < 0 || !p->ok) {
            rd_err(err, "invalid filter '%s': %s", filter, msg);
            dis_reader_close(r);
            return rc < 0 ? rc : DIS_EFILTER;
        }
        r->nprogs = 1;
    }

    size_t cap = 0, nempty = 0;
    size_t *empty = calloc(nfiles ? nfiles : 1, sizeof *empty); /* empty directories' indices */
    if (!empty) {
        rd_err(err, "out of memory");
        dis_reader_close(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nfiles; i++) {
        struct stat st;
        bool dir = strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISDIR(st.st_mode);
        bool none = false;
        int rc = dir ? rd_expand_dir(r, files[i], &r->names, &r->nfiles, &cap, &none)
                     : rd_push_name(&r->names, &r->nfiles, &cap, strdup(files[i])) ? 0 : -ENOMEM;
        if (none)
            empty[nempty++] = r->nfiles - 1;
        if (rc == 0 && r->nfiles > DIS_MAX_FILES) {
            rd_err(err, "more than %u capture files", DIS_MAX_FILES);
            free(empty);
            dis_reader_close(r);
            return -E2BIG;
        }
        if (rc < 0) {
            rd_err(err, "out of memory");
            free(empty);
            dis_reader_close(r);
            return rc;
        }
    }
    size_t n = r->nfiles ? r->nfiles : 1;
    r->info = calloc(n, sizeof *r->info);
    r->file = calloc(n, sizeof *r->file);
    r->order = calloc(n, sizeof *r->order);
    r->active = calloc(n, sizeof *r->active);
    if (!r->info || !r->file || !r->order || !r->active) {
        rd_err(err, "out of memory");
        free(empty);
        dis_reader_close(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nempty; i++)
        r->file[empty[i]].empty_dir = true;
    free(empty);
    for (size_t i = 0; i < r->nfiles; i++) {
        struct stat st;
        const char *name = r->names[i];
        r->info[i].name = name;
        bool is_stdin = strcmp(name, "-") == 0;
        int rc = is_stdin ? fstat(STDIN_FILENO, &st) : stat(name, &st);
        if (rc == 0 && S_ISREG(st.st_mode))
            r->total_bytes += (uint64_t)st.st_size;
        /* A missing file is no stream: opening it gives the error in order. */
        r->file[i].stream = is_stdin || (rc == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode));
    }
    *out = r;
    return 0;
}

void dis_reader_set_as_given(struct dis_reader *r, bool as_given)
{
    r->as_given = as_given;
}

const struct dis_file_info *dis_reader_files(const struct dis_reader *r, size_t *n)
{
    *n = r->nfiles;
    return r->info;
}

const struct dis_frame_run *dis_reader_frame_map(const struct dis_reader *r, size_t *n)
{
    *n = r->nmap;
    return r->map;
}

uint64_t dis_reader_total_bytes(const struct dis_reader *r) { return r->total_bytes; }

void dis_reader_close(struct dis_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->file && i < r->nfiles; i++)
        rd_src_close(r->file[i].src);
    for (unsigned i = 0; i < r->nprogs; i++)
        if (r->progs[i].ok)
            pcap_freecode(&r->progs[i].prog);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->names[i]);
    free(r->names);
    free(r->filter);
    free(r->info);
    free(r->file);
    free(r->order);
    free(r->active);
    free(r->map);
    free(r);
}
