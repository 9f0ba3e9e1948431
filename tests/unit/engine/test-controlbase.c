/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/engine/ts2021/controlbase: the TS2021 Noise transport,
 * client and server structs talking in process.
 *
 *  /controlbase/handshake/...  layout, keys learnt, handshake hash, determinism
 *  /controlbase/server/...     version, truncated/garbled initiations
 *  /controlbase/client/...     response length/type, error frames, partial input
 *  /controlbase/records/...    sizes, chunking, any split of the stream
 *  /controlbase/nonce/...      big-endian nonce, exhaustion
 *  /controlbase/fail/...       tampering, oversized frames, dead connections
 *
 * No byte-exact KAT here: the Go interop test (test-controlbase-interop) covers
 * wire compatibility; the Noise core has its own vectors in test-noise.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "ts2021/controlbase.h"
#include "crypto/aead.h"
#include "crypto/keys.h"

#define VERSION 130

static uint8_t machine_priv[32], machine_pub[32];
static uint8_t server_priv[32], server_pub[32];
static uint8_t client_e[32], server_e[32];

static void
fill(uint8_t k[32], uint8_t start)
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(start + i);
}

static void
setup_keys(void)
{
    fill(machine_priv, 0);
    fill(server_priv, 32);
    fill(client_e, 64);
    fill(server_e, 96);
    g_assert_true(key_public_from_private(machine_pub, machine_priv));
    g_assert_true(key_public_from_private(server_pub, server_priv));
}

/* A fresh established pair with the fixed keys and ephemerals. */
static void
make_pair(struct controlbase *cl, struct controlbase *sv)
{
    uint8_t init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN];
    char err[64];

    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init),
                    ==, CONTROLBASE_INITIATION_LEN);
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 0, init, sizeof(init), server_e, resp), ==,
        CONTROLBASE_RESPONSE_LEN);
    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==,
                    CONTROLBASE_RESPONSE_LEN);
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_ESTABLISHED);
    g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_ESTABLISHED);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* ---- handshake ---------------------------------------------------------- */

