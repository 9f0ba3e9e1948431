/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/magicsock/stun (RFC 5389 binding requests and
 * responses as net/stun/stun.go uses them). Interop with Tailscale's own Go
 * package is in test-codec-interop.c.
 *
 *  /stun/rfc5769/...   the RFC 5769 sample request (its FINGERPRINT) and
 *                      IPv4/IPv6 responses (XOR-MAPPED-ADDRESS)
 *  /stun/request/...   our request's bytes, round trip, FINGERPRINT rules
 *  /stun/response/...  round trips, 0x8020, MAPPED-ADDRESS fallback, malformed
 *  /stun/looks-like    packetLooksLike's STUN test
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "magicsock/stun.h"
#include "sockaddr-ref.h"

/* RFC 5769 §2.1: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT. */
static const uint8_t rfc_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: 192.0.2.1:32853. */
static const uint8_t rfc_response4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_response6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t rfc_txid[STUN_TXID_LEN] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

static void
test_rfc_request(void)
{
    uint8_t txid[STUN_TXID_LEN] = { 0 }, p[sizeof(rfc_request)];

    g_assert_true(stun_looks_like(rfc_request, sizeof(rfc_request)));
    g_assert_cmpint(stun_parse_request(rfc_request, sizeof(rfc_request), txid), ==, 0);
    g_assert_cmpmem(txid, sizeof(txid), rfc_txid, sizeof(rfc_txid));
    /*
     * Any changed byte fails it (the CRC, or the structure), except in
     * FINGERPRINT's type: without a FINGERPRINT a request is accepted.
     */
    for (size_t i = 0; i < sizeof(p); i++) {
        if (i == sizeof(p) - 8 || i == sizeof(p) - 7)
            continue;
        memcpy(p, rfc_request, sizeof(p));
        p[i] ^= 0x10;
        g_assert_cmpint(stun_parse_request(p, sizeof(p), txid), ==, -EPROTO);
    }
}

static void
test_rfc_response4(void)
{
    uint8_t txid[STUN_TXID_LEN] = { 0 };
    union wg_sockaddr a;

    g_assert_true(stun_looks_like(rfc_response4, sizeof(rfc_response4)));
    g_assert_cmpint(stun_parse_response(rfc_response4, sizeof(rfc_response4), txid, &a), ==, 0);
    g_assert_cmpmem(txid, sizeof(txid), rfc_txid, sizeof(rfc_txid));
    ref_assert_addr(&a, "192.0.2.1", 32853);
}

static void
test_rfc_response6(void)
{
    uint8_t txid[STUN_TXID_LEN] = { 0 };
    union wg_sockaddr a;

    g_assert_cmpint(stun_parse_response(rfc_response6, sizeof(rfc_response6), txid, &a), ==, 0);
    g_assert_cmpmem(txid, sizeof(txid), rfc_txid, sizeof(rfc_txid));
    ref_assert_addr(&a, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
}

/* The RFC's responses as requests, its request as a response: wrong types. */
static void
test_rfc_wrong_kind(void)
{
    uint8_t txid[STUN_TXID_LEN];
    union wg_sockaddr a;

    g_assert_cmpint(stun_parse_request(rfc_response4, sizeof(rfc_response4), txid), ==, -EPROTO);
    g_assert_cmpint(stun_parse_response(rfc_request, sizeof(rfc_request), txid, &a), ==, -EPROTO);
}

static void
test_request_bytes(void)
{
    const uint8_t txid[STUN_TXID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    uint8_t out[STUN_REQUEST_MAX], got[STUN_TXID_LEN] = { 0 };
    size_t n = stun_build_request(out, txid);

    /* header ‖ SOFTWARE "tailnode" ‖ FINGERPRINT, last. */
    g_assert_cmpuint(n, ==, 40);
    g_assert_cmpmem(out, 8, "\x00\x01\x00\x14\x21\x12\xa4\x42", 8);
    g_assert_cmpmem(out + 8, 12, txid, 12);
    g_assert_cmpmem(out + 20, 12, "\x80\x22\x00\x08tailnode", 12);
    g_assert_cmpmem(out + 32, 4, "\x80\x28\x00\x04", 4);
    g_assert_true(stun_looks_like(out, n));
    g_assert_cmpint(stun_parse_request(out, n, got), ==, 0);
    g_assert_cmpmem(got, sizeof(got), txid, sizeof(txid));
    /* Trailing bytes past the header's length are ignored. */
    memset(out + n, 0xee, 8);
    g_assert_cmpint(stun_parse_request(out, n + 8, got), ==, 0);
    /* The CRC is checked. */
    out[39] ^= 1;
    g_assert_cmpint(stun_parse_request(out, n, got), ==, -EPROTO);
}

/* A header of type with attrs (attrs_len bytes) into out; the message length. */
static size_t
message(uint8_t *out, uint16_t type, const void *attrs, size_t attrs_len)
{
    out[0] = (uint8_t)(type >> 8);
    out[1] = (uint8_t)type;
    out[2] = (uint8_t)(attrs_len >> 8);
    out[3] = (uint8_t)attrs_len;
    memcpy(out + 4, "\x21\x12\xa4\x42", 4);
    memcpy(out + 8, rfc_txid, STUN_TXID_LEN);
    memcpy(out + STUN_HEADER_LEN, attrs, attrs_len);
    return STUN_HEADER_LEN + attrs_len;
}

static void
test_request_fingerprint_rules(void)
{
    uint8_t p[128], txid[STUN_TXID_LEN];
    size_t n;

    /* No attributes, or no FINGERPRINT: accepted (other STUN clients). */
    n = message(p, 0x0001, "", 0);
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, 0);
    n = message(p, 0x0001,
                "\x80\x22\x00\x03"
                "abc\0",
                8);
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, 0);
    /* A FINGERPRINT that is not last. */
    n = stun_build_request(p, rfc_txid);
    memcpy(p + n, "\x80\x22\x00\x00", 4);
    p[3] += 4;
    g_assert_cmpint(stun_parse_request(p, n + 4, txid), ==, -EPROTO);
    /* A FINGERPRINT of the wrong length. */
    n = message(p, 0x0001, "\x80\x28\x00\x03\x00\x00\x00\x00", 8);
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, -EPROTO);
    /* An attribute running past the message. */
    n = message(p, 0x0001,
                "\x80\x22\x00\x09"
                "abcdefgh",
                12);
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, -EPROTO);
    /* A message length past the packet, or not a multiple of 4. */
    n = stun_build_request(p, rfc_txid);
    for (size_t cut = 1; cut < n; cut++)
        g_assert_cmpint(stun_parse_request(p, n - cut, txid), ==, -EPROTO);
    p[3] = 0x15;
    g_assert_cmpint(stun_parse_request(p, n + 4, txid), ==, -EPROTO);
    /* Bad cookie; not a binding request. */
    n = stun_build_request(p, rfc_txid);
    p[5] ^= 1;
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, -EPROTO);
    n = message(p, 0x0002, "", 0);
    g_assert_cmpint(stun_parse_request(p, n, txid), ==, -EPROTO);
}

