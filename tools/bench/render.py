#!/usr/bin/env python3
"""render.py — turn the lesson-04 benchmark results into tables and pictures.

    tools/bench/render.py --results DIR --images DIR [--doc docs/benchmarks.md]

Reads DIR/reference.json (Google Benchmark JSON of lesson04_bench_reference), DIR/kv_memory.tsv and
DIR/kv_memory.md (lesson04_kv_memory_table), DIR/machine.txt (written by run_benchmarks.sh) and, when
present, DIR/llama2c.md (tools/bench/vs_llama2c.py: the reference against llama2.c's run.c).
Writes DIR/report.md (every table), DIR/plot/*.dat, and with gnuplot three PNGs into the images folder:
    decode_step_vs_position.png   one decode step, with and without the cache, against the cache length
    generation_vs_new_tokens.png  whole generations against the number of new tokens, and the speedup
    kv_cache_memory.png           KV-cache bytes for MHA / GQA / MQA at 512, 4k and 32k positions
With --doc, replaces each block between <!-- BEGIN GENERATED: key --> and <!-- END GENERATED: key -->
in that Markdown file by the table of the same key, so the page always shows the last measured run.
Standard library only; only figures found in the JSON are printed.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
MODELS = ["stories260K", "s15Mshape_mha", "s15Mshape_gqa"]
LABEL = {
    "stories260K": "stories260K",
    "s15Mshape_mha": "15M-shape MHA (random)",
    "s15Mshape_gqa": "15M-shape GQA 6/2 (random)",
}
# The targets of the issue (reported, never asserted).
TARGET_SPEEDUP = 150.0
TARGET_GROWTH_SLACK = 1.20
TARGET_DECODE_TOKS = 10000.0


# ---------------------------------------------------------------------------------------------
# Reading the JSON
# ---------------------------------------------------------------------------------------------

class Results:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.context = data.get("context", {})
        self.gen = {}      # (model, "KVCache"|"NoCache") -> {N: seconds}
        self.gen_toks = {} # same keys -> {N: tok/s}
        self.kv_bytes = {} # model -> {N: bytes}
        self.bigo = {}     # (model, mode) -> (big_o, rms)
        self.prefill = {}  # model -> {prompt: (seconds, tok/s)}
        self.decode = {}   # model -> {n: (seconds, tok/s)}
        self.step = {}     # (model, mode) -> {p: seconds}
        self.errors = []   # (name, message)
        for b in data.get("benchmarks", []):
            self._add(b)

    def _add(self, b):
        # Repeated benchmarks stand for their median ("..._median"); mean, stddev and cv are left out.
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") not in ("median", "BigO", "RMS"):
            return
        parts = [p for p in b["name"].removesuffix("_median").split("/") if not p.startswith(("min_time:", "repeats:")) and p != "real_time"]
        family, model = parts[0], parts[1] if len(parts) > 1 else ""
        if b.get("error_occurred"):
            self.errors.append((b["name"], b.get("error_message", "")))
            return
        if b.get("aggregate_name") in ("BigO", "RMS"):
            model = model.replace("_BigO", "").replace("_RMS", "")
            mode = family.split("_")[-1]
            big_o, rms = self.bigo.get((model, mode), ("", None))
            if b["aggregate_name"] == "BigO":
                big_o = b.get("big_o", "")
            else:
                rms = b.get("rms")
            self.bigo[(model, mode)] = (big_o, rms)
            return
        m = re.match(r"(\w+):(\d+)$", parts[2]) if len(parts) > 2 else None
        if not m:
            return
        arg = int(m.group(2))
        seconds = b["cpu_time"] * UNIT_S[b.get("time_unit", "ns")]
        toks = b.get("tok/s")
        if family.startswith("BM_Generate_"):
            mode = family.split("_")[-1]
            self.gen.setdefault((model, mode), {})[arg] = seconds
            self.gen_toks.setdefault((model, mode), {})[arg] = toks
            if mode == "KVCache" and "kv_bytes" in b:
                self.kv_bytes.setdefault(model, {})[arg] = b["kv_bytes"]
        elif family == "BM_Prefill":
            self.prefill.setdefault(model, {})[arg] = (seconds, toks)
        elif family == "BM_Decode":
            self.decode.setdefault(model, {})[arg] = (seconds, toks)
        elif family.startswith("BM_DecodeStep_"):
            self.step.setdefault((model, family.split("_")[-1]), {})[arg] = seconds

    def macs(self, model):
        """(weights, per attended key) multiply-adds of one decode step, from the JSON context."""
        text = self.context.get(f"decode MACs {model}", "")
        m = re.match(r"weights (\d+), per attended key (\d+)", text)
        return (int(m.group(1)), int(m.group(2))) if m else None


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------

def ms(seconds):
    return f"{seconds * 1e3:,.3g} ms" if seconds < 1 else f"{seconds:,.2f} s"


def us(seconds):
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def num(x):
    return f"{x:,.0f}"


def slope(points, a, b):
    """log-log slope between two x values: the local exponent k of t ~ N^k."""
    if a in points and b in points and points[a] > 0 and points[b] > 0:
        return math.log(points[b] / points[a]) / math.log(b / a)
    return None


def kib(x):
    return f"{x / 1024:,.1f} KiB" if x < 1024 * 1024 else f"{x / 1024 / 1024:,.2f} MiB"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def table_generation(r):
    out = []
    for model in MODELS:
        cached, uncached = r.gen.get((model, "KVCache"), {}), r.gen.get((model, "NoCache"), {})
        if not cached and not uncached:
            continue
        out.append(f"**{LABEL[model]}** — greedy, from a 1-token BOS prompt\n")
        out.append("| new tokens | with KV cache | tok/s | KV cache | without cache | tok/s | speedup |")
        out.append("|--:|--:|--:|--:|--:|--:|--:|")
        for n in sorted(set(cached) | set(uncached)):
            c, u = cached.get(n), uncached.get(n)
            ct, ut = r.gen_toks[(model, "KVCache")].get(n) if c else None, r.gen_toks[(model, "NoCache")].get(n) if u else None
            kv = r.kv_bytes.get(model, {}).get(n)
            out.append("| {} | {} | {} | {} | {} | {} | {} |".format(
                n, ms(c) if c else "—", num(ct) if ct else "—", kib(kv) if kv else "—",
                ms(u) if u else "—", num(ut) if ut else "—", f"**{u / c:,.0f}×**" if c and u else "—"))
        fits = []
        for mode, what in (("KVCache", "with the cache"), ("NoCache", "without")):
            big_o, rms = r.bigo.get((model, mode), ("", None))
            pts = r.gen.get((model, mode), {})
            ns = sorted(pts)
            s = f"{what}: "
            if big_o:
                s += f"Google Benchmark's best fit O({big_o})" + (f" (RMS {rms * 100:.0f} %)" if rms is not None else "")
            if len(ns) >= 4:
                k_lo, k_hi = slope(pts, ns[0], ns[2]), slope(pts, ns[-2], ns[-1])
                s += (f"; local exponent k of t ∝ N^k: {k_lo:.2f} from {ns[0]} to {ns[2]} tokens, "
                      f"{k_hi:.2f} from {ns[-2]} to {ns[-1]}")
            fits.append(s)
        out.append("\nComplexity — " + "; ".join(fits) + ".\n")
    return "\n".join(out)


def table_split(r):
    out = ["| model | pp128 (prefill 128 tokens) | pp512 (prefill 512 tokens) | tg128 (decode 128 tokens) |",
           "|---|--:|--:|--:|"]
    for model in MODELS:
        pp, tg = r.prefill.get(model, {}), r.decode.get(model, {})
        if not pp and not tg:
            continue
        cells = []
        for d, k in ((pp, 128), (pp, 512), (tg, 128)):
            cells.append(f"{num(d[k][1])} tok/s ({ms(d[k][0])})" if k in d and d[k][1] else "—")
        out.append(f"| {LABEL[model]} | " + " | ".join(cells) + " |")
    out.append("\npp: one forward of the whole prompt into an empty cache (batched matrix-matrix products). "
               "tg: 128 forwards of one token each on the growing cache, from an empty one, feeding back the "
               "argmax. Same definitions as llama.cpp's llama-bench.")
    return "\n".join(out)


def table_steps(r):
    out = []
    for model in MODELS:
        c, u = r.step.get((model, "KVCache"), {}), r.step.get((model, "NoCache"), {})
        if not c and not u:
            continue
        macs = r.macs(model)
        out.append(f"**{LABEL[model]}**\n")
        out.append("| cache length p | with cache | without (forward of p+1 tokens) | ratio | "
                   "cached time vs p=16 | decode FLOPs vs p=16 |")
        out.append("|--:|--:|--:|--:|--:|--:|")
        base_p = min(c) if c else None
        for p in sorted(set(c) | set(u)):
            grow = f"{c[p] / c[base_p]:.2f}×" if p in c and base_p else "—"
            flop = "—"
            if macs and base_p:
                w, k = macs
                flop = f"{(w + k * (p + 1)) / (w + k * (base_p + 1)):.2f}×"
            out.append("| {} | {} | {} | {} | {} | {} |".format(
                p, us(c[p]) if p in c else "—", us(u[p]) if p in u else "—",
                f"{u[p] / c[p]:,.0f}×" if p in c and p in u else "—", grow, flop))
        out.append("")
    return "\n".join(out)


def targets(r):
    rows = ["| target | measured | verdict |", "|---|--:|---|"]
    model = "stories260K"
    c, u = r.gen.get((model, "KVCache"), {}), r.gen.get((model, "NoCache"), {})
    n = 511
    if n in c and n in u:
        s = u[n] / c[n]
        verdict = "met" if s >= TARGET_SPEEDUP else f"missed: {s / TARGET_SPEEDUP * 100:.0f} % of {TARGET_SPEEDUP:.0f}×"
        rows.append(f"| stories260K, {n} new tokens, cached ≥ {TARGET_SPEEDUP:.0f}× faster than full recomputation "
                    f"| {s:,.0f}× ({ms(c[n])} vs {ms(u[n])}) | {verdict} |")
    st = r.step.get((model, "KVCache"), {})
    macs = r.macs(model)
    if 16 in st and 500 in st and macs:
        w, k = macs
        flop = (w + k * 501) / (w + k * 17)
        grow = st[500] / st[16]
        limit = flop * TARGET_GROWTH_SLACK
        verdict = "met" if grow <= limit else f"missed: {grow / limit:.2f}× more growth than allowed"
        rows.append(f"| stories260K cached decode step, position 16 → 500, grows ≤ FLOPs ({flop:.2f}×) + 20 % = {limit:.2f}× "
                    f"| {grow:.2f}× ({us(st[16])} → {us(st[500])}) | {verdict} |")
    toks = r.gen_toks.get((model, "KVCache"), {}).get(n)
    tg = r.decode.get(model, {}).get(128)
    if toks:
        verdict = "met" if toks >= TARGET_DECODE_TOKS else f"missed: {toks / TARGET_DECODE_TOKS * 100:.0f} % of {num(TARGET_DECODE_TOKS)} tok/s"
        extra = f"; tg128 {num(tg[1])} tok/s" if tg and tg[1] else ""
        rows.append(f"| reference decode ≥ {num(TARGET_DECODE_TOKS)} tok/s single-threaded (generate {n} tokens, cached) "
                    f"| {num(toks)} tok/s{extra} | {verdict} |")
    return "\n".join(rows)


def machine(r, results_dir):
    lines = []
    path = os.path.join(results_dir, "machine.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            lines += [f"- {line.strip()}" for line in f if line.strip()]
    ctx = r.context
    if ctx:
        lines.append(f"- Google Benchmark: run {ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs at "
                     f"{ctx.get('mhz_per_cpu', '?')} MHz, load average at start "
                     f"{', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}, library build type "
                     f"'{ctx.get('library_build_type', '?')}' (Debian's libbenchmark1debian 1.7.1; the flag concerns "
                     "the library's own bookkeeping, not the code measured)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------

def write_dat(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# " + "\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join("NaN" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row) + "\n")


def plots(r, results_dir, images_dir):
    plot_dir = os.path.join(results_dir, "plot")
    os.makedirs(plot_dir, exist_ok=True)
    os.makedirs(images_dir, exist_ok=True)
    for model in MODELS:
        c, u = r.step.get((model, "KVCache"), {}), r.step.get((model, "NoCache"), {})
        macs = r.macs(model)
        base = min(c) if c else None
        rows = []
        for p in sorted(set(c) | set(u)):
            flop = None
            if macs and base:
                w, k = macs
                flop = c[base] * (w + k * (p + 1)) / (w + k * (base + 1)) * 1e6
            rows.append((p, c[p] * 1e6 if p in c else None, u[p] * 1e6 if p in u else None, flop))
        write_dat(os.path.join(plot_dir, f"step_{model}.dat"), ["p", "cached_us", "uncached_us", "flop_model_us"], rows)
        gc, gu = r.gen.get((model, "KVCache"), {}), r.gen.get((model, "NoCache"), {})
        rows = [(n, gc[n] * 1e3 if n in gc else None, gu[n] * 1e3 if n in gu else None,
                 gu[n] / gc[n] if n in gc and n in gu else None) for n in sorted(set(gc) | set(gu))]
        write_dat(os.path.join(plot_dir, f"gen_{model}.dat"), ["new_tokens", "cached_ms", "uncached_ms", "speedup"], rows)

    # KV memory: one row per (model, context), columns MHA GQA MQA in MiB (fp16).
    tsv = os.path.join(results_dir, "kv_memory.tsv")
    if os.path.exists(tsv):
        table = {}
        order = []
        with open(tsv, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                model, attention, _, context, _, fp16 = line.rstrip("\n").split("\t")
                key = (model.strip('"'), int(context))
                if key not in table:
                    order.append(key)
                    table[key] = {}
                table[key][attention] = int(fp16) / 1024 / 1024
        ctx_name = {512: "512", 4096: "4k", 32768: "32k"}
        short = {"stories260K": "stories260K", "lesson config": "lesson", "Qwen2.5-0.5B": "Qwen2.5\\n0.5B"}
        rows = [(f'"{short.get(m, m)}\\n{ctx_name.get(c, c)}"', table[(m, c)].get("MHA"), table[(m, c)].get("GQA"),
                 table[(m, c)].get("MQA")) for (m, c) in order]
        write_dat(os.path.join(plot_dir, "kv_memory.dat"), ["label", "MHA_MiB", "GQA_MiB", "MQA_MiB"], rows)

    return gnuplot_all("render.py", (("decode_step.gp", "decode_step_vs_position.png"),
                                     ("generation.gp", "generation_vs_new_tokens.png"),
                                     ("kv_memory.gp", "kv_cache_memory.png")), plot_dir, images_dir)


def gnuplot_all(who, jobs, plot_dir, images_dir, extra=""):
    """Runs each (script, picture) of `jobs` with gnuplot on the .dat files of plot_dir; returns the pictures
    made (a failing script is reported on stderr and skipped: the tables still reach the page)."""
    made = []
    for script, out in jobs:
        target = os.path.join(images_dir, out)
        cmd = ["gnuplot", "-e", f"datadir='{plot_dir}'; out='{target}'{extra}", os.path.join(HERE, script)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.stderr.write(f"{who}: gnuplot {script} failed:\n{res.stderr}")
        else:
            made.append(target)
    return made


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

def update_doc(doc, blocks):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    for key, body in blocks.items():
        pattern = re.compile(r"(<!-- BEGIN GENERATED: %s -->\n).*?(<!-- END GENERATED: %s -->)" % (key, key), re.S)
        text, n = pattern.subn(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)
        if n == 0:
            sys.stderr.write(f"render.py: {doc} has no block '{key}'; left as it is\n")
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text)


def parse_args(doc):
    """The renderers' command line: --results DIR --images DIR [--doc PAGE]; doc's first line is the help."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--doc")
    return ap.parse_args()


