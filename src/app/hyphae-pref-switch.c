/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-pref-switch"

#include "config.h"

#include "hyphae-pref-switch.h"
#include "hyphae-window.h"

typedef struct {
  GtkSwitch *sw; /* owns this */
  HyphaeClient *client;
  char *property;
  char *pref_key;
  char *action;
  gboolean syncing; /* the switch moves to the client's value: send nothing */
} PrefSwitch;

static void
pref_switch_free (gpointer data)
{
  PrefSwitch *ps = data;

  g_object_unref (ps->client);
  g_free (ps->property);
  g_free (ps->pref_key);
  g_free (ps->action);
  g_free (ps);
}

static gboolean
client_value (PrefSwitch *ps)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (ps->client), ps->property);
  g_auto (GValue) value = G_VALUE_INIT;

  g_value_init (&value, pspec->value_type);
  g_object_get_property (G_OBJECT (ps->client), ps->property, &value);
  if (G_VALUE_HOLDS_BOOLEAN (&value))
    return g_value_get_boolean (&value);
  return g_value_get_string (&value) != NULL && *g_value_get_string (&value) != '\0';
}

static void
follow_client (PrefSwitch *ps)
{
  gboolean on = client_value (ps);

  ps->syncing = TRUE;
  gtk_switch_set_state (ps->sw, on);
  gtk_switch_set_active (ps->sw, on);
  ps->syncing = FALSE;
}

static gboolean
follow_client_idle (gpointer user_data)
{
  PrefSwitch *ps = g_object_get_data (user_data, "hyphae-pref-switch");

  if (ps != NULL)
    follow_client (ps);
  return G_SOURCE_REMOVE;
}

static void
on_client_notify (GObject *object,
                  GParamSpec *pspec,
                  gpointer user_data)
{
  PrefSwitch *ps = g_object_get_data (user_data, "hyphae-pref-switch");

  /* While a call is in flight the switch shows the user's wish; once none
   * is, what the daemon says (a failed or ignored call flips it back). */
  if (g_str_equal (pspec->name, "busy") && hyphae_client_get_busy (ps->client))
    return;
  follow_client (ps);
}

static void
on_set_done (GObject *object,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr (GtkSwitch) sw = user_data;
  g_autoptr (GError) error = NULL;
  PrefSwitch *ps;
  GtkRoot *root;

  if (hyphae_client_call_finish (HYPHAE_CLIENT (object), result, &error))
    return;
  ps = g_object_get_data (G_OBJECT (sw), "hyphae-pref-switch");
  if (ps != NULL)
    follow_client (ps);
  root = gtk_widget_get_root (GTK_WIDGET (sw));
  if (HYPHAE_IS_WINDOW (root))
    {
      g_autofree char *message = hyphae_client_error_message (error);

      hyphae_window_add_toast (HYPHAE_WINDOW (root), message);
    }
}

static gboolean
on_state_set (GtkSwitch *sw,
              gboolean state,
              gpointer user_data)
{
  PrefSwitch *ps = user_data;

  if (ps->syncing)
    return FALSE; /* the default handler shows it */
  if (ps->pref_key != NULL)
    hyphae_client_set_bool_pref (ps->client, ps->pref_key, state, NULL, on_set_done, g_object_ref (sw));
  else
    gtk_widget_activate_action (GTK_WIDGET (sw), ps->action, NULL);
  /* The action may have started no call (nothing to do): settle, after
   * this emission (a nested gtk_switch_set_active() would leave the outer
   * one's accessible state behind). */
  if (!hyphae_client_get_busy (ps->client))
    g_idle_add_full (G_PRIORITY_DEFAULT, follow_client_idle, g_object_ref (sw), g_object_unref);
  return TRUE; /* the state follows the daemon, in follow_client() */
}

void
hyphae_pref_switch_bind (GtkSwitch *sw,
                         HyphaeClient *client,
                         const char *property,
                         const char *pref_key,
                         const char *action)
{
  PrefSwitch *ps = g_new0 (PrefSwitch, 1);
  g_autofree char *detailed = g_strconcat ("notify::", property, NULL);

  g_return_if_fail (GTK_IS_SWITCH (sw) && HYPHAE_IS_CLIENT (client));
  g_return_if_fail ((pref_key != NULL) != (action != NULL));

  ps->sw = sw;
  ps->client = g_object_ref (client);
  ps->property = g_strdup (property);
  ps->pref_key = g_strdup (pref_key);
  ps->action = g_strdup (action);
  g_object_set_data_full (G_OBJECT (sw), "hyphae-pref-switch", ps, pref_switch_free);
  g_signal_connect (sw, "state-set", G_CALLBACK (on_state_set), ps);
  g_signal_connect_object (client, detailed, G_CALLBACK (on_client_notify), sw, 0);
  g_signal_connect_object (client, "notify::busy", G_CALLBACK (on_client_notify), sw, 0);
  follow_client (ps);
}
