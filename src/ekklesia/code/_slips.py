"""Plausible one-token mistakes in Python source, and where two programs first differ.

:func:`slip` changes one operator, name or integer of a program, the way a hurried programmer
does, and leaves every other character as written, so that a diff of the two shows one line and
the line numbers of a review stay those of the program. The mistakes:

* ``comparison``: ``<`` ↔ ``<=``, ``<`` ↔ ``>``, ``==`` ↔ ``!=``, ``in`` ↔ ``not in``, ``is``
  ↔ ``is not`` (and their mirrors);
* ``arithmetic``: ``+`` ↔ ``-``, ``*`` → ``+``, ``/`` → ``*``, ``//`` → ``/``, ``%`` → ``//``,
  ``**`` → ``*``, and the same in augmented assignments (``+=`` → ``-=``);
* ``constant``: an integer one more or one less (a zero only one more, so no sign appears);
* ``boolean``: ``and`` ↔ ``or``, ``True`` ↔ ``False``, a ``not`` left out;
* ``name``: ``min`` ↔ ``max``, ``any`` ↔ ``all``, ``startswith`` ↔ ``endswith``, ``upper`` ↔
  ``lower``, ``isupper`` ↔ ``islower``.

Only the body of the named function (nested functions included, its docstring, f-strings and
annotations excluded) is touched, so a helper the task hands over stays right. A function with
none of these places gets its ``return`` value cut short instead (``kind="return"``: a number one
less, anything else its last item dropped); one without even a ``return`` value gives ``None``.
The result always parses and its syntax tree differs from the original's; whether it behaves
differently is for tests to find: on HumanEval about one slip in ten still passes the problem's
tests (a boundary that the tests never reach, an equivalent rewrite).

:func:`first_difference` compares two programs by syntax tree with their docstrings left out, so
formatting, comments and documentation are not differences; it returns the lines of the first
difference in each program, or ``None`` when they are the same code. :func:`rename` renames a
name where it is a name, not where it is part of a string or a comment.
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
from dataclasses import dataclass

__all__ = ["Slip", "first_difference", "rename", "same_code", "slip"]

Position = tuple[int, int]  # (line from 1, column in characters)

_COMPARISONS: dict[type[ast.cmpop], tuple[str, tuple[str, ...]]] = {
    ast.Lt: ("<", ("<=", ">")),
    ast.LtE: ("<=", ("<", ">=")),
    ast.Gt: (">", (">=", "<")),
    ast.GtE: (">=", (">", "<=")),
    ast.Eq: ("==", ("!=",)),
    ast.NotEq: ("!=", ("==",)),
    ast.In: ("in", ("not in",)),
    ast.NotIn: ("not in", ("in",)),
    ast.Is: ("is", ("is not",)),
    ast.IsNot: ("is not", ("is",)),
}
_ARITHMETIC: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "+"),
    ast.Div: ("/", "*"),
    ast.FloorDiv: ("//", "/"),
    ast.Mod: ("%", "//"),
    ast.Pow: ("**", "*"),
}
_NAMES = {"min": "max", "max": "min", "any": "all", "all": "any"}
_ATTRIBUTES = {
    "startswith": "endswith",
    "endswith": "startswith",
    "upper": "lower",
    "lower": "upper",
    "isupper": "islower",
    "islower": "isupper",
}


@dataclass(frozen=True)
class Slip:
    """A program with one planted mistake: what kind, on which line, and what changed."""

    program: str
    kind: str
    line: int
    description: str


@dataclass(frozen=True)
class _Site:
    start: Position
    end: Position
    replacements: tuple[str, ...]
    kind: str


def slip(source: str, rng: random.Random, *, function: str | None = None) -> Slip | None:
    """One seeded mistake in ``function`` (every function when ``None``), or ``None``."""
    try:
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError):
        return None
    lines = source.splitlines(keepends=True)
    finder = _Sites(lines, tokens)
    statements = _bodies(tree, function)
    # a function too plain for any other slip still returns something: cut its result short
    sites = finder.collect(statements) or finder.returns(statements)
    reference = ast.dump(tree)
    rng.shuffle(sites)
    for site in sites:
        new = rng.choice(site.replacements)
        program = _replace(lines, site.start, site.end, new)
        try:
            if ast.dump(ast.parse(program)) == reference:
                continue
        except SyntaxError:
            continue
        old = _text(lines, site.start, site.end)
        line = site.start[0]
        written = program.splitlines()[line - 1].strip()
        if site.kind == "return":
            what = f"the result `{old}` is returned as `{new}`"
        elif not new:
            what = f"`{old.strip()}` is left out"
        else:
            what = f"`{new}` is written instead of `{old}`"
        description = f"line {line}: {what}: `{written}`"
        return Slip(program=program, kind=site.kind, line=line, description=description)
    return None


def same_code(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are the same program up to formatting, comments and docstrings."""
    return first_difference(a, b) is None


