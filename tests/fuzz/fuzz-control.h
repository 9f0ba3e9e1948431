/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets for what a control server answers while we dial
 * and register (fuzz-key-answer, fuzz-upgrade-answer, fuzz-early-payload,
 * fuzz-register-response).
 */
#pragma once

#include "fuzz-harness.h"
#include "hyphae-json.h"

/* json-glib takes whatever the strict scanner accepts (and builds an object):
 * hyphae_json_parse_object must never refuse what check_object passed. */
static inline void
fuzz_json_agree (const uint8_t *data,
                 size_t size,
                 size_t max_len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = NULL;
  gboolean ok = hyphae_json_check_object ((const char *) data, size, max_len, NULL);

  object = hyphae_json_parse_object ((const char *) data, size, max_len, &error);
  if (ok && object == NULL)
    {
      fprintf (stderr, "json-glib refuses what json-scan accepted: %s\n", error->message);
      abort ();
    }
  CHECK (ok == (object != NULL));
  CHECK (ok == (error == NULL));
}

/*
 * An incremental parser (1 decided, *consumed bytes taken; 0 needs more;
 * -1 error): fed a prefix, it either needs more or decides exactly as it
 * does on the whole input (bytes that come later cannot change a decision).
 * Returns the result on the whole input.
 */
typedef int (*FuzzIncrementalParser) (const guint8 *buf, gsize len, gsize *consumed, GError **error);

static inline int
fuzz_incremental (FuzzIncrementalParser parse,
                  const uint8_t *data,
                  size_t size,
                  gsize *consumed,
                  GQuark domain)
{
  const size_t cuts[] = { size / 2, size > 0 ? size - 1 : 0 };
  g_autoptr(GError) error = NULL;
  int whole = parse (data, size, consumed, &error);

  CHECK (whole >= -1 && whole <= 1);
  CHECK ((whole < 0) == (error != NULL));
  CHECK (*consumed <= size && (whole == 1 || *consumed == 0));
  if (error != NULL)
    CHECK (error->domain == domain && error->message[0] != '\0');

  for (size_t i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autoptr(GError) part_error = NULL;
      gsize part_consumed = 12345;
      int part = parse (data, cuts[i], &part_consumed, &part_error);

      CHECK ((part < 0) == (part_error != NULL));
      if (part != 0)
        CHECK (part == whole && part_consumed == *consumed);
      else
        CHECK (part_consumed == 0);
    }
  return whole;
}
