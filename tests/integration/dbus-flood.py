#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A flood of mutating calls from one unprivileged client, while polkitd does
# not answer (the test stopped it with SIGSTOP): hyphaed lets at most 16 of
# them wait for polkit and refuses the rest at once with TooManyRequests; it
# keeps answering reads meanwhile; the 16 end as NotAuthorized once the
# polkit timeout (HYPHAED_POLKIT_TIMEOUT_MS in the test) has passed.
#
#   dbus-flood.py N HYPHAECTL
#
# Run as the unprivileged user with DBUS_SYSTEM_BUS_ADDRESS set. stdout, one
# line each: "REFUSED <n>" (TooManyRequests), "READ ok" (a read answered while
# the checks waited), "CTL <exit status>" (hyphaectl set while the budget is
# spent), "DENIED <n>" (NotAuthorized after the timeout), "OTHER <error>".
# Exit 0 when every call got its answer.
import subprocess
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "io.github.hyphae.Mesh1"
PATH = "/io/github/hyphae/Mesh1"
ERR = "io.github.hyphae.Mesh1.Error."


def main():
    n, hyphaectl = int(sys.argv[1]), sys.argv[2]
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    loop = GLib.MainLoop()
    results = []
    counts = {}

    def done(conn, res, _):
        try:
            conn.call_finish(res)
            results.append("OK")
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or e.message
            results.append(name)
            if name != ERR + "TooManyRequests" and name != ERR + "NotAuthorized":
                print("OTHER " + e.message, flush=True)
        counts[results[-1]] = counts.get(results[-1], 0) + 1
        # The refusals come at once; then the budget is spent: check that a
        # read is still answered and that hyphaectl reports it (exit 9).
        if counts.get(ERR + "TooManyRequests", 0) == n - 16 and "read" not in counts:
            counts["read"] = 1
            reply = bus.call_sync(NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                                  GLib.Variant("(ss)", (NAME, "State")), None,
                                  Gio.DBusCallFlags.NONE, 30000, None)
            print("READ " + ("ok" if reply.unpack()[0] else "empty"), flush=True)
            ctl = subprocess.run([hyphaectl, "set", "--shields-up"], capture_output=True, text=True)
            print("CTL %d %s" % (ctl.returncode, ctl.stderr.strip().replace("\n", " ")), flush=True)
        if len(results) == n:
            loop.quit()

    for _ in range(n):
        bus.call(NAME, PATH, NAME, "SetPrefs",
                 GLib.Variant("(a{sv})", ({"ShieldsUp": GLib.Variant("b", True)},)),
                 None, Gio.DBusCallFlags.NONE, 120000, None, done, None)
    loop.run()
    print("REFUSED %d" % counts.get(ERR + "TooManyRequests", 0), flush=True)
    print("DENIED %d" % counts.get(ERR + "NotAuthorized", 0), flush=True)
    return 0


sys.exit(main())
