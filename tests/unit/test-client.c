/* SPDX-License-Identifier: MIT */
/*
 * src/common's client library and JSON builder helpers. A peer's and the
 * self node's a{sv} as hyphaed's GetPeers/Self send them read into every
 * typed field; missing keys, values of another type and values that are no
 * dictionary at all read as defaults without a critical. Errors are sorted
 * by cause as hyphaectl's exit codes need. On a private bus (a dbus-daemon
 * of our own, reached through DBUS_SYSTEM_BUS_ADDRESS as every client does;
 * not GTestDBus, whose forked watcher process trips LeakSanitizer): no owner
 * is HYPHAE_CLIENT_ERROR_NO_DAEMON with a message saying so; a skeleton
 * owning io.github.hyphae.Mesh1 is reached (sync and async), its peers, self
 * and tailnet read; HyphaeClient mirrors its Prefs (ExitNodeKillSwitch,
 * AdvertiseRoutes) and DNS, and Run as Exit Node off keeps the subnets;
 * it keeps one GetPeers in flight and
 * queues one more, and goes NOT_INSTALLED when the daemon leaves.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "hyphae-client.h"
#include "hyphae-mesh-proxy.h"
#include "hyphae-json-builder.h"

/* A peer as hyphae_service_node_to_variant builds one. */
static GVariant *
full_peer (const char *stable_id,
           const char *host,
           const char *ip4)
{
  GVariantBuilder b;
  const char *ips[] = { ip4, "fd7a:115c:a1e0::2", NULL };
  const char *addrs[] = { "192.0.2.1:41641", NULL };

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "ID", g_variant_new_string (stable_id));
  g_variant_builder_add (&b, "{sv}", "NodeID", g_variant_new_int64 (7));
  g_variant_builder_add (&b, "{sv}", "PublicKey", g_variant_new_string ("nodekey:0102"));
  g_variant_builder_add (&b, "{sv}", "HostName", g_variant_new_string (host));
  g_variant_builder_add (&b, "{sv}", "DNSName", g_variant_new_string ("peer-b.tail.example."));
  g_variant_builder_add (&b, "{sv}", "OS", g_variant_new_string ("linux"));
  g_variant_builder_add (&b, "{sv}", "UserID", g_variant_new_int64 (3));
  g_variant_builder_add (&b, "{sv}", "UserLoginName", g_variant_new_string ("alice@example.com"));
  g_variant_builder_add (&b, "{sv}", "TailscaleIPs", g_variant_new_strv (ips, -1));
  g_variant_builder_add (&b, "{sv}", "Online", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "LastSeen", g_variant_new_int64 (1700000000));
  g_variant_builder_add (&b, "{sv}", "KeyExpiry", g_variant_new_int64 (1800000000));
  g_variant_builder_add (&b, "{sv}", "Expired", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "ExitNodeOption", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "ExitNode", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "CurAddr", g_variant_new_string ("192.0.2.1:41641"));
  g_variant_builder_add (&b, "{sv}", "Relay", g_variant_new_string ("fra"));
  g_variant_builder_add (&b, "{sv}", "Addrs", g_variant_new_strv (addrs, -1));
  g_variant_builder_add (&b, "{sv}", "RxBytes", g_variant_new_uint64 (G_MAXUINT64));
  g_variant_builder_add (&b, "{sv}", "TxBytes", g_variant_new_uint64 (42));
  g_variant_builder_add (&b, "{sv}", "LastHandshake", g_variant_new_int64 (1700000100));
  return g_variant_builder_end (&b);
}

static void
assert_defaults (const HyphaePeerInfo *p)
{
  g_assert_nonnull (p);
  g_assert_cmpstr (p->stable_id, ==, "");
  g_assert_cmpint (p->node_id, ==, 0);
  g_assert_cmpstr (p->public_key, ==, "");
  g_assert_cmpstr (p->host_name, ==, "");
  g_assert_cmpstr (p->dns_name, ==, "");
  g_assert_cmpstr (p->os, ==, "");
  g_assert_cmpint (p->user_id, ==, 0);
  g_assert_cmpstr (p->user_login_name, ==, "");
  g_assert_nonnull (p->addresses);
  g_assert_null (p->addresses[0]);
  g_assert_false (p->online);
  g_assert_cmpint (p->last_seen, ==, 0);
  g_assert_cmpint (p->key_expiry, ==, 0);
  g_assert_false (p->expired);
  g_assert_false (p->exit_node_option);
  g_assert_false (p->exit_node);
  g_assert_cmpstr (p->cur_addr, ==, "");
  g_assert_cmpstr (p->relay, ==, "");
  g_assert_nonnull (p->endpoints);
  g_assert_null (p->endpoints[0]);
  g_assert_cmpuint (p->rx_bytes, ==, 0);
  g_assert_cmpuint (p->tx_bytes, ==, 0);
  g_assert_cmpint (p->last_handshake, ==, 0);
}

