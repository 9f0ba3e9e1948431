/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/filter (the inbound packet filter), case by case
 * against filter.h's semantics (Tailscale's wgengine/filter/filter.go):
 *
 *  /filter/parse/...     IPv4/IPv6, extension headers (bounded), fragments,
 *                        truncation
 *  /filter/tcp           a SYN needs a rule (port, source, protocol); non-SYN
 *                        passes; the drop is attributed to the source's rule
 *  /filter/udp-flows     replies to our outbound UDP pass; others need a rule;
 *                        an accepted inbound flow is cached per filter
 *  /filter/icmp, other, tsmp, junk, fragments, not-local
 *  /filter/shields-up, jailed, default-protos, prefixes, ipv6
 *  /filter/many-rules    1,000 rules: the index finds the right one
 *  /filter/flows-lru     fixed capacity, least recently used evicted
 *  /filter/stats         per-rule and per-reason counters
 *  /filter/reject/...    TCP RST and TSMP reject bytes
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "filter/filter.h"
#include "packet-ref.h"

/* ---- packet builders ---------------------------------------------------- */

enum { TCP = 6, UDP = 17, ICMP4 = 1, ICMP6 = 58, SCTP = 132, GRE = 47, TSMP = 99 };
enum { SYN = 0x02, RST = 0x04, ACK = 0x10 };

struct addr {
    int family;
    uint8_t b[16];
};

static struct addr
A(const char *s) {
    struct ip_addr ip;
    struct addr a = { 0 };

    g_assert_true(ip_addr_parse(&ip, s, strlen(s)));
    a.family = ip.family;
    memcpy(a.b, ip.bytes, 16);
    return a;
}

static struct ip_prefix
P(const char *s) {
    struct ip_prefix p;

    g_assert_true(ip_prefix_parse(&p, s, strlen(s)));
    return p;
}

/* An IP header (no options/extensions) + l4 bytes. Returns the length. */
static size_t
ip_packet(uint8_t *out, struct addr src, struct addr dst, uint8_t proto, const uint8_t *l4,
          size_t l4_len)
{
    if (src.family == AF_INET) {
        memset(out, 0, 20);
        out[0] = 0x45;
        put16(out + 2, (uint16_t)(20 + l4_len));
        out[8] = 64;
        out[9] = proto;
        memcpy(out + 12, src.b, 4);
        memcpy(out + 16, dst.b, 4);
        memcpy(out + 20, l4, l4_len);
        return 20 + l4_len;
    }
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t)l4_len);
    out[6] = proto;
    out[7] = 64;
    memcpy(out + 8, src.b, 16);
    memcpy(out + 24, dst.b, 16);
    memcpy(out + 40, l4, l4_len);
    return 40 + l4_len;
}

static size_t
tcp(uint8_t *out, const char *src, unsigned sport, const char *dst, unsigned dport, uint8_t flags)
{
    uint8_t h[20] = { 0 };

    put16(h, (uint16_t)sport);
    put16(h + 2, (uint16_t)dport);
    h[4] = 0x12, h[5] = 0x34, h[6] = 0x56, h[7] = 0x78; /* seq */
    h[12] = 5 << 4;
    h[13] = flags;
    return ip_packet(out, A(src), A(dst), TCP, h, sizeof(h));
}

static size_t
udp(uint8_t *out, const char *src, unsigned sport, const char *dst, unsigned dport)
{
    uint8_t h[12] = { 0 };

    put16(h, (uint16_t)sport);
    put16(h + 2, (uint16_t)dport);
    put16(h + 4, sizeof(h));
    return ip_packet(out, A(src), A(dst), UDP, h, sizeof(h));
}

static size_t
icmp(uint8_t *out, const char *src, const char *dst, uint8_t type, uint8_t code)
{
    uint8_t h[8] = { type, code };
    struct addr s = A(src);

    return ip_packet(out, s, A(dst), s.family == AF_INET ? ICMP4 : ICMP6, h, sizeof(h));
}

static size_t
proto_packet(uint8_t *out, const char *src, const char *dst, uint8_t proto, size_t l4_len)
{
    uint8_t h[64] = { 0 };

    g_assert_cmpuint(l4_len, <=, sizeof(h));
    return ip_packet(out, A(src), A(dst), proto, h, l4_len);
}

/* ---- a filter from a compact description -------------------------------- */

#define ME4   "100.64.0.1"
#define ME6   "fd7a:115c:a1e0::1"
#define PEER1 "100.64.0.2"
#define PEER2 "100.64.0.3"
#define P1_6  "fd7a:115c:a1e0::2"
#define P2_6  "fd7a:115c:a1e0::3"

struct rule_desc {
    const char *srcs[4];
    const char *dst;
    unsigned first, last;
    uint8_t protos[4];
    size_t n_protos;
};

struct opts {
    bool shields_up;
    const char *jailed;
};

