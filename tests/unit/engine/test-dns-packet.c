/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/dns/dns-packet: UDP/IP queries to MagicDNS in,
 * answer packets out. Checksums are checked with packet-ref.h's textbook
 * loop; Tailscale's packet decoder reads our answers in test-dns-interop.c.
 *
 *  /dns-packet/parse/v4        a query to 100.100.100.100:53; IPv4 options;
 *                              trailing bytes past the total length ignored
 *  /dns-packet/parse/v6        to [fd7a:115c:a1e0::53]:53; hop-by-hop and
 *                              destination options skipped
 *  /dns-packet/parse/not-ours  other address, port, protocol: -ENOENT
 *  /dns-packet/parse/bad       truncated anywhere, IHL < 5, total length
 *                              lies, fragments, UDP length lies, a fragment
 *                              header, too many extension headers: -EINVAL
 *  /dns-packet/reply           v4 and v6 answers: addresses and ports
 *                              swapped, lengths, TTL, valid checksums; too
 *                              small a buffer; the payload in place
 *  /dns-packet/max-payload     1280 − 28 and 1280 − 48
 *  /dns-packet/mtu             a client offering 4,096 bytes over the tunnel:
 *                              an answer that fits 1,280 is whole, a longer
 *                              one comes back TC within 1,280, over IPv4 and
 *                              IPv6
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "dns/dns-packet.h"
#include "dns/dns-resolve.h"
#include "packet-ref.h"

static const uint8_t dns_query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0,
                                     0,    0,    1,    'x',  0, 0, 1, 0, 1 };

/* An IPv4 packet from 100.64.0.1:40000 to dst:port with IHL ihl words. */
static GByteArray *
v4_packet(const uint8_t dst[4], uint16_t port, uint8_t proto, unsigned ihl)
{
    GByteArray *m = g_byte_array_new();
    size_t hl = ihl * 4, total = hl + 8 + sizeof(dns_query);
    uint8_t h[60] = { 0x40 | ihl, 0, total >> 8, total & 0xff, 0, 0, 0x40, 0, 64, proto };

    memcpy(h + 12, (uint8_t[]){ 100, 64, 0, 1 }, 4);
    memcpy(h + 16, dst, 4);
    g_byte_array_append(m, h, (guint)hl);
    g_byte_array_append(
        m, (uint8_t[]){ 0x9c, 0x40, port >> 8, port & 0xff, 0, 8 + sizeof(dns_query), 0, 0 }, 8);
    g_byte_array_append(m, dns_query, sizeof(dns_query));
    return m;
}

static const uint8_t service4[4] = { 100, 100, 100, 100 };
static const uint8_t service6[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 0x53 };
static const uint8_t peer6[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 0x01 };

/* An IPv6 packet from [fd7a:115c:a1e0::1]:40000 with the extension headers
 * ext (each 8 bytes: next header filled in) before UDP. */
static GByteArray *
v6_packet(const uint8_t dst[16], uint16_t port, const uint8_t *ext_types, size_t n_ext,
          uint8_t last)
{
    GByteArray *m = g_byte_array_new();
    size_t plen = n_ext * 8 + 8 + sizeof(dns_query);
    uint8_t h[40] = { 0x60, 0, 0, 0, plen >> 8, plen & 0xff, n_ext ? ext_types[0] : last, 64 };

    memcpy(h + 8, peer6, 16);
    memcpy(h + 24, dst, 16);
    g_byte_array_append(m, h, 40);
    for (size_t i = 0; i < n_ext; i++) {
        uint8_t e[8] = { i + 1 < n_ext ? ext_types[i + 1] : last, 0, 1, 4 }; /* PadN */

        g_byte_array_append(m, e, 8);
    }
    g_byte_array_append(
        m, (uint8_t[]){ 0x9c, 0x40, port >> 8, port & 0xff, 0, 8 + sizeof(dns_query), 0, 0 }, 8);
    g_byte_array_append(m, dns_query, sizeof(dns_query));
    return m;
}

static int
parse(const GByteArray *m, struct dns_packet *p)
{
    return dns_packet_parse(m->data, m->len, p);
}

static void
assert_query(const struct dns_packet *p, int family)
{
    char s[IP_PORT_STRLEN];

    g_assert_cmpint(p->src.addr.family, ==, family);
    ip_port_format(&p->src, s);
    g_assert_cmpstr(s, ==, family == AF_INET ? "100.64.0.1:40000" : "[fd7a:115c:a1e0::1]:40000");
    ip_port_format(&p->dst, s);
    g_assert_cmpstr(s, ==, family == AF_INET ? "100.100.100.100:53" : "[fd7a:115c:a1e0::53]:53");
    g_assert_cmpmem(p->payload, p->payload_len, dns_query, sizeof(dns_query));
}

