"""``ekklesia cost report`` and ``ekklesia timeline list`` as a new user meets them: two real
``ekklesia run`` commands, then the views — grouped by session, newest first, within 80 columns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.runtime.timeline import Timeline

runner = CliRunner()


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, ray_session: None
) -> tuple[Path, list[dict[str, object]]]:
    """``ekklesia run`` of 3 tasks, then of 2 on a chain: two sessions, five runs (made once)."""
    home = tmp_path_factory.mktemp("recorded-home")
    outputs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKKLESIA_HOME", str(home))
        for args in (["--tasks", "3"], ["--tasks", "2", "--topology", "chain"]):
            common = ["--rounds", "1", "--agents", "2", "--placement", "single", "--json"]
            ran = runner.invoke(app, ["run", *args, *common])
            assert ran.exit_code == 0, ran.output
            outputs.append(json.loads(ran.stdout))
    return home, outputs


@pytest.fixture
def two_commands(
    recorded: tuple[Path, list[dict[str, object]]], ekklesia_home: Path
) -> list[dict[str, object]]:
    shutil.copytree(recorded[0] / "timelines", ekklesia_home / "timelines")
    return recorded[1]


_IN_80_COLUMNS = """
import sys
from ekklesia.cli import app
for args in sys.argv[1:]:
    try:
        app(args.split(), prog_name="ekklesia")
    except SystemExit as exit:
        assert not exit.code, exit.code
    print("\\f", flush=True)
"""


def cli80(*commands: str) -> list[str]:
    """The commands in one real process (one import) whose terminal is 80 columns wide."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _IN_80_COLUMNS, *commands], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\f\n")[: len(commands)]


def test_the_runs_of_one_command_are_one_session(two_commands: list[dict[str, object]]) -> None:
    summaries = Timeline.summaries()
    assert len(summaries) == 5 and len({s.session for s in summaries}) == 2
    newest, oldest = summaries[0], summaries[-1]
    assert newest.command == (
        "ekklesia run --tasks 2 --agents 2 --rounds 1 --topology chain --placement single --json"
    )
    assert (newest.pattern, oldest.what) == ("debate", "debate/arithmetic")

    report = json.loads(runner.invoke(app, ["cost", "report", "--format", "json"]).stdout)
    sessions = report["by_session"]
    assert [s["session"] for s in sessions] == [newest.session, oldest.session]  # newest first
    assert [s["runs"] for s in sessions] == [2, 3]
    for session, ran in zip(sessions, reversed(two_commands), strict=True):
        assert session["usd"] == pytest.approx(ran["usage"]["usd"])  # type: ignore[index]
        assert session["input_tokens"] == ran["usage"]["input_tokens"]  # type: ignore[index]
    assert report["total"]["usd"] == pytest.approx(sum(s["usd"] for s in sessions))

    one = runner.invoke(app, ["cost", "report", "--session", oldest.session, "--format", "json"])
    by_run = json.loads(one.stdout)["by_run"]
    assert {r["run_id"] for r in by_run} == {s.run_id for s in summaries[2:]}
    limited = runner.invoke(
        app, ["cost", "report", "--by", "run", "--limit", "2", "--format", "json"]
    )
    data = json.loads(limited.stdout)
    assert [r["run_id"] for r in data["rows"]] == [s.run_id for s in summaries[:2]]
    assert data["more"] == 3


def test_both_views_fit_80_columns_and_say_how_to_drill_down(
    two_commands: list[dict[str, object]],
) -> None:
    summaries = Timeline.summaries()
    report, listed, by_run = cli80(
        "cost report", "timeline list --limit 4", f"cost report --session {summaries[-1].session}"
    )
    for text in (report, listed, by_run):
        assert max(len(line) for line in text.splitlines()) <= 80, text
        assert "…" not in text.replace("… 1 more", "")  # nothing cut
        assert "drill down" in text
    assert report.index("by model") < report.index("by session")
    assert f"ekklesia cost report --session {summaries[0].session}" in report
    for summary in summaries[:4]:
        assert summary.run_id in listed and summary.session in listed
    assert summaries[4].run_id not in listed and "1 older not shown" in listed
    assert "finished" in listed and "debate/arithmetic" in listed and "$0.0" in listed
    assert f"ekklesia timeline show {summaries[0].run_id}" in listed
    assert all(s.run_id in by_run for s in summaries[2:]) and "by run" in by_run
    assert "  ekklesia cost report --by agent|pattern|key|day|session\n" in by_run  # not wrapped


def test_timeline_list_as_json_and_its_bad_flags(two_commands: list[dict[str, object]]) -> None:
    listed = runner.invoke(app, ["timeline", "list", "--json", "--status", "finished"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["run_id"] for r in rows] == [s.run_id for s in Timeline.summaries()]
    assert all(r["status"] == "finished" and r["usage"]["usd"] > 0 for r in rows)
    for args, message in (
        (["timeline", "list", "--status", "done"], "--status 'done' is not one of"),
        (["timeline", "list", "--limit", "0"], "--limit must be >= 1"),
        (["cost", "report", "--by", "colour"], "--by 'colour' is not one of"),
    ):
        bad = runner.invoke(app, args)
        assert bad.exit_code == 2 and message in bad.stderr, bad.output
