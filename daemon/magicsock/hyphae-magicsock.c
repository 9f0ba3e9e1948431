/* SPDX-License-Identifier: MIT */
#include "hyphae-magicsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <glib-unix.h>
#include <sodium.h>

#include "common/ip.h"
#include "crypto/secmem.h"
#include "hyphae-derp-conn.h"
#include "hyphae-derp-map.h"
#include "magicsock/disco.h"
#include "magicsock/magicsock.h"
#include "wireguard/wg-runner.h"

#define EVENTS_PER_DISPATCH 256   /* then the main loop gets a turn */
#define DERP_PENDING_MAX    32    /* packets kept for a region while it connects */
#define DERP_CLEANUP_MS     10000 /* how often idle DERP connections are looked for */

/* clang-format off */
G_DEFINE_QUARK (hyphae-magicsock-error-quark, hyphae_magicsock_error)
/* clang-format on */

/* One DERP region's connection. */
typedef struct {
  HyphaeMagicsock *self; /* not a reference: the link dies with it */
  int region_id;
  HyphaeDerpConn *conn;
  gint64 last_used_us; /* monotonic: the last packet in or out */
  GQueue pending;      /* GBytes (dst key ‖ packet) sent before it connected */
} DerpLink;

struct _HyphaeMagicsock {
  GObject parent_instance;

  struct wg_runner *runner; /* not owned */
  struct magicsock *ms;
  guint8 *node_priv; /* secmem, KEY_LEN */
  guint8 node_pub[KEY_LEN];

  guint event_id; /* the runner's eventfd */
  guint tick_id;  /* the machine's next deadline */
  guint64 tick_deadline_ns;

  HyphaeDerpMap *derp_map;
  char *derp_map_json;    /* what derp_map was read from, to spot changes */
  GHashTable *derp_links; /* region id → DerpLink* */
  int home_region;
  guint derp_cleanup_id;
  guint derp_idle_ms; /* HYPHAE_MAGICSOCK_DERP_IDLE_MS but in tests */

  HyphaeNetcheck *netcheck;
  GHashTable *peer_keys; /* GBytes set: the peers the machine has (GetPeers asks per peer) */

  char **local_endpoints;
  char **endpoints; /* STUN + local, what control gets */
  GArray *endpoint_types;

  GHashTable *pings; /* ping id → GTask */
  guint64 next_ping_id;

  HyphaeMagicsockDnsFunc dns_func; /* WG_RUNNER_EVENT_DNS (MagicDNS), or NULL */
  gpointer dns_data;
};

G_DEFINE_FINAL_TYPE (HyphaeMagicsock, hyphae_magicsock, G_TYPE_OBJECT)

