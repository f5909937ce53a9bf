#!/usr/bin/env python3
# progress.py — `./llm progress`: for each lesson, the TODO(step N) markers left in your stub sources and
# how many basic and advanced test cases pass against your code, as one compact table. Builds the dev
# preset's student targets (lesson by lesson, so one that does not compile does not hide the others) and
# runs every case in its own process with the grader's case runner and its verdict (tools/grade/cases.py),
# so "passing" here means what it means in a grade (no sandbox: it is your own code on your own machine).
from __future__ import annotations

import argparse
import concurrent.futures
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradelib as gl  # noqa: E402
from cases import CaseResult, Runner  # noqa: E402
from gradelib import REPO, InfraError, UsageError  # noqa: E402
from sandbox import Limits, Sandbox  # noqa: E402


def step_of(case: str) -> int:
    m = re.match(r"step (\d+)", case)
    return int(m.group(1)) if m else 10_000


def lesson_progress(lesson: gl.Lesson, build_dir: Path, jobs: int, timeout: float) -> dict:
    folder = REPO / "lessons" / lesson.dir
    todos = sum(gl.count_todos(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(folder.glob("*.cpp")))
    todos_at_start = sum(gl.count_todos(gl.pristine_stub(lesson, s).decode("utf-8", "replace")) for s in lesson.stubs)
    row = {"lesson": lesson.name, "todos": todos, "todos_at_start": todos_at_start, "error": "", "suites": {}}
    log = build_dir / "progress" / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    r = gl.build(build_dir, [f"{lesson.name}_student"], jobs, log, 1800)
    if r.rc != 0:
        row["error"] = "does not compile: " + gl.first_error(r.out, {str(REPO) + "/": ""})
        return row
    targets = [f"{lesson.name}_{s}_student" for s in ("basic", "advanced")]
    r = gl.build(build_dir, targets, jobs, log, keep_going=True)
    failed_edges = "\n".join(l for l in r.out.splitlines() if l.startswith("FAILED:"))
    suites = [s for s in ("basic", "advanced") if f"/{lesson.name}_{s}_student" not in failed_edges]
    if r.rc != 0:
        row["error"] = "does not link: " + gl.first_error(r.out, {str(REPO) + "/": ""})
    runner = Runner(Sandbox(False, Limits(cpu_s=timeout)), timeout, gl.model_dir(), build_dir / "progress" / "run")
    for s in suites:
        exe = next((build_dir / "lessons").glob(f"*/{lesson.name}_{s}_student"))
        why, cases = runner.startup(exe)
        if why:
            row["error"] = f"{s} suite {why}"
            continue
        # Without stories260K the cases labelled as needing it are skipped, as ctest would.
        skipped = set(runner.listing(exe, ["--test-suite=model"])[1]) if runner.model is None else set()
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            row["suites"][s] = dict(zip(cases, pool.map(
                lambda c: CaseResult("skipped") if c in skipped else runner.run(exe, c, False), cases)))
    return row


def format_table(rows: list[dict]) -> str:
    table = [("lesson", "TODOs left", "basic", "advanced", "next")]
    notes = []
    for row in rows:
        cells = [row["lesson"], f"{row['todos']} of {row['todos_at_start']}"]
        first_fail = None
        for s in ("basic", "advanced"):
            cases = row["suites"].get(s)
            if cases is None:
                cells.append("-")
                continue
            passed = sum(c.status == "passed" for c in cases.values())
            extra = [f"{n} {w}" for w, n in (("crashed", sum(c.status == "crashed" for c in cases.values())),
                                            ("timed out", sum(c.status == "timeout" for c in cases.values())),
                                            ("skipped", sum(c.status == "skipped" for c in cases.values()))) if n]
            cells.append(f"{passed} / {len(cases)} pass" + (f" ({', '.join(extra)})" if extra else ""))
            failing = [n for n, c in cases.items() if c.status not in ("passed", "skipped")]
            if failing and first_fail is None:
                first_fail = (s, min(failing, key=step_of))
        if row["error"]:
            cells.append(row["error"].split(":")[0] + " (below)")
        elif first_fail:
            cells.append(f"{first_fail[0]}: {first_fail[1]}"[:100])
        elif row["suites"]:
            cells.append("done: every case passes")
        else:
            cells.append("")
        table.append(tuple(cells))
        if row["error"]:
            notes.append(f"{row['lesson']} {row['error']}")
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = []
    for r in table:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths)) + "  " + r[4])
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(line.rstrip() for line in lines) + "\n" + "".join(f"\n{n}" for n in notes) + \
        ("\n" if notes else "")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="llm progress",
                                 description="For each lesson: the TODO(step markers left in your stub sources "
                                             "and the basic and advanced cases passing against your code.",
                                 epilog="Exit status: 0 (whatever your progress), 1 the tools failed, 2 bad input.")
    ap.add_argument("lessons", nargs="*", help="lessons to show (default: all)")
    ap.add_argument("--build-dir", type=Path, default=REPO / "build" / "dev",
                    help="the build folder (default build/dev, the dev preset's)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per test case (default 30)")
    try:
        a = ap.parse_args(argv)
        gl.tool_check()
        build_dir = a.build_dir.resolve()
        if not (build_dir / "build.ninja").is_file():
            if build_dir != (REPO / "build" / "dev").resolve():
                raise UsageError(f"{build_dir} is not a configured build folder")
            r = gl.run(["cmake", "--preset", "dev"], cwd=REPO)
            if r.rc != 0:
                raise InfraError(f"cmake --preset dev failed:\n{gl.first_error(r.out)}")
        lessons = gl.lessons_of(build_dir)
        if a.lessons:
            lessons = [gl.lesson_by_name(lessons, x) for x in a.lessons]
        rows = [lesson_progress(ls, build_dir, gl.cpu_count(), a.timeout) for ls in lessons]
        print(format_table(rows), end="")
        print("\nthe failing cases: ./llm check <lesson> basic   (doctest prints why); "
              "your output against the reference: ./llm compare <lesson>")
        return 0
    except UsageError as e:
        print(f"llm progress: error: {e}", file=sys.stderr)
        return 2
    except InfraError as e:
        print(f"llm progress: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
