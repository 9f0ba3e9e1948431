/* SPDX-License-Identifier: MIT */
/*
 * HyphaeControlClient: one node's session with one control server
 * (tailscale control/controlclient auto.go + direct.go, for behaviour only).
 *
 * An attempt is: GET /key → TS2021 dial → HTTP/2 → /machine/register →
 * streaming /machine/map. Every attempt registers again (with the auth key
 * when we have one, as direct.go does), so a server that lost or expired us
 * is handled by the same path:
 *
 *   Error             → BAD_AUTH_KEY, the client stops
 *   NodeKeyExpired    → a new node key, resent with OldNodeKey; once the
 *                       server accepts it, "node-key-rotated"
 *   AuthURL           → WAIT_AUTH_URL, "auth-url", resent with Followup
 *                       (the server holds that request until approval)
 *   authorized        → MAPPING, then SYNCED at the first netmap
 *   not authorized    → WAIT_MACHINE_AUTH, the map stream all the same: as
 *                       with tailscale's client, the admin's approval
 *                       arrives there (a self Node with MachineAuthorized),
 *                       then SYNCED; no polling register needed
 *
 * Any failure (dial, register, the map stream and its watchdog, a netmap
 * saying our key expired) tears the whole connection down, keeps the last
 * good netmap, sets Health and retries after a jittered exponential backoff
 * (1 s, ×2, capped at 30 s; reset once a stream delivered a netmap).
 *
 * Every asynchronous operation of an attempt carries the attempt's
 * GCancellable; tearing the attempt down cancels it first, so a callback
 * that arrives afterwards (even synchronously, from freeing the HTTP/2
 * client) sees the cancellation and touches nothing. Those callbacks hold no
 * reference on the client, so dropping the last reference ends the session.
 *
 * Private keys (machine, node, the node key being tried, the auth key) live
 * in one secmem block and are never logged.
 *
 * MapResponse.PingRequest is answered on the side (hyphae-ping-answer.c):
 * never blocking the map stream, failures only logged.
 *
 * Error text may come from the server (RegisterResponse.Error, HTTP bodies
 * and reasons): it is escaped (hyphae_log_escape) before it reaches a log,
 * Health, or the GError handed to our caller.
 */
#include "hyphae-control-client.h"

#include <string.h>
#include <sys/utsname.h>

#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "hyphae-h2.h"
#include "hyphae-log-escape.h"
#include "hyphae-map.h"
#include "hyphae-ping-answer.h"
#include "hyphae-register.h"
#include "hyphae-ts2021.h"

#define BACKOFF_FIRST_MS   1000
#define BACKOFF_CAP_MS     30000
#define LOGOUT_EXPIRY_UNIX 123 /* what Go sends: "far in the past" */
#define AUTH_KEY_MAX       1024

/* clang-format off */
G_DEFINE_QUARK (hyphae-control-error-quark, hyphae_control_error)
/* clang-format on */

GType
hyphae_control_state_get_type (void)
{
  static gsize type_id;
  static const GEnumValue values[] = {
    { HYPHAE_CONTROL_STATE_IDLE, "HYPHAE_CONTROL_STATE_IDLE", "idle" },
    { HYPHAE_CONTROL_STATE_REGISTERING, "HYPHAE_CONTROL_STATE_REGISTERING", "registering" },
    { HYPHAE_CONTROL_STATE_WAIT_AUTH_URL, "HYPHAE_CONTROL_STATE_WAIT_AUTH_URL", "wait-auth-url" },
    { HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH, "HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH",
      "wait-machine-auth" },
    { HYPHAE_CONTROL_STATE_MAPPING, "HYPHAE_CONTROL_STATE_MAPPING", "mapping" },
    { HYPHAE_CONTROL_STATE_SYNCED, "HYPHAE_CONTROL_STATE_SYNCED", "synced" },
    { HYPHAE_CONTROL_STATE_BACKOFF, "HYPHAE_CONTROL_STATE_BACKOFF", "backoff" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type_id))
    g_once_init_leave (&type_id, g_enum_register_static ("HyphaeControlState", values));
  return (GType) type_id;
}

/* In locked memory (secmem), wiped on free. */
typedef struct
{
  guint8 machine[KEY_LEN];
  guint8 node[KEY_LEN];
  guint8 trying[KEY_LEN];          /* the new node key while rotating */
  char auth_key[AUTH_KEY_MAX + 1]; /* "" = none */
} Secrets;

struct _HyphaeControlClient {
  GObject parent_instance;

