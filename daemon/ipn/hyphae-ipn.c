/* SPDX-License-Identifier: MIT */
#include "hyphae-ipn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "advertise-routes.h"
#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "engine-config.h"
#include "filter-state.h"
#include "handshake-order.h"
#include "hyphae-control-client.h"
#include "hyphae-dns-config.h"
#include "hyphae-link-monitor.h"
#include "hyphae-magicsock.h"
#include "hyphae-magic-dns.h" /* mdns */
#include "hyphae-nat.h"
#include "hyphae-netcfg.h"
#include "hyphae-os-dns.h"
#include "hyphae-secret.h"
#include "prefs.h"
#include "profile-keys.h"
#include "uapi/uapi.h"
#include "wireguard/wg-runner.h"

#define DEFAULT_IFNAME "hyphae0"
#define DEFAULT_PORT   41641
#define PROFILE        "default"

/* clang-format off */
G_DEFINE_QUARK (hyphae-ipn-error-quark, hyphae_ipn_error)
/* clang-format on */

struct _HyphaeIpn {
  GObject parent_instance;

  char *state_dir;
  char *ifname;
  guint16 listen_port;
  char *uapi_dir;

  HyphaeIpnPrefs prefs;
  HyphaeIpnState state;
  char *auth_url;
  char **health;
  char *prefs_warning;    /* a corrupt prefs.json, reported in health */
  char *keys_warning;     /* a refused keys file, reported in health */
  char *set_keys_warning; /* an Up for the app's keys came before SetKeys */
  char *engine_error;     /* the last engine/netcfg failure, or NULL */

  HyphaeProfileKeys *keys;       /* NULL: none (NoState / logged out) */
  HyphaeIpnKeysOwner keys_owner; /* last notified */
  char *profile;                 /* "default", or the name given with SetKeys */
  /* The public halves of client-owned node keys that rotations replaced,
   * newest last: their owner, back with one, is given the current key. */
  guint8 rotated_pubs[HYPHAE_IPN_ROTATIONS_KEPT][KEY_LEN];
  guint n_rotated_pubs;
  guint8 *disco_priv;      /* secmem, fresh per start */
  gboolean ever_logged_in; /* NoState vs NeedsLogin */

  HyphaeControlClient *control;
  HyphaeNetmap *netmap;
  gboolean authorized; /* this session got past registration */

  struct wg_runner *runner;
  HyphaeMagicsock *magicsock; /* disco, DERP, STUN: lives with the runner */
  HyphaeMagicDns *magic_dns;  /* mdns: 100.100.100.100, lives with the magicsock */
  guint peers_changed_id;     /* path changes coalesced into one peers-changed */
  HyphaeNetcfg *netcfg;
  HyphaeEngineConfig *applied; /* the last config given to the runner */
  gboolean netmap_applied;

  HyphaeLinkMonitor *link_monitor; /* link and address events, NULL = none */
  char **endpoints;                /* last reported */

  GTask *up_task;            /* a pending Up */
  gboolean up_waits_running; /* authorized: it waits for Running */

  GPtrArray *deferred_peers; /* GBytes node keys we handshake with later */
  gint64 deferred_since;     /* realtime s when they were deferred */
  guint deferred_id;         /* the timeout that does it */

  /* serve: forwarding + masquerade while AdvertiseRoutes is not empty */
  HyphaeNat *nat;
  char *serve_error; /* why they are not in place, for Health */

  HyphaeFilterState *filter; /* filt: the packet filter (see filter_apply) */
  /* osdns: the OS resolver (daemon/netcfg/hyphae-os-dns) */
  HyphaeOsDns *os_dns;
};

G_DEFINE_FINAL_TYPE (HyphaeIpn, hyphae_ipn, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_AUTH_URL,
  PROP_HEALTH,
  PROP_PROFILE,
  PROP_KEYS_OWNER,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
  SIG_PEERS_CHANGED,
  SIG_PREFS_CHANGED,
  SIG_SELF_CHANGED,
  SIG_KEYS_ROTATED,
  SIG_DNS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void engine_stop (HyphaeIpn *self);
static void control_stop (HyphaeIpn *self);
static void recompute_state (HyphaeIpn *self);
static void fail_start (HyphaeIpn *self);
static void os_dns_sync (HyphaeIpn *self);

const char *
hyphae_ipn_state_to_string (HyphaeIpnState state)
{
  switch (state)
    {
    case HYPHAE_IPN_STATE_NO_STATE: return "NoState";
    case HYPHAE_IPN_STATE_NEEDS_LOGIN: return "NeedsLogin";
    case HYPHAE_IPN_STATE_NEEDS_MACHINE_AUTH: return "NeedsMachineAuth";
    case HYPHAE_IPN_STATE_STOPPED: return "Stopped";
    case HYPHAE_IPN_STATE_STARTING: return "Starting";
    case HYPHAE_IPN_STATE_RUNNING: return "Running";
    }
  return "NoState";
}

/* ---- small helpers ------------------------------------------------------ */

static gboolean
have_node_key (HyphaeIpn *self)
{
  return self->keys != NULL && self->keys->has_machine && self->keys->has_node;
}

static HyphaeIpnKeysOwner
keys_owner (HyphaeIpn *self)
{
  if (!have_node_key (self))
    return HYPHAE_IPN_KEYS_OWNER_NONE;
  return self->keys->persist ? HYPHAE_IPN_KEYS_OWNER_DAEMON : HYPHAE_IPN_KEYS_OWNER_CLIENT;
}

static void
update_keys_owner (HyphaeIpn *self)
{
  HyphaeIpnKeysOwner owner = keys_owner (self);

  if (owner == self->keys_owner)
    return;
  self->keys_owner = owner;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_KEYS_OWNER]);
}

static void
set_profile (HyphaeIpn *self, const char *profile)
{
  if (g_strcmp0 (self->profile, profile) == 0)
    return;
  g_free (self->profile);
  self->profile = g_strdup (profile);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PROFILE]);
}

static void
set_auth_url (HyphaeIpn *self, const char *url)
{
  if (g_strcmp0 (self->auth_url, url ? url : "") == 0)
    return;
  g_free (self->auth_url);
  self->auth_url = g_strdup (url ? url : "");
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_AUTH_URL]);
}

static void
set_state (HyphaeIpn *self, HyphaeIpnState state)
{
  if (self->state == state)
    return;
  g_debug ("state %s → %s", hyphae_ipn_state_to_string (self->state),
           hyphae_ipn_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

/* Health = control's problems + ours. */
static void
update_health (HyphaeIpn *self)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) health = NULL;

  if (self->control != NULL)
    {
      const char * const *c = hyphae_control_client_get_health (self->control);

      for (; c != NULL && *c != NULL; c++)
        g_strv_builder_add (b, *c);
    }
  /* ---- exit: the selected exit node does not take the internet traffic ---- */
  if (self->applied != NULL)
    {
      g_autofree char *exit_health = hyphae_engine_config_exit_node_health (self->applied);

      if (exit_health != NULL)
        g_strv_builder_add (b, exit_health);
    }
  /* ---- end exit ---- */
  if (self->engine_error != NULL)
    g_strv_builder_add (b, self->engine_error);
  if (self->prefs_warning != NULL)
    g_strv_builder_add (b, self->prefs_warning);
  if (self->keys_warning != NULL)
    g_strv_builder_add (b, self->keys_warning);
  if (self->set_keys_warning != NULL)
    g_strv_builder_add (b, self->set_keys_warning);
  if (self->filter != NULL && hyphae_filter_state_get_problem (self->filter) != NULL) /* filt */
    g_strv_builder_add (b, hyphae_filter_state_get_problem (self->filter));
  if (self->serve_error != NULL)
    g_strv_builder_add (b, self->serve_error);
  health = g_strv_builder_end (b);
  if (self->health != NULL && g_strv_equal ((const char * const *) self->health,
                                            (const char * const *) health))
    return;
  g_strfreev (self->health);
  self->health = g_steal_pointer (&health);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_HEALTH]);
}

static void
set_engine_error (HyphaeIpn *self, const char *what, const char *detail)
{
  char *msg = what ? g_strdup_printf ("%s: %s", what, detail) : NULL;

  /* Logged once, not again on every netmap that meets the same failure. */
  if (msg != NULL && g_strcmp0 (msg, self->engine_error) != 0)
    g_warning ("%s", msg);
  g_free (self->engine_error);
  self->engine_error = msg;
  update_health (self);
}

/* Health's "SetKeys first", while an Up for the app's keys waits for them. */
static void
set_set_keys_warning (HyphaeIpn *self, gboolean on)
{
  if (!on == (self->set_keys_warning == NULL))
    return;
  g_clear_pointer (&self->set_keys_warning, g_free);
  if (on)
    self->set_keys_warning = g_strdup ("SetKeys first: the keys' owner has not given this "
                                       "node's keys (an Up with Unattended false uses no others)");
  update_health (self);
}

