#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tailscaled's LocalAPI status for bench/tailscale/ts-bench, without starting
the tailscale CLI (a Go program) every poll while the benchmark times things.

  localapi.py direct SOCK PEER_IP T0 TIMEOUT
      poll every 50 ms until the peer holding PEER_IP has a direct address
      (PeerStatus.CurAddr, ipn/ipnstate/ipnstate.go); print seconds since T0
      (epoch), exit 1 after TIMEOUT seconds
  localapi.py path SOCK PEER_IP
      print the peer's path now: "direct ADDR", "derp REGION" or "none"
  localapi.py path-json FILE PEER_IP
      the same from a status JSON in a file (`hyphaectl status --json` has
      tailscaled's CurAddr and Relay fields)

The LocalAPI is HTTP/1.1 on the Unix socket with Host local-tailscaled.sock and
no Referer or Origin (ipn/localapi/localapi.go).
"""
import http.client
import json
import socket
import sys
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("local-tailscaled.sock", timeout=5)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.unix_path)
        self.sock = s


def peer(sock, ip):
    c = UnixConnection(sock)
    try:
        c.request("GET", "/localapi/v0/status")
        r = c.getresponse()
        st = json.loads(r.read())
    finally:
        c.close()
    return peer_in(st, ip)


def peer_in(st, ip):
    for p in (st.get("Peer") or {}).values():
        if ip in (p.get("TailscaleIPs") or []):
            return p
    return None


def main():
    cmd, sock, ip = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "direct":
        t0, end = float(sys.argv[4]), time.time() + float(sys.argv[5])
        while time.time() < end:
            try:
                p = peer(sock, ip)
            except (OSError, ValueError, http.client.HTTPException):
                p = None
            if p and p.get("CurAddr"):
                print("%.3f" % (time.time() - t0))
                return 0
            time.sleep(0.05)
        return 1
    if cmd in ("path", "path-json"):
        if cmd == "path":
            p = peer(sock, ip) or {}
        else:
            try:
                with open(sock) as f:
                    p = peer_in(json.load(f), ip) or {}
            except (OSError, ValueError):
                p = {}
        if p.get("CurAddr"):
            print("direct " + p["CurAddr"])
        elif p.get("Relay"):
            print("derp " + p["Relay"])
        else:
            print("none")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
