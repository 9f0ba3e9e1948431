/* SPDX-License-Identifier: MIT */
/*
 * TUN offload surgery: split of TSO/USO super-packets and GRO coalescing.
 * Expected packets are built independently here, with a plain RFC 1071
 * checksum, and compared byte for byte.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "packet-ref.h"
#include "tun/offload.h"

enum {
    VNET = 10,
    MAXPKT = 65535,
    PAT_LEN = 70000,
};

static uint8_t pattern[PAT_LEN];

/* ---- independent reference checksum (packet-ref.h) ---- */

static uint32_t
ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
    uint32_t s = v6 ? ref_sum(ip + 8, 32, 0) : ref_sum(ip + 12, 8, 0);

    return s + proto + (uint32_t)l4len;
}

/* L4 checksum valid? (pkt: full IP packet, iph: L3 header length) */
static bool
ref_l4_ok(const uint8_t *pkt, size_t len, size_t iph, bool v6, uint8_t proto)
{
    uint32_t s = ref_pseudo(pkt, v6, proto, len - iph);

    return ref_fold(ref_sum(pkt + iph, len - iph, s)) == 0;
}

static bool
ref_ip4_ok(const uint8_t *pkt)
{
    return ref_fold(ref_sum(pkt, (size_t)(pkt[0] & 15) * 4, 0)) == 0;
}

/* ---- packet builder ---- */

struct spec {
    bool v6;
    bool udp;
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint8_t opts[40];
    size_t optlen;   /* TCP options, multiple of 4 */
    size_t ipoptlen; /* IPv4 options (NOPs), multiple of 4 */
    uint16_t id;
    uint8_t ttl, tos;
    bool df;
    const uint8_t *payload;
    size_t plen;
};

static struct spec
spec_default(bool v6, bool udp)
{
    struct spec s;
    static const uint8_t ts_opt[12] = { 1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78 };

    memset(&s, 0, sizeof(s));
    s.v6 = v6;
    s.udp = udp;
    if (v6) {
        static const uint8_t a[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0,
                                       0,    0,    0,    0,    0,    0,    0, 1 };
        static const uint8_t b[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0,    0,
                                       0,    0,    0,    0,    0,    0,    0x12, 2 };

        memcpy(s.src, a, 16);
        memcpy(s.dst, b, 16);
    } else {
        static const uint8_t a[4] = { 100, 64, 0, 1 };
        static const uint8_t b[4] = { 100, 101, 7, 2 };

        memcpy(s.src, a, 4);
        memcpy(s.dst, b, 4);
    }
    s.sport = 40000;
    s.dport = 5201;
    s.seq = 0x10203040;
    s.ack = 0x55667788;
    s.flags = 0x10;
    s.win = 502;
    memcpy(s.opts, ts_opt, sizeof(ts_opt));
    s.optlen = 0;
    s.id = 0x4242;
    s.ttl = 64;
    s.tos = 0;
    s.df = true;
    s.payload = pattern;
    s.plen = 1000;
    return s;
}

static size_t
l3len(const struct spec *s)
{
    return s->v6 ? 40 : 20 + s->ipoptlen;
}

static size_t
l4hlen(const struct spec *s)
{
    return s->udp ? 8 : 20 + s->optlen;
}

/* Builds a complete packet with valid checksums; returns its length. */
static size_t
build(const struct spec *s, uint8_t *out)
{
    size_t iph = l3len(s), l4h = l4hlen(s), len = iph + l4h + s->plen;
    uint8_t proto = s->udp ? 17 : 6;
    uint8_t *l4 = out + iph;

    g_assert_cmpuint(len, <=, MAXPKT);
    memset(out, 0, iph + l4h);
    if (s->v6) {
        out[0] = 0x60 | (s->tos >> 4);
        out[1] = (uint8_t)(s->tos << 4);
        put16(out + 4, (uint16_t)(len - 40));
        out[6] = proto;
        out[7] = s->ttl;
        memcpy(out + 8, s->src, 16);
        memcpy(out + 24, s->dst, 16);
    } else {
        out[0] = (uint8_t)(0x40 | (iph / 4));
        out[1] = s->tos;
        put16(out + 2, (uint16_t)len);
        put16(out + 4, s->id);
        put16(out + 6, s->df ? 0x4000 : 0);
        out[8] = s->ttl;
        out[9] = proto;
        memcpy(out + 12, s->src, 4);
        memcpy(out + 16, s->dst, 4);
        memset(out + 20, 1, s->ipoptlen); /* NOP options */
        put16(out + 10, ref_fold(ref_sum(out, iph, 0)));
    }
    put16(l4, s->sport);
    put16(l4 + 2, s->dport);
    if (s->udp) {
        put16(l4 + 4, (uint16_t)(len - iph));
    } else {
        put32(l4 + 4, s->seq);
        put32(l4 + 8, s->ack);
        l4[12] = (uint8_t)((l4h / 4) << 4);
        l4[13] = s->flags;
        put16(l4 + 14, s->win);
        memcpy(l4 + 20, s->opts, s->optlen);
    }
    memcpy(out + iph + l4h, s->payload, s->plen);
    {
        uint16_t c = ref_fold(ref_sum(l4, len - iph, ref_pseudo(out, s->v6, proto, len - iph)));

        if (s->udp && c == 0)
            c = 0xffff;
        put16(l4 + (s->udp ? 6 : 16), c);
    }
    return len;
}

static void
put_vnet(uint8_t *b, uint8_t flags, uint8_t type, uint16_t hdr_len, uint16_t gso_size,
         uint16_t csum_start, uint16_t csum_offset)
{
    struct virtio_net_hdr_v1 h = { flags, type, hdr_len, gso_size, csum_start, csum_offset };

    memcpy(b, &h, VNET);
}

