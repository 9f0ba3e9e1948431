/* SPDX-License-Identifier: MIT */
/*
 * TUN offload packet surgery: virtio_net_hdr split (TSO/USO reads) and GRO
 * (coalesced writes).
 *
 * Specs: RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293 (TCP), RFC 768 (UDP),
 * RFC 1071 (Internet checksum), include/uapi/linux/virtio_net.h. Behaviour
 * facts: drivers/net/tun.c, wireguard-go tun/offload_linux.go.
 *
 * Every byte here is untrusted: split parses what the kernel hands us (and
 * hdr_len is known to be wrong on the forwarding path), GRO parses decrypted
 * packets from a peer. Nothing is read or written without a bounds check.
 *
 * Threading: offload_split and the checksum helpers are pure; one
 * struct offload_gro belongs to one thread (the RX thread).
 */
#include "common/compiler.h"
#include "tun/offload.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
    VNET_LEN = sizeof(struct virtio_net_hdr_v1),
    IPV4_HDR_MIN = 20,
    IPV6_HDR_LEN = 40,
    TCP_HDR_MIN = 20,
    TCP_HDR_MAX = 60,
    UDP_HDR_LEN = 8,
    IP_MAX_LEN = 65535,
    IPPROTO_TCP_ = 6,
    IPPROTO_UDP_ = 17,
    IPPROTO_ICMPV6_ = 58,

    TCP_F_FIN = 0x01,
    TCP_F_SYN = 0x02,
    TCP_F_RST = 0x04,
    TCP_F_PSH = 0x08,
    TCP_F_ACK = 0x10,
    TCP_F_CWR = 0x80,

    TCP_OFF_SEQ = 4,
    TCP_OFF_ACK = 8,
    TCP_OFF_DOFF = 12,
    TCP_OFF_FLAGS = 13,
    TCP_OFF_CSUM = 16,
    UDP_OFF_LEN = 4,
    UDP_OFF_CSUM = 6,

    IPV4_MF = 0x2000,
    IPV4_OFFSET_MASK = 0x1fff,

    /* Headroom in front of each GRO packet: the vnet header sits right before it. */
    GRO_HEADROOM = 16,
    /* Per-slot stride in the arena (OFFLOAD_GRO_BUF rounded up to a cache line). */
    GRO_STRIDE = (OFFLOAD_GRO_BUF + 63) & ~63,
    /*
     * Segments per super-packet. The kernel rejects a UDP_L4 GSO skb with more
     * than UDP_MAX_SEGMENTS (64 before 6.x, 128 now); TCP has no such limit but
     * full-MSS segments hit the 64 KB cap long before this.
     */
    GRO_MAX_SEGS = 64,
    GRO_HASH_SIZE = 2 * OFFLOAD_GRO_MAX_OUT,
    GRO_HASH_EMPTY = 0xff,
};
_Static_assert((int)OFFLOAD_GRO_MAX_OUT < (int)GRO_HASH_EMPTY, "item index fits the hash byte");
_Static_assert((GRO_HASH_SIZE & (GRO_HASH_SIZE - 1)) == 0, "hash size is a power of two");

static inline uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- checksums ---------------------------------------------------------- */

static inline uint64_t
ld64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t
add64c(uint64_t a, uint64_t b)
{
    a += b;
    return a + (a < b);
}

/*
 * RFC 1071 sum of DATA as big-endian 16-bit words (odd tail padded with a
 * zero byte), added to SUM. Words are summed in native byte order in four
 * 64-bit accumulators, 64 bytes per iteration; the ones'-complement sum is
 * byte-order independent up to one final swap (RFC 1071 §2(B)). Every carry
 * out of bit 63 is worth 2^64 ≡ 1 (mod 2^16 − 1), so carries are just counted.
 * Chained calls must split the data at even offsets.
 */
