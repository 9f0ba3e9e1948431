/* SPDX-License-Identifier: MIT */
/*
 * PacketFilter JSON → rules → plan → engine filter (daemon/ipn/filter-compile.c):
 * the IP set forms of Tailscale's wgengine/filter/filter_test.go
 * (TestParseIPSet: the same inputs and expected prefixes), the shapes of its
 * TestMatchesFromFilterRules, the filter of a real tailscale.com MapResponse
 * (tests/data, see NOTICE.md), what refuses a whole filter (types, bounds,
 * legacy SrcBits/Bits), SrcCaps resolved to node addresses, IsJailed peers,
 * UnsignedPeerAPIOnly, and the built filter deciding real packets.
 */
#include <glib.h>
#include <string.h>

#include "filter-compile.h"

static HyphaeNetmap *
netmap_from_json (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) up = hyphae_map_update_parse (json, strlen (json), &error);
  HyphaeNetmap *nm;

  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, up, 1767225600, &error);
  g_assert_no_error (error);
  return nm;
}

static char *
key_text (int n)
{
  GString *s = g_string_new ("nodekey:");

  for (int i = 0; i < 32; i++)
    g_string_append_printf (s, "%02x", i == 0 ? n : i == 31 ? 0x40
                                                            : 0);
  return g_string_free (s, FALSE);
}

/* Node n: 100.64.0.n and fd7a:115c:a1e0::n; extra is spliced into the object. */
static char *
node_json (int n, const char *extra)
{
  g_autofree char *key = key_text (n);

  return g_strdup_printf ("{\"ID\":%d,\"StableID\":\"s%d\",\"Name\":\"n%d.example.ts.net.\",\"Key\":\"%s\","
                          "\"Addresses\":[\"100.64.0.%d/32\",\"fd7a:115c:a1e0::%d/128\"],"
                          "\"MachineAuthorized\":true%s}",
                          n, n, n, key, n, n, extra ? extra : "");
}

/* Self = node 1 (extra1), peers 2 and 3 (extra2, extra3). */
static HyphaeNetmap *
small_netmap (const char *extra1, const char *extra2, const char *extra3)
{
  g_autofree char *n1 = node_json (1, extra1);
  g_autofree char *n2 = node_json (2, extra2);
  g_autofree char *n3 = node_json (3, extra3);
  g_autofree char *json = g_strdup_printf ("{\"Node\":%s,\"Peers\":[%s,%s]}", n1, n2, n3);

  return netmap_from_json (json);
}

static char *
prefixes_text (const GArray *a)
{
  GString *s = g_string_new ("");

  for (guint i = 0; i < a->len; i++)
    {
      char buf[IP_PREFIX_STRLEN];

      ip_prefix_format (&g_array_index (a, struct ip_prefix, i), buf);
      g_string_append_printf (s, "%s%s", i ? " " : "", buf);
    }
  return g_string_free (s, FALSE);
}

static char *
dsts_text (const GArray *a)
{
  GString *s = g_string_new ("");

  for (guint i = 0; i < a->len; i++)
    {
      const HyphaeFilterDst *d = &g_array_index (a, HyphaeFilterDst, i);
      char buf[IP_PREFIX_STRLEN];

      ip_prefix_format (&d->net, buf);
      g_string_append_printf (s, "%s%s:%u-%u", i ? " " : "", buf, d->first, d->last);
    }
  return g_string_free (s, FALSE);
}

static HyphaeFilterRules *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  HyphaeFilterRules *rules = hyphae_filter_rules_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (rules);
  return rules;
}

