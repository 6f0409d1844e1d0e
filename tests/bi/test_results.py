"""SQL read out of replies, the sanity check, and BIRD's execution-accuracy comparison."""

from __future__ import annotations

from ekklesia.bi.results import extract_sql, gold_orders, same_result, sanity_issues
from ekklesia.tools.sql import SqlResult


def test_sql_is_read_from_the_last_sql_block() -> None:
    reply = "First\n```sql\nSELECT 1;\n```\nbetter:\n```SQL\nSELECT 2\n```\nAnswer: done"
    assert extract_sql(reply) == "SELECT 2"
    assert extract_sql("```\nselect x from t\n```") == "select x from t"
    assert extract_sql("```python\nprint(1)\n```") is None
    assert extract_sql("The answer is 42.") is None


def test_results_compare_as_sets_unless_the_gold_ranks() -> None:
    assert same_result([(1, "a"), (2, "b")], [(2, "b"), (1, "a")])
    assert same_result([(1, "a"), (1, "a")], [(1, "a")])  # BIRD compares sets
    assert not same_result([(1, "a")], [(1, "b")])
    assert not same_result([(2, "b"), (1, "a")], [(1, "a"), (2, "b")], ordered=True)
    assert same_result([(0.1 + 0.2,)], [(0.3,)]) and same_result([(2,)], [(2.0,)])
    assert not same_result([(12.6,)], [(12.64,)])
    assert gold_orders("SELECT a FROM t ORDER BY a DESC LIMIT 3")
    assert not gold_orders("SELECT a FROM (SELECT a FROM t ORDER BY a) GROUP BY a")


def test_the_sanity_check_names_what_is_implausible() -> None:
    def result(columns: list[str], rows: list[tuple[object, ...]]) -> SqlResult:
        return SqlResult(columns=columns, rows=rows)  # type: ignore[arg-type]

    assert sanity_issues(result(["n"], [(3,)])) == []
    assert sanity_issues(result(["n"], [])) == ["the query returned no rows"]
    assert sanity_issues(result(["avg_delay"], [(None,)])) == ["NULL values in avg_delay"]
    assert sanity_issues(result(["x"], [(3e14,)])) == ["implausible magnitudes in x"]
    assert sanity_issues(result(["flight_count"], [(-4,)])) == ["negative counts in flight_count"]
    assert sanity_issues(result(["delay"], [(-4,)])) == []  # a delay may be negative
