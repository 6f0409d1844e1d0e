"""The one protocol every memory tier implements, and the search every in-Python tier shares.

A tier stores :class:`~ekklesia.memory.entry.MemoryEntry` rows with their vectors and answers
vector, full-text and hybrid searches under a :class:`~ekklesia.memory.query.Filter`. Writes are
upserts by id, so a retried write never duplicates an entry. The conformance suite in
``tests/memory/test_conformance.py`` runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.fusion import best_first, reciprocal_rank_fusion
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.text import bm25_scores, tokenize

__all__ = ["MemoryStore", "fts_terms", "hybrid_depth", "search_entries"]


@runtime_checkable
class MemoryStore(Protocol):
    """A memory tier. Every method is a coroutine; none blocks the event loop for long."""

    @property
    def tier(self) -> Tier: ...

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        """Insert or replace ``entries`` by id; return their ids once they are durable."""
        ...

    async def search(self, query: Query) -> list[Hit]:
        """The best ``query.k`` entries that pass ``query.where``, best first."""
        ...

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        """Entries that pass ``where``, in id order."""
        ...

    async def count(self, where: Filter | None = None) -> int: ...

    async def delete(self, where: Filter) -> int:
        """Remove the entries that pass ``where``; return how many there were."""
        ...

    async def close(self) -> None: ...


def hybrid_depth(k: int) -> int:
    """How deep each of the two lists of a hybrid search goes before they are fused."""
    return max(2 * k, 20)


def fts_terms(text: str) -> list[str]:
    """The query's words, stripped of any syntax a text index could misread."""
    return sorted(set(tokenize(text)))


def search_entries(
    entries: Sequence[MemoryEntry], query: Query, tier: Tier, dim: int | None = None
) -> list[Hit]:
    """Exact search over entries held in memory: cosine, BM25, or both fused."""
    query = query.checked()
    candidates = [e for e in entries if query.where.matches(e)]
    if query.mode == "vector":
        return _by_vector(candidates, query, tier, query.k)
    if query.mode == "text":
        return _by_text(candidates, query, tier, query.k)
    depth = hybrid_depth(query.k)
    lists = [_by_vector(candidates, query, tier, depth), _by_text(candidates, query, tier, depth)]
    return reciprocal_rank_fusion(lists, query.k)


def _by_vector(entries: Sequence[MemoryEntry], query: Query, tier: Tier, k: int) -> list[Hit]:
    target = query.require_vector()
    with_vectors = [e for e in entries if e.vector is not None and e.vector.shape == target.shape]
    if not with_vectors:
        return []
    matrix: np.ndarray[Any, Any] = np.stack([e.vector for e in with_vectors])  # type: ignore[misc]
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(target) or 1.0)
    scores = (matrix @ target) / np.where(norms == 0, 1.0, norms)
    hits = [
        Hit(entry=e, tier=tier, score=float(s)) for e, s in zip(with_vectors, scores, strict=True)
    ]
    return best_first(hits)[:k]


def _by_text(entries: Sequence[MemoryEntry], query: Query, tier: Tier, k: int) -> list[Hit]:
    scores = bm25_scores(query.require_text(), [e.text for e in entries])
    hits = [Hit(entry=e, tier=tier, score=s) for e, s in zip(entries, scores, strict=True) if s > 0]
    return best_first(hits)[:k]
