"""``ekklesia run``: a swarm over a task suite, with the transcript of one task and the totals.

The swarm is a :class:`~ekklesia.patterns.spec.RunSpec`: the ``run:`` section of
``$EKKLESIA_HOME/config.yaml`` (see ``ekklesia init``) under a ``--spec`` file under the flags —
each layer overrides the fields the one before it sets. The suite flags choose the tasks.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from ekklesia.agents.simulated import SimulatedModel
from ekklesia.agents.spec import model_from_spec
from ekklesia.cli._common import (
    EventPrinter,
    command_line,
    console,
    fail,
    json_stdout,
    one_line_errors,
    progress_bar,
    render_transcript,
)
from ekklesia.cli.config import base_spec
from ekklesia.core.events import AnyEvent, Usage
from ekklesia.core.paths import timeline_dir
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.patterns.graph import TOPOLOGIES
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.session import current_origin, session
from ekklesia.swarm import RunResult, Swarm
from ekklesia.tasks import suite as load_suite

__all__ = ["register", "spec_from_flags"]


def run(
    ctx: typer.Context,
    spec: Annotated[
        str | None, typer.Option(help="A RunSpec file (YAML or JSON); flags override its fields.")
    ] = None,
    suite: Annotated[str, typer.Option(help="Task suite.")] = "arithmetic",
    tasks: Annotated[int, typer.Option(help="Number of tasks.")] = 100,
    pattern: Annotated[str | None, typer.Option(help="Pattern (default: debate).")] = None,
    agents: Annotated[int | None, typer.Option(help="Number of agents (default 3).")] = None,
    rounds: Annotated[int | None, typer.Option(help="Rounds (default 2).")] = None,
    topology: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(TOPOLOGIES)} (default complete).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model spec: sim, sim:skill=0.8, portkey:…, openai:….")
    ] = None,
    skill: Annotated[float | None, typer.Option(help="Skill of simulated models (0-1).")] = None,
    conformity: Annotated[
        float | None, typer.Option(help="Conformity of simulated models (0-1).")
    ] = None,
    aggregate: Annotated[
        str | None, typer.Option(help="majority, confidence, judge or last.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the tasks and the swarm.")] = None,
    max_usd: Annotated[float | None, typer.Option(help="Budget per run, in USD.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Budget per run, in tokens.")] = None,
    placement: Annotated[
        str | None, typer.Option(help="auto, per_agent, single, or a number of hosts.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Print every event as it happens.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Run a swarm on a task suite and report accuracy, tokens and cost."""
    with json_stdout(as_json) as emit, one_line_errors():
        if tasks < 1:
            fail(f"--tasks must be >= 1, got {tasks}")
        run_spec = spec_from_flags(
            spec,
            pattern=pattern,
            agents=agents,
            rounds=rounds,
            graph=topology,
            model=model,
            skill=skill,
            conformity=conformity,
            aggregate=aggregate,
            seed=seed,
            max_usd=max_usd,
            max_tokens=max_tokens,
            placement=placement,
        )
        swarm = Swarm.from_spec(run_spec)
        problems = load_suite(suite, tasks, run_spec.seed)
        # every task's run under the invocation's session, named by the command as typed
        with swarm, session(current_origin().session, command=command_line(ctx)):
            if follow:
                results = asyncio.run(_follow(swarm, problems, emit if as_json else None))
            else:
                results = _run_all(swarm, problems, quiet=as_json)
        _report(results, as_json, emit, transcript=not follow)


def spec_from_flags(
    path: str | None,
    *,
    skill: float | None = None,
    conformity: float | None = None,
    max_usd: float | None = None,
    max_tokens: int | None = None,
    **fields: Any,
) -> RunSpec:
    """The config's defaults, under the ``--spec`` file, under the flags that were given."""
    base = base_spec()
    if path is not None:
        base = base.merged(**RunSpec.of(path).model_dump(exclude_unset=True, by_alias=True))
    if max_usd is not None or max_tokens is not None:
        budget = base.budget.model_dump()
        if max_usd is not None:
            budget["max_usd"] = max_usd
        if max_tokens is not None:
            budget["max_tokens"] = max_tokens
        fields["budget"] = budget
    placement = fields.get("placement")
    if isinstance(placement, str) and placement.isdigit():
        fields["placement"] = int(placement)
    try:
        merged = base.merged(source="flags", **fields)
    except SpecError as exc:
        raise SpecError(_as_flags(str(exc))) from None
    if skill is not None or conformity is not None:
        chosen = model_from_spec(merged.model)
        if not isinstance(chosen, SimulatedModel):
            fail("--skill and --conformity apply only to simulated models (--model sim…)")
        tuned = SimulatedModel(
            skill=chosen.skill if skill is None else skill,
            conformity=chosen.conformity if conformity is None else conformity,
            seed=chosen.seed,
            correlation=chosen.correlation,
            latency_s=chosen.latency_s,
            price_as=chosen.price_as,
        )
        merged = merged.merged(model=tuned.spec())
    return merged


_FLAGS = {
    "budget.max_usd": "--max-usd",
    "budget.max_tokens": "--max-tokens",
    "graph": "--topology",
    "agents": "--agents",
    "rounds": "--rounds",
    "aggregate": "--aggregate",
    "pattern": "--pattern",
    "placement": "--placement",
    "model": "--model",
}


def _as_flags(message: str) -> str:
    """``flags: budget.max_usd: ...`` as the user typed it: ``--max-usd: ...``."""
    rest = message.removeprefix("flags: ")
    for field, flag in _FLAGS.items():
        if rest.startswith(f"{field}: "):
            return flag + rest[len(field) :]
    return message


def _run_all(swarm: Swarm, problems: list[Task], *, quiet: bool) -> list[RunResult]:
    progress = progress_bar(swarm.pattern.name, quiet=quiet)
    with progress:
        bar = progress.add_task("tasks", total=len(problems))
        return swarm.run_many(problems, on_result=lambda _: progress.advance(bar))


async def _follow(swarm: Swarm, problems: list[Task], emit: Any | None) -> list[RunResult]:
    """Run the tasks one by one, printing each event as it is appended."""
    results: list[RunResult] = []
    printer = EventPrinter(console)
    for task in problems:

        def show(event: AnyEvent) -> None:
            if emit is not None:
                emit(event.model_dump_json())
            else:
                printer.print(event)

        results.append(await swarm.arun(task, on_event=show))
    return results


def _report(results: list[RunResult], as_json: bool, emit: Any, *, transcript: bool) -> None:
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
                    "score": r.score,
                    "stop_reason": r.stop_reason,
                    "rounds": r.rounds,
                }
                for r in results
            ],
        }
        emit(json.dumps(payload))
        return
    # show a task the agents actually debated, if there is one
    shown = next((r for r in results if r.rounds > 1), results[0])
    if transcript:
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
