"""Spending: tokens and USD per run, held inside a budget by reserving before and settling after.

Before a model call (or a round of calls) the caller reserves the most the call can cost; a
reservation that would overrun the budget is refused. After the call the reservation is settled to
what was actually spent and the difference is released. Spending therefore never exceeds the budget,
however many calls are in flight.
"""

from __future__ import annotations

import itertools
import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ekklesia.core.events import Usage

__all__ = ["Budget", "Ledger", "Reservation"]


class Budget(BaseModel):
    """Limits on a run's spending; ``None`` means no limit on that measure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _finite(self) -> Budget:
        if self.max_usd is not None and not math.isfinite(self.max_usd):
            raise ValueError("max_usd must be a finite number")
        return self


class Reservation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    usd: float
    tokens: int


class Ledger:
    """Spending of one run (or session) against a :class:`Budget`. Not thread-safe: one owner."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.spent = Usage()
        self._open: dict[int, Reservation] = {}
        self._ids = itertools.count()

    @property
    def reserved_usd(self) -> float:
        return sum(r.usd for r in self._open.values())

    @property
    def reserved_tokens(self) -> int:
        return sum(r.tokens for r in self._open.values())

    def remaining_usd(self) -> float | None:
        if self.budget.max_usd is None:
            return None
        return self.budget.max_usd - self.spent.usd - self.reserved_usd

    def remaining_tokens(self) -> int | None:
        if self.budget.max_tokens is None:
            return None
        return self.budget.max_tokens - self.spent.total_tokens - self.reserved_tokens

    def reserve(self, usd: float | None, tokens: int) -> Reservation | None:
        """Hold ``usd`` and ``tokens`` for a call, or return ``None`` if that would overrun.

        An unknown cost (``usd=None``) reserves nothing in dollars; the call is still counted in
        tokens, and its cost is recorded as unknown.
        """
        usd_needed = usd or 0.0
        remaining_usd = self.remaining_usd()
        if remaining_usd is not None and usd_needed > remaining_usd + 1e-12:
            return None
        remaining_tokens = self.remaining_tokens()
        if remaining_tokens is not None and tokens > remaining_tokens:
            return None
        reservation = Reservation(id=next(self._ids), usd=usd_needed, tokens=tokens)
        self._open[reservation.id] = reservation
        return reservation

    def settle(self, reservation: Reservation, actual: Usage) -> None:
        """Replace a reservation by what was actually spent."""
        if self._open.pop(reservation.id, None) is None:
            raise ValueError(f"reservation {reservation.id} is not open")
        self.spent = self.spent + actual

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose call never happened."""
        self._open.pop(reservation.id, None)

    def record(self, actual: Usage) -> None:
        """Count spending that had no reservation (for example a replayed call)."""
        self.spent = self.spent + actual
