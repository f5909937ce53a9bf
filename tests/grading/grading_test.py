#!/usr/bin/env python3
# grading_test.py — tests of ./llm grade, progress and compare (tools/grade/) on submissions generated here:
# the pristine stubs (all fail, score 0, exit status 0), the reference (full score, hidden tests compiled
# in), one function that segfaults and one that never returns (only their cases lost, with the reason),
# one that does not compile (reported, the report still written), a batch (summary.csv), and compare's
# messages. Every grading shares one build folder (<work>/_build/slot1), so only the first builds the
# framework. Usage: grading_test.py --work DIR [--student-dump EXE --reference-dump EXE] SCENARIO
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(REPO / "tools" / "grade"))
import gradelib as gl  # noqa: E402

GRADE = [sys.executable, str(REPO / "tools" / "grade" / "grade.py")]
# The tools run as on a machine without PYTHONDONTWRITEBYTECODE: they must not leave __pycache__ behind.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
LESSONS = gl.discover_lessons()
LESSON = next(ls for ls in LESSONS if ls.name == "lesson04")  # the lesson most scenarios break on purpose


class Failure(Exception):
    pass


def check(cond: bool, what: str, context: str = "") -> None:
    if not cond:
        raise Failure(what + (f"\n--- context ---\n{context[-6000:]}" if context else ""))
    print(f"ok: {what}")


# ---------------------------------------------------------------------------------------------
# Generated submissions
# ---------------------------------------------------------------------------------------------

def lessons_copy(dest: Path, stubs: dict[str, bytes], others: str = "absent") -> Path:
    """A student's copy of lessons/: lesson 04's folder with its headers, given.cpp, tests, and these stubs.
    others: "absent" (the other lessons are not submitted) or "reference" (their folders hold the reference)."""
    if dest.exists():
        shutil.rmtree(dest)
    folders = {LESSON.dir: stubs}
    if others == "reference":
        for ls in LESSONS:
            if ls.name != LESSON.name:
                folders[ls.dir] = {s: (REPO / "solutions" / ls.dir / s).read_bytes() for s in ls.stubs}
    for lesson_dir, files in folders.items():
        folder = dest / lesson_dir
        shutil.copytree(REPO / "lessons" / lesson_dir, folder, ignore=shutil.ignore_patterns("bench", "*.md"))
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return dest


def pristine_stubs() -> dict[str, bytes]:
    return {s: gl.pristine_stub(LESSON, s) for s in LESSON.stubs}


def reference_stubs() -> dict[str, bytes]:
    return {s: (REPO / "solutions" / LESSON.dir / s).read_bytes() for s in LESSON.stubs}


def inject(source: bytes, signature: str, line: str, includes: str = "") -> bytes:
    text = source.decode()
    if signature not in text:
        raise Failure(f"cannot find {signature!r} in the reference sampler.cpp to break it on purpose")
    return (includes + text.replace(signature, signature + "\n" + line, 1)).encode()


def crash_and_hang_stubs() -> dict[str, bytes]:
    """The reference, except select_categorical() dereferences null, apply_temperature() lets an exception
    escape a noexcept function (std::terminate, SIGABRT) and apply_top_p() never returns when it has work
    to do (a sleeping loop, so the machine is not kept busy)."""
    stubs = reference_stubs()
    s = stubs["sampler.cpp"]
    s = inject(s, "void apply_temperature(std::span<float> logits, float temperature) {",
               "  if (temperature > 0.0f) [&]() noexcept { throw std::runtime_error(\"escaped on purpose\"); }();",
               includes="#include <stdexcept>\n")
    s = inject(s, "std::int32_t select_categorical(std::span<const float> logits, float u) {",
               "  if (u >= 0.0f) { volatile int* p = nullptr; *p = 42; }  // grading test: a segfault")
    s = inject(s, "void apply_top_p(std::span<float> logits, float top_p) {",
               "  while (top_p < 1.0f) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // grading test: a hang",
               includes="#include <chrono>\n#include <thread>\n")
    stubs["sampler.cpp"] = s
    return stubs


def broken_stubs() -> dict[str, bytes]:
    stubs = reference_stubs()
    stubs["causal_lm.cpp"] += b"\nint broken_on_purpose = ;  // grading test: a syntax error\n"
    return stubs


