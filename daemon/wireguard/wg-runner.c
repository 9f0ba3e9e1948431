/* SPDX-License-Identifier: MIT */
#include "wg-runner.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sched.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/compiler.h"
#include "crypto/keys.h"
#include "filter/filter.h"
#include "magicsock/disco.h"
#include "magicsock/stun.h"
#include "magicsock/udp.h"
#include "tun/offload.h"
#include "tun/tun.h"
#include "uapi/uapi.h"
#include "wg-config.h"
#include "wg-event-queue.h"
#include "wg/device.h"
#include "wg/messages.h"

enum {
    TX_BATCH = UDP_BATCH,
    TX_MAX_SEGMENTS_PER_READ = 64, /* a 64 KiB super-packet at MSS ≥ 1024 */
    TX_SLOT_EXTRA = 16 + 16 + 16,  /* data header + padding + tag */
    UAPI_CLIENT_TIMEOUT_S = 10,
    IDLE_TRIM_MS = 5000,
    DEFAULT_SPIN_US = 300,
    SPIN_SPARSE_NS = 2 * 1000 * 1000,
    /* a send this long after the last one is "sparse" */ /* give buffer pages back after this much
                                                             quiet */
    WG_DEFAULT_MTU = 1420,
};

struct tx_state {
    unsigned int mtu; /* buffers are sized for it */
    uint8_t *read_buf;
    uint8_t *bufs[TX_BATCH];
    size_t buf_cap;
    struct pkt_slot slots[TX_BATCH];
    struct wg_tx_packet pkts[TX_BATCH];
    struct udp_tx out[TX_BATCH];
};

struct rx_state {
    struct udp_rx_batch *batch;
    struct offload_gro *gro;
    struct wg_rx_packet pkts[UDP_BATCH];
    uint8_t *inject_buf; /* Tailscale mode: wg_runner_rx_inject opens in place here */
};

struct wg_runner {
    struct wg_device *dev;
    struct tun tun;
    char *uapi_dir; /* NULL: the default */
    int uapi_fd;
    atomic_int uapi_client_fd; /* the connection being served, -1 = none */

    /* The UDP sockets; rebinding (listen_port) takes the lock for writing.
     * Never held while calling into the device. */
    pthread_rwlock_t sock_lock;
    struct udp_socket sock;
    uint16_t listen_port;
    uint32_t fwmark;
    int rx_wake_fd; /* eventfd: sockets changed or shutdown */
    int tx_wake_fd; /* eventfd: shutdown */

    pthread_mutex_t config_lock; /* one configuration change at a time */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    bool timer_wake;

    pthread_mutex_t tx_lock; /* the TX batch state below */
    struct tx_state tx;
    pthread_mutex_t rx_lock; /* the RX batch state below */
    struct rx_state rx;
    struct pf_filter *filter; /* rx_lock; NULL: everything passes */
    struct pf_flows *flows;   /* thread-safe; lives as long as the runner */
    atomic_uint_fast64_t rejects_sent;

    uint64_t spin_ns; /* see tx_spin_once */
    /* Tailscale mode (cfg.magicsock) only, else NULL: what goes to the main loop. */
    struct wg_event_queue *events;

    atomic_uint mtu;
    atomic_bool stop;   /* asked to stop, or a thread gave up */
    atomic_bool failed; /* a thread gave up (TUN gone) */
    pthread_t threads[4];
    int n_threads;
};

static uint64_t
clock_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t
now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("hyphaed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- callbacks from the device (device lock held) ---------------------- */

static void
device_send(void *ctx, const uint8_t *data, size_t len, const struct wg_endpoint *to,
            const uint8_t *peer_key)
{
    struct wg_runner *r = ctx;
    struct udp_tx tx = { .data = data, .len = len, .to = to };

    if (r->events) {
        /* The path machine learns that WireGuard wants this peer (it may
         * start disco pings); then the initiation itself goes out. */
        if (peer_key && len == sizeof(struct wg_message_handshake_initiation) &&
            data[0] == WG_MESSAGE_HANDSHAKE_INITIATION)
            (void)wg_event_queue_push(r->events, WG_RUNNER_EVENT_HANDSHAKE, to, peer_key, NULL, 0);
        if (wg_endpoint_is_derp(to)) {
            (void)wg_event_queue_push(r->events, WG_RUNNER_EVENT_DERP_SEND, to, NULL, data, len);
            return;
        }
    }
    pthread_rwlock_rdlock(&r->sock_lock);
    (void)udp_send_batch(&r->sock, &tx, 1);
    pthread_rwlock_unlock(&r->sock_lock);
}

/* Data went out to this peer (rate-limited by the device): keep its path alive. */
static void
device_note_active(void *ctx, const uint8_t peer_key[WG_KEY_LEN], const struct wg_endpoint *ep)
{
    struct wg_runner *r = ctx;

    (void)wg_event_queue_push(r->events, WG_RUNNER_EVENT_HANDSHAKE, ep, peer_key, NULL, 0);
}

static void
device_wake(void *ctx)
{
    struct wg_runner *r = ctx;

    pthread_mutex_lock(&r->timer_lock);
    r->timer_wake = true;
    pthread_cond_signal(&r->timer_cond);
    pthread_mutex_unlock(&r->timer_lock);
}

/* ---- TX: TUN → seal → UDP ---------------------------------------------- */

static int
tx_alloc(struct tx_state *t, unsigned int mtu)
{
    size_t cap = MAX((size_t)mtu, 1280) + TX_SLOT_EXTRA;

    for (int i = 0; i < TX_BATCH; i++) {
        uint8_t *b = realloc(t->bufs[i], cap);

        if (!b)
            return -ENOMEM;
        t->bufs[i] = b;
    }
    t->buf_cap = cap;
    return 0;
}

/* Read TUN packets until the batch is nearly full or the TUN is empty. */
static size_t
tx_read(struct wg_runner *r, struct tx_state *t)
{
    size_t n = 0;

    while (TX_BATCH - n >= TX_MAX_SEGMENTS_PER_READ) {
        ssize_t len = read(r->tun.fd, t->read_buf, TUN_MAX_READ);
        int k;

        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                log_msg("TUN read failed: %s; stopping", strerror(errno));
                atomic_store(&r->failed, true);
                atomic_store(&r->stop, true);
            }
            break;
        }
        for (size_t i = n; i < TX_BATCH; i++)
            t->slots[i].data = t->bufs[i] + WG_TX_HEADROOM;
        if (r->tun.vnet_hdr) {
            k = offload_split(t->read_buf, (size_t)len, &t->slots[n], TX_BATCH - n,
                              t->buf_cap - TX_SLOT_EXTRA);
            if (k == -E2BIG)
                k = (int)(TX_BATCH - n);
            if (k < 0)
                continue;
        } else {
            if ((size_t)len > t->buf_cap - TX_SLOT_EXTRA)
                continue;
            memcpy(t->slots[n].data, t->read_buf, (size_t)len);
            t->slots[n].len = (size_t)len;
            k = 1;
        }
        n += (size_t)k;
    }
    return n;
}

