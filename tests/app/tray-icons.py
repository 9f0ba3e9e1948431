#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tray's state icons (data/app/icons/hicolor/symbolic/apps), as hosts
draw them: each file is SVG that librsvg renders (through GdkPixbuf's
loader) at 16 px, in one colour without strokes (GTK and Plasma recolour
symbolic icons by their fill), and every two of them differ in shape: at 16 px
their opacity masks differ in at least MIN_PIXELS pixels, so the state shows
without colour.

    tray-icons.py FILE.svg...

Exit 0 if all hold, 1 (with the reason) if not, 77 without python3-gi or the
SVG loader.
"""
import itertools
import sys
import xml.etree.ElementTree as ET

MIN_PIXELS = 8
SIZE = 16

try:
    import gi

    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib
except (ImportError, ValueError):
    print("SKIP no GdkPixbuf for python3 (python3-gi, gir1.2-gdkpixbuf-2.0)")
    sys.exit(77)

if not any("svg" in f.get_mime_types()[0] for f in GdkPixbuf.Pixbuf.get_formats() if f.get_mime_types()):
    print("SKIP no SVG loader for GdkPixbuf (librsvg2-common)")
    sys.exit(77)


def alpha_mask(path):
    pixbuf = GdkPixbuf.Pixbuf.new_from_file_at_size(path, SIZE, SIZE)
    if not pixbuf.get_has_alpha() or pixbuf.get_width() != SIZE or pixbuf.get_height() != SIZE:
        raise ValueError("rendered %dx%d without alpha" % (pixbuf.get_width(), pixbuf.get_height()))
    data, stride = pixbuf.get_pixels(), pixbuf.get_rowstride()
    return [data[y * stride + x * 4 + 3] for y in range(SIZE) for x in range(SIZE)]


def check_colours(path):
    colours = set()
    for el in ET.parse(path).getroot().iter():
        if el.get("stroke") not in (None, "none"):
            raise ValueError("a stroke on <%s>" % el.tag)
        if el.get("fill") not in (None, "none"):
            colours.add(el.get("fill").lower())
    if len(colours) > 1:
        raise ValueError("%d colours: %s" % (len(colours), ", ".join(sorted(colours))))


def main(paths):
    failed = False
    masks = {}
    for path in paths:
        try:
            check_colours(path)
            masks[path] = alpha_mask(path)
            print("PASS %s renders at %d px in one colour" % (path, SIZE))
        except (ET.ParseError, ValueError, GLib.Error) as e:
            print("FAIL %s: %s" % (path, e))
            failed = True
    for a, b in itertools.combinations(sorted(masks), 2):
        n = sum(abs(x - y) > 128 for x, y in zip(masks[a], masks[b]))
        if n < MIN_PIXELS:
            print("FAIL %s and %s differ in %d pixels only" % (a, b, n))
            failed = True
    if not failed:
        print("PASS the %d shapes differ pairwise in at least %d pixels" % (len(masks), MIN_PIXELS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
