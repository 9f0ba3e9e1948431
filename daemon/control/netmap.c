/* SPDX-License-Identifier: MIT */
/*
 * The network map: MapResponse messages parsed into HyphaeMapUpdate, applied
 * to immutable, reference-counted HyphaeNetmap snapshots (netmap.h).
 *
 * Delta semantics follow tailscale's control/controlclient/map.go
 * (updatePeersStateFromResponse, updateStateFromResponse, upgradeNode), with
 * one deliberate difference: a delta that names a peer we do not have is
 * refused (HYPHAE_NETMAP_ERROR_UNKNOWN_NODE) instead of ignored, so a desync
 * with control is noticed and repaired by a fresh stream.
 */
#include "netmap.h"
#include "json-scan.h"

#include <arpa/inet.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "crypto/keys.h"

G_DEFINE_QUARK (hyphae-netmap-error-quark, hyphae_netmap_error)

/* One PeersChangedPatch entry: only the non-null fields apply. */
typedef struct {
  gint64    id;
  int       derp_region;       /* 0 = unchanged */
  int       cap;               /* 0 = unchanged */
  gboolean  has_endpoints;
  char    **endpoints;
  gboolean  has_key;
  guint8    key[32];
  gboolean  has_disco_key;
  guint8    disco_key[32];
  gboolean  has_online;
  gboolean  online;
  gboolean  has_last_seen;
  gint64    last_seen;
  gboolean  has_key_expiry;
  gint64    key_expiry;
  gboolean  has_cap_map;
  char     *cap_map_json;
} HyphaeNodePatch;

typedef struct {
  gint64   id;
  gboolean value;
} HyphaeIdBool;

typedef struct {
  gint64  id;
  char   *login_name;
  char   *display_name;
} HyphaeUserProfile;

typedef struct {
  char *name;
  char *rules;                 /* GRefString JSON array, NULL = delete */
} HyphaeNamedFilter;

struct _HyphaeMapUpdate {
  gboolean    keepalive;
  gboolean    changes;         /* carries anything besides KeepAlive / session fields */
  char       *pop_browser_url;
  gint64      control_time;    /* ControlTime (unix seconds), 0 if absent */
  HyphaeNode *node;            /* Node, or NULL */
  GPtrArray  *peers;           /* Peers (HyphaeNode*), NULL if absent */
  GPtrArray  *peers_changed;   /* HyphaeNode*, NULL if absent */
  GArray     *peers_removed;   /* gint64 */
  GArray     *patches;         /* HyphaeNodePatch */
  GArray     *online_change;   /* HyphaeIdBool */
  GArray     *seen_change;     /* HyphaeIdBool */
  GPtrArray  *user_profiles;   /* HyphaeUserProfile*, NULL if absent */
  char       *domain;
  char       *packet_filter;   /* GRefString, NULL if absent or null */
  GPtrArray  *packet_filters;  /* HyphaeNamedFilter*, NULL if absent */
  char       *dns_config;      /* GRefString */
  char       *derp_map;        /* GRefString */
};

static HyphaeMapUpdate *hyphae_map_update_parse_json (const char  *json,
                                                      gsize        len,
                                                      GError     **error);

/* ---- nodes ----------------------------------------------------------------- */

static HyphaeNode *
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
static HyphaeNode *
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
static void
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

static gboolean
hyphae_netmap_parse_key (const char *text,
                         gsize       len,
                         const char *prefix,
                         guint8      out[32])
{
  return key_from_text (out, prefix, text, len) == 0;
}

static gboolean
parse_digits (const char **p,
              const char  *end,
              int          n,
              int         *out)
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

#define GO_ZERO_TIME_UNIX G_GINT64_CONSTANT (-62135596800)   /* 0001-01-01T00:00:00Z */

/*
 * RFC 3339 as Go's time.Time marshals it: YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm).
 * Fractions are dropped (we keep seconds). Go's zero time becomes 0 ("never").
 */
static gboolean
hyphae_netmap_parse_time (const char *s,
                          gsize       len,
                          gint64     *out)
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

  t = days_from_civil (year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss
      - (oh * 3600 + om * 60);
  *out = t == GO_ZERO_TIME_UNIX ? 0 : t;
  return TRUE;
}

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out[32]. */
static void
format_time (gint64 t,
             char   out[32])
{
  gint64 days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  gint64 secs = t - days * 86400, y;
  int m, d;

  civil_from_days (days, &y, &m, &d);
  g_snprintf (out, 32, "%04" G_GINT64_FORMAT "-%02d-%02dT%02d:%02d:%02dZ",
              y, m, d, (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
}

/* An IP literal as Go's netip.ParseAddr takes it (no zone); canonical text. */
static gboolean
parse_addr (const char *s,
            gsize       len,
            int        *family,
            char        canon[INET6_ADDRSTRLEN])
{
  char buf[INET6_ADDRSTRLEN];
  guint8 bin[16];

  if (len == 0 || len >= sizeof buf || memchr (s, '\0', len) != NULL)
    return FALSE;
  memcpy (buf, s, len);
  buf[len] = '\0';
  if (inet_pton (AF_INET, buf, bin) == 1)
    *family = AF_INET;
  else if (inet_pton (AF_INET6, buf, bin) == 1)
    *family = AF_INET6;
  else
    return FALSE;
  return inet_ntop (*family, bin, canon, INET6_ADDRSTRLEN) != NULL;
}

/* "ip/len" (netip.ParsePrefix: decimal length without leading zeros). */
static char *
hyphae_netmap_parse_prefix (const char *s,
                            gsize       len)
{
  const char *slash = memchr (s, '/', len);
  char canon[INET6_ADDRSTRLEN];
  int family, bits = 0;
  gsize nd;

  if (slash == NULL || !parse_addr (s, slash - s, &family, canon))
    return NULL;
  nd = len - (slash - s) - 1;
  if (nd == 0 || nd > 3 || (nd > 1 && slash[1] == '0'))
    return NULL;
  for (gsize i = 0; i < nd; i++)
    {
      char c = slash[1 + i];
      if (c < '0' || c > '9')
        return NULL;
      bits = bits * 10 + (c - '0');
    }
  if (bits > (family == AF_INET ? 32 : 128))
    return NULL;
  return g_strdup_printf ("%s/%d", canon, bits);
}

/* "ip4:port" or "[ip6]:port" (netip.ParseAddrPort, without zones). */
static char *
hyphae_netmap_parse_addr_port (const char *s,
                               gsize       len)
{
  const char *colon = NULL, *port;
  char canon[INET6_ADDRSTRLEN];
  int family;
  guint v = 0;
  gsize np;

  for (gsize i = len; i > 0; i--)
    if (s[i - 1] == ':')
      {
        colon = s + i - 1;
        break;
      }
  if (colon == NULL)
    return NULL;
  port = colon + 1;
  np = len - (port - s);
  if (np == 0 || np > 5)
    return NULL;
  for (gsize i = 0; i < np; i++)
    {
      if (port[i] < '0' || port[i] > '9')
        return NULL;
      v = v * 10 + (port[i] - '0');
    }
  if (v > 65535)
    return NULL;
  if (s[0] == '[')
    {
      if (colon - s < 2 || colon[-1] != ']' ||
          !parse_addr (s + 1, colon - s - 2, &family, canon) || family != AF_INET6)
        return NULL;
      return g_strdup_printf ("[%s]:%u", canon, v);
    }
  if (!parse_addr (s, colon - s, &family, canon) || family != AF_INET)
    return NULL;
  return g_strdup_printf ("%s:%u", canon, v);
}

/* ---- updates --------------------------------------------------------------- */

void
hyphae_map_update_free (HyphaeMapUpdate *update)
{
  if (update == NULL)
    return;
  g_free (update->pop_browser_url);
  g_clear_pointer (&update->node, hyphae_node_unref);
  g_clear_pointer (&update->peers, g_ptr_array_unref);
  g_clear_pointer (&update->peers_changed, g_ptr_array_unref);
  g_clear_pointer (&update->peers_removed, g_array_unref);
  g_clear_pointer (&update->patches, g_array_unref);
  g_clear_pointer (&update->online_change, g_array_unref);
  g_clear_pointer (&update->seen_change, g_array_unref);
  g_clear_pointer (&update->user_profiles, g_ptr_array_unref);
  g_free (update->domain);
  g_clear_pointer (&update->packet_filter, g_ref_string_release);
  g_clear_pointer (&update->packet_filters, g_ptr_array_unref);
  g_clear_pointer (&update->dns_config, g_ref_string_release);
  g_clear_pointer (&update->derp_map, g_ref_string_release);
  g_free (update);
}

static void
patch_clear (gpointer p)
{
  HyphaeNodePatch *patch = p;

  g_strfreev (patch->endpoints);
  g_free (patch->cap_map_json);
}

static void
hyphae_user_profile_free (gpointer p)
{
  HyphaeUserProfile *up = p;

  g_free (up->login_name);
  g_free (up->display_name);
  g_free (up);
}

static void
hyphae_named_filter_free (gpointer p)
{
  HyphaeNamedFilter *nf = p;

  g_free (nf->name);
  g_clear_pointer (&nf->rules, g_ref_string_release);
  g_free (nf);
}

static HyphaeMapUpdate *
hyphae_map_update_new (void)
{
  HyphaeMapUpdate *u = g_new0 (HyphaeMapUpdate, 1);

  u->patches = g_array_new (FALSE, TRUE, sizeof (HyphaeNodePatch));
  g_array_set_clear_func (u->patches, patch_clear);
  u->peers_removed = g_array_new (FALSE, FALSE, sizeof (gint64));
  u->online_change = g_array_new (FALSE, FALSE, sizeof (HyphaeIdBool));
  u->seen_change = g_array_new (FALSE, FALSE, sizeof (HyphaeIdBool));
  return u;
}

gboolean
hyphae_map_update_is_keepalive (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, FALSE);
  return update->keepalive;
}

gint64
hyphae_map_update_get_control_time (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, 0);
  return update->control_time;
}

