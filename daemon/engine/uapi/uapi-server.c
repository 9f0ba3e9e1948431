/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket: /var/run/wireguard/IFNAME.sock, stream mode, as
 * wireguard-go's ipc/uapi_unix.go and device.IpcHandle serve it.
 *
 * Framing: an operation line "get=1\n" or "set=1\n". get=1 must be followed
 * by an empty line; set=1 by key=value lines and an empty line. Each request
 * is answered with "errno=N\n\n" (get=1: the device lines first), where N is
 * 0 or a negative errno exactly as wireguard-go prints it. Unknown operation
 * lines close the connection without a reply, as wireguard-go does.
 *
 * Unlike wireguard-go, a set=1 request is read completely, then parsed, then
 * applied: a client that disconnects mid-request changes nothing, and an
 * over-long line or request (UAPI_MAX_LINE / UAPI_MAX_REQUEST) is answered
 * with errno=-EMSGSIZE and the connection is closed.
 */
#include "uapi/uapi.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#define UAPI_DEFAULT_DIR "/var/run/wireguard"

enum {
    OP_LINE_MAX = 16, /* "get=1" / "set=1" */
    READ_CHUNK = 4096,
    LISTEN_BACKLOG = 16,
};

/*****************************************************************************/
/* Buffered connection */

struct conn {
    int fd;
    size_t pos, len;
    char rbuf[READ_CHUNK];
};

/* Body buffer; may hold keys, so it is wiped when it grows or is dropped. */
struct body {
    char *buf;
    size_t len, cap;
};

static void
body_reset(struct body *b)
{
    if (b->buf)
        sodium_memzero(b->buf, b->len);
    b->len = 0;
}

static void
body_free(struct body *b)
{
    body_reset(b);
    free(b->buf);
    b->buf = NULL;
    b->cap = 0;
}

