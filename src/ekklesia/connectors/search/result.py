"""What every search provider answers: typed results, and the protocol a provider satisfies."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SearchProvider", "SearchResult"]


class SearchResult(BaseModel):
    """One hit. ``passage`` is the provider's text for it, verbatim (a snippet, a highlight, a
    chunk of a local file); ``url`` is its web address, or ``path`` its file for a local one."""

    model_config = ConfigDict(frozen=True)

    url: str = ""
    path: str | None = None
    title: str = ""
    passage: str = ""
    score: float | None = None
    provider: str = ""
    rank: int = Field(default=0, ge=0, description="1-based position in the provider's answer")


@runtime_checkable
class SearchProvider(Protocol):
    """Anything that turns a query into ranked results: a web API, a local index."""

    name: str

    async def search(self, query: str, k: int = 5) -> list[SearchResult]:
        """At most ``k`` results for ``query``, best first."""
        ...
