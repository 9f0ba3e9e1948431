/* SPDX-License-Identifier: MIT */
/*
 * HyphaeClient (src/common/hyphae-client.h) against a real hyphaed on a
 * private system bus with polkitd and the Go control server; run by
 * client.sh, which sets the environment:
 *   DBUS_SYSTEM_BUS_ADDRESS  the private bus (the daemon's service file removed)
 *   SERVICE_FILE, SERVICE_TEXT  where the activation file goes and what it says
 *   HYPHAECTL, HYPHAE_TS2021_CONTROL, CONTROL_URL (auth key tskey-right),
 *   INTERACTIVE_URL (a server in -interactive mode)
 * With --not-authorized (run as uid 65534) it only checks that a mutating
 * call fails as NOT_AUTHORIZED.
 * Every wait runs the main loop until a condition holds; a condition that
 * never comes fails after a generous safety timeout (never a sleep).
 */
#include <signal.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "hyphae-client.h"

#define SAFETY_SECONDS 90

static HyphaeClient *client;
static GString *states;     /* the state notifies, as "nick " each */
static GString *peer_notes; /* notifies of the watched peer, "name " each */
static GString *changes;    /* items-changed of the peer list, "pos,r,a;" */
static char *auth_url;      /* from auth-url-ready */
static guint restarted;     /* daemon-restarted emissions */

/* --------------------------------------------------------------- waiting */

typedef gboolean (*Condition) (gpointer data);

