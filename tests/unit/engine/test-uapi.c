/* SPDX-License-Identifier: MIT */
/*
 * UAPI: set=1 parser, get=1 formatter, the socket server, and interop with
 * the stock wg(8) from Debian's wireguard-tools. The interop test needs root
 * (wg only looks in /var/run/wireguard); it is skipped otherwise, unless $CI
 * is set, where skipping is a failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture-missing.h"
#include "uapi/uapi.h"

#define WG_TOOL "/usr/bin/wg"

/*****************************************************************************/
/* Helpers */

static char *
hexrep(char c)
{
    return g_strnfill(64, c);
}

static char *
key_hex(const uint8_t k[32])
{
    char *s = g_malloc(65);

    sodium_bin2hex(s, 65, k, 32);
    return s;
}

static char *
key_b64(const uint8_t k[32])
{
    char *s = g_malloc(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL));

    sodium_bin2base64(s, sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL), k, 32,
                      sodium_base64_VARIANT_ORIGINAL);
    return s;
}

static void
gen_private(uint8_t k[32])
{
    randombytes_buf(k, 32);
    k[0] &= 248;
    k[31] = (uint8_t)((k[31] & 127) | 64);
}

static void
public_of(uint8_t pub[32], const uint8_t priv[32])
{
    g_assert_cmpint(crypto_scalarmult_base(pub, priv), ==, 0);
}

static int
parse_str(const char *s, struct uapi_set **out)
{
    *out = (struct uapi_set *)(uintptr_t)0x1; /* must be overwritten */
    return uapi_parse_set(s, strlen(s), out);
}

static struct uapi_set *
parse_ok(const char *s)
{
    struct uapi_set *set;
    int r = parse_str(s, &set);

    if (r != 0)
        g_error("parse of \"%s\" failed: %s", s, g_strerror(-r));
    g_assert_nonnull(set);
    return set;
}

static void
assert_parse_err(const char *s, size_t len, int expected)
{
    struct uapi_set *set = (struct uapi_set *)(uintptr_t)0x1;
    int r = uapi_parse_set(s, len, &set);

    if (r != expected)
        g_error("parse of \"%.*s\": got %d, expected %d", (int)MIN(len, 200), s, r, expected);
    g_assert_null(set);
}

static char *
ip_text(const struct uapi_allowed_ip *ip)
{
    char a[INET6_ADDRSTRLEN];

    g_assert_nonnull(inet_ntop(ip->family, ip->addr, a, sizeof(a)));
    return g_strdup_printf("%s/%u", a, ip->cidr);
}

static char *
ep_text(const union wg_sockaddr *ep)
{
    char a[INET6_ADDRSTRLEN];

    if (ep->sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &ep->in4.sin_addr, a, sizeof(a));
        return g_strdup_printf("%s:%u", a, ntohs(ep->in4.sin_port));
    }
    if (ep->sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &ep->in6.sin6_addr, a, sizeof(a));
        return g_strdup_printf("[%s%%%u]:%u", a, ep->in6.sin6_scope_id, ntohs(ep->in6.sin6_port));
    }
    return g_strdup("(none)");
}

/*****************************************************************************/
/* Parser */

static void
test_parse_device(void)
{
    g_autofree char *ff = hexrep('f');
    g_autofree char *body = g_strdup_printf("private_key=%s\nlisten_port=51820\nfwmark=4294967295\n"
                                            "replace_peers=true\n",
                                            ff);
    struct uapi_set *set = parse_ok(body);

    g_assert_true(set->has_private_key);
    g_assert_cmpuint(set->private_key[0], ==, 0xf8); /* clamped */
    g_assert_cmpuint(set->private_key[1], ==, 0xff);
    g_assert_cmpuint(set->private_key[31], ==, 0x7f);
    g_assert_true(set->has_listen_port);
    g_assert_cmpuint(set->listen_port, ==, 51820);
    g_assert_true(set->has_fwmark);
    g_assert_cmpuint(set->fwmark, ==, UINT32_MAX);
    g_assert_true(set->replace_peers);
    g_assert_cmpuint(set->n_peers, ==, 0);
    uapi_set_free(set);

    /* Zero private key: removal, not clamped. Upper-case hex is fine. */
    g_autofree char *zero = hexrep('0');
    g_autofree char *b2 = g_strdup_printf("private_key=%s\n", zero);
    set = parse_ok(b2);
    g_assert_true(set->has_private_key);
    for (int i = 0; i < 32; i++)
        g_assert_cmpuint(set->private_key[i], ==, 0);
    g_assert_false(set->has_listen_port);
    g_assert_false(set->has_fwmark);
    g_assert_false(set->replace_peers);
    uapi_set_free(set);

    g_autofree char *upper = hexrep('A');
    g_autofree char *b3 = g_strdup_printf("private_key=%s\n", upper);
    set = parse_ok(b3);
    g_assert_cmpuint(set->private_key[0], ==, 0xa8);
    g_assert_cmpuint(set->private_key[31], ==, 0x6a);
    uapi_set_free(set);

    /* Numbers as strconv.ParseUint takes them; repeated device keys: last wins. */
    set = parse_ok("listen_port=00080\nfwmark=\nlisten_port=81");
    g_assert_cmpuint(set->listen_port, ==, 81);
    g_assert_true(set->has_fwmark);
    g_assert_cmpuint(set->fwmark, ==, 0);
    uapi_set_free(set);

    set = parse_ok("fwmark=0\nlisten_port=0\n");
    g_assert_true(set->has_fwmark && set->has_listen_port);
    g_assert_cmpuint(set->listen_port, ==, 0);
    uapi_set_free(set);

    /* An empty body is a valid, empty set. */
    struct uapi_set *empty = NULL;
    g_assert_cmpint(uapi_parse_set("", 0, &empty), ==, 0);
    g_assert_nonnull(empty);
    g_assert_cmpuint(empty->n_peers, ==, 0);
    uapi_set_free(empty);
    uapi_set_free(NULL);
}

