/* SPDX-License-Identifier: MIT */
/*
 * The path machine (daemon/engine/magicsock/magicsock.c), two or three
 * machines wired back to back through fake ops on a fake clock: a UDP
 * "network" where every address has a one-way latency and can drop what is
 * sent to it, and one DERP region relaying by node key (also switchable).
 * Every packet on the wire is opened with the receiver's key to count what it
 * is, so the tests see pings, pongs and call-me-maybes per path. Time only
 * moves to the next packet delivery or timer deadline: nothing depends on how
 * fast the machine is.
 *
 *  /magicsock/discovery        DERP first, then direct once UDP passes (pongs set it)
 *  /magicsock/trust-expiry     no pongs for 6.5 s: back to DERP, at that very time
 *  /magicsock/heartbeat        every 3 s while active, none once idle for 45 s
 *  /magicsock/call-me-maybe    ignored over UDP and from the wrong node; honoured via DERP
 *  /magicsock/unknown-disco    unknown or broken senders get no answer
 *  /magicsock/pong-path        only a pong to our TxID, back over UDP, sets a path, once
 *  /magicsock/learned          ping sources become candidates, capped, forgotten after 45 s
 *  /magicsock/disco-change     a peer's new disco key: paths reset, rediscovered
 *  /magicsock/user-ping        direct and DERP answers with latency; timeout at 5 s
 *  /magicsock/faster           a faster candidate replaces the best one
 *  /magicsock/zero-disco       plain WireGuard peer: first endpoint, nothing sent
 *  /magicsock/no-derp          without DERP: the first endpoint, then direct
 *  /magicsock/bounded          10,000 peers: no idle timers, diffs, capped pings
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "magicsock/magicsock.h"

#define MS(x)         ((uint64_t)(x)*1000000ull)
#define SEC(x)        ((uint64_t)(x)*1000000000ull)
#define DERP_LATENCY  MS(20)
#define REGION        1
#define MAX_ADDRS     4
#define MAX_NODES     3
#define MAX_INFLIGHT  4096
#define MAX_RESULTS   2048
#define MAX_ADDRSTATS 128

struct net;

struct node {
    struct net *net;
    struct magicsock *ms;
    uint8_t node_pub[32];
    uint8_t disco_priv[32], disco_pub[32];
    union wg_sockaddr addrs[MAX_ADDRS];
    size_t n_addrs;
    uint64_t deadline;
    /* Send traffic to this peer (note_activity every second) until then. */
    int traffic_peer;
    uint64_t traffic_until;
    uint64_t last_traffic;
    /* The last set_endpoint per peer node index, and how many calls. */
    struct wg_endpoint ep[MAX_NODES];
    unsigned n_set_endpoint[MAX_NODES];
    unsigned became_direct[MAX_NODES];
    /* The TxID of the last ping this node sent over UDP. */
    uint8_t last_ping_txid[DISCO_TXID_LEN];
    /* Received pongs over UDP, and when the last came. */
    unsigned udp_pongs_rx;
    uint64_t last_udp_pong_rx;
};

struct pkt {
    uint64_t at;
    int dst;
    bool derp;
    uint8_t src_key[32];
    union wg_sockaddr src;
    size_t len;
    uint8_t data[DISCO_PACKET_MAX];
};

/* What went out, by kind: [udp=0/derp=1][type]. */
struct counts {
    unsigned sent[2][4];
};

struct addr_stat {
    union wg_sockaddr addr;
    unsigned pings;   /* pings sent to it */
    uint64_t last_at; /* when the last one was sent */
    uint64_t lat;     /* one-way latency toward it */
    bool blocked;
};

struct result {
    uint64_t id;
    uint64_t at;
    struct magicsock_ping_result r;
};

struct net {
    uint64_t now;
    struct node nodes[MAX_NODES];
    size_t n_nodes;
    struct pkt *inflight;
    size_t n_inflight;
    bool derp_down;
    struct counts by_node[MAX_NODES];
    struct addr_stat stats[MAX_ADDRSTATS];
    size_t n_stats;
    struct result results[MAX_RESULTS];
    size_t n_results;
    unsigned undecodable;
    unsigned other_set_endpoint;
};

/* ---------------------------------------------------------------- helpers */

static union wg_sockaddr
addr4(const char *ip, uint16_t port)
{
    union wg_sockaddr a;

    memset(&a, 0, sizeof(a));
    a.in4.sin_family = AF_INET;
    a.in4.sin_port = htons(port);
    g_assert_cmpint(inet_pton(AF_INET, ip, &a.in4.sin_addr), ==, 1);
    return a;
}

static struct addr_stat *
stat_of(struct net *net, const union wg_sockaddr *a)
{
    for (size_t i = 0; i < net->n_stats; i++)
        if (wg_sockaddr_equal(&net->stats[i].addr, a))
            return &net->stats[i];
    g_assert_cmpuint(net->n_stats, <, MAX_ADDRSTATS);
    net->stats[net->n_stats].addr = *a;
    net->stats[net->n_stats].lat = MS(1);
    return &net->stats[net->n_stats++];
}

static int
node_index(const struct net *net, const struct node *n)
{
    return (int)(n - net->nodes);
}

static int
node_by_addr(const struct net *net, const union wg_sockaddr *a)
{
    for (size_t i = 0; i < net->n_nodes; i++)
        for (size_t j = 0; j < net->nodes[i].n_addrs; j++)
            if (wg_sockaddr_equal(&net->nodes[i].addrs[j], a))
                return (int)i;
    return -1;
}

