/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/ts2021/mapframe (controlclient/direct.go): the map long-poll
 * stream's u32 little-endian length prefix and per-message zstd frames.
 *
 *  /mapframe/go/...      a stream written by tests/ts2021/zstdgen.go with
 *                        github.com/klauspost/compress/zstd (built offline at
 *                        test start; skipped when go or the package is missing,
 *                        unless $CI is set: then failed), fed whole, one byte at
 *                        a time and in random chunks; sha256s match its manifest
 *  /mapframe/raw/...     zstd=false
 *  /mapframe/zstd/...    caps, bombs, corrupt/truncated/trailing frames
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <zstd.h>

#include "fixture-missing.h"
#include "fixture-spawn.h"
#include "ts2021/mapframe.h"

#define MIB ((size_t)1 << 20)

/* ---- helpers ---------------------------------------------------------------- */

static void
put_le32(GByteArray *a, uint32_t v)
{
    uint8_t b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };

    g_byte_array_append(a, b, 4);
}

static void
add_msg(GByteArray *a, const void *p, size_t n)
{
    put_le32(a, (uint32_t)n);
    if (n)
        g_byte_array_append(a, p, (guint)n);
}

/* One zstd frame of src made by libzstd (content size set). */
static GBytes *
zframe(const void *src, size_t n)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *dst = g_malloc(cap);
    size_t r = ZSTD_compress(dst, cap, src, n, 3);

    g_assert_false(ZSTD_isError(r));
    return g_bytes_new_take(g_realloc(dst, r ? r : 1), r);
}

typedef struct {
    GPtrArray *msgs; /* GBytes each */
    int err;         /* 0, or the first error */
    int after_err;   /* what the next call returned after the error */
} Result;

static void
result_clear(Result *res)
{
    g_clear_pointer(&res->msgs, g_ptr_array_unref);
}

/*
 * Feed data in chunks: chunk 0 = whole, >0 = fixed size, <0 = random sizes
 * 1..-chunk from rng. Messages are copied out as they complete. Stops at the
 * first error and records what the following call returns.
 */
static Result
feed(bool zstd, const uint8_t *data, size_t len, long chunk, GRand *rng,
     struct mapframe_reader **keep)
{
    struct mapframe_reader *r = mapframe_reader_new(zstd);
    Result res = { g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref), 0, 0 };
    size_t off = 0;

    g_assert_nonnull(r);
    while (off < len) {
        size_t want = len - off;

        if (chunk > 0 && want > (size_t)chunk)
            want = (size_t)chunk;
        else if (chunk < 0) {
            size_t c = (size_t)g_rand_int_range(rng, 1, (gint32)(-chunk) + 1);

            if (want > c)
                want = c;
        }
        /* Within one chunk, messages come out one per call. */
        size_t coff = 0;
        do {
            const uint8_t *msg = (const uint8_t *)"x";
            size_t msg_len = 12345;
            int n = mapframe_read(r, data + off + coff, want - coff, &msg, &msg_len);

            if (n < 0) {
                g_assert_null(msg);
                g_assert_cmpuint(msg_len, ==, 0);
                res.err = n;
                res.after_err = mapframe_read(r, data, len, &msg, &msg_len);
                goto out;
            }
            g_assert_cmpuint((size_t)n, <=, want - coff);
            coff += (size_t)n;
            if (msg) {
                g_assert_true(msg_len == 0 || msg != NULL);
                g_ptr_array_add(res.msgs, g_bytes_new(msg, msg_len));
            } else {
                g_assert_cmpuint(msg_len, ==, 0);
                /* No message: the whole chunk must have been consumed. */
                g_assert_cmpuint(coff, ==, want);
            }
        } while (coff < want);
        off += want;
    }
out:
    if (keep)
        *keep = r;
    else
        mapframe_reader_free(r);
    return res;
}

/* ---- the Go-generated stream ----------------------------------------------- */

static char *tmp_dir;
static GBytes *go_stream;
static char **go_manifest; /* "sha256 len" lines */
static gboolean go_tried;

/* zstdgen (tests/ts2021/zstdgen.go, built by meson) writes a map stream
 * encoded by klauspost/compress and a manifest of its messages. */
