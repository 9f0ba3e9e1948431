/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/magicsock/derp-client (the DERP client state
 * machine, derp/derp_client.go), with the server's side played here by the
 * frame codec: every byte the client writes is parsed back.
 *
 *  /derp-client/login              ServerKey → ClientInfo (opens to our JSON) → ServerInfo
 *  /derp-client/login-byte-by-byte the same stream fed one byte at a time
 *  /derp-client/frames             Ping → Pong, RecvPacket, PeerGone, Health, Restarting,
 *                                  KeepAlive and unknown types skipped, short ones ignored
 *  /derp-client/preferred          NotePreferred at login and on change only
 *  /derp-client/send               SendPacket framing, -ENOTCONN, -EMSGSIZE
 *  /derp-client/hostile/...        bad magic, another first frame, a 1 KiB+ greeting,
 *                                  2 GiB (whole or split header), ServerInfo that does not open
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "magicsock/derp-client.h"

#define CLIENT_INFO_JSON "{\"version\":2,\"CanAckPings\":true}"

/* What the client did, as the server and the daemon would see it. */
struct fixture {
    uint8_t client_priv[KEY_LEN], client_pub[KEY_LEN];
    uint8_t server_priv[KEY_LEN], server_pub[KEY_LEN];
    struct derp_client *c;
    GByteArray *written; /* every byte */
    guint writes;
    guint connected;
    GPtrArray *packets; /* GBytes: src ‖ data */
    GPtrArray *gone;    /* GBytes: key ‖ reason */
    char *health;
    uint32_t reconnect_in, try_for;
};

static void
on_write(void *ctx, const uint8_t *data, size_t len)
{
    struct fixture *f = ctx;
    struct derp_frame fr;

    /* One whole frame per call. */
    g_assert_cmpint(derp_frame_parse(data, len, DERP_MAX_FRAME, &fr), ==, (ssize_t)len);
    g_byte_array_append(f->written, data, (guint)len);
    f->writes++;
}

static void
on_connected(void *ctx)
{
    struct fixture *f = ctx;

    f->connected++;
}

static void
on_recv(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *data, size_t len)
{
    struct fixture *f = ctx;
    GByteArray *b = g_byte_array_new();

    g_byte_array_append(b, src, DERP_KEY_LEN);
    g_byte_array_append(b, data, (guint)len);
    g_ptr_array_add(f->packets, g_byte_array_free_to_bytes(b));
}

static void
on_peer_gone(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason)
{
    struct fixture *f = ctx;
    uint8_t b[DERP_KEY_LEN + 1];

    memcpy(b, key, DERP_KEY_LEN);
    b[DERP_KEY_LEN] = reason;
    g_ptr_array_add(f->gone, g_bytes_new(b, sizeof(b)));
}

static void
on_health(void *ctx, const char *text, size_t len)
{
    struct fixture *f = ctx;

    g_free(f->health);
    f->health = g_strndup(text, len);
}

static void
on_restarting(void *ctx, uint32_t reconnect_in_ms, uint32_t try_for_ms)
{
    struct fixture *f = ctx;

    f->reconnect_in = reconnect_in_ms;
    f->try_for = try_for_ms;
}

static const struct derp_client_ops ops = {
    .write = on_write,
    .connected = on_connected,
    .recv_packet = on_recv,
    .peer_gone = on_peer_gone,
    .health = on_health,
    .restarting = on_restarting,
};

static void
fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    key_generate_private(f->client_priv);
    g_assert_true(key_public_from_private(f->client_pub, f->client_priv));
    key_generate_private(f->server_priv);
    g_assert_true(key_public_from_private(f->server_pub, f->server_priv));
    f->written = g_byte_array_new();
    f->packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    f->gone = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    f->c = derp_client_new(f->client_priv, &ops, f);
    g_assert_nonnull(f->c);
}

static void
fixture_clear(struct fixture *f)
{
    derp_client_free(f->c);
    g_byte_array_unref(f->written);
    g_ptr_array_unref(f->packets);
    g_ptr_array_unref(f->gone);
    g_free(f->health);
}

