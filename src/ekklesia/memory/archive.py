"""L4, the archive tier: Parquet files in a directory or under an object-store URI.

Entries demoted from the vector tier land here and stay searchable (exact vector search, BM25
text search). Each write is one new immutable part file, named ``part-<seq>-<gen>.parquet``; the
newest copy of an id wins on read, so a replaced or deleted entry first gets its new state written,
then the older parts are rewritten without it (same ``seq``, next ``gen``). A crash between the two
steps leaves a duplicate that reads resolve, never a lost acknowledged write. Local files are
written to a temporary name, fsynced and renamed.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Sequence
from typing import Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.schema import entries_from_arrow, entries_to_arrow
from ekklesia.memory.store import search_entries

__all__ = ["ArchiveTierConfig", "ParquetStore"]

_PART = re.compile(r"^part-(\d{20})-(\d{6})\.parquet$")


class ArchiveTierConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: Literal["archive"] = "archive"
    uri: str
    dim: int = Field(default=384, ge=1)
    #: Past this many part files the writer merges them into one.
    max_parts: int = Field(default=32, ge=2)

    def open(self, writer: bool = False) -> ParquetStore:
        return ParquetStore(self, writer=writer)


class ParquetStore:
    tier: Tier = "archive"

    def __init__(self, config: ArchiveTierConfig, writer: bool = False) -> None:
        self.config = config
        self.writer = writer
        if "://" in config.uri:
            self._fs, self._base = pafs.FileSystem.from_uri(config.uri)
        else:
            self._fs, self._base = pafs.LocalFileSystem(), os.path.abspath(config.uri)
        self._local = isinstance(self._fs, pafs.LocalFileSystem)
        self._cache: dict[str, list[MemoryEntry]] = {}
        self._last_seq = 0

    # -- files ---------------------------------------------------------------------------------

    def _parts(self) -> list[tuple[int, int, str]]:
        selector = pafs.FileSelector(self._base, allow_not_found=True)
        found = []
        for info in self._fs.get_file_info(selector):
            match = _PART.match(info.base_name)
            if match:
                found.append((int(match.group(1)), int(match.group(2)), info.base_name))
        return sorted(found)

    def _read(self, name: str) -> list[MemoryEntry]:
        if name not in self._cache:
            with self._fs.open_input_file(f"{self._base}/{name}") as handle:
                self._cache[name] = entries_from_arrow(pq.read_table(handle))
        return self._cache[name]

    def _write(self, name: str, table: pa.Table) -> None:
        path = f"{self._base}/{name}"
        if not self._local:
            self._fs.create_dir(self._base, recursive=True)  # a no-op on object stores
            with self._fs.open_output_stream(path) as out:
                pq.write_table(table, out)
            return
        os.makedirs(self._base, exist_ok=True)
        tmp = f"{self._base}/.{name}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as out:
            pq.write_table(table, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        directory = os.open(self._base, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _next_seq(self, parts: list[tuple[int, int, str]]) -> int:
        newest = parts[-1][0] if parts else 0
        self._last_seq = max(time.time_ns(), newest + 1, self._last_seq + 1)
        return self._last_seq

    def _live(self) -> list[MemoryEntry]:
        """Every entry once: the copy in the newest part wins."""
        parts = self._parts()
        names = {name for _, _, name in parts}
        for stale in set(self._cache) - names:
            del self._cache[stale]
        newest: dict[str, MemoryEntry] = {}
        for _, _, name in parts:
            for entry in self._read(name):
                newest[entry.id] = entry
        return list(newest.values())

    # -- writes --------------------------------------------------------------------------------

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        if entries:
            await asyncio.to_thread(self._put, list(entries))
        return [e.id for e in entries]

    def _put(self, entries: list[MemoryEntry]) -> None:
        unique = list({e.id: e for e in entries}.values())
        parts = self._parts()
        self._write(
            f"part-{self._next_seq(parts):020d}-000000.parquet",
            entries_to_arrow(unique, self.config.dim),
        )
        self._drop({e.id for e in unique}, parts)
        self._compact()

    def _drop(self, ids: set[str], parts: list[tuple[int, int, str]]) -> int:
        """Rewrite the given parts without ``ids``; return how many rows went."""
        dropped = 0
        for seq, gen, name in parts:
            entries = self._read(name)
            kept = [e for e in entries if e.id not in ids]
            if len(kept) == len(entries):
                continue
            dropped += len(entries) - len(kept)
            if kept:
                self._write(
                    f"part-{seq:020d}-{gen + 1:06d}.parquet",
                    entries_to_arrow(kept, self.config.dim),
                )
            self._fs.delete_file(f"{self._base}/{name}")
        return dropped

    def _compact(self) -> None:
        parts = self._parts()
        if len(parts) <= self.config.max_parts:
            return
        live = self._live()
        seq, gen, _ = parts[-1]
        merged = f"part-{seq:020d}-{gen + 1:06d}.parquet"
        self._write(merged, entries_to_arrow(sorted(live, key=lambda e: e.id), self.config.dim))
        for _, _, name in parts:
            self._fs.delete_file(f"{self._base}/{name}")

    async def delete(self, where: Filter) -> int:
        def remove() -> int:
            doomed = {e.id for e in self._live() if where.matches(e)}
            if doomed:
                self._drop(doomed, self._parts())
            return len(doomed)

        return await asyncio.to_thread(remove)

    # -- reads ---------------------------------------------------------------------------------

    async def search(self, query: Query) -> list[Hit]:
        return await asyncio.to_thread(lambda: search_entries(self._live(), query, self.tier))

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        where = where or Filter()

        def matching() -> list[MemoryEntry]:
            found = sorted((e for e in self._live() if where.matches(e)), key=lambda e: e.id)
            return found if limit is None else found[:limit]

        return await asyncio.to_thread(matching)

    async def count(self, where: Filter | None = None) -> int:
        return len(await self.scan(where))

    async def close(self) -> None:
        self._cache.clear()
