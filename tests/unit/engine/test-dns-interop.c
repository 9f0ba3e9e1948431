/* SPDX-License-Identifier: MIT */
/*
 * Interop of daemon/engine/dns with real DNS implementations:
 *
 *  /dns-interop/go         queries built by golang.org/x/net/dns/dnsmessage
 *                          (the package Tailscale's resolver uses; tests/
 *                          tailscale/cmd/dns-vectors) parsed and answered
 *                          here; our answers (and error, BADVERS and TC
 *                          answers) parsed back by dnsmessage, every section
 *                          compared
 *  /dns-interop/go-packets our answer packets (IPv4 and IPv6) decoded by
 *                          tailscale.com/net/packet, checksums verified
 *  /dns-interop/dig        dig (BIND 9) queries a UDP socket this test serves
 *                          with dns_respond: names, bare names, AAAA no-data,
 *                          PTR, NXDOMAIN, forward (answered SERVFAIL here, as
 *                          MagicDNS does without a route), DO, BADVERS, TC
 *
 * Without the Go program or dig the tests skip, unless $CI is set: then
 * they fail (.ci/packages has bind9-dnsutils).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>

#include "dns/dns-packet.h"
#include "dns/dns-resolve.h"
#include "fixture-hex.h"
#include "fixture-missing.h"
#include "fixture-spawn.h"

static struct dns_table *
tailnet(void)
{
    static const struct {
        const char *name, *ip;
    } recs[] = {
        { "laptop.tail1234.ts.net", "100.64.0.1" },
        { "laptop.tail1234.ts.net", "fd7a:115c:a1e0::1" },
        { "v4only.tail1234.ts.net", "100.64.0.3" },
    };
    struct dns_table_builder *b = dns_table_builder_new();

    for (size_t i = 0; i < G_N_ELEMENTS(recs); i++) {
        struct ip_addr a;

        g_assert_true(ip_addr_parse(&a, recs[i].ip, strlen(recs[i].ip)));
        g_assert_cmpint(dns_table_builder_add(b, recs[i].name, &a), ==, 0);
    }
    /* 60 AAAA for one name: 1,680 bytes of records, more than 1,232. */
    for (int i = 0; i < 60; i++) {
        struct ip_addr a = { .family = AF_INET6,
                             .bytes = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1,
                                        0xe0, [14] = 1, [15] = (uint8_t)i } };

        g_assert_cmpint(dns_table_builder_add(b, "many.tail1234.ts.net", &a), ==, 0);
    }
    g_assert_cmpint(dns_table_builder_add_zone(b, "tail1234.ts.net"), ==, 0);
    g_assert_cmpint(dns_table_builder_add_tailnet_reverse_zones(b), ==, 0);
    g_assert_cmpint(dns_table_builder_add_search(b, "tail1234.ts.net"), ==, 0);
    return dns_table_build(b);
}

/* What MagicDNS would send: our answer, or SERVFAIL where it would forward
 * and has no route. 0: nothing. */
static size_t
serve(const struct dns_table *t, const uint8_t *msg, size_t len, size_t max_len, uint8_t *out)
{
    struct dns_query q;
    size_t n;

    switch (dns_respond(t, msg, len, max_len, &q, out, DNS_ANSWER_MAX, &n)) {
    case DNS_VERDICT_ANSWER:
        return n;
    case DNS_VERDICT_FORWARD:
        return dns_answer_error(&q, DNS_RCODE_SERVFAIL, max_len, out, DNS_ANSWER_MAX);
    case DNS_VERDICT_DROP:
        break;
    }
    return 0;
}

/* ---- Go -------------------------------------------------------------------------- */

static const char *
need_vectors(void)
{
    const char *bin = g_getenv("HYPHAE_DNS_VECTORS");

    if (bin && g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE))
        return bin;
    fixture_missing("tests/tailscale/cmd/dns-vectors was not built (Go >= 1.26 and the "
                    "tailscale.com module; HYPHAE_DNS_VECTORS=%s)",
                    bin ? bin : "");
    return NULL;
}

