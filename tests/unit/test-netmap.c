/* SPDX-License-Identifier: MIT */
/*
 * netmap: MapResponse parsing and delta application against a real
 * tailscale.com MapResponse (tests/data/tailscale-saas-*.json, see NOTICE.md)
 * and hand-written delta sequences following control/controlclient/map.go.
 */
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "json-scan.h"
#include "netmap.h"

/* 2025-10-01T00:00:00Z: after the fixture's ControlTime, before any KeyExpiry. */
#define NOW G_GINT64_CONSTANT (1759276800)

#define RELAY_ID   G_GINT64_CONSTANT (1679275757477108)
#define CLIENT2_ID G_GINT64_CONSTANT (1920659479412999)
#define TESTN1_ID  G_GINT64_CONSTANT (5170377294737635)
#define CLIENT1_ID G_GINT64_CONSTANT (5459977561039002)
#define TESTN2_ID  G_GINT64_CONSTANT (6214411886909784)
#define SELF_ID    G_GINT64_CONSTANT (6523515364831089)

#define KEY_A   "nodekey:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B   "nodekey:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DISCO_C "discokey:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char *
read_data (const char *name)
{
  const char *dir = g_getenv ("HYPHAE_TEST_DATA");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, name, NULL);
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static HyphaeNetmap *
apply_ok (HyphaeNetmap *prev,
          const char *json,
          gint64 now)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (json, strlen (json), &error);
  HyphaeNetmap *nm;

  g_assert_no_error (error);
  g_assert_nonnull (u);
  nm = hyphae_netmap_apply (prev, u, now, &error);
  g_assert_no_error (error);
  g_assert_nonnull (nm);
  return nm;
}

static HyphaeNetmap *
fixture_netmap (void)
{
  g_autofree char *json = read_data ("tailscale-saas-map_response.json");

  return apply_ok (NULL, json, NOW);
}

/* A small self-made start: self 1, peers 10 and 20. */
static const char *SMALL =
  "{\"Node\":{\"ID\":1,\"StableID\":\"s1\",\"Name\":\"me.example.ts.net.\",\"User\":7,"
  "\"Key\":\"" KEY_A "\",\"Addresses\":[\"100.64.0.1/32\"],\"MachineAuthorized\":true},"
  "\"Peers\":[{\"ID\":20,\"StableID\":\"s20\",\"Name\":\"b.example.ts.net.\",\"Key\":\"" KEY_B "\","
  "\"Addresses\":[\"100.64.0.20/32\"],\"Endpoints\":[\"192.0.2.20:41641\"],\"HomeDERP\":2,\"Online\":true},"
  "{\"ID\":10,\"StableID\":\"s10\",\"Name\":\"a.example.ts.net.\",\"Key\":\"" KEY_A "\","
  "\"Addresses\":[\"100.64.0.10/32\"],\"AllowedIPs\":[\"100.64.0.10/32\",\"10.0.0.0/8\"],"
  "\"Endpoints\":[\"192.0.2.10:41641\"],\"DERP\":\"127.3.3.40:3\",\"Cap\":100}],"
  "\"Domain\":\"example.ts.net\",\"DNSConfig\":{\"Domains\":[\"example.ts.net\"]},"
  "\"DERPMap\":{\"Regions\":{\"1\":{\"RegionID\":1}},\"HomeParams\":{\"RegionScore\":{\"1\":2.0}}}}";

static void
assert_error_keeps (HyphaeNetmap *prev,
                    const char *json,
                    GQuark domain,
                    int code)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *before = prev != NULL ? hyphae_netmap_to_json (prev) : NULL;
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (json, strlen (json), &error);
  g_autoptr(HyphaeNetmap) nm = NULL;

  if (u != NULL)
    nm = hyphae_netmap_apply (prev, u, NOW, &error);
  g_assert_error (error, domain, code);
  g_assert_null (nm);
  if (prev != NULL)
    {
      g_autofree char *after = hyphae_netmap_to_json (prev);
      g_assert_cmpstr (before, ==, after);
    }
}

static void
assert_parse_error (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (json, strlen (json), &error);

  g_assert_error (error, HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_PARSE);
  g_assert_null (u);
}

static void
assert_strv (char **v,
             const char *first,
             ...)
{
  va_list ap;
  guint i = 0;

  g_assert_nonnull (v);
  va_start (ap, first);
  for (const char *s = first; s != NULL; s = va_arg (ap, const char *), i++)
    g_assert_cmpstr (v[i], ==, s);
  va_end (ap);
  g_assert_null (v[i]);
}

static void
assert_key_hex (const guint8 key[32],
                const char *hex)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (int i = 0; i < 32; i++)
    g_string_append_printf (s, "%02x", key[i]);
  g_assert_cmpstr (s->str, ==, hex);
}

/* ---- the real tailscale.com MapResponse ---------------------------------------------- */

static void
test_fixture_self (void)
{
  g_autoptr(HyphaeNetmap) nm = fixture_netmap ();
  const HyphaeNode *self = hyphae_netmap_get_self (nm);

  g_assert_cmpint (self->id, ==, SELF_ID);
  g_assert_cmpstr (self->stable_id, ==, "nLzY4qgWws11CNTRL");
  g_assert_cmpstr (self->name, ==, "tailscale-rs1.tail252fff.ts.net.");
  g_assert_cmpstr (self->hostname, ==, "tailscale-rs1");
  g_assert_cmpstr (self->os, ==, "");
  g_assert_cmpint (self->user_id, ==, G_GINT64_CONSTANT (7326703659639870));
  assert_key_hex (self->key, "7d56c29e77fdd9b76ddcaa1e17e1866a6d4afb1daae3a639fbee46b6b61dcd6d");
  /* The self node's DiscoKey is all zeros in the capture: no disco key. */
  g_assert_false (self->has_disco_key);
  g_assert_cmpint (self->key_expiry_unix, ==, G_GINT64_CONSTANT (1774330866));
  g_assert_false (self->expired);
  assert_strv (self->addresses, "100.93.205.110/32", "fd7a:115c:a1e0::b601:cd6e/128", NULL);
  assert_strv (self->allowed_ips, "100.93.205.110/32", "fd7a:115c:a1e0::b601:cd6e/128", NULL);
  g_assert_true (self->machine_authorized);
  g_assert_nonnull (self->cap_map_json);
  g_assert_nonnull (strstr (self->cap_map_json, "https://tailscale.com/cap/is-admin"));
  g_assert_false (self->exit_node_option);

  g_assert_cmpstr (hyphae_netmap_get_domain (nm), ==, "bogus-test-tailscale.github");
  g_assert_cmpstr (hyphae_netmap_get_magicdns_suffix (nm), ==, "tail252fff.ts.net");
  g_assert_cmpstr (hyphae_netmap_get_user_login (nm, self->user_id), ==,
                   "bogus-test-tailscale@github");
  g_assert_cmpstr (hyphae_netmap_get_user_display_name (nm, self->user_id), ==, "Bogus Test");
  g_assert_null (hyphae_netmap_get_user_login (nm, 12345));
}

