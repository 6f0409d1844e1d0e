"""The memory deployment: search, remember and forget in a named memory; index jobs.

The deployment runs one replica, which holds each memory's tiers in its own process (no writer
actors): requests are quick from the first one, and one process writes. ``search`` reads the
memory ``name`` (``ekklesia.Memory(name)``, the one run specs name) or, with
``store="index"``, what ``POST /v1/index`` (or ``ekklesia index``) indexed under that name. An index
job runs in the background; its progress is a list of events (``index_started``,
``index_progress``, then ``index_finished`` or ``index_error``), followed as the runs' events are.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ekklesia.memory import Memory
from ekklesia.memory.indexer import index_home, open_indexer
from ekklesia.memory.query import Filter, SearchMode
from ekklesia.runtime.shell import new_run_id
from ekklesia.serve.runs import NotFound

__all__ = ["MemoryService"]


@dataclass
class _Job:
    id: str
    path: str
    name: str
    status: str = "queued"
    events: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    waker: asyncio.Event = field(default_factory=asyncio.Event)

    def emit(self, kind: str, **data: Any) -> None:
        event = {"kind": kind, "seq": len(self.events), "job": self.id, "wall_time": time.time()}
        self.events.append(json.dumps({**event, **data}))
        self.waker.set()
        self.waker = asyncio.Event()


def _hit(hit: Any) -> dict[str, Any]:
    entry = hit.entry
    return {
        "id": entry.id,
        "text": entry.text,
        "score": hit.score,
        "tier": hit.tier,
        "scope": entry.scope,
        "kind": entry.kind,
        "source": entry.source,
        "meta": entry.meta,
    }


class MemoryService:
    """A Ray Serve deployment (see :mod:`ekklesia.serve.application`)."""

    def __init__(self, home: str | None = None) -> None:
        if home is not None:
            os.environ["EKKLESIA_HOME"] = home
        self._memories: dict[str, Memory] = {}
        self._jobs: dict[str, _Job] = {}

    def _memory(self, name: str) -> Memory:
        if name not in self._memories:
            # this replica is the one writer of the memories it serves: its tiers stay in process
            self._memories[name] = Memory(name, on_ray=False)
        return self._memories[name]

    async def search(
        self,
        name: str,
        query: str,
        mode: SearchMode = "hybrid",
        k: int = 5,
        where: dict[str, Any] | None = None,
        store: str = "memory",
    ) -> list[dict[str, Any]]:
        if store == "index":
            if not (index_home(name) / "index.sqlite").exists():
                raise NotFound(f"no index called {name!r}: POST /v1/index first")
            hits = await open_indexer(name, on_ray=False).search(query, k=k, mode=mode)
        else:
            chosen = Filter.model_validate(where or {})
            hits = await self._memory(name).recall(query, k=k, mode=mode, where=chosen)
        return [_hit(h) for h in hits]

    async def remember(self, name: str, entry: dict[str, Any]) -> dict[str, str]:
        entry_id = await self._memory(name).remember(
            entry["text"],
            scope=entry.get("scope", "global"),
            kind=entry.get("kind", "note"),
            source=entry.get("source", ""),
            meta=entry.get("meta") or {},
            key=entry.get("key"),
        )
        return {"id": entry_id, "memory": name}

    async def forget(self, name: str, entry_id: str) -> dict[str, Any]:
        deleted = await self._memory(name).forget(Filter(ids=(entry_id,)))
        if not deleted:
            raise NotFound(f"no entry {entry_id!r} in memory {name!r}")
        return {"id": entry_id, "deleted": deleted}

    # -- index jobs ----------------------------------------------------------------------------

    async def index(self, path: str, name: str) -> dict[str, str]:
        job = _Job(f"index-{new_run_id()}", path, name)
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._index(job))
        return {"id": job.id, "status": job.status}

    async def _index(self, job: _Job) -> None:
        job.status = "running"
        job.emit("index_started", path=job.path, name=job.name)

        def progress(done: int, total: int, chunks: int) -> None:
            job.emit("index_progress", files_done=done, files_total=total, chunks=chunks)

        try:
            report = await open_indexer(job.name, on_ray=False).index(job.path, progress=progress)
        except asyncio.CancelledError:
            job.status = "cancelled"
            job.emit("index_cancelled")
            raise
        except Exception as exc:  # the job failed: its events say why
            job.status = "failed"
            job.emit("index_error", error=f"{type(exc).__name__}: {exc}")
        else:
            job.status = "succeeded"
            job.emit("index_finished", report=report.model_dump(mode="json"))

    def _job(self, job_id: str) -> _Job:
        if job_id not in self._jobs:
            raise NotFound(f"no index job with id {job_id!r}")
        return self._jobs[job_id]

    async def job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        return {
            "id": job.id,
            "status": job.status,
            "path": job.path,
            "name": job.name,
            "events": [json.loads(e) for e in job.events],
        }

    async def job_events(self, job_id: str, after: int = -1) -> AsyncIterator[tuple[int, str]]:
        job = self._job(job_id)
        seq = after + 1
        while True:
            waker = job.waker
            while seq < len(job.events):
                yield seq, job.events[seq]
                seq += 1
            if job.task is None or job.task.done():
                if seq >= len(job.events):
                    return
                continue
            await waker.wait()

    async def ping(self) -> dict[str, Any]:
        return {"memories": sorted(self._memories), "jobs": len(self._jobs)}