/*
 * Seal plaintext packets (at buf + WG_TX_HEADROOM) and send them: UDP, or the
 * event queue for a DERP endpoint. out: room for n. Any thread.
 */
static void
send_sealed(struct wg_runner *r, struct wg_tx_packet *pkts, size_t n, struct udp_tx *out,
            uint64_t now)
{
    size_t n_out = 0;

    wg_device_tx_batch(r->dev, pkts, n, now);
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].status != WG_TX_SEND)
            continue;
        /* Only a pinned Tailscale-mode peer has a DERP endpoint. */
        if (__builtin_expect(wg_endpoint_is_derp(&pkts[i].to), 0)) {
            (void)wg_event_queue_push(r->events, WG_RUNNER_EVENT_DERP_SEND, &pkts[i].to, NULL,
                                      pkts[i].buf, pkts[i].out_len);
            continue;
        }
        out[n_out].data = pkts[i].buf;
        out[n_out].len = pkts[i].out_len;
        out[n_out].to = &pkts[i].to;
        n_out++;
    }
    if (n_out) {
        pthread_rwlock_rdlock(&r->sock_lock);
        (void)udp_send_batch(&r->sock, out, n_out);
        pthread_rwlock_unlock(&r->sock_lock);
    }
}

/* MagicDNS's addresses (Tailscale's net/tsaddr TailscaleServiceIP and TailscaleServiceIPv6). */
static const uint8_t quad100_v4[4] = { 100, 100, 100, 100 };
static const uint8_t quad100_v6[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 0x53 };

/*
 * A packet read from the TUN, before sealing: a DNS query to MagicDNS
 * (Tailscale mode) becomes an event and goes no further (true); anything
 * else is noted in the flow table (our UDP flows' replies pass the filter).
 */
static bool
tx_divert(struct wg_runner *r, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct pf_packet p;

    if (pf_parse(pkt, len, &p) < 0)
        return false;
    if (r->events && p.proto == 17 && p.dport == 53 && !p.first_fragment &&
        memcmp(p.dst, p.addr_len == 4 ? quad100_v4 : quad100_v6, p.addr_len) == 0) {
        static const struct wg_endpoint no_ep;

        (void)wg_event_queue_push(r->events, WG_RUNNER_EVENT_DNS, &no_ep, NULL, pkt, p.ip_len);
        return true;
    }
    pf_flows_note_outbound_parsed(r->flows, &p, now);
    return false;
}

/*
 * One TX batch: read the TUN, seal, send. Returns the number of packets read
 * (0: the TUN was empty). Called with tx_lock held, by the TX thread or,
 * opportunistically, by the RX thread right after it wrote to the TUN: a
 * reply the kernel generated during that write (a ping's echo reply, TCP
 * ACKs) then leaves without waking the TX thread, one wakeup less per hop.
 */
static size_t
tx_pass(struct wg_runner *r)
{
    struct tx_state *t = &r->tx;
    unsigned int mtu = atomic_load(&r->mtu);
    size_t n, n_seal = 0;
    uint64_t now;

    if (mtu != t->mtu) {
        if (tx_alloc(t, mtu) < 0)
            return 0;
        t->mtu = mtu;
    }
    n = tx_read(r, t);
    if (n == 0)
        return 0;
    now = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (tx_divert(r, t->slots[i].data, t->slots[i].len, now))
            continue;
        t->pkts[n_seal].buf = t->bufs[i];
        t->pkts[n_seal].len = t->slots[i].len;
        t->pkts[n_seal].cap = t->buf_cap;
        n_seal++;
    }
    if (n_seal)
        send_sealed(r, t->pkts, n_seal, t->out, now);
    return n;
}

/* ---- RX: UDP → open → TUN ---------------------------------------------- */

static int
tun_write_cb(void *ctx, const uint8_t *buf, size_t len)
{
    struct wg_runner *r = ctx;

    if (write(r->tun.fd, buf, len) < 0)
        return -errno;
    return 0;
}

