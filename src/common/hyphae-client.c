/* SPDX-License-Identifier: MIT */
#include "hyphae-client.h"

#include "hyphae-mesh1-generated.h"

#define DBUS_NAME  "org.freedesktop.DBus"
#define DBUS_PATH  "/org/freedesktop/DBus"
#define DBUS_IFACE "org.freedesktop.DBus"

struct _HyphaeClient {
  GObject parent_instance;

  GBusType bus_type;
  GCancellable *cancellable; /* cancelled in dispose: every callback checks it */
  GDBusConnection *bus;
  HyphaeMesh1 *proxy; /* follows the name's owner; NULL until created */
  gboolean had_owner;

  HyphaeDaemonState daemon_state;
  char *daemon_error;
  HyphaeState state;
  HyphaePeer *self_peer;
  HyphaePeerList *peers;
  HyphaePeer *exit_node;
  gboolean want_running, exit_node_allow_lan_access, corp_dns, route_all, shields_up;
  gboolean exit_node_kill_switch, advertise_exit_node;
  char **advertise_routes;
  char *dns_mode, *dns_error;
  char **dns_nameservers, **dns_search_domains;
  char *control_url, *hostname, *exit_node_id;
  char **health;
  char *profile, *tailnet_name, *magic_dns_suffix, *daemon_version;
  gboolean magic_dns_enabled;
  HyphaeKeysOwner keys_owner;
  guint busy; /* mutating calls in flight */

  gboolean peers_in_flight; /* one GetPeers at a time… */
  gboolean peers_again;     /* …and one more if PeersChanged came meanwhile */
  /* stable id → HyphaePeerInfo: the last GetPeers as parsed. Only the parse
   * thread touches it (one at a time, as GetPeers). */
  GHashTable *parsed;
};

