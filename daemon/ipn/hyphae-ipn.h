/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "netmap.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * HyphaeIpn: the node's state machine (Tailscale's ipn.State), its prefs and
 * keys, and the glue from control (HyphaeControlClient) to the engine
 * (WireGuard runner + netcfg). Runs on the GLib main loop.
 *
 * State dir layout (files 0600, dir 0700), one profile for now ("default"):
 *   DIR/prefs.json            the prefs below, written atomically
 *   DIR/profiles/default/keys machine + node private keys (daemon-owned profile)
 * Keys given with SetKeys are held in locked memory only and never written.
 */
#define HYPHAE_IPN_ERROR (hyphae_ipn_error_quark ())
GQuark hyphae_ipn_error_quark (void);

typedef enum {
  HYPHAE_IPN_ERROR_NEEDS_LOGIN,      /* no keys / not logged in for this verb */
  HYPHAE_IPN_ERROR_UNREACHABLE,      /* control server unreachable */
  HYPHAE_IPN_ERROR_BAD_AUTH_KEY,     /* control refused the auth key */
  HYPHAE_IPN_ERROR_INVALID_ARGUMENT, /* bad URL, unknown exit node, bad key … */
  HYPHAE_IPN_ERROR_FAILED,           /* anything else (disk, …) */
  HYPHAE_IPN_ERROR_ENGINE,           /* the engine or netcfg failed before Running */
  HYPHAE_IPN_ERROR_NOT_FOUND,        /* no such peer (or none that disco reaches) */
  HYPHAE_IPN_ERROR_TIMED_OUT,        /* a ping got no pong in time */
  HYPHAE_IPN_ERROR_BUSY,             /* too many pings in flight */
} HyphaeIpnError;

typedef enum {
  HYPHAE_IPN_STATE_NO_STATE,
  HYPHAE_IPN_STATE_NEEDS_LOGIN,
  HYPHAE_IPN_STATE_NEEDS_MACHINE_AUTH,
  HYPHAE_IPN_STATE_STOPPED,
  HYPHAE_IPN_STATE_STARTING,
  HYPHAE_IPN_STATE_RUNNING,
} HyphaeIpnState;

/* "NoState", "NeedsLogin", "NeedsMachineAuth", "Stopped", "Starting", "Running". */
const char *hyphae_ipn_state_to_string (HyphaeIpnState state);

typedef struct {
  gboolean want_running;
  char *control_url;  /* default https://controlplane.tailscale.com */
  char *hostname;     /* "" = the machine's host name */
  char *exit_node_id; /* StableID, "" = none */
  gboolean exit_node_allow_lan_access;
  /* ExitNodeKillSwitch: while the exit node is offline or gone, internet
   * traffic is dropped (TRUE) or goes out through the LAN (FALSE, default). */
  gboolean exit_node_kill_switch;
  gboolean corp_dns;  /* "Use Tailscale DNS"; default TRUE */
  gboolean route_all; /* accept subnet routes; default FALSE on Linux */
  gboolean shields_up;
  /* serve: AdvertiseRoutes, canonical masked prefixes (advertise-routes.h);
   * NULL or empty = none; 0.0.0.0/0 + ::/0 = an exit node. */
  char **advertise_routes;
} HyphaeIpnPrefs;

/* Which fields of a HyphaeIpnPrefs a SetPrefs call changes. */
typedef enum {
  HYPHAE_IPN_PREF_WANT_RUNNING = 1 << 0,
  HYPHAE_IPN_PREF_CONTROL_URL = 1 << 1,
  HYPHAE_IPN_PREF_HOSTNAME = 1 << 2,
  HYPHAE_IPN_PREF_EXIT_NODE_ID = 1 << 3,
  HYPHAE_IPN_PREF_EXIT_NODE_ALLOW_LAN_ACCESS = 1 << 4,
  HYPHAE_IPN_PREF_CORP_DNS = 1 << 5,
  HYPHAE_IPN_PREF_ROUTE_ALL = 1 << 6,
  HYPHAE_IPN_PREF_SHIELDS_UP = 1 << 7,
  HYPHAE_IPN_PREF_EXIT_NODE_KILL_SWITCH = 1 << 12,
  HYPHAE_IPN_PREF_ADVERTISE_ROUTES = 1 << 9, /* serve */
} HyphaeIpnPrefMask;

