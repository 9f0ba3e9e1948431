#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Plays the desktop app's part of docs/ARCHITECTURE.md "Key owners" against hyphaed on the
# system bus (DBUS_SYSTEM_BUS_ADDRESS), one step per run; KEYFILE (0600) carries the
# app's keys from one run to the next, as its keyring would.
#
#   dbus-keys-owner.py app CONTROL_URL AUTH_KEY TIMEOUT_S KEYFILE
#     New keys, SetKeys (Profile "work") + Up with Unattended false, then waits for the unicast
#     KeysRotated that carries the rotated node key, and stores it in KEYFILE.
#     stdout: "READY <NodeID>" once Running (then the test expires the node key at the
#     control server); "OWNER client" once KeysOwner went "" → "client" by
#     PropertiesChanged with Profile "work"; "ROTATED" when a KeysRotated arrived with a
#     well-formed new NodeKey and Profile "work".
#   dbus-keys-owner.py recover TIMEOUT_S KEYFILE
#     After a rotation that reached no one (the test expired the key while no owner was
#     on the bus): waits until Self shows a node key other than KEYFILE's, then SetKeys
#     with KEYFILE's (now replaced) keys. stdout: "RECOVERED" when KeysRotated came to
#     us before SetKeys returned, with the node key Self shows, while the node stayed
#     Running as the same node; "SAME" when a SetKeys with that newest key changed
#     nothing (an app restarting). KEYFILE then holds the newest key.
#   dbus-keys-owner.py newnode CONTROL_URL AUTH_KEY TIMEOUT_S KEYFILE
#     SetKeys with other keys while Running. stdout: "DROPPED" when the node left
#     Running for Stopped with an empty Self and KeysOwner "client"; "FRESHLOGIN" when
#     an Up with the same ControlURL and no AuthKey then wanted a browser login
#     (NeedsLogin, AuthURLReady) instead of being a no-op; "NEWNODE nodekey:<hex>" when
#     an Up with AUTH_KEY brought the new node to Running with that key.
# Each run exits 0 if every step passed, 1 otherwise ("FAIL <why>" on stdout).
import os
import re
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "io.github.hyphae.Mesh1"
PATH = "/io/github/hyphae/Mesh1"
PRIVKEY = re.compile(r"privkey:[0-9a-f]{64}")


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def new_key():
    return "privkey:" + os.urandom(32).hex()


def x25519_base(scalar):
    """RFC 7748 §5: X25519(k, 9), the public key of private key k (slow, plain Python)."""
    p, a24 = 2**255 - 19, 121665
    k = int.from_bytes(scalar, "little")
    k = (k & ~7 & ~(1 << 255)) | (1 << 254)
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a, b * b, d * a, c * b
        e = aa - bb
        x3, z3 = (da + cb) ** 2 % p, x1 * (da - cb) ** 2 % p
        x2, z2 = aa * bb % p, e * (aa + a24 * e) % p
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(32, "little")


def public(priv):
    return "nodekey:" + x25519_base(bytes.fromhex(priv[len("privkey:"):])).hex()


def save_keys(path, keys):
    """KEYFILE holds the keys now; KEYFILE.all every key ever saved (for the test's greps)."""
    for name, flags in ((path, os.O_TRUNC), (path + ".all", os.O_APPEND)):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | flags, 0o600)
        with os.fdopen(fd, "w") as f:
            for k in ("machine", "node"):
                f.write("%s=%s\n" % (k, keys[k]))


def load_keys(path):
    with open(path) as f:
        return dict(line.strip().split("=", 1) for line in f if "=" in line)


