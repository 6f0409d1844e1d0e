"""The pattern learner on three families with a known best, against uniform A/B and
epsilon-greedy; exact re-scoring against re-execution; off-policy error; the sparse topology.

    python benchmarks/learner.py [--tasks 200] [--runs 500] [--seeds 5] [--rescore-tasks 40]
                                 [--rescore-code-tasks 8] [--svg benchmarks/learner_regret.svg]

Each family is swept first (every strategy on the same ``--tasks`` tasks, one seed): that gives
the best strategy and each strategy's outcome on each task. A run of a strategy on a task with a
seed is deterministic, so the bandits then replay those outcomes (run ``t`` is task ``t mod
tasks``): every policy faces exactly the same tasks and outcomes, and ``--runs`` runs cost nothing
more. The Thompson policy is :func:`ekklesia.learn.bandit.choose` over the strategies' posteriors
in the strategies' order, which is what ``PatternLearner.choose`` computes; for seed 0 of each
family the benchmark also feeds the sweep's records to a real ``PatternLearner`` and stops if its
choices differ anywhere. Prints Markdown; ``--svg`` also draws the regret curves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import ekklesia as ek
from ekklesia.code import suites
from ekklesia.core.events import GateChecked
from ekklesia.learn.bandit import Posterior, choose
from ekklesia.learn.learner import PatternLearner
from ekklesia.learn.offpolicy import CannotEstimate, Logged, estimate
from ekklesia.learn.rescore import NotPostHoc, arescore_run
from ekklesia.runtime.timeline import Timeline

#: Three families with a clear winner (a swept objective gap of 0.2 or more); benchmarks/README.md
#: says why each winner wins.
FAMILIES: dict[str, dict[str, object]] = {
    "cheap debate vs one expensive model": {
        "strategies": [
            {"name": "3 cheap, debate", "agents": 3, "rounds": 2,
             "model": "sim:skill=0.35,price_as=openai/gpt-4o-mini"},
            {"name": "1 expensive", "agents": 1, "rounds": 1, "graph": "independent",
             "model": "sim:skill=0.85,price_as=openai/gpt-4o"},
        ],
        "objective": "accuracy - 100 * usd",
    },
    "complete vs ring (6 agents, 3 rounds)": {
        "strategies": [
            {"name": "complete", "agents": 6, "rounds": 3, "graph": "complete",
             "model": "sim:skill=0.6", "stop_on_consensus": False},
            {"name": "ring", "agents": 6, "rounds": 3, "graph": "ring",
             "model": "sim:skill=0.6", "stop_on_consensus": False},
        ],
        "objective": "accuracy - tokens / 4000",
    },
    "1 vs 3 rounds (5 agents)": {
        "strategies": [
            {"name": "1 round", "agents": 5, "rounds": 1, "model": "sim:skill=0.5"},
            {"name": "3 rounds", "agents": 5, "rounds": 3, "model": "sim:skill=0.5",
             "stop_on_consensus": False},
        ],
        "objective": "accuracy",
    },
}  # fmt: skip
#: The family whose sweep is the sparse-topology measurement: (dense, sparse) strategy names.
TOPOLOGY = ("complete vs ring (6 agents, 3 rounds)", "complete", "ring")
#: Where the regret curves are read off (log-spaced).
CURVE_AT = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)

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


def check_learner(
    strategies: ek.learn.Strategies,
    records: dict[str, list[ek.learn.RunRecord]],
    chosen: list[str],
) -> None:
    """Feed the sweep's records to a real PatternLearner; stop unless it chooses as ``chosen``."""
    home = tempfile.mkdtemp(prefix="ekklesia-bench-learner-")
    learner = PatternLearner(strategies, seed=0, name="bench", home=home)
    n = len(next(iter(records.values())))
    for t, expected in enumerate(chosen):
        choice = learner.choose()
        if choice.strategy != expected:
            raise SystemExit(
                f"PatternLearner chose {choice.strategy!r} at run {t}, the benchmark {expected!r}"
            )
        learner.update(choice, records[choice.strategy][t % n])


