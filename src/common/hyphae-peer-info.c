/* SPDX-License-Identifier: MIT */
#include "hyphae-peer-info.h"

#include <string.h>

/* WireGuard rekeys every 2 minutes while traffic flows (REKEY_AFTER_TIME). */
#define ACTIVE_HANDSHAKE_SECONDS 180

G_DEFINE_BOXED_TYPE (HyphaePeerInfo, hyphae_peer_info, hyphae_peer_info_ref, hyphae_peer_info_unref)
G_DEFINE_BOXED_TYPE (HyphaeTailnetInfo, hyphae_tailnet_info, hyphae_tailnet_info_ref, hyphae_tailnet_info_unref)

/* g_variant_lookup() reads a value only if it has the asked type: a key of
 * another type reads as absent. dict is a{sv} (checked by the callers). */

static char *
dup_str (GVariant *dict,
         const char *key)
{
  const char *s = "";

  g_variant_lookup (dict, key, "&s", &s);
  return g_strdup (s);
}

static char **
dup_strv (GVariant *dict,
          const char *key)
{
  g_autofree const char **v = NULL;

  if (!g_variant_lookup (dict, key, "^a&s", &v))
    return g_new0 (char *, 1);
  return g_strdupv ((char **) v);
}

static gboolean
get_bool (GVariant *dict,
          const char *key)
{
  gboolean b = FALSE;

  g_variant_lookup (dict, key, "b", &b);
  return b;
}

static gint64
get_int64 (GVariant *dict,
           const char *key)
{
  gint64 x = 0;

  g_variant_lookup (dict, key, "x", &x);
  return x;
}

static guint64
get_uint64 (GVariant *dict,
            const char *key)
{
  guint64 t = 0;

  g_variant_lookup (dict, key, "t", &t);
  return t;
}

static gboolean
is_vardict (GVariant *v)
{
  return v != NULL && g_variant_is_of_type (v, G_VARIANT_TYPE_VARDICT);
}

/* ---------------------------------------------------------------- a peer */

HyphaePeerInfo *
hyphae_peer_info_new (GVariant *dict)
{
  HyphaePeerInfo *info = g_atomic_rc_box_new0 (HyphaePeerInfo);
  g_autoptr(GVariant) empty = NULL;

  if (!is_vardict (dict))
    dict = empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  info->stable_id = dup_str (dict, "ID");
  info->node_id = get_int64 (dict, "NodeID");
  info->public_key = dup_str (dict, "PublicKey");
  info->host_name = dup_str (dict, "HostName");
  info->dns_name = dup_str (dict, "DNSName");
  info->os = dup_str (dict, "OS");
  info->user_id = get_int64 (dict, "UserID");
  info->user_login_name = dup_str (dict, "UserLoginName");
  info->addresses = dup_strv (dict, "TailscaleIPs");
  info->online = get_bool (dict, "Online");
  info->last_seen = get_int64 (dict, "LastSeen");
  info->key_expiry = get_int64 (dict, "KeyExpiry");
  info->expired = get_bool (dict, "Expired");
  info->exit_node_option = get_bool (dict, "ExitNodeOption");
  info->exit_node = get_bool (dict, "ExitNode");
  info->cur_addr = dup_str (dict, "CurAddr");
  info->relay = dup_str (dict, "Relay");
  info->endpoints = dup_strv (dict, "Addrs");
  info->rx_bytes = get_uint64 (dict, "RxBytes");
  info->tx_bytes = get_uint64 (dict, "TxBytes");
  info->last_handshake = get_int64 (dict, "LastHandshake");
  return info;
}

HyphaePeerInfo *
hyphae_peer_info_new_self (GVariant *dict)
{
  if (!is_vardict (dict) || g_variant_n_children (dict) == 0)
    return NULL;
  return hyphae_peer_info_new (dict);
}

GPtrArray *
hyphae_peer_info_list_new (GVariant *peers)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_peer_info_unref);
  GVariantIter iter;
  GVariant *dict;

  if (peers == NULL || !g_variant_is_of_type (peers, G_VARIANT_TYPE ("aa{sv}")))
    return list;
  g_variant_iter_init (&iter, peers);
  while ((dict = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_ptr_array_add (list, hyphae_peer_info_new (dict));
      g_variant_unref (dict);
    }
  return list;
}

HyphaePeerInfo *
hyphae_peer_info_ref (HyphaePeerInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return g_atomic_rc_box_acquire (info);
}

static void
peer_info_clear (gpointer data)
{
  HyphaePeerInfo *info = data;

  g_free (info->stable_id);
  g_free (info->public_key);
  g_free (info->host_name);
  g_free (info->dns_name);
  g_free (info->os);
  g_free (info->user_login_name);
  g_strfreev (info->addresses);
  g_free (info->cur_addr);
  g_free (info->relay);
  g_strfreev (info->endpoints);
}

