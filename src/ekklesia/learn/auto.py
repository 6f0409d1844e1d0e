"""The learner as the chooser behind ``strategy="auto"`` (see :mod:`ekklesia.patterns.strategy`).

A persisted learner whose suite holds tasks of the asked kind answers: ``arithmetic`` for the
debate tasks, ``humaneval-<pattern>`` (or ``humaneval``) for a code suite; where several learners
match, the one named ``default`` answers, else the first by name. Each choice and its update read
and write the learner's state on disk, so ``ekklesia learn status`` sees them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ekklesia.core.task import Task
from ekklesia.learn.bandit import Choice
from ekklesia.learn.learner import DEFAULT_NAME, PatternLearner, learner_names, load_state
from ekklesia.learn.runs import RunRecord
from ekklesia.patterns.strategy import ChosenStrategy
from ekklesia.runtime.engine import RunResult

__all__ = ["LearnerChooser", "chooser_for"]


def _serves(suite: str, kind: str) -> bool:
    return suite == kind or (suite == "humaneval" and kind.startswith("humaneval-"))


@dataclass(frozen=True)
class LearnerChooser:
    """Chooses with the persisted learner ``name``."""

    name: str

    def choose(self, task: Task) -> ChosenStrategy:
        learner = PatternLearner.load(self.name)
        choice = learner.choose()
        spec = learner.strategies[choice.strategy].seeded(learner.seed)
        return ChosenStrategy(spec, (learner.note(choice),), choice)

    def record(self, chosen: ChosenStrategy, result: RunResult) -> None:
        learner = PatternLearner.load(self.name)
        choice = chosen.token
        assert isinstance(choice, Choice)
        strategy = learner.strategies[choice.strategy]
        learner.update(choice, RunRecord.of(strategy, learner.seed, result))


def chooser_for(kind: str) -> LearnerChooser | None:
    names = [n for n in learner_names() if _serves(load_state(n).suite, kind)]
    if not names:
        return None
    return LearnerChooser(DEFAULT_NAME if DEFAULT_NAME in names else names[0])
