"""Run untrusted Python in a child process, contained: model-written code and its tests.

    result = await run_python("def add(a, b):\\n    return a + b", "assert add(2, 3) == 5")
    assert result.passed

Contract:

* ``code`` and ``tests`` (``code + "\\n\\n" + tests``, or the code alone when the tests are blank)
  are written as ``main.py`` into a fresh temporary directory, with ``files`` beside it (relative
  names only), and run as ``__main__`` there by this same interpreter (``sys.executable``); the
  directory is on the script's ``sys.path``, so the files can be imported.
* :class:`SandboxResult` says what happened; it is a frozen model that round-trips through JSON
  (timelines record it and replay returns it). ``exit_code`` is the exit status, or minus the
  signal that ended the process (as :mod:`subprocess` reports it), or None if it could not be
  reaped after being killed. ``passed`` is true only when tests were given and the script exited
  with 0 within the time. ``killed_by`` names the limit that ended it: ``"timeout"`` (wall clock),
  ``"output"`` (it kept writing past ten times ``output_bytes``), ``"cpu"`` (SIGXCPU, or the
  SIGKILL of the hard CPU limit), ``"memory"`` (a ``MemoryError`` in a failed run) or
  ``"file_size"`` (RLIMIT_FSIZE).
* Bad arguments raise :class:`~ekklesia.errors.UserError`; a sandbox that could not be started or
  set up (not the script's fault) raises :class:`~ekklesia.errors.RunError`. Anything the script
  does, including failing, is a result.
* When it returns, no process of the sandbox is alive and its directory is gone, also when the
  caller is cancelled.
* At most :func:`set_max_parallel` sandboxes (default ``os.cpu_count()``) run at once in each
  event loop; the others wait their turn, and that wait is not part of ``duration_s``.

Layers of containment, from the outside in (``_sandbox_child.py`` sets up 2 to 6 in the child):

1. its own session and process group; on timeout or flood the whole group is killed, and once it
   ends every process of the sandbox (same session or group, or, having left them, the sandbox's
   uid with its ``HOME``) is killed and counted in ``leftover_processes``;
2. a network namespace of its own (as root, or through a user namespace; best effort);
3. rlimits: CPU, address space, file size, 64 open files, no core dumps, processes;
4. as root, uid and gid 65534 (nobody), which owns only the sandbox directory; RLIMIT_NPROC binds
   only non-root users, another reason to drop. Where the interpreter's files are not readable by
   nobody (an interpreter under ``/root``), the child keeps CAP_DAC_READ_SEARCH so it can import
   the standard library: it can then read any file, as it could as root, but write, signal or
   trace nothing that is not its own;
5. ``no_new_privs`` and a parent-death SIGKILL;
6. an audit hook that refuses new processes, sockets other than AF_UNIX and every connect, bind
   and name lookup, ctypes, and writes, removals, renames, mode changes and links outside the
   sandbox directory; reads stay allowed. It is a tripwire that makes attempts fail visibly, not
   the boundary (see ``_sandbox_child.py``);
7. a minimal environment: PATH, LANG, HOME and TMPDIR (the sandbox directory), PYTHONHASHSEED=0,
   PYTHONDONTWRITEBYTECODE, and one thread for the BLAS libraries (so that ``import numpy`` fits
   the memory and process limits on many-core machines); nothing else of the parent's;
8. stdout and stderr read as they come, each keeping at most ``output_bytes`` (its head and its
   tail, where tracebacks are), with a note of what was dropped.

The interpreter runs with ``-s -P -B``: isolated mode (``-I``) without ``-E``, because the
environment is built here and ``-E`` would ignore the PYTHONHASHSEED that keeps the order of a
script's sets of strings (and so what it prints) the same on every run.

Not contained: disk use by many files (each file is capped, their number is not), and between
sandboxes running at once as the same uid (the hook refuses signalling and writing outside one's
own directory, the kernel would not).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import math
import os
import py_compile
import shutil
import signal
import stat
import sys
import sysconfig
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import psutil
from pydantic import BaseModel, ConfigDict, Field

from ekklesia.errors import RunError, UserError

__all__ = ["SandboxLimits", "SandboxResult", "run_python", "set_max_parallel"]

_log = logging.getLogger(__name__)

_CHILD = str(Path(__file__).with_name("_sandbox_child.py"))
_SCRIPT = "main.py"
_SANDBOX_UID = _SANDBOX_GID = 65534
_OPEN_FILES = 64
_FLOOD_FACTOR = 10  # a stream this many times over its budget is a flood: stop the script
_KILL_GRACE_S = 2.0  # how long a SIGKILLed process may take to be reaped
_DRAIN_GRACE_S = 1.0  # how long the pipes may stay open once every process is dead
_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc")


class SandboxLimits(BaseModel):
    """Per-run limits; every one is enforced by the kernel in the child."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_s: float | None = Field(default=None, gt=0)
    """CPU seconds (RLIMIT_CPU, rounded up); None: the wall timeout rounded up, plus one."""
    memory_mb: int = Field(default=1024, ge=16)
    """Address space (RLIMIT_AS) in MiB."""
    output_bytes: int = Field(default=64_000, ge=1)
    """Bytes kept of stdout and of stderr, each; the rest is dropped and the result truncated."""
    file_bytes: int = Field(default=16 * 2**20, ge=0)
    """Largest file the script may write (RLIMIT_FSIZE)."""
    processes: int = Field(default=64, ge=1)
    """RLIMIT_NPROC: counts every process and thread of the sandbox's uid, where it applies."""

    def cpu_seconds(self, timeout_s: float) -> int:
        """The CPU limit for a run with this wall timeout: the wall clock normally fires first."""
        return math.ceil(self.cpu_s) if self.cpu_s is not None else math.ceil(timeout_s) + 1