/* Run dns-vectors MODE with input on its stdin; its stdout. */
static char *
vectors(const char *bin, const char *mode, const char *input)
{
    const char *argv[] = { bin, mode, NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) child = fixture_child_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv, &error);
    char *out = NULL;

    g_assert_no_error(error);
    g_subprocess_communicate_utf8(child, input, NULL, &out, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(g_subprocess_wait_check(child, NULL, &error));
    g_assert_no_error(error);
    return out;
}

static char *
hex(const uint8_t *p, size_t n)
{
    GString *s = g_string_sized_new(2 * n + 1);

    for (size_t i = 0; i < n; i++)
        g_string_append_printf(s, "%02x", p[i]);
    return g_string_free(s, FALSE);
}

/* "name summary" lines → name → summary. */
static GHashTable *
lines(const char *text)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) v = g_strsplit(text, "\n", -1);

    for (char **l = v; *l; l++) {
        const char *sp = strchr(*l, ' ');

        if (sp)
            g_hash_table_insert(h, g_strndup(*l, (gsize)(sp - *l)), g_strdup(sp + 1));
    }
    return h;
}

static const struct {
    const char *name, *want;
} go_answers[] = {
    { "a-opt", "id=4660 rcode=0 flags=qr,aa,rd,ra q=[laptop.tail1234.ts.net. TypeA] "
               "an=[laptop.tail1234.ts.net. A 5 100.64.0.1] ns=[] "
               "ar=[OPT size=1232 do=true ext=0 opts=0]" },
    { "aaaa-case", "id=7 rcode=0 flags=qr,aa q=[LapTop.TAIL1234.ts.net. TypeAAAA] "
                   "an=[LapTop.TAIL1234.ts.net. AAAA 5 fd7a:115c:a1e0::1] ns=[] ar=[]" },
    { "ptr4", "id=9 rcode=0 flags=qr,aa,rd,ra q=[1.0.64.100.in-addr.arpa. TypePTR] "
              "an=[1.0.64.100.in-addr.arpa. PTR 5 laptop.tail1234.ts.net.] ns=[] "
              "ar=[OPT size=1232 do=false ext=0 opts=0]" },
    { "txt",
      "id=10 rcode=0 flags=qr,aa,rd,ra q=[laptop.tail1234.ts.net. TypeTXT] an=[] ns=[] ar=[]" },
    { "nx", "id=11 rcode=3 flags=qr,aa,rd,ra q=[nobody.tail1234.ts.net. TypeA] an=[] "
            "ns=[tail1234.ts.net. SOA 10 tail1234.ts.net. tail1234.ts.net. 1 10 10 10 10] "
            "ar=[OPT size=1232 do=false ext=0 opts=0]" },
    { "compressed", "id=12 rcode=0 flags=qr,aa q=[laptop.tail1234.ts.net. TypeA] "
                    "an=[laptop.tail1234.ts.net. A 5 100.64.0.1] ns=[] "
                    "ar=[OPT size=1232 do=false ext=0 opts=0]" },
};

/* Answers only this side can provoke: FORMERR, BADVERS, TC, a v4-only AAAA. */
static const struct {
    const char *name, *query, *want;
} c_answers[] = {
    { "formerr", "000101000001000000000000c00c00010001",
      "id=1 rcode=1 flags=qr,aa,rd,ra q=[] an=[] ns=[] ar=[]" },
    { "badvers", "0002000000010000000000010178000001000100002904d0000100000000",
      "id=2 rcode=0 flags=qr,aa q=[x. TypeA] an=[] ns=[] ar=[OPT size=1232 do=false ext=1 "
      "opts=0]" },
    { "tc", "000301000001000000000000046d616e79087461696c31323334027473036e657400001c0001",
      "id=3 rcode=0 flags=qr,aa,tc,rd,ra q=[many.tail1234.ts.net. TypeAAAA] an=[] ns=[] ar=[]" },
    { "nodata",
      "000401000001000000000000"
      "0676346f6e6c79087461696c31323334027473036e657400001c0001",
      "id=4 rcode=0 flags=qr,aa,rd,ra q=[v4only.tail1234.ts.net. TypeAAAA] an=[] "
      "ns=[tail1234.ts.net. SOA 10 tail1234.ts.net. tail1234.ts.net. 1 10 10 10 10] ar=[]" },
};

