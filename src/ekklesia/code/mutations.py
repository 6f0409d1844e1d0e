"""Seeded mutations of a program: each one a small, plausible bug, made in the program's own text.

    found = mutants(program, seed=0, kinds=("comparison",), limit=3)
    assert all(m.kind == "comparison" for m in found)

Contract:

* Four kinds (:data:`MUTATION_KINDS`): ``operator_swap`` (``+``/``-``, ``*``/``//``,
  ``and``/``or``, ``+=``/``-=``, a dropped ``not``, ...), ``off_by_one`` (an integer literal ``n``
  became ``n±1``, a ``range`` or slice bound ``e`` became ``e ± 1``), ``comparison`` (``<``/``<=``,
  ``>``/``>=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``) and ``dropped_branch`` (an
  ``if`` statement without ``else`` removed — a guard, or a branch's effect —, an ``elif`` or an
  ``else`` clause removed, or the condition of an ``if`` whose body does not jump removed, its body
  dedented to run always).
* Only function bodies are mutated: never a docstring, a signature, a decorator, an annotation or
  the inside of an f-string (whose positions Python 3.11 does not report reliably).
* Each mutation changes one thing by editing the original text at the node's position: a
  substitution keeps every line and changes one; a dropped branch removes a run of whole lines and
  leaves the rest as it was. :attr:`Mutation.line` is the 1-based line of the mutated program where
  the change is: the edited line, or for a dropped branch the first non-blank line after the gap
  (the last one before it at the end of the program).
* Every mutant parses and differs from the program in its syntax tree; mutants are distinct.
* :func:`mutants` is deterministic in ``(program, seed)``: each kind's mutants are shuffled by the
  seed and the kinds interleaved in a seeded order, so a small ``limit`` still mixes kinds.
* :func:`failing_mutants` keeps the mutants of a HumanEval problem's entry point (not of helpers
  the prompt gives) that fail its tests, run in the sandbox (never in this process). A mutant that
  times out fails, but those that fail fast come first. It returns nothing when the canonical
  solution itself does not pass in the sandbox.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.code._source import Pos, Source, body_statements
from ekklesia.code.humaneval import Problem, full_program, test_program
from ekklesia.core.seeds import stable_seed
from ekklesia.errors import SpecError
from ekklesia.tools.sandbox import run_python

__all__ = ["MUTATION_KINDS", "Mutation", "MutationKind", "failing_mutants", "mutants"]

_log = logging.getLogger(__name__)

MutationKind = Literal["operator_swap", "off_by_one", "comparison", "dropped_branch"]
MUTATION_KINDS: tuple[MutationKind, ...] = get_args(MutationKind)


class Mutation(BaseModel):
    """One mutant: what changed, where, and the whole mutated program."""

    model_config = ConfigDict(frozen=True)

    kind: MutationKind
    line: int = Field(ge=1)
    description: str
    program: str


def mutants(
    program: str,
    seed: int,
    kinds: Iterable[str] = MUTATION_KINDS,
    limit: int | None = None,
    *,
    function: str | None = None,
) -> list[Mutation]:
    """The mutants of ``program`` of the given kinds, in a seeded order, at most ``limit``.

    ``function`` names a top-level function to mutate alone (its nested functions included).
    """
    wanted = list(dict.fromkeys(kinds))
    unknown = [k for k in wanted if k not in MUTATION_KINDS]
    if unknown:
        raise SpecError(f"unknown mutation kinds {unknown} (known: {', '.join(MUTATION_KINDS)})")
    try:
        src = Source(program)
    except SyntaxError as exc:
        raise SpecError(f"cannot mutate a program that does not parse: {exc}") from exc
    if function is not None:
        try:
            src.only(function)
        except KeyError:
            raise SpecError(f"the program defines no top-level function {function!r}") from None
    original = ast.dump(src.tree)
    seen: set[str] = {program}
    per_kind: dict[str, list[Mutation]] = {}
    for kind in wanted:
        found = []
        for line, description, text in sorted(_FINDERS[kind](src), key=lambda c: c[0]):
            if text in seen or not _differs(text, original):
                continue
            seen.add(text)
            found.append(Mutation(kind=kind, line=line, description=description, program=text))
        random.Random(stable_seed("mutants", seed, kind, program)).shuffle(found)
        per_kind[kind] = found
    random.Random(stable_seed("mutant kinds", seed, program)).shuffle(wanted)
    mixed = [
        m
        for group in itertools.zip_longest(*(per_kind[k] for k in wanted))
        for m in group
        if m is not None
    ]
    return mixed if limit is None else mixed[:limit]


async def failing_mutants(
    problem: Problem,
    seed: int,
    n: int,
    *,
    kinds: Iterable[str] = MUTATION_KINDS,
    timeout_s: float = 5.0,
    max_checked: int = 48,
) -> list[Mutation]:
    """Up to ``n`` mutants of the canonical program that fail the problem's tests in the sandbox.

    Candidates are checked in :func:`mutants`' order, a few at a time, until ``n`` have failed
    without timing out or ``max_checked`` have been run; fast failures come before timeouts.
    """
    if n < 1:
        raise SpecError(f"failing_mutants needs n >= 1, got {n}")
    program, tests = full_program(problem), test_program(problem)
    # only the entry point: helpers given in the prompt are not the solution's code
    candidates = mutants(program, seed, kinds, function=problem.entry_point)[:max_checked]
    fast: list[Mutation] = []
    slow: list[Mutation] = []
    async with asyncio.TaskGroup() as group:
        # the reference runs beside the first batch: a canonical that fails here (the sandbox
        # refuses something it needs) would make every mutant look like a failing one
        reference = group.create_task(run_python(program, tests, timeout_s=timeout_s))
        checked = 0
        while len(fast) < n and checked < len(candidates):
            # one spare per batch: most mutants fail, and a batch is one wait on the sandbox
            batch = candidates[checked : checked + n - len(fast) + 1]
            checked += len(batch)
            results = await asyncio.gather(
                *(run_python(m.program, tests, timeout_s=timeout_s) for m in batch)
            )
            for mutant, result in zip(batch, results, strict=True):
                if not result.passed:
                    (slow if result.timed_out else fast).append(mutant)
    if not reference.result().passed:
        _log.warning("%s: the canonical solution fails in the sandbox", problem.task_id)
        return []
    return (fast + slow)[:n]


# --- finding mutations: each finder yields (line, description, mutated program) ---------------

_Candidate = tuple[int, str, str]

_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "/", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|",
    ast.BitXor: "^",
}  # fmt: skip
_BINOP_SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.LShift: ast.RShift,
    ast.RShift: ast.LShift, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitAnd,
}  # fmt: skip
_COMPARISONS: dict[type[ast.AST], tuple[str, str]] = {
    ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"), ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
}  # fmt: skip
# operands that make `+`, `*` or `%` a sequence or string operation: swapping it is a crash, not a
# plausible slip
_SEQUENCE_LITERALS = (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp, ast.Dict, ast.Set)
# expressions that `e + 1` still binds as a whole
_TIGHT = (ast.Name, ast.Call, ast.Attribute, ast.Subscript)
_TIGHT_OPS = (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_JUMPS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _operator_swaps(src: Source) -> Iterator[_Candidate]:
    for node in _body_nodes(src):
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            if not any(_is_sequence(side) for side in (node.left, node.right)):
                old, new = _SYMBOLS[type(node.op)], _SYMBOLS[_BINOP_SWAPS[type(node.op)]]
                yield from _swap(src, src.end(node.left), src.start(node.right), old, new)
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAPS:
            if not _is_sequence(node.value):
                old, new = _SYMBOLS[type(node.op)], _SYMBOLS[_BINOP_SWAPS[type(node.op)]]
                yield from _swap(
                    src, src.end(node.target), src.start(node.value), old + "=", new + "="
                )
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            for left, right in itertools.pairwise(node.values):
                yield from _swap(src, src.end(left), src.start(right), old, new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            word = src.token_after(src.start(node))
            after = src.token_after(word.end) if word is not None else None
            if (
                word is not None
                and word.string == "not"
                and after is not None
                and after.start[0] == word.start[0]
            ):
                yield word.start[0], "`not` was dropped", src.replace(word.start, after.start, "")


def _comparisons(src: Source) -> Iterator[_Candidate]:
    for node in _body_nodes(src):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, (left, right) in zip(node.ops, itertools.pairwise(operands), strict=True):
                old, new = _COMPARISONS[type(op)]
                yield from _swap(src, src.end(left), src.start(right), old, new)


def _off_by_ones(src: Source) -> Iterator[_Candidate]:
    steps = {id(n.step) for n in _body_nodes(src) if isinstance(n, ast.Slice) and n.step}
    negated = set()
    for node in _body_nodes(src):
        value = _int_literal(node)
        if value is not None and id(node) not in negated:
            if isinstance(node, ast.UnaryOp):
                negated.add(id(node.operand))  # `-1` is one literal, not `-` and `1`
            assert isinstance(node, ast.expr)
            start, end = src.start(node), src.end(node)
            text = src.segment(start, end)
            for new in (value + 1, value - 1):
                if (new < 0 <= value) or (new == 0 and id(node) in steps):
                    continue  # a new minus sign or a zero slice step is a crash, not a slip
                yield start[0], f"`{text}` became `{new}`", src.replace(start, end, str(new))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
            and not node.keywords
        ):
            for bound in node.args[:2]:
                yield from _shift(src, bound, "a `range` bound")
        elif isinstance(node, ast.Slice):
            for side in (node.lower, node.upper):
                if side is not None:
                    yield from _shift(src, side, "a slice bound")


def _dropped_branches(src: Source) -> Iterator[_Candidate]:
    for fn in src.functions():
        for block in _blocks(fn):
            for stmt in block:
                if isinstance(stmt, ast.If):
                    yield from _drops(src, stmt, alone=len(block) == 1)


_FINDERS: dict[str, Callable[[Source], Iterator[_Candidate]]] = {
    "operator_swap": _operator_swaps,
    "off_by_one": _off_by_ones,
    "comparison": _comparisons,
    "dropped_branch": _dropped_branches,
}


def _drops(src: Source, node: ast.If, *, alone: bool) -> Iterator[_Candidate]:
    """Drop ``node`` itself (no ``else``, not alone in its block), its ``elif`` or its ``else``."""
    assert node.end_lineno is not None
    if not node.orelse:
        if not alone and src.owns_lines(src.start(node), src.end(node)):
            yield _deletion(src, node.lineno, node.end_lineno, f"the branch `{_head(src, node)}`")
        yield from _unguarded(src, node)
        return
    if _is_elif(src, node.orelse):
        elif_ = node.orelse[0]
        assert isinstance(elif_, ast.If) and elif_.end_lineno is not None
        last = _clause_line(src, elif_) - 1 if elif_.orelse else elif_.end_lineno
        body_end = elif_.body[-1].end_lineno
        # a clause followed by another owns every line up to that one's keyword
        end = (last, len(src.lines[last - 1])) if elif_.orelse else src.end(elif_)
        if body_end is not None and body_end <= last and src.owns_lines(src.start(elif_), end):
            yield _deletion(src, elif_.lineno, last, f"the branch `{_head(src, elif_)}`")
    else:
        line = _clause_line(src, node)
        end = src.end(node.orelse[-1])
        if line and src.owns_lines((line, src.indent(line)), end):
            yield _deletion(src, line, end[0], "the `else` branch")


def _unguarded(src: Source, node: ast.If) -> Iterator[_Candidate]:
    """The guard of ``node`` dropped: its header removed and its body, dedented, runs always."""
    first, last = node.body[0].lineno, src.end(node)[0]
    if first == node.lineno or not src.owns_lines(src.start(node), src.end(node)):
        return
    if isinstance(node.body[-1], _JUMPS):
        return  # an unconditional jump leaves dead code behind: too easy a bug to spot
    extra = src.indent(first) - src.indent(node.lineno)
    body = src.lines[first - 1 : last]
    # a line indented less than the body (a string's continuation) cannot be dedented safely
    if extra <= 0 or any(text.strip() and not text.startswith(" " * extra) for text in body):
        return
    dedented = [text[extra:] if text.strip() else text for text in body]
    lines = src.lines[: node.lineno - 1] + dedented + src.lines[last:]
    what = f"the condition of `{_head(src, node)}` was dropped: its body always runs"
    # the body's first line now stands where the header stood
    yield node.lineno, what, "".join(lines)


def _deletion(src: Source, first: int, last: int, what: str) -> _Candidate:
    program = src.delete_lines(first, last)
    lines = program.splitlines()
    after = [i for i in range(first, len(lines) + 1) if lines[i - 1].strip()]
    before = [i for i in range(1, min(first, len(lines) + 1)) if lines[i - 1].strip()]
    line = after[0] if after else (before[-1] if before else 1)
    return line, f"{what} was dropped", program


def _clause_line(src: Source, node: ast.If) -> int:
    """The line of ``node``'s ``elif`` or ``else`` keyword; 0 if it shares a line with a body."""
    if _is_elif(src, node.orelse):
        return node.orelse[0].lineno
    body_end = node.body[-1].end_lineno or node.lineno
    for line in range(body_end + 1, node.orelse[0].lineno + 1):
        text = src.lines[line - 1].strip()
        if text.startswith("else") and text[4:].lstrip().startswith(":"):
            return line
    return 0