uint32_t
offload_csum_partial(const uint8_t *data, size_t len, uint32_t sum)
{
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c = 0, v, r;
    const uint8_t *p = data;
    uint32_t s;

    while (len >= 64) {
        /* clang-format off */
        v = ld64(p);      a0 += v; c += a0 < v;
        v = ld64(p + 8);  a1 += v; c += a1 < v;
        v = ld64(p + 16); a2 += v; c += a2 < v;
        v = ld64(p + 24); a3 += v; c += a3 < v;
        v = ld64(p + 32); a0 += v; c += a0 < v;
        v = ld64(p + 40); a1 += v; c += a1 < v;
        v = ld64(p + 48); a2 += v; c += a2 < v;
        v = ld64(p + 56); a3 += v; c += a3 < v;
        /* clang-format on */
        p += 64;
        len -= 64;
    }
    while (len >= 8) {
        v = ld64(p);
        a0 += v;
        c += a0 < v;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint8_t tail[8] = { 0 };

        memcpy(tail, p, len);
        v = ld64(tail);
        a0 += v;
        c += a0 < v;
    }
    a0 = add64c(a0, a1);
    a2 = add64c(a2, a3);
    a0 = add64c(a0, a2);
    a0 = add64c(a0, c);
    a0 = (a0 & 0xffffffffu) + (a0 >> 32);
    a0 = (a0 & 0xffffffffu) + (a0 >> 32);
    s = (uint32_t)a0;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER == __LITTLE_ENDIAN
    s = (uint32_t)__builtin_bswap16((uint16_t)s);
#endif
    r = (uint64_t)sum + s;
    r = (r & 0xffffffffu) + (r >> 32);
    return (uint32_t)r;
}

