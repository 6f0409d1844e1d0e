"""``ekklesia cost report``: tokens and USD by model and by session, newest first, then drill down.

The figures are :class:`~ekklesia.runtime.costs.CostRecords`' (the same as ``GET /v1/costs``).
Without ``--by`` the table opens with the totals by model and by session (the runs of one command
or one HTTP request); ``--session ID`` narrows to one session and lists its runs; ``--by`` shows
one grouping. JSON (``--format json``) keeps every grouping; CSV lists run × model × agent.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ekklesia.cli._common import console, fail, one_line_errors
from ekklesia.core.paths import timeline_dir
from ekklesia.runtime.costs import (
    GROUPS,
    MEASURES,
    CostRecords,
    CostReport,
    CostRow,
    CostTotals,
    GroupBy,
    group_field,
    parse_since,
)

__all__ = ["money", "register", "report_json", "small_table"]

_DEFAULT_LIMIT = 10


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def money(value: float) -> str:
    """USD short enough for a column and never cut: cents above $1, 3 significant digits below."""
    if value == 0:
        return "$0"
    if value >= 1:
        return f"${value:,.2f}"
    if value >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}" if value >= 1e-6 else "<$0.000001"


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "—"


def small_table(title: str | None = None) -> Table:
    """A borderless table: two spaces between columns, nothing at the edges."""
    return Table(
        title=title, title_justify="left", box=None, padding=(0, 1), pad_edge=False, expand=False
    )


def _notes(row: CostTotals) -> str:
    parts = [
        f"{row.unpriced_calls:,} unpriced" if row.unpriced_calls else "",
        f"{row.failed_calls:,} failed" if row.failed_calls else "",
        f"{row.refused_calls:,} refused" if row.refused_calls else "",
    ]
    return ", ".join(p for p in parts if p)


def _table(report: CostReport) -> Table:
    group = report.group_by
    table = small_table(f"by {group}" + (" (UTC)" if group == "day" else ""))
    # ids stay whole (they are meant to be copied); names and commands fold rather than cut
    table.add_column(group, no_wrap=group in ("session", "run"), overflow="fold", style="bold")
    columns: list[tuple[str, Any]] = []
    if group == "session":
        columns += [("started", lambda r: when(r.first)), ("runs", lambda r: f"{r.runs:,}")]
    if group in ("session", "run"):
        columns.append(("tokens", lambda r: f"{r.input_tokens + r.output_tokens:,}"))
    else:
        columns += [
            ("calls", lambda r: f"{r.calls:,}"),
            ("tokens in", lambda r: f"{r.input_tokens:,}"),
            ("out", lambda r: f"{r.output_tokens:,}"),
        ]
    columns.append(("USD", lambda r: money(r.usd)))
    for name, _ in columns:
        table.add_column(name, justify="right", no_wrap=True)
    labelled = group in ("session", "run")
    if labelled:
        table.add_column("command" if group == "session" else "pattern/task", overflow="fold")
    noted = any(_notes(row) for row in report.rows)
    if noted:
        table.add_column("notes", overflow="fold", style="yellow")
    for row in report.rows:
        cells = [escape(row.key or "—"), *(render(row) for _, render in columns)]
        cells += [escape(row.label)] if labelled else []
        cells += [_notes(row)] if noted else []
        table.add_row(*cells)
    return table


def _print(records: CostRecords, groups: list[GroupBy], limit: int, narrowed: bool) -> None:
    total = records.total()
    if not total.calls and not total.refused_calls:
        console.print(f"no model calls recorded under {timeline_dir()}")
        return
    shown: list[CostReport] = []
    for group in groups:
        report = records.report(group, limit)
        shown.append(report)
        console.print(_table(report))
        if report.more:
            console.print(f"[dim]… {report.more:,} more (--limit {limit + report.more})[/]")
        console.print()
    unpriced = f" (+{total.unpriced_calls} calls of unknown cost)" if total.unpriced_calls else ""
    console.print(
        f"total  {total.calls:,} calls, {total.input_tokens:,} tokens in, "
        f"{total.output_tokens:,} out, ${total.usd:,.6f}{unpriced}"
    )
    console.print(_hint(shown, narrowed), style="dim", soft_wrap=False)


def _hint(shown: list[CostReport], narrowed: bool) -> str:
    """How to look closer, with an id from the table so it can be copied."""
    sessions = next((r for r in shown if r.group_by == "session"), None)
    runs = next((r for r in shown if r.group_by == "run"), None)
    lines = ["drill down:"]
    if sessions and sessions.rows:
        lines.append(f"  ekklesia cost report --session {sessions.rows[0].key}   (its runs)")
    if runs and runs.rows:
        lines.append(f"  ekklesia timeline show {runs.rows[0].key}   (a transcript)")
    others = "|".join(g for g in GROUPS if g not in {r.group_by for r in shown})
    narrowing = "  (with the same --session or --run)" if narrowed else ""
    lines.append(f"  ekklesia cost report --by {others}")
    lines += [narrowing] if narrowing else []
    return "\n".join(lines)


def report_json(records: CostRecords, limit: int | None) -> dict[str, Any]:
    """Every grouping, as ``ekklesia cost report --format json`` prints it."""
    out: dict[str, Any] = {"total": records.total().model_dump()}
    for group in GROUPS:
        rows: list[CostRow] = records.report(group, limit).rows
        out[f"by_{group}"] = [row.as_dict(group) for row in rows]
    out["rows"] = records.detail()
    return out


def report(
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Only this run (repeatable).", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only calls at or after this date, UTC (YYYY-MM-DD[THH:MM])."),
    ] = None,
    session: Annotated[
        str | None, typer.Option(help="Only the runs of this session; lists them.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help=f"One grouping: {', '.join(GROUPS)}.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help=f"Rows per grouping, newest first (tables: {_DEFAULT_LIMIT}; else all)."),
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.table,
) -> None:
    """Tokens and USD by model and by session (newest first), from the recorded timelines."""
    with one_line_errors():
        if by is not None and by not in GROUPS:
            fail(f"--by {by!r} is not one of {', '.join(GROUPS)}")
        if limit is not None and limit < 1:
            fail(f"--limit must be >= 1, got {limit}")
        records = CostRecords.load(
            since=parse_since(since, "--since"), runs=run or [], session=session
        )
        group: GroupBy | None = next((g for g in GROUPS if g == by), None)
        if output is Format.json:
            data = records.report(group, limit).as_json() if group else report_json(records, limit)
            typer.echo(json.dumps(data))
        elif output is Format.csv:
            text = records.report(group, limit).as_csv() if group else _detail_csv(records)
            typer.echo(text, nl=False)
        else:
            narrowed = session is not None or bool(run)
            groups: list[GroupBy] = (
                [group] if group else ["model", "run"] if narrowed else ["model", "session"]
            )
            _print(records, groups, limit or _DEFAULT_LIMIT, narrowed)


def _detail_csv(records: CostRecords) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=[group_field("run"), "model", "agent", *MEASURES], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(records.detail())
    return buffer.getvalue()


cost_app = typer.Typer(help="What runs cost, from their timelines.", no_args_is_help=True)
cost_app.command("report")(report)


def register(app: typer.Typer) -> None:
    app.add_typer(cost_app, name="cost")
