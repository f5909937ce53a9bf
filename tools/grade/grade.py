#!/usr/bin/env python3
# grade.py — `./llm grade`: grade a student's submission against the official tests, read top to bottom:
#   1. find the submission and its stub files          (submission.py)
#   2. stage them into a build slot and build          (build.py; student sources compile in a sandbox)
#   3. refuse code a lesson never needs                (symbols.py: nm/objdump on the student's objects)
#   4. run every case in its own sandboxed process     (cases.py + sandbox.py: bubblewrap and rlimits)
#   5. score from positive evidence, write the results (report.py: report.txt, junit.xml, results.json)
# --batch grades a folder of submissions (summary.csv); --gradescope-bundle builds Gradescope's autograder.
# The repository is never modified. docs/grading.md is the instructor's guide and the threat model.
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import queue
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradelib as gl  # noqa: E402
import report as rp  # noqa: E402
import submission as sb  # noqa: E402
import symbols  # noqa: E402
from build import Slot  # noqa: E402
from cases import CaseResult, Runner  # noqa: E402
from gradelib import REPO, InfraError, Lesson, UsageError  # noqa: E402
from sandbox import Limits, Sandbox  # noqa: E402

DEFAULT_TIMEOUT = 30.0


@dataclasses.dataclass
class Options:
    work: Path
    weights: rp.Weights
    hidden: Path | None
    timeout: float
    suites: list[str]
    lesson_filter: list[str] | None
    jobs: int               # build and case parallelism inside one grading
    build_timeout: float
    allow_missing_model: bool
    sandbox: Sandbox
    symbol_check: bool
    format: str
    results: Path | None    # where results.json goes (default <work>/<name>/results.json)
    hidden_visibility: str
    lesson_hint: str | None = None


