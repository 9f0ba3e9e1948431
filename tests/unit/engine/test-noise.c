/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/engine/noise: Noise IK and IKpsk2.
 *
 *  /noise/vectors/flynn/...   every Noise_IK(psk2)_25519_ChaChaPoly_BLAKE2s vector of
 *                             flynn/noise's vectors.txt, read at run time from the
 *                             Debian package golang-github-flynn-noise-dev
 *  /noise/kat/tailscale-rs/.. byte-exact handshakes from tailscale-rs
 *  /noise/wireguard/...       WireGuard-style IKpsk2 round trips and negatives
 *  /noise/ts2021/...          TS2021-style IK round trip
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "crypto/aead.h"
#include "fixture-hex.h"
#include "fixture-missing.h"
#include "crypto/blake2s.h"
#include "crypto/keys.h"
#include "noise/noise.h"

#define FLYNN_VECTORS "/usr/share/gocode/src/github.com/flynn/noise/vectors.txt"
#define NAME_IK       "Noise_IK_25519_ChaChaPoly_BLAKE2s"
#define NAME_IKPSK2   "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_PROLOGUE   "WireGuard v1 zx2c4 Jason@zx2c4.com"

static void
pub_of(uint8_t pub[32], const uint8_t priv[32])
{
    g_assert_true(key_public_from_private(pub, priv));
}

static bool
all_zero(const void *p, size_t len)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < len; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- flynn/noise vectors ---------------------------------------------- */

typedef struct {
    char *name;
    GHashTable *fields; /* key -> hex/text value */
} Vector;

static void
vector_free(gpointer p)
{
    Vector *v = p;

    g_free(v->name);
    g_hash_table_unref(v->fields);
    g_free(v);
}

static GPtrArray *vectors;

static const char *
field(const Vector *v, const char *key)
{
    return g_hash_table_lookup(v->fields, key);
}

static GBytes *
field_bytes(const Vector *v, const char *key)
{
    const char *s = field(v, key);

    return s ? fixture_unhex(s) : NULL;
}

/* Seals or checks one transport message: the Noise transport nonce is n LE. */
static void
check_transport(const uint8_t send[32], const uint8_t recv[32], uint64_t n, GBytes *payload,
                GBytes *want)
{
    gsize plen, clen;
    const uint8_t *p = g_bytes_get_data(payload, &plen);
    const uint8_t *c = g_bytes_get_data(want, &clen);
    g_autofree uint8_t *ct = g_malloc(plen + 16);
    g_autofree uint8_t *pt = g_malloc(plen + 1);
    uint8_t nonce[12];

    g_assert_cmpuint(clen, ==, plen + 16);
    aead_nonce_le(nonce, n);
    g_assert_true(aead_seal(ct, p, plen, NULL, 0, nonce, send));
    g_assert_cmpmem(ct, clen, c, clen);
    g_assert_true(aead_open(pt, c, clen, NULL, 0, nonce, recv));
    g_assert_cmpmem(pt, plen, p, plen);
}

/* Both sides reached the same transcript hash; the split gives each the
 * other's keys (initiator's send = responder's receive and back). */
static void
split_agreed(struct noise_handshake *ini, struct noise_handshake *rsp, uint8_t i_send[32],
             uint8_t i_recv[32], uint8_t r_send[32], uint8_t r_recv[32])
{
    g_assert_cmpmem(ini->h, 32, rsp->h, 32);
    noise_split(ini, i_send, i_recv);
    noise_split(rsp, r_send, r_recv);
    g_assert_cmpmem(i_send, 32, r_recv, 32);
    g_assert_cmpmem(i_recv, 32, r_send, 32);
}

