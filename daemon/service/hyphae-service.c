/* SPDX-License-Identifier: MIT */
#include "hyphae-service.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "hyphae-log.h"
#include "hyphae-mesh-error.h"
#include "hyphae-mesh1-generated.h"
#include "hyphae-polkit.h"
#include "hyphae-secret.h"

struct _HyphaeService {
  GObject parent_instance;

  HyphaeIpn *ipn;
  HyphaeMesh1 *skeleton;
  GDBusConnection *connection;
  GCancellable *cancellable; /* pending polkit checks and ipn calls */
  char *keys_owner;          /* unique name of the last SetKeys caller */
  GPtrArray *login_callers;  /* unique names of authorized Up/Login callers
                              * since the last time no login URL was pending */
  char *exit_node_id;        /* last seen ExitNodeID, to spot changes */
};

G_DEFINE_FINAL_TYPE (HyphaeService, hyphae_service, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ errors */

/* HYPHAE_IPN_ERROR → the D-Bus error names (io.github.hyphae.Mesh1.Error.*). */
static GError *
to_mesh_error (const GError *error)
{
  HyphaeMeshError code = HYPHAE_MESH_ERROR_FAILED;

  if (error->domain == HYPHAE_MESH_ERROR)
    return g_error_copy (error);
  if (error->domain == HYPHAE_IPN_ERROR)
    {
      switch ((HyphaeIpnError) error->code)
        {
        /* clang-format off */
        case HYPHAE_IPN_ERROR_NEEDS_LOGIN:      code = HYPHAE_MESH_ERROR_NEEDS_LOGIN; break;
        case HYPHAE_IPN_ERROR_UNREACHABLE:      code = HYPHAE_MESH_ERROR_UNREACHABLE; break;
        case HYPHAE_IPN_ERROR_BAD_AUTH_KEY:     code = HYPHAE_MESH_ERROR_BAD_AUTH_KEY; break;
        case HYPHAE_IPN_ERROR_INVALID_ARGUMENT: code = HYPHAE_MESH_ERROR_INVALID_ARGUMENT; break;
        case HYPHAE_IPN_ERROR_FAILED:           code = HYPHAE_MESH_ERROR_FAILED; break;
        case HYPHAE_IPN_ERROR_ENGINE:           code = HYPHAE_MESH_ERROR_ENGINE_FAILED; break;
        case HYPHAE_IPN_ERROR_NOT_FOUND:        code = HYPHAE_MESH_ERROR_NOT_FOUND; break;
        case HYPHAE_IPN_ERROR_TIMED_OUT:        code = HYPHAE_MESH_ERROR_TIMED_OUT; break;
        case HYPHAE_IPN_ERROR_BUSY:             code = HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS; break;
        default:                                code = HYPHAE_MESH_ERROR_FAILED; break;
        }
      /* clang-format on */
    }
  return g_error_new_literal (HYPHAE_MESH_ERROR, code, error->message);
}

static void
return_error (GDBusMethodInvocation *invocation,
              const GError *error)
{
  g_autoptr(GError) mesh_error = to_mesh_error (error);

  g_dbus_method_invocation_return_gerror (invocation, mesh_error);
}

/* Sends pending PropertiesChanged before the reply, so a client sees the
 * state a method produced as soon as the method returns. */
static void
call_return (HyphaeMesh1 *skeleton,
             GCancellable *shutdown,
             GDBusMethodInvocation *invocation,
             const GError *error)
{
  if (skeleton != NULL) /* NULL once disposed (shutdown) */
    g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (skeleton));
  /* Our cancellable is cancelled only when hyphaed stops. */
  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      g_cancellable_is_cancelled (shutdown))
    g_dbus_method_invocation_return_error_literal (invocation, HYPHAE_MESH_ERROR,
                                                   HYPHAE_MESH_ERROR_FAILED, "hyphaed is shutting down");
  else if (error != NULL)
    return_error (invocation, error);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

/* ------------------------------------------------------- a{sv} validation */

typedef struct {
  const char *key;
  const char *type; /* GVariant type string */
} DictKey;

/* Every key must be known and carry exactly its type. */
static gboolean
validate_dict (GVariant *dict,
               const DictKey *keys,
               gsize n_keys,
               GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      gsize i;

      for (i = 0; i < n_keys; i++)
        if (strcmp (keys[i].key, key) == 0)
          break;
      if (i == n_keys)
        {
          g_set_error (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                       "Unknown option “%s”", key);
          g_variant_unref (value);
          return FALSE;
        }
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE (keys[i].type)))
        {
          g_set_error (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                       "Option “%s” must be of type “%s”, not “%s”",
                       key, keys[i].type, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

static const DictKey up_keys[] = {
  { "ControlURL", "s" },
  { "AuthKey", "s" },
  { "Hostname", "s" },
  { "Unattended", "b" },
};

static const struct {
  const char *key;
  const char *type;
  HyphaeIpnPrefMask mask;
} pref_keys[] = {
  { "WantRunning", "b", HYPHAE_IPN_PREF_WANT_RUNNING },
  { "ControlURL", "s", HYPHAE_IPN_PREF_CONTROL_URL },
  { "Hostname", "s", HYPHAE_IPN_PREF_HOSTNAME },
  { "ExitNodeID", "s", HYPHAE_IPN_PREF_EXIT_NODE_ID },
  { "ExitNodeAllowLANAccess", "b", HYPHAE_IPN_PREF_EXIT_NODE_ALLOW_LAN_ACCESS },
  { "ExitNodeKillSwitch", "b", HYPHAE_IPN_PREF_EXIT_NODE_KILL_SWITCH },
  { "CorpDNS", "b", HYPHAE_IPN_PREF_CORP_DNS },
  { "RouteAll", "b", HYPHAE_IPN_PREF_ROUTE_ALL },
  { "ShieldsUp", "b", HYPHAE_IPN_PREF_SHIELDS_UP },
  { "AdvertiseRoutes", "as", HYPHAE_IPN_PREF_ADVERTISE_ROUTES }, /* serve */
};

static const DictKey key_keys[] = {
  { "MachineKey", "s" },
  { "NodeKey", "s" },
  { "Profile", "s" },
};

/* A profile name is shown (Profile) and never used as a path: 1–64 bytes,
 * no control characters. */
#define MAX_PROFILE_LEN 64

static gboolean
profile_name_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > MAX_PROFILE_LEN)
    return FALSE;
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
validate_prefs (GVariant *dict,
                GError **error)
{
  DictKey keys[G_N_ELEMENTS (pref_keys)];

  for (gsize i = 0; i < G_N_ELEMENTS (pref_keys); i++)
    keys[i] = (DictKey) { pref_keys[i].key, pref_keys[i].type };
  return validate_dict (dict, keys, G_N_ELEMENTS (keys), error);
}

/* ---------------------------------------------------------- node → a{sv} */

/* D-Bus strings must be UTF-8; text that came from a server is made valid
 * rather than trusted (GVariant would refuse it). NULL becomes "". */
static GVariant *
str_variant (const char *s)
{
  g_autofree char *fixed = NULL;

  if (s == NULL)
    return g_variant_new_string ("");
  if (g_utf8_validate (s, -1, NULL))
    return g_variant_new_string (s);
  fixed = g_utf8_make_valid (s, -1);
  return g_variant_new_string (fixed);
}

static GVariant *
strv_variant (char * const *strv)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    g_variant_builder_add_value (&b, str_variant (strv[i]));
  return g_variant_builder_end (&b);
}