/* Appends a frame of type with payload a ‖ b to out. */
static void
put_frame(GByteArray *out, uint8_t type, const void *a, size_t a_len, const void *b, size_t b_len)
{
    uint8_t h[DERP_HEADER_LEN];

    derp_frame_header(h, type, (uint32_t)(a_len + b_len));
    g_byte_array_append(out, h, sizeof(h));
    if (a_len)
        g_byte_array_append(out, a, (guint)a_len);
    if (b_len)
        g_byte_array_append(out, b, (guint)b_len);
}

static void
put_server_key(struct fixture *f, GByteArray *out)
{
    put_frame(out, DERP_FRAME_SERVER_KEY, DERP_MAGIC, DERP_MAGIC_LEN, f->server_pub, KEY_LEN);
}

static void
put_server_info(struct fixture *f, GByteArray *out, const uint8_t *sealer_priv)
{
    static const char json[] = "{\"version\":2}";
    uint8_t box[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(json)];
    ssize_t n = derp_seal_info(box, sizeof(box), (const uint8_t *)json, sizeof(json) - 1,
                               f->client_pub, sealer_priv);

    g_assert_cmpint(n, >, 0);
    put_frame(out, DERP_FRAME_SERVER_INFO, box, (size_t)n, NULL, 0);
}

static int
feed(struct fixture *f, GByteArray *in)
{
    int r = derp_client_feed(f->c, in->data, in->len, 1000);

    g_byte_array_set_size(in, 0);
    return r;
}

/* The next frame the client wrote, consumed from f->written. */
static uint8_t
next_written(struct fixture *f, GByteArray *payload)
{
    struct derp_frame fr;
    ssize_t n = derp_frame_parse(f->written->data, f->written->len, DERP_MAX_FRAME, &fr);
    uint8_t type;

    g_assert_cmpint(n, >, 0);
    type = fr.type;
    g_byte_array_set_size(payload, 0);
    g_byte_array_append(payload, fr.payload, fr.len);
    g_byte_array_remove_range(f->written, 0, (guint)n);
    return type;
}

static void
check_client_info(struct fixture *f)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    uint8_t plain[256];
    ssize_t n;

    g_assert_cmpuint(next_written(f, p), ==, DERP_FRAME_CLIENT_INFO);
    g_assert_cmpuint(p->len, >, KEY_LEN);
    g_assert_cmpmem(p->data, KEY_LEN, f->client_pub, KEY_LEN);
    n = derp_open_info(plain, sizeof(plain), p->data + KEY_LEN, p->len - KEY_LEN, f->client_pub,
                       f->server_priv);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpmem(plain, (size_t)n, CLIENT_INFO_JSON, strlen(CLIENT_INFO_JSON));
}

/* A client logged in by a well-behaved server. */
static void
login(struct fixture *f)
{
    g_autoptr(GByteArray) in = g_byte_array_new();

    put_server_key(f, in);
    g_assert_cmpint(feed(f, in), ==, 0);
    g_assert_nonnull(derp_client_server_key(f->c));
    g_assert_cmpmem(derp_client_server_key(f->c), KEY_LEN, f->server_pub, KEY_LEN);
    check_client_info(f);
    g_assert_false(derp_client_is_connected(f->c));
    put_server_info(f, in, f->server_priv);
    g_assert_cmpint(feed(f, in), ==, 0);
    g_assert_true(derp_client_is_connected(f->c));
    g_assert_cmpuint(f->connected, ==, 1);
}

static void
test_login(void)
{
    struct fixture f;

    fixture_init(&f);
    g_assert_null(derp_client_server_key(f.c));
    login(&f);
    g_assert_cmpuint(f.written->len, ==, 0); /* not preferred: no NotePreferred */
    g_assert_cmpuint(derp_client_last_rx_ns(f.c), ==, 1000);
    fixture_clear(&f);
}

