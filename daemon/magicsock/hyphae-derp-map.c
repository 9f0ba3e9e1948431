/* SPDX-License-Identifier: MIT */
/*
 * DERPMap JSON → HyphaeDerpMap, read with the pull scanner (json-scan.h):
 * strict RFC 8259 and Go's types (tailcfg/derpmap.go: DERPMap, DERPRegion,
 * DERPNode), absent and null meaning the zero value, unknown fields skipped.
 * Bounds on the text, the regions, the nodes per region and every string.
 */
#include "hyphae-derp-map.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "json-scan.h"

/* No name, code or address in a DERPMap is near this. */
#define STRING_MAX 512

struct _HyphaeDerpMap {
  GPtrArray *regions; /* HyphaeDerpRegion*, ascending id */
  GHashTable *scores; /* region id → double* */
  gboolean omit_default_regions;
};

/* ---- types ------------------------------------------------------------------- */

static void
derp_node_free (gpointer p)
{
  HyphaeDerpNode *node = p;

  g_free (node->name);
  g_free (node->host_name);
  g_free (node->cert_name);
  g_free (node->ipv4);
  g_free (node->ipv6);
  g_free (node->stun_test_ip);
  g_free (node);
}

static void
derp_region_clear (gpointer p)
{
  HyphaeDerpRegion *region = p;

  g_free (region->region_code);
  g_free (region->region_name);
  g_clear_pointer (&region->nodes, g_ptr_array_unref);
}

static HyphaeDerpRegion *
derp_region_new (void)
{
  HyphaeDerpRegion *region = g_atomic_rc_box_new0 (HyphaeDerpRegion);

  region->nodes = g_ptr_array_new_with_free_func (derp_node_free);
  return region;
}

HyphaeDerpRegion *
hyphae_derp_region_ref (HyphaeDerpRegion *region)
{
  g_return_val_if_fail (region != NULL, NULL);
  return g_atomic_rc_box_acquire (region);
}

void
hyphae_derp_region_unref (HyphaeDerpRegion *region)
{
  if (region != NULL)
    g_atomic_rc_box_release_full (region, derp_region_clear);
}

G_DEFINE_BOXED_TYPE (HyphaeDerpRegion, hyphae_derp_region, hyphae_derp_region_ref, hyphae_derp_region_unref)

static void
derp_map_clear (gpointer p)
{
  HyphaeDerpMap *map = p;

  g_clear_pointer (&map->regions, g_ptr_array_unref);
  g_clear_pointer (&map->scores, g_hash_table_unref);
}

HyphaeDerpMap *
hyphae_derp_map_ref (HyphaeDerpMap *map)
{
  g_return_val_if_fail (map != NULL, NULL);
  return g_atomic_rc_box_acquire (map);
}

void
hyphae_derp_map_unref (HyphaeDerpMap *map)
{
  if (map != NULL)
    g_atomic_rc_box_release_full (map, derp_map_clear);
}

G_DEFINE_BOXED_TYPE (HyphaeDerpMap, hyphae_derp_map, hyphae_derp_map_ref, hyphae_derp_map_unref)

guint
hyphae_derp_map_get_n_regions (const HyphaeDerpMap *map)
{
  g_return_val_if_fail (map != NULL, 0);
  return map->regions->len;
}

HyphaeDerpRegion *
hyphae_derp_map_get_region (const HyphaeDerpMap *map,
                            guint index)
{
  g_return_val_if_fail (map != NULL, NULL);
  g_return_val_if_fail (index < map->regions->len, NULL);
  return g_ptr_array_index (map->regions, index);
}

HyphaeDerpRegion *
hyphae_derp_map_lookup_region (const HyphaeDerpMap *map,
                               int region_id)
{
  g_return_val_if_fail (map != NULL, NULL);
  for (guint i = 0; i < map->regions->len; i++)
    {
      HyphaeDerpRegion *region = g_ptr_array_index (map->regions, i);

      if (region->region_id == region_id)
        return region;
    }
  return NULL;
}