static gboolean
need_go_stream(void)
{
    const char *bin = g_getenv("HYPHAE_ZSTDGEN");
    g_autofree char *sfile = NULL, *mfile = NULL, *mtext = NULL;
    g_autoptr(GError) error = NULL;
    char *sdata = NULL;
    gsize slen;

    if (go_stream)
        return TRUE;
    if (!bin || !g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        fixture_missing("zstdgen (HYPHAE_ZSTDGEN, built from tests/ts2021/zstdgen.go) is missing "
                        "(install golang-go golang-github-klauspost-compress-dev)");
        return FALSE;
    }
    if (go_tried) {
        g_test_fail_printf("zstdgen did not run (see the first test's log)");
        return FALSE;
    }
    go_tried = TRUE;
    tmp_dir = g_dir_make_tmp("hyphae-mapframe-XXXXXX", &error);
    g_assert_no_error(error);
    sfile = g_build_filename(tmp_dir, "stream.bin", NULL);
    mfile = g_build_filename(tmp_dir, "manifest.txt", NULL);

    const char *gen[] = { bin, sfile, mfile, NULL };
    if (!fixture_spawn_sync(gen, NULL, NULL, &error)) {
        g_test_fail_printf("zstdgen: %s", error->message);
        return FALSE;
    }
    g_file_get_contents(sfile, &sdata, &slen, &error);
    g_assert_no_error(error);
    g_file_get_contents(mfile, &mtext, NULL, &error);
    g_assert_no_error(error);
    go_stream = g_bytes_new_take(sdata, slen);
    go_manifest = g_strsplit(g_strchomp(mtext), "\n", -1);
    g_assert_cmpuint(g_strv_length(go_manifest), >=, 6);
    return TRUE;
}

static void
cleanup_tmp(void)
{
    if (tmp_dir) {
        fixture_rm_rf(tmp_dir);
        g_clear_pointer(&tmp_dir, g_free);
    }
    g_clear_pointer(&go_stream, g_bytes_unref);
    g_clear_pointer(&go_manifest, g_strfreev);
}

static void
check_against_manifest(const Result *res)
{
    g_assert_cmpint(res->err, ==, 0);
    g_assert_cmpuint(res->msgs->len, ==, g_strv_length(go_manifest));
    for (guint i = 0; i < res->msgs->len; i++) {
        gsize n;
        const guint8 *p = g_bytes_get_data(res->msgs->pdata[i], &n);
        g_autofree char *sum =
            g_compute_checksum_for_data(G_CHECKSUM_SHA256, p ? p : (const guint8 *)"", n);
        g_autofree char *line = g_strdup_printf("%s %" G_GSIZE_FORMAT, sum, n);

        g_assert_cmpstr(line, ==, go_manifest[i]);
    }
}

static void
test_go_whole(void)
{
    struct mapframe_reader *r = NULL;

    if (!need_go_stream())
        return;
    gsize len;
    const uint8_t *d = g_bytes_get_data(go_stream, &len);
    Result res = feed(true, d, len, 0, NULL, &r);

    check_against_manifest(&res);
    /* Big buffers are released after use (the 3 MiB messages needed > 1 MiB). */
    g_assert_cmpuint(mapframe_reader_peak_buffer_size(r), >=, 3 * MIB);
    {
        const uint8_t *msg;
        size_t msg_len;

        g_assert_cmpint(mapframe_read(r, NULL, 0, &msg, &msg_len), ==, 0);
        g_assert_null(msg);
    }
    g_assert_cmpuint(mapframe_reader_buffer_size(r), <=, 2 * MIB);
    mapframe_reader_free(r);
    result_clear(&res);
}

static void
test_go_bytewise(void)
{
    if (!need_go_stream())
        return;
    gsize len;
    const uint8_t *d = g_bytes_get_data(go_stream, &len);
    Result res = feed(true, d, len, 1, NULL, NULL);

    check_against_manifest(&res);
    result_clear(&res);
}

