"""The population engine: rounds of phases over population hosts, with checkpoints and restarts.

Each round runs the phases in order; in a phase the driver makes one call per host, passing each
the references of the parcel lists the other hosts produced for it in the previous call (the data
goes from host to host through the object store; the driver never reads it). When every host has
answered, the next phase starts. At the end of a round the hosts' statistics are combined in chunk
order (the same bits whatever the placement), the sampled messages are put in (sender, recipient)
order, and both are appended to the timeline.

Every ``checkpoint_every`` rounds, and after the last, the hosts also return their columns and
waiting mail; the driver keeps those references and the parcels still on their way. A host that
dies (or whose call is lost) is replaced by a new one built from the last checkpoint, every other
host is rolled back to it, and the rounds after it run again; with ``checkpoint_every=0`` that is
the initial state. Rounds already recorded are checked, not recorded twice: a kind that comes out
differently on a re-run is not deterministic, and the run stops with a :class:`RunError`. Past
``max_restarts`` the run ends with a :class:`HostFailure`; the timeline is written in every case.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from ekklesia.agents.population import Population, State
from ekklesia.core.events import (
    ColumnStats,
    HostRestarted,
    MailSent,
    PopulationStats,
    RoundMeasured,
    RunFinished,
    RunStarted,
    RunStopped,
    StatesSaved,
    Usage,
)
from ekklesia.core.paths import timeline_dir
from ekklesia.errors import HostFailure, RunError
from ekklesia.runtime.footprint import MemorySampler
from ekklesia.runtime.population_host import PhaseReport, PopulationHost, SliceStats
from ekklesia.runtime.population_placement import Layout
from ekklesia.runtime.ray_errors import HOST_GONE, cause
from ekklesia.runtime.shell import RunRecorder

__all__ = ["PopulationEngine", "PopulationPool", "RoundReport", "SimOutcome", "SimulationConfig"]


@dataclass(frozen=True)
class SimulationConfig:
    name: str
    rounds: int
    seed: int
    sample_rate: float
    checkpoint_every: int
    max_restarts: int
    description: str = ""


@dataclass(frozen=True)
class RoundReport:
    """Handed to ``on_round`` after each round: what it did and how long it took."""

    run_id: str
    round: int
    seconds: float
    populations: dict[str, PopulationStats]
    crossing: int
    hosts: dict[str, Any]

    @property
    def delivered(self) -> int:
        return sum(p.delivered for p in self.populations.values())


@dataclass
class SimOutcome:
    run_id: str
    rounds: int
    measured: list[RoundMeasured]
    per_round_s: list[float]
    startup_s: float
    restarts: int
    states_dir: Path
    timeline_path: Path
    host_pids: list[int] = field(default_factory=list)


class _HostsDied(Exception):
    def __init__(self, hosts: list[int], error: str) -> None:
        super().__init__(error)
        self.hosts = hosts
        self.error = error


@dataclass
class _Checkpoint:
    round: int
    hosts: list[Any]  # per host: the checkpoint reference, or None for the initial state
    in_flight: dict[tuple[int, int], Any]


class PopulationPool:
    """The host actors of one simulation run."""

    def __init__(self, layout: Layout, populations: Sequence[Population], seed: int) -> None:
        self.layout = layout
        self.populations = list(populations)
        self.seed = seed
        self.handles: list[Any] = []
        self.pids: list[int] = []

    def _start(self, host: int, checkpoint: Any) -> Any:
        return PopulationHost.remote(host, self.layout, self.populations, self.seed, checkpoint)

    async def start(self) -> None:
        self.handles = [self._start(h, None) for h in range(len(self.layout.hosts))]
        started = await asyncio.gather(
            *(h.ping.remote() for h in self.handles), return_exceptions=True
        )
        for host, answer in zip(self.layout.hosts, started, strict=True):
            if isinstance(answer, BaseException):
                raise RunError(f"{host} could not be started: {cause(answer)}") from answer
        self.pids = [int(pid) for pid in started if not isinstance(pid, BaseException)]

    async def recover(self, dead: list[int], checkpoint: _Checkpoint) -> None:
        """Replace the dead hosts from ``checkpoint`` and roll every other host back to it."""
        for h in dead:
            ray.kill(self.handles[h], no_restart=True)
            self.handles[h] = self._start(h, checkpoint.hosts[h])
        calls = [
            handle.ping.remote() if h in dead else handle.restore.remote(checkpoint.hosts[h])
            for h, handle in enumerate(self.handles)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        gone = [h for h, r in enumerate(results) if isinstance(r, HOST_GONE)]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, HOST_GONE):
                raise RunError(f"restoring the hosts from round {checkpoint.round} failed: {r}")
        if gone:
            raise _HostsDied(gone, "died while being restored")
        for h in dead:
            self.pids[h] = int(await self.handles[h].ping.remote())

    def close(self) -> None:
        for handle in self.handles:
            ray.kill(handle, no_restart=True)
        self.handles = []


class PopulationEngine:
    """Runs a simulation to the end; see the module docstring."""

    def __init__(
        self,
        config: SimulationConfig,
        populations: Sequence[Population],
        layout: Layout,
        spec: dict[str, Any],
    ) -> None:
        self.config = config
        self.populations = list(populations)
        self.layout = layout
        self.spec = spec
        self._memory: MemorySampler | None = None

    async def run(
        self,
        run_id: str,
        on_round: Callable[[RoundReport], None] | None = None,
        *,
        on_start: Callable[[float], None] | None = None,
        memory: MemorySampler | None = None,
    ) -> SimOutcome:
        """Start the hosts, run every round, save the final states, write the timeline."""
        recorder = RunRecorder(run_id)
        pool = PopulationPool(self.layout, self.populations, self.config.seed)
        try:
            with recorder.closing():
                began = time.perf_counter()
                await pool.start()
                startup = time.perf_counter() - began
                self._memory = memory
                if memory is not None:
                    memory.add(pool.pids)
                if on_start is not None:
                    on_start(startup)
                outcome = await self._run(recorder, pool, startup, on_round)
        finally:
            pool.close()
        return outcome

    async def _run(
        self,
        recorder: RunRecorder,
        pool: PopulationPool,
        startup: float,
        on_round: Callable[[RoundReport], None] | None,
    ) -> SimOutcome:
        cfg = self.config
        recorder.emit(
            RunStarted(
                spec=self.spec,
                task={"id": cfg.name, "prompt": cfg.description},
                placement=self.layout.describe(),
            )
        )
        hosts = len(self.layout.hosts)
        checkpoint = _Checkpoint(-1, [None] * hosts, {})
        in_flight: dict[tuple[int, int], Any] = {}
        measured: list[RoundMeasured] = []
        per_round = [0.0] * cfg.rounds
        restarts = 0
        rnd = 0
        while rnd < cfg.rounds:
            began = time.perf_counter()
            save = rnd + 1 == cfg.rounds or (
                cfg.checkpoint_every > 0 and (rnd + 1) % cfg.checkpoint_every == 0
            )
            try:
                in_flight, reports, saved = await self._round(pool, rnd, save, in_flight)
            except _HostsDied as died:
                restarts += 1
                await self._restart(recorder, pool, died, rnd, restarts, checkpoint)
                in_flight = dict(checkpoint.in_flight)
                rnd = checkpoint.round + 1
                continue
            if saved is not None:
                checkpoint = _Checkpoint(rnd, saved, dict(in_flight))
            per_round[rnd] = time.perf_counter() - began
            measure, samples = self._measure(rnd, reports)
            if rnd < len(measured):  # a round re-run after a restart: check it, do not record it
                if measure.populations != measured[rnd].populations:
                    raise RunError(
                        f"round {rnd} came out differently when re-run after a host restart: "
                        "a population kind is not deterministic (draw only from ctx.rng)"
                    )
            else:
                for event in samples:
                    recorder.emit(event)
                measured.append(recorder.emit(measure))
                recorder.flush()
                if on_round is not None:
                    crossing = sum(r.crossing for rs in reports for r in rs)
                    handles = dict(zip(self.layout.hosts, pool.handles, strict=True))
                    on_round(
                        RoundReport(
                            recorder.run_id,
                            rnd,
                            per_round[rnd],
                            measure.populations,
                            crossing,
                            handles,
                        )
                    )
            rnd += 1
        while True:  # the final states, from new hosts if one died after the last round
            held = await asyncio.gather(
                *(h.final_states.remote() for h in pool.handles), return_exceptions=True
            )
            dead = [h for h, answer in enumerate(held) if isinstance(answer, HOST_GONE)]
            if not dead:
                break
            restarts += 1  # the last round is always checkpointed: no round runs again
            lost = _HostsDied(dead, type(held[dead[0]]).__name__)
            await self._restart(recorder, pool, lost, rnd, restarts, checkpoint)
        for answer in held:
            if isinstance(answer, BaseException):
                raise RunError(f"collecting the final states failed: {cause(answer)}")
        states_dir = self._save_states(recorder, held)  # type: ignore[arg-type]
        recorder.emit(RunStopped(round=rnd, reason="max_rounds", rounds_completed=rnd))
        recorder.emit(
            RunFinished(
                round=rnd,
                answer=None,
                expected=None,
                correct=None,
                stop_reason="max_rounds",
                rounds=rnd,
                usage=Usage(),
            )
        )
        path = recorder.finish()
        return SimOutcome(
            run_id=recorder.run_id,
            rounds=rnd,
            measured=measured,
            per_round_s=per_round,
            startup_s=startup,
            restarts=restarts,
            states_dir=states_dir,
            timeline_path=path,
            host_pids=list(pool.pids),
        )

    async def _restart(
        self,
        recorder: RunRecorder,
        pool: PopulationPool,
        died: _HostsDied,
        rnd: int,
        restarts: int,
        checkpoint: _Checkpoint,
    ) -> None:
        """Record the deaths, start new hosts from ``checkpoint`` and roll the others back."""
        if restarts > self.config.max_restarts:
            raise HostFailure(
                f"{len(died.hosts)} host(s) died in round {rnd} after {restarts - 1} "
                f"restart(s) ({died.error}); the run stops with its timeline"
            ) from None
        for h in died.hosts:
            recorder.emit(
                HostRestarted(
                    round=rnd,
                    host=self.layout.hosts[h],
                    agents=tuple(self.layout.label(s) for s in self.layout.slices[h]),
                    error=died.error,
                )
            )
        dead = list(died.hosts)
        for _ in range(len(self.layout.hosts) + 1):
            try:
                await pool.recover(dead, checkpoint)
                break
            except _HostsDied as again:
                dead = again.hosts
        else:
            raise HostFailure("hosts kept dying while being restored from a checkpoint")
        if self._memory is not None:
            self._memory.add(pool.pids)

    # -- one round -----------------------------------------------------------------------------

    async def _round(
        self,
        pool: PopulationPool,
        rnd: int,
        save: bool,
        in_flight: dict[tuple[int, int], Any],
    ) -> tuple[dict[tuple[int, int], Any], list[list[PhaseReport]], list[Any] | None]:
        hosts = len(self.layout.hosts)
        reports: list[list[PhaseReport]] = []
        saved: list[Any] | None = None
        phases = self.layout.phases
        for phase in phases:
            last = phase == phases[-1]
            calls = []
            for h, handle in enumerate(pool.handles):
                posts = [in_flight[(src, h)] for src in range(hosts) if (src, h) in in_flight]
                calls.append(
                    handle.step.options(num_returns=2 + hosts).remote(
                        rnd, phase, save and last, self.config.sample_rate, *posts
                    )
                )
            answers = await asyncio.gather(*(c[0] for c in calls), return_exceptions=True)
            dead = [h for h, a in enumerate(answers) if isinstance(a, HOST_GONE)]
            if dead:
                name = next(type(a).__name__ for a in answers if isinstance(a, HOST_GONE))
                raise _HostsDied(dead, name)
            phase_reports: list[PhaseReport] = []
            for h, answer in enumerate(answers):
                if isinstance(answer, ray.exceptions.ObjectLostError):
                    raise HostFailure(f"mail or a checkpoint of {self.layout.hosts[h]} was lost")
                if isinstance(answer, BaseException):
                    raise RunError(f"{self.layout.hosts[h]} failed in round {rnd}: {answer}")
                if answer.error is not None:
                    raise RunError(answer.error)
                phase_reports.append(answer)
            in_flight = {
                (src, dst): calls[src][2 + dst]
                for src, report in enumerate(phase_reports)
                for dst, posted in enumerate(report.posted)
                if posted
            }
            reports.append(phase_reports)
            if save and last:
                saved = [c[1] for c in calls]
        return in_flight, reports, saved

    def _measure(
        self, rnd: int, reports: list[list[PhaseReport]]
    ) -> tuple[RoundMeasured, list[MailSent]]:
        layout = self.layout
        stats: dict[int, list[SliceStats]] = {}
        sent: dict[int, int] = {}
        delivered: dict[int, int] = {}
        samples: list[tuple[int, int, int, dict[str, Any]]] = []
        for phase, phase_reports in zip(layout.phases, reports, strict=True):
            for report in phase_reports:
                for p, n in report.sent.items():
                    sent[p] = sent.get(p, 0) + n
                for p, n in report.delivered.items():
                    delivered[p] = delivered.get(p, 0) + n
                samples.extend((phase, s, t, payload) for s, t, payload in report.samples)
                for p, piece in (report.stats or {}).items():
                    stats.setdefault(p, []).append(piece)
        populations: dict[str, PopulationStats] = {}
        for p, slot in enumerate(layout.populations):
            pieces = sorted(stats.get(p, []), key=lambda s: s.start)
            columns: dict[str, ColumnStats] = {}
            for name in self.populations[p].kind.columns:
                total = float(np.sum(np.concatenate([s.chunk_sums[name] for s in pieces])))
                columns[name] = ColumnStats(
                    mean=_number(total / slot.size),
                    min=_number(min(s.minimum[name] for s in pieces)),
                    max=_number(max(s.maximum[name] for s in pieces)),
                )
            populations[slot.name] = PopulationStats(
                agents=slot.size,
                sent=sent.get(p, 0),
                delivered=delivered.get(p, 0),
                columns=columns,
            )
        samples.sort(key=lambda s: (s[0], s[1], s[2]))
        events = [
            MailSent(
                round=rnd,
                phase=phase,
                sender=self._name(sender),
                to=self._name(to),
                broadcast=to < 0,
                payload=payload,
            )
            for phase, sender, to, payload in samples
        ]
        return RoundMeasured(round=rnd, populations=populations), events

    def _name(self, address: int) -> str:
        slots = self.layout.populations
        if address < 0:
            return slots[-address - 1].name
        first_ids = [s.first_id for s in slots]
        p = int(np.searchsorted(first_ids, address, side="right")) - 1
        return self.populations[p].agent_name(address - slots[p].first_id)

    # -- the end -------------------------------------------------------------------------------

    def _save_states(self, recorder: RunRecorder, held: list[dict[int, tuple[int, State]]]) -> Path:
        directory = timeline_dir() / f"{recorder.run_id}.states"
        directory.mkdir(parents=True, exist_ok=True)
        saved: dict[str, dict[str, str | int]] = {}
        for p, population in enumerate(self.populations):
            pieces = sorted((part[p] for part in held if p in part), key=lambda piece: piece[0])
            state = _join([s for _, s in pieces], population)
            saved[population.name] = write_states(directory, population, state)
        recorder.emit(StatesSaved(round=self.config.rounds, populations=saved))
        return directory


def _join(pieces: list[State], population: Population) -> State:
    return {
        name: np.concatenate([piece[name] for piece in pieces]) for name in population.kind.columns
    }


def write_states(directory: Path, population: Population, state: State) -> dict[str, str | int]:
    """Write a population's final columns as ``<directory>/<name>.parquet``, one row per agent,
    and return the file name, the rows and a digest of the columns."""
    rows = population.n
    name = population.name
    digest = hashlib.blake2b(digest_size=16)
    for column in sorted(state):
        digest.update(column.encode())
        digest.update(np.ascontiguousarray(state[column]).tobytes())
    table = pa.table({"agent": np.arange(rows, dtype=np.int64), **state})
    path = directory / f"{name}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return {"file": path.name, "rows": rows, "digest": digest.hexdigest()}


def _number(value: float) -> float | None:
    return value if np.isfinite(value) else None