/*
 * Tailscale mode: STUN and disco datagrams go to the event queue with their
 * source; the rest, WireGuard's, stay in pkts (compacted). Returns how many.
 * The order is Tailscale's packetLooksLike (wgengine/magicsock/magicsock.go):
 * STUN binding, then disco, else WireGuard.
 */
static size_t
rx_divert_magicsock(struct wg_runner *r, struct wg_rx_packet *pkts, size_t n)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        struct wg_rx_packet *p = &pkts[i];
        enum wg_runner_event_kind kind;

        if (stun_looks_like(p->data, p->len)) {
            kind = WG_RUNNER_EVENT_STUN;
        } else if (disco_looks_like(p->data, p->len)) {
            kind = WG_RUNNER_EVENT_DISCO;
        } else {
            if (m != i)
                pkts[m] = *p;
            m++;
            continue;
        }
        (void)wg_event_queue_push(r->events, kind, &p->from, NULL, p->data, p->len);
    }
    return m;
}

/*
 * The packet filter on one decrypted packet (rx_lock held: r->filter is
 * stable). false: drop it (TSMP too, accepted or not: nothing here answers
 * it, and the OS must not see it). A dropped bare SYN gets a TSMP reject and a TCP
 * RST back through WireGuard (filter.h: what real tailscaled does with each).
 */
static bool
rx_filter(struct wg_runner *r, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct pf_result res;
    enum { ROOM = WG_TX_HEADROOM + PF_REJECT_MAX + TX_SLOT_EXTRA };
    uint8_t bufs[2][ROOM];
    struct wg_tx_packet out[2];
    struct udp_tx udp[2];
    enum pf_tsmp_reason why;
    size_t n = 0, l;

    /* TSMP is between tailscaleds, never for the OS (net/packet/tsmp.go). */
    if (pf_filter_inbound(r->filter, r->flows, pkt, len, now, &res) == PF_ACCEPT)
        return res.reason != PF_R_TSMP;
    if (!res.reject)
        return false;
    why = res.reason == PF_R_SHIELDS_UP || res.reason == PF_R_JAILED ? PF_TSMP_SHIELDS_UP
                                                                     : PF_TSMP_ACL;
    l = pf_build_tsmp_reject(pkt, len, why, bufs[0] + WG_TX_HEADROOM, PF_REJECT_MAX);
    if (l)
        out[n++] = (struct wg_tx_packet){ .buf = bufs[0], .len = l, .cap = ROOM };
    l = pf_build_tcp_rst(pkt, len, bufs[1] + WG_TX_HEADROOM, PF_REJECT_MAX);
    if (l)
        out[n++] = (struct wg_tx_packet){ .buf = bufs[1], .len = l, .cap = ROOM };
    if (n) {
        send_sealed(r, out, n, udp, now);
        atomic_fetch_add_explicit(&r->rejects_sent, 1, memory_order_relaxed);
    }
    return false;
}

/*
 * Open n datagrams, write their packets to the TUN, then send whatever those
 * writes provoked. rx_lock held.
 */
static void
rx_deliver(struct wg_runner *r, struct wg_rx_packet *pkts, size_t n)
{
    struct rx_state *x = &r->rx;

    uint64_t now = now_ns();

    wg_device_rx_batch(r->dev, pkts, n, now);
    offload_gro_reset(x->gro);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *plain = pkts[i].data + pkts[i].plain_off;

        if (pkts[i].status != WG_RX_DATA)
            continue;
        if (r->filter && !rx_filter(r, plain, pkts[i].plain_len, now))
            continue;
        if (offload_gro_add(x->gro, plain, pkts[i].plain_len) == -ENOBUFS) {
            (void)offload_gro_flush(x->gro, tun_write_cb, r);
            offload_gro_reset(x->gro);
            (void)offload_gro_add(x->gro, plain, pkts[i].plain_len);
        }
    }
    (void)offload_gro_flush(x->gro, tun_write_cb, r);
    /* Echo replies and ACKs our writes just made leave from here. */
    if (pthread_mutex_trylock(&r->tx_lock) == 0) {
        (void)tx_pass(r);
        pthread_mutex_unlock(&r->tx_lock);
    }
}

/*
 * Receive and process one batch from fd (one of ours): open, write to the
 * TUN, then send whatever those writes provoked. Called with rx_lock held, by
 * the RX thread or by the TX thread while it spins. Never blocks.
 * Returns the number of datagrams handled.
 */
static int
rx_pass(struct wg_runner *r, int fd)
{
    struct rx_state *x = &r->rx;
    struct udp_datagram *dg;
    size_t n_wg;
    int n = -EAGAIN;

    pthread_rwlock_rdlock(&r->sock_lock);
    if (udp_rx_batch_pending(x->batch) || (fd >= 0 && (fd == r->sock.fd4 || fd == r->sock.fd6)))
        n = udp_try_recv_batch(&r->sock, fd, x->batch, &dg);
    pthread_rwlock_unlock(&r->sock_lock);
    if (n <= 0)
        return 0;

    for (int i = 0; i < n; i++) {
        x->pkts[i].data = dg[i].data;
        x->pkts[i].len = dg[i].len;
        x->pkts[i].from = dg[i].from;
    }
    n_wg = (size_t)n;
    if (r->events) /* once per batch; WireGuard mode never looks at the bytes */
        n_wg = rx_divert_magicsock(r, x->pkts, n_wg);
    if (n_wg)
        rx_deliver(r, x->pkts, n_wg);
    return n;
}

