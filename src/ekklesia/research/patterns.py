"""The ``research`` pattern, and ``research_single`` (one researcher, nobody checks) to compare.

============== ======================================================= =========================
pattern        stages (who hears whom)                                 final answer
============== ======================================================= =========================
research       plan → search (hears plan) → check (hears search)       the writer's report
               → write (hears search, check)
research_single plan → search (hears plan) → write (hears search)      the writer's report
============== ======================================================= =========================

Both aggregate ``last``: the run's answer is the writer's whole report. The scorer, for tasks of
the generated corpus (:mod:`ekklesia.research.corpus`), is 1.0 when the report's answer is the
gold one.

Their one option, ``depth`` (:class:`ResearchOptions`; ``quick``, ``balanced`` or ``deep``), sets
how many sub-questions the plan stage asks the planner for (:data:`DEPTHS`): a run spec's
``options: {depth: deep}`` changes the prompt a real model gets. The researcher's cap on the
sub-questions it searches and the hits per query travel with the task
(:func:`ekklesia.research.research_task` sets them from the same depth).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ekklesia.core.task import Task
from ekklesia.patterns.agent_spec import AgentSpec
from ekklesia.patterns.library import register_pattern
from ekklesia.patterns.pattern import Pattern, Stage
from ekklesia.research.sources import read_findings

__all__ = [
    "DEPTHS",
    "PLAN",
    "RESEARCH_PATTERNS",
    "Depth",
    "ResearchOptions",
    "ResearchPattern",
    "plan_instruction",
    "score_answer",
]

Depth = Literal["quick", "balanced", "deep"]
#: (sub-questions planned and searched, hits per provider and query) for each depth.
DEPTHS: dict[str, tuple[int, int]] = {"quick": (2, 3), "balanced": (3, 5), "deep": (5, 8)}

PLAN = (
    "Break the research question into at most {n} short sub-questions that can each be answered "
    "by a search, one per line, numbered 1., 2., ... Write nothing else."
)


def plan_instruction(depth: str) -> str:
    """What the plan stage asks of the planner at ``depth``."""
    return PLAN.format(n=DEPTHS[depth][0])


class ResearchOptions(BaseModel):
    """What a research pattern lets a run change: how deep it researches."""

    model_config = ConfigDict(extra="forbid")

    depth: Depth = "balanced"


@dataclass(frozen=True)
class ResearchPattern(Pattern):
    """A research pattern: its plan stage asks for as many sub-questions as the depth says."""

    def configure(self, options: BaseModel | None) -> Pattern:
        depth = getattr(options, "depth", "balanced")
        stages = tuple(
            replace(s, instruction=plan_instruction(depth)) if s.name == "plan" else s
            for s in self.stages
        )
        return replace(self, stages=stages)


_CLASSES = {
    "researcher": "ekklesia.research.team:Researcher",
    "fact_checker": "ekklesia.research.team:FactChecker",
    "writer": "ekklesia.research.team:Writer",
}


def normalise(answer: str) -> str:
    return " ".join(answer.lower().strip().strip(".*`").split())


def score_answer(task: Task, answer: str | None) -> float | None:
    """1.0 when the report's answer is the task's gold answer; ``None`` without one."""
    if task.expected is None:
        return None
    findings = read_findings([answer or ""])
    given = findings.answer if findings is not None else None
    return float(given is not None and normalise(given) == normalise(task.expected))


def _member(role: str) -> AgentSpec:
    tools = ["web_search"] if role in ("researcher", "fact_checker") else []
    return AgentSpec(
        name=role.replace("_", "-"),
        role=role,
        class_=_CLASSES.get(role),
        tools=tools,
        max_tokens=1024,
        temperature=0.2,
    )


def _pattern(name: str, description: str, stages: tuple[Stage, ...]) -> ResearchPattern:
    roles = tuple(dict.fromkeys(r for s in stages for r in s.roles or ()))
    return ResearchPattern(
        name=name,
        description=description,
        stages=stages,
        roles=roles,
        stop_rules=(),
        voters="write",
        aggregations=("last",),
        aggregate="last",
        options=ResearchOptions,
        scorer=score_answer,
        suite="research-corpus",
        team=tuple(_member(role) for role in roles),
    )


_PLAN = Stage("plan", roles=("planner",), hears=(), instruction=plan_instruction("balanced"))
_SEARCH = Stage("search", roles=("researcher",), hears=("plan",))

RESEARCH_PATTERNS: dict[str, ResearchPattern] = {
    p.name: p
    for p in (
        _pattern(
            "research",
            "Plan sub-questions, search every provider in parallel, read the passages into cited "
            "claims, fact-check each claim against the sources, and write a cited report.",
            (
                _PLAN,
                _SEARCH,
                Stage("check", roles=("fact_checker",), hears=("search",)),
                Stage("write", roles=("writer",), hears=("search", "check")),
            ),
        ),
        _pattern(
            "research_single",
            "One researcher plans, searches, reads and writes; nobody checks its claims.",
            (_PLAN, _SEARCH, Stage("write", roles=("writer",), hears=("search",))),
        ),
    )
}

for _pattern_ in RESEARCH_PATTERNS.values():
    register_pattern(_pattern_)
