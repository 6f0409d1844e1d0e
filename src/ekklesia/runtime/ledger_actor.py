"""Budgets that hold under concurrency: one ledger actor per session serialises all spending.

Many agents on many hosts call models at once; a budget checked in each of them separately would be
overrun by the calls in flight. Instead every call reserves its worst case first — the input tokens
bounded from the prompt plus ``max_tokens`` of output, at the model's price — with the
:class:`LedgerActor`, a Ray actor whose methods run one at a time. A reservation that would take a
run or the session past its budget (USD or tokens) is refused. After the call the reservation is
settled to what the provider reported, or released if the call never happened, so spending never
exceeds the budget, however many calls are in flight.

:class:`BudgetedModel` wraps any :class:`~ekklesia.agents.model.Model` in that discipline: a refused
call is answered with ``LLMResponse(error="budget: …", finish_reason="refused")`` and never reaches
the provider. A model whose price is unknown cannot be held to a USD budget, so under one its calls
are refused rather than counted as free.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import ray
from pydantic import BaseModel, ConfigDict

from ekklesia.agents.model import Model
from ekklesia.core.events import Usage
from ekklesia.core.llm import LLMRequest, LLMResponse
from ekklesia.runtime.ledger import Budget, Ledger, Reservation

__all__ = [
    "BudgetedModel",
    "Grant",
    "LedgerActor",
    "LedgerClient",
    "LedgerCore",
    "LedgerReport",
    "Refusal",
    "bound_input_tokens",
    "session_ledger",
]

#: Tokens a chat format adds around each message and the reply; generous for the common formats.
_PER_MESSAGE_TOKENS = 4
_REPLY_TOKENS = 3


def bound_input_tokens(request: LLMRequest) -> int:
    """An upper estimate of the prompt's tokens: one token per 3 UTF-8 bytes, plus framing.

    BPE tokenizers average about 4 characters a token on English and 1 a character on CJK text
    (3 bytes); a third of the bytes covers both with a margin, so a reservation built on it is not
    exceeded by the provider's count in practice. Offered tools are counted as their JSON, which
    providers put into the prompt.
    """
    total = _REPLY_TOKENS
    for turn in request.messages:
        total += math.ceil(len(turn.content.encode()) / 3) + _PER_MESSAGE_TOKENS
    for tool in request.tools:
        total += math.ceil(len(json.dumps(tool.openai()).encode()) / 3) + _PER_MESSAGE_TOKENS
    return total


class Grant(BaseModel):
    """A reservation held for one call."""

    model_config = ConfigDict(frozen=True)

    id: int
    run_id: str
    usd: float
    tokens: int


class Refusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str


class LedgerReport(BaseModel):
    """Spending of a run or of the whole session."""

    model_config = ConfigDict(frozen=True)

    budget: Budget
    spent: Usage
    reserved_usd: float
    reserved_tokens: int
    open_reservations: int
    refused: int


class _Account:
    def __init__(self, budget: Budget) -> None:
        self.ledger = Ledger(budget)
        self.refused = 0

    def report(self) -> LedgerReport:
        ledger = self.ledger
        return LedgerReport(
            budget=ledger.budget,
            spent=ledger.spent,
            reserved_usd=ledger.reserved_usd,
            reserved_tokens=ledger.reserved_tokens,
            open_reservations=len(ledger._open),
            refused=self.refused,
        )


class LedgerCore:
    """The session's spending: one account for the session, one per run. Plain Python.

    ``run_budget`` is the budget of a run that was given none with :meth:`set_run_budget`.
    """

    def __init__(self, session_budget: Budget | None = None, run_budget: Budget | None = None):
        self.session = _Account(session_budget or Budget())
        self.run_budget = run_budget or Budget()
        self.runs: dict[str, _Account] = {}
        self._grants: dict[int, tuple[Grant, Reservation, Reservation]] = {}
        self._ids = itertools.count()

    def _run(self, run_id: str) -> _Account:
        account = self.runs.get(run_id)
        if account is None:
            account = self.runs[run_id] = _Account(self.run_budget)
        return account

    def set_session_budget(self, budget: Budget) -> None:
        self.session.ledger.budget = budget

    def set_run_budget(self, run_id: str, budget: Budget) -> None:
        self._run(run_id).ledger.budget = budget

    def reserve(self, run_id: str, usd: float | None, tokens: int) -> Grant | Refusal:
        """Hold ``usd`` and ``tokens`` against the run and the session, or refuse."""
        run = self._run(run_id)
        refusal = self._check(run, "run", usd, tokens) or self._check(
            self.session, "session", usd, tokens
        )
        if refusal is not None:
            run.refused += 1
            self.session.refused += 1
            return Refusal(reason=refusal)
        held_run = run.ledger.reserve(usd, tokens)
        held_session = self.session.ledger.reserve(usd, tokens)
        assert held_run is not None and held_session is not None  # checked just above
        grant = Grant(id=next(self._ids), run_id=run_id, usd=usd or 0.0, tokens=tokens)
        self._grants[grant.id] = (grant, held_run, held_session)
        return grant

    @staticmethod
    def _check(account: _Account, scope: str, usd: float | None, tokens: int) -> str | None:
        ledger = account.ledger
        if ledger.budget.max_usd is not None:
            if usd is None:
                return (
                    f"the {scope} has a USD budget and this model's price is unknown; "
                    "price it (EKKLESIA_PRICES) or budget in tokens"
                )
            left = ledger.remaining_usd()
            if left is not None and usd > left + 1e-12:
                return f"the call may cost ${usd:.6f}; ${max(left, 0.0):.6f} is left in the {scope}"
        left_tokens = ledger.remaining_tokens()
        if left_tokens is not None and tokens > left_tokens:
            left_tokens = max(left_tokens, 0)
            return f"the call may use {tokens} tokens; {left_tokens} are left in the {scope}"
        return None

    def settle(self, grant_id: int, actual: Usage) -> None:
        """Replace a reservation by what the call actually spent."""
        found = self._grants.pop(grant_id, None)
        if found is None:
            raise ValueError(f"reservation {grant_id} is not open")
        grant, held_run, held_session = found
        self._run(grant.run_id).ledger.settle(held_run, actual)
        self.session.ledger.settle(held_session, actual)

    def release(self, grant_id: int) -> None:
        """Drop a reservation whose call never happened; unknown ids are ignored."""
        found = self._grants.pop(grant_id, None)
        if found is not None:
            grant, held_run, held_session = found
            self._run(grant.run_id).ledger.release(held_run)
            self.session.ledger.release(held_session)

    def report(self, run_id: str | None = None) -> LedgerReport:
        """The session's spending, or one run's."""
        return (self.session if run_id is None else self._run(run_id)).report()

    def close_run(self, run_id: str) -> LedgerReport:
        """Forget a finished run (its spending stays in the session) and return its report."""
        account = self.runs.pop(run_id, None)
        return (account or _Account(self.run_budget)).report()


#: The ledger as a Ray actor. Its methods are synchronous, so Ray runs them one at a time.
LedgerActor: Any = ray.remote(num_cpus=0, max_restarts=0)(LedgerCore)


class LedgerClient:
    """Async access to a :data:`LedgerActor` from any process of the cluster; pickles with it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def reserve(self, run_id: str, usd: float | None, tokens: int) -> Grant | Refusal:
        answer: Grant | Refusal = await self.handle.reserve.remote(run_id, usd, tokens)
        return answer

    async def settle(self, grant: Grant, actual: Usage) -> None:
        await self.handle.settle.remote(grant.id, actual)

    async def release(self, grant: Grant) -> None:
        await self.handle.release.remote(grant.id)

    def release_soon(self, grant: Grant) -> None:
        """Release without waiting — for paths that are being cancelled."""
        self.handle.release.remote(grant.id)

    async def report(self, run_id: str | None = None) -> LedgerReport:
        answer: LedgerReport = await self.handle.report.remote(run_id)
        return answer

    async def set_run_budget(self, run_id: str, budget: Budget) -> None:
        await self.handle.set_run_budget.remote(run_id, budget)

    async def set_session_budget(self, budget: Budget) -> None:
        await self.handle.set_session_budget.remote(budget)

    async def close_run(self, run_id: str) -> LedgerReport:
        answer: LedgerReport = await self.handle.close_run.remote(run_id)
        return answer


