/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib-object.h>

#include "hyphae-peer-info.h"

G_BEGIN_DECLS

/*
 * One node of the tailnet as GObject properties, for views to bind to. It
 * holds an immutable HyphaePeerInfo (hyphae-peer-info.h) and swaps it for a
 * newer one in hyphae_peer_update(), which notifies only the properties
 * whose value changed. Properties (all read-only): id, node-id, public-key,
 * host-name, dns-name (with its trailing dot), magic-dns-name (without it:
 * what "copy" copies), os, user-login, addresses (GStrv), ipv4, ipv6,
 * online, last-seen, key-expiry (0 = none), expired, exit-node-option,
 * is-exit-node, cur-addr, relay, endpoints (GStrv), rx-bytes, tx-bytes,
 * last-handshake, and the computed display-name (the first MagicDNS label,
 * else the host name) and search-text (lowercase names, addresses and OS,
 * what a search entry matches).
 */
#define HYPHAE_TYPE_PEER (hyphae_peer_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePeer, hyphae_peer, HYPHAE, PEER, GObject)

/* What an update changed, as a list model needs to know it. */
typedef enum {
  HYPHAE_PEER_CHANGED_NONE = 0,
  HYPHAE_PEER_CHANGED_SORT_KEY = 1 << 0,   /* online or display-name */
  HYPHAE_PEER_CHANGED_FILTER_KEY = 1 << 1, /* search-text */
  HYPHAE_PEER_CHANGED_OTHER = 1 << 2,      /* anything else */
} HyphaePeerChanged;

HyphaePeer *hyphae_peer_new (HyphaePeerInfo *info);
/* Takes info's values; notifies (frozen, once each) the properties that
 * changed. */
HyphaePeerChanged hyphae_peer_update (HyphaePeer *self,
                                      HyphaePeerInfo *info);
/* The values as read from the daemon (transfer none). */
HyphaePeerInfo *hyphae_peer_get_info (HyphaePeer *self);

const char *hyphae_peer_get_id (HyphaePeer *self);
const char *hyphae_peer_get_host_name (HyphaePeer *self);
const char *hyphae_peer_get_dns_name (HyphaePeer *self);
const char *hyphae_peer_get_magic_dns_name (HyphaePeer *self);
const char *hyphae_peer_get_display_name (HyphaePeer *self);
const char *hyphae_peer_get_search_text (HyphaePeer *self);
const char *hyphae_peer_get_os (HyphaePeer *self);
const char * const *hyphae_peer_get_addresses (HyphaePeer *self);
/* The first IPv4 / IPv6 address, "" if none. */
const char *hyphae_peer_get_ipv4 (HyphaePeer *self);
const char *hyphae_peer_get_ipv6 (HyphaePeer *self);
gboolean hyphae_peer_get_online (HyphaePeer *self);
gboolean hyphae_peer_get_exit_node_option (HyphaePeer *self);
gboolean hyphae_peer_get_is_exit_node (HyphaePeer *self);
gint64 hyphae_peer_get_last_seen (HyphaePeer *self);
gint64 hyphae_peer_get_key_expiry (HyphaePeer *self);
const char *hyphae_peer_get_cur_addr (HyphaePeer *self);
const char *hyphae_peer_get_relay (HyphaePeer *self);
guint64 hyphae_peer_get_rx_bytes (HyphaePeer *self);
guint64 hyphae_peer_get_tx_bytes (HyphaePeer *self);

G_END_DECLS