const char *
hyphae_map_update_get_pop_browser_url (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, NULL);
  return update->pop_browser_url;
}

HyphaeMapUpdate *
hyphae_map_update_parse (const char  *json,
                         gsize        len,
                         GError     **error)
{
  g_return_val_if_fail (json != NULL || len == 0, NULL);

  /* The scanner itself refuses nesting deeper than HYPHAE_JSON_MAX_DEPTH. */
  return hyphae_map_update_parse_json (json, len, error);
}

/* ---- the peer list: sorted chunks shared between snapshots ------------------ */

/*
 * Peers live in chunks of at most CHUNK_MAX nodes, sorted by ID across the
 * chunks. A snapshot holds a reference on each chunk, a chunk one on each of
 * its nodes. A delta copies the array of chunk pointers and only the chunks
 * it changes, so it costs O(peers / CHUNK_FILL + changes × CHUNK_MAX)
 * pointer operations and touches no unchanged node (no cache misses on
 * 10 000 refcounts per delta).
 */
#define CHUNK_MAX  64
#define CHUNK_FILL 48   /* how full a chunk starts: room to insert without splitting */

typedef struct {
  gint        ref_count;
  guint       len;              /* ≥ 1 while in a list */
  HyphaeNode *nodes[CHUNK_MAX];
} Chunk;

static Chunk *
chunk_new (void)
{
  Chunk *c = g_new (Chunk, 1);

  c->ref_count = 1;
  c->len = 0;
  return c;
}

static void
chunk_unref (gpointer p)
{
  Chunk *c = p;

  if (!g_atomic_int_dec_and_test (&c->ref_count))
    return;
  for (guint i = 0; i < c->len; i++)
    hyphae_node_unref (c->nodes[i]);
  g_free (c);
}

/* The chunk that holds id or would hold it: the first whose last ID ≥ id,
 * else the last one. chunks must not be empty. */
static guint
chunk_for (Chunk * const *chunks,
           guint          n,
           gint64         id)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const Chunk *c = chunks[mid];

      if (c->nodes[c->len - 1]->id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo == n ? n - 1 : lo;
}

/* Where id is (*found) or would be inserted in c. */
static guint
chunk_pos (const Chunk *c,
           gint64       id,
           gboolean    *found)
{
  guint lo = 0, hi = c->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      gint64 mid_id = c->nodes[mid]->id;

      if (mid_id == id)
        {
          *found = TRUE;
          return mid;
        }
      if (mid_id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = FALSE;
  return lo;
}

static gboolean
is_expired (const HyphaeNode *n,
            gint64            now_unix)
{
  return n->expired_by_control || (n->key_expiry_unix != 0 && n->key_expiry_unix <= now_unix);
}

/* The list being built by one apply. */
typedef struct {
  GPtrArray  *chunks;        /* Chunk*, one ref each */
  GHashTable *fresh_chunks;  /* made by this apply: writable in place */
  GHashTable *fresh_nodes;   /* copied by this apply: writable in place */
  gint64      now;
  gint64      next_expiry;   /* lower bound of the next KeyExpiry to pass */
} PeerEdit;

static void
edit_init (PeerEdit     *e,
           GPtrArray    *from,
           gint64        now,
           gint64        next_expiry)
{
  guint n = from != NULL ? from->len : 0;

  e->chunks = g_ptr_array_new_full (n + 4, chunk_unref);
  for (guint i = 0; i < n; i++)
    {
      Chunk *c = from->pdata[i];
      g_atomic_int_inc (&c->ref_count);
      g_ptr_array_add (e->chunks, c);
    }
  e->fresh_chunks = g_hash_table_new (NULL, NULL);
  e->fresh_nodes = g_hash_table_new (NULL, NULL);
  e->now = now;
  e->next_expiry = next_expiry;
}

static void
edit_clear (PeerEdit *e)
{
  g_clear_pointer (&e->chunks, g_ptr_array_unref);
  g_clear_pointer (&e->fresh_chunks, g_hash_table_unref);
  g_clear_pointer (&e->fresh_nodes, g_hash_table_unref);
}

/* Chunk ci, copied first if a snapshot may share it. */
static Chunk *
edit_chunk (PeerEdit *e,
            guint     ci)
{
  Chunk *c = e->chunks->pdata[ci], *copy;

  if (g_hash_table_contains (e->fresh_chunks, c))
    return c;
  copy = chunk_new ();
  copy->len = c->len;
  for (guint i = 0; i < c->len; i++)
    copy->nodes[i] = hyphae_node_ref (c->nodes[i]);
  chunk_unref (c);
  e->chunks->pdata[ci] = copy;
  g_hash_table_add (e->fresh_chunks, copy);
  return copy;
}

static gboolean
edit_find (PeerEdit *e,
           gint64    id,
           guint    *ci,
           guint    *ni)
{
  gboolean found;

  if (e->chunks->len == 0)
    return FALSE;
  *ci = chunk_for ((Chunk * const *) e->chunks->pdata, e->chunks->len, id);
  *ni = chunk_pos (e->chunks->pdata[*ci], id, &found);
  return found;
}

/* A node entering the list: its Expired derived now (a copy if that flips it). */
static HyphaeNode *
edit_admit (PeerEdit   *e,
            HyphaeNode *n)
{
  gboolean expired = is_expired (n, e->now);

  if (expired != n->expired)
    {
      HyphaeNode *copy = hyphae_node_copy (n);
      copy->expired = expired;
      hyphae_node_unref (n);
      n = copy;
    }
  if (!expired && n->key_expiry_unix != 0)
    e->next_expiry = MIN (e->next_expiry, n->key_expiry_unix);
  return n;
}

static void
edit_remove (PeerEdit *e,
             guint     ci,
             guint     ni)
{
  Chunk *c = edit_chunk (e, ci);

  hyphae_node_unref (c->nodes[ni]);
  memmove (&c->nodes[ni], &c->nodes[ni + 1], (c->len - ni - 1) * sizeof c->nodes[0]);
  c->len--;
  if (c->len == 0)
    {
      g_hash_table_remove (e->fresh_chunks, c);   /* before its address can be reused */
      g_ptr_array_remove_index (e->chunks, ci);
    }
}

/* Adds or replaces a node (transfer full). */
static void
edit_put (PeerEdit   *e,
          HyphaeNode *n)
{
  guint ci, ni;
  Chunk *c;

  n = edit_admit (e, n);
  if (e->chunks->len == 0)
    {
      c = chunk_new ();
      c->nodes[c->len++] = n;
      g_ptr_array_add (e->chunks, c);
      g_hash_table_add (e->fresh_chunks, c);
      return;
    }
  if (edit_find (e, n->id, &ci, &ni))
    {
      c = edit_chunk (e, ci);
      hyphae_node_unref (c->nodes[ni]);
      c->nodes[ni] = n;
      return;
    }
  c = edit_chunk (e, ci);
  if (c->len == CHUNK_MAX)
    {
      Chunk *right = chunk_new ();

      right->len = CHUNK_MAX / 2;
      memcpy (right->nodes, &c->nodes[CHUNK_MAX / 2], right->len * sizeof c->nodes[0]);
      c->len = CHUNK_MAX / 2;
      g_ptr_array_insert (e->chunks, ci + 1, right);
      g_hash_table_add (e->fresh_chunks, right);
      if (ni > c->len)
        {
          c = right;
          ni -= CHUNK_MAX / 2;
        }
    }
  memmove (&c->nodes[ni + 1], &c->nodes[ni], (c->len - ni) * sizeof c->nodes[0]);
  c->nodes[ni] = n;
  c->len++;
}

/* The node at (ci, ni), private to this apply. */
static HyphaeNode *
edit_node (PeerEdit *e,
           guint     ci,
           guint     ni)
{
  Chunk *c = edit_chunk (e, ci);
  HyphaeNode *n = c->nodes[ni];

  if (g_hash_table_contains (e->fresh_nodes, n))
    return n;
  n = hyphae_node_copy (n);
  hyphae_node_unref (c->nodes[ni]);
  c->nodes[ni] = n;
  g_hash_table_add (e->fresh_nodes, n);
  return n;
}

/*
 * Expired is re-derived from KeyExpiry as time passes (ipnlocal/expiry.go
 * flagExpiredPeers does it for every netmap). Only when the earliest pending
 * KeyExpiry has passed do we walk the list, copying the nodes that flip.
 */
static void
edit_expire (PeerEdit *e)
{
  gint64 next = G_MAXINT64;

  if (e->now < e->next_expiry)
    return;
  for (guint ci = 0; ci < e->chunks->len; ci++)
    {
      Chunk *c = e->chunks->pdata[ci];

      for (guint ni = 0; ni < c->len; ni++)
        {
          HyphaeNode *n = c->nodes[ni];
          gboolean expired = is_expired (n, e->now);

          if (expired != n->expired)
            {
              c = edit_chunk (e, ci);
              n = hyphae_node_copy (n);
              n->expired = expired;
              hyphae_node_unref (c->nodes[ni]);
              c->nodes[ni] = n;
            }
          if (!expired && n->key_expiry_unix != 0)
            next = MIN (next, n->key_expiry_unix);
        }
    }
  e->next_expiry = next;
}

static int
compare_node_id (gconstpointer a,
                 gconstpointer b)
{
  const HyphaeNode *na = *(HyphaeNode * const *) a;
  const HyphaeNode *nb = *(HyphaeNode * const *) b;

  return na->id < nb->id ? -1 : na->id > nb->id;
}

/* A full Peers list: sorted, the last of equal IDs wins (as a Go map
 * assignment would), cut into chunks. */
static void
edit_build (PeerEdit  *e,
            GPtrArray *peers)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (peers, NULL, NULL);
  Chunk *c = NULL;

  g_ptr_array_set_free_func (sorted, NULL);   /* the copy inherits peers' */
  g_ptr_array_sort (sorted, compare_node_id);   /* stable (GLib ≥ 2.32) */
  for (guint i = 0; i < sorted->len; i++)
    {
      HyphaeNode *n = sorted->pdata[i];

      if (i + 1 < sorted->len && n->id == ((HyphaeNode *) sorted->pdata[i + 1])->id)
        continue;
      if (c == NULL || c->len == CHUNK_FILL)
        {
          c = chunk_new ();
          g_ptr_array_add (e->chunks, c);
          g_hash_table_add (e->fresh_chunks, c);
        }
      c->nodes[c->len++] = edit_admit (e, hyphae_node_ref (n));
    }
}