static int
body_append(struct body *b, const char *p, size_t n, size_t limit)
{
    if (n == 0)
        return 0;
    if (n > limit - b->len)
        return -EMSGSIZE;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *nb;

        while (cap < b->len + n)
            cap = cap > limit / 2 ? limit : cap * 2;
        nb = malloc(cap);
        if (!nb)
            return -ENOMEM;
        if (b->buf) {
            memcpy(nb, b->buf, b->len);
            sodium_memzero(b->buf, b->len);
            free(b->buf);
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

/* 1: data buffered, 0: EOF, <0: -errno. */
static int
conn_fill(struct conn *c)
{
    ssize_t n;

    if (c->pos < c->len)
        return 1;
    do
        n = read(c->fd, c->rbuf, sizeof(c->rbuf));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    c->pos = 0;
    c->len = (size_t)n;
    return n > 0;
}

/*
 * Appends one line (without its '\n') to b. Returns 1 on a complete line,
 * 0 on EOF before its end, -EMSGSIZE when the line exceeds max_line or b
 * would exceed limit, other -errno on read errors. *line_len: its length.
 */
static int
conn_read_line(struct conn *c, struct body *b, size_t max_line, size_t limit, size_t *line_len)
{
    *line_len = 0;
    for (;;) {
        const char *start, *nl;
        size_t n;
        int r = conn_fill(c);

        if (r <= 0)
            return r;
        start = c->rbuf + c->pos;
        nl = memchr(start, '\n', c->len - c->pos);
        n = nl ? (size_t)(nl - start) : c->len - c->pos;
        if (n > max_line - *line_len)
            return -EMSGSIZE;
        r = body_append(b, start, n, limit);
        if (r < 0)
            return r;
        *line_len += n;
        c->pos += n + (nl ? 1 : 0);
        if (nl)
            return 1;
    }
}

static int
send_all(int fd, const char *p, size_t n, int flags)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | flags);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
send_errno(int fd, int err)
{
    char line[32];
    int n;

    if (err > 0)
        err = -err;
    n = snprintf(line, sizeof(line), "errno=%d\n\n", err);
    return send_all(fd, line, (size_t)n, 0);
}

/*****************************************************************************/
/* Requests */

static int
serve_get(struct conn *c, const struct uapi_ops *ops, void *ctx)
{
    struct uapi_device_state state = { 0 };
    char *text;
    size_t len = 0;
    int r;

    if (!ops->get)
        return send_errno(c->fd, -EOPNOTSUPP);
    r = ops->get(ctx, &state);
    if (r < 0) {
        uapi_device_state_clear(&state);
        return send_errno(c->fd, r);
    }
    text = uapi_format_get(&state, &len);
    uapi_device_state_clear(&state);
    if (!text)
        return send_errno(c->fd, -ENOMEM);
    r = send_all(c->fd, text, len, MSG_MORE);
    uapi_free_text(text, len);
    if (r < 0)
        return r;
    return send_errno(c->fd, 0);
}

/* Returns 1 to go on, 0 at EOF, <0 to close. */
static int
serve_set(struct conn *c, struct body *b, const struct uapi_ops *ops, void *ctx)
{
    struct uapi_set *set = NULL;
    size_t line_len;
    int r;

    body_reset(b);
    for (;;) {
        r = conn_read_line(c, b, UAPI_MAX_LINE, UAPI_MAX_REQUEST, &line_len);
        if (r == 0)
            return 0; /* disconnected mid-request: apply nothing */
        if (r == -EMSGSIZE || r == -ENOMEM) {
            (void)send_errno(c->fd, r);
            return r;
        }
        if (r < 0)
            return r;
        if (line_len == 0)
            break;
        r = body_append(b, "\n", 1, UAPI_MAX_REQUEST);
        if (r < 0) {
            (void)send_errno(c->fd, r);
            return r;
        }
    }

    r = uapi_parse_set(b->buf, b->len, &set);
    body_reset(b);
    if (r == 0)
        r = ops->set ? ops->set(ctx, set) : -EOPNOTSUPP;
    uapi_set_free(set);
    r = send_errno(c->fd, r < 0 ? r : 0);
    return r < 0 ? r : 1;
}

int
uapi_serve(int client_fd, const struct uapi_ops *ops, void *ctx)
{
    struct conn *c;
    struct body b = { 0 };
    int r;

    if (client_fd < 0 || !ops)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = client_fd;

    for (;;) {
        size_t line_len;

        body_reset(&b);
        r = conn_read_line(c, &b, OP_LINE_MAX, OP_LINE_MAX, &line_len);
        if (r <= 0) {
            if (r == -EMSGSIZE)
                r = -EPROTO; /* not an operation line: close, no reply */
            break;
        }
        if (line_len == 5 && memcmp(b.buf, "get=1", 5) == 0) {
            r = conn_fill(c);
            if (r <= 0)
                break;
            if (c->rbuf[c->pos++] != '\n') {
                /* wireguard-go answers -EINVAL; we also stop reading a
                 * stream we no longer know how to frame. */
                (void)send_errno(c->fd, -EINVAL);
                r = -EPROTO;
                break;
            }
            r = serve_get(c, ops, ctx);
            if (r < 0)
                break;
        } else if (line_len == 5 && memcmp(b.buf, "set=1", 5) == 0) {
            r = serve_set(c, &b, ops, ctx);
            if (r <= 0)
                break;
        } else {
            r = -EPROTO; /* unknown operation: close, no reply */
            break;
        }
    }
    body_free(&b);
    sodium_memzero(c, sizeof(*c));
    free(c);
    return r;
}

/*****************************************************************************/
/* Listening socket */

static int
socket_path(struct sockaddr_un *addr, const char *dir, const char *ifname)
{
    size_t ifl;
    int n;

    if (!ifname)
        return -EINVAL;
    ifl = strlen(ifname);
    if (ifl == 0 || ifl >= IF_NAMESIZE || strchr(ifname, '/') || strcmp(ifname, ".") == 0 ||
        strcmp(ifname, "..") == 0)
        return -EINVAL;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s.sock", dir ? dir : UAPI_DEFAULT_DIR,
                 ifname);
    if (n < 0 || (size_t)n >= sizeof(addr->sun_path))
        return -ENAMETOOLONG;
    return 0;
}

static int
mkdir_p(const char *dir, mode_t mode)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return -ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, mode) < 0 && errno != EEXIST)
            return -errno;
        if (i < len)
            path[i] = '/';
    }
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* true if something accepts connections on the path. */
static bool
socket_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r;

    if (fd < 0)
        return true; /* cannot tell: do not remove it */
    do
        r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        close(fd);
        return true;
    }
    r = errno;
    close(fd);
    return r != ECONNREFUSED && r != ENOENT;
}

int
uapi_listen(const char *dir, const char *ifname)
{
    struct sockaddr_un addr;
    int fd, r;

    r = socket_path(&addr, dir, ifname);
    if (r < 0)
        return r;
    r = mkdir_p(dir ? dir : UAPI_DEFAULT_DIR, 0755);
    if (r < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;

    for (int attempt = 0;; attempt++) {
        /* umask is per process; this runs once at start-up. */
        mode_t old = umask(077);
        struct stat st;

        r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
        r = r < 0 ? -errno : 0;
        umask(old);
        if (r == 0)
            break;
        if (r != -EADDRINUSE || attempt > 0)
            goto fail;
        /* Replace a stale socket only: never a live one, never another file. */
        if (lstat(addr.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            r = -EEXIST;
            goto fail;
        }
        if (socket_in_use(&addr))
            goto fail;
        if (unlink(addr.sun_path) < 0 && errno != ENOENT) {
            r = -errno;
            goto fail;
        }
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        r = -errno;
        unlink(addr.sun_path);
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return r;
}

void
uapi_unlink(const char *dir, const char *ifname)
{
    struct sockaddr_un addr;

    if (socket_path(&addr, dir, ifname) == 0)
        (void)unlink(addr.sun_path);
}