def first_difference(code: str, reference: str) -> tuple[int, int] | None:
    """Where ``code`` first differs from ``reference``: the line in each; ``None`` when the same.

    A ``code`` that does not parse differs at its first line. When the differing statements are
    written alike line for line, the lines are the first whose text differs, not the statement's
    first.
    """
    try:
        mine = _without_docstrings(ast.parse(code))
        theirs = _without_docstrings(ast.parse(reference))
    except SyntaxError:
        return None if code.strip() == reference.strip() else (1, 1)
    found = _diff(mine, theirs, mine, theirs)
    if found is None:
        return None
    node, other = found
    first, other_first = getattr(node, "lineno", 1), getattr(other, "lineno", 1)
    last = getattr(node, "end_lineno", None) or first
    other_last = getattr(other, "end_lineno", None) or other_first
    if other_last - other_first == last - first:
        code_lines, reference_lines = code.splitlines(), reference.splitlines()
        for offset in range(last - first + 1):
            a = code_lines[first - 1 + offset : first + offset]
            b = reference_lines[other_first - 1 + offset : other_first + offset]
            if [line.strip() for line in a] != [line.strip() for line in b]:
                return int(first + offset), int(other_first + offset)
    return int(first), int(other_first)


def rename(source: str, old: str, new: str) -> str:
    """``source`` with the name ``old`` written ``new``, strings and comments left alone."""
    lines = source.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return re.sub(rf"\b{re.escape(old)}\b", new, source)
    for token in reversed(tokens):
        if token.type == tokenize.NAME and token.string == old:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + new + line[col + len(old) :]
    return "".join(lines)


# -- where a slip can go --------------------------------------------------------------------------


def _bodies(tree: ast.Module, function: str | None) -> list[ast.stmt]:
    """The statements open to slips: the body of ``function`` (or of every function)."""
    found: list[ast.stmt] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            function is None or node.name == function
        ):
            body = node.body[1:] if _is_docstring(node.body[0]) else node.body
            found.extend(body)
            if function is not None:
                break  # nested functions are walked as part of this body
    return found


