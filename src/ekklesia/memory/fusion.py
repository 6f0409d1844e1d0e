"""Merging ranked lists: reciprocal rank fusion, and the one order every tier sorts hits in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ekklesia.memory.entry import TIERS, Hit
from ekklesia.memory.text import bm25_scores

__all__ = ["RRF_K", "best_first", "merge_hits", "reciprocal_rank_fusion", "rescore_text"]

RRF_K = 60


def best_first(hits: Iterable[Hit]) -> list[Hit]:
    """Highest score first; ties go to the hotter tier, then to the smaller id (deterministic)."""
    return sorted(hits, key=lambda h: (-h.score, TIERS.index(h.tier), h.entry.id))


def merge_hits(lists: Iterable[Sequence[Hit]], k: int) -> list[Hit]:
    """One list from many, each id once (its best hit), best first, at most ``k``."""
    best: dict[str, Hit] = {}
    for hit in best_first(h for hits in lists for h in hits):
        best.setdefault(hit.entry.id, hit)
    return list(best.values())[:k]


def reciprocal_rank_fusion(lists: Sequence[Sequence[Hit]], k: int, rrf_k: int = RRF_K) -> list[Hit]:
    """Fuse ranked lists: each hit scores the sum of ``1 / (rrf_k + rank)`` over the lists."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.entry.id] = scores.get(hit.entry.id, 0.0) + 1.0 / (rrf_k + rank)
            first.setdefault(hit.entry.id, hit)
    fused = [first[i].model_copy(update={"score": s}) for i, s in scores.items()]
    return best_first(fused)[:k]


def rescore_text(query: str, lists: Iterable[Sequence[Hit]], k: int) -> list[Hit]:
    """Full-text hits from several tiers, scored again by one BM25 over all of them.

    Each tier scores text its own way (LanceDB's index, SQLite's FTS5, BM25 in Python), and a
    text index's statistics depend on which rows it has indexed yet; scored again together, the
    hits rank the same however the entries happen to be spread over tiers and index segments.
    """
    unique = merge_hits(lists, k=10**9)
    scores = bm25_scores(query, [h.entry.text for h in unique])
    return best_first(
        h.model_copy(update={"score": s}) for h, s in zip(unique, scores, strict=True) if s > 0
    )[:k]
