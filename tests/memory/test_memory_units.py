"""The small parts: scopes, entries, the hot tier's LRU and TTL, chunking, fusion, exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ekklesia.memory as memory_pkg
from ekklesia.memory import (
    ArchiveTierConfig,
    EmptyMemoryText,
    Filter,
    Hit,
    HotStore,
    LanceStore,
    MemoryConfigError,
    MemoryEntry,
    Query,
    Scope,
    VectorTierConfig,
)
from ekklesia.memory.chunking import chunk_file
from ekklesia.memory.fusion import reciprocal_rank_fusion, rescore_text
from ekklesia.memory.text import tokenize
from ekklesia.memory.vectors import is_commit_conflict


def test_scopes_parse_and_refuse_nonsense() -> None:
    assert Scope.from_str("run:r-1") == Scope("run", "r-1")
    assert str(Scope.from_str("global")) == "global"
    for bad in ("planet:x", "run", "global:x", "agent:it's"):
        with pytest.raises(MemoryConfigError):
            Scope.from_str(bad)


def test_entry_ids_follow_scope_and_text_or_key() -> None:
    a = MemoryEntry.new("same words", scope="run:a")
    assert a.id == MemoryEntry.new("same words", scope="run:a").id
    assert a.id != MemoryEntry.new("same words", scope="run:b").id
    keyed = MemoryEntry.new("v1", scope="run:a", key="plan")
    assert keyed.id == MemoryEntry.new("v2", scope="run:a", key="plan").id
    assert keyed.tags() == ["key=plan"]
    assert MemoryEntry.new("x", meta={"ok": True, "n": 3}).tags() == ["n=3", "ok=true"]
    with pytest.raises(EmptyMemoryText):
        MemoryEntry.new("\n\t ")


def _entry(text: str, vector: list[float]) -> MemoryEntry:
    return MemoryEntry.new(text).with_vector(np.asarray(vector, dtype=np.float32))


async def test_hot_tier_forgets_after_its_ttl_and_evicts_the_least_recently_used() -> None:
    now = [0.0]
    hot = HotStore(capacity=2, ttl_s=10.0, clock=lambda: now[0])
    a, b, c = _entry("a", [1, 0]), _entry("b", [0, 1]), _entry("c", [1, 1])
    await hot.put([a, b])
    await hot.search(Query(text="a", vector=[1, 0], mode="vector", k=1))  # a is used: b is older
    await hot.put([c])
    assert {e.text for e in await hot.scan()} == {"a", "c"}
    now[0] = 10.5
    assert await hot.count() == 0


def test_python_is_chunked_by_definitions_and_big_classes_by_methods() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(80))
    source = (
        '"""Module."""\nimport os\n\n\n@decorator\ndef small():\n    return 1\n\n\n'
        f"class Big:\n    attr = 1\n\n    def one(self):\n{body}\n\n"
        "    def two(self):\n        pass\n"
    )
    chunks = chunk_file(".py", source, max_chars=600)
    names = [c.name for c in chunks]
    assert names[:4] == ["module", "small", "Big", "Big.one"] and names[-1] == "Big.two"
    assert chunks[1].text.startswith("@decorator") and chunks[1].start_line == 5
    assert all(len(c.text) <= 600 for c in chunks)
    assert "".join(c.text for c in chunks).count("x79 = 79") == 1


def test_markdown_is_chunked_at_headings_outside_code_fences() -> None:
    text = (
        "# Guide\nintro\n\n## Install\n```sh\n# not a heading\npip install x\n```\n## Use\nrun it\n"
    )
    chunks = chunk_file(".md", text)
    assert [c.name for c in chunks] == ["Guide", "Guide > Install", "Guide > Use"]
    assert "# not a heading" in chunks[1].text


def test_broken_python_long_lines_and_plain_text_are_cut_by_size() -> None:
    assert chunk_file(".py", "def broken(:\n    pass\n")[0].kind == "code"
    minified = chunk_file(".js", "x=1;" * 2000, max_chars=1000)
    assert len(minified) == 8 and all(len(c.text) <= 1000 for c in minified)
    paragraphs = "\n\n".join("word " * 100 for _ in range(10))
    assert all(len(c.text) <= 1200 for c in chunk_file(".txt", paragraphs, max_chars=1200))
    assert chunk_file(".txt", "   \n\n  ") == []


def _hit(text: str, score: float) -> Hit:
    return Hit(entry=MemoryEntry.new(text), tier="vectors", score=score)


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    a, b, c = _hit("a", 0.9), _hit("b", 0.8), _hit("c", 0.7)
    fused = reciprocal_rank_fusion([[a, b, c], [b, c]], k=3)
    assert [h.text for h in fused] == ["b", "c", "a"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_text_hits_are_scored_again_together() -> None:
    # the same documents scored by two different indexes come out in one order
    one = [_hit("apples and pears", 9.0), _hit("apples apples apples", 1.0)]
    other = [_hit("apples apples apples", 0.1)]
    ranked = rescore_text("apples", [one, other], k=5)
    assert [h.text for h in ranked] == ["apples apples apples", "apples and pears"]
    assert tokenize("parseHTTPRequest v2") == ["parsehttprequest", "parse", "httprequest", "v2"]


async def test_archive_reads_resolve_a_duplicate_left_by_an_interrupted_move(
    tmp_path: Path,
) -> None:
    store = ArchiveTierConfig(uri=str(tmp_path / "archive"), dim=2).open(writer=True)
    old = _entry("v1", [1, 0]).model_copy(update={"id": "same"})
    new = _entry("v2", [0, 1]).model_copy(update={"id": "same"})
    await store.put([old])
    (first,) = sorted((tmp_path / "archive").glob("part-*.parquet"))
    kept = first.read_bytes()
    await store.put([new])  # writes the new part, then rewrites the old one without the id
    first.write_bytes(kept)  # as if the process had died before that rewrite
    assert [e.text for e in await store.scan()] == ["v2"]
    assert await store.delete(Filter(ids=("same",))) == 1
    assert await store.count() == 0


def test_the_package_exports_what_it_says() -> None:
    for name in memory_pkg.__all__:
        assert getattr(memory_pkg, name) is not None, name
    assert {"Memory", "MemoryStore", "Router", "Embedder", "HotStore", "LanceStore"} <= set(
        memory_pkg.__all__
    )


def test_commit_conflicts_are_recognised() -> None:
    assert is_commit_conflict(RuntimeError("Commit conflict for version 7: concurrent delete"))
    assert is_commit_conflict(OSError("Retryable commit conflict"))
    assert not is_commit_conflict(ValueError("no such column: vector"))


async def test_two_writers_on_one_table_both_land(tmp_path: Path) -> None:
    """Two writers (as after a writer actor was started twice) upsert and delete concurrently."""
    import asyncio

    config = VectorTierConfig(uri=str(tmp_path / "v"), dim=2)
    first, second = config.open(writer=True), config.open(writer=True)
    await first.put([_entry("seed", [1, 0])])

    async def write(store: LanceStore, name: str) -> None:
        for i in range(15):
            await store.put([_entry(f"{name} {i}", [1, float(i)])])
            if i % 3 == 0:
                await store.delete(Filter(ids=(MemoryEntry.new(f"{name} {i}").id,)))

    await asyncio.gather(write(first, "left"), write(second, "right"))
    texts = {e.text for e in await config.open().scan()}
    expected = {"seed"} | {f"{n} {i}" for n in ("left", "right") for i in range(15) if i % 3}
    assert texts == expected
