/* SPDX-License-Identifier: MIT */
/*
 * Two WireGuard engines in one process, wired back to back through an
 * in-memory "network", with a fake clock: every timer is driven by moving
 * `now` forward, nothing sleeps.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <sodium.h>
#include <string.h>

#include "crypto/keys.h"
#include "handshake-order.h"
#include "wg/device.h"
#include "wg/handshake.h"
#include "wg/messages.h"

#define MAX_WIRE 256

struct datagram {
    uint8_t data[2048];
    size_t len;
    struct wg_endpoint from, to;
    bool has_peer_key; /* the send callback named a peer */
    uint8_t peer_key[32];
};

struct node {
    struct wg_device *dev;
    struct wg_endpoint addr; /* where it "listens" */
    struct wg_peer *peer;    /* its one peer */
    uint8_t priv[32], pub[32];
    /* Plaintext packets it delivered to its TUN. */
    GPtrArray *tun;
};

struct net {
    struct node a, b;
    struct datagram wire[MAX_WIRE];
    size_t n_wire;
    uint64_t now;
};

static struct net *current_net;

static void
node_send(void *ctx, const uint8_t *data, size_t len, const struct wg_endpoint *to,
          const uint8_t *peer_key)
{
    struct node *n = ctx;
    struct datagram *d;

    g_assert_cmpuint(current_net->n_wire, <, MAX_WIRE);
    g_assert_cmpuint(len, <=, sizeof(d->data));
    d = &current_net->wire[current_net->n_wire++];
    memcpy(d->data, data, len);
    d->len = len;
    d->from = n->addr;
    d->to = *to;
    d->has_peer_key = peer_key != NULL;
    if (peer_key)
        memcpy(d->peer_key, peer_key, sizeof(d->peer_key));
}

static void
make_endpoint(struct wg_endpoint *e, const char *ip, uint16_t port)
{
    memset(e, 0, sizeof(*e));
    e->addr.in4.sin_family = AF_INET;
    e->addr.in4.sin_port = htons(port);
    inet_pton(AF_INET, ip, &e->addr.in4.sin_addr);
}

