/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hd-metrics.h"
#include "hd-outq.h"
#include "hd-relay.h"

G_BEGIN_DECLS

/*
 * hyphae-derp's shared state: one thread, one GLib main loop. Each client is
 * an HdConn (hd-conn.c); a packet is read into `scratch`, copied once into the
 * destination's queue, and the queues touched by one read are flushed
 * together after it (hd_server_flush_dirty), so writes batch.
 */
typedef struct {
  guint queue_depth;       /* data packets queued per client (derper: 32) */
  gint64 write_timeout_us; /* a client whose socket takes nothing this long is closed */
  gint64 login_timeout_us; /* TLS, request and ClientInfo within this (derper: 10 s) */
  gboolean metrics_public; /* /debug/metrics to anyone, not only loopback */
} HdServerConfig;

typedef struct {
  HdServerConfig config;
  guint8 *priv; /* secmem */
  guint8 pub[32];
  char pub_hex[65];
  GTlsCertificate *cert; /* NULL: plain HTTP */
  HdRelay *relay;
  HdMetrics metrics;
  HdChunkPool pool;
  GQueue conns;         /* every open HdConn (its link) */
  GQueue dirty;         /* HdConns with bytes to flush (their dirty_link) */
  GPtrArray *graveyard; /* closed HdConns, freed from an idle */
  guint reap_id;
  guint8 *scratch;
  gsize scratch_size;
  guint tick_id;
  guint handshakes; /* TLS handshakes running in GIO's worker threads */
} HdServer;

/* Takes ownership of priv (secmem, 32 bytes). */
HdServer *hd_server_new (const HdServerConfig *config,
                         guint8 *priv,
                         GTlsCertificate *cert);
void hd_server_free (HdServer *srv);

/* A new TCP connection from the listener. */
void hd_server_accept (HdServer *srv,
                       GSocketConnection *connection);
void hd_server_flush_dirty (HdServer *srv);
/* A closed connection, freed from an idle (callers up the stack may hold it). */
void hd_server_bury (HdServer *srv,
                     HdConn *c);

G_END_DECLS
