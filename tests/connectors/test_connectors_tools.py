"""Tool calling over the wire: the OpenAI-compatible connector and the Portkey connector (through
the open-source gateway) send the offered tools in OpenAI's shape and read the model's calls."""

from __future__ import annotations

import json

from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway

import ekklesia as ek
from ekklesia.core.llm import ChatTurn, LLMRequest, ModelToolCall

SQL = ek.tools.sql.tool_spec(leave_out=("database", "max_rows", "timeout_s"))
QUERY = "SELECT COUNT(*) AS n FROM planes"


def ask(tool_choice: str = "auto") -> LLMRequest:
    turns = (ChatTurn(role="user", content="How many planes are there?"),)
    return LLMRequest(messages=turns, max_tokens=256, tools=(SQL,), tool_choice=tool_choice)


async def test_tools_are_sent_and_the_models_calls_come_back(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(
        model_name,
        [
            {"tool_calls": [{"name": "sql", "arguments": {"query": QUERY}, "id": "call_a"}]},
            {"tool_calls": [{"name": "sql", "arguments": '{"query": "SELECT'}]},  # cut short
            {"text": "No tool needed: there are 3322."},
        ],
    )
    model = ek.model_from_spec(f"openai:{openai_server.url}?price_as=gpt-4o-mini#{model_name}")
    called = await model.complete(ask())
    forced = await model.complete(ask(tool_choice="sql"))
    plain = await model.complete(LLMRequest(messages=ask().messages))
    bodies = [r["body"] for r in openai_server.requests(model_name)]

    assert called.ok and called.text == "" and called.finish_reason == "tool_calls"
    assert called.tool_calls == (
        ModelToolCall(id="call_a", name="sql", arguments=json.dumps({"query": QUERY})),
    )
    assert called.tool_call("sql") is not None
    assert called.tool_call("sql").parsed_arguments == {"query": QUERY}  # type: ignore[union-attr]
    assert called.output_tokens > 0 and not called.usage_estimated
    assert forced.ok and forced.tool_calls[0].parsed_arguments is None  # kept, not raised
    assert forced.tool_calls[0].arguments == '{"query": "SELECT'
    assert plain.text.startswith("No tool needed") and plain.tool_calls == ()

    assert bodies[0]["tools"] == [SQL.openai()] and bodies[0]["tool_choice"] == "auto"
    assert bodies[1]["tool_choice"] == {"type": "function", "function": {"name": "sql"}}
    assert "tools" not in bodies[2] and "tool_choice" not in bodies[2]


async def test_a_spec_can_turn_tools_off_for_a_server_that_rejects_them(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    spec = f"openai:{openai_server.url}?tools=off&price_as=gpt-4o-mini#{model_name}"
    model = ek.model_from_spec(spec)
    assert not model.supports_tools
    answer = await model.complete(ask())
    assert answer.ok and answer.tool_calls == ()
    assert "tools" not in openai_server.requests(model_name)[-1]["body"]


async def test_tool_calls_through_the_portkey_gateway(
    portkey_gateway: PortkeyGateway, openai_server: LocalOpenAIServer, model_name: str
) -> None:
    openai_server.script(
        model_name, [{"tool_calls": [{"name": "sql", "arguments": {"query": QUERY}}]}]
    )
    options = f"base_url={portkey_gateway.url}&custom_host={openai_server.url}"
    model = ek.model_from_spec(f"portkey:@openai/{model_name}?{options}&price_as=gpt-4o-mini")
    assert model.supports_tools
    assert not ek.model_from_spec(
        f"portkey:@openai/{model_name}?{options}&tools=off"
    ).supports_tools
    answer = await model.complete(ask(tool_choice="required"))
    assert answer.ok, answer.error
    assert [(c.name, c.parsed_arguments) for c in answer.tool_calls] == [("sql", {"query": QUERY})]
    assert answer.tool_calls[0].id  # the provider's call id, passed on by the gateway
    assert answer.finish_reason == "tool_calls" and answer.cost_usd is not None
    body = openai_server.requests(model_name)[-1]["body"]  # what the gateway sent on
    assert body["tools"] == [SQL.openai()] and body["tool_choice"] == "required"
