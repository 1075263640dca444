/*
 * dis.h - public interface of the dissectors module.
 *
 * Owns: reading capture files (classic pcap through libpcap, pcapng block by
 * block, gzip/zstd-compressed, several merged by timestamp), BPF filtering, and decoding one captured frame (link layer, IPv4,
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
    X(LINK_MALFORMED, "link_malformed")       /* bad PPPoE version, MPLS/tunnels too deep */       \
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
#define DIS_LINKTYPE_PPP 9         /* PPP, with or without the FF 03 HDLC address/control */
#define DIS_LINKTYPE_PPP_HDLC 50   /* PPP in HDLC-like framing, or Cisco HDLC (0F/8F) */
#define DIS_LINKTYPE_RAW 101
#define DIS_LINKTYPE_C_HDLC 104    /* Cisco HDLC: address, control, ethertype */
#define DIS_LINKTYPE_LOOP 108
#define DIS_LINKTYPE_LINUX_SLL 113
#define DIS_LINKTYPE_IPNET 226     /* Solaris ipnet: 24-byte header, family 2 / 26 */
#define DIS_LINKTYPE_IPV4 228
#define DIS_LINKTYPE_IPV6 229
#define DIS_LINKTYPE_NFLOG 239     /* Linux NFLOG: TLVs, payload TLV type 9 */
#define DIS_LINKTYPE_IPOIB 242     /* IP over InfiniBand: ethertype + 2 reserved bytes */
#define DIS_LINKTYPE_PKTAP 258     /* Apple PKTAP: header naming the inner frame's DLT */
#define DIS_LINKTYPE_LINUX_SLL2 276

/* True when dis_decode() understands this link type. */
bool dis_linktype_supported(int linktype);

/*
 * Tunnels dis_decode() looks into (the innermost one is dis_pkt.tunnel).  One
 * X-macro makes the enum and the stable names (for the sinks' `tunnel`
 * column).  Which bytes make which tunnel:
 *   vxlan   UDP destination port 4789, VXLAN header with the I flag, Ethernet
 *           inside (RFC 7348); id = the 24-bit VNI.
 *   geneve  UDP destination port 6081, version 0, options skipped by their
 *           length (RFC 8926); Ethernet (0x6558), IPv4 or IPv6 inside;
 *           id = the 24-bit VNI.
 *   gre     IP protocol 47, version 0 (RFC 2784/2890; checksum, key and
 *           sequence fields skipped as their bits say), carrying IPv4,
 *           IPv6, Ethernet (0x6558, "gretap"), or any ethertype dis_decode()
 *           knows (VLAN, MPLS); id = the key when present.
 *   erspan  GRE protocol 0x88BE with the S bit (ERSPAN type II, version 1,
 *           8-byte header) or 0x22EB (type III, version 2, 12 bytes plus the
 *           8-byte platform subheader when O is set), Ethernet inside;
 *           0x88BE without S is type I (no header, no id).  id = the 10-bit
 *           session id (the GRE key, if any, is not kept).
 *   ipip    IP protocol 4: IPv4 inside IPv4 (ipip) or IPv6 (4in6).
 *   ipip6   IP protocol 41: IPv6 inside IPv4 (6in4, Linux "sit") or IPv6
 *           (6in6, Linux "ip6tnl").
 * GRE with version 1 (PPTP) and UDP on other ports are not looked into:
 * not_tcp.  A tunnel header cut by the snaplen is link_truncated; a wrong
 * version, a VXLAN header without the I flag, or more than DIS_MAX_TUNNELS
 * nested tunnels is link_malformed.  A fragmented outer datagram is not
 * reassembled: ipv4_fragment / ipv6_fragment, first fragments included.
 */
#define DIS_TUNNEL_LIST(X)                                                                         \
    X(NONE, "none")                                                                                \
    X(VXLAN, "vxlan")                                                                              \
    X(GENEVE, "geneve")                                                                            \
    X(GRE, "gre")                                                                                  \
    X(ERSPAN, "erspan")                                                                            \
    X(IPIP, "ipip")                                                                                \
    X(IPIP6, "ipip6")

enum dis_tunnel {
#define DIS_X_ENUM(name, str) DIS_TUNNEL_##name,
    DIS_TUNNEL_LIST(DIS_X_ENUM)
#undef DIS_X_ENUM
        DIS_TUNNEL_COUNT
};

/* Nested tunnels decoded at most; one more is link_malformed. */
#define DIS_MAX_TUNNELS 4

/* Stable lower-case name of a tunnel kind ("vxlan"); "unknown" out of range. */
const char *dis_tunnel_name(enum dis_tunnel t);

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
/* IP length 0 taken from the frame (wire length): IPv4 total length 0 (TSO /
 * BIG TCP on the capturing host; tshark does the same), or IPv6 payload
 * length 0 with no Jumbo Payload option (Linux BIG TCP without the hop-by-hop
 * header; tshark 4.0 only notes "maybe TSO" and does not decode the TCP) */
