/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-control-client.c (the session: dial, register, map
 * stream, reconnects) against the independent Go control server
 * (tests/ts2021/control.go in its tailnet mode): auth keys good and bad, the
 * interactive AuthURL flow approved over plain HTTP, a machine waiting for
 * an admin's approval (-machine-auth), node-key expiry and rotation, logout, a server killed and restarted on the same port,
 * PingRequests (HEAD over Noise and plain HTTP, dedup, c2n, unknown types;
 * plain HTTP refused to loopback, link-local and other local targets and
 * never redirected), server text escaped in logs and Health, and
 * every hostile map mode (the client must survive, keep its netmap, report
 * Health and come back SYNCED).
 *
 * No timing assumptions: the test hooks shorten the backoff cap and the
 * watchdog so that recoveries are quick, but every wait is "eventually",
 * bounded by a hang guard.
 */
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "hyphae-control-client.h"
#include "hyphae-log-escape.h"
#include "netmap.h"
#include "ts2021-fixture.h"

#define AUTH_KEY   "tskey-test"
#define BACKOFF_MS 200
#define GUARD_S    30

/* ---- a client and what it told us ------------------------------------------- */

typedef struct
{
  HyphaeControlClient *client;
  guint8 node_priv[32];
  guint8 node_pub[32];
  GPtrArray *netmaps; /* from "netmap" (a reference each) */
  GArray *states;     /* HyphaeControlState, each change */
  GPtrArray *healths; /* the first Health string of each non-empty change */
  char *auth_url;
  GBytes *rotated; /* the last "node-key-rotated" */
  guint n_rotated;
  gboolean backoff_kept_netmap; /* at every BACKOFF: netmap == last handed out */
  guint n_backoff;
  GAsyncResult *result;
} Client;

static void
on_netmap (HyphaeControlClient *client,
           HyphaeNetmap *nm,
           Client *c)
{
  g_assert_nonnull (nm);
  g_assert_true (hyphae_control_client_get_netmap (client) == nm);
  g_ptr_array_add (c->netmaps, hyphae_netmap_ref (nm));
}

static void
on_state (HyphaeControlClient *client,
          GParamSpec *pspec,
          Client *c)
{
  HyphaeControlState st = hyphae_control_client_get_state (client);

  g_array_append_val (c->states, st);
  g_test_message ("state %u", st);
  if (st == HYPHAE_CONTROL_STATE_BACKOFF)
    {
      HyphaeNetmap *last = c->netmaps->len ? g_ptr_array_index (c->netmaps, c->netmaps->len - 1)
                                           : NULL;

      c->n_backoff++;
      if (hyphae_control_client_get_netmap (client) != last)
        c->backoff_kept_netmap = FALSE;
    }
}

static void
on_health (HyphaeControlClient *client,
           Client *c)
{
  const char * const *h = hyphae_control_client_get_health (client);

  g_assert_nonnull (h);
  if (h[0])
    {
      g_test_message ("health: %s", h[0]);
      g_ptr_array_add (c->healths, g_strdup (h[0]));
    }
}

static void
on_auth_url (HyphaeControlClient *client,
             const char *url,
             Client *c)
{
  g_test_message ("auth-url %s", url);
  g_free (c->auth_url);
  c->auth_url = g_strdup (url);
}

static void
on_rotated (HyphaeControlClient *client,
            GBytes *priv,
            Client *c)
{
  g_assert_cmpuint (g_bytes_get_size (priv), ==, 32);
  g_clear_pointer (&c->rotated, g_bytes_unref);
  c->rotated = g_bytes_ref (priv);
  c->n_rotated++;
}

static void
client_init (Client *c,
             Ts2021Fixture *f,
             const char *hostname,
             guint watchdog_ms)
{
  HyphaeControlConfig config = { 0 };
  guint8 disco_priv[32];

  memset (c, 0, sizeof *c);
  c->netmaps = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_netmap_unref);
  c->states = g_array_new (FALSE, FALSE, sizeof (HyphaeControlState));
  c->healths = g_ptr_array_new_with_free_func (g_free);
  c->backoff_kept_netmap = TRUE;

  config.control_url = f->url;
  key_generate_private (config.machine_priv);
  key_generate_private (c->node_priv);
  g_assert_true (key_public_from_private (c->node_pub, c->node_priv));
  memcpy (config.node_priv, c->node_priv, 32);
  key_generate_private (disco_priv);
  g_assert_true (key_public_from_private (config.disco_pub, disco_priv));
  config.hostname = hostname;
  config.os = "linux";
  c->client = hyphae_control_client_new (&config);
  sodium_memzero (&config, sizeof config);
  sodium_memzero (disco_priv, sizeof disco_priv);
  g_assert_nonnull (c->client);
  g_assert_cmpint (hyphae_control_client_get_state (c->client), ==, HYPHAE_CONTROL_STATE_IDLE);
  hyphae_control_client_set_timeouts_for_testing (c->client, BACKOFF_MS, watchdog_ms);

  g_signal_connect (c->client, "netmap", G_CALLBACK (on_netmap), c);
  g_signal_connect (c->client, "notify::state", G_CALLBACK (on_state), c);
  g_signal_connect (c->client, "health-changed", G_CALLBACK (on_health), c);
  g_signal_connect (c->client, "auth-url", G_CALLBACK (on_auth_url), c);
  g_signal_connect (c->client, "node-key-rotated", G_CALLBACK (on_rotated), c);
}

static void
client_clear (Client *c)
{
  if (c->client)
    {
      hyphae_control_client_stop (c->client);
      g_signal_handlers_disconnect_by_data (c->client, c);
      g_clear_object (&c->client);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&c->netmaps, g_ptr_array_unref);
  g_clear_pointer (&c->states, g_array_unref);
  g_clear_pointer (&c->healths, g_ptr_array_unref);
  g_clear_pointer (&c->auth_url, g_free);
  g_clear_pointer (&c->rotated, g_bytes_unref);
  g_clear_object (&c->result);
  sodium_memzero (c->node_priv, sizeof c->node_priv);
}