class SandboxResult(BaseModel):
    """What one sandboxed run did; see the module docstring for each field's meaning."""

    model_config = ConfigDict(frozen=True)

    exit_code: int | None
    stdout: str
    stderr: str
    passed: bool
    timed_out: bool
    duration_s: float
    truncated: bool = False
    killed_by: str | None = None
    leftover_processes: int = 0


async def run_python(
    code: str,
    tests: str = "",
    timeout_s: float = 10.0,
    *,
    limits: SandboxLimits | None = None,
    files: dict[str, str] | None = None,
) -> SandboxResult:
    """Run ``code`` followed by ``tests`` in a fresh sandbox and report what happened."""
    return await _run(code, tests, timeout_s, limits, files, audit=True)


def set_max_parallel(n: int | None = None) -> None:
    """Let at most ``n`` sandboxes run at once per event loop (None: ``os.cpu_count()``).

    Runs already waiting for a turn keep the cap they started waiting under.
    """
    global _max_parallel
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise UserError(f"max_parallel must be a positive integer or None, got {n!r}")
    _max_parallel = n if n is not None else os.cpu_count() or 1


_max_parallel = os.cpu_count() or 1
# asyncio primitives belong to one loop: keep a semaphore per running loop, made on first use.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    held = _slots.get(loop)
    if held is None or held[0] != _max_parallel:
        held = (_max_parallel, asyncio.Semaphore(_max_parallel))
        _slots[loop] = held
    return held[1]


async def _run(
    code: str,
    tests: str,
    timeout_s: float,
    limits: SandboxLimits | None,
    files: dict[str, str] | None,
    *,
    audit: bool,
) -> SandboxResult:
    """:func:`run_python`, the audit hook optional: tests check the layers under it."""
    limits = limits if limits is not None else SandboxLimits()
    _check(code, tests, timeout_s, limits)
    extra = _checked_files(files or {})
    script = code + "\n\n" + tests if tests.strip() else code
    async with _slot():
        owner = _drop_to(tempfile.gettempdir())
        try:
            workdir = _prepare(script, extra, owner)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise UserError(
                f"sandbox files clash: one is named as another's folder: {exc}"
            ) from exc
        except OSError as exc:
            raise RunError(f"could not prepare the sandbox directory: {exc}") from exc
        try:
            return await _execute(
                workdir, timeout_s, limits, owner, audit=audit, tested=bool(tests.strip())
            )
        finally:
            await asyncio.to_thread(_remove, workdir)


