"""Reading what a model wrote about code: the program, a review's verdict, the tests.

Models, real or simulated, answer in Markdown: prose, then a fenced block, then more prose, often
several blocks, sometimes indented inside a list, sometimes cut off before the closing fence (a
reply that ran out of tokens). The contract of each reader:

* :func:`extract_code` returns the last fenced block tagged as Python (``python``, ``py``,
  ``python3``, ``py3``, in any case), or else the last untagged block, with backtick or tilde
  fences; blocks tagged as another language (``text``, ``bash``, ``pycon``...) are never code. A
  block left open runs to the end of the text. A block indented under a list item loses the
  indentation of its fence. A reply with no fence at all is code when the whole of it parses as
  Python and defines, imports or asserts something. Otherwise ``None``. Windows line ends are read
  as ``\\n``, and the code returned ends in exactly one ``\\n``.
* :func:`extract_verdict` reads a review: ``Verdict: bug`` or ``Verdict: correct`` (the last one;
  ``incorrect``, ``buggy``, ``wrong`` read as ``bug``; ``ok``, ``no bug`` as ``correct``), or,
  without a verdict line, ``Answer: bug|correct`` or the answer a gate reads (``approve`` is
  ``correct``, ``revise`` or ``reject`` is ``bug``; ``not correct`` is ``bug``); and the faulty
  line from ``Line: N`` (the first number of ``Line: 12-14``; ``Line: none`` is no line), or from
  a ``line N`` in the prose when the verdict is ``bug`` and there is no ``Line:``. Markdown
  emphasis (``**Verdict:**``), list marks and fenced blocks (quoted code) are ignored.
* :func:`extract_tests` returns what in the code blocks (all of them, in order) is a test: imports,
  ``assert`` statements, ``test*`` and ``check`` functions, loops and ``with`` blocks that assert,
  plain assignments of data, calls of those functions, and the body of an
  ``if __name__ == "__main__":``. A definition of the function under test (``entry_point``) or an
  import of it is left out, because the tests run after the program and must test that. Test
  functions that take no argument and are never called get a call at the end, so that the result
  fails when run as a script if a test fails; so does a HumanEval-style ``check(candidate)``,
  called with ``entry_point``. A block cut off mid-statement keeps what parses.
  With no fences, ``assert`` lines in the prose are the tests. ``None`` when nothing asserts.

None of them runs what it reads: parsing is :mod:`ast` only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["extract_code", "extract_tests", "extract_verdict"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_PYTHON_TAGS = {"python", "py", "python3", "py3"}

# a label at the start of a line, maybe after list or quote marks and inside emphasis
_LEAD = r"^[ \t>*_#-]*"
_WORDS = r"[*_ \t]*(?P<word>[a-z]+(?:[ \t]+[a-z]+)?)\b"
_VERDICT = re.compile(_LEAD + r"verdict[*_ \t]*[:=-]" + _WORDS, re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(
    _LEAD + r"(?:final[ \t]+)?answer[*_ \t]*[:=]" + _WORDS, re.IGNORECASE | re.MULTILINE
)
_LINE_LABEL = re.compile(
    _LEAD + r"(?:faulty?[ \t]+)?lines?[*_ \t]*[:=][*_ \t]*(?P<value>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_LINE_IN_PROSE = re.compile(r"\bline\s+(\d+)\b", re.IGNORECASE)
_BUG_WORDS = {"bug", "buggy", "incorrect", "wrong", "faulty", "fail", "fails", "revise", "reject"}
_CORRECT_WORDS = {"correct", "ok", "okay", "fine", "no bug", "no bugs", "pass", "passes", "approve"}


@dataclass(frozen=True)
class _Block:
    info: str
    code: str


def _blocks(text: str) -> list[_Block]:
    """Every fenced block, in order; one left open runs to the end."""
    return _split(text)[0]


def _split(text: str) -> tuple[list[_Block], str]:
    """The fenced blocks of ``text`` (empty ones left out), and the prose around them."""
    blocks: list[_Block] = []
    prose: list[str] = []
    opened: tuple[str, str, int] | None = None  # (fence, info, indent)
    body: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        fence = _FENCE.match(line)
        if opened is None:
            if fence:
                opened = (fence["fence"], fence["info"], len(fence["indent"]))
                body = []
            else:
                prose.append(line)
            continue
        mark, info, indent = opened
        # a fence of the same kind ends the block; Python never starts a line with one, so a
        # fence with a language tag is a block left open and the start of the next
        if fence and fence["fence"][0] == mark[0] and len(fence["fence"]) >= len(mark):
            blocks.append(_Block(info, _dedent(body, indent)))
            opened = (
                (fence["fence"], fence["info"], len(fence["indent"])) if fence["info"] else None
            )
            body = []
            continue
        body.append(line)
    if opened is not None:
        blocks.append(_Block(opened[1], _dedent(body, opened[2])))
    return [block for block in blocks if block.code.strip()], "\n".join(prose)


def _dedent(lines: list[str], indent: int) -> str:
    """The block's lines without the fence's indentation (a block inside a list item)."""
    kept = []
    for line in lines:
        spaces = len(line) - len(line.lstrip(" \t"))
        kept.append(line[min(spaces, indent) :])
    return "\n".join(kept).strip("\n") + "\n"


def _code_blocks(text: str) -> list[str]:
    """The blocks that hold Python: the tagged ones if any, else the untagged ones."""
    blocks = _blocks(text)
    tagged = [b.code for b in blocks if _tag(b.info) in _PYTHON_TAGS]
    return tagged or [b.code for b in blocks if not b.info]


def _tag(info: str) -> str:
    words = info.split()
    return words[0].lower().lstrip("{.").rstrip("}") if words else ""


def extract_code(text: str) -> str | None:
    """The program in a model's reply; see the module docstring."""
    blocks = _code_blocks(text)
    if blocks:
        return blocks[-1]
    if _blocks(text):
        return None  # only blocks of other languages
    bare = text.replace("\r\n", "\n").strip("\n")
    if not bare.strip():
        return None
    try:
        tree = ast.parse(bare)
    except SyntaxError:
        return None
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    if any(isinstance(node, (*kinds, ast.Assert)) for node in tree.body):
        return bare + "\n"
    return None