/* filter_test.go TestParseIPSet, the same inputs and answers. */
static void
test_ip_set (void)
{
  static const struct {
    const char *in, *want, *err;
  } cases[] = {
    { "8.8.8.8", "8.8.8.8/32", NULL },
    { "1::2", "1::2/128", NULL },
    { "8.8.8.0/24", "8.8.8.0/24", NULL },
    { "8.8.8.8/24", NULL, "8.8.8.8/24 contains non-network bits set" },
    { "1.0.0.0-1.255.255.255", "1.0.0.0/8", NULL },
    { "1.0.0.0-2.1.2.3", "1.0.0.0/8 2.0.0.0/16 2.1.0.0/23 2.1.2.0/30", NULL },
    { "1.0.0.2-1.0.0.1", NULL, "invalid IP range \"1.0.0.2-1.0.0.1\"" },
    { "*", "0.0.0.0/0 ::/0", NULL },
    /* Ours: the other edges of ranges and forms. */
    { "0.0.0.0-255.255.255.255", "0.0.0.0/0", NULL },
    { "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", NULL },
    { "2eff::1-2eff::0800", "2eff::1/128 2eff::2/127 2eff::4/126 2eff::8/125 2eff::10/124 2eff::20/123 "
                            "2eff::40/122 2eff::80/121 2eff::100/120 2eff::200/119 2eff::400/118 2eff::800/128",
      NULL },
    { "10.0.0.5-10.0.0.5", "10.0.0.5/32", NULL },
    { "1.2.3.4-::1", NULL, "invalid IP range \"1.2.3.4-::1\"" },
    { "1.2.3.4-5-6", NULL, "invalid IP address \"1.2.3.4-5-6\"" },
    { "", NULL, "invalid IP address \"\"" },
    { "fe80::1%eth0", NULL, "invalid IP address \"fe80::1%eth0\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
      g_autoptr(GError) error = NULL;
      gboolean ok = hyphae_filter_parse_ip_set (cases[i].in, out, &error);

      g_test_message ("%s", cases[i].in);
      if (cases[i].err != NULL)
        {
          g_assert_false (ok);
          g_assert_cmpstr (error->message, ==, cases[i].err);
        }
      else
        {
          g_autofree char *got = prefixes_text (out);

          g_assert_no_error (error);
          g_assert_cmpstr (got, ==, cases[i].want);
        }
    }
}

/* TestMatchesFromFilterRules: implicit protocols, IP "*", explicit ones. */
static void
test_rule_shapes (void)
{
  g_autoptr(HyphaeFilterRules) rules = parse_ok (
    "[{\"SrcIPs\":[\"100.64.1.1\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]},"
    " {\"IPProto\":[6],\"SrcIPs\":[\"100.64.1.1\"],\"DstPorts\":[{\"IP\":\"1.2.0.0/16\",\"Ports\":{\"First\":22,\"Last\":22}}]},"
    " {\"IPProto\":[47,-1,256,1000],\"SrcIPs\":[\"*\"],\"DstPorts\":[{\"IP\":\"100.64.0.1\",\"Ports\":{\"First\":0,\"Last\":65535}}],"
    "  \"Unknown\":{\"x\":[1,2]}}]");
  const HyphaeFilterRule *r0, *r1, *r2;
  g_autofree char *s0 = NULL, *d0 = NULL, *d1 = NULL, *s2 = NULL, *d2 = NULL;

  g_assert_cmpuint (rules->n_rules, ==, 3);
  g_assert_cmpuint (rules->rules->len, ==, 3);
  g_assert_cmpuint (g_strv_length (rules->rejected), ==, 0);
  r0 = rules->rules->pdata[0];
  r1 = rules->rules->pdata[1];
  r2 = rules->rules->pdata[2];
  s0 = prefixes_text (r0->srcs);
  d0 = dsts_text (r0->dsts);
  g_assert_cmpstr (s0, ==, "100.64.1.1/32");
  g_assert_cmpstr (d0, ==, "0.0.0.0/0:22-22 ::/0:22-22");
  for (guint p = 0; p < 256; p++)
    g_assert_cmpint (hyphae_filter_rule_has_proto (r0, (guint8) p), ==, p == 6 || p == 17 || p == 1 || p == 58);
  d1 = dsts_text (r1->dsts);
  g_assert_cmpstr (d1, ==, "1.2.0.0/16:22-22");
  for (guint p = 0; p < 256; p++)
    g_assert_cmpint (hyphae_filter_rule_has_proto (r1, (guint8) p), ==, p == 6);
  /* Numbers outside uint8 are ignored, not an error. */
  for (guint p = 0; p < 256; p++)
    g_assert_cmpint (hyphae_filter_rule_has_proto (r2, (guint8) p), ==, p == 47);
  s2 = prefixes_text (r2->srcs);
  d2 = dsts_text (r2->dsts);
  g_assert_cmpstr (s2, ==, "0.0.0.0/0 ::/0");
  g_assert_cmpstr (d2, ==, "100.64.0.1/32:0-65535");
  g_assert_cmpuint (r2->index, ==, 2);
}

/* Entries that do not parse are left out, named; their rule stays. */
static void
test_rejected_entries (void)
{
  g_autoptr(HyphaeFilterRules) rules = parse_ok (
    "[{\"SrcIPs\":[\"bogus\",\"100.64.0.2\",\"10.0.0.1/8\",null],"
    "  \"DstPorts\":[{\"IP\":\"cap:x\",\"Ports\":{\"First\":1,\"Last\":2}},{\"IP\":\"*\",\"Ports\":{\"First\":80,\"Last\":80}},"
    "               {\"Ports\":{\"First\":1,\"Last\":2}}]},"
    " {\"SrcIPs\":[\"nope\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":1,\"Last\":2}}]},"
    " {\"SrcIPs\":[\"*\"],\"CapGrant\":[{\"Dsts\":[\"100.64.0.1/32\"],\"Caps\":[\"https://tailscale.com/cap/x\"]}]},"
    " null,"
    " {\"SrcIPs\":[\"*\"],\"IPProto\":[],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":9,\"Last\":9}}]}]");
  const HyphaeFilterRule *r;
  g_autofree char *s = NULL, *d = NULL;

  g_assert_cmpuint (rules->n_rules, ==, 5);
  /* Rule 1 lost its only source, rule 2 is CapGrant only, rule 3 is null:
   * none of them can match a packet. */
  g_assert_cmpuint (rules->rules->len, ==, 2);
  r = rules->rules->pdata[0];
  s = prefixes_text (r->srcs);
  d = dsts_text (r->dsts);
  g_assert_cmpstr (s, ==, "100.64.0.2/32");
  g_assert_cmpstr (d, ==, "0.0.0.0/0:80-80 ::/0:80-80");
  g_assert_cmpuint (((HyphaeFilterRule *) rules->rules->pdata[1])->index, ==, 4);
  /* IPProto [] is "empty": the default protocols. */
  g_assert_true (hyphae_filter_rule_has_proto (rules->rules->pdata[1], 58));
  g_assert_cmpuint (g_strv_length (rules->rejected), ==, 6);
  g_assert_cmpstr (rules->rejected[0], ==, "PacketFilter[0].SrcIPs: invalid IP address \"bogus\"");
  g_assert_cmpstr (rules->rejected[1], ==, "PacketFilter[0].SrcIPs: 10.0.0.1/8 contains non-network bits set");
  g_assert_cmpstr (rules->rejected[2], ==, "PacketFilter[0].SrcIPs: invalid IP address \"\"");
  g_assert_cmpstr (rules->rejected[3], ==, "PacketFilter[0].DstPorts.IP: unexpected capability \"x\"");
  g_assert_cmpstr (rules->rejected[4], ==, "PacketFilter[0].DstPorts.IP: invalid IP address \"\"");
  g_assert_cmpstr (rules->rejected[5], ==, "PacketFilter[1].SrcIPs: invalid IP address \"nope\"");
}

/* What refuses the whole filter, and the error names the field. */
static void
test_refused (void)
{
  static const struct {
    const char *json, *err;
  } cases[] = {
    { "{}", "PacketFilter: not an array" },
    { "[1]", "PacketFilter[0]: not an object" },
    { "[{\"SrcIPs\":\"*\"}]", "PacketFilter[0].SrcIPs: not an array of strings" },
    { "[{\"SrcIPs\":[1]}]", "PacketFilter[0].SrcIPs: not an array of strings" },
    { "[{},{\"SrcIPs\":[\"*\"],\"SrcBits\":[32]}]", "PacketFilter[1].SrcBits: legacy field, refused as Tailscale does" },
    { "[{\"DstPorts\":[{\"IP\":\"*\",\"Bits\":32}]}]", "PacketFilter[0].DstPorts.Bits: legacy field, refused as Tailscale does" },
    { "[{\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":1,\"Last\":65536}}]}]",
      "PacketFilter[0].DstPorts.Ports.Last: not a port number (0..65535)" },
    { "[{\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":-1}}]}]",
      "PacketFilter[0].DstPorts.Ports.First: not a port number (0..65535)" },
    { "[{\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":1.5}}]}]",
      "PacketFilter[0].DstPorts.Ports.First: not a port number (0..65535)" },
    { "[{\"DstPorts\":[{\"IP\":7}]}]", "PacketFilter[0].DstPorts.IP: not a string" },
    { "[{\"DstPorts\":{}}]", "PacketFilter[0].DstPorts: not an array" },
    { "[{\"DstPorts\":[{\"Ports\":[]}]}]", "PacketFilter[0].DstPorts.Ports: not an object" },
    { "[{\"IPProto\":[\"tcp\"]}]", "PacketFilter[0].IPProto: not an array of integers" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      HyphaeFilterRules *rules = hyphae_filter_rules_parse (cases[i].json, strlen (cases[i].json), &error);

      g_test_message ("%s", cases[i].json);
      g_assert_null (rules);
      g_assert_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID);
      g_assert_true (g_str_has_prefix (error->message, cases[i].err));
    }
  /* SrcBits [] and null, Bits null: not legacy values, accepted. */
  {
    g_autoptr(HyphaeFilterRules) ok = parse_ok ("[{\"SrcIPs\":[\"*\"],\"SrcBits\":[],\"DstPorts\":[{\"IP\":\"*\",\"Bits\":null}]},"
                                                 " {\"SrcBits\":null}]");
    g_assert_cmpuint (ok->n_rules, ==, 2);
  }
}

