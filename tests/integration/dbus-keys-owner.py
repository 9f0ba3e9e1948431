#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Plays the desktop app's part of docs/ARCHITECTURE.md "Key owners" against hyphaed on the
# system bus (DBUS_SYSTEM_BUS_ADDRESS): hands over a machine and node key with
# SetKeys, brings the node up with them (Unattended false), then waits for the
# unicast KeysRotated signal that carries the rotated node key.
#
#   dbus-keys-owner.py CONTROL_URL AUTH_KEY TIMEOUT_S
#
# stdout, one line each: "READY <NodeID>" once Running (then the test expires
# the node key at the control server), "ROTATED" when a KeysRotated arrived
# whose NodeKey is a well-formed privkey: different from the one we gave and
# whose Profile is set. Exit 0 after ROTATED, 1 on any failure or timeout.
import os
import re
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "io.github.hyphae.Mesh1"
PATH = "/io/github/hyphae/Mesh1"


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def main():
    url, auth_key, timeout_s = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    machine = "privkey:" + os.urandom(32).hex()
    node = "privkey:" + os.urandom(32).hex()
    loop = GLib.MainLoop()
    got = {}

    def on_rotated(conn, sender, path, iface, signal, params):
        got["keys"] = params.unpack()[0]
        loop.quit()

    bus.signal_subscribe(NAME, NAME, "KeysRotated", PATH, None,
                         Gio.DBusSignalFlags.NONE, on_rotated)

    def call(method, args):
        return bus.call_sync(NAME, PATH, NAME, method, args, None,
                             Gio.DBusCallFlags.NONE, timeout_s * 1000, None)

    call("SetKeys", GLib.Variant("(a{sv})", ({
        "MachineKey": GLib.Variant("s", machine),
        "NodeKey": GLib.Variant("s", node)},)))
    call("Up", GLib.Variant("(a{sv})", ({
        "ControlURL": GLib.Variant("s", url),
        "AuthKey": GLib.Variant("s", auth_key),
        "Hostname": GLib.Variant("s", "app-node"),
        "Unattended": GLib.Variant("b", False)},)))

    def prop(name):
        return bus.call_sync(NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                             GLib.Variant("(ss)", (NAME, name)), None,
                             Gio.DBusCallFlags.NONE, -1, None).unpack()[0]

    deadline = GLib.get_monotonic_time() + timeout_s * 1000000
    while prop("State") != "Running":
        if GLib.get_monotonic_time() > deadline:
            fail("not Running with the app's keys")
        GLib.MainContext.default().iteration(False)
        GLib.usleep(100000)
    print("READY %d" % prop("Self")["NodeID"], flush=True)

    GLib.timeout_add_seconds(timeout_s, loop.quit)
    loop.run()
    keys = got.get("keys")
    if keys is None:
        fail("no KeysRotated within %d s" % timeout_s)
    new = keys.get("NodeKey", "")
    if not re.fullmatch(r"privkey:[0-9a-f]{64}", new) or new == node or not keys.get("Profile"):
        fail("KeysRotated does not carry a new node key and a profile")
    print("ROTATED", flush=True)


main()
