/* SPDX-License-Identifier: MIT */
/* One forwarded MagicDNS query (hyphae-dns-forward.h says whose rules). */
#include "hyphae-dns-forward.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns-msg.h"

#define DOH_TYPE "application/dns-message"

/* ---- the query ----------------------------------------------------------------- */

typedef struct {
  GBytes *query;
  guint16 txid;
  GPtrArray *resolvers; /* a reference: attempts point into it */
  SoupSession *session;
  GCancellable *own;    /* cancels every attempt: done, timed out, or the caller's cancelled */
  GCancellable *caller; /* may be NULL */
  gulong caller_handler;
  guint timeout_id;
  guint running; /* attempts not finished */
  gboolean done;
  gboolean timed_out;
  gboolean any_not_refused;
  guint8 rcode; /* when it failed */
  GError *first_error;
} Forward;

static void
forward_free (gpointer p)
{
  Forward *f = p;

  if (f->caller != NULL)
    {
      g_cancellable_disconnect (f->caller, f->caller_handler);
      g_object_unref (f->caller);
    }
  g_clear_handle_id (&f->timeout_id, g_source_remove);
  g_cancellable_cancel (f->own);
  g_object_unref (f->own);
  g_clear_object (&f->session);
  g_bytes_unref (f->query);
  g_ptr_array_unref (f->resolvers);
  g_clear_error (&f->first_error);
  g_free (f);
}

static void
forward_succeed (GTask *task,
                 GBytes *answer)
{
  Forward *f = g_task_get_task_data (task);

  if (f->done)
    return;
  f->done = TRUE;
  g_clear_handle_id (&f->timeout_id, g_source_remove);
  g_cancellable_cancel (f->own); /* the other attempts stop */
  g_task_return_pointer (task, g_bytes_ref (answer), (GDestroyNotify) g_bytes_unref);
}

/* One attempt (a resolver) ended without a usable answer. */
static void
forward_attempt_failed (GTask *task,
                        gboolean refused,
                        GError *error)
{
  Forward *f = g_task_get_task_data (task);

  g_assert (f->running > 0);
  f->running--;
  if (!refused)
    f->any_not_refused = TRUE;
  if (f->first_error == NULL)
    f->first_error = error;
  else
    g_error_free (error);
  if (f->done || f->running > 0)
    return;
  f->done = TRUE;
  g_clear_handle_id (&f->timeout_id, g_source_remove);
  f->rcode = f->any_not_refused || f->timed_out ? DNS_RCODE_SERVFAIL : DNS_RCODE_REFUSED;
  if (f->timed_out)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer in time");
  else
    g_task_return_error (task, g_error_copy (f->first_error));
}

