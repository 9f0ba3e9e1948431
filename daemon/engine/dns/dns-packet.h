/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"

/*
 * The IP/UDP wrapping of MagicDNS: the runner hands over whole IP packets
 * read from the TUN addressed to the service (100.100.100.100:53 or
 * [fd7a:115c:a1e0::53]:53, net/tsaddr TailscaleServiceIP/IPv6); the answer
 * goes back into the TUN as an IP packet from the service address to the
 * querier. Nothing is bound on the host.
 *
 * Parsing checks every length: IPv4 version, IHL ≥ 5 and within the packet,
 * total length within the packet (trailing bytes ignored), no fragments
 * (MF or an offset: refused, a stub resolver's query never needs them);
 * IPv6 payload length within the packet, the extension headers hop-by-hop,
 * routing and destination options skipped (at most DNS_PACKET_MAX_EXT),
 * a fragment header or anything else before UDP refused; UDP length ≥ 8
 * and within the IP payload. Checksums are not verified (the packet comes
 * from our own host's TUN; Tailscale does not check them either).
 *
 * Answers carry a valid IPv4 header checksum and UDP checksum (mandatory
 * for IPv6). The tunnel MTU is DNS_PACKET_MTU (Tailscale's default TUN MTU,
 * net/tstun/mtu.go): an answer payload longer than
 * dns_packet_max_payload() must be cut first (dns_answer_build does it for
 * ours, dns_answer_fit for forwarded ones: TC, and the client retries over
 * TCP, which MagicDNS does not serve).
 */
enum {
    DNS_PACKET_MTU = 1280,
    DNS_PACKET_MAX_EXT = 8,
    DNS_PACKET_IPV4_HDR = 20,
    DNS_PACKET_IPV6_HDR = 40,
    DNS_PACKET_UDP_HDR = 8,
    DNS_PACKET_TTL = 64, /* IPv4 TTL / IPv6 hop limit of answers */
};

extern const struct ip_addr dns_service_v4; /* 100.100.100.100 */
extern const struct ip_addr dns_service_v6; /* fd7a:115c:a1e0::53 */

bool dns_is_service_addr(const struct ip_addr *a);

struct dns_packet {
    struct ip_port src;     /* the querier */
    struct ip_port dst;     /* the service address, port 53 */
    const uint8_t *payload; /* the DNS message, inside the packet given */
    size_t payload_len;
};

/*
 * Parse a UDP/IP packet to the service address and port 53. 0; -EINVAL for a
 * malformed or truncated packet (or fragments, or an unknown extension
 * header); -ENOENT for a well-formed packet that is not UDP to the service
 * address's port 53 (not ours).
 */
int dns_packet_parse(const uint8_t *pkt, size_t len, struct dns_packet *out);

/* The longest DNS payload an answer to q may have within mtu (at least
 * the IP and UDP headers; DNS_PACKET_MTU for the tunnel). */
size_t dns_packet_max_payload(const struct dns_packet *q, size_t mtu);

/*
 * The answer packet for q: from q->dst to q->src, the DNS payload given
 * (ours or an upstream's). Writes into out (cap bytes) and returns the
 * packet's length, or 0 when it does not fit in cap or exceeds 65535. The
 * payload may already be anywhere in out (its place is out + the IP header
 * + 8): it is moved before the headers are written.
 */
size_t dns_packet_build_reply(const struct dns_packet *q, const uint8_t *payload, size_t len,
                              uint8_t *out, size_t cap);
