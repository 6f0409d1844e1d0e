"""What runs cost: tokens and USD of every recorded model call, totalled by what a person asks.

:meth:`CostRecords.load` reads the chosen timelines — the footer summary of each (its session,
pattern, key; see :mod:`ekklesia.runtime.summary`) and the typed columns of its model calls, never
the events' JSON except for calls recorded without a cost, to tell a failed or refused call (which
cost nothing) from an unpriced one (whose cost is unknown). Runs still going or that died are read
from their journals: what they spent is spent. :meth:`CostRecords.report` totals the calls with
Arrow's group-by, by ``model``, ``agent``, ``pattern``, ``key`` (the API key that started the
run), ``day`` (UTC), ``session`` or ``run``, newest first::

    report = CostRecords.load(since=parse_since("2026-12-01")).report("model", limit=10)
    report.as_json()   # {"group_by": "model", "total": {...}, "rows": [{"model": ..., ...}]}
    report.as_csv()

``ekklesia cost report`` and ``GET /v1/costs`` both print these figures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from ekklesia.core.paths import timeline_dir
from ekklesia.errors import TimelineNotFound, UserError
from ekklesia.runtime.summary import RunSummary
from ekklesia.runtime.timeline import Timeline, event_columns

__all__ = [
    "GROUPS",
    "MEASURES",
    "CostRecords",
    "CostReport",
    "CostRow",
    "CostTotals",
    "GroupBy",
    "group_field",
    "parse_since",
]

GroupBy = Literal["model", "agent", "pattern", "key", "day", "session", "run"]
GROUPS: tuple[GroupBy, ...] = get_args(GroupBy)
MEASURES = (
    "calls",
    "input_tokens",
    "output_tokens",
    "usd",
    "unpriced_calls",
    "failed_calls",
    "refused_calls",
)
_CALL_KINDS = pa.array(["model_call", "call_refused"])
_COLUMNS = ["seq", "kind", "agent", "model", "input_tokens", "output_tokens", "cost_usd"]
_DETAIL = ("run_id", "model", "agent")


def group_field(group_by: GroupBy) -> str:
    """The field that names a row's group in JSON and CSV: ``run_id`` for runs, else the name."""
    return "run_id" if group_by == "run" else group_by


def parse_since(text: str | None, name: str = "since") -> float | None:
    """``YYYY-MM-DD[THH:MM[:SS]]`` (UTC unless it carries an offset) as a Unix time."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{name} {text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CostTotals(BaseModel):
    """Calls, tokens and USD. Refused calls never reached a model and are not in ``calls``."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    unpriced_calls: int = 0
    failed_calls: int = 0
    refused_calls: int = 0


class CostRow(CostTotals):
    """The totals of one group. ``label`` says what it is (a session's command, a run's
    pattern/task); ``first`` and ``last`` are the Unix times of its first and last call. A run's
    row also says its session, status, why it stopped and its USD budget (``None`` if none)."""

    key: str
    label: str = ""
    runs: int = 0
    first: float = 0.0
    last: float = 0.0
    session: str | None = None
    status: str | None = None
    stop_reason: str | None = None
    max_usd: float | None = None

    def as_dict(self, group_by: GroupBy) -> dict[str, Any]:
        data: dict[str, Any] = {group_field(group_by): self.key, "label": self.label}
        if group_by == "run":
            data.update(self.model_dump(include={"session", "status", "stop_reason", "max_usd"}))
        data.update(runs=self.runs, first=_iso(self.first), last=_iso(self.last))
        data.update(self.model_dump(include=set(MEASURES)))
        return data


class CostReport(BaseModel):
    """Totals of the chosen calls, grouped one way, newest first; ``more`` rows left off."""

    model_config = ConfigDict(frozen=True)

    group_by: GroupBy
    total: CostTotals
    rows: list[CostRow]
    more: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "group_by": self.group_by,
            "total": self.total.model_dump(),
            "rows": [row.as_dict(self.group_by) for row in self.rows],
            "more": self.more,
        }

    def as_csv(self) -> str:
        rows = [row.as_dict(self.group_by) for row in self.rows]
        fields = [group_field(self.group_by), "label"]
        fields += ["session", "status", "stop_reason", "max_usd"] if self.group_by == "run" else []
        fields += ["runs", "first", "last", *MEASURES]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()


