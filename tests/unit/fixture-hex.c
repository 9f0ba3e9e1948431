/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fixture-hex.h"

GBytes *
fixture_unhex (const char *hex)
{
  GByteArray *out = g_byte_array_new ();

  while (*hex)
    {
      int hi, lo;
      guint8 b;

      if (g_ascii_isspace (*hex))
        {
          hex++;
          continue;
        }
      hi = g_ascii_xdigit_value (hex[0]);
      lo = hi >= 0 ? g_ascii_xdigit_value (hex[1]) : -1;
      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      b = (guint8) (hi << 4 | lo);
      g_byte_array_append (out, &b, 1);
      hex += 2;
    }
  return g_byte_array_free_to_bytes (out);
}

void
fixture_unhex32 (guint8 out[32],
                 const char *hex)
{
  g_autoptr(GBytes) b = fixture_unhex (hex);
  gsize n;
  const guint8 *d = g_bytes_get_data (b, &n);

  g_assert_cmpuint (n, ==, 32);
  memcpy (out, d, 32);
}

char *
fixture_hex32 (const guint8 k[32])
{
  GString *s = g_string_sized_new (64);

  for (guint i = 0; i < 32; i++)
    g_string_append_printf (s, "%02x", k[i]);
  return g_string_free (s, FALSE);
}
