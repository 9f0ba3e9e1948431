/* SPDX-License-Identifier: MIT */
/*
 * Typed IP values (ip.h). The parsers follow the grammar of Go's net/netip
 * (parseIPv4Fields, parseIPv6, ParsePrefix, splitAddrPort), written anew
 * here; every read is bounded by len.
 */
#include "common/ip.h"

#include <string.h>

const struct ip_prefix ip_tailnet_v4 = {
    .addr = { .family = AF_INET, .bytes = { 100, 64 } },
    .bits = 10,
};

const struct ip_prefix ip_tailnet_v6 = {
    .addr = { .family = AF_INET6, .bytes = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0 } },
    .bits = 48,
};

/* Dotted quad in s[0..len) into out[4]. */
static bool
parse_v4(uint8_t out[4], const char *s, size_t len)
{
    unsigned val = 0, digits = 0, field = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c >= '0' && c <= '9') {
            if (digits == 1 && val == 0)
                return false; /* leading zero */
            val = val * 10 + (unsigned)(c - '0');
            if (++digits > 3 || val > 255)
                return false;
        } else if (c == '.') {
            if (digits == 0 || field == 3)
                return false;
            out[field++] = (uint8_t)val;
            val = 0;
            digits = 0;
        } else {
            return false;
        }
    }
    if (field != 3 || digits == 0)
        return false;
    out[3] = (uint8_t)val;
    return true;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
parse_v6(uint8_t out[16], const char *s, size_t len)
{
    size_t pos = 0, n = 0; /* pos: into s; n: bytes of out filled */
    int ellipsis = -1;     /* byte index the "::" stands at */

    memset(out, 0, 16);
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        ellipsis = 0;
        pos = 2;
        if (pos == len)
            return true; /* "::" */
    }
    while (n < 16) {
        size_t start = pos;
        unsigned acc = 0;
        int h;

        while (pos < len && (h = hex_value(s[pos])) >= 0) {
            if (pos - start == 4)
                return false; /* five digits */
            acc = acc << 4 | (unsigned)h;
            pos++;
        }
        if (pos == start)
            return false;
        if (pos < len && s[pos] == '.') {
            /* The IPv4 tail: it must fill the last 32 bits. */
            if ((ellipsis < 0 && n != 12) || n + 4 > 16)
                return false;
            if (!parse_v4(out + n, s + start, len - start))
                return false;
            n += 4;
            pos = len;
            break;
        }
        out[n++] = (uint8_t)(acc >> 8);
        out[n++] = (uint8_t)acc;
        if (pos == len)
            break;
        if (s[pos] != ':' || pos + 1 == len)
            return false;
        pos++;
        if (s[pos] == ':') {
            if (ellipsis >= 0)
                return false; /* a second "::" */
            ellipsis = (int)n;
            pos++;
            if (pos == len)
                break;
        }
    }
    if (pos != len)
        return false;
    if (n < 16) {
        size_t gap = 16 - n;

        if (ellipsis < 0)
            return false;
        memmove(out + ellipsis + gap, out + ellipsis, n - (size_t)ellipsis);
        memset(out + ellipsis, 0, gap);
    } else if (ellipsis >= 0) {
        return false; /* "::" must stand for at least one group */
    }
    return true;
}

