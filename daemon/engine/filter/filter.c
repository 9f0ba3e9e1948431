/* SPDX-License-Identifier: MIT */
/*
 * Compiled rules and the inbound verdict (filter.h has the semantics).
 *
 * Cost on the fast path: an established TCP packet costs a parse and a
 * local-address probe; a UDP packet of a known flow adds one flow-table probe.
 * Only new flows look at the rules, through a per-source-prefix index (one
 * hash probe per prefix length in use), then the few rules naming that
 * source: 1,000 rules cost what 10 do.
 */
#include "filter/filter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "filter/pf-private.h"
#include "filter/prefix-index.h"

struct crule {
    uint32_t id;
    uint32_t dst_first, n_dsts; /* into pf_filter.dsts */
    uint8_t protos[32];         /* bitmap of IP protocol numbers */
    _Atomic uint64_t accepts, drops;
};

struct pf_filter {
    uint64_t gen; /* unique per filter: tags the inbound flows it accepted */
    bool shields_up;
    size_t n_rules;
    struct crule *rules;
    struct pf_dst *dsts;
    struct pfx_index src4, src6;       /* source prefix -> rule indices */
    struct pfx_index local4, local6;   /* destinations we answer for */
    struct pfx_index jailed4, jailed6; /* sources that may not start flows */
    _Atomic uint64_t accepts[PF_R_COUNT], drops[PF_R_COUNT];
};

struct entries {
    struct pfx_entry *v;
    size_t n, cap;
};

struct pf_builder {
    bool shields_up;
    size_t n_rules, cap_rules;
    struct crule *rules;
    size_t n_dsts, cap_dsts;
    struct pf_dst *dsts;
    struct entries src[2], local[2], jailed[2]; /* [0] IPv4, [1] IPv6 */
};

static _Atomic uint64_t next_gen = 1;

static bool
grow(void **v, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap ? *cap : 8;
    void *p;

    if (need <= *cap)
        return true;
    while (c < need)
        c *= 2;
    p = realloc(*v, c * size);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}

static int
fam_index(const struct ip_prefix *p)
{
    if (p->addr.family == AF_INET && p->bits <= 32)
        return 0;
    if (p->addr.family == AF_INET6 && p->bits <= 128)
        return 1;
    return -1;
}

static int
entries_add(struct entries e[2], const struct ip_prefix *p, uint32_t value)
{
    int f = fam_index(p);

    if (f < 0)
        return -EINVAL;
    if (!grow((void **)&e[f].v, &e[f].cap, e[f].n + 1, sizeof(*e[f].v)))
        return -ENOMEM;
    e[f].v[e[f].n++] = (struct pfx_entry){ .prefix = *p, .value = value };
    return 0;
}

struct pf_builder *
pf_builder_new(void)
{
    return calloc(1, sizeof(struct pf_builder));
}

int
pf_builder_add_rule(struct pf_builder *b, const struct pf_rule *r)
{
    struct crule *c;
    uint32_t idx = (uint32_t)b->n_rules;
    size_t src_mark[2] = { b->src[0].n, b->src[1].n };
    int err;

    for (size_t i = 0; i < r->n_dsts; i++)
        if (fam_index(&r->dsts[i].net) < 0 || r->dsts[i].port_first > r->dsts[i].port_last)
            return -EINVAL;
    if (b->n_rules >= UINT32_MAX - 1 ||
        !grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof(*b->rules)) ||
        !grow((void **)&b->dsts, &b->cap_dsts, b->n_dsts + r->n_dsts, sizeof(*b->dsts)))
        return -ENOMEM;
    for (size_t i = 0; i < r->n_srcs; i++) {
        err = entries_add(b->src, &r->srcs[i], idx);
        if (err < 0) {
            b->src[0].n = src_mark[0]; /* the rule is not added: nor its sources */
            b->src[1].n = src_mark[1];
            return err;
        }
    }
    c = &b->rules[b->n_rules++];
    memset(c, 0, sizeof(*c));
    c->id = r->id;
    c->dst_first = (uint32_t)b->n_dsts;
    c->n_dsts = (uint32_t)r->n_dsts;
    memcpy(b->dsts + b->n_dsts, r->dsts, r->n_dsts * sizeof(*r->dsts));
    for (size_t i = 0; i < r->n_dsts; i++)
        b->dsts[b->n_dsts + i].net = ip_prefix_masked(&r->dsts[i].net);
    b->n_dsts += r->n_dsts;
    if (r->n_protos == 0) {
        static const uint8_t def[] = { PF_PROTO_TCP, PF_PROTO_UDP, PF_PROTO_ICMP4, PF_PROTO_ICMP6 };

        for (size_t i = 0; i < ARRAY_SIZE(def); i++)
            c->protos[def[i] / 8] |= (uint8_t)(1u << (def[i] % 8));
    }
    for (size_t i = 0; i < r->n_protos; i++)
        c->protos[r->protos[i] / 8] |= (uint8_t)(1u << (r->protos[i] % 8));
    return 0;
}

