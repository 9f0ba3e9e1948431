/* SPDX-License-Identifier: MIT */
/*
 * Outer UDP sockets over loopback (127.0.0.1 and ::1), no root needed:
 * mixed batches with GSO on and off, GRO splitting (including the leftovers
 * of a recvmmsg that held more than UDP_BATCH datagrams), truncation, sticky
 * sources (used, stale, vanished interface), the EMSGSIZE fallback and
 * missing families.
 *
 * Kernel failures loopback cannot produce (EIO from a GSO send, EINTR) are
 * injected by wrapping sendmmsg: the engine is a static library, so its calls
 * bind to the definition below.
 *
 * Nothing depends on timing: receives run on nonblocking fds and poll() only
 * guards against hangs; where a test needs several messages queued before it
 * reads, it waits for SO_MEMINFO's receive allocation to reach them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "magicsock/udp.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum {
    HANG_GUARD_MS = 10000,
    MAX_DGRAM = 1500,
};

static unsigned int lo_ifindex;

/* ------------------------------------------------------------------ helpers */

static int inject_eio;   /* GSO messages fail with EIO */
static int inject_eintr; /* this many calls fail with EINTR first */
static unsigned int injected;

static bool
has_udp_segment(struct msghdr *h)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT)
            return true;
    return false;
}

int
sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    if (inject_eintr > 0) {
        inject_eintr--;
        injected++;
        errno = EINTR;
        return -1;
    }
    for (unsigned int i = 0; inject_eio && i < n; i++) {
        if (has_udp_segment(&v[i].msg_hdr)) {
            if (i == 0) {
                injected++;
                errno = EIO;
                return -1;
            }
            n = i; /* the kernel stops at the failing message */
        }
    }
    return (int)syscall(SYS_sendmmsg, fd, v, n, flags);
}

static bool
v6_usable(const struct udp_socket *s)
{
    struct sockaddr_in6 a = { .sin6_family = AF_INET6,
                              .sin6_port = htons(9),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd, r;

    if (s->fd6 < 0)
        return false;
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    return r == 0;
}

static struct wg_endpoint
ep4(uint16_t port)
{
    struct wg_endpoint e;

    memset(&e, 0, sizeof(e));
    e.addr.in4.sin_family = AF_INET;
    e.addr.in4.sin_port = htons(port);
    e.addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return e;
}

static struct wg_endpoint
ep6(uint16_t port)
{
    struct wg_endpoint e;

    memset(&e, 0, sizeof(e));
    e.addr.in6.sin6_family = AF_INET6;
    e.addr.in6.sin6_port = htons(port);
    e.addr.in6.sin6_addr = in6addr_loopback;
    return e;
}

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    g_assert_cmpint(fl, >=, 0);
    g_assert_cmpint(fcntl(fd, F_SETFL, fl | O_NONBLOCK), ==, 0);
}

static void
open_pair(struct udp_socket *a, struct udp_socket *b)
{
    g_assert_cmpint(udp_open(a, 0, 0), ==, 0);
    g_assert_cmpint(udp_open(b, 0, 0), ==, 0);
    g_assert_cmpuint(a->port, !=, 0);
    g_assert_cmpuint(b->port, !=, 0);
    g_assert_cmpuint(a->port, !=, b->port);
    set_nonblock(b->fd4);
    set_nonblock(a->fd4);
    if (b->fd6 >= 0)
        set_nonblock(b->fd6);
    if (a->fd6 >= 0)
        set_nonblock(a->fd6);
}

static void
wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;

    do
        r = poll(&p, 1, HANG_GUARD_MS);
    while (r < 0 && errno == EINTR);
    if (r != 1)
        g_error("hang guard: nothing to read on fd %d after %d ms", fd, HANG_GUARD_MS);
}

/* Waits until at least bytes of skb memory are queued for reading on fd. */
static void
wait_queued(int fd, uint32_t bytes)
{
    for (int i = 0; i < HANG_GUARD_MS; i++) {
        uint32_t mem[SK_MEMINFO_VARS];
        socklen_t len = sizeof(mem);

        g_assert_cmpint(getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len), ==, 0);
        if (mem[SK_MEMINFO_RMEM_ALLOC] >= bytes)
            return;
        g_usleep(1000);
    }
    g_error("hang guard: fewer than %u bytes queued on fd %d", bytes, fd);
}