class CostRecords:
    """The model calls (and refusals) of the chosen runs, one row each, with their summaries."""

    def __init__(self, calls: pa.Table, runs: dict[str, RunSummary]) -> None:
        self.calls = calls
        self.runs = runs

    @classmethod
    def load(
        cls,
        *,
        since: float | None = None,
        runs: Iterable[str] = (),
        session: str | None = None,
        directory: Path | None = None,
    ) -> CostRecords:
        """The calls at or after ``since`` of the given runs (all by default), or of a session."""
        directory = directory or timeline_dir()
        chosen: dict[str, RunSummary] = {}
        tables = []
        for path in _paths(list(runs), directory):
            file = _open(path)
            summary = _summary(path, file)
            if session is not None and summary.session != session:
                continue
            if since is not None and summary.ended < since and file is not None:
                continue
            table = _calls(path, file, summary, since)
            chosen[summary.run_id] = summary
            if table.num_rows:
                tables.append(table)
        calls = pa.concat_tables(tables).combine_chunks() if tables else _empty()
        return cls(calls, chosen)

    def total(self) -> CostTotals:
        if not self.calls.num_rows:
            return CostTotals()
        return CostTotals(**{m: pc.sum(self.calls[m]).as_py() or 0 for m in MEASURES})

    def report(self, group_by: GroupBy, limit: int | None = None) -> CostReport:
        """Totals per ``group_by``, newest first (by their last call), at most ``limit`` rows."""
        if group_by not in GROUPS:
            raise UserError(f"group_by {group_by!r} is not one of {', '.join(GROUPS)}")
        column = group_field(group_by)
        # one thread: sums in one order, so the same calls always give the same float
        grouped = self.calls.group_by(column, use_threads=False).aggregate(
            [(m, "sum") for m in MEASURES]
            + [("run_id", "count_distinct"), ("wall_time", "min"), ("wall_time", "max")]
        )
        rows = []
        for found in grouped.to_pylist():
            key = found[column]
            run = self.runs[key] if group_by == "run" else None
            rows.append(
                CostRow(
                    key=key,
                    label=self._label(group_by, key),
                    session=run.session if run else None,
                    status=run.status if run else None,
                    stop_reason=run.stop_reason if run else None,
                    max_usd=run.max_usd if run else None,
                    runs=found["run_id_count_distinct"],
                    first=found["wall_time_min"],
                    last=found["wall_time_max"],
                    **{m: found[f"{m}_sum"] for m in MEASURES},
                )
            )
        rows.sort(key=lambda r: (r.last, r.key), reverse=True)
        kept = rows if limit is None else rows[:limit]
        return CostReport(
            group_by=group_by, total=self.total(), rows=kept, more=len(rows) - len(kept)
        )

    def detail(self) -> list[dict[str, Any]]:
        """Totals per run, model and agent: the finest grain, sorted by those three."""
        grouped = self.calls.group_by(list(_DETAIL), use_threads=False).aggregate(
            [(m, "sum") for m in MEASURES]
        )
        named = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
        return sorted(named.to_pylist(), key=lambda r: tuple(r[k] for k in _DETAIL))

    def _label(self, group_by: GroupBy, key: str) -> str:
        if group_by == "run":
            return self.runs[key].what
        if group_by == "session":
            return next((s.command for s in self.runs.values() if s.session == key), "")
        return ""


def _paths(runs: list[str], directory: Path) -> list[Path]:
    if not runs:
        return Timeline.paths(directory)
    paths = []
    for run_id in runs:
        found = [directory / f"{run_id}{suffix}" for suffix in (".parquet", ".jsonl")]
        found = [p for p in found if p.is_file()]
        if "/" in run_id or "\\" in run_id or not found:
            raise TimelineNotFound(f"no timeline recorded for run {run_id!r} under {directory}")
        paths.append(found[0])
    return paths


def _unreadable(path: Path, exc: Exception) -> UserError:
    return UserError(f"{path} is not a readable timeline ({type(exc).__name__})")


def _open(path: Path) -> pq.ParquetFile | None:
    """The Parquet file, opened once for its footer and its columns (``None`` for a journal)."""
    if path.suffix != ".parquet":
        return None
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _unreadable(path, exc) from None