static void
test_peer_full (void)
{
  g_autoptr(GVariant) dict = g_variant_ref_sink (full_peer ("stable-b", "peer-b", "100.64.0.2"));
  g_autoptr(HyphaePeerInfo) p = hyphae_peer_info_new (dict);
  g_autoptr(HyphaePeerInfo) again = hyphae_peer_info_ref (p);
  GValue value = G_VALUE_INIT;

  g_assert_cmpstr (p->stable_id, ==, "stable-b");
  g_assert_cmpint (p->node_id, ==, 7);
  g_assert_cmpstr (p->public_key, ==, "nodekey:0102");
  g_assert_cmpstr (p->host_name, ==, "peer-b");
  g_assert_cmpstr (p->dns_name, ==, "peer-b.tail.example.");
  g_assert_cmpstr (p->os, ==, "linux");
  g_assert_cmpint (p->user_id, ==, 3);
  g_assert_cmpstr (p->user_login_name, ==, "alice@example.com");
  g_assert_cmpuint (g_strv_length (p->addresses), ==, 2);
  g_assert_cmpstr (p->addresses[0], ==, "100.64.0.2");
  g_assert_cmpstr (p->addresses[1], ==, "fd7a:115c:a1e0::2");
  g_assert_true (p->online);
  g_assert_cmpint (p->last_seen, ==, 1700000000);
  g_assert_cmpint (p->key_expiry, ==, 1800000000);
  g_assert_true (p->expired);
  g_assert_true (p->exit_node_option);
  g_assert_true (p->exit_node);
  g_assert_cmpstr (p->cur_addr, ==, "192.0.2.1:41641");
  g_assert_cmpstr (p->relay, ==, "fra");
  g_assert_cmpuint (g_strv_length (p->endpoints), ==, 1);
  g_assert_cmpstr (p->endpoints[0], ==, "192.0.2.1:41641");
  g_assert_cmpuint (p->rx_bytes, ==, G_MAXUINT64);
  g_assert_cmpuint (p->tx_bytes, ==, 42);
  g_assert_cmpint (p->last_handshake, ==, 1700000100);

  /* The boxed type refs, as a GObject property or list model would. */
  g_assert_true (again == p);
  g_value_init (&value, HYPHAE_TYPE_PEER_INFO);
  g_value_set_boxed (&value, p);
  g_assert_true (g_value_get_boxed (&value) == p);
  g_value_unset (&value);
}

static void
test_peer_missing_keys (void)
{
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr(HyphaePeerInfo) p = hyphae_peer_info_new (empty);

  assert_defaults (p);
  /* A Self without the peer-only keys: those read as defaults. */
  {
    g_autoptr(GVariant) self_dict = g_variant_ref_sink (full_peer ("stable-a", "me", "100.64.0.1"));
    GVariantDict d;
    g_autoptr(GVariant) trimmed = NULL;
    g_autoptr(HyphaePeerInfo) s = NULL;

    g_variant_dict_init (&d, self_dict);
    g_variant_dict_remove (&d, "ExitNode");
    g_variant_dict_remove (&d, "Addrs");
    g_variant_dict_remove (&d, "RxBytes");
    trimmed = g_variant_ref_sink (g_variant_dict_end (&d));
    s = hyphae_peer_info_new_self (trimmed);
    g_assert_nonnull (s);
    g_assert_cmpstr (s->host_name, ==, "me");
    g_assert_false (s->exit_node);
    g_assert_null (s->endpoints[0]);
    g_assert_cmpuint (s->rx_bytes, ==, 0);
    g_assert_cmpuint (s->tx_bytes, ==, 42);
  }
}

