"""The ``ekklesia`` command, in process (sharing the test Ray) and as a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ekklesia.cli import app

runner = CliRunner()


@pytest.fixture
def ran(ray_session: None) -> dict[str, object]:
    result = runner.invoke(app, ["run", "--tasks", "4", "--rounds", "2", "--json", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_run_json_reports_accuracy_usage_and_each_task(ran: dict[str, object]) -> None:
    assert set(ran) == {"accuracy", "tasks", "usage", "results"}
    assert ran["tasks"] == 4
    results = ran["results"]
    assert isinstance(results, list) and len(results) == 4
    assert set(results[0]) == {
        "task_id",
        "run_id",
        "answer",
        "expected",
        "correct",
        "score",
        "stop_reason",
        "rounds",
    }
    right = sum(r["correct"] for r in results)
    assert ran["accuracy"] == right / 4
    usage = ran["usage"]
    assert isinstance(usage, dict) and usage["input_tokens"] > 0 and usage["usd"] > 0


def test_timeline_show_and_replay(ran: dict[str, object]) -> None:
    run_id = ran["results"][0]["run_id"]  # type: ignore[index]
    shown = runner.invoke(app, ["timeline", "show", run_id])
    assert shown.exit_code == 0, shown.output
    assert "round 1" in shown.stdout and "tokens" in shown.stdout and "agent-0" in shown.stdout
    replayed = runner.invoke(app, ["timeline", "replay", run_id])
    assert replayed.exit_code == 0, replayed.output
    assert "outcome  match" in replayed.stdout and "events   match" in replayed.stdout
    listed = runner.invoke(app, ["timeline", "list"])
    assert run_id in listed.stdout


def test_human_output_has_a_transcript_and_totals(ray_session: None) -> None:
    result = runner.invoke(app, ["run", "--tasks", "2", "--agents", "2", "--topology", "chain"])
    assert result.exit_code == 0, result.output
    for expected in ("round 1", "accuracy", "tokens", "cost", "timelines"):
        assert expected in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--topology", "hypercube"], "unknown topology 'hypercube'"),
        (["run", "--rounds", "0"], "--rounds: Input should be greater than or equal to 1"),
        (["run", "--model", "gpt5"], "unknown model spec 'gpt5'"),
        (["run", "--skill", "1.5"], "skill must be within [0, 1]"),
        (["run", "--model", "sim:skill=x"], "bad value 'x'"),
        (["run", "--tasks", "0"], "--tasks must be >= 1"),
        (["run", "--suite", "trivia"], "unknown task suite 'trivia'"),
        (["run", "--placement", "everywhere"], "placement must be"),
        (["timeline", "show", "no-such-run"], "no timeline recorded for run 'no-such-run'"),
        (["timeline", "replay", "../../x"], "is not a run id"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_clear_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    env = {**os.environ, "EKKLESIA_HOME": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "ekklesia", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {message}"] or (len(lines) == 1 and message in lines[0]), done.stderr


def test_timeline_show_renders_a_simulation_round_by_round(ray_session: None) -> None:
    from ekklesia.environments import guess_two_thirds

    result = guess_two_thirds(agents=50, rounds=2, seed=0).run()
    shown = runner.invoke(app, ["timeline", "show", result.run_id])
    assert shown.exit_code == 0, shown.output
    for expected in ("round 1", "round 2", "players (50 agents)", "mail players[", "final states"):
        assert expected in shown.stdout
