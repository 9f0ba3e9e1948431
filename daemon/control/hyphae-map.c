/* SPDX-License-Identifier: MIT */
/*
 * The map long-poll (control/controlclient/direct.go): MapRequest JSON, one streaming
 * POST /machine/map turned into netmap snapshots, and lite updates.
 *
 * The request uses Go's field names (tailcfg.MapRequest, tailcfg.Hostinfo).
 * As Go marshals them, keys are always in text form (a zero DiscoKey is
 * "discokey:" + 64 zeros), Endpoints and EndpointTypes are parallel arrays,
 * and Compress is omitted unless "zstd" (omitempty in tailcfg).
 *
 * The stream: HTTP/2 body chunks go to mapframe (length prefix, zstd, caps),
 * every whole message to hyphae_map_update_parse, and every non-keep-alive
 * update to hyphae_netmap_apply on top of this stream's current snapshot.
 * The first error of any layer ends the stream; the snapshots handed out
 * before stay valid (they are immutable). The watchdog is reset by every
 * byte that arrives, as the server's keep-alives exist to do that.
 */
#include "hyphae-map.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "crypto/keys.h"
#include "hyphae-json-builder.h"
#include "hyphae-log-escape.h"
#include "ts2021/mapframe.h"

#define MAP_PATH       "/machine/map"
#define ERROR_BODY_MAX 256 /* how much of a non-200 body we quote */

/* clang-format off */
G_DEFINE_QUARK (hyphae-map-error-quark, hyphae_map_error)
/* clang-format on */

/* ---- the request ------------------------------------------------------------ */

static void
add_key (JsonBuilder *builder,
         const char *name,
         const char *prefix,
         const guint8 key[KEY_LEN])
{
  char text[sizeof KEY_PREFIX_DISCO + KEY_HEX_LEN];
  int n = key_to_text (text, sizeof text, prefix, key);

  g_assert (n > 0);
  hyphae_json_add_string (builder, name, text);
}

gboolean
hyphae_map_net_info_basically_equal (const HyphaeMapNetInfo *a,
                                     const HyphaeMapNetInfo *b)
{
  return a->preferred_derp == b->preferred_derp && a->working_udp == b->working_udp &&
         a->working_ipv6 == b->working_ipv6 &&
         a->mapping_varies_by_dest_ip == b->mapping_varies_by_dest_ip;
}

static void
add_opt_bool (JsonBuilder *builder,
              const char *name,
              HyphaeOptBool value)
{
  if (value != HYPHAE_OPT_BOOL_UNSET)
    hyphae_json_add_bool (builder, name, value == HYPHAE_OPT_BOOL_TRUE);
}

/* tailcfg.NetInfo: omitzero fields are left out when unset. Without a
 * measurement yet, PreferredDERP 0 says "no home" (what we sent before DERP). */
