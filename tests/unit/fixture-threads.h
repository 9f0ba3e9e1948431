/* SPDX-License-Identifier: MIT */
/*
 * GLib's pool threads that ran TLS handshakes (GIO's TLS over GnuTLS) hold
 * GnuTLS's dynamic TLS blocks, which gcc 12's LeakSanitizer misreads at exit
 * now and then ("Tracer caught signal 11" on a bogus "DTLS" range): a test
 * that made TLS connections ends those threads before it exits.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Stop GLib's unused pool threads and wait (≤ 30 s) until none is left. */
void fixture_stop_pool_threads (void);

G_END_DECLS