typedef struct {
  const char *state_dir; /* e.g. /var/lib/hyphae */
  const char *ifname;    /* TUN name; NULL = "hyphae0" */
  guint16 listen_port;   /* UDP; 0 = 41641 */
  const char *uapi_dir;  /* NULL = /var/run/wireguard (wg show works) */
} HyphaeIpnOptions;

typedef struct {
  const char *control_url; /* NULL: keep the pref */
  const char *auth_key;    /* NULL: reuse registration or go interactive */
  const char *hostname;    /* NULL: keep the pref */
  gboolean unattended;     /* TRUE: the daemon may make (and keep) its own keys;
                            * FALSE: only keys given with set_keys are used */
} HyphaeIpnUpOptions;

/* Who owns the node's keys (docs/ARCHITECTURE.md "Key owners"). */
typedef enum {
  HYPHAE_IPN_KEYS_OWNER_NONE,   /* no node key: never logged in, or logged out */
  HYPHAE_IPN_KEYS_OWNER_DAEMON, /* the state dir's keys (an unattended Up) */
  HYPHAE_IPN_KEYS_OWNER_CLIENT, /* keys given with set_keys, held in memory only */
} HyphaeIpnKeysOwner;

/* What a set_keys call found. */
typedef enum {
  HYPHAE_IPN_SET_KEYS_NEW_NODE, /* other keys: the old session is gone, the next Up logs in */
  HYPHAE_IPN_SET_KEYS_SAME,     /* the keys held already: nothing but the owner changes */
  HYPHAE_IPN_SET_KEYS_OLDER,    /* a node key from before a rotation: "keys-rotated" is
                                 * emitted again with the current one */
} HyphaeIpnSetKeysResult;

#define HYPHAE_TYPE_IPN (hyphae_ipn_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeIpn, hyphae_ipn, HYPHAE, IPN, GObject)

/*
 * Properties (notify on change): "state" (HyphaeIpnState as int), "auth-url"
 * (string, "" when none), "health" (GStrv), "profile" (string), "keys-owner"
 * (HyphaeIpnKeysOwner as int).
 * Signals: "peers-changed" (), "prefs-changed" (), "self-changed" (),
 * "keys-rotated" (GVariant *a{sv}: "node-key" s privkey:… , "profile" s):
 * a client-owned node key was rotated, or set_keys presented one from
 * before a rotation (HYPHAE_IPN_SET_KEYS_OLDER).
 * "dns-changed" (): what the OS resolver was told changed
 * (hyphae_ipn_get_dns_status).
 *
 * _new loads prefs and keys; if WantRunning was set and keys exist it starts
 * (the node comes back after a daemon restart).
 */
HyphaeIpn *hyphae_ipn_new (const HyphaeIpnOptions *options,
                           GError **error);

/* Completes when the node is Running (or waits for the admin's approval,
 * NeedsMachineAuth), when an AuthURL waits (NeedsLogin with auth-url set), or
 * with a HYPHAE_IPN_ERROR: _ENGINE when the WireGuard engine or the network
 * configuration failed on the way (the session is then stopped: State
 * Stopped, Health says why, a new Up tries again). Without unattended and
 * without keys from set_keys it fails at once with _NEEDS_LOGIN, changes
 * nothing and says "SetKeys first" in Health. */
