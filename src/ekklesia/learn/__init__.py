"""Which strategy wins: sweeps, an online learner, exact counterfactuals and off-policy estimates.

A *strategy* is a named :class:`~ekklesia.patterns.spec.RunSpec`; a strategies file lists the
candidates and the objective they are judged by (:mod:`ekklesia.learn.strategies`).
:func:`sweep` runs them all on the same tasks; :class:`PatternLearner` chooses among them run by
run by Thompson sampling, logging each choice's probability in the run's timeline.
"""

from ekklesia.learn.bandit import Choice, Posterior
from ekklesia.learn.learner import PatternLearner, alearn, learn, reset_learners
from ekklesia.learn.objective import Objective
from ekklesia.learn.offpolicy import Estimate, estimate, logged_runs
from ekklesia.learn.rescore import NotPostHoc, Rescored, arescore, rescore
from ekklesia.learn.runs import Runner, RunRecord, Summary, suite_tasks
from ekklesia.learn.store import RunStore
from ekklesia.learn.strategies import Strategies, Strategy, load_strategies
from ekklesia.learn.sweep import SweepResult, asweep, sweep

__all__ = [
    "Choice",
    "Estimate",
    "NotPostHoc",
    "Objective",
    "PatternLearner",
    "Posterior",
    "Rescored",
    "RunRecord",
    "RunStore",
    "Runner",
    "Strategies",
    "Strategy",
    "Summary",
    "SweepResult",
    "alearn",
    "arescore",
    "asweep",
    "estimate",
    "learn",
    "load_strategies",
    "logged_runs",
    "rescore",
    "reset_learners",
    "suite_tasks",
    "sweep",
]