/* The bounds: rules, and prefixes after range expansion. */
static void
test_bounds (void)
{
  GString *json = g_string_new ("[");
  g_autoptr(GError) error = NULL;
  HyphaeFilterRules *rules;

  for (guint i = 0; i <= HYPHAE_FILTER_MAX_RULES; i++)
    g_string_append (json, i ? ",{}" : "{}");
  g_string_append (json, "]");
  rules = hyphae_filter_rules_parse (json->str, json->len, &error);
  g_assert_null (rules);
  g_assert_cmpstr (error->message, ==, "PacketFilter: more than 65536 rules");
  g_clear_error (&error);

  /* ::1-ffff:…:fffe expands to 254 prefixes: 4200 of them pass the cap. */
  g_string_assign (json, "[{\"SrcIPs\":[");
  for (guint i = 0; i < 4200; i++)
    g_string_append_printf (json, "%s\"::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe\"", i ? "," : "");
  g_string_append (json, "]}]");
  rules = hyphae_filter_rules_parse (json->str, json->len, &error);
  g_assert_null (rules);
  g_assert_true (g_str_has_prefix (error->message, "PacketFilter[0].SrcIPs: more than 1048576 prefixes"));
  g_string_free (json, TRUE);
}

/* The filter of a real tailscale.com MapResponse: a CapGrant rule (no
 * packets) and two DstPorts rules. */
