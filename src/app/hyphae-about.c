/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-about"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "hyphae-about.h"

#define WEBSITE "https://github.com/hyphae/hyphae"

void
hyphae_about_present (GtkWindow *parent)
{
  static const char *developers[] = { "The Hyphae developers", NULL };
  /* Not added to the application, as the preferences window (the app's
   * active window stays the main one). */
  GtkWidget *about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                                   "transient-for", parent,
                                   "modal", parent != NULL,
                                   "application-name", "Hyphae",
                                   "application-icon", APPLICATION_ID,
                                   "version", HYPHAE_VERSION,
                                   "comments", _ ("A mesh VPN client that speaks Tailscale’s protocol"),
                                   "developer-name", developers[0],
                                   "developers", developers,
                                   "license-type", GTK_LICENSE_MIT_X11,
                                   "website", WEBSITE,
                                   "issue-url", WEBSITE "/issues",
                                   /* Translators: your names, one per line. */
                                   "translator-credits", _ ("translator-credits"),
                                   NULL);

  gtk_window_present (GTK_WINDOW (about));
}
