/* SPDX-License-Identifier: MIT */
/*
 * The shared fixture of the tests that talk to the independent Go control
 * server (tests/ts2021/control.go + cbase.go: net/http, flynn/noise,
 * x/net/http2): test-ts2021-dial.c, test-h2.c, test-register.c,
 * test-map-stream.c and test-control-client.c.
 *
 * The server is the one meson built ($HYPHAE_TS2021_CONTROL, see
 * tests/ts2021/meson.build) or, without it, is built at the first use in a
 * temporary directory, offline, in GOPATH mode against Debian's packages (golang-go,
 * golang-github-flynn-noise-dev, golang-golang-x-crypto-dev,
 * golang-golang-x-net-dev). Without them the tests skip, unless $CI is set:
 * then they fail. Each test runs its own server on 127.0.0.1:0 and its own
 * GMainLoop; every wait is bounded by a hang guard that fails the test.
 * main() calls ts2021_fixture_cleanup() after g_test_run().
 */
#pragma once

#include <gio/gio.h>

#include "hyphae-h2.h"
#include "hyphae-ts2021.h"

#define TS2021_FIXTURE_HANG_GUARD_S 10
#define TS2021_FIXTURE_CAPVER       130

typedef struct
{
  GMainLoop *loop;
  GAsyncResult *result;
  GSubprocess *server;
  GDataInputStream *server_out;
  char *url;
  guint8 server_pub[32];
  HyphaeH2Client *client;  /* set by ts2021_fixture_client_start() */
  gboolean client_started; /* teardown frees the client and drains the context */
} Ts2021Fixture;

/* g_test_add() of a test taking a Ts2021Fixture. */
#define TS2021_FIXTURE_ADD(path, data, fn) \
  g_test_add ((path), Ts2021Fixture, (data), ts2021_fixture_setup, (fn), ts2021_fixture_teardown)

void ts2021_fixture_setup (Ts2021Fixture *f,
                           gconstpointer user_data);
void ts2021_fixture_teardown (Ts2021Fixture *f,
                              gconstpointer user_data);
/* Remove the temporary directory with the built server; after g_test_run(). */
void ts2021_fixture_cleanup (void);

/* A GSourceFunc that aborts the test; user_data is what was awaited (a string). */
gboolean ts2021_fixture_hang_guard_cb (gpointer user_data);
/* A GAsyncReadyCallback (user_data: the fixture) for ts2021_fixture_wait_result(). */
void ts2021_fixture_store_result_cb (GObject *source,
                                     GAsyncResult *result,
                                     gpointer user_data);
/* Run the loop until store_result_cb fired; the caller owns the result. */
GAsyncResult *ts2021_fixture_wait_result (Ts2021Fixture *f,
                                          const char *what);

/* The next line of the server's stdout, or NULL at EOF. */
char *ts2021_fixture_server_line (Ts2021Fixture *f);
/* The value of the next line, which must be "<key> <value>". */
char *ts2021_fixture_server_expect (Ts2021Fixture *f,
                                    const char *key);
/* Start the server with extra flags (NULL-terminated); FALSE when skipped or failed. */
gboolean ts2021_fixture_server_start (Ts2021Fixture *f,
                                      const char *first_arg,
                                      ...);

HyphaeTs2021Conn *ts2021_fixture_dial (Ts2021Fixture *f,
                                       guint16 capver,
                                       const guint8 machine_priv[32],
                                       GCancellable *cancellable,
                                       GError **error);
/* Start the server (with one optional flag and value; flag NULL for none),
 * dial it, wrap the connection in f->client; FALSE when skipped. */
gboolean ts2021_fixture_client_start (Ts2021Fixture *f,
                                      const char *flag,
                                      const char *value);

/* ---- additions for the map stream and session tests ---------------------- */

/* A predicate for ts2021_fixture_wait_until(). */
typedef gboolean (*Ts2021FixtureCond) (gpointer data);
/* Iterate the default main context until cond(data); fail the test after
 * TS2021_FIXTURE_HANG_GUARD_S seconds without it (unless guard_s is larger). */
void ts2021_fixture_wait_until (Ts2021FixtureCond cond,
                                gpointer data,
                                guint guard_s,
                                const char *what);
/* Skip server lines until one starts with prefix; its rest (after prefix). */
char *ts2021_fixture_server_expect_prefix (Ts2021Fixture *f,
                                           const char *prefix);
/* Plain HTTP to the server (the debug endpoints); the body, *status set. */
GBytes *ts2021_fixture_http (Ts2021Fixture *f,
                             const char *method,
                             const char *path,
                             guint *status);
/* The same, and it must answer 200 (the body is not wanted). */
void ts2021_fixture_http_ok (Ts2021Fixture *f,
                             const char *method,
                             const char *path);
/* Force-exit the server and reap it (its remaining lines are logged). */
void ts2021_fixture_server_kill (Ts2021Fixture *f);
/* The port of f->url. */
guint16 ts2021_fixture_port (Ts2021Fixture *f);
