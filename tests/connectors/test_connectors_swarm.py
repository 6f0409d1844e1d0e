"""End to end: a 3-agent debate on Ray hosts with real HTTP models, recorded as priced calls."""

from __future__ import annotations

import asyncio
import json

import pyarrow.parquet as pq
import pytest
from openai_server import LocalOpenAIServer
from portkey_gateway import PortkeyGateway
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.connectors import OpenAICompatModel
from ekklesia.core.events import ModelCalled
from ekklesia.runtime.ledger_actor import BudgetedModel, session_ledger

pytestmark = pytest.mark.usefixtures("ray_session")

PRICE = "price_as=gpt-4o-mini"


def debate(spec: str) -> ek.RunResult:
    agents = [ek.Agent(f"a{i}", model=spec, max_tokens=128) for i in range(3)]
    swarm = ek.Swarm(
        agents, rounds=2, stop_on_consensus=False, budget=ek.Budget(max_usd=1.0), placement="single"
    )
    with swarm:
        return swarm.run(ek.Task.of("What is 6 * 7?", expected="42"))


def assert_priced_calls(result: ek.RunResult, calls: int) -> None:
    recorded = result.timeline.of_kind(ModelCalled)
    assert len(recorded) == calls
    for call in recorded:
        response = call.response
        assert response.ok and not response.usage_estimated, response.error
        assert response.input_tokens > 0 and response.output_tokens > 0
        assert response.cost_usd == pytest.approx(
            (response.input_tokens * 0.15 + response.output_tokens * 0.60) / 1e6
        )
    assert result.usage.usd == pytest.approx(sum(c.response.cost_usd for c in recorded))
    columns = pq.read_table(result.timeline_path, columns=["kind", "cost_usd"]).to_pylist()
    costs = [row["cost_usd"] for row in columns if row["kind"] == "model_call"]
    assert len(costs) == calls and all(c is not None and c > 0 for c in costs)


def test_a_debate_against_an_openai_compatible_server(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    result = debate(f"openai:{openai_server.url}?{PRICE}#{model_name}")
    assert (result.answer, result.correct, result.rounds) == ("42", True, 2)
    assert_priced_calls(result, 6)
    sent = openai_server.requests(model_name)
    assert len(sent) == 6
    # Round two shows each agent the others' answers: the debate reached the server.
    assert any("One agent solution" in json.dumps(r["body"]["messages"]) for r in sent)


def test_a_debate_through_the_portkey_gateway(
    portkey_gateway: PortkeyGateway, openai_server: LocalOpenAIServer, model_name: str
) -> None:
    options = f"base_url={portkey_gateway.url}&custom_host={openai_server.url}&{PRICE}"
    result = debate(f"portkey:@openai/{model_name}?{options}")
    assert (result.answer, result.correct) == ("42", True)
    assert_priced_calls(result, 6)
    assert openai_server.stats(model_name)["requests"] == 6


def test_ekklesia_run_with_a_real_model_and_its_cost_report(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    spec = f"openai:{openai_server.url}?{PRICE}#{model_name}"
    runner = CliRunner()
    args = ["run", "--model", spec, "--tasks", "2", "--rounds", "1", "--placement", "single"]
    ran = runner.invoke(app, [*args, "--json"])
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert summary["usage"]["usd"] > 0 and summary["tasks"] == 2

    reported = runner.invoke(app, ["cost", "report", "--format", "json"])
    assert reported.exit_code == 0, reported.output
    totals = json.loads(reported.stdout)["total"]
    assert totals["calls"] == 6 and totals["unpriced_calls"] == 0
    assert totals["usd"] == pytest.approx(summary["usage"]["usd"])
    assert totals["input_tokens"] == summary["usage"]["input_tokens"]


def test_a_session_budget_holds_across_hosts(
    openai_server: LocalOpenAIServer, model_name: str
) -> None:
    model = OpenAICompatModel(openai_server.url, model_name, price_as="gpt-4o-mini")
    per_call = model.max_cost_usd(400, 128)
    assert per_call is not None
    ledger = session_ledger(ek.Budget(max_usd=per_call * 3), name=f"ledger-{model_name}")
    budgeted = BudgetedModel(model, ledger)
    agents = [ek.Agent(f"a{i}", model=budgeted, max_tokens=128) for i in range(3)]
    swarm = ek.Swarm(agents, rounds=3, stop_on_consensus=False, placement="per_agent")
    with swarm:
        result = swarm.run(ek.Task.of("What is 6 * 7?", expected="42"))

    report = asyncio.run(ledger.report())
    recorded = [c.response for c in result.timeline.of_kind(ModelCalled)]
    refused = [r for r in recorded if r.finish_reason == "refused"]
    assert report.spent.usd <= per_call * 3
    assert refused and len(refused) == report.refused
    assert all((r.error or "").startswith("budget:") for r in refused)
    assert (
        report.spent.calls
        == len(recorded) - len(refused)
        == openai_server.stats(model_name)["requests"]
    )
