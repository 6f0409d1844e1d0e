"""Exa: ``POST https://api.exa.ai/search`` with ``x-api-key: <key>``.

Request ``{"query", "numResults", "type": "auto", "contents": {"highlights": {...}, "text":
{"maxCharacters": N}}}``; answer ``{"requestId", "resolvedSearchType", "results": [{"id", "url",
"title", "score", "publishedDate", "author", "text", "highlights": [...], "highlightScores":
[...]}], "costDollars": {...}}``. The passage is the best highlight (the page text, cut, when there
is none). Errors carry ``{"requestId", "error": "...", "tag": "..."}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ekklesia.connectors.search._http import HttpSearchProvider, JsonObject, number, text
from ekklesia.connectors.search.result import SearchResult

__all__ = ["ExaSearch"]


class ExaSearch(HttpSearchProvider):
    name: ClassVar[str] = "exa"
    key_name: ClassVar[str] = "EXA_API_KEY"
    default_base_url: ClassVar[str] = "https://api.exa.ai"
    path: ClassVar[str] = "/search"

    def __init__(self, *, max_characters: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_characters = max_characters

    def _auth(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _payload(self, query: str, k: int) -> JsonObject:
        return {
            "query": query,
            "numResults": k,
            "type": "auto",
            "contents": {
                "text": {"maxCharacters": self.max_characters},
                "highlights": {"numSentences": 3, "highlightsPerUrl": 1, "query": query},
            },
        }

    def _results(self, body: JsonObject) -> list[SearchResult]:
        found = []
        for row in body["results"]:
            highlights = [h for h in row.get("highlights") or [] if isinstance(h, str) and h]
            found.append(
                SearchResult(
                    url=text(row["url"]),
                    title=text(row.get("title")),
                    passage=highlights[0] if highlights else text(row.get("text")),
                    score=number(row.get("score")),
                )
            )
        return found
