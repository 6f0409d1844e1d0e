"""The layered health report of ``GET /health``: each part checked on its own, with a score.

A check is ``ok``, ``warn`` (works, but look: little disk left, an endpoint not reachable) or
``down``. The ``score`` is the mean over the checks (ok 1, warn 0.5, down 0); the report is
``down`` — and ``/health`` answers 503 — when a required part (Ray, a deployment, the embedder,
the data home's disk) is down.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Literal

import httpx
import psutil
from pydantic import BaseModel

from ekklesia.core.paths import data_home

__all__ = ["Check", "HealthReport", "check_health"]

State = Literal["ok", "warn", "down"]
_WEIGHT = {"ok": 1.0, "warn": 0.5, "down": 0.0}


class Check(BaseModel):
    name: str
    status: State
    required: bool
    detail: str = ""
    latency_ms: float | None = None


class HealthReport(BaseModel):
    status: State
    score: float
    checks: list[Check]


async def _timed(name: str, required: bool, work: Awaitable[Any], timeout_s: float) -> Check:
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        return Check(name=name, status="down", required=required, detail="no answer in time")
    except Exception as exc:  # a part that is down: say why, do not fail the report
        return Check(name=name, status="down", required=required, detail=type(exc).__name__)
    ms = (time.perf_counter() - started) * 1000
    return Check(name=name, status="ok", required=required, detail=str(answer), latency_ms=ms)


def _ray() -> Check:
    import ray

    if not ray.is_initialized():
        return Check(name="ray", status="down", required=True, detail="not connected")
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    return Check(name="ray", status="ok", required=True, detail=f"{cpus:g} CPUs, {gpus:g} GPUs")


def _disk() -> Check:
    home = data_home()
    where = home if home.exists() else home.parent
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Check(name="disk", status="down", required=True, detail=str(exc))
    free_gib = usage.free / 2**30
    writable = os.access(where, os.W_OK)
    state: State = "down" if not writable else "warn" if free_gib < 1 else "ok"
    return Check(
        name="disk",
        status=state,
        required=True,
        detail=f"{free_gib:.1f} GiB free under {where}" + ("" if writable else ", not writable"),
    )


def _host_memory() -> Check:
    mem = psutil.virtual_memory()
    state: State = "warn" if mem.percent > 95 else "ok"
    return Check(
        name="memory",
        status=state,
        required=False,
        detail=f"{mem.available / 2**30:.1f} GiB available ({mem.percent:.0f}% used)",
    )


def _stores() -> list[Check]:
    root = data_home() / "memory"
    if not root.exists():
        return [Check(name="memory_stores", status="ok", required=False, detail="none yet")]
    checks = []
    for store in sorted(p for p in root.iterdir() if p.is_dir()):
        readable = os.access(store, os.R_OK | os.W_OK)
        checks.append(
            Check(
                name=f"memory_store:{store.name}",
                status="ok" if readable else "down",
                required=False,
                detail=str(store),
            )
        )
    return checks


async def _endpoint(spec: str, url: str | None, timeout_s: float) -> Check:
    name = f"model:{spec}"
    if url is None:
        return Check(name=name, status="ok", required=False, detail="no endpoint (simulated)")
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.get(url.rstrip("/") + "/models")
    except httpx.HTTPError as exc:
        return Check(
            name=name, status="warn", required=False, detail=f"{url}: {type(exc).__name__}"
        )
    ms = (time.perf_counter() - started) * 1000
    state: State = "ok" if answer.status_code < 500 else "warn"
    return Check(
        name=name,
        status=state,
        required=False,
        detail=f"{url}: {answer.status_code}",
        latency_ms=ms,
    )


async def check_health(
    deployments: Mapping[str, Awaitable[Any]],
    endpoints: Mapping[str, str | None],
    *,
    timeout_s: float = 5.0,
) -> HealthReport:
    """Check Ray, each deployment (its ``ping``), stores, model endpoints, disk and memory."""
    pinged = await asyncio.gather(
        *(_timed(f"deployment:{n}", True, w, timeout_s) for n, w in deployments.items()),
        *(_endpoint(spec, url, min(timeout_s, 2.0)) for spec, url in endpoints.items()),
    )
    checks = [_ray(), *pinged, *_stores(), _disk(), _host_memory()]
    score = sum(_WEIGHT[c.status] for c in checks) / len(checks)
    status: State = (
        "down"
        if any(c.required and c.status == "down" for c in checks)
        else "ok"
        if all(c.status == "ok" for c in checks)
        else "warn"
    )
    return HealthReport(status=status, score=round(score, 4), checks=checks)
