/* SPDX-License-Identifier: MIT */
/* systemd-resolved mode: per-link DNS over D-Bus (org.freedesktop.resolve1,
 * man org.freedesktop.resolve1(5)). The sequence and its tolerances follow
 * Tailscale's net/dns/resolved.go. */
#include "hyphae-os-dns-private.h"

#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#define RESOLVED_PATH  "/org/freedesktop/resolve1"
#define RESOLVED_IFACE "org.freedesktop.resolve1.Manager"
/* Per call; Tailscale gives the whole reconfiguration 1 s (reconfigTimeout). */
#define CALL_TIMEOUT_MS 2000

static gboolean
call (GDBusConnection *bus,
      const char *method,
      GVariant *args,
      GError **error)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (bus, HYPHAE_RESOLVED_NAME, RESOLVED_PATH,
                                                            RESOLVED_IFACE, method, args, NULL,
                                                            G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                                                            NULL, error);

  return reply != NULL;
}

/* A failed call as the status shows it: "SetLinkDNS: Access denied". */
static gboolean
fail (GError **error,
      const char *method,
      GError *local)
{
  g_dbus_error_strip_remote_error (local);
  g_prefix_error (&local, "%s: ", method);
  g_propagate_error (error, local);
  return FALSE;
}

gboolean
hyphae_resolved_ping (GDBusConnection *bus)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (bus, HYPHAE_RESOLVED_NAME, RESOLVED_PATH,
                                                            "org.freedesktop.DBus.Peer", "Ping", NULL,
                                                            NULL, G_DBUS_CALL_FLAGS_NONE,
                                                            CALL_TIMEOUT_MS, NULL, NULL);

  return reply != NULL;
}

static GVariant *
link_dns (int ifindex,
          char **servers)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(iay)"));
  for (guint i = 0; servers[i] != NULL; i++)
    {
      guint8 ip[16];

      if (inet_pton (AF_INET, servers[i], ip) == 1)
        g_variant_builder_add (&b, "(i@ay)", AF_INET,
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, ip, 4, 1));
      else if (inet_pton (AF_INET6, servers[i], ip) == 1)
        g_variant_builder_add (&b, "(i@ay)", AF_INET6,
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, ip, 16, 1));
    }
  return g_variant_new ("(i@a(iay))", ifindex, g_variant_builder_end (&b));
}

/* Search domains, then routing-only match domains, then "." (the catch-all
 * over D-Bus; "~." is resolvectl syntax) when every name comes to us. */
static GVariant *
link_domains (int ifindex,
              const HyphaeOsDnsPlan *plan,
              gboolean with_arpa)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sb)"));
  for (guint i = 0; plan->search_domains[i] != NULL; i++)
    if (g_hash_table_add (seen, plan->search_domains[i]))
      g_variant_builder_add (&b, "(sb)", plan->search_domains[i], FALSE);
  for (guint i = 0; plan->match_domains[i] != NULL; i++)
    {
      if (!with_arpa && g_str_has_suffix (plan->match_domains[i], ".arpa"))
        continue;
      if (g_hash_table_add (seen, plan->match_domains[i]))
        g_variant_builder_add (&b, "(sb)", plan->match_domains[i], TRUE);
    }
  if (plan->default_route && g_strv_length (plan->nameservers) > 0)
    g_variant_builder_add (&b, "(sb)", ".", TRUE);
  return g_variant_new ("(i@a(sb))", ifindex, g_variant_builder_end (&b));
}

gboolean
hyphae_resolved_set_link (GDBusConnection *bus,
                          int ifindex,
                          const HyphaeOsDnsPlan *plan,
                          GError **error)
{
  static const char * const off[] = { "SetLinkLLMNR", "SetLinkMulticastDNS", "SetLinkDNSSEC",
                                      "SetLinkDNSOverTLS" };
  g_autoptr(GError) local = NULL;

  if (!call (bus, "SetLinkDNS", link_dns (ifindex, plan->nameservers), &local))
    return fail (error, "SetLinkDNS", g_steal_pointer (&local));
  if (!call (bus, "SetLinkDomains", link_domains (ifindex, plan, TRUE), &local))
    {
      /* Older resolved refuses 66 domains ("Argument list too long"). */
      if (strstr (local->message, "Argument list too long") == NULL)
        return fail (error, "SetLinkDomains", g_steal_pointer (&local));
      g_clear_error (&local);
      if (!call (bus, "SetLinkDomains", link_domains (ifindex, plan, FALSE), &local))
        return fail (error, "SetLinkDomains", g_steal_pointer (&local));
    }
  if (!call (bus, "SetLinkDefaultRoute", g_variant_new ("(ib)", ifindex, plan->default_route), &local))
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (local);

      /* resolved < 240 has no such method: routing domains still work. */
      if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.UnknownMethod") != 0)
        return fail (error, "SetLinkDefaultRoute", g_steal_pointer (&local));
      g_debug ("%s", local->message);
      g_clear_error (&local);
    }
  /* Our link answers only what MagicDNS knows: no multicast names, no
   * DNSSEC or DoT towards 100.100.100.100. Failures here are not fatal. */
  for (guint i = 0; i < G_N_ELEMENTS (off); i++)
    if (!call (bus, off[i], g_variant_new ("(is)", ifindex, "no"), &local))
      {
        /* A resolved that stopped answering: do not wait for it 2 s a call
         * (this runs on the daemon's main loop). */
        if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
          return fail (error, off[i], g_steal_pointer (&local));
        g_debug ("%s", local->message);
        g_clear_error (&local);
      }
  if (!call (bus, "FlushCaches", NULL, &local))
    g_message ("%s", local->message);
  return TRUE;
}

gboolean
hyphae_resolved_revert_link (GDBusConnection *bus,
                             int ifindex,
                             GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *remote = NULL;

  if (call (bus, "RevertLink", g_variant_new ("(i)", ifindex), &local))
    return TRUE;
  remote = g_dbus_error_get_remote_error (local);
  /* The link is gone (the TUN went with it): resolved forgot it already. */
  if (g_strcmp0 (remote, "org.freedesktop.resolve1.NoSuchLink") == 0)
    return TRUE;
  return fail (error, "RevertLink", g_steal_pointer (&local));
}
