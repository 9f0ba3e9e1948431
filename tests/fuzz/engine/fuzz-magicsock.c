/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for magicsock/magicsock.c: a machine with four peers
 * (three with disco keys the harness holds, one plain WireGuard) driven by a
 * little program in the input. Each step is an opcode byte and its operands:
 *
 *   0  raw bytes into rx_disco, over UDP or DERP
 *   1  arbitrary plaintext sealed with a peer's real disco key (passes the box)
 *   2  a well-formed ping, pong (echoing a TxID the machine sent) or
 *      call-me-maybe from a peer, sealed
 *   3  advance the clock (up to ~25 s) and tick
 *   4  note_activity     5  magicsock_ping     6  new netmap (keys, endpoints)
 *   7  DERP on/off       8  local endpoints
 *
 * Invariants (CHECK): every send is at most DISCO_PACKET_MAX and opens with
 * the receiver's key; DERP sends go to a region; endpoints are DERP (with the
 * magic address), UDP or none; tick's deadline is in the future; every user
 * ping is answered exactly once, by the first tick 5 s after it was sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

/* Included, not linked, so that libFuzzer's coverage instrumentation sees it. */
#include "magicsock/magicsock.c"

#include "fuzz-harness.h"

enum {
    N_PEERS = 4, /* the last one has no disco key */
    N_DISCO = 3,
    MAX_TXIDS = 16,
    MAX_USER = 64,
};

struct fpeer {
    uint8_t node[32];
    uint8_t disco_priv[32], disco_pub[32];
    struct disco_shared_key k; /* (our disco pub, its priv) */
};

static bool ready;
static uint8_t my_priv[32], my_pub[32], my_node[32];
static struct fpeer peers[N_PEERS + 1]; /* +1: a spare disco key for key changes */

static struct state {
    struct magicsock *ms;
    uint64_t now;
    uint8_t txids[MAX_TXIDS][DISCO_TXID_LEN];
    size_t n_txids;
    struct {
        uint64_t id, sent;
        bool answered;
    } user[MAX_USER];
    size_t n_user;
    uint64_t next_user_id;
} st;

static void
init(void)
{
    if (ready)
        return;
    CHECK(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        my_priv[i] = (uint8_t)(i + 1);
        my_node[i] = (uint8_t)(0x80 + i);
    }
    crypto_scalarmult_curve25519_base(my_pub, my_priv);
    for (int p = 0; p <= N_PEERS; p++) {
        for (int i = 0; i < 32; i++) {
            peers[p].node[i] = (uint8_t)(p * 32 + i + 7);
            peers[p].disco_priv[i] = (uint8_t)(p * 17 + i * 3 + 1);
        }
        crypto_scalarmult_curve25519_base(peers[p].disco_pub, peers[p].disco_priv);
        disco_shared_key_init(&peers[p].k, my_pub, peers[p].disco_priv);
    }
    ready = true;
}

static union wg_sockaddr
sockaddr_from(uint8_t sel)
{
    union wg_sockaddr a;

    memset(&a, 0, sizeof(a));
    if (sel & 0x80) {
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_addr.s6_addr[0] = (sel & 0x40) ? 0xfe : 0x20;
        a.in6.sin6_addr.s6_addr[1] = (sel & 0x40) ? 0x80 : 0x01;
        a.in6.sin6_addr.s6_addr[15] = sel & 7;
        a.in6.sin6_port = htons((uint16_t)(41641 + (sel & 3)));
    } else {
        a.in4.sin_family = AF_INET;
        a.in4.sin_addr.s_addr = htonl(0xc0000200u | (sel & 7)); /* 192.0.2.x, x may be 0 */
        a.in4.sin_port = htons((uint16_t)((sel & 0x20) ? 0 : 41641 + (sel & 3)));
    }
    return a;
}

static int
peer_of_node(const uint8_t node[32])
{
    for (int p = 0; p <= N_PEERS; p++)
        if (memcmp(peers[p].node, node, 32) == 0)
            return p;
    return -1;
}

/* What we sent must open with some peer's key; remember our pings' TxIDs. */
static void
check_sent(const uint8_t *data, size_t len)
{
    struct disco_msg m;
    bool opened = false;

    CHECK(len <= DISCO_PACKET_MAX);
    CHECK(disco_looks_like(data, len));
    CHECK(memcmp(disco_sender(data), my_pub, 32) == 0);
    for (int p = 0; p <= N_PEERS && !opened; p++) {
        if (disco_open(data, len, &peers[p].k, &m) == 0) {
            opened = true;
            if (m.type == DISCO_PING) {
                memcpy(st.txids[st.n_txids % MAX_TXIDS], m.ping.txid, DISCO_TXID_LEN);
                st.n_txids++;
                CHECK(memcmp(m.ping.node_key, my_node, 32) == 0);
            }
        }
    }
    CHECK(opened);
}