int
pf_builder_add_local(struct pf_builder *b, const struct ip_prefix *p)
{
    return entries_add(b->local, p, 0);
}

int
pf_builder_add_jailed(struct pf_builder *b, const struct ip_prefix *p)
{
    return entries_add(b->jailed, p, 0);
}

void
pf_builder_set_shields_up(struct pf_builder *b, bool on)
{
    b->shields_up = on;
}

void
pf_builder_free(struct pf_builder *b)
{
    if (!b)
        return;
    for (int f = 0; f < 2; f++) {
        free(b->src[f].v);
        free(b->local[f].v);
        free(b->jailed[f].v);
    }
    free(b->rules);
    free(b->dsts);
    free(b);
}

struct pf_filter *
pf_builder_finish(struct pf_builder *b, int *err)
{
    struct pf_filter *f = calloc(1, sizeof(*f));
    int e = -ENOMEM;

    if (!f)
        goto out;
    f->gen = atomic_fetch_add(&next_gen, 1);
    f->shields_up = b->shields_up;
    f->n_rules = b->n_rules;
    f->rules = b->rules;
    f->dsts = b->dsts;
    b->rules = NULL;
    b->dsts = NULL;
    if ((e = pfx_index_build(&f->src4, 4, b->src[0].v, b->src[0].n)) < 0 ||
        (e = pfx_index_build(&f->src6, 16, b->src[1].v, b->src[1].n)) < 0 ||
        (e = pfx_index_build(&f->local4, 4, b->local[0].v, b->local[0].n)) < 0 ||
        (e = pfx_index_build(&f->local6, 16, b->local[1].v, b->local[1].n)) < 0 ||
        (e = pfx_index_build(&f->jailed4, 4, b->jailed[0].v, b->jailed[0].n)) < 0 ||
        (e = pfx_index_build(&f->jailed6, 16, b->jailed[1].v, b->jailed[1].n)) < 0) {
        pf_filter_free(f);
        f = NULL;
    }
out:
    pf_builder_free(b);
    if (!f && err)
        *err = e;
    return f;
}

void
pf_filter_free(struct pf_filter *f)
{
    if (!f)
        return;
    pfx_index_free(&f->src4);
    pfx_index_free(&f->src6);
    pfx_index_free(&f->local4);
    pfx_index_free(&f->local6);
    pfx_index_free(&f->jailed4);
    pfx_index_free(&f->jailed6);
    free(f->rules);
    free(f->dsts);
    free(f);
}

bool
pf_filter_shields_up(const struct pf_filter *f)
{
    return f->shields_up;
}

size_t
pf_filter_rule_count(const struct pf_filter *f)
{
    return f->n_rules;
}

/* ---- matching ----------------------------------------------------------- */

enum match_kind {
    MATCH_PORT,      /* protocol, destination address and port */
    MATCH_IPS_ONLY,  /* destination address, any protocol or port (ICMP) */
    MATCH_ALL_PORTS, /* protocol and a destination covering every port */
};

struct match_ctx {
    const struct pf_filter *f;
    const struct pf_packet *p;
    enum match_kind kind;
    uint32_t accept; /* lowest accepting rule index, UINT32_MAX: none */
    uint32_t first;  /* lowest rule index naming the source */
};