enum {
  SIG_ENDPOINTS_CHANGED,
  SIG_NET_INFO_CHANGED,
  SIG_PATH_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static guint64
now_ns (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

/* ---- addresses --------------------------------------------------------------- */

static gboolean
sockaddr_from_text (const char *text,
                    union wg_sockaddr *out)
{
  struct ip_port ipp;

  memset (out, 0, sizeof *out);
  if (text == NULL || !ip_port_parse (&ipp, text, strlen (text)))
    return FALSE;
  if (ipp.addr.family == AF_INET)
    {
      out->in4.sin_family = AF_INET;
      memcpy (&out->in4.sin_addr, ipp.addr.bytes, 4);
      out->in4.sin_port = htons (ipp.port);
    }
  else
    {
      out->in6.sin6_family = AF_INET6;
      memcpy (&out->in6.sin6_addr, ipp.addr.bytes, 16);
      out->in6.sin6_port = htons (ipp.port);
    }
  return TRUE;
}

/* "ip:port" / "[ip6]:port"; "" for anything else. */
static void
sockaddr_to_text (const union wg_sockaddr *a,
                  char *out,
                  gsize size)
{
  struct ip_port ipp = { 0 };
  char text[IP_PORT_STRLEN];

  out[0] = '\0';
  if (a->sa.sa_family == AF_INET)
    {
      ipp.addr.family = AF_INET;
      memcpy (ipp.addr.bytes, &a->in4.sin_addr, 4);
      ipp.port = ntohs (a->in4.sin_port);
    }
  else if (a->sa.sa_family == AF_INET6)
    {
      ipp.addr.family = AF_INET6;
      memcpy (ipp.addr.bytes, &a->in6.sin6_addr, 16);
      ipp.port = ntohs (a->in6.sin6_port);
    }
  else
    return;
  ip_port_format (&ipp, text);
  g_strlcpy (out, text, size);
}

/* An IP literal with a port, or FALSE. */
static gboolean
sockaddr_from_ip (const char *ip,
                  int family,
                  guint16 port,
                  union wg_sockaddr *out)
{
  struct ip_addr a;

  memset (out, 0, sizeof *out);
  if (ip == NULL || !ip_addr_parse (&a, ip, strlen (ip)) || a.family != family)
    return FALSE;
  if (family == AF_INET)
    {
      out->in4.sin_family = AF_INET;
      memcpy (&out->in4.sin_addr, a.bytes, 4);
      out->in4.sin_port = htons (port);
    }
  else
    {
      out->in6.sin6_family = AF_INET6;
      memcpy (&out->in6.sin6_addr, a.bytes, 16);
      out->in6.sin6_port = htons (port);
    }
  return TRUE;
}

static void
fill_path (HyphaeMagicsock *self,
           const struct wg_endpoint *ep,
           HyphaeMagicsockPath *out)
{
  memset (out, 0, sizeof *out);
  if (wg_endpoint_is_derp (ep))
    {
      HyphaeDerpRegion *r = self->derp_map ? hyphae_derp_map_lookup_region (self->derp_map, ep->derp_region)
                                           : NULL;

      out->derp_region = ep->derp_region;
      if (r != NULL && r->region_code != NULL)
        g_strlcpy (out->derp_code, r->region_code, sizeof out->derp_code);
      else
        g_snprintf (out->derp_code, sizeof out->derp_code, "%d", ep->derp_region);
    }
  else
    sockaddr_to_text (&ep->addr, out->direct, sizeof out->direct);
}

/* ---- the machine's timer ----------------------------------------------------- */

static void reschedule (HyphaeMagicsock *self);

static gboolean
tick_cb (gpointer user_data)
{
  HyphaeMagicsock *self = user_data;

  self->tick_id = 0;
  self->tick_deadline_ns = 0;
  reschedule (self);
  return G_SOURCE_REMOVE;
}

/* Fire what is due and arm one timeout at the machine's next deadline. Called
 * after everything that feeds the machine, since any input may move it. */
static void
reschedule (HyphaeMagicsock *self)
{
  guint64 now = now_ns ();
  guint64 deadline = magicsock_tick (self->ms, now);
  guint ms;

  if (deadline != 0 && deadline == self->tick_deadline_ns && self->tick_id != 0)
    return;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  self->tick_deadline_ns = deadline;
  if (deadline == 0)
    return;
  /* Rounded up: a timer that fires early finds nothing due and re-arms. */
  ms = deadline > now ? (guint) MIN ((deadline - now + 999999) / 1000000, G_MAXUINT) : 0;
  self->tick_id = g_timeout_add (ms, tick_cb, self);
}

/* ---- DERP connections -------------------------------------------------------- */

static void derp_link_free (gpointer data);

static void
on_derp_packet (HyphaeDerpConn *conn,
                const guint8 src[KEY_LEN],
                const guint8 *data,
                gsize len,
                gpointer user_data)
{
  DerpLink *link = user_data;
  HyphaeMagicsock *self = link->self;
  int region_id = link->region_id;
  struct wg_endpoint from = { 0 };

  link->last_used_us = g_get_monotonic_time ();
  from.derp_region = (uint16_t) region_id;
  memcpy (from.derp_key, src, KEY_LEN);
  from.addr.in4.sin_family = AF_INET;
  from.addr.in4.sin_addr.s_addr = htonl (WG_DERP_MAGIC_IPV4);
  from.addr.in4.sin_port = htons ((guint16) region_id);
  if (disco_looks_like (data, len))
    {
      magicsock_rx_disco (self->ms, data, len, &from, now_ns ());
      reschedule (self);
      return;
    }
  wg_runner_rx_inject (self->runner, data, len, &from);
}

/* A region's first packets (a handshake initiation, a CallMeMaybe) would be
 * lost while its connection is still being dialled: they wait, a few, and go
 * out once it is up (derphttp's writes block until connected the same way). */
static void
derp_link_send (DerpLink *link,
                const guint8 dst[KEY_LEN],
                const guint8 *data,
                gsize len)
{
  guint8 *buf;

  link->last_used_us = g_get_monotonic_time ();
  if (hyphae_derp_conn_get_connected (link->conn))
    {
      (void) hyphae_derp_conn_send (link->conn, dst, data, len);
      return;
    }
  if (g_queue_get_length (&link->pending) >= DERP_PENDING_MAX)
    g_bytes_unref (g_queue_pop_head (&link->pending));
  buf = g_malloc (KEY_LEN + len);
  memcpy (buf, dst, KEY_LEN);
  memcpy (buf + KEY_LEN, data, len);
  g_queue_push_tail (&link->pending, g_bytes_new_take (buf, KEY_LEN + len));
}

static void
on_derp_connected (HyphaeDerpConn *conn,
                   GParamSpec *pspec,
                   gpointer user_data)
{
  DerpLink *link = user_data;
  GBytes *b;

  if (!hyphae_derp_conn_get_connected (conn))
    return;
  while ((b = g_queue_pop_head (&link->pending)) != NULL)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (b, &len);

      (void) hyphae_derp_conn_send (conn, p, p + KEY_LEN, len - KEY_LEN);
      g_bytes_unref (b);
    }
}

static DerpLink *
derp_link_get (HyphaeMagicsock *self,
               int region_id)
{
  DerpLink *link = g_hash_table_lookup (self->derp_links, GINT_TO_POINTER (region_id));
  HyphaeDerpRegion *region;

  if (link != NULL)
    return link;
  region = self->derp_map ? hyphae_derp_map_lookup_region (self->derp_map, region_id) : NULL;
  if (region == NULL)
    return NULL;
  link = g_new0 (DerpLink, 1);
  link->self = self;
  link->region_id = region_id;
  link->last_used_us = g_get_monotonic_time ();
  g_queue_init (&link->pending);
  link->conn = hyphae_derp_conn_new (region, self->node_priv, on_derp_packet, link, NULL);
  g_signal_connect (link->conn, "notify::connected", G_CALLBACK (on_derp_connected), link);
  hyphae_derp_conn_set_preferred (link->conn, region_id == self->home_region);
  g_hash_table_insert (self->derp_links, GINT_TO_POINTER (region_id), link);
  g_debug ("DERP region %d: connecting%s", region_id,
           region_id == self->home_region ? " (home)" : "");
  return link;
}

static void
derp_link_free (gpointer data)
{
  DerpLink *link = data;

  /* Closed first: no packet reaches the freed link. */
  g_signal_handlers_disconnect_by_data (link->conn, link);
  hyphae_derp_conn_close (link->conn);
  g_queue_clear_full (&link->pending, (GDestroyNotify) g_bytes_unref);
  g_object_unref (link->conn);
  g_free (link);
}

/* Connections to other regions than home go after a minute unused. */
static gboolean
derp_cleanup_cb (gpointer user_data)
{
  HyphaeMagicsock *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, self->derp_links);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      DerpLink *link = value;

