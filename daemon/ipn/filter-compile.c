/* SPDX-License-Identifier: MIT */
/*
 * PacketFilter JSON → typed rules → a resolved plan (filter-compile.h).
 * Facts from Tailscale: wgengine/filter/tailcfg.go (MatchesFromFilterRules,
 * parseIPSet), wgengine/filter/filter.go (New, matchesFamily),
 * ipn/ipnlocal/local.go (updateFilterLocked, srcIPHasCapForFilter,
 * packetFilterPermitsUnlockedNodes), net/tstun/wrap.go (jailed filter).
 */
#include "filter-compile.h"

#include <errno.h>
#include <string.h>

#include "json-scan.h"

G_DEFINE_QUARK (hyphae - filter - error - quark, hyphae_filter_error)

/* The protocols of a rule without IPProto (filter/tailcfg.go defaultProtos). */
static const guint8 default_protos[] = { 6, 17, 1, 58 };

static void
rule_free (gpointer p)
{
  HyphaeFilterRule *rule = p;

  g_clear_pointer (&rule->srcs, g_array_unref);
  g_clear_pointer (&rule->src_caps, g_ptr_array_unref);
  g_clear_pointer (&rule->dsts, g_array_unref);
  g_free (rule);
}

static HyphaeFilterRule *
rule_new (guint index)
{
  HyphaeFilterRule *rule = g_new0 (HyphaeFilterRule, 1);

  rule->index = index;
  rule->srcs = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  rule->src_caps = g_ptr_array_new_with_free_func (g_free);
  rule->dsts = g_array_new (FALSE, FALSE, sizeof (HyphaeFilterDst));
  return rule;
}

void
hyphae_filter_rules_free (HyphaeFilterRules *rules)
{
  if (rules == NULL)
    return;
  g_clear_pointer (&rules->rules, g_ptr_array_unref);
  g_strfreev (rules->rejected);
  g_free (rules);
}

gboolean
hyphae_filter_rule_has_proto (const HyphaeFilterRule *rule,
                              guint8 proto)
{
  return (rule->protos[proto / 8] >> (proto % 8)) & 1;
}

static void
rule_add_proto (HyphaeFilterRule *rule,
                guint8 proto)
{
  rule->protos[proto / 8] |= (guint8) (1u << (proto % 8));
}

/* ---- IP sets ------------------------------------------------------------ */

typedef unsigned __int128 u128;

static u128
addr_to_u128 (const struct ip_addr *a)
{
  unsigned n = ip_addr_bitlen (a) / 8;
  u128 v = 0;

  for (unsigned i = 0; i < n; i++)
    v = (v << 8) | a->bytes[i];
  return v;
}

static struct ip_prefix
prefix_from_u128 (int family,
                  u128 v,
                  unsigned bits)
{
  struct ip_prefix p = { .addr.family = (uint8_t) family, .bits = (uint8_t) bits };
  unsigned n = family == AF_INET ? 4 : 16;

  for (unsigned i = n; i-- > 0;)
    {
      p.addr.bytes[i] = (uint8_t) v;
      v >>= 8;
    }
  return p;
}

/* The fewest prefixes covering [lo, hi] exactly (netipx.IPRange.Prefixes):
 * from lo, the widest aligned block that does not pass hi, again. */
static void
range_to_prefixes (const struct ip_addr *from,
                   const struct ip_addr *to,
                   GArray *out)
{
  unsigned width = ip_addr_bitlen (from);
  u128 lo = addr_to_u128 (from), hi = addr_to_u128 (to);

  for (;;)
    {
      unsigned host = 0;
      u128 size;

      /* Grow the block while lo stays aligned to it and it stays ≤ hi. */
      while (host < width)
        {
          u128 next = (u128) 1 << host; /* the block of host + 1 bits is next * 2 */
          u128 mask = (next << 1) - 1;

          if (host + 1 == 128)
            mask = ~(u128) 0;
          if ((lo & mask) != 0 || hi - lo < mask)
            break;
          host++;
        }
      {
        struct ip_prefix p = prefix_from_u128 (from->family, lo, width - host);
        g_array_append_val (out, p);
      }
      size = host == 128 ? 0 : (u128) 1 << host;
      if (host == 128 || hi - lo < size) /* that block ended at hi */
        break;
      lo += size;
    }
}

