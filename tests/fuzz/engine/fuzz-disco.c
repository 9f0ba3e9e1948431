/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/magicsock/disco (disco/disco.go).
 * data[0] bit 0 picks what the rest is:
 *   0: the plaintext inside a box (type ‖ version ‖ body), sealed here with
 *      libsodium alone, so the parser sees anything: the outcome must be what
 *      disco.go's rules give, and a parsed message sealed again with
 *      disco_seal must open to the same message;
 *   1: a whole packet off the wire: it opens only if it is a box sealed with
 *      our key (seeds hold some), and then obeys the same rules.
 * Keys and the nonce of mode 0 are fixed, so runs are reproducible.
 * FUZZ_DISCO_SEED_DIR=dir writes valid packets there as mode-1 seeds.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "fuzz-harness.h"
#include "magicsock/disco.h"

static uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
static struct disco_shared_key ab, ba; /* a's key for b, b's for a */
static bool ready;

/* What a plaintext must parse to, by disco.go's rules; checks m when it parsed. */
static void
check_rules(const uint8_t *plain, size_t len, int r, const struct disco_msg *m)
{
    if (len < 2) {
        CHECK(r == -EPROTO);
        return;
    }
    const uint8_t *body = plain + 2;
    size_t n = len - 2;

    switch (plain[0]) {
    case DISCO_PING:
        if (n < DISCO_TXID_LEN) {
            CHECK(r == -EPROTO);
            return;
        }
        CHECK(r == 0 && m->type == DISCO_PING);
        CHECK(memcmp(m->ping.txid, body, DISCO_TXID_LEN) == 0);
        n -= DISCO_TXID_LEN;
        if (n >= DISCO_KEY_LEN) {
            CHECK(memcmp(m->ping.node_key, body + DISCO_TXID_LEN, DISCO_KEY_LEN) == 0);
            n -= DISCO_KEY_LEN;
        } else {
            CHECK(sodium_is_zero(m->ping.node_key, DISCO_KEY_LEN));
        }
        CHECK(m->ping.padding == (n > UINT16_MAX ? UINT16_MAX : n));
        return;
    case DISCO_PONG:
        if (n < DISCO_TXID_LEN + 18) {
            CHECK(r == -EPROTO);
            return;
        }
        CHECK(r == 0 && m->type == DISCO_PONG);
        CHECK(memcmp(m->pong.txid, body, DISCO_TXID_LEN) == 0);
        CHECK(m->pong.src.sa.sa_family == AF_INET || m->pong.src.sa.sa_family == AF_INET6);
        return;
    case DISCO_CALL_ME_MAYBE: {
        size_t want = plain[1] == 0 && n % 18 == 0 ? n / 18 : 0;

        CHECK(r == 0 && m->type == DISCO_CALL_ME_MAYBE);
        CHECK(m->call_me_maybe.n ==
              (want > DISCO_MAX_CALL_ME_MAYBE ? DISCO_MAX_CALL_ME_MAYBE : want));
        return;
    }
    default:
        CHECK(r == -ENOTSUP);
    }
}

/* A parsed message, sealed by us and opened again, is the same message. */
static void
check_reseal(const struct disco_msg *m)
{
    static uint8_t pkt[DISCO_PACKET_MAX];
    struct disco_msg again;
    ssize_t n = disco_seal(pkt, sizeof(pkt), a_pub, &ab, m);

    if (n == -EINVAL) {
        /* Only a ping padded past one packet is refused. */
        CHECK(m->type == DISCO_PING && m->ping.padding > 1300);
        return;
    }
    CHECK(n > DISCO_HEADER_LEN && n <= DISCO_PACKET_MAX);
    CHECK(disco_open(pkt, (size_t)n, &ba, &again) == 0);
    if (m->type == DISCO_PING && sodium_is_zero(m->ping.node_key, DISCO_KEY_LEN)) {
        /*
         * A zero node key is not sent (disco.go does the same), so 32 bytes
         * of padding read back as that zero key.
         */
        CHECK(sodium_is_zero(again.ping.node_key, DISCO_KEY_LEN));
        CHECK(memcmp(again.ping.txid, m->ping.txid, DISCO_TXID_LEN) == 0);
        CHECK(
            again.ping.padding ==
            (m->ping.padding >= DISCO_KEY_LEN ? m->ping.padding - DISCO_KEY_LEN : m->ping.padding));
        return;
    }
    CHECK(memcmp(&again, m, sizeof(again)) == 0);
}

