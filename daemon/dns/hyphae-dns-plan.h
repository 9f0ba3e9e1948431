/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-dns-config.h"

G_BEGIN_DECLS

/*
 * Where MagicDNS sends a name it does not answer itself: a pure function of
 * the tailnet's DNSConfig, the CorpDNS pref, the exit node and what the OS
 * resolver had, after tailscaled (ipn/ipnlocal/node_backend.go
 * dnsConfigForNetmap, net/dns/manager.go compileConfig; v1.102.5):
 *
 *  - CorpDNS off: nothing is forwarded (tailscaled keeps no routes and no
 *    default resolvers then): SERVFAIL;
 *  - an exit node in use that serves DNS (its peerapi DoH URL given): the
 *    default is the Resolvers marked UseWithExitNode, or else the exit
 *    node's DoH; split routes keep only their UseWithExitNode resolvers (a
 *    route left with none is dropped);
 *  - otherwise the default is Resolvers, or else a WireGuard-only exit
 *    node's ExitNodeDNSResolvers, or else (an exit node in use)
 *    FallbackResolvers; split routes whole;
 *  - no default still: the OS's previous nameservers (the fallback osdns
 *    hands over; tailscaled forwards "." to the OS's base config the same
 *    way when the OS cannot route per domain), or else SERVFAIL.
 *
 * Routes without resolvers are zones MagicDNS answers alone (the record
 * table's, dns-records.h): they never reach this.
 */
typedef struct {
  const HyphaeDnsConfig *config; /* NULL: none sent */
  gboolean corp_dns;
  gboolean exit_node;           /* an exit node is in use */
  const char *exit_doh_url;     /* its peerapi DoH URL when it serves DNS, else NULL */
  GPtrArray *exit_wg_resolvers; /* HyphaeDnsResolver*: a WireGuard-only exit node's, or NULL */
} HyphaeDnsPlanInput;

typedef struct _HyphaeDnsPlan HyphaeDnsPlan;

/* Copies what it keeps. */
HyphaeDnsPlan *hyphae_dns_plan_new (const HyphaeDnsPlanInput *in);
void hyphae_dns_plan_free (HyphaeDnsPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeDnsPlan, hyphae_dns_plan_free)

/* The resolvers (HyphaeDnsResolver*, transfer none) for a normalised name:
 * its longest split route's, else the default, else os_fallback (what the
 * OS had; may be NULL) unless CorpDNS is off; NULL: none (SERVFAIL). The
 * OS's list is given here, not to _new, because it changes on its own
 * (osdns hands it over when it takes the OS resolver). */
GPtrArray *hyphae_dns_plan_upstreams (const HyphaeDnsPlan *plan,
                                      const char *name,
                                      GPtrArray *os_fallback);

G_END_DECLS
