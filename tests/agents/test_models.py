import asyncio
import json
from pathlib import Path

import pytest

import ekklesia as ek
from ekklesia.core.llm import ChatTurn, LLMRequest


def req(text: str = "hello") -> LLMRequest:
    return LLMRequest(messages=(ChatTurn(role="user", content=text),))


def test_function_model_wraps_sync_and_async_callables() -> None:
    sync = ek.FunctionModel(lambda r: "Answer: 4")
    reply = asyncio.run(sync.complete(req()))
    assert reply.text == "Answer: 4" and reply.usage_estimated and reply.output_tokens > 0

    async def answer(r: LLMRequest) -> ek.LLMResponse:
        return ek.LLMResponse(text="x", input_tokens=3, output_tokens=1, cost_usd=0.5, model="mine")

    reply = asyncio.run(ek.FunctionModel(answer).complete(req()))
    assert reply.cost_usd == 0.5 and reply.model == "mine"


def test_function_model_turns_exceptions_into_failed_calls() -> None:
    def broken(r: LLMRequest) -> str:
        raise ValueError("no such tool")

    reply = asyncio.run(ek.FunctionModel(broken).complete(req()))
    assert not reply.ok and "no such tool" in (reply.error or "")
    odd = asyncio.run(ek.FunctionModel(lambda r: 42).complete(req()))  # type: ignore[arg-type,return-value]
    assert not odd.ok and "int" in (odd.error or "")


@pytest.mark.parametrize(
    ("spec", "skill", "conformity"),
    [("sim", 0.67, 0.3), ("sim:skill=0.9", 0.9, 0.3), ("sim:skill=0.2,conformity=1", 0.2, 1.0)],
)
def test_sim_specs(spec: str, skill: float, conformity: float) -> None:
    model = ek.model_from_spec(spec)
    assert isinstance(model, ek.SimulatedModel)
    assert (model.skill, model.conformity) == (skill, conformity)
    again = ek.model_from_spec(model.spec())
    assert isinstance(again, ek.SimulatedModel) and again.spec() == model.spec()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt5", "unknown model spec"),
        ("sim:skill", "expected key=value"),
        ("sim:skill=high", "bad value"),
        ("sim:temperature=1", "unknown option"),
        ("sim:skill=2", "within [0, 1]"),
        ("", "non-empty"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ek.SpecError, match=message.replace("[", r"\[")):
        ek.model_from_spec(spec)


def test_price_lookup_accepts_provider_bare_and_catalog_names() -> None:
    prices = ek.default_prices()
    full = prices.lookup("openai/gpt-4o-mini")
    assert full is not None
    assert prices.lookup("gpt-4o-mini") == full
    assert prices.lookup("@openai/gpt-4o-mini") == full
    assert prices.lookup("no-such-model") is None
    assert prices.cost("no-such-model", 10, 10) is None
    assert full.cost(1_000_000, 0) == pytest.approx(full.input)


def test_user_price_file_overrides_and_bad_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"version": "mine", "models": {"acme/m1": {"input": 1, "output": 2}}})
    )
    table = ek.default_prices().merged(ek.PriceTable.from_file(path))
    assert table.cost("acme/m1", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert table.lookup("gpt-4o") is not None
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ek.UserError, match="not a valid price table"):
        ek.PriceTable.from_file(tmp_path / "bad.json")
    with pytest.raises(ek.UserError, match="not found"):
        ek.PriceTable.from_file(tmp_path / "missing.json")