G_DEFINE_FINAL_TYPE (HyphaeClient, hyphae_client, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (HyphaeDaemonState, hyphae_daemon_state, G_DEFINE_ENUM_VALUE (HYPHAE_DAEMON_STATE_UNKNOWN, "unknown"), G_DEFINE_ENUM_VALUE (HYPHAE_DAEMON_STATE_STARTING, "starting"), G_DEFINE_ENUM_VALUE (HYPHAE_DAEMON_STATE_NOT_INSTALLED, "not-installed"), G_DEFINE_ENUM_VALUE (HYPHAE_DAEMON_STATE_FAILED, "failed"), G_DEFINE_ENUM_VALUE (HYPHAE_DAEMON_STATE_RUNNING, "running"))

G_DEFINE_ENUM_TYPE (HyphaeKeysOwner, hyphae_keys_owner, G_DEFINE_ENUM_VALUE (HYPHAE_KEYS_OWNER_UNKNOWN, "unknown"), G_DEFINE_ENUM_VALUE (HYPHAE_KEYS_OWNER_NONE, "none"), G_DEFINE_ENUM_VALUE (HYPHAE_KEYS_OWNER_DAEMON, "daemon"), G_DEFINE_ENUM_VALUE (HYPHAE_KEYS_OWNER_CLIENT, "client"))

G_DEFINE_ENUM_TYPE (HyphaeState, hyphae_state, G_DEFINE_ENUM_VALUE (HYPHAE_STATE_NO_STATE, "no-state"), G_DEFINE_ENUM_VALUE (HYPHAE_STATE_NEEDS_LOGIN, "needs-login"), G_DEFINE_ENUM_VALUE (HYPHAE_STATE_NEEDS_MACHINE_AUTH, "needs-machine-auth"), G_DEFINE_ENUM_VALUE (HYPHAE_STATE_STOPPED, "stopped"), G_DEFINE_ENUM_VALUE (HYPHAE_STATE_STARTING, "starting"), G_DEFINE_ENUM_VALUE (HYPHAE_STATE_RUNNING, "running"))

enum {
  PROP_0,
  PROP_DAEMON_STATE,
  PROP_DAEMON_ERROR,
  PROP_STATE,
  PROP_SELF,
  PROP_PEERS,
  PROP_WANT_RUNNING,
  PROP_CONTROL_URL,
  PROP_HOSTNAME,
  PROP_EXIT_NODE_ID,
  PROP_EXIT_NODE_ALLOW_LAN_ACCESS,
  PROP_CORP_DNS,
  PROP_ROUTE_ALL,
  PROP_SHIELDS_UP,
  PROP_EXIT_NODE_KILL_SWITCH,
  PROP_ADVERTISE_ROUTES,
  PROP_ADVERTISE_EXIT_NODE,
  PROP_DNS_MODE,
  PROP_DNS_NAMESERVERS,
  PROP_DNS_SEARCH_DOMAINS,
  PROP_DNS_ERROR,
  PROP_EXIT_NODE,
  PROP_HEALTH,
  PROP_PROFILE,
  PROP_TAILNET_NAME,
  PROP_MAGIC_DNS_SUFFIX,
  PROP_MAGIC_DNS_ENABLED,
  PROP_DAEMON_VERSION,
  PROP_KEYS_OWNER,
  PROP_BUSY,
  N_PROPS
};

enum {
  SIGNAL_AUTH_URL_READY,
  SIGNAL_KEYS_ROTATED,
  SIGNAL_DAEMON_RESTARTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void check_daemon (HyphaeClient *self);

/* ------------------------------------------------- setters that notify */

static void
set_str (HyphaeClient *self,
         char **field,
         const char *value,
         guint prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_bool (HyphaeClient *self,
          gboolean *field,
          gboolean value,
          guint prop)
{
  value = !!value;
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_strv (HyphaeClient *self,
          char ***field,
          const char * const *value,
          guint prop)
{
  static const char * const none[] = { NULL };

  if (value == NULL)
    value = none;
  if (*field != NULL && g_strv_equal ((const char * const *) *field, value))
    return;
  g_strfreev (*field);
  *field = g_strdupv ((char **) value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_daemon_state (HyphaeClient *self,
                  HyphaeDaemonState state,
                  const char *error)
{
  set_str (self, &self->daemon_error, error, PROP_DAEMON_ERROR);
  if (self->daemon_state == state)
    return;
  g_debug ("daemon state %d -> %d", self->daemon_state, state);
  self->daemon_state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DAEMON_STATE]);
}

static void
set_peer (HyphaeClient *self,
          HyphaePeer **field,
          HyphaePeer *peer,
          guint prop)
{
  if (*field == peer)
    return;
  g_set_object (field, peer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/* ----------------------------------------------- mirroring the daemon */

/* Mesh1's State values: Tailscale's ipn state names. */
static const char * const state_names[] = {
  [HYPHAE_STATE_NO_STATE] = "NoState",
  [HYPHAE_STATE_NEEDS_LOGIN] = "NeedsLogin",
  [HYPHAE_STATE_NEEDS_MACHINE_AUTH] = "NeedsMachineAuth",
  [HYPHAE_STATE_STOPPED] = "Stopped",
  [HYPHAE_STATE_STARTING] = "Starting",
  [HYPHAE_STATE_RUNNING] = "Running",
};

static HyphaeState
state_from_string (const char *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (s, state_names[i]) == 0)
      return i;
  return HYPHAE_STATE_NO_STATE;
}

const char *
hyphae_state_to_string (HyphaeState state)
{
  if ((guint) state >= G_N_ELEMENTS (state_names))
    return "";
  return state_names[state];
}

static HyphaeKeysOwner
keys_owner_from_string (const char *s)
{
  if (s == NULL)
    return HYPHAE_KEYS_OWNER_UNKNOWN;
  if (*s == '\0')
    return HYPHAE_KEYS_OWNER_NONE;
  if (g_str_equal (s, "daemon"))
    return HYPHAE_KEYS_OWNER_DAEMON;
  if (g_str_equal (s, "client"))
    return HYPHAE_KEYS_OWNER_CLIENT;
  return HYPHAE_KEYS_OWNER_UNKNOWN;
}

static void
update_exit_node (HyphaeClient *self)
{
  HyphaePeer *peer = NULL;

  if (self->exit_node_id != NULL && *self->exit_node_id != '\0')
    peer = hyphae_peer_list_lookup (self->peers, self->exit_node_id);
  set_peer (self, &self->exit_node, peer, PROP_EXIT_NODE);
}

/* The exit routes, as `hyphaectl set --advertise-exit-node` adds them
 * (hyphaed refuses one without the other). */
static gboolean
is_exit_route (const char *route)
{
  return g_str_equal (route, "0.0.0.0/0") || g_str_equal (route, "::/0");
}

static void
sync_advertise_routes (HyphaeClient *self,
                       GVariant *prefs)
{
  g_autofree const char **routes = NULL;
  gboolean exit_node = FALSE;

  if (prefs != NULL)
    g_variant_lookup (prefs, "AdvertiseRoutes", "^a&s", &routes);
  for (const char **r = routes; r != NULL && *r != NULL; r++)
    exit_node |= is_exit_route (*r);
  set_strv (self, &self->advertise_routes, routes, PROP_ADVERTISE_ROUTES);
  set_bool (self, &self->advertise_exit_node, exit_node, PROP_ADVERTISE_EXIT_NODE);
}

/* DNS: what the OS resolver was told; empty without a daemon. */
static void
sync_dns (HyphaeClient *self,
          GVariant *dns)
{
  const char *mode = "", *error = "";
  g_autofree const char **nameservers = NULL;
  g_autofree const char **search = NULL;

  if (dns != NULL)
    {
      g_variant_lookup (dns, "Mode", "&s", &mode);
      g_variant_lookup (dns, "Error", "&s", &error);
      g_variant_lookup (dns, "Nameservers", "^a&s", &nameservers);
      g_variant_lookup (dns, "SearchDomains", "^a&s", &search);
    }
  set_str (self, &self->dns_mode, mode, PROP_DNS_MODE);
  set_str (self, &self->dns_error, error, PROP_DNS_ERROR);
  set_strv (self, &self->dns_nameservers, nameservers, PROP_DNS_NAMESERVERS);
  set_strv (self, &self->dns_search_domains, search, PROP_DNS_SEARCH_DOMAINS);
}

static void
sync_prefs (HyphaeClient *self,
            GVariant *prefs)
{
  gboolean b;
  const char *s;

#define PREF_BOOL(key, field, prop) \
  set_bool (self, &self->field, prefs &&g_variant_lookup (prefs, key, "b", &b) && b, prop)
#define PREF_STR(key, field, prop) \
  set_str (self, &self->field,     \
           prefs &&g_variant_lookup (prefs, key, "&s", &s) ? s : "", prop)
  PREF_BOOL ("WantRunning", want_running, PROP_WANT_RUNNING);
  PREF_STR ("ControlURL", control_url, PROP_CONTROL_URL);
  PREF_STR ("Hostname", hostname, PROP_HOSTNAME);
  PREF_STR ("ExitNodeID", exit_node_id, PROP_EXIT_NODE_ID);
  PREF_BOOL ("ExitNodeAllowLANAccess", exit_node_allow_lan_access, PROP_EXIT_NODE_ALLOW_LAN_ACCESS);
  PREF_BOOL ("CorpDNS", corp_dns, PROP_CORP_DNS);
  PREF_BOOL ("RouteAll", route_all, PROP_ROUTE_ALL);
  PREF_BOOL ("ShieldsUp", shields_up, PROP_SHIELDS_UP);
  PREF_BOOL ("ExitNodeKillSwitch", exit_node_kill_switch, PROP_EXIT_NODE_KILL_SWITCH);
#undef PREF_BOOL
#undef PREF_STR
  sync_advertise_routes (self, prefs);
}

static void
sync_self (HyphaeClient *self,
           GVariant *dict)
{
  g_autoptr(HyphaePeerInfo) info = hyphae_peer_info_new_self (dict);
  g_autoptr(HyphaePeer) peer = NULL;

  if (info == NULL)
    {
      set_peer (self, &self->self_peer, NULL, PROP_SELF);
      return;
    }
  if (self->self_peer != NULL && g_strcmp0 (hyphae_peer_get_id (self->self_peer), info->stable_id) == 0)
    {
      hyphae_peer_update (self->self_peer, info);
      return;
    }
  peer = hyphae_peer_new (info);
  set_peer (self, &self->self_peer, peer, PROP_SELF);
}

/* Reads every cached property of the proxy (empty while there is no owner). */
static void
sync_properties (HyphaeClient *self)
{
  HyphaeMesh1 *p = self->proxy;
  g_autoptr(HyphaeTailnetInfo) tailnet = hyphae_tailnet_info_new (hyphae_mesh1_get_tailnet (p));
  HyphaeState state = state_from_string (hyphae_mesh1_get_state (p));
  HyphaeKeysOwner keys_owner = keys_owner_from_string (hyphae_mesh1_get_keys_owner (p));

  g_object_freeze_notify (G_OBJECT (self));
  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  if (self->keys_owner != keys_owner)
    {
      self->keys_owner = keys_owner;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEYS_OWNER]);
    }
  sync_prefs (self, hyphae_mesh1_get_prefs (p));
  sync_self (self, hyphae_mesh1_get_self (p));
  set_strv (self, &self->health, hyphae_mesh1_get_health (p), PROP_HEALTH);
  sync_dns (self, hyphae_mesh1_get_dns (p));
  set_str (self, &self->profile, hyphae_mesh1_get_profile (p) ?: "", PROP_PROFILE);
  set_str (self, &self->tailnet_name, tailnet ? tailnet->name : "", PROP_TAILNET_NAME);
  set_str (self, &self->magic_dns_suffix, tailnet ? tailnet->magicdns_suffix : "", PROP_MAGIC_DNS_SUFFIX);
  set_bool (self, &self->magic_dns_enabled, tailnet && tailnet->magicdns_enabled, PROP_MAGIC_DNS_ENABLED);
  set_str (self, &self->daemon_version, hyphae_mesh1_get_version (p) ?: "", PROP_DAEMON_VERSION);
  update_exit_node (self);
  g_object_thaw_notify (G_OBJECT (self));
}

/* -------------------------------------------------------------- peers */

static void request_peers (HyphaeClient *self);

static void
merge_peers (HyphaeClient *self,
             GPtrArray *infos)
{
  hyphae_peer_list_update (self->peers, infos);
  update_exit_node (self);
}

static void
parse_peers_thread (GTask *task,
                    gpointer source,
                    gpointer task_data,
                    GCancellable *cancellable)
{
  GVariant *reply = task_data; /* owned here: see on_get_peers */
  g_autoptr(GVariant) peers = g_variant_get_child_value (reply, 0);
  GPtrArray *infos = hyphae_peer_info_list_new (peers);

  /* A peer that did not change since the last reply gets the info it had
   * then: the merge sees the same pointer and skips it, and the new copy is
   * freed here, off the main loop (with 100 of 10,000 peers changing per
   * second, nearly all of them). */
  hyphae_peer_info_list_reuse (infos, &HYPHAE_CLIENT (source)->parsed);
  /* GDBus hands the reply over as a tree of a GVariant per value (about a
   * million for 10,000 peers, ~90 MB): free it here too, not between two
   * frames on the main loop. */
  g_clear_pointer (&peers, g_variant_unref);
  g_variant_unref (reply);
  g_task_return_pointer (task, infos, (GDestroyNotify) g_ptr_array_unref);
}

static void
on_peers_parsed (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  HyphaeClient *self = HYPHAE_CLIENT (source);
  g_autoptr(GPtrArray) infos = g_task_propagate_pointer (G_TASK (result), NULL);

  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  self->peers_in_flight = FALSE;
  /* An answer older than a vanish is stale. */
  if (infos != NULL && self->daemon_state == HYPHAE_DAEMON_STATE_RUNNING)
    merge_peers (self, infos);
  if (self->peers_again)
    request_peers (self);
}

static void
on_get_peers (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  HyphaeClient *self = user_data;
  g_autoptr(GTask) task = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      g_debug ("GetPeers: %s", error->message);
      self->peers_in_flight = FALSE;
      if (self->peers_again)
        request_peers (self);
      return;
    }
  /* Thousands of dictionaries: read them off the main loop (only the merge,
   * which emits signals, runs on it). */
  task = g_task_new (self, self->cancellable, on_peers_parsed, NULL);
  /* No destroy notify: the thread (which always runs) frees the reply. */
  g_task_set_task_data (task, g_steal_pointer (&reply), NULL);
  g_task_run_in_thread (task, parse_peers_thread);
}

static void
request_peers (HyphaeClient *self)
{
  if (self->peers_in_flight)
    {
      self->peers_again = TRUE;
      return;
    }
  self->peers_again = FALSE;
  self->peers_in_flight = TRUE;
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), "GetPeers", NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                     self->cancellable, on_get_peers, self);
}

