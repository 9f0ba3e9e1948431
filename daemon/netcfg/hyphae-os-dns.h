/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-dns-config.h"

G_BEGIN_DECLS

/*
 * The OS resolver side of MagicDNS: what the system's name resolution is told
 * while the tailnet's DNS is accepted (CorpDNS), and putting it back.
 *
 * Three ways, chosen once per HyphaeOsDns by hyphae_os_dns_detect_mode()
 * (the order of Tailscale's net/dns/manager_linux.go dnsMode, simplified):
 *   - systemd-resolved: per-link settings over D-Bus (org.freedesktop.resolve1:
 *     SetLinkDNS, SetLinkDomains with routing-only domains, SetLinkDefaultRoute,
 *     LLMNR/mDNS/DNSSEC/DoT off, FlushCaches; RevertLink to undo). Pushed again
 *     when resolved restarts (a watch on its bus name).
 *   - NetworkManager: NM writes resolv.conf itself (no resolved) and manages
 *     it (running on the bus, DnsManager Mode not "none", RcManager not
 *     "unmanaged"): NM's global DNS configuration (the GlobalDnsConfiguration
 *     property, found through libnm) gets our nameservers for "*" and our
 *     search domains, so NM itself writes them; the previous global
 *     configuration is saved in the state file and put back. As in direct
 *     mode, resolv.conf cannot route by domain: MagicDNS forwards what it does
 *     not own to the nameservers NM had (its DnsManager Configuration).
 *     (Tailscale drives NM only for 1.26.0–1.26.5, per device; otherwise it
 *     writes the file, as our direct mode does when NM does not manage it.)
 *   - direct: /etc/resolv.conf rewritten by us (a marker line first, atomic
 *     replace, a byte-identical backup kept under the state dir), restored on
 *     revert. Here the OS cannot do split DNS, so MagicDNS becomes the only
 *     resolver and forwards what it does not own to what the OS had
 *     (hyphae_os_dns_dup_base_nameservers: MagicDNS's fallback resolvers).
 *
 * Crash safety: before the OS is touched, STATE_DIR/os-dns.state records what
 * will be changed (mode, ifindex, resolv.conf path and its backup). revert()
 * and hyphae_os_dns_cleanup() (hyphaed --cleanup, ExecStopPost, and hyphaed's
 * startup after a crash or power cut) undo it and remove the state file.
 *
 * Main-thread (GMainContext of the caller) object; D-Bus calls to resolved are
 * synchronous with a short timeout (as Tailscale's reconfigTimeout).
 */

typedef enum {
  HYPHAE_OS_DNS_MODE_NONE = 0, /* nothing detected yet */
  HYPHAE_OS_DNS_MODE_RESOLVED, /* "systemd-resolved" */
  HYPHAE_OS_DNS_MODE_DIRECT,   /* "direct" */
  HYPHAE_OS_DNS_MODE_NM,       /* "NetworkManager" */
} HyphaeOsDnsMode;

/* "none", "systemd-resolved", "direct", "NetworkManager" (as Tailscale logs
 * them). */
const char *hyphae_os_dns_mode_to_string (HyphaeOsDnsMode mode);

/*
 * What the OS resolver should be told; built by hyphae_os_dns_plan_new, a pure
 * function of the tailnet's DNS config and prefs. Names are lowercase without
 * a trailing dot. An empty plan (no nameservers, no domains) means "leave the
 * OS alone" and apply() of it reverts.
 */
typedef struct {
  char **nameservers;     /* IP strings: 100.100.100.100, fd7a:115c:a1e0::53 */
  char **search_domains;  /* MagicDNS suffix first, then DNSConfig.Domains */
  char **match_domains;   /* routing-only: route suffixes, the MagicDNS suffix and
                           * its reverse zones; sorted; empty when default_route */
  gboolean default_route; /* "." routing domain + SetLinkDefaultRoute(true): every
                           * name goes to MagicDNS (default resolvers or exit node) */
} HyphaeOsDnsPlan;

/*
 * The plan (Tailscale: ipn/ipnlocal/node_backend.go dnsConfigForNetmap, then
 * net/dns/manager.go compileConfig, for an OS that can do split DNS):
 *   - !corp_dns or no DNSConfig: empty.
 *   - routes = DNSConfig.Routes' suffixes; when Proxied (MagicDNS on) also the
 *     suffix, 0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa and 64..127.100.in-addr.arpa.
 *   - default route when exit_node_in_use (DNS goes through the exit node) or
 *     DNSConfig.Resolvers is not empty ("override local DNS"); then no match
 *     domains (resolved gets "." routing-only instead).
 *   - otherwise match domains = routes; no routes and no defaults: only search
 *     domains, no nameservers.
 *   - nameservers: both MagicDNS addresses whenever something routes to us.
 *     (Tailscale hands plain default resolvers straight to the OS when nothing
 *     else is configured; we always go through MagicDNS: one path to test.)
 * magic_suffix may be NULL or "" (then only Proxied routes from DNSConfig).
 */