double
hyphae_derp_map_get_region_score (const HyphaeDerpMap *map,
                                  int region_id)
{
  const double *score;

  g_return_val_if_fail (map != NULL, 1.0);
  score = g_hash_table_lookup (map->scores, GINT_TO_POINTER (region_id));
  return score != NULL ? *score : 1.0;
}

gboolean
hyphae_derp_map_get_omit_default_regions (const HyphaeDerpMap *map)
{
  g_return_val_if_fail (map != NULL, FALSE);
  return map->omit_default_regions;
}

/* ---- scanning ------------------------------------------------------------------ */

/* Go's zero value: an empty string is no string. */
static void
drop_empty (char **text)
{
  if (*text != NULL && **text == '\0')
    g_clear_pointer (text, g_free);
}

/* Region ids: JSON object keys and RegionID values, positive. */
static gboolean
parse_region_key (JsonScan *s,
                  const char *key,
                  int *out)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (key, 10, 1, G_MAXINT32, &v, NULL))
    return json_scan_fail (s, "region key \"%.16s\" is not a positive integer", key);
  *out = (int) v;
  return TRUE;
}

/* "IPv4"/"IPv6": a literal of that family is dialled; anything else set
 * ("none") turns the family off, as derphttp's shouldDialProto does. */
static void
take_literal (char **text,
              GSocketFamily family,
              gboolean *disabled)
{
  g_autoptr(GInetAddress) addr = NULL;

  *disabled = FALSE;
  if (*text == NULL)
    return;
  addr = g_inet_address_new_from_string (*text);
  if (addr == NULL || g_inet_address_get_family (addr) != family)
    {
      g_clear_pointer (text, g_free);
      *disabled = TRUE;
    }
}

static HyphaeDerpNode *
scan_node (JsonScan *s)
{
  HyphaeDerpNode *node = g_new0 (HyphaeDerpNode, 1);
  int derp_port = 0;
  const char *k;
  gsize klen;
  int r;

  if (!json_scan_object_begin (s))
    goto fail;
  while ((r = json_scan_object_next (s, &k, &klen)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "Name") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->name);
      else if (strcmp (k, "RegionID") == 0)
        ok = json_scan_opt_int (s, 0, G_MAXINT32, &node->region_id);
      else if (strcmp (k, "HostName") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->host_name);
      else if (strcmp (k, "CertName") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->cert_name);
      else if (strcmp (k, "IPv4") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->ipv4);
      else if (strcmp (k, "IPv6") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->ipv6);
      else if (strcmp (k, "STUNPort") == 0)
        ok = json_scan_opt_int (s, -1, G_MAXUINT16, &node->stun_port);
      else if (strcmp (k, "STUNOnly") == 0)
        ok = json_scan_opt_bool (s, &node->stun_only);
      else if (strcmp (k, "DERPPort") == 0)
        ok = json_scan_opt_int (s, 0, G_MAXUINT16, &derp_port);
      else if (strcmp (k, "InsecureForTests") == 0)
        ok = json_scan_opt_bool (s, &node->insecure_for_tests);
      else if (strcmp (k, "STUNTestIP") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &node->stun_test_ip);
      else if (strcmp (k, "CanPort80") == 0)
        ok = json_scan_opt_bool (s, &node->can_port80);
      else
        ok = json_scan_skip (s);
      if (!ok)
        goto fail;
    }
  if (r < 0)
    goto fail;

  drop_empty (&node->name);
  drop_empty (&node->host_name);
  drop_empty (&node->cert_name);
  drop_empty (&node->ipv4);
  drop_empty (&node->ipv6);
  drop_empty (&node->stun_test_ip);
  take_literal (&node->ipv4, G_SOCKET_FAMILY_IPV4, &node->no_ipv4);
  take_literal (&node->ipv6, G_SOCKET_FAMILY_IPV6, &node->no_ipv6);
  if (node->stun_port == 0)
    node->stun_port = HYPHAE_DERP_DEFAULT_STUN_PORT;
  node->derp_port = derp_port != 0 ? (guint16) derp_port : HYPHAE_DERP_DEFAULT_DERP_PORT;
  return node;

