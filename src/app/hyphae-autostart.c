/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-autostart"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "hyphae-autostart.h"

#define PORTAL_BUS_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH     "/org/freedesktop/portal/desktop"

struct _HyphaeAutostart {
  GObject parent_instance;

  GSettings *settings;
  gboolean background_allowed;
  /* The portal request in flight (Flatpak only). */
  GDBusConnection *bus;
  guint response_id;
};

G_DEFINE_FINAL_TYPE (HyphaeAutostart, hyphae_autostart, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BACKGROUND_ALLOWED,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
set_background_allowed (HyphaeAutostart *self,
                        gboolean allowed)
{
  if (self->background_allowed == allowed)
    return;
  self->background_allowed = allowed;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKGROUND_ALLOWED]);
}

/* --- outside a Flatpak: the XDG autostart entry --- */

static char *
autostart_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "autostart", APPLICATION_ID ".desktop", NULL);
}

/* This very program, as an Exec= argument (Desktop Entry spec, "The Exec
 * key": reserved characters need double quotes, and inside them " ` $ \
 * a backslash). */
static char *
exec_line (void)
{
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr (GString) quoted = g_string_new (NULL);
  const char *p;

  if (self_exe == NULL)
    self_exe = g_strdup ("hyphae");
  if (strspn (self_exe, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-") == strlen (self_exe))
    return g_strconcat (self_exe, " --hide-window", NULL);
  g_string_append_c (quoted, '"');
  for (p = self_exe; *p != '\0'; p++)
    {
      if (strchr ("\"`$\\", *p) != NULL)
        g_string_append_c (quoted, '\\');
      g_string_append_c (quoted, *p);
    }
  g_string_append (quoted, "\" --hide-window");
  return g_string_free (g_steal_pointer (&quoted), FALSE);
}

static gboolean
write_entry (GError **error)
{
  g_autofree char *path = autostart_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *exec = exec_line ();
  g_autoptr (GKeyFile) entry = g_key_file_new ();
  const char *group = G_KEY_FILE_DESKTOP_GROUP;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  g_key_file_set_string (entry, group, G_KEY_FILE_DESKTOP_KEY_TYPE, G_KEY_FILE_DESKTOP_TYPE_APPLICATION);
  g_key_file_set_string (entry, group, G_KEY_FILE_DESKTOP_KEY_NAME, "Hyphae");
  g_key_file_set_string (entry, group, G_KEY_FILE_DESKTOP_KEY_COMMENT, _ ("Start Hyphae in the background"));
  g_key_file_set_string (entry, group, G_KEY_FILE_DESKTOP_KEY_ICON, APPLICATION_ID);
  g_key_file_set_string (entry, group, G_KEY_FILE_DESKTOP_KEY_EXEC, exec);
  g_key_file_set_boolean (entry, group, G_KEY_FILE_DESKTOP_KEY_TERMINAL, FALSE);
  g_key_file_set_boolean (entry, group, "X-GNOME-Autostart-enabled", TRUE);
  return g_key_file_save_to_file (entry, path, error);
}

static void
apply_entry (HyphaeAutostart *self,
             gboolean enabled)
{
  g_autofree char *path = autostart_path ();
  g_autoptr (GError) error = NULL;

  if (enabled && !write_entry (&error))
    g_message ("Cannot write %s: %s", path, error->message);
  else if (!enabled && g_unlink (path) != 0 && errno != ENOENT)
    g_message ("Cannot remove %s: %s", path, g_strerror (errno));
  set_background_allowed (self, enabled && error == NULL);
}

/* --- in a Flatpak: the Background portal --- */

static void
end_request (HyphaeAutostart *self)
{
  if (self->response_id != 0)
    g_dbus_connection_signal_unsubscribe (self->bus, self->response_id);
  self->response_id = 0;
  g_clear_object (&self->bus);
}

/* org.freedesktop.portal.Request.Response (u response, a{sv} results):
 * response 0 is success; results "background" b says what was granted. */
static void
on_response (GDBusConnection *bus,
             const char *sender,
             const char *path,
             const char *interface,
             const char *signal,
             GVariant *parameters,
             gpointer user_data)
{
  HyphaeAutostart *self = user_data;
  g_autoptr (GVariant) results = NULL;
  gboolean background = FALSE;
  guint32 response;

  g_variant_get (parameters, "(u@a{sv})", &response, &results);
  if (response == 0)
    g_variant_lookup (results, "background", "b", &background);
  g_debug ("Background portal: response %u, background %d", response, background);
  set_background_allowed (self, background);
  end_request (self);
}

static void
on_request_called (GObject *object,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (HyphaeAutostart) self = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply != NULL)
    return; /* the answer comes as Response */
  g_message ("Background portal: %s", error->message);
  set_background_allowed (self, FALSE);
  end_request (self);
}

/* RequestBackground (xdg-desktop-portal, org.freedesktop.portal.Background):
 * subscribe to the Request object's path, which the portal derives from the
 * caller's unique name and handle_token, before calling, or the answer can
 * come first. */
static void
request_background (HyphaeAutostart *self,
                    gboolean autostart)
{
  static const char * const commandline[] = { "hyphae", "--hide-window", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *token = g_strdup_printf ("hyphae%u", g_random_int ());
  g_autofree char *sender = NULL;
  g_autofree char *handle = NULL;
  GVariantBuilder options;

  end_request (self);
  self->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (self->bus == NULL)
    {
      g_message ("Background portal: %s", error->message);
      set_background_allowed (self, FALSE);
      return;
    }
  sender = g_strdup (g_dbus_connection_get_unique_name (self->bus) + 1);
  g_strdelimit (sender, ".", '_');
  handle = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender, token);
  self->response_id = g_dbus_connection_signal_subscribe (self->bus, PORTAL_BUS_NAME, "org.freedesktop.portal.Request",
                                                          "Response", handle, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                          on_response, self, NULL);
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "handle_token", g_variant_new_string (token));
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_ ("Hyphae keeps the connection’s status in the panel")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (autostart));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  g_dbus_connection_call (self->bus, PORTAL_BUS_NAME, PORTAL_PATH, "org.freedesktop.portal.Background",
                          "RequestBackground", g_variant_new ("(sa{sv})", "", &options), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_request_called, g_object_ref (self));
}

