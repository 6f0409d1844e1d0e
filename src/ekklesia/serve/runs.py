"""The runs deployment: swarm runs started over HTTP, their live events, results and records.

Each accepted run gets an id at once and waits, ``queued``, for one of ``max_concurrent`` slots;
then it runs as ``Swarm.arun`` runs it, every event appended (and journalled) by the kernel and
handed here as it happens, so followers get it without polling. A run ends ``succeeded`` (its
``run_finished``), ``failed`` (``run_error``) or ``cancelled`` (``run_cancelled``); a run cancelled
or refused before the kernel started it still ends with such an event, so every stream ends with
one. Each run's record (status, the kernel's run id, the result) is kept as JSON under
``$EKKLESIA_HOME/serve/runs`` so lists and results outlive the server; the events of a finished
run are read back from its timeline. Runs the CLI or Python API made are readable here by their
timeline's run id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ekklesia.core.events import AnyEvent, RunCancelled, RunErrored, RunFinished, RunStarted
from ekklesia.core.paths import data_home
from ekklesia.core.task import Task
from ekklesia.errors import TimelineNotFound, UserError
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.session import session
from ekklesia.runtime.shell import new_run_id
from ekklesia.runtime.timeline import Timeline
from ekklesia.serve.schemas import RunStatus
from ekklesia.swarm import Swarm

__all__ = ["NotFound", "RunsService", "result_of"]

_TERMINAL = ("succeeded", "failed", "cancelled")
_FROM_TIMELINE: dict[str, RunStatus] = {
    "finished": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "running": "running",
    "died": "failed",
}


class NotFound(UserError):
    """No run with that id."""


def result_of(task_id: str, finished: RunFinished) -> dict[str, Any]:
    """One result as ``ekklesia run --json`` prints it."""
    return {
        "task_id": task_id,
        "run_id": finished.run_id,
        "answer": finished.answer,
        "expected": finished.expected,
        "correct": finished.correct,
        "score": finished.score,
        "stop_reason": finished.stop_reason,
        "rounds": finished.rounds,
    }


@dataclass
class _Run:
    id: str
    task: Task
    key_id: str | None
    created: float = field(default_factory=time.time)
    status: RunStatus = "queued"
    run_id: str | None = None  # the kernel's, once it started
    result: dict[str, Any] | None = None
    error: str | None = None
    usage: dict[str, float] = field(default_factory=lambda: {"tokens": 0, "usd": 0.0})
    events: list[str] = field(default_factory=list)
    job: asyncio.Task[None] | None = None
    waker: asyncio.Event = field(default_factory=asyncio.Event)

    def append(self, event: AnyEvent) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
        self.events.append(event.model_dump_json())
        self.waker.set()
        self.waker = asyncio.Event()

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "created": self.created,
            "run_id": self.run_id,
            "task_id": self.task.id,
            "key_id": self.key_id,
            "result": self.result,
            "error": self.error,
        }


class RunsService:
    """A Ray Serve deployment (see :mod:`ekklesia.serve.application`); plain async methods."""

    def __init__(self, home: str | None = None, max_concurrent: int = 2, keep: int = 200) -> None:
        if home is not None:
            os.environ["EKKLESIA_HOME"] = home
        self._dir = data_home() / "serve" / "runs"
        self._slots = asyncio.Semaphore(max_concurrent)
        self._keep = keep
        self._runs: dict[str, _Run] = {}
        self._records: dict[str, dict[str, Any]] = self._load_records()

    # -- records -------------------------------------------------------------------------------

    def _load_records(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        if not self._dir.exists():
            return records
        for path in self._dir.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") not in _TERMINAL:  # its server stopped while it ran
                record["status"] = "failed"
                record["error"] = record.get("error") or "the server stopped during the run"
            records[record["id"]] = record
        return records

    def _save(self, run: _Run) -> None:
        record = run.record()
        self._records[run.id] = record
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._dir / f"{run.id}.json.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self._dir / f"{run.id}.json")

    # -- starting and cancelling ---------------------------------------------------------------

    async def start(
        self, spec: dict[str, Any], tasks: list[dict[str, Any]], key_id: str | None = None
    ) -> list[dict[str, str]]:
        """Accept runs of ``spec`` on ``tasks``; each is queued at once."""
        run_spec = RunSpec.of(spec)
        Swarm.from_spec(run_spec)  # a spec that cannot run is refused now, not in the queue
        accepted = []
        # the runs of one request are one session, recorded with the key that asked for them;
        # each job copies the context when it is created, so it carries the session
        with session(command="POST /v1/runs", key=key_id or ""):
            for raw in tasks:
                run = _Run(new_run_id(), Task.model_validate(raw), key_id)
                self._runs[run.id] = run
                self._save(run)
                run.job = asyncio.create_task(self._work(run, run_spec))
                accepted.append({"id": run.id, "status": run.status})
        return accepted

    async def _work(self, run: _Run, spec: RunSpec) -> None:
        swarm: Swarm | None = None
        try:
            async with self._slots:
                run.status = "running"
                self._save(run)
                swarm = Swarm.from_spec(spec)
                result = await swarm.arun(run.task, on_event=run.append)
                finished = result.timeline.finished
                if finished is not None:
                    run.result = result_of(run.task.id, finished)
                run.usage = {"tokens": result.usage.total_tokens, "usd": result.usage.usd}
                run.status = "succeeded"
        except asyncio.CancelledError:
            run.status = "cancelled"
            if not self._ended(run):
                self._close_with(run, RunCancelled(reason="cancelled before it started"))
        except Exception as exc:  # the run failed: its record and stream say why
            run.status = "failed"
            run.error = f"{type(exc).__name__}: {exc}"
            if not self._ended(run):
                self._close_with(run, RunErrored(error=run.error))
        finally:
            if swarm is not None:
                swarm.close()
            self._save(run)
            run.waker.set()
            self._forget_old()

    def _forget_old(self) -> None:
        """Keep the events of the latest finished runs in memory; older ones are read from disk."""
        done = [r for r in self._runs.values() if r.job is not None and r.job.done()]
        for old in sorted(done, key=lambda r: r.created)[: max(0, len(done) - self._keep)]:
            del self._runs[old.id]

    @staticmethod
    def _ended(run: _Run) -> bool:
        if not run.events:
            return False
        kind = json.loads(run.events[-1]).get("kind")
        return kind in ("run_finished", "run_error", "run_cancelled")

    @staticmethod
    def _close_with(run: _Run, event: RunCancelled | RunErrored) -> None:
        stamped = event.model_copy(
            update={
                "seq": len(run.events),
                "run_id": run.run_id or run.id,
                "wall_time": time.time(),
            }
        )
        run.append(stamped)

    async def cancel(self, run_id: str) -> dict[str, str]:
        run = self._runs.get(run_id)
        if run is None:
            record = self._record(run_id)
            return {"id": run_id, "status": record["status"]}
        if run.job is not None and not run.job.done():
            run.job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.job
        return {"id": run.id, "status": run.status}

    async def wait(self, run_id: str) -> dict[str, float]:
        """Wait for the run to end; what it spent (tokens, USD)."""
        run = self._runs.get(run_id)
        if run is not None and run.job is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(run.job)
            return run.usage
        return {"tokens": 0, "usd": 0.0}

    # -- reading -------------------------------------------------------------------------------

    def _record(self, run_id: str) -> dict[str, Any]:
        if run_id in self._runs:
            return self._runs[run_id].record()
        if run_id in self._records:
            return self._records[run_id]
        try:  # a run the CLI or the Python API made: read it from its timeline
            timeline = Timeline.load(run_id)
        except (TimelineNotFound, UserError):
            raise NotFound(f"no run with id {run_id!r}") from None
        started = timeline.started
        finished = timeline.finished
        task_id = str(started.task.get("id", "task"))
        return {
            "id": run_id,
            "status": _FROM_TIMELINE[timeline.status],
            "created": started.wall_time,
            "run_id": run_id,
            "task_id": task_id,
            "key_id": None,
            "result": result_of(task_id, finished) if finished is not None else None,
            "error": None,
        }

    async def get(self, run_id: str) -> dict[str, Any]:
        record = self._record(run_id)
        return {k: record[k] for k in ("id", "status", "result", "run_id", "error", "created")}

    async def page(
        self, status: str | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        records = {**self._records, **{k: r.record() for k, r in self._runs.items()}}
        rows = sorted(records.values(), key=lambda r: (r["created"], r["id"]), reverse=True)
        if status is not None:
            rows = [r for r in rows if r["status"] == status]
        page = rows[offset : offset + limit]
        return {
            "runs": [
                {k: r[k] for k in ("id", "status", "created", "run_id", "result")} for r in page
            ],
            "total": len(rows),
            "limit": limit,
            "offset": offset,
        }

    def _recorded_events(self, run_id: str) -> list[str]:
        record = self._record(run_id)
        timeline_id = record.get("run_id")
        if not timeline_id:
            return []
        try:
            return [e.model_dump_json() for e in Timeline.load(timeline_id)]
        except TimelineNotFound:
            return []

    async def events(self, run_id: str, after: int = -1) -> AsyncIterator[tuple[int, str]]:
        """Each event after sequence number ``after``, as it comes, until the run's last one."""
        run = self._runs.get(run_id)
        if run is None:
            for seq, recorded in enumerate(self._recorded_events(run_id)):
                if seq > after:
                    yield seq, recorded
            return
        seq = after + 1
        while True:
            waker = run.waker
            while seq < len(run.events):
                yield seq, run.events[seq]
                seq += 1
            if run.job is None or run.job.done():
                if seq >= len(run.events):
                    return
                continue
            await waker.wait()

    async def timeline(self, run_id: str) -> dict[str, Any]:
        run = self._runs.get(run_id)
        events = run.events if run is not None else self._recorded_events(run_id)
        record = self._record(run_id)
        return {
            "id": record["id"],
            "run_id": record.get("run_id"),
            "status": record["status"],
            "events": [json.loads(e) for e in events],
        }

    async def ping(self) -> dict[str, int]:
        active = sum(1 for r in self._runs.values() if r.status in ("queued", "running"))
        return {"active": active, "known": len(self._records) + len(self._runs)}


def runs_dir() -> Path:
    return data_home() / "serve" / "runs"
