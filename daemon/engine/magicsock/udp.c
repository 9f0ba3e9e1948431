/* SPDX-License-Identifier: MIT */
/*
 * The outer UDP sockets (udp(7) UDP_SEGMENT, UDP_GRO; facts from wireguard-go
 * conn/bind_std.go, sticky_linux.go, features_linux.go).
 *
 * RX: recvmmsg(MSG_WAITFORONE) into preallocated buffers. With UDP_GRO each
 * slot is 64 KiB and may hold a super-datagram of gso_size segments (UDP_GRO
 * cmsg, an int); it is split by pointer. A recvmmsg can therefore yield more
 * than UDP_BATCH datagrams (the kernel builds up to 64 segments by GRO and
 * passes up to 128-segment GSO skbs over loopback/veth): the rest stays in the
 * batch's buffers and is returned by the next call before reading again.
 *
 * TX: runs of equal-size datagrams to one endpoint become one sendmsg with a
 * UDP_SEGMENT cmsg (u16) and one iovec per datagram; several per sendmmsg.
 * Failures: EIO on GSO disables GSO for the family for good; EMSGSIZE/EINVAL
 * on GSO resends that run without GSO; a failure with a sticky source
 * (address or interface gone) retries once without it; other errors drop the
 * failing message and go on.
 *
 * Threads: a udp_rx_batch belongs to one receiving thread. gso4/gso6 are the
 * only fields written after udp_open (by the sender, relaxed atomics).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"
#include "magicsock/udp.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum {
    /* One plain datagram per slot when GRO is off: jumbo frames (9000) fit. */
    UDP_RX_SLOT = 16384,
    /* clang-format off */
    UDP_RX_REGION = MAX(UDP_RX_BUFS * UDP_RX_BUF, UDP_BATCH * UDP_RX_SLOT),
    /* clang-format on */
    /* in6_pktinfo + UDP_GRO int, plus room for anything unexpected. */
    UDP_RX_CTRL = 128,
    /* in6_pktinfo + UDP_SEGMENT u16. */
    UDP_TX_CTRL = CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)),
    /* Datagrams per sendmmsg (one iovec each). */
    UDP_TX_IOVS = UDP_BATCH * 4,
    /* Largest UDP payload: 16-bit IP total length (v4) / payload length (v6). */
    UDP_MAX_PAYLOAD4 = 65535 - 20 - 8,
    UDP_MAX_PAYLOAD6 = 65535 - 8,
    UDP_OPEN_TRIES = 100,
};

_Static_assert(UDP_RX_BUFS <= UDP_BATCH, "GRO slots must fit the mmsghdr array");
_Static_assert((int)UDP_RX_BUF >= (int)UDP_MAX_PAYLOAD6, "a GRO slot holds any UDP datagram");

/* ------------------------------------------------------------------ sockets */

static int
setsockopt_int(int fd, int level, int name, int val)
{
    return setsockopt(fd, level, name, &val, sizeof(val)) < 0 ? -errno : 0;
}

/* Options that must be set before bind; probes GSO and GRO. */
static int
udp_setup_fd(int fd, int family, uint32_t fwmark, bool *gso, bool *gro)
{
    int v, r;
    socklen_t len;

    /* The plain options are capped by [rw]mem_max; FORCE needs CAP_NET_ADMIN. */
    (void)setsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_SOCKET_BUFFER);
    (void)setsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, UDP_SOCKET_BUFFER);
    (void)setsockopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, UDP_SOCKET_BUFFER);
    (void)setsockopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, UDP_SOCKET_BUFFER);

    if (fwmark) {
        r = setsockopt_int(fd, SOL_SOCKET, SO_MARK, (int)fwmark);
        if (r < 0)
            return r;
    }

    if (family == AF_INET) {
        r = setsockopt_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
    } else {
        r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
        if (r == 0)
            r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    }
    if (r < 0)
        return r;

    len = sizeof(v);
    *gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;

    /*
     * getsockopt(UDP_GRO) exists since 5.12; earlier GRO had bugs, so like
     * wireguard-go we only keep GRO when the read-back confirms it.
     */
    *gro = false;
    if (setsockopt_int(fd, SOL_UDP, UDP_GRO, 1) == 0) {
        len = sizeof(v);
        if (getsockopt(fd, SOL_UDP, UDP_GRO, &v, &len) == 0 && v == 1)
            *gro = true;
        else
            (void)setsockopt_int(fd, SOL_UDP, UDP_GRO, 0);
    }
    return 0;
}

