/* SPDX-License-Identifier: MIT */
#include "hyphae-netcheck.h"

#include <string.h>

#include <sodium.h>

#include "magicsock/stun.h"

/* Facts: tailscale net/netcheck/netcheck.go (stunProbeTimeout 3 s,
 * preferredDERPAbsoluteDiff 10 ms, the 2/3 rule), wgengine/magicsock
 * (periodic re-STUN every 20–26 s, randomised). */
#define PERIOD_MIN_MS          20000
#define PERIOD_MAX_MS          26000
#define HOME_ABSOLUTE_DIFF_SEC 0.010

typedef struct {
  guint8 txid[STUN_TXID_LEN];
  int region_id;
  union wg_sockaddr to;
  gint64 sent_us;
  gboolean answered;
  double seconds;
  union wg_sockaddr mapped;
} Probe;

struct _HyphaeNetcheck {
  GObject parent_instance;

  HyphaeNetcheckSendFunc send;
  gpointer send_data;
  GArray *regions; /* HyphaeNetcheckRegion */

  GArray *probes; /* Probe: the report in flight, empty when none */
  gboolean running;
  guint retry_id;
  guint timeout_id;
  guint period_id;
  guint interval_ms; /* tests; 0 = random 20–26 s */

  HyphaeNetcheckReport report; /* the last one */
  gboolean have_report;
};

G_DEFINE_FINAL_TYPE (HyphaeNetcheck, hyphae_netcheck, G_TYPE_OBJECT)

