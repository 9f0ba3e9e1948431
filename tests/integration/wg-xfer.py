#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""TCP bulk transfer with an end-to-end SHA-256, for the WireGuard netns tests.

  wg-xfer.py recv ADDR PORT READYFILE      listen, accept one connection, read to EOF,
                                           print "<bytes> <sha256>"
  wg-xfer.py send ADDR PORT BYTES [MINSEC] connect, send BYTES random bytes (paced so the
                                           transfer lasts at least MINSEC s), print
                                           "<bytes> <sha256>"
Standard library only.  Every blocking call has a timeout: nothing hangs.
"""
import hashlib
import os
import socket
import sys
import time

TIMEOUT = 60.0
CHUNK = 1 << 20


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(addr, port, readyfile):
    ls = socket.socket(family(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(1)
    ls.settimeout(TIMEOUT)
    with open(readyfile, "w") as f:
        f.write("ready\n")
    conn, _ = ls.accept()
    conn.settimeout(TIMEOUT)
    h = hashlib.sha256()
    n = 0
    while True:
        b = conn.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    conn.close()
    print(n, h.hexdigest())


def send(addr, port, nbytes, minsec="0"):
    nbytes, minsec = int(nbytes), float(minsec)
    s = socket.create_connection((addr, int(port)), timeout=TIMEOUT)
    h = hashlib.sha256()
    left = nbytes
    start = time.monotonic()
    while left:
        b = os.urandom(min(CHUNK, left))
        h.update(b)
        s.sendall(b)
        left -= len(b)
        if minsec > 0:  # pace: never ahead of nbytes/minsec
            due = start + minsec * (nbytes - left) / nbytes
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(TIMEOUT)
    while s.recv(4096):   # wait for the receiver to close: all data is through
        pass
    s.close()
    print(nbytes, h.hexdigest())


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"recv": recv, "send": send}[cmd](*args)