static void
test_parse_peer(void)
{
    g_autofree char *a = hexrep('a');
    g_autofree char *b = hexrep('b');
    g_autofree char *c = hexrep('c');
    g_autofree char *body = g_strdup_printf("private_key=%s\n"
                                            "public_key=%s\n"
                                            "protocol_version=1\n"
                                            "preshared_key=%s\n"
                                            "endpoint=192.0.2.1:51820\n"
                                            "persistent_keepalive_interval=25\n"
                                            "replace_allowed_ips=true\n"
                                            "allowed_ip=10.1.2.3/24\n"
                                            "allowed_ip=fd00::1/64\n"
                                            "allowed_ip=0.0.0.0/0\n"
                                            "allowed_ip=::/0\n"
                                            "allowed_ip=::ffff:1.2.3.4/128\n"
                                            "public_key=%s\n"
                                            "update_only=true\n"
                                            "endpoint=[2001:db8::1]:443\n"
                                            "persistent_keepalive_interval=0\n"
                                            "public_key=%s\n"
                                            "remove=true\n",
                                            c, a, b, b, a);
    struct uapi_set *set = parse_ok(body);
    struct uapi_peer_set *p;
    char *t;

    g_assert_cmpuint(set->n_peers, ==, 3);
    p = &set->peers[0];
    g_assert_cmpuint(p->public_key[0], ==, 0xaa);
    g_assert_true(p->has_preshared_key);
    g_assert_cmpuint(p->preshared_key[31], ==, 0xbb);
    g_assert_true(p->has_endpoint);
    t = ep_text(&p->endpoint);
    g_assert_cmpstr(t, ==, "192.0.2.1:51820");
    g_free(t);
    g_assert_true(p->has_keepalive);
    g_assert_cmpuint(p->keepalive_interval, ==, 25);
    g_assert_true(p->replace_allowed_ips);
    g_assert_false(p->remove || p->update_only);
    g_assert_cmpuint(p->n_allowed_ips, ==, 5);
    const char *want[] = { "10.1.2.3/24", "fd00::1/64", "0.0.0.0/0", "::/0", "::ffff:1.2.3.4/128" };
    for (size_t i = 0; i < 5; i++) {
        t = ip_text(&p->allowed_ips[i]);
        g_assert_cmpstr(t, ==, want[i]);
        g_free(t);
    }
    g_assert_cmpuint(p->allowed_ips[0].family, ==, AF_INET);
    g_assert_cmpuint(p->allowed_ips[4].family, ==, AF_INET6);

    p = &set->peers[1];
    g_assert_cmpuint(p->public_key[0], ==, 0xbb);
    g_assert_true(p->update_only);
    g_assert_false(p->has_preshared_key);
    g_assert_false(p->replace_allowed_ips);
    t = ep_text(&p->endpoint);
    g_assert_cmpstr(t, ==, "[2001:db8::1%0]:443");
    g_free(t);
    g_assert_true(p->has_keepalive);
    g_assert_cmpuint(p->keepalive_interval, ==, 0);
    g_assert_cmpuint(p->n_allowed_ips, ==, 0);

    p = &set->peers[2];
    g_assert_true(p->remove);
    g_assert_false(p->has_endpoint);
    uapi_set_free(set);
}

static void
test_parse_endpoints(void)
{
    g_autofree char *k = hexrep('1');
    struct {
        const char *in, *out;
    } ok[] = {
        { "0.0.0.0:0", "0.0.0.0:0" },
        { "127.0.0.1:01234", "127.0.0.1:1234" },
        { "255.255.255.255:65535", "255.255.255.255:65535" },
        { "[::1]:5", "[::1%0]:5" },
        { "[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4%0]:80" },
        { "[fe80::1%7]:51820", "[fe80::1%7]:51820" },
        { "[fe80::1%lo]:1", NULL }, /* scope = if_nametoindex("lo") */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autofree char *body = g_strdup_printf("public_key=%s\nendpoint=%s\n", k, ok[i].in);
        struct uapi_set *set = parse_ok(body);
        g_autofree char *t = ep_text(&set->peers[0].endpoint);
        g_autofree char *lo = g_strdup_printf("[fe80::1%%%u]:1", if_nametoindex("lo"));

        g_assert_true(set->peers[0].has_endpoint);
        g_assert_cmpstr(t, ==, ok[i].out ? ok[i].out : lo);
        uapi_set_free(set);
    }

    const char *bad[] = {
        "",
        "example.com:51820",
        "localhost:1",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:+1",
        "1.2.3.4:1 ",
        " 1.2.3.4:1",
        "1.2.3:1",
        "1.2.3.256:1",
        "1.2.3.04:1",
        "::1:80",
        "[::1]80",
        "[::1]:",
        "[::1",
        "[1.2.3.4]:80",
        "[::1]:80x",
        "[fe80::1%]:80",
        "[fe80::1%nosuchif0]:80",
        "[fe80::1%abcdefghijklmnopq]:1",
        "[::1%4294967296]:1",
        "[]:1",
        ":1",
        "1.2.3.4::1",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *body = g_strdup_printf("public_key=%s\nendpoint=%s\n", k, bad[i]);

        assert_parse_err(body, strlen(body), -EINVAL);
    }
}

static void
test_parse_allowed_ips(void)
{
    g_autofree char *k = hexrep('2');
    const char *bad[] = {
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0",
        "10.0.0.0/",
        "/8",
        "10.0.0.0/08",
        "::/00",
        "10.0.0.0/-1",
        "10.0.0.0/+1",
        "10.0.0.0/1000",
        "fe80::1%eth0/64",
        "-10.0.0.0/8",
        "10.0.0/8",
        "10.0.0.0/8/8",
        "10.0.0.0 /8",
        "10.0.0.0/8 ",
        "host/32",
        "",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *body = g_strdup_printf("public_key=%s\nallowed_ip=%s\n", k, bad[i]);

        assert_parse_err(body, strlen(body), -EINVAL);
    }

    /* replace_allowed_ips forgets the lines before it, as wireguard-go does. */
    g_autofree char *body = g_strdup_printf("public_key=%s\nallowed_ip=1.0.0.0/8\n"
                                            "replace_allowed_ips=true\nallowed_ip=2.0.0.0/8\n"
                                            "allowed_ip=128.0.0.0/1\n",
                                            k);
    struct uapi_set *set = parse_ok(body);
    g_autofree char *t0 = ip_text(&set->peers[0].allowed_ips[0]);
    g_autofree char *t1 = ip_text(&set->peers[0].allowed_ips[1]);

    g_assert_true(set->peers[0].replace_allowed_ips);
    g_assert_cmpuint(set->peers[0].n_allowed_ips, ==, 2);
    g_assert_cmpstr(t0, ==, "2.0.0.0/8");
    g_assert_cmpstr(t1, ==, "128.0.0.0/1");
    uapi_set_free(set);
}