  /* configuration */
  char *control_url;
  char *authority; /* host[:port] for :authority */
  char *hostname;
  char *os;
  char *os_version;
  char *ipn_version;
  char **routable_ips;
  Secrets *secrets;
  guint8 node_pub[KEY_LEN];
  guint8 disco_pub[KEY_LEN];
  guint8 expiry_checked[KEY_LEN]; /* the node key we re-registered for as expired */
  char **endpoints;
  guint *endpoint_types;      /* parallel to endpoints, NULL = all LOCAL */
  HyphaeMapNetInfo *net_info; /* NULL until netcheck reported */
  char *exit_node_id;
  guint backoff_cap_ms;
  guint watchdog_ms;

  /* what others see */
  HyphaeControlState state;
  HyphaeNetmap *netmap;
  GPtrArray *health; /* char *, NULL-terminated */
  char *auth_url;

  /* the session */
  gboolean running;
  gboolean logging_out;
  gboolean rotating;     /* secrets->trying is being registered */
  GCancellable *attempt; /* the current attempt's operations */
  HyphaeH2Client *h2;
  HyphaeMapStream *stream;
  guint dial_timeout_id;
  guint retry_id;
  guint n_failures;
  gboolean lite_in_flight;
  gboolean lite_dirty;
  HyphaePingAnswerer *pinger; /* PingRequest answers, dedup across attempts */
  GTask *start_task;
  GSource *start_cancel_source;
  GTask *logout_task;
};

G_DEFINE_FINAL_TYPE (HyphaeControlClient, hyphae_control_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_NETMAP,
  SIGNAL_AUTH_URL,
  SIGNAL_NODE_KEY_ROTATED,
  SIGNAL_HEALTH_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void attempt_start (HyphaeControlClient *self);
static void attempt_failed (HyphaeControlClient *self, const char *what, const GError *error);
static void send_register (HyphaeControlClient *self);

/* ---- small pieces ------------------------------------------------------------- */

static void
set_state (HyphaeControlClient *self,
           HyphaeControlState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* message NULL: healthy. */
static void
set_health (HyphaeControlClient *self,
            const char *message)
{
  gboolean had = self->health->len > 1;

  if (!message && !had)
    return;
  if (message && had && g_strcmp0 (g_ptr_array_index (self->health, 0), message) == 0)
    return;
  g_ptr_array_set_size (self->health, 0);
  if (message)
    g_ptr_array_add (self->health, g_strdup (message));
  g_ptr_array_add (self->health, NULL);
  g_signal_emit (self, signals[SIGNAL_HEALTH_CHANGED], 0);
}

static void
set_auth_url (HyphaeControlClient *self,
              const char *url)
{
  g_free (self->auth_url);
  self->auth_url = g_strdup (url);
}

/* A pending start or logout ends with error (taken) or TRUE; with none pending, error is dropped. */
static void
return_pending (GTask *task,
                GError *error)
{
  if (!task)
    {
      g_clear_error (&error);
      return;
    }
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
complete_start (HyphaeControlClient *self,
                GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->start_task);

  if (self->start_cancel_source)
    {
      g_source_destroy (self->start_cancel_source);
      g_clear_pointer (&self->start_cancel_source, g_source_unref);
    }
  return_pending (task, error);
}

static void
complete_logout (HyphaeControlClient *self,
                 GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->logout_task);

  self->logging_out = FALSE;
  hyphae_control_client_stop (self);
  return_pending (task, error);
}

/* An operation of the current attempt: stale once the attempt is cancelled. */
typedef struct
{
  HyphaeControlClient *self; /* not a reference: see the top comment */
  GCancellable *cancellable;
} Op;

static Op *
op_new (HyphaeControlClient *self)
{
  Op *op = g_new0 (Op, 1);

  op->self = self;
  op->cancellable = g_object_ref (self->attempt);
  return op;
}

static void
op_free (Op *op)
{
  g_object_unref (op->cancellable);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Op, op_free)

static gboolean
op_stale (Op *op)
{
  return g_cancellable_is_cancelled (op->cancellable);
}

/* Drop the connection, its stream and pending operations; the netmap stays. */
static void
teardown (HyphaeControlClient *self)
{
  /* First, so that callbacks fired by what follows see it. */
  if (self->attempt)
    g_cancellable_cancel (self->attempt);
  g_clear_object (&self->attempt);
  g_clear_handle_id (&self->dial_timeout_id, g_source_remove);
  g_clear_pointer (&self->stream, hyphae_map_stream_free);
  if (self->pinger)
    hyphae_ping_answerer_cancel_all (self->pinger);
  g_clear_pointer (&self->h2, hyphae_h2_client_free);
  self->lite_in_flight = FALSE;
}

static void
forget_auth_key (HyphaeControlClient *self)
{
  sodium_memzero (self->secrets->auth_key, sizeof self->secrets->auth_key);
}

/* ---- the map stream --------------------------------------------------------- */

static void
fill_map_request (HyphaeControlClient *self,
                  HyphaeMapRequest *req)
{
  memset (req, 0, sizeof *req);
  req->capver = HYPHAE_CAPVER;
  memcpy (req->node_key, self->node_pub, KEY_LEN);
  memcpy (req->disco_key, self->disco_pub, KEY_LEN);
  req->endpoints = (const char * const *) self->endpoints;
  req->endpoint_types = self->endpoint_types;
  req->net_info = self->net_info;
  req->stream = TRUE;
  req->keep_alive = TRUE;
  req->compress = TRUE;
  req->hostname = self->hostname;
  req->os = self->os;
  req->os_version = self->os_version;
  req->ipn_version = self->ipn_version;
  req->exit_node_id = self->exit_node_id;
  req->routable_ips = (const char * const *) self->routable_ips;
}

static void send_lite_update (HyphaeControlClient *self);

static void
lite_update_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeControlClient *self = op->self;

  hyphae_map_lite_update_finish (result, &error);
  if (op_stale (op))
    return;
  self->lite_in_flight = FALSE;
  if (error)
    {
      g_autofree char *text = hyphae_log_escape_gerror (error);

      /* The next map request carries the same; resend once synced. */
      g_debug ("lite update: %s", text);
      self->lite_dirty = TRUE;
      return;
    }
  if (self->lite_dirty && self->state == HYPHAE_CONTROL_STATE_SYNCED)
    send_lite_update (self);
}

