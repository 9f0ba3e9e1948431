/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * One typed IP address, prefix and address:port for the whole daemon, parsed
 * as strictly as Go's net/netip (ParseAddr, ParsePrefix, ParseAddrPort), which
 * is what a Tailscale control server and tailscaled write:
 *  - IPv4: exactly four decimal octets, no leading zeros ("01.2.3.4" fails);
 *  - IPv6: 1-4 hex digits per group, one "::" that stands for at least one
 *    group, a dotted IPv4 tail only in the last 32 bits; an IPv4-mapped
 *    address ("::ffff:1.2.3.4") stays IPv6, as netip.Addr.Is4In6 does;
 *  - no zones anywhere ("fe80::1%eth0" fails: ParsePrefix refuses zones and
 *    none of our inputs may carry one);
 *  - prefix bits: decimal, no sign, no leading zero ("/08" fails, "/0" is
 *    fine), at most 32 or 128. Host bits are kept as given ("10.1.2.3/8"
 *    parses and formats back unchanged), as netip.ParsePrefix does; use
 *    ip_prefix_masked() where the network is meant;
 *  - port: decimal (leading zeros allowed, as strconv.ParseUint allows),
 *    at most 65535; "[v6]:port" for IPv6 and "v4:port" for IPv4, never mixed.
 * Formatting is canonical, as netip's String(): RFC 5952 for IPv6 (lower
 * case, the first longest run of two or more zero groups becomes "::"),
 * "::ffff:a.b.c.d" for IPv4-mapped, "[v6]:port". Unlike inet_ntop, an
 * IPv4-compatible address (::1.2.3.4) formats as "::102:304", as Go does.
 *
 * Values are plain structs: unused bytes are always zero, so == is memcmp.
 */
struct ip_addr {
    uint8_t family;    /* AF_INET, AF_INET6; 0: none */
    uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

struct ip_prefix {
    struct ip_addr addr; /* host bits as parsed */
    uint8_t bits;
};

struct ip_port {
    struct ip_addr addr;
    uint16_t port; /* host order */
};

enum {
    IP_ADDR_STRLEN = 46,                   /* INET6_ADDRSTRLEN */
    IP_PREFIX_STRLEN = IP_ADDR_STRLEN + 4, /* "/128" */
    IP_PORT_STRLEN = IP_ADDR_STRLEN + 8,   /* "[" "]:65535" */
};

/* Parse exactly s[0..len) (no NUL needed; an embedded NUL fails). */
bool ip_addr_parse(struct ip_addr *out, const char *s, size_t len);
bool ip_prefix_parse(struct ip_prefix *out, const char *s, size_t len);
bool ip_port_parse(struct ip_port *out, const char *s, size_t len);

/* Canonical text, NUL-terminated; returns its length. */
size_t ip_addr_format(const struct ip_addr *a, char out[IP_ADDR_STRLEN]);
size_t ip_prefix_format(const struct ip_prefix *p, char out[IP_PREFIX_STRLEN]);
size_t ip_port_format(const struct ip_port *p, char out[IP_PORT_STRLEN]);

/* 32 or 128 (0 for no family). */
unsigned ip_addr_bitlen(const struct ip_addr *a);

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
bool ip_prefix_equal(const struct ip_prefix *a, const struct ip_prefix *b);
bool ip_port_equal(const struct ip_port *a, const struct ip_port *b);

/* The address with all but the first bits bits cleared. */
struct ip_prefix ip_prefix_masked(const struct ip_prefix *p);

/* Same family and the first p->bits bits equal (netip.Prefix.Contains: an
 * IPv4-mapped IPv6 address is not inside an IPv4 prefix). */
bool ip_prefix_contains_addr(const struct ip_prefix *p, const struct ip_addr *a);
/* Every address of inner is in outer. */
bool ip_prefix_contains_prefix(const struct ip_prefix *outer, const struct ip_prefix *inner);
/* /32 or /128: one address (netip.Prefix.IsSingleIP). */
bool ip_prefix_is_host(const struct ip_prefix *p);
/* /0 of either family, whatever its host bits. */
bool ip_prefix_is_default(const struct ip_prefix *p);

/* Tailscale's address ranges (net/tsaddr: CGNATRange, TailscaleULARange). */
extern const struct ip_prefix ip_tailnet_v4; /* 100.64.0.0/10 */
extern const struct ip_prefix ip_tailnet_v6; /* fd7a:115c:a1e0::/48 */
bool ip_addr_is_tailnet(const struct ip_addr *a);
/* The whole prefix lies inside one of the two ranges. */
bool ip_prefix_is_tailnet(const struct ip_prefix *p);
