/* SPDX-License-Identifier: MIT */
/*
 * tailcfg.DNSConfig JSON → HyphaeDnsConfig. The text passes the strict
 * scanner whole (hyphae-json.h) before json-glib builds the tree; then every
 * field we read is type-checked and bounded. Field names and meanings:
 * tailcfg/tailcfg.go (DNSConfig, DNSRecord), types/dnstype/dnstype.go
 * (Resolver, its Addr forms), util/dnsname/dnsname.go (ToFQDN: a leading
 * dot and a trailing dot are dropped, labels 1..63 bytes, ≤ 253 bytes).
 */
#include "hyphae-dns-config.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/ip.h"
#include "hyphae-json.h"

#define TEXT_MAX          (8 << 20) /* 10,000 records of ~100 bytes fit many times */
#define ROUTES_MAX        256
#define RESOLVERS_MAX     64
#define EXTRA_RECORDS_MAX 10000
#define DOMAINS_MAX       1024 /* Domains, CertDomains */
#define NAME_MAX_LEN      253
#define LABEL_MAX         63
#define ADDR_MAX          2048 /* a Resolver.Addr (a URL) */

/* ---- names --------------------------------------------------------------------- */

char *
hyphae_dns_name_normalize (const char *name,
                           GError **error)
{
  g_autofree char *out = NULL;
  gsize len, label = 0;

  g_return_val_if_fail (name != NULL, NULL);

  /* dnsname.ToFQDN: one leading dot and one trailing dot are dropped. */
  if (name[0] == '.')
    name++;
  len = strlen (name);
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "empty DNS name");
      return NULL;
    }
  if (len > NAME_MAX_LEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "DNS name of %" G_GSIZE_FORMAT " bytes (limit %d)", len, NAME_MAX_LEN);
      return NULL;
    }
  out = g_ascii_strdown (name, (gssize) len);
  for (gsize i = 0; i <= len; i++)
    {
      if (i == len || out[i] == '.')
        {
          if (label == 0 || label > LABEL_MAX)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "DNS name \"%s\": a label of %" G_GSIZE_FORMAT " bytes", out, label);
              return NULL;
            }
          label = 0;
          continue;
        }
      /* Printable ASCII only: names we answer or route are compared as
       * bytes, and nothing legitimate needs more. */
      if ((guchar) out[i] <= 0x20 || (guchar) out[i] >= 0x7f)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "DNS name: byte 0x%02x at %" G_GSIZE_FORMAT, (guchar) out[i], i);
          return NULL;
        }
      label++;
    }
  return g_steal_pointer (&out);
}

gboolean
hyphae_dns_name_has_suffix (const char *name,
                            const char *suffix)
{
  gsize n, s;

  g_return_val_if_fail (name != NULL && suffix != NULL, FALSE);
  n = strlen (name);
  s = strlen (suffix);
  if (s > n)
    return FALSE;
  if (strcmp (name + n - s, suffix) != 0)
    return FALSE;
  return n == s || name[n - s - 1] == '.';
}

/* ---- resolvers ----------------------------------------------------------------- */

void
hyphae_dns_resolver_free (HyphaeDnsResolver *resolver)
{
  if (resolver == NULL)
    return;
  g_free (resolver->addr);
  g_free (resolver->url);
  g_strfreev (resolver->bootstrap);
  g_free (resolver);
}

HyphaeDnsResolver *
hyphae_dns_resolver_copy (const HyphaeDnsResolver *resolver)
{
  HyphaeDnsResolver *copy;

  g_return_val_if_fail (resolver != NULL, NULL);
  copy = g_memdup2 (resolver, sizeof *resolver);
  copy->addr = g_strdup (resolver->addr);
  copy->url = g_strdup (resolver->url);
  copy->bootstrap = g_strdupv (resolver->bootstrap);
  return copy;
}