static void
test_go(void)
{
    const char *bin = need_vectors();
    struct dns_table *t;
    g_autofree char *queries = NULL, *parsed = NULL;
    g_autoptr(GHashTable) qs = NULL, got = NULL;
    g_autoptr(GString) input = g_string_new(NULL);
    uint8_t out[DNS_ANSWER_MAX];

    if (!bin)
        return;
    t = tailnet();
    queries = vectors(bin, "queries", "");
    qs = lines(queries);
    for (size_t i = 0; i < G_N_ELEMENTS(go_answers); i++) {
        const char *qhex = g_hash_table_lookup(qs, go_answers[i].name);
        g_autoptr(GBytes) q = NULL;
        g_autofree char *ahex = NULL;
        const uint8_t *p;
        gsize n;
        size_t alen;

        g_assert_nonnull(qhex);
        q = fixture_unhex(qhex);
        p = g_bytes_get_data(q, &n);
        alen = serve(t, p, n, 1252, out);
        g_assert_cmpuint(alen, >, 0);
        ahex = hex(out, alen);
        g_string_append_printf(input, "%s %s\n", go_answers[i].name, ahex);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(c_answers); i++) {
        g_autoptr(GBytes) q = fixture_unhex(c_answers[i].query);
        g_autofree char *ahex = NULL;
        gsize n;
        const uint8_t *p = g_bytes_get_data(q, &n);
        size_t alen = serve(t, p, n, 1252, out);

        g_assert_cmpuint(alen, >, 0);
        ahex = hex(out, alen);
        g_string_append_printf(input, "%s %s\n", c_answers[i].name, ahex);
    }
    g_string_append(input, "end\n");
    parsed = vectors(bin, "parse", input->str);
    got = lines(parsed);
    for (size_t i = 0; i < G_N_ELEMENTS(go_answers); i++)
        g_assert_cmpstr(g_hash_table_lookup(got, go_answers[i].name), ==, go_answers[i].want);
    for (size_t i = 0; i < G_N_ELEMENTS(c_answers); i++)
        g_assert_cmpstr(g_hash_table_lookup(got, c_answers[i].name), ==, c_answers[i].want);
    dns_table_free(t);
}