/* --------------------------------------------------------- the daemon */

static void
on_owner_changed (HyphaeClient *self)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->proxy));

  sync_properties (self);
  if (owner == NULL)
    {
      g_autoptr(GPtrArray) none = g_ptr_array_new ();

      merge_peers (self, none);
      if (self->daemon_state == HYPHAE_DAEMON_STATE_RUNNING)
        check_daemon (self); /* it went away: start it again, or say why not */
      return;
    }
  set_daemon_state (self, HYPHAE_DAEMON_STATE_RUNNING, "");
  request_peers (self);
  if (self->had_owner)
    g_signal_emit (self, signals[SIGNAL_DAEMON_RESTARTED], 0);
  self->had_owner = TRUE;
}

static void
on_started (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  HyphaeClient *self = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply != NULL || self->daemon_state == HYPHAE_DAEMON_STATE_RUNNING)
    return; /* its name appears (or has appeared) */
  g_dbus_error_strip_remote_error (error);
  set_daemon_state (self, HYPHAE_DAEMON_STATE_FAILED, error->message);
}

static void
on_activatable_names (GObject *source,
                      GAsyncResult *result,
                      gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  HyphaeClient *self = user_data;
  g_autofree const char **names = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (self->daemon_state == HYPHAE_DAEMON_STATE_RUNNING)
    return; /* someone else started it meanwhile */
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      set_daemon_state (self, HYPHAE_DAEMON_STATE_FAILED, error->message);
      return;
    }
  g_variant_get (reply, "(^a&s)", &names);
  if (!g_strv_contains (names, HYPHAE_MESH_BUS_NAME))
    {
      set_daemon_state (self, HYPHAE_DAEMON_STATE_NOT_INSTALLED, "");
      return;
    }
  set_daemon_state (self, HYPHAE_DAEMON_STATE_STARTING, "");
  g_dbus_connection_call (self->bus, DBUS_NAME, DBUS_PATH, DBUS_IFACE, "StartServiceByName",
                          g_variant_new ("(su)", HYPHAE_MESH_BUS_NAME, 0), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_started, self);
}

