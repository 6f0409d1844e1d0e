from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

import ekklesia as ek
from ekklesia.core.events import (
    EVENT_ADAPTER,
    AgentFailed,
    Aggregated,
    CallRefused,
    HostRestarted,
    MemoryOp,
    MessageSent,
    ModelCalled,
    RoundStarted,
    RunErrored,
    RunFinished,
    RunStarted,
    RunStopped,
    Usage,
    VoteCast,
)
from ekklesia.core.messages import MESSAGE_ADAPTER, AgentMessage, TaskMessage


def sample_events() -> list[object]:
    msg = AgentMessage(
        run_id="r", round=0, sender="a", recipients=("b",), content="Answer: 3", answer="3"
    )
    return [
        RunStarted(spec={"rounds": 1}, task={"id": "t"}, placement={"host-a": ["a"]}),
        MessageSent(
            message=TaskMessage(
                run_id="r",
                round=0,
                sender="environment",
                recipients=("a",),
                content="1+2?",
                task_id="t",
            )
        ),
        RoundStarted(agents=("a", "b")),
        ModelCalled(
            agent="a",
            call_index=0,
            request_digest="d",
            response=ek.LLMResponse(
                text="Answer: 3", input_tokens=5, output_tokens=2, cost_usd=0.001, model="sim"
            ),
        ),
        CallRefused(agent="b", reason="budget"),
        MemoryOp(agent="a", op="recall", scope="run", detail={"hits": 2}),
        MessageSent(message=msg),
        AgentFailed(agent="b", error="boom"),
        HostRestarted(host="host-b", agents=("b",), error="ActorDiedError"),
        VoteCast(agent="a", answer="3", weight=1.0),
        Aggregated(method="majority", answer="3", tally={"3": 1.0}),
        RunStopped(reason="max_rounds", rounds_completed=1),
        RunFinished(
            answer="3",
            expected="3",
            correct=True,
            stop_reason="max_rounds",
            rounds=1,
            usage=Usage(input_tokens=5),
        ),
        RunErrored(error="none really"),
    ]


def test_every_event_kind_round_trips_through_parquet(tmp_path: Path) -> None:
    timeline = ek.Timeline("run-1")
    for event in sample_events():
        timeline.append(event)
    assert [e.seq for e in timeline] == list(range(len(timeline)))
    path = timeline.write(tmp_path)
    back = ek.Timeline.read(path)
    assert back.events == timeline.events
    table = pq.read_table(path)
    assert table.column("kind").to_pylist()[3] == "model_call"
    assert table.column("cost_usd").to_pylist()[3] == pytest.approx(0.001)
    assert back.usage().input_tokens == 5


def test_messages_round_trip_through_one_adapter() -> None:
    for message in (
        TaskMessage(run_id="r", round=0, sender="env", recipients=("a",), content="q", task_id="t"),
        AgentMessage(
            run_id="r",
            round=1,
            sender="a",
            recipients=(),
            content="c",
            answer="1",
            confidence=0.5,
            trace={"traceparent": "x"},
        ),
    ):
        assert MESSAGE_ADAPTER.validate_json(MESSAGE_ADAPTER.dump_json(message)) == message
    with pytest.raises(ValidationError):
        MESSAGE_ADAPTER.validate_python({"kind": "gossip", "run_id": "r"})
    assert (
        EVENT_ADAPTER.validate_json(RoundStarted(agents=("a",)).model_dump_json()).kind
        == "round_started"
    )


def test_fingerprint_ignores_wall_clock_placement_and_restarts() -> None:
    a, b = ek.Timeline("one"), ek.Timeline("two")
    for event in sample_events():
        a.append(event)
        if not isinstance(event, HostRestarted):
            b.append(
                event.model_copy(update={"placement": {"host-0": ["a"]}})
                if isinstance(event, RunStarted)
                else event
            )
    assert a.fingerprint() == b.fingerprint()
    b.events[3] = b.events[3].model_copy(update={"agent": "z"})
    assert a.fingerprint() != b.fingerprint()


def test_loading_unknown_or_bad_run_ids(ekklesia_home: Path) -> None:
    with pytest.raises(ek.TimelineNotFound, match="no timeline recorded"):
        ek.Timeline.load("20990101-000000-deadbeef")
    with pytest.raises(ek.TimelineNotFound, match="not a run id"):
        ek.Timeline.load("../etc/passwd")
    bad = ekklesia_home / "timelines"
    bad.mkdir(parents=True)
    (bad / "broken.parquet").write_text("not parquet")
    with pytest.raises(ek.UserError, match="not a readable timeline"):
        ek.Timeline.load("broken")
    assert ek.Timeline.list_runs() == ["broken"]
