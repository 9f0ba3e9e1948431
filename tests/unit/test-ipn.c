/* SPDX-License-Identifier: MIT */
/*
 * HyphaeIpn end to end against the independent Go control server
 * (tests/ts2021/control.go in its tailnet mode): Up with an auth key →
 * Running with the 100.64.0.N address on the TUN and the policy rules in
 * place; a second node (a plain HyphaeControlClient) registers and shows up
 * as a WireGuard peer (checked with the real `wg show`), and sees our
 * endpoint; Down → Stopped with the TUN, addresses, routes and rules gone;
 * Up again; a new HyphaeIpn on the same state dir comes back by itself with
 * the same keys; Logout → NeedsLogin with the node key deleted and the
 * machine key kept; a machine the server has not authorized yet waits in
 * NeedsMachineAuth until the admin approves it.
 *
 * Runs in a network and mount namespace of its own (fixture-netns.h, entered
 * at the start of main, before any thread): the Go server listens on that
 * namespace's loopback, a veth gives the node a LAN address to report, and a
 * private tmpfs on /run/wireguard lets `wg show` find our UAPI socket.
 * Needs root; skipped otherwise, unless $CI is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "fixture-files.h"
#include "fixture-missing.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "hyphae-control-client.h"
#include "hyphae-ipn.h"
#include "profile-keys.h"
#include "ts2021-fixture.h"

#define TUN     "hyi0"
#define GUARD_S 30

/* The whole process is in it: the engine's threads and the Go children too. */
static FixtureNetns netns;

static void
enter_namespaces (void)
{
  fixture_netns_init ();
  fixture_netns_setup (&netns, NULL);
  if (!netns.entered)
    return;
  g_free (fixture_run ("ip link add hyi-lan type veth peer name hyi-lan1"));
  g_free (fixture_run ("ip link set hyi-lan up"));
  g_free (fixture_run ("ip link set hyi-lan1 up"));
  g_free (fixture_run ("ip addr add 192.168.88.1/24 dev hyi-lan"));
}

/* ---- waiting ------------------------------------------------------------- */

typedef struct {
  HyphaeIpn *ipn;
  HyphaeIpnState state;
} StateWait;

static gboolean
state_is (gpointer data)
{
  StateWait *w = data;

  return hyphae_ipn_get_state (w->ipn) == w->state;
}

static void
wait_state (HyphaeIpn *ipn, HyphaeIpnState state)
{
  StateWait w = { ipn, state };
  g_autofree char *what = g_strdup_printf ("state %s", hyphae_ipn_state_to_string (state));

  ts2021_fixture_wait_until (state_is, &w, GUARD_S, what);
}

/* The one peer's first endpoint is 192.0.2.9:41641: the server may send the
 * node before the endpoints it registered with reach it. */
static gboolean
ipn_peer_at_test_endpoint (gpointer data)
{
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (data);
  const HyphaeNode *p;

  if (nm == NULL || hyphae_netmap_get_n_peers (nm) != 1)
    return FALSE;
  p = hyphae_netmap_get_peer (nm, 0);
  return p->endpoints != NULL && g_strcmp0 (p->endpoints[0], "192.0.2.9:41641") == 0;
}

typedef struct {
  HyphaeControlClient *client;
  const char *prefix;
} EndpointWait;

static gboolean
client_sees_endpoint (gpointer data)
{
  EndpointWait *w = data;
  HyphaeNetmap *nm = hyphae_control_client_get_netmap (w->client);

  if (nm == NULL || hyphae_netmap_get_n_peers (nm) != 1)
    return FALSE;
  for (char **e = hyphae_netmap_get_peer (nm, 0)->endpoints; e && *e; e++)
    if (g_str_has_prefix (*e, w->prefix))
      return TRUE;
  return FALSE;
}

static gboolean
client_authorized (gpointer data)
{
  HyphaeControlState s = hyphae_control_client_get_state (data);

  return s == HYPHAE_CONTROL_STATE_SYNCED;
}

static void
up (Ts2021Fixture *f, HyphaeIpn *ipn, const char *auth_key)
{
  HyphaeIpnUpOptions opts = {
    .control_url = f->url,
    .auth_key = auth_key,
    .hostname = "ipn-test",
    .unattended = TRUE,
  };
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;

  hyphae_ipn_up_async (ipn, &opts, NULL, ts2021_fixture_store_result_cb, f);
  res = ts2021_fixture_wait_result (f, "Up");
  g_assert_true (hyphae_ipn_up_finish (ipn, res, &error));
  g_assert_no_error (error);
  wait_state (ipn, HYPHAE_IPN_STATE_RUNNING);
}

static const char *
self_v4 (HyphaeIpn *ipn)
{
  const HyphaeNode *self = hyphae_netmap_get_self (hyphae_ipn_get_netmap (ipn));

  g_assert_nonnull (self);
  for (char **a = self->addresses; a && *a; a++)
    if (g_str_has_prefix (*a, "100.64.0."))
      return *a;
  g_assert_not_reached ();
}

static void
assert_tun_up_with (const char *addr)
{
  g_autofree char *out = fixture_run ("ip -o addr show dev " TUN);
  g_autofree char *rules = fixture_run ("ip rule show");
  g_autofree char *routes = fixture_run ("ip route show table 52");

  g_assert_nonnull (strstr (out, addr));
  g_assert_nonnull (strstr (rules, "5270:"));
  g_assert_nonnull (strstr (routes, "100.64.0.0/10 dev " TUN));
}