static void
test_flynn_vector(gconstpointer data)
{
    const Vector *v = data;
    bool psk2 = strcmp(v->name, NAME_IKPSK2) == 0;
    enum noise_pattern pat = psk2 ? NOISE_PATTERN_IKPSK2 : NOISE_PATTERN_IK;
    uint8_t is[32], rs_priv[32], ie[32], re[32], psk[32], is_pub[32], rs_pub[32];
    uint8_t i_send[32], i_recv[32], r_send[32], r_recv[32];
    g_autoptr(GBytes) prologue = field_bytes(v, "prologue");
    const uint8_t *pro = NULL;
    gsize pro_len = 0;
    struct noise_handshake ini, rsp;
    uint8_t buf[1024], pay[1024];
    uint64_t n_i2r = 0, n_r2i = 0;
    int i, r;

    fixture_unhex32(is, field(v, "init_static"));
    fixture_unhex32(rs_priv, field(v, "resp_static"));
    fixture_unhex32(ie, field(v, "gen_init_ephemeral"));
    fixture_unhex32(re, field(v, "gen_resp_ephemeral"));
    if (psk2)
        fixture_unhex32(psk, field(v, "preshared_key"));
    else
        g_assert_null(field(v, "preshared_key"));
    if (prologue)
        pro = g_bytes_get_data(prologue, &pro_len);
    pub_of(is_pub, is);
    pub_of(rs_pub, rs_priv);

    g_assert_true(noise_handshake_init(&ini, pat, true, v->name, pro, pro_len, is, rs_pub,
                                       psk2 ? psk : NULL));
    g_assert_true(noise_handshake_init(&rsp, pat, false, v->name, pro, pro_len, rs_priv, NULL,
                                       psk2 ? psk : NULL));

    for (i = 0;; i++) {
        g_autofree char *pk = g_strdup_printf("msg_%d_payload", i);
        g_autofree char *ck = g_strdup_printf("msg_%d_ciphertext", i);
        g_autoptr(GBytes) payload = field_bytes(v, pk);
        g_autoptr(GBytes) want = field_bytes(v, ck);
        gsize plen, wlen;
        const uint8_t *p, *w;

        if (!payload)
            break;
        g_assert_nonnull(want);
        p = g_bytes_get_data(payload, &plen);
        w = g_bytes_get_data(want, &wlen);

        if (i == 0) {
            r = noise_write_msg1(&ini, ie, p, plen, buf, sizeof(buf));
            g_assert_cmpint(r, ==, (int)wlen);
            g_assert_cmpmem(buf, (gsize)r, w, wlen);
            r = noise_read_msg1(&rsp, w, wlen, pay, sizeof(pay));
            g_assert_cmpint(r, ==, (int)plen);
            g_assert_cmpmem(pay, (gsize)r, p, plen);
            g_assert_cmpmem(rsp.rs, 32, is_pub, 32);
        } else if (i == 1) {
            r = noise_write_msg2(&rsp, re, p, plen, buf, sizeof(buf));
            g_assert_cmpint(r, ==, (int)wlen);
            g_assert_cmpmem(buf, (gsize)r, w, wlen);
            r = noise_read_msg2(&ini, w, wlen, pay, sizeof(pay));
            g_assert_cmpint(r, ==, (int)plen);
            g_assert_cmpmem(pay, (gsize)r, p, plen);
            split_agreed(&ini, &rsp, i_send, i_recv, r_send, r_recv);
            g_assert_true(all_zero(ini.ck, 32) && all_zero(rsp.ck, 32));
        } else if (i % 2 == 0) {
            check_transport(i_send, r_recv, n_i2r++, payload, want);
        } else {
            check_transport(r_send, i_recv, n_r2i++, payload, want);
        }
    }
    g_assert_cmpint(i, >=, 2);
    noise_handshake_wipe(&ini);
    noise_handshake_wipe(&rsp);
}

