#!/usr/bin/env python3
# compare.py — `./llm compare lessonNN`: run the student's code and the reference on the same inputs in two
# processes and show the differences side by side.
#   lesson04: CausalLM on one prompt, config and seed (tools/grade/compare_dump.cpp linked twice): the
#             logits per position, the KV cache sizes and the generated tokens, with the first divergence.
#   others:   named probes, one call into the lesson's code each on seeded inputs
#             (tools/grade/probes_lessonNN.cpp linked twice): per probe, match or the largest difference.
# An unfinished step is reported as such ("your forward() is not implemented yet: lesson04 step 4 ..."),
# a crash or a hang of the student's code by its signal or time, never as a stack trace.
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradelib as gl  # noqa: E402
from gradelib import REPO, InfraError, UsageError  # noqa: E402

STAGES = ("setup", "model", "forward", "generate", "done")
WHAT = {"model": "CausalLM constructor (step 1)", "forward": "forward() (steps 2-5)",
        "generate": "generate() (steps 6-13)"}
MODEL_LESSON = "lesson04"  # the one lesson compared as a whole model; the others by probes


# ---------------------------------------------------------------------------------------------
# Running the two dump programs
# ---------------------------------------------------------------------------------------------

def build(build_dir: Path) -> tuple[Path, Path]:
    if not (build_dir / "build.ninja").is_file():
        r = gl.run(["cmake", "--preset", "dev"], cwd=REPO)
        if r.rc != 0:
            raise InfraError(f"configuring {build_dir} failed:\n{gl.first_error(r.out)}")
    r = gl.run(["cmake", "--build", str(build_dir), "--target", "compare_dump_reference"])
    if r.rc != 0:
        raise InfraError(f"the reference dump program does not build:\n{gl.first_error(r.out)}")
    r = gl.run(["cmake", "--build", str(build_dir), "--target", "compare_dump_student"])
    if r.rc != 0:
        print("your code does not compile yet; the first error:\n  "
              + gl.first_error(r.out, {str(REPO) + "/": ""}))
        print(f"(the whole output: cmake --build {build_dir} --target compare_dump_student)")
        raise SystemExit(1)
    return build_dir / "tools" / "grade" / "compare_dump_student", build_dir / "tools" / "grade" / "compare_dump_reference"


def run_dump(exe: Path, args: list[str], timeout: float) -> dict:
    """{'stages': {name: object}, 'last': last stage printed, 'rc': exit status, 'problem': text or ''}."""
    r = gl.run([str(exe), *args], timeout=timeout)
    stages: dict[str, dict] = {}
    last = None
    for line in r.out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        stages[obj.get("stage", "?")] = obj
        last = obj.get("stage")
    problem = ""
    if "done" not in stages:
        nxt = STAGES[STAGES.index(last) + 1] if last in STAGES[:-1] else "setup"
        where = WHAT.get(nxt, nxt)
        if r.timed_out:
            problem = f"did not finish within {timeout:g} s, in your {where} (an endless loop?)"
        elif r.rc < 0:
            try:
                sig = signal.Signals(-r.rc).name
            except ValueError:
                sig = f"signal {-r.rc}"
            problem = f"crashed with {sig} in your {where}"
        else:
            problem = f"stopped (exit status {r.rc}) in your {where}"
            tail = [l for l in r.out.splitlines() if l.strip() and not l.startswith("{")][-3:]
            if tail:
                problem += ": " + " | ".join(tail)
    return {"stages": stages, "last": last, "rc": r.rc, "problem": problem, "raw": r.out}


def as_float(x) -> float:
    return float(x)  # numbers, or the strings "inf", "-inf", "nan" the dump writes for those


# ---------------------------------------------------------------------------------------------
# Showing the differences
# ---------------------------------------------------------------------------------------------

