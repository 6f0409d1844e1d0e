"""The router: one memory over four tiers, as a :class:`~ekklesia.memory.policy.MemoryPolicy` says.

Writes are embedded once, then go to the durable tier their kind is routed to (and through the
hot tier). Searches embed the query once and fan out; a hybrid search fuses the merged vector
list with the merged text list by reciprocal rank. Hits from colder tiers are promoted; entries
untouched for long are demoted to the archive by :meth:`Router.demote`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from ekklesia.memory.embedder import Embedder
from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.errors import MemoryConfigError
from ekklesia.memory.fusion import merge_hits, reciprocal_rank_fusion, rescore_text
from ekklesia.memory.policy import MemoryPolicy
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.store import MemoryStore, hybrid_depth

__all__ = ["Router"]


class Router:
    def __init__(
        self,
        tiers: Mapping[Tier, MemoryStore],
        embedder: Embedder,
        policy: MemoryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tiers = dict(tiers)
        self.embedder = embedder
        self.policy = policy or MemoryPolicy()
        self.clock = clock
        self._next_demotion: float | None = None
        self.demoted = 0
        for kind, tier in self.policy.write.routes.items():
            if tier not in self.tiers:
                raise MemoryConfigError(
                    f"entries of kind {kind!r} are routed to a missing {tier} tier"
                )

    def route(self, entry: MemoryEntry) -> Tier:
        return self.policy.write.routes[entry.kind]

    async def _with_vectors(self, entries: Sequence[MemoryEntry]) -> list[MemoryEntry]:
        missing = [e for e in entries if e.vector is None]
        if not missing:
            return list(entries)
        vectors = await self.embedder.embed([e.text for e in missing])
        filled = {e.id: e.with_vector(v) for e, v in zip(missing, vectors, strict=True)}
        return [filled.get(e.id, e) if e.vector is None else e for e in entries]

    # -- writes --------------------------------------------------------------------------------

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        """Embed, route and store ``entries``; return their ids once every tier has them."""
        now = self.clock()
        ready = [
            e.model_copy(update={"touched_at": now}) for e in await self._with_vectors(entries)
        ]
        groups: dict[Tier, list[MemoryEntry]] = {}
        for entry in ready:
            groups.setdefault(self.route(entry), []).append(entry)
        await asyncio.gather(*(self.tiers[t].put(group) for t, group in groups.items()))
        if self.policy.write.hot and "hot" in self.tiers:
            await self.tiers["hot"].put(ready)
        await self._demote_when_due(now)
        return [e.id for e in ready]

    async def _demote_when_due(self, now: float) -> None:
        every = self.policy.demotion.check_every_s
        if every is None:
            return
        if self._next_demotion is None:  # the first write of a process only sets the clock
            self._next_demotion = now + every
        elif now >= self._next_demotion:
            self._next_demotion = now + every
            self.demoted += await self.demote(now)

    async def delete(self, where: Filter) -> int:
        """Remove matching entries from every tier; return how many durable copies went."""
        counts = await asyncio.gather(*(store.delete(where) for store in self.tiers.values()))
        return sum(c for t, c in zip(self.tiers, counts, strict=True) if t != "hot")

    # -- reads ---------------------------------------------------------------------------------

    async def search(self, query: Query) -> list[Hit]:
        if query.mode in ("text", "hybrid"):
            query.require_text()
        if query.mode != "text" and query.vector is None:
            vector = (await self.embedder.embed([query.require_text()]))[0]
            query = query.model_copy(update={"vector": vector})
        if query.mode == "hybrid":
            depth = hybrid_depth(query.k)
            by_vector, by_text = await asyncio.gather(
                self._fan_out(query.model_copy(update={"mode": "vector", "k": depth})),
                self._fan_out(query.model_copy(update={"mode": "text", "k": depth})),
            )
            hits = reciprocal_rank_fusion([by_vector, by_text], query.k)
        else:
            hits = await self._fan_out(query)
        if self.policy.read.promote:
            await self.promote(hits)
        return hits

    async def _fan_out(self, query: Query) -> list[Hit]:
        order = [t for t in self.policy.read.tiers if t in self.tiers]
        if self.policy.read.fanout == "all":
            lists = list(await asyncio.gather(*(self.tiers[t].search(query) for t in order)))
            if "hot" in order:  # the durable tiers have the last word: a cached copy of an entry
                hot = order.index("hot")  # forgotten in another process is not recalled
                durable = {h.entry.id for i, hits in enumerate(lists) if i != hot for h in hits}
                lists[hot] = [h for h in lists[hot] if h.entry.id in durable]
            return self._merge(query, lists)
        lists = []
        found: list[Hit] = []
        for tier in order:
            lists.append(await self.tiers[tier].search(query))
            found = self._merge(query, lists)
            if len(found) == query.k and found[-1].score >= self.policy.read.min_score:
                break
        return found

    @staticmethod
    def _merge(query: Query, lists: list[list[Hit]]) -> list[Hit]:
        if query.mode == "text":
            return rescore_text(query.text, lists, query.k)
        return merge_hits(lists, query.k)

    async def count(self, where: Filter | None = None) -> dict[Tier, int]:
        counts = await asyncio.gather(*(s.count(where) for s in self.tiers.values()))
        return dict(zip(self.tiers, counts, strict=True))

    # -- movement between tiers ----------------------------------------------------------------

    async def promote(self, hits: Sequence[Hit]) -> None:
        """Cache hits from colder tiers in the hot tier; move archive hits back to their tier."""
        colder = [h.entry for h in hits if h.tier != "hot"]
        if colder and "hot" in self.tiers:
            await self.tiers["hot"].put(colder)
        archived = [h.entry for h in hits if h.tier == "archive"]
        if archived:
            now = self.clock()
            revived = [e.model_copy(update={"touched_at": now}) for e in archived]
            groups: dict[Tier, list[MemoryEntry]] = {}
            for entry in revived:
                groups.setdefault(self.route(entry), []).append(entry)
            for tier, group in groups.items():
                if tier != "archive":
                    await self.tiers[tier].put(group)
                    await self.tiers["archive"].delete(Filter(ids=tuple(e.id for e in group)))

    async def demote(self, now: float | None = None) -> int:
        """Move entries untouched for ``demotion.after_s`` to the archive; return how many moved.

        The archive copy is durable before the original is deleted, so an interruption leaves a
        duplicate (resolved on read), never a loss.
        """
        rule = self.policy.demotion
        if rule.after_s is None or "archive" not in self.tiers:
            return 0
        cutoff = (self.clock() if now is None else now) - rule.after_s
        moved = 0
        for tier in rule.tiers:
            if tier not in self.tiers:
                continue
            while True:
                old = await self.tiers[tier].scan(Filter(touched_before=cutoff), limit=rule.batch)
                if not old:
                    break
                await self.tiers["archive"].put(old)
                await self.tiers[tier].delete(Filter(ids=tuple(e.id for e in old)))
                if "hot" in self.tiers:
                    await self.tiers["hot"].delete(Filter(ids=tuple(e.id for e in old)))
                moved += len(old)
        return moved

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.tiers.values()))
