/* SPDX-License-Identifier: MIT */
/*
 * Nodes (HyphaeNode) and the syntax of their values: keys, RFC 3339 times,
 * prefixes and endpoints, checked as strictly as Go's key, time and netip
 * types parse them, and written back in canonical form.
 */
#include "netmap-private.h"

#include <string.h>

#include "common/ip.h"
#include "crypto/keys.h"

/* ---- nodes ----------------------------------------------------------------- */

HyphaeNode *
hyphae_node_new (void)
{
  HyphaeNode *node = g_new0 (HyphaeNode, 1);

  node->ref_count = 1;
  return node;
}

HyphaeNode *
hyphae_node_ref (HyphaeNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);
  g_atomic_int_inc (&node->ref_count);
  return node;
}

void
hyphae_node_unref (HyphaeNode *node)
{
  if (node == NULL || !g_atomic_int_dec_and_test (&node->ref_count))
    return;
  g_free (node->stable_id);
  g_free (node->name);
  g_free (node->hostname);
  g_free (node->os);
  g_strfreev (node->addresses);
  g_strfreev (node->allowed_ips);
  g_strfreev (node->primary_routes);
  g_strfreev (node->endpoints);
  g_strfreev (node->tags);
  g_free (node->self_v4_masq_addr);
  g_free (node->self_v6_masq_addr);
  g_free (node->cap_map_json);
  g_free (node->exit_node_dns_resolvers_json);
  g_free (node);
}

/* A private, mutable copy (refcount 1) of a published node. */
HyphaeNode *
hyphae_node_copy (const HyphaeNode *src)
{
  HyphaeNode *node = g_memdup2 (src, sizeof *src);

  node->ref_count = 1;
  node->stable_id = g_strdup (src->stable_id);
  node->name = g_strdup (src->name);
  node->hostname = g_strdup (src->hostname);
  node->os = g_strdup (src->os);
  node->addresses = g_strdupv (src->addresses);
  node->allowed_ips = g_strdupv (src->allowed_ips);
  node->primary_routes = g_strdupv (src->primary_routes);
  node->endpoints = g_strdupv (src->endpoints);
  node->tags = g_strdupv (src->tags);
  node->self_v4_masq_addr = g_strdup (src->self_v4_masq_addr);
  node->self_v6_masq_addr = g_strdup (src->self_v6_masq_addr);
  node->cap_map_json = g_strdup (src->cap_map_json);
  node->exit_node_dns_resolvers_json = g_strdup (src->exit_node_dns_resolvers_json);
  return node;
}

static gboolean
strv_contains (char **v,
               const char *s)
{
  return v != NULL && g_strv_contains ((const char * const *) v, s);
}

/* upgradeNode (map.go) plus our derived fields, once a node is fully parsed. */
void
hyphae_node_finish (HyphaeNode *node,
                    const char *legacy_derp)
{
  if (node->stable_id == NULL)
    node->stable_id = g_strdup ("");
  if (node->name == NULL)
    node->name = g_strdup ("");
  if (node->hostname == NULL)
    node->hostname = g_strdup ("");
  if (node->os == NULL)
    node->os = g_strdup ("");
  if (node->addresses == NULL)
    node->addresses = g_new0 (char *, 1);
  if (node->primary_routes == NULL)
    node->primary_routes = g_new0 (char *, 1);
  if (node->endpoints == NULL)
    node->endpoints = g_new0 (char *, 1);
  if (node->tags == NULL)
    node->tags = g_new0 (char *, 1);

  /* Legacy "127.3.3.40:N" only when HomeDERP is not set (capver 111). */
  if (node->home_derp == 0 && legacy_derp != NULL &&
      g_str_has_prefix (legacy_derp, "127.3.3.40:"))
    {
      const char *port = legacy_derp + strlen ("127.3.3.40:");
      guint64 v;

      if (g_ascii_string_to_unsigned (port, 10, 1, 65535, &v, NULL))
        node->home_derp = (int) v;
    }

  /* Null AllowedIPs means Addresses (capver 112); unsigned peers get no
   * routes beyond their own addresses. */
  if (node->allowed_ips == NULL || node->unsigned_peer_api_only)
    {
      g_strfreev (node->allowed_ips);
      node->allowed_ips = g_strdupv (node->addresses);
    }
  node->exit_node_option = strv_contains (node->allowed_ips, "0.0.0.0/0") &&
                           strv_contains (node->allowed_ips, "::/0");
}

/* ---- value syntax: keys, times, prefixes, endpoints --------------------------- */