static guint
load_flynn_vectors(const char *path)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) blocks = NULL;
    guint count = 0;
    size_t b;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    vectors = g_ptr_array_new_with_free_func(vector_free);
    blocks = g_strsplit(text, "\n\n", -1);
    for (b = 0; blocks[b]; b++) {
        g_auto(GStrv) lines = g_strsplit(blocks[b], "\n", -1);
        GHashTable *fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        const char *name;
        size_t l;

        for (l = 0; lines[l]; l++) {
            char *eq = strchr(lines[l], '=');

            if (eq)
                g_hash_table_insert(fields, g_strndup(lines[l], (gsize)(eq - lines[l])),
                                    g_strdup(eq + 1));
        }
        name = g_hash_table_lookup(fields, "handshake");
        if (name && (strcmp(name, NAME_IK) == 0 || strcmp(name, NAME_IKPSK2) == 0)) {
            Vector *v = g_new0(Vector, 1);
            g_autofree char *tpath = NULL;

            v->name = g_strdup(name);
            v->fields = fields;
            g_ptr_array_add(vectors, v);
            tpath = g_strdup_printf("/noise/vectors/flynn/%s/%u",
                                    strcmp(name, NAME_IK) == 0 ? "IK" : "IKpsk2", count++);
            g_test_add_data_func(tpath, v, test_flynn_vector);
        } else {
            g_hash_table_unref(fields);
        }
    }
    return count;
}

static void
test_flynn_missing(void)
{
    fixture_missing("%s is missing or has no IK vectors: apt-get install "
                    "golang-github-flynn-noise-dev",
                    FLYNN_VECTORS);
}

/* ---- tailscale-rs KATs ------------------------------------------------ */

/*
 * Expected bytes from tailscale/tailscale-rs 38a26a0f, ts_noise/src/ik.rs and
 * ts_noise/src/ikpsk2.rs, test_handshake (data only). Private keys are the byte
 * sequences 0..31 (initiator static), 32..63 (initiator ephemeral), 64..95
 * (responder static), 96..127 (responder ephemeral); psk is 128..159.
 */
static const char rs_ik_init[] =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254ad5b8febedeb97415be53612205"
    "e6bfab385e34cb127dd8854c4f9afb10f9b0e49075a6f14f9d5bc61412f096ae4950589aef8286944be93ca02ab"
    "76a5483b51";
static const char rs_ik_resp[] =
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f5ef5508032efff8066fc858410f"
    "411e8";
static const char rs_ikpsk2_init[] =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd1662544df99f4e2d9c658302e247ec71c"
    "206e70c31df074049bd3d8ab636b27d8a20c512e4beeec758c4b2bee13e5d6c4a6abfe18cb917c010702e445150"
    "36af229780d44f50cf68cf7cdaabd81372";
static const char rs_ikpsk2_resp[] =
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f1d31e903c203fe7ca9187d9ef40"
    "59b09";

static void
seq_key(uint8_t k[32], int start)
{
    int i;

    for (i = 0; i < 32; i++)
        k[i] = (uint8_t)(start + i);
}

static void
run_rs_kat(bool psk2)
{
    static const char prologue[] = "TEST HANDSHAKE";
    static const char payload[] = "TEST PAYLOAD";
    enum noise_pattern pat = psk2 ? NOISE_PATTERN_IKPSK2 : NOISE_PATTERN_IK;
    const char *name = psk2 ? NAME_IKPSK2 : NAME_IK;
    size_t plen = psk2 ? 12 : 0;
    g_autoptr(GBytes) want1 = fixture_unhex(psk2 ? rs_ikpsk2_init : rs_ik_init);
    g_autoptr(GBytes) want2 = fixture_unhex(psk2 ? rs_ikpsk2_resp : rs_ik_resp);
    uint8_t is[32], ie[32], rsk[32], re[32], psk[32], is_pub[32], rs_pub[32];
    uint8_t m1[256], m2[256], pay[64];
    uint8_t i_send[32], i_recv[32], r_send[32], r_recv[32];
    struct noise_handshake ini, rsp;
    gsize w1, w2;
    const uint8_t *d1 = g_bytes_get_data(want1, &w1), *d2 = g_bytes_get_data(want2, &w2);
    int r;

    seq_key(is, 0);
    seq_key(ie, 32);
    seq_key(rsk, 64);
    seq_key(re, 96);
    seq_key(psk, 128);
    pub_of(is_pub, is);
    pub_of(rs_pub, rsk);

    g_assert_true(noise_handshake_init(&ini, pat, true, name, (const uint8_t *)prologue,
                                       strlen(prologue), is, rs_pub, psk2 ? psk : NULL));
    g_assert_true(noise_handshake_init(&rsp, pat, false, name, (const uint8_t *)prologue,
                                       strlen(prologue), rsk, NULL, NULL));
    r = noise_write_msg1(&ini, ie, (const uint8_t *)payload, plen, m1, sizeof(m1));
    g_assert_cmpint(r, ==, (int)(NOISE_MSG1_OVERHEAD + plen));
    g_assert_cmpmem(m1, (gsize)r, d1, w1);

    r = noise_read_msg1(&rsp, m1, w1, pay, sizeof(pay));
    g_assert_cmpint(r, ==, (int)plen);
    g_assert_cmpmem(pay, plen, payload, plen);
    g_assert_cmpmem(rsp.rs, 32, is_pub, 32);

    /* The responder learns its psk after identifying the peer (as WireGuard does). */
    if (psk2)
        memcpy(rsp.psk, psk, 32);
    r = noise_write_msg2(&rsp, re, NULL, 0, m2, sizeof(m2));
    g_assert_cmpint(r, ==, NOISE_MSG2_OVERHEAD);
    g_assert_cmpmem(m2, (gsize)r, d2, w2);
    r = noise_read_msg2(&ini, m2, w2, NULL, 0);
    g_assert_cmpint(r, ==, 0);

    split_agreed(&ini, &rsp, i_send, i_recv, r_send, r_recv);
    g_assert_false(key_equal(i_send, i_recv));
}

