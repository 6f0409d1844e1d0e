"""Budgets under concurrency: the ledger actor serialises spending across every call in flight."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import ray
from openai_server import LocalOpenAIServer

from ekklesia.agents.context import StepContext
from ekklesia.agents.pricing import default_prices
from ekklesia.connectors import OpenAICompatModel
from ekklesia.core.events import ModelCalled, Usage
from ekklesia.core.llm import ChatTurn, LLMRequest
from ekklesia.core.task import Task
from ekklesia.runtime.ledger import Budget
from ekklesia.runtime.ledger_actor import (
    BudgetedModel,
    Grant,
    LedgerCore,
    Refusal,
    bound_input_tokens,
    session_ledger,
)
from ekklesia.runtime.timeline import Timeline

pytestmark = pytest.mark.usefixtures("ray_session")

PROMPT = "What is 17 * 23? Show your work."
MAX_TOKENS = 100


def request() -> LLMRequest:
    return LLMRequest(messages=(ChatTurn(role="user", content=PROMPT),), max_tokens=MAX_TOKENS)


def ledger_name() -> str:
    return f"ledger-{uuid.uuid4().hex[:8]}"


async def test_fifty_concurrent_calls_spend_no_more_than_a_budget_for_ten(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    # The server reports exactly what was reserved, so exactly ten calls fit, whatever the timing.
    bound = bound_input_tokens(request())
    openai_server.script(
        model_name, default={"prompt_tokens": bound, "completion_tokens": "max", "delay_s": 0.05}
    )
    per_call = default_prices().cost("openai/gpt-4o-mini", bound, MAX_TOKENS)
    assert per_call is not None
    budget = Budget(max_usd=per_call * 10.5)
    ledger = session_ledger(run_budget=budget, name=ledger_name())
    model = BudgetedModel(
        OpenAICompatModel(openai_server.url, model_name, price_as="openai/gpt-4o-mini"), ledger
    )
    contexts = [
        StepContext(
            run_id="run-budget",
            round=0,
            agent=f"agent-{i:02d}",
            task=Task.of(PROMPT),
            seed=0,
            model=model,
        )
        for i in range(50)
    ]
    answers = await asyncio.gather(*(ctx.complete(request()) for ctx in contexts))

    ok = [a for a in answers if a.ok]
    refused = [a for a in answers if a.finish_reason == "refused"]
    assert (len(ok), len(refused)) == (10, 40)
    assert all((a.error or "").startswith("budget: the call may cost") for a in refused)
    assert openai_server.stats(model_name)["requests"] == 10  # refused calls were never sent

    report = await ledger.report("run-budget")
    assert report.spent.usd <= budget.max_usd  # type: ignore[operator]
    assert report.spent.usd == pytest.approx(sum(a.cost_usd or 0 for a in ok))
    assert (report.spent.calls, report.refused, report.open_reservations) == (10, 40, 0)

    timeline = Timeline("run-budget")
    for ctx in contexts:
        for event in ctx.events:
            timeline.append(event)
    recorded = Timeline.read(timeline.write()).of_kind(ModelCalled)
    assert sum(e.response.finish_reason == "refused" for e in recorded) == 40
    assert sum(e.response.ok and e.response.cost_usd > 0 for e in recorded) == 10


async def test_calls_that_spend_less_than_reserved_still_stay_within_budget(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"delay_s": 0.02})
    model = OpenAICompatModel(openai_server.url, model_name, price_as="openai/gpt-4o")
    per_call = model.max_cost_usd(bound_input_tokens(request()), MAX_TOKENS)
    assert per_call is not None
    budget = Budget(max_usd=per_call * 10.5, max_tokens=100_000)
    ledger = session_ledger(budget, name=ledger_name())
    budgeted = BudgetedModel(model, ledger, run_id="run-loose")
    answers = await asyncio.gather(*(budgeted.complete(request()) for _ in range(50)))
    report = await ledger.report()
    assert report.spent.usd <= budget.max_usd  # type: ignore[operator]
    assert sum(a.ok for a in answers) >= 10
    assert sum(a.ok for a in answers) + report.refused == 50
    assert report.spent.calls == sum(a.ok for a in answers)


def test_a_call_must_fit_both_its_run_and_the_session() -> None:
    ledger = LedgerCore(session_budget=Budget(max_tokens=300), run_budget=Budget(max_tokens=200))
    granted = [ledger.reserve("a", 0.0, 100), ledger.reserve("a", 0.0, 100)]
    assert all(isinstance(g, Grant) for g in granted)
    over_run = ledger.reserve("a", 0.0, 100)
    assert isinstance(over_run, Refusal) and "left in the run" in over_run.reason
    assert isinstance(ledger.reserve("b", 0.0, 100), Grant)
    over_session = ledger.reserve("b", 0.0, 100)
    assert isinstance(over_session, Refusal) and "left in the session" in over_session.reason

    # Settling to what was spent frees the rest of the reservation.
    first = granted[0]
    assert isinstance(first, Grant)
    ledger.settle(first.id, Usage(input_tokens=20, output_tokens=10, calls=1))
    assert isinstance(ledger.reserve("b", 0.0, 60), Grant)
    assert ledger.report().spent.total_tokens == 30
    assert (ledger.report("a").refused, ledger.report("b").refused, ledger.report().refused) == (
        1,
        1,
        2,
    )
    with pytest.raises(ValueError, match="not open"):
        ledger.settle(first.id, Usage())


def test_an_unpriced_call_is_refused_under_a_usd_budget_and_counted_under_a_token_one() -> None:
    in_dollars = LedgerCore(session_budget=Budget(max_usd=1.0))
    refused = in_dollars.reserve("r", None, 10)
    assert isinstance(refused, Refusal) and "price is unknown" in refused.reason
    in_tokens = LedgerCore(session_budget=Budget(max_tokens=100))
    assert isinstance(in_tokens.reserve("r", None, 10), Grant)


async def test_a_cancelled_call_gives_its_reservation_back(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"delay_s": 5})
    ledger = session_ledger(Budget(max_tokens=10_000), name=ledger_name())
    model = BudgetedModel(OpenAICompatModel(openai_server.url, model_name), ledger, "run-x")
    call = asyncio.ensure_future(model.complete(request()))
    while not openai_server.requests(model_name):
        await asyncio.sleep(0.02)
    assert (await ledger.report()).open_reservations == 1
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    report = await ledger.report()
    assert (report.open_reservations, report.reserved_tokens, report.spent.calls) == (0, 0, 0)


async def test_without_a_ledger_nothing_is_spent(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    ledger = session_ledger(name=ledger_name())
    model = BudgetedModel(OpenAICompatModel(openai_server.url, model_name), ledger, "run-y")
    ray.kill(ledger.handle)
    answer = await model.complete(request())
    assert answer.finish_reason == "refused" and "ledger is unavailable" in (answer.error or "")
    assert openai_server.stats(model_name)["requests"] == 0


async def test_the_session_ledger_is_one_actor_found_by_name() -> None:
    name = ledger_name()
    first = session_ledger(Budget(max_tokens=50), name=name)
    again = session_ledger(name=name)
    assert isinstance(await first.reserve("r", None, 40), Grant)
    refused = await again.reserve("r", None, 40)
    assert isinstance(refused, Refusal) and "10 are left in the session" in refused.reason
