/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-map.h"
#include "netmap.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * The capability version we claim (tailcfg.CurrentCapabilityVersion): /key?v=, the Noise
 * header and prologue, RegisterRequest.Version and MapRequest.Version.
 * 113 is the lowest both tailscale.com and headscale accept; docs/ARCHITECTURE.md
 * lists every semantic up to it and how we honour it.
 */
#define HYPHAE_CAPVER 113

/*
 * HyphaeControlClient: one node's session with one control server, on the GLib
 * main loop (tailscale's controlclient.Auto + Direct). It dials TS2021, runs
 * /machine/register (auth key, or the interactive AuthURL + Followup flow,
 * node-key rotation when the server says NodeKeyExpired), then keeps a
 * streaming /machine/map long-poll (zstd, keep-alives, 120 s watchdog) and
 * sends lite updates (Stream:false, OmitPeers:true) when endpoints or
 * Hostinfo change. Any transport, HTTP/2, framing or netmap error drops the
 * connection, keeps the last good netmap, reports Health and reconnects with
 * jittered exponential backoff capped at 30 s.
 */
#define HYPHAE_CONTROL_ERROR (hyphae_control_error_quark ())
GQuark hyphae_control_error_quark (void);

typedef enum {
  HYPHAE_CONTROL_ERROR_UNREACHABLE,  /* cannot reach or talk TS2021 to the server */
  HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY, /* register refused (RegisterResponse.Error) */
  HYPHAE_CONTROL_ERROR_NEEDS_LOGIN,  /* interactive login required / key expired */
  HYPHAE_CONTROL_ERROR_PROTOCOL,     /* the server sent something we refuse */
} HyphaeControlError;

typedef enum {
  HYPHAE_CONTROL_STATE_IDLE,              /* not started, or stopped */
  HYPHAE_CONTROL_STATE_REGISTERING,       /* dialling / registering */
  HYPHAE_CONTROL_STATE_WAIT_AUTH_URL,     /* AuthURL shown; Followup pending */
  HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH, /* registered but MachineAuthorized false */
  HYPHAE_CONTROL_STATE_MAPPING,           /* authorized; map stream connecting */
  HYPHAE_CONTROL_STATE_SYNCED,            /* map stream up, netmap current */
  HYPHAE_CONTROL_STATE_BACKOFF,           /* lost the connection; retrying */
} HyphaeControlState;

/* The GEnum of HyphaeControlState (the "state" property's type). */
#define HYPHAE_TYPE_CONTROL_STATE (hyphae_control_state_get_type ())
GType hyphae_control_state_get_type (void);

#define HYPHAE_TYPE_CONTROL_CLIENT (hyphae_control_client_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeControlClient, hyphae_control_client, HYPHAE, CONTROL_CLIENT, GObject)

typedef struct {
  const char *control_url;      /* http(s)://host[:port] */
  guint8 machine_priv[KEY_LEN]; /* copied into locked memory */
  guint8 node_priv[KEY_LEN];
  guint8 disco_pub[KEY_LEN]; /* MapRequest.DiscoKey */
  const char *hostname;      /* Hostinfo.Hostname */
  const char *os;            /* Hostinfo.OS ("linux") */
  /* Added after the contract (may stay NULL): */
  const char *ipn_version;          /* Hostinfo.IPNVersion; NULL = omitted */
  const char * const *routable_ips; /* Hostinfo.RoutableIPs (copied); NULL = none */
} HyphaeControlConfig;

/*
 * Signals (all on the thread-default main context of _new):
 *   "netmap"          (HyphaeNetmap *nm)        a new snapshot (transfer none; ref it)
 *   "auth-url"        (const char *url)         show this to the user
 *   "node-key-rotated"(GBytes *new_node_priv)   persist the new 32-byte private key
 *   "health-changed"  ()                        see _get_health
 * Property "state" (HyphaeControlState, notify on change).
 */
HyphaeControlClient *hyphae_control_client_new (const HyphaeControlConfig *config);

/*
 * Register (auth_key may be NULL: reuse the registration or go interactive),
 * then keep the map stream until _stop. The async call completes once the
 * node is authorized (first netmap not required), or when an AuthURL must be
 * shown (completes TRUE; state WAIT_AUTH_URL, the client keeps waiting on the
 * Followup), or with HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY (the client stops) or
 * _UNREACHABLE after the first failed attempt (the client keeps retrying
 * with backoff).
 */
void hyphae_control_client_start_async (HyphaeControlClient *client,
                                        const char *auth_key,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean hyphae_control_client_start_finish (HyphaeControlClient *client,
                                             GAsyncResult *result,
                                             GError **error);
/* Drop the connection and timers; state IDLE. The last netmap stays readable. */
void hyphae_control_client_stop (HyphaeControlClient *client);

/* Register with Expiry in the past (logout) and stop. */
void hyphae_control_client_logout_async (HyphaeControlClient *client,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean hyphae_control_client_logout_finish (HyphaeControlClient *client,
                                              GAsyncResult *result,
                                              GError **error);

/* Lite updates (sent when SYNCED, else on the next map request). */
void hyphae_control_client_set_endpoints (HyphaeControlClient *client,
                                          const char * const *endpoints);
/* Endpoints with their tailcfg.EndpointType each (HyphaeEndpointType,
 * parallel to endpoints; types NULL = all LOCAL, as _set_endpoints). */
void hyphae_control_client_set_endpoints_typed (HyphaeControlClient *client,
                                                const char * const *endpoints,
                                                const guint *types);
/* Hostinfo.NetInfo from netcheck (copied). A lite update goes out when it
 * changes other than in DERPLatency (tailcfg.NetInfo.BasicallyEqual, as
 * magicsock's callNetInfoCallback); the latencies ride along with the next. */
void hyphae_control_client_set_net_info (HyphaeControlClient *client,
                                         const HyphaeMapNetInfo *net_info);
void hyphae_control_client_set_exit_node_id (HyphaeControlClient *client,
                                             const char *stable_id);
/* Hostinfo.RoutableIPs (copied; NULL or empty = none): the routes we
 * advertise. A lite update goes out when they change. */
void hyphae_control_client_set_routable_ips (HyphaeControlClient *client,
                                             const char * const *routable_ips);

HyphaeControlState hyphae_control_client_get_state (HyphaeControlClient *client);
/* The last good netmap, or NULL (transfer none). */
HyphaeNetmap *hyphae_control_client_get_netmap (HyphaeControlClient *client);
/* Current problems, human-readable, NULL-terminated; empty when healthy. */
const char * const *hyphae_control_client_get_health (HyphaeControlClient *client);
/* The AuthURL while WAIT_AUTH_URL, else NULL. */
const char *hyphae_control_client_get_auth_url (HyphaeControlClient *client);

/* For tests: override the backoff cap and watchdog (ms); 0 keeps the default. */
void hyphae_control_client_set_timeouts_for_testing (HyphaeControlClient *client,
                                                     guint backoff_cap_ms,
                                                     guint watchdog_ms);

G_END_DECLS
