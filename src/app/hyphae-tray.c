/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray"

#include "config.h"

#include <gtk/gtk.h>

#include "hyphae-tray-dbus.h"
#include "hyphae-tray-menu.h"
#include "hyphae-tray-status.h"
#include "hyphae-tray.h"

/*
 * The StatusNotifierItem. It lives on a session-bus connection of its own:
 * hosts (the GNOME AppIndicator extension, Plasma) know an item by the
 * unique name it registered with and drop it when that name leaves the bus,
 * the only way there is to take an item away (show-tray-icon off). Owning an
 * org.kde.StatusNotifierItem-PID-N name instead would fail in a Flatpak
 * sandbox (no --own-name), and both hosts take a unique name, with the item at
 * /StatusNotifierItem. Watchers are watched under both names hosts use;
 * "registered" is TRUE while one has the item and says a host shows it.
 */

#define ITEM_PATH      "/StatusNotifierItem"
#define MENU_PATH      "/MenuBar"
#define ITEM_INTERFACE "org.kde.StatusNotifierItem"
#define WATCHER_PATH   "/StatusNotifierWatcher"

typedef struct {
  HyphaeTray *tray;
  const char *name; /* the watcher's bus name, also its interface */
  guint watch_id;
  guint signal_id;
  guint serial; /* bumped when the watcher comes or goes: late replies are dropped */
  char *owner;
  gboolean item_registered;
  gboolean host_registered;
} Watcher;

static const char * const watcher_names[] = { "org.kde.StatusNotifierWatcher", "org.freedesktop.StatusNotifierWatcher" };

struct _HyphaeTray {
  GObject parent_instance;

  GApplication *app; /* not owned: the application owns the tray */
  HyphaeClient *client;
  GSettings *settings;
  HyphaeTrayMenu *menu;

  GCancellable *cancellable; /* the connection being opened and calls on it */
  GDBusConnection *connection;
  guint registration_id;
  Watcher watchers[G_N_ELEMENTS (watcher_names)];
  gboolean registered;

  /* What the hosts were told last. */
  HyphaeTrayIcon icon;
  char *status_text;

  char *activation_token; /* ProvideXdgActivationToken's, for the next present */
};

G_DEFINE_FINAL_TYPE (HyphaeTray, hyphae_tray, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_REGISTERED,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------ registered */

static void
update_registered (HyphaeTray *self)
{
  gboolean registered = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (self->watchers); i++)
    registered |= self->watchers[i].item_registered && self->watchers[i].host_registered;
  if (registered == self->registered)
    return;
  self->registered = registered;
  hyphae_tray_menu_set_live (self->menu, registered);
  g_debug ("%s", registered ? "registered: a host shows the tray icon" : "not registered: no tray icon shows");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REGISTERED]);
}

/* ------------------------------------------------------------ activation */

static void
present_with_token (HyphaeTray *self,
                    const char *token)
{
  GtkWindow *window = NULL;

  if (GTK_IS_APPLICATION (self->app))
    window = gtk_application_get_active_window (GTK_APPLICATION (self->app));
  /* Before the present that maps or raises it (Wayland's xdg-activation). */
  if (window != NULL)
    gtk_window_set_startup_id (window, token);
  g_action_group_activate_action (G_ACTION_GROUP (self->app), "show-window", NULL);
  if (window == NULL && GTK_IS_APPLICATION (self->app) &&
      (window = gtk_application_get_active_window (GTK_APPLICATION (self->app))) != NULL)
    {
      /* Made just now: hand it the token and present again. */
      gtk_window_set_startup_id (window, token);
      gtk_window_present (window);
    }
}

/* A menu item or a click on the icon: an app.* action. A pending activation
 * token is for this one event only. */
static void
activate_action (HyphaeTray *self,
                 const char *name,
                 GVariant *target)
{
  g_autofree char *token = g_steal_pointer (&self->activation_token);

  if (g_str_has_prefix (name, "app."))
    name += 4;
  if (token != NULL && g_str_equal (name, "show-window"))
    present_with_token (self, token);
  else
    g_action_group_activate_action (G_ACTION_GROUP (self->app), name, target);
}

/* ------------------------------------------------------------ the item */

static GVariant *
tooltip (HyphaeTray *self)
{
  return g_variant_new ("(s@a(iiay)ss)", hyphae_tray_icon_name (self->icon),
                        g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0), "Hyphae",
                        self->status_text != NULL ? self->status_text : "");
}

static const char *
status (HyphaeTray *self)
{
  /* Never "Passive": hosts hide or demote such items. */
  return self->icon == HYPHAE_TRAY_ICON_ATTENTION ? "NeedsAttention" : "Active";
}

