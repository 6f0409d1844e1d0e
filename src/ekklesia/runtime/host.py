"""Agent hosts: the Ray actors that hold agents and step them, one batched call per round.

:class:`HostCore` is plain Python — it steps its agents concurrently with asyncio — and
:data:`AgentHost` is the same class as a Ray actor. A host holds one agent (small swarms) or many.
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass, field
from typing import Any

import ray

from ekklesia.agents.agent import Agent, Utterance
from ekklesia.agents.context import Allowance, MemoryProvider, StepContext
from ekklesia.agents.replay import ReplayModel
from ekklesia.core.events import AnyEvent, ModelCalled, ToolCalled
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.core.task import Task

__all__ = ["AgentHost", "AgentWork", "HostCore", "RoundWork", "Turn"]


@dataclass
class AgentWork:
    """One agent's part of a step: its inbox, its allowance, where its calls are numbered from,
    and — on replay — the recorded calls it gets instead of calling anything."""

    agent: str
    inbox: list[TaskMessage | AgentMessage]
    allowance: Allowance = field(default_factory=Allowance)
    replay: list[ModelCalled] | None = None
    replay_tools: list[ToolCalled] | None = None
    salt: tuple[str | int, ...] = ()
    call_offset: int = 0
    tool_offset: int = 0


@dataclass
class RoundWork:
    """One step of a round for the agents of one host (a stage of the pattern)."""

    run_id: str
    round: int
    task: Task
    seed: int
    swarm_id: str
    items: list[AgentWork]
    stage: str = ""
    attempt: int = 0
    instruction: str | None = None
    roles: dict[str, str] = field(default_factory=dict)


@dataclass
class Turn:
    """One agent's part of a step: what it said and what it did on the way."""

    agent: str
    utterances: list[Utterance]
    events: list[AnyEvent]
    error: str | None = None


class HostCore:
    """Holds agents by name and steps those a round asks for."""

    def __init__(
        self, host_id: str, agents: list[Agent], memory: MemoryProvider | None = None
    ) -> None:
        self.host_id = host_id
        self.agents = {agent.name: agent for agent in agents}
        self.memory = memory
        self.roles: dict[str, str] = {}

    def ping(self) -> str:
        return self.host_id

    async def step(self, work: RoundWork) -> list[Turn]:
        if work.roles:
            self.roles = dict(work.roles)
        return list(await asyncio.gather(*(self._step_one(work, item) for item in work.items)))

    async def _step_one(self, work: RoundWork, item: AgentWork) -> Turn:
        agent = self.agents[item.agent]
        ctx = StepContext(
            run_id=work.run_id,
            round=work.round,
            agent=agent.name,
            task=work.task,
            seed=work.seed,
            model=agent.model if item.replay is None else ReplayModel(item.replay),
            allowance=item.allowance,
            memory_provider=self.memory,
            swarm_id=work.swarm_id,
            stage=work.stage,
            attempt=work.attempt,
            instruction=work.instruction,
            salt=item.salt,
            tools=agent.tools,
            recorded_tools=item.replay_tools,
            roles=self.roles,
            call_offset=item.call_offset,
            tool_offset=item.tool_offset,
        )
        try:
            utterances = await agent.step(item.inbox, ctx)
        except Exception as exc:  # the agent's own code failed: its turn fails, the run goes on
            lines = traceback.format_exception_only(type(exc), exc)
            return Turn(agent.name, [], ctx.events, error="".join(lines).strip())
        return Turn(agent.name, list(utterances), ctx.events)


AgentHost: Any = ray.remote(num_cpus=0, max_restarts=0)(HostCore)