static inline uint16_t
csum_fold16(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

uint16_t
offload_csum_fold(uint32_t sum)
{
    return (uint16_t)~csum_fold16(sum);
}

/* Pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1); IP is a checked IPv4/IPv6 header. */
static uint32_t
pseudo_sum(const uint8_t *ip, bool v6, uint8_t proto, uint32_t l4_len)
{
    uint32_t s = v6 ? offload_csum_partial(ip + 8, 32, 0) : offload_csum_partial(ip + 12, 8, 0);

    return s + proto + l4_len;
}

/* Full L4 checksum of a packet whose L4 header starts at IPH; the field is included. */
static bool
l4_csum_valid(const uint8_t *pkt, size_t len, size_t iph, bool v6, uint8_t proto)
{
    uint32_t s = pseudo_sum(pkt, v6, proto, (uint32_t)(len - iph));

    return csum_fold16(offload_csum_partial(pkt + iph, len - iph, s)) == 0xffff;
}

static void
ipv4_set_csum(uint8_t *ip, size_t ihl)
{
    ip[10] = 0;
    ip[11] = 0;
    wr16(ip + 10, offload_csum_fold(offload_csum_partial(ip, ihl, 0)));
}

/* ---- split ---------------------------------------------------------------- */

/* GSO_NONE: copy, and finish a CHECKSUM_PARTIAL checksum like skb_checksum_help. */
static int
split_none(const struct virtio_net_hdr_v1 *h, const uint8_t *pkt, size_t plen,
           struct pkt_slot *slot, size_t slot_cap)
{
    size_t cs = h->csum_start, co = h->csum_offset;
    uint16_t c;

    if (plen > slot_cap)
        return -EMSGSIZE;
    if ((h->flags & VNET_HDR_F_NEEDS_CSUM) && (cs >= plen || co > plen - cs || plen - cs - co < 2))
        return -EINVAL;
    memcpy(slot->data, pkt, plen);
    slot->len = plen;
    if (h->flags & VNET_HDR_F_NEEDS_CSUM) {
        /* The field holds the pseudo-header sum, so summing over it is exactly right. */
        c = offload_csum_fold(offload_csum_partial(slot->data + cs, plen - cs, 0));
        wr16(slot->data + cs + co, c ? c : 0xffff);
    }
    return 1;
}

int
offload_split(const uint8_t *read_buf, size_t read_len, struct pkt_slot *slots, size_t n_slots,
              size_t slot_cap)
{
    struct virtio_net_hdr_v1 h;
    const uint8_t *pkt;
    size_t plen, iph, hdr, payload, gso, nseg, n, first;
    uint32_t seq0 = 0, psum0;
    uint16_t id0 = 0;
    unsigned type;
    bool v6, tcp, ecn;
    uint8_t proto;

    if (!read_buf || read_len <= VNET_LEN)
        return -EINVAL;
    if (!slots || n_slots == 0)
        return -E2BIG;
    memcpy(&h, read_buf, VNET_LEN);
    pkt = read_buf + VNET_LEN;
    plen = read_len - VNET_LEN;
    type = h.gso_type & ~VNET_HDR_GSO_ECN;
    ecn = h.gso_type & VNET_HDR_GSO_ECN;

    if (type == VNET_HDR_GSO_NONE)
        return split_none(&h, pkt, plen, &slots[0], slot_cap);
    if (type != VNET_HDR_GSO_TCPV4 && type != VNET_HDR_GSO_TCPV6 && type != VNET_HDR_GSO_UDP_L4)
        return -EINVAL;
    gso = h.gso_size;
    if (gso == 0)
        return -EINVAL;
    tcp = type != VNET_HDR_GSO_UDP_L4;
    proto = tcp ? IPPROTO_TCP_ : IPPROTO_UDP_;

    /* The L3 header length is csum_start; check it against the packet itself. */
    switch (pkt[0] >> 4) {
    case 4:
        if (type == VNET_HDR_GSO_TCPV6)
            return -EINVAL;
        v6 = false;
        iph = (size_t)(pkt[0] & 0x0f) * 4;
        if (iph < IPV4_HDR_MIN || h.csum_start != iph || plen < iph || pkt[9] != proto)
            return -EINVAL;
        id0 = rd16(pkt + 4);
        break;
    case 6:
        if (type == VNET_HDR_GSO_TCPV4)
            return -EINVAL;
        v6 = true;
        iph = h.csum_start; /* > 40 with extension headers */
        if (iph < IPV6_HDR_LEN || plen < iph || (iph == IPV6_HDR_LEN && pkt[6] != proto))
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }

    /* Never trust hdr_len: L4 header length from the TCP data offset, or 8. */
    if (tcp) {
        if (plen - iph < TCP_HDR_MIN)
            return -EINVAL;
        hdr = (size_t)(pkt[iph + TCP_OFF_DOFF] >> 4) * 4;
        if (hdr < TCP_HDR_MIN || hdr > TCP_HDR_MAX)
            return -EINVAL;
        hdr += iph;
        seq0 = rd32(pkt + iph + TCP_OFF_SEQ);
    } else {
        hdr = iph + UDP_HDR_LEN;
    }
    if (plen <= hdr)
        return -EINVAL;

    payload = plen - hdr;
    nseg = payload / gso + (payload % gso != 0);
    first = payload < gso ? payload : gso;
    if (hdr + first > IP_MAX_LEN)
        return -EINVAL;
    if (hdr + first > slot_cap)
        return -EMSGSIZE;
    n = nseg < n_slots ? nseg : n_slots;
    psum0 = pseudo_sum(pkt, v6, proto, 0);

    for (size_t i = 0; i < n; i++) {
        size_t seg_pl = payload - i * gso < gso ? payload - i * gso : gso;
        size_t seg_len = hdr + seg_pl;
        uint8_t *out = slots[i].data;
        uint8_t *l4 = out + iph;
        uint16_t c;

        memcpy(out, pkt, hdr);
        memcpy(out + hdr, pkt + hdr + i * gso, seg_pl);
        if (v6) {
            wr16(out + 4, (uint16_t)(seg_len - IPV6_HDR_LEN));
        } else {
            wr16(out + 2, (uint16_t)seg_len);
            wr16(out + 4, (uint16_t)(id0 + i));
            ipv4_set_csum(out, iph);
        }
        if (tcp) {
            wr32(l4 + TCP_OFF_SEQ, seq0 + (uint32_t)(i * gso));
            if (i + 1 < nseg)
                l4[TCP_OFF_FLAGS] &= (uint8_t) ~(TCP_F_FIN | TCP_F_PSH);
            if (ecn && i > 0)
                l4[TCP_OFF_FLAGS] &= (uint8_t)~TCP_F_CWR;
            l4[TCP_OFF_CSUM] = 0;
            l4[TCP_OFF_CSUM + 1] = 0;
            c = offload_csum_fold(
                offload_csum_partial(l4, seg_len - iph, psum0 + (uint32_t)(seg_len - iph)));
            wr16(l4 + TCP_OFF_CSUM, c);
        } else {
            wr16(l4 + UDP_OFF_LEN, (uint16_t)(seg_len - iph));
            l4[UDP_OFF_CSUM] = 0;
            l4[UDP_OFF_CSUM + 1] = 0;
            c = offload_csum_fold(
                offload_csum_partial(l4, seg_len - iph, psum0 + (uint32_t)(seg_len - iph)));
            wr16(l4 + UDP_OFF_CSUM, c ? c : 0xffff); /* RFC 768: 0 means "none" */
        }
        slots[i].len = seg_len;
    }
    return nseg > n_slots ? -E2BIG : (int)nseg;
}

/* ---- GRO ------------------------------------------------------------------ */

enum gro_kind {
    GRO_KIND_OTHER, /* not TCP/UDP, or no parseable ports */
    GRO_KIND_TCP,
    GRO_KIND_UDP,
};

/* Connection identity; order is kept per key. Zero-filled, compared with memcmp. */
struct gro_key {
    uint8_t addrs[32]; /* src then dst; IPv4 uses the first 8 bytes */
    uint16_t sport;
    uint16_t dport;
    uint8_t v6;
    uint8_t proto;
};
_Static_assert(sizeof(struct gro_key) == 38, "gro_key has no padding");

struct gro_item {
    struct gro_key key;
    uint8_t *buf;      /* GRO_STRIDE bytes; the packet starts at buf + GRO_HEADROOM */
    uint32_t len;      /* IP packet bytes so far */
    uint32_t next_seq; /* TCP: sequence number an appended segment must carry */
    uint16_t iph;
    uint16_t l4h;
    uint16_t gso_size; /* payload of the first segment, the largest */
    uint16_t nseg;
    uint8_t kind; /* enum gro_kind */
    bool v6;
    bool keyed;
    bool open;   /* may take more segments */
    int8_t csum; /* L4 checksum: 0 unknown, 1 verified, -1 bad */
};

struct offload_gro {
    bool tcp;
    bool udp;
    bool trust_csum; /* see offload_gro_trust_checksums */
    unsigned n;
    uint8_t hash[GRO_HASH_SIZE]; /* index of the newest item per key */
    struct gro_item items[OFFLOAD_GRO_MAX_OUT];
    uint8_t *arena;
};

/* What offload_gro_add learnt about one packet. */
struct gro_parse {
    struct gro_key key;
    size_t iph;
    size_t l4h;
    size_t payload;
    uint8_t kind;
    bool v6;
    bool keyed;
    bool unsure;    /* keyless, yet may belong to some TCP/UDP connection */
    bool candidate; /* may be coalesced at all */
};

static void
gro_parse(const struct offload_gro *g, const uint8_t *pkt, size_t len, struct gro_parse *p)
{
    size_t iph, l4h;
    uint8_t proto;
    bool plain; /* no IPv4 options / IPv6 extension headers, not fragmented, lengths exact */
    const uint8_t *l4;

    memset(p, 0, sizeof(*p));
    if (pkt[0] >> 4 == 4) {
        uint16_t frag = rd16(pkt + 6);

        memcpy(p->key.addrs, pkt + 12, 8);
        iph = (size_t)(pkt[0] & 0x0f) * 4;
        proto = pkt[9];
        /* Only a first fragment has ports: the rest cannot be placed in a connection. */
        if (iph < IPV4_HDR_MIN || iph > len || (frag & IPV4_OFFSET_MASK)) {
            p->unsure = true;
            return;
        }
        plain = iph == IPV4_HDR_MIN && !(frag & IPV4_MF) && rd16(pkt + 2) == len;
    } else {
        p->v6 = true;
        p->key.v6 = true;
        iph = IPV6_HDR_LEN;
        memcpy(p->key.addrs, pkt + 8, 32);
        proto = pkt[6];
        plain = rd16(pkt + 4) == len - IPV6_HDR_LEN;
    }
    p->key.proto = proto;
    p->iph = iph;
    l4 = pkt + iph;
    /* Malformed TCP/UDP, or IPv6 extension headers (a fragment header, say) hiding one. */
    p->unsure =
        proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || (p->v6 && proto != IPPROTO_ICMPV6_);

    if (proto == IPPROTO_TCP_) {
        if (len - iph < TCP_HDR_MIN)
            return;
        l4h = (size_t)(l4[TCP_OFF_DOFF] >> 4) * 4;
        if (l4h < TCP_HDR_MIN || l4h > len - iph)
            return;
        p->kind = GRO_KIND_TCP;
        p->candidate =
            g->tcp && plain && len - iph > l4h &&
            (l4[TCP_OFF_FLAGS] == TCP_F_ACK || l4[TCP_OFF_FLAGS] == (TCP_F_ACK | TCP_F_PSH));
    } else if (proto == IPPROTO_UDP_) {
        if (len - iph < UDP_HDR_LEN)
            return;
        l4h = UDP_HDR_LEN;
        p->kind = GRO_KIND_UDP;
        p->candidate = g->udp && plain && len - iph > l4h && rd16(l4 + UDP_OFF_LEN) == len - iph;
    } else {
        return;
    }
    p->key.sport = rd16(l4);
    p->key.dport = rd16(l4 + 2);
    p->l4h = l4h;
    p->payload = len - iph - l4h;
    p->keyed = true;
    p->unsure = false;
}

static unsigned
gro_hash(const struct gro_key *k)
{
    uint32_t h = 2166136261u;

    /* FNV-1a; the table is tiny and probing is bounded, so quality matters little. */
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ ((const uint8_t *)k)[i]) * 16777619u;
    return h & (GRO_HASH_SIZE - 1);
}

