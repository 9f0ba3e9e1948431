/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the early payload (daemon/control/hyphae-ts2021-answers.c,
 * through hyphae-json.c and json-scan.c): the input is the first plaintext
 * after the Noise handshake, FF FF FF 'T' 'S' ‖ u32 BE length ‖ JSON, or
 * HTTP/2 bytes. Checks: no crash or sanitizer report; a prefix never decides
 * differently from the whole input; a frame is taken only when its JSON is
 * one strict object within the cap; json-glib takes whatever the scanner
 * took; refusals are HYPHAE_TS2021_ERROR_PROTOCOL.
 */
#include <string.h>

#include "fuzz-control.h"
#include "hyphae-ts2021.h"
#include "hyphae-ts2021-answers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  const size_t hdr = HYPHAE_TS2021_EARLY_HEADER_LEN;
  gsize consumed = 0;
  int r;

  r = fuzz_incremental (hyphae_ts2021_parse_early_payload, data, size, &consumed,
                        HYPHAE_TS2021_ERROR);
  if (size >= hdr)
    fuzz_json_agree (data + hdr, size - hdr, HYPHAE_TS2021_EARLY_PAYLOAD_MAX);
  if (r == 1 && consumed > 0)
    {
      CHECK (consumed > hdr && consumed - hdr <= HYPHAE_TS2021_EARLY_PAYLOAD_MAX);
      CHECK (memcmp (data, "\xff\xff\xffTS", 5) == 0);
      CHECK (hyphae_json_check_object ((const char *) data + hdr, consumed - hdr,
                                       HYPHAE_TS2021_EARLY_PAYLOAD_MAX, NULL));
      CHECK (memchr (data + hdr, '\0', consumed - hdr) == NULL);
    }
  else if (r == 1)
    CHECK (size >= hdr && memcmp (data, "\xff\xff\xffTS", 5) != 0);
  else if (r == 0)
    CHECK (size < hdr || memcmp (data, "\xff\xff\xffTS", 5) == 0);
  else
    {
      g_autoptr(GError) error = NULL;

      CHECK (hyphae_ts2021_parse_early_payload (data, size, &consumed, &error) == -1);
      CHECK (error->code == HYPHAE_TS2021_ERROR_PROTOCOL);
      CHECK (g_str_has_prefix (error->message, "Early payload: "));
    }
  return 0;
}