/* No owner: is it installed (activatable)? Then ask the bus to start it. */
static void
check_daemon (HyphaeClient *self)
{
  set_daemon_state (self, HYPHAE_DAEMON_STATE_STARTING, "");
  g_dbus_connection_call (self->bus, DBUS_NAME, DBUS_PATH, DBUS_IFACE, "ListActivatableNames", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                          on_activatable_names, self);
}

static void
on_auth_url_ready (HyphaeClient *self,
                   const char *url)
{
  g_signal_emit (self, signals[SIGNAL_AUTH_URL_READY], 0, url);
}

static void
on_keys_rotated (HyphaeClient *self,
                 GVariant *keys)
{
  const char *profile = "", *node_key = "";

  g_variant_lookup (keys, "Profile", "&s", &profile);
  if (!g_variant_lookup (keys, "NodeKey", "&s", &node_key))
    return;
  g_signal_emit (self, signals[SIGNAL_KEYS_ROTATED], 0, profile, node_key);
}

static void
on_proxy_ready (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  HyphaeMesh1 *proxy = hyphae_mesh1_proxy_new_finish (result, &error);
  HyphaeClient *self = user_data;
  g_autofree char *owner = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (proxy == NULL)
    {
      set_daemon_state (self, HYPHAE_DAEMON_STATE_FAILED, error->message);
      return;
    }
  self->proxy = proxy;
  /* GDBusProxy sets its owner only once it has loaded the new owner's
   * properties, so "owner set" means "properties there". */
  g_signal_connect_swapped (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), self);
  /* After the generated class handler: it drops the proxy's cached copies of
   * "as" properties (Health), which the getters return until then. */
  g_signal_connect_data (proxy, "g-properties-changed", G_CALLBACK (sync_properties), self, NULL,
                         G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  g_signal_connect_swapped (proxy, "peers-changed", G_CALLBACK (request_peers), self);
  g_signal_connect_swapped (proxy, "auth-url-ready", G_CALLBACK (on_auth_url_ready), self);
  g_signal_connect_swapped (proxy, "keys-rotated", G_CALLBACK (on_keys_rotated), self);
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (proxy));
  if (owner != NULL)
    on_owner_changed (self);
  else
    check_daemon (self);
}

