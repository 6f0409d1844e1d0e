"""Re-scoring from the record equals re-executing, for every post-hoc pair; the rest is refused.

Each pair records runs of one strategy, computes another strategy's outcome from those timelines
alone, runs that other strategy for real on the same tasks with the same seed, and compares the
whole record: answer, correctness, score, rounds, stop reason, tokens and USD.
"""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.learn import Runner, Strategy, load_strategies
from ekklesia.learn.rescore import NotPostHoc, arescore_run
from ekklesia.runtime.timeline import Timeline
from ekklesia.tasks import arithmetic

runner = CliRunner()
MODEL = "sim:skill=0.45,conformity=0.4"
TASKS = arithmetic(n=6, seed=3)
SEED = 7
COMPARED = ("answer", "correct", "score", "rounds", "stop_reason", "tokens", "usd")


def strategy(name: str, **fields: Any) -> Strategy:
    entry = {"name": name, "agents": 3, "model": MODEL, **fields}
    return load_strategies({"strategies": [entry]}).strategies[0]


BASE = {"rounds": 3, "stop_on_consensus": False, "aggregate": "majority"}
JUDGED = {"rounds": 2, "stop_on_consensus": False, "aggregate": "judge"}
STOPPING = {"rounds": 3, "stop_on_consensus": True, "aggregate": "majority"}

#: (recorded, alternative): every kind of post-hoc difference re-scoring supports
PAIRS = {
    "majority->confidence": (BASE, {**BASE, "aggregate": "confidence"}),
    "3->1 rounds": (BASE, {**BASE, "rounds": 1}),
    "3->2 rounds, confidence": (BASE, {**BASE, "rounds": 2, "aggregate": "confidence"}),
    "no stop->consensus stop": (BASE, {**BASE, "stop_on_consensus": True}),
    "confidence->majority": ({**BASE, "aggregate": "confidence"}, BASE),
    "judge->majority": (JUDGED, {**JUDGED, "aggregate": "majority"}),
    "judge->confidence, 1 round": (JUDGED, {**JUDGED, "aggregate": "confidence", "rounds": 1}),
    "judge->judge, consensus stop": (JUDGED, {**JUDGED, "stop_on_consensus": True}),
    "consensus stop, 3->2 rounds": (STOPPING, {**STOPPING, "rounds": 2}),
    "consensus stop->none": (STOPPING, {**STOPPING, "stop_on_consensus": False}),
    "consensus stop, 3->5 rounds": (STOPPING, {**STOPPING, "rounds": 5}),
}
DEFAULT_RUN = ("no stop->consensus stop", "judge->majority")


async def check_pair(
    recorded: dict[str, Any], alternative: dict[str, Any], running: Runner, n: int = len(TASKS)
) -> tuple[int, int]:
    """(runs re-scored equal to re-execution, runs refused because they need unrecorded rounds)."""
    original, other = strategy("recorded", **recorded), strategy("other", **alternative)
    logged = [await running.run(original, task, SEED) for task in TASKS[:n]]
    truth = [await running.run(other, task, SEED) for task in TASKS[:n]]
    equal = refused = 0
    for log, real in zip(logged, truth, strict=True):
        try:
            rescored = await arescore_run(Timeline.load(log.run_id), other)
        except NotPostHoc as exc:
            # only a record that stopped too soon for the alternative may be refused
            assert "needs round" in str(exc) or "never read" in str(exc), exc
            assert real.rounds > log.rounds or real.stop_reason != log.stop_reason
            refused += 1
            continue
        assert {k: getattr(rescored, k) for k in COMPARED} == {
            k: getattr(real, k) for k in COMPARED
        }
        equal += 1
    return equal, refused


@pytest.mark.usefixtures("ray_session")
async def test_rescoring_equals_re_execution() -> None:
    with Runner() as running:  # the recorded strategies' hosts serve the pairs they share
        for pair in DEFAULT_RUN:
            equal, _ = await check_pair(*PAIRS[pair], running, n=4)
            assert equal >= 3, pair


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("pair", sorted(set(PAIRS) - set(DEFAULT_RUN)))
async def test_rescoring_equals_re_execution_for_every_pair(pair: str) -> None:
    with Runner() as running:
        equal, refused = await check_pair(*PAIRS[pair], running)
    assert equal >= 1 and equal + refused == len(TASKS)


@pytest.mark.usefixtures("ray_session")
def test_what_is_not_post_hoc_is_refused_naming_why(tmp_path: Path) -> None:
    original = strategy("recorded", **BASE)
    with Runner() as running:
        log = asyncio.run(running.run(original, TASKS[0], SEED))
    timeline = Timeline.load(log.run_id)
    refusals = {
        "model": (strategy("x", **BASE, model="sim:skill=0.9"), "'agents'"),
        "graph": (strategy("x", **BASE, graph="ring"), "'graph'"),
        "judge": (strategy("x", **{**BASE, "aggregate": "judge"}), "has a judge"),
        "budget": (strategy("x", **BASE, budget={"max_tokens": 10**6}), "'budget'"),
        "more rounds": (strategy("x", **{**BASE, "rounds": 4}), "needs round 4"),
    }
    for alternative, reason in refusals.values():
        with pytest.raises(NotPostHoc, match=reason):
            asyncio.run(arescore_run(timeline, alternative))

    path = tmp_path / "as.yaml"
    path.write_text(
        json.dumps(
            {
                "strategies": [
                    {
                        "name": "conf",
                        "agents": 3,
                        "model": MODEL,
                        **BASE,
                        "aggregate": "confidence",
                    },
                    {"name": "ring", "agents": 3, "model": MODEL, **BASE, "graph": "ring"},
                ]
            }
        )
    )
    result = runner.invoke(
        app, ["learn", "rescore", "--from", log.run_id, "--as", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    by_name = {s["name"]: s for s in out["strategies"]}
    assert by_name["conf"]["runs"] == 1 and by_name["conf"]["refused"] == 0
    assert by_name["ring"]["runs"] == 0 and "'graph'" in by_name["ring"]["reason"]
    only_ring = tmp_path / "ring.yaml"
    only_ring.write_text(
        json.dumps({"strategies": [json.loads(path.read_text())["strategies"][1]]})
    )
    refused = runner.invoke(app, ["learn", "rescore", "--from", log.run_id, "--as", str(only_ring)])
    assert refused.exit_code == 2 and "ring: differs from the record in 'graph'" in refused.output