static GVariant *
item_property (HyphaeTray *self,
               const char *name)
{
  if (g_str_equal (name, "Category"))
    return g_variant_new_string ("ApplicationStatus");
  if (g_str_equal (name, "Id"))
    return g_variant_new_string (APPLICATION_ID);
  if (g_str_equal (name, "Title"))
    return g_variant_new_string ("Hyphae");
  if (g_str_equal (name, "Status"))
    return g_variant_new_string (status (self));
  if (g_str_equal (name, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (name, "IconThemePath") || g_str_equal (name, "OverlayIconName") ||
      g_str_equal (name, "AttentionMovieName"))
    return g_variant_new_string ("");
  if (g_str_equal (name, "Menu"))
    return g_variant_new_object_path (MENU_PATH);
  if (g_str_equal (name, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (name, "IconName"))
    return g_variant_new_string (hyphae_tray_icon_name (self->icon));
  if (g_str_equal (name, "AttentionIconName"))
    return g_variant_new_string (hyphae_tray_icon_name (HYPHAE_TRAY_ICON_ATTENTION));
  if (g_str_equal (name, "IconPixmap") || g_str_equal (name, "OverlayIconPixmap") ||
      g_str_equal (name, "AttentionIconPixmap"))
    return g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0);
  if (g_str_equal (name, "ToolTip"))
    return tooltip (self);
  return NULL;
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
  GVariant *value = item_property (user_data, property_name);

  if (value == NULL)
    g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s", property_name);
  return value;
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
  g_autoptr (HyphaeTray) self = g_object_ref (user_data);

  if (g_str_equal (method_name, "ProvideXdgActivationToken"))
    {
      g_free (self->activation_token);
      g_variant_get (params, "(s)", &self->activation_token);
    }
  /* A click on the icon, or a middle click, shows the window; the menu
   * has the rest (ContextMenu and Scroll: nothing to do). */
  else if (g_str_equal (method_name, "Activate") || g_str_equal (method_name, "SecondaryActivate") ||
           g_str_equal (method_name, "XAyatanaSecondaryActivate"))
    activate_action (self, "app.show-window", NULL);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable vtable = { method_call, get_dbus_property, NULL, { 0 } };

static void
emit (HyphaeTray *self,
      const char *interface,
      const char *signal,
      GVariant *params)
{
  hyphae_tray_dbus_emit (self->registration_id != 0 ? self->connection : NULL, ITEM_PATH, interface, signal, params);
}

/* The icon, status and tooltip from the client; the New* signals KDE
 * listens to and the PropertiesChanged GNOME listens to, for what changed. */
static void
update_item (HyphaeTray *self)
{
  HyphaeTrayIcon icon = hyphae_tray_status_icon (self->client);
  g_autofree char *text = hyphae_tray_status_text (self->client);
  gboolean icon_changed = icon != self->icon;
  gboolean status_changed = (icon == HYPHAE_TRAY_ICON_ATTENTION) != (self->icon == HYPHAE_TRAY_ICON_ATTENTION);
  gboolean tooltip_changed = icon_changed || g_strcmp0 (text, self->status_text) != 0;
  GVariantBuilder changed;

  if (!tooltip_changed)
    return;
  self->icon = icon;
  g_free (self->status_text);
  self->status_text = g_steal_pointer (&text);
  g_debug ("icon %s, “%s”", hyphae_tray_icon_name (icon), self->status_text);

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  if (icon_changed)
    g_variant_builder_add (&changed, "{sv}", "IconName", item_property (self, "IconName"));
  if (status_changed)
    g_variant_builder_add (&changed, "{sv}", "Status", item_property (self, "Status"));
  g_variant_builder_add (&changed, "{sv}", "ToolTip", tooltip (self));
  emit (self, "org.freedesktop.DBus.Properties", "PropertiesChanged",
        g_variant_new ("(sa{sv}as)", ITEM_INTERFACE, &changed, NULL));
  if (icon_changed)
    emit (self, ITEM_INTERFACE, "NewIcon", NULL);
  if (status_changed)
    emit (self, ITEM_INTERFACE, "NewStatus", g_variant_new ("(s)", status (self)));
  emit (self, ITEM_INTERFACE, "NewToolTip", NULL);
}

/* ------------------------------------------------------------ watchers */

typedef struct {
  Watcher *watcher;
  guint serial;
} WatcherCall;

static WatcherCall *
watcher_call_new (Watcher *watcher)
{
  WatcherCall *call = g_new (WatcherCall, 1);

  g_object_ref (watcher->tray);
  call->watcher = watcher;
  call->serial = watcher->serial;
  return call;
}

/* The watcher of call if it is still the one called and answered, else
 * NULL; frees call. */
static Watcher *
watcher_call_end (WatcherCall *call,
                  GObject *source,
                  GAsyncResult *result,
                  GVariant **reply)
{
  Watcher *watcher = call->watcher;
  g_autoptr (HyphaeTray) tray = watcher->tray; /* watcher_call_new's ref */
  gboolean current = call->serial == watcher->serial && tray->connection != NULL;
  g_autoptr (GError) error = NULL;

  g_free (call);
  *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (*reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("%s: %s", watcher->name, error->message);
      return NULL;
    }
  if (!current)
    {
      g_clear_pointer (reply, g_variant_unref);
      return NULL;
    }
  return watcher;
}

static void
on_host_registered (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) value = NULL;
  Watcher *watcher = watcher_call_end (user_data, source, result, &reply);

  if (watcher == NULL)
    return;
  g_variant_get (reply, "(v)", &value);
  watcher->host_registered = g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean (value);
  update_registered (watcher->tray);
}

/* IsStatusNotifierHostRegistered: a watcher without a host shows nothing. */
static void
ask_host_registered (Watcher *watcher)
{
  HyphaeTray *self = watcher->tray;

  g_dbus_connection_call (self->connection, watcher->owner, WATCHER_PATH, "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", watcher->name, "IsStatusNotifierHostRegistered"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable,
                          on_host_registered, watcher_call_new (watcher));
}

static void
on_watcher_signal (GDBusConnection *connection,
                   const char *sender,
                   const char *object_path,
                   const char *interface_name,
                   const char *signal_name,
                   GVariant *params,
                   gpointer user_data)
{
  if (g_str_equal (signal_name, "StatusNotifierHostRegistered") ||
      g_str_equal (signal_name, "StatusNotifierHostUnregistered"))
    ask_host_registered (user_data);
}

static void
on_item_registered (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  Watcher *watcher = watcher_call_end (user_data, source, result, &reply);

  if (watcher == NULL)
    return;
  g_debug ("RegisterStatusNotifierItem with %s (%s) done", watcher->name, watcher->owner);
  watcher->item_registered = TRUE;
  ask_host_registered (watcher);
}

static void
on_watcher_appeared (GDBusConnection *connection,
                     const char *name,
                     const char *owner,
                     gpointer user_data)
{
  Watcher *watcher = user_data;
  HyphaeTray *self = watcher->tray;

  watcher->serial++;
  g_free (watcher->owner);
  watcher->owner = g_strdup (owner);
  watcher->item_registered = watcher->host_registered = FALSE;
  if (watcher->signal_id != 0)
    g_dbus_connection_signal_unsubscribe (connection, watcher->signal_id);
  watcher->signal_id = g_dbus_connection_signal_subscribe (connection, owner, watcher->name, NULL, WATCHER_PATH, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE, on_watcher_signal, watcher,
                                                           NULL);
  /* Both hosts take a bus name as the item's service, at /StatusNotifierItem. */
  g_dbus_connection_call (connection, owner, WATCHER_PATH, watcher->name, "RegisterStatusNotifierItem",
                          g_variant_new ("(s)", g_dbus_connection_get_unique_name (connection)), NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable, on_item_registered,
                          watcher_call_new (watcher));
}

static void
watcher_forget (Watcher *watcher,
                GDBusConnection *connection)
{
  watcher->serial++;
  g_clear_pointer (&watcher->owner, g_free);
  watcher->item_registered = watcher->host_registered = FALSE;
  if (watcher->signal_id != 0 && connection != NULL)
    g_dbus_connection_signal_unsubscribe (connection, watcher->signal_id);
  watcher->signal_id = 0;
}

/* Gone (or never there): no tray, no warning; registers again when it comes. */
static void
on_watcher_vanished (GDBusConnection *connection,
                     const char *name,
                     gpointer user_data)
{
  Watcher *watcher = user_data;

  watcher_forget (watcher, connection);
  update_registered (watcher->tray);
}

/* ------------------------------------------------------------ showing */

static void
hide (HyphaeTray *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  for (guint i = 0; i < G_N_ELEMENTS (self->watchers); i++)
    {
      Watcher *watcher = &self->watchers[i];

      g_clear_handle_id (&watcher->watch_id, g_bus_unwatch_name);
      watcher_forget (watcher, self->connection);
    }
  hyphae_tray_menu_unexport (self->menu);
  if (self->registration_id != 0)
    g_dbus_connection_unregister_object (self->connection, self->registration_id);
  self->registration_id = 0;
  if (self->connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->connection, self);
      /* The unique name leaves the bus: hosts drop the item. */
      g_dbus_connection_close (self->connection, NULL, NULL, NULL);
      g_clear_object (&self->connection);
    }
  update_registered (self);
}