      if (link->region_id != self->home_region &&
          now - link->last_used_us > (gint64) self->derp_idle_ms * 1000)
        {
          g_debug ("DERP region %d: idle, closing", link->region_id);
          g_hash_table_iter_remove (&it);
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
set_home_region (HyphaeMagicsock *self,
                 int region_id)
{
  DerpLink *old;

  if (region_id == self->home_region)
    return;
  old = g_hash_table_lookup (self->derp_links, GINT_TO_POINTER (self->home_region));
  if (old != NULL)
    {
      hyphae_derp_conn_set_preferred (old->conn, FALSE);
      old->last_used_us = g_get_monotonic_time ();
    }
  g_message ("home DERP region: %d", region_id);
  self->home_region = region_id;
  if (region_id != 0)
    {
      DerpLink *link = derp_link_get (self, region_id);

      if (link != NULL)
        hyphae_derp_conn_set_preferred (link->conn, TRUE);
    }
}

/* ---- the machine's ops --------------------------------------------------------- */

static void
op_send_udp (void *ctx,
             const uint8_t *data,
             size_t len,
             const union wg_sockaddr *to)
{
  HyphaeMagicsock *self = ctx;
  int r = wg_runner_send_udp (self->runner, data, len, to);

  if (r < 0)
    g_debug ("disco send: %s", g_strerror (-r));
}

static void
op_send_derp (void *ctx,
              uint16_t region,
              const uint8_t dst[DISCO_KEY_LEN],
              const uint8_t *data,
              size_t len)
{
  HyphaeMagicsock *self = ctx;
  DerpLink *link = derp_link_get (self, region);

  if (link != NULL)
    derp_link_send (link, dst, data, len);
}

static void
op_set_endpoint (void *ctx,
                 const uint8_t node_key[DISCO_KEY_LEN],
                 const struct wg_endpoint *ep)
{
  HyphaeMagicsock *self = ctx;
  struct wg_runner_peer_stats st = { 0 };
  gboolean first;
  g_autoptr(GBytes) key = NULL;

  first = wg_runner_get_peer_stats (self->runner, node_key, &st) == 0 && !st.has_endpoint;
  if (wg_runner_set_peer_endpoint (self->runner, node_key, ep) < 0)
    return; /* not a WireGuard peer (yet): the next set_netmap brings it */
  key = g_bytes_new (node_key, KEY_LEN);
  g_signal_emit (self, signals[SIG_PATH_CHANGED], 0, key, first && ep->addr.sa.sa_family != AF_UNSPEC);
}

/* A user ping's task data. id first: it is also the pings table's key type. */
typedef struct {
  guint64 id;
  GSource *timeout; /* NULL: the machine's own 5 s */
} PingData;

static void
ping_data_free (gpointer data)
{
  PingData *pd = data;

  if (pd->timeout != NULL)
    g_source_unref (pd->timeout);
  g_free (pd);
}

/* A ping ended: its timeout goes, and with it the timeout's hold on the task
 * (and so on us: the task's source object). */
static void
ping_task_done (GTask *task)
{
  PingData *pd = g_task_get_task_data (task);

  if (pd->timeout != NULL)
    g_source_destroy (pd->timeout);
}

static void
op_ping_result (void *ctx,
                uint64_t ping_id,
                const struct magicsock_ping_result *res)
{
  HyphaeMagicsock *self = ctx;
  GTask *task = NULL;
  HyphaeMagicsockPingResult *out;
  gpointer key = NULL;

  if (!g_hash_table_steal_extended (self->pings, &ping_id, &key, (gpointer *) &task))
    return; /* timed out or cancelled already */
  g_free (key);
  ping_task_done (task);
  if (!res->ok)
    {
      g_task_return_new_error (task, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_TIMED_OUT,
                               "No pong within %u s", (guint) (MAGICSOCK_PING_TIMEOUT_NS / 1000000000u));
      g_object_unref (task);
      return;
    }
  out = g_new0 (HyphaeMagicsockPingResult, 1);
  fill_path (self, &res->path, &out->path);
  out->latency_ms = (double) res->latency_ns / 1e6;
  g_task_return_pointer (task, out, g_free);
  g_object_unref (task);
}

static const struct magicsock_ops ops = {
  .send_udp = op_send_udp,
  .send_derp = op_send_derp,
  .set_endpoint = op_set_endpoint,
  .ping_result = op_ping_result,
};

/* ---- the runner's events --------------------------------------------------------- */

static gboolean
events_cb (gint fd,
           GIOCondition condition,
           gpointer user_data)
{
  HyphaeMagicsock *self = user_data;
  struct wg_runner_event *ev;
  guint n = 0;

  while (n++ < EVENTS_PER_DISPATCH && (ev = wg_runner_event_pop (self->runner)) != NULL)
    {
      switch (ev->kind)
        {
        case WG_RUNNER_EVENT_DISCO:
          magicsock_rx_disco (self->ms, ev->data, ev->len, &ev->ep, now_ns ());
          break;
        case WG_RUNNER_EVENT_STUN:
          (void) hyphae_netcheck_rx (self->netcheck, ev->data, ev->len, &ev->ep.addr);
          break;
        case WG_RUNNER_EVENT_DERP_SEND:
          op_send_derp (self, ev->ep.derp_region, ev->ep.derp_key, ev->data, ev->len);
          break;
        case WG_RUNNER_EVENT_HANDSHAKE:
          magicsock_note_activity (self->ms, ev->peer_key, now_ns ());
          break;
        case WG_RUNNER_EVENT_DNS:
          if (self->dns_func != NULL)
            self->dns_func (ev->data, ev->len, self->dns_data);
          break;
        default:
          break;
        }
      free (ev);
    }
  reschedule (self);
  return G_SOURCE_CONTINUE;
}

void
hyphae_magicsock_set_dns_handler (HyphaeMagicsock *self,
                                  HyphaeMagicsockDnsFunc func,
                                  gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_MAGICSOCK (self));
  self->dns_func = func;
  self->dns_data = user_data;
}

/* ---- netcheck and our endpoints --------------------------------------------------- */

static gboolean
netcheck_send (const guint8 *data,
               gsize len,
               const union wg_sockaddr *to,
               gpointer user_data)
{
  HyphaeMagicsock *self = user_data;

  return wg_runner_send_udp (self->runner, data, len, to) == 0;
}

static gboolean
strv_contains_text (GPtrArray *list,
                    const char *text)
{
  for (guint i = 0; i < list->len; i++)
    if (g_strcmp0 (list->pdata[i], text) == 0)
      return TRUE;
  return FALSE;
}

/* STUN endpoints first (magicsock determineEndpoints' order), then local ones
 * not already listed. The machine's CallMeMaybe gets the same list. */
static void
update_endpoints (HyphaeMagicsock *self)
{
  const HyphaeNetcheckReport *rep = hyphae_netcheck_get_report (self->netcheck);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) types = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree union wg_sockaddr *eps = NULL;
  guint n_eps = 0;
  const union wg_sockaddr *stun[2] = { NULL, NULL };