/* "ip" (port 53), "ip:port" or "[ip6]:port", as Resolver.IPPort reads them
 * (netip.ParseAddr, then netip.ParseAddrPort: common/ip.h parses the same). */
static gboolean
parse_ip_port (const char *addr,
               HyphaeDnsResolver *r)
{
  struct ip_port ipp = { .port = 53 };

  if (!ip_addr_parse (&ipp.addr, addr, strlen (addr)) && !ip_port_parse (&ipp, addr, strlen (addr)))
    return FALSE;
  if (ipp.port == 0)
    return FALSE; /* no server listens there */
  r->family = ipp.addr.family;
  memcpy (r->ip, ipp.addr.bytes, sizeof r->ip);
  r->port = ipp.port;
  return TRUE;
}

HyphaeDnsResolver *
hyphae_dns_resolver_parse (const char *addr,
                           GError **error)
{
  g_autoptr(HyphaeDnsResolver) r = NULL;

  g_return_val_if_fail (addr != NULL, NULL);

  if (addr[0] == '\0' || strlen (addr) > ADDR_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "resolver address of %" G_GSIZE_FORMAT " bytes", strlen (addr));
      return NULL;
    }
  r = g_new0 (HyphaeDnsResolver, 1);
  r->addr = g_strdup (addr);
  if (g_str_has_prefix (addr, "https://") || g_str_has_prefix (addr, "http://"))
    {
      g_autoptr(GUri) uri = g_uri_parse (addr, G_URI_FLAGS_NONE, NULL);

      if (uri == NULL || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "resolver \"%s\": not a URL", addr);
          return NULL;
        }
      r->kind = HYPHAE_DNS_RESOLVER_DOH;
      r->url = g_strdup (addr);
    }
  else if (g_str_has_prefix (addr, "tls://"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "resolver \"%s\": DNS over TLS is not supported", addr);
      return NULL;
    }
  else
    {
      r->kind = HYPHAE_DNS_RESOLVER_UDP;
      if (!parse_ip_port (addr, r))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "resolver \"%s\": not an IP, IP:port or http(s) URL", addr);
          return NULL;
        }
    }
  r->bootstrap = g_new0 (char *, 1);
  return g_steal_pointer (&r);
}

/* ---- JSON helpers ----------------------------------------------------------- */

/* The member into *out, NULL when absent or null (Go's zero value); FALSE
 * with an error for another JSON type (or, for a value, another GType). */
static gboolean
member (JsonObject *obj,
        const char *name,
        const char *where,
        JsonNodeType type,
        GType value_type,
        JsonNode **out,
        GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_TYPE (node) != type || (type == JSON_NODE_VALUE && json_node_get_value_type (node) != value_type))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s%s: wrong type", where, name);
      return FALSE;
    }
  *out = node;
  return TRUE;
}

static gboolean
get_string (JsonObject *obj,
            const char *name,
            const char *where,
            const char **out,
            GError **error)
{
  JsonNode *node;

  if (!member (obj, name, where, JSON_NODE_VALUE, G_TYPE_STRING, &node, error))
    return FALSE;
  *out = node != NULL ? json_node_get_string (node) : "";
  return TRUE;
}

static gboolean
get_bool (JsonObject *obj,
          const char *name,
          const char *where,
          gboolean *out,
          GError **error)
{
  JsonNode *node;

  if (!member (obj, name, where, JSON_NODE_VALUE, G_TYPE_BOOLEAN, &node, error))
    return FALSE;
  *out = node != NULL && json_node_get_boolean (node);
  return TRUE;
}

/* An array member (absent/null: empty, *out NULL) of at most max elements. */
static gboolean
get_array (JsonObject *obj,
           const char *name,
           const char *where,
           guint max,
           JsonArray **out,
           GError **error)
{
  JsonNode *node;

  *out = NULL;
  if (!member (obj, name, where, JSON_NODE_ARRAY, G_TYPE_INVALID, &node, error))
    return FALSE;
  if (node == NULL)
    return TRUE;
  *out = json_node_get_array (node);
  if (json_array_get_length (*out) > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s%s: %u entries (limit %u)", where,
                   name, json_array_get_length (*out), max);
      return FALSE;
    }
  return TRUE;
}

