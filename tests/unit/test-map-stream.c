/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-map.c (MapRequest JSON, the map long-poll, lite
 * updates) and the streaming requests of hyphae-h2.c, against the
 * independent Go control server (tests/ts2021/control.go: a small tailnet
 * with registration, full maps, deltas to the other live streams, zstd,
 * keep-alives, debug endpoints and hostile map modes). The server, main loop
 * and dialling are in ts2021-fixture.c; without Go and Debian's Go packages
 * the tests skip, unless $CI is set.
 *
 * No timing assumptions: every wait is bounded by a hang guard; what the
 * server did is read from its stdout lines and /debug/nodes.
 */
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "hyphae-control-client.h"
#include "hyphae-h2.h"
#include "hyphae-map.h"
#include "hyphae-register.h"
#include "hyphae-ts2021.h"
#include "netmap.h"
#include "ts2021-fixture.h"

#define CAPVER   TS2021_FIXTURE_CAPVER
#define AUTH_KEY "tskey-test"

/* ---- a node: its connection, registration and map stream -------------------- */

typedef struct
{
  Ts2021Fixture *f;
  const char *hostname;
  guint8 node_pub[32];
  guint8 disco_pub[32];
  HyphaeH2Client *h2;
  HyphaeMapStream *stream;
  GPtrArray *netmaps; /* HyphaeNetmap, each handed out (a reference each) */
  guint activity;
  gboolean ended;
  GError *error;
  const char **endpoints;
  gboolean compress;
} Node;

static void
node_netmap_cb (HyphaeMapStream *stream,
                HyphaeNetmap *nm,
                gpointer user_data)
{
  Node *n = user_data;

  g_assert_true (stream == n->stream);
  g_ptr_array_add (n->netmaps, hyphae_netmap_ref (nm));
  g_assert_true (hyphae_map_stream_get_netmap (stream) == nm);
}

static void
node_activity_cb (HyphaeMapStream *stream,
                  gpointer user_data)
{
  Node *n = user_data;

  n->activity++;
}

static void
node_end_cb (HyphaeMapStream *stream,
             const GError *error,
             gpointer user_data)
{
  Node *n = user_data;

  g_assert_false (n->ended);
  g_assert_nonnull (error);
  g_test_message ("%s: map stream ended: %s", n->hostname, error->message);
  n->ended = TRUE;
  n->error = g_error_copy (error);
}

static const HyphaeMapStreamCallbacks node_callbacks = {
  .netmap = node_netmap_cb,
  .activity = node_activity_cb,
  .end = node_end_cb,
};

static void
node_init (Node *n,
           Ts2021Fixture *f,
           const char *hostname)
{
  guint8 priv[32];

  memset (n, 0, sizeof *n);
  n->f = f;
  n->hostname = hostname;
  n->netmaps = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_netmap_unref);
  n->compress = TRUE;
  key_generate_private (priv);
  g_assert_true (key_public_from_private (n->node_pub, priv));
  key_generate_private (priv);
  g_assert_true (key_public_from_private (n->disco_pub, priv));
  sodium_memzero (priv, sizeof priv);
}

static void
node_clear (Node *n)
{
  g_clear_pointer (&n->stream, hyphae_map_stream_free);
  g_clear_pointer (&n->h2, hyphae_h2_client_free);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&n->netmaps, g_ptr_array_unref);
  g_clear_error (&n->error);
}

/* Dial with a fresh machine key and register with the auth key. */
static void
node_register (Node *n)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  HyphaeRegisterRequest req = { 0 };
  HyphaeRegisterResponse resp = { 0 };
  HyphaeTs2021Conn *conn;
  guint8 machine_priv[32];

  key_generate_private (machine_priv);
  conn = ts2021_fixture_dial (n->f, CAPVER, machine_priv, NULL, &error);
  sodium_memzero (machine_priv, sizeof machine_priv);
  g_assert_no_error (error);
  n->h2 = hyphae_h2_client_new (conn, "127.0.0.1");

  req.capver = CAPVER;
  memcpy (req.node_key, n->node_pub, 32);
  req.auth_key = AUTH_KEY;
  req.hostname = n->hostname;
  hyphae_register_async (n->h2, &req, NULL, ts2021_fixture_store_result_cb, n->f);
  result = ts2021_fixture_wait_result (n->f, "the registration");
  g_assert_true (hyphae_register_finish (result, &resp, &error));
  g_assert_no_error (error);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);
}

