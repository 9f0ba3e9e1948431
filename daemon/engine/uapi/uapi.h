/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/endpoint.h"

/*
 * The cross-platform userspace API (https://www.wireguard.com/xplatform/) that
 * wg(8) and wireguard-go speak over /var/run/wireguard/IFNAME.sock.
 * A set=1 request is parsed completely into a struct uapi_set before anything
 * is applied, so bad input changes nothing.
 */
enum {
    UAPI_MAX_REQUEST = 16 << 20, /* bytes in one set=1 request */
    UAPI_MAX_LINE = 1024,        /* bytes in one key=value line, without '\n' */
};

struct uapi_allowed_ip {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t cidr;
    uint8_t addr[16]; /* network byte order, host bits as given */
};

struct uapi_peer_set {
    uint8_t public_key[32];
    bool remove;
    bool update_only;
    bool has_preshared_key;
    uint8_t preshared_key[32]; /* all zero: no PSK */
    bool has_endpoint;
    union wg_sockaddr endpoint;
    bool has_keepalive;
    uint16_t keepalive_interval; /* seconds; 0 = off */
    bool replace_allowed_ips;
    size_t n_allowed_ips;
    struct uapi_allowed_ip *allowed_ips;
};

struct uapi_set {
    bool has_private_key;
    uint8_t private_key[32]; /* all zero: remove the private key */
    bool has_listen_port;
    uint16_t listen_port;
    bool has_fwmark;
    uint32_t fwmark;
    bool replace_peers;
    size_t n_peers;
    struct uapi_peer_set *peers;
};

struct uapi_peer_state {
    uint8_t public_key[32];
    uint8_t preshared_key[32];
    bool has_endpoint;
    union wg_sockaddr endpoint;
    int64_t last_handshake_sec;
    int64_t last_handshake_nsec;
    uint64_t rx_bytes;
    uint64_t tx_bytes;
    uint16_t keepalive_interval;
    size_t n_allowed_ips;
    struct uapi_allowed_ip *allowed_ips;
};

struct uapi_device_state {
    bool has_private_key;
    uint8_t private_key[32];
    uint16_t listen_port;
    uint32_t fwmark;
    size_t n_peers;
    struct uapi_peer_state *peers;
};

/*
 * Parse the body of a set=1 request (the lines after "set=1\n", up to but not
 * including the terminating empty line). Returns 0 or a negative errno, the
 * codes wireguard-go answers: -EPROTO for a line without '=' (or an empty
 * line), -EINVAL for an unknown or misplaced key, a bad value or
 * protocol_version != 1, NUL bytes or a line over UAPI_MAX_LINE; -EMSGSIZE
 * over UAPI_MAX_REQUEST; -ENOMEM. On error *out is NULL.
 * A non-zero private_key comes back clamped (as wireguard-go stores it).
 */
int uapi_parse_set(const char *body, size_t len, struct uapi_set **out);
/* Wipes keys, frees everything; NULL is fine. */
void uapi_set_free(struct uapi_set *set);

/*
 * Format a get=1 reply body in wireguard-go's order, without the trailing
 * "errno=0\n\n". Returns a malloc'd NUL-terminated string (caller frees with
 * uapi_free_text, which wipes it: it holds the private key) or NULL.
 */
char *uapi_format_get(const struct uapi_device_state *state, size_t *len_out);
void uapi_free_text(char *text, size_t len);
/* Frees the arrays inside a state the caller filled with malloc. */
void uapi_device_state_clear(struct uapi_device_state *state);

/* The device side, implemented by whoever runs the engine. */
struct uapi_ops {
    /* Fill *out (malloc'd arrays); return 0 or negative errno. */
    int (*get)(void *ctx, struct uapi_device_state *out);
    /* Apply atomically; return 0 or negative errno (nothing changed on error). */
    int (*set)(void *ctx, const struct uapi_set *set);
};

/*
 * Create /var/run/wireguard (0755) and listen on IFNAME.sock (0600, umask 077),
 * replacing a stale socket. Returns the listening fd or negative errno.
 * dir: NULL for /var/run/wireguard (tests pass their own).
 */
int uapi_listen(const char *dir, const char *ifname);
/* Remove the socket file. */
void uapi_unlink(const char *dir, const char *ifname);

/*
 * Serve one accepted connection until EOF: any number of get=1/set=1 requests,
 * each answered with "errno=N\n\n", N = 0 or a negative errno exactly as
 * wireguard-go prints it ("errno=-22"); wg(8) reads the sign. Blocking; the
 * caller runs it on a control thread. Never trusts a length; bounded by
 * UAPI_MAX_REQUEST (then errno=-EMSGSIZE is sent and the connection closed).
 * A set=1 cut short by EOF applies nothing. Returns 0 at EOF, -EPROTO on
 * malformed framing (unknown operation: closed without a reply, as
 * wireguard-go does), -EMSGSIZE, or another negative errno on I/O error.
 * Never raises SIGPIPE (MSG_NOSIGNAL). The caller closes client_fd.
 */
int uapi_serve(int client_fd, const struct uapi_ops *ops, void *ctx);
