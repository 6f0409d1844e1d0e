"""``ekklesia sweep`` and ``ekklesia learn``: which strategy wins, by exhaustive sweep or online.

    ekklesia sweep STRATEGIES --suite arithmetic --tasks 20 [--seed S] [--json]
    ekklesia learn STRATEGIES --suite arithmetic --runs 50 [--seed S] [--name N] [--json]
    ekklesia learn status | reset | rescore | estimate | report

``ekklesia learn FILE …`` runs the learner (the ``run`` command, which the group picks when its
first word is not one of its commands).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ekklesia.cli._common import console, err_console, fail, json_stdout, one_line_errors
from ekklesia.learn.learner import (
    DEFAULT_NAME,
    describe_state,
    learn,
    learner_names,
    load_state,
    reset_learners,
)
from ekklesia.learn.sweep import sweep as run_sweep

__all__ = ["register", "route"]

learn_app = typer.Typer(
    help=(
        "Learn which strategy wins: `ekklesia learn STRATEGIES --suite S --runs N [--seed S] "
        "[--name N] [--json]` runs the learner online (Thompson sampling); the commands below "
        "read what it and the recorded runs hold."
    ),
    no_args_is_help=True,
)


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    with progress:
        bar = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        yield update


def sweep(
    strategies: Annotated[str, typer.Argument(help="A strategies file (YAML or JSON).")],
    suite: Annotated[
        str, typer.Option(help="arithmetic, humaneval or humaneval-<pattern>.")
    ] = "arithmetic",
    tasks: Annotated[int, typer.Option(help="Number of tasks.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the tasks and the runs.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Run every strategy on the same tasks; an interrupted sweep resumes where it stopped."""
    with json_stdout(as_json) as emit, one_line_errors():
        if tasks < 1:
            fail(f"--tasks must be >= 1, got {tasks}")
        with _progress("sweep", as_json) as update:
            result = run_sweep(strategies, suite=suite, tasks=tasks, seed=seed, on_progress=update)
        if as_json:
            emit(json.dumps(result.to_json()))
            return
    table = Table(title=f"sweep: {tasks} tasks of {suite}, seed {seed}")
    for column in (
        "strategy",
        result.measure,
        "USD / task",
        "tokens / task",
        "objective",
        "95% ci",
    ):
        table.add_column(column)
    for s in result.summaries:
        table.add_row(
            s.name,
            f"{getattr(s, result.measure):.3f}",
            f"{s.usd:.6f}",
            f"{s.tokens:.0f}",
            f"{s.objective:.4f}",
            f"[{s.ci[0]:.4f}, {s.ci[1]:.4f}]",
        )
    console.print(table)
    if result.resumed:
        console.print(f"{result.resumed} runs were taken from an earlier sweep")
    console.print(f"best: [bold]{result.best}[/]")