def family(name: str, data: dict[str, object], args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Sweep the family, play the policies on its outcomes, print the tables; the mean regret
    curve of each policy."""
    strategies = ek.learn.load_strategies(data)
    began = time.perf_counter()
    swept = ek.learn.sweep(strategies, tasks=args.tasks)
    wall = time.perf_counter() - began
    records = {
        s.name: [r for r in swept.records if r.strategy == s.name] for s in strategies.strategies
    }
    table = {n: [r.value(strategies.objective) for r in rs] for n, rs in records.items()}
    means = {s.name: s.objective for s in swept.summaries}
    best = swept.best
    gap = means[best] - max(v for k, v in means.items() if k != best)
    print(f"### {name}\n\nobjective `{strategies.objective.expression}`; sweep of {args.tasks} "
          f"tasks ({wall:.0f} s):\n")  # fmt: skip
    print("| strategy | accuracy | tokens / task | USD / task | objective | 95% ci |")
    print("|---|---|---|---|---|---|")
    for s in swept.summaries:
        print(f"| {s.name}{' (best)' if s.name == best else ''} | {s.accuracy:.3f} | "
              f"{s.tokens:.0f} | {s.usd:.6f} | {s.objective:.4f} | "
              f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}] |")  # fmt: skip
    print(f"\nobjective gap, best against the runner-up: **{gap:.3f}**")
    if name == TOPOLOGY[0]:
        dense, sparse = (next(s for s in swept.summaries if s.name == n) for n in TOPOLOGY[1:])
        print(f"\nsparse topology: the {sparse.name} uses {dense.tokens - sparse.tokens:.0f} "
              f"fewer tokens a task than the {dense.name} graph "
              f"({1 - sparse.tokens / dense.tokens:.0%} saved) at an accuracy cost of "
              f"{dense.accuracy - sparse.accuracy:+.3f} ({dense.accuracy:.3f} -> "
              f"{sparse.accuracy:.3f})")  # fmt: skip
    policies: dict[str, Callable[[int], Policy]] = {
        "Thompson (PatternLearner)": thompson,
        "uniform A/B": lambda seed: uniform,
        "epsilon-greedy (0.1)": lambda seed: epsilon_greedy(0.1),
    }
    marks = [m for m in (50, 100, 200, 500, 1000) if m <= args.runs]
    first = min(100, args.runs)
    print(f"\ncumulative regret (objective units), mean over {args.seeds} seeds:\n")
    print("| policy | " + " | ".join(f"after {m}" for m in marks)
          + f" | on best, first {first} | on best, all {args.runs} | runs to match |")  # fmt: skip
    print("|---|" + "---|" * (len(marks) + 3))
    curves_out: dict[str, np.ndarray] = {}
    logs_for_offpolicy: list[Logged] = []
    for label, make in policies.items():
        curves, on_first, on_best, matched = [], [], [], []
        for seed in range(args.seeds):
            chosen = play(make(seed), table, args.runs, seed)
            curves.append(regret(chosen, means))
            on_first.append(chosen[:first].count(best) / first)
            on_best.append(chosen.count(best) / len(chosen))
            matched.append(runs_to_match(chosen, table, best))
            if label.startswith("Thompson") and seed == 0:
                check_learner(strategies, records, chosen)
                logs_for_offpolicy = thompson_log(
                    table, args.runs, seed, strategies.objective.expression
                )
        curve = np.mean(curves, axis=0)
        curves_out[label] = curve
        found = [m for m in matched if m is not None]
        match = (
            f"{np.median(found):.0f} (median; {min(found)}–{max(found)})"
            if len(found) == len(matched)
            else f"{len(found)}/{len(matched)} seeds"
        )
        print(f"| {label} | " + " | ".join(f"{curve[m - 1]:.2f}" for m in marks)
              + f" | {np.mean(on_first):.0%} | {np.mean(on_best):.0%} | {match} |")  # fmt: skip
    print(f"\nThe Thompson rows are PatternLearner's own choices: fed the same records, a "
          f"PatternLearner (seed 0) chose the same strategy on all {args.runs} runs.")  # fmt: skip
    at = [m for m in CURVE_AT if m <= args.runs]
    print("\nthe regret curve (mean cumulative regret after *n* runs):\n")
    print("| policy | " + " | ".join(f"n={m}" for m in at) + " |")
    print("|---|" + "---|" * len(at))
    for label, curve in curves_out.items():
        print(f"| {label} | " + " | ".join(f"{curve[m - 1]:.2f}" for m in at) + " |")
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
    return curves_out


def draw(curves: dict[str, dict[str, np.ndarray]], path: str) -> None:
    """The regret curves, one panel a family, as an SVG without timestamps (a stable file)."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "ekklesia-learner"
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), sharey=False)
    for ax, (name, by_policy) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        for label, curve in by_policy.items():
            ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("runs")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("cumulative regret")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


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


