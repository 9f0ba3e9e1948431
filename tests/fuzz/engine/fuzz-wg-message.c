/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for everything a WireGuard device parses from the network:
 *   first byte & 3 == 0: the rest is a raw datagram from an unknown address
 *     to a configured device (classification, MACs, index lookups);
 *   == 2: the same, but a handshake-sized message gets a valid mac1 first, so
 *     the Noise parsing, timestamp and flood checks see arbitrary bytes;
 *   odd: the rest is the plaintext of a data packet sent over an
 *     established session, so the post-decryption checks (IP header lengths,
 *     crypto-key routing) see arbitrary inner packets.
 *   Bit 2 of the first byte puts the receiver under load (cookie replies,
 *   mac2, the rate limiter).
 * Time is fixed; the session is made once.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "fuzz-harness.h"
#include "wg/device.h"

#define NOW (1000ULL * 1000000000ULL)

static struct wg_device *dev_a, *dev_b;
static struct wg_cookie_maker maker_to_a; /* computes mac1 for messages to A */
static uint8_t wire[4096];
static size_t wire_len;
static struct wg_endpoint ep_a, ep_b, ep_evil;

static void
capture(void *ctx, const uint8_t *data, size_t len, const struct wg_endpoint *to,
        const uint8_t *peer_key)
{
    (void)ctx;
    (void)to;
    (void)peer_key;
    if (len <= sizeof(wire)) {
        memcpy(wire, data, len);
        wire_len = len;
    }
}

static void
endpoint(struct wg_endpoint *e, const char *ip, uint16_t port)
{
    memset(e, 0, sizeof(*e));
    e->addr.in4.sin_family = AF_INET;
    e->addr.in4.sin_port = htons(port);
    inet_pton(AF_INET, ip, &e->addr.in4.sin_addr);
}

/* FUZZ_WG_SEED_DIR=dir: write the handshake messages of setup() as seeds. */
static void
dump_seed(const char *name)
{
    fuzz_write_seed("FUZZ_WG_SEED_DIR", name, 0, NULL, 0, wire, wire_len);
}

static void
rx(struct wg_device *dev, const uint8_t *data, size_t len, const struct wg_endpoint *from)
{
    uint8_t buf[4096];
    struct wg_rx_packet p = { .data = buf, .len = len, .from = *from };

    memcpy(buf, data, len);
    wg_device_rx_batch(dev, &p, 1, NOW);
}

static void
setup(void)
{
    uint8_t ka[32], kb[32], pa[32], pb[32], addr[4];
    struct wg_peer *p;

    /* Fixed keys keep runs reproducible. */
    memset(ka, 0x11, sizeof(ka));
    memset(kb, 0x22, sizeof(kb));
    key_clamp(ka);
    key_clamp(kb);
    key_public_from_private(pa, ka);
    key_public_from_private(pb, kb);
    wg_cookie_maker_init(&maker_to_a, pa);
    endpoint(&ep_a, "192.0.2.1", 1);
    endpoint(&ep_b, "192.0.2.2", 2);
    endpoint(&ep_evil, "198.51.100.1", 3);
    dev_a = wg_device_new(capture, NULL, NULL);
    dev_b = wg_device_new(capture, NULL, NULL);

    wg_device_lock(dev_a);
    wg_device_set_private_key(dev_a, ka, NOW);
    p = wg_device_add_peer(dev_a, pb);
    wg_peer_set_endpoint(p, &ep_b.addr);
    inet_pton(AF_INET, "10.0.0.0", addr);
    wg_peer_add_allowed_ip(p, AF_INET, addr, 24);
    wg_device_set_up(dev_a, true, NOW);
    wg_device_unlock(dev_a);

    wg_device_lock(dev_b);
    wg_device_set_private_key(dev_b, kb, NOW);
    p = wg_device_add_peer(dev_b, pa);
    wg_peer_set_endpoint(p, &ep_a.addr);
    inet_pton(AF_INET, "0.0.0.0", addr);
    wg_peer_add_allowed_ip(p, AF_INET, addr, 0);
    wg_device_set_up(dev_b, true, NOW);
    /* B initiates; A answers; B confirms with a keepalive. */
    wg_device_send_keepalive(p, NOW);
    wg_device_unlock(dev_b);
    dump_seed("initiation");
    rx(dev_a, wire, wire_len, &ep_b); /* initiation → response */
    dump_seed("response");
    rx(dev_b, wire, wire_len, &ep_a); /* response → keepalive */
    dump_seed("keepalive");
    rx(dev_a, wire, wire_len, &ep_b); /* keepalive confirms A's keypair */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dev_a)
        setup();
    if (size < 1 || size > 2000)
        return 0;
    dev_a->force_under_load = (data[0] & 4) != 0;
    if ((data[0] & 3) == 0) {
        rx(dev_a, data + 1, size - 1, &ep_evil);
        return 0;
    }
    if ((data[0] & 3) == 2) {
        uint8_t msg[2000];
        size_t len = size - 1;

        memcpy(msg, data + 1, len);
        if (len == sizeof(struct wg_message_handshake_initiation) ||
            len == sizeof(struct wg_message_handshake_response)) {
            msg[0] = len == sizeof(struct wg_message_handshake_initiation) ? 1 : 2;
            msg[1] = msg[2] = msg[3] = 0;
            wg_cookie_add_macs(&maker_to_a, msg, len, NOW);
        }
        rx(dev_a, msg, len, &ep_evil);
        return 0;
    }
    {
        uint8_t buf[4096];
        struct wg_tx_packet p = { .buf = buf, .cap = sizeof(buf), .len = size - 1 };

        /* B routes everything to A; pick the route with a fixed IPv4 header shape. */
        memcpy(buf + WG_TX_HEADROOM, data + 1, size - 1);
        if (size - 1 >= 20) {
            buf[WG_TX_HEADROOM] = (uint8_t)((buf[WG_TX_HEADROOM] & 0x0f) | 0x40);
        } else {
            return 0;
        }
        wg_device_tx_batch(dev_b, &p, 1, NOW);
        if (p.status == WG_TX_SEND)
            rx(dev_a, buf, p.out_len, &ep_b);
    }
    return 0;
}