static void
test_saas_filter (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("HYPHAE_TEST_DATA"), "tailscale-saas-map_response.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) up = NULL;
  g_autoptr(HyphaeNetmap) nm = NULL;
  g_autoptr(HyphaeFilterRules) rules = NULL;
  const char *json;
  const HyphaeFilterRule *r;
  g_autofree char *d = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  up = hyphae_map_update_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, up, 1767225600, &error);
  g_assert_no_error (error);
  json = hyphae_netmap_get_packet_filter_json (nm);
  g_assert_nonnull (json);
  rules = parse_ok (json);
  g_assert_cmpuint (rules->n_rules, ==, 3);
  g_assert_cmpuint (rules->rules->len, ==, 2);
  g_assert_cmpuint (g_strv_length (rules->rejected), ==, 0);
  r = rules->rules->pdata[0];
  g_assert_cmpuint (r->index, ==, 1);
  g_assert_cmpuint (r->srcs->len, ==, 6);
  d = dsts_text (r->dsts);
  g_assert_cmpstr (d, ==, "100.80.60.40/32:0-65535 fd7a:115c:a1e0::b000:1234/128:0-65535");
  r = rules->rules->pdata[1];
  g_assert_cmpuint (r->index, ==, 2);
  g_assert_cmpuint (r->srcs->len, ==, 26);
  g_assert_cmpuint (r->dsts->len, ==, 10); /* 5 port ranges × "*" (two families) */
}

/* SrcCaps become the single addresses of the nodes with the cap (self
 * included, UnsignedPeerAPIOnly peers not); jailed peers' AllowedIPs; the
 * local nets; shields up; the digest follows every input. */