def stage_problem(side: dict, name: str) -> str | None:
    """None when the stage ran; otherwise what to tell the student."""
    obj = side["stages"].get(name)
    if obj is None:
        return side["problem"] or "did not run (an earlier step failed)"
    status = obj.get("status")
    if status == "ok":
        return None
    what = WHAT.get(name, name)
    if status == "not_implemented":
        return f"your {what.split(' (')[0]} is not implemented yet: {obj.get('message', '')}"
    return f"your {what.split(' (')[0]} threw {obj.get('type', 'an exception')}: {obj.get('message', '')}"


def show_piece(p: str) -> str:
    """A token's text, quoted so leading spaces show: " Once"; BOS's "\n<s>\n" as "<s>"."""
    if p.strip().startswith("<") and p.strip().endswith(">"):
        p = p.strip()
    return json.dumps(p, ensure_ascii=False)


def compare(student: dict, reference: dict, tol: float, out=print) -> bool:
    ok = True
    ref_setup = reference["stages"].get("setup", {})
    if ref_setup.get("status") != "ok" or "done" not in reference["stages"]:
        raise InfraError("the reference run failed, which is not your code's fault:\n"
                         + (ref_setup.get("message") or reference["problem"] or reference["raw"][-2000:]))
    prompt = ref_setup["prompt_ids"]
    pieces = ref_setup.get("prompt_pieces") or []
    out(f"model: {ref_setup['source']} ({ref_setup['config']})")
    out(f"prompt: {len(prompt)} tokens {prompt}"
        + (f" = {' '.join(show_piece(p) for p in pieces)}" if pieces else ""))

    # 1. the model
    problem = stage_problem(student, "model")
    out("\n1. model (step 1): " + ("ok" if problem is None else problem))
    if problem is not None:
        ok = False

    # 2. logits per position
    out(f"\n2. forward(): logits of the prompt, max |yours - reference| per position (tolerance {tol:g})")
    problem = stage_problem(student, "forward")
    ref_fwd = reference["stages"]["forward"]
    if problem is not None:
        out("   " + problem)
        ok = False
    else:
        fwd = student["stages"]["forward"]
        if fwd["logits_shape"] != ref_fwd["logits_shape"]:
            out(f"   logits shape: yours {fwd['logits_shape']}, reference {ref_fwd['logits_shape']}  <- DIFFERENT")
            ok = False
        else:
            out(f"   {'pos':>3}  {'token':<12} {'max|diff|':>10}  {'argmax yours/ref':>16}")
            for t, (mine, ref) in enumerate(zip(fwd["logits"], ref_fwd["logits"])):
                diffs = [abs(as_float(a) - as_float(b)) for a, b in zip(mine, ref)]
                worst = max((d for d in diffs), default=0.0)
                worst = worst if not math.isnan(worst) else float("inf")
                if any(math.isnan(as_float(a)) for a in mine):
                    worst = float("nan")
                am = max(range(len(mine)), key=lambda i: as_float(mine[i]))
                ar = max(range(len(ref)), key=lambda i: as_float(ref[i]))
                bad = not (worst <= tol)
                ok = ok and not bad
                tok = show_piece(pieces[t]) if t < len(pieces) else str(prompt[t])
                out(f"   {t:>3}  {tok[:12]:<12} {worst:>10.3g}  {am:>7} / {ar:<7}" + ("  <- DIFFERENT" if bad else ""))

    # 3. the KV cache after the forward pass
    out("\n3. KV cache after forward(use_cache = true)")
    if problem is None:
        mine, ref = student["stages"]["forward"].get("cache"), ref_fwd.get("cache")
        if mine is None:
            out("   yours: no cache returned (forward must return past_key_values when use_cache is true)  <- DIFFERENT")
            ok = False
        else:
            rows = [("positions cached", "seq_length"), ("layers", "layers"), ("capacity", "capacity"),
                    ("bytes allocated", "bytes_allocated"), ("bytes used", "bytes_used")]
            for label, key in rows:
                same = mine.get(key) == ref.get(key)
                ok = ok and same
                out(f"   {label:<18} yours {mine.get(key)!s:>8}   reference {ref.get(key)!s:>8}"
                    + ("" if same else "  <- DIFFERENT"))
            per_mine = [(x["kv_heads"], x["head_dim"], x["length"]) for x in mine.get("per_layer", [])]
            per_ref = [(x["kv_heads"], x["head_dim"], x["length"]) for x in ref.get("per_layer", [])]
            same = per_mine == per_ref
            ok = ok and same
            out(f"   per layer (kv heads, head_dim, length): yours {sorted(set(per_mine))}, "
                f"reference {sorted(set(per_ref))}" + ("" if same else "  <- DIFFERENT"))
            out("   cache sizes " + ("match" if all(mine.get(k) == ref.get(k) for _, k in rows) and same
                                     else "DIFFER"))
    else:
        out("   (needs forward())")

    # 4. generation
    ref_gen = reference["stages"]["generate"]
    n_new = len(ref_gen["tokens"]) - len(prompt)
    out(f"\n4. generate(): {n_new} new tokens")
    problem_g = stage_problem(student, "generate")
    ref_new = ref_gen["tokens"][len(prompt):]
    ref_pieces = ref_gen.get("pieces") or []
    if problem_g is not None:
        out("   " + problem_g)
        ok = False
        out("   the reference generates: " + (ref_gen.get("text") or " ".join(map(str, ref_new))))
        return ok
    gen = student["stages"]["generate"]
    mine_new = gen["tokens"][len(prompt):] if gen["tokens"][:len(prompt)] == prompt else None
    if mine_new is None:
        out(f"   your output does not start with the prompt: {gen['tokens'][:len(prompt)]} vs {prompt}  <- DIFFERENT")
        return False
    my_pieces = gen.get("pieces") or []
    diverge = next((i for i in range(max(len(mine_new), len(ref_new)))
                    if i >= len(mine_new) or i >= len(ref_new) or mine_new[i] != ref_new[i]), None)

    def cell(tokens, pcs, i):
        if i >= len(tokens):
            return "-"
        return f"{tokens[i]} {show_piece(pcs[i])}" if i < len(pcs) else str(tokens[i])

    out(f"   {'#':>3}  {'yours':<22} {'reference':<22}")
    for i in range(max(len(mine_new), len(ref_new))):
        mark = "" if diverge is None or i < diverge else ("  <- first divergence" if i == diverge else "")
        out(f"   {i:>3}  {cell(mine_new, my_pieces, i):<22} {cell(ref_new, ref_pieces, i):<22}{mark}")
    if diverge is None:
        out(f"   identical: all {len(ref_new)} tokens")
    else:
        ok = False
        out(f"   first divergence at new token {diverge} (sequence position {len(prompt) + diverge}): "
            f"yours {cell(mine_new, my_pieces, diverge)}, reference {cell(ref_new, ref_pieces, diverge)}")
    if gen.get("text") or ref_gen.get("text"):
        out(f"   yours:     {gen.get('text', '')!r}")
        out(f"   reference: {ref_gen.get('text', '')!r}")
    return ok


