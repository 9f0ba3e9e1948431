/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/endpoint.h"
#include "wg/cookie.h"
#include "wg/masq.h"
#include "wg/messages.h"
#include "wg/peer.h"

/*
 * A WireGuard device as a sans-I/O state machine: the caller feeds it
 * datagrams read from UDP (wg_device_rx_batch), plaintext IP packets read from
 * the TUN (wg_device_tx_batch) and the passage of time (wg_device_tick), always
 * with now_ns from a monotonic clock (tests use a fake one). Handshake,
 * cookie and keepalive datagrams leave through the send callback, called
 * with the device lock held: it must not call back into the device.
 *
 * Threads: any number of callers; one device mutex guards peers, indices,
 * handshakes and timers. Bulk encryption and decryption run outside it.
 */
struct allowedips;
struct ratelimiter;

/* peer_key: the public key of the peer the datagram is for (handshake messages,
 * keepalives, staged data), NULL for a cookie reply (no peer yet). */
typedef void (*wg_send_fn)(void *ctx, const uint8_t *data, size_t len, const struct wg_endpoint *to,
                           const uint8_t *peer_key);
/* The device's earliest timer moved earlier: the caller's timer loop should wake. */
typedef void (*wg_wake_fn)(void *ctx);

enum { WG_INDEX_BUCKETS = 4096, WG_PEER_BUCKETS = 1024 };
#define WG_ACTIVE_NOTE_INTERVAL_NS (1000ull * 1000 * 1000)

struct wg_index_entry; /* wg/index.h */

struct wg_device {
    pthread_mutex_t lock;
#ifndef NDEBUG
    pthread_t lock_owner; /* set by wg_device_lock, for wg_device_assert_locked */
    bool lock_held;
#endif
    wg_send_fn send;
    wg_wake_fn wake;
    /*
     * Optional (NULL: none), called under the device lock: data went out to
     * this peer, at most once per WG_ACTIVE_NOTE_INTERVAL_NS per peer. The
     * Tailscale mode's path machine keeps a peer's direct path alive only
     * while it is in use (wgengine/magicsock/endpoint.go: heartbeats stop
     * after sessionActiveTimeout without sends).
     */
    void (*note_active)(void *ctx, const uint8_t peer_key[WG_KEY_LEN],
                        const struct wg_endpoint *ep);
    void *ctx;

    bool has_private_key;
    uint8_t private_key[WG_KEY_LEN]; /* sodium_malloc'd device: wiped on free */
    uint8_t public_key[WG_KEY_LEN];
    struct wg_cookie_checker cookie_checker;

    struct wg_peer *peers;
    struct wg_peer *peer_hash[WG_PEER_BUCKETS];
    unsigned int n_peers;
    struct wg_index_entry *index_hash[WG_INDEX_BUCKETS];
    struct allowedips *allowedips;
    struct ratelimiter *ratelimiter;

    unsigned int mtu;           /* TUN MTU: padding never exceeds it */
    int64_t realtime_offset_ns; /* wall clock = now_ns + offset */
    bool up;

    /* Under-load detection (see WG_UNDER_LOAD_HANDSHAKES). */
    uint64_t load_window_start_ns;
    unsigned int load_window_count;
    uint64_t under_load_until_ns;
    bool force_under_load; /* test hook */
    uint64_t last_gc_ns;

    uint64_t next_timer_ns; /* earliest armed timer, 0 = none */

    /* Our own tailnet addresses, for the peers with a masquerade address
     * (wg/masq.h; under the lock). */
    struct wg_masq native;
};

struct wg_device *wg_device_new(wg_send_fn send, wg_wake_fn wake, void *ctx);
void wg_device_free(struct wg_device *dev);

void wg_device_lock(struct wg_device *dev);
void wg_device_unlock(struct wg_device *dev);

