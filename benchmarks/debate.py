"""Du et al. 2023's arithmetic setup with simulated agents: single agent, majority of 3, debate.

    python benchmarks/debate.py [--tasks 100] [--skill 0.67] [--conformity C] [--correlation R]
    python benchmarks/debate.py --grid     # accuracy over conformity x correlation

Prints Markdown: accuracy, tokens and cost per task, beside the paper's figures for gpt-3.5
(67.0 / 69.0 / 81.8). Runs follow the paper's protocol: a fixed number of rounds, no early stop.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time

import ekklesia as ek

PAPER = {"single agent": 67.0, "majority of 3": 69.0, "debate, 3 agents x 2 rounds": 81.8}


def setups(model: ek.SimulatedModel) -> dict[str, dict[str, object]]:
    three = [ek.Agent(f"a{i}", model=model) for i in range(3)]
    return {
        "single agent": {
            "agents": [ek.Agent("a0", model=model)],
            "graph": "independent",
            "rounds": 1,
        },
        "majority of 3": {"agents": three, "graph": "independent", "rounds": 1},
        "debate, 3 agents x 2 rounds": {"agents": three, "graph": "complete", "rounds": 2},
    }


def measure(
    spec: dict[str, object], tasks: list[ek.Task], seed: int
) -> tuple[float, float, float, float]:
    with ek.Swarm(**spec, seed=seed, stop_on_consensus=False) as swarm:  # type: ignore[arg-type]
        started = time.perf_counter()
        results = swarm.run_many(tasks)
        wall = time.perf_counter() - started
    accuracy = 100 * sum(bool(r.correct) for r in results) / len(results)
    tokens = sum(r.usage.total_tokens for r in results) / len(results)
    usd = sum(r.usage.usd for r in results) / len(results)
    return accuracy, tokens, usd, wall


def table(model: ek.SimulatedModel, tasks: list[ek.Task], seed: int) -> None:
    print(f"model `{model.spec()}`, {len(tasks)} tasks, seed {seed}\n")
    print("| setup | accuracy % | paper (gpt-3.5) % | tokens / task | USD / task | wall s |")
    print("|---|---|---|---|---|---|")
    for name, spec in setups(model).items():
        accuracy, tokens, usd, wall = measure(spec, tasks, seed)
        print(
            f"| {name} | {accuracy:.1f} | {PAPER[name]} | {tokens:.0f} | {usd:.6f} | {wall:.1f} |"
        )


def grid(skill: float, tasks: list[ek.Task], seed: int) -> None:
    print(
        f"skill {skill}, {len(tasks)} tasks, seed {seed}; accuracy % single / majority / debate\n"
    )
    print("| correlation | conformity | single | majority of 3 | debate | distance to paper |")
    print("|---|---|---|---|---|---|")
    for correlation, conformity in itertools.product((0.0, 0.3, 0.5, 0.7), (0.3, 0.5, 0.7, 0.9)):
        model = ek.SimulatedModel(skill=skill, conformity=conformity, correlation=correlation)
        found = [measure(spec, tasks, seed)[0] for spec in setups(model).values()]
        distance = sum((a - b) ** 2 for a, b in zip(found, PAPER.values(), strict=True)) ** 0.5
        cells = " | ".join(f"{a:.1f}" for a in found)
        print(f"| {correlation} | {conformity} | {cells} | {distance:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--skill", type=float, default=0.67)
    parser.add_argument("--conformity", type=float, default=0.3)
    parser.add_argument("--correlation", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    tasks = ek.tasks.arithmetic(n=args.tasks, seed=args.seed)
    if args.grid:
        grid(args.skill, tasks, args.seed)
    else:
        model = ek.SimulatedModel(
            skill=args.skill, conformity=args.conformity, correlation=args.correlation
        )
        table(model, tasks, args.seed)


if __name__ == "__main__":
    main()
