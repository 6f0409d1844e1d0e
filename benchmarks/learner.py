"""The pattern learner on three families with a known best, against uniform A/B and
epsilon-greedy; exact re-scoring against re-execution; off-policy error; the sparse topology.

    python benchmarks/learner.py [--tasks 200] [--runs 500] [--seeds 5] [--rescore-tasks 40]

Each family is swept first (every strategy on the same ``--tasks`` tasks, one seed): that gives
the best strategy and each strategy's outcome on each task. A run of a strategy on a task with a
seed is deterministic, so the bandits then replay those outcomes (run ``t`` is task ``t mod
tasks``): every policy faces exactly the same tasks and outcomes, and ``--runs`` runs cost nothing
more. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Callable

import numpy as np

import ekklesia as ek
from ekklesia.learn.bandit import Posterior, choose
from ekklesia.learn.offpolicy import CannotEstimate, Logged, estimate
from ekklesia.learn.rescore import NotPostHoc, arescore_run
from ekklesia.runtime.timeline import Timeline

CHEAP = "sim:skill=0.6,price_as=openai/gpt-4o-mini"
FAMILIES: dict[str, dict[str, object]] = {
    "cheap debate vs one expensive model": {
        "strategies": [
            {"name": "3 cheap, debate", "agents": 3, "rounds": 2, "model": CHEAP},
            {"name": "1 expensive", "agents": 1, "rounds": 1, "graph": "independent",
             "model": "sim:skill=0.8,price_as=openai/gpt-4o"},
        ],
        "objective": "accuracy - 100 * usd",
    },
    "complete vs ring (6 agents, 3 rounds)": {
        "strategies": [
            {"name": "complete", "agents": 6, "rounds": 3, "graph": "complete", "model": CHEAP,
             "stop_on_consensus": False},
            {"name": "ring", "agents": 6, "rounds": 3, "graph": "ring", "model": CHEAP,
             "stop_on_consensus": False},
        ],
        "objective": "accuracy - 200 * usd",
    },
    "1 vs 3 rounds": {
        "strategies": [
            {"name": "1 round", "agents": 3, "rounds": 1, "model": "sim:skill=0.5"},
            {"name": "3 rounds", "agents": 3, "rounds": 3, "model": "sim:skill=0.5",
             "stop_on_consensus": False},
        ],
        "objective": "accuracy",
    },
}  # fmt: skip

Policy = Callable[[dict[str, Posterior], int, random.Random], str]


def thompson(seed: int) -> Policy:
    return lambda posts, t, _: choose(list(posts.items()), t, seed).strategy


def uniform(posts: dict[str, Posterior], t: int, rng: random.Random) -> str:
    return rng.choice(sorted(posts))


def epsilon_greedy(eps: float) -> Policy:
    def pick(posts: dict[str, Posterior], t: int, rng: random.Random) -> str:
        untried = [n for n, p in posts.items() if p.n == 0]
        if untried:
            return untried[0]
        if rng.random() < eps:
            return rng.choice(sorted(posts))
        return max(posts, key=lambda n: posts[n].mean or 0.0)

    return pick


def play(policy: Policy, table: dict[str, list[float]], runs: int, seed: int) -> list[str]:
    posts = {name: Posterior() for name in table}
    rng = random.Random(seed)
    chosen = []
    n = len(next(iter(table.values())))
    for t in range(runs):
        name = policy(posts, t, rng)
        posts[name] = posts[name].add(table[name][t % n])
        chosen.append(name)
    return chosen


def regret(chosen: list[str], means: dict[str, float]) -> np.ndarray:
    top = max(means.values())
    return np.cumsum([top - means[c] for c in chosen])


def runs_to_match(chosen: list[str], table: dict[str, list[float]], best: str) -> int | None:
    """The first run after which the learner's best estimate is the sweep's best for good."""
    posts = {name: Posterior() for name in table}
    n = len(next(iter(table.values())))
    last_wrong = -1
    for t, name in enumerate(chosen):
        posts[name] = posts[name].add(table[name][t % n])
        means = {k: p.mean for k, p in posts.items() if p.mean is not None}
        if max(means, key=lambda k: means[k]) != best:
            last_wrong = t
    return None if last_wrong == len(chosen) - 1 else last_wrong + 2


def family(name: str, data: dict[str, object], args: argparse.Namespace) -> None:
    strategies = ek.learn.load_strategies(data)
    began = time.perf_counter()
    swept = ek.learn.sweep(strategies, tasks=args.tasks)
    wall = time.perf_counter() - began
    table = {
        s.name: [r.value(strategies.objective) for r in swept.records if r.strategy == s.name]
        for s in strategies.strategies
    }
    means = {s.name: s.objective for s in swept.summaries}
    best = swept.best
    print(f"### {name}\n\nobjective `{strategies.objective.expression}`; sweep of {args.tasks} "
          f"tasks ({wall:.0f} s):\n")  # fmt: skip
    print("| strategy | accuracy | tokens / task | USD / task | objective | 95% ci |")
    print("|---|---|---|---|---|---|")
    for s in swept.summaries:
        print(f"| {s.name}{' (best)' if s.name == best else ''} | {s.accuracy:.3f} | "
              f"{s.tokens:.0f} | {s.usd:.6f} | {s.objective:.4f} | "
              f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}] |")  # fmt: skip
    policies: dict[str, Callable[[int], Policy]] = {
        "Thompson (PatternLearner)": thompson,
        "uniform A/B": lambda seed: uniform,
        "epsilon-greedy (0.1)": lambda seed: epsilon_greedy(0.1),
    }
    marks = [m for m in (50, 100, 200, 500, 1000) if m <= args.runs]
    print(f"\ncumulative regret (objective units), mean over {args.seeds} seeds:\n")
    print(
        "| policy | "
        + " | ".join(f"after {m}" for m in marks)
        + " | runs on best | runs to match |"
    )
    print("|---|" + "---|" * (len(marks) + 2))
    logs_for_offpolicy: list[Logged] = []
    for label, make in policies.items():
        curves, on_best, matched = [], [], []
        for seed in range(args.seeds):
            chosen = play(make(seed), table, args.runs, seed)
            curves.append(regret(chosen, means))
            on_best.append(chosen.count(best) / len(chosen))
            matched.append(runs_to_match(chosen, table, best))
            if label.startswith("Thompson") and seed == 0:
                logs_for_offpolicy = thompson_log(
                    table, args.runs, seed, strategies.objective.expression
                )
        curve = np.mean(curves, axis=0)
        found = [m for m in matched if m is not None]
        match = (
            f"{np.median(found):.0f} (median)"
            if len(found) == len(matched)
            else f"{len(found)}/{len(matched)} seeds"
        )
        print(f"| {label} | " + " | ".join(f"{curve[m - 1]:.2f}" for m in marks)
              + f" | {np.mean(on_best):.0%} | {match} |")  # fmt: skip
    other = next(n for n in table if n != best)
    print(f"\noff-policy estimate of **{other}** from the Thompson log (seed 0) against its swept "
          f"value {means[other]:.4f}:\n")  # fmt: skip
    print("| logged runs | chosen | DR | IPS | DR error | 95% ci | ESS |")
    print("|---|---|---|---|---|---|---|")
    for m in (25, 50, 100, 200, 500):
        if m > len(logs_for_offpolicy):
            continue
        try:
            e = estimate(other, logs_for_offpolicy[:m])
        except CannotEstimate as exc:
            print(f"| {m} | — | refused: {exc} | | | | |")
            continue
        print(f"| {m} | {e.chosen} | {e.dr:.4f} | {e.ips:.4f} | {abs(e.dr - means[other]):.4f} | "
              f"[{e.ci[0]:.3f}, {e.ci[1]:.3f}] | {e.ess:.1f} |")  # fmt: skip
    print()


def thompson_log(
    table: dict[str, list[float]], runs: int, seed: int, objective: str
) -> list[Logged]:
    posts = {name: Posterior() for name in table}
    n = len(next(iter(table.values())))
    out = []
    for t in range(runs):
        c = choose(list(posts.items()), t, seed)
        value = table[c.strategy][t % n]
        posts[c.strategy] = posts[c.strategy].add(value)
        out.append(Logged(f"run-{t}", c.strategy, c.propensities, objective, value))
    return out


async def rescoring(n: int) -> None:
    base = {"agents": 3, "rounds": 3, "stop_on_consensus": False, "model": "sim:skill=0.5"}
    alternatives = {
        "confidence": {**base, "aggregate": "confidence"},
        "1 round": {**base, "rounds": 1},
        "2 rounds": {**base, "rounds": 2},
        "consensus stop": {**base, "stop_on_consensus": True},
    }
    entries = [{"name": "recorded", **base}] + [{"name": k, **v} for k, v in alternatives.items()]
    strategies = ek.learn.load_strategies({"strategies": entries})
    tasks = ek.tasks.arithmetic(n=n, seed=11)
    print(f"### Re-scoring from the record against re-execution ({n} tasks, 3 agents x 3 rounds "
          "recorded)\n")  # fmt: skip
    print("| alternative | agree | re-score s | re-execute s | speed-up |")
    print("|---|---|---|---|---|")
    with ek.learn.Runner() as runner:
        recorded = [await runner.run(strategies["recorded"], t, 0) for t in tasks]
        timelines = [Timeline.load(r.run_id) for r in recorded]
        for name in alternatives:
            alt = strategies[name]
            runner.swarm(alt, 0)
            await runner.run(alt, tasks[0], 0)  # hosts started before timing
            began = time.perf_counter()
            real = [await runner.run(alt, t, 0) for t in tasks]
            executed = time.perf_counter() - began
            began = time.perf_counter()
            agree = 0
            for timeline, truth in zip(timelines, real, strict=True):
                try:
                    got = await arescore_run(timeline, alt)
                except NotPostHoc:
                    continue
                keys = ("answer", "correct", "rounds", "stop_reason", "tokens", "usd")
                agree += all(getattr(got, k) == getattr(truth, k) for k in keys)
            rescored = time.perf_counter() - began
            print(f"| {name} | {agree}/{n} ({agree / n:.0%}) | {rescored:.2f} | {executed:.2f} | "
                  f"{executed / rescored:.1f}x |")  # fmt: skip
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rescore-tasks", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    for name, data in FAMILIES.items():
        family(name, data, args)
    asyncio.run(rescoring(args.rescore_tasks))


if __name__ == "__main__":
    main()
