# gradelib.py — what the grading, progress and compare programs share: the lessons and their stub
# files, the weights file, building targets one by one, running ctest and reading its results.
# Python 3.11 standard library only. Nothing here writes outside the folders it is given.
from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = REPO / "grading" / "weights.toml"
SUITES = ("basic", "advanced", "hidden")


class UsageError(Exception):
    """Bad command line or input (exit status 2)."""


class InfraError(Exception):
    """The grading machinery itself failed: cmake missing, the framework does not build (exit status 1)."""


def say(msg: str) -> None:
    print(f"llm: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Lessons: parsed from the llm_add_lesson(...) calls in lessons/*/CMakeLists.txt
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Lesson:
    name: str          # lesson04
    dir: str           # lesson04_kv_cache_causallm
    stubs: list[str]   # causal_lm.cpp sampler.cpp


_KEYWORDS = {"DIR", "STUBS", "GIVEN", "DEPS", "BASIC_TESTS", "ADVANCED_TESTS"}


def _strip_cmake_comments(text: str) -> str:
    return "\n".join(re.sub(r"#.*$", "", line) for line in text.splitlines())


def discover_lessons(repo: Path = REPO) -> list[Lesson]:
    """Every llm_add_lesson() call under lessons/, in folder order."""
    lessons: list[Lesson] = []
    for cml in sorted((repo / "lessons").glob("*/CMakeLists.txt")):
        text = _strip_cmake_comments(cml.read_text(encoding="utf-8"))
        for m in re.finditer(r"llm_add_lesson\s*\(([^)]*)\)", text):
            tokens = m.group(1).split()
            if not tokens:
                continue
            args: dict[str, list[str]] = {}
            key = None
            for tok in tokens[1:]:
                if tok in _KEYWORDS:
                    key = tok
                    args[key] = []
                elif key:
                    args[key].append(tok)
            if "DIR" not in args or not args.get("STUBS"):
                raise InfraError(f"{cml}: cannot read DIR and STUBS of llm_add_lesson({tokens[0]} ...)")
            lessons.append(Lesson(tokens[0], args["DIR"][0], args["STUBS"]))
    if not lessons:
        raise InfraError(f"no llm_add_lesson() call found under {repo / 'lessons'}")
    return lessons


def lesson_by_name(lessons: list[Lesson], key: str) -> Lesson:
    for lesson in lessons:
        if key in (lesson.name, lesson.dir):
            return lesson
    names = ", ".join(lesson.name for lesson in lessons)
    raise UsageError(f"unknown lesson '{key}' (lessons: {names})")


def pristine_stub(lesson: Lesson, stub: str, repo: Path = REPO) -> bytes:
    """The stub as committed at git HEAD (the working copy when git cannot say)."""
    rel = f"lessons/{lesson.dir}/{stub}"
    try:
        out = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], capture_output=True, check=True)
        return out.stdout
    except (OSError, subprocess.CalledProcessError):
        return (repo / rel).read_bytes()


def repo_commit(repo: Path = REPO) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def model_dir(repo: Path = REPO) -> Path | None:
    """stories260K's folder, searched like llm::find_model() does."""
    for d in (os.environ.get("LLM_MODEL_DIR") or "", repo / "models" / "stories260K",
              repo / ".." / "shared" / "models" / "stories260K"):
        if d and (Path(d) / "stories260K.bin").is_file() and (Path(d) / "tok512.bin").is_file():
            return Path(os.path.normpath(d))
    return None


def count_todos(text: str) -> int:
    return text.count("TODO(step")


# ---------------------------------------------------------------------------------------------
# Weights: grading/weights.toml (format in grading/README.md)
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Rule:
    match: str
    points: float
    note: str = ""
    used: int = 0


@dataclasses.dataclass
class Weights:
    path: Path | None
    default: float = 1.0
    rules: list[Rule] = dataclasses.field(default_factory=list)

    def points(self, case_id: str) -> float:
        """Points of "lesson04/basic/step 3: ...": the first rule whose glob matches, else the default."""
        for rule in self.rules:
            if fnmatch.fnmatchcase(case_id, rule.match):
                rule.used += 1
                return rule.points
        return self.default

    def unused_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.used == 0]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise UsageError(f"{where} must be a number >= 0, got {value!r}")
    return float(value)


def load_weights(path: Path | None) -> Weights:
    if path is None:
        return Weights(None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"weights file {path} does not exist")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"weights file {path}: {e}")
    unknown = set(data) - {"version", "default", "rule"}
    if unknown:
        raise UsageError(f"weights file {path}: unknown key(s) {', '.join(sorted(unknown))} "
                         "(allowed: version, default, [[rule]])")
    if data.get("version", 1) != 1:
        raise UsageError(f"weights file {path}: version = {data['version']!r}, this grader reads version 1")
    w = Weights(path, _number(data.get("default", 1), f"{path}: default"))
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise UsageError(f"weights file {path}: 'rule' must be an array of tables ([[rule]])")
    for i, r in enumerate(rules, 1):
        where = f"{path}: rule {i}"
        if not isinstance(r, dict) or not isinstance(r.get("match"), str) or "points" not in r:
            raise UsageError(f"{where} needs match = \"<glob>\" and points = <number>")
        extra = set(r) - {"match", "points", "note"}
        if extra:
            raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(extra))} (allowed: match, points, note)")
        if r["match"].count("/") < 2:
            raise UsageError(f"{where}: match = {r['match']!r} must look like \"lessonNN/suite/case name\" "
                             "(globs allowed, e.g. \"lesson04/advanced/*\")")
        w.rules.append(Rule(r["match"], _number(r["points"], f"{where}: points"), str(r.get("note", ""))))
    return w


