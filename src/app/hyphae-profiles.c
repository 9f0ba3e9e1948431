/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-profiles"

#include "config.h"

#include "hyphae-profiles.h"

char *
hyphae_profiles_lookup (GSettings *settings,
                        const char *name)
{
  g_autoptr (GVariant) profiles = g_settings_get_value (settings, "profiles");
  GVariantIter iter;
  const char *n, *url;

  g_variant_iter_init (&iter, profiles);
  while (g_variant_iter_next (&iter, "(&s&s)", &n, &url))
    if (g_strcmp0 (n, name) == 0)
      return g_strdup (url);
  return NULL;
}

void
hyphae_profiles_set_current (GSettings *settings,
                             const char *name,
                             const char *control_url)
{
  g_autoptr (GVariant) profiles = g_settings_get_value (settings, "profiles");
  GVariantBuilder b;
  GVariantIter iter;
  const char *n, *url;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ss)"));
  g_variant_iter_init (&iter, profiles);
  while (g_variant_iter_next (&iter, "(&s&s)", &n, &url))
    if (g_strcmp0 (n, name) != 0)
      g_variant_builder_add (&b, "(ss)", n, url);
  g_variant_builder_add (&b, "(ss)", name, control_url != NULL ? control_url : "");
  g_settings_delay (settings);
  g_settings_set_value (settings, "profiles", g_variant_builder_end (&b));
  g_settings_set_string (settings, "current-profile", name);
  g_settings_apply (settings);
}

char *
hyphae_profiles_name_for_url (GSettings *settings,
                              const char *control_url)
{
  g_autoptr (GVariant) profiles = g_settings_get_value (settings, "profiles");
  g_autoptr (GUri) uri = NULL;
  GVariantIter iter;
  const char *n, *url;
  const char *base = "default";
  g_autofree char *name = NULL;

  if (control_url == NULL)
    control_url = "";
  g_variant_iter_init (&iter, profiles);
  while (g_variant_iter_next (&iter, "(&s&s)", &n, &url))
    if (g_strcmp0 (url, control_url) == 0)
      return g_strdup (n);
  if (*control_url != '\0')
    uri = g_uri_parse (control_url, G_URI_FLAGS_NONE, NULL);
  if (uri != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0')
    base = g_uri_get_host (uri);
  name = g_strdup (base);
  for (guint i = 2;; i++)
    {
      g_autofree char *taken = hyphae_profiles_lookup (settings, name);

      if (taken == NULL)
        return g_steal_pointer (&name);
      g_free (name);
      name = g_strdup_printf ("%s %u", base, i);
    }
}