static void
test_fixture_peers (void)
{
  g_autoptr(HyphaeNetmap) nm = fixture_netmap ();
  const gint64 ids[] = { RELAY_ID, CLIENT2_ID, TESTN1_ID, CLIENT1_ID, TESTN2_ID };
  const HyphaeNode *relay, *client2, *testn1, *testn2;

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm), ==, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (hyphae_netmap_get_peer (nm, i)->id, ==, ids[i]);

  relay = hyphae_netmap_lookup_id (nm, RELAY_ID);
  g_assert_true (relay == hyphae_netmap_get_peer (nm, 0));
  g_assert_true (relay == hyphae_netmap_lookup_stable_id (nm, "nT8AH9jY7E11CNTRL"));
  g_assert_cmpstr (relay->name, ==, "relay.tail252fff.ts.net.");
  g_assert_cmpstr (relay->hostname, ==, "relay");
  g_assert_cmpstr (relay->os, ==, "linux");
  assert_key_hex (relay->key, "a57413f6734a12fa6f50e600891517deef4d324ea63de8915da511550a20a23f");
  g_assert_true (relay->has_disco_key);
  assert_key_hex (relay->disco_key,
                  "7f12a1c47c70be1b4722d680b2442ccb517f194a9d24f28b8c9a165eb2f7b74a");
  assert_strv (relay->addresses, "100.96.162.64/32", "fd7a:115c:a1e0::a01:a241/128", NULL);
  /* AllowedIPs null → Addresses (capver 112). */
  assert_strv (relay->allowed_ips, "100.96.162.64/32", "fd7a:115c:a1e0::a01:a241/128", NULL);
  assert_strv (relay->endpoints, "127.77.0.176:41641", "127.77.0.177:41641", NULL);
  /* HomeDERP 1 wins over the legacy DERP "127.3.3.40:12" (upgradeNode). */
  g_assert_cmpint (relay->home_derp, ==, 1);
  g_assert_cmpint (relay->cap, ==, 127);
  g_assert_true (relay->online_known);
  g_assert_true (relay->online);
  g_assert_cmpint (relay->key_expiry_unix, ==, G_GINT64_CONSTANT (1769365887));
  g_assert_cmpint (relay->user_id, ==, G_GINT64_CONSTANT (7326703659639870));
  g_assert_cmpint (relay->peerapi4_port, ==, 36297);
  g_assert_cmpint (relay->peerapi6_port, ==, 40008);
  g_assert_nonnull (relay->tags);
  g_assert_null (relay->tags[0]);
  g_assert_false (relay->exit_node_option);
  g_assert_false (relay->expired);

  /* No HomeDERP: the legacy DERP string gives the region. */
  client2 = hyphae_netmap_lookup_id (nm, CLIENT2_ID);
  g_assert_cmpint (client2->home_derp, ==, 12);
  testn1 = hyphae_netmap_lookup_id (nm, TESTN1_ID);
  g_assert_cmpint (testn1->home_derp, ==, 1);
  g_assert_true (testn1->online_known);
  g_assert_false (testn1->online);
  g_assert_cmpint (testn1->last_seen_unix, ==, G_GINT64_CONSTANT (1755618988));
  g_assert_cmpstr (testn1->hostname, ==, "test-node.test");
  g_assert_null (testn1->endpoints[0]);
  g_assert_cmpint (testn1->cap, ==, 117);
  testn2 = hyphae_netmap_lookup_id (nm, TESTN2_ID);
  g_assert_cmpint (testn2->home_derp, ==, 0);
  g_assert_null (hyphae_netmap_lookup_id (nm, SELF_ID));
  g_assert_null (hyphae_netmap_lookup_stable_id (nm, "nope"));
}

static void
test_fixture_raw (void)
{
  g_autoptr(HyphaeNetmap) nm = fixture_netmap ();
  g_autoptr(JsonNode) pf = NULL, dns = NULL, derp = NULL;
  JsonArray *rules;

  pf = json_from_string (hyphae_netmap_get_packet_filter_json (nm), NULL);
  g_assert_nonnull (pf);
  rules = json_node_get_array (pf);
  g_assert_cmpuint (json_array_get_length (rules), ==, 3);
  g_assert_true (json_object_has_member (json_array_get_object_element (rules, 0), "CapGrant"));

  dns = json_from_string (hyphae_netmap_get_dns_config_json (nm), NULL);
  g_assert_nonnull (dns);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (dns), "Proxied"));

  derp = json_from_string (hyphae_netmap_get_derp_map_json (nm), NULL);
  g_assert_nonnull (derp);
  g_assert_true (json_object_has_member (
    json_object_get_object_member (json_node_get_object (derp), "Regions"), "1"));
}

static void
test_fixture_node (void)
{
  g_autofree char *node = read_data ("tailscale-saas-node.json");
  g_autofree char *json = g_strdup_printf ("{\"Node\":%s}", node);
  g_autoptr(HyphaeNetmap) nm = apply_ok (NULL, json, NOW);
  const HyphaeNode *self = hyphae_netmap_get_self (nm);

  g_assert_cmpint (self->id, ==, RELAY_ID);
  g_assert_cmpint (self->home_derp, ==, 1);
  assert_strv (self->endpoints, "127.77.0.186:41641", "127.77.0.187:41641", NULL);
  assert_strv (self->allowed_ips, "100.96.162.64/32", "fd7a:115c:a1e0::a01:a241/128", NULL);
  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm), ==, 0);
  g_assert_null (hyphae_netmap_get_packet_filter_json (nm));
  g_assert_null (hyphae_netmap_get_dns_config_json (nm));
  g_assert_null (hyphae_netmap_get_derp_map_json (nm));
  g_assert_cmpstr (hyphae_netmap_get_domain (nm), ==, "");
  g_assert_cmpstr (hyphae_netmap_get_magicdns_suffix (nm), ==, "tail252fff.ts.net");
}

static void
test_to_json (void)
{
  g_autoptr(HyphaeNetmap) nm = fixture_netmap ();
  g_autofree char *json = hyphae_netmap_to_json (nm);
  g_autoptr(JsonNode) root = json_from_string (json, NULL);
  JsonObject *o, *self, *relay;
  JsonArray *peers;

  g_assert_nonnull (root);
  o = json_node_get_object (root);
  self = json_object_get_object_member (o, "Self");
  g_assert_cmpstr (json_object_get_string_member (self, "Name"), ==,
                   "tailscale-rs1.tail252fff.ts.net.");
  g_assert_cmpint (json_object_get_int_member (self, "ID"), ==, SELF_ID);
  peers = json_object_get_array_member (o, "Peers");
  g_assert_cmpuint (json_array_get_length (peers), ==, 5);
  relay = json_array_get_object_element (peers, 0);
  g_assert_cmpint (json_object_get_int_member (relay, "ID"), ==, RELAY_ID);
  g_assert_cmpstr (json_object_get_string_member (relay, "StableID"), ==, "nT8AH9jY7E11CNTRL");
  g_assert_cmpstr (json_object_get_string_member (relay, "Key"), ==,
                   "nodekey:a57413f6734a12fa6f50e600891517deef4d324ea63de8915da511550a20a23f");
  g_assert_cmpstr (json_object_get_string_member (relay, "DiscoKey"), ==,
                   "discokey:7f12a1c47c70be1b4722d680b2442ccb517f194a9d24f28b8c9a165eb2f7b74a");
  g_assert_cmpstr (json_object_get_string_member (relay, "KeyExpiry"), ==, "2026-01-25T18:31:27Z");
  g_assert_cmpint (json_object_get_int_member (relay, "HomeDERP"), ==, 1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (relay, "AllowedIPs")), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (
                     json_object_get_array_member (relay, "Endpoints"), 0),
                   ==, "127.77.0.176:41641");
  g_assert_true (json_object_get_boolean_member (relay, "Online"));
  g_assert_cmpstr (json_object_get_string_member (
                     json_array_get_object_element (peers, 2), "LastSeen"),
                   ==, "2025-08-19T15:56:28Z");
  g_assert_cmpstr (json_object_get_string_member (o, "Domain"), ==, "bogus-test-tailscale.github");
  g_assert_true (json_object_has_member (o, "PacketFilter"));
  g_assert_true (json_object_has_member (o, "DERPMap"));

  /* The output parses back as a MapResponse-like node list too. */
  {
    g_autofree char *self_json = json_to_string (json_object_get_member (o, "Self"), FALSE);
    g_autofree char *again = g_strdup_printf ("{\"Node\":%s}", self_json);
    g_autoptr(HyphaeNetmap) nm2 = apply_ok (NULL, again, NOW);
    g_assert_cmpint (hyphae_netmap_get_self (nm2)->id, ==, SELF_ID);
  }
}

/* ---- deltas ------------------------------------------------------------------------- */

static void
test_small_start (void)
{
  g_autoptr(HyphaeNetmap) nm = apply_ok (NULL, SMALL, NOW);
  const HyphaeNode *a, *b;

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm), ==, 2);
  a = hyphae_netmap_get_peer (nm, 0);
  b = hyphae_netmap_get_peer (nm, 1);
  g_assert_cmpint (a->id, ==, 10); /* sorted by ID */
  g_assert_cmpint (b->id, ==, 20);
  g_assert_cmpint (a->home_derp, ==, 3);
  g_assert_cmpint (b->home_derp, ==, 2);
  assert_strv (a->allowed_ips, "100.64.0.10/32", "10.0.0.0/8", NULL);
  g_assert_false (a->online_known);
  g_assert_cmpstr (hyphae_netmap_get_magicdns_suffix (nm), ==, "example.ts.net");
}

