"""The generated corpus and the simulated team, without Ray: determinism, the shape of questions,
distractors, and simulated researchers and fact-checkers that err at the stated rate."""

from __future__ import annotations

import json
import random

from ekklesia.agents.simulated import SimulatedModel
from ekklesia.core.llm import ChatTurn, LLMRequest, SimHints
from ekklesia.research.corpus import answer_of, corpus, statements
from ekklesia.research.simulated import respond
from ekklesia.research.team import CHECK_PROMPT, RESEARCH_PROMPT


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    assert corpus(5).model_dump() == corpus(5).model_dump()
    assert corpus(5).model_dump() != corpus(6).model_dump()


def test_questions_need_two_or_three_documents_and_distractors_contradict() -> None:
    world = corpus(0, questions=40)
    truth = {
        (e.name, a): e.fact(a).value for e in world.entities for a in ("founded", "city", "staff")
    }
    for question in world.questions:
        assert 2 <= len(question.facts) <= 3
        values = {f.entity: f.value for f in question.facts}
        assert answer_of(question.op, values) == question.answer
        for fact in question.facts:  # each true fact is stated by two documents
            stating = [d for d in world.documents if fact in statements(d.text)]
            assert len(stating) == 2 and not any(d.distractor for d in stating)
        for wrong in question.contradicted:
            assert truth[(wrong.entity, wrong.attribute)] != wrong.value
            assert any(wrong in statements(d.text) for d in world.documents if d.distractor)
    assert sum(bool(q.contradicted) for q in world.questions) >= 8


def _ask(role: str, prompt: str, meta: dict[str, object], seed: int) -> str:
    request = LLMRequest(
        messages=(ChatTurn(role="user", content=prompt),),
        hints=SimHints(role=role, meta=meta),  # type: ignore[arg-type]
        seed=seed,
    )
    return respond(SimulatedModel(skill=0.7), request, random.Random(seed))


def test_the_simulated_researcher_reads_its_sources_and_errs_at_the_stated_rate() -> None:
    world = corpus(0, questions=40)
    question = next(q for q in world.questions if q.contradicted)
    wrong = question.contradicted[0]
    docs = [d for d in world.documents if any(f.entity == wrong.entity for f in statements(d.text))]
    sources = [
        {"id": i, "title": d.title, "where": d.url, "passage": d.text}
        for i, d in enumerate(docs, 1)
    ]
    prompt = RESEARCH_PROMPT.format(
        question=question.text, subquestions="-", sources=json.dumps(sources, indent=1), json=""
    )
    meta = {"gold": question.model_dump(mode="json")}
    took_distractor = 0
    trials = 400
    for seed in range(trials):
        claims = json.loads(_ask("researcher", prompt, meta, seed))["claims"]
        said = {f for c in claims for f in statements(c["text"])}
        took_distractor += wrong in said
    # it reads only what the sources say (other organisations' facts are not in them) and errs 30%
    assert 0.25 < took_distractor / trials < 0.35


def test_the_simulated_fact_checker_catches_a_distractor_at_its_skill() -> None:
    world = corpus(0, questions=40)
    question = next(q for q in world.questions if q.contradicted)
    wrong = question.contradicted[0]
    docs = [d for d in world.documents if any(f.entity == wrong.entity for f in statements(d.text))]
    sources = [
        {"id": i, "title": d.title, "where": d.url, "passage": d.text}
        for i, d in enumerate(docs, 1)
    ]
    guide = next(i for i, d in enumerate(docs, 1) if d.distractor)
    from ekklesia.research.corpus import sentence

    prompt = CHECK_PROMPT.format(
        question=question.text,
        claims=f'1. "{sentence(wrong)}" cites [{guide}]',
        sources=json.dumps(sources, indent=1),
        json="",
    )
    caught = sum(
        json.loads(_ask("fact_checker", prompt, {}, seed))["verdicts"][0]["verdict"]
        == "contradicted"
        for seed in range(400)
    )
    assert 0.65 < caught / 400 < 0.75
