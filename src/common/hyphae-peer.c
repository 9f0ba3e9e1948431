/* SPDX-License-Identifier: MIT */
#include "hyphae-peer.h"

#include <string.h>

struct _HyphaePeer {
  GObject parent_instance;

  HyphaePeerInfo *info;
  /* Computed from info: */
  char *magic_dns_name;
  char *display_name;
  char *search_text;
  char *ipv4;
  char *ipv6;
};

G_DEFINE_FINAL_TYPE (HyphaePeer, hyphae_peer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NODE_ID,
  PROP_PUBLIC_KEY,
  PROP_HOST_NAME,
  PROP_DNS_NAME,
  PROP_MAGIC_DNS_NAME,
  PROP_OS,
  PROP_USER_LOGIN,
  PROP_ADDRESSES,
  PROP_IPV4,
  PROP_IPV6,
  PROP_ONLINE,
  PROP_LAST_SEEN,
  PROP_KEY_EXPIRY,
  PROP_EXPIRED,
  PROP_EXIT_NODE_OPTION,
  PROP_IS_EXIT_NODE,
  PROP_CUR_ADDR,
  PROP_RELAY,
  PROP_ENDPOINTS,
  PROP_RX_BYTES,
  PROP_TX_BYTES,
  PROP_LAST_HANDSHAKE,
  PROP_DISPLAY_NAME,
  PROP_SEARCH_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------- computed values */

static char *
trim_dot (const char *dns_name)
{
  gsize len = strlen (dns_name);

  if (len > 0 && dns_name[len - 1] == '.')
    len--;
  return g_strndup (dns_name, len);
}

static char *
first_address (char **addresses,
               gboolean v6)
{
  for (guint i = 0; addresses[i] != NULL; i++)
    if ((strchr (addresses[i], ':') != NULL) == v6)
      return g_strdup (addresses[i]);
  return g_strdup ("");
}

static char *
display_name_of (const char *magic_dns_name,
                 const char *host_name)
{
  if (*magic_dns_name != '\0')
    return g_strndup (magic_dns_name, strcspn (magic_dns_name, "."));
  return g_strdup (host_name);
}

/* Lowercase, one field per line, so a search for "a b" never matches
 * across two fields. */
static char *
search_text_of (const HyphaePeerInfo *info,
                const char *magic_dns_name)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *joined = g_strjoinv ("\n", info->addresses);

  g_string_append_printf (s, "%s\n%s\n%s\n%s", info->host_name, magic_dns_name, joined, info->os);
  return g_utf8_strdown (s->str, -1);
}

static void
set_info (HyphaePeer *self,
          HyphaePeerInfo *info)
{
  g_clear_pointer (&self->info, hyphae_peer_info_unref);
  self->info = hyphae_peer_info_ref (info);
  g_free (self->magic_dns_name);
  self->magic_dns_name = trim_dot (info->dns_name);
  g_free (self->display_name);
  self->display_name = display_name_of (self->magic_dns_name, info->host_name);
  g_free (self->search_text);
  self->search_text = search_text_of (info, self->magic_dns_name);
  g_free (self->ipv4);
  self->ipv4 = first_address (info->addresses, FALSE);
  g_free (self->ipv6);
  self->ipv6 = first_address (info->addresses, TRUE);
}

/* ---------------------------------------------------------------- update */

typedef struct {
  HyphaePeer *peer;
  HyphaePeerChanged changed;
} Diff;

static void
mark (Diff *d,
      guint prop,
      HyphaePeerChanged kind)
{
  g_object_notify_by_pspec (G_OBJECT (d->peer), properties[prop]);
  d->changed |= kind;
}

static void
diff_str (Diff *d,
          const char *a,
          const char *b,
          guint prop,
          HyphaePeerChanged kind)
{
  if (g_strcmp0 (a, b) != 0)
    mark (d, prop, kind);
}

