/*
 * dis.h - public interface of the dissectors module.
 *
 * Owns: reading capture files (classic pcap through libpcap, pcapng block by
 * block), BPF filtering, and decoding one captured frame (link layer, IPv4,
 * IPv6, TCP with options) into a plain struct.  Every read of packet bytes
 * goes through the bounds-checked cursor in dis_int.h.
 *
 * Leaves to others: anything about connections or state (analyzer/), any
 * output (storage/, cli/).  Nothing here prints; warnings go to a callback.
 */
#ifndef TCBSCOPE_DIS_H
#define TCBSCOPE_DIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCBS_ERRLEN 512

/*
 * Why a frame could not be used for TCP analysis.  One X-macro makes the enum
 * and the printed names (stable: they are column values in the sinks).
 * Snaplen truncation (the capture cut the frame) and a malformed header (the
 * bytes on the wire were wrong) are different reasons.
 */
#define DIS_SKIP_LIST(X)                                                                           \
    X(NONE, "none")                                                                                \
    X(LINK_UNSUPPORTED, "link_unsupported")   /* link type we do not decode */                     \
    X(LINK_TRUNCATED, "link_truncated")       /* frame shorter than its link header(s) */          \
    X(LINK_MALFORMED, "link_malformed")       /* e.g. PPPoE length/version wrong, MPLS too deep */ \
    X(NOT_IP, "not_ip")                       /* ARP, LLC, other ethertypes, PPP control */       \
    X(IP_TRUNCATED, "ip_truncated")           /* captured bytes end inside the IP header */       \
    X(IP_BAD_VERSION, "ip_bad_version")       /* version nibble disagrees with the link */         \
    X(IPV4_BAD_IHL, "ipv4_bad_ihl")           /* IHL < 5 */                                        \
    X(IP_BAD_LENGTH, "ip_bad_length")         /* total/payload length vs header or wire length */  \
    X(IPV4_FRAGMENT, "ipv4_fragment")         /* non-first fragment (no reassembly) */             \
    X(IPV6_EXT_TRUNCATED, "ipv6_ext_truncated") /* extension header chain runs past the data */   \
    X(IPV6_FRAGMENT, "ipv6_fragment")         /* non-first IPv6 fragment */                        \
    X(NOT_TCP, "not_tcp")                     /* UDP, ICMP, ... */                                 \
    X(TCP_TRUNCATED, "tcp_truncated")         /* captured bytes end inside the TCP header */      \
    X(TCP_BAD_OFFSET, "tcp_bad_offset")       /* data offset < 5 or past the segment end */        \
    X(FRAG_TCP_INCOMPLETE, "frag_tcp_incomplete") /* first fragment too short for TCP header */

enum dis_skip {
#define DIS_X_ENUM(name, str) DIS_SKIP_##name,
    DIS_SKIP_LIST(DIS_X_ENUM)
#undef DIS_X_ENUM
        DIS_SKIP_COUNT
};

/* Stable lower-case name of a skip reason ("tcp_bad_offset"). */
const char *dis_skip_name(enum dis_skip s);

/* Link types we decode (DLT/LINKTYPE numbers as in pcap-linktype(7)). */
#define DIS_LINKTYPE_NULL 0
#define DIS_LINKTYPE_EN10MB 1
#define DIS_LINKTYPE_RAW 101
#define DIS_LINKTYPE_LOOP 108
#define DIS_LINKTYPE_LINUX_SLL 113
#define DIS_LINKTYPE_IPV4 228
#define DIS_LINKTYPE_IPV6 229
#define DIS_LINKTYPE_LINUX_SLL2 276

/* True when dis_decode() understands this link type. */
bool dis_linktype_supported(int linktype);

/* TCP flag bits as in the header's 12-bit flags field (AE is RFC 9768's bit 8). */
#define DIS_TH_FIN 0x001
#define DIS_TH_SYN 0x002
#define DIS_TH_RST 0x004
#define DIS_TH_PSH 0x008
#define DIS_TH_ACK 0x010
#define DIS_TH_URG 0x020
#define DIS_TH_ECE 0x040
#define DIS_TH_CWR 0x080
#define DIS_TH_AE 0x100

/* Which options dis_tcp_opts holds (bits of .present). */
#define DIS_OPT_MSS 0x01
#define DIS_OPT_WSCALE 0x02
#define DIS_OPT_SACK_PERM 0x04
#define DIS_OPT_SACK 0x08
#define DIS_OPT_TS 0x10
#define DIS_OPT_TFO 0x20 /* kind 34, or experimental kind 254 with magic 0xF989 */

#define DIS_MAX_SACK 4

