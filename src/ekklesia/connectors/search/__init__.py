"""Search providers as connectors: Tavily, Exa, Serper and Perplexity over their documented HTTP
APIs, all under the one call discipline (:mod:`ekklesia.connectors.resilience`).

Each answers :class:`SearchResult` s (url, title, the passage verbatim, score, provider) and
satisfies :class:`SearchProvider`; keys are read with :func:`ekklesia.connectors.secrets.secret`
under ``TAVILY_API_KEY``, ``EXA_API_KEY``, ``SERPER_API_KEY`` and ``PERPLEXITY_API_KEY`` (what
``ekklesia connect add NAME`` stores), in the process that calls, and redacted from everything
shown. ``search_provider("tavily", base_url=...)`` builds one by name; the base URL can point at a
self-hosted proxy or a local test server.
"""

from __future__ import annotations

from typing import Any

from ekklesia.connectors.search._http import HttpSearchProvider
from ekklesia.connectors.search.exa import ExaSearch
from ekklesia.connectors.search.perplexity import PerplexitySearch
from ekklesia.connectors.search.result import SearchProvider, SearchResult
from ekklesia.connectors.search.serper import SerperSearch
from ekklesia.connectors.search.tavily import TavilySearch
from ekklesia.errors import UserError

__all__ = [
    "PROVIDERS",
    "ExaSearch",
    "HttpSearchProvider",
    "PerplexitySearch",
    "SearchProvider",
    "SearchResult",
    "SerperSearch",
    "TavilySearch",
    "search_provider",
]

#: The web search providers by name.
PROVIDERS: dict[str, type[HttpSearchProvider]] = {
    cls.name: cls for cls in (TavilySearch, ExaSearch, SerperSearch, PerplexitySearch)
}


def search_provider(name: str, **options: Any) -> HttpSearchProvider:
    """The provider called ``name`` (``tavily``, ``exa``, ``serper``, ``perplexity``)."""
    try:
        cls = PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UserError(f"unknown search provider {name!r} (known: {known})") from None
    return cls(**options)
