/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/endpoint.h"
#include "magicsock/disco.h"

/*
 * Path discovery and choice for every disco-capable peer, as a sans-I/O
 * state machine (facts: wgengine/magicsock/endpoint.go, magicsock.go;
 * constants below). The daemon feeds it the peers from the netmap, the disco
 * packets the runner or a DERP connection received, and the time; it sends
 * disco packets through ops and tells, per peer, which WireGuard endpoint to
 * use now: the trusted direct address, else the peer's home DERP region,
 * else (no DERP at all) the peer's first endpoint.
 *
 * Rules: a peer with a zero disco key is not ours to manage (plain WireGuard
 * to its first endpoint). Unknown sender disco keys are dropped. A Ping is
 * answered with a Pong on the path it came by (UDP to the source, or DERP to
 * the sending node key); CallMeMaybe is accepted only over DERP and makes us
 * ping the listed endpoints. A Pong matching one of our pings (by TxID, from
 * where we sent it) makes that address a candidate; the best candidate by
 * latency becomes the path, trusted for MAGICSOCK_TRUST_UDP_NS after its last
 * pong, kept alive by heartbeat pings while the peer is active, and replaced
 * when a candidate is faster by a clear margin (upgrade checks).
 * While no direct path is trusted and the peer is active, every endpoint is
 * pinged (≤ once per MAGICSOCK_PING_INTERVAL_NS each) and a CallMeMaybe with
 * our endpoints goes over DERP.
 */
enum {
    MAGICSOCK_MAX_ENDPOINTS = 32,
};

#define MAGICSOCK_HEARTBEAT_NS           (3ull * 1000000000ull)
#define MAGICSOCK_TRUST_UDP_NS           (6500ull * 1000000ull)
#define MAGICSOCK_PING_TIMEOUT_NS        (5ull * 1000000000ull)
#define MAGICSOCK_PING_INTERVAL_NS       (5ull * 1000000000ull)
#define MAGICSOCK_UPGRADE_INTERVAL_NS    (60ull * 1000000000ull)
#define MAGICSOCK_SESSION_ACTIVE_NS      (45ull * 1000000000ull)
#define MAGICSOCK_GOOD_ENOUGH_LATENCY_NS (5ull * 1000000ull)

struct magicsock;

struct magicsock_ping_result {
    bool ok;                 /* false: no pong within MAGICSOCK_PING_TIMEOUT_NS */
    struct wg_endpoint path; /* where the pong came from: UDP address or DERP region */
    uint64_t latency_ns;
};

struct magicsock_ops {
    void (*send_udp)(void *ctx, const uint8_t *data, size_t len, const union wg_sockaddr *to);
    void (*send_derp)(void *ctx, uint16_t region, const uint8_t dst_node_key[DISCO_KEY_LEN],
                      const uint8_t *data, size_t len);
    /* The WireGuard endpoint for this peer changed (direct, DERP, or family AF_UNSPEC: none). */
    void (*set_endpoint)(void *ctx, const uint8_t node_key[DISCO_KEY_LEN],
                         const struct wg_endpoint *ep);
    /* Answer to magicsock_ping (user pings: `hyphaectl ping`). */
    void (*ping_result)(void *ctx, uint64_t ping_id, const struct magicsock_ping_result *res);
};

struct magicsock_peer_config {
    uint8_t node_key[DISCO_KEY_LEN];
    uint8_t disco_key[DISCO_KEY_LEN]; /* all zero: not disco-capable */
    uint16_t home_derp;               /* 0: none */
    size_t n_endpoints;
    union wg_sockaddr endpoints[MAGICSOCK_MAX_ENDPOINTS];
};

/* disco_priv is copied into secure memory; node_pub goes into our pings. */
struct magicsock *magicsock_new(const uint8_t disco_priv[DISCO_KEY_LEN],
                                const uint8_t node_pub[DISCO_KEY_LEN],
                                const struct magicsock_ops *ops, void *ctx);
void magicsock_free(struct magicsock *ms);

/* The whole peer set; peers kept by node key keep their paths and state. */
int magicsock_set_peers(struct magicsock *ms, const struct magicsock_peer_config *peers, size_t n,
                        uint64_t now_ns);
/* Our own endpoints (interfaces + STUN), sent in CallMeMaybe. */
void magicsock_set_local_endpoints(struct magicsock *ms, const union wg_sockaddr *eps, size_t n);
/* Whether DERP exists at all (a DERP map with regions): without it, no DERP paths. */
void magicsock_set_derp_enabled(struct magicsock *ms, bool enabled);

/*
 * A disco packet (disco_looks_like) arrived: over UDP (from->derp_region 0,
 * from->addr the source) or over DERP (from->derp_region, from->derp_key the
 * sending node key).
 */
void magicsock_rx_disco(struct magicsock *ms, const uint8_t *pkt, size_t len,
                        const struct wg_endpoint *from, uint64_t now_ns);
/* WireGuard wants to talk to / heard from this peer: the session is active. */
void magicsock_note_activity(struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN],
                             uint64_t now_ns);
/* Fire due timers. Returns the next deadline (absolute ns), 0 = none. */
uint64_t magicsock_tick(struct magicsock *ms, uint64_t now_ns);

/* Ping the peer on its current path (and candidates); answer through ops->ping_result. */
int magicsock_ping(struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN], uint64_t ping_id,
                   uint64_t now_ns);
/* The peer's endpoint now (what set_endpoint last said). -ENOENT if unknown. */
int magicsock_get_endpoint(const struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN],
                           struct wg_endpoint *out);
