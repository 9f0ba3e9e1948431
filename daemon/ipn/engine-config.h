/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "hyphae-ipn.h"
#include "hyphae-map.h"
#include "hyphae-netcheck.h"
#include "netmap.h"
#include "common/ip.h"
#include "crypto/keys.h"
#include "wg/masq.h"

G_BEGIN_DECLS

/*
 * netmap + prefs → what the engine and the OS should look like. A pure
 * function of its inputs (no I/O, no clock): the state machine computes it on
 * every netmap or prefs change and hands it to the WireGuard runner and
 * netcfg, which diff it against what they have.
 *
 * Rules (tailcfg/tailcfg.go Node, net/tsaddr/tsaddr.go; facts from Tailscale's wgengine/wgcfg/nmcfg
 * and net/routemanager):
 *  - one WireGuard peer per netmap peer, public key = Node.Key; expired peers
 *    (Node.Expired or KeyExpiry past, as netmap.c decided at apply time) get
 *    no WireGuard peer at all, so no traffic;
 *  - a peer's AllowedIPs: its addresses that are single IPs (/32, /128);
 *    its other, non-/0 AllowedIPs only with RouteAll; a /0 (whatever its
 *    host bits) only for the one peer whose StableID is the ExitNodeID pref.
 *    A wider Address (a /16, 0.0.0.0/0) is not one of the peer's addresses:
 *    it reaches AllowedIPs only as an AllowedIPs entry under those choices
 *    (null AllowedIPs = Addresses, so it usually is one);
 *  - endpoint: the peer's first parseable "ip:port", but none for a peer
 *    with a disco key (hyphae_node_has_disco): HyphaeMagicsock sets and pins
 *    those (wg_runner_set_peer_endpoint) from what disco and DERP find;
 *  - TUN addresses: the self node's Addresses that are a /32 inside
 *    100.64.0.0/10 or a /128 inside fd7a:115c:a1e0::/48, nothing else;
 *  - every entry left out by these two address rules is listed in rejected,
 *    for hyphae_engine_config_log_rejected;
 *  - OS routes into the TUN: 100.64.0.0/10 and fd7a:115c:a1e0::/48, the
 *    RouteAll subnet routes outside those ranges, and 0.0.0.0/0 + ::/0
 *    while the selected exit node is usable: in the netmap, unexpired,
 *    offering /0, and not Online false (an unknown Online counts as online).
 *    When it is not usable, ExitNodeKillSwitch decides: on, the /0 routes
 *    stay and the engine drops that traffic (no peer takes it, or the dead
 *    exit node does: Tailscale's blackhole, never a leak); off (the
 *    default), they go and internet traffic uses the LAN until the exit
 *    node is back, which hyphae_engine_config_exit_node_health reports.
 */
typedef struct {
  guint8 public_key[KEY_LEN];
  gint64 node_id;
  char *stable_id;
  char **allowed_ips; /* canonical "ip/len", NULL-terminated */
  char *endpoint;     /* "ip:port" / "[ip6]:port", NULL = none (or disco) */
  gboolean disco;     /* the path machine owns its endpoint */
  gboolean is_exit_node;
  /* serve: SelfNodeV4/V6MasqAddrForThisPeer, the address this peer knows
   * us by (wg/masq.h; has4/has6 false = none or unparseable) */
  struct wg_masq masq;
} HyphaeEnginePeer;

typedef struct {
  GPtrArray *peers;            /* HyphaeEnginePeer*, netmap order (by ID) */
  GHashTable *by_key;          /* public key → a peer of peers: lookups in a
                                * 10,000-peer config stay O(1) */
  GArray *addresses;           /* struct ip_prefix: self addresses on the TUN */
  GArray *routes;              /* struct ip_prefix: OS routes into the TUN */
  char **rejected;             /* netmap entries left out, one message each */
  gboolean exit_node_selected; /* ExitNodeID pref set */
  gboolean exit_node_found;    /* ... and the peer is there (in netmap, not expired, offers /0) */
  gboolean exit_node_offline;  /* ... found, but control says Online false */
  gboolean exit_node_routed;   /* /0 routes into the TUN (usable, or the kill switch) */
  gboolean exit_node_kill_switch;
  gboolean exit_node_allow_lan_access;
  char *exit_node_name; /* for messages: its Name (no trailing dot) or StableID;
                         * NULL without an exit node */
} HyphaeEngineConfig;

HyphaeEngineConfig *hyphae_engine_config_new (const HyphaeNetmap *nm,
                                              const HyphaeIpnPrefs *prefs,
                                              const guint8 self_node_pub[KEY_LEN]);
void hyphae_engine_config_free (HyphaeEngineConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeEngineConfig, hyphae_engine_config_free)

/* Log (g_warning) each entry of cfg->rejected that prev (the config applied
 * before, may be NULL) did not already have, so a bad entry is logged once
 * and not on every netmap. Returns how many were logged. */
guint hyphae_engine_config_log_rejected (const HyphaeEngineConfig *cfg,
                                         const HyphaeEngineConfig *prev);

/* What Health says about the exit node: NULL when none is selected or it
 * takes the internet traffic; else whether that traffic is dropped (kill
 * switch) or goes out through the LAN, and why. */
char *hyphae_engine_config_exit_node_health (const HyphaeEngineConfig *cfg);

const HyphaeEnginePeer *hyphae_engine_config_lookup_peer (const HyphaeEngineConfig *cfg,
                                                          const guint8 key[KEY_LEN]);

/* "ip/len" → family (AF_INET/AF_INET6), 16-byte address, prefix length
 * (common/ip.h: netip.ParsePrefix rules). */
gboolean hyphae_parse_prefix (const char *text,
                              int *family,
                              guint8 addr[16],
                              guint8 *len);
/* "ip:port" / "[ip6]:port" → family, address, port (host order, not 0). */
gboolean hyphae_parse_endpoint (const char *text,
                                int *family,
                                guint8 addr[16],
                                guint16 *port);

/*
 * The peers as a UAPI set (replace_allowed_ips, keepalive off, zero PSK):
 * what wg_runner_apply takes. current NULL: replace_peers (a fresh device);
 * else the device's present state, and peers absent from cfg are removed
 * one by one, so the peers that stay keep their sessions. Free with
 * uapi_set_free.
 */
struct uapi_set;
struct uapi_device_state;
struct uapi_set *hyphae_engine_config_to_uapi (const HyphaeEngineConfig *cfg,
                                               const struct uapi_device_state *current);

/* A netcheck report as the NetInfo of our map requests (tailcfg.NetInfo:
 * PreferredDERP, DERPLatency "<region>-v4"/"-v6" in seconds, WorkingUDP,
 * WorkingIPv6, MappingVariesByDestIP). */
void hyphae_ipn_net_info_from_report (const HyphaeNetcheckReport *rep,
                                      HyphaeMapNetInfo *ni);

G_END_DECLS
