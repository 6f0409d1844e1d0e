"""Offline task suites for seven software patterns, built from the HumanEval problems.

    tasks = suite("code_review", n=6, seed=0)
    assert sorted(t.expected for t in tasks) == ["bug"] * 3 + ["correct"] * 3

Contract:

* One builder per pattern (:data:`SUITES`, and :func:`suite` by name): ``feature_development``,
  ``bug_fix``, ``code_review``, ``testing``, ``documentation``, ``refactoring``, ``optimization``.
  Each returns at most ``n`` tasks (1 <= n <= 164), one per problem, taken from the problems in
  the dataset's order; a problem that yields no task of the pattern (no mutant that fails its
  tests, no benchmark input) is skipped and the next one taken, so a suite is shorter than ``n``
  only when the dataset runs out. Tasks are deterministic in ``(n, seed)`` and a suite of ``n``
  is the start of the suite of ``n + 1``.
* Ids are ``"<problem>:<pattern>:<seed>"`` (``"HumanEval/0:bug_fix:0"``); suites are named
  ``"humaneval-<pattern>"``.
* Every task's ``meta`` holds ``kind`` (the pattern), ``problem`` (the HumanEval task id),
  ``entry_point``, ``prompt`` (the HumanEval prompt), ``canonical`` (the full canonical program),
  ``test`` (the test program, run after a program) and ``program`` (the program the agents are
  given; None for feature_development). Each pattern adds its own keys:

  ================== =========================================================================
  bug_fix            ``mutation``: {kind, line, description} of the bug in ``program``
  code_review        ``mutation`` (None when correct) and ``fault_line`` (its line, or None);
                     ``expected`` is ``"bug"`` or ``"correct"``, half each: in every pair of
                     tasks a seeded coin says which one is the mutant
  testing            ``mutants``: up to 5 mutant programs that fail the tests (mutation score)
  documentation      ``functions``: the public functions to document; ``program`` has no docstrings
  refactoring        ``complexity``: {"functions": {name: cyclomatic complexity}, "total": sum}
  optimization       ``benchmark``: {"setup": code that builds ``args``, "call":
                     "<entry point>(*args)", "size": the input's stated size}
  ================== =========================================================================

* ``bug_fix``, ``code_review``, ``testing`` and ``optimization`` check their programs in the
  sandbox; they are async (``abug_fix``, ...) with sync wrappers, and what they find is cached on
  disk under ``<data home>/suites/`` (see ``_cache.py``), stamped with :data:`SUITE_VERSION`: bump
  it when a builder changes what it would find. ``on_progress(done, total)`` reports problems
  looked at. The other three only parse programs and are plain functions.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ekklesia.code._benchmarks import benchmark
from ekklesia.code._cache import Payload, Progress, cached_payloads
from ekklesia.code._source import Source, without_docstrings
from ekklesia.code.humaneval import Problem, full_program, problems, test_program
from ekklesia.code.kinds import KINDS
from ekklesia.code.mutations import Mutation, failing_mutants
from ekklesia.core.aio import run_sync
from ekklesia.core.seeds import stable_seed
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.tools.sandbox import run_python

__all__ = [
    "PATTERNS",
    "SUITES",
    "SUITE_VERSION",
    "SuiteBuilder",
    "abug_fix",
    "acode_review",
    "aoptimization",
    "asuite",
    "atesting",
    "bug_fix",
    "code_review",
    "documentation",
    "feature_development",
    "optimization",
    "refactoring",
    "suite",
    "testing",
]

#: Stamped on cached suites: a cache of another version is rebuilt.
SUITE_VERSION = 2

PATTERNS = KINDS

_TESTING_MUTANTS = 5
_BENCHMARK_SIZES = (1000, 100)  # the first the canonical solution runs on in time is stated
_BENCHMARK_TIMEOUT_S = 10.0


class SuiteBuilder(Protocol):
    def __call__(
        self, n: int = ..., seed: int = ..., *, on_progress: Progress | None = ...
    ) -> list[Task]: ...


# --- the three that only parse ---------------------------------------------------------------


def feature_development(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Implement the function the HumanEval prompt describes."""

    def build(p: Problem) -> Task:
        prompt = (
            f"Implement the Python function `{p.entry_point}` below so that it does what its "
            "docstring says. Reply with the complete program: the code given, with the "
            f"function's body written.\n\n```python\n{p.prompt}```"
        )
        return _task(p, "feature_development", seed, prompt, None)

    return _parsed("feature_development", n, build, on_progress)


