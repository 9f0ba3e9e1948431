/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/netmap/netmap (+ json-scan): the input is a
 * sequence of MapResponse messages separated by NUL bytes, fed through
 * hyphae_map_update_parse + hyphae_netmap_apply starting from no netmap,
 * with the clock moving 30 days per message (expiry paths).
 *
 * Invariants checked after every message:
 * - a refused message (parse or apply) leaves the previous snapshot exactly
 *   as it was (same to_json text);
 * - an accepted one leaves the previous snapshot unchanged too, and the new
 *   one has peers strictly sorted by ID, each found by lookup_id and
 *   lookup_stable_id (or a peer with the same StableID), a self node, and a
 *   to_json that json-glib parses;
 * - whatever the scanner accepts, json-glib accepts as JSON too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "fuzz-harness.h"
#include "netmap.h"

static void
check_snapshot (const HyphaeNetmap *nm,
                char **json_out)
{
  guint n = hyphae_netmap_get_n_peers (nm);
  g_autoptr(JsonNode) root = NULL;
  char *json;

  CHECK (hyphae_netmap_get_self (nm) != NULL);
  CHECK (hyphae_netmap_get_domain (nm) != NULL);
  CHECK (hyphae_netmap_get_magicdns_suffix (nm) != NULL);
  for (guint i = 0; i < n; i++)
    {
      const HyphaeNode *p = hyphae_netmap_get_peer (nm, i);
      const HyphaeNode *by_stable = hyphae_netmap_lookup_stable_id (nm, p->stable_id);

      CHECK (p != NULL && p->ref_count > 0);
      CHECK (i == 0 || hyphae_netmap_get_peer (nm, i - 1)->id < p->id);
      CHECK (hyphae_netmap_lookup_id (nm, p->id) == p);
      CHECK (by_stable != NULL && strcmp (by_stable->stable_id, p->stable_id) == 0);
      CHECK (p->addresses != NULL && p->allowed_ips != NULL && p->endpoints != NULL);
    }
  json = hyphae_netmap_to_json (nm);
  CHECK (json != NULL);
  root = json_from_string (json, NULL);
  CHECK (root != NULL);
  *json_out = json;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  HyphaeNetmap *nm = NULL;
  g_autofree char *nm_json = NULL;
  gint64 now = G_GINT64_CONSTANT (1759276800);
  size_t start = 0;

  while (start <= size)
    {
      const uint8_t *nul = memchr (data + start, 0, size - start);
      size_t end = nul != NULL ? (size_t) (nul - data) : size;
      const char *msg = (const char *) data + start;
      size_t len = end - start;
      g_autoptr(GError) error = NULL;
      g_autoptr(HyphaeMapUpdate) u = NULL;

      u = hyphae_map_update_parse (msg, len, &error);
      if (u != NULL)
        {
          /* The scanner's JSON is JSON for json-glib too. */
          g_autoptr(JsonParser) parser = json_parser_new_immutable ();
          g_autoptr(GError) jg_error = NULL;
          const HyphaeMapPingRequest *ping = hyphae_map_update_get_ping_request (u);

          /* A PingRequest, if any, within its bounds. */
          if (ping != NULL)
            {
              CHECK (ping->url != NULL && strlen (ping->url) <= HYPHAE_PING_URL_MAX);
              CHECK (ping->types != NULL);
              CHECK (ping->payload == NULL ||
                     g_bytes_get_size (ping->payload) <= HYPHAE_PING_PAYLOAD_MAX);
            }

          if (!json_parser_load_from_data (parser, msg, len, &jg_error))
            {
              fprintf (stderr, "json-glib refuses what json-scan accepted: %s\n", jg_error->message);
              abort ();
            }
        }
      else
        CHECK (error != NULL && error->domain == HYPHAE_NETMAP_ERROR);

      if (u != NULL)
        {
          HyphaeNetmap *next = hyphae_netmap_apply (nm, u, now, &error);

          if (nm != NULL)
            {
              g_autofree char *again = hyphae_netmap_to_json (nm);
              CHECK (strcmp (again, nm_json) == 0);
            }
          if (next != NULL)
            {
              char *next_json;

              CHECK (error == NULL);
              check_snapshot (next, &next_json);
              if (hyphae_map_update_is_keepalive (u) && nm != NULL)
                CHECK (strcmp (next_json, nm_json) == 0 ||
                       /* time passed: only Expired flags may differ */
                       strstr (next_json, "\"Expired\":true") != NULL);
              hyphae_netmap_unref (nm);
              g_free (nm_json);
              nm = next;
              nm_json = next_json;
            }
          else
            CHECK (error != NULL && error->domain == HYPHAE_NETMAP_ERROR);
        }
      now += 30 * 86400;
      start = end + 1;
    }
  hyphae_netmap_unref (nm);
  return 0;
}