static void
test_handshake_basic(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN], init2[CONTROLBASE_INITIATION_LEN];
    uint8_t resp[CONTROLBASE_RESPONSE_LEN], resp2[CONTROLBASE_RESPONSE_LEN];
    uint8_t e_pub[32];
    char err[16];

    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init),
                    ==, 101);
    /* version u16 BE ‖ 01 ‖ 0060 ‖ e (clear) ‖ … */
    g_assert_cmpuint(init[0], ==, VERSION >> 8);
    g_assert_cmpuint(init[1], ==, VERSION & 0xff);
    g_assert_cmpuint(init[2], ==, 1);
    g_assert_cmpuint(init[3], ==, 0);
    g_assert_cmpuint(init[4], ==, 96);
    g_assert_true(key_public_from_private(e_pub, client_e));
    g_assert_cmpmem(init + 5, 32, e_pub, 32);
    /* the machine key is not in the clear */
    g_assert_null(memmem(init, sizeof(init), machine_pub, 32));
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_HANDSHAKE);

    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, VERSION, init, sizeof(init), server_e, resp), ==,
        51);
    g_assert_cmpuint(resp[0], ==, 2);
    g_assert_cmpuint(resp[1], ==, 0);
    g_assert_cmpuint(resp[2], ==, 48);
    g_assert_true(key_public_from_private(e_pub, server_e));
    g_assert_cmpmem(resp + 3, 32, e_pub, 32);
    /* The server learns the client's machine key. */
    g_assert_cmpmem(sv->peer_static, 32, machine_pub, 32);
    g_assert_cmpuint(sv->version, ==, VERSION);
    g_assert_false(sv->is_client);

    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==, 51);
    /* The client learns nothing new: its peer is the key it dialled. */
    g_assert_cmpmem(cl->peer_static, 32, server_pub, 32);
    g_assert_true(cl->is_client);
    /* Handshake state is gone once established. */
    g_assert_true(all_zero((const uint8_t *)&cl->hs, sizeof(cl->hs)));
    g_assert_true(all_zero((const uint8_t *)&sv->hs, sizeof(sv->hs)));

    g_assert_cmpmem(cl->handshake_hash, 32, sv->handshake_hash, 32);
    g_assert_false(all_zero(cl->handshake_hash, 32));
    g_assert_cmpmem(cl->tx_key, 32, sv->rx_key, 32);
    g_assert_cmpmem(cl->rx_key, 32, sv->tx_key, 32);
    g_assert_true(memcmp(cl->tx_key, cl->rx_key, 32) != 0);
    g_assert_cmpuint(cl->tx_nonce, ==, 0);
    g_assert_cmpuint(sv->rx_nonce, ==, 0);

    /* Fixed ephemerals: the same bytes again. */
    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init2),
                    ==, 101);
    g_assert_cmpmem(init, sizeof(init), init2, sizeof(init2));
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 0, init2, sizeof(init2), server_e, resp2), ==,
        51);
    g_assert_cmpmem(resp, sizeof(resp), resp2, sizeof(resp2));

    /* Another version changes the prologue, so more than the header. */
    g_assert_cmpint(
        controlbase_client_init(cl, VERSION + 1, machine_priv, server_pub, client_e, init2), ==,
        101);
    g_assert_cmpmem(init + 5, 32, init2 + 5, 32); /* same ephemeral */
    g_assert_true(memcmp(init + 37, init2 + 37, 64) != 0);

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_handshake_random(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN], init2[CONTROLBASE_INITIATION_LEN];
    uint8_t resp[CONTROLBASE_RESPONSE_LEN];

    g_assert_cmpint(controlbase_client_init(cl, 1, machine_priv, server_pub, NULL, init2), ==, 101);
    g_assert_cmpint(controlbase_client_init(cl, 1, machine_priv, server_pub, NULL, init), ==, 101);
    g_assert_true(memcmp(init + 5, init2 + 5, 32) != 0);
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 1, init, sizeof(init), NULL, resp),
                    ==, 51);
    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), NULL, 0), ==, 51);
    g_assert_cmpmem(cl->handshake_hash, 32, sv->handshake_hash, 32);
    g_assert_cmpmem(cl->tx_key, 32, sv->rx_key, 32);
    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_handshake_bad_args(void)
{
    struct controlbase *c = g_new0(struct controlbase, 1);
    uint8_t zero[32] = { 0 }, init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN];

    g_assert_cmpint(controlbase_client_init(c, VERSION, zero, server_pub, NULL, init), ==, -EINVAL);
    g_assert_cmpint(c->state, ==, CONTROLBASE_STATE_DEAD);
    /* A low-order server key: es is all zero. */
    g_assert_cmpint(controlbase_client_init(c, VERSION, machine_priv, zero, NULL, init), <, 0);
    g_assert_cmpint(c->state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_cmpint(controlbase_client_finish(c, init, 1, NULL, 0), ==, -EPIPE);

    /* A server struct cannot finish as a client. */
    g_assert_cmpint(controlbase_client_init(c, VERSION, machine_priv, server_pub, NULL, init), ==,
                    101);
    {
        struct controlbase *sv = g_new0(struct controlbase, 1);

        g_assert_cmpint(
            controlbase_server_accept(sv, server_priv, 0, init, sizeof(init), NULL, resp), ==, 51);
        g_assert_cmpint(controlbase_client_finish(sv, resp, sizeof(resp), NULL, 0), ==, -EINVAL);
        controlbase_wipe(sv);
        g_free(sv);
    }
    controlbase_wipe(c);
    g_free(c);
}

/* ---- server ------------------------------------------------------------- */

static void
test_server_version(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN];

    g_assert_cmpint(controlbase_client_init(cl, 112, machine_priv, server_pub, client_e, init), ==,
                    101);
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 113, init, sizeof(init), server_e, resp), ==,
        -EPROTONOSUPPORT);
    g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 112, init, sizeof(init), server_e, resp), ==,
        51);
    g_assert_cmpuint(sv->version, ==, 112);

    /* A forged header version (accepted by min_version) breaks the prologue. */
    init[1] = 113;
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 113, init, sizeof(init), server_e, resp), ==,
        -EBADMSG);
    g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_true(all_zero(sv->peer_static, 32));

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_server_bad_initiation(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN + 1], bad[CONTROLBASE_INITIATION_LEN + 1];
    uint8_t resp[CONTROLBASE_RESPONSE_LEN], other_priv[32];

    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init),
                    ==, 101);
    init[101] = 0;
    /* truncated / too long */
    for (size_t len = 0; len <= 102; len++) {
        if (len == 101)
            continue;
        g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, init, len, NULL, resp), ==,
                        -EPROTO);
        g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
    }
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, NULL, 0, NULL, resp), ==,
                    -EPROTO);
    /* wrong type */
    memcpy(bad, init, 101);
    bad[2] = 2;
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, bad, 101, NULL, resp), ==,
                    -EPROTO);
    /* wrong length field */
    memcpy(bad, init, 101);
    bad[4] = 95;
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, bad, 101, NULL, resp), ==,
                    -EPROTO);
    memcpy(bad, init, 101);
    bad[3] = 1;
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, bad, 101, NULL, resp), ==,
                    -EPROTO);
    /* every body byte is authenticated */
    for (size_t i = 5; i < 101; i++) {
        memcpy(bad, init, 101);
        bad[i] ^= 0x01;
        g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, bad, 101, NULL, resp), ==,
                        -EBADMSG);
        g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
    }
    /* the wrong server key */
    fill(other_priv, 200);
    g_assert_cmpint(controlbase_server_accept(sv, other_priv, 0, init, 101, NULL, resp), ==,
                    -EBADMSG);
    /* and the untouched one still works */
    g_assert_cmpint(controlbase_server_accept(sv, server_priv, 0, init, 101, NULL, resp), ==, 51);

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

