/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard runner as a handle: start two runners, configure them as
 * each other's peer with wg_runner_apply, make them handshake over loopback
 * by sending a packet into one TUN, read the state back through the real
 * `wg show` and through a UAPI get on a per-instance socket directory, stop,
 * and do it all again (a second start in the same process must work, and
 * LeakSanitizer sees everything freed).
 *
 * Runs in a network and mount namespace of its own (fixture-netns.h, entered
 * at the start of main, before any thread exists): nothing to clean up on the
 * host, and a private tmpfs on /run/wireguard so `wg show` finds our
 * default-dir socket.
 * Needs root; skipped otherwise, unless $CI is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "uapi/uapi.h"
#include "wireguard/wg-runner.h"

/* The whole process is in it: the runners' threads too. */
static FixtureNetns netns;

static void
link_up(const char *ifname)
{
    struct ifreq ifr = { 0 };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    g_assert_cmpint(ioctl(fd, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(fd, SIOCSIFFLAGS, &ifr), ==, 0);
    close(fd);
}

static void
set_peer(struct wg_runner *r, const uint8_t pub[32], uint16_t port, const char *allowed)
{
    struct uapi_allowed_ip ip = { .family = AF_INET, .cidr = 32 };
    struct uapi_peer_set peer = {
        .has_endpoint = true,
        .replace_allowed_ips = true,
        .n_allowed_ips = 1,
        .allowed_ips = &ip,
    };
    struct uapi_set set = { .replace_peers = true, .n_peers = 1, .peers = &peer };

    memcpy(peer.public_key, pub, 32);
    peer.endpoint.in4.sin_family = AF_INET;
    peer.endpoint.in4.sin_port = htons(port);
    peer.endpoint.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(inet_pton(AF_INET, allowed, ip.addr), ==, 1);
    g_assert_cmpint(wg_runner_apply(r, &set), ==, 0);
}

/* get=1 over the UAPI socket in dir, as wg(8) would send it. */
static char *
uapi_get_text(const char *dir, const char *ifname)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    GString *reply = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir, ifname);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    g_assert_cmpint(write(fd, "get=1\n\n", 7), ==, 7);
    while (!g_str_has_suffix(reply->str, "\n\n") && (n = read(fd, buf, sizeof(buf))) > 0)
        g_string_append_len(reply, buf, n);
    close(fd);
    return g_string_free(reply, FALSE);
}

/* Send one UDP datagram to dst: it goes into whichever TUN routes dst. */
static void
send_udp(const char *dst)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(inet_pton(AF_INET, dst, &sin.sin_addr), ==, 1);
    g_assert_cmpint(sendto(fd, "x", 1, 0, (struct sockaddr *)&sin, sizeof(sin)), ==, 1);
    close(fd);
}