static void
test_rs_ik(void)
{
    run_rs_kat(false);
}

static void
test_rs_ikpsk2(void)
{
    run_rs_kat(true);
}

/* ---- protocol name handling -------------------------------------------- */

static void
test_protocol_name(void)
{
    static const char *const names[] = { "Noise_IK_short", "Noise_IK_25519_ChaChaPoly_SHA256",
                                         NAME_IK, NAME_IKPSK2 };
    struct noise_handshake hs;
    uint8_t s[32], want[32];
    size_t i;

    key_generate_private(s);
    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        size_t len = strlen(names[i]);

        g_assert_true(
            noise_handshake_init(&hs, NOISE_PATTERN_IK, false, names[i], NULL, 0, s, NULL, NULL));
        memset(want, 0, sizeof(want));
        if (len > 32)
            b2s_hash(want, 32, names[i], len, NULL, 0);
        else
            memcpy(want, names[i], len);
        /* ck is the initial h: neither the prologue nor the pre-message touch it. */
        g_assert_cmpmem(hs.ck, 32, want, 32);
    }
    g_assert_cmpuint(strlen(names[1]), ==, 32);
    noise_handshake_wipe(&hs);
}

/* ---- WireGuard-style round trips -------------------------------------- */

typedef struct {
    uint8_t is[32], is_pub[32], rsk[32], rs_pub[32], psk[32];
} Peers;

static void
peers_new(Peers *p)
{
    key_generate_private(p->is);
    key_generate_private(p->rsk);
    pub_of(p->is_pub, p->is);
    pub_of(p->rs_pub, p->rsk);
    randombytes_buf(p->psk, 32);
}

static void
wg_init(const Peers *p, struct noise_handshake *ini, struct noise_handshake *rsp)
{
    const uint8_t *pro = (const uint8_t *)WG_PROLOGUE;

    if (ini)
        g_assert_true(noise_handshake_init(ini, NOISE_PATTERN_IKPSK2, true, NAME_IKPSK2, pro,
                                           strlen(WG_PROLOGUE), p->is, p->rs_pub, p->psk));
    if (rsp)
        g_assert_true(noise_handshake_init(rsp, NOISE_PATTERN_IKPSK2, false, NAME_IKPSK2, pro,
                                           strlen(WG_PROLOGUE), p->rsk, NULL, p->psk));
}