static void
test_peers_changed (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL;
  const HyphaeNode *b0 = hyphae_netmap_lookup_id (nm0, 20);

  /* Replace 10, add 15 and 5; 20 untouched (shared with nm0). */
  nm1 = apply_ok (nm0,
                  "{\"PeersChanged\":[{\"ID\":15,\"Key\":\"" KEY_B "\",\"Addresses\":[\"100.64.0.15/32\"]},"
                  "{\"ID\":10,\"Key\":\"" KEY_B "\",\"Name\":\"a2.example.ts.net.\",\"Addresses\":[\"100.64.0.11/32\"]},"
                  "{\"ID\":5,\"Key\":\"" KEY_B "\",\"Addresses\":[\"100.64.0.5/32\"]}]}",
                  NOW);
  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm1), ==, 4);
  g_assert_cmpint (hyphae_netmap_get_peer (nm1, 0)->id, ==, 5);
  g_assert_cmpint (hyphae_netmap_get_peer (nm1, 1)->id, ==, 10);
  g_assert_cmpint (hyphae_netmap_get_peer (nm1, 2)->id, ==, 15);
  g_assert_cmpint (hyphae_netmap_get_peer (nm1, 3)->id, ==, 20);
  /* A full Node replaces: the old Endpoints and DERP are gone. */
  g_assert_cmpstr (hyphae_netmap_lookup_id (nm1, 10)->name, ==, "a2.example.ts.net.");
  g_assert_null (hyphae_netmap_lookup_id (nm1, 10)->endpoints[0]);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm1, 10)->home_derp, ==, 0);
  g_assert_true (hyphae_netmap_lookup_id (nm1, 20) == b0);
  /* prev unchanged */
  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm0), ==, 2);
  g_assert_cmpstr (hyphae_netmap_lookup_id (nm0, 10)->name, ==, "a.example.ts.net.");
  /* Self, domain, DNS, DERP carried over. */
  g_assert_true (hyphae_netmap_get_self (nm1) == hyphae_netmap_get_self (nm0));
  g_assert_cmpstr (hyphae_netmap_get_domain (nm1), ==, "example.ts.net");
  g_assert_true (hyphae_netmap_get_dns_config_json (nm1) == hyphae_netmap_get_dns_config_json (nm0));
  g_assert_true (hyphae_netmap_get_derp_map_json (nm1) == hyphae_netmap_get_derp_map_json (nm0));
}

static void
test_peers_changed_duplicate (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  /* The same new ID twice in one message: the later entry wins, as in a Go map. */
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0,
                                           "{\"PeersChanged\":[{\"ID\":30,\"Name\":\"first.\",\"Key\":\"" KEY_B "\"},"
                                           "{\"ID\":30,\"Name\":\"second.\",\"Key\":\"" KEY_B "\"}]}",
                                           NOW);

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm1), ==, 3);
  g_assert_cmpstr (hyphae_netmap_lookup_id (nm1, 30)->name, ==, "second.");
}

static void
test_peers_removed (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0, "{\"PeersRemoved\":[10]}", NOW);
  g_autoptr(HyphaeNetmap) nm2 = NULL;

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm1), ==, 1);
  g_assert_null (hyphae_netmap_lookup_id (nm1, 10));
  g_assert_nonnull (hyphae_netmap_lookup_id (nm0, 10));
  /* Removal before change in one message (map.go order): re-add works. */
  nm2 = apply_ok (nm1, "{\"PeersRemoved\":[20],\"PeersChanged\":[{\"ID\":20,\"Name\":\"back.\","
                       "\"Key\":\"" KEY_A "\"}]}",
                  NOW);
  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm2), ==, 1);
  g_assert_cmpstr (hyphae_netmap_lookup_id (nm2, 20)->name, ==, "back.");
}

static void
test_patch (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL;
  const HyphaeNode *a0 = hyphae_netmap_lookup_id (nm0, 10);
  const HyphaeNode *b0 = hyphae_netmap_lookup_id (nm0, 20);
  const HyphaeNode *a1, *b1;

  nm1 = apply_ok (nm0,
                  "{\"PeersChangedPatch\":[{\"NodeID\":10,\"Endpoints\":[\"198.51.100.1:1\",\"[2001:db8::1]:2\"],"
                  "\"Key\":\"" KEY_B "\",\"DiscoKey\":\"" DISCO_C "\",\"Online\":true,"
                  "\"LastSeen\":\"2025-09-01T12:00:00Z\",\"KeyExpiry\":\"2030-01-01T00:00:00Z\","
                  "\"DERPRegion\":9,\"Cap\":113},"
                  "{\"NodeID\":20,\"Endpoints\":null,\"Key\":null,\"Online\":false}]}",
                  NOW);
  a1 = hyphae_netmap_lookup_id (nm1, 10);
  b1 = hyphae_netmap_lookup_id (nm1, 20);
  assert_strv (a1->endpoints, "198.51.100.1:1", "[2001:db8::1]:2", NULL);
  assert_key_hex (a1->key, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  g_assert_true (a1->has_disco_key);
  assert_key_hex (a1->disco_key, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
  g_assert_true (a1->online_known && a1->online);
  g_assert_cmpint (a1->last_seen_unix, ==, G_GINT64_CONSTANT (1756728000));
  g_assert_cmpint (a1->key_expiry_unix, ==, G_GINT64_CONSTANT (1893456000));
  g_assert_cmpint (a1->home_derp, ==, 9);
  g_assert_cmpint (a1->cap, ==, 113);
  /* Fields a patch does not name stay. */
  g_assert_cmpstr (a1->name, ==, "a.example.ts.net.");
  assert_strv (a1->allowed_ips, "100.64.0.10/32", "10.0.0.0/8", NULL);

  /* null fields in a patch are not changes. */
  assert_strv (b1->endpoints, "192.0.2.20:41641", NULL);
  assert_key_hex (b1->key, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  g_assert_true (b1->online_known);
  g_assert_false (b1->online);
  g_assert_cmpint (b1->home_derp, ==, 2);

  /* The previous snapshot's nodes are untouched. */
  g_assert_true (hyphae_netmap_lookup_id (nm0, 10) == a0);
  assert_strv (a0->endpoints, "192.0.2.10:41641", NULL);
  assert_key_hex (a0->key, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  g_assert_false (a0->online_known);
  g_assert_cmpint (a0->home_derp, ==, 3);
  g_assert_true (b0->online);

  /* Endpoints [] (not null) empties the list. */
  {
    g_autoptr(HyphaeNetmap) nm2 = apply_ok (nm1,
                                             "{\"PeersChangedPatch\":[{\"NodeID\":10,\"Endpoints\":[]}]}", NOW);
    g_assert_null (hyphae_netmap_lookup_id (nm2, 10)->endpoints[0]);
    g_assert_nonnull (hyphae_netmap_lookup_id (nm1, 10)->endpoints[0]);
  }
}

static void
test_online_seen_change (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0,
                                           "{\"OnlineChange\":{\"10\":true,\"20\":false},\"PeerSeenChange\":{\"10\":true,\"20\":false}}",
                                           NOW + 5);

  g_assert_true (hyphae_netmap_lookup_id (nm1, 10)->online_known);
  g_assert_true (hyphae_netmap_lookup_id (nm1, 10)->online);
  g_assert_false (hyphae_netmap_lookup_id (nm1, 20)->online);
  /* Seen true = now; false = unknown (map.go). */
  g_assert_cmpint (hyphae_netmap_lookup_id (nm1, 10)->last_seen_unix, ==, NOW + 5);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm1, 20)->last_seen_unix, ==, 0);
  g_assert_true (hyphae_netmap_lookup_id (nm0, 20)->online);
}

static void
test_peers_full_list (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  /* Peers present: the full list; the deltas beside it are ignored. */
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0,
                                           "{\"Peers\":[{\"ID\":30,\"Key\":\"" KEY_B "\",\"Addresses\":[\"100.64.0.30/32\"]}],"
                                           "\"PeersRemoved\":[999],\"PeersChangedPatch\":[{\"NodeID\":998,\"Online\":true}],"
                                           "\"PeersChanged\":[{\"ID\":40,\"Key\":\"" KEY_B "\"}]}",
                                           NOW);
  g_autoptr(HyphaeNetmap) nm2 = NULL;

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm1), ==, 1);
  g_assert_cmpint (hyphae_netmap_get_peer (nm1, 0)->id, ==, 30);
  /* Peers [] is "no full list" (len(Peers) > 0 in map.go): nothing changes. */
  nm2 = apply_ok (nm1, "{\"Peers\":[]}", NOW);
  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm2), ==, 1);
}

