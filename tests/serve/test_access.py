"""Access: keys checked before the body is read, roles, deny by default, size limit, expiry,
rotation, quotas held by reservation, and the audit log — on the live application."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import Depends
from typer.testing import CliRunner

from conftest import Server
from ekklesia.cli import app as cli
from ekklesia.serve.access import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    check_routes,
    permission_of,
    require,
    walk_routes,
)
from ekklesia.serve.api import Backends, build_api

TASK = {"prompt": "What is 1 + 1?", "expected": "2"}
SPEC = {"model": "sim", "agents": 1, "rounds": 1, "placement": "single"}


def test_every_route_declares_a_permission_and_one_without_is_refused() -> None:
    api = build_api(Backends(None, None, None))
    routes = walk_routes(list(api.routes))
    assert len(routes) >= 20
    for route in routes:
        found = permission_of(route)
        assert found in (*PERMISSIONS, "public"), route.path
        assert found != "public" or route.path == "/health"
    api.get("/v1/forgotten")(lambda: {"open": True})
    with pytest.raises(ValueError, match="/v1/forgotten declares no permission"):
        check_routes(list(api.routes))
    api2 = build_api(Backends(None, None, None))
    api2.get("/v1/wrongly-public", dependencies=[Depends(require("runs:read"))])(lambda: 1)
    check_routes(list(api2.routes))  # a declared permission is enough


def test_roles_nest() -> None:
    assert ROLE_PERMISSIONS["viewer"] < ROLE_PERMISSIONS["member"] < ROLE_PERMISSIONS["admin"]
    # the owner has every permission; what only it may do is manage owner keys (tested below)
    assert ROLE_PERMISSIONS["admin"] <= ROLE_PERMISSIONS["owner"] == frozenset(PERMISSIONS)
    assert "runs:write" not in ROLE_PERMISSIONS["viewer"]
    assert "index" not in ROLE_PERMISSIONS["member"]


def test_no_key_is_a_401_before_the_body_is_read(server: Server) -> None:
    url = urlparse(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        # a body announced as 100 MB and never sent: the answer cannot wait for it
        sock.sendall(
            b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        head = sock.recv(4096).decode()
    assert head.startswith("HTTP/1.1 401"), head
    with server.client() as anonymous:
        for method, path in [("GET", "/v1/runs"), ("POST", "/v1/embeddings"), ("GET", "/config")]:
            answer = anonymous.request(method, path, json={})
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == "Bearer"
        assert anonymous.get("/health").status_code in (200, 503)  # the one open route
    with server.client("ek_nope_nope") as forged:
        assert forged.get("/v1/runs").status_code == 401


def test_roles_are_enforced_with_403(server: Server) -> None:
    with server.client(server.key("viewer")) as viewer:
        assert viewer.get("/v1/runs").status_code == 200
        assert viewer.post("/v1/embeddings", json={"input": "x"}).status_code == 403
        assert viewer.post("/v1/memory/default/entries", json={"text": "x"}).status_code == 403
        assert viewer.get("/v1/keys").status_code == 403
    with server.client(server.key("member")) as member:
        answer = member.post("/v1/index", json={"path": str(server.home)})
        assert answer.status_code == 403 and "index" in answer.json()["detail"]
    owner_key = server.keys.create("owner").id
    with server.client(server.key("admin")) as admin:
        made = admin.post("/v1/keys", json={"role": "member", "name": "made-by-admin"})
        assert made.status_code == 201 and set(made.json()) == {"id", "key", "role"}
        assert admin.post("/v1/keys", json={"role": "owner"}).status_code == 403
        assert admin.post(f"/v1/keys/{owner_key}/revoke").status_code == 403
        listed = admin.get("/v1/keys").json()["keys"]
        assert "made-by-admin" in [k["name"] for k in listed]
        assert "hash" not in json.dumps(listed)
    with server.client(made.json()["key"]) as fresh:
        assert fresh.get("/v1/runs").status_code == 200


def test_a_body_over_the_limit_is_a_413(server: Server) -> None:
    with server.client(server.key()) as client:
        big = {"input": "x" * (70 * 1024)}
        assert client.post("/v1/embeddings", json=big).status_code == 413


def test_expired_revoked_and_rotated_keys(server: Server) -> None:
    short = server.keys.create("member", expires_in_s=1.0)
    with server.client(short.key) as client:
        assert client.get("/v1/runs").status_code == 200
        time.sleep(1.2)
        assert client.get("/v1/runs").status_code == 401
    made = server.keys.create("member")
    rotated = server.keys.rotate(made.id, grace_s=60)
    with server.client(made.key) as old, server.client(rotated.key) as new:
        assert old.get("/v1/runs").status_code == 200  # within its grace period
        assert new.get("/v1/runs").status_code == 200
        server.keys.rotate(made.id)  # no grace: both secrets so far stop working
        assert old.get("/v1/runs").status_code == 401
        assert new.get("/v1/runs").status_code == 401
    revoked = server.keys.create("member")
    server.keys.revoke(revoked.id)
    with server.client(revoked.key) as client:
        assert client.get("/v1/runs").status_code == 401


def test_requests_per_minute_are_refused_with_429_retry_after_and_what_is_left(
    server: Server,
) -> None:
    with server.client(server.key("viewer", rpm=3)) as client:
        answers = [client.get("/v1/patterns") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["x-ratelimit-remaining-requests"] == "2"
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


async def _embed_many(url: str, key: str, clients: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        texts = [f"text number {i} with a few more words in it" for i in range(4)]
        return await asyncio.gather(
            *(client.post("/v1/embeddings", json={"input": texts}) for _ in range(clients))
        )


def test_concurrent_requests_cannot_overshoot_a_token_quota(server: Server) -> None:
    limit = 300
    key = server.keys.create("member", tokens_per_hour=limit)
    answers = asyncio.run(_embed_many(server.url, key.key, 24))
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert ok and refused and len(ok) + len(refused) == len(answers)
    spent = sum(a.json()["usage"]["total_tokens"] for a in ok)
    assert spent <= limit
    assert all("retry-after" in a.headers for a in refused)
    assert all(int(a.headers["x-ratelimit-remaining-tokens"]) < 200 for a in refused)


def test_state_changing_requests_are_audited_without_the_secret(server: Server) -> None:
    made = server.keys.create("member", name="auditor")
    with server.client(made.key) as client:
        client.post("/v1/memory/default/entries", json={"text": "audited note"})
        client.post("/v1/index", json={"path": "/"})  # refused: 403
    with server.client() as anonymous:
        anonymous.post("/v1/runs", json={})
    text = (server.home / "audit.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    mine = [r for r in records if r["key_id"] == made.id]
    assert {(r["method"], r["route"], r["status"]) for r in mine} >= {
        ("POST", "/v1/memory/{name}/entries", 201),
        ("POST", "/v1/index", 403),
    }
    assert all(r["key_name"] == "auditor" for r in mine)
    assert any(r["key_id"] is None and r["status"] == 401 for r in records)
    assert made.key not in text and made.key.split("_")[2] not in text


def test_keys_and_audit_commands(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EKKLESIA_HOME", str(server.home))
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--role", "viewer", "--name", "cli", "--json"])
    assert made.exit_code == 0, made.output
    secret = json.loads(made.output)
    assert set(secret) == {"id", "key", "role"} and secret["role"] == "viewer"
    with server.client(secret["key"]) as client:  # the server reads the same store
        assert client.get("/v1/runs").status_code == 200
        listed = runner.invoke(cli, ["keys", "list", "--json"])
        assert secret["id"] in listed.output and secret["key"] not in listed.output
        rotated = runner.invoke(cli, ["keys", "rotate", secret["id"], "--json"])
        assert rotated.exit_code == 0
        assert client.get("/v1/runs").status_code == 401
        with server.client(json.loads(rotated.output)["key"]) as again:
            assert again.get("/v1/runs").status_code == 200
            assert runner.invoke(cli, ["keys", "revoke", secret["id"]]).exit_code == 0
            assert again.get("/v1/runs").status_code == 401
    wrong = runner.invoke(cli, ["keys", "create", "--role", "god"])
    assert wrong.exit_code == 2 and "--role" in wrong.output
    audit = runner.invoke(cli, ["audit", "--json"])
    assert audit.exit_code == 0 and '"method"' in audit.output
