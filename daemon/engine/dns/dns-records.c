/* SPDX-License-Identifier: MIT */
/*
 * MagicDNS's record table (dns-records.h): a builder collecting (name,
 * address) pairs, zones and search domains; dns_table_build lays them out in
 * flat arrays with open-addressing hash indexes, read-only afterwards.
 */
#include "dns/dns-records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns-msg.h"

struct entry {
    uint32_t name_off, name_len; /* into the builder's blob */
    struct ip_addr addr;
    bool ptr_only; /* dns_table_builder_add_ptr: no forward record */
};

struct strlist {
    char **v;
    size_t n, cap;
};

struct dns_table_builder {
    struct entry *entries;
    size_t n_entries, cap_entries;
    char *blob;
    size_t blob_len, blob_cap;
    struct strlist zones, search, subdomain_hosts;
};

struct host {
    uint32_t name_off, name_len;         /* into the table's blob */
    uint32_t v4_off, n_v4, v6_off, n_v6; /* into addrs */
    bool subdomains;                     /* names under it are it too */
};

struct rev_slot {
    struct ip_addr addr;
    uint32_t name; /* offset into the blob + 1; 0: empty */
};

/* A (host, address) pair seen while building, to keep each once. */
struct pair_slot {
    struct ip_addr addr;
    uint32_t host; /* index + 1; 0: empty */
};

struct dns_table {
    char *blob; /* the names, each NUL-terminated */
    struct host *hosts;
    size_t n_hosts;
    struct ip_addr *addrs;
    uint32_t *name_slots; /* host index + 1; 0: empty */
    struct rev_slot *rev_slots;
    size_t mask; /* both indexes have mask + 1 slots */
    struct strlist zones, search;
};