/* Configuration, under the lock. */
void wg_device_set_private_key(struct wg_device *dev, const uint8_t *priv, uint64_t now_ns);
struct wg_peer *wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN]);
/* Returns the new peer, NULL when pub is our own key (ignored, as wg does) or on -ENOMEM. */
struct wg_peer *wg_device_add_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN]);
void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer);
void wg_device_remove_all_peers(struct wg_device *dev);
void wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[static WG_KEY_LEN]);
/* A UDP endpoint, as wg(8) sets it: the peer roams (follows authenticated sources). */
void wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *addr);
/*
 * Tailscale mode: the endpoint the path machine chose (UDP or DERP; family
 * AF_UNSPEC: none), pinned: authenticated packets from elsewhere do not move
 * it. When it changes while our initiation is unanswered and no session
 * exists, that initiation went down a path that gave nothing: a new one goes
 * over the new path at once (not after REKEY_TIMEOUT), and the staged packets
 * follow when it completes; with a session, staged packets go out now.
 */
void wg_peer_pin_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep, uint64_t now_ns);
/* Enabling it sends a keepalive at once when the device is up (as wireguard-go does). */
void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t seconds, uint64_t now_ns);
int wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *addr, uint8_t cidr);
void wg_peer_clear_allowed_ips(struct wg_peer *peer);
void wg_device_set_up(struct wg_device *dev, bool up, uint64_t now_ns);
/* Masquerade (wg/masq.h), under the lock: our own addresses, and the address
 * one peer knows us by (has4/has6 false: none). TX rewrites our source
 * towards that peer; RX rewrites its packets to that address back. */
void wg_device_set_native_addrs(struct wg_device *dev, const struct wg_masq *native);
void wg_peer_set_masq(struct wg_peer *peer, const struct wg_masq *masq);

/*
 * TX: plaintext IP packets from the TUN. Each packet sits at buf + 16 (room for
 * the data header), with cap bytes available from buf for header + padding +
 * tag. On return, status says what happened; for WG_TX_SEND the encrypted
 * datagram is buf[0..out_len) and goes to `to`.
 */
enum wg_tx_status {
    WG_TX_SEND,
    WG_TX_STAGED,   /* copied into the peer's queue, waiting for a handshake */
    WG_TX_NO_ROUTE, /* no peer for the destination: drop (ICMP unreachable left to the OS) */
    WG_TX_DROP,     /* malformed or no endpoint or no key */
};

enum { WG_TX_HEADROOM = 16 };

struct wg_tx_packet {
    uint8_t *buf;
    size_t len; /* plaintext length at buf + 16 */
    size_t cap;
    /* out */
    enum wg_tx_status status;
    size_t out_len;
    struct wg_endpoint to;
    struct wg_keypair *kp; /* internal */
    uint64_t counter;      /* internal */
};

void wg_device_tx_batch(struct wg_device *dev, struct wg_tx_packet *pkts, size_t n,
                        uint64_t now_ns);

/*
 * RX: datagrams from the UDP socket, decrypted in place. For WG_RX_DATA the
 * plaintext IP packet is data[plain_off .. plain_off + plain_len).
 */
enum wg_rx_status {
    WG_RX_DATA,
    WG_RX_CONSUMED, /* handshake, cookie or keepalive: nothing for the TUN */
    WG_RX_DROP,
};

struct wg_rx_packet {
    uint8_t *data;
    size_t len;
    struct wg_endpoint from;
    /* out */
    enum wg_rx_status status;
    size_t plain_off;
    size_t plain_len;
    struct wg_keypair *kp; /* internal */
};

void wg_device_rx_batch(struct wg_device *dev, struct wg_rx_packet *pkts, size_t n,
                        uint64_t now_ns);

/*
 * Timers: fire every expired one. Returns the next deadline (absolute ns), or
 * 0 when none is armed.
 */
uint64_t wg_device_tick(struct wg_device *dev, uint64_t now_ns);

/* Send a handshake initiation or a keepalive now (send.c), lock held; the
 * timers use them, and so do the runner and the tests. */
void wg_device_send_handshake_initiation(struct wg_peer *peer, bool is_retry, uint64_t now_ns);
void wg_device_send_keepalive(struct wg_peer *peer, uint64_t now_ns);
