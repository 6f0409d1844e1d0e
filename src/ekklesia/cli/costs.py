"""``ekklesia cost report``: tokens and USD by run, model and agent, from the recorded timelines.

Reads the typed columns of the timeline Parquet files with pyarrow and totals them with Arrow's
group-by. Only calls recorded without a cost have their JSON payload read, to tell a failed or
refused call (which cost nothing) from an unpriced one (whose cost is unknown).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import typer
from rich.table import Table

from ekklesia.cli._common import console, one_line_errors
from ekklesia.core.paths import timeline_dir
from ekklesia.errors import TimelineNotFound, UserError

__all__ = ["cost_rows", "register"]

_CALL_KINDS = pa.array(["model_call", "call_refused"])
_COLUMNS = ["seq", "kind", "agent", "model", "input_tokens", "output_tokens", "cost_usd"]
_MEASURES = (
    "calls",
    "input_tokens",
    "output_tokens",
    "usd",
    "unpriced_calls",
    "failed_calls",
    "refused_calls",
)
_KEYS = ("run_id", "model", "agent")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise UserError(
            f"--since {text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None


def _paths(runs: list[str], directory: Path) -> list[Path]:
    if not runs:
        return sorted(directory.glob("*.parquet")) if directory.exists() else []
    paths = []
    for run_id in runs:
        path = directory / f"{run_id}.parquet"
        if "/" in run_id or "\\" in run_id or not path.is_file():
            raise TimelineNotFound(f"no timeline recorded for run {run_id!r} under {directory}")
        paths.append(path)
    return paths


def _not_spent(path: Path, seqs: pa.Array) -> tuple[list[int], list[int]]:
    """Of the calls recorded without a cost, the ones that failed and the ones refused."""
    table = pq.read_table(path, columns=["seq", "payload"])
    table = table.filter(pc.is_in(table["seq"], seqs))
    failed, refused = [], []
    for seq, payload in zip(table["seq"].to_pylist(), table["payload"].to_pylist(), strict=True):
        response = json.loads(payload).get("response") or {}
        if response.get("finish_reason") == "refused":
            refused.append(seq)
        elif response.get("error"):
            failed.append(seq)
    return failed, refused


def _calls(path: Path, since: float | None) -> pa.Table:
    """One row per model call or refusal of one timeline, with the measures as columns."""
    try:
        columns = _COLUMNS if since is None else [*_COLUMNS, "wall_time"]
        table = pq.read_table(path, columns=columns)
        keep = pc.is_in(table["kind"], _CALL_KINDS)
        if since is not None:
            keep = pc.and_(keep, pc.greater_equal(table["wall_time"], since))
        table = table.filter(keep)
        is_call = pc.equal(table["kind"], "model_call")
        unknown = table.filter(pc.and_(is_call, pc.is_null(table["cost_usd"])))["seq"]
        failed, refused = _not_spent(path, unknown.combine_chunks()) if len(unknown) else ([], [])
    except (pa.ArrowInvalid, OSError, KeyError, ValueError) as exc:
        raise UserError(f"{path} is not a readable timeline ({type(exc).__name__})") from None
    was_failed = pc.is_in(table["seq"], pa.array(failed, pa.int64()))
    was_refused = pc.or_(pc.invert(is_call), pc.is_in(table["seq"], pa.array(refused, pa.int64())))
    unpriced = pc.and_(
        pc.and_(is_call, pc.is_null(table["cost_usd"])), pc.invert(pc.or_(was_failed, was_refused))
    )

    def count(mask: Any) -> pa.Array:
        return pc.cast(mask, pa.int64())

    rows = table.num_rows
    return pa.table(
        {
            "run_id": pa.array([path.stem] * rows, pa.string()),
            "model": pc.fill_null(table["model"], ""),
            "agent": pc.fill_null(table["agent"], ""),
            "calls": count(pc.invert(was_refused)),
            "input_tokens": pc.fill_null(table["input_tokens"], 0),
            "output_tokens": pc.fill_null(table["output_tokens"], 0),
            "usd": pc.fill_null(table["cost_usd"], 0.0),
            "unpriced_calls": count(unpriced),
            "failed_calls": count(was_failed),
            "refused_calls": count(was_refused),
        }
    )


def _totals(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    grouped = table.group_by(keys).aggregate([(m, "sum") for m in _MEASURES])
    rows = grouped.rename_columns([c.removesuffix("_sum") for c in grouped.column_names])
    return sorted(rows.to_pylist(), key=lambda r: tuple(r[k] for k in keys))


def cost_rows(
    runs: list[str] | None = None, since: str | None = None, directory: Path | None = None
) -> pa.Table:
    """Every recorded model call (and refusal) of the chosen runs, one row each, as measures."""
    since_ts = _since(since)
    tables = [_calls(p, since_ts) for p in _paths(runs or [], directory or timeline_dir())]
    if not tables:
        empty = {k: pa.array([], pa.string()) for k in _KEYS}
        empty.update(
            {m: pa.array([], pa.float64() if m == "usd" else pa.int64()) for m in _MEASURES}
        )
        return pa.table(empty)
    return pa.concat_tables(tables)


def _report(table: pa.Table) -> dict[str, Any]:
    total = (
        {m: pc.sum(table[m]).as_py() or 0 for m in _MEASURES}
        if table.num_rows
        else dict.fromkeys(_MEASURES, 0)
    )
    return {
        "total": total,
        "by_run": _totals(table, ["run_id"]),  # keyed by_<title> for the tables below
        "by_model": _totals(table, ["model"]),
        "by_agent": _totals(table, ["agent"]),
        "rows": _totals(table, list(_KEYS)),
    }


def _usd(value: float) -> str:
    return f"${value:,.6f}"


def _print_tables(report: dict[str, Any], directory: Path) -> None:
    total = report["total"]
    if not total["calls"] and not total["refused_calls"]:
        console.print(f"no model calls recorded under {directory}")
        return
    for key, title in (("run_id", "run"), ("model", "model"), ("agent", "agent")):
        rows = report[f"by_{title}"]
        table = Table(title=f"by {title}")
        width = max([len(title), *(len(row[key] or "—") for row in rows)])
        table.add_column(title, no_wrap=True, min_width=width)
        for column in ("calls", "in", "out", "USD", "unpriced", "failed", "refused"):
            table.add_column(column, justify="right", no_wrap=True)
        for row in rows:
            table.add_row(
                row[key] or "—",
                f"{row['calls']:,}",
                f"{row['input_tokens']:,}",
                f"{row['output_tokens']:,}",
                _usd(row["usd"]),
                f"{row['unpriced_calls']:,}",
                f"{row['failed_calls']:,}",
                f"{row['refused_calls']:,}",
            )
        console.print(table)
    unpriced = (
        f" (+{total['unpriced_calls']} calls of unknown cost)" if total["unpriced_calls"] else ""
    )
    console.print(
        f"total  {total['calls']:,} calls, {total['input_tokens']:,} tokens in, "
        f"{total['output_tokens']:,} out, {_usd(total['usd'])}{unpriced}"
    )


def report(
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Only this run (repeatable).", show_default=False),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only calls at or after this date (YYYY-MM-DD[THH:MM]).")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.table,
) -> None:
    """Tokens and USD by run, model and agent, from the recorded timelines."""
    with one_line_errors():
        totals = _report(cost_rows(run, since))
    if output is Format.json:
        typer.echo(json.dumps(totals))
    elif output is Format.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*_KEYS, *_MEASURES], lineterminator="\n")
        writer.writeheader()
        writer.writerows(totals["rows"])
        typer.echo(buffer.getvalue(), nl=False)
    else:
        _print_tables(totals, timeline_dir())


cost_app = typer.Typer(help="What runs cost, from their timelines.", no_args_is_help=True)
cost_app.command("report")(report)


def register(app: typer.Typer) -> None:
    app.add_typer(cost_app, name="cost")
