"""ekklesia.code.parsing on replies written the way models write them: prose, several blocks,
fences left open, Windows line ends, code indented under a list item. Nothing read is run."""

from __future__ import annotations

import ast

import pytest

from ekklesia.code.parsing import extract_code, extract_tests, extract_verdict

ADD = "def add(a, b):\n    return a + b\n"


# -- extract_code ---------------------------------------------------------------------------------


def test_code_between_prose_is_found() -> None:
    text = f"Sure! Here is the function:\n\n```python\n{ADD}```\n\nIt adds its two arguments."
    assert extract_code(text) == ADD


@pytest.mark.parametrize("tag", ["python", "py", "python3", "Python", "py3", "python title=add"])
def test_python_tags_are_code(tag: str) -> None:
    assert extract_code(f"```{tag}\n{ADD}```") == ADD


def test_the_last_python_block_wins_and_other_languages_are_not_code() -> None:
    text = (
        "First attempt:\n```python\ndef add(a, b):\n    return a - b\n```\n"
        f"Fixed:\n```python\n{ADD}```\n"
        "Running it prints:\n```text\n5\n```\n"
        "```bash\npython add.py\n```"
    )
    assert extract_code(text) == ADD


def test_untagged_and_tilde_blocks_are_code_when_none_is_tagged() -> None:
    assert extract_code(f"Here:\n```\n{ADD}```\nDone.") == ADD
    assert extract_code(f"Here:\n~~~\n{ADD}~~~\n") == ADD
    # a tagged block is preferred to an untagged one, wherever it is
    assert extract_code(f"```python\n{ADD}```\nthen\n```\nadd(2, 3)\n```") == ADD


def test_a_block_left_open_runs_to_the_end() -> None:
    text = f"The solution:\n\n```python\n{ADD}\n# I ran out of tok"
    assert extract_code(text) == ADD + "\n# I ran out of tok\n"


def test_a_fence_opening_while_a_block_is_open_starts_the_next_block() -> None:
    text = "```python\ndef add(a, b):\n    return a - b\n```python\n" + ADD + "```"
    assert extract_code(text) == ADD


def test_windows_line_ends_are_read_as_newlines() -> None:
    text = f"Code:\r\n```python\r\n{ADD.replace(chr(10), chr(13) + chr(10))}```\r\n"
    assert extract_code(text) == ADD


def test_a_block_indented_under_a_list_item_loses_the_fence_indentation() -> None:
    text = (
        "Steps:\n"
        "1. Write the function:\n"
        "   ```python\n"
        "   def add(a, b):\n"
        "       return a + b\n"
        "   ```\n"
        "2. Call it.\n"
    )
    assert extract_code(text) == ADD


def test_a_tilde_block_holds_backtick_lines_as_content() -> None:
    text = "~~~python\nx = 1\n```\ny = 2\n~~~"
    assert extract_code(text) == "x = 1\n```\ny = 2\n"


def test_bare_code_is_code_and_prose_is_not() -> None:
    assert extract_code(ADD) == ADD
    assert extract_code("I am not sure how to solve this.") is None
    assert extract_code("Hello") is None  # parses as a name, defines nothing
    assert extract_code("") is None
    assert extract_code("```text\nno code here\n```") is None
    assert extract_code("```python\n\n```") is None
    assert extract_code("Use ```python``` blocks, like ```add(1, 2)```.") is None


# -- extract_verdict ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Verdict: bug\nLine: 12\nThe loop stops early.", ("bug", 12)),
        ("**Verdict:** Correct.\n\nNo problems found.", ("correct", None)),
        ("- **Verdict**: incorrect\n- **Line**: 7", ("bug", 7)),
        ("verdict - buggy\nline = 3", ("bug", 3)),
        ("Verdict: not correct\nLine: 4", ("bug", 4)),
        ("Verdict: no bug", ("correct", None)),
        ("Verdict: bug (an off-by-one)\nLine: 12-14", ("bug", 12)),
        ("Verdict: correct\nLine: none", ("correct", None)),
        ("Verdict: bug\nThe comparison on line 9 should be strict.", ("bug", 9)),
        ("Looks fine to me. Line 3 is clever.\nVerdict: correct", ("correct", None)),
        ("Answer: approve", ("correct", None)),
        ("Final answer: revise", ("bug", None)),
        ("Answer: bug", ("bug", None)),
        ("I have no opinion.", (None, None)),
    ],
)
def test_verdicts_and_lines(text: str, expected: tuple[str | None, int | None]) -> None:
    assert extract_verdict(text) == expected