static int
node_by_key(const struct net *net, const uint8_t key[32])
{
    for (size_t i = 0; i < net->n_nodes; i++)
        if (memcmp(net->nodes[i].node_pub, key, 32) == 0)
            return (int)i;
    return -1;
}

/*
 * Open a packet the way its receiver would (any node, for an address nobody
 * owns), to see what it is (0: not openable).
 */
static int
classify(const struct net *net, int dst, const uint8_t *data, size_t len, struct disco_msg *m)
{
    if (!disco_looks_like(data, len))
        return 0;
    for (size_t r = 0; r < net->n_nodes; r++) {
        if (dst >= 0 && (int)r != dst)
            continue;
        for (size_t i = 0; i < net->n_nodes; i++) {
            struct disco_shared_key k;
            int ret;

            if (memcmp(disco_sender(data), net->nodes[i].disco_pub, 32) != 0)
                continue;
            disco_shared_key_init(&k, net->nodes[i].disco_pub, net->nodes[r].disco_priv);
            ret = disco_open(data, len, &k, m);
            sodium_memzero(&k, sizeof(k));
            if (ret == 0)
                return m->type;
        }
    }
    return 0;
}

static void
enqueue(struct net *net, const struct pkt *p)
{
    g_assert_cmpuint(net->n_inflight, <, MAX_INFLIGHT);
    net->inflight[net->n_inflight++] = *p;
}

/* ---------------------------------------------------------------- fake ops */

static void
op_send_udp(void *ctx, const uint8_t *data, size_t len, const union wg_sockaddr *to)
{
    struct node *self = ctx;
    struct net *net = self->net;
    int from = node_index(net, self);
    int dst = node_by_addr(net, to);
    struct addr_stat *st = stat_of(net, to);
    struct disco_msg m;
    int type = classify(net, dst, data, len, &m);
    struct pkt p;

    g_assert_cmpuint(len, <=, DISCO_PACKET_MAX);
    if (type == 0 && dst >= 0)
        net->undecodable++;
    net->by_node[from].sent[0][type]++;
    if (type == DISCO_PING) {
        st->pings++;
        st->last_at = net->now;
        memcpy(self->last_ping_txid, m.ping.txid, DISCO_TXID_LEN);
    }
    if (dst < 0 || st->blocked)
        return;
    memset(&p, 0, sizeof(p));
    p.at = net->now + st->lat;
    p.dst = dst;
    p.src = self->addrs[0];
    p.len = len;
    memcpy(p.data, data, len);
    enqueue(net, &p);
}

static void
op_send_derp(void *ctx, uint16_t region, const uint8_t dst_key[32], const uint8_t *data, size_t len)
{
    struct node *self = ctx;
    struct net *net = self->net;
    int from = node_index(net, self);
    int dst = node_by_key(net, dst_key);
    struct disco_msg m;
    int type = classify(net, dst, data, len, &m);
    struct pkt p;

    g_assert_cmpuint(region, ==, REGION);
    g_assert_cmpuint(len, <=, DISCO_PACKET_MAX);
    net->by_node[from].sent[1][type]++;
    if (dst < 0 || net->derp_down)
        return;
    memset(&p, 0, sizeof(p));
    p.at = net->now + DERP_LATENCY;
    p.dst = dst;
    p.derp = true;
    memcpy(p.src_key, self->node_pub, 32);
    p.len = len;
    memcpy(p.data, data, len);
    enqueue(net, &p);
}

static void
op_set_endpoint(void *ctx, const uint8_t node_key[32], const struct wg_endpoint *ep)
{
    struct node *self = ctx;
    int peer = node_by_key(self->net, node_key);

    if (peer < 0) {
        self->net->other_set_endpoint++; /* a peer without a machine (test_bounded) */
        return;
    }
    /* Only on change. */
    g_assert_true(memcmp(&self->ep[peer], ep, sizeof(*ep)) != 0);
    self->ep[peer] = *ep;
    self->n_set_endpoint[peer]++;
    if (!wg_endpoint_is_derp(ep) && ep->addr.sa.sa_family != AF_UNSPEC)
        self->became_direct[peer]++;
}

static void
op_ping_result(void *ctx, uint64_t id, const struct magicsock_ping_result *r)
{
    struct node *self = ctx;
    struct net *net = self->net;

    g_assert_cmpuint(net->n_results, <, MAX_RESULTS);
    net->results[net->n_results].id = id;
    net->results[net->n_results].at = net->now;
    net->results[net->n_results].r = *r;
    net->n_results++;
}

static const struct magicsock_ops ops = {
    .send_udp = op_send_udp,
    .send_derp = op_send_derp,
    .set_endpoint = op_set_endpoint,
    .ping_result = op_ping_result,
};

/* ---------------------------------------------------------------- the net */

static struct net *
net_new(size_t n_nodes)
{
    struct net *net = g_new0(struct net, 1);

    g_assert_cmpint(sodium_init(), >=, 0);
    net->inflight = g_new0(struct pkt, MAX_INFLIGHT);
    net->now = SEC(1);
    net->n_nodes = n_nodes;
    for (size_t i = 0; i < n_nodes; i++) {
        struct node *n = &net->nodes[i];
        char ip[32];

        n->net = net;
        n->traffic_peer = -1;
        randombytes_buf(n->node_pub, 32);
        randombytes_buf(n->disco_priv, 32);
        crypto_scalarmult_curve25519_base(n->disco_pub, n->disco_priv);
        g_snprintf(ip, sizeof(ip), "192.0.2.%zu", i + 1);
        n->addrs[0] = addr4(ip, 41641);
        n->n_addrs = 1;
        n->ms = magicsock_new(n->disco_priv, n->node_pub, &ops, n);
        g_assert_nonnull(n->ms);
        magicsock_set_local_endpoints(n->ms, n->addrs, n->n_addrs);
    }
    return net;
}

