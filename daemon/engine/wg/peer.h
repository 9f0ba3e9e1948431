/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/endpoint.h"
#include "noise/noise.h"
#include "wg/cookie.h"
#include "wg/masq.h"
#include "wg/messages.h"
#include "wg/replay.h"

/*
 * Peers and keypairs. Everything here is protected by the device lock, except
 * what the data path touches outside it: a keypair's keys (immutable once
 * made), its send counter (atomic) and its replay window (own spinlock).
 * Peers and keypairs are refcounted so a batch in flight outlives removal.
 */
struct wg_peer;
struct wg_device;

struct wg_keypair {
    atomic_int refcount;
    struct wg_peer *peer; /* holds a reference */
    uint8_t send_key[WG_KEY_LEN];
    uint8_t recv_key[WG_KEY_LEN];
    _Atomic uint64_t send_counter;
    pthread_spinlock_t replay_lock;
    struct replay_window replay;
    uint64_t birth_ns;
    uint32_t local_index;
    uint32_t remote_index;
    bool i_am_initiator;
    bool in_index_table;
};

enum wg_handshake_state {
    WG_HANDSHAKE_ZEROED,
    WG_HANDSHAKE_CREATED_INITIATION,  /* we sent an initiation */
    WG_HANDSHAKE_CONSUMED_INITIATION, /* we received one, about to respond */
    WG_HANDSHAKE_CONSUMED_RESPONSE,   /* our initiation was answered */
};

struct wg_handshake {
    enum wg_handshake_state state;
    struct noise_handshake noise;
    uint32_t local_index;
    uint32_t remote_index;
    bool in_index_table;
};

struct wg_peer {
    atomic_int refcount;
    struct wg_device *device;
    struct wg_peer *next;      /* device's peer list */
    struct wg_peer *hash_next; /* device's public-key hash chain */
    bool removed;

    uint8_t public_key[WG_KEY_LEN];
    uint8_t preshared_key[WG_KEY_LEN];
    struct wg_endpoint endpoint;
    bool endpoint_pinned;                   /* wg_peer_pin_endpoint: no roaming */
    uint16_t persistent_keepalive_interval; /* seconds, 0 = off */

    struct wg_cookie_maker cookie_maker;
    struct wg_handshake handshake;
    uint8_t latest_timestamp[WG_TIMESTAMP_LEN];
    uint64_t last_initiation_consumed_ns;
    bool has_consumed_initiation;
    uint64_t last_sent_handshake_ns;
    uint64_t last_active_note_ns; /* dev->note_active last called for us */
    bool has_sent_handshake;

    struct wg_keypair *kp_previous, *kp_current, *kp_next;

    /* Packets waiting for a session: malloc'd copies of plaintext IP packets. */
    struct wg_staged {
        uint8_t *data;
        size_t len;
    } staged[WG_MAX_STAGED_PACKETS];
    unsigned int n_staged;

    /* Timers: absolute deadlines in ns, 0 = not armed (timers.c). */
    uint64_t timer_retransmit_handshake;
    uint64_t timer_send_keepalive;
    uint64_t timer_new_handshake;
    uint64_t timer_zero_key_material;
    uint64_t timer_persistent_keepalive;
    unsigned int handshake_attempts;
    bool need_another_keepalive;
    bool sent_lastminute_handshake;

    uint64_t rx_bytes, tx_bytes;
    int64_t last_handshake_realtime_ns; /* 0 = never */

    struct wg_masq masq; /* the address this peer knows us by (wg/masq.h) */
};

struct wg_peer *wg_peer_ref(struct wg_peer *p);
void wg_peer_unref(struct wg_peer *p); /* NULL is fine */
struct wg_keypair *wg_keypair_ref(struct wg_keypair *kp);
void wg_keypair_unref(struct wg_keypair *kp);

/* Under the device lock. */
struct wg_keypair *wg_keypair_new(struct wg_peer *peer, const uint8_t send[static WG_KEY_LEN],
                                  const uint8_t recv[static WG_KEY_LEN], bool initiator,
                                  uint64_t now_ns);
/* Install a freshly derived keypair (kernel noise.c add_new_keypair). */
void wg_peer_add_keypair(struct wg_peer *peer, struct wg_keypair *kp);
/* The responder's "next" keypair was confirmed by a received packet. */
bool wg_peer_received_with_keypair(struct wg_peer *peer, struct wg_keypair *kp);
/* Drop every keypair and the handshake in progress. */
void wg_peer_clear_keys(struct wg_peer *peer);
void wg_peer_clear_handshake(struct wg_peer *peer);
void wg_peer_purge_staged(struct wg_peer *peer);

/*
 * "peer(AbCd...WxYz)": the first and last four base64 characters of the
 * public key, as wireguard-go names peers in its log (device/peer.go,
 * Peer.String), with ASCII dots: a log in the C locale turns "…" into "?".
 * For log lines; any thread.
 */
enum { WG_PEER_NAME_LEN = 20 };
const char *wg_peer_name(const struct wg_peer *peer, char out[static WG_PEER_NAME_LEN]);
/* The same for a public key that may belong to no peer. */
const char *wg_public_key_name(const uint8_t pub[static WG_KEY_LEN],
                               char out[static WG_PEER_NAME_LEN]);
/* The same in a buffer that lives as long as the enclosing statement (for log arguments). */
#define WG_PEER_NAME(peer) wg_peer_name((peer), (char[WG_PEER_NAME_LEN]){ 0 })