void
hyphae_peer_info_unref (HyphaePeerInfo *info)
{
  g_return_if_fail (info != NULL);
  g_atomic_rc_box_release_full (info, peer_info_clear);
}

static gboolean
strv_equal (char **a,
            char **b)
{
  return g_strv_equal ((const char * const *) a, (const char * const *) b);
}

gboolean
hyphae_peer_info_equal (const HyphaePeerInfo *a,
                        const HyphaePeerInfo *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  return a == b ||
         (g_str_equal (a->stable_id, b->stable_id) && a->node_id == b->node_id &&
          g_str_equal (a->public_key, b->public_key) && g_str_equal (a->host_name, b->host_name) &&
          g_str_equal (a->dns_name, b->dns_name) && g_str_equal (a->os, b->os) && a->user_id == b->user_id &&
          g_str_equal (a->user_login_name, b->user_login_name) && strv_equal (a->addresses, b->addresses) &&
          a->online == b->online && a->last_seen == b->last_seen && a->key_expiry == b->key_expiry &&
          a->expired == b->expired && a->exit_node_option == b->exit_node_option && a->exit_node == b->exit_node &&
          g_str_equal (a->cur_addr, b->cur_addr) && g_str_equal (a->relay, b->relay) &&
          strv_equal (a->endpoints, b->endpoints) && a->rx_bytes == b->rx_bytes && a->tx_bytes == b->tx_bytes &&
          a->last_handshake == b->last_handshake);
}

gboolean
hyphae_peer_info_is_active (const HyphaePeerInfo *info,
                            gint64 now_unix)
{
  g_return_val_if_fail (info != NULL, FALSE);
  return info->last_handshake != 0 && now_unix - info->last_handshake < ACTIVE_HANDSHAKE_SECONDS;
}

gboolean
hyphae_peer_info_matches (const HyphaePeerInfo *info,
                          const char *what)
{
  g_autofree char *dns = NULL;
  g_autofree char *label = NULL;
  gsize len;

  g_return_val_if_fail (info != NULL, FALSE);
  g_return_val_if_fail (what != NULL, FALSE);

  if (strcmp (info->stable_id, what) == 0 || g_ascii_strcasecmp (info->host_name, what) == 0)
    return TRUE;
  dns = g_strdup (info->dns_name);
  len = strlen (dns);
  if (len > 0 && dns[len - 1] == '.')
    dns[--len] = '\0';
  label = g_strndup (dns, strcspn (dns, "."));
  if (len > 0 && (g_ascii_strcasecmp (dns, what) == 0 ||
                  g_ascii_strcasecmp (info->dns_name, what) == 0 ||
                  g_ascii_strcasecmp (label, what) == 0))
    return TRUE;
  return g_strv_contains ((const char * const *) info->addresses, what);
}

void
hyphae_peer_info_list_reuse (GPtrArray *infos,
                             GHashTable **last)
{
  GHashTable *now;

  g_return_if_fail (infos != NULL && last != NULL);

  now = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) hyphae_peer_info_unref);
  for (guint i = 0; i < infos->len; i++)
    {
      HyphaePeerInfo *info = g_ptr_array_index (infos, i);
      HyphaePeerInfo *before = *last != NULL ? g_hash_table_lookup (*last, info->stable_id) : NULL;

      if (before != NULL && hyphae_peer_info_equal (before, info))
        {
          hyphae_peer_info_unref (info);
          info = infos->pdata[i] = hyphae_peer_info_ref (before);
        }
      g_hash_table_replace (now, info->stable_id, hyphae_peer_info_ref (info));
    }
  g_clear_pointer (last, g_hash_table_unref);
  *last = now;
}

/* ------------------------------------------------------------ the tailnet */

HyphaeTailnetInfo *
hyphae_tailnet_info_new (GVariant *dict)
{
  HyphaeTailnetInfo *info;

  if (!is_vardict (dict) || g_variant_n_children (dict) == 0)
    return NULL;
  info = g_atomic_rc_box_new0 (HyphaeTailnetInfo);
  info->name = dup_str (dict, "Name");
  info->magicdns_suffix = dup_str (dict, "MagicDNSSuffix");
  info->magicdns_enabled = get_bool (dict, "MagicDNSEnabled");
  return info;
}

HyphaeTailnetInfo *
hyphae_tailnet_info_ref (HyphaeTailnetInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  return g_atomic_rc_box_acquire (info);
}

static void
tailnet_info_clear (gpointer data)
{
  HyphaeTailnetInfo *info = data;

  g_free (info->name);
  g_free (info->magicdns_suffix);
}

void
hyphae_tailnet_info_unref (HyphaeTailnetInfo *info)
{
  g_return_if_fail (info != NULL);
  g_atomic_rc_box_release_full (info, tailnet_info_clear);
}
