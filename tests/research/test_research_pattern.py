"""The research pattern on the local provider: the report, its claims and sources, the JSON
contract, determinism, replay, and the verdicts of the simulated fact-checker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ekklesia as ek
from ekklesia.core.events import ToolCalled
from ekklesia.research.corpus import Corpus, statements


@pytest.fixture
def question(small_corpus: Corpus) -> ek.Task:
    return small_corpus.tasks()[0]


@pytest.fixture(scope="module")
def report(ray_session: None, indexed_home: Path, small_corpus: Corpus) -> ek.ResearchReport:
    """One run for the tests of this module (a run costs seconds on two cores)."""
    question = small_corpus.tasks()[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKKLESIA_HOME", str(indexed_home))
        return ek.research(question, provider="local", mode="text", model="sim:skill=1", seed=4)


def test_a_report_cites_verbatim_passages_and_has_a_confidence(
    report: ek.ResearchReport, small_corpus: Corpus, question: ek.Task
) -> None:
    data = report.to_json()
    assert set(data) == {"report", "claims", "sources", "confidence", "usage", "run_id"}
    assert data["claims"] and all(
        set(c) == {"text", "verdict", "citations"} for c in data["claims"]
    )
    texts = {d.name: d.text for d in small_corpus.documents}
    for source in data["sources"]:
        assert set(source) == {"id", "path", "title", "passage"}
        assert source["passage"] in texts[Path(source["path"]).name]  # verbatim from the file
        assert f"[{source['id']}]" in data["report"]
    cited = {s["id"] for s in data["sources"]}
    assert {i for c in data["claims"] for i in c["citations"]} == cited
    assert all(c["verdict"] == "supported" for c in data["claims"])
    assert data["confidence"] == 1.0
    assert "## Sources" in data["report"] and "Confidence: 1.00" in data["report"]
    assert report.answer == question.expected
    assert data["run_id"] == report.result.run_id and data["usage"]["input_tokens"] > 0
    calls = [e for e in report.result.timeline.events if isinstance(e, ToolCalled)]
    assert [c.tool for c in calls] == ["web_search", "web_search"]  # researcher, checker
    assert calls[0].arguments["providers"] == ["local"]


def test_the_fact_checker_flags_a_claim_a_distractor_put_there(
    ray_session: None, home_with_index: Path, small_corpus: Corpus
) -> None:
    # a researcher that always errs takes the distractor's value; a perfect checker catches it
    with_distractor = next(q for q in small_corpus.questions if q.contradicted)
    task = next(t for t in small_corpus.tasks() if t.id == with_distractor.id)
    team = [
        {"name": "planner", "role": "planner", "model": "sim:skill=1"},
        {
            "name": "researcher",
            "role": "researcher",
            "class": "ekklesia.research.team:Researcher",
            "tools": ["web_search"],
            "model": "sim:skill=0",
        },
        {
            "name": "fact-checker",
            "role": "fact_checker",
            "class": "ekklesia.research.team:FactChecker",
            "tools": ["web_search"],
            "model": "sim:skill=1",
        },
        {"name": "writer", "role": "writer", "class": "ekklesia.research.team:Writer"},
    ]
    report = ek.research(task, mode="text", agents=team, model="sim:skill=1")
    verdicts = {c.verdict for c in report.claims}
    assert "contradicted" in verdicts
    wrong = with_distractor.contradicted[0]
    flagged = [c for c in report.claims if c.verdict == "contradicted"]
    assert any(wrong.value in c.text for c in flagged)
    assert report.confidence < 1.0
    assert report.answer == task.expected  # the correction, not the distractor, decided it


@pytest.mark.slow
def test_the_same_seed_gives_the_same_timeline(
    report: ek.ResearchReport,
    question: ek.Task,
    indexed_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EKKLESIA_HOME", str(indexed_home))  # the same index folder, as recorded
    again = ek.research(question, provider="local", mode="text", model="sim:skill=1", seed=4)
    assert again.to_json() | {"run_id": ""} == report.to_json() | {"run_id": ""}
    assert again.result.timeline.fingerprint() == report.result.timeline.fingerprint()


@pytest.mark.slow
def test_a_research_run_replays_from_its_timeline(
    report: ek.ResearchReport, indexed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EKKLESIA_HOME", str(indexed_home))
    replayed = ek.replay(report.run_id)
    assert replayed.identical, replayed


def test_bad_input_is_one_line_naming_the_flag(home_with_index: Path) -> None:
    with pytest.raises(ek.UserError, match=r"--provider must be one of local\|exa"):
        ek.research("q?", provider="bing")
    with pytest.raises(ek.UserError, match="--depth must be one of quick"):
        ek.research("q?", depth="forever")
    with pytest.raises(ek.UserError, match="no index called 'other' yet"):
        ek.research("q?", index="other")


def test_a_web_provider_without_its_key_is_refused_before_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERPER_API_KEY")
    monkeypatch.delenv("EKKLESIA_SECRETS_FILE", raising=False)
    with pytest.raises(ek.UserError, match="needs the API key SERPER_API_KEY"):
        ek.research("q?", provider="serper")


def test_statements_read_the_corpus_sentences(small_corpus: Corpus) -> None:
    for doc in small_corpus.documents:
        found = statements(doc.text)
        assert found and len(found) == (1 if doc.distractor else 3)
    assert re.search(r"\?$", small_corpus.questions[0].text)