/* "100.64.0.1/32" → "100.64.0.1". */
static GVariant *
addresses_variant (char * const *prefixes)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (gsize i = 0; prefixes != NULL && prefixes[i] != NULL; i++)
    {
      const char *slash = strchr (prefixes[i], '/');
      g_autofree char *ip = slash ? g_strndup (prefixes[i], slash - prefixes[i])
                                  : g_strdup (prefixes[i]);

      g_variant_builder_add_value (&b, str_variant (ip));
    }
  return g_variant_builder_end (&b);
}

GVariant *
hyphae_service_node_to_variant (HyphaeNetmap *netmap,
                                const HyphaeNode *node,
                                const HyphaeIpnPeerStats *stats,
                                const char *home_derp_code,
                                gboolean is_self,
                                gboolean online,
                                gboolean is_exit_node)
{
  GVariantBuilder b;
  char public_key[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  const char *login = netmap ? hyphae_netmap_get_user_login (netmap, node->user_id) : NULL;

  key_to_text (public_key, sizeof public_key, KEY_PREFIX_NODE, node->key);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "ID", str_variant (node->stable_id));
  g_variant_builder_add (&b, "{sv}", "NodeID", g_variant_new_int64 (node->id));
  g_variant_builder_add (&b, "{sv}", "PublicKey", g_variant_new_string (public_key));
  g_variant_builder_add (&b, "{sv}", "HostName", str_variant (node->hostname));
  g_variant_builder_add (&b, "{sv}", "DNSName", str_variant (node->name));
  g_variant_builder_add (&b, "{sv}", "OS", str_variant (node->os));
  g_variant_builder_add (&b, "{sv}", "UserID", g_variant_new_int64 (node->user_id));
  g_variant_builder_add (&b, "{sv}", "UserLoginName", str_variant (login));
  g_variant_builder_add (&b, "{sv}", "TailscaleIPs", addresses_variant (node->addresses));
  g_variant_builder_add (&b, "{sv}", "Online", g_variant_new_boolean (online));
  g_variant_builder_add (&b, "{sv}", "LastSeen", g_variant_new_int64 (node->last_seen_unix));
  g_variant_builder_add (&b, "{sv}", "KeyExpiry", g_variant_new_int64 (node->key_expiry_unix));
  g_variant_builder_add (&b, "{sv}", "Expired", g_variant_new_boolean (node->expired));
  g_variant_builder_add (&b, "{sv}", "ExitNodeOption", g_variant_new_boolean (node->exit_node_option));
  if (!is_self)
    {
      gboolean handshaken = stats && stats->last_handshake_unix != 0;
      gboolean derp = stats && stats->derp_region > 0;
      const char *path = !stats || !stats->has_path ? "" : derp ? "derp"
                                                                : "direct";

      g_variant_builder_add (&b, "{sv}", "ExitNode", g_variant_new_boolean (is_exit_node));
      /* A direct path counts once WireGuard has completed a handshake over it. */
      g_variant_builder_add (&b, "{sv}", "CurAddr",
                             g_variant_new_string (handshaken && !derp ? stats->endpoint : ""));
      /* ipnstate.PeerStatus.Relay: the region relaying, else the peer's home. */
      g_variant_builder_add (&b, "{sv}", "Relay",
                             str_variant (derp ? stats->derp_code : home_derp_code));
      g_variant_builder_add (&b, "{sv}", "DERPRegion", g_variant_new_int32 (derp ? stats->derp_region : 0));
      g_variant_builder_add (&b, "{sv}", "Path", g_variant_new_string (path));
      g_variant_builder_add (&b, "{sv}", "Addrs", strv_variant (node->endpoints));
      g_variant_builder_add (&b, "{sv}", "RxBytes", g_variant_new_uint64 (stats ? stats->rx_bytes : 0));
      g_variant_builder_add (&b, "{sv}", "TxBytes", g_variant_new_uint64 (stats ? stats->tx_bytes : 0));
      g_variant_builder_add (&b, "{sv}", "LastHandshake",
                             g_variant_new_int64 (stats ? stats->last_handshake_unix : 0));
    }
  return g_variant_builder_end (&b);
}

/* ------------------------------------------------------------- properties */

