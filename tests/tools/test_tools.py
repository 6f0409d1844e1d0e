"""Tools: typed arguments, recorded calls, the call discipline, budgets and replay."""

from __future__ import annotations

import asyncio
import sys

import pytest
from ray import cloudpickle

import ekklesia as ek
from ekklesia.core.events import ToolCalled

pytestmark = pytest.mark.usefixtures("ray_session")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # hosts cannot import test modules


@ek.tool(price_usd=0.01, timeout_s=0.5)
async def lookup(key: str, times: int = 1) -> dict[str, int]:
    """Look a key up."""
    if key == "slow":
        await asyncio.sleep(5)
    if key == "boom":
        raise ValueError("no such key")
    return {key: len(key) * times}


ek.register_tool(lookup)


class Caller(ek.Agent):
    """Calls the tool with what the task says, once per key, then answers with the total."""

    async def step(self, inbox, ctx):  # type: ignore[no-untyped-def]
        total = 0
        for key in ctx.task.prompt.split():
            result = await ctx.call_tool("lookup", key=key, times=2)
            if result.ok:
                total += result.value[key]
        await ctx.call_tool("lookup", key=3)  # a bad argument: recorded, the step goes on
        await ctx.call_tool("nope")
        return [ek.Utterance(content=f"Answer: {total}", answer=str(total))]


async def test_a_tool_called_directly_validates_and_runs() -> None:
    assert await lookup("abc") == {"abc": 3}
    assert await lookup(key="ab", times=3) == {"ab": 6}
    with pytest.raises(ek.ToolError, match="key"):
        await lookup(key=1)
    with pytest.raises(ek.ToolError, match="timed out"):
        await lookup("slow")
    schema = lookup.json_schema()
    assert schema["name"] == "lookup" and schema["description"] == "Look a key up."
    assert schema["parameters"]["required"] == ["key"]
    assert set(schema["parameters"]["properties"]) == {"key", "times"}


def test_every_call_is_recorded_and_failures_do_not_stop_the_step() -> None:
    with ek.Swarm([Caller("c", tools=["lookup"])], rounds=1) as swarm:
        result = swarm.run(ek.Task.of("ab boom slow abc", expected="10"))
    calls = result.timeline.of_kind(ToolCalled)
    assert [c.call_index for c in calls] == list(range(6))
    ok, boom, slow, abc, bad, unknown = calls
    assert ok.result == {"ab": 4} and ok.arguments == {"key": "ab", "times": 2} and ok.ok
    assert ok.result_digest and ok.cost_usd == 0.01
    assert boom.error == "ValueError: no such key"
    assert slow.error is not None and "timed out" in slow.error
    assert abc.result == {"abc": 6}
    assert bad.error is not None and "bad arguments" in bad.error and bad.cost_usd == 0
    assert unknown.error is not None and "no tool 'nope'" in unknown.error
    assert result.correct and result.usage.tool_calls == 4
    assert result.usage.usd == pytest.approx(0.04)


def test_a_replay_returns_the_recorded_results_and_runs_no_tool() -> None:
    with ek.Swarm([Caller("c", tools=["lookup"])], rounds=1) as swarm:
        result = swarm.run(ek.Task.of("ab abc", expected="10"))
    ek.register_tool(ek.Tool(_refuse, name="lookup"))  # a replay that ran the tool would fail
    try:
        report = ek.replay(result.run_id)
    finally:
        ek.register_tool(lookup)
    assert report.identical, report


async def _refuse(key: str, times: int = 1) -> dict[str, int]:
    raise AssertionError("a replay ran a tool")


def test_a_budget_refuses_tool_calls_it_cannot_pay_for() -> None:
    budget = ek.Budget(max_usd=0.025)  # room for two calls at $0.01, not three
    agent = Caller("c", tools=["lookup"], max_tool_calls=2, model=ek.SimulatedModel())
    with ek.Swarm([agent], rounds=1, budget=budget) as swarm:
        result = swarm.run(ek.Task.of("a b c", expected="6"))
    calls = result.timeline.of_kind(ToolCalled)
    refused = [c for c in calls if c.error and c.error.startswith("budget")]
    assert len(refused) >= 1 and result.usage.usd <= 0.025 + 1e-9


def test_tools_are_named_in_the_spec_and_unknown_ones_refused() -> None:
    swarm = ek.Swarm([Caller("c", tools=["lookup"])], rounds=1)
    assert swarm.spec().agents[0].tools == ["lookup"]  # type: ignore[union-attr]
    with pytest.raises(ek.SpecError, match="unknown tool"):
        ek.Agent("x", tools=["no-such-tool"])
    with pytest.raises(ek.SpecError, match="async"):
        ek.tool(lambda: 1)


class SandboxRunner(ek.Agent):
    """Runs the task's code and tests in the sandbox and says whether they passed."""

    async def step(self, inbox, ctx):  # type: ignore[no-untyped-def]
        ran = await ctx.call_tool(
            "python_sandbox", code=ctx.task.prompt, tests=ctx.task.meta["tests"], timeout_s=10.0
        )
        verdict = "pass" if ran.ok and ran.value.passed else "fail"
        return [ek.Utterance(content=f"Answer: {verdict}", answer=verdict)]


def test_the_sandbox_is_a_tool_whose_runs_replay_from_the_record() -> None:
    code = "def add(a, b):\n    return a + b\n"
    task = ek.Task(id="add", prompt=code, expected="pass", meta={"tests": "assert add(2, 3) == 5"})
    with ek.Swarm([SandboxRunner("t", tools=["python_sandbox"])], rounds=1) as swarm:
        result = swarm.run(task)
    (call,) = result.timeline.of_kind(ToolCalled)
    assert result.correct and call.tool == "python_sandbox" and call.result["passed"] is True
    assert ek.replay(result.run_id).identical


class Analyst(ek.Agent):
    """Asks the database what the task asks; a write it tries is refused and recorded."""

    async def step(self, inbox, ctx):  # type: ignore[no-untyped-def]
        database = ctx.task.meta["database"]
        counted = await ctx.call_tool("sql", database=database, query=ctx.task.prompt)
        await ctx.call_tool("sql", database=database, query="DELETE FROM flights")
        answer = str(counted.value[0][0]) if counted.ok else None
        return [ek.Utterance(content=f"Answer: {answer}", answer=answer)]


def test_sql_is_a_read_only_tool_in_a_run(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    path = Path(str(tmp_path)) / "flights.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE flights (origin TEXT, delay INTEGER)")
        con.executemany("INSERT INTO flights VALUES (?, ?)", [("EWR", 5), ("JFK", 7), ("EWR", 1)])
    task = ek.Task(
        id="count",
        prompt="SELECT count(*) FROM flights WHERE origin = 'EWR'",
        expected="2",
        meta={"database": str(path)},
    )
    with ek.Swarm([Analyst("bi", tools=["sql"])], rounds=1) as swarm:
        result = swarm.run(task)
    counted, refused = result.timeline.of_kind(ToolCalled)
    assert result.correct and counted.result == {
        "columns": ["count(*)"],
        "rows": [[2]],
        "truncated": False,
    }
    assert refused.error is not None and "read-only" in refused.error
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM flights").fetchone() == (3,)