/* Recognisable contents: seq in the first bytes, a seq-dependent pattern after. */
static void
fill(uint8_t *p, size_t len, uint32_t seq)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seq * 131u + i * 7u + (i >> 8));
    if (len >= sizeof(seq))
        memcpy(p, &seq, sizeof(seq));
}

/* A batch under construction: datagrams and their storage. */
struct plan {
    struct udp_tx tx[512];
    uint8_t *buf;
    size_t n;
};

static void
plan_init(struct plan *p)
{
    memset(p, 0, sizeof(*p));
    p->buf = g_malloc((size_t)G_N_ELEMENTS(p->tx) * 65536);
}

static void
plan_clear(struct plan *p)
{
    g_free(p->buf);
}

static void
plan_add(struct plan *p, const struct wg_endpoint *to, size_t len, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t *d = p->buf + p->n * 65536;

        g_assert_cmpuint(p->n, <, G_N_ELEMENTS(p->tx));
        g_assert_cmpuint(len, <=, 65536);
        fill(d, len, (uint32_t)p->n);
        p->tx[p->n++] = (struct udp_tx){ .data = d, .len = len, .to = to };
    }
}

struct check {
    const union wg_sockaddr *sender; /* expected from.addr */
    bool src;                        /* from.src must be loopback on lo */
};

static void
check_from(const struct udp_datagram *d, const struct check *c)
{
    g_assert_true(wg_sockaddr_equal(&d->from.addr, c->sender));
    if (!c->src)
        return;
    if (d->from.addr.sa.sa_family == AF_INET)
        g_assert_cmphex(d->from.src4.s_addr, ==, htonl(INADDR_LOOPBACK));
    else
        g_assert_true(IN6_IS_ADDR_LOOPBACK(&d->from.src6));
    g_assert_cmpint(d->from.src_ifindex, ==, (int)lo_ifindex);
}

/*
 * Receives on fd exactly the datagrams of p addressed to family, in order,
 * then checks nothing else is queued. Returns the number of udp_recv_batch
 * calls that returned data.
 */
static unsigned int
recv_check(struct udp_socket *s, int fd, struct udp_rx_batch *b, const struct plan *p, int family,
           const struct check *c)
{
    size_t want = 0, next = 0, got = 0;
    unsigned int calls = 0;
    struct udp_datagram *d;
    int r;

    for (size_t i = 0; i < p->n; i++)
        want += p->tx[i].to->addr.sa.sa_family == family;

    while (got < want) {
        r = udp_recv_batch(s, fd, b, &d);
        if (r == -EAGAIN) {
            wait_readable(fd);
            continue;
        }
        g_assert_cmpint(r, >, 0);
        g_assert_cmpint(r, <=, UDP_BATCH);
        calls++;
        for (int i = 0; i < r; i++) {
            while (next < p->n && p->tx[next].to->addr.sa.sa_family != family)
                next++;
            g_assert_cmpuint(next, <, p->n);
            if (d[i].len != p->tx[next].len || memcmp(d[i].data, p->tx[next].data, d[i].len) != 0)
                g_error("datagram %zu (family %d): got %zu bytes, want %zu, contents %s", next,
                        family, d[i].len, p->tx[next].len,
                        d[i].len == p->tx[next].len ? "differ" : "-");
            check_from(&d[i], c);
            next++;
            got++;
        }
    }
    g_assert_cmpuint(got, ==, want);
    g_assert_cmpint(udp_recv_batch(s, fd, b, &d), ==, -EAGAIN);
    return calls;
}

/* -------------------------------------------------------------------- tests */