static void
node_init(struct node *n, const char *ip, uint16_t port)
{
    n->dev = wg_device_new(node_send, NULL, n);
    g_assert_nonnull(n->dev);
    key_generate_private(n->priv);
    g_assert_true(key_public_from_private(n->pub, n->priv));
    make_endpoint(&n->addr, ip, port);
    n->tun = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

static void
add_peer(struct node *self, const struct node *other, const char *allowed, uint64_t now)
{
    uint8_t addr[4];

    wg_device_lock(self->dev);
    wg_device_set_private_key(self->dev, self->priv, now);
    self->peer = wg_device_add_peer(self->dev, other->pub);
    g_assert_nonnull(self->peer);
    wg_peer_set_endpoint(self->peer, &other->addr.addr);
    inet_pton(AF_INET, allowed, addr);
    g_assert_cmpint(wg_peer_add_allowed_ip(self->peer, AF_INET, addr, 32), ==, 0);
    wg_device_set_up(self->dev, true, now);
    wg_device_unlock(self->dev);
}

static struct net *
net_new(void)
{
    struct net *net = g_new0(struct net, 1);

    current_net = net;
    net->now = 1000 * WG_NS(1);
    node_init(&net->a, "192.0.2.1", 51820);
    node_init(&net->b, "192.0.2.2", 51821);
    add_peer(&net->a, &net->b, "10.0.0.2", net->now);
    add_peer(&net->b, &net->a, "10.0.0.1", net->now);
    return net;
}

static void
net_free(struct net *net)
{
    wg_device_free(net->a.dev);
    wg_device_free(net->b.dev);
    g_ptr_array_unref(net->a.tun);
    g_ptr_array_unref(net->b.tun);
    g_free(net);
    current_net = NULL;
}

/* A DERP endpoint as Tailscale mode names one: a node key through a region. */
static void
make_derp_endpoint(struct wg_endpoint *e, uint16_t region, const uint8_t key[32])
{
    memset(e, 0, sizeof(*e));
    e->addr.in4.sin_family = AF_INET;
    e->addr.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
    e->addr.in4.sin_port = htons(region);
    e->derp_region = region;
    memcpy(e->derp_key, key, 32);
}

static struct node *
node_at(struct net *net, const struct wg_endpoint *to)
{
    if (wg_endpoint_is_derp(to))
        return memcmp(to->derp_key, net->a.pub, 32) == 0   ? &net->a
               : memcmp(to->derp_key, net->b.pub, 32) == 0 ? &net->b
                                                           : NULL;
    if (wg_sockaddr_equal(&to->addr, &net->a.addr.addr))
        return &net->a;
    if (wg_sockaddr_equal(&to->addr, &net->b.addr.addr))
        return &net->b;
    return NULL;
}

/* Receive one datagram as if it came from `from`. Returns the RX status. */
static enum wg_rx_status
inject(struct node *n, const uint8_t *data, size_t len, const struct wg_endpoint *from,
       uint64_t now)
{
    uint8_t buf[2048];
    struct wg_rx_packet p = { .data = buf, .len = len, .from = *from };

    g_assert_cmpuint(len, <=, sizeof(buf));
    memcpy(buf, data, len);
    wg_device_rx_batch(n->dev, &p, 1, now);
    if (p.status == WG_RX_DATA)
        g_ptr_array_add(n->tun, g_bytes_new(buf + p.plain_off, p.plain_len));
    return p.status;
}

/* Deliver the first datagram on the wire; what it provokes joins the wire. */
static void
deliver_one(struct net *net)
{
    struct datagram d = net->wire[0];
    struct node *to;

    memmove(&net->wire[0], &net->wire[1], sizeof(net->wire[0]) * (net->n_wire - 1));
    net->n_wire--;
    to = node_at(net, &d.to);
    /* Through a relay, the datagram comes from the sender's key there. */
    if (to && wg_endpoint_is_derp(&d.to))
        make_derp_endpoint(&d.from, d.to.derp_region, to == &net->a ? net->b.pub : net->a.pub);
    if (to)
        inject(to, d.data, d.len, &d.from, net->now);
}

/* Deliver everything on the wire (and what that provokes) until it is quiet. */
static size_t
deliver_all(struct net *net)
{
    size_t delivered = 0;

    for (; net->n_wire; delivered++)
        deliver_one(net);
    return delivered;
}

static size_t
make_ipv4(uint8_t *pkt, const char *src, const char *dst, size_t payload_len, uint8_t fill)
{
    size_t len = 20 + payload_len;

    memset(pkt, 0, 20);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(len >> 8);
    pkt[3] = (uint8_t)len;
    pkt[8] = 64;
    pkt[9] = 17;
    inet_pton(AF_INET, src, pkt + 12);
    inet_pton(AF_INET, dst, pkt + 16);
    memset(pkt + 20, fill, payload_len);
    return len;
}

/* Send one plaintext packet from n; sealed datagrams go onto the wire. */
static enum wg_tx_status
send_packet(struct net *net, struct node *n, const char *src, const char *dst, size_t payload,
            uint8_t fill)
{
    uint8_t buf[2048];
    struct wg_tx_packet p = { .buf = buf, .cap = sizeof(buf) };

    p.len = make_ipv4(buf + WG_TX_HEADROOM, src, dst, payload, fill);
    wg_device_tx_batch(n->dev, &p, 1, net->now);
    if (p.status == WG_TX_SEND)
        node_send(n, buf, p.out_len, &p.to, n->peer->public_key);
    return p.status;
}

static uint8_t
first_type(struct net *net)
{
    g_assert_cmpuint(net->n_wire, >, 0);
    return net->wire[0].data[0];
}

static void
tick_both(struct net *net)
{
    wg_device_lock(net->a.dev);
    wg_device_tick(net->a.dev, net->now);
    wg_device_unlock(net->a.dev);
    wg_device_lock(net->b.dev);
    wg_device_tick(net->b.dev, net->now);
    wg_device_unlock(net->b.dev);
}

static void
establish(struct net *net)
{
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 0xaa), ==, WG_TX_STAGED);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
}

