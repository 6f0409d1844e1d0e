"""The pattern learner over HTTP: what a learner in the server's home learned, and its report."""

from __future__ import annotations

import pytest

import ekklesia as ek
from conftest import Server


def test_a_learners_estimates_and_report(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = server.key("viewer")
    with server.client(viewer) as http:
        assert http.get("/v1/learners").json() == {"learners": []}
        assert http.get("/v1/learners/default/report").status_code == 404
    monkeypatch.setenv("EKKLESIA_HOME", str(server.home))  # a learner run where the server reads
    strategies = ek.learn.load_strategies(
        {
            "strategies": [
                {"name": "solo", "agents": 1, "rounds": 1, "graph": "independent"},
                {"name": "pair", "agents": 2, "rounds": 1},
            ]
        }
    )
    learned = ek.learn.learn(strategies, suite="arithmetic", runs=3, name="http")
    with server.client(viewer) as http:
        (listed,) = http.get("/v1/learners").json()["learners"]
        assert listed["name"] == "http" and listed["best"] == learned["best"]
        assert listed["estimates"] == learned["estimates"]
        report = http.get("/v1/learners/http/report")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "<svg" in report.text
    with server.client() as anonymous:
        assert anonymous.get("/v1/learners").status_code == 401
