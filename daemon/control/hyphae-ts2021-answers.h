/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * What a control server answers while we dial (hyphae-ts2021.c), read by
 * pure functions over bytes so that unit tests and fuzz targets
 * (tests/fuzz/fuzz-{key,upgrade}-answer.c, fuzz-early-payload.c) call
 * exactly what the dialler calls. Errors are HYPHAE_TS2021_ERROR codes.
 */

#define HYPHAE_TS2021_UPGRADE "tailscale-control-protocol"

enum {
  /* The /key body; Tailscale reads at most 64 KiB of it too
   * (control/controlclient/direct.go, loadServerPubKeys). */
  HYPHAE_TS2021_KEY_ANSWER_MAX = 64 << 10,
  /* The 101's status line and headers, CRLF CRLF included. */
  HYPHAE_TS2021_UPGRADE_ANSWER_MAX = 16 << 10,
  /* The early payload's JSON: Tailscale's limit (control/ts2021/conn.go). */
  HYPHAE_TS2021_EARLY_PAYLOAD_MAX = 10 << 20,
};

/*
 * The /key answer, tailcfg.OverTLSPublicKeyResponse
 * {"legacyPublicKey":"mkey:…","publicKey":"mkey:…"}: out_key is publicKey,
 * strictly "mkey:" + 64 hex digits and not zero.
 */
gboolean hyphae_ts2021_parse_key_answer (const guint8 *body,
                                         gsize len,
                                         guint8 out_key[KEY_LEN],
                                         GError **error);

/*
 * The answer to POST /ts2021 as received so far (buf holds len bytes).
 * Returns 1 when it is a complete, good 101 (status line + headers: HTTP/1.x
 * 101, Upgrade: tailscale-control-protocol); *consumed is its length with the
 * final CRLF CRLF, and what follows is the Noise stream. 0: more bytes are
 * needed (len < HYPHAE_TS2021_UPGRADE_ANSWER_MAX). -1: error set.
 */
int hyphae_ts2021_parse_upgrade_answer (const guint8 *buf,
                                        gsize len,
                                        gsize *consumed,
                                        GError **error);

/*
 * The first plaintext after the Noise handshake, as received so far: either
 * the early payload frame FF FF FF 'T' 'S' ‖ u32 BE length ‖ a JSON object
 * (tailcfg.EarlyNoise, {"nodeKeyChallenge":"chalpub:…"}), or HTTP/2.
 * Returns 1 when decided: *consumed is the frame's length (0: no early
 * payload, the bytes are HTTP/2; else the JSON is at plain + 9); 0: more
 * bytes are needed; -1: error set (too long, not a strict JSON object).
 * The JSON is validated, not kept as a tree: hyphaed does not read it.
 */
#define HYPHAE_TS2021_EARLY_HEADER_LEN 9
int hyphae_ts2021_parse_early_payload (const guint8 *plain,
                                       gsize len,
                                       gsize *consumed,
                                       GError **error);

G_END_DECLS
