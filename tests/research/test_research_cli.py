"""``ekklesia research`` through the real command line, and research over the web providers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from search_server import LocalSearchServer
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.research.corpus import Corpus


def test_json_gives_exactly_the_contract_and_out_saves_the_report(
    ray_session: None, home_with_index: Path, small_corpus: Corpus, tmp_path: Path
) -> None:
    question = small_corpus.questions[1]
    out = tmp_path / "report.md"
    args = ["research", question.text, "--provider", "local", "--depth", "quick"]
    args += ["--search-mode", "text", "--out", str(out), "--seed", "4", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"report", "claims", "sources", "confidence", "usage", "run_id"}
    assert out.read_text().strip() == data["report"].strip()
    assert 0.0 <= data["confidence"] <= 1.0
    for source in data["sources"]:
        assert f"[{source['id']}]" in data["report"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "bing"], "--provider must be one of"),
        (["--depth", "forever"], "--depth must be one of"),
        (["--search-mode", "fuzzy"], "--search-mode must be one of"),
        (["--index", "nowhere"], "no index called 'nowhere' yet"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["research", "What is it?", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["tavily", "exa", "serper", "perplexity"])
def test_research_over_a_web_provider(
    ray_session: None, web_server: LocalSearchServer, small_corpus: Corpus, provider: str
) -> None:
    task = small_corpus.tasks()[0]
    report = ek.research(
        task,
        provider=provider,
        model="sim:skill=1",
        endpoints={provider: web_server.base_url(provider)},
    )
    assert report.answer == task.expected
    assert report.sources and all(
        s.url.startswith("https://corpus.example/") for s in report.sources
    )
    assert all(c.verdict == "supported" for c in report.claims)
    key = os.environ[f"{provider.upper()}_API_KEY"]
    recorded = "".join(e.model_dump_json() for e in report.result.timeline.events)
    assert key not in recorded and "web_search" in recorded  # keys never reach the timeline
    assert web_server.requests(provider)  # the calls went to the local server


@pytest.mark.slow
def test_two_providers_in_parallel(
    ray_session: None, web_server: LocalSearchServer, home_with_index: Path, small_corpus: Corpus
) -> None:
    task = small_corpus.tasks()[2]
    report = ek.research(
        task,
        provider=["local", "tavily"],
        mode="text",
        model="sim:skill=1",
        endpoints={"tavily": web_server.base_url("tavily")},
    )
    providers = {s.provider for s in report.sources}
    assert providers == {"local", "tavily"}
    assert report.answer == task.expected


@pytest.mark.slow
def test_index_then_research_in_hybrid_mode_with_minilm(
    ray_session: None, small_corpus: Corpus, tmp_path: Path
) -> None:
    from ekklesia.memory import ActorTier, VectorTierConfig
    from ekklesia.memory.indexer import index_home

    folder = small_corpus.write(tmp_path / "docs")
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", str(folder), "--name", "corpus", "--json"])
    assert indexed.exit_code == 0, indexed.output
    try:
        question = small_corpus.questions[0]
        result = runner.invoke(
            app,
            ["research", question.text, "--index", "corpus", "--model", "sim:skill=1", "--json"],
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["sources"] and all(s["path"].startswith(str(folder)) for s in data["sources"])
        assert data["claims"]
    finally:
        ActorTier(
            VectorTierConfig(uri=str(index_home("corpus") / "vectors"), table="chunks")
        ).stop_writer()