static void
one_round(int round)
{
    g_autofree char *dir = g_dir_make_tmp("wg-runner-XXXXXX", NULL);
    g_autofree char *want_a = NULL, *dump = NULL, *get = NULL, *cmd = NULL;
    uint8_t priv_a[32], priv_b[32], pub_a[32], pub_b[32];
    char hex_b[65], b64_a[45];
    struct wg_runner_config ca = {
        .ifname = "hyr-a",
        .private_key = priv_a,
        .uapi_dir = NULL,
        .mtu = 1280,
        .fwmark = 0x80000,
    };
    struct wg_runner_config cb = { .ifname = "hyr-b", .private_key = priv_b, .uapi_dir = dir };
    struct wg_runner *a = NULL, *b = NULL;
    struct wg_runner_peer_stats st;
    struct uapi_device_state state;
    uint16_t port_a, port_b;
    int i;

    g_assert_nonnull(dir);
    key_generate_private(priv_a);
    key_generate_private(priv_b);
    g_assert_true(key_public_from_private(pub_a, priv_a));
    g_assert_true(key_public_from_private(pub_b, priv_b));

    g_assert_cmpint(wg_runner_start(&ca, &a), ==, 0);
    g_assert_cmpint(wg_runner_start(&cb, &b), ==, 0);
    g_assert_true(wg_runner_is_alive(a));
    g_assert_cmpstr(wg_runner_get_ifname(a), ==, "hyr-a");
    port_a = wg_runner_get_listen_port(a);
    port_b = wg_runner_get_listen_port(b);
    g_assert_cmpuint(port_a, !=, 0);
    g_assert_cmpuint(port_b, !=, 0);
    g_assert_cmpint(if_nametoindex("hyr-a"), >, 0);

    set_peer(a, pub_b, port_b, "10.61.0.2");
    set_peer(b, pub_a, port_a, "10.61.0.1");

    /* The real wg(8), on a's socket in the default directory. */
    key_to_hex(hex_b, pub_b);
    dump = fixture_run("wg show hyr-a dump");
    g_test_message("round %d: %s", round, dump);
    g_assert_nonnull(strstr(dump, "\t0x80000\n")); /* fwmark 0x80000 */
    key_to_base64(b64_a, pub_a);
    g_assert_nonnull(strstr(dump, b64_a));
    {
        char b64_b[45];

        key_to_base64(b64_b, pub_b);
        want_a =
            g_strdup_printf("%s\t(none)\t127.0.0.1:%u\t10.61.0.2/32\t0\t0\t0\toff", b64_b, port_b);
    }
    g_assert_nonnull(strstr(dump, want_a));

    /* b's socket lives in the per-instance directory. */
    get = uapi_get_text(dir, "hyr-b");
    g_assert_nonnull(strstr(get, "allowed_ip=10.61.0.1/32\n"));
    g_assert_nonnull(strstr(get, "errno=0\n"));

    /* The same through the API. */
    g_assert_cmpint(wg_runner_get(a, &state), ==, 0);
    g_assert_cmpuint(state.n_peers, ==, 1);
    g_assert_cmpmem(state.peers[0].public_key, 32, pub_b, 32);
    g_assert_cmpuint(state.listen_port, ==, port_a);
    uapi_device_state_clear(&state);

    /* Traffic into a's TUN makes a handshake with b over loopback. */
    link_up("hyr-a");
    cmd = g_strdup("ip route add 10.61.0.2/32 dev hyr-a");
    g_free(fixture_run(cmd));
    /* b dates the handshake when a's first data packet reaches it, which
     * may be after a already counts it sent: wait for both sides. */
    for (i = 0; i < 200; i++) {
        struct wg_runner_peer_stats sb;

        send_udp("10.61.0.2");
        g_assert_cmpint(wg_runner_get_peer_stats(a, pub_b, &st), ==, 0);
        g_assert_cmpint(wg_runner_get_peer_stats(b, pub_a, &sb), ==, 0);
        if (st.last_handshake_sec && st.tx_bytes > 0 && sb.last_handshake_sec && sb.rx_bytes > 0)
            break;
        g_usleep(50 * 1000); /* a hang guard, not a timing assumption */
    }
    g_assert_cmpint(st.last_handshake_sec, >, 0);
    g_assert_cmpuint(st.tx_bytes, >, 0);
    g_assert_true(st.has_endpoint);
    g_assert_cmpuint(ntohs(st.endpoint.in4.sin_port), ==, port_b);
    g_assert_cmpint(wg_runner_get_peer_stats(b, pub_a, &st), ==, 0);
    g_assert_cmpint(st.last_handshake_sec, >, 0);
    g_assert_cmpuint(st.rx_bytes, >, 0);
    g_assert_cmpint(wg_runner_get_peer_stats(b, pub_b, &st), ==, -ENOENT);

    /* WireGuard mode: no event queue, and no DERP endpoint to relay through. */
    {
        struct wg_endpoint derp = { .derp_region = 1 };

        g_assert_cmpint(wg_runner_event_fd(a), ==, -1);
        g_assert_null(wg_runner_event_pop(a));
        g_assert_cmpint(wg_runner_set_peer_endpoint(a, pub_b, &derp), ==, -EINVAL);
    }

    /* replace_peers: an empty set removes the peer. */
    {
        struct uapi_set empty = { .replace_peers = true };

        g_assert_cmpint(wg_runner_apply(a, &empty), ==, 0);
        g_assert_cmpint(wg_runner_get_peer_stats(a, pub_b, &st), ==, -ENOENT);
    }

    wg_runner_stop(a);
    wg_runner_stop(b);
    /* Everything is gone: TUN, sockets. */
    g_assert_cmpint(if_nametoindex("hyr-a"), ==, 0);
    g_assert_cmpint(if_nametoindex("hyr-b"), ==, 0);
    g_assert_false(g_file_test("/run/wireguard/hyr-a.sock", G_FILE_TEST_EXISTS));
    {
        g_autofree char *s = g_strdup_printf("%s/hyr-b.sock", dir);

        g_assert_false(g_file_test(s, G_FILE_TEST_EXISTS));
    }
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void
test_start_apply_stop_twice(void)
{
    if (!fixture_netns_ready(&netns))
        return;
    one_round(1);
    one_round(2);
}

static void
test_bad_config(void)
{
    struct wg_runner_config c = { .ifname = "this-name-is-too-long" };
    struct wg_runner *r = (struct wg_runner *)&c;

    if (!fixture_netns_ready(&netns))
        return;
    g_assert_cmpint(wg_runner_start(&c, &r), ==, -EINVAL);
    g_assert_null(r);
    wg_runner_stop(NULL);
}

int
main(int argc, char **argv)
{
    int ret;

    fixture_netns_init();
    fixture_netns_setup(&netns, NULL);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wg-runner/start-apply-stop-twice", test_start_apply_stop_twice);
    g_test_add_func("/wg-runner/bad-config", test_bad_config);
    ret = g_test_run();
    fixture_netns_teardown(&netns, NULL);
    return ret;
}