/* ---- client ------------------------------------------------------------- */

static void
start_client(struct controlbase *cl, uint8_t resp[CONTROLBASE_RESPONSE_LEN])
{
    struct controlbase *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN];

    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init),
                    ==, 101);
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 0, init, sizeof(init), server_e, resp), ==, 51);
    controlbase_wipe(sv);
    g_free(sv);
}

static void
test_client_response(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1);
    uint8_t resp[CONTROLBASE_RESPONSE_LEN], bad[CONTROLBASE_RESPONSE_LEN + 1];
    char err[32];

    start_client(cl, resp);
    /* partial input: nothing consumed, nothing changed */
    for (size_t len = 0; len < sizeof(resp); len++) {
        g_assert_cmpint(controlbase_client_finish(cl, resp, len, err, sizeof(err)), ==, 0);
        g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_HANDSHAKE);
    }
    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==, 51);
    /* once established, finish is a misuse */
    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==,
                    -EINVAL);

    /* wrong lengths: 47, 49, 0x0130 */
    for (int i = 0; i < 3; i++) {
        static const uint16_t lens[] = { 47, 49, 0x130 };

        start_client(cl, resp);
        memcpy(bad, resp, sizeof(resp));
        bad[1] = (uint8_t)(lens[i] >> 8);
        bad[2] = (uint8_t)lens[i];
        g_assert_cmpint(controlbase_client_finish(cl, bad, 3, err, sizeof(err)), ==, -EPROTO);
        g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_DEAD);
        g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==,
                        -EPIPE);
    }
    /* wrong types, detected from the first byte */
    for (int t = 0; t < 256; t++) {
        if (t == CONTROLBASE_MSG_RESPONSE || t == CONTROLBASE_MSG_ERROR)
            continue;
        start_client(cl, resp);
        memcpy(bad, resp, sizeof(resp));
        bad[0] = (uint8_t)t;
        g_assert_cmpint(controlbase_client_finish(cl, bad, 1, err, sizeof(err)), ==, -EPROTO);
        g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_DEAD);
    }
    /* every body byte is authenticated */
    for (size_t i = 3; i < sizeof(resp); i++) {
        start_client(cl, resp);
        memcpy(bad, resp, sizeof(resp));
        bad[i] ^= 0x80;
        g_assert_cmpint(controlbase_client_finish(cl, bad, sizeof(resp), err, sizeof(err)), ==,
                        -EBADMSG);
        g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_DEAD);
    }
    controlbase_wipe(cl);
    g_free(cl);
}

