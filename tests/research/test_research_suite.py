"""``ekklesia pattern run research|research_single`` on the generated corpus, scored like
benchmarks/research.py, through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.memory.indexer import index_home
from ekklesia.research.corpus import corpus
from ekklesia.research.suite import FIGURES, index_name


def _run(name: str, *extra: str) -> dict[str, object]:
    args = ["pattern", "run", name, "--tasks", "2", "--seed", "5", "--model", "sim:skill=1"]
    result = CliRunner().invoke(app, [*args, *extra, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_pattern_run_research_scores_the_generated_corpus(
    ray_session: None,
    ekklesia_home: Path,
    tmp_path: Path,
    index_scripted: Callable[[Path, Path], int],
) -> None:
    # the suite's index, built ahead with scripted embeddings so the run does not load MiniLM
    # (the slow test below lets the command index it itself)
    docs = corpus(5, entities=12, questions=2).write(tmp_path / "docs")
    assert index_scripted(docs, index_home(index_name(5, 2))) > 0
    data = _run("research")
    assert data["pattern"] == "research" and data["tasks"] == 2
    results = data["results"]
    assert isinstance(results, list)
    assert [r["task_id"] for r in results] == ["research-5-0", "research-5-1"]
    figures = data["figures"]
    assert isinstance(figures, dict) and list(figures) == list(FIGURES)
    # a perfect team answers every question: the score is the answer accuracy
    assert data["score"] == 1.0 and figures["accuracy"] == 1.0
    assert figures["citation_precision"] == 1.0 and figures["citation_recall"] == 1.0
    assert (index_home(index_name(5, 2)) / "index.sqlite").exists()


@pytest.mark.slow
def test_research_single_reuses_the_index_and_prints_the_figures(
    ray_session: None, ekklesia_home: Path
) -> None:
    _run("research")
    index = index_home(index_name(5, 2)) / "index.sqlite"
    stamp = index.stat().st_mtime_ns
    args = ["pattern", "run", "research_single", "--tasks", "2", "--seed", "5"]
    result = CliRunner().invoke(app, [*args, "--model", "sim:skill=1"])
    assert result.exit_code == 0, result.output
    assert "research_single: score 1.000 over 2 tasks" in result.output
    assert "accuracy 1.000, citation precision 1.000" in result.output
    assert index.stat().st_mtime_ns == stamp  # the same corpus: indexed once
