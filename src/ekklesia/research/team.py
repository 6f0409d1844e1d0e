"""The research team: a planner, a researcher that searches and reads, a fact-checker, a writer.

``planner`` is ekklesia's built-in role; ``researcher``, ``fact_checker`` (the built-in role, given
the three verdicts the report uses) and ``writer`` are defined here, each played by an agent class
that does the bookkeeping in code and asks its model only what a model is for:

- :class:`Researcher` reads the planner's sub-questions, calls ``web_search`` once for all of
  them, numbers the passages found, and asks its model for claims citing them;
- :class:`FactChecker` searches each claim again (to meet passages that contradict it), and asks
  its model for a verdict per claim, with the passages that decide it;
- :class:`Writer` asks its model for the report's prose from the checked claims, and adds the
  claims with their verdicts, the sources table and the confidence itself.

What the task carries (``meta``): ``providers``, ``index`` (the local index's folder), ``mode``,
``endpoints`` (base URLs by provider), ``k`` and ``subquestions`` (how many) — set by
:func:`ekklesia.research.aresearch`. A reply the model botches (no JSON, no claims) is a failed
turn, recorded as such; the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ekklesia.agents.agent import Agent, Utterance
from ekklesia.agents.context import StepContext
from ekklesia.agents.roles import Role, register_role
from ekklesia.core.llm import ChatTurn, LLMRequest
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.research.parsing import read_answer, read_claims, read_subquestions, read_verdicts
from ekklesia.research.search import SearchAnswer
from ekklesia.research.sources import (
    Claim,
    Findings,
    Source,
    confidence,
    findings_block,
    merge_sources,
    read_findings,
)

__all__ = ["FACT_CHECKER", "RESEARCHER", "WRITER", "FactChecker", "Researcher", "Writer"]

_JSON_ONLY = "Reply with one JSON object and nothing else."

RESEARCHER = register_role(
    Role(
        name="researcher",
        system_prompt=(
            "You are a careful researcher. You answer only from the numbered source passages you "
            "are given, state each fact as one plain sentence, and cite the ids of the passages "
            f"that state it. {_JSON_ONLY}"
        ),
        output="text",
    )
)
FACT_CHECKER = register_role(
    Role(
        name="fact_checker",
        system_prompt=(
            "You check each claim against the source passages alone and mark it supported (a "
            "passage states it), contradicted (a passage states something incompatible with "
            f"it) or unverifiable (no passage settles it), citing the passages. {_JSON_ONLY}"
        ),
        output="verdict",  # as the built-in role it replaces: a plain agent still reads answers
    )
)
WRITER = register_role(
    Role(
        name="writer",
        system_prompt=(
            "You write short, plain research reports in Markdown from checked claims, citing "
            "sources inline as [n] and never stating what the claims do not."
        ),
        output="text",
    )
)

RESEARCH_PROMPT = """Question: {question}

Sub-questions:
{subquestions}

Sources (JSON; cite them by id):
{sources}

Using only these sources, state the facts that answer the question and its sub-questions. {json}
{{"claims": [{{"text": "one factual sentence", "citations": [ids of the passages that state it]}}], "answer": "a short, direct answer to the question"}}
Cite only passages that state the claim. If the sources do not answer the question, say so in "answer" and give the claims they do support."""  # noqa: E501

CHECK_PROMPT = """Question: {question}

Claims to check, with the sources each cites:
{claims}

Sources (JSON):
{sources}

For each claim decide from the passages alone: "supported" (a passage states it), "contradicted" (a passage states something incompatible with it) or "unverifiable" (no passage states it or its opposite). {json}
{{"verdicts": [{{"claim": 1, "verdict": "supported", "evidence": [ids of the passages that decide it], "correction": "for a contradicted claim, what the sources say instead; else empty"}}]}}"""  # noqa: E501

WRITE_PROMPT = """Question: {question}

Claims, as checked:
{claims}

