"""Per-key quotas: requests per minute, tokens per hour, USD per day, held by reservation.

Like the run ledger (:mod:`ekklesia.runtime.ledger`): before work starts the most it may spend is
reserved, and a reservation that would pass a limit is refused; when the work ends the reservation
is settled to what was spent. Concurrent requests therefore cannot overshoot a key's limits. Windows
slide: what was spent more than an hour (a day) ago no longer counts. A refusal says when to retry.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ekklesia.serve.keys import ApiKey

__all__ = ["QuotaExceeded", "QuotaKeeper", "QuotaReservation"]

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0


class QuotaExceeded(Exception):
    """A request refused by a key's quota; ``retry_after`` in whole seconds."""

    def __init__(self, what: str, retry_after: int, remaining: dict[str, str]) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = max(1, retry_after)
        self.remaining = remaining


@dataclass(frozen=True)
class QuotaReservation:
    id: int
    key_id: str
    tokens: int
    usd: float


@dataclass
class _Usage:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    usd: deque[tuple[float, float]] = field(default_factory=deque)
    open: dict[int, QuotaReservation] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - _MINUTE:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - _HOUR:
            self.tokens.popleft()
        while self.usd and self.usd[0][0] <= now - _DAY:
            self.usd.popleft()

    def tokens_used(self) -> int:
        return sum(t for _, t in self.tokens) + sum(r.tokens for r in self.open.values())

    def usd_used(self) -> float:
        return sum(u for _, u in self.usd) + sum(r.usd for r in self.open.values())


class QuotaKeeper:
    """The quotas of every key, in one process (the ingress)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._ids = itertools.count()

    def _of(self, key: ApiKey, now: float) -> _Usage:
        usage = self._usage.setdefault(key.id, _Usage())
        usage.prune(now)
        return usage

    def remaining(self, key: ApiKey, now: float | None = None) -> dict[str, str]:
        """The headers that tell a client what is left of each limit the key has."""
        now = time.time() if now is None else now
        with self._lock:
            return self._remaining(key, self._of(key, now))

    def _remaining(self, key: ApiKey, usage: _Usage) -> dict[str, str]:
        out: dict[str, str] = {}
        if key.rpm is not None:
            out["x-ratelimit-limit-requests"] = str(key.rpm)
            out["x-ratelimit-remaining-requests"] = str(max(0, key.rpm - len(usage.requests)))
        if key.tokens_per_hour is not None:
            out["x-ratelimit-limit-tokens"] = str(key.tokens_per_hour)
            left = max(0, key.tokens_per_hour - usage.tokens_used())
            out["x-ratelimit-remaining-tokens"] = str(left)
        if key.usd_per_day is not None:
            out["x-ratelimit-limit-usd"] = f"{key.usd_per_day:.6f}"
            left_usd = max(0.0, key.usd_per_day - usage.usd_used())
            out["x-ratelimit-remaining-usd"] = f"{left_usd:.6f}"
        return out

    def admit(self, key: ApiKey, now: float | None = None) -> dict[str, str]:
        """Count one request against the key's requests per minute, or refuse it."""
        now = time.time() if now is None else now
        with self._lock:
            usage = self._of(key, now)
            if key.rpm is not None and len(usage.requests) >= key.rpm:
                wait = usage.requests[0] + _MINUTE - now
                raise QuotaExceeded(
                    f"key {key.id} is over its {key.rpm} requests per minute",
                    int(wait) + 1,
                    self._remaining(key, usage),
                )
            usage.requests.append(now)
            return self._remaining(key, usage)

    def headroom(self, key: ApiKey, now: float | None = None) -> tuple[int | None, float | None]:
        """What is left of the key's tokens this hour and USD today (``None``: no limit)."""
        now = time.time() if now is None else now
        with self._lock:
            usage = self._of(key, now)
            tokens = (
                None
                if key.tokens_per_hour is None
                else max(0, key.tokens_per_hour - usage.tokens_used())
            )
            usd = None if key.usd_per_day is None else max(0.0, key.usd_per_day - usage.usd_used())
            return tokens, usd

    def reserve(
        self, key: ApiKey, tokens: int, usd: float, now: float | None = None
    ) -> QuotaReservation:
        """Hold ``tokens`` and ``usd`` for work about to start, or refuse it."""
        now = time.time() if now is None else now
        with self._lock:
            usage = self._of(key, now)
            if key.tokens_per_hour is not None and (
                usage.tokens_used() + tokens > key.tokens_per_hour
            ):
                wait = (usage.tokens[0][0] + _HOUR - now) if usage.tokens else _HOUR
                raise QuotaExceeded(
                    f"key {key.id} would pass its {key.tokens_per_hour} tokens per hour",
                    int(wait) + 1,
                    self._remaining(key, usage),
                )
            if key.usd_per_day is not None and usage.usd_used() + usd > key.usd_per_day + 1e-12:
                wait = (usage.usd[0][0] + _DAY - now) if usage.usd else _DAY
                raise QuotaExceeded(
                    f"key {key.id} would pass its ${key.usd_per_day} per day",
                    int(wait) + 1,
                    self._remaining(key, usage),
                )
            reservation = QuotaReservation(next(self._ids), key.id, tokens, usd)
            usage.open[reservation.id] = reservation
            return reservation

    def settle(
        self, reservation: QuotaReservation, tokens: int, usd: float, now: float | None = None
    ) -> None:
        """Replace a reservation by what the work spent (nothing, if it never ran)."""
        now = time.time() if now is None else now
        with self._lock:
            usage = self._usage.setdefault(reservation.key_id, _Usage())
            if usage.open.pop(reservation.id, None) is None:
                return
            if tokens:
                usage.tokens.append((now, tokens))
            if usd:
                usage.usd.append((now, usd))
