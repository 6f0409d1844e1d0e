"""``ekklesia timeline``: list, show and replay recorded runs.

``list`` reads only each file's footer summary (:class:`~ekklesia.runtime.summary.RunSummary`):
the newest runs first, grouped by session, with status, pattern/task, tokens and USD.
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Annotated

import typer
from rich.markup import escape

from ekklesia.cli._common import console, fail, json_stdout, one_line_errors, render_transcript
from ekklesia.cli.costs import money, small_table, when
from ekklesia.core.paths import timeline_dir
from ekklesia.replay import replay as replay_run
from ekklesia.runtime.summary import RunStatus, RunSummary
from ekklesia.runtime.timeline import Timeline

__all__ = ["register"]

timeline_app = typer.Typer(help="Inspect and replay recorded runs.", no_args_is_help=True)


_STYLE = {"finished": "green", "failed": "red", "cancelled": "yellow", "died": "red"}


@timeline_app.command("list")
def list_runs(
    session: Annotated[str | None, typer.Option(help="Only the runs of this session.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs that finished, failed, … (see RunStatus).")
    ] = None,
    limit: Annotated[int, typer.Option(help="The newest N runs.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON summary per line, newest first.")
    ] = False,
) -> None:
    """The newest runs, by session: status, pattern/task, tokens, USD."""
    with one_line_errors():
        if limit < 1:
            fail(f"--limit must be >= 1, got {limit}")
        statuses: tuple[RunStatus, ...] = ("finished", "failed", "cancelled", "running", "died")
        if status is not None and status not in statuses:
            fail(f"--status {status!r} is not one of {', '.join(statuses)}")
        every = Timeline.summaries()
        found = [
            s
            for s in every
            if (session is None or s.session == session) and (status in (None, s.status))
        ]
    shown = found[:limit]
    if as_json:
        for summary in shown:
            typer.echo(_json(summary))
        return
    if not shown:
        console.print(f"no timelines under {timeline_dir()}" + (" match" if every else ""))
        return
    _print_runs(shown)
    more = len(found) - len(shown)
    tail = f", {more:,} older not shown (--limit {len(found)})" if more else ""
    console.print(f"{len(shown):,} runs{tail}", style="dim")
    console.print(
        "drill down:\n"
        f"  ekklesia timeline show {shown[0].run_id}   (a transcript)\n"
        f"  ekklesia cost report --session {shown[0].session}   (what a session cost)",
        style="dim",
    )


def _json(summary: RunSummary) -> str:
    return json.dumps(summary.model_dump(mode="json") | {"status": summary.status})


def _print_runs(shown: list[RunSummary]) -> None:
    """One table, a header row per session (newest first), its runs under it."""
    table = small_table()
    table.add_column("run", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("pattern/task", overflow="fold")
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("USD", justify="right", no_wrap=True)
    for session, runs in groupby(shown, key=lambda s: s.session):
        group = list(runs)
        usd = sum(r.usage.usd for r in group)
        tokens = sum(r.usage.total_tokens for r in group)
        header = f"{when(min(r.started for r in group))}  {group[0].command}".rstrip()
        table.add_row(
            f"[bold]{escape(session)}[/]",
            f"{len(group)} run{'s' * (len(group) != 1)}",
            f"[bold]{escape(header)}[/]",
            f"{tokens:,}",
            money(usd),
        )
        for run in group:
            table.add_row(
                f"  {run.run_id}",
                f"[{_STYLE.get(run.status, 'cyan')}]{run.status}[/]",
                escape(run.what or "—"),
                f"{run.usage.total_tokens:,}",
                money(run.usage.usd),
            )
    console.print(table)


@timeline_app.command("show")
def show(
    run_id: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the events as JSON lines.")
    ] = False,
) -> None:
    """The transcript of a run, round by round, with per-call tokens and cost."""
    with one_line_errors():
        timeline = Timeline.load(run_id)
        if as_json:
            for event in timeline.events:
                typer.echo(event.model_dump_json())
            return
        render_transcript(timeline)


@timeline_app.command("replay")
def replay(
    run_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-run a recorded run from its recorded model outputs (no model calls) and compare."""
    with json_stdout(as_json) as emit, one_line_errors():
        report = replay_run(run_id)
        if as_json:
            emit(json.dumps(report.model_dump(mode="json") | {"identical": report.identical}))
    if not as_json:
        mark = {True: "[green]match[/]", False: "[red]differ[/]"}
        console.print(f"replayed {run_id} as {report.replay_run_id}: {report.events} events")
        console.print(f"outcome  {mark[report.outcome_matches]}")
        console.print(f"events   {mark[report.events_match]}")
        if report.first_difference is not None:
            console.print(f"first difference at event {report.first_difference}:")
            console.print(f"  recorded: {report.recorded}")
            console.print(f"  replayed: {report.replayed}")
    raise typer.Exit(0 if report.identical else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(timeline_app, name="timeline")
