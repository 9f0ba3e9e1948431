/* SPDX-License-Identifier: MIT */
/*
 * bench-filter: what the packet filter adds per packet, in process, one
 * thread, this thread's CPU time (other load on a shared machine does not
 * count). The data path's per-packet cost is the yardstick: one 1252-byte
 * ChaCha20-Poly1305 open (aead.c, the RX thread's bulk work for a 1280-MTU
 * packet); the filter's share of it is printed as a ratio, per case:
 *
 *   tcp-established  a TCP data segment (non-SYN): the verdict's fast path
 *   udp-flow         a UDP datagram replying to a flow we opened
 *   udp-accepted     a UDP datagram of an inbound flow a rule accepted (cached)
 *   tcp-syn          a new TCP flow: the rule lookup
 *   tx-note-tcp/udp  the TX side: parse (and for UDP note the flow)
 *
 * each against a 1,000-rule filter shaped like a tailnet ACL (999 single
 * sources, each to its own port, then one rule for the sending peer).
 * Medians over --rounds rounds of ~--ms milliseconds.
 *
 * usage: bench-filter [--rounds N] [--ms M] [--rules N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "filter/filter.h"

enum { MAX_ROUNDS = 101, PKT = 1252 };

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static const uint8_t me[4] = { 100, 64, 0, 1 }, peer[4] = { 100, 64, 0, 2 };

/* An IPv4 packet of PKT bytes from peer to me (or the reverse: out). */
static void
make_packet(uint8_t *p, uint8_t proto, uint8_t tcp_flags, bool out)
{
    memset(p, 0, PKT);
    p[0] = 0x45;
    p[2] = PKT >> 8;
    p[3] = PKT & 0xff;
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, out ? me : peer, 4);
    memcpy(p + 16, out ? peer : me, 4);
    /* peer:40000 -> me:5001, or the reverse */
    p[out ? 22 : 20] = 0x9c, p[out ? 23 : 21] = 0x40;
    p[out ? 20 : 22] = 0x13, p[out ? 21 : 23] = 0x89;
    if (proto == 6) {
        p[32] = 5 << 4;
        p[33] = tcp_flags;
    }
}

static struct pf_filter *
make_filter(unsigned n)
{
    struct pf_builder *b = pf_builder_new();
    struct ip_prefix local = { .addr = { .family = AF_INET }, .bits = 32 };
    struct ip_prefix src = local;
    struct pf_dst dst = { 0 };
    struct pf_rule r = { .srcs = &src, .n_srcs = 1, .dsts = &dst, .n_dsts = 1 };
    int err = 0;

    memcpy(local.addr.bytes, me, 4);
    dst.net = local;
    pf_builder_add_local(b, &local);
    for (unsigned i = 0; i + 1 < n; i++) {
        src.addr.bytes[0] = 100, src.addr.bytes[1] = 65;
        src.addr.bytes[2] = (uint8_t)(i >> 8), src.addr.bytes[3] = (uint8_t)i;
        dst.port_first = dst.port_last = (uint16_t)(1000 + i);
        r.id = i;
        pf_builder_add_rule(b, &r);
    }
    memcpy(src.addr.bytes, peer, 4);
    dst.port_first = 5001, dst.port_last = 5001;
    r.id = n - 1;
    pf_builder_add_rule(b, &r);
    return pf_builder_finish(b, &err);
}

enum kind { K_IN, K_NOTE, K_OPEN };

/* ns per operation: the median of rounds. */
static double
measure(enum kind k, const struct pf_filter *f, struct pf_flows *fl, uint8_t *pkt, int rounds,
        int ms)
{
    static const uint8_t key[AEAD_KEY_LEN] = { 1 }, nonce[AEAD_NONCE_LEN] = { 0 };
    double r[MAX_ROUNDS];
    uint8_t sealed[PKT + 16], out[PKT];
    uint64_t iters = 1000, ctr = 0;
    struct pf_result res;

    if (k == K_OPEN)
        aead_seal(sealed, pkt, PKT, NULL, 0, nonce, key);
    for (int round = -1; round < rounds; round++) {
        uint64_t t0 = now_ns(), dt;
        volatile int sink = 0;

        for (uint64_t i = 0; i < iters; i++) {
            switch (k) {
            case K_IN:
                sink += pf_filter_inbound(f, fl, pkt, PKT, ++ctr, &res);
                break;
            case K_NOTE:
                pf_flows_note_outbound(fl, pkt, PKT, ++ctr);
                break;
            case K_OPEN:
                sink += aead_open(out, sealed, PKT + 16, NULL, 0, nonce, key);
                break;
            }
        }
        dt = now_ns() - t0;
        if (round < 0) { /* warm-up: size the rounds to ~ms */
            iters = iters * (uint64_t)ms * 1000000ULL / (dt ? dt : 1) + 1;
            continue;
        }
        r[round] = (double)dt / (double)iters;
    }
    qsort(r, (size_t)rounds, sizeof(r[0]), cmp_double);
    return r[rounds / 2];
}

int
main(int argc, char **argv)
{
    int rounds = 5, ms = 200;
    unsigned n_rules = 1000;
    uint8_t pkt[PKT];
    struct pf_filter *f;
    struct pf_flows *fl = pf_flows_new(0);
    double open_ns, v;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ms"))
            ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rules"))
            n_rules = (unsigned)atoi(argv[i + 1]);
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1 || n_rules < 1 || sodium_init() < 0)
        return 2;
    f = make_filter(n_rules);
    if (!f || !fl)
        return 1;

    make_packet(pkt, 17, 0, false);
    open_ns = measure(K_OPEN, NULL, NULL, pkt, rounds, ms);
    printf("%u rules; yardstick: one %d-byte AEAD open = %.1f ns\n\n", n_rules, PKT, open_ns);
    printf("| case | ns per packet | ÷ AEAD open |\n|---|---:|---:|\n");

    make_packet(pkt, 6, 0x10, false);
    v = measure(K_IN, f, fl, pkt, rounds, ms);
    printf("| tcp-established | %.1f | %.3f |\n", v, v / open_ns);
    make_packet(pkt, 17, 0, true);
    pf_flows_note_outbound(fl, pkt, PKT, 1);
    make_packet(pkt, 17, 0, false);
    v = measure(K_IN, f, fl, pkt, rounds, ms);
    printf("| udp-flow | %.1f | %.3f |\n", v, v / open_ns);
    make_packet(pkt, 17, 0, false);
    pkt[21] ^= 1; /* another source port: a new flow, accepted by the rule, then cached */
    v = measure(K_IN, f, fl, pkt, rounds, ms);
    printf("| udp-accepted | %.1f | %.3f |\n", v, v / open_ns);
    make_packet(pkt, 6, 0x02, false);
    v = measure(K_IN, f, fl, pkt, rounds, ms);
    printf("| tcp-syn (rule lookup) | %.1f | %.3f |\n", v, v / open_ns);
    make_packet(pkt, 6, 0x10, true);
    v = measure(K_NOTE, f, fl, pkt, rounds, ms);
    printf("| tx-note-tcp | %.1f | %.3f |\n", v, v / open_ns);
    make_packet(pkt, 17, 0, true);
    v = measure(K_NOTE, f, fl, pkt, rounds, ms);
    printf("| tx-note-udp | %.1f | %.3f |\n", v, v / open_ns);
    pf_filter_free(f);
    pf_flows_free(fl);
    return 0;
}
