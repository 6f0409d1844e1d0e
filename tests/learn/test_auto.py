"""``strategy="auto"``: a swarm or run_pattern asks the persisted learner which strategy to run."""

import asyncio
import json
from pathlib import Path

import pytest

import ekklesia as ek
from ekklesia.core.events import StrategyChosen
from ekklesia.learn import PatternLearner, alearn
from ekklesia.runtime.timeline import Timeline

STRATEGIES = {
    "strategies": [
        {"name": "pair", "agents": 2, "rounds": 1, "model": "sim:skill=0.7"},
        {
            "name": "solo",
            "agents": 1,
            "rounds": 1,
            "graph": "independent",
            "model": "sim:skill=0.7",
        },
    ],
    "objective": "accuracy - 100 * usd",
}


def test_without_a_learner_auto_says_how_to_start_one() -> None:
    swarm = ek.Swarm([ek.Agent("a", model=ek.SimulatedModel())], rounds=1)
    task = ek.tasks.arithmetic(n=1)[0]
    with pytest.raises(ek.UserError, match="no learner knows tasks of kind 'arithmetic'"):
        swarm.run(task, strategy="auto")
    with pytest.raises(ek.SpecError, match="strategy must be 'auto'"):
        swarm.run(task, strategy="best")


@pytest.mark.usefixtures("ray_session")
def test_auto_runs_the_learners_choice_and_teaches_it() -> None:
    PatternLearner(STRATEGIES, suite="arithmetic", seed=5).save()
    tasks = ek.tasks.arithmetic(n=3, seed=5)
    with ek.Swarm([ek.Agent("a", model=ek.SimulatedModel())], rounds=1) as swarm:
        results = swarm.run_many(tasks[:2], strategy="auto")
    report = ek.run_pattern("auto", tasks[2:], strategy="auto")
    learner = PatternLearner.load()
    assert learner.runs == 3
    ran = [*results, *report.results]
    for logged, result in zip(learner.state.log, ran, strict=True):
        (chosen,) = result.timeline.of_kind(StrategyChosen)
        assert chosen.strategy == logged.strategy and logged.record.run_id == result.run_id
        agents = result.timeline.started.spec["agents"]
        assert len(agents) == (2 if logged.strategy == "pair" else 1)
    # the same seed and log give the same choices as a learner fed the same way by hand
    assert learner.choices == [
        c.strategy for c in map(lambda r: r.timeline.of_kind(StrategyChosen)[0], ran)
    ]


@pytest.mark.usefixtures("ray_session")
def test_auto_runs_side_by_side_and_a_learn_loop_add_to_one_learner(tmp_path: Path) -> None:
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(STRATEGIES))
    PatternLearner(STRATEGIES, suite="arithmetic", seed=5).save()
    tasks = ek.tasks.arithmetic(n=4, seed=9)

    async def together() -> tuple[list[ek.RunResult], dict[str, object]]:
        with (
            ek.Swarm([ek.Agent("a", model=ek.SimulatedModel())], rounds=1) as one,
            ek.Swarm([ek.Agent("b", model=ek.SimulatedModel())], rounds=1) as two,
        ):
            first, second, learned = await asyncio.gather(
                one.arun_many(tasks[:2], strategy="auto"),
                two.arun_many(tasks[2:], strategy="auto"),
                alearn(path, suite="arithmetic", runs=6, seed=5),
            )
        return [*first, *second], learned

    ran, learned = asyncio.run(together())
    log = PatternLearner.load().state.log
    # every run of every client learned from exactly once, under its own decision
    assert len(log) == len(Timeline.list_runs()) >= 6
    assert sorted(logged.decision for logged in log) == list(range(len(log)))
    assert {r.run_id for r in ran} <= {logged.record.run_id for logged in log}
    for logged in log:
        (chosen,) = Timeline.load(logged.record.run_id).of_kind(StrategyChosen)
        assert (chosen.decision, chosen.strategy) == (logged.decision, logged.strategy)
    choices = learned["choices"]
    assert isinstance(choices, list) and choices == [x.strategy for x in log][: len(choices)]
