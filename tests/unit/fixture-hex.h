/* SPDX-License-Identifier: MIT */
/*
 * Hex for test vectors and for the keys the Go peers print, decoded apart
 * from crypto/keys.h so that a test does not check the code with itself.
 * Anything but hex digits (and white space between byte pairs) fails the
 * test.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bytes of hex; white space is skipped. */
GBytes *fixture_unhex (const char *hex);
/* Exactly 32 bytes of hex into out. */
void fixture_unhex32 (guint8 out[32],
                      const char *hex);
/* 64 lowercase hex digits. */
char *fixture_hex32 (const guint8 k[32]);

G_END_DECLS
