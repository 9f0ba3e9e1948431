/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/ts2021/controlbase (TS2021 Noise transport).
 * data[0] & 3 picks the mode; the rest is the input:
 *   0: a handshake initiation to a server (bit 2: min_version 100); bytes
 *      after the first 101 go to the server as records if it accepted;
 *   1: a response to a client that sent its initiation; data[1] is where the
 *      caller's first read ends (partial input must not change the outcome);
 *      trailing bytes go to the client as records;
 *   2: a record stream to an established pair (bit 2: to the client, else to
 *      the server), read whole and again split at u16 BE data[1..2]: both
 *      reads must give the same records and the same error;
 *   3: plaintext sealed by the client and read back by the server, split at
 *      data[1..2]: it must come back intact.
 * Keys and ephemerals are fixed and the established pair is a snapshot, so
 * runs are reproducible. FUZZ_CB_SEED_DIR=dir writes valid seeds there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz-harness.h"
#include "ts2021/controlbase.h"
#include "crypto/keys.h"

#define VERSION        130
#define FUZZ_MAX_INPUT 65536

static uint8_t machine_priv[32], server_priv[32], server_pub[32], client_e[32], server_e[32];
static uint8_t initiation[CONTROLBASE_INITIATION_LEN];
static struct controlbase snap_cl_hs;       /* client after its initiation */
static struct controlbase snap_cl, snap_sv; /* established pair */
static struct controlbase work_a, work_b;
static bool ready;

/* Records read: 2-byte length ‖ plaintext each, then the final status. */
struct transcript {
    uint8_t buf[2 * FUZZ_MAX_INPUT + 16];
    size_t len;
    int status;
};
static struct transcript whole, split;

static void
write_seed(const char *name, uint8_t mode, const uint8_t *pre, size_t pre_len, const uint8_t *body,
           size_t body_len)
{
    fuzz_write_seed("FUZZ_CB_SEED_DIR", name, mode, pre, pre_len, body, body_len);
}

static void
fixed_key(uint8_t k[32], uint8_t start)
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(start + i);
}

static void
dump_seeds(void)
{
    static uint8_t stream[3 * CONTROLBASE_MAX_FRAME + 128], plain[5000];
    static const uint8_t split_mid[2] = { 0x00, 0x20 }, split_none[2] = { 0xff, 0xff };
    uint8_t resp[CONTROLBASE_RESPONSE_LEN + 64], err[64], old[CONTROLBASE_INITIATION_LEN];
    struct controlbase cl = snap_cl;
    size_t n = 0;
    int r;

    if (!getenv("FUZZ_CB_SEED_DIR"))
        return;
    /* mode 0 */
    write_seed("initiation", 0, NULL, 0, initiation, sizeof(initiation));
    write_seed("initiation-minversion", 4, NULL, 0, initiation, sizeof(initiation));
    work_a = snap_cl_hs;
    CHECK(controlbase_client_init(&work_a, 99, machine_priv, server_pub, client_e, old) == 101);
    write_seed("initiation-old", 4, NULL, 0, old, sizeof(old));
    /* mode 1: the response plus one record, split inside the response */
    CHECK(controlbase_server_accept(&work_b, server_priv, 0, initiation, sizeof(initiation),
                                    server_e, resp) == CONTROLBASE_RESPONSE_LEN);
    r = controlbase_write(&work_b, (const uint8_t *)"early", 5, resp + CONTROLBASE_RESPONSE_LEN,
                          sizeof(resp) - CONTROLBASE_RESPONSE_LEN);
    CHECK(r > 0);
    write_seed("response", 1, (const uint8_t[]){ 10 }, 1, resp,
               CONTROLBASE_RESPONSE_LEN + (size_t)r);
    r = controlbase_error_frame("unsupported", err, sizeof(err));
    write_seed("error-frame", 1, (const uint8_t[]){ 2 }, 1, err, (size_t)r);
    /* mode 2: records from the snapshot client, nonces from 0 */
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)i;
    r = controlbase_write(&cl, (const uint8_t *)"hello", 5, stream + n, sizeof(stream) - n);
    n += (size_t)r;
    r = controlbase_write(&cl, NULL, 0, stream + n, sizeof(stream) - n);
    n += (size_t)r;
    r = controlbase_write(&cl, plain, sizeof(plain), stream + n, sizeof(stream) - n);
    CHECK(r > 0);
    n += (size_t)r;
    write_seed("records", 2, split_mid, 2, stream, n);
    write_seed("records-whole", 2, split_none, 2, stream, n);
    {
        struct controlbase sv = snap_sv;

        r = controlbase_write(&sv, plain, 100, stream, sizeof(stream));
        CHECK(r > 0);
        write_seed("records-to-client", 6, split_mid, 2, stream, (size_t)r);
        sodium_memzero(&sv, sizeof(sv));
    }
    write_seed("records-bad-type", 2, split_mid, 2, (const uint8_t[]){ 5, 0, 16 }, 3);
    write_seed("records-too-long", 2, split_mid, 2, (const uint8_t[]){ 4, 0x0f, 0xfe }, 3);
    /* mode 3 */
    write_seed("plaintext", 3, split_mid, 2, plain, sizeof(plain));
    sodium_memzero(&cl, sizeof(cl));
}