class _Sites:
    """Finds the places for a slip in statements, by the tokens between a node's parts."""

    def __init__(self, lines: list[str], tokens: list[tokenize.TokenInfo]) -> None:
        self.lines = lines
        self.tokens = [t for t in tokens if t.type in (tokenize.OP, tokenize.NAME)]

    def collect(self, statements: list[ast.stmt]) -> list[_Site]:
        sites: list[_Site] = []
        seen: set[int] = set()
        for statement in statements:
            for node in _walk(statement):
                if id(node) not in seen:
                    seen.add(id(node))
                    sites.extend(self._of(node))
        return sites

    def returns(self, statements: list[ast.stmt]) -> list[_Site]:
        """The value of each ``return``, one short: a number one less, anything else its last
        item dropped (the off-by-one of a function that has no operator to get wrong)."""
        sites = []
        for statement in statements:
            for node in _walk(statement):
                if isinstance(node, ast.Return) and node.value is not None:
                    start, end = self._position(node.value), self._end(node.value)
                    text = _text(self.lines, start, end)
                    atom = isinstance(node.value, _ATOMS)
                    if _numeric(node.value):
                        new = f"{text} - 1" if atom else f"({text}) - 1"
                    else:
                        new = f"{text}[:-1]" if atom else f"({text})[:-1]"
                    sites.append(_Site(start, end, (new,), "return"))
        return sites

    def _of(self, node: ast.AST) -> list[_Site]:
        if isinstance(node, ast.Compare):
            return self._comparison(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC and not _text_op(node):
            return self._operator(node.left, node.right, type(node.op), "")
        if isinstance(node, ast.AugAssign) and type(node.op) in _ARITHMETIC:
            return self._operator(node.target, node.value, type(node.op), "=")
        if isinstance(node, ast.BoolOp):
            word, other = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            sites = []
            for left, right in zip(node.values, node.values[1:], strict=False):
                for token in self._between(left, right):
                    if token.string == word:
                        sites.append(_Site(token.start, token.end, (other,), "boolean"))
            return sites
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start = self._position(node)
            return [_Site(start, self._position(node.operand), ("",), "boolean")]
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name) and node.id in _NAMES and isinstance(node.ctx, ast.Load):
            return [_Site(self._position(node), self._end(node), (_NAMES[node.id],), "name")]
        if isinstance(node, ast.Attribute) and node.attr in _ATTRIBUTES:
            end = self._end(node)
            start = (end[0], end[1] - len(node.attr))
            return [_Site(start, end, (_ATTRIBUTES[node.attr],), "name")]
        return []

    def _comparison(self, node: ast.Compare) -> list[_Site]:
        sites = []
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            symbol, replacements = _COMPARISONS[type(op)]
            words = symbol.split()
            between = self._between(left, right)
            strings = [t.string for t in between]
            for i in range(len(between) - len(words) + 1):
                if strings[i : i + len(words)] == words:
                    start, end = between[i].start, between[i + len(words) - 1].end
                    sites.append(_Site(start, end, replacements, "comparison"))
                    break
        return sites

    def _operator(
        self, left: ast.AST, right: ast.AST, op: type[ast.operator], suffix: str
    ) -> list[_Site]:
        symbol, replacement = _ARITHMETIC[op]
        for token in self._between(left, right):
            if token.string == symbol + suffix:
                return [_Site(token.start, token.end, (replacement + suffix,), "arithmetic")]
        return []

    def _constant(self, node: ast.Constant) -> list[_Site]:
        value = node.value
        start, end = self._position(node), self._end(node)
        if isinstance(value, bool):
            return [_Site(start, end, (str(not value),), "boolean")]
        if isinstance(value, int):
            options = (str(value + 1), str(value - 1)) if value > 0 else (str(value + 1),)
            return [_Site(start, end, options, "constant")]
        return []

    def _between(self, left: ast.AST, right: ast.AST) -> list[tokenize.TokenInfo]:
        after, before = self._end(left), self._position(right)
        return [t for t in self.tokens if after <= t.start and t.end <= before]

    def _position(self, node: ast.AST) -> Position:
        return self._char(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def _end(self, node: ast.AST) -> Position:
        return self._char(getattr(node, "end_lineno", 1) or 1, getattr(node, "end_col_offset", 0))

    def _char(self, line: int, byte_column: int) -> Position:
        # ast counts columns in UTF-8 bytes, tokenize in characters
        text = self.lines[line - 1].encode()[:byte_column]
        return line, len(text.decode(errors="ignore"))


def _walk(node: ast.AST) -> list[ast.AST]:
    """``node`` and what is under it, but not inside f-strings or annotations.

    Inside an f-string tokenize sees one string, so an operator there has no token to change; an
    annotation is no place for a slip.
    """
    found = [node]
    for field, value in ast.iter_fields(node):
        if isinstance(node, ast.JoinedStr) or field in ("annotation", "returns"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                found.extend(_walk(child))
    return found


_ATOMS = (ast.Call, ast.Name, ast.Attribute, ast.Subscript, ast.List, ast.ListComp)
_NUMERIC_CALLS = {"len", "sum", "int", "abs", "round", "ord", "count", "index", "find"}


def _numeric(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in _NUMERIC_CALLS
    return isinstance(node, ast.BinOp)


def _text_op(node: ast.BinOp) -> bool:
    """A ``+`` or ``%`` on a string literal: joining or formatting text, where ``-`` is no slip."""
    return any(
        isinstance(side, ast.JoinedStr)
        or (isinstance(side, ast.Constant) and isinstance(side.value, str))
        for side in (node.left, node.right)
    )


def _replace(lines: list[str], start: Position, end: Position, new: str) -> str:
    before = "".join(lines[: start[0] - 1]) + lines[start[0] - 1][: start[1]]
    after = lines[end[0] - 1][end[1] :] + "".join(lines[end[0] :])
    return before + new + after


def _text(lines: list[str], start: Position, end: Position) -> str:
    if start[0] == end[0]:
        return lines[start[0] - 1][start[1] : end[1]]
    return (
        lines[start[0] - 1][start[1] :]
        + "".join(lines[start[0] : end[0] - 1])
        + lines[end[0] - 1][: end[1]]
    ).strip()


# -- comparing programs ---------------------------------------------------------------------------


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        scopes = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        if isinstance(node, scopes) and node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]
    return tree


def _diff(
    a: ast.AST, b: ast.AST, anchor_a: ast.AST, anchor_b: ast.AST
) -> tuple[ast.AST, ast.AST] | None:
    """The innermost nodes with a line number, in ``a`` and ``b``, around their first difference."""
    if hasattr(a, "lineno"):
        anchor_a = a
    if hasattr(b, "lineno"):
        anchor_b = b
    if type(a) is not type(b):
        return anchor_a, anchor_b
    for field in a._fields:
        mine, theirs = getattr(a, field, None), getattr(b, field, None)
        if isinstance(mine, list) and isinstance(theirs, list):
            for x, y in zip(mine, theirs, strict=False):
                if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                    if found := _diff(x, y, anchor_a, anchor_b):
                        return found
                elif x != y:
                    return anchor_a, anchor_b
            if len(mine) != len(theirs):
                shorter = min(len(mine), len(theirs))
                extra_a = mine[shorter] if shorter < len(mine) else anchor_a
                extra_b = theirs[shorter] if shorter < len(theirs) else anchor_b
                if not hasattr(extra_a, "lineno"):
                    extra_a = anchor_a
                if not hasattr(extra_b, "lineno"):
                    extra_b = anchor_b
                return extra_a, extra_b
        elif isinstance(mine, ast.AST) and isinstance(theirs, ast.AST):
            if found := _diff(mine, theirs, anchor_a, anchor_b):
                return found
        elif mine != theirs:
            return anchor_a, anchor_b
    return None
