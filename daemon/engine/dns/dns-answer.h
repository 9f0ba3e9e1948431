/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"
#include "dns/dns-msg.h"

/*
 * Building DNS answers (RFC 1035 §4.1) to a parsed query, the way Tailscale's
 * MagicDNS answers (net/dns/resolver/tsdns.go, marshalResponse): QR and AA
 * set, RA when the query asked for recursion, RD and CD copied, the question
 * echoed byte for byte as received, records owned by the question's name (a
 * pointer to it), TTL DNS_TTL_POSITIVE; a negative answer (NXDOMAIN, or
 * NOERROR without records) carries, when the caller names the zone it is
 * authoritative for, that zone's SOA in the authority section with TTLs
 * DNS_TTL_NEGATIVE, so resolvers bound their negative caching (RFC 2308).
 * When the query had an OPT, the answer has one (our size DNS_OUR_UDP_SIZE,
 * the DO bit copied, version 0).
 *
 * Size: an answer never exceeds max_len. If the whole answer does not fit,
 * its records are left out and TC is set (RFC 2181 §9): the client retries
 * over TCP, and MagicDNS does not serve TCP (no port 53 is bound on the
 * host), so such a name does not resolve over MagicDNS with that client's
 * buffer size; Tailscale's limit is the same (checkResponseSizeAndSetTC in
 * net/dns/resolver/forwarder.go).
 */
enum {
    DNS_TTL_POSITIVE = 5,         /* tsdns.go defaultTTL (v1.102.5) */
    DNS_TTL_NEGATIVE = 10,        /* tsdns.go negativeTTL: SOA TTL and its MINIMUM */
    DNS_OUR_UDP_SIZE = 1232,      /* what our OPT offers: 1280 (tunnel MTU) − IPv6 − UDP */
    DNS_ANSWER_MAX = DNS_UDP_MAX, /* no answer we build is longer */
};

/* What to answer. Records are built from the fields that apply to the type. */
struct dns_reply {
    uint8_t rcode; /* enum dns_rcode, BADVERS included */
    /* A / AAAA records: each address becomes an A (IPv4) or an AAAA (IPv6). */
    const struct ip_addr *addrs;
    size_t n_addrs;
    /* A PTR record to this normalised name, when not NULL. */
    const char *ptr_name;
    /* Negative answers: the SOA of this normalised zone goes into the
     * authority section (NULL: none). Ignored for answers with records. */
    const char *soa_zone;
};

/*
 * Build the answer to q into out (cap bytes; DNS_ANSWER_MAX always suffices).
 * max_len: the most the transport takes (the tunnel MTU less the IP and UDP
 * headers, dns-packet.h); the answer is also kept within q->udp_size.
 * Works for any parse result but DNS_PARSE_DROP (its rcode is then what the
 * reply says). Returns the answer's length, or 0 if cap is below even the
 * header and question.
 */
size_t dns_answer_build(const struct dns_query *q, const struct dns_reply *reply, size_t max_len,
                        uint8_t *out, size_t cap);

/* An answer of only an rcode (FORMERR, SERVFAIL, NOTIMP, REFUSED, ...). */
size_t dns_answer_error(const struct dns_query *q, uint8_t rcode, size_t max_len, uint8_t *out,
                        size_t cap);

/*
 * Fit someone else's answer (an upstream resolver's, forwarded) into max_len
 * bytes for a client: a message already within max_len is left as is;
 * a longer one is cut to its header and question, counts fixed, TC set
 * (the client retries over TCP). msg is edited in place. Returns the new
 * length, or 0 when msg is not an answer we can cut (no header, QDCOUNT ≠ 1,
 * malformed question): then drop it.
 */
size_t dns_answer_fit(uint8_t *msg, size_t len, size_t max_len);
