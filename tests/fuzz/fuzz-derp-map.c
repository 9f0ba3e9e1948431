/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/magicsock/hyphae-derp-map (a DERPMap from the
 * control server, through json-scan). The input is the JSON text.
 *
 * Invariants: a refused map sets an error and returns NULL; an accepted one
 * has at most 1024 regions in strictly ascending id, each found by lookup,
 * at most 64 nodes each, every node of its region, ports in range (STUN -1 or
 * 1..65535, DERP 1..65535), literals only of their family and never together
 * with that family turned off, no empty strings, finite scores.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gio/gio.h>

#include "fuzz-harness.h"
#include "hyphae-derp-map.h"

static void
check_string (const char *s)
{
  CHECK (s == NULL || (s[0] != '\0' && strlen (s) <= 512));
}

static void
check_literal (const char *text,
               gboolean off,
               GSocketFamily family)
{
  g_autoptr(GInetAddress) addr = NULL;

  if (text == NULL)
    return;
  CHECK (!off);
  addr = g_inet_address_new_from_string (text);
  CHECK (addr != NULL && g_inet_address_get_family (addr) == family);
}

static void
check_map (const HyphaeDerpMap *map)
{
  guint n = hyphae_derp_map_get_n_regions (map);

  CHECK (n <= HYPHAE_DERP_MAP_MAX_REGIONS);
  for (guint i = 0; i < n; i++)
    {
      HyphaeDerpRegion *r = hyphae_derp_map_get_region (map, i);

      CHECK (r->region_id > 0);
      CHECK (i == 0 || hyphae_derp_map_get_region (map, i - 1)->region_id < r->region_id);
      CHECK (hyphae_derp_map_lookup_region (map, r->region_id) == r);
      CHECK (isfinite (hyphae_derp_map_get_region_score (map, r->region_id)));
      check_string (r->region_code);
      check_string (r->region_name);
      CHECK (r->nodes->len <= HYPHAE_DERP_MAP_MAX_NODES);
      for (guint j = 0; j < r->nodes->len; j++)
        {
          const HyphaeDerpNode *node = g_ptr_array_index (r->nodes, j);

          CHECK (node->region_id == r->region_id);
          CHECK (node->stun_port == -1 || (node->stun_port >= 1 && node->stun_port <= 65535));
          CHECK (node->derp_port >= 1);
          check_string (node->name);
          check_string (node->host_name);
          check_string (node->cert_name);
          check_string (node->stun_test_ip);
          check_literal (node->ipv4, node->no_ipv4, G_SOCKET_FAMILY_IPV4);
          check_literal (node->ipv6, node->no_ipv6, G_SOCKET_FAMILY_IPV6);
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeDerpMap) map = hyphae_derp_map_parse ((const char *) data, size, &error);

  CHECK ((map == NULL) == (error != NULL));
  if (map != NULL)
    check_map (map);
  else
    CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  return 0;
}
