/* SPDX-License-Identifier: MIT */
/*
 * Interop tests for daemon/engine/ts2021/controlbase against an independent TS2021
 * peer written in Go (tests/ts2021/peer.go: github.com/flynn/noise for the
 * Noise IK handshake, framing and big-endian transport nonces written from
 * a description of control/controlbase/conn.go), built by meson offline in GOPATH mode against
 * Debian's packages (tests/ts2021/meson.build). Without it the tests skip,
 * unless $CI is set: then they fail.
 *
 *  /controlbase-interop/go-server/...  our C client against the Go server
 *  /controlbase-interop/go-client/...  our C server against the Go client
 *
 * Loopback TCP only. No timing assumptions: every blocking wait is a poll()
 * with a 10 s hang guard that fails the test, and the Go peer exits on its own
 * after -timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib.h>

#include "ts2021/controlbase.h"
#include "crypto/keys.h"
#include "fixture-hex.h"
#include "fixture-missing.h"
#include "fixture-spawn.h"

#define HANG_GUARD_MS 10000
#define PEER_TIMEOUT  "60s"
#define VERSION       130
#define VERSION_STR   "130"
#define VERSION_NEXT  "131"
#define HOSTILE_TEXT  "hostile: go away"

/* ---- the Go peer ------------------------------------------------------------ */

/* meson builds tests/ts2021/peer.go once (tests/ts2021/meson.build) and names it here. */
static const char *
need_peer(void)
{
    const char *bin = g_getenv("HYPHAE_TS2021_PEER");

    if (bin && g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE))
        return bin;
    fixture_missing("the Go peer was not built (install golang-go golang-github-flynn-noise-dev "
                    "and reconfigure; HYPHAE_TS2021_PEER=%s)",
                    bin ? bin : "");
    return NULL;
}

/* ---- small helpers -------------------------------------------------------- */

static void
wait_fd(int fd, short events, const char *what)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    int n;

    do
        n = poll(&pfd, 1, HANG_GUARD_MS);
    while (n < 0 && errno == EINTR);
    g_assert_cmpint(n, >=, 0);
    if (n == 0)
        g_error("hang guard: nothing happened for %d ms while waiting for %s", HANG_GUARD_MS, what);
}

static void
fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131 + seed * 17 + (i >> 8));
}

static void
send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n;

        wait_fd(fd, POLLOUT, "the socket to accept data");
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            g_error("send: %s", g_strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* One blocking recv of at most cap bytes (guarded); 0 at EOF. */
static size_t
recv_some(int fd, uint8_t *buf, size_t cap)
{
    ssize_t n;

    for (;;) {
        wait_fd(fd, POLLIN, "data from the Go peer");
        n = recv(fd, buf, cap, 0);
        if (n >= 0)
            return (size_t)n;
        if (errno == ECONNRESET)
            return 0;
        if (errno != EINTR && errno != EAGAIN)
            g_error("recv: %s", g_strerror(errno));
    }
}

/* ---- the Go peer process ------------------------------------------------- */

struct peer {
    GSubprocess *child;
    int out_fd; /* its stdout; the child's pipe stream owns it */
    GString *buf;
    gboolean eof;
};

static void
peer_spawn(struct peer *p, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(argv, (char *)g_getenv("HYPHAE_TS2021_PEER"));
    g_ptr_array_add(argv, (char *)"-timeout");
    g_ptr_array_add(argv, (char *)PEER_TIMEOUT);
    for (; *args; args++)
        g_ptr_array_add(argv, (char *)*args);
    g_ptr_array_add(argv, NULL);

    memset(p, 0, sizeof(*p));
    p->child =
        fixture_child_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, (const char *const *)argv->pdata, &error);
    if (!p->child)
        g_error("spawn %s: %s", g_getenv("HYPHAE_TS2021_PEER"), error->message);
    p->out_fd =
        g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(p->child)));
    p->buf = g_string_new(NULL);
}

