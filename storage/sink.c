/*
 * sink.c - what all sinks share: the fan-out from the analyzer's one output
 * to several sinks, address formatting, the column list and vocabularies of
 * a connection record, the "refuse an existing target" rule and the
 * fault-injection hook.
 *
 * Leaves to others: each output format (summary.c, sqlite.c, json.c).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "sink.h"
#include "sink_int.h"

unsigned long sink_fault_countdown;

bool sink_fault(void)
{
    if (sink_fault_countdown == 0)
        return false;
    return --sink_fault_countdown == 0;
}

void *sink_malloc(size_t n)
{
    return sink_fault() ? NULL : malloc(n);
}

void *sink_realloc(void *p, size_t n)
{
    return sink_fault() ? NULL : realloc(p, n);
}

/* ------------------------------------------------------------------------
 * Fan-out.
 */

static int set_conn(void *ctx, const struct tcb_conn_info *c)
{
    struct sink_set *set = ctx;

    for (size_t i = 0; i < set->count; i++) {
        struct sink *s = set->sinks[i];
        int rc = s->ops->conn(s, c, set->err);
        if (rc != 0) {
            if (set->err[0] == '\0')
                snprintf(set->err, TCBS_ERRLEN, "%s: write failed", s->ops->name);
            return rc;
        }
    }
    return 0;
}

struct tcb_output sink_set_output(struct sink_set *set)
{
    assert(set != NULL);
    return (struct tcb_output){.ctx = set, .conn = set_conn};
}

/*
 * Every sink is finished even after one failed, so that what the others
 * computed survives (STYLE 5: close every sink); the first error is the one
 * returned and kept in set->err.
 */
int sink_set_finish(struct sink_set *set, const struct sink_run_info *run)
{
    int first = 0;
    char err[TCBS_ERRLEN];

    for (size_t i = 0; i < set->count; i++) {
        struct sink *s = set->sinks[i];
        err[0] = '\0';
        int rc = s->ops->finish(s, run, err);
        if (rc != 0 && first == 0) {
            first = rc;
            if (err[0] == '\0')
                snprintf(err, sizeof(err), "%s: finish failed", s->ops->name);
            memcpy(set->err, err, TCBS_ERRLEN);
        }
    }
    return first;
}

void sink_set_destroy(struct sink_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->sinks[i] != NULL)
            set->sinks[i]->ops->destroy(set->sinks[i]);
        set->sinks[i] = NULL;
    }
    set->count = 0;
}

uint64_t sink_run_frames_read(const struct sink_run_info *run)
{
    uint64_t n = 0;

    for (size_t i = 0; run->files != NULL && i < run->file_count; i++)
        n += run->files[i].frames;
    return n;
}

const char *sink_ip_str(uint8_t version, const uint8_t addr[16], char *buf, size_t len)
{
    int af = version == 6 ? AF_INET6 : AF_INET;

    if (inet_ntop(af, addr, buf, (socklen_t)len) == NULL) {
        if (len > 0)
            buf[0] = '\0';
    }
    return buf;
}

/* ------------------------------------------------------------------------
 * Vocabularies and the connection row.
 */

size_t sink_voc_count(enum sink_voc v)
{
    switch (v) {
    case SINK_VOC_STATE:
        return TCB_STATE_COUNT;
    case SINK_VOC_CAUSE:
        return TCB_CAUSE_COUNT;
    case SINK_VOC_OPEN_KIND:
        return TCB_OPEN_KIND_COUNT;
    case SINK_VOC_EP_OPEN:
        return TCB_EP_OPEN_COUNT;
    case SINK_VOC_HANDSHAKE:
        return TCB_HANDSHAKE_COUNT;
    case SINK_VOC_CLOSE_KIND:
        return TCB_CLOSE_KIND_COUNT;
    case SINK_VOC_ANOMALY:
        return TCB_ANOMALY_COUNT;
    case SINK_VOC_TUNNEL:
        return DIS_TUNNEL_COUNT;
    case SINK_VOC_ENDPOINT:
    case SINK_VOC_BOOL:
        return 2;
    default:
        return 0;
    }
}

