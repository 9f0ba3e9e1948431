/* SPDX-License-Identifier: MIT */
/*
 * Parsing and formatting of the WireGuard cross-platform UAPI
 * (https://www.wireguard.com/xplatform/). Behaviour follows wireguard-go's
 * device/uapi.go, which is what wg(8) is tested against:
 *   - a line without '=' is -EPROTO ("failed to parse line");
 *   - an unknown key, a device key after the first public_key or a peer key
 *     before it, and any bad value are -EINVAL;
 *   - repeated device keys are allowed, the last one wins;
 *   - numbers are strconv.ParseUint: decimal digits only, leading zeros
 *     allowed, no sign, no spaces, overflow rejected;
 *   - keys are exactly 64 hex digits (either case); a non-zero private key
 *     is clamped as X25519 requires;
 *   - flags (replace_peers, remove, update_only, replace_allowed_ips) accept
 *     only "true"; protocol_version only "1";
 *   - endpoint is netip.ParseAddrPort: a.b.c.d:port or [v6(%zone)]:port,
 *     no host names (wg resolves them);
 *   - allowed_ip is netip.ParsePrefix: no zone, no leading zeros in the
 *     prefix length, v4 /0-32, v6 /0-128.
 * Deliberate differences: "fwmark=" (empty) clears the mark like "fwmark=0";
 * "allowed_ip=-prefix" (removal, newer wireguard-go) is -EINVAL because
 * struct uapi_allowed_ip cannot express it; NUL bytes, over-long lines and
 * requests over UAPI_MAX_REQUEST are rejected.
 */
#include "uapi/uapi.h"
#include "common/ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/*****************************************************************************/
/* Hex, constant time in the key bytes. */

/* 0..15, or sets *bad. Branch-free in c. */
static unsigned int
hex_nibble(unsigned char c, unsigned int *bad)
{
    int ci = c, lc = c | 0x20;
    int is_digit = ((('0' - 1) - ci) & (ci - ('9' + 1))) >> 8; /* -1 or 0 */
    int is_alpha = ((('a' - 1) - lc) & (lc - ('f' + 1))) >> 8;

    *bad |= (unsigned int)(~(is_digit | is_alpha)) & 1u;
    return (unsigned int)((is_digit & (ci - '0')) | (is_alpha & (lc - 'a' + 10))) & 0xfu;
}

static bool
uapi_key_from_hex(uint8_t k[static 32], const char *hex, size_t len)
{
    unsigned int bad = 0;
    uint8_t tmp[32];

    if (len != 64)
        return false;
    for (size_t i = 0; i < 32; i++)
        tmp[i] = (uint8_t)(hex_nibble((unsigned char)hex[2 * i], &bad) << 4 |
                           hex_nibble((unsigned char)hex[2 * i + 1], &bad));
    if (!bad)
        memcpy(k, tmp, 32);
    sodium_memzero(tmp, sizeof(tmp));
    return !bad;
}

static char
hex_digit(unsigned int n)
{
    /* n < 10: '0' + n; else 'a' + n - 10; no branch on n. */
    int d = (int)n;
    return (char)(d + 'a' - 10 + (((d - 10) >> 8) & ('0' - ('a' - 10))));
}

static void
uapi_key_to_hex(char out[static 65], const uint8_t k[static 32])
{
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex_digit(k[i] >> 4);
        out[2 * i + 1] = hex_digit(k[i] & 0xf);
    }
    out[64] = '\0';
}

static bool
is_zero32(const uint8_t k[static 32])
{
    uint8_t acc = 0;

    for (size_t i = 0; i < 32; i++)
        acc |= k[i];
    return acc == 0;
}

/*****************************************************************************/
/* Values */

static bool
value_is(const char *v, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    return len == n && memcmp(v, lit, n) == 0;
}

