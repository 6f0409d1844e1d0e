"""Indexing documents and code repositories into the vector tier, incrementally.

A manifest (SQLite, beside the tables) holds each indexed file's content hash. A run reads every
file under the path, skips those whose hash is unchanged, re-chunks and re-embeds the others,
and removes the chunks of files that are gone. A file's manifest row is written only after its
new chunks are durable, so an interrupted run is finished by the next one. Binary and non-UTF-8
files are skipped and counted; a missing path is an error, not an empty index.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ekklesia.memory.chunking import chunk_file
from ekklesia.memory.embedder import Embedder
from ekklesia.memory.entry import Hit, MemoryEntry, entry_id
from ekklesia.memory.errors import MemoryPathError
from ekklesia.memory.query import Filter, Query, SearchMode
from ekklesia.memory.store import MemoryStore

__all__ = ["SKIP_DIRS", "IndexReport", "Indexer", "Manifest", "index_home", "open_indexer"]

SKIP_DIRS = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})
Progress = Callable[[int, int, int], None]  # files done, files in all, chunks written


class IndexReport(BaseModel):
    """What one indexing run did."""

    path: str
    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    skipped_binary: int = 0
    skipped_not_utf8: int = 0
    skipped_too_large: int = 0
    skipped_unreadable: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    wall_s: float = 0.0
    skipped: list[str] = Field(default_factory=list, description="first 50 skipped, with why")

    @property
    def files_skipped(self) -> int:
        return (
            self.skipped_binary
            + self.skipped_not_utf8
            + self.skipped_too_large
            + self.skipped_unreadable
        )


class Manifest:
    """Indexed files and their content hashes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, digest TEXT NOT NULL, "
            "chunks INTEGER NOT NULL)"
        )

    def under(self, root: str) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT path, digest FROM files WHERE path = ? OR substr(path, 1, ?) = ?",
            (root, len(root) + 1, root.rstrip("/") + "/"),
        )
        return dict(rows.fetchall())

    def record(self, rows: Sequence[tuple[str, str, int]]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT INTO files (path, digest, chunks) VALUES (?, ?, ?) ON CONFLICT(path) "
                "DO UPDATE SET digest = excluded.digest, chunks = excluded.chunks",
                rows,
            )

    def forget(self, paths: Sequence[str]) -> None:
        with self._conn:
            self._conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def close(self) -> None:
        self._conn.close()


@dataclass
class _File:
    path: str
    digest: str
    entries: list[MemoryEntry]
    embed_texts: list[str]
    known: bool