static GError *
unknown_node (const char *what,
              gint64      id)
{
  return g_error_new (HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_UNKNOWN_NODE,
                      "%s names node %" G_GINT64_FORMAT ", which is not in the netmap",
                      what, id);
}

static gboolean
edit_deltas (PeerEdit               *e,
             const HyphaeMapUpdate  *u,
             GError                **error)
{
  g_autoptr(GHashTable) removed = NULL;
  GHashTableIter it;
  gpointer p;
  guint ci, ni;

  /* Order as in map.go: removals, full changes, seen, online, patches. */
  for (guint k = 0; k < u->peers_removed->len; k++)
    {
      gint64 *id = &g_array_index (u->peers_removed, gint64, k);

      if (edit_find (e, *id, &ci, &ni))
        {
          edit_remove (e, ci, ni);
          if (removed == NULL)
            removed = g_hash_table_new (g_int64_hash, g_int64_equal);
          g_hash_table_add (removed, id);
        }
      else if (removed == NULL || !g_hash_table_contains (removed, id))
        {
          /* Named twice in one PeersRemoved is fine; absent from prev is not. */
          *error = unknown_node ("PeersRemoved", *id);
          return FALSE;
        }
    }

  for (guint k = 0; u->peers_changed != NULL && k < u->peers_changed->len; k++)
    edit_put (e, hyphae_node_ref (u->peers_changed->pdata[k]));

  for (guint k = 0; k < u->seen_change->len; k++)
    {
      HyphaeIdBool *c = &g_array_index (u->seen_change, HyphaeIdBool, k);

      if (!edit_find (e, c->id, &ci, &ni))
        {
          *error = unknown_node ("PeerSeenChange", c->id);
          return FALSE;
        }
      edit_node (e, ci, ni)->last_seen_unix = c->value ? e->now : 0;
    }

  for (guint k = 0; k < u->online_change->len; k++)
    {
      HyphaeIdBool *c = &g_array_index (u->online_change, HyphaeIdBool, k);
      HyphaeNode *n;

      if (!edit_find (e, c->id, &ci, &ni))
        {
          *error = unknown_node ("OnlineChange", c->id);
          return FALSE;
        }
      n = edit_node (e, ci, ni);
      n->online_known = TRUE;
      n->online = c->value;
    }

  for (guint k = 0; k < u->patches->len; k++)
    {
      HyphaeNodePatch *pc = &g_array_index (u->patches, HyphaeNodePatch, k);
      HyphaeNode *n;

      if (!edit_find (e, pc->id, &ci, &ni))
        {
          *error = unknown_node ("PeersChangedPatch", pc->id);
          return FALSE;
        }
      n = edit_node (e, ci, ni);
      if (pc->derp_region != 0)
        n->home_derp = pc->derp_region;
      if (pc->cap != 0)
        n->cap = pc->cap;
      if (pc->has_endpoints)
        {
          g_strfreev (n->endpoints);
          n->endpoints = g_strdupv (pc->endpoints);
        }
      if (pc->has_key)
        memcpy (n->key, pc->key, 32);
      if (pc->has_disco_key)
        {
          memcpy (n->disco_key, pc->disco_key, 32);
          n->has_disco_key = !key_is_zero (pc->disco_key);
        }
      if (pc->has_online)
        {
          n->online_known = TRUE;
          n->online = pc->online;
        }
      if (pc->has_last_seen)
        n->last_seen_unix = pc->last_seen;
      if (pc->has_key_expiry)
        n->key_expiry_unix = pc->key_expiry;
      if (pc->has_cap_map)
        {
          g_free (n->cap_map_json);
          n->cap_map_json = g_strdup (pc->cap_map_json);
        }
    }

  /* Patched nodes (KeyExpiry may have moved either way). */
  g_hash_table_iter_init (&it, e->fresh_nodes);
  while (g_hash_table_iter_next (&it, &p, NULL))
    {
      HyphaeNode *n = p;

      n->expired = is_expired (n, e->now);
      if (!n->expired && n->key_expiry_unix != 0)
        e->next_expiry = MIN (e->next_expiry, n->key_expiry_unix);
    }
  return TRUE;
}

/* ---- snapshots --------------------------------------------------------------- */

