/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The tailnet's DNS settings (tailcfg.DNSConfig, tailcfg/tailcfg.go; the
 * resolver type is types/dnstype/dnstype.go Resolver), read strictly from the
 * netmap's raw DNSConfig JSON (hyphae_netmap_get_dns_config_json). Shared by
 * MagicDNS (daemon/dns: what 100.100.100.100 answers or forwards) and the OS
 * side (daemon/netcfg/hyphae-os-dns: what the system resolver is told).
 *
 * Names are lowercase, without the trailing dot; "" is the root (a route for
 * "" would be every name: never produced, Routes keys are real suffixes).
 */
typedef enum {
  HYPHAE_DNS_RESOLVER_UDP, /* "1.2.3.4", "1.2.3.4:53", "[fd00::1]:5353": UDP, TCP on truncation */
  HYPHAE_DNS_RESOLVER_DOH, /* "https://…/dns-query", or "http://…" (an exit node's peerapi) */
} HyphaeDnsResolverKind;

typedef struct {
  HyphaeDnsResolverKind kind;
  char *addr;                  /* Resolver.Addr as sent */
  int family;                  /* UDP: AF_INET / AF_INET6 */
  guint8 ip[16];               /* UDP: the address (network order; v4 in the first 4 bytes) */
  guint16 port;                /* UDP: 53 when none was given */
  char *url;                   /* DOH: the URL */
  char **bootstrap;            /* BootstrapResolution, canonical IP strings (may be empty) */
  gboolean use_with_exit_node; /* UseWithExitNode */
} HyphaeDnsResolver;

typedef struct {
  char *suffix;         /* Routes key, normalised */
  GPtrArray *resolvers; /* HyphaeDnsResolver*; empty: MagicDNS answers it itself
                         * (capver 22: NXDOMAIN for names it does not know) */
} HyphaeDnsRoute;

void hyphae_dns_route_free (HyphaeDnsRoute *route);

typedef struct {
  char *name;    /* normalised */
  guint16 type;  /* 1 (A) or 28 (AAAA); Type "" means from the value's family */
  guint8 ip[16]; /* the Value, network order */
} HyphaeDnsExtraRecord;

typedef struct {
  gboolean present;              /* the netmap carried a DNSConfig */
  gboolean proxied;              /* Proxied: MagicDNS is on for this tailnet */
  GPtrArray *resolvers;          /* HyphaeDnsResolver*: default upstreams (may be empty) */
  GPtrArray *fallback_resolvers; /* FallbackResolvers */
  GPtrArray *routes;             /* HyphaeDnsRoute*, longest suffix first */
  char **domains;                /* Domains: search domains, in order */
  GArray *extra_records;         /* HyphaeDnsExtraRecord */
  char **cert_domains;           /* CertDomains */
} HyphaeDnsConfig;

/* json NULL (never sent): an empty config (present FALSE). A malformed or
 * out-of-bounds document (> 256 routes, > 64 resolvers per route, > 10,000
 * extra records, a name > 253 bytes) is an error naming the field
 * (G_IO_ERROR_INVALID_DATA). Following tailscaled (ipnlocal
 * dnsConfigForNetmap), an ExtraRecord whose Type is not "", "A" or "AAAA",
 * or whose Value is not an IP, is skipped, and its type comes from the
 * Value's family; a "tls://" resolver is skipped. Unknown fields are
 * ignored. */
HyphaeDnsConfig *hyphae_dns_config_parse (const char *json,
                                          GError **error);
void hyphae_dns_config_free (HyphaeDnsConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeDnsConfig, hyphae_dns_config_free)

/* One Resolver.Addr ("1.2.3.4", "1.2.3.4:53", "fd00::1", "[fd00::1]:5353",
 * "https://…", "http://…"), as the parser reads it; the fallback resolvers
 * (what the OS had) go through it too. "tls://…" (not supported by
 * tailscaled either) and anything else is G_IO_ERROR_NOT_SUPPORTED /
 * G_IO_ERROR_INVALID_DATA. */
HyphaeDnsResolver *hyphae_dns_resolver_parse (const char *addr,
                                              GError **error);
HyphaeDnsResolver *hyphae_dns_resolver_copy (const HyphaeDnsResolver *resolver);
void hyphae_dns_resolver_free (HyphaeDnsResolver *resolver);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeDnsResolver, hyphae_dns_resolver_free)

/* A DNS name as the config stores it (lowercase ASCII, no leading or
 * trailing dot, labels 1..63 bytes of printable ASCII, ≤ 253 bytes), or
 * NULL with an error. "" and "." are the root: NULL too (no field takes it). */
char *hyphae_dns_name_normalize (const char *name,
                                 GError **error);
/* name is suffix or under it (both normalised). */
gboolean hyphae_dns_name_has_suffix (const char *name,
                                     const char *suffix);

/* The route whose suffix is the longest one name is equal to or under, or NULL. */
const HyphaeDnsRoute *hyphae_dns_config_route_for (const HyphaeDnsConfig *config,
                                                   const char *name);

/* MagicDNS's own addresses (net/tsaddr: TailscaleServiceIP, TailscaleServiceIPv6). */
#define HYPHAE_DNS_SERVICE_IPV4 "100.100.100.100"
#define HYPHAE_DNS_SERVICE_IPV6 "fd7a:115c:a1e0::53"

G_END_DECLS
