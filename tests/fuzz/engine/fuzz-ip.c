/* SPDX-License-Identifier: MIT */
/*
 * common/ip: any bytes as an address, a prefix and an address:port. No read
 * past len (ASan), and whatever parses formats to canonical text that parses
 * back to the same value and formats the same again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ip.h"
#include "fuzz-harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes, so ASan sees any overread. */
    char *s = malloc(size ? size : 1);
    struct ip_addr a, a2;
    struct ip_prefix p, p2, m;
    struct ip_port q, q2;
    char out[IP_PORT_STRLEN], out2[IP_PORT_STRLEN];

    CHECK(s);
    memcpy(s, data, size);
    if (ip_addr_parse(&a, s, size)) {
        size_t n = ip_addr_format(&a, out);

        CHECK(n == strlen(out) && n < IP_ADDR_STRLEN);
        CHECK(ip_addr_parse(&a2, out, n) && ip_addr_equal(&a, &a2));
        ip_addr_format(&a2, out2);
        CHECK(strcmp(out, out2) == 0);
    }
    if (ip_prefix_parse(&p, s, size)) {
        size_t n = ip_prefix_format(&p, out);

        CHECK(n == strlen(out) && n < IP_PREFIX_STRLEN);
        CHECK(ip_prefix_parse(&p2, out, n) && ip_prefix_equal(&p, &p2));
        m = ip_prefix_masked(&p);
        CHECK(ip_prefix_contains_prefix(&m, &p) && ip_prefix_contains_prefix(&p, &m));
        CHECK(ip_prefix_contains_addr(&p, &p.addr));
    }
    if (ip_port_parse(&q, s, size)) {
        size_t n = ip_port_format(&q, out);

        CHECK(n == strlen(out) && n < IP_PORT_STRLEN);
        CHECK(ip_port_parse(&q2, out, n) && ip_port_equal(&q, &q2));
    }
    free(s);
    return 0;
}
