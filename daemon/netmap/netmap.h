/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * The network map (tailcfg/tailcfg.go: tailcfg.MapResponse / tailcfg.Node):
 * an immutable, reference-counted snapshot, plus the parsed form of one
 * MapResponse message (an update). Applying an update to a snapshot makes a
 * new snapshot and never changes the old one, so a bad message leaves the
 * previous netmap untouched. Peers are shared between snapshots (refcounted
 * HyphaeNode), so a delta costs O(changed peers + number of peers) pointers.
 *
 * Absent / null / [] follow the capability version we claim (HYPHAE_CAPVER,
 * docs/ARCHITECTURE.md): absent = unchanged; Peers present = full list (delta
 * fields ignored); null AllowedIPs = Addresses; PacketFilter [] = deny all,
 * PacketFilters {"name": null} deletes, {"*": null} clears first; the legacy
 * DERP "127.3.3.40:N" becomes home_derp N.
 *
 * Strictness (our choice, documented in docs/ARCHITECTURE.md): a first
 * message without Node, a PeersChangedPatch or PeersRemoved naming a node we
 * do not have, a key that is not "nodekey:"+64 hex, a prefix that does not
 * parse: the whole message is refused (HYPHAE_NETMAP_ERROR) and the caller
 * keeps the previous snapshot and resynchronises with a fresh stream.
 */
#define HYPHAE_NETMAP_ERROR (hyphae_netmap_error_quark ())
GQuark hyphae_netmap_error_quark (void);

typedef enum {
  HYPHAE_NETMAP_ERROR_PARSE,        /* not JSON, too deep (> 64), wrong types, bad key/prefix */
  HYPHAE_NETMAP_ERROR_NO_SELF,      /* first message without Node */
  HYPHAE_NETMAP_ERROR_UNKNOWN_NODE, /* patch / removal / online change of a node we lack */
} HyphaeNetmapError;

/* One node (self or peer). Immutable once published in a snapshot. */
typedef struct {
  gint64 id;           /* Node.ID (may exceed 2^53: parse as int64) */
  char *stable_id;     /* Node.StableID */
  char *name;          /* Node.Name, FQDN with trailing dot ("" if none) */
  char *hostname;      /* Hostinfo.Hostname ("" if none) */
  char *os;            /* Hostinfo.OS ("" if none) */
  gint64 user_id;      /* Node.User */
  guint8 key[KEY_LEN]; /* Node.Key (WireGuard public key) */
  gboolean has_disco_key;
  guint8 disco_key[KEY_LEN]; /* Node.DiscoKey */
  gint64 key_expiry_unix;    /* 0 = never (absent or 0001-01-01) */
  gboolean expired;          /* Node.Expired, or KeyExpiry in the past at apply time */
  char **addresses;          /* Node.Addresses, canonical "ip/len" strings, NULL-terminated */
  char **allowed_ips;        /* Node.AllowedIPs (null → copy of addresses) */
  char **primary_routes;     /* Node.PrimaryRoutes */
  char **endpoints;          /* Node.Endpoints "ip:port" / "[ip6]:port" */
  int home_derp;             /* HomeDERP, or legacy DERP "127.3.3.40:N"; 0 = none */
  gboolean online_known;
  gboolean online;       /* Node.Online */
  gint64 last_seen_unix; /* Node.LastSeen; 0 = unknown */
  gboolean machine_authorized;
  gboolean exit_node_option; /* AllowedIPs contain both 0.0.0.0/0 and ::/0 */
  char **tags;               /* Node.Tags */
  int cap;                   /* Node.Cap (the peer's capability version) */
  gint ref_count;
  /* Added by the netmap layer for later layers (capver 113 semantics, see
   * docs/ARCHITECTURE.md "Capability version 113"). */
  gboolean expired_by_control; /* Node.Expired as sent (expired = this || KeyExpiry past) */
  gboolean has_machine_key;
  guint8 machine_key[KEY_LEN];        /* Node.Machine */
  char *self_v4_masq_addr;            /* SelfNodeV4MasqAddrForThisPeer, NULL if none */
  char *self_v6_masq_addr;            /* SelfNodeV6MasqAddrForThisPeer, NULL if none */
  gboolean is_wireguard_only;         /* IsWireGuardOnly: no disco, no DERP */
  gboolean is_jailed;                 /* IsJailed: peer may not initiate to us */
  gboolean unsigned_peer_api_only;    /* UnsignedPeerAPIOnly (allowed_ips forced to addresses) */
  char *cap_map_json;                 /* CapMap raw JSON object, NULL if absent */
  char *exit_node_dns_resolvers_json; /* ExitNodeDNSResolvers raw JSON array, NULL if absent */
  int peerapi4_port;                  /* Hostinfo.Services "peerapi4" port, 0 if none */
  int peerapi6_port;                  /* Hostinfo.Services "peerapi6" port, 0 if none */
  gint64 sharer_id;                   /* Node.Sharer: who shared this node in, 0 if not shared */
} HyphaeNode;

HyphaeNode *hyphae_node_ref (HyphaeNode *node);
void hyphae_node_unref (HyphaeNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeNode, hyphae_node_unref)

/* A parsed MapResponse message (what changed). Opaque. */
typedef struct _HyphaeMapUpdate HyphaeMapUpdate;