static gboolean
timeout_cb (gpointer user_data)
{
  Forward *f = g_task_get_task_data (user_data);

  f->timeout_id = 0;
  f->timed_out = TRUE;
  g_cancellable_cancel (f->own);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller,
                     gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

/* An upstream's answer to our query: 0 (use it), 1 (not ours: ignore),
 * -1 (a failure: SERVFAIL), -2 (REFUSED). */
static int
answer_check (const Forward *f,
              const guint8 *msg,
              gsize len,
              gboolean check_id)
{
  guint16 flags;

  if (len < DNS_HEADER_LEN)
    return 1;
  flags = (guint16) (msg[2] << 8 | msg[3]);
  if (!(flags & DNS_FLAG_QR) || (check_id && (msg[0] << 8 | msg[1]) != f->txid))
    return 1;
  switch (flags & 0xf)
    {
    case DNS_RCODE_SERVFAIL:
      return -1;
    case DNS_RCODE_REFUSED:
      return -2;
    default:
      return 0;
    }
}

/* ---- UDP, then TCP -------------------------------------------------------------- */

/* One plain DNS resolver: UDP first, TCP on truncation, on a UDP error, or
 * beside UDP after the race delay. Freed once both sides are over (a side
 * never started is over); the forward hears of it once (reported). */
typedef struct {
  GTask *task;
  HyphaeDnsResolver *resolver;
  GSocketAddress *addr;
  GSocket *udp;
  GSource *udp_source;
  guint race_id;
  gboolean udp_over;
  gboolean tcp_started;
  gboolean tcp_over;
  gboolean reported;
  gboolean refused;
  GError *error; /* the first failure */
  /* TCP */
  GSocketConnection *conn;
  guint8 len_buf[2];
  guint8 *tcp_buf; /* the framed query, then the answer */
  gsize tcp_len;
} Dns53;

static void tcp_start (Dns53 *a);

static void
dns53_fail (Dns53 *a,
            gboolean refused,
            GError *error)
{
  a->refused = refused;
  if (a->error == NULL)
    a->error = error;
  else
    g_error_free (error);
}

static void
dns53_report_success (Dns53 *a,
                      const guint8 *msg,
                      gsize len)
{
  g_autoptr(GBytes) answer = g_bytes_new (msg, len);
  Forward *f = g_task_get_task_data (a->task);

  if (a->reported)
    return;
  a->reported = TRUE;
  g_assert (f->running > 0);
  f->running--;
  forward_succeed (a->task, answer); /* cancels f->own: a side still running ends soon */
}

/* Both sides over: report a failure unless an answer was, and free. */
static void
dns53_maybe_finish (Dns53 *a)
{
  if (!a->udp_over || (a->tcp_started && !a->tcp_over))
    return;
  if (!a->reported)
    {
      a->reported = TRUE;
      forward_attempt_failed (a->task, a->refused,
                              a->error != NULL ? g_steal_pointer (&a->error)
                                               : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no answer",
                                                              a->resolver->addr));
    }
  g_clear_handle_id (&a->race_id, g_source_remove);
  g_clear_object (&a->udp);
  g_clear_object (&a->conn);
  g_clear_object (&a->addr);
  g_clear_error (&a->error);
  g_free (a->tcp_buf);
  g_object_unref (a->task);
  g_free (a);
}

static void
udp_stop (Dns53 *a)
{
  a->udp_over = TRUE;
  if (a->udp_source != NULL)
    {
      g_source_destroy (a->udp_source);
      g_clear_pointer (&a->udp_source, g_source_unref);
    }
  g_clear_handle_id (&a->race_id, g_source_remove);
}

static gboolean
udp_readable_cb (GSocket *socket,
                 GIOCondition condition,
                 gpointer user_data)
{
  Dns53 *a = user_data;
  Forward *f = g_task_get_task_data (a->task);
  g_autoptr(GError) error = NULL;
  guint8 buf[HYPHAE_DNS_FORWARD_ANSWER_MAX];
  gssize n;
  int verdict;

  if (g_cancellable_is_cancelled (f->own))
    {
      udp_stop (a);
      dns53_fail (a, FALSE, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled", a->resolver->addr));
      dns53_maybe_finish (a);
      return G_SOURCE_REMOVE;
    }
  n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n < 0)
    {
      /* ICMP unreachable and the like: TCP may still work. */
      g_prefix_error (&error, "%s over UDP: ", a->resolver->addr);
      dns53_fail (a, FALSE, g_steal_pointer (&error));
      udp_stop (a);
      tcp_start (a);
      dns53_maybe_finish (a);
      return G_SOURCE_REMOVE;
    }
  verdict = answer_check (f, buf, (gsize) n, TRUE);
  if (verdict == 1)
    return G_SOURCE_CONTINUE; /* not an answer to this query */
  udp_stop (a);
  if (verdict == 0 && (buf[2] & (DNS_FLAG_TC >> 8)))
    {
      g_debug ("%s: truncated over UDP, asking over TCP", a->resolver->addr);
      tcp_start (a);
    }
  else if (verdict == 0)
    dns53_report_success (a, buf, (gsize) n);
  else
    dns53_fail (a, verdict == -2,
                g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", a->resolver->addr,
                             verdict == -2 ? "REFUSED" : "SERVFAIL"));
  dns53_maybe_finish (a);
  return G_SOURCE_REMOVE;
}