static void
node_request (Node *n,
              HyphaeMapRequest *req)
{
  memset (req, 0, sizeof *req);
  req->capver = CAPVER;
  memcpy (req->node_key, n->node_pub, 32);
  memcpy (req->disco_key, n->disco_pub, 32);
  req->endpoints = n->endpoints;
  req->stream = TRUE;
  req->keep_alive = TRUE;
  req->compress = n->compress;
  req->hostname = n->hostname;
  req->os_version = "6.1.0-test";
  req->ipn_version = "0.1.0-hyphae";
}

static void
node_stream (Node *n,
             guint watchdog_ms)
{
  HyphaeMapRequest req;

  node_request (n, &req);
  n->stream = hyphae_map_stream_start (n->h2, &req, watchdog_ms, &node_callbacks, n);
  g_assert_nonnull (n->stream);
}

static HyphaeNetmap *
node_last (Node *n)
{
  g_assert_cmpuint (n->netmaps->len, >, 0);
  return g_ptr_array_index (n->netmaps, n->netmaps->len - 1);
}

typedef struct
{
  Node *node;
  guint count;
} NodeCount;

static gboolean
has_netmaps (gpointer data)
{
  NodeCount *c = data;

  return c->node->netmaps->len >= c->count || c->node->ended;
}

static void
wait_netmaps (Node *n,
              guint count)
{
  NodeCount c = { n, count };

  ts2021_fixture_wait_until (has_netmaps, &c, 0, "a netmap");
  if (n->ended)
    g_error ("%s: the map stream ended: %s", n->hostname, n->error->message);
}

static gboolean
has_ended (gpointer data)
{
  return ((Node *) data)->ended;
}

/* The peer with that host name in the node's last netmap, or NULL. */
static const HyphaeNode *
find_peer (HyphaeNetmap *nm,
           const char *hostname)
{
  for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
    {
      const HyphaeNode *p = hyphae_netmap_get_peer (nm, i);

      if (g_strcmp0 (p->hostname, hostname) == 0)
        return p;
    }
  return NULL;
}

/* ---- /debug/nodes ------------------------------------------------------------- */

/* The /debug/nodes entry with that ID (owned by parser). */
static JsonObject *
debug_node (Ts2021Fixture *f,
            JsonParser *parser,
            gint64 id)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *nodes;
  guint status = 0;
  gsize len;
  const char *data;

  body = ts2021_fixture_http (f, "GET", "/debug/nodes", &status);
  g_assert_cmpuint (status, ==, 200);
  data = g_bytes_get_data (body, &len);
  g_test_message ("/debug/nodes: %.*s", (int) len, data);
  json_parser_load_from_data (parser, data, (gssize) len, &error);
  g_assert_no_error (error);
  nodes = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonObject *o = json_array_get_object_element (nodes, i);

      if (json_object_get_int_member (o, "ID") == id)
        return o;
    }
  g_error ("node %" G_GINT64_FORMAT " not in /debug/nodes", id);
}

