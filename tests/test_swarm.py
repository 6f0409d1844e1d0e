"""The Swarm against the real runtime: Ray hosts, rounds, timelines on disk."""

import asyncio
from typing import Any

import pytest

import ekklesia as ek
from ekklesia.core.events import AgentFailed, CallRefused, MessageSent, ModelCalled, RoundStarted

pytestmark = pytest.mark.usefixtures("ray_session")


def solvers(n: int = 3, max_tokens: int = 512, **sim: Any) -> list[ek.Agent]:
    model = ek.SimulatedModel(**sim)
    return [ek.Agent(f"a{i}", model=model, max_tokens=max_tokens) for i in range(n)]


def test_the_readme_example_runs() -> None:
    swarm = ek.Swarm(
        agents=[
            ek.Agent(f"a{i}", role="solver", model=ek.SimulatedModel(skill=0.67)) for i in range(3)
        ],
        graph="complete",
        rounds=2,
        aggregate="majority",
        seed=0,
        budget=ek.Budget(max_usd=1.0),
    )
    with swarm:
        result = swarm.run(ek.tasks.arithmetic(n=1, seed=0)[0])
    assert result.expected == "246"
    assert result.correct == (result.answer == "246")
    assert result.stop_reason in ("max_rounds", "consensus")
    assert 0 < result.usage.usd < 1.0 and result.usage.calls == 3 * result.rounds
    assert result.timeline.path == result.timeline_path and result.timeline_path.exists()
    assert ek.Timeline.load(result.run_id).events == result.timeline.events


def test_same_spec_and_seed_give_the_same_timeline_wherever_agents_are_placed() -> None:
    task = ek.tasks.arithmetic(n=3, seed=4)[2]
    prints = []
    for placement in ("per_agent", "single", 2):
        with ek.Swarm(
            solvers(5, skill=0.5),
            graph="ring",
            rounds=3,
            seed=11,
            placement=placement,
            stop_on_consensus=False,
        ) as swarm:
            prints.append(swarm.run(task).timeline.fingerprint())
    assert all(p == prints[0] for p in prints[1:])
    with ek.Swarm(
        solvers(5, skill=0.5),
        graph="ring",
        rounds=3,
        seed=12,
        placement="single",
        stop_on_consensus=False,
    ) as swarm:
        assert swarm.run(task).timeline.fingerprint() != prints[0]


def test_messages_follow_the_graph() -> None:
    with ek.Swarm(solvers(4, skill=0.0), graph="star", rounds=2, stop_on_consensus=False) as swarm:
        timeline = swarm.run(ek.Task.of("What is 2+2?", "4")).timeline
    sent = [e.message for e in timeline.of_kind(MessageSent) if e.message.kind == "agent"]
    recipients = {m.sender: set(m.recipients) for m in sent if m.round == 0}
    assert recipients == {"a0": {"a1", "a2", "a3"}, "a1": {"a0"}, "a2": {"a0"}, "a3": {"a0"}}
    assert [e.round for e in timeline.of_kind(RoundStarted)] == [0, 1]


def test_consensus_stops_early_and_max_rounds_otherwise() -> None:
    task = ek.Task.of("What is 2+2?", "4")
    with ek.Swarm(solvers(3, skill=1.0), rounds=3) as swarm:
        result = swarm.run(task)
    assert (result.stop_reason, result.rounds, result.answer, result.correct) == (
        "consensus",
        1,
        "4",
        True,
    )
    with ek.Swarm(solvers(3, skill=1.0), rounds=3, stop_on_consensus=False) as swarm:
        assert swarm.run(task).rounds == 3


def test_a_budget_stops_the_run_cleanly_with_its_timeline_intact() -> None:
    task = ek.tasks.arithmetic(n=1)[0]
    with ek.Swarm(
        solvers(3, skill=0.0), rounds=5, stop_on_consensus=False, placement="single"
    ) as swarm:
        full = swarm.run(task)
        stopped_midway = 0
        for fraction in (0.4, 0.6, 0.8, 1.0):
            budget = ek.Budget(max_usd=full.usage.usd * fraction)
            agents = solvers(3, max_tokens=100, skill=0.0)  # a tight worst case per call
            limited = ek.Swarm(
                agents, rounds=5, budget=budget, stop_on_consensus=False, placement="single"
            )
            with limited:
                result = limited.run(task)
            assert result.stop_reason == "budget"  # reservations are worst cases, so even 1.0 stops
            assert result.usage.usd <= full.usage.usd * fraction
            timeline = ek.Timeline.load(result.run_id)
            assert timeline.finished is not None and timeline.finished.stop_reason == "budget"
            assert len(timeline.of_kind(ModelCalled)) == 3 * result.rounds
            stopped_midway += 0 < result.rounds < 5
        assert stopped_midway >= 2
    with ek.Swarm(solvers(3), budget=ek.Budget(max_tokens=10), placement="single") as swarm:
        nothing = swarm.run(task)
    assert (nothing.stop_reason, nothing.rounds, nothing.answer, nothing.correct) == (
        "budget",
        0,
        None,
        False,
    )


