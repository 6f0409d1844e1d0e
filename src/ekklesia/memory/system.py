"""``Memory``: the memory a swarm is given, and the handle each agent step gets from it.

:class:`Memory` implements the runtime's ``MemoryProvider``: the swarm ships it to every host
actor, where ``ctx.memory`` calls :meth:`Memory.handle` once per step. It pickles as its
configuration; each process builds its own router on first use — its own hot tier, its own read
connections, and handles to the shared writer actors and embedder pool, found by name.

With ``on_ray=False`` everything stays in the calling process (the writers too): for scripts and
command-line tools that should not start Ray, as long as one process writes at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.core.events import MemoryOp
from ekklesia.core.paths import data_home
from ekklesia.memory.embedder import CachedEmbedder, Embedder
from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.embedder_spec import EmbedderSpec, MiniLMSpec, build_embedder
from ekklesia.memory.entry import EntryKind, Hit, MemoryEntry, MetaValue, Tier, content_digest
from ekklesia.memory.errors import MemoryConfigError
from ekklesia.memory.hot import HotStore
from ekklesia.memory.policy import MemoryPolicy
from ekklesia.memory.query import Filter, Query, SearchMode
from ekklesia.memory.remote import ActorTier
from ekklesia.memory.router import Router
from ekklesia.memory.scope import SCOPE_KINDS, Scope, ScopeKind
from ekklesia.memory.store import MemoryStore
from ekklesia.memory.tiers import default_tiers

__all__ = ["Memory", "MemoryConfig", "MemoryHandle"]

_ROUTERS: dict[str, Router] = {}
_ROUTERS_LOCK = threading.Lock()


class MemoryConfig(BaseModel):
    """Everything a process needs to reach one memory; ``root`` is resolved when it is made."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    root: str
    vectors_uri: str | None = None
    archive_uri: str | None = None
    policy: MemoryPolicy = Field(default_factory=MemoryPolicy)
    embedder: EmbedderSpec = Field(default_factory=MiniLMSpec)
    embedder_replicas: int = Field(default=1, ge=1)
    session: str = "default"
    on_ray: bool = True

    @property
    def key(self) -> str:
        return hashlib.blake2b(self.model_dump_json().encode(), digest_size=12).hexdigest()


class Memory:
    """Shared memory for agents, over the hot, vector, record and archive tiers."""

    def __init__(
        self,
        name: str = "default",
        *,
        root: str | Path | None = None,
        vectors_uri: str | None = None,
        archive_uri: str | None = None,
        policy: MemoryPolicy | None = None,
        embedder: EmbedderSpec | None = None,
        embedder_replicas: int = 1,
        session: str = "default",
        on_ray: bool = True,
    ) -> None:
        resolved = Path(root) if root is not None else data_home() / "memory" / name
        self.config = MemoryConfig(
            name=name,
            root=str(resolved.expanduser().absolute()),
            vectors_uri=vectors_uri,
            archive_uri=archive_uri,
            policy=policy or MemoryPolicy(),
            embedder=embedder or MiniLMSpec(),
            embedder_replicas=embedder_replicas,
            session=session,
            on_ray=on_ray,
        )

    @classmethod
    def from_config(cls, config: MemoryConfig) -> Memory:
        memory = cls.__new__(cls)
        memory.config = config
        return memory

    def __reduce__(self) -> tuple[Any, ...]:
        return (Memory.from_config, (self.config,))

    def __repr__(self) -> str:
        return f"Memory({self.config.name!r}, root={self.config.root!r})"

    # -- the process-local machinery -----------------------------------------------------------

    @property
    def router(self) -> Router:
        """This process's router for this memory (built on first use)."""
        key = self.config.key
        with _ROUTERS_LOCK:
            if key not in _ROUTERS:
                _ROUTERS[key] = self._build_router()
            return _ROUTERS[key]

    def _build_router(self) -> Router:
        c = self.config
        if c.on_ray:
            from ekklesia.runtime.ray_support import ensure_ray

            ensure_ray()
        vectors, records, archive = default_tiers(
            c.root, c.embedder.dim, c.vectors_uri, c.archive_uri
        )
        tiers: dict[Tier, MemoryStore] = {
            "hot": HotStore(capacity=c.policy.hot.capacity, ttl_s=c.policy.hot.ttl_s)
        }
        embedder: Embedder
        if c.on_ray:
            tiers["vectors"] = ActorTier(vectors)
            tiers["records"] = ActorTier(records)
            tiers["archive"] = ActorTier(archive)
            embedder = PooledEmbedder(c.embedder, replicas=c.embedder_replicas)
        else:
            tiers["vectors"] = vectors.open(writer=True)
            tiers["records"] = records.open(writer=True)
            tiers["archive"] = archive.open(writer=True)
            embedder = CachedEmbedder(build_embedder(c.embedder))
        return Router(tiers, embedder, c.policy)

    def close(self) -> None:
        """Drop this process's router; on Ray, stop the writer actors too (they restart on use)."""
        with _ROUTERS_LOCK:
            router = _ROUTERS.pop(self.config.key, None)
        if router is None:
            return
        for store in router.tiers.values():
            if isinstance(store, ActorTier):
                store.stop_writer()
        _run_sync(router.close())

    # -- the MemoryProvider protocol -----------------------------------------------------------

    def handle(
        self, *, agent: str, run_id: str, swarm_id: str, record: Callable[[MemoryOp], None]
    ) -> MemoryHandle:
        return MemoryHandle(self, agent=agent, run_id=run_id, swarm_id=swarm_id, record=record)

    # -- direct use, outside agent steps -------------------------------------------------------

    async def remember(
        self,
        text: str,
        *,
        scope: str = "global",
        kind: EntryKind = "note",
        source: str = "",
        meta: dict[str, MetaValue] | None = None,
        key: str | None = None,
    ) -> str:
        entry = MemoryEntry.new(
            text, scope=str(Scope.from_str(scope)), kind=kind, source=source, meta=meta, key=key
        )
        return (await self.router.put([entry]))[0]

    async def remember_many(self, entries: Sequence[MemoryEntry]) -> list[str]:
        return await self.router.put(entries)

    async def recall(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        where: Filter | None = None,
    ) -> list[Hit]:
        return await self.router.search(Query(text=query, k=k, mode=mode, where=where or Filter()))

    async def forget(self, where: Filter) -> int:
        return await self.router.delete(where)

    async def demote(self, now: float | None = None) -> int:
        """Move entries past the policy's age to the archive (run it on a schedule)."""
        return await self.router.demote(now)

    async def counts(self, where: Filter | None = None) -> dict[Tier, int]:
        return await self.router.count(where)


