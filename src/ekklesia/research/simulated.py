"""A simulated research team: how a :class:`~ekklesia.agents.simulated.SimulatedModel` answers the
research pattern's prompts, reading the sources in its prompt as a model would.

Who answers is ``hints.role``. ``skill`` is ``model.skill``; every draw comes from the call's seeded
``rng``, so a run is the same every time.

* planner: as many sub-questions as its prompt asks for ("at most N"; 3 when it names none): the
  gold sub-questions of a corpus question (``meta["gold"]``) first, cut to N, then, while N leaves
  room, the other facts of the organisations it names; outside the corpus, the question.
* researcher: reads the passages of its prompt. For each fact a corpus question needs it takes the
  value most passages state and cites them; with probability ``1 - skill`` it errs — it takes a
  value another passage states instead (a distractor's) when there is one, else cites a passage
  that does not state the fact. Outside the corpus it quotes the first sentence of the top passages
  (citing a wrong one at the same rate). It answers the question from the values it claimed.
* fact_checker: for each claim, with probability ``skill`` it judges from the passages: supported
  when passages state it and no more passages state otherwise, contradicted (with the value most
  passages state as the correction) when they do, unverifiable when none state it; otherwise it
  marks the claim supported unread.
* writer: the claims it may use (supported, and the corrections), one sentence each with its
  citations, and the answer the question's operation gives from their values.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from ekklesia.agents.simulated import SimulatedModel, register_behaviour
from ekklesia.core.llm import LLMRequest, SimHints
from ekklesia.research.corpus import ATTRIBUTES, Fact, answer_of, sentence, statements, subquestion

__all__ = ["BEHAVIOUR", "register", "respond"]

BEHAVIOUR = "ekklesia.research.simulated:respond"
_SOURCES = re.compile(r"Sources \(JSON[^)]*\):\n(\[.*?\n\])", re.DOTALL)
_CLAIM = re.compile(r'^(\d+)\. "(.*)" cites \[([\d, ]*)\]$', re.MULTILINE)
_CHECKED = re.compile(r"^- (.*?) ((?:\[\d+\])*) \((\w+)\)$", re.MULTILINE)
_FIRST_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")
_AT_MOST = re.compile(r"\bat most (\d+) short sub-questions\b")


def register() -> None:
    register_behaviour("research", BEHAVIOUR)


def respond(model: SimulatedModel, request: LLMRequest, rng: random.Random) -> str:
    hints = request.hints or SimHints()
    prompt = "\n".join(t.content for t in request.messages if t.role == "user")
    raw = hints.meta.get("gold")
    gold: dict[str, Any] | None = raw if isinstance(raw, dict) else None
    if hints.role == "planner":
        asked = _AT_MOST.search(prompt)
        subs = _plan(gold, int(asked.group(1)) if asked else 3)
        subs = subs or [str(hints.meta.get("question") or prompt)]
        return "\n".join(f"{i}. {q}" for i, q in enumerate(subs, 1))
    if hints.role == "researcher":
        return _research(model.skill, prompt, gold, rng)
    if hints.role == "fact_checker":
        return _check(model.skill, prompt, rng)
    if hints.role == "writer":
        return _write(prompt, gold)
    return "Answer: unknown"


def _plan(gold: dict[str, Any] | None, n: int) -> list[str]:
    """The planner's sub-questions: the gold ones, then the other facts of the same entities."""
    if gold is None:
        return []
    subs = list(gold["subquestions"])
    entities = [str(f["entity"]) for f in gold["facts"]]
    asked = {str(f["attribute"]) for f in gold["facts"]}
    subs += [subquestion(e, a) for a in ATTRIBUTES if a not in asked for e in entities]
    return subs[: max(n, 1)]


def _sources(prompt: str) -> list[dict[str, Any]]:
    found = _SOURCES.search(prompt)
    if not found:
        return []
    rows = json.loads(found.group(1))
    return [r for r in rows if isinstance(r, dict)]


def _stating(sources: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, list[int]]]:
    """(entity, attribute) -> value -> ids of the passages that state it."""
    table: dict[tuple[str, str], dict[str, list[int]]] = {}
    for row in sources:
        for fact in statements(str(row.get("passage", ""))):
            ids = table.setdefault((fact.entity, fact.attribute), {}).setdefault(fact.value, [])
            if int(row["id"]) not in ids:
                ids.append(int(row["id"]))
    return table