static void
on_bus (GObject *source,
        GAsyncResult *result,
        gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_bus_get_finish (result, &error);
  HyphaeClient *self = user_data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (bus == NULL)
    {
      set_daemon_state (self, HYPHAE_DAEMON_STATE_FAILED, error->message);
      return;
    }
  self->bus = bus;
  /* The typed errors must be registered before the first call fails. */
  (void) HYPHAE_MESH_ERROR;
  hyphae_mesh1_proxy_new (bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, HYPHAE_MESH_BUS_NAME,
                          HYPHAE_MESH_OBJECT_PATH, self->cancellable, on_proxy_ready, self);
}

void
hyphae_client_retry (HyphaeClient *self)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));

  if (self->proxy != NULL && (self->daemon_state == HYPHAE_DAEMON_STATE_NOT_INSTALLED ||
                              self->daemon_state == HYPHAE_DAEMON_STATE_FAILED))
    check_daemon (self);
}

void
hyphae_client_refresh_peers (HyphaeClient *self)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));

  if (self->daemon_state == HYPHAE_DAEMON_STATE_RUNNING)
    request_peers (self);
}

/* -------------------------------------------------------------- verbs */

static void
set_busy (HyphaeClient *self,
          gboolean more)
{
  gboolean was = self->busy > 0;

  self->busy = more ? self->busy + 1 : self->busy - 1;
  if (was != (self->busy > 0))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
on_call_done (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  HyphaeClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  GVariant *reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (GPOINTER_TO_INT (g_task_get_task_data (task)))
    set_busy (self, FALSE);
  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
}

/* Calls method; params may be floating. Mutating calls let polkit ask for
 * a password and count as busy. */
static void
call (HyphaeClient *self,
      const char *method,
      GVariant *params,
      gboolean mutating,
      gpointer tag,
      GCancellable *cancellable,
      GAsyncReadyCallback callback,
      gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *owner = NULL;

  g_task_set_source_tag (task, tag);
  if (self->proxy != NULL)
    owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->proxy));
  if (owner == NULL)
    {
      if (params != NULL)
        g_variant_unref (g_variant_ref_sink (params));
      g_task_return_new_error (task, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON,
                               "hyphaed is not running");
      return;
    }
  g_task_set_task_data (task, GINT_TO_POINTER (mutating), NULL);
  if (mutating)
    set_busy (self, TRUE);
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), method, params,
                     mutating ? HYPHAE_CLIENT_MUTATE_FLAGS : G_DBUS_CALL_FLAGS_NONE,
                     mutating ? HYPHAE_CLIENT_MUTATE_TIMEOUT : -1, cancellable, on_call_done,
                     g_steal_pointer (&task));
}

static GVariant *
up_options (const HyphaeUpOptions *options)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (options != NULL && options->control_url != NULL && *options->control_url != '\0')
    g_variant_builder_add (&b, "{sv}", "ControlURL", g_variant_new_string (options->control_url));
  if (options != NULL && options->auth_key != NULL && *options->auth_key != '\0')
    g_variant_builder_add (&b, "{sv}", "AuthKey", g_variant_new_string (options->auth_key));
  if (options != NULL && options->hostname != NULL && *options->hostname != '\0')
    g_variant_builder_add (&b, "{sv}", "Hostname", g_variant_new_string (options->hostname));
  if (options != NULL && options->client_keys)
    g_variant_builder_add (&b, "{sv}", "Unattended", g_variant_new_boolean (FALSE));
  return g_variant_new ("(a{sv})", &b);
}

void
hyphae_client_up (HyphaeClient *self,
                  const HyphaeUpOptions *options,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  call (self, "Up", up_options (options), TRUE, hyphae_client_up, cancellable, callback, user_data);
}

