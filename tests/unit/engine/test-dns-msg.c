/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/dns/dns-msg and dns-answer: query parsing and
 * answer building. Interop with dig and Go's dnsmessage is in
 * test-dns-interop.c.
 *
 *  /dns-msg/parse/dig          queries dig 9.18 sent (bytes captured from
 *                              the wire): id, flags, name, type, EDNS size,
 *                              DO bit, case kept in the echoed question
 *  /dns-msg/parse/edns         OPT size clamped to 512..4096, version > 0
 *  /dns-msg/parse/malformed    short, responses, counts lying, pointer
 *                              loops and forward pointers, long labels and
 *                              names, misplaced or double OPT, '.' in labels
 *  /dns-msg/parse/pointers     a backward chain of 16 pointers reads, 17 not
 *  /dns-msg/parse/limits       a 255-byte name parses, 256 does not
 *  /dns-msg/names              normalise, wire form, is-under
 *  /dns-msg/answer/bytes       an A answer byte for byte
 *  /dns-msg/answer/negative    NXDOMAIN and no-data with the zone's SOA
 *  /dns-msg/answer/errors      FORMERR (header only), NOTIMP, BADVERS (OPT)
 *  /dns-msg/answer/tc          too many records for the client: TC, no
 *                              records, question and OPT kept
 *  /dns-msg/answer/fit         an upstream answer cut to size with TC
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "dns/dns-answer.h"
#include "dns/dns-msg.h"
#include "fixture-hex.h"

/* dig 9.18.49 (Debian 12), captured from a UDP socket:
 * `dig laptop.tail1234.ts.net A` (OPT 1232 with a COOKIE option) */
static const char dig_a[] = "48bb01200001000000000001066c6170746f70087461696c31323334027473036e65"
                            "74000001000100002904d000000000000c000a000888494c4ed222defd";
/* `dig LapTop.Tail1234.ts.net. AAAA +noedns` */
static const char dig_aaaa_noedns[] = "2a4001200001000000000000064c6170546f70085461696c3132333402"
                                      "7473036e657400001c0001";
/* `dig -x fd7a:115c:a1e0::1` */
static const char dig_ptr6[] =
    "4428012000010000000000010131013001300130013001300130013001300130013001300130013001300130013001"
    "300130013001300165013101610163013501310131016101370164016603697036046172706100000c00010000"
    "2904d000000000000c000a0008dc310858a916cd53";
/* `dig laptop A +dnssec` */
static const char dig_dnssec[] = "f73001200001000000000001066c6170746f70000001000100002904d00000"
                                 "8000000c000a0008d7e70f701927ea03";

static enum dns_parse_result
parse_hex(const char *hex, struct dns_query *q)
{
    g_autoptr(GBytes) b = fixture_unhex(hex);
    gsize n;
    const uint8_t *p = g_bytes_get_data(b, &n);

    return dns_query_parse(p, n, q);
}

static enum dns_parse_result
parse_bytes(const GByteArray *m, struct dns_query *q)
{
    return dns_query_parse(m->data, m->len, q);
}

