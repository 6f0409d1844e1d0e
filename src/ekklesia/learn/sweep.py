"""Exhaustive evaluation: every strategy on the same tasks, with the same seed.

``sweep(strategies, suite="arithmetic", tasks=20)`` runs each (strategy, task) pair once and gives
each strategy's per-task means and the objective's 95% interval. Pairs run side by side up to the
CPUs the Ray cluster offers (the swarms' hosts are Ray actors, so a cluster spreads them over its
nodes; under ``ray job submit`` the driver joins the job's cluster). Every finished pair is stored
(:class:`~ekklesia.learn.store.RunStore`) as soon as it finishes, and a sweep started again skips
the pairs already stored: an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ekklesia.core.aio import run_sync
from ekklesia.core.task import Task
from ekklesia.learn.runs import Runner, RunRecord, Summary, measure_of, suite_tasks, summarise
from ekklesia.learn.store import RunStore
from ekklesia.learn.strategies import Strategies, Strategy, load_strategies
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus

__all__ = ["SweepResult", "asweep", "sweep"]


@dataclass(frozen=True)
class SweepResult:
    """Each strategy's summary, every run, how many were taken from the store."""

    measure: str
    summaries: list[Summary]
    records: list[RunRecord]
    resumed: int

    def to_json(self) -> dict[str, Any]:
        """The ``ekklesia sweep --json`` object (a contract)."""
        return {"strategies": [s.to_json(self.measure) for s in self.summaries]}

    @property
    def best(self) -> str:
        return max(self.summaries, key=lambda s: s.objective).name


async def asweep(
    strategies: Strategies | str | Path,
    *,
    suite: str = "arithmetic",
    tasks: int = 20,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    store: RunStore | None = None,
    concurrency: int | None = None,
    runner: Runner | None = None,
) -> SweepResult:
    """Run every strategy on the first ``tasks`` tasks of ``suite``; see the module docstring.

    ``on_progress(done, total)`` is called as pairs finish (stored pairs count as done at once).
    A ``runner`` the caller holds keeps its swarms' hosts between sweeps (the caller closes it).
    """
    chosen = load_strategies(strategies)
    problems = suite_tasks(suite, tasks, seed, chosen)
    store = store or RunStore()
    found: dict[tuple[str, str], RunRecord] = {}
    todo = []
    for strategy in chosen.strategies:
        for task in problems:
            record = store.get(strategy.digest, task.id, seed)
            if record is not None:
                found[(strategy.name, task.id)] = record.model_copy(
                    update={"strategy": strategy.name}
                )
            else:
                todo.append((strategy, task))
    total = len(chosen.strategies) * len(problems)
    resumed = len(found)
    if on_progress is not None:
        on_progress(resumed, total)
    if todo:
        ensure_ray()
        limit = asyncio.Semaphore(concurrency or ray_cpus())
        owned = runner is None
        running = runner or Runner()
        try:
            for strategy, _ in todo:
                running.swarm(strategy, seed)  # every spec checked before the first run

            async def one(pair: tuple[Strategy, Task]) -> None:
                strategy, task = pair
                async with limit:
                    record = await running.run(strategy, task, seed)
                store.put(record)
                found[(strategy.name, task.id)] = record
                if on_progress is not None:
                    on_progress(len(found), total)

            await asyncio.gather(*(one(pair) for pair in todo))
        finally:
            if owned:
                running.close()
    records = [found[(s.name, t.id)] for s in chosen.strategies for t in problems]
    summaries = [
        summarise(s.name, [r for r in records if r.strategy == s.name], chosen.objective)
        for s in chosen.strategies
    ]
    return SweepResult(measure_of(problems), summaries, records, resumed)


def sweep(
    strategies: Strategies | str | Path,
    *,
    suite: str = "arithmetic",
    tasks: int = 20,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    store: RunStore | None = None,
    concurrency: int | None = None,
    runner: Runner | None = None,
) -> SweepResult:
    """:func:`asweep` from sync code."""
    return run_sync(
        asweep(
            strategies,
            suite=suite,
            tasks=tasks,
            seed=seed,
            on_progress=on_progress,
            store=store,
            concurrency=concurrency,
            runner=runner,
        ),
        "sweep()",
        "await asweep(...)",
    )