static GVariant *
prefs_variant (const HyphaeIpnPrefs *p)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "WantRunning", g_variant_new_boolean (p->want_running));
  g_variant_builder_add (&b, "{sv}", "ControlURL", str_variant (p->control_url));
  g_variant_builder_add (&b, "{sv}", "Hostname", str_variant (p->hostname));
  g_variant_builder_add (&b, "{sv}", "ExitNodeID", str_variant (p->exit_node_id));
  g_variant_builder_add (&b, "{sv}", "ExitNodeAllowLANAccess", g_variant_new_boolean (p->exit_node_allow_lan_access));
  g_variant_builder_add (&b, "{sv}", "ExitNodeKillSwitch", g_variant_new_boolean (p->exit_node_kill_switch));
  g_variant_builder_add (&b, "{sv}", "CorpDNS", g_variant_new_boolean (p->corp_dns));
  g_variant_builder_add (&b, "{sv}", "RouteAll", g_variant_new_boolean (p->route_all));
  g_variant_builder_add (&b, "{sv}", "ShieldsUp", g_variant_new_boolean (p->shields_up));
  g_variant_builder_add (&b, "{sv}", "AdvertiseRoutes", /* serve: NULL = none */
                         g_variant_new_strv ((const char * const *) p->advertise_routes,
                                             p->advertise_routes != NULL ? -1 : 0));
  return g_variant_builder_end (&b);
}

/* DNSConfig.Proxied is MagicDNS (tailcfg.DNSConfig). */
static gboolean
magicdns_enabled (HyphaeNetmap *nm)
{
  const char *json = hyphae_netmap_get_dns_config_json (nm);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;

  if (json == NULL)
    return FALSE;
  root = json_from_string (json, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  obj = json_node_get_object (root);
  return json_object_has_member (obj, "Proxied") &&
         JSON_NODE_HOLDS_VALUE (json_object_get_member (obj, "Proxied")) &&
         json_object_get_boolean_member (obj, "Proxied");
}

static void
update_self (HyphaeService *self)
{
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (self->ipn);
  const HyphaeNode *node = nm ? hyphae_netmap_get_self (nm) : NULL;
  GVariantBuilder tailnet;

  g_variant_builder_init (&tailnet, G_VARIANT_TYPE_VARDICT);
  if (node == NULL)
    {
      hyphae_mesh1_set_self (self->skeleton, g_variant_new ("a{sv}", NULL));
      hyphae_mesh1_set_tailnet (self->skeleton, g_variant_builder_end (&tailnet));
      return;
    }
  hyphae_mesh1_set_self (self->skeleton,
                         hyphae_service_node_to_variant (nm, node, NULL, NULL, TRUE,
                                                         hyphae_ipn_get_state (self->ipn) == HYPHAE_IPN_STATE_RUNNING,
                                                         FALSE));
  g_variant_builder_add (&tailnet, "{sv}", "Name", str_variant (hyphae_netmap_get_domain (nm)));
  g_variant_builder_add (&tailnet, "{sv}", "MagicDNSSuffix",
                         str_variant (hyphae_netmap_get_magicdns_suffix (nm)));
  g_variant_builder_add (&tailnet, "{sv}", "MagicDNSEnabled", g_variant_new_boolean (magicdns_enabled (nm)));
  hyphae_mesh1_set_tailnet (self->skeleton, g_variant_builder_end (&tailnet));
}

/* osdns: the OS resolver's side. */
static void
on_dns_changed (HyphaeService *self)
{
  hyphae_mesh1_set_dns (self->skeleton, hyphae_ipn_get_dns_status (self->ipn));
}

static void
on_state (HyphaeService *self)
{
  hyphae_mesh1_set_state (self->skeleton, hyphae_ipn_state_to_string (hyphae_ipn_get_state (self->ipn)));
  /* Self's Online follows the state. */
  update_self (self);
}

/* The login URL is a bearer secret: whoever opens it first logs this machine
 * into their account. So it is no property (every bus user could read it) but
 * a unicast AuthURLReady to the callers of Up/Login, and GetAuthURL for
 * callers polkit lets administer the daemon. */
#define MAX_LOGIN_CALLERS 16

static char *
auth_url_text (HyphaeService *self)
{
  const char *url = hyphae_ipn_get_auth_url (self->ipn);

  return url ? g_utf8_make_valid (url, -1) : g_strdup ("");
}

static void
send_auth_url (HyphaeService *self,
               const char *destination)
{
  g_autofree char *url = auth_url_text (self);
  g_autoptr(GError) error = NULL;

  if (self->connection == NULL || *url == '\0')
    return;
  if (!g_dbus_connection_emit_signal (self->connection, destination,
                                      HYPHAE_MESH_OBJECT_PATH, "io.github.hyphae.Mesh1",
                                      "AuthURLReady", g_variant_new ("(s)", url), &error))
    g_message ("AuthURLReady to %s: %s", destination, error->message);
}

static gboolean
is_login_caller (HyphaeService *self,
                 const char *sender)
{
  for (guint i = 0; sender != NULL && i < self->login_callers->len; i++)
    if (g_strcmp0 (self->login_callers->pdata[i], sender) == 0)
      return TRUE;
  return FALSE;
}

static void
add_login_caller (HyphaeService *self,
                  const char *sender)
{
  if (sender == NULL || is_login_caller (self, sender))
    return;
  /* Bounded: the oldest caller loses its claim first. */
  if (self->login_callers->len >= MAX_LOGIN_CALLERS)
    g_ptr_array_remove_index (self->login_callers, 0);
  g_ptr_array_add (self->login_callers, g_strdup (sender));
}

static void
on_auth_url (HyphaeService *self)
{
  const char *url = hyphae_ipn_get_auth_url (self->ipn);

  /* Logged in (or gone back to no login): the callers' claim ends with it. */
  if (url == NULL || *url == '\0')
    {
      g_ptr_array_set_size (self->login_callers, 0);
      return;
    }
  for (guint i = 0; i < self->login_callers->len; i++)
    send_auth_url (self, self->login_callers->pdata[i]);
}

/* Health messages may quote what a server said: made valid UTF-8. */
static void
on_health (HyphaeService *self)
{
  const char * const *health = hyphae_ipn_get_health (self->ipn);
  g_autoptr(GPtrArray) fixed = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; health != NULL && health[i] != NULL; i++)
    g_ptr_array_add (fixed, g_utf8_make_valid (health[i], -1));
  g_ptr_array_add (fixed, NULL);
  hyphae_mesh1_set_health (self->skeleton, (const char * const *) fixed->pdata);
}

