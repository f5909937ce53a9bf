# gradelib.py — what the grading, progress and compare programs share: the lessons (from the manifests
# CMake writes), the model's folder, running commands, building targets, small file helpers.
# Python 3.11 standard library only. Nothing here writes outside the folders it is given.
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class UsageError(Exception):
    """Bad command line or input (exit status 2)."""


class InfraError(Exception):
    """The grading machinery itself failed: cmake missing, the framework does not build (exit status 1)."""


def say(msg: str) -> None:
    print(f"llm: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Lessons: <build>/llm_lessons/index.json and <lessonNN>.json, written by cmake/LlmLesson.cmake
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Lesson:
    name: str          # lesson04
    dir: str           # lesson04_kv_cache_causallm
    stubs: list[str]   # causal_lm.cpp sampler.cpp
    suites: list[str]  # basic advanced [hidden]


def lessons_of(build_dir: Path) -> list[Lesson]:
    """The lessons a configured build folder defines, in course order."""
    index = build_dir / "llm_lessons" / "index.json"
    if not index.is_file():
        raise InfraError(f"{index} is missing: configure {build_dir} first (cmake/LlmLesson.cmake writes it)")
    lessons = []
    for name in json.loads(index.read_text(encoding="utf-8"))["lessons"]:
        m = json.loads((build_dir / "llm_lessons" / f"{name}.json").read_text(encoding="utf-8"))
        lessons.append(Lesson(m["name"], m["dir"], m["stubs"], m["suites"]))
    return lessons


def lesson_by_name(lessons: list[Lesson], key: str) -> Lesson:
    for lesson in lessons:
        if key in (lesson.name, lesson.dir):
            return lesson
    raise UsageError(f"unknown lesson '{key}' (lessons: {', '.join(ls.name for ls in lessons)})")


def pristine_stub(lesson: Lesson, stub: str, repo: Path = REPO) -> bytes:
    """The stub as committed at git HEAD (the working copy when git cannot say)."""
    rel = f"lessons/{lesson.dir}/{stub}"
    try:
        return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], capture_output=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return (repo / rel).read_bytes()


def repo_commit(repo: Path = REPO) -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def model_dir(repo: Path = REPO) -> Path | None:
    """stories260K's folder: $LLM_MODEL_DIR, then common/model_search_path.txt (as llm::find_model())."""
    listed = [line.strip() for line in (repo / "common" / "model_search_path.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    for d in [os.environ.get("LLM_MODEL_DIR") or ""] + [str(repo / x) for x in listed]:
        if d and (Path(d) / "stories260K.bin").is_file() and (Path(d) / "tok512.bin").is_file():
            return Path(os.path.normpath(d))
    return None


def count_todos(text: str) -> int:
    return text.count("TODO(step")


# ---------------------------------------------------------------------------------------------
# Running commands and building targets
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
        # Its own process group, so a timeout stops the whole tree (ninja, the compilers).
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", start_new_session=True)
    except FileNotFoundError:
        raise InfraError(f"{cmd[0]} is not installed (./llm deps installs the build tools)")
    try:
        out, _ = p.communicate(timeout=timeout)
        result = Run(p.returncode, out, time.monotonic() - start)
    except subprocess.TimeoutExpired:
        kill_group(p.pid)
        out, _ = p.communicate()
        result = Run(124, (out or "") + f"\n[grading] stopped after {timeout:.0f} s\n", time.monotonic() - start, True)
    except BaseException:
        kill_group(p.pid)
        p.wait()
        raise
    if log is not None:
        with log.open("a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{result.out}\n[exit {result.rc}, {result.seconds:.1f} s]\n\n")
    return result


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def build(build_dir: Path, targets: list[str], jobs: int, log: Path | None = None, timeout: float | None = None,
          keep_going: bool = False) -> Run:
    return run(["cmake", "--build", str(build_dir), "--target", *targets, "--", f"-j{jobs}",
                *(["-k", "0"] if keep_going else [])], log=log, timeout=timeout)


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


def list_cases(listing: str) -> list[str]:
    """The case names in doctest's --list-test-cases output, in its order."""
    return [line for line in listing.splitlines()
            if line.strip() and not re.fullmatch(r"=+", line) and not line.startswith("[doctest]")]


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def write_if_different(path: Path, data: bytes) -> bool:
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
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
            if (f.is_file() or f.is_symlink()) and rel not in wanted:
                f.unlink()
            elif f.is_dir() and not any(f.iterdir()):
                f.rmdir()


def inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def check_work_dir(work: Path) -> None:
    """Grading writes outside the repository, under its build/, or inside a CMake build folder (one with a
    CMakeCache.txt, e.g. CLion's cmake-build-debug/) — never into the repository's own tree."""
    if not inside(work, REPO) or inside(work, REPO / "build"):
        return
    if any((d / "CMakeCache.txt").is_file() for d in [work, *work.parents] if inside(d, REPO) and d != REPO):
        return
    raise UsageError(f"--work {work} is inside the repository but neither under build/ nor inside a CMake build "
                     "folder: grading never writes into the repository's tree")


def fmt_points(x: float) -> str:
    return f"{x:g}"


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def tool_check() -> None:
    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            raise InfraError(f"{tool} is not installed (./llm deps installs the build tools)")


def dump_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