static void
tai64n(uint8_t out[12])
{
    gint64 now = g_get_real_time();
    uint64_t secs = 0x400000000000000aULL + (uint64_t)(now / G_USEC_PER_SEC);
    uint32_t nsec = (uint32_t)(now % G_USEC_PER_SEC) * 1000;
    int i;

    for (i = 0; i < 8; i++)
        out[i] = (uint8_t)(secs >> (56 - 8 * i));
    for (i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

static void
test_wg_constants(void)
{
    /*
     * WireGuard's precomputed initial chaining key and hash, derived with CPython:
     * ck = blake2s(NAME_IKPSK2); h = blake2s(ck + WG_PROLOGUE).
     */
    struct noise_handshake hs;
    uint8_t s[32], s_pub[32], h[32], want[32];
    struct b2s_state st;

    key_generate_private(s);
    pub_of(s_pub, s);
    g_assert_true(noise_handshake_init(&hs, NOISE_PATTERN_IKPSK2, false, NAME_IKPSK2,
                                       (const uint8_t *)WG_PROLOGUE, strlen(WG_PROLOGUE), s, NULL,
                                       NULL));
    fixture_unhex32(want, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    g_assert_cmpmem(hs.ck, 32, want, 32);
    fixture_unhex32(h, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
    b2s_init(&st, 32);
    b2s_update(&st, h, 32);
    b2s_update(&st, s_pub, 32);
    b2s_final(&st, want, 32);
    g_assert_cmpmem(hs.h, 32, want, 32);
    g_assert_true(all_zero(hs.psk, 32)); /* NULL psk = zero psk */
    noise_handshake_wipe(&hs);
    g_assert_true(all_zero(&hs, sizeof(hs)));
}

static void
test_wg_roundtrip(void)
{
    Peers p;
    struct noise_handshake ini, rsp;
    uint8_t ts[12], m1[256], m2[256], pay[64], ct[64 + 16], pt[64];
    uint8_t i_send[32], i_recv[32], r_send[32], r_recv[32], nonce[12];
    int r, round;

    for (round = 0; round < 8; round++) {
        peers_new(&p);
        wg_init(&p, &ini, &rsp);
        tai64n(ts);
        r = noise_write_msg1(&ini, NULL, ts, sizeof(ts), m1, sizeof(m1));
        g_assert_cmpint(r, ==, 108); /* 148-byte initiation minus type/index/MACs */
        r = noise_read_msg1(&rsp, m1, 108, pay, sizeof(pay));
        g_assert_cmpint(r, ==, 12);
        g_assert_cmpmem(pay, 12, ts, 12);
        g_assert_cmpmem(rsp.rs, 32, p.is_pub, 32);
        g_assert_cmpmem(rsp.re, 32, ini.e_pub, 32);

        r = noise_write_msg2(&rsp, NULL, NULL, 0, m2, sizeof(m2));
        g_assert_cmpint(r, ==, 48); /* 92-byte response minus type/indices/MACs */
        r = noise_read_msg2(&ini, m2, 48, NULL, 0);
        g_assert_cmpint(r, ==, 0);
        split_agreed(&ini, &rsp, i_send, i_recv, r_send, r_recv);
        g_assert_true(all_zero(ini.e_priv, 32) && all_zero(rsp.e_priv, 32));

        /* A transport packet each way (WireGuard: LE counter nonce, empty AD). */
        randombytes_buf(pt, sizeof(pt));
        aead_nonce_le(nonce, (uint64_t)round);
        g_assert_true(aead_seal(ct, pt, sizeof(pt), NULL, 0, nonce, i_send));
        g_assert_true(aead_open(pay, ct, sizeof(ct), NULL, 0, nonce, r_recv));
        g_assert_cmpmem(pay, 64, pt, 64);
        g_assert_true(aead_seal(ct, pt, sizeof(pt), NULL, 0, nonce, r_send));
        g_assert_true(aead_open(pay, ct, sizeof(ct), NULL, 0, nonce, i_recv));
        g_assert_false(aead_open(pay, ct, sizeof(ct), NULL, 0, nonce, r_recv));
        noise_handshake_wipe(&ini);
        noise_handshake_wipe(&rsp);
    }
}

static void
test_wg_tamper(void)
{
    Peers p;
    struct noise_handshake ini, ini_saved, rsp, rsp_saved;
    uint8_t ts[12], m1[108], m2[48], t[108], pay[64];
    size_t i;
    int r;

    peers_new(&p);
    wg_init(&p, &ini, &rsp);
    tai64n(ts);
    g_assert_cmpint(noise_write_msg1(&ini, NULL, ts, 12, m1, sizeof(m1)), ==, 108);
    ini_saved = ini;
    rsp_saved = rsp;

    /* Every single-bit flip of message 1 is rejected and wipes the responder. */
    for (i = 0; i < sizeof(m1) * 8; i += 3) {
        memcpy(t, m1, sizeof(m1));
        t[i / 8] ^= (uint8_t)(1u << (i % 8));
        rsp = rsp_saved;
        r = noise_read_msg1(&rsp, t, sizeof(m1), pay, sizeof(pay));
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_true(all_zero(&rsp, sizeof(rsp)));
    }
    rsp = rsp_saved;
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 107, pay, sizeof(pay)), ==, -EBADMSG);
    rsp = rsp_saved;
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 95, pay, sizeof(pay)), ==, -EBADMSG);
    rsp = rsp_saved;
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 108, pay, 11), ==, -ENOSPC);
    rsp = rsp_saved;
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 108, pay, sizeof(pay)), ==, 12);
    g_assert_cmpint(noise_write_msg2(&rsp, NULL, NULL, 0, m2, sizeof(m2)), ==, 48);

    for (i = 0; i < sizeof(m2) * 8; i++) {
        memcpy(t, m2, sizeof(m2));
        t[i / 8] ^= (uint8_t)(1u << (i % 8));
        ini = ini_saved;
        r = noise_read_msg2(&ini, t, sizeof(m2), NULL, 0);
        g_assert_cmpint(r, ==, -EBADMSG);
        g_assert_true(all_zero(&ini, sizeof(ini)));
    }
    ini = ini_saved;
    g_assert_cmpint(noise_read_msg2(&ini, m2, 47, NULL, 0), ==, -EBADMSG);
    ini = ini_saved;
    g_assert_cmpint(noise_read_msg2(&ini, m2, 48, NULL, 0), ==, 0);
    noise_handshake_wipe(&ini);
    noise_handshake_wipe(&rsp);
    noise_handshake_wipe(&ini_saved);
    noise_handshake_wipe(&rsp_saved);
}