static void
test_parse_dig(void)
{
    struct dns_query q;

    g_assert_cmpint(parse_hex(dig_a, &q), ==, DNS_PARSE_OK);
    g_assert_cmphex(q.id, ==, 0x48bb);
    g_assert_cmphex(q.flags, ==, 0x0120); /* RD, AD */
    g_assert_true(q.rd);
    g_assert_false(q.cd);
    g_assert_cmpint(q.opcode, ==, 0);
    g_assert_true(q.has_question);
    g_assert_cmpstr(q.qname, ==, "laptop.tail1234.ts.net");
    g_assert_cmpuint(q.qname_len, ==, strlen("laptop.tail1234.ts.net"));
    g_assert_cmpuint(q.qtype, ==, DNS_TYPE_A);
    g_assert_cmpuint(q.qclass, ==, DNS_CLASS_IN);
    g_assert_true(q.has_opt);
    g_assert_false(q.do_bit);
    g_assert_cmpuint(q.udp_size, ==, 1232);
    g_assert_cmpuint(q.question_wire_len, ==, 24 + 4);

    g_assert_cmpint(parse_hex(dig_aaaa_noedns, &q), ==, DNS_PARSE_OK);
    g_assert_cmpstr(q.qname, ==, "laptop.tail1234.ts.net");
    g_assert_cmpuint(q.qtype, ==, DNS_TYPE_AAAA);
    g_assert_false(q.has_opt);
    g_assert_cmpuint(q.udp_size, ==, 512);
    /* The echo keeps the client's case (DNS 0x20). */
    g_assert_cmpmem(q.question_wire, 7, "\x06LapTop", 7);

    g_assert_cmpint(parse_hex(dig_ptr6, &q), ==, DNS_PARSE_OK);
    g_assert_cmpstr(q.qname, ==,
                    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa");
    g_assert_cmpuint(q.qtype, ==, DNS_TYPE_PTR);

    g_assert_cmpint(parse_hex(dig_dnssec, &q), ==, DNS_PARSE_OK);
    g_assert_cmpstr(q.qname, ==, "laptop");
    g_assert_true(q.do_bit);
}

/* A query: header (id 1, RD, counts) + question for name (wire) type A. */
static GByteArray *
query_new(const char *wire, size_t wire_len, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    GByteArray *m = g_byte_array_new();
    const uint8_t hdr[12] = { 0,       1,         1,       0,         qd >> 8, qd & 0xff,
                              an >> 8, an & 0xff, ns >> 8, ns & 0xff, ar >> 8, ar & 0xff };

    g_byte_array_append(m, hdr, sizeof(hdr));
    g_byte_array_append(m, (const guint8 *)wire, (guint)wire_len);
    g_byte_array_append(m, (const guint8 *)"\x00\x01\x00\x01", 4);
    return m;
}

#define QUERY(wire, qd, an, ns, ar) query_new(wire, sizeof(wire) - 1, qd, an, ns, ar)

static void
append_opt(GByteArray *m, uint16_t size, uint8_t version, bool do_bit)
{
    const uint8_t opt[11] = { 0, 0, 41, size >> 8, size & 0xff, 0, version, do_bit ? 0x80 : 0,
                              0, 0, 0 };

    g_byte_array_append(m, opt, sizeof(opt));
}

static void
test_parse_edns(void)
{
    static const struct {
        uint16_t size, want;
    } sizes[] = { { 0, 512 },     { 100, 512 },   { 512, 512 },
                  { 1232, 1232 }, { 4096, 4096 }, { 65535, 4096 } };
    struct dns_query q;

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GByteArray) m = QUERY("\x01x\x00", 1, 0, 0, 1);

        append_opt(m, sizes[i].size, 0, false);
        g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_OK);
        g_assert_cmpuint(q.udp_size, ==, sizes[i].want);
    }
    {
        g_autoptr(GByteArray) m = QUERY("\x01x\x00", 1, 0, 0, 1);

        append_opt(m, 1232, 1, true);
        g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_BADVERS);
        g_assert_true(q.has_opt);
        g_assert_true(q.do_bit);
    }
}

static void
expect_parse(GByteArray *m, enum dns_parse_result want, const char *what)
{
    struct dns_query q;
    enum dns_parse_result got = parse_bytes(m, &q);

    if (got != want)
        g_error("%s: parse %d, want %d", what, got, want);
    if (got == DNS_PARSE_FORMERR) {
        g_assert_false(q.has_question);
        g_assert_false(q.has_opt);
    }
    g_byte_array_unref(m);
}