# ---------------------------------------------------------------------------------------------
# Running commands
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    rc: int
    out: str
    seconds: float
    timed_out: bool = False


def run(cmd: list[str], cwd: Path | None = None, timeout: float | None = None, env: dict | None = None,
        log: Path | None = None) -> Run:
    """Runs cmd with stdout+stderr captured together; appends both to `log` when given."""
    start = time.monotonic()
    try:
        # Its own process group, so a timeout stops the whole tree (ninja, the compilers, the tests).
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", start_new_session=True)
    except FileNotFoundError:
        raise InfraError(f"{cmd[0]} is not installed (./llm deps installs the build tools)")
    try:
        out, _ = p.communicate(timeout=timeout)
        result = Run(p.returncode, out, time.monotonic() - start)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        result = Run(124, (out or "") + f"\n[grading] stopped after {timeout:.0f} s\n", time.monotonic() - start,
                     True)
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    if log is not None:
        with log.open("a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{result.out}\n[exit {result.rc}, {result.seconds:.1f} s]\n\n")
    return result


_FIRST_ERROR = re.compile(r"\b(?:fatal )?error:|undefined reference to|multiple definition of|^CMake Error")
_LAST_RESORT = re.compile(r"^FAILED: |collect2: error|ninja: error")


def first_error(output: str, replace: dict[str, str] | None = None) -> str:
    """The compiler's (or linker's) first error line, in output order, with build paths shortened.
    "collect2: error: ld returned 1" only when nothing names the problem better."""
    lines = output.splitlines()
    hit = next((l for l in lines if _FIRST_ERROR.search(l) and not l.startswith("collect2:")), None) \
        or next((l for l in lines if _LAST_RESORT.search(l)), None) \
        or next((l for l in reversed(lines) if l.strip()), "build failed (no output)")
    hit = hit.strip()
    for old, new in (replace or {}).items():
        hit = hit.replace(old, new)
    return hit


def build_target(build_dir: Path, target: str, jobs: int, log: Path, timeout: float) -> Run:
    return run(["cmake", "--build", str(build_dir), "--target", target, "--", f"-j{jobs}"], log=log,
               timeout=timeout)


# ---------------------------------------------------------------------------------------------
# ctest: per-case results from --output-junit, the reason of each failure from the console summary
# ---------------------------------------------------------------------------------------------

# ctest 3.25's summary reasons (cmCTestRunTest) -> what the report says. Its JUnit file only says
# status="fail" with an empty message, so the console summary is the one place naming signals.
_CTEST_REASONS = {
    "SEGFAULT": ("crashed", "segmentation fault (SIGSEGV or SIGBUS)"),
    "Subprocess aborted": ("crashed", "aborted (SIGABRT: abort(), a failed assert or std::terminate)"),
    "Subprocess killed": ("crashed", "killed (SIGKILL, e.g. out of memory)"),
    "Subprocess terminated": ("crashed", "terminated (SIGTERM)"),
    "NUMERICAL": ("crashed", "arithmetic exception (SIGFPE, e.g. integer division by zero)"),
    "ILLEGAL": ("crashed", "illegal instruction (SIGILL)"),
    "INTERRUPT": ("crashed", "interrupted (SIGINT)"),
    "Bus error": ("crashed", "bus error (SIGBUS)"),
    "OTHER_FAULT": ("crashed", "killed by a signal"),
    "Timeout": ("timeout", None),
    "Not Run": ("error", "not run (the test program is missing)"),
    "BAD_COMMAND": ("error", "not run (bad command)"),
    "Failed": ("failed", None),
}

_DOCTEST_SIGNAL = re.compile(r"CRASHED: (SIG[A-Z]+) - ([^\n]*)")
_DOCTEST_ERROR = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+): ERROR: (?P<what>[^\n]*)$", re.M)


@dataclasses.dataclass
class CaseResult:
    name: str                 # ctest name: student/lesson04/basic/step 1: ...
    status: str               # passed failed crashed timeout skipped error
    reason: str = ""
    seconds: float = 0.0
    output: str = ""


def doctest_failure(output: str) -> str:
    """'basic_test.cpp:70: test case THREW exception: lesson04 step 1: ...' from doctest's output."""
    m = _DOCTEST_ERROR.search(output)
    if not m:
        return ""
    what = m.group("what").strip()
    # "CHECK( a == b ) is NOT correct!" is followed by "  values:" and the expanded expression.
    tail = output[m.end():].splitlines()
    if len(tail) >= 3 and tail[1].strip() == "values:":
        what += " values: " + tail[2].strip()
    for line in tail[1:6]:
        if line.strip().startswith("logged:"):
            idx = tail.index(line)
            if idx + 1 < len(tail):
                what += " | " + tail[idx + 1].strip()
            break
    return f"{Path(m.group('file')).name}:{m.group('line')}: {what}"