/* Opens and binds one family on *port (0: the kernel's choice, stored back). */
static int
udp_open_family(int family, uint16_t *port, uint32_t fwmark, int *out_fd, bool *gso, bool *gro)
{
    union wg_sockaddr a;
    socklen_t alen;
    int fd, r;

    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return -errno;

    r = udp_setup_fd(fd, family, fwmark, gso, gro);
    if (r < 0)
        goto fail;

    memset(&a, 0, sizeof(a));
    if (family == AF_INET) {
        a.in4.sin_family = AF_INET;
        a.in4.sin_addr.s_addr = htonl(INADDR_ANY);
        a.in4.sin_port = htons(*port);
    } else {
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_addr = in6addr_any;
        a.in6.sin6_port = htons(*port);
    }
    if (bind(fd, &a.sa, wg_sockaddr_len(&a)) < 0) {
        r = -errno;
        goto fail;
    }

    alen = sizeof(a);
    if (getsockname(fd, &a.sa, &alen) < 0) {
        r = -errno;
        goto fail;
    }
    *port = ntohs(family == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
    *out_fd = fd;
    return 0;

fail:
    close(fd);
    return r;
}

static void
udp_reset(struct udp_socket *s, uint16_t port, uint32_t fwmark)
{
    s->fd4 = s->fd6 = -1;
    s->port = port;
    s->fwmark = fwmark;
    s->gso4 = s->gso6 = false;
    s->gro4 = s->gro6 = false;
}

static int
udp_open_once(struct udp_socket *s, uint16_t port, uint32_t fwmark)
{
    uint16_t p = port;
    int r;

    udp_reset(s, port, fwmark);

    r = udp_open_family(AF_INET, &p, fwmark, &s->fd4, &s->gso4, &s->gro4);
    if (r < 0 && r != -EAFNOSUPPORT)
        return r;

    r = udp_open_family(AF_INET6, &p, fwmark, &s->fd6, &s->gso6, &s->gro6);
    if (r < 0) {
        /* No IPv6 on this host: keep IPv4 alone. Anything else is an error. */
        if (s->fd4 < 0 || (r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL)) {
            udp_close(s);
            return r;
        }
    }
    s->port = p;
    return 0;
}

int
udp_open(struct udp_socket *s, uint16_t port, uint32_t fwmark)
{
    int r = -EADDRINUSE;

    /* With port 0 the kernel's IPv4 port may be taken on IPv6: pick again. */
    for (int i = 0; i < UDP_OPEN_TRIES; i++) {
        r = udp_open_once(s, port, fwmark);
        if (r != -EADDRINUSE || port != 0)
            break;
    }
    if (r < 0)
        engine_warning(ENGINE_LOG_PATH, "Cannot bind UDP port %u: %s", port, strerror(-r));
    else
        engine_info(ENGINE_LOG_PATH,
                    "UDP port %u bound: IPv4 %s (gso %d, gro %d), IPv6 %s (gso %d, gro %d)",
                    s->port, s->fd4 >= 0 ? "yes" : "no", s->gso4, s->gro4,
                    s->fd6 >= 0 ? "yes" : "no", s->gso6, s->gro6);
    return r;
}

void
udp_close(struct udp_socket *s)
{
    if (s->fd4 >= 0)
        close(s->fd4);
    if (s->fd6 >= 0)
        close(s->fd6);
    s->fd4 = s->fd6 = -1;
}

int
udp_set_fwmark(struct udp_socket *s, uint32_t fwmark)
{
    int r;

    /* SO_MARK needs CAP_NET_ADMIN/CAP_NET_RAW even to write the same value. */
    if (fwmark == s->fwmark)
        return 0;
    if (s->fd4 >= 0) {
        r = setsockopt_int(s->fd4, SOL_SOCKET, SO_MARK, (int)fwmark);
        if (r < 0)
            return r;
    }
    if (s->fd6 >= 0) {
        r = setsockopt_int(s->fd6, SOL_SOCKET, SO_MARK, (int)fwmark);
        if (r < 0)
            return r;
    }
    s->fwmark = fwmark;
    return 0;
}

/* ----------------------------------------------------------------------- RX */

struct rx_meta {
    struct wg_endpoint from;
    uint32_t len;
    uint32_t gso; /* 0: a single datagram */
    bool drop;
};

struct udp_rx_batch {
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    union wg_sockaddr name[UDP_BATCH];
    union {
        struct cmsghdr align;
        uint8_t buf[UDP_RX_CTRL];
    } ctrl[UDP_BATCH];
    struct rx_meta meta[UDP_BATCH];
    struct udp_datagram out[UDP_BATCH];
    /* Messages of the last recvmmsg not yet returned: [next_mm, n_mm). */
    unsigned int n_mm, next_mm;
    size_t next_off; /* bytes of mm[next_mm] already returned */
    uint8_t *buf;    /* UDP_RX_REGION bytes */
};

struct udp_rx_batch *
udp_rx_batch_new(void)
{
    struct udp_rx_batch *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    if (posix_memalign((void **)&b->buf, 4096, UDP_RX_REGION) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

bool
udp_rx_batch_pending(const struct udp_rx_batch *b)
{
    return b->next_mm < b->n_mm;
}

void
udp_rx_batch_trim(struct udp_rx_batch *b)
{
    /* Datagrams still to be returned live in the region: keep it then. */
    if (b->next_mm < b->n_mm)
        return;
    mem_release(b->buf, UDP_RX_REGION);
}

void
udp_rx_batch_free(struct udp_rx_batch *b)
{
    if (!b)
        return;
    free(b->buf);
    free(b);
}

static void
rx_parse(struct udp_rx_batch *b, unsigned int i)
{
    const struct msghdr *h = &b->mm[i].msg_hdr;
    const uint8_t *ctl = h->msg_control;
    size_t clen = MIN((size_t)h->msg_controllen, sizeof(b->ctrl[i].buf));
    struct rx_meta *m = &b->meta[i];
    size_t off = 0;

    memset(&m->from, 0, sizeof(m->from));
    memcpy(&m->from.addr, &b->name[i], MIN((size_t)h->msg_namelen, sizeof(m->from.addr)));
    m->len = b->mm[i].msg_len;
    m->gso = 0;
    m->drop = (h->msg_flags & MSG_TRUNC) != 0;

    /* Walk the cmsgs ourselves: CMSG_FIRSTHDR does not check the first length. */
    while (off + sizeof(struct cmsghdr) <= clen) {
        struct cmsghdr c;
        const uint8_t *data;
        size_t dlen;

        memcpy(&c, ctl + off, sizeof(c));
        if (c.cmsg_len < CMSG_LEN(0) || c.cmsg_len > clen - off)
            break;
        data = ctl + off + CMSG_LEN(0);
        dlen = c.cmsg_len - CMSG_LEN(0);

        if (c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_PKTINFO &&
            dlen >= sizeof(struct in_pktinfo)) {
            struct in_pktinfo pi;

            memcpy(&pi, data, sizeof(pi));
            /* spec_dst: the local address replies should come from. */
            m->from.src4 = pi.ipi_spec_dst;
            m->from.src_ifindex = pi.ipi_ifindex;
        } else if (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_PKTINFO &&
                   dlen >= sizeof(struct in6_pktinfo)) {
            struct in6_pktinfo pi;

            memcpy(&pi, data, sizeof(pi));
            m->from.src6 = pi.ipi6_addr;
            m->from.src_ifindex = (int)pi.ipi6_ifindex;
        } else if (c.cmsg_level == SOL_UDP && c.cmsg_type == UDP_GRO && dlen >= sizeof(int)) {
            int gso;

            memcpy(&gso, data, sizeof(gso));
            m->gso = gso > 0 ? (uint32_t)gso : 0;
        }
        off += CMSG_ALIGN(c.cmsg_len);
    }
}

/* Returns up to UDP_BATCH datagrams from the pending messages. */
static int
rx_split(struct udp_rx_batch *b)
{
    int n = 0;

    while (b->next_mm < b->n_mm && n < UDP_BATCH) {
        const struct rx_meta *m = &b->meta[b->next_mm];
        uint8_t *base = b->iov[b->next_mm].iov_base;

        if (m->drop) {
            b->next_mm++;
            continue;
        }
        if (m->gso == 0 || m->gso >= m->len) {
            b->out[n++] = (struct udp_datagram){ .data = base, .len = m->len, .from = m->from };
            b->next_mm++;
            continue;
        }
        while (b->next_off < m->len && n < UDP_BATCH) {
            size_t seg = MIN((size_t)m->gso, m->len - b->next_off);

            b->out[n++] =
                (struct udp_datagram){ .data = base + b->next_off, .len = seg, .from = m->from };
            b->next_off += seg;
        }
        if (b->next_off >= m->len) {
            b->next_mm++;
            b->next_off = 0;
        }
    }
    return n;
}

static int
recv_batch(struct udp_socket *s, int fd, struct udp_rx_batch *b, struct udp_datagram **out,
           int flags)
{
    for (;;) {
        unsigned int slots;
        size_t slot;
        bool gro;
        int r;

        /* Leftovers of a GRO-heavy recvmmsg come first (maybe from another fd). */
        if (b->next_mm < b->n_mm) {
            r = rx_split(b);
            if (r > 0) {
                *out = b->out;
                return r;
            }
        }
        if (fd < 0)
            return -EBADF;

        /* An fd we do not know gets the GRO layout: it never truncates. */
        gro = fd == s->fd4 ? s->gro4 : fd == s->fd6 ? s->gro6 : true;
        slots = gro ? UDP_RX_BUFS : UDP_BATCH;
        slot = gro ? UDP_RX_BUF : UDP_RX_SLOT;
        for (unsigned int i = 0; i < slots; i++) {
            struct msghdr *h = &b->mm[i].msg_hdr;

            b->iov[i].iov_base = b->buf + (size_t)i * slot;
            b->iov[i].iov_len = slot;
            h->msg_name = &b->name[i];
            h->msg_namelen = sizeof(b->name[i]);
            h->msg_iov = &b->iov[i];
            h->msg_iovlen = 1;
            h->msg_control = b->ctrl[i].buf;
            h->msg_controllen = sizeof(b->ctrl[i].buf);
            h->msg_flags = 0;
        }

        b->n_mm = b->next_mm = 0;
        b->next_off = 0;
        r = recvmmsg(fd, b->mm, slots, MSG_WAITFORONE | flags, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < r; i++)
            rx_parse(b, (unsigned int)i);
        b->n_mm = (unsigned int)r;
        /* All dropped (truncated): read again rather than return 0. */
    }
}

int
udp_recv_batch(struct udp_socket *s, int fd, struct udp_rx_batch *b, struct udp_datagram **out)
{
    return recv_batch(s, fd, b, out, 0);
}

int
udp_try_recv_batch(struct udp_socket *s, int fd, struct udp_rx_batch *b, struct udp_datagram **out)
{
    return recv_batch(s, fd, b, out, MSG_DONTWAIT);
}

/* ----------------------------------------------------------------------- TX */

struct tx_meta {
    size_t first, last; /* indices in msgs of its first and last datagrams */
    size_t count;       /* datagrams in this message */
    uint16_t gso_size;  /* 0: one plain datagram */
    bool src;           /* carries a sticky-source cmsg */
    bool src_retried;
};

struct tx_ctx {
    struct mmsghdr mm[UDP_BATCH];
    struct tx_meta meta[UDP_BATCH];
    struct iovec iov[UDP_TX_IOVS];
    union {
        struct cmsghdr align;
        uint8_t buf[UDP_TX_CTRL];
    } ctrl[UDP_BATCH];
    unsigned int n_mm;
    size_t nogso_end; /* datagrams below this index go without GSO */
};

static bool
ep_has_src(const struct wg_endpoint *e)
{
    if (e->src_ifindex != 0)
        return true;
    if (e->addr.sa.sa_family == AF_INET)
        return e->src4.s_addr != 0;
    return e->addr.sa.sa_family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(&e->src6);
}

/* Same destination and same sticky source: may share one GSO message. */
static bool
ep_same(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
    if (a == b)
        return true;
    if (!wg_sockaddr_equal(&a->addr, &b->addr) || a->src_ifindex != b->src_ifindex)
        return false;
    if (a->addr.sa.sa_family == AF_INET)
        return a->src4.s_addr == b->src4.s_addr;
    return memcmp(&a->src6, &b->src6, sizeof(a->src6)) == 0;
}

static bool *
gso_flag(struct udp_socket *s, int family)
{
    return family == AF_INET ? &s->gso4 : &s->gso6;
}

static void
tx_set_control(struct tx_ctx *c, unsigned int k, const struct wg_endpoint *to)
{
    struct msghdr *h = &c->mm[k].msg_hdr;
    const struct tx_meta *m = &c->meta[k];
    uint8_t *buf = c->ctrl[k].buf;
    size_t len = 0;
    struct cmsghdr ch;

    memset(buf, 0, sizeof(c->ctrl[k].buf));
    if (m->src && !m->src_retried) {
        if (to->addr.sa.sa_family == AF_INET) {
            struct in_pktinfo pi = { .ipi_ifindex = to->src_ifindex, .ipi_spec_dst = to->src4 };

            ch = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(pi)),
                                   .cmsg_level = IPPROTO_IP,
                                   .cmsg_type = IP_PKTINFO };
            memcpy(buf, &ch, sizeof(ch));
            memcpy(buf + CMSG_LEN(0), &pi, sizeof(pi));
            len = CMSG_SPACE(sizeof(pi));
        } else {
            struct in6_pktinfo pi = { .ipi6_addr = to->src6,
                                      .ipi6_ifindex = (unsigned int)to->src_ifindex };

            ch = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(pi)),
                                   .cmsg_level = IPPROTO_IPV6,
                                   .cmsg_type = IPV6_PKTINFO };
            memcpy(buf, &ch, sizeof(ch));
            memcpy(buf + CMSG_LEN(0), &pi, sizeof(pi));
            len = CMSG_SPACE(sizeof(pi));
        }
    }
    if (m->gso_size) {
        /* The per-call UDP_SEGMENT payload is a u16; an int gives EINVAL. */
        uint16_t gso = m->gso_size;

        ch = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(gso)),
                               .cmsg_level = SOL_UDP,
                               .cmsg_type = UDP_SEGMENT };
        memcpy(buf + len, &ch, sizeof(ch));
        memcpy(buf + len + CMSG_LEN(0), &gso, sizeof(gso));
        len += CMSG_SPACE(sizeof(gso));
    }
    h->msg_control = len ? buf : NULL;
    h->msg_controllen = len;
}