static void
test_open(void)
{
    struct udp_socket s, t;
    union wg_sockaddr a;
    socklen_t len = sizeof(a);
    int v;
    socklen_t vlen = sizeof(v);

    g_assert_cmpint(udp_open(&s, 0, 0), ==, 0);
    g_assert_cmpint(s.fd4, >=, 0);
    g_assert_cmpuint(s.port, !=, 0);
    g_assert_cmpint(getsockname(s.fd4, &a.sa, &len), ==, 0);
    g_assert_cmpuint(ntohs(a.in4.sin_port), ==, s.port);
    g_assert_cmpint(fcntl(s.fd4, F_GETFD) & FD_CLOEXEC, !=, 0);
    if (s.fd6 >= 0) {
        len = sizeof(a);
        g_assert_cmpint(getsockname(s.fd6, &a.sa, &len), ==, 0);
        g_assert_cmpuint(ntohs(a.in6.sin6_port), ==, s.port);
        g_assert_cmpint(getsockopt(s.fd6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vlen), ==, 0);
        g_assert_cmpint(v, ==, 1);
        g_assert_cmpint(fcntl(s.fd6, F_GETFD) & FD_CLOEXEC, !=, 0);
    }
    vlen = sizeof(v);
    g_assert_cmpint(getsockopt(s.fd4, SOL_SOCKET, SO_RCVBUF, &v, &vlen), ==, 0);
    g_test_message("port %u fd6 %s gso4 %d gso6 %d gro4 %d gro6 %d SO_RCVBUF %d", s.port,
                   s.fd6 >= 0 ? "yes" : "no", s.gso4, s.gso6, s.gro4, s.gro6, v);

    /* The same port again is taken (on IPv4 first). */
    g_assert_cmpint(udp_open(&t, s.port, 0), ==, -EADDRINUSE);
    g_assert_cmpint(t.fd4, ==, -1);
    g_assert_cmpint(t.fd6, ==, -1);

    /* Unchanged mark: no syscall, no privilege needed. */
    g_assert_cmpint(udp_set_fwmark(&s, 0), ==, 0);
    if (geteuid() == 0) {
        g_assert_cmpint(udp_set_fwmark(&s, 0x42), ==, 0);
        vlen = sizeof(v);
        g_assert_cmpint(getsockopt(s.fd4, SOL_SOCKET, SO_MARK, &v, &vlen), ==, 0);
        g_assert_cmphex(v, ==, 0x42);
        g_assert_cmpuint(s.fwmark, ==, 0x42);
        g_assert_cmpint(udp_set_fwmark(&s, 0), ==, 0);
    } else {
        g_assert_cmpint(udp_set_fwmark(&s, 0x42), ==, -EPERM);
    }

    udp_close(&s);
    g_assert_cmpint(s.fd4, ==, -1);
    g_assert_cmpint(s.fd6, ==, -1);
    udp_close(&s);
}

/*
 * 200 datagrams: runs of equal size with short tails, runs cut by the segment
 * limit (70 × 1000) and by the IPv6 payload limit (48 × 1400), size changes
 * mid-run, interleaved families, tiny and full-size datagrams.
 */
static void
run_mixed(bool gso)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, d6, from4, from6;
    struct check c4 = { .sender = &from4.addr, .src = true };
    struct check c6 = { .sender = &from6.addr, .src = true };
    struct plan p;
    bool v6;
    int r;

    g_assert_nonnull(rb);
    open_pair(&a, &b);
    v6 = v6_usable(&a) && v6_usable(&b);
    if (!gso)
        a.gso4 = a.gso6 = false;
    d4 = ep4(b.port);
    d6 = v6 ? ep6(b.port) : ep4(b.port);
    from4 = ep4(a.port);
    from6 = ep6(a.port);

    plan_init(&p);
    plan_add(&p, &d4, 1000, 70);
    plan_add(&p, &d4, 500, 1);
    plan_add(&p, &d6, 300, 1);
    plan_add(&p, &d6, 1200, 1);
    plan_add(&p, &d4, 80, 1);
    plan_add(&p, &d4, 1000, 1);
    plan_add(&p, &d6, 1200, 20);
    plan_add(&p, &d6, 200, 1);
    for (size_t i = 0; i < 20; i++)
        plan_add(&p, i % 2 ? &d6 : &d4, 100 + 13 * i, 1);
    plan_add(&p, &d6, 1400, 48);
    plan_add(&p, &d4, 1000, 5);
    plan_add(&p, &d4, 1100, 5);
    for (size_t i = 0; p.n < 200; i++) {
        static const size_t sizes[] = { 8, 1500, 64, 999 };

        plan_add(&p, i % 2 ? &d6 : &d4, sizes[i % 4], 1);
    }
    g_assert_cmpuint(p.n, ==, 200);

    r = udp_send_batch(&a, p.tx, p.n);
    g_assert_cmpint(r, ==, 200);
    g_assert_true(a.gso4 == (gso && b.gso4)); /* no EIO on loopback */

    recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
    if (v6)
        recv_check(&b, b.fd6, rb, &p, AF_INET6, &c6);
    else
        g_test_message("no IPv6 loopback: IPv6 destinations went to 127.0.0.1");

    plan_clear(&p);
    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

