/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise/noise.h"

/*
 * TS2021 "controlbase": the Noise transport of Tailscale's control protocol
 * (tailscale control/controlbase/{messages,conn,
 * handshake}.go). Sans-I/O plain C: the caller moves the bytes (after the
 * HTTP upgrade), this module builds and checks frames.
 *
 *   initiation (101 B, client→server): version u16 BE ‖ 0x01 ‖ len u16 BE = 96 ‖
 *              e (32) ‖ enc(machine pub) (48) ‖ tag (16)
 *   response   (51 B): 0x02 ‖ len u16 BE = 48 ‖ e (32) ‖ tag (16)
 *   error      0x03 ‖ len u16 BE ‖ text (server, handshake only, unauthenticated)
 *   record     0x04 ‖ len u16 BE (= plaintext + 16) ‖ ciphertext
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2s, prologue "Tailscale Control Protocol v<version>".
 * Transport nonces are 0^4 ‖ u64 BIG-endian counter per direction, from 0; no
 * rekey. Frames are at most 4096 bytes with their header (plaintext ≤ 4077).
 * Any authentication failure kills the connection (every later call fails).
 */
enum {
    CONTROLBASE_MAX_FRAME = 4096,
    CONTROLBASE_HEADER_LEN = 3,
    CONTROLBASE_MAX_PLAINTEXT = CONTROLBASE_MAX_FRAME - CONTROLBASE_HEADER_LEN - 16, /* 4077 */
    CONTROLBASE_INITIATION_LEN = 101,
    CONTROLBASE_RESPONSE_LEN = 51,
    CONTROLBASE_MSG_INITIATION = 1,
    CONTROLBASE_MSG_RESPONSE = 2,
    CONTROLBASE_MSG_ERROR = 3,
    CONTROLBASE_MSG_RECORD = 4,
};

enum controlbase_state {
    CONTROLBASE_STATE_INIT,
    CONTROLBASE_STATE_HANDSHAKE, /* initiation sent / awaited */
    CONTROLBASE_STATE_ESTABLISHED,
    CONTROLBASE_STATE_DEAD, /* after any failure: every call returns -EPIPE */
};

struct controlbase {
    enum controlbase_state state;
    bool is_client;
    uint16_t version;
    struct noise_handshake hs;
    uint8_t tx_key[NOISE_KEY_LEN], rx_key[NOISE_KEY_LEN];
    uint64_t tx_nonce, rx_nonce;
    uint8_t handshake_hash[NOISE_HASH_LEN];
    uint8_t peer_static[NOISE_KEY_LEN]; /* server: the client's machine key; client: server_pub */
    /* Bytes of a frame not yet complete (the reader is incremental). */
    uint8_t rbuf[CONTROLBASE_MAX_FRAME];
    size_t rlen;
};

/*
 * Client: build the 101-byte initiation (returns 101). e_priv NULL = random
 * (tests pass one). Initialises c (any earlier state is wiped).
 */
int controlbase_client_init(struct controlbase *c, uint16_t version,
                            const uint8_t machine_priv[static NOISE_KEY_LEN],
                            const uint8_t server_pub[static NOISE_KEY_LEN], const uint8_t *e_priv,
                            uint8_t out[static CONTROLBASE_INITIATION_LEN]);
/*
 * Client: feed bytes received after the initiation. Returns the number of
 * bytes consumed (the response frame; the rest are records for
 * controlbase_read), 0 when more bytes are needed, -ECONNREFUSED for an error
 * frame (its text, NUL-terminated and truncated to err_cap, in err), -EPROTO
 * for any other frame type or length, -EBADMSG when it does not authenticate.
 * For an error frame it waits only for min(text length, err_cap − 1) text
 * bytes. Every error kills c; -EPIPE once dead.
 */
int controlbase_client_finish(struct controlbase *c, const uint8_t *buf, size_t len, char *err,
                              size_t err_cap);

/*
 * Server: parse a complete 101-byte initiation (accepting only versions
 * ≥ min_version; -EPROTONOSUPPORT otherwise), learn the client's machine key
 * (c->peer_static), and write the 51-byte response (returns 51). e_priv NULL =
 * random. -EPROTO when len ≠ 101 or the type/length fields are wrong,
 * -EBADMSG when it does not authenticate. Initialises c; on failure c is dead.
 */
int controlbase_server_accept(struct controlbase *c,
                              const uint8_t server_priv[static NOISE_KEY_LEN], uint16_t min_version,
                              const uint8_t *initiation, size_t len, const uint8_t *e_priv,
                              uint8_t out[static CONTROLBASE_RESPONSE_LEN]);
/*
 * Server: an error frame (before the response) with text (truncated to 65535
 * bytes); returns its length, or -ENOBUFS when out_cap is too small.
 */
int controlbase_error_frame(const char *text, uint8_t *out, size_t out_cap);

/*
 * Seal len plaintext bytes into as many records as needed (each ≤ 4096
 * bytes) written to out (not overlapping plaintext); len 0 writes one empty
 * record. Returns the bytes written, -ENOBUFS when out is too small
 * (controlbase_sealed_size tells), -EMSGSIZE when the result would not fit an
 * int, -ENOTCONN before the handshake, -EPIPE when dead, -EOVERFLOW when a
 * nonce would reach 2^64 − 1 (the connection is then dead; nothing is written).
 */
int controlbase_write(struct controlbase *c, const uint8_t *plaintext, size_t len, uint8_t *out,
                      size_t out_cap);
size_t controlbase_sealed_size(size_t plaintext_len);

/*
 * Incremental reader: consume up to len bytes of the stream; when a complete
 * record authenticates (*record_done true), its plaintext is written to out
 * (which must hold CONTROLBASE_MAX_PLAINTEXT bytes) and *out_len set. At most
 * one record per call. Returns bytes consumed (≥ 0; *out_len 0 when no record
 * was completed), -EPROTO for a bad frame (wrong type, length over the maximum
 * or under the tag), -EBADMSG for a failed tag, -EOVERFLOW when the receive
 * nonce is exhausted, -ENOTCONN before the handshake, -EPIPE when dead. Errors
 * kill the connection. Empty records are legal: they complete with *out_len 0.
 */
int controlbase_read(struct controlbase *c, const uint8_t *buf, size_t len, uint8_t *out,
                     size_t *out_len, bool *record_done);

/* Wipes keys and state. */
void controlbase_wipe(struct controlbase *c);