def _summary(path: Path, file: pq.ParquetFile | None) -> RunSummary:
    try:
        return Timeline.read_summary(path, file)
    except (pa.ArrowInvalid, OSError, KeyError, ValueError) as exc:
        raise _unreadable(path, exc) from None


def _empty() -> pa.Table:
    columns: dict[str, pa.Array] = {
        k: pa.array([], pa.string())
        for k in ("run_id", "session", "pattern", "key", "day", "model", "agent")
    }
    columns["wall_time"] = pa.array([], pa.float64())
    columns.update({m: pa.array([], pa.float64() if m == "usd" else pa.int64()) for m in MEASURES})
    return pa.table(columns)


def _not_spent(payloads: list[str]) -> tuple[list[bool], list[bool]]:
    """Of calls recorded without a cost, which failed and which were refused."""
    failed, refused = [], []
    for payload in payloads:
        response = json.loads(payload).get("response") or {}
        refused.append(response.get("finish_reason") == "refused")
        failed.append(not refused[-1] and bool(response.get("error")))
    return failed, refused


def _read(path: Path, file: pq.ParquetFile | None, since: float | None) -> pa.Table:
    """The call rows of one timeline: its typed columns (all of a journal's)."""
    if file is None:
        table = event_columns(Timeline.read(path).events)
    else:
        try:
            table = file.read(columns=[*_COLUMNS, "wall_time"], use_threads=False)
        except (pa.ArrowInvalid, OSError, KeyError, ValueError) as exc:
            raise _unreadable(path, exc) from None
    keep = pc.is_in(table["kind"], _CALL_KINDS)
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(table["wall_time"], since))
    return table.filter(keep)


def _calls(
    path: Path, file: pq.ParquetFile | None, summary: RunSummary, since: float | None
) -> pa.Table:
    """One row per model call or refusal of one timeline, with the measures as columns."""
    table = _read(path, file, since)
    is_call = pc.equal(table["kind"], "model_call")
    uncosted = pc.and_(is_call, pc.is_null(table["cost_usd"]))
    seqs = table.filter(uncosted)["seq"].combine_chunks()
    failed_seqs: list[int] = []
    refused_seqs: list[int] = []
    if len(seqs):
        if "payload" in table.column_names:
            payloads = table.filter(uncosted)["payload"].to_pylist()
        else:
            assert file is not None  # a journal's table has its payloads
            found = file.read(columns=["seq", "payload"], use_threads=False)
            found = found.filter(pc.is_in(found["seq"], seqs))
            seqs, payloads = found["seq"].combine_chunks(), found["payload"].to_pylist()
        failed, refused = _not_spent(payloads)
        failed_seqs = [s for s, f in zip(seqs.to_pylist(), failed, strict=True) if f]
        refused_seqs = [s for s, r in zip(seqs.to_pylist(), refused, strict=True) if r]
    was_failed = pc.is_in(table["seq"], pa.array(failed_seqs, pa.int64()))
    was_refused = pc.or_(
        pc.invert(is_call), pc.is_in(table["seq"], pa.array(refused_seqs, pa.int64()))
    )
    unpriced = pc.and_(uncosted, pc.invert(pc.or_(was_failed, was_refused)))
    rows = table.num_rows
    millis = pc.cast(pc.floor(pc.multiply(table["wall_time"], 1000.0)), pa.int64())
    day = pc.cast(pc.cast(pc.cast(millis, pa.timestamp("ms")), pa.date32()), pa.string())

    def constant(value: str) -> pa.Array:
        return pa.array([value] * rows, pa.string())

    def count(mask: Any) -> pa.Array:
        return pc.cast(mask, pa.int64())

    return pa.table(
        {
            "run_id": constant(summary.run_id),
            "session": constant(summary.session),
            "pattern": constant(summary.pattern),
            "key": constant(summary.key),
            "day": day,
            "model": pc.fill_null(table["model"], ""),
            "agent": pc.fill_null(table["agent"], ""),
            "wall_time": table["wall_time"],
            "calls": count(pc.invert(was_refused)),
            "input_tokens": pc.fill_null(table["input_tokens"], 0),
            "output_tokens": pc.fill_null(table["output_tokens"], 0),
            "usd": pc.fill_null(table["cost_usd"], 0.0),
            "unpriced_calls": count(unpriced),
            "failed_calls": count(was_failed),
            "refused_calls": count(was_refused),
        }
    )
