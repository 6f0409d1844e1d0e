"""Docstrings for a program, written from its HumanEval prompt, as a documenting model would.

:func:`document` gives each named function of a program a docstring and leaves the code as it
is. The entry point's docstring is the prompt's own description; its examples are doctests
(:func:`examples_of`), checked against the problem's tests where those say what a call returns,
because some HumanEval prompts get their own examples wrong:

* the prompt's own ``>>>`` examples, each with the result the tests give for the same call, a
  ``>>> f(x) == y`` that prints nothing written as ``>>> f(x)`` and ``y``, and a result written
  as a literal in its ``repr`` (``"21"`` is printed ``'21'``, ``None`` not at all); an example
  that does not parse, or is not a call of the entry point (maybe inside another call), is left
  out;
* else the first example in prose (``f(3) == 5``, ``f(3) ➞ 5``, ``f(3) => 5``, ``f(3) returns
  5``, ``f(3) should return 5``) whose call the tests also make, with the tests' result (prose
  mixes examples with definitions such as ``tri(1) = 3``, so one the tests do not confirm is not
  used);
* else the first ``assert candidate(...) == ...`` (or ``is True``) of the tests with literals on
  both sides.

A result that holds a float, a dict or a set is written as ``>>> f(x) == y`` and ``True``, since
its ``repr`` need not match (``2`` is ``2.0``, a dict keeps its own order). ``example`` says how
well it is done: ``"right"``, ``"none"`` (the description alone) or ``"wrong"`` (the first
example's result slipped: a number one more, a boolean flipped, a string or list one item
short). Other functions get a one-line docstring. A docstring already there is replaced; a
function written on the line of its ``def`` is left alone. Nothing is run: examples are read
with :mod:`ast`. The right docstrings pass their own doctests on 162 of the 164 HumanEval
problems; the other two (HumanEval/38 and /50), whose tests are all computed, get no example.
With no entry point (a file of one's own, :mod:`ekklesia.code.local`) every function gets a
one-line docstring made from its name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from ekklesia.code import _slips

__all__ = ["Example", "document", "examples_of"]

Example = Literal["right", "none", "wrong"]
# an example in prose, ``{name}`` filled in with the entry point
_PROSE = (
    r"^\s*(?:[*-]\s*)?(?P<call>{name}\(.*\))\s*"
    r"(?:==>|=>|==|➞|->|=|#\s*returns|returns|should\s+return)\s*(?P<value>.+?)\s*\.?\s*$"
)
_LITERAL_ERRORS = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)


def document(
    program: str,
    prompt: str,
    test: str,
    entry_point: str,
    functions: list[str],
    *,
    example: Example = "right",
) -> str:
    """``program`` with docstrings for ``functions``; see the module docstring."""
    tree = ast.parse(program)
    lines = program.splitlines()
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in functions
    ]
    # bottom up, so that the line numbers of the functions above stay right
    for node in sorted(found, key=lambda n: n.lineno, reverse=True):
        first = node.body[0]
        if first.lineno == node.lineno:
            continue  # ``def f(x): return x``: no line to put a docstring on
        indent = " " * first.col_offset
        if not entry_point:  # a file of one's own, no problem statement: what the name says
            text = node.name.strip("_").replace("_", " ").capitalize() + "."
        elif node.name == entry_point:
            text = _entry_docstring(prompt, test, entry_point, example)
        else:
            text = f"Helper of ``{entry_point}``: {node.name.replace('_', ' ')}."
        docstring = _format(text, indent)
        has_docstring = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        if has_docstring:
            lines[first.lineno - 1 : (first.end_lineno or first.lineno)] = docstring
        else:
            lines[first.lineno - 1 : first.lineno - 1] = docstring
    return "\n".join(lines) + "\n"


def examples_of(prompt: str, test: str, entry_point: str) -> list[tuple[str, str]]:
    """``(source, result)`` of the doctests for the entry point; see the module docstring."""
    description = _prompt_docstring(prompt, entry_point)
    answers = _answers(test, entry_point)
    written = [
        found
        for part in _parts(description)
        if isinstance(part, _Doctest)
        and (found := _checked(part, entry_point, answers)) is not None
    ]
    if written:
        return written
    pattern = re.compile(_PROSE.format(name=re.escape(entry_point)))
    for line in description.splitlines():
        match = pattern.match(line)
        value = answers.get(_key(match["call"])) if match else None
        if match and value is not None and (pair := _rendered(match["call"], value)):
            return [pair]
    for call, value in answers.items():
        if pair := _rendered(call, value):
            return [pair]
    return []


def _entry_docstring(prompt: str, test: str, entry_point: str, example: Example) -> str:
    description = _prompt_docstring(prompt, entry_point)
    prose = "".join(part for part in _parts(description) if isinstance(part, str))
    prose = re.sub(r"\n{3,}", "\n\n", prose).rstrip()
    written = examples_of(prompt, test, entry_point)
    if example == "none" or not written:
        return prose
    if example == "wrong":
        for i, (source, result) in enumerate(written):
            if result:
                written[i] = (source, _slipped(result))
                break
    lines = [prose, ""] if prose else []
    for source, result in written:
        first, *more = source.splitlines()
        lines.append(f">>> {first}")
        lines.extend(f"... {line}" for line in more)
        lines.extend(result.splitlines())
    return "\n".join(lines).rstrip()


@dataclass(frozen=True)
class _Doctest:
    source: str
    want: str


def _parts(description: str) -> list[str | _Doctest]:
    """The description as lines of text and doctest examples (``>>>``, ``...``, what is printed).

    Read line by line rather than with :mod:`doctest`, which refuses a whole docstring for one
    example broken across lines (HumanEval/51 has a ``\\n`` that became a line end).
    """
    parts: list[str | _Doctest] = []
    lines = description.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            parts.append(lines[i] + "\n")
            i += 1
            continue
        source = [stripped[3:].strip()]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].strip())
            i += 1
        want = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            want.append(lines[i].strip())
            i += 1
        parts.append(_Doctest("\n".join(source), "\n".join(want)))
    return parts


def _prompt_docstring(prompt: str, entry_point: str) -> str:
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            return ast.get_docstring(node) or ""
    return ""


def _answers(test: str, entry_point: str) -> dict[str, str]:
    """What the tests say calls with literal arguments return: call's key → result's source."""
    try:
        tree = ast.parse(_slips.rename(test, "candidate", entry_point))
    except SyntaxError:
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assert)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and _is_call_of(node.test.left, entry_point)
            and _literal(expected := node.test.comparators[0])
            and (
                isinstance(node.test.ops[0], ast.Eq)
                or (isinstance(node.test.ops[0], ast.Is) and isinstance(expected, ast.Constant))
            )
        ):  # ``f(x) == y``, or ``f(x) is True``
            found.setdefault(ast.unparse(node.test.left), ast.unparse(expected))
    return found


def _checked(part: _Doctest, entry_point: str, answers: dict[str, str]) -> tuple[str, str] | None:
    """A prompt's doctest as it should be written, or ``None`` to leave it out."""
    try:
        node = ast.parse(part.source, mode="eval").body
    except SyntaxError:
        return None
    result = part.want.strip()
    if (
        not result
        and isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and _is_call_of(node.left, entry_point)
    ):  # ``>>> f(x) == y`` with nothing printed: the prompt meant ``y``
        result = ast.unparse(node.comparators[0])
        node = node.left
    # a call of the entry point, maybe inside another (``round(f(x), 2)``); nothing else
    if not isinstance(node, ast.Call) or not any(
        _is_call_of(inner, entry_point) for inner in ast.walk(node)
    ):
        return None
    source = ast.unparse(node)  # one spelling, without the comments of the prompt
    if (known := answers.get(source)) is not None:
        return _rendered(source, known)  # the tests know better than the prompt
    try:
        # what the prompt shows was printed: its repr is right, floats included
        return source, _printed(ast.literal_eval(" ".join(result.split())))
    except _LITERAL_ERRORS:
        return source, result


