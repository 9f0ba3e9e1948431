#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Throw hostile datagrams at a WireGuard listener during a transfer and prove that
nothing comes back (the WireGuard paper §5.1, "Silence is a Virtue").  Standard
library only; needs root
(AF_PACKET and raw IPv4 sockets).  Run it in the namespace of the legitimate peer:

  wg-junk.py --ifname va --peer 10.200.0.1:51820 --target 10.200.0.2:51821 \
             --junk-src 10.200.0.66 --target-pub BASE64 [--duration 1] [--listen 2]

1. Sniffs IFNAME (AF_PACKET) for real transport-data datagrams PEER -> TARGET and
   keeps a few of them (needs a transfer running: fails if none within 10 s).
2. For --duration seconds sends, from a plain UDP socket bound to JUNK_SRC:
   random junk; every message type truncated and with wrong lengths; malformed
   messages (bad mac1, valid mac1 with garbage bodies, the live receiver index with
   a garbage body, huge counters, flipped ciphertext/tag bits, nonzero reserved
   bytes, unknown types); the captured datagrams replayed verbatim; oversized
   datagrams (2000, 9000 and 65507 bytes: IP fragments). It also replays the
   captured datagrams with PEER's own source address and port (raw socket).
3. Keeps sniffing for --listen more seconds and counts every IPv4 packet addressed
   to JUNK_SRC.  A 64-byte cookie reply (type 3) is the only answer the protocol
   allows (and only to an initiation with a valid mac1); anything else is a failure.