  if (rep != NULL)
    stun[0] = &rep->global_v4, stun[1] = &rep->global_v6;
  for (guint i = 0; i < G_N_ELEMENTS (stun); i++)
    {
      char text[64];
      guint type = 2; /* tailcfg.EndpointSTUN */

      if (stun[i] == NULL)
        continue;
      sockaddr_to_text (stun[i], text, sizeof text);
      if (text[0] == '\0' || strv_contains_text (list, text))
        continue;
      g_ptr_array_add (list, g_strdup (text));
      g_array_append_val (types, type);
    }
  for (guint i = 0; self->local_endpoints != NULL && self->local_endpoints[i] != NULL; i++)
    {
      guint type = 1; /* tailcfg.EndpointLocal */

      if (strv_contains_text (list, self->local_endpoints[i]))
        continue;
      g_ptr_array_add (list, g_strdup (self->local_endpoints[i]));
      g_array_append_val (types, type);
    }

  eps = g_new0 (union wg_sockaddr, list->len + 1);
  for (guint i = 0; i < list->len && n_eps < MAGICSOCK_MAX_ENDPOINTS; i++)
    if (sockaddr_from_text (list->pdata[i], &eps[n_eps]))
      n_eps++;
  magicsock_set_local_endpoints (self->ms, eps, n_eps);