/* The next stdout line (without '\n'), or NULL at EOF. */
static char *
peer_line(struct peer *p)
{
    for (;;) {
        char *nl = memchr(p->buf->str, '\n', p->buf->len);
        uint8_t tmp[4096];
        ssize_t n;

        if (nl) {
            char *line = g_strndup(p->buf->str, (gsize)(nl - p->buf->str));

            g_string_erase(p->buf, 0, nl - p->buf->str + 1);
            return line;
        }
        if (p->eof)
            return NULL;
        wait_fd(p->out_fd, POLLIN, "a line from the Go peer");
        n = read(p->out_fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        g_assert_cmpint(n, >=, 0);
        if (n == 0)
            p->eof = TRUE;
        else
            g_string_append_len(p->buf, (const char *)tmp, n);
    }
}

/* The value of the next line, which must be "<key> <value>". */
static char *
peer_expect(struct peer *p, const char *key)
{
    g_autofree char *line = peer_line(p);

    return fixture_line_value(line, key, "the Go peer");
}

/* Log the remaining output, reap the peer, check its exit status. */
static void
peer_finish(struct peer *p, int want_exit)
{
    g_autoptr(GError) error = NULL;
    char *line;

    while ((line = peer_line(p))) {
        g_test_message("peer: %s", line);
        g_free(line);
    }
    /* The peer's own -timeout bounds this. */
    g_assert_true(g_subprocess_wait(p->child, NULL, &error));
    g_assert_no_error(error);
    g_string_free(p->buf, TRUE);
    g_assert_true(g_subprocess_get_if_exited(p->child));
    g_assert_cmpint(g_subprocess_get_exit_status(p->child), ==, want_exit);
    g_clear_object(&p->child);
}

/* ---- our C side on a socket ---------------------------------------------- */

struct conn {
    int fd;
    struct controlbase cb;
    uint8_t in[2 * CONTROLBASE_MAX_FRAME];
    size_t off, len; /* unconsumed bytes: in[off .. off+len) */
    size_t feed_max; /* largest recv: 1 delivers the stream byte by byte */
    bool eof;
};

static void
conn_fill(struct conn *c)
{
    size_t cap, n;

    if (c->off && c->len)
        memmove(c->in, c->in + c->off, c->len);
    c->off = 0;
    cap = sizeof(c->in) - c->len;
    if (cap > c->feed_max)
        cap = c->feed_max;
    g_assert_cmpuint(cap, >, 0);
    n = recv_some(c->fd, c->in + c->len, cap);
    if (n == 0)
        c->eof = true;
    c->len += n;
}

static void
conn_consume(struct conn *c, size_t n)
{
    g_assert_cmpuint(n, <=, c->len);
    c->off += n;
    c->len -= n;
}

/* Connect to "127.0.0.1:port". */
static int
tcp_connect(const char *addr)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    const char *colon = strrchr(addr, ':');
    g_autofree char *host = NULL;
    int fd;

    g_assert_nonnull(colon);
    host = g_strndup(addr, (gsize)(colon - addr));
    g_assert_cmpstr(host, ==, "127.0.0.1");
    g_assert_cmpint(inet_pton(AF_INET, host, &sin.sin_addr), ==, 1);
    sin.sin_port = htons((uint16_t)g_ascii_strtoull(colon + 1, NULL, 10));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        g_error("connect %s: %s", addr, g_strerror(errno));
    return fd;
}

/* Client handshake; returns controlbase_client_finish's result (> 0 or < 0). */
static int
client_handshake(struct conn *c, const uint8_t machine_priv[32], const uint8_t server_pub[32],
                 char *err, size_t err_cap)
{
    uint8_t init[CONTROLBASE_INITIATION_LEN];
    int ret;

    ret = controlbase_client_init(&c->cb, VERSION, machine_priv, server_pub, NULL, init);
    g_assert_cmpint(ret, ==, CONTROLBASE_INITIATION_LEN);
    g_assert_cmpuint(init[0] << 8 | init[1], ==, VERSION);
    g_assert_cmpuint(init[2], ==, CONTROLBASE_MSG_INITIATION);
    send_all(c->fd, init, sizeof(init));
    for (;;) {
        ret = controlbase_client_finish(&c->cb, c->in + c->off, c->len, err, err_cap);
        if (ret > 0) {
            g_assert_cmpint(ret, ==, CONTROLBASE_RESPONSE_LEN);
            conn_consume(c, (size_t)ret);
            return ret;
        }
        if (ret < 0)
            return ret;
        if (c->eof)
            g_error("EOF from the Go peer during the handshake (%zu bytes pending)", c->len);
        conn_fill(c);
    }
}