const char *sink_voc_word(enum sink_voc v, size_t i)
{
    if (i >= sink_voc_count(v))
        return NULL;
    switch (v) {
    case SINK_VOC_STATE:
        return tcb_state_name((enum tcb_state)i);
    case SINK_VOC_CAUSE:
        return tcb_cause_name((enum tcb_cause)i);
    case SINK_VOC_OPEN_KIND:
        return tcb_open_kind_name((enum tcb_open_kind)i);
    case SINK_VOC_EP_OPEN:
        return tcb_ep_open_name((enum tcb_ep_open)i);
    case SINK_VOC_HANDSHAKE:
        return tcb_handshake_name((enum tcb_handshake)i);
    case SINK_VOC_CLOSE_KIND:
        return tcb_close_kind_name((enum tcb_close_kind)i);
    case SINK_VOC_ANOMALY:
        return tcb_anomaly_name((enum tcb_anomaly)i);
    case SINK_VOC_ENDPOINT:
        return tcb_endpoint_name((enum tcb_endpoint)i);
    case SINK_VOC_TUNNEL:
        return dis_tunnel_name((enum dis_tunnel)i);
    default:
        return NULL;
    }
}

const struct sink_col_def sink_conn_cols[SINK_COL_COUNT] = {
#define SINK_X(n, d, v) {#n, d, v},
    SINK_CONN_COLUMN_LIST(SINK_X)
#undef SINK_X
};

static inline void put_int(struct sink_val *v, uint64_t u)
{
    v->type = SINK_V_INT;
    v->u = u;
}

static inline void put_opt(struct sink_val *v, bool have, uint64_t u)
{
    v->type = have ? SINK_V_INT : SINK_V_NULL;
    v->u = u;
}

static inline void put_text(struct sink_val *v, const char *s)
{
    v->type = SINK_V_TEXT;
    v->s = s;
}

