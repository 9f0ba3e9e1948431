/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of HyphaeOsDns shared by its files (and its unit tests). */

#include <NetworkManager.h>

#include "hyphae-os-dns.h"

G_BEGIN_DECLS

/* ---- direct: hyphae-os-dns-direct.c ---- */

/* The first line of every resolv.conf we write: how we (and cleanup after a
 * crash) know the file is still ours. */
#define HYPHAE_RESOLV_CONF_MARKER "# resolv.conf(5) written by hyphaed (Hyphae MagicDNS);"

/* The state file's group and keys (see hyphae_os_dns_cleanup). */
#define HYPHAE_OS_DNS_STATE_FILE  "os-dns.state"
#define HYPHAE_OS_DNS_BACKUP_FILE "os-dns-resolv.conf.backup"
#define HYPHAE_OS_DNS_GROUP       "os-dns"

/* TRUE when text starts with our marker. */
gboolean hyphae_resolv_conf_is_ours (const char *text);

/* The "nameserver" addresses (our own MagicDNS addresses left out) and the
 * "search"/"domain" names of a resolv.conf text. */
char **hyphae_resolv_conf_parse_nameservers (const char *text);
char **hyphae_resolv_conf_parse_search (const char *text);

/* Unless path already holds our file: copy what is at path (a file: its bytes
 * and mode; a symlink: its target; nothing) to backup_path and describe it in
 * state (keys original, file-mode, symlink). Returns the original's text in
 * *original (NULL when there was none), read back from the backup when path
 * is already ours. */
gboolean hyphae_resolv_conf_backup (const char *path,
                                    const char *backup_path,
                                    GKeyFile *state,
                                    char **original,
                                    GError **error);

/* Our resolv.conf for plan: the marker, plan's nameservers, plan's search
 * domains then the original's (extra_search). */
char *hyphae_resolv_conf_render (const HyphaeOsDnsPlan *plan,
                                 char **extra_search);

/* Replace path's contents: a temporary file beside it renamed over it; where
 * rename cannot (a bind-mounted resolv.conf: EBUSY/EXDEV), written in place. */
gboolean hyphae_resolv_conf_replace (const char *path,
                                     const char *text,
                                     guint mode,
                                     GError **error);

/* Put back what state + backup_path describe, if path still holds our file
 * (otherwise someone else's file stays); then remove backup_path. */
gboolean hyphae_resolv_conf_restore (const char *path,
                                     const char *backup_path,
                                     GKeyFile *state,
                                     GError **error);

/* ---- systemd-resolved: hyphae-os-dns-resolved.c ---- */

#define HYPHAE_RESOLVED_NAME "org.freedesktop.resolve1"

/* org.freedesktop.resolve1 answers a Peer.Ping (this activates it). */
gboolean hyphae_resolved_ping (GDBusConnection *bus);

/* Tailscale's sequence (net/dns/resolved.go setConfigOverDBus): SetLinkDNS,
 * SetLinkDomains (again without *.arpa on "Argument list too long"),
 * SetLinkDefaultRoute, LLMNR/mDNS/DNSSEC/DoT off, FlushCaches. */
gboolean hyphae_resolved_set_link (GDBusConnection *bus,
                                   int ifindex,
                                   const HyphaeOsDnsPlan *plan,
                                   GError **error);

/* RevertLink; a link resolved no longer knows is not an error. */
gboolean hyphae_resolved_revert_link (GDBusConnection *bus,
                                      int ifindex,
                                      GError **error);

/* ---- NetworkManager: hyphae-os-dns-nm.c ---- */

/* NM runs and writes resolv.conf itself: its DnsManager's Mode is not "none"
 * and its RcManager not "unmanaged" (then a global DNS configuration reaches
 * the file). client may be NULL. */
gboolean hyphae_nm_manages_dns (NMClient *client);

/* NM's GlobalDnsConfiguration (a{sv}: "searches" as, "options" as,
 * "domains" a{sv} of a{sv} with "servers" as), read and set over the bus
 * libnm uses (synchronous, short timeout, as the resolved calls). */
GVariant *hyphae_nm_get_global_dns (GDBusConnection *bus,
                                    GError **error);
gboolean hyphae_nm_set_global_dns (GDBusConnection *bus,
                                   GVariant *config,
                                   GError **error);

/* The global configuration for plan: "*" → plan's nameservers (or
 * base_servers when the plan has none: search domains only), searches =
 * plan's then extra_search. Floating. */
GVariant *hyphae_nm_global_dns_new (const HyphaeOsDnsPlan *plan,
                                    char **base_servers,
                                    char **extra_search);
/* Its "*" servers and its searches (empty vectors when absent). */
char **hyphae_nm_global_dns_servers (GVariant *config);
char **hyphae_nm_global_dns_searches (GVariant *config);
/* a and b give the same "*" servers and searches (NM may add empty keys). */
gboolean hyphae_nm_global_dns_same (GVariant *a,
                                    GVariant *b);
/* Its "*" servers include a MagicDNS address: one of ours. */
gboolean hyphae_nm_global_dns_has_magic (GVariant *config);

/* NM's own nameservers and search domains: its activated devices' IP
 * configurations through libnm, in DnsManager's priority order, leaving out
 * our MagicDNS addresses and routing-only ("~") domains. */
void hyphae_nm_own_dns (NMClient *client,
                        char ***nameservers,
                        char ***search);

G_END_DECLS
