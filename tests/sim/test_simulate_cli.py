"""``ekklesia simulate guess-two-thirds``, registered into a fresh app and run in process."""

import json

import pytest
import typer
from typer.testing import CliRunner

from ekklesia.cli import simulate, timeline

runner = CliRunner()


def fresh_app() -> typer.Typer:
    app = typer.Typer()
    simulate.register(app)
    timeline.register(app)
    return app


def test_json_reports_timings_memory_and_the_averages(ray_session: None) -> None:
    args = ["simulate", "guess-two-thirds", "--agents", "3000", "--rounds", "3", "--hosts", "2"]
    result = runner.invoke(fresh_app(), [*args, "--seed", "5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["agents"], out["rounds"], out["hosts"]) == (3001, 3, 2)
    assert len(out["per_round_s"]) == 3 and all(s > 0 for s in out["per_round_s"])
    assert out["messages"] == 3 * 6000 and out["messages_per_s"] > 0
    assert out["peak_rss_mib"] > 50
    averages = out["averages"]
    assert len(averages) == 3 and averages[2] < averages[1] < averages[0]
    shown = runner.invoke(fresh_app(), ["timeline", "show", out["run_id"]])
    assert shown.exit_code == 0, shown.output
    assert "max_rounds after 3 round(s)" in shown.stdout
    replayed = runner.invoke(fresh_app(), ["timeline", "replay", out["run_id"]])
    assert replayed.exit_code == 0, replayed.output
    assert "outcome  match" in replayed.stdout and "events   match" in replayed.stdout


def test_human_output_has_a_table_of_rounds(ray_session: None) -> None:
    args = ["simulate", "guess-two-thirds", "--agents", "200", "--rounds", "2", "--player"]
    result = runner.invoke(fresh_app(), [*args, "dummy", "--latency", "0.05"])
    assert result.exit_code == 0, result.output
    for expected in ("guess 2/3 of the average", "average", "messages", "timeline", "states"):
        assert expected in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "0"], "--agents must be >= 1"),
        (["--player", "human"], "--player must be sim or dummy"),
        (["--rounds", "0"], "--rounds must be >= 1"),
        (["--latency", "-1", "--player", "dummy"], "latency must be >= 0"),
        (["--agents", "100000000000"], "100,000,000,001 agents need about"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(fresh_app(), ["simulate", "guess-two-thirds", *args])
    assert result.exit_code != 0
    said = " ".join(result.stderr.split())  # one message; the console may wrap it
    assert said.startswith("error:") and message in said and said.count("error:") == 1
    assert "Traceback" not in result.output
