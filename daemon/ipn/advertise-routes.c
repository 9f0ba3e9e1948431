/* SPDX-License-Identifier: MIT */
#include "advertise-routes.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

static gboolean
parse (const char *text, struct ip_prefix *p)
{
  return text != NULL && ip_prefix_parse (p, text, strlen (text));
}

static char *
format (const struct ip_prefix *p)
{
  char buf[IP_PREFIX_STRLEN];

  return g_strndup (buf, ip_prefix_format (p, buf));
}

/* netip.Prefix order as CalcAdvertiseRoutes sorts: length, then address
 * (IPv4 before IPv6). */
static int
compare_prefix (gconstpointer a, gconstpointer b)
{
  const struct ip_prefix *x = a, *y = b;

  if (x->bits != y->bits)
    return x->bits < y->bits ? -1 : 1;
  if (x->addr.family != y->addr.family)
    return x->addr.family == AF_INET ? -1 : 1;
  return memcmp (x->addr.bytes, y->addr.bytes, sizeof x->addr.bytes);
}

char **
hyphae_advertise_routes_normalize (const char * const *routes,
                                   GError **error)
{
  g_autoptr(GArray) list = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  gboolean default4 = FALSE, default6 = FALSE;
  GPtrArray *out;

  for (const char * const *r = routes; r != NULL && *r != NULL; r++)
    {
      struct ip_prefix p, m;
      gboolean dup = FALSE;

      if (!parse (*r, &p))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "“%s” is not a valid IP address or CIDR prefix", *r);
          return NULL;
        }
      m = ip_prefix_masked (&p);
      if (!ip_prefix_equal (&p, &m))
        {
          g_autofree char *masked = format (&m);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "%s has non-address bits set; expected %s", *r, masked);
          return NULL;
        }
      if (ip_prefix_is_default (&p))
        {
          default4 |= p.addr.family == AF_INET;
          default6 |= p.addr.family == AF_INET6;
        }
      for (guint i = 0; i < list->len && !dup; i++)
        dup = ip_prefix_equal (&g_array_index (list, struct ip_prefix, i), &p);
      if (!dup)
        g_array_append_val (list, p);
    }
  if (default4 != default6)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   default4 ? "0.0.0.0/0 advertised without its IPv6 counterpart, please also advertise ::/0"
                            : "::/0 advertised without its IPv4 counterpart, please also advertise 0.0.0.0/0");
      return NULL;
    }
  g_array_sort (list, compare_prefix);
  out = g_ptr_array_new ();
  for (guint i = 0; i < list->len; i++)
    g_ptr_array_add (out, format (&g_array_index (list, struct ip_prefix, i)));
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

gboolean
hyphae_advertise_routes_has_exit (const char * const *routes)
{
  gboolean v4 = FALSE, v6 = FALSE;

  for (const char * const *r = routes; r != NULL && *r != NULL; r++)
    {
      struct ip_prefix p;

      if (parse (*r, &p) && ip_prefix_is_default (&p))
        {
          v4 |= p.addr.family == AF_INET;
          v6 |= p.addr.family == AF_INET6;
        }
    }
  return v4 && v6;
}

/* What a /0 never offers (ipn/ipnlocal/local.go removeFromDefaultRoute). */
static const char * const never_offered[] = {
  "192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8", /* RFC 1918 */
  "169.254.0.0/16", "224.0.0.0/4",                 /* link-local, multicast */
  "100.64.0.0/10",                                 /* tailnet */
  "fe80::/10", "ff00::/8",                         /* link-local, multicast */
  "fd7a:115c:a1e0::/48",                           /* tailnet */
};

static gboolean
covered_by (const struct ip_prefix *p, const GArray *set)
{
  for (guint i = 0; i < set->len; i++)
    if (ip_prefix_contains_prefix (&g_array_index (set, struct ip_prefix, i), p))
      return TRUE;
  return FALSE;
}

/* p minus every prefix of remove, as prefixes: p whole when nothing of
 * remove lies inside it, else its two halves in turn (at most 128 levels
 * deep, two prefixes per level and removed prefix). */
