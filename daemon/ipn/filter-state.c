/* SPDX-License-Identifier: MIT */
/* The packet filter as ipn keeps it (filter-state.h). */
#include "filter-state.h"

#include <stdlib.h>
#include <string.h>

struct _HyphaeFilterState {
  char *json;               /* the PacketFilter text last parsed, NULL = never sent */
  HyphaeFilterRules *rules; /* its rules, NULL when refused or never sent */
  char *refused;            /* why it was refused, NULL if it was not */
  char **logged_rejected;   /* entries already logged */
  char *logged_why;         /* the deny-all reason already logged */
  HyphaeFilterPlan *plan;   /* installed in the runner, NULL = none */
};

/* enum pf_reason, for the counters' names. */
static const char * const reason_names[] = {
  "rule",
  "tcp-established",
  "flow",
  "icmp-reply",
  "tsmp",
  "fragment",
  "not-local",
  "shields-up",
  "jailed",
  "malformed",
  "multicast",
};
G_STATIC_ASSERT (G_N_ELEMENTS (reason_names) == PF_R_COUNT);

HyphaeFilterState *
hyphae_filter_state_new (void)
{
  return g_new0 (HyphaeFilterState, 1);
}

void
hyphae_filter_state_free (HyphaeFilterState *st)
{
  if (st == NULL)
    return;
  g_free (st->json);
  hyphae_filter_rules_free (st->rules);
  g_free (st->refused);
  g_strfreev (st->logged_rejected);
  g_free (st->logged_why);
  hyphae_filter_plan_free (st->plan);
  g_free (st);
}

const char *
hyphae_filter_state_get_problem (HyphaeFilterState *st)
{
  return st->plan != NULL && st->plan->invalid ? st->plan->why : NULL;
}

void
hyphae_filter_state_reset (HyphaeFilterState *st)
{
  g_clear_pointer (&st->plan, hyphae_filter_plan_free);
}

/* Parse the netmap's PacketFilter again only when its text changed. */
static void
reparse (HyphaeFilterState *st,
         const char *json)
{
  g_autoptr(GError) error = NULL;

  /* Initially json NULL: the state of "never sent". */
  if (g_strcmp0 (json, st->json) == 0)
    return;
  g_free (st->json);
  st->json = g_strdup (json);
  g_clear_pointer (&st->rules, hyphae_filter_rules_free);
  g_clear_pointer (&st->refused, g_free);
  if (json == NULL)
    return;
  st->rules = hyphae_filter_rules_parse (json, strlen (json), &error);
  if (st->rules == NULL)
    st->refused = g_strdup_printf ("The control server's packet filter is refused, every new inbound "
                                   "connection is dropped: %s",
                                   error->message);
  else
    for (guint i = 0; st->rules->rejected[i] != NULL; i++)
      if (st->logged_rejected == NULL || !g_strv_contains ((const char * const *) st->logged_rejected,
                                                           st->rules->rejected[i]))
        g_warning ("Packet filter entry left out: %s", st->rules->rejected[i]);
  if (st->rules != NULL)
    {
      g_strfreev (st->logged_rejected);
      st->logged_rejected = g_strdupv (st->rules->rejected);
    }
}