#define DIS_ODD_IP_LEN_FROM_FRAME 0x20
/* IPv6 payload length 0 and a hop-by-hop Jumbo Payload option (RFC 2675):
 * the length came from the option */
#define DIS_ODD_IP_JUMBO 0x40

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

    /* VLAN tags of the innermost Ethernet header: entering a tunnel clears
     * them, so they always belong to the packet whose tuple is below. */
    uint16_t vlan[2];   /* outer then inner 802.1Q/802.1ad VLAN ids (12 bits) */
    uint8_t vlan_count; /* tags seen (may exceed 2; only the first two are kept) */
    uint8_t mpls_count; /* MPLS labels popped, at every tunnel level together */
    bool pppoe;         /* a PPPoE session header was seen at any level */

    /*
     * Encapsulation.  tunnel is the innermost tunnel (enum dis_tunnel;
     * DIS_TUNNEL_NONE for a plain packet), tunnel_depth how many were
     * nested (0..DIS_MAX_TUNNELS).  tunnel_id is that innermost tunnel's
     * identifier, meaningful only with has_tunnel_id: the VNI (VXLAN,
     * Geneve), the GRE key (gre, when the K bit is set) or the ERSPAN
     * session id (type II/III).  Addresses, ports, ttl and VLAN below are
     * the inner packet's: a connection inside a tunnel is keyed by its own
     * tuple (plus, for the engine to add, the tunnel id); the outer headers
     * are not kept.
     */
    uint8_t tunnel;       /* enum dis_tunnel */
    uint8_t tunnel_depth;
    bool has_tunnel_id;
    uint32_t tunnel_id;

    uint8_t ip_version; /* 4 or 6 */
    uint8_t ttl;        /* TTL / hop limit */
    uint32_t ip_len;    /* bytes of the (innermost) IP datagram as its header says: the IPv4
                           total length, or 40 + the IPv6 payload length (extension headers
                           included); the frame's length when a GSO/TSO or jumbo header had 0 */
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
    uint64_t frame;  /* 1-based across the run (the merged stream, as Wireshark numbers a
                        mergecap'd file) */
    int linktype;
    uint32_t file_index; /* index into dis_reader_files() */
    uint64_t file_frame; /* 1-based frame number within that file (as Wireshark shows it) */
};

/* How a file was compressed (detected by its magic bytes, not its name). */
enum dis_compression { DIS_COMP_NONE = 0, DIS_COMP_GZIP, DIS_COMP_ZSTD };

/* Per-input-file facts, for the sinks' `captures` table. */
#define DIS_MAX_FILE_LINKTYPES 8
struct dis_file_info {
    const char *name;       /* as given ("-" for stdin); DIR/NAME for a directory's captures */
    bool pcapng;
    bool nanosecond;        /* classic pcap: ns magic; pcapng: resolution finer than 1 us */
    uint8_t compression;    /* enum dis_compression */
    uint32_t linktypes[DIS_MAX_FILE_LINKTYPES];
    uint8_t linktype_count;
    uint64_t frames;        /* frames read (before the BPF filter) */
    uint64_t frames_matched; /* frames passed by the filter */
    uint64_t bytes;         /* file bytes consumed so far (compressed bytes for a compressed
                               file: for progress against dis_reader_total_bytes()) */
    uint64_t first_ns, last_ns; /* of frames read; 0/0 when none */
    bool truncated;         /* file ended inside a record (warned) */
    bool damaged;           /* a format error after good frames: the rest was not read */
    uint64_t unread;        /* with damaged: bytes from the damage to the end (uncompressed) */
    bool done;
};

/* One maximal run of consecutive run frames from one file: run frames
 * run_first .. run_first+count-1 are frames file_first .. of file file_index. */
struct dis_frame_run {
    uint32_t file_index;
    uint64_t run_first, file_first, count;
};

/* Warnings (truncated file, timestamps going back between files, ...).
 * msg is one line without newline; valid only during the call. */
typedef void (*dis_warn_fn)(void *ctx, const char *msg);

struct dis_reader;

/* Most captures one run reads (after expanding directories). */
#define DIS_MAX_FILES 100000u

/*
 * Open a run over files[0..nfiles) ("-" = standard input).  filter may be
 * NULL or a BPF expression; it is compiled per link type (pcapng files may
 * mix them).  The file names must outlive the reader.
 *
 * A directory stands for every capture directly in it (no recursion): its
 * regular files whose first bytes are a pcap, pcapng, gzip or zstd magic, in
 * name order (version sort: rot.pcap2 before rot.pcap10); other entries are
 * skipped with one warning each (subdirectories too).  A directory with no
 * capture stays in the list as itself and is an error (-ENODATA, "DIR: no
 * capture files in this directory") when reached.  dis_reader_files() lists
 * the captures found, not the arguments.
 *
 * Nothing is opened here but directories: every problem with a file (missing,
 * not a capture, bad header) is an error from dis_reader_next() naming it,
 * and the other files are still read.  Returns 0 and *out, or a negative
 * value with a one-line message in err: -ENOMEM, DIS_EFILTER for a bad
 * filter ("invalid filter 'EXPR': <libpcap's reason>"; compiled here for
 * EN10MB), -E2BIG past DIS_MAX_FILES captures.  nfiles may be 0 (an empty stream).
 */
