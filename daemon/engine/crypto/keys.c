/* SPDX-License-Identifier: MIT */
/*
 * X25519 keys (RFC 7748) via libsodium, and their text forms.
 *
 * Hex and base64 codecs run in time independent of the key bytes: every
 * character goes through the same arithmetic (range masks instead of table
 * lookups or branches), and errors are accumulated and checked once at the
 * end. Only lengths and the (public) prefix are compared with branches.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_init_once(void)
{
    /* Only fails if the system RNG is unusable; randombytes_buf aborts then. */
    if (sodium_init() < 0)
        return;
}

void
key_clamp(uint8_t priv[static KEY_LEN])
{
    priv[0] &= 248;
    priv[31] = (priv[31] & 127) | 64;
}

void
key_generate_private(uint8_t priv[static KEY_LEN])
{
    pthread_once(&sodium_once, sodium_init_once);
    randombytes_buf(priv, KEY_LEN);
    key_clamp(priv);
}

bool
key_is_zero(const uint8_t k[static KEY_LEN])
{
    return sodium_is_zero(k, KEY_LEN) == 1;
}

bool
key_equal(const uint8_t a[static KEY_LEN], const uint8_t b[static KEY_LEN])
{
    return crypto_verify_32(a, b) == 0;
}

bool
key_public_from_private(uint8_t pub[static KEY_LEN], const uint8_t priv[static KEY_LEN])
{
    /* crypto_scalarmult_base clamps a copy of priv itself. */
    if (key_is_zero(priv) || crypto_scalarmult_base(pub, priv) != 0) {
        sodium_memzero(pub, KEY_LEN);
        return false;
    }
    return true;
}

bool
key_x25519(uint8_t out[static KEY_LEN], const uint8_t priv[static KEY_LEN],
           const uint8_t pub[static KEY_LEN])
{
    /* libsodium returns -1 for an all-zero result; check again regardless. */
    if (crypto_scalarmult(out, priv, pub) != 0 || key_is_zero(out)) {
        sodium_memzero(out, KEY_LEN);
        return false;
    }
    return true;
}

/*
 * 0xff if lo <= c <= hi else 0, for c, lo, hi in 0..255: both differences are
 * negative (bits 8..15 all set) only when c is inside the range.
 */
static unsigned
ct_in_range(unsigned c, unsigned lo, unsigned hi)
{
    int a = (int)lo - 1 - (int)c;
    int b = (int)c - (int)hi - 1;

    return ((unsigned)(a & b) >> 8) & 0xff;
}

/* 0xff if c >= lo, for c and lo in 0..255. */
static unsigned
ct_ge(unsigned c, unsigned lo)
{
    return ((unsigned)((int)lo - 1 - (int)c) >> 8) & 0xff;
}

static char
hex_digit(unsigned n)
{
    /* '0' + n, plus the gap from '9' + 1 to 'a' when n >= 10. */
    return (char)('0' + n + (ct_ge(n, 10) & ('a' - '9' - 1)));
}

/* Value of a hex digit in the low nibble; *err gets 0xff if c is not one. */
static unsigned
hex_value(unsigned char c, unsigned *err)
{
    unsigned dig = ct_in_range(c, '0', '9');
    unsigned low = ct_in_range(c, 'a', 'f');
    unsigned up = ct_in_range(c, 'A', 'F');

    *err |= ~(dig | low | up) & 0xff;
    return ((dig & (c - '0')) | (low & (c - 'a' + 10)) | (up & (c - 'A' + 10))) & 0xf;
}

void
key_to_hex(char out[static KEY_HEX_LEN + 1], const uint8_t k[static KEY_LEN])
{
    size_t i;

    for (i = 0; i < KEY_LEN; i++) {
        out[2 * i] = hex_digit(k[i] >> 4);
        out[2 * i + 1] = hex_digit(k[i] & 0xf);
    }
    out[KEY_HEX_LEN] = '\0';
}

/* A decoder's last step: k gets the scratch copy only if no digit was bad; tmp is wiped. */
static bool
key_commit(uint8_t k[static KEY_LEN], uint8_t tmp[static KEY_LEN], unsigned err)
{
    bool ok = err == 0;

    if (ok)
        memcpy(k, tmp, KEY_LEN);
    sodium_memzero(tmp, KEY_LEN);
    return ok;
}

bool
key_from_hex(uint8_t k[static KEY_LEN], const char *hex, size_t len)
{
    uint8_t tmp[KEY_LEN];
    unsigned err = 0;
    size_t i;

    if (!hex || len != KEY_HEX_LEN)
        return false;
    for (i = 0; i < KEY_LEN; i++) {
        unsigned hi = hex_value((unsigned char)hex[2 * i], &err);
        unsigned lo = hex_value((unsigned char)hex[2 * i + 1], &err);

        tmp[i] = (uint8_t)((hi << 4) | lo);
    }
    return key_commit(k, tmp, err);
}

