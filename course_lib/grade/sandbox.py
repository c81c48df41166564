"""Start the learner's code in a fresh, limited child process, talk to it, and kill it.

What the child gets (``docs/grading.md`` says the same for instructors):

- with bubblewrap (``bwrap`` on PATH and working): a new mount namespace holding only a
  read-only view of the system (``/usr``, ``/etc``, the Python installation and its
  virtualenv), ``/course`` (a read-only copy of just the ``course_lib`` modules that the
  exercise notebook imports, with a stand-in ``course_lib.exercises.checks`` whose ``check()`` does
  nothing), ``/harness`` (``harness.py`` and ``wire.py``), and an empty private ``/tmp`` and
  scratch folder (its working directory), both size-limited tmpfs; no network (a new network
  namespace),
  new PID/IPC/UTS namespaces, no capabilities, and, when the grader runs as root, the
  unprivileged user ``nobody``;
- always: rlimits on address space, CPU time, file size, open files and (for an
  unprivileged child) processes; its own session and process group, which the grader kills
  with SIGKILL at the wall-clock limit of the step it is waiting for. No timer inside the
  learner's process is relied on.

Without bubblewrap only the second list holds (see :func:`describe`).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import wire

COURSE_LIB = Path(__file__).resolve().parents[1]
GRADE_DIR = Path(__file__).resolve().parent
NOBODY = 65534

# Modules of course_lib that never go into the sandbox, whatever a notebook imports.
NEVER_COPIED = ("course_lib.exercises", "course_lib.grade")

CHECKS_STANDIN = '''"""Stand-in for course_lib.exercises.checks inside the grader's sandbox.

The grader runs the checks itself, in its own process, on hidden cases; nothing here checks.
"""


def check(*args, **kwargs):
    return None


def __getattr__(name):
    return check
'''


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child process."""

    memory_bytes: int = 4 * 2**30     # address space; torch alone maps ~0.7 GB
    cpu_seconds: int = 600            # CPU time over the child's whole life (backstop)
    file_bytes: int = 64 * 2**20      # the largest file it may write (its output log too)
    open_files: int = 256
    processes: int = 256              # tasks of the unprivileged user, threads included
    scratch_bytes: int = 256 * 2**20  # bwrap: the scratch folder and /tmp are tmpfs this big


class ChildDied(Exception):
    """The child process ended (os._exit, a signal, a crash) or closed its channel."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class ChildTimeout(Exception):
    """The child did not answer within the step's wall-clock limit and was killed."""


