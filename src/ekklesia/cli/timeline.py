"""``ekklesia timeline``: list, show and replay recorded runs."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ekklesia.cli._common import console, json_stdout, one_line_errors, render_transcript
from ekklesia.core.paths import timeline_dir
from ekklesia.replay import replay as replay_run
from ekklesia.runtime.timeline import Timeline

__all__ = ["register"]

timeline_app = typer.Typer(help="Inspect and replay recorded runs.", no_args_is_help=True)


@timeline_app.command("list")
def list_runs() -> None:
    """The run ids recorded under the data directory."""
    runs = Timeline.list_runs()
    if not runs:
        console.print(f"no timelines under {timeline_dir()}")
    for run_id in runs:
        typer.echo(f"{run_id}  {Timeline.load(run_id).status}")


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