static void
test_handshake_and_data(void)
{
    struct net *net = net_new();
    GBytes *got;

    establish(net);
    got = g_ptr_array_index(net->b.tun, 0);
    g_assert_cmpuint(g_bytes_get_size(got), ==, 120);
    g_assert_cmpuint(((const uint8_t *)g_bytes_get_data(got, NULL))[50], ==, 0xaa);
    /* B answers on the confirmed session without another handshake. */
    g_assert_cmpint(send_packet(net, &net->b, "10.0.0.2", "10.0.0.1", 1000, 0xbb), ==, WG_TX_SEND);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_DATA);
    /* 1020-byte packet padded to 1024, plus 32 bytes of overhead. */
    g_assert_cmpuint(net->wire[0].len, ==, 1024 + 32);
    deliver_all(net);
    g_assert_cmpuint(net->a.tun->len, ==, 1);
    g_assert_cmpuint(net->a.peer->last_handshake_realtime_ns, !=, 0);
    g_assert_cmpuint(net->a.peer->tx_bytes, >, 0);
    /* Counters agree: every authenticated datagram A sent, B received. */
    g_assert_cmpuint(net->a.peer->tx_bytes, ==, net->b.peer->rx_bytes);
    g_assert_cmpuint(net->b.peer->tx_bytes, ==, net->a.peer->rx_bytes);
    net_free(net);
}

static void
test_no_route_and_junk(void)
{
    struct net *net = net_new();
    uint8_t junk[200];
    struct wg_endpoint evil;

    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.9.9.9", 10, 0), ==, WG_TX_NO_ROUTE);
    g_assert_cmpuint(net->n_wire, ==, 0);
    establish(net);
    make_endpoint(&evil, "198.51.100.7", 4444);
    for (size_t len = 0; len < sizeof(junk); len++) {
        randombytes_buf(junk, len);
        if (len >= 4) {
            /* Every message type, with random contents. */
            junk[0] = (uint8_t)(len % 5);
            junk[1] = junk[2] = junk[3] = 0;
        }
        g_assert_cmpint(inject(&net->b, junk, len, &evil, net->now), ==, WG_RX_DROP);
    }
    g_assert_cmpuint(net->n_wire, ==, 0); /* silence to the unauthenticated */
    g_assert_true(wg_sockaddr_equal(&net->b.peer->endpoint.addr, &net->a.addr.addr));
    net_free(net);
}

static void
test_replay(void)
{
    struct net *net = net_new();
    struct datagram d;

    establish(net);
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 64, 1), ==, WG_TX_SEND);
    d = net->wire[0];
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 2);
    g_assert_cmpint(inject(&net->b, d.data, d.len, &d.from, net->now), ==, WG_RX_DROP);
    g_assert_cmpuint(net->b.tun->len, ==, 2);
    /* A tampered copy fails authentication. */
    d.data[40] ^= 1;
    g_assert_cmpint(inject(&net->b, d.data, d.len, &d.from, net->now), ==, WG_RX_DROP);
    net_free(net);
}

static void
test_initiation_replay(void)
{
    struct net *net = net_new();
    struct datagram init;

    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_STAGED);
    init = net->wire[0];
    deliver_all(net);
    net->now += WG_NS(1);
    /* The same initiation again: its timestamp is not newer, so no response. */
    g_assert_cmpint(inject(&net->b, init.data, init.len, &init.from, net->now), ==, WG_RX_DROP);
    g_assert_cmpuint(net->n_wire, ==, 0);
    net_free(net);
}

static void
test_rekey_after_time(void)
{
    struct net *net = net_new();
    struct wg_keypair *first;

    establish(net);
    first = net->a.peer->kp_current;
    net->now += WG_REKEY_AFTER_TIME + WG_NS(1);
    /* Still sends on the old key, and starts a new handshake alongside. */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_SEND);
    g_assert_cmpuint(net->n_wire, ==, 2);
    g_assert_cmpuint(net->wire[0].data[0], ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    deliver_all(net);
    g_assert_true(net->a.peer->kp_current != first);
    g_assert_true(net->a.peer->kp_previous == first);
    net_free(net);
}

static void
test_reject_after_time(void)
{
    struct net *net = net_new();

    establish(net);
    net->now += WG_REJECT_AFTER_TIME + WG_NS(1);
    /* The old session is dead: the packet waits for a new handshake. */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_STAGED);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 2);
    net_free(net);
}

static void
test_retransmit_and_give_up(void)
{
    struct net *net = net_new();
    unsigned int initiations = 0;

    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_STAGED);
    /* B never answers: A retries every REKEY_TIMEOUT (+ jitter) for 90 s, then stops. */
    for (int i = 0; i < 200; i++) {
        initiations += (unsigned int)net->n_wire;
        net->n_wire = 0;
        net->now += WG_NS(1);
        tick_both(net);
    }
    /* The first, then retries while attempts ≤ MAX_TIMER_HANDSHAKES (kernel timers.c
     * and wireguard-go timers.go both test "attempts > max" before counting). */
    g_assert_cmpuint(initiations, ==, 2 + WG_MAX_TIMER_HANDSHAKES);
    g_assert_cmpuint(net->a.peer->n_staged, ==, 0);
    net_free(net);
}

