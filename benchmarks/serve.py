"""The HTTP front: latency and throughput of accepting runs and of embeddings, batching, SSE delay.

Starts a local Ray (2 CPUs) and the application on 127.0.0.1, as ``ekklesia serve`` does, and
measures from httpx clients on the same machine:

- ``POST /v1/runs`` (the accept only: 202 and an id) and ``POST /v1/embeddings`` (one short text)
  at 1, 10 and 100 concurrent clients: p50 / p95 / p99 latency and requests per second;
- embeddings with ``@serve.batch`` (up to 64 texts a model call) against batches of one, at 64
  clients;
- the time from an event's append by the kernel (its ``wall_time``) to its arrival at an SSE client.

    python benchmarks/serve.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import tempfile
import time
from typing import Any

import httpx

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(
    url: str, key: str, clients: int, requests: int, path: str, body: dict[str, Any]
) -> dict[str, float]:
    """``requests`` POSTs spread over ``clients`` concurrent clients; latencies in ms."""
    latencies: list[float] = []
    todo = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits
    ) as client:

        async def worker() -> None:
            for _ in todo:
                started = time.perf_counter()
                answer = await client.post(path, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code >= 300:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "p50": _pct(latencies, 0.5),
        "p95": _pct(latencies, 0.95),
        "p99": _pct(latencies, 0.99),
        "rps": len(latencies) / wall,
    }


async def _sse_delay(url: str, key: str) -> list[float]:
    """Append-to-arrival delays (ms) of a run's events, followed live."""
    headers = {"Authorization": f"Bearer {key}"}
    spec = {"model": "sim:latency=0.05", "agents": 3, "rounds": 4, "placement": "single"}
    spec["stop_on_consensus"] = False
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        for _ in range(3):
            run = await client.post(
                "/v1/runs", json={"spec": spec, "task": {"prompt": "What is 2 + 3?"}}
            )
            run_id = run.json()["id"]
            while (await client.get(f"/v1/runs/{run_id}")).json()["status"] == "queued":
                await asyncio.sleep(0.01)
            async with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        arrived = time.time()
                        event = json.loads(line[5:])
                        if arrived - event["wall_time"] < 0.5:  # live, not replayed from before
                            delays.append((arrived - event["wall_time"]) * 1000)
    return delays


def _deploy(home: str, port: int, max_batch_size: int) -> None:
    from ray import serve

    from ekklesia.serve.api import Settings
    from ekklesia.serve.application import build_app

    settings = Settings(home=home)
    serve.run(
        build_app(settings, max_batch_size=max_batch_size, max_concurrent_runs=1, cpus=0),
        name="ekklesia",
        route_prefix="/",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per measurement")
    args = parser.parse_args()

    import ray
    from ray import serve

    from ekklesia.serve.keys import KeyStore

    home = tempfile.mkdtemp(prefix="ekklesia-serve-bench-")
    os.environ["EKKLESIA_HOME"] = home
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    _deploy(home, port, 64)
    key = KeyStore().create("owner", name="bench").key
    run_body = {
        "spec": {"model": "sim", "agents": 1, "rounds": 1, "placement": "single"},
        "task": {"prompt": "What is 2 + 3?", "expected": "5"},
    }
    embed_body = {"input": "a short text to embed", "model": "all-MiniLM-L6-v2"}
    asyncio.run(_load(url, key, 4, 20, "/v1/embeddings", embed_body))  # warm up

    print(
        f"{args.requests} requests per row; 2 CPUs, no GPU; load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print("| route | clients | p50 ms | p95 ms | p99 ms | req/s |")
    print("|---|---|---|---|---|---|")
    for path, body in (("/v1/embeddings", embed_body), ("/v1/runs", run_body)):
        for clients in (1, 10, 100):
            row = asyncio.run(_load(url, key, clients, args.requests, path, body))
            print(
                f"| POST {path} | {clients} | {row['p50']:.1f} | {row['p95']:.1f} | "
                f"{row['p99']:.1f} | {row['rps']:.0f} |"
            )
    # the runs accepted above queue behind one slot: cancel them before timing SSE
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        for status in ("queued", "running"):
            while runs := client.get("/v1/runs", params={"status": status, "limit": 500}).json()[
                "runs"
            ]:
                for run in runs:
                    client.post(f"/v1/runs/{run['id']}/cancel")
    delays = asyncio.run(_sse_delay(url, key))
    print()
    print(
        f"SSE: event appended → client received, {len(delays)} events: "
        f"p50 {statistics.median(delays):.1f} ms, p95 {_pct(delays, 0.95):.1f} ms"
    )

    print()
    print("| embeddings at 64 clients | p50 ms | p95 ms | req/s |")
    print("|---|---|---|---|")
    for size in (64, 1):
        _deploy(home, port, size)
        asyncio.run(_load(url, key, 4, 20, "/v1/embeddings", embed_body))
        row = asyncio.run(_load(url, key, 64, args.requests, "/v1/embeddings", embed_body))
        label = "@serve.batch, up to 64 a call" if size > 1 else "one text a call"
        print(f"| {label} | {row['p50']:.1f} | {row['p95']:.1f} | {row['rps']:.0f} |")
    serve.shutdown()  # type: ignore[no-untyped-call]
    ray.shutdown()


if __name__ == "__main__":
    main()
