#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The sandbox test's variant of flatpak/io.github.hyphae.Hyphae.json.

    flatpak-variant.py MANIFEST SOURCE_DIR RUNTIME SDK BRANCH OUT

OUT is MANIFEST with only these changes:
  runtime, sdk, runtime-version   the local Debian runtime (flatpak-runtime.sh)
  modules                         the modules Debian's SDK tree already has are
                                  dropped (DEBIAN_SDK_HAS); the app's module
                                  (APP_MODULE) builds SOURCE_DIR (type dir)
                                  instead of its git source
Everything else (id, command, finish-args, cleanup, the app module's
buildsystem and config-opts) is the manifest's own; a module this file does not
know is an error, so a new one is a decision, not an accident.
Exit 1 with a message on stderr if MANIFEST breaks these rules.
"""

import copy
import json
import sys

APP_MODULE = "hyphae"
# Modules org.gnome.Sdk lacks that the manifest builds, and the Debian package
# that puts the same library in the local SDK (flatpak-runtime.sh).
DEBIAN_SDK_HAS = {"libsodium": "libsodium-dev"}
REPLACED = ("runtime", "sdk", "runtime-version", "modules")


def fail(message):
    print(f"flatpak-variant: {message}", file=sys.stderr)
    sys.exit(1)


def variant(manifest, source_dir, runtime, sdk, branch):
    out = copy.deepcopy(manifest)
    out["runtime"], out["sdk"], out["runtime-version"] = runtime, sdk, branch
    modules = []
    for module in manifest.get("modules", []):
        if isinstance(module, str):
            fail(f"module file {module!r}: inline the module, the variant cannot see into it")
        name = module.get("name")
        if name == APP_MODULE:
            app = copy.deepcopy(module)
            app["sources"] = [{"type": "dir", "path": source_dir}]
            modules.append(app)
        elif name not in DEBIAN_SDK_HAS:
            fail(f"module {name!r}: add it to DEBIAN_SDK_HAS (and its package to flatpak-runtime.sh) "
                 "or teach the variant to build it")
    if [m["name"] for m in modules] != [APP_MODULE]:
        fail(f"the manifest has no module {APP_MODULE!r}")
    out["modules"] = modules
    # The rule, checked on the result: nothing but REPLACED differs.
    for key in set(manifest) | set(out):
        if key not in REPLACED and manifest.get(key) != out.get(key):
            fail(f"the variant changed {key!r}")
    return out


def main(argv):
    if len(argv) != 7:
        fail(__doc__.strip().splitlines()[2].strip())
    manifest_path, source_dir, runtime, sdk, branch, out_path = argv[1:]
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    out = variant(manifest, source_dir, runtime, sdk, branch)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
