"""Runtime overhead per round, and per tool call, with models and tools that take no time.

    python benchmarks/overhead.py [--rounds 50] [--runs 5]

A round's time is read from the timeline (the wall time between consecutive ``round_started``
events), so it covers delivering inboxes, one batched call per host per stage, stepping every
agent, and applying and recording the turns. Set-ups: a 5-agent debate (one actor per agent, and
all agents in one host), and a staged pattern of three stages (plan → code → review, one agent
each, each hearing the stage before it). A tool call's overhead is the extra time of a one-round
run whose agent makes 100 no-op tool calls, divided by 100: validating the arguments, the call, the
``tool_call`` event, carrying it back to the driver and recording it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile

import ekklesia as ek
from ekklesia.core.events import RoundStarted, RunStopped


def instant(request: ek.LLMRequest) -> str:
    return "Answer: 4\nConfidence: 0.9"


@ek.tool(timeout_s=None)
async def noop(n: int) -> int:
    """Return its argument."""
    return n


class ToolUser(ek.Agent):
    calls = 100

    async def step(self, inbox, ctx):  # type: ignore[no-untyped-def]
        for i in range(self.calls):
            await ctx.call_tool("noop", n=i)
        return [ek.Utterance(content="Answer: 4", answer="4")]


STAGED = ek.Pattern(
    name="plan-code-review",
    roles=("planner", "coder", "reviewer"),
    stages=(
        ek.Stage("plan", roles=("planner",), hears=("review",)),
        ek.Stage("code", roles=("coder",), hears=("plan",)),
        ek.Stage("review", roles=("reviewer",), hears=("code",)),
    ),
    stop_rules=(),
    voters="review",
)


def round_ms(swarm: ek.Swarm, runs: int) -> list[float]:
    swarm.run(ek.Task.of("2+2?", "4"))  # warm-up: hosts started, code paths imported
    samples: list[float] = []
    for _ in range(runs):
        timeline = swarm.run(ek.Task.of("2+2?", "4")).timeline
        starts = [e.wall_time for e in timeline.of_kind(RoundStarted)]
        samples += [1000 * (b - a) for a, b in itertools.pairwise(starts)]
    return sorted(samples)


def debate(placement: str, rounds: int, runs: int) -> list[float]:
    agents = [ek.Agent(f"a{i}", model=ek.FunctionModel(instant)) for i in range(5)]
    with ek.Swarm(agents, rounds=rounds, placement=placement, stop_on_consensus=False) as swarm:
        return round_ms(swarm, runs)


def staged(rounds: int, runs: int) -> list[float]:
    agents = [
        ek.Agent(role, role=role, model=ek.FunctionModel(instant))
        for role in ("planner", "coder", "reviewer")
    ]
    with ek.Swarm(agents, pattern=STAGED, rounds=rounds, placement="single") as swarm:
        return round_ms(swarm, runs)


def tools(calls: int, rounds: int, runs: int) -> list[float]:
    """One agent, one round a run: the round's time from ``round_started`` to ``run_stopped``."""
    ek.register_tool(noop)
    ToolUser.calls = calls
    samples: list[float] = []
    with ek.Swarm([ToolUser("t", tools=["noop"])], rounds=1) as swarm:
        swarm.run(ek.Task.of("2+2?", "4"))
        for _ in range(rounds * runs // 5):
            timeline = swarm.run(ek.Task.of("2+2?", "4")).timeline
            (began,) = timeline.of_kind(RoundStarted)
            (ended,) = timeline.of_kind(RunStopped)
            samples.append(1000 * (ended.wall_time - began.wall_time))
    return sorted(samples)


def row(label: str, samples: list[float]) -> str:
    p95 = samples[int(0.95 * (len(samples) - 1))]
    return f"| {label} | {len(samples)} | {statistics.median(samples):.2f} | {p95:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("EKKLESIA_HOME", tempfile.mkdtemp(prefix="ekklesia-bench-"))
    print("| set-up | rounds measured | median ms / round | p95 ms / round |")
    print("|---|---|---|---|")
    for placement in ("per_agent", "single"):
        print(row(f"debate, 5 agents, {placement}", debate(placement, args.rounds, args.runs)))
    print(row("staged, 3 stages x 1 agent, single", staged(args.rounds, args.runs)))
    bare = tools(0, args.rounds, args.runs)
    busy = tools(100, args.rounds, args.runs)
    print(row("1 agent, 1 round, no tool call", bare))
    print(row("1 agent, 1 round, 100 no-op tool calls", busy))
    per_call = (statistics.median(busy) - statistics.median(bare)) / 100 * 1000
    print(f"\none recorded no-op tool call: {per_call:.0f} µs (median difference / 100)")


if __name__ == "__main__":
    main()
