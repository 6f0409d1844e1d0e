"""Placement of populations on hosts: contiguous, chunk-aligned blocks of global ids.

Populations are laid end to end in the order given (global ids ``0 .. N - 1``) and the sequence is
cut into K contiguous blocks of about N / K agents, one per host — the same block idea as
:func:`ekklesia.runtime.placement.place` for a breadth-first order of a debate graph. Agents with
neighbouring numbers share a host, so kinds whose agents talk to their neighbours (rings, lattices,
local graphs) cross hosts only at block edges; put an individual agent next to the population it
talks to most.

Cuts fall on multiples of :data:`CHUNK` agents within a population. Per-round statistics are summed
chunk by chunk and the chunk sums added in chunk order, so they are the same bits whatever K is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ekklesia.core.mail import Ids

__all__ = ["CHUNK", "Layout", "PopulationSlot", "Slice", "lay_out"]

CHUNK = 1024


@dataclass(frozen=True)
class PopulationSlot:
    name: str
    first_id: int
    size: int
    phase: int


@dataclass(frozen=True)
class Slice:
    """Agents ``start .. stop - 1`` of the ``population``-th population."""

    population: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Layout:
    """Which host holds which agents; every host gets a copy to route mail with."""

    populations: tuple[PopulationSlot, ...]
    hosts: tuple[str, ...]
    host_starts: tuple[int, ...]
    slices: tuple[tuple[Slice, ...], ...]

    @property
    def agents(self) -> int:
        return sum(p.size for p in self.populations)

    @property
    def phases(self) -> tuple[int, ...]:
        return tuple(sorted({p.phase for p in self.populations}))

    def host_of(self, ids: Ids) -> Ids:
        """The host number holding each global id."""
        starts = np.asarray(self.host_starts, dtype=np.int64)
        return (np.searchsorted(starts, ids, side="right") - 1).astype(np.int64)

    def hosts_of_population(self, population: int) -> tuple[int, ...]:
        return tuple(
            h for h, held in enumerate(self.slices) if any(s.population == population for s in held)
        )

    def label(self, piece: Slice) -> str:
        slot = self.populations[piece.population]
        if slot.size == 1:
            return slot.name
        return f"{slot.name}[{piece.start}:{piece.stop}]"

    def describe(self) -> dict[str, list[str]]:
        """Host → the slices it holds, as ``name[start:stop]``."""
        return {
            host: [self.label(s) for s in held]
            for host, held in zip(self.hosts, self.slices, strict=True)
        }


def lay_out(
    populations: Sequence[tuple[str, int, int]], hosts: int, *, chunk: int = CHUNK
) -> Layout:
    """Place ``(name, size, phase)`` populations on at most ``hosts`` hosts; see the module
    docstring. Fewer hosts are used when there are fewer chunks than hosts."""
    slots: list[PopulationSlot] = []
    first = 0
    unit_population: list[int] = []
    unit_start: list[int] = []
    unit_stop: list[int] = []
    for number, (name, size, phase) in enumerate(populations):
        slots.append(PopulationSlot(name, first, size, phase))
        first += size
        for start in range(0, size, chunk):
            unit_population.append(number)
            unit_start.append(start)
            unit_stop.append(min(size, start + chunk))
    units = len(unit_start)
    k = max(1, min(hosts, units))
    ends = np.cumsum(np.asarray(unit_stop) - np.asarray(unit_start))
    total = int(ends[-1])
    cuts: list[int] = []  # index of the last unit of each host but the last
    for h in range(1, k):
        target = total * h / k
        j = int(np.searchsorted(ends, target))
        if j > 0 and abs(ends[j - 1] - target) <= abs(ends[min(j, units - 1)] - target):
            j -= 1
        low = cuts[-1] + 1 if cuts else 0
        cuts.append(min(max(j, low), units - 1 - (k - h)))
    bounds = [-1, *cuts, units - 1]
    held: list[tuple[Slice, ...]] = []
    starts: list[int] = []
    for h in range(k):
        first_unit, last_unit = bounds[h] + 1, bounds[h + 1]
        pieces: list[Slice] = []
        for u in range(first_unit, last_unit + 1):
            p = unit_population[u]
            if pieces and pieces[-1].population == p:
                pieces[-1] = Slice(p, pieces[-1].start, unit_stop[u])
            else:
                pieces.append(Slice(p, unit_start[u], unit_stop[u]))
        held.append(tuple(pieces))
        starts.append(slots[pieces[0].population].first_id + pieces[0].start)
    return Layout(
        populations=tuple(slots),
        hosts=tuple(f"host-{h}" for h in range(k)),
        host_starts=tuple(starts),
        slices=tuple(held),
    )
