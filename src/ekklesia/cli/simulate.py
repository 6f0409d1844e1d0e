"""``ekklesia simulate``: large simulations of populations of agents, with timings and memory."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from ekklesia.cli._common import console, fail, json_stdout, one_line_errors, progress_bar
from ekklesia.environments.two_thirds import averages, guess_two_thirds
from ekklesia.simulation import RoundReport, SimulationResult

__all__ = ["register"]

simulate_app = typer.Typer(
    help="Simulations of many agents stepped as populations.", no_args_is_help=True
)


@simulate_app.command("guess-two-thirds")
def two_thirds(
    agents: Annotated[int, typer.Option(help="Number of players.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Rounds of the game.")] = 5,
    hosts: Annotated[
        int | None, typer.Option(help="Host actors (default: the CPUs Ray has).")
    ] = None,
    player: Annotated[
        str, typer.Option(help="sim (seeded guesses) or dummy (wait, then answer at random).")
    ] = "sim",
    latency: Annotated[float, typer.Option(help="Seconds a dummy player waits.")] = 1.0,
    wait: Annotated[
        str, typer.Option(help="How dummy players wait: agent (a timer each), coroutine, batch.")
    ] = "agent",
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    record: Annotated[
        str, typer.Option(help="auto, full (every message) or sample (a seeded sample).")
    ] = "auto",
    sample_rate: Annotated[
        float, typer.Option(help="Share of messages kept with --record sample.")
    ] = 0.001,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """N players guess 2/3 of the average; a moderator broadcasts the average each round."""
    with json_stdout(as_json) as emit, one_line_errors():
        if agents < 1:
            fail(f"--agents must be >= 1, got {agents}")
        if rounds < 1:
            fail(f"--rounds must be >= 1, got {rounds}")
        if hosts is not None and hosts < 1:
            fail(f"--hosts must be >= 1, got {hosts}")
        if player not in ("sim", "dummy"):
            fail(f"--player must be sim or dummy, got {player!r}")
        if wait not in ("agent", "coroutine", "batch"):
            fail(f"--wait must be agent, coroutine or batch, got {wait!r}")
        if record not in ("auto", "full", "sample"):
            fail(f"--record must be auto, full or sample, got {record!r}")
        sim = guess_two_thirds(
            agents,
            rounds,
            player=player,  # type: ignore[arg-type]
            latency=latency,
            wait=wait,  # type: ignore[arg-type]
            seed=seed,
            hosts=hosts,
            record=record,
            sample_rate=sample_rate,
        )
        result = _run(sim, agents, rounds, quiet=as_json)
        if as_json:
            emit(json.dumps(_payload(result, player)))
    if not as_json:
        _show(result)


def _run(sim: Any, agents: int, rounds: int, *, quiet: bool) -> SimulationResult:
    progress = progress_bar("{task.description}", quiet=quiet)
    with progress:
        bar = progress.add_task(f"placing {agents:,} agents", total=rounds)

        def started(seconds: float) -> None:
            progress.update(bar, description=f"rounds (placed in {seconds:.1f} s)")

        def advanced(report: RoundReport) -> None:
            progress.update(bar, completed=report.round + 1)

        result: SimulationResult = sim.run(advanced, on_start=started)
        return result


def _payload(result: SimulationResult, player: str) -> dict[str, Any]:
    return {
        "agents": result.agents,
        "rounds": result.rounds,
        "hosts": result.hosts,
        "player": player,
        "seed": result.seed,
        "startup_s": result.startup_s,
        "per_round_s": result.per_round_s,
        "messages": result.messages,
        "messages_per_s": result.messages_per_s,
        "peak_rss_mib": result.peak_rss_mib,
        "averages": averages(result),
        "run_id": result.run_id,
        "timeline": str(result.timeline_path),
        "states": str(result.states_dir),
    }


def _show(result: SimulationResult) -> None:
    table = Table(title=f"guess 2/3 of the average — {result.agents:,} players")
    table.add_column("round", justify="right")
    table.add_column("average", justify="right")
    table.add_column("target", justify="right")
    table.add_column("seconds", justify="right")
    targets = result.column("moderator", "target")
    for rnd, (average, target, seconds) in enumerate(
        zip(averages(result), targets, result.per_round_s, strict=True)
    ):
        table.add_row(str(rnd), _number(average), _number(target), f"{seconds:.3f}")
    console.print(table)
    console.print(
        f"{result.hosts} hosts, placed in {result.startup_s:.2f} s; "
        f"{result.messages:,} messages at {result.messages_per_s:,.0f}/s; "
        f"peak memory {result.peak_rss_mib:,.0f} MiB"
    )
    console.print(f"timeline  {result.timeline_path}")
    console.print(f"states    {result.states_dir}")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
