/* SPDX-License-Identifier: MIT */
/*
 * The map long-poll stream's framing (PROTOCOL.md §2.5): u32 little-endian
 * length + that many bytes; one zstd frame per message in zstd mode.
 *
 * A compressed message is collected whole (≤ MAPFRAME_MAX_COMPRESSED, the
 * buffer growing as bytes really arrive) and decoded in one pass when its
 * last byte is in: libzstd's streaming decoder judges some malformed frames
 * differently depending on how the input is chunked (found by fuzz-mapframe),
 * and the outcome must not depend on how TCP split the stream. The output buffer
 * grows geometrically from what was actually decoded, capped at
 * MAPFRAME_MAX_DECODED; once it is full, decoding continues into a 1-byte
 * probe and any further byte is -EMSGSIZE. The frame's declared content size
 * is only a hint for the first reservation, capped at MF_HINT_CAP.
 * Buffers (ours and the DCtx's) above MF_KEEP_MAX are released after a
 * message has been handed out.
 */
#include "mapframe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#define MF_MIN_ALLOC ((size_t)64 << 10)
#define MF_HINT_CAP  ((size_t)4 << 20)
#define MF_KEEP_MAX  ((size_t)1 << 20)
/* 2^27 = MAPFRAME_MAX_DECODED: a single-segment frame's window is its content size. */
#define MF_WINDOW_LOG_MAX 27

_Static_assert((size_t)1 << MF_WINDOW_LOG_MAX == (size_t)MAPFRAME_MAX_DECODED,
               "window limit must match the decoded cap");

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
    bool frame_done;  /* zstd: the frame ended (only allowed at the message end) */
    uint8_t fhdr[18]; /* zstd: the message's first bytes (ZSTD_FRAMEHEADERSIZE_MAX) */
    size_t fhdr_len;
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in;      /* zstd: the compressed message being collected */
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

/* Make the output capacity at least want (≤ MAPFRAME_MAX_DECODED), growing geometrically. */
static int
mf_reserve(struct mapframe_reader *r, size_t want)
{
    size_t cap;
    uint8_t *p;

    if (want <= r->out_cap)
        return 0;
    if (want > MAPFRAME_MAX_DECODED)
        return -EMSGSIZE;
    cap = r->out_cap > MF_MIN_ALLOC ? r->out_cap : MF_MIN_ALLOC;
    while (cap < want)
        cap = cap > MAPFRAME_MAX_DECODED / 2 ? (size_t)MAPFRAME_MAX_DECODED : cap * 2;
    if (cap > MAPFRAME_MAX_DECODED)
        cap = MAPFRAME_MAX_DECODED;
    p = realloc(r->out, cap);
    if (!p)
        return -ENOMEM;
    r->out = p;
    r->out_cap = cap;
    mf_note_peak(r);
    return 0;
}

/* Append n compressed bytes (the total never exceeds the message length ≤ 16 MiB). */
static int
mf_collect(struct mapframe_reader *r, const uint8_t *p, size_t n, size_t total)
{
    if (r->in_len + n > r->in_cap) {
        size_t cap = r->in_cap > MF_MIN_ALLOC ? r->in_cap : MF_MIN_ALLOC;
        uint8_t *q;

        while (cap < r->in_len + n)
            cap *= 2;
        if (cap > total)
            cap = total;
        q = realloc(r->in, cap);
        if (!q)
            return -ENOMEM;
        r->in = q;
        r->in_cap = cap;
        mf_note_peak(r);
    }
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
    ZSTD_ErrorCode code = ZSTD_getErrorCode(ret);

    if (code == ZSTD_error_memory_allocation)
        return -ENOMEM;
    /* A window (or single-segment content size) over 2^27 = the decoded cap. */
    if (code == ZSTD_error_frameParameter_windowTooLarge)
        return -EMSGSIZE;
    return -EBADMSG;
}

