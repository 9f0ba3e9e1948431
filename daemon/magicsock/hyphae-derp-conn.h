/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-derp-map.h"

G_BEGIN_DECLS

/*
 * HyphaeDerpConn: one DERP connection to one region, on the thread-default
 * main context of its creation (tailscale's derphttp.Client plus the
 * reconnect loop of magicsock's runDerpReader). It dials the region's nodes
 * in order (STUN-only ones skipped; the IPv4/IPv6 literals when present,
 * else HostName; DERPPort), speaks TLS with SNI = HostName (InsecureForTests
 * and CertName honoured), upgrades GET /derp to DERP and runs the engine's
 * sans-I/O client (derp-client.h) over the stream. Any error, or no frame
 * for the read deadline (120 s; the server sends a KeepAlive every 60 s),
 * drops the connection and dials again after an exponential backoff capped
 * at 5 s, or when a Restarting frame said. Writes go through a bounded
 * queue: a packet that does not fit is dropped, the main loop never blocks.
 *
 * Plain HTTP instead of TLS only when TS_DEBUG_USE_DERP_HTTP=1 is in the
 * environment, as tailscaled has it (tests).
 */
#define HYPHAE_TYPE_DERP_CONN (hyphae_derp_conn_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeDerpConn, hyphae_derp_conn, HYPHAE, DERP_CONN, GObject)

enum {
  HYPHAE_DERP_CONN_KEY_LEN = 32,
  /* Bytes waiting to be written (whole frames) beyond which packets are dropped. */
  HYPHAE_DERP_CONN_QUEUE_MAX = 512 << 10,
  HYPHAE_DERP_CONN_BACKOFF_MAX_MS = 5000,
  HYPHAE_DERP_CONN_READ_TIMEOUT_MS = 120 * 1000,
  /* TCP + TLS + the upgrade, as derphttp's connect. */
  HYPHAE_DERP_CONN_DIAL_TIMEOUT_MS = 10 * 1000,
};

/* A RecvPacket: the sender's node key and the unframed WireGuard or disco bytes
 * (valid during the call only). */
typedef void (*HyphaeDerpPacketFunc) (HyphaeDerpConn *conn,
                                      const guint8 src[HYPHAE_DERP_CONN_KEY_LEN],
                                      const guint8 *data,
                                      gsize len,
                                      gpointer user_data);

/*
 * Starts connecting at once. region: the region to reach (a reference is
 * kept); node_priv: our node private key (copied into locked memory, wiped
 * on finalize); func: called for every packet received.
 */
HyphaeDerpConn *hyphae_derp_conn_new (HyphaeDerpRegion *region,
                                      const guint8 node_priv[HYPHAE_DERP_CONN_KEY_LEN],
                                      HyphaeDerpPacketFunc func,
                                      gpointer user_data,
                                      GDestroyNotify user_data_free);

HyphaeDerpRegion *hyphae_derp_conn_get_region (HyphaeDerpConn *self);

/* Tell the server whether this is our home region (NotePreferred, now and at
 * every reconnect). */
void hyphae_derp_conn_set_preferred (HyphaeDerpConn *self,
                                     gboolean preferred);

/* Queue a SendPacket to dst. FALSE when the packet was dropped: not
 * connected, larger than 64 KiB, or the write queue is full. */
gboolean hyphae_derp_conn_send (HyphaeDerpConn *self,
                                const guint8 dst[HYPHAE_DERP_CONN_KEY_LEN],
                                const guint8 *data,
                                gsize len);

/* The "connected" property: logged in (ServerInfo accepted). */
gboolean hyphae_derp_conn_get_connected (HyphaeDerpConn *self);

/* The "health" property: "" when healthy; else why not (our last error
 * while not connected, or the server's Health text). */
const char *hyphae_derp_conn_get_health (HyphaeDerpConn *self);

/* How many times the connection logged in, for tests and metrics. */
guint hyphae_derp_conn_get_n_connects (HyphaeDerpConn *self);

/* The read deadline, for tests (default HYPHAE_DERP_CONN_READ_TIMEOUT_MS). */
void hyphae_derp_conn_set_read_timeout (HyphaeDerpConn *self,
                                        guint timeout_ms);

/* Drop the connection for good (no reconnect). Idempotent. Call it before
 * dropping your reference: operations in flight hold references of their
 * own until they see the cancellation (on the next main-loop turns). */
void hyphae_derp_conn_close (HyphaeDerpConn *self);

/*
 * Signals:
 * - "peer-gone" (GBytes *key, guint reason): the server says the peer with
 *   that node key left (reason 0) or was never here (1: a disco packet to it
 *   was not delivered).
 */

G_END_DECLS