static char *
strv_json (JsonObject *o,
           const char *member)
{
  JsonNode *node = json_object_get_member (o, member);
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  g_assert_nonnull (node);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

/* ---- unit: the MapRequest JSON ------------------------------------------------ */

static void
test_request_json (void)
{
  const char *eps[] = { "192.0.2.1:41641", "[2001:db8::1]:41641", NULL };
  const guint types[] = { HYPHAE_ENDPOINT_LOCAL, HYPHAE_ENDPOINT_STUN };
  const char *routes[] = { "0.0.0.0/0", "::/0", NULL };
  HyphaeMapRequest req = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL, *hex = NULL, *nodekey = NULL;
  JsonObject *o, *hi;
  JsonArray *a;

  memset (req.node_key, 0x11, 32);
  memset (req.disco_key, 0xab, 32);
  req.capver = HYPHAE_CAPVER;
  req.endpoints = eps;
  req.endpoint_types = types;
  req.stream = TRUE;
  req.keep_alive = TRUE;
  req.compress = TRUE;
  req.hostname = "host \"a\"";
  req.os_version = "6.1";
  req.ipn_version = "0.1";
  req.exit_node_id = "stable-7";
  req.routable_ips = routes;

  json = hyphae_map_request_to_json (&req);
  g_test_message ("%s", json);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (o, "Version"), ==, HYPHAE_CAPVER);
  g_assert_cmpstr (json_object_get_string_member (o, "Compress"), ==, "zstd");
  g_assert_true (json_object_get_boolean_member (o, "KeepAlive"));
  g_assert_true (json_object_get_boolean_member (o, "Stream"));
  g_assert_false (json_object_get_boolean_member (o, "OmitPeers"));
  hex = g_strnfill (64, '1');
  nodekey = g_strconcat ("nodekey:", hex, NULL);
  g_assert_cmpstr (json_object_get_string_member (o, "NodeKey"), ==, nodekey);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "DiscoKey"),
                                   "discokey:abababab"));
  a = json_object_get_array_member (o, "Endpoints");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (a, 1), ==, "[2001:db8::1]:41641");
  a = json_object_get_array_member (o, "EndpointTypes");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  g_assert_cmpint (json_array_get_int_element (a, 0), ==, 1);
  g_assert_cmpint (json_array_get_int_element (a, 1), ==, 2);
  hi = json_object_get_object_member (o, "Hostinfo");
  g_assert_cmpstr (json_object_get_string_member (hi, "Hostname"), ==, "host \"a\"");
  g_assert_cmpstr (json_object_get_string_member (hi, "OS"), ==, "linux");
  g_assert_cmpstr (json_object_get_string_member (hi, "OSVersion"), ==, "6.1");
  g_assert_cmpstr (json_object_get_string_member (hi, "IPNVersion"), ==, "0.1");
  g_assert_cmpstr (json_object_get_string_member (hi, "ExitNodeID"), ==, "stable-7");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (hi, "RoutableIPs")), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (hi, "NetInfo"),
                                               "PreferredDERP"),
                   ==, 0);

  /* Without types, every endpoint is LOCAL; no zstd, no ExitNodeID. */
  g_clear_pointer (&json, g_free);
  req.endpoint_types = NULL;
  req.compress = FALSE;
  req.exit_node_id = NULL;
  json = hyphae_map_request_to_json (&req);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_false (json_object_has_member (o, "Compress"));
  a = json_object_get_array_member (o, "EndpointTypes");
  g_assert_cmpint (json_array_get_int_element (a, 1), ==, 1);
  g_assert_false (json_object_has_member (json_object_get_object_member (o, "Hostinfo"),
                                          "ExitNodeID"));
}

/* NetInfo as tailcfg.NetInfo: PreferredDERP, DERPLatency "<id>-v4"/"-v6" in
 * seconds, the opt.Bools as JSON booleans and left out when unset. */
static void
test_request_net_info (void)
{
  HyphaeMapNetInfo ni = { 0 }, other;
  HyphaeMapRequest req = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  JsonObject *n, *lat;

  ni.preferred_derp = 900;
  ni.working_udp = HYPHAE_OPT_BOOL_TRUE;
  ni.working_ipv6 = HYPHAE_OPT_BOOL_FALSE;
  ni.n_derp_latency = 2;
  ni.derp_latency[0] = (HyphaeDerpLatency) { 900, FALSE, 0.0125 };
  ni.derp_latency[1] = (HyphaeDerpLatency) { 901, TRUE, 0.5 };
  req.capver = HYPHAE_CAPVER;
  req.net_info = &ni;
  json = hyphae_map_request_to_json (&req);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  n = json_object_get_object_member (json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                                                    "Hostinfo"),
                                     "NetInfo");
  g_assert_cmpint (json_object_get_int_member (n, "PreferredDERP"), ==, 900);
  g_assert_true (json_object_get_boolean_member (n, "WorkingUDP"));
  g_assert_false (json_object_get_boolean_member (n, "WorkingIPv6"));
  g_assert_false (json_object_has_member (n, "MappingVariesByDestIP"));
  lat = json_object_get_object_member (n, "DERPLatency");
  g_assert_cmpuint (json_object_get_size (lat), ==, 2);
  g_assert_cmpfloat (json_object_get_double_member (lat, "900-v4"), ==, 0.0125);
  g_assert_cmpfloat (json_object_get_double_member (lat, "901-v6"), ==, 0.5);

  /* BasicallyEqual: latencies alone are no change, the home region is. */
  other = ni;
  other.derp_latency[0].seconds = 0.02;
  g_assert_true (hyphae_map_net_info_basically_equal (&ni, &other));
  other.mapping_varies_by_dest_ip = HYPHAE_OPT_BOOL_TRUE;
  g_assert_false (hyphae_map_net_info_basically_equal (&ni, &other));
  other = ni;
  other.preferred_derp = 901;
  g_assert_false (hyphae_map_net_info_basically_equal (&ni, &other));
}