# --------------------------------------------------------------------------------------------
# Which parts of course_lib a notebook needs
# --------------------------------------------------------------------------------------------


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "course_lib":
        return None
    base = COURSE_LIB.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports_of(source: str, module: str | None = None, is_package: bool = False) -> set[str]:
    """course_lib modules named by the import statements in ``source`` (relative ones too)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "course_lib" or name.startswith("course_lib.")}


def needed_modules(sources: list[str]) -> set[str]:
    """The course_lib modules the given cell sources import, and what those import in turn."""
    todo = set()
    for source in sources:
        todo |= _imports_of(source)
    needed: set[str] = set()
    while todo:
        module = todo.pop()
        if module in needed or any(module == n or module.startswith(n + ".")
                                   for n in NEVER_COPIED):
            continue
        path = _module_file(module)
        if path is None:
            continue
        needed.add(module)
        parts = module.split(".")
        for depth in range(1, len(parts)):  # parent packages are imported first
            todo.add(".".join(parts[:depth]))
        todo |= _imports_of(path.read_text(encoding="utf-8"), module,
                            is_package=path.name == "__init__.py")
    return needed


def build_course_copy(target: Path, sources: list[str]) -> list[str]:
    """Write the needed modules (read-only) and the checks stand-in under ``target/course_lib``."""
    modules = sorted(needed_modules(sources) | {"course_lib"})
    for module in modules:
        path = _module_file(module)
        relative = path.relative_to(COURSE_LIB.parent)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    checks = target / "course_lib" / "exercises" / "checks"
    checks.mkdir(parents=True, exist_ok=True)
    (checks / "__init__.py").write_text(CHECKS_STANDIN, encoding="utf-8")
    # packages on the way get an empty __init__ if they were not needed themselves
    for directory in sorted({p for p in target.rglob("*") if p.is_dir()}):
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    harness = target.parent / "harness"
    harness.mkdir(exist_ok=True)
    for name in ("harness.py", "wire.py", "guard.py"):
        shutil.copyfile(GRADE_DIR / name, harness / name)
    _make_read_only(target)
    _make_read_only(harness)
    return modules


def _make_read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)


# --------------------------------------------------------------------------------------------
# bubblewrap
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bwrap executable when it exists *and* can make a sandbox here, else None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                                "--die-with-parent", "--", "/bin/true"],
                               capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def describe(use_bwrap: bool) -> str:
    if use_bwrap:
        return ("bubblewrap sandbox: read-only system, no network, scratch folder, rlimits, "
                "process group killed at the time limit")
    return ("NO bubblewrap: rlimits, scratch folder as working directory and process group "
            "only; the learner's code can read files the grader's user can read, and use the "
            "network (see docs/grading.md)")


def _python_readable_by(uid: int) -> bool:
    """Whether ``uid`` can traverse to the interpreter and the virtualenv (no bwrap case)."""
    for root in {sys.base_prefix, sys.prefix}:
        path = Path(root).resolve()
        for directory in [path, *path.parents]:
            mode = directory.stat().st_mode
            if not mode & 0o001:
                return False
    return uid >= 0


def _bind_parents(args: list[str], path: Path, made: set[str]) -> None:
    """bwrap makes missing mount points 0700; make them 0755 so ``nobody`` can pass through."""
    for parent in reversed(path.parents):
        text = str(parent)
        if text == "/" or text in made:
            continue
        made.add(text)
        args += ["--perms", "0755", "--dir", text]


def _bwrap_command(bwrap: str, limits: Limits, course: Path, harness: Path) -> list[str]:
    size = str(limits.scratch_bytes)
    # Scratch and /tmp are size-limited tmpfs: many files, each under the file-size limit,
    # cannot fill the grader's disk.
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", size,
            "--tmpfs", "/tmp"]
    made: set[str] = set()
    for system in ("/usr", "/etc"):
        args += ["--ro-bind", system, system]
    for link in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    prefixes = sorted({str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix,
                                                         os.path.dirname(os.path.realpath(
                                                             sys.executable)))})
    for prefix in prefixes:
        if prefix.startswith(("/usr/", "/etc/")) or prefix == "/usr":
            continue
        _bind_parents(args, Path(prefix) / "x", made)
        args += ["--ro-bind", prefix, prefix]
    args += ["--ro-bind", str(course), "/course", "--ro-bind", str(harness), "/harness",
             "--perms", "1777", "--size", size, "--tmpfs", "/scratch", "--chdir", "/scratch",
             "--setenv", "HOME", "/scratch", "--setenv", "TMPDIR", "/tmp"]
    return args


# --------------------------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------------------------


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def _limit_child(limits: Limits, drop_uid: int | None):
    """The preexec function: rlimits set in the child before exec (inherited by bwrap's child)."""
    process_limit = limits.processes if drop_uid is not None else \
        _count_processes(os.getuid()) + limits.processes

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.getuid() != 0 or drop_uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))

    return apply


