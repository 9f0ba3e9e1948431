/* SPDX-License-Identifier: MIT */
/*
 * engine/filter: any bytes as a packet a peer sent (pf_parse, the inbound
 * verdict against a small rule set with a flow table) and as one we send
 * (pf_flows_note_outbound), then the reject builders. No read past size
 * (ASan; the packet is a heap copy of exactly size bytes), and: what parses
 * stays inside the buffer; a reject is asked for only for a dropped bare TCP
 * SYN, and what the builders write parses back as the answer to it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filter/filter.h"
#include "fuzz-harness.h"

static struct pf_filter *filter;
static struct pf_flows *flows;

static struct ip_prefix
prefix(const char *s)
{
    struct ip_prefix p;

    CHECK(ip_prefix_parse(&p, s, strlen(s)));
    return p;
}

static void
setup(void)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix locals[] = { prefix("100.64.0.1/32"), prefix("fd7a:115c:a1e0::1/128"),
                                  prefix("10.0.0.0/8") };
    struct ip_prefix srcs[] = { prefix("100.64.0.2/32"), prefix("fd7a:115c:a1e0::2/128"),
                                prefix("100.64.0.0/10"), prefix("::/0") };
    struct ip_prefix jailed = prefix("100.64.0.9/32");
    struct pf_dst dsts[] = {
        { .net = prefix("100.64.0.1/32"), .port_first = 22, .port_last = 22 },
        { .net = prefix("fd7a:115c:a1e0::1/128"), .port_first = 0, .port_last = 65535 },
        { .net = prefix("10.0.0.0/8"), .port_first = 53, .port_last = 443 },
    };
    uint8_t gre = 47;
    struct pf_rule rules[] = {
        { .id = 1, .srcs = srcs, .n_srcs = 2, .dsts = dsts, .n_dsts = 2 },
        { .id = 2,
          .srcs = srcs + 2,
          .n_srcs = 2,
          .dsts = dsts + 1,
          .n_dsts = 2,
          .protos = &gre,
          .n_protos = 1 },
        { .id = 3, .srcs = srcs + 2, .n_srcs = 1, .dsts = dsts + 2, .n_dsts = 1 },
    };
    int err = 0;

    CHECK(b);
    for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
        CHECK(pf_builder_add_local(b, &locals[i]) == 0);
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        CHECK(pf_builder_add_rule(b, &rules[i]) == 0);
    CHECK(pf_builder_add_jailed(b, &jailed) == 0);
    filter = pf_builder_finish(b, &err);
    flows = pf_flows_new(64);
    CHECK(filter && flows);
}

static void
check_reject(const uint8_t *syn, size_t size, const struct pf_packet *p)
{
    uint8_t out[PF_REJECT_MAX];
    struct pf_packet r;
    size_t n = pf_build_tcp_rst(syn, size, out, sizeof(out));

    if (n) {
        CHECK(n <= sizeof(out));
        CHECK(pf_parse(out, n, &r) == 0 && r.proto == 6 && r.tcp_flags == (0x04 | 0x10));
        CHECK(r.sport == p->dport && r.dport == p->sport && r.addr_len == p->addr_len);
        CHECK(memcmp(r.src, p->dst, p->addr_len) == 0 && memcmp(r.dst, p->src, p->addr_len) == 0);
    }
    n = pf_build_tsmp_reject(syn, size, PF_TSMP_ACL, out, sizeof(out));
    CHECK(n > 0 && n <= sizeof(out));
    CHECK(pf_parse(out, n, &r) == 0 && r.proto == PF_PROTO_TSMP);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t now;
    uint8_t *pkt = malloc(size ? size : 1);
    struct pf_packet p;
    struct pf_result res;
    enum pf_verdict v;
    bool parsed;

    if (!filter)
        setup();
    CHECK(pkt);
    memcpy(pkt, data, size);
    parsed = pf_parse(pkt, size, &p) == 0;
    if (parsed) {
        CHECK(p.ip_len <= size && p.l4_off <= p.ip_len);
        CHECK(p.src >= pkt && p.dst + p.addr_len <= pkt + size);
    }
    /* As sent by us, then as received (in that order, a UDP reply may pass). */
    pf_flows_note_outbound(flows, pkt, size, ++now);
    v = pf_filter_inbound(filter, flows, pkt, size, ++now, &res);
    CHECK(v == res.verdict && res.reason < PF_R_COUNT);
    CHECK(res.rule >= -1 && res.rule < (int32_t)pf_filter_rule_count(filter));
    CHECK(parsed || v == PF_DROP_SILENT);
    if (res.reject) {
        CHECK(v == PF_DROP && parsed && p.proto == 6 && (p.tcp_flags & 0x16) == 0x02);
        check_reject(pkt, size, &p);
    }
    CHECK(pf_flows_count(flows) <= pf_flows_capacity(flows));
    free(pkt);
    return 0;
}
