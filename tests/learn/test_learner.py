"""The learner: Thompson sampling that is seeded, logged in the timelines, and restartable."""

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.core.events import StrategyChosen
from ekklesia.learn import PatternLearner, Runner, RunRecord, learn, load_strategies
from ekklesia.learn.bandit import Posterior, exploration
from ekklesia.learn.learner import Decision, SharedLearner, reset_learners
from ekklesia.learn.report import pareto_front
from ekklesia.runtime.timeline import Timeline

runner = CliRunner()

CLEAR_WINNER = {
    "strategies": [
        {
            "name": "weak",
            "agents": 1,
            "rounds": 1,
            "graph": "independent",
            "model": "sim:skill=0.2",
        },
        {
            "name": "strong",
            "agents": 1,
            "rounds": 1,
            "graph": "independent",
            "model": "sim:skill=0.95",
        },
    ],
    "objective": "accuracy",
}


def record(strategy: str, i: int, correct: bool, usd: float = 0.0) -> RunRecord:
    return RunRecord(
        strategy=strategy, digest="d", task_id=f"t{i}", seed=0, run_id=f"r{i}", answer=None,
        correct=correct, score=None, usd=usd, tokens=0, rounds=1, stop_reason="max_rounds",
    )  # fmt: skip


def feed(learner: PatternLearner, outcomes: dict[str, float], n: int) -> list[str]:
    """Outcomes that depend only on the strategy (a known world), to test the bandit alone."""
    for i in range(n):
        choice = learner.choose()
        right = (i * 7919 % 100) / 100 < outcomes[choice.strategy]
        learner.update(choice, record(choice.strategy, i, right))
    return learner.choices


def test_the_same_seed_and_log_give_the_same_choices(tmp_path: Path) -> None:
    world = {"weak": 0.3, "strong": 0.8}
    a = feed(PatternLearner(CLEAR_WINNER, seed=3, home=tmp_path / "a"), world, 40)
    b = feed(PatternLearner(CLEAR_WINNER, seed=3, home=tmp_path / "b"), world, 40)
    c = feed(PatternLearner(CLEAR_WINNER, seed=4, home=tmp_path / "c"), world, 40)
    assert a == b and a != c
    assert a[-20:].count("strong") >= 15  # most runs on the winner well within 100 runs


def test_a_restarted_learner_continues_where_it_was(tmp_path: Path) -> None:
    world = {"weak": 0.3, "strong": 0.8}
    whole = feed(PatternLearner(CLEAR_WINNER, seed=1, home=tmp_path / "whole"), world, 30)
    first = PatternLearner(CLEAR_WINNER, seed=1, home=tmp_path / "split")
    feed(first, world, 12)
    again = PatternLearner(CLEAR_WINNER, seed=1, home=tmp_path / "split")
    assert again.runs == 12
    for i in range(12, 30):
        choice = again.choose()
        right = (i * 7919 % 100) / 100 < world[choice.strategy]
        again.update(choice, record(choice.strategy, i, right))
    assert again.choices == whole
    with pytest.raises(ek.SpecError, match="another objective"):
        PatternLearner({**CLEAR_WINNER, "objective": "score"}, seed=1, home=tmp_path / "split")


def test_propensities_sum_to_one_and_never_vanish(tmp_path: Path) -> None:
    learner = PatternLearner(CLEAR_WINNER, home=tmp_path)
    feed(learner, {"weak": 0.0, "strong": 1.0}, 60)
    for logged in learner.state.log:
        assert sum(logged.propensities.values()) == pytest.approx(1.0)
        floor = exploration(logged.decision) / 2
        assert min(logged.propensities.values()) >= floor - 1e-12
        assert logged.propensity == logged.propensities[logged.strategy]
    assert learner.state.log[-1].propensities["strong"] > 0.95


def test_a_cheap_strategy_wins_when_it_is_as_good(tmp_path: Path) -> None:
    costly = {
        "strategies": [
            {"name": "dear", "model": "sim:skill=0.9"},
            {"name": "cheap", "model": "sim:skill=0.9", "agents": 1},
        ],
        "objective": "accuracy - 200 * usd",
    }
    learner = PatternLearner(costly, home=tmp_path)
    for i in range(40):
        choice = learner.choose()
        right = (i * 7919 % 100) / 100 < 0.9
        usd = 0.002 if choice.strategy == "dear" else 0.0005
        learner.update(choice, record(choice.strategy, i, right, usd))
    assert learner.best() == "cheap"
    assert learner.choices[-15:].count("cheap") >= 12


def test_the_pareto_front_keeps_what_nothing_beats() -> None:
    points = {"a": (0.9, 3.0), "b": (0.8, 1.0), "c": (0.7, 2.0), "d": (0.9, 4.0), "e": (0.5, 0.5)}
    assert pareto_front(points) == ["e", "b", "a"]