struct dis_tcp_opts {
    uint16_t present; /* DIS_OPT_* bits */
    uint16_t mss;
    uint8_t wscale;      /* as sent, not clamped (RFC 7323 says clamp at 14: analyzer's job) */
    uint8_t sack_count;  /* blocks in sack[] */
    uint8_t tfo_cookie_len; /* 0 with DIS_OPT_TFO = cookie request */
    uint8_t unknown_count;  /* options of kinds we do not decode, skipped by length */
    uint32_t ts_val, ts_ecr;
    uint32_t sack[DIS_MAX_SACK][2]; /* left, right edges */
};

/* Usable-but-odd findings on a decoded packet (bits of dis_pkt.flags_odd). */
#define DIS_ODD_OPT_MALFORMED 0x01 /* option length 0/1/past the header; parsing stopped there */
#define DIS_ODD_IP_FRAGMENT 0x02   /* first fragment of a fragmented datagram */
#define DIS_ODD_ETH_PADDING 0x04   /* bytes after the IP datagram in the frame (ignored) */
#define DIS_ODD_TCP_RESERVED 0x08  /* reserved header bits set */
#define DIS_ODD_OPT_TRUNCATED 0x10 /* snaplen cut the options: those past the cut are unknown */

/* Checksum verdict (only with verification switched on). */
enum dis_csum { DIS_CSUM_UNCHECKED = 0, DIS_CSUM_GOOD, DIS_CSUM_BAD_IP, DIS_CSUM_BAD_TCP };

/*
 * One decoded frame.  Host byte order throughout.  Addresses: IPv4 in the
 * first 4 bytes of src/dst, the other 12 zero.  payload points into the
 * frame buffer and is valid only until the next dis_reader_next() call.
 */
struct dis_pkt {
    uint64_t ts_ns;   /* nanoseconds since the Unix epoch */
    uint64_t frame;   /* 1-based frame number across the whole run (as Wireshark counts) */
    uint32_t caplen;  /* bytes captured */
    uint32_t wirelen; /* bytes on the wire */
    int linktype;

    uint16_t vlan[2];   /* outer then inner 802.1Q/802.1ad VLAN ids (12 bits) */
    uint8_t vlan_count; /* tags seen (may exceed 2; only the first two are kept) */
    uint8_t mpls_count; /* MPLS labels popped */
    bool pppoe;

    uint8_t ip_version; /* 4 or 6 */
    uint8_t ttl;        /* TTL / hop limit */
    uint8_t src[16], dst[16];

    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t tcp_flags; /* DIS_TH_* */
    uint16_t window;    /* raw, unscaled */
    uint16_t urgent;
    uint8_t hdr_len;      /* TCP header length in bytes (data offset * 4) */
    uint32_t payload_len; /* from the IP length: real payload even when snaplen cut it */
    uint32_t payload_caplen; /* bytes of payload actually captured (<= payload_len) */
    const uint8_t *payload;
    struct dis_tcp_opts opt;

    uint8_t flags_odd; /* DIS_ODD_* */
    uint8_t csum;      /* enum dis_csum */
};

/*
 * Decode one frame of the given link type.  bytes/caplen is what was
 * captured, wirelen what was on the wire.  Fills *p (ts_ns/frame untouched:
 * the caller sets them) and returns DIS_SKIP_NONE for a TCP segment, or the
 * reason the frame is not usable; on a skip, *p is partially filled and must
 * not be used.  With verify_csum, IPv4 header and TCP checksums are checked
 * when the whole segment was captured, and p->csum says the verdict (a bad
 * checksum is not a skip: the analyzer decides).  Never reads outside
 * bytes[0..caplen).
 */
enum dis_skip dis_decode(int linktype, const uint8_t *bytes, uint32_t caplen, uint32_t wirelen,
                         bool verify_csum, struct dis_pkt *p);

/* Name of a link type for messages ("EN10MB"), or NULL when unknown. */
const char *dis_linktype_name(int linktype);

/* ----------------------------------------------------------------------------
 * Capture reader.
 */

/* One captured frame as read from a file, before decoding. */
struct dis_frame {
    const uint8_t *data; /* valid until the next dis_reader_next() */
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
    uint64_t frame;  /* 1-based across the run */
    int linktype;
    uint32_t file_index; /* index into the file list given to dis_reader_open() */
};

/* Per-input-file facts, for the sinks' `captures` table. */
#define DIS_MAX_FILE_LINKTYPES 8
struct dis_file_info {
    const char *name;       /* as given on the command line ("-" for stdin) */
    bool pcapng;
    bool nanosecond;        /* classic pcap: ns magic; pcapng: resolution finer than 1 us */
    uint32_t linktypes[DIS_MAX_FILE_LINKTYPES];
    uint8_t linktype_count;
    uint64_t frames;        /* frames read (before the BPF filter) */
    uint64_t frames_matched; /* frames passed by the filter */
    uint64_t bytes;         /* file bytes consumed so far (for progress) */
    uint64_t first_ns, last_ns; /* of frames read; 0/0 when none */
    bool truncated;         /* file ended inside a record (warned) */
    bool done;
};