def _is_elif(src: Source, orelse: list[ast.stmt]) -> bool:
    if len(orelse) != 1 or not isinstance(orelse[0], ast.If):
        return False
    line, col = src.start(orelse[0])
    return src.lines[line - 1][col:].startswith("elif")


def _head(src: Source, node: ast.If) -> str:
    """The clause's first line, up to its colon when the test fits on that line."""
    text = src.lines[node.lineno - 1].strip()
    test_end = src.end(node.test)
    if test_end[0] == node.lineno:
        colon = src.token_after(test_end)
        if colon is not None and colon.string == ":":
            return src.lines[node.lineno - 1][src.start(node)[1] : colon.end[1]].strip()
    return text


def _swap(src: Source, after: Pos, before: Pos, old: str, new: str) -> Iterator[_Candidate]:
    """Replace the one operator ``old`` (one or more tokens) found between two operands."""
    words = old.split()
    tokens = src.tokens_between(after, before)
    spans = [
        (tokens[i].start, tokens[i + len(words) - 1].end)
        for i in range(len(tokens) - len(words) + 1)
        if [t.string for t in tokens[i : i + len(words)]] == words
    ]
    if len(spans) == 1 and spans[0][0][0] == spans[0][1][0]:
        start, end = spans[0]
        yield start[0], f"`{old}` became `{new}`", src.replace(start, end, new)


