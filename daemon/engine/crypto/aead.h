/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The AEAD seam: ChaCha20-Poly1305 (IETF, 96-bit nonce) for the bulk data path
 * and handshakes, XChaCha20-Poly1305 for WireGuard cookie replies.
 * Bulk ChaCha20-Poly1305 comes from OpenSSL's EVP (AVX-512 paths) or libsodium,
 * chosen at run time with aead_set_backend(); the default is the measured winner
 * (bench/engine/aead.c, bench/RESULTS.md). All functions are thread-safe.
 * dst may equal src (in place). dst must hold len + AEAD_TAG_LEN bytes for seal.
 */
enum {
    AEAD_KEY_LEN = 32,
    AEAD_NONCE_LEN = 12,
    AEAD_XNONCE_LEN = 24,
    AEAD_TAG_LEN = 16,
};

enum aead_backend {
    AEAD_BACKEND_OPENSSL,
    AEAD_BACKEND_LIBSODIUM,
};

void aead_set_backend(enum aead_backend b);
enum aead_backend aead_get_backend(void);
const char *aead_backend_name(enum aead_backend b);

/* WireGuard nonce: 4 zero bytes then the counter little-endian. */
void aead_nonce_le(uint8_t nonce[static AEAD_NONCE_LEN], uint64_t counter);
/* TS2021 controlbase nonce: 4 zero bytes then the counter big-endian. */
void aead_nonce_be(uint8_t nonce[static AEAD_NONCE_LEN], uint64_t counter);

/* Returns false only on backend failure. */
bool aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
               const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN]);
/*
 * len includes the tag; writes len - AEAD_TAG_LEN bytes; false on bad tag or len < tag.
 * On failure dst never holds unauthenticated plaintext (it is left alone or zeroed).
 */
bool aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
               const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN]);

bool xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                const uint8_t nonce[static AEAD_XNONCE_LEN],
                const uint8_t key[static AEAD_KEY_LEN]);
bool xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                const uint8_t nonce[static AEAD_XNONCE_LEN],
                const uint8_t key[static AEAD_KEY_LEN]);
