/*
 * reader_int.h - private to dissectors/: the pcapng block reader that
 * reader.c drives.  pcapng.c owns parsing pcapng blocks (through the cursor
 * of dis_int.h); reader.c owns files, classic pcap (through libpcap), the
 * BPF filter, frame numbering and the per-file facts.
 */
#ifndef TCBSCOPE_READER_INT_H
#define TCBSCOPE_READER_INT_H

#include <stdio.h>

#include "dis.h"

/* Largest pcapng block we accept; a longer claimed length is a format error. */
#define DIS_NG_MAX_BLOCK (256u << 20)
/* Most interfaces (IDBs) in one pcapng section. */
#define DIS_NG_MAX_IFACES 65536u

/* How an interface's timestamp ticks become nanoseconds. */
enum dis_ng_ts { DIS_NG_TS_MUL, DIS_NG_TS_DIV, DIS_NG_TS_POW2, DIS_NG_TS_ZERO };

struct dis_ng_iface {
    int linktype;
    uint32_t snaplen;      /* 0 = no limit */
    uint8_t ts_kind;       /* enum dis_ng_ts */
    uint8_t ts_exp;        /* DIS_NG_TS_POW2: ticks per second = 2^ts_exp */
    uint64_t ts_factor;    /* DIS_NG_TS_MUL/DIV: ns = ticks * or / ts_factor */
    uint64_t ts_offset_ns; /* if_tsoffset in ns, two's complement */
};

/*
 * State of one pcapng file being read.  Each open file has its own (files
 * are merged by timestamp, so several are read at once); dis_ng_free()
 * releases buf (the block buffer) and ifs.
 */
struct dis_ng {
    FILE *fp;                   /* not owned */
    struct dis_file_info *info; /* linktypes and nanosecond are updated */
    bool be;                    /* current section is big-endian */
    struct dis_ng_iface *ifs;
    uint32_t nifs, cap_ifs;
    uint8_t *buf;
    size_t cap;
    uint64_t last_ts;     /* timestamp given to Simple Packet Blocks */
    uint64_t trunc_bytes; /* after DIS_NG_TRUNCATED: bytes of the partial block */
    uint64_t pos;         /* bytes of the file read so far (from its first byte) */
    uint64_t block_start; /* file offset of the block being read (after MALFORMED: the bad one) */
};

/* One packet out of a pcapng file; data points into ng->buf. */
struct dis_ng_frame {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
    int linktype;
};

/* Results of dis_ng_next() besides a negative errno. */
enum dis_ng_rc {
    DIS_NG_END = 0,       /* clean end of file */
    DIS_NG_FRAME = 1,     /* *out filled */
    DIS_NG_TRUNCATED = 2, /* the file ends inside a block; ng->trunc_bytes says how far */
    DIS_NG_MALFORMED = 3, /* a format problem; msg says which; stop reading the file */
};

/*
 * Start reading a pcapng file from fp, whose first 4 bytes (the Section
 * Header Block type, given in magic) were already read.  Reads and checks the
 * whole first Section Header Block.  Keeps buf/ifs of an earlier file.
 * ng->pos counts the bytes read (4 after the magic) for progress and for
 * saying where the file is damaged.
 * Returns 0, or a negative errno with a message (without the file name) in
 * msg: -EIO on a read error, -EINVAL when the section header is truncated or
 * malformed, -ENOMEM.
 */
int dis_ng_open(struct dis_ng *ng, FILE *fp, const uint8_t magic[4], struct dis_file_info *info,
                char msg[TCBS_ERRLEN]);

/*
 * Read blocks until the next packet.  Returns an enum dis_ng_rc, or -EIO on
 * a read error / -ENOMEM with a message (without the file name) in msg.
 * out->data is valid until the next call.  After anything but DIS_NG_FRAME
 * the file must not be read further.
 */
int dis_ng_next(struct dis_ng *ng, struct dis_ng_frame *out, char msg[TCBS_ERRLEN]);

/* Free the buffers; the struct may be reused after zeroing. */
void dis_ng_free(struct dis_ng *ng);

/* Add a link type to a file's list (no duplicates; at most DIS_MAX_FILE_LINKTYPES). */
void dis_file_add_linktype(struct dis_file_info *info, int linktype);

#endif /* TCBSCOPE_READER_INT_H */
