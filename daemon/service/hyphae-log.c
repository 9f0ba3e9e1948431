/* SPDX-License-Identifier: MIT */
#include "hyphae-log.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "hyphae-mesh-error.h"

#define DOMAIN_PREFIX "hyphae-"

/* The category whose domain this is ("hyphae-wg" → ENGINE_LOG_WG), or -1. */
static int
category_of_domain (const char *domain)
{
  if (domain == NULL || !g_str_has_prefix (domain, DOMAIN_PREFIX))
    return -1;
  return engine_log_category_from_name (domain + strlen (DOMAIN_PREFIX));
}

static int
category_of_fields (const GLogField *fields,
                    gsize n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      return category_of_domain (fields[i].value);
  return -1;
}

/*
 * GLib's default writer shows info and debug lines only for the domains in
 * G_MESSAGES_DEBUG as read at each line, and GLib 2.74 has no thread-safe way
 * to change that at run time (g_log_writer_default_set_debug_domains is 2.80;
 * setenv races with the runner threads' getenv). So our categories' lines are
 * decided here by the engine's mask and written as the default writer would.
 */
static GLogWriterOutput
hyphae_log_writer (GLogLevelFlags level,
                   const GLogField *fields,
                   gsize n_fields,
                   gpointer user_data)
{
  int category;

  if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) == 0 ||
      (category = category_of_fields (fields, n_fields)) < 0)
    return g_log_writer_default (level, fields, n_fields, user_data);
  if ((engine_log_get_debug_mask () & (1u << category)) == 0)
    return G_LOG_WRITER_HANDLED;
  if (g_log_writer_is_journald (fileno (stderr)) &&
      g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, user_data);
}

/* Engine error and warning are not GLib's (an error aborts): the journal
 * priority says what they are. */
static void
engine_to_glib (enum engine_log_level level,
                enum engine_log_category category,
                const char *message,
                void *user_data)
{
  static const struct {
    GLogLevelFlags glib;
    const char *priority; /* syslog(3) */
  } levels[] = {
    [ENGINE_LOG_ERROR] = { G_LOG_LEVEL_WARNING, "3" },
    [ENGINE_LOG_WARNING] = { G_LOG_LEVEL_MESSAGE, "4" },
    [ENGINE_LOG_INFO] = { G_LOG_LEVEL_INFO, "6" },
    [ENGINE_LOG_DEBUG] = { G_LOG_LEVEL_DEBUG, "7" },
  };
  char domain[32];
  GLogField fields[] = {
    { "GLIB_DOMAIN", domain, -1 },
    { "PRIORITY", levels[level].priority, -1 },
    { "MESSAGE", message, -1 },
  };

  g_snprintf (domain, sizeof domain, DOMAIN_PREFIX "%s", engine_log_category_name (category));
  g_log_structured_array (levels[level].glib, fields, G_N_ELEMENTS (fields));
}

/* G_MESSAGES_DEBUG as GLib reads it: "all", or domain names (GLib matches substrings). */
static guint32
mask_from_environment (void)
{
  const char *domains = g_getenv ("G_MESSAGES_DEBUG");
  guint32 mask = 0;

  if (domains == NULL)
    return 0;
  if (strcmp (domains, "all") == 0)
    return ENGINE_LOG_ALL_CATEGORIES;
  for (int i = 0; i < ENGINE_LOG_N_CATEGORIES; i++)
    {
      g_autofree char *domain = g_strconcat (DOMAIN_PREFIX, engine_log_category_name (i), NULL);

      if (strstr (domains, domain) != NULL)
        mask |= 1u << i;
    }
  return mask;
}

void
hyphae_log_init (void)
{
  /* A daemon's stdout is no log (the bus that activated us may have it). */
  g_log_writer_default_set_use_stderr (TRUE);
  engine_log_set_debug_mask (mask_from_environment ());
  g_log_set_writer_func (hyphae_log_writer, NULL, NULL);
  engine_log_set_handler (engine_to_glib, NULL);
}

gboolean
hyphae_log_mask_from_names (const char * const *categories,
                            guint32 *mask,
                            GError **error)
{
  *mask = 0;
  for (gsize i = 0; categories != NULL && categories[i] != NULL; i++)
    {
      int category = engine_log_category_from_name (categories[i]);

      if (strcmp (categories[i], "all") == 0)
        *mask = ENGINE_LOG_ALL_CATEGORIES;
      else if (category >= 0)
        *mask |= 1u << category;
      else
        {
          g_autoptr(GString) known = g_string_new ("all");

          for (int c = 0; c < ENGINE_LOG_N_CATEGORIES; c++)
            g_string_append_printf (known, ", %s", engine_log_category_name (c));
          g_set_error (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_INVALID_ARGUMENT,
                       "Unknown log category (known: %s)", known->str);
          return FALSE;
        }
    }
  return TRUE;
}

void
hyphae_log_set_debug_mask (guint32 mask)
{
  g_auto(GStrv) names = NULL;
  g_autofree char *text = NULL;

  engine_log_set_debug_mask (mask);
  names = hyphae_log_get_debug ();
  text = g_strjoinv (" ", names);
  g_message ("Debug log categories: %s", *text ? text : "none");
}

GStrv
hyphae_log_get_debug (void)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  guint32 mask = engine_log_get_debug_mask ();

  for (int i = 0; i < ENGINE_LOG_N_CATEGORIES; i++)
    if (mask & (1u << i))
      g_strv_builder_add (names, engine_log_category_name (i));
  return g_strv_builder_end (names);
}
