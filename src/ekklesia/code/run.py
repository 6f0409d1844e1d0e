"""``ek.run_pattern``: a library pattern over tasks (or its own suite), scored, with the totals.

    report = ek.run_pattern("bug_fix", ek.code.suite("bug_fix", n=5), model="sim")
    report.score, report.usage.usd, [r.passed for r in report.results]

The pattern's own team runs it (each member with ``model``) unless a spec says otherwise; pattern
options (``max_revisions=2``) go through ``**options``. Runs are one after another on the same
hosts; each is a timeline tagged with the pattern and the task kind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.core.aio import run_sync
from ekklesia.core.events import Usage
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.patterns.library import get_pattern, library, register_pattern
from ekklesia.patterns.pattern import Pattern
from ekklesia.patterns.spec import RunSpec
from ekklesia.patterns.strategy import check_strategy
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
from ekklesia.swarm import RunResult, Swarm, arun_auto

__all__ = ["PatternReport", "arun_pattern", "run_pattern"]


class PatternReport(BaseModel):
    """What a pattern scored over its tasks: the mean score, the usage, each run's result."""

    model_config = ConfigDict(frozen=True)

    pattern: str
    tasks: int
    score: float | None
    usage: Usage
    wall_s: float
    results: list[RunResult]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object of ``ekklesia pattern run`` (a contract)."""
        return {
            "pattern": self.pattern,
            "tasks": self.tasks,
            "score": self.score,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "usd": self.usage.usd,
            },
            "wall_s": round(self.wall_s, 3),
            "results": [
                {
                    "task_id": r.task_id,
                    "run_id": r.run_id,
                    "score": r.score,
                    "passed": r.correct,
                    "stop_reason": r.stop_reason,
                    "rounds": r.rounds,
                }
                for r in self.results
            ],
        }


async def arun_pattern(
    name: str | Pattern,
    tasks: Sequence[Task],
    *,
    model: str = "sim",
    seed: int = 0,
    rounds: int = 1,
    on_result: Callable[[RunResult], None] | None = None,
    concurrency: int | None = None,
    strategy: str | None = None,
    **options: Any,
) -> PatternReport:
    """Run pattern ``name`` on each task; see the module docstring.

    Up to ``concurrency`` tasks (default: the CPUs Ray has) run at once on the swarm's hosts, so
    their sandboxes run side by side; each run is the same as it would be alone.
    ``strategy="auto"`` instead asks the learner of each task's kind which strategy to run (one
    task after another, since each choice learns from the one before); ``name`` is then ignored.
    """
    if not tasks:
        raise SpecError("run_pattern needs at least one task")
    check_strategy(strategy)
    if strategy == "auto":
        return await _run_auto(tasks, on_result)
    pattern = get_pattern(name)
    if isinstance(name, Pattern) and library.get(pattern.name) is not pattern:
        register_pattern(pattern)  # a spec names its pattern: make this one findable by name
    spec = RunSpec.of(
        {
            "pattern": pattern.name,
            "model": model,
            "seed": seed,
            "rounds": rounds,
            "options": options,
        }
    )
    began = time.perf_counter()
    with Swarm.from_spec(spec) as swarm:
        results = await _run_all(swarm, tasks, on_result, concurrency)
    scores = [r.score for r in results if r.score is not None]
    return PatternReport(
        pattern=pattern.name,
        tasks=len(results),
        score=sum(scores) / len(scores) if scores else None,
        usage=sum((r.usage for r in results), Usage()),
        wall_s=time.perf_counter() - began,
        results=results,
    )


async def _run_auto(
    tasks: Sequence[Task], on_result: Callable[[RunResult], None] | None
) -> PatternReport:
    began = time.perf_counter()
    swarms: dict[str, Swarm] = {}
    results = []
    try:
        for task in tasks:
            result = await arun_auto(task, swarms)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        for swarm in swarms.values():
            swarm.close()
    scores = [r.score for r in results if r.score is not None]
    return PatternReport(
        pattern="auto",
        tasks=len(results),
        score=sum(scores) / len(scores) if scores else None,
        usage=sum((r.usage for r in results), Usage()),
        wall_s=time.perf_counter() - began,
        results=results,
    )


async def _run_all(
    swarm: Swarm,
    tasks: Sequence[Task],
    on_result: Callable[[RunResult], None] | None,
    concurrency: int | None,
) -> list[RunResult]:
    if concurrency is not None and concurrency < 1:
        raise SpecError(f"concurrency must be >= 1, got {concurrency}")
    if concurrency is None:
        ensure_ray()
        concurrency = ray_cpus()
    limit = asyncio.Semaphore(concurrency)

    async def one(task: Task) -> RunResult:
        async with limit:
            result = await swarm.arun(task)
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(one(task) for task in tasks)))


def run_pattern(
    name: str | Pattern,
    tasks: Sequence[Task],
    *,
    model: str = "sim",
    seed: int = 0,
    rounds: int = 1,
    on_result: Callable[[RunResult], None] | None = None,
    concurrency: int | None = None,
    strategy: str | None = None,
    **options: Any,
) -> PatternReport:
    """Run pattern ``name`` on each task (sync); inside async code use :func:`arun_pattern`."""
    return run_sync(
        arun_pattern(
            name,
            tasks,
            model=model,
            seed=seed,
            rounds=rounds,
            on_result=on_result,
            concurrency=concurrency,
            strategy=strategy,
            **options,
        ),
        "run_pattern()",
        "await arun_pattern(...)",
    )
