/* SPDX-License-Identifier: MIT */
/*
 * The map long-poll stream's framing (control/controlclient/direct.go): u32 little-endian
 * length + that many bytes; one zstd frame per message in zstd mode.
 *
 * A compressed message is collected whole (≤ MAPFRAME_MAX_COMPRESSED, the
 * buffer growing as bytes really arrive) and decoded in one pass when its
 * last byte is in: libzstd's streaming decoder judges some malformed frames
 * differently depending on how the input is chunked (found by fuzz-mapframe),
 * and the outcome must not depend on how TCP split the stream.
 *
 * The decoded message goes straight into one buffer that is never grown
 * (issue 8: a growing buffer that is copied held old + new at once, 176 MiB
 * for a bomb): exactly the frame's declared content size (a declared size
 * over MAPFRAME_MAX_DECODED is refused before anything is allocated), or,
 * when the frame declares none, MAPFRAME_MAX_DECODED with decoding stopped
 * there (-EMSGSIZE). libzstd's one-shot decoder writes into it directly,
 * with no window buffer of its own. A block that big is fresh pages from the
 * kernel (glibc mmaps it), which become resident only as they are written:
 * a bomb costs at most the cap, once.
 * Buffers above MF_KEEP_MAX are released after a message has been handed out;
 * the compressed one as soon as its message is decoded.
 */
#include "ts2021/mapframe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#define MF_MIN_ALLOC ((size_t)64 << 10)
#define MF_KEEP_MAX  ((size_t)1 << 20)

enum mf_state {
    MF_HDR,  /* collecting the 4-byte length */
    MF_BODY, /* inside a message */
    MF_DONE, /* a message was handed out; release big buffers on the next call */
    MF_DEAD,
};

struct mapframe_reader {
    bool zstd;
    enum mf_state state;
    uint8_t hdr[4];
    size_t hdr_len;
    size_t remaining; /* message bytes still to come */
    size_t total;     /* the current message's length */
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in; /* zstd: the compressed message being collected */
    size_t in_len, in_cap;
    ZSTD_DCtx *dctx;
    size_t peak;
};

static size_t
mf_footprint(const struct mapframe_reader *r)
{
    return r->out_cap + r->in_cap + (r->dctx ? ZSTD_sizeof_DCtx(r->dctx) : 0);
}

static void
mf_note_peak(struct mapframe_reader *r)
{
    size_t now = mf_footprint(r);

    if (now > r->peak)
        r->peak = now;
}

static void
mf_release(struct mapframe_reader *r)
{
    free(r->out);
    r->out = NULL;
    r->out_len = r->out_cap = 0;
    free(r->in);
    r->in = NULL;
    r->in_len = r->in_cap = 0;
    ZSTD_freeDCtx(r->dctx);
    r->dctx = NULL;
}

static int
mf_die(struct mapframe_reader *r, int err)
{
    mf_release(r);
    r->state = MF_DEAD;
    return err;
}

/* Make *buf_cap at least want (<= max), growing geometrically up to max. */
static int
mf_grow(struct mapframe_reader *r, uint8_t **buf, size_t *buf_cap, size_t want, size_t max)
{
    size_t cap;
    uint8_t *p;

    if (want <= *buf_cap)
        return 0;
    if (want > max)
        return -EMSGSIZE;
    cap = *buf_cap > MF_MIN_ALLOC ? *buf_cap : MF_MIN_ALLOC;
    while (cap < want)
        cap = cap > max / 2 ? max : cap * 2;
    if (cap > max)
        cap = max;
    p = realloc(*buf, cap);
    if (!p)
        return -ENOMEM;
    *buf = p;
    *buf_cap = cap;
    mf_note_peak(r);
    return 0;
}

/* Make the output capacity at least want (≤ MAPFRAME_MAX_DECODED). */
static int
mf_reserve(struct mapframe_reader *r, size_t want)
{
    return mf_grow(r, &r->out, &r->out_cap, want, MAPFRAME_MAX_DECODED);
}

/* Append n compressed bytes (the total never exceeds the message length ≤ 16 MiB). */
static int
mf_collect(struct mapframe_reader *r, const uint8_t *p, size_t n, size_t total)
{
    int err = mf_grow(r, &r->in, &r->in_cap, r->in_len + n, total);

    if (err < 0)
        return err;
    memcpy(r->in + r->in_len, p, n);
    r->in_len += n;
    return 0;
}

struct mapframe_reader *
mapframe_reader_new(bool zstd)
{
    struct mapframe_reader *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->zstd = zstd;
    r->state = MF_HDR;
    return r;
}

void
mapframe_reader_free(struct mapframe_reader *r)
{
    if (!r)
        return;
    mf_release(r);
    free(r);
}

size_t
mapframe_reader_buffer_size(const struct mapframe_reader *r)
{
    return r ? mf_footprint(r) : 0;
}

size_t
mapframe_reader_peak_buffer_size(const struct mapframe_reader *r)
{
    return r ? r->peak : 0;
}

static int
mf_zstd_error(size_t ret)
{
    return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? -ENOMEM : -EBADMSG;
}

/* An output buffer of at least cap bytes: a small one kept from before, else a fresh one
 * (never a copy). */
static int
mf_out_exact(struct mapframe_reader *r, size_t cap)
{
    if (cap == 0)
        cap = 1;
    if (r->out_cap >= cap && r->out_cap <= MF_KEEP_MAX)
        return 0;
    free(r->out); /* first: the old and the new buffer never coexist */
    r->out_cap = 0;
    r->out = malloc(cap);
    if (!r->out)
        return -ENOMEM;
    r->out_cap = cap;
    mf_note_peak(r);
    return 0;
}