static void
net_free(struct net *net)
{
    for (size_t i = 0; i < net->n_nodes; i++)
        magicsock_free(net->nodes[i].ms);
    g_free(net->inflight);
    g_free(net);
}

static void
peer_config(const struct node *peer, struct magicsock_peer_config *c)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->node_key, peer->node_pub, 32);
    memcpy(c->disco_key, peer->disco_pub, 32);
    c->home_derp = REGION;
    c->n_endpoints = peer->n_addrs;
    memcpy(c->endpoints, peer->addrs, peer->n_addrs * sizeof(peer->addrs[0]));
}

/* Every node gets every other node as its peers, as the netmap would say. */
static void
net_set_peers(struct net *net)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        struct magicsock_peer_config c[MAX_NODES];
        size_t n = 0;

        for (size_t j = 0; j < net->n_nodes; j++)
            if (j != i)
                peer_config(&net->nodes[j], &c[n++]);
        g_assert_cmpint(magicsock_set_peers(net->nodes[i].ms, c, n, net->now), ==, 0);
        net->nodes[i].deadline = magicsock_tick(net->nodes[i].ms, net->now);
    }
}

static void
node_tick(struct node *n)
{
    n->deadline = magicsock_tick(n->ms, n->net->now);
    if (n->deadline)
        g_assert_cmpuint(n->deadline, >, n->net->now);
}

static void
rx_udp(struct node *to, const uint8_t *pkt, size_t len, const union wg_sockaddr *src)
{
    struct wg_endpoint from;

    memset(&from, 0, sizeof(from));
    from.addr = *src;
    magicsock_rx_disco(to->ms, pkt, len, &from, to->net->now);
    node_tick(to);
}

static void
rx_derp(struct node *to, const uint8_t *pkt, size_t len, const uint8_t src_key[32])
{
    struct wg_endpoint from;

    memset(&from, 0, sizeof(from));
    from.derp_region = REGION;
    memcpy(from.derp_key, src_key, 32);
    from.addr.in4.sin_family = AF_INET;
    from.addr.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
    from.addr.in4.sin_port = htons(REGION);
    magicsock_rx_disco(to->ms, pkt, len, &from, to->net->now);
    node_tick(to);
}

static void
deliver(struct net *net, const struct pkt *p)
{
    struct node *n = &net->nodes[p->dst];
    struct disco_msg m;

    if (p->derp) {
        rx_derp(n, p->data, p->len, p->src_key);
        return;
    }
    if (classify(net, p->dst, p->data, p->len, &m) == DISCO_PONG) {
        n->udp_pongs_rx++;
        n->last_udp_pong_rx = net->now;
    }
    rx_udp(n, p->data, p->len, &p->src);
}

static void
note_traffic(struct node *n)
{
    magicsock_note_activity(n->ms, n->net->nodes[n->traffic_peer].node_pub, n->net->now);
    n->last_traffic = n->net->now;
    node_tick(n);
}

static uint64_t
traffic_due(const struct node *n)
{
    if (n->traffic_peer < 0 || n->last_traffic + SEC(1) > n->traffic_until)
        return UINT64_MAX;
    return n->last_traffic + SEC(1);
}

/*
 * Run events in time order up to `until` (then the clock is there); stop
 * early when done(net) holds. One event per round, the earliest; on a tie a
 * packet goes first, then timers, then traffic.
 */
static bool
run(struct net *net, uint64_t until, bool (*done)(struct net *, void *), void *data)
{
    for (;;) {
        uint64_t t_pkt = UINT64_MAX, t_tick = UINT64_MAX, t_traffic = UINT64_MAX;
        size_t pi = 0, ti = 0, fi = 0;

        if (done && done(net, data))
            return true;
        for (size_t i = 0; i < net->n_inflight; i++)
            if (net->inflight[i].at < t_pkt)
                t_pkt = net->inflight[pi = i].at;
        for (size_t i = 0; i < net->n_nodes; i++) {
            if (net->nodes[i].deadline && net->nodes[i].deadline < t_tick)
                t_tick = net->nodes[ti = i].deadline;
            if (traffic_due(&net->nodes[i]) < t_traffic)
                t_traffic = traffic_due(&net->nodes[fi = i]);
        }
        if (MIN(t_pkt, MIN(t_tick, t_traffic)) > until) {
            net->now = until;
            return done ? done(net, data) : true;
        }
        if (t_pkt <= t_tick && t_pkt <= t_traffic) {
            struct pkt p = net->inflight[pi];

            g_assert_cmpuint(t_pkt, >=, net->now);
            net->now = t_pkt;
            net->inflight[pi] = net->inflight[--net->n_inflight];
            deliver(net, &p);
        } else if (t_tick <= t_traffic) {
            g_assert_cmpuint(t_tick, >=, net->now);
            net->now = t_tick;
            node_tick(&net->nodes[ti]);
        } else {
            g_assert_cmpuint(t_traffic, >=, net->now);
            net->now = t_traffic;
            note_traffic(&net->nodes[fi]);
        }
    }
}

static void
run_for(struct net *net, uint64_t d)
{
    (void)run(net, net->now + d, NULL, NULL);
}

static void
start_traffic(struct net *net, int from, int to, uint64_t for_ns)
{
    struct node *n = &net->nodes[from];

    n->traffic_peer = to;
    n->traffic_until = net->now + for_ns;
    note_traffic(n);
}

