"""Population hosts: the Ray actors that hold slices of populations as columns and step them.

A host holds, for each population it has a slice of, the slice's state columns and the mail
waiting for it. One call steps one phase of one round: the host takes the parcels other hosts sent
it (resolved by Ray from the object store, never through the driver), steps its slices of that
phase concurrently with asyncio, and routes what they said: mail for its own agents goes straight
into its own waiting lists (it never crosses Ray); mail for each other host becomes one parcel list
— one object per host pair per phase — returned to the driver as its own return value, which the
driver hands to the destination's next call. A broadcast travels as one row per destination host.

Returned objects are owned by the driver, so they outlive a host that dies. At the end of a round
a host can also return a :class:`HostCheckpoint` (its columns and waiting mail) from which a new
host is built if this one dies.
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import ray

from ekklesia.agents.population import AgentKind, Directory, Population, PopulationContext, State
from ekklesia.core.agent_random import AgentRandom, splitmix64
from ekklesia.core.mail import Ids, Inbox, Mail, Parcel
from ekklesia.core.seeds import stable_seed
from ekklesia.runtime.population_placement import CHUNK, Layout, Slice

__all__ = [
    "HostCheckpoint",
    "PhaseReport",
    "PopulationHost",
    "PopulationHostCore",
    "SliceStats",
    "sample_mask",
]


@dataclass
class SliceStats:
    """A slice's numbers at the end of a round, in a form the driver can combine exactly."""

    start: int
    chunk_sums: dict[str, npt.NDArray[np.float64]]
    minimum: dict[str, float]
    maximum: dict[str, float]


@dataclass
class PhaseReport:
    """What a host tells the driver about one phase (the mail itself travels separately)."""

    host: str
    sent: dict[int, int] = field(default_factory=dict)
    delivered: dict[int, int] = field(default_factory=dict)
    crossing: int = 0
    samples: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    stats: dict[int, SliceStats] | None = None
    posted: tuple[bool, ...] = ()
    error: str | None = None


@dataclass
class HostCheckpoint:
    """A host's columns and waiting mail at the end of ``round``."""

    round: int
    states: dict[int, State]
    pending: dict[int, list[Parcel]]


class _KindFailed(Exception):
    pass


def sample_mask(
    seed: int, rnd: int, phase: int, sender: Ids, to: Ids, rate: float
) -> npt.NDArray[np.bool_]:
    """Which messages a timeline keeps at ``rate``: a hash of (seed, round, phase, sender,
    recipient), so the choice does not depend on placement."""
    if rate >= 1.0:
        return np.ones(sender.shape[0], dtype=np.bool_)
    if rate <= 0.0:
        return np.zeros(sender.shape[0], dtype=np.bool_)
    key = np.uint64(stable_seed("sample", seed, rnd, phase))
    z = splitmix64(sender.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + key)
    z ^= to.view(np.uint64)
    z = splitmix64(z)
    threshold = np.uint64(int(rate * 2.0**64))
    return z < threshold