static const char *
element_string (JsonArray *array,
                guint i)
{
  JsonNode *node = json_array_get_element (array, i);

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static void
prefix_error (GError **error,
              const char *where,
              const char *field)
{
  if (error != NULL && *error != NULL)
    g_prefix_error (error, "%s%s: ", where, field);
}

/* ---- fields --------------------------------------------------------------------- */

/* A dnstype.Resolver object. NULL without error: skipped (tls://). */
static HyphaeDnsResolver *
parse_resolver (JsonNode *node,
                const char *where,
                GError **error)
{
  g_autoptr(HyphaeDnsResolver) r = NULL;
  g_autoptr(GError) local = NULL;
  JsonObject *obj;
  JsonArray *boot;
  const char *addr;
  gboolean with_exit;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not an object", where);
      return NULL;
    }
  obj = json_node_get_object (node);
  if (!get_string (obj, "Addr", where, &addr, error) ||
      !get_bool (obj, "UseWithExitNode", where, &with_exit, error) ||
      !get_array (obj, "BootstrapResolution", where, RESOLVERS_MAX, &boot, error))
    return NULL;
  r = hyphae_dns_resolver_parse (addr, &local);
  if (r == NULL)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        {
          g_debug ("%s: %s: skipped", where, local->message);
          return NULL;
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%sAddr: %s", where, local->message);
      return NULL;
    }
  r->use_with_exit_node = with_exit;
  if (boot != NULL)
    {
      GPtrArray *ips = g_ptr_array_new_with_free_func (g_free);

      for (guint i = 0; i < json_array_get_length (boot); i++)
        {
          const char *s = element_string (boot, i);
          struct ip_addr ip;
          char text[IP_ADDR_STRLEN];

          if (s == NULL || !ip_addr_parse (&ip, s, strlen (s)))
            {
              g_ptr_array_free (ips, TRUE);
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "%sBootstrapResolution[%u]: not an IP", where, i);
              return NULL;
            }
          ip_addr_format (&ip, text);
          g_ptr_array_add (ips, g_strdup (text));
        }
      g_ptr_array_set_free_func (ips, NULL);
      g_ptr_array_add (ips, NULL);
      g_strfreev (r->bootstrap);
      r->bootstrap = (char **) g_ptr_array_free (ips, FALSE);
    }
  return g_steal_pointer (&r);
}

/* A []*dnstype.Resolver (null/absent: empty). */
static gboolean
parse_resolver_list (JsonArray *array,
                     const char *where,
                     GPtrArray *out,
                     GError **error)
{
  if (array == NULL)
    return TRUE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *at = g_strdup_printf ("%s[%u].", where, i);
      g_autoptr(GError) local = NULL;
      HyphaeDnsResolver *r = parse_resolver (json_array_get_element (array, i), at, &local);

      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (r != NULL)
        g_ptr_array_add (out, r);
    }
  return TRUE;
}

static gboolean
parse_names (JsonObject *obj,
             const char *field,
             char ***out,
             GError **error)
{
  JsonArray *array;
  GPtrArray *names;

  if (!get_array (obj, field, "", DOMAINS_MAX, &array, error))
    return FALSE;
  names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      const char *s = element_string (array, i);
      char *name;

      if (s == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s[%u]: not a string", field, i);
          g_ptr_array_free (names, TRUE);
          return FALSE;
        }
      name = hyphae_dns_name_normalize (s, error);
      if (name == NULL)
        {
          g_prefix_error (error, "%s[%u]: ", field, i);
          g_ptr_array_free (names, TRUE);
          return FALSE;
        }
      g_ptr_array_add (names, name);
    }
  g_ptr_array_set_free_func (names, NULL);
  g_ptr_array_add (names, NULL);
  *out = (char **) g_ptr_array_free (names, FALSE);
  return TRUE;
}

