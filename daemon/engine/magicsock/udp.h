/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/endpoint.h"

/*
 * The outer UDP sockets, one IPv4 and one IPv6 (V6ONLY), built for batches:
 * recvmmsg with UDP_GRO (super-datagrams split by pointer, no copy), sendmmsg
 * with UDP_SEGMENT (runs of equal-size datagrams to one endpoint sent as one
 * GSO message of up to 64 segments, chained as iovecs), 7 MiB buffers
 * (SO_*BUFFORCE), sticky source addresses through IP_PKTINFO/IPV6_PKTINFO.
 * GSO falls back to plain sendmmsg on EIO, permanently per family.
 * Facts: udp(7); wireguard-go conn/bind_std.go, conn/errors_linux.go.
 */
enum {
    UDP_BATCH = 128, /* datagrams per recv/send batch */
    UDP_GSO_MAX_SEGMENTS = 64,
    UDP_RX_BUF = 65536, /* one GRO super-datagram */
    UDP_RX_BUFS = 16,   /* super-datagram buffers per recv batch */
    UDP_SOCKET_BUFFER = 7 << 20,
};

struct udp_socket {
    int fd4, fd6;  /* -1 when that family is unavailable */
    uint16_t port; /* bound port, host order */
    uint32_t fwmark;
    bool gso4, gso6; /* UDP_SEGMENT usable */
    bool gro4, gro6; /* UDP_GRO enabled */
};

/* A received datagram: data points into the batch's buffers. */
struct udp_datagram {
    uint8_t *data;
    size_t len;
    struct wg_endpoint from; /* peer address + our local address (sticky source) */
};

struct udp_rx_batch; /* opaque, preallocated buffers */
struct udp_rx_batch *udp_rx_batch_new(void);
void udp_rx_batch_free(struct udp_rx_batch *b);
/*
 * Datagrams of the last read not yet returned: call udp_recv_batch again
 * before waiting for the socket, which may not become readable again.
 */
bool udp_rx_batch_pending(const struct udp_rx_batch *b);
/* Release the buffers' pages while idle (kept when datagrams are pending). */
void udp_rx_batch_trim(struct udp_rx_batch *b);

/* port 0 = random. Binds both families where possible. */
int udp_open(struct udp_socket *s, uint16_t port, uint32_t fwmark);
void udp_close(struct udp_socket *s);
int udp_set_fwmark(struct udp_socket *s, uint32_t fwmark);

/*
 * Block on fd (one of s->fd4/fd6) and receive one batch. On success returns the
 * number of datagrams (≤ UDP_BATCH) in *out, valid until the next call.
 * Returns negative errno (-EAGAIN when nonblocking and nothing is there).
 * Never returns 0: truncated datagrams (larger than a 64 KiB GRO slot or a
 * 16 KiB plain slot) are dropped and the read repeated. When one recvmmsg
 * yields more than UDP_BATCH datagrams (GRO), the rest is returned by the next
 * call without reading, even if that call passes the other fd: each datagram
 * carries its own from.
 */
int udp_recv_batch(struct udp_socket *s, int fd, struct udp_rx_batch *b, struct udp_datagram **out);
/* The same, but never blocks: -EAGAIN when nothing is queued (MSG_DONTWAIT). */
int udp_try_recv_batch(struct udp_socket *s, int fd, struct udp_rx_batch *b,
                       struct udp_datagram **out);

/* A datagram to send; data is not modified. */
struct udp_tx {
    const uint8_t *data;
    size_t len;
    const struct wg_endpoint *to;
};

/*
 * Send n datagrams in order. Consecutive datagrams to the same endpoint with
 * the same length (the last of a run may be shorter) go out as one GSO
 * message. Order is kept per family socket (so per endpoint), not across the
 * two families. A datagram that cannot be sent (no socket for its family, a
 * hard error) is dropped and the rest still go out. Blocks while the send
 * buffer is full. Returns the number sent, or negative errno (the first
 * failure) if none was.
 */
int udp_send_batch(struct udp_socket *s, const struct udp_tx *msgs, size_t n);