HyphaeOsDnsPlan *hyphae_os_dns_plan_new (const HyphaeDnsConfig *config,
                                         const char *magic_suffix,
                                         gboolean corp_dns,
                                         gboolean exit_node_in_use);
gboolean hyphae_os_dns_plan_is_empty (const HyphaeOsDnsPlan *plan);
gboolean hyphae_os_dns_plan_equal (const HyphaeOsDnsPlan *a,
                                   const HyphaeOsDnsPlan *b);
HyphaeOsDnsPlan *hyphae_os_dns_plan_copy (const HyphaeOsDnsPlan *plan);
void hyphae_os_dns_plan_free (HyphaeOsDnsPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeOsDnsPlan, hyphae_os_dns_plan_free)

/*
 * Mode detection, pure: resolv_conf is the file's text (NULL: missing),
 * nsswitch its text (NULL: missing), resolved_up whether
 * org.freedesktop.resolve1 answered on the system bus, nm_manages_dns whether
 * NetworkManager runs and writes resolv.conf. Returns the mode and
 * sets *why (static string) to the reason, for logs and "ModeReason".
 */
HyphaeOsDnsMode hyphae_os_dns_detect_mode (const char *resolv_conf,
                                           const char *nsswitch,
                                           gboolean resolved_up,
                                           gboolean nm_manages_dns,
                                           const char **why);

typedef struct _HyphaeOsDns HyphaeOsDns;

/*
 * ifname: the TUN (resolved needs its index at apply time). state_dir: where
 * os-dns.state and the resolv.conf backup live. Paths default to
 * /etc/resolv.conf and /etc/nsswitch.conf; HYPHAE_RESOLV_CONF and
 * HYPHAE_NSSWITCH_CONF override them (tests). Detection runs on the first
 * apply(), so creating the object touches nothing.
 */
HyphaeOsDns *hyphae_os_dns_new (const char *ifname,
                                const char *state_dir);
void hyphae_os_dns_free (HyphaeOsDns *dns);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeOsDns, hyphae_os_dns_free)

/* Make the OS resolver follow plan (copied); an empty plan reverts. Errors
 * are also kept for status() ("Error"). Idempotent: an equal plan is a no-op
 * unless the last apply failed. */
gboolean hyphae_os_dns_apply (HyphaeOsDns *dns,
                              const HyphaeOsDnsPlan *plan,
                              GError **error);
/* Undo everything this object applied (RevertLink / restore resolv.conf);
 * removes the state file. A no-op when it applied nothing: a state file left
 * by another process is hyphae_os_dns_cleanup's. */
gboolean hyphae_os_dns_revert (HyphaeOsDns *dns,
                               GError **error);

HyphaeOsDnsMode hyphae_os_dns_get_mode (HyphaeOsDns *dns);

/*
 * a{sv}: Mode s, ModeReason s, Nameservers as, SearchDomains as,
 * MatchDomains as, DefaultRoute b, Error s ("" when fine). What the OS was last told
 * (empty arrays while nothing is applied). Floating reference.
 */
GVariant *hyphae_os_dns_get_status (HyphaeOsDns *dns);

/* What the OS resolver had before us (direct mode: the nameserver lines of
 * the original resolv.conf; NetworkManager mode: NM's own nameservers), for
 * MagicDNS's fallback; NULL when the OS keeps its own routing (resolved) or
 * nothing is applied. */
char **hyphae_os_dns_dup_base_nameservers (HyphaeOsDns *dns);

/* Called on the object's context after the status changed (apply, revert,
 * resolved restarted, an error). */
typedef void (*HyphaeOsDnsChangedFunc) (HyphaeOsDns *dns,
                                        gpointer user_data);
void hyphae_os_dns_set_changed_func (HyphaeOsDns *dns,
                                     HyphaeOsDnsChangedFunc func,
                                     gpointer user_data);

/*
 * Crash recovery: when STATE_DIR/os-dns.state exists, undo what it records
 * (RevertLink on the recorded ifindex; restore resolv.conf from the backup if
 * it still carries our marker; NetworkManager's previous global DNS
 * configuration if NM still has ours) and remove it. TRUE when there was nothing to
 * do or it was undone; FALSE + error when something could not be restored
 * (the state file is kept for the next try).
 */
gboolean hyphae_os_dns_cleanup (const char *state_dir,
                                GError **error);

G_END_DECLS
