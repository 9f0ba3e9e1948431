/* SPDX-License-Identifier: MIT */
/*
 * IPv4/IPv6 parsing for the filter. The rules on fragments and short
 * transport headers are Tailscale's (net/packet/packet.go decode4, decode6,
 * decode6Fragment, read for this): a first fragment must hold its whole
 * transport header, a later fragment must start at or past 80 bytes (the
 * largest IPv4 header plus a TCP header, RFC 1858), else the packet is junk.
 */
#include "filter/filter.h"
#include "filter/pf-private.h"

#include <errno.h>
#include <string.h>

enum {
    IP4_HDR = 20,
    IP6_HDR = 40,
    TCP_HDR = 20,
    UDP_HDR = 8,
    SCTP_HDR = 12,
    ICMP_HDR = 4, /* type, code, checksum */
    IGMP_HDR = 8,
    TSMP_MIN = 7, /* a reject, the smallest TSMP message */
    MIN_FRAG_BLOCKS = (60 + 20) / 8,
};

static inline uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The transport header at off, inside ip_len bytes. 0 or -EINVAL. */
static int
parse_transport(const uint8_t *pkt, struct pf_packet *p, bool more_fragments)
{
    size_t room = p->ip_len - p->l4_off;
    const uint8_t *t = pkt + p->l4_off;

    switch (p->proto) {
    case PF_PROTO_TCP:
        if (room < TCP_HDR)
            return -EINVAL;
        p->sport = be16(t);
        p->dport = be16(t + 2);
        p->tcp_flags = t[13];
        return 0;
    case PF_PROTO_UDP:
        if (room < UDP_HDR)
            return -EINVAL;
        p->sport = be16(t);
        p->dport = be16(t + 2);
        return 0;
    case PF_PROTO_SCTP:
        if (room < SCTP_HDR)
            return -EINVAL;
        p->sport = be16(t);
        p->dport = be16(t + 2);
        return 0;
    case PF_PROTO_ICMP4:
    case PF_PROTO_ICMP6:
        if ((p->proto == PF_PROTO_ICMP4) != (p->version == 4))
            return 0; /* ICMPv4 in IPv6 (or the reverse): just another protocol */
        if (room < ICMP_HDR)
            return -EINVAL;
        p->icmp_type = t[0];
        p->icmp_code = t[1];
        return 0;
    case PF_PROTO_IGMP:
        return room < IGMP_HDR ? -EINVAL : 0;
    case PF_PROTO_TSMP:
        /* Never fragmented (Tailscale refuses fragmented TSMP outright). */
        return more_fragments || room < TSMP_MIN ? -EINVAL : 0;
    case PF_PROTO_LATER_FRAGMENT:
        return -EINVAL; /* our sentinel on the wire: someone is playing games */
    default:
        return 0;
    }
}

static int
parse4(const uint8_t *pkt, size_t len, struct pf_packet *p)
{
    size_t ihl, tot;
    uint16_t frag;

    if (len < IP4_HDR)
        return -EINVAL;
    ihl = (size_t)(pkt[0] & 0x0f) * 4;
    tot = be16(pkt + 2);
    if (ihl < IP4_HDR || tot < ihl || tot > len)
        return -EINVAL;
    p->version = 4;
    p->addr_len = 4;
    p->src = pkt + 12;
    p->dst = pkt + 16;
    p->proto = pkt[9];
    p->ip_len = (uint16_t)tot;
    p->l4_off = (uint16_t)ihl;
    frag = be16(pkt + 6);
    if ((frag & 0x1fff) != 0) {
        if ((frag & 0x1fff) < MIN_FRAG_BLOCKS)
            return -EINVAL;
        p->proto = PF_PROTO_LATER_FRAGMENT;
        return 0;
    }
    p->first_fragment = (frag & 0x2000) != 0;
    return parse_transport(pkt, p, p->first_fragment);
}

static int
parse6(const uint8_t *pkt, size_t len, struct pf_packet *p)
{
    size_t tot, off = IP6_HDR;
    uint8_t nh;
    bool seen_frag = false;

    if (len < IP6_HDR)
        return -EINVAL;
    tot = (size_t)be16(pkt + 4) + IP6_HDR;
    if (tot > len || tot > 65535)
        return -EINVAL;
    p->version = 6;
    p->addr_len = 16;
    p->src = pkt + 8;
    p->dst = pkt + 24;
    p->ip_len = (uint16_t)tot;
    nh = pkt[6];
    for (int n = 0;; n++) {
        if (nh != PF_PROTO_HOPOPTS && nh != PF_PROTO_ROUTING && nh != PF_PROTO_DSTOPTS &&
            nh != PF_PROTO_FRAGMENT)
            break;
        if (n == PF_MAX_EXT_HEADERS || off + 8 > tot)
            return -EINVAL;
        if (nh == PF_PROTO_FRAGMENT) {
            uint16_t blocks = be16(pkt + off + 2) >> 3;

            if (seen_frag)
                return -EINVAL;
            seen_frag = true;
            nh = pkt[off];
            off += 8;
            if (blocks != 0) {
                if (blocks < MIN_FRAG_BLOCKS)
                    return -EINVAL;
                p->proto = PF_PROTO_LATER_FRAGMENT;
                p->l4_off = (uint16_t)off;
                return 0;
            }
            p->first_fragment = (pkt[off - 8 + 3] & 1) != 0;
            continue;
        }
        nh = pkt[off];
        off += ((size_t)pkt[off + 1] + 1) * 8;
        if (off > tot)
            return -EINVAL;
    }
    p->proto = nh;
    p->l4_off = (uint16_t)off;
    return parse_transport(pkt, p, p->first_fragment);
}

int
pf_parse(const uint8_t *pkt, size_t len, struct pf_packet *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return -EINVAL;
    switch (pkt[0] >> 4) {
    case 4:
        return parse4(pkt, len, out);
    case 6:
        return parse6(pkt, len, out);
    default:
        return -EINVAL;
    }
}
