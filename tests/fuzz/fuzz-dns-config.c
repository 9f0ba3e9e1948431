/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/dns/hyphae-dns-config (a DNSConfig from the
 * control server). The input is the JSON text.
 *
 * Invariants: a refused config sets G_IO_ERROR_INVALID_DATA and returns NULL;
 * an accepted one is within its bounds (256 routes, 64 resolvers per list,
 * 10,000 extra records), every name is normalised (lowercase, no outer dots,
 * ≤ 253 bytes) and normalising it again gives itself, routes are longest
 * first and route_for finds each route's own suffix, UDP resolvers have a
 * family and a port, DoH ones a URL, extra records are A or AAAA.
 */
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "fuzz-harness.h"
#include "hyphae-dns-config.h"

static void
check_name (const char *name)
{
  g_autofree char *again = NULL;

  CHECK (name != NULL && name[0] != '\0' && name[0] != '.' && strlen (name) <= 253);
  CHECK (name[strlen (name) - 1] != '.');
  again = hyphae_dns_name_normalize (name, NULL);
  CHECK (again != NULL && strcmp (again, name) == 0);
}

static void
check_resolvers (GPtrArray *list)
{
  CHECK (list->len <= 64);
  for (guint i = 0; i < list->len; i++)
    {
      const HyphaeDnsResolver *r = g_ptr_array_index (list, i);

      CHECK (r->addr != NULL && r->bootstrap != NULL);
      if (r->kind == HYPHAE_DNS_RESOLVER_UDP)
        CHECK ((r->family == AF_INET || r->family == AF_INET6) && r->port != 0 && r->url == NULL);
      else
        CHECK (r->kind == HYPHAE_DNS_RESOLVER_DOH && r->url != NULL);
    }
}

static void
check_config (const HyphaeDnsConfig *c)
{
  CHECK (c->present);
  check_resolvers (c->resolvers);
  check_resolvers (c->fallback_resolvers);
  CHECK (c->routes->len <= 256);
  for (guint i = 0; i < c->routes->len; i++)
    {
      const HyphaeDnsRoute *route = g_ptr_array_index (c->routes, i);

      check_name (route->suffix);
      check_resolvers (route->resolvers);
      CHECK (hyphae_dns_config_route_for (c, route->suffix) == route);
      CHECK (i == 0 || strlen (((HyphaeDnsRoute *) g_ptr_array_index (c->routes, i - 1))->suffix) >=
                         strlen (route->suffix));
    }
  for (guint i = 0; c->domains[i] != NULL; i++)
    check_name (c->domains[i]);
  for (guint i = 0; c->cert_domains[i] != NULL; i++)
    check_name (c->cert_domains[i]);
  CHECK (c->extra_records->len <= 10000);
  for (guint i = 0; i < c->extra_records->len; i++)
    {
      const HyphaeDnsExtraRecord *rec = &g_array_index (c->extra_records, HyphaeDnsExtraRecord, i);

      check_name (rec->name);
      CHECK (rec->type == 1 || rec->type == 28);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(HyphaeDnsConfig) c = hyphae_dns_config_parse (text, &error);

  CHECK ((c == NULL) == (error != NULL));
  if (c != NULL)
    check_config (c);
  else
    CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  return 0;
}