/*
 * The next record: 0 with its plaintext in out/out_len, 1 at a clean EOF, or
 * controlbase_read's error.
 */
static int
conn_record(struct conn *c, uint8_t out[CONTROLBASE_MAX_PLAINTEXT], size_t *out_len)
{
    for (;;) {
        if (c->len) {
            bool done;
            int ret = controlbase_read(&c->cb, c->in + c->off, c->len, out, out_len, &done);

            if (ret < 0)
                return ret;
            g_assert_cmpint(ret, <=, (int)c->len);
            conn_consume(c, (size_t)ret);
            if (done) {
                g_assert_cmpuint(*out_len, <=, CONTROLBASE_MAX_PLAINTEXT);
                return 0;
            }
            /* An incomplete record: everything was taken into rbuf. */
            g_assert_cmpuint(c->len, ==, 0);
        }
        if (c->eof) {
            g_assert_cmpuint(c->cb.rlen, ==, 0); /* EOF in the middle of a record */
            return 1;
        }
        conn_fill(c);
    }
}

/* Seal and send; returns the frames written (for the caller to walk). */
static GBytes *
conn_write(struct conn *c, const uint8_t *data, size_t len)
{
    size_t cap = controlbase_sealed_size(len);
    uint8_t *sealed = g_malloc(cap);
    int ret = controlbase_write(&c->cb, data, len, sealed, cap);

    g_assert_cmpint(ret, ==, (int)cap);
    send_all(c->fd, sealed, cap);
    return g_bytes_new_take(sealed, cap);
}

/* The connection is dead: every later call fails with -EPIPE. */
static void
assert_dead(struct conn *c)
{
    uint8_t out[CONTROLBASE_MAX_FRAME], pt[1] = { 'x' };
    size_t out_len;
    bool done;

    g_assert_cmpint(c->cb.state, ==, CONTROLBASE_STATE_DEAD);
    g_assert_cmpint(controlbase_write(&c->cb, pt, 1, out, sizeof(out)), ==, -EPIPE);
    g_assert_cmpint(controlbase_read(&c->cb, pt, 1, out, &out_len, &done), ==, -EPIPE);
}

/* ---- our C client against the Go server ---------------------------------- */

struct go_server {
    struct peer peer;
    struct conn conn;
    uint8_t server_pub[32];
    uint8_t machine_priv[32], machine_pub[32];
};

/* Spawn the Go server with extra flags, connect to it. */
static void
go_server_start(struct go_server *s, const char *const *flags, size_t feed_max)
{
    uint8_t server_priv[32], expect_pub[32];
    g_autofree char *server_hex = NULL, *addr = NULL, *pub = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new();

    memset(s, 0, sizeof(*s));
    key_generate_private(server_priv);
    g_assert_true(key_public_from_private(expect_pub, server_priv));
    server_hex = fixture_hex32(server_priv);
    g_ptr_array_add(args, (char *)"-role");
    g_ptr_array_add(args, (char *)"server");
    g_ptr_array_add(args, (char *)"-listen");
    g_ptr_array_add(args, (char *)"127.0.0.1:0");
    g_ptr_array_add(args, (char *)"-key");
    g_ptr_array_add(args, server_hex);
    for (; flags && *flags; flags++)
        g_ptr_array_add(args, (char *)*flags);
    g_ptr_array_add(args, NULL);
    peer_spawn(&s->peer, (const char *const *)args->pdata);

    addr = peer_expect(&s->peer, "LISTEN");
    pub = peer_expect(&s->peer, "PUB");
    fixture_unhex32(s->server_pub, pub);
    /* Go's X25519 and ours agree on the server's public key. */
    g_assert_cmpmem(s->server_pub, 32, expect_pub, 32);

    key_generate_private(s->machine_priv);
    g_assert_true(key_public_from_private(s->machine_pub, s->machine_priv));
    s->conn.fd = tcp_connect(addr);
    s->conn.feed_max = feed_max;
}