static void
test_absent_unchanged (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0, "{\"Domain\":\"\",\"DNSConfig\":null,"
                                                "\"DERPMap\":null,\"Node\":null,\"PacketFilter\":null}",
                                           NOW);
  g_autoptr(HyphaeNetmap) nm2 = NULL;
  g_autofree char *j0 = hyphae_netmap_to_json (nm0);
  g_autofree char *j1 = hyphae_netmap_to_json (nm1);

  g_assert_cmpstr (j0, ==, j1);
  g_assert_true (hyphae_netmap_get_self (nm1) == hyphae_netmap_get_self (nm0));
  g_assert_true (hyphae_netmap_get_peer (nm1, 0) == hyphae_netmap_get_peer (nm0, 0));
  g_assert_null (hyphae_netmap_get_packet_filter_json (nm1));

  /* A new Node replaces self; Domain and UserProfiles update. */
  nm2 = apply_ok (nm1, "{\"Node\":{\"ID\":1,\"Name\":\"me2.other.net.\",\"Key\":\"" KEY_A "\"},"
                       "\"Domain\":\"other.net\",\"UserProfiles\":[{\"ID\":7,\"LoginName\":\"u@x\","
                       "\"DisplayName\":\"U\"}]}",
                  NOW);
  g_assert_cmpstr (hyphae_netmap_get_self (nm2)->name, ==, "me2.other.net.");
  g_assert_cmpstr (hyphae_netmap_get_magicdns_suffix (nm2), ==, "other.net");
  g_assert_cmpstr (hyphae_netmap_get_domain (nm2), ==, "other.net");
  g_assert_cmpstr (hyphae_netmap_get_user_login (nm2, 7), ==, "u@x");
  g_assert_null (hyphae_netmap_get_user_login (nm1, 7));
  g_assert_cmpstr (hyphae_netmap_get_self (nm1)->name, ==, "me.example.ts.net.");
}

static void
test_user_profiles_delta (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0, "{\"UserProfiles\":[{\"ID\":1,\"LoginName\":\"a\"}]}", NOW);
  g_autoptr(HyphaeNetmap) nm2 = apply_ok (nm1, "{\"UserProfiles\":[{\"ID\":2,\"LoginName\":\"b\"},"
                                                "{\"ID\":1,\"LoginName\":\"a2\"}]}",
                                           NOW);

  /* UserProfiles only adds or replaces (capver 5). */
  g_assert_cmpstr (hyphae_netmap_get_user_login (nm2, 1), ==, "a2");
  g_assert_cmpstr (hyphae_netmap_get_user_login (nm2, 2), ==, "b");
  g_assert_cmpstr (hyphae_netmap_get_user_login (nm1, 1), ==, "a");
  g_assert_cmpstr (hyphae_netmap_get_user_display_name (nm1, 1), ==, "");
}

static void
assert_filter (HyphaeNetmap *nm,
               const char *expected)
{
  const char *f = hyphae_netmap_get_packet_filter_json (nm);

  if (expected == NULL)
    {
      g_assert_null (f);
      return;
    }
  g_assert_nonnull (f);
  {
    g_autoptr(JsonNode) a = json_from_string (f, NULL);
    g_autoptr(JsonNode) b = json_from_string (expected, NULL);
    g_assert_nonnull (a);
    g_assert_true (json_node_equal (a, b));
  }
}

static void
test_packet_filters (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL, nm2 = NULL, nm3 = NULL, nm4 = NULL, nm5 = NULL, nm6 = NULL;

  assert_filter (nm0, NULL); /* never sent */
  nm1 = apply_ok (nm0, "{\"PacketFilter\":[{\"SrcIPs\":[\"*\"],\"DstPorts\":[]}]}", NOW);
  assert_filter (nm1, "[{\"SrcIPs\":[\"*\"],\"DstPorts\":[]}]");
  /* absent: unchanged */
  nm2 = apply_ok (nm1, "{\"PeersRemoved\":[20]}", NOW);
  assert_filter (nm2, "[{\"SrcIPs\":[\"*\"],\"DstPorts\":[]}]");
  /* [] = deny all */
  nm3 = apply_ok (nm2, "{\"PacketFilter\":[]}", NOW);
  assert_filter (nm3, "[]");
  assert_filter (nm2, "[{\"SrcIPs\":[\"*\"],\"DstPorts\":[]}]");
  /* Named chunks, concatenated in name order; "base" is PacketFilter. */
  nm4 = apply_ok (nm3, "{\"PacketFilters\":{\"x\":[{\"SrcIPs\":[\"x\"]}],"
                       "\"base\":[{\"SrcIPs\":[\"b\"]}],\"a\":[{\"SrcIPs\":[\"a\"]}]}}",
                  NOW);
  assert_filter (nm4, "[{\"SrcIPs\":[\"a\"]},{\"SrcIPs\":[\"b\"]},{\"SrcIPs\":[\"x\"]}]");
  /* null deletes one entry */
  nm5 = apply_ok (nm4, "{\"PacketFilters\":{\"x\":null}}", NOW);
  assert_filter (nm5, "[{\"SrcIPs\":[\"a\"]},{\"SrcIPs\":[\"b\"]}]");
  /* "*": null clears all first, then the rest of the map applies. */
  nm6 = apply_ok (nm5, "{\"PacketFilters\":{\"*\":null,\"y\":[{\"SrcIPs\":[\"y\"]}]}}", NOW);
  assert_filter (nm6, "[{\"SrcIPs\":[\"y\"]}]");
  {
    g_autoptr(HyphaeNetmap) nm7 = apply_ok (nm6, "{\"PacketFilters\":{\"*\":null}}", NOW);
    assert_filter (nm7, "[]");
  }
  {
    /* PacketFilter and PacketFilters.base in one message: base from PacketFilters. */
    g_autoptr(HyphaeNetmap) nm8 = apply_ok (nm6, "{\"PacketFilter\":[{\"SrcIPs\":[\"p\"]}],"
                                                  "\"PacketFilters\":{\"y\":null}}",
                                             NOW);
    assert_filter (nm8, "[{\"SrcIPs\":[\"p\"]}]");
  }
}

static void
test_dns_derp_raw (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL, nm2 = NULL;
  g_autoptr(JsonNode) d1 = NULL, d2 = NULL;
  JsonObject *o;

  g_assert_nonnull (strstr (hyphae_netmap_get_dns_config_json (nm0), "example.ts.net"));
  nm1 = apply_ok (nm0, "{\"DNSConfig\":{\"Domains\":[\"new.net\"]}}", NOW);
  g_assert_nonnull (strstr (hyphae_netmap_get_dns_config_json (nm1), "new.net"));
  g_assert_null (strstr (hyphae_netmap_get_dns_config_json (nm1), "example.ts.net"));

  /* A DERPMap without Regions keeps the previous Regions (capver 65);
   * HomeParams without RegionScore keeps the previous RegionScore. */
  nm2 = apply_ok (nm1, "{\"DERPMap\":{\"HomeParams\":{}}}", NOW);
  d2 = json_from_string (hyphae_netmap_get_derp_map_json (nm2), NULL);
  o = json_node_get_object (d2);
  g_assert_true (json_object_has_member (json_object_get_object_member (o, "Regions"), "1"));
  g_assert_true (json_object_has_member (json_object_get_object_member (o, "HomeParams"),
                                         "RegionScore"));
  {
    g_autoptr(HyphaeNetmap) nm3 = apply_ok (nm2, "{\"DERPMap\":{\"Regions\":{\"5\":{\"RegionID\":5}}}}", NOW);
    g_autoptr(JsonNode) d3 = json_from_string (hyphae_netmap_get_derp_map_json (nm3), NULL);
    JsonObject *r = json_object_get_object_member (json_node_get_object (d3), "Regions");
    g_assert_true (json_object_has_member (r, "5"));
    g_assert_false (json_object_has_member (r, "1"));
    g_assert_true (json_object_has_member (json_node_get_object (d3), "HomeParams"));
  }
  (void) d1;
}