static void
test_peer_wrong_types (void)
{
  GVariantBuilder b;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(HyphaePeerInfo) p = NULL;
  const char *one[] = { "x", NULL };

  /* Every key present, every value of another type than the XML says. */
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "ID", g_variant_new_int32 (1));
  g_variant_builder_add (&b, "{sv}", "NodeID", g_variant_new_int32 (7));
  g_variant_builder_add (&b, "{sv}", "PublicKey", g_variant_new_strv (one, -1));
  g_variant_builder_add (&b, "{sv}", "HostName", g_variant_new_object_path ("/x"));
  g_variant_builder_add (&b, "{sv}", "DNSName", g_variant_new_variant (g_variant_new_string ("x.")));
  g_variant_builder_add (&b, "{sv}", "OS", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "UserID", g_variant_new_uint64 (3));
  g_variant_builder_add (&b, "{sv}", "UserLoginName", g_variant_new_bytestring ("a@b"));
  g_variant_builder_add (&b, "{sv}", "TailscaleIPs", g_variant_new_string ("100.64.0.2"));
  g_variant_builder_add (&b, "{sv}", "Online", g_variant_new_string ("true"));
  g_variant_builder_add (&b, "{sv}", "LastSeen", g_variant_new_uint64 (1));
  g_variant_builder_add (&b, "{sv}", "KeyExpiry", g_variant_new_double (1.5));
  g_variant_builder_add (&b, "{sv}", "Expired", g_variant_new_int32 (1));
  g_variant_builder_add (&b, "{sv}", "ExitNodeOption", g_variant_new_byte (1));
  g_variant_builder_add (&b, "{sv}", "ExitNode", g_variant_new ("(b)", TRUE));
  g_variant_builder_add (&b, "{sv}", "CurAddr", g_variant_new_int64 (1));
  g_variant_builder_add (&b, "{sv}", "Relay", g_variant_new ("ms", "fra"));
  g_variant_builder_add (&b, "{sv}", "Addrs", g_variant_new_objv ((const char *[]) { "/a", NULL }, -1));
  g_variant_builder_add (&b, "{sv}", "RxBytes", g_variant_new_int64 (5));
  g_variant_builder_add (&b, "{sv}", "TxBytes", g_variant_new_uint32 (5));
  g_variant_builder_add (&b, "{sv}", "LastHandshake", g_variant_new_uint64 (5));
  dict = g_variant_ref_sink (g_variant_builder_end (&b));
  p = hyphae_peer_info_new (dict);
  assert_defaults (p);
}

static void
test_not_a_dict (void)
{
  g_autoptr(GVariant) str = g_variant_ref_sink (g_variant_new_string ("peer"));
  g_autoptr(GVariant) ass = g_variant_ref_sink (g_variant_new_parsed ("{'ID': 'x'}"));
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr(GVariant) one_peer = g_variant_ref_sink (full_peer ("stable-b", "peer-b", "100.64.0.2"));
  g_autoptr(HyphaePeerInfo) from_null = hyphae_peer_info_new (NULL);
  g_autoptr(HyphaePeerInfo) from_str = hyphae_peer_info_new (str);
  g_autoptr(HyphaePeerInfo) from_ass = hyphae_peer_info_new (ass);
  g_autoptr(GPtrArray) none = NULL;

  assert_defaults (from_null);
  assert_defaults (from_str);
  assert_defaults (from_ass); /* a{ss}, not a{sv} */

  /* Self is empty before the first network map: no self node. */
  g_assert_null (hyphae_peer_info_new_self (NULL));
  g_assert_null (hyphae_peer_info_new_self (empty));
  g_assert_null (hyphae_peer_info_new_self (str));

  /* GetPeers' list: anything but aa{sv} is no peers. */
  none = hyphae_peer_info_list_new (NULL);
  g_assert_cmpuint (none->len, ==, 0);
  g_clear_pointer (&none, g_ptr_array_unref);
  none = hyphae_peer_info_list_new (one_peer); /* a{sv} */
  g_assert_cmpuint (none->len, ==, 0);
  g_clear_pointer (&none, g_ptr_array_unref);
  none = hyphae_peer_info_list_new (ass);
  g_assert_cmpuint (none->len, ==, 0);

  /* Tailnet: NULL while empty or of another type. */
  g_assert_null (hyphae_tailnet_info_new (NULL));
  g_assert_null (hyphae_tailnet_info_new (empty));
  g_assert_null (hyphae_tailnet_info_new (ass));
}

static GVariant *
two_peers (void)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add_value (&b, full_peer ("stable-b", "peer-b", "100.64.0.2"));
  g_variant_builder_add_value (&b, g_variant_new ("a{sv}", NULL));
  return g_variant_builder_end (&b);
}

static void
test_peer_list (void)
{
  g_autoptr(GVariant) peers = g_variant_ref_sink (two_peers ());
  g_autoptr(GPtrArray) list = hyphae_peer_info_list_new (peers);
  HyphaePeerInfo *first;

  g_assert_cmpuint (list->len, ==, 2);
  first = g_ptr_array_index (list, 0);
  g_assert_cmpstr (first->stable_id, ==, "stable-b");
  assert_defaults (g_ptr_array_index (list, 1));
}