/* Newest item with KEY, or -1; *slot gets the hash slot (existing or free). */
static int
gro_lookup(const struct offload_gro *g, const struct gro_key *key, unsigned *slot)
{
    unsigned s = gro_hash(key);

    for (unsigned probe = 0; probe < GRO_HASH_SIZE; probe++, s = (s + 1) & (GRO_HASH_SIZE - 1)) {
        uint8_t idx = g->hash[s];

        if (idx == GRO_HASH_EMPTY) {
            *slot = s;
            return -1;
        }
        if (memcmp(&g->items[idx].key, key, sizeof(*key)) == 0) {
            *slot = s;
            return idx;
        }
    }
    /* Unreachable: at most OFFLOAD_GRO_MAX_OUT keys in twice as many slots. */
    *slot = GRO_HASH_SIZE;
    return -1;
}

/* A keyless packet may belong to any connection between its addresses: stop them growing. */
static void
gro_close_addrs(struct offload_gro *g, const struct gro_key *key)
{
    for (unsigned i = 0; i < g->n; i++) {
        struct gro_item *it = &g->items[i];

        if (it->open && it->key.v6 == key->v6 && memcmp(it->key.addrs, key->addrs, 32) == 0)
            it->open = false;
    }
}

static bool
ip_headers_match(const uint8_t *a, const uint8_t *b, bool v6)
{
    if (v6) /* version, traffic class, flow label; hop limit */
        return memcmp(a, b, 4) == 0 && a[7] == b[7];
    /* TOS; reserved + DF bits (MF/offset are zero here); TTL */
    return a[1] == b[1] && (a[6] & 0xe0) == (b[6] & 0xe0) && a[8] == b[8];
}

