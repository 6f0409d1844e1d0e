"""The research team on the generated corpus, with simulated models: one researcher alone against
the team with a fact-checker.

    python benchmarks/research.py [--questions 20] [--researcher 0.7] [--checker 0.9] [--seed 0]
    python benchmarks/research.py --model openai:http://127.0.0.1:8000/v1#MODEL   # a real model

The corpus (``ekklesia.research.corpus``) is written to a temporary folder and indexed with the
real indexer and MiniLM; the ``local`` provider searches it in ``text`` mode (BM25), so no run
waits for a model to load in its host. Per configuration, every question runs on one swarm and
is scored by ``ekklesia.research.suite.score`` (accuracy, citation precision and recall,
contradiction detection and false alarms, as its docstring defines them), plus tokens and USD per
question (the simulated models are priced as gpt-4o-mini).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from ekklesia.memory.indexer import open_indexer
from ekklesia.patterns.spec import RunSpec
from ekklesia.research.corpus import Corpus, corpus
from ekklesia.research.run import read_report, research_task
from ekklesia.research.suite import score
from ekklesia.swarm import Swarm

TEAM = "ekklesia.research.team"


def agents(
    single: bool, researcher: float, checker: float, model: str | None = None
) -> list[dict[str, Any]]:
    """The team; ``model`` (a real model's spec) plays every member instead of simulated ones."""
    team: list[dict[str, Any]] = [
        {"name": "planner", "role": "planner", "model": "sim:skill=1"},
        {
            "name": "researcher",
            "role": "researcher",
            "class": f"{TEAM}:Researcher",
            "tools": ["web_search"],
            "model": f"sim:skill={researcher}",
        },
        {"name": "writer", "role": "writer", "class": f"{TEAM}:Writer", "model": "sim:skill=1"},
    ]
    if not single:
        team.append(
            {
                "name": "fact-checker",
                "role": "fact_checker",
                "class": f"{TEAM}:FactChecker",
                "tools": ["web_search"],
                "model": f"sim:skill={checker}",
            }
        )
    if model is not None:
        team = [{**member, "model": model} for member in team]
    return team


async def run(
    world: Corpus, single: bool, researcher: float, checker: float, seed: int, model: str | None
) -> tuple[dict[str, float], float]:
    spec = RunSpec.of(
        {
            "pattern": "research_single" if single else "research",
            "agents": agents(single, researcher, checker, model),
            "seed": seed,
            "rounds": 1,
            "placement": "single",
        }
    )
    began = time.perf_counter()
    reports = []
    with Swarm.from_spec(spec) as swarm:
        for task in world.tasks():
            prepared = research_task(task, provider="local", mode="text")
            result = await swarm.arun(prepared)
            reports.append(read_report(result, task.prompt))
    return score(world, reports), (time.perf_counter() - began) / len(reports)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--entities", type=int, default=12)
    parser.add_argument("--researcher", type=float, default=0.7)
    parser.add_argument("--checker", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None, help="a real model's spec for every member")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="ekklesia-research-bench-")
    os.environ["EKKLESIA_HOME"] = home
    world = corpus(args.seed, entities=args.entities, questions=args.questions)
    folder = world.write(os.path.join(home, "corpus"))
    began = time.perf_counter()
    indexed = await open_indexer("default", on_ray=False).index(folder)
    print(
        f"corpus seed {args.seed}: {len(world.documents)} documents "
        f"({sum(d.distractor for d in world.documents)} distractors), {len(world.questions)} "
        f"questions; indexed {indexed.chunks_added} chunks in {time.perf_counter() - began:.1f} s"
    )
    print(
        "| team | accuracy | citation precision | citation recall | contradiction detection "
        "| false alarms | tokens / question | USD / question | s / question |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for single in (True, False):
        figures, seconds = await run(
            world, single, args.researcher, args.checker, args.seed, args.model
        )
        if args.model is not None:
            name = f"{'researcher alone' if single else 'researcher + fact-checker'} ({args.model})"
        else:
            name = (
                f"researcher alone (skill {args.researcher:g})"
                if single
                else f"researcher + fact-checker (skill {args.checker:g})"
            )
        print(
            f"| {name} | {figures['accuracy']:.2f} | {figures['citation_precision']:.2f} "
            f"| {figures['citation_recall']:.2f} | {figures['contradiction_detection']:.2f} "
            f"({figures['false_claims']:.0f} false claims) | {figures['false_alarms']:.2f} "
            f"| {figures['tokens_per_question']:,.0f} | {figures['usd_per_question']:.6f} "
            f"| {seconds:.2f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
