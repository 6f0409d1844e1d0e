"""The HumanEval code suites: how many problems yield a failing mutant of each kind, and what
building each whole suite costs, cold (every mutant and benchmark checked in the sandbox) and warm
(read from the cache).

Part one asks, for every problem and every mutation kind alone, for one mutant of the canonical
solution that fails the problem's tests (``failing_mutants(problem, seed, 1, kinds=(kind,))``).
Part two builds the seven suites with n=164 in a fresh ``EKKLESIA_HOME``, twice. Prints Markdown
and writes the figures to ``benchmarks/out/code_suites.json``::

    PYTHONPATH=src python benchmarks/code_suites.py [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "out"


async def per_kind(seed: int) -> dict[str, Any]:
    from ekklesia.code import MUTATION_KINDS, failing_mutants, full_program, mutants, problems

    figures: dict[str, Any] = {}
    for kind in MUTATION_KINDS:
        started = time.perf_counter()
        pool = problems()
        candidates = [mutants(full_program(p), seed, (kind,), function=p.entry_point) for p in pool]
        found = await asyncio.gather(*(failing_mutants(p, seed, 1, kinds=(kind,)) for p in pool))
        figures[kind] = {
            "with_candidates": sum(1 for c in candidates if c),
            "candidates": sum(len(c) for c in candidates),
            "with_failing": sum(1 for f in found if f),
            "wall_s": round(time.perf_counter() - started, 1),
        }
    return figures


async def whole_suites(seed: int) -> dict[str, Any]:
    from ekklesia.code import PATTERNS, asuite

    figures: dict[str, Any] = {}
    for pattern in PATTERNS:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            tasks = await asuite(pattern, 164, seed)
            times.append(round(time.perf_counter() - started, 2))
        row: dict[str, Any] = {"tasks": len(tasks), "cold_s": times[0], "warm_s": times[1]}
        if pattern == "testing":
            counts = [len(t.meta["mutants"]) for t in tasks]
            row["mutants_per_task"] = round(sum(counts) / len(counts), 2)
            row["tasks_with_5_mutants"] = sum(1 for c in counts if c == 5)
        if pattern == "code_review":
            row["bug"] = sum(1 for t in tasks if t.expected == "bug")
        if pattern in ("bug_fix", "code_review"):
            kinds: dict[str, int] = {}
            for t in tasks:
                if t.meta["mutation"] is not None:
                    kind = t.meta["mutation"]["kind"]
                    kinds[kind] = kinds.get(kind, 0) + 1
            row["mutation_kinds"] = kinds
        if pattern == "optimization":
            row["sizes"] = sorted({t.meta["benchmark"]["size"] for t in tasks})[:3]
        figures[pattern] = row
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["EKKLESIA_HOME"] = tempfile.mkdtemp(prefix="ekklesia-code-suites-")
    started = time.perf_counter()
    kinds = asyncio.run(per_kind(args.seed))
    suites = asyncio.run(whole_suites(args.seed))
    total_s = round(time.perf_counter() - started, 1)

    print(f"seed {args.seed}, {os.cpu_count()} cores, {total_s} s in all\n")
    print("| kind | problems with a candidate | candidates | problems with a failing one | s |")
    print("|---|---|---|---|---|")
    for kind, row in kinds.items():
        print(
            f"| {kind} | {row['with_candidates']} | {row['candidates']} | "
            f"{row['with_failing']} | {row['wall_s']} |"
        )
    print("\n| suite | tasks (n=164) | cold s | warm s | notes |")
    print("|---|---|---|---|---|")
    for pattern, row in suites.items():
        notes = {k: v for k, v in row.items() if k not in ("tasks", "cold_s", "warm_s")}
        print(
            f"| {pattern} | {row['tasks']} | {row['cold_s']} | {row['warm_s']} | "
            f"{json.dumps(notes) if notes else ''} |"
        )
    OUT.mkdir(exist_ok=True)
    figures = {"seed": args.seed, "total_s": total_s, "kinds": kinds, "suites": suites}
    (OUT / "code_suites.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
