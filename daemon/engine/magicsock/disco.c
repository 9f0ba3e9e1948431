/* SPDX-License-Identifier: MIT */
/*
 * Disco messages (facts: tailscale disco/disco.go for the layout and the
 * parse rules, types/key/disco.go for the box). Parsing follows disco.go:
 * the version byte is ignored except by CallMeMaybe (which, like a body that
 * is not whole endpoints, then reads as empty), a Ping without the node key
 * (clients before 1.16) is valid, and bytes past what a type needs are
 * ignored (a Ping's are its padding).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "magicsock/disco.h"
#include "magicsock/naclbox.h"

enum {
    DISCO_MSG_HEADER_LEN = 2, /* type, version */
    DISCO_EP_LEN = 18,        /* IP16 ‖ port */
    DISCO_PING_LEN = DISCO_TXID_LEN + DISCO_KEY_LEN,
    DISCO_PONG_LEN = DISCO_TXID_LEN + DISCO_EP_LEN,
    /* The plaintext that fits one DISCO_PACKET_MAX packet. */
    DISCO_PLAIN_MAX = DISCO_PACKET_MAX - DISCO_HEADER_LEN - DISCO_BOX_OVERHEAD,
};

_Static_assert(DISCO_NONCE_LEN + DISCO_BOX_OVERHEAD == NACLBOX_OVERHEAD, "box layout");
_Static_assert(sizeof(((struct disco_shared_key *)0)->k) == NACLBOX_KEY_LEN, "shared key size");

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool
disco_looks_like(const uint8_t *p, size_t len)
{
    /* disco.go LooksLikeDiscoWrapper: the header only; a short box fails to open later. */
    return len >= DISCO_HEADER_LEN && memcmp(p, DISCO_MAGIC, DISCO_MAGIC_LEN) == 0;
}

const uint8_t *
disco_sender(const uint8_t *p)
{
    return p + DISCO_MAGIC_LEN;
}

void
disco_shared_key_init(struct disco_shared_key *s, const uint8_t peer_pub[DISCO_KEY_LEN],
                      const uint8_t my_priv[DISCO_KEY_LEN])
{
    /* A low-order peer key leaves a random key: that peer's packets never open. */
    (void)naclbox_shared(s->k, peer_pub, my_priv);
}

/* IP16 ‖ port BE; IPv4 as ::ffff:a.b.c.d. -EINVAL for another family. */
static int
put_endpoint(uint8_t *p, const union wg_sockaddr *a)
{
    uint16_t port;

    if (a->sa.sa_family == AF_INET) {
        memcpy(p, v4_mapped_prefix, 12);
        memcpy(p + 12, &a->in4.sin_addr, 4);
        port = ntohs(a->in4.sin_port);
    } else if (a->sa.sa_family == AF_INET6) {
        memcpy(p, &a->in6.sin6_addr, 16);
        port = ntohs(a->in6.sin6_port);
    } else {
        return -EINVAL;
    }
    p[16] = (uint8_t)(port >> 8);
    p[17] = (uint8_t)port;
    return 0;
}

/* The reverse; a v4-mapped address comes out as IPv4 (netip.Addr.Unmap). */
static void
get_endpoint(union wg_sockaddr *a, const uint8_t *p)
{
    uint16_t port = htons((uint16_t)(p[16] << 8 | p[17]));

    memset(a, 0, sizeof(*a));
    if (memcmp(p, v4_mapped_prefix, 12) == 0) {
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = port;
        memcpy(&a->in4.sin_addr, p + 12, 4);
    } else {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = port;
        memcpy(&a->in6.sin6_addr, p, 16);
    }
}

/* type ‖ version 0 ‖ body into plain (DISCO_PLAIN_MAX); its length, or -EINVAL. */
static ssize_t
marshal(uint8_t *plain, const struct disco_msg *m)
{
    uint8_t *b = plain + DISCO_MSG_HEADER_LEN;
    size_t n;

    plain[0] = m->type;
    plain[1] = 0;
    switch (m->type) {
    case DISCO_PING: {
        /* disco.go writes no node key when it is zero (old clients); so do we. */
        static const uint8_t zero[DISCO_KEY_LEN];
        size_t key_len = memcmp(m->ping.node_key, zero, DISCO_KEY_LEN) ? DISCO_KEY_LEN : 0;

        n = DISCO_TXID_LEN + key_len;
        if (m->ping.padding > DISCO_PLAIN_MAX - DISCO_MSG_HEADER_LEN - n)
            return -EINVAL;
        memcpy(b, m->ping.txid, DISCO_TXID_LEN);
        memcpy(b + DISCO_TXID_LEN, m->ping.node_key, key_len);
        memset(b + n, 0, m->ping.padding);
        n += m->ping.padding;
        break;
    }
    case DISCO_PONG:
        memcpy(b, m->pong.txid, DISCO_TXID_LEN);
        if (put_endpoint(b + DISCO_TXID_LEN, &m->pong.src) < 0)
            return -EINVAL;
        n = DISCO_PONG_LEN;
        break;
    case DISCO_CALL_ME_MAYBE:
        if (m->call_me_maybe.n > DISCO_MAX_CALL_ME_MAYBE)
            return -EINVAL;
        for (size_t i = 0; i < m->call_me_maybe.n; i++)
            if (put_endpoint(b + i * DISCO_EP_LEN, &m->call_me_maybe.endpoints[i]) < 0)
                return -EINVAL;
        n = m->call_me_maybe.n * DISCO_EP_LEN;
        break;
    default:
        return -EINVAL;
    }
    return (ssize_t)(DISCO_MSG_HEADER_LEN + n);
}

