/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-notifier"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-attention.h"
#include "hyphae-notifier.h"
#include "hyphae-window.h"

/* Seconds between two notifications of one topic: a flapping link shows
 * one, then its final state. HYPHAE_NOTIFY_INTERVAL overrides it (tests). */
#define RATE_LIMIT 10

typedef enum {
  TOPIC_CONNECTION,
  TOPIC_EXIT_NODE,
  TOPIC_KEY_EXPIRY,
  N_TOPICS
} Topic;

/* The notification ids (one per topic: a newer replaces the older). */
static const char * const topic_ids[N_TOPICS] = { "connection", "exit-node", "key-expiry" };

typedef struct {
  HyphaeNotifier *notifier;
  Topic topic;
  gint64 last_sent; /* monotonic µs; 0 = never */
  char *sent;       /* what is shown ("connected", …), NULL when none */
  GNotification *pending;
  char *pending_what;
  guint timer_id;
} TopicState;

struct _HyphaeNotifier {
  GObject parent_instance;

  GtkApplication *app; /* not owned: the application owns the notifier */
  HyphaeClient *client;
  GSettings *settings;
  HyphaeAttention *attention;
  gint64 interval;          /* the rate limit, µs */
  HyphaeAttentionKind mask; /* the last one seen */
  gint64 told_key_expiry;   /* the expiry the user was told about (banner or notification) */
  gboolean have_baseline;   /* the daemon was reached once */
  gboolean running;
  TopicState topics[N_TOPICS];
};

G_DEFINE_FINAL_TYPE (HyphaeNotifier, hyphae_notifier, G_TYPE_OBJECT)

