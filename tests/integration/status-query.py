#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One value from a saved `status --json` (ipnstate.Status field names, which
`tailscale status --json` and `hyphaectl status --json` both use), for the
netns tests (mesh-lib.sh, ts-lib.sh).

  status-query.py FILE state          BackendState
  status-query.py FILE self4|self6    Self's first IPv4 / IPv6 TailscaleIP
  status-query.py FILE self-os        Self's OS
  status-query.py FILE self-key       Self's node key (nodekey:...)
  status-query.py FILE peer HOST      "<v4> <v6> <Online>" of the peer whose HostName
                                      is HOST, or nothing
  status-query.py FILE peer-os HOST   that peer's OS
  status-query.py FILE path HOST      "direct <CurAddr>", or "relay <Relay>" when it
                                      has no direct address
Exit 1 when FILE is missing or not JSON.
"""
import json
import sys


def ips(node, v6):
    for a in (node or {}).get("TailscaleIPs") or []:
        if (":" in a) == v6:
            return a
    return ""


def main(path, q, *args):
    try:
        with open(path) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return 1
    self = st.get("Self") or {}
    peer = None
    if args:
        for p in (st.get("Peer") or {}).values():
            if p.get("HostName") == args[0]:
                peer = p
                break
    if q == "state":
        print(st.get("BackendState", ""))
    elif q in ("self4", "self6"):
        print(ips(self, q == "self6"))
    elif q == "self-os":
        print(self.get("OS", ""))
    elif q == "self-key":
        print(self.get("PublicKey", ""))
    elif q == "self-dns":
        print(self.get("DNSName", "").rstrip("."))
    elif peer is None:
        pass
    elif q == "peer":
        print(ips(peer, False), ips(peer, True), peer.get("Online"))
    elif q == "peer-os":
        print(peer.get("OS", ""))
    elif q == "path":
        cur = peer.get("CurAddr")
        print("direct " + cur if cur else "relay " + (peer.get("Relay") or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