gboolean
hyphae_filter_parse_ip_set (const char *s,
                            GArray *out,
                            GError **error)
{
  gsize len = strlen (s);
  const char *dash;

  if (strcmp (s, "*") == 0)
    {
      struct ip_prefix v4 = { .addr.family = AF_INET }, v6 = { .addr.family = AF_INET6 };

      g_array_append_val (out, v4);
      g_array_append_val (out, v6);
      return TRUE;
    }
  if (strchr (s, '/') != NULL)
    {
      struct ip_prefix p, masked;

      if (!ip_prefix_parse (&p, s, len))
        goto bad;
      masked = ip_prefix_masked (&p);
      if (!ip_prefix_equal (&p, &masked))
        {
          g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID,
                       "%s contains non-network bits set", s);
          return FALSE;
        }
      g_array_append_val (out, p);
      return TRUE;
    }
  dash = strchr (s, '-');
  if (dash != NULL && strchr (dash + 1, '-') == NULL)
    {
      struct ip_addr a, b;

      if (!ip_addr_parse (&a, s, (gsize) (dash - s)) || !ip_addr_parse (&b, dash + 1, strlen (dash + 1)))
        goto bad;
      if (a.family != b.family || memcmp (a.bytes, b.bytes, 16) > 0)
        {
          g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID, "invalid IP range \"%s\"", s);
          return FALSE;
        }
      range_to_prefixes (&a, &b, out);
      return TRUE;
    }
  {
    struct ip_prefix p = { 0 };

    if (!ip_addr_parse (&p.addr, s, len))
      goto bad;
    p.bits = (uint8_t) ip_addr_bitlen (&p.addr);
    g_array_append_val (out, p);
    return TRUE;
  }
bad:
  g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID, "invalid IP address \"%s\"", s);
  return FALSE;
}

/* ---- the JSON ----------------------------------------------------------- */

typedef struct {
  JsonScan scan;
  guint rule;          /* index of the rule being read */
  gsize n_prefixes;    /* so far, all rules */
  GPtrArray *rejected; /* char * */
  char *error;         /* the first refusal, naming rule and field */
} Parser;

static gboolean
take_null (JsonScan *s)
{
  return json_scan_peek (s) == JSON_SCAN_NULL && json_scan_null (s);
}

/* Refuse the filter; the message names the rule and field (field NULL:
 * the rule itself, rule G_MAXUINT: the array). FALSE. */
static gboolean G_GNUC_PRINTF (3, 4)
  fail_field (Parser *p,
              const char *field,
              const char *format,
              ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (p->error == NULL && p->rule == G_MAXUINT)
    p->error = g_strdup_printf ("PacketFilter: %s", msg);
  else if (p->error == NULL)
    p->error = g_strdup_printf ("PacketFilter[%u]%s%s: %s", p->rule, field ? "." : "", field ? field : "", msg);
  return json_scan_fail (&p->scan, "%s", p->error);
}

static gboolean
count_prefixes (Parser *p,
                const char *field,
                gsize added)
{
  p->n_prefixes += added;
  if (p->n_prefixes > HYPHAE_FILTER_MAX_PREFIXES)
    return fail_field (p, field, "more than %u prefixes in the filter", HYPHAE_FILTER_MAX_PREFIXES);
  return TRUE;
}

static void
reject (Parser *p,
        const char *field,
        const char *why)
{
  g_ptr_array_add (p->rejected, g_strdup_printf ("PacketFilter[%u].%s: %s", p->rule, field, why));
}

/* The start of an optional array field: 1 begun, 0 null (nothing to read),
 * -1 refused (not an array: what says what it should be). */
static int
begin_array (Parser *p,
             const char *field,
             const char *what)
{
  if (take_null (&p->scan))
    return 0;
  if (json_scan_peek (&p->scan) != JSON_SCAN_ARRAY)
    {
      fail_field (p, field, "%s", what);
      return -1;
    }
  return json_scan_array_begin (&p->scan) ? 1 : -1;
}