static struct pf_filter *
build(const struct rule_desc *rules, size_t n, const struct opts *o)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix me4 = P(ME4 "/32"), me6 = P(ME6 "/128");
    struct pf_filter *f;
    int err = 0;

    g_assert_nonnull(b);
    g_assert_cmpint(pf_builder_add_local(b, &me4), ==, 0);
    g_assert_cmpint(pf_builder_add_local(b, &me6), ==, 0);
    for (size_t i = 0; i < n; i++) {
        struct ip_prefix srcs[4];
        struct pf_dst dst = { .net = P(rules[i].dst),
                              .port_first = (uint16_t)rules[i].first,
                              .port_last = (uint16_t)rules[i].last };
        struct pf_rule r = { .id = (uint32_t)(100 + i),
                             .srcs = srcs,
                             .dsts = &dst,
                             .n_dsts = 1,
                             .protos = rules[i].protos,
                             .n_protos = rules[i].n_protos };

        for (; r.n_srcs < 4 && rules[i].srcs[r.n_srcs]; r.n_srcs++)
            srcs[r.n_srcs] = P(rules[i].srcs[r.n_srcs]);
        g_assert_cmpint(pf_builder_add_rule(b, &r), ==, 0);
    }
    if (o && o->jailed) {
        struct ip_prefix j = P(o->jailed);

        g_assert_cmpint(pf_builder_add_jailed(b, &j), ==, 0);
    }
    pf_builder_set_shields_up(b, o && o->shields_up);
    f = pf_builder_finish(b, &err);
    g_assert_nonnull(f);
    g_assert_cmpint(err, ==, 0);
    return f;
}

static struct pf_result last;

static enum pf_verdict
judge(const struct pf_filter *f, struct pf_flows *fl, const uint8_t *pkt, size_t len)
{
    static uint64_t now = 1;

    return pf_filter_inbound(f, fl, pkt, len, now++, &last);
}

#define ASSERT_VERDICT(f, fl, pkt, len, v, why)                                                    \
    do {                                                                                           \
        g_assert_cmpint(judge(f, fl, pkt, len), ==, v);                                            \
        g_assert_cmpint(last.verdict, ==, v);                                                      \
        g_assert_cmpint(last.reason, ==, why);                                                     \
    } while (0)

/* ---- parse -------------------------------------------------------------- */

static void
test_parse_basic(void)
{
    uint8_t pkt[128];
    struct pf_packet p;
    size_t n = tcp(pkt, PEER1, 1234, ME4, 22, SYN);

    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_cmpuint(p.version, ==, 4);
    g_assert_cmpuint(p.proto, ==, TCP);
    g_assert_cmpuint(p.sport, ==, 1234);
    g_assert_cmpuint(p.dport, ==, 22);
    g_assert_cmpuint(p.tcp_flags, ==, SYN);
    g_assert_cmpuint(p.l4_off, ==, 20);
    g_assert_cmpmem(p.dst, 4, A(ME4).b, 4);
    /* Every truncation is refused, never read past. */
    for (size_t k = 0; k < n; k++)
        g_assert_cmpint(pf_parse(pkt, k, &p), ==, -EINVAL);
    /* WireGuard's padding after the IP length is fine. */
    g_assert_cmpint(pf_parse(pkt, n + 12, &p), ==, 0);
    g_assert_cmpuint(p.ip_len, ==, n);
    /* IHL below 5, total length below IHL: malformed. */
    pkt[0] = 0x44;
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    pkt[0] = 0x46;
    put16(pkt + 2, 22);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    pkt[0] = 0x75;
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);

    n = udp(pkt, P1_6, 53, ME6, 5353);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_cmpuint(p.version, ==, 6);
    g_assert_cmpuint(p.proto, ==, UDP);
    g_assert_cmpuint(p.sport, ==, 53);
    g_assert_cmpuint(p.dport, ==, 5353);
    for (size_t k = 0; k < n; k++)
        g_assert_cmpint(pf_parse(pkt, k, &p), ==, -EINVAL);
}

/* IPv6 with n extension headers of kind nh before a TCP header. */
static size_t
v6_with_ext(uint8_t *out, uint8_t nh, int n)
{
    uint8_t l4[8 * 10 + 20] = { 0 };
    size_t off = 0;

    for (int i = 0; i < n; i++, off += 8)
        l4[off] = i + 1 < n ? nh : TCP; /* next header; length 0 = 8 bytes */
    put16(l4 + off, 999);
    put16(l4 + off + 2, 22);
    l4[off + 13] = SYN;
    ip_packet(out, A(P1_6), A(ME6), n ? nh : TCP, l4, off + 20);
    return 40 + off + 20;
}