def grade_one(name: str, path: Path, slot: Slot, opt: Options, lessons: list[Lesson]) -> dict:
    out_dir = opt.work / name
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("report.txt", "results.json", "junit.xml", "build.log"):
        (out_dir / stale).unlink(missing_ok=True)
    log = out_dir / "build.log"
    started, clock = datetime.datetime.now(datetime.timezone.utc), time.monotonic()

    # 1-2. The submission's stubs (the committed stub where it has none) and the hidden tests, then the build files.
    sub = sb.resolve(path, lessons, name, opt.lesson_hint, out_dir / "unpacked")
    slot.stage({f"{ls.dir}/{s}": p.read_bytes() if p is not None and not lf.refused else gl.pristine_stub(ls, s)
                for lf in sub.lessons.values() for ls in [lf.lesson] for s, p in lf.files.items()}, opt.hidden)
    lessons = slot.configure(log, opt.sandbox.enabled)
    graded = [ls for ls in lessons if opt.lesson_filter is None or ls.name in opt.lesson_filter]
    paths = {str(slot.lessons_dir) + "/": "submission:", str(slot.hidden_dir) + "/": "hidden:", str(REPO) + "/": ""}
    model = gl.model_dir()
    runner = Runner(opt.sandbox, opt.timeout, model, slot.scratch)

    # The case lists: the same compiled tests linked against the committed stubs (known even when the
    # student's code does not build), and which of them need stories260K (doctest suite "model").
    suites_of = {ls.name: [s for s in ls.suites if s in opt.suites] for ls in graded}
    targets = [f"{ls.name}_{s}_caselist" for ls in graded for s in suites_of[ls.name]]
    if targets and (r := gl.build(slot.tree, targets, opt.jobs, log, opt.build_timeout)).rc != 0:
        raise InfraError("the official tests (or hidden tests) do not build against the committed stubs — not the "
                         f"student's fault:\n{gl.first_error(r.out, paths)}\n(full log: {log})")
    cases_of, needs_model = {}, set()
    for ls in graded:
        for s in suites_of[ls.name]:
            exe = slot.exe(f"{ls.name}_{s}_caselist")
            why, cases_of[(ls.name, s)] = runner.listing(exe, [])
            why2, model_cases = runner.listing(exe, ["--test-suite=model"]) if model is None else ("", [])
            if why or why2:
                raise InfraError(f"{exe.name} cannot list its cases: {why or why2}")
            needs_model |= {(ls.name, s, c) for c in model_cases}

    # 2-4. Per lesson: build, check the objects, then every case of the suites that built and start.
    records, jobs = [], []
    for ls in graded:
        lf = sub.lessons[ls.name]
        rec = {"lesson": ls.name, "dir": ls.dir, "submitted": lf.submitted, "status": "graded", "first_error": "",
               "problems": [], "files": {s: "submitted" if p else "missing: graded as the committed stub"
                                         for s, p in lf.files.items()}}
        suite_status = {s: ("not submitted", "") for s in suites_of[ls.name]}
        if lf.refused:
            rec["status"], rec["first_error"] = "refused", lf.refused
            suite_status = {s: ("refused", lf.refused) for s in suite_status}
        elif lf.submitted:
            status, err, suite_status = slot.build_lesson(ls, suites_of[ls.name], opt.jobs, log, opt.build_timeout,
                                                          paths)
            if status == "ok" and opt.symbol_check:
                linked = [s for s, (st, _) in suite_status.items() if st == "ok"]
                rec["problems"] = symbols.check(slot.student_archive(ls), ls.stubs,
                                                slot.framework_archives(ls, linked))
                if rec["problems"]:
                    status, err = "refused", rec["problems"][0]
                    suite_status = {s: ("refused", err) for s in suite_status}
            for s, (st, _) in suite_status.items():
                if st == "ok" and (why := runner.startup(slot.exe(f"{ls.name}_{s}_student"))[0]):
                    suite_status[s] = ("does not start", why)
            if status == "ok" and all(st == "does not start" for st, _ in suite_status.values()):
                status, err = "does not start", next(iter(suite_status.values()))[1]
            if status != "ok":
                rec["status"], rec["first_error"] = status, err
        else:
            rec["status"] = "not submitted"
        rec["suite_status"] = suite_status
        for s, (st, _) in suite_status.items():
            for case in cases_of[(ls.name, s)]:
                if st == "ok" and (model is not None or (ls.name, s, case) not in needs_model):
                    jobs.append((ls.name, s, case, slot.exe(f"{ls.name}_{s}_student")))
        records.append(rec)
    with concurrent.futures.ThreadPoolExecutor(max_workers=opt.jobs) as pool:
        ran = dict(zip([j[:3] for j in jobs], pool.map(lambda j: runner.run(j[3], j[2], j[1] == "hidden"), jobs)))

    # 5. Points: a case scores only on a pass the runner saw evidence of.
    for rec in records:
        rec["suites"] = []
        for s, (st, err) in rec.pop("suite_status").items():
            cases = []
            for case in cases_of[(rec["lesson"], s)]:
                cid, key = f"{rec['lesson']}/{s}/{case}", (rec["lesson"], s, case)
                res = ran.get(key) or case_without_run(key in needs_model, st, err, opt.allow_missing_model)
                pts = opt.weights.points(cid)
                cases.append({"case": case, "id": cid, "status": res.status, "reason": res.reason,
                              "points": pts if res.status == "passed" else 0.0,
                              "max_points": 0.0 if res.status == "skipped" else pts, "seconds": res.seconds,
                              "output": res.output})
            rec["suites"].append({"suite": s, "status": st, "first_error": err, "cases": cases, "total": len(cases),
                                  "passed": sum(c["status"] == "passed" for c in cases),
                                  "points": sum(c["points"] for c in cases),
                                  "max_points": sum(c["max_points"] for c in cases)})
        rec["points"] = sum(x["points"] for x in rec["suites"])
        rec["max_points"] = sum(x["max_points"] for x in rec["suites"])

    result = {
        "format": "llm-lab-grading/2", "submission": sub.name, "submission_path": str(path),
        "graded_folder": str(sub.path), "submission_shape": sub.shape, "notes": sub.notes, "graded_at": started.isoformat(timespec="seconds"),
        "repository_commit": gl.repo_commit(),
        "weights": str(opt.weights.path) if opt.weights.path else "default: 1 point per case",
        "hidden_tests": opt.hidden is not None, "timeout_s": opt.timeout, "suites": opt.suites,
        "sandbox": "bubblewrap" if opt.sandbox.enabled else "off (--no-sandbox)", "symbol_check": opt.symbol_check,
        "limits": dataclasses.asdict(opt.sandbox.limits), "model": str(model) if model else None,
        "points": sum(x["points"] for x in records), "max_points": sum(x["max_points"] for x in records),
        "seconds": round(time.monotonic() - clock, 1), "lessons": records}
    rp.write_results(result, opt.results or out_dir / "results.json", opt.format, opt.hidden_visibility)
    rp.write_junit(result, out_dir / "junit.xml")
    (out_dir / "report.txt").write_text(rp.format_report(result), encoding="utf-8")
    return result