static void
diff_strv (Diff *d,
           char **a,
           char **b,
           guint prop)
{
  if (!g_strv_equal ((const char * const *) a, (const char * const *) b))
    mark (d, prop, HYPHAE_PEER_CHANGED_OTHER);
}

static void
diff_int (Diff *d,
          gint64 a,
          gint64 b,
          guint prop,
          HyphaePeerChanged kind)
{
  if (a != b)
    mark (d, prop, kind);
}

HyphaePeerChanged
hyphae_peer_update (HyphaePeer *self,
                    HyphaePeerInfo *info)
{
  const HyphaePeerChanged other = HYPHAE_PEER_CHANGED_OTHER;
  g_autoptr(HyphaePeerInfo) o = NULL;
  g_autofree char *o_magic = NULL, *o_display = NULL, *o_search = NULL, *o_ipv4 = NULL, *o_ipv6 = NULL;
  Diff d = { self, HYPHAE_PEER_CHANGED_NONE };

  g_return_val_if_fail (HYPHAE_IS_PEER (self), HYPHAE_PEER_CHANGED_NONE);
  g_return_val_if_fail (info != NULL, HYPHAE_PEER_CHANGED_NONE);

  if (info == self->info)
    return HYPHAE_PEER_CHANGED_NONE;
  /* Keep the old values to compare with, then take the new ones: the
   * notifies queued below run at thaw, when the getters give new values. */
  o = g_steal_pointer (&self->info);
  o_magic = g_steal_pointer (&self->magic_dns_name);
  o_display = g_steal_pointer (&self->display_name);
  o_search = g_steal_pointer (&self->search_text);
  o_ipv4 = g_steal_pointer (&self->ipv4);
  o_ipv6 = g_steal_pointer (&self->ipv6);
  set_info (self, info);

  g_object_freeze_notify (G_OBJECT (self));
  diff_str (&d, o->stable_id, info->stable_id, PROP_ID, other);
  diff_int (&d, o->node_id, info->node_id, PROP_NODE_ID, other);
  diff_str (&d, o->public_key, info->public_key, PROP_PUBLIC_KEY, other);
  diff_str (&d, o->host_name, info->host_name, PROP_HOST_NAME, other);
  diff_str (&d, o->dns_name, info->dns_name, PROP_DNS_NAME, other);
  diff_str (&d, o_magic, self->magic_dns_name, PROP_MAGIC_DNS_NAME, other);
  diff_str (&d, o->os, info->os, PROP_OS, other);
  diff_str (&d, o->user_login_name, info->user_login_name, PROP_USER_LOGIN, other);
  diff_strv (&d, o->addresses, info->addresses, PROP_ADDRESSES);
  diff_str (&d, o_ipv4, self->ipv4, PROP_IPV4, other);
  diff_str (&d, o_ipv6, self->ipv6, PROP_IPV6, other);
  diff_int (&d, o->online, info->online, PROP_ONLINE, HYPHAE_PEER_CHANGED_SORT_KEY);
  diff_int (&d, o->last_seen, info->last_seen, PROP_LAST_SEEN, other);
  diff_int (&d, o->key_expiry, info->key_expiry, PROP_KEY_EXPIRY, other);
  diff_int (&d, o->expired, info->expired, PROP_EXPIRED, other);
  diff_int (&d, o->exit_node_option, info->exit_node_option, PROP_EXIT_NODE_OPTION, other);
  diff_int (&d, o->exit_node, info->exit_node, PROP_IS_EXIT_NODE, other);
  diff_str (&d, o->cur_addr, info->cur_addr, PROP_CUR_ADDR, other);
  diff_str (&d, o->relay, info->relay, PROP_RELAY, other);
  diff_strv (&d, o->endpoints, info->endpoints, PROP_ENDPOINTS);
  diff_int (&d, (gint64) o->rx_bytes, (gint64) info->rx_bytes, PROP_RX_BYTES, other);
  diff_int (&d, (gint64) o->tx_bytes, (gint64) info->tx_bytes, PROP_TX_BYTES, other);
  diff_int (&d, o->last_handshake, info->last_handshake, PROP_LAST_HANDSHAKE, other);
  diff_str (&d, o_display, self->display_name, PROP_DISPLAY_NAME, HYPHAE_PEER_CHANGED_SORT_KEY);
  diff_str (&d, o_search, self->search_text, PROP_SEARCH_TEXT, HYPHAE_PEER_CHANGED_FILTER_KEY);
  g_object_thaw_notify (G_OBJECT (self));
  return d.changed;
}

