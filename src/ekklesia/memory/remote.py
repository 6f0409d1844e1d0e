"""A durable tier reached through its writer actor: writes go to the actor, reads stay local.

:class:`ActorTier` is itself a :class:`~ekklesia.memory.store.MemoryStore`, and it is what the
router holds for every durable tier. It pickles as its configuration and the actor's name, so it
can be shipped to the actors that host agents; there it finds the writer by name and opens its
own read connection. A write lost because the writer died is retried against the restarted
writer; since writes are upserts by id, a retry never duplicates an entry.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.errors import MemoryUnavailable
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.tiers import DurableStore, TierConfig
from ekklesia.memory.writer import TierWriter

__all__ = ["NAMESPACE", "ActorTier", "writer_actor", "writer_name"]

NAMESPACE = "ekklesia"


def writer_name(config: TierConfig) -> str:
    """One writer per table: the name follows from where the table is."""
    digest = hashlib.blake2b(config.model_dump_json().encode(), digest_size=8).hexdigest()
    return f"ekklesia.memory.{config.tier}.{digest}"


def writer_actor(config: TierConfig) -> Any:
    """The tier's writer actor, started if it is not running yet."""
    import ray

    actor = ray.remote(TierWriter).options(
        name=writer_name(config),
        namespace=NAMESPACE,
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=0,
        num_cpus=0,
        max_concurrency=1000,
    )
    return actor.remote(config)


def _lost_actor_errors() -> tuple[type[BaseException], ...]:
    from ray.exceptions import ActorUnavailableError, RayActorError

    return (RayActorError, ActorUnavailableError)


class ActorTier:
    """A durable tier whose writes go through its single writer actor."""

    def __init__(self, config: TierConfig, write_retries: int = 10) -> None:
        self.config = config
        self.write_retries = write_retries
        self._writer: Any = None
        self._reader: DurableStore | None = None

    @property
    def tier(self) -> Tier:
        return self.config.tier

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "write_retries": self.write_retries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], state["write_retries"])  # type: ignore[misc]

    @property
    def writer(self) -> Any:
        if self._writer is None:
            self._writer = writer_actor(self.config)
        return self._writer

    @property
    def reader(self) -> DurableStore:
        if self._reader is None:
            self._reader = self.config.open(writer=False)
        return self._reader

    async def _call(self, method: str, *args: Any) -> Any:
        lost = _lost_actor_errors()
        for attempt in range(self.write_retries + 1):
            try:
                return await getattr(self.writer, method).remote(*args)
            except lost as exc:
                if attempt > 0:
                    # the same handle follows a restarted writer; one that stays dead (its owner
                    # process ended, or it was stopped) is found again by name, or started anew
                    self._writer = None
                if attempt == self.write_retries:
                    raise MemoryUnavailable(
                        f"the {self.tier} writer kept failing ({attempt + 1} tries): {exc}"
                    ) from exc
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        if not entries:
            return []
        return await self._call("put", list(entries))  # type: ignore[no-any-return]

    async def delete(self, where: Filter) -> int:
        return await self._call("delete", where)  # type: ignore[no-any-return]

    async def optimize(self) -> None:
        await self._call("optimize")

    async def stats(self) -> dict[str, int]:
        return await self._call("stats")  # type: ignore[no-any-return]

    async def search(self, query: Query) -> list[Hit]:
        return await self.reader.search(query)

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        return await self.reader.scan(where, limit)

    async def count(self, where: Filter | None = None) -> int:
        return await self.reader.count(where)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    def stop_writer(self) -> None:
        """End the writer actor now; the next write starts a new one."""
        import ray

        if self._writer is not None or self._exists():
            ray.kill(self.writer, no_restart=True)
        self._writer = None

    def _exists(self) -> bool:
        import ray

        try:
            ray.get_actor(writer_name(self.config), namespace=NAMESPACE)
        except ValueError:
            return False
        return True