/* strconv.ParseUint(v, 10, bits): digits only, leading zeros fine. */
static bool
parse_uint(const char *v, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned int d = (unsigned char)v[i] - '0';

        if (d > 9)
            return false;
        if (n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* Copies v into buf as a C string; false when it does not fit. */
static bool
copy_text(char *buf, size_t size, const char *v, size_t len)
{
    if (len >= size)
        return false;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return true;
}

/* One address of the given family through the one typed parser (common/ip.h). */
static bool
parse_ip(const char *v, size_t len, int family, void *out)
{
    struct ip_addr a;

    if (!ip_addr_parse(&a, v, len) || a.family != family)
        return false;
    memcpy(out, a.bytes, family == AF_INET ? 4 : 16);
    return true;
}

static bool
parse_zone(const char *v, size_t len, uint32_t *scope_id)
{
    char name[IF_NAMESIZE];
    uint64_t n;
    unsigned int idx;

    if (len == 0)
        return false;
    if (parse_uint(v, len, UINT32_MAX, &n)) {
        *scope_id = (uint32_t)n;
        return true;
    }
    if (!copy_text(name, sizeof(name), v, len))
        return false;
    idx = if_nametoindex(name);
    if (idx == 0)
        return false;
    *scope_id = idx;
    return true;
}

/* netip.ParseAddrPort: "a.b.c.d:port" or "[v6]:port" / "[v6%zone]:port". */
static bool
parse_endpoint(const char *v, size_t len, union wg_sockaddr *out)
{
    const char *port_text, *colon;
    size_t port_len;
    uint64_t port;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return false;
    if (v[0] == '[') {
        const char *close = memchr(v, ']', len);
        const char *host = v + 1, *pct;
        size_t host_len;

        if (!close || (size_t)(close - v) + 1 >= len || close[1] != ':')
            return false;
        host_len = (size_t)(close - host);
        port_text = close + 2;
        port_len = len - (size_t)(port_text - v);
        pct = memchr(host, '%', host_len);
        out->in6.sin6_family = AF_INET6;
        if (pct) {
            if (!parse_zone(pct + 1, host_len - (size_t)(pct + 1 - host), &out->in6.sin6_scope_id))
                return false;
            host_len = (size_t)(pct - host);
        }
        if (!parse_ip(host, host_len, AF_INET6, &out->in6.sin6_addr))
            return false;
        if (!parse_uint(port_text, port_len, UINT16_MAX, &port))
            return false;
        out->in6.sin6_port = htons((uint16_t)port);
        return true;
    }
    colon = memrchr(v, ':', len);
    if (!colon)
        return false;
    /* An unbracketed IPv6 address has more colons: refused, as Go does. */
    if (memchr(v, ':', (size_t)(colon - v)))
        return false;
    port_text = colon + 1;
    port_len = len - (size_t)(port_text - v);
    out->in4.sin_family = AF_INET;
    if (!parse_ip(v, (size_t)(colon - v), AF_INET, &out->in4.sin_addr))
        return false;
    if (!parse_uint(port_text, port_len, UINT16_MAX, &port))
        return false;
    out->in4.sin_port = htons((uint16_t)port);
    return true;
}

/* netip.ParsePrefix: "addr/bits", no zone, bits without leading zeros. */
static bool
parse_allowed_ip(const char *v, size_t len, struct uapi_allowed_ip *out)
{
    struct ip_prefix p;

    memset(out, 0, sizeof(*out));
    if (!ip_prefix_parse(&p, v, len))
        return false;
    out->family = p.addr.family;
    out->cidr = p.bits;
    memcpy(out->addr, p.addr.bytes, sizeof(out->addr));
    return true;
}

/*****************************************************************************/
/* The set=1 parser */

/* Doubles *cap once n reaches it. An array that may hold secrets moves to a fresh block and the
 * old one is wiped, never realloc'd. */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem, bool secret)
{
    size_t new_cap;
    void *p;

    if (n < *cap)
        return 0;
    new_cap = *cap ? *cap * 2 : 4;
    if (new_cap > SIZE_MAX / elem)
        return -ENOMEM;
    p = secret ? calloc(new_cap, elem) : realloc(*arr, new_cap * elem);
    if (!p)
        return -ENOMEM;
    if (secret && *arr) {
        memcpy(p, *arr, n * elem);
        sodium_memzero(*arr, n * elem);
        free(*arr);
    }
    *arr = p;
    *cap = new_cap;
    return 0;
}

struct parser {
    struct uapi_set *set;
    size_t peers_cap;
    size_t ips_cap; /* of the last peer */
};

static int
parse_device_line(struct parser *p, const char *key, size_t klen, const char *v, size_t vlen)
{
    struct uapi_set *s = p->set;
    uint64_t n;

    if (value_is(key, klen, "private_key")) {
        if (!uapi_key_from_hex(s->private_key, v, vlen))
            return -EINVAL;
        if (!is_zero32(s->private_key)) {
            s->private_key[0] &= 248;
            s->private_key[31] = (uint8_t)((s->private_key[31] & 127) | 64);
        }
        s->has_private_key = true;
    } else if (value_is(key, klen, "listen_port")) {
        if (!parse_uint(v, vlen, UINT16_MAX, &n))
            return -EINVAL;
        s->listen_port = (uint16_t)n;
        s->has_listen_port = true;
    } else if (value_is(key, klen, "fwmark")) {
        if (vlen == 0)
            n = 0;
        else if (!parse_uint(v, vlen, UINT32_MAX, &n))
            return -EINVAL;
        s->fwmark = (uint32_t)n;
        s->has_fwmark = true;
    } else if (value_is(key, klen, "replace_peers")) {
        if (!value_is(v, vlen, "true"))
            return -EINVAL;
        s->replace_peers = true;
    } else {
        return -EINVAL;
    }
    return 0;
}

static int
parse_peer_line(struct parser *p, const char *key, size_t klen, const char *v, size_t vlen)
{
    struct uapi_peer_set *peer = &p->set->peers[p->set->n_peers - 1];
    uint64_t n;

    if (value_is(key, klen, "update_only")) {
        if (!value_is(v, vlen, "true"))
            return -EINVAL;
        peer->update_only = true;
    } else if (value_is(key, klen, "remove")) {
        if (!value_is(v, vlen, "true"))
            return -EINVAL;
        peer->remove = true;
    } else if (value_is(key, klen, "preshared_key")) {
        if (!uapi_key_from_hex(peer->preshared_key, v, vlen))
            return -EINVAL;
        peer->has_preshared_key = true;
    } else if (value_is(key, klen, "endpoint")) {
        if (!parse_endpoint(v, vlen, &peer->endpoint))
            return -EINVAL;
        peer->has_endpoint = true;
    } else if (value_is(key, klen, "persistent_keepalive_interval")) {
        if (!parse_uint(v, vlen, UINT16_MAX, &n))
            return -EINVAL;
        peer->keepalive_interval = (uint16_t)n;
        peer->has_keepalive = true;
    } else if (value_is(key, klen, "replace_allowed_ips")) {
        if (!value_is(v, vlen, "true"))
            return -EINVAL;
        /* wireguard-go drops the peer's allowed IPs at this line, including
         * ones added earlier in this section: forget those. */
        peer->replace_allowed_ips = true;
        peer->n_allowed_ips = 0;
    } else if (value_is(key, klen, "allowed_ip")) {
        struct uapi_allowed_ip ip;
        int r;

        if (!parse_allowed_ip(v, vlen, &ip))
            return -EINVAL;
        r = grow((void **)&peer->allowed_ips, &p->ips_cap, peer->n_allowed_ips,
                 sizeof(*peer->allowed_ips), false);
        if (r < 0)
            return r;
        peer->allowed_ips[peer->n_allowed_ips++] = ip;
    } else if (value_is(key, klen, "protocol_version")) {
        if (!value_is(v, vlen, "1"))
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    return 0;
}

static int
parse_public_key(struct parser *p, const char *v, size_t vlen)
{
    struct uapi_set *s = p->set;
    uint8_t key[32];
    int r;

    if (!uapi_key_from_hex(key, v, vlen))
        return -EINVAL;
    r = grow((void **)&s->peers, &p->peers_cap, s->n_peers, sizeof(*s->peers), true);
    if (r < 0)
        return r;
    memset(&s->peers[s->n_peers], 0, sizeof(s->peers[0]));
    memcpy(s->peers[s->n_peers].public_key, key, sizeof(key));
    s->n_peers++;
    p->ips_cap = 0;
    return 0;
}

static int
parse_line(struct parser *p, const char *line, size_t len)
{
    const char *eq = memchr(line, '=', len);
    size_t klen;

    if (!eq)
        return -EPROTO;
    klen = (size_t)(eq - line);
    if (value_is(line, klen, "public_key"))
        return parse_public_key(p, eq + 1, len - klen - 1);
    if (p->set->n_peers == 0)
        return parse_device_line(p, line, klen, eq + 1, len - klen - 1);
    return parse_peer_line(p, line, klen, eq + 1, len - klen - 1);
}

int
uapi_parse_set(const char *body, size_t len, struct uapi_set **out)
{
    struct parser p = { 0 };
    size_t pos = 0;
    int r = 0;

    *out = NULL;
    if (!body && len)
        return -EINVAL;
    if (len > UAPI_MAX_REQUEST)
        return -EMSGSIZE;
    if (len && memchr(body, '\0', len))
        return -EINVAL;
    p.set = calloc(1, sizeof(*p.set));
    if (!p.set)
        return -ENOMEM;

    while (pos < len) {
        const char *line = body + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;

        if (line_len > UAPI_MAX_LINE) {
            r = -EINVAL;
            break;
        }
        /* An empty line ends a request; it cannot be inside the body. */
        if (line_len == 0) {
            r = -EPROTO;
            break;
        }
        r = parse_line(&p, line, line_len);
        if (r < 0)
            break;
        pos += line_len + (nl ? 1 : 0);
    }
    if (r < 0) {
        uapi_set_free(p.set);
        return r;
    }
    *out = p.set;
    return 0;
}

/* A peer array of either kind: each peer's allowed-IP list, then the array (it holds keys). */
static void
free_peers(void *peers, size_t n_peers, size_t peer_size, size_t ips_offset)
{
    uint8_t *p = peers;
    struct uapi_allowed_ip *ips;

    if (!p)
        return;
    for (size_t i = 0; i < n_peers; i++) {
        memcpy(&ips, p + i * peer_size + ips_offset, sizeof(ips));
        free(ips);
    }
    sodium_memzero(p, n_peers * peer_size);
    free(p);
}

void
uapi_set_free(struct uapi_set *set)
{
    if (!set)
        return;
    free_peers(set->peers, set->n_peers, sizeof(*set->peers),
               offsetof(struct uapi_peer_set, allowed_ips));
    sodium_memzero(set, sizeof(*set));
    free(set);
}

/*****************************************************************************/
/* get=1 output */

struct text {
    char *buf;
    size_t len, cap;
};

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    /* The buffer is sized up front; running out is a bug in the estimate. */
    if (n < 0 || (size_t)n >= t->cap - t->len)
        abort();
    t->len += (size_t)n;
}

static void
text_key(struct text *t, const char *name, const uint8_t k[static 32])
{
    char hex[65];

    uapi_key_to_hex(hex, k);
    text_printf(t, "%s=%s\n", name, hex);
    sodium_memzero(hex, sizeof(hex));
}

static void
text_allowed_ip(struct text *t, const struct uapi_allowed_ip *ip)
{
    char addr[INET6_ADDRSTRLEN];
    uint8_t masked[16] = { 0 };
    unsigned int bytes_total = ip->family == AF_INET ? 4 : 16;
    unsigned int cidr = ip->cidr > bytes_total * 8 ? bytes_total * 8 : ip->cidr;

    /* Print the network, as wireguard-go's trie does. */
    memcpy(masked, ip->addr, bytes_total);
    for (unsigned int bit = cidr; bit < bytes_total * 8; bit++)
        masked[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    if (!inet_ntop(ip->family, masked, addr, sizeof(addr)))
        return;
    text_printf(t, "allowed_ip=%s/%u\n", addr, cidr);
}

static void
text_endpoint(struct text *t, const union wg_sockaddr *ep)
{
    char addr[INET6_ADDRSTRLEN];

    if (ep->sa.sa_family == AF_INET) {
        if (inet_ntop(AF_INET, &ep->in4.sin_addr, addr, sizeof(addr)))
            text_printf(t, "endpoint=%s:%u\n", addr, ntohs(ep->in4.sin_port));
    } else if (ep->sa.sa_family == AF_INET6) {
        if (!inet_ntop(AF_INET6, &ep->in6.sin6_addr, addr, sizeof(addr)))
            return;
        if (ep->in6.sin6_scope_id) {
            char ifname[IF_NAMESIZE];

            if (if_indextoname(ep->in6.sin6_scope_id, ifname))
                text_printf(t, "endpoint=[%s%%%s]:%u\n", addr, ifname, ntohs(ep->in6.sin6_port));
            else
                text_printf(t, "endpoint=[%s%%%" PRIu32 "]:%u\n", addr, ep->in6.sin6_scope_id,
                            ntohs(ep->in6.sin6_port));
        } else {
            text_printf(t, "endpoint=[%s]:%u\n", addr, ntohs(ep->in6.sin6_port));
        }
    }
}

enum {
    /* Upper bounds of one line each, with slack. */
    FMT_DEVICE_MAX = 160,                     /* private_key, listen_port, fwmark */
    FMT_PEER_MAX = 2 * 80 + 24 + 96 + 6 * 64, /* keys, protocol, endpoint, numbers */
    FMT_ALLOWED_IP_MAX = 16 + INET6_ADDRSTRLEN + 8,
};

char *
uapi_format_get(const struct uapi_device_state *state, size_t *len_out)
{
    struct text t = { 0 };
    size_t cap = FMT_DEVICE_MAX + 1;

    if (len_out)
        *len_out = 0;
    if (!state || (state->n_peers && !state->peers))
        return NULL;
    for (size_t i = 0; i < state->n_peers; i++) {
        const struct uapi_peer_state *peer = &state->peers[i];

        if (peer->n_allowed_ips && !peer->allowed_ips)
            return NULL;
        if (peer->n_allowed_ips > (SIZE_MAX - cap - FMT_PEER_MAX) / FMT_ALLOWED_IP_MAX)
            return NULL;
        cap += FMT_PEER_MAX + peer->n_allowed_ips * FMT_ALLOWED_IP_MAX;
    }
    t.buf = malloc(cap);
    if (!t.buf)
        return NULL;
    t.cap = cap;
    t.buf[0] = '\0';

    if (state->has_private_key && !is_zero32(state->private_key))
        text_key(&t, "private_key", state->private_key);
    if (state->listen_port)
        text_printf(&t, "listen_port=%u\n", state->listen_port);
    if (state->fwmark)
        text_printf(&t, "fwmark=%" PRIu32 "\n", state->fwmark);
    for (size_t i = 0; i < state->n_peers; i++) {
        const struct uapi_peer_state *peer = &state->peers[i];

        text_key(&t, "public_key", peer->public_key);
        text_key(&t, "preshared_key", peer->preshared_key);
        text_printf(&t, "protocol_version=1\n");
        if (peer->has_endpoint)
            text_endpoint(&t, &peer->endpoint);
        text_printf(&t, "last_handshake_time_sec=%" PRId64 "\n", peer->last_handshake_sec);
        text_printf(&t, "last_handshake_time_nsec=%" PRId64 "\n", peer->last_handshake_nsec);
        text_printf(&t, "tx_bytes=%" PRIu64 "\n", peer->tx_bytes);
        text_printf(&t, "rx_bytes=%" PRIu64 "\n", peer->rx_bytes);
        text_printf(&t, "persistent_keepalive_interval=%u\n", peer->keepalive_interval);
        for (size_t j = 0; j < peer->n_allowed_ips; j++)
            text_allowed_ip(&t, &peer->allowed_ips[j]);
    }
    /* Whatever lies past the text was never written; wipe only the text later. */
    if (len_out)
        *len_out = t.len;
    return t.buf;
}

void
uapi_free_text(char *text, size_t len)
{
    if (!text)
        return;
    sodium_memzero(text, len);
    free(text);
}

void
uapi_device_state_clear(struct uapi_device_state *state)
{
    if (!state)
        return;
    free_peers(state->peers, state->n_peers, sizeof(*state->peers),
               offsetof(struct uapi_peer_state, allowed_ips));
    sodium_memzero(state, sizeof(*state));
}