static struct virtio_net_hdr_v1
get_vnet(const uint8_t *b)
{
    struct virtio_net_hdr_v1 h;

    memcpy(&h, b, VNET);
    return h;
}

/* Slots for split output, like the TX path's (16 bytes into a send buffer). */
struct slots {
    uint8_t *mem;
    struct pkt_slot s[128];
};

static void
slots_init(struct slots *sl, size_t n, size_t cap)
{
    size_t i;

    sl->mem = g_malloc0(n * (cap + 32));
    for (i = 0; i < n; i++) {
        sl->s[i].data = sl->mem + i * (cap + 32) + 16;
        sl->s[i].len = 0;
    }
}

static void
slots_clear(struct slots *sl)
{
    g_free(sl->mem);
}

/* ---- checksum ---- */

static void
test_csum_partial(void)
{
    uint8_t buf[3000];
    size_t i, off, len;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)g_test_rand_int();
    for (off = 0; off < 9; off++) {
        for (len = 0; len < 2000; len += 1 + len / 16) {
            uint32_t init = g_test_rand_int_range(0, 0x40000);
            uint16_t a = offload_csum_fold(offload_csum_partial(buf + off, len, init));
            uint16_t b = ref_fold(ref_sum(buf + off, len, init));

            g_assert_cmphex(a, ==, b);
        }
    }
    /* chained at an even offset */
    g_assert_cmphex(
        offload_csum_fold(offload_csum_partial(buf + 100, 777, offload_csum_partial(buf, 100, 0))),
        ==, ref_fold(ref_sum(buf, 877, 0)));
    /* all 0xff: many carries */
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmphex(offload_csum_fold(offload_csum_partial(buf, sizeof(buf), 0)), ==,
                    ref_fold(ref_sum(buf, sizeof(buf), 0)));
    g_assert_cmphex(offload_csum_fold(offload_csum_partial(buf, 0, 0)), ==, 0xffff);
}

/* ---- split ---- */

/* Build a super-packet as a TSO/USO read hands it over; returns read length. */
static size_t
build_super(const struct spec *s, size_t mss, uint8_t *rb)
{
    size_t len = build(s, rb + VNET);
    size_t iph = l3len(s);
    uint8_t type = s->udp ? VNET_HDR_GSO_UDP_L4 : s->v6 ? VNET_HDR_GSO_TCPV6 : VNET_HDR_GSO_TCPV4;

    /* The kernel leaves a pseudo-header sum here; split must not care. */
    put16(rb + VNET + iph + (s->udp ? 6 : 16), 0xbeef);
    /* hdr_len deliberately wrong: it must be ignored. */
    put_vnet(rb, VNET_HDR_F_NEEDS_CSUM, type, (uint16_t)(len > 0xffff ? 0xffff : len),
             (uint16_t)mss, (uint16_t)iph, s->udp ? 6 : 16);
    return len + VNET;
}

/* Expected segment I of super-packet S. */
static size_t
build_expected_seg(const struct spec *s, size_t mss, size_t i, uint8_t *out)
{
    struct spec e = *s;
    size_t off = i * mss;
    bool last = off + mss >= s->plen;

    e.payload = s->payload + off;
    e.plen = last ? s->plen - off : mss;
    e.seq = s->seq + (uint32_t)off;
    e.id = (uint16_t)(s->id + i);
    if (!last)
        e.flags &= (uint8_t) ~(0x01 | 0x08);
    return build(&e, out);
}

static void
split_check(const struct spec *s, size_t mss)
{
    g_autofree uint8_t *rb = g_malloc(MAXPKT + VNET + 64);
    g_autofree uint8_t *exp = g_malloc(MAXPKT);
    size_t rlen = build_super(s, mss, rb);
    size_t nseg = (s->plen + mss - 1) / mss, i;
    struct slots sl;
    int n;

    slots_init(&sl, 128, 1600);
    n = offload_split(rb, rlen, sl.s, 128, 1600);
    g_assert_cmpint(n, ==, (int)nseg);
    for (i = 0; i < nseg; i++) {
        size_t elen = build_expected_seg(s, mss, i, exp);
        size_t iph = l3len(s);

        g_assert_cmpuint(sl.s[i].len, ==, elen);
        g_assert_cmpmem(sl.s[i].data, sl.s[i].len, exp, elen);
        /* and the checksums hold by the reference, independently of build() */
        if (!s->v6)
            g_assert_true(ref_ip4_ok(sl.s[i].data));
        g_assert_true(ref_l4_ok(sl.s[i].data, sl.s[i].len, iph, s->v6, s->udp ? 17 : 6));
    }
    slots_clear(&sl);
}

static void
test_split_tcp4(void)
{
    struct spec s = spec_default(false, false);

    s.plen = 5 * 1380 + 17;
    s.flags = 0x18; /* ACK|PSH: PSH only on the last */
    split_check(&s, 1380);
    s.plen = 3 * 1380; /* exact multiple */
    split_check(&s, 1380);
    s.plen = 100; /* one short segment */
    split_check(&s, 1380);
    s.plen = 46 * 1400 + 35; /* near the 64 KB limit */
    split_check(&s, 1400);
}

static void
test_split_tcp4_options(void)
{
    struct spec s = spec_default(false, false);

    s.optlen = 12;
    s.plen = 4 * 1368 + 1;
    split_check(&s, 1368);
    s.ipoptlen = 8; /* IPv4 options: csum_start 28 */
    split_check(&s, 1368);
    s.optlen = 40; /* data offset 60 */
    for (size_t i = 12; i < 40; i++)
        s.opts[i] = 1;
    split_check(&s, 1300);
}

