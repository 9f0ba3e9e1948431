/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-attention"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-attention.h"

#define DAY (24 * 60 * 60)

HyphaeAttentionKind
hyphae_attention_evaluate (const HyphaeAttentionFacts *facts)
{
  HyphaeAttentionKind mask = HYPHAE_ATTENTION_NONE;

  /* Banners are about a working connection; the window's pages say the rest. */
  if (facts->state != HYPHAE_STATE_RUNNING)
    return HYPHAE_ATTENTION_NONE;
  if (facts->exit_node_id != NULL && *facts->exit_node_id != '\0' && (facts->exit_node_name == NULL || !facts->exit_node_online))
    mask |= HYPHAE_ATTENTION_EXIT_NODE_OFFLINE;
  if (facts->key_expiry > 0 && (facts->key_expiry <= facts->now || facts->key_expiry - facts->now < (gint64) facts->warning_days * DAY))
    mask |= HYPHAE_ATTENTION_KEY_EXPIRY;
  if (facts->health != NULL && facts->health[0] != NULL && *facts->health[0] != '\0')
    mask |= HYPHAE_ATTENTION_HEALTH;
  return mask;
}

HyphaeAttentionKind
hyphae_attention_first (HyphaeAttentionKind mask)
{
  /* The lowest bit is the most important kind. */
  return mask & -mask;
}

static char *
describe_key_expiry (const HyphaeAttentionFacts *facts)
{
  gint64 remaining = facts->key_expiry - facts->now;
  guint days;

  if (remaining <= 0)
    return g_strdup (_ ("This device’s key has expired: reauthenticate to stay connected"));
  days = (guint) MIN (remaining / DAY, G_MAXUINT);
  if (days == 0)
    return g_strdup (_ ("This device’s key expires in less than a day"));
  /* Translators: %u is a number of days. */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "This device’s key expires in %u day",
                                       "This device’s key expires in %u days", days),
                          days);
}

char *
hyphae_attention_describe (const HyphaeAttentionFacts *facts,
                           HyphaeAttentionKind kind)
{
  switch (hyphae_attention_first (kind))
    {
    case HYPHAE_ATTENTION_EXIT_NODE_OFFLINE:
      /* hyphaed drops internet traffic with the kill switch, and otherwise
       * takes the exit routes away (the LAN carries it). */
      if (facts->exit_node_name == NULL && facts->exit_node_kill_switch)
        return g_strdup (_ ("The chosen exit node is not available: internet traffic is blocked"));
      if (facts->exit_node_name == NULL)
        return g_strdup (_ ("The chosen exit node is not available: internet traffic uses your local network"));
      if (facts->exit_node_kill_switch)
        /* Translators: %s is the exit node's name. */
        return g_strdup_printf (_ ("Exit node “%s” is offline: internet traffic is blocked"), facts->exit_node_name);
      /* Translators: %s is the exit node's name. */
      return g_strdup_printf (_ ("Exit node “%s” is offline: internet traffic uses your local network"),
                              facts->exit_node_name);
    case HYPHAE_ATTENTION_KEY_EXPIRY:
      return describe_key_expiry (facts);
    case HYPHAE_ATTENTION_HEALTH:
      return g_strdup (facts->health[0]);
    case HYPHAE_ATTENTION_NONE:
    default:
      return g_strdup ("");
    }
}

gint64
hyphae_attention_next_change (const HyphaeAttentionFacts *facts)
{
  gint64 warn_from, remaining;

  if (facts->key_expiry <= 0)
    return 0;
  /* The key-expiry test is "remaining < warning": it starts to hold one
   * second after warn_from (with no warning days, at the expiry). */
  warn_from = facts->key_expiry - (gint64) facts->warning_days * DAY;
  remaining = facts->key_expiry - facts->now;
  if (remaining <= 0)
    return 0;
  if (facts->warning_days == 0)
    return facts->key_expiry;
  if (facts->now <= warn_from)
    return warn_from + 1;
  /* "in N days" becomes N - 1 once remaining drops below N days, and
   * "expired" at the expiry itself. */
  if (remaining >= DAY)
    return facts->key_expiry - (remaining / DAY) * DAY + 1;
  return facts->key_expiry;
}

/* --- HyphaeAttention: the facts kept current --- */

struct _HyphaeAttention {
  GObject parent_instance;

  HyphaeClient *client;
  GSettings *settings;
  /* Watched for key-expiry / online; their handlers go with the object. */
  HyphaePeer *self_peer;
  HyphaePeer *exit_node;
  /* Copies of the client's values, for the facts. */
  char *exit_node_id;
  char **health;
  guint timer_id;
  HyphaeAttentionKind mask;
};

G_DEFINE_FINAL_TYPE (HyphaeAttention, hyphae_attention, G_TYPE_OBJECT)

