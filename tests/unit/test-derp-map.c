/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/magicsock/hyphae-derp-map (tailcfg.DERPMap → regions and
 * nodes).
 *
 *  /derp-map/tailscale-saas   the DERPMap of tailscale.com's MapResponse (tests/data),
 *                             through the netmap as hyphaed keeps it
 *  /derp-map/fields           every DERPNode field, defaults, "none", HomeParams
 *  /derp-map/refused          wrong types, ranges, mismatched ids, bounds, trailing bytes
 */
#include <string.h>

#include "fixture-files.h"
#include "hyphae-derp-map.h"
#include "netmap.h"

static HyphaeDerpMap *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  HyphaeDerpMap *map = hyphae_derp_map_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (map);
  return map;
}

static void
test_tailscale_saas (void)
{
  g_autofree char *json = fixture_file_text (g_getenv ("HYPHAE_TEST_DATA"),
                                             "tailscale-saas-map_response.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) update = hyphae_map_update_parse (json, strlen (json), &error);
  g_autoptr(HyphaeNetmap) nm = NULL;
  g_autoptr(HyphaeDerpMap) map = NULL;
  const char *derp_json;
  HyphaeDerpRegion *nyc;
  const HyphaeDerpNode *node;
  int last = 0;

  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, update, 0, &error);
  g_assert_no_error (error);
  derp_json = hyphae_netmap_get_derp_map_json (nm);
  g_assert_nonnull (derp_json);
  map = parse_ok (derp_json);

  g_assert_cmpuint (hyphae_derp_map_get_n_regions (map), ==, 28);
  for (guint i = 0; i < hyphae_derp_map_get_n_regions (map); i++)
    {
      HyphaeDerpRegion *region = hyphae_derp_map_get_region (map, i);

      g_assert_cmpint (region->region_id, >, last); /* ascending */
      last = region->region_id;
      g_assert_cmpuint (region->nodes->len, >, 0);
      for (guint j = 0; j < region->nodes->len; j++)
        {
          node = g_ptr_array_index (region->nodes, j);
          g_assert_cmpint (node->region_id, ==, region->region_id);
          g_assert_nonnull (node->host_name);
          g_assert_true (g_str_has_suffix (node->host_name, ".example.invalid"));
        }
    }
  g_assert_cmpint (last, ==, 28);

  nyc = hyphae_derp_map_lookup_region (map, 1);
  g_assert_nonnull (nyc);
  g_assert_cmpstr (nyc->region_code, ==, "nyc");
  g_assert_cmpstr (nyc->region_name, ==, "New York City");
  g_assert_false (nyc->avoid);
  g_assert_false (nyc->no_measure_no_home);
  g_assert_cmpuint (nyc->nodes->len, ==, 4);
  node = g_ptr_array_index (nyc->nodes, 0);
  g_assert_cmpstr (node->name, ==, "1h");
  g_assert_cmpstr (node->host_name, ==, "derp1h.example.invalid");
  g_assert_cmpstr (node->ipv4, ==, "127.77.0.2");
  g_assert_cmpstr (node->ipv6, ==, "::1");
  g_assert_false (node->no_ipv4);
  g_assert_null (node->cert_name);
  g_assert_cmpint (node->stun_port, ==, 3478);
  g_assert_cmpuint (node->derp_port, ==, 443);
  g_assert_true (node->can_port80);
  g_assert_false (node->stun_only);
  g_assert_false (node->insecure_for_tests);
  node = g_ptr_array_index (nyc->nodes, 3);
  g_assert_cmpstr (node->name, ==, "1i");
  g_assert_true (node->stun_only);

  g_assert_null (hyphae_derp_map_lookup_region (map, 900));
  g_assert_cmpfloat (hyphae_derp_map_get_region_score (map, 1), ==, 1.0);
  g_assert_false (hyphae_derp_map_get_omit_default_regions (map));
}

