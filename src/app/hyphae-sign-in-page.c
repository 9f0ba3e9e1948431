/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-sign-in-page"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-sign-in-page.h"

struct _HyphaeSignInPage {
  AdwBin parent_instance;

  GtkLabel *title_label;
  AdwEntryRow *profile_row;
  AdwEntryRow *control_url_row;
  AdwEntryRow *auth_key_row;
  AdwExpanderRow *advanced_row;
  AdwEntryRow *hostname_row;
  GtkLabel *error_label;
  GtkWidget *cancel_button;
  GtkWidget *sign_in_button;

  gboolean adding_profile;
};

G_DEFINE_FINAL_TYPE (HyphaeSignInPage, hyphae_sign_in_page, ADW_TYPE_BIN)

enum {
  SIGNAL_SUBMITTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

char *
hyphae_sign_in_page_check_url (const char *text)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (text == NULL || *text == '\0')
    return NULL;
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "https") != 0 && g_ascii_strcasecmp (scheme, "http") != 0))
    return g_strdup (_ ("The control server URL must start with https:// or http://, "
                        "for example https://headscale.example.com."));
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return g_strdup (_ ("The control server URL needs a server name, for example https://headscale.example.com."));
  return NULL;
}

static void
show_error (HyphaeSignInPage *self,
            GtkWidget *row,
            const char *message)
{
  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
  gtk_widget_remove_css_class (GTK_WIDGET (self->profile_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->control_url_row), "error");
  if (row != NULL)
    {
      gtk_widget_add_css_class (row, "error");
      gtk_widget_grab_focus (row);
    }
}

static void
on_entry_changed (HyphaeSignInPage *self)
{
  show_error (self, NULL, NULL);
}

/* Trimmed text of an entry row, NULL when empty. */
static char *
row_text (AdwEntryRow *row)
{
  char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));

  if (*text == '\0')
    g_clear_pointer (&text, g_free);
  return text;
}

static void
on_sign_in_clicked (HyphaeSignInPage *self)
{
  g_autofree char *control_url = row_text (self->control_url_row);
  g_autofree char *auth_key = row_text (self->auth_key_row);
  g_autofree char *hostname = row_text (self->hostname_row);
  g_autofree char *profile = row_text (self->profile_row);
  g_autofree char *problem = hyphae_sign_in_page_check_url (control_url);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  if (self->adding_profile && profile == NULL)
    {
      show_error (self, GTK_WIDGET (self->profile_row), _ ("Give the new profile a name."));
      return;
    }
  if (problem != NULL)
    {
      show_error (self, GTK_WIDGET (self->control_url_row), problem);
      return;
    }
  show_error (self, NULL, NULL);
  if (control_url != NULL)
    g_variant_dict_insert (&dict, "ControlURL", "s", control_url);
  if (auth_key != NULL)
    g_variant_dict_insert (&dict, "AuthKey", "s", auth_key);
  if (hostname != NULL)
    g_variant_dict_insert (&dict, "Hostname", "s", hostname);
  if (self->adding_profile)
    g_variant_dict_insert (&dict, "Profile", "s", profile);
  gtk_widget_activate_action_variant (GTK_WIDGET (self), "app.sign-in", g_variant_dict_end (&dict));
  /* The key has been handed over: it does not stay on screen. */
  gtk_editable_set_text (GTK_EDITABLE (self->auth_key_row), "");
  g_signal_emit (self, signals[SIGNAL_SUBMITTED], 0);
}

void
hyphae_sign_in_page_reset (HyphaeSignInPage *self,
                           const char *control_url,
                           gboolean adding_profile)
{
  g_return_if_fail (HYPHAE_IS_SIGN_IN_PAGE (self));

  self->adding_profile = adding_profile;
  gtk_label_set_text (self->title_label, adding_profile ? _ ("Add a Profile") : _ ("Sign In to a Tailnet"));
  gtk_widget_set_visible (GTK_WIDGET (self->profile_row), adding_profile);
  gtk_widget_set_visible (self->cancel_button, adding_profile);
  gtk_editable_set_text (GTK_EDITABLE (self->profile_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->control_url_row), control_url != NULL ? control_url : "");
  gtk_editable_set_text (GTK_EDITABLE (self->auth_key_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->hostname_row), "");
  show_error (self, NULL, NULL);
}

void
hyphae_sign_in_page_set_busy (HyphaeSignInPage *self,
                              gboolean busy)
{
  g_return_if_fail (HYPHAE_IS_SIGN_IN_PAGE (self));

  gtk_widget_set_sensitive (self->sign_in_button, !busy);
}

static void
hyphae_sign_in_page_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), HYPHAE_TYPE_SIGN_IN_PAGE);
  G_OBJECT_CLASS (hyphae_sign_in_page_parent_class)->dispose (object);
}

static void
hyphae_sign_in_page_class_init (HyphaeSignInPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hyphae_sign_in_page_dispose;

  signals[SIGNAL_SUBMITTED] =
    g_signal_new ("submitted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-sign-in-page.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, profile_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, control_url_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, auth_key_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, advanced_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, hostname_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSignInPage, sign_in_button);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_clicked);
}

static void
hyphae_sign_in_page_init (HyphaeSignInPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
hyphae_sign_in_page_new (void)
{
  return g_object_new (HYPHAE_TYPE_SIGN_IN_PAGE, NULL);
}
