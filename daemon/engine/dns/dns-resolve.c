/* SPDX-License-Identifier: MIT */
/*
 * The MagicDNS decision (dns-resolve.h): answer from the table, NXDOMAIN
 * under an authoritative zone, or forward; after net/dns/resolver/tsdns.go.
 */
#include "dns/dns-resolve.h"

#include <stdio.h>
#include <string.h>

#include "dns/dns-packet.h"

static const char v4_suffix[] = ".in-addr.arpa";
static const char v6_suffix[] = ".ip6.arpa";

static bool
has_suffix(const char *s, size_t len, const char *suffix, size_t slen)
{
    return len >= slen && memcmp(s + len - slen, suffix, slen) == 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "4.3.2.1": four decimal octets, no leading zeros (as netip.ParseAddr). */
static bool
parse_v4_reversed(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;

    for (int k = 3; k >= 0; k--) {
        unsigned v = 0, digits = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (digits && v == 0)
                return false;
            v = v * 10 + (unsigned)(s[i++] - '0');
            if (++digits > 3 || v > 255)
                return false;
        }
        if (!digits)
            return false;
        out[k] = (uint8_t)v;
        if (k > 0 && (i >= len || s[i++] != '.'))
            return false;
    }
    return i == len;
}

bool
dns_reverse_name_parse(const char *name, size_t len, struct ip_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (has_suffix(name, len, v4_suffix, sizeof(v4_suffix) - 1)) {
        out->family = AF_INET;
        return parse_v4_reversed(name, len - (sizeof(v4_suffix) - 1), out->bytes);
    }
    if (has_suffix(name, len, v6_suffix, sizeof(v6_suffix) - 1) &&
        len - (sizeof(v6_suffix) - 1) == 63) {
        /* 32 nibbles, least significant first, each followed by a dot but the last. */
        for (int i = 0; i < 32; i++) {
            int v = hex_value(name[2 * i]);

            if (v < 0 || (i < 31 && name[2 * i + 1] != '.'))
                return false;
            out->bytes[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
        }
        out->family = AF_INET6;
        return true;
    }
    return false;
}

size_t
dns_reverse_name_format(const struct ip_addr *a, char out[DNS_NAME_TEXT_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (a->family == AF_INET)
        return (size_t)snprintf(out, DNS_NAME_TEXT_MAX + 1, "%u.%u.%u.%u%s", a->bytes[3],
                                a->bytes[2], a->bytes[1], a->bytes[0], v4_suffix);
    if (a->family != AF_INET6) {
        out[0] = '\0';
        return 0;
    }
    for (int i = 15; i >= 0; i--) {
        out[n++] = hex[a->bytes[i] & 0xf];
        out[n++] = '.';
        out[n++] = hex[a->bytes[i] >> 4];
        out[n++] = '.';
    }
    memcpy(out + n, v6_suffix + 1, sizeof(v6_suffix) - 1);
    return n + sizeof(v6_suffix) - 2;
}

/* DNS-SD's browse names (RFC 6763 §11): b, db, r, dr, lb ._dns-sd._udp. */
static bool
is_dnssd_browse(const char *name, size_t len)
{
    static const char *const first[] = { "b.", "db.", "r.", "dr.", "lb." };
    static const char mid[] = "_dns-sd._udp.";

    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        size_t fl = strlen(first[i]);

        if (len > fl + sizeof(mid) - 1 && memcmp(name, first[i], fl) == 0 &&
            memcmp(name + fl, mid, sizeof(mid) - 1) == 0)
            return true;
    }
    return false;
}

static void
answer(struct dns_decision *d, uint8_t rcode)
{
    d->verdict = DNS_VERDICT_ANSWER;
    d->reply.rcode = rcode;
}

static void
decide_ptr(const struct dns_table *t, const struct dns_query *q, struct dns_decision *d)
{
    struct ip_addr a;
    const char *zone;

    if (is_dnssd_browse(q->qname, q->qname_len) ||
        !dns_reverse_name_parse(q->qname, q->qname_len, &a)) {
        d->verdict = DNS_VERDICT_FORWARD;
        return;
    }
    if (dns_is_service_addr(&a)) {
        d->reply.ptr_name = DNS_SYMBOLIC_NAME;
        answer(d, DNS_RCODE_NOERROR);
        return;
    }
    d->reply.ptr_name = dns_table_lookup_addr(t, &a);
    if (d->reply.ptr_name) {
        answer(d, DNS_RCODE_NOERROR);
        return;
    }
    zone = dns_table_zone_for(t, q->qname, q->qname_len);
    if (!zone) {
        d->verdict = DNS_VERDICT_FORWARD;
        return;
    }
    d->reply.soa_zone = zone;
    answer(d, DNS_RCODE_NXDOMAIN);
}

/* The name's records of the query's type (the name exists). */
static void
decide_type(const struct dns_query *q, const struct dns_host *h, struct dns_decision *d)
{
    switch (q->qtype) {
    case DNS_TYPE_A:
        d->reply.addrs = h->v4;
        d->reply.n_addrs = h->n_v4;
        break;
    case DNS_TYPE_AAAA:
        d->reply.addrs = h->v6;
        d->reply.n_addrs = h->n_v6;
        break;
    case DNS_TYPE_ANY:
        /* v4 then v6 lie next to each other in the table (dns-records.c). */
        d->reply.addrs = h->n_v4 ? h->v4 : h->v6;
        d->reply.n_addrs = h->n_v4 + h->n_v6;
        break;
    case DNS_TYPE_NS:
    case DNS_TYPE_SOA:
    case DNS_TYPE_AXFR:
    case DNS_TYPE_HINFO:
        answer(d, DNS_RCODE_NOTIMP);
        return;
    default:
        break;
    }
    answer(d, DNS_RCODE_NOERROR);
}

void
dns_decide(const struct dns_table *t, enum dns_parse_result parse, const struct dns_query *q,
           struct dns_decision *d)
{
    struct dns_host h;

    memset(d, 0, sizeof(*d));
    switch (parse) {
    case DNS_PARSE_DROP:
        d->verdict = DNS_VERDICT_DROP;
        return;
    case DNS_PARSE_FORMERR:
        answer(d, DNS_RCODE_FORMERR);
        return;
    case DNS_PARSE_NOTIMP:
        answer(d, DNS_RCODE_NOTIMP);
        return;
    case DNS_PARSE_BADVERS:
        answer(d, DNS_RCODE_BADVERS);
        return;
    case DNS_PARSE_OK:
        break;
    }
    if (!t) {
        d->verdict = DNS_VERDICT_FORWARD;
        return;
    }
    if (q->qtype == DNS_TYPE_PTR) {
        decide_ptr(t, q, d);
        return;
    }
    if (has_suffix(q->qname, q->qname_len, ".onion", 6)) { /* under it (dnsname.HasSuffix) */
        answer(d, DNS_RCODE_NXDOMAIN);
        return;
    }
    if (q->qname_len == sizeof(DNS_SYMBOLIC_NAME) - 1 &&
        memcmp(q->qname, DNS_SYMBOLIC_NAME, q->qname_len) == 0) {
        d->scratch[0] = dns_service_v4;
        d->scratch[1] = dns_service_v6;
        h = (struct dns_host){ .v4 = &d->scratch[0], .n_v4 = 1, .v6 = &d->scratch[1], .n_v6 = 1 };
        decide_type(q, &h, d);
        return;
    }
    if (dns_table_lookup_search(t, q->qname, q->qname_len, &h)) {
        decide_type(q, &h, d);
        /* No records of an address type: the SOA bounds negative caching
         * (tsdns.go respond does so for A, AAAA and ALL only). */
        if (d->reply.rcode == DNS_RCODE_NOERROR && d->reply.n_addrs == 0 &&
            (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_AAAA || q->qtype == DNS_TYPE_ANY))
            d->reply.soa_zone = dns_table_zone_for(t, q->qname, q->qname_len);
        return;
    }
    d->reply.soa_zone = dns_table_zone_for(t, q->qname, q->qname_len);
    if (d->reply.soa_zone)
        answer(d, DNS_RCODE_NXDOMAIN);
    else
        d->verdict = DNS_VERDICT_FORWARD;
}

enum dns_verdict
dns_respond(const struct dns_table *t, const uint8_t *msg, size_t len, size_t max_len,
            struct dns_query *q, uint8_t *out, size_t cap, size_t *out_len)
{
    struct dns_decision d;

    dns_decide(t, dns_query_parse(msg, len, q), q, &d);
    *out_len = 0;
    if (d.verdict != DNS_VERDICT_ANSWER)
        return d.verdict;
    *out_len = dns_answer_build(q, &d.reply, max_len, out, cap);
    return *out_len ? DNS_VERDICT_ANSWER : DNS_VERDICT_DROP;
}
