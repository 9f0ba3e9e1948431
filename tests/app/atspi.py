#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Drive the app through AT-SPI, as a screen reader sees it (tests/app/).

Run with /usr/bin/python3 (python3-gi, gir1.2-atspi-2.0) inside the test's
session (app-lib.sh: Xvfb, the private session bus, the a11y bus it starts).

    atspi.py [--app NAME] [--timeout S] wait NAME ROLE [NAME ROLE ...]
        until an object with that accessible name and role is SHOWING (each pair)
    atspi.py ... wait-gone NAME ROLE     until no such object is SHOWING
    atspi.py ... click NAME [ROLE]       the "click" action of the SHOWING object
    atspi.py ... act NAME ROLE ACTION    its action ACTION ("toggle" for a switch)
    atspi.py ... wait-state NAME ROLE [!]STATE
                                         until it is SHOWING with (! without) the
                                         state ("checked", "pressed", "sensitive")
    atspi.py ... order NAME NAME [NAME ...]
                                         until all are SHOWING, in this order in the
                                         tree (a list's rows are in list order)
    atspi.py ... set-text NAME TEXT      EditableText of the SHOWING entry NAME
    atspi.py ... screenshot FILE-STEM    `import -window root` into $ARTIFACTS (if set)
    atspi.py ... dump                    the app's tree (SHOWING objects marked *)

NAME may be "re:PATTERN" (a regular expression searched in the name). Roles are
AT-SPI role names as Atspi.Role.get_name gives them ("label", "push button").
"SHOWING" here: GTK 4.8 sets the SHOWING state on windows only (not on
dialogs: a VISIBLE dialog counts), so an object counts as showing when it
and every ancestor up to a SHOWING window are VISIBLE (a hidden widget is absent from the tree). GtkStack keeps its other
pages in the tree, VISIBLE, with stale extents: a window that stacks pages
must mark the pages it does not show GTK_ACCESSIBLE_STATE_HIDDEN, or the
tests see them. Coordinates are never used (wrong in GTK 4.8). Every wait is bounded by
--timeout (default $ATSPI_TIMEOUT or 30 s) and polls every 50 ms: no sleep
stands for an event. Exit 0 on success, 1 (with the tree on stderr) if not.
"""
import os
import re
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

TICK = 0.05


def _matches(name, want):
    if want.startswith("re:"):
        return re.search(want[3:], name or "") is not None
    return (name or "") == want


def _has(obj, state):
    try:
        return obj.get_state_set().contains(state)
    except gi.repository.GLib.Error:
        return False


def _role(obj):
    try:
        return obj.get_role_name()
    except gi.repository.GLib.Error:
        return None


def find_app(app_name):
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is not None and app.get_name() == app_name:
            return app
    return None


def walk(obj, depth=0, showing=True):
    """Every object under obj (depth first): (object, depth, showing)."""
    if depth == 1:   # a window; GTK 4.8 never marks a dialog SHOWING
        showing = _has(obj, Atspi.StateType.SHOWING) or (
            _role(obj) == "dialog" and _has(obj, Atspi.StateType.VISIBLE))
    elif depth > 1:
        showing = showing and _has(obj, Atspi.StateType.VISIBLE)
    yield obj, depth, showing
    try:
        n = obj.get_child_count()
    except gi.repository.GLib.Error:
        return
    for i in range(n):
        try:
            child = obj.get_child_at_index(i)
        except gi.repository.GLib.Error:
            continue
        if child is not None:
            yield from walk(child, depth + 1, showing)


def find_all(app, name, role=None):
    """Every SHOWING object named name (with role, if given), in tree order."""
    if app is None:
        return
    for obj, _, showing in walk(app):
        if not showing:
            continue
        try:
            if not _matches(obj.get_name(), name):
                continue
            if role is not None and obj.get_role_name() != role:
                continue
        except gi.repository.GLib.Error:
            continue
        yield obj


def find(app, name, role=None):
    """The first SHOWING object named name (with role, if given), or None."""
    return next(find_all(app, name, role), None)


def click(app, name, role=None):
    """Clicks the first match that has a "click" action: a GtkMenuButton
    carries its label, and so does the toggle button inside that clicks."""
    return any(do_action(obj, "click") for obj in find_all(app, name, role))


def wait(predicate, timeout):
    """predicate() until it returns something true or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(TICK)


def dump(app, out=sys.stderr):
    if app is None:
        out.write("(the app is not on the AT-SPI desktop)\n")
        return
    for obj, depth, showing in walk(app):
        try:
            mark = "*" if showing else " "
            out.write("%s%s%s %r\n" % (mark, "  " * depth, obj.get_role_name(), obj.get_name()))
        except gi.repository.GLib.Error:
            pass


def do_action(obj, action="click"):
    try:
        for i in range(obj.get_n_actions()):
            if obj.get_action_name(i) == action:
                return obj.do_action(i)
    except gi.repository.GLib.Error:
        pass
    return False


def has_state(obj, spec):
    """spec: a state name ("checked"), or "!checked" for its absence."""
    want = not spec.startswith("!")
    state = getattr(Atspi.StateType, spec.lstrip("!").upper(), None)
    if state is None:
        sys.exit("atspi.py: unknown state " + spec)
    return _has(obj, state) == want


def in_order(app, names):
    """True if each name is SHOWING, each after the one before in tree order."""
    index = {}
    for i, (obj, _, showing) in enumerate(walk(app)):
        if not showing:
            continue
        try:
            name = obj.get_name()
        except gi.repository.GLib.Error:
            continue
        for want in names:
            if want not in index and _matches(name, want):
                index[want] = i
    if len(index) < len(names):
        return False
    return all(index[a] < index[b] for a, b in zip(names, names[1:]))


def set_text(obj, text):
    try:
        return obj.set_text_contents(text)
    except gi.repository.GLib.Error:
        return False


def screenshot(stem):
    artifacts = os.environ.get("ARTIFACTS")
    if not artifacts:
        return True
    os.makedirs(artifacts, exist_ok=True)
    path = os.path.join(artifacts, stem + ".png")
    # Cairo renders into the X window synchronously; the frame shows the
    # state whose label was found SHOWING before this was called.
    return subprocess.run(["import", "-window", "root", path]).returncode == 0


def main(argv):
    app_name = os.environ.get("ATSPI_APP", "hyphae")
    timeout = float(os.environ.get("ATSPI_TIMEOUT", "30"))
    while argv and argv[0].startswith("--"):
        if argv[0] == "--app":
            app_name = argv[1]
        elif argv[0] == "--timeout":
            timeout = float(argv[1])
        else:
            sys.exit("atspi.py: unknown option " + argv[0])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    app = wait(lambda: find_app(app_name), timeout)

    def fail(what):
        sys.stderr.write("atspi.py: %s (app %r, %.0f s)\n" % (what, app_name, timeout))
        dump(app)
        sys.exit(1)

    if app is None:
        fail("the app did not appear on the AT-SPI desktop")
    if cmd == "wait":
        for name, role in zip(args[0::2], args[1::2]):
            if not wait(lambda: find(app, name, role), timeout):
                fail("no SHOWING %s %r" % (role, name))
    elif cmd == "wait-gone":
        if not wait(lambda: find(app, args[0], args[1]) is None, timeout):
            fail("still SHOWING: %s %r" % (args[1], args[0]))
    elif cmd == "click":
        if not wait(lambda: click(app, args[0], args[1] if len(args) > 1 else None), timeout):
            fail("cannot click %r" % args[0])
    elif cmd == "act":
        obj = wait(lambda: find(app, args[0], args[1]), timeout)
        if obj is None or not do_action(obj, args[2]):
            names = [obj.get_action_name(i) for i in range(obj.get_n_actions())] if obj else []
            fail("cannot %s %r (its actions: %r)" % (args[2], args[0], names))
    elif cmd == "wait-state":
        def ready():
            obj = find(app, args[0], args[1])
            return obj is not None and has_state(obj, args[2])
        if not wait(ready, timeout):
            fail("no SHOWING %s %r in state %s" % (args[1], args[0], args[2]))
    elif cmd == "order":
        if not wait(lambda: in_order(app, args), timeout):
            fail("not SHOWING in this order: %r" % (args,))
    elif cmd == "set-text":
        obj = wait(lambda: find(app, args[0]), timeout)
        if obj is None or not set_text(obj, args[1]):
            fail("cannot set the text of %r" % args[0])
    elif cmd == "screenshot":
        if not screenshot(args[0]):
            fail("screenshot %s failed" % args[0])
    elif cmd == "dump":
        dump(app, sys.stdout)
    else:
        sys.exit("atspi.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