static void
test_parse_ext_headers(void)
{
    uint8_t pkt[256];
    struct pf_packet p;
    size_t n;

    for (int k = 1; k <= PF_MAX_EXT_HEADERS; k++) {
        n = v6_with_ext(pkt, 60 /* destination options */, k);
        g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
        g_assert_cmpuint(p.proto, ==, TCP);
        g_assert_cmpuint(p.dport, ==, 22);
        g_assert_cmpuint(p.l4_off, ==, 40 + 8 * k);
    }
    /* One more than the bound: malformed. */
    n = v6_with_ext(pkt, 60, PF_MAX_EXT_HEADERS + 1);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    /* A header whose length runs past the packet. */
    n = v6_with_ext(pkt, 0 /* hop-by-hop */, 1);
    pkt[41] = 10;
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
}

static size_t
v4_fragment(uint8_t *out, uint8_t proto, unsigned offset_blocks, bool more, size_t l4_len)
{
    size_t n = proto_packet(out, PEER2, ME4, proto, l4_len);

    put16(out + 6, (uint16_t)((more ? 0x2000 : 0) | offset_blocks));
    return n;
}

static size_t
v6_fragment(uint8_t *out, unsigned offset_blocks, bool more, size_t l4_len)
{
    uint8_t l4[64] = { 0 };

    l4[0] = TCP;
    put16(l4 + 2, (uint16_t)(offset_blocks << 3 | (more ? 1 : 0)));
    l4[8 + 13] = SYN;
    put16(l4 + 8 + 2, 22);
    return ip_packet(out, A(P2_6), A(ME6), 44, l4, 8 + l4_len);
}

static void
test_parse_fragments(void)
{
    uint8_t pkt[128];
    struct pf_packet p;
    size_t n;

    /* First fragment: must hold the whole transport header. */
    n = v4_fragment(pkt, TCP, 0, true, 20);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_true(p.first_fragment);
    n = v4_fragment(pkt, TCP, 0, true, 12);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    n = v4_fragment(pkt, UDP, 0, true, 4);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    /* Later fragments: past 80 bytes, or junk. */
    n = v4_fragment(pkt, TCP, 10, false, 8);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_cmpuint(p.proto, ==, PF_PROTO_LATER_FRAGMENT);
    n = v4_fragment(pkt, TCP, 9, true, 8);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    /* TSMP is never fragmented. */
    n = v4_fragment(pkt, TSMP, 0, true, 16);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);

    n = v6_fragment(pkt, 0, true, 20);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_cmpuint(p.proto, ==, TCP);
    g_assert_cmpuint(p.dport, ==, 22);
    g_assert_true(p.first_fragment);
    n = v6_fragment(pkt, 0, true, 10);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
    n = v6_fragment(pkt, 10, false, 8);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, 0);
    g_assert_cmpuint(p.proto, ==, PF_PROTO_LATER_FRAGMENT);
    n = v6_fragment(pkt, 2, false, 8);
    g_assert_cmpint(pf_parse(pkt, n, &p), ==, -EINVAL);
}

/* ---- verdicts ----------------------------------------------------------- */

static const struct rule_desc ssh_from_peer1[] = {
    { .srcs = { PEER1 "/32", P1_6 "/128" },
      .dst = ME4 "/32",
      .first = 22,
      .last = 22,
      .protos = { TCP },
      .n_protos = 1 },
    { .srcs = { P1_6 "/128" },
      .dst = ME6 "/128",
      .first = 22,
      .last = 22,
      .protos = { TCP },
      .n_protos = 1 },
};

static void
test_tcp(void)
{
    struct pf_filter *f = build(ssh_from_peer1, 2, NULL);
    uint8_t pkt[128];
    size_t n;

    n = tcp(pkt, PEER1, 40000, ME4, 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    g_assert_cmpint(last.rule, ==, 0);
    g_assert_false(last.reject);
    /* Another source: dropped, and the sender deserves a reject. */
    n = tcp(pkt, PEER2, 40000, ME4, 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_cmpint(last.rule, ==, -1);
    g_assert_true(last.reject);
    /* SYN+RST is judged as a SYN, but a RST is never answered. */
    n = tcp(pkt, PEER2, 40000, ME4, 22, SYN | RST);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_false(last.reject);
    /* The right source, another port: attributed to the source's rule. */
    n = tcp(pkt, PEER1, 40000, ME4, 23, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_cmpint(last.rule, ==, 0);
    g_assert_true(last.reject);
    /* The right port over UDP: the rule is TCP only. */
    n = udp(pkt, PEER1, 40000, ME4, 22);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_false(last.reject);
    /* Without SYN (established, or our own connection's packets): no rule needed. */
    n = tcp(pkt, PEER2, 40000, ME4, 23, ACK);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_TCP_ESTABLISHED);
    n = tcp(pkt, PEER2, 80, ME4, 40000, SYN | ACK);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_TCP_ESTABLISHED);
    n = tcp(pkt, PEER2, 80, ME4, 40000, RST);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_TCP_ESTABLISHED);
    pf_filter_free(f);
}

