/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <string.h>

#include "hyphae-netcheck.h"
#include "netmap.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * HyphaeMagicsock: the daemon side of Tailscale's magicsock, on the GLib main
 * loop. It owns the engine's path machine (magicsock.h), the DERP
 * connections (one HyphaeDerpConn per region: the home region's, kept and
 * marked preferred; others opened when a packet must go there and closed
 * after HYPHAE_MAGICSOCK_DERP_IDLE_MS without traffic) and netcheck (STUN
 * from the WireGuard port). It reads the runner's event queue (one GSource
 * on its eventfd): disco datagrams go into the machine, STUN answers to
 * netcheck, WireGuard bytes for a DERP endpoint to that region's
 * connection, sent handshakes mark the peer active. What a DERP connection
 * receives is disco (into the machine) or WireGuard (wg_runner_rx_inject).
 * The machine's timers run on one GLib timeout at its next deadline.
 *
 * The runner must have been started with cfg.magicsock and outlive this
 * object.
 */
struct wg_runner;

#define HYPHAE_MAGICSOCK_DERP_IDLE_MS 60000 /* magicsock derpInactiveCleanupTime */

#define HYPHAE_MAGICSOCK_ERROR (hyphae_magicsock_error_quark ())
GQuark hyphae_magicsock_error_quark (void);

typedef enum {
  HYPHAE_MAGICSOCK_ERROR_NOT_FOUND, /* no such peer, or one without a disco key */
  HYPHAE_MAGICSOCK_ERROR_TIMED_OUT, /* no pong in time */
  HYPHAE_MAGICSOCK_ERROR_BUSY,      /* HYPHAE_MAGICSOCK_PINGS_MAX pings wait already */
} HyphaeMagicsockError;

/* User pings in flight at once (Ping needs no polkit: anyone may ask). */
#define HYPHAE_MAGICSOCK_PINGS_MAX 64

/* Where a peer's packets go now. */
typedef struct {
  char direct[64]; /* "ip:port" when direct, else "" */
  int derp_region; /* > 0 when relayed through DERP */
  char derp_code[32];
} HyphaeMagicsockPath;

typedef struct {
  HyphaeMagicsockPath path; /* where the pong came from */
  double latency_ms;
} HyphaeMagicsockPingResult;

/* A peer whose path is the machine's: a nonzero DiscoKey and not a
 * WireGuard-only node (tailscaled ignores peers without a disco key the same
 * way). Others keep plain WireGuard to their first endpoint. */
static inline gboolean
hyphae_node_has_disco (const HyphaeNode *node)
{
  static const guint8 zero[KEY_LEN];

  return node->has_disco_key && memcmp (node->disco_key, zero, KEY_LEN) != 0 &&
         !node->is_wireguard_only;
}

#define HYPHAE_TYPE_MAGICSOCK (hyphae_magicsock_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeMagicsock, hyphae_magicsock, HYPHAE, MAGICSOCK, GObject)

/*
 * Signals:
 *   "endpoints-changed" ()  our endpoints (local + STUN) changed: _get_endpoints
 *   "net-info-changed"  ()  a netcheck report arrived: _get_report
 *   "path-changed"      (GBytes *node_key, gboolean first)  a peer's WireGuard
 *                           endpoint changed (first: it had none before)
 */
HyphaeMagicsock *hyphae_magicsock_new (struct wg_runner *runner,
                                       const guint8 disco_priv[KEY_LEN],
                                       const guint8 node_priv[KEY_LEN]);

/* The netmap's peers (node key, DiscoKey, HomeDERP, Endpoints) into the
 * machine, and its DERPMap (hyphae_netmap_get_derp_map_json) into the DERP
 * connections and netcheck; both only when they changed. */
void hyphae_magicsock_set_netmap (HyphaeMagicsock *self,
                                  HyphaeNetmap *nm);
/* Our local interface endpoints ("ip:port"); STUN adds the reflexive ones. */
void hyphae_magicsock_set_local_endpoints (HyphaeMagicsock *self,
                                           const char * const *endpoints);
/* A link or address changed: measure again now. */
void hyphae_magicsock_link_changed (HyphaeMagicsock *self);
/* Endpoints for control: STUN ones first, then local, without repeats;
 * types are tailcfg.EndpointType (1 local, 2 STUN), parallel. Transfer none. */
const char * const *hyphae_magicsock_get_endpoints (HyphaeMagicsock *self,
                                                    const guint **types);
/* The last netcheck report, NULL before the first. */
const HyphaeNetcheckReport *hyphae_magicsock_get_report (HyphaeMagicsock *self);
/* The home DERP region (0: none) and whether its connection is up. */
int hyphae_magicsock_get_home_derp (HyphaeMagicsock *self);
/* A region's RegionCode from the DERP map, NULL if none. */
const char *hyphae_magicsock_get_region_code (HyphaeMagicsock *self,
                                              int region_id);
/* The peer's path; FALSE when it has none or is not the machine's. */
gboolean hyphae_magicsock_get_path (HyphaeMagicsock *self,
                                    const guint8 node_key[KEY_LEN],
                                    HyphaeMagicsockPath *out);
/* Whether the peer's path is the machine's (it has a disco key). */
gboolean hyphae_magicsock_has_peer (HyphaeMagicsock *self,
                                    const guint8 node_key[KEY_LEN]);

/* MagicDNS: the runner's WG_RUNNER_EVENT_DNS events (a query's whole IP
 * packet, read from the TUN) go to func on the main loop; NULL: dropped.
 * user_data must outlive the handler (set NULL before freeing it). */
typedef void (*HyphaeMagicsockDnsFunc) (const guint8 *pkt,
                                        gsize len,
                                        gpointer user_data);
void hyphae_magicsock_set_dns_handler (HyphaeMagicsock *self,
                                       HyphaeMagicsockDnsFunc func,
                                       gpointer user_data);

/* Tests: whether a DERP connection to the region exists (and, if connected
 * is not NULL, whether it is logged in), and a shorter idle time (ms) before
 * other regions' connections close (checked every tenth). */
gboolean hyphae_magicsock_has_derp_link (HyphaeMagicsock *self,
                                         int region_id,
                                         gboolean *connected);
void hyphae_magicsock_set_derp_idle_for_testing (HyphaeMagicsock *self,
                                                 guint idle_ms);

/* A disco ping (`hyphaectl ping`): the path the pong came by and the
 * latency, or HYPHAE_MAGICSOCK_ERROR_NOT_FOUND / _TIMED_OUT after
 * timeout_ms (0: the machine's 5 s). */
void hyphae_magicsock_ping_async (HyphaeMagicsock *self,
                                  const guint8 node_key[KEY_LEN],
                                  guint timeout_ms,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean hyphae_magicsock_ping_finish (HyphaeMagicsock *self,
                                       GAsyncResult *result,
                                       HyphaeMagicsockPingResult *out,
                                       GError **error);

G_END_DECLS
