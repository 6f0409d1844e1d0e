"""The timeline of a run: an append-only, versioned event log, persisted as Parquet.

Each event is one row: typed columns for querying (``seq``, ``kind``, ``round``, ``agent``,
``model``, tokens, cost) and the full event as JSON in ``payload``, read back through the one event
adapter into the same typed events. Files live under ``$EKKLESIA_HOME/timelines/<run_id>.parquet``
(``~/.ekklesia`` by default); they are written atomically (temp file, then rename).

While a run goes on, :meth:`Timeline.flush` appends the events since the last flush to a journal,
``<run_id>.jsonl`` beside where the Parquet file will be (one JSON event a line, flushed to the
operating system each time), so a run that crashes or is killed keeps every completed round. The
Parquet file replaces the journal when the run ends. :meth:`Timeline.load` reads either, and
:attr:`Timeline.status` says whether the run finished, failed, was cancelled, is still going
or died. The Parquet file's footer holds the run's :class:`~ekklesia.runtime.summary.RunSummary`,
which :meth:`Timeline.summaries` lists without reading any events.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from ekklesia.core.events import (
    EVENT_ADAPTER,
    SCHEMA_VERSION,
    AnyEvent,
    ModelCalled,
    RunFinished,
    RunStarted,
    ToolCalled,
    Usage,
    fingerprint,
)
from ekklesia.core.paths import timeline_dir
from ekklesia.errors import TimelineNotFound, UserError
from ekklesia.runtime.summary import HOSTNAME, RunStatus, RunSummary, run_status, summarize

__all__ = ["HOSTNAME", "RunStatus", "Timeline", "event_columns"]

E = TypeVar("E")
EV = TypeVar("EV", bound=AnyEvent)
_SUMMARY_KEY = b"ekklesia.summary"

_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("kind", pa.string()),
        ("round", pa.int32()),
        ("agent", pa.string()),
        ("model", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("wall_time", pa.float64()),
        ("payload", pa.string()),
    ],
    metadata={b"ekklesia.schema_version": str(SCHEMA_VERSION).encode()},
)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Timeline:
    """The events of one run, in order."""

    def __init__(self, run_id: str, events: list[AnyEvent] | None = None) -> None:
        self.run_id = run_id
        self.events: list[AnyEvent] = list(events or [])
        self.path: Path | None = None
        self._journal: Path | None = None
        self._flushed = 0

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[AnyEvent]:
        return iter(self.events)

    def append(self, event: EV) -> EV:
        """Stamp ``event`` with the next sequence number, the run id and the wall time; keep it."""
        stamped = cast(
            EV,
            event.model_copy(
                update={"seq": len(self.events), "run_id": self.run_id, "wall_time": time.time()}
            ),
        )
        self.events.append(stamped)
        return stamped

    # -- views ---------------------------------------------------------------------------------

    def of_kind(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def started(self) -> RunStarted:
        found = self.of_kind(RunStarted)
        if not found:
            raise UserError(f"timeline {self.run_id} has no run_started event")
        return found[0]

    @property
    def finished(self) -> RunFinished | None:
        found = self.of_kind(RunFinished)
        return found[-1] if found else None

    @property
    def status(self) -> RunStatus:
        """How the run ended — or, for a journal, whether its process is still alive."""
        started = self.of_kind(RunStarted)
        pid, host = (started[0].pid, started[0].hostname) if started else (0, "")
        return run_status(self.events[-1].kind if self.events else None, pid, host)

    def summary(self) -> RunSummary:
        return summarize(self.run_id, self.events)

    def usage(self) -> Usage:
        total = Usage()
        for event in self.events:
            if isinstance(event, ModelCalled):
                total = total + Usage.of(event.response)
            elif isinstance(event, ToolCalled):
                total = total + Usage.of_tool(event.cost_usd, event.ran)
        return total

    def fingerprint(self) -> list[dict[str, Any]]:
        return fingerprint(self.events)

    # -- storage -------------------------------------------------------------------------------

    def flush(self, directory: Path | None = None) -> Path:
        """Append the events since the last flush to the run's journal; return its path."""
        if self._journal is None:
            directory = directory or timeline_dir()
            directory.mkdir(parents=True, exist_ok=True)
            self._journal = directory / f"{self.run_id}.jsonl"
        new = self.events[self._flushed :]
        if new:
            with self._journal.open("a", encoding="utf-8") as out:
                out.write("".join(event.model_dump_json() + "\n" for event in new))
            self._flushed = len(self.events)
        return self._journal

    def write(self, directory: Path | None = None) -> Path:
        """Write every event as Parquet (atomically) and drop the journal it replaces."""
        directory = directory or (self._journal.parent if self._journal else timeline_dir())
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.run_id}.parquet"
        table = event_columns(self.events).replace_schema_metadata(
            {**(_SCHEMA.metadata or {}), _SUMMARY_KEY: self.summary().model_dump_json().encode()}
        )
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.path = path
        journal = directory / f"{self.run_id}.jsonl"
        journal.unlink(missing_ok=True)
        self._journal = None
        self._flushed = len(self.events)
        return path

    @staticmethod
    def read_summary(path: Path, file: pq.ParquetFile | None = None) -> RunSummary:
        """The summary of the run recorded at ``path`` (or in the open ``file``): from its
        footer, else from its events."""
        if path.suffix == ".parquet":
            try:
                file = file or pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                kind = type(exc).__name__
                raise UserError(f"{path} is not a readable timeline ({kind})") from None
            found = (file.schema_arrow.metadata or {}).get(_SUMMARY_KEY)
            if found is not None:
                return RunSummary.model_validate_json(found)
        return Timeline.read(path).summary()

    @staticmethod
    def summaries(directory: Path | None = None) -> list[RunSummary]:
        """The summary of every recorded run, newest first."""
        directory = directory or timeline_dir()
        found = [Timeline.read_summary(p) for p in Timeline.paths(directory)]
        return sorted(found, key=lambda s: (s.started, s.run_id), reverse=True)

    @staticmethod
    def paths(directory: Path | None = None) -> list[Path]:
        """Each run's file: its Parquet timeline, else its journal; sorted by run id."""
        directory = directory or timeline_dir()
        if not directory.exists():
            return []
        found = {p.stem: p for p in directory.glob("*.jsonl")}
        found |= {p.stem: p for p in directory.glob("*.parquet")}
        return [found[run_id] for run_id in sorted(found)]

    @classmethod
    def read(cls, path: Path | str) -> Timeline:
        """A timeline from its Parquet file or its journal (``.jsonl``)."""
        path = Path(path)
        if path.suffix == ".jsonl":
            return cls._read_journal(path)
        try:
            table = pq.read_table(path, columns=["payload"])
        except FileNotFoundError as exc:
            raise TimelineNotFound(f"no timeline at {path}") from exc
        except (pa.ArrowInvalid, OSError) as exc:
            raise UserError(f"{path} is not a readable timeline: {exc}") from exc
        events = [EVENT_ADAPTER.validate_json(p) for p in table.column("payload").to_pylist()]
        timeline = cls(path.stem, events)
        timeline.path = path
        return timeline

    @classmethod
    def _read_journal(cls, path: Path) -> Timeline:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError as exc:
            raise TimelineNotFound(f"no timeline at {path}") from exc
        events: list[AnyEvent] = []
        for number, line in enumerate(lines, 1):
            try:
                events.append(EVENT_ADAPTER.validate_json(line))
            except ValidationError as exc:
                if number == len(lines):  # a line cut short by a crash mid-write
                    break
                raise UserError(f"{path}:{number} is not a timeline event: {exc}") from exc
        timeline = cls(path.stem, events)
        timeline.path = path
        return timeline

    @classmethod
    def load(cls, run_id: str, directory: Path | None = None) -> Timeline:
        """The timeline recorded under ``run_id``: the finished file, else the run's journal."""
        if not _RUN_ID.match(run_id):
            raise TimelineNotFound(f"{run_id!r} is not a run id")
        directory = directory or timeline_dir()
        for suffix in (".parquet", ".jsonl"):
            path = directory / f"{run_id}{suffix}"
            if path.exists():
                return cls.read(path)
        raise TimelineNotFound(f"no timeline recorded for run {run_id!r} under {directory}")

    @staticmethod
    def list_runs(directory: Path | None = None) -> list[str]:
        """Every run id with a timeline or a journal, sorted (run ids start with their time)."""
        directory = directory or timeline_dir()
        if not directory.exists():
            return []
        found = {p.stem for p in directory.glob("*.parquet")}
        found |= {p.stem for p in directory.glob("*.jsonl")}
        return sorted(found)


def event_columns(events: list[AnyEvent]) -> pa.Table:
    """The events as the timeline's table: typed columns for queries, the JSON in ``payload``."""
    columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
    for event in events:
        response = event.response if isinstance(event, ModelCalled) else None
        columns["seq"].append(event.seq)
        columns["kind"].append(event.kind)
        columns["round"].append(event.round)
        columns["agent"].append(getattr(event, "agent", None))
        columns["model"].append(response.model if response else None)
        columns["input_tokens"].append(response.input_tokens if response else None)
        columns["output_tokens"].append(response.output_tokens if response else None)
        columns["cost_usd"].append(
            response.cost_usd
            if response
            else (event.cost_usd if isinstance(event, ToolCalled) else None)
        )
        columns["wall_time"].append(event.wall_time)
        columns["payload"].append(event.model_dump_json())
    return pa.table(columns, schema=_SCHEMA)