void hyphae_ipn_up_async (HyphaeIpn *ipn,
                          const HyphaeIpnUpOptions *options,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
gboolean hyphae_ipn_up_finish (HyphaeIpn *ipn,
                               GAsyncResult *result,
                               GError **error);
/* WantRunning=false: tunnel down, state Stopped; keys and registration kept. */
gboolean hyphae_ipn_down (HyphaeIpn *ipn,
                          GError **error);
void hyphae_ipn_logout_async (HyphaeIpn *ipn,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean hyphae_ipn_logout_finish (HyphaeIpn *ipn,
                                   GAsyncResult *result,
                                   GError **error);
gboolean hyphae_ipn_set_prefs (HyphaeIpn *ipn,
                               const HyphaeIpnPrefs *prefs,
                               HyphaeIpnPrefMask mask,
                               GError **error);
/* stable_id "" clears; an unknown or non-exit peer is INVALID_ARGUMENT. */
gboolean hyphae_ipn_set_exit_node (HyphaeIpn *ipn,
                                   const char *stable_id,
                                   GError **error);
/* Keys owned by the desktop app: held in memory only. The same keys change
 * nothing but the owner; a node key replaced by a rotation since (up to
 * HYPHAE_IPN_ROTATIONS_KEPT back) re-emits "keys-rotated"; other keys stop
 * the session and drop the netmap, and the next Up logs in with them.
 * profile: the profile's name (NULL: "default"). result may be NULL. */
#define HYPHAE_IPN_ROTATIONS_KEPT 8
gboolean hyphae_ipn_set_keys (HyphaeIpn *ipn,
                              const guint8 machine_priv[KEY_LEN],
                              const guint8 node_priv[KEY_LEN],
                              const char *profile,
                              HyphaeIpnSetKeysResult *result,
                              GError **error);

HyphaeIpnState hyphae_ipn_get_state (HyphaeIpn *ipn);
const HyphaeIpnPrefs *hyphae_ipn_get_prefs (HyphaeIpn *ipn);
const char *hyphae_ipn_get_auth_url (HyphaeIpn *ipn); /* "" when none */
const char * const *hyphae_ipn_get_health (HyphaeIpn *ipn);
const char *hyphae_ipn_get_profile (HyphaeIpn *ipn);
HyphaeIpnKeysOwner hyphae_ipn_get_keys_owner (HyphaeIpn *ipn);
/* NULL before the first netmap (transfer none). */
HyphaeNetmap *hyphae_ipn_get_netmap (HyphaeIpn *ipn);
/* The OS resolver's side (daemon/netcfg/hyphae-os-dns.h hyphae_os_dns_get_status):
 * a{sv} Mode, ModeReason, Nameservers, SearchDomains, MatchDomains,
 * DefaultRoute, Error. Floating. */
GVariant *hyphae_ipn_get_dns_status (HyphaeIpn *ipn);

/* Per-peer data-plane figures from the WireGuard engine. */
typedef struct {
  guint64 rx_bytes;
  guint64 tx_bytes;
  gint64 last_handshake_unix; /* 0 = never */
  char endpoint[64];          /* current direct "ip:port", "" = none (or DERP) */
  int derp_region;            /* > 0: relayed through this DERP region now */
  char derp_code[32];         /* its RegionCode */
  gboolean has_path;          /* direct or DERP; FALSE before the first */
} HyphaeIpnPeerStats;
gboolean hyphae_ipn_get_peer_stats (HyphaeIpn *ipn,
                                    const guint8 node_key[KEY_LEN],
                                    HyphaeIpnPeerStats *out);

/* A peer's home DERP region's code (Node.HomeDERP in the DERP map), or NULL. */
const char *hyphae_ipn_get_derp_region_code (HyphaeIpn *ipn,
                                             int region_id);

/* A disco ping to the peer with this node key, as `tailscale ping` does:
 * the pong's path (direct "ip:port" or a DERP region) and latency.
 * HYPHAE_IPN_ERROR_NOT_FOUND: not running, or the peer has no disco key;
 * _TIMED_OUT: no pong within timeout_ms (0: 5 s). */
typedef struct {
  char endpoint[64]; /* direct "ip:port", "" when via DERP */
  int derp_region;   /* > 0: the pong came through this region */
  char derp_code[32];
  double latency_ms;
} HyphaeIpnPingResult;

void hyphae_ipn_ping_async (HyphaeIpn *ipn,
                            const guint8 node_key[KEY_LEN],
                            guint timeout_ms,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
gboolean hyphae_ipn_ping_finish (HyphaeIpn *ipn,
                                 GAsyncResult *result,
                                 HyphaeIpnPingResult *out,
                                 GError **error);

/* The packet filter's counters (GetFilterStats; filter-state.h has the
 * keys): {"Installed": false} when no filter is in force. Floating. */
GVariant *hyphae_ipn_get_filter_stats (HyphaeIpn *ipn);

G_END_DECLS