static gboolean
save_prefs (HyphaeIpn *self, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (!hyphae_ipn_prefs_save (self->state_dir, &self->prefs, &local))
    {
      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED,
                   "Cannot save prefs: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
save_keys (HyphaeIpn *self, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (self->keys == NULL || !self->keys->persist)
    return TRUE; /* keys given by the app are never written */
  if (!hyphae_profile_keys_save (self->keys, self->state_dir, PROFILE, &local))
    {
      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED,
                   "Cannot save keys: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- endpoints ----------------------------------------------------------- */

/* Policy: which local addresses are worth telling peers about. Not our own
 * TUN, not loopback (127/8, ::1), unspecified (0/8, ::), IPv6 link-local, or
 * an address in the tailnet ranges. */
static gboolean
is_reportable (const HyphaeLocalAddress *la, const char *our_if)
{
  const struct ip_addr *a = &la->addr;

  if (g_strcmp0 (la->ifname, our_if) == 0 || ip_addr_is_tailnet (a))
    return FALSE;
  if (a->family == AF_INET)
    return a->bytes[0] != 127 && a->bytes[0] != 0;
  if (a->family == AF_INET6)
    {
      struct in6_addr a6;

      memcpy (&a6, a->bytes, sizeof a6);
      return !IN6_IS_ADDR_LOOPBACK (&a6) && !IN6_IS_ADDR_LINKLOCAL (&a6) &&
             !IN6_IS_ADDR_UNSPECIFIED (&a6);
    }
  return FALSE;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* The node's reportable local addresses with our UDP port, sorted. */
static char **
local_endpoints (HyphaeIpn *self, guint16 port)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new ();
  g_autoptr(GArray) addrs = hyphae_link_monitor_list_addresses (NULL);

  for (guint i = 0; addrs != NULL && i < addrs->len; i++)
    {
      const HyphaeLocalAddress *la = &g_array_index (addrs, HyphaeLocalAddress, i);
      struct ip_port ep = { .addr = la->addr, .port = port };
      char text[IP_PORT_STRLEN];

      if (!is_reportable (la, self->ifname))
        continue;
      ip_port_format (&ep, text);
      g_ptr_array_add (list, g_strdup (text));
    }
  g_ptr_array_sort (list, cmp_str);
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

/* Endpoints and NetInfo to control: the local endpoints go through the
 * magicsock, which adds STUN's and types them (its endpoints-changed). */
static void
push_to_control (HyphaeIpn *self)
{
  const HyphaeNetcheckReport *rep;
  const char * const *eps;
  const guint *types = NULL;

  if (self->control == NULL || self->magicsock == NULL)
    return;
  eps = hyphae_magicsock_get_endpoints (self->magicsock, &types);
  if (eps != NULL)
    hyphae_control_client_set_endpoints_typed (self->control, eps, types);
  rep = hyphae_magicsock_get_report (self->magicsock);
  if (rep != NULL)
    {
      HyphaeMapNetInfo ni;

      hyphae_ipn_net_info_from_report (rep, &ni);
      hyphae_control_client_set_net_info (self->control, &ni);
    }
}

static void
report_endpoints (HyphaeIpn *self)
{
  g_auto(GStrv) eps = NULL;

  if (self->control == NULL || self->runner == NULL)
    return;
  eps = local_endpoints (self, wg_runner_get_listen_port (self->runner));
  if (self->endpoints != NULL &&
      g_strv_equal ((const char * const *) eps, (const char * const *) self->endpoints))
    return;
  g_strfreev (self->endpoints);
  self->endpoints = g_steal_pointer (&eps);
  if (self->magicsock != NULL)
    hyphae_magicsock_set_local_endpoints (self->magicsock, (const char * const *) self->endpoints);
  else
    hyphae_control_client_set_endpoints (self->control, (const char * const *) self->endpoints);
}

/* A link or address changed somewhere: report the endpoints again if they changed. */
static void
on_links_changed (HyphaeLinkMonitor *monitor, gpointer user_data)
{
  HyphaeIpn *self = user_data;

  report_endpoints (self);
  /* Another network: the NAT, the home region and the paths may differ. */
  if (self->magicsock != NULL)
    hyphae_magicsock_link_changed (self->magicsock);
}

static void
link_watch_start (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;

  if (self->link_monitor != NULL)
    return;
  self->link_monitor = hyphae_link_monitor_new (&error);
  if (self->link_monitor == NULL)
    {
      g_message ("Endpoints will not follow address changes: %s", error->message);
      return;
    }
  g_signal_connect (self->link_monitor, "changed", G_CALLBACK (on_links_changed), self);
}

static void
link_watch_stop (HyphaeIpn *self)
{
  if (self->link_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->link_monitor, self);
  g_clear_object (&self->link_monitor);
  g_clear_pointer (&self->endpoints, g_strfreev);
}

/* ---- the magicsock (disco, DERP, STUN) ----------------------------------- */

static gboolean
peers_changed_idle (gpointer user_data)
{
  HyphaeIpn *self = user_data;

  self->peers_changed_id = 0;
  g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

static void defer_handshake (HyphaeIpn *self, const guint8 public_key[KEY_LEN]);

/* A peer's path moved (GetPeers shows it); a peer given its first endpoint is
 * new to WireGuard: handshake soon, one side first (see engine_apply). */
static void
on_path_changed (HyphaeMagicsock *ms, GBytes *key, gboolean first, gpointer user_data)
{
  HyphaeIpn *self = user_data;
  const guint8 *k = g_bytes_get_data (key, NULL);

  if (first && self->runner != NULL && have_node_key (self))
    {
      guint8 node_pub[KEY_LEN];

      key_public_from_private (node_pub, self->keys->node);
      if (handshake_initiate_delay_ms (node_pub, k) == 0)
        (void) wg_runner_initiate_handshake (self->runner, k);
      else
        defer_handshake (self, k);
    }
  if (self->peers_changed_id == 0)
    self->peers_changed_id = g_idle_add (peers_changed_idle, self);
}

static void
on_magicsock_changed (HyphaeMagicsock *ms, gpointer user_data)
{
  push_to_control (user_data);
}

static void
ensure_disco_key (HyphaeIpn *self)
{
  if (self->disco_priv != NULL)
    return;
  self->disco_priv = secmem_alloc (KEY_LEN);
  key_generate_private (self->disco_priv);
}

/* ---- mdns: MagicDNS (daemon/dns) ------------------------------------------
 * The runner hands queries to 100.100.100.100 / fd7a:115c:a1e0::53 read
 * from the TUN to the magicsock's DNS handler; HyphaeMagicDns answers them
 * into the TUN. Updated from the netmap, its DNSConfig, CorpDNS and the exit
 * node on every engine_apply and prefs change. */
static int
magic_dns_inject (const guint8 *pkt,
                  gsize len,
                  gpointer user_data)
{
  HyphaeIpn *self = user_data;

  return self->runner != NULL ? wg_runner_tun_inject (self->runner, pkt, len) : -ENODEV;
}

static void
magic_dns_query (const guint8 *pkt,
                 gsize len,
                 gpointer user_data)
{
  HyphaeIpn *self = user_data;

  if (self->magic_dns != NULL)
    hyphae_magic_dns_handle_query_packet (self->magic_dns, pkt, len);
}

static void
magic_dns_start (HyphaeIpn *self)
{
  self->magic_dns = hyphae_magic_dns_new (magic_dns_inject, self);
  hyphae_magicsock_set_dns_handler (self->magicsock, magic_dns_query, self);
}

static void
magic_dns_stop (HyphaeIpn *self)
{
  if (self->magicsock != NULL)
    hyphae_magicsock_set_dns_handler (self->magicsock, NULL, NULL);
  if (self->magic_dns != NULL)
    g_object_run_dispose (G_OBJECT (self->magic_dns)); /* forwards in flight stop */
  g_clear_object (&self->magic_dns);
}

static void
magic_dns_update (HyphaeIpn *self)
{
  g_autoptr(HyphaeDnsConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  const HyphaeNode *exit_node = NULL;

  if (self->magic_dns == NULL || self->netmap == NULL)
    return;
  config = hyphae_dns_config_parse (hyphae_netmap_get_dns_config_json (self->netmap), &error);
  if (config == NULL)
    g_warning ("MagicDNS: the tailnet's DNS settings are refused: %s", error->message);
  if (self->prefs.exit_node_id != NULL && self->prefs.exit_node_id[0] != '\0' && self->applied != NULL &&
      self->applied->exit_node_found)
    exit_node = hyphae_netmap_lookup_stable_id (self->netmap, self->prefs.exit_node_id);
  hyphae_magic_dns_update (self->magic_dns, self->netmap, config, self->prefs.corp_dns, exit_node);
}
/* ---- end mdns ------------------------------------------------------------- */

static gboolean
magicsock_start (HyphaeIpn *self)
{
  ensure_disco_key (self);
  self->magicsock = hyphae_magicsock_new (self->runner, self->disco_priv, self->keys->node);
  if (self->magicsock == NULL)
    return FALSE;
  g_signal_connect (self->magicsock, "endpoints-changed", G_CALLBACK (on_magicsock_changed), self);
  g_signal_connect (self->magicsock, "net-info-changed", G_CALLBACK (on_magicsock_changed), self);
  g_signal_connect (self->magicsock, "path-changed", G_CALLBACK (on_path_changed), self);
  magic_dns_start (self); /* mdns */
  return TRUE;
}

static void
magicsock_stop (HyphaeIpn *self)
{
  magic_dns_stop (self); /* mdns */
  if (self->magicsock != NULL)
    g_signal_handlers_disconnect_by_data (self->magicsock, self);
  if (self->magicsock != NULL)
    g_object_run_dispose (G_OBJECT (self->magicsock));
  g_clear_object (&self->magicsock);
  g_clear_handle_id (&self->peers_changed_id, g_source_remove);
}

/* ---- the engine (WireGuard runner + netcfg) ------------------------------ */

static gboolean
engine_start (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;
  struct wg_runner_config cfg = {
    .ifname = self->ifname,
    .listen_port = self->listen_port,
    .private_key = self->keys->node,
    .fwmark = HYPHAE_NETCFG_BYPASS_MARK,
    .uapi_dir = self->uapi_dir,
    .mtu = HYPHAE_NETCFG_MTU,
    .magicsock = TRUE,
  };
  int r;

  if (self->runner != NULL && wg_runner_is_alive (self->runner))
    return TRUE;
  /* The TUN vanished under us (deleted by hand): start over. */
  if (self->runner != NULL)
    engine_stop (self);
  r = wg_runner_start (&cfg, &self->runner);
  if (r < 0)
    {
      set_engine_error (self, "Cannot start the WireGuard engine", g_strerror (-r));
      return FALSE;
    }
  if (!magicsock_start (self))
    {
      set_engine_error (self, "Cannot start the path discovery", g_strerror (ENOMEM));
      engine_stop (self);
      return FALSE;
    }
  self->netcfg = hyphae_netcfg_new (self->ifname, &error);
  if (self->netcfg == NULL)
    {
      set_engine_error (self, "Cannot configure the network", error->message);
      engine_stop (self);
      return FALSE;
    }
  set_engine_error (self, NULL, NULL);
  link_watch_start (self);
  report_endpoints (self);
  return TRUE;
}

/* ---- handshakes with new peers (see engine_apply) ----------------------- */

static gboolean
deferred_handshakes_cb (gpointer user_data)
{
  HyphaeIpn *self = user_data;

  self->deferred_id = 0;
  for (guint i = 0; self->runner != NULL && i < self->deferred_peers->len; i++)
    {
      const guint8 *key = g_bytes_get_data (self->deferred_peers->pdata[i], NULL);
      struct wg_runner_peer_stats st = { 0 };

      /* Gone, or the other side already made a session: nothing to do. */
      if (wg_runner_get_peer_stats (self->runner, key, &st) < 0 ||
          !handshake_deferred_needed (st.last_handshake_sec, self->deferred_since))
        continue;
      (void) wg_runner_initiate_handshake (self->runner, key);
    }
  g_ptr_array_set_size (self->deferred_peers, 0);
  return G_SOURCE_REMOVE;
}

static void
defer_handshake (HyphaeIpn *self,
                 const guint8 public_key[KEY_LEN])
{
  if (self->deferred_id == 0)
    {
      self->deferred_since = g_get_real_time () / G_USEC_PER_SEC;
      self->deferred_id = g_timeout_add (HANDSHAKE_DEFER_MS, deferred_handshakes_cb, self);
    }
  g_ptr_array_add (self->deferred_peers, g_bytes_new (public_key, KEY_LEN));
}

static void
deferred_handshakes_cancel (HyphaeIpn *self)
{
  g_clear_handle_id (&self->deferred_id, g_source_remove);
  g_ptr_array_set_size (self->deferred_peers, 0);
}

/* ---- serve: exit node and subnet router ----------------------------------- */

static void
set_serve_error (HyphaeIpn *self, const char *detail)
{
  char *msg = detail ? g_strdup_printf ("Cannot forward for the advertised routes: %s", detail) : NULL;

  if (msg != NULL && g_strcmp0 (msg, self->serve_error) != 0)
    g_warning ("%s", msg);
  g_free (self->serve_error);
  self->serve_error = msg;
  update_health (self);
}

/* Masquerade addresses into the runner (wg/masq.h): our own addresses, and
 * each peer's that has one, or had one in the config applied before. */
static void
serve_set_masq (HyphaeIpn *self, const HyphaeEngineConfig *cfg)
{
  struct wg_masq native = { 0 };

  for (guint i = 0; i < cfg->addresses->len; i++)
    {
      const struct ip_prefix *a = &g_array_index (cfg->addresses, struct ip_prefix, i);

      if (a->addr.family == AF_INET && !native.has4)
        {
          native.has4 = TRUE;
          memcpy (native.addr4, a->addr.bytes, 4);
        }
      else if (a->addr.family == AF_INET6 && !native.has6)
        {
          native.has6 = TRUE;
          memcpy (native.addr6, a->addr.bytes, 16);
        }
    }
  wg_runner_set_native_addrs (self->runner, &native);
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];
      const HyphaeEnginePeer *before = self->applied
                                         ? hyphae_engine_config_lookup_peer (self->applied, p->public_key)
                                         : NULL;
      gboolean had = before != NULL && (before->masq.has4 || before->masq.has6);

      if (p->masq.has4 || p->masq.has6 || had)
        (void) wg_runner_set_peer_masq (self->runner, p->public_key, &p->masq);
    }
}

/* What the packet filter treats as ours besides our addresses: the
 * advertised routes, a /0 as "guest Wi-Fi" (advertise-routes.h). */
static GArray *
serve_local_nets (HyphaeIpn *self)
{
  g_autoptr(GArray) iface = NULL;

  if (self->prefs.advertise_routes == NULL || self->prefs.advertise_routes[0] == NULL)
    return g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  iface = hyphae_advertise_routes_interface_prefixes ();
  return hyphae_advertise_routes_local_nets ((const char * const *) self->prefs.advertise_routes,
                                             (const struct ip_prefix *) (gpointer) iface->data, iface->len);
}

/* Two AdvertiseRoutes lists differ (NULL = empty). */
static gboolean
serve_routes_changed (char **a, char **b)
{
  static const char * const none[] = { NULL };

  return !g_strv_equal (a ? (const char * const *) a : none, b ? (const char * const *) b : none);
}

/* While we advertise routes and the engine runs: forwarding on and the
 * masquerade table in place (hyphae-nat.h); otherwise neither. A failure
 * is a Health line, not a failed start: the node still works as a client.
 * Routes are advertised as soon as the pref says so, even before control
 * approves them, as tailscaled does (the peers only send once approved). */
static void
serve_apply (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;
  gboolean want = self->runner != NULL && self->prefs.advertise_routes != NULL &&
                  self->prefs.advertise_routes[0] != NULL;

  if (want)
    {
      /* Once per engine start (not on every netmap), again after a failure. */
      if (self->nat != NULL && self->serve_error == NULL)
        return;
      if (self->nat == NULL)
        self->nat = hyphae_nat_new (self->ifname, self->state_dir);
      if (!hyphae_nat_apply (self->nat, &error))
        {
          set_serve_error (self, error->message);
          return;
        }
    }
  else if (self->nat != NULL)
    {
      if (!hyphae_nat_remove (self->nat, &error))
        g_warning ("Cannot remove the forwarding for the advertised routes: %s", error->message);
      g_clear_pointer (&self->nat, hyphae_nat_free);
    }
  set_serve_error (self, NULL);
}

static void
engine_stop (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;

  /* osdns: the OS resolver lets go of our link (RevertLink) while it exists. */
  if (self->os_dns != NULL)
    (void) hyphae_os_dns_revert (self->os_dns, NULL);
  link_watch_stop (self);
  deferred_handshakes_cancel (self);
  if (self->netcfg != NULL && !hyphae_netcfg_remove (self->netcfg, &error))
    g_warning ("Cannot remove the network configuration: %s", error->message);
  g_clear_pointer (&self->netcfg, hyphae_netcfg_free);
  magicsock_stop (self);
  g_clear_pointer (&self->runner, wg_runner_stop);
  if (hyphae_filter_state_get_problem (self->filter) != NULL) /* filt: no filter, no problem */
    {
      hyphae_filter_state_reset (self->filter);
      update_health (self);
    }
  hyphae_filter_state_reset (self->filter);
  serve_apply (self); /* serve: no runner, no forwarding */
  g_clear_pointer (&self->applied, hyphae_engine_config_free);
  self->netmap_applied = FALSE;
}

/* ---- filt: the packet filter hook ---------------------------------------- */

/* netmap + prefs → the runner's inbound filter (filter-compile.h): on every
 * netmap, on a ShieldsUp change; installed only when it changed. */
static void
filter_apply (HyphaeIpn *self)
{
  g_autoptr(GArray) served = serve_local_nets (self); /* serve */
  HyphaeFilterOptions opts = {
    .shields_up = self->prefs.shields_up,
    .exit_node_id = self->prefs.exit_node_id,
    .served_routes = (const struct ip_prefix *) (gpointer) served->data,
    .n_served_routes = served->len,
  };

  hyphae_filter_state_update (self->filter, self->runner, self->netmap, &opts);
  update_health (self); /* a refused filter is a Health problem */
}

GVariant *
hyphae_ipn_get_filter_stats (HyphaeIpn *self)
{
  return hyphae_filter_state_stats (self->filter, self->runner);
}

/* ---- end of the filt hook ------------------------------------------------- */

/* netmap + prefs → runner + OS. */
static void
engine_apply (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  struct uapi_device_state current;
  struct uapi_set *set;
  guint8 node_pub[KEY_LEN];
  HyphaeNetcfgConfig nc;
  int r;

  if (self->netmap == NULL || !have_node_key (self))
    return;
  if (!engine_start (self))
    goto failed;
  key_public_from_private (node_pub, self->keys->node);
  cfg = hyphae_engine_config_new (self->netmap, &self->prefs, node_pub);
  (void) hyphae_engine_config_log_rejected (cfg, self->applied);

  r = wg_runner_get (self->runner, &current);
  if (r < 0)
    {
      set_engine_error (self, "Cannot read the WireGuard state", g_strerror (-r));
      goto failed;
    }
  set = hyphae_engine_config_to_uapi (cfg, &current);
  if (set == NULL)
    {
      uapi_device_state_clear (&current);
      set_engine_error (self, "Cannot configure WireGuard", g_strerror (ENOMEM));
      goto failed;
    }
  r = wg_runner_apply (self->runner, set);
  uapi_set_free (set);
  if (r < 0)
    {
      uapi_device_state_clear (&current);
      set_engine_error (self, "Cannot configure WireGuard", g_strerror (-r));
      goto failed;
    }
  uapi_device_state_clear (&current);
  serve_set_masq (self, cfg);
  /* A peer that is new, or reachable at a new endpoint: handshake soon, one
   * side first so that the two do not cross (handshake-order.c). */
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];
      const HyphaeEnginePeer *before = self->applied
                                         ? hyphae_engine_config_lookup_peer (self->applied, p->public_key)
                                         : NULL;

      if (p->endpoint == NULL || (before != NULL && g_strcmp0 (before->endpoint, p->endpoint) == 0))
        continue;
      if (handshake_initiate_delay_ms (node_pub, p->public_key) == 0)
        (void) wg_runner_initiate_handshake (self->runner, p->public_key);
      else
        defer_handshake (self, p->public_key);
    }
  g_clear_pointer (&self->applied, hyphae_engine_config_free);
  self->applied = g_steal_pointer (&cfg);
  filter_apply (self); /* filt */
  /* The WireGuard peers exist now: the machine may give them endpoints. */
  if (self->magicsock != NULL)
    hyphae_magicsock_set_netmap (self->magicsock, self->netmap);
  magic_dns_update (self); /* mdns */

  nc = (HyphaeNetcfgConfig) {
    .addresses = (const struct ip_prefix *) (gpointer) self->applied->addresses->data,
    .n_addresses = self->applied->addresses->len,
    .routes = (const struct ip_prefix *) (gpointer) self->applied->routes->data,
    .n_routes = self->applied->routes->len,
    .allow_lan = self->applied->exit_node_allow_lan_access,
  };
  if (!hyphae_netcfg_apply (self->netcfg, &nc, &error))
    {
      set_engine_error (self, "Cannot configure the network", error->message);
      goto failed;
    }
  set_engine_error (self, NULL, NULL);
  self->netmap_applied = TRUE;
  serve_apply (self); /* serve */
  return;

failed:
  /* Running already: the tunnel keeps its last config, Health says why. */
  if (!self->netmap_applied)
    fail_start (self);
}

/* The engine or netcfg failed before the node got Running. It will not get
 * there by itself (the UDP port or the UAPI socket is taken, no TUN, routes
 * refused), and retrying on every netmap would keep a half-up node talking
 * to control: the session stops (State Stopped), Health keeps the reason and
 * a pending Up returns it. A new Up (or a restart) tries again. */
static void
fail_start (HyphaeIpn *self)
{
  GTask *task = g_steal_pointer (&self->up_task);

  control_stop (self);
  engine_stop (self);
  recompute_state (self);
  if (task == NULL)
    return;
  g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_ENGINE, "%s",
                           self->engine_error ? self->engine_error : "The WireGuard engine failed");
  g_object_unref (task);
}

/* ---- state --------------------------------------------------------------- */

static void
succeed_pending_up (HyphaeIpn *self)
{
  GTask *task = g_steal_pointer (&self->up_task);

  if (task == NULL)
    return;
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
recompute_state (HyphaeIpn *self)
{
  HyphaeControlState cs = self->control ? hyphae_control_client_get_state (self->control)
                                        : HYPHAE_CONTROL_STATE_IDLE;
  HyphaeIpnState s;

  if (!have_node_key (self))
    s = self->ever_logged_in ? HYPHAE_IPN_STATE_NEEDS_LOGIN : HYPHAE_IPN_STATE_NO_STATE;
  else if (!self->prefs.want_running || self->control == NULL)
    s = HYPHAE_IPN_STATE_STOPPED;
  else
    switch (cs)
      {
      case HYPHAE_CONTROL_STATE_WAIT_AUTH_URL:
        s = HYPHAE_IPN_STATE_NEEDS_LOGIN;
        break;
      case HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH:
        s = HYPHAE_IPN_STATE_NEEDS_MACHINE_AUTH;
        break;
      case HYPHAE_CONTROL_STATE_IDLE:
      case HYPHAE_CONTROL_STATE_REGISTERING:
      case HYPHAE_CONTROL_STATE_BACKOFF:
        /* Once authorized, a lost control connection does not stop the tunnel. */
        if (!self->authorized)
          s = HYPHAE_IPN_STATE_NEEDS_LOGIN;
        else
          s = self->netmap_applied ? HYPHAE_IPN_STATE_RUNNING : HYPHAE_IPN_STATE_STARTING;
        break;
      case HYPHAE_CONTROL_STATE_MAPPING:
      case HYPHAE_CONTROL_STATE_SYNCED:
      default:
        s = self->netmap_applied ? HYPHAE_IPN_STATE_RUNNING : HYPHAE_IPN_STATE_STARTING;
        break;
      }
  /* Our own node key expired (until the client rotates it or the user logs in again). */
  if ((s == HYPHAE_IPN_STATE_RUNNING || s == HYPHAE_IPN_STATE_STARTING) && self->netmap != NULL &&
      hyphae_netmap_get_self (self->netmap) != NULL && hyphae_netmap_get_self (self->netmap)->expired)
    s = HYPHAE_IPN_STATE_NEEDS_LOGIN;
  if (s != HYPHAE_IPN_STATE_NEEDS_LOGIN || self->control == NULL ||
      cs != HYPHAE_CONTROL_STATE_WAIT_AUTH_URL)
    set_auth_url (self, "");
  update_keys_owner (self);
  set_state (self, s);
  /* Before an Up returns: Running means the OS resolves our names. */
  os_dns_sync (self);
  /* An authorized Up waits for the engine: Running, or anything but Starting. */
  if (self->up_waits_running && s != HYPHAE_IPN_STATE_STARTING)
    succeed_pending_up (self);
}

/* ---- OS DNS (osdns) ------------------------------------------------------ */

/* Direct mode: MagicDNS is the only resolver; what the OS had before us
 * answers the names MagicDNS does not own. */
static void
os_dns_hand_fallback (HyphaeIpn *self)
{
  g_auto(GStrv) base = NULL;

  if (self->magic_dns == NULL || self->os_dns == NULL)
    return;
  base = hyphae_os_dns_dup_base_nameservers (self->os_dns);
  hyphae_magic_dns_set_fallback_resolvers (self->magic_dns, (const char * const *) base);
}

/* The OS resolver follows the state (Tailscale's DNS manager does the same
 * from its netmap + prefs): while Running with CorpDNS, the tailnet's DNS
 * (hyphae_os_dns_plan_new); Stopped, logged out or not accepting DNS, nothing
 * of ours (an empty plan reverts). Called from recompute_state, which every
 * netmap, prefs change, Down and Logout ends with. */
static void
os_dns_sync (HyphaeIpn *self)
{
  g_autoptr(HyphaeDnsConfig) config = NULL;
  g_autoptr(HyphaeOsDnsPlan) plan = NULL;
  g_autoptr(GError) error = NULL;

  if (self->os_dns == NULL)
    return;
  if (self->state == HYPHAE_IPN_STATE_RUNNING && self->netmap != NULL && self->prefs.corp_dns)
    {
      config = hyphae_dns_config_parse (hyphae_netmap_get_dns_config_json (self->netmap), &error);
      if (config == NULL) /* magic_dns_update warns about it */
        {
          g_debug ("OS DNS: no tailnet DNS settings: %s", error->message);
          g_clear_error (&error);
        }
      /* An exit node in use as MagicDNS sees it (mdns's magic_dns_update). */
      plan = hyphae_os_dns_plan_new (config, hyphae_netmap_get_magicdns_suffix (self->netmap), TRUE,
                                     self->prefs.exit_node_id != NULL && self->prefs.exit_node_id[0] != '\0' &&
                                       self->applied != NULL && self->applied->exit_node_found);
    }
  /* Failures are in the DNS status (Error) and logged by hyphae-os-dns. */
  (void) hyphae_os_dns_apply (self->os_dns, plan, &error);
  os_dns_hand_fallback (self); /* MagicDNS may be a new one */
}

static void
on_os_dns_changed (HyphaeOsDns *dns,
                   gpointer user_data)
{
  HyphaeIpn *self = user_data;

  os_dns_hand_fallback (self); /* e.g. NetworkManager rewrote resolv.conf */
  g_signal_emit (self, signals[SIG_DNS_CHANGED], 0);
}

GVariant *
hyphae_ipn_get_dns_status (HyphaeIpn *self)
{
  g_return_val_if_fail (HYPHAE_IS_IPN (self), NULL);
  if (self->os_dns == NULL) /* disposed */
    return g_variant_new ("a{sv}", NULL);
  return hyphae_os_dns_get_status (self->os_dns);
}
/* ---- end osdns ------------------------------------------------------------ */

/* ---- control client ------------------------------------------------------ */

static void
on_control_state (GObject *obj, GParamSpec *pspec, gpointer user_data)
{
  HyphaeIpn *self = user_data;
  HyphaeControlState cs = hyphae_control_client_get_state (self->control);

  if (cs == HYPHAE_CONTROL_STATE_MAPPING || cs == HYPHAE_CONTROL_STATE_SYNCED)
    {
      self->authorized = TRUE;
      self->ever_logged_in = TRUE;
      /* Authorized: start the engine now, configure it with the netmap. */
      if (!engine_start (self))
        {
          fail_start (self);
          return;
        }
    }
  recompute_state (self);
}

static void
on_control_netmap (HyphaeControlClient *client, HyphaeNetmap *nm, gpointer user_data)
{
  HyphaeIpn *self = user_data;

  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  self->netmap = hyphae_netmap_ref (nm);
  self->authorized = TRUE;
  self->ever_logged_in = TRUE;
  engine_apply (self);
  recompute_state (self);
  g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
  g_signal_emit (self, signals[SIG_SELF_CHANGED], 0);
}

static void
on_control_auth_url (HyphaeControlClient *client, const char *url, gpointer user_data)
{
  HyphaeIpn *self = user_data;

  self->ever_logged_in = TRUE;
  set_auth_url (self, url);
  recompute_state (self);
  /* The URL is what a pending Up waits for. */
  succeed_pending_up (self);
}

/* "keys-rotated" with the current node key (a secret GVariant, wiped on free). */
static void
emit_keys_rotated (HyphaeIpn *self)
{
  char text[sizeof KEY_PREFIX_PRIVATE + KEY_HEX_LEN];
  GVariantBuilder b;

  key_to_text (text, sizeof text, KEY_PREFIX_PRIVATE, self->keys->node);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "node-key", hyphae_secret_variant_new_string (text));
  g_variant_builder_add (&b, "{sv}", "profile", g_variant_new_string (self->profile));
  sodium_memzero (text, sizeof text);
  g_signal_emit (self, signals[SIG_KEYS_ROTATED], 0, g_variant_builder_end (&b));
}

/* A client-owned node key is about to be replaced: remember its public half,
 * so that its owner coming back with it (its signal lost: no one listened)
 * is given the new key instead of making a new node. */
static void
remember_rotated (HyphaeIpn *self)
{
  if (self->n_rotated_pubs == HYPHAE_IPN_ROTATIONS_KEPT)
    {
      memmove (self->rotated_pubs[0], self->rotated_pubs[1],
               (HYPHAE_IPN_ROTATIONS_KEPT - 1) * KEY_LEN);
      self->n_rotated_pubs--;
    }
  key_public_from_private (self->rotated_pubs[self->n_rotated_pubs++], self->keys->node);
}

static void
on_control_node_key_rotated (HyphaeControlClient *client, GBytes *new_priv, gpointer user_data)
{
  HyphaeIpn *self = user_data;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *k = g_bytes_get_data (new_priv, &len);

  if (len != KEY_LEN || self->keys == NULL)
    return;
  if (!self->keys->persist && self->keys->has_node)
    remember_rotated (self);
  memcpy (self->keys->node, k, KEY_LEN);
  self->keys->has_node = TRUE;
  if (!save_keys (self, &error))
    g_warning ("%s", error->message);
  /* The engine's static key follows. */
  if (self->runner != NULL)
    {
      struct uapi_set set = { .has_private_key = TRUE };

      memcpy (set.private_key, self->keys->node, KEY_LEN);
      (void) wg_runner_apply (self->runner, &set);
      sodium_memzero (set.private_key, sizeof set.private_key);
    }
  /* The path machine signs its pings with the node key and DERP knows us by
   * it: a fresh magicsock with the new key (paths are found again). */
  if (self->magicsock != NULL)
    {
      magicsock_stop (self);
      if (magicsock_start (self))
        {
          if (self->endpoints != NULL)
            hyphae_magicsock_set_local_endpoints (self->magicsock, (const char * const *) self->endpoints);
          if (self->netmap != NULL)
            hyphae_magicsock_set_netmap (self->magicsock, self->netmap);
        }
    }
  emit_keys_rotated (self);
}

static void
on_control_health (HyphaeControlClient *client, gpointer user_data)
{
  update_health (HYPHAE_IPN (user_data));
}

static gboolean
unref_idle (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* We may be inside one of the client's own callbacks: let it return first. */
static void
unref_later (gpointer object)
{
  g_idle_add (unref_idle, object);
}

static void
control_stop (HyphaeIpn *self)
{
  if (self->control == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->control, self);
  hyphae_control_client_stop (self->control);
  unref_later (g_steal_pointer (&self->control));
  self->authorized = FALSE;
  update_health (self);
}

static void
control_create (HyphaeIpn *self)
{
  HyphaeControlConfig cfg = { 0 };
  const char *hostname = self->prefs.hostname && *self->prefs.hostname
                           ? self->prefs.hostname
                           : g_get_host_name ();

  control_stop (self);
  ensure_disco_key (self);
  cfg.control_url = self->prefs.control_url;
  memcpy (cfg.machine_priv, self->keys->machine, KEY_LEN);
  memcpy (cfg.node_priv, self->keys->node, KEY_LEN);
  key_public_from_private (cfg.disco_pub, self->disco_priv);
  cfg.hostname = hostname;
  cfg.os = "linux";
  cfg.routable_ips = (const char * const *) self->prefs.advertise_routes; /* serve */
  self->control = hyphae_control_client_new (&cfg);
  sodium_memzero (cfg.machine_priv, sizeof cfg.machine_priv);
  sodium_memzero (cfg.node_priv, sizeof cfg.node_priv);
  hyphae_control_client_set_exit_node_id (self->control, self->prefs.exit_node_id);
  g_signal_connect (self->control, "notify::state", G_CALLBACK (on_control_state), self);
  g_signal_connect (self->control, "netmap", G_CALLBACK (on_control_netmap), self);
  g_signal_connect (self->control, "auth-url", G_CALLBACK (on_control_auth_url), self);
  g_signal_connect (self->control, "node-key-rotated", G_CALLBACK (on_control_node_key_rotated), self);
  g_signal_connect (self->control, "health-changed", G_CALLBACK (on_control_health), self);
  /* A new client knows none of our endpoints yet. */
  g_clear_pointer (&self->endpoints, g_strfreev);
  report_endpoints (self);
  push_to_control (self);
}

static HyphaeIpnError
map_control_error (const GError *error)
{
  if (error->domain == HYPHAE_CONTROL_ERROR)
    switch (error->code)
      {
      case HYPHAE_CONTROL_ERROR_UNREACHABLE: return HYPHAE_IPN_ERROR_UNREACHABLE;
      case HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY: return HYPHAE_IPN_ERROR_BAD_AUTH_KEY;
      case HYPHAE_CONTROL_ERROR_NEEDS_LOGIN: return HYPHAE_IPN_ERROR_NEEDS_LOGIN;
      default: break;
      }
  return HYPHAE_IPN_ERROR_FAILED;
}

static void
control_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  HyphaeIpn *self = user_data; /* a ref held for us */
  g_autoptr(GError) error = NULL;
  gboolean ok = hyphae_control_client_start_finish (HYPHAE_CONTROL_CLIENT (source), result, &error);
  GTask *task = NULL;

  /* A later Up or Down replaced this client: its result is stale. */
  if ((gpointer) source == (gpointer) self->control)
    {
      /* After BAD_AUTH_KEY the client stopped itself (IDLE): NeedsLogin. */
      task = g_steal_pointer (&self->up_task);
      recompute_state (self);
    }
  /* Authorized, engine still starting: the Up waits for Running (or its failure). */
  if (task != NULL && ok && self->state == HYPHAE_IPN_STATE_STARTING && self->up_task == NULL)
    {
      self->up_task = g_steal_pointer (&task);
      self->up_waits_running = TRUE;
    }
  if (task != NULL)
    {
      if (ok)
        g_task_return_boolean (task, TRUE);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, HYPHAE_IPN_ERROR, map_control_error (error),
                                 "%s", error->message);
      g_object_unref (task);
    }
  g_object_unref (self);
}

/* A keys file we refuse to read (another owner, readable by others) is
 * reported, and never replaced: the user decides what it was. TRUE if so. */
static gboolean
keys_refused (HyphaeIpn *self, const GError *error)
{
  gboolean refused = error != NULL &&
                     g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  char *warning = refused ? g_strdup (error->message) : NULL;

  if (refused && g_strcmp0 (warning, self->keys_warning) != 0)
    g_warning ("%s", warning);
  g_free (self->keys_warning);
  self->keys_warning = warning;
  update_health (self);
  return refused;
}

/* Make sure there are keys: the app's (SetKeys) or the daemon's own. */
static gboolean
ensure_keys (HyphaeIpn *self, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (have_node_key (self))
    return TRUE;
  if (self->keys == NULL)
    {
      g_autoptr(HyphaeProfileKeys) keys = hyphae_profile_keys_new ();
      gboolean loaded = hyphae_profile_keys_load (keys, self->state_dir, PROFILE, &local);

      if (keys_refused (self, local))
        {
          g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED, "%s", local->message);
          return FALSE;
        }
      if (!loaded && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Replacing unreadable keys: %s", local->message);
      self->keys = g_steal_pointer (&keys);
      self->keys->persist = TRUE;
      set_profile (self, PROFILE);
    }
  /* Keys the app gave are whole; only daemon-owned ones are generated. */
  if (!self->keys->persist)
    {
      g_set_error_literal (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_NEEDS_LOGIN,
                           "The keys given with SetKeys are incomplete");
      return FALSE;
    }
  if (hyphae_profile_keys_fill (self->keys))
    return save_keys (self, error);
  return TRUE;
}

/* Another node (other keys, another server): nothing of the old session
 * stays, and the next start logs in afresh. */
static void
drop_session (HyphaeIpn *self)
{
  gboolean had_netmap = self->netmap != NULL;

  control_stop (self);
  engine_stop (self);
  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  if (had_netmap)
    g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
}

/* cancellable: the Up's (a daemon shutting down cancels it). */
static void
start_session (HyphaeIpn *self, const char *auth_key, GCancellable *cancellable)
{
  control_create (self);
  recompute_state (self);
  hyphae_control_client_start_async (self->control, auth_key, cancellable, control_started_cb,
                                     g_object_ref (self));
}

/* ---- GObject ------------------------------------------------------------- */

static void fail_pending_up (HyphaeIpn *self, const char *why);

static void
hyphae_ipn_dispose (GObject *object)
{
  HyphaeIpn *self = HYPHAE_IPN (object);

  /* A pending Up's GTask holds us: end it, or the two keep each other alive
   * (hyphaed disposes us at shutdown even with an Up in flight). */
  fail_pending_up (self, "hyphaed is shutting down");
  /* osdns: the OS resolver first, while our link still exists. */
  if (self->os_dns != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!hyphae_os_dns_revert (self->os_dns, &error))
        g_warning ("Cannot restore the OS DNS settings: %s", error->message);
      g_clear_pointer (&self->os_dns, hyphae_os_dns_free);
    }
  control_stop (self);
  engine_stop (self);
  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  G_OBJECT_CLASS (hyphae_ipn_parent_class)->dispose (object);
}

