/* SPDX-License-Identifier: MIT */
/* NetworkManager mode: NM's global DNS configuration carries our nameservers
 * and search domains, so the resolv.conf NM writes has them (NM's D-Bus API,
 * org.freedesktop.NetworkManager GlobalDnsConfiguration and DnsManager;
 * NetworkManager.conf(5) [global-dns]). A global configuration replaces every
 * connection's DNS in what NM writes: NM's own nameservers become MagicDNS's
 * fallback, as the original resolv.conf's do in direct mode. */
#include "hyphae-os-dns-private.h"

#include <string.h>

#define NM_PATH  "/org/freedesktop/NetworkManager"
#define NM_IFACE "org.freedesktop.NetworkManager"
#define PROPERTY "GlobalDnsConfiguration"
/* As the resolved calls: a daemon that hangs must not hang us. */
#define CALL_TIMEOUT_MS 2000

gboolean
hyphae_nm_manages_dns (NMClient *client)
{
  const char *mode;
  const char *rc_manager;

  if (client == NULL || !nm_client_get_nm_running (client))
    return FALSE;
  mode = nm_client_get_dns_mode (client);
  rc_manager = nm_client_get_dns_rc_manager (client);
  return g_strcmp0 (mode, "none") != 0 && g_strcmp0 (rc_manager, "unmanaged") != 0;
}

GVariant *
hyphae_nm_get_global_dns (GDBusConnection *bus,
                          GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  GVariant *value = NULL;

  reply = g_dbus_connection_call_sync (bus, NM_DBUS_SERVICE, NM_PATH, "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", NM_IFACE, PROPERTY), G_VARIANT_TYPE ("(v)"),
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    {
      g_prefix_error (error, "NetworkManager %s: ", PROPERTY);
      return NULL;
    }
  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      g_variant_unref (value);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "NetworkManager %s is not a{sv}", PROPERTY);
      return NULL;
    }
  return value;
}