static void
on_profile (HyphaeService *self)
{
  const char *profile = hyphae_ipn_get_profile (self->ipn);

  hyphae_mesh1_set_profile (self->skeleton, profile ? profile : "");
}

static void
on_keys_owner (HyphaeService *self)
{
  static const char * const names[] = {
    [HYPHAE_IPN_KEYS_OWNER_NONE] = "",
    [HYPHAE_IPN_KEYS_OWNER_DAEMON] = "daemon",
    [HYPHAE_IPN_KEYS_OWNER_CLIENT] = "client",
  };
  HyphaeIpnKeysOwner owner = hyphae_ipn_get_keys_owner (self->ipn);

  hyphae_mesh1_set_keys_owner (self->skeleton, owner < G_N_ELEMENTS (names) ? names[owner] : "");
}

static void
on_prefs_changed (HyphaeService *self)
{
  const HyphaeIpnPrefs *prefs = hyphae_ipn_get_prefs (self->ipn);
  const char *exit_node = prefs->exit_node_id ? prefs->exit_node_id : "";

  hyphae_mesh1_set_prefs (self->skeleton, prefs_variant (prefs));
  /* A peer's "ExitNode" changes with the pref. */
  if (g_strcmp0 (self->exit_node_id, exit_node) != 0)
    {
      g_free (self->exit_node_id);
      self->exit_node_id = g_strdup (exit_node);
      hyphae_mesh1_emit_peers_changed (self->skeleton);
    }
}

static void
on_peers_changed (HyphaeService *self)
{
  update_self (self);
  hyphae_mesh1_emit_peers_changed (self->skeleton);
}

/* The new key goes only to the keyring owner (the last SetKeys caller), as a
 * unicast signal: a broadcast would hand a private key to every listener.
 * Should no one listen there, the ipn keeps the key for the owner's next
 * SetKeys with the old one, which sends it again (run_set_keys). */
static void
on_keys_rotated (HyphaeService *self,
                 GVariant *info)
{
  GVariantBuilder b;
  const char *node_key = NULL, *profile = NULL;
  g_autoptr(GError) error = NULL;

  if (self->connection == NULL || self->keys_owner == NULL || info == NULL ||
      hyphae_ipn_get_keys_owner (self->ipn) != HYPHAE_IPN_KEYS_OWNER_CLIENT)
    return;
  g_variant_lookup (info, "node-key", "&s", &node_key);
  g_variant_lookup (info, "profile", "&s", &profile);
  if (node_key == NULL)
    return;
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "Profile", str_variant (profile));
  g_variant_builder_add (&b, "{sv}", "NodeKey", hyphae_secret_variant_new_string (node_key));
  if (!g_dbus_connection_emit_signal (self->connection, self->keys_owner,
                                      HYPHAE_MESH_OBJECT_PATH, "io.github.hyphae.Mesh1",
                                      "KeysRotated", g_variant_new ("(@a{sv})", g_variant_builder_end (&b)),
                                      &error))
    g_warning ("KeysRotated to %s: %s", self->keys_owner, error->message);
}

static void
update_debug_categories (HyphaeService *self)
{
  g_auto(GStrv) names = hyphae_log_get_debug ();

  hyphae_mesh1_set_debug_categories (self->skeleton, (const char * const *) names);
}

/* ------------------------------------------------------ mutating methods */

typedef enum {
  OP_UP,
  OP_DOWN,
  OP_LOGIN,
  OP_LOGOUT,
  OP_SET_PREFS,
  OP_SET_EXIT_NODE,
  OP_SET_KEYS,
  OP_GET_AUTH_URL,
  OP_SET_DEBUG,
} Op;

static const char * const op_actions[] = {
  [OP_UP] = "io.github.hyphae.Mesh1.up",
  [OP_DOWN] = "io.github.hyphae.Mesh1.down",
  [OP_LOGIN] = "io.github.hyphae.Mesh1.login",
  [OP_LOGOUT] = "io.github.hyphae.Mesh1.logout",
  [OP_SET_PREFS] = "io.github.hyphae.Mesh1.set-prefs",
  [OP_SET_EXIT_NODE] = "io.github.hyphae.Mesh1.set-exit-node",
  [OP_SET_KEYS] = "io.github.hyphae.Mesh1.set-keys",
  [OP_GET_AUTH_URL] = "io.github.hyphae.Mesh1.get-auth-url",
  [OP_SET_DEBUG] = "io.github.hyphae.Mesh1.set-debug",
};

typedef struct {
  HyphaeService *self;
  GDBusMethodInvocation *invocation;
  Op op;
  GVariant *arg; /* the method's argument, or NULL */
} Call;

