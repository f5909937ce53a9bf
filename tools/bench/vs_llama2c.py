#!/usr/bin/env python3
"""vs_llama2c.py — the reference against llama2.c's run.c on the same prompt, positions and model,
timed as whole processes in alternation (pairs), so that whatever else runs on the machine slows both.

    tools/bench/vs_llama2c.py --llama2c /path/to/run [--generate build/release/tools/generate]
                              [--model-dir DIR] [--prompt TEXT] [--positions 342] [--pairs 21] [--runs 4]
                              [--out FILE.md]

run.c is not part of this repository: build it yourself, outside it (docs/benchmarks.md says how). Both
programs decode greedily and stop at BOS. llama2.c's -n is the number of positions it forwards, and
each forward chooses the token after it, so it prints positions - (prompt - 1) new tokens; ours counts
new tokens, so `generate -n` is that number and both run the model over the same positions. The script
checks that both print the same text before it times anything.

Measured per pair: the wall time of each whole process (start-up, loading, prompt, generation, exit),
its CPU time (user + system, from the kernel's accounting of finished children: on a busy machine it
leaves out the time spent waiting for a core), and each program's own decode rate (llama2.c's "achieved tok/s", measured from its second position on;
ours "decode ... tok/s", from the second new token on). Reported per run: the medians, and the medians
of the per-pair ratios (llama2.c's time over ours, our rate over llama2.c's). Standard library only; writes a Markdown table to --out (the page's "llama2c"
block, docs/benchmarks.md) when given.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def model_dir(given):
    """--model-dir, else the project's one search order (tools/grade/gradelib.py reads
    common/model_search_path.txt, as llm::find_model() does)."""
    if given:
        return given
    sys.path.insert(0, os.path.join(ROOT, "tools", "grade"))
    import gradelib  # noqa: E402 (standard library only, like this script)
    found = gradelib.model_dir()
    if found is None:
        sys.exit("vs_llama2c.py: stories260K not found (--model-dir, $LLM_MODEL_DIR or "
                 "common/model_search_path.txt's folders; ./llm model downloads it)")
    return str(found)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd):
    """Runs cmd to its end: (wall seconds, CPU seconds (user + system), stdout, stderr)."""
    cpu0, start = cpu_seconds(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    if p.returncode != 0:
        sys.exit(f"vs_llama2c.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return seconds, cpu, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama2c", required=True, help="llama2.c's run binary, built outside this repository")
    ap.add_argument("--generate", default=os.path.join(ROOT, "build", "release", "tools", "generate"))
    ap.add_argument("--model-dir")
    ap.add_argument("--prompt", default="Once upon a time")
    ap.add_argument("--positions", type=int, default=342, help="positions in all, prompt included (llama2.c's -n)")
    ap.add_argument("--pairs", type=int, default=21)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--out", help="write the Markdown table here")
    a = ap.parse_args()
    m = model_dir(a.model_dir)
    ckpt, tok = os.path.join(m, "stories260K.bin"), os.path.join(m, "tok512.bin")
    theirs = [a.llama2c, ckpt, "-z", tok, "-t", "0", "-n", str(a.positions), "-i", a.prompt]
    _, _, l_out, _ = run(theirs)
    # Our prompt length in tokens, from a 0-token run's report, gives -n = positions - prompt.
    _, _, _, err = run([a.generate, "--model-dir", m, "-p", a.prompt, "-n", "0", "--temp", "0"])
    prompt_tokens = int(re.search(r"prompt (\d+) tokens", err).group(1))
    new_tokens = a.positions - (prompt_tokens - 1)
    ours = [a.generate, "--model-dir", m, "-p", a.prompt, "-n", str(new_tokens), "--temp", "0"]
    _, _, o_out, _ = run(ours)
    if o_out.rstrip("\n") != l_out.rstrip("\n"):
        sys.exit("vs_llama2c.py: the two programs print different text; nothing timed")

    rows = []
    for r in range(a.runs):
        tw, lw, td, ld, wr, dr, cr = [], [], [], [], [], [], []
        for _ in range(a.pairs):
            lsec, lcpu, _, lerr = run(theirs)
            osec, ocpu, _, oerr = run(ours)
            l_rate = float(re.search(r"achieved tok/s: ([0-9.]+)", lerr).group(1))
            o_rate = float(re.search(r"decode ([0-9.]+) tok/s", oerr).group(1))
            tw.append(osec), lw.append(lsec), td.append(o_rate), ld.append(l_rate)
            wr.append(lsec / osec), dr.append(o_rate / l_rate), cr.append(lcpu / ocpu)
        med = statistics.median
        rows.append((med(lw) * 1e3, med(tw) * 1e3, med(wr), med(cr), med(ld), med(td), med(dr)))
        print(f"run {r + 1}: whole process llama2.c {rows[-1][0]:.1f} ms, ours {rows[-1][1]:.1f} ms "
              f"({rows[-1][2]:.2f}x wall, {rows[-1][3]:.2f}x CPU time); decode llama2.c {rows[-1][4]:,.0f} tok/s, "
              f"ours {rows[-1][5]:,.0f} tok/s ({rows[-1][6]:.2f}x)", flush=True)

    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    lines = [f"Prompt \"{a.prompt}\" ({prompt_tokens} tokens with BOS), {a.positions} positions in all, greedy, "
             f"stories260K, {new_tokens} new tokens; {a.pairs} pairs per run, each pair llama2.c then ours, whole processes timed from "
             f"outside; load average after the runs {' '.join(load)}.",
             "",
             "| run | whole process llama2.c | ours | ratio, wall | ratio, CPU time | decode llama2.c | ours | ratio |",
             "|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for i, (lwm, twm, wrm, crm, ldm, tdm, drm) in enumerate(rows, 1):
        lines.append(f"| {i} | {lwm:.1f} ms | {twm:.1f} ms | **{wrm:.2f}×** | {crm:.2f}× | {ldm:,.0f} tok/s | "
                     f"{tdm:,.0f} tok/s | **{drm:.2f}×** |")
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(table)


if __name__ == "__main__":
    main()
