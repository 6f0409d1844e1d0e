"""Tavily: ``POST https://api.tavily.com/search`` with ``Authorization: Bearer <key>``.

Request ``{"query", "max_results", "search_depth": "basic"|"advanced", "include_answer"}``;
answer ``{"query", "answer", "results": [{"title", "url", "content", "score", "raw_content"}],
"response_time"}``. ``content`` is the passage. Errors carry ``{"detail": {"error": "..."}}``
(401 bad key, 429 rate limited, 432/433 plan or pay-as-you-go limits).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ekklesia.connectors.search._http import HttpSearchProvider, JsonObject, number, text
from ekklesia.connectors.search.result import SearchResult

__all__ = ["TavilySearch"]


class TavilySearch(HttpSearchProvider):
    name: ClassVar[str] = "tavily"
    key_name: ClassVar[str] = "TAVILY_API_KEY"
    default_base_url: ClassVar[str] = "https://api.tavily.com"
    path: ClassVar[str] = "/search"

    def __init__(
        self, *, search_depth: Literal["basic", "advanced"] = "basic", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.search_depth = search_depth

    def _auth(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def _payload(self, query: str, k: int) -> JsonObject:
        return {
            "query": query,
            "max_results": k,
            "search_depth": self.search_depth,
            "include_answer": False,
            "include_raw_content": False,
        }

    def _results(self, body: JsonObject) -> list[SearchResult]:
        return [
            SearchResult(
                url=text(row["url"]),
                title=text(row.get("title")),
                passage=text(row.get("content")),
                score=number(row.get("score")),
            )
            for row in body["results"]
        ]

    def _error_detail(self, body: Any) -> str:
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, dict) and isinstance(detail.get("error"), str):
            return str(detail["error"])
        return super()._error_detail(body)