static void
call_free (Call *call)
{
  g_clear_object (&call->self);
  g_clear_object (&call->invocation);
  g_clear_pointer (&call->arg, g_variant_unref);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
on_up_done (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;

  /* The URL goes out before the reply: the caller has it when Up returns. */
  if (hyphae_ipn_up_finish (HYPHAE_IPN (source), result, &error))
    send_auth_url (call->self, g_dbus_method_invocation_get_sender (call->invocation));
  call_return (call->self->skeleton, call->self->cancellable, call->invocation, error);
}

static void
on_logout_done (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(GError) error = NULL;

  /* The app's keys are forgotten: so is their owner. */
  if (hyphae_ipn_logout_finish (HYPHAE_IPN (source), result, &error))
    g_clear_pointer (&call->self->keys_owner, g_free);
  call_return (call->self->skeleton, call->self->cancellable, call->invocation, error);
}

static void
run_up (Call *call)
{
  /* Unattended defaults to TRUE: what hyphaectl and scripts have always had. */
  HyphaeIpnUpOptions options = { .unattended = TRUE };

  g_variant_lookup (call->arg, "ControlURL", "&s", &options.control_url);
  g_variant_lookup (call->arg, "AuthKey", "&s", &options.auth_key);
  g_variant_lookup (call->arg, "Hostname", "&s", &options.hostname);
  g_variant_lookup (call->arg, "Unattended", "b", &options.unattended);
  add_login_caller (call->self, g_dbus_method_invocation_get_sender (call->invocation));
  /* Login and Up share the ipn's registration path; Up also sets WantRunning
   * (done by the ipn), Login is Up for a node that is to stay as it is. */
  hyphae_ipn_up_async (call->self->ipn, &options, call->self->cancellable, on_up_done, call);
}

static gboolean
run_set_prefs (Call *call,
               GError **error)
{
  HyphaeIpnPrefs prefs = *hyphae_ipn_get_prefs (call->self->ipn);
  HyphaeIpnPrefMask mask = 0;
  g_autofree const char **routes = NULL; /* serve: the strings point into call->arg */

  for (gsize i = 0; i < G_N_ELEMENTS (pref_keys); i++)
    {
      g_autoptr(GVariant) v = g_variant_lookup_value (call->arg, pref_keys[i].key, NULL);

      if (v == NULL)
        continue;
      mask |= pref_keys[i].mask;
      switch (pref_keys[i].mask)
        {
        /* clang-format off */
        case HYPHAE_IPN_PREF_WANT_RUNNING:  prefs.want_running = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_CONTROL_URL:   prefs.control_url = (char *) g_variant_get_string (v, NULL); break;
        case HYPHAE_IPN_PREF_HOSTNAME:      prefs.hostname = (char *) g_variant_get_string (v, NULL); break;
        case HYPHAE_IPN_PREF_EXIT_NODE_ID:  prefs.exit_node_id = (char *) g_variant_get_string (v, NULL); break;
        case HYPHAE_IPN_PREF_EXIT_NODE_ALLOW_LAN_ACCESS:
          prefs.exit_node_allow_lan_access = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_EXIT_NODE_KILL_SWITCH:
          prefs.exit_node_kill_switch = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_CORP_DNS:      prefs.corp_dns = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_ROUTE_ALL:     prefs.route_all = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_SHIELDS_UP:    prefs.shields_up = g_variant_get_boolean (v); break;
        case HYPHAE_IPN_PREF_ADVERTISE_ROUTES:
          g_free (routes);
          routes = g_variant_get_strv (v, NULL);
          prefs.advertise_routes = (char **) routes;
          break;
        default: g_assert_not_reached ();
        }
      /* clang-format on */
    }
  /* The strings point into call->arg, alive until we return. */
  return hyphae_ipn_set_prefs (call->self->ipn, &prefs, mask, error);
}

static gboolean
run_set_keys (Call *call,
              GError **error)
{
  const char *machine = NULL, *node = NULL, *profile = NULL;
  guint8 machine_priv[KEY_LEN], node_priv[KEY_LEN];
  gboolean ok = FALSE;
  char *previous_owner;

  g_variant_lookup (call->arg, "MachineKey", "&s", &machine);
  g_variant_lookup (call->arg, "NodeKey", "&s", &node);
  g_variant_lookup (call->arg, "Profile", "&s", &profile);
  if (machine == NULL || node == NULL)
    {
      g_set_error_literal (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                           "SetKeys needs both MachineKey and NodeKey");
      return FALSE;
    }
  if (profile != NULL && !profile_name_valid (profile))
    {
      g_set_error (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                   "Profile must be 1 to %d bytes without control characters", MAX_PROFILE_LEN);
      return FALSE;
    }
  /* The caller is the owner before the ipn looks at the keys: a node key
   * from before a rotation has the current one sent to it (KeysRotated),
   * ahead of the reply. */
  previous_owner = g_steal_pointer (&call->self->keys_owner);
  call->self->keys_owner = g_strdup (g_dbus_method_invocation_get_sender (call->invocation));
  /* Never echo a key, not even a malformed one. */
  if (key_from_text (machine_priv, KEY_PREFIX_PRIVATE, machine, strlen (machine)) != 0 ||
      key_from_text (node_priv, KEY_PREFIX_PRIVATE, node, strlen (node)) != 0 ||
      key_is_zero (machine_priv) || key_is_zero (node_priv))
    g_set_error_literal (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                         "Keys must be “privkey:” followed by 64 hex digits, not all zero");
  else
    ok = hyphae_ipn_set_keys (call->self->ipn, machine_priv, node_priv, profile, NULL, error);
  sodium_memzero (machine_priv, sizeof machine_priv);
  sodium_memzero (node_priv, sizeof node_priv);
  if (ok)
    g_free (previous_owner);
  else
    {
      g_free (call->self->keys_owner);
      call->self->keys_owner = previous_owner;
    }
  return ok;
}

static void
return_auth_url (HyphaeService *self,
                 GDBusMethodInvocation *invocation)
{
  g_autofree char *url = auth_url_text (self);

  if (self->skeleton != NULL)
    hyphae_mesh1_complete_get_auth_url (self->skeleton, invocation, url);
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", url));
}

/* Runs the operation once polkit said yes; owns call. */
static void
run_call (Call *call)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = FALSE;

  switch (call->op)
    {
    case OP_UP:
    case OP_LOGIN:
      run_up (call);
      return;
    case OP_LOGOUT:
      hyphae_ipn_logout_async (call->self->ipn, call->self->cancellable, on_logout_done, call);
      return;
    case OP_DOWN:
      ok = hyphae_ipn_down (call->self->ipn, &error);
      break;
    case OP_SET_PREFS:
      ok = run_set_prefs (call, &error);
      break;
    case OP_SET_EXIT_NODE:
      ok = hyphae_ipn_set_exit_node (call->self->ipn, g_variant_get_string (call->arg, NULL), &error);
      break;
    case OP_SET_KEYS:
      ok = run_set_keys (call, &error);
      break;
    case OP_GET_AUTH_URL:
      return_auth_url (call->self, call->invocation);
      call_free (call);
      return;
    case OP_SET_DEBUG:
      hyphae_log_set_debug_mask (g_variant_get_uint32 (call->arg));
      update_debug_categories (call->self);
      ok = TRUE;
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok && error == NULL)
    g_set_error_literal (&error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_FAILED, "Failed");
  call_return (call->self->skeleton, call->self->cancellable, call->invocation, ok ? NULL : error);
  call_free (call);
}