def test_the_last_verdict_counts_and_a_verdict_line_beats_the_answer() -> None:
    text = "Verdict: correct\nOn second thought:\nVerdict: bug\nLine: 5\n\nAnswer: approve"
    assert extract_verdict(text) == ("bug", 5)


def test_quoted_code_is_not_read_as_labels() -> None:
    text = (
        "Verdict: bug\n\n```python\ndef f(line: int = 3):\n    verdict: str = 'correct'\n```\n"
        "Line: 2\r\n"
    )
    assert extract_verdict(text) == ("bug", 2)


# -- extract_tests --------------------------------------------------------------------------------


def test_tests_leave_out_the_function_under_test_and_imports_of_it() -> None:
    text = (
        "I re-implemented it and wrote tests:\n\n```python\n"
        "from solution import add\n"
        "import math\n\n"
        f"{ADD}\n"
        "assert add(2, 3) == 5\n"
        "assert math.isclose(add(0.1, 0.2), 0.3)\n"
        "print('all good')\n"
        "```\n"
    )
    tests = extract_tests(text, "add")
    assert tests == "import math\nassert add(2, 3) == 5\nassert math.isclose(add(0.1, 0.2), 0.3)\n"


def test_test_functions_are_called_so_that_a_script_fails_when_they_do() -> None:
    text = (
        "```python\n"
        "def test_small():\n    assert add(1, 1) == 2\n\n"
        "def test_negative():\n    assert add(-1, 1) == 0\n\n"
        "test_small()\n"
        "```"
    )
    tests = extract_tests(text, "add")
    assert tests is not None
    assert tests.endswith("test_small()\ntest_negative()\n")
    assert tests.count("test_small()") == 2  # the definition's name and the one call


def test_a_humaneval_check_is_called_with_the_entry_point() -> None:
    text = "```python\ndef check(candidate):\n    assert candidate(2, 3) == 5\n```"
    tests = extract_tests(text, "add")
    assert tests == "def check(candidate):\n    assert candidate(2, 3) == 5\ncheck(add)\n"


def test_tests_under_a_main_guard_and_in_several_blocks_are_gathered() -> None:
    text = (
        "Part one:\n```python\ncases = [(1, 2, 3), (2, 2, 4)]\n"
        "for a, b, total in cases:\n    assert add(a, b) == total\n```\n"
        'Part two:\n```python\nif __name__ == "__main__":\n    assert add(0, 0) == 0\n```\n'
    )
    tests = extract_tests(text, "add")
    assert tests == (
        "cases = [(1, 2, 3), (2, 2, 4)]\n"
        "for a, b, total in cases:\n    assert add(a, b) == total\n"
        "assert add(0, 0) == 0\n"
    )


def test_a_block_cut_off_keeps_what_parses() -> None:
    text = "```python\nassert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(3, (4"
    assert extract_tests(text, "add") == "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"


def test_asserts_in_prose_are_tests_when_there_is_no_block() -> None:
    text = "Tests:\r\n- `assert add(1, 2) == 3`\r\n2. assert add(0, 0) == 0\r\n- assert add(1,\r\n"
    assert extract_tests(text, "add") == "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"


def test_no_assert_is_no_tests() -> None:
    assert extract_tests(f"```python\n{ADD}```", "add") is None
    assert extract_tests("I would test it with small numbers.") is None


def test_extracted_tests_parse() -> None:
    text = "```py\r\nimport math\r\n\r\ndef test_it():\r\n    assert add(1, 2) == 3\r\n```"
    tests = extract_tests(text, "add")
    assert tests is not None
    ast.parse(tests)
