/* SPDX-License-Identifier: MIT */
/*
 * DNS query parsing (dns-msg.h): header, one question, EDNS0 OPT; names with
 * compression pointers that can only go backwards past everything read.
 */
#include "dns/dns-msg.h"

#include <errno.h>
#include <string.h>

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static char
ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int
dns_name_read(const uint8_t *msg, size_t len, size_t *off, bool lower,
              char text[DNS_NAME_TEXT_MAX + 1], size_t *text_len, uint8_t *wire, size_t *wire_len)
{
    size_t pos = *off, end = 0, floor = *off, wlen = 0, tlen = 0;
    unsigned hops = 0;
    bool jumped = false;

    for (;;) {
        uint8_t l;

        if (pos >= len)
            return -EBADMSG;
        l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            size_t target;

            if (pos + 1 >= len)
                return -EBADMSG;
            target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
            /* Only to bytes before all of this name read so far: every hop
             * lowers the floor, so the walk ends (no loops, no forward jumps). */
            if (target >= floor || target < DNS_HEADER_LEN || ++hops > DNS_PTR_HOPS)
                return -EBADMSG;
            if (!jumped)
                end = pos + 2;
            jumped = true;
            pos = floor = target;
            continue;
        }
        if (l & 0xc0) /* 0x40 and 0x80: extended label types (RFC 6891 §5) */
            return -EBADMSG;
        /* Room for this label and the root's zero byte. */
        if (wlen + 1 + l + (l ? 1 : 0) > DNS_NAME_WIRE_MAX)
            return -EBADMSG;
        if (l == 0) {
            if (wire)
                wire[wlen] = 0;
            wlen++;
            pos++;
            break;
        }
        if (pos + 1 + l > len)
            return -EBADMSG;
        if (tlen) /* the separator; the wire bound keeps tlen ≤ 253 */
            text[tlen++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)msg[pos + 1 + i];

            if (c == '.')
                return -EBADMSG;
            text[tlen++] = lower ? ascii_lower(c) : c;
        }
        if (wire)
            memcpy(wire + wlen, msg + pos, 1 + (size_t)l);
        wlen += 1 + (size_t)l;
        pos += 1 + (size_t)l;
    }
    text[tlen] = '\0';
    if (text_len)
        *text_len = tlen;
    if (wire_len)
        *wire_len = wlen;
    *off = jumped ? end : pos;
    return 0;
}

/* Skip one resource record (name, type, class, TTL, rdata) at *off. */
static int
skip_rr(const uint8_t *msg, size_t len, size_t *off, uint16_t *type)
{
    char text[DNS_NAME_TEXT_MAX + 1];
    size_t rdlen;

    if (dns_name_read(msg, len, off, false, text, NULL, NULL, NULL) < 0)
        return -EBADMSG;
    if (len - *off < 10)
        return -EBADMSG;
    *type = get16(msg + *off);
    rdlen = get16(msg + *off + 8);
    if (len - *off - 10 < rdlen)
        return -EBADMSG;
    *off += 10 + rdlen;
    return 0;
}

/* The OPT record at msg[off] (already bounds-checked by skip_rr). */
static void
read_opt(const uint8_t *msg, size_t off, struct dns_query *q)
{
    /* root name (one zero byte), TYPE, CLASS = UDP size, TTL = ext-rcode,
     * version, flags (DO is the top bit). */
    uint16_t size = get16(msg + off + 3);

    q->has_opt = true;
    q->edns_version = msg[off + 6];
    q->do_bit = (msg[off + 7] & 0x80) != 0;
    q->udp_size = size < DNS_UDP_MIN ? DNS_UDP_MIN : size > DNS_UDP_MAX ? DNS_UDP_MAX : size;
}

enum dns_parse_result
dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q)
{
    uint16_t qd, an, ns, ar;
    size_t off = DNS_HEADER_LEN;

    memset(q, 0, sizeof(*q));
    q->udp_size = DNS_UDP_MIN;
    if (len < DNS_HEADER_LEN)
        return DNS_PARSE_DROP;
    q->id = get16(msg);
    q->flags = get16(msg + 2);
    if (q->flags & DNS_FLAG_QR)
        return DNS_PARSE_DROP;
    q->opcode = (uint8_t)((q->flags >> 11) & 0xf);
    q->rd = (q->flags & DNS_FLAG_RD) != 0;
    q->cd = (q->flags & DNS_FLAG_CD) != 0;
    qd = get16(msg + 4);
    an = get16(msg + 6);
    ns = get16(msg + 8);
    ar = get16(msg + 10);
    if (qd != 1)
        return q->opcode != DNS_OPCODE_QUERY ? DNS_PARSE_NOTIMP : DNS_PARSE_FORMERR;

    if (dns_name_read(msg, len, &off, true, q->qname, &q->qname_len, q->question_wire,
                      &q->question_wire_len) < 0 ||
        len - off < 4)
        goto bad;
    q->qtype = get16(msg + off);
    q->qclass = get16(msg + off + 2);
    memcpy(q->question_wire + q->question_wire_len, msg + off, 4);
    q->question_wire_len += 4;
    off += 4;
    q->has_question = true;

    /* Records a query should not carry are skipped, but must be there. */
    for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
        size_t start = off;
        uint16_t type;

        if (skip_rr(msg, len, &off, &type) < 0)
            goto bad;
        if (type != DNS_TYPE_OPT)
            continue;
        /* One OPT, in the additional section, owned by the root (RFC 6891 §6.1.1). */
        if (i < (unsigned)an + ns || q->has_opt || msg[start] != 0)
            goto bad;
        read_opt(msg, start, q);
    }
    if (q->opcode != DNS_OPCODE_QUERY)
        return DNS_PARSE_NOTIMP;
    if (q->has_opt && q->edns_version != 0)
        return DNS_PARSE_BADVERS;
    return DNS_PARSE_OK;

bad:
    q->has_question = false;
    q->has_opt = false;
    q->do_bit = false;
    q->udp_size = DNS_UDP_MIN;
    return q->opcode != DNS_OPCODE_QUERY ? DNS_PARSE_NOTIMP : DNS_PARSE_FORMERR;
}

int
dns_name_normalise(const char *name, size_t len, char out[DNS_NAME_TEXT_MAX + 1])
{
    size_t label = 0;

    if (len && name[len - 1] == '.')
        len--;
    if (len > DNS_NAME_TEXT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '.') {
            if (label == 0)
                return -EINVAL;
            label = 0;
        } else {
            if (c <= 0x20 || c == 0x7f || ++label > DNS_LABEL_MAX)
                return -EINVAL;
        }
        out[i] = ascii_lower((char)c);
    }
    if (len && label == 0)
        return -EINVAL;
    out[len] = '\0';
    return (int)len;
}

size_t
dns_name_to_wire(const char *name, size_t len, uint8_t *out, size_t cap)
{
    size_t w = 0, start = 0;

    if (len == 0) {
        if (cap < 1)
            return 0;
        out[0] = 0;
        return 1;
    }
    if (len + 2 > cap)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            size_t l = i - start;

            out[w++] = (uint8_t)l;
            memcpy(out + w, name + start, l);
            w += l;
            start = i + 1;
        }
    }
    out[w++] = 0;
    return w;
}

bool
dns_name_is_under(const char *name, size_t len, const char *zone, size_t zone_len)
{
    if (zone_len == 0)
        return true;
    if (len == zone_len)
        return memcmp(name, zone, len) == 0;
    return len > zone_len && name[len - zone_len - 1] == '.' &&
           memcmp(name + len - zone_len, zone, zone_len) == 0;
}