/*
 * Builds messages for the datagrams of one family in [start, n), skipping the
 * other family, until a limit; returns the index after the last one taken.
 */
static size_t
tx_build(struct tx_ctx *c, const struct udp_tx *msgs, size_t start, size_t n, int family, bool gso)
{
    size_t max_payload = family == AF_INET ? UDP_MAX_PAYLOAD4 : UDP_MAX_PAYLOAD6;
    size_t i = start, niov = 0;

    c->n_mm = 0;
    while (i < n && c->n_mm < UDP_BATCH && niov < UDP_TX_IOVS) {
        const struct udp_tx *t = &msgs[i];
        unsigned int k = c->n_mm;
        struct iovec *iov = &c->iov[niov];
        struct msghdr *h = &c->mm[k].msg_hdr;
        size_t cnt = 1, total = t->len, seg = t->len, first = i, last = i;

        if (t->to->addr.sa.sa_family != family) {
            i++;
            continue;
        }
        iov[0] = (struct iovec){ .iov_base = (void *)t->data, .iov_len = t->len };
        i++;
        if (gso && first >= c->nogso_end && seg > 0 && seg <= max_payload) {
            while (i < n && cnt < UDP_GSO_MAX_SEGMENTS && niov + cnt < UDP_TX_IOVS) {
                const struct udp_tx *u = &msgs[i];

                if (u->to->addr.sa.sa_family != family) {
                    i++; /* the other socket's; order per flow holds */
                    continue;
                }
                if (u->len == 0 || u->len > seg || total + u->len > max_payload ||
                    !ep_same(t->to, u->to))
                    break;
                iov[cnt++] = (struct iovec){ .iov_base = (void *)u->data, .iov_len = u->len };
                total += u->len;
                last = i++;
                if (u->len < seg) /* a short tail ends the run */
                    break;
            }
        }
        niov += cnt;

        c->meta[k] = (struct tx_meta){
            .first = first,
            .last = last,
            .count = cnt,
            .gso_size = cnt > 1 ? (uint16_t)seg : 0,
            .src = ep_has_src(t->to),
        };
        h->msg_name = (void *)&t->to->addr;
        h->msg_namelen = wg_sockaddr_len(&t->to->addr);
        h->msg_iov = iov;
        h->msg_iovlen = cnt;
        h->msg_flags = 0;
        tx_set_control(c, k, t->to);
        c->n_mm++;
    }
    return i;
}

