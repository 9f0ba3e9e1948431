/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * WireGuard wire messages and protocol constants (whitepaper §5.4, §6;
 * kernel drivers/net/wireguard/messages.h).
 * All multi-byte integers on the wire are little-endian. The type field is
 * compared as a little-endian u32, so the three reserved bytes must be zero.
 */

#define WG_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_IDENTIFIER   "WireGuard v1 zx2c4 Jason@zx2c4.com"
#define WG_LABEL_MAC1   "mac1----"
#define WG_LABEL_COOKIE "cookie--"

enum wg_limits {
    WG_INITIATIONS_PER_SECOND = 50,
    WG_MAX_TIMER_HANDSHAKES = 90 / 5, /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT */
    WG_MAX_STAGED_PACKETS = 128,
    WG_MAX_PEERS = 1 << 16,
    WG_MESSAGE_PADDING_MULTIPLE = 16,
    /* Handshakes seen per second above which we consider ourselves under load
     * (the kernel uses a queue of 4096/8; we process inline, so we count). */
    WG_UNDER_LOAD_HANDSHAKES = 512,
};

#define WG_REKEY_AFTER_MESSAGES_U64 (1ULL << 60)
/* The whitepaper's 2^64 - 2^13 - 1: the stricter of the kernel's and wireguard-go's. */
#define WG_REJECT_AFTER_MESSAGES_U64 (UINT64_MAX - (1ULL << 13))

/* Times in nanoseconds. */
/* clang-format off */
#define WG_NS(s) ((uint64_t)(s) * 1000000000ULL)
/* clang-format on */
#define WG_REKEY_AFTER_TIME      WG_NS(120)
#define WG_REJECT_AFTER_TIME     WG_NS(180)
#define WG_REKEY_TIMEOUT         WG_NS(5)
#define WG_REKEY_TIMEOUT_JITTER  (334ULL * 1000000ULL) /* wireguard-go: 334 ms */
#define WG_KEEPALIVE_TIMEOUT     WG_NS(10)
#define WG_COOKIE_SECRET_MAX_AGE WG_NS(120)
#define WG_COOKIE_SECRET_LATENCY WG_NS(5)
#define WG_UNDER_LOAD_AFTER      WG_NS(1)
#define WG_INITIATION_INTERVAL   (1000000000ULL / WG_INITIATIONS_PER_SECOND)

enum wg_message_type {
    WG_MESSAGE_INVALID = 0,
    WG_MESSAGE_HANDSHAKE_INITIATION = 1,
    WG_MESSAGE_HANDSHAKE_RESPONSE = 2,
    WG_MESSAGE_HANDSHAKE_COOKIE = 3,
    WG_MESSAGE_DATA = 4,
};

enum {
    WG_KEY_LEN = 32,
    WG_MAC_LEN = 16,
    WG_COOKIE_LEN = 16,
    WG_COOKIE_NONCE_LEN = 24,
    WG_TIMESTAMP_LEN = 12,
    WG_AUTHTAG_LEN = 16,
};

struct wg_message_macs {
    uint8_t mac1[WG_MAC_LEN];
    uint8_t mac2[WG_MAC_LEN];
};

struct wg_message_handshake_initiation {
    uint32_t type;
    uint32_t sender_index;
    uint8_t ephemeral[WG_KEY_LEN];
    uint8_t encrypted_static[WG_KEY_LEN + WG_AUTHTAG_LEN];
    uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AUTHTAG_LEN];
    struct wg_message_macs macs;
};

struct wg_message_handshake_response {
    uint32_t type;
    uint32_t sender_index;
    uint32_t receiver_index;
    uint8_t ephemeral[WG_KEY_LEN];
    uint8_t encrypted_nothing[WG_AUTHTAG_LEN];
    struct wg_message_macs macs;
};

struct wg_message_handshake_cookie {
    uint32_t type;
    uint32_t receiver_index;
    uint8_t nonce[WG_COOKIE_NONCE_LEN];
    uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AUTHTAG_LEN];
};

struct wg_message_data {
    uint32_t type;
    uint32_t key_idx;
    uint64_t counter;
    uint8_t encrypted_data[];
};

_Static_assert(sizeof(struct wg_message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct wg_message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct wg_message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct wg_message_data) == 16, "data header is 16 bytes");

enum {
    WG_DATA_OVERHEAD = 16 + WG_AUTHTAG_LEN,
    WG_MESSAGE_MINIMUM_LENGTH = WG_DATA_OVERHEAD, /* a keepalive */
    WG_MESSAGE_MAX_LENGTH = 65535,
};

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "wire structs are read in place; add byte swapping for big-endian hosts"
#endif

/*
 * Classify a datagram by type and exact length (kernel validate_header_len):
 * returns the message type, or WG_MESSAGE_INVALID for anything else.
 */
static inline enum wg_message_type
wg_message_classify(const uint8_t *data, size_t len)
{
    uint32_t type;

    if (len < 4)
        return WG_MESSAGE_INVALID;
    __builtin_memcpy(&type, data, 4);
    switch (type) {
    case WG_MESSAGE_HANDSHAKE_INITIATION:
        return len == sizeof(struct wg_message_handshake_initiation) ? type : WG_MESSAGE_INVALID;
    case WG_MESSAGE_HANDSHAKE_RESPONSE:
        return len == sizeof(struct wg_message_handshake_response) ? type : WG_MESSAGE_INVALID;
    case WG_MESSAGE_HANDSHAKE_COOKIE:
        return len == sizeof(struct wg_message_handshake_cookie) ? type : WG_MESSAGE_INVALID;
    case WG_MESSAGE_DATA:
        return len >= WG_MESSAGE_MINIMUM_LENGTH ? type : WG_MESSAGE_INVALID;
    default:
        return WG_MESSAGE_INVALID;
    }
}