# ---------------------------------------------------------------------------------------------
# The probe programs (every lesson but lesson 04)
# ---------------------------------------------------------------------------------------------

def probe_programs(lesson: str, build_dir: Path, no_build: bool) -> tuple[Path, Path]:
    base = build_dir / "tools" / "grade"
    student, reference = base / f"compare_probes_{lesson}_student", base / f"compare_probes_{lesson}_reference"
    if no_build:
        return student, reference
    if not (build_dir / "build.ninja").is_file():
        r = gl.run(["cmake", "--preset", "dev"], cwd=REPO)
        if r.rc != 0:
            raise InfraError(f"configuring {build_dir} failed:\n{gl.first_error(r.out)}")
    r = gl.run(["cmake", "--build", str(build_dir), "--target", reference.name])
    if r.rc != 0:
        raise InfraError(f"the reference probe program does not build:\n{gl.first_error(r.out)}")
    r = gl.run(["cmake", "--build", str(build_dir), "--target", student.name])
    if r.rc != 0:
        print("your code does not compile yet; the first error:\n  " + gl.first_error(r.out, {str(REPO) + "/": ""}))
        print(f"(the whole output: cmake --build {build_dir} --target {student.name})")
        raise SystemExit(1)
    return student, reference


def run_probes(exe: Path, timeout: float) -> dict:
    """{'probes': {name: object}, 'order': [names], 'running': probe started without a result, 'problem': ''}."""
    r = gl.run([str(exe)], timeout=timeout)
    probes: dict[str, dict] = {}
    order: list[str] = []
    running = None
    done = False
    for line in r.out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "start" in obj:
            running = obj["start"]
        elif "probe" in obj:
            probes[obj["probe"]] = obj
            order.append(obj["probe"])
            running = None
        elif obj.get("done"):
            done = True
    problem = ""
    if not done:
        if r.timed_out:
            problem = f"did not finish within {timeout:g} s (an endless loop?)"
        elif r.rc < 0:
            try:
                problem = f"crashed with {signal.Signals(-r.rc).name}"
            except ValueError:
                problem = f"crashed with signal {-r.rc}"
        else:
            problem = f"stopped with exit status {r.rc}"
    return {"probes": probes, "order": order, "running": running, "problem": problem, "raw": r.out}


