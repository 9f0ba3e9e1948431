/* SPDX-License-Identifier: MIT */
/*
 * The engine's log hook (common/log.h): the debug mask, the handler's level
 * and category, arguments never evaluated for a line that is off; and the
 * WireGuard engine's own lines during a real handshake between two devices,
 * none of which may hold key material.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/keys.h"
#include "wg/device.h"

struct line {
    enum engine_log_level level;
    enum engine_log_category category;
    char *text;
};

static GArray *lines;

static void
capture(enum engine_log_level level, enum engine_log_category category, const char *message,
        void *user_data)
{
    struct line l = { level, category, g_strdup(message) };

    g_assert_true(user_data == &lines);
    g_array_append_val(lines, l);
}

static void
clear_line(gpointer p)
{
    g_free(((struct line *)p)->text);
}

static void
setup(void)
{
    lines = g_array_new(FALSE, TRUE, sizeof(struct line));
    g_array_set_clear_func(lines, clear_line);
    engine_log_set_debug_mask(0);
    engine_log_set_handler(capture, &lines);
}

static void
teardown(void)
{
    engine_log_set_handler(NULL, NULL);
    engine_log_set_debug_mask(0);
    g_array_unref(lines);
    lines = NULL;
}

static guint n_formatted;

static const char *
counted(const char *s)
{
    n_formatted++;
    return s;
}

static void
test_mask(void)
{
    setup();
    n_formatted = 0;

    /* Debug and info are off until their category is switched on. */
    engine_debug(ENGINE_LOG_WG, "off %s", counted("x"));
    engine_info(ENGINE_LOG_WG, "off %s", counted("x"));
    g_assert_cmpuint(lines->len, ==, 0);
    g_assert_cmpuint(n_formatted, ==, 0);

    /* Warnings and errors always reach the handler. */
    engine_warning(ENGINE_LOG_PATH, "bind failed: %d", 98);
    engine_error(ENGINE_LOG_CONTROL, "gone");
    g_assert_cmpuint(lines->len, ==, 2);
    g_assert_cmpint(g_array_index(lines, struct line, 0).level, ==, ENGINE_LOG_WARNING);
    g_assert_cmpint(g_array_index(lines, struct line, 0).category, ==, ENGINE_LOG_PATH);
    g_assert_cmpstr(g_array_index(lines, struct line, 0).text, ==, "bind failed: 98");
    g_assert_cmpint(g_array_index(lines, struct line, 1).level, ==, ENGINE_LOG_ERROR);
    g_assert_cmpint(g_array_index(lines, struct line, 1).category, ==, ENGINE_LOG_CONTROL);

    /* One category on: only its lines. */
    engine_log_set_debug_mask(1u << ENGINE_LOG_WG);
    g_assert_true(engine_log_enabled(ENGINE_LOG_WG, ENGINE_LOG_DEBUG));
    g_assert_false(engine_log_enabled(ENGINE_LOG_PATH, ENGINE_LOG_DEBUG));
    engine_debug(ENGINE_LOG_PATH, "off %s", counted("x"));
    engine_debug(ENGINE_LOG_WG, "on %s", counted("y"));
    engine_info(ENGINE_LOG_WG, "info");
    g_assert_cmpuint(n_formatted, ==, 1);
    g_assert_cmpuint(lines->len, ==, 4);
    g_assert_cmpint(g_array_index(lines, struct line, 2).level, ==, ENGINE_LOG_DEBUG);
    g_assert_cmpint(g_array_index(lines, struct line, 2).category, ==, ENGINE_LOG_WG);
    g_assert_cmpstr(g_array_index(lines, struct line, 2).text, ==, "on y");
    g_assert_cmpint(g_array_index(lines, struct line, 3).level, ==, ENGINE_LOG_INFO);

    /* Bits beyond the categories are ignored; without a handler nothing is formatted. */
    engine_log_set_debug_mask(~0u);
    g_assert_cmpuint(engine_log_get_debug_mask(), ==, ENGINE_LOG_ALL_CATEGORIES);
    engine_log_set_handler(NULL, NULL);
    g_assert_cmpuint(engine_log_get_debug_mask(), ==, ENGINE_LOG_ALL_CATEGORIES);
    engine_debug(ENGINE_LOG_WG, "%s", counted("z"));
    engine_error(ENGINE_LOG_WG, "%s", counted("z"));
    g_assert_cmpuint(n_formatted, ==, 1);
    g_assert_cmpuint(lines->len, ==, 4);
    teardown();
}

