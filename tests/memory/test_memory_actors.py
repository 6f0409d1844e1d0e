"""Writer actors under load and under failure: nothing acknowledged is ever lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from ekklesia.memory import Filter, Memory, MemoryEntry, VectorTierConfig
from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.remote import ActorTier, writer_name


@pytest.fixture
def memory(pooled: PooledEmbedder, tmp_path: Path) -> Iterator[Memory]:
    mem = Memory("load", root=tmp_path / "mem")
    yield mem
    mem.close()


@ray.remote(num_cpus=0)
class Host:
    """Stands in for an agent host: a separate process that writes through the same Memory."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    async def write(self, writer: int, n: int, batch: int = 25, window: int = 4) -> list[str]:
        """``n`` entries in calls of ``batch``, ``window`` calls in flight at a time.

        The entries bring their own vectors: this is about the write path, not the embedder.
        """
        sem = asyncio.Semaphore(window)

        async def one(start: int) -> list[str]:
            rng = np.random.default_rng([writer, start])
            entries = [
                MemoryEntry.new(
                    f"writer {writer} entry {i}", scope=f"run:w{writer}", meta={"i": i}
                ).with_vector(rng.standard_normal(384).astype(np.float32))
                for i in range(start, min(n, start + batch))
            ]
            async with sem:
                return await self.memory.remember_many(entries)

        parts = await asyncio.gather(*(one(s) for s in range(0, n, batch)))
        return [i for part in parts for i in part]


async def test_eight_concurrent_writers_on_two_hosts_lose_nothing(memory: Memory) -> None:
    hosts = [Host.remote(memory) for _ in range(2)]
    calls = [hosts[w % 2].write.remote(w, 1000) for w in range(8)]
    written = [ids for ids in await asyncio.gather(*calls)]
    expected = {i for ids in written for i in ids}
    assert len(expected) == 8000
    vectors = memory.router.tiers["vectors"]
    assert await vectors.count() == 8000
    assert {e.id for e in await vectors.scan()} == expected
    for w in range(8):
        assert await vectors.count(Filter(scopes=(f"run:w{w}",))) == 1000
    stats: dict[str, Any] = await vectors.stats()  # type: ignore[attr-defined]
    assert stats["entries_written"] == 8000
    assert stats["commits"] < 8000  # concurrent writes were committed together
    for host in hosts:
        ray.kill(host)


async def _write_until_killed(
    tier: ActorTier, entries: list[MemoryEntry], kill_after: int
) -> tuple[set[str], int]:
    """Write one entry per call; kill the writer once ``kill_after`` writes were acknowledged."""
    acked: set[str] = set()
    failed = 0
    killed = asyncio.Event()

    async def one(entry: MemoryEntry) -> None:
        nonlocal failed
        try:
            ids = await tier.put([entry])
        except Exception:
            failed += 1
            return
        acked.update(ids)
        if len(acked) >= kill_after and not killed.is_set():
            killed.set()
            ray.kill(
                ray.get_actor(writer_name(tier.config), namespace="ekklesia"), no_restart=False
            )

    sem = asyncio.Semaphore(64)

    async def bounded(entry: MemoryEntry) -> None:
        async with sem:
            await one(entry)

    await asyncio.gather(*(bounded(e) for e in entries))
    assert killed.is_set()
    return acked, failed


def _entries(n: int) -> list[MemoryEntry]:
    vector = [1.0] + [0.0] * 7
    return [MemoryEntry.new(f"entry {i}", scope="global").with_vector(vector) for i in range(n)]  # type: ignore[arg-type]


async def test_a_killed_writer_loses_no_acknowledged_write(
    ray_session: None, tmp_path: Path
) -> None:
    config = VectorTierConfig(uri=str(tmp_path / "vectors"), dim=8)
    tier = ActorTier(config, write_retries=0)  # no retries: the calls in flight when it dies fail
    entries = _entries(600)
    acked, failed = await _write_until_killed(tier, entries, kill_after=150)
    assert failed > 0, "the kill should have interrupted writes in flight"
    assert 150 <= len(acked) < len(entries)
    fresh = VectorTierConfig(uri=str(tmp_path / "vectors"), dim=8).open()
    stored = {e.id for e in await fresh.scan()}
    assert acked <= stored
    # the restarted writer takes new writes
    assert await tier.put(entries[-1:]) == [entries[-1].id]
    tier.stop_writer()


async def test_callers_retry_through_a_writer_restart(ray_session: None, tmp_path: Path) -> None:
    config = VectorTierConfig(uri=str(tmp_path / "vectors"), dim=8)
    tier = ActorTier(config)  # default: retry calls lost with the writer (writes are upserts)
    entries = _entries(400)
    acked, failed = await _write_until_killed(tier, entries, kill_after=100)
    assert failed == 0
    assert acked == {e.id for e in entries}
    assert await config.open().count() == len(entries)  # retries did not duplicate anything
    tier.stop_writer()