static gboolean
race_cb (gpointer user_data)
{
  Dns53 *a = user_data;

  a->race_id = 0;
  tcp_start (a);
  return G_SOURCE_REMOVE;
}

static void
tcp_end (Dns53 *a,
         gboolean refused,
         GError *error)
{
  a->tcp_over = TRUE;
  if (error != NULL)
    dns53_fail (a, refused, error);
  dns53_maybe_finish (a);
}

static void
tcp_body_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  Dns53 *a = user_data;
  Forward *f = g_task_get_task_data (a->task);
  GError *error = NULL;
  gsize got = 0;
  int verdict;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error) || got != a->tcp_len)
    {
      if (error == NULL)
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "%s over TCP: short answer", a->resolver->addr);
      tcp_end (a, FALSE, error);
      return;
    }
  verdict = answer_check (f, a->tcp_buf, a->tcp_len, TRUE);
  if (verdict == 0)
    {
      udp_stop (a); /* the UDP side may still wait on its socket */
      dns53_report_success (a, a->tcp_buf, a->tcp_len);
      tcp_end (a, FALSE, NULL);
      return;
    }
  tcp_end (a, verdict == -2,
           g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s over TCP: %s", a->resolver->addr,
                        verdict == 1 ? "not an answer to the query" : verdict == -2 ? "REFUSED"
                                                                                    : "SERVFAIL"));
}

static void
tcp_len_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  Dns53 *a = user_data;
  Forward *f = g_task_get_task_data (a->task);
  GError *error = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error) || got != 2)
    {
      if (error == NULL)
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "%s over TCP: closed", a->resolver->addr);
      tcp_end (a, FALSE, error);
      return;
    }
  a->tcp_len = (gsize) (a->len_buf[0] << 8 | a->len_buf[1]);
  if (a->tcp_len < DNS_HEADER_LEN)
    {
      tcp_end (a, FALSE,
               g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s over TCP: %" G_GSIZE_FORMAT "-byte answer",
                            a->resolver->addr, a->tcp_len));
      return;
    }
  g_free (a->tcp_buf);
  a->tcp_buf = g_malloc (a->tcp_len);
  g_input_stream_read_all_async (G_INPUT_STREAM (source), a->tcp_buf, a->tcp_len, G_PRIORITY_DEFAULT, f->own,
                                 tcp_body_cb, a);
}

static void
tcp_written_cb (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  Dns53 *a = user_data;
  Forward *f = g_task_get_task_data (a->task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      tcp_end (a, FALSE, error);
      return;
    }
  g_input_stream_read_all_async (g_io_stream_get_input_stream (G_IO_STREAM (a->conn)), a->len_buf, 2,
                                 G_PRIORITY_DEFAULT, f->own, tcp_len_cb, a);
}

static void
tcp_connected_cb (GObject *source,
                  GAsyncResult *result,
                  gpointer user_data)
{
  Dns53 *a = user_data;
  Forward *f = g_task_get_task_data (a->task);
  GError *error = NULL;
  gsize qlen;
  const guint8 *q = g_bytes_get_data (f->query, &qlen);

  a->conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (a->conn == NULL)
    {
      g_prefix_error (&error, "%s over TCP: ", a->resolver->addr);
      tcp_end (a, FALSE, error);
      return;
    }
  /* RFC 1035 §4.2.2: a two-byte length, then the message; the buffer lives
   * in the attempt until the write is done. */
  a->tcp_buf = g_malloc (qlen + 2);
  a->tcp_buf[0] = (guint8) (qlen >> 8);
  a->tcp_buf[1] = (guint8) qlen;
  memcpy (a->tcp_buf + 2, q, qlen);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (a->conn)), a->tcp_buf, qlen + 2,
                                   G_PRIORITY_DEFAULT, f->own, tcp_written_cb, a);
}

static void
tcp_start (Dns53 *a)
{
  Forward *f = g_task_get_task_data (a->task);
  g_autoptr(GSocketClient) client = NULL;

  if (a->tcp_started)
    return;
  a->tcp_started = TRUE;
  g_clear_handle_id (&a->race_id, g_source_remove);
  if (g_cancellable_is_cancelled (f->own))
    {
      a->tcp_over = TRUE;
      return;
    }
  client = g_socket_client_new ();
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (a->addr), f->own, tcp_connected_cb, a);
}

