"""The timeline of a run: an append-only, versioned event log, persisted as Parquet.

Each event is one row: typed columns for querying (``seq``, ``kind``, ``round``, ``agent``,
``model``, tokens, cost) and the full event as JSON in ``payload``, read back through the one event
adapter into the same typed events. Files live under ``$EKKLESIA_HOME/timelines/<run_id>.parquet``
(``~/.ekklesia`` by default); they are written atomically (temp file, then rename).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ekklesia.core.events import (
    EVENT_ADAPTER,
    SCHEMA_VERSION,
    ModelCalled,
    RunFinished,
    RunStarted,
    Usage,
    fingerprint,
)
from ekklesia.core.paths import timeline_dir
from ekklesia.errors import TimelineNotFound, UserError

__all__ = ["Timeline"]

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

    def __init__(self, run_id: str, events: list[Any] | None = None) -> None:
        self.run_id = run_id
        self.events: list[Any] = list(events or [])
        self.path: Path | None = None

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.events)

    def append(self, event: Any) -> Any:
        """Stamp ``event`` with the next sequence number, the run id and the wall time; keep it."""
        stamped = event.model_copy(
            update={"seq": len(self.events), "run_id": self.run_id, "wall_time": time.time()}
        )
        self.events.append(stamped)
        return stamped

    # -- views ---------------------------------------------------------------------------------

    def of_kind(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def started(self) -> RunStarted:
        found = self.of_kind(RunStarted)
        if not found:
            raise UserError(f"timeline {self.run_id} has no run_started event")
        return found[0]  # type: ignore[no-any-return]

    @property
    def finished(self) -> RunFinished | None:
        found = self.of_kind(RunFinished)
        return found[-1] if found else None

    def usage(self) -> Usage:
        total = Usage()
        for call in self.of_kind(ModelCalled):
            total = total + Usage.of(call.response)
        return total

    def fingerprint(self) -> list[dict[str, Any]]:
        return fingerprint(self.events)

    # -- storage -------------------------------------------------------------------------------

    def write(self, directory: Path | None = None) -> Path:
        directory = directory or timeline_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.run_id}.parquet"
        columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
        for event in self.events:
            response = event.response if isinstance(event, ModelCalled) else None
            columns["seq"].append(event.seq)
            columns["kind"].append(event.kind)
            columns["round"].append(event.round)
            columns["agent"].append(getattr(event, "agent", None))
            columns["model"].append(response.model if response else None)
            columns["input_tokens"].append(response.input_tokens if response else None)
            columns["output_tokens"].append(response.output_tokens if response else None)
            columns["cost_usd"].append(response.cost_usd if response else None)
            columns["wall_time"].append(event.wall_time)
            columns["payload"].append(event.model_dump_json())
        table = pa.table(columns, schema=_SCHEMA)
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.path = path
        return path

    @classmethod
    def read(cls, path: Path | str) -> Timeline:
        path = Path(path)
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
    def load(cls, run_id: str, directory: Path | None = None) -> Timeline:
        """The timeline recorded under ``run_id``."""
        if not _RUN_ID.match(run_id):
            raise TimelineNotFound(f"{run_id!r} is not a run id")
        directory = directory or timeline_dir()
        path = directory / f"{run_id}.parquet"
        if not path.exists():
            raise TimelineNotFound(f"no timeline recorded for run {run_id!r} under {directory}")
        return cls.read(path)

    @staticmethod
    def list_runs(directory: Path | None = None) -> list[str]:
        directory = directory or timeline_dir()
        if not directory.exists():
            return []
        return sorted(p.stem for p in directory.glob("*.parquet"))