/* Bytes after the response are left for controlbase_read. */
static void
test_client_trailing(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN], stream[CONTROLBASE_RESPONSE_LEN + 64];
    uint8_t out[CONTROLBASE_MAX_PLAINTEXT];
    size_t out_len;
    bool done;
    int n;

    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, client_e, init),
                    ==, 101);
    g_assert_cmpint(
        controlbase_server_accept(sv, server_priv, 0, init, sizeof(init), server_e, stream), ==,
        51);
    n = controlbase_write(sv, (const uint8_t *)"early", 5, stream + 51, sizeof(stream) - 51);
    g_assert_cmpint(n, ==, 3 + 5 + 16);
    g_assert_cmpint(controlbase_client_finish(cl, stream, 51 + (size_t)n, NULL, 0), ==, 51);
    g_assert_cmpint(controlbase_read(cl, stream + 51, (size_t)n, out, &out_len, &done), ==, n);
    g_assert_true(done);
    g_assert_cmpmem(out, out_len, "early", 5);
    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_client_error_frame(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1);
    uint8_t resp[CONTROLBASE_RESPONSE_LEN], frame[256];
    const char *text = "unsupported version";
    char err[64], small[4];
    int n;

    n = controlbase_error_frame(text, frame, sizeof(frame));
    g_assert_cmpint(n, ==, 3 + (int)strlen(text));
    g_assert_cmpuint(frame[0], ==, 3);
    g_assert_cmpuint(frame[1], ==, 0);
    g_assert_cmpuint(frame[2], ==, strlen(text));
    g_assert_cmpint(controlbase_error_frame(text, frame, (size_t)n - 1), ==, -ENOBUFS);
    g_assert_cmpint(controlbase_error_frame("", frame, 3), ==, 3);
    g_assert_cmpint(controlbase_error_frame(text, frame, sizeof(frame)), ==, n);

    start_client(cl, resp);
    /* partial: header, then half the text */
    g_assert_cmpint(controlbase_client_finish(cl, frame, 1, err, sizeof(err)), ==, 0);
    g_assert_cmpint(controlbase_client_finish(cl, frame, 3, err, sizeof(err)), ==, 0);
    g_assert_cmpint(controlbase_client_finish(cl, frame, 10, err, sizeof(err)), ==, 0);
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_HANDSHAKE);
    g_assert_cmpint(controlbase_client_finish(cl, frame, (size_t)n, err, sizeof(err)), ==,
                    -ECONNREFUSED);
    g_assert_cmpstr(err, ==, text);
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_cmpint(controlbase_client_finish(cl, resp, sizeof(resp), err, sizeof(err)), ==,
                    -EPIPE);

    /* truncated to the caller's buffer; needs only that much text */
    start_client(cl, resp);
    g_assert_cmpint(controlbase_client_finish(cl, frame, 3 + 3, small, sizeof(small)), ==,
                    -ECONNREFUSED);
    g_assert_cmpstr(small, ==, "uns");

    /* no buffer at all */
    start_client(cl, resp);
    g_assert_cmpint(controlbase_client_finish(cl, frame, 3, NULL, 0), ==, -ECONNREFUSED);

    /* empty text */
    start_client(cl, resp);
    n = controlbase_error_frame(NULL, frame, sizeof(frame));
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpint(controlbase_client_finish(cl, frame, 3, err, sizeof(err)), ==, -ECONNREFUSED);
    g_assert_cmpstr(err, ==, "");

    /* text longer than a frame can say is cut at 65535 */
    {
        size_t big = 70000;
        char *long_text = g_malloc(big + 1);
        uint8_t *f = g_malloc(big + 3);

        memset(long_text, 'x', big);
        long_text[big] = '\0';
        g_assert_cmpint(controlbase_error_frame(long_text, f, big + 3), ==, 3 + 65535);
        g_assert_cmpuint(f[1], ==, 0xff);
        g_assert_cmpuint(f[2], ==, 0xff);
        g_free(long_text);
        g_free(f);
    }
    controlbase_wipe(cl);
    g_free(cl);
}

/* ---- records ------------------------------------------------------------ */

/*
 * Feed stream to c in chunks of chunk bytes (0 = all at once), the way a caller
 * would: each arrival is handed to controlbase_read until it is consumed.
 * Returns the list of records (GBytes), empty ones included.
 */
static GPtrArray *
read_stream(struct controlbase *c, const uint8_t *stream, size_t len, size_t chunk)
{
    GPtrArray *records = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    uint8_t *out = g_malloc(CONTROLBASE_MAX_PLAINTEXT);
    size_t pos = 0;

    if (chunk == 0)
        chunk = len ? len : 1;
    while (pos < len) {
        size_t end = MIN(len, pos + chunk);

        while (pos < end) {
            size_t out_len = 12345;
            bool done = true;
            int n = controlbase_read(c, stream + pos, end - pos, out, &out_len, &done);

            g_assert_cmpint(n, >, 0);
            g_assert_cmpuint((size_t)n, <=, end - pos);
            pos += (size_t)n;
            if (done) {
                g_assert_cmpuint(out_len, <=, CONTROLBASE_MAX_PLAINTEXT);
                g_ptr_array_add(records, g_bytes_new(out, out_len));
            } else {
                g_assert_cmpuint(out_len, ==, 0);
                /* not done: everything offered was swallowed */
                g_assert_cmpuint(pos, ==, end);
            }
        }
    }
    g_assert_cmpuint(c->rlen, ==, 0);
    g_free(out);
    return records;
}

static uint8_t *
pattern(size_t len, uint8_t seed)
{
    uint8_t *p = g_malloc(len ? len : 1);

    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    return p;
}