/* Notifications are for a hidden or absent window: a shown one says it. */
static gboolean
may_notify (HyphaeNotifier *self)
{
  if (!g_settings_get_boolean (self->settings, "notifications"))
    return FALSE;
  for (GList *l = gtk_application_get_windows (self->app); l != NULL; l = l->next)
    if (HYPHAE_IS_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      return FALSE;
  return TRUE;
}

static void
clear_pending (TopicState *t)
{
  g_clear_handle_id (&t->timer_id, g_source_remove);
  g_clear_object (&t->pending);
  g_clear_pointer (&t->pending_what, g_free);
}

static void
send_now (HyphaeNotifier *self,
          Topic topic,
          const char *what,
          GNotification *notification)
{
  TopicState *t = &self->topics[topic];

  g_debug ("notification %s: %s", topic_ids[topic], what);
  g_application_send_notification (G_APPLICATION (self->app), topic_ids[topic], notification);
  t->last_sent = g_get_monotonic_time ();
  g_free (t->sent);
  t->sent = g_strdup (what);
}

static gboolean
on_rate_limit_over (gpointer user_data)
{
  TopicState *t = user_data;
  g_autoptr (GNotification) notification = g_steal_pointer (&t->pending);
  g_autofree char *what = g_steal_pointer (&t->pending_what);

  t->timer_id = 0;
  /* Changed back meanwhile (what is shown is right), or the window came. */
  if (g_strcmp0 (what, t->sent) != 0 && may_notify (t->notifier))
    send_now (t->notifier, t->topic, what, notification);
  return G_SOURCE_REMOVE;
}

/* Shows notification (what names its content) for topic, now or once the
 * topic's rate limit allows; takes notification. */
static void
post (HyphaeNotifier *self,
      Topic topic,
      const char *what,
      GNotification *notification)
{
  TopicState *t = &self->topics[topic];
  gint64 wait = t->last_sent + self->interval - g_get_monotonic_time ();

  clear_pending (t);
  if (t->last_sent == 0 || wait <= 0)
    {
      send_now (self, topic, what, notification);
      g_object_unref (notification);
      return;
    }
  g_debug ("notification %s held back: %s", topic_ids[topic], what);
  t->pending = notification;
  t->pending_what = g_strdup (what);
  t->timer_id = g_timeout_add ((guint) (wait / 1000) + 1, on_rate_limit_over, t);
}

/* The topic's notification no longer applies. */
static void
withdraw (HyphaeNotifier *self,
          Topic topic)
{
  TopicState *t = &self->topics[topic];

  clear_pending (t);
  if (t->sent == NULL)
    return;
  g_debug ("withdrawn %s", topic_ids[topic]);
  g_application_withdraw_notification (G_APPLICATION (self->app), topic_ids[topic]);
  g_clear_pointer (&t->sent, g_free);
}

static GNotification *
notification_new (const char *title,
                  const char *body)
{
  GNotification *notification = g_notification_new (title);
  g_autoptr (GIcon) icon = g_themed_icon_new (APPLICATION_ID);

  g_notification_set_body (notification, body);
  g_notification_set_icon (notification, icon);
  g_notification_set_default_action (notification, "app.show-window");
  return notification;
}

static void
on_state (GObject *object,
          GParamSpec *pspec,
          gpointer user_data)
{
  HyphaeNotifier *self = user_data;
  gboolean running = hyphae_client_get_state (self->client) == HYPHAE_STATE_RUNNING;
  GNotification *notification;

  /* Not before the daemon answered once (its first state is no change), and
   * a daemon gone is a lost connection. */
  if (hyphae_client_get_daemon_state (self->client) != HYPHAE_DAEMON_STATE_RUNNING)
    {
      if (!self->have_baseline)
        return;
      running = FALSE;
    }
  if (!self->have_baseline)
    {
      self->have_baseline = TRUE;
      self->running = running;
      g_debug ("first state: %s", running ? "running" : "not running");
      return;
    }
  if (running == self->running)
    return;
  self->running = running;
  if (!may_notify (self))
    {
      withdraw (self, TOPIC_CONNECTION);
      return;
    }
  if (running)
    notification = notification_new (_ ("Connected"), _ ("This device is connected to its tailnet."));
  else
    notification = notification_new (_ ("Disconnected"), _ ("This device is no longer connected to its tailnet."));
  post (self, TOPIC_CONNECTION, running ? "connected" : "disconnected", notification);
}

/* A kind of attention started or stopped applying. */
static void
on_attention (HyphaeAttention *attention,
              HyphaeNotifier *self)
{
  HyphaeAttentionKind mask = hyphae_attention_get_mask (attention);
  HyphaeAttentionKind started = mask & ~self->mask;
  HyphaeAttentionKind stopped = self->mask & ~mask;

  HyphaePeer *self_peer = hyphae_client_get_self (self->client);
  gint64 key_expiry = self_peer != NULL ? hyphae_peer_get_key_expiry (self_peer) : 0;

  self->mask = mask;
  if (stopped & HYPHAE_ATTENTION_EXIT_NODE_OFFLINE)
    withdraw (self, TOPIC_EXIT_NODE);
  /* Stopped while Running: renewed (or fewer warning days). Disconnected,
   * the key still expires: the notification stays. */
  if ((stopped & HYPHAE_ATTENTION_KEY_EXPIRY) && hyphae_client_get_state (self->client) == HYPHAE_STATE_RUNNING)
    withdraw (self, TOPIC_KEY_EXPIRY);
  /* Once per expiry, not at each reconnection; whether the daemon sends the
   * new Self before or after Running. */
  started &= ~HYPHAE_ATTENTION_KEY_EXPIRY;
  if ((mask & HYPHAE_ATTENTION_KEY_EXPIRY) && key_expiry != self->told_key_expiry)
    {
      self->told_key_expiry = key_expiry;
      started |= HYPHAE_ATTENTION_KEY_EXPIRY;
    }
  if (!may_notify (self))
    return;
  if (started & HYPHAE_ATTENTION_EXIT_NODE_OFFLINE)
    {
      g_autofree char *text = hyphae_attention_dup_text (attention, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
      GNotification *notification = notification_new (_ ("Exit Node Offline"), text);

      g_notification_add_button_with_target (notification, _ ("Disable Exit Node"), "app.set-exit-node", "s", "");
      post (self, TOPIC_EXIT_NODE, "offline", notification);
    }
  if (started & HYPHAE_ATTENTION_KEY_EXPIRY)
    {
      g_autofree char *text = hyphae_attention_dup_text (attention, HYPHAE_ATTENTION_KEY_EXPIRY);
      g_autofree char *what = g_strdup_printf ("expiring at %" G_GINT64_FORMAT, key_expiry);

      /* Reauthenticating needs the window (the browser flow comes back there). */
      post (self, TOPIC_KEY_EXPIRY, what, notification_new (_ ("Key Expires Soon"), text));
    }
}

static void
on_notifications_setting (GSettings *settings,
                          const char *key,
                          gpointer user_data)
{
  HyphaeNotifier *self = user_data;

  if (g_settings_get_boolean (settings, key))
    return;
  for (Topic topic = 0; topic < N_TOPICS; topic++)
    withdraw (self, topic);
}

static void
hyphae_notifier_dispose (GObject *object)
{
  HyphaeNotifier *self = HYPHAE_NOTIFIER (object);

  for (Topic topic = 0; topic < N_TOPICS; topic++)
    {
      clear_pending (&self->topics[topic]);
      g_clear_pointer (&self->topics[topic].sent, g_free);
    }
  g_clear_object (&self->attention);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_notifier_parent_class)->dispose (object);
}

static void
hyphae_notifier_class_init (HyphaeNotifierClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hyphae_notifier_dispose;
}

static void
hyphae_notifier_init (HyphaeNotifier *self)
{
  for (Topic topic = 0; topic < N_TOPICS; topic++)
    {
      self->topics[topic].notifier = self;
      self->topics[topic].topic = topic;
    }
}

HyphaeNotifier *
hyphae_notifier_new (GtkApplication *app,
                     HyphaeClient *client,
                     GSettings *settings)
{
  HyphaeNotifier *self = g_object_new (HYPHAE_TYPE_NOTIFIER, NULL);
  const char *interval = g_getenv ("HYPHAE_NOTIFY_INTERVAL");

  self->interval = CLAMP (interval != NULL ? g_ascii_strtoll (interval, NULL, 10) : RATE_LIMIT, 0, 24 * 60 * 60) * G_USEC_PER_SEC;
  self->app = app;
  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);
  self->attention = hyphae_attention_new (client, settings);
  self->mask = hyphae_attention_get_mask (self->attention);
  g_signal_connect_object (client, "notify::state", G_CALLBACK (on_state), self, 0);
  g_signal_connect_object (client, "notify::daemon-state", G_CALLBACK (on_state), self, 0);
  g_signal_connect_object (self->attention, "changed", G_CALLBACK (on_attention), self, 0);
  g_signal_connect_object (settings, "changed::notifications", G_CALLBACK (on_notifications_setting), self, 0);
  g_settings_get_boolean (settings, "notifications"); /* GSettings signals changes of keys read */
  on_state (G_OBJECT (client), NULL, self);
  return self;
}
