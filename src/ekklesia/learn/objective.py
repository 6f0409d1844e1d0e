"""The objective a strategy is judged by: a small arithmetic expression over one run's figures.

``accuracy - 200 * usd`` is parsed once with :mod:`ast` and evaluated by walking the tree; only
numbers, the names ``accuracy``, ``score``, ``usd`` and ``tokens``, ``+ - * /``, unary minus,
parentheses and ``min(...)``/``max(...)`` are accepted, so user text is never run as code. A run's
``accuracy`` is 1.0 when it was right and 0.0 otherwise; its ``score`` is the pattern's score (the
accuracy where a suite has no finer score); ``usd`` and ``tokens`` are what the run spent.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from ekklesia.errors import SpecError

__all__ = ["DEFAULT_OBJECTIVE", "VARIABLES", "Objective"]

DEFAULT_OBJECTIVE = "accuracy"
VARIABLES = ("accuracy", "score", "usd", "tokens")
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_FUNCTIONS = ("min", "max")


@dataclass(frozen=True)
class Objective:
    """A checked objective expression; :meth:`value` evaluates it for one run's figures."""

    expression: str
    _tree: ast.expr

    @classmethod
    def parse(cls, expression: str, *, source: str = "objective") -> Objective:
        """The expression, checked; a :class:`SpecError` naming ``source`` and the problem."""
        if not isinstance(expression, str) or not expression.strip():
            raise SpecError(f"{source}: objective must be a non-empty expression")
        try:
            tree = ast.parse(expression.strip(), mode="eval").body
        except SyntaxError as exc:
            raise SpecError(
                f"{source}: objective {expression!r} is not an expression: {exc.msg}"
            ) from None
        problem = _check(tree)
        if problem is not None:
            raise SpecError(f"{source}: objective {expression!r}: {problem}")
        return cls(expression.strip(), tree)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n.id for n in ast.walk(self._tree) if isinstance(n, ast.Name))

    def value(self, figures: Mapping[str, float]) -> float:
        return _eval(self._tree, figures)


def _check(node: ast.expr) -> str | None:
    """Why ``node`` is not allowed, or None."""
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, int | float) and not isinstance(node.value, bool)
        return None if ok else f"only numbers are allowed, not {node.value!r}"
    if isinstance(node, ast.Name):
        if node.id in VARIABLES:
            return None
        return f"unknown name {node.id!r} (known: {', '.join(VARIABLES)})"
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            return "only unary minus is allowed"
        return _check(node.operand)
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINARY):
            return f"operator {type(node.op).__name__} is not allowed (use + - * /)"
        return _check(node.left) or _check(node.right)
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            return "the only functions are min and max"
        if node.keywords or len(node.args) < 2:
            return f"{node.func.id}() takes two or more plain arguments"
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                return f"{node.func.id}() takes two or more plain arguments"
            if (problem := _check(arg)) is not None:
                return problem
        return None
    return f"{type(node).__name__} is not allowed (numbers, names, + - * /, min, max)"


def _eval(node: ast.expr, figures: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # _check let only numbers through
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(figures[node.id])
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, figures)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, figures), _eval(node.right, figures)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right if right != 0 else 0.0  # a run that spent nothing: no ratio
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    values = [_eval(arg, figures) for arg in node.args]
    return min(values) if node.func.id == "min" else max(values)