static void
test_go_random_chunks(void)
{
    static const long maxes[] = { 7, 100, 4096, 70000, 1 << 20 };
    g_autoptr(GRand) rng = g_rand_new_with_seed(0x6d6170);

    if (!need_go_stream())
        return;
    gsize len;
    const uint8_t *d = g_bytes_get_data(go_stream, &len);
    for (size_t i = 0; i < G_N_ELEMENTS(maxes); i++) {
        Result res = feed(true, d, len, -maxes[i], rng, NULL);

        check_against_manifest(&res);
        result_clear(&res);
    }
}

/* ---- raw mode ------------------------------------------------------------------ */

static void
test_raw(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GRand) rng = g_rand_new_with_seed(42);
    static const char *const texts[] = { "{\"KeepAlive\":true}", "", "{}", "" };
    char *big = g_malloc(200000);

    for (size_t i = 0; i < 200000; i++)
        big[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        add_msg(s, texts[i], strlen(texts[i]));
    add_msg(s, big, 200000);

    for (long chunk = -300; chunk <= 3; chunk++) {
        Result res = feed(false, s->data, s->len, chunk, rng, NULL);

        g_assert_cmpint(res.err, ==, 0);
        g_assert_cmpuint(res.msgs->len, ==, G_N_ELEMENTS(texts) + 1);
        for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
            gsize n;
            const void *p = g_bytes_get_data(res.msgs->pdata[i], &n);

            g_assert_cmpmem(p, n, texts[i], strlen(texts[i]));
        }
        gsize n;
        const void *p = g_bytes_get_data(res.msgs->pdata[G_N_ELEMENTS(texts)], &n);
        g_assert_cmpmem(p, n, big, 200000);
        result_clear(&res);
        if (chunk == -250)
            chunk = -1; /* a few random-chunk rounds, then whole, 1, 2, 3 */
    }
    g_free(big);
}

/* A whole call stops right after each message; the rest comes next call. */
static void
test_raw_boundaries(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    struct mapframe_reader *r = mapframe_reader_new(false);
    const uint8_t *msg;
    size_t msg_len;

    add_msg(s, "ab", 2);
    add_msg(s, "", 0);
    add_msg(s, "cde", 3);
    g_assert_cmpint(mapframe_read(r, s->data, s->len, &msg, &msg_len), ==, 6);
    g_assert_cmpmem(msg, msg_len, "ab", 2);
    g_assert_cmpint(mapframe_read(r, s->data + 6, s->len - 6, &msg, &msg_len), ==, 4);
    g_assert_nonnull(msg);
    g_assert_cmpuint(msg_len, ==, 0);
    g_assert_cmpint(mapframe_read(r, s->data + 10, 5, &msg, &msg_len), ==, 5);
    g_assert_null(msg);
    g_assert_cmpint(mapframe_read(r, s->data + 15, 2, &msg, &msg_len), ==, 2);
    g_assert_cmpmem(msg, msg_len, "cde", 3);
    mapframe_reader_free(r);
}

static void
test_raw_max(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    struct mapframe_reader *r = mapframe_reader_new(false);
    uint8_t *body = g_malloc0(MAPFRAME_MAX_COMPRESSED);
    const uint8_t *msg;
    size_t msg_len;

    body[0] = 1;
    body[MAPFRAME_MAX_COMPRESSED - 1] = 2;
    put_le32(s, MAPFRAME_MAX_COMPRESSED);
    g_assert_cmpint(mapframe_read(r, s->data, 4, &msg, &msg_len), ==, 4);
    g_assert_null(msg);
    /* Nothing near 16 MiB is reserved before the bytes arrive. */
    g_assert_cmpuint(mapframe_reader_buffer_size(r), <=, MIB);
    g_assert_cmpint(mapframe_read(r, body, MAPFRAME_MAX_COMPRESSED, &msg, &msg_len), ==,
                    MAPFRAME_MAX_COMPRESSED);
    g_assert_cmpmem(msg, msg_len, body, MAPFRAME_MAX_COMPRESSED);
    g_assert_cmpint(mapframe_read(r, NULL, 0, &msg, &msg_len), ==, 0);
    g_assert_cmpuint(mapframe_reader_buffer_size(r), <=, MIB);
    mapframe_reader_free(r);
    g_free(body);
}

