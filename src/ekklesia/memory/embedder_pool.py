"""Embedding on Ray: a pool of embedder actors, on GPUs when the cluster has them.

Each actor holds one embedder behind a content-hash cache and merges the requests that arrive
together into one batch, so a hundred agents remembering one thing each cost one model call.
:class:`PooledEmbedder` is the client: an :class:`~ekklesia.memory.embedder.Embedder` that splits
a large request into batches and spreads them over the pool in parallel. It pickles as its spec,
so agents on any host share the same pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ekklesia.memory.embedder import CachedEmbedder, Vectors, check_texts
from ekklesia.memory.embedder_spec import MiniLMSpec, OpenAIEmbeddingsSpec, build_embedder
from ekklesia.memory.errors import MemoryUnavailable

__all__ = ["EmbedderHost", "PooledEmbedder", "cluster_gpus"]

Spec = MiniLMSpec | OpenAIEmbeddingsSpec


@dataclass
class _Request:
    texts: list[str]
    done: asyncio.Future[Vectors]


class EmbedderHost:
    """Hosted as a Ray actor: one embedder, a cache, and batching of concurrent requests."""

    def __init__(self, spec: Spec, threads: int | None = None, max_batch: int = 512) -> None:
        self.embedder = CachedEmbedder(build_embedder(spec, threads=threads))
        self.max_batch = max_batch
        self._queue: list[_Request] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0

    async def embed(self, texts: list[str]) -> Vectors:
        request = _Request(list(texts), asyncio.get_running_loop().create_future())
        self._queue.append(request)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await request.done

    async def stats(self) -> dict[str, int]:
        return {
            "batches": self.batches,
            "cache_hits": self.embedder.hits,
            "cache_misses": self.embedder.misses,
        }

    async def _drain(self) -> None:
        await asyncio.sleep(0)
        while self._queue:
            batch: list[_Request] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_batch):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].texts)
            try:
                matrix = await self.embedder.embed([t for r in batch for t in r.texts])
            except Exception as exc:
                for request in batch:
                    request.done.set_exception(exc)
                continue
            self.batches += 1
            start = 0
            for request in batch:
                request.done.set_result(matrix[start : start + len(request.texts)])
                start += len(request.texts)


def cluster_gpus() -> int:
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return int(resources.get("GPU", 0))


class PooledEmbedder:
    """An embedder served by ``replicas`` Ray actors (one per GPU when there are GPUs)."""

    def __init__(self, spec: Spec | None = None, replicas: int = 1, chunk: int = 256) -> None:
        self.spec: Spec = spec or MiniLMSpec()
        self.replicas = max(1, replicas)
        self.chunk = chunk
        self.name = f"pool:{self.spec.kind}"
        self.dim = self.spec.dim
        self._actors: list[Any] | None = None
        self._next = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "replicas": self.replicas, "chunk": self.chunk}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def _prefix(self) -> str:
        digest = hashlib.blake2b(self.spec.model_dump_json().encode(), digest_size=8).hexdigest()
        return f"ekklesia.embedder.{digest}"

    def actors(self) -> list[Any]:
        """The pool's actors, started on first use (and found by name in other processes)."""
        if self._actors is None:
            import ray

            from ekklesia.memory.remote import NAMESPACE

            gpus = cluster_gpus() if self.spec.kind == "minilm" else 0
            replicas = min(self.replicas, gpus) if gpus else self.replicas
            threads = max(1, (os.cpu_count() or 1) // replicas)
            host = ray.remote(EmbedderHost)
            self._actors = [
                host.options(
                    name=f"{self._prefix()}.{i}",
                    namespace=NAMESPACE,
                    get_if_exists=True,
                    max_restarts=-1,
                    max_task_retries=3,
                    num_cpus=0,
                    num_gpus=1 if gpus else 0,
                    max_concurrency=1000,
                ).remote(self.spec, threads=None if gpus else threads)
                for i in range(replicas)
            ]
        return self._actors

    async def embed(self, texts: Sequence[str]) -> Vectors:
        check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        actors = self.actors()
        calls = []
        for start in range(0, len(texts), self.chunk):
            actor = actors[self._next % len(actors)]
            self._next += 1
            calls.append(actor.embed.remote(list(texts[start : start + self.chunk])))
        try:
            parts = await asyncio.gather(*calls)
        except Exception as exc:
            from ray.exceptions import RayTaskError

            if isinstance(exc, RayTaskError):
                raise exc.as_instanceof_cause() from None  # type: ignore[no-untyped-call]
            raise MemoryUnavailable(f"the embedder pool failed: {exc}") from exc
        return np.concatenate(parts).astype(np.float32, copy=False)

    async def stats(self) -> list[dict[str, int]]:
        return list(await asyncio.gather(*(a.stats.remote() for a in self.actors())))

    def stop(self) -> None:
        import ray

        for actor in self.actors():
            ray.kill(actor, no_restart=True)
        self._actors = None
