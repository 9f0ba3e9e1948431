/* SPDX-License-Identifier: MIT */
#pragma once

#include "hd-server.h"

G_BEGIN_DECLS

/*
 * One client connection: TLS handshake (when the server has a certificate),
 * the HTTP request, the upgrade, ServerKey → ClientInfo → ServerInfo, then
 * frames both ways. Facts: derp/derpserver/derpserver.go (accept, run,
 * handleFrame*, sendLoop), derp/derp.go.
 */
typedef enum {
  HD_CONN_TLS,
  HD_CONN_HTTP,
  HD_CONN_LOGIN, /* ServerKey sent, waiting for ClientInfo */
  HD_CONN_ACTIVE,
  HD_CONN_RESPONDING, /* a plain HTTP answer is going out; then close */
  HD_CONN_CLOSED,
} HdConnState;

struct _HdConn {
  gint ref_count;
  HdServer *srv;
  HdConnState state;
  GSocketConnection *base;
  GIOStream *stream; /* base, or the TLS connection over it */
  GPollableInputStream *in;
  GPollableOutputStream *out;
  GSource *in_src, *out_src;
  GCancellable *cancellable;
  GList link, dirty_link; /* in srv->conns, srv->dirty */
  gboolean is_dirty;
  gboolean close_after_flush;
  gboolean loopback; /* the peer's address is loopback (may read metrics) */
  char *remote;

  /* Input: the start of a frame (or of the request) that a read cut off. */
  guint8 *pend;
  gsize pend_len, pend_cap;
  guint64 skip; /* bytes of an ignored frame still to come */

  guint8 key[32];
  HdPeer *peer; /* set once logged in */
  gboolean preferred;

  HdOutq outq;
  gint64 deadline; /* login deadline (monotonic µs); 0 once logged in */
  gint64 next_keepalive;
  gint64 stall_since; /* when the socket last refused our bytes; 0 if it did not */
  double gone_tokens; /* PeerGone(not-here) budget: 3, one more per second */
  gint64 gone_refill;
  GHashTable *saw; /* HdPeer* this client was handed packets from */
  HdPeer *last_saw;
};

HdConn *hd_conn_new (HdServer *srv,
                     GSocketConnection *connection);
/* A connection without a stream (tests, the fuzz target): its bytes only queue. */
HdConn *hd_conn_new_detached (HdServer *srv,
                              HdConnState state);
void hd_conn_unref (HdConn *c);
void hd_conn_close (HdConn *c,
                    const char *why);
/* Writes what the socket takes; waits for it to be writable for the rest. */
void hd_conn_flush (HdConn *c);
/* The server's 1 s tick: login deadline, keep-alive, write stall. */
void hd_conn_tick (HdConn *c,
                   gint64 now);
/* The watcher callback of hd-relay.h: a PeerGone(disconnected) for gone. */
void hd_conn_peer_gone (HdConn *watcher,
                        HdPeer *gone);
/*
 * Feeds bytes that arrived after the upgrade (frames); returns how many it
 * consumed (the rest is the start of a frame). Exposed for the fuzz target.
 */
gsize hd_conn_feed (HdConn *c,
                    const guint8 *buf,
                    gsize len);

G_END_DECLS