static void
send_lite_update (HyphaeControlClient *self)
{
  HyphaeMapRequest req;

  if (self->lite_in_flight)
    {
      self->lite_dirty = TRUE;
      return;
    }
  self->lite_dirty = FALSE;
  self->lite_in_flight = TRUE;
  fill_map_request (self, &req);
  hyphae_map_lite_update_async (self->h2, &req, self->attempt, lite_update_cb, op_new (self));
}

static void
map_netmap_cb (HyphaeMapStream *stream,
               HyphaeNetmap *nm,
               gpointer user_data)
{
  HyphaeControlClient *self = user_data;
  G_GNUC_UNUSED g_autoptr(HyphaeControlClient) hold = g_object_ref (self);
  const HyphaeNode *me = hyphae_netmap_get_self (nm);

  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  self->netmap = hyphae_netmap_ref (nm);
  self->n_failures = 0;
  set_health (self, NULL);
  set_state (self, (me && !me->machine_authorized) ? HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH
                                                   : HYPHAE_CONTROL_STATE_SYNCED);
  g_log ("hyphae-map", G_LOG_LEVEL_DEBUG, "netmap %s: %u peers",
         me && !me->machine_authorized ? "received (machine not authorized yet)" : "applied",
         hyphae_netmap_get_n_peers (nm));
  g_signal_emit (self, signals[SIGNAL_NETMAP], 0, nm);
  if (self->stream != stream)
    return; /* a handler stopped or restarted us */

  if (me && me->expired && !key_equal (self->expiry_checked, self->node_pub))
    {
      /* Register again: the server answers NodeKeyExpired and we rotate.
       * Once per key: a server that disagrees (clocks) must not make us loop. */
      memcpy (self->expiry_checked, self->node_pub, KEY_LEN);
      g_autoptr(GError) error = g_error_new_literal (HYPHAE_CONTROL_ERROR,
                                                      HYPHAE_CONTROL_ERROR_NEEDS_LOGIN,
                                                      "the node key has expired");

      attempt_failed (self, NULL, error);
      return;
    }
  if (self->lite_dirty && self->state == HYPHAE_CONTROL_STATE_SYNCED)
    send_lite_update (self);
}

static void
map_end_cb (HyphaeMapStream *stream,
            const GError *error,
            gpointer user_data)
{
  HyphaeControlClient *self = user_data;

  attempt_failed (self, "map stream", error);
}

static void map_ping_cb (HyphaeMapStream *stream,
                         const HyphaeMapPingRequest *ping,
                         gpointer user_data);

static const HyphaeMapStreamCallbacks map_callbacks = {
  .netmap = map_netmap_cb,
  .end = map_end_cb,
  .ping = map_ping_cb,
};