static void
test_split_tcp6(void)
{
    struct spec s = spec_default(true, false);

    s.plen = 7 * 1360 + 500;
    s.flags = 0x19; /* ACK|PSH|FIN */
    split_check(&s, 1360);
    s.optlen = 12;
    s.tos = 0xb8;
    split_check(&s, 1348);
}

static void
test_split_udp(void)
{
    struct spec s = spec_default(false, true);

    s.plen = 10 * 1000;
    split_check(&s, 1000);
    s.plen = 10 * 1000 + 1;
    split_check(&s, 1000);
    s.v6 = true;
    s.plen = 64 * 1000;
    split_check(&s, 1000);
}

static void
test_split_wrap(void)
{
    struct spec s = spec_default(false, false);

    s.seq = 0xffffff00;
    s.id = 0xfffe;
    s.plen = 4 * 1000;
    split_check(&s, 1000);
}

static void
test_split_ecn(void)
{
    g_autofree uint8_t *rb = g_malloc(MAXPKT + VNET);
    struct spec s = spec_default(false, false);
    struct slots sl;
    size_t rlen;
    int n;

    s.flags = 0x10 | 0x80; /* ACK|CWR */
    s.plen = 3000;
    rlen = build_super(&s, 1000, rb);
    rb[1] |= VNET_HDR_GSO_ECN;
    slots_init(&sl, 8, 1600);
    n = offload_split(rb, rlen, sl.s, 8, 1600);
    g_assert_cmpint(n, ==, 3);
    g_assert_cmphex(sl.s[0].data[20 + 13], ==, 0x90);
    g_assert_cmphex(sl.s[1].data[20 + 13], ==, 0x10);
    g_assert_cmphex(sl.s[2].data[20 + 13], ==, 0x10);
    g_assert_true(ref_l4_ok(sl.s[1].data, sl.s[1].len, 20, false, 6));
    slots_clear(&sl);
}

static void
test_split_e2big(void)
{
    g_autofree uint8_t *rb = g_malloc(MAXPKT + VNET);
    g_autofree uint8_t *exp = g_malloc(MAXPKT);
    struct spec s = spec_default(false, false);
    struct slots sl;
    size_t rlen, i;
    int n;

    s.plen = 5 * 1000;
    s.flags = 0x18;
    rlen = build_super(&s, 1000, rb);
    slots_init(&sl, 3, 1600);
    n = offload_split(rb, rlen, sl.s, 3, 1600);
    g_assert_cmpint(n, ==, -E2BIG);
    for (i = 0; i < 3; i++) {
        size_t elen = build_expected_seg(&s, 1000, i, exp);

        g_assert_cmpmem(sl.s[i].data, sl.s[i].len, exp, elen);
    }
    g_assert_cmpint(offload_split(rb, rlen, sl.s, 0, 1600), ==, -E2BIG);
    slots_clear(&sl);
}

static void
test_split_none(void)
{
    g_autofree uint8_t *rb = g_malloc(MAXPKT + VNET);
    g_autofree uint8_t *exp = g_malloc(MAXPKT);
    struct slots sl;
    unsigned v;

    slots_init(&sl, 2, 1600);
    for (v = 0; v < 4; v++) {
        struct spec s = spec_default(v & 1, v & 2);
        size_t len = build(&s, exp), iph = l3len(&s);
        size_t co = s.udp ? 6 : 16;
        int n;

        /* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum */
        memcpy(rb + VNET, exp, len);
        put16(rb + VNET + iph + co,
              (uint16_t)~ref_fold(ref_pseudo(exp, s.v6, s.udp ? 17 : 6, len - iph)));
        put_vnet(rb, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_NONE, 0, 0, (uint16_t)iph, (uint16_t)co);
        n = offload_split(rb, len + VNET, sl.s, 2, 1600);
        g_assert_cmpint(n, ==, 1);
        g_assert_cmpmem(sl.s[0].data, sl.s[0].len, exp, len);

        /* no flag: copied as is, even with a bad checksum */
        put_vnet(rb, 0, VNET_HDR_GSO_NONE, 0, 0, 0, 0);
        n = offload_split(rb, len + VNET, sl.s, 2, 1600);
        g_assert_cmpint(n, ==, 1);
        g_assert_cmpmem(sl.s[0].data, sl.s[0].len, rb + VNET, len);

        /* too big for the slot */
        g_assert_cmpint(offload_split(rb, len + VNET, sl.s, 2, len - 1), ==, -EMSGSIZE);
        /* checksum field beyond the packet */
        put_vnet(rb, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_NONE, 0, 0, (uint16_t)iph,
                 (uint16_t)(len - iph - 1));
        g_assert_cmpint(offload_split(rb, len + VNET, sl.s, 2, 1600), ==, -EINVAL);
        put_vnet(rb, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_NONE, 0, 0, (uint16_t)len, 0);
        g_assert_cmpint(offload_split(rb, len + VNET, sl.s, 2, 1600), ==, -EINVAL);
    }
    slots_clear(&sl);
}

