"""An agent: a name, a role and a model. ``step(inbox, ctx)`` turns what it heard into what it says.

Agents know nothing of Ray or of the graph: the runtime delivers the inbox, routes what the agent
says to those who hear it, and records everything. Subclass :class:`Agent` and override
:meth:`Agent.step` (or just :meth:`Agent.prompt`) for custom behaviour; every model call must go
through ``ctx.complete`` so that it is budgeted, recorded and replayable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ekklesia.agents.context import StepContext
from ekklesia.agents.model import Model
from ekklesia.agents.roles import Role, get_role
from ekklesia.agents.spec import model_from_spec
from ekklesia.core.llm import ChatTurn, LLMRequest, SimHints
from ekklesia.core.messages import AgentMessage, TaskMessage
from ekklesia.errors import SpecError
from ekklesia.tools.base import Tool
from ekklesia.tools.registry import resolve_tools

__all__ = ["Agent", "Utterance"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

DEBATE_PROMPT = (
    "These are the solutions to the problem from other agents:\n\n{opinions}\n\n"
    "Using the reasoning from other agents as additional advice, can you give an updated answer? "
    "Examine your solution and that of the other agents step by step. "
    "Make sure to state your answer at the end of the response."
)
JUDGE_PROMPT = (
    "Problem: {task}\n\nThese are the final answers of the agents:\n\n{opinions}\n\n"
    "Decide which answer is correct."
)


class Utterance(BaseModel):
    """What an agent says in a step. ``to=None`` sends it to everyone who hears the agent."""

    model_config = ConfigDict(frozen=True)

    content: str
    answer: str | None = None
    confidence: float | None = None
    to: tuple[str, ...] | None = None
    failed: bool = False


class Agent:
    """A role played by a model. See the module docstring."""

    def __init__(
        self,
        name: str,
        role: str | Role = "solver",
        model: str | Model = "sim",
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        tools: Sequence[str | Tool[Any]] = (),
        max_tool_calls: int = 8,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(
                f"agent name {name!r} is not valid: use 1-64 letters, digits, '_', '.' or '-'"
            )
        if max_tokens < 1:
            raise SpecError(f"agent {name}: max_tokens must be >= 1, got {max_tokens}")
        self.name = name
        self.role = get_role(role)
        self.model = model_from_spec(model)
        if max_tool_calls < 0:
            raise SpecError(f"agent {name}: max_tool_calls must be >= 0, got {max_tool_calls}")
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.tools = resolve_tools(tools)
        self.max_tool_calls = max_tool_calls

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"{kind}({self.name!r}, role={self.role.name!r}, model={self.model.spec()!r})"

    def describe(self) -> dict[str, Any]:
        """What the timeline records of this agent, enough to rebuild it for a replay."""
        cls = type(self)
        return {
            "name": self.name,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "role": self.role.model_dump(),
            "model": self.model.spec(),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "tools": list(self.tools),
        }

    def max_tool_usd(self) -> float:
        """The most this agent's tool calls can cost in one step, for the budget's reservation."""
        prices = [t.price_usd for t in self.tools.values()]
        return self.max_tool_calls * max(prices, default=0.0)

    # -- one step ------------------------------------------------------------------------------

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        """Ask the model once with a prompt built from the inbox; say what it answered."""
        response = await ctx.complete(self.request(inbox, ctx))
        if not response.ok:
            return [Utterance(content=response.error or "model call failed", failed=True)]
        answer, confidence = self.role.parse(response.text)
        return [Utterance(content=response.text, answer=answer, confidence=confidence)]

    def request(self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext) -> LLMRequest:
        """The model request of this step: the prompt, this agent's settings, the hints."""
        return LLMRequest(
            messages=tuple(self.prompt(inbox, ctx)),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            hints=self.hints(inbox, ctx),
        )

    def prompt(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[ChatTurn]:
        """The chat for this step, in the shape of Du et al.'s debate prompts."""
        turns = [ChatTurn(role="system", content=self.role.system_prompt)]
        own = [m for m in inbox if isinstance(m, AgentMessage) and m.sender == self.name]
        others = [m for m in inbox if isinstance(m, AgentMessage) and m.sender != self.name]
        if not self.role.debates:
            opinions = "\n\n".join(f"Agent {m.sender}: ```{m.content}```" for m in others)
            turns.append(
                ChatTurn(
                    role="user",
                    content=JUDGE_PROMPT.format(task=ctx.task.prompt, opinions=opinions),
                )
            )
            return turns
        turns.append(ChatTurn(role="user", content=ctx.task.prompt))
        if own:
            turns.append(ChatTurn(role="assistant", content=own[-1].content))
        if ctx.instruction is not None:  # a stage of a pattern says what it wants of this step
            # an instruction about what was heard waits until something was: a first draft is
            # asked for by the task alone
            if others or "{heard}" not in ctx.instruction:
                heard = "\n\n".join(f"{m.sender}: ```{m.content}```" for m in others)
                content = ctx.instruction.replace("{heard}", heard)
                turns.append(ChatTurn(role="user", content=content))
            return turns
        if others:
            opinions = "\n\n".join(f"One agent solution: ```{m.content}```" for m in others)
            turns.append(ChatTurn(role="user", content=DEBATE_PROMPT.format(opinions=opinions)))
        return turns

    def hints(self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext) -> SimHints:
        """What a simulated model may know: the answer key and the answers heard."""
        own = [m.answer for m in inbox if isinstance(m, AgentMessage) and m.sender == self.name]
        heard = [
            m.answer
            for m in inbox
            if isinstance(m, AgentMessage) and m.sender != self.name and m.answer is not None
        ]
        mine = [m for m in inbox if isinstance(m, AgentMessage) and m.sender == self.name]
        others = [m for m in inbox if isinstance(m, AgentMessage) and m.sender != self.name]
        return SimHints(
            task_id=ctx.task.id,
            expected=ctx.task.expected,
            own_answer=own[-1] if own else None,
            heard_answers=tuple(heard),
            options=ctx.task.options,
            role=self.role.name,
            stage=ctx.stage,
            attempt=ctx.attempt,
            own_text=mine[-1].content if mine else None,
            heard=tuple((ctx.roles.get(m.sender, ""), m.content) for m in others),
            meta=ctx.task.meta,
        )