KEYS = ("answer", "correct", "score", "rounds", "stop_reason", "tokens", "usd")


async def agreement(
    runner: ek.learn.Runner,
    alt: ek.learn.Strategy,
    tasks: list[ek.Task],
    timelines: list[Timeline],
) -> tuple[int, float, float]:
    """(runs re-scored equal to re-execution, re-execution s, re-scoring s) for ``alt``."""
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
        agree += all(getattr(got, k) == getattr(truth, k) for k in KEYS)
    return agree, executed, time.perf_counter() - began


async def rescoring(n: int, code_n: int) -> None:
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
    print(f"### Re-scoring from the record against re-execution ({n} arithmetic tasks, 3 agents "
          f"x 3 rounds recorded; {code_n} HumanEval feature_development tasks recorded with "
          "max_revisions 3)\n")  # fmt: skip
    print("| alternative | agree | re-score s | re-execute s | speed-up |")
    print("|---|---|---|---|---|")
    with ek.learn.Runner() as runner:
        recorded = [await runner.run(strategies["recorded"], t, 0) for t in tasks]
        timelines = [Timeline.load(r.run_id) for r in recorded]
        for name in alternatives:
            agree, executed, rescored = await agreement(runner, strategies[name], tasks, timelines)
            print(f"| {name} | {agree}/{n} ({agree / n:.0%}) | {rescored:.2f} | {executed:.2f} | "
                  f"{executed / rescored:.1f}x |")  # fmt: skip
    if code_n:
        await rescoring_gated(code_n)
    print()


async def rescoring_gated(n: int) -> None:
    """A gated code pattern recorded with max_revisions 3, re-scored as 0, 1 and 2: the final
    program is scored in the sandbox both ways, so the speed-up is smaller."""
    gated = {"pattern": "feature_development", "model": "sim:skill=0.35"}
    entries = [
        {"name": f"max_revisions {k}", **gated, "options": {"max_revisions": k}} for k in range(4)
    ]
    strategies = ek.learn.load_strategies({"strategies": entries})
    tasks = suites.suite("feature_development", n, seed=0)
    with ek.learn.Runner() as runner:
        recorded = [await runner.run(strategies["max_revisions 3"], t, 0) for t in tasks]
        timelines = [Timeline.load(r.run_id) for r in recorded]
        cut = 0
        for k in range(3):
            alt = strategies[f"max_revisions {k}"]
            agree, executed, rescored = await agreement(runner, alt, tasks, timelines)
            print(f"| feature_development, max_revisions 3 -> {k} | {agree}/{n} "
                  f"({agree / n:.0%}) | {rescored:.2f} | {executed:.2f} | "
                  f"{executed / rescored:.1f}x |")  # fmt: skip
        cut = sum(any(e.attempt > 0 for e in t.of_kind(GateChecked)) for t in timelines)
    print(
        f"\n({cut} of the {n} recorded code runs revised at least once, so a lower limit "
        "changes their outcome.)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rescore-tasks", type=int, default=40)
    parser.add_argument("--rescore-code-tasks", type=int, default=8)
    parser.add_argument(
        "--svg",
        default=str(Path(__file__).with_name("learner_regret.svg")),
        help="where to draw the regret curves ('' for nowhere)",
    )
    parser.add_argument("--only", default=None, help="run only the families whose name has this")
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    curves = {
        name: family(name, data, args)
        for name, data in FAMILIES.items()
        if args.only is None or args.only in name
    }
    if args.svg and curves:
        draw(curves, args.svg)
    if args.rescore_tasks:
        asyncio.run(rescoring(args.rescore_tasks, args.rescore_code_tasks))


if __name__ == "__main__":
    main()
