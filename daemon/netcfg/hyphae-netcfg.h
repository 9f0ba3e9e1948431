/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "common/ip.h"
#include "hyphae-bypass.h"

G_BEGIN_DECLS

/*
 * The OS side of the mesh interface, through rtnetlink (no iproute2, no
 * libmnl): link up + MTU, the node's addresses on the TUN, routes into the
 * TUN and the policy rules that make exit-node routing safe.
 *
 * Layout (Tailscale's, wgengine/router/osrouter/router_linux.go):
 *   - every route we own lives in table 52 (HYPHAE_NETCFG_TABLE), never in
 *     main: the tailnet ranges, RouteAll subnets, and 0.0.0.0/0 + ::/0 when an
 *     exit node is selected;
 *   - rules, for IPv4 and IPv6 alike:
 *       5210  fwmark 0x80000/0xff0000 lookup main
 *       5230  fwmark 0x80000/0xff0000 lookup default
 *       5250  fwmark 0x80000/0xff0000 unreachable
 *       5270  lookup 52
 *     so our own UDP socket (SO_MARK 0x80000) never enters the tunnel, and
 *     everything else sees table 52 before main;
 *   - ExitNodeAllowLANAccess: one `throw` route in table 52 per directly
 *     connected prefix of the other interfaces (the main table's scope-link
 *     unicast routes, read at apply time), so a lookup for the LAN falls
 *     through table 52 to main. Chosen over rules to main because throw
 *     routes live and die with table 52, the one thing we own.
 *
 * Apply is idempotent: it reads the current addresses, table 52 and the rules
 * at our priorities, removes what is not wanted and adds what is missing.
 */
#define HYPHAE_NETCFG_TABLE       52
#define HYPHAE_NETCFG_BYPASS_MARK HYPHAE_BYPASS_MARK
#define HYPHAE_NETCFG_MARK_MASK   0xff0000u
#define HYPHAE_NETCFG_RULE_BASE   5200
#define HYPHAE_NETCFG_MTU         1280

typedef struct {
  const struct ip_prefix *addresses; /* on the TUN (IFA_F_NOPREFIXROUTE) */
  guint n_addresses;
  const struct ip_prefix *routes; /* into the TUN (table 52), host bits ignored */
  guint n_routes;
  gboolean allow_lan; /* with a /0 in routes: throw routes for the LAN */
  guint32 mtu;        /* 0: HYPHAE_NETCFG_MTU */
  guint32 fwmark;     /* 0: HYPHAE_NETCFG_BYPASS_MARK */
} HyphaeNetcfgConfig;

typedef struct _HyphaeNetcfg HyphaeNetcfg;

/* Opens an rtnetlink socket in the caller's network namespace. */
HyphaeNetcfg *hyphae_netcfg_new (const char *ifname,
                                 GError **error);
void hyphae_netcfg_free (HyphaeNetcfg *nc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeNetcfg, hyphae_netcfg_free)

/* Make the OS match config (the interface must exist). */
gboolean hyphae_netcfg_apply (HyphaeNetcfg *nc,
                              const HyphaeNetcfgConfig *config,
                              GError **error);
/* Remove our rules, table 52 and the addresses (the TUN may already be gone). */
gboolean hyphae_netcfg_remove (HyphaeNetcfg *nc,
                               GError **error);

G_END_DECLS