static bool
gro_can_append(const struct gro_item *it, const struct gro_parse *p, const uint8_t *pkt)
{
    const uint8_t *head = it->buf + GRO_HEADROOM;

    if (!it->open || it->kind != p->kind || it->iph != p->iph || it->l4h != p->l4h)
        return false;
    if (p->payload > it->gso_size || it->len + p->payload > IP_MAX_LEN || it->nseg >= GRO_MAX_SEGS)
        return false;
    if (!ip_headers_match(head, pkt, p->v6))
        return false;
    if (p->kind == GRO_KIND_TCP) {
        const uint8_t *a = head + it->iph, *b = pkt + p->iph;

        if (rd32(b + TCP_OFF_SEQ) != it->next_seq || rd32(b + TCP_OFF_ACK) != rd32(a + TCP_OFF_ACK))
            return false;
        /* Same window too, as Linux GRO: a window update must reach the stack as sent. */
        if (rd16(b + 14) != rd16(a + 14))
            return false;
        if (memcmp(a + TCP_HDR_MIN, b + TCP_HDR_MIN, p->l4h - TCP_HDR_MIN) != 0)
            return false;
    }
    return true;
}

static bool
gro_pkt_csum_ok(const uint8_t *pkt, size_t len, const struct gro_parse *p)
{
    const uint8_t *l4 = pkt + p->iph;

    if (p->kind == GRO_KIND_UDP && rd16(l4 + UDP_OFF_CSUM) == 0)
        return !p->v6; /* IPv4 UDP may go without a checksum; IPv6 may not */
    return l4_csum_valid(pkt, len, p->iph, p->v6,
                         p->kind == GRO_KIND_TCP ? IPPROTO_TCP_ : IPPROTO_UDP_);
}