static void
test_plan (void)
{
  g_autoptr(HyphaeNetmap) nm = small_netmap (",\"CapMap\":{\"x:cap\":null}",
                                              ",\"CapMap\":{\"x:cap\":[{\"a\":1}],\"y\":null},\"IsJailed\":true,"
                                              "\"AllowedIPs\":[\"100.64.0.2/32\",\"10.9.0.0/16\"]",
                                              ",\"CapMap\":{\"y\":null}");
  g_autoptr(HyphaeFilterRules) rules = parse_ok (
    "[{\"SrcIPs\":[\"cap:x:cap\",\"10.0.0.0/8\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]},"
    " {\"SrcIPs\":[\"cap:none\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":1,\"Last\":1}}]}]");
  struct ip_prefix served;
  HyphaeFilterOptions opts = { .served_routes = &served, .n_served_routes = 1 };
  g_autoptr(HyphaeFilterPlan) plan = NULL, plan2 = NULL, plan3 = NULL;
  g_autofree char *srcs = NULL, *local = NULL, *jailed = NULL;

  g_assert_true (ip_prefix_parse (&served, "192.168.7.0/24", 14));
  plan = hyphae_filter_plan_new (nm, rules, NULL, &opts);
  g_assert_false (plan->deny_all);
  g_assert_false (plan->shields_up);
  /* The rule naming only a cap nobody has is gone. */
  g_assert_cmpuint (plan->rules->len, ==, 1);
  srcs = prefixes_text (((HyphaeFilterRule *) plan->rules->pdata[0])->srcs);
  g_assert_cmpstr (srcs, ==, "10.0.0.0/8 100.64.0.1/32 fd7a:115c:a1e0::1/128 100.64.0.2/32 fd7a:115c:a1e0::2/128");
  local = prefixes_text (plan->local_nets);
  g_assert_cmpstr (local, ==, "100.64.0.1/32 fd7a:115c:a1e0::1/128 192.168.7.0/24");
  jailed = prefixes_text (plan->jailed_srcs);
  g_assert_cmpstr (jailed, ==, "100.64.0.2/32 10.9.0.0/16");
  g_assert_cmpuint (plan->n_server_rules, ==, 2);

  plan2 = hyphae_filter_plan_new (nm, rules, NULL, &opts);
  g_assert_cmpstr (plan->digest, ==, plan2->digest);
  opts.shields_up = TRUE;
  plan3 = hyphae_filter_plan_new (nm, rules, NULL, &opts);
  g_assert_true (plan3->shields_up);
  g_assert_cmpstr (plan->digest, !=, plan3->digest);
}

/* Never sent, refused, or letting in an UnsignedPeerAPIOnly peer: deny all. */
static void
test_plan_deny_all (void)
{
  g_autoptr(HyphaeNetmap) nm = small_netmap (NULL, ",\"UnsignedPeerAPIOnly\":true,\"CapMap\":{\"c\":null}", NULL);
  g_autoptr(HyphaeFilterRules) wide = parse_ok ("[{\"SrcIPs\":[\"100.64.0.0/10\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]}]");
  g_autoptr(HyphaeFilterRules) narrow = parse_ok (
    "[{\"SrcIPs\":[\"100.64.0.3\",\"cap:c\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]}]");
  g_autoptr(HyphaeFilterPlan) never = hyphae_filter_plan_new (nm, NULL, NULL, NULL);
  g_autoptr(HyphaeFilterPlan) refused = hyphae_filter_plan_new (nm, NULL, "PacketFilter[0]: not an object", NULL);
  g_autoptr(HyphaeFilterPlan) unlocked = hyphae_filter_plan_new (nm, wide, NULL, NULL);
  g_autoptr(HyphaeFilterPlan) fine = hyphae_filter_plan_new (nm, narrow, NULL, NULL);
  g_autofree char *srcs = NULL;

  g_assert_true (never->deny_all);
  g_assert_false (never->invalid);
  g_assert_cmpuint (never->rules->len, ==, 0);
  g_assert_true (refused->deny_all);
  g_assert_true (refused->invalid);
  g_assert_true (unlocked->invalid);
  g_assert_cmpstr (never->digest, !=, refused->digest);
  g_assert_cmpstr (refused->why, ==, "PacketFilter[0]: not an object");
  g_assert_true (unlocked->deny_all);
  g_assert_nonnull (strstr (unlocked->why, "UnsignedPeerAPIOnly"));
  /* Naming only others is fine, and the unsigned peer's cap does not count. */
  g_assert_false (fine->deny_all);
  srcs = prefixes_text (((HyphaeFilterRule *) fine->rules->pdata[0])->srcs);
  g_assert_cmpstr (srcs, ==, "100.64.0.3/32");
}

/* ---- the built filter on real packets ------------------------------------ */

