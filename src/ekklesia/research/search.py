"""``web_search``: one tool that asks every chosen provider every query, in parallel.

Providers are ``local`` (what ``ekklesia index`` indexed: the index's folder is resolved where the
run starts and passed as an argument, so a host actor reads the same index whatever its
environment) and the web APIs of :mod:`ekklesia.connectors.search`. Every call is a recorded
``tool_call`` event and replays from the record. Hits come back per query, then per provider in
the order asked, then by rank — an order fixed by the arguments, never by which answer came first.
A provider that fails is reported in ``failures`` and the others' hits still count; the call fails
only when every provider failed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.connectors.search import (
    PROVIDERS,
    HttpSearchProvider,
    SearchResult,
    search_provider,
)
from ekklesia.connectors.secrets import redact
from ekklesia.errors import ToolError, UserError
from ekklesia.memory.indexer import Indexer, index_home
from ekklesia.memory.query import SearchMode
from ekklesia.tools.base import Tool
from ekklesia.tools.registry import register_tool

__all__ = [
    "PROVIDER_NAMES",
    "LocalSearch",
    "SearchAnswer",
    "SearchFailure",
    "SearchHit",
    "local_index",
    "web_search",
]

#: Every provider ``--provider`` accepts.
PROVIDER_NAMES: tuple[str, ...] = ("local", *sorted(PROVIDERS))


class SearchHit(SearchResult):
    """A result, with the query that found it."""

    query: str


class SearchFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str
    query: str
    error: str


class SearchAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    hits: list[SearchHit] = Field(default_factory=list)
    failures: list[SearchFailure] = Field(default_factory=list)


def local_index(name: str = "default") -> str:
    """The folder of the index called ``name``; a one-line error when nothing was indexed."""
    home = index_home(name)
    if not (home / "index.sqlite").exists():
        raise UserError(
            f"no index called {name!r} yet: run `ekklesia index PATH"
            + ("" if name == "default" else f" --name {name}")
            + "` first (--index names which one to search)"
        )
    return str(home)


class LocalSearch:
    """Searches an index folder written by :class:`~ekklesia.memory.indexer.Indexer`."""

    name = "local"
    _open: ClassVar[dict[str, Indexer]] = {}  # one per folder and process: the embedder loads once

    def __init__(self, folder: str, mode: SearchMode = "hybrid") -> None:
        self.folder = folder
        self.mode = mode

    def _indexer(self) -> Indexer:
        found = self._open.get(self.folder)
        if found is None:
            from ekklesia.memory.embedder import CachedEmbedder
            from ekklesia.memory.minilm import MINILM_DIM, MiniLMEmbedder
            from ekklesia.memory.vectors import VectorTierConfig

            home = Path(self.folder)
            config = VectorTierConfig(uri=str(home / "vectors"), table="chunks", dim=MINILM_DIM)
            found = Indexer(config.open(), CachedEmbedder(MiniLMEmbedder()), home / "index.sqlite")
            self._open[self.folder] = found
        return found

    async def search(self, query: str, k: int = 5) -> list[SearchResult]:
        hits = await self._indexer().search(query, k=k, mode=self.mode)
        return [
            SearchResult(
                path=hit.source,
                title=_title(hit.source, hit.entry.meta.get("name")),
                passage=hit.text,
                score=round(hit.score, 6),
                provider="local",
                rank=rank,
            )
            for rank, hit in enumerate(hits, start=1)
        ]


_providers: dict[tuple[str, str | None], HttpSearchProvider] = {}


def _web(name: str, base_url: str | None) -> HttpSearchProvider:
    """One provider per name and base URL in a process, so its pooled connections are reused
    across calls (each event loop's client closes with that loop)."""
    found = _providers.get((name, base_url))
    if found is None:
        found = _providers[(name, base_url)] = search_provider(name, base_url=base_url)
    return found


def _title(source: str, name: object) -> str:
    base = Path(source).name
    return f"{base} {name}".strip() if isinstance(name, str) and name else base


async def _web_search(
    queries: list[str],
    providers: list[str] = ["local"],  # noqa: B006 - pydantic copies defaults
    k: int = 5,
    index: str | None = None,
    mode: Literal["vector", "text", "hybrid"] = "hybrid",
    endpoints: dict[str, str] = {},  # noqa: B006
) -> SearchAnswer:
    """Search the web (tavily, exa, serper, perplexity) and indexed documents (local)."""
    if not queries:
        raise ToolError("web_search needs at least one query")
    if unknown := [p for p in providers if p not in PROVIDER_NAMES]:
        raise ToolError(f"unknown search providers {unknown} (known: {', '.join(PROVIDER_NAMES)})")
    if "local" in providers and not index:
        raise ToolError("the local provider needs the index folder (index=...)")
    if k < 1:
        raise ToolError(f"k must be >= 1, got {k}")

    async def one(provider: str, query: str) -> list[SearchResult] | SearchFailure:
        try:
            if provider == "local":
                assert index is not None
                return await LocalSearch(index, mode).search(query, k)
            return await _web(provider, endpoints.get(provider)).search(query, k)
        except Exception as exc:  # one provider's failure is reported; the others still count
            message = redact(f"{type(exc).__name__}: {exc}")
            return SearchFailure(provider=provider, query=query, error=message)

    pairs = [(p, q) for q in queries for p in providers]
    answers = await asyncio.gather(*(one(p, q) for p, q in pairs))
    out = SearchAnswer()
    for (_, query), answer in zip(pairs, answers, strict=True):
        if isinstance(answer, SearchFailure):
            out.failures.append(answer)
        else:
            out.hits.extend(SearchHit(**r.model_dump(), query=query) for r in answer)
    if len(out.failures) == len(pairs):
        raise ToolError("every search failed: " + "; ".join(f.error for f in out.failures[:3]))
    return out


#: Every provider, every query, in parallel; recorded and replayable like every tool call.
web_search: Tool[SearchAnswer] = Tool(_web_search, name="web_search", timeout_s=120.0)
register_tool(web_search)
