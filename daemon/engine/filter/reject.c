/* SPDX-License-Identifier: MIT */
/*
 * What we send back for a dropped bare TCP SYN (filter.h says why both):
 *  - a TSMP reject: IP protocol 99, then '!', the rejected protocol, the
 *    reason, the flow's source and destination ports (big endian), as
 *    net/packet/tsmp.go TailscaleRejectedHeader lays it out; the IPv4 header
 *    as its IP4Header.Marshal writes one (TTL 64, no flags);
 *  - a TCP RST+ACK answering the SYN (RFC 793 "Reset Generation": SEQ 0,
 *    ACK = SYN's sequence + its length), so the sender's kernel fails
 *    connect() with ECONNREFUSED.
 */
#include "filter/filter.h"

#include <string.h>

#include "filter/pf-private.h"

enum {
    IP4_HDR = 20,
    IP6_HDR = 40,
    TCP_HDR = 20,
    TSMP_REJECT_LEN = 7,
};

static void
put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t acc)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        acc += (uint32_t)p[len - 1] << 8;
    return acc;
}

static uint16_t
fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

/* The IP header from the SYN's destination back to its source. Returns its length. */
static size_t
put_ip_reply(uint8_t *out, const struct pf_packet *p, uint8_t proto, size_t payload)
{
    if (p->version == 4) {
        memset(out, 0, IP4_HDR);
        out[0] = 0x45;
        put16(out + 2, (uint32_t)(IP4_HDR + payload));
        out[8] = 64;
        out[9] = proto;
        memcpy(out + 12, p->dst, 4);
        memcpy(out + 16, p->src, 4);
        put16(out + 10, fold(sum16(out, IP4_HDR, 0)));
        return IP4_HDR;
    }
    memset(out, 0, IP6_HDR);
    out[0] = 0x60;
    put16(out + 4, (uint32_t)payload);
    out[6] = proto;
    out[7] = 64;
    memcpy(out + 8, p->dst, 16);
    memcpy(out + 24, p->src, 16);
    return IP6_HDR;
}

/* A parsed bare SYN (not a fragment: the RST must answer a whole segment's header). */
static bool
parse_syn(const uint8_t *pkt, size_t len, struct pf_packet *p)
{
    return pf_parse(pkt, len, p) == 0 && p->proto == PF_PROTO_TCP &&
           (p->tcp_flags & (PF_TCP_SYN | PF_TCP_ACK | PF_TCP_RST)) == PF_TCP_SYN;
}

size_t
pf_build_tcp_rst(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
    struct pf_packet p;
    const uint8_t *syn;
    size_t ip, doff, data = 0;
    uint32_t seq, acc;

    if (!parse_syn(pkt, len, &p) || p.first_fragment)
        return 0;
    ip = p.version == 4 ? IP4_HDR : IP6_HDR;
    if (cap < ip + TCP_HDR)
        return 0;
    syn = pkt + p.l4_off;
    doff = (size_t)(syn[12] >> 4) * 4;
    if (doff >= TCP_HDR && p.l4_off + doff <= p.ip_len)
        data = p.ip_len - p.l4_off - doff; /* a SYN with data (TCP Fast Open) */
    seq = (uint32_t)syn[4] << 24 | (uint32_t)syn[5] << 16 | (uint32_t)syn[6] << 8 | syn[7];

    put_ip_reply(out, &p, PF_PROTO_TCP, TCP_HDR);
    memset(out + ip, 0, TCP_HDR);
    put16(out + ip, p.dport);
    put16(out + ip + 2, p.sport);
    put32(out + ip + 8, seq + 1 + (uint32_t)data);
    out[ip + 12] = (TCP_HDR / 4) << 4;
    out[ip + 13] = PF_TCP_RST | PF_TCP_ACK;
    /* Pseudo-header: addresses, protocol, TCP length. */
    acc = sum16(p.dst, p.addr_len, 0);
    acc = sum16(p.src, p.addr_len, acc);
    acc += PF_PROTO_TCP + TCP_HDR;
    put16(out + ip + 16, fold(sum16(out + ip, TCP_HDR, acc)));
    return ip + TCP_HDR;
}

size_t
pf_build_tsmp_reject(const uint8_t *pkt, size_t len, enum pf_tsmp_reason why, uint8_t *out,
                     size_t cap)
{
    struct pf_packet p;
    size_t ip;

    if (!parse_syn(pkt, len, &p))
        return 0;
    ip = p.version == 4 ? IP4_HDR : IP6_HDR;
    if (cap < ip + TSMP_REJECT_LEN)
        return 0;
    put_ip_reply(out, &p, PF_PROTO_TSMP, TSMP_REJECT_LEN);
    out[ip] = '!';
    out[ip + 1] = PF_PROTO_TCP;
    out[ip + 2] = (uint8_t)why;
    put16(out + ip + 3, p.sport);
    put16(out + ip + 5, p.dport);
    return ip + TSMP_REJECT_LEN;
}