static void
set_blocked(struct net *net, const union wg_sockaddr *a, bool blocked)
{
    stat_of(net, a)->blocked = blocked;
}

static void
block_udp(struct net *net, bool blocked)
{
    for (size_t i = 0; i < net->n_nodes; i++)
        for (size_t j = 0; j < net->nodes[i].n_addrs; j++)
            set_blocked(net, &net->nodes[i].addrs[j], blocked);
}

static bool
is_direct_to(const struct wg_endpoint *ep, const union wg_sockaddr *a)
{
    return !wg_endpoint_is_derp(ep) && wg_sockaddr_equal(&ep->addr, a);
}

static bool
is_derp(const struct wg_endpoint *ep, const uint8_t key[32])
{
    return ep->derp_region == REGION && memcmp(ep->derp_key, key, 32) == 0 &&
           ep->addr.in4.sin_family == AF_INET &&
           ep->addr.in4.sin_addr.s_addr == htonl(WG_DERP_MAGIC_IPV4) &&
           ep->addr.in4.sin_port == htons(REGION);
}

struct pair {
    int a, b;
};

static bool
a_direct(struct net *net, void *data)
{
    struct pair *p = data;

    return is_direct_to(&net->nodes[p->a].ep[p->b], &net->nodes[p->b].addrs[0]);
}

static bool
a_on_derp(struct net *net, void *data)
{
    struct pair *p = data;

    return is_derp(&net->nodes[p->a].ep[p->b], net->nodes[p->b].node_pub);
}

static void
check_endpoint_matches(struct node *n, int peer)
{
    struct wg_endpoint ep;

    g_assert_cmpint(magicsock_get_endpoint(n->ms, n->net->nodes[peer].node_pub, &ep), ==, 0);
    g_assert_cmpmem(&ep, sizeof(ep), &n->ep[peer], sizeof(ep));
}

/* Both on DERP, then A's traffic makes a direct path (UDP open). */
static struct net *
net_direct_pair(void)
{
    struct net *net = net_new(2);
    struct pair ab = { 0, 1 };

    net_set_peers(net);
    start_traffic(net, 0, 1, SEC(3600));
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ab));
    return net;
}

/* ------------------------------------------------------------------ tests */

static void
test_discovery(void)
{
    struct net *net = net_new(2);
    struct pair ab = { 0, 1 }, ba = { 1, 0 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];

    block_udp(net, true);
    net_set_peers(net);
    /* Known peers with a home region start on DERP. */
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    g_assert_true(is_derp(&b->ep[0], a->node_pub));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 1);
    check_endpoint_matches(a, 1);

    /* A talks: pings B's endpoints, and asks B over DERP to ping back. */
    start_traffic(net, 0, 1, SEC(3600));
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING], ==, 1);
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_CALL_ME_MAYBE], ==, 1);
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_PING], ==, 0);
    run_for(net, SEC(20));
    /* UDP drops everything: still DERP, with the pings repeated at most every 5 s. */
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 1);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING], >=, 3);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING], <=, 5);
    /* B heard the call-me-maybes over DERP and pinged A back each time. */
    g_assert_cmpuint(net->by_node[1].sent[0][DISCO_PING], >=, 3);
    g_assert_cmpuint(net->undecodable, ==, 0);

    /* UDP opens: the next round's pong sets the path, DERP → direct. */
    block_udp(net, false);
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ab));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 2);
    g_assert_cmpuint(net->by_node[1].sent[0][DISCO_PONG], >=, 1);
    check_endpoint_matches(a, 1);
    /* B, pinging back on A's call-me-maybe, found its direct path too. */
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ba));
    g_assert_cmpuint(b->became_direct[0], >=, 1);
    net_free(net);
}

static void
test_trust_expiry(void)
{
    struct net *net = net_direct_pair();
    struct pair ab = { 0, 1 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    unsigned pongs;

    /* Heartbeats keep the direct path trusted. */
    run_for(net, SEC(30));
    g_assert_true(is_direct_to(&a->ep[1], &b->addrs[0]));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 2);

    /* UDP goes dark: DERP again exactly 6.5 s after the last pong. */
    block_udp(net, true);
    pongs = a->udp_pongs_rx;
    g_assert_true(run(net, net->now + SEC(20), a_on_derp, &ab));
    g_assert_cmpuint(a->udp_pongs_rx, ==, pongs);
    g_assert_cmpuint(net->now, ==, a->last_udp_pong_rx + MAGICSOCK_TRUST_UDP_NS);
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 3);

    /* And back once it passes again. */
    block_udp(net, false);
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ab));
    net_free(net);
}

