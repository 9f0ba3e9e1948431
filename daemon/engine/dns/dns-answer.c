/* SPDX-License-Identifier: MIT */
/*
 * DNS answers (dns-answer.h): header, echoed question, A/AAAA/PTR records,
 * SOA for negative answers, OPT; cut to the client's size with TC.
 */
#include "dns/dns-answer.h"

#include <string.h>

#include "common/compiler.h"

/* A bounded writer: once a write does not fit, nothing more is written. */
struct wr {
    uint8_t *p;
    size_t cap, len;
    bool full;
};

static void
put(struct wr *w, const void *src, size_t n)
{
    if (w->full || w->cap - w->len < n) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void
put16(struct wr *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

    put(w, b, 2);
}

static void
put32(struct wr *w, uint32_t v)
{
    put16(w, (uint16_t)(v >> 16));
    put16(w, (uint16_t)v);
}

static void
set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum {
    QNAME_PTR = 0xc000 | DNS_HEADER_LEN, /* the question's name, right after the header */
};

static void
put_header(struct wr *w, const struct dns_query *q, uint8_t rcode)
{
    uint16_t flags = DNS_FLAG_QR | DNS_FLAG_AA | (uint16_t)(q->opcode & 0xf) << 11 | (rcode & 0xf);

    if (q->rd)
        flags |= DNS_FLAG_RD | DNS_FLAG_RA;
    if (q->cd)
        flags |= DNS_FLAG_CD;
    put16(w, q->id);
    put16(w, flags);
    put16(w, q->has_question ? 1 : 0);
    put16(w, 0); /* ANCOUNT, NSCOUNT, ARCOUNT: set once the records are in */
    put16(w, 0);
    put16(w, 0);
    if (q->has_question)
        put(w, q->question_wire, q->question_wire_len);
}

static void
put_rr_head(struct wr *w, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
    put16(w, QNAME_PTR);
    put16(w, type);
    put16(w, DNS_CLASS_IN);
    put32(w, ttl);
    put16(w, rdlen);
}

/* The answer records; returns how many. */
static uint16_t
put_answers(struct wr *w, const struct dns_reply *r)
{
    uint16_t n = 0;

    for (size_t i = 0; i < r->n_addrs && n < UINT16_MAX; i++) {
        const struct ip_addr *a = &r->addrs[i];

        if (a->family == AF_INET) {
            put_rr_head(w, DNS_TYPE_A, DNS_TTL_POSITIVE, 4);
            put(w, a->bytes, 4);
        } else if (a->family == AF_INET6) {
            put_rr_head(w, DNS_TYPE_AAAA, DNS_TTL_POSITIVE, 16);
            put(w, a->bytes, 16);
        } else {
            continue;
        }
        n++;
    }
    if (r->ptr_name) {
        uint8_t name[DNS_NAME_WIRE_MAX];
        size_t len = dns_name_to_wire(r->ptr_name, strlen(r->ptr_name), name, sizeof(name));

        if (len) {
            put_rr_head(w, DNS_TYPE_PTR, DNS_TTL_POSITIVE, (uint16_t)len);
            put(w, name, len);
            n++;
        }
    }
    return n;
}

/* The zone's SOA (tsdns.go marshalSOA: MNAME and RNAME are the zone itself,
 * every timer the negative TTL; the serial is constant, nothing reads it). */
static uint16_t
put_soa(struct wr *w, const char *zone)
{
    uint8_t name[DNS_NAME_WIRE_MAX];
    size_t len = dns_name_to_wire(zone, strlen(zone), name, sizeof(name));
    uint16_t owner = (uint16_t)(0xc000 | w->len);

    if (!len || w->len > 0x3fff)
        return 0;
    put(w, name, len);
    put16(w, DNS_TYPE_SOA);
    put16(w, DNS_CLASS_IN);
    put32(w, DNS_TTL_NEGATIVE);
    put16(w, 2 + 2 + 5 * 4);
    put16(w, owner); /* MNAME */
    put16(w, owner); /* RNAME */
    put32(w, 1);     /* SERIAL */
    for (int i = 0; i < 4; i++)
        put32(w, DNS_TTL_NEGATIVE); /* REFRESH, RETRY, EXPIRE, MINIMUM */
    return 1;
}

static void
put_opt(struct wr *w, const struct dns_query *q, uint8_t rcode)
{
    put(w, "", 1); /* the root */
    put16(w, DNS_TYPE_OPT);
    put16(w, DNS_OUR_UDP_SIZE);
    put(w, (uint8_t[]){ (uint8_t)(rcode >> 4), 0 }, 2); /* extended rcode, version 0 */
    put16(w, q->do_bit ? 0x8000 : 0);
    put16(w, 0);
}

static bool
has_answers(const struct dns_reply *r)
{
    for (size_t i = 0; i < r->n_addrs; i++)
        if (r->addrs[i].family == AF_INET || r->addrs[i].family == AF_INET6)
            return true;
    return r->ptr_name != NULL;
}

/* One attempt at the whole answer; with_records false leaves out the answer
 * and authority sections. Returns the length, 0 when it did not fit. */
static size_t
build(const struct dns_query *q, const struct dns_reply *r, bool with_records, uint8_t *out,
      size_t limit)
{
    struct wr w = { .p = out, .cap = limit };
    uint16_t an = 0, ns = 0;

    put_header(&w, q, r->rcode);
    if (with_records) {
        an = put_answers(&w, r);
        if (an == 0 && r->soa_zone &&
            (r->rcode == DNS_RCODE_NOERROR || r->rcode == DNS_RCODE_NXDOMAIN))
            ns = put_soa(&w, r->soa_zone);
    }
    if (q->has_opt)
        put_opt(&w, q, r->rcode);
    if (w.full)
        return 0;
    set16(out + 6, an);
    set16(out + 8, ns);
    set16(out + 10, q->has_opt ? 1 : 0);
    return w.len;
}

size_t
dns_answer_build(const struct dns_query *q, const struct dns_reply *reply, size_t max_len,
                 uint8_t *out, size_t cap)
{
    size_t limit = MIN(MIN(cap, max_len), (size_t)q->udp_size);
    size_t n = build(q, reply, true, out, limit);

    if (n)
        return n;
    /* Too long for the client: without records, and TC if answers were lost
     * (a lost SOA only loses the negative-caching hint, no TC for it). */
    n = build(q, reply, false, out, limit);
    if (n && has_answers(reply))
        out[2] |= DNS_FLAG_TC >> 8;
    return n;
}

size_t
dns_answer_error(const struct dns_query *q, uint8_t rcode, size_t max_len, uint8_t *out, size_t cap)
{
    struct dns_reply r = { .rcode = rcode };

    return dns_answer_build(q, &r, max_len, out, cap);
}

size_t
dns_answer_fit(uint8_t *msg, size_t len, size_t max_len)
{
    char name[DNS_NAME_TEXT_MAX + 1];
    size_t off = DNS_HEADER_LEN;

    if (len < DNS_HEADER_LEN)
        return 0;
    if (len <= max_len)
        return len;
    if ((msg[4] << 8 | msg[5]) != 1)
        return 0;
    if (dns_name_read(msg, len, &off, false, name, NULL, NULL, NULL) < 0 || len - off < 4)
        return 0;
    off += 4;
    if (off > max_len)
        return 0;
    msg[2] |= DNS_FLAG_TC >> 8;
    memset(msg + 6, 0, 6);
    return off;
}