static void
add_net_info (JsonBuilder *builder,
              const HyphaeMapNetInfo *ni)
{
  json_builder_set_member_name (builder, "NetInfo");
  json_builder_begin_object (builder);
  if (ni != NULL)
    {
      add_opt_bool (builder, "MappingVariesByDestIP", ni->mapping_varies_by_dest_ip);
      add_opt_bool (builder, "WorkingIPv6", ni->working_ipv6);
      add_opt_bool (builder, "WorkingUDP", ni->working_udp);
    }
  json_builder_set_member_name (builder, "PreferredDERP");
  json_builder_add_int_value (builder, ni != NULL ? ni->preferred_derp : 0);
  if (ni != NULL && ni->n_derp_latency > 0)
    {
      json_builder_set_member_name (builder, "DERPLatency");
      json_builder_begin_object (builder);
      for (guint i = 0; i < ni->n_derp_latency && i < HYPHAE_NET_INFO_MAX_LATENCY; i++)
        {
          char key[32];

          g_snprintf (key, sizeof key, "%d-%s", ni->derp_latency[i].region_id,
                      ni->derp_latency[i].ipv6 ? "v6" : "v4");
          json_builder_set_member_name (builder, key);
          json_builder_add_double_value (builder, ni->derp_latency[i].seconds);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);
}

static void
add_hostinfo (JsonBuilder *builder,
              const HyphaeMapRequest *req)
{
  json_builder_set_member_name (builder, "Hostinfo");
  json_builder_begin_object (builder);
  if (req->hostname)
    hyphae_json_add_string (builder, "Hostname", req->hostname);
  hyphae_json_add_string (builder, "OS", req->os ? req->os : "linux");
  if (req->os_version)
    hyphae_json_add_string (builder, "OSVersion", req->os_version);
  if (req->ipn_version)
    hyphae_json_add_string (builder, "IPNVersion", req->ipn_version);
  if (req->exit_node_id && req->exit_node_id[0])
    hyphae_json_add_string (builder, "ExitNodeID", req->exit_node_id);
  if (req->routable_ips)
    {
      json_builder_set_member_name (builder, "RoutableIPs");
      json_builder_begin_array (builder);
      for (const char * const *p = req->routable_ips; *p; p++)
        json_builder_add_string_value (builder, *p);
      json_builder_end_array (builder);
    }
  add_net_info (builder, req->net_info);
  json_builder_end_object (builder);
}

char *
hyphae_map_request_to_json (const HyphaeMapRequest *req)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  gsize n_endpoints = 0;

  g_return_val_if_fail (req != NULL, NULL);

  if (req->endpoints)
    n_endpoints = g_strv_length ((char **) req->endpoints);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "Version");
  json_builder_add_int_value (builder, req->capver);
  if (req->compress)
    hyphae_json_add_string (builder, "Compress", "zstd");
  hyphae_json_add_bool (builder, "KeepAlive", req->keep_alive);
  add_key (builder, "NodeKey", KEY_PREFIX_NODE, req->node_key);
  add_key (builder, "DiscoKey", KEY_PREFIX_DISCO, req->disco_key);

  json_builder_set_member_name (builder, "Endpoints");
  json_builder_begin_array (builder);
  for (gsize i = 0; i < n_endpoints; i++)
    json_builder_add_string_value (builder, req->endpoints[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "EndpointTypes");
  json_builder_begin_array (builder);
  for (gsize i = 0; i < n_endpoints; i++)
    json_builder_add_int_value (builder, req->endpoint_types ? req->endpoint_types[i]
                                                             : HYPHAE_ENDPOINT_LOCAL);
  json_builder_end_array (builder);

  hyphae_json_add_bool (builder, "Stream", req->stream);
  hyphae_json_add_bool (builder, "OmitPeers", req->omit_peers);
  add_hostinfo (builder, req);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static GBytes *
request_body (const HyphaeMapRequest *req)
{
  char *json = hyphae_map_request_to_json (req);

  return g_bytes_new_take (json, strlen (json));
}

/* A short, printable excerpt of a non-200 body. */
static char *
quote_body (const guint8 *data,
            gsize len)
{
  GString *quoted = g_string_new (NULL);

  while (len > 0 && g_ascii_isspace (data[len - 1]))
    len--;
  for (gsize i = 0; i < len && i < ERROR_BODY_MAX; i++)
    g_string_append_c (quoted, (data[i] >= 0x20 && data[i] < 0x7f) ? (char) data[i] : '?');
  return g_string_free (quoted, FALSE);
}

/* ---- lite update ------------------------------------------------------------- */

static void
lite_update_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status = 0;

  body = hyphae_h2_client_request_finish (g_task_get_task_data (task), result, &status, &error);
  if (!body)
    {
      g_prefix_error (&error, "POST " MAP_PATH " (lite update): ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (status != 200)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (body, &len);
      g_autofree char *quoted = quote_body (data, len);

      g_task_return_new_error (task, HYPHAE_MAP_ERROR, HYPHAE_MAP_ERROR_HTTP,
                               "POST " MAP_PATH " (lite update): HTTP %u%s%s", status,
                               quoted[0] ? ": " : "", quoted);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
hyphae_map_lite_update_async (HyphaeH2Client *client,
                              const HyphaeMapRequest *req,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) body = NULL;
  HyphaeMapRequest lite;

  g_return_if_fail (client != NULL);
  g_return_if_fail (req != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_map_lite_update_async);
  /* Not owned: only handed back to request_finish. */
  g_task_set_task_data (task, client, NULL);

  lite = *req;
  lite.stream = FALSE;
  lite.omit_peers = TRUE;
  body = request_body (&lite);
  hyphae_h2_client_request_async (client, "POST", MAP_PATH, "application/json", body,
                                  cancellable, lite_update_cb, g_steal_pointer (&task));
}

gboolean
hyphae_map_lite_update_finish (GAsyncResult *result,
                               GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          hyphae_map_lite_update_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the stream ---------------------------------------------------------------- */

struct _HyphaeMapStream {
  gint ref_count;
  HyphaeMapStreamCallbacks callbacks;
  gpointer user_data;
  HyphaeH2Stream *h2; /* NULL once it ended or was cancelled */
  struct mapframe_reader *reader;
  HyphaeNetmap *netmap; /* this stream's current snapshot */
  guint status;
  GByteArray *error_body; /* a non-200 answer's first bytes */
  GSource *watchdog;
  guint watchdog_ms;
  GMainContext *context;
  guint n_messages;
  gboolean done; /* end delivered or freed: no more callbacks */
};

static HyphaeMapStream *
stream_ref (HyphaeMapStream *stream)
{
  g_atomic_int_inc (&stream->ref_count);
  return stream;
}

static void
stream_unref (HyphaeMapStream *stream)
{
  if (!g_atomic_int_dec_and_test (&stream->ref_count))
    return;
  g_assert (stream->h2 == NULL && stream->watchdog == NULL);
  mapframe_reader_free (stream->reader);
  g_clear_pointer (&stream->netmap, hyphae_netmap_unref);
  g_clear_pointer (&stream->error_body, g_byte_array_unref);
  g_clear_pointer (&stream->context, g_main_context_unref);
  g_free (stream);
}

typedef HyphaeMapStream HyphaeMapStreamRef;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeMapStreamRef, stream_unref)

static void
watchdog_stop (HyphaeMapStream *stream)
{
  if (stream->watchdog)
    {
      g_source_destroy (stream->watchdog);
      g_clear_pointer (&stream->watchdog, g_source_unref);
    }
}

/* Stop the I/O and timer; no callback after this. */
static void
stream_stop (HyphaeMapStream *stream)
{
  stream->done = TRUE;
  watchdog_stop (stream);
  if (stream->h2)
    hyphae_h2_stream_cancel (g_steal_pointer (&stream->h2));
}

/* End with error (taken); the end callback runs once. */
static void
stream_finish (HyphaeMapStream *stream,
               GError *error)
{
  G_GNUC_UNUSED g_autoptr(HyphaeMapStreamRef) self = stream_ref (stream);
  G_GNUC_UNUSED g_autoptr(GError) owned = error;
  g_autofree char *text = NULL;

  if (stream->done)
    return;
  stream_stop (stream);
  text = hyphae_log_escape_gerror (error);
  g_log ("hyphae-map", G_LOG_LEVEL_DEBUG, "map stream ended after %u messages: %s",
         stream->n_messages, text);
  if (stream->callbacks.end)
    stream->callbacks.end (stream, error, stream->user_data);
}

static gboolean
watchdog_cb (gpointer user_data)
{
  HyphaeMapStream *stream = user_data;

  g_clear_pointer (&stream->watchdog, g_source_unref);
  stream_finish (stream, g_error_new (HYPHAE_MAP_ERROR, HYPHAE_MAP_ERROR_TIMEOUT,
                                      "no data from the control server for %u ms",
                                      stream->watchdog_ms));
  return G_SOURCE_REMOVE;
}

static void
watchdog_reset (HyphaeMapStream *stream)
{
  watchdog_stop (stream);
  stream->watchdog = g_timeout_source_new (stream->watchdog_ms);
  /* The source is destroyed before the last reference goes. */
  g_source_set_callback (stream->watchdog, watchdog_cb, stream, NULL);
  g_source_attach (stream->watchdog, stream->context);
}

/* One decoded message; FALSE when the stream ended (or was freed). */
static gboolean
handle_message (HyphaeMapStream *stream,
                const guint8 *msg,
                gsize len)
{
  g_autoptr(HyphaeMapUpdate) update = NULL;
  g_autoptr(HyphaeNetmap) next = NULL;
  GError *error = NULL;

  stream->n_messages++;
  update = hyphae_map_update_parse ((const char *) msg, len, &error);
  if (!update)
    {
      g_prefix_error (&error, "map message %u: ", stream->n_messages);
      stream_finish (stream, error);
      return FALSE;
    }
  if (stream->callbacks.ping && hyphae_map_update_get_ping_request (update))
    {
      stream->callbacks.ping (stream, hyphae_map_update_get_ping_request (update),
                              stream->user_data);
      if (stream->done)
        return FALSE;
    }
  if (hyphae_map_update_is_keepalive (update))
    return TRUE;
  next = hyphae_netmap_apply (stream->netmap, update, g_get_real_time () / G_USEC_PER_SEC,
                              &error);
  if (!next)
    {
      g_prefix_error (&error, "map message %u: ", stream->n_messages);
      stream_finish (stream, error);
      return FALSE;
    }
  g_clear_pointer (&stream->netmap, hyphae_netmap_unref);
  stream->netmap = hyphae_netmap_ref (next);
  if (stream->callbacks.netmap)
    stream->callbacks.netmap (stream, next, stream->user_data);
  return !stream->done;
}

static void
h2_response_cb (HyphaeH2Stream *h2,
                guint status,
                gpointer user_data)
{
  HyphaeMapStream *stream = user_data;

  stream->status = status;
  if (status != 200)
    stream->error_body = g_byte_array_new ();
  watchdog_reset (stream);
}

static void
h2_data_cb (HyphaeH2Stream *h2,
            const guint8 *data,
            gsize len,
            gpointer user_data)
{
  g_autoptr(HyphaeMapStreamRef) stream = stream_ref (user_data);

  if (stream->done)
    return;
  watchdog_reset (stream);
  if (stream->error_body)
    {
      gsize room = ERROR_BODY_MAX - MIN (ERROR_BODY_MAX, stream->error_body->len);

      g_byte_array_append (stream->error_body, data, (guint) MIN (room, len));
      return;
    }
  if (stream->callbacks.activity)
    {
      stream->callbacks.activity (stream, stream->user_data);
      if (stream->done)
        return;
    }
  while (len > 0)
    {
      const uint8_t *msg = NULL;
      size_t msg_len = 0;
      int n = mapframe_read (stream->reader, data, len, &msg, &msg_len);

      if (n < 0)
        {
          stream_finish (stream, g_error_new (HYPHAE_MAP_ERROR, HYPHAE_MAP_ERROR_FRAMING,
                                              "map stream framing: %s",
                                              n == -EMSGSIZE  ? "message over the size cap"
                                              : n == -EBADMSG ? "corrupt or truncated zstd"
                                                              : g_strerror (-n)));
          return;
        }
      data += n;
      len -= (gsize) n;
      if (msg && !handle_message (stream, msg, msg_len))
        return;
      if (n == 0 && !msg)
        break; /* cannot happen: mapframe consumes or completes */
    }
}

static void
h2_end_cb (HyphaeH2Stream *h2,
           const GError *error,
           gpointer user_data)
{
  HyphaeMapStream *stream = user_data;

  stream->h2 = NULL; /* invalid once this returns */
  if (stream->done)
    return;
  if (error)
    stream_finish (stream, g_error_copy (error));
  else if (stream->status != 200)
    {
      g_autofree char *quoted = quote_body (stream->error_body->data, stream->error_body->len);

      stream_finish (stream, g_error_new (HYPHAE_MAP_ERROR, HYPHAE_MAP_ERROR_HTTP,
                                          "POST " MAP_PATH ": HTTP %u%s%s", stream->status,
                                          quoted[0] ? ": " : "", quoted));
    }
  else
    stream_finish (stream, g_error_new (HYPHAE_MAP_ERROR, HYPHAE_MAP_ERROR_ENDED,
                                        "the control server ended the map stream after "
                                        "%u messages",
                                        stream->n_messages));
}

HyphaeMapStream *
hyphae_map_stream_start (HyphaeH2Client *client,
                         const HyphaeMapRequest *req,
                         guint watchdog_ms,
                         const HyphaeMapStreamCallbacks *callbacks,
                         gpointer user_data)
{
  static const HyphaeH2StreamCallbacks h2_callbacks = {
    .response = h2_response_cb,
    .data = h2_data_cb,
    .end = h2_end_cb,
  };
  g_autoptr(GBytes) body = NULL;
  HyphaeMapStream *stream;

  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (callbacks != NULL, NULL);

  stream = g_new0 (HyphaeMapStream, 1);
  stream->ref_count = 1; /* the caller's */
  stream->callbacks = *callbacks;
  stream->user_data = user_data;
  stream->watchdog_ms = watchdog_ms ? watchdog_ms : HYPHAE_MAP_WATCHDOG_MS;
  stream->context = g_main_context_ref_thread_default ();
  stream->reader = mapframe_reader_new (req->compress);
  if (!stream->reader)
    g_error ("mapframe_reader_new: out of memory");

  body = request_body (req);
  /* The watchdog covers the wait for the response too (as direct.go's). */
  watchdog_reset (stream);
  stream->h2 = hyphae_h2_client_stream (client, "POST", MAP_PATH, "application/json", body,
                                        &h2_callbacks, stream_ref (stream),
                                        (GDestroyNotify) stream_unref);
  return stream;
}

void
hyphae_map_stream_free (HyphaeMapStream *stream)
{
  if (stream == NULL)
    return;
  stream_stop (stream);
  stream_unref (stream);
}

HyphaeNetmap *
hyphae_map_stream_get_netmap (HyphaeMapStream *stream)
{
  g_return_val_if_fail (stream != NULL, NULL);
  return stream->netmap;
}

guint
hyphae_map_stream_get_n_messages (HyphaeMapStream *stream)
{
  g_return_val_if_fail (stream != NULL, 0);
  return stream->n_messages;
}
