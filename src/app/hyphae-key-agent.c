/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-key-agent"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-key-agent.h"
#include "hyphae-profiles.h"

/*
 * Keys between the keyring and hyphaed (docs/ARCHITECTURE.md "The app's
 * keys"). Each flow is one GTask walking its steps:
 *   use a profile (sign in, connect, switch, hand over again):
 *     load → [make + store the missing keys] → SetKeys → [Up]
 *   log out: Logout → delete the node key
 * The keyring is always asked before anything reaches hyphaed: a locked or
 * missing keyring stops a flow before SetKeys, and no key is made while
 * the keys there cannot be read (that would be a second node).
 */

struct _HyphaeKeyAgent {
  GObject parent_instance;

  HyphaeClient *client;
  GSettings *settings;
  GCancellable *cancellable;

  HyphaeKeyringState keyring_state;
  char *keyring_error;
  char *profile;
  /* This hyphaed has had our keys (or a flow of ours is giving them):
   * nothing to hand over by ourselves until it restarts. */
  gboolean handed_over;
  guint busy; /* flows running */
  /* A rotated node key the keyring did not take: kept for retry(). */
  char *unsaved_profile;
  char *unsaved_key;
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

static void maybe_hand_over (HyphaeKeyAgent *self);

/* --------------------------------------------------------------- state */

static void
set_keyring_state (HyphaeKeyAgent *self,
                   HyphaeKeyringState state,
                   const char *message)
{
  if (state != self->keyring_state)
    {
      g_autoptr (GEnumClass) klass = g_type_class_ref (HYPHAE_TYPE_KEYRING_STATE);

      self->keyring_state = state;
      g_info ("keyring-state %s%s%s", g_enum_get_value (klass, state)->value_nick, message ? ": " : "",
              message ? message : "");
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEYRING_STATE]);
    }
  if (g_strcmp0 (message, self->keyring_error) != 0)
    {
      g_free (self->keyring_error);
      self->keyring_error = g_strdup (message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEYRING_ERROR]);
    }
}

/* After a keyring call: READY for no error, else the state it stands for.
 * A cancelled call says nothing about the keyring. */
static void
keyring_answered (HyphaeKeyAgent *self,
                  const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_keyring_state (self, hyphae_keyring_state_for_error (error), error ? error->message : NULL);
}

static void
on_current_profile_changed (HyphaeKeyAgent *self)
{
  g_autofree char *profile = g_settings_get_string (self->settings, "current-profile");

  if (g_strcmp0 (profile, self->profile) == 0)
    return;
  g_free (self->profile);
  self->profile = g_steal_pointer (&profile);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROFILE]);
}

/* ---------------------------------------------------- using a profile */

typedef struct {
  char *profile;
  char *control_url;
  char *auth_key; /* a secret too: wiped */
  char *hostname;
  gboolean make_keys;    /* make and store missing keys (else: nothing to hand over) */
  gboolean save_profile; /* it becomes the current profile once SetKeys took its keys */
  gboolean up;           /* Up after SetKeys */
  HyphaeKeyringKeys *keys;
  gboolean store_machine, store_node;
} UseProfile;

static void
use_profile_free (gpointer data)
{
  UseProfile *op = data;

  g_free (op->profile);
  g_free (op->control_url);
  hyphae_keyring_secret_free (op->auth_key);
  g_free (op->hostname);
  hyphae_keyring_keys_free (op->keys);
  g_free (op);
}

static void
flow_done (GTask *task)
{
  HyphaeKeyAgent *self = g_task_get_source_object (task);

  self->busy--;
}

