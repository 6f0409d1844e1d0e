"""Scale benchmark: "guess 2/3 of the average" with N players, three ways, on this machine.

1. ekklesia populations: ``ekklesia simulate guess-two-thirds`` (simulated and dummy players);
2. one asyncio coroutine per agent in a single process, each with a mailbox (asyncio.Queue), the
   moderator a coroutine too;
3. one Ray actor per agent, the moderator on the driver (one call per player per round);

plus the per-round overhead of a small ekklesia ``Swarm`` (5 agents). The workload is the same in
all three: each round the moderator sends every player the last average; a simulated player
answers ``clamp(2/3 × average + normal(0, 5), 0, 100)`` (uniform on [0, 100] in the first round),
a dummy player waits ``--latency`` seconds and answers a uniform random number; the moderator
averages the answers. Every measurement runs in a fresh process tree, so memory peaks and Ray
instances do not carry over; a run that fails or passes ``--timeout`` is reported as such.

Timelines and final states go to ``$EKKLESIA_HOME``, or to a temporary folder removed at the end.

Usage (from the repository root)::

    PYTHONPATH=src python benchmarks/scale.py > benchmarks/results.md
    PYTHONPATH=src python benchmarks/scale.py --sizes 1e3,1e4 --actors 10 --rounds 3   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

RATIO, NOISE = 2 / 3, 5.0
MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & MASK
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & MASK
    return z ^ (z >> 31)


def _uniform(seed: int, agent: int, rnd: int, draw: int) -> float:
    z = _mix((seed * 0x9E3779B97F4A7C15 + agent * 0xD1B54A32D192ED03 + rnd * 977 + draw) & MASK)
    return (z >> 11) * 2.0**-53


def sim_guess(seed: int, agent: int, rnd: int, average: float | None) -> float:
    """A simulated player's guess, computed one agent at a time as the baselines must."""
    if average is None:
        return 100.0 * _uniform(seed, agent, rnd, 0)
    u1 = 1.0 - _uniform(seed, agent, rnd, 1)
    u2 = _uniform(seed, agent, rnd, 2)
    noise = NOISE * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return min(100.0, max(0.0, RATIO * average + noise))


def peak_rss_mib_of_this_process() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- baseline: one asyncio coroutine per agent ---------------------------------------------------


async def asyncio_game(n: int, rounds: int, player: str, latency: float) -> dict[str, Any]:
    began = time.perf_counter()
    mailboxes: list[asyncio.Queue[float | None]] = [asyncio.Queue() for _ in range(n)]
    answers: list[float] = [0.0] * n
    replies = 0
    all_in = asyncio.Event()

    async def play(i: int) -> None:
        nonlocal replies
        rnd = 0
        while (heard := await mailboxes[i].get()) is not None:
            if player == "dummy":
                await asyncio.sleep(latency)
                answers[i] = 100.0 * _uniform(1, i, rnd, 0)
            else:
                answers[i] = sim_guess(1, i, rnd, heard if heard >= 0 else None)
            rnd += 1
            replies += 1
            if replies == n:
                all_in.set()

    players = [asyncio.create_task(play(i)) for i in range(n)]
    await asyncio.sleep(0)
    startup = time.perf_counter() - began
    average, per_round, averages = -1.0, [], []
    for _ in range(rounds):
        began = time.perf_counter()
        replies = 0
        all_in.clear()
        for box in mailboxes:
            box.put_nowait(average)
        await all_in.wait()
        average = sum(answers) / n
        per_round.append(time.perf_counter() - began)
        averages.append(average)
    for box in mailboxes:
        box.put_nowait(None)
    await asyncio.gather(*players)
    return {
        "startup_s": startup,
        "per_round_s": per_round,
        "averages": averages,
        "peak_rss_mib": peak_rss_mib_of_this_process(),
    }


# -- baseline: one Ray actor per agent -----------------------------------------------------------