/* Read PEER and HASH and check them against our side. */
static void
go_server_check_identity(struct go_server *s)
{
    g_autofree char *peer = peer_expect(&s->peer, "PEER");
    g_autofree char *hash = peer_expect(&s->peer, "HASH");
    uint8_t k[32];

    fixture_unhex32(k, peer);
    g_assert_cmpmem(k, 32, s->machine_pub, 32);
    fixture_unhex32(k, hash);
    g_assert_cmpmem(k, 32, s->conn.cb.handshake_hash, 32);
    g_assert_false(key_is_zero(s->conn.cb.handshake_hash));
}

static void
go_server_finish(struct go_server *s, int want_exit)
{
    shutdown(s->conn.fd, SHUT_WR);
    close(s->conn.fd);
    controlbase_wipe(&s->conn.cb);
    peer_finish(&s->peer, want_exit);
}

struct echo_params {
    bool pad_empty;
    size_t feed_max;
};

static void
test_go_server_echo(gconstpointer data)
{
    const struct echo_params *prm = data;
    static const size_t sizes[] = { 0, 1, 4077, 4078, 20000 };
    struct go_server s;
    char err[128];
    size_t i;

    if (!need_peer())
        return;
    {
        /* -min-version = our version: the boundary is accepted. */
        const char *plain[] = { "-min-version", VERSION_STR, NULL };
        const char *padded[] = { "-min-version", VERSION_STR, "-pad-empty", NULL };

        go_server_start(&s, prm->pad_empty ? padded : plain, prm->feed_max);
    }
    g_assert_cmpint(client_handshake(&s.conn, s.machine_priv, s.server_pub, err, sizeof(err)), ==,
                    CONTROLBASE_RESPONSE_LEN);
    g_assert_cmpint(s.conn.cb.state, ==, CONTROLBASE_STATE_ESTABLISHED);
    g_assert_cmpmem(s.conn.cb.peer_static, 32, s.server_pub, 32);
    go_server_check_identity(&s);

    for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
        size_t len = sizes[i], pos = 0, off = 0, frames = 0, got_len = 0, empties = 0, records = 0;
        size_t echo_records = 0;
        g_autofree uint8_t *payload = g_malloc(len + 1);
        g_autoptr(GByteArray) expect = g_byte_array_new();
        g_autoptr(GByteArray) got = g_byte_array_new();
        g_autoptr(GBytes) sealed = NULL;
        const uint8_t *w;
        gsize wlen;

        g_test_message("echo of %zu bytes", len);
        fill_pattern(payload, len, (unsigned)i);
        sealed = conn_write(&s.conn, payload, len);

        /* The Go server echoes each record P as "echo:" + P. */
        w = g_bytes_get_data(sealed, &wlen);
        while (off < wlen) {
            size_t ct;

            g_assert_cmpuint(wlen - off, >=, CONTROLBASE_HEADER_LEN);
            g_assert_cmpuint(w[off], ==, CONTROLBASE_MSG_RECORD);
            ct = (size_t)(w[off + 1] << 8 | w[off + 2]);
            g_assert_cmpuint(ct, >=, 16);
            g_assert_cmpuint(CONTROLBASE_HEADER_LEN + ct, <=, CONTROLBASE_MAX_FRAME);
            g_byte_array_append(expect, (const uint8_t *)"echo:", 5);
            g_byte_array_append(expect, payload + pos, (guint)(ct - 16));
            /* "echo:" + n bytes goes back in ceil((n + 5) / 4077) records. */
            echo_records +=
                (ct - 16 + 5 + CONTROLBASE_MAX_PLAINTEXT - 1) / CONTROLBASE_MAX_PLAINTEXT;
            pos += ct - 16;
            off += CONTROLBASE_HEADER_LEN + ct;
            frames++;
        }
        g_assert_cmpuint(pos, ==, len);
        g_assert_cmpuint(frames, ==, len == 0 ? 1 : (len + 4076) / 4077);

        while (got_len < expect->len) {
            uint8_t pt[CONTROLBASE_MAX_PLAINTEXT];
            size_t pt_len;

            g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, 0);
            records++;
            if (pt_len == 0)
                empties++;
            g_byte_array_append(got, pt, (guint)pt_len);
            got_len += pt_len;
        }
        g_assert_cmpmem(got->data, got->len, expect->data, expect->len);
        /* -pad-empty: one empty record before each echo; Go splits at 4077. */
        g_assert_cmpuint(empties, ==, prm->pad_empty ? frames : 0);
        g_assert_cmpuint(records - empties, ==, echo_records);
    }
    g_assert_cmpint(s.conn.cb.state, ==, CONTROLBASE_STATE_ESTABLISHED);

    /* Our half-close ends the Go server's loop: a clean EOF follows. */
    shutdown(s.conn.fd, SHUT_WR);
    {
        uint8_t pt[CONTROLBASE_MAX_PLAINTEXT];
        size_t pt_len;

        g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, 1);
    }
    go_server_finish(&s, 0);
}