static gboolean
scan_src_ips (Parser *p,
              HyphaeFilterRule *rule)
{
  JsonScan *s = &p->scan;
  int r;

  if ((r = begin_array (p, "SrcIPs", "not an array of strings")) <= 0)
    return r == 0;
  while ((r = json_scan_array_next (s)) > 0)
    {
      g_autoptr(GError) error = NULL;
      const char *str = "";
      guint before = rule->srcs->len;

      /* null in a []string is Go's "" (which then does not parse). */
      if (!take_null (s))
        {
          if (json_scan_peek (s) != JSON_SCAN_STRING)
            return fail_field (p, "SrcIPs", "not an array of strings");
          if (!json_scan_string (s, &str, NULL))
            return FALSE;
        }
      if (g_str_has_prefix (str, "cap:"))
        {
          g_ptr_array_add (rule->src_caps, g_strdup (str + 4));
          continue;
        }
      if (!hyphae_filter_parse_ip_set (str, rule->srcs, &error))
        reject (p, "SrcIPs", error->message);
      else if (!count_prefixes (p, "SrcIPs", rule->srcs->len - before))
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_port (Parser *p,
           const char *field,
           guint16 *out)
{
  gint64 v;

  if (take_null (&p->scan))
    return TRUE;
  if (json_scan_peek (&p->scan) != JSON_SCAN_NUMBER || !json_scan_int64 (&p->scan, &v) || v < 0 || v > 65535)
    return fail_field (p, field, "not a port number (0..65535)");
  *out = (guint16) v;
  return TRUE;
}

static gboolean
scan_ports (Parser *p,
            guint16 *first,
            guint16 *last)
{
  JsonScan *s = &p->scan;
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (json_scan_peek (s) != JSON_SCAN_OBJECT)
    return fail_field (p, "DstPorts.Ports", "not an object");
  json_scan_object_begin (s);
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "First") == 0)
        ok = scan_port (p, "DstPorts.Ports.First", first);
      else if (strcmp (k, "Last") == 0)
        ok = scan_port (p, "DstPorts.Ports.Last", last);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_dst (Parser *p,
          HyphaeFilterRule *rule)
{
  JsonScan *s = &p->scan;
  g_autofree char *ip = NULL;
  g_autoptr(GArray) nets = NULL;
  g_autoptr(GError) error = NULL;
  guint16 first = 0, last = 0;
  const char *k;
  int r;

  if (take_null (s)) /* a zero NetPortRange: IP "" does not parse */
    {
      reject (p, "DstPorts.IP", "invalid IP address \"\"");
      return TRUE;
    }
  if (json_scan_peek (s) != JSON_SCAN_OBJECT)
    return fail_field (p, "DstPorts", "not an array of objects");
  json_scan_object_begin (s);
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "IP") == 0)
        {
          const char *str;

          if (take_null (s))
            continue;
          if (json_scan_peek (s) != JSON_SCAN_STRING)
            return fail_field (p, "DstPorts.IP", "not a string");
          ok = json_scan_string (s, &str, NULL);
          if (ok)
            {
              g_free (ip);
              ip = g_strdup (str);
            }
        }
      else if (strcmp (k, "Bits") == 0)
        {
          if (take_null (s))
            continue;
          /* Go: "unexpected DstBits": the whole filter is refused. */
          return fail_field (p, "DstPorts.Bits", "legacy field, refused as Tailscale does");
        }
      else if (strcmp (k, "Ports") == 0)
        ok = scan_ports (p, &first, &last);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  if (r < 0)
    return FALSE;

  if (ip == NULL)
    ip = g_strdup ("");
  if (g_str_has_prefix (ip, "cap:"))
    {
      g_autofree char *why = g_strdup_printf ("unexpected capability \"%s\"", ip + 4);
      reject (p, "DstPorts.IP", why);
      return TRUE;
    }
  nets = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  if (!hyphae_filter_parse_ip_set (ip, nets, &error))
    {
      reject (p, "DstPorts.IP", error->message);
      return TRUE;
    }
  if (!count_prefixes (p, "DstPorts.IP", nets->len))
    return FALSE;
  for (guint i = 0; i < nets->len; i++)
    {
      HyphaeFilterDst d = {
        .net = g_array_index (nets, struct ip_prefix, i),
        .first = first,
        .last = last,
      };
      g_array_append_val (rule->dsts, d);
    }
  return TRUE;
}

