/* SPDX-License-Identifier: MIT */
/*
 * STUN binding requests and responses (RFC 5389 §6 header, §15.1-2 and
 * §15.5 attributes; Tailscale's use of them: net/stun/stun.go). Requests
 * carry SOFTWARE "tailnode" (8 bytes: no padding) and FINGERPRINT last, as
 * Tailscale's and headscale's servers demand; responses are read like
 * stun.ParseResponse: XOR-MAPPED-ADDRESS (0x0020, or the 0x8020 some servers
 * send) wins over MAPPED-ADDRESS, the last of a kind wins, bytes after the
 * header's message length are ignored and a malformed attribute list fails
 * the whole message.
 */
#include <errno.h>
#include <string.h>

#include "magicsock/stun.h"

enum {
    STUN_BINDING_REQUEST = 0x0001,
    STUN_BINDING_SUCCESS = 0x0101,
    STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    STUN_ATTR_XOR_MAPPED_ADDRESS_ALT = 0x8020,
    STUN_ATTR_SOFTWARE = 0x8022,
    STUN_ATTR_FINGERPRINT = 0x8028,
    STUN_FINGERPRINT_ATTR_LEN = 8, /* type, length, CRC */
    STUN_FAMILY_IPV4 = 0x01,
    STUN_FAMILY_IPV6 = 0x02,
};

#define STUN_COOKIE          0x2112a442u
#define STUN_FINGERPRINT_XOR 0x5354554eu
#define STUN_SOFTWARE        "tailnode"

static const uint8_t cookie_bytes[4] = { 0x21, 0x12, 0xa4, 0x42 };

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

/* CRC-32 (IEEE 802.3, reflected, as zlib and ISO-HDLC), a nibble table: small and plenty fast. */
static uint32_t
crc32_ieee(const uint8_t *p, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        c = (c >> 4) ^ nibble[c & 15];
        c = (c >> 4) ^ nibble[c & 15];
    }
    return c ^ 0xffffffffu;
}

static uint32_t
fingerprint(const uint8_t *p, size_t len)
{
    return crc32_ieee(p, len) ^ STUN_FINGERPRINT_XOR;
}

bool
stun_looks_like(const uint8_t *p, size_t len)
{
    return len >= STUN_HEADER_LEN && (p[0] & 0xc0) == 0 && p[1] == 0x01 &&
           memcmp(p + 4, cookie_bytes, 4) == 0;
}

static void
put_header(uint8_t *out, uint16_t type, uint16_t attrs_len, const uint8_t txid[STUN_TXID_LEN])
{
    put_be16(out, type);
    put_be16(out + 2, attrs_len);
    put_be32(out + 4, STUN_COOKIE);
    memcpy(out + 8, txid, STUN_TXID_LEN);
}

size_t
stun_build_request(uint8_t out[STUN_REQUEST_MAX], const uint8_t txid[STUN_TXID_LEN])
{
    const size_t sw_len = sizeof(STUN_SOFTWARE) - 1;
    size_t n = STUN_HEADER_LEN;

    put_header(out, STUN_BINDING_REQUEST, (uint16_t)(4 + sw_len + STUN_FINGERPRINT_ATTR_LEN), txid);
    put_be16(out + n, STUN_ATTR_SOFTWARE);
    put_be16(out + n + 2, (uint16_t)sw_len);
    memcpy(out + n + 4, STUN_SOFTWARE, sw_len);
    n += 4 + sw_len;
    /* The CRC covers everything before the attribute, with the final length already in the header.
     */
    put_be16(out + n, STUN_ATTR_FINGERPRINT);
    put_be16(out + n + 2, 4);
    put_be32(out + n + 4, fingerprint(out, n));
    return n + STUN_FINGERPRINT_ATTR_LEN;
}

/*
 * The message a header announces: the header's type must be `type`, and its
 * length must fit in len (bytes after it are ignored) and be a multiple of 4.
 * Returns the message's length, or 0 when it is none.
 */
static size_t
message_len(const uint8_t *p, size_t len, uint16_t type)
{
    size_t attrs_len;

    if (len < STUN_HEADER_LEN || get_be16(p) != type || get_be32(p + 4) != STUN_COOKIE)
        return 0;
    attrs_len = get_be16(p + 2);
    if (attrs_len % 4 != 0 || attrs_len > len - STUN_HEADER_LEN)
        return 0;
    return STUN_HEADER_LEN + attrs_len;
}

/*
 * The next attribute at *off in a message of msg_len bytes: its type, value
 * and value length; *off moves past its padding. 0 at the end, 1 for an
 * attribute, -EPROTO when it runs past the message.
 */
static int
next_attr(const uint8_t *p, size_t msg_len, size_t *off, uint16_t *type, const uint8_t **val,
          size_t *val_len)
{
    size_t n, padded;

    if (*off == msg_len)
        return 0;
    if (msg_len - *off < 4)
        return -EPROTO;
    *type = get_be16(p + *off);
    n = get_be16(p + *off + 2);
    padded = (n + 3) & ~(size_t)3;
    if (padded > msg_len - *off - 4)
        return -EPROTO;
    *val = p + *off + 4;
    *val_len = n;
    *off += 4 + padded;
    return 1;
}

