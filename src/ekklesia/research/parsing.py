"""Reading what a model wrote: claims with citations, verdicts, sub-questions — robustly.

A model is asked for one JSON object; it may wrap it in a fence, add prose around it, use single
quotes or trailing commas, or ignore JSON and write lines (``- claim [1][2]``, ``1. supported``).
Each reader takes what it can and returns ``None`` when nothing usable is there, so the calling
agent marks its turn failed instead of crashing the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ekklesia.research.sources import VERDICTS, Verdict

__all__ = ["json_object", "read_claims", "read_subquestions", "read_verdicts"]

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$", re.MULTILINE)
_VERDICT_LINE = re.compile(
    r"^\s*(?:claim\s*)?(\d+)\s*[.):-]?\s*[:-]?\s*\**(supported|contradicted|refuted|unverifiable)\**"
    r"(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER = re.compile(r"^\s*(?:final\s+)?answer\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def _candidates(text: str) -> list[str]:
    found = [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        found.append(text[start : end + 1])
    return found


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (fenced or bare, forgiving of trailing commas)."""
    for candidate in _candidates(text):
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                value = json.loads(attempt)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, int | str):
        value = [value]
    if not isinstance(value, list):
        return ()
    out: list[int] = []
    for item in value:
        text = str(item).strip().strip("[]")
        if text.isdigit() and int(text) not in out:
            out.append(int(text))
    return tuple(out)


def _cited(text: str) -> tuple[str, tuple[int, ...]]:
    ids = tuple(int(n) for group in _CITE.findall(text) for n in group.split(","))
    return _CITE.sub("", text).strip().rstrip(" ."), tuple(dict.fromkeys(ids))


def read_claims(text: str) -> tuple[list[tuple[str, tuple[int, ...]]], str | None] | None:
    """``([(claim, cited ids)], answer)`` from a researcher's reply, or ``None``.

    JSON ``{"claims": [{"text": ..., "citations": [1]}], "answer": ...}`` first; else lines with
    ``[n]`` markers and an ``Answer:`` line.
    """
    data = json_object(text)
    if data is not None and isinstance(data.get("claims"), list):
        claims = []
        for item in data["claims"]:
            if (
                isinstance(item, dict)
                and isinstance(item.get("text"), str)
                and item["text"].strip()
            ):
                body, inline = _cited(item["text"])
                ids = _ids(item.get("citations", item.get("sources", []))) or inline
                claims.append((body, ids))
            elif isinstance(item, str) and item.strip():
                claims.append(_cited(item))
        answer = data.get("answer")
        return claims, str(answer).strip() if answer not in (None, "") else None
    lines = [line for line in _NUMBERED.findall(text) if _CITE.search(line)]
    if not lines:
        return None
    answers = _ANSWER.findall(text)
    return [_cited(line) for line in lines], (answers[-1] if answers else None)


def _verdict(word: str) -> Verdict | None:
    word = word.strip().lower()
    if word == "refuted":
        return "contradicted"
    return next((v for v in VERDICTS if v == word), None)


def read_verdicts(text: str, claims: int) -> dict[int, tuple[Verdict, tuple[int, ...], str]] | None:
    """``{claim number (1-based): (verdict, evidence ids, correction)}`` from a fact-checker's
    reply, or ``None`` when it gives no verdict for any of the ``claims``."""
    out: dict[int, tuple[Verdict, tuple[int, ...], str]] = {}
    data = json_object(text)
    rows = data.get("verdicts") if data is not None else None
    if isinstance(rows, list):
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                continue
            number = row.get("claim", i)
            verdict = _verdict(str(row.get("verdict", "")))
            if verdict is None or not str(number).isdigit():
                continue
            correction = row.get("correction")
            out[int(str(number))] = (
                verdict,
                _ids(row.get("evidence", [])),
                correction.strip() if isinstance(correction, str) else "",
            )
    else:
        for number, word, rest in _VERDICT_LINE.findall(text):
            verdict = _verdict(word)
            if verdict is not None:
                _, ids = _cited(rest or "")
                out[int(number)] = (verdict, ids, "")
    kept = {n: v for n, v in out.items() if 1 <= n <= claims}
    return kept or None


def read_subquestions(text: str, limit: int) -> list[str]:
    """The numbered or bulleted lines of a plan that read as questions (at most ``limit``)."""
    data = json_object(text)
    if data is not None and isinstance(data.get("subquestions"), list):
        items = [str(q).strip() for q in data["subquestions"] if str(q).strip()]
    else:
        items = [line for line in _NUMBERED.findall(text)]
    questions = [q for q in items if q.endswith("?")] or items
    return list(dict.fromkeys(questions))[:limit]


def read_answer(text: str) -> str | None:
    answers = _ANSWER.findall(text)
    return answers[-1].strip().strip("*") if answers else None