static gboolean
scan_dst_ports (Parser *p,
                HyphaeFilterRule *rule)
{
  JsonScan *s = &p->scan;
  int r;

  if ((r = begin_array (p, "DstPorts", "not an array")) <= 0)
    return r == 0;
  while ((r = json_scan_array_next (s)) > 0)
    if (!scan_dst (p, rule))
      return FALSE;
  return r == 0;
}

/* IPProto: TRUE in *given when the array had entries (even ignored ones). */
static gboolean
scan_protos (Parser *p,
             HyphaeFilterRule *rule,
             gboolean *given)
{
  JsonScan *s = &p->scan;
  int r;

  if ((r = begin_array (p, "IPProto", "not an array of integers")) <= 0)
    return r == 0;
  while ((r = json_scan_array_next (s)) > 0)
    {
      gint64 v = 0;

      *given = TRUE;
      if (take_null (s))
        ; /* Go's zero int: protocol 0 */
      else if (json_scan_peek (s) != JSON_SCAN_NUMBER || !json_scan_int64 (s, &v))
        return fail_field (p, "IPProto", "not an array of integers");
      /* Outside uint8: reserved for Tailscale's use, ignored. */
      if (v >= 0 && v <= 255)
        rule_add_proto (rule, (guint8) v);
    }
  return r == 0;
}

/* SrcBits: any entry refuses the whole filter (Go: "unexpected SrcBits"). */
static gboolean
scan_src_bits (Parser *p)
{
  JsonScan *s = &p->scan;
  int r;

  if ((r = begin_array (p, "SrcBits", "not an array of integers")) <= 0)
    return r == 0;
  r = json_scan_array_next (s);
  if (r > 0)
    return fail_field (p, "SrcBits", "legacy field, refused as Tailscale does");
  return r == 0;
}

static gboolean
scan_rule (Parser *p,
           GPtrArray *rules)
{
  JsonScan *s = &p->scan;
  HyphaeFilterRule *rule;
  gboolean protos_given = FALSE, empty = TRUE;
  const char *k;
  int r;

  if (take_null (s)) /* a zero FilterRule matches nothing */
    return TRUE;
  if (json_scan_peek (s) != JSON_SCAN_OBJECT)
    return fail_field (p, NULL, "not an object");
  rule = rule_new (p->rule);
  json_scan_object_begin (s);
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (strcmp (k, "SrcIPs") == 0)
        ok = scan_src_ips (p, rule);
      else if (strcmp (k, "SrcBits") == 0)
        ok = scan_src_bits (p);
      else if (strcmp (k, "DstPorts") == 0)
        ok = scan_dst_ports (p, rule);
      else if (strcmp (k, "IPProto") == 0)
        ok = scan_protos (p, rule, &protos_given);
      else
        ok = json_scan_skip (s); /* CapGrant and anything newer: not about packets */
      if (!ok)
        {
          rule_free (rule);
          return FALSE;
        }
    }
  if (r < 0)
    {
      rule_free (rule);
      return FALSE;
    }
  if (!protos_given)
    for (guint i = 0; i < G_N_ELEMENTS (default_protos); i++)
      rule_add_proto (rule, default_protos[i]);
  for (guint i = 0; i < sizeof rule->protos; i++)
    empty = empty && rule->protos[i] == 0;
  /* As filter.go's matchesFamily: a rule needs a source and a destination. */
  if (empty || rule->dsts->len == 0 || (rule->srcs->len == 0 && rule->src_caps->len == 0))
    rule_free (rule);
  else
    g_ptr_array_add (rules, rule);
  return TRUE;
}