def case_without_run(needs_model: bool, suite_status: str, err: str, allow_missing_model: bool) -> CaseResult:
    if suite_status != "ok":
        return CaseResult({"not submitted": "failed", "does not start": "error", "refused": "refused"}.get(
            suite_status, "not built"), "not submitted (the committed stub fails every case)"
            if suite_status == "not submitted" else f"{suite_status}: {err}")
    if needs_model and allow_missing_model:
        return CaseResult("skipped", "skipped: needs stories260K, which is missing (--allow-missing-model)")
    return CaseResult("error", "needs stories260K, which is missing on the grading machine (./llm model fetches it)")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="llm grade",
        description="Grade a submission (a copy of lessons/, one lesson folder, or a .zip/.tar.gz of either) against "
                    "the official tests, every case in its own sandboxed process. The repository is never modified.",
        epilog="Exit status: 0 graded (whatever the score, also when a lesson does not compile or is refused), 1 the "
               "grading itself failed (tools missing, no sandbox, the official tests do not build), 2 bad command "
               "line or input. See docs/grading.md.")
    ap.add_argument("submission", nargs="?", type=Path, help="the submission folder or archive")
    ap.add_argument("--batch", type=Path, metavar="DIR", help="grade every folder/archive inside DIR (summary.csv)")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "grade",
                    help="output folder (default build/grade): <work>/<name>/ holds report.txt, results.json, "
                         "junit.xml and build.log")
    ap.add_argument("--name", help="the submission's name in reports (default: its folder name)")
    ap.add_argument("--lesson", help="the lesson of a single-lesson folder whose name does not say it")
    ap.add_argument("--lessons", help="grade only these lessons (comma-separated, e.g. lesson04)")
    ap.add_argument("--suites", default="basic,advanced,hidden", help="suites to grade (default: basic,advanced,hidden)")
    ap.add_argument("--weights", type=Path, default=rp.DEFAULT_WEIGHTS,
                    help="points per test case (default grading/weights.toml; 'none' = 1 point per case)")
    ap.add_argument("--hidden", type=Path, metavar="DIR",
                    help="hidden tests: DIR/lessonNN/*.cpp become the suite 'hidden'")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"per-test-case wall-clock limit in seconds (default {DEFAULT_TIMEOUT:g})")
    ap.add_argument("--memory-mb", type=int, default=Limits.memory_mb,
                    help=f"address-space limit of a test process (default {Limits.memory_mb})")
    ap.add_argument("--cpu-seconds", type=float, help="CPU-time limit of a test process (default: the timeout)")
    ap.add_argument("--max-file-mb", type=int, default=Limits.file_mb,
                    help=f"largest file a test process may write, its output included (default {Limits.file_mb})")
    ap.add_argument("--max-processes", type=int, default=Limits.processes,
                    help=f"processes and threads of the sandbox's user (default {Limits.processes})")
    ap.add_argument("--no-sandbox", action="store_true",
                    help="run student code without bubblewrap (with your rights!): only where the sandbox cannot be "
                         "created and the machine is itself disposable")
    ap.add_argument("--no-symbol-check", action="store_true",
                    help="do not refuse student objects that call what lessons never need (for testing the other "
                         "defences; never for real grading)")
    ap.add_argument("--format", choices=rp.FORMATS, default="llm",
                    help="results.json's format: llm (default), gradescope or classroom (GitHub Classroom)")
    ap.add_argument("--results", type=Path, help="single submission: write results.json here instead")
    ap.add_argument("--hidden-visibility", choices=("after_published", "after_due_date", "hidden"),
                    default="after_published", help="--format gradescope: when students see hidden cases")
    ap.add_argument("--jobs", type=int, default=None,
                    help="batch: submissions graded at once, each in its own build folder (default: one per core)")
    ap.add_argument("--build-dir", type=Path,
                    help="single submission: reuse this build folder (default <work>/<name>/build)")
    ap.add_argument("--build-root", type=Path,
                    help="batch: folder of the reusable build folders slot1..slotN (default <work>/_build)")
    ap.add_argument("--build-timeout", type=float, default=900, help="seconds allowed per build step")
    ap.add_argument("--allow-missing-model", action="store_true",
                    help="without stories260K, leave the cases labelled as needing it out of the total instead of "
                         "counting them as errors")
    ap.add_argument("--brief", action="store_true", help="print subtotals only (the files have every case)")
    ap.add_argument("--gradescope-bundle", type=Path, metavar="ZIP",
                    help="write Gradescope's autograder zip (with --hidden, --weights) and stop")
    a = ap.parse_args(argv)
    if a.gradescope_bundle is None and (a.submission is None) == (a.batch is None):
        ap.error("give a submission folder, or --batch DIR")
    return a