static void
test_keepalive_and_zero_keys(void)
{
    struct net *net = net_new();

    establish(net);
    /* B got data and sent nothing back: after KEEPALIVE_TIMEOUT it sends a keepalive. */
    net->now += WG_KEEPALIVE_TIMEOUT + WG_NS(1);
    tick_both(net);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_DATA);
    g_assert_cmpuint(net->wire[0].len, ==, 32);
    g_assert_true(net->wire[0].to.addr.in4.sin_port == htons(51820));
    deliver_all(net);
    /* 540 s after the session, every key is gone on both sides. */
    for (int i = 0; i < 60; i++) {
        net->now += WG_NS(10);
        tick_both(net);
        net->n_wire = 0;
    }
    g_assert_null(net->a.peer->kp_current);
    g_assert_null(net->a.peer->kp_previous);
    g_assert_null(net->b.peer->kp_current);
    net_free(net);
}

static void
test_cookie_under_load(void)
{
    struct net *net = net_new();

    net->b.dev->force_under_load = true;
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_STAGED);
    deliver_all(net); /* B answers with a cookie reply, which A consumes */
    g_assert_true(net->a.peer->cookie_maker.cookie_valid);
    g_assert_cmpuint(net->b.tun->len, ==, 0);
    /* The retry carries mac2 and goes through. */
    net->now += WG_REKEY_TIMEOUT + WG_REKEY_TIMEOUT_JITTER;
    tick_both(net);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
    net_free(net);
}

/* A fresh initiation from A to B with A's current cookie (mac2), as bytes. */
static struct datagram
fresh_initiation(struct net *net)
{
    struct datagram d = { .from = net->a.addr, .to = net->b.addr };
    struct wg_message_handshake_initiation msg;

    wg_device_lock(net->a.dev);
    g_assert_true(wg_handshake_create_initiation(net->a.dev, net->a.peer, &msg, net->now));
    wg_cookie_add_macs(&net->a.peer->cookie_maker, (uint8_t *)&msg, sizeof(msg), net->now);
    wg_device_unlock(net->a.dev);
    memcpy(d.data, &msg, sizeof(msg));
    d.len = sizeof(msg);
    return d;
}

static unsigned int
count_type(struct net *net, uint8_t type)
{
    unsigned int n = 0;

    for (size_t i = 0; i < net->n_wire; i++)
        n += net->wire[i].data[0] == type;
    return n;
}

static void
test_ratelimit_under_load(void)
{
    struct net *net = net_new();
    struct wg_endpoint other_port = net->a.addr;
    unsigned int responses;
    struct datagram d;

    net->b.dev->force_under_load = true;
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_STAGED);
    deliver_all(net);
    g_assert_true(net->a.peer->cookie_maker.cookie_valid);

    /* mac2 binds the cookie to A's address and port: from another port it is
     * not valid, and B answers with a new cookie instead of a response. */
    other_port.addr.in4.sin_port = htons(40001);
    d = fresh_initiation(net);
    net->n_wire = 0;
    g_assert_cmpint(inject(&net->b, d.data, d.len, &other_port, net->now), ==, WG_RX_DROP);
    g_assert_cmpuint(count_type(net, WG_MESSAGE_HANDSHAKE_COOKIE), ==, 1);
    g_assert_cmpuint(count_type(net, WG_MESSAGE_HANDSHAKE_RESPONSE), ==, 0);

    /* 40 valid initiations a second from one source: the limiter lets the
     * burst of 5 through, then 20 a second. (Each is 25 ms after the last,
     * past the per-peer limit of 50 a second.) */
    net->n_wire = 0;
    for (int i = 0; i < 40; i++) {
        net->now += 25 * 1000000ULL;
        d = fresh_initiation(net);
        inject(&net->b, d.data, d.len, &net->a.addr, net->now);
    }
    responses = count_type(net, WG_MESSAGE_HANDSHAKE_RESPONSE);
    g_assert_cmpuint(responses, >=, 5 + 18);
    g_assert_cmpuint(responses, <=, 5 + 21);
    g_assert_cmpuint(count_type(net, WG_MESSAGE_HANDSHAKE_COOKIE), ==, 0);
    net_free(net);
}