static void
test_heartbeat(void)
{
    struct net *net = net_new(2);
    struct pair ab = { 0, 1 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    struct addr_stat *to_b;
    unsigned before;
    uint64_t last, stop;

    net_set_peers(net);
    /* One burst of traffic (10 s), then silence. */
    start_traffic(net, 0, 1, SEC(10));
    g_assert_true(run(net, net->now + SEC(5), a_direct, &ab));
    to_b = stat_of(net, &b->addrs[0]);
    stop = a->traffic_until;

    /* While active, one ping to the best address every 3 s, no more. */
    before = to_b->pings;
    last = to_b->last_at;
    for (int i = 0; i < 10; i++) {
        run_for(net, SEC(3));
        g_assert_cmpuint(to_b->pings, ==, before + (unsigned)i + 1);
        g_assert_cmpuint(to_b->last_at, ==, last + SEC(3));
        last = to_b->last_at;
    }
    /* 45 s after the last activity they stop, and the path is no longer trusted. */
    (void)run(net, stop + MAGICSOCK_SESSION_ACTIVE_NS + SEC(4), NULL, NULL);
    g_assert_cmpuint(to_b->last_at, <=, stop + MAGICSOCK_SESSION_ACTIVE_NS);
    g_assert_cmpuint(to_b->last_at, >, stop + MAGICSOCK_SESSION_ACTIVE_NS - SEC(3));
    before = to_b->pings;
    run_for(net, SEC(120));
    g_assert_cmpuint(to_b->pings, ==, before);
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    /* Idle: nothing scheduled at all. */
    g_assert_cmpuint(a->deadline, ==, 0);
    g_assert_cmpuint(b->deadline, ==, 0);

    /* New traffic starts discovery at once, without waiting for a heartbeat. */
    before = to_b->pings;
    start_traffic(net, 0, 1, SEC(5));
    g_assert_cmpuint(to_b->pings, ==, before + 1);
    net_free(net);
}

static ssize_t
seal_from(const struct node *from, const struct node *to, const struct disco_msg *m, uint8_t *buf)
{
    struct disco_shared_key k;
    ssize_t n;

    disco_shared_key_init(&k, to->disco_pub, from->disco_priv);
    n = disco_seal(buf, DISCO_PACKET_MAX, from->disco_pub, &k, m);
    sodium_memzero(&k, sizeof(k));
    g_assert_cmpint(n, >, 0);
    return n;
}

static void
test_call_me_maybe(void)
{
    struct net *net = net_new(3);
    struct node *a = &net->nodes[0], *b = &net->nodes[1], *c = &net->nodes[2];
    union wg_sockaddr x = addr4("198.51.100.7", 5000);
    struct addr_stat *to_x = stat_of(net, &x);
    uint8_t pkt[DISCO_PACKET_MAX];
    struct disco_msg m;
    ssize_t n;

    net_set_peers(net);
    memset(&m, 0, sizeof(m));
    m.type = DISCO_CALL_ME_MAYBE;
    m.call_me_maybe.n = 1;
    m.call_me_maybe.endpoints[0] = x;
    n = seal_from(b, a, &m, pkt);

    /* Over UDP, even from B's own address (and B's node key set by a sloppy caller): ignored. */
    {
        struct wg_endpoint from;

        memset(&from, 0, sizeof(from));
        from.addr = b->addrs[0];
        memcpy(from.derp_key, b->node_pub, 32);
        magicsock_rx_disco(a->ms, pkt, (size_t)n, &from, net->now);
    }
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    g_assert_cmpuint(to_x->pings, ==, 0);
    /* Over DERP from another node key (C's) than the disco key's: ignored. */
    rx_derp(a, pkt, (size_t)n, c->node_pub);
    g_assert_cmpuint(to_x->pings, ==, 0);
    /* Over DERP from B: A pings the listed endpoint (and B's netmap one). */
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_cmpuint(to_x->pings, ==, 1);
    g_assert_cmpuint(stat_of(net, &b->addrs[0])->pings, ==, 1);
    /* A call-me-maybe is no reason to tell B to call back. */
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_CALL_ME_MAYBE], ==, 0);

    /* Again at once: each call-me-maybe pings again, it does not wait 5 s. */
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_cmpuint(to_x->pings, ==, 2);

    /* A later one without x drops it: the next round does not ping it. */
    m.call_me_maybe.n = 0;
    n = seal_from(b, a, &m, pkt);
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_cmpuint(to_x->pings, ==, 2);
    start_traffic(net, 0, 1, SEC(30));
    run_for(net, SEC(20));
    g_assert_cmpuint(to_x->pings, ==, 2);

    /* At most MAGICSOCK_MAX_ENDPOINTS of a long list are taken. */
    m.call_me_maybe.n = DISCO_MAX_CALL_ME_MAYBE;
    for (size_t i = 0; i < DISCO_MAX_CALL_ME_MAYBE; i++)
        m.call_me_maybe.endpoints[i] = addr4("203.0.113.1", (uint16_t)(6000 + i));
    n = seal_from(b, a, &m, pkt);
    unsigned pings = net->by_node[0].sent[0][DISCO_PING];
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING] - pings, <=,
                     MAGICSOCK_MAX_ENDPOINTS + b->n_addrs);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING] - pings, >=, MAGICSOCK_MAX_ENDPOINTS);
    net_free(net);
}

static void
test_unknown_disco(void)
{
    struct net *net = net_new(3);
    struct node *a = &net->nodes[0], *b = &net->nodes[1], *c = &net->nodes[2];
    struct node stranger;
    uint8_t pkt[DISCO_PACKET_MAX];
    struct disco_msg m;
    ssize_t n;

    net_set_peers(net);
    memset(&stranger, 0, sizeof(stranger));
    stranger.net = net;
    randombytes_buf(stranger.disco_priv, 32);
    crypto_scalarmult_curve25519_base(stranger.disco_pub, stranger.disco_priv);
    memset(&m, 0, sizeof(m));
    m.type = DISCO_PING;
    randombytes_buf(m.ping.txid, sizeof(m.ping.txid));
    memcpy(m.ping.node_key, b->node_pub, 32);

    /* A stranger's key, over UDP and over DERP from B's node key: no answer. */
    n = seal_from(&stranger, a, &m, pkt);
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    /* B's key over DERP from C's node key: C's disco key is another, no answer. */
    n = seal_from(b, a, &m, pkt);
    rx_derp(a, pkt, (size_t)n, c->node_pub);
    /* B's key, but the box is broken. */
    n = seal_from(b, a, &m, pkt);
    pkt[n - 1] ^= 1;
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    /* Truncated, and no disco at all. */
    rx_udp(a, pkt, DISCO_HEADER_LEN, &b->addrs[0]);
    rx_udp(a, (const uint8_t *)"hello", 5, &b->addrs[0]);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, 0);
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_PONG], ==, 0);

    /* The same ping intact from B: answered to where it came from, which it reports. */
    pkt[n - 1] ^= 1;
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, 1);
    /* The same ping again (a replay): not answered twice. */
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, 1);
    /* Over DERP: answered over DERP. */
    randombytes_buf(m.ping.txid, sizeof(m.ping.txid));
    n = seal_from(b, a, &m, pkt);
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_PONG], ==, 1);
    net_free(net);
}