def extract_verdict(text: str) -> tuple[str | None, int | None]:
    """``("bug" | "correct" | None, line or None)`` from a review; see the module docstring."""
    text = _split(text)[1]  # code quoted in a review is not the review's labels
    verdict = _last_word(_VERDICT, text) or _last_word(_ANSWER, text)
    line: int | None = None
    labels = _LINE_LABEL.findall(text)
    if labels:
        number = re.search(r"\d+", labels[-1])
        line = int(number.group()) if number else None
    elif verdict == "bug" and (mention := _LINE_IN_PROSE.search(text)):
        line = int(mention.group(1))
    return verdict, line


def _last_word(pattern: re.Pattern[str], text: str) -> str | None:
    for found in reversed(pattern.findall(text)):
        words = found.lower().split()
        negated = words[0] in ("not", "no") and len(words) > 1
        word = words[1] if negated else words[0]
        if " ".join(words) in _CORRECT_WORDS:  # "no bug"
            return "correct"
        if word in _BUG_WORDS:
            return "correct" if negated else "bug"
        if word in _CORRECT_WORDS:
            return "bug" if negated else "correct"
    return None


def extract_tests(text: str, entry_point: str | None = None) -> str | None:
    """The tests in a model's reply, runnable after the program; see the module docstring."""
    sources = _code_blocks(text)
    if not sources and not _blocks(text):
        sources = [_asserts_in_prose(text)]
    kept: list[str] = []
    for source in sources:
        tree = _parse_prefix(source)
        if tree is not None:
            kept.extend(_tests_of(tree.body, source, entry_point))
    trees = [ast.parse(part) for part in kept]
    if not any(isinstance(node, ast.Assert) for tree in trees for node in ast.walk(tree)):
        return None
    called = {
        node.func.id
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    for tree in trees:
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name in called:
                continue
            arity = len(node.args.args)
            if node.name.startswith("test") and arity == 0:
                kept.append(f"{node.name}()")
            elif node.name == "check" and arity == 1 and entry_point is not None:
                kept.append(f"check({entry_point})")  # HumanEval's own shape of tests
    return "\n".join(kept).strip("\n") + "\n"


def _asserts_in_prose(text: str) -> str:
    """``assert`` lines written in prose or a list, without their bullets and backticks."""
    found = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = re.sub(r"^\s*(?:[-*+]|\d+[.)])?\s*`*", "", line).rstrip().rstrip("`")
        if stripped.startswith("assert ") and _parse_prefix(stripped) is not None:
            found.append(stripped)
    return "\n".join(found)


def _parse_prefix(source: str) -> ast.Module | None:
    """``source`` parsed, or its longest run of leading lines that parses (a reply cut short)."""
    lines = source.split("\n")
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def _tests_of(body: list[ast.stmt], source: str, entry_point: str | None) -> list[str]:
    kept: list[str] = []
    for node in body:
        if _is_main_guard(node) and isinstance(node, ast.If):
            kept.extend(_tests_of(node.body, source, entry_point))
        elif _is_test(node, entry_point):
            segment = ast.get_source_segment(source, node, padded=True)
            if segment is not None:
                kept.append(_strip_common_indent(segment))
    return kept


def _is_test(node: ast.stmt, entry_point: str | None) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return entry_point is None or all(
            (alias.asname or alias.name).split(".")[0] != entry_point for alias in node.names
        )
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name != entry_point and (node.name.startswith("test") or node.name == "check")
    if isinstance(node, ast.For | ast.While | ast.With):
        return any(isinstance(inner, ast.Assert) for inner in ast.walk(node))
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        return len(names) == len(targets) and entry_point not in names
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Name) and (func.id.startswith("test") or func.id == "check")
    return False


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _strip_common_indent(segment: str) -> str:
    lines = segment.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines)