class Daemon:
    def __init__(self, timeout_s):
        self.bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
        self.timeout_s = timeout_s
        self.rotated = []      # KeysRotated a{sv} received
        self.urls = []         # AuthURLReady received
        self.changed = []      # (property, value) from PropertiesChanged, in order
        self.bus.signal_subscribe(NAME, NAME, "KeysRotated", PATH, None, Gio.DBusSignalFlags.NONE,
                                  lambda *a: self.rotated.append(a[5].unpack()[0]))
        self.bus.signal_subscribe(NAME, NAME, "AuthURLReady", PATH, None, Gio.DBusSignalFlags.NONE,
                                  lambda *a: self.urls.append(a[5].unpack()[0]))
        self.bus.signal_subscribe(NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", PATH,
                                  None, Gio.DBusSignalFlags.NONE, self._on_changed)

    def _on_changed(self, conn, sender, path, iface, signal, params):
        changed = params.unpack()[1]
        self.changed.extend(changed.items())

    def call(self, method, args):
        return self.bus.call_sync(NAME, PATH, NAME, method, args, None, Gio.DBusCallFlags.NONE,
                                  self.timeout_s * 1000, None)

    def set_keys(self, keys, profile="work"):
        d = {"MachineKey": GLib.Variant("s", keys["machine"]),
             "NodeKey": GLib.Variant("s", keys["node"])}
        if profile is not None:
            d["Profile"] = GLib.Variant("s", profile)
        self.call("SetKeys", GLib.Variant("(a{sv})", (d,)))

    def up(self, url, auth_key=None):
        d = {"ControlURL": GLib.Variant("s", url), "Hostname": GLib.Variant("s", "app-node"),
             "Unattended": GLib.Variant("b", False)}
        if auth_key is not None:
            d["AuthKey"] = GLib.Variant("s", auth_key)
        self.call("Up", GLib.Variant("(a{sv})", (d,)))

    def prop(self, name):
        try:
            return self.bus.call_sync(NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                                      GLib.Variant("(ss)", (NAME, name)), None,
                                      Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
        except GLib.Error as e:
            return "<%s>" % e.message

    def drain(self):
        ctx = GLib.MainContext.default()
        while ctx.iteration(False):
            pass

    def wait(self, what, pred):
        """Until pred() holds (signals dispatched meanwhile), or fail after the timeout."""
        deadline = GLib.get_monotonic_time() + self.timeout_s * 1000000
        while True:
            self.drain()
            if pred():
                return
            if GLib.get_monotonic_time() > deadline:
                fail("%s: not within %d s" % (what, self.timeout_s))
            GLib.usleep(100000)

    def running(self):
        return self.prop("State") == "Running" and bool(self.prop("Self"))


def check_rotated(keys_rotated, old):
    new = keys_rotated.get("NodeKey", "")
    if not PRIVKEY.fullmatch(new) or new == old or keys_rotated.get("Profile") != "work":
        fail("KeysRotated does not carry a new node key and Profile work: %s"
             % {k: (v if k == "Profile" else "…") for k, v in keys_rotated.items()})
    return new


def run_app(url, auth_key, timeout_s, keyfile):
    d = Daemon(timeout_s)
    keys = {"machine": new_key(), "node": new_key()}
    save_keys(keyfile, keys)
    if d.prop("KeysOwner") != "":
        fail("KeysOwner before SetKeys is %r, not \"\"" % d.prop("KeysOwner"))
    d.set_keys(keys)
    d.wait("KeysOwner client by PropertiesChanged", lambda: ("KeysOwner", "client") in d.changed)
    if d.prop("Profile") != "work":
        fail("Profile is %r after SetKeys with Profile work" % d.prop("Profile"))
    print("OWNER client", flush=True)
    d.up(url, auth_key)
    d.wait("Running with the app's keys", d.running)
    if d.prop("Self")["PublicKey"] != public(keys["node"]):
        fail("Self's key is not the node key given with SetKeys")
    print("READY %d" % d.prop("Self")["NodeID"], flush=True)
    d.wait("KeysRotated", lambda: d.rotated)
    keys["node"] = check_rotated(d.rotated[0], keys["node"])
    save_keys(keyfile, keys)
    print("ROTATED", flush=True)


def run_recover(timeout_s, keyfile):
    d = Daemon(timeout_s)
    keys = load_keys(keyfile)
    old_pub = public(keys["node"])
    d.wait("the rotation nobody heard of", lambda: d.running() and d.prop("Self")["PublicKey"] != old_pub)
    node_id = d.prop("Self")["NodeID"]
    d.set_keys(keys)
    # Sent before the reply: it is in our queue already.
    d.wait("KeysRotated to the caller presenting the replaced key", lambda: d.rotated)
    keys["node"] = check_rotated(d.rotated[0], keys["node"])
    if public(keys["node"]) != d.prop("Self")["PublicKey"]:
        fail("the recovered key is not the node's key")
    if not d.running() or d.prop("Self")["NodeID"] != node_id or d.prop("KeysOwner") != "client":
        fail("recovering the key changed the node")
    save_keys(keyfile, keys)
    print("RECOVERED", flush=True)
    d.changed.clear()
    d.set_keys(keys)
    d.drain()
    if len(d.rotated) != 1 or not d.running() or d.prop("Self")["NodeID"] != node_id:
        fail("SetKeys with the keys held changed something")
    if any(k in ("State", "Self") for k, v in d.changed):
        fail("SetKeys with the keys held changed State or Self")
    print("SAME", flush=True)


def run_newnode(url, auth_key, timeout_s, keyfile):
    d = Daemon(timeout_s)
    d.wait("Running before", d.running)
    keys = {"machine": new_key(), "node": new_key()}
    save_keys(keyfile, keys)
    d.set_keys(keys)
    d.drain()
    if d.prop("State") != "Stopped" or d.prop("Self") or d.prop("KeysOwner") != "client":
        fail("SetKeys with other keys left State %r, Self %s" % (d.prop("State"), bool(d.prop("Self"))))
    print("DROPPED", flush=True)
    d.up(url)
    d.drain()
    if d.prop("State") != "NeedsLogin" or not d.urls:
        fail("Up after other keys: State %r, %d AuthURLReady" % (d.prop("State"), len(d.urls)))
    print("FRESHLOGIN", flush=True)
    d.up(url, auth_key)
    d.wait("Running as the new node", d.running)
    if d.prop("Self")["PublicKey"] != public(keys["node"]):
        fail("Running, but not with the new node key")
    print("NEWNODE " + public(keys["node"]), flush=True)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "app":
        run_app(args[0], args[1], int(args[2]), args[3])
    elif mode == "recover":
        run_recover(int(args[0]), args[1])
    elif mode == "newnode":
        run_newnode(args[0], args[1], int(args[2]), args[3])
    else:
        fail("unknown mode " + mode)


main()
