/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "ts2021/controlbase.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * Dialling a TS2021 control server (control/controlhttp, control/ts2021):
 *
 *   1. GET <url>/key?v=<capver>  → {"legacyPublicKey":…,"publicKey":"mkey:<hex>"}
 *   2. POST /ts2021 HTTP/1.1, Upgrade: tailscale-control-protocol,
 *      Connection: upgrade, X-Tailscale-Handshake: base64(101-byte initiation)
 *   3. 101 Switching Protocols (Upgrade header checked), then the Noise
 *      response — possibly in the same segment as the headers: bytes the HTTP
 *      reader already buffered are kept — then records.
 *   4. The first plaintext is either the early payload
 *      FF FF FF 'T' 'S' ‖ u32 BE length ‖ JSON (≤ 10 MiB), or HTTP/2 directly:
 *      read 9 bytes; if they are not the magic they belong to HTTP/2.
 *
 * The server's answers are read by the pure functions in
 * hyphae-ts2021-answers.h (strict JSON through hyphae-json.h).
 *
 * http:// and https:// URLs; https uses GTlsClientConnection with no ALPN and
 * certificate errors ignored (Noise authenticates the server); /key keeps
 * libsoup's certificate checks (its answer is what Noise authenticates
 * against). Protocol errors are HYPHAE_TS2021_ERROR codes with a message
 * naming the step that failed; a read or write failure (EOF, reset) after the
 * connection is up maps to the code of the step it interrupted. Not mapped:
 * G_IO_ERROR_CANCELLED, G_IO_ERROR_INVALID_ARGUMENT for a URL that is not
 * http(s)://host[:port], and the G_IO_ERROR / G_RESOLVER_ERROR / G_TLS_ERROR
 * of connecting (DNS, TCP, TLS handshake) or of the /key transport.
 */
#define HYPHAE_TS2021_ERROR (hyphae_ts2021_error_quark ())
GQuark hyphae_ts2021_error_quark (void);

typedef enum {
  HYPHAE_TS2021_ERROR_KEY,       /* /key failed: status, not JSON, bad or zero key */
  HYPHAE_TS2021_ERROR_UPGRADE,   /* not 101, wrong Upgrade, closed early */
  HYPHAE_TS2021_ERROR_HANDSHAKE, /* error frame, bad response, failed authentication */
  HYPHAE_TS2021_ERROR_PROTOCOL,  /* bad record, early payload too big or not JSON */
} HyphaeTs2021Error;

/* Fetch the server's Noise public key (publicKey, strict "mkey:" + 64 hex). */
void hyphae_ts2021_fetch_key_async (const char *control_url,
                                    guint16 capver,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean hyphae_ts2021_fetch_key_finish (GAsyncResult *result,
                                         guint8 out_key[KEY_LEN],
                                         GError **error);

/* An established TS2021 connection: the stream, the Noise state, what came first. */
typedef struct _HyphaeTs2021Conn HyphaeTs2021Conn;

void hyphae_ts2021_dial_async (const char *control_url,
                               guint16 capver,
                               const guint8 machine_priv[KEY_LEN],
                               const guint8 server_pub[KEY_LEN],
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
HyphaeTs2021Conn *hyphae_ts2021_dial_finish (GAsyncResult *result,
                                             GError **error);

/* The early payload's JSON (NULL if the server sent none). Transfer none. */
const char *hyphae_ts2021_conn_get_early_payload (HyphaeTs2021Conn *conn);
/*
 * Decrypted bytes that followed it (the start of HTTP/2; never NULL, may be
 * empty). Transfer none. A partial record that arrived with them is already
 * inside the Noise state: keep feeding the stream's next bytes to
 * controlbase_read.
 */
GBytes *hyphae_ts2021_conn_get_leftover (HyphaeTs2021Conn *conn);
GIOStream *hyphae_ts2021_conn_get_stream (HyphaeTs2021Conn *conn);
struct controlbase *hyphae_ts2021_conn_get_noise (HyphaeTs2021Conn *conn);
void hyphae_ts2021_conn_free (HyphaeTs2021Conn *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeTs2021Conn, hyphae_ts2021_conn_free)

G_END_DECLS
