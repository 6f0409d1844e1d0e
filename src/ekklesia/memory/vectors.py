"""L2, the vector tier: LanceDB, embedded under the data directory or at an object-store URI.

Writes are merge-inserts by id, retried when LanceDB reports a commit conflict (it rejects one of
two writers that commit against the same table version). Only the tier's writer actor writes;
any process may open the table to read, with strong read consistency, so a search sees every
acknowledged write. The writer keeps the table in shape: a full-text index from the first write,
compaction every ``optimize_every`` commits, and an ANN index once the table holds
``ann_min_rows`` vectors (smaller tables are searched exactly).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.fusion import best_first, reciprocal_rank_fusion
from ekklesia.memory.query import Filter, Query
from ekklesia.memory.schema import entries_from_arrow, entries_to_arrow, entry_schema
from ekklesia.memory.store import fts_terms, hybrid_depth

__all__ = ["LanceStore", "VectorTierConfig", "is_commit_conflict"]

T = TypeVar("T")


class VectorTierConfig(BaseModel):
    """Where the vector tier lives and how it is indexed."""

    model_config = ConfigDict(frozen=True)

    tier: Literal["vectors"] = "vectors"
    uri: str
    table: str = "memories"
    dim: int = Field(default=384, ge=1)
    storage_options: dict[str, str] = Field(default_factory=dict)
    ann_min_rows: int = Field(default=100_000, ge=256)
    ann_index: Literal["IVF_PQ", "IVF_HNSW_SQ"] = "IVF_HNSW_SQ"
    nprobes: int = Field(default=120, ge=1)
    refine_factor: int = Field(default=30, ge=1)
    optimize_every: int = Field(default=64, ge=1)
    conflict_retries: int = Field(default=8, ge=0)

    def open(self, writer: bool = False) -> LanceStore:
        return LanceStore(self, writer=writer)


def is_commit_conflict(exc: BaseException) -> bool:
    """Whether LanceDB refused a commit because another writer committed first."""
    text = str(exc).lower()
    return "conflict" in text or "retryable" in text


class LanceStore:
    """The vector tier; open it with ``writer=True`` only inside the tier's writer actor."""

    tier: Tier = "vectors"

    def __init__(self, config: VectorTierConfig, writer: bool = False) -> None:
        self.config = config
        self.writer = writer
        self.conflicts_retried = 0
        self._db: Any = None
        self._table: Any = None
        self._commits = 0

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._db is None:
            import lancedb

            self._db = lancedb.connect(
                self.config.uri,
                read_consistency_interval=timedelta(0),
                storage_options=self.config.storage_options or None,
            )
        return self._db

    def _open(self, create: bool) -> Any:
        if self._table is None:
            db = self._connect()
            if create:
                self._table = self._retrying(
                    lambda: db.create_table(
                        self.config.table, schema=entry_schema(self.config.dim), exist_ok=True
                    )
                )
            else:
                try:
                    self._table = db.open_table(self.config.table)
                except (FileNotFoundError, ValueError):
                    return None
        return self._table

    def _retrying(self, action: Callable[[], T]) -> T:
        for attempt in range(self.config.conflict_retries + 1):
            try:
                return action()
            except Exception as exc:
                if not is_commit_conflict(exc) or attempt == self.config.conflict_retries:
                    raise
                self.conflicts_retried += 1
                time.sleep(min(0.02 * 2**attempt, 1.0))
        raise AssertionError("unreachable")

    # -- writes --------------------------------------------------------------------------------

    async def put(self, entries: Sequence[MemoryEntry]) -> list[str]:
        if entries:
            await asyncio.to_thread(self._put, entries_to_arrow(entries, self.config.dim))
        return [e.id for e in entries]

    def _put(self, data: pa.Table) -> None:
        table = self._open(create=True)
        self._retrying(
            lambda: (
                table.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )
        )
        self._commits += 1
        self._maintain(table)

    def _maintain(self, table: Any) -> None:
        from lancedb.index import FTS

        indices = {i.index_type for i in table.list_indices()}
        if "FTS" not in indices:
            self._retrying(lambda: table.create_index("text", config=FTS(), replace=True))
        if self._commits % self.config.optimize_every == 0:
            self._retrying(lambda: table.optimize())
        has_ann = bool(indices & {"IVF_PQ", "IVF_HNSW_SQ", "IVF_HNSW_PQ", "IVF_FLAT"})
        if not has_ann and table.count_rows() >= self.config.ann_min_rows:
            self.build_ann_index()

    def build_indexes(self, ann: bool = True) -> None:
        """Compact, and build the full-text index and (with ``ann``) the ANN index now.

        For bulk loads through :meth:`append`; the writer does this by itself as it goes.
        """
        from lancedb.index import FTS

        table = self._open(create=True)
        self._retrying(lambda: table.create_index("text", config=FTS(), replace=True))
        if ann:
            self.build_ann_index()
        self._retrying(lambda: table.optimize())

    def build_ann_index(self) -> None:
        """Build the ANN index over the vectors now (the writer does it by itself past a size)."""
        table = self._open(create=True)
        rows = table.count_rows()
        partitions = max(1, min(4096, int(rows**0.5)))
        self._retrying(
            lambda: table.create_index(
                metric="cosine",
                vector_column_name="vector",
                index_type=self.config.ann_index,
                num_partitions=partitions,
                replace=True,
            )
        )

    async def append(self, data: pa.Table) -> None:
        """Append rows known to be new (no id check): the bulk path of the indexer and benchmark."""
        await asyncio.to_thread(lambda: self._retrying(lambda: self._open(create=True).add(data)))

    async def delete(self, where: Filter) -> int:
        return await asyncio.to_thread(self._delete, where)

    def _delete(self, where: Filter) -> int:
        table = self._open(create=True)
        predicate = where.lance_sql() or "true"
        doomed = int(table.count_rows(predicate))
        if doomed:
            self._retrying(lambda: table.delete(predicate))
            self._commits += 1
        return doomed

    async def optimize(self) -> None:
        table = self._open(create=True)
        await asyncio.to_thread(lambda: self._retrying(lambda: table.optimize()))

    # -- reads ---------------------------------------------------------------------------------

    async def search(self, query: Query) -> list[Hit]:
        return await asyncio.to_thread(self._search, query.checked())

    def _search(self, query: Query) -> list[Hit]:
        table = self._open(create=False)
        if table is None:
            return []
        if query.mode == "vector":
            return self._by_vector(table, query, query.k)
        if query.mode == "text":
            return self._by_text(table, query, query.k)
        depth = hybrid_depth(query.k)
        lists = [self._by_vector(table, query, depth), self._by_text(table, query, depth)]
        return reciprocal_rank_fusion(lists, query.k)

    def _by_vector(self, table: Any, query: Query, k: int, exact: bool = False) -> list[Hit]:
        builder = (
            table.search(query.require_vector(), vector_column_name="vector")
            .distance_type("cosine")
            .limit(k)
            .nprobes(self.config.nprobes)
            .refine_factor(self.config.refine_factor)
        )
        if exact:
            builder = builder.bypass_vector_index()
        where = query.where.lance_sql()
        if where:
            builder = builder.where(where, prefilter=True)
        result = builder.to_arrow()
        scores = [1.0 - d for d in result.column("_distance").to_pylist()]
        return self._hits(result, scores)

    def exact_search(self, query: Query) -> list[Hit]:
        """Vector search that ignores the ANN index: the ground truth for its recall."""
        table = self._open(create=False)
        return [] if table is None else self._by_vector(table, query, query.k, exact=True)

    def _by_text(self, table: Any, query: Query, k: int) -> list[Hit]:
        terms = fts_terms(query.require_text())
        if not terms:
            return []
        builder = table.search(" ".join(terms), query_type="fts", fts_columns="text").limit(k)
        where = query.where.lance_sql()
        if where:
            builder = builder.where(where, prefilter=True)
        try:
            result = builder.to_arrow()
        except Exception as exc:
            if "index" in str(exc).lower():  # the writer has not built the text index yet
                return []
            raise
        return self._hits(result, result.column("_score").to_pylist())

    def _hits(self, result: pa.Table, scores: list[float]) -> list[Hit]:
        entries = entries_from_arrow(result)
        hits = [
            Hit(entry=e, tier=self.tier, score=float(s))
            for e, s in zip(entries, scores, strict=True)
        ]
        return best_first(hits)

    async def scan(
        self, where: Filter | None = None, limit: int | None = None
    ) -> list[MemoryEntry]:
        return await asyncio.to_thread(self._scan, where or Filter(), limit)

    def _scan(self, where: Filter, limit: int | None) -> list[MemoryEntry]:
        table = self._open(create=False)
        if table is None:
            return []
        builder = table.search()
        predicate = where.lance_sql()
        if predicate:
            builder = builder.where(predicate)
        entries = sorted(entries_from_arrow(builder.limit(None).to_arrow()), key=lambda e: e.id)
        return entries if limit is None else entries[:limit]

    async def count(self, where: Filter | None = None) -> int:
        table = await asyncio.to_thread(self._open, False)
        if table is None:
            return 0
        predicate = (where or Filter()).lance_sql()
        return int(await asyncio.to_thread(table.count_rows, predicate))

    async def close(self) -> None:
        self._table = None
        self._db = None