/* The Go server refuses versions under -min-version with an error frame. */
static void
test_go_server_min_version(void)
{
    const char *flags[] = { "-min-version", VERSION_NEXT, NULL };
    struct go_server s;
    char err[128];

    if (!need_peer())
        return;
    go_server_start(&s, flags, SIZE_MAX);
    g_assert_cmpint(client_handshake(&s.conn, s.machine_priv, s.server_pub, err, sizeof(err)), ==,
                    -ECONNREFUSED);
    g_assert_cmpstr(err, ==, "unsupported version");
    assert_dead(&s.conn);
    g_autofree char *reject = peer_expect(&s.peer, "REJECT");
    g_assert_cmpstr(reject, ==, "version " VERSION_STR);
    go_server_finish(&s, 0);
}

/* We dial the wrong server key: the Go server cannot open msg1. */
static void
test_go_server_wrong_key(void)
{
    struct go_server s;
    uint8_t other_priv[32], other_pub[32];
    char err[128];

    if (!need_peer())
        return;
    go_server_start(&s, NULL, SIZE_MAX);
    key_generate_private(other_priv);
    g_assert_true(key_public_from_private(other_pub, other_priv));
    g_assert_cmpint(client_handshake(&s.conn, s.machine_priv, other_pub, err, sizeof(err)), ==,
                    -ECONNREFUSED);
    g_assert_cmpstr(err, ==, "handshake failed");
    assert_dead(&s.conn);
    go_server_finish(&s, 1);
}

/* Hostile handshakes: an error frame, a short response. */
static void
test_go_server_hostile_handshake(gconstpointer data)
{
    const char *mode = data;
    const char *flags[] = { "-hostile", mode, NULL };
    struct go_server s;
    char err[128];
    int ret;

    if (!need_peer())
        return;
    go_server_start(&s, flags, SIZE_MAX);
    ret = client_handshake(&s.conn, s.machine_priv, s.server_pub, err, sizeof(err));
    if (g_str_equal(mode, "error")) {
        g_assert_cmpint(ret, ==, -ECONNREFUSED);
        g_assert_cmpstr(err, ==, HOSTILE_TEXT);
    } else if (g_str_equal(mode, "short-response")) {
        g_assert_cmpint(ret, ==, -EPROTO);
    } else {
        g_assert_not_reached();
    }
    assert_dead(&s.conn);
    go_server_finish(&s, 0);
}