/* A's data reaches B from `from` (B takes it); B answers: where to? */
static const union wg_sockaddr *
data_from_then_answer(struct net *net, const struct wg_endpoint *from)
{
    net->n_wire = 0;
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_SEND);
    g_assert_cmpint(inject(&net->b, net->wire[0].data, net->wire[0].len, from, net->now), ==,
                    WG_RX_DATA);
    net->n_wire = 0;
    g_assert_cmpint(send_packet(net, &net->b, "10.0.0.2", "10.0.0.1", 10, 0), ==, WG_TX_SEND);
    return &net->wire[0].to.addr;
}

static void
test_roaming(void)
{
    struct net *net = net_new();
    struct wg_endpoint moved;

    establish(net);
    make_endpoint(&moved, "203.0.113.9", 40000);
    /* A's data arrives from a new address: B follows it. */
    g_assert_true(wg_sockaddr_equal(data_from_then_answer(net, &moved), &moved.addr));
    g_assert_true(wg_sockaddr_equal(&net->b.peer->endpoint.addr, &moved.addr));
    net_free(net);
}

static void
test_cryptokey_routing(void)
{
    struct net *net = net_new();

    establish(net);
    /* A claims a source address B does not route to A: dropped after decryption. */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.77", "10.0.0.2", 10, 0), ==, WG_TX_SEND);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
    net_free(net);
}

/*
 * Crossed initiation (daemon/ipn/handshake-order.c): both nodes learn of each
 * other in the same tick (net_new adds both peers at one `now`), as when one
 * netmap introduces them. Each applies `rule` as hyphae-ipn.c does: initiate
 * now, or after the delay unless a handshake completed meanwhile. Returns
 * the fake time until both first held a confirmed session (kp_current),
 * stepping 50 ms through 10 s in all; UINT64_MAX if they never did.
 */
#define CROSSED_STEP (50 * 1000000ULL)

static void
initiate(struct net *net, struct node *n)
{
    wg_device_lock(n->dev);
    wg_device_send_handshake_initiation(n->peer, false, net->now);
    wg_device_unlock(n->dev);
}

static uint64_t
crossed_run(struct net *net, bool rule)
{
    struct node *nodes[2] = { &net->a, &net->b };
    uint64_t start = net->now, due[2] = { 0, 0 }, took = UINT64_MAX;
    int64_t since[2] = { 0, 0 };

    for (int i = 0; i < 2; i++) {
        unsigned int delay =
            rule ? handshake_initiate_delay_ms(nodes[i]->pub, nodes[1 - i]->pub) : 0;

        if (delay == 0) {
            initiate(net, nodes[i]);
        } else {
            due[i] = net->now + (uint64_t)delay * 1000000ULL;
            since[i] = (int64_t)net->now + nodes[i]->dev->realtime_offset_ns;
        }
    }
    while (net->now - start <= WG_NS(10)) {
        deliver_all(net);
        if (took == UINT64_MAX && net->a.peer->kp_current && net->b.peer->kp_current)
            took = net->now - start;
        for (int i = 0; i < 2; i++) {
            if (due[i] == 0 || net->now < due[i])
                continue;
            due[i] = 0;
            if (handshake_deferred_needed(nodes[i]->peer->last_handshake_realtime_ns, since[i]))
                initiate(net, nodes[i]);
        }
        deliver_all(net);
        net->now += CROSSED_STEP;
        tick_both(net);
    }
    return took;
}

/* With the rule, one side initiates and both have a session at once (well
 * within the 1 s deferral); the deferred side then sees that handshake and
 * starts none of its own. */
static void
test_crossed_initiation(void)
{
    struct net *net = net_new();
    uint64_t took = crossed_run(net, true);

    g_test_message("both sessions after %" G_GUINT64_FORMAT " ms of fake time", took / 1000000);
    g_assert_cmpuint(took, <, WG_NS(1));
    /* One handshake in the 10 s: nothing replaced the first session. */
    g_assert_true(net->a.peer->kp_previous == NULL && net->b.peer->kp_previous == NULL);
    net_free(net);
}

/* Without it (both initiate at once) the initiations cross: both become
 * responders, drop the response to their own, and wait for the retry after
 * REKEY_TIMEOUT (5 s). What the test above guards against, shown to happen. */
static void
test_crossed_initiation_stall(void)
{
    struct net *net = net_new();
    uint64_t took = crossed_run(net, false);

    g_test_message("both sessions after %" G_GUINT64_FORMAT " ms of fake time", took / 1000000);
    /* Not before the retry. (After it, the jittered retries may cross again
     * when they fire in the same step: "never within 10 s" counts too.) */
    g_assert_cmpuint(took, >=, WG_REKEY_TIMEOUT);
    net_free(net);
}

