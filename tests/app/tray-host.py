#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A StatusNotifierWatcher and host for the tray tests (tests/app/test-tray.sh).

Run with /usr/bin/python3 (python3-gi) on the test's session bus. It makes
the calls the GNOME AppIndicator extension (ubuntu/gnome-shell-extension-
appindicator: statusNotifierWatcher.js, appIndicator.js, dbusMenu.js) and
Plasma (plasma-workspace statusnotifierwatcher, dbusmenuimporter) make, in
their order.

    tray-host.py --log FILE watcher
        own org.kde.StatusNotifierWatcher (IsStatusNotifierHostRegistered
        true) until SIGTERM; append one JSON object a line to FILE:
        {"ev": "ready"} once the name is owned, {"ev": "register", "service",
        "sender", "bus", "path"} per RegisterStatusNotifierItem (bus and path
        as both hosts derive them), {"ev": "signal", "iface", "name", "args"}
        per signal the registered items send, {"ev": "gone", "bus"} when an
        item's bus name leaves the bus (both hosts drop the item then)
    tray-host.py --log FILE count EV [KEY=VALUE ...]
        how many logged events of type EV have those (string) values
    tray-host.py --log FILE wait-log MIN EV [KEY=VALUE ...]
        until count is at least MIN
    tray-host.py --log FILE check-register PID
        the last registration names a unique bus name (":1.N") that is its
        sender, that PID owns, and whose item is at /StatusNotifierItem
    tray-host.py --log FILE gnome | kde
        replay the host's calls from a registration to an opened menu with
        every submenu opened and closed; print the menu (see menu)
    tray-host.py --log FILE menu
        the menu, one item a line: depth-indented "ID LABEL [flags]"
    tray-host.py --log FILE prop NAME
        a StatusNotifierItem property (GetAll), printed
    tray-host.py --log FILE wait-prop NAME VALUE
        until the property NAME (GetAll) equals VALUE
    tray-host.py --log FILE wait-item REGEX [KEY=VALUE ...]
        until one item's label matches REGEX ("PARENT > ITEM": an item of
        the submenu whose label matches PARENT) and has those properties
        (enabled, toggle-state: as GetGroupProperties sends them, with the
        dbusmenu defaults: enabled true, toggle-state -1)
    tray-host.py --log FILE wait-updated REGEX KEY=VALUE
        until the log has an ItemsPropertiesUpdated that gives the item whose
        label matches REGEX that value
    tray-host.py --log FILE layout-updated
        the last LayoutUpdated's revision is GetLayout's; prints its parent
    tray-host.py --log FILE click REGEX [gnome|kde]
        the one item whose label matches REGEX, clicked as that host does it
        (GNOME: ProvideXdgActivationToken, Event clicked <i 0>, Event closed on 0;
        KDE: Event clicked <s "">)
    tray-host.py --log FILE activate TOKEN
        a double click as GNOME does it: ProvideXdgActivationToken(TOKEN),
        Activate(0, 0)

Every wait is bounded by --timeout (default 30 s) and polls every 50 ms.
Exit 0 on success, 1 with the reason on stderr.
"""
import json
import os
import re
import signal
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_IFACE = "org.kde.StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"
TICK = 0.05

WATCHER_XML = """
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
    <signal name="StatusNotifierHostUnregistered"/>
  </interface>