static void
test_parse_malformed(void)
{
    struct dns_query q;
    GByteArray *m;
    uint8_t label64[1 + 64 + 1] = { 64 };

    g_assert_cmpint(dns_query_parse((const uint8_t *)"\0\1\1\0\0\1\0\0\0\0\0", 11, &q), ==,
                    DNS_PARSE_DROP);
    m = QUERY("\x01x\x00", 1, 0, 0, 0);
    m->data[2] |= 0x80; /* a response */
    expect_parse(m, DNS_PARSE_DROP, "response");
    expect_parse(QUERY("\x01x\x00", 0, 0, 0, 0), DNS_PARSE_FORMERR, "no question");
    expect_parse(QUERY("\x01x\x00", 2, 0, 0, 0), DNS_PARSE_FORMERR, "two questions, one there");
    expect_parse(QUERY("\x01x\x00", 1, 0, 0, 1), DNS_PARSE_FORMERR, "ARCOUNT lies");
    expect_parse(QUERY("\x01x\x00", 1, 1, 0, 0), DNS_PARSE_FORMERR, "ANCOUNT lies");
    expect_parse(QUERY("\x01x\x00", 1, 0, 65535, 0), DNS_PARSE_FORMERR, "NSCOUNT 65535");
    expect_parse(QUERY("\xc0\x0c", 1, 0, 0, 0), DNS_PARSE_FORMERR, "pointer to itself");
    expect_parse(QUERY("\xc0\x0e\x01x\x00", 1, 0, 0, 0), DNS_PARSE_FORMERR, "forward pointer");
    expect_parse(QUERY("\x01x\xc0\x0c", 1, 0, 0, 0), DNS_PARSE_FORMERR, "loop through the start");
    expect_parse(QUERY("\x01x\xc0\x02", 1, 0, 0, 0), DNS_PARSE_FORMERR, "pointer into the header");
    expect_parse(QUERY("\x01x\x40", 1, 0, 0, 0), DNS_PARSE_FORMERR, "extended label type");
    expect_parse(QUERY("\x03x.y\x00", 1, 0, 0, 0), DNS_PARSE_FORMERR, "a dot inside a label");
    memset(label64 + 1, 'a', 64);
    m = query_new((const char *)label64, sizeof(label64), 1, 0, 0, 0);
    expect_parse(m, DNS_PARSE_FORMERR, "label of 64");

    /* Truncated anywhere before the end of the question: FORMERR. */
    for (guint cut = 12; cut < 12 + 3 + 4; cut++) {
        m = QUERY("\x01x\x00", 1, 0, 0, 0);
        g_byte_array_set_size(m, cut);
        expect_parse(m, DNS_PARSE_FORMERR, "truncated");
    }
    /* Truncated OPT. */
    m = QUERY("\x01x\x00", 1, 0, 0, 1);
    append_opt(m, 1232, 0, false);
    g_byte_array_set_size(m, m->len - 1);
    expect_parse(m, DNS_PARSE_FORMERR, "truncated OPT");
    /* Two OPTs; an OPT in the answer section; an OPT not owned by the root. */
    m = QUERY("\x01x\x00", 1, 0, 0, 2);
    append_opt(m, 1232, 0, false);
    append_opt(m, 1232, 0, false);
    expect_parse(m, DNS_PARSE_FORMERR, "two OPTs");
    m = QUERY("\x01x\x00", 1, 1, 0, 0);
    append_opt(m, 1232, 0, false);
    expect_parse(m, DNS_PARSE_FORMERR, "OPT as an answer");
    m = QUERY("\x01x\x00", 1, 0, 0, 1);
    g_byte_array_append(m, (const guint8 *)"\xc0\x0c", 2);
    append_opt(m, 1232, 0, false);
    g_byte_array_remove_index(m, m->len - 11); /* drop the root byte: owner is the pointer */
    expect_parse(m, DNS_PARSE_FORMERR, "OPT owned by a name");
    /* rdlength past the end. */
    m = QUERY("\x01x\x00", 1, 0, 0, 1);
    g_byte_array_append(m, (const guint8 *)"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x05\x01", 12);
    expect_parse(m, DNS_PARSE_FORMERR, "rdlength lies");

    /* Opcodes other than QUERY: NOTIMP, question echoed when it parsed. */
    m = QUERY("\x01x\x00", 1, 0, 0, 0);
    m->data[2] |= 2 << 3; /* STATUS */
    g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_NOTIMP);
    g_assert_true(q.has_question);
    g_assert_cmpint(q.opcode, ==, 2);
    g_byte_array_unref(m);
    m = QUERY("\x01x\x00", 0, 0, 0, 0);
    m->data[2] |= 5 << 3; /* UPDATE: zone count 0 here */
    expect_parse(m, DNS_PARSE_NOTIMP, "UPDATE");
}

/* Records whose owner names are a backward pointer chain of n hops. */
static GByteArray *
pointer_chain(unsigned n)
{
    GByteArray *m = QUERY("\x01q\x00", 1, 0, 0, (uint16_t)n);
    guint prev = 12;

    for (unsigned i = 0; i < n; i++) {
        guint here = m->len;
        const uint8_t rr[] = {
            1, 'p', 0xc0 | prev >> 8, prev & 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0
        };

        g_byte_array_append(m, rr, sizeof(rr));
        prev = here;
    }
    return m;
}