struct offload_gro *
offload_gro_new(bool tcp, bool udp)
{
    struct offload_gro *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    /* Untouched slot pages are never faulted in: small packets cost one page each. */
    g->arena = malloc((size_t)GRO_STRIDE * OFFLOAD_GRO_MAX_OUT);
    if (!g->arena) {
        free(g);
        return NULL;
    }
    for (unsigned i = 0; i < OFFLOAD_GRO_MAX_OUT; i++)
        g->items[i].buf = g->arena + (size_t)i * GRO_STRIDE;
    g->tcp = tcp;
    g->udp = udp;
    offload_gro_reset(g);
    return g;
}

void
offload_gro_trim(struct offload_gro *g)
{
    offload_gro_reset(g);
    mem_release(g->arena, (size_t)GRO_STRIDE * OFFLOAD_GRO_MAX_OUT);
}

void
offload_gro_trust_checksums(struct offload_gro *g, bool trust)
{
    g->trust_csum = trust;
}

void
offload_gro_free(struct offload_gro *g)
{
    if (!g)
        return;
    free(g->arena);
    free(g);
}

void
offload_gro_reset(struct offload_gro *g)
{
    g->n = 0;
    memset(g->hash, GRO_HASH_EMPTY, sizeof(g->hash));
}

/*
 * Order: a packet only ever joins the newest item of its connection (the
 * 5-tuple, whatever the ACK number), and every keyed packet becomes that
 * newest item when it cannot join, so packets of one connection leave in the
 * order they came. Items are written in creation order.
 *
 * Checksums: a coalesced packet is written with NEEDS_CSUM, which the kernel
 * delivers without any check (CHECKSUM_PARTIAL), so both the item's first
 * packet and every appended one are verified before merging; a packet that
 * fails goes out alone with a zeroed header and the kernel drops it.
 */