static void
test_split_malformed(void)
{
    g_autofree uint8_t *rb = g_malloc(MAXPKT + VNET);
    g_autofree uint8_t *good = g_malloc(MAXPKT + VNET);
    struct spec s = spec_default(false, false);
    struct slots sl;
    size_t rlen, cut;
    int n;

    s.plen = 4000;
    rlen = build_super(&s, 1000, good);
    slots_init(&sl, 8, 1600);

#define RESET()            memcpy(rb, good, rlen)
#define EXPECT_EINVAL(len) g_assert_cmpint(offload_split(rb, (len), sl.s, 8, 1600), ==, -EINVAL)

    RESET();
    g_assert_cmpint(offload_split(rb, rlen, sl.s, 8, 1600), ==, 4);
    /* csum_start beyond the packet, or not the IPv4 header length */
    /* clang-format off */
    RESET(); put_vnet(rb, 1, VNET_HDR_GSO_TCPV4, 40, 1000, 60000, 16); EXPECT_EINVAL(rlen);
    RESET(); put_vnet(rb, 1, VNET_HDR_GSO_TCPV4, 40, 1000, 24, 16); EXPECT_EINVAL(rlen);
    RESET(); put_vnet(rb, 1, VNET_HDR_GSO_TCPV4, 40, 1000, 0, 16); EXPECT_EINVAL(rlen);
    /* data offset < 20 and > 60 can't be (4 bits) — test < 20 and the values around */
    RESET(); rb[VNET + 20 + 12] = 4 << 4; EXPECT_EINVAL(rlen);
    RESET(); rb[VNET + 20 + 12] = 0; EXPECT_EINVAL(rlen);
    /* data offset 60, but the packet ends inside the options */
    RESET(); rb[VNET + 20 + 12] = 15 << 4; EXPECT_EINVAL(VNET + 20 + 50);
    /* gso_size 0 */
    RESET(); put_vnet(rb, 1, VNET_HDR_GSO_TCPV4, 40, 0, 20, 16); EXPECT_EINVAL(rlen);
    /* unknown GSO type, wrong family for the type, bad version */
    RESET(); put_vnet(rb, 1, 3, 40, 1000, 20, 16); EXPECT_EINVAL(rlen);
    RESET(); put_vnet(rb, 1, VNET_HDR_GSO_TCPV6, 40, 1000, 20, 16); EXPECT_EINVAL(rlen);
    RESET(); rb[VNET] = 0x55; EXPECT_EINVAL(rlen);
    /* IHL < 5 */
    RESET(); rb[VNET] = 0x44; put_vnet(rb, 1, VNET_HDR_GSO_TCPV4, 40, 1000, 16, 16); EXPECT_EINVAL(rlen);
    /* protocol field disagrees with the GSO type */
    RESET(); rb[VNET + 9] = 17; EXPECT_EINVAL(rlen);
    /* clang-format on */
    /* truncated everywhere: no crash, no success past the headers */
    for (cut = 0; cut < VNET + 41; cut++) {
        RESET();
        n = offload_split(rb, cut, sl.s, 8, 1600);
        g_assert_cmpint(n, ==, -EINVAL);
    }
    /* IPv6 header claims a TCPV6 GSO but is too short */
    /* clang-format off */
    RESET(); rb[VNET] = 0x60; put_vnet(rb, 1, VNET_HDR_GSO_TCPV6, 60, 1000, 40, 16); EXPECT_EINVAL(VNET + 50);
    /* clang-format on */
    /* slot too small for a segment */
    RESET();
    g_assert_cmpint(offload_split(rb, rlen, sl.s, 8, 1039), ==, -EMSGSIZE);
    g_assert_cmpint(offload_split(NULL, 0, sl.s, 8, 1600), ==, -EINVAL);
#undef RESET
#undef EXPECT_EINVAL
    slots_clear(&sl);
}

/* ---- GRO ---- */

struct cap {
    unsigned n;
    uint8_t *buf[80];
    size_t len[80];
    int fail_call; /* 1-based call index to fail, 0: none */
    unsigned calls;
};

static int
cap_write(void *ctx, const uint8_t *b, size_t len)
{
    struct cap *c = ctx;

    c->calls++;
    if (c->fail_call && (int)c->calls == c->fail_call)
        return -EIO;
    g_assert_cmpuint(c->n, <, G_N_ELEMENTS(c->buf));
    c->buf[c->n] = g_memdup2(b, len);
    c->len[c->n] = len;
    c->n++;
    return 0;
}

static void
cap_clear(struct cap *c)
{
    unsigned i;

    for (i = 0; i < c->n; i++)
        g_free(c->buf[i]);
    memset(c, 0, sizeof(*c));
}

/* N packets of one flow, adjacent, each MSS except a TAIL-sized last one (0: MSS). */
struct flow {
    uint8_t *pkt[70];
    size_t len[70];
    unsigned n;
};

static void
flow_build(struct flow *f, const struct spec *base, unsigned n, size_t mss, size_t tail,
           bool psh_last)
{
    unsigned i;

    f->n = n;
    for (i = 0; i < n; i++) {
        struct spec s = *base;

        s.payload = base->payload + i * mss;
        s.plen = (i == n - 1 && tail) ? tail : mss;
        s.seq = base->seq + (uint32_t)(i * mss);
        s.id = (uint16_t)(base->id + i);
        if (!s.udp && psh_last && i == n - 1)
            s.flags |= 0x08;
        f->pkt[i] = g_malloc(MAXPKT);
        f->len[i] = build(&s, f->pkt[i]);
    }
}

static void
flow_clear(struct flow *f)
{
    unsigned i;

    for (i = 0; i < f->n; i++)
        g_free(f->pkt[i]);
    f->n = 0;
}

/* Output I is exactly packet P with a zeroed vnet header. */
static void
assert_passthrough(const struct cap *c, unsigned i, const uint8_t *p, size_t len)
{
    static const uint8_t zero[VNET];

    g_assert_cmpuint(i, <, c->n);
    g_assert_cmpmem(c->buf[i], VNET, zero, VNET);
    g_assert_cmpmem(c->buf[i] + VNET, c->len[i] - VNET, p, len);
}

