#!/usr/bin/env python3
# grade.py — grade a student's submission against the official tests, without touching the repository.
# The submission's stub files are staged into a build folder under --work, built as the student flavour
# (-DLLM_GRADING=ON -DLLM_STUDENT_LESSONS_DIR=<staged>), each lesson on its own so one that does not
# compile costs only itself, and run with ctest: one process per test case, so a crash or a hang costs
# only that case. Writes report.txt, results.json and junit.xml; --batch grades a folder of submissions
# and writes summary.csv. docs/grading.md is the instructor's guide.
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import datetime
import fcntl
import json
import os
import queue
import re
import shutil
import sys
import tarfile
import threading
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradelib as gl  # noqa: E402
from gradelib import REPO, InfraError, Lesson, UsageError  # noqa: E402

DEFAULT_TIMEOUT = 30.0
OUTPUT_KEEP = 4000  # characters of a failing case's output kept in results.json and junit.xml

# ---------------------------------------------------------------------------------------------
# The submission: which stub files it has, for which lessons
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LessonFiles:
    lesson: Lesson
    files: dict[str, Path | None]  # stub name -> the submission's file, None when absent

    @property
    def submitted(self) -> bool:
        return any(p is not None for p in self.files.values())


@dataclasses.dataclass
class Submission:
    name: str
    path: Path
    shape: str                      # "lessons folder", "lesson folder lesson04", "empty"
    lessons: dict[str, LessonFiles]
    notes: list[str]


ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def submission_name(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"


def extract_archive(archive: Path, dest: Path) -> Path:
    """Unpacks a .zip or .tar.* into dest (paths that would escape dest are refused)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        _extract(archive, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise UsageError(f"{archive} cannot be unpacked: {e}")
    return dest


def _extract(archive: Path, dest: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                if not gl.inside(dest / member, dest):
                    raise UsageError(f"{archive}: entry {member!r} escapes the archive folder")
            z.extractall(dest)
    else:
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                t.extractall(dest, filter="data")
            else:  # Debian 12's 3.11.2: refuse what the "data" filter would refuse, by hand
                for m in t.getmembers():
                    if not (m.isfile() or m.isdir()) or not gl.inside(dest / m.name, dest):
                        raise UsageError(f"{archive}: entry {m.name!r} is a link, a device or escapes the archive")
                t.extractall(dest)


def ignored_files(folder: Path, lesson: Lesson) -> list[str]:
    """Notes on the sources beside the stubs that grading does not use: the course's copies are compiled."""
    notes = []
    course = REPO / "lessons" / lesson.dir
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix not in (".cpp", ".cc", ".h", ".hpp") or f.name in lesson.stubs:
            continue
        theirs = course / f.name
        if not theirs.is_file():
            notes.append(f"{lesson.name}: {f.name} is not graded (only {', '.join(lesson.stubs)} are)")
        elif theirs.read_bytes() != f.read_bytes():
            notes.append(f"{lesson.name}: {f.name} differs from the course's copy; the course's is used")
    return notes


def resolve_submission(path: Path, lessons: list[Lesson], name: str, lesson_hint: str | None,
                       unpack_dir: Path) -> Submission:
    if not path.exists():
        raise UsageError(f"submission {path} does not exist")
    notes: list[str] = []
    if path.is_file():
        if not path.name.endswith(ARCHIVE_SUFFIXES):
            raise UsageError(f"submission {path} is a file but not an archive ({', '.join(ARCHIVE_SUFFIXES)})")
        path = extract_archive(path, unpack_dir)
        notes.append(f"unpacked into {path}")

    def candidates(root: Path):
        yield root
        yield root / "lessons"
        subdirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__"))]
        if len(subdirs) == 1:  # an archive or a folder wrapping everything in one top folder
            yield from candidates(subdirs[0])

    empty = {ls.name: LessonFiles(ls, {s: None for s in ls.stubs}) for ls in lessons}
    forced = gl.lesson_by_name(lessons, lesson_hint) if lesson_hint else None
    for root in candidates(path):
        if not root.is_dir():
            continue
        # A copy of lessons/: one folder per lesson, named as in the repository.
        if forced is None and any((root / ls.dir).is_dir() for ls in lessons):
            found = {}
            for ls in lessons:
                files = {s: (root / ls.dir / s if (root / ls.dir / s).is_file() else None) for s in ls.stubs}
                found[ls.name] = LessonFiles(ls, files)
                if (root / ls.dir).is_dir():
                    notes += ignored_files(root / ls.dir, ls)
            return Submission(name, root, "lessons folder", found, notes)
        # One lesson's folder: its stub files at the top.
        having = [ls for ls in lessons if any((root / s).is_file() for s in ls.stubs)]
        if forced is not None:
            having = [forced] if any((root / s).is_file() for s in forced.stubs) else []
        elif len(having) > 1:
            named = [ls for ls in having if root.name in (ls.dir, ls.name) or root.name.startswith(ls.name)]
            if len(named) != 1:
                raise UsageError(f"{root} could be any of {', '.join(ls.name for ls in having)}: "
                                 "pass --lesson lessonNN")
            having = named
        if having:
            ls = having[0]
            found = dict(empty)
            found[ls.name] = LessonFiles(ls, {s: (root / s if (root / s).is_file() else None) for s in ls.stubs})
            notes += ignored_files(root, ls)
            return Submission(name, root, f"lesson folder {ls.name}", found, notes)
    notes.append("no lesson stub file found: every lesson is graded as not submitted")
    return Submission(name, path, "empty", empty, notes)


# ---------------------------------------------------------------------------------------------
# A build slot: one CMake build tree whose staged stub files are swapped from submission to submission
# ---------------------------------------------------------------------------------------------


class Slot:
    """<root>/lessons (the staged stubs), <root>/hidden (the staged hidden tests), <root>/tree (cmake).
    Only one grading at a time uses a slot (a lock file says so)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.lessons_dir = self.root / "lessons"
        self.hidden_dir = self.root / "hidden"
        self.tree = self.root / "tree"
        self._lock_file = None

    def __enter__(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.root / ".lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            gl.say(f"waiting for {self.root}: another grading run is using it")
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def stage(self, sub: Submission, lessons: list[Lesson], hidden: Path | None) -> None:
        for ls in lessons:
            lf = sub.lessons[ls.name]
            for stub in ls.stubs:
                src = lf.files.get(stub)
                data = src.read_bytes() if src is not None else gl.pristine_stub(ls, stub)
                gl.write_if_different(self.lessons_dir / ls.dir / stub, data)
        gl.sync_tree(hidden, self.hidden_dir)
        self.hidden_dir.mkdir(parents=True, exist_ok=True)

    def configure(self, log: Path, lessons: list[Lesson]) -> None:
        # The per-case timeout is not configured: $LLM_CASE_TIMEOUT sets it when ctest runs.
        wanted = {"LLM_GRADING": "ON", "LLM_STUDENT_LESSONS_DIR": str(self.lessons_dir),
                  "LLM_HIDDEN_TESTS_DIR": str(self.hidden_dir)}
        # A tree configured before the course gained a lesson (or changed one's CMakeLists.txt) has no or
        # an old manifest for it, and the manifests are read before anything is built: configure again.
        current = all(
            (m := self.tree / "llm_lessons" / f"{ls.name}.json").is_file()
            and m.stat().st_mtime >= (REPO / "lessons" / ls.dir / "CMakeLists.txt").stat().st_mtime
            for ls in lessons)
        if current and (self.tree / "build.ninja").is_file() and all(
                gl.cmake_cache_value(self.tree, k) == v for k, v in wanted.items()):
            return
        cmd = ["cmake", "-S", str(REPO), "-B", str(self.tree), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
               "-DLLM_BUILD_BENCHMARKS=OFF", "-DLLM_WERROR=OFF", "-DLLM_SELF_CHECK=OFF", "-DBUILD_TESTING=ON",
               "-DCMAKE_EXPORT_COMPILE_COMMANDS=OFF"] + [f"-D{k}={v}" for k, v in wanted.items()]
        r = gl.run(cmd, log=log, timeout=600)
        if r.rc != 0:
            raise InfraError(f"configuring the grading build failed (see {log}):\n{gl.first_error(r.out)}")
        for ls in lessons:  # written only when different: mark them as checked against this configure
            m = self.tree / "llm_lessons" / f"{ls.name}.json"
            if m.is_file():
                os.utime(m)

    def manifest(self, lesson: Lesson) -> dict:
        path = self.tree / "llm_lessons" / f"{lesson.name}.json"
        if not path.is_file():
            raise InfraError(f"{path} is missing: is cmake/LlmLesson.cmake current?")
        return json.loads(path.read_text(encoding="utf-8"))

    def exe(self, target: str) -> Path:
        hits = list((self.tree / "lessons").glob(f"*/{target}"))
        if not hits:
            raise InfraError(f"built {target} but cannot find it under {self.tree / 'lessons'}")
        return hits[0]


# ---------------------------------------------------------------------------------------------
# Grading one submission
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Options:
    work: Path
    weights_path: Path | None
    hidden: Path | None
    timeout: float
    suites: list[str]
    lesson_filter: list[str] | None
    jobs: int               # build and ctest parallelism inside one grading
    build_timeout: float
    allow_missing_model: bool
    lesson_hint: str | None = None


def relative_paths(slot: Slot) -> dict[str, str]:
    """Build-tree paths -> what the student recognises, for compiler messages."""
    return {str(slot.lessons_dir) + "/": "submission:", str(slot.hidden_dir) + "/": "hidden:", str(REPO) + "/": ""}


def grade_one(sub: Submission, slot: Slot, opt: Options, out_dir: Path, lessons: list[Lesson],
              weights: gl.Weights) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ["report.txt", "results.json", "junit.xml", "build.log", "ctest.log",
                  *(p.name for p in out_dir.glob("ctest-*.xml"))]:
        (out_dir / stale).unlink(missing_ok=True)
    build_log = out_dir / "build.log"
    ctest_log = out_dir / "ctest.log"
    started = datetime.datetime.now(datetime.timezone.utc)

    slot.stage(sub, lessons, opt.hidden)
    slot.configure(build_log, lessons)
    graded = [ls for ls in lessons if opt.lesson_filter is None or ls.name in opt.lesson_filter]
    repl = relative_paths(slot)

    # 1. What does not depend on the student: the framework, the test objects and the case lists.
    suites_of: dict[str, list[str]] = {}
    caselist_targets = []
    for ls in graded:
        m = slot.manifest(ls)
        suites_of[ls.name] = [s for s in m["suites"] if s in opt.suites]
        caselist_targets += [f"{ls.name}_{s}_caselist" for s in suites_of[ls.name]]
    if caselist_targets:
        r = gl.run(["cmake", "--build", str(slot.tree), "--target", *caselist_targets, "--", f"-j{opt.jobs}"],
                   log=build_log, timeout=opt.build_timeout)
        if r.rc != 0:
            raise InfraError("the official tests (or hidden tests) do not build against the committed stubs — "
                             f"not the student's fault:\n{gl.first_error(r.out, repl)}\n(full log: {build_log})")
    cases_of = {(ls.name, s): gl.list_doctest_cases(slot.exe(f"{ls.name}_{s}_caselist"))
                for ls in graded for s in suites_of[ls.name]}

    model = gl.model_dir()
    env = dict(os.environ, LLM_CASE_TIMEOUT=f"{opt.timeout:g}")  # read by ctest (cmake/LlmLesson.cmake)
    if model is not None:
        env["LLM_REQUIRE_MODEL"] = "1"  # present: a case that cannot load it must fail, not skip
    else:
        env.pop("LLM_REQUIRE_MODEL", None)

    report_lessons = []
    for ls in graded:
        lf = sub.lessons[ls.name]
        lesson_rec = {"lesson": ls.name, "dir": ls.dir, "submitted": lf.submitted,
                      "files": {s: ("submitted" if p is not None else "missing: graded as the committed stub")
                                for s, p in lf.files.items()},
                      "status": "graded", "first_error": "", "suites": []}
        suite_status = {s: ("ok", "") for s in suites_of[ls.name]}
        results: dict[str, gl.CaseResult] = {}
        if not lf.submitted:
            lesson_rec["status"] = "not submitted"
            suite_status = {s: ("not submitted", "") for s in suite_status}
        else:
            # 2. The student's library alone: a compile error here is the lesson's.
            r = gl.build_target(slot.tree, f"{ls.name}_student", opt.jobs, build_log, opt.build_timeout)
            if r.rc != 0:
                lesson_rec["status"] = "does not compile"
                lesson_rec["first_error"] = gl.first_error(r.out, repl)
                suite_status = {s: ("does not compile", lesson_rec["first_error"]) for s in suite_status}
            else:
                # 3. Each suite's program (a link error, e.g. a function deleted, costs that suite).
                targets = [f"{ls.name}_{s}_student" for s in suite_status]
                r = gl.run(["cmake", "--build", str(slot.tree), "--target", *targets, "--", f"-j{opt.jobs}",
                            "-k", "0"], log=build_log, timeout=opt.build_timeout)
                if r.rc != 0:
                    failed_edges = "\n".join(l for l in r.out.splitlines() if l.startswith("FAILED:"))
                    # doctest's discovery runs each program once after linking (--list-test-cases): code
                    # of the student's that runs before main() (a global object) can fail there.
                    if "Error running test executable" in r.out:
                        why = "crashes when it starts"
                        m = re.search(r"Result: ([^\n]*)", r.out)
                        err = ("the test program fails before any test runs (code of yours that runs before main, "
                               f"e.g. a global object's constructor): {m.group(1).strip() if m else 'failed'}")
                    else:
                        why, err = "does not link", gl.first_error(r.out, repl)
                    for s in suite_status:
                        if f"/{ls.name}_{s}_student" in failed_edges or r.timed_out:
                            suite_status[s] = (why, err)
                    if all(st != "ok" for st, _ in suite_status.values()):
                        lesson_rec["status"] = why
                        lesson_rec["first_error"] = err
                ok_suites = [s for s, (st, _) in suite_status.items() if st == "ok"]
                if ok_suites:
                    junit = out_dir / f"ctest-{ls.name}.xml"
                    labels = ["^student$", f"^{re.escape(ls.name)}$", "^(" + "|".join(ok_suites) + ")$"]
                    n_cases = sum(len(cases_of[(ls.name, s)]) for s in ok_suites)
                    results = gl.run_ctest(slot.tree, labels, opt.jobs, junit, ctest_log, opt.timeout, env=env,
                                           overall_timeout=opt.timeout * n_cases + 300)
        for s in suites_of[ls.name]:
            status, err = suite_status[s]
            cases = []
            for case in cases_of[(ls.name, s)]:
                cid = f"{ls.name}/{s}/{case}"
                pts = weights.points(cid)
                if status == "ok":
                    res = results.get(f"student/{cid}") or gl.CaseResult(
                        cid, "error", "not run: ctest did not report this case")
                elif status == "not submitted":
                    res = gl.CaseResult(cid, "failed", "not submitted (the committed stub fails every case)")
                else:
                    res = gl.CaseResult(cid, "not built", f"{status}: {err}")
                if res.status == "skipped" and not opt.allow_missing_model:
                    res = gl.CaseResult(cid, "error", res.reason, res.seconds, res.output)
                counted = res.status != "skipped"  # only with --allow-missing-model
                cases.append({
                    "case": case, "id": cid, "status": res.status, "reason": res.reason,
                    "points": pts if res.status == "passed" else 0.0, "max_points": pts if counted else 0.0,
                    "seconds": round(res.seconds, 3),
                    "output": "" if res.status == "passed" else res.output[-OUTPUT_KEEP:]})
            lesson_rec["suites"].append({
                "suite": s, "status": status, "first_error": err,
                "passed": sum(c["status"] == "passed" for c in cases), "total": len(cases),
                "points": sum(c["points"] for c in cases), "max_points": sum(c["max_points"] for c in cases),
                "cases": cases})
        lesson_rec["points"] = sum(x["points"] for x in lesson_rec["suites"])
        lesson_rec["max_points"] = sum(x["max_points"] for x in lesson_rec["suites"])
        report_lessons.append(lesson_rec)

    result = {
        "format": "llm-lab-grading/1",
        "submission": sub.name, "submission_path": str(sub.path), "submission_shape": sub.shape,
        "notes": sub.notes,
        "graded_at": started.isoformat(timespec="seconds"),
        "repository_commit": gl.repo_commit(),
        "weights": str(opt.weights_path) if opt.weights_path else "default: 1 point per case",
        "hidden_tests": str(opt.hidden) if opt.hidden else None,
        "timeout_s": opt.timeout, "suites": opt.suites,
        "model": str(model) if model else None,
        "points": sum(x["points"] for x in report_lessons),
        "max_points": sum(x["max_points"] for x in report_lessons),
        "lessons": report_lessons,
    }
    gl.dump_json(out_dir / "results.json", result)
    write_junit(result, out_dir / "junit.xml")
    (out_dir / "report.txt").write_text(format_report(result), encoding="utf-8")
    return result


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------

RESULT_WORDS = {"passed": "pass", "failed": "FAIL", "crashed": "CRASH", "timeout": "TIMEOUT",
                "not built": "NOT BUILT", "skipped": "skipped", "error": "ERROR"}


def short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(r: dict, brief: bool = False) -> str:
    lines = [f"Grading of '{r['submission']}' ({r['submission_path']}, {r['submission_shape']})",
             f"repository {r['repository_commit']}, per-case timeout {r['timeout_s']:g} s, weights: {r['weights']}"
             + (f", hidden tests: {r['hidden_tests']}" if r["hidden_tests"] else "")]
    lines += [f"note: {n}" for n in r["notes"]]
    if r["model"] is None:
        lines.append("note: stories260K is missing; the cases that need it are not counted "
                     "(--allow-missing-model) or count as errors")
    rows = []
    for ls in r["lessons"]:
        for su in ls["suites"]:
            if not brief:
                for c in su["cases"]:
                    word = RESULT_WORDS.get(c["status"], c["status"])
                    # A lesson that was not built or not submitted says why once, below the table.
                    why = c["reason"] if su["status"] == "ok" and c["status"] != "passed" else ""
                    rows.append((ls["lesson"], su["suite"], c["case"], word,
                                 f"{gl.fmt_points(c['points'])} / {gl.fmt_points(c['max_points'])}", why))
            rows.append((ls["lesson"], su["suite"], f"= {su['suite']} subtotal ({su['passed']} of {su['total']} "
                         f"cases pass{'; ' + su['status'] if su['status'] != 'ok' else ''})", "",
                         f"{gl.fmt_points(su['points'])} / {gl.fmt_points(su['max_points'])}", ""))
        rows.append((ls["lesson"], "", f"== {ls['lesson']} total ({ls['status']})", "",
                     f"{gl.fmt_points(ls['points'])} / {gl.fmt_points(ls['max_points'])}", ""))
    w_case = min(90, max([len(x[2]) for x in rows] + [9]))
    header = ("lesson", "suite", "test case", "result", "points")
    widths = (max([len(x[0]) for x in rows] + [6]), max([len(x[1]) for x in rows] + [5]), w_case,
              max([len(x[3]) for x in rows] + [6]), max([len(x[4]) for x in rows] + [6]))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append("")
    lines.append(fmt.format(*header).rstrip())
    lines.append(fmt.format(*("-" * w for w in widths)))
    for row in rows:
        lines.append(fmt.format(row[0], row[1], short(row[2], w_case), row[3], row[4]).rstrip())
        if row[5]:
            lines.append(" " * (widths[0] + widths[1] + 4) + "  -> " + short(row[5], 150))
    for ls in r["lessons"]:
        if ls["first_error"]:
            lines.append(f"\n{ls['lesson']} {ls['status']}: {ls['first_error']}")
        elif ls["status"] == "not submitted":
            lines.append(f"\n{ls['lesson']} not submitted: graded as the committed stubs, every case fails")
        for su in ls["suites"]:
            if su["status"] not in ("ok", "not submitted", ls["status"]):
                lines.append(f"{ls['lesson']} {su['suite']} suite {su['status']}: {su['first_error']}")
    pct = 100.0 * r["points"] / r["max_points"] if r["max_points"] else 0.0
    lines.append(f"\nTOTAL {gl.fmt_points(r['points'])} / {gl.fmt_points(r['max_points'])} points ({pct:.1f}%)")
    return "\n".join(lines) + "\n"


def write_junit(r: dict, path: Path) -> None:
    root = ET.Element("testsuites", name=f"llm-lab grading: {r['submission']}")
    tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for ls in r["lessons"]:
        for su in ls["suites"]:
            ts = ET.SubElement(root, "testsuite", name=f"{ls['lesson']}.{su['suite']}")
            props = ET.SubElement(ts, "properties")
            for k in ("points", "max_points", "status"):
                value = su[k] if k == "status" else gl.fmt_points(su[k])
                ET.SubElement(props, "property", name=k, value=value)
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            seconds = 0.0
            for c in su["cases"]:
                counts["tests"] += 1
                seconds += c["seconds"]
                tc = ET.SubElement(ts, "testcase", classname=f"{ls['lesson']}.{su['suite']}", name=c["case"],
                                   time=f"{c['seconds']:.3f}")
                if c["status"] == "failed":
                    counts["failures"] += 1
                    ET.SubElement(tc, "failure", type="failed", message=c["reason"]).text = c["output"]
                elif c["status"] == "skipped":
                    counts["skipped"] += 1
                    ET.SubElement(tc, "skipped", message=c["reason"])
                elif c["status"] != "passed":
                    counts["errors"] += 1
                    ET.SubElement(tc, "error", type=c["status"].replace(" ", "_"),
                                  message=c["reason"]).text = c["output"]
                ET.SubElement(tc, "system-out").text = \
                    f"points: {gl.fmt_points(c['points'])} / {gl.fmt_points(c['max_points'])}\n"
            for k, v in counts.items():
                ts.set(k, str(v))
                tot[k] += v
            ts.set("time", f"{seconds:.3f}")
    for k, v in tot.items():
        root.set(k, str(v))
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="llm grade",
        description="Grade a submission (a copy of lessons/, one lesson folder, or a .zip/.tar.gz of either) "
                    "against the official tests. The repository is never modified: everything goes under --work.",
        epilog="Exit status: 0 graded (whatever the score, also when a lesson does not compile), 1 the grading "
               "itself failed (tools missing, the official tests do not build), 2 bad command line or input. "
               "See docs/grading.md.")
    ap.add_argument("submission", nargs="?", type=Path, help="the submission folder or archive")
    ap.add_argument("--batch", type=Path, metavar="DIR",
                    help="grade every folder/archive inside DIR; writes <work>/summary.csv")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "grade",
                    help="output folder (default build/grade): <work>/<name>/ holds report.txt, results.json, "
                         "junit.xml and the logs")
    ap.add_argument("--name", help="the submission's name in reports (default: its folder name)")
    ap.add_argument("--lesson", help="the lesson of a single-lesson folder whose name does not say it")
    ap.add_argument("--lessons", help="grade only these lessons (comma-separated, e.g. lesson04)")
    ap.add_argument("--suites", default="basic,advanced,hidden",
                    help="suites to grade, comma-separated (default: basic,advanced,hidden)")
    ap.add_argument("--weights", type=Path, default=gl.DEFAULT_WEIGHTS,
                    help="points per test case (default grading/weights.toml; 'none' = 1 point per case)")
    ap.add_argument("--hidden", type=Path, metavar="DIR",
                    help="hidden tests: DIR/lessonNN/*.cpp become the suite 'hidden' (label hidden)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"per-test-case time limit in seconds (default {DEFAULT_TIMEOUT:g})")
    ap.add_argument("--jobs", type=int, default=None,
                    help="batch: submissions graded at once, each in its own build folder with cores/jobs build "
                         "and test jobs (default: one per core, i.e. 2 on 2 cores: measured 1.7x faster than "
                         "one at a time with -j2)")
    ap.add_argument("--build-dir", type=Path,
                    help="single submission: reuse this build folder (default <work>/<name>/build); only the "
                         "changed stub files recompile")
    ap.add_argument("--build-root", type=Path,
                    help="batch: folder of the reusable build folders slot1..slotN (default <work>/_build)")
    ap.add_argument("--build-timeout", type=float, default=900, help="seconds allowed per build step")
    ap.add_argument("--allow-missing-model", action="store_true",
                    help="without stories260K, leave the cases needing it out of the total instead of "
                         "counting them as errors")
    ap.add_argument("--brief", action="store_true", help="print subtotals only (the files have every case)")
    a = ap.parse_args(argv)
    if (a.submission is None) == (a.batch is None):
        ap.error("give a submission folder, or --batch DIR")
    return a


def make_options(a: argparse.Namespace) -> tuple[Options, gl.Weights, list[Lesson]]:
    work = a.work.resolve()
    gl.check_work_dir(work)
    suites = [s.strip() for s in a.suites.split(",") if s.strip()]
    bad = [s for s in suites if s not in gl.SUITES]
    if bad or not suites:
        raise UsageError(f"--suites {a.suites}: each must be one of {', '.join(gl.SUITES)}")
    if a.timeout <= 0:
        raise UsageError(f"--timeout = {a.timeout:g} must be > 0 seconds")
    weights_path = None if str(a.weights) == "none" else a.weights.resolve()
    weights = gl.load_weights(weights_path)
    hidden = None
    if a.hidden is not None:
        hidden = a.hidden.resolve()
        if not hidden.is_dir():
            raise UsageError(f"--hidden {a.hidden} is not a folder")
    lessons = gl.discover_lessons()
    lesson_filter = None
    if a.lessons:
        lesson_filter = [gl.lesson_by_name(lessons, x.strip()).name for x in a.lessons.split(",") if x.strip()]
    if a.lesson:
        gl.lesson_by_name(lessons, a.lesson)
    model = gl.model_dir()
    if model is None and not a.allow_missing_model:
        gl.say("warning: stories260K is missing (./llm model fetches it): the cases needing it will count as "
               "errors; --allow-missing-model leaves them out of the total instead")
    opt = Options(work=work, weights_path=weights_path, hidden=hidden, timeout=a.timeout, suites=suites,
                  lesson_filter=lesson_filter, jobs=gl.cpu_count(), build_timeout=a.build_timeout,
                  allow_missing_model=a.allow_missing_model, lesson_hint=a.lesson)
    return opt, weights, lessons


def warn_unused_rules(weights: gl.Weights) -> None:
    for rule in weights.unused_rules():
        gl.say(f"warning: weights rule match = {rule.match!r} matched no test case (renamed test?)")


def cmd_single(a: argparse.Namespace) -> int:
    opt, weights, lessons = make_options(a)
    sub_path = a.submission.resolve()
    name = a.name or submission_name(sub_path)
    out_dir = opt.work / name
    sub = resolve_submission(sub_path, lessons, name, opt.lesson_hint, out_dir / "unpacked")
    slot_root = a.build_dir.resolve() if a.build_dir else out_dir / "build"
    gl.check_work_dir(slot_root)
    gl.say(f"grading {sub.path} ({sub.shape}) in {slot_root}")
    with Slot(slot_root) as slot:
        result = grade_one(sub, slot, opt, out_dir, lessons, weights)
    print(format_report(result, brief=a.brief), end="")
    print(f"written: {out_dir / 'report.txt'}, {out_dir / 'results.json'}, {out_dir / 'junit.xml'}")
    warn_unused_rules(weights)
    return 0


def cmd_batch(a: argparse.Namespace) -> int:
    opt, weights, lessons = make_options(a)
    batch = a.batch.resolve()
    if not batch.is_dir():
        raise UsageError(f"--batch {a.batch} is not a folder")
    entries = [p for p in sorted(batch.iterdir()) if not p.name.startswith(".")
               and (p.is_dir() or p.name.endswith(ARCHIVE_SUFFIXES))]
    if not entries:
        raise UsageError(f"--batch {batch}: no submission folders or archives inside")
    names: dict[str, Path] = {}
    for p in entries:
        n = submission_name(p)
        k = 2
        while n in names:
            n = f"{submission_name(p)}_{k}"
            k += 1
        names[n] = p
    jobs = max(1, min(a.jobs or gl.cpu_count(), len(names)))
    opt.jobs = max(1, gl.cpu_count() // jobs)
    build_root = (a.build_root or opt.work / "_build").resolve()
    gl.check_work_dir(build_root)
    slots: queue.Queue[Path] = queue.Queue()
    for k in range(1, jobs + 1):
        slots.put(build_root / f"slot{k}")
    gl.say(f"grading {len(names)} submissions from {batch}, {jobs} at a time, {opt.jobs} build/test jobs each")
    print_lock = threading.Lock()

    def grade(name: str, path: Path) -> dict:
        slot_root = slots.get()
        try:
            out_dir = opt.work / name
            sub = resolve_submission(path, lessons, name, None, out_dir / "unpacked")
            with Slot(slot_root) as slot:
                res = grade_one(sub, slot, opt, out_dir, lessons, weights)
            line = f"{name}: {gl.fmt_points(res['points'])} / {gl.fmt_points(res['max_points'])}"
        except (UsageError, OSError, zipfile.BadZipFile, tarfile.TarError) as e:
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
    write_summary(results, opt.work / "summary.csv", lessons)
    gl.dump_json(opt.work / "summary.json", {
        "format": "llm-lab-grading-batch/1", "batch": str(batch),
        "submissions": [{k: r.get(k) for k in ("submission", "points", "max_points", "error")}
                        | {"results": str(opt.work / n / "results.json") if "error" not in r else None}
                        for n, r in results.items()]})
    print(f"written: {opt.work / 'summary.csv'} (one row per submission; details in <work>/<name>/)")
    warn_unused_rules(weights)
    return 0


def write_summary(results: dict[str, dict], path: Path, lessons: list[Lesson]) -> None:
    cols: list[str] = []
    for r in results.values():
        for ls in r["lessons"]:
            for c in [f"{ls['lesson']}_status"] + [f"{ls['lesson']}_{s['suite']}" for s in ls["suites"]] \
                    + [f"{ls['lesson']}_total"]:
                if c not in cols:
                    cols.append(c)
    header = ["submission", "points", "max_points", "percent", "crashes", "timeouts"] + cols + ["error"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for name, r in results.items():
            row = {"submission": name, "points": gl.fmt_points(r["points"]),
                   "max_points": gl.fmt_points(r["max_points"]),
                   "percent": f"{100.0 * r['points'] / r['max_points']:.1f}" if r["max_points"] else "0.0",
                   "error": r.get("error", "")}
            all_cases = [c for ls in r["lessons"] for s in ls["suites"] for c in s["cases"]]
            row["crashes"] = sum(c["status"] == "crashed" for c in all_cases)
            row["timeouts"] = sum(c["status"] == "timeout" for c in all_cases)
            for ls in r["lessons"]:
                row[f"{ls['lesson']}_status"] = ls["status"]
                for s in ls["suites"]:
                    row[f"{ls['lesson']}_{s['suite']}"] = gl.fmt_points(s["points"])
                row[f"{ls['lesson']}_total"] = gl.fmt_points(ls["points"])
            w.writerow([row.get(c, "") for c in header])


def main(argv: list[str]) -> int:
    try:
        a = parse_args(argv)
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