static void
test_mixed_gso(void)
{
    run_mixed(true);
}

static void
test_mixed_no_gso(void)
{
    run_mixed(false);
}

/* One 64 × 1000 GSO send arrives as one GRO message, split by pointer. */
static void
test_gro_split(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, from4;
    struct check c4 = { .sender = &from4.addr, .src = true };
    struct udp_datagram *d;
    struct plan p;
    int r;

    open_pair(&a, &b);
    if (!a.gso4 || !b.gro4) {
        g_test_skip("kernel without UDP GSO/GRO");
        goto out_close;
    }
    d4 = ep4(b.port);
    from4 = ep4(a.port);

    plan_init(&p);
    plan_add(&p, &d4, 1000, 64);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 64);
    wait_queued(b.fd4, 64000);
    r = udp_recv_batch(&b, b.fd4, rb, &d);
    g_assert_cmpint(r, ==, 64);
    for (int i = 0; i < 64; i++) {
        g_assert_true(d[i].data == d[0].data + (size_t)i * 1000);
        g_assert_cmpuint(d[i].len, ==, 1000);
        g_assert_cmpmem(d[i].data, 1000, p.tx[i].data, 1000);
        check_from(&d[i], &c4);
    }
    g_assert_cmpint(udp_recv_batch(&b, b.fd4, rb, &d), ==, -EAGAIN);
    plan_clear(&p);

    /*
     * Three GSO messages (64 + 64 + 63 and a 500 B tail) queued before the
     * read: one recvmmsg holds 192 datagrams; 128 come out, then the 64
     * left in the batch without another read.
     */
    plan_init(&p);
    plan_add(&p, &d4, 1000, 64 + 64 + 63);
    plan_add(&p, &d4, 500, 1);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 192);
    wait_queued(b.fd4, 3 * 63000);
    r = udp_recv_batch(&b, b.fd4, rb, &d);
    g_assert_cmpint(r, ==, UDP_BATCH);
    for (int i = 0; i < r; i++) {
        g_assert_true(d[i].data == d[i - i % 64].data + (size_t)(i % 64) * 1000);
        g_assert_cmpmem(d[i].data, d[i].len, p.tx[i].data, p.tx[i].len);
    }
    r = udp_recv_batch(&b, b.fd4, rb, &d);
    g_assert_cmpint(r, ==, 64);
    for (int i = 0; i < r; i++) {
        g_assert_true(d[i].data == d[0].data + (size_t)i * 1000);
        g_assert_cmpmem(d[i].data, d[i].len, p.tx[128 + i].data, p.tx[128 + i].len);
        check_from(&d[i], &c4);
    }
    g_assert_cmpuint(d[63].len, ==, 500);
    g_assert_cmpint(udp_recv_batch(&b, b.fd4, rb, &d), ==, -EAGAIN);
    plan_clear(&p);

out_close:
    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* GRO off on the receiver: the kernel splits; a datagram above the slot is dropped. */