static void
store_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  Client *c = user_data;

  g_assert_null (c->result);
  c->result = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return ((Client *) data)->result != NULL;
}

/* Start and wait for the start to complete; returns its outcome. */
static gboolean
client_start (Client *c,
              const char *auth_key,
              GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_control_client_start_async (c->client, auth_key, NULL, store_cb, c);
  ts2021_fixture_wait_until (has_result, c, GUARD_S, "start to complete");
  result = g_steal_pointer (&c->result);
  return hyphae_control_client_start_finish (c->client, result, error);
}

typedef struct
{
  Client *client;
  HyphaeControlState state;
} StateCond;

static gboolean
in_state (gpointer data)
{
  StateCond *s = data;

  return hyphae_control_client_get_state (s->client->client) == s->state;
}

static void
wait_state (Client *c,
            HyphaeControlState state)
{
  StateCond s = { c, state };
  g_autofree char *what = g_strdup_printf ("state %u", state);

  ts2021_fixture_wait_until (in_state, &s, GUARD_S, what);
}

static gboolean
saw_state (Client *c,
           HyphaeControlState state)
{
  for (guint i = 0; i < c->states->len; i++)
    if (g_array_index (c->states, HyphaeControlState, i) == state)
      return TRUE;
  return FALSE;
}

static gboolean
health_empty (Client *c)
{
  return hyphae_control_client_get_health (c->client)[0] == NULL;
}

static gboolean
start_server (Ts2021Fixture *f,
              const char *flag,
              const char *value)
{
  return ts2021_fixture_server_start (f, flag, value, NULL);
}

static const HyphaeNode *
self_node (Client *c)
{
  HyphaeNetmap *nm = hyphae_control_client_get_netmap (c->client);

  g_assert_nonnull (nm);
  return hyphae_netmap_get_self (nm);
}

/* ---- tests ----------------------------------------------------------------------- */

static void
test_auth_key (Ts2021Fixture *f,
               gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  const HyphaeNode *me;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  g_assert_no_error (error);
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_true (saw_state (&c, HYPHAE_CONTROL_STATE_REGISTERING));
  g_assert_true (saw_state (&c, HYPHAE_CONTROL_STATE_MAPPING));
  g_assert_cmpuint (c.netmaps->len, >=, 1);
  me = self_node (&c);
  g_assert_cmpint (me->id, ==, 1);
  g_assert_cmpstr (me->hostname, ==, "alpha");
  g_assert_true (key_equal (me->key, c.node_pub));
  g_assert_cmpstr (me->addresses[0], ==, "100.64.0.1/32");
  g_assert_cmpstr (me->addresses[1], ==, "fd7a:115c:a1e0::1/128");
  g_assert_true (health_empty (&c));
  g_assert_null (hyphae_control_client_get_auth_url (c.client));

  /* stop: IDLE, the netmap stays readable. */
  hyphae_control_client_stop (c.client);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_IDLE);
  g_assert_nonnull (hyphae_control_client_get_netmap (c.client));
  g_free (ts2021_fixture_server_expect_prefix (f, "map-stream 1 closed"));
  client_clear (&c);
}

static void
test_bad_auth_key (Ts2021Fixture *f,
                   gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_false (client_start (&c, "tskey-wrong", &error));
  g_assert_error (error, HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_IDLE);
  g_assert_null (hyphae_control_client_get_netmap (c.client));
  g_assert_false (health_empty (&c));
  client_clear (&c);
}

static void
test_unreachable (Ts2021Fixture *f,
                  gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  guint16 port;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  /* A port where nothing listens any more. */
  port = ts2021_fixture_port (f);
  ts2021_fixture_server_kill (f);
  client_init (&c, f, "alpha", 0);
  g_assert_false (client_start (&c, AUTH_KEY, &error));
  g_assert_error (error, HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_UNREACHABLE);
  /* It keeps trying. */
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_BACKOFF);
  g_assert_false (health_empty (&c));
  (void) port;
  client_clear (&c);
}

/* A server that accepts the connection and then says nothing: the connect
 * timeout (the watchdog's, 1 s here) turns it into a retry. */
static void
test_silent_server (Ts2021Fixture *f,
                    gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  Client c;

  if (!start_server (f, "-hostile", "silence"))
    return;
  client_init (&c, f, "alpha", 1000);
  g_assert_false (client_start (&c, AUTH_KEY, &error));
  g_assert_error (error, HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_UNREACHABLE);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_BACKOFF);
  g_assert_false (health_empty (&c));
  client_clear (&c);
}

static void
test_interactive (Ts2021Fixture *f,
                  gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  const char *path;
  Client c;

  if (!start_server (f, "-interactive", NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_AUTH_URL);
  g_assert_nonnull (c.auth_url);
  g_assert_cmpstr (hyphae_control_client_get_auth_url (c.client), ==, c.auth_url);
  path = strstr (c.auth_url, "/auth/");
  g_assert_nonnull (path);
  g_assert_null (hyphae_control_client_get_netmap (c.client));

  ts2021_fixture_http_ok (f, "GET", path);
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_null (hyphae_control_client_get_auth_url (c.client));
  g_assert_cmpint (self_node (&c)->id, ==, 1);
  g_assert_true (health_empty (&c));
  client_clear (&c);
}

static gboolean
rotated (gpointer data)
{
  Client *c = data;

  return c->n_rotated > 0 &&
         hyphae_control_client_get_state (c->client) == HYPHAE_CONTROL_STATE_SYNCED &&
         !self_node (c)->expired;
}

static void
test_key_expiry (Ts2021Fixture *f,
                 gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) addresses = NULL;
  const HyphaeNode *me;
  guint8 new_pub[32];
  gint64 id;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  me = self_node (&c);
  id = me->id;
  addresses = g_strdupv (me->addresses);

  ts2021_fixture_http_ok (f, "POST", "/debug/expire?node=1");
  ts2021_fixture_wait_until (rotated, &c, GUARD_S, "the node key rotation");
  g_assert_cmpuint (c.n_rotated, ==, 1);
  g_assert_true (key_public_from_private (new_pub, g_bytes_get_data (c.rotated, NULL)));
  g_assert_false (key_equal (new_pub, c.node_pub));
  me = self_node (&c);
  g_assert_true (key_equal (me->key, new_pub));
  g_assert_cmpint (me->id, ==, id);
  g_assert_cmpstrv (me->addresses, addresses);
  g_assert_true (health_empty (&c));
  client_clear (&c);
}