def _shift(src: Source, bound: ast.expr, where: str) -> Iterator[_Candidate]:
    """``bound`` became ``bound + 1`` and ``bound - 1``, where that binds as a whole and adds."""
    if bound.lineno != bound.end_lineno:
        return
    tight = isinstance(bound, _TIGHT) or (
        isinstance(bound, ast.BinOp)
        and (
            isinstance(bound.op, _TIGHT_OPS)
            # `n - 1` shifted by one is `n - 1 + 1`: its constant is mutated on its own already
            or (
                isinstance(bound.op, ast.Add | ast.Sub)
                and not (isinstance(bound.right, ast.Constant) and type(bound.right.value) is int)
            )
        )
    )
    if not tight:
        return
    start, end = src.start(bound), src.end(bound)
    text = src.segment(start, end)
    for sign in ("+", "-"):
        new = f"{text} {sign} 1"
        yield start[0], f"`{text}` became `{new}` ({where})", src.replace(start, end, new)


def _int_literal(node: ast.AST) -> int | None:
    """The value of an integer literal, ``-n`` included; None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_literal(node.operand)
        return -inner if inner is not None and isinstance(node.operand, ast.Constant) else None
    return None


def _is_sequence(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    return isinstance(node, _SEQUENCE_LITERALS)


def _differs(program: str, original_dump: str) -> bool:
    try:
        return ast.dump(ast.parse(program)) != original_dump
    except SyntaxError:
        return False


def _body_nodes(src: Source) -> Iterator[ast.AST]:
    """Every node inside a function body, outside docstrings, nested definitions and f-strings."""
    for fn in src.functions():
        for stmt in body_statements(fn):
            yield from _walk(stmt)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for name, value in ast.iter_fields(node):
        if name in {"annotation", "returns", "decorator_list"}:
            continue
        children: Sequence[object] = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, ast.AST) and not isinstance(child, _OPAQUE):
                yield from _walk(child)


# nested functions are walked as functions of their own (their signatures left alone)
_OPAQUE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.JoinedStr)


def _blocks(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[list[ast.stmt]]:
    """Every list of statements in ``fn``'s body, nested definitions left to themselves."""
    pending = [fn.body]
    while pending:
        block = pending.pop(0)
        yield block
        for stmt in block:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for name in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, name, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    pending.append(sub)
            pending.extend(h.body for h in getattr(stmt, "handlers", ()))
            pending.extend(c.body for c in getattr(stmt, "cases", ()))