/* Parse one decoded map-stream message. JSON depth is checked (≤ 64) first. */
HyphaeMapUpdate *hyphae_map_update_parse (const char *json,
                                          gsize len,
                                          GError **error);
void hyphae_map_update_free (HyphaeMapUpdate *update);
/* {"KeepAlive":true} with nothing else that changes the netmap. KeepAlive:true
 * makes every other netmap field ignored (tailcfg: "all other fields except
 * PingRequest, ControlTime, and PopBrowserURL are ignored"), so this is TRUE
 * whenever KeepAlive is true; applying such an update changes nothing. */
gboolean hyphae_map_update_is_keepalive (const HyphaeMapUpdate *update);
/* ControlTime as unix seconds, 0 if absent (added: for the expiry clock delta,
 * ipnlocal/expiry.go). */
gint64 hyphae_map_update_get_control_time (const HyphaeMapUpdate *update);
/* PopBrowserURL, if the message carries one (transfer none), else NULL. */
const char *hyphae_map_update_get_pop_browser_url (const HyphaeMapUpdate *update);
/* MapResponse.PingRequest (tailcfg.PingRequest; capver 12/31/38): control
 * asks us to prove we are alive by answering at url (added: for the control
 * client's ping answers). Honoured even with KeepAlive:true, as tailcfg says.
 * Bounded: url ≤ HYPHAE_PING_URL_MAX bytes, payload ≤ HYPHAE_PING_PAYLOAD_MAX
 * decoded bytes (strict standard base64, as Go's []byte); over that, or a
 * wrong type, refuses the message like any other field. */
#define HYPHAE_PING_URL_MAX     4096
#define HYPHAE_PING_PAYLOAD_MAX (64 * 1024)

typedef struct {
  char *url;             /* URL, "" if absent */
  gboolean url_is_noise; /* URLIsNoise: over the Noise connection to control */
  gboolean log;          /* Log: log the answer */
  char *types;           /* Types: "" (HEAD), "c2n", or "disco,TSMP,…"; "" if absent */
  char *ip;              /* IP, canonical, NULL if absent */
  GBytes *payload;       /* Payload (for c2n: an HTTP/1.1 request), NULL if absent */
} HyphaeMapPingRequest;

/* The message's PingRequest (transfer none), or NULL when it carries none. */
const HyphaeMapPingRequest *hyphae_map_update_get_ping_request (const HyphaeMapUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeMapUpdate, hyphae_map_update_free)

typedef struct _HyphaeNetmap HyphaeNetmap;

/*
 * prev NULL: update must be a full map (carry Node), else
 * HYPHAE_NETMAP_ERROR_NO_SELF. Returns a new snapshot (transfer full); prev is
 * not modified. now_unix decides Expired from KeyExpiry.
 */
HyphaeNetmap *hyphae_netmap_apply (HyphaeNetmap *prev,
                                   const HyphaeMapUpdate *update,
                                   gint64 now_unix,
                                   GError **error);

HyphaeNetmap *hyphae_netmap_ref (HyphaeNetmap *nm);
void hyphae_netmap_unref (HyphaeNetmap *nm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeNetmap, hyphae_netmap_unref)

const HyphaeNode *hyphae_netmap_get_self (const HyphaeNetmap *nm);
/* Peers sorted by ID. */
guint hyphae_netmap_get_n_peers (const HyphaeNetmap *nm);
const HyphaeNode *hyphae_netmap_get_peer (const HyphaeNetmap *nm,
                                          guint index);
const HyphaeNode *hyphae_netmap_lookup_id (const HyphaeNetmap *nm,
                                           gint64 id);
const HyphaeNode *hyphae_netmap_lookup_stable_id (const HyphaeNetmap *nm,
                                                  const char *stable_id);
/* MapResponse.Domain (the tailnet's name), "" if none. */
const char *hyphae_netmap_get_domain (const HyphaeNetmap *nm);
/* The MagicDNS suffix: self Name minus its first label, without trailing dot. */
const char *hyphae_netmap_get_magicdns_suffix (const HyphaeNetmap *nm);
/* UserProfiles[id].LoginName / DisplayName, or NULL. */
const char *hyphae_netmap_get_user_login (const HyphaeNetmap *nm,
                                          gint64 user_id);
const char *hyphae_netmap_get_user_display_name (const HyphaeNetmap *nm,
                                                 gint64 user_id);
/* The effective packet filter as a JSON array (concatenation of PacketFilters
 * entries, "base" = singular PacketFilter); NULL when never sent. Kept raw
 * until the filter layer exists. */
const char *hyphae_netmap_get_packet_filter_json (const HyphaeNetmap *nm);
/* DNSConfig and DERPMap as raw JSON (NULL if never sent); kept for later layers. */
const char *hyphae_netmap_get_dns_config_json (const HyphaeNetmap *nm);
const char *hyphae_netmap_get_derp_map_json (const HyphaeNetmap *nm);

/* `hyphaectl netmap --json`: the snapshot as JSON (Self, Peers[], Domain, …,
 * with tailcfg.Node field names). Transfer full. */
char *hyphae_netmap_to_json (const HyphaeNetmap *nm);

G_END_DECLS