static void
test_parse_v4(void)
{
    struct dns_packet p;
    g_autoptr(GByteArray) m = v4_packet(service4, 53, 17, 5);
    g_autoptr(GByteArray) opts = v4_packet(service4, 53, 17, 7);

    g_assert_cmpint(parse(m, &p), ==, 0);
    assert_query(&p, AF_INET);
    g_assert_cmpint(parse(opts, &p), ==, 0);
    assert_query(&p, AF_INET);
    g_byte_array_append(m, (const guint8 *)"junk", 4);
    g_assert_cmpint(parse(m, &p), ==, 0);
    assert_query(&p, AF_INET);
    g_assert_true(dns_is_service_addr(&dns_service_v4));
    g_assert_true(dns_is_service_addr(&dns_service_v6));
}

static void
test_parse_v6(void)
{
    static const uint8_t hbh_dst[] = { 0, 60 }, routing[] = { 43 };
    struct dns_packet p;
    g_autoptr(GByteArray) m = v6_packet(service6, 53, NULL, 0, 17);
    g_autoptr(GByteArray) ext = v6_packet(service6, 53, hbh_dst, 2, 17);
    g_autoptr(GByteArray) rt = v6_packet(service6, 53, routing, 1, 17);

    g_assert_cmpint(parse(m, &p), ==, 0);
    assert_query(&p, AF_INET6);
    g_assert_cmpint(parse(ext, &p), ==, 0);
    assert_query(&p, AF_INET6);
    g_assert_cmpint(parse(rt, &p), ==, 0);
    assert_query(&p, AF_INET6);
}

static void
test_parse_not_ours(void)
{
    static const uint8_t other4[4] = { 100, 100, 100, 101 },
                         other6[16] = { 0xfd, 0x7a, [15] = 0x53 };
    struct dns_packet p;
    GByteArray *m;

    m = v4_packet(other4, 53, 17, 5);
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
    m = v4_packet(service4, 5353, 17, 5);
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
    m = v4_packet(service4, 53, 6, 5);
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
    m = v6_packet(other6, 53, NULL, 0, 17);
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
    m = v6_packet(service6, 54, NULL, 0, 17);
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
    m = v6_packet(service6, 53, NULL, 0, 58); /* ICMPv6 */
    g_assert_cmpint(parse(m, &p), ==, -ENOENT);
    g_byte_array_unref(m);
}

static void
expect_bad(GByteArray *m, const char *what)
{
    struct dns_packet p;
    int r = parse(m, &p);

    if (r != -EINVAL)
        g_error("%s: %d, want -EINVAL", what, r);
    g_byte_array_unref(m);
}

