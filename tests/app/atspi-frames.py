#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""atspi.py's companion for tests that use more than one window, and
switches (tests/app/): the same search (SHOWING objects, bounded waits,
50 ms ticks, no coordinates), limited to one top-level window.

    atspi-frames.py [--timeout S] do FRAME NAME ROLE ACTION
        the AT-SPI action ACTION ("click", "toggle") of the SHOWING object
        NAME/ROLE inside the SHOWING window titled FRAME
    atspi-frames.py ... checked FRAME NAME ROLE yes|no
        until that object's CHECKED state is yes/no (a GtkSwitch is a
        "check box" in GTK 4.8)
    atspi-frames.py ... gone FRAME
        until no window titled FRAME is SHOWING (closed or hidden)
    atspi-frames.py ... showing FRAME
        until a window titled FRAME is SHOWING

Exit 0 on success, 1 (with the app's tree on stderr) if not. Run with
/usr/bin/python3 inside the test's session, as atspi.py.
"""
import os
import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

import atspi  # noqa: E402  (tests/app/atspi.py, next to this file)


def frame(app, title):
    """The SHOWING top-level window titled title, or None."""
    if app is None:
        return None
    try:
        for i in range(app.get_child_count()):
            child = app.get_child_at_index(i)
            if child is not None and child.get_name() == title and \
                    atspi._has(child, Atspi.StateType.SHOWING):
                return child
    except gi.repository.GLib.Error:
        pass
    return None


def find_in(app, title, name, role):
    win = frame(app, title)
    if win is None:
        return None
    # walk() from the window: depth 0 is the window itself, SHOWING already.
    for obj, depth, showing in atspi.walk(win, 1):
        if not showing:
            continue
        try:
            if atspi._matches(obj.get_name(), name) and obj.get_role_name() == role:
                return obj
        except gi.repository.GLib.Error:
            continue
    return None


def main(argv):
    app_name = os.environ.get("ATSPI_APP", "hyphae")
    timeout = float(os.environ.get("ATSPI_TIMEOUT", "30"))
    if argv[:1] == ["--timeout"]:
        timeout = float(argv[1])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    app = atspi.wait(lambda: atspi.find_app(app_name), timeout)

    def fail(what):
        sys.stderr.write("atspi-frames.py: %s (app %r, %.0f s)\n" % (what, app_name, timeout))
        atspi.dump(app)
        sys.exit(1)

    if app is None:
        fail("the app did not appear on the AT-SPI desktop")
    if cmd == "do":
        title, name, role, action = args
        obj = atspi.wait(lambda: find_in(app, title, name, role), timeout)
        if obj is None or not atspi.do_action(obj, action):
            fail("cannot %s %s %r in %r" % (action, role, name, title))
    elif cmd == "checked":
        title, name, role, want = args

        def checked():
            obj = find_in(app, title, name, role)
            return obj is not None and atspi._has(obj, Atspi.StateType.CHECKED) == (want == "yes")
        if not atspi.wait(checked, timeout):
            fail("%s %r in %r is not checked=%s" % (role, name, title, want))
    elif cmd == "gone":
        if not atspi.wait(lambda: frame(app, args[0]) is None, timeout):
            fail("window %r still SHOWING" % args[0])
    elif cmd == "showing":
        if not atspi.wait(lambda: frame(app, args[0]), timeout):
            fail("no SHOWING window %r" % args[0])
    else:
        sys.exit("atspi-frames.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