Write a short report in Markdown that answers the question. Use the supported claims (and, for contradicted ones, what the sources say instead), each sentence citing its sources as [n]. Leave out any list of sources: it is added for you. End with a line 'Answer: <the short answer>'."""  # noqa: E501


def _meta(ctx: StepContext, key: str, default: Any) -> Any:
    value = ctx.task.meta.get(key, default)
    return default if value is None else value


def _sources_json(sources: Sequence[Source]) -> str:
    rows = [{"id": s.id, "title": s.title, "where": s.where, "passage": s.passage} for s in sources]
    return json.dumps(rows, ensure_ascii=False, indent=1)


def _question(ctx: StepContext) -> str:
    value = ctx.task.meta.get("question")
    return value if isinstance(value, str) else ctx.task.prompt


class _TeamMember(Agent):
    """What the research agents share: one model call on a prompt of their own."""

    async def _ask(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext, content: str
    ) -> tuple[str | None, str]:
        request = LLMRequest(
            messages=(
                ChatTurn(role="system", content=self.role.system_prompt),
                ChatTurn(role="user", content=content),
            ),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            hints=self.hints(inbox, ctx),
        )
        reply = await ctx.complete(request)
        if not reply.ok:
            return None, reply.error or "model call failed"
        return reply.text, ""

    async def _search(
        self, ctx: StepContext, queries: list[str]
    ) -> tuple[list[Source], str | None]:
        arguments: dict[str, Any] = {
            "queries": queries,
            "providers": list(_meta(ctx, "providers", ["local"])),
            "k": int(_meta(ctx, "k", 5)),
            "mode": str(_meta(ctx, "mode", "hybrid")),
            "endpoints": dict(_meta(ctx, "endpoints", {})),
        }
        if ctx.task.meta.get("index"):
            arguments["index"] = str(ctx.task.meta["index"])
        found = await ctx.call_tool("web_search", **arguments)
        if not found.ok or not isinstance(found.value, SearchAnswer):
            return [], found.error or "the search failed"
        sources = [
            Source(
                id=1,
                url=h.url,
                path=h.path,
                title=h.title,
                passage=h.passage,
                provider=h.provider,
                query=h.query,
            )
            for h in found.value.hits
        ]
        return list(merge_sources((), sources)), None


def _heard(inbox: Sequence[TaskMessage | AgentMessage]) -> list[str]:
    return [m.content for m in inbox if isinstance(m, AgentMessage)]


class Researcher(_TeamMember):
    """Searches for the plan's sub-questions and reads the passages into cited claims."""

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        question = _question(ctx)
        limit = int(_meta(ctx, "subquestions", 3))
        plans = [
            m.content
            for m in inbox
            if isinstance(m, AgentMessage) and ctx.roles.get(m.sender) == "planner"
        ]
        subquestions = read_subquestions(plans[-1], limit) if plans else []
        sources, error = await self._search(ctx, list(dict.fromkeys([question, *subquestions])))
        if error is not None:
            return [Utterance(content=f"The search failed: {error}", failed=True)]
        prompt = RESEARCH_PROMPT.format(
            question=question,
            subquestions="\n".join(f"{i}. {q}" for i, q in enumerate(subquestions, 1)) or "-",
            sources=_sources_json(sources),
            json=_JSON_ONLY,
        )
        text, error = await self._ask(inbox, ctx, prompt)
        if text is None:
            return [Utterance(content=error, failed=True)]
        read = read_claims(text)
        if read is None:
            return [Utterance(content=f"Malformed reply (no claims in it):\n{text}", failed=True)]
        known = {s.id for s in sources}
        claims = tuple(
            Claim(text=body, citations=tuple(i for i in ids if i in known)) for body, ids in read[0]
        )
        findings = Findings(
            question=question,
            subquestions=tuple(subquestions),
            sources=tuple(sources),
            claims=claims,
            answer=read[1],
        )
        listed = "\n".join(f"- {c.text} {''.join(f'[{i}]' for i in c.citations)}" for c in claims)
        summary = f"Found {len(sources)} passages; claims:\n{listed}\nAnswer: {read[1] or '-'}"
        return [Utterance(content=f"{summary}\n\n{findings_block(findings)}", answer=read[1])]


