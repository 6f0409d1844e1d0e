"""A run at a glance: when, how it ended, what ran, for whom, and what it cost.

:class:`RunSummary` is computed from a timeline's events and stored in the footer of its Parquet
file (key ``ekklesia.summary``), so that listing thousands of runs reads a few hundred bytes of
each file rather than its events. Older files without it are summarised from their events.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import psutil
from pydantic import BaseModel, ConfigDict

from ekklesia.core.events import (
    AnyEvent,
    ModelCalled,
    RunFinished,
    RunStarted,
    RunStopped,
    ToolCalled,
    Usage,
)

__all__ = ["HOSTNAME", "RunStatus", "RunSummary", "run_status", "summarize"]

RunStatus = Literal["finished", "failed", "cancelled", "running", "died"]
HOSTNAME = socket.gethostname()
_ENDINGS: dict[str, RunStatus] = {
    "run_finished": "finished",
    "run_error": "failed",
    "run_cancelled": "cancelled",
}


class RunSummary(BaseModel):
    """One run's record at a glance. ``session`` is the run id itself for older timelines."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    started: float
    ended: float
    last_kind: str
    pid: int = 0
    hostname: str = ""
    session: str
    command: str = ""
    key: str = ""
    pattern: str = ""
    task_kind: str = ""
    task_id: str = ""
    rounds: int | None = None
    stop_reason: str | None = None
    correct: bool | None = None
    max_usd: float | None = None
    max_tokens: int | None = None
    usage: Usage = Usage()
    events: int = 0

    @property
    def status(self) -> RunStatus:
        """How the run ended; for one that did not, whether its process is still alive."""
        return run_status(self.last_kind, self.pid, self.hostname)

    @property
    def what(self) -> str:
        """What ran, for people: ``pattern/task kind``, else the task's id."""
        return "/".join(p for p in (self.pattern, self.task_kind) if p) or self.task_id

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started, UTC)


def run_status(last_kind: str | None, pid: int, hostname: str) -> RunStatus:
    if last_kind in _ENDINGS:
        return _ENDINGS[last_kind]
    return "running" if _alive(pid, hostname) else "died"


def summarize(run_id: str, events: Sequence[AnyEvent]) -> RunSummary:
    """The summary of a run from its events (the first is its ``run_started`` when it has one)."""
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    finished = next((e for e in reversed(events) if isinstance(e, RunFinished)), None)
    stopped = next((e for e in reversed(events) if isinstance(e, RunStopped)), None)
    usage = Usage()
    for event in events:
        if isinstance(event, ModelCalled):
            usage = usage + Usage.of(event.response)
        elif isinstance(event, ToolCalled):
            usage = usage + Usage.of_tool(event.cost_usd, event.ran)
    budget = (started.spec.get("budget") if started else None) or {}
    task = started.task if started else {}
    origin = started.origin if started else None
    return RunSummary(
        run_id=run_id,
        started=events[0].wall_time if events else 0.0,
        ended=events[-1].wall_time if events else 0.0,
        last_kind=events[-1].kind if events else "",
        pid=started.pid if started else 0,
        hostname=started.hostname if started else "",
        session=(origin.session if origin else "") or run_id,
        command=origin.command if origin else "",
        key=origin.key if origin else "",
        pattern=started.tags.get("pattern", "") if started else "",
        task_kind=started.tags.get("task_kind", "") if started else "",
        task_id=str(task.get("id", "")),
        rounds=finished.rounds if finished else None,
        stop_reason=finished.stop_reason if finished else (stopped.reason if stopped else None),
        correct=finished.correct if finished else None,
        max_usd=budget.get("max_usd") if isinstance(budget, dict) else None,
        max_tokens=budget.get("max_tokens") if isinstance(budget, dict) else None,
        usage=usage,
        events=len(events),
    )


def _alive(pid: int, hostname: str) -> bool:
    """Whether the process that wrote a journal still runs (only knowable on its own machine)."""
    if pid <= 0 or hostname != HOSTNAME:
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:  # gone, or not ours to look at
        return False
