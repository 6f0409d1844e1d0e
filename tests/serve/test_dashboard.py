"""``GET /v1/costs`` and the cost dashboard, on timelines recorded by real simulated runs.

The router is tested on its own here, in ONE fixture (``app``): the dashboard's router, a
``require`` that checks fixed bearer keys, and ``/v1/runs`` and ``/v1/runs/{id}/timeline`` read
from the recorded timelines — the shapes the HTTP front answers with — so that every figure can be
set up exactly (budgets, sessions, keys). ``test_dashboard_live.py`` opens the page on the HTTP
front itself, with its real keys and runs. The browser test opens ``/dashboard`` in
Debian's chromium (driven by Playwright, never a downloaded browser) and compares what it shows
with what the API says.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import ekklesia as ek
from conftest import CHROMIUM, CHROMIUM_ARGS
from ekklesia.cli import app as cli
from ekklesia.cli.costs import money
from ekklesia.runtime.costs import GROUPS, CostRecords
from ekklesia.serve.dashboard import make_router

KEYS = {
    "ek_viewer": {"costs:read", "dashboard:read", "runs:read"},
    "ek_runs_only": {"runs:read"},
}
VIEWER = {"Authorization": "Bearer ek_viewer"}
SCREENSHOT = Path(__file__).parents[2] / "docs" / "dashboard.png"


def test_require(permission: str) -> Callable[..., str]:
    """The bearer key (or ``?key=`` for the page itself) must be known and hold ``permission``."""

    def dependency(request: Request, response: Response) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" and request.url.path == "/dashboard":
            token = request.query_params.get("key", "")
        if token not in KEYS:
            raise HTTPException(401, "a valid API key is required", {"WWW-Authenticate": "Bearer"})
        if permission not in KEYS[token]:
            raise HTTPException(403, f"the key lacks the permission {permission!r}")
        response.headers["x-ratelimit-remaining-requests"] = "3"  # as the front's quotas say
        return token

    return dependency


test_require.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def runs_routes(api: FastAPI) -> None:
    """``/v1/runs`` (newest first, paged, ``?status=``) and a run's timeline, from disk."""
    reading = [Depends(test_require("runs:read"))]
    http_status = {"finished": "succeeded", "died": "failed"}

    @api.get("/v1/runs", dependencies=reading)
    def runs(
        status: str | None = None,
        limit: Annotated[int, Query(ge=1)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        items = [
            {
                "id": s.run_id,
                "run_id": s.run_id,
                "status": http_status.get(s.status, s.status),
                "created": s.started,
            }
            for s in ek.Timeline.summaries()
        ]
        items = [i for i in items if status in (None, i["status"])]
        page = items[offset : offset + limit]
        return {"runs": page, "total": len(items), "limit": limit, "offset": offset}

    @api.get("/v1/runs/{run_id}/timeline", dependencies=reading)
    def timeline(run_id: str) -> dict[str, Any]:
        events = [e.model_dump(mode="json") for e in ek.Timeline.load(run_id)]
        return {"id": run_id, "run_id": run_id, "events": events}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, ray_session: None) -> Path:
    """Two sessions of real simulated runs under two keys, each run stopped by its budget."""
    home = tmp_path_factory.mktemp("dashboard-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKKLESIA_HOME", str(home))
        model = ek.SimulatedModel(skill=0.7)
        agents = [ek.Agent(f"a{i}", model=model) for i in range(2)]
        problems = ek.tasks.arithmetic(n=3, seed=4)
        budget = ek.Budget(max_usd=0.0008)  # room for two rounds of three
        swarm = ek.Swarm(
            agents, rounds=3, seed=1, placement="single", budget=budget, stop_on_consensus=False
        )
        with swarm:
            with ek.session(command="POST /v1/runs", key="key-alice"):
                swarm.run_many(problems[:2])
            with ek.session(command="POST /v1/runs", key="key-bob"):
                swarm.run(problems[2])
    return home


@pytest.fixture
def app(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The dashboard's router over the recorded runs, with test keys."""
    monkeypatch.setenv("EKKLESIA_HOME", str(recorded))
    api = FastAPI()
    api.include_router(make_router(test_require))
    runs_routes(api)
    return api


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def test_costs_are_the_figures_of_the_cost_report(client: TestClient) -> None:
    for group in GROUPS:
        answer = client.get("/v1/costs", params={"group_by": group}, headers=VIEWER)
        assert answer.status_code == 200, answer.text
        assert answer.json() == CostRecords.load().report(group).as_json()
    by_model = client.get("/v1/costs", headers=VIEWER).json()
    assert by_model["group_by"] == "model" and by_model["total"]["calls"] > 0
    printed = CliRunner().invoke(cli, ["cost", "report", "--by", "model", "--format", "json"])
    assert json.loads(printed.stdout) == by_model
    sessions = client.get("/v1/costs?group_by=session", headers=VIEWER).json()["rows"]
    assert [s["runs"] for s in sessions] == [1, 2]  # newest first
    keys = client.get("/v1/costs?group_by=key", headers=VIEWER).json()["rows"]
    assert {k["key"] for k in keys} == {"key-alice", "key-bob"}
    runs = client.get("/v1/costs?group_by=run", headers=VIEWER).json()["rows"]
    assert runs[0]["stop_reason"] == "budget" and runs[0]["max_usd"] == 0.0008
    one = client.get("/v1/costs", params={"run": runs[1]["run_id"]}, headers=VIEWER).json()
    assert one["total"]["usd"] == pytest.approx(runs[1]["usd"])
    later = client.get("/v1/costs", params={"since": "2999-01-01"}, headers=VIEWER).json()
    assert later["total"]["calls"] == 0 and later["rows"] == []


def test_costs_as_csv(client: TestClient) -> None:
    answer = client.get("/v1/costs?group_by=agent&format=csv", headers=VIEWER)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    expected = client.get("/v1/costs?group_by=agent", headers=VIEWER).json()["rows"]
    assert [(r["agent"], float(r["usd"])) for r in rows] == [
        (r["agent"], r["usd"]) for r in expected
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=colour", "group_by"),
        ("since=last%20tuesday", "since"),
        ("format=xml", "format"),
        ("limit=0", "limit"),
    ],
)
def test_a_bad_value_is_a_422_naming_the_field(client: TestClient, query: str, field: str) -> None:
    answer = client.get(f"/v1/costs?{query}", headers=VIEWER)
    assert answer.status_code == 422
    assert [d["loc"] for d in answer.json()["detail"]] == [["query", field]]


def test_keys_and_permissions(client: TestClient) -> None:
    assert client.get("/v1/costs").status_code == 401
    assert client.get("/dashboard").status_code == 401
    runs_only = {"Authorization": "Bearer ek_runs_only"}
    assert client.get("/v1/costs", headers=runs_only).status_code == 403
    assert client.get("/dashboard", headers=runs_only).status_code == 403
    assert client.get("/v1/costs?run=no-such-run", headers=VIEWER).status_code == 404


def test_the_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/dashboard", headers=VIEWER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script>" in html and "<style>" in html
    for external in ('src="http', "src='http", 'href="http', "@import", "url(http", "//cdn"):
        assert external not in html
    assert "http://" not in html.replace('"http://www.w3.org/2000/svg"', "")


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, in a thread, for the browser."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_dashboard_in_chromium(served: str, client: TestClient, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    by_model = client.get("/v1/costs", headers=VIEWER).json()
    by_pattern = client.get("/v1/costs?group_by=pattern", headers=VIEWER).json()
    sessions = client.get("/v1/costs?group_by=session", headers=VIEWER).json()["rows"]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(served) else None,
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{served}/dashboard?key=ek_viewer")  # the page itself needs the key
            page.evaluate("sessionStorage.clear()")
            page.fill("#key", "ek_viewer")  # entered by hand, as a person would
            page.click("#use-key")
            try:
                page.wait_for_function(
                    "document.querySelector('#state').textContent.startsWith('updated')"
                )
            except Exception:
                raise AssertionError(f"{page.text_content('#state')} {errors}") from None
            assert page.evaluate("sessionStorage.getItem('ekklesia-key')") == "ek_viewer"

            total = by_model["total"]
            assert page.text_content("#total-usd") == money(total["usd"])
            assert page.text_content("#total-calls") == f"{total['calls']:,}"
            tokens = total["input_tokens"] + total["output_tokens"]
            assert page.text_content("#total-tokens") == f"{tokens:,}"
            for data, table in ((by_model, "#by-model"), (by_pattern, "#by-pattern")):
                field = data["group_by"]
                shown = page.eval_on_selector_all(
                    f"{table} tr[data-key]",
                    "rows => rows.map(r => [r.dataset.key, r.querySelector('.usd').textContent])",
                )
                assert shown == [[r[field], money(r["usd"])] for r in data["rows"]]
            alerts = page.text_content("#alerts") or ""
            assert "stopped by its budget" in alerts and "quota nearly used: requests" in alerts
            assert page.text_content("#quota") == "quota left: requests 3"

            # drill down: the older session, its two runs, one run's transcript
            page.click(f"#sessions tr[data-session='{sessions[1]['session']}']")
            page.wait_for_function(
                "document.querySelector('#scope').textContent.includes('session')"
            )
            page.wait_for_function("document.querySelectorAll('#runs tr[data-run]').length === 2")
            assert page.text_content("#total-usd") == money(sessions[1]["usd"])
            run_id = page.get_attribute("#runs tr[data-run]", "data-run-id")
            page.click("#runs tr[data-run]")
            page.wait_for_function(
                "document.querySelector('#transcript').textContent.includes('answer')"
            )
            transcript = page.text_content("#transcript") or ""
            assert "round 1" in transcript and "a0:" in transcript
            recorded = ek.Timeline.load(str(run_id)).finished
            assert recorded is not None and f"answer {recorded.answer}" in transcript

            with page.expect_download() as download:
                page.click("#export-csv")
            saved = tmp_path / "costs.csv"
            download.value.save_as(saved)
            assert saved.read_text() == client.get("/v1/costs?format=csv", headers=VIEWER).text
            assert outside == []
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            if not SCREENSHOT.exists():  # the README's picture, made once
                page.screenshot(path=str(SCREENSHOT), full_page=False)
        finally:
            browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
