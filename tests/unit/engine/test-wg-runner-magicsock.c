/* SPDX-License-Identifier: MIT */
/*
 * The runner in Tailscale mode (cfg.magicsock), two of them with a TUN each,
 * in two network namespaces joined by a veth pair:
 * - STUN- and disco-looking datagrams to a runner's UDP port come out of its
 *   event queue with their source, and WireGuard's stay with the device;
 * - peers pinned to DERP endpoints: every WireGuard datagram comes out as a
 *   DERP_SEND event (with a HANDSHAKE event for the initiation), which the
 *   test carries to the other runner with wg_runner_rx_inject, as hyphaed's
 *   DERP client would: a TCP exchange across the TUNs works end to end;
 * - wg_runner_send_udp leaves from the WireGuard socket and reaches the other
 *   runner (as a disco event from that socket's address);
 * - the queue's bounds (events and bytes) hold under a flood, drops counted;
 * - the packet filter (wg_runner_set_filter) on real packets, over UDP and
 *   over DERP (rx_inject): an allowed TCP port connects, a blocked one fails
 *   at once with ECONNREFUSED (our RST), UDP needs a rule or our own flow,
 *   counters count, TSMP never reaches the OS, swapping filters under
 *   traffic is safe;
 * - MagicDNS queries (UDP to 100.100.100.100:53, [fd7a:115c:a1e0::53]:53)
 *   read from the TUN become DNS events, and wg_runner_tun_inject's answer
 *   reaches the querying socket.
 * Needs root; skipped otherwise, unless $CI is set. Nothing sleeps to wait:
 * every wait is for a condition, with a generous bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "filter/filter.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "packet-ref.h"
#include "uapi/uapi.h"
#include "wireguard/wg-runner.h"

#define WAIT_MS     20000
#define TUN_A       "hyt-a"
#define TUN_B       "hyt-b"
#define IP_A        "10.62.0.1"
#define IP_B        "10.62.0.2"
#define VETH_A      "10.63.0.1"
#define VETH_B      "10.63.0.2"
#define DERP_REGION 9

/* The test thread lives in A; B is entered only to make its runner and sockets. */
static FixtureNetns ns_a, ns_b;

struct pair {
    struct wg_runner *a, *b;
    uint8_t priv_a[32], priv_b[32], pub_a[32], pub_b[32];
};

static void run(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
run(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *cmd = NULL;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_free(fixture_run(cmd));
}

static void
add_peer(struct wg_runner *r, const uint8_t pub[32], const char *allowed)
{
    struct uapi_allowed_ip ip = { .family = AF_INET, .cidr = 32 };
    struct uapi_peer_set peer = { .replace_allowed_ips = true,
                                  .n_allowed_ips = 1,
                                  .allowed_ips = &ip };
    struct uapi_set set = { .replace_peers = true, .n_peers = 1, .peers = &peer };

    memcpy(peer.public_key, pub, 32);
    g_assert_cmpint(inet_pton(AF_INET, allowed, ip.addr), ==, 1);
    g_assert_cmpint(wg_runner_apply(r, &set), ==, 0);
}

/* Two runners in magicsock mode, each other's peer (no endpoints yet), TUNs up and routed. */
static void
pair_start(struct pair *p)
{
    struct wg_runner_config ca = { .ifname = TUN_A, .private_key = p->priv_a, .magicsock = true };
    struct wg_runner_config cb = { .ifname = TUN_B, .private_key = p->priv_b, .magicsock = true };

    key_generate_private(p->priv_a);
    key_generate_private(p->priv_b);
    g_assert_true(key_public_from_private(p->pub_a, p->priv_a));
    g_assert_true(key_public_from_private(p->pub_b, p->priv_b));
    g_assert_cmpint(wg_runner_start(&ca, &p->a), ==, 0);
    fixture_netns_enter(&ns_b);
    g_assert_cmpint(wg_runner_start(&cb, &p->b), ==, 0);
    fixture_netns_leave(&ns_b);
    add_peer(p->a, p->pub_b, IP_B);
    add_peer(p->b, p->pub_a, IP_A);
    run("ip addr add " IP_A "/32 dev " TUN_A);
    run("ip link set " TUN_A " up");
    run("ip route add " IP_B "/32 dev " TUN_A);
    run("ip -n %s addr add " IP_B "/32 dev " TUN_B, ns_b.name);
    run("ip -n %s link set " TUN_B " up", ns_b.name);
    run("ip -n %s route add " IP_A "/32 dev " TUN_B, ns_b.name);
    g_assert_cmpint(wg_runner_event_fd(p->a), >=, 0);
    g_assert_null(wg_runner_event_pop(p->a));
}

static void
pair_stop(struct pair *p)
{
    wg_runner_stop(p->a);
    wg_runner_stop(p->b);
}

static bool
fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, timeout_ms) == 1;
}