/* A peer equal to the last list's is that info itself; a changed one is new. */
static void
test_peer_list_reuse (void)
{
  g_autoptr(GVariant) peers = g_variant_ref_sink (two_peers ());
  g_autoptr(GVariant) changed = g_variant_ref_sink (full_peer ("stable-b", "peer-b", "100.64.0.3"));
  g_autoptr(GPtrArray) first = hyphae_peer_info_list_new (peers);
  g_autoptr(GPtrArray) again = hyphae_peer_info_list_new (peers);
  g_autoptr(GPtrArray) third = hyphae_peer_info_list_new (peers);
  g_autoptr(HyphaePeerInfo) moved = hyphae_peer_info_new (changed);
  GHashTable *last = NULL;

  g_assert_true (hyphae_peer_info_equal (first->pdata[0], again->pdata[0]));
  g_assert_false (hyphae_peer_info_equal (first->pdata[0], first->pdata[1]));
  g_assert_false (hyphae_peer_info_equal (first->pdata[0], moved));

  hyphae_peer_info_list_reuse (first, &last);
  hyphae_peer_info_list_reuse (again, &last);
  g_assert_true (again->pdata[0] == first->pdata[0]);
  g_assert_true (again->pdata[1] == first->pdata[1]);

  hyphae_peer_info_unref (third->pdata[0]);
  third->pdata[0] = hyphae_peer_info_ref (moved);
  hyphae_peer_info_list_reuse (third, &last);
  g_assert_true (third->pdata[0] == moved);
  g_assert_true (third->pdata[1] == first->pdata[1]);
  g_assert_true (g_hash_table_lookup (last, "stable-b") == moved);
  g_hash_table_unref (last);
}

static void
test_tailnet (void)
{
  g_autoptr(GVariant) full = g_variant_ref_sink (g_variant_new_parsed (
    "{'Name': <'example.com'>, 'MagicDNSSuffix': <'tail.example'>, 'MagicDNSEnabled': <true>}"));
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new_parsed (
    "{'Name': <1>, 'MagicDNSSuffix': <['x']>, 'MagicDNSEnabled': <'yes'>}"));
  g_autoptr(HyphaeTailnetInfo) t = hyphae_tailnet_info_new (full);
  g_autoptr(HyphaeTailnetInfo) w = hyphae_tailnet_info_new (wrong);

  g_assert_cmpstr (t->name, ==, "example.com");
  g_assert_cmpstr (t->magicdns_suffix, ==, "tail.example");
  g_assert_true (t->magicdns_enabled);
  g_assert_nonnull (w);
  g_assert_cmpstr (w->name, ==, "");
  g_assert_cmpstr (w->magicdns_suffix, ==, "");
  g_assert_false (w->magicdns_enabled);
}

static void
test_active (void)
{
  g_autoptr(GVariant) dict = g_variant_ref_sink (full_peer ("stable-b", "peer-b", "100.64.0.2"));
  g_autoptr(HyphaePeerInfo) p = hyphae_peer_info_new (dict);
  g_autoptr(HyphaePeerInfo) never = hyphae_peer_info_new (NULL);

  /* LastHandshake 1700000100: active for 180 s after it. */
  g_assert_true (hyphae_peer_info_is_active (p, 1700000100));
  g_assert_true (hyphae_peer_info_is_active (p, 1700000100 + 179));
  g_assert_false (hyphae_peer_info_is_active (p, 1700000100 + 180));
  g_assert_false (hyphae_peer_info_is_active (never, 0));
  g_assert_false (hyphae_peer_info_is_active (never, 100));
}