/* Output I is a super-packet of F's packets [from, to): check header, then split it back. */
static void
assert_coalesced(const struct cap *c, unsigned i, const struct flow *f, unsigned from, unsigned to,
                 const struct spec *base, size_t mss)
{
    struct virtio_net_hdr_v1 h;
    const uint8_t *pkt;
    size_t len, iph = l3len(base), l4h = l4hlen(base), k;
    g_autofree uint8_t *copy = NULL;
    struct slots sl;
    int n;

    g_assert_cmpuint(i, <, c->n);
    h = get_vnet(c->buf[i]);
    pkt = c->buf[i] + VNET;
    len = c->len[i] - VNET;
    g_assert_cmpuint(h.flags, ==, VNET_HDR_F_NEEDS_CSUM);
    g_assert_cmpuint(h.gso_type, ==,
                     base->udp  ? VNET_HDR_GSO_UDP_L4
                     : base->v6 ? VNET_HDR_GSO_TCPV6
                                : VNET_HDR_GSO_TCPV4);
    g_assert_cmpuint(h.hdr_len, ==, iph + l4h);
    g_assert_cmpuint(h.gso_size, ==, mss);
    g_assert_cmpuint(h.csum_start, ==, iph);
    g_assert_cmpuint(h.csum_offset, ==, base->udp ? 6 : 16);
    if (base->v6) {
        g_assert_cmpuint(get16(pkt + 4), ==, len - 40);
    } else {
        g_assert_cmpuint(get16(pkt + 2), ==, len);
        g_assert_true(ref_ip4_ok(pkt));
    }
    if (base->udp)
        g_assert_cmpuint(get16(pkt + iph + 4), ==, len - iph);
    /* CHECKSUM_PARTIAL contract: field = folded pseudo-header sum over the whole L4 length */
    g_assert_cmphex(get16(pkt + iph + h.csum_offset), ==,
                    (uint16_t)~ref_fold(ref_pseudo(pkt, base->v6, base->udp ? 17 : 6, len - iph)));
    /* finishing it like the kernel would gives a valid packet */
    copy = g_memdup2(pkt, len);
    put16(copy + iph + h.csum_offset, ref_fold(ref_sum(copy + iph, len - iph, 0)));
    g_assert_true(ref_l4_ok(copy, len, iph, base->v6, base->udp ? 17 : 6));

    /* round trip */
    slots_init(&sl, 128, 1600);
    n = offload_split(c->buf[i], c->len[i], sl.s, 128, 1600);
    g_assert_cmpint(n, ==, (int)(to - from));
    for (k = 0; k < to - from; k++)
        g_assert_cmpmem(sl.s[k].data, sl.s[k].len, f->pkt[from + k], f->len[from + k]);
    slots_clear(&sl);
}

/* Add all packets of the listed (flow, index) pairs, flush, return captured. */
static void
gro_run(struct offload_gro *g, const uint8_t *const *pkts, const size_t *lens, unsigned n,
        struct cap *c)
{
    unsigned i;

    for (i = 0; i < n; i++)
        g_assert_cmpint(offload_gro_add(g, pkts[i], lens[i]), ==, 0);
    g_assert_cmpint(offload_gro_flush(g, cap_write, c), ==, 0);
}

/* All of F's packets, in order. */
static void
gro_run_flow(struct offload_gro *g, const struct flow *f, struct cap *c)
{
    gro_run(g, (const uint8_t *const *)f->pkt, f->len, f->n, c);
}

static void
gro_roundtrip(bool v6, bool udp, size_t optlen, unsigned n, size_t mss, size_t tail)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(v6, udp);
    struct cap c = { 0 };
    struct flow f;

    s.optlen = optlen;
    flow_build(&f, &s, n, mss, tail, true);
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 1);
    assert_coalesced(&c, 0, &f, 0, n, &s, mss);
    cap_clear(&c);
    flow_clear(&f);
    offload_gro_free(g);
}

static void
test_gro_tcp4(void)
{
    gro_roundtrip(false, false, 0, 8, 1380, 0);
    gro_roundtrip(false, false, 0, 5, 1380, 77);
    gro_roundtrip(false, false, 12, 10, 1368, 0);
    gro_roundtrip(false, false, 0, 2, 1, 0);
}

static void
test_gro_tcp6(void)
{
    gro_roundtrip(true, false, 0, 8, 1360, 0);
    gro_roundtrip(true, false, 12, 6, 1348, 100);
}

static void
test_gro_udp(void)
{
    gro_roundtrip(false, true, 0, 10, 1000, 0);
    gro_roundtrip(false, true, 0, 10, 1000, 1);
    gro_roundtrip(true, true, 0, 64, 1000, 0);
}

