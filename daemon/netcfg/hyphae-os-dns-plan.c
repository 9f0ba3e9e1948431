/* SPDX-License-Identifier: MIT */
/* The pure half of HyphaeOsDns: what the OS resolver is told (the plan) and
 * which way to tell it (mode detection). No I/O here. */
#include "hyphae-os-dns.h"

#include <string.h>

const char *
hyphae_os_dns_mode_to_string (HyphaeOsDnsMode mode)
{
  switch (mode)
    {
    case HYPHAE_OS_DNS_MODE_RESOLVED:
      return "systemd-resolved";
    case HYPHAE_OS_DNS_MODE_DIRECT:
      return "direct";
    case HYPHAE_OS_DNS_MODE_NM:
      return "NetworkManager";
    case HYPHAE_OS_DNS_MODE_NONE:
    default:
      return "none";
    }
}

/* ---- the plan ------------------------------------------------------------ */

static void
add_unique (GPtrArray *names,
            const char *name)
{
  if (name == NULL || name[0] == '\0')
    return;
  for (guint i = 0; i < names->len; i++)
    if (g_ascii_strcasecmp (names->pdata[i], name) == 0)
      return;
  g_ptr_array_add (names, g_ascii_strdown (name, -1));
}

static int
cmp_names (gconstpointer a,
           gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char **
to_strv (GPtrArray *names)
{
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

/* The reverse zones of the tailnet's address ranges: CGNAT 100.64.0.0/10
 * (64..127.100.in-addr.arpa) and fd7a:115c:a1e0::/48 (Tailscale:
 * ipn/ipnlocal/local.go magicDNSRootDomains). */
static void
add_reverse_zones (GPtrArray *names)
{
  add_unique (names, "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa");
  for (int i = 64; i <= 127; i++)
    {
      g_autofree char *zone = g_strdup_printf ("%d.100.in-addr.arpa", i);

      add_unique (names, zone);
    }
}

HyphaeOsDnsPlan *
hyphae_os_dns_plan_new (const HyphaeDnsConfig *config,
                        const char *magic_suffix,
                        gboolean corp_dns,
                        gboolean exit_node_in_use)
{
  HyphaeOsDnsPlan *plan = g_new0 (HyphaeOsDnsPlan, 1);
  g_autoptr(GPtrArray) search = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) routes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_free);
  gboolean has_defaults;

  /* Not accepting the tailnet's DNS, or the tailnet sent none: the OS keeps
   * its own (dnsConfigForNetmap returns no routes and no search domains). */
  if (!corp_dns || config == NULL || !config->present)
    {
      plan->nameservers = to_strv (g_steal_pointer (&servers));
      plan->search_domains = to_strv (g_steal_pointer (&search));
      plan->match_domains = to_strv (g_steal_pointer (&routes));
      return plan;
    }

  if (config->proxied)
    add_unique (search, magic_suffix);
  for (guint i = 0; config->domains != NULL && config->domains[i] != NULL; i++)
    add_unique (search, config->domains[i]);

  for (guint i = 0; config->routes != NULL && i < config->routes->len; i++)
    add_unique (routes, ((const HyphaeDnsRoute *) config->routes->pdata[i])->suffix);
  if (config->proxied && magic_suffix != NULL && magic_suffix[0] != '\0')
    {
      add_unique (routes, magic_suffix);
      add_reverse_zones (routes);
    }

  /* With an exit node, DNS goes through it (its DoH, or UseWithExitNode
   * resolvers); "override local DNS" makes Resolvers the default. Both mean
   * every name goes to MagicDNS, which forwards it. */
  has_defaults = exit_node_in_use || (config->resolvers != NULL && config->resolvers->len > 0);
  if (has_defaults || routes->len > 0)
    {
      g_ptr_array_add (servers, g_strdup (HYPHAE_DNS_SERVICE_IPV4));
      g_ptr_array_add (servers, g_strdup (HYPHAE_DNS_SERVICE_IPV6));
    }
  plan->default_route = has_defaults;
  if (has_defaults)
    g_ptr_array_set_size (routes, 0);
  g_ptr_array_sort (routes, cmp_names);

  plan->nameservers = to_strv (g_steal_pointer (&servers));
  plan->search_domains = to_strv (g_steal_pointer (&search));
  plan->match_domains = to_strv (g_steal_pointer (&routes));
  return plan;
}

gboolean
hyphae_os_dns_plan_is_empty (const HyphaeOsDnsPlan *plan)
{
  return plan == NULL ||
         (g_strv_length (plan->nameservers) == 0 && g_strv_length (plan->search_domains) == 0 &&
          g_strv_length (plan->match_domains) == 0 && !plan->default_route);
}

gboolean
hyphae_os_dns_plan_equal (const HyphaeOsDnsPlan *a,
                          const HyphaeOsDnsPlan *b)
{
  if (a == NULL || b == NULL)
    return hyphae_os_dns_plan_is_empty (a) && hyphae_os_dns_plan_is_empty (b);
  return !a->default_route == !b->default_route &&
         g_strv_equal ((const char * const *) a->nameservers, (const char * const *) b->nameservers) &&
         g_strv_equal ((const char * const *) a->search_domains, (const char * const *) b->search_domains) &&
         g_strv_equal ((const char * const *) a->match_domains, (const char * const *) b->match_domains);
}