HyphaeFilterRules *
hyphae_filter_rules_parse (const char *json,
                           gsize len,
                           GError **error)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func (rule_free);
  HyphaeFilterRules *out;
  Parser p = { 0 };
  int r = -1;

  json_scan_init (&p.scan, json, len);
  p.rejected = g_ptr_array_new_with_free_func (g_free);
  p.rule = G_MAXUINT;
  if (json_scan_peek (&p.scan) != JSON_SCAN_ARRAY)
    fail_field (&p, NULL, "not an array");
  else if (json_scan_array_begin (&p.scan))
    {
      p.rule = 0;
      while ((r = json_scan_array_next (&p.scan)) > 0)
        {
          if (p.rule >= HYPHAE_FILTER_MAX_RULES)
            {
              p.rule = G_MAXUINT;
              fail_field (&p, NULL, "more than %u rules", HYPHAE_FILTER_MAX_RULES);
              r = -1;
              break;
            }
          if (!scan_rule (&p, rules))
            {
              r = -1;
              break;
            }
          p.rule++;
        }
    }
  if (r != 0 || !json_scan_end (&p.scan))
    {
      if (p.error != NULL)
        g_set_error_literal (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID, p.error);
      else
        g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID, "PacketFilter: %s",
                     json_scan_error (&p.scan) ? json_scan_error (&p.scan) : "invalid JSON");
      g_free (p.error);
      json_scan_clear (&p.scan);
      g_ptr_array_unref (p.rejected);
      return NULL;
    }
  json_scan_clear (&p.scan);
  g_ptr_array_add (p.rejected, NULL);
  out = g_new0 (HyphaeFilterRules, 1);
  out->rules = g_steal_pointer (&rules);
  out->n_rules = p.rule;
  out->rejected = (char **) g_ptr_array_free (p.rejected, FALSE);
  return out;
}

/* ---- the plan ----------------------------------------------------------- */

static void
append_parsed (GArray *out,
               char **prefixes,
               gboolean single_only)
{
  for (guint i = 0; prefixes != NULL && prefixes[i] != NULL; i++)
    {
      struct ip_prefix p;

      /* The netmap gave them canonical: they parse. */
      if (!ip_prefix_parse (&p, prefixes[i], strlen (prefixes[i])))
        continue;
      if (single_only && !ip_prefix_is_host (&p))
        continue;
      p = ip_prefix_masked (&p);
      g_array_append_val (out, p);
    }
}

/* Node.HasCap: the CapMap object has the key. */
static gboolean
node_has_cap (const HyphaeNode *node,
              const char *cap)
{
  JsonScan s;
  const char *k;
  gboolean found = FALSE;
  int r;

  if (node->cap_map_json == NULL)
    return FALSE;
  json_scan_init (&s, node->cap_map_json, strlen (node->cap_map_json));
  if (json_scan_peek (&s) == JSON_SCAN_OBJECT && json_scan_object_begin (&s))
    while (!found && (r = json_scan_object_next (&s, &k, NULL)) > 0)
      {
        found = strcmp (k, cap) == 0;
        if (!json_scan_skip (&s))
          break;
      }
  json_scan_clear (&s);
  return found;
}

static gboolean
prefixes_overlap (const struct ip_prefix *a,
                  const struct ip_prefix *b)
{
  return ip_prefix_contains_prefix (a, b) || ip_prefix_contains_prefix (b, a);
}

/* packetFilterPermitsUnlockedNodes: a rule allowing traffic from an
 * UnsignedPeerAPIOnly peer's AllowedIPs makes the whole filter invalid. */
static gboolean
permits_unsigned_peers (const HyphaeNetmap *nm,
                        const HyphaeFilterRules *rules)
{
  g_autoptr(GArray) unsigned_ips = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));

  for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
    {
      const HyphaeNode *peer = hyphae_netmap_get_peer (nm, i);

      if (peer->unsigned_peer_api_only)
        append_parsed (unsigned_ips, peer->allowed_ips, FALSE);
    }
  for (guint i = 0; unsigned_ips->len > 0 && i < rules->rules->len; i++)
    {
      const HyphaeFilterRule *rule = rules->rules->pdata[i];

      for (guint j = 0; j < rule->srcs->len; j++)
        for (guint u = 0; u < unsigned_ips->len; u++)
          if (prefixes_overlap (&g_array_index (rule->srcs, struct ip_prefix, j),
                                &g_array_index (unsigned_ips, struct ip_prefix, u)))
            return TRUE;
    }
  return FALSE;
}

/* The routes a peer's packets may come from, as WireGuard attributes them:
 * its AllowedIPs, a default route only when it is the exit node in use
 * (engine-config.h gives no other peer one). */
