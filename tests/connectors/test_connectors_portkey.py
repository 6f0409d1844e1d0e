"""The Portkey connector: the SDK's headers, and calls through the open-source gateway (node)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway

from ekklesia.agents.spec import model_from_spec
from ekklesia.connectors import PortkeyModel, RetryPolicy
from ekklesia.core.llm import ChatTurn, LLMRequest
from ekklesia.errors import SpecError

ONCE = RetryPolicy(attempts=1)


def ask(run_id: str = "run-1", agent: str = "critic", round: int = 2) -> LLMRequest:
    return LLMRequest(
        messages=(ChatTurn(role="user", content="What is 6 * 7?"),),
        max_tokens=256,
        run_id=run_id,
        agent=agent,
        round=round,
        call_index=1,
        metadata={"task": "t-7"},
    )


def through(gateway: PortkeyGateway, server: LocalOpenAIServer, model: str, **extra: str) -> str:
    options = {"base_url": gateway.url, "custom_host": server.url, "price_as": "gpt-4o-mini"}
    options.update(extra)
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"portkey:@openai/{model}?{query}"


async def test_calls_carry_the_run_agent_and_round_for_portkeys_logs(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    # The scripted server stands where a gateway would: it sees exactly what the SDK sends.
    spec = f"portkey:@openai/{model_name}?base_url={openai_server.url}&price_as=gpt-4o"
    model = model_from_spec(spec)
    response = await model.complete(ask())
    assert response.ok, response.error
    headers = openai_server.requests(model_name)[-1]["headers"]
    assert headers["x-portkey-provider"] == "openai"
    assert headers["x-portkey-trace-id"] == "run-1"
    assert headers["x-portkey-span-id"] == "critic.r2.c1"
    assert json.loads(headers["x-portkey-metadata"]) == {
        "_user": "critic",
        "agent": "critic",
        "round": "2",
        "run_id": "run-1",
        "task": "t-7",
    }
    assert headers["x-stainless-retry-count"] == "0"  # the SDK does not retry behind our back


async def test_a_call_through_the_gateway_is_priced(
    portkey_gateway: PortkeyGateway, openai_server: LocalOpenAIServer
) -> None:
    openai_server.script("gpt-4o-mini", [{"prompt_tokens": 2000, "completion_tokens": 100}])
    model = model_from_spec(through(portkey_gateway, openai_server, "gpt-4o-mini"))
    response = await model.complete(ask())
    assert response.ok, response.error
    assert "Answer: 42" in response.text
    assert (response.input_tokens, response.output_tokens) == (2000, 100)
    assert response.cost_usd == pytest.approx((2000 * 0.15 + 100 * 0.60) / 1e6)
    assert not response.usage_estimated


async def test_a_portkey_config_is_passed_through_to_the_gateway(
    portkey_gateway: PortkeyGateway,
    openai_server: LocalOpenAIServer,
    model_name: str,
    tmp_path: Path,
) -> None:
    primary, backup = f"{model_name}-primary", f"{model_name}-backup"
    openai_server.script(primary, default={"status": 503, "error": "primary is down"})
    # The gateway asks each target for a key; the scripted server needs none.
    target = {"provider": "openai", "api_key": "unused-locally", "custom_host": openai_server.url}
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {**target, "override_params": {"model": primary}},
            {**target, "override_params": {"model": backup}},
        ],
    }
    path = tmp_path / "fallback.json"
    path.write_text(json.dumps(config))
    spec = f"portkey:{primary}?base_url={portkey_gateway.url}&config={path}&price_as=gpt-4o-mini"
    response = await model_from_spec(spec).complete(ask())
    assert response.ok, response.error
    assert response.model == backup and response.cost_usd is not None
    assert openai_server.stats(primary)["requests"] == 1
    assert openai_server.stats(backup)["requests"] == 1


async def test_gateway_errors_come_back_as_errors_after_retries(
    portkey_gateway: PortkeyGateway, openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(model_name, [{"status": 429, "retry_after": 0.1}])
    model = model_from_spec(through(portkey_gateway, openai_server, model_name, retries="2"))
    assert (await model.complete(ask())).ok
    assert openai_server.stats(model_name)["requests"] == 2

    openai_server.script(model_name, default={"status": 400, "error": "bad prompt"})
    failed = await model.complete(ask())
    assert failed.finish_reason == "error" and "400" in (failed.error or "")
    assert openai_server.stats(model_name)["requests"] == 3


def test_the_hosted_gateway_gets_the_catalog_string_and_needs_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PORTKEY_API_KEY", raising=False)
    monkeypatch.delenv("EKKLESIA_PORTKEY_BASE_URL", raising=False)
    monkeypatch.delenv("EKKLESIA_SECRETS_FILE", raising=False)
    with pytest.raises(SpecError, match="needs an API key: set PORTKEY_API_KEY"):
        model_from_spec("portkey:@openai/gpt-4o-mini")
    monkeypatch.setenv("PORTKEY_API_KEY", "pk-test-not-a-real-key-000")
    model = model_from_spec("portkey:@openai/gpt-4o-mini")
    assert isinstance(model, PortkeyModel) and model.hosted
    assert (model.model, model.provider) == ("@openai/gpt-4o-mini", None)
    assert model.max_cost_usd(1_000_000, 0) == pytest.approx(0.15)


def test_the_gateway_comes_from_the_environment_when_the_spec_names_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EKKLESIA_PORTKEY_BASE_URL", "http://127.0.0.1:8787/v1")
    model = model_from_spec("portkey:@anthropic/claude-3-5-haiku?timeout=5")
    assert isinstance(model, PortkeyModel) and not model.hosted
    assert (model.base_url, model.provider, model.model) == (
        "http://127.0.0.1:8787/v1",
        "anthropic",
        "claude-3-5-haiku",
    )


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("", "expected portkey:@provider/model"),
        ("@openai/", "expected portkey:@provider/model"),
        ("@openai/m?base_url=ftp://x", "must be an http(s) URL"),
        ("@openai/m?base_url=http://127.0.0.1:1/v1&temperature=1", "unknown option"),
        ("@openai/m?base_url=http://127.0.0.1:1/v1&config=/no/such.json", "not found"),
        ("m?base_url=http://127.0.0.1:1/v1", "names no provider"),
        ("@openai/m?base_url=http://127.0.0.1:1/v1&provider_key_env=EKK_UNSET", "EKK_UNSET"),
    ],
)
def test_malformed_portkey_specs_fail_before_anything_runs(rest: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        model_from_spec(f"portkey:{rest}")
    assert message in str(caught.value)
