"""The seven software patterns, each a recipe of the code team's roles, stages, gates and a scorer.

Every pattern runs on its HumanEval suite (:mod:`ekklesia.code.suites`), with simulated team
members for free or with real models unchanged. The final answer is the last message of the
pattern's voting stage (aggregation ``last``); the scorer reads the code out of it and checks it
in the sandbox — HumanEval's own tests, mutants, doctests, complexity, timing — never in this
process.

================== ================================================ ===============================
pattern            stages (who hears whom)                          score
================== ================================================ ===============================
feature_development plan → code (hears plan, review, test) → review  pass@1 on HumanEval's tests
                   → test; gate "tests pass" revises code…test
bug_fix            fix (hears test) → test; gate "tests pass"       HumanEval's tests pass
code_review        review                                           verdict right (0.5 if the
                                                                    line at fault is missed)
testing            test (the tester's tests, run on the program)    passes on the program, share
                                                                    of seeded mutants killed
documentation      document                                         doctests run, functions
                                                                    documented, tests still pass
refactoring        refactor → test; gate "tests pass"               tests pass and cyclomatic
                                                                    complexity does not rise
optimization       optimize → test; gate "tests pass"               speed ratio on the stated size
                                                                    (0 if outputs differ)
================== ================================================ ===============================
"""

from __future__ import annotations

import ast
import asyncio
import json

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.code.parsing import extract_code, extract_verdict
from ekklesia.code.team import TESTER
from ekklesia.core.task import Task
from ekklesia.patterns.agent_spec import AgentSpec
from ekklesia.patterns.library import register_pattern
from ekklesia.patterns.pattern import Gate, Pattern, RoundView, Stage
from ekklesia.tools.sandbox import run_python

__all__ = ["CODE_PATTERNS", "CodeOptions"]

_TESTER_CLASS = "ekklesia.code.team:Tester"


class CodeOptions(BaseModel):
    """What a code pattern lets a run change: how many revisions its gate allows."""

    model_config = ConfigDict(extra="forbid")

    max_revisions: int = Field(default=3, ge=0)


def _tests_pass(view: RoundView) -> bool:
    return view.answers("tester") == ["pass"]


def _member(role: str) -> AgentSpec:
    # programs run long: room for a whole program and the reply around it
    if role == "tester":
        return AgentSpec(
            name="tester",
            role=TESTER.name,
            class_=_TESTER_CLASS,
            tools=["python_sandbox"],
            max_tokens=1024,
        )
    return AgentSpec(name=role, role=role, max_tokens=1024)


CODE = "Write the complete program in one ```python block. Notes from the team, if any:\n{heard}"
REVIEW = (
    "Review this program for bugs. Say `Verdict: bug` or `Verdict: correct`, and `Line: N` for "
    "the line at fault; end with `Answer: approve` or `Answer: revise`.\n{heard}"
)
TEST = "Write tests for this program as `assert` lines in one ```python block.\n{heard}"


# -- scorers ---------------------------------------------------------------------------------


def _code(answer: str | None) -> str | None:
    return None if answer is None else extract_code(answer)


def _meta_str(task: Task, key: str) -> str:
    value = task.meta.get(key)
    return value if isinstance(value, str) else ""


async def _passes(program: str | None, task: Task) -> bool:
    if program is None:
        return False
    ran = await run_python(program, _meta_str(task, "test"), timeout_s=10.0)
    return ran.passed


async def score_tests_pass(task: Task, answer: str | None) -> float:
    """1.0 when the final program passes HumanEval's own tests (pass@1), else 0.0."""
    return float(await _passes(_code(answer), task))


def score_review(task: Task, answer: str | None) -> float | None:
    """1.0 for the right verdict (and, for a bug, the line at fault, ±1); 0.5 for the right
    verdict on the wrong line; 0.0 for the wrong verdict; None when the verdict is not known (a
    review of one's own files)."""
    if task.expected is None:
        return None
    verdict, line = extract_verdict(answer or "")
    if verdict != task.expected:
        return 0.0
    fault = task.meta.get("fault_line")
    if task.expected == "correct" or not isinstance(fault, int):
        return 1.0
    return 1.0 if line is not None and abs(line - fault) <= 1 else 0.5