/*
 * Sends the built messages. Returns the index of the next datagram to build
 * from: end when done, or an earlier one after a GSO fallback.
 */
static size_t
tx_flush(struct udp_socket *s, struct tx_ctx *c, const struct udp_tx *msgs, int fd, int family,
         size_t end, size_t *sent, int *err)
{
    unsigned int k = 0;

    while (k < c->n_mm) {
        int r = sendmmsg(fd, &c->mm[k], c->n_mm - k, 0);
        struct tx_meta *m;
        int e;

        if (r > 0) {
            for (int j = 0; j < r; j++)
                *sent += c->meta[k + (unsigned int)j].count;
            k += (unsigned int)r;
            continue;
        }
        e = r < 0 ? errno : EIO;
        if (e == EINTR)
            continue;

        m = &c->meta[k];
        if (m->src && !m->src_retried &&
            (e == EINVAL || e == ENETUNREACH || e == ENODEV || e == EADDRNOTAVAIL)) {
            /*
             * The sticky source is gone (6.18: EINVAL for IPv6, ENETUNREACH
             * for IPv4, ENODEV for a vanished ifindex): once without it. The
             * caller owns the endpoint, so nothing is cleared.
             */
            m->src_retried = true;
            tx_set_control(c, k, msgs[m->first].to);
            continue;
        }
        if (m->gso_size) {
            if (e == EIO) {
                /* No TX checksum offload (before 6.11), xfrm: never again here. */
                __atomic_store_n(gso_flag(s, family), false, __ATOMIC_RELAXED);
                engine_info(ENGINE_LOG_PATH, "UDP GSO refused (EIO) for IPv%d: sending without it",
                            family == AF_INET ? 4 : 6);
                return m->first;
            }
            if (e == EMSGSIZE || e == EINVAL) {
                /* Segment above the path MTU: plain datagrams may fragment. */
                c->nogso_end = m->last + 1;
                return m->first;
            }
        }
        if (*err == 0)
            *err = e;
        engine_debug(ENGINE_LOG_PATH, "UDP send to %s failed: %s",
                     ENGINE_LOG_ADDR(&msgs[m->first].to->addr), strerror(e));
        k++; /* drop this message, keep going */
    }
    return end;
}