int
key_to_text(char *out, size_t out_size, const char *prefix, const uint8_t k[static KEY_LEN])
{
    size_t plen = prefix ? strlen(prefix) : 0;

    if (!out || out_size < plen + KEY_HEX_LEN + 1)
        return -ENOSPC;
    if (plen)
        memcpy(out, prefix, plen);
    key_to_hex(out + plen, k);
    return (int)(plen + KEY_HEX_LEN);
}

int
key_from_text(uint8_t k[static KEY_LEN], const char *prefix, const char *text, size_t len)
{
    size_t plen = prefix ? strlen(prefix) : 0;

    if (!text || len != plen + KEY_HEX_LEN || (plen && memcmp(text, prefix, plen) != 0))
        return -EINVAL;
    return key_from_hex(k, text + plen, KEY_HEX_LEN) ? 0 : -EINVAL;
}

/* Standard alphabet (RFC 4648 §4): A–Z a–z 0–9 + / */
static char
b64_char(unsigned v)
{
    unsigned c = 'A' + v;

    c += ct_ge(v, 26) & ('a' - 'A' - 26);
    c -= ct_ge(v, 52) & ('a' + 26 - '0');
    c -= ct_ge(v, 62) & ('0' + 10 - '+');
    c += ct_ge(v, 63) & ('/' - '+' - 1);
    return (char)c;
}

static unsigned
b64_value(unsigned char c, unsigned *err)
{
    unsigned up = ct_in_range(c, 'A', 'Z');
    unsigned low = ct_in_range(c, 'a', 'z');
    unsigned dig = ct_in_range(c, '0', '9');
    unsigned plus = ct_in_range(c, '+', '+');
    unsigned slash = ct_in_range(c, '/', '/');

    *err |= ~(up | low | dig | plus | slash) & 0xff;
    return ((up & (c - 'A')) | (low & (c - 'a' + 26)) | (dig & (c - '0' + 52)) | (plus & 62) |
            (slash & 63)) &
           0x3f;
}

void
key_to_base64(char out[static KEY_BASE64_LEN + 1], const uint8_t k[static KEY_LEN])
{
    size_t i, o = 0;
    uint32_t w;

    /* 10 groups of 3 bytes, then 2 bytes -> 3 chars + '='. */
    for (i = 0; i + 3 <= KEY_LEN; i += 3) {
        w = ((uint32_t)k[i] << 16) | ((uint32_t)k[i + 1] << 8) | k[i + 2];
        out[o++] = b64_char((w >> 18) & 0x3f);
        out[o++] = b64_char((w >> 12) & 0x3f);
        out[o++] = b64_char((w >> 6) & 0x3f);
        out[o++] = b64_char(w & 0x3f);
    }
    w = ((uint32_t)k[30] << 16) | ((uint32_t)k[31] << 8);
    out[o++] = b64_char((w >> 18) & 0x3f);
    out[o++] = b64_char((w >> 12) & 0x3f);
    out[o++] = b64_char((w >> 6) & 0x3f);
    out[o++] = '=';
    out[o] = '\0';
    w = 0;
    sodium_memzero(&w, sizeof(w));
}

bool
key_from_base64(uint8_t k[static KEY_LEN], const char *b64, size_t len)
{
    const unsigned char *in = (const unsigned char *)b64;
    uint8_t tmp[KEY_LEN];
    unsigned err = 0;
    uint32_t w = 0;
    size_t i, o = 0;

    if (!b64 || len != KEY_BASE64_LEN || b64[KEY_BASE64_LEN - 1] != '=')
        return false;
    for (i = 0; i < 40; i += 4) {
        w = (b64_value(in[i], &err) << 18) | (b64_value(in[i + 1], &err) << 12) |
            (b64_value(in[i + 2], &err) << 6) | b64_value(in[i + 3], &err);
        tmp[o++] = (uint8_t)(w >> 16);
        tmp[o++] = (uint8_t)(w >> 8);
        tmp[o++] = (uint8_t)w;
    }
    w = (b64_value(in[40], &err) << 18) | (b64_value(in[41], &err) << 12) |
        (b64_value(in[42], &err) << 6);
    tmp[o++] = (uint8_t)(w >> 16);
    tmp[o++] = (uint8_t)(w >> 8);
    /* Canonical form: the 2 bits below the last byte must be zero. */
    err |= ct_ge(w & 0xff, 1);
    sodium_memzero(&w, sizeof(w));
    return key_commit(k, tmp, err);
}
