"""Comparing a replay with its recording, event by event, wall-clock and placement aside."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ekklesia.runtime.timeline import Timeline

__all__ = ["ReplayReport"]


class ReplayReport(BaseModel):
    """What a replay found: whether the outcome and every event match the recording."""

    run_id: str
    replay_run_id: str
    events: int
    outcome_matches: bool
    events_match: bool
    first_difference: int | None = None
    recorded: dict[str, Any] | None = None
    replayed: dict[str, Any] | None = None

    @property
    def identical(self) -> bool:
        return self.outcome_matches and self.events_match

    @classmethod
    def compare(
        cls, recorded: Timeline, replayed: Timeline, *, outcome_matches: bool
    ) -> ReplayReport:
        """Compare two timelines event by event, wall-clock and placement aside."""
        ours, theirs = replayed.fingerprint(), recorded.fingerprint()
        pairs = enumerate(zip(ours, theirs, strict=False))
        first = next((i for i, (a, b) in pairs if a != b), None)
        if first is None and len(ours) != len(theirs):
            first = min(len(ours), len(theirs))
        return cls(
            run_id=recorded.run_id,
            replay_run_id=replayed.run_id,
            events=len(theirs),
            outcome_matches=outcome_matches,
            events_match=first is None,
            first_difference=first,
            recorded=theirs[first] if first is not None and first < len(theirs) else None,
            replayed=ours[first] if first is not None and first < len(ours) else None,
        )
