"""ekklesia.tools.sandbox: real runs of hostile and ordinary code, no mocks.

The tests that switch the audit hook off (``_run(..., audit=False)``) check that the kernel layers
under it hold on their own; they need root, which is how CI runs.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ekklesia.errors import UserError
from ekklesia.tools.sandbox import (
    SandboxLimits,
    SandboxResult,
    _run,
    run_python,
    set_max_parallel,
)

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the kernel layers need root")

HAS_CLOSE_ELEMENTS = """
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
"""
CHECK = """
def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False

check(has_close_elements)
"""
# Printed first by hostile scripts, so the test can look for what the sandbox left behind.
WHERE = "import os\nprint(os.getcwd(), os.getsid(0), flush=True)\n"


def survivors(workdir: str, session: int | None = None) -> list[int]:
    """Live processes of a finished sandbox: its HOME, or its session."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            ours = session is not None and os.getsid(process.pid) == session
            if ours or process.environ().get("HOME") == workdir:
                found.append(process.pid)
        except (psutil.Error, OSError):
            continue
    return found


def sandbox_homes() -> list[str]:
    """HOME of every live process that a sandbox of this test process started (one entry per
    process): sandboxes that other programs on the machine run at the same time do not count."""
    homes = []
    for process in psutil.Process().children(recursive=True):
        try:
            home = process.environ().get("HOME", "")
            if "ekklesia-sandbox-" in home and process.status() != psutil.STATUS_ZOMBIE:
                homes.append(home)
        except (psutil.Error, OSError):
            continue
    return homes


def where(result: SandboxResult) -> tuple[str, int]:
    workdir, session = result.stdout.split()[:2]
    return workdir, int(session)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


# -- ordinary code ------------------------------------------------------------------------------


async def test_a_correct_solution_passes_its_tests() -> None:
    result = await run_python(HAS_CLOSE_ELEMENTS, CHECK, timeout_s=5)
    assert result.passed, result.stderr
    assert (result.exit_code, result.timed_out, result.killed_by) == (0, False, None)
    assert result.leftover_processes == 0


async def test_a_wrong_solution_fails_with_the_assertion_in_stderr() -> None:
    wrong = HAS_CLOSE_ELEMENTS.replace("return True", "return False", 1)
    result = await run_python(wrong, CHECK, timeout_s=5)
    assert not result.passed
    assert result.exit_code == 1
    assert "AssertionError" in result.stderr
    assert 'main.py", line' in result.stderr
    assert "_sandbox_child" not in result.stderr  # the traceback shows the script only


async def test_without_tests_nothing_passes() -> None:
    result = await run_python(HAS_CLOSE_ELEMENTS + "\nprint('ran')", "  \n", timeout_s=5)
    assert result.exit_code == 0
    assert result.stdout == "ran\n"
    assert not result.passed


async def test_a_syntax_error_is_reported() -> None:
    result = await run_python("def broken(:\n    pass", "assert True", timeout_s=5)
    assert not result.passed
    assert result.exit_code == 1
    assert "SyntaxError" in result.stderr
    assert "main.py" in result.stderr


async def test_the_standard_library_numpy_and_asyncio_work_under_the_limits() -> None:
    pytest.importorskip("numpy")
    code = (
        "import collections, dataclasses, fractions, itertools, math, re, statistics, typing\n"
        "import asyncio, tempfile, threading, numpy\n"
        "@dataclasses.dataclass\nclass P:\n    x: int\n"
        "async def twice(n: int) -> int:\n    return 2 * n\n"
        "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "with tempfile.TemporaryFile() as f:\n    f.write(b'x')\n"
        "print(int(numpy.arange(5).sum()), asyncio.run(twice(21)), P(1))\n"
    )
    result = await run_python(code, "assert math.gcd(12, 18) == 6", timeout_s=10)
    assert result.passed, result.stderr
    assert result.stdout == "thread\n10 42 P(x=1)\n"


async def test_files_are_written_beside_the_script_and_importable() -> None:
    files = {"helper.py": "X = 41", "data/input.txt": "1\n"}
    code = "import helper\nprint(helper.X + int(open('data/input.txt').read()))"
    result = await run_python(code, "assert helper.X == 41", files=files)
    assert result.passed, result.stderr
    assert result.stdout == "42\n"


async def test_hashing_is_the_same_on_every_run() -> None:
    code = "print(hash('ekklesia'), list({'a', 'b', 'c', 'd'}))"
    first, second = [await run_python(code) for _ in range(2)]
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout


async def test_the_result_round_trips_through_json() -> None:
    result = await run_python("print('é ✓')\nraise SystemExit(3)", "assert False")
    assert result.exit_code == 3
    assert SandboxResult.model_validate_json(result.model_dump_json()) == result


async def test_many_sandboxes_run_at_once() -> None:
    runs = [run_python(HAS_CLOSE_ELEMENTS, CHECK, timeout_s=10) for _ in range(8)]
    results = await asyncio.gather(*runs)
    assert all(r.passed for r in results), [r.stderr for r in results if not r.passed]