/* ---------------------------------------------------------------- GObject */

HyphaePeer *
hyphae_peer_new (HyphaePeerInfo *info)
{
  HyphaePeer *self;

  g_return_val_if_fail (info != NULL, NULL);
  self = g_object_new (HYPHAE_TYPE_PEER, NULL);
  set_info (self, info);
  return self;
}

static void
hyphae_peer_finalize (GObject *object)
{
  HyphaePeer *self = HYPHAE_PEER (object);

  g_clear_pointer (&self->info, hyphae_peer_info_unref);
  g_free (self->magic_dns_name);
  g_free (self->display_name);
  g_free (self->search_text);
  g_free (self->ipv4);
  g_free (self->ipv6);
  G_OBJECT_CLASS (hyphae_peer_parent_class)->finalize (object);
}

static void
hyphae_peer_get_property (GObject *object,
                          guint prop_id,
                          GValue *value,
                          GParamSpec *pspec)
{
  HyphaePeer *self = HYPHAE_PEER (object);
  const HyphaePeerInfo *i = self->info;

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, i->stable_id); break;
    case PROP_NODE_ID: g_value_set_int64 (value, i->node_id); break;
    case PROP_PUBLIC_KEY: g_value_set_string (value, i->public_key); break;
    case PROP_HOST_NAME: g_value_set_string (value, i->host_name); break;
    case PROP_DNS_NAME: g_value_set_string (value, i->dns_name); break;
    case PROP_MAGIC_DNS_NAME: g_value_set_string (value, self->magic_dns_name); break;
    case PROP_OS: g_value_set_string (value, i->os); break;
    case PROP_USER_LOGIN: g_value_set_string (value, i->user_login_name); break;
    case PROP_ADDRESSES: g_value_set_boxed (value, i->addresses); break;
    case PROP_IPV4: g_value_set_string (value, self->ipv4); break;
    case PROP_IPV6: g_value_set_string (value, self->ipv6); break;
    case PROP_ONLINE: g_value_set_boolean (value, i->online); break;
    case PROP_LAST_SEEN: g_value_set_int64 (value, i->last_seen); break;
    case PROP_KEY_EXPIRY: g_value_set_int64 (value, i->key_expiry); break;
    case PROP_EXPIRED: g_value_set_boolean (value, i->expired); break;
    case PROP_EXIT_NODE_OPTION: g_value_set_boolean (value, i->exit_node_option); break;
    case PROP_IS_EXIT_NODE: g_value_set_boolean (value, i->exit_node); break;
    case PROP_CUR_ADDR: g_value_set_string (value, i->cur_addr); break;
    case PROP_RELAY: g_value_set_string (value, i->relay); break;
    case PROP_ENDPOINTS: g_value_set_boxed (value, i->endpoints); break;
    case PROP_RX_BYTES: g_value_set_uint64 (value, i->rx_bytes); break;
    case PROP_TX_BYTES: g_value_set_uint64 (value, i->tx_bytes); break;
    case PROP_LAST_HANDSHAKE: g_value_set_int64 (value, i->last_handshake); break;
    case PROP_DISPLAY_NAME: g_value_set_string (value, self->display_name); break;
    case PROP_SEARCH_TEXT: g_value_set_string (value, self->search_text); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