def session_ledger(
    session_budget: Budget | None = None,
    run_budget: Budget | None = None,
    *,
    name: str = "ekklesia-ledger",
) -> LedgerClient:
    """The session's ledger actor, started on first use and found by ``name`` afterwards.

    Budgets given here apply to a new actor; an existing one keeps its own (set them with
    :meth:`LedgerClient.set_session_budget` and :meth:`LedgerClient.set_run_budget`).
    """
    handle = LedgerActor.options(name=name, get_if_exists=True).remote(session_budget, run_budget)
    return LedgerClient(handle)


class BudgetedModel(Model):
    """A model whose every call is reserved with the ledger before and settled after.

    Spending is booked to ``run_id`` when given, else to the request's own ``run_id``.
    """

    def __init__(self, model: Model, ledger: LedgerClient | Any, run_id: str | None = None):
        self.model = model
        self.ledger = ledger if isinstance(ledger, LedgerClient) else LedgerClient(ledger)
        self.run_id = run_id
        self.name = model.name

    def spec(self) -> str:
        return self.model.spec()

    @property
    def supports_tools(self) -> bool:
        return self.model.supports_tools

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        return self.model.max_cost_usd(input_tokens, max_output_tokens)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        input_tokens = bound_input_tokens(request)
        usd = self.model.max_cost_usd(input_tokens, request.max_tokens)
        run_id = self.run_id if self.run_id is not None else request.run_id
        try:
            held = await self.ledger.reserve(run_id, usd, input_tokens + request.max_tokens)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            # Without the ledger nothing can be accounted for, so nothing is spent.
            return self._refused(f"the ledger is unavailable ({type(exc).__name__})")
        if isinstance(held, Refusal):
            return self._refused(held.reason)
        try:
            response = await self.model.complete(request)
        except BaseException:
            self.ledger.release_soon(held)
            raise
        await self.ledger.settle(held, Usage.of(response))
        return response

    def _refused(self, reason: str) -> LLMResponse:
        error = f"budget: {reason}"
        return LLMResponse(model=self.model.name, error=error, finish_reason="refused")

    async def aclose(self) -> None:
        await self.model.aclose()