static void
op_send_udp(void *ctx, const uint8_t *data, size_t len, const union wg_sockaddr *to)
{
    (void)ctx;
    CHECK(to->sa.sa_family == AF_INET || to->sa.sa_family == AF_INET6);
    check_sent(data, len);
}

static void
op_send_derp(void *ctx, uint16_t region, const uint8_t dst[32], const uint8_t *data, size_t len)
{
    (void)ctx;
    CHECK(region != 0);
    CHECK(peer_of_node(dst) >= 0);
    check_sent(data, len);
}

static void
op_set_endpoint(void *ctx, const uint8_t node[32], const struct wg_endpoint *ep)
{
    (void)ctx;
    CHECK(peer_of_node(node) >= 0);
    if (wg_endpoint_is_derp(ep)) {
        CHECK(ep->addr.in4.sin_family == AF_INET);
        CHECK(ep->addr.in4.sin_addr.s_addr == htonl(WG_DERP_MAGIC_IPV4));
        CHECK(ntohs(ep->addr.in4.sin_port) == ep->derp_region);
        CHECK(memcmp(ep->derp_key, node, 32) == 0);
    } else {
        CHECK(ep->addr.sa.sa_family == AF_INET || ep->addr.sa.sa_family == AF_INET6 ||
              ep->addr.sa.sa_family == AF_UNSPEC);
    }
}

static void
op_ping_result(void *ctx, uint64_t id, const struct magicsock_ping_result *r)
{
    bool found = false;

    (void)ctx;
    for (size_t i = 0; i < st.n_user; i++) {
        if (st.user[i].id != id)
            continue;
        found = true;
        CHECK(!st.user[i].answered);
        st.user[i].answered = true;
        if (r->ok)
            CHECK(r->latency_ns == st.now - st.user[i].sent);
    }
    CHECK(found);
}

static const struct magicsock_ops ops = {
    .send_udp = op_send_udp,
    .send_derp = op_send_derp,
    .set_endpoint = op_set_endpoint,
    .ping_result = op_ping_result,
};

static void
set_peers(uint8_t sel, uint8_t eps)
{
    struct magicsock_peer_config c[N_PEERS];

    memset(c, 0, sizeof(c));
    for (int p = 0; p < N_PEERS; p++) {
        int key = p;

        memcpy(c[p].node_key, peers[p].node, 32);
        if (p < N_DISCO && (sel >> (2 * p) & 3) == 3)
            key = N_PEERS; /* the spare key: a disco key change */
        if (p < N_DISCO && (sel >> (2 * p) & 3) != 2)
            memcpy(c[p].disco_key, peers[key].disco_pub, 32);
        c[p].home_derp = (sel & 0x40) ? 0 : (uint16_t)(1 + p % 2);
        c[p].n_endpoints = (size_t)(eps >> (2 * (p % 4)) & 3);
        for (size_t i = 0; i < c[p].n_endpoints; i++)
            c[p].endpoints[i] = sockaddr_from((uint8_t)(p * 8 + i + (sel & 0x80)));
    }
    /* Which peers are in the netmap at all: sel bit 0x40 also drops the last one. */
    CHECK(magicsock_set_peers(st.ms, c, (sel & 0x40) ? N_PEERS - 1 : N_PEERS, st.now) == 0);
}

static void
rx(const uint8_t *pkt, size_t len, uint8_t path)
{
    struct wg_endpoint from;

    memset(&from, 0, sizeof(from));
    if (path & 1) {
        from.derp_region = (uint16_t)(1 + (path >> 1 & 1));
        memcpy(from.derp_key, peers[(path >> 2) % (N_PEERS + 1)].node, 32);
        from.addr.in4.sin_family = AF_INET;
        from.addr.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
        from.addr.in4.sin_port = htons(from.derp_region);
    } else {
        from.addr = sockaddr_from(path >> 1);
    }
    magicsock_rx_disco(st.ms, pkt, len, &from, st.now);
}

/* magic ‖ the peer's disco pub ‖ nonce ‖ box(plain), as a peer would send it. */
static size_t
seal_raw(uint8_t *out, int p, const uint8_t *plain, size_t len)
{
    uint8_t *nonce = out + DISCO_MAGIC_LEN + DISCO_KEY_LEN;

    memcpy(out, DISCO_MAGIC, DISCO_MAGIC_LEN);
    memcpy(out + DISCO_MAGIC_LEN, peers[p].disco_pub, 32);
    randombytes_buf(nonce, DISCO_NONCE_LEN);
    crypto_box_easy_afternm(nonce + DISCO_NONCE_LEN, plain, len, nonce, peers[p].k.k);
    return DISCO_HEADER_LEN + len + crypto_box_MACBYTES;
}

static void
check_endpoints(void)
{
    struct wg_endpoint ep;

    for (int p = 0; p < N_PEERS; p++) {
        int r = magicsock_get_endpoint(st.ms, peers[p].node, &ep);

        CHECK(r == 0 || r == -ENOENT);
    }
}