static guint16
csum (const guint8 *p, gsize n)
{
  guint32 sum = 0;

  for (gsize i = 0; i + 1 < n; i += 2)
    sum += (guint32) (p[i] << 8 | p[i + 1]);
  if (n & 1)
    sum += (guint32) p[n - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) ~sum;
}

/* An IPv4 packet from 100.64.0.src to 100.64.0.dst: TCP SYN (proto 6),
 * UDP (17), ICMP echo request (1) or proto with no payload. */
static gsize
pkt4 (guint8 *b, guint8 proto, int src, int dst, guint16 dport, gboolean syn)
{
  gsize l4 = proto == 6 ? 20 : proto == 17 ? 8
                             : proto == 1  ? 8
                                           : 0;
  gsize n = 20 + l4;

  memset (b, 0, n);
  b[0] = 0x45;
  b[2] = (guint8) (n >> 8);
  b[3] = (guint8) n;
  b[8] = 64;
  b[9] = proto;
  b[12] = 100, b[13] = 64, b[14] = 0, b[15] = (guint8) src;
  b[16] = 100, b[17] = 64, b[18] = 0, b[19] = (guint8) dst;
  {
    guint16 c = csum (b, 20);
    b[10] = (guint8) (c >> 8), b[11] = (guint8) c;
  }
  if (proto == 6 || proto == 17)
    {
      b[20] = 0x30, b[21] = 0x39; /* 12345 */
      b[22] = (guint8) (dport >> 8), b[23] = (guint8) dport;
    }
  if (proto == 6)
    {
      b[32] = 5 << 4;
      b[33] = syn ? 0x02 : 0x10;
    }
  if (proto == 17)
    b[25] = 8;
  if (proto == 1)
    b[20] = 8;
  return n;
}

static enum pf_verdict
verdict (struct pf_filter *f, guint8 proto, int src, guint16 dport, gboolean syn)
{
  guint8 b[64];
  gsize n = pkt4 (b, proto, src, 1, dport, syn);
  struct pf_result res;

  return pf_filter_inbound (f, NULL, b, n, 1, &res);
}

static struct pf_filter *
build (HyphaeNetmap *nm, const char *json, gboolean shields_up)
{
  g_autoptr(HyphaeFilterRules) rules = json ? parse_ok (json) : NULL;
  HyphaeFilterOptions opts = { .shields_up = shields_up };
  g_autoptr(HyphaeFilterPlan) plan = hyphae_filter_plan_new (nm, rules, NULL, &opts);
  g_autoptr(GError) error = NULL;
  struct pf_filter *f = hyphae_filter_plan_build (plan, &error);

  g_assert_no_error (error);
  g_assert_nonnull (f);
  return f;
}

/* Port 22 from peer 2 only (by address), a cap rule for peer 3 on port 80;
 * the counters carry the server's rule index. */
static void
test_build (void)
{
  g_autoptr(HyphaeNetmap) nm = small_netmap (NULL, NULL, ",\"CapMap\":{\"web\":null}");
  const char *json = "[{\"SrcIPs\":[\"*\"],\"CapGrant\":[{\"Dsts\":[\"0.0.0.0/0\"],\"Caps\":[\"c\"]}]},"
                     " {\"SrcIPs\":[\"100.64.0.2\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":22,\"Last\":22}}]},"
                     " {\"SrcIPs\":[\"cap:web\"],\"IPProto\":[6],\"DstPorts\":[{\"IP\":\"100.64.0.1\",\"Ports\":{\"First\":80,\"Last\":80}}]}]";
  struct pf_filter *f = build (nm, json, FALSE);
  struct pf_stats *st;

  g_assert_cmpint (verdict (f, 6, 2, 22, TRUE), ==, PF_ACCEPT);
  g_assert_cmpint (verdict (f, 6, 3, 22, TRUE), ==, PF_DROP);
  g_assert_cmpint (verdict (f, 6, 3, 22, FALSE), ==, PF_ACCEPT); /* not a SYN */
  g_assert_cmpint (verdict (f, 6, 3, 80, TRUE), ==, PF_ACCEPT);  /* cap:web */
  g_assert_cmpint (verdict (f, 6, 2, 80, TRUE), ==, PF_DROP);
  g_assert_cmpint (verdict (f, 17, 3, 80, FALSE), ==, PF_DROP); /* cap rule is TCP only */
  g_assert_cmpint (verdict (f, 17, 2, 22, FALSE), ==, PF_ACCEPT);
  g_assert_cmpint (verdict (f, 1, 2, 0, FALSE), ==, PF_ACCEPT); /* ICMP to an open IP */
  g_assert_cmpint (verdict (f, 47, 2, 0, FALSE), ==, PF_DROP);  /* GRE: no rule with all ports */
  st = pf_filter_stats (f);
  g_assert_nonnull (st);
  g_assert_cmpuint (st->n_rules, ==, 2);
  g_assert_cmpuint (st->rules[0].id, ==, 1);
  g_assert_cmpuint (st->rules[1].id, ==, 2);
  g_assert_cmpuint (st->rules[0].accepts, >=, 1);
  free (st);
  pf_filter_free (f);

  /* Shields up: no rule applies. Never sent: the same. */
  f = build (nm, json, TRUE);
  g_assert_cmpint (verdict (f, 6, 2, 22, TRUE), ==, PF_DROP);
  g_assert_cmpint (verdict (f, 6, 2, 22, FALSE), ==, PF_ACCEPT);
  pf_filter_free (f);
  f = build (nm, NULL, FALSE);
  g_assert_cmpint (verdict (f, 6, 2, 22, TRUE), ==, PF_DROP);
  pf_filter_free (f);
}

