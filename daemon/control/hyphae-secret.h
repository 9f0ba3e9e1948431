/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * GLib containers for text that holds a secret (a private key in its
 * "privkey:" form, an auth key, a request body carrying one). Each is wiped
 * with sodium_memzero, the daemon's one wipe helper, before its memory is
 * given back. Copies that GLib, json-glib or nghttp2 make on their own (a
 * D-Bus message's serialised body, a frame buffer) are outside our reach.
 */
#include <glib.h>

G_BEGIN_DECLS

/* Takes a g_malloc'd buffer of len bytes; wiped and g_free'd with the GBytes. */
GBytes *hyphae_secret_bytes_new_take (char *data,
                                      gsize len);

/* A string GVariant whose text lives in locked memory (secmem), wiped when
 * the last reference goes. text must be valid UTF-8 (key text is ASCII). */
GVariant *hyphae_secret_variant_new_string (const char *text);

/* Wipes a NUL-terminated g_malloc'd string, then frees it (NULL is fine). */
void hyphae_secret_free (char *text);

G_END_DECLS
