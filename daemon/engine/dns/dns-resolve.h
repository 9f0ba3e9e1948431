/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"
#include "dns/dns-answer.h"
#include "dns/dns-msg.h"
#include "dns/dns-records.h"

/*
 * What MagicDNS does with one query, after Tailscale's tsdns.go (respond,
 * resolveLocal, resolveLocalReverse; v1.102.5):
 *  - malformed → FORMERR; opcode ≠ QUERY → NOTIMP; EDNS version > 0 →
 *    BADVERS; a response, or less than a header → dropped;
 *  - PTR of an in-addr.arpa / ip6.arpa name: the table's name for that
 *    address; 100.100.100.100 and fd7a:115c:a1e0::53 are
 *    "magicdns.localhost-tailscale-daemon"; not found under an authoritative
 *    zone → NXDOMAIN; otherwise (and for DNS-SD's b/db/r/dr/lb._dns-sd._udp
 *    names, or names that are not well-formed reverse names) forwarded;
 *  - "*.onion" → NXDOMAIN (RFC 7686);
 *  - "magicdns.localhost-tailscale-daemon" → the service addresses;
 *  - a name in the table (or under a subdomain host, or a single label
 *    found under a search domain):
 *    A → its IPv4 addresses, AAAA → its IPv6 ones, ANY → both; none of that
 *    family → NOERROR without records (the name exists); NS, SOA, AXFR,
 *    HINFO → NOTIMP; any other type → NOERROR without records;
 *  - not in the table, under an authoritative zone → NXDOMAIN;
 *  - anything else → forward (the caller picks an upstream: split route,
 *    default resolvers, or SERVFAIL when there is none).
 * Negative answers under a zone carry its SOA (dns-answer.h).
 * Not done: Tailscale's 4via6 names and its 6-to-4 PTR mapping.
 */
#define DNS_SYMBOLIC_NAME "magicdns.localhost-tailscale-daemon"

enum dns_verdict {
    DNS_VERDICT_DROP = 0, /* no answer at all */
    DNS_VERDICT_ANSWER,   /* reply holds the answer (it may point into the table) */
    DNS_VERDICT_FORWARD,  /* not ours: send the query payload upstream */
};

struct dns_decision {
    enum dns_verdict verdict;
    struct dns_reply reply;
    struct ip_addr scratch[2]; /* for answers not held by the table */
};

/* Decide for a parsed query (parse is what dns_query_parse returned). t may
 * be NULL (no table yet: everything well-formed is forwarded). The decision
 * may point into t and into itself: keep both alive while it is used. */
void dns_decide(const struct dns_table *t, enum dns_parse_result parse, const struct dns_query *q,
                struct dns_decision *d);

/*
 * Parse, decide and, when local, build the answer in one: the query payload
 * msg → *q; the answer into out (cap bytes, DNS_ANSWER_MAX suffices; at most
 * max_len, see dns_answer_build) with its length in *out_len when the
 * verdict is DNS_VERDICT_ANSWER.
 */
enum dns_verdict dns_respond(const struct dns_table *t, const uint8_t *msg, size_t len,
                             size_t max_len, struct dns_query *q, uint8_t *out, size_t cap,
                             size_t *out_len);

/* 4.3.2.1.in-addr.arpa / the 32 nibbles of ip6.arpa → the address. A
 * normalised name; false unless exactly that shape. */
bool dns_reverse_name_parse(const char *name, size_t len, struct ip_addr *out);

/* The reverse name of an address (normalised, no trailing dot), as the
 * inverse of dns_reverse_name_parse; out has DNS_NAME_TEXT_MAX + 1 bytes.
 * Returns its length. */
size_t dns_reverse_name_format(const struct ip_addr *a, char out[DNS_NAME_TEXT_MAX + 1]);