</node>
"""


def fail(message):
    sys.stderr.write("tray-host.py: %s\n" % message)
    sys.exit(1)


def bus():
    return Gio.bus_get_sync(Gio.BusType.SESSION, None)


# ---------------------------------------------------------------- the log

def log_events(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def matches(event, ev, pairs):
    if event.get("ev") != ev:
        return False
    for pair in pairs:
        key, _, value = pair.partition("=")
        if str(event.get(key)) != value:
            return False
    return True


def wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(TICK)


# ---------------------------------------------------------------- watcher

def run_watcher(log_path):
    conn = bus()
    items = []
    log = open(log_path, "a", buffering=1)

    def write(**event):
        log.write(json.dumps(event) + "\n")

    def on_item_signal(_conn, sender, path, iface, name, params):
        write(ev="signal", sender=sender, path=path, iface=iface, name=name, args=params.unpack())

    def on_item_gone(_conn, name):
        if name in items:
            items.remove(name)
            write(ev="gone", bus=name)
            conn.emit_signal(None, WATCHER_PATH, WATCHER_NAME, "StatusNotifierItemUnregistered",
                             GLib.Variant("(s)", (name + "/StatusNotifierItem",)))

    def on_call(_conn, sender, _path, _iface, method, params, invocation):
        if method == "RegisterStatusNotifierItem":
            service = params.unpack()[0]
            # Both hosts: a bus name means the item at /StatusNotifierItem; a
            # path means that path on the sender (appIndicator.js, KDE's watcher).
            if service.startswith("/"):
                item_bus, item_path = sender, service
            else:
                item_bus, item_path = service, "/StatusNotifierItem"
            if item_bus not in items:
                items.append(item_bus)
                conn.signal_subscribe(item_bus, None, None, None, None, Gio.DBusSignalFlags.NONE,
                                      on_item_signal)
                Gio.bus_watch_name_on_connection(conn, item_bus, Gio.BusNameWatcherFlags.NONE, None,
                                                 on_item_gone)
            write(ev="register", service=service, sender=sender, bus=item_bus, path=item_path)
            invocation.return_value(None)
            conn.emit_signal(None, WATCHER_PATH, WATCHER_NAME, "StatusNotifierItemRegistered",
                             GLib.Variant("(s)", (item_bus + item_path,)))
        elif method == "RegisterStatusNotifierHost":
            invocation.return_value(None)
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)

    def on_get(_conn, _sender, _path, _iface, prop):
        if prop == "RegisteredStatusNotifierItems":
            return GLib.Variant("as", [b + "/StatusNotifierItem" for b in items])
        if prop == "IsStatusNotifierHostRegistered":
            return GLib.Variant("b", True)
        if prop == "ProtocolVersion":
            return GLib.Variant("i", 0)
        return None

    info = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML).interfaces[0]
    conn.register_object(WATCHER_PATH, info, on_call, on_get, None)
    loop = GLib.MainLoop()

    def on_acquired(*_):
        write(ev="ready", unique=conn.get_unique_name())

    def on_lost(*_):
        write(ev="lost")
        loop.quit()

    Gio.bus_own_name_on_connection(conn, WATCHER_NAME, Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
                                   on_acquired, on_lost)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


# ---------------------------------------------------------------- the host side

class Item:
    """The last registered item, called as a host calls it."""

    def __init__(self, log_path, timeout):
        regs = wait(lambda: [e for e in log_events(log_path) if e["ev"] == "register"], timeout)
        if not regs:
            fail("no RegisterStatusNotifierItem in %s" % log_path)
        self.reg = regs[-1]
        self.bus_name = self.reg["bus"]
        self.path = self.reg["path"]
        self.conn = bus()
        self.menu_path = None

    def call(self, path, iface, method, args, reply_type=None):
        return self.conn.call_sync(self.bus_name, path, iface, method, args,
                                   GLib.VariantType(reply_type) if reply_type else None,
                                   Gio.DBusCallFlags.NO_AUTO_START, 10000, None)

    def item_call(self, method, args=None):
        return self.call(self.path, ITEM_IFACE, method, args)

    def menu_call(self, method, args, reply_type=None):
        if self.menu_path is None:
            self.menu_path = self.get_all()["Menu"]
        return self.call(self.menu_path, MENU_IFACE, method, args, reply_type)

    def introspect(self):
        xml = self.call(self.path, "org.freedesktop.DBus.Introspectable", "Introspect", None, "(s)").unpack()[0]
        return Gio.DBusNodeInfo.new_for_xml(xml)

    def get_all(self):
        return self.call(self.path, "org.freedesktop.DBus.Properties", "GetAll",
                         GLib.Variant("(s)", (ITEM_IFACE,)), "(a{sv})").unpack()[0]

    def layout(self, parent=0, depth=-1, names=()):
        return self.menu_call("GetLayout", GLib.Variant("(iias)", (parent, depth, list(names))),
                              "(u(ia{sv}av))").unpack()

    def group_properties(self, ids, names=()):
        return self.menu_call("GetGroupProperties", GLib.Variant("(aias)", (list(ids), list(names))),
                              "(a(ia{sv}))").unpack()[0]

    def event(self, item_id, event_id, data, timestamp=0):
        self.menu_call("Event", GLib.Variant("(isvu)", (item_id, event_id, data, timestamp)))

    def about_to_show(self, item_id):
        return self.menu_call("AboutToShow", GLib.Variant("(i)", (item_id,)), "(b)").unpack()[0]

    def items(self):
        """[(id, depth, props, parent props)] of the whole menu, in order."""
        _, root = self.layout(0, -1, [])
        out = []

        def walk(node, depth, parent_props):
            item_id, props, children = node
            out.append((item_id, depth, props, parent_props))
            for child in children:
                walk(child, depth + 1, props)

        walk(root, 0, {})
        return out

    def find(self, pattern):
        """(id, props) of the one item whose label matches pattern ("PARENT >
        ITEM": an item of the submenu whose label matches PARENT), else None."""
        parent, _, pattern = pattern.rpartition(" > ")
        found = [(i, p) for i, _, p, up in self.items()
                 if re.search(pattern, label(p)) and (not parent or re.search(parent, label(up)))]
        return found[0] if len(found) == 1 else None


def label(props):
    return props.get("label", "").replace("__", "_")


def print_menu(entries, out=sys.stdout):
    for item_id, depth, props, _ in entries:
        if item_id == 0:
            continue
        flags = sorted("%s=%s" % (k, v) for k, v in props.items() if k != "label")
        out.write("%s%d %s%s\n" % ("  " * (depth - 1), item_id, label(props),
                                    " [" + " ".join(flags) + "]" if flags else ""))


def check(condition, what):
    if not condition:
        fail(what)


def replay_gnome(item):
    """statusNotifierWatcher.js → appIndicator.js → dbusMenu.js, from a
    registration to a menu opened with every submenu."""
    node = item.introspect()
    iface = next((i for i in node.interfaces if i.name == ITEM_IFACE), None)
    check(iface is not None, "no %s at %s" % (ITEM_IFACE, item.path))
    methods = {m.name for m in iface.methods}
    for m in ("Activate", "SecondaryActivate", "XAyatanaSecondaryActivate", "ProvideXdgActivationToken"):
        check(m in methods, "the item does not introspect %s" % m)
    props = item.get_all()
    for key in ("Id", "Menu"):   # NEEDED_PROPERTIES: the item shows once these are set
        check(props.get(key), "GetAll has no %s: %r" % (key, props))
    _, root = item.layout(0, -1, ["type", "children-display"])
    ids = []

    def collect(node):
        ids.append(node[0])
        for child in node[2]:
            collect(child)

    collect(root)
    all_props = dict(item.group_properties(ids, []))
    check(set(all_props) == set(ids), "GetGroupProperties misses ids: %r" % (set(ids) - set(all_props)))
    # Opening: AboutToShow(0) first ("Dropbox requires us to call AboutToShow(0) first").
    item.about_to_show(0)
    item.event(0, "opened", GLib.Variant("i", 0))
    for item_id in ids:
        if all_props[item_id].get("children-display") == "submenu" and item_id != 0:
            item.event(item_id, "opened", GLib.Variant("i", 0))
            item.about_to_show(item_id)
            item.event(item_id, "closed", GLib.Variant("i", 0))
    item.event(0, "closed", GLib.Variant("i", 0))


def replay_kde(item):
    """Plasma: GetAll, then dbusmenuimporter one level at a time, AboutToShow
    before each menu shows."""
    props = item.get_all()
    for key in ("Id", "Menu", "IconName", "Status"):
        check(props.get(key), "GetAll has no %s: %r" % (key, props))
    item.about_to_show(0)
    _, root = item.layout(0, 1, [])
    for child_id, child_props, _ in root[2]:
        if child_props.get("children-display") == "submenu":
            item.about_to_show(child_id)
            _, sub = item.layout(child_id, 1, [])
            check(sub[0] == child_id and sub[2], "submenu %d has no items" % child_id)
            item.event(child_id, "closed", GLib.Variant("s", ""))


def item_has(props, pairs):
    defaults = {"enabled": True, "toggle-state": -1, "visible": True}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if str(props.get(key, defaults.get(key))).lower() != value.lower():
            return False
    return True


def main(argv):
    log_path = os.environ.get("TRAY_HOST_LOG", "")
    timeout = float(os.environ.get("TRAY_HOST_TIMEOUT", "30"))
    while argv and argv[0].startswith("--"):
        if argv[0] == "--log":
            log_path = argv[1]
        elif argv[0] == "--timeout":
            timeout = float(argv[1])
        else:
            fail("unknown option " + argv[0])
        argv = argv[2:]
    if not argv or not log_path:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]

    if cmd == "watcher":
        run_watcher(log_path)
        return
    if cmd == "count":
        print(sum(matches(e, args[0], args[1:]) for e in log_events(log_path)))
        return
    if cmd == "wait-log":
        need = int(args[0])
        if not wait(lambda: sum(matches(e, args[1], args[2:]) for e in log_events(log_path)) >= need, timeout):
            fail("fewer than %d %s events %r in %s" % (need, args[1], args[2:], log_path))
        return

    item = Item(log_path, timeout)
    try:
        if cmd == "check-register":
            reg = item.reg
            check(reg["service"].startswith(":"), "registered with %r, not a unique name" % reg["service"])
            check(reg["service"] == reg["sender"], "registered %r from %r" % (reg["service"], reg["sender"]))
            pid = item.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                      "GetConnectionUnixProcessID", GLib.Variant("(s)", (reg["service"],)),
                                      GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, 10000, None).unpack()[0]
            check(str(pid) == args[0], "%s belongs to pid %d, not %s" % (reg["service"], pid, args[0]))
            check(reg["path"] == "/StatusNotifierItem", "item path %r" % reg["path"])
        elif cmd in ("gnome", "kde"):
            (replay_gnome if cmd == "gnome" else replay_kde)(item)
            print_menu(item.items())
        elif cmd == "menu":
            print_menu(item.items())
        elif cmd == "prop":
            print(item.get_all().get(args[0]))
        elif cmd == "wait-prop":
            if not wait(lambda: str(item.get_all().get(args[0])) == args[1], timeout):
                fail("%s is %r, not %r" % (args[0], item.get_all().get(args[0]), args[1]))
        elif cmd == "wait-item":
            def found():
                hit = item.find(args[0])
                return hit is not None and item_has(hit[1], args[1:])
            if not wait(found, timeout):
                print_menu(item.items(), sys.stderr)
                fail("no item %r with %r" % (args[0], args[1:]))
        elif cmd == "wait-updated":
            hit = item.find(args[0])
            check(hit is not None, "no one item %r" % args[0])
            key, _, value = args[1].partition("=")

            def updated():
                for e in log_events(log_path):
                    if e["ev"] == "signal" and e["name"] == "ItemsPropertiesUpdated":
                        for item_id, props in e["args"][0]:
                            if item_id == hit[0] and str(props.get(key)).lower() == value.lower():
                                return True
                return False
            if not wait(updated, timeout):
                fail("no ItemsPropertiesUpdated with %s for item %d %r" % (args[1], hit[0], args[0]))
        elif cmd == "layout-updated":
            sigs = [e for e in log_events(log_path)
                    if e["ev"] == "signal" and e["name"] == "LayoutUpdated" and e["sender"] == item.bus_name]
            check(sigs, "no LayoutUpdated from %s" % item.bus_name)
            revision, parent = sigs[-1]["args"]
            now = item.layout(0, 0, [])[0]
            check(now == revision, "GetLayout's revision %d, LayoutUpdated's %d" % (now, revision))
            print(parent)
        elif cmd == "click":
            how = args[1] if len(args) > 1 else "gnome"
            hit = wait(lambda: item.find(args[0]), timeout)
            if hit is None:
                print_menu(item.items(), sys.stderr)
                fail("no one item %r" % args[0])
            if how == "gnome":
                item.item_call("ProvideXdgActivationToken", GLib.Variant("(s)", ("tray-host-token",)))
                item.event(hit[0], "clicked", GLib.Variant("i", 0), int(time.monotonic()))
                item.event(0, "closed", GLib.Variant("i", 0))
            else:
                item.event(hit[0], "clicked", GLib.Variant("s", ""))
        elif cmd == "activate":
            item.item_call("ProvideXdgActivationToken", GLib.Variant("(s)", (args[0],)))
            item.item_call("Activate", GLib.Variant("(ii)", (0, 0)))
        else:
            fail("unknown command " + cmd)
    except GLib.Error as e:
        fail("%s: %s" % (cmd, e.message))


if __name__ == "__main__":
    main(sys.argv[1:])