def test_the_posterior_interval_narrows_around_the_mean() -> None:
    wide, narrow = Posterior(), Posterior()
    for i in range(4):
        wide = wide.add(float(i % 2))
    for i in range(100):
        narrow = narrow.add(float(i % 2))
    (lo1, hi1), (lo2, hi2) = wide.interval() or (0, 0), narrow.interval() or (0, 0)
    assert lo1 < lo2 < 0.5 < hi2 < hi1
    assert narrow.mean == pytest.approx(0.5, abs=0.01)


@pytest.mark.usefixtures("ray_session")
def test_learn_records_choices_in_timelines_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(CLEAR_WINNER))
    with Runner() as warm:  # one set of hosts for the learner stopped after 4 runs and restarted
        first = learn(path, runs=4, seed=2, runner=warm)
        assert len(first["choices"]) == 4
        report = learn(path, runs=12, seed=2, runner=warm)
    assert report == learn(path, runs=12, seed=2)  # nothing left to run: the state, as saved
    assert set(report) == {"best", "estimates", "choices", "cumulative_regret"}
    assert report["choices"][:4] == first["choices"] and len(report["choices"]) == 12
    assert report["best"] == "strong"
    assert sum(e["runs"] for e in report["estimates"].values()) == 12
    regret = report["cumulative_regret"]
    assert len(regret) == 12 and all(b >= a for a, b in itertools.pairwise(regret))
    lo, hi = report["estimates"]["strong"]["ci"]
    assert lo <= report["estimates"]["strong"]["mean"] <= hi

    learner = PatternLearner.load()
    runs = Timeline.list_runs()
    assert len(runs) == 12
    for logged in learner.state.log:
        timeline = Timeline.load(logged.record.run_id)
        (chosen,) = timeline.of_kind(StrategyChosen)
        assert (chosen.strategy, chosen.decision) == (logged.strategy, logged.decision)
        assert chosen.propensity == logged.propensity and chosen.propensities == logged.propensities
        assert timeline.events[1] == chosen  # right after run_started
    replayed = ek.replay(learner.state.log[-1].record.run_id)
    assert replayed.identical

    estimated = runner.invoke(app, ["learn", "estimate", "strong", "--json"])
    assert estimated.exit_code == 0, estimated.output
    found = json.loads(estimated.stdout)
    assert found["runs"] == 12 and found["chosen"] == report["estimates"]["strong"]["runs"]
    assert found["ci"][0] <= found["dr"] <= found["ci"][1] and found["ess"] > 0
    refused = runner.invoke(app, ["learn", "estimate", "nobody"])
    assert refused.exit_code == 2 and "'nobody' was not a candidate" in refused.output

    reported = runner.invoke(app, ["learn", "report", "--out", str(tmp_path / "r.html")])
    assert reported.exit_code == 0, reported.output
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 3 and "<script" not in page and "cumulative regret" in page
    assert "Pareto front" in page and "strong" in page

    shown = runner.invoke(app, ["learn", str(path), "--runs", "12", "--seed", "2", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == report

    status = runner.invoke(app, ["learn", "status", "--json"])
    assert status.exit_code == 0, status.output
    (state,) = json.loads(status.stdout)["learners"]
    assert state["runs"] == 12 and state["best"] == "strong"
    reset = runner.invoke(app, ["learn", "reset"])
    assert reset.exit_code == 0 and "cleared default" in reset.stdout
    assert json.loads(runner.invoke(app, ["learn", "status", "--json"]).stdout) == {"learners": []}
    refused = runner.invoke(app, ["learn", "status", "--name", "nobody"])
    assert refused.exit_code == 2 and "no learner named 'nobody'" in refused.output


@pytest.mark.usefixtures("ray_session")
def test_the_shared_actor_sees_other_writers_and_is_replaced_after_a_reset() -> None:
    shared = SharedLearner(load_strategies(CLEAR_WINNER), suite="arithmetic", seed=0)

    async def teach(learner: SharedLearner) -> None:
        decision: Decision = await learner.call("decide")
        done = record(decision.strategy.name, decision.choice.decision, True)
        await learner.call("update", decision.choice, done)

    asyncio.run(teach(shared))
    here = PatternLearner(CLEAR_WINNER)  # another process's learner, writing the same state
    choice = here.choose()
    assert choice.decision == 1
    here.update(choice, record(choice.strategy, 1, False))
    assert asyncio.run(shared.call("ping")) == 2  # the actor took the state on disk again
    asyncio.run(teach(shared))
    assert [x.decision for x in PatternLearner.load().state.log] == [0, 1, 2]

    scored = SharedLearner(
        load_strategies({**CLEAR_WINNER, "objective": "score"}), suite="arithmetic", seed=0
    )
    with pytest.raises(ek.SpecError, match="running in this cluster with other strategies"):
        asyncio.run(scored.call("ping"))
    reset_learners()
    assert asyncio.run(scored.call("ping")) == 0  # the old actor gave way to this learner
    assert asyncio.run(scored.call("identity"))[2] == "score"
