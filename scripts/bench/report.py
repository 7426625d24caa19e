#!/usr/bin/env python3
"""Turns scripts/bench/run's raw values into the table and the chart.

Usage: report.py RAW.tsv [--md FILE] [--svg FILE] [--rounds N] [--seconds S]
                 [--machine TEXT] [--note TEXT]

RAW.tsv has one value a line: pin, round, stack, figure, value. For each
figure and CPU placement it prints the median of each stack's values and the
median (and range) of the per-round ratios tapstack / kernel. With --md it
writes the same as a markdown page, with --svg a horizontal bar chart of the
ratios with a line at 1.0. Standard library only.
"""

import argparse
import statistics
import sys
from collections import defaultdict
from xml.sax.saxutils import escape

# key, label, unit, better ("higher" or "lower")
FIGURES = [
    ("bulk_in", "bulk into the server (iperf3)", "Gbit/s", "higher"),
    ("bulk_out", "bulk out of the server (iperf3 -R)", "Gbit/s", "higher"),
    ("rr_p50", "64 B request/response, p50", "µs", "lower"),
    ("rr_p99", "64 B request/response, p99", "µs", "lower"),
    ("conns", "connections/s, one at a time", "conn/s", "higher"),
    ("nginx_keepalive", "nginx 1 KiB, 32 keep-alive connections", "req/s", "higher"),
    ("nginx_close", "nginx 1 KiB, Connection: close", "req/s", "higher"),
    ("nginx_keepalive_w2", "nginx 1 KiB, keep-alive, 2 workers", "req/s", "higher"),
    ("mem_idle", "memory per idle connection", "KiB", "lower"),
    ("ctx_rr", "server context switches per 64 B request", "count", "lower"),
    ("ctx_conn", "server context switches per connection", "count", "lower"),
]
PINS = [
    ("none", "nothing pinned"),
    ("one", "1 CPU"),
    ("two", "2 CPUs"),
]


def load(path):
    """{pin: {round: {stack: {figure: value}}}}, with mem_idle derived."""
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            pin, rnd, stack, fig, value = parts
            try:
                data[pin][int(rnd)][stack][fig] = float(value)
            except ValueError:
                pass
    for rounds in data.values():
        # The client's kernel sockets: half the kernel run's slab growth
        # (both ends are kernel sockets of the same kinds). One estimate for
        # all rounds, the median, so that the machine's other slab traffic
        # in one kernel round does not move the tapstack figure of that
        # round too.
        halves = [
            s["kernel"]["mem_slab"] / 2 / s["kernel"]["mem_n"]
            for s in rounds.values()
            if {"mem_slab", "mem_n"} <= s.get("kernel", {}).keys()
        ]
        if not halves:
            continue
        client = statistics.median(halves)
        for sides in rounds.values():
            t, k = sides.get("tapstack", {}), sides.get("kernel", {})
            if {"mem_slab", "mem_n"} <= k.keys():
                k["mem_idle"] = k["mem_slab"] / 2 / k["mem_n"] / 1024
            if {"mem_slab", "mem_rss_kib", "mem_n"} <= t.keys():
                own = t["mem_rss_kib"] * 1024 + t["mem_slab"] - client * t["mem_n"]
                t["mem_idle"] = own / t["mem_n"] / 1024
    return data


def summarize(data):
    """{pin: {figure: (t_median, k_median, ratio_median, lo, hi, n)}}."""
    out = {}
    for pin, rounds in data.items():
        figs = {}
        for key, *_ in FIGURES:
            ts, ks, rs = [], [], []
            for sides in rounds.values():
                t = sides.get("tapstack", {}).get(key)
                k = sides.get("kernel", {}).get(key)
                if t is not None:
                    ts.append(t)
                if k is not None:
                    ks.append(k)
                if t is not None and k:
                    rs.append(t / k)
            if rs:
                figs[key] = (
                    statistics.median(ts),
                    statistics.median(ks),
                    statistics.median(rs),
                    min(rs),
                    max(rs),
                    len(rs),
                )
        out[pin] = figs
    return out


