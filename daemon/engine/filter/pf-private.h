/* SPDX-License-Identifier: MIT */
#pragma once

/* Inside the filter only: protocol numbers and the flow table's two halves. */

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "filter/filter.h"

enum {
    PF_PROTO_HOPOPTS = 0,
    PF_PROTO_ICMP4 = 1,
    PF_PROTO_IGMP = 2,
    PF_PROTO_TCP = 6,
    PF_PROTO_UDP = 17,
    PF_PROTO_ROUTING = 43,
    PF_PROTO_FRAGMENT = 44,
    PF_PROTO_ICMP6 = 58,
    PF_PROTO_DSTOPTS = 60,
    PF_PROTO_SCTP = 132,
    PF_TCP_SYN = 0x02,
    PF_TCP_RST = 0x04,
    PF_TCP_ACK = 0x10,
};

/* The flow of an inbound packet (as seen arriving: src = the peer). Unused
 * bytes are zero, so keys compare and hash as five words. */
struct pf_flow_key {
    union {
        struct {
            uint8_t proto;
            uint8_t addr_len;
            uint16_t sport, dport;
            uint8_t pad[2];
            uint8_t src[16], dst[16];
        };
        uint64_t w[5];
    };
};
_Static_assert(sizeof(struct pf_flow_key) == 40, "five words");

void pf_flow_key_inbound(struct pf_flow_key *k, const struct pf_packet *p);
/* Our outbound UDP/SCTP flow (reversed, so it matches the reply), or an
 * inbound one a filter of generation gen accepted (one hash for both). */
bool pf_flows_has(struct pf_flows *fl, const struct pf_flow_key *k, uint64_t gen, uint64_t now_ns);
void pf_flows_note_accepted(struct pf_flows *fl, const struct pf_flow_key *k, uint64_t gen,
                            uint64_t now_ns);