static void
test_wg_wrong_keys(void)
{
    Peers p;
    struct noise_handshake ini, rsp;
    uint8_t m1[108], m2[48], pay[64], other[32], other_pub[32];

    /* Mismatched psk: message 1 still verifies (psk2 mixes it in message 2). */
    peers_new(&p);
    wg_init(&p, &ini, &rsp);
    rsp.psk[7] ^= 1;
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, 0);
    g_assert_cmpint(noise_write_msg2(&rsp, NULL, NULL, 0, m2, sizeof(m2)), ==, 48);
    g_assert_cmpint(noise_read_msg2(&ini, m2, 48, NULL, 0), ==, -EBADMSG);

    /* Initiator has the wrong responder static key. */
    key_generate_private(other);
    pub_of(other_pub, other);
    wg_init(&p, NULL, &rsp);
    g_assert_true(noise_handshake_init(&ini, NOISE_PATTERN_IKPSK2, true, NAME_IKPSK2,
                                       (const uint8_t *)WG_PROLOGUE, strlen(WG_PROLOGUE), p.is,
                                       other_pub, p.psk));
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, -EBADMSG);

    /* Different prologue. */
    wg_init(&p, &ini, NULL);
    g_assert_true(noise_handshake_init(&rsp, NOISE_PATTERN_IKPSK2, false, NAME_IKPSK2,
                                       (const uint8_t *)"WireGuard v2", 12, p.rsk, NULL, p.psk));
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, -EBADMSG);

    /* IK against IKpsk2 with a zero psk still differs ("e" also does MixKey). */
    wg_init(&p, &ini, NULL);
    g_assert_true(noise_handshake_init(&rsp, NOISE_PATTERN_IK, false, NAME_IKPSK2,
                                       (const uint8_t *)WG_PROLOGUE, strlen(WG_PROLOGUE), p.rsk,
                                       NULL, NULL));
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, -EBADMSG);
    noise_handshake_wipe(&ini);
    noise_handshake_wipe(&rsp);
}

