/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A Linux TUN device opened with IFF_TUN|IFF_NO_PI|IFF_VNET_HDR and as many
 * offloads as the kernel accepts (TUNSETOFFLOAD: CSUM|TSO4|TSO6, then USO4|USO6;
 * try, fall back on EINVAL — drivers/net/tun.c set_offload). Every read/write then carries a
 * 10-byte struct virtio_net_hdr in front of the packet.
 */
enum {
    TUN_VNET_HDR_LEN = 10,
    TUN_MAX_READ = 65535 + TUN_VNET_HDR_LEN,
};

struct tun {
    int fd;
    char name[16];
    bool vnet_hdr; /* reads/writes carry a virtio_net_hdr: always true after tun_open,
                      even when no offload was accepted (see tun.c) */
    bool tso;      /* CSUM|TSO4|TSO6 accepted */
    bool uso;      /* USO4|USO6 accepted too */
};

/* Create or attach to IFNAME (NULL or "": kernel picks tun%d, see t->name); does not
 * set addresses or bring it up. Returns 0 or negative errno; t->fd is -1 on error. */
int tun_open(struct tun *t, const char *ifname);
void tun_close(struct tun *t);
/* Interface MTU via SIOCGIFMTU, or negative errno. */
int tun_get_mtu(const struct tun *t);
/* SIOCSIFMTU; 0 or negative errno. */
int tun_set_mtu(const struct tun *t, int mtu);
