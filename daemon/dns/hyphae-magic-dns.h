/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-dns-config.h"
#include "netmap.h"

G_BEGIN_DECLS

/*
 * HyphaeMagicDns: the resolver at 100.100.100.100 and fd7a:115c:a1e0::53
 * (HYPHAE_DNS_SERVICE_IPV4/6), on the GLib main loop. There is no socket on
 * port 53: the runner (Tailscale mode) turns UDP to those addresses:53 read
 * from the TUN into WG_RUNNER_EVENT_DNS, HyphaeMagicsock hands that IP
 * packet to hyphae_magic_dns_handle_query_packet (its DNS handler, set by
 * ipn), and the answer is written back into the TUN through the inject
 * function. So only this host's queries are served: a peer's packet to
 * 100.100.100.100 arrives from WireGuard, not from the TUN's read side, and
 * never reaches us (tailscaled serves peers on its peerapi instead; we do
 * not).
 *
 * What a query gets (Tailscale's net/dns/resolver/tsdns.go and
 * forwarder.go, read for the semantics):
 *  - a name from the netmap (self and peers: Node.Name; the bare first label
 *    under the MagicDNS suffix and under each DNSConfig.Domains entry) or an
 *    ExtraRecord: A / AAAA answered locally; PTR of a tailnet address
 *    (in-addr.arpa / ip6.arpa) answered locally;
 *  - a name under a suffix answered locally (the MagicDNS suffix, a Routes
 *    key with no resolvers, the reverse zones of 100.64.0.0/10 and
 *    fd7a:115c:a1e0::/48) that is not known: NXDOMAIN (a known name with
 *    no record of the asked type: NOERROR, no answers);
 *  - a name under a split-DNS route (Routes key with resolvers): forwarded
 *    to that route's resolvers;
 *  - any other name: the default Resolvers; while an exit node is in use
 *    and it offers DNS (its peerapi DoH, http://EXIT-IP:PEERAPI4/dns-query),
 *    through it; else the fallback resolvers (what the OS resolver had
 *    before us); else SERVFAIL.
 * Forwarding: UDP (TCP again when the answer has TC), DoH over libsoup for
 * https:// and http:// resolvers; the first good answer of a route's
 * resolvers wins. At most HYPHAE_MAGIC_DNS_INFLIGHT_MAX queries are in
 * flight: past that, SERVFAIL. Each forwarded query gets
 * HYPHAE_MAGIC_DNS_TIMEOUT_MS before SERVFAIL. A malformed query is
 * answered FORMERR when its header is readable, else dropped.
 */
#define HYPHAE_MAGIC_DNS_INFLIGHT_MAX 256
#define HYPHAE_MAGIC_DNS_TIMEOUT_MS   10000 /* tsdns.go dnsQueryTimeout */

/* Write one IP packet (an answer) into the TUN: wg_runner_tun_inject. 0 or
 * -errno. Called on the main loop. */
typedef int (*HyphaeMagicDnsInjectFunc) (const guint8 *pkt,
                                         gsize len,
                                         gpointer user_data);

#define HYPHAE_TYPE_MAGIC_DNS (hyphae_magic_dns_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeMagicDns, hyphae_magic_dns, HYPHAE, MAGIC_DNS, GObject)

/* inject: where answers go (tests pass their own). user_data lives as long
 * as the object. Until the first update, every query gets SERVFAIL. */
HyphaeMagicDns *hyphae_magic_dns_new (HyphaeMagicDnsInjectFunc inject,
                                      gpointer user_data);

/*
 * Everything the answers depend on, applied at once (call on every netmap or
 * prefs change; cheap when nothing changed):
 *   nm         the netmap (names and addresses of self and peers, the MagicDNS
 *              suffix); NULL: no local names;
 *   config     the parsed DNSConfig (hyphae_dns_config_parse of
 *              hyphae_netmap_get_dns_config_json); NULL: none sent;
 *   corp_dns   the CorpDNS pref ("accept DNS"). As tailscaled does
 *              (ipnlocal/node_backend.go dnsConfigForNetmap), FALSE keeps
 *              the netmap's names and the ExtraRecords answered at
 *              100.100.100.100 but drops the tailnet's Routes, Resolvers,
 *              Domains and the MagicDNS suffix as a local zone: other
 *              names go to the fallback resolvers;
 *   exit_node  the peer used as exit node (found in nm, usable), or NULL.
 * Copies what it keeps; nothing is borrowed past the call.
 */
void hyphae_magic_dns_update (HyphaeMagicDns *self,
                              HyphaeNetmap *nm,
                              const HyphaeDnsConfig *config,
                              gboolean corp_dns,
                              const HyphaeNode *exit_node);

/*
 * The fallback resolvers: the nameservers the OS resolver used before we
 * took it over (engineer osdns reads them from resolved / NetworkManager /
 * resolv.conf). Each string is a Resolver.Addr form: "1.2.3.4",
 * "1.2.3.4:53", "fd00::1", "[fd00::1]:5353", or an https:// DoH URL; ones
 * that do not parse, and our own service addresses, are skipped with a
 * debug message. NULL or empty: none. Copied.
 */
void hyphae_magic_dns_set_fallback_resolvers (HyphaeMagicDns *self,
                                              const char * const *addrs);

/* One query as an IP packet (v4 or v6 UDP to one of our addresses:53, read
 * from the TUN). Never trusts it; answers through inject now (local names,
 * errors) or later (forwarded). */
void hyphae_magic_dns_handle_query_packet (HyphaeMagicDns *self,
                                           const guint8 *pkt,
                                           gsize len);

/* Counters for tests and `hyphaectl`: queries seen, answered locally,
 * forwarded, failed (SERVFAIL/FORMERR/dropped), and in flight now. */
typedef struct {
  guint64 queries;
  guint64 local;
  guint64 forwarded;
  guint64 failed;
  guint inflight;
} HyphaeMagicDnsStats;

void hyphae_magic_dns_get_stats (HyphaeMagicDns *self,
                                 HyphaeMagicDnsStats *out);

G_END_DECLS