static void
hyphae_ipn_finalize (GObject *object)
{
  HyphaeIpn *self = HYPHAE_IPN (object);

  g_ptr_array_unref (self->deferred_peers);
  hyphae_filter_state_free (self->filter); /* filt */
  g_free (self->state_dir);
  g_free (self->ifname);
  g_free (self->uapi_dir);
  hyphae_ipn_prefs_clear (&self->prefs);
  g_free (self->auth_url);
  g_strfreev (self->health);
  g_free (self->prefs_warning);
  g_free (self->keys_warning);
  g_free (self->set_keys_warning);
  g_free (self->profile);
  g_free (self->engine_error);
  g_free (self->serve_error);
  g_clear_pointer (&self->keys, hyphae_profile_keys_free);
  if (self->disco_priv != NULL)
    secmem_free (self->disco_priv, KEY_LEN);
  G_OBJECT_CLASS (hyphae_ipn_parent_class)->finalize (object);
}

static void
hyphae_ipn_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  HyphaeIpn *self = HYPHAE_IPN (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_AUTH_URL:
      g_value_set_string (value, self->auth_url);
      break;
    case PROP_HEALTH:
      g_value_set_boxed (value, self->health);
      break;
    case PROP_PROFILE:
      g_value_set_string (value, self->profile);
      break;
    case PROP_KEYS_OWNER:
      g_value_set_int (value, self->keys_owner);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_ipn_class_init (HyphaeIpnClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_ipn_dispose;
  object_class->finalize = hyphae_ipn_finalize;
  object_class->get_property = hyphae_ipn_get_property;

  props[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, HYPHAE_IPN_STATE_NO_STATE,
                                        HYPHAE_IPN_STATE_RUNNING, HYPHAE_IPN_STATE_NO_STATE,
                                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_AUTH_URL] = g_param_spec_string ("auth-url", NULL, NULL, "",
                                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_HEALTH] = g_param_spec_boxed ("health", NULL, NULL, G_TYPE_STRV,
                                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_PROFILE] = g_param_spec_string ("profile", NULL, NULL, PROFILE,
                                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_KEYS_OWNER] = g_param_spec_int ("keys-owner", NULL, NULL, HYPHAE_IPN_KEYS_OWNER_NONE,
                                             HYPHAE_IPN_KEYS_OWNER_CLIENT, HYPHAE_IPN_KEYS_OWNER_NONE,
                                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIG_PEERS_CHANGED] = g_signal_new ("peers-changed", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_PREFS_CHANGED] = g_signal_new ("prefs-changed", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_SELF_CHANGED] = g_signal_new ("self-changed", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_KEYS_ROTATED] = g_signal_new ("keys-rotated", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                            1, G_TYPE_VARIANT);
  signals[SIG_DNS_CHANGED] = g_signal_new ("dns-changed", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
hyphae_ipn_init (HyphaeIpn *self)
{
  self->auth_url = g_strdup ("");
  self->profile = g_strdup (PROFILE);
  self->health = g_new0 (char *, 1);
  self->deferred_peers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->filter = hyphae_filter_state_new (); /* filt */
  hyphae_ipn_prefs_init_defaults (&self->prefs);
}

/* ---- public API ---------------------------------------------------------- */

/* A state dir made earlier (by hand, an older version, a package) may be
 * 0755: the keys' directory is ours alone. Returns FALSE with errno set. */
static gboolean
tighten_state_dir (const char *dir)
{
  struct stat st;
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fstat (fd, &st) == 0;
  if (ok && (st.st_mode & 07777) != 0700)
    {
      ok = fchmod (fd, 0700) == 0;
      if (ok)
        g_message ("%s was mode %04o, now 0700", dir, (unsigned) (st.st_mode & 07777));
    }
  if (!ok)
    {
      int e = errno;

      close (fd);
      errno = e;
      return FALSE;
    }
  close (fd);
  return TRUE;
}

HyphaeIpn *
hyphae_ipn_new (const HyphaeIpnOptions *options,
                GError **error)
{
  g_autoptr(HyphaeIpn) self = g_object_new (HYPHAE_TYPE_IPN, NULL);
  g_autoptr(GError) local = NULL;
  g_autofree char *warning = NULL;
  HyphaeProfileKeys *keys;

  g_return_val_if_fail (options != NULL && options->state_dir != NULL, NULL);
  self->state_dir = g_strdup (options->state_dir);
  self->ifname = g_strdup (options->ifname ? options->ifname : DEFAULT_IFNAME);
  self->listen_port = options->listen_port ? options->listen_port : DEFAULT_PORT;
  self->uapi_dir = g_strdup (options->uapi_dir);
  if (strlen (self->ifname) >= IFNAMSIZ)
    {
      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT,
                   "Interface name too long: %s", self->ifname);
      return NULL;
    }
  if (g_mkdir_with_parents (self->state_dir, 0700) != 0 || !tighten_state_dir (self->state_dir))
    {
      int e = errno;

      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED,
                   "Cannot create %s: %s", self->state_dir, g_strerror (e));
      return NULL;
    }
  if (!hyphae_ipn_prefs_load (self->state_dir, &self->prefs, &warning, &local))
    {
      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  if (warning != NULL)
    {
      g_warning ("%s", warning);
      self->prefs_warning = g_steal_pointer (&warning);
    }

  keys = hyphae_profile_keys_new ();
  if (hyphae_profile_keys_load (keys, self->state_dir, PROFILE, &local))
    {
      self->keys = keys;
      self->ever_logged_in = TRUE;
    }
  else
    {
      if (!keys_refused (self, local) && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Ignoring keys: %s", local->message);
      hyphae_profile_keys_free (keys);
    }
  g_clear_error (&local);
  self->os_dns = hyphae_os_dns_new (self->ifname, self->state_dir);
  hyphae_os_dns_set_changed_func (self->os_dns, on_os_dns_changed, self);
  update_health (self);
  recompute_state (self);

  /* Back after a restart: the node comes up again by itself. */
  if (self->prefs.want_running && have_node_key (self))
    start_session (self, NULL, NULL);
  return g_steal_pointer (&self);
}

void
hyphae_ipn_up_async (HyphaeIpn *self,
                     const HyphaeIpnUpOptions *options,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  gboolean changed = FALSE;

  g_task_set_source_tag (task, hyphae_ipn_up_async);
  /* The keys' owner is a client that has not handed them over (yet): making
   * daemon-owned keys now would make a node that client cannot keep. */
  if (options != NULL && !options->unattended && keys_owner (self) != HYPHAE_IPN_KEYS_OWNER_CLIENT)
    {
      set_set_keys_warning (self, TRUE);
      g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_NEEDS_LOGIN,
                               "No keys to log in with: SetKeys first (an Up with Unattended false "
                               "uses only the keys given with SetKeys)");
      return;
    }
  set_set_keys_warning (self, FALSE);
  if (options != NULL && options->control_url != NULL)
    {
      if (!g_str_has_prefix (options->control_url, "https://") &&
          !g_str_has_prefix (options->control_url, "http://"))
        {
          g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT,
                                   "Not an http(s) URL: %s", options->control_url);
          return;
        }
      changed |= g_strcmp0 (self->prefs.control_url, options->control_url) != 0;
      g_free (self->prefs.control_url);
      self->prefs.control_url = g_strdup (options->control_url);
    }
  if (options != NULL && options->hostname != NULL)
    {
      changed |= g_strcmp0 (self->prefs.hostname, options->hostname) != 0;
      g_free (self->prefs.hostname);
      self->prefs.hostname = g_strdup (options->hostname);
    }
  if (!ensure_keys (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  self->prefs.want_running = TRUE;
  if (!save_prefs (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_signal_emit (self, signals[SIG_PREFS_CHANGED], 0);

  /* Already up with the same server and no new auth key: nothing to do. */
  if (self->control != NULL && !changed && (options == NULL || options->auth_key == NULL) &&
      self->authorized)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->up_task != NULL)
    {
      GTask *old = g_steal_pointer (&self->up_task);

      g_task_return_new_error (old, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Superseded by a new Up");
      g_object_unref (old);
    }
  self->up_task = g_steal_pointer (&task);
  self->up_waits_running = FALSE;
  /* Another server (or name) is another node: drop what the old one said. */
  if (changed && self->netmap != NULL)
    drop_session (self);
  start_session (self, options ? options->auth_key : NULL, cancellable);
}

gboolean
hyphae_ipn_up_finish (HyphaeIpn *self,
                      GAsyncResult *result,
                      GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
fail_pending_up (HyphaeIpn *self, const char *why)
{
  GTask *task = g_steal_pointer (&self->up_task);

  if (task == NULL)
    return;
  g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED, "%s", why);
  g_object_unref (task);
}

gboolean
hyphae_ipn_down (HyphaeIpn *self,
                 GError **error)
{
  gboolean had_netmap = self->netmap != NULL;

  fail_pending_up (self, "Interrupted by Down");
  self->prefs.want_running = FALSE;
  control_stop (self);
  engine_stop (self);
  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  set_engine_error (self, NULL, NULL);
  recompute_state (self);
  g_signal_emit (self, signals[SIG_PREFS_CHANGED], 0);
  if (had_netmap)
    g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
  return save_prefs (self, error);
}

/* Forget this node locally: engine down, app keys gone, daemon node key deleted. */
static void
logout_local (HyphaeIpn *self)
{
  g_autoptr(GError) error = NULL;

  control_stop (self);
  engine_stop (self);
  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  self->authorized = FALSE;
  self->prefs.want_running = FALSE;
  if (!save_prefs (self, &error))
    g_warning ("%s", error->message);
  g_clear_error (&error);
  if (self->keys != NULL && self->keys->persist)
    {
      /* Same machine, new node: the machine key stays. */
      self->keys->has_node = FALSE;
      sodium_memzero (self->keys->node, sizeof self->keys->node);
      if (!save_keys (self, &error))
        g_warning ("%s", error->message);
    }
  else
    {
      g_clear_pointer (&self->keys, hyphae_profile_keys_free);
      set_profile (self, PROFILE);
    }
  self->n_rotated_pubs = 0;
  set_set_keys_warning (self, FALSE);
  self->ever_logged_in = TRUE;
  set_engine_error (self, NULL, NULL);
  recompute_state (self);
  g_signal_emit (self, signals[SIG_PREFS_CHANGED], 0);
  g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
  g_signal_emit (self, signals[SIG_SELF_CHANGED], 0);
}

static void
control_logout_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  HyphaeIpn *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  /* The server may be unreachable: we forget the node locally all the same. */
  if (!hyphae_control_client_logout_finish (HYPHAE_CONTROL_CLIENT (source), result, &error))
    g_warning ("Logout at the control server failed: %s", error->message);
  unref_later (source);
  logout_local (self);
  g_task_return_boolean (task, TRUE);
}

void
hyphae_ipn_logout_async (HyphaeIpn *self,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  HyphaeControlClient *client;

  g_task_set_source_tag (task, hyphae_ipn_logout_async);
  fail_pending_up (self, "Interrupted by Logout");
  if (!have_node_key (self))
    {
      logout_local (self);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  /* Tell the server with the client we have, or a fresh one (Stopped). */
  if (self->control == NULL)
    control_create (self);
  client = g_object_ref (self->control);
  g_signal_handlers_disconnect_by_data (client, self);
  g_clear_object (&self->control);
  hyphae_control_client_logout_async (client, cancellable, control_logout_cb, task);
}

gboolean
hyphae_ipn_logout_finish (HyphaeIpn *self,
                          GAsyncResult *result,
                          GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
hyphae_ipn_set_prefs (HyphaeIpn *self,
                      const HyphaeIpnPrefs *prefs,
                      HyphaeIpnPrefMask mask,
                      GError **error)
{
  HyphaeIpnPrefs next = { 0 };
  gboolean was_running = self->prefs.want_running;
  gboolean engine_affected, server_affected, url_changed, filter_affected;
  g_auto(GStrv) routes = NULL; /* serve: AdvertiseRoutes, canonical */

  if ((mask & HYPHAE_IPN_PREF_CONTROL_URL) &&
      (prefs->control_url == NULL ||
       (!g_str_has_prefix (prefs->control_url, "https://") &&
        !g_str_has_prefix (prefs->control_url, "http://"))))
    {
      g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT,
                   "Not an http(s) URL: %s", prefs->control_url ? prefs->control_url : "(null)");
      return FALSE;
    }
  if (mask & HYPHAE_IPN_PREF_ADVERTISE_ROUTES)
    {
      g_autoptr(GError) local = NULL;

      routes = hyphae_advertise_routes_normalize ((const char * const *) prefs->advertise_routes, &local);
      if (routes == NULL)
        {
          g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT, "%s", local->message);
          return FALSE;
        }
    }
  hyphae_ipn_prefs_copy (&next, &self->prefs);
  hyphae_ipn_prefs_merge (&next, prefs, mask);
  if (routes != NULL)
    {
      g_strfreev (next.advertise_routes);
      next.advertise_routes = g_steal_pointer (&routes);
    }
  if (hyphae_ipn_prefs_equal (&next, &self->prefs))
    {
      hyphae_ipn_prefs_clear (&next);
      return TRUE;
    }
  engine_affected = g_strcmp0 (next.exit_node_id, self->prefs.exit_node_id) != 0 ||
                    !next.route_all != !self->prefs.route_all ||
                    !next.exit_node_allow_lan_access != !self->prefs.exit_node_allow_lan_access ||
                    serve_routes_changed (next.advertise_routes, self->prefs.advertise_routes);
  url_changed = g_strcmp0 (next.control_url, self->prefs.control_url) != 0;
  filter_affected = !next.shields_up != !self->prefs.shields_up || /* filt */
                    g_strcmp0 (next.exit_node_id, self->prefs.exit_node_id) != 0;
  server_affected = url_changed || g_strcmp0 (next.hostname, self->prefs.hostname) != 0;
  /* exit: the kill switch decides the /0 routes while the exit node is away. */
  engine_affected = engine_affected || !next.exit_node_kill_switch != !self->prefs.exit_node_kill_switch;
  hyphae_ipn_prefs_copy (&self->prefs, &next);
  hyphae_ipn_prefs_clear (&next);
  if (!save_prefs (self, error))
    return FALSE;
  g_signal_emit (self, signals[SIG_PREFS_CHANGED], 0);

  if (self->control != NULL)
    hyphae_control_client_set_exit_node_id (self->control, self->prefs.exit_node_id);
  if (self->control != NULL) /* serve: Hostinfo.RoutableIPs */
    hyphae_control_client_set_routable_ips (self->control,
                                            (const char * const *) self->prefs.advertise_routes);
  if (was_running && !self->prefs.want_running)
    return hyphae_ipn_down (self, error);
  if (self->prefs.want_running && have_node_key (self) &&
      (!was_running || server_affected || self->control == NULL))
    {
      /* Another server is another tailnet: nothing of the old one stays. */
      if (url_changed && self->netmap != NULL)
        drop_session (self);
      start_session (self, NULL, NULL);
    }
  else if (engine_affected && self->runner != NULL)
    {
      engine_apply (self);
      g_signal_emit (self, signals[SIG_PEERS_CHANGED], 0);
    }
  if (filter_affected) /* filt */
    filter_apply (self);
  magic_dns_update (self); /* mdns: CorpDNS */
  recompute_state (self);
  return TRUE;
}

gboolean
hyphae_ipn_set_exit_node (HyphaeIpn *self,
                          const char *stable_id,
                          GError **error)
{
  HyphaeIpnPrefs p = { .exit_node_id = (char *) (stable_id ? stable_id : "") };

  if (p.exit_node_id[0] != '\0')
    {
      const HyphaeNode *node = self->netmap ? hyphae_netmap_lookup_stable_id (self->netmap, p.exit_node_id)
                                            : NULL;

      if (node == NULL || !node->exit_node_option)
        {
          g_set_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT,
                       "%s is not an exit node of this tailnet", p.exit_node_id);
          return FALSE;
        }
    }
  return hyphae_ipn_set_prefs (self, &p, HYPHAE_IPN_PREF_EXIT_NODE_ID, error);
}

/* How keys handed over compare with those held (public halves: a private
 * key and its clamped form are the same key). */
static HyphaeIpnSetKeysResult
compare_keys (HyphaeIpn *self,
              const guint8 machine_pub[KEY_LEN],
              const guint8 node_pub[KEY_LEN])
{
  guint8 pub[KEY_LEN];

  if (!have_node_key (self))
    return HYPHAE_IPN_SET_KEYS_NEW_NODE;
  key_public_from_private (pub, self->keys->machine);
  if (!key_equal (pub, machine_pub))
    return HYPHAE_IPN_SET_KEYS_NEW_NODE;
  key_public_from_private (pub, self->keys->node);
  if (key_equal (pub, node_pub))
    return HYPHAE_IPN_SET_KEYS_SAME;
  for (guint i = 0; !self->keys->persist && i < self->n_rotated_pubs; i++)
    if (key_equal (self->rotated_pubs[i], node_pub))
      return HYPHAE_IPN_SET_KEYS_OLDER;
  return HYPHAE_IPN_SET_KEYS_NEW_NODE;
}

/* The state dir's keys file goes when a client takes the keys over. */
static void
forget_daemon_keys (HyphaeIpn *self)
{
  g_autofree char *path = hyphae_profile_keys_path (self->state_dir, PROFILE);

  if (unlink (path) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

gboolean
hyphae_ipn_set_keys (HyphaeIpn *self,
                     const guint8 machine_priv[KEY_LEN],
                     const guint8 node_priv[KEY_LEN],
                     const char *profile,
                     HyphaeIpnSetKeysResult *result,
                     GError **error)
{
  guint8 machine_pub[KEY_LEN], node_pub[KEY_LEN];
  HyphaeIpnSetKeysResult r;

  if (!key_public_from_private (machine_pub, machine_priv) || !key_public_from_private (node_pub, node_priv))
    {
      g_set_error_literal (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT,
                           "A key is all zero");
      return FALSE;
    }
  r = compare_keys (self, machine_pub, node_pub);
  if (r == HYPHAE_IPN_SET_KEYS_NEW_NODE)
    {
      /* Control and engine hold the old keys: a new node starts from nothing,
       * at the next Up (the server to log in to may be about to change). */
      fail_pending_up (self, "Interrupted by SetKeys with other keys");
      drop_session (self);
      g_clear_pointer (&self->keys, hyphae_profile_keys_free);
      self->keys = hyphae_profile_keys_new ();
      memcpy (self->keys->machine, machine_priv, KEY_LEN);
      memcpy (self->keys->node, node_priv, KEY_LEN);
      key_clamp (self->keys->machine);
      key_clamp (self->keys->node);
      self->keys->has_machine = self->keys->has_node = TRUE;
      self->n_rotated_pubs = 0;
    }
  /* Held in locked memory only, never written: the client owns them from
   * now on, and the daemon's own keys must not come back as the node at the
   * next start (the client would leave a daemon-owned node alone). */
  self->keys->persist = FALSE;
  forget_daemon_keys (self);
  set_profile (self, profile != NULL ? profile : PROFILE);
  set_set_keys_warning (self, FALSE);
  recompute_state (self);
  if (r == HYPHAE_IPN_SET_KEYS_OLDER)
    emit_keys_rotated (self);
  if (result != NULL)
    *result = r;
  return TRUE;
}

HyphaeIpnState
hyphae_ipn_get_state (HyphaeIpn *self)
{
  return self->state;
}

const HyphaeIpnPrefs *
hyphae_ipn_get_prefs (HyphaeIpn *self)
{
  return &self->prefs;
}

const char *
hyphae_ipn_get_auth_url (HyphaeIpn *self)
{
  return self->auth_url;
}

const char * const *
hyphae_ipn_get_health (HyphaeIpn *self)
{
  return (const char * const *) self->health;
}

const char *
hyphae_ipn_get_profile (HyphaeIpn *self)
{
  return self->profile;
}

HyphaeIpnKeysOwner
hyphae_ipn_get_keys_owner (HyphaeIpn *self)
{
  return self->keys_owner;
}

HyphaeNetmap *
hyphae_ipn_get_netmap (HyphaeIpn *self)
{
  return self->netmap;
}

gboolean
hyphae_ipn_get_peer_stats (HyphaeIpn *self,
                           const guint8 node_key[KEY_LEN],
                           HyphaeIpnPeerStats *out)
{
  struct wg_runner_peer_stats st;
  HyphaeMagicsockPath path;
  char ip[INET6_ADDRSTRLEN];

  memset (out, 0, sizeof *out);
  if (self->runner == NULL || wg_runner_get_peer_stats (self->runner, node_key, &st) < 0)
    return FALSE;
  out->rx_bytes = st.rx_bytes;
  out->tx_bytes = st.tx_bytes;
  out->last_handshake_unix = st.last_handshake_sec;
  /* The machine's peers: the path it chose (a DERP endpoint has no UDP address). */
  if (self->magicsock != NULL && hyphae_magicsock_has_peer (self->magicsock, node_key))
    {
      if (hyphae_magicsock_get_path (self->magicsock, node_key, &path))
        {
          g_strlcpy (out->endpoint, path.direct, sizeof out->endpoint);
          out->derp_region = path.derp_region;
          g_strlcpy (out->derp_code, path.derp_code, sizeof out->derp_code);
          out->has_path = TRUE;
        }
      return TRUE;
    }
  if (st.has_endpoint && st.endpoint.sa.sa_family == AF_INET)
    {
      inet_ntop (AF_INET, &st.endpoint.in4.sin_addr, ip, sizeof ip);
      g_snprintf (out->endpoint, sizeof out->endpoint, "%s:%u", ip, ntohs (st.endpoint.in4.sin_port));
    }
  else if (st.has_endpoint && st.endpoint.sa.sa_family == AF_INET6)
    {
      inet_ntop (AF_INET6, &st.endpoint.in6.sin6_addr, ip, sizeof ip);
      g_snprintf (out->endpoint, sizeof out->endpoint, "[%s]:%u", ip, ntohs (st.endpoint.in6.sin6_port));
    }
  out->has_path = st.has_endpoint;
  return TRUE;
}

const char *
hyphae_ipn_get_derp_region_code (HyphaeIpn *self,
                                 int region_id)
{
  if (self->magicsock == NULL || region_id <= 0)
    return NULL;
  return hyphae_magicsock_get_region_code (self->magicsock, region_id);
}

static void
ping_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeMagicsockPingResult res;
  HyphaeIpnPingResult *out;

  if (!hyphae_magicsock_ping_finish (HYPHAE_MAGICSOCK (source), result, &res, &error))
    {
      if (g_error_matches (error, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_TIMED_OUT))
        g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_TIMED_OUT, "%s", error->message);
      else if (g_error_matches (error, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_NOT_FOUND))
        g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_NOT_FOUND, "%s", error->message);
      else if (g_error_matches (error, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_BUSY))
        g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_BUSY, "%s", error->message);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  out = g_new0 (HyphaeIpnPingResult, 1);
  g_strlcpy (out->endpoint, res.path.direct, sizeof out->endpoint);
  out->derp_region = res.path.derp_region;
  g_strlcpy (out->derp_code, res.path.derp_code, sizeof out->derp_code);
  out->latency_ms = res.latency_ms;
  g_task_return_pointer (task, out, g_free);
}

void
hyphae_ipn_ping_async (HyphaeIpn *self,
                       const guint8 node_key[KEY_LEN],
                       guint timeout_ms,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, hyphae_ipn_ping_async);
  if (self->magicsock == NULL)
    {
      g_task_return_new_error (task, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_NOT_FOUND,
                               "The node is not running");
      g_object_unref (task);
      return;
    }
  hyphae_magicsock_ping_async (self->magicsock, node_key, timeout_ms, cancellable, ping_done, task);
}

gboolean
hyphae_ipn_ping_finish (HyphaeIpn *self,
                        GAsyncResult *result,
                        HyphaeIpnPingResult *out,
                        GError **error)
{
  g_autofree HyphaeIpnPingResult *res = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  res = g_task_propagate_pointer (G_TASK (result), error);
  if (res == NULL)
    return FALSE;
  *out = *res;
  return TRUE;
}
