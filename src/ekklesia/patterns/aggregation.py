"""Turning the agents' final answers into one answer.

``majority``: the most frequent answer; a tie goes to the tied answer whose first supporter comes
first in agent-name order. ``confidence``: answers weighted by the confidence each agent stated
(0.5 when it stated none), ties broken the same way. ``judge``: a judge agent reads the final
answers and decides (the pattern steps it; see :mod:`ekklesia.patterns.pattern`). ``last``: the
whole text the voter who spoke last said — a writer's final draft, a coder's program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ekklesia.errors import SpecError

__all__ = ["AGGREGATIONS", "Vote", "aggregate_votes", "check_aggregation"]

AGGREGATIONS = ("majority", "confidence", "judge", "last")
DEFAULT_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Vote:
    agent: str
    answer: str
    confidence: float | None = None

    def weight(self, method: str) -> float:
        if method == "confidence":
            return DEFAULT_CONFIDENCE if self.confidence is None else self.confidence
        return 1.0


def check_aggregation(method: str) -> str:
    if method not in AGGREGATIONS:
        raise SpecError(f"unknown aggregation {method!r} (known: {', '.join(AGGREGATIONS)})")
    return method


def aggregate_votes(votes: Sequence[Vote], method: str) -> tuple[str | None, dict[str, float]]:
    """The winning answer and the tally; ``(None, {})`` when nobody answered."""
    check_aggregation(method)
    tally: dict[str, float] = {}
    first_supporter: dict[str, str] = {}
    for vote in sorted(votes, key=lambda v: v.agent):
        tally[vote.answer] = tally.get(vote.answer, 0.0) + vote.weight(method)
        first_supporter.setdefault(vote.answer, vote.agent)
    if not tally:
        return None, {}
    best = max(tally.values())
    tied = [a for a, w in tally.items() if abs(w - best) < 1e-12]
    winner = min(tied, key=lambda a: first_supporter[a])
    return winner, {a: round(w, 6) for a, w in sorted(tally.items())}