static void
test_gro_off_and_truncation(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, from4;
    struct check c4 = { .sender = &from4.addr, .src = true };
    struct udp_datagram *d;
    struct plan p;
    int r;

    open_pair(&a, &b);
    d4 = ep4(b.port);
    from4 = ep4(a.port);
    if (b.gro4)
        g_assert_cmpint(setsockopt(b.fd4, SOL_UDP, UDP_GRO, &(int){ 0 }, sizeof(int)), ==, 0);
    b.gro4 = false;

    plan_init(&p);
    plan_add(&p, &d4, 1000, 64);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 64);
    recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
    plan_clear(&p);

    /* 60000 B does not fit a plain slot: dropped (MSG_TRUNC), the next one kept. */
    plan_init(&p);
    plan_add(&p, &d4, 60000, 1);
    plan_add(&p, &d4, 100, 1);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 2);
    for (;;) {
        r = udp_recv_batch(&b, b.fd4, rb, &d);
        if (r != -EAGAIN)
            break;
        wait_readable(b.fd4);
    }
    g_assert_cmpint(r, ==, 1);
    g_assert_cmpuint(d[0].len, ==, 100);
    g_assert_cmpmem(d[0].data, 100, p.tx[1].data, 100);
    g_assert_cmpint(udp_recv_batch(&b, b.fd4, rb, &d), ==, -EAGAIN);
    plan_clear(&p);

    /* B → A, where GRO is on: the slot is 64 KiB and the same datagram fits. */
    if (a.gro4) {
        struct wg_endpoint to_a = ep4(a.port), from_b = ep4(b.port);

        plan_init(&p);
        plan_add(&p, &to_a, 60000, 1);
        g_assert_cmpint(udp_send_batch(&b, p.tx, p.n), ==, 1);
        recv_check(&a, a.fd4, rb, &p, AF_INET,
                   &(struct check){ .sender = &from_b.addr, .src = true });
        plan_clear(&p);
    }

    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* Replies leave from the sticky source; a stale one is retried without it. */
static void
test_sticky(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, d6, from4, from6, from_b4, from_b6, reply4, reply6;
    struct check ca4 = { .sender = &from4.addr, .src = true };
    struct check ca6 = { .sender = &from6.addr, .src = true };
    struct check cb4 = { .sender = &from_b4.addr, .src = true };
    struct check cb6 = { .sender = &from_b6.addr, .src = true };
    struct udp_datagram *d;
    struct plan p;
    bool v6;
    int r;

    open_pair(&a, &b);
    v6 = v6_usable(&a) && v6_usable(&b);
    d4 = ep4(b.port);
    d6 = ep6(b.port);
    from4 = ep4(a.port);
    from6 = ep6(a.port);
    from_b4 = ep4(b.port);
    from_b6 = ep6(b.port);

    /* A → B: B learns A's endpoint with its own address as the sticky source. */
    plan_init(&p);
    plan_add(&p, &d4, 200, 1);
    if (v6)
        plan_add(&p, &d6, 200, 1);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, (int)p.n);
    for (;;) {
        r = udp_recv_batch(&b, b.fd4, rb, &d);
        if (r != -EAGAIN)
            break;
        wait_readable(b.fd4);
    }
    g_assert_cmpint(r, ==, 1);
    check_from(&d[0], &ca4);
    reply4 = d[0].from;
    if (v6) {
        for (;;) {
            r = udp_recv_batch(&b, b.fd6, rb, &d);
            if (r != -EAGAIN)
                break;
            wait_readable(b.fd6);
        }
        g_assert_cmpint(r, ==, 1);
        check_from(&d[0], &ca6);
        reply6 = d[0].from;
    }
    plan_clear(&p);

    /* B → A with the learnt endpoints (pktinfo with ifindex lo): a GSO run and a single. */
    plan_init(&p);
    plan_add(&p, &reply4, 1000, 3);
    plan_add(&p, &reply4, 10, 1);
    if (v6) {
        plan_add(&p, &reply6, 1000, 3);
        plan_add(&p, &reply6, 10, 1);
    }
    g_assert_cmpint(udp_send_batch(&b, p.tx, p.n), ==, (int)p.n);
    recv_check(&a, a.fd4, rb, &p, AF_INET, &cb4);
    if (v6)
        recv_check(&a, a.fd6, rb, &p, AF_INET6, &cb6);
    plan_clear(&p);

    /* The source is really used: 127.0.0.2 is local on lo, B sees it as the sender. */
    {
        struct wg_endpoint via2 = ep4(b.port), seen = ep4(a.port);
        struct check c2 = { .sender = &seen.addr };

        via2.src4.s_addr = htonl(INADDR_LOOPBACK + 1);
        seen.addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
        plan_init(&p);
        plan_add(&p, &via2, 1000, 3);
        plan_add(&p, &via2, 700, 1);
        g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 4);
        recv_check(&b, b.fd4, rb, &p, AF_INET, &c2);
        plan_clear(&p);
    }

    /*
     * Stale sources: an address we do not own (IPv4: ENETUNREACH, IPv6:
     * EINVAL) and a vanished interface (ENODEV). Each message is retried
     * once without the source and the endpoint is left as it was.
     */
    {
        struct wg_endpoint stale4 = ep4(b.port), stale6 = ep6(b.port), gone4 = ep4(b.port);
        struct wg_endpoint s4 = {}, s6 = {}, g4 = {};
        struct check c4 = { .sender = &from4.addr, .src = true };
        struct check c6 = { .sender = &from6.addr, .src = true };

        g_assert_cmpint(inet_pton(AF_INET, "192.0.2.1", &stale4.src4), ==, 1);
        g_assert_cmpint(inet_pton(AF_INET6, "2001:db8::1", &stale6.src6), ==, 1);
        gone4.src4.s_addr = htonl(INADDR_LOOPBACK);
        gone4.src_ifindex = 999999;
        s4 = stale4;
        s6 = stale6;
        g4 = gone4;

        plan_init(&p);
        plan_add(&p, &stale4, 1000, 3);
        plan_add(&p, &stale4, 300, 1);
        plan_add(&p, &gone4, 400, 2);
        if (v6) {
            plan_add(&p, &stale6, 1000, 3);
            plan_add(&p, &stale6, 300, 1);
        }
        g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, (int)p.n);
        g_assert_cmpmem(&stale4, sizeof(stale4), &s4, sizeof(s4));
        g_assert_cmpmem(&stale6, sizeof(stale6), &s6, sizeof(s6));
        g_assert_cmpmem(&gone4, sizeof(gone4), &g4, sizeof(g4));
        recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
        if (v6)
            recv_check(&b, b.fd6, rb, &p, AF_INET6, &c6);
        plan_clear(&p);
    }

    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* A segment above the path MTU: EMSGSIZE on GSO, resent plain (fragmented). */