static void
test_matches (void)
{
  g_autoptr(GVariant) dict = g_variant_ref_sink (full_peer ("stable-b", "Peer-B", "100.64.0.2"));
  g_autoptr(HyphaePeerInfo) p = hyphae_peer_info_new (dict);
  const char *yes[] = { "stable-b", "peer-b", "PEER-B", "peer-b.tail.example", "peer-b.tail.example.",
                        "Peer-B.Tail.Example", "100.64.0.2", "fd7a:115c:a1e0::2" };
  const char *no[] = { "stable", "Stable-B", "peer", "tail", "tail.example", "100.64.0.", "100.64.0.20",
                       "192.0.2.1:41641", "nodekey:0102" };

  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++)
    g_assert_true (hyphae_peer_info_matches (p, yes[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (no); i++)
    g_assert_false (hyphae_peer_info_matches (p, no[i]));
}

/* ------------------------------------------------------------------ errors */

static void
test_error_failure (void)
{
  static const struct {
    const char *name;
    HyphaeClientFailure failure;
  } remote[] = {
    { "io.github.hyphae.Mesh1.Error.NotAuthorized", HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED },
    { "io.github.hyphae.Mesh1.Error.NeedsLogin", HYPHAE_CLIENT_FAILURE_NEEDS_LOGIN },
    { "io.github.hyphae.Mesh1.Error.Unreachable", HYPHAE_CLIENT_FAILURE_UNREACHABLE },
    { "io.github.hyphae.Mesh1.Error.BadAuthKey", HYPHAE_CLIENT_FAILURE_BAD_AUTH_KEY },
    { "io.github.hyphae.Mesh1.Error.InvalidArgument", HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT },
    { "io.github.hyphae.Mesh1.Error.Failed", HYPHAE_CLIENT_FAILURE_OTHER },
    { "io.github.hyphae.Mesh1.Error.EngineFailed", HYPHAE_CLIENT_FAILURE_ENGINE },
    { "io.github.hyphae.Mesh1.Error.TooManyRequests", HYPHAE_CLIENT_FAILURE_TOO_MANY_REQUESTS },
    { "org.freedesktop.DBus.Error.ServiceUnknown", HYPHAE_CLIENT_FAILURE_NO_DAEMON },
    { "org.freedesktop.DBus.Error.NameHasNoOwner", HYPHAE_CLIENT_FAILURE_NO_DAEMON },
    { "org.freedesktop.DBus.Error.Spawn.ChildExited", HYPHAE_CLIENT_FAILURE_NO_DAEMON },
    { "org.freedesktop.DBus.Error.NoReply", HYPHAE_CLIENT_FAILURE_NO_DAEMON },
    { "org.freedesktop.DBus.Error.AccessDenied", HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED },
    { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED },
    { "org.freedesktop.DBus.Error.InvalidArgs", HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT },
    { "org.example.Unknown", HYPHAE_CLIENT_FAILURE_OTHER },
  };
  g_autoptr(GError) closed = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "closed");
  g_autoptr(GError) no_daemon = g_error_new_literal (HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON, "x");
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "plain");
  g_autofree char *plain = hyphae_client_error_message (other);

  /* The typed names register with the domain (a client does it by connecting). */
  (void) HYPHAE_MESH_ERROR;
  for (gsize i = 0; i < G_N_ELEMENTS (remote); i++)
    {
      g_autoptr(GError) e = g_dbus_error_new_for_dbus_error (remote[i].name, "the reason");
      g_autofree char *message = hyphae_client_error_message (e);

      g_test_message ("%s", remote[i].name);
      g_assert_cmpint (hyphae_client_error_failure (e), ==, remote[i].failure);
      /* The remote name is gone from the text a user sees. */
      g_assert_cmpstr (message, ==, "the reason");
      if (g_str_has_prefix (remote[i].name, "io.github.hyphae."))
        g_assert_true (e->domain == HYPHAE_MESH_ERROR);
    }
  g_assert_cmpint (hyphae_client_error_failure (closed), ==, HYPHAE_CLIENT_FAILURE_NO_DAEMON);
  g_assert_cmpint (hyphae_client_error_failure (no_daemon), ==, HYPHAE_CLIENT_FAILURE_NO_DAEMON);
  g_assert_cmpint (hyphae_client_error_failure (other), ==, HYPHAE_CLIENT_FAILURE_OTHER);
  g_assert_cmpstr (plain, ==, "plain");
}

/* ------------------------------------------------------------ on a bus */

typedef struct {
  char *address;
  GMutex lock;
  GCond cond;
  gboolean ready;
  GMainContext *context;
  GMainLoop *loop;
  GString *calls;      /* "P" per GetPeers, "A" per GetAuthURL (under lock) */
  GVariant *set_prefs; /* the last SetPrefs' changes (under lock) */
} FakeDaemon;

static void
record_call (FakeDaemon *f,
             char c)
{
  g_mutex_lock (&f->lock);
  g_string_append_c (f->calls, c);
  g_mutex_unlock (&f->lock);
}