HyphaeOsDnsPlan *
hyphae_os_dns_plan_copy (const HyphaeOsDnsPlan *plan)
{
  HyphaeOsDnsPlan *copy = g_new0 (HyphaeOsDnsPlan, 1);
  const char *none[] = { NULL };

  copy->nameservers = g_strdupv (plan && plan->nameservers ? plan->nameservers : (char **) none);
  copy->search_domains = g_strdupv (plan && plan->search_domains ? plan->search_domains : (char **) none);
  copy->match_domains = g_strdupv (plan && plan->match_domains ? plan->match_domains : (char **) none);
  copy->default_route = plan ? plan->default_route : FALSE;
  return copy;
}

void
hyphae_os_dns_plan_free (HyphaeOsDnsPlan *plan)
{
  if (plan == NULL)
    return;
  g_strfreev (plan->nameservers);
  g_strfreev (plan->search_domains);
  g_strfreev (plan->match_domains);
  g_free (plan);
}

/* ---- mode detection ------------------------------------------------------ */

/* Who wrote resolv.conf, from its leading comment lines only (Tailscale:
 * net/dns/direct.go resolvOwner): the last of "systemd-resolved",
 * "NetworkManager", "resolvconf" named before the first other line. */
typedef enum {
  OWNER_UNKNOWN,
  OWNER_RESOLVED,
  OWNER_NM,
  OWNER_RESOLVCONF
} Owner;

static Owner
resolv_conf_owner (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  Owner owner = OWNER_UNKNOWN;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);

      if (line[0] == '\0')
        continue;
      if (line[0] != '#')
        break;
      if (strstr (line, "systemd-resolved") != NULL)
        owner = OWNER_RESOLVED;
      else if (strstr (line, "NetworkManager") != NULL)
        owner = OWNER_NM;
      else if (strstr (line, "resolvconf") != NULL)
        owner = OWNER_RESOLVCONF;
    }
  return owner;
}

/* nsswitch.conf's hosts: line asks libnss_resolve before dns. */
static gboolean
nss_uses_resolve (const char *nsswitch)
{
  g_auto(GStrv) lines = NULL;

  if (nsswitch == NULL)
    return FALSE;
  lines = g_strsplit (nsswitch, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);

      if (g_strcmp0 (fields[0], "hosts:") != 0)
        continue;
      for (guint f = 1; fields[f] != NULL; f++)
        {
          if (fields[f][0] == '\0')
            continue;
          if (strcmp (fields[f], "dns") == 0)
            return FALSE;
          if (strcmp (fields[f], "resolve") == 0)
            return TRUE;
        }
    }
  return FALSE;
}

/* Every nameserver line names 127.0.0.53, resolved's stub (and there is one). */
static gboolean
only_resolved_stub (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", 3);

      if (g_strcmp0 (fields[0], "nameserver") != 0 || fields[1] == NULL)
        continue;
      if (strcmp (fields[1], "127.0.0.53") != 0)
        return FALSE;
      n++;
    }
  return n > 0;
}

/* Tailscale's resolvedIsActuallyResolver (net/dns/manager_linux.go). */
static gboolean
resolved_is_the_resolver (const char *resolv_conf,
                          const char *nsswitch)
{
  return nss_uses_resolve (nsswitch) || only_resolved_stub (resolv_conf);
}

HyphaeOsDnsMode
hyphae_os_dns_detect_mode (const char *resolv_conf,
                           const char *nsswitch,
                           gboolean resolved_up,
                           gboolean nm_manages_dns,
                           const char **why)
{
  const char *unused;

  if (why == NULL)
    why = &unused;
  if (resolv_conf == NULL)
    {
      *why = "no resolv.conf: written directly";
      return HYPHAE_OS_DNS_MODE_DIRECT;
    }
  switch (resolv_conf_owner (resolv_conf))
    {
    case OWNER_RESOLVED:
      if (!resolved_is_the_resolver (resolv_conf, nsswitch))
        {
          *why = "resolv.conf names systemd-resolved but it is not the resolver: written directly";
          return HYPHAE_OS_DNS_MODE_DIRECT;
        }
      /* As Tailscale: resolved even when it did not answer yet (activation,
       * a restart); we push again when its name appears. */
      *why = resolved_up ? "systemd-resolved manages resolv.conf"
                         : "systemd-resolved manages resolv.conf (not answering yet)";
      return HYPHAE_OS_DNS_MODE_RESOLVED;
    case OWNER_NM:
      if (resolved_up && resolved_is_the_resolver (resolv_conf, nsswitch))
        {
          *why = "NetworkManager writes resolv.conf through systemd-resolved";
          return HYPHAE_OS_DNS_MODE_RESOLVED;
        }
      if (nm_manages_dns)
        {
          *why = "NetworkManager writes resolv.conf without systemd-resolved: its global DNS "
                 "configuration carries ours";
          return HYPHAE_OS_DNS_MODE_NM;
        }
      *why = "resolv.conf says NetworkManager but NetworkManager does not manage it (not running, "
             "dns=none or rc-manager=unmanaged): written directly, and again after it is rewritten";
      return HYPHAE_OS_DNS_MODE_DIRECT;
    case OWNER_RESOLVCONF:
      *why = "resolvconf manages resolv.conf (not supported): written directly";
      return HYPHAE_OS_DNS_MODE_DIRECT;
    case OWNER_UNKNOWN:
    default:
      *why = "resolv.conf has no known manager: written directly";
      return HYPHAE_OS_DNS_MODE_DIRECT;
    }
}
