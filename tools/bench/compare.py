#!/usr/bin/env python3
"""compare.py — two Google Benchmark JSON files side by side: the reference and the student's build of
the same benchmark source, matched by benchmark name, with the time ratio student / reference.

    tools/bench/compare.py REFERENCE.json STUDENT.json [--markdown OUT.md]

Standard library only. (Debian's libbenchmark-tools ships Google's compare.py, but its report module
imports scipy for a significance test, which is not installed here, and it has no column for a run
that was skipped with an error — the usual state of a student's build.)
Times are CPU time per run (Google Benchmark's default). A ratio above 1 means the student's code is slower. Benchmarks never pass or fail: this only reports.
"""
import argparse
import json
import sys

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    rows = {}
    for b in data.get("benchmarks", []):
        if not keep(b):
            continue
        rows[b["name"].removesuffix("_median")] = b
    return data.get("context", {}), rows


def keep(b):
    """Repeated benchmarks stand for their median; their mean, stddev and cv are left out."""
    return b.get("run_type") != "aggregate" or b.get("aggregate_name") in ("median", "BigO", "RMS")


def short_name(name):
    # "BM_Decode/stories260K/new_tokens:128/min_time:0.200" -> "BM_Decode/stories260K/new_tokens:128"
    return "/".join(p for p in name.split("/") if not p.startswith(("min_time:", "repeats:")) and p != "real_time")


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def describe(b):
    """(time in ns or None, text) for one benchmark row."""
    if b is None:
        return None, "not run"
    if b.get("error_occurred"):
        return None, "skipped: " + b.get("error_message", "error").replace("|", "\\|")
    if b.get("aggregate_name") == "BigO":
        return None, f"fit {b.get('big_o', '?')}"
    if b.get("aggregate_name") == "RMS":
        return None, f"RMS {100 * b.get('rms', 0):.0f} %"
    ns = b["cpu_time"] * UNIT_NS[b.get("time_unit", "ns")]
    text = fmt_time(ns)
    if "tok/s" in b:
        text += f" ({b['tok/s']:,.0f} tok/s)"
    return ns, text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference")
    ap.add_argument("student")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()

    _, ref = load(args.reference)
    _, stu = load(args.student)
    names = list(ref) + [n for n in stu if n not in ref]

    lines = ["| benchmark | reference | student | student / reference |", "|---|--:|--:|--:|"]
    ratios = []
    for name in names:
        r_ns, r_text = describe(ref.get(name))
        s_ns, s_text = describe(stu.get(name))
        ratio = ""
        if r_ns and s_ns:
            ratio = f"{s_ns / r_ns:.2f}x"
            ratios.append(s_ns / r_ns)
        lines.append(f"| {short_name(name)} | {r_text} | {s_text} | {ratio} |")

    skipped = sum(1 for b in stu.values() if b.get("error_occurred"))
    summary = f"{len(ratios)} benchmarks ran in both builds"
    if ratios:
        geo = 1.0
        for x in ratios:
            geo *= x
        geo **= 1.0 / len(ratios)
        summary += f"; geometric mean of student / reference: {geo:.2f}x"
    if skipped:
        summary += f"; {skipped} skipped in the student build (a stub still throws: see the message)"
    table = "\n".join(lines) + "\n\n" + summary + ".\n"
    sys.stdout.write(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(table)


if __name__ == "__main__":
    main()
