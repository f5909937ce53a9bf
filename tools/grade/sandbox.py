# sandbox.py — where student code runs: bubblewrap (Debian's `bubblewrap`) with no network, a private
# /tmp, a PID namespace (everything it starts dies with it), only the files it is given, and rlimits.
# As root the process itself runs as nobody (65534), so that the process limit applies (Linux never
# applies RLIMIT_NPROC to root). Also the compile launcher: `sandbox.py compile --ro DIR ... -- c++ ...`
# compiles student sources seeing only the given folders (no hidden tests, no other submission).
# Not here: cgroups (memory is capped by address space, CPU by seconds) and seccomp filters.
from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gradelib import InfraError, kill_group  # noqa: E402

NOBODY = 65534
IS_ROOT = os.geteuid() == 0


@dataclasses.dataclass
class Limits:
    memory_mb: int = 1024   # address space of the process (a 2 GiB allocation fails)
    cpu_s: float = 30       # CPU seconds (the wall-clock limit is the case timeout)
    file_mb: int = 64       # largest file it may write, its output included
    processes: int = 16     # processes and threads of the sandbox's user

    def apply(self) -> None:
        """Runs in the child between fork and exec (preexec_fn)."""
        mb = 1 << 20
        nproc = self.processes + (0 if IS_ROOT else _my_tasks())  # not root: counts every task of this user
        cpu = max(1, int(self.cpu_s + 0.999))
        for which, soft, hard in ((resource.RLIMIT_AS, self.memory_mb * mb, self.memory_mb * mb),
                                  (resource.RLIMIT_FSIZE, self.file_mb * mb, self.file_mb * mb),
                                  (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the limit, SIGKILL 1 s later
                                  (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NPROC, nproc, nproc)):
            resource.setrlimit(which, (soft, hard))


def _my_tasks() -> int:
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == os.getuid():
            n += int(fields.get("Threads", "1"))
    return n


def _system_binds() -> list[str]:
    """/usr read-only, with /bin, /lib ... as on the host (symlinks into /usr on Debian 12)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/alternatives"):  # the loader's cache; c++ -> g++ links
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args + ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]


class Sandbox:
    """enabled=False (--no-sandbox) runs the same commands directly, still with the rlimits."""

    def __init__(self, enabled: bool, limits: Limits):
        self.enabled = enabled
        self.limits = limits

    def argv(self, cmd: list[str], ro: list[Path] = (), rw: list[Path] = (), env: dict[str, str] | None = None,
             as_nobody: bool = True) -> list[str]:
        if not self.enabled:
            return cmd
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
                "--unshare-uts", "--unshare-cgroup-try", *([] if IS_ROOT else ["--unshare-user"]), *_system_binds()]
        made = {"/", "/tmp"}
        for p in [*ro, *rw]:  # each at its own path; bwrap would make the folders above it root-only (0700)
            for parent in reversed(Path(p).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    args += ["--perms", "0755", "--dir", str(parent)]
        for flag, paths in (("--ro-bind", ro), ("--bind", rw)):
            for p in paths:
                args += [flag, str(p), str(p)]
        args += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--chdir", "/tmp"]
        for k, v in (env or {}).items():
            args += ["--setenv", k, v]
        if IS_ROOT and as_nobody:
            args += ["--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all"]
        return args + ["--", *cmd]

    def prepare_writable(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.enabled and IS_ROOT:
            os.chown(folder, NOBODY, NOBODY)

    def run(self, cmd: list[str], ro: list[Path], rw: list[Path], env: dict[str, str], timeout: float,
            output: Path) -> tuple[int, bool, float]:
        """(exit status or -signal, timed out, seconds); stdout and stderr go to `output`."""
        start = time.monotonic()
        with output.open("wb") as out:
            full_env = None if self.enabled else dict(os.environ, **env)
            p = subprocess.Popen(self.argv(cmd, ro, rw, env), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=full_env, cwd=None if self.enabled else rw[0],
                                 start_new_session=True, preexec_fn=self.limits.apply)
            try:
                rc, timed_out = p.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                rc, timed_out = None, True
            kill_group(p.pid)  # whatever it left behind (without the sandbox: its process group)
            rc = p.wait() if rc is None else rc
        if self.enabled and rc > 128:
            rc = 128 - rc  # bwrap reports its child's death by signal N as status 128 + N
        return rc, timed_out, time.monotonic() - start

    def check(self) -> None:
        """Stops with a clear message when the sandbox cannot be created here."""
        if not self.enabled:
            return
        for tool in ("bwrap", *(["setpriv"] if IS_ROOT else [])):
            if shutil.which(tool) is None:
                raise InfraError(f"the sandbox cannot be created: {tool} is not installed (./llm deps installs "
                                 "bubblewrap); --no-sandbox grades without it (student code then runs with your rights)")
        r = subprocess.run(self.argv(["true"]), capture_output=True, text=True, preexec_fn=self.limits.apply)
        if r.returncode != 0:
            raise InfraError(f"the sandbox cannot be created here: {(r.stderr or r.stdout).strip()} (bubblewrap needs "
                             "user namespaces, or root); --no-sandbox grades without it (student code then runs with "
                             "your rights)")


def compile_main(argv: list[str]) -> int:
    """CXX_COMPILER_LAUNCHER of the student libraries: the compiler sees /usr, the --ro folders and the folder of
    its output files, nothing else (an #include of a hidden test or of a solution file does not compile)."""
    split = argv.index("--")
    ro = [Path(p) for flag, p in zip(argv[:split:2], argv[1:split:2]) if flag == "--ro"]
    cmd = argv[split + 1:]
    outputs = {Path(os.path.abspath(cmd[i + 1])).parent for i, a in enumerate(cmd[:-1]) if a in ("-o", "-MF")}
    sandbox = Sandbox(True, Limits(memory_mb=4096, cpu_s=600, file_mb=256, processes=64))
    args = sandbox.argv(cmd, ro, sorted(outputs), as_nobody=False)
    args[args.index("--chdir") + 1] = os.getcwd()  # relative paths in the command line stay valid
    return subprocess.run(args, preexec_fn=sandbox.limits.apply).returncode


if __name__ == "__main__":
    if sys.argv[1:2] != ["compile"]:
        sys.exit("usage: sandbox.py compile --ro DIR [--ro DIR ...] -- <compiler command>")
    sys.exit(compile_main(sys.argv[2:]))