ssize_t
disco_seal(uint8_t *out, size_t cap, const uint8_t my_pub[DISCO_KEY_LEN],
           const struct disco_shared_key *s, const struct disco_msg *m)
{
    uint8_t plain[DISCO_PLAIN_MAX];
    ssize_t n = marshal(plain, m);

    if (n < 0)
        return n;
    if (cap < DISCO_MAGIC_LEN + DISCO_KEY_LEN)
        return -ENOBUFS;
    n = naclbox_seal(out + DISCO_MAGIC_LEN + DISCO_KEY_LEN, cap - DISCO_MAGIC_LEN - DISCO_KEY_LEN,
                     plain, (size_t)n, s->k);
    if (n < 0)
        return n;
    memcpy(out, DISCO_MAGIC, DISCO_MAGIC_LEN);
    memcpy(out + DISCO_MAGIC_LEN, my_pub, DISCO_KEY_LEN);
    return DISCO_MAGIC_LEN + DISCO_KEY_LEN + n;
}

static int
parse(const uint8_t *p, size_t len, struct disco_msg *m)
{
    uint8_t type, version;

    if (len < DISCO_MSG_HEADER_LEN)
        return -EPROTO;
    type = p[0];
    version = p[1];
    p += DISCO_MSG_HEADER_LEN;
    len -= DISCO_MSG_HEADER_LEN;
    memset(m, 0, sizeof(*m));
    m->type = type;
    switch (type) {
    case DISCO_PING:
        if (len < DISCO_TXID_LEN)
            return -EPROTO;
        memcpy(m->ping.txid, p, DISCO_TXID_LEN);
        len -= DISCO_TXID_LEN;
        if (len >= DISCO_KEY_LEN) {
            memcpy(m->ping.node_key, p + DISCO_TXID_LEN, DISCO_KEY_LEN);
            len -= DISCO_KEY_LEN;
        }
        m->ping.padding = len > UINT16_MAX ? UINT16_MAX : (uint16_t)len;
        return 0;
    case DISCO_PONG:
        if (len < DISCO_PONG_LEN)
            return -EPROTO;
        memcpy(m->pong.txid, p, DISCO_TXID_LEN);
        get_endpoint(&m->pong.src, p + DISCO_TXID_LEN);
        return 0;
    case DISCO_CALL_ME_MAYBE:
        /* disco.go parseCallMeMaybe: anything but whole endpoints in version 0 is empty. */
        if (version != 0 || len % DISCO_EP_LEN != 0)
            return 0;
        for (size_t i = 0; i < len / DISCO_EP_LEN && i < DISCO_MAX_CALL_ME_MAYBE; i++)
            get_endpoint(&m->call_me_maybe.endpoints[m->call_me_maybe.n++], p + i * DISCO_EP_LEN);
        return 0;
    default:
        return -ENOTSUP;
    }
}

int
disco_open(const uint8_t *pkt, size_t len, const struct disco_shared_key *s, struct disco_msg *m)
{
    const uint8_t *box = pkt + DISCO_MAGIC_LEN + DISCO_KEY_LEN;
    size_t box_len, plain_len;
    uint8_t stack[DISCO_PLAIN_MAX], *plain = stack;
    ssize_t n;
    int r;

    if (!disco_looks_like(pkt, len) || len < DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD)
        return -EPROTO;
    box_len = len - DISCO_MAGIC_LEN - DISCO_KEY_LEN;
    plain_len = box_len - NACLBOX_OVERHEAD;
    /* A jumbo (padded) ping can come over UDP or DERP: up to 64 KiB, rare. */
    if (plain_len > sizeof(stack)) {
        plain = malloc(plain_len);
        if (!plain)
            return -ENOMEM;
    }
    n = naclbox_open(plain, plain_len, box, box_len, s->k);
    r = n < 0 ? (int)n : parse(plain, (size_t)n, m);
    if (plain != stack)
        free(plain);
    return r;
}