static void
dns53_start (GTask *task,
             HyphaeDnsResolver *resolver)
{
  Forward *f = g_task_get_task_data (task);
  Dns53 *a = g_new0 (Dns53, 1);
  g_autoptr(GInetAddress) ip = NULL;
  GError *error = NULL;
  gsize qlen;
  const guint8 *q = g_bytes_get_data (f->query, &qlen);

  a->task = g_object_ref (task);
  a->resolver = resolver;
  ip = g_inet_address_new_from_bytes (resolver->ip, resolver->family == AF_INET6 ? G_SOCKET_FAMILY_IPV6
                                                                                 : G_SOCKET_FAMILY_IPV4);
  a->addr = g_inet_socket_address_new (ip, resolver->port);
  a->udp = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (a->udp != NULL)
    {
      g_socket_set_blocking (a->udp, FALSE);
      if (g_socket_connect (a->udp, a->addr, NULL, &error) &&
          g_socket_send (a->udp, (const char *) q, qlen, NULL, &error) >= 0)
        {
          /* With f->own: its cancellation dispatches the source too. */
          a->udp_source = g_socket_create_source (a->udp, G_IO_IN, f->own);
          g_source_set_callback (a->udp_source, G_SOURCE_FUNC (udp_readable_cb), a, NULL);
          g_source_attach (a->udp_source, g_main_context_get_thread_default ());
          a->race_id = g_timeout_add (HYPHAE_DNS_FORWARD_UDP_RACE_MS, race_cb, a);
          return;
        }
    }
  g_prefix_error (&error, "%s over UDP: ", resolver->addr);
  dns53_fail (a, FALSE, error);
  a->udp_over = TRUE;
  tcp_start (a);
  dns53_maybe_finish (a);
}

/* ---- DoH ------------------------------------------------------------------------- */

typedef struct {
  GTask *task;
  HyphaeDnsResolver *resolver;
  SoupMessage *msg;
  guint8 *buf;
} Doh;

static void
doh_end (Doh *d,
         GError *error)
{
  if (error != NULL)
    forward_attempt_failed (d->task, FALSE, error);
  g_clear_object (&d->msg);
  g_free (d->buf);
  g_object_unref (d->task);
  g_free (d);
}

static void
doh_read_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  Doh *d = user_data;
  Forward *f = g_task_get_task_data (d->task);
  GError *error = NULL;
  gsize got = 0;
  int verdict;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error))
    {
      g_prefix_error (&error, "%s: ", d->resolver->addr);
      doh_end (d, error);
      return;
    }
  g_input_stream_close (G_INPUT_STREAM (source), NULL, NULL);
  if (got > HYPHAE_DNS_FORWARD_ANSWER_MAX)
    {
      doh_end (d, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "%s: answer over %d bytes",
                               d->resolver->addr, HYPHAE_DNS_FORWARD_ANSWER_MAX));
      return;
    }
  /* DoH answers need not carry the query's ID (RFC 8484 §4.1 sends 0). */
  verdict = answer_check (f, d->buf, got, FALSE);
  if (verdict != 0)
    {
      doh_end (d, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", d->resolver->addr,
                               verdict == 1 ? "not a DNS answer" : "SERVFAIL or REFUSED"));
      return;
    }
  {
    g_autoptr(GBytes) answer = g_bytes_new (d->buf, got);
    guint8 *w = (guint8 *) g_bytes_get_data (answer, NULL);

    /* The client matches answers by its ID. */
    w[0] = (guint8) (f->txid >> 8);
    w[1] = (guint8) f->txid;
    g_assert (f->running > 0);
    f->running--;
    forward_succeed (d->task, answer);
  }
  doh_end (d, NULL);
}