/* Interactive, then the key expires: the rotation needs a new approval. */
static void
test_key_expiry_interactive (Ts2021Fixture *f,
                             gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *first_url = NULL;
  guint8 new_pub[32];
  Client c;

  if (!start_server (f, "-interactive", NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, NULL, &error));
  g_assert_nonnull (c.auth_url);
  ts2021_fixture_http_ok (f, "GET", strstr (c.auth_url, "/auth/"));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  first_url = g_steal_pointer (&c.auth_url);

  ts2021_fixture_http_ok (f, "POST", "/debug/expire?node=1");
  wait_state (&c, HYPHAE_CONTROL_STATE_WAIT_AUTH_URL);
  g_assert_nonnull (c.auth_url);
  g_assert_cmpstr (c.auth_url, !=, first_url);
  g_assert_cmpuint (c.n_rotated, ==, 0); /* not before the server took the new key */

  ts2021_fixture_http_ok (f, "GET", strstr (c.auth_url, "/auth/"));
  ts2021_fixture_wait_until (rotated, &c, GUARD_S, "the node key rotation");
  g_assert_true (key_public_from_private (new_pub, g_bytes_get_data (c.rotated, NULL)));
  g_assert_true (key_equal (self_node (&c)->key, new_pub));
  g_assert_false (key_equal (new_pub, c.node_pub));
  g_assert_cmpint (self_node (&c)->id, ==, 1);
  client_clear (&c);
}

typedef struct
{
  Client *client;
  const char *peer;
  gboolean present;
} PeerCond;

static gboolean
peer_cond (gpointer data)
{
  PeerCond *p = data;
  HyphaeNetmap *nm = hyphae_control_client_get_netmap (p->client->client);
  gboolean found = FALSE;

  if (!nm)
    return FALSE;
  for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
    if (g_strcmp0 (hyphae_netmap_get_peer (nm, i)->hostname, p->peer) == 0)
      found = TRUE;
  return found == p->present;
}

static void
test_logout (Ts2021Fixture *f,
             gconstpointer user_data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PeerCond pc;
  Client a, b;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&a, f, "alpha", 0);
  client_init (&b, f, "bravo", 0);
  g_assert_true (client_start (&a, AUTH_KEY, &error));
  g_assert_true (client_start (&b, AUTH_KEY, &error));
  wait_state (&a, HYPHAE_CONTROL_STATE_SYNCED);
  wait_state (&b, HYPHAE_CONTROL_STATE_SYNCED);
  pc = (PeerCond) { &b, "alpha", TRUE };
  ts2021_fixture_wait_until (peer_cond, &pc, GUARD_S, "alpha in bravo's netmap");

  hyphae_control_client_logout_async (a.client, NULL, store_cb, &a);
  ts2021_fixture_wait_until (has_result, &a, GUARD_S, "the logout");
  result = g_steal_pointer (&a.result);
  g_assert_true (hyphae_control_client_logout_finish (a.client, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (a.client), ==, HYPHAE_CONTROL_STATE_IDLE);

  /* The others learn it: alpha leaves bravo's netmap. */
  pc = (PeerCond) { &b, "alpha", FALSE };
  ts2021_fixture_wait_until (peer_cond, &pc, GUARD_S, "alpha gone from bravo's netmap");
  client_clear (&a);
  client_clear (&b);
}

static gboolean
has_netmap (gpointer data)
{
  return ((Client *) data)->netmaps->len > 0;
}

/* -machine-auth: registered but not MachineAuthorized until an admin
 * approves the machine. Like tailscale's client, ours keeps its map stream
 * meanwhile (a map of itself only) and learns of the approval there, when
 * the server pushes its self Node with MachineAuthorized. */
