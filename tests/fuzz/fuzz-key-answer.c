/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the /key answer (daemon/control/hyphae-ts2021-answers.c,
 * through hyphae-json.c and json-scan.c): the input is the HTTP body.
 * Checks: no crash or sanitizer report; an accepted answer gives a non-zero
 * key, and only when the whole body is a strict JSON object; a refusal is a
 * HYPHAE_TS2021_ERROR_KEY with a message; json-glib takes whatever the
 * scanner took.
 */
#include <string.h>

#include "crypto/keys.h"
#include "fuzz-control.h"
#include "hyphae-ts2021.h"
#include "hyphae-ts2021-answers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  g_autoptr(GError) error = NULL;
  guint8 key[32];

  fuzz_json_agree (data, size, HYPHAE_TS2021_KEY_ANSWER_MAX);
  if (hyphae_ts2021_parse_key_answer (data, size, key, &error))
    {
      CHECK (error == NULL);
      CHECK (!key_is_zero (key));
      CHECK (hyphae_json_check_object ((const char *) data, size,
                                       HYPHAE_TS2021_KEY_ANSWER_MAX, NULL));
    }
  else
    {
      CHECK (error != NULL && error->domain == HYPHAE_TS2021_ERROR);
      CHECK (error->code == HYPHAE_TS2021_ERROR_KEY);
      CHECK (g_str_has_prefix (error->message, "GET /key: "));
    }
  return 0;
}
