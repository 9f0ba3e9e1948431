/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"

/*
 * The inbound packet filter (plain C, sans-I/O, time passed in).
 *
 * Two objects:
 *  - struct pf_filter: a compiled, immutable rule set (rules, local nets,
 *    shields up, jailed sources). Built once per netmap/prefs change with
 *    pf_builder_*, then only read: any number of threads may run
 *    pf_filter_inbound on it at once. Its counters are atomics (see
 *    pf_stats.accepts).
 *  - struct pf_flows: the flow table (our outbound UDP/SCTP flows, whose
 *    replies pass without a rule, and a cache of inbound flows a rule
 *    accepted). Fixed capacity chosen at creation, no allocation per packet,
 *    thread-safe; it outlives filter swaps so a new rule set does not cut
 *    flows we opened.
 *
 * Semantics (Tailscale's wgengine/filter/filter.go RunIn and pre, and
 * net/packet/packet.go Decode, read for this; PROTOCOL.md §6):
 *  - malformed or truncated IP, a first fragment too short for its transport
 *    header, a later fragment at an offset inside the transport header
 *    (< 80 bytes): DROP_SILENT;
 *  - multicast or link-local unicast destination (169.254.169.254 aside):
 *    DROP_SILENT;
 *  - a later fragment (offset >= 80 bytes): ACCEPT (the first fragment carried
 *    the verdict; the receiver's kernel discards orphans);
 *  - destination not in the local nets (our addresses, routes we serve):
 *    DROP;
 *  - TCP without SYN, or SYN+ACK: ACCEPT without any rule lookup (a new
 *    inbound connection cannot start without a bare SYN);
 *  - TSMP (protocol 99): ACCEPT;
 *  - ICMP echo reply and ICMP errors: ACCEPT; other ICMP: ACCEPT when some
 *    rule's sources hold the source and one of its destinations holds the
 *    destination (any protocol, any port: "if any port is open to an IP,
 *    allow ICMP to it");
 *  - UDP and SCTP: ACCEPT when the flow table holds the flow (our outbound
 *    flow reversed, or an inbound flow this same filter accepted), else a
 *    rule matching protocol, source, destination and port;
 *  - other protocols: a rule naming the protocol whose destination covers
 *    all ports (0-65535);
 *  - shields up: no rule applies (every new inbound flow is dropped; flows
 *    we opened still get their replies);
 *  - a jailed source (Node.IsJailed, capver 94) is treated as with shields
 *    up: it may not start flows, replies to ours still pass (Tailscale gives
 *    jailed peers a shields-up filter of their own: ipn/ipnlocal/local.go);
 *  - everything else: DROP.
 *  IPv6 extension headers (hop-by-hop, routing, destination options,
 *  fragment) are walked, at most PF_MAX_EXT_HEADERS of them; more is
 *  malformed. Tailscale drops any IPv6 extension header other than one
 *  fragment header; walking them is a superset that decides on the real
 *  transport header.
 */

struct pf_filter;
struct pf_flows;
struct pf_builder;
struct pf_packet;

enum {
    PF_MAX_EXT_HEADERS = 8,
    PF_FLOWS_DEFAULT = 4096, /* entries; Tailscale keeps 512 (filter.go lruMax) */
    PF_REJECT_MAX = 80,      /* bytes: the largest packet the reject builders write */
    PF_PROTO_TSMP = 99,
};

enum pf_verdict {
    PF_ACCEPT,
    PF_DROP,        /* a policy decision: counted, logged, the sender may be told */
    PF_DROP_SILENT, /* junk (malformed, multicast, link-local): counted, never answered */
};

/* Why a packet was accepted or dropped; counters exist per reason. */
enum pf_reason {
    PF_R_RULE,            /* ACCEPT by a rule, or DROP: no rule allows it */
    PF_R_TCP_ESTABLISHED, /* TCP without a bare SYN */
    PF_R_FLOW,            /* the flow table held the flow */
    PF_R_ICMP_REPLY,      /* ICMP echo reply or error */
    PF_R_TSMP,
    PF_R_FRAGMENT,  /* a later fragment */
    PF_R_NOT_LOCAL, /* destination not ours */
    PF_R_SHIELDS_UP,
    PF_R_JAILED,
    PF_R_MALFORMED,
    PF_R_MULTICAST, /* multicast or link-local destination */
    PF_R_COUNT,
};

