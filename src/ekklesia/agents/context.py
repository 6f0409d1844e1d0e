"""What an agent sees of the run while it steps: the task, the round and stage, its budget, a
model, its tools, memory.

The context is where the runtime's bookkeeping lives, so agent code stays plain: every model call
goes through :meth:`StepContext.complete`, which fills in the call's coordinates, enforces the
agent's allowance for the step, times the call and records it; every tool call goes through
:meth:`StepContext.call_tool`, which validates the arguments, enforces the allowance, runs the tool
under its timeout and records a :class:`~ekklesia.core.events.ToolCalled` (on replay it returns the
recorded result and runs nothing); every memory operation goes through ``ctx.memory`` and is
recorded as a :class:`~ekklesia.core.events.MemoryOp`. Agents know nothing of Ray: the same context
is built wherever the agent is placed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ekklesia.agents.model import Model
from ekklesia.core.events import AnyEvent, CallRefused, MemoryOp, ModelCalled, ToolCalled
from ekklesia.core.llm import LLMRequest, LLMResponse, estimate_tokens
from ekklesia.core.seeds import stable_seed
from ekklesia.core.task import Task
from ekklesia.errors import ToolError
from ekklesia.tools.base import Tool, ToolContext, ToolResult, result_digest

__all__ = ["Allowance", "MemoryProvider", "StepContext", "request_digest"]


class MemoryProvider(Protocol):
    """Gives each agent step a memory handle; implemented by :mod:`ekklesia.memory`.

    ``record`` must be called once per memory operation, in the order the agent made them.
    """

    def handle(
        self, *, agent: str, run_id: str, swarm_id: str, record: Callable[[MemoryOp], None]
    ) -> Any: ...


@dataclass(frozen=True)
class Allowance:
    """The most an agent's step may spend; ``None`` means unlimited on that measure."""

    usd: float | None = None
    tokens: int | None = None