class FactChecker(_TeamMember):
    """Checks each claim against the passages, searching each claim again for contradictions."""

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        findings = read_findings(_heard(inbox))
        if findings is None:
            return [Utterance(content="Nothing to check: no findings were heard.", failed=True)]
        sources = findings.sources
        if findings.claims:
            extra, error = await self._search(ctx, [c.text for c in findings.claims])
            if error is None:
                sources = merge_sources(sources, extra)
        listed = "\n".join(
            f'{i}. "{c.text}" cites {list(c.citations)}' for i, c in enumerate(findings.claims, 1)
        )
        prompt = CHECK_PROMPT.format(
            question=findings.question,
            claims=listed or "(none)",
            sources=_sources_json(sources),
            json=_JSON_ONLY,
        )
        text, error = await self._ask(inbox, ctx, prompt)
        if text is None:
            return [Utterance(content=error, failed=True)]
        verdicts = read_verdicts(text, len(findings.claims)) if findings.claims else {}
        if verdicts is None:
            return [Utterance(content=f"Malformed reply (no verdicts in it):\n{text}", failed=True)]
        known = {s.id for s in sources}
        checked: list[Claim] = []
        for number, claim in enumerate(findings.claims, 1):
            verdict, evidence, correction = verdicts.get(number, ("unverifiable", (), ""))
            evidence = tuple(i for i in evidence if i in known)
            cites = claim.citations
            if verdict == "supported" and evidence:
                cites = tuple(dict.fromkeys(evidence))  # the passages that do state it
            checked.append(claim.model_copy(update={"verdict": verdict, "citations": cites}))
            if verdict == "contradicted" and correction and evidence:
                checked.append(
                    Claim(
                        text=correction,
                        citations=evidence,
                        verdict="supported",
                        note=f"what the sources say instead of claim {number}",
                    )
                )
        done = findings.model_copy(
            update={"sources": sources, "claims": tuple(checked), "checked": True}
        )
        lines = "\n".join(f"- {c.verdict}: {c.text}" for c in checked)
        return [Utterance(content=f"Checked claims:\n{lines}\n\n{findings_block(done)}")]


class Writer(_TeamMember):
    """Writes the report: the model's prose, then the claims, the sources and the confidence."""

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        findings = read_findings(_heard(inbox))
        if findings is None:
            return [Utterance(content="Nothing to write: no findings were heard.", failed=True)]
        usable = [c for c in findings.claims if c.verdict != "contradicted"]
        listed = "\n".join(
            f"- {c.text} {''.join(f'[{i}]' for i in c.citations)} ({c.verdict})"
            for c in (usable if findings.checked else findings.claims)
        )
        prompt = WRITE_PROMPT.format(question=findings.question, claims=listed or "(none)")
        text, error = await self._ask(inbox, ctx, prompt)
        if text is None:
            return [Utterance(content=error, failed=True)]
        answer = read_answer(text) or findings.answer
        prose = "\n".join(
            line for line in text.strip().splitlines() if read_answer(line) is None
        ).strip()
        report = render(findings, prose, answer)
        final = findings.model_copy(update={"answer": answer})
        return [Utterance(content=f"{report}\n\n{findings_block(final)}", answer=answer)]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(findings: Findings, prose: str, answer: str | None) -> str:
    """The report in Markdown: answer, prose, claims with verdicts, sources, confidence."""
    cited = sorted({i for c in findings.claims for i in c.citations})
    lines = [f"# {findings.question}", ""]
    if answer:
        lines += [f"**Answer:** {answer}", ""]
    if prose:
        lines += [prose, ""]
    lines += ["## Claims", "", "| # | claim | verdict | sources |", "| --- | --- | --- | --- |"]
    for n, claim in enumerate(findings.claims, 1):
        refs = " ".join(f"[{i}]" for i in claim.citations) or "-"
        lines.append(f"| {n} | {_cell(claim.text)} | {claim.verdict} | {refs} |")
    lines += ["", "## Sources", "", "| [n] | URL or path | title | passage |"]
    lines.append("| --- | --- | --- | --- |")
    for i in cited:
        source = findings.source(i)
        if source is not None:
            lines.append(
                f"| [{i}] | {_cell(source.where)} | {_cell(source.title)} | "
                f"> {_cell(source.passage)} |"
            )
    lines += ["", f"Confidence: {confidence(findings.claims):.2f}"]
    return "\n".join(lines)
