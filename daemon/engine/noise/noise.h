/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The Noise handshake core shared by TS2021 (Noise_IK_25519_ChaChaPoly_BLAKE2s)
 * and WireGuard (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s), per the Noise spec rev 34:
 *
 *   IK:       <- s
 *             ...
 *             -> e, es, s, ss
 *             <- e, ee, se
 *   IKpsk2:   same, with "psk" appended to the second message.
 *
 * Handshake AEAD nonces are little-endian as the spec says (each key is used
 * once per message with n = 0 in both patterns). Only the state machine lives
 * here; wire layout (WireGuard's header, MACs, Tailscale's framing) belongs to
 * the callers. Every secret is wiped by noise_handshake_wipe() and on failure.
 *
 * Message bodies: msg1 = e(32) || enc(s)(48) || enc(payload)(len+16)
 *                 msg2 = e(32) || enc(payload)(len+16)
 */
enum {
    NOISE_KEY_LEN = 32,
    NOISE_HASH_LEN = 32,
    NOISE_TAG_LEN = 16,
    NOISE_MSG1_OVERHEAD = 32 + 32 + 16 + 16,
    NOISE_MSG2_OVERHEAD = 32 + 16,
};

enum noise_pattern {
    NOISE_PATTERN_IK,
    NOISE_PATTERN_IKPSK2,
};

struct noise_handshake {
    enum noise_pattern pattern;
    bool initiator;
    uint8_t ck[NOISE_HASH_LEN];
    uint8_t h[NOISE_HASH_LEN];
    uint8_t s_priv[NOISE_KEY_LEN], s_pub[NOISE_KEY_LEN];
    uint8_t e_priv[NOISE_KEY_LEN], e_pub[NOISE_KEY_LEN];
    uint8_t rs[NOISE_KEY_LEN]; /* remote static: known (initiator) or learnt from msg1 */
    uint8_t re[NOISE_KEY_LEN];
    uint8_t psk[NOISE_KEY_LEN];
};

/*
 * protocol_name: e.g. "Noise_IK_25519_ChaChaPoly_BLAKE2s" (hashed, or copied
 * when ≤ 32 bytes, per spec). Initiator: rs must be the responder's static key.
 * Responder: rs NULL. psk: NULL means all zero (IKpsk2 only).
 * Returns false if s_priv is zero.
 */
bool noise_handshake_init(struct noise_handshake *hs, enum noise_pattern pattern, bool initiator,
                          const char *protocol_name, const uint8_t *prologue, size_t prologue_len,
                          const uint8_t s_priv[static NOISE_KEY_LEN], const uint8_t *rs,
                          const uint8_t *psk);
void noise_handshake_wipe(struct noise_handshake *hs);

/* Low-level steps (also used by WireGuard, which precomputes nothing else). */
void noise_mix_hash(struct noise_handshake *hs, const void *data, size_t len);

/*
 * Initiator writes message 1. e_priv: NULL for a fresh random ephemeral (tests
 * pass fixed ones). out must hold payload_len + NOISE_MSG1_OVERHEAD.
 * Returns bytes written or negative errno.
 */
int noise_write_msg1(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
                     size_t payload_len, uint8_t *out, size_t out_cap);
/* Responder reads message 1; learns rs (hs->rs). Returns payload length or -EBADMSG. */
int noise_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                    size_t payload_cap);
/* Responder writes message 2 (psk must be set in hs for IKpsk2 before this). */
int noise_write_msg2(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
                     size_t payload_len, uint8_t *out, size_t out_cap);
int noise_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                    size_t payload_cap);

/*
 * Split into transport keys: send/recv from this side's point of view
 * (initiator sends with k1, responder with k2). Wipes ck and e_priv; h stays
 * (the handshake hash, e.g. for channel binding).
 */
void noise_split(struct noise_handshake *hs, uint8_t send[static NOISE_KEY_LEN],
                 uint8_t recv[static NOISE_KEY_LEN]);
