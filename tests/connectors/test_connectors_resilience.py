"""The call discipline against a real server: retries, Retry-After, timeouts, breaker, limits."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from openai_server import LocalOpenAIServer
from tenacity import RetryCallState

from ekklesia.connectors import (
    CircuitPolicy,
    EndpointLimits,
    OpenAICompatModel,
    RetryPolicy,
    TransientError,
)
from ekklesia.connectors.resilience import _Wait, parse_retry_after
from ekklesia.core.llm import ChatTurn, LLMRequest

FAST = RetryPolicy(attempts=4, initial_s=0.01, max_s=0.05, jitter_s=0.01)


def ask(text: str = "What is 6 * 7?", max_tokens: int = 64) -> LLMRequest:
    return LLMRequest(messages=(ChatTurn(role="user", content=text),), max_tokens=max_tokens)


def model_for(
    server: LocalOpenAIServer, name: str, *, retry: RetryPolicy = FAST, **kwargs: object
) -> OpenAICompatModel:
    kwargs.setdefault("endpoint", name)
    kwargs.setdefault("price_as", "openai/gpt-4o-mini")
    return OpenAICompatModel(server.url, name, retry=retry, **kwargs)  # type: ignore[arg-type]


def test_retry_after_in_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (parse_retry_after({"Retry-After": later}) or 0) <= 30
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_waits_what_retry_after_asks_and_grows_otherwise() -> None:
    wait = _Wait(RetryPolicy(initial_s=1, max_s=8, jitter_s=0, max_retry_after_s=30))

    def state(attempt: int, exc: Exception) -> RetryCallState:
        s = RetryCallState(None, None, (), {})
        s.attempt_number = attempt
        s.set_exception((type(exc), exc, None))
        return s

    assert wait(state(1, TransientError("429", status=429, retry_after=7))) == 7
    assert wait(state(1, TransientError("429", status=429, retry_after=600))) == 30
    grown = [wait(state(n, TransientError("500", status=500))) for n in (1, 2, 3, 4, 5)]
    assert grown == [1, 2, 4, 8, 8]


async def test_429_is_retried_after_the_time_the_server_asks(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"status": 429, "retry_after": 0.3}])
    response = await model_for(openai_server, model_name).complete(ask())
    assert response.ok, response.error
    first, second = openai_server.requests(model_name)
    assert second["time"] - first["time"] >= 0.3


async def test_server_errors_are_retried_until_an_answer(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"status": 500}, {"status": 503}])
    response = await model_for(openai_server, model_name).complete(ask())
    assert response.ok and "Answer: 42" in response.text
    assert openai_server.stats(model_name)["requests"] == 3


async def test_a_call_that_keeps_failing_returns_an_error_and_never_raises(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"status": 502, "error": "upstream down"})
    retry = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02, jitter_s=0)
    response = await model_for(openai_server, model_name, retry=retry).complete(ask())
    assert not response.ok and response.finish_reason == "error"
    assert "502" in (response.error or "") and "upstream down" in (response.error or "")
    assert openai_server.stats(model_name)["requests"] == 3


async def test_a_bad_request_is_not_retried(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"status": 400, "error": "max_tokens is too large"})
    response = await model_for(openai_server, model_name).complete(ask())
    assert response.error is not None and "400" in response.error
    assert "max_tokens is too large" in response.error
    assert openai_server.stats(model_name)["requests"] == 1


async def test_a_timeout_is_retried_then_reported(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"delay_s": 3})
    retry = RetryPolicy(attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0)
    model = model_for(openai_server, model_name, retry=retry, timeout=0.3)
    response = await model.complete(ask())
    assert response.error is not None and "did not answer within 0.3s" in response.error
    assert openai_server.stats(model_name)["requests"] == 2


async def test_the_breaker_opens_after_repeated_failures_and_fails_fast(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"status": 500})
    model = model_for(
        openai_server,
        model_name,
        retry=RetryPolicy(attempts=1),
        circuit=CircuitPolicy(failure_threshold=3, reset_after_s=600),
    )
    answers = [await model.complete(ask()) for _ in range(5)]
    assert all("500" in (a.error or "") for a in answers[:3])
    assert all("circuit open" in (a.error or "") for a in answers[3:])
    assert openai_server.stats(model_name)["requests"] == 3


async def test_the_breaker_closes_again_after_a_success(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"status": 500}, {"status": 500}])
    model = model_for(
        openai_server,
        model_name,
        retry=RetryPolicy(attempts=1),
        circuit=CircuitPolicy(failure_threshold=2, reset_after_s=0.2),
    )
    assert (await model.complete(ask())).error
    assert (await model.complete(ask())).error
    assert "circuit open" in ((await model.complete(ask())).error or "")
    await asyncio.sleep(0.3)
    assert (await model.complete(ask())).ok
    assert (await model.complete(ask())).ok


async def test_rate_limited_answers_do_not_open_the_breaker(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"status": 429, "retry_after": 0}] * 3)
    model = model_for(
        openai_server, model_name, circuit=CircuitPolicy(failure_threshold=2, reset_after_s=600)
    )
    response = await model.complete(ask())
    assert response.ok, response.error
    assert openai_server.stats(model_name)["requests"] == 4


async def test_no_more_calls_are_in_flight_than_the_endpoint_allows(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"delay_s": 0.05})
    model = model_for(openai_server, model_name, limits=EndpointLimits(concurrency=3))
    answers = await asyncio.gather(*(model.complete(ask()) for _ in range(15)))
    assert all(a.ok for a in answers)
    stats = openai_server.stats(model_name)
    assert stats["requests"] == 15 and 1 < stats["peak_in_flight"] <= 3


@pytest.mark.parametrize(
    ("limits", "admitted"),
    [
        (EndpointLimits(requests_per_min=3), 3),
        # Each call may use its prompt (4 tokens) plus 400 of output: two fit in 1000 tokens.
        (EndpointLimits(tokens_per_min=1000), 2),
    ],
    ids=["requests-per-minute", "tokens-per-minute"],
)
async def test_calls_beyond_the_rate_limit_wait_for_the_next_minute(
    openai_server: LocalOpenAIServer, model_name: str, limits: EndpointLimits, admitted: int
) -> None:
    model = model_for(openai_server, model_name, limits=limits)
    calls = [asyncio.ensure_future(model.complete(ask(max_tokens=400))) for _ in range(5)]
    # The buckets refill one call's worth in 20 s or more: long after this test looks.
    deadline = time.monotonic() + 15
    while sum(c.done() for c in calls) < admitted and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    done = [c for c in calls if c.done()]
    for call in calls:
        call.cancel()
    assert len(done) == admitted and all(c.result().ok for c in done)
    assert openai_server.stats(model_name)["requests"] == admitted
