"""``PatternLearner``: picks the strategy for each next task by Thompson sampling on the
objective, logs each choice with its propensity, learns from the result, and keeps its state.

    learner = ek.PatternLearner("strategies.yaml", suite="arithmetic", seed=0)
    choice = learner.choose()          # a Choice: strategy, and every candidate's probability
    ...run the chosen strategy, with learner.note(choice) recorded in its timeline...
    learner.update(choice, record)     # saved under $EKKLESIA_HOME/learn/learners/<name>/

The state is the strategies, the objective and the log of choices (with their propensities and
outcomes); the posteriors are rebuilt from the log, so a learner started again over the same
state continues exactly where it was (the same next choice, the same propensity). A state made for
other strategies, another objective, suite or seed is refused rather than mixed in.
:func:`learn` runs the loop with the learner as a Ray actor; :meth:`PatternLearner.actor` starts
one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from pydantic import BaseModel

from ekklesia.core.aio import run_sync
from ekklesia.core.events import StrategyChosen
from ekklesia.errors import SpecError, UserError
from ekklesia.learn.bandit import Choice, Posterior, choose
from ekklesia.learn.runs import Runner, RunRecord, suite_tasks
from ekklesia.learn.store import learn_home
from ekklesia.learn.strategies import Strategies, load_strategies
from ekklesia.runtime.ray_support import ensure_ray

__all__ = [
    "LearnerState",
    "LoggedRun",
    "PatternLearner",
    "alearn",
    "learn",
    "learner_names",
    "reset_learners",
]

DEFAULT_NAME = "default"


class LoggedRun(BaseModel):
    """One decision of the learner and what the chosen strategy did."""

    decision: int
    task_id: str
    strategy: str
    propensity: float
    propensities: dict[str, float]
    value: float
    record: RunRecord


class LearnerState(BaseModel):
    """What a learner persists: enough to rebuild it exactly."""

    name: str
    suite: str
    seed: int
    objective: str
    strategies: list[dict[str, Any]]
    log: list[LoggedRun] = []


def state_path(name: str, home: Path | None = None) -> Path:
    return (home or learn_home()) / "learners" / name / "state.json"


def learner_names(home: Path | None = None) -> list[str]:
    root = (home or learn_home()) / "learners"
    return sorted(p.parent.name for p in root.glob("*/state.json")) if root.exists() else []


def reset_learners(name: str | None = None, home: Path | None = None) -> list[str]:
    """Remove the persisted state of learner ``name`` (None: every learner); the names removed."""
    names = learner_names(home) if name is None else [name]
    removed = []
    for each in names:
        folder = state_path(each, home).parent
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(each)
    return removed


def load_state(name: str, home: Path | None = None) -> LearnerState:
    path = state_path(name, home)
    try:
        return LearnerState.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"no learner named {name!r} (run `ekklesia learn STRATEGIES ...`)"
        ) from None


class PatternLearner:
    """A learner over a set of strategies; see the module docstring."""

    def __init__(
        self,
        strategies: Strategies | str | Path,
        *,
        suite: str = "arithmetic",
        seed: int = 0,
        name: str = DEFAULT_NAME,
        home: Path | str | None = None,
    ) -> None:
        self.strategies = load_strategies(strategies)
        self.suite = suite
        self.seed = seed
        self.name = name
        self.home = Path(home) if home is not None else learn_home()
        self.path = state_path(name, self.home)
        fresh = LearnerState(
            name=name,
            suite=suite,
            seed=seed,
            objective=self.strategies.objective.expression,
            strategies=self.strategies.to_data()["strategies"],
        )
        if self.path.exists():
            saved = LearnerState.model_validate_json(self.path.read_text(encoding="utf-8"))
            fields = ("suite", "seed", "objective", "strategies")
            if differs := [f for f in fields if getattr(saved, f) != getattr(fresh, f)]:
                raise SpecError(
                    f"learner {name!r} was learning with another {differs[0]} "
                    f"(state in {self.path}): `ekklesia learn reset --name {name}` clears it, "
                    "or give another --name"
                )
            self.state = saved
        else:
            self.state = fresh

    @classmethod
    def restore(cls, state: LearnerState, home: Path | None = None) -> PatternLearner:
        """The learner a persisted state describes."""
        strategies = Strategies.of(
            {"strategies": state.strategies, "objective": state.objective},
            source=f"learner {state.name}",
        )
        return cls(strategies, suite=state.suite, seed=state.seed, name=state.name, home=home)

    @classmethod
    def load(cls, name: str = DEFAULT_NAME, home: Path | None = None) -> PatternLearner:
        """The learner persisted as ``name``."""
        return cls.restore(load_state(name, home), home)

    # -- deciding ------------------------------------------------------------------------------

    @property
    def runs(self) -> int:
        return len(self.state.log)

    def posteriors(self, upto: int | None = None) -> dict[str, Posterior]:
        """Each strategy's posterior after the first ``upto`` runs (None: all)."""
        found = {name: Posterior() for name in self.strategies.names}
        for logged in self.state.log[:upto]:
            found[logged.strategy] = found[logged.strategy].add(logged.value)
        return found

    def choose(self) -> Choice:
        """The strategy for the next run, with every candidate's probability of being chosen."""
        return choose(list(self.posteriors().items()), self.runs, self.seed)

    def note(self, choice: Choice) -> StrategyChosen:
        """The event that records ``choice`` in its run's timeline."""
        return StrategyChosen(
            learner=self.name,
            decision=choice.decision,
            strategy=choice.strategy,
            propensity=choice.propensity,
            propensities=choice.propensities,
            objective=self.strategies.objective.expression,
        )

    def update(self, choice: Choice, record: RunRecord) -> None:
        """Learn from the chosen strategy's run; the state is saved at once."""
        if choice.decision != self.runs:
            raise UserError(
                f"learner {self.name!r} is at decision {self.runs}, not {choice.decision}"
            )
        self.state.log.append(
            LoggedRun(
                decision=choice.decision,
                task_id=record.task_id,
                strategy=choice.strategy,
                propensity=choice.propensity,
                propensities=choice.propensities,
                value=record.value(self.strategies.objective),
                record=record,
            )
        )
        self.save()

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".state.{os.getpid()}.tmp")
        tmp.write_text(self.state.model_dump_json(), encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path

    # -- what it has learned -------------------------------------------------------------------

    def best(self, upto: int | None = None) -> str:
        """The strategy with the highest posterior mean (among those run)."""
        means = {n: p.mean for n, p in self.posteriors(upto).items() if p.mean is not None}
        if not means:
            return self.strategies.names[0]
        return max(self.strategies.names, key=lambda n: means.get(n, float("-inf")))

    def estimates(self, upto: int | None = None) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, posterior in self.posteriors(upto).items():
            interval = posterior.interval()
            out[name] = {
                "mean": posterior.mean,
                "ci": None if interval is None else list(interval),
                "runs": posterior.n,
            }
        return out

    @property
    def choices(self) -> list[str]:
        return [logged.strategy for logged in self.state.log]

    def cumulative_regret(self) -> list[float]:
        """After each run, the sum of (best mean - chosen strategy's mean), by the final means."""
        means = {n: p.mean for n, p in self.posteriors().items()}
        top = means[self.best()] or 0.0
        total, out = 0.0, []
        for name in self.choices:
            total += top - (means[name] or 0.0)
            out.append(total)
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``ekklesia learn --json`` object (a contract)."""
        return {
            "best": self.best(),
            "estimates": self.estimates(),
            "choices": self.choices,
            "cumulative_regret": self.cumulative_regret(),
        }

    # -- as a Ray actor ------------------------------------------------------------------------

    @classmethod
    def actor(
        cls,
        strategies: Strategies | str | Path,
        *,
        suite: str = "arithmetic",
        seed: int = 0,
        name: str = DEFAULT_NAME,
        home: Path | str | None = None,
    ) -> Any:
        """A Ray actor holding a learner (its home fixed here: an actor's process does not see
        the caller's environment changes)."""
        ensure_ray()
        remote: Any = ray.remote(num_cpus=0, max_restarts=0)(cls)
        return remote.remote(
            load_strategies(strategies),
            suite=suite,
            seed=seed,
            name=name,
            home=str(Path(home) if home is not None else learn_home()),
        )

    def ping(self) -> int:
        return self.runs


async def alearn(
    strategies: Strategies | str | Path,
    *,
    suite: str = "arithmetic",
    runs: int = 20,
    seed: int = 0,
    name: str = DEFAULT_NAME,
    on_progress: Callable[[int, int], None] | None = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Run the learner until it has ``runs`` runs in all (a learner with some already goes on
    from there); the ``ekklesia learn --json`` object. A ``runner`` the caller holds keeps its
    swarms' hosts between calls."""
    if runs < 1:
        raise SpecError(f"--runs must be >= 1, got {runs}")
    chosen = load_strategies(strategies)
    PatternLearner(chosen, suite=suite, seed=seed, name=name)  # refuse a mismatched state here
    tasks = suite_tasks(suite, runs, seed, chosen)
    learner = PatternLearner.actor(chosen, suite=suite, seed=seed, name=name)
    running = runner or Runner()
    try:
        done: int = await learner.ping.remote()
        if on_progress is not None:
            on_progress(min(done, runs), runs)
        for i in range(done, runs):
            choice: Choice = await learner.choose.remote()
            note: StrategyChosen = await learner.note.remote(choice)
            record = await running.run(chosen[choice.strategy], tasks[i], seed, [note])
            await learner.update.remote(choice, record)
            if on_progress is not None:
                on_progress(i + 1, runs)
        report: dict[str, Any] = await learner.to_json.remote()
    finally:
        if runner is None:
            running.close()
        with contextlib.suppress(Exception):
            ray.kill(learner, no_restart=True)
    return report


def learn(
    strategies: Strategies | str | Path,
    *,
    suite: str = "arithmetic",
    runs: int = 20,
    seed: int = 0,
    name: str = DEFAULT_NAME,
    on_progress: Callable[[int, int], None] | None = None,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """:func:`alearn` from sync code."""
    return run_sync(
        alearn(
            strategies,
            suite=suite,
            runs=runs,
            seed=seed,
            name=name,
            on_progress=on_progress,
            runner=runner,
        ),
        "learn()",
        "await alearn(...)",
    )


def describe_state(state: LearnerState) -> dict[str, Any]:
    """What ``ekklesia learn status --json`` prints for one learner."""
    learner = PatternLearner.restore(state)
    return {
        "name": state.name,
        "suite": state.suite,
        "seed": state.seed,
        "objective": state.objective,
        "runs": len(state.log),
        "best": learner.best(),
        "estimates": learner.estimates(),
    }