static void
test_keepalive (void)
{
  struct {
    const char *json;
    gboolean keepalive;
  } cases[] = {
    { "{\"KeepAlive\":true}", TRUE },
    { "{\"KeepAlive\":true,\"ControlTime\":\"2025-09-30T00:32:16Z\",\"Seq\":5}", TRUE },
    /* KeepAlive:true makes the other netmap fields ignored (tailcfg). */
    { "{\"KeepAlive\":true,\"PeersChangedPatch\":[{\"NodeID\":10,\"Online\":true}]}", TRUE },
    { "{\"KeepAlive\":false}", FALSE },
    { "{}", FALSE },
    { "{\"Domain\":\"x\"}", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (cases[i].json,
                                                               strlen (cases[i].json), &error);
      g_assert_no_error (error);
      g_assert_cmpint (hyphae_map_update_is_keepalive (u), ==, cases[i].keepalive);
      g_assert_null (hyphae_map_update_get_pop_browser_url (u));
    }
  {
    const char *j = "{\"PopBrowserURL\":\"https://login.example/a\"}";
    g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (j, strlen (j), NULL);
    g_assert_cmpstr (hyphae_map_update_get_pop_browser_url (u), ==, "https://login.example/a");
    g_assert_cmpint (hyphae_map_update_get_control_time (u), ==, 0);
  }
  {
    const char *j = "{\"KeepAlive\":true,\"ControlTime\":\"2025-09-30T00:32:16.013505287Z\"}";
    g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (j, strlen (j), NULL);
    g_assert_cmpint (hyphae_map_update_get_control_time (u), ==, G_GINT64_CONSTANT (1759192336));
  }
  {
    /* A keep-alive applied to a netmap changes nothing. */
    g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);
    g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0, "{\"KeepAlive\":true,\"Domain\":\"x\","
                                                  "\"PeersChangedPatch\":[{\"NodeID\":10,\"Online\":true}],"
                                                  "\"PeersRemoved\":[20]}",
                                             NOW);
    g_autofree char *a = hyphae_netmap_to_json (nm0);
    g_autofree char *b = hyphae_netmap_to_json (nm1);
    g_assert_cmpstr (a, ==, b);
  }
}

static void
test_errors (void)
{
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, SMALL, NOW);

  assert_error_keeps (NULL, "{\"PeersChanged\":[]}", HYPHAE_NETMAP_ERROR,
                      HYPHAE_NETMAP_ERROR_NO_SELF);
  assert_error_keeps (NULL, "{\"KeepAlive\":true}", HYPHAE_NETMAP_ERROR,
                      HYPHAE_NETMAP_ERROR_NO_SELF);
  assert_error_keeps (nm0, "{\"PeersChangedPatch\":[{\"NodeID\":10,\"Online\":true},"
                           "{\"NodeID\":11,\"Online\":true}]}",
                      HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE);
  assert_error_keeps (nm0, "{\"PeersRemoved\":[10,11]}",
                      HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE);
  assert_error_keeps (nm0, "{\"OnlineChange\":{\"12\":true}}",
                      HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE);
  assert_error_keeps (nm0, "{\"PeerSeenChange\":{\"12\":true}}",
                      HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE);
  /* Removed then patched in one message: unknown by then. */
  assert_error_keeps (nm0, "{\"PeersRemoved\":[10],\"PeersChangedPatch\":[{\"NodeID\":10,\"Cap\":1}]}",
                      HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE);
  {
    /* The same id twice in PeersRemoved is one removal. */
    g_autoptr(HyphaeNetmap) nm1 = apply_ok (nm0, "{\"PeersRemoved\":[10,10]}", NOW);
    g_assert_cmpuint (hyphae_netmap_get_n_peers (nm1), ==, 1);
  }

  /* PARSE: refused at parse time. */
  assert_parse_error ("");
  assert_parse_error ("not json");
  assert_parse_error ("[1,2]");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Key\":\"nodekey:abc\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Key\":\"mkey:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Key\":\"nodekey:gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Key\":\"\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Addresses\":[\"100.64.0.1/33\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Addresses\":[\"100.64.0.1\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Addresses\":[\"100.64.0/32\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Addresses\":[\"100.64.0.01/32\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Addresses\":[\"100.64.0.1/032\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"AllowedIPs\":[\"fd7a::/129\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"AllowedIPs\":[\"fe80::1%eth0/64\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Endpoints\":[\"1.2.3.4\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Endpoints\":[\"1.2.3.4:65536\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Endpoints\":[\"::1:5\"]}}");
  assert_parse_error ("{\"Node\":{\"ID\":\"1\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1.5}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"KeyExpiry\":\"2025-02-30T00:00:00Z\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"LastSeen\":\"yesterday\"}}");
  assert_parse_error ("{\"Node\":{\"ID\":1,\"Online\":\"yes\"}}");
  assert_parse_error ("{\"Node\":[]}");
  assert_parse_error ("{\"PeersRemoved\":[\"10\"]}");
  assert_parse_error ("{\"PeersChangedPatch\":[{\"NodeID\":10,\"Key\":\"nodekey:12\"}]}");
  assert_parse_error ("{\"PeersChangedPatch\":[{\"Online\":true}]}");
  assert_parse_error ("{\"OnlineChange\":{\"ten\":true}}");
  assert_parse_error ("{\"PacketFilter\":{}}");
  assert_parse_error ("{\"PacketFilters\":{\"base\":{}}}");
  assert_parse_error ("{\"DNSConfig\":[]}");
  assert_parse_error ("{\"KeepAlive\":1}");

  /* Depth: 64 levels are fine, 65 are refused before parsing. */
  {
    g_autoptr(GString) ok = g_string_new ("{\"DNSConfig\":");
    g_autoptr(GString) deep = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(HyphaeMapUpdate) u = NULL;

    for (int i = 0; i < 62; i++)
      g_string_append (ok, "{\"a\":");
    g_string_append (ok, "{}");
    for (int i = 0; i < 63; i++)
      g_string_append_c (ok, '}');
    u = hyphae_map_update_parse (ok->str, ok->len, &error);
    g_assert_no_error (error);
    deep = g_string_new ("{\"DNSConfig\":");
    for (int i = 0; i < 63; i++)
      g_string_append (deep, "{\"a\":");
    g_string_append (deep, "{}");
    for (int i = 0; i < 64; i++)
      g_string_append_c (deep, '}');
    assert_parse_error (deep->str);
  }
}

static void
test_big_ids (void)
{
  /* 2^53 + 1 and the largest int64 must survive exactly (no double). */
  g_autoptr(HyphaeNetmap) nm = apply_ok (NULL,
                                          "{\"Node\":{\"ID\":9223372036854775807,\"User\":9007199254740993,\"Key\":\"" KEY_A "\"},"
                                          "\"PeersChanged\":[{\"ID\":9007199254740993,\"Key\":\"" KEY_B "\"},"
                                          "{\"ID\":9007199254740992,\"Key\":\"" KEY_B "\"}]}",
                                          NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL;

  g_assert_cmpint (hyphae_netmap_get_self (nm)->id, ==, G_MAXINT64);
  g_assert_cmpint (hyphae_netmap_get_self (nm)->user_id, ==, G_GINT64_CONSTANT (9007199254740993));
  g_assert_cmpint (hyphae_netmap_get_peer (nm, 0)->id, ==, G_GINT64_CONSTANT (9007199254740992));
  g_assert_cmpint (hyphae_netmap_get_peer (nm, 1)->id, ==, G_GINT64_CONSTANT (9007199254740993));
  nm1 = apply_ok (nm, "{\"PeersChangedPatch\":[{\"NodeID\":9007199254740993,\"Cap\":7}],"
                      "\"OnlineChange\":{\"9007199254740992\":true}}",
                  NOW);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm1, G_GINT64_CONSTANT (9007199254740993))->cap, ==, 7);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm1, G_GINT64_CONSTANT (9007199254740992))->cap, ==, 0);
  assert_parse_error ("{\"Node\":{\"ID\":9223372036854775808}}");
  assert_parse_error ("{\"Node\":{\"ID\":-9223372036854775809}}");
  assert_parse_error ("{\"Node\":{\"ID\":1e3}}");
}

