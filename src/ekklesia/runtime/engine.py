"""The round engine: bulk-synchronous super-steps over a debate graph.

For each round: reserve the round's worst-case spending in agent-name order (a round that does not
fit the budget is not started), send each host one batched call with its agents' inboxes, collect
their turns, apply them in agent-name order (events, then messages routed along the graph), settle
the spending, and check the stop rules (max rounds, consensus, budget). Then aggregate. Everything
the engine decides is a function of the spec, the seed and the model responses — never of timing —
so the timeline is the same wherever the agents are placed.

A host that dies mid-round is started again with the same agents and the round is re-run from the
inboxes the engine holds; past ``max_restarts`` the run ends with a :class:`HostFailure`, its
timeline written up to that point.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import ray
from opentelemetry import propagate, trace
from pydantic import BaseModel, ConfigDict, PrivateAttr

from ekklesia.agents.agent import Agent
from ekklesia.agents.context import Allowance, MemoryProvider
from ekklesia.core.events import (
    AgentFailed,
    Aggregated,
    HostRestarted,
    MessageSent,
    ModelCalled,
    RoundStarted,
    RunErrored,
    RunFinished,
    RunStarted,
    RunStopped,
    StopReason,
    Usage,
    VoteCast,
)
from ekklesia.core.llm import estimate_tokens
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.core.task import Task
from ekklesia.errors import HostFailure, RunError
from ekklesia.patterns.aggregation import Vote, aggregate_votes
from ekklesia.runtime.host import AgentHost, AgentWork, RoundWork, Turn
from ekklesia.runtime.ledger import Budget, Ledger, Reservation
from ekklesia.runtime.placement import Placement
from ekklesia.runtime.timeline import Timeline

__all__ = ["EngineConfig", "HostPool", "RoundEngine", "RunResult", "new_run_id"]

_tracer = trace.get_tracer("ekklesia")
_RAY_ACTOR_ERRORS: tuple[type[BaseException], ...] = (
    ray.exceptions.RayActorError,
    ray.exceptions.ActorUnavailableError,
)


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class EngineConfig:
    rounds: int
    aggregate: str
    seed: int
    budget: Budget
    stop_on_consensus: bool
    judge: str | None
    max_restarts: int
    swarm_id: str


class RunResult(BaseModel):
    """The outcome of one run. ``timeline`` reads the recorded events back from disk."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    task_id: str
    answer: str | None
    expected: str | None
    correct: bool | None
    stop_reason: str
    rounds: int
    usage: Usage
    final_answers: dict[str, str | None]
    timeline_path: Path
    _timeline: Timeline | None = PrivateAttr(default=None)

    @property
    def timeline(self) -> Timeline:
        if self._timeline is None:
            self._timeline = Timeline.read(self.timeline_path)
        return self._timeline


class HostPool:
    """The host actors of a swarm, started once and reused across runs."""

    def __init__(
        self, placement: Placement, agents: Mapping[str, Agent], memory: MemoryProvider | None
    ) -> None:
        self.placement = placement
        self._agents = agents
        self._memory = memory
        self.handles: dict[str, Any] = {}
        self.host_of = {name: host for host, names in placement.items() for name in names}

    def _start(self, host: str) -> Any:
        agents = [self._agents[name] for name in self.placement[host]]
        return AgentHost.options(name=None).remote(host, agents, self._memory)

    async def start(self) -> None:
        if self.handles:
            return
        self.handles = {host: self._start(host) for host in self.placement}
        await asyncio.gather(*(h.ping.remote() for h in self.handles.values()))

    def restart(self, host: str) -> None:
        old = self.handles.get(host)
        if old is not None:
            ray.kill(old, no_restart=True)
        self.handles[host] = self._start(host)

    def close(self) -> None:
        for handle in self.handles.values():
            ray.kill(handle, no_restart=True)
        self.handles = {}


