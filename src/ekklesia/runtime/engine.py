"""The round engine: runs a pattern's protocol over agent hosts, one super-step at a time.

The engine knows no protocol. A *protocol* — what a pattern does with a run, see
:mod:`ekklesia.patterns` — is an async function of a :class:`RunContext`; it decides who steps,
who hears whom, when to stop and how to aggregate, and calls :meth:`RunContext.step` for each
super-step. A step reserves the worst case of every stepping agent's calls in name order (a step
that does not fit the budget is not taken), sends each host one batched call with its agents'
inboxes, applies the turns in agent-name order (their events, then their messages addressed as the
protocol says), settles the spending, and puts the new events on disk. Everything the engine
decides is a function of the spec, the seed and the model and tool responses — never of timing —
so the timeline is the same wherever the agents are placed.

A host that dies mid-step is started again with the same agents and the step is re-run from the
inboxes the engine holds; past ``max_restarts`` the run ends with a :class:`HostFailure`, its
timeline written up to that point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    AnyEvent,
    CallRefused,
    HostRestarted,
    MessageSent,
    ModelCalled,
    RoundStarted,
    RunFinished,
    RunStarted,
    RunStopped,
    StageStarted,
    StopReason,
    ToolCalled,
    Usage,
)
from ekklesia.core.llm import estimate_tokens
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.core.task import Task
from ekklesia.errors import HostFailure
from ekklesia.runtime.host import AgentHost, AgentWork, RoundWork, Turn
from ekklesia.runtime.ledger import Budget, Ledger, Reservation
from ekklesia.runtime.placement import Placement
from ekklesia.runtime.ray_errors import host_gone, run_error
from ekklesia.runtime.shell import EventListener, RunRecorder
from ekklesia.runtime.timeline import Timeline

__all__ = [
    "EngineConfig",
    "HostPool",
    "Inbox",
    "Mailbox",
    "Outcome",
    "Protocol",
    "RoundEngine",
    "RunContext",
    "RunResult",
    "StepOutcome",
]

_tracer = trace.get_tracer("ekklesia")
Inbox = list[TaskMessage | AgentMessage]


@dataclass(frozen=True)
class EngineConfig:
    seed: int
    budget: Budget
    max_restarts: int
    swarm_id: str


@dataclass(frozen=True)
class Outcome:
    """What a protocol decided: the answer, why it stopped, after how many complete rounds.

    ``correct`` and ``score`` are the protocol's judgement of the answer (``None``: no key).
    """

    answer: str | None
    stop_reason: StopReason
    rounds: int
    final_answers: dict[str, str | None]
    correct: bool | None = None
    score: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class StepOutcome:
    """What one super-step produced: each agent's last message that did not fail, every message
    in the order applied, and the agents whose turn failed (with why)."""

    said: dict[str, AgentMessage]
    messages: list[AgentMessage]
    failed: dict[str, str]


#: A pattern's protocol, as the engine runs it.
Protocol = Callable[["RunContext"], Awaitable[Outcome]]


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
    score: float | None = None
    _timeline: Timeline | None = PrivateAttr(default=None)

    @property
    def timeline(self) -> Timeline:
        if self._timeline is None:
            self._timeline = Timeline.read(self.timeline_path)
        return self._timeline


class Mailbox:
    """Mail waiting for each member until it next steps.

    :meth:`deliver` puts each sender's message in its own box (so it sees what it said last) and in
    those of its recipients, by sender name; :meth:`take` empties the boxes of those about to step.
    """

    def __init__(self, members: Sequence[str]) -> None:
        self._boxes: dict[str, Inbox] = {name: [] for name in members}

    def post(self, message: TaskMessage | AgentMessage, to: Sequence[str]) -> None:
        for name in to:
            if name in self._boxes:
                self._boxes[name].append(message)

    def deliver(self, said: Mapping[str, AgentMessage]) -> None:
        for sender in sorted(said):
            message = said[sender]
            self.post(message, [sender])
            self.post(message, [r for r in message.recipients if r != sender])

    def take(self, names: Sequence[str]) -> dict[str, Inbox]:
        taken = {name: self._boxes[name] for name in names}
        for name in names:
            self._boxes[name] = []
        return taken


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


@dataclass
class _Counts:
    """How often each agent stepped, called a model and called a tool, per round."""

    steps: dict[tuple[str, int], int] = field(default_factory=dict)
    calls: dict[tuple[str, int], int] = field(default_factory=dict)
    tools: dict[tuple[str, int], int] = field(default_factory=dict)

    @staticmethod
    def bump(table: dict[tuple[str, int], int], key: tuple[str, int], by: int = 1) -> None:
        table[key] = table.get(key, 0) + by


class RunContext:
    """A protocol's view of one run: the task, the agents, the graph, and super-steps."""

    def __init__(
        self,
        engine: RoundEngine,
        recorder: RunRecorder,
        task: Task,
        ledger: Ledger,
        recorded: Timeline | None,
    ) -> None:
        self._engine = engine
        self._recorder = recorder
        self._ledger = ledger
        self._counts = _Counts()
        self._replay_calls: dict[tuple[str, int], list[ModelCalled]] | None = None
        self._replay_tools: dict[tuple[str, int], list[ToolCalled]] | None = None
        if recorded is not None:
            self._replay_calls, self._replay_tools = {}, {}
            for event in recorded.events:
                if isinstance(event, ModelCalled):
                    self._replay_calls.setdefault((event.agent, event.round), []).append(event)
                elif isinstance(event, ToolCalled):
                    self._replay_tools.setdefault((event.agent, event.round), []).append(event)
        self.task = task
        self._roles = {name: agent.role.name for name, agent in engine.agents.items()}

    @property
    def run_id(self) -> str:
        return self._recorder.run_id

    @property
    def seed(self) -> int:
        return self._engine.config.seed

    @property
    def agents(self) -> Mapping[str, Agent]:
        return self._engine.agents

    @property
    def graph(self) -> nx.DiGraph:
        return self._engine.graph

    @property
    def spent(self) -> Usage:
        return self._ledger.spent

    def emit(self, event: AnyEvent) -> AnyEvent:
        """Record an event of the protocol's own (a vote, a gate, the aggregation)."""
        return self._recorder.emit(event)

    def post_task(self, recipients: Sequence[str]) -> TaskMessage:
        """Put the task to ``recipients``: the run's first message."""
        message = TaskMessage(
            run_id=self.run_id,
            round=0,
            sender="environment",
            recipients=tuple(recipients),
            content=self.task.prompt,
            task_id=self.task.id,
            trace=_carrier(),
        )
        self.emit(MessageSent(message=message))
        return message

    async def step(
        self,
        round: int,
        stage: str,
        inboxes: Mapping[str, Inbox],
        recipients: Mapping[str, Sequence[str]],
        *,
        attempt: int = 0,
        instruction: str | None = None,
        new_round: bool = False,
    ) -> StepOutcome | None:
        """Step the agents of ``inboxes`` once, together; ``None`` if the budget refused it.

        What an agent says goes to ``recipients[agent]`` unless it addresses someone itself.
        ``new_round`` opens the round (a ``round_started`` event) once the step fits the budget.
        """
        names = sorted(inboxes)
        reservations = self._reserve(names, inboxes, instruction)
        if reservations is None:
            return None
        if new_round:
            self.emit(RoundStarted(round=round, agents=tuple(names)))
        self.emit(StageStarted(round=round, stage=stage, attempt=attempt, agents=tuple(names)))
        work = self._work(round, stage, attempt, instruction, inboxes, reservations)
        with _tracer.start_as_current_span(
            "ekklesia.step", attributes={"round": round, "stage": stage}
        ):
            results = await asyncio.gather(*(self._call_host(h, w) for h, w in work.items()))
        turns = sorted((t for ts in results for t in ts), key=lambda t: t.agent)
        outcome = self._apply(round, turns, reservations, recipients)
        self._recorder.flush()
        return outcome

    # -- the parts of a step -------------------------------------------------------------------

    def _reserve(
        self, names: list[str], inboxes: Mapping[str, Inbox], instruction: str | None
    ) -> dict[str, Reservation] | None:
        """Reserve each agent's worst case for the step, in name order; all or nothing."""
        held: dict[str, Reservation] = {}
        for name in names:
            agent = self.agents[name]
            text = (
                agent.role.system_prompt
                + self.task.prompt
                + "".join(m.content for m in inboxes.get(name, []))
                + (instruction or "")
            )
            input_tokens = estimate_tokens(text) * 3 // 2 + 64
            usd = agent.model.max_cost_usd(input_tokens, agent.max_tokens)
            if usd is not None:
                usd += agent.max_tool_usd()
            reservation = self._ledger.reserve(usd, input_tokens + agent.max_tokens)
            if reservation is None:
                for r in held.values():
                    self._ledger.release(r)
                return None
            held[name] = reservation
        return held

    def _work(
        self,
        rnd: int,
        stage: str,
        attempt: int,
        instruction: str | None,
        inboxes: Mapping[str, Inbox],
        reservations: Mapping[str, Reservation],
    ) -> dict[str, RoundWork]:
        config = self._engine.config
        by_host: dict[str, RoundWork] = {}
        for name in sorted(inboxes):
            host = self._engine.pool.host_of[name]
            work = by_host.setdefault(
                host,
                RoundWork(
                    self.run_id,
                    rnd,
                    self.task,
                    config.seed,
                    config.swarm_id,
                    [],
                    stage=stage,
                    attempt=attempt,
                    instruction=instruction,
                    roles=self._roles,
                ),
            )
            reservation = reservations[name]
            allowance = Allowance(
                usd=reservation.usd if config.budget.max_usd is not None else None,
                tokens=reservation.tokens if config.budget.max_tokens is not None else None,
            )
            key = (name, rnd)
            steps_before = self._counts.steps.get(key, 0)
            _Counts.bump(self._counts.steps, key)
            work.items.append(
                AgentWork(
                    name,
                    inboxes[name],
                    allowance,
                    replay=None if self._replay_calls is None else self._replay_calls.get(key, []),
                    replay_tools=None
                    if self._replay_tools is None
                    else self._replay_tools.get(key, []),
                    salt=() if steps_before == 0 else (stage, attempt),
                    call_offset=self._counts.calls.get(key, 0),
                    tool_offset=self._counts.tools.get(key, 0),
                )
            )
        return by_host

    async def _call_host(self, host: str, work: RoundWork) -> list[Turn]:
        pool = self._engine.pool
        restarts = 0
        while True:
            ref = pool.handles[host].step.remote(work)
            try:
                turns: list[Turn] = await ref
                return turns
            except asyncio.CancelledError:
                ray.cancel(ref)  # the run was cancelled: stop the agents' step on the host too
                raise
            except ray.exceptions.RayError as exc:
                if not host_gone(exc):
                    raise run_error(f"host {host} in round {work.round}", exc) from exc
                if restarts >= self._engine.config.max_restarts:
                    raise HostFailure(
                        f"host {host} died in round {work.round} and was restarted {restarts} "
                        f"times without success: {type(exc).__name__}"
                    ) from exc
                restarts += 1
                pool.restart(host)
                self.emit(
                    HostRestarted(
                        round=work.round,
                        host=host,
                        agents=tuple(pool.placement[host]),
                        error=type(exc).__name__,
                    )
                )

    def _apply(
        self,
        rnd: int,
        turns: list[Turn],
        reservations: Mapping[str, Reservation],
        recipients: Mapping[str, Sequence[str]],
    ) -> StepOutcome:
        """Apply the step's turns in agent-name order; settle spending; say what was said."""
        said: dict[str, AgentMessage] = {}
        messages: list[AgentMessage] = []
        failed: dict[str, str] = {}
        for turn in turns:
            spent = Usage()
            key = (turn.agent, rnd)
            for event in turn.events:
                self.emit(event.model_copy(update={"round": rnd}))
                if isinstance(event, ModelCalled):
                    spent = spent + Usage.of(event.response)
                    _Counts.bump(self._counts.calls, key)
                elif isinstance(event, CallRefused):
                    _Counts.bump(self._counts.calls, key)
                elif isinstance(event, ToolCalled):
                    spent = spent + Usage.of_tool(event.cost_usd, event.ran)
                    _Counts.bump(self._counts.tools, key)
            self._ledger.settle(reservations[turn.agent], spent)
            if turn.error is not None:
                failed[turn.agent] = turn.error
                self.emit(AgentFailed(round=rnd, agent=turn.agent, error=turn.error))
                continue
            for utterance in turn.utterances:
                message = AgentMessage(
                    run_id=self.run_id,
                    round=rnd,
                    sender=turn.agent,
                    recipients=utterance.to
                    if utterance.to is not None
                    else tuple(recipients.get(turn.agent, ())),
                    content=utterance.content,
                    answer=utterance.answer,
                    confidence=utterance.confidence,
                    failed=utterance.failed,
                    trace=_carrier(),
                )
                self.emit(MessageSent(round=rnd, message=message))
                messages.append(message)
                if utterance.failed:
                    failed[turn.agent] = utterance.content
                    self.emit(AgentFailed(round=rnd, agent=turn.agent, error=utterance.content))
                else:
                    said[turn.agent] = message
        return StepOutcome(said, messages, failed)


