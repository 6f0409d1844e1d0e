"""Exact counterfactuals: what another strategy would have done, computed from a recorded run.

Some choices change only what happens *after* the messages a run recorded, so their outcome can be
computed from the timeline alone, with no model call, and equals re-executing them with the same
seed (tested for every pair below). Relative to a recorded run of a single-stage pattern without
gates (the debate), a strategy is *post-hoc* when its spec differs from the recorded one only in:

* ``aggregate`` between ``majority`` and ``confidence`` — both read the voters' final answers and
  stated confidences, which are recorded; from a ``judge`` run to either, too (the judge spoke after
  the last round: its calls are left out of the cost);
* ``rounds`` and ``stop_on_consensus`` — the alternative's stop rules are replayed over the recorded
  rounds: fewer rounds, or a consensus stop, cut the record short; more rounds, or no consensus
  stop where the record stopped at consensus, need rounds that were never run and are refused *for
  that run*;
* ``judge`` as the alternative only where the record has the judge's verdict over the same final
  answers (a judge run, stopped at the same round): a judge over other answers is a model call.

Anything else — models, agents, graph, pattern, options, budget — changes what the agents say and is
refused, naming the field. A run that stopped by budget or an error, or did not finish, is refused
too. Each agent's messages in a round depend only on the task, the seed and earlier rounds (never
on how many rounds are planned nor how the answers will be aggregated), which is why the cut is
exact; the cost is summed the way the ledger sums it, turn by turn.

Patterns with gates (the code patterns: a tester's verdict sends the coder back) have one post-hoc
choice, the gates' revision limit (``options.max_revisions``, the gate's stop rule); any other
difference is refused. It is exact for these reasons, each checked in the code it rests on:

* every step is seeded by (seed, task, agent, round) and, after an agent's first step in a round,
  by (stage, attempt) (``StepContext.step_seed``), and its calls are counted from what the agent
  has done so far in the round: nothing an agent is asked or answers depends on the limit, so the
  run with a lower limit is the recorded run up to the first failed check whose ``attempt``
  reaches that limit;
* there a gate that stops when exhausted (``on_exhausted="stop"``, every code pattern's) ends the
  run with ``gate_exhausted``: the voters' last messages up to that check are aggregated (``last``:
  the last program the coder wrote) and scored by the pattern's scorer — which runs the program in
  the sandbox, no model call. A gate that goes on when exhausted would run the next rounds on other
  messages than the record's, and is refused;
* a higher limit is the recorded run itself where no check failed at the recorded limit (it passed
  first); where one did, the revisions it needs were never run, and that run is refused;
* a judge's verdict over the cut's answers would be a model call, so a judged gated run is refused
  when the cut falls before its end.

The optimization pattern's score is a timing (the speed ratio of two runs in the sandbox): it is
recomputed when the cut changes the program, and like any re-execution of it, it varies a little.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ekklesia.agents.roles import get_role
from ekklesia.core.aio import run_sync
from ekklesia.core.events import (
    AgentFailed,
    Aggregated,
    GateChecked,
    MessageSent,
    ModelCalled,
    RoundStarted,
    StageStarted,
    ToolCalled,
    Usage,
    VoteCast,
)
from ekklesia.core.messages import AgentMessage
from ekklesia.core.task import Task
from ekklesia.errors import SpecError, UserError
from ekklesia.learn.runs import RunRecord
from ekklesia.learn.strategies import Strategy
from ekklesia.patterns.aggregation import Vote, aggregate_votes
from ekklesia.patterns.library import get_pattern
from ekklesia.patterns.pattern import Pattern, consensus
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.timeline import Timeline
from ekklesia.swarm import Swarm

__all__ = ["NotPostHoc", "Rescored", "arescore", "arescore_run", "rescore", "runs_since"]

POST_HOC_FIELDS = ("aggregate", "rounds", "stop_on_consensus")


class NotPostHoc(SpecError):
    """The strategy's outcome cannot be computed from this record: the reason says why."""


@dataclass(frozen=True)
class Rescored:
    """A recorded run re-scored as a strategy: its record, or why it could not be."""

    run_id: str
    strategy: str
    record: RunRecord | None
    refused: str | None = None