static void
subtract (const struct ip_prefix *p, const GArray *remove, GArray *out)
{
  gboolean overlaps = FALSE;
  struct ip_prefix lo, hi;

  if (covered_by (p, remove))
    return;
  for (guint i = 0; i < remove->len && !overlaps; i++)
    overlaps = ip_prefix_contains_prefix (p, &g_array_index (remove, struct ip_prefix, i));
  if (!overlaps)
    {
      g_array_append_val (out, *p);
      return;
    }
  lo = hi = (struct ip_prefix) { .addr = p->addr, .bits = p->bits + 1 };
  hi.addr.bytes[p->bits / 8] |= 0x80 >> (p->bits % 8);
  subtract (&lo, remove, out);
  subtract (&hi, remove, out);
}

GArray *
hyphae_advertise_routes_local_nets (const char * const *routes,
                                    const struct ip_prefix *iface,
                                    guint n_iface)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  g_autoptr(GArray) never = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  g_autoptr(GArray) remove = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));

  for (gsize i = 0; i < G_N_ELEMENTS (never_offered); i++)
    {
      struct ip_prefix p;

      if (parse (never_offered[i], &p))
        g_array_append_val (never, p);
    }
  g_array_append_vals (remove, never->data, never->len);
  for (guint i = 0; i < n_iface; i++)
    {
      struct ip_prefix m = ip_prefix_masked (&iface[i]);

      if (!ip_prefix_is_host (&iface[i]) && !ip_addr_is_tailnet (&iface[i].addr))
        g_array_append_val (remove, m);
    }

  for (const char * const *r = routes; r != NULL && *r != NULL; r++)
    {
      struct ip_prefix p;

      if (!parse (*r, &p))
        continue;
      p = ip_prefix_masked (&p);
      if (!ip_prefix_is_default (&p))
        {
          g_array_append_val (out, p);
          continue;
        }
      subtract (&p, remove, out);
      /* The host's own addresses stay reachable, outside the forbidden ranges. */
      for (guint i = 0; i < n_iface; i++)
        {
          struct ip_prefix host = { .addr = iface[i].addr, .bits = ip_addr_bitlen (&iface[i].addr) };

          if (host.addr.family == p.addr.family && !ip_prefix_is_host (&iface[i]) &&
              !ip_addr_is_tailnet (&host.addr) && !covered_by (&host, never))
            g_array_append_val (out, host);
        }
    }
  return out;
}

static int
mask_bits (const struct sockaddr *mask)
{
  const guint8 *b;
  gsize n;
  int bits = 0;

  if (mask == NULL)
    return -1;
  if (mask->sa_family == AF_INET)
    b = (const guint8 *) &((const struct sockaddr_in *) (gconstpointer) mask)->sin_addr, n = 4;
  else if (mask->sa_family == AF_INET6)
    b = (const guint8 *) &((const struct sockaddr_in6 *) (gconstpointer) mask)->sin6_addr, n = 16;
  else
    return -1;
  for (gsize i = 0; i < n; i++)
    bits += __builtin_popcount (b[i]);
  return bits;
}

GArray *
hyphae_advertise_routes_interface_prefixes (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) != 0)
    return out;
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next)
    {
      struct ip_prefix p = { 0 };
      int bits = mask_bits (ifa->ifa_netmask);

      if (ifa->ifa_addr == NULL || bits < 0)
        continue;
      if (ifa->ifa_addr->sa_family == AF_INET)
        {
          p.addr.family = AF_INET;
          memcpy (p.addr.bytes, &((struct sockaddr_in *) (gpointer) ifa->ifa_addr)->sin_addr, 4);
        }
      else if (ifa->ifa_addr->sa_family == AF_INET6)
        {
          p.addr.family = AF_INET6;
          memcpy (p.addr.bytes, &((struct sockaddr_in6 *) (gpointer) ifa->ifa_addr)->sin6_addr, 16);
        }
      else
        continue;
      p.bits = (guint8) bits;
      g_array_append_val (out, p);
    }
  freeifaddrs (list);
  return out;
}