static void
assert_tun_gone (void)
{
  gboolean ok;
  G_GNUC_UNUSED g_autofree char *out = fixture_run_status ("ip link show " TUN, &ok);
  g_autofree char *rules = fixture_run ("ip rule show");
  g_autofree char *routes = fixture_run ("ip route show table 52");

  g_assert_false (ok);
  g_assert_null (strstr (rules, "5270:"));
  g_assert_cmpstr (routes, ==, "");
}

static gboolean
check_env (void)
{
  return fixture_netns_ready (&netns);
}

static void
count_cb (HyphaeIpn *ipn, gpointer user_data)
{
  (*(int *) user_data)++;
}

static void
test_lifecycle (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(HyphaeControlClient) peer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL, *prefs = NULL, *keys_before = NULL, *keys_after = NULL;
  HyphaeControlConfig pc = { .hostname = "peer2", .os = "linux" };
  guint8 peer_pub[32];
  char peer_b64[KEY_BASE64_LEN + 1];
  HyphaeIpnPeerStats st;
  int peers_changed = 0;

  if (!check_env ())
    return;
  if (!ts2021_fixture_server_start (f, NULL))
    return;

  /* Nothing yet. */
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NO_STATE);
  g_assert_null (hyphae_ipn_get_netmap (ipn));
  g_assert_cmpstr (hyphae_ipn_get_profile (ipn), ==, "default");
  g_signal_connect (ipn, "peers-changed", G_CALLBACK (count_cb), &peers_changed);

  /* A wrong auth key is refused. */
  {
    HyphaeIpnUpOptions bad = { .control_url = f->url, .auth_key = "tskey-wrong", .unattended = TRUE };
    g_autoptr(GAsyncResult) res = NULL;

    hyphae_ipn_up_async (ipn, &bad, NULL, ts2021_fixture_store_result_cb, f);
    res = ts2021_fixture_wait_result (f, "Up with a bad key");
    g_assert_false (hyphae_ipn_up_finish (ipn, res, &error));
    g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_BAD_AUTH_KEY);
    g_clear_error (&error);
    g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_LOGIN);
  }

  /* Up with the auth key → Running, address on the TUN, rules and routes. */
  up (f, ipn, "tskey-test");
  addr = g_strdup (self_v4 (ipn));
  assert_tun_up_with (addr);
  g_assert_cmpint (peers_changed, >, 0);
  prefs = fixture_file_text (dir, "prefs.json");
  g_assert_nonnull (strstr (prefs, "\"WantRunning\" : true"));
  g_assert_nonnull (strstr (prefs, f->url));
  keys_before = fixture_file_text (dir, "profiles/default/keys");

  /* A second node registers; it becomes our WireGuard peer. */
  key_generate_private (pc.machine_priv);
  key_generate_private (pc.node_priv);
  key_generate_private (pc.disco_pub);
  pc.control_url = f->url;
  key_public_from_private (peer_pub, pc.node_priv);
  key_to_base64 (peer_b64, peer_pub);
  peer = hyphae_control_client_new (&pc);
  {
    const char *eps[] = { "192.0.2.9:41641", NULL };
    g_autoptr(GAsyncResult) res = NULL;

    hyphae_control_client_set_endpoints (peer, eps);
    hyphae_control_client_start_async (peer, "tskey-test", NULL, ts2021_fixture_store_result_cb, f);
    res = ts2021_fixture_wait_result (f, "second node");
    g_assert_true (hyphae_control_client_start_finish (peer, res, &error));
    g_assert_no_error (error);
  }
  ts2021_fixture_wait_until (client_authorized, peer, GUARD_S, "second node synced");
  ts2021_fixture_wait_until (ipn_peer_at_test_endpoint, ipn, GUARD_S, "the peer and its endpoint in our netmap");
  {
    g_autofree char *dump = fixture_run ("wg show " TUN " dump");
    const HyphaeNode *p = hyphae_netmap_get_peer (hyphae_ipn_get_netmap (ipn), 0);
    g_autofree char *want = g_strdup_printf ("%s\t(none)\t192.0.2.9:41641\t%s", peer_b64, p->addresses[0]);

    g_test_message ("%s", dump);
    g_assert_nonnull (strstr (dump, want));
  }
  g_assert_true (hyphae_ipn_get_peer_stats (ipn, peer_pub, &st));
  g_assert_cmpstr (st.endpoint, ==, "192.0.2.9:41641");
  g_assert_cmpint (st.last_handshake_unix, ==, 0);
  /* Our endpoint (the LAN address with our port) reached the other node. */
  {
    EndpointWait w = { peer, "192.168.88.1:41641" };

    ts2021_fixture_wait_until (client_sees_endpoint, &w, GUARD_S, "our endpoint at the peer");
    /* A new address is reported again (rtnetlink address watch). */
    g_free (fixture_run ("ip addr add 192.168.89.1/24 dev hyi-lan"));
    w.prefix = "192.168.89.1:41641";
    ts2021_fixture_wait_until (client_sees_endpoint, &w, GUARD_S, "our new endpoint at the peer");
  }

  /* Exit nodes: an unknown one is refused, and the peer offers none. */
  g_assert_false (hyphae_ipn_set_exit_node (ipn, "no-such-node", &error));
  g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (hyphae_ipn_set_exit_node (ipn, "", &error));
  g_assert_no_error (error);

  /* Down → Stopped: the TUN, its addresses, table 52 and the rules are gone. */
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_STOPPED);
  assert_tun_gone ();
  g_assert_false (hyphae_ipn_get_peer_stats (ipn, peer_pub, &st));
  g_clear_pointer (&prefs, g_free);
  prefs = fixture_file_text (dir, "prefs.json");
  g_assert_nonnull (strstr (prefs, "\"WantRunning\" : false"));

  /* Up again, without an auth key: the registration is kept. */
  up (f, ipn, NULL);
  g_assert_cmpstr (self_v4 (ipn), ==, addr);
  assert_tun_up_with (addr);

  /* The daemon restarts: the new instance comes back by itself, same node. */
  g_clear_object (&ipn);
  assert_tun_gone ();
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  wait_state (ipn, HYPHAE_IPN_STATE_RUNNING);
  g_assert_cmpstr (self_v4 (ipn), ==, addr);
  assert_tun_up_with (addr);
  g_assert_true (hyphae_ipn_get_prefs (ipn)->want_running);
  g_assert_cmpstr (hyphae_ipn_get_prefs (ipn)->control_url, ==, f->url);

  /* Logout → NeedsLogin; the node key is deleted, the machine key stays. */
  {
    g_autoptr(GAsyncResult) res = NULL;
    g_autoptr(HyphaeProfileKeys) k = hyphae_profile_keys_new ();

    hyphae_ipn_logout_async (ipn, NULL, ts2021_fixture_store_result_cb, f);
    res = ts2021_fixture_wait_result (f, "Logout");
    g_assert_true (hyphae_ipn_logout_finish (ipn, res, &error));
    g_assert_no_error (error);
    g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_LOGIN);
    assert_tun_gone ();
    g_assert_true (hyphae_profile_keys_load (k, dir, "default", &error));
    g_assert_no_error (error);
    g_assert_true (k->has_machine);
    g_assert_false (k->has_node);
    keys_after = fixture_file_text (dir, "profiles/default/keys");
    g_assert_true (strncmp (keys_before, keys_after, strlen ("machine=privkey:") + 64) == 0);
  }

  /* Logged out, the same machine logs in again: a new node key. */
  up (f, ipn, "tskey-test");
  {
    g_autofree char *keys_again = fixture_file_text (dir, "profiles/default/keys");
    gsize machine_line = strlen ("machine=privkey:") + 64 + 1;

    g_assert_true (strncmp (keys_before, keys_again, machine_line) == 0);
    g_assert_nonnull (strstr (keys_again, "\nnode=privkey:"));
    g_assert_cmpstr (keys_before + machine_line, !=, keys_again + machine_line);
  }
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_assert_no_error (error);

  hyphae_control_client_stop (peer);
  g_clear_object (&ipn);
  /* Objects released from idle callbacks. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

/* Keys from the desktop app: used, never written, forgotten on logout. */
static void
test_app_keys (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  g_autofree char *keys_path = g_build_filename (dir, "profiles", "default", "keys", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  guint8 machine[32], node[32], zero[32] = { 0 };
  HyphaeIpnSetKeysResult result;

  if (!check_env () || !ts2021_fixture_server_start (f, NULL))
    return;
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  g_assert_false (hyphae_ipn_set_keys (ipn, zero, zero, NULL, NULL, &error));
  g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* An Up for the app's keys before it gave them: refused, no keys made. */
  {
    HyphaeIpnUpOptions app_up = { .control_url = f->url, .auth_key = "tskey-test" };
    g_autoptr(GAsyncResult) res = NULL;

    hyphae_ipn_up_async (ipn, &app_up, NULL, ts2021_fixture_store_result_cb, f);
    res = ts2021_fixture_wait_result (f, "Up");
    g_assert_false (hyphae_ipn_up_finish (ipn, res, &error));
    g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_NEEDS_LOGIN);
    g_clear_error (&error);
    g_assert_true (g_str_has_prefix (hyphae_ipn_get_health (ipn)[0], "SetKeys first"));
    g_assert_false (g_file_test (keys_path, G_FILE_TEST_EXISTS));
    g_assert_cmpint (hyphae_ipn_get_keys_owner (ipn), ==, HYPHAE_IPN_KEYS_OWNER_NONE);
  }
  key_generate_private (machine);
  key_generate_private (node);
  g_assert_true (hyphae_ipn_set_keys (ipn, machine, node, "work", &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, HYPHAE_IPN_SET_KEYS_NEW_NODE);
  g_assert_cmpint (hyphae_ipn_get_keys_owner (ipn), ==, HYPHAE_IPN_KEYS_OWNER_CLIENT);
  g_assert_cmpstr (hyphae_ipn_get_profile (ipn), ==, "work");
  g_assert_null (hyphae_ipn_get_health (ipn)[0]);
  up (f, ipn, "tskey-test");
  assert_tun_up_with ("100.64.0.");
  {
    const HyphaeNode *self = hyphae_netmap_get_self (hyphae_ipn_get_netmap (ipn));
    guint8 pub[32];

    key_public_from_private (pub, node);
    g_assert_cmpmem (self->key, 32, pub, 32);
  }
  g_assert_false (g_file_test (keys_path, G_FILE_TEST_EXISTS));
  /* The same keys again (the app restarted): the session goes on. */
  g_assert_true (hyphae_ipn_set_keys (ipn, machine, node, "work", &result, &error));
  g_assert_cmpint (result, ==, HYPHAE_IPN_SET_KEYS_SAME);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_RUNNING);
  g_assert_nonnull (hyphae_ipn_get_netmap (ipn));

  {
    g_autoptr(GAsyncResult) res = NULL;

    hyphae_ipn_logout_async (ipn, NULL, ts2021_fixture_store_result_cb, f);
    res = ts2021_fixture_wait_result (f, "Logout");
    g_assert_true (hyphae_ipn_logout_finish (ipn, res, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_LOGIN);
  g_assert_false (g_file_test (keys_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (hyphae_ipn_get_keys_owner (ipn), ==, HYPHAE_IPN_KEYS_OWNER_NONE);
  g_assert_cmpstr (hyphae_ipn_get_profile (ipn), ==, "default");
  assert_tun_gone ();
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

typedef struct {
  HyphaeIpn *ipn;
  const char *hostname;
} ExitWait;

static const HyphaeNode *
find_exit (HyphaeIpn *ipn, const char *hostname)
{
  HyphaeNetmap *nm = hyphae_ipn_get_netmap (ipn);

  for (guint i = 0; nm != NULL && i < hyphae_netmap_get_n_peers (nm); i++)
    {
      const HyphaeNode *p = hyphae_netmap_get_peer (nm, i);

      if (g_strcmp0 (p->hostname, hostname) == 0 && p->exit_node_option)
        return p;
    }
  return NULL;
}

/* Offered, and online (the server says so once its map stream is up):
 * an offline exit node takes no traffic unless the kill switch is on. */
static gboolean
exit_offered (gpointer data)
{
  ExitWait *w = data;
  const HyphaeNode *n = find_exit (w->ipn, w->hostname);

  return n != NULL && !(n->online_known && !n->online);
}

/* Route for an address, and a Health line (exit: the exit node gone offline). */
typedef struct {
  HyphaeIpn *ipn;
  const char *route_args;
  const char *dev;
  const char *health;
} RouteWait;

static gboolean
health_has (HyphaeIpn *ipn, const char *needle)
{
  for (const char * const *h = hyphae_ipn_get_health (ipn); h != NULL && *h != NULL; h++)
    if (strstr (*h, needle) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
route_and_health (gpointer data)
{
  RouteWait *w = data;
  g_autofree char *dev = fixture_route_dev (w->route_args);

  return g_strcmp0 (dev, w->dev) == 0 && health_has (w->ipn, w->health);
}

static void
assert_route_dev (const char *args, const char *want)
{
  g_autofree char *dev = fixture_route_dev (args);

  g_assert_cmpstr (dev, ==, want);
}

/* An exit node offered by another node (Tailscale's Go-side map client,
 * routes approved by the server): selecting it routes /0 into the TUN and
 * gives that peer 0.0.0.0/0 and ::/0; RouteAll takes its subnet route. */
static void
test_exit_node (Ts2021Fixture *f, gconstpointer user_data)
{
  const char *bin = g_getenv ("HYPHAE_TS2021_CONTROL");
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GSubprocess) exit_node = NULL;
  g_autoptr(GError) error = NULL;
  ExitWait w;
  HyphaeIpnPrefs p = { 0 };
  const HyphaeNode *node;
  g_autofree char *stable_id = NULL;

  if (!check_env ())
    return;
  if (bin == NULL)
    {
      fixture_missing ("HYPHAE_TS2021_CONTROL is not set (run through meson test)");
      return;
    }
  if (!ts2021_fixture_server_start (f, "-approve-routes", NULL))
    return;
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  up (f, ipn, "tskey-test");

  {
    const char *argv[] = { bin, "-role", "mapclient", "-url", f->url, "-auth-key", "tskey-test",
                           "-hostname", "exit1", "-endpoints", "192.0.2.7:41641",
                           "-routes", "0.0.0.0/0,::/0,10.9.0.0/16", "-timeout", "120s", NULL };

    exit_node = fixture_child_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, argv, &error);
  }
  g_assert_no_error (error);
  w = (ExitWait) { ipn, "exit1" };
  ts2021_fixture_wait_until (exit_offered, &w, GUARD_S, "the exit node in our netmap");
  node = find_exit (ipn, "exit1");
  stable_id = g_strdup (node->stable_id);

  /* No exit node yet: /0 stays on the LAN side; no subnet route. */
  assert_route_dev ("8.8.8.8", "unreachable");
  assert_route_dev ("10.9.1.1", "unreachable");

  g_assert_true (hyphae_ipn_set_exit_node (ipn, stable_id, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hyphae_ipn_get_prefs (ipn)->exit_node_id, ==, stable_id);
  assert_route_dev ("8.8.8.8", TUN);
  assert_route_dev ("2001:4860::1", TUN);
  assert_route_dev ("192.168.88.7", TUN);                   /* no LAN access: into the tunnel */
  assert_route_dev ("8.8.8.8 mark 0x80000", "unreachable"); /* our UDP bypasses */
  {
    g_autofree char *ips = fixture_run ("wg show " TUN " allowed-ips");

    g_test_message ("%s", ips);
    g_assert_nonnull (strstr (ips, "0.0.0.0/0"));
    g_assert_nonnull (strstr (ips, "::/0"));
    g_assert_null (strstr (ips, "10.9.0.0/16"));
  }

  /* LAN access and RouteAll. */
  p.exit_node_allow_lan_access = TRUE;
  p.route_all = TRUE;
  g_assert_true (hyphae_ipn_set_prefs (ipn, &p, HYPHAE_IPN_PREF_EXIT_NODE_ALLOW_LAN_ACCESS | HYPHAE_IPN_PREF_ROUTE_ALL, &error));
  g_assert_no_error (error);
  assert_route_dev ("192.168.88.7", "hyi-lan");
  assert_route_dev ("10.9.1.1", TUN);
  {
    g_autofree char *ips = fixture_run ("wg show " TUN " allowed-ips");

    g_assert_nonnull (strstr (ips, "10.9.0.0/16"));
  }

  /* exit: the exit node goes away (the server says Online false): without
   * the kill switch /0 leaves the TUN and Health says the LAN takes it; with
   * it /0 comes back into the TUN (dropped there) and Health says so. */
  fixture_child_stop (exit_node);
  {
    RouteWait rw = { ipn, "8.8.8.8", "unreachable", "is offline: internet traffic goes out through the local network" };

    ts2021_fixture_wait_until (route_and_health, &rw, GUARD_S, "/0 off the TUN, Health: exit node offline");
    p.exit_node_kill_switch = TRUE;
    g_assert_true (hyphae_ipn_set_prefs (ipn, &p, HYPHAE_IPN_PREF_EXIT_NODE_KILL_SWITCH, &error));
    g_assert_no_error (error);
    rw = (RouteWait) { ipn, "8.8.8.8", TUN, "is offline: internet traffic is dropped" };
    g_assert_true (route_and_health (&rw));
  }

  /* Cleared: no /0 anywhere. */
  g_assert_true (hyphae_ipn_set_exit_node (ipn, "", &error));
  g_assert_no_error (error);
  assert_route_dev ("8.8.8.8", "unreachable");
  {
    g_autofree char *ips = fixture_run ("wg show " TUN " allowed-ips");

    g_assert_null (strstr (ips, "0.0.0.0/0"));
  }
  g_assert_false (health_has (ipn, "Exit node"));

  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

typedef struct {
  HyphaeIpn *ipn;
  GVariant *rotated; /* the last "keys-rotated" a{sv} */
} RotationWait;

static void
on_keys_rotated (HyphaeIpn *ipn, GVariant *keys, gpointer user_data)
{
  RotationWait *w = user_data;

  g_clear_pointer (&w->rotated, g_variant_unref);
  w->rotated = g_variant_ref (keys);
}

static gboolean
rotated_and_running (gpointer data)
{
  RotationWait *w = data;

  return w->rotated != NULL && hyphae_ipn_get_state (w->ipn) == HYPHAE_IPN_STATE_RUNNING;
}

/* The server expires our node key: the client rotates it; we persist it,
 * tell the keyring owner, and the engine takes the new static key. */
static void
test_key_rotation (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeProfileKeys) k = hyphae_profile_keys_new ();
  RotationWait w = { 0 };
  const char *text = NULL, *profile = NULL;
  guint8 new_priv[32], new_pub[32], old_node[32];
  char b64[KEY_BASE64_LEN + 1];

  if (!check_env () || !ts2021_fixture_server_start (f, NULL))
    return;
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  w.ipn = ipn;
  g_signal_connect (ipn, "keys-rotated", G_CALLBACK (on_keys_rotated), &w);
  up (f, ipn, "tskey-test");
  g_assert_true (hyphae_profile_keys_load (k, dir, "default", &error));
  memcpy (old_node, k->node, 32);

  ts2021_fixture_http_ok (f, "POST", "/debug/expire?node=1");
  ts2021_fixture_wait_until (rotated_and_running, &w, GUARD_S, "the node key rotation");

  g_assert_true (g_variant_lookup (w.rotated, "node-key", "&s", &text));
  g_assert_true (g_variant_lookup (w.rotated, "profile", "&s", &profile));
  g_assert_cmpstr (profile, ==, "default");
  g_assert_cmpint (key_from_text (new_priv, KEY_PREFIX_PRIVATE, text, strlen (text)), ==, 0);
  g_assert_true (key_public_from_private (new_pub, new_priv));
  g_assert_cmpmem (hyphae_netmap_get_self (hyphae_ipn_get_netmap (ipn))->key, 32, new_pub, 32);
  /* Persisted (daemon-owned profile) … */
  g_assert_true (hyphae_profile_keys_load (k, dir, "default", &error));
  g_assert_cmpmem (k->node, 32, new_priv, 32);
  g_assert_false (key_equal (k->node, old_node));
  /* … and the engine's static key. */
  {
    g_autofree char *pub = fixture_run ("wg show " TUN " public-key");

    key_to_base64 (b64, new_pub);
    g_assert_nonnull (strstr (pub, b64));
  }
  g_clear_pointer (&w.rotated, g_variant_unref);
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

/* No auth key: Up completes with the AuthURL waiting (NeedsLogin); opening
 * it (the server approves on GET) brings the node to Running. */
static void
test_interactive (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  HyphaeIpnUpOptions up_opts = { .unattended = TRUE };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  const char *url, *path;

  if (!check_env () || !ts2021_fixture_server_start (f, "-interactive", NULL))
    return;
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  up_opts.control_url = f->url;
  hyphae_ipn_up_async (ipn, &up_opts, NULL, ts2021_fixture_store_result_cb, f);
  res = ts2021_fixture_wait_result (f, "Up (interactive)");
  g_assert_true (hyphae_ipn_up_finish (ipn, res, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_LOGIN);
  url = hyphae_ipn_get_auth_url (ipn);
  g_assert_true (g_str_has_prefix (url, f->url));
  path = strstr (url, "/auth/");
  g_assert_nonnull (path);
  ts2021_fixture_http_ok (f, "GET", path);
  wait_state (ipn, HYPHAE_IPN_STATE_RUNNING);
  g_assert_cmpstr (hyphae_ipn_get_auth_url (ipn), ==, "");
  assert_tun_up_with ("100.64.0.");
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

static gboolean
ipn_has_netmap (gpointer data)
{
  return hyphae_ipn_get_netmap (data) != NULL;
}

/* The server requires an admin's approval of new machines (-machine-auth):
 * Up completes once registered, the node waits in NeedsMachineAuth, and the
 * approval (pushed on the map stream) brings it to Running. */
static void
test_machine_auth (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  HyphaeIpnUpOptions up_opts = { .auth_key = "tskey-test", .unattended = TRUE };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  if (!check_env () || !ts2021_fixture_server_start (f, "-machine-auth", NULL))
    return;
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  up_opts.control_url = f->url;
  hyphae_ipn_up_async (ipn, &up_opts, NULL, ts2021_fixture_store_result_cb, f);
  res = ts2021_fixture_wait_result (f, "Up (machine auth)");
  g_assert_true (hyphae_ipn_up_finish (ipn, res, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_MACHINE_AUTH);
  g_assert_cmpstr (hyphae_ipn_get_auth_url (ipn), ==, "");
  /* The map of ourselves alone arrives; still waiting for the admin. */
  ts2021_fixture_wait_until (ipn_has_netmap, ipn, GUARD_S, "the unauthorized netmap");
  g_assert_false (hyphae_netmap_get_self (hyphae_ipn_get_netmap (ipn))->machine_authorized);
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NEEDS_MACHINE_AUTH);

  ts2021_fixture_http_ok (f, "POST", "/debug/authorize?node=1");
  wait_state (ipn, HYPHAE_IPN_STATE_RUNNING);
  g_assert_true (hyphae_netmap_get_self (hyphae_ipn_get_netmap (ipn))->machine_authorized);
  assert_tun_up_with (self_v4 (ipn));
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_assert_no_error (error);
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

/* What keeps the engine from starting, each a separate case. */
typedef enum {
  BUSY_TUN,    /* a veth holds the TUN's name */
  BUSY_UAPI,   /* another daemon listens on the UAPI socket */
  BUSY_PORT,   /* another socket holds the UDP port */
  BUSY_NETCFG, /* IPv6 disabled on new links: the TUN refuses its fd7a: address */
} Busy;

typedef struct {
  const char *ifname;
  Busy busy;
  const char *health; /* what Health and the error say */
} EngineCase;

static const EngineCase engine_cases[] = {
  { "hyi-busy", BUSY_TUN, "Cannot start the WireGuard engine" },
  { "hyi-uapi", BUSY_UAPI, "Cannot start the WireGuard engine: Address already in use" },
  { "hyi-port", BUSY_PORT, "Cannot start the WireGuard engine: Address already in use" },
  { "hyi-nocfg", BUSY_NETCFG, "Cannot configure the network" },
};

#define BUSY_UDP_PORT 41777

/* Returns the fd that holds the resource (or -1 for the veth). */
static int
occupy (const EngineCase *c)
{
  int fd = -1;

  switch (c->busy)
    {
    case BUSY_TUN:
      g_free (fixture_run ("ip link add hyi-busy type veth peer name hyi-busy1"));
      break;
    case BUSY_UAPI:
      {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };

        g_snprintf (sun.sun_path, sizeof sun.sun_path, "/run/wireguard/%s.sock", c->ifname);
        fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint (fd, >=, 0);
        g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
        g_assert_cmpint (listen (fd, 1), ==, 0);
        break;
      }
    case BUSY_PORT:
      {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (BUSY_UDP_PORT) };

        fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint (fd, >=, 0);
        g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
        break;
      }
    case BUSY_NETCFG:
      /* This test's own network namespace only. */
      g_free (fixture_run ("sysctl -qw net.ipv6.conf.default.disable_ipv6=1"));
      break;
    }
  return fd;
}

static gboolean
health_mentions (HyphaeIpn *ipn, const char *what)
{
  const char * const *h = hyphae_ipn_get_health (ipn);

  for (; h != NULL && *h != NULL; h++)
    if (strstr (*h, what) != NULL)
      return TRUE;
  return FALSE;
}

/* The engine cannot start: the Up itself fails with HYPHAE_IPN_ERROR_ENGINE
 * and the reason (it used to succeed and leave the node Starting for ever,
 * and `hyphaectl up` waiting in silence); the session stops (State Stopped,
 * no TUN left), Health keeps the reason until Down. */
static void
test_engine_failure (Ts2021Fixture *f, gconstpointer user_data)
{
  const EngineCase *c = user_data;
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = c->ifname };
  HyphaeIpnUpOptions up_opts = { .auth_key = "tskey-test", .unattended = TRUE };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *show = g_strdup_printf ("ip link show %s", c->ifname);
  g_autofree char *out = NULL;
  g_autofree char *warning = g_strconcat (c->health, "*", NULL);
  gboolean ok;
  int fd;

  if (!check_env () || !ts2021_fixture_server_start (f, NULL))
    return;
  if (c->busy == BUSY_PORT)
    opts.listen_port = BUSY_UDP_PORT;
  fd = occupy (c);
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  up_opts.control_url = f->url;
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, warning);
  hyphae_ipn_up_async (ipn, &up_opts, NULL, ts2021_fixture_store_result_cb, f);
  res = ts2021_fixture_wait_result (f, "Up");
  g_assert_false (hyphae_ipn_up_finish (ipn, res, &error));
  g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_ENGINE);
  g_assert_nonnull (strstr (error->message, c->health));
  g_clear_error (&error);
  g_test_assert_expected_messages ();
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_STOPPED);
  g_assert_true (health_mentions (ipn, c->health));
  if (c->busy != BUSY_TUN)
    {
      out = fixture_run_status (show, &ok);
      g_assert_false (ok);
    }
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_assert_false (health_mentions (ipn, "WireGuard engine"));
  g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_STOPPED);
  if (c->busy == BUSY_TUN)
    g_free (fixture_run ("ip link del hyi-busy"));
  if (fd >= 0)
    close (fd);
  if (c->busy == BUSY_UAPI)
    g_unlink ("/run/wireguard/hyi-uapi.sock");
  if (c->busy == BUSY_NETCFG)
    g_free (fixture_run ("sysctl -qw net.ipv6.conf.default.disable_ipv6=0"));
  g_clear_object (&ipn);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fixture_rm_rf (dir);
}

static void
write_keys_file (const char *dir, mode_t mode, uid_t uid)
{
  g_autofree char *kdir = g_build_filename (dir, "profiles", "default", NULL);
  g_autofree char *path = g_build_filename (kdir, "keys", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("machine=privkey:%s\nnode=privkey:%s\n",
                                           "11111111111111111111111111111111"
                                           "11111111111111111111111111111111",
                                           "22222222222222222222222222222222"
                                           "22222222222222222222222222222222");

  g_assert_cmpint (g_mkdir_with_parents (kdir, 0700), ==, 0);
  g_assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, mode, &error));
  g_assert_no_error (error);
  g_assert_cmpint (chmod (path, mode), ==, 0);
  g_assert_cmpint (chown (path, uid, (gid_t) -1), ==, 0);
}

/* A keys file that another user owns, or that others may read, is refused
 * with a clear error in the log and Health, never read and never replaced;
 * a state dir that already exists with mode 0755 is tightened to 0700. */
static void
test_keys_file_checks (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  g_autofree char *keys_path = g_build_filename (dir, "profiles", "default", "keys", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = "hyi-keys" };
  HyphaeIpnUpOptions up_opts = { .control_url = "http://127.0.0.1:1", .unattended = TRUE };
  const struct {
    mode_t mode;
    uid_t uid;
  } bad[] = { { 0644, 0 }, { 0640, 0 }, { 0600, 65534 } };
  g_autofree char *before = NULL;
  struct stat st;

  if (!check_env ())
    return;
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  {
    g_autoptr(GError) error = NULL;
    G_GNUC_UNUSED g_autoptr(HyphaeIpn) ipn = hyphae_ipn_new (&opts, &error);

    g_assert_no_error (error);
    g_assert_cmpint (stat (dir, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(HyphaeIpn) ipn = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GAsyncResult) res = NULL;
      g_autofree char *after = NULL;

      write_keys_file (dir, bad[i].mode, bad[i].uid);
      g_clear_pointer (&before, g_free);
      g_assert_true (g_file_get_contents (keys_path, &before, NULL, NULL));
      g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "Refusing the keys file*");
      ipn = hyphae_ipn_new (&opts, &error);
      g_assert_no_error (error);
      g_test_assert_expected_messages ();
      g_assert_true (health_mentions (ipn, "Refusing the keys file"));
      /* Not read: no keys, so not logged in. */
      g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_NO_STATE);
      /* Up neither reads nor replaces it. */
      hyphae_ipn_up_async (ipn, &up_opts, NULL, ts2021_fixture_store_result_cb, f);
      res = ts2021_fixture_wait_result (f, "Up with a refused keys file");
      g_assert_false (hyphae_ipn_up_finish (ipn, res, &error));
      g_assert_error (error, HYPHAE_IPN_ERROR, HYPHAE_IPN_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "Refusing the keys file"));
      g_assert_true (g_file_get_contents (keys_path, &after, NULL, NULL));
      g_assert_cmpstr (after, ==, before);
      g_clear_object (&ipn);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  /* Ours and 0600: read. */
  write_keys_file (dir, 0600, geteuid ());
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(HyphaeIpn) ipn = hyphae_ipn_new (&opts, &error);

    g_assert_no_error (error);
    g_assert_false (health_mentions (ipn, "Refusing"));
    g_assert_cmpint (hyphae_ipn_get_state (ipn), ==, HYPHAE_IPN_STATE_STOPPED);
  }
  fixture_rm_rf (dir);
}