HIDDEN_TEST = r'''// A hidden test written by the grading test: the instructor's extra cases, same contract headers.
#include <doctest/doctest.h>

#include <vector>

#include "causal_lm.h"
#include "sampler.h"

TEST_CASE("hidden: greedy selection picks the largest logit") {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f};
  CHECK(llm::select_greedy(logits) == 1);
}

TEST_CASE("hidden: the lesson config builds one decoder block per layer") {
  const llm::CausalLM model(llm::ModelConfig::lesson(), 7);
  CHECK(model.layers.size() == 2);
}
'''


def hidden_dir(work: Path) -> Path:
    d = work / "hidden"
    (d / "lesson04").mkdir(parents=True, exist_ok=True)
    gl.write_if_different(d / "lesson04" / "hidden_test.cpp", HIDDEN_TEST.encode())
    return d


# ---------------------------------------------------------------------------------------------
# Running the grader and checking it kept its hands off the repository and the submission
# ---------------------------------------------------------------------------------------------

ARTEFACT = re.compile(r"(__pycache__|\.pyc$|CMakeCache\.txt|CMakeFiles|build\.ninja|\.ninja_|\.o$|\.a$|Testing|results\.json|"
                      r"junit.*\.xml|report\.txt|ctest.*\.(log|xml)|compile_commands\.json|summary\.(csv|json)|"
                      r"\.lock$|_caselist$|_student$|llm_lessons|build\.log)")


