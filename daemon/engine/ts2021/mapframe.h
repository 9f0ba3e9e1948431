/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The map long-poll stream's framing (tailscale
 * control/controlclient/direct.go): each MapResponse is a u32 LITTLE-endian
 * length followed by that many bytes, one zstd frame each when the request
 * said Compress:"zstd", else raw JSON. Sans-I/O plain C: feed the HTTP/2
 * body bytes as they arrive, take out whole decoded messages.
 *
 * Caps (issues 3 and 8): a compressed message over 16 MiB or a decoded one
 * over 32 MiB (a 10 000-peer map is 7.2 MB) is refused without being
 * buffered or decoded in full (zstd bombs): a declared content size over the
 * cap before anything is allocated, an undeclared one once the cap is
 * decoded; the decoded bytes are never copied to a bigger buffer, so a bomb
 * costs at most the cap once. Truncated or corrupt zstd, or bytes after the
 * frame, are refused. Any error kills the reader (-EPIPE afterwards), so the
 * caller keeps its previous netmap and reconnects.
 */
enum {
    MAPFRAME_MAX_COMPRESSED = 16 << 20,
    MAPFRAME_MAX_DECODED = 32 << 20,
};

struct mapframe_reader;

struct mapframe_reader *mapframe_reader_new(bool zstd);
void mapframe_reader_free(struct mapframe_reader *r);

/*
 * Consume up to len bytes. Returns bytes consumed (≥ 0), or -EMSGSIZE (a
 * length over the compressed cap, or output over the decoded cap), -EBADMSG
 * (corrupt or truncated zstd: a frame that ends before the message does, or
 * bytes after the frame), -ENOMEM, -EPIPE (dead). When a message completes,
 * the call stops right after it and *msg and *msg_len point at the decoded bytes
 * (valid until the next call; not NUL-terminated).
 */
int mapframe_read(struct mapframe_reader *r, const uint8_t *buf, size_t len, const uint8_t **msg,
                  size_t *msg_len);

/*
 * For tests: bytes currently allocated by the reader (its output and
 * compressed-input buffers plus the zstd decoder's context, whether or not
 * the pages were touched), and the high-water mark of that since
 * mapframe_reader_new(). Bounded by MAPFRAME_MAX_DECODED +
 * MAPFRAME_MAX_COMPRESSED + the decoder's context (about 160 KiB).
 */
size_t mapframe_reader_buffer_size(const struct mapframe_reader *r);
size_t mapframe_reader_peak_buffer_size(const struct mapframe_reader *r);
