"""Re-scoring a gated code pattern's run with another revision limit equals re-executing it.

A run of a code pattern recorded with ``max_revisions=3`` is re-scored as ``max_revisions`` 0, 1
and 2 (and 4, which is the record itself where it passed in time) from its timeline alone; each
alternative is also run for real on the same HumanEval tasks with the same seed and simulated
models, and the whole record must be the same: the final program, its score in the sandbox,
rounds, stop reason, tokens and USD.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ekklesia.code import suites
from ekklesia.core.events import GateChecked
from ekklesia.learn import Runner, Strategy, load_strategies
from ekklesia.learn.rescore import NotPostHoc, arescore_run
from ekklesia.runtime.timeline import Timeline

MODEL = "sim:skill=0.35"
SEED = 5
COMPARED = ("answer", "correct", "score", "rounds", "stop_reason", "tokens", "usd")


def strategy(pattern: str, max_revisions: int, **fields: Any) -> Strategy:
    entry = {
        "name": f"{pattern} r{max_revisions}",
        "pattern": pattern,
        "model": MODEL,
        "options": {"max_revisions": max_revisions},
        **fields,
    }
    return load_strategies({"strategies": [entry]}).strategies[0]


async def check(
    pattern: str, limits: tuple[int, ...], n: int
) -> tuple[dict[int, tuple[int, int]], list[Timeline]]:
    """Per limit: (runs re-scored equal to re-execution, of which cut short by the lower limit);
    and the recorded timelines."""
    tasks = await suites.asuite(pattern, n, seed=0)
    out: dict[int, tuple[int, int]] = {}
    with Runner() as running:
        recorded = [await running.run(strategy(pattern, 3), task, SEED) for task in tasks]
        timelines = [Timeline.load(r.run_id) for r in recorded]
        for limit in limits:
            other = strategy(pattern, limit)
            equal = cut = 0
            for task, log, timeline in zip(tasks, recorded, timelines, strict=True):
                real = await running.run(other, task, SEED)
                try:
                    rescored = await arescore_run(timeline, other)
                except NotPostHoc as exc:
                    # only a higher limit on a record that ran out of revisions may be refused
                    assert limit > 3 and "were never run" in str(exc), exc
                    assert log.stop_reason == "gate_exhausted"
                    continue
                assert {k: getattr(rescored, k) for k in COMPARED} == {
                    k: getattr(real, k) for k in COMPARED
                }, (pattern, limit, task.id)
                assert rescored.run_id == log.run_id  # from the record, not from the new run
                equal += 1
                cut += real.tokens < log.tokens
            out[limit] = (equal, cut)
    return out, timelines


def revisions(timeline: Timeline) -> int:
    return max((e.attempt for e in timeline.of_kind(GateChecked)), default=0)


@pytest.mark.usefixtures("ray_session")
def test_a_lower_revision_limit_is_re_scored_exactly_and_the_rest_refused() -> None:
    found, timelines = asyncio.run(check("feature_development", (1,), n=2))
    equal, cut = found[1]
    assert equal == 2 and cut >= 1  # every run agrees, and at least one was cut short

    exhausted = next(t for t in timelines if t.status == "finished" and revisions(t) == 3)
    assert exhausted.finished is not None and exhausted.finished.stop_reason == "gate_exhausted"
    refusals = {
        "more revisions": (strategy("feature_development", 4), "needs revision 4 at gate"),
        "model": (strategy("feature_development", 1, model="sim:skill=0.9"), "'agents'"),
        "rounds": (strategy("feature_development", 1, rounds=3), "'rounds'"),
        "pattern": (strategy("bug_fix", 1), "'pattern'"),
    }
    for alternative, reason in refusals.values():
        with pytest.raises(NotPostHoc, match=reason):
            asyncio.run(arescore_run(exhausted, alternative))


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("pattern", ["feature_development", "bug_fix", "refactoring"])
def test_every_revision_limit_is_re_scored_exactly(pattern: str) -> None:
    found, _ = asyncio.run(check(pattern, (0, 1, 2, 4), n=5))
    assert found[0][1] >= 1, found  # limit 0 cut at least one run short
    assert found[0][0] == found[1][0] == found[2][0] == 5, found
    assert found[4][0] >= 1, found