static void
test_login_byte_by_byte(void)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    struct fixture f;
    guint8 ping[DERP_PING_LEN] = "pingpong";

    fixture_init(&f);
    put_server_key(&f, in);
    for (guint i = 0; i < in->len; i++)
        g_assert_cmpint(derp_client_feed(f.c, in->data + i, 1, i), ==, 0);
    g_byte_array_set_size(in, 0);
    check_client_info(&f);
    put_server_info(&f, in, f.server_priv);
    put_frame(in, DERP_FRAME_RECV_PACKET, f.server_pub, KEY_LEN, "abc", 3);
    put_frame(in, DERP_FRAME_PING, ping, sizeof(ping), NULL, 0);
    for (guint i = 0; i < in->len; i++)
        g_assert_cmpint(derp_client_feed(f.c, in->data + i, 1, i), ==, 0);
    g_assert_true(derp_client_is_connected(f.c));
    g_assert_cmpuint(f.packets->len, ==, 1);
    g_assert_cmpuint(g_bytes_get_size(f.packets->pdata[0]), ==, KEY_LEN + 3);
    g_assert_cmpuint(f.written->len, ==, DERP_HEADER_LEN + DERP_PING_LEN); /* the Pong */
    fixture_clear(&f);
}

static void
test_frames(void)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    g_autoptr(GByteArray) p = g_byte_array_new();
    uint8_t peer[KEY_LEN], gone[KEY_LEN + 1], restart[8] = { 0, 0, 1, 0, 0, 0, 0x13, 0x88 };
    uint8_t ping[DERP_PING_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t big[70000] = { 0 };
    struct fixture f;
    gsize len;
    const uint8_t *d;

    fixture_init(&f);
    login(&f);
    memset(peer, 0x42, sizeof(peer));
    put_frame(in, 0x7f, "from a newer server", 19, NULL, 0);
    put_frame(in, DERP_FRAME_KEEP_ALIVE, NULL, 0, NULL, 0);
    put_frame(in, 0xff, big, sizeof(big), NULL, 0);
    put_frame(in, DERP_FRAME_RECV_PACKET, peer, KEY_LEN, "wireguard", 9);
    put_frame(in, DERP_FRAME_RECV_PACKET, peer, 31, NULL, 0); /* short: skipped */
    put_frame(in, DERP_FRAME_PING, ping, 7, NULL, 0);         /* short: no Pong */
    put_frame(in, DERP_FRAME_PING, ping, sizeof(ping), "x", 1);
    put_frame(in, DERP_FRAME_PONG, ping, sizeof(ping), NULL, 0);
    put_frame(in, DERP_FRAME_PEER_GONE, peer, KEY_LEN, NULL, 0);
    memcpy(gone, peer, KEY_LEN);
    gone[KEY_LEN] = DERP_PEER_GONE_NOT_HERE;
    put_frame(in, DERP_FRAME_PEER_GONE, gone, sizeof(gone), NULL, 0);
    put_frame(in, DERP_FRAME_PEER_GONE, peer, 10, NULL, 0); /* short: skipped */
    put_frame(in, DERP_FRAME_HEALTH, "overloaded", 10, NULL, 0);
    put_frame(in, DERP_FRAME_RESTARTING, restart, sizeof(restart), NULL, 0);
    put_frame(in, DERP_FRAME_RESTARTING, restart, 7, NULL, 0); /* short: skipped */
    put_frame(in, DERP_FRAME_RECV_PACKET, peer, KEY_LEN, NULL, 0);
    g_assert_cmpint(feed(&f, in), ==, 0);

    g_assert_cmpuint(f.packets->len, ==, 2);
    d = g_bytes_get_data(f.packets->pdata[0], &len);
    g_assert_cmpmem(d, KEY_LEN, peer, KEY_LEN);
    g_assert_cmpmem(d + KEY_LEN, len - KEY_LEN, "wireguard", 9);
    g_assert_cmpuint(g_bytes_get_size(f.packets->pdata[1]), ==, KEY_LEN);

    g_assert_cmpuint(next_written(&f, p), ==, DERP_FRAME_PONG);
    g_assert_cmpmem(p->data, p->len, ping, sizeof(ping));
    g_assert_cmpuint(f.written->len, ==, 0);

    g_assert_cmpuint(f.gone->len, ==, 2);
    d = g_bytes_get_data(f.gone->pdata[0], &len);
    g_assert_cmpmem(d, KEY_LEN, peer, KEY_LEN);
    g_assert_cmpuint(d[KEY_LEN], ==, DERP_PEER_GONE_DISCONNECTED);
    d = g_bytes_get_data(f.gone->pdata[1], &len);
    g_assert_cmpuint(d[KEY_LEN], ==, DERP_PEER_GONE_NOT_HERE);
    g_assert_cmpstr(f.health, ==, "overloaded");
    g_assert_cmpuint(f.reconnect_in, ==, 256);
    g_assert_cmpuint(f.try_for, ==, 5000);

    /* Healthy again, and still going. */
    put_frame(in, DERP_FRAME_HEALTH, NULL, 0, NULL, 0);
    g_assert_cmpint(feed(&f, in), ==, 0);
    g_assert_cmpstr(f.health, ==, "");
    g_assert_true(derp_client_is_connected(f.c));
    fixture_clear(&f);
}

