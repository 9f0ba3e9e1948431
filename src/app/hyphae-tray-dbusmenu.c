/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray-dbusmenu"

#include "config.h"

#include <gtk/gtk.h>

#include "hyphae-tray-dbus.h"
#include "hyphae-tray-dbusmenu.h"

#define DBUSMENU_INTERFACE "com.canonical.dbusmenu"

struct _HyphaeTrayDbusmenu {
  GObject parent_instance;

  HyphaeTrayLayout *layout;
  guint revision; /* GetLayout's: bumped with each LayoutUpdated */

  GDBusConnection *connection;
  char *object_path;
  guint registration_id;
};

G_DEFINE_FINAL_TYPE (HyphaeTrayDbusmenu, hyphae_tray_dbusmenu, G_TYPE_OBJECT)

enum {
  SIGNAL_REFRESH,
  SIGNAL_CLICKED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
return_unknown_id (GDBusMethodInvocation *invocation,
                   int id)
{
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS, "No menu item %d", id);
}

/* A click on id: its action, if it has one. Other events ("opened",
 * "closed", "hovered") need nothing. FALSE for an unknown id. */
static gboolean
handle_event (HyphaeTrayDbusmenu *self,
              int id,
              const char *event_id)
{
  const HyphaeTrayItem *item = hyphae_tray_layout_lookup (self->layout, id);

  if (item == NULL)
    return FALSE;
  if (g_strcmp0 (event_id, "clicked") == 0 && item->action != NULL)
    {
      g_autofree char *action = g_strdup (item->action);
      g_autoptr (GVariant) target = item->target != NULL ? g_variant_ref (item->target) : NULL;

      /* The action may change the layout (and free item). */
      g_signal_emit (self, signals[SIGNAL_CLICKED], 0, action, target);
    }
  return TRUE;
}

static void
get_layout (HyphaeTrayDbusmenu *self,
            GVariant *params,
            GDBusMethodInvocation *invocation)
{
  g_autofree const char **names = NULL;
  GVariant *layout;
  int parent, depth;

  g_variant_get (params, "(ii^a&s)", &parent, &depth, &names);
  layout = hyphae_tray_layout_serialize (self->layout, parent, depth, names);
  if (layout == NULL)
    {
      return_unknown_id (invocation, parent);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u@(ia{sv}av))", self->revision, layout));
}

static void
get_group_properties (HyphaeTrayDbusmenu *self,
                      GVariant *params,
                      GDBusMethodInvocation *invocation)
{
  g_autoptr (GVariant) ids_v = NULL;
  g_autofree const char **names = NULL;
  g_autoptr (GArray) all = NULL;
  GVariantBuilder result;
  const int *ids;
  gsize n_ids;

  g_variant_get (params, "(@ai^a&s)", &ids_v, &names);
  ids = g_variant_get_fixed_array (ids_v, &n_ids, sizeof (int));
  if (n_ids == 0)
    {
      /* No ids: every item. */
      all = hyphae_tray_layout_ids (self->layout);
      ids = (const int *) all->data;
      n_ids = all->len;
    }
  g_variant_builder_init (&result, G_VARIANT_TYPE ("(a(ia{sv}))"));
  g_variant_builder_open (&result, G_VARIANT_TYPE ("a(ia{sv})"));
  for (gsize i = 0; i < n_ids; i++)
    {
      const HyphaeTrayItem *item = hyphae_tray_layout_lookup (self->layout, ids[i]);

      if (item != NULL)
        g_variant_builder_add (&result, "(i@a{sv})", ids[i], hyphae_tray_item_get_properties (item, names));
    }
  g_variant_builder_close (&result);
  g_dbus_method_invocation_return_value (invocation, g_variant_builder_end (&result));
}

static void
get_property (HyphaeTrayDbusmenu *self,
              GVariant *params,
              GDBusMethodInvocation *invocation)
{
  const HyphaeTrayItem *item;
  g_autoptr (GVariant) value = NULL;
  const char *name;
  int id;

  g_variant_get (params, "(i&s)", &id, &name);
  if ((item = hyphae_tray_layout_lookup (self->layout, id)) == NULL)
    {
      return_unknown_id (invocation, id);
      return;
    }
  if ((value = g_variant_lookup_value (item->props, name, NULL)) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "Menu item %d has no property %s", id, name);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
}

