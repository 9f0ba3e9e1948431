/* SPDX-License-Identifier: MIT */
/*
 * Linux TUN device with virtio_net_hdr offloads (include/uapi/linux/if_tun.h,
 * drivers/net/tun.c).
 *
 * The device is always opened with IFF_VNET_HDR, so every read and write
 * carries a 10-byte struct virtio_net_hdr, even when the kernel refuses all
 * offloads: with offload 0 the header is still there (all zero on reads,
 * honoured on writes), which keeps one code path for the data plane. A plain
 * TUN would need a reopen, since TUNSETIFF flags cannot change on an
 * attached fd.
 *
 * Offloads are feature-detected by trying: CSUM|TSO4|TSO6|USO4|USO6 (USO needs
 * 6.2), then CSUM|TSO4|TSO6, then none. Any unknown bit gives EINVAL.
 */
#include "tun/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Debian 12's linux-libc-dev (6.1) lacks the USO bits (added in 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

_Static_assert(TUN_VNET_HDR_LEN == 10, "default TUN vnet header size is sizeof(virtio_net_hdr)");
_Static_assert(sizeof(((struct tun *)0)->name) >= IFNAMSIZ, "tun name holds IFNAMSIZ");

static int
tun_set_offload(int fd, unsigned int flags)
{
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

int
tun_open(struct tun *t, const char *ifname)
{
    static const unsigned int tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    struct ifreq ifr;
    int fd, r;

    if (!t)
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (ifname && strlen(ifname) >= IFNAMSIZ)
        return -EINVAL;

    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;

    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    if (ifname) /* empty: the kernel picks tun%d */
        memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        r = -errno;
        goto fail;
    }

    r = tun_set_offload(fd, tso | TUN_F_USO4 | TUN_F_USO6);
    if (r == 0) {
        t->tso = t->uso = true;
    } else if (r == -EINVAL) {
        r = tun_set_offload(fd, tso);
        if (r == 0) {
            t->tso = true;
        } else if (r == -EINVAL) {
            r = tun_set_offload(fd, 0);
        }
    }
    if (r < 0)
        goto fail;

    t->fd = fd;
    t->vnet_hdr = true;
    memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
    t->name[sizeof(t->name) - 1] = '\0';
    return 0;

fail:
    close(fd);
    return r;
}

void
tun_close(struct tun *t)
{
    if (!t || t->fd < 0)
        return;
    close(t->fd);
    t->fd = -1;
}

/* SIOCGIFMTU / SIOCSIFMTU on the interface; returns ifr_mtu (get) or 0 (set). */
static int
mtu_ioctl(const struct tun *t, unsigned long req, int mtu)
{
    struct ifreq ifr;
    int s, r;

    if (!t || !t->name[0])
        return -EINVAL;
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->name, IFNAMSIZ - 1);
    ifr.ifr_mtu = mtu;
    r = ioctl(s, req, &ifr) < 0 ? -errno : (req == SIOCGIFMTU ? ifr.ifr_mtu : 0);
    close(s);
    return r;
}

int
tun_get_mtu(const struct tun *t)
{
    return mtu_ioctl(t, SIOCGIFMTU, 0);
}

int
tun_set_mtu(const struct tun *t, int mtu)
{
    if (mtu < 68 || mtu > 65535)
        return -EINVAL;
    return mtu_ioctl(t, SIOCSIFMTU, mtu);
}
