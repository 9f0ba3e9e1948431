/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "common/ip.h"

G_BEGIN_DECLS

/*
 * The AdvertiseRoutes pref: the subnets (and, with 0.0.0.0/0 + ::/0, the
 * internet) this node routes for the tailnet. It reaches control as
 * Hostinfo.RoutableIPs; the admin (or an autoApprover) decides which become
 * the node's AllowedIPs/PrimaryRoutes for the peers.
 */

/*
 * Validate and canonicalise a list as Tailscale's CLI does
 * (net/netutil/routes.go CalcAdvertiseRoutes): each entry a prefix by
 * common/ip.h's rules with no host bits ("10.0.0.1/24" is refused, naming
 * 10.0.0.0/24), 0.0.0.0/0 only together with ::/0 and the reverse,
 * duplicates dropped, sorted by length then address. routes NULL or empty:
 * an empty list. NULL with G_IO_ERROR_INVALID_ARGUMENT otherwise.
 */
char **hyphae_advertise_routes_normalize (const char * const *routes,
                                          GError **error);

/* Both /0s are in the list (ipn.Prefs.AdvertisesExitNode). */
gboolean hyphae_advertise_routes_has_exit (const char * const *routes);

/*
 * The destinations the inbound packet filter must treat as ours because we
 * route them (ipn/ipnlocal/local.go updateFilterLocked): each non-default
 * route as it is; a /0 as "guest Wi-Fi" (shrinkDefaultRoute): the internet
 * minus the prefixes of this host's interfaces and minus the private,
 * link-local, multicast and tailnet ranges, plus this host's own interface
 * addresses that are outside those ranges. iface: the addresses of this
 * host's interfaces with their prefix length (host bits kept, as getifaddrs
 * gives them; tailnet addresses and single IPs are skipped). Returns a GArray
 * of struct ip_prefix (masked; may overlap).
 */
GArray *hyphae_advertise_routes_local_nets (const char * const *routes,
                                            const struct ip_prefix *iface,
                                            guint n_iface);

/* This host's interface addresses with prefix lengths (getifaddrs), for
 * _local_nets: a GArray of struct ip_prefix; empty if the OS will not say. */
GArray *hyphae_advertise_routes_interface_prefixes (void);

G_END_DECLS