struct _HyphaeNetmap {
  gint        ref_count;
  HyphaeNode *self;
  GPtrArray  *chunks;         /* Chunk*, sorted by ID */
  guint      *starts;         /* index of each chunk's first peer */
  guint       n_peers;
  gint64      next_expiry;    /* no KeyExpiry passes before this */
  char       *domain;
  char       *magicdns_suffix;
  GHashTable *user_profiles;  /* gint64* → HyphaeUserProfile*, shared while unchanged */
  GHashTable *filters;        /* name → GRefString rules array, shared while unchanged */
  char       *packet_filter;  /* GRefString, the effective filter */
  char       *dns_config;     /* GRefString */
  char       *derp_map;       /* GRefString */
};

HyphaeNetmap *
hyphae_netmap_ref (HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  g_atomic_int_inc (&nm->ref_count);
  return nm;
}

void
hyphae_netmap_unref (HyphaeNetmap *nm)
{
  if (nm == NULL || !g_atomic_int_dec_and_test (&nm->ref_count))
    return;
  g_clear_pointer (&nm->self, hyphae_node_unref);
  g_clear_pointer (&nm->chunks, g_ptr_array_unref);
  g_free (nm->starts);
  g_free (nm->domain);
  g_free (nm->magicdns_suffix);
  g_clear_pointer (&nm->user_profiles, g_hash_table_unref);
  g_clear_pointer (&nm->filters, g_hash_table_unref);
  g_clear_pointer (&nm->packet_filter, g_ref_string_release);
  g_clear_pointer (&nm->dns_config, g_ref_string_release);
  g_clear_pointer (&nm->derp_map, g_ref_string_release);
  g_free (nm);
}

static char *
ref_string_acquire0 (char *s)
{
  return s != NULL ? g_ref_string_acquire (s) : NULL;
}

/* The edited list becomes the snapshot's. */
static void
take_peers (HyphaeNetmap *nm,
            PeerEdit     *e)
{
  guint n = 0;

  nm->chunks = g_steal_pointer (&e->chunks);
  nm->starts = g_new (guint, nm->chunks->len + 1);
  for (guint i = 0; i < nm->chunks->len; i++)
    {
      nm->starts[i] = n;
      n += ((Chunk *) nm->chunks->pdata[i])->len;
    }
  nm->starts[nm->chunks->len] = n;
  nm->n_peers = n;
  nm->next_expiry = e->next_expiry;
}

static GHashTable *
new_profile_table (void)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, hyphae_user_profile_free);
}

static HyphaeUserProfile *
profile_copy (const HyphaeUserProfile *src)
{
  HyphaeUserProfile *up = g_new0 (HyphaeUserProfile, 1);

  up->id = src->id;
  up->login_name = g_strdup (src->login_name);
  up->display_name = g_strdup (src->display_name);
  return up;
}

static GHashTable *
apply_profiles (HyphaeNetmap          *prev,
                const HyphaeMapUpdate *u)
{
  GHashTable *t;
  GHashTableIter it;
  gpointer v;

  if (u->user_profiles == NULL || u->user_profiles->len == 0)
    return prev != NULL ? g_hash_table_ref (prev->user_profiles) : new_profile_table ();

  /* UserProfiles is a delta (capver 5): add/replace, never delete. */
  t = new_profile_table ();
  if (prev != NULL)
    {
      g_hash_table_iter_init (&it, prev->user_profiles);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          HyphaeUserProfile *up = profile_copy (v);
          g_hash_table_replace (t, &up->id, up);
        }
    }
  for (guint i = 0; i < u->user_profiles->len; i++)
    {
      HyphaeUserProfile *up = profile_copy (u->user_profiles->pdata[i]);
      g_hash_table_replace (t, &up->id, up);
    }
  return t;
}

static GHashTable *
new_filter_table (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify) g_ref_string_release);
}

/* The rules inside "[ ... ]", trimmed, as (start, len). */
static void
array_body (const char  *a,
            const char **start,
            gsize       *len)
{
  const char *s = strchr (a, '[');
  const char *e = strrchr (a, ']');

  g_assert (s != NULL && e != NULL && e > s);
  s++;
  while (s < e && g_ascii_isspace (*s))
    s++;
  while (e > s && g_ascii_isspace (e[-1]))
    e--;
  *start = s;
  *len = e - s;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* PacketFilter / PacketFilters (capver 6, 81). */
static void
apply_filters (HyphaeNetmap          *nm,
               HyphaeNetmap          *prev,
               const HyphaeMapUpdate *u)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GString) concat = NULL;
  GHashTableIter it;
  gpointer k, v;

  if (u->packet_filter == NULL && u->packet_filters == NULL)
    {
      if (prev != NULL)
        {
          nm->filters = g_hash_table_ref (prev->filters);
          nm->packet_filter = ref_string_acquire0 (prev->packet_filter);
        }
      else
        nm->filters = new_filter_table ();
      return;
    }

  nm->filters = new_filter_table ();
  if (prev != NULL)
    {
      g_hash_table_iter_init (&it, prev->filters);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_insert (nm->filters, g_strdup (k), g_ref_string_acquire (v));
    }
  if (u->packet_filter != NULL)
    g_hash_table_replace (nm->filters, g_strdup ("base"),
                          g_ref_string_acquire (u->packet_filter));
  if (u->packet_filters != NULL)
    {
      for (guint i = 0; i < u->packet_filters->len; i++)
        {
          HyphaeNamedFilter *nf = u->packet_filters->pdata[i];
          if (strcmp (nf->name, "*") == 0 && nf->rules == NULL)
            g_hash_table_remove_all (nm->filters);
        }
      for (guint i = 0; i < u->packet_filters->len; i++)
        {
          HyphaeNamedFilter *nf = u->packet_filters->pdata[i];
          if (strcmp (nf->name, "*") == 0)
            continue;
          if (nf->rules != NULL)
            g_hash_table_replace (nm->filters, g_strdup (nf->name),
                                  g_ref_string_acquire (nf->rules));
          else
            g_hash_table_remove (nm->filters, nf->name);
        }
    }

  /* The effective filter: every entry, in name order (map.go sorts keys). */
  names = g_ptr_array_new ();
  g_hash_table_iter_init (&it, nm->filters);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (names, k);
  g_ptr_array_sort (names, compare_strings);
  concat = g_string_new ("[");
  for (guint i = 0; i < names->len; i++)
    {
      const char *body;
      gsize len;

      array_body (g_hash_table_lookup (nm->filters, names->pdata[i]), &body, &len);
      if (len == 0)
        continue;
      if (concat->len > 1)
        g_string_append_c (concat, ',');
      g_string_append_len (concat, body, len);
    }
  g_string_append_c (concat, ']');
  nm->packet_filter = g_ref_string_new_len (concat->str, concat->len);
}

/*
 * DERPMap updates are incremental since capver 65: a map without Regions
 * keeps the previous Regions (and OmitDefaultRegions); without HomeParams it
 * keeps the previous HomeParams, and HomeParams without RegionScore keeps
 * the previous RegionScore (map.go updateStateFromResponse).
 */
static char *
merge_derp_map (const char *prev,
                const char *next)
{
  g_autoptr(JsonNode) pn = NULL, nn = NULL;
  JsonObject *po, *no;
  JsonNode *m;
  g_autofree char *text = NULL;

  if (prev == NULL)
    return g_ref_string_acquire ((char *) next);
  pn = json_from_string (prev, NULL);
  nn = json_from_string (next, NULL);
  if (pn == NULL || nn == NULL || !JSON_NODE_HOLDS_OBJECT (pn) || !JSON_NODE_HOLDS_OBJECT (nn))
    return g_ref_string_acquire ((char *) next);
  po = json_node_get_object (pn);
  no = json_node_get_object (nn);

  m = json_object_get_member (no, "Regions");
  if (m == NULL || JSON_NODE_HOLDS_NULL (m))
    {
      const char *keep[] = { "Regions", "OmitDefaultRegions" };
      for (guint i = 0; i < G_N_ELEMENTS (keep); i++)
        {
          JsonNode *old = json_object_get_member (po, keep[i]);
          if (old != NULL)
            json_object_set_member (no, keep[i], json_node_copy (old));
          else
            json_object_remove_member (no, keep[i]);
        }
    }
  m = json_object_get_member (no, "HomeParams");
  if (m == NULL || JSON_NODE_HOLDS_NULL (m))
    {
      JsonNode *old = json_object_get_member (po, "HomeParams");
      if (old != NULL)
        json_object_set_member (no, "HomeParams", json_node_copy (old));
    }
  else if (JSON_NODE_HOLDS_OBJECT (m))
    {
      JsonNode *oldhp = json_object_get_member (po, "HomeParams");
      JsonNode *rs = json_object_get_member (json_node_get_object (m), "RegionScore");

      if ((rs == NULL || JSON_NODE_HOLDS_NULL (rs)) && oldhp != NULL &&
          JSON_NODE_HOLDS_OBJECT (oldhp))
        {
          JsonNode *oldrs = json_object_get_member (json_node_get_object (oldhp), "RegionScore");
          if (oldrs != NULL)
            json_object_set_member (json_node_get_object (m), "RegionScore",
                                    json_node_copy (oldrs));
        }
    }
  text = json_to_string (nn, FALSE);
  return g_ref_string_new (text);
}

