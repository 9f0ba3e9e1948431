/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "magicsock/derp-frame.h"

/*
 * The client side of one DERP connection as a sans-I/O state machine: the
 * caller (daemon/magicsock's HyphaeDerpConn) dials TLS, does the HTTP
 * upgrade and then feeds every byte read into derp_client_feed; whatever the
 * client wants written leaves through ops->write, in order. Login:
 * ServerKey → ClientInfo {"version":2,"CanAckPings":true} boxed with the node
 * private key → ServerInfo → connected (then NotePreferred for the home
 * region). Pings are answered with Pongs. Frames over DERP_MAX_FRAME, or a
 * bad magic, end the connection (feed returns -EPROTO/-EMSGSIZE: close it);
 * unknown frame types are skipped.
 */
struct derp_client;

struct derp_client_ops {
    /* Bytes for the connection, in order: one whole frame per call, so a
     * caller may drop whole SendPackets under pressure. No callback may free
     * the client. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /* ServerInfo accepted: packets may be sent. */
    void (*connected)(void *ctx);
    /* A RecvPacket: src node key and the unframed WireGuard or disco bytes. */
    void (*recv_packet)(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *data,
                        size_t len);
    /* Optional (NULL = ignored). */
    void (*peer_gone)(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason);
    void (*health)(void *ctx, const char *text, size_t len); /* "" = healthy */
    void (*restarting)(void *ctx, uint32_t reconnect_in_ms, uint32_t try_for_ms);
};

/* node_priv is copied into secure memory and wiped by derp_client_free. */
struct derp_client *derp_client_new(const uint8_t node_priv[DERP_KEY_LEN],
                                    const struct derp_client_ops *ops, void *ctx);
void derp_client_free(struct derp_client *c);

/* Bytes read from the connection. 0, or negative errno: the connection is done. */
int derp_client_feed(struct derp_client *c, const uint8_t *data, size_t len, uint64_t now_ns);
bool derp_client_is_connected(const struct derp_client *c);
/* The server's key from its ServerKey frame, NULL before it. */
const uint8_t *derp_client_server_key(const struct derp_client *c);

/* A SendPacket to dst. 0, -ENOTCONN before login, -EMSGSIZE over DERP_MAX_PACKET. */
int derp_client_send(struct derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *data,
                     size_t len);
/* NotePreferred: this is (not) our home region. Sent at login and on change. */
void derp_client_set_preferred(struct derp_client *c, bool preferred);
/* A Ping frame (liveness check of our own); the matching Pong marks rx. */
void derp_client_send_ping(struct derp_client *c, const uint8_t data[DERP_PING_LEN]);
/* When a frame last arrived (now_ns of the feed), for the 120 s read deadline. */
uint64_t derp_client_last_rx_ns(const struct derp_client *c);
