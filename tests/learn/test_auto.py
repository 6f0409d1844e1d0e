"""``strategy="auto"``: a swarm or run_pattern asks the persisted learner which strategy to run."""

import pytest

import ekklesia as ek
from ekklesia.core.events import StrategyChosen
from ekklesia.learn import PatternLearner

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
