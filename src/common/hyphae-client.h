/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client-error.h"
#include "hyphae-peer-list.h"
#include "hyphae-peer.h"

G_BEGIN_DECLS

/*
 * HyphaeClient: hyphaed (io.github.hyphae.Mesh1) as one GObject for a
 * long-lived client such as the desktop app: the only code there that talks
 * D-Bus. It watches the bus name, mirrors the daemon's properties as
 * read-only GObject properties (each notified only when its value changes),
 * keeps the peers in one HyphaePeerList merged in place, and wraps the
 * mutating verbs as async calls. GIO only (no GTK).
 *
 * Properties:
 *   daemon-state  HyphaeDaemonState; daemon-error s (why FAILED)
 *   state         HyphaeState (Mesh1 State)
 *   self          HyphaePeer or NULL (before the first network map)
 *   peers         HyphaePeerList, the same object for the client's life
 *   want-running, control-url, hostname, exit-node-id,
 *   exit-node-allow-lan-access, corp-dns, route-all, shields-up,
 *   exit-node-kill-switch, advertise-routes (GStrv)   Prefs
 *   advertise-exit-node  advertise-routes has 0.0.0.0/0 and ::/0
 *   dns-mode, dns-nameservers (GStrv), dns-search-domains (GStrv),
 *   dns-error     Mesh1 DNS: what the OS resolver was told ("" and empty
 *                 while nothing is applied)
 *   exit-node     the peer that is the exit node, or NULL (also when
 *                 exit-node-id names a node not in the network map)
 *   health        GStrv; profile, tailnet-name, magic-dns-suffix,
 *                 magic-dns-enabled, daemon-version
 *   keys-owner    HyphaeKeysOwner (KeysOwner): whose keys the node runs on
 *   busy          a mutating call is in flight
 * Signals:
 *   auth-url-ready (s url)  the login URL, sent by the daemon only to the
 *                           caller of Up/Login (this client subscribes before
 *                           any call)
 *   keys-rotated (s profile, s node_key)  the handler stores and wipes it
 *   daemon-restarted        hyphaed has a new owner after having had one
 */

typedef enum {
  HYPHAE_DAEMON_STATE_UNKNOWN,       /* not looked yet */
  HYPHAE_DAEMON_STATE_STARTING,      /* the bus is starting it */
  HYPHAE_DAEMON_STATE_NOT_INSTALLED, /* the bus cannot activate io.github.hyphae.Mesh1 */
  HYPHAE_DAEMON_STATE_FAILED,        /* activation failed: daemon-error says why */
  HYPHAE_DAEMON_STATE_RUNNING,
} HyphaeDaemonState;

typedef enum {
  HYPHAE_STATE_NO_STATE,
  HYPHAE_STATE_NEEDS_LOGIN,
  HYPHAE_STATE_NEEDS_MACHINE_AUTH,
  HYPHAE_STATE_STOPPED,
  HYPHAE_STATE_STARTING,
  HYPHAE_STATE_RUNNING,
} HyphaeState;

/* KeysOwner: UNKNOWN without a daemon (or one too old to say). */
typedef enum {
  HYPHAE_KEYS_OWNER_UNKNOWN,
  HYPHAE_KEYS_OWNER_NONE,   /* "": no node key (never logged in, or logged out) */
  HYPHAE_KEYS_OWNER_DAEMON, /* "daemon": hyphaed's own (hyphaectl up): never SetKeys over them */
  HYPHAE_KEYS_OWNER_CLIENT, /* "client": given with SetKeys (the app's keyring) */
} HyphaeKeysOwner;

#define HYPHAE_TYPE_KEYS_OWNER (hyphae_keys_owner_get_type ())
GType hyphae_keys_owner_get_type (void) G_GNUC_CONST;
#define HYPHAE_TYPE_DAEMON_STATE (hyphae_daemon_state_get_type ())
GType hyphae_daemon_state_get_type (void) G_GNUC_CONST;
#define HYPHAE_TYPE_STATE (hyphae_state_get_type ())
GType hyphae_state_get_type (void) G_GNUC_CONST;

#define HYPHAE_TYPE_CLIENT (hyphae_client_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeClient, hyphae_client, HYPHAE, CLIENT, GObject)

