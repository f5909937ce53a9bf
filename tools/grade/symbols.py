# symbols.py — what a student's compiled stub may call and define, checked on its object file before any
# of it runs (nm and objdump from binutils). An ALLOW-list of what lesson code needs: the C++ standard
# library except files, threads and the random device; the project's own `llm::` code except the test
# support; the C library's memory, string, number and standard-stream functions; every libm function.
# Not allowed: process control (exit, _exit, abort, fork, exec*, kill ...), files, sockets, the
# environment, dlopen, raw syscalls (also as an instruction in inline assembly), doctest itself, and
# defining a symbol that the test program or the C/C++ library already has (that would replace it).
from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

ALLOWED_NAMESPACES = {"std", "llm", "__gnu_cxx", "__cxxabiv1", "Eigen", "operator new/delete"}
DENIED_PARTS = ("llm::testing::", "doctest::", "filesystem::", "basic_ifstream", "basic_ofstream", "basic_fstream",
                "basic_filebuf", "__basic_file", "std::thread", "std::jthread", "this_thread::", "random_device",
                "__future_base")
ALLOWED_C = set("""
malloc calloc realloc free aligned_alloc posix_memalign
memcpy memmove memset memcmp memchr strlen strnlen strcmp strncmp strcpy strncpy strcat strncat strchr strrchr
strstr strspn strcspn strpbrk strtok strtok_r strdup strndup strerror strcoll strxfrm
strtol strtoul strtoll strtoull strtof strtod strtold atoi atol atoll atof abs labs llabs div ldiv qsort bsearch
rand srand time clock clock_gettime
printf fprintf vprintf vfprintf sprintf snprintf vsprintf vsnprintf puts putchar fputs fputc putc fwrite fflush
perror sscanf __isoc99_sscanf getchar stdin stdout stderr
__isoc23_strtol __isoc23_strtoul __isoc23_strtoll __isoc23_strtoull __isoc23_sscanf
pthread_mutex_lock pthread_mutex_unlock pthread_once __once_proxy
__printf_chk __fprintf_chk __sprintf_chk __snprintf_chk __vsnprintf_chk __vfprintf_chk __memcpy_chk
__memmove_chk __memset_chk __strcpy_chk __strcat_chk __strncpy_chk __fwrite_chk
__ctype_b_loc __ctype_tolower_loc __ctype_toupper_loc isalpha isdigit isalnum isspace isupper islower
ispunct isprint isxdigit toupper tolower
__assert_fail __errno_location __stack_chk_fail __tls_get_addr __libc_single_threaded __dso_handle
_GLOBAL_OFFSET_TABLE_ _Unwind_Resume __gxx_personality_v0
__cxa_allocate_exception __cxa_free_exception __cxa_throw __cxa_rethrow __cxa_begin_catch __cxa_end_catch
__cxa_get_exception_ptr __cxa_current_exception_type __cxa_call_unexpected __cxa_pure_virtual __cxa_deleted_virtual
__cxa_guard_acquire __cxa_guard_release __cxa_guard_abort __cxa_atexit __cxa_thread_atexit __cxa_bad_cast
__cxa_bad_typeid __cxa_throw_bad_array_new_length __cxa_demangle
""".split())
_SPECIAL = ("TV", "TI", "TS", "TT", "GV", "TH", "TW")  # vtable, typeinfo (name), VTT, guard, TLS init / wrapper
_INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\s+(syscall|sysenter|int\s+\$0x80|svc)\b", re.M)
_SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+PROGBITS\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+\S*X", re.M)
_OPCODES = (b"\x0f\x05", b"\x0f\x34", b"\xcd\x80", b"\x01\x00\x00\xd4")  # syscall sysenter int 0x80; arm64 svc


def top_namespace(mangled: str) -> str | None:
    """The outermost namespace of an Itanium-mangled C++ name (None for a plain C name)."""
    if not mangled.startswith("_Z"):
        return None
    s = mangled[2:]
    s = s[2:] if s[:2] in _SPECIAL else s
    if s[:2] in ("nw", "na", "dl", "da"):
        return "operator new/delete"
    if s.startswith("N"):
        s = s[1:].lstrip("KVrRO")
    if s[:2] in ("St", "Sa", "Sb", "Ss", "Si", "So", "Sd"):
        return "std"
    m = re.match(r"\d+", s)
    return s[len(m.group()):len(m.group()) + int(m.group())] if m else "(unknown)"