static void
test_wg_zero_keys(void)
{
    /* Low-order X25519 points: 0 and 1 (u-coordinates); DH with them is all zero. */
    static const uint8_t low_order[][32] = { { 0 }, { 1 } };
    Peers p;
    struct noise_handshake ini, rsp, saved;
    uint8_t zero[32] = { 0 }, m1[108], m2[48], pay[64];
    size_t i;

    peers_new(&p);
    g_assert_false(noise_handshake_init(&ini, NOISE_PATTERN_IKPSK2, true, NAME_IKPSK2, NULL, 0,
                                        zero, p.rs_pub, NULL));
    g_assert_true(all_zero(&ini, sizeof(ini)));
    g_assert_false(noise_handshake_init(&ini, NOISE_PATTERN_IKPSK2, true, NAME_IKPSK2, NULL, 0,
                                        p.is, NULL, NULL)); /* initiator needs rs */
    g_assert_false(
        noise_handshake_init(&ini, NOISE_PATTERN_IK, true, "", NULL, 0, p.is, p.rs_pub, NULL));

    for (i = 0; i < G_N_ELEMENTS(low_order); i++) {
        /* Initiator told to talk to a low-order "static key". */
        g_assert_true(noise_handshake_init(&ini, NOISE_PATTERN_IKPSK2, true, NAME_IKPSK2, NULL, 0,
                                           p.is, low_order[i], NULL));
        g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, -EBADMSG);
        g_assert_true(all_zero(&ini, sizeof(ini)));

        /* Message 1 carrying a low-order ephemeral. */
        wg_init(&p, &ini, &rsp);
        g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
        memcpy(m1, low_order[i], 32);
        g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, -EBADMSG);
        g_assert_true(all_zero(&rsp, sizeof(rsp)));

        /* Message 2 carrying a low-order ephemeral. */
        wg_init(&p, &ini, &rsp);
        g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
        saved = ini;
        g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, 0);
        g_assert_cmpint(noise_write_msg2(&rsp, NULL, NULL, 0, m2, sizeof(m2)), ==, 48);
        memcpy(m2, low_order[i], 32);
        g_assert_cmpint(noise_read_msg2(&ini, m2, 48, NULL, 0), ==, -EBADMSG);
        ini = saved;
        g_assert_cmpint(noise_write_msg2(&ini, NULL, NULL, 0, m2, sizeof(m2)), ==, -EINVAL);
    }

    /* A wiped handshake refuses to run (s_priv is zero). */
    noise_handshake_wipe(&rsp);
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, -EINVAL);
    noise_handshake_wipe(&ini);
    noise_handshake_wipe(&saved);
}

static void
test_wg_misuse(void)
{
    Peers p;
    struct noise_handshake ini, rsp;
    uint8_t m1[256], m1b[256], pay[64], zero[32] = { 0 };

    peers_new(&p);
    /* Roles. */
    wg_init(&p, &ini, &rsp);
    g_assert_cmpint(noise_write_msg1(&rsp, NULL, NULL, 0, m1, sizeof(m1)), ==, -EINVAL);
    g_assert_cmpint(noise_read_msg1(&ini, m1, 96, pay, sizeof(pay)), ==, -EINVAL);
    /* Output too small. */
    wg_init(&p, &ini, &rsp);
    g_assert_cmpint(noise_write_msg1(&ini, NULL, pay, 12, m1, 107), ==, -ENOSPC);
    /* A zero ephemeral private key. */
    wg_init(&p, &ini, &rsp);
    g_assert_cmpint(noise_write_msg1(&ini, zero, NULL, 0, m1, sizeof(m1)), ==, -EINVAL);
    /* Fresh ephemerals differ between handshakes. */
    wg_init(&p, &ini, &rsp);
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    wg_init(&p, &ini, &rsp);
    g_assert_cmpint(noise_write_msg1(&ini, NULL, NULL, 0, m1b, sizeof(m1b)), ==, 96);
    g_assert_true(memcmp(m1, m1b, 32) != 0);
    /* A replayed message 1 still parses: replay protection is the caller's (TAI64N). */
    g_assert_cmpint(noise_read_msg1(&rsp, m1, 96, pay, sizeof(pay)), ==, 0);
    noise_handshake_wipe(&ini);
    noise_handshake_wipe(&rsp);
}

