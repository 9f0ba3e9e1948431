#!/bin/bash
# SPDX-License-Identifier: MIT
# The app with a 10,000-peer tailnet: start to first frame, frame times while
# the peer list is filtered and while 100 peers change per second, and its
# memory (issue 10 item 9). A benchmark, not a test: it prints what it
# measured against the targets. Needs root (namespaces), Xvfb and AT-SPI's
# packages (the test harness tests/app/app-lib.sh is reused).
#
#   bench/app/app-bench.sh [--build DIR] [--peers N] [--churn S]
#
#   --build DIR  a release build with the app and the daemon (default
#                build-release in the source tree: set up and built when
#                missing; incremental after that). Never an ASan build: its
#                start-up and memory mean something else.
#   --peers N    peers in the tailnet (10000)
#   --churn S    seconds of frame times while peers change (10)
#
# The tailnet is tests/integration/mesh-lib.sh's (the Go control server in a
# hub namespace, hyphaed on a private system bus in node A's namespace). The
# control server's map script (bench/app/gen-map-script.py) gives A the N
# peers right after its first map, waits, then flips Online of 10 peers every
# 100 ms. bench-app-frames (bench/app/app-frames.c: the app's code with a
# stopwatch on the window's frame clock) runs as the app under Xvfb with the
# cairo renderer: no vsync and no compositor, so frame times are the main
# thread's CPU time per frame (update, layout, paint), and gaps between frame
# starts show the main loop stalled outside a frame.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build-release PEERS=10000 CHURN=10
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift ;;
	--peers) PEERS=$2; shift ;;
	--churn) CHURN=$2; shift ;;
	*) sed -n '3,/^set -u/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2 ;;
	esac
	shift
done

if [ -z "${APP_T:-}" ]; then
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" "$ROOT" --buildtype=release -Db_sanitize=none -Dtests=false -Dgui=enabled \
			>"$ROOT/.app-bench-setup.log" 2>&1 || { cat "$ROOT/.app-bench-setup.log" >&2; exit 1; }
	fi
	ninja -C "$BUILD" bench/bench-app-frames daemon/service/hyphaed src/cli/hyphaectl data/app/gschemas.compiled \
		>"$BUILD/app-bench-build.log" 2>&1 || { tail -n 40 "$BUILD/app-bench-build.log" >&2; exit 1; }
	export HYPHAE_APP=$BUILD/bench/bench-app-frames HYPHAE_APP_SCHEMA_DIR=$BUILD/data/app
	export HYPHAED=$BUILD/daemon/service/hyphaed HYPHAECTL=$BUILD/src/cli/hyphaectl HYPHAE_DATA_DIR=$ROOT/data
	export BENCH_ARGS="$PEERS $CHURN"
fi
. "$ROOT/tests/app/app-lib.sh"
app_session "$@"
read -r PEERS CHURN <<<"$BENCH_ARGS"

. "$ROOT/tests/integration/mesh-lib.sh"
trap mesh_cleanup EXIT
die() { echo "app-bench: $*" >&2; exit 1; }
peer_count() {
	"$WGT_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("Peer") or {}))' \
		"$MESH_DIR/a.status.json" 2>/dev/null
}

mesh_require
mesh_topology || die "topology"
# Time for the app to start, load the peers and be filtered before the churn.
"$HERE/gen-map-script.py" "$PEERS" 25 $((CHURN + 20)) >"$MESH_DIR/script.json" || die "map script"
mesh_server_start -map-script "$MESH_DIR/script.json" || die "control server"
mesh_buses || die "buses"
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || die "hyphaectl up: $(cat "$MESH_DIR/a.up.out")"
mesh_wait a 120 eval '[ "$(peer_count)" -ge "$PEERS" ]' || die "hyphaed never had $PEERS peers ($(peer_count))"
hyphaed_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$(mesh_daemon_pid a)/status" 2>/dev/null)

env -u GTK_A11Y DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr a)" GDK_BACKEND=x11 GSK_RENDERER=cairo GIO_USE_VFS=local \
	GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$HYPHAE_APP_SCHEMA_DIR" \
	BENCH_PEERS="$PEERS" BENCH_CHURN_SECONDS="$CHURN" \
	/usr/bin/python3 -c 'import os, sys, time
os.environ["BENCH_T0_NS"] = str(time.monotonic_ns())
os.execv(sys.argv[1], sys.argv[1:])' "$HYPHAE_APP" >"$MESH_DIR/frames.out" 2>"$MESH_DIR/frames.err"
rc=$?
[ $rc = 0 ] || { tail -n 20 "$MESH_DIR/frames.err" >&2; cat "$MESH_DIR/frames.out" >&2; die "bench-app-frames exited with $rc"; }

"$WGT_PY" - "$MESH_DIR/frames.out" "$PEERS" "$CHURN" "${hyphaed_kib:-0}" <<'PY'
import sys
r = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
peers, churn, hyd = sys.argv[2], sys.argv[3], int(sys.argv[4]) / 1024
def f(k): return float(r.get(k, "nan"))
rows = [
    ("start to first frame, ms", f("first_frame_ms"), "≤ 300"),
    ("start to %s peers listed, ms" % peers, f("peers_shown_ms"), ""),
    ("filtering: frames / longest frame, ms", "%d / %.1f" % (f("filter_frames"), f("filter_longest_frame_ms")), "≤ 16"),
    ("filtering: frames over 16 ms", f("filter_frames_over_16ms"), "0"),
    ("filtering: longest gap between frames, ms", f("filter_longest_gap_ms"), ""),
    ("100 peers/s for %s s: frames / longest frame, ms" % churn, "%d / %.1f" % (f("churn_frames"), f("churn_longest_frame_ms")), "≤ 16"),
    ("100 peers/s: frames over 16 ms", f("churn_frames_over_16ms"), "0"),
    ("100 peers/s: longest gap between frames, ms", f("churn_longest_gap_ms"), ""),
    ("100 peers/s: peer list changes seen", f("churn_peer_changes"), "> 0"),
    ("app VmRSS at the end / peak (VmHWM), MiB", "%.1f / %.1f" % (f("rss_mib"), f("hwm_mib")), "≤ 60"),
    ("app RssAnon at the end, MiB", f("anon_mib"), ""),
    ("hyphaed VmRSS with the peers, MiB", "%.1f" % hyd, ""),
]
print("| metric | value | target |\n|---|---:|---:|")
for name, v, t in rows:
    print("| %s | %s | %s |" % (name, ("%.1f" % v) if isinstance(v, float) else v, t))
if "error" in r:
    print("error: " + r["error"])
PY