static char *
magicdns_suffix (const char *name)
{
  const char *dot = strchr (name, '.');
  gsize len;

  if (dot == NULL)
    return g_strdup ("");
  dot++;
  len = strlen (dot);
  if (len > 0 && dot[len - 1] == '.')
    len--;
  return g_strndup (dot, len);
}

HyphaeNetmap *
hyphae_netmap_apply (HyphaeNetmap          *prev,
                     const HyphaeMapUpdate *update,
                     gint64                 now_unix,
                     GError               **error)
{
  g_autoptr(HyphaeNetmap) nm = NULL;
  GError *local = NULL;
  PeerEdit edit;
  HyphaeNode *self;

  g_return_val_if_fail (update != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (prev == NULL && update->node == NULL)
    {
      g_set_error (error, HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_NO_SELF,
                   "the first MapResponse has no Node");
      return NULL;
    }

  nm = g_new0 (HyphaeNetmap, 1);
  nm->ref_count = 1;

  /* Peers: a non-empty Peers is the full list and precludes the deltas
   * (map.go: len(resp.Peers) > 0). */
  if (update->peers != NULL && update->peers->len > 0)
    {
      edit_init (&edit, NULL, now_unix, G_MAXINT64);
      edit_build (&edit, update->peers);
    }
  else
    {
      edit_init (&edit, prev != NULL ? prev->chunks : NULL, now_unix,
                 prev != NULL ? prev->next_expiry : G_MAXINT64);
      if (!edit_deltas (&edit, update, &local))
        {
          edit_clear (&edit);
          g_propagate_error (error, local);
          return NULL;
        }
    }
  edit_expire (&edit);
  take_peers (nm, &edit);
  edit_clear (&edit);

  self = hyphae_node_ref (update->node != NULL ? update->node : prev->self);
  if (is_expired (self, now_unix) != self->expired)
    {
      HyphaeNode *copy = hyphae_node_copy (self);
      copy->expired = !self->expired;
      hyphae_node_unref (self);
      self = copy;
    }
  nm->self = self;
  nm->magicdns_suffix = magicdns_suffix (nm->self->name);

  /* Domain: "" means unchanged (capver 17). */
  if (update->domain != NULL && update->domain[0] != '\0')
    nm->domain = g_strdup (update->domain);
  else
    nm->domain = g_strdup (prev != NULL ? prev->domain : "");

  nm->user_profiles = apply_profiles (prev, update);
  apply_filters (nm, prev, update);

  /* DNSConfig: nil means unchanged (capver 15). */
  if (update->dns_config != NULL)
    nm->dns_config = g_ref_string_acquire (update->dns_config);
  else if (prev != NULL)
    nm->dns_config = ref_string_acquire0 (prev->dns_config);
  if (update->derp_map != NULL)
    nm->derp_map = merge_derp_map (prev != NULL ? prev->derp_map : NULL, update->derp_map);
  else if (prev != NULL)
    nm->derp_map = ref_string_acquire0 (prev->derp_map);

  return g_steal_pointer (&nm);
}

/* ---- accessors ---------------------------------------------------------------- */

const HyphaeNode *
hyphae_netmap_get_self (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->self;
}

guint
hyphae_netmap_get_n_peers (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, 0);
  return nm->n_peers;
}

const HyphaeNode *
hyphae_netmap_get_peer (const HyphaeNetmap *nm,
                        guint               index)
{
  guint lo = 0, hi;

  g_return_val_if_fail (nm != NULL, NULL);
  g_return_val_if_fail (index < nm->n_peers, NULL);

  /* The last chunk whose start ≤ index. */
  hi = nm->chunks->len;
  while (hi - lo > 1)
    {
      guint mid = lo + (hi - lo) / 2;

      if (nm->starts[mid] <= index)
        lo = mid;
      else
        hi = mid;
    }
  return ((Chunk *) nm->chunks->pdata[lo])->nodes[index - nm->starts[lo]];
}

const HyphaeNode *
hyphae_netmap_lookup_id (const HyphaeNetmap *nm,
                         gint64              id)
{
  const Chunk *c;
  gboolean found;
  guint ni;

  g_return_val_if_fail (nm != NULL, NULL);
  if (nm->chunks->len == 0)
    return NULL;
  c = nm->chunks->pdata[chunk_for ((Chunk * const *) nm->chunks->pdata, nm->chunks->len, id)];
  ni = chunk_pos (c, id, &found);
  return found ? c->nodes[ni] : NULL;
}

const HyphaeNode *
hyphae_netmap_lookup_stable_id (const HyphaeNetmap *nm,
                                const char         *stable_id)
{
  g_return_val_if_fail (nm != NULL, NULL);
  g_return_val_if_fail (stable_id != NULL, NULL);

  /* Linear: called rarely (exit-node selection), and keeping an index per
   * snapshot would cost O(peers) on every delta. */
  for (guint ci = 0; ci < nm->chunks->len; ci++)
    {
      const Chunk *c = nm->chunks->pdata[ci];

      for (guint ni = 0; ni < c->len; ni++)
        if (strcmp (c->nodes[ni]->stable_id, stable_id) == 0)
          return c->nodes[ni];
    }
  return NULL;
}

const char *
hyphae_netmap_get_domain (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->domain;
}

const char *
hyphae_netmap_get_magicdns_suffix (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->magicdns_suffix;
}

const char *
hyphae_netmap_get_user_login (const HyphaeNetmap *nm,
                              gint64              user_id)
{
  HyphaeUserProfile *up;

  g_return_val_if_fail (nm != NULL, NULL);
  up = g_hash_table_lookup (nm->user_profiles, &user_id);
  return up != NULL ? up->login_name : NULL;
}

const char *
hyphae_netmap_get_user_display_name (const HyphaeNetmap *nm,
                                     gint64              user_id)
{
  HyphaeUserProfile *up;

  g_return_val_if_fail (nm != NULL, NULL);
  up = g_hash_table_lookup (nm->user_profiles, &user_id);
  return up != NULL ? up->display_name : NULL;
}

const char *
hyphae_netmap_get_packet_filter_json (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->packet_filter;
}

const char *
hyphae_netmap_get_dns_config_json (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->dns_config;
}

const char *
hyphae_netmap_get_derp_map_json (const HyphaeNetmap *nm)
{
  g_return_val_if_fail (nm != NULL, NULL);
  return nm->derp_map;
}

/* ---- JSON out ----------------------------------------------------------------- */