static void
test_parse_errors(void)
{
    g_autofree char *k = hexrep('3');
    g_autofree char *k63 = g_strnfill(63, '3');
    g_autofree char *k65 = g_strnfill(65, '3');
    g_autofree char *kbad = g_strdup_printf("%.*sg", 63, k);
    struct {
        const char *fmt;
        int err;
    } cases[] = {
        /* framing: a line without '=', an empty line */
        { "noequals\n", -EPROTO },
        { "listen_port=1\n\nlisten_port=2\n", -EPROTO },
        { "\n", -EPROTO },
        { "public_key=@1\nallowed_ip\n", -EPROTO },
        /* unknown and misplaced keys */
        { "bogus=1\n", -EINVAL },
        { "=1\n", -EINVAL },
        { "Listen_port=1\n", -EINVAL },
        { "listen_port =1\n", -EINVAL },
        { "preshared_key=@1\n", -EINVAL },
        { "endpoint=1.2.3.4:5\n", -EINVAL },
        { "protocol_version=1\n", -EINVAL },
        { "allowed_ip=10.0.0.0/8\n", -EINVAL },
        { "public_key=@1\nlisten_port=1\n", -EINVAL },
        { "public_key=@1\nprivate_key=@1\n", -EINVAL },
        { "public_key=@1\nfwmark=1\n", -EINVAL },
        { "public_key=@1\nreplace_peers=true\n", -EINVAL },
        { "public_key=@1\nbogus=true\n", -EINVAL },
        /* numbers */
        { "listen_port=65536\n", -EINVAL },
        { "listen_port=-1\n", -EINVAL },
        { "listen_port=+1\n", -EINVAL },
        { "listen_port=\n", -EINVAL },
        { "listen_port=1 \n", -EINVAL },
        { "listen_port= 1\n", -EINVAL },
        { "listen_port=0x10\n", -EINVAL },
        { "listen_port=1_0\n", -EINVAL },
        { "listen_port=99999999999999999999999\n", -EINVAL },
        { "fwmark=4294967296\n", -EINVAL },
        { "fwmark=1a\n", -EINVAL },
        { "fwmark=-0\n", -EINVAL },
        { "public_key=@1\npersistent_keepalive_interval=65536\n", -EINVAL },
        { "public_key=@1\npersistent_keepalive_interval=\n", -EINVAL },
        /* keys */
        { "private_key=@2\n", -EINVAL },
        { "private_key=@3\n", -EINVAL },
        { "private_key=@4\n", -EINVAL },
        { "private_key=\n", -EINVAL },
        { "public_key=@2\n", -EINVAL },
        { "public_key=@4\n", -EINVAL },
        { "public_key=\n", -EINVAL },
        { "public_key=@1\npreshared_key=@3\n", -EINVAL },
        { "public_key=@1\npreshared_key=@1 \n", -EINVAL },
        /* flags and protocol_version */
        { "replace_peers=false\n", -EINVAL },
        { "replace_peers=TRUE\n", -EINVAL },
        { "replace_peers=\n", -EINVAL },
        { "public_key=@1\nremove=1\n", -EINVAL },
        { "public_key=@1\nupdate_only=false\n", -EINVAL },
        { "public_key=@1\nreplace_allowed_ips=yes\n", -EINVAL },
        { "public_key=@1\nprotocol_version=2\n", -EINVAL },
        { "public_key=@1\nprotocol_version=01\n", -EINVAL },
        { "public_key=@1\nprotocol_version=\n", -EINVAL },
        /* the error is found late: everything before it is dropped too */
        { "listen_port=1\npublic_key=@1\nallowed_ip=10.0.0.0/8\nallowed_ip=10.0.0.0/33\n",
          -EINVAL },
        { "listen_port=1\r\n", -EINVAL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *subst[] = { k, k63, k65, kbad };
        GString *body = g_string_new(cases[i].fmt);

        for (int j = 0; j < 4; j++) {
            char tok[3] = { '@', (char)('1' + j), 0 };
            g_string_replace(body, tok, subst[j], 0);
        }

        assert_parse_err(body->str, body->len, cases[i].err);
        g_string_free(body, TRUE);
    }

    /* NUL bytes anywhere */
    static const char nul1[] = "listen_port=1\0\n";
    static const char nul2[] = "listen_port=1\n\0";
    assert_parse_err(nul1, sizeof(nul1) - 1, -EINVAL);
    assert_parse_err(nul2, sizeof(nul2) - 1, -EINVAL);

    /* A line over UAPI_MAX_LINE, even though its value would parse. */
    GString *g = g_string_new("fwmark=");
    for (int i = 0; i < UAPI_MAX_LINE; i++)
        g_string_append_c(g, '0');
    g_string_append_c(g, '\n');
    assert_parse_err(g->str, g->len, -EINVAL);
    g_string_truncate(g, UAPI_MAX_LINE);
    struct uapi_set *set = parse_ok(g->str); /* exactly at the limit: fine */
    g_assert_cmpuint(set->fwmark, ==, 0);
    uapi_set_free(set);
    g_string_free(g, TRUE);

    /* Over UAPI_MAX_REQUEST */
    char *big = g_malloc((size_t)UAPI_MAX_REQUEST + 1);
    memset(big, '\n', (size_t)UAPI_MAX_REQUEST + 1);
    assert_parse_err(big, (size_t)UAPI_MAX_REQUEST + 1, -EMSGSIZE);
    g_free(big);
}

static void
test_parse_many(void)
{
    GString *g = g_string_new(NULL);
    struct uapi_set *set;
    uint8_t key[32] = { 0 };

    for (unsigned int i = 0; i < 1000; i++) {
        key[0] = (uint8_t)i;
        key[1] = (uint8_t)(i >> 8);
        g_autofree char *h = key_hex(key);
        g_string_append_printf(g, "public_key=%s\npreshared_key=%s\n", h, h);
        for (unsigned int j = 0; j < 5; j++)
            g_string_append_printf(g, "allowed_ip=10.%u.%u.%u/32\n", i >> 8, i & 0xff, j);
    }
    set = parse_ok(g->str);
    g_assert_cmpuint(set->n_peers, ==, 1000);
    for (unsigned int i = 0; i < 1000; i++) {
        g_assert_cmpuint(set->peers[i].public_key[0], ==, (uint8_t)i);
        g_assert_cmpuint(set->peers[i].preshared_key[1], ==, (uint8_t)(i >> 8));
        g_assert_cmpuint(set->peers[i].n_allowed_ips, ==, 5);
        g_assert_cmpuint(set->peers[i].allowed_ips[4].addr[3], ==, 4);
    }
    uapi_set_free(set);
    g_string_free(g, TRUE);
}

/*****************************************************************************/
/* Formatter */

static void
test_format(void)
{
    struct uapi_allowed_ip ips[2] = {
        { .family = AF_INET, .cidr = 24, .addr = { 10, 1, 2, 3 } },
        { .family = AF_INET6,
          .cidr = 64,
          .addr = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } },
    };
    struct uapi_peer_state peers[3] = { 0 };
    struct uapi_device_state st = { 0 };
    char *text;
    size_t len;

    for (int i = 0; i < 32; i++)
        st.private_key[i] = (uint8_t)(i + 1);
    st.has_private_key = true;
    st.listen_port = 51820;
    st.fwmark = 0x42;
    st.n_peers = 3;
    st.peers = peers;

    memset(peers[0].public_key, 0xaa, 32);
    peers[0].has_endpoint = true;
    peers[0].endpoint.in4.sin_family = AF_INET;
    peers[0].endpoint.in4.sin_port = htons(51820);
    inet_pton(AF_INET, "192.0.2.1", &peers[0].endpoint.in4.sin_addr);
    peers[0].last_handshake_sec = 1700000000;
    peers[0].last_handshake_nsec = 123;
    peers[0].tx_bytes = 10;
    peers[0].rx_bytes = UINT64_MAX;
    peers[0].n_allowed_ips = 2;
    peers[0].allowed_ips = ips;

    memset(peers[1].public_key, 0xbb, 32);
    memset(peers[1].preshared_key, 0xcc, 32);
    peers[1].has_endpoint = true;
    peers[1].endpoint.in6.sin6_family = AF_INET6;
    peers[1].endpoint.in6.sin6_port = htons(443);
    inet_pton(AF_INET6, "2001:db8::1", &peers[1].endpoint.in6.sin6_addr);
    peers[1].keepalive_interval = 25;

    memset(peers[2].public_key, 0x01, 32);
    peers[2].has_endpoint = true;
    peers[2].endpoint.in6.sin6_family = AF_INET6;
    peers[2].endpoint.in6.sin6_port = htons(1);
    peers[2].endpoint.in6.sin6_scope_id = 4000000000u; /* no such interface */
    inet_pton(AF_INET6, "fe80::1", &peers[2].endpoint.in6.sin6_addr);

    g_autofree char *aa = hexrep('a'), *bb = hexrep('b'), *cc = hexrep('c'), *zz = hexrep('0');
    g_autofree char *oo = g_strnfill(64, '0');
    for (int i = 1; i < 64; i += 2)
        oo[i] = '1';
    g_autofree char *expected = g_strdup_printf(
        "private_key=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n"
        "listen_port=51820\n"
        "fwmark=66\n"
        "public_key=%s\n"
        "preshared_key=%s\n"
        "protocol_version=1\n"
        "endpoint=192.0.2.1:51820\n"
        "last_handshake_time_sec=1700000000\n"
        "last_handshake_time_nsec=123\n"
        "tx_bytes=10\n"
        "rx_bytes=18446744073709551615\n"
        "persistent_keepalive_interval=0\n"
        "allowed_ip=10.1.2.0/24\n"
        "allowed_ip=fd00::/64\n"
        "public_key=%s\n"
        "preshared_key=%s\n"
        "protocol_version=1\n"
        "endpoint=[2001:db8::1]:443\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=0\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=25\n"
        "public_key=%s\n"
        "preshared_key=%s\n"
        "protocol_version=1\n"
        "endpoint=[fe80::1%%4000000000]:1\n"
        "last_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\n"
        "tx_bytes=0\n"
        "rx_bytes=0\n"
        "persistent_keepalive_interval=0\n",
        aa, zz, bb, cc, oo, zz);

    text = uapi_format_get(&st, &len);
    g_assert_nonnull(text);
    g_assert_cmpstr(text, ==, expected);
    g_assert_cmpuint(len, ==, strlen(expected));
    uapi_free_text(text, len);

    /* Conditional lines: no private key, port 0, fwmark 0, no endpoint. */
    st.has_private_key = false;
    st.listen_port = 0;
    st.fwmark = 0;
    st.n_peers = 1;
    peers[0].has_endpoint = false;
    peers[0].n_allowed_ips = 0;
    g_autofree char *expected2 = g_strdup_printf(
        "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
        "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123\n"
        "tx_bytes=10\nrx_bytes=18446744073709551615\npersistent_keepalive_interval=0\n",
        aa, zz);
    text = uapi_format_get(&st, &len);
    g_assert_cmpstr(text, ==, expected2);
    uapi_free_text(text, len);

    /* has_private_key with an all-zero key prints nothing, as wireguard-go. */
    struct uapi_device_state empty = { .has_private_key = true };
    text = uapi_format_get(&empty, &len);
    g_assert_cmpstr(text, ==, "");
    g_assert_cmpuint(len, ==, 0);
    uapi_free_text(text, len);

    /* Inconsistent input is refused, not dereferenced. */
    struct uapi_device_state broken = { .n_peers = 1 };
    g_assert_null(uapi_format_get(&broken, &len));
    g_assert_null(uapi_format_get(NULL, &len));
}