static void
start_map (HyphaeControlClient *self)
{
  HyphaeMapRequest req;

  fill_map_request (self, &req);
  g_log ("hyphae-map", G_LOG_LEVEL_DEBUG, "map stream to %s starting", self->authority);
  /* Not a reference: the stream is freed before the client is. */
  self->stream = hyphae_map_stream_start (self->h2, &req, self->watchdog_ms, &map_callbacks,
                                          self);
}

/* ---- PingRequest ------------------------------------------------------------- */

/* Answered on the side by hyphae-ping-answer.c; teardown cancels them. */
static void
map_ping_cb (HyphaeMapStream *stream,
             const HyphaeMapPingRequest *pr,
             gpointer user_data)
{
  HyphaeControlClient *self = user_data;

  hyphae_ping_answerer_handle (self->pinger, self->h2, pr);
}

/* ---- registration ------------------------------------------------------------ */

static void
secmem_bytes_free (gpointer data)
{
  secmem_free (data, KEY_LEN);
}

/* The server accepted secrets->trying: it is our node key now. */
static void
commit_rotation (HyphaeControlClient *self)
{
  g_autoptr(GBytes) bytes = NULL;
  guint8 *copy = secmem_alloc (KEY_LEN);

  if (!copy)
    g_error ("secmem_alloc: out of locked memory");
  memcpy (self->secrets->node, self->secrets->trying, KEY_LEN);
  sodium_memzero (self->secrets->trying, sizeof self->secrets->trying);
  key_public_from_private (self->node_pub, self->secrets->node);
  self->rotating = FALSE;
  memcpy (copy, self->secrets->node, KEY_LEN);
  bytes = g_bytes_new_with_free_func (copy, KEY_LEN, secmem_bytes_free, copy);
  g_debug ("the node key was rotated");
  g_signal_emit (self, signals[SIGNAL_NODE_KEY_ROTATED], 0, bytes);
}

static void
bad_auth_key (HyphaeControlClient *self,
              const GError *error)
{
  g_autofree char *text = hyphae_log_escape_gerror (error);
  g_autofree char *health = g_strdup_printf ("control: %s", text);

  forget_auth_key (self);
  teardown (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->running = FALSE;
  self->rotating = FALSE;
  set_auth_url (self, NULL);
  complete_start (self, g_error_new_literal (HYPHAE_CONTROL_ERROR,
                                             HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY, text));
  set_health (self, health);
  set_state (self, HYPHAE_CONTROL_STATE_IDLE);
}

static void
register_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeRegisterResponse resp = { 0 };
  HyphaeControlClient *self = op->self;
  gboolean ok = hyphae_register_finish (result, &resp, &error);

  if (op_stale (op))
    {
      hyphae_register_response_clear (&resp);
      return;
    }
  g_clear_handle_id (&self->dial_timeout_id, g_source_remove);
  if (!ok)
    {
      if (g_error_matches (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED))
        {
          g_debug ("register: the server refused the auth key");
          bad_auth_key (self, error);
          return;
        }
      /* A Followup the server does not know (it restarted): start over. */
      if (g_error_matches (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_HTTP))
        set_auth_url (self, NULL);
      attempt_failed (self, NULL, error);
      return;
    }

  if (resp.node_key_expired)
    {
      hyphae_register_response_clear (&resp);
      if (self->rotating)
        {
          g_autoptr(GError) weird = g_error_new_literal (HYPHAE_CONTROL_ERROR,
                                                          HYPHAE_CONTROL_ERROR_PROTOCOL,
                                                          "the server says the new node key "
                                                          "has expired too");

          attempt_failed (self, NULL, weird);
          return;
        }
      g_debug ("the server says our node key has expired: rotating it");
      self->rotating = TRUE;
      key_generate_private (self->secrets->trying);
      send_register (self);
      return;
    }

  if (resp.auth_url)
    {
      gboolean is_new = g_strcmp0 (resp.auth_url, self->auth_url) != 0;

      /* Never the URL itself: whoever opens it logs the machine in. */
      g_debug ("register: interactive login needed (the URL goes to the Up caller)");
      set_auth_url (self, resp.auth_url);
      hyphae_register_response_clear (&resp);
      set_state (self, HYPHAE_CONTROL_STATE_WAIT_AUTH_URL);
      if (is_new)
        g_signal_emit (self, signals[SIGNAL_AUTH_URL], 0, self->auth_url);
      if (op_stale (op))
        return; /* a handler stopped us */
      complete_start (self, NULL);
      /* The Followup: the server answers once the user approved. */
      send_register (self);
      return;
    }

  if (self->rotating)
    commit_rotation (self);
  if (op_stale (op))
    {
      hyphae_register_response_clear (&resp);
      return;
    }
  set_auth_url (self, NULL);
  g_debug ("register: node %s", resp.machine_authorized ? "authorized" : "waiting for machine authorization");
  set_state (self, resp.machine_authorized ? HYPHAE_CONTROL_STATE_MAPPING
                                           : HYPHAE_CONTROL_STATE_WAIT_MACHINE_AUTH);
  hyphae_register_response_clear (&resp);
  complete_start (self, NULL);
  if (op_stale (op))
    return;
  start_map (self);
}

