/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-ts2021.h"

G_BEGIN_DECLS

/*
 * HTTP/2 with prior knowledge over an established TS2021 connection
 * (Tailscale's control/ts2021/client.go): nghttp2 frames the requests, controlbase seals them into
 * records and opens the server's records. The leftover plaintext the dial
 * already decrypted (the server's first SETTINGS) is fed to nghttp2 first.
 * One client per connection; requests may run concurrently (one stream each).
 * Response bodies are capped (HYPHAE_H2_MAX_BODY); a GOAWAY, RST_STREAM or a
 * broken connection fails the affected requests with HYPHAE_H2_ERROR.
 */
#define HYPHAE_H2_ERROR (hyphae_h2_error_quark ())
GQuark hyphae_h2_error_quark (void);

typedef enum {
  HYPHAE_H2_ERROR_PROTOCOL, /* nghttp2 or Noise failure: the connection is dead */
  HYPHAE_H2_ERROR_RESET,    /* RST_STREAM for this request */
  HYPHAE_H2_ERROR_GOAWAY,   /* the server is going away */
  HYPHAE_H2_ERROR_TOO_BIG,  /* response body over the cap */
  HYPHAE_H2_ERROR_CLOSED,   /* EOF from the server */
} HyphaeH2Error;

enum {
  HYPHAE_H2_MAX_BODY = 16 << 20
};

typedef struct _HyphaeH2Client HyphaeH2Client;

/*
 * Takes ownership of conn. authority: the control server's host[:port], sent
 * as :authority (with :scheme https, as Tailscale's client does).
 */
HyphaeH2Client *hyphae_h2_client_new (HyphaeTs2021Conn *conn,
                                      const char *authority);
void hyphae_h2_client_free (HyphaeH2Client *client);

/* method "GET"/"POST"; body may be NULL; content_type may be NULL. */
void hyphae_h2_client_request_async (HyphaeH2Client *client,
                                     const char *method,
                                     const char *path,
                                     const char *content_type,
                                     GBytes *body,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
/* The response body (never NULL on success) and its :status. */
GBytes *hyphae_h2_client_request_finish (HyphaeH2Client *client,
                                         GAsyncResult *result,
                                         guint *status,
                                         GError **error);

/*
 * Streaming requests (the map long-poll): the response is handed out as it
 * arrives instead of being collected, and the body cap does not apply (the
 * caller bounds what it keeps; mapframe caps each message).
 *
 * Callbacks run on the client's main context, never inside nghttp2, in this
 * order: response (once, with the final :status) → data (zero or more
 * chunks) → end (exactly once; error NULL when the server ended the stream
 * cleanly, else a HYPHAE_H2_ERROR: RESET, GOAWAY, CLOSED, PROTOCOL, or
 * G_IO_ERROR_CANCELLED when the client is freed). end may come without
 * response (the stream failed first). Any callback may cancel the stream or
 * free the client. destroy (may be NULL) runs once, after end returned or
 * when the stream is cancelled.
 *
 * The handle stays valid until end has returned or hyphae_h2_stream_cancel()
 * was called, whichever is first; cancel after that is a programming error.
 */
typedef struct _HyphaeH2Stream HyphaeH2Stream;

typedef struct {
  void (*response) (HyphaeH2Stream *stream, guint status, gpointer user_data);
  void (*data) (HyphaeH2Stream *stream, const guint8 *data, gsize len, gpointer user_data);
  void (*end) (HyphaeH2Stream *stream, const GError *error, gpointer user_data);
} HyphaeH2StreamCallbacks;

/* Callbacks are copied; any of them may be NULL. */
HyphaeH2Stream *hyphae_h2_client_stream (HyphaeH2Client *client,
                                         const char *method,
                                         const char *path,
                                         const char *content_type,
                                         GBytes *body,
                                         const HyphaeH2StreamCallbacks *callbacks,
                                         gpointer user_data,
                                         GDestroyNotify destroy);
/* Reset the stream (RST_STREAM CANCEL); no callback runs after this. */
void hyphae_h2_stream_cancel (HyphaeH2Stream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeH2Client, hyphae_h2_client_free)

G_END_DECLS