/* ---- TS2021 ----------------------------------------------------------- */

static void
test_ts2021_roundtrip(void)
{
    static const char prologue[] = "Tailscale Control Protocol v130";
    uint8_t machine[32], server[32], server_pub[32], machine_pub[32];
    uint8_t m1[96], m2[48], tx[32], rx[32], stx[32], srx[32], nonce[12], rec[32], out[16];
    struct noise_handshake c, s;
    int n;

    key_generate_private(machine);
    key_generate_private(server);
    pub_of(server_pub, server);
    pub_of(machine_pub, machine);
    g_assert_true(noise_handshake_init(&c, NOISE_PATTERN_IK, true, NAME_IK,
                                       (const uint8_t *)prologue, strlen(prologue), machine,
                                       server_pub, NULL));
    g_assert_true(noise_handshake_init(&s, NOISE_PATTERN_IK, false, NAME_IK,
                                       (const uint8_t *)prologue, strlen(prologue), server, NULL,
                                       NULL));
    g_assert_cmpint(noise_write_msg1(&c, NULL, NULL, 0, m1, sizeof(m1)), ==, 96);
    g_assert_cmpint(noise_read_msg1(&s, m1, 96, NULL, 0), ==, 0);
    g_assert_cmpmem(s.rs, 32, machine_pub, 32);
    g_assert_cmpint(noise_write_msg2(&s, NULL, NULL, 0, m2, sizeof(m2)), ==, 48);
    g_assert_cmpint(noise_read_msg2(&c, m2, 48, NULL, 0), ==, 0);
    g_assert_cmpmem(c.h, 32, s.h, 32);
    noise_split(&c, tx, rx);
    noise_split(&s, stx, srx);
    g_assert_cmpmem(tx, 32, srx, 32);
    g_assert_cmpmem(rx, 32, stx, 32);

    /* Records use the big-endian counter nonce. */
    for (n = 0; n < 3; n++) {
        aead_nonce_be(nonce, (uint64_t)n);
        g_assert_true(aead_seal(rec, (const uint8_t *)"hello, control!!", 16, NULL, 0, nonce, tx));
        g_assert_true(aead_open(out, rec, 32, NULL, 0, nonce, srx));
        g_assert_cmpmem(out, 16, "hello, control!!", 16);
    }
    noise_handshake_wipe(&c);
    noise_handshake_wipe(&s);
}

int
main(int argc, char **argv)
{
    const char *path;
    guint n;
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);

    path = g_getenv("HYPHAE_NOISE_VECTORS");
    if (!path)
        path = FLYNN_VECTORS;
    n = load_flynn_vectors(path);
    if (n == 0)
        g_test_add_func("/noise/vectors/flynn", test_flynn_missing);

    g_test_add_func("/noise/kat/tailscale-rs/ik", test_rs_ik);
    g_test_add_func("/noise/kat/tailscale-rs/ikpsk2", test_rs_ikpsk2);
    g_test_add_func("/noise/protocol-name", test_protocol_name);
    g_test_add_func("/noise/wireguard/constants", test_wg_constants);
    g_test_add_func("/noise/wireguard/roundtrip", test_wg_roundtrip);
    g_test_add_func("/noise/wireguard/tamper", test_wg_tamper);
    g_test_add_func("/noise/wireguard/wrong-keys", test_wg_wrong_keys);
    g_test_add_func("/noise/wireguard/zero-keys", test_wg_zero_keys);
    g_test_add_func("/noise/wireguard/misuse", test_wg_misuse);
    g_test_add_func("/noise/ts2021/roundtrip", test_ts2021_roundtrip);

    ret = g_test_run();
    if (vectors)
        g_ptr_array_unref(vectors);
    return ret;
}