/* ---- against the Go server ------------------------------------------------------ */

/* What Go decoded from our MapRequest (Version, flags, keys, endpoints, Hostinfo). */
static void
test_request_decoded (Ts2021Fixture *f,
                      gconstpointer user_data)
{
  const char *eps[] = { "192.0.2.7:41641", "[2001:db8::7]:41641", NULL };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *j = NULL;
  char disco[sizeof KEY_PREFIX_DISCO + KEY_HEX_LEN];
  char nodekey[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  const HyphaeNode *self;
  JsonObject *o, *hi;
  Node a;

  if (!ts2021_fixture_server_start (f, NULL))
    return;
  node_init (&a, f, "alpha");
  a.endpoints = eps;
  node_register (&a);
  node_stream (&a, 0);
  wait_netmaps (&a, 1);
  g_free (ts2021_fixture_server_expect_prefix (f, "map-stream "));

  self = hyphae_netmap_get_self (node_last (&a));
  g_assert_nonnull (self);
  g_assert_cmpint (self->id, ==, 1);
  g_assert_cmpstr (self->hostname, ==, "alpha");
  g_assert_true (key_equal (self->key, a.node_pub));
  g_assert_cmpstr (self->addresses[0], ==, "100.64.0.1/32");
  g_assert_cmpstr (self->addresses[1], ==, "fd7a:115c:a1e0::1/128");
  g_assert_null (self->addresses[2]);

  o = debug_node (f, parser, self->id);
  key_to_text (disco, sizeof disco, KEY_PREFIX_DISCO, a.disco_pub);
  key_to_text (nodekey, sizeof nodekey, KEY_PREFIX_NODE, a.node_pub);
  g_assert_cmpstr (json_object_get_string_member (o, "DiscoKey"), ==, disco);
  g_assert_cmpstr (json_object_get_string_member (o, "NodeKey"), ==, nodekey);
  g_assert_cmpint (json_object_get_int_member (o, "Version"), ==, CAPVER);
  g_assert_true (json_object_get_boolean_member (o, "Stream"));
  g_assert_true (json_object_get_boolean_member (o, "KeepAlive"));
  g_assert_false (json_object_get_boolean_member (o, "OmitPeers"));
  g_assert_false (json_object_get_boolean_member (o, "ReadOnly"));
  g_assert_cmpstr (json_object_get_string_member (o, "Compress"), ==, "zstd");
  g_assert_true (json_object_get_boolean_member (o, "Online"));
  j = strv_json (o, "Endpoints");
  g_assert_cmpstr (j, ==, "[\"192.0.2.7:41641\",\"[2001:db8::7]:41641\"]");
  g_clear_pointer (&j, g_free);
  j = strv_json (o, "EndpointTypes");
  g_assert_cmpstr (j, ==, "[1,1]");
  hi = json_object_get_object_member (o, "Hostinfo");
  g_assert_cmpstr (json_object_get_string_member (hi, "Hostname"), ==, "alpha");
  g_assert_cmpstr (json_object_get_string_member (hi, "OS"), ==, "linux");
  g_assert_cmpstr (json_object_get_string_member (hi, "OSVersion"), ==, "6.1.0-test");
  g_assert_cmpstr (json_object_get_string_member (hi, "IPNVersion"), ==, "0.1.0-hyphae");
  g_assert_true (json_object_has_member (hi, "NetInfo"));

  node_clear (&a);
}

typedef struct
{
  Node *node;
  const char *peer;
  const char *endpoint; /* NULL: the peer is present; else it has this endpoint */
  gboolean absent;      /* the peer is gone */
} PeerCond;

static gboolean
peer_cond (gpointer data)
{
  PeerCond *c = data;
  const HyphaeNode *p;

  if (c->node->ended)
    return TRUE;
  if (c->node->netmaps->len == 0)
    return FALSE;
  p = find_peer (node_last (c->node), c->peer);
  if (c->absent)
    return p == NULL;
  if (!p)
    return FALSE;
  if (!c->endpoint)
    return TRUE;
  return p->endpoints && p->endpoints[0] && g_strcmp0 (p->endpoints[0], c->endpoint) == 0;
}

static void
wait_peer (Node *n,
           const char *peer,
           const char *endpoint,
           gboolean absent)
{
  PeerCond c = { n, peer, endpoint, absent };

  ts2021_fixture_wait_until (peer_cond, &c, 0, "a peer change");
  if (n->ended)
    g_error ("%s: the map stream ended: %s", n->hostname, n->error->message);
}

/* Two nodes: the second appears in the first's netmap (a delta), its lite
 * update of endpoints arrives as a patch, keeping the older snapshots. */
static void
test_two_nodes (Ts2021Fixture *f,
                gconstpointer user_data)
{
  gboolean compress = GPOINTER_TO_INT (user_data);
  const char *eps_b[] = { "198.51.100.2:41641", NULL };
  const char *eps_b2[] = { "203.0.113.9:12345", "[2001:db8::9]:12345", NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  HyphaeNetmap *first, *nm;
  const HyphaeNode *pb;
  HyphaeMapRequest req;
  Node a, b;
  guint before;

  if (!ts2021_fixture_server_start (f, NULL))
    return;
  node_init (&a, f, "alpha");
  node_init (&b, f, "bravo");
  a.compress = b.compress = compress;
  b.endpoints = eps_b;

  node_register (&a);
  node_stream (&a, 0);
  wait_netmaps (&a, 1);
  first = hyphae_netmap_ref (node_last (&a));
  g_assert_cmpuint (hyphae_netmap_get_n_peers (first), ==, 0);

  node_register (&b);
  node_stream (&b, 0);
  wait_netmaps (&b, 1);
  /* bravo's full map has alpha; alpha learns of bravo as a delta. */
  g_assert_nonnull (find_peer (node_last (&b), "alpha"));
  g_assert_cmpint (hyphae_netmap_get_self (node_last (&b))->id, ==, 2);
  wait_peer (&a, "bravo", "198.51.100.2:41641", FALSE);
  pb = find_peer (node_last (&a), "bravo");
  g_assert_cmpstr (pb->addresses[0], ==, "100.64.0.2/32");
  g_assert_true (key_equal (pb->key, b.node_pub));
  g_assert_true (pb->has_disco_key && key_equal (pb->disco_key, b.disco_pub));
  /* Snapshots are immutable: the first one still has no peer. */
  g_assert_cmpuint (hyphae_netmap_get_n_peers (first), ==, 0);

  /* bravo's lite update (Stream:false, OmitPeers:true) with new endpoints. */
  before = a.netmaps->len;
  node_request (&b, &req);
  req.endpoints = eps_b2;
  hyphae_map_lite_update_async (b.h2, &req, NULL, ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "the lite update");
  g_assert_true (hyphae_map_lite_update_finish (result, &error));
  g_assert_no_error (error);
  line = ts2021_fixture_server_expect_prefix (f, "lite-update ");
  g_assert_cmpstr (line, ==, "2");
  wait_peer (&a, "bravo", "203.0.113.9:12345", FALSE);
  g_assert_cmpuint (a.netmaps->len, >, before);
  nm = node_last (&a);
  pb = find_peer (nm, "bravo");
  g_assert_cmpstr (pb->endpoints[1], ==, "[2001:db8::9]:12345");
  g_assert_null (pb->endpoints[2]);
  /* bravo's own stream was not disturbed by its lite update. */
  g_assert_false (b.ended);

  /* bravo goes away: alpha's netmap says it is offline (a patch). */
  g_clear_pointer (&b.stream, hyphae_map_stream_free);
  g_clear_pointer (&b.h2, hyphae_h2_client_free);
  g_free (ts2021_fixture_server_expect_prefix (f, "map-stream 2 closed"));

  hyphae_netmap_unref (first);
  node_clear (&b);
  node_clear (&a);
}

typedef struct
{
  Node *node;
  guint messages;
} MsgCount;

static gboolean
has_messages (gpointer data)
{
  MsgCount *c = data;

  return c->node->ended || hyphae_map_stream_get_n_messages (c->node->stream) >= c->messages;
}

/* Keep-alives (every 200 ms here) reset the watchdog and make no snapshot. */
static void
test_keepalive (Ts2021Fixture *f,
                gconstpointer user_data)
{
  MsgCount c;
  Node a;

  if (!ts2021_fixture_server_start (f, "-keepalive", "200ms", NULL))
    return;
  node_init (&a, f, "alpha");
  node_register (&a);
  /* A watchdog of 5 s would fire without the keep-alives over ~2 s ... */
  node_stream (&a, 5000);
  c.node = &a;
  c.messages = 8;
  ts2021_fixture_wait_until (has_messages, &c, 30, "keep-alives");
  g_assert_false (a.ended);
  g_assert_cmpuint (a.netmaps->len, ==, 1);
  g_assert_cmpuint (a.activity, >=, 8);
  node_clear (&a);
}

/* ---- hostile map streams: each a typed error, the good netmaps kept ---------- */

typedef struct
{
  const char *mode;
  gboolean compress;
  GQuark (*domain) (void);
  gint code;
  guint netmaps; /* how many good snapshots came first */
  guint watchdog_ms;
} Hostile;

static void
test_hostile (Ts2021Fixture *f,
              gconstpointer user_data)
{
  const Hostile *h = user_data;
  Node a;

  if (!ts2021_fixture_server_start (f, "-hostile", h->mode, NULL))
    return;
  node_init (&a, f, "alpha");
  a.compress = h->compress;
  node_register (&a);
  node_stream (&a, h->watchdog_ms);
  ts2021_fixture_wait_until (has_ended, &a, 30, "the hostile map stream to end");
  g_assert_error (a.error, h->domain (), h->code);
  g_assert_cmpuint (a.netmaps->len, ==, h->netmaps);
  if (h->netmaps)
    g_assert_true (hyphae_map_stream_get_netmap (a.stream) == node_last (&a));
  node_clear (&a);
}

/* ---- streaming HTTP/2 requests ------------------------------------------------- */

typedef struct
{
  guint status;
  guint responses;
  gsize bytes;
  guint chunks;
  GByteArray *body;
  gboolean ended;
  GError *error;
  guint destroyed;
  gboolean cancel_in_data;
  HyphaeH2Stream *stream;
} Sink;

static void
sink_response (HyphaeH2Stream *stream,
               guint status,
               gpointer user_data)
{
  Sink *s = user_data;

  g_assert_false (s->ended);
  g_assert_cmpuint (s->chunks, ==, 0);
  s->responses++;
  s->status = status;
}

static void
sink_data (HyphaeH2Stream *stream,
           const guint8 *data,
           gsize len,
           gpointer user_data)
{
  Sink *s = user_data;

  g_assert_cmpuint (s->responses, ==, 1);
  g_assert_false (s->ended);
  s->chunks++;
  s->bytes += len;
  if (s->body->len < 4096)
    g_byte_array_append (s->body, data, (guint) MIN (len, 4096));
  if (s->cancel_in_data)
    {
      hyphae_h2_stream_cancel (stream);
      s->ended = TRUE; /* no more callbacks may come */
    }
}

static void
sink_end (HyphaeH2Stream *stream,
          const GError *error,
          gpointer user_data)
{
  Sink *s = user_data;

  g_assert_false (s->ended);
  s->ended = TRUE;
  if (error)
    s->error = g_error_copy (error);
}

static void
sink_destroy (gpointer user_data)
{
  ((Sink *) user_data)->destroyed++;
}

static const HyphaeH2StreamCallbacks sink_callbacks = {
  sink_response,
  sink_data,
  sink_end,
};

static void
sink_clear (Sink *s)
{
  g_clear_pointer (&s->body, g_byte_array_unref);
  g_clear_error (&s->error);
}

static gboolean
sink_done (gpointer data)
{
  Sink *s = data;

  return s->ended && s->destroyed;
}

static void
sink_run (Ts2021Fixture *f,
          Sink *s,
          const char *path,
          GBytes *body)
{
  memset (s, 0, sizeof *s);
  s->body = g_byte_array_new ();
  s->stream = hyphae_h2_client_stream (f->client, "POST", path, NULL, body, &sink_callbacks, s,
                                       sink_destroy);
  g_assert_nonnull (s->stream);
  ts2021_fixture_wait_until (sink_done, s, 30, path);
  g_assert_cmpuint (s->destroyed, ==, 1);
}

static void
test_h2_stream (Ts2021Fixture *f,
                gconstpointer user_data)
{
  g_autoptr(GBytes) echo = g_bytes_new_static ("ping", 4);
  Sink s;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;

  /* 40 MiB: far over the whole-body cap, in many chunks. */
  sink_run (f, &s, "/big?n=41943040", NULL);
  g_assert_no_error (s.error);
  g_assert_cmpuint (s.status, ==, 200);
  g_assert_cmpuint (s.bytes, ==, 41943040);
  g_assert_cmpuint (s.chunks, >, 1);
  sink_clear (&s);

  sink_run (f, &s, "/echo", echo);
  g_assert_no_error (s.error);
  g_assert_cmpuint (s.status, ==, 200);
  g_assert_cmpmem (s.body->data, s.body->len, "ping", 4);
  sink_clear (&s);

  sink_run (f, &s, "/status/404", NULL);
  g_assert_no_error (s.error);
  g_assert_cmpuint (s.status, ==, 404);
  g_assert_cmpmem (s.body->data, s.body->len, "status 404\n", 11);
  sink_clear (&s);

  sink_run (f, &s, "/rst", NULL);
  g_assert_error (s.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_RESET);
  g_assert_cmpuint (s.responses, ==, 0);
  sink_clear (&s);

  /* Cancelled inside a data callback: nothing more, destroy once; the
   * connection carries on. */
  memset (&s, 0, sizeof s);
  s.body = g_byte_array_new ();
  s.cancel_in_data = TRUE;
  s.stream = hyphae_h2_client_stream (f->client, "GET", "/big?n=10000000", NULL, NULL,
                                      &sink_callbacks, &s, sink_destroy);
  ts2021_fixture_wait_until (sink_done, &s, 30, "the cancelled stream");
  g_assert_cmpuint (s.chunks, ==, 1);
  g_assert_no_error (s.error);
  sink_clear (&s);

  /* Cancelled before any answer (/slow answers only when reset). */
  memset (&s, 0, sizeof s);
  s.body = g_byte_array_new ();
  s.stream = hyphae_h2_client_stream (f->client, "GET", "/slow", NULL, NULL, &sink_callbacks,
                                      &s, sink_destroy);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  hyphae_h2_stream_cancel (s.stream);
  g_assert_cmpuint (s.destroyed, ==, 1);
  g_assert_false (s.ended);
  sink_clear (&s);

  sink_run (f, &s, "/echo", echo);
  g_assert_no_error (s.error);
  g_assert_cmpmem (s.body->data, s.body->len, "ping", 4);
  sink_clear (&s);

  /* Freeing the client ends an open stream with G_IO_ERROR_CANCELLED. */
  memset (&s, 0, sizeof s);
  s.body = g_byte_array_new ();
  s.stream = hyphae_h2_client_stream (f->client, "GET", "/slow", NULL, NULL, &sink_callbacks,
                                      &s, sink_destroy);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&f->client, hyphae_h2_client_free);
  g_assert_true (s.ended);
  g_assert_cmpuint (s.destroyed, ==, 1);
  g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  sink_clear (&s);
}

/* The server dies under an open stream: CLOSED; a stream on the dead client
 * ends from the main loop, never inside the call. */
static void
test_h2_stream_server_killed (Ts2021Fixture *f,
                              gconstpointer user_data)
{
  Sink s, late;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  memset (&s, 0, sizeof s);
  s.body = g_byte_array_new ();
  s.stream = hyphae_h2_client_stream (f->client, "GET", "/slow", NULL, NULL, &sink_callbacks,
                                      &s, sink_destroy);
  ts2021_fixture_server_kill (f);
  ts2021_fixture_wait_until (sink_done, &s, 30, "the stream to fail");
  g_assert_error (s.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED);
  sink_clear (&s);

  memset (&late, 0, sizeof late);
  late.body = g_byte_array_new ();
  late.stream = hyphae_h2_client_stream (f->client, "GET", "/", NULL, NULL, &sink_callbacks,
                                         &late, sink_destroy);
  g_assert_false (late.ended);
  ts2021_fixture_wait_until (sink_done, &late, 0, "the late stream to fail");
  g_assert_error (late.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED);
  sink_clear (&late);
}

static const Hostile hostiles[] = {
  { "map-500", TRUE, hyphae_map_error_quark, HYPHAE_MAP_ERROR_HTTP, 0, 0 },
  { "map-rst", TRUE, hyphae_h2_error_quark, HYPHAE_H2_ERROR_RESET, 1, 0 },
  { "map-goaway", TRUE, hyphae_h2_error_quark, HYPHAE_H2_ERROR_GOAWAY, 1, 0 },
  { "map-len-over-cap", FALSE, hyphae_map_error_quark, HYPHAE_MAP_ERROR_FRAMING, 1, 0 },
  { "map-zstd-bomb", TRUE, hyphae_map_error_quark, HYPHAE_MAP_ERROR_FRAMING, 1, 0 },
  { "map-zstd-truncated", TRUE, hyphae_map_error_quark, HYPHAE_MAP_ERROR_FRAMING, 1, 0 },
  { "map-depth-bomb", TRUE, hyphae_netmap_error_quark, HYPHAE_NETMAP_ERROR_PARSE, 1, 0 },
  { "map-no-node", TRUE, hyphae_netmap_error_quark, HYPHAE_NETMAP_ERROR_NO_SELF, 0, 0 },
  { "map-patch-unknown", TRUE, hyphae_netmap_error_quark, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE, 1, 0 },
  { "map-remove-unknown", FALSE, hyphae_netmap_error_quark, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE, 1, 0 },
  { "map-silence", TRUE, hyphae_map_error_quark, HYPHAE_MAP_ERROR_TIMEOUT, 1, 1000 },
};

int
main (int argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/map-stream/request-json", test_request_json);
  g_test_add_func ("/map-stream/request-net-info", test_request_net_info);
  TS2021_FIXTURE_ADD ("/map-stream/request-decoded-by-go", NULL, test_request_decoded);
  TS2021_FIXTURE_ADD ("/map-stream/two-nodes/zstd", GINT_TO_POINTER (TRUE), test_two_nodes);
  TS2021_FIXTURE_ADD ("/map-stream/two-nodes/raw", GINT_TO_POINTER (FALSE), test_two_nodes);
  TS2021_FIXTURE_ADD ("/map-stream/keepalive", NULL, test_keepalive);
  for (guint i = 0; i < G_N_ELEMENTS (hostiles); i++)
    {
      g_autofree char *path = g_strdup_printf ("/map-stream/hostile/%s", hostiles[i].mode);

      TS2021_FIXTURE_ADD (path, &hostiles[i], test_hostile);
    }
  TS2021_FIXTURE_ADD ("/map-stream/h2-stream", NULL, test_h2_stream);
  TS2021_FIXTURE_ADD ("/map-stream/h2-stream-server-killed", NULL, test_h2_stream_server_killed);
  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  return ret;
}
