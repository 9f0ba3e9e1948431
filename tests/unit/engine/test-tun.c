/* SPDX-License-Identifier: MIT */
/*
 * A real TUN with offloads, inside a fresh network namespace for each test
 * (fixture-netns.h: the host is never touched and cleanup is the namespace
 * going away).
 *
 * TX: a kernel TCP client talks to a fake peer written here; the reads must
 * include a TSO super-packet, which offload_split turns into valid packets.
 * RX: the fake peer's segments go through GRO and are written as one GSO
 * packet; the kernel must deliver the bytes to a TCP (and UDP) socket.
 * No timing assumptions: every wait is a poll on a condition, with a long
 * timeout only to turn a hang into a failure.
 *
 * Needs root and /dev/net/tun; skipped otherwise, unless $CI is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture-missing.h"
#include "fixture-netns.h"
#include "packet-ref.h"
#include "tun/offload.h"
#include "tun/tun.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum {
    VNET = TUN_VNET_HDR_LEN,
    MTU = 1420,
    WAIT_MS = 10000,
    N_TX = 300000,
    SLOT_CAP = 2048,
    N_SLOTS = 128,
};

#define IFNAME     "hyt0"
#define LOCAL_ADDR 0x0a4d0001u /* 10.77.0.1, the TUN's address */
#define PEER_ADDR  0x0a4d0002u /* 10.77.0.2, routed into the TUN */

static uint8_t pattern[N_TX];

/* ---- independent packet helpers (RFC 1071 / 791 / 9293 / 768) ---- */

static bool
pkt_csums_ok(const uint8_t *p, size_t len)
{
    size_t iph = (size_t)(p[0] & 15) * 4;

    if (len < iph || ref_fold(ref_sum(p, iph, 0)) != 0)
        return false;
    return ref_fold(ref_sum(p + iph, len - iph,
                            ref_sum(p + 12, 8, 0) + p[9] + (uint32_t)(len - iph))) == 0;
}

/* IPv4 TCP (proto 6) or UDP (17) packet with valid checksums. */
static size_t
mk4(uint8_t *out, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
    uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *opt, size_t optlen, const uint8_t *pl,
    size_t plen, uint16_t id)
{
    size_t l4h = proto == 6 ? 20 + optlen : 8, len = 20 + l4h + plen;
    uint8_t *l4 = out + 20;
    uint16_t c;

    memset(out, 0, 20 + l4h);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)len);
    put16(out + 4, id);
    put16(out + 6, 0x4000);
    out[8] = 64;
    out[9] = proto;
    put32(out + 12, src);
    put32(out + 16, dst);
    put16(out + 10, ref_fold(ref_sum(out, 20, 0)));
    put16(l4, sport);
    put16(l4 + 2, dport);
    if (proto == 6) {
        put32(l4 + 4, seq);
        put32(l4 + 8, ack);
        l4[12] = (uint8_t)((l4h / 4) << 4);
        l4[13] = flags;
        put16(l4 + 14, 65535);
        if (optlen)
            memcpy(l4 + 20, opt, optlen);
    } else {
        put16(l4 + 4, (uint16_t)(len - 20));
    }
    if (plen)
        memcpy(out + 20 + l4h, pl, plen);
    c = ref_fold(ref_sum(l4, len - 20, ref_sum(out + 12, 8, 0) + proto + (uint32_t)(len - 20)));
    put16(l4 + (proto == 6 ? 16 : 6), proto == 17 && c == 0 ? 0xffff : c);
    return len;
}

/* Plain write: zeroed vnet header, complete checksums. */
static void
tun_write_plain(int fd, const uint8_t *pkt, size_t len)
{
    g_autofree uint8_t *b = g_malloc0(VNET + len);

    memcpy(b + VNET, pkt, len);
    g_assert_cmpint(write(fd, b, VNET + len), ==, (ssize_t)(VNET + len));
}

static size_t
tun_read_wait(int fd, uint8_t *buf)
{
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    ssize_t n;

    g_assert_cmpint(poll(&pf, 1, WAIT_MS), ==, 1);
    n = read(fd, buf, TUN_MAX_READ);
    g_assert_cmpint(n, >, VNET);
    return (size_t)n;
}

static void
wait_fd(int fd, short events)
{
    struct pollfd pf = { .fd = fd, .events = events };

    g_assert_cmpint(poll(&pf, 1, WAIT_MS), ==, 1);
}

