/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-h2.c (HTTP/2 with prior knowledge over TS2021
 * records) against the independent Go control server (tests/ts2021/control.go
 * + cbase.go: x/net/http2 ServeConn over the records), which answers /echo,
 * /status/NNN, /big?n=N, /rst and /slow besides "hello". The server, the
 * main loop and the client are set up by ts2021-fixture.c; without Go and
 * Debian's Go packages the tests skip, unless $CI is set.
 *
 * No timing assumptions: every wait is bounded by a hang guard that fails
 * the test; ordering is established by completed requests, never by sleeps.
 */
#include <string.h>

#include <gio/gio.h>
#include <sodium.h>

#include "ts2021/controlbase.h"
#include "crypto/keys.h"
#include "hyphae-h2.h"
#include "hyphae-ts2021.h"
#include "ts2021-fixture.h"

/* ---- helpers around the API under test ------------------------------------- */

/* One request's outcome. */
typedef struct
{
  HyphaeH2Client *client;
  gboolean done;
  GBytes *body;
  guint status;
  GError *error;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_error (&r->error);
  r->done = FALSE;
  r->status = 0;
}

static void
reply_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  Reply *r = user_data;

  g_assert_null (source);
  g_assert_false (r->done);
  r->body = hyphae_h2_client_request_finish (r->client, result, &r->status, &r->error);
  g_assert_true ((r->body != NULL) != (r->error != NULL));
  r->done = TRUE;
  g_main_context_wakeup (NULL);
}

static void
request_start (Ts2021Fixture *f,
               Reply *r,
               const char *method,
               const char *path,
               GBytes *body,
               GCancellable *cancellable)
{
  reply_clear (r);
  r->client = f->client;
  hyphae_h2_client_request_async (f->client, method, path,
                                  body ? "application/octet-stream" : NULL, body, cancellable,
                                  reply_cb, r);
}

/* Iterate the main context until all n replies are done. */
static void
replies_wait (Reply *r,
              guint n,
              const char *what)
{
  guint guard = g_timeout_add_seconds (TS2021_FIXTURE_HANG_GUARD_S, ts2021_fixture_hang_guard_cb,
                                       (gpointer) what);

  for (guint i = 0; i < n; i++)
    while (!r[i].done)
      g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

static void
request (Ts2021Fixture *f,
         Reply *r,
         const char *method,
         const char *path,
         GBytes *body)
{
  request_start (f, r, method, path, body, NULL);
  replies_wait (r, 1, path);
}

#define HELLO "hello from ts2021 test server\n"

static void
assert_reply (Reply *r,
              guint status,
              const char *body)
{
  g_assert_no_error (r->error);
  g_assert_cmpuint (r->status, ==, status);
  g_assert_cmpmem (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body), body,
                   strlen (body));
}

/* GET / answers the greeting: the connection works (still, after a failure). */
static void
assert_hello (Ts2021Fixture *f,
              Reply *r)
{
  request (f, r, "GET", "/", NULL);
  assert_reply (r, 200, HELLO);
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_get (Ts2021Fixture *f,
          gconstpointer user_data)
{
  Reply r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  assert_hello (f, &r);
  /* And again on the same connection. */
  request (f, &r, "GET", "/other", NULL);
  assert_reply (&r, 200, HELLO);
  reply_clear (&r);
}

static GBytes *
random_bytes (gsize len)
{
  guint8 *data = g_malloc (len);

  randombytes_buf (data, len);
  return g_bytes_new_take (data, len);
}

static void
test_echo (Ts2021Fixture *f,
           gconstpointer user_data)
{
  g_autoptr(GBytes) body = random_bytes (100 * 1024);
  Reply r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request (f, &r, "POST", "/echo", body);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, body));
  /* An empty body. */
  {
    g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

    request (f, &r, "POST", "/echo", empty);
    assert_reply (&r, 200, "");
  }
  reply_clear (&r);
}