enum {
  SIG_REPORT,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void finish_report (HyphaeNetcheck *self);

/* ---- probes --------------------------------------------------------------- */

static void
send_probe (HyphaeNetcheck *self,
            Probe *p)
{
  guint8 req[STUN_REQUEST_MAX];
  size_t len = stun_build_request (req, p->txid);

  p->sent_us = g_get_monotonic_time ();
  (void) self->send (req, len, &p->to, self->send_data);
}

static gboolean
retry_cb (gpointer user_data)
{
  HyphaeNetcheck *self = user_data;

  self->retry_id = 0;
  for (guint i = 0; i < self->probes->len; i++)
    {
      Probe *p = &g_array_index (self->probes, Probe, i);

      /* A fresh TxID: an answer to the first send is then told apart. */
      if (!p->answered)
        {
          randombytes_buf (p->txid, sizeof p->txid);
          send_probe (self, p);
        }
    }
  return G_SOURCE_REMOVE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  HyphaeNetcheck *self = user_data;

  self->timeout_id = 0;
  finish_report (self);
  return G_SOURCE_REMOVE;
}

static void
abandon_report (HyphaeNetcheck *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  g_array_set_size (self->probes, 0);
}

static void
begin_report (HyphaeNetcheck *self)
{
  abandon_report (self);
  for (guint r = 0; r < self->regions->len; r++)
    {
      const HyphaeNetcheckRegion *reg = &g_array_index (self->regions, HyphaeNetcheckRegion, r);

      if (reg->no_measure_no_home)
        continue;
      for (guint s = 0; s < reg->n_servers && s < HYPHAE_NETCHECK_MAX_SERVERS; s++)
        {
          Probe p = { .region_id = reg->region_id, .to = reg->servers[s] };

          randombytes_buf (p.txid, sizeof p.txid);
          g_array_append_val (self->probes, p);
        }
    }
  for (guint i = 0; i < self->probes->len; i++)
    send_probe (self, &g_array_index (self->probes, Probe, i));
  /* No server to ask: the report is what the map alone says. */
  if (self->probes->len == 0)
    {
      finish_report (self);
      return;
    }
  self->retry_id = g_timeout_add (HYPHAE_NETCHECK_RETRY_MS, retry_cb, self);
  self->timeout_id = g_timeout_add (HYPHAE_NETCHECK_TIMEOUT_MS, timeout_cb, self);
}

static gboolean
period_cb (gpointer user_data)
{
  HyphaeNetcheck *self = user_data;

  self->period_id = 0;
  begin_report (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_next (HyphaeNetcheck *self)
{
  guint ms = self->interval_ms ? self->interval_ms
                               : (guint) g_random_int_range (PERIOD_MIN_MS, PERIOD_MAX_MS + 1);

  g_clear_handle_id (&self->period_id, g_source_remove);
  if (self->running)
    self->period_id = g_timeout_add (ms, period_cb, self);
}

/* ---- the report ---------------------------------------------------------- */

static const HyphaeNetcheckRegion *
find_in (const HyphaeNetcheckRegion *regions,
         guint n,
         int region_id)
{
  for (guint i = 0; i < n; i++)
    if (regions[i].region_id == region_id)
      return &regions[i];
  return NULL;
}

static const HyphaeNetcheckRegion *
find_region (HyphaeNetcheck *self,
             int region_id)
{
  return find_in ((const HyphaeNetcheckRegion *) (gpointer) self->regions->data, self->regions->len, region_id);
}

static gboolean
may_be_home (const HyphaeNetcheckRegion *r)
{
  return r != NULL && !r->avoid && !r->no_measure_no_home;
}

/* The best latency of a region in the report (either family), 0 = none. */
static double
best_latency (const HyphaeNetcheckReport *rep,
              int region_id)
{
  for (guint i = 0; i < rep->n_latency; i++)
    if (rep->latency[i].region_id == region_id)
      {
        double v4 = rep->latency[i].v4_seconds, v6 = rep->latency[i].v6_seconds;

        if (v4 > 0 && v6 > 0)
          return MIN (v4, v6);
        return v4 > 0 ? v4 : v6;
      }
  return 0;
}

int
hyphae_netcheck_pick_home (const HyphaeNetcheckRegion *regions,
                           guint n_regions,
                           const HyphaeNetcheckReport *rep,
                           int prev)
{
  int best = 0;
  double best_s = 0, prev_s = prev ? best_latency (rep, prev) : 0;

  for (guint i = 0; i < rep->n_latency; i++)
    {
      int id = rep->latency[i].region_id;
      double s = best_latency (rep, id);

      if (s <= 0 || !may_be_home (find_in (regions, n_regions, id)))
        continue;
      if (best == 0 || s < best_s)
        best = id, best_s = s;
    }
  if (best == 0)
    {
      /* Nothing answered: keep the home we had, else the first region. */
      if (prev != 0 && may_be_home (find_in (regions, n_regions, prev)))
        return prev;
      for (guint i = 0; i < n_regions; i++)
        if (may_be_home (&regions[i]) && (best == 0 || regions[i].region_id < best))
          best = regions[i].region_id;
      return best;
    }
  /* Stay home unless clearly better elsewhere: flapping homes cost every
   * peer a DERP reconnect. */
  if (prev != 0 && prev != best && prev_s > 0 && may_be_home (find_in (regions, n_regions, prev)) &&
      (prev_s - best_s < HOME_ABSOLUTE_DIFF_SEC || best_s > prev_s / 3 * 2))
    return prev;
  return best;
}

static void
report_clear (HyphaeNetcheckReport *rep)
{
  g_clear_pointer (&rep->latency, g_free);
  memset (rep, 0, sizeof *rep);
}

static void
note_latency (HyphaeNetcheckReport *rep,
              int region_id,
              gboolean v6,
              double s)
{
  HyphaeNetcheckLatency *l = NULL;

  for (guint i = 0; i < rep->n_latency; i++)
    if (rep->latency[i].region_id == region_id)
      l = &rep->latency[i];
  if (l == NULL)
    {
      rep->latency = g_renew (HyphaeNetcheckLatency, rep->latency, rep->n_latency + 1);
      l = &rep->latency[rep->n_latency++];
      *l = (HyphaeNetcheckLatency) { .region_id = region_id };
    }
  if (v6 && (l->v6_seconds == 0 || s < l->v6_seconds))
    l->v6_seconds = s;
  if (!v6 && (l->v4_seconds == 0 || s < l->v4_seconds))
    l->v4_seconds = s;
}

static void
finish_report (HyphaeNetcheck *self)
{
  HyphaeNetcheckReport rep = { 0 };
  int prev = self->have_report ? self->report.preferred_derp : 0;
  const union wg_sockaddr *first_v4_server = NULL;
  gboolean varies = FALSE, compared = FALSE;

  rep.global_v4.sa.sa_family = AF_UNSPEC;
  rep.global_v6.sa.sa_family = AF_UNSPEC;
  for (guint i = 0; i < self->probes->len; i++)
    {
      const Probe *p = &g_array_index (self->probes, Probe, i);
      gboolean v6 = p->to.sa.sa_family == AF_INET6;

      if (!p->answered)
        continue;
      note_latency (&rep, p->region_id, v6, p->seconds);
      if (v6)
        {
          rep.working_ipv6 = TRUE;
          if (rep.global_v6.sa.sa_family == AF_UNSPEC)
            rep.global_v6 = p->mapped;
          continue;
        }
      rep.working_udp = TRUE;
      if (rep.global_v4.sa.sa_family == AF_UNSPEC)
        {
          rep.global_v4 = p->mapped;
          first_v4_server = &p->to;
        }
      /* Another server's address: does it see us where the first one did? */
      else if (first_v4_server->in4.sin_addr.s_addr != p->to.in4.sin_addr.s_addr)
        {
          compared = TRUE;
          varies |= !wg_sockaddr_equal (&rep.global_v4, &p->mapped);
        }
    }
  rep.mapping_varies_by_dest_ip = !compared ? HYPHAE_NETCHECK_UNSET
                                  : varies  ? HYPHAE_NETCHECK_TRUE
                                            : HYPHAE_NETCHECK_FALSE;
  rep.preferred_derp = hyphae_netcheck_pick_home ((const HyphaeNetcheckRegion *) (gpointer) self->regions->data,
                                                  self->regions->len, &rep, prev);
  abandon_report (self);

  report_clear (&self->report);
  self->report = rep;
  self->have_report = TRUE;
  schedule_next (self);
  g_signal_emit (self, signals[SIG_REPORT], 0, &self->report);
}

/* ---- API ------------------------------------------------------------------ */

gboolean
hyphae_netcheck_rx (HyphaeNetcheck *self,
                    const guint8 *data,
                    gsize len,
                    const union wg_sockaddr *from)
{
  guint8 txid[STUN_TXID_LEN];
  union wg_sockaddr mapped;
  gboolean all = TRUE, matched = FALSE;

  g_return_val_if_fail (HYPHAE_IS_NETCHECK (self), FALSE);

  if (stun_parse_response (data, len, txid, &mapped) < 0)
    return FALSE;
  for (guint i = 0; i < self->probes->len; i++)
    {
      Probe *p = &g_array_index (self->probes, Probe, i);

      /* The TxID and the server it went to: a stray answer counts for nothing. */
      if (!p->answered && sodium_memcmp (p->txid, txid, sizeof txid) == 0 &&
          wg_sockaddr_equal (&p->to, from))
        {
          p->answered = TRUE;
          p->seconds = MAX ((double) (g_get_monotonic_time () - p->sent_us) / G_USEC_PER_SEC, 1e-6);
          p->mapped = mapped;
          matched = TRUE;
        }
      all &= p->answered;
    }
  if (matched && all)
    finish_report (self);
  return matched;
}

void
hyphae_netcheck_set_regions (HyphaeNetcheck *self,
                             const HyphaeNetcheckRegion *regions,
                             guint n)
{
  g_return_if_fail (HYPHAE_IS_NETCHECK (self));

  g_array_set_size (self->regions, 0);
  g_array_append_vals (self->regions, regions, n);
  if (self->running)
    begin_report (self);
}

void
hyphae_netcheck_start (HyphaeNetcheck *self)
{
  g_return_if_fail (HYPHAE_IS_NETCHECK (self));

  self->running = TRUE;
  g_clear_handle_id (&self->period_id, g_source_remove);
  begin_report (self);
}

void
hyphae_netcheck_stop (HyphaeNetcheck *self)
{
  g_return_if_fail (HYPHAE_IS_NETCHECK (self));

  self->running = FALSE;
  abandon_report (self);
  g_clear_handle_id (&self->period_id, g_source_remove);
}

const HyphaeNetcheckReport *
hyphae_netcheck_get_report (HyphaeNetcheck *self)
{
  g_return_val_if_fail (HYPHAE_IS_NETCHECK (self), NULL);
  return self->have_report ? &self->report : NULL;
}

const char *
hyphae_netcheck_region_code (HyphaeNetcheck *self,
                             int region_id)
{
  const HyphaeNetcheckRegion *r = find_region (self, region_id);

  return r != NULL ? r->code : NULL;
}

void
hyphae_netcheck_set_interval_for_testing (HyphaeNetcheck *self,
                                          guint interval_ms)
{
  self->interval_ms = interval_ms;
}

/* ---- GObject --------------------------------------------------------------- */

static void
hyphae_netcheck_dispose (GObject *object)
{
  hyphae_netcheck_stop (HYPHAE_NETCHECK (object));
  G_OBJECT_CLASS (hyphae_netcheck_parent_class)->dispose (object);
}

static void
hyphae_netcheck_finalize (GObject *object)
{
  HyphaeNetcheck *self = HYPHAE_NETCHECK (object);

  g_array_unref (self->regions);
  g_array_unref (self->probes);
  report_clear (&self->report);
  G_OBJECT_CLASS (hyphae_netcheck_parent_class)->finalize (object);
}

static void
hyphae_netcheck_class_init (HyphaeNetcheckClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_netcheck_dispose;
  object_class->finalize = hyphae_netcheck_finalize;
  signals[SIG_REPORT] = g_signal_new ("report", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
hyphae_netcheck_init (HyphaeNetcheck *self)
{
  self->regions = g_array_new (FALSE, TRUE, sizeof (HyphaeNetcheckRegion));
  self->probes = g_array_new (FALSE, TRUE, sizeof (Probe));
}

HyphaeNetcheck *
hyphae_netcheck_new (HyphaeNetcheckSendFunc send,
                     gpointer user_data)
{
  HyphaeNetcheck *self;

  g_return_val_if_fail (send != NULL, NULL);
  self = g_object_new (HYPHAE_TYPE_NETCHECK, NULL);
  self->send = send;
  self->send_data = user_data;
  return self;
}