static void
test_learned(void)
{
    struct net *net = net_new(2);
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    uint8_t pkt[DISCO_PACKET_MAX];
    struct disco_msg m;
    unsigned pings;

    net_set_peers(net);
    memset(&m, 0, sizeof(m));
    m.type = DISCO_PING;
    memcpy(m.ping.node_key, b->node_pub, 32);
    /* B pings from 100 source addresses: each answered, each a candidate, up to a cap. */
    for (uint16_t i = 0; i < 100; i++) {
        union wg_sockaddr src = addr4("203.0.113.50", (uint16_t)(10000 + i));
        ssize_t n;

        randombytes_buf(m.ping.txid, DISCO_TXID_LEN);
        n = seal_from(b, a, &m, pkt);
        rx_udp(a, pkt, (size_t)n, &src);
    }
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, 100);
    pings = net->by_node[0].sent[0][DISCO_PING];
    magicsock_note_activity(a->ms, b->node_pub, net->now);
    node_tick(a);
    pings = net->by_node[0].sent[0][DISCO_PING] - pings;
    g_assert_cmpuint(pings, >=, MAGICSOCK_MAX_ENDPOINTS);
    g_assert_cmpuint(pings, <=, 2 * MAGICSOCK_MAX_ENDPOINTS);

    /* 45 s without their pings, learned candidates are forgotten: only B's own remains. */
    run_for(net, MAGICSOCK_SESSION_ACTIVE_NS + SEC(10));
    pings = net->by_node[0].sent[0][DISCO_PING];
    magicsock_note_activity(a->ms, b->node_pub, net->now);
    node_tick(a);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING] - pings, ==, 1);
    net_free(net);
}

static void
test_pong_path(void)
{
    struct net *net = net_new(2);
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    uint8_t pkt[DISCO_PACKET_MAX];
    struct disco_msg m;
    ssize_t n;

    block_udp(net, true);
    net_set_peers(net);
    start_traffic(net, 0, 1, SEC(3600));
    memset(&m, 0, sizeof(m));
    m.type = DISCO_PONG;
    m.pong.src = a->addrs[0];

    /* A pong for a TxID A never sent: nothing. */
    randombytes_buf(m.pong.txid, DISCO_TXID_LEN);
    n = seal_from(b, a, &m, pkt);
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    /* The TxID of A's UDP ping, but the pong comes over DERP: not a UDP path. */
    memcpy(m.pong.txid, a->last_ping_txid, DISCO_TXID_LEN);
    n = seal_from(b, a, &m, pkt);
    rx_derp(a, pkt, (size_t)n, b->node_pub);
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    /* Over UDP: the pinged address is the path. */
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    g_assert_true(is_direct_to(&a->ep[1], &b->addrs[0]));
    /* Once only: the ping is answered, a replay does not renew trust. */
    run_for(net, MAGICSOCK_TRUST_UDP_NS - SEC(1));
    rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
    run_for(net, SEC(1));
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    net_free(net);
}

static void
test_disco_change(void)
{
    struct net *net = net_direct_pair();
    struct pair ab = { 0, 1 }, ba = { 1, 0 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    struct magicsock_peer_config c;
    unsigned pongs;

    /* B restarts with a new disco key; A's netmap does not know it yet. */
    magicsock_free(b->ms);
    randombytes_buf(b->disco_priv, 32);
    crypto_scalarmult_curve25519_base(b->disco_pub, b->disco_priv);
    b->ms = magicsock_new(b->disco_priv, b->node_pub, &ops, b);
    magicsock_set_local_endpoints(b->ms, b->addrs, b->n_addrs);
    memset(b->ep, 0, sizeof(b->ep));
    peer_config(a, &c);
    g_assert_cmpint(magicsock_set_peers(b->ms, &c, 1, net->now), ==, 0);
    b->traffic_peer = 0;
    b->traffic_until = net->now + SEC(3600);
    note_traffic(b);
    pongs = net->by_node[0].sent[0][DISCO_PONG];
    run_for(net, SEC(2));
    /* A drops what the unknown key sends (no pong) ... */
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, pongs);
    g_assert_cmpuint(net->by_node[1].sent[0][DISCO_PING], >=, 1);

    /* ... until the netmap brings the new key: A's paths reset to DERP at once. */
    peer_config(b, &c);
    g_assert_cmpint(magicsock_set_peers(a->ms, &c, 1, net->now), ==, 0);
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    node_tick(a);
    /* Then rediscovered with the new key. */
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ab));
    /* And A answers B's pings again: B finds its direct path too. */
    g_assert_true(run(net, net->now + SEC(10), a_direct, &ba));
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], >, pongs);
    net_free(net);
}

static const struct result *
result_of(const struct net *net, uint64_t id)
{
    for (size_t i = 0; i < net->n_results; i++)
        if (net->results[i].id == id)
            return &net->results[i];
    return NULL;
}