/* ---- namespace and interface setup ---- */

static void
if_set(int s, const char *name, unsigned long req, struct ifreq *ifr)
{
    g_strlcpy(ifr->ifr_name, name, IFNAMSIZ);
    g_assert_cmpint(ioctl(s, req, ifr), ==, 0);
}

static void
if_up(int s, const char *name)
{
    struct ifreq ifr = { 0 };

    if_set(s, name, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    if_set(s, name, SIOCSIFFLAGS, &ifr);
}

static void
setup_tun(struct tun *t)
{
    struct ifreq ifr = { 0 };
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    int s;
    FILE *f;

    g_assert_cmpint(tun_open(t, IFNAME), ==, 0);
    g_assert_cmpint(t->fd, >=, 0);
    g_assert_true(t->vnet_hdr);
    g_assert_cmpstr(t->name, ==, IFNAME);
    g_printerr("# %s offloads: tso=%d uso=%d\n", t->name, t->tso, t->uso);

    /* No IPv6 chatter (router solicitations, MLD) on the TUN; harmless if it fails. */
    f = fopen("/proc/sys/net/ipv6/conf/" IFNAME "/disable_ipv6", "w");
    if (f) {
        fputs("1", f);
        fclose(f);
    }

    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(s, >=, 0);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(LOCAL_ADDR);
    if_set(s, IFNAME, SIOCSIFADDR, &ifr);
    memset(&ifr, 0, sizeof(ifr));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(0xffffff00u);
    if_set(s, IFNAME, SIOCSIFNETMASK, &ifr);
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_mtu = MTU;
    if_set(s, IFNAME, SIOCSIFMTU, &ifr);
    if_up(s, IFNAME);
    close(s);
    g_assert_cmpint(tun_get_mtu(t), ==, MTU);
}

static struct sockaddr_in
sa4(uint32_t addr, uint16_t port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(addr) };

    return sa;
}

/* In the fixture's namespace, with a TUN device to open. */
static bool
tun_ready(const FixtureNetns *ns)
{
    if (!fixture_netns_ready(ns))
        return false;
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        fixture_missing("needs /dev/net/tun");
        return false;
    }
    return true;
}

/* ---- tests ---- */

