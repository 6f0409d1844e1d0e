"""One strategy run on one task, as the learner keeps it; the suites it runs on; and the runner.

A :class:`RunRecord` holds what the objective reads (accuracy, score, USD, tokens) and where the
run's timeline is. :func:`suite_tasks` gives the tasks of ``--suite``: ``arithmetic`` (the debate
tasks of Du et al., drawn from the seed) or a HumanEval code suite — ``humaneval-<pattern>``, or
``humaneval`` for the suite of the one code pattern the strategies name. :class:`Runner` keeps one
swarm per strategy, so its hosts start once and serve every task of that strategy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.core.events import AnyEvent
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.learn.objective import Objective
from ekklesia.learn.strategies import Strategies, Strategy
from ekklesia.patterns.library import get_pattern
from ekklesia.swarm import RunResult, Swarm
from ekklesia.tasks import suite as debate_suite

__all__ = ["RunRecord", "Runner", "Summary", "suite_tasks", "summarise"]


class RunRecord(BaseModel):
    """One finished run of a strategy on a task, with the figures the objective reads."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    digest: str
    task_id: str
    seed: int
    run_id: str
    answer: str | None
    correct: bool | None
    score: float | None
    usd: float
    tokens: int
    rounds: int
    stop_reason: str

    @classmethod
    def of(cls, strategy: Strategy, seed: int, result: RunResult) -> RunRecord:
        return cls(
            strategy=strategy.name,
            digest=strategy.digest,
            task_id=result.task_id,
            seed=seed,
            run_id=result.run_id,
            answer=result.answer,
            correct=result.correct,
            score=result.score,
            usd=result.usage.usd,
            tokens=result.usage.total_tokens,
            rounds=result.rounds,
            stop_reason=result.stop_reason,
        )

    def figures(self) -> dict[str, float]:
        accuracy = 1.0 if self.correct else 0.0
        score = accuracy if self.score is None else self.score
        return {"accuracy": accuracy, "score": score, "usd": self.usd, "tokens": self.tokens}

    def value(self, objective: Objective) -> float:
        return objective.value(self.figures())


class Summary(BaseModel):
    """A strategy's per-task means over its runs, the objective's mean and its 95% interval."""

    name: str
    runs: int
    accuracy: float
    score: float
    usd: float
    tokens: float
    objective: float
    ci: tuple[float, float]

    def to_json(self, measure: str) -> dict[str, Any]:
        """The ``ekklesia sweep --json`` entry (a contract): ``measure`` is accuracy or score."""
        return {
            "name": self.name,
            measure: getattr(self, measure),
            "usd": self.usd,
            "tokens": self.tokens,
            "objective": self.objective,
            "ci": list(self.ci),
        }


def mean_ci(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """The mean and a 95% normal interval of it (a single value: the value itself)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, (mean, mean)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = 1.96 * math.sqrt(var / n)
    return mean, (mean - half, mean + half)


def summarise(name: str, records: Sequence[RunRecord], objective: Objective) -> Summary:
    if not records:
        raise SpecError(f"strategy {name!r} has no finished runs")
    figures = [r.figures() for r in records]
    n = len(records)
    value, ci = mean_ci([r.value(objective) for r in records])
    return Summary(
        name=name,
        runs=n,
        accuracy=sum(f["accuracy"] for f in figures) / n,
        score=sum(f["score"] for f in figures) / n,
        usd=sum(f["usd"] for f in figures) / n,
        tokens=sum(f["tokens"] for f in figures) / n,
        objective=value,
        ci=ci,
    )


def suite_tasks(suite: str, n: int, seed: int, strategies: Strategies) -> list[Task]:
    """The first ``n`` tasks of ``suite`` drawn from ``seed``."""
    if n < 1:
        raise SpecError(f"a suite needs n >= 1 tasks, got {n}")
    if suite == "arithmetic":
        return debate_suite(suite, n, seed)
    if suite == "humaneval" or suite.startswith("humaneval-"):
        from ekklesia.code.suites import PATTERNS
        from ekklesia.code.suites import suite as code_suite

        pattern = suite.removeprefix("humaneval").removeprefix("-")
        if not pattern:
            named = sorted({s.spec.pattern for s in strategies.strategies} & set(PATTERNS))
            if len(named) != 1:
                raise SpecError(
                    "--suite humaneval runs the suite of the code pattern the strategies name; "
                    f"they name {', '.join(named) or 'none'}: give --suite humaneval-<pattern>"
                )
            pattern = named[0]
        if pattern not in PATTERNS:
            raise SpecError(
                f"unknown code suite {suite!r} (known: humaneval, "
                + ", ".join(f"humaneval-{p}" for p in PATTERNS)
                + ")"
            )
        return code_suite(pattern, n, seed)
    raise SpecError(f"unknown suite {suite!r} (known: arithmetic, humaneval, humaneval-<pattern>)")


def measure_of(tasks: Sequence[Task]) -> str:
    """``accuracy`` for suites answered right or wrong, ``score`` for the scored code suites."""
    return "score" if any(t.suite.startswith("humaneval") for t in tasks) else "accuracy"


class Runner:
    """Runs strategies on tasks, one swarm per strategy (and seed), reused across tasks."""

    def __init__(self) -> None:
        self._swarms: dict[tuple[str, int], Swarm] = {}

    def swarm(self, strategy: Strategy, seed: int) -> Swarm:
        key = (strategy.digest, seed)
        if key not in self._swarms:
            spec = strategy.seeded(seed)
            get_pattern(spec.pattern)  # an unknown pattern is a SpecError before any host starts
            self._swarms[key] = Swarm.from_spec(spec)
        return self._swarms[key]

    async def run(
        self, strategy: Strategy, task: Task, seed: int, notes: Sequence[AnyEvent] = ()
    ) -> RunRecord:
        result = await self.swarm(strategy, seed).arun(task, notes=notes)
        return RunRecord.of(strategy, seed, result)

    def close(self) -> None:
        for swarm in self._swarms.values():
            swarm.close()
        self._swarms = {}

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def by_strategy(records: Sequence[RunRecord]) -> Mapping[str, list[RunRecord]]:
    out: dict[str, list[RunRecord]] = {}
    for record in records:
        out.setdefault(record.strategy, []).append(record)
    return out
