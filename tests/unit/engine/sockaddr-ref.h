/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses from text for the magicsock codec tests (STUN, disco,
 * the Go interop), made with inet_pton apart from the code under test.
 */
#pragma once

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "common/endpoint.h"

/* ip (IPv4 or IPv6 text) and port; the rest of the union zero. */
static inline union wg_sockaddr
ref_addr(const char *ip, uint16_t port)
{
    union wg_sockaddr a = { 0 };

    if (inet_pton(AF_INET, ip, &a.in4.sin_addr) == 1) {
        a.in4.sin_family = AF_INET;
        a.in4.sin_port = htons(port);
    } else {
        g_assert_cmpint(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), ==, 1);
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons(port);
    }
    return a;
}

/* "a.b.c.d:port" or "[v6]:port", as Go's netip.AddrPort.String writes them. */
static inline union wg_sockaddr
ref_addrport(const char *text)
{
    const char *colon = strrchr(text, ':');
    char *end, *host;
    unsigned long port;
    union wg_sockaddr a;

    g_assert_nonnull(colon);
    port = strtoul(colon + 1, &end, 10);
    g_assert_true(*end == '\0' && port <= 65535);
    if (text[0] == '[') {
        g_assert_true(colon > text + 1 && colon[-1] == ']');
        host = g_strndup(text + 1, (size_t)(colon - text - 2));
    } else {
        host = g_strndup(text, (size_t)(colon - text));
    }
    a = ref_addr(host, (uint16_t)port);
    g_free(host);
    return a;
}

/* The whole union, so that stray bytes (scope, flow info) fail too. */
static inline void
ref_assert_addr(const union wg_sockaddr *got, const char *ip, uint16_t port)
{
    union wg_sockaddr want = ref_addr(ip, port);

    g_assert_cmpmem(got, sizeof(*got), &want, sizeof(want));
}
