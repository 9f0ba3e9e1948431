/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * BLAKE2s (RFC 7693), HMAC-BLAKE2s and the Noise HKDF.
 * libsodium has no BLAKE2s; we use libb2 (the BLAKE2 authors' library,
 * packaged by Debian) behind these functions. b2s_ names avoid libb2's own.
 */
enum {
    B2S_HASH_LEN = 32,
    B2S_BLOCK_LEN = 64,
    B2S_KEY_MAX = 32,
};

/* Opaque storage big enough for libb2's blake2s_state (checked in blake2s.c). */
struct b2s_state {
    _Alignas(64) uint8_t opaque[256];
};

void b2s_init(struct b2s_state *s, size_t outlen);
void b2s_init_key(struct b2s_state *s, size_t outlen, const uint8_t *key, size_t keylen);
void b2s_update(struct b2s_state *s, const void *in, size_t inlen);
/* outlen must match b2s_init's; the state is wiped afterwards. */
void b2s_final(struct b2s_state *s, uint8_t *out, size_t outlen);

/* One shot; key may be NULL with keylen 0. outlen 1..32. */
void b2s_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen, const uint8_t *key,
              size_t keylen);

/* HMAC (RFC 2104) over BLAKE2s-256, block size 64. */
void b2s_hmac(uint8_t out[static B2S_HASH_LEN], const uint8_t *key, size_t keylen, const void *in,
              size_t inlen);

/*
 * Noise HKDF(ck, ikm) with 1–3 outputs (Noise spec §4.3): any of out2/out3 may be
 * NULL. Each output is 32 bytes. Intermediate secrets are wiped.
 */
void b2s_hkdf(uint8_t out1[static B2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
              const uint8_t ck[static B2S_HASH_LEN], const uint8_t *ikm, size_t ikmlen);