static void
on_connection_closed (HyphaeTray *self)
{
  g_debug ("the session bus closed the tray's connection");
  hide (self);
}

static void
on_connection_ready (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  g_autoptr (HyphaeTray) self = user_data;
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_finish (result, &error);

  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("no session bus for the tray: %s", error->message);
      return;
    }
  if (self->cancellable == NULL || g_cancellable_is_cancelled (self->cancellable))
    {
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      g_object_unref (connection);
      return;
    }
  self->connection = connection;
  g_signal_connect_swapped (connection, "closed", G_CALLBACK (on_connection_closed), self);
  self->registration_id = g_dbus_connection_register_object (connection, ITEM_PATH, hyphae_tray_dbus_interface_info (ITEM_INTERFACE), &vtable, self,
                                                             NULL, &error);
  if (self->registration_id == 0 || !hyphae_tray_menu_export (self->menu, connection, MENU_PATH, &error))
    {
      g_debug ("cannot export the tray: %s", error->message);
      hide (self);
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (self->watchers); i++)
    self->watchers[i].watch_id = g_bus_watch_name_on_connection (connection, self->watchers[i].name,
                                                                 G_BUS_NAME_WATCHER_FLAGS_NONE, on_watcher_appeared,
                                                                 on_watcher_vanished, &self->watchers[i], NULL);
}