static void
event_group (HyphaeTrayDbusmenu *self,
             GVariant *params,
             GDBusMethodInvocation *invocation)
{
  g_autoptr (GVariantIter) iter = NULL;
  GVariantBuilder errors;
  const char *event_id;
  gsize n = 0, n_errors = 0;
  int id;

  g_variant_get (params, "(a(isvu))", &iter);
  g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
  while (g_variant_iter_loop (iter, "(i&svu)", &id, &event_id, NULL, NULL))
    {
      n++;
      if (!handle_event (self, id, event_id))
        {
          g_variant_builder_add (&errors, "i", id);
          n_errors++;
        }
    }
  if (n > 0 && n_errors == n)
    {
      g_variant_builder_clear (&errors);
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                     "No such menu items");
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ai)", &errors));
}

/* refreshed: the layout changed when the owner brought it up to date for
 * this call (AboutToShow's needUpdate). */
static void
about_to_show_group (HyphaeTrayDbusmenu *self,
                     GVariant *params,
                     GDBusMethodInvocation *invocation,
                     gboolean refreshed)
{
  g_autoptr (GVariant) ids_v = NULL;
  GVariantBuilder updates, errors;
  const int *ids;
  gsize n_ids;

  g_variant_get (params, "(@ai)", &ids_v);
  ids = g_variant_get_fixed_array (ids_v, &n_ids, sizeof (int));
  g_variant_builder_init (&updates, G_VARIANT_TYPE ("ai"));
  g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
  for (gsize i = 0; i < n_ids; i++)
    {
      if (hyphae_tray_layout_lookup (self->layout, ids[i]) == NULL)
        g_variant_builder_add (&errors, "i", ids[i]);
      else if (refreshed)
        g_variant_builder_add (&updates, "i", ids[i]);
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(aiai)", &updates, &errors));
}

static void
method_call (GDBusConnection *connection,
             const char *sender,
             const char *object_path,
             const char *interface_name,
             const char *method_name,
             GVariant *params,
             GDBusMethodInvocation *invocation,
             gpointer user_data)
{
  g_autoptr (HyphaeTrayDbusmenu) self = g_object_ref (user_data); /* a click may drop the tray's last ref */
  guint revision = self->revision;
  gboolean refreshed;
  const char *event_id;
  int id;

  /* Whatever a host asks is answered from the client's state now. */
  g_signal_emit (self, signals[SIGNAL_REFRESH], 0);
  refreshed = revision != self->revision;
  if (g_str_equal (method_name, "GetLayout"))
    get_layout (self, params, invocation);
  else if (g_str_equal (method_name, "GetGroupProperties"))
    get_group_properties (self, params, invocation);
  else if (g_str_equal (method_name, "GetProperty"))
    get_property (self, params, invocation);
  else if (g_str_equal (method_name, "Event"))
    {
      g_variant_get (params, "(i&svu)", &id, &event_id, NULL, NULL);
      if (!handle_event (self, id, event_id))
        {
          return_unknown_id (invocation, id);
          return;
        }
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method_name, "EventGroup"))
    event_group (self, params, invocation);
  else if (g_str_equal (method_name, "AboutToShow"))
    {
      g_variant_get (params, "(i)", &id);
      if (hyphae_tray_layout_lookup (self->layout, id) == NULL)
        {
          return_unknown_id (invocation, id);
          return;
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", refreshed));
    }
  else if (g_str_equal (method_name, "AboutToShowGroup"))
    about_to_show_group (self, params, invocation, refreshed);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD, "No method %s",
                                           method_name);
}