str_prop (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
bool_prop (const char *name)
{
  return g_param_spec_boolean (name, NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
int64_prop (const char *name)
{
  return g_param_spec_int64 (name, NULL, NULL, G_MININT64, G_MAXINT64, 0,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
uint64_prop (const char *name)
{
  return g_param_spec_uint64 (name, NULL, NULL, 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
strv_prop (const char *name)
{
  return g_param_spec_boxed (name, NULL, NULL, G_TYPE_STRV, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
hyphae_peer_class_init (HyphaePeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = hyphae_peer_finalize;
  object_class->get_property = hyphae_peer_get_property;

  properties[PROP_ID] = str_prop ("id");
  properties[PROP_NODE_ID] = int64_prop ("node-id");
  properties[PROP_PUBLIC_KEY] = str_prop ("public-key");
  properties[PROP_HOST_NAME] = str_prop ("host-name");
  properties[PROP_DNS_NAME] = str_prop ("dns-name");
  properties[PROP_MAGIC_DNS_NAME] = str_prop ("magic-dns-name");
  properties[PROP_OS] = str_prop ("os");
  properties[PROP_USER_LOGIN] = str_prop ("user-login");
  properties[PROP_ADDRESSES] = strv_prop ("addresses");
  properties[PROP_IPV4] = str_prop ("ipv4");
  properties[PROP_IPV6] = str_prop ("ipv6");
  properties[PROP_ONLINE] = bool_prop ("online");
  properties[PROP_LAST_SEEN] = int64_prop ("last-seen");
  properties[PROP_KEY_EXPIRY] = int64_prop ("key-expiry");
  properties[PROP_EXPIRED] = bool_prop ("expired");
  properties[PROP_EXIT_NODE_OPTION] = bool_prop ("exit-node-option");
  properties[PROP_IS_EXIT_NODE] = bool_prop ("is-exit-node");
  properties[PROP_CUR_ADDR] = str_prop ("cur-addr");
  properties[PROP_RELAY] = str_prop ("relay");
  properties[PROP_ENDPOINTS] = strv_prop ("endpoints");
  properties[PROP_RX_BYTES] = uint64_prop ("rx-bytes");
  properties[PROP_TX_BYTES] = uint64_prop ("tx-bytes");
  properties[PROP_LAST_HANDSHAKE] = int64_prop ("last-handshake");
  properties[PROP_DISPLAY_NAME] = str_prop ("display-name");
  properties[PROP_SEARCH_TEXT] = str_prop ("search-text");
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
hyphae_peer_init (HyphaePeer *self)
{
}

/* --------------------------------------------------------------- getters */

HyphaePeerInfo *
hyphae_peer_get_info (HyphaePeer *self)
{
  g_return_val_if_fail (HYPHAE_IS_PEER (self), NULL);
  return self->info;
}

#define GETTER(type, name, expr)                     \
  type hyphae_peer_get_##name (HyphaePeer *self)     \
  {                                                  \
    g_return_val_if_fail (HYPHAE_IS_PEER (self), 0); \
    return expr;                                     \
  }

GETTER (const char *, id, self->info->stable_id)
GETTER (const char *, host_name, self->info->host_name)
GETTER (const char *, dns_name, self->info->dns_name)
GETTER (const char *, magic_dns_name, self->magic_dns_name)
GETTER (const char *, display_name, self->display_name)
GETTER (const char *, search_text, self->search_text)
GETTER (const char *, os, self->info->os)
GETTER (const char * const *, addresses, (const char * const *) self->info->addresses)
GETTER (const char *, ipv4, self->ipv4)
GETTER (const char *, ipv6, self->ipv6)
GETTER (gboolean, online, self->info->online)
GETTER (gboolean, exit_node_option, self->info->exit_node_option)
GETTER (gboolean, is_exit_node, self->info->exit_node)
GETTER (gint64, last_seen, self->info->last_seen)
GETTER (gint64, key_expiry, self->info->key_expiry)
GETTER (const char *, cur_addr, self->info->cur_addr)
GETTER (const char *, relay, self->info->relay)
GETTER (guint64, rx_bytes, self->info->rx_bytes)
GETTER (guint64, tx_bytes, self->info->tx_bytes)
