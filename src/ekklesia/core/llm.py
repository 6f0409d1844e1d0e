"""The vocabulary of model calls: a chat prompt, a request with its coordinates, a priced response.

These are the ground floor that agents, the runtime, connectors and timelines all speak; the
:class:`~ekklesia.agents.model.Model` interface that turns a request into a response lives with the
agents.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["ChatTurn", "LLMRequest", "LLMResponse", "SimHints", "estimate_tokens"]


class ChatTurn(BaseModel):
    """One chat message of a prompt."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class SimHints(BaseModel):
    """What a simulated model is allowed to know beyond the prompt.

    Real models ignore this. A simulation needs an answer key to be right with a given
    probability, and the answers the agent heard to conform to them; both are carried here
    instead of being parsed out of prose.
    """

    model_config = ConfigDict(frozen=True)

    task_id: str = ""
    expected: str | None = None
    own_answer: str | None = None
    heard_answers: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    role: str = ""
    stage: str = ""
    attempt: int = 0
    own_text: str | None = None
    heard: tuple[tuple[str, str], ...] = ()
    """(sender's role, what it said) for each message heard, in the order heard."""
    meta: dict[str, JsonValue] = Field(default_factory=dict)
    """The task's own data (a code task's program, tests, planted bug), for simulated teams."""


class LLMRequest(BaseModel):
    """A completion request, with the coordinates that make it reproducible."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[ChatTurn, ...]
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0.0)
    seed: int = 0
    run_id: str = ""
    agent: str = ""
    round: int = 0
    call_index: int = 0
    metadata: dict[str, str] = Field(default_factory=dict)
    hints: SimHints | None = None

    @property
    def prompt_text(self) -> str:
        return "\n".join(turn.content for turn in self.messages)


class LLMResponse(BaseModel):
    """What a model call produced, priced.

    ``cost_usd`` is ``None`` when the price of the model is unknown — never zero by default.
    ``usage_estimated`` is true when the provider reported no token counts and they were estimated
    from the text.
    """

    model_config = ConfigDict(frozen=True)

    text: str = ""
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    cost_usd: float | None = None
    usage_estimated: bool = False
    latency_s: float = Field(default=0.0, ge=0.0)
    model: str = ""
    finish_reason: str = "stop"
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text`` the way common BPE tokenizers average out: ~4 characters."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / 4))