static void *
rx_thread(void *arg)
{
    struct wg_runner *r = arg;

    while (!atomic_load(&r->stop)) {
        struct pollfd pfd[3];
        int ready, fd = -1;

        /* Poll without the lock (a rebind must not wait for traffic); the
         * eventfd tells us the sockets changed, and rx_pass rechecks under
         * the lock that the fd is still ours. */
        pthread_rwlock_rdlock(&r->sock_lock);
        pfd[1] = (struct pollfd){ .fd = r->sock.fd4, .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = r->sock.fd6, .events = POLLIN };
        pthread_rwlock_unlock(&r->sock_lock);
        pfd[0] = (struct pollfd){ .fd = r->rx_wake_fd, .events = POLLIN };

        pthread_mutex_lock(&r->rx_lock);
        if (udp_rx_batch_pending(r->rx.batch)) {
            /* The rest of the last read: the socket may not become readable again. */
            (void)rx_pass(r, -1);
            pthread_mutex_unlock(&r->rx_lock);
            continue;
        }
        pthread_mutex_unlock(&r->rx_lock);

        ready = poll(pfd, 3, IDLE_TRIM_MS);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready == 0) {
            pthread_mutex_lock(&r->rx_lock);
            udp_rx_batch_trim(r->rx.batch);
            offload_gro_trim(r->rx.gro);
            pthread_mutex_unlock(&r->rx_lock);
            continue;
        }
        if (pfd[0].revents & POLLIN) {
            uint64_t v;

            (void)!read(r->rx_wake_fd, &v, sizeof(v));
            continue;
        }
        if (pfd[1].revents & POLLIN)
            fd = pfd[1].fd;
        else if (pfd[2].revents & POLLIN)
            fd = pfd[2].fd;
        if (fd < 0)
            continue;
        pthread_mutex_lock(&r->rx_lock);
        (void)rx_pass(r, fd);
        pthread_mutex_unlock(&r->rx_lock);
    }
    return NULL;
}

/*
 * After sending, the TX thread stays awake for spin_ns, polling without
 * sleeping for the answer on the UDP sockets (and more from the TUN): a
 * reply then skips the cold wakeup of the RX thread, which on a VM costs more
 * than the whole rest of the path (bench/RESULTS.md). Only after sparse
 * traffic (nothing sent in the 2 ms before): the cost is at most spin_ns of
 * CPU per isolated burst, nothing when idle or streaming; HYPHAE_SPIN_US=0
 * turns it off.
 */
static bool
tx_spin_once(struct wg_runner *r)
{
    struct pollfd pfd[3];

    pthread_rwlock_rdlock(&r->sock_lock);
    pfd[1] = (struct pollfd){ .fd = r->sock.fd4, .events = POLLIN };
    pfd[2] = (struct pollfd){ .fd = r->sock.fd6, .events = POLLIN };
    pthread_rwlock_unlock(&r->sock_lock);
    pfd[0] = (struct pollfd){ .fd = r->tun.fd, .events = POLLIN };
    if (poll(pfd, 3, 0) <= 0) {
        sched_yield();
        return false;
    }
    for (int i = 1; i < 3; i++) {
        if (!(pfd[i].revents & POLLIN))
            continue;
        if (pthread_mutex_trylock(&r->rx_lock) == 0) {
            (void)rx_pass(r, pfd[i].fd);
            pthread_mutex_unlock(&r->rx_lock);
        }
    }
    return true;
}

static void *
tx_thread(void *arg)
{
    struct wg_runner *r = arg;
    uint64_t spin_until = 0, last_tx = 0;

    while (!atomic_load(&r->stop)) {
        struct pollfd pfd[2] = {
            { .fd = r->tun.fd, .events = POLLIN },
            { .fd = r->tx_wake_fd, .events = POLLIN },
        };
        size_t n;
        int ready;

        pthread_mutex_lock(&r->tx_lock);
        n = tx_pass(r);
        pthread_mutex_unlock(&r->tx_lock);
        if (n) {
            uint64_t now = now_ns();

            /* Only sparse traffic (a ping, a keystroke) waits for its answer
             * awake; a stream keeps this thread busy anyway, and spinning
             * would take the CPU from the peer and the application. */
            spin_until = r->spin_ns && now - last_tx > SPIN_SPARSE_NS ? now + r->spin_ns : 0;
            last_tx = now;
            continue;
        }
        if (spin_until) {
            if (now_ns() < spin_until) {
                (void)tx_spin_once(r);
                continue;
            }
            spin_until = 0;
        }
        ready = poll(pfd, 2, IDLE_TRIM_MS);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready == 0) {
            pthread_mutex_lock(&r->tx_lock);
            mem_release(r->tx.read_buf, TUN_MAX_READ);
            pthread_mutex_unlock(&r->tx_lock);
        }
    }
    return NULL;
}

/* ---- timers ------------------------------------------------------------ */

static void *
timer_thread(void *arg)
{
    struct wg_runner *r = arg;

    while (!atomic_load(&r->stop)) {
        uint64_t now = now_ns(), next, wait_until;
        int mtu = tun_get_mtu(&r->tun);
        struct timespec ts;

        if (mtu > 0 && (unsigned int)mtu != atomic_load(&r->mtu))
            atomic_store(&r->mtu, (unsigned int)mtu);
        wg_device_lock(r->dev);
        r->dev->mtu = atomic_load(&r->mtu);
        r->dev->realtime_offset_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - now);
        next = wg_device_tick(r->dev, now);
        wg_device_unlock(r->dev);

        /* Wake at the next timer, and at least once a second for MTU changes. */
        wait_until = now + NSEC_PER_SEC;
        if (next && next < wait_until)
            wait_until = next;
        ts.tv_sec = (time_t)(wait_until / NSEC_PER_SEC);
        ts.tv_nsec = (long)(wait_until % NSEC_PER_SEC);
        pthread_mutex_lock(&r->timer_lock);
        while (!r->timer_wake && !atomic_load(&r->stop)) {
            if (pthread_cond_timedwait(&r->timer_cond, &r->timer_lock, &ts) == ETIMEDOUT)
                break;
        }
        r->timer_wake = false;
        pthread_mutex_unlock(&r->timer_lock);
    }
    return NULL;
}