static void
tick(void)
{
    uint64_t d = magicsock_tick(st.ms, st.now);

    CHECK(d == 0 || d > st.now);
    /* A user ping is answered by the first tick at or after its timeout. */
    for (size_t j = 0; j < st.n_user; j++)
        CHECK(st.user[j].answered || st.now < st.user[j].sent + MAGICSOCK_PING_TIMEOUT_NS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pkt[2048 + DISCO_HEADER_LEN + crypto_box_MACBYTES];
    size_t i = 0;

    init();
    memset(&st, 0, sizeof(st));
    st.now = 1000000000ull;
    st.ms = magicsock_new(my_priv, my_node, &ops, NULL);
    CHECK(st.ms);
    set_peers(0, 0xff);

    while (i < size) {
        uint8_t op = data[i++];
        uint8_t a = i < size ? data[i] : 0, b = i + 1 < size ? data[i + 1] : 0;

        switch (op % 9) {
        case 0: { /* raw: path, len, bytes */
            size_t len = MIN((size_t)b * 8, size - MIN(size, i + 2));

            rx(data + MIN(size, i + 2), len, a);
            i += 2 + len;
            break;
        }
        case 1: { /* sealed plaintext: peer|path, len, bytes */
            size_t len = MIN((size_t)b, size - MIN(size, i + 2));

            rx(pkt, seal_raw(pkt, a % (N_PEERS + 1), data + MIN(size, i + 2), len), a >> 3);
            i += 2 + len;
            break;
        }
        case 2: { /* structured: peer|type|path, selector */
            struct disco_msg m;
            struct disco_shared_key k;
            int p = a % (N_PEERS + 1);
            ssize_t n;

            memset(&m, 0, sizeof(m));
            m.type = (uint8_t)(1 + (a >> 3) % 3);
            if (m.type == DISCO_PING) {
                randombytes_buf(m.ping.txid, DISCO_TXID_LEN);
                if (b & 1 && st.n_txids) /* a replayed TxID */
                    memcpy(m.ping.txid, st.txids[(b >> 1) % MIN(st.n_txids, MAX_TXIDS)],
                           DISCO_TXID_LEN);
                memcpy(m.ping.node_key, peers[p].node, 32);
            } else if (m.type == DISCO_PONG) {
                if (st.n_txids)
                    memcpy(m.pong.txid, st.txids[b % MIN(st.n_txids, MAX_TXIDS)], DISCO_TXID_LEN);
                m.pong.src = sockaddr_from(b);
            } else {
                m.call_me_maybe.n = (size_t)(b % 40);
                for (size_t j = 0; j < m.call_me_maybe.n; j++)
                    m.call_me_maybe.endpoints[j] = sockaddr_from((uint8_t)(b + j * 37));
            }
            disco_shared_key_init(&k, my_pub, peers[p].disco_priv);
            n = disco_seal(pkt, sizeof(pkt), peers[p].disco_pub, &k, &m);
            CHECK(n > 0);
            rx(pkt, (size_t)n, (uint8_t)(a >> 5 | (b & 0x80)));
            i += 2;
            break;
        }
        case 3: /* time */
            st.now += (uint64_t)a * 100000000ull + (b & 1 ? MAGICSOCK_SESSION_ACTIVE_NS : 0);
            i += 2;
            break;
        case 4:
            magicsock_note_activity(st.ms, peers[a % (N_PEERS + 1)].node, st.now);
            i += 1;
            break;
        case 5: {
            int r;

            if (st.n_user == MAX_USER)
                break;
            st.user[st.n_user].id = st.next_user_id++;
            st.user[st.n_user].sent = st.now;
            r = magicsock_ping(st.ms, peers[a % (N_PEERS + 1)].node, st.user[st.n_user].id, st.now);
            CHECK(r == 0 || r == -ENOENT || r == -EOPNOTSUPP || r == -EHOSTUNREACH);
            if (r == 0)
                st.n_user++;
            i += 1;
            break;
        }
        case 6:
            set_peers(a, b);
            i += 2;
            break;
        case 7:
            magicsock_set_derp_enabled(st.ms, a & 1);
            i += 1;
            break;
        case 8: {
            union wg_sockaddr eps[MAGICSOCK_MAX_ENDPOINTS + 2];
            size_t n = a % (MAGICSOCK_MAX_ENDPOINTS + 3);

            for (size_t j = 0; j < n; j++)
                eps[j] = sockaddr_from((uint8_t)(b + j));
            magicsock_set_local_endpoints(st.ms, eps, n);
            i += 2;
            break;
        }
        }
        tick();
        check_endpoints();
    }
    /* Every user ping gets its answer within the timeout. */
    st.now += MAGICSOCK_PING_TIMEOUT_NS;
    tick();
    for (size_t j = 0; j < st.n_user; j++)
        CHECK(st.user[j].answered);
    magicsock_free(st.ms);
    return 0;
}
