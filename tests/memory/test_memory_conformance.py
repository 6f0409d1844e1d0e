"""One conformance suite, run against every tier, in process and behind its writer actor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ekklesia.memory import (
    ActorTier,
    ArchiveTierConfig,
    EmptyMemoryText,
    Filter,
    HotStore,
    MemoryEntry,
    MemoryStore,
    Query,
    RecordTierConfig,
    VectorTierConfig,
)
from ekklesia.memory.minilm import MiniLMEmbedder

CORPUS = [
    (
        "The cat sleeps on the warm windowsill all afternoon.",
        "agent:s/alice",
        "note",
        {"topic": "pets"},
    ),
    ("A dog chases the ball across the park.", "agent:s/bob", "note", {"topic": "pets"}),
    (
        "PostgreSQL stores rows in heap pages and uses a write-ahead log.",
        "run:r1",
        "fact",
        {"topic": "db"},
    ),
    ("The database index speeds up lookups by key.", "run:r1", "note", {"topic": "db"}),
    ("Rain is expected over the mountains tomorrow.", "swarm:s", "note", {"topic": "weather"}),
    (
        "Interest rates rose by a quarter point this quarter.",
        "global",
        "summary",
        {"topic": "money"},
    ),
    (
        "Photosynthesis turns sunlight into chemical energy in plants.",
        "global",
        "fact",
        {"topic": "bio"},
    ),
    (
        "The compiler rejects the function because a type does not match.",
        "run:r2",
        "note",
        {"topic": "code"},
    ),
]


def _hot(tmp: Path) -> Any:
    return HotStore()


def _config(kind: str, tmp: Path) -> Any:
    if kind == "vectors":
        return VectorTierConfig(uri=str(tmp / "vectors"))
    if kind == "records":
        return RecordTierConfig(path=str(tmp / "records.sqlite"))
    return ArchiveTierConfig(uri=str(tmp / "archive"))


FACTORIES: dict[str, Callable[[Path], Any]] = {
    "hot": _hot,
    "vectors": lambda tmp: _config("vectors", tmp).open(writer=True),
    "records": lambda tmp: _config("records", tmp).open(writer=True),
    "archive": lambda tmp: _config("archive", tmp).open(writer=True),
    # object-store URIs: LanceDB's in-memory store and Arrow's mock filesystem
    "vectors-uri": lambda tmp: VectorTierConfig(uri=f"memory://{tmp.name}").open(writer=True),
    "archive-uri": lambda tmp: ArchiveTierConfig(uri=f"mock:///{tmp.name}").open(writer=True),
    "vectors-actor": lambda tmp: ActorTier(_config("vectors", tmp)),
    "records-actor": lambda tmp: ActorTier(_config("records", tmp)),
    "archive-actor": lambda tmp: ActorTier(_config("archive", tmp)),
}


@pytest.fixture(scope="module")
def corpus(minilm: MiniLMEmbedder) -> list[MemoryEntry]:
    vectors = minilm.encode([text for text, *_ in CORPUS])
    return [
        MemoryEntry.new(text, scope=scope, kind=kind, meta=meta, source=f"doc{i}.txt").with_vector(
            v
        )  # type: ignore[arg-type]
        for i, ((text, scope, kind, meta), v) in enumerate(zip(CORPUS, vectors, strict=True))
    ]


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MemoryStore]:
    if request.param.endswith("-actor"):
        request.getfixturevalue("ray_session")
    made = FACTORIES[request.param](tmp_path)
    assert isinstance(made, MemoryStore)
    yield made
    await made.close()
    if isinstance(made, ActorTier):
        made.stop_writer()


_VECTORS: dict[str, Any] = {}


def _query(minilm: MiniLMEmbedder, text: str, **kw: Any) -> Query:
    if text not in _VECTORS:
        _VECTORS[text] = minilm.encode([text])[0]
    return Query(text=text, vector=_VECTORS[text], **kw)


async def test_put_then_scan_gives_back_every_field(
    store: MemoryStore, corpus: list[MemoryEntry]
) -> None:
    assert await store.put(corpus) == [e.id for e in corpus]
    assert await store.count() == len(corpus)
    back = {e.id: e for e in await store.scan()}
    for entry in corpus:
        got = back[entry.id]
        assert (got.text, got.scope, got.kind, got.source, got.meta) == (
            entry.text,
            entry.scope,
            entry.kind,
            entry.source,
            entry.meta,
        )
        assert got.vector is not None and entry.vector is not None
        np.testing.assert_allclose(got.vector, entry.vector, rtol=1e-6)
    assert [e.id for e in await store.scan(limit=3)] == sorted(e.id for e in corpus)[:3]


async def test_put_is_an_upsert_by_id(store: MemoryStore, corpus: list[MemoryEntry]) -> None:
    await store.put(corpus[:2])
    changed = corpus[0].model_copy(update={"source": "edited.txt"})
    await store.put([changed])
    assert await store.count() == 2
    assert [e.source for e in await store.scan(Filter(ids=(changed.id,)))] == ["edited.txt"]


async def test_vector_search_ranks_by_cosine(
    store: MemoryStore, corpus: list[MemoryEntry], minilm: MiniLMEmbedder
) -> None:
    await store.put(corpus)
    query = _query(minilm, "a kitten napping in the sun", mode="vector", k=3)
    hits = await store.search(query)
    assert len(hits) == 3
    assert hits[0].text.startswith("The cat sleeps")
    assert all(h.tier == store.tier for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert query.vector is not None
    for hit in hits:
        assert hit.entry.vector is not None
        assert hit.score == pytest.approx(float(hit.entry.vector @ query.vector), abs=1e-3)


async def test_text_search_finds_only_documents_with_the_words(
    store: MemoryStore, corpus: list[MemoryEntry], minilm: MiniLMEmbedder
) -> None:
    await store.put(corpus)
    hits = await store.search(_query(minilm, "database index", mode="text", k=5))
    assert hits and hits[0].text.startswith("The database index")
    assert all("database" in h.text.lower() or "index" in h.text.lower() for h in hits)
    assert await store.search(_query(minilm, "xylophone", mode="text")) == []


async def test_hybrid_search_fuses_both_lists(
    store: MemoryStore, corpus: list[MemoryEntry], minilm: MiniLMEmbedder
) -> None:
    await store.put(corpus)
    hits = await store.search(_query(minilm, "write-ahead log of a database", k=4))
    assert len(hits) == 4
    assert hits[0].text.startswith(("PostgreSQL", "The database index"))
    assert len({h.id for h in hits}) == 4
    assert all(0 < h.score <= 2 / 61 for h in hits)  # reciprocal-rank scores


async def test_filters_hold_in_every_search_mode(
    store: MemoryStore, corpus: list[MemoryEntry], minilm: MiniLMEmbedder
) -> None:
    await store.put(corpus)
    cases = [
        (Filter(scopes=("run:r1",)), {2, 3}),
        (Filter(kinds=("fact",)), {2, 6}),
        (Filter(meta={"topic": "pets"}), {0, 1}),
        (Filter(scopes=("run:r1", "global"), kinds=("fact",)), {2, 6}),
        (Filter(source_prefix="doc1"), {1}),
        (Filter(source="doc7.txt"), {7}),
        (Filter(ids=(corpus[4].id, corpus[5].id)), {4, 5}),
        (Filter(scopes=()), set()),
    ]
    for where, expected in cases:
        ids = {corpus[i].id for i in expected}
        assert await store.count(where) == len(expected), where
        assert {e.id for e in await store.scan(where)} == ids, where
        for mode in ("vector", "hybrid"):
            hits = await store.search(_query(minilm, "the the a", mode=mode, k=10, where=where))
            assert {h.id for h in hits} == ids, (mode, where)
        text_hits = await store.search(_query(minilm, "the", mode="text", k=10, where=where))
        assert {h.id for h in text_hits} <= ids, where


async def test_delete_removes_what_matches_and_says_how_many(
    store: MemoryStore, corpus: list[MemoryEntry]
) -> None:
    await store.put(corpus)
    assert await store.delete(Filter(meta={"topic": "pets"})) == 2
    assert await store.delete(Filter(ids=(corpus[0].id,))) == 0
    assert await store.delete(Filter(ids=(corpus[7].id,))) == 1
    assert await store.count() == len(corpus) - 3
    assert corpus[7].id not in {e.id for e in await store.scan()}


async def test_touched_before_selects_old_entries(
    store: MemoryStore, corpus: list[MemoryEntry]
) -> None:
    old = [e.model_copy(update={"touched_at": 1_000.0}) for e in corpus[:3]]
    await store.put(old + corpus[3:])
    assert {e.id for e in await store.scan(Filter(touched_before=2_000.0))} == {e.id for e in old}


async def test_search_without_text_is_refused(store: MemoryStore, minilm: MiniLMEmbedder) -> None:
    with pytest.raises(EmptyMemoryText):
        await store.search(Query(text="  ", mode="text"))
