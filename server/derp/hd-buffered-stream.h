/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A socket connection whose input is read ahead, for GTlsConnection to sit on:
 * GnuTLS asks for each record's 5-byte header and then its body, two recvs a
 * record; through this one recv brings what the socket has (up to 16 KiB),
 * and the buffer is freed whenever it is drained, so an idle client holds none.
 * Pollable, as GTlsConnection's non-blocking I/O needs.
 */
#define HD_TYPE_BUFFERED_IO_STREAM (hd_buffered_io_stream_get_type ())
G_DECLARE_FINAL_TYPE (HdBufferedIOStream, hd_buffered_io_stream, HD, BUFFERED_IO_STREAM, GIOStream)

GIOStream *hd_buffered_io_stream_new (GIOStream *base);

G_END_DECLS