@learn_app.command("run", hidden=True)
def run(
    strategies: Annotated[str, typer.Argument(help="A strategies file (YAML or JSON).")],
    suite: Annotated[
        str, typer.Option(help="arithmetic, humaneval or humaneval-<pattern>.")
    ] = "arithmetic",
    runs: Annotated[int, typer.Option(help="Runs in all (a learner goes on from its state).")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the tasks, the runs and the learner.")] = 0,
    name: Annotated[str, typer.Option(help="The learner's name (its state).")] = DEFAULT_NAME,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Learn online which strategy wins: Thompson sampling on the objective."""
    with json_stdout(as_json) as emit, one_line_errors():
        if runs < 1:
            fail(f"--runs must be >= 1, got {runs}")
        with _progress("learn", as_json) as update:
            report = learn(
                strategies, suite=suite, runs=runs, seed=seed, name=name, on_progress=update
            )
        if as_json:
            emit(json.dumps(report))
            return
    _print_estimates(report["best"], report["estimates"], len(report["choices"]))
    regret = report["cumulative_regret"]
    console.print(f"cumulative regret after {len(regret)} runs: {regret[-1]:.4f}")


def _print_estimates(best: str, estimates: dict[str, dict[str, object]], runs: int) -> None:
    table = Table(title=f"learner after {runs} runs")
    for column in ("strategy", "runs", "mean objective", "95% interval"):
        table.add_column(column)
    for strategy, e in estimates.items():
        mean, ci = e["mean"], e["ci"]
        table.add_row(
            strategy + (" (best)" if strategy == best else ""),
            str(e["runs"]),
            "—" if not isinstance(mean, float) else f"{mean:.4f}",
            "—" if not isinstance(ci, list) else f"[{ci[0]:.4f}, {ci[1]:.4f}]",
        )
    console.print(table)


@learn_app.command("status")
def status(
    name: Annotated[str | None, typer.Option(help="One learner (default: every one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The persisted learners: their strategies' estimates and runs."""
    with one_line_errors():
        names = [name] if name is not None else learner_names()
        described = [describe_state(load_state(n)) for n in names]
    if as_json:
        typer.echo(json.dumps({"learners": described}))
        return
    if not described:
        console.print("no learner state (ekklesia learn STRATEGIES --runs N starts one)")
    for d in described:
        console.print(
            f"[bold]{d['name']}[/]: suite {d['suite']}, seed {d['seed']}, "
            f"objective {d['objective']}"
        )
        _print_estimates(str(d["best"]), d["estimates"], int(str(d["runs"])))


@learn_app.command("reset")
def reset(
    name: Annotated[str | None, typer.Option(help="One learner (default: every one).")] = None,
) -> None:
    """Clear the persisted state of a learner (or of every learner)."""
    with one_line_errors():
        removed = reset_learners(name)
    console.print(f"cleared {', '.join(removed)}" if removed else "no learner state to clear")


def _run_ids(from_: str | None, since: str | None) -> list[str]:
    from ekklesia.learn.rescore import runs_since

    if (from_ is None) == (since is None):
        fail("give the recorded runs with --from RUN_IDS (comma-separated) or --since DATE")
    if from_ is not None:
        ids = [r.strip() for r in from_.split(",") if r.strip()]
    else:
        ids = runs_since(since or "")
    if not ids:
        fail(f"no recorded runs {'in --from' if from_ is not None else f'since {since}'}")
    return ids


@learn_app.command("rescore")
def rescore(
    from_: Annotated[
        str | None, typer.Option("--from", help="Recorded run ids, comma-separated.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Every run started since this date.")] = None,
    as_: Annotated[
        str, typer.Option("--as", help="A strategies file: the alternatives to score.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score other strategies on recorded runs, from the timelines alone (no model calls)."""
    from ekklesia.learn.rescore import rescore as rescore_runs
    from ekklesia.learn.runs import summarise
    from ekklesia.learn.strategies import load_strategies

    with json_stdout(as_json) as emit, one_line_errors():
        if not as_:
            fail("--as STRATEGIES is required: the alternatives to score")
        alternatives = load_strategies(as_)
        ids = _run_ids(from_, since)
        rescored = rescore_runs(ids, alternatives.strategies)
        entries: list[dict[str, object]] = []
        for strategy in alternatives.strategies:
            mine = [r for r in rescored if r.strategy == strategy.name]
            records = [r.record for r in mine if r.record is not None]
            refused = [r for r in mine if r.record is None]
            entry: dict[str, object] = {"name": strategy.name, "runs": len(records)}
            if records:
                summary = summarise(strategy.name, records, alternatives.objective)
                entry |= summary.to_json("accuracy") | {"score": summary.score}
            entry["refused"] = len(refused)
            if refused:
                entry["reason"] = refused[0].refused
            entries.append(entry)
        if all(e["runs"] == 0 for e in entries):
            first = next(r for r in rescored if r.refused)
            fail(f"{first.strategy}: {first.refused}")
        runs = [
            {"run_id": r.run_id, "strategy": r.strategy}
            | (
                r.record.model_dump(
                    include={"answer", "correct", "score", "usd", "tokens", "rounds", "stop_reason"}
                )
                if r.record is not None
                else {"refused": r.refused}
            )
            for r in rescored
        ]
        if as_json:
            emit(json.dumps({"strategies": entries, "runs": runs}))
            return
    table = Table(title=f"re-scored from {len(ids)} recorded runs (no model calls)")
    for column in ("strategy", "runs", "accuracy", "USD / task", "objective", "refused"):
        table.add_column(column)
    for e in entries:
        has = e["runs"] != 0
        table.add_row(
            str(e["name"]),
            str(e["runs"]),
            f"{e['accuracy']:.3f}" if has else "—",
            f"{e['usd']:.6f}" if has else "—",
            f"{e['objective']:.4f}" if has else "—",
            str(e["refused"]) + (f" ({e['reason']})" if e["refused"] else ""),
        )
    console.print(table)


@learn_app.command("estimate")
def estimate(
    strategy: Annotated[str, typer.Argument(help="The strategy to estimate.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Logged run ids, comma-separated.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Every run started since this date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Estimate a strategy's objective off-policy from runs a learner logged (IPS and DR)."""
    from ekklesia.learn.offpolicy import estimate as estimate_strategy
    from ekklesia.learn.offpolicy import logged_runs

    with json_stdout(as_json) as emit, one_line_errors():
        ids = None if from_ is None and since is None else _run_ids(from_, since)
        found = estimate_strategy(strategy, logged_runs(ids))
        data = found.model_dump(mode="json")
        if as_json:
            emit(json.dumps(data))
            return
    console.print(
        f"[bold]{strategy}[/] ({found.objective}) from {found.runs} logged runs, "
        f"chosen in {found.chosen}:"
    )
    console.print(
        f"  doubly robust      {found.dr:.4f}  95% [{found.ci[0]:.4f}, {found.ci[1]:.4f}]"
    )
    console.print(
        f"  inverse propensity {found.ips:.4f}  95% [{found.ips_ci[0]:.4f}, {found.ips_ci[1]:.4f}]"
    )
    console.print(f"  effective sample size {found.ess:.1f}")


@learn_app.command("report")
def report(
    name: Annotated[str, typer.Option(help="The learner to report on.")] = DEFAULT_NAME,
    out: Annotated[
        Path | None, typer.Option(help="Where to write it (default: beside its state).")
    ] = None,
) -> None:
    """Write an HTML report: regret curve, estimates over time, accuracy against cost."""
    from ekklesia.learn.learner import PatternLearner
    from ekklesia.learn.report import write_report

    with one_line_errors():
        path = write_report(PatternLearner.load(name), out)
    console.print(str(path))


def route(args: list[str]) -> list[str]:
    """``ekklesia learn FILE …`` is ``ekklesia learn run FILE …`` (the root group applies it)."""
    if len(args) < 2 or args[0] != "learn":
        return args
    commands = {info.name for info in learn_app.registered_commands}
    if args[1] in commands or args[1] in ("--help", "-h"):
        return args
    return ["learn", "run", *args[1:]]


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.add_typer(learn_app, name="learn")
