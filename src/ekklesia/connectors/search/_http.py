"""What the HTTP search providers share: the call discipline, the pooled client, the key, errors.

A provider names the secret that holds its key (``TAVILY_API_KEY``...), its documented base URL and
path, how the key is sent, how a request body is written and how an answer and an error body are
read. Everything else is here, once: each request runs under the endpoint's
:class:`~ekklesia.connectors.resilience.Resilience` (limits, breaker, retries honouring
``Retry-After``) on one pooled client per event loop; the key is read from the secrets store in the
process that makes the call, never stored on the provider (a provider pickled to a Ray actor
carries none), and redacted from every error and log line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx

from ekklesia.connectors.http import JsonPoster, PerLoop, post_json
from ekklesia.connectors.resilience import (
    CircuitPolicy,
    EndpointLimits,
    PermanentError,
    Resilience,
    RetryPolicy,
    error_for_status,
)
from ekklesia.connectors.search.result import SearchResult
from ekklesia.connectors.secrets import redact, secret
from ekklesia.errors import UserError

__all__ = ["HttpSearchProvider", "JsonObject"]

JsonObject = dict[str, Any]


class HttpSearchProvider(ABC):
    """A search API over HTTP; subclasses fill in the class variables and the three methods."""

    name: ClassVar[str]
    key_name: ClassVar[str]
    default_base_url: ClassVar[str]
    path: ClassVar[str]

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limits: EndpointLimits | None = None,
        circuit: CircuitPolicy | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout
        self.url = f"{self.base_url}{self.path}"
        self._resilience = Resilience(
            endpoint or self.url,
            retry=retry,
            limits=limits or EndpointLimits(concurrency=8),
            circuit=circuit,
        )
        self._clients: PerLoop[JsonPoster] = PerLoop(self._connect, _close)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_clients"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clients = PerLoop(self._connect, _close)

    # -- what a provider says --------------------------------------------------------------------

    @abstractmethod
    def _auth(self, key: str) -> dict[str, str]:
        """The headers that carry the key."""

    @abstractmethod
    def _payload(self, query: str, k: int) -> JsonObject:
        """The request body for ``query``."""

    @abstractmethod
    def _results(self, body: JsonObject) -> list[SearchResult]:
        """The results in an answer, best first (``KeyError``/``TypeError`` for a malformed one)."""

    def _error_detail(self, body: Any) -> str:
        """What an error body says, in the provider's documented shape."""
        if isinstance(body, dict):
            for field in ("error", "message", "detail"):
                value = body.get(field)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("error")
                if isinstance(value, str) and value:
                    return value
        return ""

    # -- calling ---------------------------------------------------------------------------------

    def key(self) -> str:
        value = secret(self.key_name)
        if not value:
            raise UserError(
                f"the {self.name} search provider needs the API key {self.key_name}: run "
                f"`ekklesia connect add {self.name}`, or set it in the environment or in the "
                "file named by $EKKLESIA_SECRETS_FILE"
            )
        return value

    async def search(self, query: str, k: int = 5) -> list[SearchResult]:
        """At most ``k`` results for ``query``, best first; a :class:`ConnectorError` when the
        provider could not answer after its retries."""
        if not query.strip():
            raise UserError(f"{self.name}: the search query is empty")
        if k < 1:
            raise UserError(f"{self.name}: k must be >= 1, got {k}")
        payload = self._payload(query, k)
        body = await self._resilience.call(lambda: self._post(payload))
        try:
            found = self._results(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PermanentError(
                f"{self.url} sent a malformed answer ({type(exc).__name__})"
            ) from None
        ranked = [
            r.model_copy(update={"provider": self.name, "rank": i}) for i, r in enumerate(found, 1)
        ]
        return ranked[:k]

    async def aclose(self) -> None:
        await self._clients.aclose()

    def _connect(self) -> JsonPoster:
        return JsonPoster(
            headers=self._auth(self.key()),
            timeout=self.timeout,
            max_connections=self._resilience.limits.concurrency or 16,
        )

    async def _post(self, payload: JsonObject) -> JsonObject:
        where = self.url
        poster = await self._clients.get()
        response = await post_json(
            poster, httpx.URL(self.url), payload, where=where, timeout=self.timeout
        )
        if response.status_code >= 400:
            try:
                detail = self._error_detail(response.json())
            except ValueError:
                detail = response.text[:300]
            raise error_for_status(
                response.status_code, response.headers, redact(detail), where=where
            )
        try:
            body = response.json()
        except ValueError:
            raise PermanentError(f"{where} answered with something that is not JSON") from None
        if not isinstance(body, dict):
            raise PermanentError(f"{where} answered with JSON that is not an object")
        return body


async def _close(poster: JsonPoster) -> None:
    await poster.aclose()


def text(value: object) -> str:
    """A field that should be a string, as one (``None`` and non-strings: empty)."""
    return value if isinstance(value, str) else ""


def number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
