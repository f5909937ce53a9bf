#!/usr/bin/env python3
"""render_lesson07.py — turn lesson 07's benchmark results into tables and pictures.

    tools/bench/render_lesson07.py --results DIR --images DIR [--doc docs/benchmarks.md]

Reads DIR/lesson07_reference.json (Google Benchmark JSON of lesson07_bench_reference) and the KV-over-time
files DIR/l07_timeline/<model>_<policy>_<N>.tsv the benchmark wrote. Writes DIR/lesson07_report.md (every
table), DIR/plot/l07_*.dat, and with gnuplot two PNGs into the images folder:
    serving_throughput.png   generated tokens per second against N: continuous and static batching, one at
                             a time, and the batched decode step alone, for each model
    serving_kv_memory.png    KV memory in use over time for the three policies (15M shape, N = 16)
With --doc, replaces the blocks <!-- BEGIN GENERATED: l07_... --> .. <!-- END GENERATED: l07_... --> of that
Markdown file (render.py's update_doc). Standard library only.
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from render import UNIT_S, gnuplot_all, machine, parse_args, publish, write_dat  # noqa: E402

MODELS = ["stories260K", "s15Mshape_gqa"]
LABEL = {"stories260K": "stories260K", "s15Mshape_gqa": "15M-shape GQA 6/2 (random)"}
GOAL_MODEL = "s15Mshape_gqa"
TARGET_VS_STATIC = 2.0    # continuous / static throughput at equal N (issue 14; reported, never asserted)
TARGET_VS_SINGLE = 5.0    # continuous / one at a time
TIMELINE_N = 16           # the N of the KV-over-time picture


class Results:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.context = data.get("context", {})
        self.serve = {}   # (model, policy, n) -> counters; one_at_a_time has n = 1
        self.step = {}    # model -> {n: seconds per step}
        self.errors = []
        for b in data.get("benchmarks", []):
            self._add(b)

    def _add(self, b):
        if b.get("run_type") == "aggregate":
            return
        parts = [p for p in b["name"].split("/") if not p.startswith(("min_time:", "repeats:", "iterations:"))]
        if b.get("error_occurred"):
            self.errors.append((b["name"], b.get("error_message", "")))
            return
        family = parts[0]
        arg = None
        if parts and re.match(r"N:\d+$", parts[-1]):
            arg = int(parts[-1][2:])
        if family == "BM_Serve":
            model, policy = parts[1], parts[2]
            self.serve[(model, policy, arg or 1)] = b
        elif family == "BM_DecodeStep_Batched" and arg:
            self.step.setdefault(parts[1], {})[arg] = b["cpu_time"] * UNIT_S[b.get("time_unit", "ns")]

    def ns(self, model, policy):
        return sorted(n for (m, p, n) in self.serve if m == model and p == policy)

    def get(self, model, policy, n=1):
        return self.serve.get((model, policy, n))


def ms(x):
    return f"{x:,.0f} ms" if x >= 100 else f"{x:,.1f} ms" if x >= 1 else f"{x:.2f} ms"


def seconds(x):
    return f"{x:,.1f} s"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def table_serve(r):
    out = []
    for model in MODELS:
        one = r.get(model, "one_at_a_time")
        rows = []
        if one:
            rows.append(("one at a time (lesson 04)", "1", one))
        for policy, label in (("static", "static batching (lesson 04, padded)"), ("continuous", "continuous batching (engine)")):
            for n in r.ns(model, policy):
                rows.append((label, str(n), r.get(model, policy, n)))
        if not rows:
            continue
        out.append(f"**{LABEL[model]}**: {rows[0][2]['tokens']:,.0f} generated tokens\n")
        out.append("| policy | N | tokens/s | vs one at a time | vs static at N | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | "
                   "KV in use, mean | KV peak | CPU time |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for label, n, b in rows:
            vs_one = f"{b['tok_per_s'] / one['tok_per_s']:.2f}×" if one else "—"
            static = r.get(model, "static", int(n)) if label.startswith("continuous") else None
            vs_static = f"**{b['tok_per_s'] / static['tok_per_s']:.2f}×**" if static else "—"
            out.append(f"| {label} | {n} | {b['tok_per_s']:,.0f} | {vs_one} | {vs_static} | "
                       f"{ms(b['ttft_p50_ms'])} | {ms(b['ttft_p99_ms'])} | {ms(b['tpot_p50_ms'])} | {ms(b['tpot_p99_ms'])} | "
                       f"{b['kv_mean_mib']:.1f} MiB | {b['kv_peak_mib']:.1f} MiB | {seconds(b['seconds'])} |")
        out.append("")
    if not out:
        return "(not run)"
    out.append("The same 256 requests for every row of a model, all arriving at time 0. "
               "Times are CPU time of the benchmark thread since the start of the run: TTFT includes the wait in the "
               "queue; TPOT is a request's (last token − first token) / (tokens − 1). KV in use: one at a time and "
               "static reserve prompt + max_new_tokens (the batch's longest, times N) for as long as they run; the "
               "engine holds the blocks its sequences fill, measured after every step.")
    return "\n".join(out)


def table_steps(r):
    out = []
    for model in MODELS:
        steps = r.step.get(model)
        if not steps:
            continue
        one = steps.get(1)
        out.append(f"**{LABEL[model]}**, every sequence at cache length 256\n")
        out.append("| N | one step | per token | tokens/s | vs N = 1 |")
        out.append("|--:|--:|--:|--:|--:|")
        for n in sorted(steps):
            s = steps[n]
            vs = f"{one / (s / n):.2f}×" if one else "—"
            out.append(f"| {n} | {ms(s * 1e3)} | {ms(s * 1e3 / n)} | {n / s:,.0f} | {vs} |")
        out.append("")
    return "\n".join(out) if out else "(not run)"


def targets(r):
    rows = ["| goal | measured | verdict |", "|---|--:|---|"]
    model = GOAL_MODEL
    one = r.get(model, "one_at_a_time")
    for n in r.ns(model, "continuous"):
        c, s = r.get(model, "continuous", n), r.get(model, "static", n)
        if s:
            ratio = c["tok_per_s"] / s["tok_per_s"]
            rows.append(f"| {LABEL[model]}, N = {n}: continuous ≥ {TARGET_VS_STATIC:.0f}× static batching | "
                        f"{ratio:.2f}× ({c['tok_per_s']:,.0f} vs {s['tok_per_s']:,.0f} tokens/s) | "
                        + ("met" if ratio >= TARGET_VS_STATIC else "missed") + " |")
        if one and s:
            ratio = c["tok_per_s"] / one["tok_per_s"]
            rows.append(f"| {LABEL[model]}, N = {n}: continuous ≥ {TARGET_VS_SINGLE:.0f}× one at a time | "
                        f"{ratio:.2f}× ({c['tok_per_s']:,.0f} vs {one['tok_per_s']:,.0f} tokens/s) | "
                        + ("met" if ratio >= TARGET_VS_SINGLE else "missed") + " |")
    return "\n".join(rows) if len(rows) > 2 else "(not run)"


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------

def read_timeline(path):
    points = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            t, mib = line.split()
            points.append((float(t), float(mib)))
    return points


def plots(r, results_dir, images_dir):
    plot_dir = os.path.join(results_dir, "plot")
    os.makedirs(plot_dir, exist_ok=True)
    os.makedirs(images_dir, exist_ok=True)
    for i, model in enumerate(MODELS):
        ns = sorted(set(r.ns(model, "continuous")) | set(r.ns(model, "static")) | set(r.step.get(model, {})))
        one = r.get(model, "one_at_a_time")
        rows = []
        for n in ns:
            c, s = r.get(model, "continuous", n), r.get(model, "static", n)
            step = r.step.get(model, {}).get(n)
            rows.append((n, c["tok_per_s"] if c else None, s["tok_per_s"] if s else None,
                         one["tok_per_s"] if one else None, n / step if step else None))
        write_dat(os.path.join(plot_dir, f"l07_throughput_{i}.dat"), ["N", "continuous", "static", "one", "decode_step"], rows)
    # KV memory over time, 15M shape at N = TIMELINE_N: a step function, drawn with gnuplot's "steps".
    timeline_dir = os.path.join(results_dir, "l07_timeline")
    for name in ("one_at_a_time", f"static_{TIMELINE_N}", f"continuous_{TIMELINE_N}"):
        path = os.path.join(timeline_dir, f"{GOAL_MODEL}_{name}.tsv")
        points = read_timeline(path) if os.path.exists(path) else []
        write_dat(os.path.join(plot_dir, f"l07_kv_{name.split('_')[0]}.dat"), ["seconds", "kv_mib"], points or [(0.0, None)])

    return gnuplot_all("render_lesson07.py", (("serving_throughput.gp", "serving_throughput.png"),
                                              ("serving_kv_memory.gp", "serving_kv_memory.png")),
                       plot_dir, images_dir, f"; n={TIMELINE_N}")


def main():
    args = parse_args(__doc__)

    r = Results(os.path.join(args.results, "lesson07_reference.json"))
    blocks = {
        "l07_machine": machine(r, args.results),
        "l07_targets": targets(r),
        "l07_serve": table_serve(r),
        "l07_steps": table_steps(r),
    }
    made = plots(r, args.results, args.images)
    publish("render_lesson07.py", r, os.path.join(args.results, "lesson07_report.md"), blocks, made, args.doc,
            "l07_targets")


if __name__ == "__main__":
    main()
