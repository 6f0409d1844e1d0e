"""Merging ranked lists: reciprocal rank fusion, and the one order every tier sorts hits in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ekklesia.memory.entry import TIERS, Hit

__all__ = ["RRF_K", "best_first", "merge_hits", "reciprocal_rank_fusion"]

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