def _agents(spec: RunSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The spec's debaters and its non-debating agents (a judge), as data."""
    listed = spec.agents if isinstance(spec.agents, list) else []
    data = [a.model_dump(mode="json", by_alias=True) for a in listed]
    debaters = [d for a, d in zip(listed, data, strict=True) if get_role(a.role).debates]
    others = [d for a, d in zip(listed, data, strict=True) if not get_role(a.role).debates]
    return debaters, others


def revision_limits(pattern: Pattern, spec: RunSpec) -> dict[str, int]:
    """Each gate's revision limit in a run of ``spec`` (its options set every gate's limit)."""
    configured = pattern.configure(pattern.parse_options(spec.options))
    return {gate.name: gate.max_revisions for gate in configured.gates}


def _gated(pattern: Pattern) -> bool:
    """A pattern whose gates' revision limit is re-scored (it has no stop rules of its own)."""
    return bool(pattern.gates) and not set(pattern.stop_rules) - {consensus}


def _differ(recorded: RunSpec, alternative: RunSpec) -> list[str]:
    ours, theirs = recorded.to_data(), alternative.to_data()
    return sorted(
        k for k in ours.keys() | theirs.keys() if k != "name" and ours.get(k) != theirs.get(k)
    )


def _check_gated(pattern: Pattern, recorded: RunSpec, alternative: RunSpec) -> None:
    """Refuse an alternative to a gated run that differs in more than the revision limit."""
    differ = _differ(recorded, alternative)
    for field in sorted(differ, key=lambda f: f != "pattern"):  # the pattern first: it says most
        if field == "options":
            ours, theirs = (
                {} if parsed is None else parsed.model_dump()
                for parsed in (pattern.parse_options(s.options) for s in (recorded, alternative))
            )
            others = sorted(k for k in ours.keys() | theirs.keys() if k != "max_revisions")
            if changed := [k for k in others if ours.get(k) != theirs.get(k)]:
                field = f"options.{changed[0]}"
            else:
                continue
        raise NotPostHoc(
            f"differs from the record in {field!r}: pattern {pattern.name!r} has gates, and for "
            "it only the gates' revision limit (options.max_revisions) is post-hoc"
        )


def check_post_hoc(recorded: RunSpec, alternative: RunSpec) -> None:
    """Refuse an alternative whose difference from the record is not post-hoc."""
    pattern = get_pattern(recorded.pattern)
    if _gated(pattern):
        _check_gated(pattern, recorded, alternative)
        return
    for field in _differ(recorded, alternative):
        if field in POST_HOC_FIELDS:
            continue
        if field == "agents":
            (rec_debaters, rec_judges), (alt_debaters, alt_judges) = (
                _agents(recorded),
                _agents(alternative),
            )
            if rec_debaters == alt_debaters and (not alt_judges or alt_judges == rec_judges):
                continue  # only the judge of the record left out
            if rec_debaters == alt_debaters:
                raise NotPostHoc(
                    "has a judge ('agents') the record does not have: its verdict is a model "
                    "call, not post-hoc"
                )
        raise NotPostHoc(
            f"differs from the record in {field!r}: that changes what the agents say, so it "
            "needs new model calls (only aggregate, rounds and stop_on_consensus are post-hoc)"
        )
    if len(pattern.stages) != 1 or set(pattern.stop_rules) - {consensus}:
        own = set(pattern.stop_rules) - {consensus}
        what = "stop rules of its own" if own else "several stages and no gates"
        raise NotPostHoc(
            f"pattern {pattern.name!r} has {what}: re-scoring is exact (and "
            "tested) for single-stage patterns such as the debate, and for the revision limit "
            "of gated patterns without stop rules of their own"
        )


class _Record:
    """What a recorded run said, round by round, and what each turn cost."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        started = timeline.started
        self.spec = RunSpec.of(started.spec, source=f"run {timeline.run_id}")
        self.task = Task.model_validate(started.task)
        finished = timeline.finished
        if timeline.status != "finished" or finished is None:
            raise NotPostHoc(f"run {timeline.run_id} did not finish ({timeline.status})")
        self.finished = finished
        stage = get_pattern(self.spec.pattern).stages[0].name
        first = next(
            (e for e in timeline.of_kind(StageStarted) if e.stage == stage and e.round == 0), None
        )
        self.voters = list(first.agents) if first is not None else []
        self.said: list[dict[str, AgentMessage]] = [{} for _ in range(finished.rounds)]
        for event in timeline.of_kind(MessageSent):
            message = event.message
            if (
                isinstance(message, AgentMessage)
                and not message.failed
                and message.sender in self.voters
                and event.round < finished.rounds
            ):
                self.said[event.round][message.sender] = message

    def usage(self, rounds: int, *, everything: bool = False, before: int | None = None) -> Usage:
        """The cost of the first ``rounds`` rounds (``everything``: of the whole run; ``before``:
        of the events before that index), summed turn by turn as the ledger does."""
        total, turn, owner = Usage(), Usage(), None
        boundaries = (
            MessageSent,
            AgentFailed,
            StageStarted,
            RoundStarted,
            VoteCast,
            Aggregated,
            GateChecked,
        )
        for event in self.timeline.events[:before]:
            if isinstance(event, ModelCalled | ToolCalled):
                if event.round >= rounds and not everything:
                    continue
                if owner is not None and owner != (event.agent, event.round):
                    total, turn = total + turn, Usage()
                owner = (event.agent, event.round)
                if isinstance(event, ModelCalled):
                    turn = turn + Usage.of(event.response)
                else:
                    turn = turn + Usage.of_tool(event.cost_usd, event.ran)
            elif isinstance(event, boundaries) and owner is not None:
                total, turn, owner = total + turn, Usage(), None
        return total + turn if owner is not None else total


def _agree(said: dict[str, AgentMessage], voters: Sequence[str]) -> bool:
    answers = {said[n].answer for n in voters if n in said}
    heard = sum(n in said for n in voters)
    return len(voters) > 1 and heard == len(voters) and len(answers) == 1 and None not in answers


async def arescore_run(timeline: Timeline, strategy: Strategy) -> RunRecord:
    """The record ``strategy`` would have made on this run's task and seed; see the module
    docstring. Raises :class:`NotPostHoc` with the reason when it cannot be computed."""
    record = _Record(timeline)
    pattern = get_pattern(record.spec.pattern)
    gated = _gated(pattern)
    ends = ("max_rounds", "consensus", "gate_exhausted") if gated else ("max_rounds", "consensus")
    if record.finished.stop_reason not in ends:
        raise NotPostHoc(
            f"run {timeline.run_id} stopped by {record.finished.stop_reason}: what followed "
            "depends on the budget or a gate, not only on the record"
        )
    with Swarm.from_spec(strategy.seeded(record.spec.seed)) as swarm:  # no host starts
        alternative = swarm.spec()
    check_post_hoc(record.spec, alternative)
    if gated:
        return await _rescore_gated(record, strategy, alternative, pattern)
    recorded_rounds = record.finished.rounds
    last: dict[str, AgentMessage] = {}
    done, stop = 0, "max_rounds"
    for rnd in range(alternative.rounds):
        if rnd >= recorded_rounds:
            raise NotPostHoc(
                f"{strategy.name} needs round {rnd + 1}, but run {timeline.run_id} recorded "
                f"{recorded_rounds} (it stopped by {record.finished.stop_reason})"
            )
        last.update(record.said[rnd])
        done = rnd + 1
        if done == alternative.rounds:
            break
        if alternative.stop_on_consensus and _agree(record.said[rnd], record.voters):
            stop = "consensus"
            break
    method = alternative.aggregate or "majority"
    if method == "judge":
        if record.spec.aggregate != "judge" or done != recorded_rounds:
            raise NotPostHoc(
                f"{strategy.name} has a judge read final answers the record's judge never read: "
                "that is a model call"
            )
        answer = record.finished.answer
        usage = record.usage(done, everything=True)
    else:
        answer = _vote(last, method)
        usage = record.usage(done)
    score = await _score(pattern, record.task, answer)
    return _run_record(record, strategy, answer, score, usage, done, stop)


def _vote(last: dict[str, AgentMessage], method: str) -> str | None:
    """The answer ``method`` aggregates from each voter's last message."""
    votes = [
        Vote(name, msg.answer, msg.confidence)
        for name, msg in sorted(last.items())
        if msg.answer is not None
    ]
    answer, _ = aggregate_votes(votes, method)
    return answer


async def _score(pattern: Pattern, task: Task, answer: str | None) -> float | None:
    scored = pattern.scorer(task, answer)
    return await scored if inspect.isawaitable(scored) else scored


def _run_record(
    record: _Record,
    strategy: Strategy,
    answer: str | None,
    score: float | None,
    usage: Usage,
    rounds: int,
    stop: str,
) -> RunRecord:
    return RunRecord(
        strategy=strategy.name,
        digest=strategy.digest,
        task_id=record.task.id,
        seed=record.spec.seed,
        run_id=record.timeline.run_id,
        answer=answer,
        correct=None if score is None else score >= 1.0,
        score=score,
        usd=usage.usd,
        tokens=usage.total_tokens,
        rounds=rounds,
        stop_reason=stop,
    )


def _gate_cut(record: _Record, strategy: Strategy, alternative: RunSpec, pattern: Pattern) -> int:
    """The index of the gate check at which the alternative's run ends, or -1 where it is the
    recorded run itself; see the module docstring."""
    ours, theirs = revision_limits(pattern, record.spec), revision_limits(pattern, alternative)
    gates = {gate.name: gate for gate in pattern.gates}
    for i, event in enumerate(record.timeline.events):
        if not isinstance(event, GateChecked) or event.passed:
            continue
        limit, recorded = theirs[event.gate], ours[event.gate]
        if event.attempt >= recorded and event.attempt < limit:
            raise NotPostHoc(
                f"{strategy.name} needs revision {event.attempt + 1} at gate {event.gate!r}, but "
                f"run {record.timeline.run_id} stopped revising at {recorded} (its "
                "max_revisions): those revisions were never run"
            )
        if event.attempt >= limit and event.attempt < recorded:
            if gates[event.gate].on_exhausted != "stop":
                raise NotPostHoc(
                    f"gate {event.gate!r} goes on when exhausted: with max_revisions {limit} the "
                    "rounds after it would hear other messages than the record's"
                )
            return i
    return -1


async def _rescore_gated(
    record: _Record, strategy: Strategy, alternative: RunSpec, pattern: Pattern
) -> RunRecord:
    """A gated run re-scored with another revision limit: the recorded run, or its prefix up to
    the check that exhausts the lower limit."""
    cut = _gate_cut(record, strategy, alternative, pattern)
    finished, events = record.finished, record.timeline.events
    if cut < 0:
        answer, score, stop = finished.answer, finished.score, finished.stop_reason
        usage, rounds = record.usage(finished.rounds, everything=True), finished.rounds
    else:
        method = alternative.aggregate or pattern.aggregate
        if method == "judge":
            raise NotPostHoc(
                f"{strategy.name} ends run {record.timeline.run_id} before its judge spoke: a "
                "judge over the answers at that point is a model call"
            )
        voter_stage = pattern.voter_stage().name
        voters = next(
            (e.agents for e in record.timeline.of_kind(StageStarted) if e.stage == voter_stage), ()
        )
        last: dict[str, AgentMessage] = {}  # each voter's last word, in the order they spoke
        for event in events[:cut]:
            message = event.message if isinstance(event, MessageSent) else None
            if (
                isinstance(message, AgentMessage)
                and not message.failed
                and message.sender in voters
            ):
                last.pop(message.sender, None)
                last[message.sender] = message
        if method == "last":
            answer = next(reversed(last.values())).content if last else None
        else:
            answer = _vote(last, method)
        score = await _score(pattern, record.task, answer)
        stop = "gate_exhausted"
        gate_check = events[cut]
        usage, rounds = record.usage(0, before=cut, everything=True), gate_check.round + 1
    return _run_record(record, strategy, answer, score, usage, rounds, stop)


async def arescore(run_ids: Sequence[str], strategies: Sequence[Strategy]) -> list[Rescored]:
    """Every run re-scored as every strategy (or the reason it cannot be)."""
    out: list[Rescored] = []
    for run_id in run_ids:
        timeline = Timeline.load(run_id)
        for strategy in strategies:
            try:
                rescored = await arescore_run(timeline, strategy)
            except NotPostHoc as exc:
                out.append(Rescored(run_id, strategy.name, None, str(exc)))
            else:
                out.append(Rescored(run_id, strategy.name, rescored))
    return out


def rescore(run_ids: Sequence[str], strategies: Sequence[Strategy]) -> list[Rescored]:
    """:func:`arescore` from sync code."""
    return run_sync(arescore(run_ids, strategies), "rescore()", "await arescore(...)")


def runs_since(since: str) -> list[str]:
    """The swarm runs started at or after ``since`` (an ISO date or date and time, local)."""
    try:
        moment = datetime.fromisoformat(since).timestamp()
    except ValueError:
        raise UserError(
            f"--since {since!r} is not a date (write 2026-01-31 or 2026-01-31T12:00)"
        ) from None
    found = []
    for run_id in Timeline.list_runs():
        try:
            started = Timeline.load(run_id).started
        except UserError:
            continue
        if started.wall_time >= moment and "populations" not in started.spec:
            found.append(run_id)
    return found
