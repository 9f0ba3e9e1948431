/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-state-page"

#include "config.h"

#include "hyphae-state-page.h"

struct _HyphaeStatePage {
  AdwBin parent_instance;

  AdwStatusPage *status_page;
  GtkSpinner *spinner;
  GtkButton *buttons[HYPHAE_STATE_PAGE_N_BUTTONS];
};

G_DEFINE_FINAL_TYPE (HyphaeStatePage, hyphae_state_page, ADW_TYPE_BIN)

static void
set_button (GtkButton *button,
            const HyphaeStatePageButton *spec)
{
  /* The name goes last: a target of the wrong type for the previous action
   * would make GTK complain about a parameter mismatch. */
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), NULL);
  gtk_widget_set_visible (GTK_WIDGET (button), spec->label != NULL);
  if (spec->label == NULL)
    return;
  gtk_button_set_label (button, spec->label);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button),
                                          spec->target != NULL ? g_variant_new_string (spec->target) : NULL);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), spec->action);
}

void
hyphae_state_page_show (HyphaeStatePage *self,
                        const HyphaeStatePageContent *content)
{
  g_return_if_fail (HYPHAE_IS_STATE_PAGE (self));

  adw_status_page_set_icon_name (self->status_page, content->icon_name);
  adw_status_page_set_title (self->status_page, content->title);
  adw_status_page_set_description (self->status_page, content->description);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), content->spinner);
  gtk_spinner_set_spinning (self->spinner, content->spinner);
  for (guint i = 0; i < HYPHAE_STATE_PAGE_N_BUTTONS; i++)
    set_button (self->buttons[i], &content->buttons[i]);
}

static void
hyphae_state_page_class_init (HyphaeStatePageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-state-page.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeStatePage, status_page);
  gtk_widget_class_bind_template_child (widget_class, HyphaeStatePage, spinner);
  gtk_widget_class_bind_template_child_full (widget_class, "primary_button", FALSE,
                                             G_STRUCT_OFFSET (HyphaeStatePage, buttons[0]));
  gtk_widget_class_bind_template_child_full (widget_class, "secondary_button", FALSE,
                                             G_STRUCT_OFFSET (HyphaeStatePage, buttons[1]));
  gtk_widget_class_bind_template_child_full (widget_class, "tertiary_button", FALSE,
                                             G_STRUCT_OFFSET (HyphaeStatePage, buttons[2]));
}

static void
hyphae_state_page_init (HyphaeStatePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
hyphae_state_page_new (void)
{
  return g_object_new (HYPHAE_TYPE_STATE_PAGE, NULL);
}
