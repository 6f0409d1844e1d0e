"""``ekklesia learn FILE …`` is ``ekklesia learn run FILE …``: routed before click parses it."""

from pathlib import Path

from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.cli.learn import route

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src" / "ekklesia"


def test_a_file_after_learn_runs_the_learner_and_commands_stay_commands() -> None:
    assert route(["learn", "s.yaml", "--runs", "3"]) == ["learn", "run", "s.yaml", "--runs", "3"]
    assert route(["learn", "--json", "s.yaml"]) == ["learn", "run", "--json", "s.yaml"]
    for kept in (["learn", "status"], ["learn", "reset", "--name", "x"], ["learn", "--help"]):
        assert route(kept) == kept
    assert route(["sweep", "s.yaml"]) == ["sweep", "s.yaml"] and route(["learn"]) == ["learn"]


def test_the_routed_command_line_reaches_the_learner(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(app, ["learn", str(missing), "--runs", "2"])
    assert result.exit_code == 2 and f"cannot read strategies file {missing}" in result.output
    result = runner.invoke(app, ["learn", str(missing), "--runs", "0"])
    assert result.exit_code == 2 and "--runs must be >= 1" in result.output
    listed = runner.invoke(app, ["learn", "--help"])
    assert listed.exit_code == 0
    assert all(c in listed.output for c in ("status", "reset", "rescore", "estimate", "report"))
    status = runner.invoke(app, ["learn", "status", "--json"])
    assert status.exit_code == 0 and status.stdout.strip() == '{"learners": []}'


def test_no_module_reaches_into_the_click_typer_ships() -> None:
    offenders = [p for p in SRC.rglob("*.py") if "typer._click" in p.read_text(encoding="utf-8")]
    assert offenders == []