@dataclass
class Child:
    """One sandboxed harness process and its two pipes."""

    process: subprocess.Popen
    cmd_fd: int
    reply_fd: int
    scratch: Path
    registry: list | None = None  # the sandbox's list of live children
    _buffer: bytearray = field(default_factory=bytearray)

    def send(self, message: dict[str, Any]) -> None:
        try:
            wire.send(self.cmd_fd, message)
        except (BrokenPipeError, OSError):
            raise ChildDied(self._death()) from None

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next message, or ChildTimeout at ``deadline`` (time.monotonic), ChildDied."""
        while True:
            if len(self._buffer) >= 8:
                (size,) = struct.unpack(">Q", self._buffer[:8])
                if size > wire.MAX_MESSAGE_BYTES:
                    self.kill()
                    raise ChildDied("sent a message over the size limit "
                                    f"({wire.MAX_MESSAGE_BYTES // 2**20} MB)")
                if len(self._buffer) >= 8 + size:
                    data = bytes(self._buffer[8:8 + size])
                    del self._buffer[:8 + size]
                    try:
                        message = json.loads(data.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError):
                        self.kill()
                        raise ChildDied("sent something that is not a message") from None
                    if not isinstance(message, dict):
                        self.kill()
                        raise ChildDied("sent something that is not a message")
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise ChildTimeout()
            ready, _, _ = select.select([self.reply_fd], [], [], min(remaining, 1.0))
            if not ready:
                continue
            try:
                chunk = os.read(self.reply_fd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                raise ChildDied(self._death())
            self._buffer += chunk

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "stopped answering (its channel was closed)"
        self.kill()
        return exit_description(code)

    def kill(self) -> None:
        """SIGKILL the child's whole process group (bwrap and everything under it)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.cmd_fd, self.reply_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.cmd_fd = self.reply_fd = -1
        if self.registry is not None and any(c is self for c in self.registry):
            self.registry[:] = [c for c in self.registry if c is not self]

    def close(self) -> None:
        """Ask the child to exit (so bwrap reaps it and CPU accounting stays whole), then kill
        its process group whatever it did."""
        if self.cmd_fd >= 0:
            try:
                wire.send(self.cmd_fd, {"op": "exit"})
                os.close(self.cmd_fd)
                self.cmd_fd = -1
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)


def exit_description(code: int | None) -> str:
    if code is None:
        return "was still running"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = {"SIGKILL": " (killed: out of memory or a limit?)",
               "SIGXCPU": " (CPU-time limit)", "SIGXFSZ": " (file-size limit: huge output?)",
               "SIGSEGV": " (crashed)"}.get(name, "")
        return f"was killed by {name}{why}"
    return f"exited with code {code} (os._exit or sys.exit outside a function?)"


class Sandbox:
    """Makes children for one grading run; ``use_bwrap`` None means "when available"."""

    def __init__(self, workdir: Path, *, limits: Limits = Limits(), use_bwrap: bool | None = None):
        self.workdir = Path(workdir)
        self.limits = limits
        bwrap = bwrap_path()
        if use_bwrap and bwrap is None:
            raise RuntimeError("bubblewrap (bwrap) was asked for but is not available")
        self.bwrap = bwrap if use_bwrap is not False else None
        running_as_root = os.getuid() == 0
        self.drop_uid = NOBODY if running_as_root and (
            self.bwrap is not None or _python_readable_by(NOBODY)) else None
        self._copies: dict[str, tuple[Path, Path]] = {}
        self.live: list[Child] = []

    def course_copy(self, key: str, sources: list[str]) -> tuple[Path, Path]:
        """(course dir, harness dir) for a notebook, built once per grading run."""
        if key not in self._copies:
            root = Path(tempfile.mkdtemp(prefix="course-", dir=self.workdir))
            root.chmod(0o755)
            build_course_copy(root / "course", sources)
            self._copies[key] = (root / "course", root / "harness")
        return self._copies[key]

    def start(self, course: Path, harness: Path) -> Child:
        scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.workdir))
        if self.drop_uid is not None:
            os.chown(scratch, self.drop_uid, self.drop_uid)
        scratch.chmod(0o700)
        cmd_read, cmd_write = os.pipe()
        reply_read, reply_write = os.pipe()
        if self.bwrap is not None:
            prefix = _bwrap_command(self.bwrap, self.limits, course, harness)
            course_arg, harness_py, cwd = "/course", "/harness/harness.py", None
        else:
            prefix = []
            course_arg, harness_py, cwd = str(course), str(harness / "harness.py"), str(scratch)
        command = prefix + [sys.executable, "-I", harness_py, course_arg, str(cmd_read),
                            str(reply_write)]
        if self.drop_uid is not None:
            command += ["--drop-uid", str(self.drop_uid)]
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg", "HOME": str(scratch) if cwd else "/scratch",
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        log = open(scratch / "output.log", "wb")
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd, env=env,
                pass_fds=(cmd_read, reply_write), start_new_session=True,
                preexec_fn=_limit_child(self.limits, self.drop_uid))
        finally:
            log.close()
            os.close(cmd_read)
            os.close(reply_write)
        child = Child(process, cmd_write, reply_read, scratch, self.live)
        self.live.append(child)
        return child
