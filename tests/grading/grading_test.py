#!/usr/bin/env python3
# grading_test.py — tests of ./llm grade, progress and compare (tools/grade/) on submissions generated here:
# the pristine stubs (every case fails, score 0), the reference (full score, hidden tests compiled in),
# crashes and hangs, code that does not compile, batches, and one crafted submission per attack on the
# grade (early exit, _exit from a destructor, a fake success line, a daemon, writes into the build tree,
# reading the hidden tests, a 2 GiB allocation, an endless static initialiser, forbidden symbols, a fake
# skip, a symlink out of the submission, an attacker graded before a victim in the same slot), each with
# its exact score and reason; the sandbox on its own; reused build folders; Gradescope and Classroom.
# Every grading shares one build folder (<work>/_build/slot1), so only the first builds the framework.
# Usage: grading_test.py --work DIR --build-dir BUILD [--student-dump EXE --reference-dump EXE] SCENARIO
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ in the repository's tree
sys.path.insert(0, str(REPO / "tools" / "grade"))
import cases as cs  # noqa: E402
import gradelib as gl  # noqa: E402
import report as rp  # noqa: E402
import submission as sb  # noqa: E402
import symbols  # noqa: E402
from sandbox import Limits, Sandbox  # noqa: E402

GRADE = [sys.executable, str(REPO / "tools" / "grade" / "grade.py")]
# The tools run as on a machine without PYTHONDONTWRITEBYTECODE: they must not leave __pycache__ behind.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
LESSONS: list[gl.Lesson] = []  # read from --build-dir's manifests in main()


class Failure(Exception):
    pass


def check(cond: bool, what: str, context: str = "") -> None:
    if not cond:
        raise Failure(what + (f"\n--- context ---\n{context[-6000:]}" if context else ""))
    print(f"ok: {what}")


def lesson(name: str) -> gl.Lesson:
    return gl.lesson_by_name(LESSONS, name)


# ---------------------------------------------------------------------------------------------
# Generated submissions
# ---------------------------------------------------------------------------------------------

def pristine_stubs(name: str = "lesson04") -> dict[str, bytes]:
    return {s: gl.pristine_stub(lesson(name), s) for s in lesson(name).stubs}


def reference_stubs(name: str = "lesson04") -> dict[str, bytes]:
    return {s: (REPO / "solutions" / lesson(name).dir / s).read_bytes() for s in lesson(name).stubs}


def lessons_copy(dest: Path, stubs: dict[str, bytes], name: str = "lesson04", others: str = "absent") -> Path:
    """A student's copy of lessons/: lesson `name`'s folder (headers, given.cpp, tests) with these stubs.
    others: "absent" (the other lessons are not submitted) or "reference" (their folders hold the reference)."""
    if dest.exists():
        shutil.rmtree(dest)
    folders = {lesson(name).dir: stubs}
    if others == "reference":
        folders |= {ls.dir: reference_stubs(ls.name) for ls in LESSONS if ls.name != name}
    for lesson_dir, files in folders.items():
        shutil.copytree(REPO / "lessons" / lesson_dir, dest / lesson_dir, ignore=shutil.ignore_patterns("bench", "*.md"))
        for file, data in files.items():
            (dest / lesson_dir / file).write_bytes(data)
    return dest


def inject(source: bytes, signature: str, line: str, includes: str = "") -> bytes:
    text = source.decode()
    if signature not in text:
        raise Failure(f"cannot find {signature!r} in the source to break it on purpose")
    return (includes + text.replace(signature, signature + "\n" + line, 1)).encode()


def crash_and_hang_stubs() -> dict[str, bytes]:
    """The reference, except select_categorical() dereferences null, apply_temperature() lets an exception
    escape a noexcept function (std::terminate, SIGABRT) and apply_top_p() never returns when it has work
    to do (a busy loop, stopped by the case timeout)."""
    stubs = reference_stubs()
    s = stubs["sampler.cpp"]
    s = inject(s, "void apply_temperature(std::span<float> logits, float temperature) {",
               "  if (temperature > 0.0f) [&]() noexcept { throw std::runtime_error(\"escaped on purpose\"); }();",
               includes="#include <stdexcept>\n")
    s = inject(s, "std::int32_t select_categorical(std::span<const float> logits, float u) {",
               "  if (u >= 0.0f) { volatile int* p = nullptr; *p = 42; }  // grading test: a segfault")
    s = inject(s, "void apply_top_p(std::span<float> logits, float top_p) {",
               "  for (volatile int spin = 0; top_p < 1.0f;) spin = spin + 1;  // grading test: a hang")
    stubs["sampler.cpp"] = s
    return stubs


def broken_stubs() -> dict[str, bytes]:
    stubs = reference_stubs()
    stubs["causal_lm.cpp"] += b"\nint broken_on_purpose = ;  // grading test: a syntax error\n"
    return stubs


HIDDEN_TESTS = {
    "lesson04": r'''// A hidden test written by the grading test: the instructor's extra cases, same contract headers.
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
''',
    "lesson02": r'''// A hidden test of lesson 02 whose message holds an answer key the students must never see.
#include <doctest/doctest.h>

#include "norm.h"

TEST_CASE("hidden: RMSNorm of a constant row is its weight") {
  const llm::RMSNorm norm(4, 1e-6f);
  const llm::Tensor y = norm.forward(llm::Tensor(llm::Shape{1, 4}, 3.0f));
  CHECK_MESSAGE(y.data()[0] == doctest::Approx(1.0f), "HIDDEN-ANSWER-KEY-7781");
}
'''}


def hidden_dir(work: Path) -> Path:
    d = work / "hidden"
    for name, text in HIDDEN_TESTS.items():
        gl.write_if_different(d / name / "hidden_test.cpp", text.encode())
    return d