static void
test_udp_flows(void)
{
    static const struct rule_desc dns_from_peer1[] = {
        { .srcs = { PEER1 "/32" },
          .dst = ME4 "/32",
          .first = 53,
          .last = 53,
          .protos = { UDP },
          .n_protos = 1 },
    };
    struct pf_filter *f = build(dns_from_peer1, 1, NULL), *g;
    struct pf_flows *fl = pf_flows_new(0);
    uint8_t pkt[128];
    size_t n;

    /* PEER2 → us: no rule, no flow. */
    n = udp(pkt, PEER2, 4000, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_false(last.reject);
    /* We send to PEER2 from 5000 to 4000: its replies pass now, others not. */
    n = udp(pkt, ME4, 5000, PEER2, 4000);
    pf_flows_note_outbound(fl, pkt, n, 1);
    g_assert_cmpuint(pf_flows_count(fl), ==, 1);
    n = udp(pkt, PEER2, 4000, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_FLOW);
    n = udp(pkt, PEER2, 4001, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_RULE);
    n = udp(pkt, PEER1, 4000, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_RULE);
    /* Without a flow table: a rule is needed. */
    n = udp(pkt, PEER2, 4000, ME4, 5000);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    /* TCP outbound is not UDP state. */
    n = tcp(pkt, ME4, 6000, PEER2, 7000, SYN);
    pf_flows_note_outbound(fl, pkt, n, 2);
    g_assert_cmpuint(pf_flows_count(fl), ==, 1);

    /* A rule-accepted inbound flow is cached for this filter only. */
    n = udp(pkt, PEER1, 999, ME4, 53);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_RULE);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_FLOW);
    g = build(NULL, 0, NULL);
    ASSERT_VERDICT(g, fl, pkt, n, PF_DROP, PF_R_RULE);
    /* Our own flow survives the new rule set. */
    n = udp(pkt, PEER2, 4000, ME4, 5000);
    ASSERT_VERDICT(g, fl, pkt, n, PF_ACCEPT, PF_R_FLOW);
    pf_filter_free(g);
    pf_filter_free(f);
    pf_flows_free(fl);
}

static void
test_icmp(void)
{
    struct pf_filter *f = build(ssh_from_peer1, 2, NULL);
    uint8_t pkt[128];
    size_t n;

    /* Echo request: any rule with that source and destination (whatever its protocol). */
    n = icmp(pkt, PEER1, ME4, 8, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    n = icmp(pkt, PEER2, ME4, 8, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_false(last.reject);
    /* Echo replies and errors from anyone. */
    n = icmp(pkt, PEER2, ME4, 0, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    n = icmp(pkt, PEER2, ME4, 3, 1);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    n = icmp(pkt, PEER2, ME4, 11, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    /* An echo reply with a non-zero code is not one (Tailscale's IsEchoResponse). */
    n = icmp(pkt, PEER2, ME4, 0, 1);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    /* ICMPv6 likewise. */
    n = icmp(pkt, P1_6, ME6, 128, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    n = icmp(pkt, P2_6, ME6, 128, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    n = icmp(pkt, P2_6, ME6, 129, 0);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    n = icmp(pkt, P2_6, ME6, 2, 0); /* packet too big */
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    pf_filter_free(f);
}

static void
test_other_protocols(void)
{
    static const struct rule_desc rules[] = {
        { .srcs = { PEER1 "/32" },
          .dst = ME4 "/32",
          .first = 0,
          .last = 65535,
          .protos = { GRE },
          .n_protos = 1 },
        { .srcs = { PEER2 "/32" },
          .dst = ME4 "/32",
          .first = 1,
          .last = 65535,
          .protos = { GRE },
          .n_protos = 1 },
    };
    struct pf_filter *f = build(rules, 2, NULL);
    uint8_t pkt[128];
    size_t n;

    n = proto_packet(pkt, PEER1, ME4, GRE, 8);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    /* A rule that does not cover every port does not open a port-less protocol. */
    n = proto_packet(pkt, PEER2, ME4, GRE, 8);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    g_assert_cmpint(last.rule, ==, 1);
    /* TSMP always. */
    n = proto_packet(pkt, PEER2, ME4, TSMP, 8);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_TSMP);
    pf_filter_free(f);
}

static void
test_junk_and_not_local(void)
{
    struct pf_filter *f = build(ssh_from_peer1, 2, NULL);
    uint8_t pkt[128];
    size_t n;

    n = tcp(pkt, PEER1, 1, ME4, 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, 19, PF_DROP_SILENT, PF_R_MALFORMED);
    g_assert_false(last.reject);
    n = udp(pkt, PEER1, 1, "224.0.0.251", 5353);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP_SILENT, PF_R_MULTICAST);
    n = udp(pkt, PEER1, 1, "169.254.1.1", 5353);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP_SILENT, PF_R_MULTICAST);
    n = udp(pkt, P1_6, 1, "ff02::fb", 5353);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP_SILENT, PF_R_MULTICAST);
    n = udp(pkt, P1_6, 1, "fe80::1", 5353);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP_SILENT, PF_R_MULTICAST);
    /* GCP's metadata address is not link-local junk (but not ours either). */
    n = tcp(pkt, PEER1, 1, "169.254.169.254", 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_NOT_LOCAL);
    /* Not ours: dropped even when the rule's port matches, even without SYN. */
    n = tcp(pkt, PEER1, 1, "100.64.0.9", 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_NOT_LOCAL);
    g_assert_true(last.reject);
    n = tcp(pkt, PEER1, 1, "100.64.0.9", 22, ACK);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_NOT_LOCAL);
    /* Later fragments pass; junk fragments do not. */
    n = v4_fragment(pkt, UDP, 100, false, 8);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_FRAGMENT);
    n = v4_fragment(pkt, UDP, 3, false, 8);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP_SILENT, PF_R_MALFORMED);
    /* A first fragment is judged on its ports. */
    n = v6_fragment(pkt, 0, true, 20);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    n = v6_fragment(pkt, 20, false, 20);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_FRAGMENT);
    pf_filter_free(f);
}

