"""What a suite builder found per problem, kept on disk: a suite is checked in the sandbox once.

Contract: :func:`cached_payloads` walks the HumanEval problems in order and returns the first ``n``
that ``check`` finds a payload for (a JSON-able dict; None skips the problem), each paired with its
payload. A payload depends on the problem and the seed alone, never on ``n``, so a longer suite
extends a shorter one and every payload found is kept in
``<data home>/suites/<pattern>-<seed>.json``, together with ``version`` and the dataset's
fingerprint: a file with another version or dataset, or one that cannot be read, is ignored and
rewritten. Problems are checked concurrently (the sandbox bounds how many run at once) and the file
is saved every few problems, so an interrupted build keeps most of its work. ``on_progress(done,
total)`` is told each problem looked at; ``total`` grows when skipped problems call for more.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ekklesia.code.humaneval import Problem, fingerprint, problems
from ekklesia.core.paths import data_home

__all__ = ["Check", "Payload", "Progress", "cache_path", "cached_payloads"]

Payload = dict[str, Any]
Check = Callable[[Problem, int], Awaitable[Payload | None]]
Progress = Callable[[int, int], None]

_SAVE_EVERY = 16


def cache_path(pattern: str, seed: int) -> Path:
    return data_home() / "suites" / f"{pattern}-{seed}.json"


async def cached_payloads(
    pattern: str,
    n: int,
    seed: int,
    check: Check,
    *,
    version: int,
    on_progress: Progress | None = None,
) -> list[tuple[Problem, Payload]]:
    """The first ``n`` problems with a payload, and their payloads; see the module docstring."""
    path = cache_path(pattern, seed)
    stamp = {"version": version, "dataset": fingerprint(), "pattern": pattern, "seed": seed}
    known = _read(path, stamp)
    pool = problems()
    chosen: list[tuple[Problem, Payload]] = []
    looked = total = 0
    unsaved = 0

    def report() -> None:
        if on_progress is not None:
            on_progress(looked, total)

    async def one(problem: Problem) -> None:
        nonlocal looked, unsaved
        known[problem.task_id] = await check(problem, seed)
        looked += 1
        unsaved += 1
        if unsaved >= _SAVE_EVERY:
            _write(path, stamp, known)
            unsaved = 0
        report()

    start = 0
    while len(chosen) < n and start < len(pool):
        batch = pool[start : start + n - len(chosen)]
        start += len(batch)
        total += len(batch)
        missing = [p for p in batch if p.task_id not in known]
        looked += len(batch) - len(missing)
        report()
        if missing:
            await asyncio.gather(*(one(p) for p in missing))
            _write(path, stamp, known)
            unsaved = 0
        for p in batch:
            payload = known[p.task_id]
            if payload is not None:
                chosen.append((p, payload))
    return chosen


def _read(path: Path, stamp: dict[str, Any]) -> dict[str, Payload | None]:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict) or any(saved.get(k) != v for k, v in stamp.items()):
        return {}
    payloads = saved.get("payloads")
    return dict(payloads) if isinstance(payloads, dict) else {}


def _write(path: Path, stamp: dict[str, Any], known: dict[str, Payload | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed: a reader never sees half a file, a crash never leaves one
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({**stamp, "payloads": known}, sort_keys=True))
    os.replace(partial, path)
