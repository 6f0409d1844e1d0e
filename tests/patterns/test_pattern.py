"""Staged patterns on the real runtime: stages, hearing rules, gates, stop rules, replay."""

from __future__ import annotations

import sys

import pytest
from ray import cloudpickle

import ekklesia as ek
from ekklesia.core.events import GateChecked, StageStarted

pytestmark = pytest.mark.usefixtures("ray_session")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # hosts cannot import test modules

WRITER = ek.Role(name="writer", system_prompt="You write.", output="text")
CRITIC = ek.Role(name="critic", system_prompt="You review.", output="verdict")


def draft(request: ek.LLMRequest) -> str:
    return "Title: T\nbody" if "title" in request.messages[-1].content.lower() else "body"


def approve_titles(request: ek.LLMRequest) -> str:
    text = request.messages[-1].content
    return "ok\nAnswer: approve" if "Title:" in text else "needs a title\nAnswer: revise"


def never_approve(request: ek.LLMRequest) -> str:
    return "needs a title\nAnswer: revise"


def staged(max_revisions: int = 3, on_exhausted: str = "stop") -> ek.Pattern:
    return ek.Pattern(
        name="review-test",
        roles=("writer", "critic"),
        stages=(
            ek.Stage("write", roles=("writer",), hears=("review",), instruction="Fix: {heard}"),
            ek.Stage("review", roles=("critic",), hears=("write",), instruction="Review: {heard}"),
        ),
        gates=(
            ek.Gate(
                "approved",
                check=lambda view: view.answers("critic") == ["approve"],
                revise=("write", "review"),
                max_revisions=max_revisions,
                on_exhausted=on_exhausted,  # type: ignore[arg-type]
            ),
        ),
        stop_rules=(),
        voters="write",
    )


def team(critic_fn: object = approve_titles) -> list[ek.Agent]:
    return [
        ek.Agent("w", role=WRITER, model=ek.FunctionModel(draft)),
        ek.Agent("c", role=CRITIC, model=ek.FunctionModel(critic_fn)),  # type: ignore[arg-type]
    ]


def test_a_failing_gate_runs_the_named_stages_again_until_it_passes() -> None:
    with ek.Swarm(team(), pattern=staged(), rounds=1, aggregate="last") as swarm:
        result = swarm.run(ek.Task.of("Write."))
    events = result.timeline.events
    stages = [(e.stage, e.attempt) for e in events if isinstance(e, StageStarted)]
    assert stages == [("write", 0), ("review", 0), ("write", 1), ("review", 1)]
    assert [e.passed for e in events if isinstance(e, GateChecked)] == [False, True]
    assert result.answer == "Title: T\nbody" and result.stop_reason == "max_rounds"
    # the writer heard the critic, the critic the writer, and nobody else
    sent = [e.message for e in events if e.kind == "message" and e.message.kind == "agent"]
    assert {(m.sender, m.recipients) for m in sent} == {("w", ("c",)), ("c", ("w",))}
    # the revision is a second step of the same round: its calls are numbered after the first
    calls = [(e.agent, e.round, e.call_index) for e in events if e.kind == "model_call"]
    assert calls == [("w", 0, 0), ("c", 0, 0), ("w", 0, 1), ("c", 0, 1)]


def test_an_exhausted_gate_stops_the_run_or_lets_it_go_on() -> None:
    with ek.Swarm(
        team(never_approve), pattern=staged(max_revisions=2), rounds=3, aggregate="last"
    ) as swarm:
        stopped = swarm.run(ek.Task.of("Write."))
    assert stopped.stop_reason == "gate_exhausted" and stopped.rounds == 1
    checks = [e.passed for e in stopped.timeline.events if isinstance(e, GateChecked)]
    assert checks == [False, False, False]
    with ek.Swarm(
        team(never_approve),
        pattern=staged(max_revisions=0, on_exhausted="continue"),
        rounds=2,
        aggregate="last",
    ) as swarm:
        went_on = swarm.run(ek.Task.of("Write."))
    assert went_on.stop_reason == "max_rounds" and went_on.rounds == 2


def test_options_set_the_revision_limit() -> None:
    from pydantic import BaseModel

    class Options(BaseModel):
        max_revisions: int = 3

    pattern = ek.Pattern(**{**staged().__dict__, "options": Options})
    with ek.Swarm(
        team(never_approve),
        pattern=pattern,
        rounds=1,
        aggregate="last",
        options={"max_revisions": 1},
    ) as swarm:
        result = swarm.run(ek.Task.of("Write."))
    assert len(result.timeline.of_kind(GateChecked)) == 2
    with pytest.raises(ek.SpecError):
        ek.Swarm(team(), pattern=pattern, aggregate="last", options={"max_revisions": "x"})


def test_a_swarm_without_a_role_the_pattern_needs_is_refused() -> None:
    with pytest.raises(ek.SpecError, match="missing: critic"):
        ek.Swarm(team()[:1], pattern=staged(), aggregate="last")
    with pytest.raises(ek.SpecError, match="aggregates by"):
        ek.Swarm(team(), pattern=ek.patterns.debate, aggregate="last")


def test_a_revision_that_does_not_fit_the_budget_stops_the_run() -> None:
    agents = [
        ek.Agent("w", role=WRITER, model=ek.SimulatedModel(), max_tokens=64),
        ek.Agent("c", role=CRITIC, model=ek.SimulatedModel(), max_tokens=64),
    ]
    budget = ek.Budget(max_tokens=400)  # the first write and review fit; a revision does not
    with ek.Swarm(agents, pattern=staged(), rounds=1, aggregate="last", budget=budget) as swarm:
        result = swarm.run(ek.Task.of("What is 1+1?"))
    assert result.stop_reason == "budget" and result.rounds == 0
    assert result.usage.total_tokens <= 400


def test_staged_runs_are_the_same_on_any_placement_and_replay_exactly() -> None:
    fingerprints = []
    for placement in ("per_agent", "single"):
        with ek.Swarm(
            team(), pattern=staged(), rounds=2, aggregate="last", placement=placement
        ) as swarm:
            result = swarm.run(ek.Task.of("Write."))
        fingerprints.append(result.timeline.fingerprint())
    assert fingerprints[0] == fingerprints[1]
    ek.register_pattern(staged())
    with ek.Swarm(team(), pattern="review-test", rounds=1, aggregate="last") as swarm:
        result = swarm.run(ek.Task.of("Write."))
    report = ek.replay(result.run_id)
    assert report.identical, report


def test_simulated_agents_step_again_with_fresh_seeds_in_a_revision() -> None:
    """A revision is a second step in the round: seeded apart from the first, so a simulated
    model may answer differently; the first step keeps the debate's seed."""
    from ekklesia.agents.context import StepContext

    base = dict(run_id="r", round=0, agent="a", task=ek.Task.of("x"), seed=0, model=None)
    first = StepContext(**base)  # type: ignore[arg-type]
    again = StepContext(**base, stage="write", attempt=1, salt=("write", 1))  # type: ignore[arg-type]
    assert first.step_seed != again.step_seed
    from ekklesia.core.seeds import stable_seed

    assert first.step_seed == stable_seed(0, "task", "a", 0)  # as every debate round is seeded