/* Hostile records after a good handshake. */
static void
test_go_server_hostile_record(gconstpointer data)
{
    const char *mode = data;
    const char *flags[] = { "-hostile", mode, NULL };
    struct go_server s;
    uint8_t pt[CONTROLBASE_MAX_PLAINTEXT];
    size_t pt_len;
    char err[128];

    if (!need_peer())
        return;
    go_server_start(&s, flags, SIZE_MAX);
    g_assert_cmpint(client_handshake(&s.conn, s.machine_priv, s.server_pub, err, sizeof(err)), ==,
                    CONTROLBASE_RESPONSE_LEN);
    go_server_check_identity(&s);
    g_bytes_unref(conn_write(&s.conn, (const uint8_t *)"hello", 5));

    if (g_str_equal(mode, "bad-tag")) {
        g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, -EBADMSG);
    } else if (g_str_equal(mode, "oversize")) {
        g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, -EPROTO);
    } else if (g_str_equal(mode, "le-nonce")) {
        /* n = 0 reads the same in both byte orders; n = 1 does not. */
        g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, 0);
        g_assert_cmpmem(pt, pt_len, "echo:", 5);
        g_assert_cmpint(conn_record(&s.conn, pt, &pt_len), ==, -EBADMSG);
    } else {
        g_assert_not_reached();
    }
    assert_dead(&s.conn);
    go_server_finish(&s, 0);
}

/* ---- our C server against the Go client ---------------------------------- */

static int
tcp_listen(uint16_t *port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &slen), ==, 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

struct go_client {
    struct peer peer;
    struct conn conn;
    int lfd;
    uint8_t server_priv[32], server_pub[32];
    uint8_t machine_pub[32];
};

/* Listen, spawn the Go client with extra flags, accept, read the initiation. */
static void
go_client_start(struct go_client *g, int version, const uint8_t dial_pub[32],
                const char *const *flags, size_t feed_max, uint8_t init[CONTROLBASE_INITIATION_LEN])
{
    uint8_t machine_priv[32], k[32];
    g_autofree char *connect_to = NULL, *pub_hex = NULL, *machine_hex = NULL, *ver = NULL;
    g_autofree char *printed = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    uint16_t port;
    size_t have = 0;

    memset(g, 0, sizeof(*g));
    key_generate_private(g->server_priv);
    g_assert_true(key_public_from_private(g->server_pub, g->server_priv));
    key_generate_private(machine_priv);
    g_assert_true(key_public_from_private(g->machine_pub, machine_priv));
    g->lfd = tcp_listen(&port);

    connect_to = g_strdup_printf("127.0.0.1:%u", port);
    pub_hex = fixture_hex32(dial_pub ? dial_pub : g->server_pub);
    machine_hex = fixture_hex32(machine_priv);
    ver = g_strdup_printf("%d", version);
    const char *base[] = { "-role", "client",   "-connect", connect_to,     "-server-pub",
                           pub_hex, "-version", ver,        "-machine-key", machine_hex };
    for (size_t i = 0; i < G_N_ELEMENTS(base); i++)
        g_ptr_array_add(args, (char *)base[i]);
    for (; flags && *flags; flags++)
        g_ptr_array_add(args, (char *)*flags);
    g_ptr_array_add(args, NULL);
    peer_spawn(&g->peer, (const char *const *)args->pdata);

    printed = peer_expect(&g->peer, "PUB");
    fixture_unhex32(k, printed);
    g_assert_cmpmem(k, 32, g->machine_pub, 32);

    wait_fd(g->lfd, POLLIN, "the Go client to connect");
    g->conn.fd = accept(g->lfd, NULL, NULL);
    g_assert_cmpint(g->conn.fd, >=, 0);
    g->conn.feed_max = feed_max;
    while (have < CONTROLBASE_INITIATION_LEN) {
        size_t cap = CONTROLBASE_INITIATION_LEN - have, n;

        if (cap > feed_max)
            cap = feed_max;
        n = recv_some(g->conn.fd, init + have, cap);
        g_assert_cmpuint(n, >, 0);
        have += n;
    }
}

static void
go_client_finish(struct go_client *g, int want_exit)
{
    close(g->conn.fd);
    close(g->lfd);
    controlbase_wipe(&g->conn.cb);
    peer_finish(&g->peer, want_exit);
}