def _check(code: object, tests: object, timeout_s: object, limits: object) -> None:
    if not isinstance(code, str) or not isinstance(tests, str):
        raise UserError("code and tests must be strings")
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise UserError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    if not isinstance(limits, SandboxLimits):
        raise UserError(f"limits must be a SandboxLimits, got {type(limits).__name__}")


def _checked_files(files: dict[str, str]) -> dict[PurePosixPath, str]:
    checked: dict[PurePosixPath, str] = {}
    for name, text in files.items():
        path = PurePosixPath(name) if isinstance(name, str) else None
        if (
            path is None
            or not name
            or "\0" in name
            or path.is_absolute()
            or ".." in path.parts
            or not path.parts
            or str(path) == _SCRIPT
        ):
            raise UserError(
                f"sandbox file names must be relative paths without '..' other than "
                f"{_SCRIPT!r}, got {name!r}"
            )
        if not isinstance(text, str):
            raise UserError(f"the content of sandbox file {name!r} must be a string")
        checked[path] = text
    return checked


@functools.lru_cache(maxsize=8)
def _drop_to(tmp: str) -> tuple[int, int, bool] | None:
    """(uid, gid, keep_read) the child should become, or None where it cannot drop (not root)."""
    if os.geteuid() != 0:
        return None
    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= {os.path.dirname(_CHILD), tmp}
    keep_read = not all(_others_can_read(path) for path in paths if os.path.exists(path))
    return _SANDBOX_UID, _SANDBOX_GID, keep_read


def _child_program() -> str:
    """The child's code, compiled once per process: compiling it on every run costs ~5 ms.

    The bytecode goes to a directory of this process's own (the child reads it before it drops
    privileges), not to the package's ``__pycache__``, which may be shared or read-only; it is
    made again should something clean the temporary directory meanwhile.
    """
    program = _compiled_child()
    if not os.path.exists(program):
        _compiled_child.cache_clear()
        program = _compiled_child()
    return program


@functools.cache
def _compiled_child() -> str:
    try:
        folder = tempfile.mkdtemp(prefix="ekklesia-child-code-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        compiled = py_compile.compile(_CHILD, os.path.join(folder, "child.pyc"), doraise=True)
    except (OSError, py_compile.PyCompileError) as exc:
        _log.debug("running the sandbox child from source: %s", exc)
        return _CHILD
    return compiled or _CHILD


def _others_can_read(path: str) -> bool:
    """Whether a user owning none of ``path`` and its parents can reach and read it."""
    current = os.path.realpath(path)
    need = stat.S_IROTH | stat.S_IXOTH
    while True:
        if os.stat(current).st_mode & need != need:
            return False
        if current == "/":
            return True
        current, need = os.path.dirname(current), stat.S_IXOTH


def _prepare(
    script: str, files: dict[PurePosixPath, str], owner: tuple[int, int, bool] | None
) -> str:
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="ekklesia-sandbox-"))
    try:
        made = [Path(workdir)]
        for relative, text in {PurePosixPath(_SCRIPT): script, **files}.items():
            target = Path(workdir, relative)
            for parent in reversed(target.relative_to(workdir).parents[:-1]):
                folder = Path(workdir, parent)
                if not folder.is_dir():
                    folder.mkdir()
                    made.append(folder)
            target.write_text(text, encoding="utf-8")
            made.append(target)
        if owner is not None:
            for path in made:
                os.chown(path, owner[0], owner[1])
    except BaseException:
        _remove(workdir)
        raise
    return workdir