def num(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def text_table(summary):
    lines = []
    for pin, title in PINS:
        figs = summary.get(pin)
        if not figs:
            continue
        lines.append(f"{title}:")
        lines.append(f"  {'figure':<50} {'tapstack':>10} {'kernel':>10} {'ratio':>6}  range")
        for key, label, unit, _ in FIGURES:
            if key in figs:
                t, k, r, lo, hi, _ = figs[key]
                name = f"{label} ({unit})"
                lines.append(f"  {name:<50} {num(t):>10} {num(k):>10} {r:6.2f}  {lo:.2f}–{hi:.2f}")
    lines.append("ratio = tapstack / kernel, the median of the rounds' ratios")
    return "\n".join(lines)


def markdown(summary, args, svg_name):
    pins = [(p, t) for p, t in PINS if summary.get(p)]
    out = ["# tapstack / Linux kernel, " + args.date, ""]
    out.append(
        f"`scripts/bench/run {args.rounds} {args.seconds}`: {args.rounds} alternating rounds, "
        f"{args.seconds} s per measurement, on {args.machine}. "
        "The server is on tapstack (preload, TAP) or on the kernel (veth); the client "
        "is always the kernel. Values are medians of the rounds; the ratio is the "
        "median of the per-round ratios tapstack / kernel (with their range)."
    )
    if args.note:
        out += ["", f"**{args.note}**"]
    if svg_name:
        out += ["", f"![ratios]({svg_name})"]
    first = summary.get("none") or summary[pins[0][0]]
    out += ["", f"## {'Nothing pinned' if 'none' in summary else pins[0][1]}", ""]
    out.append("| figure | tapstack | kernel | tapstack / kernel | range | better |")
    out.append("| --- | ---: | ---: | ---: | --- | --- |")
    for key, label, unit, better in FIGURES:
        if key in first:
            t, k, r, lo, hi, _ = first[key]
            out.append(
                f"| {label} ({unit}) | {num(t)} | {num(k)} | **{r:.2f}** | {lo:.2f}–{hi:.2f} | {better} |"
            )
    if len(pins) > 1:
        out += ["", "## Ratios by CPU placement", ""]
        out.append("| figure | " + " | ".join(t for _, t in pins) + " |")
        out.append("| --- |" + " ---: |" * len(pins))
        for key, label, unit, _ in FIGURES:
            cells = []
            for p, _ in pins:
                f = summary[p].get(key)
                cells.append(f"{f[2]:.2f}" if f else "")
            if any(cells):
                out.append(f"| {label} | " + " | ".join(cells) + " |")
        out += ["", "Absolute values per placement (tapstack / kernel):", ""]
        out.append("| figure | " + " | ".join(t for _, t in pins) + " |")
        out.append("| --- |" + " ---: |" * len(pins))
        for key, label, unit, _ in FIGURES:
            cells = []
            for p, _ in pins:
                f = summary[p].get(key)
                cells.append(f"{num(f[0])} / {num(f[1])}" if f else "")
            if any(cells):
                out.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")
    out += [
        "",
        "Placement: *1 CPU* runs server and client on CPU 0 (`taskset -c 0`); "
        "*2 CPUs* puts the server on CPU 0 and the client on CPU 1, so tapstack's "
        "stack thread shares CPU 0 with the application. Memory per idle connection: "
        "the kernel's is half the slab growth (`/proc/slabinfo`, both ends are kernel "
        "sockets) over the connections held; tapstack's is the server's RSS growth "
        "plus the rest of the slab growth (its eventfds): the tapstack run's growth "
        "less the client's, the median over the rounds of half the kernel run's. Context switches: all the "
        "server's threads, voluntary and involuntary (`/proc/PID/task/*/status`).",
        "",
    ]
    return "\n".join(out)


def readme_table(summary):
    """The compact table the README shows: ratios only, by placement."""
    pins = [(p, t) for p, t in PINS if summary.get(p)]
    out = ["| figure | " + " | ".join(t for _, t in pins) + " |"]
    out.append("| --- |" + " ---: |" * len(pins))
    for key, label, unit, better in FIGURES:
        cells = []
        for p, _ in pins:
            f = summary[p].get(key)
            cells.append(f"{f[2]:.2f}" if f else "")
        if any(cells):
            arrow = "↑" if better == "higher" else "↓"
            out.append(f"| {label} ({unit}, {arrow}) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def svg(summary):
    pins = [(p, t) for p, t in PINS if summary.get(p)]
    colors = {"none": "#4878a8", "one": "#e07b39", "two": "#5aa469"}
    rows = [(key, label, better) for key, label, _, better in FIGURES
            if any(key in summary[p] for p, _ in pins)]
    bar, gap, left, width, top = 12, 10, 330, 420, 50
    ratios = [summary[p][k][2] for p, _ in pins for k, *_ in rows if k in summary[p]]
    scale_max = max([1.25] + [r * 1.1 for r in ratios])
    group = bar * len(pins) + gap
    height = top + group * len(rows) + 50
    x = lambda r: left + width * r / scale_max  # noqa: E731
    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">tapstack / Linux kernel '
        "(median of the rounds' ratios)</text>",
    ]
    lx = 10
    for p, t in pins:
        o.append(f'<rect x="{lx}" y="30" width="10" height="10" fill="{colors[p]}"/>')
        o.append(f'<text x="{lx + 14}" y="39">{escape(t)}</text>')
        lx += 30 + 8 * len(t)
    # The kernel's line first, under the bars.
    o.append(
        f'<line x1="{x(1):.1f}" y1="{top - 4}" x2="{x(1):.1f}" y2="{top + group * len(rows)}" '
        'stroke="#555" stroke-dasharray="4 3"/>'
    )
    for i, (key, label, better) in enumerate(rows):
        y0 = top + i * group
        o.append(
            f'<text x="{left - 6}" y="{y0 + group / 2}" text-anchor="end">'
            f"{escape(label)} ({'↑' if better == 'higher' else '↓'})</text>"
        )
        for j, (p, t) in enumerate(pins):
            f = summary[p].get(key)
            if not f:
                continue
            r, lo, hi = f[2], f[3], f[4]
            y = y0 + j * bar
            o.append(
                f'<rect x="{left}" y="{y}" width="{x(r) - left:.1f}" height="{bar - 2}" '
                f'fill="{colors[p]}"><title>{escape(label)}, {escape(t)}: {r:.2f} '
                f"(rounds {lo:.2f}–{hi:.2f})</title></rect>"
            )
            o.append(f'<text x="{x(r) + 4:.1f}" y="{y + bar - 3}" font-size="10">{r:.2f}</text>')
    o.append(f'<text x="{x(1):.1f}" y="{top + group * len(rows) + 14}" text-anchor="middle">1.0</text>')
    o.append(
        f'<text x="10" y="{height - 10}" font-size="11">↑ higher is better for tapstack, '
        "↓ lower is better; 1.0 = the kernel</text>"
    )
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--md")
    ap.add_argument("--svg")
    ap.add_argument("--rounds", default="?")
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--machine", default="this machine")
    ap.add_argument("--note", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--readme", help="also write the README's compact table here")
    args = ap.parse_args()
    if not args.date:
        import datetime

        args.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    summary = summarize(load(args.raw))
    if not any(summary.values()):
        sys.exit("report.py: no complete rounds in " + args.raw)
    print(text_table(summary))
    svg_name = None
    if args.svg:
        with open(args.svg, "w") as f:
            f.write(svg(summary))
        svg_name = args.svg.rsplit("/", 1)[-1]
    if args.readme:
        with open(args.readme, "w") as f:
            f.write(readme_table(summary))
    if args.md:
        with open(args.md, "w") as f:
            f.write(markdown(summary, args, svg_name))
        print("saved", args.md, "and", args.svg or "")


if __name__ == "__main__":
    main()
