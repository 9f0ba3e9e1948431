/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-window"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-application.h"
#include "hyphae-banner.h"
#include "hyphae-compat.h"
#include "hyphae-main-view.h"
#include "hyphae-window-close.h"
#include "hyphae-window-private.h"

G_DEFINE_FINAL_TYPE (HyphaeWindow, hyphae_window, ADW_TYPE_APPLICATION_WINDOW)

/* The pages of the stack: a state page, the sign-in page or the main view. */
static void
show_stack_page (HyphaeWindow *self,
                 const char *name)
{
  GtkWidget *visible;

  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), name) != 0 && g_str_equal (name, "sign-in"))
    {
      g_autofree char *control_url = NULL;

      /* Fresh fields each time it comes back, but the server in use. */
      if (!self->adding_profile)
        {
          g_object_get (self->client, "control-url", &control_url, NULL);
          hyphae_sign_in_page_reset (self->sign_in_page, control_url, FALSE);
        }
    }
  gtk_stack_set_visible_child_name (self->stack, name);
  visible = gtk_stack_get_visible_child (self->stack);
  /* GTK 4.8 keeps the other pages in the AT-SPI tree, visible: hide them
   * from screen readers (and the tests) as they are hidden on screen. */
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->stack)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    gtk_accessible_update_state (GTK_ACCESSIBLE (child), GTK_ACCESSIBLE_STATE_HIDDEN, child != visible, -1);
}

static void
show_state (HyphaeWindow *self,
            const HyphaeStatePageContent *content)
{
  hyphae_state_page_show (self->state_page, content);
  show_stack_page (self, "state");
}

/* What to tell the user when hyphaed is not there: the app cannot start it
 * itself, the system has to provide it. */
static void
show_no_daemon (HyphaeWindow *self,
                gboolean installed,
                const char *detail)
{
  g_autofree char *description = NULL;
  HyphaeStatePageContent page = {
    .icon_name = "system-software-install-symbolic",
    .title = _ ("Hyphae Service Not Installed"),
    .buttons = { { _ ("Try Again"), "win.retry-daemon" } },
  };

  if (g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS))
    page.description = _ ("Hyphae connects through the hyphaed service, which must be installed on this computer, "
                          "outside the Flatpak: install the “hyphae” package with your distribution’s package "
                          "manager.");
  else
    page.description = _ ("Hyphae connects through the hyphaed service: install the “hyphae” package with your "
                          "distribution’s package manager, for example <tt>sudo apt install hyphae</tt>.");
  if (installed)
    {
      g_autofree char *escaped = g_markup_escape_text (detail != NULL ? detail : "", -1);

      description = g_strdup_printf (_ ("The hyphaed service is installed but could not be started: %s\n\n"
                                        "See <tt>journalctl -u hyphaed</tt> for why."),
                                     escaped);
      page.icon_name = "dialog-warning-symbolic";
      page.title = _ ("Hyphae Service Not Running");
      page.description = description;
    }
  show_state (self, &page);
}

/* Once hyphaed is there, the keyring pre-empts its states: without it the
 * app has no keys to give hyphaed, and it never keeps them anywhere else. A
 * node on hyphaed's own keys (hyphaectl up) needs no keyring. TRUE if shown. */
static gboolean
show_keyring_problem (HyphaeWindow *self)
{
  g_autofree char *escaped = NULL;
  g_autofree char *description = NULL;
  HyphaeStatePageContent page = { .icon_name = "dialog-password-symbolic" };

  if (hyphae_client_get_keys_owner (self->client) == HYPHAE_KEYS_OWNER_DAEMON)
    return FALSE;
  switch (hyphae_key_agent_get_keyring_state (self->key_agent))
    {
    case HYPHAE_KEYRING_STATE_LOCKED:
      page.title = _ ("Keyring Locked");
      page.description = _ ("Hyphae keeps this device’s keys in your keyring, and nowhere else. Unlock the "
                            "keyring to connect.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Unlock"), "app.retry-keyring" };
      break;
    case HYPHAE_KEYRING_STATE_MISSING:
      page.title = _ ("No Keyring");
      page.description = _ ("Hyphae keeps this device’s keys in a keyring (a Secret Service such as GNOME "
                            "Keyring or KWallet), and none is running. Install or start one, for example "
                            "<tt>sudo apt install gnome-keyring</tt>, then try again. Hyphae never keeps "
                            "keys in plain files.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Try Again"), "app.retry-keyring" };
      break;
    case HYPHAE_KEYRING_STATE_FAILED:
      escaped = g_markup_escape_text (hyphae_key_agent_get_keyring_error (self->key_agent) ?: "", -1);
      /* Translators: %s is the keyring's error message. */
      description = g_strdup_printf (_ ("The keyring refused to keep Hyphae’s keys: %s\n\nHyphae never keeps "
                                        "keys anywhere else."),
                                     escaped);
      page.title = _ ("Keyring Error");
      page.description = description;
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Try Again"), "app.retry-keyring" };
      break;
    case HYPHAE_KEYRING_STATE_UNKNOWN:
    case HYPHAE_KEYRING_STATE_READY:
    default:
      return FALSE;
    }
  show_state (self, &page);
  return TRUE;
}

