#!/usr/bin/env python3
"""Turns criterion results into the ratio tables of BENCHMARKS.md.

Every benchmark group measures a `baseline_*` function next to the contenders, with the
same parameter (size, store size...). This prints, per group and parameter, each
contender's median time and its ratio to that baseline (1.00x = as fast as the baseline,
2.00x = takes twice as long).

Usage: python3 benches/report.py [target/criterion]
"""
import json
import pathlib
import sys
from collections import defaultdict

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = defaultdict(dict)  # (group, param) -> {function: (median_ns, throughput)}
for bench in root.glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    median = est["median"]["point_estimate"]
    key = (meta["group_id"], meta.get("value_str") or "")
    rows[key][meta["function_id"]] = (median, meta.get("throughput"))


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(ns, tp):
    if not tp:
        return ""
    if "Bytes" in tp:
        return f"{tp['Bytes'] / (ns / 1e9) / 2**20:,.0f} MiB/s"
    if "Elements" in tp:
        return f"{tp['Elements'] / (ns / 1e9):,.0f} /s"
    return ""


def sort_key(k):
    group, param = k
    units = {"B": 1, "KiB": 1024, "MiB": 2**20}
    for u in ("MiB", "KiB", "B"):
        if param.endswith(u) and param[: -len(u)].isdigit():
            return (group, int(param[: -len(u)]) * units[u])
    return (group, int(param) if param.isdigit() else 0)


current = None
for key in sorted(rows, key=sort_key):
    group, param = key
    fns = rows[key]
    if group != current:
        current = group
        print(f"\n### {group}\n")
        print("| param | function | median | throughput | vs baseline |")
        print("|---|---|---|---|---|")
    base = [v for f, v in fns.items() if f.startswith("baseline")]
    base_ns = base[0][0] if base else None
    for fn in sorted(fns, key=lambda f: (not f.startswith("baseline"), f)):
        ns, tp = fns[fn]
        ratio = f"{ns / base_ns:.2f}x" if base_ns else "n/a"
        print(f"| {param} | {fn} | {fmt_time(ns)} | {fmt_rate(ns, tp)} | {ratio} |")