static void
test_too_long(gconstpointer zstd)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    struct mapframe_reader *r = mapframe_reader_new(GPOINTER_TO_INT(zstd));
    const uint8_t *msg;
    size_t msg_len;

    put_le32(s, MAPFRAME_MAX_COMPRESSED + 1);
    /* Refused on the prefix alone: nothing is buffered. */
    g_assert_cmpint(mapframe_read(r, s->data, 3, &msg, &msg_len), ==, 3);
    g_assert_cmpint(mapframe_read(r, s->data + 3, 1, &msg, &msg_len), ==, -EMSGSIZE);
    g_assert_null(msg);
    g_assert_cmpuint(mapframe_reader_buffer_size(r), ==, 0);
    g_assert_cmpint(mapframe_read(r, s->data, 1, &msg, &msg_len), ==, -EPIPE);
    mapframe_reader_free(r);

    /* 0xffffffff too. */
    uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 };
    r = mapframe_reader_new(GPOINTER_TO_INT(zstd));
    g_assert_cmpint(mapframe_read(r, ff, sizeof(ff), &msg, &msg_len), ==, -EMSGSIZE);
    g_assert_cmpint(mapframe_read(r, ff, sizeof(ff), &msg, &msg_len), ==, -EPIPE);
    mapframe_reader_free(r);
}

/* ---- zstd mode, libzstd-made frames ------------------------------------------- */

static const char json[] = "{\"Node\":{\"ID\":1,\"Name\":\"self.example.ts.net.\"},\"Peers\":[]}";

static void
test_zstd_basic(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GBytes) f = zframe(json, strlen(json));
    g_autoptr(GBytes) e = zframe("", 0);

    add_msg(s, g_bytes_get_data(f, NULL), g_bytes_get_size(f));
    add_msg(s, "", 0); /* a 0-byte message: empty, no frame */
    add_msg(s, g_bytes_get_data(e, NULL), g_bytes_get_size(e));
    add_msg(s, g_bytes_get_data(f, NULL), g_bytes_get_size(f));
    for (long chunk = 0; chunk <= 5; chunk++) {
        Result res = feed(true, s->data, s->len, chunk, NULL, NULL);

        g_assert_cmpint(res.err, ==, 0);
        g_assert_cmpuint(res.msgs->len, ==, 4);
        g_assert_cmpmem(g_bytes_get_data(res.msgs->pdata[0], NULL),
                        g_bytes_get_size(res.msgs->pdata[0]), json, strlen(json));
        g_assert_cmpuint(g_bytes_get_size(res.msgs->pdata[1]), ==, 0);
        g_assert_cmpuint(g_bytes_get_size(res.msgs->pdata[2]), ==, 0);
        g_assert_cmpmem(g_bytes_get_data(res.msgs->pdata[3], NULL),
                        g_bytes_get_size(res.msgs->pdata[3]), json, strlen(json));
        result_clear(&res);
    }
}

static void
expect_error(const GByteArray *s, int want)
{
    for (long chunk = 0; chunk <= 3; chunk++) {
        Result res = feed(true, s->data, s->len, chunk, NULL, NULL);

        g_assert_cmpint(res.err, ==, want);
        g_assert_cmpint(res.after_err, ==, -EPIPE);
        result_clear(&res);
    }
}

static void
test_zstd_truncated(void)
{
    g_autoptr(GBytes) f = zframe(json, strlen(json));
    const uint8_t *fd = g_bytes_get_data(f, NULL);
    size_t fl = g_bytes_get_size(f);

    for (size_t cut = 1; cut < fl; cut++) {
        g_autoptr(GByteArray) s = g_byte_array_new();

        add_msg(s, fd, cut); /* the message ends mid-frame */
        add_msg(s, fd, fl);
        expect_error(s, -EBADMSG);
    }
}

static void
test_zstd_trailing(void)
{
    g_autoptr(GBytes) f = zframe(json, strlen(json));
    const uint8_t *fd = g_bytes_get_data(f, NULL);
    size_t fl = g_bytes_get_size(f);
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GByteArray) s2 = g_byte_array_new();

    g_byte_array_append(body, fd, (guint)fl);
    g_byte_array_append(body, (const guint8 *)"\0\0", 2);
    add_msg(s, body->data, body->len);
    expect_error(s, -EBADMSG);

    /* Two whole frames in one message. */
    g_byte_array_set_size(body, (guint)fl);
    g_byte_array_append(body, fd, (guint)fl);
    add_msg(s2, body->data, body->len);
    expect_error(s2, -EBADMSG);
}