/* The next event, waiting for it up to WAIT_MS. */
static struct wg_runner_event *
next_event(struct wg_runner *r)
{
    struct wg_runner_event *e = wg_runner_event_pop(r);

    if (!e && fd_readable(wg_runner_event_fd(r), WAIT_MS))
        e = wg_runner_event_pop(r);
    g_assert_nonnull(e);
    return e;
}

static int
udp_socket_bound(const char *ip, struct sockaddr_in *local)
{
    socklen_t len = sizeof(*local);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    memset(local, 0, sizeof(*local));
    local->sin_family = AF_INET;
    g_assert_cmpint(inet_pton(AF_INET, ip, &local->sin_addr), ==, 1);
    g_assert_cmpint(bind(fd, (struct sockaddr *)local, sizeof(*local)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)local, &len), ==, 0);
    return fd;
}

static void
send_to_port(int fd, const uint8_t *data, size_t len, uint16_t port)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };

    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof(to)), ==, (ssize_t)len);
}

/* Shapes only: what the runner's demux looks at (Tailscale's packetLooksLike). */
static size_t
make_stun(uint8_t *out)
{
    static const uint8_t header[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

    memcpy(out, header, sizeof(header));
    g_random_set_seed(1);
    for (int i = 8; i < 20; i++)
        out[i] = (uint8_t)g_random_int();
    return sizeof(header);
}

static size_t
make_disco(uint8_t *out, size_t len, uint8_t fill)
{
    g_assert_cmpuint(len, >=, 6 + 32 + 24 + 16);
    memset(out, fill, len);
    memcpy(out, "TS\xf0\x9f\x92\xac", 6);
    return len;
}

static void
assert_from(const struct wg_runner_event *e, const struct sockaddr_in *src)
{
    g_assert_cmpint(e->ep.addr.sa.sa_family, ==, AF_INET);
    g_assert_cmpuint(e->ep.addr.in4.sin_port, ==, src->sin_port);
    g_assert_cmpuint(e->ep.addr.in4.sin_addr.s_addr, ==, src->sin_addr.s_addr);
    g_assert_false(wg_endpoint_is_derp(&e->ep));
}

static void
test_rx_demux(void)
{
    struct pair p;
    struct sockaddr_in src;
    struct wg_runner_event *e;
    uint8_t stun[20], disco[120], wg[148] = { 1 }; /* a (bogus) handshake initiation */
    int fd;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    fd = udp_socket_bound("127.0.0.1", &src);
    /* In order: a STUN reply, a WireGuard message (the device's: no event), disco. */
    send_to_port(fd, stun, make_stun(stun), wg_runner_get_listen_port(p.a));
    send_to_port(fd, wg, sizeof(wg), wg_runner_get_listen_port(p.a));
    send_to_port(fd, disco, make_disco(disco, sizeof(disco), 0x5a), wg_runner_get_listen_port(p.a));

    e = next_event(p.a);
    g_assert_cmpint(e->kind, ==, WG_RUNNER_EVENT_STUN);
    assert_from(e, &src);
    g_assert_cmpmem(e->data, e->len, stun, sizeof(stun));
    free(e);
    e = next_event(p.a);
    g_assert_cmpint(e->kind, ==, WG_RUNNER_EVENT_DISCO);
    assert_from(e, &src);
    g_assert_cmpmem(e->data, e->len, disco, sizeof(disco));
    free(e);
    /* Empty again: the eventfd is no longer readable. */
    g_assert_null(wg_runner_event_pop(p.a));
    g_assert_false(fd_readable(wg_runner_event_fd(p.a), 0));
    g_assert_cmpuint(wg_runner_events_dropped(p.a), ==, 0);
    close(fd);
    pair_stop(&p);
}

/* ---- relay through the test, as through DERP --------------------------- */

struct pump {
    struct pair *p;
    int stop_fd;
    atomic_uint derp_a, derp_b; /* DERP_SEND events carried from a, from b */
    atomic_uint handshakes_a;   /* HANDSHAKE events from a naming b */
    atomic_uint other;          /* anything else: a failure */
    pthread_t thread;
};

static void
pump_one(struct pump *pp, struct wg_runner *from, struct wg_runner *to, const uint8_t from_key[32],
         const uint8_t to_key[32], atomic_uint *derp)
{
    struct wg_runner_event *e;

    while ((e = wg_runner_event_pop(from))) {
        if (e->kind == WG_RUNNER_EVENT_DERP_SEND && e->ep.derp_region == DERP_REGION &&
            memcmp(e->ep.derp_key, to_key, 32) == 0) {
            struct wg_endpoint src = { .derp_region = DERP_REGION };

            /* What the relay would say: these bytes came from from_key. */
            memcpy(src.derp_key, from_key, 32);
            wg_runner_rx_inject(to, e->data, e->len, &src);
            atomic_fetch_add(derp, 1);
        } else if (e->kind == WG_RUNNER_EVENT_HANDSHAKE && memcmp(e->peer_key, to_key, 32) == 0 &&
                   wg_endpoint_is_derp(&e->ep)) {
            if (from == pp->p->a)
                atomic_fetch_add(&pp->handshakes_a, 1);
        } else {
            atomic_fetch_add(&pp->other, 1);
        }
        free(e);
    }
}

static void *
pump_thread(void *arg)
{
    struct pump *pp = arg;
    struct pair *p = pp->p;

    for (;;) {
        struct pollfd pfd[3] = {
            { .fd = wg_runner_event_fd(p->a), .events = POLLIN },
            { .fd = wg_runner_event_fd(p->b), .events = POLLIN },
            { .fd = pp->stop_fd, .events = POLLIN },
        };

        if (poll(pfd, 3, -1) < 0 && errno != EINTR)
            break;
        if (pfd[2].revents)
            break;
        pump_one(pp, p->a, p->b, p->pub_a, p->pub_b, &pp->derp_a);
        pump_one(pp, p->b, p->a, p->pub_b, p->pub_a, &pp->derp_b);
    }
    return NULL;
}

struct server {
    int listen_fd;
    GChecksum *got; /* what the client sent */
    size_t got_len;
    size_t reply_len;
};

static gpointer
server_thread(gpointer arg)
{
    struct server *s = arg;
    uint8_t buf[16384];
    ssize_t n;
    size_t sent = 0;
    int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    g_assert_cmpint(c, >=, 0);
    while ((n = read(c, buf, sizeof(buf))) > 0) {
        g_checksum_update(s->got, buf, (gssize)n);
        s->got_len += (size_t)n;
    }
    g_assert_cmpint(n, ==, 0);
    memset(buf, 0xc3, sizeof(buf));
    while (sent < s->reply_len) {
        n = write(c, buf, MIN(sizeof(buf), s->reply_len - sent));
        g_assert_cmpint(n, >, 0);
        sent += (size_t)n;
    }
    close(c);
    return NULL;
}

static void
set_timeouts(int fd)
{
    struct timeval tv = { .tv_sec = WAIT_MS / 1000 };

    g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), ==, 0);
    g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), ==, 0);
}