def actors_game(n: int, rounds: int, player: str, latency: float) -> dict[str, Any]:
    import ray

    from ekklesia.runtime.footprint import MemorySampler
    from ekklesia.runtime.ray_support import ensure_ray

    @ray.remote(num_cpus=0)
    class Player:
        def __init__(self, i: int) -> None:
            self.i, self.rnd = i, 0

        async def answer(self, average: float) -> float:
            if player == "dummy":
                await asyncio.sleep(latency)
                value = 100.0 * _uniform(1, self.i, self.rnd, 0)
            else:
                value = sim_guess(1, self.i, self.rnd, average if average >= 0 else None)
            self.rnd += 1
            return value

    ensure_ray(num_cpus=2)
    with MemorySampler() as memory:
        began = time.perf_counter()
        players = [Player.remote(i) for i in range(n)]  # type: ignore[attr-defined]
        ray.get([p.__ray_ready__.remote() for p in players])
        startup = time.perf_counter() - began
        average, per_round, averages = -1.0, [], []
        for _ in range(rounds):
            began = time.perf_counter()
            answers = ray.get([p.answer.remote(average) for p in players])
            average = sum(answers) / n
            per_round.append(time.perf_counter() - began)
            averages.append(average)
    return {
        "startup_s": startup,
        "per_round_s": per_round,
        "averages": averages,
        "peak_rss_mib": memory.peak_rss_mib,
    }


# -- the small-swarm path ------------------------------------------------------------------------


def swarm_overhead(repeats: int = 5) -> dict[str, Any]:
    import ekklesia as ek

    task = ek.tasks.arithmetic(n=1, seed=0)[0]

    def timed(rounds: int) -> float:
        agents = [ek.Agent(f"a{i}", model=ek.SimulatedModel(skill=0.5)) for i in range(5)]
        swarm = ek.Swarm(agents, rounds=rounds, stop_on_consensus=False)
        with swarm:
            swarm.run(task)  # hosts started, warm
            began = time.perf_counter()
            swarm.run(task)
            return time.perf_counter() - began

    one = [timed(1) for _ in range(repeats)]
    six = [timed(6) for _ in range(repeats)]
    return {
        "run_1_round_s": statistics.median(one),
        "run_6_rounds_s": statistics.median(six),
        "per_round_s": (statistics.median(six) - statistics.median(one)) / 5,
    }


# -- running each measurement in its own process -------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    kind, n, rounds, player = args.worker, args.n, args.rounds, args.player
    if kind == "asyncio":
        out = asyncio.run(asyncio_game(n, rounds, player, args.latency))
    elif kind == "actors":
        out = actors_game(n, rounds, player, args.latency)
    else:
        out = swarm_overhead()
    print(json.dumps(out))


def measure(command: list[str], timeout: float) -> dict[str, Any]:
    began = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - began
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {done.returncode}"}
    for line in reversed(done.stdout.splitlines()):  # Ray may print warnings after the result
        if line.startswith("{"):
            out: dict[str, Any] = json.loads(line)
            out["wall_s"] = wall
            return out
    return {"error": "no result printed"}


def population(
    n: int, rounds: int, player: str, opts: argparse.Namespace, wait: str = "agent"
) -> dict[str, Any]:
    command = [sys.executable, "-m", "ekklesia", "simulate", "guess-two-thirds"]
    command += ["--agents", str(n), "--rounds", str(rounds), "--hosts", str(opts.hosts), "--json"]
    if player == "dummy":
        command += ["--player", "dummy", "--latency", str(opts.latency), "--wait", wait]
    return measure(command, opts.timeout)