static void
pin(struct node *n, const struct wg_endpoint *ep, uint64_t now)
{
    wg_device_lock(n->dev);
    wg_peer_pin_endpoint(n->peer, ep, now);
    wg_device_unlock(n->dev);
}

/* Every datagram on the wire names the peer it is for: the other node. */
static void
assert_peer_keys(struct net *net)
{
    for (size_t i = 0; i < net->n_wire; i++) {
        const struct datagram *d = &net->wire[i];
        const struct node *from =
            wg_sockaddr_equal(&d->from.addr, &net->a.addr.addr) ? &net->a : &net->b;
        const struct node *other = from == &net->a ? &net->b : &net->a;

        g_assert_true(d->has_peer_key);
        g_assert_cmpmem(d->peer_key, 32, other->pub, 32);
    }
}

/* Tailscale mode: a pinned endpoint stays where the path machine put it. */
static void
test_pinned_no_roam(void)
{
    struct net *net = net_new();
    struct wg_endpoint moved;

    pin(&net->b, &net->a.addr, net->now);
    establish(net);
    make_endpoint(&moved, "203.0.113.9", 40000);
    /* A's data arrives from elsewhere: B takes it, but keeps answering where it was told. */
    g_assert_true(wg_sockaddr_equal(data_from_then_answer(net, &moved), &net->a.addr.addr));
    g_assert_true(wg_sockaddr_equal(&net->b.peer->endpoint.addr, &net->a.addr.addr));
    /* A handshake from elsewhere does not move it either. */
    net->n_wire = 0;
    net->now += WG_REKEY_TIMEOUT + WG_NS(1);
    initiate(net, &net->a);
    g_assert_cmpuint(net->n_wire, ==, 1);
    net->wire[0].from = moved;
    deliver_all(net);
    g_assert_true(wg_sockaddr_equal(&net->b.peer->endpoint.addr, &net->a.addr.addr));
    /* wg(8)'s endpoint unpins: the peer roams again. */
    wg_device_lock(net->b.dev);
    wg_peer_set_endpoint(net->b.peer, &net->a.addr.addr);
    wg_device_unlock(net->b.dev);
    g_assert_false(net->b.peer->endpoint_pinned);
    g_assert_true(wg_sockaddr_equal(data_from_then_answer(net, &moved), &moved.addr));
    net_free(net);
}

/*
 * Both peers pinned to DERP endpoints: every send path hands the callback
 * the DERP endpoint (never the UDP address) and the peer's key: initiation,
 * response, data, keepalive; a cookie reply goes back to the DERP source it
 * answers, with no peer.
 */
static void
test_derp_endpoint_sends(void)
{
    struct net *net = net_new();
    struct wg_endpoint via_a, via_b;

    make_derp_endpoint(&via_b, 7, net->b.pub);
    make_derp_endpoint(&via_a, 7, net->a.pub);
    pin(&net->a, &via_b, net->now);
    pin(&net->b, &via_a, net->now);

    /* Initiation. */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 0xaa), ==, WG_TX_STAGED);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    g_assert_true(memcmp(&net->wire[0].to, &via_b, sizeof(via_b)) == 0);
    assert_peer_keys(net);
    /* Response, then A's staged packet. */
    deliver_one(net);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_RESPONSE);
    g_assert_true(memcmp(&net->wire[0].to, &via_a, sizeof(via_a)) == 0);
    assert_peer_keys(net);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
    /* Data from the TX batch. */
    g_assert_cmpint(send_packet(net, &net->b, "10.0.0.2", "10.0.0.1", 10, 0), ==, WG_TX_SEND);
    g_assert_true(memcmp(&net->wire[0].to, &via_a, sizeof(via_a)) == 0);
    deliver_all(net);
    g_assert_cmpuint(net->a.tun->len, ==, 1);
    /* Keepalive (A got data and sent none back). */
    net->now += WG_KEEPALIVE_TIMEOUT + WG_NS(1);
    tick_both(net);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(net->wire[0].len, ==, 32);
    g_assert_true(memcmp(&net->wire[0].to, &via_b, sizeof(via_b)) == 0);
    assert_peer_keys(net);
    deliver_all(net);

    /* Cookie reply: B under load answers A's next initiation, which came through DERP. */
    net->b.dev->force_under_load = true;
    net->now += WG_REKEY_TIMEOUT + WG_NS(1);
    initiate(net, &net->a);
    g_assert_cmpuint(net->n_wire, ==, 1);
    deliver_one(net);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_COOKIE);
    g_assert_true(memcmp(&net->wire[0].to, &via_a, sizeof(via_a)) == 0);
    g_assert_false(net->wire[0].has_peer_key);
    deliver_all(net);
    g_assert_true(net->a.peer->cookie_maker.cookie_valid);
    net_free(net);
}