static void
setup(void)
{
    uint8_t resp[CONTROLBASE_RESPONSE_LEN];

    CHECK(sodium_init() >= 0);
    fixed_key(machine_priv, 1);
    fixed_key(server_priv, 40);
    fixed_key(client_e, 80);
    fixed_key(server_e, 120);
    CHECK(key_public_from_private(server_pub, server_priv));
    CHECK(controlbase_client_init(&snap_cl, VERSION, machine_priv, server_pub, client_e,
                                  initiation) == CONTROLBASE_INITIATION_LEN);
    snap_cl_hs = snap_cl;
    CHECK(controlbase_server_accept(&snap_sv, server_priv, 0, initiation, sizeof(initiation),
                                    server_e, resp) == CONTROLBASE_RESPONSE_LEN);
    CHECK(controlbase_client_finish(&snap_cl, resp, sizeof(resp), NULL, 0) ==
          CONTROLBASE_RESPONSE_LEN);
    ready = true;
    dump_seeds();
}

/* Read stream as a caller would (each piece handed over until consumed). */
static void
read_all(struct controlbase *c, const uint8_t *stream, size_t len, size_t cut, struct transcript *t)
{
    static uint8_t out[CONTROLBASE_MAX_PLAINTEXT];
    size_t pos = 0, end;

    t->len = 0;
    t->status = 0;
    if (cut > len)
        cut = len;
    for (int piece = 0; piece < 2; piece++) {
        end = piece == 0 ? cut : len;
        while (pos < end) {
            size_t out_len = 0;
            bool done = false;
            int n = controlbase_read(c, stream + pos, end - pos, out, &out_len, &done);

            if (n < 0) {
                CHECK(!done && out_len == 0);
                CHECK(c->state == CONTROLBASE_STATE_DEAD);
                CHECK(controlbase_read(c, stream, len, out, &out_len, &done) == -EPIPE);
                t->status = n;
                return;
            }
            CHECK(n > 0 && (size_t)n <= end - pos);
            CHECK(out_len <= CONTROLBASE_MAX_PLAINTEXT);
            CHECK(c->rlen <= CONTROLBASE_MAX_FRAME);
            pos += (size_t)n;
            if (done) {
                t->buf[t->len++] = (uint8_t)(out_len >> 8);
                t->buf[t->len++] = (uint8_t)out_len;
                memcpy(t->buf + t->len, out, out_len);
                t->len += out_len;
            } else {
                CHECK(out_len == 0 && pos == end);
            }
        }
    }
}

