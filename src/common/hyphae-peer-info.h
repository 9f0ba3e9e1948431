/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * A node as io.github.hyphae.Mesh1 describes it: one dictionary of GetPeers()
 * or the Self property (data/io.github.hyphae.Mesh1.xml lists the keys),
 * read once into typed fields. A missing key or a value of another type reads
 * as the default (""; an empty, non-NULL array; 0; FALSE), so a client never
 * crashes on what a newer or older daemon sends. Immutable and reference
 * counted: a list model can hand the same one to many readers.
 */
typedef struct {
  char *stable_id;           /* "ID": the key a client keeps a peer by */
  gint64 node_id;            /* "NodeID" */
  char *public_key;          /* "PublicKey": "nodekey:…" */
  char *host_name;           /* "HostName" */
  char *dns_name;            /* "DNSName": MagicDNS name with its trailing dot */
  char *os;                  /* "OS" */
  gint64 user_id;            /* "UserID" */
  char *user_login_name;     /* "UserLoginName" */
  char **addresses;          /* "TailscaleIPs": tailnet IPs, no prefix length */
  gboolean online;           /* "Online" */
  gint64 last_seen;          /* "LastSeen": Unix seconds, 0 = unknown */
  gint64 key_expiry;         /* "KeyExpiry": Unix seconds, 0 = none */
  gboolean expired;          /* "Expired" */
  gboolean exit_node_option; /* "ExitNodeOption": offers to be an exit node */
  /* Peers only (Self has none of these): */
  gboolean exit_node;    /* "ExitNode": the selected exit node */
  char *cur_addr;        /* "CurAddr": direct "ip:port" in use, "" = none */
  char *relay;           /* "Relay": DERP region in use, "" = none */
  char **endpoints;      /* "Addrs": endpoints from control */
  guint64 rx_bytes;      /* "RxBytes" */
  guint64 tx_bytes;      /* "TxBytes" */
  gint64 last_handshake; /* "LastHandshake": Unix seconds, 0 = never */
} HyphaePeerInfo;

#define HYPHAE_TYPE_PEER_INFO (hyphae_peer_info_get_type ())
GType hyphae_peer_info_get_type (void) G_GNUC_CONST;

/* From one a{sv}; anything else (NULL included) gives all defaults. */
HyphaePeerInfo *hyphae_peer_info_new (GVariant *dict);
/* The Self property: NULL while it is empty (no network map yet) or not a{sv}. */
HyphaePeerInfo *hyphae_peer_info_new_self (GVariant *dict);
/* GetPeers()' aa{sv}, in its order; an empty array for anything else.
 * Transfer full: a GPtrArray that unrefs its elements. */
GPtrArray *hyphae_peer_info_list_new (GVariant *peers);
/* Swaps each info in infos that equals the one with its stable id in *last
 * (the previous list's, NULL at first) for that one, then makes *last this
 * list's (stable id → info, owned). */
void hyphae_peer_info_list_reuse (GPtrArray *infos,
                                  GHashTable **last);
HyphaePeerInfo *hyphae_peer_info_ref (HyphaePeerInfo *info);
void hyphae_peer_info_unref (HyphaePeerInfo *info);
/* Every field equal. */
gboolean hyphae_peer_info_equal (const HyphaePeerInfo *a,
                                 const HyphaePeerInfo *b);

/* WireGuard completed a handshake less than 3 minutes before now_unix
 * (WireGuard rekeys every 2 minutes while traffic flows). */
gboolean hyphae_peer_info_is_active (const HyphaePeerInfo *info,
                                     gint64 now_unix);
/* what names this node: its stable id, host name (any case), MagicDNS name
 * with or without the trailing dot or its first label (any case), or one of
 * its addresses. */
gboolean hyphae_peer_info_matches (const HyphaePeerInfo *info,
                                   const char *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaePeerInfo, hyphae_peer_info_unref)

/* The Tailnet property. */
typedef struct {
  char *name;                /* "Name" */
  char *magicdns_suffix;     /* "MagicDNSSuffix" */
  gboolean magicdns_enabled; /* "MagicDNSEnabled" */
} HyphaeTailnetInfo;

#define HYPHAE_TYPE_TAILNET_INFO (hyphae_tailnet_info_get_type ())
GType hyphae_tailnet_info_get_type (void) G_GNUC_CONST;

/* NULL while the property is empty (no network map yet) or not a{sv}. */
HyphaeTailnetInfo *hyphae_tailnet_info_new (GVariant *dict);
HyphaeTailnetInfo *hyphae_tailnet_info_ref (HyphaeTailnetInfo *info);
void hyphae_tailnet_info_unref (HyphaeTailnetInfo *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeTailnetInfo, hyphae_tailnet_info_unref)

G_END_DECLS
