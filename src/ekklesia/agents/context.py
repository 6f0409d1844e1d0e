"""What an agent sees of the run while it steps: the task, the round, its budget, a model, memory.

The context is where the runtime's bookkeeping lives, so agent code stays plain: every model call
goes through :meth:`StepContext.complete`, which fills in the call's coordinates, enforces the
agent's allowance for the step, times the call and records it; every memory operation goes through
``ctx.memory`` and is recorded as a :class:`~ekklesia.core.events.MemoryOp`. Agents know nothing
of Ray: the same context is built wherever the agent is placed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ekklesia.agents.model import Model
from ekklesia.core.events import CallRefused, MemoryOp, ModelCalled
from ekklesia.core.llm import LLMRequest, LLMResponse, estimate_tokens
from ekklesia.core.seeds import stable_seed
from ekklesia.core.task import Task

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
    """A digest of what was asked, so a replay can tell that it asks the same thing."""
    text = "\x1e".join(f"{t.role}\x1f{t.content}" for t in request.messages)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass
class StepContext:
    """One agent's view of one round of one run."""

    run_id: str
    round: int
    agent: str
    task: Task
    seed: int
    model: Model
    allowance: Allowance = field(default_factory=Allowance)
    memory_provider: MemoryProvider | None = None
    swarm_id: str = ""
    events: list[Any] = field(default_factory=list)
    _calls: int = 0
    _spent_usd: float = 0.0
    _spent_tokens: int = 0
    _memory: Any = None

    @property
    def step_seed(self) -> int:
        """A seed unique to this agent, round and task — the same wherever the agent runs."""
        return stable_seed(self.seed, self.task.id, self.agent, self.round)

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
            )
        )
        return response

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