static void
test_gro_non_adjacent(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;
    const uint8_t *p[3];
    size_t l[3];

    flow_build(&f, &s, 4, 1000, 0, false);
    /* 0, 2, 3: the gap stops 0 from growing; 2+3 coalesce */
    p[0] = f.pkt[0];
    l[0] = f.len[0];
    p[1] = f.pkt[2];
    l[1] = f.len[2];
    p[2] = f.pkt[3];
    l[2] = f.len[3];
    gro_run(g, p, l, 3, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_passthrough(&c, 0, f.pkt[0], f.len[0]);
    assert_coalesced(&c, 1, &f, 2, 4, &s, 1000);
    cap_clear(&c);

    /* reordered 1 before 0: no prepend, order kept */
    p[0] = f.pkt[1];
    l[0] = f.len[1];
    p[1] = f.pkt[0];
    l[1] = f.len[0];
    gro_run(g, p, l, 2, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_passthrough(&c, 0, f.pkt[1], f.len[1]);
    assert_passthrough(&c, 1, f.pkt[0], f.len[0]);
    cap_clear(&c);
    flow_clear(&f);
    offload_gro_free(g);
}

static void
test_gro_interleaved(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec a = spec_default(false, false), b = spec_default(false, false),
                u = spec_default(true, true);
    struct cap c = { 0 };
    struct flow fa, fb, fu;
    const uint8_t *p[12];
    size_t l[12];
    unsigned i, k = 0;

    b.sport = 40001;
    b.seq = 7;
    u.payload = pattern + 5;
    flow_build(&fa, &a, 4, 1200, 0, false);
    flow_build(&fb, &b, 4, 1300, 0, false);
    flow_build(&fu, &u, 4, 900, 0, false);
    for (i = 0; i < 4; i++) {
        p[k] = fa.pkt[i];
        l[k++] = fa.len[i];
        p[k] = fb.pkt[i];
        l[k++] = fb.len[i];
        p[k] = fu.pkt[i];
        l[k++] = fu.len[i];
    }
    gro_run(g, p, l, k, &c);
    g_assert_cmpuint(c.n, ==, 3);
    assert_coalesced(&c, 0, &fa, 0, 4, &a, 1200);
    assert_coalesced(&c, 1, &fb, 0, 4, &b, 1300);
    assert_coalesced(&c, 2, &fu, 0, 4, &u, 900);
    cap_clear(&c);
    flow_clear(&fa);
    flow_clear(&fb);
    flow_clear(&fu);
    offload_gro_free(g);
}

static void
test_gro_psh_and_short_end(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;
    unsigned i;

    /* PSH on packet 1: 0+1 coalesce (PSH kept), 2+3 coalesce */
    flow_build(&f, &s, 4, 1000, 0, false);
    {
        struct spec e = s;

        e.payload = pattern + 1000;
        e.seq = s.seq + 1000;
        e.id = (uint16_t)(s.id + 1);
        e.flags = 0x18;
        f.len[1] = build(&e, f.pkt[1]);
    }
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_coalesced(&c, 0, &f, 0, 2, &s, 1000);
    g_assert_cmphex(c.buf[0][VNET + 20 + 13], ==, 0x18);
    assert_coalesced(&c, 1, &f, 2, 4, &s, 1000);
    cap_clear(&c);
    flow_clear(&f);

    /* short segment ends it; a bigger one after it starts anew */
    {
        struct spec e = s;
        uint8_t *b[3];
        size_t bl[3];

        for (i = 0; i < 3; i++)
            b[i] = g_malloc(MAXPKT);
        bl[0] = build(&e, b[0]); /* 1000 */
        e.seq += 1000;
        e.payload += 1000;
        e.plen = 500;
        bl[1] = build(&e, b[1]); /* 500: short */
        e.seq += 500;
        e.payload += 500;
        e.plen = 1000;
        bl[2] = build(&e, b[2]); /* 1000 */
        gro_run(g, (const uint8_t *const *)b, bl, 3, &c);
        g_assert_cmpuint(c.n, ==, 2);
        g_assert_cmpuint(get_vnet(c.buf[0]).gso_size, ==, 1000);
        g_assert_cmpuint(c.len[0], ==, VNET + 40 + 1500);
        assert_passthrough(&c, 1, b[2], bl[2]);
        cap_clear(&c);

        /* bigger after smaller: not coalesced */
        e = s;
        e.plen = 500;
        bl[0] = build(&e, b[0]);
        e.seq += 500;
        e.payload += 500;
        e.plen = 1000;
        bl[1] = build(&e, b[1]);
        gro_run(g, (const uint8_t *const *)b, bl, 2, &c);
        g_assert_cmpuint(c.n, ==, 2);
        assert_passthrough(&c, 0, b[0], bl[0]);
        assert_passthrough(&c, 1, b[1], bl[1]);
        cap_clear(&c);
        for (i = 0; i < 3; i++)
            g_free(b[i]);
    }
    offload_gro_free(g);
}

/* Two adjacent packets where MUTATE changes the second: must not coalesce. */
static void
gro_expect_separate(bool v6, bool udp, void (*mutate)(struct spec *))
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(v6, udp), e;
    struct cap c = { 0 };
    uint8_t *b[2];
    size_t bl[2];

    b[0] = g_malloc(MAXPKT);
    b[1] = g_malloc(MAXPKT);
    s.optlen = udp ? 0 : 12;
    bl[0] = build(&s, b[0]);
    e = s;
    e.seq += (uint32_t)s.plen;
    e.payload += s.plen;
    e.id++;
    mutate(&e);
    bl[1] = build(&e, b[1]);
    gro_run(g, (const uint8_t *const *)b, bl, 2, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_passthrough(&c, 0, b[0], bl[0]);
    assert_passthrough(&c, 1, b[1], bl[1]);
    cap_clear(&c);
    g_free(b[0]);
    g_free(b[1]);
    offload_gro_free(g);
}

static void
mut_opts(struct spec *e)
{
    e->opts[11] ^= 1;
}
static void
mut_ack(struct spec *e)
{
    e->ack += 1;
}
static void
mut_ttl(struct spec *e)
{
    e->ttl -= 1;
}
static void
mut_tos(struct spec *e)
{
    e->tos = 0x04;
}
static void
mut_df(struct spec *e)
{
    e->df = false;
}
static void
mut_win(struct spec *e)
{
    e->win += 1;
}
static void
mut_syn(struct spec *e)
{
    e->flags = 0x12;
}
static void
mut_fin(struct spec *e)
{
    e->flags = 0x11;
}
static void
mut_seq(struct spec *e)
{
    e->seq += 1;
}
static void
mut_ipopt(struct spec *e)
{
    e->ipoptlen = 4;
}
static void
mut_bigger(struct spec *e)
{
    e->plen += 1;
}
static void
mut_port(struct spec *e)
{
    e->dport += 1;
}

static void
test_gro_header_mismatch(void)
{
    gro_expect_separate(false, false, mut_opts);
    gro_expect_separate(false, false, mut_ack);
    gro_expect_separate(false, false, mut_ttl);
    gro_expect_separate(false, false, mut_tos);
    gro_expect_separate(false, false, mut_df);
    gro_expect_separate(false, false, mut_win);
    gro_expect_separate(false, false, mut_syn);
    gro_expect_separate(false, false, mut_fin);
    gro_expect_separate(false, false, mut_seq);
    gro_expect_separate(false, false, mut_ipopt);
    gro_expect_separate(false, false, mut_bigger);
    gro_expect_separate(false, false, mut_port);
    gro_expect_separate(true, false, mut_opts);
    gro_expect_separate(true, false, mut_ttl);
    gro_expect_separate(true, false, mut_tos);
    gro_expect_separate(false, true, mut_ttl);
    gro_expect_separate(false, true, mut_bigger);
    gro_expect_separate(true, true, mut_port);
}

static void
test_gro_bad_csum(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;

    /* bad middle packet: 0 alone, 1 alone (kernel drops it), 2+3 coalesce */
    flow_build(&f, &s, 4, 1000, 0, false);
    f.pkt[1][500] ^= 0x40;
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 3);
    assert_passthrough(&c, 0, f.pkt[0], f.len[0]);
    assert_passthrough(&c, 1, f.pkt[1], f.len[1]);
    assert_coalesced(&c, 2, &f, 2, 4, &s, 1000);
    cap_clear(&c);

    /* bad first packet: it goes alone, 1..3 coalesce */
    f.pkt[1][500] ^= 0x40;
    f.pkt[0][700] ^= 0x01;
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_passthrough(&c, 0, f.pkt[0], f.len[0]);
    assert_coalesced(&c, 1, &f, 1, 4, &s, 1000);
    cap_clear(&c);
    flow_clear(&f);

    /* UDP, IPv6: bad last */
    s = spec_default(true, true);
    flow_build(&f, &s, 3, 800, 0, false);
    f.pkt[2][100] ^= 0x80;
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_coalesced(&c, 0, &f, 0, 2, &s, 800);
    assert_passthrough(&c, 1, f.pkt[2], f.len[2]);
    cap_clear(&c);
    flow_clear(&f);
    offload_gro_free(g);
}

static void
test_gro_disabled(void)
{
    struct offload_gro *g = offload_gro_new(true, false);
    struct spec s = spec_default(false, true);
    struct cap c = { 0 };
    struct flow f;
    unsigned i;

    flow_build(&f, &s, 5, 1000, 0, false);
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 5);
    for (i = 0; i < 5; i++)
        assert_passthrough(&c, i, f.pkt[i], f.len[i]);
    cap_clear(&c);
    flow_clear(&f);
    offload_gro_free(g);

    g = offload_gro_new(false, true);
    s = spec_default(true, false);
    flow_build(&f, &s, 3, 1000, 0, false);
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 3);
    cap_clear(&c);
    flow_clear(&f);
    offload_gro_free(g);
}