/* write then read len bytes from a to b, checking framing. */
static void
roundtrip(struct controlbase *a, struct controlbase *b, size_t len, size_t chunk)
{
    size_t cap = controlbase_sealed_size(len), expect_records, got = 0, off = 0;
    g_autofree uint8_t *msg = pattern(len, (uint8_t)len);
    g_autofree uint8_t *wire = g_malloc(cap);
    g_autoptr(GPtrArray) records = NULL;
    uint64_t tx_before = a->tx_nonce;
    int n;

    expect_records =
        len == 0 ? 1 : (len + CONTROLBASE_MAX_PLAINTEXT - 1) / CONTROLBASE_MAX_PLAINTEXT;
    g_assert_cmpuint(cap, ==, len + expect_records * 19);
    g_assert_cmpint(controlbase_write(a, msg, len, wire, cap - 1), ==, -ENOBUFS);
    g_assert_cmpuint(a->tx_nonce, ==, tx_before);
    n = controlbase_write(a, msg, len, wire, cap);
    g_assert_cmpint(n, ==, (int)cap);
    g_assert_cmpuint(a->tx_nonce, ==, tx_before + expect_records);

    /* frames: type 4, length ≤ 4093, all but the last full */
    for (size_t i = 0; i < expect_records; i++) {
        size_t flen = (size_t)wire[off + 1] << 8 | wire[off + 2];

        g_assert_cmpuint(wire[off], ==, 4);
        g_assert_cmpuint(flen, >=, 16);
        g_assert_cmpuint(flen, <=, 4093);
        if (i + 1 < expect_records)
            g_assert_cmpuint(flen, ==, 4093);
        off += 3 + flen;
    }
    g_assert_cmpuint(off, ==, cap);

    records = read_stream(b, wire, cap, chunk);
    g_assert_cmpuint(records->len, ==, expect_records);
    for (guint i = 0; i < records->len; i++) {
        gsize rl;
        const uint8_t *r = g_bytes_get_data(records->pdata[i], &rl);

        g_assert_cmpuint(got + rl, <=, len);
        if (rl)
            g_assert_cmpmem(r, rl, msg + got, rl);
        got += rl;
    }
    g_assert_cmpuint(got, ==, len);
    g_assert_cmpuint(b->rx_nonce, ==, a->tx_nonce);
}

static void
test_records_sizes(void)
{
    static const size_t sizes[] = { 0, 1, 4077, 4078, 100000 };
    static const size_t chunks[] = { 0, 1 };
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);

    make_pair(cl, sv);
    for (size_t c = 0; c < G_N_ELEMENTS(chunks); c++) {
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
            roundtrip(cl, sv, sizes[i], chunks[c]);
            roundtrip(sv, cl, sizes[i], chunks[c]);
        }
    }
    g_assert_cmpuint(controlbase_sealed_size(4078), ==, 4078 + 2 * 19);
    g_assert_cmpuint(controlbase_sealed_size(0), ==, 19);
    g_assert_cmpuint(controlbase_sealed_size(SIZE_MAX), ==, SIZE_MAX);
    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

/* One stream of mixed records, read with many split sizes: always the same records. */
static void
test_records_any_split(void)
{
    static const size_t msgs[] = { 5, 0, 4077, 1, 9000, 0, 0, 300, 4078 };
    static const size_t chunks[] = { 0, 1, 2, 3, 4, 17, 18, 19, 20, 100, 4095, 4096, 4097, 10000 };
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GPtrArray) ref = NULL;
    uint8_t *rx_key = g_malloc(32);
    uint64_t rx_nonce;

    make_pair(cl, sv);
    for (size_t i = 0; i < G_N_ELEMENTS(msgs); i++) {
        g_autofree uint8_t *m = pattern(msgs[i], (uint8_t)i);
        size_t cap = controlbase_sealed_size(msgs[i]);
        g_autofree uint8_t *w = g_malloc(cap);

        g_assert_cmpint(controlbase_write(cl, m, msgs[i], w, cap), ==, (int)cap);
        g_byte_array_append(stream, w, (guint)cap);
    }
    /* Replay the same stream into the same rx state for every split. */
    memcpy(rx_key, sv->rx_key, 32);
    rx_nonce = sv->rx_nonce;
    for (size_t c = 0; c < G_N_ELEMENTS(chunks); c++) {
        g_autoptr(GPtrArray) got = NULL;

        memcpy(sv->rx_key, rx_key, 32);
        sv->rx_nonce = rx_nonce;
        got = read_stream(sv, stream->data, stream->len, chunks[c]);
        if (!ref) {
            ref = g_ptr_array_ref(got);
            continue;
        }
        g_assert_cmpuint(got->len, ==, ref->len);
        for (guint i = 0; i < got->len; i++)
            g_assert_true(g_bytes_equal(got->pdata[i], ref->pdata[i]));
    }
    /* 5 | 0 | 4077 | 1 | 4077+4077+846 | 0 | 0 | 300 | 4077+1 */
    g_assert_cmpuint(ref->len, ==, 12);
    g_assert_cmpuint(g_bytes_get_size(ref->pdata[1]), ==, 0);
    g_assert_cmpuint(g_bytes_get_size(ref->pdata[6]), ==, 846);

    /* All at once: exactly one record per call. */
    {
        size_t pos = 0;
        uint8_t out[CONTROLBASE_MAX_PLAINTEXT];
        size_t out_len;
        bool done;
        guint count = 0;

        memcpy(sv->rx_key, rx_key, 32);
        sv->rx_nonce = rx_nonce;
        while (pos < stream->len) {
            int n =
                controlbase_read(sv, stream->data + pos, stream->len - pos, out, &out_len, &done);
            size_t flen = 3 + ((size_t)stream->data[pos + 1] << 8 | stream->data[pos + 2]);

            g_assert_cmpint(n, ==, (int)flen);
            g_assert_true(done);
            pos += (size_t)n;
            count++;
        }
        g_assert_cmpuint(count, ==, ref->len);
    }
    /* len 0 consumes nothing */
    {
        uint8_t out[CONTROLBASE_MAX_PLAINTEXT];
        size_t out_len;
        bool done;

        g_assert_cmpint(controlbase_read(sv, NULL, 0, out, &out_len, &done), ==, 0);
        g_assert_false(done);
    }
    g_free(rx_key);
    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