enum {
  CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* facts points into self and the client's peers: use it before returning
 * to the main loop. */
static void
read_facts (HyphaeAttention *self,
            HyphaeAttentionFacts *facts)
{
  HyphaePeer *exit_node = hyphae_client_get_exit_node (self->client);
  HyphaePeer *self_peer = hyphae_client_get_self (self->client);

  *facts = (HyphaeAttentionFacts) {
    .state = HYPHAE_STATE_NO_STATE,
    .now = g_get_real_time () / G_USEC_PER_SEC,
    .warning_days = g_settings_get_uint (self->settings, "key-expiry-warning-days"),
  };
  if (hyphae_client_get_daemon_state (self->client) == HYPHAE_DAEMON_STATE_RUNNING)
    facts->state = hyphae_client_get_state (self->client);
  if (self_peer != NULL)
    facts->key_expiry = hyphae_peer_get_key_expiry (self_peer);
  if (exit_node != NULL)
    {
      facts->exit_node_name = hyphae_peer_get_display_name (exit_node);
      facts->exit_node_online = hyphae_peer_get_online (exit_node);
    }
  facts->exit_node_id = self->exit_node_id;
  g_object_get (self->client, "exit-node-kill-switch", &facts->exit_node_kill_switch, NULL);
  facts->health = (const char * const *) self->health;
}

static void update (HyphaeAttention *self);

static gboolean
on_timer (gpointer user_data)
{
  HyphaeAttention *self = user_data;

  self->timer_id = 0;
  update (self);
  return G_SOURCE_REMOVE;
}

static void
schedule (HyphaeAttention *self,
          const HyphaeAttentionFacts *facts)
{
  gint64 next = hyphae_attention_next_change (facts);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  if (next == 0 || facts->state != HYPHAE_STATE_RUNNING)
    return;
  /* At most a day: a suspended machine wakes up to a late timer. */
  self->timer_id = g_timeout_add_seconds ((guint) CLAMP (next - facts->now, 1, DAY), on_timer, self);
}

static void
update (HyphaeAttention *self)
{
  HyphaeAttentionFacts facts;

  read_facts (self, &facts);
  self->mask = hyphae_attention_evaluate (&facts);
  schedule (self, &facts);
  g_signal_emit (self, signals[CHANGED], 0);
}

static void
on_peer_notify (GObject *object,
                GParamSpec *pspec,
                gpointer user_data)
{
  update (HYPHAE_ATTENTION (user_data));
}

/* Follows which peer *slot points at, watching its detailed notify. */
static void
watch_peer (HyphaeAttention *self,
            HyphaePeer **slot,
            HyphaePeer *peer,
            const char *detailed_signal)
{
  if (*slot == peer)
    return;
  if (*slot != NULL)
    g_signal_handlers_disconnect_by_func (*slot, on_peer_notify, self);
  g_set_object (slot, peer);
  if (peer != NULL)
    g_signal_connect_object (peer, detailed_signal, G_CALLBACK (on_peer_notify), self, 0);
}

static void
on_client_notify (GObject *object,
                  GParamSpec *pspec,
                  gpointer user_data)
{
  HyphaeAttention *self = user_data;

  g_clear_pointer (&self->exit_node_id, g_free);
  g_clear_pointer (&self->health, g_strfreev);
  g_object_get (self->client, "exit-node-id", &self->exit_node_id, "health", &self->health, NULL);
  watch_peer (self, &self->self_peer, hyphae_client_get_self (self->client), "notify::key-expiry");
  watch_peer (self, &self->exit_node, hyphae_client_get_exit_node (self->client), "notify");
  update (self);
}

static void
on_settings_changed (GSettings *settings,
                     const char *key,
                     gpointer user_data)
{
  update (HYPHAE_ATTENTION (user_data));
}

static void
hyphae_attention_dispose (GObject *object)
{
  HyphaeAttention *self = HYPHAE_ATTENTION (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  watch_peer (self, &self->self_peer, NULL, NULL);
  watch_peer (self, &self->exit_node, NULL, NULL);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_attention_parent_class)->dispose (object);
}

static void
hyphae_attention_finalize (GObject *object)
{
  HyphaeAttention *self = HYPHAE_ATTENTION (object);

  g_free (self->exit_node_id);
  g_strfreev (self->health);
  G_OBJECT_CLASS (hyphae_attention_parent_class)->finalize (object);
}

static void
hyphae_attention_class_init (HyphaeAttentionClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hyphae_attention_dispose;
  G_OBJECT_CLASS (klass)->finalize = hyphae_attention_finalize;

  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                   G_TYPE_NONE, 0);
}

static void
hyphae_attention_init (HyphaeAttention *self)
{
}

HyphaeAttention *
hyphae_attention_new (HyphaeClient *client,
                      GSettings *settings)
{
  HyphaeAttention *self = g_object_new (HYPHAE_TYPE_ATTENTION, NULL);
  static const char * const watched[] = {
    "notify::daemon-state",
    "notify::state",
    "notify::self",
    "notify::exit-node",
    "notify::exit-node-id",
    "notify::exit-node-kill-switch",
    "notify::health",
  };

  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);
  for (guint i = 0; i < G_N_ELEMENTS (watched); i++)
    g_signal_connect_object (client, watched[i], G_CALLBACK (on_client_notify), self, 0);
  g_signal_connect_object (settings, "changed::key-expiry-warning-days", G_CALLBACK (on_settings_changed), self,
                           0);
  on_client_notify (G_OBJECT (client), NULL, self);
  return self;
}

HyphaeAttentionKind
hyphae_attention_get_mask (HyphaeAttention *self)
{
  g_return_val_if_fail (HYPHAE_IS_ATTENTION (self), HYPHAE_ATTENTION_NONE);

  return self->mask;
}

char *
hyphae_attention_dup_text (HyphaeAttention *self,
                           HyphaeAttentionKind kind)
{
  HyphaeAttentionFacts facts;

  g_return_val_if_fail (HYPHAE_IS_ATTENTION (self), NULL);

  read_facts (self, &facts);
  return hyphae_attention_describe (&facts, kind);
}
