#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A -map-script for tests/ts2021/control.go (its README has the format): a
big tailnet for bench/app/app-bench.sh.

  gen-map-script.py PEERS WAIT_S CHURN_S > script.json

Step 1 replaces the node's peers with PEERS synthetic ones (shaped like the
tailscale.com capture in tests/data: two addresses, two endpoints, Hostinfo
with OS and Hostname; every 50th offers an exit node), step 2 waits WAIT_S
seconds (the app starts and is filtered meanwhile), then for CHURN_S seconds
10 peers flip Online every 100 ms: 100 peer changes per second.
"""
import json
import random
import sys

BASE_ID = 1000000000000000


def peer(i, rng):
    key = "".join(rng.choice("0123456789abcdef") for _ in range(64))
    disco = "".join(rng.choice("0123456789abcdef") for _ in range(64))
    v4 = "100.%d.%d.%d" % (64 + i // 65536 % 64, i // 256 % 256, i % 256)
    v6 = "fd7a:115c:a1e0::%x:%x" % (i // 65536, i % 65536)
    allowed = [v4 + "/32", v6 + "/128"]
    if i % 50 == 0:
        allowed += ["0.0.0.0/0", "::/0"]
    return {
        "ID": BASE_ID + i * 7919,
        "StableID": "n%08dCNTRL" % i,
        "Name": "host-%d.bench.ts.net." % i,
        "User": 1,
        "Key": "nodekey:" + key,
        "KeyExpiry": "2030-01-25T18:31:27Z",
        "DiscoKey": "discokey:" + disco,
        "Addresses": allowed[:2],
        "AllowedIPs": allowed,
        "Endpoints": ["198.51.%d.%d:41641" % (i // 256 % 256, i % 256)],
        "Hostinfo": {"OS": ["linux", "windows", "macOS", "android", "iOS"][i % 5], "Hostname": "host-%d" % i},
        "Online": i % 3 != 0,
        "LastSeen": "2026-12-01T10:00:00Z",
        "MachineAuthorized": True,
    }


def main():
    n, wait_s, churn_s = (int(a) for a in sys.argv[1:4])
    rng = random.Random(42)
    steps = [{"msg": {"Peers": [peer(i, rng) for i in range(n)]}}, {"sleep_ms": wait_s * 1000}]
    online = {}
    k = 0
    for _ in range(churn_s * 10):
        patch = []
        for _ in range(10):
            i = (k * 2654435761) % n
            k += 1
            online[i] = not online.get(i, i % 3 != 0)
            patch.append({"NodeID": BASE_ID + i * 7919, "Online": online[i]})
        steps.append({"msg": {"PeersChangedPatch": patch}})
        steps.append({"sleep_ms": 100})
    json.dump(steps, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