  g_ptr_array_add (list, NULL);
  if (self->endpoints != NULL &&
      g_strv_equal ((const char * const *) self->endpoints, (const char * const *) list->pdata) &&
      self->endpoint_types->len == types->len &&
      (types->len == 0 || memcmp (self->endpoint_types->data, types->data, types->len * sizeof (guint)) == 0))
    return;
  g_strfreev (self->endpoints);
  self->endpoints = (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
  g_array_set_size (self->endpoint_types, 0);
  g_array_append_vals (self->endpoint_types, types->data, types->len);
  g_signal_emit (self, signals[SIG_ENDPOINTS_CHANGED], 0);
}

static void
on_netcheck_report (HyphaeNetcheck *netcheck,
                    const HyphaeNetcheckReport *rep,
                    gpointer user_data)
{
  HyphaeMagicsock *self = user_data;

  g_debug ("netcheck: udp %d ipv6 %d varies %d home %d", rep->working_udp, rep->working_ipv6,
           rep->mapping_varies_by_dest_ip, rep->preferred_derp);
  set_home_region (self, rep->preferred_derp);
  update_endpoints (self);
  g_signal_emit (self, signals[SIG_NET_INFO_CHANGED], 0);
}

/* The DERP map's STUN servers as netcheck reads them: the literals of each
 * node (IPv4/IPv6, else a HostName that is one). Names are not resolved:
 * Tailscale's maps carry the literals. */
static GArray *
netcheck_regions (HyphaeDerpMap *map)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (HyphaeNetcheckRegion));

  for (guint i = 0; map != NULL && i < hyphae_derp_map_get_n_regions (map); i++)
    {
      HyphaeDerpRegion *r = hyphae_derp_map_get_region (map, i);
      HyphaeNetcheckRegion nr = { .region_id = r->region_id };

      g_strlcpy (nr.code, r->region_code ? r->region_code : "", sizeof nr.code);
      nr.avoid = r->avoid;
      nr.no_measure_no_home = r->no_measure_no_home;
      for (guint j = 0; j < r->nodes->len; j++)
        {
          const HyphaeDerpNode *n = r->nodes->pdata[j];
          guint16 port = n->stun_port > 0 ? (guint16) n->stun_port : 3478;

          if (n->stun_port < 0)
            continue;
          if (nr.n_servers < HYPHAE_NETCHECK_MAX_SERVERS && !n->no_ipv4 &&
              (sockaddr_from_ip (n->ipv4, AF_INET, port, &nr.servers[nr.n_servers]) ||
               sockaddr_from_ip (n->host_name, AF_INET, port, &nr.servers[nr.n_servers])))
            nr.n_servers++;
          if (nr.n_servers < HYPHAE_NETCHECK_MAX_SERVERS && !n->no_ipv6 &&
              (sockaddr_from_ip (n->ipv6, AF_INET6, port, &nr.servers[nr.n_servers]) ||
               sockaddr_from_ip (n->host_name, AF_INET6, port, &nr.servers[nr.n_servers])))
            nr.n_servers++;
        }
      g_array_append_val (out, nr);
    }
  return out;
}

