/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internals shared by the netmap modules: netmap-node.c (nodes and the
 * syntax of their values), netmap-parse.c (MapResponse → HyphaeMapUpdate)
 * and netmap.c (snapshots). Not for other modules: use netmap.h.
 */
#include "netmap.h"

#include <arpa/inet.h>

G_BEGIN_DECLS

/* One PeersChangedPatch entry: only the non-null fields apply. */
typedef struct {
  gint64 id;
  int derp_region; /* 0 = unchanged */
  int cap;         /* 0 = unchanged */
  gboolean has_endpoints;
  char **endpoints;
  gboolean has_key;
  guint8 key[KEY_LEN];
  gboolean has_disco_key;
  guint8 disco_key[KEY_LEN];
  gboolean has_online;
  gboolean online;
  gboolean has_last_seen;
  gint64 last_seen;
  gboolean has_key_expiry;
  gint64 key_expiry;
  gboolean has_cap_map;
  char *cap_map_json;
} HyphaeNodePatch;

typedef struct {
  gint64 id;
  gboolean value;
} HyphaeIdBool;

typedef struct {
  gint64 id;
  char *login_name;
  char *display_name;
} HyphaeUserProfile;

typedef struct {
  char *name;
  char *rules; /* GRefString JSON array, NULL = delete */
} HyphaeNamedFilter;

struct _HyphaeMapUpdate {
  gboolean keepalive;
  gboolean changes; /* carries anything besides KeepAlive / session fields */
  char *pop_browser_url;
  gint64 control_time;      /* ControlTime (unix seconds), 0 if absent */
  HyphaeNode *node;         /* Node, or NULL */
  GPtrArray *peers;         /* Peers (HyphaeNode*), NULL if absent */
  GPtrArray *peers_changed; /* HyphaeNode*, NULL if absent */
  GArray *peers_removed;    /* gint64 */
  GArray *patches;          /* HyphaeNodePatch */
  GArray *online_change;    /* HyphaeIdBool */
  GArray *seen_change;      /* HyphaeIdBool */
  GPtrArray *user_profiles; /* HyphaeUserProfile*, NULL if absent */
  char *domain;
  char *packet_filter;        /* GRefString, NULL if absent or null */
  GPtrArray *packet_filters;  /* HyphaeNamedFilter*, NULL if absent */
  char *dns_config;           /* GRefString */
  char *derp_map;             /* GRefString */
  HyphaeMapPingRequest *ping; /* PingRequest, NULL if absent or null */
};

/* Nodes (netmap-node.c). */
HyphaeNode *hyphae_node_new (void);
/* A private, mutable copy (refcount 1) of a published node. */
HyphaeNode *hyphae_node_copy (const HyphaeNode *src);
/* upgradeNode (map.go) and the derived fields, once a node is parsed. */
void hyphae_node_finish (HyphaeNode *node,
                         const char *legacy_derp);
void hyphae_user_profile_free (gpointer p);

/* Value syntax, as Go's types parse it (netmap-node.c). */
gboolean hyphae_netmap_parse_key (const char *text,
                                  gsize len,
                                  const char *prefix,
                                  guint8 out[KEY_LEN]);
gboolean hyphae_netmap_parse_time (const char *s,
                                   gsize len,
                                   gint64 *out);
gboolean hyphae_netmap_parse_addr (const char *s,
                                   gsize len,
                                   int *family,
                                   char canon[INET6_ADDRSTRLEN]);
char *hyphae_netmap_parse_prefix (const char *s,
                                  gsize len);
char *hyphae_netmap_parse_addr_port (const char *s,
                                     gsize len);
void hyphae_netmap_format_time (gint64 t,
                                char out[32]);

G_END_DECLS