/* A jailed peer may not start flows, even with a rule for it. */
static void
test_build_jailed (void)
{
  g_autoptr(HyphaeNetmap) nm = small_netmap (NULL, ",\"IsJailed\":true", NULL);
  struct pf_filter *f = build (nm, "[{\"SrcIPs\":[\"*\"],\"DstPorts\":[{\"IP\":\"*\",\"Ports\":{\"First\":0,\"Last\":65535}}]}]", FALSE);

  g_assert_cmpint (verdict (f, 6, 2, 22, TRUE), ==, PF_DROP);
  g_assert_cmpint (verdict (f, 6, 3, 22, TRUE), ==, PF_ACCEPT);
  g_assert_cmpint (verdict (f, 6, 2, 22, FALSE), ==, PF_ACCEPT);
  pf_filter_free (f);
}

static gboolean
in_prefixes (const GArray *a, const char *addr)
{
  struct ip_addr ip;

  g_assert_true (ip_addr_parse (&ip, addr, strlen (addr)));
  for (guint i = 0; i < a->len; i++)
    if (ip_prefix_contains_addr (&g_array_index (a, struct ip_prefix, i), &ip))
      return TRUE;
  return FALSE;
}

/* A jailed exit node (Mullvad's are): its default route jails nobody while
 * it is not the exit node in use; in use, every source but the other peers'
 * (longest prefix wins, as tstun's route lookup). */
static void
test_plan_jailed_exit_node (void)
{
  g_autoptr(HyphaeNetmap) nm = small_netmap (NULL,
                                              ",\"IsJailed\":true,\"AllowedIPs\":[\"100.64.0.2/32\","
                                              "\"fd7a:115c:a1e0::2/128\",\"0.0.0.0/0\",\"::/0\"]",
                                              ",\"AllowedIPs\":[\"100.64.0.3/32\",\"fd7a:115c:a1e0::3/128\",\"10.1.0.0/16\"]");
  HyphaeFilterOptions opts = { 0 };
  g_autoptr(HyphaeFilterPlan) idle = hyphae_filter_plan_new (nm, NULL, NULL, &opts);
  g_autoptr(HyphaeFilterPlan) in_use = NULL;
  g_autofree char *idle_text = prefixes_text (idle->jailed_srcs);
  const char *jailed[] = { "100.64.0.2", "8.8.8.8", "10.2.0.1", "100.64.0.4", "fd7a:115c:a1e0::2", "2001:db8::1" };
  const char *free_srcs[] = { "100.64.0.3", "10.1.2.3", "fd7a:115c:a1e0::3" };

  g_assert_cmpstr (idle_text, ==, "100.64.0.2/32 fd7a:115c:a1e0::2/128");
  opts.exit_node_id = "s2";
  in_use = hyphae_filter_plan_new (nm, NULL, NULL, &opts);
  for (guint i = 0; i < G_N_ELEMENTS (jailed); i++)
    g_assert_true (in_prefixes (in_use->jailed_srcs, jailed[i]));
  for (guint i = 0; i < G_N_ELEMENTS (free_srcs); i++)
    g_assert_false (in_prefixes (in_use->jailed_srcs, free_srcs[i]));
  /* The two own routes; ::/0 minus a /128: 128 prefixes; 0/0 minus a /32
   * and a /16 whose paths part after the first bit: 32 + 16 siblings, less
   * the first one they share and the two that are each other's path. */
  g_assert_cmpuint (in_use->jailed_srcs->len, ==, 2 + 128 + (32 + 16 - 1 - 2));
  g_assert_cmpstr (idle->digest, !=, in_use->digest);
}