static bool
addr_in(const struct ip_prefix *net, const struct pf_packet *p)
{
    unsigned bits = net->bits, i = 0;

    if ((net->addr.family == AF_INET) != (p->addr_len == 4))
        return false;
    for (; bits >= 8; i++, bits -= 8)
        if (net->addr.bytes[i] != p->dst[i])
            return false;
    return bits == 0 || ((net->addr.bytes[i] ^ p->dst[i]) & (0xff00 >> bits) & 0xff) == 0;
}

static bool
rule_accepts(const struct match_ctx *m, const struct crule *r)
{
    const struct pf_dst *d = m->f->dsts + r->dst_first;

    if (m->kind != MATCH_IPS_ONLY && !(r->protos[m->p->proto / 8] & (1u << (m->p->proto % 8))))
        return false;
    for (uint32_t i = 0; i < r->n_dsts; i++) {
        if (!addr_in(&d[i].net, m->p))
            continue;
        switch (m->kind) {
        case MATCH_IPS_ONLY:
            return true;
        case MATCH_ALL_PORTS:
            if (d[i].port_first == 0 && d[i].port_last == 65535)
                return true;
            break;
        case MATCH_PORT:
            if (m->p->dport >= d[i].port_first && m->p->dport <= d[i].port_last)
                return true;
            break;
        }
    }
    return false;
}

static bool
visit_rules(void *ctx, const uint32_t *idx, uint32_t n)
{
    struct match_ctx *m = ctx;

    for (uint32_t i = 0; i < n; i++) {
        if (idx[i] < m->first)
            m->first = idx[i];
        if (idx[i] < m->accept && rule_accepts(m, &m->f->rules[idx[i]]))
            m->accept = idx[i];
    }
    return false; /* visit every prefix length: the lowest index wins */
}

static void
match_rules(struct match_ctx *m)
{
    const struct pfx_index *ix = m->p->addr_len == 4 ? &m->f->src4 : &m->f->src6;

    m->accept = m->first = UINT32_MAX;
    (void)pfx_index_visit(ix, m->p->src, visit_rules, m);
}

/* ---- the verdict --------------------------------------------------------- */

static bool
dst_multicast_or_link_local(const struct pf_packet *p)
{
    const uint8_t *d = p->dst;

    if (p->addr_len == 4) {
        if ((d[0] & 0xf0) == 0xe0 || (d[0] == 255 && d[1] == 255 && d[2] == 255 && d[3] == 255))
            return true;
        /* 169.254/16, but GCP's metadata DNS (Tailscale's filter.go gcpDNSAddr) */
        return d[0] == 169 && d[1] == 254 && !(d[2] == 169 && d[3] == 254);
    }
    return d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80);
}

static bool
icmp_is_reply_or_error(const struct pf_packet *p)
{
    /* Tailscale's IsEchoResponse and IsError need the 8-byte ICMP header. */
    if (p->ip_len - p->l4_off < 8)
        return false;
    if (p->version == 4)
        return (p->icmp_type == 0 && p->icmp_code == 0) || p->icmp_type == 3 ||
               p->icmp_type == 11 || p->icmp_type == 12;
    return (p->icmp_type == 129 && p->icmp_code == 0) || p->icmp_type == 1 || p->icmp_type == 2 ||
           p->icmp_type == 3 || p->icmp_type == 4;
}