static void
test_shields_up(void)
{
    struct opts o = { .shields_up = true };
    struct pf_filter *f = build(ssh_from_peer1, 2, &o);
    struct pf_flows *fl = pf_flows_new(0);
    uint8_t pkt[128];
    size_t n;

    g_assert_true(pf_filter_shields_up(f));
    n = tcp(pkt, PEER1, 40000, ME4, 22, SYN);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_SHIELDS_UP);
    g_assert_true(last.reject);
    n = icmp(pkt, PEER1, ME4, 8, 0);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_SHIELDS_UP);
    /* What we started still works. */
    n = tcp(pkt, PEER1, 22, ME4, 40000, SYN | ACK);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_TCP_ESTABLISHED);
    n = udp(pkt, ME4, 5000, PEER2, 53);
    pf_flows_note_outbound(fl, pkt, n, 1);
    n = udp(pkt, PEER2, 53, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_FLOW);
    n = icmp(pkt, PEER1, ME4, 0, 0);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_ICMP_REPLY);
    pf_filter_free(f);
    pf_flows_free(fl);
}

static void
test_jailed(void)
{
    static const struct rule_desc all[] = {
        { .srcs = { "0.0.0.0/0", "::/0" }, .dst = ME4 "/32", .first = 0, .last = 65535 },
    };
    struct opts o = { .jailed = PEER1 "/32" };
    struct pf_filter *f = build(all, 1, &o);
    struct pf_flows *fl = pf_flows_new(0);
    uint8_t pkt[128];
    size_t n;

    n = tcp(pkt, PEER1, 40000, ME4, 22, SYN);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_JAILED);
    g_assert_true(last.reject);
    n = udp(pkt, PEER1, 40000, ME4, 53);
    ASSERT_VERDICT(f, fl, pkt, n, PF_DROP, PF_R_JAILED);
    n = tcp(pkt, PEER2, 40000, ME4, 22, SYN);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_RULE);
    /* Replies to us from the jailed peer pass. */
    n = udp(pkt, ME4, 5000, PEER1, 53);
    pf_flows_note_outbound(fl, pkt, n, 1);
    n = udp(pkt, PEER1, 53, ME4, 5000);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_FLOW);
    n = tcp(pkt, PEER1, 22, ME4, 40000, ACK);
    ASSERT_VERDICT(f, fl, pkt, n, PF_ACCEPT, PF_R_TCP_ESTABLISHED);
    pf_filter_free(f);
    pf_flows_free(fl);
}

