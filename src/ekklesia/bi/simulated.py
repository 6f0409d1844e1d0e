"""Simulated BI analysts and reviewers: how a :class:`~ekklesia.agents.simulated.SimulatedModel`
answers a ``bi`` task, seeded and free, so the suite can be scored without a real model.

A suite task carries its answer key in ``meta``: ``gold_sql``, and ``wrong_sql`` — the plausible
wrong queries of :func:`~ekklesia.bi.questions.wrong_queries` as ``[mistake, sql]`` pairs, each
checked to return something other than the gold query. ``skill`` is ``model.skill``:

* analyst, first attempt: the gold query with probability ``skill``, else one of the wrong ones
  (chosen by the seeded draw). Revising (a gate sent it back): a right query is kept; a wrong
  one is replaced by the gold with probability ``skill``, else by a wrong one again. The reply is
  a sentence and the query in a ```sql block, as a real model's is.
* analyst on a question with no answer key (an ad-hoc question): counts the rows of the table the
  question names (else the first table) — a simulated model cannot read a question, and says so.
* reviewer: reads the query in the last analyst message it heard. A failed check (no rows, an
  error) is always sent back. A wrong query (not the gold) is caught with probability ``skill``
  (the catch rate), and the review names the mistake; a right one draws a false alarm with
  probability ``(1 - skill) * FALSE_ALARM``. It ends with ``Answer: approve`` or ``revise``.

Tasks name this module in ``meta["simulated_by"]``, so every process finds it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from ekklesia.agents.simulated import SimulatedModel
from ekklesia.bi.results import extract_sql, normalise_sql
from ekklesia.core.llm import LLMRequest, SimHints

__all__ = ["BEHAVIOUR", "FALSE_ALARM", "respond"]

BEHAVIOUR = "ekklesia.bi.simulated:respond"
#: How often a reviewer calls a right query wrong, as a share of ``1 - skill``.
FALSE_ALARM = 0.2

_MISTAKE_NOTES = {
    "filter": "the filter does not match the question (wrong value, bound or column tested)",
    "join": "the join uses the wrong key",
    "aggregate": "the aggregate is not the one asked for",
    "column": "the query measures the wrong column",
    "order": "the ranking runs the wrong way",
}


def _wrong(meta: Mapping[str, object]) -> list[tuple[str, str]]:
    raw = meta.get("wrong_sql")
    out: list[tuple[str, str]] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 2:
                out.append((str(item[0]), str(item[1])))
    return out


def _own_sql(hints: SimHints) -> str | None:
    return extract_sql(hints.own_text) if hints.own_text else None


def _analyst(model: SimulatedModel, hints: SimHints, rng: random.Random, question: str) -> str:
    meta = dict(hints.meta)
    gold = meta.get("gold_sql")
    if not isinstance(gold, str):
        listed = meta.get("tables")
        tables = [t for t in listed if isinstance(t, str)] if isinstance(listed, list) else []
        named = [t for t in tables if re.search(rf"\b{re.escape(t)}\b", question, re.I)]
        table = (named or tables or ["flights"])[0]
        return (
            f"I count the rows of the {table} table.\n"
            f'```sql\nSELECT COUNT(*) AS "rows" FROM {table}\n```'
        )
    wrong = _wrong(meta)
    own = _own_sql(hints)
    revising = hints.attempt > 0 or own is not None
    kept = revising and own is not None and normalise_sql(own) == normalise_sql(gold)
    right = kept or rng.random() < model.skill or not wrong
    sql = gold if right else rng.choice(wrong)[1]
    lead = "I revised the query." if revising else "I answer this from the tables listed."
    return f"{lead}\n```sql\n{sql}\n```"


def _reviewer(model: SimulatedModel, hints: SimHints, rng: random.Random) -> str:
    analyst = [text for role, text in hints.heard if role == "bi_analyst"]
    if not analyst:
        return "There is no query to review.\nAnswer: revise\nConfidence: 0.50"
    work = analyst[-1]
    sql = extract_sql(work)
    if sql is None or "Check: failed" in work:
        return "The query did not run to a usable result.\nAnswer: revise\nConfidence: 0.90"
    gold = hints.meta.get("gold_sql")
    if not isinstance(gold, str):
        return "The query runs and its result is plausible.\nAnswer: approve\nConfidence: 0.60"
    if normalise_sql(sql) != normalise_sql(gold):
        if rng.random() < model.skill:
            mistake = next((m for m, w in _wrong(dict(hints.meta)) if w == sql), "")
            note = _MISTAKE_NOTES.get(mistake, "the result does not answer the question")
            return f"This is wrong: {note}.\nAnswer: revise\nConfidence: 0.80"
        return "The query answers the question.\nAnswer: approve\nConfidence: 0.70"
    if rng.random() < (1.0 - model.skill) * FALSE_ALARM:
        return "I doubt the filter matches the question.\nAnswer: revise\nConfidence: 0.55"
    return "The query answers the question.\nAnswer: approve\nConfidence: 0.85"


def respond(model: SimulatedModel, request: LLMRequest, rng: random.Random) -> str:
    """The reply of a simulated analyst or reviewer; see the module docstring."""
    hints = request.hints or SimHints()
    if hints.role == "bi_reviewer":
        return _reviewer(model, hints, rng)
    question = str(hints.meta.get("question") or "")
    return _analyst(model, hints, rng, question)