class RoundEngine:
    """Runs one task through the swarm; see the module docstring."""

    def __init__(
        self,
        config: EngineConfig,
        agents: Mapping[str, Agent],
        graph: nx.DiGraph,
        pool: HostPool,
        spec: dict[str, Any],
    ) -> None:
        self.config = config
        self.agents = agents
        self.graph = graph
        self.pool = pool
        self.spec = spec
        self.debaters = sorted(n for n, a in agents.items() if a.role.debates)

    async def run(
        self,
        task: Task,
        *,
        replay: Timeline | None = None,
        on_event: Callable[[Any], None] | None = None,
    ) -> RunResult:
        run_id = new_run_id()
        timeline = Timeline(run_id)
        recorded = _recorded_calls(replay)
        ledger = Ledger(self.config.budget)
        try:
            with _tracer.start_as_current_span("ekklesia.run", attributes={"run_id": run_id}):
                outcome = await self._run(task, timeline, ledger, recorded, on_event)
        except BaseException as exc:
            timeline.append(RunErrored(error=f"{type(exc).__name__}: {exc}"))
            timeline.write()
            raise
        return outcome

    async def _run(
        self,
        task: Task,
        timeline: Timeline,
        ledger: Ledger,
        recorded: dict[tuple[str, int], list[ModelCalled]] | None,
        on_event: Callable[[Any], None] | None,
    ) -> RunResult:
        def emit(event: Any) -> None:
            stamped = timeline.append(event)
            if on_event is not None:
                on_event(stamped)

        run_id = timeline.run_id
        emit(
            RunStarted(
                spec=self.spec, task=task.model_dump(mode="json"), placement=self.pool.placement
            )
        )
        task_message = TaskMessage(
            run_id=run_id,
            round=0,
            sender="environment",
            recipients=tuple(self.debaters),
            content=task.prompt,
            task_id=task.id,
            trace=_carrier(),
        )
        emit(MessageSent(message=task_message))
        inboxes: dict[str, list[TaskMessage | AgentMessage]] = {
            name: [task_message] for name in self.debaters
        }
        last: dict[str, AgentMessage] = {}
        stop_reason: StopReason = "max_rounds"
        rounds_done = 0
        for rnd in range(self.config.rounds):
            reservations = self._reserve(ledger, self.debaters, inboxes, task)
            if reservations is None:
                stop_reason = "budget"
                break
            emit(RoundStarted(round=rnd, agents=tuple(self.debaters)))
            with _tracer.start_as_current_span("ekklesia.round", attributes={"round": rnd}):
                turns = await self._step(run_id, rnd, task, inboxes, reservations, recorded, emit)
            said = self._apply(run_id, rnd, turns, ledger, reservations, emit)
            last.update(said)
            rounds_done = rnd + 1
            inboxes = self._deliver(said)
            if rounds_done == self.config.rounds:
                break
            if self.config.stop_on_consensus and _consensus(self.debaters, said):
                stop_reason = "consensus"
                break

        votes = [
            Vote(name, msg.answer, msg.confidence)
            for name, msg in sorted(last.items())
            if msg.answer is not None
        ]
        for vote in votes:
            emit(
                VoteCast(
                    round=rounds_done,
                    agent=vote.agent,
                    answer=vote.answer,
                    weight=vote.weight(self.config.aggregate),
                )
            )
        method = self.config.aggregate
        if method == "judge" and self.config.judge is not None and last:
            answer, tally, method = await self._judge(
                run_id, rounds_done, task, last, ledger, recorded, emit
            )
            if answer is None and method != "judge":
                answer, tally = aggregate_votes(votes, "majority")
                stop_reason = "budget"
        else:
            answer, tally = aggregate_votes(votes, "majority" if method == "judge" else method)
        emit(Aggregated(round=rounds_done, method=method, answer=answer, tally=tally))
        emit(RunStopped(round=rounds_done, reason=stop_reason, rounds_completed=rounds_done))
        correct = None if task.expected is None or answer is None else answer == task.expected
        if task.expected is not None and answer is None:
            correct = False
        emit(
            RunFinished(
                round=rounds_done,
                answer=answer,
                expected=task.expected,
                correct=correct,
                stop_reason=stop_reason,
                rounds=rounds_done,
                usage=ledger.spent,
            )
        )
        path = timeline.write()
        result = RunResult(
            run_id=run_id,
            task_id=task.id,
            answer=answer,
            expected=task.expected,
            correct=correct,
            stop_reason=stop_reason,
            rounds=rounds_done,
            usage=ledger.spent,
            final_answers={
                name: last[name].answer if name in last else None for name in self.debaters
            },
            timeline_path=path,
        )
        result._timeline = timeline
        return result

    # -- budget --------------------------------------------------------------------------------

    def _reserve(
        self,
        ledger: Ledger,
        names: list[str],
        inboxes: Mapping[str, list[TaskMessage | AgentMessage]],
        task: Task,
    ) -> dict[str, Reservation] | None:
        """Reserve each agent's worst case for the round, in name order; all or nothing."""
        held: dict[str, Reservation] = {}
        for name in names:
            agent = self.agents[name]
            text = (
                agent.role.system_prompt
                + task.prompt
                + "".join(m.content for m in inboxes.get(name, []))
            )
            input_tokens = estimate_tokens(text) * 3 // 2 + 64
            usd = agent.model.max_cost_usd(input_tokens, agent.max_tokens)
            reservation = ledger.reserve(usd, input_tokens + agent.max_tokens)
            if reservation is None:
                for r in held.values():
                    ledger.release(r)
                return None
            held[name] = reservation
        return held

    # -- stepping ------------------------------------------------------------------------------

    async def _step(
        self,
        run_id: str,
        rnd: int,
        task: Task,
        inboxes: Mapping[str, list[TaskMessage | AgentMessage]],
        reservations: Mapping[str, Reservation],
        recorded: dict[tuple[str, int], list[ModelCalled]] | None,
        emit: Callable[[Any], None],
    ) -> list[Turn]:
        by_host: dict[str, RoundWork] = {}
        for name in sorted(inboxes):
            host = self.pool.host_of[name]
            work = by_host.setdefault(
                host, RoundWork(run_id, rnd, task, self.config.seed, self.config.swarm_id, [])
            )
            reservation = reservations.get(name)
            allowance = (
                Allowance(
                    usd=reservation.usd if self.config.budget.max_usd is not None else None,
                    tokens=reservation.tokens
                    if self.config.budget.max_tokens is not None
                    else None,
                )
                if reservation is not None
                else Allowance()
            )
            replay = None if recorded is None else recorded.get((name, rnd), [])
            work.items.append(AgentWork(name, inboxes[name], allowance, replay))
        results = await asyncio.gather(*(self._call_host(h, w, emit) for h, w in by_host.items()))
        return [turn for turns in results for turn in turns]

    async def _call_host(
        self, host: str, work: RoundWork, emit: Callable[[Any], None]
    ) -> list[Turn]:
        restarts = 0
        while True:
            try:
                turns: list[Turn] = await self.pool.handles[host].step.remote(work)
                return turns
            except _RAY_ACTOR_ERRORS as exc:
                if restarts >= self.config.max_restarts:
                    raise HostFailure(
                        f"host {host} died in round {work.round} and was restarted {restarts} "
                        f"times without success: {type(exc).__name__}"
                    ) from exc
                restarts += 1
                self.pool.restart(host)
                emit(
                    HostRestarted(
                        round=work.round,
                        host=host,
                        agents=tuple(self.pool.placement[host]),
                        error=type(exc).__name__,
                    )
                )
            except ray.exceptions.RayError as exc:
                raise RunError(f"host {host} failed in round {work.round}: {exc}") from exc

    def _apply(
        self,
        run_id: str,
        rnd: int,
        turns: list[Turn],
        ledger: Ledger,
        reservations: Mapping[str, Reservation],
        emit: Callable[[Any], None],
    ) -> dict[str, AgentMessage]:
        """Apply the round's turns in agent-name order; settle spending; return what was said."""
        said: dict[str, AgentMessage] = {}
        for turn in sorted(turns, key=lambda t: t.agent):
            spent = Usage()
            for event in turn.events:
                emit(event.model_copy(update={"round": rnd}))
                if isinstance(event, ModelCalled):
                    spent = spent + Usage.of(event.response)
            reservation = reservations.get(turn.agent)
            if reservation is not None:
                ledger.settle(reservation, spent)
            else:
                ledger.record(spent)
            if turn.error is not None:
                emit(AgentFailed(round=rnd, agent=turn.agent, error=turn.error))
                continue
            hears = sorted(self.graph.successors(turn.agent)) if turn.agent in self.graph else []
            for utterance in turn.utterances:
                message = AgentMessage(
                    run_id=run_id,
                    round=rnd,
                    sender=turn.agent,
                    recipients=utterance.to if utterance.to is not None else tuple(hears),
                    content=utterance.content,
                    answer=utterance.answer,
                    confidence=utterance.confidence,
                    failed=utterance.failed,
                    trace=_carrier(),
                )
                emit(MessageSent(round=rnd, message=message))
                if utterance.failed:
                    emit(AgentFailed(round=rnd, agent=turn.agent, error=utterance.content))
                else:
                    said[turn.agent] = message
        return said

    def _deliver(
        self, said: Mapping[str, AgentMessage]
    ) -> dict[str, list[TaskMessage | AgentMessage]]:
        """Next round's inboxes: each agent's own last message and what it heard, by sender."""
        inboxes: dict[str, list[TaskMessage | AgentMessage]] = {name: [] for name in self.debaters}
        for sender in sorted(said):
            message = said[sender]
            inboxes[sender].append(message)
            for recipient in message.recipients:
                if recipient in inboxes and recipient != sender:
                    inboxes[recipient].append(message)
        return inboxes

    async def _judge(
        self,
        run_id: str,
        rnd: int,
        task: Task,
        last: Mapping[str, AgentMessage],
        ledger: Ledger,
        recorded: dict[tuple[str, int], list[ModelCalled]] | None,
        emit: Callable[[Any], None],
    ) -> tuple[str | None, dict[str, float], str]:
        judge = self.config.judge
        assert judge is not None
        inbox: list[TaskMessage | AgentMessage] = [last[name] for name in sorted(last)]
        reservations = self._reserve(ledger, [judge], {judge: inbox}, task)
        if reservations is None:
            return None, {}, "majority"
        turns = await self._step(run_id, rnd, task, {judge: inbox}, reservations, recorded, emit)
        said = self._apply(run_id, rnd, turns, ledger, reservations, emit)
        verdict = said.get(judge)
        if verdict is None or verdict.answer is None:
            return None, {}, "judge"
        return verdict.answer, {verdict.answer: 1.0}, "judge"


def _recorded_calls(replay: Timeline | None) -> dict[tuple[str, int], list[ModelCalled]] | None:
    if replay is None:
        return None
    calls: dict[tuple[str, int], list[ModelCalled]] = {}
    for event in replay.of_kind(ModelCalled):
        calls.setdefault((event.agent, event.round), []).append(event)
    return calls


def _consensus(debaters: list[str], said: Mapping[str, AgentMessage]) -> bool:
    answers = {said[name].answer for name in debaters if name in said}
    return (
        len(debaters) > 1
        and len(said) == len(debaters)
        and len(answers) == 1
        and None not in answers
    )


def _carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