/* Many peers' routes spread under a jailed exit node's /0: carving them
 * all out would pass HYPHAE_FILTER_MAX_JAILED prefixes, so that /0 is left
 * out (its ::/0, with few routes inside, stays); the work stays linear. */
static void
test_plan_jailed_budget (void)
{
  GString *json = g_string_new ("{\"Node\":");
  g_autofree char *self = node_json (1, NULL);
  g_autoptr(HyphaeNetmap) nm = NULL;
  g_autoptr(HyphaeFilterPlan) plan = NULL;
  HyphaeFilterOptions opts = { .exit_node_id = "s2" };
  gint64 t0;

  g_string_append_printf (json, "%s,\"Peers\":[", self);
  for (int n = 2; n < 6002; n++)
    {
      /* A subnet route per peer, spread over the IPv4 space. */
      guint32 r = (guint32) ((guint64) n * 2654435761u);
      g_autofree char *key = key_text (n % 256);

      key[10] = "0123456789abcdef"[(n / 256) % 16];
      key[9] = "0123456789abcdef"[n / 4096];
      if (n == 2)
        g_string_append_printf (json, "{\"ID\":2,\"StableID\":\"s2\",\"Key\":\"%s\",\"IsJailed\":true,"
                                      "\"Addresses\":[\"100.64.0.2/32\"],"
                                      "\"AllowedIPs\":[\"100.64.0.2/32\",\"0.0.0.0/0\",\"::/0\"]}",
                                key);
      else
        g_string_append_printf (json, ",{\"ID\":%d,\"StableID\":\"s%d\",\"Key\":\"%s\","
                                      "\"Addresses\":[\"100.65.%d.%d/32\",\"fd7a:115c:a1e0::%x/128\"],"
                                      "\"AllowedIPs\":[\"100.65.%d.%d/32\",\"fd7a:115c:a1e0::%x/128\",\"%u.%u.%u.%u/32\"]}",
                                n, n, key, n / 256, n % 256, n, n / 256, n % 256, n, r >> 24, (r >> 16) & 255,
                                (r >> 8) & 255, r & 255);
    }
  g_string_append (json, "]}");
  nm = netmap_from_json (json->str);
  g_string_free (json, TRUE);
  t0 = g_get_monotonic_time ();
  plan = hyphae_filter_plan_new (nm, NULL, NULL, &opts);
  g_test_message ("plan with 6000 peers' routes under a jailed /0: %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - t0) / 1000);
  g_assert_true (in_prefixes (plan->jailed_srcs, "100.64.0.2"));
  g_assert_false (in_prefixes (plan->jailed_srcs, "8.8.8.8"));
  g_assert_false (in_prefixes (plan->jailed_srcs, "100.65.0.3"));
  g_assert_true (in_prefixes (plan->jailed_srcs, "2001:db8::1"));
  g_assert_false (in_prefixes (plan->jailed_srcs, "fd7a:115c:a1e0::3"));
  g_assert_cmpuint (plan->jailed_srcs->len, <=, 65536);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/filter-compile/ip-set", test_ip_set);
  g_test_add_func ("/filter-compile/rule-shapes", test_rule_shapes);
  g_test_add_func ("/filter-compile/rejected-entries", test_rejected_entries);
  g_test_add_func ("/filter-compile/refused", test_refused);
  g_test_add_func ("/filter-compile/bounds", test_bounds);
  g_test_add_func ("/filter-compile/saas", test_saas_filter);
  g_test_add_func ("/filter-compile/plan", test_plan);
  g_test_add_func ("/filter-compile/plan-deny-all", test_plan_deny_all);
  g_test_add_func ("/filter-compile/plan-jailed-exit-node", test_plan_jailed_exit_node);
  g_test_add_func ("/filter-compile/plan-jailed-budget", test_plan_jailed_budget);
  g_test_add_func ("/filter-compile/build", test_build);
  g_test_add_func ("/filter-compile/build-jailed", test_build_jailed);
  return g_test_run ();
}