static void
peer_routes (const HyphaeNode *peer,
             const char *exit_node_id,
             GArray *out)
{
  gboolean exit_node = exit_node_id != NULL && *exit_node_id != '\0' && g_strcmp0 (peer->stable_id, exit_node_id) == 0;
  guint start = out->len;

  append_parsed (out, peer->allowed_ips, FALSE);
  for (guint i = out->len; i-- > start;)
    if (!exit_node && g_array_index (out, struct ip_prefix, i).bits == 0)
      g_array_remove_index (out, i);
}

static gboolean
bit_set (const struct ip_addr *a,
         unsigned bit)
{
  return (a->bytes[bit / 8] >> (7 - bit % 8)) & 1;
}

static int
prefix_cmp (gconstpointer a,
            gconstpointer b)
{
  const struct ip_prefix *x = a, *y = b;
  int c = memcmp (x->addr.bytes, y->addr.bytes, sizeof x->addr.bytes);

  return c != 0 ? c : (int) x->bits - (int) y->bits;
}

/* j minus in[lo, hi) (other peers' routes inside j, sorted by address then
 * length), appended to out; FALSE past budget prefixes. What lies in each
 * half of j is a run of the sorted array: O(routes × bits), no allocation. */
static gboolean
subtract (const struct ip_prefix *j,
          const struct ip_prefix *in,
          guint lo,
          guint hi,
          GArray *out,
          guint *budget)
{
  guint mid = lo;

  if (lo < hi && ip_prefix_equal (&in[lo], j))
    return TRUE; /* exactly another peer's route: that peer's */
  if (lo == hi)
    {
      if (*budget == 0)
        return FALSE;
      (*budget)--;
      g_array_append_val (out, *j);
      return TRUE;
    }
  while (mid < hi && !bit_set (&in[mid].addr, j->bits))
    mid++;
  for (unsigned half = 0; half < 2; half++)
    {
      struct ip_prefix h = *j;

      h.bits++;
      if (half)
        h.addr.bytes[j->bits / 8] |= (uint8_t) (0x80 >> (j->bits % 8));
      if (!subtract (&h, in, half ? mid : lo, half ? hi : mid, out, budget))
        return FALSE;
    }
  return TRUE;
}

/* The sources IsJailed peers (capver 94) may not start flows from. Go looks
 * the source up in the route table (net/tstun/wrap.go inboundPacketIsJailed:
 * longest prefix wins); the engine's filter only asks "inside any jailed
 * prefix?", so a jailed route that holds other peers' routes (a jailed exit
 * node's /0) goes in with those carved out. Past HYPHAE_FILTER_MAX_JAILED
 * prefixes such a route is left out: its other sources are then judged by
 * the rules alone, as any peer's. */
#define HYPHAE_FILTER_MAX_JAILED 65536

static void
jailed_sources (const HyphaeNetmap *nm,
                const char *exit_node_id,
                GArray *out)
{
  g_autoptr(GArray) free_routes = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  g_autoptr(GArray) jailed = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  guint budget = HYPHAE_FILTER_MAX_JAILED;

  for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
    {
      const HyphaeNode *peer = hyphae_netmap_get_peer (nm, i);

      peer_routes (peer, exit_node_id, peer->is_jailed ? jailed : free_routes);
    }
  for (guint i = 0; i < jailed->len; i++)
    {
      const struct ip_prefix *j = &g_array_index (jailed, struct ip_prefix, i);
      g_autoptr(GArray) inside = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
      guint before = out->len;

      /* Other peers' routes strictly inside j take their sources from it;
       * one equal to j does not (a tie: the jailed one wins). */
      for (guint k = 0; k < free_routes->len; k++)
        {
          const struct ip_prefix *o = &g_array_index (free_routes, struct ip_prefix, k);

          if (o->bits > j->bits && ip_prefix_contains_prefix (j, o))
            g_array_append_val (inside, *o);
        }
      g_array_sort (inside, prefix_cmp);
      if (!subtract (j, (const struct ip_prefix *) (gconstpointer) inside->data, 0, inside->len, out, &budget))
        {
          budget += out->len - before;
          g_array_set_size (out, before);
        }
    }
}

