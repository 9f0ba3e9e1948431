/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-key-agent"

#include "config.h"

#include "hyphae-key-agent.h"

/* PLACEHOLDER until the keyring part lands: hyphaed keeps its own keys
 * (Up without client keys), the keyring is never asked. */

/* clang-format off */
G_DEFINE_ENUM_TYPE (HyphaeKeyringState, hyphae_keyring_state,
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_UNKNOWN, "unknown"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_READY, "ready"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_LOCKED, "locked"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_MISSING, "missing"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_FAILED, "failed"))
/* clang-format on */

struct _HyphaeKeyAgent {
  GObject parent_instance;

  HyphaeClient *client;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (HyphaeKeyAgent, hyphae_key_agent, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_KEYRING_STATE,
  PROP_KEYRING_ERROR,
  PROP_PROFILE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
hyphae_key_agent_get_property (GObject *object,
                               guint prop_id,
                               GValue *value,
                               GParamSpec *pspec)
{
  HyphaeKeyAgent *self = HYPHAE_KEY_AGENT (object);

  switch (prop_id)
    {
    case PROP_KEYRING_STATE:
      g_value_set_enum (value, hyphae_key_agent_get_keyring_state (self));
      break;
    case PROP_KEYRING_ERROR:
      g_value_set_string (value, hyphae_key_agent_get_keyring_error (self));
      break;
    case PROP_PROFILE:
      g_value_set_string (value, hyphae_key_agent_get_profile (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_key_agent_dispose (GObject *object)
{
  HyphaeKeyAgent *self = HYPHAE_KEY_AGENT (object);

  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (hyphae_key_agent_parent_class)->dispose (object);
}

static void
hyphae_key_agent_class_init (HyphaeKeyAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = hyphae_key_agent_get_property;
  object_class->dispose = hyphae_key_agent_dispose;

  properties[PROP_KEYRING_STATE] =
    g_param_spec_enum ("keyring-state", NULL, NULL, HYPHAE_TYPE_KEYRING_STATE, HYPHAE_KEYRING_STATE_UNKNOWN,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_KEYRING_ERROR] =
    g_param_spec_string ("keyring-error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROFILE] =
    g_param_spec_string ("profile", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
hyphae_key_agent_init (HyphaeKeyAgent *self)
{
}

HyphaeKeyAgent *
hyphae_key_agent_new (HyphaeClient *client,
                      GSettings *settings)
{
  HyphaeKeyAgent *self = g_object_new (HYPHAE_TYPE_KEY_AGENT, NULL);

  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);
  return self;
}

HyphaeKeyringState
hyphae_key_agent_get_keyring_state (HyphaeKeyAgent *self)
{
  return HYPHAE_KEYRING_STATE_UNKNOWN;
}

const char *
hyphae_key_agent_get_keyring_error (HyphaeKeyAgent *self)
{
  return NULL;
}

const char *
hyphae_key_agent_get_profile (HyphaeKeyAgent *self)
{
  return "";
}

void
hyphae_key_agent_retry (HyphaeKeyAgent *self)
{
}

static void
on_call_done (GObject *object,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (hyphae_client_call_finish (HYPHAE_CLIENT (object), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
hyphae_key_agent_sign_in (HyphaeKeyAgent *self,
                          const char *profile,
                          const HyphaeUpOptions *options,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  hyphae_client_up (self->client, options, cancellable, on_call_done, task);
}

void
hyphae_key_agent_connect (HyphaeKeyAgent *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  hyphae_client_up (self->client, NULL, cancellable, on_call_done, task);
}

void
hyphae_key_agent_log_out (HyphaeKeyAgent *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  hyphae_client_logout (self->client, cancellable, on_call_done, task);
}

void
hyphae_key_agent_switch_profile (HyphaeKeyAgent *self,
                                 const char *profile,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_task_report_new_error (self, callback, user_data, hyphae_key_agent_switch_profile, G_IO_ERROR,
                           G_IO_ERROR_NOT_SUPPORTED, "Profiles need the keyring");
}

gboolean
hyphae_key_agent_finish (HyphaeKeyAgent *self,
                         GAsyncResult *result,
                         GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
