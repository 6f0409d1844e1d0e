from __future__ import annotations
import time
from conftest import Server


def test_smoke(server: Server) -> None:
    key = server.key("member")
    with server.client(key) as c:
        r = c.get("/health")
        print(r.status_code, r.json())
        r = c.post(
            "/v1/runs",
            json={
                "spec": {"model": "sim", "agents": 3, "rounds": 2},
                "task": {"prompt": "What is 2 + 3?", "expected": "5"},
            },
        )
        print(r.status_code, r.json())
        rid = r.json()["id"]
        for _ in range(100):
            g = c.get(f"/v1/runs/{rid}").json()
            if g["status"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        print(g)
        with c.stream("GET", f"/v1/runs/{rid}/events") as s:
            print(s.headers)
            lines = [l for l in s.iter_lines()]
        print(lines[:6], lines[-4:])