class RoundEngine:
    """Runs one task through a swarm's hosts under a protocol; see the module docstring."""

    def __init__(
        self,
        config: EngineConfig,
        agents: Mapping[str, Agent],
        graph: nx.DiGraph,
        pool: HostPool,
        spec: dict[str, Any],
        protocol: Protocol,
        *,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.agents = agents
        self.graph = graph
        self.pool = pool
        self.spec = spec
        self.protocol = protocol
        self.tags = dict(tags or {})

    async def run(
        self,
        task: Task,
        *,
        replay: Timeline | None = None,
        on_event: EventListener | None = None,
        notes: Sequence[AnyEvent] = (),
    ) -> RunResult:
        """Run ``task``; ``notes`` are events of the caller's own (a learner's choice) recorded
        right after ``run_started``."""
        recorder = RunRecorder(on_event=on_event)
        ledger = Ledger(self.config.budget)
        with recorder.closing():
            recorder.emit(
                RunStarted(
                    spec=self.spec,
                    task=task.model_dump(mode="json"),
                    placement=self.pool.placement,
                    tags=self.tags,
                )
            )
            for note in notes:
                recorder.emit(note)
            recorder.flush()
            context = RunContext(self, recorder, task, ledger, replay)
            with _tracer.start_as_current_span(
                "ekklesia.run", attributes={"run_id": recorder.run_id}
            ):
                outcome = await self.protocol(context)
            correct = outcome.correct
            recorder.emit(
                RunStopped(
                    round=outcome.rounds,
                    reason=outcome.stop_reason,
                    rounds_completed=outcome.rounds,
                    detail=outcome.detail,
                )
            )
            recorder.emit(
                RunFinished(
                    round=outcome.rounds,
                    answer=outcome.answer,
                    expected=task.expected,
                    correct=correct,
                    stop_reason=outcome.stop_reason,
                    rounds=outcome.rounds,
                    usage=ledger.spent,
                    score=outcome.score,
                )
            )
        path = recorder.finish()
        result = RunResult(
            run_id=recorder.run_id,
            task_id=task.id,
            answer=outcome.answer,
            expected=task.expected,
            correct=correct,
            stop_reason=outcome.stop_reason,
            rounds=outcome.rounds,
            usage=ledger.spent,
            final_answers=outcome.final_answers,
            timeline_path=path,
            score=outcome.score,
        )
        result._timeline = recorder.timeline
        return result


def _carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