static void
show (HyphaeTray *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;

  if (self->cancellable != NULL)
    return; /* shown or on its way */
  if ((address = g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, &error)) == NULL)
    {
      g_debug ("no session bus for the tray: %s", error->message);
      return;
    }
  self->cancellable = g_cancellable_new ();
  g_dbus_connection_new_for_address (address,
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                     NULL, self->cancellable, on_connection_ready, g_object_ref (self));
}

static void
on_show_tray_icon_changed (HyphaeTray *self)
{
  if (g_settings_get_boolean (self->settings, "show-tray-icon"))
    show (self);
  else
    hide (self);
}

/* ------------------------------------------------------------ object */

static void
hyphae_tray_dispose (GObject *object)
{
  HyphaeTray *self = HYPHAE_TRAY (object);

  if (self->menu != NULL)
    {
      hide (self);
      g_signal_handlers_disconnect_by_data (self->menu, self);
    }
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (hyphae_client_get_peers (self->client), self);
      g_signal_handlers_disconnect_by_data (self->client, self);
    }
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->menu);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_tray_parent_class)->dispose (object);
}

static void
hyphae_tray_finalize (GObject *object)
{
  HyphaeTray *self = HYPHAE_TRAY (object);

  g_free (self->status_text);
  g_free (self->activation_token);
  G_OBJECT_CLASS (hyphae_tray_parent_class)->finalize (object);
}

static void
hyphae_tray_get_property (GObject *object,
                          guint prop_id,
                          GValue *value,
                          GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_REGISTERED: g_value_set_boolean (value, HYPHAE_TRAY (object)->registered); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_tray_class_init (HyphaeTrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_tray_dispose;
  object_class->finalize = hyphae_tray_finalize;
  object_class->get_property = hyphae_tray_get_property;

  properties[PROP_REGISTERED] = g_param_spec_boolean ("registered", NULL, NULL, FALSE,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                                        G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
hyphae_tray_init (HyphaeTray *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->watchers); i++)
    {
      self->watchers[i].tray = self;
      self->watchers[i].name = watcher_names[i];
    }
}

HyphaeTray *
hyphae_tray_new (GApplication *app,
                 HyphaeClient *client)
{
  HyphaeTray *self = g_object_new (HYPHAE_TYPE_TRAY, NULL);

  self->app = app;
  self->client = g_object_ref (client);
  self->settings = g_settings_new (g_application_get_application_id (app));
  self->menu = hyphae_tray_menu_new (client);
  self->icon = hyphae_tray_status_icon (client);
  self->status_text = hyphae_tray_status_text (client);
  g_signal_connect_swapped (self->menu, "activate-action", G_CALLBACK (activate_action), self);
  g_signal_connect_swapped (client, "notify", G_CALLBACK (update_item), self);
  g_signal_connect_swapped (hyphae_client_get_peers (client), "items-changed", G_CALLBACK (update_item), self);
  g_signal_connect_swapped (self->settings, "changed::show-tray-icon", G_CALLBACK (on_show_tray_icon_changed), self);
  on_show_tray_icon_changed (self);
  return self;
}

gboolean
hyphae_tray_get_registered (HyphaeTray *self)
{
  g_return_val_if_fail (HYPHAE_IS_TRAY (self), FALSE);

  return self->registered;
}
