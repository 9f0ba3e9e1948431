/* SPDX-License-Identifier: MIT */
/* hyphaectl dns status, and the DNS line of `hyphaectl status`: what the OS
 * resolver was told (the DNS property, data/io.github.hyphae.Mesh1.xml). */
#include "hyphaectl.h"

#include <stdio.h>
#include <string.h>

/* Names, with the reverse zones (*.arpa: 65 of them with MagicDNS) counted
 * rather than listed. */
static char *
names_text (const char * const *names)
{
  GString *s = g_string_new (NULL);
  guint arpa = 0;

  for (gsize i = 0; names != NULL && names[i] != NULL; i++)
    {
      if (g_str_has_suffix (names[i], ".arpa"))
        {
          arpa++;
          continue;
        }
      g_string_append_printf (s, "%s%s", s->len ? " " : "", names[i]);
    }
  if (arpa > 0)
    g_string_append_printf (s, "%s(+%u reverse zones)", s->len ? " " : "", arpa);
  if (s->len == 0)
    g_string_append (s, "-");
  return g_string_free (s, FALSE);
}

typedef struct {
  const char *mode;
  const char *reason;
  const char *error;
  const char **nameservers;
  const char **search;
  const char **match;
  gboolean default_route;
} DnsStatus;

static void
dns_status_clear (DnsStatus *st)
{
  g_free (st->nameservers);
  g_free (st->search);
  g_free (st->match);
}

/* Reads the property (borrowed strings live as long as the proxy's cache). */
static void
read_dns (HyphaeMesh1 *proxy,
          DnsStatus *st)
{
  GVariant *dns = hyphae_mesh1_get_dns (proxy);

  *st = (DnsStatus) { .mode = "none", .reason = "", .error = "" };
  if (dns == NULL)
    return;
  (void) g_variant_lookup (dns, "Mode", "&s", &st->mode);
  (void) g_variant_lookup (dns, "ModeReason", "&s", &st->reason);
  (void) g_variant_lookup (dns, "Error", "&s", &st->error);
  (void) g_variant_lookup (dns, "Nameservers", "^a&s", &st->nameservers);
  (void) g_variant_lookup (dns, "SearchDomains", "^a&s", &st->search);
  (void) g_variant_lookup (dns, "MatchDomains", "^a&s", &st->match);
  (void) g_variant_lookup (dns, "DefaultRoute", "b", &st->default_route);
}

void
ctl_print_dns_line (HyphaeMesh1 *proxy)
{
  DnsStatus st;
  g_autofree char *servers = NULL;

  read_dns (proxy, &st);
  if (strcmp (st.mode, "none") != 0 || st.error[0] != '\0')
    {
      servers = names_text (st.nameservers);
      if (st.error[0] != '\0')
        printf ("\n# DNS (%s): error: %s\n", st.mode, st.error);
      else if (st.nameservers == NULL || st.nameservers[0] == NULL)
        printf ("\n# DNS (%s): not configured\n", st.mode);
      else
        printf ("\n# DNS (%s): %s%s\n", st.mode, servers, st.default_route ? " for every name" : " for tailnet names");
    }
  dns_status_clear (&st);
}

static int
print_dns_status (HyphaeMesh1 *proxy)
{
  DnsStatus st;
  g_autofree char *servers = NULL;
  g_autofree char *search = NULL;
  g_autofree char *match = NULL;

  read_dns (proxy, &st);
  servers = names_text (st.nameservers);
  search = names_text (st.search);
  match = names_text (st.match);
  printf ("Mode:           %s%s%s%s\n", st.mode, st.reason[0] ? " (" : "", st.reason, st.reason[0] ? ")" : "");
  printf ("Nameservers:    %s\n", servers);
  printf ("Search domains: %s\n", search);
  printf ("Match domains:  %s\n", match);
  printf ("Default route:  %s\n", st.default_route ? "yes (every name goes to MagicDNS)" : "no");
  printf ("Error:          %s\n", st.error[0] ? st.error : "-");
  dns_status_clear (&st);
  return st.error[0] ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

int
ctl_cmd_dns (int argc,
             char **argv)
{
  g_autoptr(GOptionContext) context =
               g_option_context_new ("status - show what the OS resolver was told (mode, nameservers, domains)");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  int code = CTL_EXIT_OK;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc != 2 || strcmp (argv[1], "status") != 0)
    return ctl_usage_error ("usage: hyphaectl dns status");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  return print_dns_status (proxy);
}
