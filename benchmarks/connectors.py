"""Connector benchmarks: how close a round of real-model calls comes to its ideal; the gateway hop.

1. **Round wall vs ideal.** N agents (Swarm, ``independent`` graph, one round, all agents on one
   host so that the endpoint's concurrency limit C is the only limit) each make one call to the
   scripted OpenAI-compatible server, which answers after 100 ms. With at most C calls in flight the
   round can take no less than ceil(N / C) x 100 ms; the round wall is read from the timeline (from
   ``round_started`` to the last ``model_call`` of the round). Target: at most 1.2 x ideal.
2. **Gateway added latency.** The same Portkey model calls the scripted server (no latency) once
   directly and once through the open-source Portkey gateway (node), alternating, one call at a
   time; the difference of the per-call latency percentiles is what the gateway adds.

The server runs in its own process; the gateway is started with node. Everything listens on
127.0.0.1 and stops when the script ends. Results go to ``benchmarks/connectors.md``::

    PYTHONPATH=src python benchmarks/connectors.py            # the whole grid
    PYTHONPATH=src python benchmarks/connectors.py --quick    # N=10,100 only
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "connectors"))

from portkey_gateway import PortkeyGateway, node_missing_reason  # noqa: E402

import ekklesia as ek  # noqa: E402
from ekklesia.connectors import EndpointLimits, OpenAICompatModel, RetryPolicy  # noqa: E402
from ekklesia.connectors.portkey import PortkeyModel  # noqa: E402
from ekklesia.core.events import ModelCalled, RoundStarted  # noqa: E402

LATENCY_S = 0.1
PRICE_AS = "openai/gpt-4o-mini"


class ServerProcess:
    """The scripted server in a child process, so that it does not share the driver's GIL."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServerProcess:
        script = ROOT / "tests" / "connectors" / "openai_server.py"
        self._process = subprocess.Popen(
            [sys.executable, str(script), "--port", "0", "--latency", str(self.latency_s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the scripted server did not start: {line!r}")
        self.url = line.removeprefix("listening on ").strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


def _round_wall(result: ek.RunResult) -> tuple[float, int]:
    events = result.timeline.events
    started = next(e.wall_time for e in events if isinstance(e, RoundStarted))
    calls = [e for e in events if isinstance(e, ModelCalled) and e.round == 0]
    failed = sum(not c.response.ok for c in calls)
    return max(c.wall_time for c in calls) - started, failed


def _swarm_round(model: ek.Model, n: int, repeats: int) -> tuple[float, int]:
    """Median round wall of N agents on one host, one round, after a warm-up run."""
    agents = [ek.Agent(f"a{i:04d}", model=model, max_tokens=64) for i in range(n)]
    swarm = ek.Swarm(agents, graph="independent", rounds=1, placement="single")
    walls, failures = [], 0
    with swarm:
        swarm.run(ek.Task.of("What is 6 * 7?", id="warm-up"))  # hosts up, connections open
        for rep in range(repeats):
            gc.collect()
            wall, failed = _round_wall(swarm.run(ek.Task.of("What is 6 * 7?", id=f"t{rep}")))
            walls.append(wall)
            failures += failed
    return statistics.median(walls), failures


async def _direct(model: OpenAICompatModel, n: int, repeats: int) -> tuple[float, float]:
    """Median wall of N concurrent calls made with asyncio alone (after a warm-up batch), and
    the client's CPU seconds per call."""
    request = ek.LLMRequest(
        messages=(ek.ChatTurn(role="user", content="What is 6 * 7?"),), max_tokens=64
    )
    walls, cpu = [], 0.0
    for rep in range(repeats + 1):
        gc.collect()  # the garbage of the configuration before is not this one's cost
        started, cpu_started = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(*(model.complete(request) for _ in range(n)))
        assert all(a.ok for a in answers), answers[0].error
        if rep:
            walls.append(time.perf_counter() - started)
            cpu += time.process_time() - cpu_started
    await model.aclose()
    return statistics.median(walls), cpu / (n * repeats)


def round_grid(url: str, sizes: list[int], limits: list[int], repeats: int) -> list[dict[str, Any]]:
    floors = {}
    for n in sizes:
        # The engine's own cost: the same round with a simulated model that takes 100 ms.
        wall, _ = _swarm_round(ek.SimulatedModel(latency_s=LATENCY_S), n, repeats)
        floors[n] = wall - LATENCY_S
        print(f"N={n:5d} engine overhead {floors[n] * 1000:6.0f} ms", flush=True)
    rows = []
    for concurrency in limits:
        for n in sizes:

            def model(tag: str, c: int = concurrency) -> OpenAICompatModel:
                return OpenAICompatModel(
                    url,
                    "bench",
                    limits=EndpointLimits(concurrency=c),
                    retry=RetryPolicy(attempts=1),
                    price_as=PRICE_AS,
                    endpoint=f"bench-{tag}-c{c}",
                )

            ideal = math.ceil(n / concurrency) * LATENCY_S
            wall, failed = _swarm_round(model("swarm"), n, repeats)
            direct, cpu = asyncio.run(_direct(model("direct"), n, repeats))
            row = {
                "n": n,
                "c": concurrency,
                "ideal_s": ideal,
                "wall_s": wall,
                "ratio": wall / ideal,
                "direct_s": direct,
                "direct_ratio": direct / ideal,
                "engine_s": floors[n],
                "client_cpu_us": cpu * 1e6,
                "failed": failed,
            }
            rows.append(row)
            print(
                f"N={n:5d} C={concurrency:3d}  round {wall * 1000:6.0f} ms (x{wall / ideal:.2f})  "
                f"asyncio {direct * 1000:6.0f} ms (x{direct / ideal:.2f})  "
                f"ideal {ideal * 1000:5.0f} ms  failed {failed}",
                flush=True,
            )
    return rows


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def gateway_hop(url: str, gateway_url: str, calls: int) -> dict[str, float]:
    direct = PortkeyModel("@openai/bench-gw", base_url=url, price_as=PRICE_AS, endpoint="gw-off")
    via = PortkeyModel(
        "@openai/bench-gw",
        base_url=gateway_url,
        custom_host=url,
        price_as=PRICE_AS,
        endpoint="gw-on",
    )
    request = ek.LLMRequest(
        messages=(ek.ChatTurn(role="user", content="What is 6 * 7?"),), max_tokens=64
    )
    for model in (direct, via):  # connections up, first-call costs paid
        for _ in range(20):
            assert (await model.complete(request)).ok
    timings: dict[str, list[float]] = {"direct": [], "gateway": []}
    for _ in range(calls):
        for label, model in (("direct", direct), ("gateway", via)):
            started = time.perf_counter()
            response = await model.complete(request)
            timings[label].append(time.perf_counter() - started)
            assert response.ok, response.error
    await direct.aclose()
    await via.aclose()
    out = {}
    for label, values in timings.items():
        out[f"{label}_p50_ms"] = _percentile(values, 0.5) * 1000
        out[f"{label}_p95_ms"] = _percentile(values, 0.95) * 1000
    out["added_p50_ms"] = out["gateway_p50_ms"] - out["direct_p50_ms"]
    out["added_p95_ms"] = out["gateway_p95_ms"] - out["direct_p95_ms"]
    out["calls"] = calls
    return out


def markdown(
    rows: list[dict[str, Any]], hop: dict[str, float] | None, command: str, load: str
) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Connectors: round wall vs ideal, and the Portkey gateway hop",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"Ray {__import__('ray').__version__}; scripted server and gateway on 127.0.0.1, "
        f"the server in its own process. 1-minute load average before and after: {load} "
        "(the machine is shared; numbers taken under load are slower).",
        "",
        f"Command: `{command}`",
        "",
        "N agents on one host (`Swarm`, `independent` graph, 1 round) each make one call to the "
        f"scripted OpenAI-compatible server, which answers after {LATENCY_S * 1000:.0f} ms; the "
        "endpoint allows C calls in flight. Ideal = ceil(N/C) x 100 ms. *Round wall* = "
        "`round_started` to the last `model_call` in the timeline; *asyncio alone* = the same N "
        "calls made with `asyncio.gather` on `OpenAICompatModel.complete`, no engine; *engine "
        "overhead* = the round wall of the same swarm with a simulated model that takes 100 ms, "
        "minus 100 ms. Medians of the measured runs, after a warm-up run. Target: at most "
        "1.2 x ideal.",
        "",
        "| N | C | ideal (ms) | round wall (ms) | x ideal | asyncio alone (ms) | x ideal "
        "| engine overhead (ms) | client CPU per call (µs) | failed calls |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['c']} | {r['ideal_s'] * 1000:.0f} | {r['wall_s'] * 1000:.0f} "
            f"| {r['ratio']:.2f} | {r['direct_s'] * 1000:.0f} | {r['direct_ratio']:.2f} "
            f"| {r['engine_s'] * 1000:.0f} | {r['client_cpu_us']:.0f} | {r['failed']} |"
        )
    lines += [
        "",
        "Reading: with a constant server latency the C calls in flight start and finish "
        "together, so each wave ends with C answers handled one after another by the server "
        "and the client on the same two cores; a wave costs 100 ms plus C x (server + client "
        "CPU per call). That is why C=64 sits further above ideal than C=16, and why the "
        "client's CPU per call is the number the connector works to keep down (on httpx's own "
        "connection pool it was several milliseconds, and N=1000, C=64 took 7.7 x ideal; on "
        "the aiohttp transport, see `ekklesia/connectors/http.py`). *Engine overhead* is the "
        "round engine's own cost for N agents, the same whatever the model.",
        "",
    ]
    if hop is None:
        lines.append("Gateway hop: not measured (node is not installed).")
    else:
        lines += [
            f"Gateway hop: the same `PortkeyModel` calls the server (no latency) directly and "
            f"through the open-source gateway (`@portkey-ai/gateway`, node {_node_version()}), "
            f"alternating, one call at a time, {int(hop['calls'])} calls each after 20 warm-up "
            "calls.",
            "",
            "| path | p50 (ms) | p95 (ms) |",
            "| --- | ---: | ---: |",
            f"| direct | {hop['direct_p50_ms']:.1f} | {hop['direct_p95_ms']:.1f} |",
            f"| through the gateway | {hop['gateway_p50_ms']:.1f} | {hop['gateway_p95_ms']:.1f} |",
            f"| **added by the gateway** | **{hop['added_p50_ms']:.1f}** "
            f"| **{hop['added_p95_ms']:.1f}** |",
        ]
    return "\n".join(lines) + "\n"


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description="Connector benchmarks (see the module docstring).")
    parser.add_argument("--quick", action="store_true", help="N=10,100 only, fewer gateway calls")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per (N, C)")
    parser.add_argument("--sizes", type=int, nargs="+", help="agent counts N (default 10 100 1000)")
    parser.add_argument("--limits", type=int, nargs="+", default=[16, 64], help="limits C")
    parser.add_argument("--no-gateway", action="store_true", help="skip the gateway hop")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "connectors.md")
    args = parser.parse_args()
    # Where the results go does not change them: the recorded command leaves --out out.
    given = [a for i, a in enumerate(sys.argv[1:]) if a != "--out" and sys.argv[i] != "--out"]
    command = "PYTHONPATH=src python " + " ".join(["benchmarks/connectors.py", *given])
    sizes = args.sizes or ([10, 100] if args.quick else [10, 100, 1000])
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("EKKLESIA_HOME", str(ROOT / "benchmarks" / "out" / "home"))

    load_before = os.getloadavg()[0]
    with ServerProcess(LATENCY_S) as slow:
        rows = round_grid(slow.url, sizes, args.limits, args.repeats)
    hop = None
    if node_missing_reason() is None and not args.no_gateway:
        with ServerProcess(0.0) as fast, PortkeyGateway() as gateway:
            hop = asyncio.run(gateway_hop(fast.url, gateway.url, 100 if args.quick else 300))
        print(
            f"gateway adds p50 {hop['added_p50_ms']:.1f} ms, p95 {hop['added_p95_ms']:.1f} ms",
            flush=True,
        )
    load = f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"
    args.out.write_text(markdown(rows, hop, command, load))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