static void
test_go_packets(void)
{
    static const char *const want[] = {
        "v4 100.100.100.100:53 > 100.64.0.1:40000 ttl=64 len=84 ipsum=true udpsum=true id=1 "
        "rcode=0 flags=qr,aa,rd,ra q=[laptop.tail1234.ts.net. TypeA] "
        "an=[laptop.tail1234.ts.net. A 5 100.64.0.1] ns=[] ar=[]",
        "v6 [fd7a:115c:a1e0::53]:53 > [fd7a:115c:a1e0::1]:40000 ttl=64 len=104 ipsum=true "
        "udpsum=true id=1 rcode=0 flags=qr,aa,rd,ra q=[laptop.tail1234.ts.net. TypeA] "
        "an=[laptop.tail1234.ts.net. A 5 100.64.0.1] ns=[] ar=[]",
    };
    const char *bin = need_vectors();
    struct dns_table *t;
    g_autoptr(GString) input = g_string_new(NULL);
    g_autofree char *parsed = NULL;
    g_autoptr(GHashTable) got = NULL;
    g_autoptr(GBytes) b4 = NULL;
    uint8_t pkt6[128], answer[DNS_ANSWER_MAX], out[1500];
    struct dns_packet p;
    const uint8_t *raw4;
    gsize n4;

    if (!bin)
        return;
    t = tailnet();
    /* Build both queries from one DNS payload. */
    {
        static const uint8_t dnsq[] = { 0,   1,   1,   0,   0,   1,   0,   0,   0,   0,
                                        0,   0,   6,   'l', 'a', 'p', 't', 'o', 'p', 8,
                                        't', 'a', 'i', 'l', '1', '2', '3', '4', 2,   't',
                                        's', 3,   'n', 'e', 't', 0,   0,   1,   0,   1 };
        GByteArray *m4 = g_byte_array_new(), *m6 = g_byte_array_new();
        const uint8_t ip4[20] = {
            0x45, 0,   0,  20 + 8 + sizeof(dnsq), 0, 0, 0x40, 0, 64, 17, 0, 0, 100, 64, 0, 1, 100,
            100,  100, 100
        };
        const uint8_t udp[8] = { 0x9c, 0x40, 0, 53, 0, 8 + sizeof(dnsq), 0, 0 };
        uint8_t ip6[40] = { 0x60, 0, 0, 0, 0, 8 + sizeof(dnsq), 17, 64 };

        memcpy(ip6 + 8, (uint8_t[]){ 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, [15] = 1 }, 16);
        memcpy(ip6 + 24, dns_service_v6.bytes, 16);
        g_byte_array_append(m4, ip4, 20);
        g_byte_array_append(m4, udp, 8);
        g_byte_array_append(m4, dnsq, sizeof(dnsq));
        g_byte_array_append(m6, ip6, 40);
        g_byte_array_append(m6, udp, 8);
        g_byte_array_append(m6, dnsq, sizeof(dnsq));
        b4 = g_byte_array_free_to_bytes(m4);
        g_assert_cmpuint(m6->len, <=, sizeof(pkt6));
        memcpy(pkt6, m6->data, m6->len);
        g_byte_array_unref(m6);
    }
    raw4 = g_bytes_get_data(b4, &n4);
    for (int v = 0; v < 2; v++) {
        const uint8_t *pkt = v == 0 ? raw4 : pkt6;
        size_t len = v == 0 ? n4 : 40 + 8 + 40, alen, plen;
        g_autofree char *h = NULL;

        g_assert_cmpint(dns_packet_parse(pkt, len, &p), ==, 0);
        alen =
            serve(t, p.payload, p.payload_len, dns_packet_max_payload(&p, DNS_PACKET_MTU), answer);
        g_assert_cmpuint(alen, >, 0);
        plen = dns_packet_build_reply(&p, answer, alen, out, sizeof(out));
        g_assert_cmpuint(plen, >, 0);
        h = hex(out, plen);
        g_string_append_printf(input, "p%d %s\n", v, h);
    }
    g_string_append(input, "end\n");
    parsed = vectors(bin, "packets", input->str);
    got = lines(parsed);
    g_assert_cmpstr(g_hash_table_lookup(got, "p0"), ==, want[0]);
    g_assert_cmpstr(g_hash_table_lookup(got, "p1"), ==, want[1]);
    dns_table_free(t);
}

/* ---- dig ------------------------------------------------------------------------- */

struct server {
    int fd;
    uint16_t port;
    struct dns_table *table;
    gint stop;
    GThread *thread;
};

static gpointer
server_run(gpointer data)
{
    struct server *s = data;
    uint8_t in[4096], out[DNS_ANSWER_MAX];

    while (!g_atomic_int_get(&s->stop)) {
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n;
        size_t alen;

        if (poll(&pfd, 1, 50) <= 0)
            continue;
        n = recvfrom(s->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            continue;
        alen = serve(s->table, in, (size_t)n, 1252, out);
        if (alen)
            (void)sendto(s->fd, out, alen, 0, (struct sockaddr *)&from, flen);
    }
    return NULL;
}

static void
server_start(struct server *s)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sin);

    s->table = tailnet();
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(s->fd, >=, 0);
    g_assert_cmpint(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(getsockname(s->fd, (struct sockaddr *)&sin, &len), ==, 0);
    s->port = ntohs(sin.sin_port);
    s->stop = 0;
    s->thread = g_thread_new("dns-server", server_run, s);
}

static void
server_stop(struct server *s)
{
    g_atomic_int_set(&s->stop, 1);
    g_thread_join(s->thread);
    close(s->fd);
    dns_table_free(s->table);
}