static int
mf_begin_body(struct mapframe_reader *r, const uint8_t *p, size_t avail)
{
    r->out_len = 0;
    r->frame_done = false;
    r->fhdr_len = 0;
    if (!r->zstd)
        /* Raw: the length is capped at 16 MiB, but grow as bytes really arrive. */
        return mf_reserve(r, r->remaining < MF_MIN_ALLOC ? r->remaining : MF_MIN_ALLOC);

    if (!r->dctx) {
        r->dctx = ZSTD_createDCtx();
        if (!r->dctx)
            return -ENOMEM;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, MF_WINDOW_LOG_MAX)))
            return -ENOMEM;
    } else {
        ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    }
    /* The declared content size is a hint only, and only when the header is here already. */
    unsigned long long fcs = ZSTD_getFrameContentSize(p, avail);   /* p: the whole message */
    size_t hint = MF_MIN_ALLOC;
    /*
     * Over the cap, the decoder refuses the frame's window (-EMSGSIZE) unless
     * it finds another fault first; leaving that to it keeps the outcome
     * independent of how the bytes were split.
     */
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR)
        hint = fcs < MF_HINT_CAP ? (size_t)fcs : MF_HINT_CAP;
    return mf_reserve(r, hint ? hint : 1);
}

/* Feed n message bytes to the zstd decoder. */
static int
mf_decode(struct mapframe_reader *r, const uint8_t *p, size_t n)
{
    ZSTD_inBuffer in = { p, n, 0 };
    uint8_t probe;
    bool out_full;
    size_t keep = sizeof(r->fhdr) - r->fhdr_len;

    if (keep > n)
        keep = n;
    memcpy(r->fhdr + r->fhdr_len, p, keep);
    r->fhdr_len += keep;

    do {
        ZSTD_outBuffer o;
        bool probing = false;
        size_t in_before = in.pos, ret;
        int err;

        if (r->frame_done)
            return in.pos < in.size ? -EBADMSG : 0; /* bytes after the frame */
        if (r->out_len == r->out_cap) {
            if (r->out_cap < MAPFRAME_MAX_DECODED) {
                err = mf_reserve(r, r->out_cap + 1);
                if (err < 0)
                    return err;
            } else {
                probing = true;
            }
        }
        if (probing)
            o = (ZSTD_outBuffer){ &probe, 1, 0 };
        else
            o = (ZSTD_outBuffer){ r->out + r->out_len, r->out_cap - r->out_len, 0 };
        ret = ZSTD_decompressStream(r->dctx, &o, &in);
        mf_note_peak(r);
        if (ZSTD_isError(ret))
            return mf_zstd_error(ret);
        if (probing && o.pos > 0)
            return -EMSGSIZE;
        r->out_len += o.pos;
        if (ret == 0) {
            /*
             * libzstd's streaming decoder does not always check the declared
             * content size (e.g. an empty last raw block): check it here.
             */
            unsigned long long fcs = ZSTD_getFrameContentSize(r->fhdr, r->fhdr_len);

            if (fcs != ZSTD_CONTENTSIZE_UNKNOWN &&
                (fcs == ZSTD_CONTENTSIZE_ERROR || fcs != (unsigned long long)r->out_len))
                return -EBADMSG;
            r->frame_done = true;
        }
        out_full = o.pos == o.size;
        if (!out_full && in.pos == in_before && o.pos == 0 && in.pos < in.size)
            return -EBADMSG; /* no progress: cannot happen with a sane decoder */
        /* A full output may hide decoded data still inside the DCtx: flush it. */
    } while (in.pos < in.size || (out_full && !r->frame_done));
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
            if (!r->zstd) {
                err = mf_begin_body(r, buf + used, len - used);
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
                err = mf_begin_body(r, r->in, r->in_len);
                if (err == 0)
                    err = mf_decode(r, r->in, r->in_len);
                if (err < 0)
                    return mf_die(r, err);
                if (!r->frame_done)
                    return mf_die(r, -EBADMSG); /* the frame is truncated */
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