static void
test_gro_limits(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;
    uint8_t junk[64] = { 0 };
    unsigned i;

    /* 50 × 1400: 46 fit under 65535 with a 40-byte header, then a new super-packet */
    flow_build(&f, &s, 50, 1400, 0, false);
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_coalesced(&c, 0, &f, 0, 46, &s, 1400);
    assert_coalesced(&c, 1, &f, 46, 50, &s, 1400);
    g_assert_cmpuint(c.len[0] - VNET, <=, 65535);
    cap_clear(&c);
    flow_clear(&f);

    /* UDP: at most 64 segments per super-packet */
    s = spec_default(false, true);
    flow_build(&f, &s, 70, 100, 0, false);
    gro_run_flow(g, &f, &c);
    g_assert_cmpuint(c.n, ==, 2);
    assert_coalesced(&c, 0, &f, 0, 64, &s, 100);
    assert_coalesced(&c, 1, &f, 64, 70, &s, 100);
    cap_clear(&c);
    flow_clear(&f);

    /* -ENOBUFS after OFFLOAD_GRO_MAX_OUT separate packets, order kept across the flush */
    s = spec_default(false, false);
    s.flags = 0x18; /* PSH on each: nothing coalesces */
    flow_build(&f, &s, OFFLOAD_GRO_MAX_OUT + 1, 100, 0, false);
    for (i = 0; i < OFFLOAD_GRO_MAX_OUT; i++)
        g_assert_cmpint(offload_gro_add(g, f.pkt[i], f.len[i]), ==, 0);
    g_assert_cmpint(offload_gro_add(g, f.pkt[i], f.len[i]), ==, -ENOBUFS);
    g_assert_cmpint(offload_gro_flush(g, cap_write, &c), ==, 0);
    g_assert_cmpuint(c.n, ==, OFFLOAD_GRO_MAX_OUT);
    g_assert_cmpint(offload_gro_add(g, f.pkt[i], f.len[i]), ==, 0);
    g_assert_cmpint(offload_gro_flush(g, cap_write, &c), ==, 0);
    for (i = 0; i <= OFFLOAD_GRO_MAX_OUT; i++)
        assert_passthrough(&c, i, f.pkt[i], f.len[i]);
    cap_clear(&c);
    flow_clear(&f);

    /* not IP */
    g_assert_cmpint(offload_gro_add(g, junk, sizeof(junk)), ==, -EINVAL);
    junk[0] = 0x45;
    g_assert_cmpint(offload_gro_add(g, junk, 19), ==, -EINVAL);
    junk[0] = 0x60;
    g_assert_cmpint(offload_gro_add(g, junk, 39), ==, -EINVAL);
    g_assert_cmpint(offload_gro_add(g, junk, 0), ==, -EINVAL);
    /* a bare IPv6 header with no payload is IP: passed through */
    g_assert_cmpint(offload_gro_add(g, junk, 40), ==, 0);
    g_assert_cmpint(offload_gro_flush(g, cap_write, &c), ==, 0);
    assert_passthrough(&c, 0, junk, 40);
    cap_clear(&c);
    offload_gro_free(g);
}