/* A destination of a rule: addresses and an inclusive port range (host order).
 * ICMP and port-less protocols: use 0-65535. */
struct pf_dst {
    struct ip_prefix net;
    uint16_t port_first;
    uint16_t port_last;
};

/* One rule (a tailcfg.FilterRule after SrcIPs/DstPorts are resolved to
 * prefixes, SrcCaps to the addresses of the nodes holding the cap). The
 * builder copies everything; prefixes of both families may be mixed (a v4
 * source only ever meets v4 destinations). */
struct pf_rule {
    uint32_t id; /* the caller's, reported back with the counters (e.g. index in PacketFilter) */
    const struct ip_prefix *srcs;
    size_t n_srcs;
    const struct pf_dst *dsts;
    size_t n_dsts;
    /* IP protocol numbers; n_protos == 0: TCP, UDP, ICMPv4 and ICMPv6 (the
     * FilterRule.IPProto default). */
    const uint8_t *protos;
    size_t n_protos;
};

/* ---- building --------------------------------------------------------- */

struct pf_builder *pf_builder_new(void);
/* Copies the rule. 0 or -ENOMEM / -EINVAL (a prefix without family, first > last). */
int pf_builder_add_rule(struct pf_builder *b, const struct pf_rule *rule);
/* Destinations we answer for: our addresses (/32, /128) and routes we serve
 * (subnet routes, 0.0.0.0/0 and ::/0 as an exit node). None: every packet is
 * DROP (NOT_LOCAL). 0 or -errno. */
int pf_builder_add_local(struct pf_builder *b, const struct ip_prefix *p);
/* Sources that may not start flows (addresses of jailed peers). 0 or -errno. */
int pf_builder_add_jailed(struct pf_builder *b, const struct ip_prefix *p);
void pf_builder_set_shields_up(struct pf_builder *b, bool on);
/* Compile; consumes the builder (also on failure). NULL with *err = -errno. */
struct pf_filter *pf_builder_finish(struct pf_builder *b, int *err);
/* Drop a builder without compiling. NULL is fine. */
void pf_builder_free(struct pf_builder *b);

void pf_filter_free(struct pf_filter *f); /* NULL is fine */
bool pf_filter_shields_up(const struct pf_filter *f);
size_t pf_filter_rule_count(const struct pf_filter *f);

/* ---- the data path ----------------------------------------------------- */

struct pf_result {
    enum pf_verdict verdict;
    enum pf_reason reason;
    /* Index (build order) of the rule that accepted the packet, or on DROP
     * (PF_R_RULE) of the first rule whose sources hold the source (the rule
     * the sender fell under but did not satisfy); -1 for none. */
    int32_t rule;
    /* A dropped bare TCP SYN: the sender deserves a reject (pf_build_*). */
    bool reject;
};

/* The verdict for one IP packet a peer sent us (after decryption). flows may
 * be NULL (no flow state). Counts into f's counters. Never allocates. */
enum pf_verdict pf_filter_inbound(const struct pf_filter *f, struct pf_flows *flows,
                                  const uint8_t *pkt, size_t len, uint64_t now_ns,
                                  struct pf_result *res);

/* capacity 0: PF_FLOWS_DEFAULT (rounded up to the table's set size). NULL on ENOMEM. */
struct pf_flows *pf_flows_new(size_t capacity);
void pf_flows_free(struct pf_flows *flows); /* NULL is fine */
/* An IP packet we send to a peer (TX, before sealing): UDP and SCTP flows are
 * remembered (least recently used evicted when full, as Tailscale's
 * flowtrack.Cache) so that the replies pass. Other packets: nothing. */
void pf_flows_note_outbound(struct pf_flows *flows, const uint8_t *pkt, size_t len,
                            uint64_t now_ns);
/* The same for a packet pf_parse accepted (the runner parses once per packet). */
void pf_flows_note_outbound_parsed(struct pf_flows *flows, const struct pf_packet *p,
                                   uint64_t now_ns);