/* dig's output for "@127.0.0.1 -p PORT args…" (no retries; generous timeout). */
static char *
dig(const struct server *s, const char *args)
{
    g_autofree char *cmd =
        g_strdup_printf("dig @127.0.0.1 -p %u +tries=1 +timeout=10 %s", s->port, args);
    gboolean ok;
    char *out = fixture_run_status(cmd, &ok);

    g_test_message("%s\n%s", cmd, out);
    return out;
}

static void
assert_has(const char *text, const char *pattern)
{
    if (!g_regex_match_simple(pattern, text, G_REGEX_MULTILINE, 0))
        g_error("no /%s/ in:\n%s", pattern, text);
}

static void
test_dig(void)
{
    static const struct {
        const char *args;
        const char *patterns[3];
    } cases[] = {
        { "laptop.tail1234.ts.net A",
          { "status: NOERROR", "flags: qr aa rd ra;",
            "^laptop\\.tail1234\\.ts\\.net\\.\\s+5\\s+IN\\s+A\\s+100\\.64\\.0\\.1$" } },
        { "LapTop.Tail1234.TS.net AAAA",
          { "status: NOERROR",
            "^LapTop\\.Tail1234\\.TS\\.net\\.\\s+5\\s+IN\\s+AAAA\\s+fd7a:115c:a1e0::1$",
            "udp: 1232" } },
        { "laptop A", { "status: NOERROR", "^laptop\\.\\s+5\\s+IN\\s+A\\s+100\\.64\\.0\\.1$" } },
        { "v4only.tail1234.ts.net AAAA",
          { "status: NOERROR", "ANSWER: 0, AUTHORITY: 1",
            "^tail1234\\.ts\\.net\\.\\s+10\\s+IN\\s+SOA\\s+tail1234\\.ts\\.net\\. "
            "tail1234\\.ts\\.net\\. 1 10 10 10 10$" } },
        { "-x 100.64.0.1",
          { "status: NOERROR", "^1\\.0\\.64\\.100\\.in-addr\\.arpa\\.\\s+5\\s+IN\\s+PTR\\s+"
                               "laptop\\.tail1234\\.ts\\.net\\.$" } },
        { "-x fd7a:115c:a1e0::1",
          { "status: NOERROR", "IN\\s+PTR\\s+laptop\\.tail1234\\.ts\\.net\\.$" } },
        { "-x 100.64.9.9", { "status: NXDOMAIN", "IN\\s+SOA\\s+64\\.100\\.in-addr\\.arpa\\." } },
        { "nobody.tail1234.ts.net", { "status: NXDOMAIN", "AUTHORITY: 1" } },
        { "example.com", { "status: SERVFAIL" } },
        { "+dnssec laptop.tail1234.ts.net",
          { "flags: do; udp: 1232", "IN\\s+A\\s+100\\.64\\.0\\.1" } },
        { "+edns=1 +noednsnegotiation laptop.tail1234.ts.net", { "status: BADVERS" } },
        { "+ignore +bufsize=1232 many.tail1234.ts.net AAAA",
          { "flags: qr aa tc rd ra;", "ANSWER: 0" } },
        { "+ignore +noedns many.tail1234.ts.net AAAA", { "flags: qr aa tc rd ra;", "ANSWER: 0" } },
        { "+notcp +bufsize=4096 v4only.tail1234.ts.net ANY",
          { "status: NOERROR", "IN\\s+A\\s+100\\.64\\.0\\.3" } },
    };
    g_autofree char *dig_path = g_find_program_in_path("dig");
    struct server s;

    if (!dig_path) {
        fixture_missing("dig not found (Debian: bind9-dnsutils)");
        return;
    }
    server_start(&s);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *out = dig(&s, cases[i].args);

        for (size_t j = 0; j < G_N_ELEMENTS(cases[i].patterns) && cases[i].patterns[j]; j++)
            assert_has(out, cases[i].patterns[j]);
    }
    server_stop(&s);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns-interop/go", test_go);
    g_test_add_func("/dns-interop/go-packets", test_go_packets);
    g_test_add_func("/dns-interop/dig", test_dig);
    return g_test_run();
}