static void
test_names(void)
{
    static const char *const names[] = { "wg", "path", "control", "map", "derp", "disco", "dns" };
    union wg_sockaddr a = { 0 };
    char out[IP_PORT_STRLEN];

    G_STATIC_ASSERT(G_N_ELEMENTS(names) == ENGINE_LOG_N_CATEGORIES);
    for (int i = 0; i < ENGINE_LOG_N_CATEGORIES; i++) {
        g_assert_cmpstr(engine_log_category_name(i), ==, names[i]);
        g_assert_cmpint(engine_log_category_from_name(names[i]), ==, i);
    }
    g_assert_cmpint(engine_log_category_from_name("all"), ==, -1);
    g_assert_cmpint(engine_log_category_from_name("WG"), ==, -1);

    g_assert_cmpstr(engine_log_sockaddr(&a, out), ==, "none");
    a.in4.sin_family = AF_INET;
    a.in4.sin_port = htons(41641);
    inet_pton(AF_INET, "192.0.2.7", &a.in4.sin_addr);
    g_assert_cmpstr(engine_log_sockaddr(&a, out), ==, "192.0.2.7:41641");
    memset(&a, 0, sizeof(a));
    a.in6.sin6_family = AF_INET6;
    a.in6.sin6_port = htons(7);
    inet_pton(AF_INET6, "2001:db8::1", &a.in6.sin6_addr);
    g_assert_cmpstr(ENGINE_LOG_ADDR(&a), ==, "[2001:db8::1]:7");
}

/* ---- two devices back to back ------------------------------------------ */

struct node {
    struct wg_device *dev;
    struct wg_endpoint addr;
    struct wg_peer *peer;
    uint8_t priv[KEY_LEN], pub[KEY_LEN];
};

static GPtrArray *wire; /* GBytes; the first byte of each says who sent it */

static void
node_send(void *ctx, const uint8_t *data, size_t len, const struct wg_endpoint *to,
          const uint8_t *peer_key)
{
    g_autoptr(GByteArray) d = g_byte_array_new();
    uint8_t who = *(uint8_t *)ctx;

    g_byte_array_append(d, &who, 1);
    g_byte_array_append(d, data, (guint)len);
    g_ptr_array_add(wire, g_byte_array_free_to_bytes(g_steal_pointer(&d)));
}

static uint8_t tag_a = 'a', tag_b = 'b', tag_c = 'c';

static void
node_init(struct node *n, uint8_t *tag, const char *ip, uint16_t port)
{
    n->dev = wg_device_new(node_send, NULL, tag);
    key_generate_private(n->priv);
    g_assert_true(key_public_from_private(n->pub, n->priv));
    n->addr.addr.in4.sin_family = AF_INET;
    n->addr.addr.in4.sin_port = htons(port);
    inet_pton(AF_INET, ip, &n->addr.addr.in4.sin_addr);
}

static void
node_peer(struct node *self, const struct node *other, const uint8_t psk[KEY_LEN], uint64_t now)
{
    wg_device_lock(self->dev);
    wg_device_set_private_key(self->dev, self->priv, now);
    self->peer = wg_device_add_peer(self->dev, other->pub);
    wg_peer_set_endpoint(self->peer, &other->addr.addr);
    wg_peer_set_preshared_key(self->peer, psk);
    wg_device_set_up(self->dev, true, now);
    wg_device_unlock(self->dev);
}

/* Deliver everything on the wire until it is quiet. */
static void
run_wire(struct node *a, struct node *b, uint64_t now)
{
    while (wire->len) {
        g_autoptr(GBytes) d = g_ptr_array_steal_index(wire, 0);
        gsize len;
        const uint8_t *data = g_bytes_get_data(d, &len);
        struct node *from = data[0] == 'a' ? a : b, *to = from == a ? b : a;
        uint8_t buf[2048];
        struct wg_rx_packet p = { .data = buf, .len = len - 1, .from = from->addr };

        memcpy(buf, data + 1, len - 1);
        wg_device_rx_batch(to->dev, &p, 1, now);
    }
}

static gboolean
has_line(enum engine_log_category category, const char *needle)
{
    for (guint i = 0; i < lines->len; i++) {
        const struct line *l = &g_array_index(lines, struct line, i);

        if (l->category == category && strstr(l->text, needle))
            return TRUE;
    }
    return FALSE;
}

static void
assert_no_key(const uint8_t key[KEY_LEN])
{
    char hex[KEY_HEX_LEN + 1], b64[KEY_BASE64_LEN + 1];

    key_to_hex(hex, key);
    key_to_base64(b64, key);
    for (guint i = 0; i < lines->len; i++) {
        const char *text = g_array_index(lines, struct line, i).text;
        g_autofree char *lower = g_ascii_strdown(text, -1);

        g_assert_null(strstr(lower, hex));
        g_assert_null(strstr(text, b64));
    }
}