static void
test_parse_pointers(void)
{
    struct dns_query q;
    char text[DNS_NAME_TEXT_MAX + 1];
    g_autoptr(GByteArray) ok = pointer_chain(16);
    g_autoptr(GByteArray) bad = pointer_chain(17);
    size_t off, len;

    g_assert_cmpint(parse_bytes(ok, &q), ==, DNS_PARSE_OK);
    g_assert_cmpint(parse_bytes(bad, &q), ==, DNS_PARSE_FORMERR);
    /* The last name of the good chain: 16 hops, 16 "p" labels then "q". */
    off = ok->len - 14;
    g_assert_cmpint(dns_name_read(ok->data, ok->len, &off, true, text, &len, NULL, NULL), ==, 0);
    g_assert_cmpuint(len, ==, 16 * 2 + 1);
    g_assert_true(g_str_has_suffix(text, "p.p.q"));
    g_assert_cmpuint(off, ==, ok->len - 10);
}

static void
test_parse_limits(void)
{
    struct dns_query q;
    g_autoptr(GByteArray) wire = g_byte_array_new();
    GByteArray *m;
    uint8_t label[64];

    /* Three labels of 63, one of 61, and the root: 3 × 64 + 62 + 1 = 255. */
    memset(label + 1, 'a', 63);
    for (int i = 0; i < 3; i++) {
        label[0] = 63;
        g_byte_array_append(wire, label, 64);
    }
    label[0] = 61;
    g_byte_array_append(wire, label, 62);
    g_byte_array_append(wire, (const guint8 *)"", 1);
    g_assert_cmpuint(wire->len, ==, 255);
    m = query_new((const char *)wire->data, wire->len, 1, 0, 0, 0);
    g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_OK);
    g_assert_cmpuint(q.qname_len, ==, 253);
    g_assert_cmpuint(strlen(q.qname), ==, 253);
    g_byte_array_unref(m);

    /* The last label one byte longer: 256. */
    g_byte_array_set_size(wire, 3 * 64);
    label[0] = 62;
    g_byte_array_append(wire, label, 63);
    g_byte_array_append(wire, (const guint8 *)"", 1);
    g_assert_cmpuint(wire->len, ==, 256);
    m = query_new((const char *)wire->data, wire->len, 1, 0, 0, 0);
    expect_parse(m, DNS_PARSE_FORMERR, "name of 256 bytes");
}

static void
test_names(void)
{
    char out[DNS_NAME_TEXT_MAX + 1];
    uint8_t wire[DNS_NAME_WIRE_MAX];
    char long_label[70];

    g_assert_cmpint(dns_name_normalise("Laptop.Tail1234.TS.net.", 23, out), ==, 22);
    g_assert_cmpstr(out, ==, "laptop.tail1234.ts.net");
    g_assert_cmpint(dns_name_normalise(".", 1, out), ==, 0);
    g_assert_cmpstr(out, ==, "");
    g_assert_cmpint(dns_name_normalise("a..b", 4, out), ==, -EINVAL);
    g_assert_cmpint(dns_name_normalise(".a", 2, out), ==, -EINVAL);
    g_assert_cmpint(dns_name_normalise("a b", 3, out), ==, -EINVAL);
    g_assert_cmpint(dns_name_normalise("a..", 3, out), ==, -EINVAL);
    memset(long_label, 'x', sizeof(long_label));
    g_assert_cmpint(dns_name_normalise(long_label, 63, out), ==, 63);
    g_assert_cmpint(dns_name_normalise(long_label, 64, out), ==, -EINVAL);

    g_assert_cmpuint(dns_name_to_wire("a.bc", 4, wire, sizeof(wire)), ==, 6);
    g_assert_cmpmem(wire, 6,
                    "\x01"
                    "a\x02"
                    "bc\x00",
                    6);
    g_assert_cmpuint(dns_name_to_wire("", 0, wire, sizeof(wire)), ==, 1);
    g_assert_cmpuint(dns_name_to_wire("a.bc", 4, wire, 5), ==, 0);

    g_assert_true(dns_name_is_under("a.ts.net", 8, "ts.net", 6));
    g_assert_true(dns_name_is_under("ts.net", 6, "ts.net", 6));
    g_assert_false(dns_name_is_under("ats.net", 7, "ts.net", 6));
    g_assert_false(dns_name_is_under("net", 3, "ts.net", 6));
    g_assert_true(dns_name_is_under("net", 3, "", 0));
}

/* ---- answers ---------------------------------------------------------------- */