class MemoryHandle:
    """``ctx.memory``: one agent's view of a :class:`Memory` during one step.

    Scopes are named by kind — ``agent`` (this agent, across runs of its swarm), ``run``,
    ``swarm``, ``session`` or ``global`` — and resolved to this agent's keys. Every operation is
    recorded as a :class:`~ekklesia.core.events.MemoryOp` whose detail holds only what is the
    same in every run with the same seed: digests of texts, kinds, counts and rounded scores —
    not entry ids (they contain the run id) nor the tier a hit came from (that depends on caches).
    """

    def __init__(
        self,
        memory: Memory,
        *,
        agent: str,
        run_id: str,
        swarm_id: str,
        record: Callable[[MemoryOp], None],
    ) -> None:
        self.memory = memory
        self.agent = agent
        self.run_id = run_id
        self.swarm_id = swarm_id
        self._record = record

    def scope(self, kind: ScopeKind) -> str:
        """The scope of ``kind`` as seen by this agent, as stored (``run:<id>``, ...)."""
        swarm = self.swarm_id or "-"
        keys: dict[str, str] = {
            "agent": f"{swarm}/{self.agent}",
            "run": self.run_id or "-",
            "swarm": swarm,
            "session": self.memory.config.session,
            "global": "",
        }
        if kind not in keys:
            raise MemoryConfigError(f"unknown scope {kind!r} (known: {', '.join(SCOPE_KINDS)})")
        return str(Scope(kind, keys[kind]))

    def _scopes(self, kinds: Sequence[ScopeKind] | ScopeKind | None) -> tuple[ScopeKind, ...]:
        if kinds is None:
            return self.memory.config.policy.read.scopes
        return (kinds,) if isinstance(kinds, str) else tuple(kinds)

    async def remember(
        self,
        text: str,
        *,
        scope: ScopeKind | None = None,
        kind: EntryKind = "note",
        meta: dict[str, MetaValue] | None = None,
        key: str | None = None,
    ) -> str:
        """Store ``text`` and return its id; an entry with a ``key`` replaces the last one."""
        chosen = scope or self.memory.config.policy.write.default_scope
        entry = MemoryEntry.new(
            text, scope=self.scope(chosen), kind=kind, source=self.agent, meta=meta, key=key
        )
        router = self.memory.router
        await router.put([entry])
        detail: dict[str, Any] = {
            "digest": content_digest(text),
            "kind": kind,
            "chars": len(text),
            "tier": router.route(entry),
        }
        if key is not None:
            detail["key"] = key
        self._record(MemoryOp(agent=self.agent, op="remember", scope=chosen, detail=detail))
        return entry.id

    async def recall(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        scopes: Sequence[ScopeKind] | ScopeKind | None = None,
        kinds: Sequence[EntryKind] | None = None,
        meta: dict[str, MetaValue] | None = None,
    ) -> list[Hit]:
        """The ``k`` entries most like ``query`` in the given scopes (all of them by default)."""
        chosen = self._scopes(scopes)
        where = Filter(
            scopes=tuple(self.scope(s) for s in chosen),
            kinds=tuple(kinds) if kinds is not None else None,
            meta=meta or {},
        )
        hits = await self.memory.router.search(Query(text=query, k=k, mode=mode, where=where))
        detail = {
            "query": content_digest(query),
            "mode": mode,
            "k": k,
            "hits": [
                {
                    "digest": content_digest(h.text),
                    "scope": h.scope.partition(":")[0],
                    "score": round(h.score, 4),
                }
                for h in hits
            ],
        }
        self._record(MemoryOp(agent=self.agent, op="recall", scope=",".join(chosen), detail=detail))
        return hits

    async def forget(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        scope: ScopeKind | None = None,
        key: str | None = None,
    ) -> int:
        """Remove entries by id, by key, or a whole scope; only within this agent's scopes."""
        if ids is None and key is None and scope is None:
            raise MemoryConfigError("forget needs ids, a key or a scope; it will not forget all")
        chosen = self._scopes(scope)
        where = Filter(
            ids=None if ids is None else ((ids,) if isinstance(ids, str) else tuple(ids)),
            scopes=tuple(self.scope(s) for s in chosen),
            meta={"key": key} if key is not None else {},
        )
        count = await self.memory.router.delete(where)
        detail = {"count": count, "by": "ids" if ids is not None else "key" if key else "scope"}
        self._record(MemoryOp(agent=self.agent, op="forget", scope=",".join(chosen), detail=detail))
        return count


def _run_sync(work: Any) -> Any:
    """Run a coroutine to the end from synchronous code, inside or outside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(work)))
    thread.start()
    thread.join()
    return result[0] if result else None
