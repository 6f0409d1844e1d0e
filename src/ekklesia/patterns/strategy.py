"""``strategy="auto"``: asking a learner which strategy to run for a task.

The learner sits in a layer above swarms and patterns, so this layer names it only by import path
(:data:`PROVIDERS`, loaded on first use with :func:`ekklesia.core.imports.load`, the way the pattern
library finds the code team's patterns). A provider is a function of a task kind (a task's
``suite``) that returns a :class:`StrategyChooser`; the chooser says which spec to run for a task,
with the events to record in its timeline (the choice and its propensity), and learns from the
result. Both are coroutines: the learner's answer comes from a Ray actor, awaited in the run's
event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ekklesia.core.events import AnyEvent
from ekklesia.core.imports import load
from ekklesia.core.task import Task
from ekklesia.errors import SpecError, UserError
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.engine import RunResult

__all__ = ["PROVIDERS", "ChosenStrategy", "StrategyChooser", "check_strategy", "chooser_for"]

#: Functions ``(task kind) -> StrategyChooser``, by import path; the first that answers is used.
PROVIDERS: list[str] = ["ekklesia.learn.auto:chooser_for"]


@dataclass(frozen=True)
class ChosenStrategy:
    """The spec to run for a task, the events to record with it, and the chooser's own token."""

    spec: RunSpec
    notes: tuple[AnyEvent, ...] = ()
    token: object = field(default=None, compare=False)


class StrategyChooser(Protocol):
    async def choose(self, task: Task) -> ChosenStrategy: ...

    async def record(self, chosen: ChosenStrategy, result: RunResult) -> None: ...


def check_strategy(strategy: str | None) -> None:
    if strategy not in (None, "auto"):
        raise SpecError(f"strategy must be 'auto' (ask the learner) or None, got {strategy!r}")


def chooser_for(kind: str) -> StrategyChooser:
    """The chooser for tasks of ``kind``; a :class:`UserError` when no provider has one."""
    reasons = []
    for path in PROVIDERS:
        try:
            provider = load(path, what="strategy provider")
        except SpecError as exc:
            reasons.append(str(exc))
            continue
        if not callable(provider):
            raise SpecError(f"strategy provider {path!r} is not a function")
        found = _call(provider, kind)
        if found is not None:
            return found
    detail = f" ({'; '.join(reasons)})" if reasons else ""
    raise UserError(
        f"strategy='auto': no learner knows tasks of kind {kind!r}; start one with "
        f"`ekklesia learn STRATEGIES --suite {kind} --runs N`{detail}"
    )


def _call(provider: Callable[..., object], kind: str) -> StrategyChooser | None:
    found = provider(kind)
    if found is None:
        return None
    if not (hasattr(found, "choose") and hasattr(found, "record")):
        raise SpecError(f"strategy provider returned {found!r}, not a StrategyChooser")
    return found