/* ---- nonces ------------------------------------------------------------- */

/* A record built by hand: 04 ‖ len ‖ seal(key, nonce, plaintext), empty AD. */
static size_t
hand_record(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const char *text)
{
    size_t len = strlen(text);

    out[0] = 4;
    out[1] = (uint8_t)((len + 16) >> 8);
    out[2] = (uint8_t)(len + 16);
    g_assert_true(aead_seal(out + 3, (const uint8_t *)text, len, NULL, 0, nonce, key));
    return 3 + len + 16;
}

static void
test_nonce_big_endian(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t wire[64], rec[64], nonce[12], out[CONTROLBASE_MAX_PLAINTEXT];
    size_t out_len, rlen;
    bool done;
    int n;

    make_pair(cl, sv);
    /* record 0 by the library: LE and BE agree on counter 0 */
    n = controlbase_write(cl, (const uint8_t *)"zero", 4, wire, sizeof(wire));
    g_assert_cmpint(n, ==, 23);
    aead_nonce_be(nonce, 0);
    rlen = hand_record(rec, cl->tx_key, nonce, "zero");
    g_assert_cmpmem(rec, rlen, wire, (size_t)n);
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, n);
    g_assert_true(done);

    /* record 1 by hand with 00000000 ‖ 0000000000000001 */
    aead_nonce_be(nonce, 1);
    g_assert_cmpuint(nonce[11], ==, 1);
    g_assert_cmpuint(nonce[4], ==, 0);
    rlen = hand_record(rec, cl->tx_key, nonce, "one");
    g_assert_cmpint(controlbase_read(sv, rec, rlen, out, &out_len, &done), ==, (int)rlen);
    g_assert_true(done);
    g_assert_cmpmem(out, out_len, "one", 3);
    /* and the library's own record 1 of the other direction agrees */
    n = controlbase_write(sv, (const uint8_t *)"x", 1, wire, sizeof(wire));
    n = controlbase_write(sv, (const uint8_t *)"one", 3, wire, sizeof(wire));
    rlen = hand_record(rec, sv->tx_key, nonce, "one");
    g_assert_cmpmem(rec, rlen, wire, (size_t)n);

    /* A fresh pair: record 1 sealed with a little-endian nonce fails. */
    make_pair(cl, sv);
    n = controlbase_write(cl, (const uint8_t *)"zero", 4, wire, sizeof(wire));
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, n);
    aead_nonce_le(nonce, 1);
    rlen = hand_record(rec, cl->tx_key, nonce, "one");
    g_assert_cmpint(controlbase_read(sv, rec, rlen, out, &out_len, &done), ==, -EBADMSG);
    g_assert_false(done);
    g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_nonce_exhaustion(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t wire[2 * CONTROLBASE_MAX_FRAME], out[CONTROLBASE_MAX_PLAINTEXT];
    g_autofree uint8_t *big = pattern(CONTROLBASE_MAX_PLAINTEXT + 1, 1);
    size_t out_len;
    bool done;
    int n;

    make_pair(cl, sv);
    /* two records need nonces 2^64−3 and 2^64−2: allowed */
    cl->tx_nonce = sv->rx_nonce = UINT64_MAX - 2;
    n = controlbase_write(cl, big, CONTROLBASE_MAX_PLAINTEXT + 1, wire, sizeof(wire));
    g_assert_cmpint(n, ==, (int)controlbase_sealed_size(CONTROLBASE_MAX_PLAINTEXT + 1));
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, 4096);
    g_assert_cmpint(controlbase_read(sv, wire + 4096, (size_t)n - 4096, out, &out_len, &done), ==,
                    n - 4096);
    g_assert_cmpuint(out_len, ==, 1);
    g_assert_cmpuint(cl->tx_nonce, ==, UINT64_MAX);
    g_assert_cmpuint(sv->rx_nonce, ==, UINT64_MAX);
    /* the next would use 2^64−1: refused, connection dead */
    g_assert_cmpint(controlbase_write(cl, big, 1, wire, sizeof(wire)), ==, -EOVERFLOW);
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_true(all_zero(cl->tx_key, 32));
    g_assert_cmpint(controlbase_write(cl, big, 1, wire, sizeof(wire)), ==, -EPIPE);

    /* a write needing more nonces than remain writes nothing */
    make_pair(cl, sv);
    cl->tx_nonce = UINT64_MAX - 1;
    memset(wire, 0xaa, sizeof(wire));
    g_assert_cmpint(controlbase_write(cl, big, CONTROLBASE_MAX_PLAINTEXT + 1, wire, sizeof(wire)),
                    ==, -EOVERFLOW);
    g_assert_cmpuint(wire[0], ==, 0xaa);

    /* receive side: the record that would need nonce 2^64−1 kills it */
    make_pair(cl, sv);
    n = controlbase_write(cl, big, 1, wire, sizeof(wire));
    sv->rx_nonce = UINT64_MAX;
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, -EOVERFLOW);
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, -EPIPE);

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