static void
test_go_client_echo(gconstpointer data)
{
    const size_t *feed_max = data;
    const char *flags[] = {
        "-send", "hello",         "-send", "",  "-send-pattern", "4077", "-send-pattern",
        "4078",  "-send-pattern", "20000", NULL
    };
    static const size_t sizes[] = { 5, 0, 4077, 4078, 20000 };
    uint8_t init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN];
    g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GByteArray) expect = g_byte_array_new();
    g_autoptr(GByteArray) got = g_byte_array_new();
    g_autofree char *hash = NULL;
    struct go_client g;
    size_t i, r = 0;
    uint8_t k[32];

    if (!need_peer())
        return;
    go_client_start(&g, VERSION, NULL, flags, *feed_max, init);
    g_assert_cmpuint(init[0] << 8 | init[1], ==, VERSION);
    g_assert_cmpint(
        controlbase_server_accept(&g.conn.cb, g.server_priv, 113, init, sizeof(init), NULL, resp),
        ==, CONTROLBASE_RESPONSE_LEN);
    g_assert_cmpint(g.conn.cb.state, ==, CONTROLBASE_STATE_ESTABLISHED);
    g_assert_cmpuint(g.conn.cb.version, ==, VERSION);
    g_assert_cmpmem(g.conn.cb.peer_static, 32, g.machine_pub, 32);
    send_all(g.conn.fd, resp, sizeof(resp));

    /* Echo every record until the Go client half-closes. */
    for (;;) {
        uint8_t pt[CONTROLBASE_MAX_PLAINTEXT + 5];
        size_t pt_len;
        int ret = conn_record(&g.conn, pt + 5, &pt_len);

        if (ret == 1)
            break;
        g_assert_cmpint(ret, ==, 0);
        g_ptr_array_add(records, g_bytes_new(pt + 5, pt_len));
        memcpy(pt, "echo:", 5);
        g_bytes_unref(conn_write(&g.conn, pt, pt_len + 5));
        g_byte_array_append(expect, pt, (guint)(pt_len + 5));
    }
    shutdown(g.conn.fd, SHUT_WR);

    /* What we received: each payload in ≤ 4077-byte records, in order. */
    for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree uint8_t *p = g_malloc(sizes[i] + 1);
        size_t pos = 0;

        if (i == 0)
            memcpy(p, "hello", 5);
        else
            for (size_t j = 0; j < sizes[i]; j++)
                p[j] = (uint8_t)(j % 251);
        do {
            size_t n = MIN(sizes[i] - pos, (size_t)CONTROLBASE_MAX_PLAINTEXT);
            gsize rl;
            const void *rd;

            g_assert_cmpuint(r, <, records->len);
            rd = g_bytes_get_data(records->pdata[r++], &rl);
            g_assert_cmpmem(rd, rl, p + pos, n);
            pos += n;
        } while (pos < sizes[i]);
    }
    g_assert_cmpuint(r, ==, records->len);

    /* What the Go client received from us, and its view of the handshake. */
    hash = peer_expect(&g.peer, "HASH");
    fixture_unhex32(k, hash);
    g_assert_cmpmem(k, 32, g.conn.cb.handshake_hash, 32);
    for (;;) {
        g_autofree char *line = peer_line(&g.peer);
        char *sp;
        g_autoptr(GBytes) b = NULL;
        gsize bl;
        const void *bd;

        g_assert_nonnull(line);
        if (g_str_equal(line, "EOF"))
            break;
        g_assert_true(g_str_has_prefix(line, "RECV "));
        sp = strchr(line + 5, ' ');
        g_assert_nonnull(sp);
        b = fixture_unhex(sp + 1);
        bd = g_bytes_get_data(b, &bl);
        g_assert_cmpuint(bl, ==, g_ascii_strtoull(line + 5, NULL, 10));
        g_assert_cmpuint(bl, <=, CONTROLBASE_MAX_PLAINTEXT);
        g_byte_array_append(got, bd, (guint)bl);
    }
    g_assert_cmpmem(got->data, got->len, expect->data, expect->len);
    go_client_finish(&g, 0);
}

