"""GET /health (layered, open) and GET /config (what a client needs to know)."""

from __future__ import annotations

import asyncio

from conftest import Server
from ekklesia.serve.health import check_health


def test_health_is_layered_with_a_score_and_needs_no_key(server: Server) -> None:
    with server.client() as client:
        answer = client.get("/health")
    report = answer.json()
    assert answer.status_code == 200, report
    names = [c["name"] for c in report["checks"]]
    for part in ("ray", "deployment:runs", "deployment:embeddings", "deployment:memory", "disk"):
        assert part in names
    assert "memory" in names and any(n.startswith("model:") for n in names)
    assert all(c["status"] in ("ok", "warn", "down") for c in report["checks"])
    assert 0 < report["score"] <= 1 and report["status"] in ("ok", "warn")


def test_a_required_part_down_makes_the_report_down() -> None:
    async def broken() -> None:
        raise ConnectionError("gone")

    async def fine() -> str:
        return "ok"

    report = asyncio.run(
        check_health(
            {"runs": broken(), "memory": fine()}, {"http://127.0.0.1:9/v1": "http://127.0.0.1:9/v1"}
        )
    )
    checks = {c.name: c for c in report.checks}
    assert checks["deployment:runs"].status == "down" and checks["deployment:memory"].status == "ok"
    assert checks["model:http://127.0.0.1:9/v1"].status == "warn"  # not reachable, not required
    assert report.status == "down" and report.score < 1


def test_config_tells_a_client_what_the_server_offers(server: Server) -> None:
    with server.client(server.key("viewer")) as client:
        config = client.get("/config").json()
        schema = client.get("/openapi.json").json()
    assert config["version"] and "/v1/runs" in config["routes"] and "/health" in config["routes"]
    assert config["models"]["embeddings"] == ["all-MiniLM-L6-v2"]
    assert config["limits"]["max_body_bytes"] == 64 * 1024
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert operation["security"] == ([] if path == "/health" else [{"bearer": []}])
            documented = operation["responses"]
            assert path == "/health" or {"401", "403", "429"} <= set(documented), path
            assert (
                any(
                    "example" in body or "examples" in body
                    for r in documented.values()
                    for body in r.get("content", {}).values()
                )
                or path == "/health"
            ), path