def make_options(a: argparse.Namespace) -> Options:
    work = a.work.resolve()
    gl.check_work_dir(work)
    suites = [s.strip() for s in a.suites.split(",") if s.strip()]
    if not suites or any(s not in ("basic", "advanced", "hidden") for s in suites):
        raise UsageError(f"--suites {a.suites}: each must be one of basic, advanced, hidden")
    for flag, value, low in (("--timeout", a.timeout, 0), ("--memory-mb", a.memory_mb, 64),
                             ("--max-file-mb", a.max_file_mb, 1), ("--max-processes", a.max_processes, 1)):
        if not value >= low:
            raise UsageError(f"{flag} = {value:g} must be >= {low}")
    hidden = a.hidden.resolve() if a.hidden else None
    if hidden is not None and not hidden.is_dir():
        raise UsageError(f"--hidden {a.hidden} is not a folder")
    limits = Limits(a.memory_mb, a.cpu_seconds or a.timeout, a.max_file_mb, a.max_processes)
    sandbox = Sandbox(not a.no_sandbox, limits)
    sandbox.check()
    if gl.model_dir() is None and not a.allow_missing_model:
        gl.say("warning: stories260K is missing (./llm model fetches it): the cases needing it will count as errors; "
               "--allow-missing-model leaves them out of the total instead")
    return Options(work=work, weights=rp.load_weights(None if str(a.weights) == "none" else a.weights.resolve()),
                   hidden=hidden, timeout=a.timeout, suites=suites,
                   lesson_filter=[x.strip() for x in a.lessons.split(",") if x.strip()] if a.lessons else None,
                   jobs=gl.cpu_count(), build_timeout=a.build_timeout, allow_missing_model=a.allow_missing_model,
                   sandbox=sandbox, symbol_check=not a.no_symbol_check, format=a.format,
                   results=a.results.resolve() if a.results else None, hidden_visibility=a.hidden_visibility,
                   lesson_hint=a.lesson)


def prepared(slot: Slot, opt: Options, log: Path) -> list[Lesson]:
    """The lessons, from a configure of `slot`; checks --lessons and --lesson against them."""
    log.parent.mkdir(parents=True, exist_ok=True)
    lessons = slot.configure(log, opt.sandbox.enabled)
    for key in (opt.lesson_filter or []) + ([opt.lesson_hint] if opt.lesson_hint else []):
        gl.lesson_by_name(lessons, key)
    if opt.lesson_filter:
        opt.lesson_filter = [gl.lesson_by_name(lessons, x).name for x in opt.lesson_filter]
    return lessons


def warn_unused_rules(weights: rp.Weights) -> None:
    for rule in weights.unused_rules():
        gl.say(f"warning: weights rule match = {rule.match!r} matched no test case (renamed test?)")


def cmd_single(a: argparse.Namespace) -> int:
    opt = make_options(a)
    path = a.submission.resolve()
    name = a.name or sb.submission_name(path)
    slot_root = a.build_dir.resolve() if a.build_dir else opt.work / name / "build"
    gl.check_work_dir(slot_root)
    gl.say(f"grading {path} in {slot_root}")
    with Slot(slot_root) as slot:
        result = grade_one(name, path, slot, opt, prepared(slot, opt, opt.work / name / "build.log"))
    print(rp.format_report(result, brief=a.brief), end="")
    print(f"written: {opt.work / name / 'report.txt'}, {opt.results or opt.work / name / 'results.json'}, "
          f"{opt.work / name / 'junit.xml'}")
    warn_unused_rules(opt.weights)
    return 0