def _majority(values: dict[str, list[int]]) -> str:
    return max(values, key=lambda v: (len(values[v]), -min(values[v])))


def _research(skill: float, prompt: str, gold: dict[str, Any] | None, rng: random.Random) -> str:
    sources = _sources(prompt)
    claims: list[dict[str, Any]] = []
    ids = [int(r["id"]) for r in sources]
    if gold is None:
        for row in sources[:3]:
            first = _FIRST_SENTENCE.findall(str(row.get("passage", "")).strip())
            if not first:
                continue
            cite = int(row["id"])
            if rng.random() >= skill and len(ids) > 1:
                cite = rng.choice([i for i in ids if i != cite])
            claims.append({"text": first[0].strip(), "citations": [cite]})
        answer = claims[0]["text"] if claims else "The sources do not answer the question."
        return json.dumps({"claims": claims, "answer": answer})
    table = _stating(sources)
    values: dict[str, str] = {}
    for needed in gold["facts"]:
        key = (needed["entity"], needed["attribute"])
        options = table.get(key)
        if not options:
            continue
        value = _majority(options)
        cites = list(options[value])
        if rng.random() >= skill:
            others = [v for v in options if v != value]
            if others:
                value = rng.choice(others)
                cites = list(options[value])
            else:
                wrong = [i for i in ids if i not in cites]
                cites = [rng.choice(wrong)] if wrong else cites
        values[needed["entity"]] = value
        fact = Fact(entity=needed["entity"], attribute=needed["attribute"], value=value)
        claims.append({"text": sentence(fact), "citations": cites})
    answer = answer_of(str(gold["op"]), values) if len(values) == len(gold["facts"]) else None
    return json.dumps({"claims": claims, "answer": answer or "unknown"})


def _check(skill: float, prompt: str, rng: random.Random) -> str:
    sources = _sources(prompt)
    table = _stating(sources)
    passages = {int(r["id"]): str(r.get("passage", "")) for r in sources}
    verdicts = []
    for number, text, cited in _CLAIM.findall(prompt):
        cites = [int(i) for i in cited.replace(" ", "").split(",") if i]
        row: dict[str, Any] = {"claim": int(number), "verdict": "supported", "evidence": cites}
        if rng.random() < skill:
            row = _judge(int(number), text, cites, table, passages)
        verdicts.append(row)
    return json.dumps({"verdicts": verdicts})


def _judge(
    number: int,
    text: str,
    cites: list[int],
    table: dict[tuple[str, str], dict[str, list[int]]],
    passages: dict[int, str],
) -> dict[str, Any]:
    facts = statements(text)
    if not facts:  # not a corpus sentence: supported when a cited passage holds it verbatim
        holding = [i for i in cites if text.strip().rstrip(".") in passages.get(i, "")]
        verdict = "supported" if holding else "unverifiable"
        return {"claim": number, "verdict": verdict, "evidence": holding}
    fact = facts[0]
    options = table.get((fact.entity, fact.attribute), {})
    agreeing = options.get(fact.value, [])
    if not options:
        return {"claim": number, "verdict": "unverifiable", "evidence": []}
    best = _majority(options)
    if best != fact.value and len(options[best]) > len(agreeing):
        correction = sentence(fact.model_copy(update={"value": best}))
        return {
            "claim": number,
            "verdict": "contradicted",
            "evidence": options[best],
            "correction": correction,
        }
    return {"claim": number, "verdict": "supported", "evidence": agreeing}


def _write(prompt: str, gold: dict[str, Any] | None) -> str:
    lines = []
    values: dict[str, str] = {}
    for text, refs, verdict in _CHECKED.findall(prompt):
        if verdict == "contradicted":
            continue
        lines.append(f"{text.rstrip('.')}. {refs}".strip())
        for fact in statements(text):
            values[fact.entity] = fact.value
    if gold is not None:
        needed = {f["entity"] for f in gold["facts"]}
        usable = {k: v for k, v in values.items() if k in needed}
        answer = answer_of(str(gold["op"]), usable) if len(usable) == len(needed) else None
    else:
        answer = _CHECKED.findall(prompt)[0][0] if lines else None
    body = " ".join(lines) or "The sources do not settle the question."
    return f"{body}\n\nAnswer: {answer or 'unknown'}"