/* A version under our minimum: -EPROTONOSUPPORT, and the Go client sees our error frame. */
static void
test_go_client_old_version(void)
{
    uint8_t init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN], ef[64];
    g_autofree char *text = NULL;
    struct go_client g;
    int n;

    if (!need_peer())
        return;
    go_client_start(&g, 100, NULL, NULL, SIZE_MAX, init);
    g_assert_cmpuint(init[0] << 8 | init[1], ==, 100);
    g_assert_cmpint(
        controlbase_server_accept(&g.conn.cb, g.server_priv, 113, init, sizeof(init), NULL, resp),
        ==, -EPROTONOSUPPORT);
    assert_dead(&g.conn);
    n = controlbase_error_frame("unsupported version", ef, sizeof(ef));
    g_assert_cmpint(n, ==, CONTROLBASE_HEADER_LEN + 19);
    send_all(g.conn.fd, ef, (size_t)n);
    shutdown(g.conn.fd, SHUT_WR);
    text = peer_expect(&g.peer, "ERROR");
    g_assert_cmpstr(text, ==, "unsupported version");
    go_client_finish(&g, 3);
}

/* The Go client dials another server key: msg1 does not authenticate. */
static void
test_go_client_wrong_key(void)
{
    uint8_t init[CONTROLBASE_INITIATION_LEN], resp[CONTROLBASE_RESPONSE_LEN];
    uint8_t other_priv[32], other_pub[32];
    struct go_client g;

    if (!need_peer())
        return;
    key_generate_private(other_priv);
    g_assert_true(key_public_from_private(other_pub, other_priv));
    go_client_start(&g, VERSION, other_pub, NULL, SIZE_MAX, init);
    g_assert_cmpint(
        controlbase_server_accept(&g.conn.cb, g.server_priv, 113, init, sizeof(init), NULL, resp),
        ==, -EBADMSG);
    assert_dead(&g.conn);
    /* No response: the Go client reads EOF and fails. */
    go_client_finish(&g, 1);
}

int
main(int argc, char **argv)
{
    static const struct echo_params echo_plain = { .pad_empty = false, .feed_max = SIZE_MAX };
    static const struct echo_params echo_padded = { .pad_empty = true, .feed_max = SIZE_MAX };
    static const struct echo_params echo_bytewise = { .pad_empty = true, .feed_max = 1 };
    static const size_t feed_all = SIZE_MAX, feed_one = 1, feed_odd = 7;
    int ret;

    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);

    g_test_add_data_func("/controlbase-interop/go-server/echo", &echo_plain, test_go_server_echo);
    g_test_add_data_func("/controlbase-interop/go-server/echo-empty-records", &echo_padded,
                         test_go_server_echo);
    g_test_add_data_func("/controlbase-interop/go-server/echo-bytewise", &echo_bytewise,
                         test_go_server_echo);
    g_test_add_func("/controlbase-interop/go-server/min-version", test_go_server_min_version);
    g_test_add_func("/controlbase-interop/go-server/wrong-server-key", test_go_server_wrong_key);
    g_test_add_data_func("/controlbase-interop/go-server/hostile/error", "error",
                         test_go_server_hostile_handshake);
    g_test_add_data_func("/controlbase-interop/go-server/hostile/short-response", "short-response",
                         test_go_server_hostile_handshake);
    g_test_add_data_func("/controlbase-interop/go-server/hostile/bad-tag", "bad-tag",
                         test_go_server_hostile_record);
    g_test_add_data_func("/controlbase-interop/go-server/hostile/oversize", "oversize",
                         test_go_server_hostile_record);
    g_test_add_data_func("/controlbase-interop/go-server/hostile/le-nonce", "le-nonce",
                         test_go_server_hostile_record);
    g_test_add_data_func("/controlbase-interop/go-client/echo", &feed_all, test_go_client_echo);
    g_test_add_data_func("/controlbase-interop/go-client/echo-bytewise", &feed_one,
                         test_go_client_echo);
    g_test_add_data_func("/controlbase-interop/go-client/echo-7-byte-reads", &feed_odd,
                         test_go_client_echo);
    g_test_add_func("/controlbase-interop/go-client/old-version", test_go_client_old_version);
    g_test_add_func("/controlbase-interop/go-client/wrong-server-key", test_go_client_wrong_key);

    ret = g_test_run();
    return ret;
}