# Plain C++ RMSNorm and LayerNorm (no Eigen: quick to compile); {attack} is code run first in RMSNorm.
NORM_CPP = r'''// norm.cpp written by the grading test.
#include "norm.h"

#include <cmath>
{includes}
#include "llm/errors.h"

namespace llm {{
{globals}
static Tensor normalise(const Tensor& x, const Tensor& weight, float eps, bool centre) {{
  if (weight.rank() != 1 || x.rank() < 1 || x.size(x.rank() - 1) != weight.size(0))
    fail<ShapeError>("norm: input ", x.shape().str(), " and weight ", weight.shape().str(), " disagree");
  Tensor y = x;
  const Index c = weight.size(0);
  for (Index r = 0; r < y.numel() / c; ++r) {{
    float* row = y.data() + r * c;
    float mean = 0.0f, ss = 0.0f;
    for (Index i = 0; i < c; ++i) mean += centre ? row[i] / static_cast<float>(c) : 0.0f;
    for (Index i = 0; i < c; ++i) ss += (row[i] - mean) * (row[i] - mean);
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(c) + eps);
    for (Index i = 0; i < c; ++i) row[i] = (row[i] - mean) * inv * weight.data()[i];
  }}
  return y;
}}

Tensor RMSNorm::forward(const Tensor& x) const {{
{attack}
  return normalise(x, weight, eps, false);
}}

Tensor LayerNorm::forward(const Tensor& x) const {{
{layer_norm}
  throw NotImplemented("lesson02 step 2: LayerNorm (biased variance, weight and bias)");
}}

}}  // namespace llm
'''


def norm_cpp(attack: str = "", includes: str = "", globals_: str = "", layer_norm: str = "") -> bytes:
    return NORM_CPP.format(attack=attack, includes=includes, globals=globals_, layer_norm=layer_norm).encode()


def lesson02_with(norm: bytes) -> dict[str, bytes]:
    return pristine_stubs("lesson02") | {"norm.cpp": norm}


# ---------------------------------------------------------------------------------------------
# Running the grader and checking it kept its hands off the repository and the submission
# ---------------------------------------------------------------------------------------------

ARTEFACT = re.compile(r"(__pycache__|\.pyc$|CMakeCache\.txt|CMakeFiles|build\.ninja|\.ninja_|\.o$|\.a$|Testing|results\.json|"
                      r"junit.*\.xml|report\.txt|ctest.*\.(log|xml)|compile_commands\.json|summary\.(csv|json)|"
                      r"\.lock$|_caselist$|_student$|llm_lessons|build\.log)")


def repo_status() -> set[str]:
    """Untracked and ignored paths outside build/ (git status, read-only)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "-c", "core.quotePath=false", "status", "--porcelain=v1", "-uall",
                              "--ignored"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line[3:] for line in out.splitlines() if line[:2] in ("??", "!!") and not line[3:].startswith("build/")}


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        h.update(str(f.relative_to(folder)).encode())
        if f.is_file() and not f.is_symlink():
            h.update(f.read_bytes())
    return h.hexdigest()


def run_grader(args: list[str], expect_rc: int = 0, env: dict | None = None) -> str:
    before = repo_status()
    start = time.monotonic()
    p = subprocess.run(GRADE + args, capture_output=True, text=True, env=env or ENV)
    print(f"grade.py {' '.join(a for a in args if not a.startswith('/'))}: {time.monotonic() - start:.1f} s, "
          f"exit status {p.returncode}")
    out = p.stdout + p.stderr
    check(p.returncode == expect_rc, f"exit status {expect_rc}", out)
    new = {x for x in repo_status() - before if ARTEFACT.search(x)}
    check(not new, "the grading wrote nothing into the repository's tree (git status)", "\n".join(sorted(new)))
    return out


def grade(work: Path, submission: Path, *args: str, expect_rc: int = 0) -> tuple[dict | None, str]:
    before = tree_hash(submission) if submission.is_dir() else submission.read_bytes()
    out = run_grader([str(submission), "--work", str(work / "out"), "--build-dir", str(work / "_build" / "slot1"),
                      *args], expect_rc)
    check((tree_hash(submission) if submission.is_dir() else submission.read_bytes()) == before,
          "the submission folder is unchanged")
    results = work / "out" / sb.submission_name(submission) / "results.json"
    return (json.loads(results.read_text()) if results.is_file() and expect_rc == 0 else None), out


def batch(work: Path, subs: dict[str, dict[str, bytes] | Path], name: str, *args: str) -> dict[str, dict]:
    """Grades lesson-02 submissions (name -> stubs, or a prepared path) as one batch in the shared slot, one at a
    time in name order; returns each one's results.json."""
    folder = work / "subs" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for sub, stubs in subs.items():
        if isinstance(stubs, Path):
            shutil.copytree(stubs, folder / sub, symlinks=True)
        else:
            lessons_copy(folder / sub, stubs, "lesson02")
    out = run_grader(["--batch", str(folder), "--work", str(work / name), "--build-root", str(work / "_build"),
                      "--jobs", "1", "--lessons", "lesson02", "--brief", *args])
    rows = {r["submission"]: r for r in csv.DictReader((work / name / "summary.csv").open(encoding="utf-8"))}
    check(len(rows) == len(subs), f"summary.csv has one row per submission ({len(subs)})", out)
    return {n: json.loads((work / name / n / "results.json").read_text()) | {"row": rows[n]} for n in rows}


