/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-compat"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-compat.h"
#include "hyphae-window.h"

static void
on_uri_shown (GObject *object,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr (GtkWindow) parent = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;

#if GTK_CHECK_VERSION(4, 10, 0)
  if (gtk_uri_launcher_launch_finish (GTK_URI_LAUNCHER (object), result, &error) ||
      g_error_matches (error, GTK_DIALOG_ERROR, GTK_DIALOG_ERROR_DISMISSED))
    return;
#else
  if (gtk_show_uri_full_finish (parent, result, &error))
    return;
#endif
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_warning ("Cannot open the browser: %s", error->message);
  /* Translators: %s says why the web browser did not open. */
  message = g_strdup_printf (_ ("Cannot open a web browser: %s"), error->message);
  if (HYPHAE_IS_WINDOW (parent))
    hyphae_window_add_toast (HYPHAE_WINDOW (parent), message);
}

void
hyphae_compat_show_uri (GtkWindow *parent,
                        const char *uri)
{
  g_return_if_fail (GTK_IS_WINDOW (parent));

#if GTK_CHECK_VERSION(4, 10, 0)
  g_autoptr (GtkUriLauncher) launcher = gtk_uri_launcher_new (uri);

  gtk_uri_launcher_launch (launcher, parent, NULL, on_uri_shown, g_object_ref (parent));
#else
  gtk_show_uri_full (parent, uri, GDK_CURRENT_TIME, NULL, on_uri_shown, g_object_ref (parent));
#endif
}

typedef struct {
  GtkWindow *parent;
  char *action_name;
} Confirm;

static void
confirm_free (gpointer data,
              GClosure *closure)
{
  Confirm *confirm = data;

  g_object_unref (confirm->parent);
  g_free (confirm->action_name);
  g_free (confirm);
}

static void
on_confirm_response (GObject *dialog,
                     const char *response,
                     gpointer user_data)
{
  Confirm *confirm = user_data;

  if (g_strcmp0 (response, "confirm") == 0)
    gtk_widget_activate_action (GTK_WIDGET (confirm->parent), confirm->action_name, NULL);
}

void
hyphae_compat_confirm (GtkWindow *parent,
                       const char *heading,
                       const char *body,
                       const char *confirm_label,
                       const char *action_name)
{
  Confirm *confirm = g_new0 (Confirm, 1);

  confirm->parent = g_object_ref (parent);
  confirm->action_name = g_strdup (action_name);
#if ADW_CHECK_VERSION(1, 5, 0)
  AdwDialog *dialog = adw_alert_dialog_new (heading, body);

  adw_alert_dialog_add_responses (ADW_ALERT_DIALOG (dialog), "cancel", _ ("Cancel"), "confirm", confirm_label, NULL);
  adw_alert_dialog_set_response_appearance (ADW_ALERT_DIALOG (dialog), "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_alert_dialog_set_close_response (ADW_ALERT_DIALOG (dialog), "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_confirm_response), confirm, confirm_free, 0);
  adw_dialog_present (dialog, GTK_WIDGET (parent));
#else
  GtkWidget *dialog = adw_message_dialog_new (parent, heading, body);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _ ("Cancel"), "confirm", confirm_label,
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "confirm", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_confirm_response), confirm, confirm_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
#endif
}