fail:
  derp_node_free (node);
  return NULL;
}

static gboolean
scan_nodes (JsonScan *s,
            HyphaeDerpRegion *region)
{
  int r;

  if (json_scan_take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  g_ptr_array_set_size (region->nodes, 0);
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeDerpNode *node;

      if (json_scan_take_null (s))
        continue;
      if (region->nodes->len >= HYPHAE_DERP_MAP_MAX_NODES)
        return json_scan_fail (s, "more than %d nodes in a region", HYPHAE_DERP_MAP_MAX_NODES);
      node = scan_node (s);
      if (node == NULL)
        return FALSE;
      g_ptr_array_add (region->nodes, node);
    }
  return r == 0;
}

static HyphaeDerpRegion *
scan_region (JsonScan *s,
             int key_id)
{
  g_autoptr(HyphaeDerpRegion) region = derp_region_new ();
  const char *k;
  gsize klen;
  int r;

  if (!json_scan_object_begin (s))
    return NULL;
  while ((r = json_scan_object_next (s, &k, &klen)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "RegionID") == 0)
        ok = json_scan_opt_int (s, 0, G_MAXINT32, &region->region_id);
      else if (strcmp (k, "RegionCode") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &region->region_code);
      else if (strcmp (k, "RegionName") == 0)
        ok = json_scan_opt_dup (s, STRING_MAX, &region->region_name);
      else if (strcmp (k, "Avoid") == 0)
        ok = json_scan_opt_bool (s, &region->avoid);
      else if (strcmp (k, "NoMeasureNoHome") == 0)
        ok = json_scan_opt_bool (s, &region->no_measure_no_home);
      else if (strcmp (k, "Nodes") == 0)
        ok = scan_nodes (s, region);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return NULL;
    }
  if (r < 0)
    return NULL;
  drop_empty (&region->region_code);
  drop_empty (&region->region_name);

  /* The key and RegionID name the same region; a node belongs to it. */
  if (region->region_id == 0)
    region->region_id = key_id;
  if (region->region_id != key_id)
    {
      json_scan_fail (s, "region %d has RegionID %d", key_id, region->region_id);
      return NULL;
    }
  for (guint i = 0; i < region->nodes->len; i++)
    {
      HyphaeDerpNode *node = g_ptr_array_index (region->nodes, i);

      if (node->region_id == 0)
        node->region_id = key_id;
      if (node->region_id != key_id)
        {
          json_scan_fail (s, "a node of region %d has RegionID %d", key_id, node->region_id);
          return NULL;
        }
    }
  return g_steal_pointer (&region);
}

static int
compare_regions (gconstpointer a,
                 gconstpointer b)
{
  const HyphaeDerpRegion *ra = *(HyphaeDerpRegion * const *) a;
  const HyphaeDerpRegion *rb = *(HyphaeDerpRegion * const *) b;

  return (ra->region_id > rb->region_id) - (ra->region_id < rb->region_id);
}

static gboolean
scan_regions (JsonScan *s,
              HyphaeDerpMap *map)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  const char *k;
  gsize klen;
  int r;

  if (json_scan_take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  /* A second "Regions" replaces the first, as Go's decoder does. */
  g_ptr_array_set_size (map->regions, 0);
  while ((r = json_scan_object_next (s, &k, &klen)) > 0)
    {
      HyphaeDerpRegion *region;
      int id;

      if (!parse_region_key (s, k, &id))
        return FALSE;
      if (g_hash_table_contains (seen, GINT_TO_POINTER (id)))
        return json_scan_fail (s, "region %d appears twice", id);
      g_hash_table_add (seen, GINT_TO_POINTER (id));
      if (json_scan_take_null (s))
        continue;
      if (map->regions->len >= HYPHAE_DERP_MAP_MAX_REGIONS)
        return json_scan_fail (s, "more than %d regions", HYPHAE_DERP_MAP_MAX_REGIONS);
      region = scan_region (s, id);
      if (region == NULL)
        return FALSE;
      g_ptr_array_add (map->regions, region);
    }
  if (r < 0)
    return FALSE;
  g_ptr_array_sort (map->regions, compare_regions);
  return TRUE;
}