/* Health while not Running: the problem and what to do about it, if the
 * user has not put this very Health aside. TRUE if shown. */
static gboolean
show_health_problem (HyphaeWindow *self,
                     HyphaeState state)
{
  g_auto (GStrv) health = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *description = NULL;
  const char *advice;
  HyphaeStatePageContent page = {
    .icon_name = "dialog-warning-symbolic",
    .title = _ ("Cannot Connect"),
  };

  g_object_get (self->client, "health", &health, NULL);
  if (health == NULL || health[0] == NULL)
    return FALSE;
  if (self->dismissed_health != NULL &&
      g_strv_equal ((const char * const *) health, (const char * const *) self->dismissed_health))
    return FALSE;
  switch (state)
    {
    case HYPHAE_STATE_STOPPED:
      advice = _ ("Connect to try again. If it keeps failing, <tt>journalctl -u hyphaed</tt> says more.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Connect"), "app.connect" };
      break;
    case HYPHAE_STATE_STARTING:
      advice = _ ("Hyphae keeps trying by itself. Check this computer’s network connection and that the "
                  "control server is reachable.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Disconnect"), "app.disconnect" };
      break;
    case HYPHAE_STATE_NO_STATE:
    case HYPHAE_STATE_NEEDS_LOGIN:
    case HYPHAE_STATE_NEEDS_MACHINE_AUTH: /* not asked: the waiting page comes first */
    case HYPHAE_STATE_RUNNING:            /* not asked: Running shows the main view */
    default:
      page.title = _ ("Sign-In Failed");
      advice = _ ("Check the control server’s URL and the auth key, then sign in again.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Sign In Again"), "win.dismiss-error" };
      break;
    }
  joined = g_strjoinv ("\n", health);
  escaped = g_markup_escape_text (joined, -1);
  description = g_strdup_printf ("%s\n\n%s", escaped, advice);
  page.description = description;
  show_state (self, &page);
  return TRUE;
}

/* hyphaed's State, as a page or the main view. */
static void
show_daemon_state (HyphaeWindow *self)
{
  HyphaeState state = hyphae_client_get_state (self->client);
  g_autofree char *tailnet = NULL;
  g_autofree char *description = NULL;
  HyphaeStatePageContent page = { .icon_name = "network-vpn-symbolic" };

  if (state != HYPHAE_STATE_NO_STATE && state != HYPHAE_STATE_NEEDS_LOGIN)
    g_clear_pointer (&self->auth_url, g_free);
  if (self->adding_profile)
    {
      show_stack_page (self, "sign-in");
      return;
    }
  if (state == HYPHAE_STATE_RUNNING)
    {
      show_stack_page (self, "main");
      return;
    }
  if (state != HYPHAE_STATE_NEEDS_MACHINE_AUTH && show_health_problem (self, state))
    return;
  switch (state)
    {
    case HYPHAE_STATE_STARTING:
      page.title = _ ("Connecting…");
      page.spinner = TRUE;
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Cancel"), "app.disconnect" };
      break;
    case HYPHAE_STATE_STOPPED:
      g_object_get (self->client, "tailnet-name", &tailnet, NULL);
      page.icon_name = "network-vpn-disabled-symbolic";
      page.title = _ ("Disconnected");
      if (tailnet != NULL && *tailnet != '\0')
        {
          g_autofree char *escaped = g_markup_escape_text (tailnet, -1);

          /* Translators: %s is the tailnet's name. */
          description = g_strdup_printf (_ ("This device is signed in to <b>%s</b> but not connected."), escaped);
          page.description = description;
        }
      else
        page.description = _ ("This device is signed in but not connected.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Connect"), "app.connect" };
      break;
    case HYPHAE_STATE_NEEDS_MACHINE_AUTH:
      page.icon_name = "dialog-password-symbolic";
      page.title = _ ("Waiting for Approval");
      page.description = _ ("An administrator of your tailnet must approve this device before it can connect. "
                            "This page moves on by itself once they have.");
      page.buttons[1] = (HyphaeStatePageButton) { _ ("Log Out"), "win.log-out" };
      break;
    case HYPHAE_STATE_NO_STATE:
    case HYPHAE_STATE_NEEDS_LOGIN:
    case HYPHAE_STATE_RUNNING: /* shown above */
    default:
      if (self->auth_url == NULL)
        {
          show_stack_page (self, "sign-in");
          return;
        }
      page.icon_name = "web-browser-symbolic";
      page.title = _ ("Continue in Your Browser");
      page.description = _ ("Sign in on the page that opened in your web browser. This window moves on by "
                            "itself once you have.");
      page.buttons[0] = (HyphaeStatePageButton) { _ ("Open Again"), "win.open-auth-url" };
      page.buttons[1] = (HyphaeStatePageButton) { _ ("Copy Link"), "app.copy", self->auth_url };
      page.buttons[2] = (HyphaeStatePageButton) { _ ("Cancel"), "win.cancel-browser-sign-in" };
      break;
    }
  show_state (self, &page);
}

