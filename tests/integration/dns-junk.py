#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Malformed and oversized queries to a DNS server (MagicDNS in ts-magicdns.sh).

  dns-junk.py SERVER SRC

SERVER: the address queried (port 53); SRC: our own address towards it (for
the raw IPv4 packets, whose headers we write). One line per case:
"CASE RESULT", RESULT the answer's RCODE name, or "none" when nothing came
within 2 s (a dropped query: the test accepts FORMERR or none, and checks
the server still answers afterwards). Cases:
  random-N    N random datagrams of 1..600 bytes (one line: the set of results)
  badq        a header for one question, the name running past the end
  response    a well-formed message with QR set (a response, not a query)
  oversized   a 4000-byte query: one question, then 3900 bytes of junk
  huge-count  a header claiming 65535 answers behind a good question
  raw-udplen  an IPv4/UDP packet whose UDP length exceeds the packet (raw socket)
  raw-frag    an IPv4 fragment (MF set) of a query (raw socket)
"""
import random
import socket
import struct
import sys

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def question(name, qtype=1):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack(">HH", qtype, 1)


def result(sock, qid=None):
    sock.settimeout(2)
    try:
        while True:
            data = sock.recv(65535)
            if len(data) < 12:
                return "short"
            if qid is None or struct.unpack(">H", data[:2])[0] == qid:
                return RCODES.get(data[3] & 0xF, "rcode%d" % (data[3] & 0xF))
    except socket.timeout:
        return "none"


def udp(server):
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((server, 53))
    return s


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def raw_case(server, src, udp_len_delta, frag):
    """A raw IPv4 packet to SERVER:53 from SRC:port; the answer, if any."""
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.bind((src, 0))
    sport = listen.getsockname()[1]
    payload = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + question("raw.example")
    ulen = 8 + len(payload) + udp_len_delta
    udph = struct.pack(">HHHH", sport, 53, ulen, 0)
    total = 20 + 8 + len(payload)
    flags_frag = 0x2000 if frag else 0
    iph = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0x1234, flags_frag, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(server))
    iph = iph[:10] + struct.pack(">H", checksum(iph)) + iph[12:]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.sendto(iph + udph + payload, (server, 0))
    return result(listen)


def main(server, src):
    rnd = random.Random(12)
    seen = set()
    for _ in range(200):
        s = udp(server)
        s.send(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 600))))
        s.settimeout(0.05)
        try:
            data = s.recv(65535)
            seen.add(RCODES.get(data[3] & 0xF, "other") if len(data) >= 12 else "short")
        except socket.timeout:
            seen.add("none")
        s.close()
    print("random-200", ",".join(sorted(seen)))

    s = udp(server)
    s.send(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x3fabc")
    print("badq", result(s, 0x4242))

    s = udp(server)
    s.send(struct.pack(">HHHHHH", 0x4343, 0x8180, 1, 0, 0, 0) + question("resp.example"))
    print("response", result(s, 0x4343))

    s = udp(server)
    s.send(struct.pack(">HHHHHH", 0x4444, 0x0100, 1, 0, 0, 0) + question("big.example") + b"\xff" * 3900)
    print("oversized", result(s, 0x4444))

    s = udp(server)
    s.send(struct.pack(">HHHHHH", 0x4545, 0x0100, 1, 0xFFFF, 0, 0) + question("count.example"))
    print("huge-count", result(s, 0x4545))

    if ":" not in server:
        print("raw-udplen", raw_case(server, src, 64, False))
        print("raw-frag", raw_case(server, src, 0, True))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
