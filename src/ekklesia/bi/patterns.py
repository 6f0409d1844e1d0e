"""The BI patterns: a question answered from data by an analyst, checked before it is answered.

================== ======================================================= ====================
pattern            stages (who hears whom)                                 score
================== ======================================================= ====================
bi_analysis        analyze (hears review) → review (hears analyze);        execution accuracy
                   gate "result checked": the analyst's rows pass the
                   sanity check and the reviewer approves; revises both
bi_analysis_solo   analyze; gate "result is sane": the rows pass the       execution accuracy
                   sanity check (no rows, NULLs, implausible magnitudes,
                   an error or no SQL at all send the analyst back)
================== ======================================================= ====================

The final answer is the analyst's last message (aggregation ``last``): its query, its rows, the
check. The scorer reads the query out of it, runs it and the gold query read-only, and compares
the results as BIRD does (:func:`~ekklesia.bi.results.same_result`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.bi.results import extract_sql, gold_orders, same_result
from ekklesia.bi.team import Analyst, Reviewer
from ekklesia.core.task import Task
from ekklesia.errors import UserError
from ekklesia.patterns.agent_spec import AgentSpec
from ekklesia.patterns.library import register_pattern
from ekklesia.patterns.pattern import Gate, Pattern, RoundView, Stage
from ekklesia.tools.sql import query

__all__ = ["BI_PATTERNS", "BiOptions", "execution_accuracy"]

_ANALYST_CLASS = f"{Analyst.__module__}:{Analyst.__qualname__}"


class BiOptions(BaseModel):
    """What a BI pattern lets a run change: how many revisions its gate allows."""

    model_config = ConfigDict(extra="forbid")

    max_revisions: int = Field(default=2, ge=0)


def _analyst_ok(view: RoundView) -> bool:
    return view.answers("bi_analyst") == ["ok"]


def _checked(view: RoundView) -> bool:
    return _analyst_ok(view) and view.answers("bi_reviewer") == ["approve"]


async def execution_accuracy(task: Task, answer: str | None) -> float | None:
    """1.0 when the analyst's final query returns the gold query's result, else 0.0; ``None``
    for a question without gold SQL."""
    gold = task.meta.get("gold_sql")
    database = task.meta.get("database")
    if not isinstance(gold, str) or not isinstance(database, str):
        return None
    sql = extract_sql(answer or "")
    if sql is None:
        return 0.0
    expected = await query(database, gold, max_rows=10_000)
    try:
        got = await query(database, sql, max_rows=10_000)
    except UserError:
        return 0.0
    return float(same_result(got.rows, expected.rows, ordered=gold_orders(gold)))


ANALYST_SPEC = AgentSpec(
    name="analyst", role="bi_analyst", class_=_ANALYST_CLASS, tools=["sql"], max_tokens=1024
)
REVIEWER_SPEC = AgentSpec(
    name="reviewer",
    role="bi_reviewer",
    class_=f"{Reviewer.__module__}:{Reviewer.__qualname__}",
    max_tokens=512,
)


def _pattern(
    name: str, description: str, stages: tuple[Stage, ...], gate: Gate, team: tuple[AgentSpec, ...]
) -> Pattern:
    return Pattern(
        name=name,
        description=description,
        stages=stages,
        roles=tuple(dict.fromkeys(r for s in stages for r in s.roles or ())),
        gates=(gate,),
        stop_rules=(),
        voters="analyze",
        aggregations=("last",),
        aggregate="last",
        options=BiOptions,
        scorer=execution_accuracy,
        suite="nycflights13",
        team=team,
    )


BI_PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        _pattern(
            "bi_analysis",
            "Answer a business question from data: the analyst writes and runs SQL, a reviewer "
            "checks the result answers the question; revise until both are satisfied.",
            (
                Stage("analyze", roles=("bi_analyst",), hears=("review",)),
                Stage("review", roles=("bi_reviewer",), hears=("analyze",)),
            ),
            Gate("result checked", check=_checked, revise=("analyze", "review"), max_revisions=2),
            (ANALYST_SPEC, REVIEWER_SPEC),
        ),
        _pattern(
            "bi_analysis_solo",
            "Answer a business question from data with one analyst; a sanity gate (no rows, "
            "NULLs, implausible magnitudes, errors) sends it back.",
            (Stage("analyze", roles=("bi_analyst",), hears=()),),
            Gate("result is sane", check=_analyst_ok, revise=("analyze",), max_revisions=2),
            (ANALYST_SPEC,),
        ),
    )
}

for _pattern_ in BI_PATTERNS.values():
    register_pattern(_pattern_)
