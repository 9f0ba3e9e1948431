#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A tiny authoritative DNS server for the MagicDNS tests (ts-magicdns.sh):
one zone, UDP and TCP on one address and port, every query logged.

  dns-upstream.py ADDR PORT ZONE LOG READY

  A for NAME.ZONE            192.0.2.10
  A for big.ZONE             over UDP: TC set and no records (the client must
                             ask over TCP); over TCP: 192.0.2.99
  anything else              REFUSED
LOG gets one line per query: "udp NAME TYPE SRC" / "tcp NAME TYPE SRC". READY is
created once both sockets listen. Runs until killed.
"""
import socket
import struct
import sys
import threading


def parse_question(msg):
    """(id, flags, name, qtype, end of question) or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", msg[:6])
    if qd != 1 or flags & 0x8000:
        return None
    off, labels = 12, []
    while off < len(msg) and msg[off] != 0:
        n = msg[off]
        if n > 63 or off + 1 + n > len(msg):
            return None
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace").lower())
        off += 1 + n
    if off + 5 > len(msg):
        return None
    qtype = struct.unpack(">H", msg[off + 1:off + 3])[0]
    return qid, flags, ".".join(labels), qtype, off + 5


def answer(msg, zone, tcp):
    q = parse_question(msg)
    if q is None:
        return None
    qid, flags, name, qtype, end = q
    rd = flags & 0x0100
    under = name == zone or name.endswith("." + zone)
    head = lambda fl, an: struct.pack(">HHHHHH", qid, fl, 1, an, 0, 0)
    question = msg[12:end]
    if not under:
        return head(0x8000 | rd | 5, 0) + question
    if qtype != 1:
        return head(0x8400 | rd, 0) + question
    if name == "big." + zone and not tcp:
        return head(0x8400 | 0x0200 | rd, 0) + question
    ip = bytes([192, 0, 2, 99 if name == "big." + zone else 10])
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ip
    return head(0x8400 | rd, 1) + question + rr


def log(path, lock, line):
    with lock, open(path, "a") as f:
        f.write(line + "\n")


def serve_udp(sock, zone, logpath, lock):
    while True:
        msg, peer = sock.recvfrom(65535)
        q = parse_question(msg)
        log(logpath, lock, "udp %s %s %s" % (q[2], q[3], peer[0]) if q else "udp junk")
        a = answer(msg, zone, False)
        if a:
            sock.sendto(a, peer)


def serve_tcp_conn(conn, zone, logpath, lock):
    src = conn.getpeername()[0]
    with conn:
        conn.settimeout(10)
        try:
            while True:
                hdr = conn.recv(2, socket.MSG_WAITALL)
                if len(hdr) < 2:
                    return
                n = struct.unpack(">H", hdr)[0]
                msg = conn.recv(n, socket.MSG_WAITALL)
                q = parse_question(msg)
                log(logpath, lock, "tcp %s %s %s" % (q[2], q[3], src) if q else "tcp junk")
                a = answer(msg, zone, True)
                if not a:
                    return
                conn.sendall(struct.pack(">H", len(a)) + a)
        except OSError:
            return


def main(addr, port, zone, logpath, ready):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    lock = threading.Lock()
    udp = socket.socket(fam, socket.SOCK_DGRAM)
    udp.bind((addr, int(port)))
    tcp = socket.socket(fam, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, int(port)))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp, zone.lower(), logpath, lock), daemon=True).start()
    open(ready, "w").close()
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, zone.lower(), logpath, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
