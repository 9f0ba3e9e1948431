/* SPDX-License-Identifier: MIT */
#include "wg-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "wg/allowedips.h"

struct collect_ctx {
    struct uapi_peer_state *ps;
    size_t cap;
    bool oom;
};

static bool
collect_allowed_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    struct collect_ctx *c = ctx;
    struct uapi_allowed_ip *ip;

    if (c->ps->n_allowed_ips == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct uapi_allowed_ip *n = realloc(c->ps->allowed_ips, cap * sizeof(*n));

        if (!n) {
            c->oom = true;
            return false;
        }
        c->ps->allowed_ips = n;
        c->cap = cap;
    }
    ip = &c->ps->allowed_ips[c->ps->n_allowed_ips++];
    memset(ip, 0, sizeof(*ip));
    ip->family = (uint8_t)family;
    ip->cidr = cidr;
    memcpy(ip->addr, addr, family == AF_INET ? 4 : 16);
    return true;
}

/* The trie reports a peer's prefixes in no particular order: show IPv4 first,
 * then by address and length, so that `wg show` and `wg showconf` are stable. */
static int
allowed_ip_cmp(const void *pa, const void *pb)
{
    const struct uapi_allowed_ip *a = pa, *b = pb;
    int r;

    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    r = memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
    if (r)
        return r;
    return (int)a->cidr - (int)b->cidr;
}

int
wg_config_get(struct wg_device *dev, uint16_t listen_port, uint32_t fwmark,
              struct uapi_device_state *out)
{
    struct wg_peer *p;
    size_t i = 0;

    memset(out, 0, sizeof(*out));
    out->has_private_key = dev->has_private_key;
    memcpy(out->private_key, dev->private_key, KEY_LEN);
    out->listen_port = listen_port;
    out->fwmark = fwmark;
    out->peers = calloc(dev->n_peers ? dev->n_peers : 1, sizeof(*out->peers));
    if (!out->peers)
        return -ENOMEM;
    /* The list is newest first; wg sorts nothing, so report in insertion order. */
    out->n_peers = dev->n_peers;
    i = dev->n_peers;
    for (p = dev->peers; p; p = p->next) {
        struct uapi_peer_state *ps = &out->peers[--i];
        struct collect_ctx c = { .ps = ps };

        memcpy(ps->public_key, p->public_key, KEY_LEN);
        memcpy(ps->preshared_key, p->preshared_key, KEY_LEN);
        ps->has_endpoint = p->endpoint.addr.sa.sa_family != AF_UNSPEC;
        ps->endpoint = p->endpoint.addr;
        ps->last_handshake_sec = p->last_handshake_realtime_ns / 1000000000;
        ps->last_handshake_nsec = p->last_handshake_realtime_ns % 1000000000;
        ps->rx_bytes = p->rx_bytes;
        ps->tx_bytes = p->tx_bytes;
        ps->keepalive_interval = p->persistent_keepalive_interval;
        allowedips_foreach_by_peer(dev->allowedips, p, collect_allowed_ip, &c);
        if (c.oom) {
            uapi_device_state_clear(out);
            return -ENOMEM;
        }
        if (ps->n_allowed_ips > 1)
            qsort(ps->allowed_ips, ps->n_allowed_ips, sizeof(*ps->allowed_ips), allowed_ip_cmp);
    }
    return 0;
}

static int
apply_peer(struct wg_device *dev, const struct uapi_peer_set *ps, uint64_t now_ns)
{
    struct wg_peer *peer = wg_device_lookup_peer(dev, ps->public_key);
    size_t i;

    if (ps->remove) {
        if (peer)
            wg_device_remove_peer(dev, peer);
        return 0;
    }
    if (!peer) {
        if (ps->update_only)
            return 0;
        peer = wg_device_add_peer(dev, ps->public_key);
        if (!peer)
            return 0; /* our own public key: ignored, as wireguard-go does */
    }
    if (ps->has_preshared_key)
        wg_peer_set_preshared_key(peer, ps->preshared_key);
    if (ps->has_endpoint)
        wg_peer_set_endpoint(peer, &ps->endpoint);
    if (ps->replace_allowed_ips)
        wg_peer_clear_allowed_ips(peer);
    for (i = 0; i < ps->n_allowed_ips; i++) {
        const struct uapi_allowed_ip *ip = &ps->allowed_ips[i];
        int r = wg_peer_add_allowed_ip(peer, ip->family, ip->addr, ip->cidr);

        if (r < 0)
            return r;
    }
    if (ps->has_keepalive)
        wg_peer_set_persistent_keepalive(peer, ps->keepalive_interval, now_ns);
    return 0;
}

int
wg_config_apply(struct wg_device *dev, const struct uapi_set *set, uint64_t now_ns)
{
    size_t i;
    int r;

    if (set->has_private_key)
        wg_device_set_private_key(dev, set->private_key, now_ns);
    if (set->replace_peers)
        wg_device_remove_all_peers(dev);
    for (i = 0; i < set->n_peers; i++) {
        r = apply_peer(dev, &set->peers[i], now_ns);
        if (r < 0)
            return r;
    }
    return 0;
}