def publish(who, r, report, blocks, made, doc, targets_key):
    """The end of every renderer: say which reference benchmarks were skipped, write every table into
    `report`, replace the page's generated blocks (doc), and print what was made and the targets table."""
    if r.errors:
        sys.stderr.write(f"{who}: {len(r.errors)} reference benchmarks were skipped, e.g. {r.errors[0][0]}: "
                         f"{r.errors[0][1]}\n")
    with open(report, "w", encoding="utf-8") as f:
        for key, body in blocks.items():
            f.write(f"## {key}\n\n{body.rstrip()}\n\n")
    if doc:
        update_doc(doc, blocks)
    print(f"{who}: tables in {report}" + (f", page {doc} updated" if doc else ""))
    for m in made:
        print(f"{who}: picture {m}")
    print()
    print(blocks[targets_key])


def main():
    args = parse_args(__doc__)

    r = Results(os.path.join(args.results, "reference.json"))
    blocks = {
        "machine": machine(r, args.results),
        "targets": targets(r),
        "generation": table_generation(r),
        "split": table_split(r),
        "steps": table_steps(r),
    }
    mem = os.path.join(args.results, "kv_memory.md")
    if os.path.exists(mem):
        with open(mem, encoding="utf-8") as f:
            blocks["memory"] = f.read()
    # Written by tools/bench/vs_llama2c.py when run_benchmarks.sh was given LLAMA2C_RUN; without it the
    # page keeps the last such table (and says when and how it was measured).
    vs = os.path.join(args.results, "llama2c.md")
    if os.path.exists(vs):
        with open(vs, encoding="utf-8") as f:
            blocks["llama2c"] = f.read()
    made = plots(r, args.results, args.images)
    publish("render.py", r, os.path.join(args.results, "report.md"), blocks, made, args.doc, "targets")


if __name__ == "__main__":
    main()
