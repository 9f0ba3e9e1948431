/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-window"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-mesh-proxy.h"
#include "hyphae-window.h"

struct _HyphaeWindow {
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  AdwStatusPage *state_page;
  GtkWidget *retry_button;

  GCancellable *cancellable;
  HyphaeMesh1 *proxy;
  /* Why the last connect failed, for the "Not Running" page. */
  char *connect_error;
  gboolean connecting;
};

G_DEFINE_FINAL_TYPE (HyphaeWindow, hyphae_window, ADW_TYPE_APPLICATION_WINDOW)

static void
show_page (HyphaeWindow *self,
           const char *icon_name,
           const char *title,
           const char *description,
           gboolean can_retry)
{
  adw_status_page_set_icon_name (self->state_page, icon_name);
  adw_status_page_set_title (self->state_page, title);
  adw_status_page_set_description (self->state_page, description);
  gtk_widget_set_visible (self->retry_button, can_retry);
}

/* What to tell the user when hyphaed is not there: the app cannot start it
 * itself, the system has to provide it. */
static void
show_no_daemon (HyphaeWindow *self,
                gboolean installed,
                const char *detail)
{
  g_autofree char *description = NULL;
  const char *how;

  if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS))
    how = _ ("Hyphae connects through the hyphaed service, which must be installed on this computer, "
             "outside the Flatpak: install the “hyphae” package with your distribution’s package manager.");
  else
    how = _ ("Hyphae connects through the hyphaed service: install the “hyphae” package with your "
             "distribution’s package manager, for example <tt>sudo apt install hyphae</tt>.");
  if (installed)
    {
      g_autofree char *escaped = g_markup_escape_text (detail, -1);

      description = g_strdup_printf (_ ("The hyphaed service is installed but could not be started: %s\n\n"
                                        "See <tt>journalctl -u hyphaed</tt> for why."),
                                     escaped);
      show_page (self, "dialog-warning-symbolic", _ ("Hyphae Service Not Running"), description, TRUE);
    }
  else
    show_page (self, "system-software-install-symbolic", _ ("Hyphae Service Not Installed"), how, TRUE);
}

/* hyphaed's State (Tailscale's ipn state names), as a page. The next
 * version replaces this with the state pages and the main view. */
static void
show_daemon_state (HyphaeWindow *self)
{
  const char *state = hyphae_mesh1_get_state (self->proxy);
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->proxy));
  g_autofree char *description = NULL;
  const char *title;
  const char *icon = "network-vpn-symbolic";

  if (owner == NULL)
    {
      show_no_daemon (self, TRUE, _ ("hyphaed stopped."));
      return;
    }
  if (state == NULL)
    state = "";
  if (g_str_equal (state, "Running"))
    title = _ ("Connected");
  else if (g_str_equal (state, "Starting"))
    title = _ ("Connecting");
  else if (g_str_equal (state, "Stopped"))
    title = _ ("Disconnected");
  else if (g_str_equal (state, "NeedsMachineAuth"))
    title = _ ("Waiting for Approval");
  else
    {
      title = _ ("Signed Out");
      icon = "network-vpn-disabled-symbolic";
    }
  /* Translators: %s is the service's state name, as `hyphaectl status` shows it. */
  description = g_strdup_printf (_ ("Service state: %s"), state);
  show_page (self, icon, title, description, FALSE);
}

static void
on_proxy_changed (GObject *object,
                  GParamSpec *pspec,
                  gpointer user_data)
{
  show_daemon_state (HYPHAE_WINDOW (user_data));
}

static void
on_list_activatable (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  g_autoptr(HyphaeWindow) self = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree const char **names = NULL;
  gboolean installed = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  /* Cancelled, or a Try Again meanwhile has found the daemon. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->proxy != NULL)
    return;
  if (reply != NULL)
    {
      g_variant_get (reply, "(^a&s)", &names);
      installed = g_strv_contains (names, HYPHAE_MESH_BUS_NAME);
    }
  show_no_daemon (self, installed, self->connect_error);
}

static void
on_system_bus (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr(HyphaeWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (bus == NULL)
    {
      /* No system bus at all: nothing can be installed there. */
      show_no_daemon (self, FALSE, NULL);
      return;
    }
  g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "ListActivatableNames", NULL, G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE,
                          -1, self->cancellable, on_list_activatable, g_object_ref (self));
}

static void
on_connected (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(HyphaeWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  self->connecting = FALSE;
  self->proxy = hyphae_mesh_connect_finish (result, &error);
  if (self->proxy != NULL)
    {
      g_signal_connect_object (self->proxy, "notify::state", G_CALLBACK (on_proxy_changed), self, 0);
      g_signal_connect_object (self->proxy, "notify::g-name-owner", G_CALLBACK (on_proxy_changed), self, 0);
      show_daemon_state (self);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  /* Installed (activatable) but failing, or not there at all? */
  g_free (self->connect_error);
  self->connect_error = hyphae_client_error_message (error);
  g_debug ("no daemon: %s", self->connect_error);
  g_bus_get (G_BUS_TYPE_SYSTEM, self->cancellable, on_system_bus, g_object_ref (self));
}

static void
hyphae_window_connect (HyphaeWindow *self)
{
  if (self->proxy != NULL)
    {
      g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->proxy));

      if (owner != NULL)
        return;
      /* hyphaed went away: a new proxy asks the bus to start it again. */
      g_signal_handlers_disconnect_by_data (self->proxy, self);
      g_clear_object (&self->proxy);
    }
  if (self->connecting)
    return;
  self->connecting = TRUE;
  show_page (self, "network-vpn-symbolic", _ ("Connecting to the Hyphae Service"), NULL, FALSE);
  hyphae_mesh_connect (self->cancellable, on_connected, g_object_ref (self));
}

static void
hyphae_window_retry (GtkWidget *widget,
                     const char *action_name,
                     GVariant *param)
{
  hyphae_window_connect (HYPHAE_WINDOW (widget));
}

static void
hyphae_window_dispose (GObject *object)
{
  HyphaeWindow *self = HYPHAE_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->proxy);
  G_OBJECT_CLASS (hyphae_window_parent_class)->dispose (object);
}

static void
hyphae_window_finalize (GObject *object)
{
  HyphaeWindow *self = HYPHAE_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_free (self->connect_error);
  G_OBJECT_CLASS (hyphae_window_parent_class)->finalize (object);
}

static void
hyphae_window_class_init (HyphaeWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hyphae_window_dispose;
  object_class->finalize = hyphae_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-window.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, state_page);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, retry_button);

  gtk_widget_class_install_action (widget_class, "window.retry", NULL, hyphae_window_retry);
}

static void
hyphae_window_init (HyphaeWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  hyphae_window_connect (self);
}

HyphaeWindow *
hyphae_window_new (HyphaeApplication *app)
{
  return g_object_new (HYPHAE_TYPE_WINDOW, "application", app, NULL);
}
