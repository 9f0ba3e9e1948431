/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/dns (MagicDNS's wire side). data[0]
 * bits 0-1 pick what the rest is read as:
 *   0: a DNS query payload: parsed, decided against a fixed table, answered;
 *      the answer is a well-formed message (every record walked with the
 *      same bounds a client has) within the client's size, with the query's
 *      id and question; the input as an upstream answer cut to 512 bytes
 *      stays within them;
 *   1: an IP packet from the TUN: parsed; a query to us is answered into a
 *      reply packet whose lengths, addresses and checksums add up;
 *   2: table entries (flags byte: bit 0 IPv6, bit 1 PTR-only; address,
 *      name length, name): a built table finds every accepted (name,
 *      address) and every address's reverse entry.
 */
#include <errno.h>
#include <string.h>

#include "dns/dns-packet.h"
#include "dns/dns-resolve.h"
#include "fuzz-harness.h"

static struct dns_table *table;

static void
add(struct dns_table_builder *b, const char *name, uint8_t family, uint8_t last)
{
    struct ip_addr a = { .family = family };

    if (family == AF_INET)
        memcpy(a.bytes, (uint8_t[]){ 100, 64, 0, last }, 4);
    else
        memcpy(a.bytes, (uint8_t[]){ 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = last }, 16);
    CHECK(dns_table_builder_add(b, name, &a) == 0);
}

static const struct dns_table *
fixed_table(void)
{
    struct dns_table_builder *b;

    if (table)
        return table;
    b = dns_table_builder_new();
    add(b, "laptop.tail1234.ts.net", AF_INET, 1);
    add(b, "laptop.tail1234.ts.net", AF_INET6, 1);
    add(b, "x.tail1234.ts.net", AF_INET, 2);
    for (int i = 0; i < 80; i++)
        add(b, "many.tail1234.ts.net", AF_INET6, (uint8_t)i);
    CHECK(dns_table_builder_add_zone(b, "tail1234.ts.net") == 0);
    CHECK(dns_table_builder_add_tailnet_reverse_zones(b) == 0);
    CHECK(dns_table_builder_add_subdomain_host(b, "x.tail1234.ts.net") == 0);
    CHECK(dns_table_builder_add_search(b, "tail1234.ts.net") == 0);
    table = dns_table_build(b);
    CHECK(table);
    return table;
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Our answer to q is a complete, well-formed message. */
static void
check_answer(const struct dns_query *q, const uint8_t *a, size_t n, size_t limit)
{
    char text[DNS_NAME_TEXT_MAX + 1];
    size_t off = DNS_HEADER_LEN;
    unsigned count;

    CHECK(n >= DNS_HEADER_LEN && n <= limit && n <= DNS_ANSWER_MAX);
    CHECK(get16(a) == q->id);
    CHECK(a[2] & 0x80);
    CHECK(get16(a + 4) == (q->has_question ? 1 : 0));
    CHECK(get16(a + 10) == (q->has_opt ? 1 : 0));
    if (q->has_question) {
        CHECK(n >= off + q->question_wire_len);
        CHECK(memcmp(a + off, q->question_wire, q->question_wire_len) == 0);
        off += q->question_wire_len;
    }
    if (a[2] & 0x02) /* TC: no records left but the OPT */
        CHECK(get16(a + 6) == 0 && get16(a + 8) == 0);
    count = (unsigned)get16(a + 6) + get16(a + 8) + get16(a + 10);
    for (unsigned i = 0; i < count; i++) {
        size_t rdlen;

        CHECK(dns_name_read(a, n, &off, false, text, NULL, NULL, NULL) == 0);
        CHECK(n - off >= 10);
        rdlen = get16(a + off + 8);
        CHECK(n - off - 10 >= rdlen);
        off += 10 + rdlen;
    }
    CHECK(off == n);
}

static void
fuzz_query(const uint8_t *p, size_t n)
{
    uint8_t out[DNS_ANSWER_MAX], copy[4096];
    struct dns_query q;
    size_t len, limit = 1252;
    enum dns_verdict v = dns_respond(fixed_table(), p, n, limit, &q, out, sizeof(out), &len);

    if (q.has_question) {
        CHECK(q.qname_len <= DNS_NAME_TEXT_MAX && q.qname[q.qname_len] == '\0');
        CHECK(q.qname_len == 0 || q.qname[q.qname_len - 1] != '.');
        for (size_t i = 0; i < q.qname_len; i++)
            CHECK(!(q.qname[i] >= 'A' && q.qname[i] <= 'Z'));
        CHECK(q.question_wire_len >= 5 && q.question_wire_len <= DNS_NAME_WIRE_MAX + 4);
    }
    CHECK(q.udp_size >= DNS_UDP_MIN && q.udp_size <= DNS_UDP_MAX);
    if (v == DNS_VERDICT_ANSWER)
        check_answer(&q, out, len, limit < q.udp_size ? limit : q.udp_size);
    else
        CHECK(len == 0);
    if (n >= DNS_HEADER_LEN && (p[2] & 0x80) == 0 && v == DNS_VERDICT_DROP)
        CHECK(0); /* a query with a header is always answered or forwarded */

    if (n <= sizeof(copy)) {
        size_t cut;

        memcpy(copy, p, n);
        cut = dns_answer_fit(copy, n, 512);
        CHECK(cut <= n);
        if (cut && n > 512)
            CHECK(cut <= 512 && (copy[2] & 0x02) && get16(copy + 6) == 0);
    }
}

static uint32_t
sum(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

static void
fuzz_packet(const uint8_t *p, size_t n)
{
    uint8_t answer[DNS_ANSWER_MAX], out[DNS_PACKET_MTU];
    struct dns_packet pkt;
    struct dns_query q;
    size_t alen, plen, ihl, max;
    int r = dns_packet_parse(p, n, &pkt);

    CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
    if (r < 0)
        return;
    CHECK(pkt.payload >= p && pkt.payload + pkt.payload_len <= p + n);
    CHECK(pkt.dst.port == DNS_PORT && dns_is_service_addr(&pkt.dst.addr));
    max = dns_packet_max_payload(&pkt, DNS_PACKET_MTU);
    if (dns_respond(fixed_table(), pkt.payload, pkt.payload_len, max, &q, answer, sizeof(answer),
                    &alen) != DNS_VERDICT_ANSWER)
        return;
    CHECK(alen <= max);
    plen = dns_packet_build_reply(&pkt, answer, alen, out, sizeof(out));
    ihl = pkt.src.addr.family == AF_INET ? 20 : 40;
    CHECK(plen == ihl + 8 + alen);
    if (ihl == 20)
        CHECK(sum(out, 20, 0) == 0xffff);
    {
        size_t alen_ip = ihl == 20 ? 4 : 16;
        const uint8_t *src = out + (ihl == 20 ? 12 : 8);
        uint32_t s = sum(src, 2 * alen_ip, 17 + (uint32_t)(plen - ihl));

        CHECK(sum(out + ihl, plen - ihl, s) == 0xffff);
    }
    CHECK(memcmp(out + ihl + 8, answer, alen) == 0);
}

static void
fuzz_table(const uint8_t *p, size_t n)
{
    struct dns_table_builder *b = dns_table_builder_new();
    struct {
        char name[DNS_NAME_TEXT_MAX + 1];
        struct ip_addr addr;
    } added[64];
    struct ip_addr ptr_addrs[64];
    size_t n_added = 0, n_ptr = 0, off = 0;
    struct dns_table *t;

    CHECK(b);
    while (off + 2 <= n && n_added < 64) {
        struct ip_addr a = { .family = p[off] & 1 ? AF_INET6 : AF_INET };
        bool ptr_only = p[off] & 2;
        size_t alen = a.family == AF_INET ? 4 : 16, nlen;
        char raw[256];

        off++;
        if (n - off < alen + 1)
            break;
        memcpy(a.bytes, p + off, alen);
        off += alen;
        nlen = p[off++];
        if (n - off < nlen)
            break;
        memcpy(raw, p + off, nlen);
        raw[nlen] = '\0';
        off += nlen;
        if (strlen(raw) != nlen)
            continue;
        if (ptr_only) {
            if (dns_table_builder_add_ptr(b, raw, &a) == 0)
                ptr_addrs[n_ptr < 64 ? n_ptr++ : 63] = a;
            continue;
        }
        if (dns_table_builder_add(b, raw, &a) != 0)
            continue;
        CHECK(dns_name_normalise(raw, nlen, added[n_added].name) > 0);
        added[n_added++].addr = a;
    }
    t = dns_table_build(b);
    CHECK(t);
    for (size_t i = 0; i < n_added; i++) {
        struct dns_host h;
        const struct ip_addr *v;
        size_t nv;
        bool found = false;

        CHECK(dns_table_lookup(t, added[i].name, strlen(added[i].name), &h));
        v = added[i].addr.family == AF_INET ? h.v4 : h.v6;
        nv = added[i].addr.family == AF_INET ? h.n_v4 : h.n_v6;
        for (size_t j = 0; j < nv; j++)
            found |= ip_addr_equal(&v[j], &added[i].addr);
        CHECK(found);
        CHECK(dns_table_lookup_addr(t, &added[i].addr) != NULL);
    }
    for (size_t i = 0; i < n_ptr; i++)
        CHECK(dns_table_lookup_addr(t, &ptr_addrs[i]) != NULL);
    dns_table_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_query(data + 1, size - 1);
        break;
    case 1:
        fuzz_packet(data + 1, size - 1);
        break;
    case 2:
        fuzz_table(data + 1, size - 1);
        break;
    default:
        break;
    }
    return 0;
}