static void
send_register (HyphaeControlClient *self)
{
  HyphaeRegisterRequest req = { 0 };
  guint8 trying_pub[KEY_LEN];

  req.capver = HYPHAE_CAPVER;
  req.hostname = self->hostname;
  if (self->rotating)
    {
      key_public_from_private (trying_pub, self->secrets->trying);
      memcpy (req.node_key, trying_pub, KEY_LEN);
      memcpy (req.old_node_key, self->node_pub, KEY_LEN);
      req.has_old_node_key = TRUE;
    }
  else
    {
      memcpy (req.node_key, self->node_pub, KEY_LEN);
    }
  if (self->secrets->auth_key[0])
    req.auth_key = self->secrets->auth_key;
  req.followup = self->auth_url;
  if (req.followup)
    g_clear_handle_id (&self->dial_timeout_id, g_source_remove);
  hyphae_register_async (self->h2, &req, self->attempt, register_cb, op_new (self));
}

static void
logout_cb (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeRegisterResponse resp = { 0 };
  HyphaeControlClient *self = op->self;
  gboolean ok = hyphae_register_finish (result, &resp, &error);
  g_autofree char *text = NULL;

  hyphae_register_response_clear (&resp);
  if (op_stale (op))
    return;
  if (ok)
    {
      complete_logout (self, NULL);
      return;
    }
  text = hyphae_log_escape_gerror (error);
  complete_logout (self, g_error_new (HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_UNREACHABLE,
                                      "logout: %s", text));
}

static void
send_logout (HyphaeControlClient *self)
{
  HyphaeRegisterRequest req = { 0 };

  req.capver = HYPHAE_CAPVER;
  req.hostname = self->hostname;
  memcpy (req.node_key, self->node_pub, KEY_LEN);
  req.expiry_unix = LOGOUT_EXPIRY_UNIX;
  hyphae_register_async (self->h2, &req, self->attempt, logout_cb, op_new (self));
}

/* ---- attempts, failures, backoff ------------------------------------------- */

static guint
backoff_delay_ms (HyphaeControlClient *self)
{
  guint cap = self->backoff_cap_ms ? self->backoff_cap_ms : BACKOFF_CAP_MS;
  guint shift = MIN (self->n_failures, 16u) - 1;
  guint64 base = MIN ((guint64) BACKOFF_FIRST_MS << shift, (guint64) cap);

  /* 0.5–1.5 × the step, so that many clients do not come back in step. */
  return (guint) MIN (base * g_random_double_range (0.5, 1.5), (double) cap);
}

static gboolean
retry_cb (gpointer user_data)
{
  HyphaeControlClient *self = user_data;

  self->retry_id = 0;
  attempt_start (self);
  return G_SOURCE_REMOVE;
}

/* what: a prefix for Health ("map stream"), or NULL. */
static void
attempt_failed (HyphaeControlClient *self,
                const char *what,
                const GError *error)
{
  g_autofree char *text = hyphae_log_escape_gerror (error);
  g_autofree char *health = NULL;
  guint delay;

  teardown (self);
  if (self->logging_out)
    {
      complete_logout (self, g_error_new (HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_UNREACHABLE,
                                          "logout: %s", text));
      return;
    }
  health = what ? g_strdup_printf ("control: %s: %s", what, text)
                : g_strdup_printf ("control: %s", text);
  self->n_failures++;
  delay = backoff_delay_ms (self);
  g_debug ("%s; failure %u, retrying in %u ms", health, self->n_failures, delay);
  self->retry_id = g_timeout_add (delay, retry_cb, self);
  set_state (self, HYPHAE_CONTROL_STATE_BACKOFF);
  set_health (self, health);
  complete_start (self, g_error_new (HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_UNREACHABLE,
                                     "%s", health + strlen ("control: ")));
}