int
stun_parse_request(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_LEN])
{
    size_t msg_len = message_len(p, len, STUN_BINDING_REQUEST);
    size_t off = STUN_HEADER_LEN, at;
    const uint8_t *val;
    size_t val_len;
    uint16_t type;
    int r;

    if (!msg_len)
        return -EPROTO;
    for (at = off; (r = next_attr(p, msg_len, &off, &type, &val, &val_len)) == 1; at = off) {
        if (type != STUN_ATTR_FINGERPRINT)
            continue;
        /* RFC 5389 §15.5: the last attribute, over the message before it. */
        if (off != msg_len || val_len != 4 || get_be32(val) != fingerprint(p, at))
            return -EPROTO;
    }
    if (r < 0)
        return -EPROTO;
    memcpy(txid, p + 8, STUN_TXID_LEN);
    return 0;
}

/* An address attribute's value: family(2) ‖ port ‖ address, XORed with the cookie and txid if xor.
 */
static int
read_address(const uint8_t *val, size_t val_len, bool xor, const uint8_t *hdr, union wg_sockaddr *a)
{
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;

    if (val_len < 4)
        return -EPROTO;
    if (val[1] == STUN_FAMILY_IPV4)
        ip_len = 4;
    else if (val[1] == STUN_FAMILY_IPV6)
        ip_len = 16;
    else
        return -EPROTO;
    if (val_len - 4 < ip_len)
        return -EPROTO;
    port = get_be16(val + 2);
    memcpy(ip, val + 4, ip_len);
    if (xor) {
        /* The cookie then the transaction ID: the 16 bytes from the header's offset 4. */
        port ^= (uint16_t)(STUN_COOKIE >> 16);
        for (size_t i = 0; i < ip_len; i++)
            ip[i] ^= hdr[4 + i];
    }
    memset(a, 0, sizeof(*a));
    if (ip_len == 16 && !(memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons(port);
        memcpy(&a->in6.sin6_addr, ip, 16);
    } else {
        /* IPv4, or IPv4-mapped IPv6 (unmapped, as netip.Addr.Unmap). */
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = htons(port);
        memcpy(&a->in4.sin_addr, ip + ip_len - 4, 4);
    }
    return 0;
}

int
stun_parse_response(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_LEN],
                    union wg_sockaddr *mapped)
{
    size_t msg_len = message_len(p, len, STUN_BINDING_SUCCESS);
    size_t off = STUN_HEADER_LEN, val_len;
    union wg_sockaddr xor_addr = { 0 }, plain_addr = { 0 };
    const uint8_t *val;
    uint16_t type;
    int r;

    if (!msg_len)
        return -EPROTO;
    while ((r = next_attr(p, msg_len, &off, &type, &val, &val_len)) == 1) {
        if (type == STUN_ATTR_XOR_MAPPED_ADDRESS || type == STUN_ATTR_XOR_MAPPED_ADDRESS_ALT)
            r = read_address(val, val_len, true, p, &xor_addr);
        else if (type == STUN_ATTR_MAPPED_ADDRESS)
            r = read_address(val, val_len, false, p, &plain_addr);
        if (r < 0)
            return -EPROTO;
    }
    if (r < 0)
        return -EPROTO;
    if (xor_addr.sa.sa_family != AF_UNSPEC)
        *mapped = xor_addr;
    else if (plain_addr.sa.sa_family != AF_UNSPEC)
        *mapped = plain_addr;
    else
        return -EPROTO;
    memcpy(txid, p + 8, STUN_TXID_LEN);
    return 0;
}

size_t
stun_build_response(uint8_t out[STUN_RESPONSE_MAX], const uint8_t txid[STUN_TXID_LEN],
                    const union wg_sockaddr *mapped)
{
    const uint8_t *ip;
    size_t ip_len;
    uint16_t port;
    uint8_t *a = out + STUN_HEADER_LEN;

    if (mapped->sa.sa_family == AF_INET) {
        ip = (const uint8_t *)&mapped->in4.sin_addr;
        ip_len = 4;
        port = ntohs(mapped->in4.sin_port);
    } else if (mapped->sa.sa_family == AF_INET6) {
        ip = (const uint8_t *)&mapped->in6.sin6_addr;
        ip_len = 16;
        port = ntohs(mapped->in6.sin6_port);
    } else {
        return 0;
    }
    put_header(out, STUN_BINDING_SUCCESS, (uint16_t)(8 + ip_len), txid);
    put_be16(a, STUN_ATTR_XOR_MAPPED_ADDRESS);
    put_be16(a + 2, (uint16_t)(4 + ip_len));
    a[4] = 0;
    a[5] = ip_len == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6;
    put_be16(a + 6, port ^ (uint16_t)(STUN_COOKIE >> 16));
    for (size_t i = 0; i < ip_len; i++)
        a[8 + i] = ip[i] ^ out[4 + i];
    return STUN_HEADER_LEN + 8 + ip_len;
}
