/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * 32-byte X25519 keys and their text forms.
 * Tailscale text form: prefix + 64 lowercase hex (types/key/util.go parseHex):
 * parsing is strict (exact prefix, exactly 64 hex digits, "" fails).
 * WireGuard forms: base64 (wg(8) configs) and hex (the UAPI).
 */
enum {
    KEY_LEN = 32,
    KEY_HEX_LEN = 64,
    KEY_BASE64_LEN = 44,
};

#define KEY_PREFIX_MACHINE "mkey:"
#define KEY_PREFIX_NODE    "nodekey:"
#define KEY_PREFIX_DISCO   "discokey:"
#define KEY_PREFIX_PRIVATE "privkey:"

/* Random private key, clamped as X25519 and Tailscale require. */
void key_generate_private(uint8_t priv[static KEY_LEN]);
void key_clamp(uint8_t priv[static KEY_LEN]);
/* false if priv is all zero. */
bool key_public_from_private(uint8_t pub[static KEY_LEN], const uint8_t priv[static KEY_LEN]);
/* X25519; false when the result is all zero (low-order point). */
bool key_x25519(uint8_t out[static KEY_LEN], const uint8_t priv[static KEY_LEN],
                const uint8_t pub[static KEY_LEN]);
bool key_is_zero(const uint8_t k[static KEY_LEN]);
/* Constant time. */
bool key_equal(const uint8_t a[static KEY_LEN], const uint8_t b[static KEY_LEN]);

/* Writes prefix + hex + NUL; returns chars written (without NUL) or -ENOSPC. */
int key_to_text(char *out, size_t out_size, const char *prefix, const uint8_t k[static KEY_LEN]);
/* Strict parse of prefix + 64 lowercase-or-uppercase hex. -EINVAL on any deviation. */
int key_from_text(uint8_t k[static KEY_LEN], const char *prefix, const char *text, size_t len);

void key_to_hex(char out[static KEY_HEX_LEN + 1], const uint8_t k[static KEY_LEN]);
/* Exactly 64 hex digits; constant time in the key bytes. */
bool key_from_hex(uint8_t k[static KEY_LEN], const char *hex, size_t len);
void key_to_base64(char out[static KEY_BASE64_LEN + 1], const uint8_t k[static KEY_LEN]);
/* Canonical 44-char base64 with one '=' pad; constant time in the key bytes. */
bool key_from_base64(uint8_t k[static KEY_LEN], const char *b64, size_t len);
