/* SPDX-License-Identifier: MIT */
#include "wg/cookie.h"

#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/blake2s.h"

static void
derive_key(uint8_t key[static WG_KEY_LEN], const char label[8],
           const uint8_t pub[static WG_KEY_LEN])
{
    struct b2s_state s;

    b2s_init(&s, WG_KEY_LEN);
    b2s_update(&s, label, 8);
    b2s_update(&s, pub, WG_KEY_LEN);
    b2s_final(&s, key, WG_KEY_LEN);
}

void
wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t our_public[static WG_KEY_LEN])
{
    sodium_memzero(c, sizeof(*c));
    derive_key(c->mac1_key, WG_LABEL_MAC1, our_public);
    derive_key(c->cookie_encryption_key, WG_LABEL_COOKIE, our_public);
}

void
wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[static WG_KEY_LEN])
{
    sodium_memzero(m, sizeof(*m));
    derive_key(m->mac1_key, WG_LABEL_MAC1, peer_public);
    derive_key(m->cookie_decryption_key, WG_LABEL_COOKIE, peer_public);
}

static void
compute_mac1(uint8_t mac[static WG_MAC_LEN], const uint8_t *msg, size_t len,
             const uint8_t key[static WG_KEY_LEN])
{
    size_t off = len - sizeof(struct wg_message_macs);

    b2s_hash(mac, WG_MAC_LEN, msg, off, key, WG_KEY_LEN);
}

static void
compute_mac2(uint8_t mac[static WG_MAC_LEN], const uint8_t *msg, size_t len,
             const uint8_t cookie[static WG_COOKIE_LEN])
{
    size_t off = len - WG_MAC_LEN;

    b2s_hash(mac, WG_MAC_LEN, msg, off, cookie, WG_COOKIE_LEN);
}

/* The cookie for a source: MAC(secret, ip || port), secret rotated every 2 minutes. */
static void
make_cookie(struct wg_cookie_checker *c, uint8_t cookie[static WG_COOKIE_LEN],
            const union wg_sockaddr *src, uint64_t now_ns)
{
    struct b2s_state s;

    if (!c->secret_valid || now_ns - c->secret_birth_ns >= WG_COOKIE_SECRET_MAX_AGE) {
        randombytes_buf(c->secret, sizeof(c->secret));
        c->secret_birth_ns = now_ns;
        c->secret_valid = true;
    }
    b2s_init_key(&s, WG_COOKIE_LEN, c->secret, sizeof(c->secret));
    if (src->sa.sa_family == AF_INET) {
        b2s_update(&s, &src->in4.sin_addr, 4);
        b2s_update(&s, &src->in4.sin_port, 2);
    } else if (src->sa.sa_family == AF_INET6) {
        b2s_update(&s, &src->in6.sin6_addr, 16);
        b2s_update(&s, &src->in6.sin6_port, 2);
    }
    b2s_final(&s, cookie, WG_COOKIE_LEN);
    sodium_memzero(&s, sizeof(s));
}

enum wg_cookie_mac_state
wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg, size_t len,
                   const union wg_sockaddr *src, bool check_mac2, uint64_t now_ns)
{
    const struct wg_message_macs *macs = (const void *)(msg + len - sizeof(*macs));
    uint8_t computed[WG_MAC_LEN];
    uint8_t cookie[WG_COOKIE_LEN];
    enum wg_cookie_mac_state ret = WG_COOKIE_MAC_INVALID;

    compute_mac1(computed, msg, len, c->mac1_key);
    if (sodium_memcmp(computed, macs->mac1, WG_MAC_LEN) != 0)
        goto out;
    ret = WG_COOKIE_MAC_VALID_MAC1;
    if (!check_mac2)
        goto out;
    make_cookie(c, cookie, src, now_ns);
    compute_mac2(computed, msg, len, cookie);
    if (sodium_memcmp(computed, macs->mac2, WG_MAC_LEN) == 0)
        ret = WG_COOKIE_MAC_VALID_MAC2;
out:
    sodium_memzero(cookie, sizeof(cookie));
    return ret;
}

void
wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns)
{
    struct wg_message_macs *macs = (void *)(msg + len - sizeof(*macs));

    compute_mac1(macs->mac1, msg, len, m->mac1_key);
    memcpy(m->last_mac1_sent, macs->mac1, WG_MAC_LEN);
    m->have_sent_mac1 = true;

    /* Stop using a cookie a little before the responder rotates its secret. */
    if (m->cookie_valid &&
        now_ns - m->cookie_birth_ns < WG_COOKIE_SECRET_MAX_AGE - WG_COOKIE_SECRET_LATENCY)
        compute_mac2(macs->mac2, msg, len, m->cookie);
    else
        memset(macs->mac2, 0, WG_MAC_LEN);
}

void
wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_message_handshake_cookie *reply,
                       const uint8_t *msg, size_t len, uint32_t receiver_index,
                       const union wg_sockaddr *src, uint64_t now_ns)
{
    const struct wg_message_macs *macs = (const void *)(msg + len - sizeof(*macs));
    uint8_t cookie[WG_COOKIE_LEN];

    reply->type = WG_MESSAGE_HANDSHAKE_COOKIE;
    reply->receiver_index = receiver_index;
    randombytes_buf(reply->nonce, sizeof(reply->nonce));
    make_cookie(c, cookie, src, now_ns);
    xaead_seal(reply->encrypted_cookie, cookie, WG_COOKIE_LEN, macs->mac1, WG_MAC_LEN, reply->nonce,
               c->cookie_encryption_key);
    sodium_memzero(cookie, sizeof(cookie));
}

bool
wg_cookie_consume_reply(struct wg_cookie_maker *m, const struct wg_message_handshake_cookie *reply,
                        uint64_t now_ns)
{
    uint8_t cookie[WG_COOKIE_LEN];

    if (!m->have_sent_mac1)
        return false;
    if (!xaead_open(cookie, reply->encrypted_cookie, sizeof(reply->encrypted_cookie),
                    m->last_mac1_sent, WG_MAC_LEN, reply->nonce, m->cookie_decryption_key))
        return false;
    memcpy(m->cookie, cookie, WG_COOKIE_LEN);
    m->cookie_birth_ns = now_ns;
    m->cookie_valid = true;
    m->have_sent_mac1 = false;
    sodium_memzero(cookie, sizeof(cookie));
    return true;
}