/* Pin each runner's peer to a DERP endpoint naming the other's key. */
static void
pair_pin_derp(struct pair *p, struct wg_endpoint *via_a, struct wg_endpoint *via_b)
{
    *via_a = (struct wg_endpoint){ .derp_region = DERP_REGION };
    *via_b = *via_a;
    memcpy(via_b->derp_key, p->pub_b, 32);
    memcpy(via_a->derp_key, p->pub_a, 32);
    g_assert_cmpint(wg_runner_set_peer_endpoint(p->a, p->pub_b, via_b), ==, 0);
    g_assert_cmpint(wg_runner_set_peer_endpoint(p->b, p->pub_a, via_a), ==, 0);
}

static void
test_derp_relay(void)
{
    enum { SEND_LEN = 2 << 20, REPLY_LEN = 1 << 20, PORT = 5555 };
    struct pair p;
    struct pump pp = { .p = &p };
    struct server srv = { .reply_len = REPLY_LEN };
    struct wg_endpoint via_a = { .derp_region = DERP_REGION }, via_b = via_a;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(PORT) };
    g_autoptr(GChecksum) sent = g_checksum_new(G_CHECKSUM_SHA256);
    struct wg_runner_peer_stats st;
    GThread *server;
    uint8_t buf[16384];
    size_t total = 0, got = 0;
    ssize_t n;
    int one = 1, fd;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    pair_pin_derp(&p, &via_a, &via_b);
    g_assert_cmpint(wg_runner_set_peer_endpoint(p.a, p.pub_a, &via_b), ==, -ENOENT);
    /* Stats show the magic DERP address, as Tailscale does. */
    g_assert_cmpint(wg_runner_get_peer_stats(p.a, p.pub_b, &st), ==, 0);
    g_assert_true(st.has_endpoint);
    g_assert_cmpuint(ntohl(st.endpoint.in4.sin_addr.s_addr), ==, WG_DERP_MAGIC_IPV4);
    g_assert_cmpuint(ntohs(st.endpoint.in4.sin_port), ==, DERP_REGION);

    pp.stop_fd = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(pthread_create(&pp.thread, NULL, pump_thread, &pp), ==, 0);

    /* The server's socket lives in B. */
    fixture_netns_enter(&ns_b);
    srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fixture_netns_leave(&ns_b);
    g_assert_cmpint(srv.listen_fd, >=, 0);
    setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    g_assert_cmpint(inet_pton(AF_INET, IP_B, &addr.sin_addr), ==, 1);
    g_assert_cmpint(bind(srv.listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(srv.listen_fd, 1), ==, 0);
    srv.got = g_checksum_new(G_CHECKSUM_SHA256);
    server = g_thread_new("server", server_thread, &srv);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    set_timeouts(fd);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    for (size_t i = 0; total < SEND_LEN; i++) {
        memset(buf, (int)(i * 7), sizeof(buf));
        n = write(fd, buf, sizeof(buf));
        g_assert_cmpint(n, >, 0);
        g_checksum_update(sent, buf, n);
        total += (size_t)n;
    }
    g_assert_cmpint(shutdown(fd, SHUT_WR), ==, 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            g_assert_cmpuint(buf[i], ==, 0xc3);
        got += (size_t)n;
    }
    g_assert_cmpint(n, ==, 0);
    g_thread_join(server);
    close(fd);
    close(srv.listen_fd);
    g_assert_cmpuint(got, ==, REPLY_LEN);
    g_assert_cmpuint(srv.got_len, ==, total);
    g_assert_cmpstr(g_checksum_get_string(srv.got), ==, g_checksum_get_string(sent));
    g_checksum_free(srv.got);

    eventfd_write(pp.stop_fd, 1);
    pthread_join(pp.thread, NULL);
    close(pp.stop_fd);
    g_test_message("DERP_SEND events: %u from a, %u from b", atomic_load(&pp.derp_a),
                   atomic_load(&pp.derp_b));
    /* Everything went through the queue: both ways, initiation announced. */
    g_assert_cmpuint(atomic_load(&pp.derp_a), >, 100);
    g_assert_cmpuint(atomic_load(&pp.derp_b), >, 100);
    g_assert_cmpuint(atomic_load(&pp.handshakes_a), >=, 1);
    g_assert_cmpuint(atomic_load(&pp.other), ==, 0);
    g_assert_cmpint(wg_runner_get_peer_stats(p.b, p.pub_a, &st), ==, 0);
    g_assert_cmpuint(st.rx_bytes, >=, total);
    g_assert_cmpint(st.last_handshake_sec, >, 0);
    pair_stop(&p);
}

