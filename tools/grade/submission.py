# submission.py — find what a student handed in: a copy of lessons/, of the repository, of one lesson
# folder, or an archive of any of them; which stub files it has for which lesson; a name for its reports.
# Only stub files are ever taken; a stub that is a link leading outside the submission, or that is not a
# small regular file, is refused (and costs its lesson) instead of being read.
from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gradelib import REPO, Lesson, UsageError, inside, lesson_by_name  # noqa: E402

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
MAX_STUB_BYTES = 1 << 20


@dataclasses.dataclass
class LessonFiles:
    lesson: Lesson
    files: dict[str, Path | None]  # stub name -> the submission's file, None when absent
    refused: str = ""               # why this lesson's files are not graded at all

    @property
    def submitted(self) -> bool:
        return any(p is not None for p in self.files.values()) or bool(self.refused)


@dataclasses.dataclass
class Submission:
    name: str
    path: Path
    shape: str                      # "lessons folder", "lesson folder lesson04", "empty"
    lessons: dict[str, LessonFiles]
    notes: list[str]


def submission_name(path: Path) -> str:
    """A folder name for the reports that keeps the student's name recognisable (non-ASCII letters too) and
    unique: when characters had to be replaced, a short hash of the original name is appended."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._-")
    if safe != name or not safe:
        safe = f"{safe or 'submission'}-{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"
    return safe


def unique_names(paths: list[Path]) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for p in paths:
        n, k = submission_name(p), 2
        while n in names:
            n, k = f"{submission_name(p)}_{k}", k + 1
        names[n] = p
    return names


def extract_archive(archive: Path, dest: Path) -> Path:
    """Unpacks a .zip or .tar.* into dest; entries escaping dest, links and devices are refused."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    if not inside(dest / member, dest):
                        raise UsageError(f"{archive}: entry {member!r} escapes the archive folder")
                z.extractall(dest)
        else:
            with tarfile.open(archive) as t:
                for m in t.getmembers():
                    if not (m.isfile() or m.isdir()) or not inside(dest / m.name, dest):
                        raise UsageError(f"{archive}: entry {m.name!r} is a link, a device or escapes the archive")
                t.extractall(dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise UsageError(f"{archive} cannot be unpacked: {e}")
    return dest


def _take(folder: Path, lesson: Lesson, root: Path) -> LessonFiles:
    files: dict[str, Path | None] = {}
    refused = []
    for stub in lesson.stubs:
        p = folder / stub
        if not (p.exists() or p.is_symlink()):
            files[stub] = None
        elif not inside(p, root):
            refused.append(f"{stub} is a link to {p.resolve()}, outside the submission")
        elif not p.resolve().is_file() or p.stat().st_size > MAX_STUB_BYTES:
            refused.append(f"{stub} is not a regular file of at most {MAX_STUB_BYTES >> 20} MiB")
        else:
            files[stub] = p.resolve()
    lf = LessonFiles(lesson, {s: files.get(s) for s in lesson.stubs})
    lf.refused = "; ".join(refused) + (": refused" if refused else "")
    return lf


def _notes(folder: Path, lesson: Lesson) -> list[str]:
    """Sources beside the stubs that grading does not use: the course's copies are compiled."""
    notes = []
    for f in sorted(folder.iterdir()):
        if f.is_symlink() or not f.is_file() or f.suffix not in (".cpp", ".cc", ".h", ".hpp") or f.name in lesson.stubs:
            continue
        theirs = REPO / "lessons" / lesson.dir / f.name
        if not theirs.is_file():
            notes.append(f"{lesson.name}: {f.name} is not graded (only {', '.join(lesson.stubs)} are)")
        elif theirs.read_bytes() != f.read_bytes():
            notes.append(f"{lesson.name}: {f.name} differs from the course's copy; the course's is used")
    return notes


def resolve(path: Path, lessons: list[Lesson], name: str, lesson_hint: str | None, unpack_dir: Path) -> Submission:
    if not path.exists():
        raise UsageError(f"submission {path} does not exist")
    notes: list[str] = []
    if path.is_file():
        if not path.name.endswith(ARCHIVE_SUFFIXES):
            raise UsageError(f"submission {path} is a file but not an archive ({', '.join(ARCHIVE_SUFFIXES)})")
        path = extract_archive(path, unpack_dir)
        notes.append(f"unpacked into {path}")
    top = path.resolve()

    def candidates(root: Path):
        yield root
        yield root / "lessons"
        subdirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__"))]
        if len(subdirs) == 1:  # an archive or a folder wrapping everything in one top folder
            yield from candidates(subdirs[0])

    empty = {ls.name: LessonFiles(ls, {s: None for s in ls.stubs}) for ls in lessons}
    forced = lesson_by_name(lessons, lesson_hint) if lesson_hint else None
    for root in candidates(top):
        if not root.is_dir() or not inside(root, top):
            continue
        # A copy of lessons/: one folder per lesson, named as in the repository.
        if forced is None and any((root / ls.dir).is_dir() for ls in lessons):
            found = {}
            for ls in lessons:
                found[ls.name] = _take(root / ls.dir, ls, top)
                if (root / ls.dir).is_dir() and inside(root / ls.dir, top):
                    notes += _notes(root / ls.dir, ls)
            return Submission(name, root, "lessons folder", found, notes)
        # One lesson's folder: its stub files at the top.
        having = [ls for ls in lessons if any((root / s).exists() for s in ls.stubs)]
        if forced is not None:
            having = [forced] if forced in having else []
        elif len(having) > 1:
            named = [ls for ls in having if root.name in (ls.dir, ls.name) or root.name.startswith(ls.name)]
            if len(named) != 1:
                raise UsageError(f"{root} could be any of {', '.join(ls.name for ls in having)}: pass --lesson lessonNN")
            having = named
        if having:
            found = dict(empty)
            found[having[0].name] = _take(root, having[0], top)
            return Submission(name, root, f"lesson folder {having[0].name}", found, notes + _notes(root, having[0]))
    notes.append("no lesson stub file found: every lesson is graded as not submitted")
    return Submission(name, top, "empty", empty, notes)