static void
round_trip(const char *ip, uint16_t port)
{
    const uint8_t txid[STUN_TXID_LEN] = { 0xff, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 0x99 };
    union wg_sockaddr a = ref_addr(ip, port), got;
    uint8_t out[STUN_RESPONSE_MAX], gtx[STUN_TXID_LEN];
    size_t n = stun_build_response(out, txid, &a);

    g_assert_cmpuint(n, ==, a.sa.sa_family == AF_INET ? 32 : 44);
    g_assert_true(stun_looks_like(out, n));
    g_assert_cmpint(stun_parse_response(out, n, gtx, &got), ==, 0);
    g_assert_cmpmem(gtx, sizeof(gtx), txid, sizeof(txid));
    ref_assert_addr(&got, ip, port);
    /* Every truncation fails; trailing bytes are ignored. */
    for (size_t cut = 1; cut <= n; cut++)
        g_assert_cmpint(stun_parse_response(out, n - cut, gtx, &got), ==, -EPROTO);
    memset(out + n, 0, sizeof(out) - n);
    g_assert_cmpint(stun_parse_response(out, sizeof(out), gtx, &got), ==, 0);
    ref_assert_addr(&got, ip, port);
}

static void
test_response_round_trip(void)
{
    round_trip("198.51.100.7", 41641);
    round_trip("0.0.0.0", 0);
    round_trip("255.255.255.255", 65535);
    round_trip("2001:db8::1", 3478);
    round_trip("fe80::1:2:3:4", 1);
}

static void
test_response_unset_family(void)
{
    union wg_sockaddr a = { 0 };
    uint8_t out[STUN_RESPONSE_MAX];

    g_assert_cmpuint(stun_build_response(out, rfc_txid, &a), ==, 0);
}

static void
test_response_attrs(void)
{
    uint8_t p[128], txid[STUN_TXID_LEN];
    union wg_sockaddr a;
    size_t n;

    /* 0x8020, the comprehension-optional XOR-MAPPED-ADDRESS some servers send. */
    n = message(p, 0x0101, "\x80\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43", 12);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "192.0.2.1", 32853);
    /* MAPPED-ADDRESS alone, and after or before XOR-MAPPED-ADDRESS (which wins). */
    n = message(p, 0x0101, "\x00\x01\x00\x08\x00\x01\x12\x34\x0a\x00\x00\x01", 12);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "10.0.0.1", 0x1234);
    n = message(p, 0x0101,
                "\x00\x01\x00\x08\x00\x01\x12\x34\x0a\x00\x00\x01"
                "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43",
                24);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "192.0.2.1", 32853);
    n = message(p, 0x0101,
                "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43"
                "\x00\x01\x00\x08\x00\x01\x12\x34\x0a\x00\x00\x01",
                24);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "192.0.2.1", 32853);
    /* An IPv4-mapped IPv6 address comes out as IPv4. */
    n = message(p, 0x0101,
                "\x00\x01\x00\x14\x00\x02\x00\x35"
                "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04",
                24);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "1.2.3.4", 53);
    /* Unknown attributes are skipped, with their padding. */
    n = message(p, 0x0101,
                "\x80\x22\x00\x01x\0\0\0"
                "\x00\x01\x00\x08\x00\x01\x12\x34\x0a\x00\x00\x01",
                20);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    ref_assert_addr(&a, "10.0.0.1", 0x1234);
}