def repo_status() -> set[str]:
    """Untracked and ignored paths outside build/ (git status, read-only)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain=v1", "-uall", "--ignored"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    paths = set()
    for line in out.splitlines():
        path = line[3:]
        if line[:2] in ("??", "!!") and not path.startswith("build/"):
            paths.add(path)
    return paths


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        h.update(str(f.relative_to(folder)).encode())
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def grade(work: Path, submission: Path, *args: str, expect_rc: int = 0) -> tuple[dict | None, str]:
    before_repo = repo_status()
    before_sub = tree_hash(submission) if submission.is_dir() else submission.read_bytes()
    cmd = GRADE + [str(submission), "--work", str(work / "out"), "--build-dir", str(work / "_build" / "slot1"),
                   *args]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    print(f"graded {submission.name} in {time.monotonic() - start:.1f} s: exit status {p.returncode}")
    out = p.stdout + p.stderr
    check(p.returncode == expect_rc, f"exit status {expect_rc} for {submission.name}", out)
    new_artefacts = {x for x in repo_status() - before_repo if ARTEFACT.search(x)}
    check(not new_artefacts, "the grading wrote nothing into the repository's tree (git status)",
          "\n".join(sorted(new_artefacts)))
    after_sub = tree_hash(submission) if submission.is_dir() else submission.read_bytes()
    check(after_sub == before_sub, "the submission folder is unchanged")
    name = gl_name(submission)
    results = work / "out" / name / "results.json"
    return (json.loads(results.read_text()) if results.is_file() and expect_rc == 0 else None), out


def gl_name(path: Path) -> str:
    sys.path.insert(0, str(REPO / "tools" / "grade"))
    import grade as grade_module  # noqa: E402
    return grade_module.submission_name(path)


def cases(result: dict, suite: str | None = None, lesson: str | None = None) -> list[dict]:
    return [c for ls in result["lessons"] if lesson in (None, ls["lesson"])
            for s in ls["suites"] if suite in (None, s["suite"]) for c in s["cases"]]


def lesson_result(result: dict, name: str = "lesson04") -> dict:
    return next(ls for ls in result["lessons"] if ls["lesson"] == name)


def check_junit(path: Path, result: dict) -> None:
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    n = len(root.findall(".//testcase"))
    check(n == len(cases(result)), f"junit.xml has one testcase per case ({n})")
    bad = len(root.findall(".//failure")) + len(root.findall(".//error"))
    check(bad == sum(c["status"] not in ("passed", "skipped") for c in cases(result)),
          "junit.xml marks every lost case as a failure or an error")


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

def scenario_units(work: Path, _a) -> None:
    # Weights: the first matching rule wins; the default; unknown keys rejected.
    wfile = work / "weights.toml"
    wfile.parent.mkdir(parents=True, exist_ok=True)
    wfile.write_text('version = 1\ndefault = 0.5\n[[rule]]\nmatch = "lesson04/basic/step 1:*"\npoints = 3\n'
                     '[[rule]]\nmatch = "lesson04/*/step 1*"\npoints = 9\n[[rule]]\nmatch = "lesson09/*/x"\n'
                     'points = 1\n')
    w = gl.load_weights(wfile)
    check(w.points("lesson04/basic/step 1: members") == 3, "the first matching weights rule wins")
    check(w.points("lesson04/advanced/step 12: x") == 9, "a glob over suites matches (step 1* matches step 12)")
    check(w.points("lesson04/advanced/step 4: y") == 0.5, "a case no rule matches gets the default")
    check([r.match for r in w.unused_rules()] == ["lesson09/*/x"], "a rule that matched nothing is reported")
    check(gl.load_weights(gl.DEFAULT_WEIGHTS).default >= 0, "grading/weights.toml parses")
    for bad, why in (('defualt = 1\n', "a misspelt key"), ('[[rule]]\nmatch = "x"\npoints = 1\n', "a bare glob"),
                     ('[[rule]]\nmatch = "a/b/c"\npoints = -1\n', "negative points")):
        wfile.write_text(bad)
        try:
            gl.load_weights(wfile)
            raise Failure(f"weights with {why} were accepted")
        except gl.UsageError as e:
            check(True, f"weights with {why} are rejected: {e}")
    # ctest's console summary: the reason of each failure, names with commas and parentheses intact.
    console = ("The following tests FAILED:\n\t  3 - student/lesson04/basic/step 4: a, b (c) (SEGFAULT)\n"
               "\t  5 - student/lesson04/basic/step 7: x (Timeout)\n\t  6 - y (Subprocess aborted)\n")
    r = gl.parse_ctest_summary(console)
    check(r == {"student/lesson04/basic/step 4: a, b (c)": "SEGFAULT", "student/lesson04/basic/step 7: x": "Timeout",
                "y": "Subprocess aborted"}, "ctest's failure summary is parsed", str(r))
    # ctest's JUnit file + its console: skipped, aborted by an uncaught exception, failed, passed.
    junit = work / "ctest.xml"
    junit.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><testsuite>'
        '<testcase name="s" status="notrun"><skipped message="SKIP_REGULAR_EXPRESSION_MATCHED"/>'
        '<system-out>[llm-skip] stories260K not found</system-out></testcase>'
        '<testcase name="a" status="fail"><failure message=""/><system-out>terminate called after throwing an '
        "instance of 'std::runtime_error'\n  what():  boom\n</system-out></testcase>"
        '<testcase name="f" status="fail"><failure message=""/><system-out>/x/t.cpp:3: ERROR: CHECK( 1 == 2 ) '
        'is NOT correct!\n  values:\n    CHECK( 1 == 2 )\n</system-out></testcase>'
        '<testcase name="p" status="run" time="0.5"><system-out>ok</system-out></testcase></testsuite>')
    res = gl.parse_ctest_junit(junit, "The following tests FAILED:\n\t 2 - a (Subprocess aborted)\n\t 3 - f (Failed)\n",
                               5)
    check(res["s"].status == "skipped" and "stories260K" in res["s"].reason, "a [llm-skip] case is skipped")
    check(res["a"].status == "crashed" and "SIGABRT" in res["a"].reason and "boom" in res["a"].reason,
          "an abort names SIGABRT and the uncaught exception", res["a"].reason)
    check(res["f"].status == "failed" and res["f"].reason == "t.cpp:3: CHECK( 1 == 2 ) is NOT correct! values: "
          "CHECK( 1 == 2 )", "a failed check is the reason, with its values", res["f"].reason)
    check(res["p"].status == "passed" and res["p"].seconds == 0.5, "a passing case and its time")
    # doctest's first error line.
    out = ("/x/basic_test.cpp:65: ERROR: test case THREW exception: lesson04 step 1: build the members\n")
    check(gl.doctest_failure(out) == "basic_test.cpp:65: test case THREW exception: lesson04 step 1: build the members",
          "doctest's first error is the failure reason")
    check(gl.first_error("a\nfoo.cpp:3:1: error: expected ';'\nb.cpp:9: error: second\n") ==
          "foo.cpp:3:1: error: expected ';'", "the compiler's first error is reported")
    # The shapes of a submission.
    import grade as g
    subs = work / "shapes"
    lessons = gl.discover_lessons()
    one = subs / "my_lesson04_work"
    one.mkdir(parents=True, exist_ok=True)
    (one / "sampler.cpp").write_text("// mine\n")
    s = g.resolve_submission(one, lessons, "x", None, subs / "unpacked")
    lf = s.lessons["lesson04"]
    check(s.shape == "lesson folder lesson04" and lf.files["causal_lm.cpp"] is None and lf.files["sampler.cpp"],
          "a single lesson folder is recognised by its stub files; a missing stub is noted")
    full = lessons_copy(subs / "repo_copy" / "lessons", pristine_stubs()).parent
    s = g.resolve_submission(full, lessons, "x", None, subs / "unpacked")
    check(s.shape == "lessons folder" and s.lessons["lesson04"].submitted, "a whole repository copy is recognised")
    z = subs / "alice.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("alice/lesson04_kv_cache_causallm/causal_lm.cpp", "// alice\n")
    s = g.resolve_submission(z, lessons, "alice", None, subs / "unpacked-alice")
    check(s.shape == "lessons folder" and s.lessons["lesson04"].files["causal_lm.cpp"] is not None,
          "a zip wrapping a lessons folder is unpacked and recognised")
    import tarfile
    t = subs / "dave.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        tf.add(one, arcname="dave_lesson04")
    s = g.resolve_submission(t, lessons, "dave", None, subs / "unpacked-dave")
    check(s.shape == "lesson folder lesson04" and s.lessons["lesson04"].files["sampler.cpp"] is not None,
          "a .tar.gz of one lesson folder is unpacked and recognised")
    empty = subs / "empty"
    empty.mkdir(exist_ok=True)
    s = g.resolve_submission(empty, lessons, "e", None, subs / "unpacked-e")
    check(s.shape == "empty" and not s.lessons["lesson04"].submitted, "an empty folder is graded as not submitted")
    check(g.submission_name(Path("/x/Bob Smith.tar.gz")) == "Bob_Smith", "names are safe folder names")
    try:
        gl.check_work_dir(REPO / "lessons" / "out")
        raise Failure("a --work inside lessons/ was accepted")
    except gl.UsageError:
        check(True, "a --work inside the repository's tree (outside build/) is refused")


def scenario_pristine(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "pristine", pristine_stubs())
    result, out = grade(work, sub, "--timeout", "20", "--hidden", str(hidden_dir(work)))
    all_cases = cases(result)
    check(len(cases(result, "basic")) > 0 and len(cases(result, "advanced")) > 0, "both suites are graded", out)
    check(all(c["status"] != "passed" for c in all_cases), "no case passes against the pristine stubs", out)
    check(result["points"] == 0 and result["max_points"] > 0, "score 0 of a known total", out)
    check("TOTAL 0 /" in out and "lesson04" in out, "the score table is printed", out)
    reasons = {c["reason"] for c in all_cases}
    check(any("lesson04 step 1" in r for r in reasons), "the reason names the missing step", "\n".join(reasons))
    check_junit(work / "out" / "pristine" / "junit.xml", result)


def scenario_reference(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "reference", reference_stubs(), others="reference")
    # Without stories260K (offline, no LLM_REQUIRE_MODEL) its cases are skipped and left out of the total.
    no_model = gl.model_dir() is None and os.environ.get("LLM_REQUIRE_MODEL", "") in ("", "0")
    weights = work / "weights-reference.toml"
    weights.write_text('version = 1\n[[rule]]\nmatch = "lesson04/advanced/*"\npoints = 2\n'
                       '[[rule]]\nmatch = "lesson04/hidden/*"\npoints = 0.5\n')
    result, out = grade(work, sub, "--timeout", "60", "--hidden", str(hidden_dir(work)), "--weights", str(weights),
                        *(["--allow-missing-model"] if no_model else []))
    hidden = cases(result, "hidden")
    check(len(hidden) == 2 and all(c["status"] == "passed" for c in hidden),
          "the hidden tests are compiled in as the suite 'hidden' and pass", out)
    lost = [c for c in cases(result) if c["status"] != "passed" and not (no_model and c["status"] == "skipped")]
    check(not lost, "the reference passes every case", "\n".join(f"{c['id']}: {c['reason']}" for c in lost))
    counted = [c for c in cases(result) if c["status"] == "passed"]
    # The weights file: lesson04's advanced cases 2, its hidden ones 0.5, every other case the default 1.
    expected = sum({"advanced": 2, "hidden": 0.5}.get(c["id"].split("/")[1], 1) if c["id"].startswith("lesson04/")
                   else 1 for c in counted)
    check(result["points"] == result["max_points"] == expected > 0,
          f"full score, with the weights file's points (lesson04 advanced 2, hidden 0.5: {expected:g})", out)
    check(len(result["lessons"]) == len(LESSONS) >= 5, "every lesson is graded", out)
    lesson = lesson_result(result)
    check([s["suite"] for s in lesson["suites"]] == ["basic", "advanced", "hidden"], "basic, advanced and hidden "
          "subtotals", out)
    check_junit(work / "out" / "reference" / "junit.xml", result)


def scenario_crash_hang(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "crash-and-hang", crash_and_hang_stubs())
    result, out = grade(work, sub, "--suites", "basic", "--timeout", "3", "--hidden", str(hidden_dir(work)))
    basic = cases(result, "basic", "lesson04")
    by = {st: [c for c in basic if c["status"] == st] for st in ("passed", "crashed", "timeout", "failed")}
    segv = [c for c in by["crashed"] if "SIGSEGV" in c["reason"]]
    abrt = [c for c in by["crashed"] if "SIGABRT" in c["reason"] and "escaped on purpose" in c["reason"]]
    check(segv and abrt and len(segv) + len(abrt) == len(by["crashed"]),
          "a segfault is reported as SIGSEGV, an exception escaping into std::terminate as SIGABRT with its "
          "message", out)
    check(by["timeout"] and all("3 s" in c["reason"] and c["seconds"] < 15 for c in by["timeout"]),
          "a function that never returns costs its cases, stopped and reported as a 3 s timeout", out)
    check(len(by["passed"]) + len(by["crashed"]) + len(by["timeout"]) == len(basic),
          "every other case is still graded and passes", out)
    early = [c for c in basic if re.match(r"step [1-5]:", c["case"])]
    check(early and all(c["status"] == "passed" for c in early), "the steps before sampling all pass", out)
    check(result["points"] == len(by["passed"]), "the score counts exactly the passing cases (the lessons not "
          "submitted score 0)", out)
    check("CRASH" in out and "TIMEOUT" in out, "the table shows CRASH and TIMEOUT", out)


def scenario_not_compiling(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "does-not-compile", broken_stubs())
    result, out = grade(work, sub, "--timeout", "20", "--hidden", str(hidden_dir(work)))
    lesson = lesson_result(result)
    check(lesson["status"] == "does not compile", "the lesson is marked as not compiling", out)
    check("causal_lm.cpp" in lesson["first_error"] and "error" in lesson["first_error"],
          "the compiler's first error names the student's file", lesson["first_error"])
    check(all(c["status"] == "not built" and c["points"] == 0 for c in cases(result, lesson="lesson04")),
          "its cases are lost", out)
    check(result["max_points"] > 0 and len(cases(result, "hidden")) == 2,
          "the total is still known, hidden cases included", out)
    check("does not compile: submission:" in out, "the report shows the error", out)


def scenario_batch(work: Path, _a) -> None:
    batch = work / "subs" / "batch"
    if batch.exists():
        shutil.rmtree(batch)
    one = batch / "bob"  # one lesson folder, only sampler.cpp: causal_lm.cpp is graded as the stub
    one.mkdir(parents=True)
    (one / "sampler.cpp").write_bytes(reference_stubs()["sampler.cpp"])
    with zipfile.ZipFile(batch / "carol.zip", "w") as zf:  # an archive of a lessons folder, the pristine stubs
        for name, data in pristine_stubs().items():
            zf.writestr(f"lessons/{LESSON.dir}/{name}", data)
    before = tree_hash(batch)
    cmd = GRADE + ["--batch", str(batch), "--work", str(work / "out-batch"), "--build-root", str(work / "_build"),
                   "--jobs", "1", "--suites", "basic", "--timeout", "20", "--brief", "--hidden", str(hidden_dir(work))]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    out = p.stdout + p.stderr
    print(f"batch of 2 in {time.monotonic() - start:.1f} s")
    check(p.returncode == 0, "the batch exits with status 0", out)
    check(tree_hash(batch) == before, "the batch folder is unchanged")
    rows = {r["submission"]: r for r in csv.DictReader((work / "out-batch" / "summary.csv").open())}
    check(set(rows) == {"bob", "carol"}, "summary.csv has one row per submission", out)
    check(float(rows["carol"]["points"]) == 0, "carol (pristine, zipped) scores 0", str(rows))
    check(0 < float(rows["bob"]["points"]) < float(rows["bob"]["max_points"]),
          "bob (sampler only) gets the sampler cases and loses the model cases", str(rows))
    check(rows["bob"]["lesson04_basic"] == rows["bob"]["points"], "per-suite columns", str(rows))
    bob = json.loads((work / "out-batch" / "bob" / "results.json").read_text())
    check(lesson_result(bob)["files"]["causal_lm.cpp"].startswith("missing"), "the missing file is reported", out)


def scenario_progress(work: Path, _a) -> None:
    """progress on the shared grading build folder, with stubs staged here: first ones that do not compile,
    then the committed ones (the staged folder plays the student's lessons/; the TODO count reads lessons/)."""
    import grade as g
    tree = work / "_build" / "slot1" / "tree"
    lessons = gl.discover_lessons()

    def progress_with(stubs: dict[str, bytes], name: str) -> str:
        sub = g.resolve_submission(lessons_copy(work / "subs" / name, stubs), lessons, name, None, work / "tmp")
        with g.Slot(work / "_build" / "slot1") as slot:
            slot.stage(sub, lessons, hidden_dir(work))
            p = subprocess.run([sys.executable, str(REPO / "tools" / "grade" / "progress.py"), "--build-dir",
                                str(tree), "--timeout", "20"], capture_output=True, text=True, env=ENV)
        out = p.stdout + p.stderr
        check(p.returncode == 0, f"progress exits with status 0 ({name})", out)
        return out

    out = progress_with(broken_stubs(), "progress-broken")
    check(re.search(r"^lesson04 .*does not compile \(below\)$", out, re.M) is not None and
          re.search(r"^lesson04 does not compile: .*causal_lm\.cpp:\d+:\d+: error", out, re.M) is not None,
          "a lesson that does not compile is one row naming the compiler's first error", out)
    out = progress_with(pristine_stubs(), "progress-pristine")
    todos = sum(gl.count_todos(f.read_text()) for f in (REPO / "lessons" / LESSON.dir).glob("*.cpp"))
    m = re.search(r"^lesson04\s+(\d+) of (\d+)\s+(\d+) / (\d+) pass\s+(\d+) / (\d+) pass\s+basic: step 1:", out, re.M)
    check(m is not None, "progress prints one row per lesson: TODOs, basic and advanced passing, the next step", out)
    check(int(m.group(1)) == todos, f"the TODO count is the TODO(step markers in lessons/ ({todos})", out)
    check(m.group(3) == "0" and m.group(5) == "0" and int(m.group(4)) > 0, "no case passes on the stubs", out)


def scenario_compare(work: Path, a) -> None:
    compare = [sys.executable, str(REPO / "tools" / "grade" / "compare.py"), "lesson04", "-n", "6"]
    ref = a.reference_dump

    def run(student: Path, *extra: str) -> tuple[int, str]:
        p = subprocess.run(compare + ["--student-exe", str(student), "--reference-exe", str(ref), *extra],
                           capture_output=True, text=True, env=ENV)
        return p.returncode, p.stdout + p.stderr

    rc, out = run(ref)
    check(rc == 0 and "MATCH" in out and "identical: all 6 tokens" in out and "cache sizes match" in out,
          "the reference against itself matches: tokens, logits and cache", out)
    rc, out = run(ref, "--no-model")
    check(rc == 0 and "ModelConfig::lesson()" in out, "without the model the lesson config with seeded weights", out)
    # The student flavour as committed in CI is the pristine stubs (in a student's build it is their code).
    rc, out = run(a.student_dump)
    if "not implemented yet" in out:
        check(rc == 1 and "Traceback" not in out and re.search(r"is not implemented yet: lesson04 step \d+", out),
              "an unfinished step is named, without a stack trace", out)
    # Fake students: recorded reference output, changed; and a program that dies in forward().
    lines = subprocess.run([str(ref), "-n", "6"], capture_output=True, text=True).stdout.splitlines()
    objs = [json.loads(x) for x in lines]
    for o in objs:
        if o["stage"] == "generate":
            o["tokens"][len(o["tokens"]) - 3] = (o["tokens"][-3] + 1) % 500
            o["pieces"] = []
        if o["stage"] == "forward":
            o["logits"][1][0] = float(o["logits"][1][0]) + 0.5
    fake = work / "fake_student.sh"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + "\n".join(json.dumps(o) for o in objs) + "\nEOF\n")
    fake.chmod(0o755)
    rc, out = run(fake)
    check(rc == 1 and "first divergence at new token 3" in out, "the first diverging token is shown", out)
    check(re.search(r"^\s+1\s.*0\.5\s.*DIFFERENT", out, re.M) is not None,
          "the max |logit difference| of each position is shown", out)
    crash = work / "fake_crash.sh"
    crash.write_text("#!/bin/sh\n" + "".join(f"echo '{json.dumps(o)}'\n" for o in objs[:2]) + "kill -SEGV $$\n")
    crash.chmod(0o755)
    rc, out = run(crash)
    check(rc == 1 and "crashed with SIGSEGV in your forward()" in out, "a crash is named with its signal and step",
          out)