class Indexer:
    """Indexes paths into ``store`` (a vector tier) with ``embedder``; searches what it indexed."""

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        manifest: Path,
        *,
        max_chars: int = 1000,
        max_file_bytes: int = 64 * 1024 * 1024,
        batch_chunks: int = 1024,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.manifest_path = manifest
        self.max_chars = max_chars
        self.max_file_bytes = max_file_bytes
        self.batch_chunks = batch_chunks

    async def index(self, path: str | Path, progress: Progress | None = None) -> IndexReport:
        started = time.perf_counter()
        root = Path(path).expanduser()
        if not root.exists():
            raise MemoryPathError(f"{path} does not exist: there is nothing to index")
        root = root.resolve()
        report = IndexReport(path=str(root))
        manifest = Manifest(self.manifest_path)
        try:
            known = manifest.under(root.as_posix())
            files = sorted(_walk(root))
            report.files_seen = len(files)
            changed: list[_File] = []
            seen: set[str] = set()
            for file in files:
                loaded = self._load(file, known, report)
                if loaded is None:
                    continue
                seen.add(loaded.path)
                if loaded.digest == known.get(loaded.path):
                    report.files_unchanged += 1
                else:
                    changed.append(loaded)
            gone = sorted(set(known) - seen)
            if gone:
                report.chunks_removed += await self.store.delete(Filter(sources=tuple(gone)))
                manifest.forget(gone)
                report.files_deleted = len(gone)
            await self._write(changed, manifest, report, len(files), progress)
        finally:
            manifest.close()
        report.wall_s = time.perf_counter() - started
        return report

    def _load(self, file: Path, known: dict[str, str], report: IndexReport) -> _File | None:
        name = file.as_posix()
        try:
            if file.stat().st_size > self.max_file_bytes:
                _skip(report, "too_large", name)
                return None
            data = file.read_bytes()
        except OSError:
            _skip(report, "unreadable", name)
            return None
        if b"\x00" in data[:8192]:
            _skip(report, "binary", name)
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            _skip(report, "not_utf8", name)
            return None
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        if digest == known.get(name):
            return _File(name, digest, [], [], known=True)
        entries: list[MemoryEntry] = []
        texts: list[str] = []
        for index, chunk in enumerate(chunk_file(file.suffix, text, self.max_chars)):
            entries.append(
                MemoryEntry(
                    id=entry_id("index", f"{name}\x1f{index}\x1f{chunk.text}"),
                    text=chunk.text,
                    scope="global",
                    kind="chunk",
                    source=name,
                    meta={
                        "name": chunk.name,
                        "lang": chunk.kind,
                        "start_line": chunk.start_line,
                        "end_line": chunk.end_line,
                    },
                )
            )
            texts.append(f"{file.name} {chunk.name}\n{chunk.text}")
        return _File(name, digest, entries, texts, known=name in known)

    async def _write(
        self,
        changed: list[_File],
        manifest: Manifest,
        report: IndexReport,
        total: int,
        progress: Progress | None,
    ) -> None:
        done = report.files_unchanged + report.files_skipped
        if progress:
            progress(done, total, 0)
        batches = list(_batches(changed, self.batch_chunks))
        pending = self._embed(batches[0]) if batches else None
        for number, batch in enumerate(batches):
            assert pending is not None
            vectors = await pending
            if number + 1 < len(batches):  # embed the next batch while this one is written
                pending = self._embed(batches[number + 1])
            stale = tuple(f.path for f in batch if f.known)
            if stale:
                report.chunks_removed += await self.store.delete(Filter(sources=stale))
            entries = [e for f in batch for e in f.entries]
            ready = [e.with_vector(v) for e, v in zip(entries, vectors, strict=True)]
            if ready:
                await self.store.put(ready)
            manifest.record([(f.path, f.digest, len(f.entries)) for f in batch])
            report.files_indexed += len(batch)
            report.chunks_added += len(ready)
            report.chunks_embedded += len(ready)
            done += len(batch)
            if progress:
                progress(done, total, report.chunks_added)

    def _embed(self, batch: list[_File]) -> asyncio.Task[Any]:
        texts = [t for f in batch for t in f.embed_texts]
        return asyncio.ensure_future(self.embedder.embed(texts))

    async def search(self, query: str, k: int = 5, mode: SearchMode = "hybrid") -> list[Hit]:
        text = Query(text=query, mode=mode).require_text()
        vector = None if mode == "text" else (await self.embedder.embed([text]))[0]
        return await self.store.search(
            Query(text=text, vector=vector, k=k, mode=mode, where=Filter(kinds=("chunk",)))
        )


def _skip(report: IndexReport, why: str, name: str) -> None:
    setattr(report, f"skipped_{why}", getattr(report, f"skipped_{why}") + 1)
    if len(report.skipped) < 50:
        report.skipped.append(f"{name} ({why.replace('_', ' ')})")


def _walk(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in names:
            candidate = Path(directory, name)
            if not name.startswith(".") and candidate.is_file():
                yield candidate


def _batches(files: list[_File], size: int) -> Iterator[list[_File]]:
    batch: list[_File] = []
    count = 0
    for file in files:
        batch.append(file)
        count += len(file.entries)
        if count >= size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def index_home(name: str = "default") -> Path:
    """Where the index called ``name`` lives: ``$EKKLESIA_HOME/memory/<name>``."""
    from ekklesia.core.paths import data_home

    return data_home() / "memory" / name


def open_indexer(name: str = "default", *, on_ray: bool = True, replicas: int = 1) -> Indexer:
    """The indexer of a named index: on Ray (writer actor, embedder pool), or all in process.

    Searching needs no Ray: ``on_ray=False`` reads the table directly and embeds the query here.
    """
    from ekklesia.memory.embedder import CachedEmbedder
    from ekklesia.memory.embedder_pool import PooledEmbedder
    from ekklesia.memory.minilm import MINILM_DIM, MiniLMEmbedder
    from ekklesia.memory.remote import ActorTier
    from ekklesia.memory.vectors import VectorTierConfig

    home = index_home(name)
    config = VectorTierConfig(uri=str(home / "vectors"), table="chunks", dim=MINILM_DIM)
    if on_ray:
        from ekklesia.runtime.ray_support import ensure_ray

        ensure_ray()
        return Indexer(ActorTier(config), PooledEmbedder(replicas=replicas), home / "index.sqlite")
    return Indexer(
        config.open(writer=True), CachedEmbedder(MiniLMEmbedder()), home / "index.sqlite"
    )