/*
 * One pass per family, so interleaved families cost no extra syscalls; the
 * order within each family (hence per endpoint) is kept.
 */
int
udp_send_batch(struct udp_socket *s, const struct udp_tx *msgs, size_t n)
{
    static const int families[] = { AF_INET, AF_INET6 };
    struct tx_ctx c;
    size_t sent = 0;
    int err = 0;

    if (n > INT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int family = msgs[i].to->addr.sa.sa_family;

        if (family != AF_INET && family != AF_INET6) {
            err = EDESTADDRREQ;
            break;
        }
    }
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        int family = families[f];
        int fd = family == AF_INET ? s->fd4 : s->fd6;
        size_t i = 0;

        c.nogso_end = 0;
        while (i < n) {
            size_t end;
            bool gso;

            if (msgs[i].to->addr.sa.sa_family != family) {
                i++;
                continue;
            }
            if (fd < 0) {
                if (err == 0)
                    err = EAFNOSUPPORT;
                break;
            }
            gso = __atomic_load_n(gso_flag(s, family), __ATOMIC_RELAXED);
            end = tx_build(&c, msgs, i, n, family, gso);
            i = tx_flush(s, &c, msgs, fd, family, end, &sent, &err);
        }
    }
    return sent > 0 || err == 0 ? (int)sent : -err;
}
