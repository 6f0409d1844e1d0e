"""What memory holds (:class:`MemoryEntry`) and what a search returns (:class:`Hit`)."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ekklesia.memory.errors import EmptyMemoryText

__all__ = [
    "TIERS",
    "EntryKind",
    "Hit",
    "MemoryEntry",
    "MetaValue",
    "Tier",
    "content_digest",
    "entry_id",
]

Tier = Literal["hot", "vectors", "records", "archive"]
TIERS: tuple[Tier, ...] = ("hot", "vectors", "records", "archive")
#: ``note``: something an agent remembers; ``fact``, ``kv`` and ``summary`` are records;
#: ``chunk``: a piece of an indexed document.
EntryKind = Literal["note", "fact", "kv", "summary", "chunk"]
MetaValue = str | int | float | bool


def content_digest(text: str) -> str:
    """A short digest of ``text`` alone: the same on every machine and in every run."""
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def entry_id(scope: str, text: str, key: str | None = None) -> str:
    """The id of an entry: remembering the same text (or key) in the same scope is idempotent."""
    body = f"key\x1f{key}" if key is not None else f"text\x1f{text}"
    return hashlib.blake2b(f"{scope}\x1e{body}".encode(), digest_size=12).hexdigest()


class MemoryEntry(BaseModel):
    """One remembered thing. ``vector`` is filled in by the embedder before it reaches a tier."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    text: str
    scope: str = "global"
    kind: EntryKind = "note"
    source: str = ""
    meta: dict[str, MetaValue] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    #: When the entry was last written or promoted; demotion goes by this age.
    touched_at: float = Field(default_factory=time.time)
    vector: np.ndarray[Any, np.dtype[np.float32]] | None = Field(default=None, repr=False)

    @field_validator("text")
    @classmethod
    def _not_empty(cls, text: str) -> str:
        if not text.strip():
            raise EmptyMemoryText("memory text is empty: there is nothing to remember")
        return text

    @field_validator("vector", mode="before")
    @classmethod
    def _as_float32(cls, value: Any) -> Any:
        if value is None:
            return None
        array = np.asarray(value, dtype=np.float32)
        if array.ndim != 1:
            raise ValueError(f"a vector must be one-dimensional, got shape {array.shape}")
        return array

    @classmethod
    def new(
        cls,
        text: str,
        *,
        scope: str = "global",
        kind: EntryKind = "note",
        source: str = "",
        meta: dict[str, MetaValue] | None = None,
        key: str | None = None,
    ) -> MemoryEntry:
        """An entry whose id follows from its scope and text (or key)."""
        if not text.strip():
            raise EmptyMemoryText("memory text is empty: there is nothing to remember")
        meta = dict(meta or {})
        if key is not None:
            meta["key"] = key
        return cls(
            id=entry_id(scope, text, key),
            text=text,
            scope=scope,
            kind=kind,
            source=source,
            meta=meta,
        )

    def with_vector(self, vector: np.ndarray[Any, np.dtype[np.float32]]) -> MemoryEntry:
        return self.model_copy(update={"vector": np.asarray(vector, dtype=np.float32)})

    def tags(self) -> list[str]:
        """The metadata as ``key=value`` strings: the form every tier filters on."""
        return [f"{k}={_tag_value(v)}" for k, v in sorted(self.meta.items())]


def _tag_value(value: MetaValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Hit(BaseModel):
    """One search result: the entry, the tier it was found in and its score there.

    Scores are cosine similarity for vector search, BM25 for text search and reciprocal-rank
    fusion for hybrid search; higher is better.
    """

    model_config = ConfigDict(frozen=True)

    entry: MemoryEntry
    tier: Tier
    score: float

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def text(self) -> str:
        return self.entry.text

    @property
    def scope(self) -> str:
        return self.entry.scope

    @property
    def source(self) -> str:
        return self.entry.source