static GVariant *
get_dbus_property (GDBusConnection *connection,
                   const char *sender,
                   const char *object_path,
                   const char *interface_name,
                   const char *property_name,
                   GError **error,
                   gpointer user_data)
{
  if (g_str_equal (property_name, "Version"))
    return g_variant_new_uint32 (3);
  if (g_str_equal (property_name, "TextDirection"))
    return g_variant_new_string (gtk_widget_get_default_direction () == GTK_TEXT_DIR_RTL ? "rtl" : "ltr");
  if (g_str_equal (property_name, "Status"))
    return g_variant_new_string ("normal");
  if (g_str_equal (property_name, "IconThemePath"))
    return g_variant_new_strv (NULL, 0);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s", property_name);
  return NULL;
}

static const GDBusInterfaceVTable vtable = { method_call, get_dbus_property, NULL, { 0 } };

gboolean
hyphae_tray_dbusmenu_export (HyphaeTrayDbusmenu *self,
                             GDBusConnection *connection,
                             const char *object_path,
                             GError **error)
{
  g_return_val_if_fail (self->connection == NULL, FALSE);

  self->registration_id = g_dbus_connection_register_object (connection, object_path, hyphae_tray_dbus_interface_info (DBUSMENU_INTERFACE), &vtable,
                                                             self, NULL, error);
  if (self->registration_id == 0)
    return FALSE;
  self->connection = g_object_ref (connection);
  self->object_path = g_strdup (object_path);
  return TRUE;
}

void
hyphae_tray_dbusmenu_unexport (HyphaeTrayDbusmenu *self)
{
  if (self->connection == NULL)
    return;
  g_dbus_connection_unregister_object (self->connection, self->registration_id);
  self->registration_id = 0;
  g_clear_object (&self->connection);
  g_clear_pointer (&self->object_path, g_free);
}

static void
emit (HyphaeTrayDbusmenu *self,
      const char *signal,
      GVariant *params)
{
  hyphae_tray_dbus_emit (self->connection, self->object_path, DBUSMENU_INTERFACE, signal, params);
}

void
hyphae_tray_dbusmenu_set_layout (HyphaeTrayDbusmenu *self,
                                 HyphaeTrayLayout *layout)
{
  g_autoptr (HyphaeTrayLayout) old = g_steal_pointer (&self->layout);
  GVariant *updated, *removed;
  int parent;

  self->layout = layout;
  if (!hyphae_tray_layout_diff (old, layout, &parent, &updated, &removed))
    parent = -1;
  if (updated != NULL)
    emit (self, "ItemsPropertiesUpdated",
          g_variant_new ("(@a(ia{sv})@a(ias))", updated,
                         removed != NULL ? removed : g_variant_new_array (G_VARIANT_TYPE ("(ias)"), NULL, 0)));
  else if (removed != NULL)
    g_variant_unref (g_variant_ref_sink (removed));
  if (parent >= 0)
    {
      self->revision++;
      emit (self, "LayoutUpdated", g_variant_new ("(ui)", self->revision, parent));
    }
}

guint
hyphae_tray_dbusmenu_get_revision (HyphaeTrayDbusmenu *self)
{
  return self->revision;
}

static void
hyphae_tray_dbusmenu_dispose (GObject *object)
{
  hyphae_tray_dbusmenu_unexport (HYPHAE_TRAY_DBUSMENU (object));
  G_OBJECT_CLASS (hyphae_tray_dbusmenu_parent_class)->dispose (object);
}

static void
hyphae_tray_dbusmenu_finalize (GObject *object)
{
  g_clear_pointer (&HYPHAE_TRAY_DBUSMENU (object)->layout, hyphae_tray_layout_free);
  G_OBJECT_CLASS (hyphae_tray_dbusmenu_parent_class)->finalize (object);
}

static void
hyphae_tray_dbusmenu_class_init (HyphaeTrayDbusmenuClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_tray_dbusmenu_dispose;
  object_class->finalize = hyphae_tray_dbusmenu_finalize;

  signals[SIGNAL_REFRESH] = g_signal_new ("refresh", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLICKED] = g_signal_new ("clicked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
}

static void
hyphae_tray_dbusmenu_init (HyphaeTrayDbusmenu *self)
{
  self->layout = hyphae_tray_layout_new ();
}

HyphaeTrayDbusmenu *
hyphae_tray_dbusmenu_new (void)
{
  return g_object_new (HYPHAE_TYPE_TRAY_DBUSMENU, NULL);
}
