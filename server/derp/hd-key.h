/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The server's node key, in derper's config format so either server can use
 * the other's file: {"PrivateKey":"privkey:<64 hex>"} (cmd/derper/derper.go
 * loadConfig, writeNewConfig). Made on first start, mode 0600.
 * Returns the 32-byte private key in secmem (secmem_free it), or NULL.
 */
guint8 *hd_key_load_or_create (const char *path,
                               GError **error);

/* "sha256-raw:<hex of the DER>", the CertName that pins cert in a DERP map. */
char *hd_cert_name (GTlsCertificate *cert);

G_END_DECLS