def scenario_compare_probes(work: Path, a) -> None:
    """compare for a probe lesson (lesson 02): the reference against itself, the stubs, a changed value, a crash."""
    compare = [sys.executable, str(REPO / "tools" / "grade" / "compare.py"), "lesson02"]
    ref = a.reference_dump

    def run(student: Path) -> tuple[int, str]:
        p = subprocess.run(compare + ["--student-exe", str(student), "--reference-exe", str(ref)],
                           capture_output=True, text=True, env=ENV)
        return p.returncode, p.stdout + p.stderr

    rc, out = run(ref)
    check(rc == 0 and "MATCH: your code computes" in out and "DIFFERENT" not in out,
          "the reference against itself matches on every probe", out)
    rc, out = run(a.student_dump)
    if "not implemented yet" in out:
        check(rc == 1 and "Traceback" not in out and re.search(r"not implemented yet: lesson02 step 1:", out),
              "an unfinished step is named per probe, without a stack trace", out)
    lines = subprocess.run([str(ref)], capture_output=True, text=True).stdout.splitlines()
    objs = [json.loads(x) for x in lines]
    target = next(o for o in objs if o.get("probe", "").startswith("repeat_kv"))
    target["values"][5] = float(target["values"][5]) + 0.25
    fake = work / "fake_probes.sh"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + "\n".join(json.dumps(o) for o in objs) + "\nEOF\n")
    fake.chmod(0o755)
    rc, out = run(fake)
    check(rc == 1 and re.search(r"repeat_kv.*max \|yours - reference\| = 0\.25 at index 5.*DIFFERENT", out),
          "a changed value is shown with its probe, size and index", out)
    cut = next(i for i, o in enumerate(objs) if o.get("start", "").startswith("GQA attention"))
    crash = work / "fake_probes_crash.sh"
    crash.write_text("#!/bin/sh\n" + "".join(f"echo '{json.dumps(o)}'\n" for o in objs[:cut + 1]) + "kill -SEGV $$\n")
    crash.chmod(0o755)
    rc, out = run(crash)
    check(rc == 1 and re.search(r"GQA attention, no mask.*your code crashed with SIGSEGV here", out)
          and "did not run (crashed with SIGSEGV earlier)" in out, "a crash is blamed on the probe that was running", out)


SCENARIOS = {"units": scenario_units, "pristine": scenario_pristine, "reference": scenario_reference,
             "crash-and-hang": scenario_crash_hang, "does-not-compile": scenario_not_compiling,
             "batch": scenario_batch, "progress": scenario_progress, "compare": scenario_compare,
             "compare-probes": scenario_compare_probes}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--student-dump", type=Path)
    ap.add_argument("--reference-dump", type=Path)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        SCENARIOS[a.scenario](a.work.resolve(), a)
    except Failure as e:
        print(f"FAILED: {e}")
        return 1
    print(f"{a.scenario}: all checks passed in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
