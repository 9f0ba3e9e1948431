#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A desktop notification server for the GUI tests: owns
org.freedesktop.Notifications on the session bus and writes each call it
gets as one JSON line to OUT, flushed at once:

    {"call": "Notify", "app": …, "replaces": u, "id": u, "summary": …, "body": …, "actions": [..]}
    {"call": "CloseNotification", "id": u}

    notification-server.py OUT

The test acts as the user clicking a notification's button with
    gdbus call --session -d org.freedesktop.Notifications -o /org/freedesktop/Notifications
        -m io.github.hyphae.Test.Notifications.InvokeAction ID ACTION-KEY
which emits ActionInvoked(ID, ACTION-KEY) from the server's own connection,
the only sender GLib listens to.

Outside GNOME (no org.gtk.Notifications owner on the bus) GLib's
GNotification sends through this interface (gio/gfdonotificationbackend.c),
so what the app notifies ends up in OUT. Runs until SIGTERM. Use
/usr/bin/python3 (python3-gi).
"""
import json
import signal
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  </interface>
  <interface name="io.github.hyphae.Test.Notifications">
    <method name="InvokeAction"><arg type="u" direction="in"/><arg type="s" direction="in"/></method>
  </interface>
</node>
"""


def main(out_path):
    out = open(out_path, "a", encoding="utf-8")
    last_id = [0]
    loop = GLib.MainLoop()

    def record(entry):
        out.write(json.dumps(entry) + "\n")
        out.flush()

    def on_call(conn, sender, path, iface, method, params, invocation):
        if method == "Notify":
            app, replaces, _icon, summary, body, actions, _hints, _timeout = params.unpack()
            nid = replaces if replaces else last_id[0] + 1
            last_id[0] = max(last_id[0], nid)
            record({"call": "Notify", "app": app, "replaces": replaces, "id": nid,
                    "summary": summary, "body": body, "actions": actions})
            invocation.return_value(GLib.Variant("(u)", (nid,)))
        elif method == "CloseNotification":
            record({"call": "CloseNotification", "id": params.unpack()[0]})
            invocation.return_value(None)
        elif method == "InvokeAction":
            conn.emit_signal(None, "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
                             "ActionInvoked", params)
            invocation.return_value(None)
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["actions", "body"],)))
        else:
            invocation.return_value(GLib.Variant("(ssss)", ("hyphae-test", "hyphae", "1", "1.2")))

    def on_bus(conn, name):
        node = Gio.DBusNodeInfo.new_for_xml(XML)
        for iface in node.interfaces:
            conn.register_object("/org/freedesktop/Notifications", iface, on_call, None, None)

    def on_lost(conn, name):
        sys.stderr.write("notification-server.py: lost or could not own %s\n" % name)
        loop.quit()

    Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.Notifications", Gio.BusNameOwnerFlags.NONE,
                     on_bus, None, on_lost)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


if __name__ == "__main__":
    main(sys.argv[1])
