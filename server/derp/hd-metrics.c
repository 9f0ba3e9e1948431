/* SPDX-License-Identifier: MIT */
/* /debug/metrics: the counters as Prometheus text (hd-metrics.h). */
#include "hd-metrics.h"

static const char * const drop_reasons[HD_DROP_N] = {
  [HD_DROP_UNKNOWN_DEST] = "unknown_dest",
  [HD_DROP_QUEUE_FULL] = "queue_full",
  [HD_DROP_GONE] = "gone_disconnected",
};

static void
add (GString *s,
     const char *name,
     const char *type,
     guint64 value)
{
  g_string_append_printf (s, "# TYPE derp_%s %s\nderp_%s %" G_GUINT64_FORMAT "\n", name, type,
                          name, value);
}

char *
hd_metrics_render (const HdMetrics *m)
{
  GString *s = g_string_sized_new (2048);

  add (s, "current_clients", "gauge", m->clients_current);
  add (s, "current_home_clients", "gauge", m->clients_home);
  add (s, "accepts_total", "counter", m->clients_accepted);
  add (s, "connections_total", "counter", m->connections);
  add (s, "http_requests_total", "counter", m->http_requests);
  add (s, "http_bad_requests_total", "counter", m->http_bad);
  add (s, "tls_handshakes_failed_total", "counter", m->tls_failed);
  add (s, "bad_client_info_total", "counter", m->bad_client_info);
  add (s, "bad_frames_total", "counter", m->bad_frames);
  add (s, "unknown_frames_total", "counter", m->unknown_frames);
  add (s, "write_timeouts_total", "counter", m->write_timeouts);
  add (s, "packets_received_total", "counter", m->packets_recv);
  add (s, "bytes_received_total", "counter", m->bytes_recv);
  add (s, "packets_relayed_total", "counter", m->packets_sent);
  add (s, "bytes_relayed_total", "counter", m->bytes_sent);
  add (s, "disco_packets_received_total", "counter", m->disco_recv);
  g_string_append (s, "# TYPE derp_packets_dropped_total counter\n");
  for (guint i = 0; i < HD_DROP_N; i++)
    g_string_append_printf (s, "derp_packets_dropped_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            drop_reasons[i], m->packets_dropped[i]);
  g_string_append (s, "# TYPE derp_bytes_dropped_total counter\n");
  for (guint i = 0; i < HD_DROP_N; i++)
    g_string_append_printf (s, "derp_bytes_dropped_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
                            drop_reasons[i], m->bytes_dropped[i]);
  add (s, "peer_gone_disconnected_frames_total", "counter", m->peer_gone_disconnected);
  add (s, "peer_gone_not_here_frames_total", "counter", m->peer_gone_not_here);
  add (s, "pings_total", "counter", m->pings);
  add (s, "stun_requests_total", "counter", m->stun_requests);
  add (s, "stun_bad_requests_total", "counter", m->stun_bad);
  return g_string_free (s, FALSE);
}
