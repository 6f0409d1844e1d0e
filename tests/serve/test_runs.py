"""Runs over HTTP: accepted at once, followed live as Server-Sent Events, resumed, cancelled."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from conftest import Server

SPEC = {"model": "sim", "agents": 3, "rounds": 2, "placement": "single", "seed": 1}
TASK = {"prompt": "What is 17 + 25?", "expected": "42"}


def start(client: httpx.Client, spec: dict[str, Any] = SPEC, **body: Any) -> str:
    answer = client.post("/v1/runs", json={"spec": spec, "task": TASK, **body})
    assert answer.status_code == 202, answer.text
    assert set(answer.json()) >= {"id", "status"} and answer.json()["status"] == "queued"
    return str(answer.json()["id"])


def wait(client: httpx.Client, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end in {timeout_s}s")


def read_sse(
    response: httpx.Response, stop_after: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The events of an SSE stream (``id`` and parsed ``data``), and how many comments came."""
    events: list[dict[str, Any]] = []
    comments = 0
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            comments += 1
        elif line.startswith("id:"):
            current["id"] = int(line[3:].strip())
        elif line.startswith("data:"):
            current["data"] = json.loads(line[5:].strip())
        elif line == "" and current:
            events.append(current)
            current = {}
            if stop_after is not None and len(events) >= stop_after:
                break
    return events, comments


def test_a_run_is_accepted_at_once_and_its_result_is_what_ekklesia_run_json_gives(
    server: Server,
) -> None:
    with server.client(server.key("member")) as client:
        run_id = start(client)
        run = wait(client, run_id)
        assert run["id"] == run_id and run["status"] == "succeeded"
        result = run["result"]
        assert set(result) == {
            "task_id",
            "run_id",
            "answer",
            "expected",
            "correct",
            "score",
            "stop_reason",
            "rounds",
        }
        assert result["expected"] == "42" and result["correct"] == (result["answer"] == "42")

        # the whole stream replays for a finished run: ids are the sequence numbers, in order,
        # every data is an event with its kind, and the last is run_finished
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["x-accel-buffering"] == "no"
            events, _ = read_sse(stream)
        assert [e["id"] for e in events] == list(range(len(events)))
        assert all(e["data"]["seq"] == e["id"] and "kind" in e["data"] for e in events)
        assert events[0]["data"]["kind"] == "run_started"
        assert events[-1]["data"]["kind"] == "run_finished"
        assert events[-1]["data"]["answer"] == result["answer"]

        # the timeline as JSON holds the same events
        timeline = client.get(f"/v1/runs/{run_id}/timeline").json()
        assert [e["seq"] for e in timeline["events"]] == [e["id"] for e in events]
        assert timeline["run_id"] == result["run_id"]

        # a reconnect with Last-Event-ID gets exactly the events it missed, none twice
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            first, _ = read_sse(stream, stop_after=4)
        with client.stream(
            "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(first[-1]["id"])}
        ) as stream:
            rest, _ = read_sse(stream)
        assert [e["id"] for e in first + rest] == [e["id"] for e in events]

        # the same seed, spec and task: the same run (the kernel is deterministic)
        again = wait(client, start(client))["result"]
        assert {k: v for k, v in again.items() if k != "run_id"} == {
            k: v for k, v in result.items() if k != "run_id"
        }

        assert client.get("/v1/runs/no-such-run").status_code == 404
        assert client.get("/v1/runs/no-such-run/events").status_code == 404
        bad = client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 422


def test_a_live_stream_keeps_alive_in_silences_and_resumes_mid_run(server: Server) -> None:
    slow = {**SPEC, "model": "sim:latency=0.6", "rounds": 3, "stop_on_consensus": False}
    with server.client(server.key("member")) as client:
        run_id = start(client, slow)
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            first, _ = read_sse(stream, stop_after=3)
        with client.stream(
            "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(first[-1]["id"])}
        ) as stream:
            rest, comments = read_sse(stream)
        ids = [e["id"] for e in first + rest]
        assert ids == list(range(len(ids)))
        assert rest[-1]["data"]["kind"] == "run_finished"
        assert comments >= 1  # keep-alive comments while the simulated models "think"
        assert wait(client, run_id)["status"] == "succeeded"


def test_a_cancelled_run_ends_cleanly_with_run_cancelled(server: Server) -> None:
    slow = {**SPEC, "model": "sim:latency=2", "rounds": 10, "stop_on_consensus": False}
    with server.client(server.key("member")) as client:
        run_id = start(client, slow)
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            read_sse(stream, stop_after=1)  # it is running
        answer = client.post(f"/v1/runs/{run_id}/cancel")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
        assert wait(client, run_id)["status"] == "cancelled"
        with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            events, _ = read_sse(stream)
        assert events[-1]["data"]["kind"] == "run_cancelled"

        listed = client.get("/v1/runs", params={"status": "cancelled"}).json()
        assert run_id in [r["id"] for r in listed["runs"]]
        assert all(r["status"] == "cancelled" for r in listed["runs"])


def test_runs_are_listed_newest_first_a_page_at_a_time(server: Server) -> None:
    with server.client(server.key("viewer")) as viewer, server.client(server.key()) as member:
        body = {"spec": SPEC, "suite": "arithmetic", "count": 2}
        answer = member.post("/v1/runs", json=body)
        assert answer.status_code == 202
        made = [r["id"] for r in answer.json()["runs"]]
        assert len(made) == 2 and answer.json()["id"] == made[0]
        for run_id in made:
            wait(member, run_id)
        everything = viewer.get("/v1/runs", params={"limit": 500}).json()
        created = [r["created"] for r in everything["runs"]]
        assert created == sorted(created, reverse=True)
        page = viewer.get("/v1/runs", params={"limit": 1, "offset": 1}).json()
        assert page["runs"] == everything["runs"][1:2] and page["total"] == everything["total"]
        assert viewer.get("/v1/runs", params={"status": "nonsense"}).status_code == 422
        # a viewer reads runs but may not start one
        assert viewer.post("/v1/runs", json={"spec": SPEC, "task": TASK}).status_code == 403

        patterns = viewer.get("/v1/patterns").json()["patterns"]
        assert "debate" in [p["name"] for p in patterns]


def test_a_spec_that_cannot_run_is_a_422_naming_the_field(server: Server) -> None:
    with server.client(server.key()) as client:
        wrong = client.post("/v1/runs", json={"spec": {**SPEC, "rounds": 0}, "task": TASK})
        assert wrong.status_code == 422
        assert "rounds" in json.dumps(wrong.json())
        unknown = client.post("/v1/runs", json={"spec": {**SPEC, "pattern": "nope"}, "task": TASK})
        assert unknown.status_code == 422 and "nope" in unknown.text
        neither = client.post("/v1/runs", json={"spec": SPEC})
        assert neither.status_code == 422
        no_prompt = client.post("/v1/runs", json={"spec": SPEC, "task": {"expected": "1"}})
        assert no_prompt.status_code == 422 and "prompt" in no_prompt.text