static size_t
answer_hex(const char *query_hex, const struct dns_reply *r, size_t max_len, uint8_t *out)
{
    struct dns_query q;

    parse_hex(query_hex, &q);
    return dns_answer_build(&q, r, max_len, out, DNS_ANSWER_MAX);
}

static void
assert_hex(const uint8_t *p, size_t n, const char *want_hex)
{
    g_autoptr(GBytes) want = fixture_unhex(want_hex);
    gsize wn;
    const uint8_t *w = g_bytes_get_data(want, &wn);

    g_assert_cmpmem(p, n, w, wn);
}

static const struct ip_addr v4_1 = { .family = AF_INET, .bytes = { 100, 64, 0, 1 } };

static void
test_answer_bytes(void)
{
    uint8_t out[DNS_ANSWER_MAX];
    struct dns_reply r = { .rcode = DNS_RCODE_NOERROR, .addrs = &v4_1, .n_addrs = 1 };
    size_t n = answer_hex(dig_aaaa_noedns, &r, 1252, out);

    /* QR AA RD RA; one question (as sent), one A 100.64.0.1 TTL 5 owned by
     * a pointer to it; no OPT (the query had none). */
    assert_hex(out, n,
               "2a4085800001000100000000064c6170546f70085461696c31323334027473036e657400001c0001"
               "c00c00010001000000050004"
               "64400001");

    /* With an OPT: ours (1232, DO 0), and the dig query's AD is not copied. */
    n = answer_hex(dig_a, &r, 1252, out);
    g_assert_cmphex(out[2] << 8 | out[3], ==, 0x8580);
    g_assert_cmpuint(out[11], ==, 1);
    assert_hex(out + n - 11, 11,
               "0000290"
               "4d0000000000000");
}

static void
test_answer_negative(void)
{
    uint8_t out[DNS_ANSWER_MAX];
    struct dns_reply r = { .rcode = DNS_RCODE_NXDOMAIN, .soa_zone = "tail1234.ts.net" };
    size_t n = answer_hex(dig_aaaa_noedns, &r, 1252, out);

    /* NXDOMAIN; NSCOUNT 1: the zone's SOA, MNAME and RNAME pointing at its
     * owner, serial 1, timers 10, TTL 10. */
    assert_hex(out, n,
               "2a4085830001000000010000064c6170546f70085461696c31323334027473036e657400001c0001"
               "087461696c31323334027473036e657400"
               "0006"
               "0001"
               "0000000a"
               "0018"
               "c028"
               "c028"
               "00000001"
               "0000000a"
               "0000000a"
               "0000000a"
               "0000000a");
}

static void
test_answer_errors(void)
{
    uint8_t out[DNS_ANSWER_MAX];
    struct dns_query q;
    g_autoptr(GByteArray) m = QUERY("\xc0\x0c", 1, 0, 0, 0);
    size_t n;

    g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_FORMERR);
    n = dns_answer_error(&q, DNS_RCODE_FORMERR, 1252, out, sizeof(out));
    assert_hex(out, n, "000185810000000000000000");

    parse_hex(dig_a, &q);
    n = dns_answer_error(&q, DNS_RCODE_SERVFAIL, 1252, out, sizeof(out));
    g_assert_cmphex(out[3] & 0xf, ==, DNS_RCODE_SERVFAIL);
    g_assert_cmpuint(out[5], ==, 1); /* question echoed */
    g_assert_cmpuint(n, ==, 12 + 28 + 11);

    g_byte_array_unref(m);
    m = QUERY("\x01x\x00", 1, 0, 0, 1);
    append_opt(m, 1232, 3, false);
    g_assert_cmpint(parse_bytes(m, &q), ==, DNS_PARSE_BADVERS);
    n = dns_answer_error(&q, DNS_RCODE_BADVERS, 1252, out, sizeof(out));
    g_assert_cmphex(out[3] & 0xf, ==, 0);
    /* BADVERS = 16: the OPT's extended rcode byte is 1, version 0. */
    assert_hex(out + n - 11, 11,
               "00002904d0"
               "010000000000");
}

