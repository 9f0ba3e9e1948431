/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/engine/crypto: BLAKE2s, HMAC/HKDF, X25519 keys and
 * their text forms, ChaCha20-Poly1305 (both backends) and XChaCha20-Poly1305.
 * Vectors: RFC 7693 (App. B, App. E self-test), RFC 7748 §6.1, RFC 8439 §2.8.2,
 * draft-irtf-cfrg-xchacha-03 §A.3.1, tailscale types/key/node_test.go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/keys.h"
#include "fixture-hex.h"

/* Decodes hex (whitespace ignored) into out; returns the byte count. */
static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
    g_autoptr(GBytes) b = fixture_unhex(hex);
    size_t n;
    const uint8_t *d = g_bytes_get_data(b, &n);

    g_assert_cmpuint(n, <=, cap);
    memcpy(out, d, n);
    return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    uint8_t want[512];
    size_t n = unhex(want, sizeof(want), want_hex);

    g_assert_cmpmem(got, len, want, n);
}

/* ---- BLAKE2s ---------------------------------------------------------- */

static void
test_blake2s_abc(void)
{
    uint8_t out[B2S_HASH_LEN];

    /* RFC 7693 Appendix B. */
    b2s_hash(out, sizeof(out), "abc", 3, NULL, 0);
    assert_hex(out, sizeof(out),
               "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

/* RFC 7693 Appendix E: deterministic Fibonacci-style input generator. */
static void
selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
    uint32_t a = 0xDEAD4BAD * seed, b = 1, t;
    size_t i;

    for (i = 0; i < len; i++) {
        t = a + b;
        a = b;
        b = t;
        out[i] = (uint8_t)(t >> 24);
    }
}

static void
test_blake2s_selftest(void)
{
    static const size_t md_len[] = { 16, 20, 28, 32 };
    static const size_t in_len[] = { 0, 3, 64, 65, 255, 1024 };
    uint8_t in[1024], md[32], key[32], grand[32];
    struct b2s_state ctx;
    size_t i, j;

    b2s_init(&ctx, 32);
    for (i = 0; i < G_N_ELEMENTS(md_len); i++) {
        size_t outlen = md_len[i];

        for (j = 0; j < G_N_ELEMENTS(in_len); j++) {
            size_t inlen = in_len[j];

            selftest_seq(in, inlen, (uint32_t)inlen);
            b2s_hash(md, outlen, in, inlen, NULL, 0);
            b2s_update(&ctx, md, outlen);
            selftest_seq(key, outlen, (uint32_t)outlen);
            b2s_hash(md, outlen, in, inlen, key, outlen);
            b2s_update(&ctx, md, outlen);
        }
    }
    b2s_final(&ctx, grand, 32);
    /* blake2s_res[] from RFC 7693 Appendix E. */
    assert_hex(grand, sizeof(grand),
               "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

static void
test_blake2s_streaming(void)
{
    uint8_t in[1000], one[32], many[32];
    struct b2s_state s;
    size_t off = 0, step = 1;

    randombytes_buf(in, sizeof(in));
    b2s_hash(one, 32, in, sizeof(in), NULL, 0);
    b2s_init(&s, 32);
    while (off < sizeof(in)) {
        size_t n = MIN(step, sizeof(in) - off);

        b2s_update(&s, in + off, n);
        off += n;
        step = step * 3 + 1;
    }
    b2s_final(&s, many, 32);
    g_assert_cmpmem(one, 32, many, 32);
}

/*
 * HMAC-BLAKE2s and HKDF expectations were derived independently with CPython:
 *   hmac.new(key, msg, hashlib.blake2s).digest()
 *   temp = H(ck, ikm); o1 = H(temp, b"\x01"); o2 = H(temp, o1 + b"\x02");
 *   o3 = H(temp, o2 + b"\x03")
 */
static void
test_hmac(void)
{
    uint8_t out[32], key[100];
    size_t i;

    b2s_hmac(out, (const uint8_t *)"key", 3, "The quick brown fox jumps over the lazy dog", 43);
    assert_hex(out, 32, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");

    memset(key, 0xaa, sizeof(key));
    b2s_hmac(out, key, 100, "Test Using Larger Than Block-Size Key - Hash Key First", 54);
    assert_hex(out, 32, "6d5406353ca2d942cdc577ddbaaf90883f43b999eb3878979e68deb5d2e09563");

    for (i = 0; i < 64; i++)
        key[i] = (uint8_t)i;
    b2s_hmac(out, key, 64, NULL, 0);
    assert_hex(out, 32, "4a4f8f181c931253202b2d7a77e2a612f65580f4b0d56108f7f275f22b63ae00");
}

static void
test_hkdf(void)
{
    uint8_t ck[32], ikm[32], o1[32], o2[32], o3[32], a1[32];
    size_t i;

    for (i = 0; i < 32; i++) {
        ck[i] = (uint8_t)i;
        ikm[i] = (uint8_t)(32 + i);
    }
    b2s_hkdf(o1, o2, o3, ck, ikm, sizeof(ikm));
    assert_hex(o1, 32, "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0");
    assert_hex(o2, 32, "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5");
    assert_hex(o3, 32, "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9");

    /* Fewer outputs give the same prefix. */
    b2s_hkdf(a1, NULL, NULL, ck, ikm, sizeof(ikm));
    g_assert_cmpmem(a1, 32, o1, 32);
    b2s_hkdf(a1, o2, NULL, ck, ikm, sizeof(ikm));
    assert_hex(o2, 32, "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5");

    /* Empty ikm (Noise Split). */
    b2s_hkdf(o1, o2, o3, ck, NULL, 0);
    assert_hex(o1, 32, "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624");
    assert_hex(o2, 32, "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd");
    assert_hex(o3, 32, "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f");

    /* Outputs may alias the chaining key (MixKey does that). */
    b2s_hkdf(ck, o2, NULL, ck, ikm, sizeof(ikm));
    assert_hex(ck, 32, "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0");
    assert_hex(o2, 32, "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5");
}

/* ---- X25519 and key text forms --------------------------------------- */

static void
test_x25519_rfc7748(void)
{
    uint8_t a[32], b[32], pa[32], pb[32], s1[32], s2[32];

    unhex(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    g_assert_true(key_public_from_private(pa, a));
    g_assert_true(key_public_from_private(pb, b));
    assert_hex(pa, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assert_hex(pb, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    g_assert_true(key_x25519(s1, a, pb));
    g_assert_true(key_x25519(s2, b, pa));
    assert_hex(s1, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    g_assert_true(key_equal(s1, s2));
}

static void
test_x25519_low_order(void)
{
    uint8_t priv[32], zero[32] = { 0 }, one[32] = { 1 }, out[32];

    key_generate_private(priv);
    memset(out, 0x55, sizeof(out));
    g_assert_false(key_x25519(out, priv, zero));
    g_assert_true(key_is_zero(out));
    g_assert_false(key_x25519(out, priv, one));
    g_assert_false(key_public_from_private(out, zero));
}

static void
test_keys_generate(void)
{
    uint8_t a[32], b[32], pub[32], c[32];

    key_generate_private(a);
    key_generate_private(b);
    g_assert_false(key_equal(a, b));
    g_assert_cmpint(a[0] & 7, ==, 0);
    g_assert_cmpint(a[31] & 0xc0, ==, 0x40);
    memcpy(c, a, 32);
    key_clamp(c);
    g_assert_cmpmem(a, 32, c, 32);
    g_assert_true(key_public_from_private(pub, a));
    g_assert_false(key_is_zero(pub));

    memset(c, 0xff, 32);
    key_clamp(c);
    g_assert_cmpint(c[0], ==, 0xf8);
    g_assert_cmpint(c[31], ==, 0x7f);
}

#define TS_PRIV "40ab1b58e9076c7a4d9d07291f5edf9d1aa017eb949624ba683317f48a640369"
#define TS_PUB  "50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f765"

static void
test_keys_tailscale_kat(void)
{
    /* tailscale types/key/node_test.go TestNodeSerialization (+ machine_test.go). */
    const char *priv_text = KEY_PREFIX_PRIVATE TS_PRIV;
    const char *pub_text = KEY_PREFIX_NODE TS_PUB;
    uint8_t priv[32], pub[32], want[32];
    char buf[128];
    int n;

    g_assert_cmpint(key_from_text(priv, KEY_PREFIX_PRIVATE, priv_text, strlen(priv_text)), ==, 0);
    g_assert_true(key_public_from_private(pub, priv));
    unhex(want, 32, TS_PUB);
    g_assert_cmpmem(pub, 32, want, 32);

    n = key_to_text(buf, sizeof(buf), KEY_PREFIX_NODE, pub);
    g_assert_cmpint(n, ==, (int)strlen(pub_text));
    g_assert_cmpstr(buf, ==, pub_text);
    n = key_to_text(buf, sizeof(buf), KEY_PREFIX_PRIVATE, priv);
    g_assert_cmpstr(buf, ==, priv_text);
    n = key_to_text(buf, sizeof(buf), KEY_PREFIX_MACHINE, pub);
    g_assert_cmpstr(buf, ==, "mkey:" TS_PUB);

    g_assert_cmpint(key_from_text(want, KEY_PREFIX_NODE, pub_text, strlen(pub_text)), ==, 0);
    g_assert_cmpmem(pub, 32, want, 32);

    /* Exactly enough room, then one byte short. */
    g_assert_cmpint(key_to_text(buf, strlen(pub_text) + 1, KEY_PREFIX_NODE, pub), ==,
                    (int)strlen(pub_text));
    g_assert_cmpint(key_to_text(buf, strlen(pub_text), KEY_PREFIX_NODE, pub), ==, -ENOSPC);
}

static void
test_keys_text_strict(void)
{
    static const char *const bad[] = {
        "",
        "nodekey:",
        "nodekey",
        TS_PUB,            /* no prefix */
        "mkey:" TS_PUB,    /* wrong prefix */
        "NODEKEY:" TS_PUB, /* prefix is case-sensitive */
        "nodekey: " TS_PUB,
        " nodekey:" TS_PUB,
        "nodekey:" TS_PUB "0", /* 65 hex */
        "nodekey:" TS_PUB " ",
        "nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f76", /* 63 */
        "nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f76g",
        "nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f7-5",
        "nodekey:0x0b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f765",
    };
    uint8_t k[32], orig[32];
    size_t i;

    memset(orig, 0x5a, 32);
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        memcpy(k, orig, 32);
        g_assert_cmpint(key_from_text(k, KEY_PREFIX_NODE, bad[i], strlen(bad[i])), ==, -EINVAL);
        g_assert_cmpmem(k, 32, orig, 32); /* untouched on failure */
    }
    g_assert_cmpint(key_from_text(k, KEY_PREFIX_NODE, NULL, 0), ==, -EINVAL);

    /* Upper-case hex is accepted (Go's hex.Decode does), and 64 zeros too. */
    g_assert_cmpint(key_from_text(k, KEY_PREFIX_NODE,
                                  "nodekey:50D20B455ECF12BC453F83C2CFDB2A24"
                                  "925D06CF2598DCAA54E91AF82CE9F765",
                                  72),
                    ==, 0);
    assert_hex(k, 32, TS_PUB);
    g_assert_cmpint(key_from_text(k, KEY_PREFIX_DISCO,
                                  "discokey:00000000000000000000000000000000"
                                  "00000000000000000000000000000000",
                                  73),
                    ==, 0);
    g_assert_true(key_is_zero(k));

    /* An embedded NUL within the counted length is not hex. */
    {
        char s[73];

        memcpy(s, "nodekey:" TS_PUB, 72);
        s[40] = '\0';
        g_assert_cmpint(key_from_text(k, KEY_PREFIX_NODE, s, 72), ==, -EINVAL);
    }
}

static void
test_keys_hex(void)
{
    uint8_t k[32], back[32];
    char hex[KEY_HEX_LEN + 1];
    int i, c;

    for (i = 0; i < 32; i++)
        k[i] = (uint8_t)(i * 37 + 11);
    key_to_hex(hex, k);
    g_assert_cmpuint(strlen(hex), ==, 64);
    for (i = 0; i < 64; i++)
        g_assert_true(g_ascii_isxdigit(hex[i]) && !g_ascii_isupper(hex[i]));
    g_assert_true(key_from_hex(back, hex, 64));
    g_assert_cmpmem(k, 32, back, 32);

    g_assert_false(key_from_hex(back, hex, 63));
    g_assert_false(key_from_hex(back, hex, 0));
    g_assert_false(key_from_hex(back, NULL, 64));
    /* Every non-hex byte value is rejected in any position. */
    for (c = 0; c < 256; c++) {
        char t[64];

        if (g_ascii_isxdigit(c))
            continue;
        memcpy(t, hex, 64);
        t[c % 64] = (char)c;
        g_assert_false(key_from_hex(back, t, 64));
    }
    /* All 22 hex digit characters decode. */
#define ALL_DIGITS "0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0000"
    g_assert_true(key_from_hex(back, ALL_DIGITS, 64));
    assert_hex(back, 32, ALL_DIGITS);
#undef ALL_DIGITS
}

static void
test_keys_base64(void)
{
    /* Base64 of the Tailscale node key above (Python base64.b64encode). */
    const char *good = "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka+Czp92U=";
    uint8_t k[32], back[32];
    char b64[KEY_BASE64_LEN + 1], t[64];
    int round, c;

    g_assert_true(key_from_base64(k, good, strlen(good)));
    assert_hex(k, 32, TS_PUB);
    key_to_base64(b64, k);
    g_assert_cmpstr(b64, ==, good);

    /* Round trips, including the extreme values of every alphabet class. */
    for (round = 0; round < 200; round++) {
        if (round == 0)
            memset(k, 0, 32);
        else if (round == 1)
            memset(k, 0xff, 32);
        else if (round == 2)
            memset(k, 0xfb, 32); /* '+' and '/' heavy */
        else
            randombytes_buf(k, 32);
        key_to_base64(b64, k);
        g_assert_cmpuint(strlen(b64), ==, 44);
        g_assert_true(key_from_base64(back, b64, 44));
        g_assert_cmpmem(k, 32, back, 32);
    }
    memset(k, 0xff, 32);
    key_to_base64(b64, k);
    g_assert_cmpstr(b64, ==, "//////////////////////////////////////////8=");

    /* Non-canonical: low bits of the last data character must be zero. */
    memcpy(t, good, 45);
    t[42] = 'V';
    g_assert_false(key_from_base64(k, t, 44));
    t[42] = 'W';
    g_assert_false(key_from_base64(k, t, 44));
    t[42] = 'X';
    g_assert_false(key_from_base64(k, t, 44));
    t[42] = 'Y'; /* 24: low bits zero, canonical */
    g_assert_true(key_from_base64(k, t, 44));

    g_assert_false(key_from_base64(k, good, 43)); /* no pad */
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka+Czp92U", 43));
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka+Czp92U==", 45));
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka+Czp92==", 44));
    /* url-safe alphabet */
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka-Czp92U=", 44));
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka_Czp92U=", 44));
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PC z9sqJJJdBs8lmNyqVOka+Czp92U=", 45));
    g_assert_false(key_from_base64(k, "UNILRV7PErxFP4PCz9sqJJJdBs8lmNyqVOka+Czp92U=\n", 45));
    g_assert_false(key_from_base64(k, "", 0));
    g_assert_false(key_from_base64(k, NULL, 44));
    for (c = 0; c < 256; c++) {
        if (g_ascii_isalnum(c) || c == '+' || c == '/')
            continue;
        memcpy(t, good, 44);
        t[c % 42] = (char)c;
        g_assert_false(key_from_base64(k, t, 44));
    }
}

/* ---- ChaCha20-Poly1305 ------------------------------------------------ */

static const char rfc8439_pt[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";
#define RFC8439_KEY   "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
#define RFC8439_NONCE "070000004041424344454647"
#define RFC8439_AAD   "50515253c0c1c2c3c4c5c6c7"
#define RFC8439_CT                                                                                 \
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"                             \
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"                             \
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"                             \
    "3ff4def08e4b7a9de576d26586cec64b6116"
#define RFC8439_TAG "1ae10b594f09e26a7e902ecbd0600691"

static const enum aead_backend backend_openssl = AEAD_BACKEND_OPENSSL;
static const enum aead_backend backend_libsodium = AEAD_BACKEND_LIBSODIUM;

static void
test_aead_rfc8439(gconstpointer data)
{
    enum aead_backend b = *(const enum aead_backend *)data;
    uint8_t key[32], nonce[12], aad[12], buf[256], pt[256];
    size_t len = strlen(rfc8439_pt);

    aead_set_backend(b);
    g_assert_cmpint(aead_get_backend(), ==, b);
    unhex(key, 32, RFC8439_KEY);
    unhex(nonce, 12, RFC8439_NONCE);
    unhex(aad, 12, RFC8439_AAD);
    g_assert_cmpuint(len, ==, 114);

    g_assert_true(aead_seal(buf, (const uint8_t *)rfc8439_pt, len, aad, 12, nonce, key));
    assert_hex(buf, len, RFC8439_CT);
    assert_hex(buf + len, 16, RFC8439_TAG);

    memset(pt, 0, sizeof(pt));
    g_assert_true(aead_open(pt, buf, len + 16, aad, 12, nonce, key));
    g_assert_cmpmem(pt, len, rfc8439_pt, len);

    /* In place, both directions. */
    memcpy(buf, rfc8439_pt, len);
    g_assert_true(aead_seal(buf, buf, len, aad, 12, nonce, key));
    assert_hex(buf, len, RFC8439_CT);
    assert_hex(buf + len, 16, RFC8439_TAG);
    g_assert_true(aead_open(buf, buf, len + 16, aad, 12, nonce, key));
    g_assert_cmpmem(buf, len, rfc8439_pt, len);
}

static void
test_aead_tamper(gconstpointer data)
{
    enum aead_backend b = *(const enum aead_backend *)data;
    uint8_t key[32], nonce[12], aad[20], ct[100 + 16], pt[100], out[100];
    size_t i;

    aead_set_backend(b);
    randombytes_buf(key, sizeof(key));
    randombytes_buf(aad, sizeof(aad));
    randombytes_buf(pt, sizeof(pt));
    aead_nonce_le(nonce, 42);
    g_assert_true(aead_seal(ct, pt, sizeof(pt), aad, sizeof(aad), nonce, key));
    g_assert_true(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
    g_assert_cmpmem(out, sizeof(out), pt, sizeof(pt));

    for (i = 0; i < sizeof(ct); i++) {
        ct[i] ^= 0x01;
        g_assert_false(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
        ct[i] ^= 0x01;
    }
    for (i = 0; i < sizeof(aad); i++) {
        aad[i] ^= 0x80;
        g_assert_false(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
        aad[i] ^= 0x80;
    }
    g_assert_false(aead_open(out, ct, sizeof(ct), aad, sizeof(aad) - 1, nonce, key));
    g_assert_false(aead_open(out, ct, sizeof(ct), NULL, 0, nonce, key));
    g_assert_false(aead_open(out, ct, sizeof(ct) - 1, aad, sizeof(aad), nonce, key));
    nonce[11] ^= 1;
    g_assert_false(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
    nonce[11] ^= 1;
    key[0] ^= 1;
    g_assert_false(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
    key[0] ^= 1;
    g_assert_false(aead_open(out, ct, 15, aad, sizeof(aad), nonce, key));
    g_assert_false(aead_open(out, ct, 0, aad, sizeof(aad), nonce, key));
    /* The context is still usable after failures. */
    g_assert_true(aead_open(out, ct, sizeof(ct), aad, sizeof(aad), nonce, key));
    g_assert_cmpmem(out, sizeof(out), pt, sizeof(pt));
}

static void
test_aead_empty(gconstpointer data)
{
    enum aead_backend b = *(const enum aead_backend *)data;
    uint8_t key[32] = { 0 }, nonce[12] = { 0 }, tag[16], tag2[16];

    aead_set_backend(b);
    /* Empty plaintext and AD: the tag alone (a Noise "seal empty payload"). */
    g_assert_true(aead_seal(tag, NULL, 0, NULL, 0, nonce, key));
    g_assert_true(aead_open(NULL, tag, 16, NULL, 0, nonce, key));
    aead_set_backend(b == AEAD_BACKEND_OPENSSL ? AEAD_BACKEND_LIBSODIUM : AEAD_BACKEND_OPENSSL);
    g_assert_true(aead_seal(tag2, NULL, 0, NULL, 0, nonce, key));
    g_assert_cmpmem(tag, 16, tag2, 16);
    tag[3] ^= 4;
    aead_set_backend(b);
    g_assert_false(aead_open(NULL, tag, 16, NULL, 0, nonce, key));
}

static void
test_aead_agree(void)
{
    static const size_t lens[] = { 0,    1,    15,   16,   17,    63,    64,    65,
                                   127,  128,  129,  255,  256,   257,   511,   512,
                                   1420, 1500, 4095, 4096, 65535, 65536, 100001 };
    size_t maxlen = 100001;
    uint8_t *pt = g_malloc(maxlen), *c1 = g_malloc(maxlen + 16), *c2 = g_malloc(maxlen + 16);
    uint8_t *out = g_malloc(maxlen);
    uint8_t key[32], nonce[12], ad[64];
    size_t i, j;

    for (i = 0; i < G_N_ELEMENTS(lens) * 4; i++) {
        size_t len = lens[i % G_N_ELEMENTS(lens)];
        size_t adlen = (i / G_N_ELEMENTS(lens)) * 21 % sizeof(ad);

        randombytes_buf(key, sizeof(key));
        randombytes_buf(ad, sizeof(ad));
        randombytes_buf(pt, len);
        aead_nonce_le(nonce, randombytes_random());

        aead_set_backend(AEAD_BACKEND_OPENSSL);
        g_assert_true(aead_seal(c1, pt, len, ad, adlen, nonce, key));
        aead_set_backend(AEAD_BACKEND_LIBSODIUM);
        g_assert_true(aead_seal(c2, pt, len, ad, adlen, nonce, key));
        g_assert_cmpmem(c1, len + 16, c2, len + 16);

        /* Cross-open: each backend opens the other's output, once in place. */
        g_assert_true(aead_open(out, c1, len + 16, ad, adlen, nonce, key));
        g_assert_cmpmem(out, len, pt, len);
        aead_set_backend(AEAD_BACKEND_OPENSSL);
        g_assert_true(aead_open(c2, c2, len + 16, ad, adlen, nonce, key));
        g_assert_cmpmem(c2, len, pt, len);
    }

    /* Many short messages with one key and counting nonces (the data path). */
    randombytes_buf(key, sizeof(key));
    for (j = 0; j < 1000; j++) {
        aead_nonce_le(nonce, j);
        aead_set_backend(AEAD_BACKEND_OPENSSL);
        g_assert_true(aead_seal(c1, pt, 80, NULL, 0, nonce, key));
        aead_set_backend(AEAD_BACKEND_LIBSODIUM);
        g_assert_true(aead_seal(c2, pt, 80, NULL, 0, nonce, key));
        g_assert_cmpmem(c1, 96, c2, 96);
    }
    g_free(pt);
    g_free(c1);
    g_free(c2);
    g_free(out);
}

typedef struct {
    enum aead_backend backend;
    bool ok;
} ThreadResult;

static gpointer
aead_thread(gpointer data)
{
    ThreadResult *r = data;
    uint8_t key[32], nonce[12], pt[300], ct[316], out[300];
    int i;

    r->ok = true;
    for (i = 0; i < 2000 && r->ok; i++) {
        randombytes_buf(key, sizeof(key));
        randombytes_buf(pt, sizeof(pt));
        aead_nonce_be(nonce, (uint64_t)i);
        r->ok = aead_seal(ct, pt, sizeof(pt), NULL, 0, nonce, key) &&
                aead_open(out, ct, sizeof(ct), NULL, 0, nonce, key) &&
                memcmp(out, pt, sizeof(pt)) == 0;
    }
    return NULL;
}

static void
test_aead_threads(void)
{
    ThreadResult r[4];
    GThread *t[4];
    int i;

    aead_set_backend(AEAD_BACKEND_OPENSSL);
    for (i = 0; i < 4; i++)
        t[i] = g_thread_new("aead", aead_thread, &r[i]);
    for (i = 0; i < 4; i++) {
        g_thread_join(t[i]);
        g_assert_true(r[i].ok);
    }
}

static void
test_aead_nonce(void)
{
    uint8_t n[12];

    aead_nonce_le(n, 0x0102030405060708ULL);
    assert_hex(n, 12, "000000000807060504030201");
    aead_nonce_be(n, 0x0102030405060708ULL);
    assert_hex(n, 12, "000000000102030405060708");
    aead_nonce_le(n, 1);
    assert_hex(n, 12, "000000000100000000000000");
    aead_nonce_be(n, 1);
    assert_hex(n, 12, "000000000000000000000001");
    g_assert_cmpstr(aead_backend_name(AEAD_BACKEND_OPENSSL), ==, "openssl");
    g_assert_cmpstr(aead_backend_name(AEAD_BACKEND_LIBSODIUM), ==, "libsodium");
}

/* HYPHAE_AEAD is read once per process: check it in fresh subprocesses. */
static void
test_aead_env(void)
{
    static const struct {
        const char *value;
        int expect; /* -1: either (falls back to the build default) */
    } cases[] = {
        { "openssl", AEAD_BACKEND_OPENSSL },
        { "libsodium", AEAD_BACKEND_LIBSODIUM },
        { "bogus", -1 },
    };
    size_t i;

    if (g_test_subprocess()) {
        const char *want = g_getenv("HYPHAE_TEST_EXPECT");
        enum aead_backend b = aead_get_backend();

        g_assert_nonnull(want);
        if (strcmp(want, "-1") != 0)
            g_assert_cmpint(b, ==, atoi(want));
        else
            g_assert_true(b == AEAD_BACKEND_OPENSSL || b == AEAD_BACKEND_LIBSODIUM);
        return;
    }
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        char expect[8];

        g_snprintf(expect, sizeof(expect), "%d", cases[i].expect);
        g_setenv("HYPHAE_AEAD", cases[i].value, TRUE);
        g_setenv("HYPHAE_TEST_EXPECT", expect, TRUE);
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
    }
    g_unsetenv("HYPHAE_AEAD");
    g_unsetenv("HYPHAE_TEST_EXPECT");
}

/* ---- XChaCha20-Poly1305 ---------------------------------------------- */

static void
test_xaead_draft(void)
{
    /* draft-irtf-cfrg-xchacha-03 §A.3.1 */
    uint8_t key[32], nonce[24], aad[12], buf[256], pt[256];
    size_t len = strlen(rfc8439_pt);

    unhex(key, 32, RFC8439_KEY);
    unhex(nonce, 24, "404142434445464748494a4b4c4d4e4f5051525354555657");
    unhex(aad, 12, RFC8439_AAD);
    g_assert_true(xaead_seal(buf, (const uint8_t *)rfc8439_pt, len, aad, 12, nonce, key));
    assert_hex(buf, len,
               "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
               "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
               "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
               "21f9664c97637da9768812f615c68b13b52e");
    assert_hex(buf + len, 16, "c0875924c1c7987947deafd8780acf49");
    g_assert_true(xaead_open(pt, buf, len + 16, aad, 12, nonce, key));
    g_assert_cmpmem(pt, len, rfc8439_pt, len);

    /* In place. */
    g_assert_true(xaead_open(buf, buf, len + 16, aad, 12, nonce, key));
    g_assert_cmpmem(buf, len, rfc8439_pt, len);
    g_assert_true(xaead_seal(buf, buf, len, aad, 12, nonce, key));
    buf[len + 15] ^= 0x10;
    g_assert_false(xaead_open(pt, buf, len + 16, aad, 12, nonce, key));
    buf[len + 15] ^= 0x10;
    nonce[23] ^= 1;
    g_assert_false(xaead_open(pt, buf, len + 16, aad, 12, nonce, key));
    g_assert_false(xaead_open(pt, buf, 15, aad, 12, nonce, key));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);

    g_test_add_func("/crypto/blake2s/rfc7693", test_blake2s_abc);
    g_test_add_func("/crypto/blake2s/rfc7693-selftest", test_blake2s_selftest);
    g_test_add_func("/crypto/blake2s/streaming", test_blake2s_streaming);
    g_test_add_func("/crypto/hmac/python-derived", test_hmac);
    g_test_add_func("/crypto/hkdf/python-derived", test_hkdf);
    g_test_add_func("/crypto/x25519/rfc7748", test_x25519_rfc7748);
    g_test_add_func("/crypto/x25519/low-order", test_x25519_low_order);
    g_test_add_func("/crypto/keys/generate", test_keys_generate);
    g_test_add_func("/crypto/keys/tailscale-kat", test_keys_tailscale_kat);
    g_test_add_func("/crypto/keys/text-strict", test_keys_text_strict);
    g_test_add_func("/crypto/keys/hex", test_keys_hex);
    g_test_add_func("/crypto/keys/base64", test_keys_base64);
    /* First among the AEAD tests: it calls setenv(), so before any thread exists. */
    g_test_add_func("/crypto/aead/env", test_aead_env);
    g_test_add_data_func("/crypto/aead/rfc8439/openssl", &backend_openssl, test_aead_rfc8439);
    g_test_add_data_func("/crypto/aead/rfc8439/libsodium", &backend_libsodium, test_aead_rfc8439);
    g_test_add_data_func("/crypto/aead/tamper/openssl", &backend_openssl, test_aead_tamper);
    g_test_add_data_func("/crypto/aead/tamper/libsodium", &backend_libsodium, test_aead_tamper);
    g_test_add_data_func("/crypto/aead/empty/openssl", &backend_openssl, test_aead_empty);
    g_test_add_data_func("/crypto/aead/empty/libsodium", &backend_libsodium, test_aead_empty);
    g_test_add_func("/crypto/aead/backends-agree", test_aead_agree);
    g_test_add_func("/crypto/aead/threads", test_aead_threads);
    g_test_add_func("/crypto/aead/nonce", test_aead_nonce);
    g_test_add_func("/crypto/xaead/draft-xchacha-a31", test_xaead_draft);
    return g_test_run();
}
