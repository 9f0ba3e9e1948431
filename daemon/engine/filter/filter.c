/* SPDX-License-Identifier: MIT */
/* Skeleton: the API compiles; the implementation follows. */
#include "filter/filter.h"

#include <errno.h>
#include <stdlib.h>

struct pf_builder {
    bool shields_up;
};

struct pf_filter {
    bool shields_up;
};

struct pf_flows {
    size_t capacity;
};

struct pf_builder *
pf_builder_new(void)
{
    return calloc(1, sizeof(struct pf_builder));
}

int
pf_builder_add_rule(struct pf_builder *b, const struct pf_rule *rule)
{
    (void)b;
    (void)rule;
    return 0;
}

int
pf_builder_add_local(struct pf_builder *b, const struct ip_prefix *p)
{
    (void)b;
    (void)p;
    return 0;
}

int
pf_builder_add_jailed(struct pf_builder *b, const struct ip_prefix *p)
{
    (void)b;
    (void)p;
    return 0;
}

void
pf_builder_set_shields_up(struct pf_builder *b, bool on)
{
    b->shields_up = on;
}

struct pf_filter *
pf_builder_finish(struct pf_builder *b, int *err)
{
    struct pf_filter *f = calloc(1, sizeof(*f));

    if (!f) {
        *err = -ENOMEM;
    } else {
        f->shields_up = b->shields_up;
    }
    free(b);
    return f;
}

void
pf_builder_free(struct pf_builder *b)
{
    free(b);
}

void
pf_filter_free(struct pf_filter *f)
{
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
    (void)f;
    return 0;
}

enum pf_verdict
pf_filter_inbound(const struct pf_filter *f, struct pf_flows *flows, const uint8_t *pkt, size_t len,
                  uint64_t now_ns, struct pf_result *res)
{
    (void)f;
    (void)flows;
    (void)pkt;
    (void)len;
    (void)now_ns;
    *res = (struct pf_result){ .verdict = PF_ACCEPT, .reason = PF_R_RULE, .rule = -1 };
    return PF_ACCEPT;
}

struct pf_flows *
pf_flows_new(size_t capacity)
{
    struct pf_flows *fl = calloc(1, sizeof(*fl));

    if (fl)
        fl->capacity = capacity ? capacity : PF_FLOWS_DEFAULT;
    return fl;
}

void
pf_flows_free(struct pf_flows *flows)
{
    free(flows);
}

void
pf_flows_note_outbound(struct pf_flows *flows, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    (void)flows;
    (void)pkt;
    (void)len;
    (void)now_ns;
}

size_t
pf_flows_count(struct pf_flows *flows)
{
    (void)flows;
    return 0;
}

size_t
pf_flows_capacity(const struct pf_flows *flows)
{
    return flows->capacity;
}

struct pf_stats *
pf_filter_stats(const struct pf_filter *f)
{
    struct pf_stats *s = calloc(1, sizeof(*s));

    if (s)
        s->shields_up = f->shields_up;
    return s;
}

size_t
pf_build_tcp_rst(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
    (void)pkt;
    (void)len;
    (void)out;
    (void)cap;
    return 0;
}

size_t
pf_build_tsmp_reject(const uint8_t *pkt, size_t len, enum pf_tsmp_reason why, uint8_t *out,
                     size_t cap)
{
    (void)pkt;
    (void)len;
    (void)why;
    (void)out;
    (void)cap;
    return 0;
}

int
pf_parse(const uint8_t *pkt, size_t len, struct pf_packet *out)
{
    (void)pkt;
    (void)len;
    (void)out;
    return -EINVAL;
}
