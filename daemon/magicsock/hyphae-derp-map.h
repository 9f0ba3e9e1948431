/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * The DERPMap of a MapResponse (tailcfg.DERPMap, as the netmap keeps it raw:
 * hyphae_netmap_get_derp_map_json) read into regions and nodes. Strict as
 * Go's decoder is (a field of the wrong JSON type refuses the map; unknown
 * fields are skipped) and bounded (HYPHAE_DERP_MAP_MAX_*). Immutable and
 * reference counted: a connection keeps its region while new maps arrive.
 */
enum {
  HYPHAE_DERP_MAP_MAX_JSON = 1 << 20,
  HYPHAE_DERP_MAP_MAX_REGIONS = 1024,
  HYPHAE_DERP_MAP_MAX_NODES = 64, /* per region */
  HYPHAE_DERP_DEFAULT_STUN_PORT = 3478,
  HYPHAE_DERP_DEFAULT_DERP_PORT = 443,
};

typedef struct {
  char *name;                  /* "Name", e.g. "1f" */
  int region_id;               /* "RegionID" */
  char *host_name;             /* "HostName": TLS SNI, and the dial target without literals */
  char *cert_name;             /* "CertName", NULL when absent: "sha256-raw:<hex>" pins the
                                * certificate, another name is verified instead of host_name */
  char *ipv4;                  /* "IPv4" as an IPv4 literal, NULL when absent */
  char *ipv6;                  /* "IPv6" as an IPv6 literal, NULL when absent */
  gboolean no_ipv4;            /* "IPv4" set but not an IPv4 literal ("none"): never over IPv4 */
  gboolean no_ipv6;            /* likewise for IPv6 */
  int stun_port;               /* "STUNPort": 0 in the map reads 3478; -1 = no STUN */
  gboolean stun_only;          /* "STUNOnly": not a DERP server */
  guint16 derp_port;           /* "DERPPort": 0 in the map reads 443 */
  gboolean insecure_for_tests; /* "InsecureForTests": no certificate checks */
  char *stun_test_ip;          /* "STUNTestIP", NULL when absent */
  gboolean can_port80;         /* "CanPort80" */
} HyphaeDerpNode;

typedef struct {
  int region_id;               /* "RegionID" (the map's key) */
  char *region_code;           /* "RegionCode" */
  char *region_name;           /* "RegionName" */
  gboolean avoid;              /* "Avoid" */
  gboolean no_measure_no_home; /* "NoMeasureNoHome" */
  GPtrArray *nodes;            /* "Nodes": HyphaeDerpNode*, in the map's order */
} HyphaeDerpRegion;

typedef struct _HyphaeDerpMap HyphaeDerpMap;

#define HYPHAE_TYPE_DERP_REGION (hyphae_derp_region_get_type ())
GType hyphae_derp_region_get_type (void) G_GNUC_CONST;
HyphaeDerpRegion *hyphae_derp_region_ref (HyphaeDerpRegion *region);
void hyphae_derp_region_unref (HyphaeDerpRegion *region);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeDerpRegion, hyphae_derp_region_unref)

#define HYPHAE_TYPE_DERP_MAP (hyphae_derp_map_get_type ())
GType hyphae_derp_map_get_type (void) G_GNUC_CONST;

/* Errors are G_IO_ERROR_INVALID_DATA, "DERPMap: " and what. Transfer full. */
HyphaeDerpMap *hyphae_derp_map_parse (const char *json,
                                      gsize len,
                                      GError **error);
HyphaeDerpMap *hyphae_derp_map_ref (HyphaeDerpMap *map);
void hyphae_derp_map_unref (HyphaeDerpMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeDerpMap, hyphae_derp_map_unref)

/* Regions by ascending id. */
guint hyphae_derp_map_get_n_regions (const HyphaeDerpMap *map);
/* Transfer none. */
HyphaeDerpRegion *hyphae_derp_map_get_region (const HyphaeDerpMap *map,
                                              guint index);
/* Transfer none; NULL when the map has no such region. */
HyphaeDerpRegion *hyphae_derp_map_lookup_region (const HyphaeDerpMap *map,
                                                 int region_id);
/* "HomeParams.RegionScore": a latency multiplier; 1.0 when absent. */
double hyphae_derp_map_get_region_score (const HyphaeDerpMap *map,
                                         int region_id);
/* "omitDefaultRegions". */
gboolean hyphae_derp_map_get_omit_default_regions (const HyphaeDerpMap *map);

G_END_DECLS