static void
on_authorized (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  Call *call = user_data;
  g_autoptr(GError) error = NULL;

  if (!hyphae_polkit_check_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_dbus_method_invocation_return_error_literal (call->invocation, HYPHAE_MESH_ERROR,
                                                       HYPHAE_MESH_ERROR_FAILED, "hyphaed is shutting down");
      else
        return_error (call->invocation, error);
      call_free (call);
      return;
    }
  run_call (call);
}

/* Checks polkit, then runs op. Returns G_DBUS_METHOD_INVOCATION_HANDLED. */
static gboolean
authorize_and_run (HyphaeService *self,
                   GDBusMethodInvocation *invocation,
                   Op op,
                   GVariant *arg)
{
  Call *call = g_new0 (Call, 1);
  GDBusMessage *message = g_dbus_method_invocation_get_message (invocation);
  gboolean interactive =
    (g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;

  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  call->op = op;
  call->arg = arg ? g_variant_ref_sink (arg) : NULL;
  hyphae_polkit_check_async (g_dbus_method_invocation_get_connection (invocation),
                             g_dbus_method_invocation_get_sender (invocation),
                             op_actions[op], interactive, self->cancellable,
                             on_authorized, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
reject (GDBusMethodInvocation *invocation,
        GError *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
  g_error_free (error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Up, Login and SetKeys: an a{sv} of known keys, then polkit. */
static gboolean
validate_dict_and_run (HyphaeService *self,
                       GDBusMethodInvocation *invocation,
                       Op op,
                       GVariant *dict,
                       const DictKey *keys,
                       gsize n_keys)
{
  GError *error = NULL;

  if (!validate_dict (dict, keys, n_keys, &error))
    return reject (invocation, error);
  return authorize_and_run (self, invocation, op, dict);
}

static gboolean
handle_up (HyphaeMesh1 *skeleton,
           GDBusMethodInvocation *invocation,
           GVariant *options,
           HyphaeService *self)
{
  return validate_dict_and_run (self, invocation, OP_UP, options, up_keys, G_N_ELEMENTS (up_keys));
}

static gboolean
handle_login (HyphaeMesh1 *skeleton,
              GDBusMethodInvocation *invocation,
              GVariant *options,
              HyphaeService *self)
{
  return validate_dict_and_run (self, invocation, OP_LOGIN, options, up_keys,
                                G_N_ELEMENTS (up_keys));
}

static gboolean
handle_down (HyphaeMesh1 *skeleton,
             GDBusMethodInvocation *invocation,
             HyphaeService *self)
{
  return authorize_and_run (self, invocation, OP_DOWN, NULL);
}

static gboolean
handle_logout (HyphaeMesh1 *skeleton,
               GDBusMethodInvocation *invocation,
               HyphaeService *self)
{
  return authorize_and_run (self, invocation, OP_LOGOUT, NULL);
}

static gboolean
handle_set_prefs (HyphaeMesh1 *skeleton,
                  GDBusMethodInvocation *invocation,
                  GVariant *changes,
                  HyphaeService *self)
{
  GError *error = NULL;

  if (!validate_prefs (changes, &error))
    return reject (invocation, error);
  return authorize_and_run (self, invocation, OP_SET_PREFS, changes);
}

static gboolean
handle_set_exit_node (HyphaeMesh1 *skeleton,
                      GDBusMethodInvocation *invocation,
                      const char *stable_id,
                      HyphaeService *self)
{
  return authorize_and_run (self, invocation, OP_SET_EXIT_NODE, g_variant_new_string (stable_id));
}

static gboolean
handle_set_keys (HyphaeMesh1 *skeleton,
                 GDBusMethodInvocation *invocation,
                 GVariant *keys,
                 HyphaeService *self)
{
  return validate_dict_and_run (self, invocation, OP_SET_KEYS, keys, key_keys,
                                G_N_ELEMENTS (key_keys));
}

static gboolean
handle_set_debug (HyphaeMesh1 *skeleton,
                  GDBusMethodInvocation *invocation,
                  const char * const *categories,
                  HyphaeService *self)
{
  GError *error = NULL;
  guint32 mask;

  if (!hyphae_log_mask_from_names (categories, &mask, &error))
    return reject (invocation, error);
  return authorize_and_run (self, invocation, OP_SET_DEBUG, g_variant_new_uint32 (mask));
}

/* The callers of Up/Login get the URL they asked for; anyone else needs
 * polkit's io.github.hyphae.Mesh1.get-auth-url (an administrator). */
static gboolean
handle_get_auth_url (HyphaeMesh1 *skeleton,
                     GDBusMethodInvocation *invocation,
                     HyphaeService *self)
{
  if (is_login_caller (self, g_dbus_method_invocation_get_sender (invocation)))
    {
      return_auth_url (self, invocation);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  return authorize_and_run (self, invocation, OP_GET_AUTH_URL, NULL);
}

/* ------------------------------------------------------ read-only methods */

static gboolean
handle_get_peers (HyphaeMesh1 *skeleton,
                  GDBusMethodInvocation *invocation,
                  HyphaeService *self)
{
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (self->ipn);
  const char *exit_id = hyphae_ipn_get_prefs (self->ipn)->exit_node_id;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; nm != NULL && i < hyphae_netmap_get_n_peers (nm); i++)
    {
      const HyphaeNode *peer = hyphae_netmap_get_peer (nm, i);
      HyphaeIpnPeerStats stats = { 0 };
      gboolean have_stats = hyphae_ipn_get_peer_stats (self->ipn, peer->key, &stats);
      gboolean is_exit = exit_id && *exit_id && g_strcmp0 (peer->stable_id, exit_id) == 0;

      const char *home = hyphae_ipn_get_derp_region_code (self->ipn, peer->home_derp);

      g_variant_builder_add_value (&b, hyphae_service_node_to_variant (nm, peer, have_stats ? &stats : NULL, home,
                                                                       FALSE, peer->online_known && peer->online,
                                                                       is_exit));
    }
  hyphae_mesh1_complete_get_peers (skeleton, invocation, g_variant_builder_end (&b));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* "nodekey:…", stable id, host name, MagicDNS name (with or without the
 * trailing dot, or its first label) or a tailnet IP. */
static gboolean
peer_matches (const HyphaeNode *node,
              const char *text,
              const guint8 *key)
{
  gsize name_len = strlen (node->name), text_len = strlen (text);

  if (key != NULL)
    return memcmp (node->key, key, KEY_LEN) == 0;
  if (g_strcmp0 (node->stable_id, text) == 0 || (*node->hostname && g_ascii_strcasecmp (node->hostname, text) == 0))
    return TRUE;
  if (name_len > 0 && (g_ascii_strcasecmp (node->name, text) == 0 ||
                       (text_len + 1 == name_len && g_ascii_strncasecmp (node->name, text, text_len) == 0) ||
                       (text_len < name_len && node->name[text_len] == '.' &&
                        g_ascii_strncasecmp (node->name, text, text_len) == 0)))
    return TRUE;
  for (gsize i = 0; node->addresses != NULL && node->addresses[i] != NULL; i++)
    {
      const char *slash = strchr (node->addresses[i], '/');
      gsize len = slash ? (gsize) (slash - node->addresses[i]) : strlen (node->addresses[i]);

      if (len == text_len && strncmp (node->addresses[i], text, len) == 0)
        return TRUE;
    }
  return FALSE;
}

static const HyphaeNode *
find_peer (HyphaeNetmap *nm,
           const char *text)
{
  guint8 key[KEY_LEN];
  gboolean by_key = g_str_has_prefix (text, KEY_PREFIX_NODE) &&
                    key_from_text (key, KEY_PREFIX_NODE, text, strlen (text)) == 0;

  for (guint i = 0; nm != NULL && i < hyphae_netmap_get_n_peers (nm); i++)
    if (peer_matches (hyphae_netmap_get_peer (nm, i), text, by_key ? key : NULL))
      return hyphae_netmap_get_peer (nm, i);
  return NULL;
}

typedef struct {
  GDBusMethodInvocation *invocation;
  HyphaeMesh1 *skeleton;
  char *node_name;
  char *node_ip;
} PingCall;

static void
ping_call_free (PingCall *pc)
{
  g_object_unref (pc->invocation);
  g_object_unref (pc->skeleton);
  g_free (pc->node_name);
  g_free (pc->node_ip);
  g_free (pc);
}

static void
on_ping_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PingCall *pc = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeIpnPingResult res;
  GVariantBuilder b;

  if (!hyphae_ipn_ping_finish (HYPHAE_IPN (source), result, &res, &error))
    {
      return_error (pc->invocation, error);
      ping_call_free (pc);
      return;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "Path", g_variant_new_string (res.derp_region > 0 ? "derp" : "direct"));
  g_variant_builder_add (&b, "{sv}", "Endpoint", g_variant_new_string (res.endpoint));
  g_variant_builder_add (&b, "{sv}", "DERPRegion", g_variant_new_int32 (res.derp_region));
  g_variant_builder_add (&b, "{sv}", "DERPRegionCode", str_variant (res.derp_code));
  g_variant_builder_add (&b, "{sv}", "LatencyMs", g_variant_new_double (res.latency_ms));
  g_variant_builder_add (&b, "{sv}", "NodeName", str_variant (pc->node_name));
  g_variant_builder_add (&b, "{sv}", "NodeIP", str_variant (pc->node_ip));
  hyphae_mesh1_complete_ping (pc->skeleton, pc->invocation, g_variant_builder_end (&b));
  ping_call_free (pc);
}

static const DictKey ping_keys[] = {
  { "Timeout", "u" },
};

#define PING_TIMEOUT_MAX_MS 60000

static gboolean
handle_ping (HyphaeMesh1 *skeleton,
             GDBusMethodInvocation *invocation,
             const char *peer,
             GVariant *options,
             HyphaeService *self)
{
  g_autoptr(GError) error = NULL;
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (self->ipn);
  const HyphaeNode *node;
  guint32 timeout_ms = 0;
  PingCall *pc;

  if (!validate_dict (options, ping_keys, G_N_ELEMENTS (ping_keys), &error))
    return reject (invocation, g_steal_pointer (&error));
  if (g_variant_lookup (options, "Timeout", "u", &timeout_ms) &&
      (timeout_ms == 0 || timeout_ms > PING_TIMEOUT_MAX_MS))
    {
      g_set_error (&error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                   "Timeout must be 1 to %u ms", PING_TIMEOUT_MAX_MS);
      return reject (invocation, g_steal_pointer (&error));
    }
  node = find_peer (nm, peer);
  if (node == NULL)
    {
      g_set_error (&error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_NOT_FOUND, "No peer “%s”", peer);
      return reject (invocation, g_steal_pointer (&error));
    }
  pc = g_new0 (PingCall, 1);
  pc->invocation = g_object_ref (invocation);
  pc->skeleton = g_object_ref (skeleton);
  /* ping.go prints NodeName: the first label of the MagicDNS name. */
  pc->node_name = *node->name ? g_strndup (node->name, strcspn (node->name, ".")) : g_strdup (node->hostname);
  pc->node_ip = node->addresses && node->addresses[0]
                  ? g_strndup (node->addresses[0], strcspn (node->addresses[0], "/"))
                  : g_strdup ("");
  hyphae_ipn_ping_async (self->ipn, node->key, timeout_ms, self->cancellable, on_ping_done, pc);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_netmap_json (HyphaeMesh1 *skeleton,
                        GDBusMethodInvocation *invocation,
                        HyphaeService *self)
{
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (self->ipn);
  g_autofree char *json = nm ? hyphae_netmap_to_json (nm) : NULL;

  hyphae_mesh1_complete_get_netmap_json (skeleton, invocation, json ? json : "");
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Read-only, like GetPeers: no polkit. */
static gboolean
handle_get_filter_stats (HyphaeMesh1 *skeleton,
                         GDBusMethodInvocation *invocation,
                         HyphaeService *self)
{
  hyphae_mesh1_complete_get_filter_stats (skeleton, invocation, hyphae_ipn_get_filter_stats (self->ipn));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ------------------------------------------------------------------ object */

static void
hyphae_service_dispose (GObject *object)
{
  HyphaeService *self = HYPHAE_SERVICE (object);

  hyphae_service_unexport (self);
  if (self->ipn != NULL)
    g_signal_handlers_disconnect_by_data (self->ipn, self);
  if (self->skeleton != NULL)
    g_signal_handlers_disconnect_by_data (self->skeleton, self);
  g_clear_object (&self->skeleton);
  g_clear_object (&self->ipn);

  G_OBJECT_CLASS (hyphae_service_parent_class)->dispose (object);
}

static void
hyphae_service_finalize (GObject *object)
{
  HyphaeService *self = HYPHAE_SERVICE (object);

  g_free (self->keys_owner);
  g_free (self->exit_node_id);
  g_ptr_array_unref (self->login_callers);
  /* Kept past dispose: calls that end during shutdown look at it. */
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (hyphae_service_parent_class)->finalize (object);
}

static void
hyphae_service_class_init (HyphaeServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_service_dispose;
  object_class->finalize = hyphae_service_finalize;
  /* Registers the io.github.hyphae.Mesh1.Error.* names. */
  (void) HYPHAE_MESH_ERROR;
}

static void
hyphae_service_init (HyphaeService *self)
{
  self->cancellable = g_cancellable_new ();
  self->skeleton = hyphae_mesh1_skeleton_new ();
  self->login_callers = g_ptr_array_new_with_free_func (g_free);
}

HyphaeService *
hyphae_service_new (HyphaeIpn *ipn)
{
  HyphaeService *self;

  g_return_val_if_fail (HYPHAE_IS_IPN (ipn), NULL);

  self = g_object_new (HYPHAE_TYPE_SERVICE, NULL);
  self->ipn = g_object_ref (ipn);
  self->exit_node_id = g_strdup (hyphae_ipn_get_prefs (ipn)->exit_node_id ? hyphae_ipn_get_prefs (ipn)->exit_node_id : "");

  hyphae_mesh1_set_version (self->skeleton, HYPHAE_VERSION);
  update_debug_categories (self);
  on_state (self);
  on_auth_url (self);
  on_health (self);
  on_profile (self);
  on_keys_owner (self);
  hyphae_mesh1_set_prefs (self->skeleton, prefs_variant (hyphae_ipn_get_prefs (ipn)));
  on_dns_changed (self);

  g_signal_connect_swapped (ipn, "notify::state", G_CALLBACK (on_state), self);
  g_signal_connect_swapped (ipn, "notify::auth-url", G_CALLBACK (on_auth_url), self);
  g_signal_connect_swapped (ipn, "notify::health", G_CALLBACK (on_health), self);
  g_signal_connect_swapped (ipn, "notify::profile", G_CALLBACK (on_profile), self);
  g_signal_connect_swapped (ipn, "notify::keys-owner", G_CALLBACK (on_keys_owner), self);
  g_signal_connect_swapped (ipn, "prefs-changed", G_CALLBACK (on_prefs_changed), self);
  g_signal_connect_swapped (ipn, "self-changed", G_CALLBACK (update_self), self);
  g_signal_connect_swapped (ipn, "peers-changed", G_CALLBACK (on_peers_changed), self);
  g_signal_connect_swapped (ipn, "keys-rotated", G_CALLBACK (on_keys_rotated), self);
  g_signal_connect_swapped (ipn, "dns-changed", G_CALLBACK (on_dns_changed), self);

  g_signal_connect (self->skeleton, "handle-up", G_CALLBACK (handle_up), self);
  g_signal_connect (self->skeleton, "handle-down", G_CALLBACK (handle_down), self);
  g_signal_connect (self->skeleton, "handle-login", G_CALLBACK (handle_login), self);
  g_signal_connect (self->skeleton, "handle-logout", G_CALLBACK (handle_logout), self);
  g_signal_connect (self->skeleton, "handle-set-prefs", G_CALLBACK (handle_set_prefs), self);
  g_signal_connect (self->skeleton, "handle-set-exit-node", G_CALLBACK (handle_set_exit_node), self);
  g_signal_connect (self->skeleton, "handle-set-keys", G_CALLBACK (handle_set_keys), self);
  g_signal_connect (self->skeleton, "handle-get-auth-url", G_CALLBACK (handle_get_auth_url), self);
  g_signal_connect (self->skeleton, "handle-set-debug", G_CALLBACK (handle_set_debug), self);
  g_signal_connect (self->skeleton, "handle-get-peers", G_CALLBACK (handle_get_peers), self);
  g_signal_connect (self->skeleton, "handle-get-netmap-json", G_CALLBACK (handle_get_netmap_json), self);
  g_signal_connect (self->skeleton, "handle-get-filter-stats", G_CALLBACK (handle_get_filter_stats), self);
  g_signal_connect (self->skeleton, "handle-ping", G_CALLBACK (handle_ping), self);
  return self;
}

gboolean
hyphae_service_export (HyphaeService *self,
                       GDBusConnection *connection,
                       GError **error)
{
  g_return_val_if_fail (HYPHAE_IS_SERVICE (self), FALSE);
  g_return_val_if_fail (self->connection == NULL, FALSE);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton), connection,
                                         HYPHAE_MESH_OBJECT_PATH, error))
    return FALSE;
  self->connection = g_object_ref (connection);
  return TRUE;
}

void
hyphae_service_unexport (HyphaeService *self)
{
  g_return_if_fail (HYPHAE_IS_SERVICE (self));

  g_cancellable_cancel (self->cancellable);
  if (self->connection == NULL)
    return;
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
  g_clear_object (&self->connection);
}