static void
dial_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeControlClient *self = op->self;
  HyphaeTs2021Conn *conn = hyphae_ts2021_dial_finish (result, &error);

  if (op_stale (op))
    {
      g_clear_pointer (&conn, hyphae_ts2021_conn_free);
      return;
    }
  if (!conn)
    {
      attempt_failed (self, NULL, error);
      return;
    }
  g_debug ("connected to %s (TS2021); %s", self->authority,
           self->logging_out ? "logging out" : "registering");
  self->h2 = hyphae_h2_client_new (conn, self->authority);
  if (self->logging_out)
    send_logout (self);
  else
    send_register (self);
}

static void
fetch_key_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(Op) op = user_data;
  g_autoptr(GError) error = NULL;
  HyphaeControlClient *self = op->self;
  guint8 server_pub[KEY_LEN];
  gboolean ok = hyphae_ts2021_fetch_key_finish (result, server_pub, &error);

  if (op_stale (op))
    return;
  if (!ok)
    {
      attempt_failed (self, NULL, error);
      return;
    }
  hyphae_ts2021_dial_async (self->control_url, HYPHAE_CAPVER, self->secrets->machine, server_pub,
                            self->attempt, dial_cb, g_steal_pointer (&op));
}

/* Connecting (/key, the dial, the first register answer; not a Followup,
 * which waits for a human) is bounded like the stream: a silent server must
 * not hang us. */
static gboolean
dial_timeout_cb (gpointer user_data)
{
  HyphaeControlClient *self = user_data;
  g_autoptr(GError) error = NULL;

  self->dial_timeout_id = 0;
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "connecting to %s timed out", self->control_url);
  attempt_failed (self, NULL, error);
  return G_SOURCE_REMOVE;
}