async def score_tests_written(task: Task, answer: str | None) -> float:
    """0.0 unless the tests pass on the correct program; then the share of mutants they kill."""
    tests = _code(answer)
    program = _meta_str(task, "program")
    if tests is None or not (await run_python(program, tests, timeout_s=10.0)).passed:
        return 0.0
    mutants = [m for m in task.meta.get("mutants") or [] if isinstance(m, str)]
    if not mutants:
        return 1.0
    runs = await asyncio.gather(*(run_python(m, tests, timeout_s=10.0) for m in mutants))
    return sum(not r.passed for r in runs) / len(mutants)


_EXAMPLES = """
import contextlib, io

def _example(source, want):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            value = eval(compile(source, "<example>", "eval"))
        except SyntaxError:
            exec(compile(source, "<example>", "exec"))
            value = None
        if value is not None:
            print(repr(value))
    assert out.getvalue().strip() == want.strip(), (source, out.getvalue(), want)
"""


def _examples(tree: ast.Module) -> list[tuple[str, str]]:
    """Every docstring example (source, expected output), read by doctest's parser (no run)."""
    import doctest

    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            text = ast.get_docstring(node, clean=True) or ""
            for example in doctest.DocTestParser().get_examples(text):
                found.append((example.source.strip(), example.want))
    return found


async def score_documentation(task: Task, answer: str | None) -> float:
    """The mean of three checks: the docstring examples give what they say (run in the sandbox,
    doctest's way: the repr of each expression), every public function has a docstring, and
    HumanEval's tests still pass."""
    program = _code(answer)
    if program is None:
        return 0.0
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return 0.0
    public = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
    ]
    documented = bool(public) and all(ast.get_docstring(node) for node in public)
    examples = _examples(tree)
    checks = _EXAMPLES + "".join(f"_example({s!r}, {w!r})\n" for s, w in examples)
    ran, tests = await asyncio.gather(
        run_python(program, checks, timeout_s=10.0), _passes(program, task)
    )
    return (float(bool(examples) and ran.passed) + float(documented) + float(tests)) / 3


async def score_refactoring(task: Task, answer: str | None) -> float:
    """1.0 when the tests pass and the total cyclomatic complexity (radon) has not risen."""
    program = _code(answer)
    if program is None or not await _passes(program, task):
        return 0.0
    from radon.complexity import cc_visit

    try:
        total = sum(block.complexity for block in cc_visit(program))
    except SyntaxError:
        return 0.0
    before = task.meta.get("complexity")
    limit = before.get("total") if isinstance(before, dict) else None
    return 1.0 if not isinstance(limit, int | float) or total <= limit else 0.0


_TIMING = """
import hashlib, json, time
{setup}
def _time(fn):
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter(); out = fn(*args); best = min(best, time.perf_counter() - began)
    return out, best
"""


async def score_optimization(task: Task, answer: str | None) -> float:
    """The canonical program's time over the new one's on the stated input (best of five), if the
    outputs are identical and the tests pass; else 0.0."""
    program = _code(answer)
    bench = task.meta.get("benchmark")
    if program is None or not isinstance(bench, dict) or not await _passes(program, task):
        return 0.0
    entry = _meta_str(task, "entry_point")
    harness = _TIMING.format(setup=str(bench.get("setup", "")))
    # the output's digest, not the output: a large result would pass the sandbox's output cap
    probe = harness + (
        f"out, seconds = _time({entry})\n"
        "print(json.dumps([hashlib.sha256(repr(out).encode()).hexdigest(), seconds]))\n"
    )
    old, new = await asyncio.gather(
        run_python(_meta_str(task, "canonical"), probe, timeout_s=30.0),
        run_python(program, probe, timeout_s=30.0),
    )
    if not (old.passed and new.passed):
        return 0.0
    try:  # the probe's line is the last one: a program may print before it
        (old_out, old_s), (new_out, new_s) = (
            json.loads(ran.stdout.strip().splitlines()[-1]) for ran in (old, new)
        )
    except (json.JSONDecodeError, IndexError, TypeError, ValueError):
        return 0.0  # the timing cannot be read (the output was cut, or the probe never printed)
    if old_out != new_out or new_s <= 0:
        return 0.0
    return round(float(old_s) / float(new_s), 4)


