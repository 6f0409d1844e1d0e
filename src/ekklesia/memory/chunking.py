"""Cutting files into chunks: code by definitions, Markdown by headings, text by size.

Python is cut along its top-level definitions with :mod:`ast` (a large class into its methods);
Markdown at its headings (not inside fenced code); other code and plain text at blank lines. Any
piece still longer than ``max_chars`` is cut by size on line boundaries, and a single overlong line
by characters, so a huge or minified file still yields chunks of bounded size.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["CODE_SUFFIXES", "Chunk", "chunk_file"]

ChunkKind = Literal["python", "code", "markdown", "text"]
CODE_SUFFIXES = frozenset(
    {
        *(".c", ".cc", ".cpp", ".cs", ".go", ".h", ".hpp", ".java", ".js", ".jsx", ".kt"),
        *(".lua", ".php", ".pyx", ".rb", ".rs", ".scala", ".sh", ".sql", ".swift", ".ts"),
        *(".tsx", ".proto", ".toml", ".yaml", ".yml", ".json", ".cfg", ".ini"),
    }
)
_MARKDOWN = frozenset({".md", ".markdown", ".mdx"})
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of a file."""

    kind: ChunkKind
    name: str
    start_line: int
    end_line: int
    text: str


def chunk_file(suffix: str, text: str, max_chars: int = 2000) -> list[Chunk]:
    """The chunks of a file's text, by the rules of its type (given by ``suffix``)."""
    lines = text.splitlines(keepends=True)
    suffix = suffix.lower()
    if suffix in (".py", ".pyi"):
        pieces = _python(lines, text, max_chars)
    elif suffix in _MARKDOWN:
        pieces = _markdown(lines)
    else:
        kind: ChunkKind = "code" if suffix in CODE_SUFFIXES else "text"
        pieces = [(kind, "", start, end) for start, end in _blocks(lines, 0, len(lines), max_chars)]
    chunks: list[Chunk] = []
    for kind, name, start, end in pieces:
        for s, e in _by_size(lines, start, end, max_chars):
            body = "".join(lines[s:e])
            for part in _by_chars(body, max_chars):
                if part.strip():
                    chunks.append(Chunk(kind, name, s + 1, max(s + 1, e), part))
    return chunks


Piece = tuple[ChunkKind, str, int, int]  # kind, name, start index, end index (exclusive)


def _python(lines: list[str], text: str, max_chars: int) -> list[Piece]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [("code", "", s, e) for s, e in _blocks(lines, 0, len(lines), max_chars)]
    pieces: list[Piece] = []
    cursor = 0  # everything between definitions becomes a "module" piece: no line is dropped
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = max(_first_line(node) - 1, cursor)
        end = node.end_lineno or node.lineno
        if _has_text(lines, cursor, start):
            pieces.append(("python", "module", cursor, start))
        pieces.extend(_definition(node, lines, start, end, max_chars))
        cursor = max(cursor, end)
    if _has_text(lines, cursor, len(lines)):
        pieces.append(("python", "module", cursor, len(lines)))
    return pieces


def _has_text(lines: list[str], start: int, end: int) -> bool:
    return any(line.strip() for line in lines[start:end])


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _definition(
    node: ast.stmt, lines: list[str], start: int, end: int, max_chars: int, prefix: str = ""
) -> list[Piece]:
    name = prefix + getattr(node, "name", "")
    size = sum(len(line) for line in lines[start:end])
    if not isinstance(node, ast.ClassDef) or size <= max_chars:
        return [("python", name, start, end)]
    pieces: list[Piece] = []
    head_end = end
    for child in node.body:
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            head_end = min(head_end, _first_line(child) - 1)
    pieces.append(("python", name, start, head_end))
    cursor = head_end
    for child in node.body:
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            c_start = cursor  # comments above a method travel with it
            c_end = child.end_lineno or child.lineno
            pieces.extend(_definition(child, lines, c_start, c_end, max_chars, prefix=f"{name}."))
            cursor = c_end
    return pieces


def _markdown(lines: list[str]) -> list[Piece]:
    pieces: list[Piece] = []
    trail: list[str] = []
    start = 0
    name = ""
    fenced = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match is None:
            continue
        if index > start:
            pieces.append(("markdown", name, start, index))
        level = len(match.group(1))
        trail = [*trail[: level - 1], match.group(2)]
        name = " > ".join(t for t in trail if t)
        start = index
    if start < len(lines):
        pieces.append(("markdown", name, start, len(lines)))
    return pieces


def _blocks(lines: list[str], start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Runs of whole paragraphs (split at blank lines), each up to ``max_chars`` if possible."""
    out: list[tuple[int, int]] = []
    block_start = start
    size = 0
    for index in range(start, end):
        size += len(lines[index])
        at_break = not lines[index].strip()
        if at_break and size >= max_chars // 2:
            out.append((block_start, index + 1))
            block_start, size = index + 1, 0
    if block_start < end:
        out.append((block_start, end))
    return out


def _by_size(lines: list[str], start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    piece_start = start
    size = 0
    for index in range(start, end):
        if size and size + len(lines[index]) > max_chars:
            out.append((piece_start, index))
            piece_start, size = index, 0
        size += len(lines[index])
    if piece_start < end:
        out.append((piece_start, end))
    return out


def _by_chars(body: str, max_chars: int) -> list[str]:
    if len(body) <= max_chars:
        return [body]
    return [body[i : i + max_chars] for i in range(0, len(body), max_chars)]
