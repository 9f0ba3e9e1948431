#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Small network probes for the packet filter test (ts-filter.sh), each run
inside a node's network namespace.

  filter-net.py tcp-echo PORT READY       TCP echo server on every address, one
                                          thread per connection; touches READY
                                          once listening
  filter-net.py connect ADDR PORT SECS    one TCP connect: prints "ok", "refused
                                          <s>" (RST/ICMP: the time it took) or
                                          "timeout"; exit 0 only for ok
  filter-net.py hold ADDR PORT GO OUT     connect and echo "one"; then wait
                                          (up to 120 s) until the file GO
                                          exists, echo "two" on the same
                                          connection; writes "ok" or what failed
                                          to OUT (and "connected" to OUT.up
                                          after the first echo)
  filter-net.py udp-echo ADDR PORT READY  UDP echo server on ADDR
  filter-net.py udp-ask ADDR PORT SECS    send a datagram every 0.5 s until the
                                          echo comes back: prints "ok" (exit 0)
                                          or "timeout"
"""
import os
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_echo(port, ready):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(port)))
    s.listen(64)
    open(ready, "w").close()

    def serve(c):
        with c:
            while True:
                b = c.recv(4096)
                if not b:
                    return
                c.sendall(b)

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def connect(addr, port, secs):
    t0 = time.monotonic()
    try:
        socket.create_connection((addr, int(port)), timeout=float(secs)).close()
        print("ok")
        return 0
    except ConnectionRefusedError:
        print("refused %.2f" % (time.monotonic() - t0))
    except (socket.timeout, TimeoutError):
        print("timeout")
    except OSError as e:
        print("error %s" % e)
    return 1


def echo(c, word):
    c.sendall(word)
    got = b""
    while len(got) < len(word):
        b = c.recv(4096)
        if not b:
            break
        got += b
    return got == word


def hold(addr, port, go, out):
    def done(msg):
        with open(out + ".tmp", "w") as f:
            f.write(msg + "\n")
        os.rename(out + ".tmp", out)

    try:
        c = socket.create_connection((addr, int(port)), timeout=20)
        c.settimeout(20)
        if not echo(c, b"one\n"):
            return done("first echo failed")
        open(out + ".up", "w").write("connected\n")
        end = time.monotonic() + 120
        while not os.path.exists(go):
            if time.monotonic() > end:
                return done("no go file")
            time.sleep(0.1)
        done("ok" if echo(c, b"two\n") else "second echo failed")
    except OSError as e:
        done("error %s" % e)


def udp_echo(addr, port, ready):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    open(ready, "w").close()
    while True:
        b, peer = s.recvfrom(4096)
        s.sendto(b, peer)


def udp_ask(addr, port, secs):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(0.5)
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        s.sendto(b"are you there", (addr, int(port)))
        try:
            b, _ = s.recvfrom(4096)
            if b == b"are you there":
                print("ok")
                return 0
        except (socket.timeout, TimeoutError):
            pass
    print("timeout")
    return 1


def main(cmd, *args):
    return {
        "tcp-echo": tcp_echo,
        "connect": connect,
        "hold": hold,
        "udp-echo": udp_echo,
        "udp-ask": udp_ask,
    }[cmd](*args) or 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