static void
test_default_protos_and_prefixes(void)
{
    static const struct rule_desc rules[] = {
        /* IPProto empty: TCP, UDP, ICMP, ICMPv6. */
        { .srcs = { "100.64.0.0/10" }, .dst = "100.64.0.0/24", .first = 80, .last = 90 },
    };
    struct pf_filter *f = build(rules, 1, NULL);
    uint8_t pkt[128];
    size_t n;

    n = tcp(pkt, "100.100.5.6", 1, ME4, 85, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    n = udp(pkt, "100.127.255.255", 1, ME4, 80);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    n = udp(pkt, "100.128.0.1", 1, ME4, 80); /* outside /10 */
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    n = udp(pkt, "100.64.0.2", 1, ME4, 91);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    n = proto_packet(pkt, PEER1, ME4, SCTP, 12);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    /* A v4 rule never opens IPv6. */
    n = tcp(pkt, P1_6, 1, ME6, 85, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    pf_filter_free(f);
}

static void
test_ipv6(void)
{
    struct pf_filter *f = build(ssh_from_peer1, 2, NULL);
    uint8_t pkt[256];
    size_t n;

    n = tcp(pkt, P1_6, 40000, ME6, 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    g_assert_cmpint(last.rule, ==, 1); /* rule 0 names the source, but for ME4 only */
    n = tcp(pkt, P2_6, 40000, ME6, 22, SYN);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    /* Behind extension headers, the real TCP header decides. */
    n = v6_with_ext(pkt, 60, 3);
    ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
    pkt[24 - 1] = 3; /* source becomes P2_6 */
    ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
    pf_filter_free(f);
}

static void
test_many_rules(void)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix me = P(ME4 "/32"), any = P("0.0.0.0/0");
    struct pf_filter *f;
    uint8_t pkt[128], proto = TCP;
    char src[32];
    size_t n;
    int err;
    gint64 t0;
    enum { N = 1000, LOOPS = 200000 };

    g_assert_cmpint(pf_builder_add_local(b, &me), ==, 0);
    for (int i = 0; i < N; i++) {
        struct ip_prefix s;
        struct pf_dst d = { .net = me,
                            .port_first = (uint16_t)(1000 + i),
                            .port_last = (uint16_t)(1000 + i) };
        struct pf_rule r = { .id = (uint32_t)i,
                             .srcs = &s,
                             .n_srcs = 1,
                             .dsts = &d,
                             .n_dsts = 1,
                             .protos = &proto,
                             .n_protos = 1 };

        g_snprintf(src, sizeof(src), "100.65.%d.%d/32", i / 250, i % 250 + 1);
        s = P(src);
        g_assert_cmpint(pf_builder_add_rule(b, &r), ==, 0);
    }
    {
        /* One broad rule at the end: port 9 from anyone. */
        struct pf_dst d = { .net = me, .port_first = 9, .port_last = 9 };
        struct pf_rule r = { .id = N, .srcs = &any, .n_srcs = 1, .dsts = &d, .n_dsts = 1 };

        g_assert_cmpint(pf_builder_add_rule(b, &r), ==, 0);
    }
    f = pf_builder_finish(b, &err);
    g_assert_nonnull(f);
    g_assert_cmpuint(pf_filter_rule_count(f), ==, N + 1);
    for (int i = 0; i < N; i += 37) {
        g_snprintf(src, sizeof(src), "100.65.%d.%d", i / 250, i % 250 + 1);
        n = tcp(pkt, src, 1, ME4, 1000 + (unsigned)i, SYN);
        ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
        g_assert_cmpint(last.rule, ==, i);
        n = tcp(pkt, src, 1, ME4, 1001 + (unsigned)i, SYN);
        ASSERT_VERDICT(f, NULL, pkt, n, PF_DROP, PF_R_RULE);
        g_assert_cmpint(last.rule, ==, i); /* its own rule, not the broad one */
        n = tcp(pkt, src, 1, ME4, 9, SYN);
        ASSERT_VERDICT(f, NULL, pkt, n, PF_ACCEPT, PF_R_RULE);
        g_assert_cmpint(last.rule, ==, N);
    }
    /* For information only (no test depends on timing). */
    n = tcp(pkt, "100.65.3.200", 1, ME4, 1000 + 949, SYN);
    t0 = g_get_monotonic_time();
    for (int i = 0; i < LOOPS; i++)
        (void)judge(f, NULL, pkt, n);
    g_test_message("new TCP flow against %d rules: %.0f ns", N,
                   (double)(g_get_monotonic_time() - t0) * 1000.0 / LOOPS);
    pf_filter_free(f);
}

static void
test_flows_lru(void)
{
    struct pf_filter *f = build(NULL, 0, NULL);
    struct pf_flows *fl = pf_flows_new(8); /* one set of 8: eviction is exactly LRU */
    uint8_t pkt[128];
    size_t n;

    g_assert_cmpuint(pf_flows_capacity(fl), ==, 8);
    for (unsigned i = 0; i < 8; i++) {
        n = udp(pkt, ME4, 5000 + i, PEER2, 53);
        pf_flows_note_outbound(fl, pkt, n, 10 + i);
    }
    g_assert_cmpuint(pf_flows_count(fl), ==, 8);
    /* Flow 0's reply arrives (touches it); a ninth flow evicts flow 1. */
    n = udp(pkt, PEER2, 53, ME4, 5000);
    g_assert_cmpint(pf_filter_inbound(f, fl, pkt, n, 100, &last), ==, PF_ACCEPT);
    n = udp(pkt, ME4, 6000, PEER2, 53);
    pf_flows_note_outbound(fl, pkt, n, 101);
    g_assert_cmpuint(pf_flows_count(fl), ==, 8);
    n = udp(pkt, PEER2, 53, ME4, 5001);
    g_assert_cmpint(pf_filter_inbound(f, fl, pkt, n, 102, &last), ==, PF_DROP);
    for (unsigned i = 0; i < 8; i++) {
        n = udp(pkt, PEER2, 53, ME4, i == 1 ? 6000 : 5000 + i);
        g_assert_cmpint(pf_filter_inbound(f, fl, pkt, n, 103, &last), ==, PF_ACCEPT);
    }
    pf_flows_free(fl);

    /* The default table: bounded, whatever the number of flows. */
    fl = pf_flows_new(0);
    for (unsigned i = 0; i < 100000; i++) {
        n = udp(pkt, ME4, 1 + i % 60000, i < 60000 ? PEER1 : PEER2, 53);
        pf_flows_note_outbound(fl, pkt, n, i);
    }
    g_assert_cmpuint(pf_flows_count(fl), ==, pf_flows_capacity(fl));
    g_assert_cmpuint(pf_flows_capacity(fl), >=, PF_FLOWS_DEFAULT);
    pf_flows_free(fl);
    pf_filter_free(f);
}

static void
test_stats(void)
{
    struct pf_filter *f = build(ssh_from_peer1, 2, NULL);
    struct pf_stats *s;
    uint8_t pkt[128];
    size_t n;

    n = tcp(pkt, PEER1, 1, ME4, 22, SYN);
    for (int i = 0; i < 3; i++)
        (void)judge(f, NULL, pkt, n);
    n = tcp(pkt, PEER1, 1, ME4, 80, SYN);
    (void)judge(f, NULL, pkt, n);
    n = tcp(pkt, PEER2, 1, ME4, 80, SYN);
    (void)judge(f, NULL, pkt, n);
    (void)judge(f, NULL, pkt, 3);
    s = pf_filter_stats(f);
    g_assert_nonnull(s);
    g_assert_cmpuint(s->n_rules, ==, 2);
    g_assert_cmpuint(s->rules[0].id, ==, 100);
    g_assert_cmpuint(s->rules[0].accepts, ==, 3);
    g_assert_cmpuint(s->rules[0].drops, ==, 1);
    g_assert_cmpuint(s->rules[1].id, ==, 101);
    g_assert_cmpuint(s->rules[1].accepts + s->rules[1].drops, ==, 0);
    g_assert_cmpuint(s->accepts[PF_R_RULE], ==, 3);
    g_assert_cmpuint(s->drops[PF_R_RULE], ==, 2);
    g_assert_cmpuint(s->drops[PF_R_MALFORMED], ==, 1);
    g_assert_false(s->shields_up);
    free(s);
    pf_filter_free(f);
}

static void
test_builder_errors(void)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix none = { 0 }, ok = P(PEER1 "/32");
    struct pf_dst bad_range = { .net = ok, .port_first = 10, .port_last = 9 };
    struct pf_dst good = { .net = ok, .port_first = 1, .port_last = 9 };
    struct pf_rule r = { .srcs = &none, .n_srcs = 1, .dsts = &good, .n_dsts = 1 };

    g_assert_cmpint(pf_builder_add_rule(b, &r), ==, -EINVAL);
    r.srcs = &ok;
    r.dsts = &bad_range;
    g_assert_cmpint(pf_builder_add_rule(b, &r), ==, -EINVAL);
    g_assert_cmpint(pf_builder_add_local(b, &none), ==, -EINVAL);
    pf_builder_free(b);
}

/* ---- rejects ------------------------------------------------------------ */

/* The TCP checksum over pseudo-header + segment (and the IPv4 header's) verify. */
static void
assert_tcp_checksum(const uint8_t *pkt, size_t len)
{
    struct pf_packet p;
    uint32_t acc;
    size_t seg;

    g_assert_cmpint(pf_parse(pkt, len, &p), ==, 0);
    seg = p.ip_len - p.l4_off;
    acc = ref_sum(p.src, p.addr_len, 0);
    acc = ref_sum(p.dst, p.addr_len, acc);
    acc += TCP + (uint32_t)seg;
    g_assert_cmpuint(ref_fold(ref_sum(pkt + p.l4_off, seg, acc)), ==, 0);
    if (p.version == 4)
        g_assert_cmpuint(ref_fold(ref_sum(pkt, 20, 0)), ==, 0);
}

static void
test_reject_rst(void)
{
    uint8_t syn[128], out[PF_REJECT_MAX];
    struct pf_packet p;
    size_t n, m;

    n = tcp(syn, PEER2, 40000, ME4, 22, SYN);
    m = pf_build_tcp_rst(syn, n, out, sizeof(out));
    g_assert_cmpuint(m, ==, 40);
    g_assert_cmpint(pf_parse(out, m, &p), ==, 0);
    g_assert_cmpmem(p.src, 4, A(ME4).b, 4);
    g_assert_cmpmem(p.dst, 4, A(PEER2).b, 4);
    g_assert_cmpuint(p.sport, ==, 22);
    g_assert_cmpuint(p.dport, ==, 40000);
    g_assert_cmpuint(p.tcp_flags, ==, RST | ACK);
    /* SEQ 0, ACK = SYN's seq + 1. */
    g_assert_cmpuint(get16(out + 24) << 16 | get16(out + 26), ==, 0);
    g_assert_cmpuint((uint32_t)get16(out + 28) << 16 | get16(out + 30), ==, 0x12345679);
    assert_tcp_checksum(out, m);

    /* A SYN with 5 bytes of data (TCP Fast Open): ACK covers them. */
    n = tcp(syn, PEER2, 40000, ME4, 22, SYN);
    memcpy(syn + n, "hello", 5);
    put16(syn + 2, (uint16_t)(n + 5));
    m = pf_build_tcp_rst(syn, n + 5, out, sizeof(out));
    g_assert_cmpuint((uint32_t)get16(out + 28) << 16 | get16(out + 30), ==, 0x1234567e);

    n = tcp(syn, P2_6, 40000, ME6, 22, SYN);
    m = pf_build_tcp_rst(syn, n, out, sizeof(out));
    g_assert_cmpuint(m, ==, 60);
    g_assert_cmpint(pf_parse(out, m, &p), ==, 0);
    g_assert_cmpmem(p.dst, 16, A(P2_6).b, 16);
    g_assert_cmpuint(p.tcp_flags, ==, RST | ACK);
    assert_tcp_checksum(out, m);

    /* Only for a bare SYN, and only with room. */
    n = tcp(syn, PEER2, 40000, ME4, 22, SYN | ACK);
    g_assert_cmpuint(pf_build_tcp_rst(syn, n, out, sizeof(out)), ==, 0);
    n = udp(syn, PEER2, 40000, ME4, 22);
    g_assert_cmpuint(pf_build_tcp_rst(syn, n, out, sizeof(out)), ==, 0);
    n = tcp(syn, PEER2, 40000, ME4, 22, SYN);
    g_assert_cmpuint(pf_build_tcp_rst(syn, n, out, 39), ==, 0);
}

static void
test_reject_tsmp(void)
{
    uint8_t syn[128], out[PF_REJECT_MAX];
    /* net/packet/tsmp.go TailscaleRejectedHeader.Marshal: '!', proto, reason, src port, dst port.
     */
    static const uint8_t body[7] = { '!', TCP, 'A', 0x9c, 0x40, 0x00, 0x16 };
    size_t n, m;

    n = tcp(syn, PEER2, 40000, ME4, 22, SYN);
    m = pf_build_tsmp_reject(syn, n, PF_TSMP_ACL, out, sizeof(out));
    g_assert_cmpuint(m, ==, 27);
    g_assert_cmpuint(out[0], ==, 0x45);
    g_assert_cmpuint(get16(out + 2), ==, 27);
    g_assert_cmpuint(out[8], ==, 64);
    g_assert_cmpuint(out[9], ==, TSMP);
    g_assert_cmpmem(out + 12, 4, A(ME4).b, 4);
    g_assert_cmpmem(out + 16, 4, A(PEER2).b, 4);
    g_assert_cmpuint(ref_fold(ref_sum(out, 20, 0)), ==, 0);
    g_assert_cmpmem(out + 20, 7, body, 7);

    n = tcp(syn, P2_6, 40000, ME6, 22, SYN);
    m = pf_build_tsmp_reject(syn, n, PF_TSMP_SHIELDS_UP, out, sizeof(out));
    g_assert_cmpuint(m, ==, 47);
    g_assert_cmpuint(out[6], ==, TSMP);
    g_assert_cmpuint(get16(out + 4), ==, 7);
    g_assert_cmpmem(out + 8, 16, A(ME6).b, 16);
    g_assert_cmpuint(out[42], ==, 'S');
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/filter/parse/basic", test_parse_basic);
    g_test_add_func("/filter/parse/ext-headers", test_parse_ext_headers);
    g_test_add_func("/filter/parse/fragments", test_parse_fragments);
    g_test_add_func("/filter/tcp", test_tcp);
    g_test_add_func("/filter/udp-flows", test_udp_flows);
    g_test_add_func("/filter/icmp", test_icmp);
    g_test_add_func("/filter/other-protocols", test_other_protocols);
    g_test_add_func("/filter/junk-and-not-local", test_junk_and_not_local);
    g_test_add_func("/filter/shields-up", test_shields_up);
    g_test_add_func("/filter/jailed", test_jailed);
    g_test_add_func("/filter/default-protos-and-prefixes", test_default_protos_and_prefixes);
    g_test_add_func("/filter/ipv6", test_ipv6);
    g_test_add_func("/filter/many-rules", test_many_rules);
    g_test_add_func("/filter/flows-lru", test_flows_lru);
    g_test_add_func("/filter/stats", test_stats);
    g_test_add_func("/filter/builder-errors", test_builder_errors);
    g_test_add_func("/filter/reject/rst", test_reject_rst);
    g_test_add_func("/filter/reject/tsmp", test_reject_tsmp);
    return g_test_run();
}
