/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The map long-poll stream's framing (PROTOCOL.md §2.5; tailscale
 * control/controlclient/direct.go): each MapResponse is a u32 LITTLE-endian
 * length followed by that many bytes, one zstd frame each when the request
 * said Compress:"zstd", else raw JSON. Sans-I/O plain C: feed the HTTP/2
 * body bytes as they arrive, take out whole decoded messages.
 *
 * Caps (issue 3): a compressed message over 16 MiB or a decoded one over
 * 128 MiB is refused without being buffered or decoded in full (zstd bombs);
 * truncated or corrupt zstd is refused. Any error kills the reader
 * (-EPIPE afterwards), so the caller keeps its previous netmap and reconnects.
 */
enum {
    MAPFRAME_MAX_COMPRESSED = 16 << 20,
    MAPFRAME_MAX_DECODED = 128 << 20,
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
 * For tests: bytes currently held by the reader (its output buffer plus the
 * zstd decoder's own allocation), and the high-water mark of that since
 * mapframe_reader_new(). Bounded by about MAPFRAME_MAX_DECODED plus the
 * decoder's window (at most 2^27 bytes).
 */
size_t mapframe_reader_buffer_size(const struct mapframe_reader *r);
size_t mapframe_reader_peak_buffer_size(const struct mapframe_reader *r);