static void
test_handshake_lines(void)
{
    struct node a = { 0 }, b = { 0 }, c = { 0 };
    uint8_t psk[KEY_LEN];
    uint64_t now = WG_NS(1000);
    char a_name[WG_PEER_NAME_LEN], c_name[WG_PEER_NAME_LEN], b64[KEY_BASE64_LEN + 1];
    GBytes *initiation;

    setup();
    wire = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    memset(psk, 0x5a, sizeof(psk));
    node_init(&a, &tag_a, "192.0.2.1", 51820);
    node_init(&b, &tag_b, "192.0.2.2", 51821);
    node_peer(&a, &b, psk, now);
    node_peer(&b, &a, psk, now);

    /* Off: a whole handshake logs nothing. */
    wg_device_lock(a.dev);
    wg_device_send_handshake_initiation(a.peer, false, now);
    wg_device_unlock(a.dev);
    run_wire(&a, &b, now);
    g_assert_cmpuint(lines->len, ==, 0);

    /* On: B names A as "peer(first4...last4)" of A's public key. */
    engine_log_set_debug_mask(1u << ENGINE_LOG_WG);
    now += WG_NS(6);
    wg_device_lock(a.dev);
    wg_device_send_handshake_initiation(a.peer, false, now);
    wg_device_unlock(a.dev);
    g_assert_cmpuint(wire->len, ==, 1);
    initiation = g_bytes_ref(g_ptr_array_index(wire, 0));
    run_wire(&a, &b, now);
    key_to_base64(b64, a.pub);
    g_snprintf(a_name, sizeof(a_name), "peer(%.4s...%.4s)", b64, b64 + 39);
    g_assert_cmpstr(WG_PEER_NAME(b.peer), ==, a_name);
    g_assert_true(has_line(ENGINE_LOG_WG, "Sending handshake initiation to 192.0.2.2:51821"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Received handshake initiation from 192.0.2.1:51820"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Sending handshake response"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Received handshake response"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Handshake completed (we initiated)"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Handshake completed (confirmed by their data)"));
    g_assert_true(has_line(ENGINE_LOG_WG, "New keypair"));
    g_assert_true(has_line(ENGINE_LOG_WG, a_name));

    /* Roaming: A shows up from a new address. */
    a.addr.addr.in4.sin_port = htons(40000);
    wg_device_lock(a.dev);
    wg_device_send_keepalive(a.peer, now);
    wg_device_unlock(a.dev);
    run_wire(&a, &b, now);
    g_assert_true(
        has_line(ENGINE_LOG_WG, "Endpoint changed from 192.0.2.1:51820 to 192.0.2.1:40000"));

    /* The same initiation again: a replay, refused, and the log says why. */
    g_assert_false(has_line(ENGINE_LOG_WG, "refused"));
    g_ptr_array_add(wire, g_bytes_ref(initiation));
    run_wire(&a, &b, now);
    g_assert_true(has_line(ENGINE_LOG_WG, "Ignoring handshake initiation: timestamp not newer"));
    g_assert_true(has_line(ENGINE_LOG_WG, "Handshake initiation from 192.0.2.1:40000 refused"));
    g_bytes_unref(initiation);

    /* An initiation from a key B does not know: named, so a user sees who. */
    node_init(&c, &tag_c, "192.0.2.3", 51822);
    node_peer(&c, &b, psk, now);
    wg_device_lock(c.dev);
    wg_device_send_handshake_initiation(c.peer, false, now);
    wg_device_unlock(c.dev);
    g_assert_cmpuint(wire->len, ==, 1);
    {
        g_autoptr(GBytes) d = g_ptr_array_steal_index(wire, 0);
        gsize len;
        const uint8_t *data = g_bytes_get_data(d, &len);
        uint8_t buf[2048];
        struct wg_rx_packet p = { .data = buf, .len = len - 1, .from = c.addr };

        memcpy(buf, data + 1, len - 1);
        wg_device_rx_batch(b.dev, &p, 1, now);
    }
    g_assert_true(has_line(ENGINE_LOG_WG, "Ignoring handshake initiation from unknown"));
    g_assert_true(has_line(ENGINE_LOG_WG, wg_public_key_name(c.pub, c_name)));

    for (guint i = 0; i < lines->len; i++)
        g_test_message("%s", g_array_index(lines, struct line, i).text);
    /* Nothing secret in any line: private keys, the preshared key. */
    assert_no_key(a.priv);
    assert_no_key(b.priv);
    assert_no_key(c.priv);
    assert_no_key(psk);

    wg_device_free(a.dev);
    wg_device_free(b.dev);
    wg_device_free(c.dev);
    g_ptr_array_unref(wire);
    teardown();
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/log/mask", test_mask);
    g_test_add_func("/log/names", test_names);
    g_test_add_func("/log/wg-handshake", test_handshake_lines);
    return g_test_run();
}