/* A veth pair between A and B: VETH_A, VETH_B. */
static void
veth_up(void)
{
    run("ip link add hyv-a type veth peer name hyv-b netns %s", ns_b.name);
    run("ip addr add " VETH_A "/24 dev hyv-a");
    run("ip link set hyv-a up");
    run("ip -n %s addr add " VETH_B "/24 dev hyv-b", ns_b.name);
    run("ip -n %s link set hyv-b up", ns_b.name);
}

static void
test_send_udp(void)
{
    struct pair p;
    struct wg_runner_event *e;
    union wg_sockaddr to = { .in4 = { .sin_family = AF_INET } };
    uint8_t disco[90];

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    veth_up();

    to.in4.sin_port = htons(wg_runner_get_listen_port(p.b));
    g_assert_cmpint(inet_pton(AF_INET, VETH_B, &to.in4.sin_addr), ==, 1);
    g_assert_cmpint(wg_runner_send_udp(p.a, disco, make_disco(disco, sizeof(disco), 0x11), &to), ==,
                    0);
    e = next_event(p.b);
    g_assert_cmpint(e->kind, ==, WG_RUNNER_EVENT_DISCO);
    g_assert_cmpmem(e->data, e->len, disco, sizeof(disco));
    /* From A's WireGuard socket: its address on the veth, its listen port. */
    g_assert_cmpuint(ntohs(e->ep.addr.in4.sin_port), ==, wg_runner_get_listen_port(p.a));
    g_assert_cmpuint(e->ep.addr.in4.sin_addr.s_addr, ==, inet_addr(VETH_A));
    free(e);
    to.sa.sa_family = AF_UNSPEC;
    g_assert_cmpint(wg_runner_send_udp(p.a, disco, sizeof(disco), &to), ==, -EAFNOSUPPORT);
    run("ip link del hyv-a");
    pair_stop(&p);
}

