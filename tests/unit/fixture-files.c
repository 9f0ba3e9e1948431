/* SPDX-License-Identifier: MIT */
#include "fixture-files.h"

char *
fixture_file_text (const char *dir,
                   const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}
