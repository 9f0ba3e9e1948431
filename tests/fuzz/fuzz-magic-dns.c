/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/dns/hyphae-magic-dns: whole IP packets as the
 * runner hands them over (UDP to 100.100.100.100:53 or fd7a:115c:a1e0::53),
 * against a netmap with names, PTR-only IPv6 addresses, a zone, search
 * domains and ExtraRecords; nothing is forwarded (no resolvers: SERVFAIL).
 *
 * Invariants: every answer is one IP packet of at most 1280 bytes, from a
 * service address, UDP from port 53, whose lengths agree with the packet;
 * an answer goes only to a packet that parsed (at most one per input).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz-harness.h"
#include "hyphae-magic-dns.h"

static HyphaeMagicDns *dns;
static guint answers;

static int
inject (const guint8 *pkt,
        gsize len,
        gpointer user_data)
{
  static const guint8 v4[4] = { 100, 100, 100, 100 };
  static const guint8 v6[16] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 };
  gsize hl, ulen;

  answers++;
  CHECK (len >= 28 && len <= 1280);
  if ((pkt[0] >> 4) == 4)
    {
      hl = (gsize) (pkt[0] & 0xf) * 4;
      CHECK (hl == 20 && (gsize) (pkt[2] << 8 | pkt[3]) == len && pkt[9] == 17);
      CHECK (memcmp (pkt + 12, v4, 4) == 0);
    }
  else
    {
      CHECK ((pkt[0] >> 4) == 6 && len >= 48);
      hl = 40;
      CHECK ((gsize) (pkt[4] << 8 | pkt[5]) == len - 40 && pkt[6] == 17);
      CHECK (memcmp (pkt + 8, v6, 16) == 0);
    }
  ulen = (gsize) (pkt[hl + 4] << 8 | pkt[hl + 5]);
  CHECK (ulen == len - hl && ulen >= 8 + 12);
  CHECK (pkt[hl] == 0 && pkt[hl + 1] == 53);
  return 0;
}

static void
setup (void)
{
  static const char map[] =
    "{\"Node\":{\"ID\":1,\"StableID\":\"s1\",\"Name\":\"self.tail.ts.test.\","
    "\"Key\":\"nodekey:1111111111111111111111111111111111111111111111111111111111111111\","
    "\"Addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"]},"
    "\"Peers\":[{\"ID\":2,\"StableID\":\"s2\",\"Name\":\"peer.tail.ts.test.\","
    "\"Key\":\"nodekey:2222222222222222222222222222222222222222222222222222222222222222\","
    "\"Addresses\":[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"]}]}";
  static const char config_json[] =
    "{\"Proxied\":true,\"Domains\":[\"tail.ts.test\",\"corp.test\"],\"Routes\":{\"corp.test\":[]},"
    "\"ExtraRecords\":[{\"Name\":\"web.corp.test\",\"Value\":\"10.1.2.3\"},"
    "{\"Name\":\"web.corp.test\",\"Value\":\"fd00::1\"}]}";
  g_autoptr(HyphaeMapUpdate) update = hyphae_map_update_parse (map, strlen (map), NULL);
  g_autoptr(HyphaeNetmap) nm = NULL;
  g_autoptr(HyphaeDnsConfig) config = hyphae_dns_config_parse (config_json, NULL);

  CHECK (update != NULL && config != NULL);
  nm = hyphae_netmap_apply (NULL, update, 1759276800, NULL);
  CHECK (nm != NULL);
  dns = hyphae_magic_dns_new (inject, NULL);
  hyphae_magic_dns_update (dns, nm, config, TRUE, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  if (dns == NULL)
    setup ();
  answers = 0;
  hyphae_magic_dns_handle_query_packet (dns, data, size);
  CHECK (answers <= 1);
  return 0;
}