/* Ends task with error (taken), or TRUE. */
static void
flow_return (GTask *task,
             GError *error)
{
  flow_done (task);
  if (error != NULL)
    {
      g_info ("%s failed: %s", g_task_get_name (task), error->message);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_up (GObject *source,
       GAsyncResult *result,
       gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  hyphae_client_call_finish (HYPHAE_CLIENT (source), result, &error);
  flow_return (task, error);
}

static void
on_set_keys (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  GTask *task = user_data;
  HyphaeKeyAgent *self = g_task_get_source_object (task);
  UseProfile *op = g_task_get_task_data (task);
  GError *error = NULL;
  HyphaeUpOptions options = {
    .control_url = op->control_url,
    .auth_key = op->auth_key,
    .hostname = op->hostname,
    .client_keys = TRUE,
  };

  if (!hyphae_client_call_finish (HYPHAE_CLIENT (source), result, &error))
    {
      flow_return (task, error);
      return;
    }
  g_info ("SetKeys: profile %s", op->profile);
  if (op->save_profile)
    hyphae_profiles_set_current (self->settings, op->profile, op->control_url);
  if (!op->up)
    {
      flow_return (task, NULL);
      return;
    }
  hyphae_client_up (self->client, &options, g_task_get_cancellable (task), on_up, task);
}

static void store_missing (GTask *task);

/* The end of a store or delete step of task: the keyring state follows
 * its answer, and an error ends the flow (TRUE). */
static gboolean
keyring_step_failed (GTask *task,
                     GAsyncResult *result)
{
  GError *error = NULL;

  hyphae_keyring_finish (result, &error);
  keyring_answered (g_task_get_source_object (task), error);
  if (error == NULL)
    return FALSE;
  flow_return (task, error);
  return TRUE;
}

static void
on_key_stored (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  if (!keyring_step_failed (user_data, result))
    store_missing (user_data);
}

/* Stores the keys made for this flow, one at a time, then SetKeys. */
static void
store_missing (GTask *task)
{
  HyphaeKeyAgent *self = g_task_get_source_object (task);
  UseProfile *op = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (op->store_machine)
    {
      op->store_machine = FALSE;
      hyphae_keyring_store (op->profile, op->control_url, HYPHAE_KEY_KIND_MACHINE, op->keys->machine_key,
                            cancellable, on_key_stored, task);
      return;
    }
  if (op->store_node)
    {
      op->store_node = FALSE;
      hyphae_keyring_store (op->profile, op->control_url, HYPHAE_KEY_KIND_NODE, op->keys->node_key, cancellable,
                            on_key_stored, task);
      return;
    }
  self->handed_over = TRUE;
  hyphae_client_set_keys (self->client, op->profile, op->keys->machine_key, op->keys->node_key, cancellable,
                          on_set_keys, task);
  /* The call holds its own copy now; ours goes. */
  g_clear_pointer (&op->keys, hyphae_keyring_keys_free);
}

static void
on_keys_loaded (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  GTask *task = user_data;
  HyphaeKeyAgent *self = g_task_get_source_object (task);
  UseProfile *op = g_task_get_task_data (task);
  GError *error = NULL;

  op->keys = hyphae_keyring_load_finish (result, &error);
  keyring_answered (self, error);
  if (error != NULL)
    {
      flow_return (task, error);
      return;
    }
  if (op->keys->machine_key == NULL || op->keys->node_key == NULL)
    {
      if (!op->make_keys)
        {
          /* Logged out (the node key went): nothing to hand over. */
          flow_return (task, NULL);
          return;
        }
      op->store_machine = op->keys->machine_key == NULL;
      op->store_node = op->keys->node_key == NULL;
      if (op->store_machine)
        op->keys->machine_key = hyphae_keyring_new_key ();
      if (op->store_node)
        op->keys->node_key = hyphae_keyring_new_key ();
      g_info ("new keys for profile %s:%s%s", op->profile, op->store_machine ? " machine" : "",
              op->store_node ? " node" : "");
    }
  store_missing (task);
}

/* Runs op (taken) as a flow of self. */
static void
use_profile (HyphaeKeyAgent *self,
             UseProfile *op,
             gpointer source_tag,
             GCancellable *cancellable,
             GAsyncReadyCallback callback,
             gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, source_tag == (gpointer) maybe_hand_over ? "hand-over" : "sign-in");
  g_task_set_task_data (task, op, use_profile_free);
  self->busy++;
  hyphae_keyring_load (op->profile, cancellable, on_keys_loaded, task);
}

/* ------------------------------------------------- handing keys over */

/* A failed hand-over is a keyring state (the window's page) or a log line
 * of flow_return(): nothing more to say here. */
static void
on_handed_over (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  g_task_propagate_boolean (G_TASK (result), &error);
}

/* hyphaed runs without our keys though it may have them: it restarted
 * (KeysOwner ""), or we did while it kept them (KeysOwner "client" with
 * our profile: SetKeys makes us the owner again, KeysRotated comes to us,
 * and a rotation we missed is sent now). Never over KeysOwner "daemon". */
static void
maybe_hand_over (HyphaeKeyAgent *self)
{
  HyphaeKeysOwner owner = hyphae_client_get_keys_owner (self->client);
  g_autofree char *daemon_profile = NULL;
  UseProfile *op;
  gboolean want_running = FALSE;

  if (self->handed_over || self->busy > 0 || self->profile == NULL || *self->profile == '\0' ||
      hyphae_client_get_daemon_state (self->client) != HYPHAE_DAEMON_STATE_RUNNING)
    return;
  /* A keyring that said no waits for retry() (the window's Unlock). */
  if (self->keyring_state != HYPHAE_KEYRING_STATE_READY && self->keyring_state != HYPHAE_KEYRING_STATE_UNKNOWN)
    return;
  g_object_get (self->client, "profile", &daemon_profile, "want-running", &want_running, NULL);
  if (owner == HYPHAE_KEYS_OWNER_CLIENT && g_strcmp0 (daemon_profile, self->profile) != 0)
    return; /* another profile's or another app's keys */
  if (owner == HYPHAE_KEYS_OWNER_DAEMON)
    {
      /* `hyphaectl up` made this node: it stays on hyphaed's keys until
       * the user signs in here (sign_in takes the machine over). */
      g_info ("KeysOwner daemon: hyphaed's own keys, ours stay in the keyring");
      self->handed_over = TRUE;
      return;
    }
  if (owner != HYPHAE_KEYS_OWNER_NONE && owner != HYPHAE_KEYS_OWNER_CLIENT)
    return;
  op = g_new0 (UseProfile, 1);
  op->profile = g_strdup (self->profile);
  op->control_url = hyphae_profiles_lookup (self->settings, self->profile);
  /* A restarted hyphaed that was up comes up again, as it does on its own keys. */
  op->up = owner == HYPHAE_KEYS_OWNER_NONE && want_running;
  g_info ("handing the keys of profile %s over (KeysOwner %s)%s", op->profile,
          owner == HYPHAE_KEYS_OWNER_NONE ? "none" : "client", op->up ? ", then Up" : "");
  self->handed_over = TRUE;
  use_profile (self, op, maybe_hand_over, self->cancellable, on_handed_over, NULL);
}

static void
on_daemon_changed (HyphaeKeyAgent *self)
{
  /* Gone or unknown: whoever comes next has not had our keys. */
  if (hyphae_client_get_daemon_state (self->client) != HYPHAE_DAEMON_STATE_RUNNING ||
      hyphae_client_get_keys_owner (self->client) == HYPHAE_KEYS_OWNER_UNKNOWN)
    {
      self->handed_over = FALSE;
      return;
    }
  maybe_hand_over (self);
}

static void
on_daemon_restarted (HyphaeKeyAgent *self)
{
  self->handed_over = FALSE;
  maybe_hand_over (self);
}

/* ---------------------------------------------------- rotated keys */

/* One store of a rotated key: another rotation may come meanwhile. */
typedef struct {
  HyphaeKeyAgent *self;
  char *key;
} RotatedStore;

static void
on_rotated_stored (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  RotatedStore *store = user_data;
  g_autoptr (HyphaeKeyAgent) self = store->self;
  g_auto (HyphaeKeyringSecret) key = store->key;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;

  g_free (store);
  if (hyphae_keyring_finish (result, &error))
    {
      g_info ("rotated node key of profile %s stored", self->unsaved_profile);
      /* Unless a newer one is waiting for its own store. */
      if (g_strcmp0 (key, self->unsaved_key) == 0)
        {
          g_clear_pointer (&self->unsaved_profile, g_free);
          g_clear_pointer (&self->unsaved_key, hyphae_keyring_secret_free);
        }
      keyring_answered (self, NULL);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* Kept for retry(); meanwhile hyphaed holds the key, and would send it
   * again to a SetKeys with the old one. */
  message = g_strdup_printf (_ ("The new node key is not saved: %s"), error->message);
  set_keyring_state (self, hyphae_keyring_state_for_error (error), message);
}

static void
store_unsaved (HyphaeKeyAgent *self)
{
  g_autofree char *control_url = hyphae_profiles_lookup (self->settings, self->unsaved_profile);
  RotatedStore *store = g_new0 (RotatedStore, 1);

  store->self = g_object_ref (self);
  store->key = hyphae_keyring_secret_dup (self->unsaved_key);
  hyphae_keyring_store (self->unsaved_profile, control_url, HYPHAE_KEY_KIND_NODE, store->key, self->cancellable,
                        on_rotated_stored, store);
}

static void
on_keys_rotated (HyphaeKeyAgent *self,
                 const char *profile,
                 const char *node_key)
{
  g_clear_pointer (&self->unsaved_key, hyphae_keyring_secret_free);
  g_free (self->unsaved_profile);
  self->unsaved_profile = g_strdup (*profile != '\0' ? profile : self->profile);
  self->unsaved_key = hyphae_keyring_secret_dup (node_key);
  g_info ("KeysRotated: profile %s", self->unsaved_profile);
  store_unsaved (self);
}

/* ------------------------------------------------------------- probe */

static void
on_probed (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (HyphaeKeyAgent) self = user_data;
  g_autoptr (GError) error = NULL;

  hyphae_keyring_finish (result, &error);
  keyring_answered (self, error);
  maybe_hand_over (self);
}

static void
on_state_loaded (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr (HyphaeKeyAgent) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (HyphaeKeyringKeys) keys = hyphae_keyring_load_finish (result, &error);

  keyring_answered (self, error);
  maybe_hand_over (self);
}

/* The keyring's state now: the current profile's keys are read (the
 * Secret Service may ask to unlock them: they are needed soon), or without
 * a profile the service only asked whether it is there. */
static void
check_keyring (HyphaeKeyAgent *self)
{
  if (self->profile != NULL && *self->profile != '\0')
    hyphae_keyring_load (self->profile, self->cancellable, on_state_loaded, g_object_ref (self));
  else
    hyphae_keyring_probe (self->cancellable, on_probed, g_object_ref (self));
}

/* ----------------------------------------------------------- GObject */

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

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (hyphae_key_agent_parent_class)->dispose (object);
}

static void
hyphae_key_agent_finalize (GObject *object)
{
  HyphaeKeyAgent *self = HYPHAE_KEY_AGENT (object);

  g_clear_object (&self->cancellable);
  g_free (self->keyring_error);
  g_free (self->profile);
  g_free (self->unsaved_profile);
  hyphae_keyring_secret_free (self->unsaved_key);
  G_OBJECT_CLASS (hyphae_key_agent_parent_class)->finalize (object);
}

static void
hyphae_key_agent_class_init (HyphaeKeyAgentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = hyphae_key_agent_get_property;
  object_class->dispose = hyphae_key_agent_dispose;
  object_class->finalize = hyphae_key_agent_finalize;

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
  self->cancellable = g_cancellable_new ();
}

HyphaeKeyAgent *
hyphae_key_agent_new (HyphaeClient *client,
                      GSettings *settings)
{
  HyphaeKeyAgent *self = g_object_new (HYPHAE_TYPE_KEY_AGENT, NULL);

  self->client = g_object_ref (client);
  self->settings = g_object_ref (settings);
  self->profile = g_settings_get_string (settings, "current-profile");
  g_signal_connect_object (settings, "changed::current-profile", G_CALLBACK (on_current_profile_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::daemon-state", G_CALLBACK (on_daemon_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::keys-owner", G_CALLBACK (on_daemon_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "daemon-restarted", G_CALLBACK (on_daemon_restarted), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "keys-rotated", G_CALLBACK (on_keys_rotated), self, G_CONNECT_SWAPPED);
  check_keyring (self);
  return self;
}

HyphaeKeyringState
hyphae_key_agent_get_keyring_state (HyphaeKeyAgent *self)
{
  g_return_val_if_fail (HYPHAE_IS_KEY_AGENT (self), HYPHAE_KEYRING_STATE_UNKNOWN);
  return self->keyring_state;
}

const char *
hyphae_key_agent_get_keyring_error (HyphaeKeyAgent *self)
{
  g_return_val_if_fail (HYPHAE_IS_KEY_AGENT (self), NULL);
  return self->keyring_error;
}

const char *
hyphae_key_agent_get_profile (HyphaeKeyAgent *self)
{
  g_return_val_if_fail (HYPHAE_IS_KEY_AGENT (self), NULL);
  return self->profile;
}

void
hyphae_key_agent_retry (HyphaeKeyAgent *self)
{
  g_return_if_fail (HYPHAE_IS_KEY_AGENT (self));

  /* The keyring said no before: the keys are not with hyphaed yet. */
  if (self->keyring_state != HYPHAE_KEYRING_STATE_READY && self->busy == 0)
    self->handed_over = FALSE;
  set_keyring_state (self, HYPHAE_KEYRING_STATE_UNKNOWN, NULL);
  if (self->unsaved_key != NULL)
    store_unsaved (self);
  check_keyring (self);
}

/* ------------------------------------------------------------- verbs */

void
hyphae_key_agent_sign_in (HyphaeKeyAgent *self,
                          const char *profile,
                          const HyphaeUpOptions *options,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  const char *control_url = options != NULL && options->control_url != NULL ? options->control_url : "";
  g_autofree char *known_url = NULL;
  UseProfile *op;

  g_return_if_fail (HYPHAE_IS_KEY_AGENT (self));

  if (profile == NULL || *profile == '\0')
    {
      g_autofree char *current_url = hyphae_profiles_lookup (self->settings, self->profile);

      profile = g_strcmp0 (current_url, control_url) == 0 ? self->profile : NULL;
    }
  if (profile != NULL)
    known_url = hyphae_profiles_lookup (self->settings, profile);
  if (known_url != NULL && g_strcmp0 (known_url, control_url) != 0)
    {
      g_task_report_new_error (self, callback, user_data, hyphae_key_agent_sign_in, G_IO_ERROR,
                               G_IO_ERROR_INVALID_ARGUMENT, _ ("The profile “%s” belongs to another server, %s"),
                               profile, *known_url != '\0' ? known_url : _ ("the default one"));
      return;
    }
  op = g_new0 (UseProfile, 1);
  op->profile = profile != NULL ? g_strdup (profile) : hyphae_profiles_name_for_url (self->settings, control_url);
  op->control_url = g_strdup (control_url);
  if (options != NULL)
    {
      op->auth_key = hyphae_keyring_secret_dup (options->auth_key);
      op->hostname = g_strdup (options->hostname);
    }
  /* Over KeysOwner "daemon" too: signing in here is how the app takes the
   * machine over (another node, on keyring keys from now on). */
  op->make_keys = op->save_profile = op->up = TRUE;
  use_profile (self, op, hyphae_key_agent_sign_in, cancellable, callback, user_data);
}

void
hyphae_key_agent_connect (HyphaeKeyAgent *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autofree char *control_url = NULL;
  HyphaeUpOptions options = { .client_keys = TRUE };

  g_return_if_fail (HYPHAE_IS_KEY_AGENT (self));

  if (hyphae_client_get_keys_owner (self->client) == HYPHAE_KEYS_OWNER_DAEMON)
    {
      /* The daemon's own node (`hyphaectl up`): Up on its own keys. */
      GTask *task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, hyphae_key_agent_connect);
      g_task_set_name (task, "connect");
      self->busy++;
      hyphae_client_up (self->client, NULL, cancellable, on_up, task);
      return;
    }
  if (*self->profile == '\0')
    {
      g_task_report_new_error (self, callback, user_data, hyphae_key_agent_connect, G_IO_ERROR,
                               G_IO_ERROR_NOT_INITIALIZED, _ ("Sign in first"));
      return;
    }
  /* The current profile's keys (a new node key after a log-out), then Up. */
  control_url = hyphae_profiles_lookup (self->settings, self->profile);
  options.control_url = control_url;
  hyphae_key_agent_sign_in (self, self->profile, &options, cancellable, callback, user_data);
}

static void
on_node_key_deleted (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  if (!keyring_step_failed (user_data, result))
    flow_return (user_data, NULL);
}

static void
on_logged_out (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  GTask *task = user_data;
  const char *profile = g_task_get_task_data (task);
  GError *error = NULL;

  if (!hyphae_client_call_finish (HYPHAE_CLIENT (source), result, &error) || profile == NULL)
    {
      flow_return (task, error);
      return;
    }
  /* The node key is spent; the machine key stays, as hyphaed keeps its own:
   * the next sign-in is the same machine with a new node key. */
  g_info ("logged out: deleting the node key of profile %s", profile);
  hyphae_keyring_delete (profile, HYPHAE_KEY_KIND_NODE, g_task_get_cancellable (task), on_node_key_deleted,
                         task);
}

void
hyphae_key_agent_log_out (HyphaeKeyAgent *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task;

  g_return_if_fail (HYPHAE_IS_KEY_AGENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_key_agent_log_out);
  g_task_set_name (task, "log-out");
  /* The keyring holds no key of a daemon-owned node. */
  if (hyphae_client_get_keys_owner (self->client) != HYPHAE_KEYS_OWNER_DAEMON && *self->profile != '\0')
    g_task_set_task_data (task, g_strdup (self->profile), g_free);
  self->busy++;
  hyphae_client_logout (self->client, cancellable, on_logged_out, task);
}

void
hyphae_key_agent_switch_profile (HyphaeKeyAgent *self,
                                 const char *profile,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autofree char *control_url = NULL;
  HyphaeUpOptions options = { .client_keys = TRUE };

  g_return_if_fail (HYPHAE_IS_KEY_AGENT (self));
  g_return_if_fail (profile != NULL);

  control_url = hyphae_profiles_lookup (self->settings, profile);
  if (control_url == NULL)
    {
      g_task_report_new_error (self, callback, user_data, hyphae_key_agent_switch_profile, G_IO_ERROR,
                               G_IO_ERROR_NOT_FOUND, _ ("There is no profile “%s”"), profile);
      return;
    }
  /* Its keys (a new node key if it was logged out), then Up with its server. */
  options.control_url = control_url;
  hyphae_key_agent_sign_in (self, profile, &options, cancellable, callback, user_data);
}

gboolean
hyphae_key_agent_finish (HyphaeKeyAgent *self,
                         GAsyncResult *result,
                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