static void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_int (JsonBuilder *b,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_bool (JsonBuilder *b,
          const char  *name,
          gboolean     value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_key (JsonBuilder  *b,
         const char   *name,
         const char   *prefix,
         const guint8  key[32])
{
  char text[16 + KEY_HEX_LEN];

  key_to_text (text, sizeof text, prefix, key);
  add_string (b, name, text);
}

static void
add_time (JsonBuilder *b,
          const char  *name,
          gint64       t)
{
  char text[32];

  format_time (t, text);
  add_string (b, name, text);
}

static void
add_strv (JsonBuilder *b,
          const char  *name,
          char       **v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

static void
add_raw (JsonBuilder *b,
         const char  *name,
         const char  *raw)
{
  JsonNode *node = raw != NULL ? json_from_string (raw, NULL) : NULL;

  json_builder_set_member_name (b, name);
  if (node != NULL)
    json_builder_add_value (b, node);
  else
    json_builder_add_null_value (b);
}

static void
add_node (JsonBuilder      *b,
          const HyphaeNode *n)
{
  json_builder_begin_object (b);
  add_int (b, "ID", n->id);
  add_string (b, "StableID", n->stable_id);
  add_string (b, "Name", n->name);
  add_int (b, "User", n->user_id);
  add_key (b, "Key", KEY_PREFIX_NODE, n->key);
  if (n->key_expiry_unix != 0)
    add_time (b, "KeyExpiry", n->key_expiry_unix);
  if (n->has_machine_key)
    add_key (b, "Machine", KEY_PREFIX_MACHINE, n->machine_key);
  if (n->has_disco_key)
    add_key (b, "DiscoKey", KEY_PREFIX_DISCO, n->disco_key);
  add_strv (b, "Addresses", n->addresses);
  add_strv (b, "AllowedIPs", n->allowed_ips);
  add_strv (b, "Endpoints", n->endpoints);
  if (n->home_derp != 0)
    add_int (b, "HomeDERP", n->home_derp);
  json_builder_set_member_name (b, "Hostinfo");
  json_builder_begin_object (b);
  add_string (b, "Hostname", n->hostname);
  if (n->os[0] != '\0')
    add_string (b, "OS", n->os);
  json_builder_end_object (b);
  if (n->primary_routes != NULL && n->primary_routes[0] != NULL)
    add_strv (b, "PrimaryRoutes", n->primary_routes);
  if (n->last_seen_unix != 0)
    add_time (b, "LastSeen", n->last_seen_unix);
  if (n->online_known)
    add_bool (b, "Online", n->online);
  add_bool (b, "MachineAuthorized", n->machine_authorized);
  if (n->tags != NULL && n->tags[0] != NULL)
    add_strv (b, "Tags", n->tags);
  if (n->cap != 0)
    add_int (b, "Cap", n->cap);
  if (n->expired)
    add_bool (b, "Expired", TRUE);
  if (n->self_v4_masq_addr != NULL)
    add_string (b, "SelfNodeV4MasqAddrForThisPeer", n->self_v4_masq_addr);
  if (n->self_v6_masq_addr != NULL)
    add_string (b, "SelfNodeV6MasqAddrForThisPeer", n->self_v6_masq_addr);
  if (n->is_wireguard_only)
    add_bool (b, "IsWireGuardOnly", TRUE);
  if (n->is_jailed)
    add_bool (b, "IsJailed", TRUE);
  if (n->unsigned_peer_api_only)
    add_bool (b, "UnsignedPeerAPIOnly", TRUE);
  if (n->cap_map_json != NULL)
    add_raw (b, "CapMap", n->cap_map_json);
  if (n->exit_node_dns_resolvers_json != NULL)
    add_raw (b, "ExitNodeDNSResolvers", n->exit_node_dns_resolvers_json);
  json_builder_end_object (b);
}

static int
compare_profile_id (gconstpointer a,
                    gconstpointer b)
{
  const HyphaeUserProfile *pa = *(HyphaeUserProfile * const *) a;
  const HyphaeUserProfile *pb = *(HyphaeUserProfile * const *) b;

  return pa->id < pb->id ? -1 : pa->id > pb->id;
}

char *
hyphae_netmap_to_json (const HyphaeNetmap *nm)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) profiles = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;

  g_return_val_if_fail (nm != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Self");
  add_node (b, nm->self);
  json_builder_set_member_name (b, "Peers");
  json_builder_begin_array (b);
  for (guint ci = 0; ci < nm->chunks->len; ci++)
    {
      const Chunk *c = nm->chunks->pdata[ci];

      for (guint ni = 0; ni < c->len; ni++)
        add_node (b, c->nodes[ni]);
    }
  json_builder_end_array (b);
  add_string (b, "Domain", nm->domain);
  add_string (b, "MagicDNSSuffix", nm->magicdns_suffix);

  g_hash_table_iter_init (&it, nm->user_profiles);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (profiles, v);
  g_ptr_array_sort (profiles, compare_profile_id);
  json_builder_set_member_name (b, "UserProfiles");
  json_builder_begin_array (b);
  for (guint i = 0; i < profiles->len; i++)
    {
      HyphaeUserProfile *up = profiles->pdata[i];
      json_builder_begin_object (b);
      add_int (b, "ID", up->id);
      add_string (b, "LoginName", up->login_name);
      add_string (b, "DisplayName", up->display_name);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  add_raw (b, "PacketFilter", nm->packet_filter);
  add_raw (b, "DNSConfig", nm->dns_config);
  add_raw (b, "DERPMap", nm->derp_map);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ---- parsing ------------------------------------------------------------------ */

/*
 * MapResponse is read with the pull scanner (json-scan.h) straight into
 * nodes: no tree. Types are checked strictly (a field of the wrong JSON type
 * refuses the message, as Go's decoder would); absent and null both mean
 * "not sent" (the zero value, or unchanged in a delta); unknown fields are
 * skipped (but still validated as JSON). A duplicate key: the last wins.
 */
static gboolean
key_is (const char *key,
        const char *name)
{
  return strcmp (key, name) == 0;
}

/* TRUE when the next value was null (consumed). */
static gboolean
take_null (JsonScan *s)
{
  return json_scan_peek (s) == JSON_SCAN_NULL && json_scan_null (s);
}

static gboolean
scan_dup (JsonScan  *s,
          char     **out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  g_free (*out);
  *out = g_strndup (v, len);
  return TRUE;
}

static gboolean
scan_bool (JsonScan *s,
           gboolean *present,
           gboolean *out)
{
  if (take_null (s))
    return TRUE;
  if (!json_scan_bool (s, out))
    return FALSE;
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

static gboolean
scan_i64 (JsonScan *s,
          gint64   *out)
{
  if (take_null (s))
    return TRUE;
  return json_scan_int64 (s, out);
}

static gboolean
scan_int (JsonScan *s,
          int      *out)
{
  gint64 v;

  if (take_null (s))
    return TRUE;
  if (!json_scan_int64 (s, &v))
    return FALSE;
  if (v < G_MININT32 || v > G_MAXINT32)
    return json_scan_fail (s, "integer out of range");
  *out = (int) v;
  return TRUE;
}

static gboolean
scan_key (JsonScan   *s,
          const char *prefix,
          gboolean   *present,
          guint8      out[32])
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  if (!hyphae_netmap_parse_key (v, len, prefix, out))
    return json_scan_fail (s, "not %s followed by 64 hex digits", prefix);
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

static gboolean
scan_time (JsonScan *s,
           gboolean *present,
           gint64   *out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  if (!hyphae_netmap_parse_time (v, len, out))
    return json_scan_fail (s, "not an RFC 3339 time");
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

typedef char *(*ParseItem) (const char *s, gsize len);

static char *
dup_item (const char *s,
          gsize       len)
{
  return g_strndup (s, len);
}

/* A string array, each item checked by parse (NULL = bad). Null: *out kept. */
static gboolean
scan_list (JsonScan   *s,
           ParseItem   parse,
           char     ***out)
{
  g_autoptr(GPtrArray) v = NULL;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  v = g_ptr_array_new_with_free_func (g_free);
  while ((r = json_scan_array_next (s)) > 0)
    {
      const char *item;
      gsize len;
      char *parsed;

      if (!json_scan_string (s, &item, &len))
        return FALSE;
      parsed = parse (item, len);
      if (parsed == NULL)
        return json_scan_fail (s, "\"%s\" does not parse", item);
      g_ptr_array_add (v, parsed);
    }
  if (r < 0)
    return FALSE;
  g_ptr_array_add (v, NULL);
  g_ptr_array_set_free_func (v, NULL);
  g_strfreev (*out);
  *out = (char **) g_ptr_array_free (g_steal_pointer (&v), FALSE);
  return TRUE;
}

/* The value's text if it is of the wanted type (a GRefString); null: kept. */
static gboolean
scan_raw (JsonScan      *s,
          JsonScanType   want,
          char         **out)
{
  JsonScanType t = json_scan_peek (s);
  const char *start;
  gsize len;

  if (t == JSON_SCAN_NULL)
    return json_scan_null (s);
  if (t != want)
    return t != JSON_SCAN_ERROR &&
           json_scan_fail (s, "expected %s", want == JSON_SCAN_ARRAY ? "an array" : "an object");
  if (!json_scan_raw (s, &start, &len))
    return FALSE;
  g_clear_pointer (out, g_ref_string_release);
  *out = g_ref_string_new_len (start, len);
  return TRUE;
}

/* As scan_raw, into a plain string. */
static gboolean
scan_raw_dup (JsonScan      *s,
              JsonScanType   want,
              char         **out)
{
  char *r = NULL;

  if (!scan_raw (s, want, &r))
    return FALSE;
  if (r != NULL)
    {
      g_free (*out);
      *out = g_strdup (r);
      g_ref_string_release (r);
    }
  return TRUE;
}

static char *
parse_addr_only (const char *s,
                 gsize       len)
{
  char canon[INET6_ADDRSTRLEN];
  int family;

  return parse_addr (s, len, &family, canon) ? g_strdup (canon) : NULL;
}

static gboolean
scan_addr (JsonScan  *s,
           char     **out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  g_clear_pointer (out, g_free);
  if (len == 0)   /* netip.Addr{} marshals as "" */
    return TRUE;
  *out = parse_addr_only (v, len);
  return *out != NULL || json_scan_fail (s, "\"%s\" is not an IP address", v);
}

static gboolean
scan_services (JsonScan   *s,
               HyphaeNode *node)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      g_autofree char *proto = NULL;
      const char *k;
      int port = 0, rr;

      if (take_null (s))
        continue;
      if (!json_scan_object_begin (s))
        return FALSE;
      while ((rr = json_scan_object_next (s, &k, NULL)) > 0)
        {
          gboolean ok;

          if (key_is (k, "Proto"))
            ok = scan_dup (s, &proto);
          else if (key_is (k, "Port"))
            ok = scan_int (s, &port);
          else
            ok = json_scan_skip (s);
          if (!ok)
            return FALSE;
        }
      if (rr < 0)
        return FALSE;
      if (port < 0 || port > 65535)
        return json_scan_fail (s, "Hostinfo.Services port out of range");
      if (g_strcmp0 (proto, "peerapi4") == 0)
        node->peerapi4_port = port;
      else if (g_strcmp0 (proto, "peerapi6") == 0)
        node->peerapi6_port = port;
    }
  return r == 0;
}

static gboolean
scan_hostinfo (JsonScan   *s,
               HyphaeNode *node)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "Hostname"))
        ok = scan_dup (s, &node->hostname);
      else if (key_is (k, "OS"))
        ok = scan_dup (s, &node->os);
      else if (key_is (k, "Services"))
        ok = scan_services (s, node);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0;
}

/* What a node carries that only matters while parsing it. */
typedef struct {
  char  *derp;          /* legacy DERP "127.3.3.40:N" */
  char **capabilities;  /* deprecated Capabilities */
} NodeExtras;

/* One tailcfg.Node member. */
static gboolean
scan_node_field (JsonScan    *s,
                 const char  *k,
                 HyphaeNode  *n,
                 NodeExtras  *x)
{
  switch (k[0])
    {
    case 'A':
      if (key_is (k, "Addresses"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->addresses);
      if (key_is (k, "AllowedIPs"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->allowed_ips);
      break;
    case 'C':
      if (key_is (k, "Cap"))
        return scan_int (s, &n->cap);
      if (key_is (k, "CapMap"))
        return scan_raw_dup (s, JSON_SCAN_OBJECT, &n->cap_map_json);
      if (key_is (k, "Capabilities"))
        return scan_list (s, dup_item, &x->capabilities);
      break;
    case 'D':
      if (key_is (k, "DiscoKey"))
        return scan_key (s, KEY_PREFIX_DISCO, &n->has_disco_key, n->disco_key);
      if (key_is (k, "DERP"))
        return scan_dup (s, &x->derp);
      break;
    case 'E':
      if (key_is (k, "Endpoints"))
        return scan_list (s, hyphae_netmap_parse_addr_port, &n->endpoints);
      if (key_is (k, "Expired"))
        return scan_bool (s, NULL, &n->expired_by_control);
      if (key_is (k, "ExitNodeDNSResolvers"))
        return scan_raw_dup (s, JSON_SCAN_ARRAY, &n->exit_node_dns_resolvers_json);
      break;
    case 'H':
      if (key_is (k, "HomeDERP"))
        return scan_int (s, &n->home_derp);
      if (key_is (k, "Hostinfo"))
        return scan_hostinfo (s, n);
      break;
    case 'I':
      if (key_is (k, "ID"))
        return scan_i64 (s, &n->id);
      if (key_is (k, "IsWireGuardOnly"))
        return scan_bool (s, NULL, &n->is_wireguard_only);
      if (key_is (k, "IsJailed"))
        return scan_bool (s, NULL, &n->is_jailed);
      break;
    case 'K':
      if (key_is (k, "Key"))
        return scan_key (s, KEY_PREFIX_NODE, NULL, n->key);
      if (key_is (k, "KeyExpiry"))
        return scan_time (s, NULL, &n->key_expiry_unix);
      break;
    case 'L':
      if (key_is (k, "LastSeen"))
        return scan_time (s, NULL, &n->last_seen_unix);
      break;
    case 'M':
      if (key_is (k, "Machine"))
        return scan_key (s, KEY_PREFIX_MACHINE, &n->has_machine_key, n->machine_key);
      if (key_is (k, "MachineAuthorized"))
        return scan_bool (s, NULL, &n->machine_authorized);
      break;
    case 'N':
      if (key_is (k, "Name"))
        return scan_dup (s, &n->name);
      break;
    case 'O':
      if (key_is (k, "Online"))
        return scan_bool (s, &n->online_known, &n->online);
      break;
    case 'P':
      if (key_is (k, "PrimaryRoutes"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->primary_routes);
      break;
    case 'S':
      if (key_is (k, "StableID"))
        return scan_dup (s, &n->stable_id);
      if (key_is (k, "SelfNodeV4MasqAddrForThisPeer"))
        return scan_addr (s, &n->self_v4_masq_addr);
      if (key_is (k, "SelfNodeV6MasqAddrForThisPeer"))
        return scan_addr (s, &n->self_v6_masq_addr);
      break;
    case 'T':
      if (key_is (k, "Tags"))
        return scan_list (s, dup_item, &n->tags);
      break;
    case 'U':
      if (key_is (k, "User"))
        return scan_i64 (s, &n->user_id);
      if (key_is (k, "UnsignedPeerAPIOnly"))
        return scan_bool (s, NULL, &n->unsigned_peer_api_only);
      break;
    default:
      break;
    }
  return json_scan_skip (s);
}

/* An old server's self Capabilities become CapMap keys with no value
 * (map.go handleNonKeepAliveMapResponse), so later layers read only CapMap. */
static void
merge_capabilities (HyphaeNode *n,
                    char      **caps)
{
  g_autoptr(JsonNode) root = json_from_string (n->cap_map_json != NULL ? n->cap_map_json : "{}",
                                               NULL);
  JsonObject *o;

  if (caps == NULL || caps[0] == NULL || root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  for (guint i = 0; caps[i] != NULL; i++)
    if (!json_object_has_member (o, caps[i]))
      json_object_set_null_member (o, caps[i]);
  g_free (n->cap_map_json);
  n->cap_map_json = json_to_string (root, FALSE);
}

static HyphaeNode *
scan_node (JsonScan *s,
           gboolean  self)
{
  g_autoptr(HyphaeNode) node = hyphae_node_new ();
  NodeExtras x = { NULL, NULL };
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return NULL;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    if (!scan_node_field (s, k, node, &x))
      break;
  if (r != 0)
    {
      g_free (x.derp);
      g_strfreev (x.capabilities);
      return NULL;
    }
  if (node->has_disco_key && key_is_zero (node->disco_key))
    node->has_disco_key = FALSE;
  node->expired = node->expired_by_control;
  if (self)
    merge_capabilities (node, x.capabilities);
  hyphae_node_finish (node, x.derp);
  g_free (x.derp);
  g_strfreev (x.capabilities);
  return g_steal_pointer (&node);
}

/* Peers / PeersChanged: null elements are refused (Go would dereference nil). */
static gboolean
scan_node_list (JsonScan   *s,
                GPtrArray **out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  g_clear_pointer (out, g_ptr_array_unref);
  *out = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_node_unref);
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeNode *node = scan_node (s, FALSE);

      if (node == NULL)
        return FALSE;
      g_ptr_array_add (*out, node);
    }
  return r == 0;
}

static gboolean
scan_patch (JsonScan        *s,
            HyphaeNodePatch *p)
{
  gboolean has_id = FALSE;
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "NodeID"))
        {
          ok = json_scan_int64 (s, &p->id);
          has_id = TRUE;
        }
      else if (key_is (k, "DERPRegion"))
        ok = scan_int (s, &p->derp_region);
      else if (key_is (k, "Cap"))
        ok = scan_int (s, &p->cap);
      else if (key_is (k, "Endpoints"))
        ok = scan_list (s, hyphae_netmap_parse_addr_port, &p->endpoints);
      else if (key_is (k, "Key"))
        ok = scan_key (s, KEY_PREFIX_NODE, &p->has_key, p->key);
      else if (key_is (k, "DiscoKey"))
        ok = scan_key (s, KEY_PREFIX_DISCO, &p->has_disco_key, p->disco_key);
      else if (key_is (k, "Online"))
        ok = scan_bool (s, &p->has_online, &p->online);
      else if (key_is (k, "LastSeen"))
        ok = scan_time (s, &p->has_last_seen, &p->last_seen);
      else if (key_is (k, "KeyExpiry"))
        ok = scan_time (s, &p->has_key_expiry, &p->key_expiry);
      else if (key_is (k, "CapMap"))
        ok = scan_raw_dup (s, JSON_SCAN_OBJECT, &p->cap_map_json);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  if (r < 0)
    return FALSE;
  if (!has_id)
    return json_scan_fail (s, "PeersChangedPatch entry without NodeID");
  p->has_endpoints = p->endpoints != NULL;
  p->has_cap_map = p->cap_map_json != NULL;
  return TRUE;
}

static gboolean
scan_patches (JsonScan *s,
              GArray   *out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeNodePatch p = { 0 };

      if (take_null (s))
        continue;   /* a nil *PeerChange */
      g_array_append_val (out, p);
      if (!scan_patch (s, &g_array_index (out, HyphaeNodePatch, out->len - 1)))
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_ids (JsonScan *s,
          GArray   *out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      gint64 id;

      if (!json_scan_int64 (s, &id))
        return FALSE;
      g_array_append_val (out, id);
    }
  return r == 0;
}

/* {"<NodeID>": bool} */
static gboolean
scan_id_bools (JsonScan *s,
               GArray   *out)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      HyphaeIdBool e;

      if (!g_ascii_string_to_signed (k, 10, G_MININT64, G_MAXINT64, &e.id, NULL))
        return json_scan_fail (s, "key \"%s\" is not a node ID", k);
      if (!json_scan_bool (s, &e.value))
        return FALSE;
      g_array_append_val (out, e);
    }
  return r == 0;
}

