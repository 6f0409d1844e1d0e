"""Following a run live, cancelling it, and the journal that keeps completed rounds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ekklesia as ek
from ekklesia.core.events import RunCancelled, RunStarted
from ekklesia.runtime.timeline import Timeline

pytestmark = pytest.mark.usefixtures("ray_session")


def solvers(n: int = 3, **sim: float) -> list[ek.Agent]:
    return [ek.Agent(f"a{i}", model=ek.SimulatedModel(**sim)) for i in range(n)]


async def test_stream_yields_every_event_as_it_is_appended() -> None:
    task = ek.tasks.arithmetic(n=1, seed=0)[0]
    with ek.Swarm(solvers(), rounds=3, stop_on_consensus=False) as swarm:
        streamed = [event async for event in swarm.stream(task)]
        recorded = Timeline.load(streamed[0].run_id)
    assert [e.seq for e in streamed] == list(range(len(streamed)))
    assert streamed[0].kind == "run_started" and streamed[-1].kind == "run_finished"
    assert [e.model_dump() for e in streamed] == [e.model_dump() for e in recorded.events]


async def test_cancelling_a_run_ends_it_cleanly_with_its_timeline() -> None:
    slow = solvers(latency_s=0.5)
    with ek.Swarm(slow, rounds=5, stop_on_consensus=False) as swarm:
        started: list[str] = []
        run = asyncio.ensure_future(
            swarm.arun(
                ek.Task.of("What is 2+2?", "4"),
                on_event=lambda e: started.append(e.run_id) if isinstance(e, RunStarted) else None,
            )
        )
        while not started:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.8)  # inside the second or third round
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        timeline = Timeline.load(started[0])
        assert timeline.status == "cancelled" and isinstance(timeline.events[-1], RunCancelled)
        assert timeline.path is not None and timeline.path.suffix == ".parquet"
        # the hosts were not left stepping: the next run on them starts at once and finishes
        again = await swarm.arun(ek.Task.of("What is 2+2?", "4"))
        assert again.rounds == 5


async def test_leaving_a_stream_early_cancels_the_run() -> None:
    with ek.Swarm(solvers(latency_s=0.2), rounds=5, stop_on_consensus=False) as swarm:
        stream = swarm.stream(ek.Task.of("What is 2+2?", "4"))
        first = await anext(stream)
        await stream.aclose()
    timeline = Timeline.load(first.run_id)
    assert timeline.status == "cancelled"


def test_a_killed_run_keeps_its_completed_rounds(ekklesia_home: Path) -> None:
    """A run killed mid-way leaves its journal: `timeline show` reads it and says it died."""
    script = (
        "import ekklesia as ek\n"
        "agents = [ek.Agent(f'a{i}', model=ek.SimulatedModel(latency_s=0.4)) for i in range(2)]\n"
        "with ek.Swarm(agents, rounds=50, stop_on_consensus=False) as swarm:\n"
        "    swarm.run(ek.Task.of('What is 2+2?', '4'))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    journal: list[Path] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        journal = list((ekklesia_home / "timelines").glob("*.jsonl"))
        if journal and journal[0].read_text().count('"round_started"') >= 3:
            break
        time.sleep(0.2)
    assert journal, "the run never wrote its journal"
    run_id = journal[0].stem
    assert Timeline.load(run_id).status == "running"
    child.kill()
    child.wait(timeout=30)
    timeline = Timeline.load(run_id)
    assert timeline.status == "died"
    rounds = [e for e in timeline.events if e.kind == "round_started"]
    assert len(rounds) >= 3 and run_id in Timeline.list_runs()
    shown = subprocess.run(
        [sys.executable, "-m", "ekklesia", "timeline", "show", run_id],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "died before it finished" in shown.stdout and "round 3" in shown.stdout
