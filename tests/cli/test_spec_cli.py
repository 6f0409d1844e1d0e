"""Specs on the command line: files, flags over files, validation, the schema, init, following a
run live, Ctrl-C, and a stdout that carries the JSON alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.core import events as ek_events
from ekklesia.runtime.timeline import Timeline

runner = CliRunner()


def ekklesia(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ekklesia", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_swarm_create_writes_a_valid_commented_spec(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    made = runner.invoke(app, ["swarm", "create", "triage", "--out", str(path)])
    assert made.exit_code == 0, made.output
    text = path.read_text()
    assert text.count("#") > 10 and yaml.safe_load(text)["name"] == "triage"
    checked = runner.invoke(app, ["spec", "validate", str(path)])
    assert checked.exit_code == 0 and "valid" in checked.stdout
    again = runner.invoke(app, ["swarm", "create", "triage", "--out", str(path)])
    assert again.exit_code == 2 and "exists" in again.output


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("rounds: 0\n", "rounds: Input should be greater than or equal to 1"),
        ("pattern: nope\n", "unknown pattern 'nope'"),
        ("colour: red\n", "colour: Extra inputs are not permitted"),
        ("budget: {max_usd: -1}\n", "budget.max_usd: Input should be greater than 0"),
        ("agents: 0\n", "agents: a count of agents must be >= 1"),
        ("version: 99\n", "newer than this ekklesia reads"),
        ("aggregate: vote\n", "unknown aggregation 'vote'"),
        ("rounds: [\n", "not valid YAML"),
        ("- 1\n", "a spec is a mapping"),
    ],
)
def test_a_wrong_spec_is_one_line_naming_the_field(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    checked = ekklesia("spec", "validate", str(path), timeout=60)
    assert checked.returncode == 2
    lines = checked.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], checked.stderr


def test_the_schema_names_the_contract_fields() -> None:
    shown = runner.invoke(app, ["spec", "schema"])
    schema = json.loads(shown.stdout)
    fields = {
        "version", "pattern", "agents", "model", "role", "graph", "rounds", "aggregate",
        "stop_on_consensus", "budget", "seed", "memory", "options",
    }  # fmt: skip
    assert fields <= set(schema["properties"])
    assert schema == ek.RunSpec.model_json_schema(by_alias=True)


def test_init_writes_a_config_whose_defaults_run_uses(
    ekklesia_home: Path, ray_session: None
) -> None:
    made = runner.invoke(app, ["init"])
    assert made.exit_code == 0 and (ekklesia_home / "config.yaml").exists()
    assert (ekklesia_home / "timelines").is_dir()
    (ekklesia_home / "config.yaml").write_text("run:\n  rounds: 1\n  agents: 2\n")
    ran = runner.invoke(app, ["run", "--tasks", "2", "--json"])
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["results"][0]["run_id"]
    spec = Timeline.load(run_id).started.spec
    assert spec["rounds"] == 1 and len(spec["agents"]) == 2


def test_flags_beside_a_spec_override_its_fields(tmp_path: Path, ray_session: None) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"agents": 2, "rounds": 1, "graph": "ring", "seed": 3}))
    ran = runner.invoke(
        app, ["run", "--spec", str(path), "--tasks", "2", "--rounds", "2", "--json"]
    )
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["results"][0]["run_id"]
    spec = Timeline.load(run_id).started.spec
    assert spec["rounds"] == 2 and spec["graph"] == "ring" and spec["seed"] == 3
    assert [a["name"] for a in spec["agents"]] == ["agent-0", "agent-1"]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--max-usd", "-1"], "--max-usd: Input should be greater than 0"),
        (["--rounds", "0"], "--rounds: Input should be greater than or equal to 1"),
        (["--agents", "0"], "--agents: a count of agents must be >= 1"),
        (["--topology", "blob"], "unknown topology 'blob'"),
        (["--spec", "/no/such/file.yaml"], "cannot read spec file /no/such/file.yaml"),
    ],
)
def test_a_bad_flag_is_one_line_and_status_2(flags: list[str], says: str) -> None:
    done = ekklesia("run", "--tasks", "1", *flags, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr


def test_follow_prints_events_as_they_come(ray_session: None) -> None:
    done = ekklesia("run", "--tasks", "1", "--rounds", "2", "--follow", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [line.get("kind") for line in lines[:-1]]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "model_call" in kinds
    assert lines[-1]["tasks"] == 1  # the summary comes last
    # the human form in-process (the JSON form above is the one that needs its own stdout)
    human = CliRunner().invoke(app, ["run", "--tasks", "1", "--rounds", "2", "--follow"])
    assert human.exit_code == 0 and "round 1" in human.stdout and "totals" in human.stdout


@pytest.mark.slow  # a process of its own starting Ray; runtime/test_live.py cancels in-process
def test_ctrl_c_ends_the_run_cleanly(ekklesia_home: Path) -> None:
    child = subprocess.Popen(
        [
            sys.executable, "-m", "ekklesia", "run", "--tasks", "1", "--rounds", "40",
            "--model", "sim:latency=0.3", "--spec", _no_consensus(ekklesia_home),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    journal: list[Path] = []
    while time.monotonic() < deadline and not journal:
        journal = list((ekklesia_home / "timelines").glob("*.jsonl"))
        time.sleep(0.2)
    assert journal, "the run never started"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    timeline = Timeline.load(journal[0].stem)
    assert timeline.status == "cancelled" and timeline.events[-1].kind == "run_cancelled"


def _no_consensus(home: Path) -> str:
    path = home.parent / "slow.yaml"
    path.write_text("stop_on_consensus: false\n")
    return str(path)


KILL_A_HOST = """
import sys
import ray
from ekklesia.simulation import Simulation

original = Simulation.run


def run_and_kill(self, on_round=None, *, on_start=None):
    def hook(report):
        if report.round == 0:  # a host dies after the first round; the run recovers
            ray.kill(next(iter(report.hosts.values())), no_restart=True)
        if on_round is not None:
            on_round(report)

    return original(self, hook, on_start=on_start)


Simulation.run = run_and_kill
from ekklesia.cli import app
from ekklesia.core import events as ek_events

sys.argv = ["ekklesia", "simulate", "guess-two-thirds", "--agents", "2000", "--rounds", "4",
            "--hosts", "2", "--json"]
app()
"""


@pytest.mark.slow  # a process of its own starting Ray; sim/test_simulation_failures.py kills hosts
def test_with_json_stdout_carries_the_json_alone_when_a_host_dies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILL_A_HOST], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    payload = json.loads(lines[0])
    assert payload["rounds"] == 4
    restarts = Timeline.read(payload["timeline"]).of_kind(ek_events.HostRestarted)
    assert restarts, "the host was not restarted"