/* ---- UAPI -------------------------------------------------------------- */

static int
uapi_get(void *ctx, struct uapi_device_state *out)
{
    struct wg_runner *r = ctx;
    int ret;

    wg_device_lock(r->dev);
    ret = wg_config_get(r->dev, r->listen_port, r->fwmark, out);
    wg_device_unlock(r->dev);
    return ret;
}

static void
wake_fd(int fd)
{
    uint64_t one = 1;

    (void)!write(fd, &one, sizeof(one));
}

/* Called with config_lock held: wg(8) and the owner never swap sockets at once. */
static int
apply_locked(void *ctx, const struct uapi_set *set)
{
    struct wg_runner *r = ctx;
    struct udp_socket fresh = { .fd4 = -1, .fd6 = -1 };
    bool rebind = set->has_listen_port && set->listen_port != r->listen_port;
    uint32_t fwmark = set->has_fwmark ? set->fwmark : r->fwmark;
    int ret;

    /* Bind first: if the port is taken, nothing else changes. */
    if (rebind) {
        ret = udp_open(&fresh, set->listen_port, fwmark);
        if (ret < 0)
            return ret;
    }
    wg_device_lock(r->dev);
    ret = wg_config_apply(r->dev, set, now_ns());
    wg_device_unlock(r->dev);

    if (rebind || fwmark != r->fwmark) {
        pthread_rwlock_wrlock(&r->sock_lock);
        if (rebind) {
            udp_close(&r->sock);
            r->sock = fresh;
            r->listen_port = fresh.port;
        }
        if (fwmark != r->fwmark) {
            (void)udp_set_fwmark(&r->sock, fwmark);
            r->fwmark = fwmark;
        }
        pthread_rwlock_unlock(&r->sock_lock);
        wake_fd(r->rx_wake_fd);
    }
    return ret;
}

static int
uapi_set(void *ctx, const struct uapi_set *set)
{
    struct wg_runner *r = ctx;
    int ret;

    pthread_mutex_lock(&r->config_lock);
    ret = apply_locked(r, set);
    pthread_mutex_unlock(&r->config_lock);
    return ret;
}

static const struct uapi_ops runner_uapi_ops = {
    .get = uapi_get,
    .set = uapi_set,
};