/* Datagrams the kernel dropped for a full socket buffer in this namespace (/proc/net/snmp). */
static uint64_t
udp_rcvbuf_errors(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    int col = -1;

    g_assert_true(g_file_get_contents("/proc/thread-self/net/snmp", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", -1);

        if (!g_str_equal(f[0], "Udp:"))
            continue;
        for (int j = 0; col < 0 && f[j]; j++)
            if (g_str_equal(f[j], "RcvbufErrors"))
                col = j;
        if (col >= 0 && g_ascii_isdigit(f[1][0]))
            return g_ascii_strtoull(f[col], NULL, 10);
    }
    g_assert_not_reached();
}

/*
 * Flood r's port with disco datagrams of len bytes (nobody pops) until the
 * queue drops, then until every datagram sent is accounted for: the kernel
 * dropped it, the queue dropped it, or it is one of the `fits` the queue
 * holds. Then the queue must hold exactly `fits`.
 */
static void
flood(struct wg_runner *r, size_t len, size_t fits)
{
    struct sockaddr_in src;
    struct wg_runner_event *e;
    g_autofree uint8_t *d = g_malloc(len);
    uint64_t dropped0 = wg_runner_events_dropped(r), kernel0 = udp_rcvbuf_errors(), sent = 0;
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
    size_t events = 0, bytes = 0;
    int fd = udp_socket_bound("127.0.0.1", &src);

    make_disco(d, len, 0x77);
    while (wg_runner_events_dropped(r) == dropped0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        for (int i = 0; i < 64; i++, sent++)
            send_to_port(fd, d, len, wg_runner_get_listen_port(r));
    }
    close(fd);
    /* Wait for the RX thread to have handled the rest (a hang guard bounds it). */
    while (wg_runner_events_dropped(r) - dropped0 + udp_rcvbuf_errors() - kernel0 + fits < sent) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    while ((e = wg_runner_event_pop(r))) {
        g_assert_cmpint(e->kind, ==, WG_RUNNER_EVENT_DISCO);
        events++;
        bytes += e->len;
        free(e);
    }
    g_test_message("%zu-byte flood: %" G_GUINT64_FORMAT " sent, %zu queued (%zu bytes), "
                   "%" G_GUINT64_FORMAT " dropped by the queue, %" G_GUINT64_FORMAT
                   " by the kernel",
                   len, sent, events, bytes, wg_runner_events_dropped(r) - dropped0,
                   udp_rcvbuf_errors() - kernel0);
    g_assert_cmpuint(events, ==, fits);
    g_assert_cmpuint(bytes, <=, WG_RUNNER_EVENT_QUEUE_BYTES);
    g_assert_false(fd_readable(wg_runner_event_fd(r), 0));
}

static void
test_queue_bound(void)
{
    struct pair p;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    /* Small datagrams: the event count binds; large ones: the bytes. */
    flood(p.a, 100, WG_RUNNER_EVENT_QUEUE_MAX);
    flood(p.a, 9000, WG_RUNNER_EVENT_QUEUE_BYTES / 9000);
    pair_stop(&p);
}

/* ---- the packet filter on real packets ----------------------------------- */

enum { PORT_OPEN = 5001, PORT_SHUT = 5002, UDP_A = 7000, UDP_B = 7001 };

/* Pin each runner's peer to the other's WireGuard socket across the veth. */
static void
pair_link_udp(struct pair *p)
{
    struct wg_endpoint to_a = { 0 }, to_b = { 0 };

    veth_up();
    to_a.addr.in4 = (struct sockaddr_in){ .sin_family = AF_INET,
                                          .sin_port = htons(wg_runner_get_listen_port(p->a)) };
    to_b.addr.in4 = (struct sockaddr_in){ .sin_family = AF_INET,
                                          .sin_port = htons(wg_runner_get_listen_port(p->b)) };
    g_assert_cmpint(inet_pton(AF_INET, VETH_A, &to_a.addr.in4.sin_addr), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET, VETH_B, &to_b.addr.in4.sin_addr), ==, 1);
    g_assert_cmpint(wg_runner_set_peer_endpoint(p->a, p->pub_b, &to_b), ==, 0);
    g_assert_cmpint(wg_runner_set_peer_endpoint(p->b, p->pub_a, &to_a), ==, 0);
}

/* A socket of type on IP_B:port, made inside B (TCP: listening; the kernel
 * completes handshakes from the backlog, nobody needs to accept). */
static int
socket_in_b(int type, uint16_t port)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1, fd;

    fixture_netns_enter(&ns_b);
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    fixture_netns_leave(&ns_b);
    g_assert_cmpint(fd, >=, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    g_assert_cmpint(inet_pton(AF_INET, IP_B, &addr.sin_addr), ==, 1);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    if (type == SOCK_STREAM)
        g_assert_cmpint(listen(fd, 64), ==, 0);
    return fd;
}

/* connect() from A to IP_B:port: 0 or its errno (bounded by WAIT_MS). */
static int
connect_errno(uint16_t port)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

    set_timeouts(fd);
    g_assert_cmpint(inet_pton(AF_INET, IP_B, &addr.sin_addr), ==, 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        err = errno;
    close(fd);
    return err;
}

/* B's filter: it is IP_B; IP_A may open TCP port `port`, nothing else. */
static struct pf_filter *
filter_allowing(uint16_t port)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix me = { .addr = { .family = AF_INET }, .bits = 32 }, a = me;
    struct pf_dst dst = { .port_first = port, .port_last = port };
    uint8_t tcp = IPPROTO_TCP;
    struct pf_rule r = {
        .id = 7, .srcs = &a, .n_srcs = 1, .dsts = &dst, .n_dsts = 1, .protos = &tcp, .n_protos = 1
    };
    struct pf_filter *f;
    int err = 0;

    g_assert_cmpint(inet_pton(AF_INET, IP_B, me.addr.bytes), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET, IP_A, a.addr.bytes), ==, 1);
    dst.net = me;
    g_assert_cmpint(pf_builder_add_local(b, &me), ==, 0);
    g_assert_cmpint(pf_builder_add_rule(b, &r), ==, 0);
    f = pf_builder_finish(b, &err);
    g_assert_nonnull(f);
    return f;
}

