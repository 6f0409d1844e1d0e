"""A sweep's (strategy, task) pairs as Ray work, spread over the CPUs of the cluster.

:func:`run_pairs` starts up to ``workers`` :class:`PairWorker` actors, each claiming one CPU, so a
cluster with N free CPUs runs N pairs at once on whichever nodes have them. A worker runs one
pair at a time, the whole run in its own process (the round engine there; the agents on host
actors it starts), and keeps a :class:`~ekklesia.learn.runs.Runner`: a strategy's swarm starts
once per worker and serves every task of that strategy the worker is given. The driver hands
each worker a pair of the strategy it already runs where one is left, else one of a strategy no
other worker runs, and receives each record as its run ends (``on_record``, where the sweep
stores it and moves its progress bar).

A worker is told the driver's ``$EKKLESIA_HOME`` (an actor's process does not see the driver's
environment changes) and session, so its runs' timelines land where the driver's would and
group under the command that started them. On a cluster of several machines, the timelines are
written on the machine that ran them: give the nodes a shared ``$EKKLESIA_HOME`` to keep them in
one place (the sweep's results and its stored records are the driver's either way).

Workers are non-detached actors: they, and the hosts they started, end with the sweep, or with the
driver if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import ray

from ekklesia.core.events import RunOrigin
from ekklesia.core.paths import data_home
from ekklesia.core.task import Task
from ekklesia.learn.runs import Runner, RunRecord
from ekklesia.learn.strategies import Strategy
from ekklesia.runtime.ray_errors import remote_cause, run_error
from ekklesia.runtime.ray_support import ensure_ray
from ekklesia.runtime.session import current_origin, session

__all__ = ["PairWorker", "PairWorkerCore", "run_pairs"]

Pair = tuple[Strategy, Task]


class PairWorkerCore:
    """Runs pairs in its own process, keeping one swarm per strategy (the actor's class)."""

    def __init__(self, home: str, origin: RunOrigin) -> None:
        os.environ["EKKLESIA_HOME"] = home
        self._origin = origin
        self._runner = Runner()

    def ready(self) -> int:
        return os.getpid()

    async def run(self, strategy: Strategy, task: Task, seed: int) -> RunRecord:
        origin = self._origin
        with session(origin.session, command=origin.command, key=origin.key):
            return await self._runner.run(strategy, task, seed)

    def close(self) -> None:
        self._runner.close()


PairWorker: Any = ray.remote(num_cpus=1, max_restarts=0)(PairWorkerCore)


def _take(todo: list[Pair], mine: str | None, others: set[str]) -> Pair:
    """The next pair for a worker whose swarm runs strategy ``mine`` (a digest), while the other
    workers run ``others``: one of its own strategy, else one nobody runs, else the first."""
    for wanted in (lambda d: d == mine, lambda d: d not in others):
        for i, (strategy, _) in enumerate(todo):
            if wanted(strategy.digest):
                return todo.pop(i)
    return todo.pop(0)


async def run_pairs(
    todo: Sequence[Pair],
    seed: int,
    *,
    workers: int,
    on_record: Callable[[RunRecord], None],
) -> None:
    """Run every pair on up to ``workers`` :class:`PairWorker` actors; see the module docstring.

    Returns when every pair's record has been handed to ``on_record``; the first error (of a
    run, a worker, or ``on_record`` itself) stops the others and is raised here.
    """
    if not todo:
        return
    ensure_ray()
    left = list(todo)
    home, origin = str(data_home()), current_origin()
    handles = [PairWorker.remote(home, origin) for _ in range(max(1, min(workers, len(left))))]
    running: dict[int, str] = {}
    finished = asyncio.Event()
    count = 0

    async def drive(index: int, handle: Any) -> None:
        nonlocal count
        await handle.ready.remote()  # a worker still waiting for a CPU takes no pair meanwhile
        while left:
            others = {d for i, d in running.items() if i != index}
            strategy, task = _take(left, running.get(index), others)
            running[index] = strategy.digest
            try:
                record: RunRecord = await handle.run.remote(strategy, task, seed)
            except Exception as exc:  # Ray's errors, mapped at the one boundary
                cause = remote_cause(exc)
                if cause is not exc:
                    raise cause from None
                raise run_error(f"sweep pair {strategy.name} / {task.id}", exc) from exc
            on_record(record)
            count += 1
            if count == len(todo):
                finished.set()

    drives = [asyncio.ensure_future(drive(i, h)) for i, h in enumerate(handles)]
    waiter = asyncio.ensure_future(finished.wait())
    try:
        while not finished.is_set():
            for drive_task in drives:
                if drive_task.done() and (error := drive_task.exception()) is not None:
                    raise error
            waiting = [d for d in drives if not d.done()]
            await asyncio.wait([*waiting, waiter], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [*drives, waiter]:
            task.cancel()
        for task in drives:
            with contextlib.suppress(BaseException):
                await task
        for handle in handles:  # its swarms' hosts are its own actors: they end with it
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