static void
test_preferred(void)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    g_autoptr(GByteArray) in = g_byte_array_new();
    struct fixture f;

    fixture_init(&f);
    derp_client_set_preferred(f.c, true);
    g_assert_cmpuint(f.written->len, ==, 0); /* not before login */
    put_server_key(&f, in);
    g_assert_cmpint(feed(&f, in), ==, 0);
    check_client_info(&f);
    put_server_info(&f, in, f.server_priv);
    g_assert_cmpint(feed(&f, in), ==, 0);
    g_assert_cmpuint(next_written(&f, p), ==, DERP_FRAME_NOTE_PREFERRED);
    g_assert_cmpmem(p->data, p->len, "\x01", 1);

    derp_client_set_preferred(f.c, true); /* unchanged: nothing */
    g_assert_cmpuint(f.written->len, ==, 0);
    derp_client_set_preferred(f.c, false);
    g_assert_cmpuint(next_written(&f, p), ==, DERP_FRAME_NOTE_PREFERRED);
    g_assert_cmpmem(p->data, p->len, "\x00", 1);
    fixture_clear(&f);
}

static void
test_send(void)
{
    g_autoptr(GByteArray) p = g_byte_array_new();
    static uint8_t data[DERP_MAX_PACKET + 1];
    uint8_t dst[KEY_LEN], ping[DERP_PING_LEN] = "12345678";
    struct fixture f;

    fixture_init(&f);
    memset(dst, 0x33, sizeof(dst));
    g_assert_cmpint(derp_client_send(f.c, dst, data, 10), ==, -ENOTCONN);
    derp_client_send_ping(f.c, ping);
    g_assert_cmpuint(f.written->len, ==, 0);
    login(&f);
    g_assert_cmpint(derp_client_send(f.c, dst, data, sizeof(data)), ==, -EMSGSIZE);
    g_assert_cmpuint(f.written->len, ==, 0);
    memset(data, 0xab, DERP_MAX_PACKET);
    g_assert_cmpint(derp_client_send(f.c, dst, data, DERP_MAX_PACKET), ==, 0);
    g_assert_cmpuint(f.writes, ==, 2); /* ClientInfo, then the packet in one write */
    g_assert_cmpuint(next_written(&f, p), ==, DERP_FRAME_SEND_PACKET);
    g_assert_cmpmem(p->data, KEY_LEN, dst, KEY_LEN);
    g_assert_cmpmem(p->data + KEY_LEN, p->len - KEY_LEN, data, DERP_MAX_PACKET);
    derp_client_send_ping(f.c, ping);
    g_assert_cmpuint(next_written(&f, p), ==, DERP_FRAME_PING);
    g_assert_cmpmem(p->data, p->len, ping, sizeof(ping));
    fixture_clear(&f);
}

/* The client ends the connection with err, and stays ended. */
static void
check_refused(struct fixture *f, GByteArray *in, int err)
{
    g_assert_cmpint(feed(f, in), ==, err);
    g_assert_false(derp_client_is_connected(f->c));
    g_assert_cmpint(derp_client_feed(f->c, (const uint8_t *)"x", 1, 0), ==, -EPIPE);
}

