"""The BI team: business questions answered from data with SQL, checked, and shown with working.

:func:`bi` answers one question (``ekklesia bi "QUESTION"``): the analyst reads the schema,
writes SQL, runs it through the read-only ``sql`` tool, the result is checked (a sanity gate, and
a reviewer in ``bi_analysis``) and the answer comes with its query, its rows and a chart when it
is a series. The data: nycflights13 loaded into DuckDB once (:mod:`ekklesia.bi.data`), a DuckDB,
SQLite, CSV or Parquet file, or the records the business data connectors synced
(:mod:`ekklesia.bi.connectors`). :func:`suite` is the 58 nycflights13 questions with gold SQL,
scored by execution accuracy (:mod:`ekklesia.bi.results`); simulated analysts and reviewers
(:mod:`ekklesia.bi.simulated`) make it runnable for free.

``ek.bi(question, ...)`` is :func:`bi`: the package itself is callable.
"""

import sys
import types
from typing import Any

from ekklesia.bi.data import NYCFLIGHTS13_TABLES, database, nycflights13, schema
from ekklesia.bi.patterns import BI_PATTERNS, BiOptions, execution_accuracy
from ekklesia.bi.questions import MISTAKES, QUESTIONS, Question, wrong_queries
from ekklesia.bi.results import extract_sql, same_result, sanity_issues
from ekklesia.bi.run import BiAnswer, SuiteReport, abi, arun_suite, bi, run_suite
from ekklesia.bi.suite import suite, task
from ekklesia.bi.team import Analyst

__all__ = [
    "BI_PATTERNS",
    "MISTAKES",
    "NYCFLIGHTS13_TABLES",
    "QUESTIONS",
    "Analyst",
    "BiAnswer",
    "BiOptions",
    "Question",
    "SuiteReport",
    "abi",
    "arun_suite",
    "bi",
    "database",
    "execution_accuracy",
    "extract_sql",
    "nycflights13",
    "run_suite",
    "same_result",
    "sanity_issues",
    "schema",
    "suite",
    "task",
    "wrong_queries",
]


class _CallableModule(types.ModuleType):
    """``ek.bi("QUESTION")`` asks the team, while ``ek.bi.suite`` and the rest stay a package."""

    def __call__(self, question: str, **options: Any) -> BiAnswer:
        return bi(question, **options)


sys.modules[__name__].__class__ = _CallableModule
