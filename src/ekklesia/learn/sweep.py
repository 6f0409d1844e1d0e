"""Exhaustive evaluation: every strategy on the same tasks, with the same seed.

``sweep(strategies, suite="arithmetic", tasks=20)`` runs each (strategy, task) pair once and gives
each strategy's per-task means and the objective's 95% interval. The pairs are Ray work
(:mod:`ekklesia.learn.workers`): one worker actor per CPU of the cluster, each running one pair
at a time in its own process, so under ``ray job submit`` (where the driver joins the job's
cluster) they spread over every node's CPUs; on one machine, the same path runs them on its CPUs.
Each record comes back to the driver, which stores it (:class:`~ekklesia.learn.store.RunStore`)
as soon as it arrives, and a sweep started again skips the pairs already stored: an interrupted
sweep resumes where it stopped. A run's record does not depend on which worker ran it (the runs
are seeded), so the results are those of running the pairs one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ekklesia.core.aio import run_sync
from ekklesia.core.task import Task
from ekklesia.learn.runs import Runner, RunRecord, Summary, measure_of, suite_tasks, summarise
from ekklesia.learn.store import RunStore
from ekklesia.learn.strategies import Strategies, Strategy, load_strategies
from ekklesia.learn.workers import run_pairs
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
) -> SweepResult:
    """Run every strategy on the first ``tasks`` tasks of ``suite``; see the module docstring.

    ``on_progress(done, total)`` is called as pairs finish (stored pairs count as done at once).
    ``concurrency`` caps the workers (default: the cluster's CPUs).
    """
    chosen = load_strategies(strategies)
    problems = suite_tasks(suite, tasks, seed, chosen)
    store = store or RunStore()
    found: dict[tuple[str, str], RunRecord] = {}
    todo: list[tuple[Strategy, Task]] = []
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
        with Runner() as check:  # every spec checked here, before any worker starts
            for strategy in {s.digest: s for s, _ in todo}.values():
                check.swarm(strategy, seed)
        ensure_ray()

        def arrived(record: RunRecord) -> None:
            store.put(record)
            found[(record.strategy, record.task_id)] = record
            if on_progress is not None:
                on_progress(len(found), total)

        await run_pairs(todo, seed, workers=concurrency or ray_cpus(), on_record=arrived)
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
        ),
        "sweep()",
        "await asweep(...)",
    )