static void
test_open(FixtureNetns *ns, gconstpointer unused)
{
    struct tun t;

    if (!tun_ready(ns))
        return;
    setup_tun(&t);
    /* this kernel (≥ 6.2) takes CSUM|TSO4|TSO6|USO4|USO6 */
    g_assert_true(t.tso);
    tun_close(&t);
    g_assert_cmpint(t.fd, ==, -1);
    tun_close(&t);
    g_assert_cmpint(tun_open(&t, "this-name-is-too-long"), ==, -EINVAL);
    g_assert_cmpint(t.fd, ==, -1);
    /* no name: the kernel picks one; the fd is close-on-exec */
    g_assert_cmpint(tun_open(&t, NULL), ==, 0);
    g_assert_true(g_str_has_prefix(t.name, "tun"));
    g_assert_cmpint(fcntl(t.fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    g_assert_cmpint(tun_get_mtu(&t), >, 0);
    tun_close(&t);
}

/* Kernel TCP client -> TUN -> fake peer: TSO reads are split into valid packets. */
static void
test_tcp_tx_split(FixtureNetns *ns, gconstpointer unused)
{
    static const uint8_t mss_opt[4] = { 2, 4, 1380 >> 8, 1380 & 0xff };
    g_autofree uint8_t *rb = g_malloc(TUN_MAX_READ);
    g_autofree uint8_t *mem = NULL;
    struct pkt_slot slots[N_SLOTS];
    struct sockaddr_in dst = sa4(PEER_ADDR, 5001);
    struct tun t;
    uint8_t out[128];
    uint32_t isn = 0, rcv_nxt = 0, peer_isn = 7000;
    uint16_t sport = 0;
    size_t sent = 0, got = 0, i;
    unsigned gso_reads = 0, max_segs = 0;
    bool syn_seen = false;
    int sock;

    if (!tun_ready(ns))
        return;
    setup_tun(&t);
    mem = g_malloc(N_SLOTS * SLOT_CAP);
    for (i = 0; i < N_SLOTS; i++)
        slots[i].data = mem + i * SLOT_CAP;

    sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g_assert_cmpint(sock, >=, 0);
    g_assert_cmpint(connect(sock, (struct sockaddr *)&dst, sizeof(dst)), ==, -1);
    g_assert_cmpint(errno, ==, EINPROGRESS);

    while (got < N_TX) {
        struct pollfd pf[2] = { { .fd = t.fd, .events = POLLIN },
                                { .fd = sock, .events = sent < N_TX ? POLLOUT : 0 } };
        bool need_ack = false;

        g_assert_cmpint(poll(pf, 2, WAIT_MS), >, 0);
        g_assert_false(pf[1].revents & (POLLERR | POLLHUP));
        if (pf[1].revents & POLLOUT) {
            ssize_t n = send(sock, pattern + sent, N_TX - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

            if (n < 0)
                g_assert_cmpint(errno, ==, EAGAIN);
            else
                sent += (size_t)n;
        }
        if (pf[0].revents & POLLIN) {
            size_t n = tun_read_wait(t.fd, rb);
            struct virtio_net_hdr_v1 h;
            int k;

            memcpy(&h, rb, VNET);
            k = offload_split(rb, n, slots, N_SLOTS, SLOT_CAP);
            g_assert_cmpint(k, >, 0);
            if (h.gso_type != VNET_HDR_GSO_NONE && rb[VNET] >> 4 == 4) {
                g_assert_cmpuint(h.gso_type, ==, VNET_HDR_GSO_TCPV4);
                gso_reads++;
                max_segs = MAX(max_segs, (unsigned)k);
            }
            for (i = 0; i < (size_t)k; i++) {
                const uint8_t *p = slots[i].data, *l4 = p + 20;
                size_t len = slots[i].len, plen;
                uint32_t seq;

                if (p[0] != 0x45 || p[9] != 6 || get32(p + 16) != PEER_ADDR ||
                    get16(l4 + 2) != 5001)
                    continue;
                g_assert_cmpuint(len, <=, MTU);
                g_assert_cmpuint(get16(p + 2), ==, len);
                g_assert_true(pkt_csums_ok(p, len));
                seq = get32(l4 + 4);
                plen = len - 20 - (size_t)(l4[12] >> 4) * 4;
                if (l4[13] & 0x02) { /* SYN: answer SYN|ACK with MSS 1380 */
                    g_assert_false(syn_seen);
                    syn_seen = true;
                    isn = seq;
                    rcv_nxt = isn + 1;
                    sport = get16(l4);
                    tun_write_plain(t.fd, out,
                                    mk4(out, 6, PEER_ADDR, LOCAL_ADDR, 5001, sport, peer_isn,
                                        rcv_nxt, 0x12, mss_opt, 4, NULL, 0, 1));
                    continue;
                }
                g_assert_true(syn_seen);
                if (plen == 0)
                    continue;
                if (seq == rcv_nxt) {
                    g_assert_cmpuint(got + plen, <=, N_TX);
                    g_assert_cmpmem(p + len - plen, plen, pattern + got, plen);
                    got += plen;
                    rcv_nxt += (uint32_t)plen;
                } else {
                    g_assert_cmpint((int32_t)(seq - rcv_nxt), <, 0); /* a retransmission */
                }
                need_ack = true;
            }
        }
        if (need_ack)
            tun_write_plain(t.fd, out,
                            mk4(out, 6, PEER_ADDR, LOCAL_ADDR, 5001, sport, peer_isn + 1, rcv_nxt,
                                0x10, NULL, 0, NULL, 0, 2));
    }
    g_printerr("# TX: %u GSO reads, up to %u segments\n", gso_reads, max_segs);
    g_assert_cmpuint(gso_reads, >, 0);
    g_assert_cmpuint(max_segs, >=, 2);
    close(sock);
    tun_close(&t);
}

struct tun_writer {
    int fd;
    unsigned writes;
    unsigned gso_writes;
};

static int
tun_write_fn(void *ctx, const uint8_t *buf, size_t len)
{
    struct tun_writer *w = ctx;
    struct virtio_net_hdr_v1 h;
    ssize_t n;

    memcpy(&h, buf, VNET);
    w->writes++;
    if (h.gso_type != VNET_HDR_GSO_NONE)
        w->gso_writes++;
    n = write(w->fd, buf, len);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

/* Fake peer -> GRO -> one GSO write -> kernel TCP server receives every byte. */
static void
test_tcp_rx_gro(FixtureNetns *ns, gconstpointer unused)
{
    static const uint8_t mss_opt[4] = { 2, 4, 1380 >> 8, 1380 & 0xff };
    enum { SEGS = 20, SEG = 1200 };
    g_autofree uint8_t *rb = g_malloc(TUN_MAX_READ);
    g_autofree uint8_t *rx = g_malloc(SEGS * SEG);
    struct sockaddr_in bind_sa = sa4(LOCAL_ADDR, 5002);
    struct offload_gro *g;
    struct tun_writer w = { 0 };
    struct tun t;
    uint8_t pkt[1600];
    uint32_t srv_isn = 0, seq = 9000;
    size_t got = 0, i;
    int lsock, csock, one = 1;

    if (!tun_ready(ns))
        return;
    setup_tun(&t);
    w.fd = t.fd;
    g = offload_gro_new(t.tso, t.uso);
    g_assert_nonnull(g);

    lsock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g_assert_cmpint(setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), ==, 0);
    g_assert_cmpint(bind(lsock, (struct sockaddr *)&bind_sa, sizeof(bind_sa)), ==, 0);
    g_assert_cmpint(listen(lsock, 1), ==, 0);

    /* SYN from the peer; wait for the SYN|ACK */
    tun_write_plain(
        t.fd, pkt,
        mk4(pkt, 6, PEER_ADDR, LOCAL_ADDR, 6000, 5002, seq, 0, 0x02, mss_opt, 4, NULL, 0, 10));
    for (;;) {
        struct pkt_slot s = { pkt, 0 };
        size_t n = tun_read_wait(t.fd, rb);

        if (offload_split(rb, n, &s, 1, sizeof(pkt)) != 1)
            continue;
        if (pkt[0] == 0x45 && pkt[9] == 6 && get16(pkt + 20) == 5002 && pkt[20 + 13] == 0x12) {
            g_assert_true(pkt_csums_ok(pkt, s.len));
            srv_isn = get32(pkt + 24);
            g_assert_cmpuint(get32(pkt + 28), ==, seq + 1);
            break;
        }
    }
    seq++;

    /* handshake ACK and SEGS data segments, all through GRO: two writes */
    g_assert_cmpint(offload_gro_add(g, pkt,
                                    mk4(pkt, 6, PEER_ADDR, LOCAL_ADDR, 6000, 5002, seq, srv_isn + 1,
                                        0x10, NULL, 0, NULL, 0, 11)),
                    ==, 0);
    for (i = 0; i < SEGS; i++) {
        size_t len =
            mk4(pkt, 6, PEER_ADDR, LOCAL_ADDR, 6000, 5002, seq + (uint32_t)(i * SEG), srv_isn + 1,
                i == SEGS - 1 ? 0x18 : 0x10, NULL, 0, pattern + i * SEG, SEG, (uint16_t)(12 + i));

        g_assert_cmpint(offload_gro_add(g, pkt, len), ==, 0);
    }
    g_assert_cmpint(offload_gro_flush(g, tun_write_fn, &w), ==, 0);
    g_printerr("# RX TCP: %u writes, %u GSO\n", w.writes, w.gso_writes);
    if (t.tso) {
        g_assert_cmpuint(w.writes, ==, 2);
        g_assert_cmpuint(w.gso_writes, ==, 1);
    }

    wait_fd(lsock, POLLIN);
    csock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(csock, >=, 0);
    while (got < SEGS * SEG) {
        ssize_t n;

        wait_fd(csock, POLLIN);
        n = recv(csock, rx + got, SEGS * SEG - got, MSG_DONTWAIT);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
    g_assert_cmpmem(rx, SEGS * SEG, pattern, SEGS * SEG);

    close(csock);
    close(lsock);
    offload_gro_free(g);
    tun_close(&t);
}

/* USO both ways: a UDP_SEGMENT send reads as one UDP_L4 packet; GRO writes one back. */
static void
test_udp_uso(FixtureNetns *ns, gconstpointer unused)
{
    enum { DGRAMS = 10, DSIZE = 1000, TAIL = 10 };
    g_autofree uint8_t *rb = g_malloc(TUN_MAX_READ);
    g_autofree uint8_t *mem = NULL;
    struct pkt_slot slots[N_SLOTS];
    struct sockaddr_in dst = sa4(PEER_ADDR, 5004), bind_sa = sa4(LOCAL_ADDR, 5003);
    struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
    struct offload_gro *g;
    struct tun_writer w = { 0 };
    struct tun t;
    uint8_t pkt[1600], buf[2048];
    int s, seg = DSIZE, k = 0;
    size_t i;

    if (!tun_ready(ns))
        return;
    setup_tun(&t);
    if (!t.uso) {
        g_test_skip("kernel without TUN USO (< 6.2)");
        tun_close(&t);
        return;
    }
    mem = g_malloc(N_SLOTS * SLOT_CAP);
    for (i = 0; i < N_SLOTS; i++)
        slots[i].data = mem + i * SLOT_CAP;

    /* TX: one GSO send of 10 × 1000 */
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)), ==, 0);
    g_assert_cmpint(sendto(s, pattern, DGRAMS * DSIZE, 0, (struct sockaddr *)&dst, sizeof(dst)), ==,
                    DGRAMS * DSIZE);
    close(s);
    for (;;) {
        size_t n = tun_read_wait(t.fd, rb);
        struct virtio_net_hdr_v1 h;

        memcpy(&h, rb, VNET);
        if (rb[VNET] != 0x45 || rb[VNET + 9] != 17)
            continue;
        g_assert_cmpuint(h.gso_type, ==, VNET_HDR_GSO_UDP_L4);
        g_assert_cmpuint(h.gso_size, ==, DSIZE);
        k = offload_split(rb, n, slots, N_SLOTS, SLOT_CAP);
        break;
    }
    g_assert_cmpint(k, ==, DGRAMS);
    for (i = 0; i < DGRAMS; i++) {
        g_assert_cmpuint(slots[i].len, ==, 28 + DSIZE);
        g_assert_true(pkt_csums_ok(slots[i].data, slots[i].len));
        g_assert_cmpuint(get16(slots[i].data + 22), ==, 5004);
        g_assert_cmpmem(slots[i].data + 28, DSIZE, pattern + i * DSIZE, DSIZE);
    }

    /* RX: 10 × 1000 + a short tail, coalesced into one write */
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(s, (struct sockaddr *)&bind_sa, sizeof(bind_sa)), ==, 0);
    g_assert_cmpint(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), ==, 0);
    g = offload_gro_new(t.tso, t.uso);
    w.fd = t.fd;
    for (i = 0; i <= DGRAMS; i++) {
        size_t len = mk4(pkt, 17, PEER_ADDR, LOCAL_ADDR, 6001, 5003, 0, 0, 0, NULL, 0,
                         pattern + 5 + i * DSIZE, i == DGRAMS ? TAIL : DSIZE, (uint16_t)(100 + i));

        g_assert_cmpint(offload_gro_add(g, pkt, len), ==, 0);
    }
    g_assert_cmpint(offload_gro_flush(g, tun_write_fn, &w), ==, 0);
    g_printerr("# RX UDP: %u writes, %u GSO\n", w.writes, w.gso_writes);
    g_assert_cmpuint(w.writes, ==, 1);
    g_assert_cmpuint(w.gso_writes, ==, 1);
    for (i = 0; i <= DGRAMS; i++) {
        size_t want = i == DGRAMS ? TAIL : DSIZE;
        ssize_t n = recv(s, buf, sizeof(buf), 0);

        g_assert_cmpint(n, ==, (ssize_t)want);
        g_assert_cmpmem(buf, want, pattern + 5 + i * DSIZE, want);
    }
    close(s);
    offload_gro_free(g);
    tun_close(&t);
}

int
main(int argc, char **argv)
{
    size_t i;
    uint32_t x = 0xdeadbeef;

    for (i = 0; i < sizeof(pattern); i++) {
        x = x * 1664525u + 1013904223u;
        pattern[i] = (uint8_t)(x >> 24);
    }
    fixture_netns_init();
    g_test_init(&argc, &argv, NULL);
    FIXTURE_NETNS_ADD("/tun/open", NULL, test_open);
    FIXTURE_NETNS_ADD("/tun/tcp-tx-split", NULL, test_tcp_tx_split);
    FIXTURE_NETNS_ADD("/tun/tcp-rx-gro", NULL, test_tcp_rx_gro);
    FIXTURE_NETNS_ADD("/tun/udp-uso", NULL, test_udp_uso);
    return g_test_run();
}