void
hyphae_dns_route_free (HyphaeDnsRoute *route)
{
  if (route == NULL)
    return;
  g_free (route->suffix);
  g_ptr_array_unref (route->resolvers);
  g_free (route);
}

/* Longest suffix first, then by name (a stable order for equal lengths). */
static gint
route_cmp (gconstpointer a,
           gconstpointer b)
{
  const HyphaeDnsRoute *ra = *(HyphaeDnsRoute * const *) a;
  const HyphaeDnsRoute *rb = *(HyphaeDnsRoute * const *) b;
  gsize la = strlen (ra->suffix), lb = strlen (rb->suffix);

  if (la != lb)
    return la > lb ? -1 : 1;
  return strcmp (ra->suffix, rb->suffix);
}

static gboolean
parse_routes (JsonObject *obj,
              GPtrArray *routes,
              GError **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *node, *value;

  if (!member (obj, "Routes", "", JSON_NODE_OBJECT, G_TYPE_INVALID, &node, error))
    return FALSE;
  if (node == NULL)
    return TRUE;
  if (json_object_get_size (json_node_get_object (node)) > ROUTES_MAX)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Routes: %u entries (limit %d)",
                   json_object_get_size (json_node_get_object (node)), ROUTES_MAX);
      return FALSE;
    }
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value))
    {
      g_autofree char *where = NULL;
      HyphaeDnsRoute *route;
      char *suffix = hyphae_dns_name_normalize (key, error);

      if (suffix == NULL)
        {
          g_prefix_error (error, "Routes key: ");
          return FALSE;
        }
      where = g_strdup_printf ("Routes[%s]", suffix);
      route = g_new0 (HyphaeDnsRoute, 1);
      route->suffix = suffix;
      route->resolvers = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
      g_ptr_array_add (routes, route);
      for (guint i = 0; i + 1 < routes->len; i++)
        if (strcmp (((HyphaeDnsRoute *) g_ptr_array_index (routes, i))->suffix, suffix) == 0)
          {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: twice", where);
            return FALSE;
          }
      if (JSON_NODE_HOLDS_NULL (value))
        continue; /* nil slice: answered locally, as an empty one */
      if (!JSON_NODE_HOLDS_ARRAY (value))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not an array", where);
          return FALSE;
        }
      if (json_array_get_length (json_node_get_array (value)) > RESOLVERS_MAX)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %u resolvers (limit %d)",
                       where, json_array_get_length (json_node_get_array (value)), RESOLVERS_MAX);
          return FALSE;
        }
      if (!parse_resolver_list (json_node_get_array (value), where, route->resolvers, error))
        return FALSE;
    }
  g_ptr_array_sort (routes, route_cmp);
  return TRUE;
}

static gboolean
parse_extra_records (JsonObject *obj,
                     GArray *out,
                     GError **error)
{
  JsonArray *array;

  if (!get_array (obj, "ExtraRecords", "", EXTRA_RECORDS_MAX, &array, error))
    return FALSE;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      g_autofree char *where = g_strdup_printf ("ExtraRecords[%u].", i);
      JsonNode *node = json_array_get_element (array, i);
      struct ip_addr ip;
      HyphaeDnsExtraRecord rec = { 0 };
      const char *name, *type, *value;
      JsonObject *r;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "ExtraRecords[%u]: not an object", i);
          return FALSE;
        }
      r = json_node_get_object (node);
      if (!get_string (r, "Name", where, &name, error) || !get_string (r, "Type", where, &type, error) ||
          !get_string (r, "Value", where, &value, error))
        return FALSE;
      rec.name = hyphae_dns_name_normalize (name, error);
      if (rec.name == NULL)
        {
          prefix_error (error, where, "Name");
          return FALSE;
        }
      /* tailscaled skips other types and values that are not IPs, and takes
       * the family from the value whatever Type says. */
      if ((strcmp (type, "") != 0 && strcmp (type, "A") != 0 && strcmp (type, "AAAA") != 0) ||
          !ip_addr_parse (&ip, value, strlen (value)))
        {
          g_debug ("%s skipped (Type \"%s\", Value \"%s\")", where, type, value);
          g_free (rec.name);
          continue;
        }
      rec.type = ip.family == AF_INET6 ? 28 : 1;
      memcpy (rec.ip, ip.bytes, sizeof rec.ip);
      g_array_append_val (out, rec);
    }
  return TRUE;
}

