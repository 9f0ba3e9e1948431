/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/endpoint.h"

/*
 * Disco messages (disco/disco.go): magic "TS💬" ‖ sender disco pub(32) ‖
 * nonce(24) ‖ NaCl box(type u8 ‖ version u8 ‖ body), boxed with the shared
 * key of (peer disco pub, my disco priv), precomputed once per peer
 * (crypto_box_beforenm). Unknown types and trailing bytes are ignored.
 */
#define DISCO_MAGIC "TS\xf0\x9f\x92\xac"

enum {
    DISCO_MAGIC_LEN = 6,
    DISCO_KEY_LEN = 32,
    DISCO_NONCE_LEN = 24,
    DISCO_HEADER_LEN = DISCO_MAGIC_LEN + DISCO_KEY_LEN + DISCO_NONCE_LEN,
    DISCO_BOX_OVERHEAD = 16,
    DISCO_TXID_LEN = 12,
    DISCO_MAX_CALL_ME_MAYBE = 64, /* endpoints we read from one CallMeMaybe */
    DISCO_PACKET_MAX = 1500,      /* what disco_seal ever writes (a padded ping included) */
};

enum disco_type {
    DISCO_PING = 0x01,          /* TxID(12) ‖ sender node pub(32) ‖ zero padding */
    DISCO_PONG = 0x02,          /* TxID(12) ‖ src IP16 ‖ port u16 BE */
    DISCO_CALL_ME_MAYBE = 0x03, /* n × (IP16 ‖ port u16 BE); accepted only via DERP */
};

struct disco_shared_key {
    uint8_t k[32]; /* crypto_box_BEFORENMBYTES; wipe with sodium_memzero */
};

struct disco_msg {
    uint8_t type; /* enum disco_type */
    union {
        struct {
            uint8_t txid[DISCO_TXID_LEN];
            uint8_t node_key[DISCO_KEY_LEN];
            uint16_t padding; /* seal: zero bytes to add (path MTU probes) */
        } ping;
        struct {
            uint8_t txid[DISCO_TXID_LEN];
            union wg_sockaddr src; /* the address the ping came from, as the pinged node saw it */
        } pong;
        struct {
            size_t n;
            union wg_sockaddr endpoints[DISCO_MAX_CALL_ME_MAYBE];
        } call_me_maybe;
    };
};

/* Magic present and long enough for the header: Tailscale's "looks like disco". */
bool disco_looks_like(const uint8_t *p, size_t len);
/* The sender's disco public key inside a packet that looks like disco. */
const uint8_t *disco_sender(const uint8_t *p);

void disco_shared_key_init(struct disco_shared_key *s, const uint8_t peer_pub[DISCO_KEY_LEN],
                           const uint8_t my_priv[DISCO_KEY_LEN]);

/* out = magic ‖ my_pub ‖ random nonce ‖ box(msg). Returns the length, -ENOBUFS, -EINVAL. */
ssize_t disco_seal(uint8_t *out, size_t cap, const uint8_t my_pub[DISCO_KEY_LEN],
                   const struct disco_shared_key *s, const struct disco_msg *m);
/*
 * Open and parse a packet from disco_sender(pkt) whose shared key is s.
 * 0, -EBADMSG (box fails), -EPROTO (malformed), -ENOTSUP (unknown type:
 * ignore it; the version byte is ignored as disco.go does), -ENOMEM (a box
 * past DISCO_PACKET_MAX is opened in a heap buffer).
 */
int disco_open(const uint8_t *pkt, size_t len, const struct disco_shared_key *s,
               struct disco_msg *m);
