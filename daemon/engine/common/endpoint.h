/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * A UDP peer address plus the local source the peer last reached us on
 * ("sticky source", wireguard-go conn/sticky_linux.go): replies leave from the
 * address the peer talked to.
 */
union wg_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct wg_endpoint {
    union wg_sockaddr addr; /* family AF_UNSPEC when unset */
    union {
        struct in_addr src4;
        struct in6_addr src6;
    };
    int src_ifindex; /* 0: no sticky source */
    /*
     * Nonzero: the path is a DERP relay, not UDP. The datagram goes to node key
     * derp_key through region derp_region's server (or came from derp_key
     * there); addr then holds Tailscale's magic DERP address
     * 127.3.3.40:region (wgengine/magicsock/derp.go), never sent to. Zero
     * these fields (zero the whole struct) for a UDP endpoint: the device
     * compares endpoints with memcmp.
     */
    uint16_t derp_region;
    uint8_t derp_key[32];
};

/* 127.3.3.40, the address Tailscale shows for "relayed through DERP". */
#define WG_DERP_MAGIC_IPV4 0x7f030328u

static inline bool
wg_endpoint_is_derp(const struct wg_endpoint *e)
{
    return e->derp_region != 0;
}

static inline socklen_t
wg_sockaddr_len(const union wg_sockaddr *a)
{
    return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

/* Same address and port (sources ignored). */
static inline bool
wg_sockaddr_equal(const union wg_sockaddr *a, const union wg_sockaddr *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->in4.sin_port == b->in4.sin_port &&
               a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
    if (a->sa.sa_family == AF_INET6)
        return a->in6.sin6_port == b->in6.sin6_port &&
               a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
               __builtin_memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
    return a->sa.sa_family == AF_UNSPEC;
}
