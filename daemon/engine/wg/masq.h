/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Masquerade addresses (tailcfg.Node SelfNodeV4MasqAddrForThisPeer and
 * SelfNodeV6MasqAddrForThisPeer, capability versions 59, 77 and 104): towards
 * one peer this node is known by another address (a shared node, or a peer
 * whose tailnet numbers us differently). Packets to that peer leave with the
 * masquerade address as source, and its packets to that address come in
 * with our own address as destination, as Tailscale's net/tstun/wrap.go
 * (peerConfigTable.snat / dnat) rewrites them:
 *  - only our own address is rewritten on the way out (a packet we forward
 *    as a subnet router or exit node keeps its source);
 *  - the IPv4 header checksum and the TCP, UDP (v4: unless 0, "none") and
 *    ICMPv6 checksums over the pseudo-header are updated incrementally
 *    (RFC 1624); ICMPv4 has none. Non-first fragments carry no transport
 *    header and are left alone. Simple IPv6 extension headers (hop-by-hop,
 *    routing, destination options, fragment) are walked to find the
 *    transport header;
 *  - every length is checked against the packet's: a truncated packet gets
 *    its address rewritten and no transport checksum touched.
 */
struct wg_masq {
    bool has4, has6;
    uint8_t addr4[4];
    uint8_t addr6[16];
};

/* Rewrite the source (is_dst false) or destination address of the IPv4/IPv6
 * packet pkt[0..len) to `to` if it is `from` now. from/to are 4 bytes for
 * an IPv4 packet, 16 for IPv6 (family: 4 or 6 must match the packet's
 * version). Returns true if the packet was rewritten. */
bool wg_masq_rewrite(uint8_t *pkt, size_t len, int version, bool is_dst, const uint8_t *from,
                     const uint8_t *to);

/* TX towards a peer with masq: our native source → its masquerade address. */
bool wg_masq_snat(uint8_t *pkt, size_t len, const struct wg_masq *native,
                  const struct wg_masq *masq);
/* RX from a peer with masq: its masquerade destination → our native address. */
bool wg_masq_dnat(uint8_t *pkt, size_t len, const struct wg_masq *native,
                  const struct wg_masq *masq);
