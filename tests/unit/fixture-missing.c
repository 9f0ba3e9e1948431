/* SPDX-License-Identifier: MIT */
#include "fixture-missing.h"

void
fixture_missing (const char *format,
                 ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, format);
  why = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (g_getenv ("CI"))
    g_test_fail_printf ("%s (CI is set)", why);
  else
    g_test_skip (why);
}