static enum pf_verdict
finish(const struct pf_filter *f, struct pf_result *res, enum pf_verdict v, enum pf_reason why,
       int32_t rule)
{
    res->verdict = v;
    res->reason = why;
    res->rule = rule;
    if (v == PF_ACCEPT) {
        /* The per-packet counter: a plain add, not a locked one (the RX path
         * is one thread at a time; concurrent callers may lose a count). */
        _Atomic uint64_t *c = (_Atomic uint64_t *)&f->accepts[why];

        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (rule >= 0)
            atomic_fetch_add_explicit(&f->rules[rule].accepts, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit((_Atomic uint64_t *)&f->drops[why], 1, memory_order_relaxed);
        if (rule >= 0)
            atomic_fetch_add_explicit(&f->rules[rule].drops, 1, memory_order_relaxed);
    }
    return v;
}

enum pf_verdict
pf_filter_inbound(const struct pf_filter *f, struct pf_flows *flows, const uint8_t *pkt, size_t len,
                  uint64_t now_ns, struct pf_result *res)
{
    struct pf_packet p;
    struct pf_flow_key key;
    struct match_ctx m = { .f = f, .p = &p, .kind = MATCH_PORT };
    bool icmp, syn = false, reject;

    res->reject = false;
    if (pf_parse(pkt, len, &p) < 0)
        return finish(f, res, PF_DROP_SILENT, PF_R_MALFORMED, -1);
    if (dst_multicast_or_link_local(&p))
        return finish(f, res, PF_DROP_SILENT, PF_R_MULTICAST, -1);
    if (p.proto == PF_PROTO_LATER_FRAGMENT)
        return finish(f, res, PF_ACCEPT, PF_R_FRAGMENT, -1);
    if (p.proto == PF_PROTO_TCP)
        syn = (p.tcp_flags & (PF_TCP_SYN | PF_TCP_ACK)) == PF_TCP_SYN;
    /* Never answer a RST (RFC 793), even a SYN+RST. */
    reject = syn && !(p.tcp_flags & PF_TCP_RST);
    if (!pfx_index_contains(p.addr_len == 4 ? &f->local4 : &f->local6, p.dst)) {
        res->reject = reject;
        return finish(f, res, PF_DROP, PF_R_NOT_LOCAL, -1);
    }

    icmp = (p.version == 4 && p.proto == PF_PROTO_ICMP4) ||
           (p.version == 6 && p.proto == PF_PROTO_ICMP6);
    switch (p.proto) {
    case PF_PROTO_TCP:
        if (!syn)
            return finish(f, res, PF_ACCEPT, PF_R_TCP_ESTABLISHED, -1);
        break;
    case PF_PROTO_UDP:
    case PF_PROTO_SCTP:
        if (flows) {
            pf_flow_key_inbound(&key, &p);
            if (pf_flows_has(flows, &key, f->gen, now_ns))
                return finish(f, res, PF_ACCEPT, PF_R_FLOW, -1);
        }
        break;
    case PF_PROTO_TSMP:
        return finish(f, res, PF_ACCEPT, PF_R_TSMP, -1);
    default:
        if (icmp) {
            if (icmp_is_reply_or_error(&p))
                return finish(f, res, PF_ACCEPT, PF_R_ICMP_REPLY, -1);
            m.kind = MATCH_IPS_ONLY;
        } else {
            m.kind = MATCH_ALL_PORTS;
        }
        break;
    }

    /* A new flow. */
    res->reject = reject;
    if (f->shields_up)
        return finish(f, res, PF_DROP, PF_R_SHIELDS_UP, -1);
    if (pfx_index_contains(p.addr_len == 4 ? &f->jailed4 : &f->jailed6, p.src))
        return finish(f, res, PF_DROP, PF_R_JAILED, -1);
    match_rules(&m);
    if (m.accept != UINT32_MAX) {
        res->reject = false;
        if (flows && (p.proto == PF_PROTO_UDP || p.proto == PF_PROTO_SCTP))
            pf_flows_note_accepted(flows, &key, f->gen, now_ns);
        return finish(f, res, PF_ACCEPT, PF_R_RULE, (int32_t)m.accept);
    }
    return finish(f, res, PF_DROP, PF_R_RULE, m.first == UINT32_MAX ? -1 : (int32_t)m.first);
}

struct pf_stats *
pf_filter_stats(const struct pf_filter *f)
{
    struct pf_stats *s = calloc(1, sizeof(*s) + f->n_rules * sizeof(s->rules[0]));

    if (!s)
        return NULL;
    s->shields_up = f->shields_up;
    s->n_rules = f->n_rules;
    for (int i = 0; i < PF_R_COUNT; i++) {
        s->accepts[i] =
            atomic_load_explicit((_Atomic uint64_t *)&f->accepts[i], memory_order_relaxed);
        s->drops[i] = atomic_load_explicit((_Atomic uint64_t *)&f->drops[i], memory_order_relaxed);
    }
    for (size_t i = 0; i < f->n_rules; i++) {
        s->rules[i].id = f->rules[i].id;
        s->rules[i].accepts = atomic_load_explicit(&f->rules[i].accepts, memory_order_relaxed);
        s->rules[i].drops = atomic_load_explicit(&f->rules[i].drops, memory_order_relaxed);
    }
    return s;
}