bool
ip_addr_parse(struct ip_addr *out, const char *s, size_t len)
{
    memset(out, 0, sizeof(*out));
    /* As netip.ParseAddr: the first '.' or ':' decides the family. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (!parse_v4(out->bytes, s, len))
                break;
            out->family = AF_INET;
            return true;
        }
        if (s[i] == ':') {
            if (!parse_v6(out->bytes, s, len))
                break;
            out->family = AF_INET6;
            return true;
        }
    }
    memset(out, 0, sizeof(*out));
    return false;
}

/* Decimal digits only, value <= max; leading zeros as allowed. */
static bool
parse_decimal(const char *s, size_t len, bool leading_zero_ok, unsigned max, unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || (!leading_zero_ok && len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

bool
ip_prefix_parse(struct ip_prefix *out, const char *s, size_t len)
{
    const char *slash = len ? memrchr(s, '/', len) : NULL;
    size_t alen;
    unsigned bits;

    memset(out, 0, sizeof(*out));
    if (!slash)
        return false;
    alen = (size_t)(slash - s);
    if (!ip_addr_parse(&out->addr, s, alen) ||
        !parse_decimal(slash + 1, len - alen - 1, false, ip_addr_bitlen(&out->addr), &bits)) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    out->bits = (uint8_t)bits;
    return true;
}

bool
ip_port_parse(struct ip_port *out, const char *s, size_t len)
{
    const char *colon = len ? memrchr(s, ':', len) : NULL;
    const char *host = s;
    size_t hlen;
    bool bracket;
    unsigned port;

    memset(out, 0, sizeof(*out));
    if (!colon || colon == s)
        return false;
    hlen = (size_t)(colon - s);
    bracket = s[0] == '[';
    if (bracket) {
        if (hlen < 2 || colon[-1] != ']')
            return false;
        host++;
        hlen -= 2;
    }
    if (!parse_decimal(colon + 1, len - (size_t)(colon + 1 - s), true, 65535, &port) ||
        !ip_addr_parse(&out->addr, host, hlen) || bracket != (out->addr.family == AF_INET6)) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    out->port = (uint16_t)port;
    return true;
}

/* ---- formatting -------------------------------------------------------- */

static size_t
put_decimal(char *p, unsigned v)
{
    char d[10];
    size_t n = 0, i;

    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (i = 0; i < n; i++)
        p[i] = d[n - 1 - i];
    return n;
}

static size_t
put_v4(char *p, const uint8_t b[4])
{
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        if (i)
            p[n++] = '.';
        n += put_decimal(p + n, b[i]);
    }
    return n;
}

static size_t
put_hex16(char *p, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    bool started = false;

    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;

        if (d || started || shift == 0) {
            p[n++] = hex[d];
            started = true;
        }
    }
    return n;
}

static size_t
put_v6(char *p, const uint8_t b[16])
{
    static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
    int zs = -1, ze = -1;
    size_t n = 0;

    if (memcmp(b, mapped, sizeof(mapped)) == 0) {
        memcpy(p, "::ffff:", 7);
        return 7 + put_v4(p + 7, b + 12);
    }
    /* The first longest run of two or more zero groups. */
    for (int i = 0; i < 8; i++) {
        int j = i;

        while (j < 8 && b[2 * j] == 0 && b[2 * j + 1] == 0)
            j++;
        if (j - i >= 2 && j - i > ze - zs) {
            zs = i;
            ze = j;
        }
    }
    for (int i = 0; i < 8; i++) {
        if (i == zs) {
            p[n++] = ':';
            p[n++] = ':';
            i = ze;
            if (i >= 8)
                break;
        } else if (i > 0) {
            p[n++] = ':';
        }
        n += put_hex16(p + n, (unsigned)b[2 * i] << 8 | b[2 * i + 1]);
    }
    return n;
}

size_t
ip_addr_format(const struct ip_addr *a, char out[IP_ADDR_STRLEN])
{
    size_t n = 0;

    if (a->family == AF_INET)
        n = put_v4(out, a->bytes);
    else if (a->family == AF_INET6)
        n = put_v6(out, a->bytes);
    out[n] = '\0';
    return n;
}

size_t
ip_prefix_format(const struct ip_prefix *p, char out[IP_PREFIX_STRLEN])
{
    size_t n = ip_addr_format(&p->addr, out);

    out[n++] = '/';
    n += put_decimal(out + n, p->bits);
    out[n] = '\0';
    return n;
}

size_t
ip_port_format(const struct ip_port *p, char out[IP_PORT_STRLEN])
{
    size_t n = 0;

    if (p->addr.family == AF_INET6)
        out[n++] = '[';
    n += ip_addr_format(&p->addr, out + n);
    if (p->addr.family == AF_INET6)
        out[n++] = ']';
    out[n++] = ':';
    n += put_decimal(out + n, p->port);
    out[n] = '\0';
    return n;
}

/* ---- comparisons ------------------------------------------------------- */

unsigned
ip_addr_bitlen(const struct ip_addr *a)
{
    return a->family == AF_INET ? 32 : a->family == AF_INET6 ? 128 : 0;
}

bool
ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

bool
ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b)
{
    return a->bits == b->bits && ip_addr_equal(&a->addr, &b->addr);
}

bool
ip_port_equal(const struct ip_port *a, const struct ip_port *b)
{
    return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

static void
mask_bytes(uint8_t b[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        if (bits >= 8 * (i + 1))
            continue;
        b[i] &= bits > 8 * i ? (uint8_t)(0xff << (8 - (bits - 8 * i))) : 0;
    }
}

struct ip_prefix
ip_prefix_masked(const struct ip_prefix *p)
{
    struct ip_prefix m = *p;

    mask_bytes(m.addr.bytes, m.bits);
    return m;
}

bool
ip_prefix_contains_addr(const struct ip_prefix *p, const struct ip_addr *a)
{
    struct ip_prefix x = { .addr = *a, .bits = p->bits }, net;

    if (p->addr.family == 0 || a->family != p->addr.family)
        return false;
    x = ip_prefix_masked(&x);
    net = ip_prefix_masked(p);
    return ip_addr_equal(&x.addr, &net.addr);
}

bool
ip_prefix_contains_prefix(const struct ip_prefix *outer, const struct ip_prefix *inner)
{
    return inner->bits >= outer->bits && ip_prefix_contains_addr(outer, &inner->addr);
}

bool
ip_prefix_is_host(const struct ip_prefix *p)
{
    return p->addr.family != 0 && p->bits == ip_addr_bitlen(&p->addr);
}

bool
ip_prefix_is_default(const struct ip_prefix *p)
{
    return p->addr.family != 0 && p->bits == 0;
}

bool
ip_addr_is_tailnet(const struct ip_addr *a)
{
    return ip_prefix_contains_addr(&ip_tailnet_v4, a) || ip_prefix_contains_addr(&ip_tailnet_v6, a);
}

bool
ip_prefix_is_tailnet(const struct ip_prefix *p)
{
    return ip_prefix_contains_prefix(&ip_tailnet_v4, p) ||
           ip_prefix_contains_prefix(&ip_tailnet_v6, p);
}