def request_digest(request: LLMRequest) -> str:
    """A digest of what was asked, so a replay can tell that it asks the same thing.

    The offered tools and the tool choice count only when tools are offered: a request without
    them digests as requests did before tool calling existed, so older timelines still replay.
    """
    text = "\x1e".join(f"{t.role}\x1f{t.content}" for t in request.messages)
    if request.tools:
        offered = [t.model_dump(mode="json") for t in request.tools]
        text += "\x1d" + json.dumps([offered, request.tool_choice], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass
class StepContext:
    """One agent's view of one step of one run.

    ``stage`` and ``attempt`` say which stage of the pattern this step belongs to and how many
    times a gate sent it back; ``instruction`` is what the stage asks of the agent (``None`` in a
    debate round). ``call_offset`` and ``tool_offset`` number this step's calls after those the
    agent made earlier in the same round, so calls are known by (agent, round, index) however the
    round was staged.
    """

    run_id: str
    round: int
    agent: str
    task: Task
    seed: int
    model: Model
    allowance: Allowance = field(default_factory=Allowance)
    memory_provider: MemoryProvider | None = None
    swarm_id: str = ""
    stage: str = ""
    attempt: int = 0
    instruction: str | None = None
    salt: tuple[str | int, ...] = ()
    tools: Mapping[str, Tool[Any]] = field(default_factory=dict)
    recorded_tools: Sequence[ToolCalled] | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    """Every agent of the swarm by name: its role's name (who said what, for prompts and hints)."""
    call_offset: int = 0
    tool_offset: int = 0
    events: list[AnyEvent] = field(default_factory=list)
    _calls: int = 0
    _tool_calls: int = 0
    _spent_usd: float = 0.0
    _spent_tokens: int = 0
    _memory: Any = None

    def __post_init__(self) -> None:
        self._calls = self.call_offset
        self._tool_calls = self.tool_offset

    @property
    def step_seed(self) -> int:
        """A seed unique to this agent, round and task — the same wherever the agent runs.

        An agent's first step in a round is seeded by (seed, task, agent, round); a later step of
        the same round (another stage, a revision) adds its ``salt`` (stage and attempt).
        """
        return stable_seed(self.seed, self.task.id, self.agent, self.round, *self.salt)

    @property
    def memory(self) -> Any:
        """This agent's memory handle (``remember`` / ``recall`` / ``forget``), or ``None``."""
        if self._memory is None and self.memory_provider is not None:
            self._memory = self.memory_provider.handle(
                agent=self.agent, run_id=self.run_id, swarm_id=self.swarm_id, record=self._record
            )
        return self._memory

    def _record(self, op: MemoryOp) -> None:
        self.events.append(op.model_copy(update={"round": self.round, "agent": self.agent}))

    async def complete(self, request: LLMRequest, model: Model | None = None) -> LLMResponse:
        """Call ``model`` (the agent's own by default) within the step's allowance; record it."""
        model = model or self.model
        index = self._calls
        self._calls += 1
        request = request.model_copy(
            update={
                "run_id": self.run_id,
                "agent": self.agent,
                "round": self.round,
                "call_index": index,
                "seed": self.step_seed,
            }
        )
        refusal = self._refusal(model, request)
        if refusal is not None:
            self.events.append(
                CallRefused(round=self.round, agent=self.agent, call_index=index, reason=refusal)
            )
            return LLMResponse(model=model.name, error=refusal, finish_reason="refused")
        started = time.perf_counter()
        try:
            response = await model.complete(request)
        except Exception as exc:  # a model that raises instead of returning an error
            response = LLMResponse(
                model=model.name, error=f"{type(exc).__name__}: {exc}", finish_reason="error"
            )
        if not response.latency_s:
            response = response.model_copy(update={"latency_s": time.perf_counter() - started})
        self._spent_usd += response.cost_usd or 0.0
        self._spent_tokens += response.total_tokens
        self.events.append(
            ModelCalled(
                round=self.round,
                agent=self.agent,
                call_index=index,
                request_digest=request_digest(request),
                response=response,
                offered_tools=tuple(t.name for t in request.tools),
            )
        )
        return response

    async def call_tool(self, tool: str | Tool[Any], /, **arguments: Any) -> ToolResult[Any]:
        """Call one of the agent's tools; the call is recorded and never raises.

        A failure — an unknown tool, bad arguments, the budget, a timeout, the tool's own error —
        comes back as a :class:`ToolResult` with ``error`` set, recorded on the call.
        """
        name = tool if isinstance(tool, str) else tool.name
        index = self._tool_calls
        self._tool_calls += 1
        found = self.tools.get(name)
        if found is None or (not isinstance(tool, str) and found is not tool):
            known = ", ".join(self.tools) or "none"
            return self._tool_failed(index, name, arguments, f"no tool {name!r} (has: {known})")
        try:
            parsed = found.parse(arguments)
        except ToolError as exc:
            return self._tool_failed(index, name, arguments, str(exc))
        recorded_args = parsed.model_dump(mode="json")
        if self.recorded_tools is not None:
            return self._replayed_tool(index, found, recorded_args)
        left = None if self.allowance.usd is None else self.allowance.usd - self._spent_usd
        if left is not None and found.price_usd > left + 1e-12:
            refusal = f"budget: the call costs ${found.price_usd:.6f}, ${left:.6f} is left"
            return self._tool_failed(index, name, recorded_args, refusal)
        started = time.perf_counter()
        context = ToolContext(
            agent=self.agent, run_id=self.run_id, round=self.round, memory=self.memory
        )
        value: Any = None
        error: str | None = None
        result: Any = None
        try:
            value = await found.invoke(parsed, context)
            result = found.dump(value)
        except Exception as exc:  # the tool failed: recorded on the call, the step goes on
            error = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
        latency = time.perf_counter() - started
        self._spent_usd += found.price_usd
        self._record_tool(
            index,
            name,
            recorded_args,
            result=result,
            error=error,
            latency_s=latency,
            cost_usd=found.price_usd,
            result_digest=result_digest(result) if error is None else "",
        )
        return ToolResult(name, value, error, latency, found.price_usd)

    def _tool_failed(
        self, index: int, name: str, arguments: Mapping[str, Any], error: str
    ) -> ToolResult[Any]:
        """A call refused before its tool ran: recorded, not counted."""
        safe = json.loads(json.dumps(dict(arguments), default=str))
        self._record_tool(index, name, safe, error=error, ran=False)
        return ToolResult(name, None, error)

    def _record_tool(self, index: int, name: str, arguments: dict[str, Any], **fields: Any) -> None:
        self.events.append(
            ToolCalled(
                round=self.round,
                agent=self.agent,
                call_index=index,
                tool=name,
                arguments=arguments,
                **fields,
            )
        )

    def _replayed_tool(
        self, index: int, tool: Tool[Any], arguments: dict[str, Any]
    ) -> ToolResult[Any]:
        assert self.recorded_tools is not None
        recorded = next((c for c in self.recorded_tools if c.call_index == index), None)
        if recorded is None or recorded.tool != tool.name or recorded.arguments != arguments:
            what = "no recorded call" if recorded is None else "a different recorded call"
            error = (
                f"replay: {what} for tool {tool.name} of agent {self.agent}, "
                f"round {self.round}, call {index}"
            )
            return self._tool_failed(index, tool.name, arguments, error)
        self._spent_usd += recorded.cost_usd
        self.events.append(recorded.model_copy(update={"seq": -1}))
        value = None if recorded.error is not None else tool.load(recorded.result)
        return ToolResult(tool.name, value, recorded.error, recorded.latency_s, recorded.cost_usd)

    def _refusal(self, model: Model, request: LLMRequest) -> str | None:
        input_tokens = estimate_tokens(request.prompt_text)
        if self.allowance.tokens is not None:
            needed = input_tokens + request.max_tokens
            left = self.allowance.tokens - self._spent_tokens
            if needed > left:
                return f"budget: the call may use {needed} tokens, {left} are left for this step"
        if self.allowance.usd is not None:
            cost = model.max_cost_usd(input_tokens, request.max_tokens) or 0.0
            left_usd = self.allowance.usd - self._spent_usd
            if cost > left_usd + 1e-12:
                return (
                    f"budget: the call may cost ${cost:.6f}, ${left_usd:.6f} is left for this step"
                )
        return None
