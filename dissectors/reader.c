/*
 * reader.c - the capture reader: several files read as one stream of frames.
 *
 * Owns: opening files (lazily, "-" = standard input), telling classic pcap
 * from pcapng by the first 4 bytes, classic pcap through libpcap (its buffer
 * is passed through, no copy), the BPF filter compiled per link type, frame
 * numbering across files, the per-file facts and every warning about input.
 * pcapng blocks are parsed by pcapng.c.
 *
 * Leaves to others: decoding frames (decode.c and the layers), anything about
 * connections.  Nothing here prints; warnings go to the caller's callback.
 *
 * What is an error and what is a warning (both name the file):
 *  - cannot open / directory / empty / not a capture / bad header: an error
 *    from dis_reader_open() (first file) or dis_reader_next() (later ones);
 *  - read error (ferror): an error, the file is abandoned;
 *  - file ends inside a record: a warning, frames before it kept,
 *    info.truncated set, the stream goes on with the next file;
 *  - format problem after a good header (bad block length, packet on an
 *    unknown interface, libpcap's "invalid packet capture length"): a
 *    warning, frames before it kept, the rest of that file skipped;
 *  - the filter cannot compile for a link type met later: a warning once per
 *    link type, and that link type's frames are dropped (counted in frames,
 *    not in frames_matched).  An expression that cannot apply to a link
 *    type (`ether host` on RAW) could match none of its frames anyway.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "dis_int.h"
#include "reader_int.h"

#define RD_MAX_PROGS 16          /* compiled filters cached, one per link type */
#define RD_FILE_BUF (256u << 10) /* stdio buffer of a named input file */
#define RD_PCAP_HDR 24u          /* classic pcap file header */
#define RD_PCAP_REC 16u          /* classic pcap record header */

enum rd_kind { RD_CLOSED, RD_PCAP, RD_PCAPNG };

struct rd_prog {
    int linktype;
    bool ok; /* false: does not compile for this link type (warned) */
    struct bpf_program prog;
};

struct dis_reader {
    const char *const *files;
    size_t nfiles;
    struct dis_file_info *info;
    size_t cur; /* file being read; nfiles at the end */
    enum rd_kind kind;
    FILE *fp;          /* pcapng: the file (stdin is never closed) */
    pcap_t *pcap;      /* classic pcap: owns its FILE */
    int pcap_linktype; /* LINKTYPE_ number of the open classic file */
    struct dis_ng ng;
    uint64_t frame;   /* frames read in the run (before the filter) */
    uint64_t last_ts; /* of the last frame read, for the going-back warning */
    uint64_t total_bytes;

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
    if (!r->warn)
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
 * A FILE that replays the 4 magic bytes already read, then reads on from the
 * underlying stream: how libpcap gets a pipe or standard input, which cannot
 * seek back.
 */
struct rd_replay {
    FILE *fp;
    bool own; /* fclose fp at the end (false for stdin) */
    uint8_t pre[4];
    size_t off;
};

static ssize_t rd_replay_read(void *cookie, char *buf, size_t size)
{
    struct rd_replay *c = cookie;
    size_t n = 0;
    while (c->off < sizeof c->pre && n < size)
        buf[n++] = (char)c->pre[c->off++];
    if (n < size) {
        /* One read(2): a pipe hands over what it has now, so frames reach the
         * analyzer as they arrive (tcpdump -w - | tcbscope analyze -) and a
         * Ctrl-C (EINTR) stops the wait instead of losing a buffer's worth. */
        ssize_t k = read(fileno(c->fp), buf + n, size - n);
        if (k < 0)
            return n ? (ssize_t)n : -1;
        n += (size_t)k;
    }
    return (ssize_t)n;
}

static int rd_replay_close(void *cookie)
{
    struct rd_replay *c = cookie;
    int rc = c->own ? fclose(c->fp) : 0;
    free(c);
    return rc;
}

static FILE *rd_replay_open(FILE *fp, bool own, const uint8_t magic[4])
{
    struct rd_replay *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fp = fp;
    c->own = own;
    memcpy(c->pre, magic, 4);
    cookie_io_functions_t io = {.read = rd_replay_read, .close = rd_replay_close};
    FILE *f = fopencookie(c, "r", io);
    if (!f) {
        free(c);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, RD_FILE_BUF);
    return f;
}

/* ---------------------------------------------------------------------------
 * Opening and closing one input file.
 */

static void rd_close_file(struct dis_reader *r)
{
    if (r->pcap)
        pcap_close(r->pcap); /* closes its FILE (a replay FILE never closes stdin) */
    if (r->fp && r->fp != stdin)
        fclose(r->fp);
    r->pcap = NULL;
    r->fp = NULL;
    r->kind = RD_CLOSED;
}

static bool rd_is_pcap_magic(uint32_t m, bool *ns)
{
    *ns = m == 0xA1B23C4Du || m == 0x4D3CB2A1u;
    return *ns || m == 0xA1B2C3D4u || m == 0xD4C3B2A1u;
}

/* Open r->files[r->cur]: returns 0, or a negative errno with "FILE: problem" in err. */
static int rd_open_file(struct dis_reader *r, char err[TCBS_ERRLEN])
{
    const char *name = r->files[r->cur];
    const char *shown = rd_shown(name);
    struct dis_file_info *fi = &r->info[r->cur];
    bool is_stdin = strcmp(name, "-") == 0;
    FILE *fp = stdin;
    int rc;

    if (!is_stdin) {
        fp = fopen(name, "rbe");
        if (!fp) {
            rc = -errno;
            rd_err(err, "%s: %s", shown, strerror(errno));
            return rc;
        }
        struct stat st;
        if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
            fclose(fp);
            rd_err(err, "%s: is a directory", shown);
            return -EISDIR;
        }
        setvbuf(fp, NULL, _IOFBF, RD_FILE_BUF);
    }

