/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Input bytes kept; the rest is counted, not shown. */
#define HYPHAE_LOG_ESCAPE_MAX 512

char *hyphae_log_escape (const char *text,
                         gssize len);
char *hyphae_log_escape_gerror (const GError *error);

G_END_DECLS