static void
doh_sent_cb (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  Doh *d = user_data;
  Forward *f = g_task_get_task_data (d->task);
  g_autoptr(GInputStream) body = NULL;
  GError *error = NULL;
  const char *type;
  guint status;

  body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (body == NULL)
    {
      g_prefix_error (&error, "%s: ", d->resolver->addr);
      doh_end (d, error);
      return;
    }
  status = soup_message_get_status (d->msg);
  type = soup_message_headers_get_content_type (soup_message_get_response_headers (d->msg), NULL);
  if (status != SOUP_STATUS_OK || g_strcmp0 (type, DOH_TYPE) != 0)
    {
      doh_end (d, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: HTTP %u, %s", d->resolver->addr, status,
                               type != NULL ? type : "no content type"));
      return;
    }
  /* One byte more than allowed: a longer body is refused, not cut. */
  d->buf = g_malloc (HYPHAE_DNS_FORWARD_ANSWER_MAX + 1);
  g_input_stream_read_all_async (body, d->buf, HYPHAE_DNS_FORWARD_ANSWER_MAX + 1, G_PRIORITY_DEFAULT, f->own,
                                 doh_read_cb, d);
}

static void
doh_start (GTask *task,
           HyphaeDnsResolver *resolver)
{
  Forward *f = g_task_get_task_data (task);
  Doh *d = g_new0 (Doh, 1);

  d->task = g_object_ref (task);
  d->resolver = resolver;
  if (f->session == NULL)
    {
      doh_end (d, g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s: no HTTP session", resolver->addr));
      return;
    }
  d->msg = soup_message_new (SOUP_METHOD_POST, resolver->url);
  if (d->msg == NULL)
    {
      doh_end (d, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: not a URL", resolver->addr));
      return;
    }
  soup_message_headers_replace (soup_message_get_request_headers (d->msg), "Accept", DOH_TYPE);
  soup_message_set_request_body_from_bytes (d->msg, DOH_TYPE, f->query);
  soup_session_send_async (f->session, d->msg, G_PRIORITY_DEFAULT, f->own, doh_sent_cb, d);
}

/* ---- API ------------------------------------------------------------------------- */

void
hyphae_dns_forward_async (GPtrArray *resolvers,
                          GBytes *query,
                          SoupSession *session,
                          guint timeout_ms,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  Forward *f = g_new0 (Forward, 1);
  const guint8 *q;
  gsize qlen;

  g_return_if_fail (resolvers != NULL && query != NULL);
  q = g_bytes_get_data (query, &qlen);
  g_return_if_fail (qlen >= DNS_HEADER_LEN);

  g_task_set_source_tag (task, hyphae_dns_forward_async);
  f->query = g_bytes_ref (query);
  f->resolvers = g_ptr_array_ref (resolvers);
  f->txid = (guint16) (q[0] << 8 | q[1]);
  f->session = session != NULL ? g_object_ref (session) : NULL;
  f->own = g_cancellable_new ();
  f->rcode = DNS_RCODE_SERVFAIL;
  g_task_set_task_data (task, f, forward_free);
  if (cancellable != NULL)
    {
      f->caller = g_object_ref (cancellable);
      f->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled_cb), f->own, NULL);
    }
  f->timeout_id = g_timeout_add (timeout_ms, timeout_cb, task);
  if (resolvers->len == 0)
    {
      f->done = TRUE;
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no resolver");
      return;
    }
  f->running = resolvers->len;
  for (guint i = 0; i < resolvers->len; i++)
    {
      HyphaeDnsResolver *r = g_ptr_array_index (resolvers, i);

      if (r->kind == HYPHAE_DNS_RESOLVER_DOH)
        doh_start (task, r);
      else
        dns53_start (task, r);
    }
}

GBytes *
hyphae_dns_forward_finish (GAsyncResult *result,
                           guint8 *rcode,
                           GError **error)
{
  GTask *task = G_TASK (result);
  Forward *f = g_task_get_task_data (task);
  GBytes *answer;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  answer = g_task_propagate_pointer (task, error);
  if (rcode != NULL)
    *rcode = answer != NULL ? DNS_RCODE_NOERROR : f->rcode;
  return answer;
}
