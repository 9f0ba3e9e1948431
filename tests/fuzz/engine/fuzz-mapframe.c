/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/ts2021/mapframe (map stream framing,
 * control/controlclient/direct.go). data[0] bit 0 picks zstd (1) or raw (0) mode;
 * data[1..2] (u16 LE, modulo the stream length) is where a second run splits
 * the stream; data[3..] is the stream. The stream is read whole and again in
 * two pieces: both runs must give the same messages and fail with the same
 * error, and -EPIPE after. In raw mode the messages must equal a reference
 * parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-harness.h"
#include "ts2021/mapframe.h"

struct outcome {
    uint8_t *msgs; /* u32 length + bytes, concatenated */
    size_t len, cap;
    size_t count;
    int err;
};

static void
record(struct outcome *o, const uint8_t *m, size_t n)
{
    size_t need = o->len + 4 + n;

    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 256;

        while (cap < need)
            cap *= 2;
        o->msgs = realloc(o->msgs, cap);
        CHECK(o->msgs);
        o->cap = cap;
    }
    memcpy(o->msgs + o->len, &(uint32_t){ (uint32_t)n }, 4);
    if (n)
        memcpy(o->msgs + o->len + 4, m, n);
    o->len = need;
    o->count++;
}

/* Feed pieces [0, split) and [split, len); returns the outcome. */
static struct outcome
run(bool zstd, const uint8_t *s, size_t len, size_t split)
{
    struct mapframe_reader *r = mapframe_reader_new(zstd);
    struct outcome o = { 0 };
    const size_t bounds[3] = { 0, split, len };

    CHECK(r);
    for (int piece = 0; piece < 2 && !o.err; piece++) {
        size_t off = bounds[piece], end = bounds[piece + 1];

        do {
            const uint8_t *msg = (const uint8_t *)"x";
            size_t msg_len = 99;
            int n = mapframe_read(r, s + off, end - off, &msg, &msg_len);

            if (n < 0) {
                CHECK(n == -EMSGSIZE || n == -EBADMSG || n == -ENOMEM);
                CHECK(!msg && msg_len == 0);
                o.err = n;
                CHECK(mapframe_read(r, s, len, &msg, &msg_len) == -EPIPE);
                CHECK(mapframe_reader_buffer_size(r) == 0);
                break;
            }
            CHECK((size_t)n <= end - off);
            off += (size_t)n;
            if (msg) {
                CHECK(msg_len <= (size_t)MAPFRAME_MAX_DECODED);
                CHECK(zstd || msg_len <= (size_t)MAPFRAME_MAX_COMPRESSED);
                record(&o, msg, msg_len);
            } else {
                CHECK(msg_len == 0 && off == end);
            }
        } while (off < end);
    }
    /* One output buffer, never grown by a copy, plus the compressed message and the DCtx. */
    CHECK(mapframe_reader_peak_buffer_size(r) <=
          (size_t)MAPFRAME_MAX_DECODED + MAPFRAME_MAX_COMPRESSED + (1 << 20));
    mapframe_reader_free(r);
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool zstd = data[0] & 1;
    size_t split = (size_t)data[1] | (size_t)data[2] << 8;
    const uint8_t *s = data + 3;
    size_t len = size - 3;

    split = len ? split % (len + 1) : 0;
    struct outcome whole = run(zstd, s, len, len);
    struct outcome parts = run(zstd, s, len, split);

    /*
     * mapframe collects each compressed message whole before decoding it in
     * one pass, so the outcome never depends on how the stream was split.
     */
    CHECK(whole.err == parts.err);
    CHECK(whole.count == parts.count);
    CHECK(whole.len == parts.len);
    CHECK(whole.len == 0 || memcmp(whole.msgs, parts.msgs, whole.len) == 0);

    if (!zstd) {
        /* Reference parse: whole messages, then maybe a partial one or an oversize length. */
        size_t off = 0, moff = 0, count = 0;
        int err = 0;

        while (len - off >= 4) {
            uint32_t n = (uint32_t)s[off] | (uint32_t)s[off + 1] << 8 | (uint32_t)s[off + 2] << 16 |
                         (uint32_t)s[off + 3] << 24;

            if (n > MAPFRAME_MAX_COMPRESSED) {
                err = -EMSGSIZE;
                break;
            }
            if (len - off - 4 < n)
                break;
            CHECK(moff + 4 + n <= whole.len);
            CHECK(memcmp(whole.msgs + moff, &n, 4) == 0);
            CHECK(n == 0 || memcmp(whole.msgs + moff + 4, s + off + 4, n) == 0);
            moff += 4 + n;
            off += 4 + n;
            count++;
        }
        CHECK(whole.err == err);
        CHECK(whole.count == count);
        CHECK(whole.len == moff);
    }
    free(whole.msgs);
    free(parts.msgs);
    return 0;
}