def test_calls_beyond_an_agents_allowance_are_refused_and_recorded() -> None:
    class Chatty(ek.Agent):
        async def step(self, inbox: Any, ctx: ek.StepContext) -> list[ek.Utterance]:
            replies = []
            for _ in range(3):  # the round reserved room for one call only
                replies.append(
                    await ctx.complete(
                        ek.LLMRequest(
                            messages=(ek.ChatTurn(role="user", content="hi " * 50),), max_tokens=400
                        )
                    )
                )
            return [ek.Utterance(content=replies[0].text, answer="1")]

    agent = Chatty("chatty", model=ek.SimulatedModel(), max_tokens=400)
    with ek.Swarm([agent], rounds=1, budget=ek.Budget(max_tokens=2000)) as swarm:
        timeline = swarm.run(ek.Task.of("say hi")).timeline
    assert len(timeline.of_kind(ModelCalled)) >= 1
    refused = timeline.of_kind(CallRefused)
    assert refused and all("budget" in r.reason for r in refused)


def test_failures_of_models_and_agents_are_recorded_and_the_run_goes_on() -> None:
    def flaky(request: ek.LLMRequest) -> str:
        if request.agent == "a1":
            raise TimeoutError("provider timed out")
        return "Answer: 4"

    class Buggy(ek.Agent):
        async def step(self, inbox: Any, ctx: ek.StepContext) -> list[ek.Utterance]:
            raise KeyError("oops")

    agents = [
        ek.Agent("a0", model=ek.FunctionModel(flaky)),
        ek.Agent("a1", model=ek.FunctionModel(flaky)),
        Buggy("a2"),
    ]
    with ek.Swarm(agents, rounds=2) as swarm:
        result = swarm.run(ek.Task.of("2+2?", "4"))
    failed = {e.agent: e.error for e in result.timeline.of_kind(AgentFailed)}
    assert "provider timed out" in failed["a1"] and "oops" in failed["a2"]
    calls = {e.agent: e.response for e in result.timeline.of_kind(ModelCalled)}
    assert calls["a1"].error and calls["a0"].ok
    assert (result.answer, result.correct) == ("4", True)


def test_judge_and_confidence_aggregation() -> None:
    task = ek.Task.of("What is 6*7?", "42")
    judge = ek.Agent("judge", role="judge", model=ek.SimulatedModel(skill=1.0, conformity=0.0))
    with ek.Swarm(
        [*solvers(3, skill=0.0), judge], rounds=1, aggregate="judge", placement="single"
    ) as swarm:
        result = swarm.run(task)
    assert result.answer == "42" and result.correct
    assert "judge" not in result.final_answers
    calls = [e.agent for e in result.timeline.of_kind(ModelCalled)]
    assert calls.count("judge") == 1

    def sure(request: ek.LLMRequest) -> str:
        return (
            "Answer: 42\nConfidence: 0.95"
            if request.agent == "a0"
            else "Answer: 41\nConfidence: 0.2"
        )

    agents = [ek.Agent(f"a{i}", model=ek.FunctionModel(sure)) for i in range(3)]
    with ek.Swarm(agents, rounds=1, aggregate="confidence", placement="single") as swarm:
        assert swarm.run(task).answer == "42"
    with ek.Swarm(agents, rounds=1, aggregate="majority", placement="single") as swarm:
        assert swarm.run(task).answer == "41"


def test_hosts_are_reused_across_runs_and_async_use() -> None:
    swarm = ek.Swarm(solvers(3), rounds=1)
    try:
        swarm.run(ek.Task.of("1+1?", "2"))
        handles = dict(swarm._pool.handles)  # type: ignore[union-attr]
        results = swarm.run_many(ek.tasks.arithmetic(n=3))
        assert swarm._pool.handles == handles  # type: ignore[union-attr]
        assert len({r.run_id for r in results}) == 3

        async def inside_a_loop() -> ek.RunResult:
            with pytest.raises(ek.UserError, match="arun"):
                swarm.run("1+1?")
            return await swarm.arun("1+1?")

        assert asyncio.run(inside_a_loop()).task_id == "task"
    finally:
        swarm.close()


def test_replay_reproduces_a_run_without_model_calls_and_detects_tampering() -> None:
    calls = 0

    def counting(request: ek.LLMRequest) -> str:
        nonlocal calls
        calls += 1
        return f"Answer: {4 if request.agent != 'a2' else 5}"

    agents = [ek.Agent(f"a{i}", model=ek.FunctionModel(counting)) for i in range(3)]
    with ek.Swarm(agents, rounds=2, stop_on_consensus=False) as swarm:
        result = swarm.run(ek.Task.of("2+2?", "4"))
    report = ek.replay(result.run_id)
    assert report.identical, report
    # the function model ran in the host actors, never here; a replay calls no model at all
    assert calls == 0

    timeline = ek.Timeline.load(result.run_id)
    i = next(
        i for i, e in enumerate(timeline.events) if isinstance(e, ModelCalled) and e.round == 1
    )
    event = timeline.events[i]
    timeline.events[i] = event.model_copy(
        update={"response": event.response.model_copy(update={"text": "Answer: 9"})}
    )
    timeline.write()
    tampered = ek.replay(result.run_id)
    assert not tampered.identical and tampered.first_difference is not None


def test_a_usd_budget_refuses_models_of_unknown_price_up_front() -> None:
    unpriced = ek.SimulatedModel(price_as="acme/unknown-model")
    with pytest.raises(ek.SpecError, match=r"unknown price.*a0"):
        ek.Swarm([ek.Agent("a0", model=unpriced)], rounds=1, budget=ek.Budget(max_usd=1.0))
    ek.Swarm([ek.Agent("a0", model=unpriced)], rounds=1, budget=ek.Budget(max_tokens=1000))