static void
fuzz_initiation(const uint8_t *in, size_t len, uint16_t min_version)
{
    uint8_t resp[CONTROLBASE_RESPONSE_LEN];
    size_t ilen = len < CONTROLBASE_INITIATION_LEN ? len : CONTROLBASE_INITIATION_LEN;
    int r;

    r = controlbase_server_accept(&work_b, server_priv, min_version, in, ilen, server_e, resp);
    if (r < 0) {
        CHECK(r == -EPROTO || r == -EPROTONOSUPPORT || r == -EBADMSG);
        CHECK(work_b.state == CONTROLBASE_STATE_DEAD);
        return;
    }
    CHECK(r == CONTROLBASE_RESPONSE_LEN && work_b.state == CONTROLBASE_STATE_ESTABLISHED);
    read_all(&work_b, in + ilen, len - ilen, len - ilen, &whole);
}

static void
fuzz_response(const uint8_t *in, size_t len, size_t first)
{
    char err[32];
    int r;

    work_a = snap_cl_hs;
    if (first > len)
        first = len;
    r = controlbase_client_finish(&work_a, in, first, err, sizeof(err));
    if (r == 0) {
        CHECK(work_a.state == CONTROLBASE_STATE_HANDSHAKE);
        r = controlbase_client_finish(&work_a, in, len, err, sizeof(err));
    }
    if (r < 0) {
        CHECK(r == -EPROTO || r == -EBADMSG || r == -ECONNREFUSED);
        CHECK(work_a.state == CONTROLBASE_STATE_DEAD);
        if (r == -ECONNREFUSED)
            CHECK(strlen(err) < sizeof(err));
        return;
    }
    if (r == 0) {
        CHECK(work_a.state == CONTROLBASE_STATE_HANDSHAKE);
        return;
    }
    CHECK(r == CONTROLBASE_RESPONSE_LEN && work_a.state == CONTROLBASE_STATE_ESTABLISHED);
    read_all(&work_a, in + r, len - (size_t)r, 0, &whole);
}

static void
fuzz_records(const uint8_t *in, size_t len, size_t cut, bool to_client)
{
    const struct controlbase *snap = to_client ? &snap_cl : &snap_sv;

    work_a = *snap;
    read_all(&work_a, in, len, len, &whole);
    work_a = *snap;
    read_all(&work_a, in, len, cut, &split);
    CHECK(whole.status == split.status);
    CHECK(whole.len == split.len && memcmp(whole.buf, split.buf, whole.len) == 0);
    CHECK(whole.status == 0 || whole.status == -EPROTO || whole.status == -EBADMSG);
}

static void
fuzz_plaintext(const uint8_t *in, size_t len, size_t cut)
{
    static uint8_t wire[FUZZ_MAX_INPUT + FUZZ_MAX_INPUT / 64 + 64];
    size_t need = controlbase_sealed_size(len), got = 0, off = 0;
    int r;

    CHECK(need <= sizeof(wire));
    work_a = snap_cl;
    work_b = snap_sv;
    r = controlbase_write(&work_a, in, len, wire, need);
    CHECK(r >= 0 && (size_t)r == need);
    read_all(&work_b, wire, need, cut, &whole);
    CHECK(whole.status == 0);
    /* the records' plaintexts concatenate to the input */
    while (off < whole.len) {
        size_t rl = (size_t)whole.buf[off] << 8 | whole.buf[off + 1];

        CHECK(got + rl <= len && memcmp(whole.buf + off + 2, in + got, rl) == 0);
        got += rl;
        off += 2 + rl;
    }
    CHECK(got == len && work_b.rx_nonce == work_a.tx_nonce);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut;

    if (!ready)
        setup();
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_initiation(data + 1, size - 1, (data[0] & 4) ? 100 : 0);
        break;
    case 1:
        if (size < 2)
            return 0;
        fuzz_response(data + 2, size - 2, data[1]);
        break;
    case 2:
    case 3:
        if (size < 3)
            return 0;
        cut = (size_t)data[1] << 8 | data[2];
        if ((data[0] & 3) == 2)
            fuzz_records(data + 3, size - 3, cut, (data[0] & 4) != 0);
        else
            fuzz_plaintext(data + 3, size - 3, cut);
        break;
    default:
        break;
    }
    return 0;
}