/* A copy of rule with its "cap:" sources turned into node addresses. */
static HyphaeFilterRule *
resolve_rule (const HyphaeNetmap *nm,
              const HyphaeFilterRule *rule)
{
  HyphaeFilterRule *out = rule_new (rule->index);

  g_array_append_vals (out->srcs, rule->srcs->data, rule->srcs->len);
  g_array_append_vals (out->dsts, rule->dsts->data, rule->dsts->len);
  memcpy (out->protos, rule->protos, sizeof out->protos);
  for (guint c = 0; c < rule->src_caps->len; c++)
    {
      const char *cap = rule->src_caps->pdata[c];
      const HyphaeNode *self = hyphae_netmap_get_self (nm);

      if (cap[0] == '\0')
        continue;
      if (self != NULL && !self->unsigned_peer_api_only && node_has_cap (self, cap))
        append_parsed (out->srcs, self->addresses, TRUE);
      for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
        {
          const HyphaeNode *peer = hyphae_netmap_get_peer (nm, i);

          if (!peer->unsigned_peer_api_only && node_has_cap (peer, cap))
            append_parsed (out->srcs, peer->addresses, TRUE);
        }
    }
  return out;
}

static void
digest_prefixes (GChecksum *c,
                 const char *tag,
                 const GArray *a)
{
  g_checksum_update (c, (const guchar *) tag, -1);
  g_checksum_update (c, (const guchar *) &a->len, sizeof a->len);
  for (guint i = 0; i < a->len; i++)
    {
      const struct ip_prefix *p = &g_array_index (a, struct ip_prefix, i);

      g_checksum_update (c, &p->addr.family, 1);
      g_checksum_update (c, p->addr.bytes, 16);
      g_checksum_update (c, &p->bits, 1);
    }
}