def parse_ctest_summary(console: str) -> dict[str, str]:
    """{test name: reason} from ctest's 'The following tests FAILED:' (and 'did not run') blocks."""
    reasons: dict[str, str] = {}
    for m in re.finditer(r"^\s*\d+ - (.*) \(([^()]*)\)\s*$", console, re.M):
        reasons[m.group(1)] = m.group(2)
    return reasons


def parse_ctest_junit(path: Path, console: str, timeout_s: float | None) -> dict[str, CaseResult]:
    reasons = parse_ctest_summary(console)
    results: dict[str, CaseResult] = {}
    if not path.is_file():
        return results
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        name = tc.get("name", "")
        out = tc.findtext("system-out") or ""
        seconds = float(tc.get("time") or 0.0)
        status_attr = tc.get("status", "")
        if status_attr == "run" and tc.find("failure") is None:
            results[name] = CaseResult(name, "passed", "", seconds, out)
            continue
        if status_attr in ("notrun", "disabled") or tc.find("skipped") is not None:
            skip_reason = "skipped: the test needs stories260K, which is missing" if "[llm-skip]" in out \
                else "skipped"
            results[name] = CaseResult(name, "skipped", skip_reason, seconds, out)
            continue
        ctest_reason = reasons.get(name, "Failed")
        status, text = _CTEST_REASONS.get(ctest_reason, ("crashed", f"exception: {ctest_reason}"))
        if status == "timeout":
            limit = f"{timeout_s:g} s" if timeout_s else "its time limit"
            text = f"timeout: stopped after {limit} (per-case limit)"
        elif status == "crashed":
            sig = _DOCTEST_SIGNAL.search(out)
            if sig and ctest_reason in ("SEGFAULT", "OTHER_FAULT"):
                text = f"{sig.group(1)} - {sig.group(2).strip()}"
            text = f"crashed: {text}"
            if "terminate called" in out:
                m = re.search(r"what\(\):\s*([^\n]*)", out)
                text += " — uncaught exception" + (f": {m.group(1)}" if m else "")
        elif status == "failed":
            text = doctest_failure(out) or "failed (exit status not 0)"
        results[name] = CaseResult(name, status, text, seconds, out)
    return results


def run_ctest(build_dir: Path, labels: list[str], jobs: int, junit: Path, log: Path, timeout_s: float | None,
              env: dict | None = None, overall_timeout: float | None = None) -> dict[str, CaseResult]:
    """Runs the tests having every label (regexes, AND) and returns their results by ctest name."""
    cmd = ["ctest", "--test-dir", str(build_dir), "-j", str(jobs), "--output-junit", str(junit),
           "--no-tests=ignore"]
    for label in labels:
        cmd += ["-L", label]
    if junit.exists():
        junit.unlink()
    r = run(cmd, env=env, log=log, timeout=overall_timeout)
    return parse_ctest_junit(junit, r.out, timeout_s)


def list_doctest_cases(exe: Path) -> list[str]:
    """The doctest case names of a test program, in its own order."""
    r = run([str(exe), "--list-test-cases", "--no-version"], timeout=60)
    if r.rc != 0:
        raise InfraError(f"{exe} --list-test-cases failed:\n{r.out}")
    names = []
    for line in r.out.splitlines():
        if not line.strip() or re.fullmatch(r"=+", line) or line.startswith("[doctest]"):
            continue
        names.append(line)
    return names


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def write_if_different(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def sync_tree(src: Path | None, dst: Path) -> None:
    """Makes dst a copy of src (files rewritten only when their bytes differ); src None empties it."""
    wanted: set[Path] = set()
    if src is not None:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                rel = f.relative_to(src)
                wanted.add(rel)
                write_if_different(dst / rel, f.read_bytes())
    if dst.exists():
        for f in sorted(dst.rglob("*"), reverse=True):
            rel = f.relative_to(dst)
            if f.is_file() and rel not in wanted:
                f.unlink()
            elif f.is_dir() and not any(f.iterdir()):
                f.rmdir()


def cmake_cache_value(build_dir: Path, key: str) -> str | None:
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        return None
    for line in cache.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(key + ":") or line.startswith(key + "="):
            return line.split("=", 1)[1]
    return None


def inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def check_work_dir(work: Path) -> None:
    """Grading output may go anywhere but into the repository's tracked tree (build/ is fine)."""
    if inside(work, REPO) and not inside(work, REPO / "build"):
        raise UsageError(f"--work {work} is inside the repository but not under build/: "
                         "grading never writes into the repository's tree")


def fmt_points(x: float) -> str:
    return f"{x:g}"


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def tool_check() -> None:
    for tool in ("cmake", "ctest", "ninja"):
        if shutil.which(tool) is None:
            raise InfraError(f"{tool} is not installed (./llm deps installs the build tools)")


def dump_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
