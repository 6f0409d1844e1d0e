"""One discipline for every call a connector makes to the outside: limits, a breaker, retries.

A connector wraps each request in :meth:`Resilience.call`; the request is a coroutine function that
raises :class:`TransientError` (429, 5xx, timeouts, dropped connections — worth another try) or
:class:`PermanentError` (the request itself is wrong — not worth one). Around it, per endpoint:

- a **concurrency limit** (requests in flight) and a **rate limit** in requests and tokens per
  minute (``aiolimiter`` leaky buckets);
- a **circuit breaker** (``purgatory``): after ``failure_threshold`` consecutive failures of the
  endpoint (5xx, timeouts, connection errors — not 429s, not the caller's 4xx) calls fail fast for
  ``reset_after_s``, then one success closes it again;
- **retries** (``tenacity``) with exponential backoff and jitter, waiting what a ``Retry-After``
  header asks for when the server sends one.

Limits and the breaker belong to the endpoint (every model that talks to the same base URL shares
them within a process and event loop); the retry policy belongs to the caller. Limits are per
process: a swarm spread over H host actors may have H x ``concurrency`` calls in flight to one
endpoint, so give each host its share, or place the agents that share an endpoint on one host.

The errors form a small tree under :class:`ConnectorError`::

    ConnectorError
    ├── TransientError   retried; carries ``status`` and ``retry_after``
    ├── PermanentError   not retried
    └── CircuitOpen      the endpoint's breaker is open; not retried
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiolimiter import AsyncLimiter
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from pydantic import BaseModel, ConfigDict, Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from ekklesia.errors import CircuitOpen, ConnectorError, PermanentError, TransientError

__all__ = [
    "CircuitOpen",
    "CircuitPolicy",
    "ConnectorError",
    "EndpointLimits",
    "PermanentError",
    "Resilience",
    "RetryPolicy",
    "TransientError",
    "error_for_status",
    "parse_retry_after",
]

#: Statuses worth another try: timeouts, conflicts, rate limits and server trouble.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})

T = TypeVar("T")
log = logging.getLogger("ekklesia.connectors")


class RetryPolicy(BaseModel):
    """How often and how patiently one call is tried."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(default=4, ge=1)
    initial_s: float = Field(default=0.5, ge=0)
    max_s: float = Field(default=20.0, ge=0)
    jitter_s: float = Field(default=0.5, ge=0)
    #: A ``Retry-After`` longer than this is cut to it rather than stalling a round.
    max_retry_after_s: float = Field(default=60.0, ge=0)


class EndpointLimits(BaseModel):
    """Limits on one endpoint; ``None`` means no limit on that measure."""

    model_config = ConfigDict(frozen=True)

    concurrency: int | None = Field(default=64, ge=1)
    requests_per_min: float | None = Field(default=None, gt=0)
    tokens_per_min: float | None = Field(default=None, gt=0)


class CircuitPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    failure_threshold: int = Field(default=5, ge=1)
    reset_after_s: float = Field(default=30.0, gt=0)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(
    status: int, headers: Mapping[str, str], detail: str, *, where: str
) -> ConnectorError:
    """The error for an HTTP error status: transient (with ``Retry-After``) or permanent."""
    message = f"{where} answered {status}"
    if detail:
        message += f": {detail[:300]}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return TransientError(message, status=status, retry_after=parse_retry_after(headers))
    return PermanentError(message, status=status)


class _Wait:
    """Backoff: exponential with jitter, or what the server asked for in ``Retry-After``."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._exponential = wait_exponential_jitter(
            initial=policy.initial_s, max=policy.max_s, jitter=policy.jitter_s
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self._policy.max_retry_after_s)
        return float(self._exponential(state))


class _Endpoint:
    """The shared state of one endpoint within one event loop."""

    def __init__(self, name: str, limits: EndpointLimits) -> None:
        self.name = name
        self.limits = limits
        self.slots = asyncio.Semaphore(limits.concurrency) if limits.concurrency else None
        rpm, tpm = limits.requests_per_min, limits.tokens_per_min
        self.requests = AsyncLimiter(rpm, 60) if rpm else None
        self.tokens = AsyncLimiter(tpm, 60) if tpm else None


_endpoints: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Endpoint]] = (
    weakref.WeakKeyDictionary()
)
_breakers: dict[tuple[float, int], AsyncCircuitBreakerFactory] = {}


def _endpoint(name: str, limits: EndpointLimits) -> _Endpoint:
    per_loop = _endpoints.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(name)
    if found is None:
        found = per_loop[name] = _Endpoint(name, limits)
    elif found.limits != limits:
        log.warning(
            "endpoint %s already has limits %s; keeping them over %s",
            name,
            found.limits.model_dump(),
            limits.model_dump(),
        )
    return found


def _breaker_factory(policy: CircuitPolicy) -> AsyncCircuitBreakerFactory:
    key = (policy.reset_after_s, policy.failure_threshold)
    factory = _breakers.get(key)
    if factory is None:
        factory = _breakers[key] = AsyncCircuitBreakerFactory(
            default_threshold=policy.failure_threshold,
            default_ttl=policy.reset_after_s,
            # A rate limit or the caller's own mistake says nothing about the endpoint's health.
            exclude=[
                PermanentError,
                (TransientError, lambda exc: getattr(exc, "status", None) == 429),
            ],
        )
    return factory


class Resilience:
    """The discipline for calls to one endpoint; cheap to create, state shared per endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        retry: RetryPolicy | None = None,
        limits: EndpointLimits | None = None,
        circuit: CircuitPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self.limits = limits or EndpointLimits()
        self.circuit = circuit or CircuitPolicy()
        # Built once: tenacity's strategy objects cost more to make than a local call takes.
        self._stop = stop_after_attempt(self.retry.attempts)
        self._wait = _Wait(self.retry)
        self._retry_on = retry_if_exception_type(TransientError)

    async def call(self, request: Callable[[], Awaitable[T]], *, tokens: int = 0) -> T:
        """Run ``request`` under the endpoint's limits and breaker, retrying transient failures.

        ``tokens`` is the most the request can use, charged to the tokens-per-minute limit before
        it is sent. Raises the last :class:`ConnectorError` when every attempt failed.
        """
        endpoint = _endpoint(self.endpoint, self.limits)
        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=self._retry_on,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return await retrying(self._attempt, endpoint, request, tokens)

    async def _attempt(
        self, endpoint: _Endpoint, request: Callable[[], Awaitable[T]], tokens: int
    ) -> T:
        if endpoint.slots is None:
            return await self._limited(endpoint, request, tokens)
        async with endpoint.slots:
            return await self._limited(endpoint, request, tokens)

    async def _limited(
        self, endpoint: _Endpoint, request: Callable[[], Awaitable[T]], tokens: int
    ) -> T:
        if endpoint.requests is not None:
            await endpoint.requests.acquire()
        if endpoint.tokens is not None and tokens > 0:
            # A request larger than a minute's allowance waits for a full bucket, not forever.
            await endpoint.tokens.acquire(min(float(tokens), endpoint.tokens.max_rate))
        breaker = await _breaker_factory(self.circuit).get_breaker(self.endpoint)
        try:
            async with breaker:
                return await request()
        except OpenedState as exc:
            raise CircuitOpen(
                f"circuit open for {self.endpoint}: it failed {self.circuit.failure_threshold} "
                f"times in a row; calls fail fast for {self.circuit.reset_after_s:g}s"
            ) from exc

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "retrying %s in %.2fs (attempt %d): %s",
            self.endpoint,
            wait,
            state.attempt_number,
            exc,
        )