static gboolean
scan_number (JsonScan *s,
             double *out)
{
  g_autofree char *text = NULL;
  const char *start;
  char *end;
  gsize len;

  if (json_scan_peek (s) != JSON_SCAN_NUMBER)
    return json_scan_fail (s, "expected a number");
  if (!json_scan_raw (s, &start, &len))
    return FALSE;
  text = g_strndup (start, len);
  *out = g_ascii_strtod (text, &end);
  if (*end != '\0' || !isfinite (*out))
    return json_scan_fail (s, "number out of range");
  return TRUE;
}

/* HomeParams {"RegionScore": {"<id>": f}} */
static gboolean
scan_home_params (JsonScan *s,
                  HyphaeDerpMap *map)
{
  const char *k;
  gsize klen;
  int r;

  if (json_scan_take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  g_hash_table_remove_all (map->scores); /* a new DERPHomeParams */
  while ((r = json_scan_object_next (s, &k, &klen)) > 0)
    {
      int r2;

      if (strcmp (k, "RegionScore") != 0)
        {
          if (!json_scan_skip (s))
            return FALSE;
          continue;
        }
      if (json_scan_take_null (s))
        continue;
      if (!json_scan_object_begin (s))
        return FALSE;
      g_hash_table_remove_all (map->scores);
      while ((r2 = json_scan_object_next (s, &k, &klen)) > 0)
        {
          double score;
          int id;

          if (!parse_region_key (s, k, &id))
            return FALSE;
          if (g_hash_table_size (map->scores) >= HYPHAE_DERP_MAP_MAX_REGIONS)
            return json_scan_fail (s, "more than %d region scores", HYPHAE_DERP_MAP_MAX_REGIONS);
          if (!scan_number (s, &score))
            return FALSE;
          g_hash_table_insert (map->scores, GINT_TO_POINTER (id), g_memdup2 (&score, sizeof score));
        }
      if (r2 < 0)
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_map (JsonScan *s,
          HyphaeDerpMap *map)
{
  const char *k;
  gsize klen;
  int r;

  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, &klen)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "Regions") == 0)
        ok = scan_regions (s, map);
      else if (strcmp (k, "HomeParams") == 0)
        ok = scan_home_params (s, map);
      else if (strcmp (k, "omitDefaultRegions") == 0)
        ok = json_scan_opt_bool (s, &map->omit_default_regions);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0 && json_scan_end (s);
}

HyphaeDerpMap *
hyphae_derp_map_parse (const char *json,
                       gsize len,
                       GError **error)
{
  g_autoptr(HyphaeDerpMap) map = NULL;
  JsonScan s;
  gboolean ok;

  g_return_val_if_fail (json != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > HYPHAE_DERP_MAP_MAX_JSON)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "DERPMap: longer than %d bytes", HYPHAE_DERP_MAP_MAX_JSON);
      return NULL;
    }
  map = g_atomic_rc_box_new0 (HyphaeDerpMap);
  map->regions = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_derp_region_unref);
  map->scores = g_hash_table_new_full (NULL, NULL, NULL, g_free);

  json_scan_init (&s, json, len);
  ok = scan_map (&s, map);
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "DERPMap: %s",
                 json_scan_error (&s) != NULL ? json_scan_error (&s) : "malformed");
  json_scan_clear (&s);
  return ok ? g_steal_pointer (&map) : NULL;
}