void
hyphae_filter_state_update (HyphaeFilterState *st,
                            struct wg_runner *runner,
                            const HyphaeNetmap *nm,
                            const HyphaeFilterOptions *options)
{
  g_autoptr(HyphaeFilterPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  struct pf_filter *f;

  if (runner == NULL || nm == NULL)
    return;
  reparse (st, hyphae_netmap_get_packet_filter_json (nm));
  plan = hyphae_filter_plan_new (nm, st->rules, st->refused, options);
  if (st->plan != NULL && strcmp (st->plan->digest, plan->digest) == 0)
    return;
  if (plan->invalid && g_strcmp0 (plan->why, st->logged_why) != 0)
    g_warning ("%s", plan->why);
  else if (plan->deny_all && g_strcmp0 (plan->why, st->logged_why) != 0)
    g_debug ("Packet filter: %s", plan->why);
  g_free (st->logged_why);
  st->logged_why = g_strdup (plan->why);

  f = hyphae_filter_plan_build (plan, &error);
  if (f == NULL)
    {
      /* Out of memory: keep the filter the runner has (fail closed would
       * need memory too); the next netmap tries again. */
      g_warning ("%s", error->message);
      return;
    }
  g_debug ("Packet filter: %u rule(s) of the control server's %u in force%s%s", plan->rules->len,
           plan->n_server_rules, plan->shields_up ? ", shields up" : "",
           plan->jailed_srcs->len > 0 ? ", jailed peers" : "");
  wg_runner_set_filter (runner, f);
  hyphae_filter_plan_free (st->plan);
  st->plan = g_steal_pointer (&plan);
}

/* ---- GetFilterStats ------------------------------------------------------ */

/* "*", or the first few prefixes and how many more. */
static char *
prefixes_summary (const GArray *a)
{
  GString *s = g_string_new ("");
  gboolean any4 = FALSE, any6 = FALSE;

  for (guint i = 0; i < a->len; i++)
    {
      const struct ip_prefix *p = &g_array_index (a, struct ip_prefix, i);

      any4 = any4 || (p->bits == 0 && p->addr.family == AF_INET);
      any6 = any6 || (p->bits == 0 && p->addr.family == AF_INET6);
    }
  if (any4 && any6)
    {
      g_string_append (s, "*");
      return g_string_free (s, FALSE);
    }
  for (guint i = 0; i < a->len && i < 4; i++)
    {
      char buf[IP_PREFIX_STRLEN];

      ip_prefix_format (&g_array_index (a, struct ip_prefix, i), buf);
      g_string_append_printf (s, "%s%s", i ? "," : "", buf);
    }
  if (a->len > 4)
    g_string_append_printf (s, ",…(+%u)", a->len - 4);
  return g_string_free (s, FALSE);
}

static char *
dsts_summary (const GArray *dsts)
{
  GString *s = g_string_new ("");

  for (guint i = 0; i < dsts->len && i < 4; i++)
    {
      const HyphaeFilterDst *d = &g_array_index (dsts, HyphaeFilterDst, i);
      const HyphaeFilterDst *prev = i > 0 ? d - 1 : NULL;
      char buf[IP_PREFIX_STRLEN];

      /* "*" became 0.0.0.0/0 and ::/0: show it once. */
      if (prev != NULL && prev->net.bits == 0 && d->net.bits == 0 && prev->first == d->first &&
          prev->last == d->last && prev->net.addr.family != d->net.addr.family)
        continue;
      if (d->net.bits == 0)
        g_strlcpy (buf, "*", sizeof buf);
      else
        ip_prefix_format (&d->net, buf);
      if (d->first == 0 && d->last == 65535)
        g_string_append_printf (s, "%s%s:*", s->len ? "," : "", buf);
      else if (d->first == d->last)
        g_string_append_printf (s, "%s%s:%u", s->len ? "," : "", buf, d->first);
      else
        g_string_append_printf (s, "%s%s:%u-%u", s->len ? "," : "", buf, d->first, d->last);
    }
  if (dsts->len > 4)
    g_string_append_printf (s, ",…(+%u)", dsts->len - 4);
  return g_string_free (s, FALSE);
}

static char *
protos_summary (const HyphaeFilterRule *rule)
{
  static const struct {
    guint8 proto;
    const char *name;
  } named[] = { { 6, "tcp" }, { 17, "udp" }, { 1, "icmp" }, { 58, "icmpv6" } };
  GString *s = g_string_new ("");

  /* The default set first, in the order FilterRule.IPProto documents it. */
  for (guint i = 0; i < G_N_ELEMENTS (named); i++)
    if (hyphae_filter_rule_has_proto (rule, named[i].proto))
      g_string_append_printf (s, "%s%s", s->len ? "," : "", named[i].name);
  for (guint p = 0; p < 256; p++)
    if (p != 6 && p != 17 && p != 1 && p != 58 && hyphae_filter_rule_has_proto (rule, (guint8) p))
      g_string_append_printf (s, "%s%u", s->len ? "," : "", p);
  return g_string_free (s, FALSE);
}

static GVariant *
reasons (const uint64_t *counts)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{st}"));
  for (guint i = 0; i < PF_R_COUNT; i++)
    if (counts[i] > 0)
      g_variant_builder_add (&b, "{st}", reason_names[i], (guint64) counts[i]);
  return g_variant_builder_end (&b);
}