static void
test_zstd_garbage(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);

    for (int round = 0; round < 50; round++) {
        g_autoptr(GByteArray) s = g_byte_array_new();
        uint8_t junk[300];
        size_t n = (size_t)g_rand_int_range(rng, 1, sizeof(junk) + 1);

        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)g_rand_int(rng);
        add_msg(s, junk, n);
        expect_error(s, -EBADMSG);
    }
    /* A valid magic, then junk. */
    g_autoptr(GByteArray) s = g_byte_array_new();
    static const uint8_t bad[] = {
        0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    };
    add_msg(s, bad, sizeof(bad));
    expect_error(s, -EBADMSG);
}

/* A frame header declaring more than the decoded cap is refused at once. */
static void
test_zstd_declared_too_big(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint64_t fcs = (uint64_t)MAPFRAME_MAX_DECODED + 1;
    uint8_t hdr[4 + 1 + 8] = { 0x28, 0xb5, 0x2f, 0xfd, 0xe0 }; /* single segment, 8-byte FCS */

    for (int i = 0; i < 8; i++)
        hdr[5 + i] = (uint8_t)(fcs >> (8 * i));
    put_le32(s, 1000);
    g_byte_array_append(s, hdr, sizeof(hdr));
    g_byte_array_set_size(s, 4 + 1000);
    memset(s->data + 4 + sizeof(hdr), 0, 1000 - sizeof(hdr));
    for (long chunk = 0; chunk <= 1; chunk++) {
        struct mapframe_reader *r = NULL;
        Result res = feed(true, s->data, s->len, chunk, NULL, &r);

        g_assert_cmpint(res.err, ==, -EMSGSIZE);
        g_assert_cmpint(res.after_err, ==, -EPIPE);
        /* Refused on the header: no output buffer was ever allocated. */
        g_assert_cmpuint(mapframe_reader_peak_buffer_size(r), <, 4096);
        mapframe_reader_free(r);
        result_clear(&res);
    }
}

/*
 * n bytes (a JSON-ish prefix, then 'x' filler) as one libzstd frame, made
 * 1 MiB at a time; declare: the frame header carries the content size.
 */
static GBytes *
make_frame(size_t n, bool declare)
{
    static const char prefix[] = "{\"Peers\":[{\"Name\":\"";
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    uint8_t *chunk = g_malloc(MIB);
    size_t cap = 1 << 20, len = 0, done = 0;
    uint8_t *out = g_malloc(cap);

    memset(chunk, 'x', MIB);
    g_assert_nonnull(cctx);
    g_assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)));
    if (declare)
        g_assert_false(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, n)));
    do {
        size_t take = n - done < MIB ? n - done : MIB;
        ZSTD_EndDirective end = done + take == n ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = { chunk, take, 0 };
        size_t left;

        memcpy(chunk, prefix, done == 0 && take >= sizeof(prefix) ? sizeof(prefix) - 1 : 0);
        do {
            if (cap - len < 65536) {
                cap *= 2;
                out = g_realloc(out, cap);
            }
            ZSTD_outBuffer o = { out + len, cap - len, 0 };
            left = ZSTD_compressStream2(cctx, &o, &in, end);
            g_assert_false(ZSTD_isError(left));
            len += o.pos;
        } while (in.pos < in.size || (end == ZSTD_e_end && left != 0));
        memset(chunk, 'x', sizeof(prefix));
        done += take;
    } while (done < n);
    ZSTD_freeCCtx(cctx);
    g_free(chunk);
    g_assert_cmpuint(ZSTD_getFrameContentSize(out, len), ==,
                     declare ? (unsigned long long)n : ZSTD_CONTENTSIZE_UNKNOWN);
    return g_bytes_new_take(out, len);
}

/*
 * A bomb made by hand, as tests/ts2021/control.go makes one: a raw block with
 * a JSON-ish prefix, then RLE blocks of 128 KiB of 'x' (4 bytes each) up to
 * total bytes; window 8 MiB, with or without an 8-byte declared content size.
 */
