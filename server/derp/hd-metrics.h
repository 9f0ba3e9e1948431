/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The server's counters, served as Prometheus text on /debug/metrics. Names
 * follow derper's expvars where one exists (derp/derpserver/derpserver.go
 * ExpVar: gauge_current_connections, accepts, packets_sent, ...).
 */
typedef enum {
  HD_DROP_UNKNOWN_DEST, /* no client with that key */
  HD_DROP_QUEUE_FULL,   /* the destination's queue was at its bound */
  HD_DROP_GONE,         /* queued for a client that then disconnected */
  HD_DROP_N
} HdDropReason;

typedef struct {
  guint64 clients_current;
  guint64 clients_home;
  guint64 clients_accepted; /* logins completed */
  guint64 connections;      /* TCP connections accepted */
  guint64 http_requests;
  guint64 http_bad; /* malformed requests, junk before the upgrade */
  guint64 tls_failed;
  guint64 bad_client_info;
  guint64 bad_frames; /* connections closed for a frame over its limit */
  guint64 unknown_frames;
  guint64 write_timeouts;
  guint64 packets_recv;
  guint64 bytes_recv;
  guint64 packets_sent; /* queued to a destination client */
  guint64 bytes_sent;
  guint64 packets_dropped[HD_DROP_N];
  guint64 bytes_dropped[HD_DROP_N];
  guint64 disco_recv;
  guint64 peer_gone_disconnected;
  guint64 peer_gone_not_here;
  guint64 pings;
  guint64 stun_requests;
  guint64 stun_bad;
} HdMetrics;

/* Prometheus text exposition of m. Transfer full. */
char *hd_metrics_render (const HdMetrics *m);

G_END_DECLS