/*
 * Decode the collected message: exactly one zstd frame (a skippable frame is
 * an empty message), nothing after it.
 */
static int
mf_decode_whole(struct mapframe_reader *r)
{
    unsigned long long fcs = ZSTD_getFrameContentSize(r->in, r->in_len);
    size_t frame_len, cap, n;
    int err;

    r->out_len = 0;
    if (fcs == ZSTD_CONTENTSIZE_ERROR)
        return -EBADMSG; /* not a zstd frame, or its header is cut short */
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > MAPFRAME_MAX_DECODED)
        return -EMSGSIZE; /* a declared bomb: refused before allocating */
    /* Walks the block headers only: a truncated frame or trailing bytes cost nothing. */
    frame_len = ZSTD_findFrameCompressedSize(r->in, r->in_len);
    if (ZSTD_isError(frame_len) || frame_len != r->in_len)
        return -EBADMSG;
    cap = fcs == ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)MAPFRAME_MAX_DECODED : (size_t)fcs;
    if (!r->dctx) {
        r->dctx = ZSTD_createDCtx();
        if (!r->dctx)
            return -ENOMEM;
        mf_note_peak(r);
    }
    err = mf_out_exact(r, cap);
    if (err < 0)
        return err;
    n = ZSTD_decompressDCtx(r->dctx, r->out, cap, r->in, r->in_len);
    if (ZSTD_isError(n)) {
        /* Undeclared size: more than the cap. Declared: the frame lied. */
        if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall && fcs == ZSTD_CONTENTSIZE_UNKNOWN)
            return -EMSGSIZE;
        return mf_zstd_error(n);
    }
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && n != fcs)
        return -EBADMSG; /* libzstd checks this too; cheap to be sure */
    r->out_len = n;
    return 0;
}

static int
mf_append_raw(struct mapframe_reader *r, const uint8_t *p, size_t n)
{
    int err = mf_reserve(r, r->out_len + n);

    if (err < 0)
        return err;
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
    return 0;
}

int
mapframe_read(struct mapframe_reader *r, const uint8_t *buf, size_t len, const uint8_t **msg,
              size_t *msg_len)
{
    size_t used = 0;
    int err;

    if (!r || !msg || !msg_len || (!buf && len))
        return -EINVAL;
    *msg = NULL;
    *msg_len = 0;
    if (r->state == MF_DEAD)
        return -EPIPE;
    if (r->state == MF_DONE) {
        /* The previous message is no longer valid: drop big buffers. */
        if (r->out_cap > MF_KEEP_MAX) {
            free(r->out);
            r->out = NULL;
            r->out_cap = 0;
        }
        if (r->in_cap > MF_KEEP_MAX) {
            free(r->in);
            r->in = NULL;
            r->in_cap = 0;
        }
        if (r->dctx && ZSTD_sizeof_DCtx(r->dctx) > MF_KEEP_MAX) {
            ZSTD_freeDCtx(r->dctx);
            r->dctx = NULL;
        }
        r->out_len = 0;
        r->state = MF_HDR;
    }
    if (len > (size_t)INT32_MAX)
        len = INT32_MAX; /* the return value must fit */

    while (used < len) {
        if (r->state == MF_HDR) {
            size_t take = sizeof(r->hdr) - r->hdr_len;

            if (take > len - used)
                take = len - used;
            memcpy(r->hdr + r->hdr_len, buf + used, take);
            r->hdr_len += take;
            used += take;
            if (r->hdr_len < sizeof(r->hdr))
                break;
            r->hdr_len = 0;
            r->remaining = (size_t)r->hdr[0] | (size_t)r->hdr[1] << 8 | (size_t)r->hdr[2] << 16 |
                           (size_t)r->hdr[3] << 24;
            if (r->remaining > MAPFRAME_MAX_COMPRESSED)
                return mf_die(r, -EMSGSIZE);
            if (r->remaining == 0) {
                r->out_len = 0;
                goto complete;
            }
            r->in_len = 0;
            r->total = r->remaining;
            r->out_len = 0;
            if (!r->zstd) {
                /* Raw: the length is capped at 16 MiB, but grow as bytes really arrive. */
                err = mf_reserve(r, r->remaining < MF_MIN_ALLOC ? r->remaining : MF_MIN_ALLOC);
                if (err < 0)
                    return mf_die(r, err);
            }
            r->state = MF_BODY;
            continue;
        }
        /* MF_BODY */
        size_t n = len - used < r->remaining ? len - used : r->remaining;

        err = r->zstd ? mf_collect(r, buf + used, n, r->total) : mf_append_raw(r, buf + used, n);
        if (err < 0)
            return mf_die(r, err);
        used += n;
        r->remaining -= n;
        if (r->remaining == 0) {
            if (r->zstd) {
                /* The whole message is here: decode it in one pass. */
                err = mf_decode_whole(r);
                if (err < 0)
                    return mf_die(r, err);
                if (r->in_cap > MF_KEEP_MAX) {
                    /* Not needed while the caller parses the text. */
                    free(r->in);
                    r->in = NULL;
                    r->in_cap = 0;
                }
            }
            goto complete;
        }
    }
    return (int)used;

complete:
    r->state = MF_DONE;
    *msg = r->out_len ? r->out : (const uint8_t *)"";
    *msg_len = r->out_len;
    return (int)used;
}