static void
set_derp_map (HyphaeMagicsock *self,
              const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) regions = NULL;
  HyphaeDerpMap *map = NULL;

  if (g_strcmp0 (json, self->derp_map_json) == 0)
    return;
  g_free (self->derp_map_json);
  self->derp_map_json = g_strdup (json);
  if (json != NULL && (map = hyphae_derp_map_parse (json, strlen (json), &error)) == NULL)
    g_warning ("%s: no DERP", error->message);
  /* Connections keep their region; ones the new map lacks go. */
  g_clear_pointer (&self->derp_map, hyphae_derp_map_unref);
  self->derp_map = map;
  if (map != NULL)
    {
      GHashTableIter it;
      gpointer key;

      g_hash_table_iter_init (&it, self->derp_links);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (hyphae_derp_map_lookup_region (map, GPOINTER_TO_INT (key)) == NULL)
          g_hash_table_iter_remove (&it);
    }
  else
    g_hash_table_remove_all (self->derp_links);
  if (self->home_region != 0 && (map == NULL || hyphae_derp_map_lookup_region (map, self->home_region) == NULL))
    self->home_region = 0;
  /* A DERP map with regions turns DERP paths on; without one, direct only
   * (REAL-PEERS: tailscaled behaves the same). */
  magicsock_set_derp_enabled (self->ms, map != NULL && hyphae_derp_map_get_n_regions (map) > 0);
  regions = netcheck_regions (map);
  hyphae_netcheck_set_regions (self->netcheck, (const HyphaeNetcheckRegion *) (gpointer) regions->data,
                               regions->len);
  hyphae_netcheck_start (self->netcheck);
}

/* ---- API ------------------------------------------------------------------------ */

void
hyphae_magicsock_set_netmap (HyphaeMagicsock *self,
                             HyphaeNetmap *nm)
{
  guint n = hyphae_netmap_get_n_peers (nm), k = 0;
  g_autofree struct magicsock_peer_config *peers = g_new0 (struct magicsock_peer_config, MAX (n, 1));

  g_return_if_fail (HYPHAE_IS_MAGICSOCK (self));

  /* The map first: peers' home regions need it. */
  set_derp_map (self, hyphae_netmap_get_derp_map_json (nm));
  g_hash_table_remove_all (self->peer_keys);
  for (guint i = 0; i < n; i++)
    {
      const HyphaeNode *node = hyphae_netmap_get_peer (nm, i);
      struct magicsock_peer_config *p = &peers[k];

      /* No disco, no path machine (plain WireGuard: engine-config's endpoint);
       * an expired peer has no WireGuard peer at all. */
      if (!hyphae_node_has_disco (node) || node->expired)
        continue;
      memcpy (p->node_key, node->key, KEY_LEN);
      memcpy (p->disco_key, node->disco_key, KEY_LEN);
      p->home_derp = node->home_derp > 0 && node->home_derp <= G_MAXUINT16 ? (uint16_t) node->home_derp : 0;
      for (guint e = 0; node->endpoints != NULL && node->endpoints[e] != NULL; e++)
        if (p->n_endpoints < MAGICSOCK_MAX_ENDPOINTS &&
            sockaddr_from_text (node->endpoints[e], &p->endpoints[p->n_endpoints]))
          p->n_endpoints++;
      g_hash_table_add (self->peer_keys, g_bytes_new (node->key, KEY_LEN));
      k++;
    }
  if (magicsock_set_peers (self->ms, peers, k, now_ns ()) < 0)
    g_warning ("Cannot hand %u peers to the path machine", k);
  reschedule (self);
}

void
hyphae_magicsock_set_local_endpoints (HyphaeMagicsock *self,
                                      const char * const *endpoints)
{
  g_return_if_fail (HYPHAE_IS_MAGICSOCK (self));

  g_strfreev (self->local_endpoints);
  self->local_endpoints = g_strdupv ((char **) endpoints);
  update_endpoints (self);
}

void
hyphae_magicsock_link_changed (HyphaeMagicsock *self)
{
  g_return_if_fail (HYPHAE_IS_MAGICSOCK (self));
  hyphae_netcheck_start (self->netcheck);
}

