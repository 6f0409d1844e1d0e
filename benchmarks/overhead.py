"""Runtime overhead per round: a 5-agent swarm with a zero-latency model.

    python benchmarks/overhead.py [--rounds 50] [--runs 5]

A round's time is read from the timeline (the wall time between consecutive ``round_started``
events), so it covers delivering inboxes, one batched call per host, stepping every agent, and
applying and recording the turns. Placements: one actor per agent, and all agents in one host.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile

import ekklesia as ek
from ekklesia.core.events import RoundStarted


def instant(request: ek.LLMRequest) -> str:
    return "Answer: 4\nConfidence: 0.9"


def per_round_ms(placement: str, rounds: int, runs: int) -> list[float]:
    agents = [ek.Agent(f"a{i}", model=ek.FunctionModel(instant)) for i in range(5)]
    samples: list[float] = []
    with ek.Swarm(agents, rounds=rounds, placement=placement, stop_on_consensus=False) as swarm:
        swarm.run(ek.Task.of("2+2?", "4"))  # warm-up: hosts started, code paths imported
        for _ in range(runs):
            timeline = swarm.run(ek.Task.of("2+2?", "4")).timeline
            starts = [e.wall_time for e in timeline.of_kind(RoundStarted)]
            samples += [1000 * (b - a) for a, b in itertools.pairwise(starts)]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    print("| placement | rounds measured | median ms / round | p95 ms / round |")
    print("|---|---|---|---|")
    for placement in ("per_agent", "single"):
        samples = sorted(per_round_ms(placement, args.rounds, args.runs))
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(f"| {placement} | {len(samples)} | {statistics.median(samples):.2f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
