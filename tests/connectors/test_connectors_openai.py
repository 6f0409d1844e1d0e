"""The OpenAI-compatible connector on the scripted server: specs, prices, embeddings, fallback."""

from __future__ import annotations

import asyncio
import pickle
import warnings

import pytest
from openai_server import LocalOpenAIServer

from ekklesia.agents.pricing import UnpricedModelWarning, default_prices
from ekklesia.agents.spec import model_from_spec
from ekklesia.connectors import (
    ConnectorError,
    FallbackModel,
    OpenAICompatModel,
    PermanentError,
    RetryPolicy,
)
from ekklesia.connectors.http import JsonPoster
from ekklesia.core.llm import ChatTurn, LLMRequest
from ekklesia.errors import SpecError

ONCE = RetryPolicy(attempts=1)


def ask(text: str = "What is 6 * 7?", max_tokens: int = 512) -> LLMRequest:
    return LLMRequest(messages=(ChatTurn(role="user", content=text),), max_tokens=max_tokens)


def test_a_spec_names_the_base_url_the_model_and_options(openai_server: LocalOpenAIServer) -> None:
    spec = f"openai:{openai_server.url}?timeout=5&retries=2&concurrency=8&rpm=600#llama-3"
    model = model_from_spec(spec)
    assert isinstance(model, OpenAICompatModel)
    assert (model.base_url, model.model, model.timeout) == (openai_server.url, "llama-3", 5.0)
    assert model._resilience.retry.attempts == 3
    assert model._resilience.limits.concurrency == 8
    assert model._resilience.limits.requests_per_min == 600
    assert model.spec() == spec
    assert model.api_key_env is None  # a local server is never sent a key it was not given


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openai:http://127.0.0.1:8000/v1", "names no model: add #MODEL"),
        ("openai:127.0.0.1:8000#m", "expected openai:BASE_URL#MODEL"),
        ("openai:ftp://127.0.0.1/v1#m", "must be an http(s) URL"),
        ("openai:http://user:pw@127.0.0.1/v1#m", "must not carry credentials"),
        ("openai:http://127.0.0.1/v1?colour=red#m", "unknown option 'colour'"),
        ("openai:http://127.0.0.1/v1?timeout=soon#m", "'timeout' in model spec"),
        ("openai:http://127.0.0.1/v1?concurrency=0#m", "must be more than 0"),
        ("openai:http://127.0.0.1/v1?rpm=1&rpm=2#m", "given twice"),
        ("openai:http://127.0.0.1/v1?key_env=EKK_NOT_SET_ANYWHERE#m", "EKK_NOT_SET_ANYWHERE"),
        ("claude:sonnet", "unknown model spec 'claude:sonnet'"),
    ],
)
def test_malformed_specs_fail_before_anything_runs(spec: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        model_from_spec(spec)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_key_pasted_into_a_spec_is_not_repeated_in_the_error() -> None:
    with pytest.raises(SpecError) as caught:
        model_from_spec("openai:http://127.0.0.1/v1?api_key=sk-abcdefghijklmnopqrstuvwxyz#m")
    assert "unknown option 'api_key'" in str(caught.value)
    assert "abcdefghijklmnop" not in str(caught.value)


def test_the_openai_api_needs_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("EKKLESIA_SECRETS_FILE", raising=False)
    with pytest.raises(SpecError, match="needs the API key OPENAI_API_KEY"):
        model_from_spec("openai:https://api.openai.com/v1#gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    model = model_from_spec("openai:https://api.openai.com/v1#gpt-4o-mini")
    assert isinstance(model, OpenAICompatModel) and model.api_key_env == "OPENAI_API_KEY"


async def test_usage_from_the_provider_is_priced_from_the_table(
    openai_server: LocalOpenAIServer,
) -> None:
    openai_server.script("gpt-4o-mini", [{"prompt_tokens": 1000, "completion_tokens": 500}])
    response = await OpenAICompatModel(openai_server.url, "gpt-4o-mini").complete(
        ask(max_tokens=600)
    )
    assert (response.input_tokens, response.output_tokens) == (1000, 500)
    assert not response.usage_estimated
    assert response.cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert response.model == "gpt-4o-mini" and response.finish_reason == "stop"


async def test_missing_usage_is_estimated_and_flagged(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"usage": False, "text": "x" * 400}])
    model = OpenAICompatModel(openai_server.url, model_name, price_as="openai/gpt-4o")
    response = await model.complete(ask("y" * 80))
    assert response.usage_estimated
    assert (response.input_tokens, response.output_tokens) == (20, 100)
    assert response.cost_usd == pytest.approx((20 * 2.5 + 100 * 10.0) / 1e6)


