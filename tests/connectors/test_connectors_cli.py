"""``ekklesia models`` and ``ekklesia cost report``, registered into a fresh Typer app."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ekklesia.cli import costs, models
from ekklesia.core.events import CallRefused, ModelCalled, RunStarted
from ekklesia.core.llm import LLMResponse
from ekklesia.runtime.timeline import Timeline


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    models.register(app)
    costs.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def call(agent: str, model: str, tokens: tuple[int, int], cost: float | None, **kw: object) -> Any:
    response = LLMResponse(
        text="Answer: 1",
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=cost,
        model=model,
        **kw,  # type: ignore[arg-type]
    )
    return ModelCalled(agent=agent, call_index=0, request_digest="d", response=response)


@pytest.fixture
def recorded() -> list[str]:
    """Two runs: priced, unpriced, failed and refused calls, on two models and three agents."""
    first = Timeline("run-a")
    first.append(RunStarted(spec={}, task={}))
    first.append(call("alice", "gpt-4o-mini", (100, 50), 0.001))
    first.append(call("bob", "gpt-4o-mini", (200, 20), 0.002))
    first.append(call("bob", "local-llama", (300, 30), None))
    first.append(call("carol", "gpt-4o-mini", (0, 0), None, error="503", finish_reason="error"))
    first.write()
    second = Timeline("run-b")
    second.append(call("alice", "gpt-4o-mini", (1000, 500), 0.01))
    second.append(
        call("carol", "gpt-4o-mini", (0, 0), None, error="budget: no", finish_reason="refused")
    )
    second.append(CallRefused(agent="carol", reason="budget: step allowance"))
    second.write()
    return ["run-a", "run-b"]


def test_cost_report_totals_by_run_model_and_agent(cli: typer.Typer, recorded: list[str]) -> None:
    code, out, _ = invoke(cli, "cost", "report", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["total"] == {
        "calls": 5,
        "input_tokens": 1600,
        "output_tokens": 600,
        "usd": pytest.approx(0.013),
        "unpriced_calls": 1,
        "failed_calls": 1,
        "refused_calls": 2,
    }
    by_run = {r["run_id"]: r for r in report["by_run"]}
    assert (by_run["run-a"]["calls"], by_run["run-b"]["calls"]) == (4, 1)
    assert by_run["run-b"]["refused_calls"] == 2
    by_model = {r["model"]: r for r in report["by_model"]}
    assert by_model["local-llama"]["unpriced_calls"] == 1
    assert by_model["gpt-4o-mini"]["usd"] == pytest.approx(0.013)
    by_agent = {r["agent"]: r for r in report["by_agent"]}
    assert by_agent["alice"]["input_tokens"] == 1100
    assert (by_agent["carol"]["failed_calls"], by_agent["carol"]["refused_calls"]) == (1, 2)


def test_cost_report_for_one_run_as_csv(cli: typer.Typer, recorded: list[str]) -> None:
    code, out, _ = invoke(cli, "cost", "report", "--run", "run-a", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["run_id"], r["model"], r["agent"]) for r in rows} == {
        ("run-a", "gpt-4o-mini", "alice"),
        ("run-a", "gpt-4o-mini", "bob"),
        ("run-a", "local-llama", "bob"),
        ("run-a", "gpt-4o-mini", "carol"),
    }
    assert sum(float(r["usd"]) for r in rows) == pytest.approx(0.003)


def test_cost_report_as_tables(cli: typer.Typer, recorded: list[str]) -> None:
    code, out, _ = invoke(cli, "cost", "report")
    assert code == 0
    for heading in ("by model", "by session", "local-llama", "run-a", "drill down"):
        assert heading in out
    code, by_agent, _ = invoke(cli, "cost", "report", "--by", "agent")
    assert code == 0 and "by agent" in by_agent and "carol" in by_agent
    assert "total  5 calls, 1,600 tokens in, 600 out, $0.013000 (+1 calls of unknown cost)" in out


def test_cost_report_since_a_date(cli: typer.Typer, recorded: list[str]) -> None:
    code, out, _ = invoke(cli, "cost", "report", "--since", "2999-01-01", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["calls"] == 0
    code, out, _ = invoke(cli, "cost", "report", "--since", "2000-01-01", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["calls"] == 5


def test_cost_report_with_nothing_recorded(cli: typer.Typer) -> None:
    code, out, _ = invoke(cli, "cost", "report")
    assert code == 0 and "no model calls recorded" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last tuesday"), "--since 'last tuesday' is not a date"),
        (("--run", "no-such-run"), "no timeline recorded for run 'no-such-run'"),
        (("--run", "../etc"), "no timeline recorded for run '../etc'"),
        (("--format", "xml"), "'xml' is not one of"),
    ],
)
def test_cost_report_bad_input_is_one_line(
    cli: typer.Typer, recorded: list[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = invoke(cli, "cost", "report", *args)
    assert code != 0 and message in " ".join(err.split())
    assert "Traceback" not in out + err


def test_cost_report_on_a_damaged_timeline_is_one_line(
    cli: typer.Typer, ekklesia_home: Path
) -> None:
    directory = ekklesia_home / "timelines"
    directory.mkdir(parents=True)
    (directory / "broken.parquet").write_bytes(b"not parquet at all")
    code, out, err = invoke(cli, "cost", "report")
    assert code == 2 and "broken.parquet is not a readable timeline" in " ".join(err.split())
    assert "Traceback" not in out + err


def test_models_lists_prices_and_checks_specs(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test-value-never-printed-123")
    spec = "openai:http://127.0.0.1:9/v1?price_as=gpt-4o#local"
    code, out, _ = invoke(cli, "models", spec, "--json")
    assert code == 0
    listing = json.loads(out)
    prices = {m["model"]: m for m in listing["models"]}
    assert prices["openai/gpt-4o-mini"]["input_per_1m"] == 0.15
    assert listing["checked"] == [
        {
            "spec": spec,
            "class": "OpenAICompatModel",
            "name": "local",
            "input_per_1m": 2.5,
            "output_per_1m": 10.0,
        }
    ]
    assert listing["keys"]["OPENAI_API_KEY"] is True
    code, out, _ = invoke(cli, "models", spec)
    assert code == 0 and "openai/gpt-4o-mini" in out and "OPENAI_API_KEY set" in out
    assert "sk-cli-test-value" not in out


def test_models_rejects_a_bad_spec_in_one_line(cli: typer.Typer) -> None:
    code, out, err = invoke(cli, "models", "openai:http://127.0.0.1:9/v1")
    assert code == 2 and "names no model" in err
    assert "Traceback" not in out + err