async def test_the_parallel_cap_holds_and_rejects_nonsense() -> None:
    with pytest.raises(UserError):
        set_max_parallel(0)
    set_max_parallel(1)
    try:
        started = time.monotonic()
        await asyncio.gather(*[run_python("import time\ntime.sleep(0.3)") for _ in range(3)])
        assert time.monotonic() - started >= 0.9  # one at a time
    finally:
        set_max_parallel(None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": -1}, "timeout_s"),
        ({"timeout_s": math.nan}, "timeout_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"files": {"../escape.py": ""}}, "relative"),
        ({"files": {"/etc/passwd": ""}}, "relative"),
        ({"files": {"main.py": ""}}, "relative"),
        ({"files": {"a": "", "a/b.py": ""}}, "clash"),
    ],
)
async def test_bad_arguments_raise_user_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        await run_python("pass", **kwargs)  # type: ignore[arg-type]


# -- limits -------------------------------------------------------------------------------------


async def test_an_endless_loop_times_out_and_leaves_nothing() -> None:
    started = time.monotonic()
    result = await run_python(WHERE + "while True: pass", "assert True", timeout_s=1)
    assert time.monotonic() - started < 3
    assert result.timed_out and not result.passed
    assert (result.killed_by, result.exit_code) == ("timeout", -signal.SIGKILL)
    workdir, session = where(result)
    assert survivors(workdir, session) == []


async def test_the_cpu_limit_ends_a_busy_script() -> None:
    result = await run_python("while True: pass", timeout_s=10, limits=SandboxLimits(cpu_s=1))
    assert result.killed_by == "cpu"
    assert result.exit_code == -signal.SIGXCPU
    assert not result.timed_out
    assert result.duration_s < 5


async def test_a_huge_allocation_is_a_memory_error() -> None:
    result = await run_python("x = bytearray(10 * 2**30)", "assert True", timeout_s=10)
    assert not result.passed
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr
    assert result.killed_by == "memory"


async def test_an_output_flood_is_cut_off() -> None:
    started = time.monotonic()
    result = await run_python("while True: print('x' * 1000)", timeout_s=10)
    assert time.monotonic() - started < 5
    assert result.truncated
    assert result.killed_by == "output"
    assert not result.timed_out
    assert len(result.stdout) < SandboxLimits().output_bytes + 200


async def test_long_output_is_truncated_with_a_note_keeping_its_end() -> None:
    code = "print('x' * 5000)\nprint('the end')"  # over the budget, short of a flood
    result = await run_python(code, timeout_s=5, limits=SandboxLimits(output_bytes=1000))
    assert result.exit_code == 0
    assert result.truncated and result.killed_by is None
    assert len(result.stdout) < 1200
    assert "bytes of stdout not kept" in result.stdout
    assert result.stdout.endswith("the end\n")


async def test_the_directory_is_removed_even_when_made_unwritable() -> None:
    code = "import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').write('x')\nos.chmod('a', 0)\n"
    result = await run_python(code + "os.chmod('.', 0o500)\nprint(os.getcwd())")
    assert result.exit_code == 0, result.stderr
    assert not os.path.exists(result.stdout.strip())


async def test_cancelling_a_run_kills_it_and_cleans_up() -> None:
    run = asyncio.create_task(run_python("while True: pass", timeout_s=30))
    await asyncio.sleep(0.5)
    homes = sandbox_homes()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert homes, "the sandbox should have been running"
    for home in homes:
        assert survivors(home) == []
        assert not os.path.exists(home)


# -- hostile code -------------------------------------------------------------------------------


async def test_a_fork_bomb_is_refused_and_leaves_nothing() -> None:
    result = await run_python(WHERE + "while True: os.fork()", timeout_s=5)
    assert result.exit_code == 1
    assert "os.fork is not allowed" in result.stderr
    assert result.leftover_processes == 0
    workdir, session = where(result)
    assert survivors(workdir, session) == []


@pytest.mark.parametrize(
    "spawn",
    [
        "import subprocess\nsubprocess.Popen(['sleep', '60'])",
        "os.system('sleep 60 &')",
        "os.posix_spawn('/bin/sleep', ['sleep', '60'], {})",
        "import _posixsubprocess\n_posixsubprocess.fork_exec()",
    ],
)
async def test_starting_a_process_is_refused(spawn: str) -> None:
    result = await run_python(WHERE + spawn, timeout_s=5)
    assert result.exit_code == 1
    assert "PermissionError: ekklesia sandbox" in result.stderr
    workdir, session = where(result)
    assert survivors(workdir, session) == []


