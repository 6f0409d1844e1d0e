"""A real model's replies, through the OpenAI-compatible connector: prompts it can follow, replies
read robustly (fenced JSON, prose around it, trailing commas, plain lines), and a botched reply
recorded as a failed turn rather than a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import LocalOpenAIServer

import ekklesia as ek
from ekklesia.core.events import AgentFailed, ModelCalled
from ekklesia.research.corpus import Corpus
from ekklesia.research.parsing import read_claims, read_subquestions, read_verdicts


@pytest.fixture(scope="module")
def openai_server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer() as server:
        yield server


def test_claims_are_read_from_json_fenced_or_bare_and_from_lines() -> None:
    fenced = (
        'Here you go:\n```json\n{"claims": [{"text": "A was founded in 1800.", '
        '"citations": [1, "2"]},], "answer": "A"}\n```'
    )
    assert read_claims(fenced) == ([("A was founded in 1800", (1, 2))], "A")
    inline = '{"claims": [{"text": "B employs 40 people [3]."}], "answer": null}'
    assert read_claims(inline) == ([("B employs 40 people", (3,))], None)
    lines = "- A was founded in 1800 [1][2]\n- B was founded in 1900 [3]\nAnswer: A"
    assert read_claims(lines) == (
        [("A was founded in 1800", (1, 2)), ("B was founded in 1900", (3,))],
        "A",
    )
    assert read_claims("I could not find anything useful.") is None


def test_verdicts_are_read_from_json_or_lines_and_refuted_means_contradicted() -> None:
    data = (
        '{"verdicts": [{"claim": 1, "verdict": "Supported", "evidence": [2]}, {"claim": 2, '
        '"verdict": "refuted", "evidence": [4], "correction": "B was founded in 1901."}]}'
    )
    assert read_verdicts(data, 2) == {
        1: ("supported", (2,), ""),
        2: ("contradicted", (4,), "B was founded in 1901."),
    }
    assert read_verdicts("1. supported [2]\n2: unverifiable", 2) == {
        1: ("supported", (2,), ""),
        2: ("unverifiable", (), ""),
    }
    assert read_verdicts("All good!", 2) is None
    assert read_verdicts('{"verdicts": [{"claim": 7, "verdict": "supported"}]}', 2) is None


def test_subquestions_are_numbered_or_bulleted_lines() -> None:
    plan = "Plan:\n1. When was A founded?\n2) When was B founded?\n- Compare them\n"
    assert read_subquestions(plan, 5) == ["When was A founded?", "When was B founded?"]
    assert read_subquestions(plan, 1) == ["When was A founded?"]


def _team(spec: str) -> list[dict[str, object]]:
    team = "ekklesia.research.team"
    return [
        {"name": "planner", "role": "planner", "model": spec},
        {"name": "researcher", "role": "researcher", "class": f"{team}:Researcher",
         "tools": ["web_search"], "model": spec},
        {"name": "fact-checker", "role": "fact_checker", "class": f"{team}:FactChecker",
         "tools": ["web_search"], "model": spec},
        {"name": "writer", "role": "writer", "class": f"{team}:Writer", "model": spec},
    ]  # fmt: skip


def test_a_real_models_replies_make_the_report(
    ray_session: None,
    home_with_index: Path,
    openai_server: LocalOpenAIServer,
    small_corpus: Corpus,
) -> None:
    question = small_corpus.questions[0]
    fact = question.facts[0]
    claim = f"{fact.entity} was founded in {fact.value}." if fact.attribute == "founded" else ""
    claim = claim or f"{fact.entity} has the value {fact.value}."
    replies = [
        "1. " + question.subquestions[0] + "\n2. " + question.subquestions[1],
        "Sure.\n```json\n" + json.dumps({"claims": [{"text": claim, "citations": [1]}],
                                         "answer": question.answer}) + "\n```",
        json.dumps({"verdicts": [{"claim": 1, "verdict": "supported", "evidence": [1]}]}),
        f"{claim} [1]\n\nAnswer: {question.answer}",
    ]  # fmt: skip
    openai_server.script("research-model", [{"text": t} for t in replies])
    spec = f"openai:{openai_server.url}?retries=0#research-model"
    report = ek.research(question.text, mode="text", agents=_team(spec), model=spec)
    assert report.answer == question.answer
    assert [(c.text, c.verdict, c.citations) for c in report.claims] == [
        (claim.rstrip("."), "supported", (1,))
    ]
    assert report.confidence == 1.0
    assert f"{claim} [1]" in report.report
    asked = openai_server.requests("research-model")
    assert len(asked) == 4
    prompt = asked[1]["body"]["messages"][-1]["content"]
    assert "Sources (JSON; cite them by id)" in prompt and '"claims"' in prompt
    assert question.text in prompt


def test_a_malformed_reply_is_a_failed_turn_not_a_crash(
    ray_session: None,
    home_with_index: Path,
    openai_server: LocalOpenAIServer,
    small_corpus: Corpus,
) -> None:
    replies = ["1. What is it?", "I am not sure what you want from me.", "{}", "Nothing."]
    openai_server.script("research-botched", [{"text": t} for t in replies])
    spec = f"openai:{openai_server.url}?retries=0#research-botched"
    report = ek.research(
        small_corpus.questions[0].text, mode="text", agents=_team(spec), model=spec
    )
    events = report.result.timeline.events
    failed = {e.agent for e in events if isinstance(e, AgentFailed)}
    assert "researcher" in failed
    assert report.claims == () and report.confidence == 0.0
    assert report.report.startswith("# ")  # the report still says what was (not) found
    assert sum(isinstance(e, ModelCalled) for e in events) >= 2
