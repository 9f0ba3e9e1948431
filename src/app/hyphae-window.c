/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-window"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-banner.h"
#include "hyphae-client.h"
#include "hyphae-main-view.h"
#include "hyphae-window-close.h"
#include "hyphae-window.h"

struct _HyphaeWindow {
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  AdwStatusPage *state_page;
  GtkWidget *retry_button;

  HyphaeClient *client; /* the application's */
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
      g_autofree char *escaped = g_markup_escape_text (detail != NULL ? detail : "", -1);

      description = g_strdup_printf (_ ("The hyphaed service is installed but could not be started: %s\n\n"
                                        "See <tt>journalctl -u hyphaed</tt> for why."),
                                     escaped);
      show_page (self, "dialog-warning-symbolic", _ ("Hyphae Service Not Running"), description, TRUE);
    }
  else
    show_page (self, "system-software-install-symbolic", _ ("Hyphae Service Not Installed"), how, TRUE);
}

/* hyphaed's State, as a page. The next version replaces this with the
 * state pages and the main view. */
static void
show_daemon_state (HyphaeWindow *self)
{
  HyphaeState state = hyphae_client_get_state (self->client);
  g_autofree char *description = NULL;
  const char *title;
  const char *icon = "network-vpn-symbolic";

  gtk_stack_set_visible_child_name (self->stack, state == HYPHAE_STATE_RUNNING ? "main" : "state");
  switch (state)
    {
    case HYPHAE_STATE_RUNNING: title = _ ("Connected"); break;
    case HYPHAE_STATE_STARTING: title = _ ("Connecting"); break;
    case HYPHAE_STATE_STOPPED: title = _ ("Disconnected"); break;
    case HYPHAE_STATE_NEEDS_MACHINE_AUTH: title = _ ("Waiting for Approval"); break;
    case HYPHAE_STATE_NO_STATE:
    case HYPHAE_STATE_NEEDS_LOGIN:
    default:
      title = _ ("Signed Out");
      icon = "network-vpn-disabled-symbolic";
      break;
    }
  /* Translators: %s is the service's state name, as `hyphaectl status` shows it. */
  description = g_strdup_printf (_ ("Service state: %s"), hyphae_state_to_string (state));
  show_page (self, icon, title, description, FALSE);
}

/* The page for where the client stands with hyphaed. */
static void
update_page (HyphaeWindow *self)
{
  gtk_stack_set_visible_child_name (self->stack, "state");
  switch (hyphae_client_get_daemon_state (self->client))
    {
    case HYPHAE_DAEMON_STATE_RUNNING:
      show_daemon_state (self);
      break;
    case HYPHAE_DAEMON_STATE_NOT_INSTALLED:
      show_no_daemon (self, FALSE, NULL);
      break;
    case HYPHAE_DAEMON_STATE_FAILED:
      show_no_daemon (self, TRUE, hyphae_client_get_daemon_error (self->client));
      break;
    case HYPHAE_DAEMON_STATE_UNKNOWN:
    case HYPHAE_DAEMON_STATE_STARTING:
    default:
      show_page (self, "network-vpn-symbolic", _ ("Connecting to the Hyphae Service"), NULL, FALSE);
      break;
    }
}

static void
on_client_changed (GObject *object,
                   GParamSpec *pspec,
                   gpointer user_data)
{
  update_page (HYPHAE_WINDOW (user_data));
}

static void
hyphae_window_retry (GtkWidget *widget,
                     const char *action_name,
                     GVariant *param)
{
  hyphae_client_retry (HYPHAE_WINDOW (widget)->client);
}

static void
hyphae_window_dispose (GObject *object)
{
  HyphaeWindow *self = HYPHAE_WINDOW (object);

  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_window_parent_class)->dispose (object);
}

static void
hyphae_window_class_init (HyphaeWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hyphae_window_dispose;

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
}

HyphaeWindow *
hyphae_window_new (HyphaeApplication *app)
{
  HyphaeWindow *self = g_object_new (HYPHAE_TYPE_WINDOW, "application", app, NULL);

  /* A view of the application's client. */
  self->client = g_object_ref (hyphae_application_get_client (app));
  gtk_stack_add_named (self->stack, hyphae_main_view_new (self->client), "main");
  gtk_widget_insert_before (hyphae_banner_new (self->client, hyphae_application_get_settings (app)),
                            gtk_widget_get_parent (GTK_WIDGET (self->toast_overlay)), GTK_WIDGET (self->toast_overlay));
  hyphae_window_close_attach (GTK_WINDOW (self), app);
  g_signal_connect_object (self->client, "notify::daemon-state", G_CALLBACK (on_client_changed), self, 0);
  g_signal_connect_object (self->client, "notify::daemon-error", G_CALLBACK (on_client_changed), self, 0);
  g_signal_connect_object (self->client, "notify::state", G_CALLBACK (on_client_changed), self, 0);
  update_page (self);
  return self;
}

void
hyphae_window_add_toast (HyphaeWindow *self,
                         const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  g_return_if_fail (HYPHAE_IS_WINDOW (self));

  adw_toast_set_timeout (toast, 3);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}
