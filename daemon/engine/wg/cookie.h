/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/endpoint.h"
#include "wg/messages.h"

/*
 * WireGuard's DoS cookies (whitepaper §5.4.4, §5.4.7; kernel cookie.c).
 *   mac1 = MAC(HASH("mac1----" || S_pub_receiver), msg[..mac1])   always checked
 *   mac2 = MAC(cookie, msg[..mac2])                               checked under load
 *   cookie = MAC(R_secret, source IP || source port), R rotated every 120 s
 *   reply  = XAEAD(HASH("cookie--" || S_pub_receiver), nonce24, cookie, AD = mac1)
 * MAC is keyed BLAKE2s-128.
 */

/* The receiving side: our own static key. */
struct wg_cookie_checker {
    uint8_t mac1_key[WG_KEY_LEN];
    uint8_t cookie_encryption_key[WG_KEY_LEN];
    uint8_t secret[WG_KEY_LEN];
    uint64_t secret_birth_ns;
    bool secret_valid;
};

/* The sending side, per peer: the peer's static key and the cookie it gave us. */
struct wg_cookie_maker {
    uint8_t mac1_key[WG_KEY_LEN];
    uint8_t cookie_decryption_key[WG_KEY_LEN];
    uint8_t cookie[WG_COOKIE_LEN];
    uint64_t cookie_birth_ns;
    bool cookie_valid;
    bool have_sent_mac1;
    uint8_t last_mac1_sent[WG_MAC_LEN];
};

enum wg_cookie_mac_state {
    WG_COOKIE_MAC_INVALID,    /* mac1 wrong: drop silently */
    WG_COOKIE_MAC_VALID_MAC1, /* mac1 ok, mac2 missing or wrong */
    WG_COOKIE_MAC_VALID_MAC2, /* both ok */
};

void wg_cookie_checker_init(struct wg_cookie_checker *c,
                            const uint8_t our_public[static WG_KEY_LEN]);
void wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[static WG_KEY_LEN]);

/* msg is a whole handshake message (initiation or response) ending in struct wg_message_macs. */
enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const uint8_t *msg,
                                            size_t len, const union wg_sockaddr *src,
                                            bool check_mac2, uint64_t now_ns);
/* Fill mac1 (and mac2 when we hold a fresh cookie) of an outgoing message. */
void wg_cookie_add_macs(struct wg_cookie_maker *m, uint8_t *msg, size_t len, uint64_t now_ns);
/* Build the reply to msg (which triggered it) from src. */
void wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_message_handshake_cookie *reply,
                            const uint8_t *msg, size_t len, uint32_t receiver_index,
                            const union wg_sockaddr *src, uint64_t now_ns);
/* Consume a cookie reply for a message we sent; false if it does not authenticate. */
bool wg_cookie_consume_reply(struct wg_cookie_maker *m,
                             const struct wg_message_handshake_cookie *reply, uint64_t now_ns);
