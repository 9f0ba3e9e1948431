/* SPDX-License-Identifier: MIT */
/*
 * `hyphaectl debug filter`: the inbound packet filter in force and its
 * counters (GetFilterStats, data/io.github.hyphae.Mesh1.xml).
 */
#include "hyphaectl.h"

#include <stdio.h>

/* "reason N, reason N" of an a{st}, or "none". */
static char *
reasons_text (GVariant *dict)
{
  GString *s = g_string_new ("");
  GVariantIter iter;
  const char *name;
  guint64 n;

  if (dict != NULL)
    {
      g_variant_iter_init (&iter, dict);
      while (g_variant_iter_next (&iter, "{&st}", &name, &n))
        g_string_append_printf (s, "%s%s %" G_GUINT64_FORMAT, s->len ? ", " : "", name, n);
    }
  if (s->len == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

static const char *
lookup_str (GVariant *dict,
            const char *key)
{
  const char *v = "";

  g_variant_lookup (dict, key, "&s", &v);
  return v;
}

int
ctl_cmd_debug_filter (int argc,
                      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  g_autoptr(GVariant) stats = NULL, accepted = NULL, dropped = NULL, rules = NULL;
  g_autofree const char **rejected = NULL;
  g_autofree char *acc = NULL, *drop = NULL;
  gboolean installed = FALSE, shields = FALSE, deny_all = FALSE;
  guint32 server_rules = 0;
  guint64 rejects = 0;
  int code = CTL_EXIT_OK;
  GVariantIter iter;
  GVariant *rule;

  if (argc != 1)
    return ctl_usage_error ("usage: hyphaectl debug filter");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if (!hyphae_mesh1_call_get_filter_stats_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, &stats, NULL, &error))
    return ctl_error_exit (error);
  g_variant_lookup (stats, "Installed", "b", &installed);
  if (!installed)
    {
      printf ("Packet filter: none in force (no network map yet, or not running)\n");
      return CTL_EXIT_OK;
    }
  g_variant_lookup (stats, "ShieldsUp", "b", &shields);
  g_variant_lookup (stats, "DenyAll", "b", &deny_all);
  g_variant_lookup (stats, "ServerRules", "u", &server_rules);
  g_variant_lookup (stats, "RejectsSent", "t", &rejects);
  g_variant_lookup (stats, "Rejected", "^a&s", &rejected);
  accepted = g_variant_lookup_value (stats, "Accepted", G_VARIANT_TYPE ("a{st}"));
  dropped = g_variant_lookup_value (stats, "Dropped", G_VARIANT_TYPE ("a{st}"));
  rules = g_variant_lookup_value (stats, "Rules", G_VARIANT_TYPE ("aa{sv}"));
  acc = reasons_text (accepted);
  drop = reasons_text (dropped);

  printf ("Packet filter: %u rule(s) from the control server%s\n", server_rules, shields ? ", shields up" : "");
  if (deny_all)
    printf ("Deny all: %s\n", lookup_str (stats, "Why"));
  printf ("Accepted: %s\n", acc);
  printf ("Dropped: %s\n", drop);
  printf ("Rejects sent: %" G_GUINT64_FORMAT "\n", rejects);
  if (rules != NULL)
    {
      g_variant_iter_init (&iter, rules);
      while ((rule = g_variant_iter_next_value (&iter)) != NULL)
        {
          guint32 index = 0;
          guint64 accepts = 0, drops = 0;

          g_variant_lookup (rule, "Index", "u", &index);
          g_variant_lookup (rule, "Accepts", "t", &accepts);
          g_variant_lookup (rule, "Drops", "t", &drops);
          printf ("rule %u: accepts %" G_GUINT64_FORMAT " drops %" G_GUINT64_FORMAT " from %s to %s proto %s\n",
                  index, accepts, drops, lookup_str (rule, "Sources"), lookup_str (rule, "Destinations"),
                  lookup_str (rule, "Protocols"));
          g_variant_unref (rule);
        }
    }
  for (guint i = 0; rejected != NULL && rejected[i] != NULL; i++)
    printf ("left out: %s\n", rejected[i]);
  return CTL_EXIT_OK;
}