static void
test_answer_tc(void)
{
    uint8_t out[DNS_ANSWER_MAX];
    struct ip_addr many[100];
    struct dns_reply r = { .rcode = DNS_RCODE_NOERROR, .addrs = many, .n_addrs = 100 };
    struct dns_query q;
    size_t n;

    for (int i = 0; i < 100; i++)
        many[i] =
            (struct ip_addr){ .family = AF_INET6, .bytes = { 0xfd, 0x7a, [15] = (uint8_t)i } };
    /* Without an OPT: 512 bytes. 100 AAAA are 2,800 bytes: TC, no records. */
    n = answer_hex(dig_aaaa_noedns, &r, 1252, out);
    g_assert_cmpuint(n, ==, 12 + 28);
    g_assert_cmphex(out[2], ==, 0x87); /* QR AA TC RD */
    g_assert_cmpuint(out[5], ==, 1);
    g_assert_cmpuint(out[7], ==, 0);

    /* 40 AAAA (1,160 bytes + header and question) fit in 1,232 with the OPT. */
    r.n_addrs = 40;
    n = answer_hex(dig_a, &r, 1252, out);
    g_assert_cmphex(out[2] & 0x02, ==, 0);
    g_assert_cmpuint(out[7], ==, 40);
    g_assert_cmpuint(n, <=, 1232);
    /* The same over a 600-byte transport: TC, the OPT kept. */
    n = answer_hex(dig_a, &r, 600, out);
    g_assert_cmphex(out[2] & 0x02, ==, 0x02);
    g_assert_cmpuint(out[7], ==, 0);
    g_assert_cmpuint(out[11], ==, 1);
    g_assert_cmpuint(n, ==, 12 + 28 + 11);

    /* A client's EDNS size of 4,096: all 100 (and within DNS_ANSWER_MAX). */
    {
        g_autoptr(GByteArray) m = QUERY("\x01x\x00", 1, 0, 0, 1);

        append_opt(m, 4096, 0, false);
        parse_bytes(m, &q);
        n = dns_answer_build(&q, &r, 65535, out, sizeof(out));
        g_assert_cmpuint(out[7], ==, 40);
        r.n_addrs = 100;
        n = dns_answer_build(&q, &r, 65535, out, sizeof(out));
        g_assert_cmpuint(out[7], ==, 100);
        g_assert_cmpuint(n, ==, 12 + 7 + 100 * 28 + 11);
        /* And cap below the header and question: nothing. */
        g_assert_cmpuint(dns_answer_build(&q, &r, 65535, out, 12), ==, 0);
    }
}

static void
test_answer_fit(void)
{
    uint8_t big[DNS_ANSWER_MAX];
    struct ip_addr many[60];
    struct dns_reply r = { .rcode = DNS_RCODE_NOERROR, .addrs = many, .n_addrs = 60 };
    struct dns_query q;
    g_autoptr(GByteArray) m = QUERY("\x01x\x00", 1, 0, 0, 1);
    size_t n;

    for (int i = 0; i < 60; i++)
        many[i] = (struct ip_addr){ .family = AF_INET, .bytes = { 10, 0, 0, (uint8_t)i } };
    append_opt(m, 4096, 0, false);
    parse_bytes(m, &q);
    n = dns_answer_build(&q, &r, 65535, big, sizeof(big));
    g_assert_cmpuint(n, ==, 12 + 7 + 60 * 16 + 11);
    g_assert_cmpuint(dns_answer_fit(big, n, 4096), ==, n);
    n = dns_answer_fit(big, n, 512);
    g_assert_cmpuint(n, ==, 12 + 7);
    g_assert_cmphex(big[2] & 0x02, ==, 0x02);
    assert_hex(big + 4, 8, "0001000000000000");
    g_assert_cmpuint(dns_answer_fit(big, 11, 512), ==, 0);
    big[5] = 2;
    g_assert_cmpuint(dns_answer_fit(big, 600, 512), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns-msg/parse/dig", test_parse_dig);
    g_test_add_func("/dns-msg/parse/edns", test_parse_edns);
    g_test_add_func("/dns-msg/parse/malformed", test_parse_malformed);
    g_test_add_func("/dns-msg/parse/pointers", test_parse_pointers);
    g_test_add_func("/dns-msg/parse/limits", test_parse_limits);
    g_test_add_func("/dns-msg/names", test_names);
    g_test_add_func("/dns-msg/answer/bytes", test_answer_bytes);
    g_test_add_func("/dns-msg/answer/negative", test_answer_negative);
    g_test_add_func("/dns-msg/answer/errors", test_answer_errors);
    g_test_add_func("/dns-msg/answer/tc", test_answer_tc);
    g_test_add_func("/dns-msg/answer/fit", test_answer_fit);
    return g_test_run();
}
