"""What a search asks for: a :class:`Query` with a mode and a metadata :class:`Filter`.

A filter is rendered once per tier: as a SQL predicate for LanceDB (DataFusion) and for SQLite,
or checked in Python by the hot and archive tiers. All renderings mean the same thing, which the
conformance suite checks.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ekklesia.memory.entry import EntryKind, MemoryEntry, MetaValue, _tag_value
from ekklesia.memory.errors import EmptyMemoryText

__all__ = ["Filter", "Query", "SearchMode"]

SearchMode = Literal["vector", "text", "hybrid"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Filter(BaseModel):
    """Which entries a search or delete may touch; every field given must hold (AND)."""

    model_config = ConfigDict(frozen=True)

    ids: tuple[str, ...] | None = None
    scopes: tuple[str, ...] | None = None
    kinds: tuple[EntryKind, ...] | None = None
    sources: tuple[str, ...] | None = None
    source: str | None = None
    source_prefix: str | None = None
    meta: dict[str, MetaValue] = Field(default_factory=dict)
    touched_before: float | None = None

    def tags(self) -> list[str]:
        return [f"{k}={_tag_value(v)}" for k, v in sorted(self.meta.items())]

    def matches(self, entry: MemoryEntry) -> bool:
        if self.ids is not None and entry.id not in self.ids:
            return False
        if self.scopes is not None and entry.scope not in self.scopes:
            return False
        if self.kinds is not None and entry.kind not in self.kinds:
            return False
        if self.sources is not None and entry.source not in self.sources:
            return False
        if self.source is not None and entry.source != self.source:
            return False
        if self.source_prefix is not None and not entry.source.startswith(self.source_prefix):
            return False
        if self.touched_before is not None and not entry.touched_at < self.touched_before:
            return False
        have = set(entry.tags())
        return all(tag in have for tag in self.tags())

    def _lists(self) -> list[tuple[str, tuple[str, ...] | None]]:
        return [
            ("id", self.ids),
            ("scope", self.scopes),
            ("kind", self.kinds),
            ("source", self.sources),
        ]

    def lance_sql(self) -> str | None:
        """The filter as a LanceDB ``where`` clause, or ``None`` when it lets everything through."""
        parts: list[str] = []
        for column, values in self._lists():
            if values is not None:
                if not values:
                    return "false"
                parts.append(f"{column} IN ({', '.join(_quote(v) for v in values)})")
        if self.source is not None:
            parts.append(f"source = {_quote(self.source)}")
        if self.source_prefix is not None:
            parts.append(f"starts_with(source, {_quote(self.source_prefix)})")
        if self.touched_before is not None:
            parts.append(f"touched_at < {float(self.touched_before)!r}")
        parts.extend(f"array_has(tags, {_quote(tag)})" for tag in self.tags())
        return " AND ".join(parts) if parts else None

    def sqlite_sql(self, table: str) -> tuple[str, list[Any]]:
        """The filter as a SQLite predicate over ``table`` with its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        for column, values in self._lists():
            if values is not None:
                if not values:
                    return "0", []
                parts.append(f"{table}.{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.source is not None:
            parts.append(f"{table}.source = ?")
            params.append(self.source)
        if self.source_prefix is not None:
            parts.append(f"substr({table}.source, 1, ?) = ?")
            params.extend([len(self.source_prefix), self.source_prefix])
        if self.touched_before is not None:
            parts.append(f"{table}.touched_at < ?")
            params.append(float(self.touched_before))
        for tag in self.tags():
            parts.append(f"EXISTS (SELECT 1 FROM json_each({table}.tags) WHERE value = ?)")
            params.append(tag)
        return (" AND ".join(parts) if parts else "1"), params


class Query(BaseModel):
    """A search: ``text`` for full-text and for the embedder, or a ready ``vector``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    text: str = ""
    vector: np.ndarray[Any, np.dtype[np.float32]] | None = Field(default=None, repr=False)
    k: int = Field(default=10, ge=1, le=10_000)
    mode: SearchMode = "hybrid"
    where: Filter = Field(default_factory=Filter)

    @field_validator("vector", mode="before")
    @classmethod
    def _as_float32(cls, value: Any) -> Any:
        return None if value is None else np.asarray(value, dtype=np.float32)

    def checked(self) -> Query:
        """The query itself, once it is known to hold what its mode needs."""
        if self.mode != "vector":
            self.require_text()
        if self.mode != "text":
            self.require_vector()
        return self

    def require_text(self) -> str:
        if not self.text.strip():
            raise EmptyMemoryText(f"a {self.mode} search needs query text; it is empty")
        return self.text

    def require_vector(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        if self.vector is None:
            raise ValueError(f"a {self.mode} search reached a tier without a query vector")
        return self.vector
