/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"

/*
 * MagicDNS's local records: name → addresses, address → name (for PTR), the
 * zones MagicDNS is authoritative for (NXDOMAIN for unknown names under them)
 * and the search domains a bare name is tried under. Built once per netmap
 * with a builder, then immutable: any number of threads may read a table
 * while it lives; a new netmap builds a new table and the caller swaps.
 *
 * Names are compared case-insensitively (stored normalised, dns-msg.h
 * dns_name_normalise). Lookups hash (open addressing over arrays sized at
 * build time), nothing is allocated after dns_table_build.
 *
 * Reverse entries are derived from the forward ones: each address maps to
 * the first name added with it, so add node names (self, peers) before
 * ExtraRecords; dns_table_builder_add_ptr adds reverse-only ones. As Tailscale's tsdns
 * (resolveLocalReverse), PTR answers are given for any address in the table; the tailnet reverse
 * zones (dns_table_builder_add_tailnet_reverse_zones) make unknown addresses of 100.64.0.0/10 and
 * fd7a:115c:a1e0::/48 NXDOMAIN instead of forwarded.
 */
struct dns_table;
struct dns_table_builder;

/* One name's records, as a lookup returns them. */
struct dns_host {
    const char *name; /* normalised */
    size_t name_len;
    const struct ip_addr *v4; /* AF_INET addresses, in the order added */
    size_t n_v4;
    const struct ip_addr *v6; /* AF_INET6 addresses, in the order added */
    size_t n_v6;
};

/* Bounds: adding more fails with -E2BIG. */
enum {
    DNS_TABLE_MAX_NAMES = 65536,
    DNS_TABLE_MAX_ADDRS = 262144, /* over all names */
    DNS_TABLE_MAX_ZONES = 512,
    DNS_TABLE_MAX_SEARCH = 64,
};

/* NULL when out of memory. */
struct dns_table_builder *dns_table_builder_new(void);
void dns_table_builder_free(struct dns_table_builder *b);

/*
 * name → addr (IPv4 or IPv6). name is normalised here (trailing dot and case
 * do not matter). The same (name, addr) twice is kept once. 0, -EINVAL (bad
 * name or address family), -E2BIG, -ENOMEM.
 */
int dns_table_builder_add(struct dns_table_builder *b, const char *name,
                          const struct ip_addr *addr);

/* address → name for PTR only, no forward record (a node address the
 * table leaves out of A/AAAA, which tailscaled still answers PTR for).
 * Names added with dns_table_builder_add win over these, whatever the
 * order. Same results as dns_table_builder_add. */
int dns_table_builder_add_ptr(struct dns_table_builder *b, const char *name,
                              const struct ip_addr *addr);

/* A zone MagicDNS answers for alone ("tail1234.ts.net", a Routes key with no
 * resolvers): names under it that are not in the table are NXDOMAIN, not
 * forwarded. 0, -EINVAL, -E2BIG, -ENOMEM. */
int dns_table_builder_add_zone(struct dns_table_builder *b, const char *zone);

/* The reverse zones of Tailscale's ranges: 64.100.in-addr.arpa … 127.100.
 * in-addr.arpa (100.64.0.0/10) and 0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa
 * (fd7a:115c:a1e0::/48), as tailscaled adds them when MagicDNS is on. */
int dns_table_builder_add_tailnet_reverse_zones(struct dns_table_builder *b);

/* Names under name resolve to name's records (a node with the capability
 * "dns-subdomain-resolve", tailcfg.NodeAttrDNSSubdomainResolve: tsdns.go
 * resolveLocal's subdomainHosts); the nearest such parent wins. name must
 * also be added with its addresses, else this does nothing. 0, -EINVAL,
 * -E2BIG, -ENOMEM. */
int dns_table_builder_add_subdomain_host(struct dns_table_builder *b, const char *name);

/* A search domain: a single-label name ("laptop") not in the table is
 * looked up as "laptop.DOMAIN" for each domain, in the order added. */
int dns_table_builder_add_search(struct dns_table_builder *b, const char *domain);

/* The immutable table; the builder is consumed (freed) either way. NULL when
 * out of memory. */
struct dns_table *dns_table_build(struct dns_table_builder *b);
void dns_table_free(struct dns_table *t);

/* Exact lookup of a normalised name (len bytes, no NUL needed). */
bool dns_table_lookup(const struct dns_table *t, const char *name, size_t len,
                      struct dns_host *out);

/* Exact lookup, then the nearest parent added as a subdomain host, then for
 * a single-label name each search domain in turn. */
bool dns_table_lookup_search(const struct dns_table *t, const char *name, size_t len,
                             struct dns_host *out);

/* The name of an address (first added), or NULL. */
const char *dns_table_lookup_addr(const struct dns_table *t, const struct ip_addr *addr);

/* The longest zone name is equal to or under, or NULL (normalised name). */
const char *dns_table_zone_for(const struct dns_table *t, const char *name, size_t len);

/* Counts, for logs and tests. */
size_t dns_table_n_names(const struct dns_table *t);