static void
test_emsgsize_fallback(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d6, from6;
    struct check c6 = { .sender = &from6.addr, .src = true };
    struct plan p;

    open_pair(&a, &b);
    if (!v6_usable(&a) || !v6_usable(&b) || !a.gso6) {
        g_test_skip("no IPv6 loopback or no GSO");
        goto out;
    }
    d6 = ep6(b.port);
    from6 = ep6(a.port);
    /* IPV6_MTU caps the cork's fragment size, hence the GSO segment size. */
    g_assert_cmpint(setsockopt(a.fd6, IPPROTO_IPV6, IPV6_MTU, &(int){ 1280 }, sizeof(int)), ==, 0);

    plan_init(&p);
    plan_add(&p, &d6, 1400, 10);
    plan_add(&p, &d6, 1000, 4);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 14);
    g_assert_true(a.gso6); /* not an EIO: GSO stays on */
    recv_check(&b, b.fd6, rb, &p, AF_INET6, &c6);
    plan_clear(&p);
out:
    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* A family we have no socket for, no address at all, a datagram too large. */
static void
test_unreachable(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, d6, none, from4;
    struct check c4 = { .sender = &from4.addr, .src = true };
    struct udp_datagram *d;
    struct plan p;

    open_pair(&a, &b);
    d4 = ep4(b.port);
    d6 = ep6(b.port);
    from4 = ep4(a.port);
    memset(&none, 0, sizeof(none));
    if (a.fd6 >= 0) {
        close(a.fd6);
        a.fd6 = -1;
    }

    plan_init(&p);
    plan_add(&p, &d6, 100, 3);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, -EAFNOSUPPORT);
    plan_clear(&p);

    plan_init(&p);
    plan_add(&p, &none, 100, 1);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, -EDESTADDRREQ);
    plan_clear(&p);

    plan_init(&p);
    plan_add(&p, &d4, 65508, 1); /* UDP_MAX_PAYLOAD4 + 1 */
    plan_add(&p, &d4, 65508, 1); /* UDP_MAX_PAYLOAD4 + 1 */
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, -EMSGSIZE);
    plan_clear(&p);

    g_assert_cmpint(udp_send_batch(&a, NULL, 0), ==, 0);

    /* Mixed: the unreachable ones are dropped, the rest go out in order. */
    plan_init(&p);
    plan_add(&p, &d4, 100, 2);
    plan_add(&p, &d6, 100, 2);
    plan_add(&p, &d4, 100, 2);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 4);
    recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
    plan_clear(&p);

    g_assert_cmpint(udp_recv_batch(&a, -1, rb, &d), ==, -EBADF);

    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* EIO on a GSO send: GSO off for that family for good, the batch resent plain. */