void
hyphae_client_login (HyphaeClient *self,
                     const HyphaeUpOptions *options,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  call (self, "Login", up_options (options), TRUE, hyphae_client_login, cancellable, callback, user_data);
}

void
hyphae_client_down (HyphaeClient *self,
                    GCancellable *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  call (self, "Down", NULL, TRUE, hyphae_client_down, cancellable, callback, user_data);
}

void
hyphae_client_logout (HyphaeClient *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  call (self, "Logout", NULL, TRUE, hyphae_client_logout, cancellable, callback, user_data);
}

void
hyphae_client_set_prefs (HyphaeClient *self,
                         GVariant *changes,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  g_return_if_fail (changes != NULL && g_variant_is_of_type (changes, G_VARIANT_TYPE_VARDICT));
  call (self, "SetPrefs", g_variant_new ("(@a{sv})", changes), TRUE, hyphae_client_set_prefs, cancellable,
        callback, user_data);
}

void
hyphae_client_set_bool_pref (HyphaeClient *self,
                             const char *key,
                             gboolean value,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GVariantBuilder b;

  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  g_return_if_fail (key != NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", key, g_variant_new_boolean (value));
  call (self, "SetPrefs", g_variant_new ("(a{sv})", &b), TRUE, hyphae_client_set_prefs, cancellable, callback,
        user_data);
}

void
hyphae_client_set_corp_dns (HyphaeClient *self,
                            gboolean value,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  hyphae_client_set_bool_pref (self, "CorpDNS", value, cancellable, callback, user_data);
}

void
hyphae_client_set_route_all (HyphaeClient *self,
                             gboolean value,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  hyphae_client_set_bool_pref (self, "RouteAll", value, cancellable, callback, user_data);
}

void
hyphae_client_set_shields_up (HyphaeClient *self,
                              gboolean value,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  hyphae_client_set_bool_pref (self, "ShieldsUp", value, cancellable, callback, user_data);
}

void
hyphae_client_set_exit_node_allow_lan_access (HyphaeClient *self,
                                              gboolean value,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data)
{
  hyphae_client_set_bool_pref (self, "ExitNodeAllowLANAccess", value, cancellable, callback, user_data);
}

void
hyphae_client_set_advertise_exit_node (HyphaeClient *self,
                                       gboolean value,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  GVariantBuilder routes;
  GVariantBuilder b;

  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  /* The other advertised routes (subnets) stay, as with `tailscale set
   * --advertise-exit-node` (cmd/tailscale/cli/set.go). */
  g_variant_builder_init (&routes, G_VARIANT_TYPE_STRING_ARRAY);
  for (char **r = self->advertise_routes; *r != NULL; r++)
    if (!is_exit_route (*r))
      g_variant_builder_add (&routes, "s", *r);
  if (value)
    {
      g_variant_builder_add (&routes, "s", "0.0.0.0/0");
      g_variant_builder_add (&routes, "s", "::/0");
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "AdvertiseRoutes", g_variant_builder_end (&routes));
  call (self, "SetPrefs", g_variant_new ("(a{sv})", &b), TRUE, hyphae_client_set_prefs, cancellable, callback,
        user_data);
}

void
hyphae_client_set_exit_node (HyphaeClient *self,
                             const char *stable_id,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  g_return_if_fail (stable_id != NULL);
  call (self, "SetExitNode", g_variant_new ("(s)", stable_id), TRUE, hyphae_client_set_exit_node, cancellable,
        callback, user_data);
}

void
hyphae_client_set_keys (HyphaeClient *self,
                        const char *profile,
                        const char *machine_key,
                        const char *node_key,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  GVariantBuilder b;

  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  g_return_if_fail (machine_key != NULL && node_key != NULL);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "MachineKey", g_variant_new_string (machine_key));
  g_variant_builder_add (&b, "{sv}", "NodeKey", g_variant_new_string (node_key));
  if (profile != NULL)
    g_variant_builder_add (&b, "{sv}", "Profile", g_variant_new_string (profile));
  call (self, "SetKeys", g_variant_new ("(a{sv})", &b), TRUE, hyphae_client_set_keys, cancellable, callback,
        user_data);
}

gboolean
hyphae_client_call_finish (HyphaeClient *self,
                           GAsyncResult *result,
                           GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  reply = g_task_propagate_pointer (G_TASK (result), error);
  return reply != NULL;
}

void
hyphae_client_get_auth_url (HyphaeClient *self,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (HYPHAE_IS_CLIENT (self));
  call (self, "GetAuthURL", NULL, FALSE, hyphae_client_get_auth_url, cancellable, callback, user_data);
}

char *
hyphae_client_get_auth_url_finish (HyphaeClient *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  char *url = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_client_get_auth_url, NULL);
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply != NULL)
    g_variant_get (reply, "(s)", &url);
  return url;
}

/* ------------------------------------------------------------ getters */

HyphaeDaemonState
hyphae_client_get_daemon_state (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), HYPHAE_DAEMON_STATE_UNKNOWN);
  return self->daemon_state;
}

const char *
hyphae_client_get_daemon_error (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), NULL);
  return self->daemon_error;
}

