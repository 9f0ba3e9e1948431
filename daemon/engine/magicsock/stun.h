/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/endpoint.h"

/*
 * STUN binding requests and responses (RFC 5389), as Tailscale uses them
 * (net/stun/stun.go): requests carry SOFTWARE "tailnode" and a trailing
 * FINGERPRINT (CRC-32 XOR 0x5354554e), without which Tailscale's and
 * headscale's servers ignore them; responses carry XOR-MAPPED-ADDRESS (0x0020
 * or 0x8020) or MAPPED-ADDRESS. Client and server (hyphae-derp) share this.
 */
enum {
    STUN_HEADER_LEN = 20,
    STUN_TXID_LEN = 12,
    STUN_PORT = 3478,
    STUN_REQUEST_MAX = 64,  /* our binding request fits */
    STUN_RESPONSE_MAX = 64, /* our binding response fits */
};

/* Tailscale's packetLooksLike order: STUN first (top two bits 0, cookie, byte1 0x01). */
bool stun_looks_like(const uint8_t *p, size_t len);

/* A binding request with SOFTWARE + FINGERPRINT into out; returns its length. */
size_t stun_build_request(uint8_t out[STUN_REQUEST_MAX], const uint8_t txid[STUN_TXID_LEN]);
/* A binding success response: txid, the reflexive address, its length. */
int stun_parse_response(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_LEN],
                        union wg_sockaddr *mapped);
/* Server side: a binding request (FINGERPRINT checked when present); 0 or -EPROTO. */
int stun_parse_request(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_LEN]);
/* Server side: a success response with XOR-MAPPED-ADDRESS of `mapped`; its length. */
size_t stun_build_response(uint8_t out[STUN_RESPONSE_MAX], const uint8_t txid[STUN_TXID_LEN],
                           const union wg_sockaddr *mapped);
