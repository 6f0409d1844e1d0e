"""A large input for a HumanEval function, grown from one of the problem's own test inputs.

Contract: :func:`benchmark` reads the problem's ``check`` function (parsed, never run) for the first
``candidate(...)`` call whose arguments are all literals and one of them a non-empty list, tuple or
string, and repeats each such argument until it is at least ``size`` long (strings holding spaces
are repeated with a space between, so that space-separated words stay words); the other arguments
stay as they were. Failing that, a call with one positive integer argument gets ``size`` for it.
It returns the setup code building ``args``, the call and the size stated (the longest argument's
length, or the integer), or None when no test input lends itself. Whether the canonical solution
runs on it in time is for the caller to check in the sandbox.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from ekklesia.code.humaneval import Problem

__all__ = ["benchmark"]


def benchmark(problem: Problem, size: int) -> dict[str, Any] | None:
    """``{"setup", "call", "size"}`` for an input of about ``size``, or None."""
    calls = _literal_calls(problem.test)
    call = f"{problem.entry_point}(*args)"
    for args in calls:
        if any(_sequence(a) for a in args):
            parts, stated = [], 0
            for arg in args:
                text, length = _grown(arg, size) if _sequence(arg) else (repr(arg), 0)
                parts.append(text)
                stated = max(stated, length)
            setup = "args = (" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
            return {"setup": setup, "call": call, "size": stated}
    for args in calls:
        if len(args) == 1 and type(args[0]) is int and args[0] > 0:
            return {"setup": f"args = ({size},)", "call": call, "size": size}
    return None


def _grown(arg: list[Any] | tuple[Any, ...] | str, size: int) -> tuple[str, int]:
    times = math.ceil(size / len(arg))
    if isinstance(arg, str) and " " in arg.strip():
        return f'" ".join([{arg!r}] * {times})', len(arg) * times + times - 1
    return f"{arg!r} * {times}", len(arg) * times


def _sequence(arg: object) -> bool:
    return isinstance(arg, list | tuple | str) and len(arg) > 0


def _literal_calls(test: str) -> list[list[Any]]:
    """The argument lists of the tests' ``candidate(...)`` calls, in source order, literals only."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return []
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "candidate"
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ]
    found = []
    for node in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        try:
            found.append([ast.literal_eval(a) for a in node.args])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
    return found