/* Our outbound flows held, and how many fit (the inbound cache of flows a rule
 * accepted is a quarter of that, kept apart so that it never evicts them). */
size_t pf_flows_count(struct pf_flows *flows);
size_t pf_flows_capacity(const struct pf_flows *flows);

/* ---- counters ---------------------------------------------------------- */

struct pf_rule_stats {
    uint32_t id;      /* pf_rule.id */
    uint64_t accepts; /* new flows / packets this rule let in */
    uint64_t drops;   /* packets dropped whose source this rule names (no rule allowed them) */
};

struct pf_stats {
    /* By reason. Counted with a plain (not locked) add: the one per-packet
     * counter; exact with one caller at a time (the runner's RX path), may
     * miss counts with concurrent callers. Everything else is atomic. */
    uint64_t accepts[PF_R_COUNT];
    uint64_t drops[PF_R_COUNT]; /* by reason; drops[PF_R_RULE] = no rule allowed */
    bool shields_up;
    size_t n_rules;
    struct pf_rule_stats rules[]; /* n_rules, build order */
};

/* A snapshot of the counters (relaxed reads, each counter consistent on its
 * own). malloc'd, free() it; NULL on ENOMEM. */
struct pf_stats *pf_filter_stats(const struct pf_filter *f);

/* ---- telling the sender -------------------------------------------------
 * What real tailscaled does with what we send back for a dropped SYN (read in
 * net/tstun/wrap.go filterPacketInboundFromWireGuard, net/packet/tsmp.go and
 * wgengine/pendopen.go trackOpenPreFilterIn):
 *  - a TSMP reject ('!', reason 'A' ACL or 'S' shields up) is consumed by its
 *    open-connection tracker: it logs "open-conn-track: flow ... rejected due
 *    to acl" and drops it. The app's connect() is not told and hangs in SYN
 *    retries until its own timeout. Tailscale sends only this (IPv4 only),
 *    with a TODO to add a RST.
 *  - a TCP RST+ACK (ack = SYN's seq + 1) passes its filter (TCP without SYN)
 *    and reaches its kernel, which fails connect() with ECONNREFUSED at once.
 * So we send both, TSMP first (for the sender's logs) then the RST (so the
 * app fails fast), for IPv4 and IPv6.
 */
enum pf_tsmp_reason {
    PF_TSMP_ACL = 'A',
    PF_TSMP_SHIELDS_UP = 'S',
};

/* For a dropped inbound bare TCP SYN in pkt: write into out the IP packet
 * that goes back to its sender. 0 when pkt is not such a SYN or cap is too
 * small (PF_REJECT_MAX is always enough), else the packet's length. */
size_t pf_build_tcp_rst(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap);
size_t pf_build_tsmp_reject(const uint8_t *pkt, size_t len, enum pf_tsmp_reason why, uint8_t *out,
                            size_t cap);

/* ---- the parser (also the runner's DNS intercept) ----------------------- */

enum {
    PF_PROTO_LATER_FRAGMENT =
        255, /* pf_packet.proto of a non-first fragment (Tailscale's ipproto.Fragment) */
};

struct pf_packet {
    uint8_t version; /* 4 or 6 */
    uint8_t proto; /* transport protocol after IPv6 extension headers, or PF_PROTO_LATER_FRAGMENT */
    uint8_t addr_len;  /* 4 or 16 */
    uint8_t tcp_flags; /* TCP only */
    uint8_t icmp_type; /* ICMP/ICMPv6 only */
    uint8_t icmp_code;
    uint16_t sport, dport; /* host order; TCP, UDP, SCTP only */
    const uint8_t *src;    /* addr_len bytes inside the packet */
    const uint8_t *dst;
    uint16_t l4_off;     /* transport header offset */
    uint16_t ip_len;     /* IP total length (<= the buffer's length) */
    bool first_fragment; /* offset 0 and more fragments follow */
};

/* Parse an IP packet (bounds-checked; never reads past len). 0, or -EINVAL
 * for what pf_filter_inbound calls malformed. */
int pf_parse(const uint8_t *pkt, size_t len, struct pf_packet *out);
