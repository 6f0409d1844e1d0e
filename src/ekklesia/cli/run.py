"""``ekklesia run``: a debate over a task suite, with the transcript of one task and the totals."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ekklesia.agents.agent import Agent
from ekklesia.agents.simulated import SimulatedModel
from ekklesia.agents.spec import model_from_spec
from ekklesia.cli._common import console, err_console, fail, one_line_errors, render_transcript
from ekklesia.core.events import Usage
from ekklesia.core.paths import timeline_dir
from ekklesia.patterns.graph import TOPOLOGIES
from ekklesia.runtime.ledger import Budget
from ekklesia.swarm import RunResult, Swarm
from ekklesia.tasks import Task
from ekklesia.tasks import suite as load_suite

__all__ = ["register"]


def run(
    suite: Annotated[str, typer.Option(help="Task suite.")] = "arithmetic",
    tasks: Annotated[int, typer.Option(help="Number of tasks.")] = 100,
    agents: Annotated[int, typer.Option(help="Number of debating agents.")] = 3,
    rounds: Annotated[int, typer.Option(help="Debate rounds.")] = 2,
    topology: Annotated[str, typer.Option(help=f"One of {', '.join(TOPOLOGIES)}.")] = "complete",
    model: Annotated[
        str, typer.Option(help="Model spec: sim, sim:skill=0.8, portkey:…, openai:….")
    ] = "sim",
    skill: Annotated[float | None, typer.Option(help="Skill of simulated models (0-1).")] = None,
    conformity: Annotated[
        float | None, typer.Option(help="Conformity of simulated models (0-1).")
    ] = None,
    aggregate: Annotated[str, typer.Option(help="majority, confidence or judge.")] = "majority",
    seed: Annotated[int, typer.Option(help="Seed of the tasks and the swarm.")] = 0,
    max_usd: Annotated[float | None, typer.Option(help="Budget per run, in USD.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Budget per run, in tokens.")] = None,
    placement: Annotated[
        str, typer.Option(help="auto, per_agent, single, or a number of hosts.")
    ] = "auto",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Run a debate on a task suite and report accuracy, tokens and cost."""
    with one_line_errors():
        if tasks < 1:
            fail(f"--tasks must be >= 1, got {tasks}")
        if agents < 1:
            fail(f"--agents must be >= 1, got {agents}")
        chosen = model_from_spec(model)
        if skill is not None or conformity is not None:
            if not isinstance(chosen, SimulatedModel):
                fail("--skill and --conformity apply only to simulated models (--model sim…)")
            chosen = SimulatedModel(
                skill=chosen.skill if skill is None else skill,
                conformity=chosen.conformity if conformity is None else conformity,
                seed=chosen.seed,
                correlation=chosen.correlation,
                latency_s=chosen.latency_s,
                price_as=chosen.price_as,
            )
        members = [Agent(f"agent-{i}", role="solver", model=chosen) for i in range(agents)]
        if aggregate == "judge":
            members.append(Agent("judge", role="judge", model=chosen))
        budget = Budget(max_usd=max_usd, max_tokens=max_tokens)
        where: str | int = int(placement) if placement.isdigit() else placement
        swarm = Swarm(
            members,
            graph=topology,
            rounds=rounds,
            aggregate=aggregate,
            seed=seed,
            budget=budget,
            placement=where,
        )
        problems = load_suite(suite, tasks, seed)
        with swarm:
            results = _run_all(swarm, problems, quiet=as_json)
    _report(results, as_json)


def _run_all(swarm: Swarm, problems: list[Task], *, quiet: bool) -> list[RunResult]:
    progress = Progress(
        TextColumn("debating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    with progress:
        bar = progress.add_task("tasks", total=len(problems))
        return swarm.run_many(problems, on_result=lambda _: progress.advance(bar))


def _report(results: list[RunResult], as_json: bool) -> None:
    usage = sum((r.usage for r in results), Usage())
    scored = [r for r in results if r.correct is not None]
    accuracy = sum(bool(r.correct) for r in scored) / len(scored) if scored else None
    if as_json:
        payload = {
            "accuracy": accuracy,
            "tasks": len(results),
            "usage": {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "usd": usage.usd,
            },
            "results": [
                {
                    "task_id": r.task_id,
                    "run_id": r.run_id,
                    "answer": r.answer,
                    "expected": r.expected,
                    "correct": r.correct,
                    "stop_reason": r.stop_reason,
                    "rounds": r.rounds,
                }
                for r in results
            ],
        }
        typer.echo(json.dumps(payload))
        return
    # show a task the agents actually debated, if there is one
    shown = next((r for r in results if r.rounds > 1), results[0])
    render_transcript(shown.timeline)
    console.rule("totals")
    if accuracy is not None:
        right = sum(bool(r.correct) for r in scored)
        console.print(f"accuracy  [bold]{accuracy:.1%}[/] ({right}/{len(scored)} tasks)")
    stops: dict[str, int] = {}
    for r in results:
        stops[r.stop_reason] = stops.get(r.stop_reason, 0) + 1
    console.print(f"stopped   {', '.join(f'{k}: {v}' for k, v in sorted(stops.items()))}")
    console.print(
        f"tokens    {usage.input_tokens:,} in, {usage.output_tokens:,} out "
        f"over {usage.calls:,} calls"
    )
    console.print(
        f"cost      ${usage.usd:.4f}"
        + (f" (+{usage.unpriced_calls} unpriced calls)" if usage.unpriced_calls else "")
    )
    console.print(f"timelines {timeline_dir()}  (ekklesia timeline show {shown.run_id})")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
