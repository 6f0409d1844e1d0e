"""Reading SQL out of a reply, checking what it returned, and comparing results as BIRD does.

- :func:`extract_sql`: the query of a reply — the last fenced ```sql block, else the last fenced
  block that reads like a query, else ``None`` (a reply with no SQL is a failed turn).
- :func:`sanity_issues`: what makes a result implausible as an answer — an empty result, NULLs,
  values that are not finite numbers, magnitudes no business figure has (beyond 1e12), a negative
  count. Each issue is one short line the analyst is shown when it revises.
- :func:`same_result`: execution accuracy. Two results match when their rows are equal as sets
  (BIRD's ``set(predicted) == set(gold)``), or as sequences when the order matters (the gold
  query ranks); column names are not compared; numbers match within a relative tolerance of 1e-6
  (an integer and a float of the same value are equal, ``2`` and ``2.0``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ekklesia.tools.sql import JsonScalar, SqlResult

__all__ = [
    "extract_sql",
    "gold_orders",
    "markdown_table",
    "normalise_sql",
    "same_result",
    "sanity_issues",
]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_QUERY_START = re.compile(r"^\s*(?:select|with|from)\b", re.IGNORECASE)
_COUNTS = re.compile(r"(?:^|_)(?:n|count|num|number|flights|total)(?:_|$)", re.IGNORECASE)
_IMPLAUSIBLE = 1e12
_TOLERANCE = 1e-6


def extract_sql(text: str) -> str | None:
    """The SQL of a reply; see the module docstring."""
    blocks = [
        (str(m.group(1)).lower(), str(m.group(2)).strip()) for m in _FENCE.finditer(text or "")
    ]
    for lang, body in reversed(blocks):
        if lang in ("sql", "duckdb", "sqlite", "postgresql") and body:
            return body.rstrip(";").strip()
    for _, body in reversed(blocks):
        if _QUERY_START.match(body):
            return body.rstrip(";").strip()
    return None


def normalise_sql(sql: str) -> str:
    """Lower-cased, single-spaced, without a trailing semicolon: for telling queries apart."""
    return " ".join(sql.replace(";", " ").split()).lower()


def gold_orders(sql: str) -> bool:
    """True when the outermost query ends in ORDER BY (its rows are a ranking, order matters)."""
    depth, last_order = 0, -1
    lowered = sql.lower()
    for i, char in enumerate(lowered):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and lowered.startswith("order by", i):
            last_order = i
    return last_order >= 0


def _number(value: JsonScalar) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def sanity_issues(result: SqlResult) -> list[str]:
    """What is implausible about ``result`` as an answer; empty when nothing is."""
    if not result.rows:
        return ["the query returned no rows"]
    issues: list[str] = []
    nulls = sorted(
        {result.columns[i] for row in result.rows for i, v in enumerate(row) if v is None}
    )
    if nulls:
        issues.append(f"NULL values in {', '.join(nulls)}")
    strange: set[str] = set()
    negative: set[str] = set()
    for row in result.rows:
        for name, value in zip(result.columns, row, strict=False):
            if value in ("NaN", "Infinity", "-Infinity"):
                strange.add(name)
            number = _number(value)
            if number is not None and abs(number) > _IMPLAUSIBLE:
                strange.add(name)
            if number is not None and number < 0 and _COUNTS.search(name):
                negative.add(name)
    if strange:
        issues.append(f"implausible magnitudes in {', '.join(sorted(strange))}")
    if negative:
        issues.append(f"negative counts in {', '.join(sorted(negative))}")
    return issues


def _key(value: JsonScalar) -> tuple[int, float, str]:
    number = _number(value)
    if value is None:
        return (0, 0.0, "")
    if number is not None:
        return (1, number, "")
    return (2, 0.0, str(value))


def _same_value(a: JsonScalar, b: JsonScalar) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
    return a == b


def _same_row(a: Sequence[JsonScalar], b: Sequence[JsonScalar]) -> bool:
    return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))


def _distinct(rows: Sequence[Sequence[JsonScalar]]) -> list[tuple[JsonScalar, ...]]:
    ordered = sorted((tuple(r) for r in rows), key=lambda r: tuple(_key(v) for v in r))
    out: list[tuple[JsonScalar, ...]] = []
    for row in ordered:
        if not out or not _same_row(out[-1], row):
            out.append(row)
    return out


def same_result(
    predicted: Sequence[Sequence[JsonScalar]],
    gold: Sequence[Sequence[JsonScalar]],
    *,
    ordered: bool = False,
) -> bool:
    """True when ``predicted`` returns what ``gold`` does; see the module docstring."""
    if ordered:
        return len(predicted) == len(gold) and all(
            _same_row(p, g) for p, g in zip(predicted, gold, strict=True)
        )
    mine, theirs = _distinct(predicted), _distinct(gold)
    return len(mine) == len(theirs) and all(
        _same_row(p, g) for p, g in zip(mine, theirs, strict=True)
    )


def _cell(value: JsonScalar) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(result: SqlResult, *, limit: int = 20) -> str:
    """The first ``limit`` rows as a Markdown table, saying how many more there are."""
    head = "| " + " | ".join(result.columns) + " |"
    rule = "| " + " | ".join("---" for _ in result.columns) + " |"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in result.rows[:limit]]
    more = len(result.rows) - limit
    tail = [f"({more} more rows)"] if more > 0 else []
    if result.truncated:
        tail.append("(the result was cut at the row limit)")
    return "\n".join([head, rule, *body, *tail])