/* ---- failures ----------------------------------------------------------- */

static void
test_fail_tamper(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t wire[64], out[CONTROLBASE_MAX_PLAINTEXT];
    size_t out_len;
    bool done;
    int n;

    for (size_t i = 3; i < 3 + 10 + 16; i++) {
        for (int split = 0; split < 2; split++) {
            make_pair(cl, sv);
            n = controlbase_write(cl, (const uint8_t *)"0123456789", 10, wire, sizeof(wire));
            g_assert_cmpint(n, ==, 29);
            wire[i] ^= 0x04;
            if (split) {
                /* through the buffered path */
                g_assert_cmpint(controlbase_read(sv, wire, 5, out, &out_len, &done), ==, 5);
                g_assert_cmpint(controlbase_read(sv, wire + 5, (size_t)n - 5, out, &out_len, &done),
                                ==, -EBADMSG);
            } else {
                g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==,
                                -EBADMSG);
            }
            g_assert_false(done);
            g_assert_cmpuint(out_len, ==, 0);
            g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
            g_assert_true(all_zero(sv->rx_key, 32));
            g_assert_true(all_zero(sv->tx_key, 32));
            /* every later call fails */
            wire[i] ^= 0x04;
            g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==,
                            -EPIPE);
            g_assert_cmpint(controlbase_read(sv, NULL, 0, out, &out_len, &done), ==, -EPIPE);
            g_assert_cmpint(controlbase_write(sv, wire, 1, out, sizeof(out)), ==, -EPIPE);
        }
    }
    /* a replayed record fails too (nonce moved on) */
    make_pair(cl, sv);
    n = controlbase_write(cl, (const uint8_t *)"again", 5, wire, sizeof(wire));
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, n);
    g_assert_cmpint(controlbase_read(sv, wire, (size_t)n, out, &out_len, &done), ==, -EBADMSG);
    /* a record for the other direction fails */
    make_pair(cl, sv);
    n = controlbase_write(cl, (const uint8_t *)"mine", 4, wire, sizeof(wire));
    g_assert_cmpint(controlbase_read(cl, wire, (size_t)n, out, &out_len, &done), ==, -EBADMSG);

    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
expect_bad_header(const uint8_t hdr[3], size_t feed, int expect)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t out[CONTROLBASE_MAX_PLAINTEXT];
    size_t out_len;
    bool done;

    make_pair(cl, sv);
    if (feed == 1) {
        /* a byte at a time */
        int r = 0;

        for (size_t i = 0; i < 3 && r >= 0; i++)
            r = controlbase_read(sv, hdr + i, 1, out, &out_len, &done);
        g_assert_cmpint(r, ==, expect);
    } else {
        g_assert_cmpint(controlbase_read(sv, hdr, 3, out, &out_len, &done), ==, expect);
    }
    if (expect < 0) {
        g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_DEAD);
        g_assert_cmpint(controlbase_read(sv, hdr, 3, out, &out_len, &done), ==, -EPIPE);
    } else {
        g_assert_cmpint(sv->state, ==, CONTROLBASE_STATE_ESTABLISHED);
    }
    controlbase_wipe(cl);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