async def test_an_unknown_model_costs_none_with_one_warning(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    model = OpenAICompatModel(openai_server.url, model_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = await model.complete(ask())
        second = await model.complete(ask())
    assert first.ok and first.cost_usd is None and second.cost_usd is None
    unpriced = [w for w in caught if issubclass(w.category, UnpricedModelWarning)]
    assert len(unpriced) == 1 and model_name in str(unpriced[0].message)
    assert model.max_cost_usd(100, 100) is None


def test_dated_snapshots_are_priced_as_their_model() -> None:
    prices = default_prices()
    assert prices.lookup("gpt-4o-mini-2024-07-18") == prices.lookup("openai/gpt-4o-mini")
    assert prices.lookup("claude-3-5-haiku-20241022") == prices.lookup("anthropic/claude-3-5-haiku")
    assert prices.lookup("no-such-model-2024-01-01") is None


async def test_embeddings_come_back_one_vector_per_text_in_order(
    openai_server: LocalOpenAIServer,
) -> None:
    model = OpenAICompatModel(openai_server.url, "chat", embedding_model="embedder")
    vectors = await model.embed(["alpha", "beta", "alpha"])
    assert len(vectors) == 3 and all(len(v) == 8 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert await model.embed([]) == []
    assert openai_server.requests("embedder")[-1]["body"]["input"] == ["alpha", "beta", "alpha"]


async def test_a_failed_embedding_raises_a_connector_error(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, default={"status": 404, "error": "no such model"})
    model = OpenAICompatModel(openai_server.url, model_name, retry=ONCE)
    with pytest.raises(PermanentError, match="404: no such model") as caught:
        await model.embed(["a"])
    assert isinstance(caught.value, ConnectorError) and caught.value.status == 404


async def test_a_used_model_pickles_without_connections(openai_server: LocalOpenAIServer) -> None:
    model = OpenAICompatModel(openai_server.url, "gpt-4o-mini")
    assert (await model.complete(ask())).ok
    copy = pickle.loads(pickle.dumps(model))
    assert len(copy._clients._items) == 0 and (await copy.complete(ask())).ok
    await model.aclose()
    await copy.aclose()


def test_connections_close_with_the_event_loop_that_opened_them(
    openai_server: LocalOpenAIServer,
) -> None:
    model = OpenAICompatModel(openai_server.url, "gpt-4o-mini")

    async def call() -> JsonPoster:
        assert (await model.complete(ask())).ok
        poster = await model._clients.get()
        assert not poster.closed
        return poster

    first, second = asyncio.run(call()), asyncio.run(call())
    assert first is not second and first.closed and second.closed


async def test_an_unreachable_server_is_an_error_after_retries(model_name: str) -> None:
    retry = RetryPolicy(attempts=2, initial_s=0.01, jitter_s=0)
    model = OpenAICompatModel("http://127.0.0.1:9/v1", model_name, retry=retry, endpoint=model_name)
    response = await model.complete(ask())
    assert response.finish_reason == "error"
    assert response.error == "http://127.0.0.1:9/v1/chat/completions could not be reached"


async def test_fallback_asks_the_next_model_when_one_fails(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    broken, spare = f"{model_name}-broken", f"{model_name}-spare"
    openai_server.script(broken, default={"status": 500})
    fallback = FallbackModel(
        [
            OpenAICompatModel(openai_server.url, broken, retry=ONCE, endpoint=broken),
            OpenAICompatModel(openai_server.url, spare, price_as="openai/gpt-4o-mini"),
        ]
    )
    response = await fallback.complete(ask())
    assert response.ok and response.model == spare and response.cost_usd
    assert openai_server.stats(broken)["requests"] == 1


async def test_fallback_reports_every_failure_when_all_fail(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    names = [f"{model_name}-a", f"{model_name}-b"]
    for name in names:
        openai_server.script(name, default={"status": 503, "error": f"{name} is down"})
    fallback = FallbackModel(
        [OpenAICompatModel(openai_server.url, n, retry=ONCE, endpoint=n) for n in names]
    )
    response = await fallback.complete(ask())
    assert not response.ok
    assert all(f"{n} is down" in (response.error or "") for n in names)
    with pytest.raises(SpecError):
        FallbackModel([])