static void
test_gso_eio(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4, d6, from4, from6;
    struct check c4 = { .sender = &from4.addr, .src = true };
    struct check c6 = { .sender = &from6.addr, .src = true };
    struct plan p;
    bool v6;

    open_pair(&a, &b);
    if (!a.gso4) {
        g_test_skip("kernel without UDP GSO");
        goto out;
    }
    v6 = v6_usable(&a) && v6_usable(&b) && a.gso6;
    d4 = ep4(b.port);
    d6 = ep6(b.port);
    from4 = ep4(a.port);
    from6 = ep6(a.port);

    plan_init(&p);
    plan_add(&p, &d4, 100, 5);
    plan_add(&p, &d4, 1000, 64 + 10);
    plan_add(&p, &d4, 200, 3);
    inject_eio = 1;
    inject_eintr = 2;
    injected = 0;
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, (int)p.n);
    inject_eio = 0;
    g_assert_cmpuint(injected, ==, 3);
    g_assert_false(a.gso4);
    g_assert_true(a.gso6 == b.gso6); /* the other family keeps GSO */
    recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
    plan_clear(&p);

    /* IPv4 now goes out plain (nothing to fail); IPv6 fails on its own socket. */
    plan_init(&p);
    plan_add(&p, &d4, 1000, 20);
    if (v6)
        plan_add(&p, &d6, 1000, 20);
    inject_eio = 1;
    injected = 0;
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, (int)p.n);
    inject_eio = 0;
    g_assert_cmpuint(injected, ==, v6 ? 1 : 0);
    g_assert_false(a.gso4);
    if (v6)
        g_assert_false(a.gso6);
    recv_check(&b, b.fd4, rb, &p, AF_INET, &c4);
    if (v6)
        recv_check(&b, b.fd6, rb, &p, AF_INET6, &c6);
    plan_clear(&p);
out:
    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

/* A blocking receive returns as soon as something is there (MSG_WAITFORONE). */
static void
test_blocking(void)
{
    struct udp_socket a, b;
    struct udp_rx_batch *rb = udp_rx_batch_new();
    struct wg_endpoint d4;
    struct udp_datagram *d;
    struct plan p;

    g_assert_cmpint(udp_open(&a, 0, 0), ==, 0);
    g_assert_cmpint(udp_open(&b, 0, 0), ==, 0);
    d4 = ep4(b.port);
    plan_init(&p);
    plan_add(&p, &d4, 321, 1);
    g_assert_cmpint(udp_send_batch(&a, p.tx, p.n), ==, 1);
    wait_readable(b.fd4);
    g_assert_cmpint(udp_recv_batch(&b, b.fd4, rb, &d), ==, 1);
    g_assert_cmpmem(d[0].data, d[0].len, p.tx[0].data, 321);
    plan_clear(&p);
    udp_close(&a);
    udp_close(&b);
    udp_rx_batch_free(rb);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    lo_ifindex = if_nametoindex("lo");
    g_assert_cmpuint(lo_ifindex, !=, 0);

    g_test_add_func("/udp/open", test_open);
    g_test_add_func("/udp/mixed/gso", test_mixed_gso);
    g_test_add_func("/udp/mixed/no-gso", test_mixed_no_gso);
    g_test_add_func("/udp/gro/split", test_gro_split);
    g_test_add_func("/udp/gro/off-and-truncation", test_gro_off_and_truncation);
    g_test_add_func("/udp/sticky", test_sticky);
    g_test_add_func("/udp/emsgsize-fallback", test_emsgsize_fallback);
    g_test_add_func("/udp/unreachable", test_unreachable);
    g_test_add_func("/udp/gso-eio", test_gso_eio);
    g_test_add_func("/udp/blocking", test_blocking);
    return g_test_run();
}
