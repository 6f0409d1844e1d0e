"""Memory: what a simulation will need, checked before any agent is placed, and what it used.

:func:`estimate` adds up, per agent, the state columns (live, checkpointed and gathered at the end),
the mail each agent sends in a round (outbox, the object carrying it to another host, the
receiver's sorted inbox, the checkpoint of mail waiting for the next round), the kind's scratch
space, and recorded events when every message is kept; then a fixed amount per host process and
for the driver. :func:`check_fits` refuses a run whose estimate does not fit the memory this
machine has available (or the Ray object store), with one clear message, instead of letting it swap
or meet the OOM killer halfway.

:class:`MemorySampler` measures the resident memory of the whole process tree — this process, the
Ray processes it started (GCS, raylet, workers) and any host process named to it — in a background
thread, and keeps the peak.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ray

from ekklesia.agents.population import Population
from ekklesia.errors import SpecError

psutil: Any = importlib.import_module("psutil")  # shipped with Ray

__all__ = [
    "DRIVER_BYTES",
    "EVENT_BYTES",
    "HOST_BYTES",
    "Footprint",
    "MemorySampler",
    "available_memory",
    "check_fits",
    "estimate",
]

MIB = 1 << 20
GIB = 1 << 30
#: A host process: Python with Ray, numpy, pyarrow and pydantic imported, before any agent.
HOST_BYTES = 160 * MIB
#: The driver and Ray's own processes (GCS, raylet) around it.
DRIVER_BYTES = 400 * MIB
#: One recorded message event, in memory and on its way to Parquet.
EVENT_BYTES = 1500
#: Mail rows carry a sender and a recipient id besides their payload.
ROW_BYTES = 16
#: How many copies of a round's mail can be alive at once (see the module docstring).
MAIL_COPIES = 5
#: Of the memory available, how much a run may plan to use.
HEADROOM = 0.8


@dataclass(frozen=True)
class Footprint:
    agents: int
    hosts: int
    per_agent: dict[str, int]
    total: int
    object_store: int

    def describe(self) -> str:
        return (
            f"about {self.total / GIB:.1f} GiB "
            f"({self.total / max(1, self.agents):,.0f} bytes per agent with the processes)"
        )


def _per_agent(population: Population, record_rate: float, rounds: int) -> tuple[int, int]:
    """(bytes in process memory, bytes in the object store) per agent of ``population``."""
    kind = population.kind
    state = population.state_bytes
    mail = (ROW_BYTES + kind.message_bytes) * kind.messages_per_agent
    heap = 4 * state + 8 * len(kind.columns) + MAIL_COPIES * mail + kind.scratch_bytes
    heap += record_rate * kind.messages_per_agent * rounds * EVENT_BYTES
    store = 2 * state + 2 * mail  # checkpoint and final state; mail between and waiting
    return int(heap), int(store)


def estimate(
    populations: Sequence[Population], hosts: int, *, rounds: int, record_rate: float
) -> Footprint:
    per_agent: dict[str, int] = {}
    heap = DRIVER_BYTES + hosts * HOST_BYTES
    store = 0
    for population in populations:
        h, s = _per_agent(population, record_rate, rounds)
        per_agent[population.name] = h + s
        heap += h * population.n
        store += s * population.n
    return Footprint(
        agents=sum(p.n for p in populations),
        hosts=hosts,
        per_agent=per_agent,
        total=heap + store,
        object_store=store,
    )


def available_memory() -> tuple[int, int | None]:
    """(memory available for new allocations, Ray object store capacity or None)."""
    local = int(psutil.virtual_memory().available)
    if not ray.is_initialized():
        return local, None
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    store = int(resources.get("object_store_memory", 0)) or None
    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    if len(nodes) > 1:  # a cluster: what Ray says its nodes have, not this machine
        local = int(resources.get("memory", 0) + resources.get("object_store_memory", 0))
    return local, store


def check_fits(
    footprint: Footprint, available: int | None = None, object_store: int | None = None
) -> None:
    """Raise :class:`SpecError` if the run would not fit; see the module docstring."""
    if available is None:
        available, object_store = available_memory()
    if footprint.total > HEADROOM * available:
        raise SpecError(
            f"{footprint.agents:,} agents need {footprint.describe()}, but "
            f"{available / GIB:.1f} GiB is available: use fewer agents or a cluster with more "
            "memory"
        )
    if object_store is not None and footprint.object_store > HEADROOM * object_store:
        raise SpecError(
            f"{footprint.agents:,} agents need about {footprint.object_store / GIB:.1f} GiB of "
            f"Ray object store per round, but it holds {object_store / GIB:.1f} GiB: use fewer "
            "agents, or start Ray with a larger object_store_memory"
        )


class MemorySampler:
    """The peak resident memory of the process tree, sampled every ``interval`` seconds.

    ``peak_rss`` is the largest sum of RSS seen: shared pages (libraries, the object store) count
    once per process that maps them, so it errs high. Use as a context manager.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_rss = 0
        self._extra: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._me = psutil.Process()
        self._listed: list[Any] | None = None
        self._listed_at = 0.0

    def add(self, pids: Iterable[int]) -> None:
        """Count these processes too (e.g. host actors of a cluster joined over RAY_ADDRESS)."""
        self._extra.update(pids)
        self._listed = None

    def processes(self, *, fresh: bool = True) -> list[Any]:
        """This process, its descendants and the processes added. Unless ``fresh``, a list up to
        a second old is reused: walking the process table costs more than reading memory."""
        now = time.monotonic()
        if not fresh and self._listed is not None and now - self._listed_at < 1.0:
            return self._listed
        found = {self._me.pid: self._me}
        try:
            for child in self._me.children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            pass
        for pid in self._extra - found.keys():
            try:
                found[pid] = psutil.Process(pid)
            except psutil.Error:
                continue
        self._listed, self._listed_at = list(found.values()), now
        return self._listed

    def sample(self, *, fresh: bool = True) -> int:
        """The summed RSS now, in bytes; updates the peak."""
        total = 0
        for process in self.processes(fresh=fresh):
            try:
                total += int(process.memory_info().rss)
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample(fresh=False)

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="ekklesia-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss / MIB