static char *
plan_digest (const HyphaeFilterPlan *plan)
{
  g_autoptr(GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 flags[3] = { (guint8) plan->shields_up, (guint8) plan->deny_all, (guint8) plan->invalid };

  g_checksum_update (c, flags, sizeof flags);
  digest_prefixes (c, "local", plan->local_nets);
  digest_prefixes (c, "jailed", plan->jailed_srcs);
  for (guint i = 0; i < plan->rules->len; i++)
    {
      const HyphaeFilterRule *rule = plan->rules->pdata[i];

      g_checksum_update (c, (const guchar *) &rule->index, sizeof rule->index);
      g_checksum_update (c, rule->protos, sizeof rule->protos);
      digest_prefixes (c, "src", rule->srcs);
      g_checksum_update (c, (const guchar *) "dst", 3);
      for (guint j = 0; j < rule->dsts->len; j++)
        {
          const HyphaeFilterDst *d = &g_array_index (rule->dsts, HyphaeFilterDst, j);

          g_checksum_update (c, &d->net.addr.family, 1);
          g_checksum_update (c, d->net.addr.bytes, 16);
          g_checksum_update (c, &d->net.bits, 1);
          g_checksum_update (c, (const guchar *) &d->first, 2);
          g_checksum_update (c, (const guchar *) &d->last, 2);
        }
    }
  return g_strdup (g_checksum_get_string (c));
}

HyphaeFilterPlan *
hyphae_filter_plan_new (const HyphaeNetmap *nm,
                        const HyphaeFilterRules *rules,
                        const char *why_refused,
                        const HyphaeFilterOptions *options)
{
  HyphaeFilterPlan *plan = g_new0 (HyphaeFilterPlan, 1);
  const HyphaeNode *self = hyphae_netmap_get_self (nm);

  plan->rules = g_ptr_array_new_with_free_func (rule_free);
  plan->local_nets = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  plan->jailed_srcs = g_array_new (FALSE, FALSE, sizeof (struct ip_prefix));
  plan->shields_up = options != NULL && options->shields_up;

  /* Single addresses only: a wider self Address never reaches the TUN
   * (engine-config.h), so it is not ours to receive for either. */
  if (self != NULL)
    append_parsed (plan->local_nets, self->addresses, TRUE);
  for (gsize i = 0; options != NULL && i < options->n_served_routes; i++)
    {
      struct ip_prefix p = ip_prefix_masked (&options->served_routes[i]);
      g_array_append_val (plan->local_nets, p);
    }
  jailed_sources (nm, options != NULL ? options->exit_node_id : NULL, plan->jailed_srcs);

  if (rules == NULL)
    {
      plan->deny_all = TRUE;
      plan->invalid = why_refused != NULL;
      plan->why = g_strdup (why_refused != NULL ? why_refused : "no packet filter from the control server yet");
    }
  else if (permits_unsigned_peers (nm, rules))
    {
      plan->deny_all = plan->invalid = TRUE;
      plan->why = g_strdup ("The control server's packet filter lets in an UnsignedPeerAPIOnly peer: it is "
                            "refused, every new inbound connection is dropped");
    }
  else
    {
      plan->n_server_rules = rules->n_rules;
      for (guint i = 0; i < rules->rules->len; i++)
        {
          HyphaeFilterRule *r = resolve_rule (nm, rules->rules->pdata[i]);

          if (r->srcs->len > 0)
            g_ptr_array_add (plan->rules, r);
          else
            rule_free (r);
        }
    }
  plan->digest = plan_digest (plan);
  return plan;
}

void
hyphae_filter_plan_free (HyphaeFilterPlan *plan)
{
  if (plan == NULL)
    return;
  g_clear_pointer (&plan->rules, g_ptr_array_unref);
  g_clear_pointer (&plan->local_nets, g_array_unref);
  g_clear_pointer (&plan->jailed_srcs, g_array_unref);
  g_free (plan->why);
  g_free (plan->digest);
  g_free (plan);
}

/* ---- the engine's filter ------------------------------------------------ */

static int
add_prefixes (struct pf_builder *b,
              const GArray *a,
              int (*add) (struct pf_builder *, const struct ip_prefix *))
{
  for (guint i = 0; i < a->len; i++)
    {
      int r = add (b, &g_array_index (a, struct ip_prefix, i));
      if (r < 0)
        return r;
    }
  return 0;
}

struct pf_filter *
hyphae_filter_plan_build (const HyphaeFilterPlan *plan,
                          GError **error)
{
  struct pf_builder *b = pf_builder_new ();
  struct pf_filter *f;
  int r = b == NULL ? -ENOMEM : 0;

  if (r == 0)
    r = add_prefixes (b, plan->local_nets, pf_builder_add_local);
  if (r == 0)
    r = add_prefixes (b, plan->jailed_srcs, pf_builder_add_jailed);
  for (guint i = 0; r == 0 && i < plan->rules->len; i++)
    {
      const HyphaeFilterRule *rule = plan->rules->pdata[i];
      g_autoptr(GArray) dsts = g_array_sized_new (FALSE, FALSE, sizeof (struct pf_dst), rule->dsts->len);
      guint8 protos[256];
      struct pf_rule pr = {
        .id = rule->index,
        .srcs = (const struct ip_prefix *) (gconstpointer) rule->srcs->data,
        .n_srcs = rule->srcs->len,
        .protos = protos,
      };

      for (guint j = 0; j < rule->dsts->len; j++)
        {
          const HyphaeFilterDst *d = &g_array_index (rule->dsts, HyphaeFilterDst, j);
          struct pf_dst pd = { .net = d->net, .port_first = d->first, .port_last = d->last };

          /* First > Last matches no port (PortRange.Contains): leave it out. */
          if (d->first <= d->last)
            g_array_append_val (dsts, pd);
        }
      if (dsts->len == 0)
        continue;
      for (guint p = 0; p < 256; p++)
        if (hyphae_filter_rule_has_proto (rule, (guint8) p))
          protos[pr.n_protos++] = (guint8) p;
      pr.dsts = (const struct pf_dst *) (gconstpointer) dsts->data;
      pr.n_dsts = dsts->len;
      r = pf_builder_add_rule (b, &pr);
    }
  if (r < 0)
    {
      pf_builder_free (b);
      g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID,
                   "Cannot build the packet filter: %s", g_strerror (-r));
      return NULL;
    }
  pf_builder_set_shields_up (b, plan->shields_up);
  f = pf_builder_finish (b, &r);
  if (f == NULL)
    g_set_error (error, HYPHAE_FILTER_ERROR, HYPHAE_FILTER_ERROR_INVALID,
                 "Cannot build the packet filter: %s", g_strerror (-r));
  return f;
}