int
offload_gro_add(struct offload_gro *g, const uint8_t *pkt, size_t len)
{
    struct gro_parse p;
    struct gro_item *it;
    unsigned hslot = GRO_HASH_SIZE;
    int last = -1;
    bool pkt_bad = false;

    if (!g || !pkt || len == 0)
        return -EINVAL;
    if (pkt[0] >> 4 == 4) {
        if (len < IPV4_HDR_MIN)
            return -EINVAL;
    } else if (pkt[0] >> 4 == 6) {
        if (len < IPV6_HDR_LEN)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    if (len > IP_MAX_LEN)
        return -EMSGSIZE;

    gro_parse(g, pkt, len, &p);
    if (p.keyed) {
        last = gro_lookup(g, &p.key, &hslot);
        if (last >= 0 && p.candidate && gro_can_append(&g->items[last], &p, pkt)) {
            it = &g->items[last];
            if (it->csum == 0)
                it->csum =
                    g->trust_csum || gro_pkt_csum_ok(it->buf + GRO_HEADROOM, it->len, &p) ? 1 : -1;
            if (it->csum < 0) {
                it->open = false; /* goes out alone; this packet starts afresh */
            } else if (!g->trust_csum && !gro_pkt_csum_ok(pkt, len, &p)) {
                p.candidate = false; /* goes out alone, after the item */
                pkt_bad = true;
            } else {
                uint8_t *l4 = it->buf + GRO_HEADROOM + it->iph;

                memcpy(it->buf + GRO_HEADROOM + it->len, pkt + p.iph + p.l4h, p.payload);
                it->len += (uint32_t)p.payload;
                it->nseg++;
                it->next_seq += (uint32_t)p.payload;
                if (p.payload < it->gso_size)
                    it->open = false; /* nothing may follow a short segment */
                if (p.kind == GRO_KIND_TCP && (pkt[p.iph + TCP_OFF_FLAGS] & TCP_F_PSH)) {
                    l4[TCP_OFF_FLAGS] |= TCP_F_PSH;
                    it->open = false; /* PSH ends a super-packet */
                }
                return 0;
            }
        }
    } else if (p.unsure) {
        gro_close_addrs(g, &p.key);
    }

    if (g->n >= OFFLOAD_GRO_MAX_OUT)
        return -ENOBUFS;
    it = &g->items[g->n];
    memcpy(it->buf + GRO_HEADROOM, pkt, len);
    it->key = p.key;
    it->len = (uint32_t)len;
    it->iph = (uint16_t)p.iph;
    it->l4h = (uint16_t)p.l4h;
    it->gso_size = (uint16_t)p.payload;
    it->nseg = 1;
    it->kind = p.kind;
    it->v6 = p.v6;
    it->keyed = p.keyed;
    it->csum = pkt_bad ? -1 : 0;
    it->open = p.candidate;
    it->next_seq = 0;
    if (p.kind == GRO_KIND_TCP) {
        it->next_seq = rd32(pkt + p.iph + TCP_OFF_SEQ) + (uint32_t)p.payload;
        if (pkt[p.iph + TCP_OFF_FLAGS] & TCP_F_PSH)
            it->open = false;
    }
    if (p.keyed && hslot < GRO_HASH_SIZE)
        g->hash[hslot] = (uint8_t)g->n;
    g->n++;
    return 0;
}

/* Turn a coalesced item into one GSO packet and fill its vnet header. */
static void
gro_finish(struct gro_item *it, struct virtio_net_hdr_v1 *h)
{
    uint8_t *pkt = it->buf + GRO_HEADROOM;
    uint8_t *l4 = pkt + it->iph;
    bool tcp = it->kind == GRO_KIND_TCP;
    uint32_t l4len = it->len - it->iph;

    if (it->v6) {
        wr16(pkt + 4, (uint16_t)l4len);
    } else {
        wr16(pkt + 2, (uint16_t)it->len);
        ipv4_set_csum(pkt, it->iph);
    }
    if (!tcp)
        wr16(l4 + UDP_OFF_LEN, (uint16_t)l4len);
    /* CHECKSUM_PARTIAL: the field holds the folded (not inverted) pseudo-header sum. */
    wr16(l4 + (tcp ? TCP_OFF_CSUM : UDP_OFF_CSUM),
         csum_fold16(pseudo_sum(pkt, it->v6, tcp ? IPPROTO_TCP_ : IPPROTO_UDP_, l4len)));

    h->flags = VNET_HDR_F_NEEDS_CSUM;
    h->gso_type = !tcp ? VNET_HDR_GSO_UDP_L4 : it->v6 ? VNET_HDR_GSO_TCPV6 : VNET_HDR_GSO_TCPV4;
    h->hdr_len = (uint16_t)(it->iph + it->l4h);
    h->gso_size = it->gso_size;
    h->csum_start = it->iph;
    h->csum_offset = tcp ? TCP_OFF_CSUM : UDP_OFF_CSUM;
}

int
offload_gro_flush(struct offload_gro *g, int (*write_fn)(void *ctx, const uint8_t *buf, size_t len),
                  void *ctx)
{
    int err = 0;

    if (!g)
        return -EINVAL;
    for (unsigned i = 0; write_fn && i < g->n; i++) {
        struct gro_item *it = &g->items[i];
        struct virtio_net_hdr_v1 h = { 0 };
        uint8_t *vh = it->buf + GRO_HEADROOM - VNET_LEN;
        int r;

        if (it->nseg > 1)
            gro_finish(it, &h);
        memcpy(vh, &h, VNET_LEN);
        r = write_fn(ctx, vh, VNET_LEN + it->len);
        if (r < 0 && err == 0)
            err = r;
    }
    offload_gro_reset(g);
    return write_fn ? err : -EINVAL;
}