def _rendered(call: str, value: str) -> tuple[str, str] | None:
    """``(source, result)`` of a doctest of ``call`` returning the literal ``value``."""
    try:
        result = ast.literal_eval(value.strip())
    except _LITERAL_ERRORS:
        return None
    if not _exact(result):
        return f"{call.strip()} == {value.strip()}", "True"
    return call.strip(), _printed(result)


def _printed(value: object) -> str:
    """What the interpreter prints for ``value`` at a ``>>>`` prompt: nothing for ``None``."""
    return "" if value is None else repr(value)


def _exact(value: object) -> bool:
    """Whether a value equal to this one has the same ``repr``."""
    if isinstance(value, float | complex | dict | set | frozenset):
        return False
    if isinstance(value, list | tuple):
        return all(_exact(item) for item in value)
    return True


def _key(call: str) -> str:
    """One spelling of a call, whatever its spacing, quotes and comments."""
    try:
        return ast.unparse(ast.parse(call.strip(), mode="eval"))
    except SyntaxError:
        return call.strip()


def _is_call_of(node: ast.AST, entry_point: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == entry_point
        and all(_literal(argument) for argument in node.args)
        and all(_literal(keyword.value) for keyword in node.keywords)
    )


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except _LITERAL_ERRORS:
        return False
    return True


def _slipped(output: str) -> str:
    """A plausible wrong result for a doctest: what a hurried writer would have put."""
    try:
        value = ast.literal_eval(output.strip())
    except _LITERAL_ERRORS:
        return output + "0"
    wrong: object
    if isinstance(value, bool):
        wrong = not value
    elif isinstance(value, int | float):
        wrong = value + 1
    elif isinstance(value, str):
        wrong = value[:-1] if value else "x"
    elif isinstance(value, list | tuple):
        wrong = value[:-1] if value else [0]
    else:
        wrong = 0 if value is None else None
    return repr(wrong)


def _format(text: str, indent: str) -> list[str]:
    # the text is the docstring's value: escape what the quotes would read otherwise
    body = text.replace("\\", "\\\\").replace('"""', r"\"\"\"").splitlines() or [""]
    if len(body) == 1 and not body[0].endswith('"'):
        return [f'{indent}"""{body[0]}"""']
    lines = [f'{indent}"""{body[0]}']
    lines.extend(f"{indent}{line}" if line.strip() else "" for line in body[1:])
    lines.append(f'{indent}"""')
    return lines