static void *
uapi_thread(void *arg)
{
    struct wg_runner *r = arg;

    while (!atomic_load(&r->stop)) {
        struct timeval tv = { .tv_sec = UAPI_CLIENT_TIMEOUT_S };
        int c = accept4(r->uapi_fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        /* A client that stalls mid-request must not block the next one forever. */
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        atomic_store(&r->uapi_client_fd, c);
        /* wg_runner_stop may have shut the listener down just before we
         * published c: then end this client at once too. */
        if (!atomic_load(&r->stop))
            (void)uapi_serve(c, &runner_uapi_ops, r);
        atomic_store(&r->uapi_client_fd, -1);
        close(c);
    }
    return NULL;
}

/* ---- the handle ------------------------------------------------------- */

int
wg_runner_apply(struct wg_runner *r, const struct uapi_set *set)
{
    return uapi_set(r, set);
}

int
wg_runner_get(struct wg_runner *r, struct uapi_device_state *out)
{
    return uapi_get(r, out);
}

int
wg_runner_get_peer_stats(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                         struct wg_runner_peer_stats *out)
{
    struct wg_peer *p;

    memset(out, 0, sizeof(*out));
    wg_device_lock(r->dev);
    p = wg_device_lookup_peer(r->dev, public_key);
    if (p) {
        out->rx_bytes = p->rx_bytes;
        out->tx_bytes = p->tx_bytes;
        out->last_handshake_sec = p->last_handshake_realtime_ns / 1000000000;
        out->has_endpoint = p->endpoint.addr.sa.sa_family != AF_UNSPEC;
        out->endpoint = p->endpoint.addr;
    }
    wg_device_unlock(r->dev);
    return p ? 0 : -ENOENT;
}

int
wg_runner_initiate_handshake(struct wg_runner *r, const uint8_t public_key[KEY_LEN])
{
    struct wg_peer *p;

    wg_device_lock(r->dev);
    p = wg_device_lookup_peer(r->dev, public_key);
    if (p)
        wg_device_send_handshake_initiation(p, false, now_ns());
    wg_device_unlock(r->dev);
    return p ? 0 : -ENOENT;
}

uint16_t
wg_runner_get_listen_port(struct wg_runner *r)
{
    uint16_t port;

    pthread_rwlock_rdlock(&r->sock_lock);
    port = r->listen_port;
    pthread_rwlock_unlock(&r->sock_lock);
    return port;
}

/* ---- Tailscale mode -------------------------------------------------- */

int
wg_runner_event_fd(struct wg_runner *r)
{
    return r->events ? wg_event_queue_fd(r->events) : -1;
}

struct wg_runner_event *
wg_runner_event_pop(struct wg_runner *r)
{
    return r->events ? wg_event_queue_pop(r->events) : NULL;
}

uint64_t
wg_runner_events_dropped(struct wg_runner *r)
{
    return r->events ? wg_event_queue_dropped(r->events) : 0;
}

/*
 * What the device stores and compares with memcmp: nothing but the family for
 * "none", and a DERP endpoint's address always the magic 127.3.3.40:region
 * (what `wg show` then prints, as Tailscale shows it). false: not an endpoint.
 */
static bool
endpoint_normalise(struct wg_endpoint *out, const struct wg_endpoint *in)
{
    *out = *in;
    if (wg_endpoint_is_derp(in)) {
        memset(&out->addr, 0, sizeof(out->addr));
        out->addr.in4.sin_family = AF_INET;
        out->addr.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
        out->addr.in4.sin_port = htons(in->derp_region);
        out->src_ifindex = 0;
        memset(&out->src6, 0, sizeof(out->src6));
        return true;
    }
    if (in->addr.sa.sa_family == AF_UNSPEC) {
        memset(out, 0, sizeof(*out));
        return true;
    }
    return in->addr.sa.sa_family == AF_INET || in->addr.sa.sa_family == AF_INET6;
}

int
wg_runner_set_peer_endpoint(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                            const struct wg_endpoint *ep)
{
    struct wg_endpoint pinned;
    struct wg_peer *p;

    if (!endpoint_normalise(&pinned, ep))
        return -EAFNOSUPPORT;
    if (wg_endpoint_is_derp(&pinned) && !r->events)
        return -EINVAL; /* no queue to relay through */
    wg_device_lock(r->dev);
    p = wg_device_lookup_peer(r->dev, public_key);
    if (p)
        wg_peer_pin_endpoint(p, &pinned, now_ns());
    wg_device_unlock(r->dev);
    return p ? 0 : -ENOENT;
}

void
wg_runner_set_native_addrs(struct wg_runner *r, const struct wg_masq *native)
{
    wg_device_lock(r->dev);
    wg_device_set_native_addrs(r->dev, native);
    wg_device_unlock(r->dev);
}

int
wg_runner_set_peer_masq(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                        const struct wg_masq *masq)
{
    struct wg_peer *p;

    wg_device_lock(r->dev);
    p = wg_device_lookup_peer(r->dev, public_key);
    if (p)
        wg_peer_set_masq(p, masq);
    wg_device_unlock(r->dev);
    return p ? 0 : -ENOENT;
}

int
wg_runner_send_udp(struct wg_runner *r, const uint8_t *data, size_t len,
                   const union wg_sockaddr *to)
{
    struct wg_endpoint ep = { 0 };
    struct udp_tx tx = { .data = data, .len = len, .to = &ep };
    int n;

    if (to->sa.sa_family != AF_INET && to->sa.sa_family != AF_INET6)
        return -EAFNOSUPPORT;
    memcpy(&ep.addr, to, wg_sockaddr_len(to));
    pthread_rwlock_rdlock(&r->sock_lock);
    n = udp_send_batch(&r->sock, &tx, 1);
    pthread_rwlock_unlock(&r->sock_lock);
    return n == 1 ? 0 : n < 0 ? n : -EIO;
}

void
wg_runner_rx_inject(struct wg_runner *r, const uint8_t *data, size_t len,
                    const struct wg_endpoint *from)
{
    struct wg_rx_packet p = { .len = len };

    if (!r->events || len == 0 || len > WG_MESSAGE_MAX_LENGTH || !wg_endpoint_is_derp(from))
        return;
    (void)endpoint_normalise(&p.from, from);
    pthread_mutex_lock(&r->rx_lock);
    /* Opened in place: into the runner's buffer, not the caller's. */
    memcpy(r->rx.inject_buf, data, len);
    p.data = r->rx.inject_buf;
    rx_deliver(r, &p, 1);
    pthread_mutex_unlock(&r->rx_lock);
}

int
wg_runner_tun_inject(struct wg_runner *r, const uint8_t *pkt, size_t len)
{
    struct virtio_net_hdr_v1 vh = { 0 }; /* GSO_NONE, no checksum to finish */
    struct iovec iov[2] = {
        { .iov_base = &vh, .iov_len = sizeof(vh) },
        { .iov_base = (void *)pkt, .iov_len = len },
    };
    ssize_t n;

    if (len < 20 || len > 65535 || ((pkt[0] >> 4) != 4 && (pkt[0] >> 4) != 6))
        return -EINVAL;
    if (r->tun.vnet_hdr)
        n = writev(r->tun.fd, iov, 2);
    else
        n = writev(r->tun.fd, &iov[1], 1);
    return n < 0 ? -errno : 0;
}

void
wg_runner_set_filter(struct wg_runner *r, struct pf_filter *f)
{
    struct pf_filter *old;

    /* The RX path (thread and rx_inject) only reads the pointer under
     * rx_lock: once we hold it, nobody uses the old filter. */
    pthread_mutex_lock(&r->rx_lock);
    old = r->filter;
    r->filter = f;
    pthread_mutex_unlock(&r->rx_lock);
    pf_filter_free(old);
}

int
wg_runner_filter_stats(struct wg_runner *r, struct pf_stats **out)
{
    int err = 0;

    pthread_mutex_lock(&r->rx_lock);
    if (!r->filter)
        err = -ENOENT;
    else if (!(*out = pf_filter_stats(r->filter)))
        err = -ENOMEM;
    pthread_mutex_unlock(&r->rx_lock);
    return err;
}

uint64_t
wg_runner_filter_rejects_sent(struct wg_runner *r)
{
    return atomic_load_explicit(&r->rejects_sent, memory_order_relaxed);
}

const char *
wg_runner_get_ifname(struct wg_runner *r)
{
    return r->tun.name;
}

bool
wg_runner_is_alive(struct wg_runner *r)
{
    return !atomic_load(&r->failed);
}

static void
runner_free(struct wg_runner *r)
{
    if (r->uapi_fd >= 0) {
        close(r->uapi_fd);
        uapi_unlink(r->uapi_dir, r->tun.name);
    }
    udp_close(&r->sock);
    tun_close(&r->tun);
    if (r->dev)
        wg_device_free(r->dev);
    if (r->rx_wake_fd >= 0)
        close(r->rx_wake_fd);
    if (r->tx_wake_fd >= 0)
        close(r->tx_wake_fd);
    for (int i = 0; i < TX_BATCH; i++)
        free(r->tx.bufs[i]);
    free(r->tx.read_buf);
    udp_rx_batch_free(r->rx.batch);
    offload_gro_free(r->rx.gro);
    free(r->rx.inject_buf);
    wg_event_queue_free(r->events);
    pf_filter_free(r->filter);
    pf_flows_free(r->flows);
    pthread_rwlock_destroy(&r->sock_lock);
    pthread_mutex_destroy(&r->config_lock);
    pthread_mutex_destroy(&r->timer_lock);
    pthread_cond_destroy(&r->timer_cond);
    pthread_mutex_destroy(&r->tx_lock);
    pthread_mutex_destroy(&r->rx_lock);
    free(r->uapi_dir);
    free(r);
}

static bool
start_thread(struct wg_runner *r, void *(*fn)(void *))
{
    if (pthread_create(&r->threads[r->n_threads], NULL, fn, r) != 0)
        return false;
    r->n_threads++;
    return true;
}

int
wg_runner_start(const struct wg_runner_config *cfg, struct wg_runner **out)
{
    struct wg_runner *r;
    pthread_condattr_t ca;
    pthread_rwlockattr_t ra;
    sigset_t all, old;
    const char *spin = getenv("HYPHAE_SPIN_US");
    int mtu, ret;

    *out = NULL;
    if (!cfg->ifname || strlen(cfg->ifname) >= sizeof(r->tun.name))
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->tun.fd = r->uapi_fd = r->rx_wake_fd = r->tx_wake_fd = -1;
    r->sock.fd4 = r->sock.fd6 = -1;
    atomic_init(&r->uapi_client_fd, -1);
    r->spin_ns = DEFAULT_SPIN_US * 1000ULL;
    if (spin)
        r->spin_ns = strtoull(spin, NULL, 10) * 1000ULL;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&r->sock_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&r->config_lock, NULL);
    pthread_mutex_init(&r->timer_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->tx_lock, NULL);
    pthread_mutex_init(&r->rx_lock, NULL);
    if (cfg->uapi_dir && !(r->uapi_dir = strdup(cfg->uapi_dir))) {
        ret = -ENOMEM;
        goto fail;
    }

    ret = tun_open(&r->tun, cfg->ifname);
    if (ret < 0) {
        log_msg("cannot create TUN %s: %s", cfg->ifname, strerror(-ret));
        goto fail;
    }
    fcntl(r->tun.fd, F_SETFL, fcntl(r->tun.fd, F_GETFL) | O_NONBLOCK);
    /* wireguard-go's default: 1500 minus the worst-case (IPv6) overhead of 80. */
    (void)tun_set_mtu(&r->tun, cfg->mtu ? (int)cfg->mtu : WG_DEFAULT_MTU);
    mtu = tun_get_mtu(&r->tun);
    atomic_store(&r->mtu, mtu > 0 ? (unsigned int)mtu : WG_DEFAULT_MTU);

    ret = udp_open(&r->sock, cfg->listen_port, cfg->fwmark);
    if (ret < 0) {
        log_msg("cannot open UDP socket: %s", strerror(-ret));
        goto fail;
    }
    r->listen_port = r->sock.port;
    r->fwmark = cfg->fwmark;

    ret = -ENOMEM;
    r->dev = wg_device_new(device_send, device_wake, r);
    r->rx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->tx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!r->dev || r->rx_wake_fd < 0 || r->tx_wake_fd < 0)
        goto fail;
    r->dev->mtu = atomic_load(&r->mtu);
    /* No thread runs yet, but device.h's contract holds here too (checked in
     * debug builds by wg_device_assert_locked). */
    wg_device_lock(r->dev);
    if (cfg->private_key)
        wg_device_set_private_key(r->dev, cfg->private_key, now_ns());
    wg_device_set_up(r->dev, true, now_ns());
    wg_device_unlock(r->dev);
    r->tx.mtu = atomic_load(&r->mtu);
    r->tx.read_buf = malloc(TUN_MAX_READ);
    r->rx.batch = udp_rx_batch_new();
    r->flows = pf_flows_new(0);
    r->rx.gro = offload_gro_new(r->tun.tso, r->tun.uso);
    if (r->rx.gro)
        offload_gro_trust_checksums(r->rx.gro, true); /* all authenticated by Poly1305 */
    if (!r->tx.read_buf || tx_alloc(&r->tx, r->tx.mtu) < 0 || !r->rx.batch || !r->rx.gro ||
        !r->flows)
        goto fail;
    if (cfg->magicsock) {
        r->events = wg_event_queue_new();
        r->rx.inject_buf = malloc(WG_MESSAGE_MAX_LENGTH);
        if (!r->events || !r->rx.inject_buf)
            goto fail;
        r->dev->note_active = device_note_active;
    }

    r->uapi_fd = uapi_listen(r->uapi_dir, r->tun.name);
    if (r->uapi_fd < 0) {
        ret = r->uapi_fd;
        log_msg("cannot listen on the UAPI socket: %s", strerror(-ret));
        goto fail;
    }

    /* The threads take no signals: those belong to the caller. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (!start_thread(r, tx_thread) || !start_thread(r, rx_thread) ||
        !start_thread(r, timer_thread) || !start_thread(r, uapi_thread)) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        wg_runner_stop(r);
        return -EAGAIN;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    log_msg("%s up (offloads: vnet_hdr=%d tso=%d uso=%d; udp port %u gso=%d gro=%d)", r->tun.name,
            r->tun.vnet_hdr, r->tun.tso, r->tun.uso, r->listen_port, r->sock.gso4, r->sock.gro4);
    *out = r;
    return 0;

fail:
    runner_free(r);
    return ret;
}

void
wg_runner_stop(struct wg_runner *r)
{
    int c;

    if (!r)
        return;
    atomic_store(&r->stop, true);
    wake_fd(r->rx_wake_fd);
    wake_fd(r->tx_wake_fd);
    device_wake(r);
    /* accept() and a client read return once their sockets are shut down. */
    if (r->uapi_fd >= 0)
        shutdown(r->uapi_fd, SHUT_RDWR);
    c = atomic_load(&r->uapi_client_fd);
    if (c >= 0)
        shutdown(c, SHUT_RDWR);
    for (int i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    runner_free(r);
}

