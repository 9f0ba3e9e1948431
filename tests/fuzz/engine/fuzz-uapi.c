/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the UAPI:
 *  1. uapi_parse_set() on the input as a set=1 body; on success the parsed
 *     set is turned into a device state, formatted with uapi_format_get(),
 *     the set-compatible lines of that text are parsed again, and the two
 *     must describe the same device (round trip).
 *  2. uapi_serve() on the input as a raw connection stream (socketpair,
 *     non-blocking so nothing can hang).
 * Seeds: tests/fuzz/corpus/uapi/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Included, not linked, so libFuzzer instruments the parser and server;
 * the static library's copies are then never pulled in. */
#include "uapi/uapi.c"
#include "uapi/uapi-server.c"

#include "fuzz-harness.h"

static void
mask(struct uapi_allowed_ip *ip)
{
    unsigned int bits = ip->family == AF_INET ? 32 : 128;

    for (unsigned int b = ip->cidr; b < bits; b++)
        ip->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

static bool
is_zero(const uint8_t *k)
{
    for (int i = 0; i < 32; i++)
        if (k[i])
            return false;
    return true;
}

/* The set as the device would report it (no accumulation across peers). */
static void
set_to_state(const struct uapi_set *s, struct uapi_device_state *st)
{
    memset(st, 0, sizeof(*st));
    st->has_private_key = s->has_private_key;
    memcpy(st->private_key, s->private_key, 32);
    st->listen_port = s->listen_port;
    st->fwmark = s->fwmark;
    st->n_peers = s->n_peers;
    st->peers = calloc(s->n_peers + 1, sizeof(*st->peers));
    CHECK(st->peers);
    for (size_t i = 0; i < s->n_peers; i++) {
        const struct uapi_peer_set *p = &s->peers[i];
        struct uapi_peer_state *o = &st->peers[i];

        memcpy(o->public_key, p->public_key, 32);
        memcpy(o->preshared_key, p->preshared_key, 32);
        o->has_endpoint = p->has_endpoint;
        o->endpoint = p->endpoint;
        o->keepalive_interval = p->keepalive_interval;
        o->last_handshake_sec = (int64_t)i;
        o->rx_bytes = UINT64_MAX - i;
        o->n_allowed_ips = p->n_allowed_ips;
        o->allowed_ips = malloc((p->n_allowed_ips + 1) * sizeof(*o->allowed_ips));
        CHECK(o->allowed_ips);
        if (p->n_allowed_ips)
            memcpy(o->allowed_ips, p->allowed_ips, p->n_allowed_ips * sizeof(*o->allowed_ips));
    }
}

/* Drops the read-only lines of a get=1 reply, leaving a valid set=1 body. */
static size_t
settable_lines(char *text, size_t len)
{
    static const char *const drop[] = {
        "last_handshake_time_sec=",
        "last_handshake_time_nsec=",
        "tx_bytes=",
        "rx_bytes=",
    };
    size_t in = 0, out = 0;

    while (in < len) {
        char *nl = memchr(text + in, '\n', len - in);
        size_t n = nl ? (size_t)(nl - (text + in)) + 1 : len - in;
        bool keep = true;

        for (size_t d = 0; d < sizeof(drop) / sizeof(drop[0]); d++)
            if (strncmp(text + in, drop[d], strlen(drop[d])) == 0)
                keep = false;
        if (keep) {
            memmove(text + out, text + in, n);
            out += n;
        }
        in += n;
    }
    return out;
}

static void
round_trip(const struct uapi_set *a)
{
    struct uapi_device_state st;
    struct uapi_set *b = NULL;
    size_t len = 0, body_len;
    char *text;
    int r;

    set_to_state(a, &st);
    text = uapi_format_get(&st, &len);
    CHECK(text);
    CHECK(strlen(text) == len);
    body_len = settable_lines(text, len);
    r = uapi_parse_set(text, body_len, &b);
    if (r != 0) {
        fprintf(stderr, "reparse failed (%d):\n%.*s\n", r, (int)body_len, text);
        abort();
    }

    if (a->has_private_key && !is_zero(a->private_key)) {
        CHECK(b->has_private_key);
        CHECK(memcmp(a->private_key, b->private_key, 32) == 0);
    } else {
        CHECK(!b->has_private_key);
    }
    CHECK(b->has_listen_port == (a->listen_port != 0));
    CHECK(b->listen_port == a->listen_port);
    CHECK(b->has_fwmark == (a->fwmark != 0));
    CHECK(b->fwmark == a->fwmark);
    CHECK(!b->replace_peers);
    CHECK(b->n_peers == a->n_peers);
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct uapi_peer_set *pa = &a->peers[i], *pb = &b->peers[i];

        CHECK(memcmp(pa->public_key, pb->public_key, 32) == 0);
        CHECK(memcmp(pa->preshared_key, pb->preshared_key, 32) == 0);
        CHECK(pb->has_preshared_key && pb->has_keepalive);
        CHECK(pa->keepalive_interval == pb->keepalive_interval);
        CHECK(pa->has_endpoint == pb->has_endpoint);
        if (pa->has_endpoint)
            CHECK(wg_sockaddr_equal(&pa->endpoint, &pb->endpoint));
        CHECK(pa->n_allowed_ips == pb->n_allowed_ips);
        for (size_t j = 0; j < pa->n_allowed_ips; j++) {
            struct uapi_allowed_ip x = pa->allowed_ips[j], y = pb->allowed_ips[j];

            mask(&x);
            CHECK(x.family == y.family && x.cidr == y.cidr);
            CHECK(memcmp(x.addr, y.addr, 16) == 0);
        }
    }
    uapi_set_free(b);
    uapi_free_text(text, len);
    uapi_device_state_clear(&st);
}