const char * const *
hyphae_magicsock_get_endpoints (HyphaeMagicsock *self,
                                const guint **types)
{
  g_return_val_if_fail (HYPHAE_IS_MAGICSOCK (self), NULL);
  if (types != NULL)
    *types = (const guint *) (gpointer) self->endpoint_types->data;
  return (const char * const *) self->endpoints;
}

const HyphaeNetcheckReport *
hyphae_magicsock_get_report (HyphaeMagicsock *self)
{
  g_return_val_if_fail (HYPHAE_IS_MAGICSOCK (self), NULL);
  return hyphae_netcheck_get_report (self->netcheck);
}

int
hyphae_magicsock_get_home_derp (HyphaeMagicsock *self)
{
  g_return_val_if_fail (HYPHAE_IS_MAGICSOCK (self), 0);
  return self->home_region;
}

gboolean
hyphae_magicsock_has_derp_link (HyphaeMagicsock *self,
                                int region_id,
                                gboolean *connected)
{
  DerpLink *link = g_hash_table_lookup (self->derp_links, GINT_TO_POINTER (region_id));

  if (connected != NULL)
    *connected = link != NULL && hyphae_derp_conn_get_connected (link->conn);
  return link != NULL;
}

void
hyphae_magicsock_set_derp_idle_for_testing (HyphaeMagicsock *self,
                                            guint idle_ms)
{
  self->derp_idle_ms = idle_ms;
  g_clear_handle_id (&self->derp_cleanup_id, g_source_remove);
  self->derp_cleanup_id = g_timeout_add (MAX (idle_ms / 10, 1), derp_cleanup_cb, self);
}

const char *
hyphae_magicsock_get_region_code (HyphaeMagicsock *self,
                                  int region_id)
{
  HyphaeDerpRegion *r = self->derp_map ? hyphae_derp_map_lookup_region (self->derp_map, region_id) : NULL;

  return r != NULL ? r->region_code : NULL;
}

gboolean
hyphae_magicsock_has_peer (HyphaeMagicsock *self,
                           const guint8 node_key[KEY_LEN])
{
  g_autoptr(GBytes) key = g_bytes_new_static (node_key, KEY_LEN);

  return g_hash_table_contains (self->peer_keys, key);
}

gboolean
hyphae_magicsock_get_path (HyphaeMagicsock *self,
                           const guint8 node_key[KEY_LEN],
                           HyphaeMagicsockPath *out)
{
  struct wg_endpoint ep;

  g_return_val_if_fail (HYPHAE_IS_MAGICSOCK (self), FALSE);
  memset (out, 0, sizeof *out);
  if (magicsock_get_endpoint (self->ms, node_key, &ep) < 0 || ep.addr.sa.sa_family == AF_UNSPEC)
    return FALSE;
  fill_path (self, &ep, out);
  return TRUE;
}

/* The task's own timeout. */
static gboolean
ping_timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  HyphaeMagicsock *self = g_task_get_source_object (task);
  GTask *pending = NULL;
  gpointer key = NULL;

  if (g_hash_table_steal_extended (self->pings, g_task_get_task_data (task), &key, (gpointer *) &pending))
    {
      g_free (key);
      g_task_return_new_error (pending, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_TIMED_OUT,
                               "No pong in time");
      g_object_unref (pending);
    }
  return G_SOURCE_REMOVE;
}

void
hyphae_magicsock_ping_async (HyphaeMagicsock *self,
                             const guint8 node_key[KEY_LEN],
                             guint timeout_ms,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  guint64 id = ++self->next_ping_id;
  guint64 *key;
  PingData *pd;

  g_task_set_source_tag (task, hyphae_magicsock_ping_async);
  if (g_hash_table_size (self->pings) >= HYPHAE_MAGICSOCK_PINGS_MAX)
    {
      g_task_return_new_error (task, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_BUSY,
                               "%u pings are waiting for their pongs already", HYPHAE_MAGICSOCK_PINGS_MAX);
      return;
    }
  if (!hyphae_magicsock_has_peer (self, node_key))
    {
      g_task_return_new_error (task, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_NOT_FOUND,
                               "No such peer with a disco key");
      return;
    }
  if (magicsock_ping (self->ms, node_key, id, now_ns ()) < 0)
    {
      g_task_return_new_error (task, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_NOT_FOUND,
                               "No path to try: the peer has no endpoint and no DERP region");
      return;
    }
  key = g_new (guint64, 1);
  *key = id;
  pd = g_new0 (PingData, 1);
  pd->id = id;
  g_task_set_task_data (task, pd, ping_data_free);
  g_hash_table_insert (self->pings, key, g_object_ref (task));
  if (timeout_ms > 0)
    {
      pd->timeout = g_timeout_source_new (timeout_ms);
      g_task_attach_source (task, pd->timeout, ping_timeout_cb);
    }
  reschedule (self);
}

