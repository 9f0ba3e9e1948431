/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * DERP frames, shared by the client (derp-client.c) and hyphae-derp.
 * Frame = type u8 ‖ length u32 big-endian ‖ payload. Facts: derp/derp.go,
 * derp/derp_client.go, derp/derpserver/derpserver.go (tailscale v1.102).
 * Every parser bounds-checks against the length it is given; nothing trusts
 * a length field beyond the bytes present.
 */
enum derp_frame_type {
    DERP_FRAME_SERVER_KEY = 0x01,     /* magic(8) ‖ server pub(32) ‖ ignored */
    DERP_FRAME_CLIENT_INFO = 0x02,    /* client pub(32) ‖ nonce(24) ‖ box(JSON) */
    DERP_FRAME_SERVER_INFO = 0x03,    /* nonce(24) ‖ box(JSON) */
    DERP_FRAME_SEND_PACKET = 0x04,    /* dst pub(32) ‖ data */
    DERP_FRAME_RECV_PACKET = 0x05,    /* src pub(32) ‖ data */
    DERP_FRAME_KEEP_ALIVE = 0x06,     /* empty */
    DERP_FRAME_NOTE_PREFERRED = 0x07, /* 1 byte: 1 = home */
    DERP_FRAME_PEER_GONE = 0x08,      /* pub(32) ‖ [reason u8] */
    DERP_FRAME_PEER_PRESENT = 0x09,   /* mesh only */
    DERP_FRAME_FORWARD_PACKET = 0x0a, /* mesh only */
    DERP_FRAME_WATCH_CONNS = 0x10,    /* mesh only */
    DERP_FRAME_CLOSE_PEER = 0x11,     /* mesh only */
    DERP_FRAME_PING = 0x12,           /* 8 bytes, answered by a Pong with the same bytes */
    DERP_FRAME_PONG = 0x13,           /* 8 bytes */
    DERP_FRAME_HEALTH = 0x14,         /* text, empty = healthy */
    DERP_FRAME_RESTARTING = 0x15,     /* reconnect-in ms u32 BE ‖ try-for ms u32 BE */
};

enum derp_peer_gone_reason {
    DERP_PEER_GONE_DISCONNECTED = 0,
    DERP_PEER_GONE_NOT_HERE = 1,
};

#define DERP_MAGIC "DERP\xf0\x9f\x94\x91"

enum {
    DERP_MAGIC_LEN = 8,
    DERP_KEY_LEN = 32,
    DERP_NONCE_LEN = 24, /* crypto_box_NONCEBYTES */
    DERP_BOX_OVERHEAD = 16,
    DERP_HEADER_LEN = 5,
    DERP_PROTOCOL_VERSION = 2,
    DERP_MAX_PACKET = 64 * 1024,      /* data bytes in one Send/RecvPacket */
    DERP_MAX_FRAME = 1 << 20,         /* the client rejects larger frames */
    DERP_MAX_CLIENT_INFO = 256 << 10, /* the server caps ClientInfo */
    DERP_KEEPALIVE_S = 60,            /* the server's keep-alive period (plus jitter) */
    DERP_READ_TIMEOUT_S = 120,        /* the client's read deadline */
    DERP_PING_LEN = 8,
};

struct derp_frame {
    uint8_t type;
    uint32_t len;
    const uint8_t *payload; /* points into the caller's buffer */
};

/*
 * One frame from the front of buf. Returns the bytes it spans (header +
 * payload) with *f filled; 0 when buf holds no complete frame yet;
 * -EMSGSIZE when the header announces more than max_payload (the stream is
 * then unusable: close it).
 */
ssize_t derp_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
                         struct derp_frame *f);
/* The 5-byte header of a frame of type with a payload of len bytes. */
void derp_frame_header(uint8_t out[DERP_HEADER_LEN], uint8_t type, uint32_t len);

/*
 * NaCl boxes of ClientInfo/ServerInfo: out = nonce(24) ‖ box(plain), a fresh
 * random nonce, box from my_priv to peer_pub (crypto_box_easy). Returns the
 * length written, or -ENOBUFS when cap is too small.
 */
ssize_t derp_seal_info(uint8_t *out, size_t cap, const uint8_t *plain, size_t plain_len,
                       const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t my_priv[DERP_KEY_LEN]);
/* The reverse: plain (≤ cap) from nonce ‖ box. Length, -EBADMSG (forged), -EPROTO (short). */
ssize_t derp_open_info(uint8_t *plain, size_t cap, const uint8_t *in, size_t in_len,
                       const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t my_priv[DERP_KEY_LEN]);

/* Payload readers. Each returns 0 or -EPROTO when the payload is malformed. */
int derp_parse_server_key(const struct derp_frame *f, uint8_t server_pub[DERP_KEY_LEN]);
/* Recv/SendPacket (and ClientInfo's leading key): the key plus the rest. */
int derp_parse_keyed(const struct derp_frame *f, const uint8_t **key, const uint8_t **data,
                     size_t *data_len);
int derp_parse_peer_gone(const struct derp_frame *f, uint8_t key[DERP_KEY_LEN], uint8_t *reason);
int derp_parse_restarting(const struct derp_frame *f, uint32_t *reconnect_in_ms,
                          uint32_t *try_for_ms);