/* ---- `hyphaed --wireguard IFNAME` -------------------------------------- */

/* Background by default, like wireguard-go: the parent exits once we are ready. */
static int
daemonize(int *ready_fd)
{
    int p[2];
    pid_t pid;
    char c = 1;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(1);
        _exit(c == 0 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    *ready_fd = p[1];
    return 0;
}

static void
signal_ready(int *ready_fd, bool ok)
{
    char c = ok ? 0 : 1;
    int devnull;

    if (*ready_fd < 0)
        return;
    (void)!write(*ready_fd, &c, 1);
    close(*ready_fd);
    *ready_fd = -1;
    if (ok) {
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
    }
}

/*
 * A bench knob (bench/filter/hyphaed-filter): HYPHAE_WG_FILTER_RULES=N
 * installs N rules shaped like a tailnet's ACL: N - 1 rules from single
 * tailnet addresses that never send to us (each to its own port), then one
 * that lets everyone in; every address is local. Traffic passes as without a
 * filter, but through the whole filter path. NULL when unset or 0.
 */
static struct pf_filter *
bench_filter_from_env(void)
{
    const char *env = getenv("HYPHAE_WG_FILTER_RULES");
    unsigned long n = env ? strtoul(env, NULL, 10) : 0;
    struct ip_prefix any[2] = { { .addr = { .family = AF_INET } },
                                { .addr = { .family = AF_INET6 } } };
    struct pf_dst all[2] = { { .net = any[0], .port_last = 65535 },
                             { .net = any[1], .port_last = 65535 } };
    struct pf_rule everyone = { .srcs = any, .n_srcs = 2, .dsts = all, .n_dsts = 2 };
    struct pf_builder *b;
    int err = 0;

    if (n == 0 || n > 100000 || !(b = pf_builder_new()))
        return NULL;
    for (unsigned long i = 0; i + 1 < n; i++) {
        struct ip_prefix src = { .addr = { .family = AF_INET,
                                           .bytes = { 100, 65, (uint8_t)(i >> 8), (uint8_t)i } },
                                 .bits = 32 };
        struct pf_dst dst = { .net = any[0],
                              .port_first = (uint16_t)(1000 + i % 60000),
                              .port_last = (uint16_t)(1000 + i % 60000) };
        struct pf_rule r = {
            .id = (uint32_t)i, .srcs = &src, .n_srcs = 1, .dsts = &dst, .n_dsts = 1
        };

        (void)pf_builder_add_rule(b, &r);
    }
    everyone.id = (uint32_t)n - 1;
    (void)pf_builder_add_rule(b, &everyone);
    (void)pf_builder_add_local(b, &any[0]);
    (void)pf_builder_add_local(b, &any[1]);
    log_msg("bench: a %lu-rule packet filter (HYPHAE_WG_FILTER_RULES)", n);
    return pf_builder_finish(b, &err);
}

int
wg_runner_main(const struct wg_runner_options *opts)
{
    struct wg_runner_config cfg = { .ifname = opts->ifname, .uapi_dir = opts->uapi_dir };
    struct wg_runner *r;
    sigset_t sigs;
    int ready_fd = -1, sig = 0, ret;

    if (strlen(opts->ifname) >= IFNAMSIZ) {
        log_msg("interface name too long: %s", opts->ifname);
        return 1;
    }
    if (!opts->foreground && daemonize(&ready_fd) < 0) {
        log_msg("cannot go to the background: %s", strerror(errno));
        return 1;
    }

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    ret = wg_runner_start(&cfg, &r);
    if (ret < 0) {
        signal_ready(&ready_fd, false);
        return 1;
    }
    wg_runner_set_filter(r, bench_filter_from_env());
    signal_ready(&ready_fd, true);

    /* Wait for a signal, or for the TUN to disappear. */
    while (wg_runner_is_alive(r)) {
        struct timespec one_s = { .tv_sec = 1 };

        sig = sigtimedwait(&sigs, NULL, &one_s);
        if (sig > 0)
            break;
    }
    if (sig > 0)
        log_msg("%s: signal %d, shutting down", opts->ifname, sig);
    wg_runner_stop(r);
    return 0;
}