static gboolean
scan_profiles (JsonScan  *s,
               GPtrArray **out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  if (*out == NULL)
    *out = g_ptr_array_new_with_free_func (hyphae_user_profile_free);
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeUserProfile *up;
      const char *k;
      int rr;

      if (take_null (s))
        continue;
      if (!json_scan_object_begin (s))
        return FALSE;
      up = g_new0 (HyphaeUserProfile, 1);
      g_ptr_array_add (*out, up);
      while ((rr = json_scan_object_next (s, &k, NULL)) > 0)
        {
          gboolean ok;

          if (key_is (k, "ID"))
            ok = scan_i64 (s, &up->id);
          else if (key_is (k, "LoginName"))
            ok = scan_dup (s, &up->login_name);
          else if (key_is (k, "DisplayName"))
            ok = scan_dup (s, &up->display_name);
          else
            ok = json_scan_skip (s);
          if (!ok)
            return FALSE;
        }
      if (rr < 0)
        return FALSE;
      if (up->login_name == NULL)
        up->login_name = g_strdup ("");
      if (up->display_name == NULL)
        up->display_name = g_strdup ("");
    }
  return r == 0;
}

static gboolean
scan_packet_filters (JsonScan  *s,
                     GPtrArray **out)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  if (*out == NULL)
    *out = g_ptr_array_new_with_free_func (hyphae_named_filter_free);
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      HyphaeNamedFilter *nf = g_new0 (HyphaeNamedFilter, 1);

      nf->name = g_strdup (k);
      g_ptr_array_add (*out, nf);
      if (!scan_raw (s, JSON_SCAN_ARRAY, &nf->rules))
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_map_response (JsonScan        *s,
                   HyphaeMapUpdate *u)
{
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "KeepAlive"))
        ok = scan_bool (s, NULL, &u->keepalive);
      else if (key_is (k, "PopBrowserURL"))
        ok = scan_dup (s, &u->pop_browser_url);
      else if (key_is (k, "ControlTime"))
        ok = scan_time (s, NULL, &u->control_time);
      else if (key_is (k, "Node"))
        {
          if (take_null (s))
            continue;
          g_clear_pointer (&u->node, hyphae_node_unref);
          u->node = scan_node (s, TRUE);
          ok = u->node != NULL;
        }
      else if (key_is (k, "Peers"))
        ok = scan_node_list (s, &u->peers);
      else if (key_is (k, "PeersChanged"))
        ok = scan_node_list (s, &u->peers_changed);
      else if (key_is (k, "PeersRemoved"))
        ok = scan_ids (s, u->peers_removed);
      else if (key_is (k, "PeersChangedPatch"))
        ok = scan_patches (s, u->patches);
      else if (key_is (k, "OnlineChange"))
        ok = scan_id_bools (s, u->online_change);
      else if (key_is (k, "PeerSeenChange"))
        ok = scan_id_bools (s, u->seen_change);
      else if (key_is (k, "UserProfiles"))
        ok = scan_profiles (s, &u->user_profiles);
      else if (key_is (k, "Domain"))
        ok = scan_dup (s, &u->domain);
      else if (key_is (k, "PacketFilter"))
        ok = scan_raw (s, JSON_SCAN_ARRAY, &u->packet_filter);
      else if (key_is (k, "PacketFilters"))
        ok = scan_packet_filters (s, &u->packet_filters);
      else if (key_is (k, "DNSConfig"))
        ok = scan_raw (s, JSON_SCAN_OBJECT, &u->dns_config);
      else if (key_is (k, "DERPMap"))
        ok = scan_raw (s, JSON_SCAN_OBJECT, &u->derp_map);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0 && json_scan_end (s);
}

