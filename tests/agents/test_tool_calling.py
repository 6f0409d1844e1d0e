"""Tool calling in the model vocabulary: offered tools and the model's calls round-trip, requests
without tools digest and load as they did before tool calling existed, and a replay gives back the
recorded calls and offers what the recorded run offered."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

import ekklesia as ek
from ekklesia.agents.context import StepContext, request_digest
from ekklesia.connectors import FallbackModel
from ekklesia.core.events import EVENT_ADAPTER, ModelCalled
from ekklesia.core.llm import ChatTurn, LLMRequest, LLMResponse, ModelToolCall, ToolSpec
from ekklesia.core.task import Task
from ekklesia.runtime.ledger_actor import bound_input_tokens

SQL = ek.tools.sql.tool_spec(leave_out=("database", "max_rows", "timeout_s"))
TURNS = (
    ChatTurn(role="system", content="You are a data analyst."),
    ChatTurn(role="user", content="Question: How many planes are there?"),
)
#: ``request_digest`` of ``plain()`` as computed before requests could offer tools.
DIGEST_BEFORE_TOOLS = "812be3867b9351248f1644ca"
#: A model call as timelines recorded it before tool calling existed (no tool fields at all).
RECORDED_BEFORE_TOOLS = (
    '{"seq":-1,"run_id":"","round":0,"schema_version":1,"wall_time":0.0,"kind":"model_call",'
    '"agent":"analyst","call_index":0,"request_digest":"812be3867b9351248f1644ca","response":'
    '{"text":"x","input_tokens":0,"output_tokens":0,"cached_input_tokens":0,"cost_usd":null,'
    '"usage_estimated":false,"latency_s":0.0,"model":"m","finish_reason":"stop","error":null}}'
)


def plain() -> LLMRequest:
    return LLMRequest(messages=TURNS, max_tokens=300, seed=7, run_id="r", agent="analyst")


def test_a_request_without_tools_digests_as_before_tool_calling() -> None:
    assert request_digest(plain()) == DIGEST_BEFORE_TOOLS
    offered = plain().model_copy(update={"tools": (SQL,)})
    forced = LLMRequest(messages=TURNS, tools=(SQL,), tool_choice="sql")
    # offering a tool, or forcing it, is asking something else: a replay must notice
    assert len({request_digest(plain()), request_digest(offered), request_digest(forced)}) == 3


async def test_a_model_call_recorded_before_tool_calling_loads_and_replays() -> None:
    event = EVENT_ADAPTER.validate_json(RECORDED_BEFORE_TOOLS)
    assert isinstance(event, ModelCalled)
    assert event.offered_tools == () and event.response.tool_calls == ()
    replay = ek.ReplayModel([event])
    assert not replay.supports_tools  # so the agent builds the request it built then
    assert (await replay.complete(plain())) == event.response


def test_requests_and_responses_round_trip_with_and_without_tool_calls() -> None:
    call = ModelToolCall(id="call_1", name="sql", arguments='{"query": "SELECT 1"}')
    with_tools = LLMRequest(messages=TURNS, tools=(SQL,), tool_choice="required")
    answered = LLMResponse(model="m", finish_reason="tool_calls", tool_calls=(call,))
    for value in (plain(), with_tools, LLMResponse(text="hi", model="m"), answered):
        assert type(value).model_validate_json(value.model_dump_json()) == value
    event = ModelCalled(
        agent="a", call_index=0, request_digest="d", response=answered, offered_tools=("sql",)
    )
    assert EVENT_ADAPTER.validate_json(event.model_dump_json()) == event
    assert answered.tool_call("sql") == call and answered.tool_call("chart") is None
    assert call.parsed_arguments == {"query": "SELECT 1"}


@pytest.mark.parametrize("arguments", ["", "{}", '{"query": "SELECT 1"', "[1, 2]", "null"])
def test_arguments_that_are_not_a_json_object_read_softly(arguments: str) -> None:
    parsed = ModelToolCall(name="sql", arguments=arguments).parsed_arguments
    assert parsed == ({} if arguments in ("", "{}") else None)


def test_a_tool_is_offered_in_openais_function_shape_without_what_the_caller_fills_in() -> None:
    assert SQL.openai() == {
        "type": "function",
        "function": {
            "name": "sql",
            "description": ek.tools.sql.description,
            "parameters": {
                "additionalProperties": False,
                "properties": {"query": {"title": "Query", "type": "string"}},
                "required": ["query"],
                "type": "object",
            },
        },
    }
    whole = ek.tools.sql.tool_spec()
    assert whole.parameters == ek.tools.sql.json_schema()["parameters"]
    with pytest.raises(ek.SpecError, match="has no argument dialect"):
        ek.tools.sql.tool_spec(leave_out=("dialect",))


def test_a_tool_choice_names_an_offered_tool_and_a_tool_is_offered_once() -> None:
    with pytest.raises(ValidationError, match="neither one of auto, none, required"):
        LLMRequest(messages=TURNS, tools=(SQL,), tool_choice="chart")
    with pytest.raises(ValidationError, match="offered twice: sql"):
        LLMRequest(messages=TURNS, tools=(SQL, SQL))
    with pytest.raises(ValidationError):
        ToolSpec(name="has space")


def test_offered_tools_count_in_the_budgets_bound_on_the_prompt() -> None:
    offered = plain().model_copy(update={"tools": (SQL,)})
    schema = len(json.dumps(SQL.openai()).encode())
    assert bound_input_tokens(offered) - bound_input_tokens(plain()) >= schema // 3


def test_which_models_take_tools() -> None:
    def reply(request: LLMRequest) -> str:
        return "ok"

    assert not ek.SimulatedModel().supports_tools
    assert not ek.FunctionModel(reply).supports_tools
    assert ek.FunctionModel(reply, tools=True).supports_tools
    local = "openai:http://127.0.0.1:9/v1#m"
    assert ek.model_from_spec(local).supports_tools
    assert not ek.model_from_spec("openai:http://127.0.0.1:9/v1?tools=off#m").supports_tools
    # (the Portkey connector's flag is checked with its tests: its SDK takes seconds to import)
    with pytest.raises(ek.SpecError, match=r"'tools' in model spec .* must be on or off"):
        ek.model_from_spec("openai:http://127.0.0.1:9/v1?tools=maybe#m")
    assert FallbackModel([ek.SimulatedModel(), ek.model_from_spec(local)]).supports_tools
    assert ek.BudgetedModel(ek.model_from_spec(local), ledger=object()).supports_tools


async def test_a_replay_gives_back_the_recorded_tool_calls_and_offers_the_tools_again() -> None:
    call = ModelToolCall(id="call_9", name="sql", arguments='{"query":"SELECT 1;"}')
    answered = LLMResponse(model="m", finish_reason="tool_calls", tool_calls=(call,))

    def model(request: LLMRequest) -> LLMResponse:
        return answered if request.tools else LLMResponse(text="no tools offered", model="m")

    ctx = StepContext(
        run_id="r", round=0, agent="a", task=Task(id="t", prompt="?"), seed=0,
        model=ek.FunctionModel(model, tools=True),
    )  # fmt: skip
    offered = LLMRequest(messages=TURNS, tools=(SQL,))
    first = await ctx.complete(offered)
    assert first.tool_calls == (call,) and first.finish_reason == "tool_calls"
    recorded = ctx.events[-1]
    assert isinstance(recorded, ModelCalled) and recorded.offered_tools == ("sql",)
    replay = ek.ReplayModel([recorded])
    assert replay.supports_tools

    def replaying() -> StepContext:
        task = Task(id="t", prompt="?")
        return StepContext(run_id="r", round=0, agent="a", task=task, seed=0, model=replay)

    assert (await replaying().complete(offered)) == first  # id, name, arguments as sent
    not_offered = await replaying().complete(LLMRequest(messages=TURNS))
    assert not_offered.error is not None and "differs from the recorded one" in not_offered.error


@pytest.mark.usefixtures("ray_session")
def test_a_timeline_written_before_tool_calling_still_replays() -> None:
    agents = [ek.Agent("a0", model=ek.FunctionModel(lambda r: "Answer: 4"))]
    with ek.Swarm(agents, rounds=1) as swarm:
        result = swarm.run(ek.Task.of("2+2?", "4"))
    path = result.timeline_path
    # The file as it was before tool calling: no tool fields in any event.
    table = pq.read_table(path)
    old = [_without_tool_fields(p) for p in table.column("payload").to_pylist()]
    column = table.schema.get_field_index("payload")
    kind = table.schema.field(column).type
    pq.write_table(table.set_column(column, "payload", pa.array(old, type=kind)), path)
    assert sum('"response"' in p for p in old) == 1 and not any("offered_tools" in p for p in old)
    assert ek.replay(result.run_id).identical


def _without_tool_fields(payload: str) -> str:
    event = json.loads(payload)
    event.pop("offered_tools", None)
    if isinstance(event.get("response"), dict):
        event["response"].pop("tool_calls", None)
    return json.dumps(event)