def baseline(
    kind: str, n: int, rounds: int, player: str, opts: argparse.Namespace
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", kind, "--n", str(n), "--rounds", str(rounds)]
    command += ["--player", player, "--latency", str(opts.latency)]
    return measure(command, opts.timeout)


def row(engine: str, n: int, out: dict[str, Any]) -> str:
    if "error" in out:
        return f"| {engine} | {n:,} | — | — | — | — | — | {out['error']} |"
    rounds = out["per_round_s"]
    delivered = 2 * n  # the answers, and the moderator's broadcast heard by every player
    rate = delivered * len(rounds) / sum(rounds)
    first = out["averages"][0]
    return (
        f"| {engine} | {n:,} | {out['startup_s']:.2f} | {statistics.median(rounds):.3f} | "
        f"{max(rounds):.3f} | {rate:,.0f} | {out['peak_rss_mib']:,.0f} | "
        f"first average {first:.2f} |"
    )


HEADER = (
    "| engine | agents | start-up s | round s (median) | round s (max) | messages/s | "
    "peak RSS MiB | notes |\n|---|---:|---:|---:|---:|---:|---:|---|"
)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy
    import ray

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; {platform.platform()}; Python "
        f"{platform.python_version()}, Ray {ray.__version__}, numpy {numpy.__version__}"
    )


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="agents for populations")
    parser.add_argument("--async-sizes", default=None, help="agents for asyncio (default: sizes)")
    parser.add_argument("--actors", default="10,25,50", help="agents for one actor per agent")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dummy-rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--worker", choices=["asyncio", "actors", "swarm"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--player", default="sim", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        worker(opts)
        return
    if os.environ.get("EKKLESIA_HOME"):
        report(opts)
        return
    with tempfile.TemporaryDirectory(prefix="ekklesia-bench-") as home:
        os.environ["EKKLESIA_HOME"] = home  # the runs' timelines and states go away afterwards
        report(opts)


def report(opts: argparse.Namespace) -> None:
    sizes = [int(float(s)) for s in opts.sizes.split(",")]
    async_sizes = [int(float(s)) for s in (opts.async_sizes or opts.sizes).split(",")]
    actor_sizes = [int(s) for s in opts.actors.split(",") if s]
    say: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    say(f"- machine: {machine()}")
    say(f"- load before: `{load()}`")
    script = f"benchmarks/{os.path.basename(__file__)}"
    command = f"PYTHONPATH=src python {script} {' '.join(sys.argv[1:])}".strip()
    say(f"- command: `{command}`")
    for player, rounds in (("sim", opts.rounds), ("dummy", opts.dummy_rounds)):
        title = (
            "simulated players"
            if player == "sim"
            else f"dummy players ({opts.latency:g} s latency)"
        )
        say(f"\n### {title}, {rounds} rounds\n\n{HEADER}")
        for n in sizes:
            say(
                row(
                    f"ekklesia populations, {opts.hosts} hosts",
                    n,
                    population(n, rounds, player, opts),
                )
            )
        if player == "dummy" and sizes:
            n = sizes[-1]
            for wait in ("coroutine", "batch"):
                out = population(n, rounds, player, opts, wait)
                say(row(f"ekklesia populations, {opts.hosts} hosts, wait={wait}", n, out))
        for n in async_sizes:
            say(
                row(
                    "asyncio, one coroutine per agent",
                    n,
                    baseline("asyncio", n, rounds, player, opts),
                )
            )
        for n in actor_sizes:
            say(row("Ray, one actor per agent", n, baseline("actors", n, rounds, player, opts)))
    small = baseline("swarm", 5, 0, "sim", opts)
    say("\n### small swarm (5 agents, simulated models, existing Swarm path)\n")
    if "error" in small:
        say(f"- failed: {small['error']}")
    else:
        say(
            f"- one run of 1 round: {small['run_1_round_s'] * 1000:.1f} ms; of 6 rounds: "
            f"{small['run_6_rounds_s'] * 1000:.1f} ms; per-round overhead "
            f"{small['per_round_s'] * 1000:.1f} ms (medians of 5)"
        )
    say(f"\n- load after: `{load()}`")


if __name__ == "__main__":
    main()
