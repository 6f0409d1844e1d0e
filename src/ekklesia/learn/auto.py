"""The learner as the chooser behind ``strategy="auto"`` (see :mod:`ekklesia.patterns.strategy`).

A persisted learner whose suite holds tasks of the asked kind answers: ``arithmetic`` for the
debate tasks, ``humaneval-<pattern>`` (or ``humaneval``) for a code suite; where several learners
match, the one named ``default`` answers, else the first by name. The chooser asks the learner's
named Ray actor (:class:`~ekklesia.learn.learner.SharedLearner`), the one ``ekklesia learn`` and
every other ``strategy="auto"`` run of the cluster use, so runs side by side and a learn loop
all add to one log; each update is saved at once, so ``ekklesia learn status`` sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ekklesia.core.task import Task
from ekklesia.learn.learner import (
    DEFAULT_NAME,
    Decision,
    SharedLearner,
    learner_names,
    load_state,
)
from ekklesia.learn.runs import RunRecord
from ekklesia.patterns.strategy import ChosenStrategy
from ekklesia.runtime.engine import RunResult

__all__ = ["LearnerChooser", "chooser_for"]


def _serves(suite: str, kind: str) -> bool:
    return suite == kind or (suite == "humaneval" and kind.startswith("humaneval-"))


@dataclass(frozen=True)
class LearnerChooser:
    """Chooses with the learner ``name``, through its actor."""

    name: str
    learner: SharedLearner

    async def choose(self, task: Task) -> ChosenStrategy:
        decision: Decision = await self.learner.call("decide")
        spec = decision.strategy.seeded(decision.seed)
        return ChosenStrategy(spec, (decision.note,), decision)

    async def record(self, chosen: ChosenStrategy, result: RunResult) -> None:
        decision = chosen.token
        assert isinstance(decision, Decision)
        record = RunRecord.of(decision.strategy, decision.seed, result)
        await self.learner.call("update", decision.choice, record)


def chooser_for(kind: str) -> LearnerChooser | None:
    names = [n for n in learner_names() if _serves(load_state(n).suite, kind)]
    if not names:
        return None
    name = DEFAULT_NAME if DEFAULT_NAME in names else names[0]
    return LearnerChooser(name, SharedLearner.of(name))