static GBytes *
make_rle_bomb(uint64_t total, bool declare)
{
    static const char prefix[] = "{\"Peers\":[{\"Name\":\"";
    const size_t plen = sizeof(prefix) - 1, block = 128 << 10;
    GByteArray *f = g_byte_array_new();
    uint8_t hdr[] = { 0x28, 0xb5, 0x2f, 0xfd, declare ? 0xc0 : 0x00, 0x68 /* window 2^23 */ };

    g_byte_array_append(f, hdr, sizeof(hdr));
    if (declare)
        for (int i = 0; i < 8; i++)
            g_byte_array_append(f, &(uint8_t){ (uint8_t)(total >> (8 * i)) }, 1);
    uint32_t bh = (uint32_t)plen << 3; /* raw, not last */
    g_byte_array_append(f, (uint8_t[]){ bh & 0xff, (bh >> 8) & 0xff, bh >> 16 }, 3);
    g_byte_array_append(f, (const uint8_t *)prefix, (guint)plen);
    for (uint64_t left = total - plen; left > 0;) {
        size_t n = left < block ? (size_t)left : block;

        left -= n;
        bh = (uint32_t)n << 3 | 1u << 1 | (left == 0); /* RLE */
        g_byte_array_append(f, (uint8_t[]){ bh & 0xff, (bh >> 8) & 0xff, bh >> 16, 'x' }, 4);
    }
    return g_byte_array_free_to_bytes(f);
}

/* The decoded bytes: the prefix make_frame() and make_rle_bomb() write, then 'x'. */
static void
check_decoded(GBytes *msg, size_t n)
{
    static const char prefix[] = "{\"Peers\":[{\"Name\":\"";
    gsize len;
    const uint8_t *p = g_bytes_get_data(msg, &len);

    g_assert_cmpuint(len, ==, n);
    g_assert_cmpmem(p, sizeof(prefix) - 1, prefix, sizeof(prefix) - 1);
    for (size_t i = sizeof(prefix) - 1; i < n; i++)
        if (p[i] != 'x')
            g_assert_cmpuint(i, ==, n); /* fails, saying where */
}

/*
 * A bomb is refused, and what the reader ever allocated stays within the
 * cap plus the compressed message plus the decoder's context: the decoded
 * bytes were never copied into a bigger buffer.
 */
static void
expect_bomb_refused(GBytes *bomb, size_t max_alloc)
{
    g_autoptr(GByteArray) s = g_byte_array_new();

    add_msg(s, g_bytes_get_data(bomb, NULL), g_bytes_get_size(bomb));
    for (long chunk = 0; chunk <= 1; chunk++) {
        struct mapframe_reader *r = NULL;
        Result res = feed(true, s->data, s->len, chunk ? 4096 : 0, NULL, &r);

        g_assert_cmpint(res.err, ==, -EMSGSIZE);
        g_assert_cmpint(res.after_err, ==, -EPIPE);
        g_test_message("peak %" G_GSIZE_FORMAT, mapframe_reader_peak_buffer_size(r));
        g_assert_cmpuint(mapframe_reader_peak_buffer_size(r), <=, max_alloc);
        g_assert_cmpuint(mapframe_reader_buffer_size(r), ==, 0); /* released when it died */
        mapframe_reader_free(r);
        result_clear(&res);
    }
}

#define DCTX_MAX ((size_t)512 << 10) /* ZSTD_sizeof_DCtx() is about 160 KiB */

/* libzstd's streaming encoder: 200 MiB in a few KiB, no declared size. */
static void
test_zstd_bomb(void)
{
    g_autoptr(GBytes) bomb = make_frame(200 * MIB, false);
    size_t z = g_bytes_get_size(bomb);

    g_test_message("200 MiB -> %" G_GSIZE_FORMAT " bytes", z);
    g_assert_cmpuint(z, <, 64 * 1024);
    expect_bomb_refused(bomb, MAPFRAME_MAX_DECODED + z + DCTX_MAX);
}

/*
 * 1 GiB of RLE blocks (32 KiB): declared, refused before any output buffer;
 * undeclared, at the cap.
 */
