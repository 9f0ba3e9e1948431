/* SPDX-License-Identifier: MIT */
/*
 * MagicDNS's IP/UDP wrapping (dns-packet.h): a query packet from the TUN in,
 * an answer packet with checksums out.
 */
#include "dns/dns-packet.h"

#include <errno.h>
#include <string.h>

#include "dns/dns-msg.h"

const struct ip_addr dns_service_v4 = { .family = AF_INET, .bytes = { 100, 100, 100, 100 } };
const struct ip_addr dns_service_v6 = {
    .family = AF_INET6,
    .bytes = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 },
};

enum {
    PROTO_HOPOPTS = 0,
    PROTO_UDP = 17,
    PROTO_ROUTING = 43,
    PROTO_FRAGMENT = 44,
    PROTO_DSTOPTS = 60,
};

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void
set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

bool
dns_is_service_addr(const struct ip_addr *a)
{
    if (a->family == AF_INET)
        return memcmp(a->bytes, dns_service_v4.bytes, 4) == 0;
    return a->family == AF_INET6 && memcmp(a->bytes, dns_service_v6.bytes, 16) == 0;
}

static void
set_addr(struct ip_addr *a, int family, const uint8_t *p)
{
    memset(a, 0, sizeof(*a));
    a->family = (uint8_t)family;
    memcpy(a->bytes, p, family == AF_INET ? 4 : 16);
}

/* The UDP datagram at p[0..len) (the IP payload). */
static int
parse_udp(const uint8_t *p, size_t len, struct dns_packet *out)
{
    size_t ulen;

    if (len < DNS_PACKET_UDP_HDR)
        return -EINVAL;
    ulen = get16(p + 4);
    if (ulen < DNS_PACKET_UDP_HDR || ulen > len)
        return -EINVAL;
    out->src.port = get16(p);
    out->dst.port = get16(p + 2);
    if (out->dst.port != DNS_PORT)
        return -ENOENT;
    out->payload = p + DNS_PACKET_UDP_HDR;
    out->payload_len = ulen - DNS_PACKET_UDP_HDR;
    return 0;
}

static int
parse_v4(const uint8_t *pkt, size_t len, struct dns_packet *out)
{
    size_t ihl, total;

    if (len < DNS_PACKET_IPV4_HDR)
        return -EINVAL;
    ihl = (size_t)(pkt[0] & 0xf) * 4;
    total = get16(pkt + 2);
    if (ihl < DNS_PACKET_IPV4_HDR || total < ihl || total > len)
        return -EINVAL;
    if (get16(pkt + 6) & 0x3fff) /* MF, or a fragment offset */
        return -EINVAL;
    set_addr(&out->src.addr, AF_INET, pkt + 12);
    set_addr(&out->dst.addr, AF_INET, pkt + 16);
    if (pkt[9] != PROTO_UDP || !dns_is_service_addr(&out->dst.addr))
        return -ENOENT;
    return parse_udp(pkt + ihl, total - ihl, out);
}

static int
parse_v6(const uint8_t *pkt, size_t len, struct dns_packet *out)
{
    size_t total, off = DNS_PACKET_IPV6_HDR;
    uint8_t next;

    if (len < DNS_PACKET_IPV6_HDR)
        return -EINVAL;
    total = DNS_PACKET_IPV6_HDR + get16(pkt + 4);
    if (total > len)
        return -EINVAL;
    set_addr(&out->src.addr, AF_INET6, pkt + 8);
    set_addr(&out->dst.addr, AF_INET6, pkt + 24);
    next = pkt[6];
    for (int n = 0; next != PROTO_UDP; n++) {
        size_t hlen;

        if (next == PROTO_FRAGMENT || n >= DNS_PACKET_MAX_EXT)
            return -EINVAL;
        if (next != PROTO_HOPOPTS && next != PROTO_ROUTING && next != PROTO_DSTOPTS)
            return -ENOENT; /* TCP, ICMPv6, ESP, …: not a UDP query */
        if (total - off < 8)
            return -EINVAL;
        hlen = ((size_t)pkt[off + 1] + 1) * 8;
        if (total - off < hlen)
            return -EINVAL;
        next = pkt[off];
        off += hlen;
    }
    if (!dns_is_service_addr(&out->dst.addr))
        return -ENOENT;
    return parse_udp(pkt + off, total - off, out);
}

int
dns_packet_parse(const uint8_t *pkt, size_t len, struct dns_packet *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 1)
        return -EINVAL;
    switch (pkt[0] >> 4) {
    case 4:
        return parse_v4(pkt, len, out);
    case 6:
        return parse_v6(pkt, len, out);
    default:
        return -EINVAL;
    }
}

static size_t
ip_header_len(const struct dns_packet *q)
{
    return q->src.addr.family == AF_INET ? DNS_PACKET_IPV4_HDR : DNS_PACKET_IPV6_HDR;
}

size_t
dns_packet_max_payload(const struct dns_packet *q, size_t mtu)
{
    size_t hdrs = ip_header_len(q) + DNS_PACKET_UDP_HDR;

    return mtu > hdrs ? mtu - hdrs : 0;
}

/* The one's complement sum (RFC 1071), not yet folded. */
static uint32_t
sum_bytes(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t
fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t
dns_packet_build_reply(const struct dns_packet *q, const uint8_t *payload, size_t len, uint8_t *out,
                       size_t cap)
{
    bool v4 = q->src.addr.family == AF_INET;
    size_t alen = v4 ? 4 : 16, ihl = ip_header_len(q);
    size_t ulen = DNS_PACKET_UDP_HDR + len, total = ihl + ulen;
    uint8_t *udp = out + ihl;
    uint32_t sum;
    uint16_t csum;

    if ((q->src.addr.family != AF_INET && q->src.addr.family != AF_INET6) || total > cap ||
        total > 0xffff || (!v4 && ulen > 0xffff))
        return 0;
    /* The payload first: it may already sit where it goes (out + ihl + 8). */
    memmove(udp + DNS_PACKET_UDP_HDR, payload, len);
    memset(out, 0, ihl);
    if (v4) {
        out[0] = 0x45;
        set16(out + 2, (uint16_t)total);
        out[8] = DNS_PACKET_TTL;
        out[9] = PROTO_UDP;
        memcpy(out + 12, q->dst.addr.bytes, 4);
        memcpy(out + 16, q->src.addr.bytes, 4);
        set16(out + 10, fold(sum_bytes(0, out, DNS_PACKET_IPV4_HDR)));
    } else {
        out[0] = 0x60;
        set16(out + 4, (uint16_t)ulen);
        out[6] = PROTO_UDP;
        out[7] = DNS_PACKET_TTL;
        memcpy(out + 8, q->dst.addr.bytes, 16);
        memcpy(out + 24, q->src.addr.bytes, 16);
    }
    set16(udp, q->dst.port);
    set16(udp + 2, q->src.port);
    set16(udp + 4, (uint16_t)ulen);
    set16(udp + 6, 0);
    /* Pseudo-header: source, destination, protocol, UDP length. */
    sum = sum_bytes(0, q->dst.addr.bytes, alen);
    sum = sum_bytes(sum, q->src.addr.bytes, alen);
    sum += PROTO_UDP + (uint32_t)ulen;
    sum = sum_bytes(sum, udp, ulen);
    csum = fold(sum);
    set16(udp + 6, csum ? csum : 0xffff); /* 0 means "no checksum" (RFC 768) */
    return total;
}
