/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/magicsock/stun (RFC 5389 binding
 * messages, net/stun/stun.go). data[0] bit 0 picks what the rest is read as:
 *   0: a binding request (hyphae-derp's STUN server side);
 *   1: a binding response (the netcheck client side).
 * Both: packetLooksLike's test agrees with its definition; whatever parses
 * is a STUN message with that transaction ID; a parsed response rebuilt from
 * its transaction ID and address parses to the same; our own request with
 * the input's first 12 bytes as transaction ID always parses.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-harness.h"
#include "magicsock/stun.h"

static bool
looks_like_ref(const uint8_t *p, size_t len)
{
    return len >= 20 && p[0] < 0x40 && p[1] == 0x01 && p[4] == 0x21 && p[5] == 0x12 &&
           p[6] == 0xa4 && p[7] == 0x42;
}

static void
check_response(const uint8_t *p, size_t len)
{
    uint8_t txid[STUN_TXID_LEN], txid2[STUN_TXID_LEN], out[STUN_RESPONSE_MAX];
    union wg_sockaddr a, b;
    size_t n;
    int r = stun_parse_response(p, len, txid, &a);

    CHECK(r == 0 || r == -EPROTO);
    if (r < 0)
        return;
    CHECK(looks_like_ref(p, len) && p[0] == 0x01);
    CHECK(memcmp(txid, p + 8, STUN_TXID_LEN) == 0);
    CHECK(a.sa.sa_family == AF_INET || a.sa.sa_family == AF_INET6);
    n = stun_build_response(out, txid, &a);
    CHECK(n > STUN_HEADER_LEN && n <= STUN_RESPONSE_MAX);
    CHECK(stun_parse_response(out, n, txid2, &b) == 0);
    CHECK(memcmp(txid, txid2, STUN_TXID_LEN) == 0);
    CHECK(wg_sockaddr_equal(&a, &b));
}

static void
check_request(const uint8_t *p, size_t len)
{
    uint8_t txid[STUN_TXID_LEN];
    int r = stun_parse_request(p, len, txid);

    CHECK(r == 0 || r == -EPROTO);
    if (r < 0)
        return;
    CHECK(looks_like_ref(p, len) && p[0] == 0x00);
    CHECK(memcmp(txid, p + 8, STUN_TXID_LEN) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t req[STUN_REQUEST_MAX], txid[STUN_TXID_LEN] = { 0 }, got[STUN_TXID_LEN];
    size_t n;

    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    CHECK(stun_looks_like(p, len) == looks_like_ref(p, len));
    if (data[0] & 1)
        check_response(p, len);
    else
        check_request(p, len);

    memcpy(txid, p, len < STUN_TXID_LEN ? len : STUN_TXID_LEN);
    n = stun_build_request(req, txid);
    CHECK(n <= STUN_REQUEST_MAX);
    CHECK(stun_parse_request(req, n, got) == 0 && memcmp(got, txid, STUN_TXID_LEN) == 0);
    return 0;
}
