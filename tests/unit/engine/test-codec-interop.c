/* SPDX-License-Identifier: MIT */
/*
 * Interop of daemon/engine/magicsock's codecs (disco, DERP frames and info
 * boxes, STUN) and daemon/engine/filter's reject packets with Tailscale's own
 * Go packages: tests/tailscale/cmd/
 * codec-vectors, built by meson in module mode against tailscale.com
 * v1.102.5 (tests/tailscale/cmd/codec-vectors/meson.build), uses
 * tailscale.com/disco, types/key, derp, net/stun and net/packet. Without it the tests
 * skip, unless $CI is set: then they fail.
 *
 *  /codec-interop/both-ways   Go's packets opened and parsed here (and our
 *                             STUN bytes equal to Go's), ours opened and
 *                             parsed by Go
 *  /codec-interop/forged      the Go side rejects a packet we corrupted (it
 *                             does check)
 *
 * The exchange is line based over the child's stdin/stdout (see main.go);
 * the Go side exits on its own after 60 s, so nothing here can hang.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib.h>
#include <sodium.h>

#include "fixture-hex.h"
#include "fixture-missing.h"
#include "filter/filter.h"
#include "fixture-spawn.h"
#include "magicsock/derp-frame.h"
#include "magicsock/disco.h"
#include "magicsock/stun.h"
#include "sockaddr-ref.h"

static const char *
need_vectors(void)
{
    const char *bin = g_getenv("HYPHAE_CODEC_VECTORS");

    if (bin && g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE))
        return bin;
    fixture_missing("tests/tailscale/cmd/codec-vectors was not built (Go >= 1.26 and the "
                    "tailscale.com module; HYPHAE_CODEC_VECTORS=%s)",
                    bin ? bin : "");
    return NULL;
}

/* ---- values as text ---------------------------------------------------------- */

static char *
hex(const void *p, size_t n)
{
    char *s = g_malloc(2 * n + 1);

    for (size_t i = 0; i < n; i++)
        g_snprintf(s + 2 * i, 3, "%02x", ((const uint8_t *)p)[i]);
    s[2 * n] = '\0';
    return s;
}

static void
assert_addr(const union wg_sockaddr *got, const char *text)
{
    union wg_sockaddr want = ref_addrport(text);

    g_assert_cmpmem(got, sizeof(*got), &want, sizeof(want));
}

/* ---- the exchange -------------------------------------------------------------- */

struct side {
    uint8_t disco_pub[32], disco_priv[32], node_pub[32], node_priv[32];
};

struct exchange {
    GSubprocess *child;
    GDataInputStream *out;
    GOutputStream *in;
    GHashTable *go; /* name → value, what the Go side sent */
    GString *ours;  /* the block we send back */
};

static void
send_text(struct exchange *x, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(g_output_stream_write_all(x->in, text, strlen(text), NULL, NULL, &error));
    g_assert_no_error(error);
}

/* Lines up to "end" into the table. */
static void
read_block(struct exchange *x)
{
    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autofree char *line = g_data_input_stream_read_line(x->out, NULL, NULL, &error);
        char *space;

        g_assert_no_error(error);
        if (!line)
            g_error("the Go side stopped before \"end\"");
        if (strcmp(line, "end") == 0)
            return;
        space = strchr(line, ' ');
        g_assert_nonnull(space);
        *space = '\0';
        g_hash_table_insert(x->go, g_strdup(line), g_strdup(space + 1));
    }
}

static const char *
go_str(struct exchange *x, const char *name)
{
    const char *v = g_hash_table_lookup(x->go, name);

    if (!v)
        g_error("the Go side sent no %s", name);
    return v;
}

static GBytes *
go_bytes(struct exchange *x, const char *name)
{
    return fixture_unhex(go_str(x, name));
}

static void
put_bytes(struct exchange *x, const char *name, const void *p, size_t n)
{
    g_autofree char *h = hex(p, n);

    g_string_append_printf(x->ours, "%s %s\n", name, h);
}

static void
start(struct exchange *x, const char *bin, const struct side *c)
{
    g_autoptr(GError) error = NULL;
    const char *argv[] = { bin, NULL };
    g_autofree char *disco_pub = fixture_hex32(c->disco_pub);
    g_autofree char *node_pub = fixture_hex32(c->node_pub);
    g_autofree char *hello = NULL;

    x->child = fixture_child_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                 argv, &error);
    g_assert_no_error(error);
    x->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(x->child));
    x->in = g_subprocess_get_stdin_pipe(x->child);
    x->go = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    x->ours = g_string_new(NULL);
    hello = g_strdup_printf("c-disco-pub %s\nc-node-pub %s\nend\n", disco_pub, node_pub);
    send_text(x, hello);
    read_block(x);
}

/* Send our block; the Go side's verdict line ("ok" or "error …") and its exit status. */
static char *
finish(struct exchange *x, gboolean *exited_ok)
{
    g_autoptr(GError) error = NULL;
    char *verdict;

    g_string_append(x->ours, "end\n");
    send_text(x, x->ours->str);
    g_assert_true(g_output_stream_close(x->in, NULL, &error));
    g_assert_no_error(error);
    verdict = g_data_input_stream_read_line(x->out, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(g_subprocess_wait(x->child, NULL, &error));
    g_assert_no_error(error);
    *exited_ok =
        g_subprocess_get_if_exited(x->child) && g_subprocess_get_exit_status(x->child) == 0;
    g_object_unref(x->out);
    g_object_unref(x->child);
    g_hash_table_unref(x->go);
    g_string_free(x->ours, TRUE);
    return verdict ? verdict : g_strdup("");
}

static void
side_init(struct side *c)
{
    g_assert_cmpint(crypto_box_keypair(c->disco_pub, c->disco_priv), ==, 0);
    g_assert_cmpint(crypto_box_keypair(c->node_pub, c->node_priv), ==, 0);
}

/* ---- Go → C ---------------------------------------------------------------------- */

static void
open_go_disco(struct exchange *x, const struct disco_shared_key *s, const uint8_t go_pub[32],
              const char *name, struct disco_msg *m)
{
    g_autoptr(GBytes) pkt = go_bytes(x, name);
    size_t n;
    const uint8_t *p = g_bytes_get_data(pkt, &n);

    g_test_message("opening Go's %s", name);
    g_assert_true(disco_looks_like(p, n));
    g_assert_cmpmem(disco_sender(p), 32, go_pub, 32);
    g_assert_cmpint(disco_open(p, n, s, m), ==, 0);
}

static void
check_go_disco(struct exchange *x, const struct side *c)
{
    uint8_t go_disco[32], go_node[32];
    struct disco_shared_key s;
    struct disco_msg m;
    g_autoptr(GBytes) txid = NULL;
    g_auto(GStrv) eps = NULL;

    fixture_unhex32(go_disco, go_str(x, "go-disco-pub"));
    fixture_unhex32(go_node, go_str(x, "go-node-pub"));
    disco_shared_key_init(&s, go_disco, c->disco_priv);

    open_go_disco(x, &s, go_disco, "disco-ping", &m);
    g_assert_cmpuint(m.type, ==, DISCO_PING);
    txid = go_bytes(x, "disco-ping-txid");
    g_assert_cmpmem(m.ping.txid, 12, g_bytes_get_data(txid, NULL), g_bytes_get_size(txid));
    g_assert_cmpmem(m.ping.node_key, 32, go_node, 32);
    g_assert_cmpuint(m.ping.padding, ==, atoi(go_str(x, "disco-ping-padding")));
    g_clear_pointer(&txid, g_bytes_unref);

    open_go_disco(x, &s, go_disco, "disco-ping-old", &m);
    g_assert_cmpuint(m.type, ==, DISCO_PING);
    txid = go_bytes(x, "disco-ping-old-txid");
    g_assert_cmpmem(m.ping.txid, 12, g_bytes_get_data(txid, NULL), g_bytes_get_size(txid));
    g_assert_true(sodium_is_zero(m.ping.node_key, 32));
    g_assert_cmpuint(m.ping.padding, ==, 0);
    g_clear_pointer(&txid, g_bytes_unref);

    for (int v6 = 0; v6 <= 1; v6++) {
        const char *name = v6 ? "disco-pong6" : "disco-pong4";
        g_autofree char *txid_name = g_strconcat(name, "-txid", NULL);
        g_autofree char *src_name = g_strconcat(name, "-src", NULL);

        open_go_disco(x, &s, go_disco, name, &m);
        g_assert_cmpuint(m.type, ==, DISCO_PONG);
        txid = go_bytes(x, txid_name);
        g_assert_cmpmem(m.pong.txid, 12, g_bytes_get_data(txid, NULL), g_bytes_get_size(txid));
        assert_addr(&m.pong.src, go_str(x, src_name));
        g_clear_pointer(&txid, g_bytes_unref);
    }

    open_go_disco(x, &s, go_disco, "disco-cmm", &m);
    g_assert_cmpuint(m.type, ==, DISCO_CALL_ME_MAYBE);
    eps = g_strsplit(go_str(x, "disco-cmm-endpoints"), ",", -1);
    g_assert_cmpuint(m.call_me_maybe.n, ==, g_strv_length(eps));
    for (size_t i = 0; i < m.call_me_maybe.n; i++)
        assert_addr(&m.call_me_maybe.endpoints[i], eps[i]);
    open_go_disco(x, &s, go_disco, "disco-cmm-empty", &m);
    g_assert_cmpuint(m.type, ==, DISCO_CALL_ME_MAYBE);
    g_assert_cmpuint(m.call_me_maybe.n, ==, 0);
    sodium_memzero(&s, sizeof(s));
}

static void
check_go_derp(struct exchange *x, const struct side *c)
{
    uint8_t go_node[32], key[32], plain[256];
    g_autoptr(GBytes) box = go_bytes(x, "derp-info");
    g_autoptr(GBytes) want = go_bytes(x, "derp-info-plain");
    g_autoptr(GBytes) frames = go_bytes(x, "derp-frames");
    size_t n, off = 0, data_len;
    const uint8_t *p = g_bytes_get_data(frames, &n), *k, *data;
    struct derp_frame f;
    ssize_t r;

    fixture_unhex32(go_node, go_str(x, "go-node-pub"));
    r = derp_open_info(plain, sizeof(plain), g_bytes_get_data(box, NULL), g_bytes_get_size(box),
                       go_node, c->node_priv);
    g_assert_cmpint(r, ==, (ssize_t)g_bytes_get_size(want));
    g_assert_cmpmem(plain, (size_t)r, g_bytes_get_data(want, NULL), g_bytes_get_size(want));

    /* ServerKey, KeepAlive, RecvPacket, Ping, as derp.WriteFrame wrote them. */
    r = derp_frame_parse(p + off, n - off, DERP_MAX_FRAME, &f);
    g_assert_cmpint(r, ==, DERP_HEADER_LEN + 40);
    g_assert_cmpuint(f.type, ==, DERP_FRAME_SERVER_KEY);
    g_assert_cmpint(derp_parse_server_key(&f, key), ==, 0);
    g_assert_cmpmem(key, 32, go_node, 32);
    off += (size_t)r;
    r = derp_frame_parse(p + off, n - off, DERP_MAX_FRAME, &f);
    g_assert_cmpint(r, ==, DERP_HEADER_LEN);
    g_assert_cmpuint(f.type, ==, DERP_FRAME_KEEP_ALIVE);
    off += (size_t)r;
    r = derp_frame_parse(p + off, n - off, DERP_MAX_FRAME, &f);
    g_assert_cmpuint(f.type, ==, DERP_FRAME_RECV_PACKET);
    g_assert_cmpint(derp_parse_keyed(&f, &k, &data, &data_len), ==, 0);
    g_assert_cmpmem(k, 32, go_node, 32);
    g_assert_cmpmem(data, data_len, "hello", 5);
    off += (size_t)r;
    r = derp_frame_parse(p + off, n - off, DERP_MAX_FRAME, &f);
    g_assert_cmpuint(f.type, ==, DERP_FRAME_PING);
    g_assert_cmpmem(f.payload, f.len, "12345678", 8);
    off += (size_t)r;
    g_assert_cmpuint(off, ==, n);
}

static void
check_go_stun(struct exchange *x)
{
    g_autoptr(GBytes) txid = go_bytes(x, "stun-txid");
    g_autoptr(GBytes) req = go_bytes(x, "stun-request");
    const uint8_t *tx = g_bytes_get_data(txid, NULL);
    uint8_t got[STUN_TXID_LEN], ours[STUN_RESPONSE_MAX];
    union wg_sockaddr a;
    size_t n;

    g_assert_cmpuint(g_bytes_get_size(txid), ==, STUN_TXID_LEN);
    g_assert_true(stun_looks_like(g_bytes_get_data(req, NULL), g_bytes_get_size(req)));
    g_assert_cmpint(stun_parse_request(g_bytes_get_data(req, NULL), g_bytes_get_size(req), got), ==,
                    0);
    g_assert_cmpmem(got, sizeof(got), tx, STUN_TXID_LEN);
    /* Our request is byte for byte stun.Request's. */
    n = stun_build_request(ours, tx);
    g_assert_cmpmem(ours, n, g_bytes_get_data(req, NULL), g_bytes_get_size(req));

    for (int v6 = 0; v6 <= 1; v6++) {
        const char *name = v6 ? "stun-response6" : "stun-response4";
        g_autofree char *addr_name = g_strconcat(name, "-addr", NULL);
        g_autoptr(GBytes) res = go_bytes(x, name);

        g_assert_cmpint(
            stun_parse_response(g_bytes_get_data(res, NULL), g_bytes_get_size(res), got, &a), ==,
            0);
        g_assert_cmpmem(got, sizeof(got), tx, STUN_TXID_LEN);
        assert_addr(&a, go_str(x, addr_name));
        /* And our response is stun.Response's. */
        n = stun_build_response(ours, tx, &a);
        g_assert_cmpmem(ours, n, g_bytes_get_data(res, NULL), g_bytes_get_size(res));
    }
}

/* ---- C → Go ---------------------------------------------------------------------- */

static void
put_disco(struct exchange *x, const struct side *c, const struct disco_shared_key *s,
          const char *name, const struct disco_msg *m, gboolean corrupt)
{
    uint8_t pkt[DISCO_PACKET_MAX];
    ssize_t n = disco_seal(pkt, sizeof(pkt), c->disco_pub, s, m);

    g_assert_cmpint(n, >, 0);
    if (corrupt)
        pkt[n - 1] ^= 1;
    put_bytes(x, name, pkt, (size_t)n);
}

/* A SYN from 100.64.0.3:40000 to 100.64.0.1:22 (and over IPv6), and what
 * the filter answers when it drops it. */
static void
put_rejects(struct exchange *x)
{
    static const uint8_t syn4[40] = {
        0x45, 0, 0,   40, 0,    0,    0,    0,    64, 6,  0,    0,    100,  64,
        0,    3, 100, 64, 0,    1,    0x9c, 0x40, 0,  22, 0x12, 0x34, 0x56, 0x78,
        0,    0, 0,   0,  0x50, 0x02, 0xff, 0xff, 0,  0,  0,    0,
    };
    static const uint8_t syn6[60] = {
        0x60, 0,    0,    0, 0, 20, 6, 64,   0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0,
        0,    0,    0,    0, 0, 0,  0, 0,    3,    0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0,
        0,    0,    0,    0, 0, 0,  0, 0,    0,    1,    0x9c, 0x40, 0,    22,   0x12,
        0x34, 0x56, 0x78, 0, 0, 0,  0, 0x50, 0x02, 0xff, 0xff, 0,    0,    0,    0,
    };
    const uint8_t *syn[2] = { syn4, syn6 };
    const size_t syn_len[2] = { sizeof(syn4), sizeof(syn6) };
    const enum pf_tsmp_reason why[2] = { PF_TSMP_ACL, PF_TSMP_SHIELDS_UP };
    uint8_t out[PF_REJECT_MAX];
    char name[32];
    size_t n;

    for (int v6 = 0; v6 <= 1; v6++) {
        g_snprintf(name, sizeof(name), "c-syn%d", v6 ? 6 : 4);
        put_bytes(x, name, syn[v6], syn_len[v6]);
        n = pf_build_tsmp_reject(syn[v6], syn_len[v6], why[v6], out, sizeof(out));
        g_assert_cmpuint(n, >, 0);
        g_snprintf(name, sizeof(name), "c-tsmp-reject%d", v6 ? 6 : 4);
        put_bytes(x, name, out, n);
        g_string_append_printf(x->ours, "c-tsmp-reason%d %d\n", v6 ? 6 : 4, (int)why[v6]);
        n = pf_build_tcp_rst(syn[v6], syn_len[v6], out, sizeof(out));
        g_assert_cmpuint(n, >, 0);
        g_snprintf(name, sizeof(name), "c-tcp-rst%d", v6 ? 6 : 4);
        put_bytes(x, name, out, n);
    }
}

static void
put_c_packets(struct exchange *x, const struct side *c, gboolean corrupt)
{
    uint8_t go_disco[32], go_node[32], box[256], txid[12], pkt[STUN_RESPONSE_MAX];
    const char *info = "{\"version\":2}";
    const char *pong_src[] = { "192.0.2.77:12345", "[fd7a:115c:a1e0:ab12::1]:41641" };
    const char *cmm_eps[] = { "10.0.0.1:41641", "[2001:db8::1]:41641" };
    const char *stun_addr[] = { "192.0.2.1:32853", "[2001:db8:1234:5678:11:2233:4455:6677]:32853" };
    struct disco_shared_key s;
    struct disco_msg m = { .type = DISCO_PING };
    ssize_t r;
    size_t n;

    fixture_unhex32(go_disco, go_str(x, "go-disco-pub"));
    fixture_unhex32(go_node, go_str(x, "go-node-pub"));
    disco_shared_key_init(&s, go_disco, c->disco_priv);

    randombytes_buf(m.ping.txid, 12);
    memcpy(m.ping.node_key, c->node_pub, 32);
    m.ping.padding = 11;
    put_disco(x, c, &s, "c-disco-ping", &m, corrupt);
    put_bytes(x, "c-disco-ping-txid", m.ping.txid, 12);
    g_string_append_printf(x->ours, "c-disco-ping-padding %u\n", m.ping.padding);
    for (int v6 = 0; v6 <= 1; v6++) {
        g_autofree char *name = g_strdup_printf("c-disco-pong%d", v6 ? 6 : 4);
        g_autofree char *txid_name = g_strconcat(name, "-txid", NULL);

        memset(&m, 0, sizeof(m));
        m.type = DISCO_PONG;
        randombytes_buf(m.pong.txid, 12);
        m.pong.src = ref_addrport(pong_src[v6]);
        put_disco(x, c, &s, name, &m, FALSE);
        put_bytes(x, txid_name, m.pong.txid, 12);
        g_string_append_printf(x->ours, "%s-src %s\n", name, pong_src[v6]);
    }
    memset(&m, 0, sizeof(m));
    m.type = DISCO_CALL_ME_MAYBE;
    for (size_t i = 0; i < G_N_ELEMENTS(cmm_eps); i++)
        m.call_me_maybe.endpoints[m.call_me_maybe.n++] = ref_addrport(cmm_eps[i]);
    put_disco(x, c, &s, "c-disco-cmm", &m, FALSE);
    g_string_append_printf(x->ours, "c-disco-cmm-endpoints %s,%s\n", cmm_eps[0], cmm_eps[1]);
    sodium_memzero(&s, sizeof(s));

    r = derp_seal_info(box, sizeof(box), (const uint8_t *)info, strlen(info), go_node,
                       c->node_priv);
    g_assert_cmpint(r, >, 0);
    put_bytes(x, "c-derp-info", box, (size_t)r);
    put_bytes(x, "c-derp-info-plain", info, strlen(info));

    randombytes_buf(txid, sizeof(txid));
    put_bytes(x, "c-stun-txid", txid, sizeof(txid));
    n = stun_build_request(pkt, txid);
    put_bytes(x, "c-stun-request", pkt, n);
    for (int v6 = 0; v6 <= 1; v6++) {
        union wg_sockaddr a = ref_addrport(stun_addr[v6]);

        n = stun_build_response(pkt, txid, &a);
        g_assert_cmpuint(n, >, 0);
        put_bytes(x, v6 ? "c-stun-response6" : "c-stun-response4", pkt, n);
        g_string_append_printf(x->ours, "c-stun-response%d-addr %s\n", v6 ? 6 : 4, stun_addr[v6]);
    }
    put_rejects(x);
}

/*
 * One exchange: Go's packets checked here (unless forge), ours sent back (the
 * disco ping corrupted if forge). Go's verdict line and whether it exited 0.
 */
static char *
exchange(gboolean forge, gboolean *exited_ok)
{
    const char *bin = need_vectors();
    struct exchange x = { 0 };
    struct side c;
    char *verdict;

    if (!bin)
        return NULL;
    side_init(&c);
    start(&x, bin, &c);
    if (!forge) {
        check_go_disco(&x, &c);
        check_go_derp(&x, &c);
        check_go_stun(&x);
    }
    put_c_packets(&x, &c, forge);
    verdict = finish(&x, exited_ok);
    sodium_memzero(&c, sizeof(c));
    return verdict;
}

static void
test_both_ways(void)
{
    gboolean ok = FALSE;
    g_autofree char *verdict = exchange(FALSE, &ok);

    if (!verdict)
        return;
    g_assert_cmpstr(verdict, ==, "ok");
    g_assert_true(ok);
}

static void
test_forged(void)
{
    gboolean ok = TRUE;
    g_autofree char *verdict = exchange(TRUE, &ok);

    if (!verdict)
        return;
    g_assert_cmpstr(verdict, ==, "error c-disco-ping: box does not open");
    g_assert_false(ok);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    g_test_add_func("/codec-interop/both-ways", test_both_ways);
    g_test_add_func("/codec-interop/forged", test_forged);
    return g_test_run();
}