static HyphaeMapUpdate *
hyphae_map_update_parse_json (const char  *json,
                              gsize        len,
                              GError     **error)
{
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_new ();
  JsonScan s;
  gboolean ok;

  json_scan_init (&s, json, len);
  ok = scan_map_response (&s, u);
  if (!ok)
    g_set_error (error, HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_PARSE,
                 "MapResponse: %s", json_scan_error (&s) != NULL ? json_scan_error (&s)
                                                                  : "malformed");
  json_scan_clear (&s);
  if (!ok)
    return NULL;

  if (u->pop_browser_url != NULL && u->pop_browser_url[0] == '\0')
    g_clear_pointer (&u->pop_browser_url, g_free);
  if (u->keepalive)
    {
      /* "When true, all other fields except PingRequest, ControlTime, and
       * PopBrowserURL are ignored" (tailcfg.MapResponse.KeepAlive; direct.go
       * skips the netmap for it). */
      g_clear_pointer (&u->node, hyphae_node_unref);
      g_clear_pointer (&u->peers, g_ptr_array_unref);
      g_clear_pointer (&u->peers_changed, g_ptr_array_unref);
      g_array_set_size (u->peers_removed, 0);
      g_array_set_size (u->patches, 0);
      g_array_set_size (u->online_change, 0);
      g_array_set_size (u->seen_change, 0);
      g_clear_pointer (&u->user_profiles, g_ptr_array_unref);
      g_clear_pointer (&u->domain, g_free);
      g_clear_pointer (&u->packet_filter, g_ref_string_release);
      g_clear_pointer (&u->packet_filters, g_ptr_array_unref);
      g_clear_pointer (&u->dns_config, g_ref_string_release);
      g_clear_pointer (&u->derp_map, g_ref_string_release);
    }
  if (u->domain != NULL && u->domain[0] == '\0')
    g_clear_pointer (&u->domain, g_free);
  u->changes = u->node != NULL || u->peers != NULL || u->peers_changed != NULL ||
               u->peers_removed->len > 0 || u->patches->len > 0 ||
               u->online_change->len > 0 || u->seen_change->len > 0 ||
               u->user_profiles != NULL || u->domain != NULL ||
               u->packet_filter != NULL || u->packet_filters != NULL ||
               u->dns_config != NULL || u->derp_map != NULL;
  return g_steal_pointer (&u);
}