/* Allowed port connects; the other fails at once with our RST; counters count. */
static void
check_tcp_filtered(struct wg_runner *b)
{
    struct pf_stats *s = NULL;
    uint64_t rejects = wg_runner_filter_rejects_sent(b);

    g_assert_cmpint(connect_errno(PORT_OPEN), ==, 0);
    g_assert_cmpint(connect_errno(PORT_SHUT), ==, ECONNREFUSED);
    g_assert_cmpuint(wg_runner_filter_rejects_sent(b), >, rejects);
    g_assert_cmpint(wg_runner_filter_stats(b, &s), ==, 0);
    g_assert_cmpuint(s->n_rules, ==, 1);
    g_assert_cmpuint(s->rules[0].id, ==, 7);
    g_assert_cmpuint(s->rules[0].accepts, >=, 1);
    g_assert_cmpuint(s->rules[0].drops, >=, 1); /* IP_A, the wrong port */
    g_assert_cmpuint(s->accepts[PF_R_TCP_ESTABLISHED], >=, 1);
    free(s);
}

static uint64_t
rule_drops(struct wg_runner *r)
{
    struct pf_stats *s = NULL;
    uint64_t n;

    g_assert_cmpint(wg_runner_filter_stats(r, &s), ==, 0);
    n = s->drops[PF_R_RULE];
    free(s);
    return n;
}

/* TSMP (IP protocol 99) from A passes B's filter but never reaches B's
 * kernel: a raw socket there sees nothing, though a later SYN (sent after
 * it over the same path) got through. */
static void
check_tsmp_consumed(void)
{
    struct sockaddr_in to = { .sin_family = AF_INET };
    static const uint8_t ping[9] = { 'p', 1, 2, 3, 4, 5, 6, 7, 8 }; /* a TSMP ping */
    uint8_t buf[64];
    int tx = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, PF_PROTO_TSMP), rx;

    fixture_netns_enter(&ns_b);
    rx = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, PF_PROTO_TSMP);
    fixture_netns_leave(&ns_b);
    g_assert_cmpint(tx, >=, 0);
    g_assert_cmpint(rx, >=, 0);
    g_assert_cmpint(inet_pton(AF_INET, IP_B, &to.sin_addr), ==, 1);
    g_assert_cmpint(sendto(tx, ping, sizeof(ping), 0, (struct sockaddr *)&to, sizeof(to)), ==,
                    sizeof(ping));
    g_assert_cmpint(connect_errno(PORT_OPEN), ==, 0);
    g_assert_cmpint(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), ==, -1);
    close(tx);
    close(rx);
}

struct swapper {
    struct wg_runner *r;
    atomic_bool stop;
    unsigned swaps;
};

static void *
swap_thread(void *arg)
{
    struct swapper *sw = arg;

    while (!atomic_load(&sw->stop)) {
        struct pf_stats *s;

        wg_runner_set_filter(sw->r, filter_allowing(PORT_OPEN));
        if (wg_runner_filter_stats(sw->r, &s) == 0)
            free(s);
        sw->swaps++;
    }
    return NULL;
}

static void
test_filter_udp_path(void)
{
    enum { SEND_LEN = 4 << 20 };
    struct pair p;
    struct pf_stats *s = NULL;
    struct sockaddr_in a_addr, b_addr = { .sin_family = AF_INET, .sin_port = htons(UDP_B) };
    struct server srv = { .reply_len = 1 };
    struct swapper sw = { 0 };
    pthread_t swapper;
    GThread *server;
    uint8_t buf[16384] = { 0 };
    char got[32];
    size_t total = 0;
    ssize_t n;
    int open_fd, shut_fd, ua, ub, fd;
    uint64_t drops;
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    pair_link_udp(&p);
    open_fd = socket_in_b(SOCK_STREAM, PORT_OPEN);
    shut_fd = socket_in_b(SOCK_STREAM, PORT_SHUT);
    g_assert_cmpint(wg_runner_filter_stats(p.b, &s), ==, -ENOENT);
    /* No filter: everything passes (as before a PacketFilter arrives). */
    g_assert_cmpint(connect_errno(PORT_SHUT), ==, 0);

    wg_runner_set_filter(p.b, filter_allowing(PORT_OPEN));
    check_tcp_filtered(p.b);
    check_tsmp_consumed();

    /* UDP to B needs a rule or B's own flow: the first datagram is dropped,
     * the one after B wrote to A passes. */
    ua = udp_socket_bound(IP_A, &a_addr);
    set_timeouts(ua);
    ub = socket_in_b(SOCK_DGRAM, UDP_B);
    set_timeouts(ub);
    g_assert_cmpint(inet_pton(AF_INET, IP_B, &b_addr.sin_addr), ==, 1);
    drops = rule_drops(p.b);
    g_assert_cmpint(sendto(ua, "first", 5, 0, (struct sockaddr *)&b_addr, sizeof(b_addr)), ==, 5);
    /* B must have judged "first" before its own datagram opens the flow. */
    while (rule_drops(p.b) == drops) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    g_assert_cmpint(sendto(ub, "out", 3, 0, (struct sockaddr *)&a_addr, sizeof(a_addr)), ==, 3);
    g_assert_cmpint(recv(ua, got, sizeof(got), 0), ==, 3);
    g_assert_cmpint(sendto(ua, "second", 6, 0, (struct sockaddr *)&b_addr, sizeof(b_addr)), ==, 6);
    n = recv(ub, got, sizeof(got), 0);
    g_assert_cmpmem(got, n, "second", 6);
    g_assert_cmpint(recv(ub, got, sizeof(got), MSG_DONTWAIT), ==, -1);
    g_assert_cmpint(wg_runner_filter_stats(p.b, &s), ==, 0);
    g_assert_cmpuint(s->accepts[PF_R_FLOW], >=, 1);
    g_assert_cmpuint(s->drops[PF_R_RULE], >=, 2); /* the SYN to PORT_SHUT, "first" */
    free(s);

    /* Filters swapped under a transfer: nothing lost, nothing used after free.
     * A fresh listener: the checks' connections may still be completing into
     * the old one's accept queue (their last ACK crosses the tunnel after
     * connect() returned), and the server must accept the transfer's. */
    close(open_fd);
    open_fd = socket_in_b(SOCK_STREAM, PORT_OPEN);
    srv.listen_fd = open_fd;
    srv.got = g_checksum_new(G_CHECKSUM_SHA256);
    server = g_thread_new("server", server_thread, &srv);
    sw.r = p.b;
    g_assert_cmpint(pthread_create(&swapper, NULL, swap_thread, &sw), ==, 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    set_timeouts(fd);
    b_addr.sin_port = htons(PORT_OPEN);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&b_addr, sizeof(b_addr)), ==, 0);
    while (total < SEND_LEN) {
        n = write(fd, buf, sizeof(buf));
        g_assert_cmpint(n, >, 0);
        total += (size_t)n;
    }
    g_assert_cmpint(shutdown(fd, SHUT_WR), ==, 0);
    g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, 1);
    atomic_store(&sw.stop, true);
    pthread_join(swapper, NULL);
    g_thread_join(server);
    g_checksum_free(srv.got);
    g_assert_cmpuint(srv.got_len, ==, total);
    g_test_message("%u filter swaps during a %zu-byte transfer", sw.swaps, total);
    g_assert_cmpuint(sw.swaps, >, 0);
    close(fd);

    /* No filter again: the shut port connects. */
    wg_runner_set_filter(p.b, NULL);
    g_assert_cmpint(connect_errno(PORT_SHUT), ==, 0);
    close(ua);
    close(ub);
    close(open_fd);
    close(shut_fd);
    run("ip link del hyv-a");
    pair_stop(&p);
}

