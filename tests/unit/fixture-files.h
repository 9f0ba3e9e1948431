/* SPDX-License-Identifier: MIT */
/* Reading back what the code under test wrote. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The contents of dir/name, which must exist. */
char *fixture_file_text (const char *dir,
                         const char *name);

G_END_DECLS