static void
test_response_malformed(void)
{
    uint8_t p[128], txid[STUN_TXID_LEN];
    union wg_sockaddr a;
    static const struct {
        const char *what;
        const char *attrs;
        size_t len;
    } bad[] = {
        { "no address", "\x80\x22\x00\x04test", 8 },
        { "no attributes", "", 0 },
        { "unknown family", "\x00\x20\x00\x08\x00\x03\xa1\x47\xe1\x12\xa6\x43", 12 },
        { "short IPv4", "\x00\x20\x00\x07\x00\x01\xa1\x47\xe1\x12\xa6\x00", 12 },
        { "short IPv6", "\x00\x20\x00\x08\x00\x02\xa1\x47\xe1\x12\xa6\x43", 12 },
        { "short value", "\x00\x20\x00\x03\x00\x01\xa1\x00", 8 },
        { "bad MAPPED-ADDRESS beside a good XOR one",
          "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43"
          "\x00\x01\x00\x02\x00\x01\x00\x00",
          20 },
        { "attribute past the end", "\x00\x20\x00\x0c\x00\x01\xa1\x47\xe1\x12\xa6\x43", 12 },
        { "half an attribute header", "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43\x00\x20",
          14 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        size_t n = message(p, 0x0101, bad[i].attrs, bad[i].len);

        g_test_message("%s", bad[i].what);
        g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, -EPROTO);
    }
    /* An error response (0x0111), a request, a bad cookie, top bits set. */
    size_t n = message(p, 0x0111, "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43", 12);
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, -EPROTO);
    p[1] = 0x01;
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, 0);
    p[0] = 0x41;
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, -EPROTO);
    p[0] = 0x01;
    p[7] = 0;
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, -EPROTO);
    /* A message length past the packet. */
    n = message(p, 0x0101, "\x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43", 12);
    p[3] = 16;
    g_assert_cmpint(stun_parse_response(p, n, txid, &a), ==, -EPROTO);
    for (size_t len = 0; len < STUN_HEADER_LEN; len++)
        g_assert_cmpint(stun_parse_response(rfc_response4, len, txid, &a), ==, -EPROTO);
}

static void
test_looks_like(void)
{
    uint8_t p[STUN_REQUEST_MAX];
    size_t n = stun_build_request(p, rfc_txid);

    g_assert_true(stun_looks_like(p, n));
    g_assert_true(stun_looks_like(p, STUN_HEADER_LEN));
    g_assert_false(stun_looks_like(p, STUN_HEADER_LEN - 1));
    p[0] = 0x40;
    g_assert_false(stun_looks_like(p, n));
    p[0] = 0x80;
    g_assert_false(stun_looks_like(p, n));
    p[0] = 0x00;
    p[1] = 0x11; /* an error response: not a binding success or request */
    g_assert_false(stun_looks_like(p, n));
    p[1] = 0x01;
    p[4] = 0x22;
    g_assert_false(stun_looks_like(p, n));
    /* A WireGuard initiation and a disco packet are not STUN. */
    g_assert_false(stun_looks_like((const uint8_t *)"\x01\0\0\0abcdefghijklmnopqrstuvwxyz", 30));
    g_assert_false(stun_looks_like((const uint8_t *)"TS\xf0\x9f\x92\xac"
                                                    "abcdefghijklmnopqrstuvwxyz",
                                   32));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/stun/rfc5769/request", test_rfc_request);
    g_test_add_func("/stun/rfc5769/response-ipv4", test_rfc_response4);
    g_test_add_func("/stun/rfc5769/response-ipv6", test_rfc_response6);
    g_test_add_func("/stun/rfc5769/wrong-kind", test_rfc_wrong_kind);
    g_test_add_func("/stun/request/bytes", test_request_bytes);
    g_test_add_func("/stun/request/fingerprint-rules", test_request_fingerprint_rules);
    g_test_add_func("/stun/response/round-trip", test_response_round_trip);
    g_test_add_func("/stun/response/unset-family", test_response_unset_family);
    g_test_add_func("/stun/response/attributes", test_response_attrs);
    g_test_add_func("/stun/response/malformed", test_response_malformed);
    g_test_add_func("/stun/looks-like", test_looks_like);
    return g_test_run();
}
