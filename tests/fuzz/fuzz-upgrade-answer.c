/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the answer to POST /ts2021 (the 101's status line
 * and headers; daemon/control/hyphae-ts2021-answers.c): the input is the
 * bytes as they arrive, the Noise stream possibly following the headers.
 * Checks: no crash or sanitizer report; a prefix never decides differently
 * from the whole input; an accepted answer ends with CRLF CRLF within the
 * cap and starts with "HTTP/1."; more is needed only below
 * the cap; refusals are HYPHAE_TS2021_ERROR_UPGRADE.
 */
#include <string.h>

#include "fuzz-control.h"
#include "hyphae-ts2021.h"
#include "hyphae-ts2021-answers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  gsize consumed = 0;
  int r;

  r = fuzz_incremental (hyphae_ts2021_parse_upgrade_answer, data, size, &consumed,
                        HYPHAE_TS2021_ERROR);
  if (r == 1)
    {
      CHECK (consumed >= 4 && consumed <= HYPHAE_TS2021_UPGRADE_ANSWER_MAX);
      CHECK (memcmp (data + consumed - 4, "\r\n\r\n", 4) == 0);
      /* the first CRLF CRLF */
      CHECK (memmem (data, consumed, "\r\n\r\n", 4) == data + consumed - 4);
      CHECK (memcmp (data, "HTTP/1.", 7) == 0);
      CHECK (memchr (data, '\0', consumed) == NULL);
    }
  else if (r == 0)
    CHECK (size < HYPHAE_TS2021_UPGRADE_ANSWER_MAX);
  else
    {
      g_autoptr(GError) error = NULL;

      CHECK (hyphae_ts2021_parse_upgrade_answer (data, size, &consumed, &error) == -1);
      CHECK (error->code == HYPHAE_TS2021_ERROR_UPGRADE);
    }
  return 0;
}