class PopulationHostCore:
    """Holds slices of populations and steps them; see the module docstring."""

    def __init__(
        self,
        host: int,
        layout: Layout,
        populations: Sequence[Population],
        seed: int,
        checkpoint: HostCheckpoint | None = None,
    ) -> None:
        self.host = host
        self.layout = layout
        self.seed = seed
        self.slices = layout.slices[host]
        self.local = {s.population: s for s in self.slices}
        self.kinds: dict[int, AgentKind] = {p: populations[p].build() for p in self.local}
        self.directory = Directory(
            {slot.name: (i, slot.first_id, slot.size) for i, slot in enumerate(layout.populations)}
        )
        self._first_ids = np.asarray([s.first_id for s in layout.populations], dtype=np.int64)
        self._sizes = np.asarray([s.size for s in layout.populations], dtype=np.int64)
        self._population_hosts = [
            layout.hosts_of_population(p) for p in range(len(layout.populations))
        ]
        self.states: dict[int, State] = {}
        self.pending: dict[int, list[Parcel]] = {p: [] for p in self.local}
        if checkpoint is None:
            self._init_states()
        else:
            self.restore(checkpoint)

    # -- lifecycle -----------------------------------------------------------------------------

    def ping(self) -> int:
        return os.getpid()

    def _context(self, piece: Slice, rnd: int, phase: int) -> PopulationContext:
        slot = self.layout.populations[piece.population]
        index = np.arange(piece.start, piece.stop, dtype=np.int64)
        return PopulationContext(
            population=slot.name,
            round=rnd,
            phase=phase,
            seed=self.seed,
            start=piece.start,
            stop=piece.stop,
            size=slot.size,
            first_id=slot.first_id,
            directory=self.directory,
            rng=AgentRandom.for_step(self.seed, slot.name, rnd, phase, index),
            _index=index,
        )

    def _init_states(self) -> None:
        for p, piece in self.local.items():
            kind = self.kinds[p]
            state = {
                name: np.zeros(len(piece), dtype=np.dtype(dtype))
                for name, dtype in kind.columns.items()
            }
            kind.init(state, self._context(piece, -1, 0))
            self.states[p] = state
            self.pending[p] = []

    def restore(self, checkpoint: HostCheckpoint | None) -> None:
        """Take the state of a checkpoint (``None``: the initial state)."""
        if checkpoint is None:
            self._init_states()
            return
        self.states = {
            p: {name: np.array(values, copy=True) for name, values in state.items()}
            for p, state in checkpoint.states.items()
        }
        self.pending = {p: list(checkpoint.pending.get(p, [])) for p in self.local}

    def final_states(self) -> dict[int, tuple[int, State]]:
        return {p: (self.local[p].start, state) for p, state in self.states.items()}

    # -- one phase -----------------------------------------------------------------------------

    async def step(
        self, rnd: int, phase: int, checkpoint: bool, sample_rate: float, *posts: Any
    ) -> tuple[Any, ...]:
        for post in posts:
            for parcel in post or ():
                self._accept(parcel)
        report = PhaseReport(host=self.layout.hosts[self.host])
        outgoing: list[list[Parcel]] = [[] for _ in self.layout.hosts]
        try:
            await self._step_phase(rnd, phase, sample_rate, report, outgoing)
        except _KindFailed as exc:
            report.error = str(exc)
        for parcel in outgoing[self.host]:
            self._accept(parcel)
        outgoing[self.host] = []
        last_phase = phase == self.layout.phases[-1]
        if last_phase and report.error is None:
            report.stats = {p: self._stats(p) for p in self.local}
        saved = (
            HostCheckpoint(rnd, self.states, self.pending)
            if checkpoint and last_phase and report.error is None
            else None
        )
        report.posted = tuple(bool(parcels) for parcels in outgoing)
        report.crossing = sum(len(p.mail) for parcels in outgoing for p in parcels)
        return (report, saved, *[parcels or None for parcels in outgoing])

    async def _step_phase(
        self,
        rnd: int,
        phase: int,
        sample_rate: float,
        report: PhaseReport,
        outgoing: list[list[Parcel]],
    ) -> None:
        stepping = [
            piece
            for piece in self.slices
            if self.layout.populations[piece.population].phase == phase
        ]
        results = await asyncio.gather(
            *(self._step_slice(piece, rnd, phase) for piece in stepping), return_exceptions=True
        )
        for piece, result in zip(stepping, results, strict=True):
            if isinstance(result, BaseException):
                raise self._failure(piece, rnd, result)
            mails = [result] if isinstance(result, Mail) else list(result or [])
            for ordinal, mail in enumerate(mails):
                if not isinstance(mail, Mail):
                    raise self._failure(
                        piece, rnd, TypeError(f"step returned {type(mail).__name__}, not Mail")
                    )
                try:
                    self._send(piece, rnd, phase, ordinal, mail, sample_rate, report, outgoing)
                except ValueError as exc:
                    raise self._failure(piece, rnd, exc) from None

    async def _step_slice(self, piece: Slice, rnd: int, phase: int) -> Any:
        slot = self.layout.populations[piece.population]
        inbox = Inbox.gather(
            self.pending[piece.population], slot.first_id + piece.start, len(piece)
        )
        self.pending[piece.population] = []
        ctx = self._context(piece, rnd, phase)
        return await self.kinds[piece.population].step(self.states[piece.population], inbox, ctx)

    def _failure(self, piece: Slice, rnd: int, exc: BaseException) -> _KindFailed:
        where = self.layout.label(piece)
        lines = traceback.format_exception_only(type(exc), exc)
        return _KindFailed(f"{where} failed in round {rnd}: {''.join(lines).strip()}")

    # -- routing -------------------------------------------------------------------------------

    def _send(
        self,
        piece: Slice,
        rnd: int,
        phase: int,
        ordinal: int,
        mail: Mail,
        sample_rate: float,
        report: PhaseReport,
        outgoing: list[list[Parcel]],
    ) -> None:
        rows = len(mail)
        if not rows:
            return
        to = mail.to
        low, high = int(to.min()), int(to.max())
        agents = self.layout.agents
        if high >= agents or low < -len(self._sizes):
            raise ValueError(f"mail addressed to {high if high >= agents else low}, no such agent")
        own = self.layout.populations[piece.population].first_id
        if mail.sender.min() < own + piece.start or mail.sender.max() >= own + piece.stop:
            raise ValueError("mail must come from agents of the slice that sends it")
        mail = self._detach(piece.population, mail)
        p = piece.population
        report.sent[p] = report.sent.get(p, 0) + rows
        wide = to < 0 if low < 0 else None
        if wide is None:
            delivered = rows
        else:
            delivered = int((~wide).sum()) + int(self._sizes[-to[wide] - 1].sum())
        report.delivered[p] = report.delivered.get(p, 0) + delivered
        chosen = np.flatnonzero(sample_mask(self.seed, rnd, phase, mail.sender, to, sample_rate))
        for i in chosen.tolist():
            report.samples.append((int(mail.sender[i]), int(to[i]), mail.row(i)))

        def parcel(part: Mail) -> Parcel:
            return Parcel(rnd, phase, p, piece.start, ordinal, part)

        if wide is None:
            first, last = self.layout.host_of(np.asarray([low, high]))
            if first == last:
                outgoing[int(first)].append(parcel(mail))
                return
            dest = self.layout.host_of(to)
            for h in np.unique(dest).tolist():
                outgoing[h].append(parcel(mail.take(dest == h)))
            return
        narrow = np.flatnonzero(~wide)
        if narrow.size:
            dest = self.layout.host_of(to[narrow])
            for h in np.unique(dest).tolist():
                outgoing[h].append(parcel(mail.take(narrow[dest == h])))
        rows_for: dict[int, list[int]] = {}
        for i in np.flatnonzero(wide).tolist():
            for h in self._population_hosts[-int(to[i]) - 1]:
                rows_for.setdefault(h, []).append(i)
        for h, picked in rows_for.items():
            outgoing[h].append(parcel(mail.take(np.asarray(picked, dtype=np.int64))))

    def _detach(self, population: int, mail: Mail) -> Mail:
        """Copy payload columns that share memory with the sender's state, so that mail waiting
        for the next round does not change when the state does."""
        state = self.states[population].values()
        if not any(np.may_share_memory(c, s) for c in mail.columns.values() for s in state):
            return mail
        columns = {
            name: np.array(c, copy=True)
            if any(np.may_share_memory(c, s) for s in self.states[population].values())
            else c
            for name, c in mail.columns.items()
        }
        return Mail(mail.sender, mail.to, columns)

    def _accept(self, parcel: Parcel) -> None:
        """File a parcel under the local population(s) it is addressed to."""
        to = parcel.mail.to
        low, high = int(to.min()), int(to.max())
        if low >= 0 or low == high:  # all to agents of one population, or one broadcast address
            first, last = self._population_of(low), self._population_of(high)
            if first == last:
                self.pending[first].append(parcel)
                return
        targets = np.where(to < 0, -to - 1, np.searchsorted(self._first_ids, to, "right") - 1)
        for p in np.unique(targets).tolist():
            part = parcel.mail.take(targets == p)
            self.pending[p].append(
                Parcel(
                    parcel.round,
                    parcel.phase,
                    parcel.population,
                    parcel.origin,
                    parcel.ordinal,
                    part,
                )
            )

    def _population_of(self, address: int) -> int:
        if address < 0:
            return -address - 1
        return int(np.searchsorted(self._first_ids, address, "right")) - 1

    # -- statistics ----------------------------------------------------------------------------

    def _stats(self, population: int) -> SliceStats:
        piece = self.local[population]
        sums: dict[str, npt.NDArray[np.float64]] = {}
        low: dict[str, float] = {}
        high: dict[str, float] = {}
        for name, values in self.states[population].items():
            column = values.astype(np.float64, copy=False)
            full = (len(column) // CHUNK) * CHUNK
            parts = [column[:full].reshape(-1, CHUNK).sum(axis=1)]
            if full < len(column):
                parts.append(np.asarray([column[full:].sum()]))
            sums[name] = np.concatenate(parts)
            low[name] = float(column.min())
            high[name] = float(column.max())
        return SliceStats(piece.start, sums, low, high)


PopulationHost: Any = ray.remote(num_cpus=0, max_restarts=0)(PopulationHostCore)
