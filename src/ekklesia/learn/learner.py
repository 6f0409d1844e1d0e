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

In a cluster each learner is one named actor (:class:`SharedLearner`: ``ekklesia-learner-<name>-…``
in the ``ekklesia`` namespace, keyed by the learner's name and home), which every driver gets by
name: ``ekklesia learn`` and ``strategy="auto"`` runs, in one process or several, choose and
update through the same actor, one call at a time, so no update overwrites another. Choices may
be outstanding together (runs side by side): each gets its own decision number, and a run's
update is accepted once, whenever it arrives. The actor is detached: drivers come and go (an
``ekklesia learn`` ends while a service's ``strategy="auto"`` runs go on), and one that ended must
not take the learner, and the choices still out, with it. It holds no CPU, ends with the cluster
(``ray stop``; with a local instance, with the driver), and keeps nothing that is not on disk:
every update is saved before it returns, and a learner takes the state on disk again whenever
someone else changed it (a ``learn reset``, a learner in another process). After a reset, the
next driver that names the learner with other strategies replaces an actor that holds the old.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from pydantic import BaseModel

from ekklesia.core.aio import run_sync
from ekklesia.core.events import StrategyChosen
from ekklesia.errors import EkklesiaError, SpecError, UserError
from ekklesia.learn.bandit import Choice, Posterior, choose
from ekklesia.learn.runs import Runner, RunRecord, suite_tasks
from ekklesia.learn.store import learn_home
from ekklesia.learn.strategies import Strategies, Strategy, load_strategies
from ekklesia.runtime.ray_errors import host_gone, remote_cause, run_error
from ekklesia.runtime.ray_support import ensure_ray

__all__ = [
    "NAMESPACE",
    "Decision",
    "LearnerState",
    "LoggedRun",
    "PatternLearner",
    "SharedLearner",
    "alearn",
    "learn",
    "learner_names",
    "reset_learners",
]

DEFAULT_NAME = "default"
#: The Ray namespace of the learners' named actors: every driver finds them there.
NAMESPACE = "ekklesia"
_ATTEMPTS = 3  # a killed actor's name is free again a moment after the kill


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
        self._fresh = fresh
        self._stamp: tuple[int, int] | None = None
        self.pending: dict[int, Choice] = {}  # chosen, not yet updated (runs under way)
        self.state = fresh
        self._refresh()

    def _refresh(self) -> None:
        """Take the state on disk when it is not what this learner last read or wrote."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        if stamp is None:  # reset, or never saved
            self.state = self._fresh.model_copy(deep=True)
        else:
            saved = LearnerState.model_validate_json(self.path.read_text(encoding="utf-8"))
            fields = ("suite", "seed", "objective", "strategies")
            if differs := [f for f in fields if getattr(saved, f) != getattr(self._fresh, f)]:
                raise SpecError(
                    f"learner {self.name!r} was learning with another {differs[0]} "
                    f"(state in {self.path}): `ekklesia learn reset --name {self.name}` clears "
                    "it, or give another --name"
                )
            self.state = saved
        self._stamp = stamp

    def identity(self) -> tuple[str, int, str, list[dict[str, Any]]]:
        """What a state must match to be this learner's: suite, seed, objective, strategies."""
        fresh = self._fresh
        return fresh.suite, fresh.seed, fresh.objective, fresh.strategies

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

    def next_decision(self) -> int:
        """The number of the next choice: one past every choice logged or outstanding."""
        taken = [logged.decision for logged in self.state.log] + list(self.pending)
        return max(len(self.state.log), max(taken, default=-1) + 1)

    def choose(self) -> Choice:
        """The strategy for the next run, with every candidate's probability of being chosen
        (from the runs logged so far); outstanding until :meth:`update` gets its run."""
        self._refresh()
        decision = self.next_decision()
        choice = choose(list(self.posteriors().items()), decision, self.seed)
        self.pending[decision] = choice
        return choice

    def decide(self, limit: int | None = None) -> Decision | None:
        """:meth:`choose`, with what a run of the choice needs; None once ``limit`` choices are
        logged or outstanding (in one call, so that drivers side by side cannot overshoot)."""
        self._refresh()
        if limit is not None and self.next_decision() >= limit:
            return None
        choice = self.choose()
        return Decision(choice, self.note(choice), self.strategies[choice.strategy], self.seed)

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
        """Learn from the chosen strategy's run; the state is saved at once. Each decision is
        learned from once (a choice made by an earlier actor of this learner is accepted too)."""
        self._refresh()
        if any(logged.decision == choice.decision for logged in self.state.log):
            raise UserError(
                f"learner {self.name!r} has already learned from decision {choice.decision}"
            )
        self.pending.pop(choice.decision, None)
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
        self._stamp = _stamp(self.path)
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
        """The learner's named Ray actor, started if no driver has (see :class:`SharedLearner`)."""
        chosen = load_strategies(strategies)
        where = Path(home) if home is not None else None
        return SharedLearner(chosen, suite=suite, seed=seed, name=name, home=where).handle()

    def ping(self) -> int:
        """The runs learned from, as the state on disk now says."""
        self._refresh()
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
    learner = SharedLearner(chosen, suite=suite, seed=seed, name=name)
    running = runner or Runner()
    try:
        if on_progress is not None:
            on_progress(min(await learner.call("ping"), runs), runs)
        # choices of other drivers (strategy="auto" runs) count towards --runs as well
        while (decision := await learner.call("decide", runs)) is not None:
            choice = decision.choice
            task = tasks[choice.decision]
            record = await running.run(decision.strategy, task, seed, [decision.note])
            await learner.call("update", choice, record)
            if on_progress is not None:
                on_progress(min(await learner.call("ping"), runs), runs)
        report: dict[str, Any] = await learner.call("to_json")
    finally:
        if runner is None:
            running.close()
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


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_mtime_ns, found.st_size


@dataclass(frozen=True)
class Decision:
    """A choice, the event that records it, and the strategy and seed its run uses."""

    choice: Choice
    note: StrategyChosen
    strategy: Strategy
    seed: int


def actor_name(name: str, home: Path) -> str:
    """``ekklesia-learner-<name>-<home digest>``: one learner is one name and one home (tests and
    users with two homes have two learners called ``default``)."""
    digest = hashlib.blake2b(str(home.resolve()).encode(), digest_size=4).hexdigest()
    return f"ekklesia-learner-{name}-{digest}"


class SharedLearner:
    """The learner ``name`` (of ``home``) as the one named actor every driver of a cluster uses.

    :meth:`call` gets the actor by name (starting it, from the state on disk, when no driver
    has) and calls one of its methods; an actor that ended with the driver that started it is
    started again once, from disk. An actor found running for other strategies, objective, suite
    or seed is refused while its state is on disk (as that state is), and replaced once it was
    reset.
    """

    def __init__(
        self,
        strategies: Strategies,
        *,
        suite: str,
        seed: int,
        name: str = DEFAULT_NAME,
        home: Path | None = None,
    ) -> None:
        self.strategies, self.suite, self.seed, self.name = strategies, suite, seed, name
        self.home = home or learn_home()
        self._handle: Any = None
        self._identity = LearnerState(
            name=name,
            suite=suite,
            seed=seed,
            objective=strategies.objective.expression,
            strategies=strategies.to_data()["strategies"],
        )

    @classmethod
    def of(cls, name: str = DEFAULT_NAME, home: Path | None = None) -> SharedLearner:
        """The learner persisted as ``name``."""
        state = load_state(name, home)
        strategies = Strategies.of(
            {"strategies": state.strategies, "objective": state.objective},
            source=f"learner {state.name}",
        )
        return cls(strategies, suite=state.suite, seed=state.seed, name=name, home=home)

    def handle(self) -> Any:
        if self._handle is None:
            ensure_ray()
            remote: Any = ray.remote(num_cpus=0, max_restarts=0)(PatternLearner)
            self._handle = remote.options(
                name=actor_name(self.name, self.home),
                namespace=NAMESPACE,
                get_if_exists=True,
                lifetime="detached",
            ).remote(
                self.strategies,
                suite=self.suite,
                seed=self.seed,
                name=self.name,
                home=str(self.home),  # an actor's process does not see the driver's environment
            )
        return self._handle

    async def call(self, method: str, *args: Any) -> Any:
        """``method(*args)`` on the actor, awaited."""
        for attempt in range(_ATTEMPTS):
            fresh = self._handle is None
            handle = self.handle()
            try:
                if fresh and not await self._usable(handle):
                    self._handle = None
                    continue
                return await getattr(handle, method).remote(*args)
            except Exception as exc:  # Ray's errors, mapped at the one boundary
                self._handle = None
                if attempt < _ATTEMPTS - 1 and host_gone(exc):
                    continue  # killed, or being replaced: the next start reads the disk
                cause = remote_cause(exc)
                if cause is not exc:
                    raise cause from None
                if isinstance(exc, EkklesiaError):
                    raise
                raise run_error(f"learner {self.name!r}", exc) from exc
        raise run_error(f"learner {self.name!r}", RuntimeError("its actor would not start"))

    async def _usable(self, handle: Any) -> bool:
        """Whether the actor found is this learner; False once a reset one is killed."""
        found = await handle.identity.remote()
        ident = self._identity
        if tuple(found) == (ident.suite, ident.seed, ident.objective, ident.strategies):
            return True
        if not state_path(self.name, self.home).exists():  # reset since it started: replace it
            ray.kill(handle, no_restart=True)
            return False
        raise SpecError(
            f"learner {self.name!r} is running in this cluster with other strategies, "
            "objective, suite or seed (started by another driver): give another --name"
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