/*****************************************************************************/
/* In-memory device model behind uapi_ops, with wireguard-go's semantics. */

enum { MODEL_PEERS = 16, MODEL_IPS = 16 };

struct mpeer {
    uint8_t pub[32], psk[32];
    bool has_ep;
    union wg_sockaddr ep;
    uint16_t keepalive;
    size_t n_ips;
    struct uapi_allowed_ip ips[MODEL_IPS];
    uint64_t rx, tx;
    int64_t hs_sec, hs_nsec;
};

struct mdata {
    bool has_priv;
    uint8_t priv[32];
    uint16_t port;
    uint32_t fwmark;
    size_t n_peers;
    struct mpeer peers[MODEL_PEERS];
};

struct model {
    GMutex lock;
    struct mdata d;
    int set_calls, get_calls;
    int fail_next_set; /* negative errno to return once */
};

static void
mask_ip(struct uapi_allowed_ip *ip)
{
    unsigned int bits = ip->family == AF_INET ? 32 : 128;

    for (unsigned int b = ip->cidr; b < bits; b++)
        ip->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

static int
find_peer(const struct mdata *d, const uint8_t pub[32])
{
    for (size_t i = 0; i < d->n_peers; i++)
        if (memcmp(d->peers[i].pub, pub, 32) == 0)
            return (int)i;
    return -1;
}

static int
model_apply(struct mdata *d, const struct uapi_set *s)
{
    struct mdata *n = g_memdup2(d, sizeof(*d));
    uint8_t self[32] = { 0 };
    int r = 0;

    if (s->has_private_key) {
        memcpy(n->priv, s->private_key, 32);
        n->has_priv = !sodium_is_zero(s->private_key, 32);
    }
    if (s->has_listen_port)
        n->port = s->listen_port;
    if (s->has_fwmark)
        n->fwmark = s->fwmark;
    if (s->replace_peers)
        n->n_peers = 0;
    if (n->has_priv)
        public_of(self, n->priv);

    for (size_t i = 0; i < s->n_peers; i++) {
        const struct uapi_peer_set *ps = &s->peers[i];
        struct mpeer *p;
        int idx;

        if (n->has_priv && memcmp(ps->public_key, self, 32) == 0)
            continue; /* our own key: a dummy peer */
        idx = find_peer(n, ps->public_key);
        if (ps->remove) {
            if (idx >= 0) {
                memmove(&n->peers[idx], &n->peers[idx + 1],
                        (n->n_peers - (size_t)idx - 1) * sizeof(n->peers[0]));
                n->n_peers--;
            }
            continue;
        }
        if (idx < 0) {
            if (ps->update_only)
                continue;
            if (n->n_peers == MODEL_PEERS) {
                r = -ENOSPC;
                goto out;
            }
            idx = (int)n->n_peers++;
            memset(&n->peers[idx], 0, sizeof(n->peers[0]));
            memcpy(n->peers[idx].pub, ps->public_key, 32);
        }
        p = &n->peers[idx];
        if (ps->has_preshared_key)
            memcpy(p->psk, ps->preshared_key, 32);
        if (ps->has_endpoint) {
            p->has_ep = true;
            p->ep = ps->endpoint;
        }
        if (ps->has_keepalive)
            p->keepalive = ps->keepalive_interval;
        if (ps->replace_allowed_ips)
            p->n_ips = 0;
        for (size_t j = 0; j < ps->n_allowed_ips; j++) {
            struct uapi_allowed_ip ip = ps->allowed_ips[j];
            bool dup = false;

            mask_ip(&ip);
            /* A prefix belongs to one peer: take it from the others. */
            for (size_t q = 0; q < n->n_peers; q++) {
                struct mpeer *o = &n->peers[q];

                for (size_t m = 0; m < o->n_ips; m++) {
                    if (memcmp(&o->ips[m], &ip, sizeof(ip)) != 0)
                        continue;
                    if (o == p) {
                        dup = true;
                        continue;
                    }
                    memmove(&o->ips[m], &o->ips[m + 1], (o->n_ips - m - 1) * sizeof(ip));
                    o->n_ips--;
                    m--;
                }
            }
            if (dup)
                continue;
            if (p->n_ips == MODEL_IPS) {
                r = -ENOSPC;
                goto out;
            }
            p->ips[p->n_ips++] = ip;
        }
    }
    *d = *n;
out:
    sodium_memzero(n, sizeof(*n));
    g_free(n);
    return r;
}

static int
model_set(void *ctx, const struct uapi_set *s)
{
    struct model *m = ctx;
    int r;

    g_mutex_lock(&m->lock);
    m->set_calls++;
    if (m->fail_next_set) {
        r = m->fail_next_set;
        m->fail_next_set = 0;
    } else {
        r = model_apply(&m->d, s);
    }
    g_mutex_unlock(&m->lock);
    return r;
}

static int
model_get(void *ctx, struct uapi_device_state *out)
{
    struct model *m = ctx;

    g_mutex_lock(&m->lock);
    m->get_calls++;
    memset(out, 0, sizeof(*out));
    out->has_private_key = m->d.has_priv;
    memcpy(out->private_key, m->d.priv, 32);
    out->listen_port = m->d.port;
    out->fwmark = m->d.fwmark;
    out->n_peers = m->d.n_peers;
    out->peers = calloc(m->d.n_peers + 1, sizeof(*out->peers));
    for (size_t i = 0; i < m->d.n_peers; i++) {
        const struct mpeer *p = &m->d.peers[i];
        struct uapi_peer_state *o = &out->peers[i];

        memcpy(o->public_key, p->pub, 32);
        memcpy(o->preshared_key, p->psk, 32);
        o->has_endpoint = p->has_ep;
        o->endpoint = p->ep;
        o->last_handshake_sec = p->hs_sec;
        o->last_handshake_nsec = p->hs_nsec;
        o->rx_bytes = p->rx;
        o->tx_bytes = p->tx;
        o->keepalive_interval = p->keepalive;
        o->n_allowed_ips = p->n_ips;
        o->allowed_ips = malloc((p->n_ips + 1) * sizeof(*o->allowed_ips));
        memcpy(o->allowed_ips, p->ips, p->n_ips * sizeof(*o->allowed_ips));
    }
    g_mutex_unlock(&m->lock);
    return 0;
}

static const struct uapi_ops model_ops = { .get = model_get, .set = model_set };

static struct mdata
model_snapshot(struct model *m)
{
    struct mdata d;

    g_mutex_lock(&m->lock);
    d = m->d;
    g_mutex_unlock(&m->lock);
    return d;
}

static void
assert_model_equal(const struct mdata *a, const struct mdata *b)
{
    g_assert_cmpmem(a, sizeof(*a), b, sizeof(*b));
}

/*****************************************************************************/
/* A server thread: accept + uapi_serve until stopped. */

struct server {
    int lfd;
    char *dir, *ifname, *path;
    GThread *thread;
    gint stop;
    struct model *m;
    gint served;
    int last_rc;
};

static gpointer
server_main(gpointer data)
{
    struct server *s = data;

    for (;;) {
        int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (g_atomic_int_get(&s->stop)) {
            close(c);
            break;
        }
        s->last_rc = uapi_serve(c, &model_ops, s->m);
        close(c);
        g_atomic_int_inc(&s->served);
    }
    return NULL;
}

static struct server *
server_start(const char *dir, const char *ifname, struct model *m)
{
    struct server *s = g_new0(struct server, 1);

    s->dir = g_strdup(dir);
    s->ifname = g_strdup(ifname);
    s->path = g_strdup_printf("%s/%s.sock", dir ? dir : "/var/run/wireguard", ifname);
    s->m = m;
    s->lfd = uapi_listen(dir, ifname);
    g_assert_cmpint(s->lfd, >=, 0);
    s->thread = g_thread_new("uapi-server", server_main, s);
    return s;
}

static int
connect_path(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(a.sun_path, path, sizeof(a.sun_path));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static void
server_stop(struct server *s)
{
    int fd;

    g_atomic_int_set(&s->stop, 1);
    fd = connect_path(s->path);
    if (fd >= 0)
        close(fd);
    g_thread_join(s->thread);
    close(s->lfd);
    uapi_unlink(s->dir, s->ifname);
    g_assert_false(g_file_test(s->path, G_FILE_TEST_EXISTS));
    g_free(s->dir);
    g_free(s->ifname);
    g_free(s->path);
    g_free(s);
}

/* Sends req, half-closes, returns everything the server wrote until it closed. */
static char *
raw_request(const char *path, const char *req, size_t len)
{
    GString *out = g_string_new(NULL);
    int fd = connect_path(path);
    char buf[4096];
    ssize_t n;

    g_assert_cmpint(fd, >=, 0);
    while (len) {
        n = send(fd, req, len, MSG_NOSIGNAL);
        if (n < 0)
            break; /* the server may close on bad framing */
        req += n;
        len -= (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(out, buf, n);
    close(fd);
    return g_string_free(out, FALSE);
}

static char *
raw_str(const char *path, const char *req)
{
    return raw_request(path, req, strlen(req));
}

/*****************************************************************************/
/* Socket tests (temp dir, no root needed) */

static void
test_server_raw(void)
{
    g_autofree char *tmp = g_dir_make_tmp("uapi-XXXXXX", NULL);
    g_autofree char *dir = g_build_filename(tmp, "a", "b", NULL); /* mkdir -p */
    struct model m = { 0 };
    struct server *s;
    struct mdata before;
    struct stat st;
    char *r;
    g_autofree char *k = hexrep('4');

    g_mutex_init(&m.lock);
    s = server_start(dir, "hyraw0", &m);
    g_assert_cmpint(stat(dir, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0755);
    g_assert_cmpint(lstat(s->path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpuint(st.st_mode & 0077, ==, 0);

    /* empty device */
    r = raw_str(s->path, "get=1\n\n");
    g_assert_cmpstr(r, ==, "errno=0\n\n");
    g_free(r);

    g_autofree char *good = g_strdup_printf("set=1\nlisten_port=7\npublic_key=%s\n"
                                            "allowed_ip=10.0.0.0/8\n\n",
                                            k);
    r = raw_str(s->path, good);
    g_assert_cmpstr(r, ==, "errno=0\n\n");
    g_free(r);
    before = model_snapshot(&m);
    g_assert_cmpuint(before.port, ==, 7);
    g_assert_cmpuint(before.n_peers, ==, 1);

    struct {
        const char *req;
        const char *reply;
    } bad[] = {
        { "set=1\nlisten_port=99999\n\n", "errno=-22\n\n" },
        { "set=1\nbogus=1\n\n", "errno=-22\n\n" },
        { "set=1\nnoequals\n\n", "errno=-71\n\n" },
        { "set=1\nlisten_port=5\nreplace_peers=true\npublic_key=zz\n\n", "errno=-22\n\n" },
        { "set=1\nlisten_port=5\n", "" }, /* EOF mid-request */
        { "set=1\nlisten_port=5", "" },
        { "set=1\n", "" },
        { "bogus=1\n", "" }, /* unknown op: closed */
        { "get=2\n\n", "" },
        { "GET=1\n\n", "" },
        { "get=1\r\n\r\n", "" },
        { "get=1\nX", "errno=-22\n\n" }, /* then closed */
        { "get=1\nXset=1\nlisten_port=5\n\n", "errno=-22\n\n" },
        { "\n", "" },
        { "", "" },
        { "set=1\nlisten_port=5\nset=1\n\n", "errno=-22\n\n" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        r = raw_str(s->path, bad[i].req);
        if (g_strcmp0(r, bad[i].reply) != 0)
            g_error("request %zu \"%s\": reply \"%s\", expected \"%s\"", i, bad[i].req, r,
                    bad[i].reply);
        g_free(r);
        struct mdata now = model_snapshot(&m);
        assert_model_equal(&before, &now);
    }

    /* NUL inside a request */
    static const char nul[] = "set=1\nlisten_port=5\0\n\n";
    r = raw_request(s->path, nul, sizeof(nul) - 1);
    g_assert_cmpstr(r, ==, "errno=-22\n\n");
    g_free(r);
    static const char nul_op[] = "set=1\0\nlisten_port=5\n\n";
    r = raw_request(s->path, nul_op, sizeof(nul_op) - 1);
    g_assert_cmpstr(r, ==, "");
    g_free(r);

    /* Over-long line: errno=-EMSGSIZE, then closed. */
    GString *g = g_string_new("set=1\nfwmark=");
    for (int i = 0; i < UAPI_MAX_LINE + 10; i++)
        g_string_append_c(g, '0');
    g_string_append(g, "\n\nget=1\n\n");
    r = raw_request(s->path, g->str, g->len);
    g_assert_cmpstr(r, ==, "errno=-90\n\n");
    g_free(r);
    g_string_free(g, TRUE);
    struct mdata now = model_snapshot(&m);
    assert_model_equal(&before, &now);

    /* The ops' own errors reach the client with wireguard-go's sign. */
    m.fail_next_set = -EADDRINUSE;
    r = raw_str(s->path, "set=1\nlisten_port=8\n\n");
    g_assert_cmpstr(r, ==, "errno=-98\n\n");
    g_free(r);

    /* Several requests on one connection, in one write. */
    g_autofree char *zeros = hexrep('0');
    r = raw_str(s->path, "set=1\nlisten_port=9\n\nget=1\n\nset=1\nfwmark=3\n\nget=1\n\n");
    g_autofree char *pk = g_strdup_printf(
        "public_key=%s\npreshared_key=%s\nprotocol_version=1\nlast_handshake_time_sec=0\n"
        "last_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
        "allowed_ip=10.0.0.0/8\n",
        k, zeros);
    g_autofree char *want = g_strdup_printf("errno=0\n\nlisten_port=9\n%serrno=0\n\n"
                                            "errno=0\n\nlisten_port=9\nfwmark=3\n%serrno=0\n\n",
                                            pk, pk);
    g_assert_cmpstr(r, ==, want);
    g_free(r);

    /* A set followed by garbage: the set is applied, then the connection closed. */
    r = raw_str(s->path, "set=1\nlisten_port=5\n\nbogus\n");
    g_assert_cmpstr(r, ==, "errno=0\n\n");
    g_free(r);
    g_assert_cmpuint(model_snapshot(&m).port, ==, 5);

    /* Requests split into single bytes. */
    {
        int fd = connect_path(s->path);
        const char *req = "set=1\nlisten_port=6\n\nget=1\n\n";
        char buf[4096];
        ssize_t n;
        size_t got = 0;

        for (const char *p = req; *p; p++) {
            g_assert_cmpint(send(fd, p, 1, MSG_NOSIGNAL), ==, 1);
            g_usleep(100);
        }
        shutdown(fd, SHUT_WR);
        while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = '\0';
        close(fd);
        g_assert_true(g_str_has_prefix(buf, "errno=0\n\nlisten_port=6\nfwmark=3\npublic_key="));
        g_assert_true(g_str_has_suffix(buf, "errno=0\n\n"));
    }

    /* Clients that vanish without reading: no SIGPIPE, the server goes on. */
    for (int round = 0; round < 5; round++) {
        GString *many = g_string_new(NULL);
        int fd = connect_path(s->path);

        for (int i = 0; i < 2000; i++)
            g_string_append(many, "get=1\n\n");
        (void)send(fd, many->str, many->len, MSG_NOSIGNAL);
        close(fd);
        g_string_free(many, TRUE);
    }
    r = raw_str(s->path, "set=1\nlisten_port=11\n\n");
    g_assert_cmpstr(r, ==, "errno=0\n\n");
    g_free(r);
    g_assert_cmpuint(model_snapshot(&m).port, ==, 11);

    server_stop(s);
    g_mutex_clear(&m.lock);
    g_rmdir(dir);
    g_autofree char *mid = g_build_filename(tmp, "a", NULL);
    g_rmdir(mid);
    g_rmdir(tmp);
}

static void
test_server_listen(void)
{
    g_autofree char *tmp = g_dir_make_tmp("uapi-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(tmp, "hylst0.sock", NULL);
    int a, b;

    a = uapi_listen(tmp, "hylst0");
    g_assert_cmpint(a, >=, 0);
    /* live: refused, and the socket is left alone */
    g_assert_cmpint(uapi_listen(tmp, "hylst0"), ==, -EADDRINUSE);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    /* stale (no listener): replaced */
    close(a);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    b = uapi_listen(tmp, "hylst0");
    g_assert_cmpint(b, >=, 0);
    close(b);
    uapi_unlink(tmp, "hylst0");
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    /* not a socket: never removed */
    g_assert_true(g_file_set_contents(path, "x", 1, NULL));
    g_assert_cmpint(uapi_listen(tmp, "hylst0"), ==, -EEXIST);
    g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    g_unlink(path);

    /* bad names */
    g_assert_cmpint(uapi_listen(tmp, ""), ==, -EINVAL);
    g_assert_cmpint(uapi_listen(tmp, "a/b"), ==, -EINVAL);
    g_assert_cmpint(uapi_listen(tmp, ".."), ==, -EINVAL);
    g_assert_cmpint(uapi_listen(tmp, "0123456789abcdef"), ==, -EINVAL);
    g_assert_cmpint(uapi_listen(tmp, NULL), ==, -EINVAL);
    g_autofree char *longdir = g_strnfill(120, 'd');
    g_assert_cmpint(uapi_listen(longdir, "x"), ==, -ENAMETOOLONG);
    /* dir is a file */
    g_autofree char *file = g_build_filename(tmp, "f", NULL);
    g_assert_true(g_file_set_contents(file, "x", 1, NULL));
    g_assert_cmpint(uapi_listen(file, "x"), <, 0);
    g_unlink(file);
    g_rmdir(tmp);
}

/*****************************************************************************/
/* Interop with wg(8) */

static char *
run_wg(int *status, const char *first, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    const char *a;
    va_list ap;
    int st = -1;

    g_ptr_array_add(argv, (char *)WG_TOOL);
    va_start(ap, first);
    for (a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                      &st, &error))
        g_error("spawn wg: %s", error->message);
    g_ptr_array_free(argv, TRUE);
    if (err && *err)
        g_test_message("wg %s stderr: %s", first, err);
    *status = g_spawn_check_wait_status(st, NULL) ? 0 : (WIFEXITED(st) ? WEXITSTATUS(st) : 255);
    if (status && *status && err)
        return g_strconcat(out, "\n--stderr--\n", err, NULL);
    return g_steal_pointer(&out);
}

static char *
write_file(const char *dir, const char *name, const char *contents)
{
    char *path = g_build_filename(dir, name, NULL);

    g_assert_true(
        g_file_set_contents_full(path, contents, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    return path;
}

static void
test_interop_wg(void)
{
    g_autofree char *ifname = g_strdup_printf("hyutest%d", (int)getpid());
    g_autofree char *tmp = NULL;
    struct model m = { 0 };
    struct server *s;
    uint8_t priv[32], pub[32], ppriv[32], ppub[32], psk[32], priv2[32], pub2[32], p2priv[32],
        p2pub[32];
    struct mdata d;
    int st;
    char *out;

    if (getuid() != 0 || !g_file_test(WG_TOOL, G_FILE_TEST_IS_EXECUTABLE)) {
        fixture_missing("needs root and " WG_TOOL " (wg only looks in /var/run/wireguard)");
        return;
    }
    tmp = g_dir_make_tmp("uapi-wg-XXXXXX", NULL);
    g_mutex_init(&m.lock);
    s = server_start(NULL, ifname, &m);

    gen_private(priv);
    public_of(pub, priv);
    gen_private(ppriv);
    public_of(ppub, ppriv);
    randombytes_buf(psk, 32);
    g_autofree char *priv_b64 = key_b64(priv), *pub_b64 = key_b64(pub), *ppub_b64 = key_b64(ppub),
                    *psk_b64 = key_b64(psk);
    g_autofree char *priv_file = write_file(tmp, "priv", priv_b64);
    g_autofree char *psk_file = write_file(tmp, "psk", psk_b64);

    /* wg lists userspace interfaces from the socket directory. */
    out = run_wg(&st, "show", "interfaces", NULL);
    g_assert_nonnull(strstr(out, ifname));
    g_free(out);

    /* wg set */
    out = run_wg(&st, "set", ifname, "private-key", priv_file, "listen-port", "51820", "peer",
                 ppub_b64, "allowed-ips", "10.0.0.0/8,fd00::/64", "endpoint", "127.0.0.1:1234",
                 "persistent-keepalive", "25", "preshared-key", psk_file, NULL);
    g_assert_cmpint(st, ==, 0);
    g_free(out);
    d = model_snapshot(&m);
    g_assert_true(d.has_priv);
    g_assert_cmpmem(d.priv, 32, priv, 32);
    g_assert_cmpuint(d.port, ==, 51820);
    g_assert_cmpuint(d.fwmark, ==, 0);
    g_assert_cmpuint(d.n_peers, ==, 1);
    g_assert_cmpmem(d.peers[0].pub, 32, ppub, 32);
    g_assert_cmpmem(d.peers[0].psk, 32, psk, 32);
    g_assert_cmpuint(d.peers[0].keepalive, ==, 25);
    g_autofree char *ep = ep_text(&d.peers[0].ep);
    g_assert_cmpstr(ep, ==, "127.0.0.1:1234");
    g_assert_cmpuint(d.peers[0].n_ips, ==, 2);
    g_autofree char *ip0 = ip_text(&d.peers[0].ips[0]), *ip1 = ip_text(&d.peers[0].ips[1]);
    g_assert_cmpstr(ip0, ==, "10.0.0.0/8");
    g_assert_cmpstr(ip1, ==, "fd00::/64");

    /* Counters the engine would fill in. */
    g_mutex_lock(&m.lock);
    m.d.peers[0].rx = 1000;
    m.d.peers[0].tx = 2000;
    m.d.peers[0].hs_sec = 1700000000;
    m.d.peers[0].hs_nsec = 5;
    g_mutex_unlock(&m.lock);

    /* wg show dump: every field through our get=1 reply */
    out = run_wg(&st, "show", ifname, "dump", NULL);
    g_assert_cmpint(st, ==, 0);
    g_autofree char *dump = g_strdup_printf("%s\t%s\t51820\toff\n"
                                            "%s\t%s\t127.0.0.1:1234\t10.0.0.0/8,fd00::/64\t"
                                            "1700000000\t1000\t2000\t25\n",
                                            priv_b64, pub_b64, ppub_b64, psk_b64);
    g_assert_cmpstr(out, ==, dump);
    g_free(out);

    /* wg showconf */
    out = run_wg(&st, "showconf", ifname, NULL);
    g_assert_cmpint(st, ==, 0);
    g_autofree char *conf = g_strdup_printf("[Interface]\nListenPort = 51820\nPrivateKey = %s\n\n"
                                            "[Peer]\nPublicKey = %s\nPresharedKey = %s\n"
                                            "AllowedIPs = 10.0.0.0/8, fd00::/64\n"
                                            "Endpoint = 127.0.0.1:1234\nPersistentKeepalive = 25\n",
                                            priv_b64, ppub_b64, psk_b64);
    g_assert_cmpstr(out, ==, conf);
    g_free(out);

    /* Rejected by wg itself: nothing reaches us. */
    struct mdata before = model_snapshot(&m);
    int sets = m.set_calls;
    out = run_wg(&st, "set", ifname, "peer", ppub_b64, "allowed-ips", "10.0.0.0/33", NULL);
    g_assert_cmpint(st, !=, 0);
    g_free(out);
    g_assert_cmpint(m.set_calls, ==, sets);

    /* Rejected by us: wg prints our errno with the right sign. */
    m.fail_next_set = -EADDRINUSE;
    out = run_wg(&st, "set", ifname, "listen-port", "1", NULL);
    g_assert_cmpint(st, !=, 0);
    g_assert_nonnull(strstr(out, "Address already in use"));
    g_free(out);
    d = model_snapshot(&m);
    assert_model_equal(&before, &d);

    /* Malformed requests over the real socket: errno != 0, model unchanged. */
    g_autofree char *k = key_hex(ppub);
    const char *raw_bad[] = {
        "set=1\nlisten_port=2\npublic_key=%s\nallowed_ip=10.0.0.0/33\n\n",
        "set=1\nreplace_peers=true\npublic_key=%s\nendpoint=example.com:1\n\n",
        "set=1\nlisten_port=2\npublic_key=%s\nremove=true\nlisten_port=3\n\n",
        "set=1\nreplace_peers=true\npublic_key=%s\nprotocol_version=2\n\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(raw_bad); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        g_autofree char *req = g_strdup_printf(raw_bad[i], k);
#pragma GCC diagnostic pop
        out = raw_str(s->path, req);
        g_assert_cmpstr(out, ==, "errno=-22\n\n");
        g_free(out);
        d = model_snapshot(&m);
        assert_model_equal(&before, &d);
    }

    /* wg syncconf: new key and port, peer 1 removed, peer 2 added. */
    gen_private(priv2);
    public_of(pub2, priv2);
    gen_private(p2priv);
    public_of(p2pub, p2priv);
    g_autofree char *priv2_b64 = key_b64(priv2), *p2pub_b64 = key_b64(p2pub);
    g_autofree char *sync =
        g_strdup_printf("[Interface]\nPrivateKey = %s\nListenPort = 51821\n"
                        "FwMark = 0x20\n\n"
                        "[Peer]\nPublicKey = %s\nAllowedIPs = 192.168.1.0/24, 10.9.0.0/16\n"
                        "Endpoint = [::1]:5555\n",
                        priv2_b64, p2pub_b64);
    g_autofree char *sync_file = write_file(tmp, "sync.conf", sync);
    out = run_wg(&st, "syncconf", ifname, sync_file, NULL);
    g_assert_cmpint(st, ==, 0);
    g_free(out);
    d = model_snapshot(&m);
    g_assert_cmpmem(d.priv, 32, priv2, 32);
    g_assert_cmpuint(d.port, ==, 51821);
    g_assert_cmpuint(d.fwmark, ==, 0x20);
    g_assert_cmpuint(d.n_peers, ==, 1);
    g_assert_cmpmem(d.peers[0].pub, 32, p2pub, 32);
    g_assert_true(sodium_is_zero(d.peers[0].psk, 32));
    g_autofree char *ep2 = ep_text(&d.peers[0].ep);
    g_assert_cmpstr(ep2, ==, "[::1%0]:5555");
    g_assert_cmpuint(d.peers[0].n_ips, ==, 2);
    g_autofree char *ip2 = ip_text(&d.peers[0].ips[0]);
    g_assert_cmpstr(ip2, ==, "192.168.1.0/24");

    out = run_wg(&st, "showconf", ifname, NULL);
    g_assert_cmpint(st, ==, 0);
    g_autofree char *conf2 = g_strdup_printf("[Interface]\nListenPort = 51821\nFwMark = 0x20\n"
                                             "PrivateKey = %s\n\n"
                                             "[Peer]\nPublicKey = %s\n"
                                             "AllowedIPs = 192.168.1.0/24, 10.9.0.0/16\n"
                                             "Endpoint = [::1]:5555\n",
                                             priv2_b64, p2pub_b64);
    g_assert_cmpstr(out, ==, conf2);
    g_free(out);

    /* Removing the peer and clearing fwmark with wg set. */
    out = run_wg(&st, "set", ifname, "fwmark", "off", "peer", p2pub_b64, "remove", NULL);
    g_assert_cmpint(st, ==, 0);
    g_free(out);
    d = model_snapshot(&m);
    g_assert_cmpuint(d.n_peers, ==, 0);
    g_assert_cmpuint(d.fwmark, ==, 0);
    out = run_wg(&st, "show", ifname, "dump", NULL);
    g_autofree char *pub2_b64 = key_b64(pub2);
    g_autofree char *dump2 = g_strdup_printf("%s\t%s\t51821\toff\n", priv2_b64, pub2_b64);
    g_assert_cmpstr(out, ==, dump2);
    g_free(out);

    server_stop(s);
    g_mutex_clear(&m.lock);
    sodium_memzero(priv, sizeof(priv));
    g_unlink(priv_file);
    g_unlink(psk_file);
    g_unlink(sync_file);
    g_rmdir(tmp);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);

    g_test_add_func("/uapi/parse/device", test_parse_device);
    g_test_add_func("/uapi/parse/peer", test_parse_peer);
    g_test_add_func("/uapi/parse/endpoints", test_parse_endpoints);
    g_test_add_func("/uapi/parse/allowed-ips", test_parse_allowed_ips);
    g_test_add_func("/uapi/parse/errors", test_parse_errors);
    g_test_add_func("/uapi/parse/many-peers", test_parse_many);
    g_test_add_func("/uapi/format/exact", test_format);
    g_test_add_func("/uapi/server/raw", test_server_raw);
    g_test_add_func("/uapi/server/listen", test_server_listen);
    g_test_add_func("/uapi/interop/wg", test_interop_wg);
    return g_test_run();
}
