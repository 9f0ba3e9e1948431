/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TUN offload packet surgery (virtio_net_hdr): splitting super-packets read
 * from the TUN into MTU-sized IP packets, and coalescing decrypted TCP/UDP
 * segments into super-packets before writing them (GRO). Pure functions over
 * buffers: no I/O, no allocation per packet. Every length is bounds-checked.
 * Facts: drivers/net/tun.c, virtio_net.h; wireguard-go tun/offload_linux.go (behaviour only).
 */

/* include/uapi/linux/virtio_net.h, host byte order. */
struct virtio_net_hdr_v1 {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};
_Static_assert(sizeof(struct virtio_net_hdr_v1) == 10, "virtio_net_hdr is 10 bytes");

enum {
    VNET_HDR_F_NEEDS_CSUM = 1,
    VNET_HDR_F_DATA_VALID = 2,
    VNET_HDR_GSO_NONE = 0,
    VNET_HDR_GSO_TCPV4 = 1,
    VNET_HDR_GSO_TCPV6 = 4,
    VNET_HDR_GSO_UDP_L4 = 5,
    VNET_HDR_GSO_ECN = 0x80,
};

struct pkt_slot {
    uint8_t *data; /* where the packet goes / is */
    size_t len;
};

/*
 * Split one TUN read (vnet header + packet, as read) into IP packets with
 * complete checksums, writing segment i to slots[i].data (capacity slot_cap
 * each) and setting slots[i].len. A GSO_NONE packet with NEEDS_CSUM gets its
 * checksum finished. Returns the number of packets (≥1), or negative errno:
 * -EINVAL for a malformed header/packet, -EMSGSIZE when a packet does not fit
 * slot_cap, -E2BIG when more than n_slots segments would be needed (the first
 * n_slots are still written). hdr_len and csum_offset are ignored for GSO
 * packets (recomputed from the packet); csum_start must match the IP header.
 */
int offload_split(const uint8_t *read_buf, size_t read_len, struct pkt_slot *slots, size_t n_slots,
                  size_t slot_cap);

/*
 * GRO: coalesce a run of plaintext IP packets into as few TUN writes as
 * possible. Callers: offload_gro_reset, offload_gro_add for each packet (the
 * packet is copied), then offload_gro_flush with a write callback receiving
 * (vnet header + packet) buffers ready for write(2). Non-coalescable packets
 * pass through with a zeroed vnet header. tcp/udp: which coalescing the TUN
 * allows (TSO resp. USO accepted).
 */
enum {
    OFFLOAD_GRO_MAX_OUT = 64, /* output super-packets per flush */
    OFFLOAD_GRO_BUF = 65535 + 16,
};

struct offload_gro; /* opaque, preallocated; see offload.c */

struct offload_gro *offload_gro_new(bool tcp, bool udp);
void offload_gro_free(struct offload_gro *g);
/* Reset, and give the buffers' pages back to the kernel while idle. */
void offload_gro_trim(struct offload_gro *g);
/*
 * Skip verifying inner L4 checksums before merging. For packets that arrived
 * authenticated by a WireGuard peer allowed to send them (the kernel's
 * WireGuard marks them CHECKSUM_UNNECESSARY after Poly1305 for the same
 * reason): a peer able to send a bad checksum could as well send good ones.
 */
void offload_gro_trust_checksums(struct offload_gro *g, bool trust);
void offload_gro_reset(struct offload_gro *g);
/*
 * Returns 0, -EINVAL for a packet that is not IP, -EMSGSIZE for one over 65535
 * bytes, or -ENOBUFS when full (flush, then add the same packet again).
 * Packets of one connection are written in the order they were added.
 */
int offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len);
/*
 * write_fn returns 0 or negative errno; flush returns the first error, after
 * trying all, and resets G. buf points into G and is valid only during the call.
 */
int offload_gro_flush(struct offload_gro *g,
                      int (*write_fn)(void *ctx, const uint8_t *buf, size_t len), void *ctx);

/*
 * RFC 1071 ones'-complement sum helpers (fast 64-bit accumulation).
 * offload_csum_partial adds DATA, read as big-endian 16-bit words, to SUM and
 * returns an unfolded sum (chain calls at even offsets only). offload_csum_fold
 * folds to 16 bits and inverts: the value for a checksum field, host order
 * (write it big-endian); a buffer that includes a correct checksum folds to 0.
 */
uint32_t offload_csum_partial(const uint8_t *data, size_t len, uint32_t sum);
uint16_t offload_csum_fold(uint32_t sum);