static void
test_bad_magic(void)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    struct fixture f;

    fixture_init(&f);
    put_frame(in, DERP_FRAME_SERVER_KEY, "DERP\xf0\x9f\x94\x92", DERP_MAGIC_LEN, f.server_pub,
              KEY_LEN);
    check_refused(&f, in, -EPROTO);
    g_assert_cmpuint(f.written->len, ==, 0);
    fixture_clear(&f);
}

static void
test_first_frame(void)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    uint8_t zero[KEY_LEN] = { 0 };
    struct fixture f;

    /* A low-order server key: no box can be made to it (found by fuzz-derp-client). */
    fixture_init(&f);
    put_frame(in, DERP_FRAME_SERVER_KEY, DERP_MAGIC, DERP_MAGIC_LEN, zero, KEY_LEN);
    check_refused(&f, in, -EPROTO);
    g_assert_cmpuint(f.written->len, ==, 0);
    fixture_clear(&f);

    fixture_init(&f);
    put_frame(in, DERP_FRAME_KEEP_ALIVE, NULL, 0, NULL, 0);
    check_refused(&f, in, -EPROTO);
    fixture_clear(&f);

    /* A greeting is at most 1 KiB (recvServerKey). */
    fixture_init(&f);
    put_frame(in, DERP_FRAME_SERVER_KEY, DERP_MAGIC, DERP_MAGIC_LEN, f.server_pub, KEY_LEN);
    g_byte_array_set_size(in, 5 + 1025);
    in->data[4] = 0x01; /* length 1025 */
    in->data[3] = 0x04;
    check_refused(&f, in, -EMSGSIZE);
    fixture_clear(&f);
}

static void
test_huge(void)
{
    static const uint8_t huge[] = { DERP_FRAME_RECV_PACKET, 0x80, 0, 0, 0 };
    g_autoptr(GByteArray) in = g_byte_array_new();
    struct fixture f;

    fixture_init(&f);
    login(&f);
    g_byte_array_append(in, huge, sizeof(huge));
    check_refused(&f, in, -EMSGSIZE);
    fixture_clear(&f);

    /* The header split across reads, after a partial frame. */
    fixture_init(&f);
    login(&f);
    g_assert_cmpint(derp_client_feed(f.c, huge, 2, 0), ==, 0);
    g_assert_cmpint(derp_client_feed(f.c, huge + 2, 3, 0), ==, -EMSGSIZE);
    fixture_clear(&f);

    /* One byte over the 1 MiB limit. */
    fixture_init(&f);
    login(&f);
    put_frame(in, DERP_FRAME_HEALTH, NULL, 0, NULL, 0);
    derp_frame_header(in->data, DERP_FRAME_HEALTH, DERP_MAX_FRAME + 1);
    check_refused(&f, in, -EMSGSIZE);
    fixture_clear(&f);
}

static void
test_server_info_forged(void)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    uint8_t other[KEY_LEN];
    struct fixture f;

    fixture_init(&f);
    key_generate_private(other);
    put_server_key(&f, in);
    g_assert_cmpint(feed(&f, in), ==, 0);
    put_server_info(&f, in, other);
    check_refused(&f, in, -EBADMSG);
    g_assert_cmpuint(f.connected, ==, 0);
    fixture_clear(&f);

    fixture_init(&f);
    put_server_key(&f, in);
    g_assert_cmpint(feed(&f, in), ==, 0);
    put_frame(in, DERP_FRAME_SERVER_INFO, "short", 5, NULL, 0);
    check_refused(&f, in, -EPROTO);
    fixture_clear(&f);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    g_test_add_func("/derp-client/login", test_login);
    g_test_add_func("/derp-client/login-byte-by-byte", test_login_byte_by_byte);
    g_test_add_func("/derp-client/frames", test_frames);
    g_test_add_func("/derp-client/preferred", test_preferred);
    g_test_add_func("/derp-client/send", test_send);
    g_test_add_func("/derp-client/hostile/bad-magic", test_bad_magic);
    g_test_add_func("/derp-client/hostile/first-frame", test_first_frame);
    g_test_add_func("/derp-client/hostile/huge", test_huge);
    g_test_add_func("/derp-client/hostile/server-info", test_server_info_forged);
    return g_test_run();
}