gboolean
hyphae_netmap_parse_key (const char *text,
                         gsize len,
                         const char *prefix,
                         guint8 out[KEY_LEN])
{
  return key_from_text (out, prefix, text, len) == 0;
}

static gboolean
parse_digits (const char **p,
              const char *end,
              int n,
              int *out)
{
  int v = 0;

  if (end - *p < n)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      char c = (*p)[i];
      if (c < '0' || c > '9')
        return FALSE;
      v = v * 10 + (c - '0');
    }
  *p += n;
  *out = v;
  return TRUE;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm). */
static gint64
days_from_civil (gint64 y, int m, int d)
{
  gint64 era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 z, gint64 *y, int *m, int *d)
{
  gint64 era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int) (doy - (153 * mp + 2) / 5 + 1);
  *m = (int) (mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

#define GO_ZERO_TIME_UNIX G_GINT64_CONSTANT (-62135596800) /* 0001-01-01T00:00:00Z */

/*
 * RFC 3339 as Go's time.Time marshals it: YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm).
 * Fractions are dropped (we keep seconds). Go's zero time becomes 0 ("never").
 */
gboolean
hyphae_netmap_parse_time (const char *s,
                          gsize len,
                          gint64 *out)
{
  const char *p = s, *end = s + len;
  int year, mon, day, hh, mm, ss, oh = 0, om = 0;
  static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gint64 t;

  if (!parse_digits (&p, end, 4, &year) || p == end || *p++ != '-' ||
      !parse_digits (&p, end, 2, &mon) || p == end || *p++ != '-' ||
      !parse_digits (&p, end, 2, &day) || p == end || *p++ != 'T' ||
      !parse_digits (&p, end, 2, &hh) || p == end || *p++ != ':' ||
      !parse_digits (&p, end, 2, &mm) || p == end || *p++ != ':' ||
      !parse_digits (&p, end, 2, &ss))
    return FALSE;
  if (p < end && *p == '.')
    {
      p++;
      if (p == end || *p < '0' || *p > '9')
        return FALSE;
      while (p < end && *p >= '0' && *p <= '9')
        p++;
    }
  if (p == end)
    return FALSE;
  if (*p == 'Z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      int sign = *p++ == '-' ? -1 : 1;

      if (!parse_digits (&p, end, 2, &oh) || p == end || *p++ != ':' ||
          !parse_digits (&p, end, 2, &om) || oh > 23 || om > 59)
        return FALSE;
      oh *= sign;
      om *= sign;
    }
  else
    return FALSE;
  if (p != end || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
      hh > 23 || mm > 59 || ss > 59)
    return FALSE;
  if (mon == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    return FALSE;

  t = days_from_civil (year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - (oh * 3600 + om * 60);
  *out = t == GO_ZERO_TIME_UNIX ? 0 : t;
  return TRUE;
}

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out[32]. */
void
hyphae_netmap_format_time (gint64 t,
                           char out[32])
{
  gint64 days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  gint64 secs = t - days * 86400, y;
  int m, d;

  civil_from_days (days, &y, &m, &d);
  g_snprintf (out, 32, "%04" G_GINT64_FORMAT "-%02d-%02dT%02d:%02d:%02dZ",
              y, m, d, (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
}

/* IP values go through the one typed parser (common/ip.h: netip's rules, no
 * zones) and come back in its canonical text. */
gboolean
hyphae_netmap_parse_addr (const char *s,
                          gsize len,
                          int *family,
                          char canon[INET6_ADDRSTRLEN])
{
  struct ip_addr a;

  G_STATIC_ASSERT (INET6_ADDRSTRLEN >= IP_ADDR_STRLEN);
  if (!ip_addr_parse (&a, s, len))
    return FALSE;
  *family = a.family;
  ip_addr_format (&a, canon);
  return TRUE;
}

/* "ip/len" (netip.ParsePrefix); host bits kept, as Go keeps them. */
char *
hyphae_netmap_parse_prefix (const char *s,
                            gsize len)
{
  struct ip_prefix p;
  char canon[IP_PREFIX_STRLEN];

  if (!ip_prefix_parse (&p, s, len))
    return NULL;
  return g_strndup (canon, ip_prefix_format (&p, canon));
}

/* "ip4:port" or "[ip6]:port" (netip.ParseAddrPort, without zones). */
char *
hyphae_netmap_parse_addr_port (const char *s,
                               gsize len)
{
  struct ip_port p;
  char canon[IP_PORT_STRLEN];

  if (!ip_port_parse (&p, s, len))
    return NULL;
  return g_strndup (canon, ip_port_format (&p, canon));
}