static void
test_expiry (void)
{
  g_autofree char *json = read_data ("tailscale-saas-map_response.json");
  /* 2026-02-01: the 2026-01-25 keys have expired, the 2026-02-14 ones not. */
  const gint64 later = G_GINT64_CONSTANT (1769904000);
  g_autoptr(HyphaeNetmap) nm0 = apply_ok (NULL, json, NOW);
  g_autoptr(HyphaeNetmap) nm1 = NULL, nm2 = NULL, nm3 = NULL;

  g_assert_false (hyphae_netmap_lookup_id (nm0, RELAY_ID)->expired);
  /* Time passes: a keep-alive-free delta at a later time re-derives Expired. */
  nm1 = apply_ok (nm0, "{\"OnlineChange\":{\"5170377294737635\":true}}", later);
  g_assert_true (hyphae_netmap_lookup_id (nm1, RELAY_ID)->expired);
  g_assert_true (hyphae_netmap_lookup_id (nm1, CLIENT2_ID)->expired);
  g_assert_false (hyphae_netmap_lookup_id (nm1, TESTN1_ID)->expired);
  g_assert_false (hyphae_netmap_lookup_id (nm0, RELAY_ID)->expired);
  g_assert_false (hyphae_netmap_get_self (nm1)->expired); /* 2026-03-24 */
  /* A new KeyExpiry in the future un-expires it. */
  nm2 = apply_ok (nm1, "{\"PeersChangedPatch\":[{\"NodeID\":1679275757477108,"
                       "\"KeyExpiry\":\"2027-01-01T00:00:00Z\"}]}",
                  later);
  g_assert_false (hyphae_netmap_lookup_id (nm2, RELAY_ID)->expired);
  g_assert_true (hyphae_netmap_lookup_id (nm2, CLIENT2_ID)->expired);
  /* Expired:true from control, KeyExpiry zero time (= never). */
  nm3 = apply_ok (nm2, "{\"PeersChanged\":[{\"ID\":77,\"Key\":\"" KEY_A "\",\"Expired\":true,"
                       "\"KeyExpiry\":\"0001-01-01T00:00:00Z\"},"
                       "{\"ID\":78,\"Key\":\"" KEY_A "\",\"KeyExpiry\":\"0001-01-01T00:00:00Z\"},"
                       "{\"ID\":79,\"Key\":\"" KEY_A "\",\"KeyExpiry\":\"2026-01-31T23:00:00-02:00\"}]}",
                  later);
  g_assert_true (hyphae_netmap_lookup_id (nm3, 77)->expired);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm3, 77)->key_expiry_unix, ==, 0);
  g_assert_false (hyphae_netmap_lookup_id (nm3, 78)->expired);
  /* 23:00-02:00 is 01:00Z the next day: after `later` (00:00Z). */
  g_assert_cmpint (hyphae_netmap_lookup_id (nm3, 79)->key_expiry_unix, ==, later + 3600);
  g_assert_false (hyphae_netmap_lookup_id (nm3, 79)->expired);
}

static void
test_exit_node_option (void)
{
  g_autoptr(HyphaeNetmap) nm = apply_ok (NULL,
                                          "{\"Node\":{\"ID\":1,\"Key\":\"" KEY_A "\"},\"PeersChanged\":["
                                          "{\"ID\":2,\"Key\":\"" KEY_A "\",\"Addresses\":[\"100.64.0.2/32\"],"
                                          " \"AllowedIPs\":[\"100.64.0.2/32\",\"0.0.0.0/0\",\"::/0\"]},"
                                          "{\"ID\":3,\"Key\":\"" KEY_A "\",\"AllowedIPs\":[\"0.0.0.0/0\"]},"
                                          "{\"ID\":4,\"Key\":\"" KEY_A "\",\"Addresses\":[\"100.64.0.4/32\"],\"UnsignedPeerAPIOnly\":true,"
                                          " \"AllowedIPs\":[\"100.64.0.4/32\",\"0.0.0.0/0\",\"::/0\"]},"
                                          "{\"ID\":5,\"Key\":\"" KEY_A "\",\"AllowedIPs\":[\"0:0::0/0\",\"0.0.0.0/0\"],"
                                          " \"SelfNodeV4MasqAddrForThisPeer\":\"100.64.9.9\",\"SelfNodeV6MasqAddrForThisPeer\":\"fd7a::9\","
                                          " \"IsWireGuardOnly\":true,\"IsJailed\":true,\"Machine\":\"mkey:"
                                          "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\","
                                          " \"ExitNodeDNSResolvers\":[{\"Addr\":\"1.1.1.1\"}],\"Tags\":[\"tag:x\"],\"PrimaryRoutes\":[\"10.1.0.0/16\"],"
                                          " \"Sharer\":42}]}",
                                          NOW);
  const HyphaeNode *p5 = hyphae_netmap_lookup_id (nm, 5);

  g_assert_true (hyphae_netmap_lookup_id (nm, 2)->exit_node_option);
  g_assert_false (hyphae_netmap_lookup_id (nm, 3)->exit_node_option);
  /* Unsigned peers are stripped back to their addresses (upgradeNode). */
  g_assert_false (hyphae_netmap_lookup_id (nm, 4)->exit_node_option);
  assert_strv (hyphae_netmap_lookup_id (nm, 4)->allowed_ips, "100.64.0.4/32", NULL);
  /* "0:0::0/0" is canonicalised to "::/0". */
  g_assert_true (p5->exit_node_option);
  assert_strv (p5->allowed_ips, "::/0", "0.0.0.0/0", NULL);
  g_assert_cmpstr (p5->self_v4_masq_addr, ==, "100.64.9.9");
  g_assert_cmpstr (p5->self_v6_masq_addr, ==, "fd7a::9");
  g_assert_true (p5->is_wireguard_only);
  g_assert_true (p5->is_jailed);
  g_assert_true (p5->has_machine_key);
  g_assert_nonnull (strstr (p5->exit_node_dns_resolvers_json, "1.1.1.1"));
  assert_strv (p5->tags, "tag:x", NULL);
  assert_strv (p5->primary_routes, "10.1.0.0/16", NULL);
  g_assert_null (hyphae_netmap_lookup_id (nm, 2)->self_v4_masq_addr);
  g_assert_cmpint (p5->sharer_id, ==, 42);
  g_assert_cmpint (hyphae_netmap_lookup_id (nm, 2)->sharer_id, ==, 0);

  {
    g_autofree char *json = hyphae_netmap_to_json (nm);
    g_assert_nonnull (strstr (json, "\"SelfNodeV4MasqAddrForThisPeer\":\"100.64.9.9\""));
    g_assert_nonnull (strstr (json, "\"IsWireGuardOnly\":true"));
    g_assert_nonnull (strstr (json, "\"Sharer\":42"));
  }
}

static void
test_capabilities (void)
{
  /* An old server's Capabilities on the self node become CapMap keys;
   * a peer's are not converted (map.go only does it for resp.Node). */
  g_autoptr(HyphaeNetmap) nm = apply_ok (NULL,
                                          "{\"Node\":{\"ID\":1,\"Key\":\"" KEY_A "\",\"Capabilities\":[\"cap-a\",\"cap-b\"],"
                                          "\"CapMap\":{\"cap-b\":[{\"x\":1}]}},"
                                          "\"PeersChanged\":[{\"ID\":2,\"Key\":\"" KEY_B "\",\"Capabilities\":[\"cap-c\"]}]}",
                                          NOW);
  g_autoptr(JsonNode) cm = json_from_string (hyphae_netmap_get_self (nm)->cap_map_json, NULL);
  JsonObject *o = json_node_get_object (cm);

  g_assert_true (json_object_has_member (o, "cap-a"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "cap-a")));
  g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "cap-b")));
  g_assert_null (hyphae_netmap_lookup_id (nm, 2)->cap_map_json);
}