# -- the patterns ----------------------------------------------------------------------------


def _gated(revise: tuple[str, ...]) -> tuple[Gate, ...]:
    return (Gate("tests pass", check=_tests_pass, revise=revise, max_revisions=3),)


def _pattern(
    name: str,
    description: str,
    stages: tuple[Stage, ...],
    *,
    voters: str,
    gates: tuple[Gate, ...] = (),
    scorer: object,
) -> Pattern:
    roles = tuple(dict.fromkeys(r for s in stages for r in s.roles or ()))
    return Pattern(
        name=name,
        description=description,
        stages=stages,
        roles=roles,
        gates=gates,
        stop_rules=(),
        voters=voters,
        aggregations=("last",),
        aggregate="last",
        options=CodeOptions,
        scorer=scorer,  # type: ignore[arg-type]
        suite=f"humaneval-{name}",
        team=tuple(_member(role) for role in roles),
    )


CODE_PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        _pattern(
            "feature_development",
            "Plan, implement, review and test a function from its specification; revise until "
            "the tests pass.",
            (
                Stage("plan", roles=("planner",), hears=()),
                Stage("code", roles=("coder",), hears=("plan", "review", "test"), instruction=CODE),
                Stage("review", roles=("reviewer",), hears=("code",), instruction=REVIEW),
                Stage("test", roles=("tester",), hears=("code",), instruction=TEST),
            ),
            voters="code",
            gates=_gated(("code", "review", "test")),
            scorer=score_tests_pass,
        ),
        _pattern(
            "bug_fix",
            "Locate and fix a seeded bug; revise until the tests pass.",
            (
                Stage("fix", roles=("coder",), hears=("test",), instruction=CODE),
                Stage("test", roles=("tester",), hears=("fix",), instruction=TEST),
            ),
            voters="fix",
            gates=_gated(("fix", "test")),
            scorer=score_tests_pass,
        ),
        _pattern(
            "code_review",
            "Say whether a program has a bug, and on which line.",
            (Stage("review", roles=("reviewer",), hears=(), instruction=None),),
            voters="review",
            scorer=score_review,
        ),
        _pattern(
            "testing",
            "Write tests for a correct program that catch seeded bugs.",
            (Stage("test", roles=("tester",), hears=()),),
            voters="test",
            scorer=score_tests_written,
        ),
        _pattern(
            "documentation",
            "Add docstrings with runnable examples without changing behaviour.",
            (Stage("document", roles=("coder",), hears=()),),
            voters="document",
            scorer=score_documentation,
        ),
        _pattern(
            "refactoring",
            "Restructure a program without changing what it does or raising its complexity.",
            (
                Stage("refactor", roles=("coder",), hears=("test",), instruction=CODE),
                Stage("test", roles=("tester",), hears=("refactor",), instruction=TEST),
            ),
            voters="refactor",
            gates=_gated(("refactor", "test")),
            scorer=score_refactoring,
        ),
        _pattern(
            "optimization",
            "Make a program faster on a stated input size with identical outputs.",
            (
                Stage("optimize", roles=("coder",), hears=("test",), instruction=CODE),
                Stage("test", roles=("tester",), hears=("optimize",), instruction=TEST),
            ),
            voters="optimize",
            gates=_gated(("optimize", "test")),
            scorer=score_optimization,
        ),
    )
}

for _pattern_ in CODE_PATTERNS.values():
    register_pattern(_pattern_)
