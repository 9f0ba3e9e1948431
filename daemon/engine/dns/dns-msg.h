/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DNS query parsing (RFC 1035 §4, EDNS0 from RFC 6891) for MagicDNS: what a
 * local stub resolver sends to 100.100.100.100. Sans-I/O, no allocation,
 * every length checked against the buffer, never trusted.
 *
 * A query is accepted when it has a 12-byte header with QR = 0, exactly one
 * question (QDCOUNT = 1), a question name of labels ≤ 63 bytes and ≤ 255 bytes
 * in wire form, and whatever records its other counts announce really
 * present; at most one OPT record, in the additional section, owned by the
 * root. Compression pointers are followed only to an offset strictly before
 * everything read of that name so far (so every name ends: no loops, no
 * forward pointers) and past the header, at most DNS_PTR_HOPS times.
 *
 * A label holding a '.' byte cannot be told apart from two labels in the text
 * form the record table uses (Go's dnsmessage has the same ambiguity):
 * such a query is malformed here (FORMERR).
 */
enum {
    DNS_HEADER_LEN = 12,
    DNS_LABEL_MAX = 63,
    DNS_NAME_WIRE_MAX = 255, /* length bytes + labels + the root's zero */
    DNS_NAME_TEXT_MAX = 253, /* "a.b.c" without the trailing dot */
    DNS_PTR_HOPS = 16,       /* compression pointers followed per name */
    DNS_UDP_MIN = 512,       /* RFC 1035 §4.2.1: without OPT, and the floor of an OPT's size */
    DNS_UDP_MAX = 4096,      /* the ceiling we honour of a client's OPT size */
    DNS_PORT = 53,
};

/* Header flag bits (second 16-bit word, host order). */
enum {
    DNS_FLAG_QR = 0x8000,
    DNS_FLAG_AA = 0x0400,
    DNS_FLAG_TC = 0x0200,
    DNS_FLAG_RD = 0x0100,
    DNS_FLAG_RA = 0x0080,
    DNS_FLAG_AD = 0x0020,
    DNS_FLAG_CD = 0x0010,
};

enum dns_opcode {
    DNS_OPCODE_QUERY = 0,
};

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_BADVERS = 16, /* extended (RFC 6891 §9): needs an OPT in the answer */
};

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_HINFO = 13,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_AXFR = 252,
    DNS_TYPE_ANY = 255,
};

enum {
    DNS_CLASS_IN = 1,
};

/* What dns_query_parse found; the answer to give follows from it. */
enum dns_parse_result {
    DNS_PARSE_OK = 0,  /* a query we can look up */
    DNS_PARSE_DROP,    /* no header, or a response (QR = 1): answer nothing, ever */
    DNS_PARSE_FORMERR, /* header read (id, opcode, RD, CD set), the rest malformed */
    DNS_PARSE_NOTIMP,  /* opcode ≠ QUERY; the question is set when it parsed */
    DNS_PARSE_BADVERS, /* an OPT with EDNS version > 0 (RFC 6891 §6.1.3) */
};

struct dns_query {
    uint16_t id;
    uint16_t flags; /* the header's flag word as received, host order */
    uint8_t opcode;
    bool rd, cd;

    /* The question (valid when has_question). */
    bool has_question;
    uint16_t qtype, qclass;
    /* Normalised: ASCII lowercase, labels joined by '.', no trailing dot;
     * "" is the root. NUL-terminated. */
    char qname[DNS_NAME_TEXT_MAX + 1];
    size_t qname_len;
    /* The question in wire form as received (name decompressed, case kept,
     * then QTYPE and QCLASS): echoed verbatim in the answer, since resolvers
     * that randomise the case of names (DNS 0x20) check it. */
    uint8_t question_wire[DNS_NAME_WIRE_MAX + 4];
    size_t question_wire_len;

    /* EDNS0 (valid with has_opt). */
    bool has_opt;
    bool do_bit;          /* DNSSEC OK, copied into our OPT (RFC 3225 §3) */
    uint8_t edns_version; /* only 0 is answered normally */
    /* The size the client takes over UDP: its OPT's, clamped to
     * DNS_UDP_MIN..DNS_UDP_MAX; DNS_UDP_MIN without an OPT. */
    uint16_t udp_size;
};

/* Parse one DNS message (a UDP payload). Fills *q as far as it got: with
 * FORMERR, NOTIMP and BADVERS at least id, flags, opcode, rd and cd are set,
 * so an error answer can be built (dns-answer.h). */
enum dns_parse_result dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * Read the name at msg[*off] (wire form, compression allowed as above) into
 * text: lowercased when lower, labels joined by '.', no trailing dot,
 * NUL-terminated (text has DNS_NAME_TEXT_MAX + 1 bytes). *off moves past the
 * name as it appears at *off (past its first pointer, if any). wire, when not
 * NULL, receives the decompressed wire form (DNS_NAME_WIRE_MAX bytes) and
 * *wire_len its length. 0, or -EBADMSG when malformed.
 */
int dns_name_read(const uint8_t *msg, size_t len, size_t *off, bool lower,
                  char text[DNS_NAME_TEXT_MAX + 1], size_t *text_len, uint8_t *wire,
                  size_t *wire_len);

/*
 * Normalise a configured name (from the netmap): strip one trailing dot,
 * lowercase ASCII; refuse empty labels, labels > 63 bytes, names > 253 bytes
 * and bytes a query can not carry in our text form ('.' inside a label is
 * not expressible; control bytes and space are refused too). out has
 * DNS_NAME_TEXT_MAX + 1 bytes. Returns the length, or -EINVAL. "" and "." give
 * "" (the root).
 */
int dns_name_normalise(const char *name, size_t len, char out[DNS_NAME_TEXT_MAX + 1]);

/* Text form → wire form (labels, root zero). name is a normalised name.
 * Returns the wire length, or 0 when out (cap bytes) is too small. */
size_t dns_name_to_wire(const char *name, size_t len, uint8_t *out, size_t cap);

/* name equals zone or ends in "." zone (both normalised); "" contains all. */
bool dns_name_is_under(const char *name, size_t len, const char *zone, size_t zone_len);
