"""L1, the hot tier: an LRU of recent entries with a time to live, inside the process using it.

It is a cache in front of the durable tiers, not a durable tier itself: every process that hosts
agents holds its own, filled by writes made there and by promotion of hits found in colder tiers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.store import search_entries

__all__ = ["HotStore"]


class HotStore:
    """At most ``capacity`` entries, each forgotten ``ttl_s`` seconds after it was last put."""

    tier: Tier = "hot"

    def __init__(
        self,
        capacity: int = 10_000,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[MemoryEntry, float]] = OrderedDict()

    def _live(self) -> list[MemoryEntry]:
        now = self._clock()
        for key in [k for k, (_, expires) in self._items.items() if expires <= now]:
            del self._items[key]
        return [entry for entry, _ in self._items.values()]

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        expires = self._clock() + self.ttl_s
        for entry in entries:
            self._items[entry.id] = (entry, expires)
            self._items.move_to_end(entry.id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return [e.id for e in entries]

    async def search(self, query: Query) -> list[Hit]:
        hits = search_entries(self._live(), query, self.tier)
        for hit in hits:  # a hit is a use: it moves to the young end of the LRU
            self._items.move_to_end(hit.entry.id)
        return hits

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        where = where or Filter()
        found = sorted((e for e in self._live() if where.matches(e)), key=lambda e: e.id)
        return found if limit is None else found[:limit]

    async def count(self, where: Filter | None = None) -> int:
        return len(await self.scan(where))

    async def delete(self, where: Filter) -> int:
        doomed = [e.id for e in self._live() if where.matches(e)]
        for key in doomed:
            del self._items[key]
        return len(doomed)

    async def close(self) -> None:
        self._items.clear()