Prints a summary; exit 0 = no forbidden reply and transport traffic was seen while
the junk was sent; 1 = a forbidden reply; 2 = no transfer running / setup error.
"""
import argparse
import base64
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def blake2s(data, key=b"", size=32):
    return hashlib.blake2s(data, key=key, digest_size=size).digest()


def mac1(msg_wo_macs, pub):
    return blake2s(msg_wo_macs, key=blake2s(b"mac1----" + pub), size=16)


def parse_udp4(frame):
    """Ethernet frame -> (src, sport, dst, dport, payload, proto) or None."""
    if len(frame) < 14 + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    proto = ip[9]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    frag = struct.unpack("!H", ip[6:8])[0] & 0x1FFF
    if proto != 17 or frag != 0 or len(ip) < ihl + 8:
        return (src, 0, dst, 0, b"", proto)
    sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
    return (src, sport, dst, dport, bytes(ip[ihl + 8:ihl + ulen]), proto)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def raw_udp4(src, sport, dst, dport, payload):
    ulen = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, random.getrandbits(16), 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + udp


class Sniffer(threading.Thread):
    def __init__(self, ifname, peer, target, junk_src):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.settimeout(0.2)
        self.peer, self.target, self.junk_src = peer, target, junk_src
        self.captured = []       # real transport-data datagrams peer -> target
        self.transport_seen = 0  # counted while self.counting
        self.counting = False
        self.replies = []        # (src, sport, proto, payload) addressed to junk_src
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                frame, addr = self.s.recvfrom(70000)
            except socket.timeout:
                continue
            p = parse_udp4(frame)
            if p is None:
                continue
            src, sport, dst, dport, payload, proto = p
            if dst == self.junk_src and addr[2] != PACKET_OUTGOING:
                self.replies.append((src, sport, proto, payload[:64]))
            elif ((src, sport) == self.peer and (dst, dport) == self.target and len(payload) > 32
                  and payload[:4] == b"\x04\0\0\0"):
                if len(self.captured) < 8:
                    self.captured.append(payload)
                if self.counting:
                    self.transport_seen += 1


def junk_set(captured, target_pub, rnd):
    """List of (label, payload)."""
    out = []
    r = lambda n: rnd.randbytes(n)
    t = lambda typ: struct.pack("<I", typ)
    live = captured[0]
    rx_index = live[4:8]   # the target's own receiver index for the live session

    for _ in range(48):
        out.append(("random", r(rnd.randint(1, 1400))))
    out.append(("empty", b""))
    for typ, full in ((1, 148), (2, 92), (3, 64), (4, 32)):
        for n in (1, 3, 4, 5, 8, 15, 16, 31, full - 1):
            if n < full:
                out.append(("truncated-type%d-%dB" % (typ, n), (t(typ) + r(full))[:n]))
    for c in captured:
        for n in (4, 8, 16, 31, 32, len(c) - 1):
            out.append(("truncated-capture-%dB" % n, c[:n]))
    for typ, full in ((1, 148), (2, 92), (3, 64)):
        for n in (full - 1, full + 1, full + 16):
            out.append(("wrong-length-type%d-%dB" % (typ, n), t(typ) + r(n - 4)))
    # Malformed messages of the right size.
    for _ in range(4):
        out.append(("init-bad-mac1", t(1) + r(144)))
        body = t(1) + r(112)
        out.append(("init-valid-mac1-garbage", body + mac1(body, target_pub) + bytes(16)))
        body = t(2) + r(4) + rx_index + r(52)
        out.append(("response-live-index-valid-mac1", body + mac1(body, target_pub) + bytes(16)))
        out.append(("response-bad-mac1", t(2) + r(88)))
        out.append(("cookie-live-index", t(3) + rx_index + r(56)))
        out.append(("cookie-random", t(3) + r(60)))
        out.append(("transport-random-index", t(4) + r(4) + r(8) + r(rnd.randint(16, 1400))))
        out.append(("transport-live-index-garbage", t(4) + rx_index + r(8) + r(rnd.randint(16, 1400))))
        out.append(("transport-live-index-huge-counter",
                    t(4) + rx_index + struct.pack("<Q", (1 << 64) - 1 - rnd.getrandbits(8)) + r(96)))
        out.append(("transport-live-index-keepalive-garbage", t(4) + rx_index + r(8) + r(16)))
    for c in captured:
        b = bytearray(c); b[rnd.randrange(16, len(b) - 16)] ^= 0x01
        out.append(("capture-flipped-ciphertext", bytes(b)))
        b = bytearray(c); b[-1] ^= 0x80
        out.append(("capture-flipped-tag", bytes(b)))
        b = bytearray(c); b[8:16] = struct.pack("<Q", struct.unpack("<Q", c[8:16])[0] + 1_000_000)
        out.append(("capture-counter-ahead", bytes(b)))
        b = bytearray(c); b[1] = 0xFF
        out.append(("capture-reserved-nonzero", bytes(b)))
        out.append(("capture-appended-bytes", c + r(16)))
    for typ in (0, 5, 6, 255, 0x01000001):
        out.append(("unknown-type-%#x" % typ, t(typ) + r(144)))
    # Replays, verbatim.
    for c in captured:
        out.append(("replay", c))
        out.append(("replay", c))
    # Oversized (fragmented on the wire).
    out.append(("oversized-2000", r(2000)))
    out.append(("oversized-9000", t(4) + rx_index + r(8992)))
    out.append(("oversized-65507", t(4) + rx_index + live[8:16] + r(65507 - 16)))
    out.append(("oversized-init-65507", t(1) + r(65503)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--peer", required=True, type=hostport)
    ap.add_argument("--target", required=True, type=hostport)
    ap.add_argument("--junk-src", required=True)
    ap.add_argument("--target-pub", required=True)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--listen", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    rnd = random.Random(seed)
    target_pub = base64.b64decode(a.target_pub)

    sn = Sniffer(a.ifname, a.peer, a.target, a.junk_src)
    sn.start()
    deadline = time.monotonic() + 10
    while len(sn.captured) < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    if not sn.captured:
        print("junk: no transport datagram %s:%d -> %s:%d seen in 10 s (is a transfer running?)"
              % (a.peer + a.target))
        return 2
    captured = list(sn.captured)
    js = junk_set(captured, target_pub, rnd)

    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((a.junk_src, 0))
    us.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    sent = nbytes = errors = passes = spoofed = 0
    sn.counting = True
    start = time.monotonic()
    while passes == 0 or time.monotonic() - start < a.duration:
        for _, payload in js:
            try:
                us.sendto(payload, a.target)
                sent += 1
                nbytes += len(payload)
            except OSError:
                errors += 1
        for c in captured:   # replays from the genuine source address and port
            try:
                raw.sendto(raw_udp4(a.peer[0], a.peer[1], a.target[0], a.target[1], c), (a.target[0], 0))
                spoofed += 1
            except OSError:
                errors += 1
        passes += 1
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    during = sn.transport_seen
    time.sleep(a.listen)
    sn.stop = True
    sn.join()

    kinds = sorted({k for k, _ in js})
    print("junk: seed %d, %d kinds, %d passes in %.2f s: %d datagrams (%d bytes) from %s, "
          "%d spoofed replays from %s:%d, %d send errors"
          % (seed, len(kinds), passes, elapsed, sent, nbytes, a.junk_src, spoofed,
             a.peer[0], a.peer[1], errors))
    print("junk: %d real transport datagrams passed while the junk was sent" % during)
    cookies = [x for x in sn.replies
               if x[2] == 17 and (x[0], x[1]) == a.target and len(x[3]) == 64 and x[3][:4] == b"\x03\0\0\0"]
    bad = [x for x in sn.replies if x not in cookies]
    if cookies:
        print("junk: %d cookie replies (type 3, 64 B) to initiations with a valid mac1: "
              "allowed by the protocol" % len(cookies))
    for src, sport, proto, payload in bad[:10]:
        print("junk: FORBIDDEN reply from %s:%d proto %d: %s" % (src, sport, proto, payload[:32].hex()))
    print("junk: %d forbidden replies to %s" % (len(bad), a.junk_src))
    if bad:
        return 1
    if during == 0:
        print("junk: no transport traffic while sending junk: the transfer was not running")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
