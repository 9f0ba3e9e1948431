/* SPDX-License-Identifier: MIT */
/* MagicDNS's upstream choice (hyphae-dns-plan.h says whose rules). */
#include "hyphae-dns-plan.h"

struct _HyphaeDnsPlan {
  GPtrArray *routes;   /* HyphaeDnsRoute*, each with resolvers, longest suffix first */
  GPtrArray *fallback; /* the default: HyphaeDnsResolver*, maybe empty */
  gboolean corp_dns;
};

static GPtrArray *
resolver_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
}

/* Append copies of from's resolvers (only UseWithExitNode ones if so). */
static void
add_resolvers (GPtrArray *to,
               GPtrArray *from,
               gboolean only_with_exit_node)
{
  for (guint i = 0; from != NULL && i < from->len; i++)
    {
      const HyphaeDnsResolver *r = g_ptr_array_index (from, i);

      if (!only_with_exit_node || r->use_with_exit_node)
        g_ptr_array_add (to, hyphae_dns_resolver_copy (r));
    }
}

HyphaeDnsPlan *
hyphae_dns_plan_new (const HyphaeDnsPlanInput *in)
{
  HyphaeDnsPlan *plan = g_new0 (HyphaeDnsPlan, 1);
  const HyphaeDnsConfig *c = in->config;
  gboolean via_exit = in->exit_node && in->exit_doh_url != NULL;

  plan->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_route_free);
  plan->fallback = resolver_list_new ();
  plan->corp_dns = in->corp_dns;
  if (!in->corp_dns)
    return plan;

  if (c != NULL)
    for (guint i = 0; i < c->routes->len; i++)
      {
        const HyphaeDnsRoute *from = g_ptr_array_index (c->routes, i);
        HyphaeDnsRoute *route;

        if (from->resolvers->len == 0)
          continue; /* a zone of the record table */
        route = g_new0 (HyphaeDnsRoute, 1);
        route->suffix = g_strdup (from->suffix);
        route->resolvers = resolver_list_new ();
        add_resolvers (route->resolvers, from->resolvers, via_exit);
        if (route->resolvers->len == 0)
          hyphae_dns_route_free (route);
        else
          g_ptr_array_add (plan->routes, route); /* config order: longest first */
      }

  if (via_exit)
    {
      if (c != NULL)
        add_resolvers (plan->fallback, c->resolvers, TRUE);
      if (plan->fallback->len == 0)
        {
          g_autoptr(GError) error = NULL;
          HyphaeDnsResolver *doh = hyphae_dns_resolver_parse (in->exit_doh_url, &error);

          if (doh != NULL)
            g_ptr_array_add (plan->fallback, doh);
          else
            g_warning ("exit node DNS \"%s\": %s", in->exit_doh_url, error->message);
        }
      return plan;
    }
  if (c != NULL)
    add_resolvers (plan->fallback, c->resolvers, FALSE);
  if (plan->fallback->len == 0)
    add_resolvers (plan->fallback, in->exit_wg_resolvers, FALSE);
  if (plan->fallback->len == 0 && in->exit_node && c != NULL)
    add_resolvers (plan->fallback, c->fallback_resolvers, FALSE);
  return plan;
}

void
hyphae_dns_plan_free (HyphaeDnsPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->routes);
  g_ptr_array_unref (plan->fallback);
  g_free (plan);
}

GPtrArray *
hyphae_dns_plan_upstreams (const HyphaeDnsPlan *plan,
                           const char *name,
                           GPtrArray *os_fallback)
{
  g_return_val_if_fail (plan != NULL && name != NULL, NULL);
  for (guint i = 0; i < plan->routes->len; i++)
    {
      HyphaeDnsRoute *route = g_ptr_array_index (plan->routes, i);

      if (hyphae_dns_name_has_suffix (name, route->suffix))
        return route->resolvers;
    }
  if (plan->fallback->len > 0)
    return plan->fallback;
  if (plan->corp_dns && os_fallback != NULL && os_fallback->len > 0)
    return os_fallback;
  return NULL;
}
