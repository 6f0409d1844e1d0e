"""Memory over HTTP: remember, search (vector, text, hybrid, filters), forget; index jobs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import Server


def test_remember_search_and_forget(server: Server) -> None:
    with server.client(server.key("member")) as client:
        made = []
        for text, kind in [
            ("the deploy window is Tuesday afternoon", "fact"),
            ("lunch is served at noon in the atrium", "note"),
            ("deploys need a green build and a reviewer", "fact"),
        ]:
            answer = client.post("/v1/memory/team/entries", json={"text": text, "kind": kind})
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["id"])
        for mode in ("vector", "text", "hybrid"):
            hits = client.post(
                "/v1/memory/team/search", json={"query": "when do we deploy", "mode": mode, "k": 2}
            ).json()["hits"]
            assert hits and "deploy" in hits[0]["text"], (mode, hits)
        facts = client.post(
            "/v1/memory/team/search",
            json={"query": "lunch", "mode": "text", "k": 5, "where": {"kinds": ["fact"]}},
        ).json()["hits"]
        assert all(h["kind"] == "fact" for h in facts)
        assert client.delete(f"/v1/memory/team/entries/{made[1]}").json()["deleted"] == 1
        assert client.delete(f"/v1/memory/team/entries/{made[1]}").status_code == 404
        left = client.post(
            "/v1/memory/team/search", json={"query": "lunch atrium", "mode": "text", "k": 5}
        ).json()["hits"]
        assert made[1] not in [h["id"] for h in left]
        bad = client.post("/v1/memory/team/search", json={"query": "x", "mode": "fuzzy"})
        assert bad.status_code == 422 and "mode" in bad.text
        assert client.post("/v1/memory/team/entries", json={"text": "   "}).status_code == 422


def test_an_index_job_runs_in_the_background_with_its_progress_as_events(
    server: Server, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ledger.md").write_text("# Ledger\n\nReserve before a call, settle after it.\n")
    (docs / "timeline.md").write_text("# Timeline\n\nEvents are appended and flushed.\n")
    with server.client(server.key("admin")) as client:
        answer = client.post("/v1/index", json={"path": str(docs), "name": "docs"})
        assert answer.status_code == 202
        job_id = answer.json()["id"]
        deadline = time.monotonic() + 120
        while (job := client.get(f"/v1/index/{job_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["status"] == "succeeded", job
        kinds = [e["kind"] for e in job["events"]]
        assert kinds[0] == "index_started" and kinds[-1] == "index_finished"
        assert job["events"][-1]["report"]["files_indexed"] == 2
        with client.stream("GET", f"/v1/index/{job_id}/events") as stream:
            data = [json.loads(x[5:]) for x in stream.iter_lines() if x.startswith("data:")]
        assert [e["kind"] for e in data] == kinds
        hits = client.post(
            "/v1/memory/docs/search",
            params={"store": "index"},
            json={"query": "reserve settle", "mode": "text", "k": 1},
        ).json()["hits"]
        assert hits and "settle" in hits[0]["text"]
        missing = client.post("/v1/index", json={"path": str(tmp_path / "nope"), "name": "x"})
        failed_id = missing.json()["id"]
        while client.get(f"/v1/index/{failed_id}").json()["status"] in ("queued", "running"):
            time.sleep(0.1)
        failed = client.get(f"/v1/index/{failed_id}").json()
        assert failed["status"] == "failed" and failed["events"][-1]["kind"] == "index_error"


def test_only_paths_under_the_index_roots_may_be_indexed(server: Server) -> None:
    with server.client(server.key("admin")) as client:
        answer = client.post("/v1/index", json={"path": "/", "name": "everything"})
        assert answer.status_code == 403 and "index roots" in answer.json()["detail"]
        unknown = client.post("/v1/memory/never-made/search", json={"query": "x"})
        assert unknown.status_code == 404