static void
extra_record_clear (gpointer p)
{
  g_free (((HyphaeDnsExtraRecord *) p)->name);
}

/* ---- the config ----------------------------------------------------------------- */

static HyphaeDnsConfig *
config_new (void)
{
  HyphaeDnsConfig *c = g_new0 (HyphaeDnsConfig, 1);

  c->resolvers = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
  c->fallback_resolvers = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
  c->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_route_free);
  c->domains = g_new0 (char *, 1);
  c->cert_domains = g_new0 (char *, 1);
  c->extra_records = g_array_new (FALSE, TRUE, sizeof (HyphaeDnsExtraRecord));
  g_array_set_clear_func (c->extra_records, extra_record_clear);
  return c;
}

void
hyphae_dns_config_free (HyphaeDnsConfig *config)
{
  if (config == NULL)
    return;
  g_ptr_array_unref (config->resolvers);
  g_ptr_array_unref (config->fallback_resolvers);
  g_ptr_array_unref (config->routes);
  g_strfreev (config->domains);
  g_strfreev (config->cert_domains);
  g_array_unref (config->extra_records);
  g_free (config);
}

HyphaeDnsConfig *
hyphae_dns_config_parse (const char *json,
                         GError **error)
{
  g_autoptr(HyphaeDnsConfig) c = config_new ();
  g_autoptr(JsonObject) obj = NULL;
  JsonArray *array;

  if (json == NULL)
    return g_steal_pointer (&c);
  obj = hyphae_json_parse_object (json, strlen (json), TEXT_MAX, error);
  if (obj == NULL)
    {
      g_prefix_error (error, "DNSConfig: ");
      return NULL;
    }
  c->present = TRUE;
  g_strfreev (c->domains);
  g_strfreev (c->cert_domains);
  c->domains = c->cert_domains = NULL;
  if (!get_bool (obj, "Proxied", "", &c->proxied, error) ||
      !get_array (obj, "Resolvers", "", RESOLVERS_MAX, &array, error) ||
      !parse_resolver_list (array, "Resolvers", c->resolvers, error) ||
      !get_array (obj, "FallbackResolvers", "", RESOLVERS_MAX, &array, error) ||
      !parse_resolver_list (array, "FallbackResolvers", c->fallback_resolvers, error) ||
      !parse_routes (obj, c->routes, error) || !parse_names (obj, "Domains", &c->domains, error) ||
      !parse_names (obj, "CertDomains", &c->cert_domains, error) ||
      !parse_extra_records (obj, c->extra_records, error))
    {
      g_prefix_error (error, "DNSConfig: ");
      return NULL;
    }
  return g_steal_pointer (&c);
}

const HyphaeDnsRoute *
hyphae_dns_config_route_for (const HyphaeDnsConfig *config,
                             const char *name)
{
  g_return_val_if_fail (config != NULL && name != NULL, NULL);
  for (guint i = 0; i < config->routes->len; i++)
    {
      const HyphaeDnsRoute *route = g_ptr_array_index (config->routes, i);

      if (hyphae_dns_name_has_suffix (name, route->suffix))
        return route;
    }
  return NULL;
}
