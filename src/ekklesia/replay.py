"""Replaying any recorded run: a swarm's from its recorded outputs, a simulation's from its seed.

``ek.replay(run_id)`` (``ekklesia timeline replay RUN_ID``) reads the timeline, rebuilds what ran
from the spec it recorded, runs it again — a swarm with every model and tool answer taken from the
record, a simulation from its seed — and compares every event.
"""

from __future__ import annotations

from ekklesia.core.aio import run_sync
from ekklesia.runtime.replay import ReplayReport
from ekklesia.runtime.timeline import Timeline
from ekklesia.simulation import areplay_simulation
from ekklesia.swarm import areplay_swarm

__all__ = ["ReplayReport", "areplay", "replay"]


async def areplay(run_id: str) -> ReplayReport:
    """Re-run a recorded run without calling any model or tool; compare it with the record."""
    recorded = Timeline.load(run_id)
    if "populations" in recorded.started.spec:
        return await areplay_simulation(recorded)
    return await areplay_swarm(recorded)


def replay(run_id: str) -> ReplayReport:
    return run_sync(areplay(run_id), "replay()", "await areplay(...)")
