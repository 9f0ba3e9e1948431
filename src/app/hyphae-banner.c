/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-banner"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-attention.h"
#include "hyphae-banner.h"

struct _HyphaeBanner {
  AdwBin parent_instance;

  HyphaeClient *client;
  HyphaeAttention *attention;
  HyphaeAttentionKind shown;
#if ADW_CHECK_VERSION(1, 3, 0)
  AdwBanner *banner;
#else
  GtkInfoBar *info_bar;
  GtkLabel *label;
  GtkButton *button;
#endif
};

G_DEFINE_FINAL_TYPE (HyphaeBanner, hyphae_banner, ADW_TYPE_BIN)

/* What the button does for the banner shown. */
static void
on_button (HyphaeBanner *self)
{
  if (self->shown == HYPHAE_ATTENTION_EXIT_NODE_OFFLINE)
    gtk_widget_activate_action (GTK_WIDGET (self), "app.set-exit-node", "s", "");
  else if (self->shown == HYPHAE_ATTENTION_KEY_EXPIRY)
    {
      g_autofree char *control_url = NULL;
      g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

      g_object_get (self->client, "control-url", &control_url, NULL);
      if (control_url != NULL && *control_url != '\0')
        g_variant_dict_insert (&dict, "ControlURL", "s", control_url);
      gtk_widget_activate_action_variant (GTK_WIDGET (self), "app.sign-in", g_variant_dict_end (&dict));
    }
}

#if ADW_CHECK_VERSION(1, 3, 0)
static void
build (HyphaeBanner *self)
{
  self->banner = ADW_BANNER (adw_banner_new (""));
  g_signal_connect_swapped (self->banner, "button-clicked", G_CALLBACK (on_button), self);
  adw_bin_set_child (ADW_BIN (self), GTK_WIDGET (self->banner));
}

static void
show (HyphaeBanner *self, const char *text, const char *button, GtkMessageType type)
{
  adw_banner_set_title (self->banner, text != NULL ? text : "");
  adw_banner_set_button_label (self->banner, button);
  adw_banner_set_revealed (self->banner, text != NULL);
}
#else
static void
build (HyphaeBanner *self)
{
  self->info_bar = GTK_INFO_BAR (gtk_info_bar_new ());
  self->label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->label, TRUE);
  gtk_label_set_xalign (self->label, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (self->label), TRUE);
  gtk_info_bar_add_child (self->info_bar, GTK_WIDGET (self->label));
  /* A plain label: gtk_info_bar_add_button's mnemonic would show in its
   * accessible name. */
  self->button = GTK_BUTTON (gtk_button_new ());
  gtk_widget_set_valign (GTK_WIDGET (self->button), GTK_ALIGN_CENTER);
  g_signal_connect_swapped (self->button, "clicked", G_CALLBACK (on_button), self);
  gtk_info_bar_add_action_widget (self->info_bar, GTK_WIDGET (self->button), GTK_RESPONSE_ACCEPT);
  adw_bin_set_child (ADW_BIN (self), GTK_WIDGET (self->info_bar));
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
}

static void
show (HyphaeBanner *self, const char *text, const char *button, GtkMessageType type)
{
  gtk_info_bar_set_message_type (self->info_bar, type);
  gtk_label_set_text (self->label, text);
  if (button != NULL)
    gtk_button_set_label (self->button, button);
  gtk_widget_set_visible (GTK_WIDGET (self->button), button != NULL);
  /* Hidden, not unrevealed: AT-SPI lists what is visible. */
  gtk_widget_set_visible (GTK_WIDGET (self), text != NULL);
}
#endif

static void
on_attention_changed (HyphaeAttention *attention,
                      HyphaeBanner *self)
{
  g_autofree char *text = NULL;

  self->shown = hyphae_attention_first (hyphae_attention_get_mask (attention));
  switch (self->shown)
    {
    case HYPHAE_ATTENTION_EXIT_NODE_OFFLINE:
      text = hyphae_attention_dup_text (attention, self->shown);
      show (self, text, _ ("Disable Exit Node"), GTK_MESSAGE_ERROR);
      break;
    case HYPHAE_ATTENTION_KEY_EXPIRY:
      text = hyphae_attention_dup_text (attention, self->shown);
      show (self, text, _ ("Reauthenticate"), GTK_MESSAGE_WARNING);
      break;
    case HYPHAE_ATTENTION_HEALTH:
      text = hyphae_attention_dup_text (attention, self->shown);
      show (self, text, NULL, GTK_MESSAGE_WARNING);
      break;
    case HYPHAE_ATTENTION_NONE:
    default:
      show (self, NULL, NULL, GTK_MESSAGE_INFO);
      break;
    }
}

static void
hyphae_banner_dispose (GObject *object)
{
  HyphaeBanner *self = HYPHAE_BANNER (object);

  g_clear_object (&self->attention);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_banner_parent_class)->dispose (object);
}

static void
hyphae_banner_class_init (HyphaeBannerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hyphae_banner_dispose;
}

static void
hyphae_banner_init (HyphaeBanner *self)
{
  build (self);
}

GtkWidget *
hyphae_banner_new (HyphaeClient *client,
                   GSettings *settings)
{
  HyphaeBanner *self = g_object_new (HYPHAE_TYPE_BANNER, NULL);

  self->client = g_object_ref (client);
  self->attention = hyphae_attention_new (client, settings);
  g_signal_connect_object (self->attention, "changed", G_CALLBACK (on_attention_changed), self, 0);
  on_attention_changed (self->attention, self);
  return GTK_WIDGET (self);
}