/* dis_reader_open(): the BPF filter does not compile (a usage error, not an errno). */
#define DIS_EFILTER (-0x10000)

int dis_reader_open(struct dis_reader **out, const char *const *files, size_t nfiles,
                    const char *filter, dis_warn_fn warn, void *warn_ctx, char err[TCBS_ERRLEN]);

/*
 * Read the files one after another in the order given (true) instead of by
 * time (the default, false).  Call before the first dis_reader_next().
 *
 * By time: the first frame of every file is peeked (each file opened and
 * closed again), the files are sorted by that timestamp (stable: ties keep
 * the given order; files without a frame -- empty, unreadable -- go last, in
 * the given order) and files whose times overlap are merged as mergecap
 * does: the frame with the smallest timestamp next, ties to the file given
 * first.  A file is opened when the merge reaches its
 * first timestamp and closed at its end, so only files overlapping in time
 * are open at once (each holds an open descriptor and ~0.6 MiB of buffers;
 * past the process's descriptor limit a file is an EMFILE error).  Standard
 * input and other files that cannot be read twice (FIFOs) are not peeked:
 * each is read alone, where it was given, and the files between two of them
 * are merged among themselves.  When the order used differs from the order
 * given, one warning: "reading N files in timestamp order, not as given;
 * --as-given to keep it".
 */
void dis_reader_set_as_given(struct dis_reader *r, bool as_given);

/*
 * Next frame that passes the filter.  Returns 1 with *f filled, 0 at the end
 * of the input, or a negative value with a one-line message in err (every
 * message starts "FILE: "; "-" shows as standard input).  After an error the
 * frames already returned stay valid results and the caller calls again to
 * go on with the other files; the file in error is not read further.
 *  - negative errno: cannot open (-ENOENT, -EACCES, -EMFILE...), a directory
 *    that cannot be read (-EISDIR) or holds no capture (-ENODATA), empty / not a capture / bad pcap or pcapng header / not a
 *    capture once decompressed (-EINVAL), a read or decompression error
 *    (-EIO), -ENOMEM;
 *  - -EBADMSG: damage after a good header (a record past libpcap's maximum
 *    length, a pcapng block with a bad length or trailing length, a block
 *    over 256 MiB, a packet on an unknown interface or whose captured length
 *    is past its block): "FILE: damaged at byte N: PROBLEM; K frames before
 *    it kept, M bytes not read" (info.damaged, info.unread = M);
 *  - warning, info.truncated: the file ends inside a record (a capture cut
 *    short or still being written), or a compressed stream ends early;
 *  - warning once per file: its first frame is before the previous frame
 *    ("timestamps go back N.NNN s from the previous file"; only when files
 *    are read as given, or around standard input);
 *  - warning once per link type: the filter does not compile for it (e.g.
 *    "ether host" on RAW); its frames are dropped, as none could match.
 * Compressed files (gzip, zstd; also on standard input) are detected by
 * their magic and read as if decompressed.
 * f->frame counts every frame read, filtered out or not, so numbers match
 * Wireshark's on the unfiltered (merged) files.
 */
int dis_reader_next(struct dis_reader *r, struct dis_frame *f, char err[TCBS_ERRLEN]);

/* Per-file facts (n = captures after expanding directories); valid until
 * dis_reader_close(). */
const struct dis_file_info *dis_reader_files(const struct dis_reader *r, size_t *n);

/*
 * How run frame numbers map to files so far: one dis_frame_run per maximal
 * run of consecutive frames from one file, in run order (n of them).  Grows
 * by one 32-byte entry each time the merged stream switches file.  Valid
 * until the next dis_reader_next() or dis_reader_close().
 */
const struct dis_frame_run *dis_reader_frame_map(const struct dis_reader *r, size_t *n);

/* Total size in bytes of the regular input files as stored (compressed
 * size for compressed ones; 0 when unknown, e.g. stdin). */
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
    uint64_t ipv4, ipv6, tcp; /* ipv4/ipv6: frames with an IP header decoded whole (tunnels: one count) */
    uint64_t skipped[DIS_SKIP_COUNT];
    uint64_t bad_ip_csum, bad_tcp_csum;
    uint64_t opt_malformed;
    uint64_t first_fragments;
    uint64_t tunnelled; /* TCP segments found inside a tunnel (dis_pkt.tunnel != NONE) */
    uint64_t ip_len_from_frame; /* TCP segments with DIS_ODD_IP_LEN_FROM_FRAME or _JUMBO */
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