def documentation(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Write the docstrings of a canonical program whose docstrings were removed."""

    def build(p: Problem) -> Task:
        program = without_docstrings(full_program(p))
        functions = [
            node.name
            for node in Source(program).tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not node.name.startswith("_")
        ]
        names = ", ".join(f"`{f}`" for f in functions)
        prompt = (
            f"Write docstrings for the public functions of the Python program below ({names}): "
            "what each one does, its arguments and what it returns, with a doctest example. "
            "Reply with the complete program, its code unchanged."
            f"\n\n```python\n{program}```"
        )
        return _task(p, "documentation", seed, prompt, program, functions=functions)

    return _parsed("documentation", n, build, on_progress)


def refactoring(n: int = 164, seed: int = 0, *, on_progress: Progress | None = None) -> list[Task]:
    """Make a canonical program simpler without changing what it does; its complexity is stated."""

    def build(p: Problem) -> Task:
        program = full_program(p)
        complexity = _complexity(program)
        prompt = (
            "Refactor the Python program below so that it is simpler and easier to read, "
            f"without changing its behaviour: `{p.entry_point}` must return the same result for "
            f"every input. Its cyclomatic complexity is {complexity['total']}. Reply with the "
            f"complete program.\n\n```python\n{program}```"
        )
        return _task(p, "refactoring", seed, prompt, program, complexity=complexity)

    return _parsed("refactoring", n, build, on_progress)


# --- the four that check in the sandbox ------------------------------------------------------


async def abug_fix(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Fix the bug of a mutant that fails the problem's tests."""
    found = await _checked("bug_fix", n, seed, _one_mutant, on_progress)
    tasks = []
    for p, payload in found:
        mutation = Mutation.model_validate(payload["mutation"])
        prompt = (
            f"The Python program below has a bug: `{p.entry_point}` does not do what its "
            "docstring says. Find the bug and fix it. Reply with the complete corrected program."
            f"\n\n```python\n{mutation.program}```"
        )
        tasks.append(
            _task(p, "bug_fix", seed, prompt, mutation.program, mutation=_described(mutation))
        )
    return tasks


async def acode_review(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Say whether a program has a bug: half of them are a failing mutant, half the canonical."""
    # every problem here has a failing mutant, also those shown correct: which of a pair is the
    # mutant is then a coin's choice alone, and the split is half and half
    found = await _checked("code_review", n, seed, _one_mutant, on_progress)
    tasks = []
    for k, (p, payload) in enumerate(found):
        coin = random.Random(stable_seed("code_review", seed, k // 2)).random() < 0.5
        mutation = Mutation.model_validate(payload["mutation"]) if (k % 2 == 0) == coin else None
        program = mutation.program if mutation is not None else full_program(p)
        prompt = (
            f"Review the Python program below: does `{p.entry_point}` do what its docstring "
            "says? Answer `bug` if it has a bug, naming the line, or `correct` if it has none."
            f"\n\n```python\n{program}```"
        )
        tasks.append(
            _task(
                p,
                "code_review",
                seed,
                prompt,
                program,
                expected="bug" if mutation is not None else "correct",
                options=("bug", "correct"),
                mutation=_described(mutation) if mutation is not None else None,
                fault_line=mutation.line if mutation is not None else None,
            )
        )
    return tasks


async def atesting(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Write tests for a canonical program; the mutants they should catch are in the meta."""

    async def check(p: Problem, seed: int) -> Payload | None:
        found = await failing_mutants(p, seed, _TESTING_MUTANTS)
        return {"mutants": [m.program for m in found]} if found else None

    tasks = []
    for p, payload in await _checked("testing", n, seed, check, on_progress):
        program = full_program(p)
        prompt = (
            f"Write tests for the Python function `{p.entry_point}` below as plain `assert` "
            "statements that call it; they will run after the program. They must pass for this "
            f"program and should fail for a version of `{p.entry_point}` with a bug."
            f"\n\n```python\n{program}```"
        )
        tasks.append(_task(p, "testing", seed, prompt, program, mutants=payload["mutants"]))
    return tasks


async def aoptimization(
    n: int = 164, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """Make a canonical program faster on a stated input grown from its own tests."""
    tasks = []
    for p, payload in await _checked("optimization", n, seed, _benchmark, on_progress):
        program, bench = full_program(p), payload["benchmark"]
        prompt = (
            f"Make the Python function `{p.entry_point}` below faster without changing its "
            f"result for any input. It will be timed as `{bench['call']}` on an input of size "
            f"{bench['size']}, with `args` built by:\n\n```python\n{bench['setup']}\n```\n\n"
            f"Reply with the complete program.\n\n```python\n{program}```"
        )
        tasks.append(_task(p, "optimization", seed, prompt, program, benchmark=bench))
    return tasks


def bug_fix(n: int = 164, seed: int = 0, *, on_progress: Progress | None = None) -> list[Task]:
    """:func:`abug_fix` from sync code."""
    return run_sync(abug_fix(n, seed, on_progress=on_progress), "bug_fix()", "await abug_fix()")


def code_review(n: int = 164, seed: int = 0, *, on_progress: Progress | None = None) -> list[Task]:
    """:func:`acode_review` from sync code."""
    coro = acode_review(n, seed, on_progress=on_progress)
    return run_sync(coro, "code_review()", "await acode_review()")


def testing(n: int = 164, seed: int = 0, *, on_progress: Progress | None = None) -> list[Task]:
    """:func:`atesting` from sync code."""
    return run_sync(atesting(n, seed, on_progress=on_progress), "testing()", "await atesting()")


def optimization(n: int = 164, seed: int = 0, *, on_progress: Progress | None = None) -> list[Task]:
    """:func:`aoptimization` from sync code."""
    coro = aoptimization(n, seed, on_progress=on_progress)
    return run_sync(coro, "optimization()", "await aoptimization()")


# --- by name ----------------------------------------------------------------------------------

SUITES: dict[str, SuiteBuilder] = {
    "feature_development": feature_development,
    "bug_fix": bug_fix,
    "code_review": code_review,
    "testing": testing,
    "documentation": documentation,
    "refactoring": refactoring,
    "optimization": optimization,
}

_ASYNC: dict[str, Callable[..., Awaitable[list[Task]]]] = {
    "bug_fix": abug_fix,
    "code_review": acode_review,
    "testing": atesting,
    "optimization": aoptimization,
}


def suite(
    pattern: str, n: int, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """The suite of ``pattern``: ``n`` tasks (at most) from ``seed``."""
    return _builder(pattern)(n, seed, on_progress=on_progress)


async def asuite(
    pattern: str, n: int, seed: int = 0, *, on_progress: Progress | None = None
) -> list[Task]:
    """:func:`suite` from async code."""
    builder = _builder(pattern)
    if pattern in _ASYNC:
        return await _ASYNC[pattern](n, seed, on_progress=on_progress)
    return builder(n, seed, on_progress=on_progress)


def _builder(pattern: str) -> SuiteBuilder:
    if pattern not in SUITES:
        raise SpecError(f"unknown code suite {pattern!r} (known: {', '.join(PATTERNS)})")
    return SUITES[pattern]


# --- shared -----------------------------------------------------------------------------------


#: The behaviour of simulated models on these tasks (see ekklesia.agents.simulated).
SIMULATED_BY = "ekklesia.code.simulated:respond"


def _task(
    p: Problem,
    pattern: str,
    seed: int,
    prompt: str,
    program: str | None,
    *,
    expected: str | None = None,
    options: tuple[str, ...] = (),
    **meta: Any,
) -> Task:
    common = {
        "kind": pattern,
        "problem": p.task_id,
        "entry_point": p.entry_point,
        "prompt": p.prompt,
        "canonical": full_program(p),
        "test": test_program(p),
        "program": program,
        # how a simulated team member answers it, found by import path in any process
        "simulated_by": SIMULATED_BY,
    }
    return Task(
        id=f"{p.task_id}:{pattern}:{seed}",
        prompt=prompt,
        expected=expected,
        suite=f"humaneval-{pattern}",
        options=options,
        meta={**common, **meta},
    )


def _count(pattern: str, n: int) -> None:
    total = len(problems())
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise SpecError(f"the {pattern} suite takes 1 <= n <= {total} tasks, got {n!r}")


def _parsed(
    pattern: str, n: int, build: Callable[[Problem], Task], on_progress: Progress | None
) -> list[Task]:
    _count(pattern, n)
    chosen = problems()[:n]
    tasks = []
    for done, p in enumerate(chosen, 1):
        tasks.append(build(p))
        if on_progress is not None:
            on_progress(done, len(chosen))
    return tasks


async def _checked(
    pattern: str,
    n: int,
    seed: int,
    check: Callable[[Problem, int], Awaitable[Payload | None]],
    on_progress: Progress | None,
) -> list[tuple[Problem, Payload]]:
    _count(pattern, n)
    return await cached_payloads(
        pattern, n, seed, check, version=SUITE_VERSION, on_progress=on_progress
    )


async def _one_mutant(p: Problem, seed: int) -> Payload | None:
    found = await failing_mutants(p, seed, 1)
    return {"mutation": found[0].model_dump()} if found else None


async def _benchmark(p: Problem, seed: int) -> Payload | None:
    program = full_program(p)
    for size in _BENCHMARK_SIZES:
        bench = benchmark(p, size)
        if bench is None:
            return None
        run = f"{bench['setup']}\n{bench['call']}\n"
        result = await run_python(program, run, timeout_s=_BENCHMARK_TIMEOUT_S)
        if result.passed:
            return {"benchmark": bench}
    return None


def _described(mutation: Mutation) -> dict[str, Any]:
    return mutation.model_dump(include={"kind", "line", "description"})


def _complexity(program: str) -> dict[str, Any]:
    try:
        from radon.complexity import cc_visit
    except ImportError as exc:
        raise SpecError(
            "the refactoring suite needs the `radon` package: pip install radon"
        ) from exc

    functions: dict[str, int] = {}
    # radon lists functions, classes and methods, and keeps nested functions (closures) apart:
    # their paths are not counted in the enclosing function's complexity, so they are listed too
    pending: list[tuple[str, Any]] = [("", block) for block in cc_visit(program)]
    while pending:
        outer, block = pending.pop(0)
        name = f"{outer}.{block.name}" if outer else block.fullname
        functions[name] = int(block.complexity)
        pending.extend((name, inner) for inner in getattr(block, "closures", ()))
    return {"functions": functions, "total": sum(functions.values())}
