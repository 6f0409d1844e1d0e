"""Off-policy estimates: a strategy's objective from runs the learner logged choosing others.

Every run the learner chose records, in its timeline, the probability its randomised policy gave
each candidate (:class:`~ekklesia.core.events.StrategyChosen`). For a strategy ``s`` and logged
runs ``i`` with objective value ``y_i``, chosen strategy ``a_i`` and propensity ``p_i(s)``:

* inverse propensity (IPS): ``mean_i( 1[a_i = s] * y_i / p_i(s) )`` — unbiased when every
  ``p_i(s) > 0``;
* doubly robust (DR): ``mean_i( q + 1[a_i = s] * (y_i - q) / p_i(s) )`` with ``q`` the mean value
  of the runs that chose ``s`` (the direct model): its variance is lower, and it stays unbiased
  when the propensities are right, whatever ``q`` is.

Intervals are 95% normal intervals over the per-run terms; the effective sample size is
``(sum w)^2 / sum w^2`` with ``w_i = 1[a_i = s] / p_i(s)``. The estimate is refused, with the
reason, when the logs cannot support it: fewer than ``MIN_RUNS`` logged runs, a strategy that was
not a candidate, a zero propensity (the policy could not have chosen it there), fewer than two
runs that chose it, or logs kept under different objectives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from ekklesia.core.events import StrategyChosen
from ekklesia.errors import SpecError, UserError
from ekklesia.learn.objective import Objective
from ekklesia.runtime.timeline import Timeline

__all__ = ["MIN_RUNS", "CannotEstimate", "Estimate", "Logged", "estimate", "logged_runs"]

MIN_RUNS = 10


class CannotEstimate(SpecError):
    """The logs cannot support the estimate; the message says why."""


@dataclass(frozen=True)
class Logged:
    """One run chosen by a learner: the choice, its propensities and the objective's value."""

    run_id: str
    strategy: str
    propensities: dict[str, float]
    objective: str
    value: float


def logged_runs(run_ids: Sequence[str] | None = None) -> list[Logged]:
    """The runs among ``run_ids`` (None: every recorded run) that a learner chose and finished;
    one per decision (a replay of a run records the same decision again and is left out)."""
    found = []
    decisions: set[tuple[str, int, object]] = set()
    for run_id in Timeline.list_runs() if run_ids is None else run_ids:
        try:
            timeline = Timeline.load(run_id)
        except UserError:
            if run_ids is None:
                continue
            raise
        chosen = timeline.of_kind(StrategyChosen)
        finished = timeline.finished
        if not chosen or finished is None or timeline.status != "finished":
            continue
        note = chosen[0]
        decision = (note.learner, note.decision, timeline.started.task.get("id"))
        if decision in decisions:
            continue
        decisions.add(decision)
        accuracy = 1.0 if finished.correct else 0.0
        figures = {
            "accuracy": accuracy,
            "score": accuracy if finished.score is None else finished.score,
            "usd": finished.usage.usd,
            "tokens": float(finished.usage.total_tokens),
        }
        value = Objective.parse(note.objective).value(figures)
        found.append(Logged(run_id, note.strategy, note.propensities, note.objective, value))
    return found


class Estimate(BaseModel):
    """A strategy's estimated objective from logged runs."""

    strategy: str
    objective: str
    ips: float
    ips_ci: tuple[float, float]
    dr: float
    ci: tuple[float, float]
    ess: float
    runs: int
    chosen: int


def _mean_ci(terms: Sequence[float]) -> tuple[float, tuple[float, float]]:
    n = len(terms)
    mean = sum(terms) / n
    var = sum((t - mean) ** 2 for t in terms) / (n - 1)
    half = 1.96 * math.sqrt(var / n)
    return mean, (mean - half, mean + half)


def estimate(strategy: str, logs: Sequence[Logged], *, min_runs: int = MIN_RUNS) -> Estimate:
    """IPS and DR estimates of ``strategy``; see the module docstring."""
    if len(logs) < min_runs:
        raise CannotEstimate(
            f"too few runs: {len(logs)} logged by a learner, at least {min_runs} are needed"
        )
    objectives = sorted({log.objective for log in logs})
    if len(objectives) > 1:
        raise CannotEstimate(f"the logged runs optimised different objectives: {objectives}")
    if not any(strategy in log.propensities for log in logs):
        known = sorted({s for log in logs for s in log.propensities})
        raise CannotEstimate(
            f"{strategy!r} was not a candidate in the logged runs (they had {', '.join(known)})"
        )
    zero = [log.run_id for log in logs if log.propensities.get(strategy, 0.0) <= 0.0]
    if zero:
        raise CannotEstimate(
            f"zero propensity: in {len(zero)} of {len(logs)} logged runs (first {zero[0]}) the "
            f"policy could not choose {strategy!r}, so they say nothing about it"
        )
    chose = [log for log in logs if log.strategy == strategy]
    if len(chose) < 2:
        raise CannotEstimate(
            f"too few runs chose {strategy!r}: {len(chose)} of {len(logs)} (at least 2 needed)"
        )
    q = sum(log.value for log in chose) / len(chose)
    weights = [
        (1.0 / log.propensities[strategy]) if log.strategy == strategy else 0.0 for log in logs
    ]
    ips, ips_ci = _mean_ci([w * log.value for w, log in zip(weights, logs, strict=True)])
    dr, ci = _mean_ci([q + w * (log.value - q) for w, log in zip(weights, logs, strict=True)])
    ess = sum(weights) ** 2 / sum(w * w for w in weights)
    return Estimate(
        strategy=strategy,
        objective=objectives[0],
        ips=ips,
        ips_ci=ips_ci,
        dr=dr,
        ci=ci,
        ess=ess,
        runs=len(logs),
        chosen=len(chose),
    )