static uint64_t
hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static void
strlist_clear(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int
strlist_add(struct strlist *l, const char *s, size_t max, bool dedupe)
{
    char norm[DNS_NAME_TEXT_MAX + 1];
    int len = dns_name_normalise(s, strlen(s), norm);

    if (len < 0)
        return -EINVAL;
    for (size_t i = 0; dedupe && i < l->n; i++)
        if (strcmp(l->v[i], norm) == 0)
            return 0;
    if (l->n >= max)
        return -E2BIG;
    if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
        return -ENOMEM;
    l->v[l->n] = strdup(norm);
    if (!l->v[l->n])
        return -ENOMEM;
    l->n++;
    return 0;
}

struct dns_table_builder *
dns_table_builder_new(void)
{
    return calloc(1, sizeof(struct dns_table_builder));
}

void
dns_table_builder_free(struct dns_table_builder *b)
{
    if (!b)
        return;
    free(b->entries);
    free(b->blob);
    strlist_clear(&b->zones);
    strlist_clear(&b->search);
    strlist_clear(&b->subdomain_hosts);
    free(b);
}

static int
add_entry(struct dns_table_builder *b, const char *name, const struct ip_addr *addr, bool ptr_only)
{
    char norm[DNS_NAME_TEXT_MAX + 1];
    int len = dns_name_normalise(name, strlen(name), norm);
    struct entry *e;

    if (len <= 0 || (addr->family != AF_INET && addr->family != AF_INET6))
        return -EINVAL;
    if (b->n_entries >= DNS_TABLE_MAX_ADDRS)
        return -E2BIG;
    if (grow((void **)&b->entries, &b->cap_entries, b->n_entries + 1, sizeof(*b->entries)) < 0 ||
        grow((void **)&b->blob, &b->blob_cap, b->blob_len + (size_t)len + 1, 1) < 0)
        return -ENOMEM;
    e = &b->entries[b->n_entries++];
    e->ptr_only = ptr_only;
    e->name_off = (uint32_t)b->blob_len;
    e->name_len = (uint32_t)len;
    /* Only the family's bytes: a caller's stray bytes past an IPv4 address
     * must not make two equal addresses differ. */
    memset(&e->addr, 0, sizeof(e->addr));
    e->addr.family = addr->family;
    memcpy(e->addr.bytes, addr->bytes, addr->family == AF_INET ? 4 : 16);
    memcpy(b->blob + b->blob_len, norm, (size_t)len + 1);
    b->blob_len += (size_t)len + 1;
    return 0;
}

int
dns_table_builder_add(struct dns_table_builder *b, const char *name, const struct ip_addr *addr)
{
    return add_entry(b, name, addr, false);
}

int
dns_table_builder_add_ptr(struct dns_table_builder *b, const char *name, const struct ip_addr *addr)
{
    return add_entry(b, name, addr, true);
}

int
dns_table_builder_add_zone(struct dns_table_builder *b, const char *zone)
{
    return strlist_add(&b->zones, zone, DNS_TABLE_MAX_ZONES, true);
}

int
dns_table_builder_add_tailnet_reverse_zones(struct dns_table_builder *b)
{
    char zone[32];
    int r = strlist_add(&b->zones, "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNS_TABLE_MAX_ZONES, true);

    /* ipnlocal/local.go (dnsConfigForNetmap): 64..127.100.in-addr.arpa. */
    for (int i = 64; i <= 127 && r == 0; i++) {
        snprintf(zone, sizeof(zone), "%d.100.in-addr.arpa", i);
        r = strlist_add(&b->zones, zone, DNS_TABLE_MAX_ZONES, true);
    }
    return r;
}

int
dns_table_builder_add_subdomain_host(struct dns_table_builder *b, const char *name)
{
    return strlist_add(&b->subdomain_hosts, name, DNS_TABLE_MAX_NAMES, false);
}

int
dns_table_builder_add_search(struct dns_table_builder *b, const char *domain)
{
    return strlist_add(&b->search, domain, DNS_TABLE_MAX_SEARCH, true);
}

/* ---- the table ---------------------------------------------------------------- */

static const struct host *
find_host(const struct dns_table *t, const char *name, size_t len)
{
    if (!t->n_hosts)
        return NULL;
    for (size_t i = hash_bytes(name, len) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t h = t->name_slots[i];

        if (h == 0)
            return NULL;
        if (t->hosts[h - 1].name_len == len &&
            memcmp(t->blob + t->hosts[h - 1].name_off, name, len) == 0)
            return &t->hosts[h - 1];
    }
}

static struct rev_slot *
find_rev(const struct dns_table *t, const struct ip_addr *a)
{
    for (size_t i = hash_bytes(a, sizeof(*a)) & t->mask;; i = (i + 1) & t->mask) {
        struct rev_slot *s = &t->rev_slots[i];

        if (s->name == 0 || memcmp(&s->addr, a, sizeof(*a)) == 0)
            return s;
    }
}

/* Index each entry's name: host index per entry in host_of (PTR-only
 * entries have none); the names keep their offsets in the blob. */
static int
index_names(struct dns_table *t, const struct dns_table_builder *b, uint32_t *host_of)
{
    t->blob = malloc(b->blob_len ? b->blob_len : 1);
    if (!t->blob)
        return -ENOMEM;
    if (b->blob_len)
        memcpy(t->blob, b->blob, b->blob_len);
    for (size_t e = 0; e < b->n_entries; e++) {
        const char *name = b->blob + b->entries[e].name_off;
        size_t len = b->entries[e].name_len;
        const struct host *found;

        if (b->entries[e].ptr_only)
            continue;
        found = find_host(t, name, len);
        if (!found) {
            struct host *h = &t->hosts[t->n_hosts];
            size_t i = hash_bytes(name, len) & t->mask;

            h->name_off = b->entries[e].name_off;
            h->name_len = (uint32_t)len;
            while (t->name_slots[i])
                i = (i + 1) & t->mask;
            t->name_slots[i] = (uint32_t)++t->n_hosts;
            found = h;
        }
        host_of[e] = (uint32_t)(found - t->hosts);
    }
    return 0;
}

/* The reverse entry of a, unless an earlier name has it. */
static void
add_reverse(struct dns_table *t, const struct ip_addr *a, uint32_t name_off)
{
    struct rev_slot *r = find_rev(t, a);

    if (r->name == 0) {
        r->addr = *a;
        r->name = name_off + 1;
    }
}

/* Lay each host's addresses out contiguously, v4 then v6, once each
 * ((host, address) pairs are looked up in a scratch set first), and index
 * them in reverse; PTR-only entries last, so forward names win. */
static void
place_addrs(struct dns_table *t, const struct dns_table_builder *b, const uint32_t *host_of,
            struct pair_slot *seen)
{
    size_t off = 0;

    for (size_t e = 0; e < b->n_entries; e++) {
        struct host *h;

        if (b->entries[e].ptr_only)
            continue;
        h = &t->hosts[host_of[e]];

        if (b->entries[e].addr.family == AF_INET)
            h->n_v4++;
        else
            h->n_v6++;
    }
    for (size_t i = 0; i < t->n_hosts; i++) {
        t->hosts[i].v4_off = (uint32_t)off;
        t->hosts[i].v6_off = (uint32_t)(off + t->hosts[i].n_v4);
        off += t->hosts[i].n_v4 + t->hosts[i].n_v6;
        t->hosts[i].n_v4 = t->hosts[i].n_v6 = 0;
    }
    for (size_t e = 0; e < b->n_entries; e++) {
        const struct ip_addr *a = &b->entries[e].addr;
        struct host *h;
        size_t i;

        if (b->entries[e].ptr_only)
            continue;
        h = &t->hosts[host_of[e]];
        i = (hash_bytes(a, sizeof(*a)) ^ (host_of[e] * 0x9e3779b97f4a7c15ULL)) & t->mask;
        for (;; i = (i + 1) & t->mask) {
            if (seen[i].host == 0)
                break;
            if (seen[i].host == host_of[e] + 1 && memcmp(&seen[i].addr, a, sizeof(*a)) == 0)
                goto next;
        }
        seen[i].addr = *a;
        seen[i].host = host_of[e] + 1;
        if (a->family == AF_INET)
            t->addrs[h->v4_off + h->n_v4++] = *a;
        else
            t->addrs[h->v6_off + h->n_v6++] = *a;
        add_reverse(t, a, h->name_off);
    next:;
    }
    for (size_t e = 0; e < b->n_entries; e++)
        if (b->entries[e].ptr_only)
            add_reverse(t, &b->entries[e].addr, b->entries[e].name_off);
}

struct dns_table *
dns_table_build(struct dns_table_builder *b)
{
    struct dns_table *t = calloc(1, sizeof(*t));
    uint32_t *host_of = NULL;
    struct pair_slot *seen = NULL;
    size_t slots = 16;

    if (!t)
        goto fail;
    while (slots < 2 * b->n_entries)
        slots *= 2;
    t->mask = slots - 1;
    t->hosts = calloc(b->n_entries ? b->n_entries : 1, sizeof(*t->hosts));
    t->addrs = calloc(b->n_entries ? b->n_entries : 1, sizeof(*t->addrs));
    t->name_slots = calloc(slots, sizeof(*t->name_slots));
    t->rev_slots = calloc(slots, sizeof(*t->rev_slots));
    host_of = calloc(b->n_entries ? b->n_entries : 1, sizeof(*host_of));
    seen = calloc(slots, sizeof(*seen));
    if (!t->hosts || !t->addrs || !t->name_slots || !t->rev_slots || !host_of || !seen ||
        index_names(t, b, host_of) < 0)
        goto fail;
    place_addrs(t, b, host_of, seen);
    for (size_t i = 0; i < b->subdomain_hosts.n; i++) {
        const char *name = b->subdomain_hosts.v[i];
        struct host *h = (struct host *)find_host(t, name, strlen(name));

        if (h)
            h->subdomains = true;
    }
    t->zones = b->zones;
    t->search = b->search;
    memset(&b->zones, 0, sizeof(b->zones));
    memset(&b->search, 0, sizeof(b->search));
    free(host_of);
    free(seen);
    dns_table_builder_free(b);
    return t;

fail:
    free(host_of);
    free(seen);
    dns_table_free(t);
    dns_table_builder_free(b);
    return NULL;
}

void
dns_table_free(struct dns_table *t)
{
    if (!t)
        return;
    free(t->blob);
    free(t->hosts);
    free(t->addrs);
    free(t->name_slots);
    free(t->rev_slots);
    strlist_clear(&t->zones);
    strlist_clear(&t->search);
    free(t);
}

static void
host_out(const struct dns_table *t, const struct host *h, struct dns_host *out)
{
    out->name = t->blob + h->name_off;
    out->name_len = h->name_len;
    out->v4 = t->addrs + h->v4_off;
    out->n_v4 = h->n_v4;
    out->v6 = t->addrs + h->v6_off;
    out->n_v6 = h->n_v6;
}

bool
dns_table_lookup(const struct dns_table *t, const char *name, size_t len, struct dns_host *out)
{
    const struct host *h = find_host(t, name, len);

    if (h)
        host_out(t, h, out);
    return h != NULL;
}

bool
dns_table_lookup_search(const struct dns_table *t, const char *name, size_t len,
                        struct dns_host *out)
{
    char full[DNS_NAME_TEXT_MAX + 1];

    if (dns_table_lookup(t, name, len, out))
        return true;
    /* The nearest parent whose subdomains resolve to it (tsdns.go resolveLocal). */
    for (size_t i = 0; i < len; i++) {
        const struct host *h;

        if (name[i] != '.')
            continue;
        h = find_host(t, name + i + 1, len - i - 1);
        if (h && h->subdomains) {
            host_out(t, h, out);
            return true;
        }
    }
    if (len == 0 || memchr(name, '.', len))
        return false;
    for (size_t i = 0; i < t->search.n; i++) {
        size_t dlen = strlen(t->search.v[i]);

        if (len + 1 + dlen > DNS_NAME_TEXT_MAX)
            continue;
        memcpy(full, name, len);
        full[len] = '.';
        memcpy(full + len + 1, t->search.v[i], dlen);
        if (dns_table_lookup(t, full, len + 1 + dlen, out))
            return true;
    }
    return false;
}

const char *
dns_table_lookup_addr(const struct dns_table *t, const struct ip_addr *addr)
{
    struct ip_addr a = { .family = addr->family };
    const struct rev_slot *s;

    if (a.family != AF_INET && a.family != AF_INET6)
        return NULL;
    memcpy(a.bytes, addr->bytes, a.family == AF_INET ? 4 : 16);
    s = find_rev(t, &a);

    return s->name ? t->blob + s->name - 1 : NULL;
}

const char *
dns_table_zone_for(const struct dns_table *t, const char *name, size_t len)
{
    const char *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < t->zones.n; i++) {
        size_t zlen = strlen(t->zones.v[i]);

        if ((!best || zlen > best_len) && dns_name_is_under(name, len, t->zones.v[i], zlen)) {
            best = t->zones.v[i];
            best_len = zlen;
        }
    }
    return best;
}

size_t
dns_table_n_names(const struct dns_table *t)
{
    return t->n_hosts;
}