/* Starts watching io.github.hyphae.Mesh1 on bus_type (G_BUS_TYPE_SYSTEM;
 * DBUS_SYSTEM_BUS_ADDRESS chooses another bus), asking the bus to start it. */
/* The State name the daemon sent ("NoState" … "Running"), as hyphaectl shows it. */
const char *hyphae_state_to_string (HyphaeState state);

HyphaeClient *hyphae_client_new (GBusType bus_type);
/* After NOT_INSTALLED or FAILED ("Try Again"): asks the bus to start it. */
void hyphae_client_retry (HyphaeClient *self);

/* Reads the peers again (PeersChanged follows network maps, not traffic: a
 * page showing rx/tx or the path calls this every few seconds). */
void hyphae_client_refresh_peers (HyphaeClient *self);

HyphaeDaemonState hyphae_client_get_daemon_state (HyphaeClient *self);
const char *hyphae_client_get_daemon_error (HyphaeClient *self);
HyphaeState hyphae_client_get_state (HyphaeClient *self);
HyphaePeer *hyphae_client_get_self (HyphaeClient *self);
HyphaePeerList *hyphae_client_get_peers (HyphaeClient *self);
HyphaePeer *hyphae_client_get_exit_node (HyphaeClient *self);
HyphaeKeysOwner hyphae_client_get_keys_owner (HyphaeClient *self);
gboolean hyphae_client_get_busy (HyphaeClient *self);

/* Up's and Login's options; NULL or "" fields are left out. client_keys:
 * use only the keys given with SetKeys ("Unattended": false, the app's
 * way); FALSE lets hyphaed use or make its own, as hyphaectl up does. */
typedef struct {
  const char *control_url;
  const char *auth_key;
  const char *hostname;
  gboolean client_keys;
} HyphaeUpOptions;

/* The verbs. Each calls the Mesh1 method of the same name, letting polkit
 * ask for a password (as long as it takes); without a daemon each fails at
 * once with HYPHAE_CLIENT_ERROR_NO_DAEMON. All of them but get_auth_url end
 * with hyphae_client_call_finish(). */
void hyphae_client_up (HyphaeClient *self,
                       const HyphaeUpOptions *options,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data);
void hyphae_client_login (HyphaeClient *self,
                          const HyphaeUpOptions *options,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
void hyphae_client_down (HyphaeClient *self,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data);
void hyphae_client_logout (HyphaeClient *self,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
/* changes: a{sv} with Prefs keys (floating references are sunk). */
void hyphae_client_set_prefs (HyphaeClient *self,
                              GVariant *changes,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
/* One boolean pref: "CorpDNS", "RouteAll", "ShieldsUp",
 * "ExitNodeAllowLANAccess", "ExitNodeKillSwitch" (what the switches bind to). */
void hyphae_client_set_bool_pref (HyphaeClient *self,
                                  const char *key,
                                  gboolean value,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
void hyphae_client_set_corp_dns (HyphaeClient *self,
                                 gboolean value,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
void hyphae_client_set_route_all (HyphaeClient *self,
                                  gboolean value,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
void hyphae_client_set_shields_up (HyphaeClient *self,
                                   gboolean value,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
void hyphae_client_set_exit_node_allow_lan_access (HyphaeClient *self,
                                                   gboolean value,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer user_data);
/* Run as an exit node: AdvertiseRoutes gains (or loses) 0.0.0.0/0 and
 * ::/0, the other advertised routes kept. */
void hyphae_client_set_advertise_exit_node (HyphaeClient *self,
                                            gboolean value,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
/* stable_id "" clears the exit node. */
void hyphae_client_set_exit_node (HyphaeClient *self,
                                  const char *stable_id,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
/* Keys as "privkey:" + 64 hex digits; profile NULL leaves it out. */
void hyphae_client_set_keys (HyphaeClient *self,
                             const char *profile,
                             const char *machine_key,
                             const char *node_key,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean hyphae_client_call_finish (HyphaeClient *self,
                                    GAsyncResult *result,
                                    GError **error);

void hyphae_client_get_auth_url (HyphaeClient *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
/* The pending URL, "" when none. */
char *hyphae_client_get_auth_url_finish (HyphaeClient *self,
                                         GAsyncResult *result,
                                         GError **error);

G_END_DECLS
