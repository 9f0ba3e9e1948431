/* SPDX-License-Identifier: MIT */
#include "wg/masq.h"

#include <string.h>

enum { PROTO_TCP = 6, PROTO_UDP = 17, PROTO_ICMPV6 = 58 };

/* RFC 1624 eqn. 3 over an address: HC' = ~(~HC + ~m + m') word by word.
 * udp: the field is a UDP checksum (4: over IPv4, 6: over IPv6), where 0
 * means "none" (v4) or is sent as 0xffff (RFC 768, RFC 8200 §8.1). */
static void
checksum_update(uint8_t *field, const uint8_t *old, const uint8_t *new, size_t n, int udp)
{
    uint32_t sum = (uint16_t) ~(field[0] << 8 | field[1]);
    uint16_t out;
    size_t i;

    if (udp == 4 && field[0] == 0 && field[1] == 0)
        return; /* UDP over IPv4 without a checksum stays without */
    for (i = 0; i + 1 < n; i += 2) {
        sum += (uint16_t) ~(old[i] << 8 | old[i + 1]);
        sum += (uint16_t)(new[i] << 8 | new[i + 1]);
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    out = (uint16_t)~sum;
    if (udp && out == 0)
        out = 0xffff;
    field[0] = out >> 8;
    field[1] = out & 0xff;
}

/* Offset of the transport header and its protocol; false when there is
 * none to fix (a later fragment, an unknown extension header, too short). */
static bool
transport_v4(const uint8_t *pkt, size_t len, size_t *off, uint8_t *proto)
{
    size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;

    if (ihl < 20 || ihl > len)
        return false;
    if (((pkt[6] & 0x1f) << 8 | pkt[7]) != 0)
        return false;
    *off = ihl;
    *proto = pkt[9];
    return true;
}

static bool
transport_v6(const uint8_t *pkt, size_t len, size_t *off, uint8_t *proto)
{
    uint8_t next = pkt[6];
    size_t at = 40;
    int hops;

    for (hops = 0; hops < 8; hops++) {
        switch (next) {
        case 0:  /* hop-by-hop */
        case 43: /* routing */
        case 60: /* destination options */
            if (at + 8 > len)
                return false;
            next = pkt[at];
            at += ((size_t)pkt[at + 1] + 1) * 8;
            break;
        case 44: /* fragment: only the first carries the transport header */
            if (at + 8 > len || ((pkt[at + 2] << 8 | pkt[at + 3]) & 0xfff8) != 0)
                return false;
            next = pkt[at];
            at += 8;
            break;
        default:
            if (at > len)
                return false;
            *off = at;
            *proto = next;
            return true;
        }
    }
    return false;
}

bool
wg_masq_rewrite(uint8_t *pkt, size_t len, int version, bool is_dst, const uint8_t *from,
                const uint8_t *to)
{
    size_t alen = version == 4 ? 4 : 16, aoff, off;
    uint8_t proto;
    uint8_t *addr;

    if (version == 4 && len >= 20 && pkt[0] >> 4 == 4)
        aoff = is_dst ? 16 : 12;
    else if (version == 6 && len >= 40 && pkt[0] >> 4 == 6)
        aoff = is_dst ? 24 : 8;
    else
        return false;
    addr = pkt + aoff;
    if (memcmp(addr, from, alen) != 0 || memcmp(from, to, alen) == 0)
        return false;
    if (version == 4)
        checksum_update(pkt + 10, addr, to, alen, 0);
    if (version == 4 ? transport_v4(pkt, len, &off, &proto)
                     : transport_v6(pkt, len, &off, &proto)) {
        if (proto == PROTO_TCP && off + 18 <= len)
            checksum_update(pkt + off + 16, addr, to, alen, 0);
        else if (proto == PROTO_UDP && off + 8 <= len)
            checksum_update(pkt + off + 6, addr, to, alen, version);
        else if (proto == PROTO_ICMPV6 && version == 6 && off + 4 <= len)
            checksum_update(pkt + off + 2, addr, to, alen, 0);
    }
    memcpy(addr, to, alen);
    return true;
}

bool
wg_masq_snat(uint8_t *pkt, size_t len, const struct wg_masq *native, const struct wg_masq *masq)
{
    if (len >= 1 && pkt[0] >> 4 == 4 && native->has4 && masq->has4)
        return wg_masq_rewrite(pkt, len, 4, false, native->addr4, masq->addr4);
    if (len >= 1 && pkt[0] >> 4 == 6 && native->has6 && masq->has6)
        return wg_masq_rewrite(pkt, len, 6, false, native->addr6, masq->addr6);
    return false;
}

bool
wg_masq_dnat(uint8_t *pkt, size_t len, const struct wg_masq *native, const struct wg_masq *masq)
{
    if (len >= 1 && pkt[0] >> 4 == 4 && native->has4 && masq->has4)
        return wg_masq_rewrite(pkt, len, 4, true, masq->addr4, native->addr4);
    if (len >= 1 && pkt[0] >> 4 == 6 && native->has6 && masq->has6)
        return wg_masq_rewrite(pkt, len, 6, true, masq->addr6, native->addr6);
    return false;
}
