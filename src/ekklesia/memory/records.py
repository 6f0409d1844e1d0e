"""L3, the records tier: SQLite, for facts, key-value entries and run summaries.

One file per memory, in WAL mode so that readers in any process never block the one writer. A
write is acknowledged after its transaction commits with ``synchronous=FULL``. Full-text search is
SQLite's FTS5 (BM25); vector search is exact, over the vectors stored beside each record — this
tier holds the small, precise things, not bulk text.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.fusion import best_first, reciprocal_rank_fusion
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.store import fts_terms, hybrid_depth, search_entries

__all__ = ["RecordTierConfig", "SqliteStore"]

T = TypeVar("T")
_COLUMNS = "id, text, scope, kind, source, tags, meta, created_at, touched_at, vector"


class RecordTierConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: Literal["records"] = "records"
    path: str
    table: str = Field(default="records", pattern=r"^[a-z_][a-z0-9_]*$")
    dim: int = Field(default=384, ge=1)

    def open(self, writer: bool = False) -> SqliteStore:
        return SqliteStore(self, writer=writer)


class SqliteStore:
    tier: Tier = "records"

    def __init__(self, config: RecordTierConfig, writer: bool = False) -> None:
        self.config = config
        self.writer = writer
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            path = Path(self.config.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._create(conn)
            if not self.writer:
                conn.execute("PRAGMA query_only=1")
            self._conn = conn
        return self._conn

    def _create(self, conn: sqlite3.Connection) -> None:
        t = self.config.table
        conn.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS {t} (
                id TEXT PRIMARY KEY, text TEXT NOT NULL, scope TEXT NOT NULL, kind TEXT NOT NULL,
                source TEXT NOT NULL, tags TEXT NOT NULL, meta TEXT NOT NULL,
                created_at REAL NOT NULL, touched_at REAL NOT NULL, vector BLOB);
            CREATE INDEX IF NOT EXISTS {t}_scope ON {t}(scope);
            CREATE VIRTUAL TABLE IF NOT EXISTS {t}_fts USING fts5(
                text, content='{t}', content_rowid='rowid', tokenize='porter unicode61');
            CREATE TRIGGER IF NOT EXISTS {t}_ai AFTER INSERT ON {t} BEGIN
                INSERT INTO {t}_fts(rowid, text) VALUES (new.rowid, new.text); END;
            CREATE TRIGGER IF NOT EXISTS {t}_ad AFTER DELETE ON {t} BEGIN
                INSERT INTO {t}_fts({t}_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
            END;
            CREATE TRIGGER IF NOT EXISTS {t}_au AFTER UPDATE ON {t} BEGIN
                INSERT INTO {t}_fts({t}_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
                INSERT INTO {t}_fts(rowid, text) VALUES (new.rowid, new.text); END;
            """
        )

    async def _run(self, action: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return action(self._connection())

        return await asyncio.to_thread(locked)

    # -- writes --------------------------------------------------------------------------------

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        rows = [_row(e, self.config.dim) for e in entries]
        t = self.config.table
        sql = (
            f"INSERT INTO {t} ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE "
            "SET text=excluded.text, scope=excluded.scope, kind=excluded.kind, "
            "source=excluded.source, tags=excluded.tags, meta=excluded.meta, "
            "created_at=excluded.created_at, touched_at=excluded.touched_at, vector=excluded.vector"
        )

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany(sql, rows)

        if rows:
            await self._run(write)
        return [e.id for e in entries]

    async def delete(self, where: Filter) -> int:
        predicate, params = where.sqlite_sql(self.config.table)

        def remove(conn: sqlite3.Connection) -> int:
            with conn:
                cursor = conn.execute(f"DELETE FROM {self.config.table} WHERE {predicate}", params)
            return cursor.rowcount

        return await self._run(remove)

    # -- reads ---------------------------------------------------------------------------------

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        predicate, params = (where or Filter()).sqlite_sql(self.config.table)
        sql = f"SELECT {_COLUMNS} FROM {self.config.table} WHERE {predicate} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [_entry(row) for row in rows]

    async def count(self, where: Filter | None = None) -> int:
        predicate, params = (where or Filter()).sqlite_sql(self.config.table)
        sql = f"SELECT count(*) FROM {self.config.table} WHERE {predicate}"
        row = await self._run(lambda conn: conn.execute(sql, params).fetchone())
        return int(row[0])

    async def search(self, query: Query) -> list[Hit]:
        query = query.checked()
        if query.mode == "vector":
            return await self._by_vector(query, query.k)
        if query.mode == "text":
            return await self._by_text(query, query.k)
        depth = hybrid_depth(query.k)
        lists = [await self._by_vector(query, depth), await self._by_text(query, depth)]
        return reciprocal_rank_fusion(lists, query.k)

    async def _by_vector(self, query: Query, k: int) -> list[Hit]:
        candidates = await self.scan(query.where)
        return search_entries(
            candidates, query.model_copy(update={"mode": "vector", "k": k}), self.tier
        )

    async def _by_text(self, query: Query, k: int) -> list[Hit]:
        terms = fts_terms(query.require_text())
        if not terms:
            return []
        t = self.config.table
        predicate, params = query.where.sqlite_sql(t)
        columns = ", ".join(f"{t}.{c.strip()}" for c in _COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, -bm25({t}_fts) AS score FROM {t}_fts "
            f"JOIN {t} ON {t}.rowid = {t}_fts.rowid "
            f"WHERE {t}_fts MATCH ? AND {predicate} ORDER BY score DESC, {t}.id LIMIT ?"
        )
        match = " OR ".join(f'"{term}"' for term in terms)
        rows = await self._run(lambda conn: conn.execute(sql, [match, *params, k]).fetchall())
        return best_first(
            Hit(entry=_entry(row[:-1]), tier=self.tier, score=row[-1]) for row in rows
        )

    async def close(self) -> None:
        def shut() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(shut)


def _row(entry: MemoryEntry, dim: int) -> tuple[Any, ...]:
    vector = None
    if entry.vector is not None:
        if entry.vector.shape != (dim,):
            raise ValueError(f"entry {entry.id} has a vector of {entry.vector.shape}, not ({dim},)")
        vector = entry.vector.astype(np.float32).tobytes()
    return (
        entry.id,
        entry.text,
        entry.scope,
        entry.kind,
        entry.source,
        json.dumps(entry.tags()),
        json.dumps(entry.meta, sort_keys=True),
        entry.created_at,
        entry.touched_at,
        vector,
    )


def _entry(row: Sequence[Any]) -> MemoryEntry:
    vector = None if row[9] is None else np.frombuffer(row[9], dtype=np.float32).copy()
    return MemoryEntry.model_construct(
        id=row[0],
        text=row[1],
        scope=row[2],
        kind=row[3],
        source=row[4],
        meta=json.loads(row[6]),
        created_at=row[7],
        touched_at=row[8],
        vector=vector,
    )
