# SPDX-License-Identifier: MIT
# Helpers shared by the namespace benchmarks (bench/wg-throughput,
# bench/tailscale/ts-bench): iperf3 runs, ping medians, process memory.  Source
# it after tests/integration/lib.sh (wgt_mem, WGT_PY).

# bench_iperf NS TARGET JSON TIMEOUT ARGS...: `iperf3 -c TARGET -J ARGS` in NS
# (the JSON in file JSON, stderr in JSON.err: iperf3 warns there, e.g. "UDP block
# size exceeds TCP MSS"); prints "Gbit/s retransmits" (TCP) or "Gbit/s loss%"
# (UDP), the goodput at the receiver, or returns 1.
bench_iperf() {
	local ns=$1 target=$2 json=$3 secs=$4; shift 4
	timeout "$secs" ip netns exec "$ns" iperf3 -c "$target" -J "$@" >"$json" 2>"$json.err"
	"$WGT_PY" - "$json" <<-'PYEOF'
	import json, sys
	try:
	    j = json.load(open(sys.argv[1]))
	except ValueError:
	    print("iperf3 %s: no JSON result" % sys.argv[1], file=sys.stderr); sys.exit(1)
	if j.get("error"):
	    print("iperf3: " + j["error"], file=sys.stderr); sys.exit(1)
	e = j["end"]
	r = e["sum_received"]
	if "lost_percent" in r:      # UDP: goodput at the receiver and loss
	    print("%.4f %.3f" % (r["bits_per_second"] / 1e9, r["lost_percent"]))
	else:                        # TCP: goodput at the receiver and retransmits
	    print("%.4f %d" % (r["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0)))
	PYEOF
}

# bench_ping_median_us NS DEST COUNT: median RTT (µs) of COUNT pings, 100/s.
bench_ping_median_us() {
	ip netns exec "$1" ping -n -c "$3" -i 0.01 -w $(($3 / 10 + 10)) "$2" 2>/dev/null |
		"$WGT_PY" -c '
import re, statistics, sys
t = [float(m.group(1)) * 1000 for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read())]
print("%.1f" % statistics.median(t) if t else "")'
}

# bench_mem FIELD PID...: the largest FIELD (VmRSS, RssAnon, VmHWM; kB) over the
# pids, nothing when none can be read.
bench_mem() {
	local f=$1 p v max=; shift
	for p in "$@"; do
		v=$(wgt_mem "$p" "$f")
		[ -n "$v" ] && { [ -z "$max" ] || [ "$v" -gt "$max" ]; } && max=$v
	done
	echo "$max"
}

# bench_sampler_start FILE PID...: in the background, every 100 ms, the largest
# VmRSS and RssAnon of the pids as a line of FILE; the sampler's pid in
# BENCH_SAMPLER.  bench_sampler_stop SAMPLER FILE: stops it and prints the peaks,
# "VmRSS RssAnon" (kB).
# bench_samplers_kill: every sampler still running (for an exit trap: they run
# outside the namespaces, so deleting those does not end them).
BENCH_SAMPLERS=()
bench_sampler_start() {
	local out=$1; shift
	: >"$out"
	( while :; do echo "$(bench_mem VmRSS "$@") $(bench_mem RssAnon "$@")" >>"$out"; sleep 0.1; done ) &
	BENCH_SAMPLER=$!
	BENCH_SAMPLERS+=("$BENCH_SAMPLER")
}
bench_sampler_stop() {
	kill "$1" 2>/dev/null; wait "$1" 2>/dev/null
	awk '$1 > v { v = $1 } $2 > a { a = $2 } END { print v + 0, a + 0 }' "$2"
}
bench_samplers_kill() {
	local p
	for p in "${BENCH_SAMPLERS[@]}"; do kill "$p" 2>/dev/null; done
	BENCH_SAMPLERS=()
}