static void
test_parse_bad(void)
{
    static const uint8_t frag[] = { 44 }, nine[9] = { 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    GByteArray *m;
    g_autoptr(GByteArray) whole4 = v4_packet(service4, 53, 17, 5);
    g_autoptr(GByteArray) whole6 = v6_packet(service6, 53, (const uint8_t[]){ 0 }, 1, 17);
    struct dns_packet p;

    /* Cut anywhere before the UDP payload's end: refused. */
    for (guint n = 0; n < whole4->len; n++)
        g_assert_cmpint(dns_packet_parse(whole4->data, n, &p), ==, -EINVAL);
    for (guint n = 0; n < whole6->len; n++)
        g_assert_cmpint(dns_packet_parse(whole6->data, n, &p), ==, -EINVAL);

    m = v4_packet(service4, 53, 17, 5);
    m->data[0] = 0x44;
    expect_bad(m, "IHL 4");
    m = v4_packet(service4, 53, 17, 5);
    m->data[3] = 19;
    expect_bad(m, "total length below the header");
    m = v4_packet(service4, 53, 17, 5);
    m->data[6] = 0x20; /* MF */
    expect_bad(m, "first fragment");
    m = v4_packet(service4, 53, 17, 5);
    m->data[7] = 0x01;
    expect_bad(m, "later fragment");
    m = v4_packet(service4, 53, 17, 5);
    m->data[20 + 5] = 7;
    expect_bad(m, "UDP length below 8");
    m = v4_packet(service4, 53, 17, 5);
    m->data[20 + 5] += 1;
    expect_bad(m, "UDP length past the packet");
    m = v4_packet(service4, 53, 17, 5);
    m->data[0] = 0x55;
    expect_bad(m, "version 5");
    m = v6_packet(service6, 53, frag, 1, 17);
    expect_bad(m, "fragment header");
    m = v6_packet(service6, 53, nine, 9, 17);
    expect_bad(m, "nine extension headers");
    m = v6_packet(service6, 53, NULL, 0, 17);
    m->data[5] += 1;
    expect_bad(m, "IPv6 payload length past the packet");
    m = v6_packet(service6, 53, (const uint8_t[]){ 0 }, 1, 17);
    m->data[40 + 1] = 200; /* an extension header longer than the packet */
    expect_bad(m, "extension header length");
}

/* Both checksums of a reply add up (packet-ref.h's loop). */
static void
assert_checksums(const uint8_t *pkt, size_t len)
{
    bool v4 = (pkt[0] >> 4) == 4;
    size_t ihl = v4 ? 20 : 40, alen = v4 ? 4 : 16;
    const uint8_t *udp = pkt + ihl;
    size_t ulen = len - ihl;
    uint32_t s;

    if (v4)
        g_assert_cmphex(ref_fold(ref_sum(pkt, 20, 0)), ==, 0);
    s = ref_sum(pkt + (v4 ? 12 : 8), 2 * alen, 0) + 17 + (uint32_t)ulen;
    g_assert_cmphex(ref_fold(ref_sum(udp, ulen, s)), ==, 0);
    g_assert_cmphex(get16(udp + 6), !=, 0);
}

static void
test_reply(void)
{
    static const uint8_t answer[] = "an answer of odd length";
    uint8_t out[1500];
    struct dns_packet p;
    g_autoptr(GByteArray) q4 = v4_packet(service4, 53, 17, 6);
    g_autoptr(GByteArray) q6 = v6_packet(service6, 53, (const uint8_t[]){ 0 }, 1, 17);
    size_t n;

    g_assert_cmpint(parse(q4, &p), ==, 0);
    n = dns_packet_build_reply(&p, answer, sizeof(answer), out, sizeof(out));
    g_assert_cmpuint(n, ==, 20 + 8 + sizeof(answer));
    g_assert_cmphex(out[0], ==, 0x45);
    g_assert_cmpuint(get16(out + 2), ==, n);
    g_assert_cmpuint(out[8], ==, 64);
    g_assert_cmpuint(out[9], ==, 17);
    g_assert_cmpmem(out + 12, 4, service4, 4);
    g_assert_cmpmem(out + 16, 4, ((uint8_t[]){ 100, 64, 0, 1 }), 4);
    g_assert_cmpuint(get16(out + 20), ==, 53);
    g_assert_cmpuint(get16(out + 22), ==, 40000);
    g_assert_cmpuint(get16(out + 24), ==, 8 + sizeof(answer));
    g_assert_cmpmem(out + 28, sizeof(answer), answer, sizeof(answer));
    assert_checksums(out, n);
    /* Our own reply is not a query to us. */
    g_assert_cmpint(dns_packet_parse(out, n, &p), ==, -ENOENT);

    g_assert_cmpint(parse(q6, &p), ==, 0);
    n = dns_packet_build_reply(&p, answer, sizeof(answer), out, sizeof(out));
    g_assert_cmpuint(n, ==, 40 + 8 + sizeof(answer));
    g_assert_cmphex(out[0], ==, 0x60);
    g_assert_cmpuint(get16(out + 4), ==, 8 + sizeof(answer));
    g_assert_cmpuint(out[6], ==, 17);
    g_assert_cmpuint(out[7], ==, 64);
    g_assert_cmpmem(out + 8, 16, service6, 16);
    g_assert_cmpmem(out + 24, 16, peer6, 16);
    assert_checksums(out, n);

    /* Too small a buffer; the payload already in place (memmove). */
    g_assert_cmpuint(dns_packet_build_reply(&p, answer, sizeof(answer), out, n - 1), ==, 0);
    memcpy(out + 48, answer, sizeof(answer));
    g_assert_cmpuint(dns_packet_build_reply(&p, out + 48, sizeof(answer), out, sizeof(out)), ==, n);
    g_assert_cmpmem(out + 48, sizeof(answer), answer, sizeof(answer));
    assert_checksums(out, n);
}

static void
test_max_payload(void)
{
    struct dns_packet p;
    g_autoptr(GByteArray) q4 = v4_packet(service4, 53, 17, 5);
    g_autoptr(GByteArray) q6 = v6_packet(service6, 53, NULL, 0, 17);

    g_assert_cmpint(parse(q4, &p), ==, 0);
    g_assert_cmpuint(dns_packet_max_payload(&p, DNS_PACKET_MTU), ==, 1252);
    g_assert_cmpuint(dns_packet_max_payload(&p, 20), ==, 0);
    g_assert_cmpint(parse(q6, &p), ==, 0);
    g_assert_cmpuint(dns_packet_max_payload(&p, DNS_PACKET_MTU), ==, 1232);
}

/* The answer packet to an AAAA query for name with an OPT of 4,096 bytes. */
static size_t
answer_over_tunnel(const struct dns_table *t, const char *name, bool v6, uint8_t *out, size_t cap)
{
    GByteArray *dnsq = g_byte_array_new(), *pkt = g_byte_array_new();
    uint8_t wire[DNS_NAME_WIRE_MAX], answer[DNS_ANSWER_MAX];
    size_t wlen = dns_name_to_wire(name, strlen(name), wire, sizeof(wire)), alen, n;
    struct dns_packet p;
    struct dns_query q;

    g_byte_array_append(dnsq, (const uint8_t[]){ 0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1 }, 12);
    g_byte_array_append(dnsq, wire, (guint)wlen);
    g_byte_array_append(dnsq, (const uint8_t[]){ 0, 28, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 },
                        15);
    if (v6) {
        uint8_t h[40] = { 0x60, 0, 0, 0, 0, (uint8_t)(8 + dnsq->len), 17, 64 };

        memcpy(h + 8, peer6, 16);
        memcpy(h + 24, service6, 16);
        g_byte_array_append(pkt, h, 40);
    } else {
        uint8_t h[20] = { 0x45, 0, 0, (uint8_t)(28 + dnsq->len), 0, 0, 0, 0, 64, 17, 0, 0, 100,
                          64,   0, 1 };

        memcpy(h + 16, service4, 4);
        g_byte_array_append(pkt, h, 20);
    }
    g_byte_array_append(
        pkt, (const uint8_t[]){ 0x9c, 0x40, 0, 53, 0, (uint8_t)(8 + dnsq->len), 0, 0 }, 8);
    g_byte_array_append(pkt, dnsq->data, dnsq->len);
    g_assert_cmpint(dns_packet_parse(pkt->data, pkt->len, &p), ==, 0);
    g_assert_cmpint(dns_respond(t, p.payload, p.payload_len,
                                dns_packet_max_payload(&p, DNS_PACKET_MTU), &q, answer,
                                sizeof(answer), &alen),
                    ==, DNS_VERDICT_ANSWER);
    g_assert_cmpuint(q.udp_size, ==, 4096);
    n = dns_packet_build_reply(&p, answer, alen, out, cap);
    g_byte_array_unref(dnsq);
    g_byte_array_unref(pkt);
    return n;
}

static void
test_mtu(void)
{
    struct dns_table_builder *b = dns_table_builder_new();
    struct dns_table *t;
    uint8_t out[4200];

    for (int i = 0; i < 60; i++) {
        struct ip_addr a = { .family = AF_INET6, .bytes = { 0xfd, 0x7a, [15] = (uint8_t)i } };

        g_assert_cmpint(dns_table_builder_add(b, "many.ts.net", &a), ==, 0);
        if (i < 40)
            g_assert_cmpint(dns_table_builder_add(b, "some.ts.net", &a), ==, 0);
    }
    t = dns_table_build(b);
    for (int v6 = 0; v6 < 2; v6++) {
        size_t ip = v6 ? 40 : 20;
        /* 40 AAAA: 12 + 17 + 40 × 28 + 11 = 1,160 bytes of DNS: whole. */
        size_t n = answer_over_tunnel(t, "some.ts.net", v6, out, sizeof(out));

        g_assert_cmpuint(n, ==, ip + 8 + 1160);
        g_assert_cmphex(out[ip + 8 + 2] & 0x02, ==, 0);
        g_assert_cmpuint(get16(out + ip + 8 + 6), ==, 40);
        /* 60 AAAA: 1,720 bytes: TC, the header, question and OPT only. */
        n = answer_over_tunnel(t, "many.ts.net", v6, out, sizeof(out));
        g_assert_cmpuint(n, <=, DNS_PACKET_MTU);
        g_assert_cmpuint(n, ==, ip + 8 + 12 + 17 + 11);
        g_assert_cmphex(out[ip + 8 + 2] & 0x02, ==, 0x02);
        g_assert_cmpuint(get16(out + ip + 8 + 6), ==, 0);
        assert_checksums(out, n);
    }
    dns_table_free(t);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns-packet/parse/v4", test_parse_v4);
    g_test_add_func("/dns-packet/parse/v6", test_parse_v6);
    g_test_add_func("/dns-packet/parse/not-ours", test_parse_not_ours);
    g_test_add_func("/dns-packet/parse/bad", test_parse_bad);
    g_test_add_func("/dns-packet/reply", test_reply);
    g_test_add_func("/dns-packet/max-payload", test_max_payload);
    g_test_add_func("/dns-packet/mtu", test_mtu);
    return g_test_run();
}
