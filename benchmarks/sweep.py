"""A sweep's wall time: its pairs as Ray work against concurrent runs in the driver.

    .venv/bin/python benchmarks/sweep.py --tasks 40 --repeats 1

``workers`` is ``ekklesia sweep`` as it is (:mod:`ekklesia.learn.workers`: one ``num_cpus=1``
actor per CPU, each running pairs in its own process). ``driver`` is the former design, kept here
to compare against: every pair a concurrent run in the driver process (the agents on Ray host
actors either way), at most as many at once as the cluster has CPUs, through one ``Runner``. Each
measurement is a fresh process with a fresh local Ray instance and a fresh home (nothing resumed),
timed from the command's start to its JSON (Ray's start-up included, as a user waits for it); the
two designs alternate, so a change in the machine's load hits both. Both must print the same JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STRATEGIES = """\
strategies:
  - {name: debate, agents: 3, rounds: 2, model: "sim:skill=0.6"}
  - {name: single, agents: 1, rounds: 1, graph: independent, model: "sim:skill=0.6"}
  - {name: pair, agents: 2, rounds: 1, model: "sim:skill=0.7"}
objective: accuracy - 200 * usd
"""


def driver_sweep(path: str, tasks: int) -> dict[str, object]:
    """The pairs as concurrent runs in this process (the design before the workers)."""
    from ekklesia.core.task import Task
    from ekklesia.learn import Runner, RunRecord, Strategy, load_strategies, suite_tasks
    from ekklesia.learn.runs import summarise
    from ekklesia.runtime.ray_support import ensure_ray, ray_cpus

    chosen = load_strategies(path)
    problems = suite_tasks("arithmetic", tasks, 0, chosen)

    async def run_all() -> dict[str, object]:
        ensure_ray()
        limit = asyncio.Semaphore(ray_cpus())
        with Runner() as runner:

            async def one(strategy: Strategy, task: Task) -> RunRecord:
                async with limit:
                    return await runner.run(strategy, task, 0)

            records = await asyncio.gather(
                *(one(s, t) for s in chosen.strategies for t in problems)
            )
        summaries = [
            summarise(s.name, [r for r in records if r.strategy == s.name], chosen.objective)
            for s in chosen.strategies
        ]
        return {"strategies": [s.to_json("accuracy") for s in summaries]}

    return asyncio.run(run_all())


def measure(design: str, path: Path, tasks: int) -> tuple[float, str]:
    home = tempfile.mkdtemp(prefix="ekklesia-sweep-bench-")
    env = {**os.environ, "EKKLESIA_HOME": home, "RAY_ADDRESS": "local"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    if design == "workers":
        command = [sys.executable, "-m", "ekklesia", "sweep", str(path), "--tasks", str(tasks)]
        command.append("--json")
    else:
        command = [sys.executable, __file__, "--driver", str(path), "--tasks", str(tasks)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--driver", help=argparse.SUPPRESS)  # one driver-side sweep, as JSON
    args = parser.parse_args()
    if args.driver:
        print(json.dumps(driver_sweep(args.driver, args.tasks)))
        return
    path = Path(tempfile.mkdtemp(prefix="ekklesia-sweep-bench-")) / "strategies.yaml"
    path.write_text(STRATEGIES)
    walls: dict[str, list[float]] = {"workers": [], "driver": []}
    outputs: dict[str, set[str]] = {"workers": set(), "driver": set()}
    for _ in range(args.repeats):
        for design in walls:
            wall, output = measure(design, path, args.tasks)
            walls[design].append(wall)
            outputs[design].add(output)
    same = len(outputs["workers"] | outputs["driver"]) == 1
    load = os.getloadavg()[0]
    print(f"3 strategies x {args.tasks} tasks of arithmetic, {args.repeats} repeat(s), ", end="")
    print(f"load average {load:.1f} at the end; same JSON from both: {same}\n")
    print("| design | wall s (each) | best s |")
    print("|---|---|---|")
    for design, values in walls.items():
        each = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {design} | {each} | {min(values):.1f} |")


if __name__ == "__main__":
    main()
