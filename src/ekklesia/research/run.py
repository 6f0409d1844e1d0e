"""``ek.research``: run the research pattern on one question and read its report back.

    report = ek.research("Which was founded first: A or B?", provider="local")
    report.report, report.claims, report.sources, report.confidence, report.to_json()

Providers: ``local`` (the index ``index`` names, default ``default``; resolved here, in the
process that starts the run, and passed to the search tool by folder) and the web providers of
:mod:`ekklesia.connectors.search`, whose base URLs ``endpoints`` may override (a self-hosted proxy,
a local test server). ``depth`` sets how many sub-questions the planner is asked for (the
pattern's ``depth`` option, so the prompt says it) and searched, and how many hits each provider
returns (:data:`DEPTHS`). The model (``sim`` by default) plays every member of the team; ``pattern``
``research_single`` runs one researcher with nobody checking its claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.connectors.search import PROVIDERS
from ekklesia.core.aio import run_sync
from ekklesia.core.events import MessageSent, Usage
from ekklesia.core.task import Task
from ekklesia.errors import UserError
from ekklesia.memory.query import SearchMode
from ekklesia.patterns.spec import RunSpec
from ekklesia.research.patterns import DEPTHS, RESEARCH_PATTERNS
from ekklesia.research.search import PROVIDER_NAMES, local_index
from ekklesia.research.simulated import BEHAVIOUR
from ekklesia.research.sources import Claim, Findings, Source, confidence, read_findings
from ekklesia.runtime.engine import RunResult
from ekklesia.runtime.ledger import Budget
from ekklesia.swarm import Swarm

__all__ = [
    "DEPTHS",
    "ResearchReport",
    "aresearch",
    "read_report",
    "research",
    "research_spec",
    "research_task",
]


class ResearchReport(BaseModel):
    """A research run's report: the Markdown, its claims and sources, the confidence."""

    model_config = ConfigDict(frozen=True)

    question: str
    report: str
    answer: str | None
    claims: tuple[Claim, ...]
    sources: tuple[Source, ...]
    confidence: float
    usage: Usage
    run_id: str
    result: RunResult

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object of ``ekklesia research`` (a contract)."""
        cited = sorted({i for c in self.claims for i in c.citations})
        sources = []
        for source in self.sources:
            if source.id not in cited:
                continue
            row: dict[str, Any] = {"id": source.id}
            row["path" if source.path else "url"] = source.path or source.url
            row.update(title=source.title, passage=source.passage)
            sources.append(row)
        return {
            "report": self.report,
            "claims": [
                {"text": c.text, "verdict": c.verdict, "citations": list(c.citations)}
                for c in self.claims
            ],
            "sources": sources,
            "confidence": self.confidence,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "usd": self.usage.usd,
            },
            "run_id": self.run_id,
        }


def _providers(provider: str | Sequence[str]) -> list[str]:
    chosen = [provider] if isinstance(provider, str) else list(provider)
    if not chosen:
        raise UserError("--provider: name at least one search provider")
    for name in chosen:
        if name not in PROVIDER_NAMES:
            raise UserError(f"--provider must be one of {'|'.join(PROVIDER_NAMES)}, got {name!r}")
    return list(dict.fromkeys(chosen))


def research_task(
    question: str | Task,
    *,
    provider: str | Sequence[str] = "local",
    depth: str = "balanced",
    index: str = "default",
    mode: SearchMode = "hybrid",
    endpoints: Mapping[str, str] | None = None,
) -> Task:
    """The task a research run works: the question, and what its search tool needs."""
    if depth not in DEPTHS:
        raise UserError(f"--depth must be one of {'|'.join(DEPTHS)}, got {depth!r}")
    task = question if isinstance(question, Task) else Task.of(question, id="research")
    if not task.prompt.strip():
        raise UserError("the research question is empty")
    providers = _providers(provider)
    for name in providers:  # a missing key is the caller's to fix, said before anything runs
        if name != "local":
            PROVIDERS[name]().key()
    subquestions, k = DEPTHS[depth]
    meta: dict[str, Any] = {
        **task.meta,
        "kind": "research",
        "simulated_by": BEHAVIOUR,
        "question": task.prompt,
        "providers": providers,
        "depth": depth,
        "k": k,
        "subquestions": subquestions,
        "mode": mode,
        "endpoints": dict(endpoints or {}),
        "index": local_index(index) if "local" in providers else None,
    }
    return task.model_copy(update={"meta": meta})


def research_spec(
    *,
    pattern: str = "research",
    model: str = "sim",
    depth: str = "balanced",
    seed: int = 0,
    budget: Budget | None = None,
    agents: Sequence[Mapping[str, Any]] | None = None,
) -> RunSpec:
    """The run spec of a research run: the pattern at ``depth``, one round, on one host."""
    if pattern not in RESEARCH_PATTERNS:
        raise UserError(f"pattern must be one of {', '.join(RESEARCH_PATTERNS)}, got {pattern!r}")
    if depth not in DEPTHS:
        raise UserError(f"--depth must be one of {'|'.join(DEPTHS)}, got {depth!r}")
    # one host: the stages run one after another, so more hosts would only add processes to start
    spec: dict[str, Any] = {
        "pattern": pattern,
        "model": model,
        "seed": seed,
        "rounds": 1,
        "placement": "single",
        "options": {"depth": depth},
    }
    if agents is not None:
        spec["agents"] = [dict(a) for a in agents]
    if budget is not None:
        spec["budget"] = budget.model_dump()
    return RunSpec.of(spec)


def read_report(result: RunResult, question: str) -> ResearchReport:
    """The report of a finished research run, read from its timeline."""
    texts = [
        e.message.content
        for e in result.timeline.events
        if isinstance(e, MessageSent) and e.message.sender != "environment"
    ]
    findings = read_findings(texts) or Findings(question=question)
    report = result.answer or ""
    report = report.split("\n\n```json research\n", 1)[0].strip()
    if not report:  # the writer failed: the report is what the team found, said plainly
        from ekklesia.research.team import render

        report = render(findings, "", findings.answer)
    return ResearchReport(
        question=question,
        report=report,
        answer=findings.answer,
        claims=findings.claims,
        sources=findings.sources,
        confidence=confidence(findings.claims),
        usage=result.usage,
        run_id=result.run_id,
        result=result,
    )


async def aresearch(
    question: str | Task,
    *,
    provider: str | Sequence[str] = "local",
    depth: str = "balanced",
    model: str = "sim",
    index: str = "default",
    mode: SearchMode = "hybrid",
    endpoints: Mapping[str, str] | None = None,
    pattern: str = "research",
    seed: int = 0,
    budget: Budget | None = None,
    agents: Sequence[Mapping[str, Any]] | None = None,
) -> ResearchReport:
    """Research ``question``; see the module docstring. ``agents`` replaces the team (specs)."""
    spec = research_spec(
        pattern=pattern, model=model, depth=depth, seed=seed, budget=budget, agents=agents
    )
    task = research_task(
        question, provider=provider, depth=depth, index=index, mode=mode, endpoints=endpoints
    )
    with Swarm.from_spec(spec) as swarm:
        result = await swarm.arun(task)
    return read_report(result, task.prompt)


def research(
    question: str | Task,
    *,
    provider: str | Sequence[str] = "local",
    depth: str = "balanced",
    model: str = "sim",
    index: str = "default",
    mode: SearchMode = "hybrid",
    endpoints: Mapping[str, str] | None = None,
    pattern: str = "research",
    seed: int = 0,
    budget: Budget | None = None,
    agents: Sequence[Mapping[str, Any]] | None = None,
) -> ResearchReport:
    """Research ``question`` (sync); inside async code use :func:`aresearch`."""
    return run_sync(
        aresearch(
            question,
            provider=provider,
            depth=depth,
            model=model,
            index=index,
            mode=mode,
            endpoints=endpoints,
            pattern=pattern,
            seed=seed,
            budget=budget,
            agents=agents,
        ),
        "research()",
        "await aresearch(...)",
    )