static void
write_seed(const char *name, const struct disco_msg *m)
{
    uint8_t pkt[DISCO_PACKET_MAX];
    ssize_t n = disco_seal(pkt, sizeof(pkt), a_pub, &ab, m);

    CHECK(n > 0);
    fuzz_write_seed("FUZZ_DISCO_SEED_DIR", name, 1, NULL, 0, pkt, (size_t)n);
}

static void
setup(void)
{
    struct disco_msg m = { .type = DISCO_PING };
    union wg_sockaddr v4 = { .in4 = { .sin_family = AF_INET,
                                      .sin_port = htons(41641),
                                      .sin_addr.s_addr = htonl(0xc0000201) } };

    CHECK(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        a_priv[i] = (uint8_t)(7 + i);
        b_priv[i] = (uint8_t)(77 + i);
    }
    CHECK(crypto_scalarmult_base(a_pub, a_priv) == 0);
    CHECK(crypto_scalarmult_base(b_pub, b_priv) == 0);
    disco_shared_key_init(&ab, b_pub, a_priv);
    disco_shared_key_init(&ba, a_pub, b_priv);
    ready = true;
    if (!getenv("FUZZ_DISCO_SEED_DIR"))
        return;
    memset(m.ping.txid, 1, DISCO_TXID_LEN);
    memset(m.ping.node_key, 2, DISCO_KEY_LEN);
    write_seed("packet-ping", &m);
    m.ping.padding = 100;
    write_seed("packet-ping-padded", &m);
    memset(&m, 0, sizeof(m));
    m.type = DISCO_PONG;
    m.pong.src = v4;
    write_seed("packet-pong", &m);
    memset(&m, 0, sizeof(m));
    m.type = DISCO_CALL_ME_MAYBE;
    m.call_me_maybe.n = 2;
    m.call_me_maybe.endpoints[0] = v4;
    m.call_me_maybe.endpoints[1].in6.sin6_family = AF_INET6;
    m.call_me_maybe.endpoints[1].in6.sin6_port = htons(3478);
    m.call_me_maybe.endpoints[1].in6.sin6_addr.s6_addr[0] = 0x20;
    write_seed("packet-call-me-maybe", &m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pkt[DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + 70000];
    struct disco_msg m;
    int r;

    if (!ready)
        setup();
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    if (data[0] & 1) {
        r = disco_open(p, len, &ba, &m);
        CHECK(r == 0 || r == -EPROTO || r == -EBADMSG || r == -ENOTSUP);
        if (!disco_looks_like(p, len) || len < DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD) {
            CHECK(r == -EPROTO);
            return 0;
        }
        CHECK(disco_sender(p) == p + DISCO_MAGIC_LEN);
        if (r == 0)
            check_reseal(&m);
        return 0;
    }

    if (len > 70000)
        return 0;
    memcpy(pkt, DISCO_MAGIC, DISCO_MAGIC_LEN);
    memcpy(pkt + DISCO_MAGIC_LEN, a_pub, DISCO_KEY_LEN);
    memset(pkt + DISCO_MAGIC_LEN + DISCO_KEY_LEN, 0x5a, DISCO_NONCE_LEN);
    CHECK(crypto_box_easy(pkt + DISCO_HEADER_LEN, p, len, pkt + DISCO_MAGIC_LEN + DISCO_KEY_LEN,
                          b_pub, a_priv) == 0);
    r = disco_open(pkt, DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + len, &ba, &m);
    check_rules(p, len, r, &m);
    if (r == 0)
        check_reseal(&m);
    return 0;
}
