/*
 * fields.c - the derived connection fields every sink writes beside the
 * engine's values: RFC 3339 UTC times with nanoseconds, the duration, and
 * the Community ID v1 flow hash (SHA-1 and base64 from nettle).  The
 * port -> service name table is generated into services.c.
 *
 * Leaves to others: which columns exist and their order (sink_int.h), the
 * output formats (sqlite.c, json.c, csv.c, zeeklog.c).
 */
#include <assert.h>
#include <string.h>
#include <time.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "sink_int.h"

const char *sink_fmt_rfc3339(uint64_t ns, char buf[SINK_TIME_LEN])
{
    time_t secs = (time_t)(ns / 1000000000ULL);
    struct tm tm;

    size_t n;

    /* years past 9999 (not from a real capture) would not fit: leave empty */
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year > 9999 - 1900 ||
        (n = strftime(buf, SINK_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf + n, SINK_TIME_LEN - n, ".%09uZ", (unsigned)(ns % 1000000000ULL));
    return buf;
}

/*
 * Community ID v1 (github.com/corelight/community-id-spec): SHA-1 over
 * seed (2 bytes, network order) | source address | destination address |
 * protocol | 0 | source port | destination port, the endpoints ordered so
 * that the smaller (address, then port) comes first, so both directions of
 * a flow give one ID.  Addresses are 4 or 16 bytes as on the wire.
 */
const char *sink_community_id(uint16_t seed, uint8_t ip_version, const uint8_t a[16],
                              uint16_t aport, const uint8_t b[16], uint16_t bport,
                              char buf[SINK_COMMUNITY_ID_LEN])
{
    size_t alen = ip_version == 6 ? 16 : 4;
    uint8_t msg[2 + 16 + 16 + 2 + 4], digest[SHA1_DIGEST_SIZE], *p = msg;
    struct sha1_ctx ctx;

    int c = memcmp(a, b, alen);
    if (c > 0 || (c == 0 && aport > bport)) {
        const uint8_t *t = a;
        a = b;
        b = t;
        uint16_t tp = aport;
        aport = bport;
        bport = tp;
    }
    *p++ = (uint8_t)(seed >> 8);
    *p++ = (uint8_t)seed;
    memcpy(p, a, alen);
    p += alen;
    memcpy(p, b, alen);
    p += alen;
    *p++ = 6; /* IPPROTO_TCP */
    *p++ = 0; /* padding */
    *p++ = (uint8_t)(aport >> 8);
    *p++ = (uint8_t)aport;
    *p++ = (uint8_t)(bport >> 8);
    *p++ = (uint8_t)bport;

    sha1_init(&ctx);
    sha1_update(&ctx, (size_t)(p - msg), msg);
    sha1_digest(&ctx, SHA1_DIGEST_SIZE, digest);
    static_assert(2 + BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1 <= SINK_COMMUNITY_ID_LEN,
                  "community id buffer");
    buf[0] = '1';
    buf[1] = ':';
    base64_encode_raw(buf + 2, SHA1_DIGEST_SIZE, digest);
    buf[2 + BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = '\0';
    return buf;
}