    uint8_t magic[4];
    size_t got = 0;
    struct stat sst;
    bool stream = is_stdin || (fstat(fileno(fp), &sst) == 0 && !S_ISREG(sst.st_mode));
    bool rd_error = false;
    if (stream) {
        /* Not seekable: take the magic with read(2) so stdio buffers nothing
         * that the replaying FILE below would have to give back. */
        while (got < 4) {
            ssize_t k = read(fileno(fp), magic + got, 4 - got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rd_error = k < 0;
                break;
            }
            got += (size_t)k;
        }
    } else {
        got = fread(magic, 1, 4, fp);
        rd_error = got < 4 && ferror(fp);
    }
    if (got < 4) {
        if (rd_error) {
            rc = -EIO;
            rd_err(err, "%s: read error: %s", shown, strerror(errno ? errno : EIO));
        } else {
            rc = -EINVAL;
            rd_err(err, "%s: %s", shown,
                   got == 0 ? "empty file" : "not a pcap or pcapng capture file");
        }
        goto fail;
    }
    uint32_t m =
        (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 | magic[3];
    bool ns;
    if (m == 0x0A0D0D0Au) {
        char msg[TCBS_ERRLEN];
        fi->pcapng = true;
        r->ng.last_ts = r->last_ts;
        rc = dis_ng_open(&r->ng, fp, magic, fi, msg);
        if (rc < 0) {
            rd_err(err, "%s: %s", shown, msg);
            goto fail;
        }
        r->fp = fp;
        r->kind = RD_PCAPNG;
        return 0;
    }
    if (!rd_is_pcap_magic(m, &ns)) {
        rd_err(err, "%s: not a pcap or pcapng capture file", shown);
        rc = -EINVAL;
        goto fail;
    }

    /* Classic pcap: give libpcap the stream from byte 0. */
    FILE *pfp = fp;
    if (stream || fseek(fp, 0, SEEK_SET) != 0) {
        pfp = rd_replay_open(fp, !is_stdin, magic);
        if (!pfp) {
            rd_err(err, "%s: out of memory", shown);
            rc = -ENOMEM;
            goto fail;
        }
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';
    r->pcap = pcap_fopen_offline_with_tstamp_precision(pfp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!r->pcap) {
        rd_err(err, "%s: %s", shown, errbuf[0] ? errbuf : "cannot read pcap header");
        if (pfp != fp)
            fclose(pfp); /* the replay FILE closes fp when it owns it */
        else if (!is_stdin)
            fclose(fp);
        return -EINVAL;
    }
    r->kind = RD_PCAP;
    r->pcap_linktype = rd_dlt_to_linktype(pcap_datalink(r->pcap));
    fi->nanosecond = ns;
    fi->bytes = RD_PCAP_HDR;
    dis_file_add_linktype(fi, r->pcap_linktype);
    return 0;

fail:
    if (!is_stdin)
        fclose(fp);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Reading.
 */

/* End the current file and move to the next. */
static void rd_next_file(struct dis_reader *r)
{
    rd_close_file(r);
    r->info[r->cur].done = true;
    r->cur++;
}

/* The file ends inside a record: warn, keep what came before. */
static void rd_truncated(struct dis_reader *r, uint64_t bytes)
{
    struct dis_file_info *fi = &r->info[r->cur];
    fi->truncated = true;
    fi->bytes += bytes;
    rd_warn(r, "%s: truncated record at the end (%llu bytes), frames before it kept",
            rd_shown(fi->name), (unsigned long long)bytes);
}

/*
 * libpcap failed mid-file.  Returns 0 (warned; the file ends here) or -EIO
 * (a read error, message in err).
 */
static int rd_pcap_failed(struct dis_reader *r, char err[TCBS_ERRLEN])
{
    struct dis_file_info *fi = &r->info[r->cur];
    const char *msg = pcap_geterr(r->pcap);
    if (ferror(pcap_file(r->pcap))) {
        rd_err(err, "%s: %s", rd_shown(fi->name), msg);
        return -EIO;
    }
    if (strstr(msg, "truncated dump file")) {
        /* libpcap 1.10: "...tried to read N header bytes, only got M" or
         * "...tried to read N captured bytes, only got M" */
        const char *got = strstr(msg, "only got ");
        unsigned long long n = got ? strtoull(got + 9, NULL, 10) : 0;
        if (!strstr(msg, "header bytes"))
            n += RD_PCAP_REC;
        rd_truncated(r, n);
        return 0;
    }
    rd_warn(r, "%s: %s; frames before it kept, rest of the file skipped", rd_shown(fi->name), msg);
    return 0;
}

/*
 * Read the next frame of the open file into *f (data, caplen, wirelen,
 * ts_ns, linktype).  Returns 1, 0 at the end of the file (warnings given), or
 * a negative errno with err set.
 */
static int rd_read(struct dis_reader *r, struct dis_frame *f, struct pcap_pkthdr **hdr,
                   char err[TCBS_ERRLEN])
{
    struct dis_file_info *fi = &r->info[r->cur];
    if (r->kind == RD_PCAP) {
        const u_char *data;
        int rc = pcap_next_ex(r->pcap, hdr, &data);
        if (rc == 1) {
            const struct pcap_pkthdr *h = *hdr;
            f->data = data;
            f->caplen = h->caplen;
            f->wirelen = h->len;
            /* nanosecond precision asked for: tv_usec holds ns */
            f->ts_ns = (uint64_t)h->ts.tv_sec * UINT64_C(1000000000) + (uint64_t)h->ts.tv_usec;
            f->linktype = r->pcap_linktype;
            fi->bytes += RD_PCAP_REC + h->caplen;
            return 1;
        }
        if (rc == PCAP_ERROR_BREAK) /* end of file */
            return 0;
        return rd_pcap_failed(r, err);
    }

    struct dis_ng_frame nf;
    char msg[TCBS_ERRLEN];
    *hdr = NULL;
    int rc = dis_ng_next(&r->ng, &nf, msg);
    switch (rc) {
    case DIS_NG_FRAME:
        f->data = nf.data;
        f->caplen = nf.caplen;
        f->wirelen = nf.wirelen;
        f->ts_ns = nf.ts_ns;
        f->linktype = nf.linktype;
        return 1;
    case DIS_NG_END:
        return 0;
    case DIS_NG_TRUNCATED:
        fi->bytes -= r->ng.trunc_bytes; /* rd_truncated() counts them */
        rd_truncated(r, r->ng.trunc_bytes);
        return 0;
    case DIS_NG_MALFORMED:
        rd_warn(r, "%s: %s; frames before it kept, rest of the file skipped", rd_shown(fi->name),
                msg);
        return 0;
    default:
        rd_err(err, "%s: %s", rd_shown(fi->name), msg);
        return rc;
    }
}

/* Does the frame pass the filter? */
static bool rd_match(struct dis_reader *r, const struct dis_frame *f, struct pcap_pkthdr *hdr)
{
    struct rd_prog *p = rd_prog_for(r, f->linktype, r->files[r->cur]);
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
    while (r->cur < r->nfiles) {
        if (r->kind == RD_CLOSED) {
            int rc = rd_open_file(r, err);
            if (rc < 0) {
                r->info[r->cur].done = true;
                r->cur++;
                return rc;
            }
        }
        struct pcap_pkthdr *hdr;
        int rc = rd_read(r, f, &hdr, err);
        if (rc <= 0) {
            rd_next_file(r);
            if (rc < 0)
                return rc;
            continue;
        }
        struct dis_file_info *fi = &r->info[r->cur];
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
        f->file_index = (uint32_t)r->cur;
        if (r->filter && !rd_match(r, f, hdr))
            continue;
        fi->frames_matched++;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * The run.
 */

int dis_reader_open(struct dis_reader **out, const char *const *files, size_t nfiles,
                    const char *filter, dis_warn_fn warn, void *warn_ctx, char err[TCBS_ERRLEN])
{
    *out = NULL;
    struct dis_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->info = calloc(nfiles ? nfiles : 1, sizeof *r->info))) {
        free(r);
        rd_err(err, "out of memory");
        return -ENOMEM;
    }
    r->files = files;
    r->nfiles = nfiles;
    r->warn = warn;
    r->warn_ctx = warn_ctx;
    for (size_t i = 0; i < nfiles; i++) {
        struct stat st;
        r->info[i].name = files[i];
        int rc = strcmp(files[i], "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(files[i], &st);
        if (rc == 0 && S_ISREG(st.st_mode))
            r->total_bytes += (uint64_t)st.st_size;
    }

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

    if (nfiles > 0) {
        int rc = rd_open_file(r, err);
        if (rc < 0) {
            dis_reader_close(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

const struct dis_file_info *dis_reader_files(const struct dis_reader *r, size_t *n)
{
    *n = r->nfiles;
    return r->info;
}

uint64_t dis_reader_total_bytes(const struct dis_reader *r) { return r->total_bytes; }

void dis_reader_close(struct dis_reader *r)
{
    if (!r)
        return;
    rd_close_file(r);
    for (unsigned i = 0; i < r->nprogs; i++)
        if (r->progs[i].ok)
            pcap_freecode(&r->progs[i].prog);
    dis_ng_free(&r->ng);
    free(r->filter);
    free(r->info);
    free(r);
}