/* Copy a possibly unterminated char array into a terminated buffer. */
static void copy_str(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n = strnlen(src, srclen < dstlen - 1 ? srclen : dstlen - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void sink_conn_row_fill(struct sink_conn_row *row, const struct tcb_conn_info *c)
{
    struct sink_val *v = row->v;
    uint32_t h = c->have;

    sink_ip_str(c->ip_version, c->client_ip, row->client_ip, sizeof(row->client_ip));
    sink_ip_str(c->ip_version, c->server_ip, row->server_ip, sizeof(row->server_ip));
    copy_str(row->zeek_conn_state, sizeof(row->zeek_conn_state), c->zeek_conn_state,
             sizeof(c->zeek_conn_state));
    copy_str(row->zeek_history, sizeof(row->zeek_history), c->zeek_history,
             sizeof(c->zeek_history));

    put_int(&v[SINK_COL_id], c->id);
    put_text(&v[SINK_COL_client_ip], row->client_ip);
    put_int(&v[SINK_COL_client_port], c->client_port);
    put_text(&v[SINK_COL_server_ip], row->server_ip);
    put_int(&v[SINK_COL_server_port], c->server_port);
    put_int(&v[SINK_COL_ip_version], c->ip_version);
    put_opt(&v[SINK_COL_vlan], h & TCB_HAVE_VLAN, c->vlan);
    put_int(&v[SINK_COL_incarnation], c->incarnation);
    put_text(&v[SINK_COL_open_kind], tcb_open_kind_name(c->open_kind));
    put_text(&v[SINK_COL_client_open], tcb_ep_open_name(c->client_open));
    put_text(&v[SINK_COL_server_open], tcb_ep_open_name(c->server_open));
    put_text(&v[SINK_COL_handshake], tcb_handshake_name(c->handshake));
    put_text(&v[SINK_COL_close_kind], tcb_close_kind_name(c->close_kind));
    put_text(&v[SINK_COL_client_final_state], tcb_state_name(c->client_final_state));
    put_text(&v[SINK_COL_server_final_state], tcb_state_name(c->server_final_state));
    put_int(&v[SINK_COL_first_ns], c->first_ns);
    put_int(&v[SINK_COL_last_ns], c->last_ns);
    put_opt(&v[SINK_COL_syn_ns], h & TCB_HAVE_SYN, c->syn_ns);
    put_opt(&v[SINK_COL_synack_ns], h & TCB_HAVE_SYNACK, c->synack_ns);
    put_opt(&v[SINK_COL_ack_ns], h & TCB_HAVE_ACK, c->ack_ns);
    put_int(&v[SINK_COL_syn_retransmits], c->syn_retransmits);
    put_int(&v[SINK_COL_synack_retransmits], c->synack_retransmits);
    put_int(&v[SINK_COL_packets_c2s], c->packets[TCB_CLIENT]);
    put_int(&v[SINK_COL_packets_s2c], c->packets[TCB_SERVER]);
    put_int(&v[SINK_COL_data_bytes_c2s], c->data_bytes[TCB_CLIENT]);
    put_int(&v[SINK_COL_data_bytes_s2c], c->data_bytes[TCB_SERVER]);
    put_int(&v[SINK_COL_retrans_packets_c2s], c->retrans_packets[TCB_CLIENT]);
    put_int(&v[SINK_COL_retrans_packets_s2c], c->retrans_packets[TCB_SERVER]);
    put_opt(&v[SINK_COL_client_mss], h & TCB_HAVE_CMSS, c->mss[TCB_CLIENT]);
    put_opt(&v[SINK_COL_server_mss], h & TCB_HAVE_SMSS, c->mss[TCB_SERVER]);
    put_opt(&v[SINK_COL_client_wscale], h & TCB_HAVE_CWSCALE, c->wscale[TCB_CLIENT]);
    put_opt(&v[SINK_COL_server_wscale], h & TCB_HAVE_SWSCALE, c->wscale[TCB_SERVER]);
    put_opt(&v[SINK_COL_sack_permitted], h & TCB_HAVE_OPTS, c->sack_permitted);
    put_opt(&v[SINK_COL_timestamps], h & TCB_HAVE_OPTS, c->timestamps);
    put_int(&v[SINK_COL_tfo], c->tfo);
    put_text(&v[SINK_COL_zeek_conn_state], row->zeek_conn_state);
    put_text(&v[SINK_COL_zeek_history], row->zeek_history);
    put_int(&v[SINK_COL_evicted], c->evicted);
    put_text(&v[SINK_COL_first_time], sink_fmt_rfc3339(c->first_ns, row->first_time));
    put_text(&v[SINK_COL_last_time], sink_fmt_rfc3339(c->last_ns, row->last_time));
    put_int(&v[SINK_COL_duration_ns], c->last_ns > c->first_ns ? c->last_ns - c->first_ns : 0);
    const char *svc = sink_service_name(c->server_port);
    if (svc != NULL)
        put_text(&v[SINK_COL_service], svc);
    else
        v[SINK_COL_service].type = SINK_V_NULL;
    put_text(&v[SINK_COL_community_id],
             sink_community_id(0, c->ip_version, c->client_ip, c->client_port, c->server_ip,
                               c->server_port, row->community_id));
    put_int(&v[SINK_COL_first_frame], c->first_frame);
    put_int(&v[SINK_COL_last_frame], c->last_frame);
    put_text(&v[SINK_COL_tunnel], dis_tunnel_name((enum dis_tunnel)c->tunnel));
    put_opt(&v[SINK_COL_tunnel_id], h & TCB_HAVE_TUNNEL_ID, c->tunnel_id);
    put_int(&v[SINK_COL_ip_bytes_c2s], c->ip_bytes[TCB_CLIENT]);
    put_int(&v[SINK_COL_ip_bytes_s2c], c->ip_bytes[TCB_SERVER]);
    put_int(&v[SINK_COL_retrans_bytes_c2s], c->retrans_bytes[TCB_CLIENT]);
    put_int(&v[SINK_COL_retrans_bytes_s2c], c->retrans_bytes[TCB_SERVER]);
    put_int(&v[SINK_COL_zero_windows_c2s], c->zero_windows[TCB_CLIENT]);
    put_int(&v[SINK_COL_zero_windows_s2c], c->zero_windows[TCB_SERVER]);
    put_int(&v[SINK_COL_dup_acks_c2s], c->dup_acks[TCB_CLIENT]);
    put_int(&v[SINK_COL_dup_acks_s2c], c->dup_acks[TCB_SERVER]);
    put_int(&v[SINK_COL_out_of_order_c2s], c->out_of_order[TCB_CLIENT]);
    put_int(&v[SINK_COL_out_of_order_s2c], c->out_of_order[TCB_SERVER]);
    put_int(&v[SINK_COL_missed_bytes_c2s], c->missed_bytes[TCB_CLIENT]);
    put_int(&v[SINK_COL_missed_bytes_s2c], c->missed_bytes[TCB_SERVER]);
    bool rc2s = h & TCB_HAVE_RTT_C2S, rs2c = h & TCB_HAVE_RTT_S2C;
    put_int(&v[SINK_COL_rtt_c2s_samples], rc2s ? c->rtt_samples[TCB_CLIENT] : 0);
    put_opt(&v[SINK_COL_rtt_c2s_min_ns], rc2s, c->rtt_min_ns[TCB_CLIENT]);
    put_opt(&v[SINK_COL_rtt_c2s_avg_ns], rc2s, c->rtt_avg_ns[TCB_CLIENT]);
    put_opt(&v[SINK_COL_rtt_c2s_max_ns], rc2s, c->rtt_max_ns[TCB_CLIENT]);
    put_int(&v[SINK_COL_rtt_s2c_samples], rs2c ? c->rtt_samples[TCB_SERVER] : 0);
    put_opt(&v[SINK_COL_rtt_s2c_min_ns], rs2c, c->rtt_min_ns[TCB_SERVER]);
    put_opt(&v[SINK_COL_rtt_s2c_avg_ns], rs2c, c->rtt_avg_ns[TCB_SERVER]);
    put_opt(&v[SINK_COL_rtt_s2c_max_ns], rs2c, c->rtt_max_ns[TCB_SERVER]);
    /* The handshake seen from the tap: SYN -> SYN/ACK crosses the tap-server path
     * twice, SYN/ACK -> ACK the tap-client path (docs/vantage.md).  Karn's rule:
     * after a retransmitted SYN (SYN/ACK) the answer may be to either copy. */
    bool ts = (h & (TCB_HAVE_SYN | TCB_HAVE_SYNACK)) == (TCB_HAVE_SYN | TCB_HAVE_SYNACK) &&
              c->synack_ns >= c->syn_ns && !c->syn_retransmits;
    bool tc = (h & (TCB_HAVE_SYNACK | TCB_HAVE_ACK)) == (TCB_HAVE_SYNACK | TCB_HAVE_ACK) &&
              c->ack_ns >= c->synack_ns && !c->synack_retransmits;
    put_opt(&v[SINK_COL_tap_to_server_ns], ts, c->synack_ns - c->syn_ns);
    put_opt(&v[SINK_COL_tap_to_client_ns], tc, c->ack_ns - c->synack_ns);
}

/* What a file type is called in messages. */
static const char *mode_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO (pipe)";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISLNK(m))
        return "a symbolic link";
    return "not a regular file";
}

int sink_path_fd(const char *path)
{
    static const char *const std[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
    static const char *const dirs[] = {"/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"};
    const char *num = NULL;

    for (int i = 0; i < 3; i++)
        if (strcmp(path, std[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && num == NULL; i++)
        if (strncmp(path, dirs[i], strlen(dirs[i])) == 0)
            num = path + strlen(dirs[i]);
    if (num == NULL || *num < '0' || *num > '9')
        return -1;
    char *end;
    errno = 0;
    long fd = strtol(num, &end, 10);
    if (errno != 0 || *end != '\0' || fd > INT_MAX)
        return -1;
    return (int)fd;
}

int sink_target_check(const char *path, bool force, enum sink_target *kind, char err[TCBS_ERRLEN])
{
    struct stat st;

    *kind = SINK_TARGET_ABSENT;
    if (stat(path, &st) != 0) {
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            snprintf(err, TCBS_ERRLEN, "%s: a symbolic link to nothing; give the file itself", path);
            return -ENOENT;
        }
        return 0; /* absent (or unreachable: creating it will say why) */
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, TCBS_ERRLEN, "%s: is a directory", path);
        return -EISDIR;
    }
    if (S_ISREG(st.st_mode)) {
        *kind = SINK_TARGET_FILE;
        if (!force) {
            snprintf(err, TCBS_ERRLEN, "%s exists (use --force to overwrite)", path);
            return -EEXIST;
        }
        return 0;
    }
    if (S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) {
        snprintf(err, TCBS_ERRLEN, "%s: is %s; refusing to write to it", path,
                 mode_name(st.st_mode));
        return -EINVAL;
    }
    *kind = SINK_TARGET_STREAM; /* character device or FIFO: written in place */
    snprintf(err, TCBS_ERRLEN, "%s: is %s", path, mode_name(st.st_mode));
    return 0;
}

int sink_target_regular(const char *path, char err[TCBS_ERRLEN])
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISREG(st.st_mode))
        return 1;
    snprintf(err, TCBS_ERRLEN, "%s is now %s", path, mode_name(st.st_mode));
    return -EINVAL;
}

const char *sink_fmt_count(uint64_t v, char buf[32])
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *sink_fmt_duration(uint64_t ns, char buf[32])
{
    if (ns < 1000)
        snprintf(buf, 32, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, 32, "%.0f µs", (double)ns / 1e3);
    else if (ns < 10000000)
        snprintf(buf, 32, "%.2f ms", (double)ns / 1e6);
    else if (ns < 1000000000)
        snprintf(buf, 32, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, 32, "%.2f s", (double)ns / 1e9);
    return buf;
}

char *sink_temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    size_t n = dirlen + 1 + strlen(base) + sizeof(".tmp-XXXXXX");
    char *t = sink_malloc(n);

    if (t != NULL)
        snprintf(t, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, base);
    return t;
}

int sink_fail_record(int *failed, char msg[TCBS_ERRLEN], int rc, char err[TCBS_ERRLEN],
                     const char *fmt, va_list ap)
{
    if (*failed == 0) {
        vsnprintf(msg, TCBS_ERRLEN, fmt, ap);
        *failed = rc;
    }
    if (err != NULL)
        memcpy(err, msg, TCBS_ERRLEN);
    return *failed;
}