/*
 * A path change while our initiation is unanswered and no session exists:
 * a new initiation goes over the new path at once (the REKEY_TIMEOUT limit
 * would otherwise hold it 5 s), and the staged packet follows the handshake.
 * With a session, a path change sends nothing by itself.
 */
static void
test_pin_restarts_handshake(void)
{
    struct net *net = net_new();
    struct wg_endpoint via_b, dead;

    make_endpoint(&dead, "198.51.100.1", 9); /* a path that never answers */
    pin(&net->a, &dead, net->now);
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 0xaa), ==, WG_TX_STAGED);
    g_assert_cmpuint(net->n_wire, ==, 1);
    net->n_wire = 0; /* lost */
    net->now += WG_NS(1);
    pin(&net->a, &dead, net->now); /* the same path: nothing */
    g_assert_cmpuint(net->n_wire, ==, 0);
    make_derp_endpoint(&via_b, 3, net->b.pub);
    pin(&net->a, &via_b, net->now);
    g_assert_cmpuint(net->n_wire, ==, 1);
    g_assert_cmpuint(first_type(net), ==, WG_MESSAGE_HANDSHAKE_INITIATION);
    g_assert_true(memcmp(&net->wire[0].to, &via_b, sizeof(via_b)) == 0);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
    g_assert_cmpuint(net->a.peer->n_staged, ==, 0);
    /* Session up: a move to UDP sends nothing, data then goes there. */
    pin(&net->a, &net->b.addr, net->now);
    g_assert_cmpuint(net->n_wire, ==, 0);
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_SEND);
    g_assert_true(wg_sockaddr_equal(&net->wire[0].to.addr, &net->b.addr.addr));
    g_assert_false(wg_endpoint_is_derp(&net->wire[0].to));
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 2);
    /* Cleared: nothing leaves for the peer, nothing reaches the callback. */
    memset(&dead, 0, sizeof(dead));
    pin(&net->a, &dead, net->now);
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 10, 0), ==, WG_TX_DROP);
    net->now += WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT + WG_NS(1);
    tick_both(net);
    for (size_t i = 0; i < net->n_wire; i++)
        g_assert_true(wg_sockaddr_equal(&net->wire[i].from.addr, &net->b.addr.addr));
    net->n_wire = 0;
    /* Not even the response to B's initiation (a pinned peer does not roam to it). */
    net->now += WG_REKEY_TIMEOUT + WG_NS(1);
    initiate(net, &net->b);
    g_assert_cmpuint(net->n_wire, ==, 1);
    {
        struct datagram init = net->wire[0];

        net->n_wire = 0;
        g_assert_cmpint(inject(&net->a, init.data, init.len, &init.from, net->now), ==,
                        WG_RX_CONSUMED);
    }
    g_assert_cmpuint(net->n_wire, ==, 0);
    net_free(net);
}

/* Tailscale mode: data sent to a peer is noted, at most once a second. */
static unsigned int active_notes;

static void
count_active(void *ctx, const uint8_t peer_key[WG_KEY_LEN], const struct wg_endpoint *ep)
{
    struct node *n = ctx;

    g_assert_cmpmem(peer_key, 32, n->peer->public_key, 32);
    g_assert_true(wg_sockaddr_equal(&ep->addr, &n->peer->endpoint.addr));
    active_notes++;
}

static void
test_note_active(void)
{
    struct net *net = net_new();

    active_notes = 0;
    net->a.dev->note_active = count_active;
    /* The first packet is staged for the handshake: noted when it leaves. */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 1), ==, WG_TX_STAGED);
    g_assert_cmpuint(active_notes, ==, 0);
    deliver_all(net);
    g_assert_cmpuint(active_notes, ==, 1);
    for (int i = 0; i < 50; i++)
        g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 2), ==, WG_TX_SEND);
    g_assert_cmpuint(active_notes, ==, 1);
    net->now += WG_ACTIVE_NOTE_INTERVAL_NS;
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.1", "10.0.0.2", 100, 3), ==, WG_TX_SEND);
    g_assert_cmpuint(active_notes, ==, 2);
    /* Keepalives and handshakes are not data: B's answers note nothing on A. */
    deliver_all(net);
    g_assert_cmpuint(active_notes, ==, 2);
    net_free(net);
}