/* --- either way --- */

static gboolean
in_flatpak (void)
{
  return g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
}

static void
on_start_at_login_changed (GSettings *settings,
                           const char *key,
                           gpointer user_data)
{
  HyphaeAutostart *self = user_data;
  gboolean enabled = g_settings_get_boolean (settings, "start-at-login");

  if (in_flatpak ())
    request_background (self, enabled);
  else
    apply_entry (self, enabled);
}

static void
hyphae_autostart_dispose (GObject *object)
{
  HyphaeAutostart *self = HYPHAE_AUTOSTART (object);

  end_request (self);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (hyphae_autostart_parent_class)->dispose (object);
}

static void
hyphae_autostart_get_property (GObject *object,
                               guint prop_id,
                               GValue *value,
                               GParamSpec *pspec)
{
  HyphaeAutostart *self = HYPHAE_AUTOSTART (object);

  switch (prop_id)
    {
    case PROP_BACKGROUND_ALLOWED: g_value_set_boolean (value, self->background_allowed); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_autostart_class_init (HyphaeAutostartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_autostart_dispose;
  object_class->get_property = hyphae_autostart_get_property;

  properties[PROP_BACKGROUND_ALLOWED] = g_param_spec_boolean ("background-allowed", NULL, NULL, FALSE,
                                                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
hyphae_autostart_init (HyphaeAutostart *self)
{
}

HyphaeAutostart *
hyphae_autostart_new (GSettings *settings)
{
  HyphaeAutostart *self = g_object_new (HYPHAE_TYPE_AUTOSTART, NULL);

  self->settings = g_object_ref (settings);
  /* Connected before the first read: GSettings signals changes of keys read. */
  g_signal_connect_object (settings, "changed::start-at-login", G_CALLBACK (on_start_at_login_changed), self, 0);
  /* The entry follows the setting from the start (a copied home, an entry
   * removed by hand); the portal is asked only if the setting is on, so a
   * plain start never prompts. */
  if (g_settings_get_boolean (settings, "start-at-login") || !in_flatpak ())
    on_start_at_login_changed (settings, "start-at-login", self);
  return self;
}

gboolean
hyphae_autostart_get_background_allowed (HyphaeAutostart *self)
{
  g_return_val_if_fail (HYPHAE_IS_AUTOSTART (self), FALSE);

  return self->background_allowed;
}