static void
attempt_start (HyphaeControlClient *self)
{
  teardown (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->attempt = g_cancellable_new ();
  if (!self->logging_out)
    set_state (self, HYPHAE_CONTROL_STATE_REGISTERING);
  g_debug ("dialing %s", self->authority);
  self->dial_timeout_id = g_timeout_add (self->watchdog_ms ? self->watchdog_ms
                                                           : HYPHAE_MAP_WATCHDOG_MS,
                                         dial_timeout_cb, self);
  hyphae_ts2021_fetch_key_async (self->control_url, HYPHAE_CAPVER, self->attempt, fetch_key_cb,
                                 op_new (self));
}

/* ---- GObject ------------------------------------------------------------------- */

static void
hyphae_control_client_dispose (GObject *object)
{
  HyphaeControlClient *self = HYPHAE_CONTROL_CLIENT (object);

  teardown (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  G_OBJECT_CLASS (hyphae_control_client_parent_class)->dispose (object);
}

static void
hyphae_control_client_finalize (GObject *object)
{
  HyphaeControlClient *self = HYPHAE_CONTROL_CLIENT (object);

  g_assert (self->start_task == NULL && self->logout_task == NULL);
  secmem_free (self->secrets, sizeof *self->secrets);
  g_free (self->control_url);
  g_free (self->authority);
  g_free (self->hostname);
  g_free (self->os);
  g_free (self->os_version);
  g_free (self->ipn_version);
  g_strfreev (self->routable_ips);
  g_strfreev (self->endpoints);
  g_free (self->endpoint_types);
  g_free (self->net_info);
  g_free (self->exit_node_id);
  g_clear_pointer (&self->netmap, hyphae_netmap_unref);
  g_ptr_array_unref (self->health);
  g_free (self->auth_url);
  g_clear_pointer (&self->pinger, hyphae_ping_answerer_free);
  G_OBJECT_CLASS (hyphae_control_client_parent_class)->finalize (object);
}

static void
hyphae_control_client_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  HyphaeControlClient *self = HYPHAE_CONTROL_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_control_client_class_init (HyphaeControlClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_control_client_dispose;
  object_class->finalize = hyphae_control_client_finalize;
  object_class->get_property = hyphae_control_client_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, HYPHAE_TYPE_CONTROL_STATE,
                       HYPHAE_CONTROL_STATE_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_NETMAP] =
    g_signal_new ("netmap", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_AUTH_URL] =
    g_signal_new ("auth-url", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_NODE_KEY_ROTATED] =
    g_signal_new ("node-key-rotated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  signals[SIGNAL_HEALTH_CHANGED] =
    g_signal_new ("health-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
hyphae_control_client_init (HyphaeControlClient *self)
{
  self->health = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->health, NULL);
  self->state = HYPHAE_CONTROL_STATE_IDLE;
}

/* host[:port] of an http(s) URL, IPv6 literals in brackets; NULL if not one. */
static char *
url_authority (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *host;
  g_autofree char *bracketed = NULL;

  if (!uri || !g_uri_get_scheme (uri) ||
      (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0 &&
       g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0))
    return NULL;
  host = g_uri_get_host (uri);
  if (!host || !host[0])
    return NULL;
  if (strchr (host, ':'))
    host = bracketed = g_strdup_printf ("[%s]", host);
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d", host, g_uri_get_port (uri));
  return g_strdup (host);
}

/* ---- public API ------------------------------------------------------------------ */

HyphaeControlClient *
hyphae_control_client_new (const HyphaeControlConfig *config)
{
  HyphaeControlClient *self;
  struct utsname uts;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->control_url != NULL, NULL);
  g_return_val_if_fail (!key_is_zero (config->machine_priv), NULL);
  g_return_val_if_fail (!key_is_zero (config->node_priv), NULL);

  self = g_object_new (HYPHAE_TYPE_CONTROL_CLIENT, NULL);
  self->control_url = g_strdup (config->control_url);
  self->pinger = hyphae_ping_answerer_new (config->control_url);
  /* A URL that is no URL fails at the first dial, with the dial's error. */
  self->authority = url_authority (config->control_url);
  if (!self->authority)
    self->authority = g_strdup ("invalid");
  self->hostname = g_strdup (config->hostname);
  self->os = g_strdup (config->os ? config->os : "linux");
  self->ipn_version = g_strdup (config->ipn_version);
  self->routable_ips = g_strdupv ((char **) config->routable_ips);
  if (uname (&uts) == 0)
    self->os_version = g_strdup (uts.release);
  memcpy (self->disco_pub, config->disco_pub, KEY_LEN);

  /* secmem_alloc is sodium_malloc, which needs sodium_init (idempotent). */
  if (sodium_init () < 0)
    g_error ("sodium_init failed");
  self->secrets = secmem_alloc (sizeof *self->secrets);
  if (!self->secrets)
    g_error ("secmem_alloc: out of locked memory");
  memcpy (self->secrets->machine, config->machine_priv, KEY_LEN);
  memcpy (self->secrets->node, config->node_priv, KEY_LEN);
  key_public_from_private (self->node_pub, self->secrets->node);
  return self;
}

static gboolean
start_cancelled_cb (gpointer user_data)
{
  HyphaeControlClient *self = g_task_get_source_object (G_TASK (user_data));

  /* The caller gave up waiting: the session stops too. */
  hyphae_control_client_stop (self);
  return G_SOURCE_REMOVE;
}

void
hyphae_control_client_start_async (HyphaeControlClient *self,
                                   const char *auth_key,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_control_client_start_async);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (auth_key && strlen (auth_key) > AUTH_KEY_MAX)
    {
      g_task_return_new_error (task, HYPHAE_CONTROL_ERROR, HYPHAE_CONTROL_ERROR_BAD_AUTH_KEY,
                               "the auth key is longer than %d bytes", AUTH_KEY_MAX);
      return;
    }

  /* A new start replaces whatever ran before. */
  hyphae_control_client_stop (self);
  if (auth_key)
    g_strlcpy (self->secrets->auth_key, auth_key, sizeof self->secrets->auth_key);
  self->start_task = g_steal_pointer (&task);
  if (cancellable)
    {
      self->start_cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (self->start_task, self->start_cancel_source, start_cancelled_cb);
    }
  self->running = TRUE;
  self->n_failures = 0;
  attempt_start (self);
}

gboolean
hyphae_control_client_start_finish (HyphaeControlClient *self,
                                    GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          hyphae_control_client_start_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hyphae_control_client_stop (HyphaeControlClient *self)
{
  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));

  teardown (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->running = FALSE;
  self->rotating = FALSE;
  sodium_memzero (self->secrets->trying, sizeof self->secrets->trying);
  set_auth_url (self, NULL);
  complete_start (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "the control client was stopped"));
  if (self->logout_task)
    complete_logout (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                "the control client was stopped"));
  set_health (self, NULL);
  set_state (self, HYPHAE_CONTROL_STATE_IDLE);
}

void
hyphae_control_client_logout_async (HyphaeControlClient *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_control_client_logout_async);
  if (self->logout_task)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "a logout is under way");
      return;
    }
  hyphae_control_client_stop (self);
  forget_auth_key (self);
  self->logout_task = g_steal_pointer (&task);
  self->logging_out = TRUE;
  attempt_start (self);
}