HyphaeState
hyphae_client_get_state (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), HYPHAE_STATE_NO_STATE);
  return self->state;
}

HyphaePeer *
hyphae_client_get_self (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), NULL);
  return self->self_peer;
}

HyphaePeerList *
hyphae_client_get_peers (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), NULL);
  return self->peers;
}

HyphaePeer *
hyphae_client_get_exit_node (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), NULL);
  return self->exit_node;
}

HyphaeKeysOwner
hyphae_client_get_keys_owner (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), HYPHAE_KEYS_OWNER_UNKNOWN);
  return self->keys_owner;
}

gboolean
hyphae_client_get_busy (HyphaeClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CLIENT (self), FALSE);
  return self->busy > 0;
}

/* ------------------------------------------------------------ GObject */

HyphaeClient *
hyphae_client_new (GBusType bus_type)
{
  HyphaeClient *self = g_object_new (HYPHAE_TYPE_CLIENT, NULL);

  self->bus_type = bus_type;
  g_bus_get (bus_type, self->cancellable, on_bus, self);
  return self;
}

static void
hyphae_client_dispose (GObject *object)
{
  HyphaeClient *self = HYPHAE_CLIENT (object);

  g_cancellable_cancel (self->cancellable);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_clear_object (&self->proxy);
  g_clear_object (&self->bus);
  g_clear_object (&self->self_peer);
  g_clear_object (&self->exit_node);
  G_OBJECT_CLASS (hyphae_client_parent_class)->dispose (object);
}

static void
hyphae_client_finalize (GObject *object)
{
  HyphaeClient *self = HYPHAE_CLIENT (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->peers);
  g_clear_pointer (&self->parsed, g_hash_table_unref);
  g_free (self->daemon_error);
  g_free (self->control_url);
  g_free (self->hostname);
  g_free (self->exit_node_id);
  g_strfreev (self->health);
  g_strfreev (self->advertise_routes);
  g_strfreev (self->dns_nameservers);
  g_strfreev (self->dns_search_domains);
  g_free (self->dns_mode);
  g_free (self->dns_error);
  g_free (self->profile);
  g_free (self->tailnet_name);
  g_free (self->magic_dns_suffix);
  g_free (self->daemon_version);
  G_OBJECT_CLASS (hyphae_client_parent_class)->finalize (object);
}