def probe_difference(mine: dict, ref: dict, tol: float) -> str | None:
    """None when the probe's outputs agree; else a short description of the first difference."""
    for key in ("ints", "text"):
        if mine.get(key) != ref.get(key):
            a, b = mine.get(key), ref.get(key)
            if isinstance(a, list) and isinstance(b, list):
                if len(a) != len(b):
                    return f"{len(a)} values, the reference has {len(b)}: yours {a[:12]}, reference {b[:12]}"
                i = next(i for i in range(len(a)) if a[i] != b[i])
                return f"first difference at index {i}: yours {a[i]}, reference {b[i]}"
            return f"yours {a!r}, reference {b!r}"
    a, b = [as_float(x) for x in mine.get("values", [])], [as_float(x) for x in ref.get("values", [])]
    if len(a) != len(b):
        return f"{len(a)} values, the reference has {len(b)}"
    worst, where = 0.0, -1
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue  # equal infinities too
        d = abs(x - y)
        if math.isnan(d):
            d = float("inf")
        if d > worst:
            worst, where = d, i
    if worst <= tol:
        return None
    return f"max |yours - reference| = {worst:.3g} at index {where} (yours {a[where]:.6g}, reference {b[where]:.6g})"


def compare_probes(student: dict, reference: dict, tol: float, out=print) -> bool:
    if reference["problem"] or not reference["order"]:
        raise InfraError("the reference probe program failed, which is not your code's fault:\n"
                         + (reference["problem"] or reference["raw"][-2000:]))
    ok = True
    crashed_at = student["running"] if student["problem"] else None
    out(f"{'step':>4}  {'probe':<64} result")
    for name in reference["order"]:
        ref = reference["probes"][name]
        mine = student["probes"].get(name)
        if mine is None:
            result = (f"your code {student['problem']} here" if name == crashed_at
                      else "did not run (" + (student["problem"] or "missing") + " earlier)" if student["problem"]
                      else "missing from your program's output")
        elif ref["status"] != "ok":
            result = f"(the reference reports {ref['status']}: {ref.get('message', '')}; yours {mine['status']})"
            if mine["status"] == ref["status"]:
                result = f"both refuse: {mine.get('type', '')} {mine.get('message', '')}".strip()
        elif mine["status"] == "not_implemented":
            result = f"not implemented yet: {mine.get('message', '')}"
        elif mine["status"] != "ok":
            result = f"threw {mine.get('type', 'an exception')}: {mine.get('message', '')}"
        else:
            diff = probe_difference(mine, ref, tol)
            result = "MATCH" if diff is None else diff
        good = result == "MATCH" or result.startswith("both refuse")
        ok = ok and good
        out(f"{ref['step']:>4}  {name[:64]:<64} {result}" + ("" if good else "  <- DIFFERENT"))
    return ok


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="llm compare",
        description="Run your lesson code and the reference on the same inputs and show the differences: for "
                    "lesson04 the logits per position, KV cache sizes and generated tokens of one prompt; for the "
                    "other lessons each probe (one call into your code on fixed inputs), matched or not.",
        epilog="Exit status: 0 everything matches, 1 a difference or an unfinished/failing step in your code, "
               "2 bad command line or the tools themselves failed.")
    ap.add_argument("lesson", help="lesson01 .. lesson06")
    ap.add_argument("--build-dir", type=Path, default=REPO / "build" / "dev",
                    help="the build folder (default build/dev, the dev preset's)")
    ap.add_argument("--no-build", action="store_true", help="use the dump programs as they are")
    ap.add_argument("--student-exe", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--reference-exe", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |logit difference| that counts as equal")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed to each program")
    ap.add_argument("--no-model", action="store_true", help="ModelConfig::lesson() with seeded weights")
    ap.add_argument("--model-dir")
    ap.add_argument("-p", "--prompt")
    ap.add_argument("--ids", help="prompt token ids, comma-separated")
    ap.add_argument("-n", type=int, default=24, help="new tokens to generate (default 24)")
    ap.add_argument("--temp", type=float, default=0.0, help="temperature; 0 = greedy (default)")
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("-s", "--seed", type=int, default=42)
    try:
        a = ap.parse_args(argv)
        lesson = gl.lesson_by_name(gl.lessons_of(a.build_dir), a.lesson)
        if lesson.name != MODEL_LESSON:
            if a.student_exe and a.reference_exe:
                student_exe, reference_exe = a.student_exe, a.reference_exe
            else:
                if not a.no_build:
                    gl.tool_check()
                student_exe, reference_exe = probe_programs(lesson.name, a.build_dir, a.no_build)
            for exe in (student_exe, reference_exe):
                if not exe.is_file():
                    raise UsageError(f"{exe} does not exist: this lesson has no probe program, or it is not built "
                                     "(drop --no-build)")
            print(f"{lesson.name} compare: your code (lessons/{lesson.dir}) vs the reference, probe by probe "
                  f"(tolerance {a.tolerance:g})")
            reference = run_probes(reference_exe, a.timeout)
            student = run_probes(student_exe, a.timeout)
            same = compare_probes(student, reference, a.tolerance)
            print("\n" + ("MATCH: your code computes what the reference computes on every probe."
                          if same else "DIFFERENT: see the lines marked above (fix the lowest step first)."))
            return 0 if same else 1
        if a.student_exe and a.reference_exe:
            student_exe, reference_exe = a.student_exe, a.reference_exe
        elif a.no_build:
            base = a.build_dir / "tools" / "grade"
            student_exe, reference_exe = base / "compare_dump_student", base / "compare_dump_reference"
        else:
            gl.tool_check()
            student_exe, reference_exe = build(a.build_dir)
        for exe in (student_exe, reference_exe):
            if not exe.is_file():
                raise UsageError(f"{exe} does not exist (build it, or drop --no-build)")
        args = ["-n", str(a.n), "--temp", f"{a.temp:g}", "--top-k", str(a.top_k), "--top-p", f"{a.top_p:g}",
                "--seed", str(a.seed)]
        if a.no_model:
            args.append("--no-model")
        if a.model_dir:
            args += ["--model-dir", a.model_dir]
        if a.prompt is not None:
            args += ["--prompt", a.prompt]
        if a.ids:
            args += ["--ids", a.ids]
        mode = "greedy" if a.temp <= 0 else f"temperature {a.temp:g}, top-k {a.top_k}, top-p {a.top_p:g}"
        print(f"{lesson.name} compare: your code (lessons/{lesson.dir}) vs the reference; {mode}, seed {a.seed}")
        reference = run_dump(reference_exe, args, a.timeout)
        student = run_dump(student_exe, args, a.timeout)
        same = compare(student, reference, a.tolerance)
        print("\n" + ("MATCH: your code computes what the reference computes on this prompt."
                      if same else "DIFFERENT: see the lines marked above (the first problem is the one to fix)."))
        return 0 if same else 1
    except UsageError as e:
        print(f"llm compare: error: {e}", file=sys.stderr)
        return 2
    except InfraError as e:
        print(f"llm compare: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