gboolean
hyphae_nm_set_global_dns (GDBusConnection *bus,
                          GVariant *config,
                          GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  /* nm_client_dbus_set_property is asynchronous only; the same call, waited
   * for (NM checks polkit's …settings.modify.global-dns; root passes). */
  reply = g_dbus_connection_call_sync (bus, NM_DBUS_SERVICE, NM_PATH, "org.freedesktop.DBus.Properties", "Set",
                                       g_variant_new ("(ssv)", NM_IFACE, PROPERTY, config), NULL,
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    {
      if (error != NULL && *error != NULL)
        g_dbus_error_strip_remote_error (*error);
      g_prefix_error (error, "NetworkManager %s: ", PROPERTY);
      return FALSE;
    }
  return TRUE;
}

static const char * const *
strv_or_empty (char **v)
{
  static const char * const none[] = { NULL };

  return v != NULL ? (const char * const *) v : none;
}

GVariant *
hyphae_nm_global_dns_new (const HyphaeOsDnsPlan *plan,
                          char **base_servers,
                          char **extra_search)
{
  g_autoptr(GPtrArray) search = g_ptr_array_new ();
  char **servers = plan->nameservers != NULL && plan->nameservers[0] != NULL ? plan->nameservers : base_servers;
  GVariantBuilder domain, domains, config;

  for (guint i = 0; plan->search_domains != NULL && plan->search_domains[i] != NULL; i++)
    g_ptr_array_add (search, plan->search_domains[i]);
  for (guint i = 0; extra_search != NULL && extra_search[i] != NULL; i++)
    if (!g_strv_contains ((const char * const *) plan->search_domains, extra_search[i]))
      g_ptr_array_add (search, extra_search[i]);
  g_ptr_array_add (search, NULL);

  g_variant_builder_init (&domain, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&domain, "{sv}", "servers", g_variant_new_strv (strv_or_empty (servers), -1));
  g_variant_builder_init (&domains, G_VARIANT_TYPE_VARDICT);
  /* "*" only: NM writes per-domain servers nowhere with dns=default, and
   * MagicDNS routes by domain itself. */
  g_variant_builder_add (&domains, "{sv}", "*", g_variant_builder_end (&domain));
  g_variant_builder_init (&config, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&config, "{sv}", "searches",
                         g_variant_new_strv ((const char * const *) search->pdata, -1));
  g_variant_builder_add (&config, "{sv}", "domains", g_variant_builder_end (&domains));
  return g_variant_builder_end (&config);
}

static char **
lookup_strv (GVariant *dict,
             const char *key)
{
  g_autoptr(GVariant) v = dict != NULL ? g_variant_lookup_value (dict, key, G_VARIANT_TYPE_STRING_ARRAY) : NULL;

  return v != NULL ? g_variant_dup_strv (v, NULL) : g_new0 (char *, 1);
}

char **
hyphae_nm_global_dns_servers (GVariant *config)
{
  g_autoptr(GVariant) domains = g_variant_lookup_value (config, "domains", G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) star = domains != NULL ? g_variant_lookup_value (domains, "*", G_VARIANT_TYPE_VARDICT) : NULL;

  return lookup_strv (star, "servers");
}

char **
hyphae_nm_global_dns_searches (GVariant *config)
{
  return lookup_strv (config, "searches");
}

gboolean
hyphae_nm_global_dns_same (GVariant *a,
                           GVariant *b)
{
  g_auto(GStrv) sa = hyphae_nm_global_dns_servers (a);
  g_auto(GStrv) sb = hyphae_nm_global_dns_servers (b);
  g_auto(GStrv) qa = hyphae_nm_global_dns_searches (a);
  g_auto(GStrv) qb = hyphae_nm_global_dns_searches (b);

  return g_strv_equal ((const char * const *) sa, (const char * const *) sb) &&
         g_strv_equal ((const char * const *) qa, (const char * const *) qb);
}

gboolean
hyphae_nm_global_dns_has_magic (GVariant *config)
{
  g_auto(GStrv) servers = hyphae_nm_global_dns_servers (config);

  return g_strv_contains ((const char * const *) servers, HYPHAE_DNS_SERVICE_IPV4) ||
         g_strv_contains ((const char * const *) servers, HYPHAE_DNS_SERVICE_IPV6);
}

static void
add_unique (GPtrArray *names,
            const char *name)
{
  for (guint i = 0; i < names->len; i++)
    if (g_ascii_strcasecmp (names->pdata[i], name) == 0)
      return;
  g_ptr_array_add (names, g_strdup (name));
}

/* Where iface comes in NM's DnsManager Configuration (its priority order),
 * G_MAXUINT when it is not there. */
static guint
dns_rank (const GPtrArray *entries,
          const char *iface)
{
  for (guint i = 0; entries != NULL && iface != NULL && i < entries->len; i++)
    if (g_strcmp0 (nm_dns_entry_get_interface (entries->pdata[i]), iface) == 0)
      return i;
  return G_MAXUINT;
}

static int
cmp_rank (gconstpointer a,
          gconstpointer b,
          gpointer user_data)
{
  guint ra = dns_rank (user_data, nm_device_get_ip_iface (*(NMDevice * const *) a));
  guint rb = dns_rank (user_data, nm_device_get_ip_iface (*(NMDevice * const *) b));

  return ra < rb ? -1 : ra > rb;
}

static void
add_config (NMIPConfig *config,
            GPtrArray *servers,
            GPtrArray *domains)
{
  const char * const *ns = config != NULL ? nm_ip_config_get_nameservers (config) : NULL;
  const char * const *lists[2] = { config != NULL ? nm_ip_config_get_searches (config) : NULL,
                                   config != NULL ? nm_ip_config_get_domains (config) : NULL };

  for (guint j = 0; ns != NULL && ns[j] != NULL; j++)
    if (strcmp (ns[j], HYPHAE_DNS_SERVICE_IPV4) != 0 && strcmp (ns[j], HYPHAE_DNS_SERVICE_IPV6) != 0)
      add_unique (servers, ns[j]);
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint j = 0; lists[l] != NULL && lists[l][j] != NULL; j++)
      if (lists[l][j][0] != '~' && lists[l][j][0] != '\0')
        add_unique (domains, lists[l][j]);
}

void
hyphae_nm_own_dns (NMClient *client,
                   char ***nameservers,
                   char ***search)
{
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) devices = g_ptr_array_new ();
  const GPtrArray *all = client != NULL ? nm_client_get_devices (client) : NULL;
  const GPtrArray *entries = client != NULL ? nm_client_get_dns_configuration (client) : NULL;

  /* The devices' own IP configurations: with a global configuration set, NM
   * stops updating its DnsManager Configuration (seen with 1.42), but a new
   * network's DHCP still reaches the device's IP4Config/IP6Config. Their
   * order is DnsManager's (priority), which it lists for the devices it had. */
  for (guint i = 0; all != NULL && i < all->len; i++)
    if (nm_device_get_state (all->pdata[i]) == NM_DEVICE_STATE_ACTIVATED)
      g_ptr_array_add (devices, all->pdata[i]);
  g_ptr_array_sort_with_data (devices, cmp_rank, (gpointer) entries);
  for (guint i = 0; i < devices->len; i++)
    {
      add_config (nm_device_get_ip4_config (devices->pdata[i]), servers, domains);
      add_config (nm_device_get_ip6_config (devices->pdata[i]), servers, domains);
    }
  g_ptr_array_add (servers, NULL);
  g_ptr_array_add (domains, NULL);
  *nameservers = (char **) g_ptr_array_steal (servers, NULL);
  *search = (char **) g_ptr_array_steal (domains, NULL);
}