gboolean
hyphae_control_client_logout_finish (HyphaeControlClient *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          hyphae_control_client_logout_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
hyphae_control_client_set_endpoints (HyphaeControlClient *self,
                                     const char * const *endpoints)
{
  hyphae_control_client_set_endpoints_typed (self, endpoints, NULL);
}

static gboolean
types_equal (const guint *a,
             const guint *b,
             guint n)
{
  for (guint i = 0; i < n; i++)
    if ((a ? a[i] : HYPHAE_ENDPOINT_LOCAL) != (b ? b[i] : HYPHAE_ENDPOINT_LOCAL))
      return FALSE;
  return TRUE;
}

void
hyphae_control_client_set_endpoints_typed (HyphaeControlClient *self,
                                           const char * const *endpoints,
                                           const guint *types)
{
  guint n = endpoints ? g_strv_length ((char **) endpoints) : 0;

  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));

  if (self->endpoints && endpoints && g_strv_equal ((const char * const *) self->endpoints, endpoints) &&
      types_equal (self->endpoint_types, types, n))
    return;
  g_strfreev (self->endpoints);
  g_clear_pointer (&self->endpoint_types, g_free);
  self->endpoints = g_strdupv ((char **) endpoints);
  if (types != NULL && n > 0)
    self->endpoint_types = g_memdup2 (types, n * sizeof *types);
  self->lite_dirty = TRUE;
  if (self->state == HYPHAE_CONTROL_STATE_SYNCED && self->h2)
    send_lite_update (self);
}

void
hyphae_control_client_set_net_info (HyphaeControlClient *self,
                                    const HyphaeMapNetInfo *net_info)
{
  gboolean changed;

  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));
  g_return_if_fail (net_info != NULL);

  changed = self->net_info == NULL ||
            !hyphae_map_net_info_basically_equal (self->net_info, net_info);
  if (self->net_info == NULL)
    self->net_info = g_new0 (HyphaeMapNetInfo, 1);
  *self->net_info = *net_info;
  if (!changed)
    return;
  self->lite_dirty = TRUE;
  if (self->state == HYPHAE_CONTROL_STATE_SYNCED && self->h2)
    send_lite_update (self);
}

void
hyphae_control_client_set_exit_node_id (HyphaeControlClient *self,
                                        const char *stable_id)
{
  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));

  if (stable_id && !stable_id[0])
    stable_id = NULL;
  if (g_strcmp0 (self->exit_node_id, stable_id) == 0)
    return;
  g_free (self->exit_node_id);
  self->exit_node_id = g_strdup (stable_id);
  self->lite_dirty = TRUE;
  if (self->state == HYPHAE_CONTROL_STATE_SYNCED && self->h2)
    send_lite_update (self);
}

void
hyphae_control_client_set_routable_ips (HyphaeControlClient *self,
                                        const char * const *routable_ips)
{
  static const char * const none[] = { NULL };

  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));

  if (routable_ips != NULL && routable_ips[0] == NULL)
    routable_ips = NULL;
  if (g_strv_equal (self->routable_ips ? (const char * const *) self->routable_ips : none,
                    routable_ips ? routable_ips : none))
    return;
  g_strfreev (self->routable_ips);
  self->routable_ips = g_strdupv ((char **) routable_ips);
  self->lite_dirty = TRUE;
  if (self->state == HYPHAE_CONTROL_STATE_SYNCED && self->h2)
    send_lite_update (self);
}

HyphaeControlState
hyphae_control_client_get_state (HyphaeControlClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CONTROL_CLIENT (self), HYPHAE_CONTROL_STATE_IDLE);
  return self->state;
}

HyphaeNetmap *
hyphae_control_client_get_netmap (HyphaeControlClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CONTROL_CLIENT (self), NULL);
  return self->netmap;
}

const char * const *
hyphae_control_client_get_health (HyphaeControlClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CONTROL_CLIENT (self), NULL);
  return (const char * const *) self->health->pdata;
}

const char *
hyphae_control_client_get_auth_url (HyphaeControlClient *self)
{
  g_return_val_if_fail (HYPHAE_IS_CONTROL_CLIENT (self), NULL);
  return self->state == HYPHAE_CONTROL_STATE_WAIT_AUTH_URL ? self->auth_url : NULL;
}

void
hyphae_control_client_set_timeouts_for_testing (HyphaeControlClient *self,
                                                guint backoff_cap_ms,
                                                guint watchdog_ms)
{
  g_return_if_fail (HYPHAE_IS_CONTROL_CLIENT (self));
  self->backoff_cap_ms = backoff_cap_ms;
  self->watchdog_ms = watchdog_ms;
}
