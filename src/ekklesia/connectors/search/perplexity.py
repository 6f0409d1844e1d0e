"""Perplexity (Sonar): ``POST https://api.perplexity.ai/chat/completions`` with ``Authorization:
Bearer <key>``.

An OpenAI-shaped chat completion ``{"model": "sonar", "messages": [...]}`` whose answer adds the
sources it searched: ``search_results: [{"title", "url", "date", "snippet"}]`` and ``citations:
[url, ...]`` (the older, URL-only form). Each search result is a hit with its ``snippet`` as the
passage; when only ``citations`` come back, each URL is a hit whose passage is the answer's
sentences that cite it (``[n]``), so the passage is still text the provider wrote. Errors carry
``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ekklesia.connectors.search._http import HttpSearchProvider, JsonObject, text
from ekklesia.connectors.search.result import SearchResult

__all__ = ["PerplexitySearch"]

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


class PerplexitySearch(HttpSearchProvider):
    name: ClassVar[str] = "perplexity"
    key_name: ClassVar[str] = "PERPLEXITY_API_KEY"
    default_base_url: ClassVar[str] = "https://api.perplexity.ai"
    path: ClassVar[str] = "/chat/completions"

    def __init__(self, *, model: str = "sonar", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model

    def _auth(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def _payload(self, query: str, k: int) -> JsonObject:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": "Be precise and concise; cite your sources."},
                {"role": "user", "content": query},
            ],
            "temperature": 0.0,
            "web_search_options": {"search_context_size": "low"},
        }

    def _results(self, body: JsonObject) -> list[SearchResult]:
        rows = body.get("search_results")
        if isinstance(rows, list) and rows:
            return [
                SearchResult(
                    url=text(row["url"]),
                    title=text(row.get("title")),
                    passage=text(row.get("snippet")),
                    score=round(1.0 / i, 6),
                )
                for i, row in enumerate(rows, start=1)
            ]
        answer = text(body["choices"][0]["message"].get("content"))
        return [
            SearchResult(url=text(url), passage=_citing(answer, i), score=round(1.0 / i, 6))
            for i, url in enumerate(body.get("citations") or [], start=1)
        ]


def _citing(answer: str, n: int) -> str:
    """The sentences of ``answer`` that cite source ``n`` as ``[n]``, joined."""
    marker = f"[{n}]"
    return " ".join(s.strip() for s in _SENTENCE.findall(answer) if marker in s)