static void
test_fields (void)
{
  static const char json[] =
    "{\"Regions\":{\"901\":{\"RegionID\":901,\"RegionCode\":\"b\",\"RegionName\":\"B\","
    "\"Latitude\":1.5,\"Avoid\":true,\"NoMeasureNoHome\":true,\"Future\":[{}],"
    "\"Nodes\":[{\"Name\":\"901a\",\"RegionID\":901,\"HostName\":\"derp.test\","
    "\"CertName\":\"sha256-raw:00ff\",\"IPv4\":\"none\",\"IPv6\":\"fd00::1\",\"STUNPort\":-1,"
    "\"STUNOnly\":false,\"DERPPort\":8443,\"InsecureForTests\":true,\"STUNTestIP\":\"10.0.0.9\","
    "\"CanPort80\":false},null,{\"Name\":\"901b\",\"HostName\":\"h\",\"IPv4\":\"::1\","
    "\"IPv6\":\"10.1.1.1\",\"STUNPort\":null}]},"
    "\"900\":{\"RegionCode\":\"a\",\"Nodes\":null},\"902\":null},"
    "\"HomeParams\":{\"RegionScore\":{\"900\":0.5,\"901\":2e0}},\"omitDefaultRegions\":true}";
  g_autoptr(HyphaeDerpMap) map = parse_ok (json);
  HyphaeDerpRegion *a, *b;
  const HyphaeDerpNode *node;

  g_assert_cmpuint (hyphae_derp_map_get_n_regions (map), ==, 2);
  a = hyphae_derp_map_get_region (map, 0);
  g_assert_cmpint (a->region_id, ==, 900); /* from the key */
  g_assert_cmpstr (a->region_code, ==, "a");
  g_assert_cmpuint (a->nodes->len, ==, 0);
  b = hyphae_derp_map_get_region (map, 1);
  g_assert_true (b == hyphae_derp_map_lookup_region (map, 901));
  g_assert_true (b->avoid);
  g_assert_true (b->no_measure_no_home);
  g_assert_cmpuint (b->nodes->len, ==, 2);

  node = g_ptr_array_index (b->nodes, 0);
  g_assert_cmpstr (node->cert_name, ==, "sha256-raw:00ff");
  g_assert_null (node->ipv4);
  g_assert_true (node->no_ipv4);
  g_assert_cmpstr (node->ipv6, ==, "fd00::1");
  g_assert_false (node->no_ipv6);
  g_assert_cmpint (node->stun_port, ==, -1);
  g_assert_cmpuint (node->derp_port, ==, 8443);
  g_assert_true (node->insecure_for_tests);
  g_assert_cmpstr (node->stun_test_ip, ==, "10.0.0.9");

  /* A literal of the wrong family turns that family off, as Go's dialer does. */
  node = g_ptr_array_index (b->nodes, 1);
  g_assert_cmpint (node->region_id, ==, 901);
  g_assert_true (node->no_ipv4);
  g_assert_true (node->no_ipv6);
  g_assert_cmpint (node->stun_port, ==, 3478);

  g_assert_cmpfloat (hyphae_derp_map_get_region_score (map, 900), ==, 0.5);
  g_assert_cmpfloat (hyphae_derp_map_get_region_score (map, 901), ==, 2.0);
  g_assert_true (hyphae_derp_map_get_omit_default_regions (map));

  /* A key twice: the last wins, as in Go (found by fuzz-derp-map). */
  {
    static const char twice[] = "{\"Regions\":{\"1\":{},\"2\":{}},\"Regions\":{\"2\":{\"RegionCode\":\"x\"}}}";
    g_autoptr(HyphaeDerpMap) last = parse_ok (twice);

    g_assert_cmpuint (hyphae_derp_map_get_n_regions (last), ==, 1);
    g_assert_cmpstr (hyphae_derp_map_get_region (last, 0)->region_code, ==, "x");
  }

  /* Regions outlive their map. */
  hyphae_derp_region_ref (b);
  g_clear_pointer (&map, hyphae_derp_map_unref);
  g_assert_cmpstr (b->region_code, ==, "b");
  hyphae_derp_region_unref (b);
}

static void
check_refused (const char *json,
               const char *why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeDerpMap) map = hyphae_derp_map_parse (json, strlen (json), &error);

  g_assert_null (map);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_test_message ("%s: %s", json, error->message);
  if (why != NULL && strstr (error->message, why) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, why);
}

static void
test_refused (void)
{
  g_autoptr(GString) many = g_string_new ("{\"Regions\":{\"1\":{\"Nodes\":[");
  g_autoptr(GString) long_name = g_string_new ("{\"Regions\":{\"1\":{\"RegionName\":\"");

  check_refused ("", NULL);
  check_refused ("[]", NULL);
  check_refused ("{\"Regions\":{}} x", NULL);
  check_refused ("{\"Regions\":[]}", NULL);
  check_refused ("{\"Regions\":{\"x\":{}}}", "not a positive integer");
  check_refused ("{\"Regions\":{\"0\":{}}}", "not a positive integer");
  check_refused ("{\"Regions\":{\"1\":{},\"01\":{}}}", "twice");
  check_refused ("{\"Regions\":{\"1\":{\"RegionID\":2}}}", "has RegionID 2");
  check_refused ("{\"Regions\":{\"1\":{\"RegionID\":\"1\"}}}", NULL);
  check_refused ("{\"Regions\":{\"1\":{\"Avoid\":1}}}", NULL);
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":{}}}}", NULL);
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"RegionID\":3}]}}}", "RegionID 3");
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"DERPPort\":65536}]}}}", "out of range");
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"DERPPort\":-1}]}}}", "out of range");
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"STUNPort\":-2}]}}}", "out of range");
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"STUNPort\":1.5}]}}}", NULL);
  check_refused ("{\"Regions\":{\"1\":{\"Nodes\":[{\"HostName\":7}]}}}", NULL);
  check_refused ("{\"HomeParams\":{\"RegionScore\":{\"1\":\"2\"}}}", "expected a number");
  check_refused ("{\"HomeParams\":{\"RegionScore\":{\"1\":1e999}}}", "out of range");

  for (int i = 0; i <= HYPHAE_DERP_MAP_MAX_NODES; i++)
    g_string_append (many, i == 0 ? "{}" : ",{}");
  g_string_append (many, "]}}}");
  check_refused (many->str, "more than 64 nodes");

  for (int i = 0; i < 513; i++)
    g_string_append_c (long_name, 'n');
  g_string_append (long_name, "\"}}}");
  check_refused (long_name->str, "longer than 512");
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/derp-map/tailscale-saas", test_tailscale_saas);
  g_test_add_func ("/derp-map/fields", test_fields);
  g_test_add_func ("/derp-map/refused", test_refused);
  return g_test_run ();
}
