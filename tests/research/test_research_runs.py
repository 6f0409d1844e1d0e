"""How deep a research run goes (the planner's prompt and the searches it leads to), and the
determinism and replay of a run, on one swarm so that the default suite pays for one host."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from ekklesia.core.events import MessageSent, ModelCalled, ToolCalled
from ekklesia.research.corpus import Corpus
from ekklesia.research.patterns import DEPTHS, RESEARCH_PATTERNS, ResearchOptions
from ekklesia.research.run import read_report, research_spec, research_task
from ekklesia.runtime.engine import RunResult
from ekklesia.runtime.replay import ReplayReport
from ekklesia.runtime.timeline import Timeline
from ekklesia.swarm import Swarm


@pytest.mark.parametrize("name", sorted(RESEARCH_PATTERNS))
def test_depth_sets_how_many_sub_questions_the_plan_stage_asks_for(name: str) -> None:
    pattern = RESEARCH_PATTERNS[name]
    asked = {}
    for depth in DEPTHS:
        configured = pattern.configure(ResearchOptions(depth=depth))
        (plan,) = [s for s in configured.stages if s.name == "plan"]
        asked[depth] = plan.instruction
    assert "at most 2 short sub-questions" in str(asked["quick"])
    assert "at most 3 short sub-questions" in str(asked["balanced"])
    assert "at most 5 short sub-questions" in str(asked["deep"])
    # the registered pattern is untouched: each run configures its own copy
    assert "at most 3" in str(next(s for s in pattern.stages if s.name == "plan").instruction)
    spec = research_spec(pattern=name, depth="deep")
    assert spec.options == {"depth": "deep"} and spec.pattern == name


def events_of(result: RunResult) -> list[object]:
    return list(result.timeline.events)


def _searched(result: RunResult) -> list[str]:
    (call,) = [
        e
        for e in result.timeline.events
        if isinstance(e, ToolCalled) and e.agent == "researcher" and e.tool == "web_search"
    ]
    return list(call.arguments["queries"])


def _plan(result: RunResult) -> list[str]:
    said = [
        e.message.content
        for e in result.timeline.events
        if isinstance(e, MessageSent) and e.message.sender == "planner"
    ]
    return said[0].splitlines()


@pytest.mark.slow  # two swarms, two hosts to start; the plan prompt itself is checked above
def test_depth_reaches_the_planner_and_the_searches(
    ray_session: None, home_with_index: Path, small_corpus: Corpus
) -> None:
    # a question over three organisations: quick plans two of them, deep adds their other facts
    question = next(q for q in small_corpus.questions if len(q.facts) == 3)
    task = next(t for t in small_corpus.tasks() if t.id == question.id)

    async def at(depth: str) -> RunResult:
        with Swarm.from_spec(research_spec(model="sim:skill=1", depth=depth, seed=1)) as swarm:
            return await swarm.arun(research_task(task, depth=depth, mode="text"))

    async def both() -> list[RunResult]:  # side by side: each swarm starts a host of its own
        return list(await asyncio.gather(at("quick"), at("deep")))

    results = dict(zip(("quick", "deep"), asyncio.run(both()), strict=True))
    quick, deep = _plan(results["quick"]), _plan(results["deep"])
    assert len(quick) == 2 and len(deep) == 5
    assert quick == [f"{i}. {q}" for i, q in enumerate(question.subquestions[:2], 1)]
    assert deep[:3] == [f"{i}. {q}" for i, q in enumerate(question.subquestions, 1)]
    assert len(_searched(results["quick"])) == 1 + 2  # the question and each sub-question
    assert len(_searched(results["deep"])) == 1 + 5
    assert read_report(results["deep"], task.prompt).answer == task.expected


def test_the_same_seed_gives_the_same_timeline_and_replays_without_calls(
    ray_session: None, home_with_index: Path, small_corpus: Corpus
) -> None:
    task = research_task(small_corpus.tasks()[1], mode="text")

    async def record_twice_and_replay() -> tuple[RunResult, RunResult, RunResult]:
        with Swarm.from_spec(research_spec(model="sim:skill=0.6", seed=7)) as swarm:
            first = await swarm.arun(task)
            second = await swarm.arun(task)
            # with the index gone, any search the replay made would fail and change its timeline
            shutil.rmtree(home_with_index / "memory")
            replayed = await swarm.arun(task, replay=Timeline.load(first.run_id))
        return first, second, replayed

    first, second, replayed = asyncio.run(record_twice_and_replay())
    assert first.run_id != second.run_id
    events = first.timeline.fingerprint()
    assert len(events) > 10
    assert second.timeline.fingerprint() == events  # event by event, wall times aside
    assert ReplayReport.compare(first.timeline, replayed.timeline, outcome_matches=True).identical
    assert any(isinstance(e, ModelCalled) for e in events_of(first))
    original, again = (read_report(r, task.prompt) for r in (first, replayed))
    assert again.report == original.report and again.claims == original.claims
    assert again.sources == original.sources and again.confidence == original.confidence