async def test_a_connection_to_the_host_never_arrives(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    result = await run_python(code, timeout_s=5)
    assert result.exit_code == 1
    assert "not allowed" in result.stderr
    with pytest.raises(BlockingIOError):
        listener.accept()


async def test_rmtree_outside_the_sandbox_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "sentinel").write_text("still here")
    result = await run_python(f"import shutil\nshutil.rmtree({str(victim)!r})", timeout_s=5)
    assert result.exit_code == 1
    assert "PermissionError" in result.stderr
    assert (victim / "sentinel").read_text() == "still here"


@pytest.mark.parametrize(
    "write",
    [
        "open({target!r}, 'w').write('x')",
        "import os\nos.close(os.open({target!r}, os.O_WRONLY | os.O_CREAT))",
        "from pathlib import Path\nPath({target!r}).write_text('x')",
        "import os\nos.close(os.open('../' * 20 + {target!r}[1:], os.O_WRONLY | os.O_CREAT))",
        "import os\nfd = os.open({parent!r}, os.O_RDONLY)\n"
        "os.open('evil.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)",
    ],
)
async def test_writing_outside_the_sandbox_is_refused(tmp_path: Path, write: str) -> None:
    target = tmp_path / "evil.txt"
    code = write.format(target=str(target), parent=str(tmp_path))
    result = await run_python(code, timeout_s=5)
    assert result.exit_code == 1
    assert "PermissionError" in result.stderr
    assert not target.exists()


async def test_the_parents_environment_stays_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    result = await run_python("import json, os\nprint(json.dumps(dict(os.environ)))")
    environment = json.loads(result.stdout)
    assert "OPENAI_API_KEY" not in environment
    assert "sk-test" not in result.stdout
    assert environment["HOME"] == environment["TMPDIR"]
    assert set(environment) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    }


# -- the kernel layers, under the audit hook ----------------------------------------------------


@needs_root
async def test_as_root_the_script_runs_as_nobody_offline_and_limited() -> None:
    code = (
        "import os, resource\n"
        "print(os.getuid(), os.getgid(), os.getgroups())\n"
        "lines = open('/proc/net/dev').readlines()[2:]\n"
        "print(sorted(line.split(':')[0].strip() for line in lines))\n"
        "print([resource.getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in "
        "('AS', 'NPROC', 'NOFILE', 'CORE', 'CPU')])\n"
        # Kept to import the standard library, the read capability must not reach into other
        # processes: the parent's environment is where API keys live.
        "try:\n    open(f'/proc/{os.getppid()}/environ').read()\n"
        "except PermissionError:\n    print('environ refused')\n"
    )
    result = await run_python(code, timeout_s=5, limits=SandboxLimits(memory_mb=512, processes=16))
    assert result.exit_code == 0, result.stderr
    ids, interfaces, limits, environ = result.stdout.splitlines()
    assert environ == "environ refused"
    assert ids == "65534 65534 []"
    assert interfaces == "['lo']"
    mib = 512 * 2**20
    assert limits == str([(mib, mib), (16, 16), (64, 64), (0, 0), (6, 7)])


@needs_root
async def test_without_the_hook_the_uid_still_protects_files(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "sentinel").write_text("still here")
    target = tmp_path / "evil.txt"
    code = (
        "import shutil\n"
        f"try:\n    shutil.rmtree({str(victim)!r})\n"
        "except PermissionError as exc:\n    print(exc)\n"
        f"open({str(target)!r}, 'w')\n"
    )
    result = await _run(code, "", 5, None, None, audit=False)
    assert result.exit_code == 1
    assert "Permission denied" in result.stdout + result.stderr
    assert (victim / "sentinel").exists()
    assert not target.exists()


@needs_root
async def test_without_the_hook_the_network_namespace_holds(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    result = await _run(code, "", 5, None, None, audit=False)
    assert result.exit_code == 1
    assert "Network is unreachable" in result.stderr
    with pytest.raises(BlockingIOError):
        listener.accept()


@needs_root
async def test_without_the_hook_a_fork_bomb_is_bounded_and_swept() -> None:
    code = WHERE + "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    started = time.monotonic()
    run = asyncio.create_task(_run(code, "", 1.5, SandboxLimits(processes=32), None, audit=False))
    most = 0
    while not run.done():
        most = max(most, len(sandbox_homes()))
        await asyncio.sleep(0.05)
    result = await run
    assert time.monotonic() - started < 6
    assert result.timed_out
    # It did fork, and RLIMIT_NPROC bounded it (the limit counts every process of the uid).
    assert 1 < most <= 32
    workdir, session = where(result)
    assert survivors(workdir, session) == []


async def test_the_same_code_gives_the_same_result_in_every_run() -> None:
    """Results are recorded and compared: a traceback names the script, not its temporary folder."""
    first, second = [await run_python("raise ValueError('x')", timeout_s=5) for _ in range(2)]
    assert 'File "main.py"' in first.stderr and "ekklesia-sandbox-" not in first.stderr
    assert first.model_dump(exclude={"duration_s"}) == second.model_dump(exclude={"duration_s"})
