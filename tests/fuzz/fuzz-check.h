/* SPDX-License-Identifier: MIT */
/* CHECK for the GLib-side fuzz targets: an invariant that fails aborts, so
 * libFuzzer keeps the input. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      {                                                                        \
        fprintf (stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x); \
        abort ();                                                              \
      }                                                                        \
  } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