static gboolean
handle_get_peers (HyphaeMesh1 *skeleton,
                  GDBusMethodInvocation *invocation,
                  FakeDaemon *f)
{
  record_call (f, 'P');
  hyphae_mesh1_complete_get_peers (skeleton, invocation, two_peers ());
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_auth_url (HyphaeMesh1 *skeleton,
                     GDBusMethodInvocation *invocation,
                     FakeDaemon *f)
{
  record_call (f, 'A');
  hyphae_mesh1_complete_get_auth_url (skeleton, invocation, "");
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_set_prefs (HyphaeMesh1 *skeleton,
                  GDBusMethodInvocation *invocation,
                  GVariant *changes,
                  FakeDaemon *f)
{
  g_mutex_lock (&f->lock);
  g_clear_pointer (&f->set_prefs, g_variant_unref);
  f->set_prefs = g_variant_ref (changes);
  g_mutex_unlock (&f->lock);
  hyphae_mesh1_complete_set_prefs (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Owns io.github.hyphae.Mesh1 on its own connection and main context, as
 * hyphaed would, so that the test's synchronous calls get answers. */
static gpointer
fake_daemon_thread (gpointer data)
{
  FakeDaemon *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(HyphaeMesh1) skeleton = hyphae_mesh1_skeleton_new ();
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) self_dict = g_variant_ref_sink (full_peer ("stable-a", "me", "100.64.0.1"));

  g_main_context_push_thread_default (f->context);
  connection = g_dbus_connection_new_for_address_sync (f->address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  hyphae_mesh1_set_state (skeleton, "Running");
  hyphae_mesh1_set_self (skeleton, self_dict);
  hyphae_mesh1_set_tailnet (skeleton, g_variant_new_parsed ("{'MagicDNSSuffix': <'tail.example'>}"));
  hyphae_mesh1_set_prefs (skeleton, g_variant_new_parsed ("{'ExitNodeKillSwitch': <true>, "
                                                          "'AdvertiseRoutes': <['10.1.0.0/16', '0.0.0.0/0', '::/0']>}"));
  hyphae_mesh1_set_dns (skeleton, g_variant_new_parsed ("{'Mode': <'direct'>, 'Nameservers': <['100.100.100.100']>, "
                                                        "'SearchDomains': <['tail.example', 'corp']>, "
                                                        "'Error': <'Cannot write'>}"));
  g_signal_connect (skeleton, "handle-get-peers", G_CALLBACK (handle_get_peers), f);
  g_signal_connect (skeleton, "handle-set-prefs", G_CALLBACK (handle_set_prefs), f);
  g_signal_connect (skeleton, "handle-get-auth-url", G_CALLBACK (handle_get_auth_url), f);
  g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (skeleton), connection,
                                    HYPHAE_MESH_OBJECT_PATH, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", HYPHAE_MESH_BUS_NAME, 0),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);

  g_mutex_lock (&f->lock);
  f->ready = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);

  g_main_loop_run (f->loop);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (skeleton));
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* A dbus-daemon with no services to activate; its address in *address. */
static GSubprocess *
start_bus (const char *dir,
           char **address)
{
  g_autofree char *config = g_build_filename (dir, "bus.conf", NULL);
  g_autofree char *config_arg = g_strconcat ("--config-file=", config, NULL);
  g_autofree char *listen = g_strdup_printf ("<busconfig><type>session</type>"
                                             "<listen>unix:dir=%s</listen>"
                                             "<policy context=\"default\">"
                                             "<allow send_destination=\"*\" eavesdrop=\"true\"/>"
                                             "<allow eavesdrop=\"true\"/><allow own=\"*\"/>"
                                             "</policy></busconfig>",
                                             dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  GSubprocess *bus;

  g_assert_true (g_file_set_contents (config, listen, -1, &error));
  /* A failed assertion aborts the test: the bus goes with it. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  bus = g_subprocess_launcher_spawn (launcher, &error,
                                     "dbus-daemon", config_arg, "--nofork", "--print-address", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (bus));
  *address = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*address);
  return bus;
}

/* dir and the files in it (the config, the bus socket). */
static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
on_connected (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* hyphae_mesh_connect, waited for on this thread's main context. */
static HyphaeMesh1 *
connect_async (GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_mesh_connect (NULL, on_connected, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return hyphae_mesh_connect_finish (result, error);
}

static gboolean
n_peers_is (HyphaeClient *client,
            guint n)
{
  return g_list_model_get_n_items (G_LIST_MODEL (hyphae_client_get_peers (client))) == n;
}

static gboolean
calls_are (FakeDaemon *f,
           const char *calls)
{
  gboolean equal;

  g_mutex_lock (&f->lock);
  equal = g_str_equal (f->calls->str, calls);
  g_mutex_unlock (&f->lock);
  return equal;
}

/* The Prefs and DNS the fake daemon has, mirrored; Run as Exit Node off
 * sends AdvertiseRoutes without the /0s, the subnet kept. */
static void
check_client_prefs_dns (FakeDaemon *f,
                        HyphaeClient *client)
{
  const char * const routes[] = { "10.1.0.0/16", "0.0.0.0/0", "::/0", NULL };
  const char * const nameservers[] = { "100.100.100.100", NULL };
  const char * const search[] = { "tail.example", "corp", NULL };
  g_auto(GStrv) got_routes = NULL, got_nameservers = NULL, got_search = NULL;
  g_autofree char *mode = NULL, *dns_error = NULL;
  g_autofree const char **sent = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean kill_switch = FALSE, exit_node = FALSE;

  g_object_get (client, "exit-node-kill-switch", &kill_switch, "advertise-routes", &got_routes,
                "advertise-exit-node", &exit_node, "dns-mode", &mode, "dns-nameservers", &got_nameservers,
                "dns-search-domains", &got_search, "dns-error", &dns_error, NULL);
  g_assert_true (kill_switch);
  g_assert_true (exit_node);
  g_assert_true (g_strv_equal ((const char * const *) got_routes, routes));
  g_assert_cmpstr (mode, ==, "direct");
  g_assert_true (g_strv_equal ((const char * const *) got_nameservers, nameservers));
  g_assert_true (g_strv_equal ((const char * const *) got_search, search));
  g_assert_cmpstr (dns_error, ==, "Cannot write");

  hyphae_client_set_advertise_exit_node (client, FALSE, NULL, on_connected, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (hyphae_client_call_finish (client, result, &error));
  g_assert_no_error (error);
  g_mutex_lock (&f->lock);
  g_assert_nonnull (f->set_prefs);
  g_assert_true (g_variant_lookup (f->set_prefs, "AdvertiseRoutes", "^a&s", &sent));
  g_mutex_unlock (&f->lock);
  g_assert_cmpuint (g_strv_length ((char **) sent), ==, 1);
  g_assert_cmpstr (sent[0], ==, "10.1.0.0/16");
}

/* HyphaeClient on the fake daemon: one GetPeers in flight, and PeersChanged
 * (or a refresh) meanwhile queues exactly one more. Calls from one
 * connection arrive in order, so GetAuthURL sent right after five refreshes
 * shows what went out before it. */
static HyphaeClient *
check_client_object (FakeDaemon *f)
{
  HyphaeClient *client;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GError) error = NULL;

  g_mutex_lock (&f->lock);
  g_string_truncate (f->calls, 0); /* the proxy helpers' calls before */
  g_mutex_unlock (&f->lock);
  client = hyphae_client_new (G_BUS_TYPE_SYSTEM);
  while (!n_peers_is (client, 2))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (hyphae_client_get_daemon_state (client), ==, HYPHAE_DAEMON_STATE_RUNNING);
  g_assert_cmpint (hyphae_client_get_state (client), ==, HYPHAE_STATE_RUNNING);
  g_assert_cmpstr (hyphae_peer_get_host_name (hyphae_client_get_self (client)), ==, "me");
  g_assert_cmpint (hyphae_client_get_keys_owner (client), ==, HYPHAE_KEYS_OWNER_NONE); /* "" */
  g_assert_true (calls_are (f, "P"));
  check_client_prefs_dns (f, client);

  for (guint i = 0; i < 5; i++)
    hyphae_client_refresh_peers (client);
  hyphae_client_get_auth_url (client, NULL, on_connected, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  /* Before GetAuthURL only the first refresh's GetPeers went out (the
   * queued one may have followed it already)… */
  g_mutex_lock (&f->lock);
  g_assert_true (g_str_equal (f->calls->str, "PPA") || g_str_equal (f->calls->str, "PPAP"));
  g_mutex_unlock (&f->lock);
  /* …and once it is answered, one more for the four refreshes after it. */
  while (!calls_are (f, "PPAP"))
    g_main_context_iteration (NULL, TRUE);
  url = hyphae_client_get_auth_url_finish (client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (url, ==, "");
  return client;
}

static void
test_connect (void)
{
  g_autofree char *dir = g_dir_make_tmp ("hyphae-test-client-XXXXXX", NULL);
  g_autoptr(GSubprocess) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  g_autoptr(HyphaePeerInfo) self_node = NULL;
  g_autoptr(HyphaeTailnetInfo) tailnet = NULL;
  FakeDaemon f = { 0 };
  GThread *thread;
  HyphaeClient *client;

  /* No bus at all. */
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/hyphae-test-bus", TRUE);
  proxy = hyphae_mesh_connect_sync (NULL, &error);
  g_assert_null (proxy);
  g_assert_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON);
  g_assert_true (g_str_has_prefix (error->message, "hyphaed is not running and could not be started: "));
  g_clear_error (&error);
  proxy = connect_async (&error);
  g_assert_null (proxy);
  g_assert_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON);
  g_assert_true (g_str_has_prefix (error->message, "hyphaed is not running and could not be started: "));
  g_clear_error (&error);

  /* A bus on which nobody owns the name (and nothing can be activated). */
  bus = start_bus (dir, &f.address);
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", f.address, TRUE);
  proxy = hyphae_mesh_connect_sync (NULL, &error);
  g_assert_null (proxy);
  g_assert_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON);
  g_assert_cmpstr (error->message, ==, "hyphaed is not running and could not be started "
                                       "(io.github.hyphae.Mesh1 has no owner on the system bus; "
                                       "is hyphaed installed?)");
  g_assert_cmpint (hyphae_client_error_failure (error), ==, HYPHAE_CLIENT_FAILURE_NO_DAEMON);
  g_clear_error (&error);
  proxy = connect_async (&error);
  g_assert_null (proxy);
  g_assert_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON);
  g_assert_true (strstr (error->message, "has no owner") != NULL);
  g_clear_error (&error);

  /* The daemon: reached, its peers, self and tailnet read typed. */
  g_mutex_init (&f.lock);
  g_cond_init (&f.cond);
  f.calls = g_string_new (NULL);
  f.context = g_main_context_new ();
  f.loop = g_main_loop_new (f.context, FALSE);
  thread = g_thread_new ("fake-hyphaed", fake_daemon_thread, &f);
  g_mutex_lock (&f.lock);
  while (!f.ready)
    g_cond_wait (&f.cond, &f.lock);
  g_mutex_unlock (&f.lock);

  proxy = hyphae_mesh_connect_sync (NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (proxy);
  /* The test bus goes away before the process: do not exit with it. */
  g_dbus_connection_set_exit_on_close (g_dbus_proxy_get_connection (G_DBUS_PROXY (proxy)), FALSE);
  peers = hyphae_mesh_get_peers_sync (proxy, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (peers->len, ==, 2);
  g_assert_cmpstr (((HyphaePeerInfo *) g_ptr_array_index (peers, 0))->stable_id, ==, "stable-b");
  self_node = hyphae_mesh_dup_self (proxy);
  g_assert_nonnull (self_node);
  g_assert_cmpstr (self_node->host_name, ==, "me");
  tailnet = hyphae_mesh_dup_tailnet (proxy);
  g_assert_nonnull (tailnet);
  g_assert_cmpstr (tailnet->magicdns_suffix, ==, "tail.example");
  g_assert_cmpstr (tailnet->name, ==, "");
  g_clear_object (&proxy);
  proxy = connect_async (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (hyphae_mesh1_get_state (proxy), ==, "Running");
  client = check_client_object (&f);

  g_main_context_invoke (f.context, quit_loop, f.loop);
  g_thread_join (thread);
  /* The daemon went away and nothing can activate it: NOT_INSTALLED, no
   * peers, no self. */
  while (hyphae_client_get_daemon_state (client) != HYPHAE_DAEMON_STATE_NOT_INSTALLED)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (n_peers_is (client, 0));
  g_assert_null (hyphae_client_get_self (client));
  g_assert_cmpint (hyphae_client_get_state (client), ==, HYPHAE_STATE_NO_STATE);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_object_unref (client);
  while (client != NULL)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&proxy);
  g_main_loop_unref (f.loop);
  g_main_context_unref (f.context);
  g_mutex_clear (&f.lock);
  g_cond_clear (&f.cond);
  g_string_free (f.calls, TRUE);
  g_clear_pointer (&f.set_prefs, g_variant_unref);
  g_free (f.address);
  g_subprocess_force_exit (bus);
  g_assert_true (g_subprocess_wait (bus, NULL, NULL));
  remove_dir (dir);
}

/* -------------------------------------------------------------- JSON out */

static void
test_json_builder (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *two[] = { "a", "\"b\"", NULL };
  char *empty[] = { NULL };

  json_builder_begin_object (b);
  hyphae_json_add_string (b, "s", "x\ny");
  hyphae_json_add_int (b, "i", G_MININT64);
  hyphae_json_add_bool (b, "t", TRUE);
  hyphae_json_add_bool (b, "f", FALSE);
  hyphae_json_add_strv (b, "v", two);
  hyphae_json_add_strv (b, "e", empty);
  hyphae_json_add_strv (b, "n", NULL);
  hyphae_json_add_strv_or_null (b, "vn", two);
  hyphae_json_add_strv_or_null (b, "en", empty);
  hyphae_json_add_strv_or_null (b, "nn", NULL);
  hyphae_json_add_raw (b, "r", "{\"k\": [1, true, null]}");
  hyphae_json_add_raw (b, "bad", "{");
  hyphae_json_add_raw (b, "none", NULL);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_assert_cmpstr (text, ==,
                   "{\"s\":\"x\\ny\",\"i\":-9223372036854775808,\"t\":true,\"f\":false,"
                   "\"v\":[\"a\",\"\\\"b\\\"\"],\"e\":[],\"n\":[],"
                   "\"vn\":[\"a\",\"\\\"b\\\"\"],\"en\":null,\"nn\":null,"
                   "\"r\":{\"k\":[1,true,null]},\"bad\":null,\"none\":null}");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/peer/full", test_peer_full);
  g_test_add_func ("/client/peer/missing-keys", test_peer_missing_keys);
  g_test_add_func ("/client/peer/wrong-types", test_peer_wrong_types);
  g_test_add_func ("/client/peer/not-a-dict", test_not_a_dict);
  g_test_add_func ("/client/peer/list", test_peer_list);
  g_test_add_func ("/client/peer/list-reuse", test_peer_list_reuse);
  g_test_add_func ("/client/peer/active", test_active);
  g_test_add_func ("/client/peer/matches", test_matches);
  g_test_add_func ("/client/tailnet", test_tailnet);
  g_test_add_func ("/client/error-failure", test_error_failure);
  g_test_add_func ("/client/connect", test_connect);
  g_test_add_func ("/client/json-builder", test_json_builder);
  return g_test_run ();
}