static void
test_fail_frames(void)
{
    static const struct {
        uint8_t hdr[3];
        int expect;
    } cases[] = {
        { { 4, 0x0f, 0xfe }, -EPROTO },                                 /* 4094 */
        { { 4, 0xff, 0xff }, -EPROTO }, { { 4, 0x00, 0x0f }, -EPROTO }, /* under the tag */
        { { 4, 0x00, 0x00 }, -EPROTO }, { { 1, 0x00, 0x10 }, -EPROTO },
        { { 2, 0x00, 0x30 }, -EPROTO }, { { 3, 0x00, 0x10 }, -EPROTO },
        { { 5, 0x00, 0x10 }, -EPROTO }, { { 0, 0x00, 0x10 }, -EPROTO },
        { { 4, 0x0f, 0xfd }, 3 }, /* 4093: fine, needs more */
        { { 4, 0x00, 0x10 }, 3 }, /* 16: fine, needs more */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        expect_bad_header(cases[i].hdr, 3, cases[i].expect);
        expect_bad_header(cases[i].hdr, 1, cases[i].expect < 0 ? cases[i].expect : 1);
    }
}

static void
test_state_misuse(void)
{
    struct controlbase *cl = g_new0(struct controlbase, 1), *sv = g_new0(struct controlbase, 1);
    uint8_t init[CONTROLBASE_INITIATION_LEN], out[CONTROLBASE_MAX_FRAME];
    size_t out_len;
    bool done;

    /* zeroed struct = INIT */
    g_assert_cmpint(controlbase_write(cl, init, 1, out, sizeof(out)), ==, -ENOTCONN);
    g_assert_cmpint(controlbase_read(cl, init, 1, out, &out_len, &done), ==, -ENOTCONN);
    g_assert_cmpint(controlbase_client_finish(cl, init, 1, NULL, 0), ==, -EINVAL);
    g_assert_cmpint(controlbase_client_init(cl, VERSION, machine_priv, server_pub, NULL, init), ==,
                    101);
    g_assert_cmpint(controlbase_write(cl, init, 1, out, sizeof(out)), ==, -ENOTCONN);
    g_assert_cmpint(controlbase_read(cl, init, 1, out, &out_len, &done), ==, -ENOTCONN);

    make_pair(cl, sv);
    g_assert_cmpint(controlbase_write(cl, NULL, 1, out, sizeof(out)), ==, -EINVAL);
    g_assert_cmpint(controlbase_read(cl, NULL, 1, out, &out_len, &done), ==, -EINVAL);
    g_assert_cmpint(controlbase_write(cl, init, 1, out, 19), ==, -ENOBUFS);
    g_assert_cmpint(controlbase_write(cl, NULL, 0, out, 19), ==, 19);
    g_assert_cmpint(cl->state, ==, CONTROLBASE_STATE_ESTABLISHED);

    controlbase_wipe(cl);
    g_assert_true(all_zero((const uint8_t *)cl, sizeof(*cl)));
    g_assert_cmpint(controlbase_write(cl, init, 1, out, sizeof(out)), ==, -ENOTCONN);
    controlbase_wipe(NULL);
    controlbase_wipe(sv);
    g_free(cl);
    g_free(sv);
}

/* The same record paths on the other AEAD backend (OpenSSL handles large records by default). */
static void
test_other_backend(void)
{
    enum aead_backend was = aead_get_backend();

    aead_set_backend(was == AEAD_BACKEND_OPENSSL ? AEAD_BACKEND_LIBSODIUM : AEAD_BACKEND_OPENSSL);
    test_records_sizes();
    test_nonce_big_endian();
    test_fail_tamper();
    aead_set_backend(was);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    setup_keys();

    g_test_add_func("/controlbase/handshake/basic", test_handshake_basic);
    g_test_add_func("/controlbase/handshake/random-ephemerals", test_handshake_random);
    g_test_add_func("/controlbase/handshake/bad-args", test_handshake_bad_args);
    g_test_add_func("/controlbase/server/version", test_server_version);
    g_test_add_func("/controlbase/server/bad-initiation", test_server_bad_initiation);
    g_test_add_func("/controlbase/client/response", test_client_response);
    g_test_add_func("/controlbase/client/trailing-bytes", test_client_trailing);
    g_test_add_func("/controlbase/client/error-frame", test_client_error_frame);
    g_test_add_func("/controlbase/records/sizes", test_records_sizes);
    g_test_add_func("/controlbase/records/any-split", test_records_any_split);
    g_test_add_func("/controlbase/nonce/big-endian", test_nonce_big_endian);
    g_test_add_func("/controlbase/nonce/exhaustion", test_nonce_exhaustion);
    g_test_add_func("/controlbase/fail/tamper", test_fail_tamper);
    g_test_add_func("/controlbase/fail/frames", test_fail_frames);
    g_test_add_func("/controlbase/state/misuse", test_state_misuse);
    g_test_add_func("/controlbase/records/other-aead-backend", test_other_backend);
    return g_test_run();
}