static bool
has_result(struct net *net, void *data)
{
    return result_of(net, *(uint64_t *)data) != NULL;
}

static void
test_user_ping(void)
{
    struct net *net = net_direct_pair();
    struct pair ab = { 0, 1 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    const struct result *r;
    uint64_t id = 7, t0;
    uint8_t unknown[32] = { 1 };

    /* Direct: the pong's path and the round trip (1 ms each way). */
    t0 = net->now;
    g_assert_cmpint(magicsock_ping(a->ms, b->node_pub, id, net->now), ==, 0);
    node_tick(a);
    g_assert_true(run(net, net->now + SEC(6), has_result, &id));
    r = result_of(net, id);
    g_assert_true(r->r.ok);
    g_assert_true(is_direct_to(&r->r.path, &b->addrs[0]));
    g_assert_cmpuint(r->r.latency_ns, ==, MS(2));
    g_assert_cmpuint(r->at, ==, t0 + MS(2));
    g_assert_cmpuint(net->n_results, ==, 1);

    /* Over DERP once UDP is gone and the path has lapsed. */
    block_udp(net, true);
    g_assert_true(run(net, net->now + SEC(20), a_on_derp, &ab));
    id = 8;
    t0 = net->now;
    g_assert_cmpint(magicsock_ping(a->ms, b->node_pub, id, net->now), ==, 0);
    node_tick(a);
    g_assert_true(run(net, net->now + SEC(6), has_result, &id));
    r = result_of(net, id);
    g_assert_true(r->r.ok);
    g_assert_true(is_derp(&r->r.path, b->node_pub));
    g_assert_cmpuint(r->r.latency_ns, ==, 2 * DERP_LATENCY);
    /* One answer per ping, though the direct attempts time out later. */
    run_for(net, SEC(6));
    g_assert_cmpuint(net->n_results, ==, 2);

    /* Nothing answers: a failure, exactly 5 s later. */
    net->derp_down = true;
    id = 9;
    t0 = net->now;
    g_assert_cmpint(magicsock_ping(a->ms, b->node_pub, id, net->now), ==, 0);
    node_tick(a);
    g_assert_true(run(net, net->now + SEC(10), has_result, &id));
    r = result_of(net, id);
    g_assert_false(r->r.ok);
    g_assert_cmpuint(r->at, ==, t0 + MAGICSOCK_PING_TIMEOUT_NS);
    run_for(net, SEC(6));
    g_assert_cmpuint(net->n_results, ==, 3);

    g_assert_cmpint(magicsock_ping(a->ms, unknown, 10, net->now), ==, -ENOENT);
    g_assert_cmpuint(net->n_results, ==, 3);
    net_free(net);
}

static void
test_faster(void)
{
    struct net *net = net_new(2);
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    union wg_sockaddr slow, fast;
    bool direct_fast;

    /* B has a slow public address first and a fast one second, blocked at first. */
    slow = addr4("203.0.113.2", 41641);
    fast = b->addrs[0];
    b->addrs[0] = slow;
    b->addrs[1] = fast;
    b->n_addrs = 2;
    stat_of(net, &slow)->lat = MS(40);
    set_blocked(net, &fast, true);
    net_set_peers(net);
    start_traffic(net, 0, 1, SEC(3600));
    run_for(net, SEC(5));
    g_assert_true(is_direct_to(&a->ep[1], &slow));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 2);

    /* The fast one opens: the next upgrade check (≤ 1 min) moves to it. */
    set_blocked(net, &fast, false);
    run_for(net, SEC(30));
    g_assert_true(is_direct_to(&a->ep[1], &slow));
    direct_fast = false;
    for (int i = 0; i < 40 && !direct_fast; i++) {
        run_for(net, SEC(1));
        direct_fast = is_direct_to(&a->ep[1], &fast);
    }
    g_assert_true(direct_fast);
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 3);
    /* Fast (≤ 5 ms) is good enough: it stays, no flapping. */
    run_for(net, SEC(180));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 3);
    net_free(net);
}

static void
test_zero_disco(void)
{
    struct net *net = net_new(2);
    struct node *a = &net->nodes[0], *b = &net->nodes[1];
    struct magicsock_peer_config c;
    union wg_sockaddr e2 = addr4("203.0.113.9", 51820);

    peer_config(b, &c);
    memset(c.disco_key, 0, 32);
    c.endpoints[1] = e2;
    c.n_endpoints = 2;
    g_assert_cmpint(magicsock_set_peers(a->ms, &c, 1, net->now), ==, 0);
    /* Plain WireGuard to the first endpoint, even with a home region. */
    g_assert_true(is_direct_to(&a->ep[1], &b->addrs[0]));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 1);
    /* The same netmap again: no call. */
    g_assert_cmpint(magicsock_set_peers(a->ms, &c, 1, net->now), ==, 0);
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 1);

    /* Nothing else: no pings on activity, no timers, no user pings. */
    magicsock_note_activity(a->ms, b->node_pub, net->now);
    g_assert_cmpuint(magicsock_tick(a->ms, net->now), ==, 0);
    g_assert_cmpint(magicsock_ping(a->ms, b->node_pub, 1, net->now), ==, -EOPNOTSUPP);
    run_for(net, SEC(60));
    for (int i = 0; i < 4; i++) {
        g_assert_cmpuint(net->by_node[0].sent[0][i], ==, 0);
        g_assert_cmpuint(net->by_node[0].sent[1][i], ==, 0);
    }

    /* Its packets are from no known disco key: dropped. */
    {
        uint8_t pkt[DISCO_PACKET_MAX];
        struct disco_msg m;
        ssize_t n;

        memset(&m, 0, sizeof(m));
        m.type = DISCO_PING;
        n = seal_from(b, a, &m, pkt);
        rx_udp(a, pkt, (size_t)n, &b->addrs[0]);
        g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PONG], ==, 0);
    }

    /* A new first endpoint: one call. */
    c.endpoints[0] = e2;
    c.n_endpoints = 1;
    g_assert_cmpint(magicsock_set_peers(a->ms, &c, 1, net->now), ==, 0);
    g_assert_true(is_direct_to(&a->ep[1], &e2));
    g_assert_cmpuint(a->n_set_endpoint[1], ==, 2);

    /* It gains a disco key: now ours, on DERP. */
    peer_config(b, &c);
    g_assert_cmpint(magicsock_set_peers(a->ms, &c, 1, net->now), ==, 0);
    g_assert_true(is_derp(&a->ep[1], b->node_pub));
    net_free(net);
}