/* Over DERP (wg_runner_rx_inject): the same filter, the RST back through DERP_SEND. */
static void
test_filter_derp_path(void)
{
    struct pair p;
    struct pump pp = { .p = &p };
    struct wg_endpoint via_a, via_b;
    int open_fd, shut_fd;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    pair_pin_derp(&p, &via_a, &via_b);
    pp.stop_fd = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(pthread_create(&pp.thread, NULL, pump_thread, &pp), ==, 0);
    open_fd = socket_in_b(SOCK_STREAM, PORT_OPEN);
    shut_fd = socket_in_b(SOCK_STREAM, PORT_SHUT);

    wg_runner_set_filter(p.b, filter_allowing(PORT_OPEN));
    check_tcp_filtered(p.b);

    eventfd_write(pp.stop_fd, 1);
    pthread_join(pp.thread, NULL);
    close(pp.stop_fd);
    g_assert_cmpuint(atomic_load(&pp.other), ==, 0);
    close(open_fd);
    close(shut_fd);
    pair_stop(&p);
}

/* ---- MagicDNS intercept ----------------------------------------------------- */

/* The reply to a query packet q (as the event carried it): addresses and
 * ports swapped, payload replaced, checksums right. Returns its length. */
static size_t
make_answer(uint8_t *out, const uint8_t *q, size_t q_len, const char *payload)
{
    size_t plen = strlen(payload), ip = (q[0] >> 4) == 4 ? 20 : 40, alen = ip == 20 ? 4 : 16;
    const uint8_t *qsrc = q + (ip == 20 ? 12 : 8), *qdst = qsrc + alen;
    uint8_t *u = out + ip;
    uint32_t acc;

    g_assert_cmpuint(q_len, >=, ip + 8);
    memcpy(out, q, ip);
    memcpy(out + (ip == 20 ? 12 : 8), qdst, alen);
    memcpy(out + (ip == 20 ? 12 : 8) + alen, qsrc, alen);
    memcpy(u, q + ip + 2, 2); /* sport = the query's dport */
    memcpy(u + 2, q + ip, 2);
    u[4] = (uint8_t)((8 + plen) >> 8);
    u[5] = (uint8_t)(8 + plen);
    u[6] = u[7] = 0;
    memcpy(u + 8, payload, plen);
    if (ip == 20) {
        out[2] = (uint8_t)((20 + 8 + plen) >> 8);
        out[3] = (uint8_t)(20 + 8 + plen);
        out[10] = out[11] = 0;
        acc = ref_fold(ref_sum(out, 20, 0));
        out[10] = (uint8_t)(acc >> 8);
        out[11] = (uint8_t)acc;
    } else {
        out[4] = (uint8_t)((8 + plen) >> 8);
        out[5] = (uint8_t)(8 + plen);
    }
    acc = ref_sum(out + (ip == 20 ? 12 : 8), 2 * alen, IPPROTO_UDP + 8 + (uint32_t)plen);
    acc = ref_fold(ref_sum(u, 8 + plen, acc));
    if (acc == 0)
        acc = 0xffff;
    u[6] = (uint8_t)(acc >> 8);
    u[7] = (uint8_t)acc;
    return ip + 8 + plen;
}