static void
hyphae_client_get_property (GObject *object,
                            guint prop_id,
                            GValue *value,
                            GParamSpec *pspec)
{
  HyphaeClient *self = HYPHAE_CLIENT (object);

  switch (prop_id)
    {
    case PROP_DAEMON_STATE: g_value_set_enum (value, self->daemon_state); break;
    case PROP_DAEMON_ERROR: g_value_set_string (value, self->daemon_error); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_SELF: g_value_set_object (value, self->self_peer); break;
    case PROP_PEERS: g_value_set_object (value, self->peers); break;
    case PROP_WANT_RUNNING: g_value_set_boolean (value, self->want_running); break;
    case PROP_CONTROL_URL: g_value_set_string (value, self->control_url); break;
    case PROP_HOSTNAME: g_value_set_string (value, self->hostname); break;
    case PROP_EXIT_NODE_ID: g_value_set_string (value, self->exit_node_id); break;
    case PROP_EXIT_NODE_ALLOW_LAN_ACCESS: g_value_set_boolean (value, self->exit_node_allow_lan_access); break;
    case PROP_CORP_DNS: g_value_set_boolean (value, self->corp_dns); break;
    case PROP_ROUTE_ALL: g_value_set_boolean (value, self->route_all); break;
    case PROP_SHIELDS_UP: g_value_set_boolean (value, self->shields_up); break;
    case PROP_EXIT_NODE_KILL_SWITCH: g_value_set_boolean (value, self->exit_node_kill_switch); break;
    case PROP_ADVERTISE_ROUTES: g_value_set_boxed (value, self->advertise_routes); break;
    case PROP_ADVERTISE_EXIT_NODE: g_value_set_boolean (value, self->advertise_exit_node); break;
    case PROP_DNS_MODE: g_value_set_string (value, self->dns_mode); break;
    case PROP_DNS_NAMESERVERS: g_value_set_boxed (value, self->dns_nameservers); break;
    case PROP_DNS_SEARCH_DOMAINS: g_value_set_boxed (value, self->dns_search_domains); break;
    case PROP_DNS_ERROR: g_value_set_string (value, self->dns_error); break;
    case PROP_EXIT_NODE: g_value_set_object (value, self->exit_node); break;
    case PROP_HEALTH: g_value_set_boxed (value, self->health); break;
    case PROP_PROFILE: g_value_set_string (value, self->profile); break;
    case PROP_TAILNET_NAME: g_value_set_string (value, self->tailnet_name); break;
    case PROP_MAGIC_DNS_SUFFIX: g_value_set_string (value, self->magic_dns_suffix); break;
    case PROP_MAGIC_DNS_ENABLED: g_value_set_boolean (value, self->magic_dns_enabled); break;
    case PROP_DAEMON_VERSION: g_value_set_string (value, self->daemon_version); break;
    case PROP_KEYS_OWNER: g_value_set_enum (value, self->keys_owner); break;
    case PROP_BUSY: g_value_set_boolean (value, self->busy > 0); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define RO (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static GParamSpec *
str_prop (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, "", RO);
}

static GParamSpec *
bool_prop (const char *name)
{
  return g_param_spec_boolean (name, NULL, NULL, FALSE, RO);
}

static void
hyphae_client_class_init (HyphaeClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_client_dispose;
  object_class->finalize = hyphae_client_finalize;
  object_class->get_property = hyphae_client_get_property;

  properties[PROP_DAEMON_STATE] = g_param_spec_enum ("daemon-state", NULL, NULL, HYPHAE_TYPE_DAEMON_STATE,
                                                     HYPHAE_DAEMON_STATE_UNKNOWN, RO);
  properties[PROP_DAEMON_ERROR] = str_prop ("daemon-error");
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, HYPHAE_TYPE_STATE, HYPHAE_STATE_NO_STATE, RO);
  properties[PROP_SELF] = g_param_spec_object ("self", NULL, NULL, HYPHAE_TYPE_PEER, RO);
  properties[PROP_PEERS] = g_param_spec_object ("peers", NULL, NULL, HYPHAE_TYPE_PEER_LIST, RO);
  properties[PROP_WANT_RUNNING] = bool_prop ("want-running");
  properties[PROP_CONTROL_URL] = str_prop ("control-url");
  properties[PROP_HOSTNAME] = str_prop ("hostname");
  properties[PROP_EXIT_NODE_ID] = str_prop ("exit-node-id");
  properties[PROP_EXIT_NODE_ALLOW_LAN_ACCESS] = bool_prop ("exit-node-allow-lan-access");
  properties[PROP_CORP_DNS] = bool_prop ("corp-dns");
  properties[PROP_ROUTE_ALL] = bool_prop ("route-all");
  properties[PROP_SHIELDS_UP] = bool_prop ("shields-up");
  properties[PROP_EXIT_NODE_KILL_SWITCH] = bool_prop ("exit-node-kill-switch");
  properties[PROP_ADVERTISE_ROUTES] = g_param_spec_boxed ("advertise-routes", NULL, NULL, G_TYPE_STRV, RO);
  properties[PROP_ADVERTISE_EXIT_NODE] = bool_prop ("advertise-exit-node");
  properties[PROP_DNS_MODE] = str_prop ("dns-mode");
  properties[PROP_DNS_NAMESERVERS] = g_param_spec_boxed ("dns-nameservers", NULL, NULL, G_TYPE_STRV, RO);
  properties[PROP_DNS_SEARCH_DOMAINS] = g_param_spec_boxed ("dns-search-domains", NULL, NULL, G_TYPE_STRV, RO);
  properties[PROP_DNS_ERROR] = str_prop ("dns-error");
  properties[PROP_EXIT_NODE] = g_param_spec_object ("exit-node", NULL, NULL, HYPHAE_TYPE_PEER, RO);
  properties[PROP_HEALTH] = g_param_spec_boxed ("health", NULL, NULL, G_TYPE_STRV, RO);
  properties[PROP_PROFILE] = str_prop ("profile");
  properties[PROP_TAILNET_NAME] = str_prop ("tailnet-name");
  properties[PROP_MAGIC_DNS_SUFFIX] = str_prop ("magic-dns-suffix");
  properties[PROP_MAGIC_DNS_ENABLED] = bool_prop ("magic-dns-enabled");
  properties[PROP_DAEMON_VERSION] = str_prop ("daemon-version");
  properties[PROP_KEYS_OWNER] = g_param_spec_enum ("keys-owner", NULL, NULL, HYPHAE_TYPE_KEYS_OWNER,
                                                   HYPHAE_KEYS_OWNER_UNKNOWN, RO);
  properties[PROP_BUSY] = bool_prop ("busy");
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_AUTH_URL_READY] = g_signal_new ("auth-url-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_KEYS_ROTATED] = g_signal_new ("keys-rotated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                               NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_DAEMON_RESTARTED] = g_signal_new ("daemon-restarted", G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
hyphae_client_init (HyphaeClient *self)
{
  self->cancellable = g_cancellable_new ();
  self->peers = hyphae_peer_list_new ();
  self->daemon_error = g_strdup ("");
  self->control_url = g_strdup ("");
  self->hostname = g_strdup ("");
  self->exit_node_id = g_strdup ("");
  self->health = g_new0 (char *, 1);
  self->advertise_routes = g_new0 (char *, 1);
  self->dns_nameservers = g_new0 (char *, 1);
  self->dns_search_domains = g_new0 (char *, 1);
  self->dns_mode = g_strdup ("");
  self->dns_error = g_strdup ("");
  self->profile = g_strdup ("");
  self->tailnet_name = g_strdup ("");
  self->magic_dns_suffix = g_strdup ("");
  self->daemon_version = g_strdup ("");
}
