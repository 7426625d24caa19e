#!/usr/bin/env python3
"""Folded stacks and a flame graph from `perf script`, standard library only.

  flame.py fold  < perf-script.txt > folded.txt
      one line per distinct stack: "thread;root;...;leaf COUNT", weighted
      by the sample's period (the time it stands for with -F sampling)
  flame.py svg   [--title T] < folded.txt > flame.svg
      a flame graph: the root at the bottom, a frame's width its share of
      the samples, each frame a <rect> whose <title> (the tooltip) gives
      its name, samples and percentage. Colours by where the code lives:
      red tapstack, yellow libc and other user code, orange the kernel.
  flame.py account [--per N] [--cpu-us U] RULES < folded.txt
      sorts each sample into the first category of RULES (a file of
      "category<TAB>regex" lines, tried in order: the first rule whose regex
      matches any frame of the sample's stack decides) and prints
      each category's share; with --cpu-us (the CPU time the samples stand
      for) and --per (how many units, e.g. segments), the microseconds per
      unit as well.
"""

import argparse
import re
import sys
import zlib
from xml.sax.saxutils import escape

# Frames every stack thread has (panic guards, closures calling closures):
# dropped from the stacks, they only make the graph taller.
NOISE = re.compile(
    r"^(std::panicking::|std::panic::catch_unwind|<core::panic::unwind_safe::"
    r"|core::ops::function::FnOnce::call_once|std::sys::backtrace::__rust_begin"
    r"|std::thread::lifecycle::|<alloc::boxed::Box<dyn core::ops::function::FnOnce)"
)
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")


def clean(sym, dso):
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    if sym == "[unknown]":
        sym = "[" + dso.rsplit("/", 1)[-1] + "]"
    # Rust's hash suffix and generic noise make names long without helping.
    sym = re.sub(r"::h[0-9a-f]{16}$", "", sym)
    if "kernel.kallsyms" in dso or dso.startswith("[kernel"):
        sym += "_[k]"
    elif "libtapstack" in dso:
        sym += "_[t]"
    return sym.replace(";", ",")


def fold(inp, out):
    stacks = {}
    head, frames, pending = None, [], []

    def flush():
        if head is not None:
            key = ";".join([head[0]] + frames[::-1])
            stacks[key] = stacks.get(key, 0) + head[1]

    for line in inp:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            head, frames, pending = None, [], []
            continue
        if not line[0].isspace():
            # "comm pid/tid [cpu] time: period event:"
            m = re.match(r"^(.+?)\s+\d+(?:/\d+)?\s.*?:\s+(\d+)\s+\S+:", line)
            comm = line.split()[0] if not m else m.group(1).strip()
            period = int(m.group(2)) if m else 1
            head, frames = (comm, period), []
            continue
        m = FRAME.match(line)
        if m:
            sym, dso = m.group(2), m.group(3)
            if dso == "inlined":
                # Its code lives where the next real frame (its caller) does.
                pending.append(sym)
                continue
            for inl in pending:
                if not NOISE.match(inl):
                    frames.append(clean(inl, dso))
            pending.clear()
            if not NOISE.match(sym):
                frames.append(clean(sym, dso))
    flush()
    for key, n in sorted(stacks.items()):
        out.write(f"{key} {n}\n")


def read_folded(inp):
    for line in inp:
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        yield stack.split(";"), int(n)


def color(name):
    h = zlib.crc32(name.encode()) % 1000 / 1000
    if name.endswith("_[k]"):
        return f"rgb({230 + int(h * 25)},{120 + int(h * 60)},{40 + int(h * 30)})"
    if name.endswith("_[t]"):
        return f"rgb({210 + int(h * 45)},{60 + int(h * 60)},{50 + int(h * 30)})"
    return f"rgb({220 + int(h * 35)},{190 + int(h * 50)},{50 + int(h * 40)})"


def svg(inp, out, title):
    # The tree: each node {name: [count, children]}.
    root = [0, {}]
    for stack, n in read_folded(inp):
        root[0] += n
        node = root
        for name in stack:
            child = node[1].setdefault(name, [0, {}])
            child[0] += n
            node = child
    total = root[0] or 1
    width, row, pad = 1200, 16, 10

    def depth(node):
        return 1 + max((depth(c) for c in node[1].values()), default=0)

    rows = depth(root)
    height = rows * row + 60
    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="#fdfdf6"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15" '
        f'font-family="sans-serif">{escape(title)}</text>',
        f'<text x="{pad}" y="{height - 8}" font-family="sans-serif">'
        "width = share of the samples; red tapstack, orange the kernel ([k]), yellow "
        "other user code; hover a frame for its numbers</text>",
    ]
    scale = (width - 2 * pad) / total

    def draw(name, node, x, level):
        w = node[0] * scale
        if w < 0.3:
            return
        y = height - 30 - (level + 1) * row
        label = name.removesuffix("_[t]")
        pct = 100 * node[0] / total
        o.append(
            f'<g><title>{escape(label)} ({node[0]} samples, {pct:.2f} %)</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{row - 1}" '
            f'fill="{color(name)}" rx="2"/>'
        )
        chars = int((w - 4) / 6.6)
        if chars >= 3:
            text = label if len(label) <= chars else label[: chars - 2] + ".."
            o.append(f'<text x="{x + 2:.2f}" y="{y + row - 4}">{escape(text)}</text>')
        o.append("</g>")
        cx = x
        for cname, child in sorted(node[1].items()):
            draw(cname, child, cx, level + 1)
            cx += child[0] * scale

    draw("all", root, pad, 0)
    o.append("</svg>")
    out.write("\n".join(o) + "\n")


def account(inp, out, rules_path, per, cpu_us):
    rules = []
    with open(rules_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                cat, _, rx = line.partition("\t")
                rules.append((cat, re.compile(rx.strip())))
    cats, order, total = {}, [c for c, _ in rules] + ["other"], 0
    for stack, n in read_folded(inp):
        total += n
        cat = next((c for c, rx in rules if any(rx.search(f) for f in stack)), "other")
        cats[cat] = cats.get(cat, 0) + n
    total = total or 1
    seen = []
    for c in order:
        if c in cats and c not in seen:
            seen.append(c)
    out.write("| where the time goes | share | µs per unit |\n| --- | ---: | ---: |\n")
    for c in seen:
        share = cats[c] / total
        us = f"{share * cpu_us / per:.2f}" if per and cpu_us else ""
        out.write(f"| {c} | {100 * share:.1f} % | {us} |\n")
    if per and cpu_us:
        out.write(f"| **all** | 100 % | **{cpu_us / per:.2f}** |\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["fold", "svg", "account"])
    ap.add_argument("rules", nargs="?")
    ap.add_argument("--title", default="flame graph")
    ap.add_argument("--per", type=float, default=0)
    ap.add_argument("--cpu-us", type=float, default=0)
    a = ap.parse_args()
    if a.mode == "fold":
        fold(sys.stdin, sys.stdout)
    elif a.mode == "svg":
        sys.setrecursionlimit(10000)
        svg(sys.stdin, sys.stdout, a.title)
    else:
        if not a.rules:
            sys.exit("account needs a RULES file")
        account(sys.stdin, sys.stdout, a.rules, a.per, a.cpu_us)


if __name__ == "__main__":
    main()