static void
test_zstd_rle_bomb(void)
{
    g_autoptr(GBytes) declared = make_rle_bomb((uint64_t)1 << 30, true);
    g_autoptr(GBytes) streaming = make_rle_bomb((uint64_t)1 << 30, false);
    g_autoptr(GBytes) small = make_rle_bomb(3 * MIB + 5, false);
    g_autoptr(GByteArray) s = g_byte_array_new();

    expect_bomb_refused(declared, g_bytes_get_size(declared) + DCTX_MAX);
    expect_bomb_refused(streaming, MAPFRAME_MAX_DECODED + g_bytes_get_size(streaming) + DCTX_MAX);
    /* The same construction, small: it is a valid frame. */
    add_msg(s, g_bytes_get_data(small, NULL), g_bytes_get_size(small));
    Result res = feed(true, s->data, s->len, 0, NULL, NULL);
    g_assert_cmpint(res.err, ==, 0);
    g_assert_cmpuint(res.msgs->len, ==, 1);
    check_decoded(res.msgs->pdata[0], 3 * MIB + 5);
    result_clear(&res);
}

/* The cap exactly and 32 MiB - 100 decode, declared or not; cap + 1 does not. */
static void
test_zstd_at_cap(gconstpointer declare)
{
    static const size_t sizes[] = { MAPFRAME_MAX_DECODED - 100, MAPFRAME_MAX_DECODED };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GBytes) ok = make_frame(sizes[i], GPOINTER_TO_INT(declare));
        g_autoptr(GByteArray) s = g_byte_array_new();
        struct mapframe_reader *r = NULL;

        add_msg(s, g_bytes_get_data(ok, NULL), g_bytes_get_size(ok));
        Result res = feed(true, s->data, s->len, 0, NULL, &r);
        g_assert_cmpint(res.err, ==, 0);
        g_assert_cmpuint(res.msgs->len, ==, 1);
        check_decoded(res.msgs->pdata[0], sizes[i]);
        /* Decoded in place: one output buffer, no copy of it. */
        g_assert_cmpuint(mapframe_reader_peak_buffer_size(r), <=,
                         MAPFRAME_MAX_DECODED + g_bytes_get_size(ok) + DCTX_MAX);
        mapframe_reader_free(r);
        result_clear(&res);
    }

    g_autoptr(GBytes) over = make_frame(MAPFRAME_MAX_DECODED + 1, GPOINTER_TO_INT(declare));
    expect_bomb_refused(over, (GPOINTER_TO_INT(declare) ? 0 : MAPFRAME_MAX_DECODED) +
                                  g_bytes_get_size(over) + DCTX_MAX);
}

int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mapframe/go/whole", test_go_whole);
    g_test_add_func("/mapframe/go/bytewise", test_go_bytewise);
    g_test_add_func("/mapframe/go/random-chunks", test_go_random_chunks);
    g_test_add_func("/mapframe/raw/messages", test_raw);
    g_test_add_func("/mapframe/raw/boundaries", test_raw_boundaries);
    g_test_add_func("/mapframe/raw/max", test_raw_max);
    g_test_add_data_func("/mapframe/raw/too-long", GINT_TO_POINTER(0), test_too_long);
    g_test_add_data_func("/mapframe/zstd/too-long", GINT_TO_POINTER(1), test_too_long);
    g_test_add_func("/mapframe/zstd/basic", test_zstd_basic);
    g_test_add_func("/mapframe/zstd/truncated", test_zstd_truncated);
    g_test_add_func("/mapframe/zstd/trailing", test_zstd_trailing);
    g_test_add_func("/mapframe/zstd/garbage", test_zstd_garbage);
    g_test_add_func("/mapframe/zstd/declared-too-big", test_zstd_declared_too_big);
    g_test_add_func("/mapframe/zstd/bomb", test_zstd_bomb);
    g_test_add_func("/mapframe/zstd/rle-bomb", test_zstd_rle_bomb);
    g_test_add_data_func("/mapframe/zstd/at-cap/undeclared", GINT_TO_POINTER(0), test_zstd_at_cap);
    g_test_add_data_func("/mapframe/zstd/at-cap/declared", GINT_TO_POINTER(1), test_zstd_at_cap);
    ret = g_test_run();
    cleanup_tmp();
    return ret;
}
