"""``ekklesia pattern list|show|run``: the pattern library, and a pattern run over its suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ekklesia.cli._common import console, err_console, fail, json_stdout, one_line_errors
from ekklesia.patterns.library import get_pattern, library
from ekklesia.patterns.pattern import Pattern
from ekklesia.patterns.spec import RunSpec

__all__ = ["register"]

pattern_app = typer.Typer(
    help="The pattern library: list, show and run patterns.", no_args_is_help=True
)


def _describe(pattern: Pattern) -> dict[str, object]:
    return {
        "name": pattern.name,
        "description": pattern.description,
        "roles": list(pattern.roles) or ["(any that take part in rounds)"],
        "stages": [
            {
                "name": s.name,
                "roles": list(s.roles) if s.roles else None,
                "hears": s.hears if isinstance(s.hears, str) else list(s.hears),
            }
            for s in pattern.stages
        ],
        "gates": [
            {"name": g.name, "revise": list(g.revise), "max_revisions": g.max_revisions}
            for g in pattern.gates
        ],
        "stop_rules": [r.name for r in pattern.stop_rules],
        "aggregate": pattern.aggregate,
        "scorer": getattr(pattern.scorer, "__name__", type(pattern.scorer).__name__),
        "suite": pattern.suite,
    }


@pattern_app.command("list")
def list_patterns(
    as_json: Annotated[bool, typer.Option("--json", help="Print the patterns as JSON.")] = False,
) -> None:
    """Every pattern: roles, stages, gates, scorer and the suite it runs on."""
    with one_line_errors():
        described = [_describe(library[name]) for name in library]
    if as_json:
        typer.echo(json.dumps(described))
        return
    table = Table(title="patterns")
    table.add_column("pattern", no_wrap=True)
    for column in ("roles", "stages", "gates", "scorer", "suite"):
        table.add_column(column, overflow="fold")
    for d in described:
        stages = " → ".join(str(s["name"]) for s in d["stages"])  # type: ignore[attr-defined]
        gates = ", ".join(str(g["name"]) for g in d["gates"]) or "—"  # type: ignore[attr-defined]
        roles = ", ".join(d["roles"])  # type: ignore[arg-type]
        scorer = str(d["scorer"]).removeprefix("score_").replace("_", " ")
        suite = str(d["suite"]).partition("-")[0]  # humaneval-bug_fix: the humaneval suite
        table.add_row(str(d["name"]), roles, stages, gates, scorer, suite)
    console.print(table)
    console.print("ekklesia pattern show NAME for its spec; ekklesia pattern run NAME to score it")


@pattern_app.command("show")
def show(name: str) -> None:
    """A pattern's recipe and the run spec its runs start from (a RunSpec plus its options)."""
    with one_line_errors():
        pattern = get_pattern(name)
        options = pattern.options().model_dump() if pattern.options else {}
        spec = RunSpec.of({"pattern": pattern.name, "options": options})
        team = [a.model_dump(by_alias=True, exclude_none=True) for a in pattern.team]
        data = spec.to_data() | {"agents": team or spec.agents, "aggregate": pattern.aggregate}
    typer.echo(json.dumps({"pattern": _describe(pattern), "spec": data}, indent=2))


@pattern_app.command("run")
def run(
    name: str,
    suite: Annotated[
        str | None, typer.Option(help="Task suite (default: the pattern's own, e.g. humaneval).")
    ] = None,
    tasks: Annotated[int, typer.Option(help="Number of tasks.")] = 10,
    model: Annotated[str, typer.Option(help="Model spec of every team member.")] = "sim",
    seed: Annotated[int, typer.Option(help="Seed of the tasks and the runs.")] = 0,
    samples: Annotated[
        Path | None,
        typer.Option(help="Write the final programs as HumanEval samples (JSON lines)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Run a pattern over a suite; report its score, tokens, USD and wall time."""
    from ekklesia.code.run import run_pattern
    from ekklesia.code.samples import write_samples
    from ekklesia.code.suites import suite as code_suite

    with json_stdout(as_json) as emit, one_line_errors():
        if tasks < 1:
            fail(f"--tasks must be >= 1, got {tasks}")
        pattern = get_pattern(name)
        chosen = suite or pattern.suite or ""
        if chosen not in ("humaneval", pattern.suite):
            fail(f"pattern {name} runs on its suite {pattern.suite} (--suite humaneval)")
        progress = Progress(
            TextColumn("building the suite"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=as_json,
            transient=True,
        )
        with progress:
            bar = progress.add_task("suite", total=tasks)
            if pattern.suite == "nycflights13":  # the BI team's questions, with gold SQL
                from ekklesia.bi.suite import suite as bi_suite

                problems = bi_suite(tasks)
            else:
                problems = code_suite(
                    pattern.name,
                    tasks,
                    seed,
                    on_progress=lambda done, total: progress.update(
                        bar, completed=done, total=total
                    ),
                )
            progress.update(bar, description=pattern.name, completed=0, total=len(problems))
            report = run_pattern(
                pattern.name,
                problems,
                model=model,
                seed=seed,
                on_result=lambda _: progress.advance(bar),
            )
        if samples is not None:
            write_samples(samples, report.results)
        if as_json:
            emit(json.dumps(report.to_json()))
    if not as_json:
        score = "—" if report.score is None else f"{report.score:.3f}"
        passed = sum(bool(r.correct) for r in report.results)
        console.print(
            f"{report.pattern}: score [bold]{score}[/] over {report.tasks} tasks "
            f"({passed} passed); {report.usage.input_tokens:,}+{report.usage.output_tokens:,} "
            f"tokens, ${report.usage.usd:.4f}, {report.wall_s:.1f} s"
        )
        if samples is not None:
            console.print(f"samples   {samples}  (evaluate_functional_correctness {samples})")


def register(app: typer.Typer) -> None:
    app.add_typer(pattern_app, name="pattern")