static gboolean
on_safety_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until cond (data) holds. */
static void
wait_for_impl (Condition cond,
               gpointer data,
               const char *what)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add_seconds (SAFETY_SECONDS, on_safety_timeout, &expired);

  while (!cond (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (expired)
    g_error ("no %s after %d s", what, SAFETY_SECONDS);
  g_source_remove (id);
}
#define wait_for(cond, data) wait_for_impl ((Condition) (cond), (data), #cond)

static gboolean
is_set (gpointer p)
{
  return *(gpointer *) p != NULL;
}

static gboolean
is_null (gpointer p)
{
  return *(gpointer *) p == NULL;
}

static gboolean
daemon_state_is (gpointer want)
{
  return hyphae_client_get_daemon_state (client) == (HyphaeDaemonState) GPOINTER_TO_INT (want);
}

static gboolean
state_is (gpointer want)
{
  return hyphae_client_get_state (client) == (HyphaeState) GPOINTER_TO_INT (want);
}

static void
on_exited (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
is_true (gpointer p)
{
  return *(gboolean *) p;
}

/* ---------------------------------------------------- async call results */

static void
on_result (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Waits for a call started with on_result; its error or NULL. */
static GError *
finish_call (GAsyncResult **result)
{
  GError *error = NULL;

  wait_for (is_set, result);
  hyphae_client_call_finish (client, *result, &error);
  g_clear_object (result);
  return error;
}

/* -------------------------------------------------------------- commands */

static GSubprocess *
spawn (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);

  g_assert_no_error (error);
  return p;
}

/* `hyphaectl ARGS…` run while the main loop keeps running. */
static void
hyphaectl (const char *arg1,
           const char *arg2)
{
  const char *argv[] = { g_getenv ("HYPHAECTL"), arg1, arg2, NULL };
  g_autoptr(GSubprocess) p = spawn (argv);
  gboolean exited = FALSE;

  g_subprocess_wait_async (p, NULL, on_exited, &exited);
  wait_for (is_true, &exited);
}

static JsonObject *
status_json (void)
{
  const char *argv[] = { g_getenv ("HYPHAECTL"), "status", "--json", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
write_service_file (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  g_autoptr(GVariant) reply = NULL;

  g_assert_no_error (error);
  if (text == NULL)
    g_unlink (g_getenv ("SERVICE_FILE"));
  else
    g_file_set_contents (g_getenv ("SERVICE_FILE"), text, -1, &error);
  g_assert_no_error (error);
  /* The bus rereads its service directories now (inotify would, later). */
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "ReloadConfig", NULL, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------- recorders */

static void
on_state (HyphaeClient *c,
          GParamSpec *pspec,
          gpointer data)
{
  GEnumClass *klass = g_type_class_ref (HYPHAE_TYPE_STATE);

  g_string_append_printf (states, "%s ", g_enum_get_value (klass, hyphae_client_get_state (c))->value_nick);
  g_type_class_unref (klass);
}

static void
on_auth_url_ready (HyphaeClient *c,
                   const char *url,
                   gpointer data)
{
  g_free (auth_url);
  auth_url = g_strdup (url);
}

static void
on_restarted (HyphaeClient *c,
              gpointer data)
{
  restarted++;
}

/* ----------------------------------------------------------------- tests */

/* The service file is gone: NOT_INSTALLED; one that fails: FAILED with the
 * bus's error; a good one and someone else's call starting hyphaed:
 * RUNNING, with no call of ours. */
static void
test_daemon_state (void)
{
  g_autofree char *failing = g_strdup_printf ("[D-BUS Service]\nName=%s\nExec=/bin/false\n",
                                              HYPHAE_MESH_BUS_NAME);

  wait_for (daemon_state_is, GINT_TO_POINTER (HYPHAE_DAEMON_STATE_NOT_INSTALLED));
  g_assert_null (hyphae_client_get_self (client));

  write_service_file (failing);
  hyphae_client_retry (client);
  wait_for (daemon_state_is, GINT_TO_POINTER (HYPHAE_DAEMON_STATE_FAILED));
  g_test_message ("daemon-error: %s", hyphae_client_get_daemon_error (client));
  g_assert_cmpstr (hyphae_client_get_daemon_error (client), !=, "");

  write_service_file (g_getenv ("SERVICE_TEXT"));
  hyphaectl ("status", NULL); /* activates hyphaed */
  wait_for (daemon_state_is, GINT_TO_POINTER (HYPHAE_DAEMON_STATE_RUNNING));
  g_assert_cmpstr (hyphae_client_get_daemon_error (client), ==, "");
  g_assert_cmpuint (restarted, ==, 0);
}

/* Up against a server in interactive mode: the login URL reaches this
 * client as auth-url-ready before Up returns; GetAuthURL gives it too. */
static void
test_auth_url (void)
{
  HyphaeUpOptions options = { .control_url = g_getenv ("INTERACTIVE_URL") };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *prefix = g_strdup_printf ("%s/auth/", options.control_url);

  hyphae_client_up (client, &options, NULL, on_result, &result);
  g_assert_true (hyphae_client_get_busy (client));
  wait_for (is_set, &result);
  g_assert_nonnull (auth_url); /* the signal came before the reply */
  g_assert_true (g_str_has_prefix (auth_url, prefix));
  g_assert_true (hyphae_client_call_finish (client, result, &error));
  g_assert_no_error (error);
  g_assert_false (hyphae_client_get_busy (client));
  wait_for (state_is, GINT_TO_POINTER (HYPHAE_STATE_NEEDS_LOGIN));

  g_clear_object (&result);
  hyphae_client_get_auth_url (client, NULL, on_result, &result);
  wait_for (is_set, &result);
  url = hyphae_client_get_auth_url_finish (client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (url, ==, auth_url);
}

static const char *
member_str (JsonObject *o,
            const char *name)
{
  return json_object_get_string_member_with_default (o, name, "");
}

/* Up with an auth key, then every property as `hyphaectl status --json`
 * reports it. */
static void
test_up_and_properties (void)
{
  HyphaeUpOptions options = {
    .control_url = g_getenv ("CONTROL_URL"), .auth_key = "tskey-right", .hostname = "client-node"
  };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) st = NULL;
  JsonObject *me, *tailnet;
  JsonArray *ips;
  JsonNode *node;
  HyphaePeer *self_peer;
  const char * const *addresses;
  g_auto(GStrv) health = NULL;

  hyphae_client_up (client, &options, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (state_is, GINT_TO_POINTER (HYPHAE_STATE_RUNNING));

  st = status_json ();
  g_assert_cmpstr (member_str (st, "BackendState"), ==, "Running");
  me = json_object_get_object_member (st, "Self");
  self_peer = hyphae_client_get_self (client);
  g_assert_nonnull (self_peer);
  g_assert_cmpstr (hyphae_peer_get_id (self_peer), ==, member_str (me, "ID"));
  g_assert_cmpstr (hyphae_peer_get_host_name (self_peer), ==, "client-node");
  g_assert_cmpstr (hyphae_peer_get_host_name (self_peer), ==, member_str (me, "HostName"));
  g_assert_cmpstr (hyphae_peer_get_dns_name (self_peer), ==, member_str (me, "DNSName"));
  g_assert_true (g_str_has_prefix (member_str (me, "DNSName"), hyphae_peer_get_magic_dns_name (self_peer)));
  g_assert_false (g_str_has_suffix (hyphae_peer_get_magic_dns_name (self_peer), "."));
  ips = json_object_get_array_member (me, "TailscaleIPs");
  addresses = hyphae_peer_get_addresses (self_peer);
  g_assert_cmpuint (g_strv_length ((char **) addresses), ==, json_array_get_length (ips));
  for (guint i = 0; i < json_array_get_length (ips); i++)
    g_assert_cmpstr (addresses[i], ==, json_array_get_string_element (ips, i));
  tailnet = json_object_get_object_member (st, "CurrentTailnet");
  {
    g_autofree char *name = NULL, *suffix = NULL, *url = NULL, *version = NULL;
    gboolean magic;

    g_object_get (client, "tailnet-name", &name, "magic-dns-suffix", &suffix, "magic-dns-enabled", &magic,
                  "control-url", &url, "daemon-version", &version, "health", &health, NULL);
    g_assert_cmpstr (name, ==, member_str (tailnet, "Name"));
    g_assert_cmpstr (suffix, ==, member_str (st, "MagicDNSSuffix"));
    g_assert_cmpint (magic, ==, json_object_get_boolean_member (tailnet, "MagicDNSEnabled"));
    g_assert_cmpstr (url, ==, options.control_url);
    g_assert_cmpstr (version, !=, "");
    g_assert_cmpstr (version, ==, member_str (st, "Version"));
  }
  /* Health is null when empty (as tailscale's). */
  node = json_object_get_member (st, "Health");
  g_assert_cmpuint (g_strv_length (health), ==,
                    node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_array_get_length (json_node_get_array (node))
                                                                 : 0);
  /* an Up without client_keys: hyphaed's own keys */
  g_assert_cmpint (hyphae_client_get_keys_owner (client), ==, HYPHAE_KEYS_OWNER_DAEMON);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (hyphae_client_get_peers (client))), ==,
                    json_object_get_size (json_object_get_object_member (st, "Peer")));
}

/* hyphaectl down and up elsewhere: the state notifies arrive, in order,
 * each a change. */
static void
test_state_order (void)
{
  g_string_truncate (states, 0);
  hyphaectl ("down", NULL);
  wait_for (state_is, GINT_TO_POINTER (HYPHAE_STATE_STOPPED));
  g_assert_cmpstr (states->str, ==, "stopped ");

  g_string_truncate (states, 0);
  hyphaectl ("up", NULL);
  wait_for (state_is, GINT_TO_POINTER (HYPHAE_STATE_RUNNING));
  g_test_message ("states during up: %s", states->str);
  /* Up re-registers (NeedsLogin for a moment), then Starting, Running: in
   * that order, each once, whichever of the first two the daemon showed. */
  g_assert_true (g_regex_match_simple ("^(needs-login )?(starting )?running $", states->str, 0, 0));
}

static gboolean
shields_up_is (gpointer want)
{
  gboolean b;

  g_object_get (client, "shields-up", &b, NULL);
  return b == GPOINTER_TO_INT (want);
}

static void
count_notify (GObject *object,
              GParamSpec *pspec,
              gpointer data)
{
  (*(guint *) data)++;
}

/* A pref setter round trip, notified once; a bad exit node is
 * INVALID_ARGUMENT; no daemon change without a notify. */
static void
test_prefs_and_errors (void)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint notified = 0;
  gulong id = g_signal_connect (client, "notify::shields-up", G_CALLBACK (count_notify), &notified);

  hyphae_client_set_shields_up (client, TRUE, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (shields_up_is, GINT_TO_POINTER (TRUE));
  hyphae_client_set_shields_up (client, TRUE, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  hyphae_client_set_shields_up (client, FALSE, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (shields_up_is, GINT_TO_POINTER (FALSE));
  g_assert_cmpuint (notified, ==, 2);
  g_signal_handler_disconnect (client, id);

  hyphae_client_set_exit_node (client, "no-such-node", NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_nonnull (error);
  g_assert_cmpint (hyphae_client_error_failure (error), ==, HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT);
}

static HyphaePeer *
find_host (const char *host)
{
  GListModel *peers = G_LIST_MODEL (hyphae_client_get_peers (client));

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(HyphaePeer) p = g_list_model_get_item (peers, i);

      if (g_str_equal (hyphae_peer_get_host_name (p), host))
        return p; /* the list keeps it */
    }
  return NULL;
}

static gboolean
has_peer (gpointer host)
{
  return find_host (host) != NULL;
}

static gboolean
peer_online (gpointer peer)
{
  return hyphae_peer_get_online (peer);
}

static gboolean
peer_offline (gpointer peer)
{
  return !hyphae_peer_get_online (peer);
}

static gboolean
exit_node_is (gpointer peer)
{
  return hyphae_client_get_exit_node (client) == peer;
}

static void
on_peer_notify (GObject *object,
                GParamSpec *pspec,
                gpointer data)
{
  g_string_append_printf (peer_notes, "%s ", pspec->name);
}

static void
on_items_changed (GListModel *model,
                  guint position,
                  guint removed,
                  guint added,
                  gpointer data)
{
  g_string_append_printf (changes, "%u,%u,%u;", position, removed, added);
}

/* A peer joins (it offers to be an exit node: chosen, exit-node follows),
 * then goes offline: the same object, one notify::online, one (pos,1,1). */
static void
test_peer_offline_in_place (void)
{
  g_autofree char *url_arg = g_strdup (g_getenv ("CONTROL_URL"));
  const char *argv[] = { g_getenv ("HYPHAE_TS2021_CONTROL"), "-role", "mapclient", "-url", url_arg,
                         "-auth-key", "tskey-right", "-hostname", "peer-b", "-endpoints", "127.0.0.1:41998",
                         "-routes", "0.0.0.0/0,::/0", "-timeout", "600s", NULL };
  g_autoptr(GSubprocess) mapclient = spawn (argv);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  HyphaePeerList *list = hyphae_client_get_peers (client);
  g_autofree char *expected = NULL;
  HyphaePeer *peer;
  guint pos;
  gulong changed_id;

  wait_for (has_peer, "peer-b");
  peer = find_host ("peer-b");
  g_assert_true (hyphae_peer_list_lookup (list, hyphae_peer_get_id (peer)) == peer);
  g_assert_true (hyphae_peer_get_exit_node_option (peer));

  hyphae_client_set_exit_node (client, hyphae_peer_get_id (peer), NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (exit_node_is, peer);
  hyphae_client_set_exit_node (client, "", NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (exit_node_is, NULL);

  wait_for (peer_online, peer);
  g_assert_true (g_list_model_get_n_items (G_LIST_MODEL (list)) > 0);
  g_object_add_weak_pointer (G_OBJECT (peer), (gpointer *) &peer);
  g_signal_connect (peer, "notify", G_CALLBACK (on_peer_notify), NULL);
  changed_id = g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), NULL);
  g_string_truncate (peer_notes, 0);
  g_string_truncate (changes, 0);

  g_subprocess_force_exit (mapclient);
  wait_for (peer_offline, peer);
  g_assert_nonnull (peer); /* never replaced */
  g_assert_true (find_host ("peer-b") == peer);
  for (pos = 0; pos < g_list_model_get_n_items (G_LIST_MODEL (list)); pos++)
    {
      g_autoptr(HyphaePeer) p = g_list_model_get_item (G_LIST_MODEL (list), pos);

      if (p == peer)
        break;
    }
  expected = g_strdup_printf ("%u,1,1;", pos);
  g_test_message ("peer notifies: %s; items-changed: %s", peer_notes->str, changes->str);
  g_assert_cmpstr (changes->str, ==, expected);
  g_assert_nonnull (strstr (peer_notes->str, "online "));
  g_assert_null (strstr (strstr (peer_notes->str, "online ") + 1, "online "));
  g_signal_handler_disconnect (list, changed_id);
  g_signal_handlers_disconnect_by_func (peer, on_peer_notify, NULL);
  g_object_remove_weak_pointer (G_OBJECT (peer), (gpointer *) &peer);
}

static gboolean
restarted_and_running (gpointer data)
{
  return restarted == 1 && hyphae_client_get_daemon_state (client) == HYPHAE_DAEMON_STATE_RUNNING &&
         hyphae_client_get_state (client) == HYPHAE_STATE_RUNNING;
}

/* hyphaed stops: the client starts it again and says daemon-restarted. */
static void
test_daemon_restarted (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  g_autoptr(GVariant) reply = NULL;
  guint32 pid;

  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", HYPHAE_MESH_BUS_NAME), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  g_assert_cmpint (kill ((pid_t) pid, SIGTERM), ==, 0);
  wait_for (restarted_and_running, NULL);
  g_assert_nonnull (hyphae_client_get_self (client));
}

static char *
random_key (void)
{
  GString *s = g_string_new ("privkey:");

  for (guint i = 0; i < 8; i++)
    g_string_append_printf (s, "%08x", g_random_int ());
  return g_string_free (s, FALSE);
}

static gboolean
keys_owner_is (gpointer want)
{
  return hyphae_client_get_keys_owner (client) == (HyphaeKeysOwner) GPOINTER_TO_INT (want);
}

static gboolean
profile_is (gpointer want)
{
  g_autofree char *profile = NULL;

  g_object_get (client, "profile", &profile, NULL);
  return g_strcmp0 (profile, want) == 0;
}

/* The app's way: SetKeys (its keyring's keys, a profile), then Up with
 * client_keys: a new node on those keys, keys-owner CLIENT. */
static void
test_client_keys (void)
{
  g_autofree char *machine = random_key (), *node = random_key ();
  HyphaeUpOptions options = {
    .control_url = g_getenv ("CONTROL_URL"), .auth_key = "tskey-right", .client_keys = TRUE
  };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  hyphae_client_set_keys (client, "work", machine, node, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (keys_owner_is, GINT_TO_POINTER (HYPHAE_KEYS_OWNER_CLIENT));
  wait_for (profile_is, "work");
  hyphae_client_up (client, &options, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_no_error (error);
  wait_for (state_is, GINT_TO_POINTER (HYPHAE_STATE_RUNNING));
  g_assert_cmpint (hyphae_client_get_keys_owner (client), ==, HYPHAE_KEYS_OWNER_CLIENT);
}

/* As uid 65534 (no polkit rule for it): Down is refused, typed. */
static int
not_authorized (void)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  wait_for (daemon_state_is, GINT_TO_POINTER (HYPHAE_DAEMON_STATE_RUNNING));
  hyphae_client_down (client, NULL, on_result, &result);
  error = finish_call (&result);
  g_assert_nonnull (error);
  g_assert_cmpint (hyphae_client_error_failure (error), ==, HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED);
  g_print ("ok NOT_AUTHORIZED: %s\n", error->message);
  g_object_unref (client);
  return 0;
}

int
main (int argc,
      char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  client = hyphae_client_new (G_BUS_TYPE_SYSTEM);
  if (argc > 1 && g_str_equal (argv[1], "--not-authorized"))
    return not_authorized ();

  states = g_string_new (NULL);
  peer_notes = g_string_new (NULL);
  changes = g_string_new (NULL);
  g_signal_connect (client, "notify::state", G_CALLBACK (on_state), NULL);
  g_signal_connect (client, "auth-url-ready", G_CALLBACK (on_auth_url_ready), NULL);
  g_signal_connect (client, "daemon-restarted", G_CALLBACK (on_restarted), NULL);
  g_test_add_func ("/client/daemon-state", test_daemon_state);
  g_test_add_func ("/client/auth-url-ready", test_auth_url);
  g_test_add_func ("/client/up-and-properties", test_up_and_properties);
  g_test_add_func ("/client/state-order", test_state_order);
  g_test_add_func ("/client/prefs-and-errors", test_prefs_and_errors);
  g_test_add_func ("/client/peer-offline-in-place", test_peer_offline_in_place);
  g_test_add_func ("/client/daemon-restarted", test_daemon_restarted);
  g_test_add_func ("/client/client-keys", test_client_keys);
  rc = g_test_run ();

  /* A GetPeers may still be in flight: its task holds the client until its
   * (cancelled) callback has run. */
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_object_unref (client);
  wait_for (is_null, &client);
  g_string_free (states, TRUE);
  g_string_free (peer_notes, TRUE);
  g_string_free (changes, TRUE);
  g_free (auth_url);
  return rc;
}
