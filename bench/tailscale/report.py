#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tables of bench/tailscale/ts-bench: medians over rounds, the ratios
against tailscaled and the issue's targets next to them.

  report.py RESULTS ROUNDS

RESULTS: one "config <TAB> metric <TAB> value" line per measurement.
"""
import collections
import statistics
import sys

MIB = ("rss_idle", "rss_peak", "hwm", "rss_after", "anon_idle", "anon_peak", "anon_after",
       "relay_rss_idle", "relay_rss_peak", "relay_hwm")

res, rounds = sys.argv[1], int(sys.argv[2])
vals = collections.defaultdict(list)
text = collections.defaultdict(list)
for line in open(res):
    cfg, metric, value = line.rstrip("\n").split("\t")
    try:
        vals[(cfg, metric)].append(float(value))
    except ValueError:
        if value:
            text[(cfg, metric)].append(value)


def med(cfg, metric):
    v = vals.get((cfg, metric))
    if not v:
        return None
    m = statistics.median(v)
    return m / 1024 if metric in MIB else m


def cell(v, fmt):
    return "—" if v is None else fmt % v


def ratio(a, b):
    return "—" if a is None or not b else "%.2f×" % (a / b)


# rows whose ratio says nothing (counts, sizes, loss)
NO_RATIO = ("tcp1_retr", "udp0_loss", "udp_len", "rtt")


def table(cols, labels, rows, ratios):
    """rows: (metric, label, fmt, target or ""); ratios: (label, num, den)."""
    hdr = ["metric"] + [labels[c] for c in cols] + [r[0] for r in ratios] + ["target"]
    if not any(med(c, r[0]) is not None for c in cols for r in rows):
        print("(nothing measured)")
        print()
        return
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 2) + ["---"]) + "|")
    for metric, label, fmt, target in rows:
        cells = [cell(med(c, metric), fmt) for c in cols]
        if all(c == "—" for c in cells):
            continue
        cells += [("" if metric in NO_RATIO else ratio(med(n, metric), med(d, metric)))
                  for _, n, d in ratios]
        print("| " + label + " | " + " | ".join(cells) + " | " + target + " |")
    print()


direct_cols = ["underlay", "wireguard-go", "hyphaed-wg", "ts", "ts1420", "hyphaed"]
relay_cols = ["ts-derper", "ts-hderp", "hy-derper", "hy-hderp"]
labels = {
    "underlay": "underlay (bridge)",
    "wireguard-go": "wireguard-go",
    "ts": "tailscaled (MTU 1280, default)",
    "ts1420": "tailscaled (TS_DEBUG_MTU=1420)",
    "hyphaed-wg": "hyphaed --wireguard (MTU 1420)",
    "hyphaed": "hyphaed (MTU 1280)",
    "ts-derper": "tailscaled via derper",
    "ts-hderp": "tailscaled via hyphae-derp",
    "hy-derper": "hyphaed via derper",
    "hy-hderp": "hyphaed via hyphae-derp",
}

print()
print("### Direct path")
print()
table(direct_cols, labels, [
    ("tcp1", "TCP 1 stream, Gbit/s", "%.2f", "≥ 2× tailscaled"),
    ("tcp1_retr", "TCP 1 stream, retransmits", "%.0f", ""),
    ("udp_ok", "UDP, highest probed rate with ≤ 2 % loss: received Gbit/s", "%.2f", "≥ 2× tailscaled"),
    ("udp0", "UDP -b 0: received Gbit/s", "%.2f", ""),
    ("udp0_loss", "UDP -b 0: loss %", "%.1f", ""),
    ("udp_len", "UDP datagram, bytes (tunnel MTU − 28)", "%.0f", ""),
    ("rtt", "ping RTT over the underlay (median), µs", "%.1f", ""),
    ("rtt_added", "added ping RTT (median), µs", "%.1f", "≤ ½ tailscaled"),
    ("rss_idle", "VmRSS idle, MiB", "%.1f", "≤ ¼ tailscaled"),
    ("rss_peak", "VmRSS peak under load (sampled), MiB", "%.1f", "≤ ¼ tailscaled"),
    ("hwm", "VmHWM at the end, MiB", "%.1f", ""),
    ("rss_after", "VmRSS 2 s after the load, MiB", "%.1f", ""),
    ("anon_idle", "RssAnon idle, MiB", "%.1f", ""),
    ("anon_peak", "RssAnon peak under load (sampled), MiB", "%.1f", ""),
    ("anon_after", "RssAnon 2 s after the load, MiB", "%.1f", ""),
    ("first_s", "both up → first ping reply, s", "%.2f", ""),
    ("direct_s", "both up → direct path, s", "%.2f", "≤ 5 s"),
], [("hyphaed ÷ tailscaled (both 1280)", "hyphaed", "ts"),
    ("hyphaed --wireguard ÷ tailscaled (both 1420)", "hyphaed-wg", "ts1420"),
    ("wireguard-go ÷ tailscaled (both 1420)", "wireguard-go", "ts1420")])

print("### Relayed (DERP only)")
print()
table(relay_cols, labels, [
    ("tcp1", "TCP 1 stream, Gbit/s", "%.2f", "hyphae-derp ≥ derper"),
    ("udp_ok", "UDP, highest probed rate with ≤ 2 % loss: received Gbit/s", "%.2f", "hyphae-derp ≥ derper"),
    ("udp0", "UDP -b 0: received Gbit/s", "%.2f", ""),
    ("udp0_loss", "UDP -b 0: loss %", "%.1f", ""),
    ("relay_rss_idle", "relay VmRSS, two clients idle, MiB", "%.1f", "hyphae-derp ≤ ½ derper"),
    ("relay_rss_peak", "relay VmRSS peak under load, MiB", "%.1f", "hyphae-derp ≤ ½ derper"),
    ("relay_hwm", "relay VmHWM at the end, MiB", "%.1f", ""),
    ("rss_idle", "nodes: VmRSS idle (larger), MiB", "%.1f", ""),
    ("hwm", "nodes: VmHWM (larger), MiB", "%.1f", ""),
    ("first_s", "both up → first ping reply over DERP, s", "%.2f", "≤ 1 s"),
], [("hyphae-derp ÷ derper (tailscaled)", "ts-hderp", "ts-derper"),
    ("hyphae-derp ÷ derper (hyphaed)", "hy-hderp", "hy-derper"),
    ("hyphaed ÷ tailscaled (derper)", "hy-derper", "ts-derper")])

measured = {c: len(vals.get((c, "first_s"), vals.get((c, "tcp1"), []))) for c in direct_cols + relay_cols}
print("Medians over %d round(s); rounds measured: %s." % (
    rounds, ", ".join("%s %d" % (c, k) for c, k in measured.items() if k)))
fails = {c: len(v) for (c, m), v in vals.items() if m == "failed"}
if fails:
    print("Failed runs (see the log above): " + ", ".join("%s %d" % kv for kv in fails.items()) + ".")
skipped = {c: v[0] for (c, m), v in text.items() if m == "skipped"}
for c, why in skipped.items():
    print("Not measured: %s (%s)." % (labels.get(c, c), why))
for when, metric in (("after the first packets", "path"), ("after the load", "path_after")):
    paths = {c: sorted(set(v)) for (c, m), v in text.items() if m == metric}
    for c, p in paths.items():
        print("Path of %s %s: %s." % (labels.get(c, c), when, "; ".join(p)))
ctl = {c: sorted(set(v)) for (c, m), v in text.items() if m == "control"}
for c, o in ctl.items():
    print("Control server of %s: %s." % (labels.get(c, c), "; ".join(o)))
offl = {c: sorted(set(v)) for (c, m), v in text.items() if m == "offloads"}
for c, o in offl.items():
    print("TUN/UDP offloads of %s: %s." % (labels.get(c, c), "; ".join(o)))
if rounds > 1:
    print()
    print("Per round (spread behind the medians):")
    for metric, what, fmt in (("tcp1", "TCP Gbit/s", "%.2f"), ("udp_ok", "UDP ≤ 2 % loss Gbit/s", "%.2f"),
                              ("rtt_added", "added RTT µs", "%.0f"), ("first_s", "first reply s", "%.2f"),
                              ("direct_s", "direct path s", "%.2f")):
        parts = ["%s %s" % (labels[c].split(" (")[0] if c not in ("ts", "ts1420") else labels[c],
                            " / ".join(fmt % x for x in vals[(c, metric)]))
                 for c in direct_cols + relay_cols if vals.get((c, metric))]
        if parts:
            print("- %s: %s" % (what, "; ".join(parts)))
    print()
print("Memory: the larger of the two daemons (VmRSS from /proc/PID/status); relay: its own process.")