def cases(result: dict, suite: str | None = None, lesson_name: str | None = None) -> list[dict]:
    return [c for ls in result["lessons"] if lesson_name in (None, ls["lesson"])
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
# Scenarios without a build
# ---------------------------------------------------------------------------------------------

def scenario_units(work: Path, _a) -> None:
    # Weights: the first matching rule wins; the default; unknown keys rejected.
    wfile = work / "weights.toml"
    wfile.parent.mkdir(parents=True, exist_ok=True)
    wfile.write_text('version = 1\ndefault = 0.5\n[[rule]]\nmatch = "lesson04/basic/step 1:*"\npoints = 3\n'
                     '[[rule]]\nmatch = "lesson04/*/step 1*"\npoints = 9\n[[rule]]\nmatch = "lesson09/*/x"\n'
                     'points = 1\n')
    w = rp.load_weights(wfile)
    check(w.points("lesson04/basic/step 1: members") == 3, "the first matching weights rule wins")
    check(w.points("lesson04/advanced/step 12: x") == 9, "a glob over suites matches (step 1* matches step 12)")
    check(w.points("lesson04/advanced/step 4: y") == 0.5, "a case no rule matches gets the default")
    check([r.match for r in w.unused_rules()] == ["lesson09/*/x"], "a rule that matched nothing is reported")
    check(rp.load_weights(rp.DEFAULT_WEIGHTS).default >= 0, "grading/weights.toml parses")
    for bad, why in (('defualt = 1\n', "a misspelt key"), ('[[rule]]\nmatch = "x"\npoints = 1\n', "a bare glob"),
                     ('[[rule]]\nmatch = "a/b/c"\npoints = -1\n', "negative points")):
        wfile.write_text(bad)
        try:
            rp.load_weights(wfile)
            raise Failure(f"weights with {why} were accepted")
        except gl.UsageError as e:
            check(True, f"weights with {why} are rejected: {e}")

    # The verdict: positive evidence only.
    def report(body: str, summary: str = '<OverallResultsTestCases successes="1" failures="0"/>') -> bytes:
        return (f'<?xml version="1.0"?><doctest><TestSuite><TestCase name="c, d" filename="t.cpp" line="3">{body}'
                f'</TestCase></TestSuite>{summary}</doctest>').encode()
    ok = '<OverallResultsAsserts successes="2" failures="0" test_case_success="true"/>'
    v = cs.verdict
    check(v("c, d", 0, False, report(ok), 5).status == "passed", "a complete report with passing checks and "
          "exit status 0 passes")
    check(v("c, d", 0, False, None, 5).reason.startswith("ended before its case did"),
          "no report (exit() or _exit() before doctest finished): lost, and the reason says so")
    check(v("c, d", 0, False, report(ok)[:-30], 5).status == "error", "a truncated report is lost")
    check("ran no assertion" in v("c, d", 0, False, report(ok.replace('"2"', '"0"')), 5).reason,
          "a case without a passing assertion (a skip) is lost")
    check(v("c, d", 3, False, report(ok), 5).status == "error", "a passing report with a non-zero exit is lost")
    check(v("other", 0, False, report(ok), 5).status == "error", "a report of another case does not count")
    fail = ('<Expression success="false" type="CHECK" filename="/x/t.cpp" line="9"><Original>a == b</Original>'
            '<Expanded>1 == 2</Expanded><Info>the info</Info></Expression>'
            '<OverallResultsAsserts successes="1" failures="1" test_case_success="false"/>')
    check(v("c, d", 1, False, report(fail), 5).reason ==
          "t.cpp:9: CHECK( a == b ) is NOT correct! values: CHECK( 1 == 2 ) | the info",
          "a failed check is the reason, with its values and its INFO")
    crash = '<Exception crash="true">SIGSEGV - Segmentation violation signal</Exception>'
    check(v("c, d", -11, False, report(crash), 5).reason == "crashed: SIGSEGV - Segmentation violation signal",
          "a crash is named by doctest's signal text")
    check("uncaught exception: boom" in v("c, d", -6, False, None, 5, "terminate called\n  what():  boom\n").reason,
          "an exception escaping into std::terminate is named")
    check(v("c, d", 0, True, None, 5).reason == "timeout: stopped after 5 s (per-case limit)", "a timeout")
    check(cs.doctest_filter("a, b\\c") == "a\\, b\\\\c", "commas and backslashes are escaped for --test-case")

    # Symbols: the outermost namespace of mangled names.
    for mangled, ns in (("_ZN3llm7RMSNorm7forwardERKNS_6TensorE", "llm"), ("_ZNSt6vectorIfSaIfEE9push_backEOf", "std"),
                        ("_Znwm", "operator new/delete"), ("_ZTVN10__cxxabiv117__class_type_infoE", "__cxxabiv1"),
                        ("_ZNKSt13runtime_error4whatEv", "std"), ("_ZN7doctest6detail3fooEv", "doctest"),
                        ("exit", None)):
        check(symbols.top_namespace(mangled) == ns, f"{mangled} is in namespace {ns}")

    # Submissions: names, shapes, archives, links out of the submission.
    subs = work / "shapes"
    if subs.exists():
        shutil.rmtree(subs)
    names = sb.unique_names([Path("/x/张三"), Path("/x/李四.zip"), Path("/x/Bob Smith.tar.gz"), Path("/x/Bob_Smith")])
    check(set(names) == {"张三", "李四", "Bob_Smith", next(n for n in names if n.startswith("Bob_Smith-"))},
          "non-ASCII names are kept; a name that had to change gets a hash suffix, so all stay distinct", str(names))
    one = subs / "my_lesson04_work"
    one.mkdir(parents=True)
    (one / "sampler.cpp").write_text("// mine\n")
    s = sb.resolve(one, LESSONS, "x", None, subs / "unpacked")
    lf = s.lessons["lesson04"]
    check(s.shape == "lesson folder lesson04" and lf.files["causal_lm.cpp"] is None and lf.files["sampler.cpp"],
          "a single lesson folder is recognised by its stub files; a missing stub is noted")
    full = lessons_copy(subs / "repo_copy" / "lessons", pristine_stubs()).parent
    s = sb.resolve(full, LESSONS, "x", None, subs / "unpacked")
    check(s.shape == "lessons folder" and s.lessons["lesson04"].submitted, "a whole repository copy is recognised")
    z = subs / "alice.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("alice/lesson04_kv_cache_causallm/causal_lm.cpp", "// alice\n")
    s = sb.resolve(z, LESSONS, "alice", None, subs / "unpacked-alice")
    check(s.shape == "lessons folder" and s.lessons["lesson04"].files["causal_lm.cpp"] is not None,
          "a zip wrapping a lessons folder is unpacked and recognised")
    t = subs / "dave.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        tf.add(one, arcname="dave_lesson04")
    s = sb.resolve(t, LESSONS, "dave", None, subs / "unpacked-dave")
    check(s.shape == "lesson folder lesson04" and s.lessons["lesson04"].files["sampler.cpp"] is not None,
          "a .tar.gz of one lesson folder is unpacked and recognised")
    linked = subs / "eve" / "lesson04_kv_cache_causallm"
    linked.mkdir(parents=True)
    (linked / "sampler.cpp").symlink_to("/etc/hostname")
    (linked / "mine.cpp").write_text("// the student's own file\n")
    (linked / "causal_lm.cpp").symlink_to(linked / "mine.cpp")
    s = sb.resolve(subs / "eve", LESSONS, "eve", None, subs / "unpacked-eve")
    check(s.lessons["lesson04"].refused.startswith("sampler.cpp is a link to /etc/hostname, outside the submission")
          and "causal_lm.cpp" not in s.lessons["lesson04"].refused,
          "a stub linking outside the submission is refused by name; a link inside it is fine",
          s.lessons["lesson04"].refused)
    empty = subs / "empty"
    empty.mkdir()
    s = sb.resolve(empty, LESSONS, "e", None, subs / "unpacked-e")
    check(s.shape == "empty" and not s.lessons["lesson04"].submitted, "an empty folder is graded as not submitted")
    for bad in (REPO / "lessons" / "out", REPO / "out"):
        try:
            gl.check_work_dir(bad)
            raise Failure(f"a --work of {bad} was accepted")
        except gl.UsageError:
            check(True, f"--work {bad.relative_to(REPO)} (the repository's own tree) is refused")
    fake = work / "fake-repo"  # where a CLion user builds: <repo>/cmake-build-debug, a CMake build folder
    (fake / "cmake-build-debug").mkdir(parents=True, exist_ok=True)
    (fake / "cmake-build-debug" / "CMakeCache.txt").write_text("")
    real, gl.REPO = gl.REPO, fake
    try:
        gl.check_work_dir(fake / "cmake-build-debug" / "grading-test")
        check(True, "a --work inside a CMake build folder in the repository (CLion's cmake-build-debug) is accepted")
    finally:
        gl.REPO = real

    # The formats of results.json.
    result = {"submission": "s", "submission_path": "/s", "points": 3.0, "max_points": 5.0, "seconds": 1.2,
              "notes": [], "lessons": [{"lesson": "lesson02", "status": "graded", "first_error": "", "points": 3.0,
                                        "suites": [{"suite": s, "cases": [
                                            {"case": f"{s} case", "status": st, "reason": why, "points": p,
                                             "max_points": 1.0 if s != "advanced" else 3.0, "output": out,
                                             "seconds": 0.1}]} for s, st, why, p, out in (
                                            ("basic", "passed", "", 1.0, ""), ("advanced", "passed", "", 2.0, ""),
                                            ("hidden", "failed", cs.HIDDEN_REASONS["failed"], 0.0, ""))]}]}
    g = rp.gradescope(result, "after_published")
    hidden_test = next(t for t in g["tests"] if "hidden" in t["name"])
    check(g["score"] == 3.0 and len(g["tests"]) == 3 and hidden_test["visibility"] == "after_published"
          and hidden_test["max_score"] == 1.0 and hidden_test["status"] == "failed",
          "Gradescope's results.json: score, one test per case, hidden cases after_published", json.dumps(g))
    c = rp.classroom(result)
    check(c["max_score"] == 5.0 and sum(t["score"] for t in c["tests"]) == 3.0 and c["status"] == "fail",
          "GitHub Classroom's payload: max_score and per-test scores", json.dumps(c))


def scenario_sandbox(work: Path, _a) -> None:
    """The sandbox on its own, with programs that are not student code: what a test process may not do."""
    box = Sandbox(True, Limits(memory_mb=1024, cpu_s=2, file_mb=1, processes=16))
    box.check()
    secret = work / "sandbox" / "secret"
    shared = work / "sandbox" / "rw"
    for d in (secret, shared):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    (secret / "answer.txt").write_text("42\n")
    box.prepare_writable(shared)
    marker = f"llm-daemon-{os.getpid()}"

    def sh(script: str, timeout: float = 20) -> tuple[int, str]:
        out = work / "sandbox" / "out.txt"
        rc, timed_out, _ = box.run(["/bin/sh", "-c", script], ro=[], rw=[shared], env={}, timeout=timeout, output=out)
        return (124 if timed_out else rc), out.read_text(errors="replace")

    rc, out = sh(f"cat {secret}/answer.txt; echo rc=$?")
    check("42" not in out and "rc=1" in out, "folders not given to the sandbox are invisible (the hidden tests)", out)
    rc, out = sh(f"echo x > {REPO}/README.md; echo x > {shared}/ok && echo wrote", 20)
    check("wrote" in out and (REPO / "README.md").read_text().startswith("# LLM Lab"),
          "only the folder given read-write can be written", out)
    rc, out = sh("id -u; python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 80), 2)' 2>&1 | tail -1")
    check(("65534" in out.split()[0]) == (os.geteuid() == 0) and "unreachable" in out.lower(),
          "no network; as root the process runs as nobody", out)
    rc, out = sh(f"(exec -a {marker} sleep 60) & (setsid sh -c 'exec -a {marker} sleep 61' &) ; echo started", 20)
    time.sleep(0.5)
    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    check("started" in out and not alive, "nothing it starts outlives it (PID namespace), setsid daemons included",
          " ".join(alive))
    rc, out = sh("python3 -c 'bytearray(2 << 30)' 2>&1 | tail -1")
    check("MemoryError" in out, "a 2 GiB allocation fails (address-space limit)", out)
    rc, out = sh(f"head -c 3000000 /dev/zero > {shared}/big; echo status=$?")
    check("status=0" not in out and (shared / "big").stat().st_size <= 1 << 20, "a file beyond the size limit stops",
          out)
    rc, out = sh("n=0; while [ $n -lt 60 ]; do sleep 5 & n=$((n+1)); done 2>&1 | tail -1; echo done")
    check(("fork" in out.lower() or "resource" in out.lower()) == (os.geteuid() == 0),
          "as root, the process limit stops a fork bomb (as a user it counts all of the user's processes)", out)
    start = time.monotonic()
    rc, out = sh("while :; do :; done", 20)
    check(rc == -24 and time.monotonic() - start < 15, "the CPU-time limit stops a busy loop (SIGXCPU)", f"{rc} {out}")
    rc, out = sh("sleep 30", 1)
    check(rc == 124, "the wall-clock timeout stops a sleeping process", str(rc))


# ---------------------------------------------------------------------------------------------
# Scenarios on the shared build folder
# ---------------------------------------------------------------------------------------------

def scenario_pristine(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "pristine", pristine_stubs("lesson02"), "lesson02")
    result, out = grade(work, sub, "--timeout", "20", "--hidden", str(hidden_dir(work)), "--lessons", "lesson02")
    all_cases = cases(result)
    check({s["suite"] for s in lesson_result(result, "lesson02")["suites"]} == {"basic", "advanced", "hidden"},
          "the basic, advanced and hidden suites are graded", out)
    check(all(c["status"] != "passed" for c in all_cases), "no case passes against the pristine stubs", out)
    check(result["points"] == 0 and result["max_points"] == len(all_cases) > 40, "score 0 of a known total", out)
    check("TOTAL 0 /" in out and "lesson02" in out and "sandbox: bubblewrap" in out, "the score table is printed", out)
    reasons = {c["reason"] for c in all_cases}
    check(any("lesson02 step 1" in r for r in reasons), "the reason names the missing step", "\n".join(reasons))
    check_junit(work / "out" / "pristine" / "junit.xml", result)


def scenario_reference(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "reference", reference_stubs(), others="reference")
    weights = work / "weights-reference.toml"
    weights.write_text('version = 1\n[[rule]]\nmatch = "lesson04/advanced/*"\npoints = 2\n'
                       '[[rule]]\nmatch = "lesson04/hidden/*"\npoints = 0.5\n')
    result, out = grade(work, sub, "--timeout", "60", "--hidden", str(hidden_dir(work)), "--weights", str(weights))
    hidden = cases(result, "hidden")
    check(len(hidden) == 3 and all(c["status"] == "passed" for c in hidden),
          "the hidden tests are compiled in as the suite 'hidden' and pass", out)
    lost = [c for c in cases(result) if c["status"] != "passed"]
    check(not lost, "the reference passes every case of every lesson, the model's included",
          "\n".join(f"{c['id']}: {c['reason']}" for c in lost))
    expected = sum({"advanced": 2, "hidden": 0.5}.get(c["id"].split("/")[1], 1) if c["id"].startswith("lesson04/")
                   else 1 for c in cases(result))
    check(result["points"] == result["max_points"] == expected > 0,
          f"full score, with the weights file's points (lesson04 advanced 2, hidden 0.5: {expected:g})", out)
    check(len(result["lessons"]) == len(LESSONS) >= 5 and all(not ls["problems"] for ls in result["lessons"]),
          "every lesson is graded and the reference passes the symbol check", out)
    check_junit(work / "out" / "reference" / "junit.xml", result)


def scenario_crash_hang(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "crash-and-hang", crash_and_hang_stubs())
    result, out = grade(work, sub, "--suites", "basic", "--timeout", "3", "--lessons", "lesson04")
    basic = cases(result, "basic", "lesson04")
    by = {st: [c for c in basic if c["status"] == st] for st in ("passed", "crashed", "timeout", "failed")}
    segv = [c for c in by["crashed"] if "SIGSEGV" in c["reason"]]
    abrt = [c for c in by["crashed"] if "SIGABRT" in c["reason"] and "escaped on purpose" in c["reason"]]
    check(segv and abrt and len(segv) + len(abrt) == len(by["crashed"]),
          "a segfault is reported as SIGSEGV, an exception escaping into std::terminate as SIGABRT with its message",
          out)
    check(by["timeout"] and all("3 s" in c["reason"] and c["seconds"] < 15 for c in by["timeout"]),
          "a function that never returns costs its cases, stopped and reported as a 3 s timeout", out)
    check(len(by["passed"]) + len(by["crashed"]) + len(by["timeout"]) == len(basic),
          "every other case is still graded and passes", out)
    early = [c for c in basic if re.match(r"step [1-5]:", c["case"])]
    check(early and all(c["status"] == "passed" for c in early), "the steps before sampling all pass", out)
    check(result["points"] == len(by["passed"]), "the score counts exactly the passing cases", out)
    check("CRASH" in out and "TIMEOUT" in out, "the table shows CRASH and TIMEOUT", out)


def scenario_not_compiling(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "does-not-compile", broken_stubs())
    result, out = grade(work, sub, "--timeout", "20", "--hidden", str(hidden_dir(work)), "--lessons", "lesson04")
    ls = lesson_result(result)
    check(ls["status"] == "does not compile", "the lesson is marked as not compiling", out)
    check("causal_lm.cpp" in ls["first_error"] and "error" in ls["first_error"],
          "the compiler's first error names the student's file", ls["first_error"])
    check(all(c["status"] == "not built" and c["points"] == 0 for c in cases(result, lesson_name="lesson04")),
          "its cases are lost", out)
    check(result["max_points"] > 0 and len(cases(result, "hidden")) == 2, "the total is still known, hidden cases "
          "included", out)
    check("does not compile: submission:" in out, "the report shows the error", out)


def scenario_batch(work: Path, _a) -> None:
    folder = work / "subs" / "batch"
    if folder.exists():
        shutil.rmtree(folder)
    bob = folder / "bob"  # one lesson folder, only sampler.cpp: causal_lm.cpp is graded as the stub
    bob.mkdir(parents=True)
    (bob / "sampler.cpp").write_bytes(reference_stubs()["sampler.cpp"])
    with zipfile.ZipFile(folder / "carol.zip", "w") as zf:  # an archive of a lessons folder, the pristine stubs
        for name, data in pristine_stubs().items():
            zf.writestr(f"lessons/{lesson('lesson04').dir}/{name}", data)
    before = tree_hash(folder)
    out = run_grader(["--batch", str(folder), "--work", str(work / "out-batch"), "--build-root", str(work / "_build"),
                      "--jobs", "1", "--suites", "basic", "--timeout", "20", "--brief", "--lessons", "lesson04"])
    check(tree_hash(folder) == before, "the batch folder is unchanged")
    rows = {r["submission"]: r for r in csv.DictReader((work / "out-batch" / "summary.csv").open())}
    check(set(rows) == {"bob", "carol"}, "summary.csv has one row per submission", out)
    check(float(rows["carol"]["points"]) == 0 and rows["carol"]["path"] == str(folder / "carol.zip"),
          "carol (pristine, zipped) scores 0; the path column is the submission as handed in", str(rows))
    check(0 < float(rows["bob"]["points"]) < float(rows["bob"]["max_points"]),
          "bob (sampler only) gets the sampler cases and loses the model cases", str(rows))
    check(rows["bob"]["lesson04_basic"] == rows["bob"]["points"], "per-suite columns", str(rows))
    result = json.loads((work / "out-batch" / "bob" / "results.json").read_text())
    check(lesson_result(result)["files"]["causal_lm.cpp"].startswith("missing"), "the missing file is reported", out)


def scenario_attacks(work: Path, _a) -> None:
    """One crafted submission per attack on the grade, lesson 02's basic suite (+ the hidden test), all in the
    shared slot. First with every defence; then without the symbol check, so the sandbox and the evidence rule
    are shown to hold on their own, with an attacker graded right before a pristine victim."""
    step1 = [c for c in gl.list_cases(subprocess.run(
        [str(next((work / "_build" / "slot1" / "tree" / "lessons").glob("*/lesson02_basic_caselist"))),
         "--list-test-cases"], capture_output=True, text=True).stdout) if c.startswith("step 1:")]
    exit_early = norm_cpp("  std::exit(0);", "#include <cstdlib>")
    destructor_exit = norm_cpp(globals_="namespace { struct Bye { ~Bye() { std::fflush(nullptr); _exit(0); } } bye; }",
                               includes="#include <cstdio>\n#include <unistd.h>")
    fake_success = norm_cpp(includes="#include <cstdio>", layer_norm=(
        '  std::printf("[doctest] test cases: 1 | 1 passed | 0 failed\\n[doctest] Status: SUCCESS!\\n");'))
    fake_skip = norm_cpp(includes="#include <cstdio>", layer_norm='  std::puts("[llm-skip] stories260K not found");')
    allocation = norm_cpp(includes="#include <vector>", layer_norm=(
        "  std::vector<char> big(std::size_t{2} << 30, 1);\n  if (big[12345] == 1) throw std::bad_alloc();"))
    busy_start = norm_cpp(globals_="static const int spin = [] { for (volatile unsigned long i = 0;; i = i + 1) {} "
                                   "return 0; }();")
    getenv = norm_cpp("  if (std::getenv(\"HOME\") == nullptr) return x;", "#include <cstdlib>")
    link = work / "subs" / "link-template"
    lessons_copy(link, pristine_stubs("lesson02"), "lesson02")
    (link / lesson("lesson02").dir / "norm.cpp").unlink()
    (link / lesson("lesson02").dir / "norm.cpp").symlink_to("/etc/hostname")
    hidden = str(hidden_dir(work))
    r = batch(work, {"exit-early": lesson02_with(exit_early), "destructor-exit": lesson02_with(destructor_exit),
                     "fake-success": lesson02_with(fake_success), "fake-skip": lesson02_with(fake_skip),
                     "allocation": lesson02_with(allocation), "busy-start": lesson02_with(busy_start),
                     "getenv": lesson02_with(getenv), "symlink": link, "张三": lesson02_with(norm_cpp()),
                     "李四": pristine_stubs("lesson02")},
              "attacks", "--suites", "basic,hidden", "--timeout", "3", "--hidden", hidden, "--allow-missing-model")
    total = len(cases(r["李四"]))

    def refused(name: str, symbol: str) -> None:
        ls = lesson_result(r[name], "lesson02")
        check(r[name]["points"] == 0 and ls["status"] == "refused" and ls["first_error"].startswith(
            f"norm.cpp calls {symbol}: not allowed in lesson code"), f"{name}: refused, 0 / {total}, "
              f"naming norm.cpp and {symbol}", json.dumps(ls["problems"]))
    refused("exit-early", "exit")
    refused("destructor-exit", "_exit")
    refused("getenv", "getenv")
    for name in ("fake-success", "fake-skip"):
        got = r[name]
        check(got["points"] == len(step1) + 1 and got["max_points"] == total and not [
            c for c in cases(got) if c["status"] == "skipped"], f"{name}: only the cases it really passes (step 1 "
              "and the hidden one); no case skipped (the model is present)", json.dumps(got["row"]))
    lost = [c for c in cases(r["allocation"]) if c["status"] != "passed"]
    check(r["allocation"]["points"] == len(step1) + 1 and sum("bad_alloc" in c["reason"] for c in lost) >= 3,
          "a 2 GiB allocation fails inside the memory limit: the LayerNorm cases lost with std::bad_alloc",
          "\n".join(c["reason"] for c in lost))
    busy = lesson_result(r["busy-start"], "lesson02")
    check(r["busy-start"]["points"] == 0 and busy["status"] == "does not start" and "endless loop" in
          busy["first_error"] and r["busy-start"]["seconds"] < 30,
          "an endless loop in a static initialiser: the suites do not start, 0, quickly", busy["first_error"])
    sym = lesson_result(r["symlink"], "lesson02")
    check(r["symlink"]["points"] == 0 and sym["status"] == "refused" and "norm.cpp is a link to /etc/hostname, "
          "outside the submission" in sym["first_error"], "a stub linking outside the submission: refused, 0",
          sym["first_error"])
    check(r["张三"]["points"] == len(step1) + 1 and r["李四"]["points"] == 0 and
          (work / "attacks" / "张三" / "report.txt").is_file(),
          "two non-ASCII names stay distinct (the step-1 work plus the hidden case; the pristine stubs 0)")
    for name, got in r.items():
        text = "".join((work / "attacks" / name / f).read_text() for f in ("report.txt", "junit.xml", "results.json"))
        check("HIDDEN-ANSWER-KEY" not in text, f"{name}: no hidden case's message reaches its reports")

    # Without the symbol check: the evidence rule and the sandbox alone.
    tree = work / "_build" / "slot1" / "tree"
    target = next((tree / "lessons").glob("*/lesson02_basic_student"))
    victim_csv = work / "attacks-2" / "summary.csv"
    attacker = norm_cpp(
        includes="#include <cstdio>\n#include <cstring>\n#include <stdexcept>\n#include <string>\n#include <unistd.h>",
        globals_=f'''static std::string try_everything() {{
  std::string got;
  for (const char* path : {{"{target}", "{tree}/build.ninja", "{victim_csv}", "{hidden}/lesson02/hidden_test.cpp"}}) {{
    if (std::FILE* f = std::fopen(path, "a")) {{ std::fputs("tampered", f); std::fclose(f); got += "WROTE "; }}
    if (std::FILE* f = std::fopen(path, "r")) {{ char b[64] = {{}}; std::fread(b, 1, 63, f); std::fclose(f); got += b; }}
  }}
  if (fork() == 0) {{ setsid(); sleep(4); if (std::FILE* f = std::fopen("{victim_csv}", "w")) std::fputs("x,100", f); _exit(0); }}
  return got;
}}''', attack='  static const std::string got = try_everything();\n'
              '  if (got.find("WROTE") != std::string::npos || got.find("HIDDEN") != std::string::npos)\n'
              '    throw std::runtime_error(got);')
    r = batch(work, {"a-attacker": lesson02_with(attacker), "b-victim": pristine_stubs("lesson02"),
                     "c-exit-early": lesson02_with(exit_early), "d-destructor-exit": lesson02_with(destructor_exit)},
              "attacks-2", "--suites", "basic,hidden", "--timeout", "5", "--hidden", hidden, "--no-symbol-check")
    time.sleep(5)  # longer than the attacker's daemon would wait before rewriting summary.csv
    rows = {row["submission"]: row for row in csv.DictReader(victim_csv.open(encoding="utf-8"))}
    check(rows["a-attacker"]["points"] == str(len(step1) + 1) and rows["b-victim"]["points"] == "0",
          "the attacker scores what it passes, its victim in the same slot its true 0; summary.csv untouched",
          json.dumps(rows))
    check("WROTE" not in json.dumps(r["a-attacker"]) and "HIDDEN-ANSWER" not in json.dumps(r["a-attacker"])
          and b"tampered" not in (tree / "build.ninja").read_bytes(),
          "nothing outside the sandbox could be written or read: the test program, the build files, the batch's "
          "summary, the hidden test")
    early = [c for c in cases(r["c-exit-early"]) if c["case"].startswith("step 1:")]
    check(r["c-exit-early"]["points"] == 0 and early and all("ended before its case did" in c["reason"] for c in early),
          "exit() before a case ends: 0, 'ended before its case did'", json.dumps(early[:1]))
    check(r["d-destructor-exit"]["points"] == len(step1) + 1,
          "_exit(0) from a static destructor after doctest finished changes nothing: only what really passed",
          json.dumps(r["d-destructor-exit"]["row"]))


def scenario_reuse(work: Path, _a) -> None:
    """One build folder, switching --hidden, --suites and --lessons between runs: each run grades exactly what
    it was asked, as a fresh folder would."""
    sub = lessons_copy(work / "subs" / "reuse", pristine_stubs("lesson02") | {"norm.cpp": norm_cpp()}, "lesson02")
    expected = {}
    for args, suites in ((["--hidden", str(hidden_dir(work))], ["basic", "advanced", "hidden"]),
                         ([], ["basic", "advanced"]), (["--suites", "basic"], ["basic"]),
                         (["--hidden", str(hidden_dir(work))], ["basic", "advanced", "hidden"])):
        result, out = grade(work, sub, "--lessons", "lesson02", "--timeout", "20", *args)
        got = [s["suite"] for s in lesson_result(result, "lesson02")["suites"]]
        check(got == suites, f"{' '.join(a for a in args if not a.startswith('/')) or 'no flags'}: suites {got}", out)
        check(expected.setdefault(tuple(args), result["points"]) == result["points"], "the same score as before")
    result, out = grade(work, sub, "--lessons", "lesson04", "--suites", "basic")
    check([ls["lesson"] for ls in result["lessons"]] == ["lesson04"], "--lessons switches the lesson graded", out)


def scenario_gradescope(work: Path, _a) -> None:
    sub = lessons_copy(work / "subs" / "gs", pristine_stubs("lesson02") | {"norm.cpp": norm_cpp()}, "lesson02")
    gs = work / "gs-results.json"
    grade(work, sub, "--lessons", "lesson02", "--format", "gradescope", "--results", str(gs),
          "--hidden", str(hidden_dir(work)))
    g = json.loads(gs.read_text())
    hidden = [t for t in g["tests"] if " hidden: " in t["name"]]
    check(g["score"] == sum(t["score"] for t in g["tests"]) > 0 and hidden and all(
        t["visibility"] == "after_published" for t in hidden) and all(
        {"name", "score", "max_score", "status", "output", "visibility"} <= set(t) for t in g["tests"]),
          "--format gradescope writes Gradescope's results.json (hidden cases after_published)", json.dumps(g)[:2000])
    out_file = work / "github_output"
    out_file.write_text("")
    run_grader([str(sub), "--work", str(work / "out"), "--build-dir", str(work / "_build" / "slot1"), "--lessons",
                "lesson02", "--format", "classroom", "--name", "classroom"], env=ENV | {"GITHUB_OUTPUT": str(out_file)})
    payload = json.loads(base64.b64decode(out_file.read_text().split("result=", 1)[1]))
    check(payload["version"] == 1 and payload["max_score"] > 0 and sum(t["score"] for t in payload["tests"]) == g["score"]
          - sum(t["score"] for t in hidden), "--format classroom writes the reporter's base64 payload", str(payload)[:500])
    bundle = work / "autograder.zip"
    run_grader(["--gradescope-bundle", str(bundle), "--hidden", hidden_dir(work).as_posix(), "--lessons", "lesson02"])
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        options = z.read("llm-lab/grading/gradescope/options").decode()
    check({"setup.sh", "run_autograder", "llm-lab/llm", "llm-lab/grading/hidden/lesson02/hidden_test.cpp"} <= names
          and "--lessons=lesson02" in options, "the bundle has setup.sh, run_autograder, the course, the hidden tests "
          "and the options given", options)
    root = work / "autograder"
    shutil.rmtree(root, ignore_errors=True)
    lessons_copy(root / "submission", pristine_stubs("lesson02") | {"norm.cpp": norm_cpp()}, "lesson02")
    p = subprocess.run([str(REPO / "grading" / "gradescope" / "run_autograder")], capture_output=True, text=True,
                       env=ENV | {"LLM_AUTOGRADER_ROOT": str(root), "LLM_LAB_DIR": str(REPO), "TMPDIR": str(work),
                                  "LLM_GRADE_BUILD_DIR": str(work / "_build" / "slot1"),
                                  "LLM_GRADE_OPTIONS": "--lessons lesson02"})
    g2 = json.loads((root / "results" / "results.json").read_text())
    check(p.returncode == 0 and g2["score"] == g["score"] - sum(t["score"] for t in hidden) and g2["tests"],
          "run_autograder grades <root>/submission into <root>/results/results.json", p.stdout[-3000:] + p.stderr)


def scenario_progress(work: Path, _a) -> None:
    """progress on the shared grading build folder, with stubs staged here: first ones that do not compile,
    then the committed ones (the staged folder plays the student's lessons/; the TODO count reads lessons/)."""
    from build import Slot
    tree = work / "_build" / "slot1" / "tree"

    def progress_with(stubs: dict[str, bytes], name: str) -> str:
        sub = sb.resolve(lessons_copy(work / "subs" / name, stubs), LESSONS, name, None, work / "tmp")
        with Slot(work / "_build" / "slot1") as slot:
            slot.stage({f"{ls.dir}/{s}": p.read_bytes() if p else gl.pristine_stub(ls, s)
                        for lf in sub.lessons.values() for ls in [lf.lesson] for s, p in lf.files.items()}, None)
            p = subprocess.run([sys.executable, str(REPO / "tools" / "grade" / "progress.py"), "lesson04",
                                "--build-dir", str(tree), "--timeout", "20"], capture_output=True, text=True, env=ENV)
        out = p.stdout + p.stderr
        check(p.returncode == 0, f"progress exits with status 0 ({name})", out)
        return out

    out = progress_with(broken_stubs(), "progress-broken")
    check(re.search(r"^lesson04 .*does not compile \(below\)$", out, re.M) is not None and
          re.search(r"^lesson04 does not compile: .*causal_lm\.cpp:\d+:\d+: error", out, re.M) is not None,
          "a lesson that does not compile is one row naming the compiler's first error", out)
    out = progress_with(pristine_stubs(), "progress-pristine")
    todos = sum(gl.count_todos(f.read_text()) for f in (REPO / "lessons" / lesson("lesson04").dir).glob("*.cpp"))
    m = re.search(r"^lesson04\s+(\d+) of (\d+)\s+(\d+) / (\d+) pass\s+(\d+) / (\d+) pass\s+basic: step 1:", out, re.M)
    check(m is not None, "progress prints one row per lesson: TODOs, basic and advanced passing, the next step", out)
    check(int(m.group(1)) == todos, f"the TODO count is the TODO(step markers in lessons/ ({todos})", out)
    check(m.group(3) == "0" and m.group(5) == "0" and int(m.group(4)) > 0, "no case passes on the stubs", out)


def scenario_compare(work: Path, a) -> None:
    compare = [sys.executable, str(REPO / "tools" / "grade" / "compare.py"), "lesson04", "-n", "6",
               "--build-dir", str(a.build_dir)]
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
    compare = [sys.executable, str(REPO / "tools" / "grade" / "compare.py"), "lesson02", "--build-dir", str(a.build_dir)]
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


SCENARIOS = {"units": scenario_units, "sandbox": scenario_sandbox, "pristine": scenario_pristine,
             "reference": scenario_reference, "crash-and-hang": scenario_crash_hang,
             "does-not-compile": scenario_not_compiling, "batch": scenario_batch, "attacks": scenario_attacks,
             "reuse": scenario_reuse, "gradescope": scenario_gradescope, "progress": scenario_progress,
             "compare": scenario_compare, "compare-probes": scenario_compare_probes}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--build-dir", type=Path, required=True, help="a configured build folder (its lesson manifests)")
    ap.add_argument("--student-dump", type=Path)
    ap.add_argument("--reference-dump", type=Path)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    LESSONS.extend(gl.lessons_of(a.build_dir))
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