/* ---- osdns: the OS resolver follows the state ------------------------- */

/* Never the host's: every HyphaeIpn here writes this one (set in main). */
static char *resolv_conf_dir;
static char *resolv_conf;

#define ORIGINAL_RESOLV_CONF "# the machine's own\nnameserver 192.0.2.53\nsearch lan.example\n"

static char *
dns_status_string (HyphaeIpn *ipn,
                   const char *key)
{
  g_autoptr(GVariant) st = g_variant_ref_sink (hyphae_ipn_get_dns_status (ipn));
  g_autoptr(GVariant) v = g_variant_lookup_value (st, key, NULL);

  if (v == NULL)
    return g_strdup ("");
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const char **strv = g_variant_get_strv (v, NULL);

      return g_strjoinv (",", (char **) strv);
    }
  return g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) ? g_variant_dup_string (v, NULL) : g_variant_print (v, FALSE);
}

static char *
resolv_conf_text (void)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (resolv_conf, &text, NULL, NULL));
  return text;
}

static void
test_os_dns (Ts2021Fixture *f, gconstpointer user_data)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-state-XXXXXX", NULL);
  g_autofree char *state_file = g_build_filename (dir, "os-dns.state", NULL);
  HyphaeIpnOptions opts = { .state_dir = dir, .ifname = TUN };
  HyphaeIpnPrefs p = { .corp_dns = FALSE };
  g_autoptr(HyphaeIpn) ipn = NULL;
  g_autoptr(GError) error = NULL;
  int changes = 0;

  if (!check_env ())
    return;
  if (!ts2021_fixture_server_start (f, NULL))
    return;
  g_assert_true (g_file_set_contents (resolv_conf, ORIGINAL_RESOLV_CONF, -1, NULL));
  ipn = hyphae_ipn_new (&opts, &error);
  g_assert_no_error (error);
  g_signal_connect (ipn, "dns-changed", G_CALLBACK (count_cb), &changes);

  /* Running with CorpDNS (the default) and a tailnet with MagicDNS (the Go
   * server sends Proxied): our resolver, the original as fallback. No
   * resolved on this (absent) system bus: direct mode. */
  up (f, ipn, "tskey-test");
  {
    g_autofree char *mode = dns_status_string (ipn, "Mode");
    g_autofree char *ns = dns_status_string (ipn, "Nameservers");
    g_autofree char *text = resolv_conf_text ();
    g_autofree char *err = dns_status_string (ipn, "Error");

    g_assert_cmpstr (mode, ==, "direct");
    g_assert_cmpstr (err, ==, "");
    g_assert_cmpstr (ns, ==, "100.100.100.100,fd7a:115c:a1e0::53");
    g_assert_nonnull (strstr (text, "nameserver 100.100.100.100\n"));
    g_assert_nonnull (strstr (text, "lan.example"));
    g_assert_true (g_file_test (state_file, G_FILE_TEST_EXISTS));
    g_assert_cmpint (changes, >, 0);
  }

  /* CorpDNS off: the machine's own again; on: ours. */
  g_assert_true (hyphae_ipn_set_prefs (ipn, &p, HYPHAE_IPN_PREF_CORP_DNS, &error));
  g_assert_no_error (error);
  {
    g_autofree char *text = resolv_conf_text ();
    g_autofree char *ns = dns_status_string (ipn, "Nameservers");

    g_assert_cmpstr (text, ==, ORIGINAL_RESOLV_CONF);
    g_assert_cmpstr (ns, ==, "");
  }
  p.corp_dns = TRUE;
  g_assert_true (hyphae_ipn_set_prefs (ipn, &p, HYPHAE_IPN_PREF_CORP_DNS, &error));
  {
    g_autofree char *text = resolv_conf_text ();

    g_assert_nonnull (strstr (text, "nameserver 100.100.100.100\n"));
  }

  /* Down: restored byte for byte, nothing left to recover. */
  g_assert_true (hyphae_ipn_down (ipn, &error));
  g_assert_no_error (error);
  {
    g_autofree char *text = resolv_conf_text ();

    g_assert_cmpstr (text, ==, ORIGINAL_RESOLV_CONF);
    g_assert_false (g_file_test (state_file, G_FILE_TEST_EXISTS));
  }

  /* Up again, then the daemon goes away (dispose): restored too. */
  up (f, ipn, "tskey-test");
  {
    g_autofree char *text = resolv_conf_text ();

    g_assert_nonnull (strstr (text, "nameserver 100.100.100.100\n"));
  }
  g_clear_object (&ipn);
  {
    g_autofree char *text = resolv_conf_text ();

    g_assert_cmpstr (text, ==, ORIGINAL_RESOLV_CONF);
  }
  fixture_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  int ret;

  /* osdns: HyphaeIpn rewrites resolv.conf in direct mode; not the host's. */
  resolv_conf_dir = g_dir_make_tmp ("ipn-resolv-XXXXXX", NULL);
  resolv_conf = g_build_filename (resolv_conf_dir, "resolv.conf", NULL);
  g_setenv ("HYPHAE_RESOLV_CONF", resolv_conf, TRUE);
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system_bus_socket", TRUE);
  enter_namespaces ();
  g_test_init (&argc, &argv, NULL);
  TS2021_FIXTURE_ADD ("/ipn/lifecycle", NULL, test_lifecycle);
  TS2021_FIXTURE_ADD ("/ipn/app-keys", NULL, test_app_keys);
  TS2021_FIXTURE_ADD ("/ipn/exit-node", NULL, test_exit_node);
  TS2021_FIXTURE_ADD ("/ipn/key-rotation", NULL, test_key_rotation);
  TS2021_FIXTURE_ADD ("/ipn/interactive", NULL, test_interactive);
  TS2021_FIXTURE_ADD ("/ipn/machine-auth", NULL, test_machine_auth);
  TS2021_FIXTURE_ADD ("/ipn/engine-failure/tun", &engine_cases[0], test_engine_failure);
  TS2021_FIXTURE_ADD ("/ipn/engine-failure/uapi-socket", &engine_cases[1], test_engine_failure);
  TS2021_FIXTURE_ADD ("/ipn/engine-failure/udp-port", &engine_cases[2], test_engine_failure);
  TS2021_FIXTURE_ADD ("/ipn/engine-failure/netcfg", &engine_cases[3], test_engine_failure);
  TS2021_FIXTURE_ADD ("/ipn/keys-file-checks", NULL, test_keys_file_checks);
  TS2021_FIXTURE_ADD ("/ipn/os-dns", NULL, test_os_dns);
  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  fixture_netns_teardown (&netns, NULL);
  g_unlink (resolv_conf);
  g_rmdir (resolv_conf_dir);
  g_free (resolv_conf);
  g_free (resolv_conf_dir);
  return ret;
}
