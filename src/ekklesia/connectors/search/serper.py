"""Serper (Google results): ``POST https://google.serper.dev/search`` with ``X-API-KEY: <key>``.

Request ``{"q", "num", "gl", "hl"}``; answer ``{"searchParameters", "answerBox",
"knowledgeGraph", "organic": [{"title", "link", "snippet", "position", "date"}], "credits"}``.
``organic`` results are the hits and ``snippet`` the passage; Serper gives no score, so results
are scored by position (1/position). Errors carry ``{"message": "...", "statusCode": N}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ekklesia.connectors.search._http import HttpSearchProvider, JsonObject, number, text
from ekklesia.connectors.search.result import SearchResult

__all__ = ["SerperSearch"]


class SerperSearch(HttpSearchProvider):
    name: ClassVar[str] = "serper"
    key_name: ClassVar[str] = "SERPER_API_KEY"
    default_base_url: ClassVar[str] = "https://google.serper.dev"
    path: ClassVar[str] = "/search"

    def __init__(self, *, gl: str = "us", hl: str = "en", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gl, self.hl = gl, hl

    def _auth(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _payload(self, query: str, k: int) -> JsonObject:
        return {"q": query, "num": k, "gl": self.gl, "hl": self.hl}

    def _results(self, body: JsonObject) -> list[SearchResult]:
        found = []
        for i, row in enumerate(body.get("organic") or [], start=1):
            position = number(row.get("position")) or float(i)
            found.append(
                SearchResult(
                    url=text(row["link"]),
                    title=text(row.get("title")),
                    passage=text(row.get("snippet")),
                    score=round(1.0 / position, 6),
                )
            )
        return found