GVariant *
hyphae_filter_state_stats (HyphaeFilterState *st,
                           struct wg_runner *runner)
{
  struct pf_stats *stats = NULL;
  GVariantBuilder b, rules;
  const HyphaeFilterPlan *plan = st->plan;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  if (runner == NULL || plan == NULL || wg_runner_filter_stats (runner, &stats) < 0)
    {
      g_variant_builder_add (&b, "{sv}", "Installed", g_variant_new_boolean (FALSE));
      return g_variant_builder_end (&b);
    }
  g_variant_builder_add (&b, "{sv}", "Installed", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "ShieldsUp", g_variant_new_boolean (plan->shields_up));
  g_variant_builder_add (&b, "{sv}", "DenyAll", g_variant_new_boolean (plan->deny_all));
  g_variant_builder_add (&b, "{sv}", "Why", g_variant_new_string (plan->why ? plan->why : ""));
  g_variant_builder_add (&b, "{sv}", "ServerRules", g_variant_new_uint32 (plan->n_server_rules));
  g_variant_builder_add (&b, "{sv}", "Rejected",
                         g_variant_new_strv (st->rules ? (const char * const *) st->rules->rejected : NULL,
                                             st->rules ? -1 : 0));
  g_variant_builder_add (&b, "{sv}", "Accepted", reasons (stats->accepts));
  g_variant_builder_add (&b, "{sv}", "Dropped", reasons (stats->drops));
  g_variant_builder_add (&b, "{sv}", "RejectsSent", g_variant_new_uint64 (wg_runner_filter_rejects_sent (runner)));

  g_variant_builder_init (&rules, G_VARIANT_TYPE ("aa{sv}"));
  /* The runner's counters are in build order, the plan's rules too (a rule
   * whose every port range is empty was not built: match by index). */
  for (size_t i = 0, j = 0; i < stats->n_rules; i++)
    {
      const struct pf_rule_stats *rs = &stats->rules[i];
      const HyphaeFilterRule *rule = NULL;
      g_autofree char *srcs = NULL, *dsts = NULL, *protos = NULL;

      while (j < plan->rules->len && ((HyphaeFilterRule *) plan->rules->pdata[j])->index != rs->id)
        j++;
      if (j < plan->rules->len)
        rule = plan->rules->pdata[j];
      g_variant_builder_open (&rules, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&rules, "{sv}", "Index", g_variant_new_uint32 (rs->id));
      if (rule != NULL)
        {
          srcs = prefixes_summary (rule->srcs);
          dsts = dsts_summary (rule->dsts);
          protos = protos_summary (rule);
          g_variant_builder_add (&rules, "{sv}", "Sources", g_variant_new_string (srcs));
          g_variant_builder_add (&rules, "{sv}", "Destinations", g_variant_new_string (dsts));
          g_variant_builder_add (&rules, "{sv}", "Protocols", g_variant_new_string (protos));
        }
      g_variant_builder_add (&rules, "{sv}", "Accepts", g_variant_new_uint64 (rs->accepts));
      g_variant_builder_add (&rules, "{sv}", "Drops", g_variant_new_uint64 (rs->drops));
      g_variant_builder_close (&rules);
    }
  g_variant_builder_add (&b, "{sv}", "Rules", g_variant_builder_end (&rules));
  free (stats);
  return g_variant_builder_end (&b);
}
