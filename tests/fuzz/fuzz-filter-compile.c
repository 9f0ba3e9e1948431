/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/ipn/filter-compile.c: the input is a
 * PacketFilter JSON text (what a control server sends), parsed, planned
 * against a small fixed netmap (a peer with a capability, a jailed exit
 * node, in use or not) and
 * built into the engine's filter, which then judges one packet.
 *
 * Invariants: a refused filter has an error naming PacketFilter; an accepted
 * one has n_rules ≤ HYPHAE_FILTER_MAX_RULES, rules in index order below
 * n_rules, each with a destination, a protocol and a source (prefix or cap),
 * every prefix with zero host bits, at most HYPHAE_FILTER_MAX_PREFIXES in
 * all; the plan's rules have no cap left and at least one source; the
 * engine accepts what the plan holds.
 */
#include <stdint.h>
#include <string.h>

#include "filter-compile.h"
#include "fuzz-harness.h"

static HyphaeNetmap *
fixed_netmap (void)
{
  static const char json[] =
    "{\"Node\":{\"ID\":1,\"Name\":\"a.ts.net.\",\"Key\":\"nodekey:"
    "0100000000000000000000000000000000000000000000000000000000000040\","
    "\"Addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"]},"
    "\"Peers\":[{\"ID\":2,\"Name\":\"b.ts.net.\",\"Key\":\"nodekey:"
    "0200000000000000000000000000000000000000000000000000000000000040\","
    "\"Addresses\":[\"100.64.0.2/32\"],\"CapMap\":{\"x\":null}},"
    "{\"ID\":3,\"Name\":\"c.ts.net.\",\"Key\":\"nodekey:"
    "0300000000000000000000000000000000000000000000000000000000000040\","
    "\"StableID\":\"s3\",\"Addresses\":[\"100.64.0.3/32\"],\"IsJailed\":true,"
    "\"AllowedIPs\":[\"100.64.0.3/32\",\"0.0.0.0/0\",\"::/0\"]}]}";
  g_autoptr(HyphaeMapUpdate) up = hyphae_map_update_parse (json, sizeof json - 1, NULL);

  CHECK (up != NULL);
  return hyphae_netmap_apply (NULL, up, 1767225600, NULL);
}

static void
check_masked (const struct ip_prefix *p)
{
  struct ip_prefix m = ip_prefix_masked (p);

  CHECK (ip_prefix_equal (p, &m));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static HyphaeNetmap *nm;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeFilterRules) rules = NULL;
  g_autoptr(HyphaeFilterPlan) plan = NULL;
  /* The first byte's low bits: shields up, the jailed exit node in use. */
  HyphaeFilterOptions opts = {
    .shields_up = size > 0 && (data[0] & 1),
    .exit_node_id = size > 0 && (data[0] & 2) ? "s3" : NULL,
  };
  struct pf_filter *f;
  struct pf_result res;
  gsize total = 0;
  /* A TCP SYN from 100.64.0.2:12345 to 100.64.0.1:22. */
  static const uint8_t syn[40] = {
    0x45,
    0,
    0,
    40,
    0,
    0,
    0,
    0,
    64,
    6,
    0,
    0,
    100,
    64,
    0,
    2,
    100,
    64,
    0,
    1,
    0x30,
    0x39,
    0,
    22,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x50,
    0x02,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
  };

  if (nm == NULL)
    CHECK ((nm = fixed_netmap ()) != NULL);
  rules = hyphae_filter_rules_parse ((const char *) data, size, &error);
  if (rules == NULL)
    {
      CHECK (error != NULL && g_str_has_prefix (error->message, "PacketFilter"));
      plan = hyphae_filter_plan_new (nm, NULL, error->message, &opts);
      CHECK (plan->deny_all && plan->rules->len == 0);
      return 0;
    }
  CHECK (rules->n_rules <= HYPHAE_FILTER_MAX_RULES);
  CHECK (rules->rejected != NULL);
  for (guint i = 0; i < rules->rules->len; i++)
    {
      const HyphaeFilterRule *r = rules->rules->pdata[i];
      gboolean any_proto = FALSE;

      CHECK (r->index < rules->n_rules);
      CHECK (i == 0 || ((HyphaeFilterRule *) rules->rules->pdata[i - 1])->index < r->index);
      CHECK (r->dsts->len > 0 && (r->srcs->len > 0 || r->src_caps->len > 0));
      for (guint p = 0; p < 256; p++)
        any_proto = any_proto || hyphae_filter_rule_has_proto (r, (guint8) p);
      CHECK (any_proto);
      for (guint j = 0; j < r->srcs->len; j++)
        check_masked (&g_array_index (r->srcs, struct ip_prefix, j));
      for (guint j = 0; j < r->dsts->len; j++)
        check_masked (&g_array_index (r->dsts, HyphaeFilterDst, j).net);
      total += r->srcs->len + r->dsts->len;
    }
  CHECK (total <= HYPHAE_FILTER_MAX_PREFIXES);

  plan = hyphae_filter_plan_new (nm, rules, NULL, &opts);
  for (guint i = 0; i < plan->rules->len; i++)
    {
      const HyphaeFilterRule *r = plan->rules->pdata[i];
      CHECK (r->src_caps->len == 0 && r->srcs->len > 0);
    }
  f = hyphae_filter_plan_build (plan, &error);
  CHECK (f != NULL);
  (void) pf_filter_inbound (f, NULL, syn, sizeof syn, 1, &res);
  pf_filter_free (f);
  return 0;
}