static void
test_sharing (void)
{
  g_autofree char *json = read_data ("tailscale-saas-map_response.json");
  HyphaeNetmap *nm0 = apply_ok (NULL, json, NOW);
  HyphaeNetmap *nm1 = apply_ok (nm0, "{\"PeersChangedPatch\":[{\"NodeID\":5459977561039002,"
                                     "\"Endpoints\":[\"198.51.100.7:41641\"]}]}",
                                NOW);
  const HyphaeNode *c1_0 = hyphae_netmap_lookup_id (nm0, CLIENT1_ID);
  const HyphaeNode *c1_1 = hyphae_netmap_lookup_id (nm1, CLIENT1_ID);
  HyphaeNode *relay = (HyphaeNode *) hyphae_netmap_lookup_id (nm1, RELAY_ID);

  /* Untouched peers are the same objects, shared by refcount. */
  g_assert_true (hyphae_netmap_lookup_id (nm0, RELAY_ID) == relay);
  g_assert_cmpint (g_atomic_int_get (&relay->ref_count), ==, 2);
  g_assert_true (c1_0 != c1_1);
  assert_strv (c1_0->endpoints, "127.77.0.180:41641", "127.77.0.181:41641", NULL);
  assert_strv (c1_1->endpoints, "198.51.100.7:41641", NULL);

  /* A caller's ref keeps a node alive past its snapshots. */
  hyphae_node_ref (relay);
  hyphae_netmap_unref (nm0);
  g_assert_cmpint (g_atomic_int_get (&relay->ref_count), ==, 2);
  hyphae_netmap_unref (nm1);
  g_assert_cmpint (g_atomic_int_get (&relay->ref_count), ==, 1);
  g_assert_cmpstr (relay->name, ==, "relay.tail252fff.ts.net.");
  hyphae_node_unref (relay);
}

/* ---- the JSON scanner ------------------------------------------------------------- */

/* Scans the whole text (from an exact-size heap copy, so ASan sees any
 * read past the end). */
static gboolean
scan_all (const char *text,
          gsize len)
{
  g_autofree char *copy = g_memdup2 (text, MAX (len, 1));
  JsonScan s;
  gboolean ok;

  json_scan_init (&s, copy, len);
  ok = json_scan_skip (&s) && json_scan_end (&s);
  g_assert_true (ok == (json_scan_error (&s) == NULL));
  json_scan_clear (&s);
  return ok;
}

