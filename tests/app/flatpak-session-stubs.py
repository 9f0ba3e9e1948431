#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Session bus stand-ins for the Flatpak sandbox test (flatpak-sandbox.sh).

    flatpak-session-stubs.py LOG

Owns on the session bus, until SIGTERM:
  org.kde.StatusNotifierWatcher, org.freedesktop.StatusNotifierWatcher
      a StatusNotifierWatcher at /StatusNotifierWatcher (a host is
      registered; RegisterStatusNotifierItem records the item and emits
      StatusNotifierItemRegistered), as GNOME's AppIndicator extension and
      KDE serve it
  org.freedesktop.Notifications
      a notification server at /org/freedesktop/Notifications: the name the
      sandboxed app must NOT reach (no talk-name for it)
Every method call is one line of LOG, flushed at once:
  CALL <bus name it was sent to> <sender> <interface>.<member> <args>
and "READY" once every name is owned.
"""

import importlib
import os
import signal
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

# The watcher interface as the tray tests' host has it (tray-host.py); no
# __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
WATCHER_XML = importlib.import_module("tray-host").WATCHER_XML

NOTIFICATIONS_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/><arg type="u" direction="out"/>
    </method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
  </interface>
</node>
"""
WATCHER_NAMES = ("org.kde.StatusNotifierWatcher", "org.freedesktop.StatusNotifierWatcher")
NOTIFICATIONS_NAME = "org.freedesktop.Notifications"


class Stubs:
    def __init__(self, log):
        self.log = log
        self.items = []
        self.pending = set(WATCHER_NAMES) | {NOTIFICATIONS_NAME}

    def record(self, line):
        self.log.write(line + "\n")
        self.log.flush()

    def owned(self, _conn, name):
        self.pending.discard(name)
        if not self.pending:
            self.record("READY")

    def lost(self, _conn, name):
        print(f"flatpak-session-stubs: could not own {name}", file=sys.stderr)
        sys.exit(1)

    def watcher_call(self, conn, sender, path, iface, member, params, invocation):
        self.record(f"CALL {invocation.get_message().get_destination()} {sender} {iface}.{member} {params.print_(False)}")
        if member == "RegisterStatusNotifierItem":
            service = params.unpack()[0]
            item = service if not service.startswith("/") else sender + service
            self.items.append(item)
            conn.emit_signal(None, path, iface, "StatusNotifierItemRegistered", GLib.Variant("(s)", (item,)))
        invocation.return_value(None)

    def watcher_get(self, _conn, _sender, _path, _iface, prop):
        return {
            "RegisteredStatusNotifierItems": GLib.Variant("as", self.items),
            "IsStatusNotifierHostRegistered": GLib.Variant("b", True),
            "ProtocolVersion": GLib.Variant("i", 0),
        }[prop]

    def notifications_call(self, _conn, sender, _path, iface, member, params, invocation):
        self.record(f"CALL {invocation.get_message().get_destination()} {sender} {iface}.{member} {params.print_(False)}")
        replies = {
            "GetCapabilities": GLib.Variant("(as)", (["body"],)),
            "Notify": GLib.Variant("(u)", (1,)),
            "GetServerInformation": GLib.Variant("(ssss)", ("stub", "hyphae-tests", "1", "1.2")),
        }
        invocation.return_value(replies[member])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: flatpak-session-stubs.py LOG")
    log = open(sys.argv[1], "a", encoding="utf-8")
    stubs = Stubs(log)
    conn = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    watcher = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML).interfaces[0]
    notifications = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML).interfaces[0]
    conn.register_object("/StatusNotifierWatcher", watcher, stubs.watcher_call, stubs.watcher_get, None)
    conn.register_object("/org/freedesktop/Notifications", notifications, stubs.notifications_call, None, None)
    for name in stubs.pending.copy():
        Gio.bus_own_name_on_connection(conn, name, Gio.BusNameOwnerFlags.NONE, stubs.owned, stubs.lost)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
