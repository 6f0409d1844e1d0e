"""Fixtures of the memory tests: one MiniLM model per process, and one embedder pool per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.minilm import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real all-MiniLM-L6-v2, loaded in the test process once (the model is shared)."""
    embedder = MiniLMEmbedder()
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def pooled(ray_session: None) -> Iterator[PooledEmbedder]:
    """One embedder actor for the whole session; every Memory in the tests finds it by name."""
    import asyncio

    pool = PooledEmbedder(replicas=1)
    asyncio.run(pool.embed(["warm up"]))  # load the model now, not inside the first test
    yield pool
    pool.stop()