def _nm(path: Path, *flags: str) -> list[tuple[str, str, str]]:
    """(member object, symbol type letter, mangled name) of a file or archive."""
    out = subprocess.run(["nm", "-A", "--without-symbol-versions", *flags, str(path)], capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():  # "lib.a:member.o:0000000000000040 T name" or "lib.a:member.o:   U name"
        parts = line.split()
        if len(parts) >= 3:
            rows.append((parts[0].split(":")[-2], parts[-2], parts[-1]))
    return rows


def _demangle(names: list[str]) -> dict[str, str]:
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return dict(zip(names, out.splitlines()))


@functools.cache
def system_exports() -> frozenset[str]:
    """What libc, libm, libstdc++ and libgcc_s export: defining one of these would replace it."""
    names = set()
    for lib, compiler in (("libc.so.6", "gcc"), ("libm.so.6", "gcc"), ("libgcc_s.so.1", "gcc"),
                          ("libstdc++.so", "g++")):
        path = subprocess.run([compiler, f"-print-file-name={lib}"], capture_output=True, text=True).stdout.strip()
        if Path(path).is_file():
            names |= {n for _, _, n in _nm(Path(path), "-D", "--defined-only")}
    return frozenset(names)


@functools.cache
def libm_exports() -> frozenset[str]:
    path = subprocess.run(["gcc", "-print-file-name=libm.so.6"], capture_output=True, text=True).stdout.strip()
    return frozenset(n for _, _, n in _nm(Path(path), "-D", "--defined-only")) if Path(path).is_file() else frozenset()


def syscall_instruction(archive: Path, member: str) -> str | None:
    """The first system-call instruction in the member's code, or None. Disassembling a Debug object with
    thousands of sections takes seconds, so only the executable sections holding such bytes are disassembled."""
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / member
        obj.write_bytes(subprocess.run(["ar", "p", str(archive), member], capture_output=True, check=True).stdout)
        data = obj.read_bytes()
        sections = subprocess.run(["readelf", "-S", "-W", str(obj)], capture_output=True, text=True).stdout
        suspects = [m.group(1) for m in _SECTION.finditer(sections)
                    if any(op in data[int(m.group(2), 16):int(m.group(2), 16) + int(m.group(3), 16)] for op in _OPCODES)]
        if not suspects:
            return None
        dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", *[a for s in suspects for a in ("-j", s)],
                               str(obj)], capture_output=True, text=True).stdout
        m = _INSTRUCTION.search(dump)
        return m.group(1) if m else None


def check(student_archive: Path, stubs: list[str], framework: list[Path]) -> list[str]:
    """Problems with the stubs' objects in `student_archive` ("norm.cpp calls exit: ..."), [] when none.
    `framework`: the other archives the test programs link (common, earlier lessons' reference, test support,
    doctest); the student archive's own non-stub members (given.cpp) count as framework too."""
    members = {f"{s}.o": s for s in stubs}
    rows = _nm(student_archive)
    mine = [(members[m], t, n) for m, t, n in rows if m in members]
    defined = lambda t: (t.isupper() and t != "U") or t == "u"  # noqa: E731 (global definitions)
    theirs = {n for m, t, n in rows if m not in members and defined(t)}
    for archive in framework:
        theirs |= {n for _, t, n in _nm(archive, "--defined-only") if defined(t)}
    names = _demangle(sorted({n for _, _, n in mine}))
    problems = []
    for stub, kind, name in mine:
        pretty, ns = names.get(name, name), top_namespace(name)
        if kind in "Uw":  # a call (or a use) of something defined elsewhere
            allowed = (name in ALLOWED_C or name in libm_exports()) if ns is None else ns in ALLOWED_NAMESPACES
            if not allowed or any(part in pretty for part in DENIED_PARTS):
                problems.append(f"{stub} calls {pretty}: not allowed in lesson code (see docs/grading.md, "
                                "'What student code may call')")
        elif defined(kind):  # a definition of this object's own
            weak = kind in "WVu"  # inline functions, template instances, inline variables
            if ns == "doctest" or "llm::testing::" in pretty:
                problems.append(f"{stub} defines {pretty}: lesson code must not define the test framework's symbols")
            elif not weak and name in theirs:
                problems.append(f"{stub} defines {pretty}, which the course's code already defines (a helper of "
                                "yours? make it static or put it in an anonymous namespace)")
            elif name in system_exports() and not (weak and ns in ("std", "__gnu_cxx")):
                problems.append(f"{stub} defines {pretty}, a function of the C/C++ library: lesson code must not "
                                "replace it")
    for stub in stubs:
        if (op := syscall_instruction(student_archive, f"{stub}.o")) is not None:
            problems.append(f"{stub} contains a '{op}' instruction (a raw system call): not allowed in lesson code")
    return list(dict.fromkeys(problems))