def _remove(workdir: str) -> None:
    # The script may have taken permissions away inside; links are left alone, since chmod
    # would follow them out of the sandbox.
    try:
        os.chmod(workdir, 0o700)
        for folder, names, _ in os.walk(workdir):
            for name in names:
                path = os.path.join(folder, name)
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    os.chmod(path, 0o700)
    except OSError:
        pass
    shutil.rmtree(workdir, ignore_errors=True)
    if os.path.exists(workdir):
        _log.warning("could not remove the sandbox directory %s", workdir)


def _environment(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class _Capture:
    """One pipe read as data comes, keeping its head and tail within ``budget`` bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, budget: int, tail: bool) -> None:
        self._loop, self._fd = loop, fd
        self._tail_budget = min(budget // 4, 4096) if tail else 0
        self._head_budget = budget - self._tail_budget
        self._flood_at = budget * _FLOOD_FACTOR
        self.head, self.tail, self.seen = bytearray(), bytearray(), 0
        self.on_flood: Callable[[], None] | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            return
        self.seen += len(chunk)
        room = self._head_budget - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self._tail_budget:
            self.tail += chunk
            del self.tail[: -self._tail_budget]
        if self.seen > self._flood_at and self.on_flood is not None:
            flood, self.on_flood = self.on_flood, None
            flood()

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if not self.closed.done():
            self.closed.set_result(None)

    @property
    def truncated(self) -> bool:
        return self.seen > len(self.head) + len(self.tail)

    def text(self, name: str) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.truncated:
            return head + self.tail.decode("utf-8", errors="replace")
        dropped = self.seen - len(self.head) - len(self.tail)
        note = f"\n[ekklesia sandbox: {dropped} bytes of {name} not kept]\n"
        return head + note + self.tail.decode("utf-8", errors="replace")


async def _execute(
    workdir: str,
    timeout_s: float,
    limits: SandboxLimits,
    owner: tuple[int, int, bool] | None,
    *,
    audit: bool,
    tested: bool,
) -> SandboxResult:
    loop = asyncio.get_running_loop()
    (out_r, out_w), (err_r, err_w), (status_r, status_w) = os.pipe(), os.pipe(), os.pipe()
    captures = (
        _Capture(loop, out_r, limits.output_bytes, tail=True),
        _Capture(loop, err_r, limits.output_bytes, tail=True),
        _Capture(loop, status_r, 4096, tail=False),
    )
    limit = {
        "CPU": limits.cpu_seconds(timeout_s),
        "AS": limits.memory_mb * 2**20,
        "FSIZE": limits.file_bytes,
        "NOFILE": _OPEN_FILES,
        "CORE": 0,
        "NPROC": limits.processes,
    }
    config = {
        "root": workdir,
        "script": _SCRIPT,
        "status_fd": status_w,
        "parent": os.getpid(),
        "audit": int(audit),
        "uid": owner[0] if owner else "",
        "gid": owner[1] if owner else "",
        "keep_read": int(owner[2]) if owner else 0,
        **{f"limit.{name}": value for name, value in limit.items()},
    }
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-s", "-P", "-B", _child_program(), *(f"{k}={v}" for k, v in config.items())),
            cwd=workdir,
            env=_environment(workdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            pass_fds=(status_w,),
            start_new_session=True,
        )
    except BaseException as exc:
        for capture in captures:
            capture.close()
        if isinstance(exc, OSError):
            message = f"could not start the sandbox interpreter {sys.executable}: {exc}"
            raise RunError(message) from exc
        raise
    finally:
        for fd in (out_w, err_w, status_w):
            os.close(fd)

    leader = process.pid
    member_uid = owner[0] if owner else os.getuid()
    since = _start_time(leader)
    reason: str | None = None

    def stop(why: str) -> None:
        nonlocal reason
        reason = reason or why
        _kill_group(leader)

    captures[0].on_flood = captures[1].on_flood = lambda: stop("output")
    finished = False
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            stop("timeout")
        try:
            exit_code: int | None = await asyncio.wait_for(process.wait(), _KILL_GRACE_S)
        except TimeoutError:
            exit_code = None
        duration = time.monotonic() - started
        leftovers = await asyncio.to_thread(_sweep, leader, since, member_uid, workdir)
        await asyncio.wait([c.closed for c in captures], timeout=_DRAIN_GRACE_S)
        finished = True
    finally:
        if not finished:  # cancelled or failed: nothing of the sandbox may outlive this call
            _kill_group(leader)
            _sweep(leader, since, member_uid, workdir)
        for capture in captures:
            capture.close()

    stdout, stderr, status = captures
    if not status.head and reason is None:
        raise RunError(f"the sandbox could not be set up: {stderr.text('stderr').strip()}")
    if status.head:
        _log.debug("sandbox layers: %s", status.head.decode(errors="replace").strip())
    # tracebacks name the script by the temporary directory's path: name it as the script alone,
    # so that the same code gives the same result in every run (results are recorded and compared)
    stderr_text = stderr.text("stderr").replace(f"{workdir}{os.sep}", "")
    timed_out = reason == "timeout"
    return SandboxResult(
        exit_code=exit_code,
        stdout=stdout.text("stdout"),
        stderr=stderr_text,
        passed=tested and exit_code == 0 and reason is None,
        timed_out=timed_out,
        duration_s=duration,
        truncated=stdout.truncated or stderr.truncated,
        killed_by=_cause(reason, exit_code, stderr_text, duration, limits.cpu_seconds(timeout_s)),
        leftover_processes=leftovers,
    )


def _cause(
    reason: str | None, exit_code: int | None, stderr: str, duration_s: float, cpu_s: int
) -> str | None:
    if reason is not None:
        return reason
    if exit_code == -signal.SIGXCPU:
        return "cpu"
    # SIGKILL from the hard CPU limit (SIGXCPU was caught) needs that much CPU first, which
    # takes at least this long on this machine's cores; the script may also kill itself.
    if exit_code == -signal.SIGKILL and duration_s * (os.cpu_count() or 1) >= cpu_s:
        return "cpu"
    if exit_code:
        tail = stderr[-2000:]
        if any(sign in tail for sign in _MEMORY_SIGNS):
            return "memory"
        if exit_code == -signal.SIGXFSZ or "File too large" in tail:
            return "file_size"
    return None


def _kill_group(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def _start_time(pid: int) -> float:
    """When ``pid`` started, on the clock ``psutil`` gives every process's start on."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return time.time() - 1.0  # it is already gone: anything younger may be its offspring


def _sweep(leader: int, since: float, uid: int, home: str) -> int:
    """Kill every process of the sandbox still alive; return how many there were, leader aside."""
    found: set[int] = set()
    for _ in range(50):
        alive = _members(leader, since, uid, home)
        if not alive:
            break
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        found |= alive
        time.sleep(0.01)
    return len(found - {leader})


def _members(leader: int, since: float, uid: int, home: str) -> set[int]:
    """Live processes of the sandbox: in its session or group, or of its uid with its HOME.

    The last catches a process that left the session with ``setsid``; its environment cannot be
    changed where /proc shows it without privileges the sandbox does not have.
    """
    members: set[int] = set()
    me = os.getpid()
    for pid in psutil.pids():
        if pid == me:
            continue
        try:
            if os.getsid(pid) != leader and os.getpgid(pid) != leader:
                if _uid_of(pid) != uid:
                    continue
                if psutil.Process(pid).environ().get("HOME") != home:
                    continue
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE or process.create_time() < since:
                continue
        except (OSError, psutil.Error):
            continue  # gone meanwhile, or not ours to look at
        members.add(pid)
    return members


def _uid_of(pid: int) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid  # one stat, where psutil would read a file
    except FileNotFoundError:
        if os.path.isdir("/proc"):
            raise
        return psutil.Process(pid).uids().effective
