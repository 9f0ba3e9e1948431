/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray-dbus"

#include "config.h"

#include "hyphae-tray-dbus.h"

GDBusInterfaceInfo *
hyphae_tray_dbus_interface_info (const char *name)
{
  static GHashTable *infos; /* name → GDBusNodeInfo; the main thread's */
  g_autofree char *path = NULL;
  g_autoptr (GBytes) xml = NULL;
  GDBusNodeInfo *node;

  if (infos == NULL)
    infos = g_hash_table_new (g_str_hash, g_str_equal);
  if ((node = g_hash_table_lookup (infos, name)) == NULL)
    {
      path = g_strdup_printf ("/io/github/hyphae/Hyphae/tray/%s.xml", name);
      xml = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
      node = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), NULL);
      g_hash_table_insert (infos, g_strdup (name), node);
    }
  return g_dbus_node_info_lookup_interface (node, name);
}

void
hyphae_tray_dbus_emit (GDBusConnection *connection,
                       const char *path,
                       const char *interface,
                       const char *signal,
                       GVariant *params)
{
  g_autoptr (GError) error = NULL;

  if (connection == NULL)
    {
      if (params != NULL)
        g_variant_unref (g_variant_ref_sink (params));
      return;
    }
  /* Fails only once the connection is closed: nobody is listening then. */
  if (!g_dbus_connection_emit_signal (connection, NULL, path, interface, signal, params, &error))
    g_debug ("%s: %s", signal, error->message);
}
