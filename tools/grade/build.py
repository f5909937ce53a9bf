# build.py — a build slot: one CMake build tree (LLM_GRADING=ON) whose staged stub files are swapped from
# submission to submission, so the next grading only recompiles what changed. Student sources are compiled
# through the compile sandbox (sandbox.py); no student code runs while building. Nothing from one
# submission decides the next one's grade: the stubs and hidden tests are staged anew, the build files are
# regenerated whenever their inputs changed, and the test programs are only ever run read-only.
from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradelib as gl  # noqa: E402
from gradelib import REPO, InfraError, Lesson  # noqa: E402


class Slot:
    """<root>/lessons (the staged stubs), <root>/hidden (the staged hidden tests), <root>/tree (cmake),
    <root>/run (the cases' scratch folders). One grading at a time per slot (a lock file says so)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.lessons_dir = self.root / "lessons"
        self.hidden_dir = self.root / "hidden"
        self.tree = self.root / "tree"
        self.scratch = self.root / "run"
        self._lock = None

    def __enter__(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            gl.say(f"waiting for {self.root}: another grading run is using it")
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def stage(self, stubs: dict[str, bytes], hidden: Path | None) -> None:
        """stubs: "<lesson folder>/<stub>" -> bytes, for every stub of every lesson."""
        for rel, data in stubs.items():
            gl.write_if_different(self.lessons_dir / rel, data)
        gl.sync_tree(hidden, self.hidden_dir)
        self.hidden_dir.mkdir(parents=True, exist_ok=True)

    def configure(self, log: Path, sandboxed_compiles: bool) -> list[Lesson]:
        """Configures (or regenerates when its inputs changed: the staged hidden tests, a CMakeLists.txt) and
        returns the lessons as this very configure sees them."""
        launcher = f"{sys.executable};{REPO / 'tools' / 'grade' / 'sandbox.py'};compile;--ro;{REPO / 'lessons'};" \
                   f"--ro;{REPO / 'common'};--ro;{self.lessons_dir};--" if sandboxed_compiles else ""
        wanted = {"LLM_GRADING": "ON", "LLM_STUDENT_LESSONS_DIR": str(self.lessons_dir),
                  "LLM_HIDDEN_TESTS_DIR": str(self.hidden_dir), "LLM_GRADING_LAUNCHER": launcher}
        current = (self.tree / "build.ninja").is_file() and all(self._cached(k) == v for k, v in wanted.items())
        if current:  # regenerates only when an input changed (a CMakeLists.txt, the staged hidden tests)
            r = gl.run(["cmake", "--build", str(self.tree), "--target", "build.ninja"], log=log, timeout=600)
        if not current or r.rc != 0 or not self._staged_sources_used():
            r = gl.run(["cmake", "-S", str(REPO), "-B", str(self.tree), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
                        "-DLLM_BUILD_BENCHMARKS=OFF", "-DLLM_WERROR=OFF", "-DLLM_SELF_CHECK=OFF", "-DBUILD_TESTING=ON",
                        "-DCMAKE_EXPORT_COMPILE_COMMANDS=OFF", *[f"-D{k}={v}" for k, v in wanted.items()]],
                       log=log, timeout=600)
        if r.rc != 0:
            raise InfraError(f"configuring the grading build failed (see {log}):\n{gl.first_error(r.out)}")
        return gl.lessons_of(self.tree)

    def _staged_sources_used(self) -> bool:
        """Whether the build compiles the staged stub files (a configure made before they were staged falls back
        to the committed stubs, and only a new configure notices that they exist now)."""
        folder = self.tree / "llm_lessons"
        return all(Path(src).parent.parent == self.lessons_dir
                   for m in folder.glob("lesson*.json") for src in json.loads(m.read_text())["student_sources"])

    def _cached(self, key: str) -> str | None:
        for line in (self.tree / "CMakeCache.txt").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(key + ":") or line.startswith(key + "="):
                return line.split("=", 1)[1]
        return None

    def exe(self, target: str) -> Path:
        hits = list((self.tree / "lessons").glob(f"*/{target}"))
        if not hits:
            raise InfraError(f"built {target} but cannot find it under {self.tree / 'lessons'}")
        return hits[0]

    def student_archive(self, lesson: Lesson) -> Path:
        return self.tree / "lessons" / lesson.dir / f"lib{lesson.name}_student.a"

    def framework_archives(self, lesson: Lesson, suites: list[str]) -> list[Path]:
        """The archives the suites' test programs link besides the student's code (for the symbol check):
        read from the link commands ninja would run, so an archive left in a reused folder by an older build
        of the course is never mistaken for part of it."""
        archives: set[Path] = set()
        for suite in suites:
            r = gl.run(["ninja", "-C", str(self.tree), "-t", "commands", f"{lesson.name}_{suite}_student"])
            link = r.out.strip().splitlines()[-1] if r.rc == 0 and r.out.strip() else ""
            archives |= {self.tree / w for w in link.split() if w.endswith(".a")}
        return sorted(a for a in archives if not a.name.endswith("_student.a") and a.is_file())

    def build_lesson(self, lesson: Lesson, suites: list[str], jobs: int, log: Path, timeout: float,
                     paths: dict[str, str]) -> tuple[str, str, dict[str, tuple[str, str]]]:
        """(lesson status, first error, {suite: (status, first error)}) — "ok", "does not compile" or
        "does not link". The student library first: a compile error there is the lesson's; then each suite's
        program (an undefined reference, e.g. a deleted function, costs only the suites that need it)."""
        r = gl.build(self.tree, [f"{lesson.name}_student"], jobs, log, timeout)
        if r.rc != 0:
            err = gl.first_error(r.out, paths)
            return "does not compile", err, {s: ("does not compile", err) for s in suites}
        r = gl.build(self.tree, [f"{lesson.name}_{s}_student" for s in suites], jobs, log, timeout, keep_going=True)
        failed = "\n".join(line for line in r.out.splitlines() if line.startswith("FAILED:"))
        err = gl.first_error(r.out, paths) if r.rc != 0 else ""
        status = {s: ("does not link", err) if r.rc != 0 and (f"/{lesson.name}_{s}_student" in failed or r.timed_out)
                  else ("ok", "") for s in suites}
        if all(st != "ok" for st, _ in status.values()):
            return "does not link", err, status
        return "ok", "", status