/*
 * Masquerade (wg/masq.h): B knows A as 10.0.0.9 (A's SelfNodeV4MasqAddrForThisPeer
 * for B). A's packets from its own 10.0.0.1 reach B from 10.0.0.9, which B's
 * AllowedIPs route to A; B's replies to 10.0.0.9 reach A's TUN for 10.0.0.1.
 * A forwarded packet (not from A's own address) keeps its source.
 */
static void
test_masquerade(void)
{
    struct net *net = net_new();
    struct wg_masq native = { .has4 = true }, masq = { .has4 = true };
    uint8_t addr[4];
    const uint8_t *got;

    inet_pton(AF_INET, "10.0.0.1", native.addr4);
    inet_pton(AF_INET, "10.0.0.9", masq.addr4);
    inet_pton(AF_INET, "10.0.0.9", addr);
    wg_device_lock(net->a.dev);
    wg_device_set_native_addrs(net->a.dev, &native);
    wg_peer_set_masq(net->a.peer, &masq);
    wg_device_unlock(net->a.dev);
    wg_device_lock(net->b.dev);
    wg_peer_clear_allowed_ips(net->b.peer);
    g_assert_cmpint(wg_peer_add_allowed_ip(net->b.peer, AF_INET, addr, 32), ==, 0);
    wg_device_unlock(net->b.dev);

    establish(net); /* 10.0.0.1 → 10.0.0.2, passed B's source check as 10.0.0.9 */
    got = g_bytes_get_data(g_ptr_array_index(net->b.tun, 0), NULL);
    g_assert_cmpmem(got + 12, 4, masq.addr4, 4);

    g_assert_cmpint(send_packet(net, &net->b, "10.0.0.2", "10.0.0.9", 10, 0), ==, WG_TX_SEND);
    deliver_all(net);
    g_assert_cmpuint(net->a.tun->len, ==, 1);
    got = g_bytes_get_data(g_ptr_array_index(net->a.tun, 0), NULL);
    g_assert_cmpmem(got + 16, 4, native.addr4, 4);

    /* Not A's own source: sent as it is, and B drops it (not A's address there). */
    g_assert_cmpint(send_packet(net, &net->a, "10.0.0.5", "10.0.0.2", 10, 0), ==, WG_TX_SEND);
    deliver_all(net);
    g_assert_cmpuint(net->b.tun->len, ==, 1);
    net_free(net);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    g_test_add_func("/wg/device/handshake-and-data", test_handshake_and_data);
    g_test_add_func("/wg/device/no-route-and-junk", test_no_route_and_junk);
    g_test_add_func("/wg/device/replay", test_replay);
    g_test_add_func("/wg/device/initiation-replay", test_initiation_replay);
    g_test_add_func("/wg/device/rekey-after-time", test_rekey_after_time);
    g_test_add_func("/wg/device/reject-after-time", test_reject_after_time);
    g_test_add_func("/wg/device/retransmit-and-give-up", test_retransmit_and_give_up);
    g_test_add_func("/wg/device/keepalive-and-zero-keys", test_keepalive_and_zero_keys);
    g_test_add_func("/wg/device/cookie-under-load", test_cookie_under_load);
    g_test_add_func("/wg/device/ratelimit-under-load", test_ratelimit_under_load);
    g_test_add_func("/wg/device/roaming", test_roaming);
    g_test_add_func("/wg/device/cryptokey-routing", test_cryptokey_routing);
    g_test_add_func("/wg/device/crossed-initiation", test_crossed_initiation);
    g_test_add_func("/wg/device/crossed-initiation-stall", test_crossed_initiation_stall);
    g_test_add_func("/wg/device/pinned-no-roam", test_pinned_no_roam);
    g_test_add_func("/wg/device/derp-endpoint-sends", test_derp_endpoint_sends);
    g_test_add_func("/wg/device/pin-restarts-handshake", test_pin_restarts_handshake);
    g_test_add_func("/wg/device/note-active", test_note_active);
    g_test_add_func("/wg/device/masquerade", test_masquerade);
    return g_test_run();
}