static void
test_machine_auth (Ts2021Fixture *f,
                   gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  const HyphaeNode *me;
  guint status = 0;
  PeerCond pc;
  Client a, b;

  if (!start_server (f, "-machine-auth", NULL))
    return;

  /* bravo: node 1, approved, SYNCED. */
  client_init (&b, f, "bravo", 0);
  g_assert_true (client_start (&b, AUTH_KEY, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (b.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);
  ts2021_fixture_http_ok (f, "POST", "/debug/authorize?node=1");
  wait_state (&b, HYPHAE_CONTROL_STATE_SYNCED);

  /* alpha: node 2. The start completes once registered, not authorized. */
  client_init (&a, f, "alpha", 0);
  g_assert_true (client_start (&a, AUTH_KEY, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (a.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);
  g_assert_false (saw_state (&a, HYPHAE_CONTROL_STATE_MAPPING));
  g_assert_true (health_empty (&a));
  ts2021_fixture_wait_until (has_netmap, &a, GUARD_S, "alpha's first netmap");
  me = self_node (&a);
  g_assert_cmpint (me->id, ==, 2);
  g_assert_false (me->machine_authorized);
  g_assert_cmpuint (hyphae_netmap_get_n_peers (hyphae_control_client_get_netmap (a.client)), ==,
                    0);
  g_assert_cmpint (hyphae_control_client_get_state (a.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);

  /* Refused requests change nothing; then the admin approves alpha. */
  body = ts2021_fixture_http (f, "GET", "/debug/authorize?node=2", &status);
  g_assert_cmpuint (status, ==, 405);
  g_clear_pointer (&body, g_bytes_unref);
  body = ts2021_fixture_http (f, "POST", "/debug/authorize?node=9", &status);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_bytes_unref);
  g_assert_cmpint (hyphae_control_client_get_state (a.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);
  ts2021_fixture_http_ok (f, "POST", "/debug/authorize?node=2");

  /* The approval arrives on the same map stream: no reconnect. */
  wait_state (&a, HYPHAE_CONTROL_STATE_SYNCED);
  me = self_node (&a);
  g_assert_cmpint (me->id, ==, 2);
  g_assert_true (me->machine_authorized);
  g_assert_cmpuint (a.n_backoff, ==, 0);
  pc = (PeerCond) { &a, "bravo", TRUE };
  ts2021_fixture_wait_until (peer_cond, &pc, GUARD_S, "bravo in alpha's netmap");
  pc = (PeerCond) { &b, "alpha", TRUE };
  ts2021_fixture_wait_until (peer_cond, &pc, GUARD_S, "alpha in bravo's netmap");
  g_assert_true (health_empty (&a));
  client_clear (&a);
  client_clear (&b);
}

/* Approved while the client was stopped: the next register says so. */
static void
test_machine_auth_register (Ts2021Fixture *f,
                            gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  Client c;

  if (!start_server (f, "-machine-auth", NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==,
                   HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);
  hyphae_control_client_stop (c.client);

  ts2021_fixture_http_ok (f, "POST", "/debug/authorize?node=1");
  g_array_set_size (c.states, 0);
  /* No auth key: the re-register with the same node key is admitted. */
  g_assert_true (client_start (&c, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_MAPPING);
  g_assert_false (saw_state (&c, HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_true (self_node (&c)->machine_authorized);
  g_assert_cmpint (self_node (&c)->id, ==, 1);
  client_clear (&c);
}

static gboolean
in_backoff_with_health (gpointer data)
{
  Client *c = data;

  return hyphae_control_client_get_state (c->client) == HYPHAE_CONTROL_STATE_BACKOFF &&
         !health_empty (c);
}

static void
test_server_restart (Ts2021Fixture *f,
                     gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = NULL;
  HyphaeNetmap *before;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  before = hyphae_control_client_get_netmap (c.client);

  listen = g_strdup_printf ("127.0.0.1:%u", ts2021_fixture_port (f));
  ts2021_fixture_server_kill (f);
  ts2021_fixture_wait_until (in_backoff_with_health, &c, GUARD_S, "BACKOFF with Health");
  g_assert_true (hyphae_control_client_get_netmap (c.client) == before);

  /* A new server on the same port (new Noise key, no memory of us). */
  g_assert_true (start_server (f, "-listen", listen));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_true (hyphae_control_client_get_netmap (c.client) != before);
  g_assert_cmpint (self_node (&c)->id, ==, 1);
  g_assert_true (health_empty (&c));
  g_assert_true (c.backoff_kept_netmap);
  client_clear (&c);
}

/* /debug/nodes holds every one of the NULL-terminated texts. */
static gboolean
server_nodes_have (Ts2021Fixture *f,
                   const char * const *texts)
{
  g_autoptr(GBytes) body = NULL;
  guint status = 0;
  gsize len;
  const char *s;

  body = ts2021_fixture_http (f, "GET", "/debug/nodes", &status);
  s = g_bytes_get_data (body, &len);
  for (; status == 200 && *texts != NULL; texts++)
    if (g_strstr_len (s, (gssize) len, *texts) == NULL)
      return FALSE;
  return status == 200;
}

/* Lite updates from the client: endpoints and the exit node reach the server. */
static gboolean
server_has_endpoint (gpointer data)
{
  static const char * const texts[] = { "192.0.2.55:41641", "\"ExitNodeID\":\"stable-9\"", NULL };

  return server_nodes_have (data, texts);
}

static void
test_lite_update (Ts2021Fixture *f,
                  gconstpointer user_data)
{
  const char *eps[] = { "192.0.2.55:41641", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  hyphae_control_client_set_endpoints (c.client, eps);
  hyphae_control_client_set_exit_node_id (c.client, "stable-9");
  line = ts2021_fixture_server_expect_prefix (f, "lite-update ");
  g_assert_cmpstr (line, ==, "1");
  /* Each lite update is a real request: poll the server until it has both. */
  ts2021_fixture_wait_until (server_has_endpoint, f, GUARD_S, "the lite update on the server");
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  client_clear (&c);
}

/* NetInfo and typed endpoints: a STUN endpoint (type 2) and the home region
 * reach the server in a lite update; the latencies ride along. */
static gboolean
server_has_net_info (gpointer data)
{
  static const char * const texts[] = {
    "\"PreferredDERP\":901", "\"901-v4\":0.25", "\"WorkingUDP\":true",
    "\"Endpoints\":[\"198.51.100.9:41641\",\"192.0.2.55:41641\"]", "\"EndpointTypes\":[2,1]", NULL
  };

  return server_nodes_have (data, texts);
}

static void
test_lite_update_net_info (Ts2021Fixture *f,
                           gconstpointer user_data)
{
  const char *eps[] = { "198.51.100.9:41641", "192.0.2.55:41641", NULL };
  const guint types[] = { HYPHAE_ENDPOINT_STUN, HYPHAE_ENDPOINT_LOCAL };
  HyphaeMapNetInfo ni = { .preferred_derp = 901, .working_udp = HYPHAE_OPT_BOOL_TRUE };
  g_autoptr(GError) error = NULL;
  Client c;

  if (!start_server (f, NULL, NULL))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  wait_state (&c, HYPHAE_CONTROL_STATE_SYNCED);
  ni.n_derp_latency = 1;
  ni.derp_latency[0] = (HyphaeDerpLatency) { 901, FALSE, 0.25 };
  hyphae_control_client_set_endpoints_typed (c.client, eps, types);
  hyphae_control_client_set_net_info (c.client, &ni);
  ts2021_fixture_wait_until (server_has_net_info, f, GUARD_S, "NetInfo and typed endpoints on the server");
  client_clear (&c);
}

/* ---- hostile map streams ------------------------------------------------------- */

typedef struct
{
  const char *mode;
  gboolean good_first; /* a good netmap arrives before the fault */
  guint watchdog_ms;
} Hostile;

static gboolean
recovered (gpointer data)
{
  Client *c = data;

  return c->n_backoff > 0 &&
         hyphae_control_client_get_state (c->client) == HYPHAE_CONTROL_STATE_SYNCED;
}

static void
test_hostile (Ts2021Fixture *f,
              gconstpointer user_data)
{
  const Hostile *h = user_data;
  g_autoptr(GError) error = NULL;
  gboolean saw_map_health = FALSE;
  HyphaeNetmap *first = NULL;
  Client c;

  if (!start_server (f, "-hostile", h->mode))
    return;
  client_init (&c, f, "alpha", h->watchdog_ms);
  g_assert_true (client_start (&c, AUTH_KEY, &error));
  g_assert_no_error (error);
  ts2021_fixture_wait_until (recovered, &c, GUARD_S, "SYNCED again after the hostile stream");

  g_assert_true (c.backoff_kept_netmap);
  for (guint i = 0; i < c.healths->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (c.healths, i), "control: map stream: "))
      saw_map_health = TRUE;
  g_assert_true (saw_map_health);
  g_assert_true (health_empty (&c));
  g_assert_cmpuint (c.netmaps->len, >=, h->good_first ? 2 : 1);
  if (h->good_first)
    {
      first = g_ptr_array_index (c.netmaps, 0);
      /* The snapshot handed out before the fault is intact. */
      g_assert_cmpint (hyphae_netmap_get_self (first)->id, ==, 1);
      g_assert_cmpstr (hyphae_netmap_get_self (first)->addresses[0], ==, "100.64.0.1/32");
    }
  g_assert_cmpint (self_node (&c)->id, ==, 1);
  client_clear (&c);
}

/* ---- PingRequest --------------------------------------------------------------- */

/* POST /debug/ping?<query>: the PingRequest's ID in GET /debug/pings. */
static gint64
send_ping (Ts2021Fixture *f,
           const char *query)
{
  g_autofree char *path = g_strdup_printf ("/debug/ping?%s", query);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  guint status;
  gsize len;
  const char *data;

  body = ts2021_fixture_http (f, "POST", path, &status);
  g_assert_cmpuint (status, ==, 200);
  data = g_bytes_get_data (body, &len);
  g_assert_true (json_parser_load_from_data (parser, data, (gssize) len, &error));
  g_assert_no_error (error);
  return json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "ID");
}

typedef struct
{
  guint heads;
  guint others; /* requests with another method */
  guint wrong;  /* requests over the wrong transport */
  char *post;   /* the last POST body, NULL if none */
  guint posts;
} PingSeen;

static void
ping_seen_clear (PingSeen *seen)
{
  g_clear_pointer (&seen->post, g_free);
  memset (seen, 0, sizeof *seen);
}

/* What the server recorded for PingRequest id (GET /debug/pings). */
static void
ping_seen (Ts2021Fixture *f,
           gint64 id,
           PingSeen *seen)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *all, *posts;
  JsonObject *rec;
  guint status;
  gsize len;
  const char *data;

  ping_seen_clear (seen);
  body = ts2021_fixture_http (f, "GET", "/debug/pings", &status);
  g_assert_cmpuint (status, ==, 200);
  data = g_bytes_get_data (body, &len);
  g_assert_true (json_parser_load_from_data (parser, data, (gssize) len, &error));
  g_assert_no_error (error);
  all = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpint (id, >=, 1);
  g_assert_cmpint (id, <=, json_array_get_length (all));
  rec = json_array_get_object_element (all, (guint) id - 1);
  g_assert_cmpint (json_object_get_int_member (rec, "ID"), ==, id);
  seen->heads = (guint) json_object_get_int_member (rec, "Heads");
  seen->others = (guint) json_object_get_int_member (rec, "Other");
  seen->wrong = (guint) json_object_get_int_member (rec, "Wrong");
  posts = JSON_NODE_HOLDS_ARRAY (json_object_get_member (rec, "Posts"))
            ? json_object_get_array_member (rec, "Posts")
            : NULL;
  seen->posts = posts ? json_array_get_length (posts) : 0;
  if (seen->posts)
    seen->post = g_strdup (json_array_get_string_element (posts, seen->posts - 1));
}

typedef struct
{
  Ts2021Fixture *f;
  gint64 id;
} PingCond;

static gboolean
ping_answered (gpointer data)
{
  PingCond *p = data;
  PingSeen seen = { 0 };
  gboolean answered;

  ping_seen (p->f, p->id, &seen);
  answered = seen.heads + seen.posts + seen.others > 0;
  ping_seen_clear (&seen);
  return answered;
}

/* Wait until the server saw something at PingRequest id's URL. The client
 * gets an answer from the server after it was recorded, so every iteration
 * that could make this true is woken by the client's I/O. */
static void
wait_ping (Ts2021Fixture *f,
           gint64 id)
{
  PingCond p = { f, id };
  g_autofree char *what = g_strdup_printf ("an answer to PingRequest %" G_GINT64_FORMAT, id);

  ts2021_fixture_wait_until (ping_answered, &p, GUARD_S, what);
}

/* A SYNCED client "alpha" (node 1) on a fresh server. */
static gboolean
ping_client_start (Ts2021Fixture *f,
                   Client *c)
{
  g_autoptr(GError) error = NULL;

  if (!start_server (f, NULL, NULL))
    return FALSE;
  client_init (c, f, "alpha", 0);
  g_assert_true (client_start (c, AUTH_KEY, &error));
  g_assert_no_error (error);
  wait_state (c, HYPHAE_CONTROL_STATE_SYNCED);
  return TRUE;
}

/* Types "": HEAD to the URL, over Noise (URLIsNoise) or plain HTTP. */
static void
test_ping_head (Ts2021Fixture *f,
                gconstpointer user_data)
{
  gboolean noise = GPOINTER_TO_INT (user_data);
  PingSeen seen = { 0 };
  Client c;
  gint64 id;

  if (!ping_client_start (f, &c))
    return;
  id = send_ping (f, noise ? "node=1&noise=1" : "node=1");
  wait_ping (f, id);
  ping_seen (f, id, &seen);
  g_assert_cmpuint (seen.heads, ==, 1);
  g_assert_cmpuint (seen.posts, ==, 0);
  g_assert_cmpuint (seen.others, ==, 0);
  g_assert_cmpuint (seen.wrong, ==, 0); /* it came over the transport asked for */
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_cmpuint (c.n_backoff, ==, 0);
  ping_seen_clear (&seen);
  client_clear (&c);
}

/* The same URL twice (two messages) is answered once (direct.go
 * isUniquePingRequest). The barrier: a later PingRequest, sent only after the
 * first was answered, so the client handled the duplicate before it. */
static void
test_ping_dedup (Ts2021Fixture *f,
                 gconstpointer user_data)
{
  PingSeen seen = { 0 };
  Client c;
  gint64 id, barrier;

  if (!ping_client_start (f, &c))
    return;
  id = send_ping (f, "node=1&noise=1&repeat=2");
  wait_ping (f, id);
  barrier = send_ping (f, "node=1&noise=1");
  wait_ping (f, barrier);
  ping_seen (f, id, &seen);
  g_assert_cmpuint (seen.heads, ==, 1);
  ping_seen (f, barrier, &seen);
  g_assert_cmpuint (seen.heads, ==, 1);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  ping_seen_clear (&seen);
  client_clear (&c);
}

/* c2n: the answer is an HTTP/1.1 response (a 404: no c2n handlers yet),
 * POSTed to the URL over Noise. */
static void
test_ping_c2n (Ts2021Fixture *f,
               gconstpointer user_data)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autofree char *reason = NULL;
  PingSeen seen = { 0 };
  SoupHTTPVersion version;
  const char *end;
  guint status;
  Client c;
  gint64 id;

  if (!ping_client_start (f, &c))
    return;
  id = send_ping (f, "node=1&noise=1&type=c2n");
  wait_ping (f, id);
  ping_seen (f, id, &seen);
  g_assert_cmpuint (seen.posts, ==, 1);
  g_assert_cmpuint (seen.heads, ==, 0);
  g_assert_cmpuint (seen.wrong, ==, 0);
  g_assert_nonnull (seen.post);
  g_test_message ("c2n answer: %s", seen.post);
  end = strstr (seen.post, "\r\n\r\n");
  g_assert_nonnull (end);
  g_assert_true (soup_headers_parse_response (seen.post, (int) (end + 4 - seen.post), headers,
                                              &version, &status, &reason));
  g_assert_cmpint (version, ==, SOUP_HTTP_1_1);
  g_assert_cmpuint (status, ==, 404);
  g_assert_cmpstr (reason, ==, "Not Found");
  g_assert_cmpint (soup_message_headers_get_content_length (headers), ==, strlen (end + 4));
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  ping_seen_clear (&seen);
  client_clear (&c);
}

/* A type we cannot answer yet (disco needs the data plane): no request, and
 * the session goes on. The barrier as in dedup. */
static void
test_ping_unsupported (Ts2021Fixture *f,
                       gconstpointer user_data)
{
  PingSeen seen = { 0 };
  Client c;
  gint64 id, barrier;

  if (!ping_client_start (f, &c))
    return;
  id = send_ping (f, "node=1&noise=1&type=disco");
  barrier = send_ping (f, "node=1&noise=1");
  wait_ping (f, barrier);
  ping_seen (f, id, &seen);
  g_assert_cmpuint (seen.heads + seen.posts + seen.others, ==, 0);
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  g_assert_cmpuint (c.n_backoff, ==, 0);
  ping_seen_clear (&seen);
  client_clear (&c);
}

/* ---- PingRequest targets and server text ------------------------------------ */

/* The "hyphae-control" messages of the running test (g_message). */
static GPtrArray *captured;

static void
capture_cb (const char *domain,
            GLogLevelFlags level,
            const char *message,
            gpointer user_data)
{
  g_ptr_array_add (captured, g_strdup (message));
  g_log_default_handler (domain, level, message, user_data);
}

static guint
capture_start (void)
{
  captured = g_ptr_array_new_with_free_func (g_free);
  return g_log_set_handler ("hyphae-control", G_LOG_LEVEL_MESSAGE, capture_cb, NULL);
}

static void
capture_stop (guint handler)
{
  g_log_remove_handler ("hyphae-control", handler);
  g_clear_pointer (&captured, g_ptr_array_unref);
}

static const char *
captured_with (const char *needle)
{
  for (guint i = 0; i < captured->len; i++)
    if (strstr (captured->pdata[i], needle))
      return captured->pdata[i];
  return NULL;
}

static gboolean
logged (gpointer needle)
{
  return captured_with (needle) != NULL;
}

/* Where a ping that must not be sent would land: one port on every local
 * address (the wildcard, IPv6 and IPv4), counting connections; and the
 * client's messages captured meanwhile. */
typedef struct
{
  GSocketService *service;
  guint16 port;
  guint connections;
  const char *awaited; /* a log line with this ends the wait */
  guint log_handler;
} Trap;

static gboolean
trap_incoming_cb (GSocketService *service,
                  GSocketConnection *connection,
                  GObject *source,
                  gpointer user_data)
{
  ((Trap *) user_data)->connections++;
  return FALSE; /* closed when dropped */
}

static void
trap_start (Trap *trap)
{
  g_autoptr(GError) error = NULL;

  trap->service = g_socket_service_new ();
  trap->port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (trap->service), NULL,
                                                    &error);
  g_assert_no_error (error);
  g_signal_connect (trap->service, "incoming", G_CALLBACK (trap_incoming_cb), trap);
  g_socket_service_start (trap->service);
  trap->log_handler = capture_start ();
}

static void
trap_stop (Trap *trap)
{
  g_socket_service_stop (trap->service);
  g_socket_listener_close (G_SOCKET_LISTENER (trap->service));
  g_clear_object (&trap->service);
  capture_stop (trap->log_handler);
}

/* The client logged its verdict on the awaited URL, or it reached the trap. */
static gboolean
trap_or_logged (gpointer data)
{
  Trap *trap = data;

  return trap->connections > 0 || captured_with (trap->awaited) != NULL;
}

/* A PingRequest for url (plain HTTP, Log set); extra: more query, or "". */
static gint64
send_ping_url (Ts2021Fixture *f,
               const char *url,
               const char *extra)
{
  g_autofree char *escaped = g_uri_escape_string (url, NULL, FALSE);
  g_autofree char *query = g_strdup_printf ("node=1&log=1&url=%s%s", escaped, extra);

  return send_ping (f, query);
}

/* Plain-HTTP pings to loopback, link-local, unspecified and multicast
 * targets, as literals and as a name ("localhost"), are not fetched: the
 * trap on those addresses sees no connection, and the client says why.
 * 127.0.0.1 is the control server's host, but another port is another
 * origin. The allowed case (the control server's own URL) is ping/http-head. */
static void
test_ping_refused (Ts2021Fixture *f,
                   gconstpointer user_data)
{
  /* refused: the client must say so; the inet_aton spellings of 127.0.0.1
   * and .2 are declined by GLib's resolver today: whatever it does, they
   * must not connect. */
  static const struct {
    const char *host;
    gboolean refused;
  } targets[] = {
    { "127.0.0.2", TRUE },
    { "127.0.0.1", TRUE },
    { "[::1]", TRUE },
    { "169.254.1.1", TRUE },
    { "[fe80::1]", TRUE },
    { "0.0.0.0", TRUE },
    { "localhost", TRUE },
    { "224.0.0.1", TRUE },
    { "[::ffff:127.0.0.1]", TRUE },
    { "[::]", TRUE },
    { "127.1", FALSE },
    { "0x7f000002", FALSE },
  };
  Trap trap = { 0 };
  Client c;

  if (!ping_client_start (f, &c))
    return;
  trap_start (&trap);
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autofree char *url = g_strdup_printf ("http://%s:%u/trap", targets[i].host, trap.port);
      const char *line;

      g_test_message ("ping to %s", url);
      send_ping_url (f, url, "");
      trap.awaited = url;
      ts2021_fixture_wait_until (trap_or_logged, &trap, GUARD_S, url);
      g_assert_cmpuint (trap.connections, ==, 0);
      line = captured_with (url);
      if (targets[i].refused)
        g_assert_nonnull (strstr (line, "refused"));
    }
  g_assert_cmpint (hyphae_control_client_get_state (c.client), ==, HYPHAE_CONTROL_STATE_SYNCED);
  trap_stop (&trap);
  client_clear (&c);
}

/* The control server's own URL answers 302 to a forbidden target: the 302
 * is the answer, the redirect is not followed. */
static void
test_ping_redirect (Ts2021Fixture *f,
                    gconstpointer user_data)
{
  g_autofree char *target = NULL, *escaped = NULL, *extra = NULL, *own = NULL;
  g_autofree char *answered = NULL;
  PingSeen seen = { 0 };
  Trap trap = { 0 };
  gint64 id;
  Client c;

  if (!ping_client_start (f, &c))
    return;
  trap_start (&trap);
  target = g_strdup_printf ("http://127.0.0.2:%u/after-redirect", trap.port);
  escaped = g_uri_escape_string (target, NULL, FALSE);
  extra = g_strdup_printf ("node=1&log=1&redirect=%s", escaped);
  id = send_ping (f, extra);
  own = g_strdup_printf ("/ping/%" G_GINT64_FORMAT " ", id);
  trap.awaited = own;
  ts2021_fixture_wait_until (trap_or_logged, &trap, GUARD_S, "the redirected ping");
  g_assert_cmpuint (trap.connections, ==, 0);
  answered = g_strdup_printf ("/ping/%" G_GINT64_FORMAT " answered (HTTP 302)", id);
  g_assert_nonnull (captured_with (answered));
  ping_seen (f, id, &seen);
  g_assert_cmpuint (seen.heads, ==, 1);
  ping_seen_clear (&seen);
  trap_stop (&trap);
  client_clear (&c);
}

static void
assert_escaped (const char *text)
{
  g_assert_null (strchr (text, '\n'));
  g_assert_null (strchr (text, '\r'));
  g_assert_null (strchr (text, '\x1b'));
  for (const char *p = text; *p; p++)
    g_assert_true (*p >= 0x20 && *p < 0x7f);
}

/* A PingRequest URL with CR, LF and ESC reaches the log escaped: one line,
 * printable ASCII, the forged "line" visible as text. */
static void
test_ping_log_escaped (Ts2021Fixture *f,
                       gconstpointer user_data)
{
  const char *line;
  guint handler;
  Client c;

  if (!ping_client_start (f, &c))
    return;
  handler = capture_start ();
  send_ping_url (f, "http://127.0.0.2:1/x\r\n** Message: FORGED \x1b[2J", "");
  ts2021_fixture_wait_until (logged, "FORGED", GUARD_S, "the escaped log line");
  line = captured_with ("FORGED");
  g_test_message ("logged: %s", line);
  assert_escaped (line);
  g_assert_nonnull (strstr (line, "/x\\r\\n** Message: FORGED \\x1b[2J"));
  capture_stop (handler);
  client_clear (&c);
}

/* RegisterResponse.Error with CR, LF, ESC and a byte that is not UTF-8 (Go
 * sends U+FFFD for it): Health and the error our caller gets are escaped. */
static void
test_server_error_escaped (Ts2021Fixture *f,
                           gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  const char *health;
  Client c;

  if (!start_server (f, "-auth-error", "bad\r\nkey \x1b[2J\xff"))
    return;
  client_init (&c, f, "alpha", 0);
  g_assert_false (client_start (&c, "tskey-wrong", &error));
  g_assert_error (error, HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY);
  health = hyphae_control_client_get_health (c.client)[0];
  g_assert_nonnull (health);
  g_test_message ("Health: %s", health);
  assert_escaped (health);
  assert_escaped (error->message);
  g_assert_nonnull (strstr (health, "bad\\r\\nkey \\x1b[2J\\xef\\xbf\\xbd"));
  g_assert_nonnull (strstr (error->message, "bad\\r\\nkey"));
  client_clear (&c);
}

/* The helper itself, on what JSON cannot carry: bytes that are not UTF-8,
 * NUL inside a counted string, and the length cap. */
static void
test_log_escape (void)
{
  g_autofree char *bytes = hyphae_log_escape ("a\xff\xc3(\0z\\", 7);
  g_autofree char *big_in = g_strnfill (HYPHAE_LOG_ESCAPE_MAX + 100, 'x');
  g_autofree char *big = hyphae_log_escape (big_in, -1);
  g_autofree char *null = hyphae_log_escape (NULL, -1);
  g_autofree char *quotes = hyphae_log_escape ("Error resolving \u201chost\u201d, \u2018x\u2019 "
                                               "\u201e \xe2\x80",
                                               -1);

  g_assert_cmpstr (bytes, ==, "a\\xff\\xc3(\\x00z\\\\");
  g_assert_cmpuint (strlen (big), ==, HYPHAE_LOG_ESCAPE_MAX + strlen ("...(100 more bytes)"));
  g_assert_true (g_str_has_suffix (big, "...(100 more bytes)"));
  g_assert_cmpstr (null, ==, "(null)");
  /* GLib's quotes become ASCII ones; other non-ASCII stays escaped. */
  g_assert_cmpstr (quotes, ==, "Error resolving \"host\", 'x' \\xe2\\x80\\x9e \\xe2\\x80");
}

static const Hostile hostiles[] = {
  { "map-goaway", TRUE, 0 },
  { "map-rst", TRUE, 0 },
  { "map-500", FALSE, 0 },
  { "map-len-over-cap", TRUE, 0 },
  { "map-zstd-bomb", TRUE, 0 },
  { "map-zstd-truncated", TRUE, 0 },
  { "map-depth-bomb", TRUE, 0 },
  { "map-no-node", FALSE, 0 },
  { "map-patch-unknown", TRUE, 0 },
  { "map-remove-unknown", TRUE, 0 },
  { "map-silence", TRUE, 1000 },
};

int
main (int argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  TS2021_FIXTURE_ADD ("/control-client/auth-key", NULL, test_auth_key);
  TS2021_FIXTURE_ADD ("/control-client/bad-auth-key", NULL, test_bad_auth_key);
  TS2021_FIXTURE_ADD ("/control-client/unreachable", NULL, test_unreachable);
  TS2021_FIXTURE_ADD ("/control-client/silent-server", NULL, test_silent_server);
  TS2021_FIXTURE_ADD ("/control-client/interactive", NULL, test_interactive);
  TS2021_FIXTURE_ADD ("/control-client/key-expiry", NULL, test_key_expiry);
  TS2021_FIXTURE_ADD ("/control-client/key-expiry-interactive", NULL,
                      test_key_expiry_interactive);
  TS2021_FIXTURE_ADD ("/control-client/machine-auth", NULL, test_machine_auth);
  TS2021_FIXTURE_ADD ("/control-client/machine-auth-register", NULL,
                      test_machine_auth_register);
  TS2021_FIXTURE_ADD ("/control-client/logout", NULL, test_logout);
  TS2021_FIXTURE_ADD ("/control-client/server-restart", NULL, test_server_restart);
  TS2021_FIXTURE_ADD ("/control-client/lite-update", NULL, test_lite_update);
  TS2021_FIXTURE_ADD ("/control-client/lite-update-net-info", NULL, test_lite_update_net_info);
  TS2021_FIXTURE_ADD ("/control-client/ping/noise-head", GINT_TO_POINTER (TRUE), test_ping_head);
  TS2021_FIXTURE_ADD ("/control-client/ping/http-head", GINT_TO_POINTER (FALSE), test_ping_head);
  TS2021_FIXTURE_ADD ("/control-client/ping/dedup", NULL, test_ping_dedup);
  TS2021_FIXTURE_ADD ("/control-client/ping/c2n", NULL, test_ping_c2n);
  TS2021_FIXTURE_ADD ("/control-client/ping/unsupported", NULL, test_ping_unsupported);
  TS2021_FIXTURE_ADD ("/control-client/ping/refused", NULL, test_ping_refused);
  TS2021_FIXTURE_ADD ("/control-client/ping/redirect", NULL, test_ping_redirect);
  TS2021_FIXTURE_ADD ("/control-client/ping/log-escaped", NULL, test_ping_log_escaped);
  TS2021_FIXTURE_ADD ("/control-client/server-error-escaped", NULL, test_server_error_escaped);
  g_test_add_func ("/control-client/log-escape", test_log_escape);
  for (guint i = 0; i < G_N_ELEMENTS (hostiles); i++)
    {
      g_autofree char *path = g_strdup_printf ("/control-client/hostile/%s", hostiles[i].mode);

      TS2021_FIXTURE_ADD (path, &hostiles[i], test_hostile);
    }
  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  return ret;
}
