"""Python source as text and tree at once: where a node's tokens are, and edits made in the text.

Edits are made to the original text at a node's position rather than by ``ast.unparse``, so an
edited program keeps its formatting, comments and, for an edit within one line, every line. AST
columns count UTF-8 bytes and tokenize columns count characters; :class:`Source` speaks characters.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Pos", "Source", "body_statements", "without_docstrings"]

Pos = tuple[int, int]  # (1-based line, 0-based character column)


@dataclass
class Source:
    """A program's text, its lines, its tree and its tokens."""

    text: str
    lines: list[str] = field(init=False)
    tree: ast.Module = field(init=False)
    tokens: list[tokenize.TokenInfo] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = io.StringIO(self.text).readlines()
        self.tree = ast.parse(self.text)
        self._root: ast.AST = self.tree
        significant = {tokenize.OP, tokenize.NAME, tokenize.NUMBER, tokenize.STRING}
        self.tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(self.text).readline)
            if t.type in significant
        ]

    def only(self, function: str) -> None:
        """Keep :meth:`functions` to the top-level function ``function`` and what it nests."""
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
                self._root = node
                return
        raise KeyError(function)

    def functions(self) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Every function and method of the program (or of the one chosen), nested ones included."""
        for node in ast.walk(self._root):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node

    def start(self, node: ast.expr | ast.stmt) -> Pos:
        return node.lineno, self._chars(node.lineno, node.col_offset)

    def end(self, node: ast.expr | ast.stmt) -> Pos:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return node.end_lineno, self._chars(node.end_lineno, node.end_col_offset)

    def tokens_between(self, start: Pos, end: Pos) -> list[tokenize.TokenInfo]:
        """The significant tokens that begin at or after ``start`` and end at or before ``end``."""
        return [t for t in self.tokens if t.start >= start and t.end <= end]

    def token_after(self, pos: Pos) -> tokenize.TokenInfo | None:
        return next((t for t in self.tokens if t.start >= pos), None)

    def segment(self, start: Pos, end: Pos) -> str:
        """The text from ``start`` to ``end``, both on one line."""
        assert start[0] == end[0]
        return self.lines[start[0] - 1][start[1] : end[1]]

    def replace(self, start: Pos, end: Pos, new: str) -> str:
        """The program with the text from ``start`` to ``end`` (one line) replaced by ``new``."""
        assert start[0] == end[0] and "\n" not in new
        lines = list(self.lines)
        line = lines[start[0] - 1]
        lines[start[0] - 1] = line[: start[1]] + new + line[end[1] :]
        return "".join(lines)

    def delete_lines(self, first: int, last: int) -> str:
        """The program without lines ``first`` to ``last`` (1-based, inclusive)."""
        return "".join(self.lines[: first - 1] + self.lines[last:])

    def owns_lines(self, start: Pos, end: Pos) -> bool:
        """Whether the lines from ``start`` to ``end`` hold nothing else: deletable whole.

        The text before ``start`` on its line must be blank and the text after ``end`` on its line
        blank or a comment, so a deletion takes no neighbouring statement with it.
        """
        head = self.lines[start[0] - 1][: start[1]]
        tail = self.lines[end[0] - 1][end[1] :].strip()
        return not head.strip() and (not tail or tail.startswith("#"))

    def indent(self, line: int) -> int:
        text = self.lines[line - 1]
        return len(text) - len(text.lstrip())

    def _chars(self, line: int, byte_col: int) -> int:
        return len(self.lines[line - 1].encode()[:byte_col].decode(errors="replace"))


def body_statements(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """``fn``'s body without its docstring: the part of a function that mutations may touch."""
    body = fn.body
    if body and _is_docstring(body[0]):
        body = body[1:]
    return body


def without_docstrings(program: str) -> str:
    """``program`` without the bare strings of its function bodies: docstrings and doctests.

    A description that follows an ``import`` inside the function (not a docstring to Python, but
    one to its reader) goes as well. A body left empty gets ``pass``.
    """
    src = Source(program)
    lines = list(src.lines)
    cuts: list[tuple[int, int, list[str]]] = []
    for node in ast.walk(src.tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        strings = [s for s in node.body if _is_docstring(s)]
        emptied = len(strings) == len(node.body)
        for stmt in strings:
            assert stmt.end_lineno is not None
            if src.owns_lines(src.start(stmt), src.end(stmt)):
                keep = emptied and stmt is node.body[-1]
                filler = [" " * src.indent(stmt.lineno) + "pass\n"] if keep else []
                cuts.append((stmt.lineno, stmt.end_lineno, filler))
    for first, last, filler in sorted(cuts, reverse=True):
        lines[first - 1 : last] = filler
    return "".join(lines)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )
