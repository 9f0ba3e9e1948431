/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "netmap.h"
#include "common/ip.h"
#include "filter/filter.h"

G_BEGIN_DECLS

/*
 * The tailnet's packet filter (MapResponse.PacketFilter / PacketFilters, kept
 * raw by the netmap) → the engine's inbound filter (daemon/engine/filter/).
 * Three steps, so that each can be tested on its own:
 *
 *  1. hyphae_filter_rules_parse: the FilterRule JSON array → typed rules, as
 *     Tailscale's wgengine/filter/tailcfg.go (MatchesFromFilterRules,
 *     parseIPSet) reads tailcfg.FilterRule:
 *      - SrcIPs / DstPorts[].IP: "*" (0.0.0.0/0 and ::/0), a CIDR whose host
 *        bits are zero, one address, "a-b" (an inclusive range of one family,
 *        a ≤ b, split into the fewest prefixes), or for SrcIPs "cap:NAME";
 *        an entry that does not parse is left out (the rest of the rule
 *        stays) and listed in rejected, as Go skips it;
 *      - IPProto: empty = TCP, UDP, ICMPv4, ICMPv6; numbers outside 0..255
 *        are ignored (Tailscale-reserved);
 *      - a legacy SrcBits entry or DstPorts[].Bits: Go refuses the whole
 *        filter (MatchesFromFilterRules returns nil: nothing is allowed),
 *        and so do we;
 *      - CapGrant (application capabilities, capver 67) says nothing about
 *        packets: a rule with only CapGrant allows no packet;
 *      - strict types: a field of the wrong JSON type, a port outside
 *        0..65535, more than HYPHAE_FILTER_MAX_RULES rules or
 *        HYPHAE_FILTER_MAX_PREFIXES prefixes in all refuse the whole filter
 *        (GError naming the rule and field). Go's decoder would have refused
 *        the whole MapResponse; the netmap has taken it already, so the safe
 *        answer is the same as Go's for an invalid filter: deny everything.
 *  2. hyphae_filter_plan_new: the rules + the netmap + prefs → everything
 *     the engine needs, resolved: "cap:NAME" sources become the single
 *     addresses of the nodes (self included) whose CapMap has NAME and that
 *     are not UnsignedPeerAPIOnly (ipnlocal srcIPHasCapForFilter); the local
 *     nets (our single addresses + the routes we serve); the sources of
 *     IsJailed peers (capver 94: their AllowedIPs, a /0 only for the exit
 *     node in use, with other peers' more specific routes carved out, as
 *     tstun looks the source up by longest prefix; such a peer may answer
 *     our flows but never start one: its own shields-up filter in Go);
 *     ShieldsUp; and deny-all when the filter is invalid.
 *  3. hyphae_filter_plan_build: the plan → a struct pf_filter for
 *     wg_runner_set_filter.
 *
 * What Tailscale does without a filter (ipnlocal updateFilterLocked): with a
 * netmap but no PacketFilter ever sent, filter.New(nil matches) = nothing
 * new may come in (replies to our own flows still pass); before any netmap,
 * NewAllowNone. We follow it: a netmap always gets a filter, "never sent"
 * and "[]" both deny every new inbound flow. (Before the first netmap there
 * is no peer, so the runner needs none.) A filter whose sources reach an
 * UnsignedPeerAPIOnly peer is invalid (packetFilterPermitsUnlockedNodes):
 * deny all, and the plan says why.
 */
#define HYPHAE_FILTER_MAX_RULES    65536
#define HYPHAE_FILTER_MAX_PREFIXES (1u << 20) /* source + destination, after ranges */

typedef struct {
  struct ip_prefix net; /* host bits zero */
  guint16 first;        /* port range, inclusive; first > last matches nothing */
  guint16 last;
} HyphaeFilterDst;

typedef struct {
  guint index;         /* the rule's place in the server's array: its counter */
  GArray *srcs;        /* struct ip_prefix, host bits zero */
  GPtrArray *src_caps; /* char *: capability names of "cap:NAME" sources */
  GArray *dsts;        /* HyphaeFilterDst */
  guint8 protos[32];   /* bit n: IP protocol n */
} HyphaeFilterRule;

typedef struct {
  GPtrArray *rules; /* HyphaeFilterRule *, only those that can match a packet */
  guint n_rules;    /* rules in the server's array */
  char **rejected;  /* entries left out, one message each (NULL-terminated) */
} HyphaeFilterRules;

#define HYPHAE_FILTER_ERROR (hyphae_filter_error_quark ())
GQuark hyphae_filter_error_quark (void);

typedef enum {
  HYPHAE_FILTER_ERROR_INVALID, /* refused whole: types, bounds, legacy bits */
} HyphaeFilterError;

HyphaeFilterRules *hyphae_filter_rules_parse (const char *json,
                                              gsize len,
                                              GError **error);
void hyphae_filter_rules_free (HyphaeFilterRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeFilterRules, hyphae_filter_rules_free)

gboolean hyphae_filter_rule_has_proto (const HyphaeFilterRule *rule,
                                       guint8 proto);

/* Parse one SrcIPs / DstPorts IP entry (not "cap:"): appends its prefixes
 * to out (struct ip_prefix). Exposed for the tests. */
gboolean hyphae_filter_parse_ip_set (const char *s,
                                     GArray *out,
                                     GError **error);

typedef struct {
  gboolean shields_up;
  /* Routes this node serves (the AdvertiseRoutes pref): packets to them are
   * "local" too, so the rules decide who may reach them. */
  const struct ip_prefix *served_routes;
  gsize n_served_routes;
  /* The ExitNodeID pref: only that peer's default route is its own (for
   * jailed sources). NULL or "": none. */
  const char *exit_node_id;
} HyphaeFilterOptions;

typedef struct {
  /* Rules with "cap:" sources resolved (src_caps empty). */
  GPtrArray *rules;    /* HyphaeFilterRule * */
  GArray *local_nets;  /* struct ip_prefix */
  GArray *jailed_srcs; /* struct ip_prefix */
  gboolean shields_up;
  gboolean deny_all;    /* no rule applies: never sent, or invalid (why says which) */
  gboolean invalid;     /* the server's filter was refused (a Health problem) */
  char *why;            /* NULL, or why no rule applies */
  guint n_server_rules; /* for the counters' names */
  char *digest;         /* of all of the above: same digest, same filter */
} HyphaeFilterPlan;

/* rules NULL: never sent (or refused, why_refused then says why). */
HyphaeFilterPlan *hyphae_filter_plan_new (const HyphaeNetmap *nm,
                                          const HyphaeFilterRules *rules,
                                          const char *why_refused,
                                          const HyphaeFilterOptions *options);
void hyphae_filter_plan_free (HyphaeFilterPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeFilterPlan, hyphae_filter_plan_free)

/* The engine's filter for plan (transfer full: for wg_runner_set_filter).
 * deny_all is a filter without rules: replies to our own flows still pass,
 * as with Go's filter.New(nil). Each rule's counters carry its index. */
struct pf_filter *hyphae_filter_plan_build (const HyphaeFilterPlan *plan,
                                            GError **error);

G_END_DECLS