static void
test_no_derp(void)
{
    struct net *net = net_new(2);
    struct pair ab = { 0, 1 };
    struct node *a = &net->nodes[0], *b = &net->nodes[1];

    magicsock_set_derp_enabled(a->ms, false);
    magicsock_set_derp_enabled(b->ms, false);
    net_set_peers(net);
    /* No relay: the first endpoint until a pong says more. */
    g_assert_true(is_direct_to(&a->ep[1], &b->addrs[0]));
    start_traffic(net, 0, 1, SEC(3600));
    run_for(net, SEC(5));
    g_assert_cmpuint(net->by_node[0].sent[1][DISCO_CALL_ME_MAYBE], ==, 0);
    g_assert_cmpuint(net->by_node[0].sent[0][DISCO_PING], >=, 1);
    /* A DERP map arrives: untrusted paths move to DERP, trusted ones stay. */
    magicsock_set_derp_enabled(b->ms, true);
    g_assert_true(is_derp(&b->ep[0], a->node_pub));
    magicsock_set_derp_enabled(a->ms, true);
    g_assert_true(a_direct(net, &ab));
    net_free(net);
}

static void
test_bounded(void)
{
    enum { N = 10000 };
    struct net *net = net_new(2);
    struct node *a = &net->nodes[0];
    struct magicsock_peer_config *c = g_new0(struct magicsock_peer_config, N);
    struct wg_endpoint ep;

    for (size_t i = 0; i < N; i++) {
        randombytes_buf(c[i].node_key, 32);
        randombytes_buf(c[i].disco_key, 32);
        c[i].home_derp = REGION;
        c[i].n_endpoints = 1;
        c[i].endpoints[0] = addr4("10.1.2.3", (uint16_t)(1 + i));
    }
    g_assert_cmpint(magicsock_set_peers(a->ms, c, N, net->now), ==, 0);
    g_assert_cmpuint(net->other_set_endpoint, ==, N);
    /* Idle peers: no timer at all. */
    g_assert_cmpuint(magicsock_tick(a->ms, net->now), ==, 0);
    for (size_t i = 0; i < N; i++) {
        g_assert_cmpint(magicsock_get_endpoint(a->ms, c[i].node_key, &ep), ==, 0);
        g_assert_cmpuint(ep.derp_region, ==, REGION);
    }
    /* Half go, a quarter come. */
    for (size_t i = 0; i < N / 4; i++)
        randombytes_buf(c[i].node_key, 32);
    g_assert_cmpint(magicsock_set_peers(a->ms, c, N / 2, net->now), ==, 0);
    g_assert_cmpuint(net->other_set_endpoint, ==, N + N / 4);
    for (size_t i = 0; i < N; i++)
        g_assert_cmpint(magicsock_get_endpoint(a->ms, c[i].node_key, &ep), ==,
                        i < N / 2 ? 0 : -ENOENT);

    /* One active peer is the only one with a timer. */
    magicsock_note_activity(a->ms, c[0].node_key, net->now);
    g_assert_cmpuint(magicsock_tick(a->ms, net->now), ==, net->now + MAGICSOCK_HEARTBEAT_NS);

    /* A thousand user pings to it: every one answered (failed), pings capped. */
    for (uint64_t id = 0; id < 1000; id++)
        g_assert_cmpint(magicsock_ping(a->ms, c[0].node_key, id, net->now), ==, 0);
    a->deadline = magicsock_tick(a->ms, net->now);
    run_for(net, SEC(10));
    g_assert_cmpuint(net->n_results, ==, 1000);
    for (size_t i = 0; i < net->n_results; i++)
        g_assert_false(net->results[i].r.ok);
    g_free(c);
    net_free(net);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/magicsock/discovery", test_discovery);
    g_test_add_func("/magicsock/trust-expiry", test_trust_expiry);
    g_test_add_func("/magicsock/heartbeat", test_heartbeat);
    g_test_add_func("/magicsock/call-me-maybe", test_call_me_maybe);
    g_test_add_func("/magicsock/unknown-disco", test_unknown_disco);
    g_test_add_func("/magicsock/pong-path", test_pong_path);
    g_test_add_func("/magicsock/learned", test_learned);
    g_test_add_func("/magicsock/disco-change", test_disco_change);
    g_test_add_func("/magicsock/user-ping", test_user_ping);
    g_test_add_func("/magicsock/faster", test_faster);
    g_test_add_func("/magicsock/zero-disco", test_zero_disco);
    g_test_add_func("/magicsock/no-derp", test_no_derp);
    g_test_add_func("/magicsock/bounded", test_bounded);
    return g_test_run();
}