static void
test_scan_valid (void)
{
  const char *ok[] = {
    "{}",
    "[]",
    " {\"a\" : [1, -0, 0.5, -1.25e+10, 3E-2, true, false, null, \"x\"] } \n",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
    "\"\\u0000\"",
    "123",
    "-0",
    "{\"\":{\"\":[[],{}]}}",
    "\"é😀\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    if (!scan_all (ok[i], strlen (ok[i])))
      g_error ("refused valid JSON #%u: %s", i, ok[i]);
}

static void
test_scan_invalid (void)
{
  const char *bad[] = {
    "",
    " ",
    "{",
    "[",
    "}",
    "{,}",
    "[,]",
    "[1,]",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{\"a\":1 \"b\":2}",
    "[1 2]",
    "{1:2}",
    "{a:1}",
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "1e+",
    "0x10",
    "NaN",
    "tru",
    "nul",
    "falsey",
    "\"abc",
    "\"a\\\"",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\u12g4\"",
    "\"\\ud83d\"",
    "\"\\ud83d\\u0041\"",
    "\"\\ude00\"",
    "{} x",
    "[] []",
    "\"\t\"",
    "\"\xc0\x80\"",
    "\"\xed\xa0\x80\"",
    "\"\xf5\x80\x80\x80\"",
    "\"\xe2\x82\"",
    "\"\x80\"",
    "\"\xf0\x8f\xbf\xbf\"",
    "[1]]",
    "{\"a\":}",
    "[\"a\":1]",
    "{\"a\":1}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (scan_all (bad[i], strlen (bad[i])))
      g_error ("accepted invalid JSON #%u: %s", i, bad[i]);

  /* An embedded NUL is a control character in a string, and not JSON outside. */
  g_assert_false (scan_all ("\"a\0b\"", 5));
  g_assert_false (scan_all ("{}\0", 3));
}

static void
test_scan_depth (void)
{
  g_autoptr(GString) ok = g_string_new (NULL);
  g_autoptr(GString) deep = NULL;

  for (int i = 0; i < 64; i++)
    g_string_append_c (ok, '[');
  for (int i = 0; i < 64; i++)
    g_string_append_c (ok, ']');
  g_assert_true (scan_all (ok->str, ok->len));
  deep = g_string_new ("[");
  g_string_append (deep, ok->str);
  g_string_append_c (deep, ']');
  g_assert_false (scan_all (deep->str, deep->len));
}

static void
test_scan_values (void)
{
  const char *text = "{\"s\":\"a\\u00e9\\n\",\"i\":-9223372036854775808,\"j\":9223372036854775807,"
                     "\"b\":true,\"n\":null,\"r\":[1, {\"x\":2}],\"f\":1.5}";
  JsonScan s;
  const char *k, *v, *raw;
  gsize len;
  gint64 i;
  gboolean b;

  json_scan_init (&s, text, strlen (text));
  g_assert_true (json_scan_object_begin (&s));
  g_assert_cmpint (json_scan_object_next (&s, &k, &len), ==, 1);
  g_assert_cmpstr (k, ==, "s");
  g_assert_true (json_scan_string (&s, &v, &len));
  g_assert_cmpstr (v, ==, "a\xc3\xa9\n");
  g_assert_cmpuint (len, ==, 4);
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  g_assert_true (json_scan_int64 (&s, &i));
  g_assert_cmpint (i, ==, G_MININT64);
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  g_assert_true (json_scan_int64 (&s, &i));
  g_assert_cmpint (i, ==, G_MAXINT64);
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  g_assert_true (json_scan_bool (&s, &b));
  g_assert_true (b);
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  g_assert_cmpint (json_scan_peek (&s), ==, JSON_SCAN_NULL);
  g_assert_true (json_scan_null (&s));
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  g_assert_true (json_scan_raw (&s, &raw, &len));
  g_assert_cmpint (len, ==, strlen ("[1, {\"x\":2}]"));
  g_assert_true (memcmp (raw, "[1, {\"x\":2}]", len) == 0);
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, 1);
  /* 1.5 is not an int64; the error sticks. */
  g_assert_false (json_scan_int64 (&s, &i));
  g_assert_nonnull (json_scan_error (&s));
  g_assert_cmpint (json_scan_object_next (&s, &k, NULL), ==, -1);
  g_assert_false (json_scan_end (&s));
  json_scan_clear (&s);

  /* Type mismatches are errors, not coercions. */
  json_scan_init (&s, "\"1\"", 3);
  g_assert_false (json_scan_int64 (&s, &i));
  json_scan_clear (&s);
  json_scan_init (&s, "9223372036854775808", 19);
  g_assert_false (json_scan_int64 (&s, &i));
  json_scan_clear (&s);
  json_scan_init (&s, "\"a\\u0000b\"", 10);
  g_assert_false (json_scan_string (&s, &v, &len));
  json_scan_clear (&s);

  /* A decoded string is capped (a huge Hostname must not double the memory
   * a message costs); skipping the same text is fine. */
  {
    gsize n = JSON_SCAN_STRING_MAX;
    g_autofree char *big = g_malloc (n + 3);

    big[0] = '"';
    memset (big + 1, 'a', n);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    json_scan_init (&s, big, n + 2);
    g_assert_true (json_scan_string (&s, &v, &len));
    g_assert_cmpuint (len, ==, n);
    json_scan_clear (&s);
    g_free (big);
    n = JSON_SCAN_STRING_MAX + 1;
    big = g_malloc (n + 3);
    big[0] = '"';
    memset (big + 1, 'a', n);
    big[n + 1] = '"';
    json_scan_init (&s, big, n + 2);
    g_assert_false (json_scan_string (&s, &v, &len));
    g_assert_nonnull (strstr (json_scan_error (&s), "longer than"));
    json_scan_clear (&s);
    json_scan_init (&s, big, n + 2);
    g_assert_true (json_scan_skip (&s) && json_scan_end (&s));
    json_scan_clear (&s);
  }
}

/* ---- many peers against a model ----------------------------------------------------- */

/* Random PeersChanged / PeersRemoved / patches over a few hundred IDs, so
 * chunks split, empty and get shared; each snapshot is checked against a
 * model, and the previous one must still match its own. */
static void
check_model (HyphaeNetmap *nm,
             GTree *model)
{
  GTreeNode *t = g_tree_node_first (model);

  g_assert_cmpuint (hyphae_netmap_get_n_peers (nm), ==, g_tree_nnodes (model));
  for (guint i = 0; t != NULL; i++, t = g_tree_node_next (t))
    {
      gint64 id = *(gint64 *) g_tree_node_key (t);
      const HyphaeNode *n = hyphae_netmap_get_peer (nm, i);

      g_assert_cmpint (n->id, ==, id);
      g_assert_true (hyphae_netmap_lookup_id (nm, id) == n);
      g_assert_cmpint (n->cap, ==, GPOINTER_TO_INT (g_tree_node_value (t)));
    }
}

static gint
cmp_i64 (gconstpointer a,
         gconstpointer b,
         gpointer user_data)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
test_many_peers (void)
{
  g_autoptr(GRand) r = g_rand_new_with_seed (7);
  g_autoptr(GTree) model = g_tree_new_full (cmp_i64, NULL, g_free, NULL);
  HyphaeNetmap *nm = apply_ok (NULL, "{\"Node\":{\"ID\":1,\"Key\":\"" KEY_A "\"}}", NOW);

  for (int round = 0; round < 300; round++)
    {
      g_autoptr(GString) msg = g_string_new ("{");
      g_autoptr(GTree) next_model = g_tree_new_full (cmp_i64, NULL, g_free, NULL);
      GTreeNode *t;
      HyphaeNetmap *next;
      int op = g_rand_int_range (r, 0, 13) / 4; /* 0–2 deltas, 3 (rarely) a full Peers */
      int cap = round + 1;

      for (t = g_tree_node_first (model); t != NULL; t = g_tree_node_next (t))
        g_tree_insert (next_model, g_memdup2 (g_tree_node_key (t), sizeof (gint64)),
                       g_tree_node_value (t));

      if (op == 0 || g_tree_nnodes (model) < 50)
        {
          /* Add or replace up to 40 peers. */
          g_string_append (msg, "\"PeersChanged\":[");
          for (int k = 0, n = g_rand_int_range (r, 1, 40); k < n; k++)
            {
              gint64 id = g_rand_int_range (r, 2, 600);
              g_string_append_printf (msg, "%s{\"ID\":%" G_GINT64_FORMAT ",\"Key\":\"" KEY_B "\","
                                           "\"Cap\":%d}",
                                      k ? "," : "", id, cap);
              g_tree_insert (next_model, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (cap));
            }
          g_string_append (msg, "]");
        }
      else if (op == 1)
        {
          /* Remove a run of present peers (chunks empty out). */
          GTreeNode *from = g_tree_node_first (model);
          int skip = g_rand_int_range (r, 0, g_tree_nnodes (model));
          int n = g_rand_int_range (r, 1, 80);
          gboolean first = TRUE;

          for (int k = 0; k < skip; k++)
            from = g_tree_node_next (from);
          g_string_append (msg, "\"PeersRemoved\":[");
          for (t = from; t != NULL && n-- > 0; t = g_tree_node_next (t))
            {
              g_string_append_printf (msg, "%s%" G_GINT64_FORMAT, first ? "" : ",",
                                      *(gint64 *) g_tree_node_key (t));
              g_tree_remove (next_model, g_tree_node_key (t));
              first = FALSE;
            }
          g_string_append (msg, "]");
        }
      else if (op == 3)
        {
          /* A full Peers list: the model's peers minus some, plus some new
           * (chunks rebuilt from scratch; the deltas beside it are ignored). */
          gboolean first = TRUE;

          g_string_append (msg, "\"PeersRemoved\":[1234567],\"Peers\":[");
          for (t = g_tree_node_first (model); t != NULL; t = g_tree_node_next (t))
            {
              gint64 id = *(gint64 *) g_tree_node_key (t);

              if (g_rand_int_range (r, 0, 10) == 0)
                {
                  g_tree_remove (next_model, &id);
                  continue;
                }
              g_string_append_printf (msg, "%s{\"ID\":%" G_GINT64_FORMAT ",\"Key\":\"" KEY_A "\","
                                           "\"Cap\":%d}",
                                      first ? "" : ",", id, cap);
              g_tree_insert (next_model, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (cap));
              first = FALSE;
            }
          for (int k = 0; k < 20; k++)
            {
              gint64 id = g_rand_int_range (r, 600, 700);
              g_string_append_printf (msg, "%s{\"ID\":%" G_GINT64_FORMAT ",\"Key\":\"" KEY_A "\","
                                           "\"Cap\":%d}",
                                      first ? "" : ",", id, cap);
              g_tree_insert (next_model, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (cap));
              first = FALSE;
            }
          g_string_append (msg, "]");
        }
      else
        {
          /* Patch a few present peers. */
          int n = g_rand_int_range (r, 1, 5);

          g_string_append (msg, "\"PeersChangedPatch\":[");
          for (int k = 0; k < n; k++)
            {
              GTreeNode *pick = g_tree_node_first (model);
              int skip = g_rand_int_range (r, 0, g_tree_nnodes (model));

              for (int j = 0; j < skip; j++)
                pick = g_tree_node_next (pick);
              g_string_append_printf (msg, "%s{\"NodeID\":%" G_GINT64_FORMAT ",\"Cap\":%d}",
                                      k ? "," : "", *(gint64 *) g_tree_node_key (pick), cap);
              g_tree_insert (next_model, g_memdup2 (g_tree_node_key (pick), sizeof (gint64)),
                             GINT_TO_POINTER (cap));
            }
          g_string_append (msg, "]");
        }
      g_string_append (msg, "}");

      next = apply_ok (nm, msg->str, NOW);
      check_model (next, next_model);
      check_model (nm, model); /* the previous snapshot is untouched */
      hyphae_netmap_unref (nm);
      nm = next;
      g_tree_unref (model);
      model = g_steal_pointer (&next_model);
    }
  hyphae_netmap_unref (nm);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/netmap/fixture/self", test_fixture_self);
  g_test_add_func ("/netmap/fixture/peers", test_fixture_peers);
  g_test_add_func ("/netmap/fixture/raw", test_fixture_raw);
  g_test_add_func ("/netmap/fixture/node", test_fixture_node);
  g_test_add_func ("/netmap/to-json", test_to_json);
  g_test_add_func ("/netmap/delta/start", test_small_start);
  g_test_add_func ("/netmap/delta/peers-changed", test_peers_changed);
  g_test_add_func ("/netmap/delta/peers-changed-duplicate", test_peers_changed_duplicate);
  g_test_add_func ("/netmap/delta/peers-removed", test_peers_removed);
  g_test_add_func ("/netmap/delta/patch", test_patch);
  g_test_add_func ("/netmap/delta/online-seen", test_online_seen_change);
  g_test_add_func ("/netmap/delta/peers-full-list", test_peers_full_list);
  g_test_add_func ("/netmap/delta/absent-unchanged", test_absent_unchanged);
  g_test_add_func ("/netmap/delta/user-profiles", test_user_profiles_delta);
  g_test_add_func ("/netmap/delta/packet-filters", test_packet_filters);
  g_test_add_func ("/netmap/delta/dns-derp", test_dns_derp_raw);
  g_test_add_func ("/netmap/keepalive", test_keepalive);
  g_test_add_func ("/netmap/errors", test_errors);
  g_test_add_func ("/netmap/big-ids", test_big_ids);
  g_test_add_func ("/netmap/expiry", test_expiry);
  g_test_add_func ("/netmap/exit-node-and-extras", test_exit_node_option);
  g_test_add_func ("/netmap/capabilities", test_capabilities);
  g_test_add_func ("/netmap/sharing", test_sharing);
  g_test_add_func ("/netmap/many-peers", test_many_peers);
  g_test_add_func ("/netmap/json-scan/valid", test_scan_valid);
  g_test_add_func ("/netmap/json-scan/invalid", test_scan_invalid);
  g_test_add_func ("/netmap/json-scan/depth", test_scan_depth);
  g_test_add_func ("/netmap/json-scan/values", test_scan_values);

  return g_test_run ();
}
