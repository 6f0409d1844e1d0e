"""The writer actor: the one process that writes a tier's table, with group commit.

Concurrent ``put`` calls that arrive while a commit is in flight are committed together in the
next one, and each caller is answered only after the commit that holds its entries is durable.
Deletes keep their place in the order of operations. The actor restarts when it dies
(``max_restarts=-1``); a caller whose call was lost retries it (writes are upserts by id), see
:class:`~ekklesia.memory.remote.ActorTier`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from ekklesia.memory.entry import MemoryEntry
from ekklesia.memory.query import Filter
from ekklesia.memory.tiers import DurableStore, TierConfig

__all__ = ["TierWriter"]


@dataclass
class _Op:
    kind: Literal["put", "delete"]
    entries: list[MemoryEntry] = field(default_factory=list)
    where: Filter | None = None
    done: asyncio.Future[Any] | None = None


class TierWriter:
    """Hosted as a Ray actor by :func:`ekklesia.memory.remote.writer_actor`."""

    def __init__(self, config: TierConfig, max_batch: int = 4096) -> None:
        self.config = config
        self.max_batch = max_batch
        self.store: DurableStore = config.open(writer=True)
        self._queue: deque[_Op] = deque()
        self._draining: asyncio.Task[None] | None = None
        self.commits = 0
        self.entries_written = 0

    async def put(self, entries: list[MemoryEntry]) -> list[str]:
        return await self._submit(_Op("put", entries=entries))  # type: ignore[no-any-return]

    async def delete(self, where: Filter) -> int:
        return await self._submit(_Op("delete", where=where))  # type: ignore[no-any-return]

    async def optimize(self) -> None:
        """Compact the table and bring its indexes up to date (vector tier only)."""
        optimize = getattr(self.store, "optimize", None)
        if optimize is not None:
            await optimize()

    async def stats(self) -> dict[str, int]:
        return {"commits": self.commits, "entries_written": self.entries_written}

    async def _submit(self, op: _Op) -> Any:
        op.done = asyncio.get_running_loop().create_future()
        self._queue.append(op)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await op.done

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the calls that arrived together join the first batch
        while self._queue:
            if self._queue[0].kind == "delete":
                op = self._queue.popleft()
                assert op.where is not None
                await self._settle([op], self.store.delete(op.where))
                continue
            batch: list[_Op] = []
            size = 0
            while self._queue and self._queue[0].kind == "put":
                if batch and size + len(self._queue[0].entries) > self.max_batch:
                    break
                batch.append(self._queue.popleft())
                size += len(batch[-1].entries)
            entries = [e for op in batch for e in op.entries]
            if await self._settle(batch, self.store.put(entries)):
                self.entries_written += size

    async def _settle(self, ops: list[_Op], work: Any) -> bool:
        """Answer every caller in ``ops`` with the outcome of ``work``; say whether it committed."""
        try:
            result = await work
        except Exception as exc:
            for op in ops:
                if op.done is not None and not op.done.done():
                    op.done.set_exception(exc)
            return False
        self.commits += 1
        for op in ops:
            if op.done is None or op.done.done():
                continue
            op.done.set_result([e.id for e in op.entries] if op.kind == "put" else result)
        return True