static void
test_gro_flush_error(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;
    unsigned i;

    s.flags = 0x18;
    flow_build(&f, &s, 4, 100, 0, false);
    for (i = 0; i < 4; i++)
        g_assert_cmpint(offload_gro_add(g, f.pkt[i], f.len[i]), ==, 0);
    c.fail_call = 2;
    g_assert_cmpint(offload_gro_flush(g, cap_write, &c), ==, -EIO);
    g_assert_cmpuint(c.calls, ==, 4);
    g_assert_cmpuint(c.n, ==, 3);
    cap_clear(&c);
    /* reset by flush */
    g_assert_cmpint(offload_gro_flush(g, cap_write, &c), ==, 0);
    g_assert_cmpuint(c.n, ==, 0);
    flow_clear(&f);
    offload_gro_free(g);
}

static void
test_gro_fragments_and_others(void)
{
    struct offload_gro *g = offload_gro_new(true, true);
    struct spec s = spec_default(false, false);
    struct cap c = { 0 };
    struct flow f;
    uint8_t frag[100];
    const uint8_t *p[4];
    size_t l[4];

    flow_build(&f, &s, 3, 1000, 0, false);
    /* a non-first IPv4 fragment between the same hosts: order kept, no coalescing across it */
    memcpy(frag, f.pkt[0], sizeof(frag));
    put16(frag + 2, sizeof(frag));
    put16(frag + 6, 0x0010); /* offset 128 bytes */
    frag[10] = frag[11] = 0;
    put16(frag + 10, ref_fold(ref_sum(frag, 20, 0)));
    p[0] = f.pkt[0];
    l[0] = f.len[0];
    p[1] = frag;
    l[1] = sizeof(frag);
    p[2] = f.pkt[1];
    l[2] = f.len[1];
    p[3] = f.pkt[2];
    l[3] = f.len[2];
    gro_run(g, p, l, 4, &c);
    g_assert_cmpuint(c.n, ==, 3);
    assert_passthrough(&c, 0, f.pkt[0], f.len[0]);
    assert_passthrough(&c, 1, frag, sizeof(frag));
    assert_coalesced(&c, 2, &f, 1, 3, &s, 1000);
    cap_clear(&c);

    /* a pure ACK (no payload) is passed through and ends the run */
    {
        struct spec e = s;
        uint8_t ackp[100];
        size_t al;

        e.plen = 0;
        al = build(&e, ackp);
        p[0] = ackp;
        l[0] = al;
        p[1] = f.pkt[0];
        l[1] = f.len[0];
        p[2] = f.pkt[1];
        l[2] = f.len[1];
        gro_run(g, p, l, 3, &c);
        g_assert_cmpuint(c.n, ==, 2);
        assert_passthrough(&c, 0, ackp, al);
        assert_coalesced(&c, 1, &f, 0, 2, &s, 1000);
        cap_clear(&c);
    }
    flow_clear(&f);
    offload_gro_free(g);
}

int
main(int argc, char **argv)
{
    size_t i;
    uint32_t x = 0x12345678;

    for (i = 0; i < sizeof(pattern); i++) {
        x = x * 1103515245u + 12345u;
        pattern[i] = (uint8_t)(x >> 16);
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/offload/csum/partial", test_csum_partial);
    g_test_add_func("/offload/split/tcp4", test_split_tcp4);
    g_test_add_func("/offload/split/tcp4-options", test_split_tcp4_options);
    g_test_add_func("/offload/split/tcp6", test_split_tcp6);
    g_test_add_func("/offload/split/udp", test_split_udp);
    g_test_add_func("/offload/split/wrap", test_split_wrap);
    g_test_add_func("/offload/split/ecn", test_split_ecn);
    g_test_add_func("/offload/split/e2big", test_split_e2big);
    g_test_add_func("/offload/split/none", test_split_none);
    g_test_add_func("/offload/split/malformed", test_split_malformed);
    g_test_add_func("/offload/gro/tcp4-roundtrip", test_gro_tcp4);
    g_test_add_func("/offload/gro/tcp6-roundtrip", test_gro_tcp6);
    g_test_add_func("/offload/gro/udp-roundtrip", test_gro_udp);
    g_test_add_func("/offload/gro/non-adjacent", test_gro_non_adjacent);
    g_test_add_func("/offload/gro/interleaved", test_gro_interleaved);
    g_test_add_func("/offload/gro/psh-and-short-end", test_gro_psh_and_short_end);
    g_test_add_func("/offload/gro/header-mismatch", test_gro_header_mismatch);
    g_test_add_func("/offload/gro/bad-csum", test_gro_bad_csum);
    g_test_add_func("/offload/gro/disabled", test_gro_disabled);
    g_test_add_func("/offload/gro/limits", test_gro_limits);
    g_test_add_func("/offload/gro/flush-error", test_gro_flush_error);
    g_test_add_func("/offload/gro/fragments-and-others", test_gro_fragments_and_others);
    return g_test_run();
}