/* Send a query from fd to dst:53 (and first a datagram to dst:54, which is not
 * DNS); the DNS event carries the query; the injected answer reaches fd. */
static void
check_dns(struct wg_runner *a, int fd, const struct sockaddr *dst, socklen_t dst_len,
          const char *query)
{
    struct sockaddr_storage to;
    struct wg_runner_event *e;
    uint8_t answer[256];
    char got[64];
    size_t ip;

    memcpy(&to, dst, dst_len);
    ((struct sockaddr_in *)&to)->sin_port = htons(54); /* same offset in sockaddr_in6 */
    g_assert_cmpint(sendto(fd, "x", 1, 0, (struct sockaddr *)&to, dst_len), ==, 1);
    ((struct sockaddr_in *)&to)->sin_port = htons(53);
    g_assert_cmpint(sendto(fd, query, strlen(query), 0, (struct sockaddr *)&to, dst_len), ==,
                    (ssize_t)strlen(query));
    e = next_event(a);
    g_assert_cmpint(e->kind, ==, WG_RUNNER_EVENT_DNS);
    ip = (e->data[0] >> 4) == 4 ? 20 : 40;
    g_assert_cmpuint(e->len, ==, ip + 8 + strlen(query));
    g_assert_cmpuint(e->data[ip + 2] << 8 | e->data[ip + 3], ==, 53);
    g_assert_cmpmem(e->data + ip + 8, e->len - ip - 8, query, strlen(query));
    g_assert_cmpint(wg_runner_tun_inject(a, answer, make_answer(answer, e->data, e->len, "answer")),
                    ==, 0);
    free(e);
    g_assert_cmpint(recv(fd, got, sizeof(got), 0), ==, 6);
    g_assert_cmpmem(got, 6, "answer", 6);
    g_assert_null(wg_runner_event_pop(a));
}

static void
test_dns_intercept(void)
{
    struct pair p;
    struct sockaddr_in q4 = { .sin_family = AF_INET }, me4;
    struct sockaddr_in6 q6 = { .sin6_family = AF_INET6 }, me6 = { .sin6_family = AF_INET6 };
    uint8_t junk[8] = { 0x45 };
    int fd4, fd6;

    if (!fixture_netns_ready(&ns_a))
        return;
    pair_start(&p);
    run("ip route add 100.100.100.100/32 dev " TUN_A);
    run("ip -6 addr add fd7a:115c:a1e0::1/128 dev " TUN_A " nodad");
    run("ip -6 route add fd7a:115c:a1e0::53/128 dev " TUN_A);
    g_assert_cmpint(inet_pton(AF_INET, "100.100.100.100", &q4.sin_addr), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET6, "fd7a:115c:a1e0::53", &q6.sin6_addr), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET6, "fd7a:115c:a1e0::1", &me6.sin6_addr), ==, 1);

    fd4 = udp_socket_bound(IP_A, &me4);
    set_timeouts(fd4);
    check_dns(p.a, fd4, (struct sockaddr *)&q4, sizeof(q4), "query-v4");
    fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(fd6, (struct sockaddr *)&me6, sizeof(me6)), ==, 0);
    set_timeouts(fd6);
    check_dns(p.a, fd6, (struct sockaddr *)&q6, sizeof(q6), "query-v6");
    /* Not an IP packet: refused. */
    g_assert_cmpint(wg_runner_tun_inject(p.a, junk, sizeof(junk)), ==, -EINVAL);
    close(fd4);
    close(fd6);
    pair_stop(&p);
}

int
main(int argc, char **argv)
{
    int ret;

    fixture_netns_init();
    fixture_netns_setup(&ns_a, NULL);
    if (ns_a.name) {
        fixture_netns_setup(&ns_b, NULL); /* entered: back to A */
        fixture_netns_leave(&ns_b);
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wg-runner-magicsock/rx-demux", test_rx_demux);
    g_test_add_func("/wg-runner-magicsock/derp-relay", test_derp_relay);
    g_test_add_func("/wg-runner-magicsock/send-udp", test_send_udp);
    g_test_add_func("/wg-runner-magicsock/queue-bound", test_queue_bound);
    g_test_add_func("/wg-runner-magicsock/filter-udp-path", test_filter_udp_path);
    g_test_add_func("/wg-runner-magicsock/filter-derp-path", test_filter_derp_path);
    g_test_add_func("/wg-runner-magicsock/dns-intercept", test_dns_intercept);
    ret = g_test_run();
    fixture_netns_teardown(&ns_b, NULL);
    fixture_netns_teardown(&ns_a, NULL);
    return ret;
}