/*****************************************************************************/

static int
stub_get(void *ctx, struct uapi_device_state *out)
{
    static struct uapi_allowed_ip ip = { .family = AF_INET, .cidr = 8, .addr = { 10 } };

    (void)ctx;
    memset(out, 0, sizeof(*out));
    out->listen_port = 1;
    out->n_peers = 1;
    out->peers = calloc(1, sizeof(*out->peers));
    if (!out->peers)
        return -ENOMEM;
    out->peers[0].allowed_ips = malloc(sizeof(ip));
    if (!out->peers[0].allowed_ips)
        return -ENOMEM;
    out->peers[0].allowed_ips[0] = ip;
    out->peers[0].n_allowed_ips = 1;
    return 0;
}

static int
stub_set(void *ctx, const struct uapi_set *set)
{
    (void)ctx;
    return set->n_peers > 3 ? -ENOSPC : 0;
}

static void
serve_stream(const uint8_t *data, size_t size)
{
    static const struct uapi_ops ops = { .get = stub_get, .set = stub_set };
    int sv[2];
    size_t off = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return;
    while (off < size) {
        ssize_t n = send(sv[0], data + off, size - off, MSG_NOSIGNAL);

        if (n <= 0)
            break; /* buffer full: serve what fits */
        off += (size_t)n;
    }
    shutdown(sv[0], SHUT_WR);
    /* Reads see the data then EOF; replies that do not fit give EAGAIN. */
    (void)uapi_serve(sv[1], &ops, NULL);
    close(sv[0]);
    close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct uapi_set *set = (struct uapi_set *)(uintptr_t)1;
    int r;

    r = uapi_parse_set((const char *)data, size, &set);
    if (r == 0) {
        CHECK(set);
        round_trip(set);
        uapi_set_free(set);
    } else {
        CHECK(r == -EINVAL || r == -EPROTO || r == -EMSGSIZE || r == -ENOMEM);
        CHECK(set == NULL);
    }
    serve_stream(data, size);
    return 0;
}