gboolean
hyphae_magicsock_ping_finish (HyphaeMagicsock *self,
                              GAsyncResult *result,
                              HyphaeMagicsockPingResult *out,
                              GError **error)
{
  g_autofree HyphaeMagicsockPingResult *res = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  res = g_task_propagate_pointer (G_TASK (result), error);
  if (res == NULL)
    return FALSE;
  *out = *res;
  return TRUE;
}

/* ---- GObject ------------------------------------------------------------------------ */

static void
fail_pings (HyphaeMagicsock *self)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, self->pings);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      ping_task_done (value);
      g_task_return_new_error (value, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The engine stopped");
      g_hash_table_iter_remove (&it);
    }
}

static void
hyphae_magicsock_dispose (GObject *object)
{
  HyphaeMagicsock *self = HYPHAE_MAGICSOCK (object);

  fail_pings (self);
  g_clear_handle_id (&self->event_id, g_source_remove);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->derp_cleanup_id, g_source_remove);
  g_hash_table_remove_all (self->derp_links);
  if (self->netcheck != NULL)
    g_signal_handlers_disconnect_by_data (self->netcheck, self);
  g_clear_object (&self->netcheck);
  G_OBJECT_CLASS (hyphae_magicsock_parent_class)->dispose (object);
}

static void
hyphae_magicsock_finalize (GObject *object)
{
  HyphaeMagicsock *self = HYPHAE_MAGICSOCK (object);

  g_clear_pointer (&self->ms, magicsock_free);
  if (self->node_priv != NULL)
    secmem_free (self->node_priv, KEY_LEN);
  g_clear_pointer (&self->derp_map, hyphae_derp_map_unref);
  g_free (self->derp_map_json);
  g_hash_table_unref (self->derp_links);
  g_hash_table_unref (self->pings);
  g_hash_table_unref (self->peer_keys);
  g_strfreev (self->local_endpoints);
  g_strfreev (self->endpoints);
  g_array_unref (self->endpoint_types);
  G_OBJECT_CLASS (hyphae_magicsock_parent_class)->finalize (object);
}

static void
hyphae_magicsock_class_init (HyphaeMagicsockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_magicsock_dispose;
  object_class->finalize = hyphae_magicsock_finalize;
  signals[SIG_ENDPOINTS_CHANGED] = g_signal_new ("endpoints-changed", G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_NET_INFO_CHANGED] = g_signal_new ("net-info-changed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_PATH_CHANGED] = g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                            G_TYPE_BYTES, G_TYPE_BOOLEAN);
}

static void
hyphae_magicsock_init (HyphaeMagicsock *self)
{
  self->derp_links = g_hash_table_new_full (NULL, NULL, NULL, derp_link_free);
  self->pings = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->peer_keys = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref, NULL);
  self->endpoint_types = g_array_new (FALSE, FALSE, sizeof (guint));
}

HyphaeMagicsock *
hyphae_magicsock_new (struct wg_runner *runner,
                      const guint8 disco_priv[KEY_LEN],
                      const guint8 node_priv[KEY_LEN])
{
  g_autoptr(HyphaeMagicsock) self = g_object_new (HYPHAE_TYPE_MAGICSOCK, NULL);
  guint8 node_pub[KEY_LEN];

  g_return_val_if_fail (runner != NULL, NULL);
  self->runner = runner;
  self->node_priv = secmem_alloc (KEY_LEN);
  if (self->node_priv == NULL)
    return NULL;
  memcpy (self->node_priv, node_priv, KEY_LEN);
  key_public_from_private (node_pub, node_priv);
  memcpy (self->node_pub, node_pub, KEY_LEN);
  self->ms = magicsock_new (disco_priv, node_pub, &ops, self);
  if (self->ms == NULL)
    return NULL;
  self->netcheck = hyphae_netcheck_new (netcheck_send, self);
  g_signal_connect (self->netcheck, "report", G_CALLBACK (on_netcheck_report), self);
  self->event_id = g_unix_fd_add (wg_runner_event_fd (runner), G_IO_IN, events_cb, self);
  self->derp_idle_ms = HYPHAE_MAGICSOCK_DERP_IDLE_MS;
  self->derp_cleanup_id = g_timeout_add (DERP_CLEANUP_MS, derp_cleanup_cb, self);
  return g_steal_pointer (&self);
}