def cmd_batch(a: argparse.Namespace) -> int:
    opt = make_options(a)
    if opt.results:
        raise UsageError("--results is for one submission; a batch writes <work>/<name>/results.json")
    batch = a.batch.resolve()
    if not batch.is_dir():
        raise UsageError(f"--batch {a.batch} is not a folder")
    names = sb.unique_names([p for p in sorted(batch.iterdir()) if not p.name.startswith(".")
                             and (p.is_dir() or p.name.endswith(sb.ARCHIVE_SUFFIXES))])
    if not names:
        raise UsageError(f"--batch {batch}: no submission folders or archives inside")
    jobs = max(1, min(a.jobs or gl.cpu_count(), len(names)))
    opt.jobs = max(1, gl.cpu_count() // jobs)
    build_root = (a.build_root or opt.work / "_build").resolve()
    gl.check_work_dir(build_root)
    slots: queue.Queue[Path] = queue.Queue()
    for k in range(1, jobs + 1):
        slots.put(build_root / f"slot{k}")
    with Slot(build_root / "slot1") as slot:
        lessons = prepared(slot, opt, opt.work / "configure.log")
    gl.say(f"grading {len(names)} submissions from {batch}, {jobs} at a time, {opt.jobs} build/test jobs each")
    print_lock = threading.Lock()

    def grade(name: str, path: Path) -> dict:
        slot_root = slots.get()
        try:
            with Slot(slot_root) as slot:
                res = grade_one(name, path, slot, opt, lessons)
            line = f"{name}: {gl.fmt_points(res['points'])} / {gl.fmt_points(res['max_points'])}"
        except (UsageError, OSError, zipfile.BadZipFile) as e:
            # One unreadable submission (a corrupt archive, a file without read permission) does not stop the batch.
            res = {"submission": name, "submission_path": str(path), "error": str(e), "lessons": [],
                   "points": 0.0, "max_points": 0.0}
            line = f"{name}: not graded: {e}"
        finally:
            slots.put(slot_root)
        with print_lock:
            print(line, flush=True)
        return res

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {n: pool.submit(grade, n, p) for n, p in names.items()}
        results = {n: f.result() for n, f in futures.items()}
    rp.write_summary(results, opt.work / "summary.csv")
    gl.dump_json(opt.work / "summary.json", {
        "format": "llm-lab-grading-batch/2", "batch": str(batch),
        "submissions": [{k: r.get(k) for k in ("submission", "submission_path", "points", "max_points", "error")}
                        | {"results": str(opt.work / n / "results.json") if "error" not in r else None}
                        for n, r in results.items()]})
    print(f"written: {opt.work / 'summary.csv'} (one row per submission; details in <work>/<name>/)")
    warn_unused_rules(opt.weights)
    return 0


BUNDLED_OPTIONS = {"lessons": None, "suites": "basic,advanced,hidden", "timeout": DEFAULT_TIMEOUT,
                   "memory_mb": Limits.memory_mb, "cpu_seconds": None, "max_file_mb": Limits.file_mb,
                   "max_processes": Limits.processes, "hidden_visibility": "after_published"}


def cmd_bundle(a: argparse.Namespace) -> int:
    """Gradescope's autograder zip: setup.sh and run_autograder at its top, the course (git HEAD) in llm-lab/,
    the hidden tests and weights file given here inside it (grading/hidden/, grading/weights.toml)."""
    out = a.gradescope_bundle.resolve()
    if out.suffix != ".zip":
        raise UsageError(f"--gradescope-bundle {a.gradescope_bundle}: the autograder must be a .zip file")
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, (REPO / "grading" / "gradescope" / name).read_bytes())
        for rel in filter(None, tracked.decode().split("\0")):
            if (REPO / rel).is_file() and not (a.weights != rp.DEFAULT_WEIGHTS and rel == "grading/weights.toml"):
                z.write(REPO / rel, f"llm-lab/{rel}")
        if str(a.weights) != "none" and a.weights != rp.DEFAULT_WEIGHTS:
            rp.load_weights(a.weights.resolve())  # refuse a bad file now, not on Gradescope
            z.write(a.weights, "llm-lab/grading/weights.toml")
        if a.hidden:
            if not a.hidden.is_dir():
                raise UsageError(f"--hidden {a.hidden} is not a folder")
            for f in sorted(p for p in a.hidden.rglob("*") if p.is_file()):
                z.write(f, f"llm-lab/grading/hidden/{f.relative_to(a.hidden)}")
        # The grading options given here, applied by run_autograder to every submission.
        options = [f"--{k.replace('_', '-')}={v}" for k, v in vars(a).items()
                   if k in BUNDLED_OPTIONS and v is not None and v != BUNDLED_OPTIONS[k]]
        options += [f"--{k.replace('_', '-')}" for k in ("no_sandbox", "allow_missing_model") if getattr(a, k)]
        z.writestr("llm-lab/grading/gradescope/options", " ".join(options) + "\n")
    print(f"written: {out} (upload it as the autograder; docs/grading.md, 'Gradescope')")
    return 0


def main(argv: list[str]) -> int:
    try:
        a = parse_args(argv)
        if a.gradescope_bundle:
            return cmd_bundle(a)
        gl.tool_check()
        return cmd_batch(a) if a.batch else cmd_single(a)
    except UsageError as e:
        print(f"llm grade: error: {e}", file=sys.stderr)
        return 2
    except InfraError as e:
        print(f"llm grade: grading failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
