/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-copy-row"

#include "config.h"

#include "hyphae-copy-row.h"

struct _HyphaeCopyRow {
  AdwActionRow parent_instance;

  GtkWidget *copy_button;
  char *value;
};

G_DEFINE_FINAL_TYPE (HyphaeCopyRow, hyphae_copy_row, ADW_TYPE_ACTION_ROW)

enum {
  PROP_0,
  PROP_VALUE,
  PROP_COPY_LABEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
hyphae_copy_row_set_value (HyphaeCopyRow *self,
                           const char *value)
{
  g_return_if_fail (HYPHAE_IS_COPY_ROW (self));

  if (value == NULL)
    value = "";
  if (g_strcmp0 (self->value, value) == 0)
    return;
  g_free (self->value);
  self->value = g_strdup (value);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), value);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->copy_button), g_variant_new_string (value));
  gtk_widget_set_visible (GTK_WIDGET (self), *value != '\0');
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VALUE]);
}

void
hyphae_copy_row_set_copy_label (HyphaeCopyRow *self,
                                const char *label)
{
  g_return_if_fail (HYPHAE_IS_COPY_ROW (self));

  gtk_widget_set_tooltip_text (self->copy_button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->copy_button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
hyphae_copy_row_set_property (GObject *object,
                              guint prop_id,
                              const GValue *value,
                              GParamSpec *pspec)
{
  HyphaeCopyRow *self = HYPHAE_COPY_ROW (object);

  switch (prop_id)
    {
    case PROP_VALUE: hyphae_copy_row_set_value (self, g_value_get_string (value)); break;
    case PROP_COPY_LABEL: hyphae_copy_row_set_copy_label (self, g_value_get_string (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_copy_row_get_property (GObject *object,
                              guint prop_id,
                              GValue *value,
                              GParamSpec *pspec)
{
  HyphaeCopyRow *self = HYPHAE_COPY_ROW (object);

  switch (prop_id)
    {
    case PROP_VALUE: g_value_set_string (value, self->value); break;
    case PROP_COPY_LABEL: g_value_set_string (value, gtk_widget_get_tooltip_text (self->copy_button)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_copy_row_finalize (GObject *object)
{
  g_free (HYPHAE_COPY_ROW (object)->value);
  G_OBJECT_CLASS (hyphae_copy_row_parent_class)->finalize (object);
}

static void
hyphae_copy_row_class_init (HyphaeCopyRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->set_property = hyphae_copy_row_set_property;
  object_class->get_property = hyphae_copy_row_get_property;
  object_class->finalize = hyphae_copy_row_finalize;

  properties[PROP_VALUE] = g_param_spec_string ("value", NULL, NULL, "",
                                                G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_COPY_LABEL] = g_param_spec_string ("copy-label", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-copy-row.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeCopyRow, copy_button);
}

static void
hyphae_copy_row_init (HyphaeCopyRow *self)
{
  self->value = g_strdup ("");
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Names and addresses, not markup. */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
}
