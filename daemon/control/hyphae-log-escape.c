/* SPDX-License-Identifier: MIT */
/*
 * Text from a control server (or anyone on the path to it) made safe for a
 * log line or Health: printable ASCII only, so that a server cannot end a
 * line and forge the next one (\n, \r), drive a terminal (ESC) or hand a
 * journal reader bytes that are not UTF-8.
 *
 * Bytes 0x20–0x7e are kept, except the backslash, which is doubled so that
 * an escape cannot be faked either; \n, \r and \t are written as such, every
 * other byte as \xNN (non-ASCII UTF-8 too: one rule for all bytes, no
 * validation to get wrong), except GLib's own typographic quotes (U+2018,
 * U+2019, U+201C, U+201D, in its resolver and I/O errors: "Error resolving
 * “host”"), which become ' and ". At most HYPHAE_LOG_ESCAPE_MAX input bytes
 * are shown, followed by "...(N more bytes)".
 */
#include "hyphae-log-escape.h"

#include <string.h>

/* text: len bytes, or NUL-terminated when len < 0; NULL gives "(null)". */
char *
hyphae_log_escape (const char *text,
                   gssize len)
{
  GString *out;
  gsize n, shown;

  if (!text)
    return g_strdup ("(null)");
  n = len < 0 ? strlen (text) : (gsize) len;
  shown = MIN (n, HYPHAE_LOG_ESCAPE_MAX);
  out = g_string_sized_new (shown + 16);
  for (gsize i = 0; i < shown; i++)
    {
      guchar c = (guchar) text[i];

      if (c == 0xe2 && i + 2 < shown && (guchar) text[i + 1] == 0x80)
        {
          guchar q = (guchar) text[i + 2];

          if (q == 0x98 || q == 0x99 || q == 0x9c || q == 0x9d)
            {
              g_string_append_c (out, q >= 0x9c ? '"' : '\'');
              i += 2;
              continue;
            }
        }

      switch (c)
        {
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c >= 0x20 && c < 0x7f)
            g_string_append_c (out, (char) c);
          else
            g_string_append_printf (out, "\\x%02x", c);
        }
    }
  if (n > shown)
    g_string_append_printf (out, "...(%" G_GSIZE_FORMAT " more bytes)", n - shown);
  return g_string_free (out, FALSE);
}

/* An error whose message may carry server text, escaped ("(no error)" for NULL). */
char *
hyphae_log_escape_gerror (const GError *error)
{
  return error ? hyphae_log_escape (error->message, -1) : g_strdup ("(no error)");
}