/* Warnings (truncated file, timestamps going back between files, ...).
 * msg is one line without newline; valid only during the call. */
typedef void (*dis_warn_fn)(void *ctx, const char *msg);

struct dis_reader;

/*
 * Open a run over files[0..nfiles) read as one stream in the given order
 * ("-" = standard input).  filter may be NULL or a BPF expression; it is
 * compiled per link type (pcapng files may mix them).  The file names must
 * outlive the reader.  Files are opened one after another as the stream
 * reaches them, so an error in a later file comes from dis_reader_next().
 * Returns 0 and *out, or a negative value with a one-line message in err:
 * DIS_EFILTER when the filter does not compile (the message names the
 * filter problem), else a negative errno (-ENOMEM, or the first file's
 * errors as dis_reader_next() lists them; the message names the file).
 * The filter is copied; it is compiled here for EN10MB, so a syntax error is
 * "invalid filter 'EXPR': <libpcap's reason>".  nfiles may be 0 (an empty
 * stream).  The first file is opened here, later ones by dis_reader_next().
 */
/* dis_reader_open(): the BPF filter does not compile (a usage error, not an errno). */
#define DIS_EFILTER (-0x10000)

int dis_reader_open(struct dis_reader **out, const char *const *files, size_t nfiles,
                    const char *filter, dis_warn_fn warn, void *warn_ctx, char err[TCBS_ERRLEN]);

/*
 * Next frame that passes the filter.  Returns 1 with *f filled, 0 at the end
 * of the last file, or a negative value with a one-line message in err (a file
 * that cannot be opened or is not a capture).  After an error the frames
 * already returned stay valid results; the caller may stop or call again to
 * go on with the next file.  A file that ends inside a record is not an
 * error: it is warned about and the stream goes on with the next file.
 * In detail (every message starts "FILE: "; "-" shows as standard input):
 *  - negative errno: cannot open (-ENOENT, -EACCES...), a directory
 *    (-EISDIR), empty / not a capture / bad pcap or pcapng header (-EINVAL),
 *    a read error mid-file (-EIO; the rest of that file is skipped), -ENOMEM;
 *  - warning, rest of the file skipped, earlier frames kept: a format problem
 *    after a good header (pcapng bad block length or trailing length, block
 *    over 256 MiB, packet on an unknown interface, captured length past its
 *    block; libpcap's "invalid packet capture length");
 *  - warning, info.truncated: the file ends inside a record;
 *  - warning once per file: its first timestamp is before the previous
 *    frame's ("timestamps go back N.NNN s from the previous file");
 *  - warning once per link type: the filter does not compile for it (e.g.
 *    "ether host" on RAW); its frames are dropped, as none could match.
 * f->frame counts every frame read, filtered out or not, so numbers match
 * Wireshark's on the unfiltered files.
 */
int dis_reader_next(struct dis_reader *r, struct dis_frame *f, char err[TCBS_ERRLEN]);

/* Per-file facts (n = nfiles); valid until dis_reader_close(). */
const struct dis_file_info *dis_reader_files(const struct dis_reader *r, size_t *n);

/* Total size in bytes of the regular input files (0 when unknown, e.g. stdin). */
uint64_t dis_reader_total_bytes(const struct dis_reader *r);

/* Free everything; NULL is fine. */
void dis_reader_close(struct dis_reader *r);

/* ----------------------------------------------------------------------------
 * Run statistics: frames per link type, IP/TCP counts, skips by reason.
 */
#define DIS_MAX_LINKTYPES 16
struct dis_stats {
    uint64_t frames;
    uint64_t bytes; /* captured bytes */
    uint64_t ipv4, ipv6, tcp;
    uint64_t skipped[DIS_SKIP_COUNT];
    uint64_t bad_ip_csum, bad_tcp_csum;
    uint64_t opt_malformed;
    uint64_t first_fragments;
    struct {
        int linktype;
        uint64_t frames;
    } link[DIS_MAX_LINKTYPES];
    uint32_t link_count;
    uint64_t link_other; /* frames of link types beyond DIS_MAX_LINKTYPES */
};

/*
 * Account one decoded frame (its link type, IP version, skip reason, oddities)
 * in *s.  p may be partially filled when skip != NONE.
 */
void dis_stats_add(struct dis_stats *s, const struct dis_frame *f, enum dis_skip skip,
                   const struct dis_pkt *p);

#endif /* TCBSCOPE_DIS_H */