void
_hyphae_window_update (HyphaeWindow *self)
{
  HyphaeStatePageContent connecting = {
    .icon_name = "network-vpn-symbolic",
    .title = _ ("Connecting to the Hyphae Service"),
    .spinner = TRUE,
  };

  _hyphae_window_actions_update (self);
  hyphae_sign_in_page_set_busy (self->sign_in_page, hyphae_client_get_busy (self->client));
  switch (hyphae_client_get_daemon_state (self->client))
    {
    case HYPHAE_DAEMON_STATE_RUNNING:
      if (!show_keyring_problem (self))
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
      show_state (self, &connecting);
      break;
    }
}

static void
on_changed (GObject *object,
            GParamSpec *pspec,
            gpointer user_data)
{
  _hyphae_window_update (HYPHAE_WINDOW (user_data));
}

/* The daemon sends the login URL only to the caller of Up: open it now, and
 * say where to go on. */
static void
on_auth_url_ready (HyphaeClient *client,
                   const char *url,
                   gpointer user_data)
{
  HyphaeWindow *self = user_data;

  /* The daemon says it again while the login waits: one tab is enough. */
  if (g_strcmp0 (url, self->auth_url) == 0)
    return;
  g_free (self->auth_url);
  self->auth_url = g_strdup (url);
  hyphae_compat_show_uri (GTK_WINDOW (self), url);
  _hyphae_window_update (self);
}

static void
on_sign_in_submitted (HyphaeWindow *self)
{
  /* A new sign-in: its problems are new too. */
  g_clear_pointer (&self->dismissed_health, g_strfreev);
  g_clear_pointer (&self->auth_url, g_free);
  if (self->adding_profile)
    {
      self->adding_profile = FALSE;
      _hyphae_window_update (self);
    }
}

static void
hyphae_window_dispose (GObject *object)
{
  HyphaeWindow *self = HYPHAE_WINDOW (object);

  g_clear_object (&self->client);
  g_clear_object (&self->key_agent);
  G_OBJECT_CLASS (hyphae_window_parent_class)->dispose (object);
}

static void
hyphae_window_finalize (GObject *object)
{
  HyphaeWindow *self = HYPHAE_WINDOW (object);

  g_free (self->auth_url);
  g_strfreev (self->dismissed_health);
  G_OBJECT_CLASS (hyphae_window_parent_class)->finalize (object);
}

static void
hyphae_window_class_init (HyphaeWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hyphae_window_dispose;
  object_class->finalize = hyphae_window_finalize;

  g_type_ensure (HYPHAE_TYPE_STATE_PAGE);
  g_type_ensure (HYPHAE_TYPE_SIGN_IN_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-window.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, state_page);
  gtk_widget_class_bind_template_child (widget_class, HyphaeWindow, sign_in_page);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_submitted);
}

static void
hyphae_window_init (HyphaeWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  _hyphae_window_actions_init (self);
}

HyphaeWindow *
hyphae_window_new (HyphaeApplication *app)
{
  static const char * const client_properties[] = {
    "notify::daemon-state",
    "notify::daemon-error",
    "notify::state",
    "notify::health",
    "notify::busy",
    "notify::tailnet-name",
  };
  HyphaeWindow *self = g_object_new (HYPHAE_TYPE_WINDOW, "application", app, NULL);

  /* A view of the application's client and key agent. */
  self->client = g_object_ref (hyphae_application_get_client (app));
  self->key_agent = g_object_ref (hyphae_application_get_key_agent (app));
  gtk_stack_add_named (self->stack, hyphae_main_view_new (self->client), "main");
  gtk_widget_insert_before (hyphae_banner_new (self->client, hyphae_application_get_settings (app)),
                            gtk_widget_get_parent (GTK_WIDGET (self->toast_overlay)), GTK_WIDGET (self->toast_overlay));
  hyphae_window_close_attach (GTK_WINDOW (self), app);
  for (guint i = 0; i < G_N_ELEMENTS (client_properties); i++)
    g_signal_connect_object (self->client, client_properties[i], G_CALLBACK (on_changed), self, 0);
  g_signal_connect_object (self->client, "auth-url-ready", G_CALLBACK (on_auth_url_ready), self, 0);
  g_signal_connect_object (self->key_agent, "notify::keyring-state", G_CALLBACK (on_changed), self, 0);
  g_signal_connect_object (self->key_agent, "notify::keyring-error", G_CALLBACK (on_changed), self, 0);
  _hyphae_window_update (self);
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