static void
test_concurrent (Ts2021Fixture *f,
                 gconstpointer user_data)
{
  enum {
    N = 5
  };
  GBytes *bodies[N] = { NULL };
  Reply r[N] = { { 0 } };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  /* Started before any answer: all five streams are open at once. */
  request_start (f, &r[0], "GET", "/", NULL, NULL);
  request_start (f, &r[1], "GET", "/status/404", NULL, NULL);
  for (guint i = 2; i < N; i++)
    {
      bodies[i] = random_bytes (20000 + i * 7001);
      request_start (f, &r[i], "POST", "/echo", bodies[i], NULL);
    }
  replies_wait (r, N, "5 concurrent requests");
  assert_reply (&r[0], 200, HELLO);
  assert_reply (&r[1], 404, "status 404\n");
  for (guint i = 2; i < N; i++)
    {
      g_assert_no_error (r[i].error);
      g_assert_cmpuint (r[i].status, ==, 200);
      g_assert_true (g_bytes_equal (r[i].body, bodies[i]));
    }
  for (guint i = 0; i < N; i++)
    {
      reply_clear (&r[i]);
      g_clear_pointer (&bodies[i], g_bytes_unref);
    }
}

static void
test_status (Ts2021Fixture *f,
             gconstpointer user_data)
{
  Reply r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request (f, &r, "GET", "/status/500", NULL);
  assert_reply (&r, 500, "status 500\n");
  request (f, &r, "POST", "/status/204", NULL);
  assert_reply (&r, 204, "");
  reply_clear (&r);
}

static void
test_big (Ts2021Fixture *f,
          gconstpointer user_data)
{
  Reply r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  /* Just under the cap works. */
  request (f, &r, "GET", "/big?n=1000000", NULL);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 1000000);
  g_assert_cmpint (((const char *) g_bytes_get_data (r.body, NULL))[999999], ==, 'x');

  request (f, &r, "GET", "/big?n=17000000", NULL);
  g_assert_error (r.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_TOO_BIG);
  g_assert_null (r.body);
  /* The stream was reset, the connection lives on. */
  assert_hello (f, &r);
  reply_clear (&r);
}

static void
test_rst (Ts2021Fixture *f,
          gconstpointer user_data)
{
  Reply r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request (f, &r, "GET", "/rst", NULL);
  g_assert_error (r.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_RESET);
  assert_hello (f, &r);
  reply_clear (&r);
}

static void
test_cancel (Ts2021Fixture *f,
             gconstpointer user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) pre = g_cancellable_new ();
  Reply slow = { 0 }, r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, cancellable);
  /* The server handles frames in order: once "/" is answered it has /slow. */
  assert_hello (f, &r);
  g_assert_false (slow.done);

  g_cancellable_cancel (cancellable);
  replies_wait (&slow, 1, "the cancelled /slow");
  g_assert_error (slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (slow.body);

  assert_hello (f, &r);

  /* Already cancelled: fails without a stream. */
  g_cancellable_cancel (pre);
  request_start (f, &r, "GET", "/", NULL, pre);
  replies_wait (&r, 1, "an already-cancelled request");
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_hello (f, &r);
  reply_clear (&slow);
  reply_clear (&r);
}

static void
assert_dead (const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("dead: %s", error->message);
  g_assert_true (g_error_matches (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED) ||
                 g_error_matches (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL));
}

static void
test_server_killed (Ts2021Fixture *f,
                    gconstpointer user_data)
{
  Reply slow = { 0 }, r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, NULL);
  assert_hello (f, &r);

  g_subprocess_force_exit (f->server);
  replies_wait (&slow, 1, "/slow after the server died");
  assert_dead (slow.error);
  request (f, &r, "GET", "/", NULL);
  assert_dead (r.error);
  reply_clear (&slow);
  reply_clear (&r);
}

static void
test_free_pending (Ts2021Fixture *f,
                   gconstpointer user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Reply slow = { 0 }, r = { 0 };

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, cancellable);
  assert_hello (f, &r);
  g_clear_pointer (&f->client, hyphae_h2_client_free);
  replies_wait (&slow, 1, "/slow after free");
  g_assert_error (slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Cancelling afterwards touches nothing that is gone. */
  g_cancellable_cancel (cancellable);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  reply_clear (&slow);
  reply_clear (&r);
}

int
main (int argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("sodium_init failed");

#define ADD(name, fn) TS2021_FIXTURE_ADD ("/h2/" name, NULL, fn)
  ADD ("get", test_get);
  ADD ("echo", test_echo);
  ADD ("concurrent", test_concurrent);
  ADD ("status", test_status);
  ADD ("too-big", test_big);
  ADD ("rst", test_rst);
  ADD ("cancel", test_cancel);
  ADD ("server-killed", test_server_killed);
  ADD ("free-pending", test_free_pending);
#undef ADD

  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  return ret;
}
