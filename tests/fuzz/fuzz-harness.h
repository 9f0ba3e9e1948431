/* SPDX-License-Identifier: MIT */
/* What every libFuzzer target shares (plain C: the engine's targets include
 * it too): CHECK, an invariant that aborts when it fails, so libFuzzer keeps
 * the input; the entry point's prototype; and a seed writer for the targets
 * that make their valid inputs themselves. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                 \
  do                                                                             \
    {                                                                            \
      if (!(x))                                                                  \
        {                                                                        \
          fprintf (stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x); \
          abort ();                                                              \
        }                                                                        \
    }                                                                            \
  while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* When $dir_env names a directory: write the seed <dir>/<name>, which is the
 * mode byte, then pre (a target's split points, say), then body. */
static inline void
fuzz_write_seed (const char *dir_env,
                 const char *name,
                 uint8_t mode,
                 const uint8_t *pre,
                 size_t pre_len,
                 const uint8_t *body,
                 size_t body_len)
{
  const char *dir = getenv (dir_env);
  char path[512];
  FILE *f;

  if (!dir)
    return;
  snprintf (path, sizeof path, "%s/%s", dir, name);
  f = fopen (path, "wb");
  if (!f)
    return;
  fputc (mode, f);
  if (pre_len)
    fwrite (pre, 1, pre_len, f);
  if (body_len)
    fwrite (body, 1, body_len, f);
  fclose (f);
}
