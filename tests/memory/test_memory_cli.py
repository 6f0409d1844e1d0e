"""``ekklesia index`` and ``ekklesia search``, through the real command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ekklesia.cli.memory import register
from ekklesia.memory import ActorTier, VectorTierConfig
from ekklesia.memory.chunking import chunk_file
from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.indexer import index_home

PYTHON = '''"""Helpers for the billing service."""

import math


def compound_interest(principal: float, rate: float, years: int) -> float:
    """Money grows by the rate every year."""
    return principal * math.pow(1 + rate, years)


class Invoice:
    def __init__(self, total: float) -> None:
        self.total = total

    def with_tax(self, rate: float) -> float:
        return self.total * (1 + rate)
'''
MARKDOWN = """# Deployment guide

## Rolling back
If a release breaks, redeploy the previous container image and drain the queue.

## Scaling
Add replicas behind the load balancer when latency climbs.
"""


@pytest.fixture
def app() -> Iterator[typer.Typer]:
    cli = typer.Typer()
    register(cli)
    yield cli
    # the index's writer actor outlives the command inside a test process; stop it
    config = VectorTierConfig(uri=str(index_home() / "vectors"), table="chunks")
    ActorTier(config).stop_writer()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "billing.py").write_text(PYTHON)
    (root / "docs").mkdir()
    (root / "docs" / "deploy.md").write_text(MARKDOWN)
    (root / "notes.txt").write_text("Penguins huddle together to survive the antarctic winter.\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (root / "legacy.txt").write_bytes("Caf\xe9 cr\xe8me, encoded as Latin-1.".encode("latin-1"))
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def _index(app: typer.Typer, path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["index", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _search(app: typer.Typer, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["search", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _pool_stats(pooled: PooledEmbedder) -> list[dict[str, int]]:
    return asyncio.run(pooled.stats())


def _one_error_line(stderr: str, expected: str) -> None:
    """One error message (the console may wrap it to the terminal's width)."""
    text = " ".join(stderr.split())
    assert text.startswith("error:") and text.count("error:") == 1, stderr
    assert expected in text, stderr


def test_index_then_search_then_reindex_incrementally(
    app: typer.Typer, tree: Path, pooled: PooledEmbedder
) -> None:
    first = _index(app, tree)
    assert first["files_seen"] == 5  # .git is not walked
    assert (first["files_indexed"], first["skipped_binary"], first["skipped_not_utf8"]) == (3, 1, 1)
    assert first["chunks_added"] == first["chunks_embedded"] >= 6
    assert any("logo.png (binary)" in s for s in first["skipped"])

    hits = _search(app, "how much does money grow with interest", "--k", "3")
    assert [set(h) for h in hits] == [{"path", "chunk", "score", "tier"}] * 3
    assert hits[0]["path"].endswith("src/billing.py") and "compound_interest" in hits[0]["chunk"]
    assert hits[0]["tier"] == "vectors"
    rollback = _search(app, "redeploy previous image", "--mode", "text", "--k", "1")
    assert rollback[0]["chunk"].startswith("## Rolling back")
    assert _search(app, "antarctic birds", "--mode", "vector", "--k", "1")[0]["path"].endswith(
        "notes.txt"
    )

    before = _pool_stats(pooled)
    again = _index(app, tree)
    assert (again["files_unchanged"], again["files_indexed"], again["chunks_embedded"]) == (3, 0, 0)
    assert _pool_stats(pooled) == before  # the embedder was not even asked

    (tree / "notes.txt").write_text("Emperor penguins breed in the coldest season.\n")
    (tree / "docs" / "deploy.md").unlink()
    third = _index(app, tree)
    assert (third["files_indexed"], third["files_deleted"], third["chunks_embedded"]) == (1, 1, 1)
    assert third["chunks_removed"] == 1 + len(chunk_file(".md", MARKDOWN))
    paths = {h["path"] for h in _search(app, "deployment rollback scaling", "--k", "10")}
    assert not any(p.endswith("deploy.md") for p in paths)


def test_a_huge_file_is_chunked(app: typer.Typer, tmp_path: Path, pooled: PooledEmbedder) -> None:
    big = tmp_path / "big.txt"
    big.write_text("".join(f"Line {i} of a very long log file.\n" for i in range(3000)))
    report = _index(app, big)
    assert report["files_indexed"] == 1
    assert report["chunks_added"] >= big.stat().st_size // 2000


def test_a_missing_path_is_an_error_not_an_empty_index(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["index", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    _one_error_line(result.stderr, "does not exist")
    assert "Traceback" not in result.output


def test_search_refuses_bad_input_with_one_line(
    app: typer.Typer, tree: Path, pooled: PooledEmbedder
) -> None:
    missing = CliRunner().invoke(app, ["search", "anything"])
    assert missing.exit_code != 0
    _one_error_line(missing.stderr, "ekklesia index")
    _index(app, tree)
    for args, message in (
        (["search", "   "], "empty"),
        (["search", "x", "--mode", "fuzzy"], "--mode"),
        (["search", "x", "--k", "0"], "--k"),
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0, args
        _one_error_line(result.stderr, message)
        assert "Traceback" not in result.output
