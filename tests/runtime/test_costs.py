"""Cost totals from timelines: each grouping, the filters, newest first, old files, journals,
and sessions recorded by real simulated runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import ekklesia as ek
from ekklesia.core.events import ModelCalled, RunFinished, RunOrigin, RunStarted, Usage
from ekklesia.core.llm import LLMResponse
from ekklesia.errors import TimelineNotFound, UserError
from ekklesia.runtime.costs import GROUPS, CostRecords, parse_since
from ekklesia.runtime.session import current_origin, session
from ekklesia.runtime.shell import RunRecorder
from ekklesia.runtime.timeline import Timeline, event_columns

DAY = 86_400.0
T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def call(agent: str, model: str, tokens: int, usd: float | None, at: float, **kw: Any) -> Any:
    response = LLMResponse(
        text="x", input_tokens=tokens, output_tokens=tokens // 2, cost_usd=usd, model=model, **kw
    )
    return ModelCalled(agent=agent, call_index=0, request_digest="d", response=response), at


def record(run_id: str, origin: RunOrigin, pattern: str, calls: list[Any]) -> Timeline:
    """A timeline whose events carry the given wall times (as a run's would)."""
    timeline = Timeline(run_id)
    events = [(RunStarted(spec={}, task={}, tags={"pattern": pattern}, origin=origin), calls[0][1])]
    for event, at in [*events, *calls]:
        stamped = timeline.append(event)
        timeline.events[-1] = stamped.model_copy(update={"wall_time": at})
    timeline.write()
    return timeline


@pytest.fixture
def recorded() -> None:
    """Two sessions on two days: s-one (runs r1, r2, key k1), s-two (run r3, key k2)."""
    one, two = RunOrigin(session="s-one", key="k1"), RunOrigin(session="s-two", key="k2")
    record("r1", one, "debate", [call("a", "m1", 100, 0.01, T0), call("b", "m2", 10, None, T0)])
    record("r2", one, "vote", [call("a", "m1", 200, 0.02, T0 + 60)])
    record(
        "r3",
        two,
        "debate",
        [
            call("a", "m2", 40, 0.004, T0 + DAY),
            call("b", "m1", 0, None, T0 + DAY + 30, error="503", finish_reason="error"),
        ],
    )


def totals(records: CostRecords, group: Any) -> dict[str, tuple[int, float]]:
    return {r.key: (r.calls, round(r.usd, 9)) for r in records.report(group).rows}


@pytest.mark.usefixtures("recorded")
def test_every_grouping_adds_up_to_the_same_total() -> None:
    records = CostRecords.load()
    assert records.total().calls == 5 and records.total().usd == pytest.approx(0.034)
    assert (records.total().unpriced_calls, records.total().failed_calls) == (1, 1)
    for group in GROUPS:
        report = records.report(group)
        assert sum(r.usd for r in report.rows) == pytest.approx(0.034)
        assert sum(r.calls for r in report.rows) == 5
    assert totals(records, "model") == {"m1": (3, 0.03), "m2": (2, 0.004)}
    assert totals(records, "session") == {"s-one": (3, 0.03), "s-two": (2, 0.004)}
    assert totals(records, "key") == {"k1": (3, 0.03), "k2": (2, 0.004)}
    assert totals(records, "pattern") == {"debate": (4, 0.014), "vote": (1, 0.02)}
    assert totals(records, "day") == {"2026-05-28": (3, 0.03), "2026-05-29": (2, 0.004)}
    assert totals(records, "agent") == {"a": (3, 0.034), "b": (2, 0.0)}
    by_run = records.report("run")
    assert [(r.key, r.session, r.label) for r in by_run.rows] == [
        ("r3", "s-two", "debate"),
        ("r2", "s-one", "vote"),
        ("r1", "s-one", "debate"),
    ]


@pytest.mark.usefixtures("recorded")
def test_newest_first_with_a_limit_and_the_filters() -> None:
    report = CostRecords.load().report("session", limit=1)
    assert [r.key for r in report.rows] == ["s-two"] and report.more == 1
    assert report.rows[0].runs == 1
    assert totals(CostRecords.load(session="s-one"), "run") == {
        "r1": (2, 0.01),
        "r2": (1, 0.02),
    }
    assert totals(CostRecords.load(runs=["r2", "r3"]), "session") == {
        "s-one": (1, 0.02),
        "s-two": (2, 0.004),
    }
    since = CostRecords.load(since=parse_since("2026-05-29"))
    assert totals(since, "day") == {"2026-05-29": (2, 0.004)}
    late = CostRecords.load(since=parse_since("2026-05-28T20:27:00+00:00"))
    assert totals(late, "run") == {"r2": (1, 0.02), "r3": (2, 0.004)}
    with pytest.raises(UserError, match="since 'tuesday' is not a date"):
        parse_since("tuesday")
    with pytest.raises(TimelineNotFound):
        CostRecords.load(runs=["nope"])


@pytest.mark.usefixtures("recorded")
def test_json_and_csv_carry_the_same_figures() -> None:
    report = CostRecords.load().report("model")
    data = report.as_json()
    assert data["group_by"] == "model" and data["total"]["calls"] == 5
    assert [r["model"] for r in data["rows"]] == ["m1", "m2"]  # m1's last call is the newest
    assert data["rows"][0]["first"] == "2026-05-28T20:26:40Z"
    rows = list(csv.DictReader(io.StringIO(report.as_csv())))
    assert [(r["model"], float(r["usd"]), int(r["calls"])) for r in rows] == [
        (r["model"], r["usd"], r["calls"]) for r in data["rows"]
    ]
    assert "session" in CostRecords.load().report("run").as_csv().splitlines()[0]


def test_a_timeline_without_a_summary_and_a_journal_are_counted(ekklesia_home: Path) -> None:
    old = Timeline("old-run")
    old.append(RunStarted(spec={}, task={}, tags={"pattern": "debate"}))
    old.append(call("a", "m1", 100, 0.5, T0)[0])
    directory = ekklesia_home / "timelines"
    directory.mkdir(parents=True)
    pq.write_table(event_columns(old.events), directory / "old-run.parquet")  # no footer summary
    assert b"ekklesia.summary" not in (pq.read_schema(directory / "old-run.parquet").metadata or {})
    died = Timeline("died-run")
    died.append(RunStarted(spec={}, task={}, origin=RunOrigin(session="s-x")))
    died.append(call("a", "m1", 10, 0.25, T0)[0])
    died.flush()  # a journal, as a run that is killed leaves it
    records = CostRecords.load()
    assert totals(records, "session") == {"old-run": (1, 0.5), "s-x": (1, 0.25)}
    summaries = {s.run_id: s for s in Timeline.summaries()}
    assert summaries["old-run"].session == "old-run" and summaries["old-run"].what == "debate"
    assert summaries["died-run"].status == "died"
    assert Timeline.load("old-run").events == old.events  # and it loads as before


def test_a_summary_is_in_the_footer_of_a_finished_timeline() -> None:
    recorder = RunRecorder("sum-run", origin=RunOrigin(session="s-y", command="ekklesia run"))
    recorder.emit(RunStarted(spec={"budget": {"max_usd": 1.0}}, task={"id": "t1"}))
    recorder.emit(call("a", "m1", 10, 0.25, T0)[0])
    usage = Usage(input_tokens=10, output_tokens=5, usd=0.25, calls=1)
    recorder.emit(
        RunFinished(
            answer="1", expected="1", correct=True, stop_reason="max_rounds", rounds=1, usage=usage
        )
    )
    path = recorder.finish()
    summary = Timeline.read_summary(path)
    assert summary == Timeline.load("sum-run").summary()
    assert (summary.session, summary.command, summary.status) == ("s-y", "ekklesia run", "finished")
    assert (summary.max_usd, summary.usage.usd, summary.task_id) == (1.0, 0.25, "t1")


def test_the_runs_of_one_session_scope_share_its_id_and_compare_equal(ray_session: None) -> None:
    model = ek.SimulatedModel(skill=0.7)
    swarm = ek.Swarm([ek.Agent(f"a{i}", model=model) for i in range(2)], rounds=1, seed=3)
    problems = ek.tasks.arithmetic(n=2, seed=1)
    with swarm:
        with session(command="POST /v1/runs", key="key-1") as origin:
            inside = swarm.run_many(problems)
        outside = swarm.run(problems[0])
    started = [r.timeline.started.origin for r in inside]
    assert started == [origin, origin] and origin.session.startswith("s-")
    assert outside.timeline.started.origin == current_origin() != origin
    # the session is who asked, not what happened: the same run compares equal
    assert inside[0].timeline.fingerprint() == outside.timeline.fingerprint()
    by_session = CostRecords.load(session=origin.session)
    assert by_session.total().usd == pytest.approx(sum(r.usage.usd for r in inside))
    assert [r.key for r in by_session.report("key").rows] == ["key-1"]
