"""The bodies the HTTP API reads and writes, with the examples its OpenAPI document shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ekklesia.memory.entry import EntryKind, MetaValue
from ekklesia.memory.query import SearchMode
from ekklesia.patterns.spec import RunSpec

__all__ = [
    "EmbeddingsRequest",
    "EntryIn",
    "Filter",
    "IndexRequest",
    "RunStatus",
    "SearchRequest",
    "StartRun",
    "TaskIn",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

SPEC_EXAMPLE: dict[str, JsonValue] = {"pattern": "debate", "agents": 3, "rounds": 2, "model": "sim"}


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=100_000)
    expected: str | None = None
    id: str = Field(default="task", min_length=1, max_length=200)


class StartRun(BaseModel):
    """A run of ``spec`` on one ``task``, or on ``count`` tasks of a ``suite``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"spec": SPEC_EXAMPLE, "task": {"prompt": "What is 17 + 25?", "expected": "42"}},
                {"spec": SPEC_EXAMPLE, "suite": "arithmetic", "count": 3},
            ]
        },
    )

    spec: RunSpec = Field(default_factory=RunSpec)
    task: TaskIn | None = None
    suite: str | None = Field(default=None, min_length=1)
    count: int = Field(default=1, ge=1, le=1000)


class EmbeddingsRequest(BaseModel):
    """The OpenAI embeddings request."""

    model_config = ConfigDict(
        extra="allow",  # OpenAI clients may send fields this server does not use (user, …)
        json_schema_extra={
            "examples": [
                {"input": "a short text", "model": "all-MiniLM-L6-v2"},
                {"input": ["one", "two"], "model": "all-MiniLM-L6-v2", "encoding_format": "base64"},
            ]
        },
    )

    input: str | list[str] = Field(min_length=1)
    model: str = "all-MiniLM-L6-v2"
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class Filter(BaseModel):
    """Which entries a search may return; every field given must hold."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = None
    scopes: list[str] | None = None
    kinds: list[EntryKind] | None = None
    sources: list[str] | None = None
    source_prefix: str | None = None
    meta: dict[str, MetaValue] = Field(default_factory=dict)


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "how are timelines stored?", "mode": "hybrid", "k": 5},
                {"query": "ledger", "mode": "text", "k": 3, "where": {"kinds": ["chunk"]}},
            ]
        },
    )

    query: str = Field(min_length=1, max_length=10_000)
    mode: SearchMode = "hybrid"
    k: int = Field(default=5, ge=1, le=1000)
    where: Filter = Field(default_factory=Filter)


class EntryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "the deploy window is Tuesday", "kind": "fact", "meta": {}}]
        },
    )

    text: str = Field(min_length=1, max_length=100_000, pattern=r"\S")
    scope: str = "global"
    kind: EntryKind = "note"
    source: str = ""
    meta: dict[str, MetaValue] = Field(default_factory=dict)
    key: str | None = None


class IndexRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"path": "/srv/docs", "name": "default"}]},
    )

    path: str = Field(min_length=1)
    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def example(value: Any, status: int = 200, description: str = "OK") -> dict[int | str, Any]:
    """A route's documented response with an example body."""
    return {
        status: {"description": description, "content": {"application/json": {"example": value}}}
    }
