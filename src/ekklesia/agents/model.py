"""The model interface: one async method, ``complete(request) -> LLMResponse``.

Every backend — simulated, a Python function, a recorded timeline, a Portkey gateway, an
OpenAI-compatible server — implements :class:`Model`. Wrapping and fallback are composition, not
subclass trees. A model never raises for a failed completion: it returns an ``LLMResponse`` whose
``error`` says what went wrong, so the run records it and goes on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatTurn",
    "LLMRequest",
    "LLMResponse",
    "Model",
    "SimHints",
    "estimate_tokens",
]


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


class Model(ABC):
    """A language model, real or simulated.

    Subclasses implement :meth:`complete`. ``name`` is what the timeline records; :meth:`spec`
    returns a model spec string that recreates the model where one exists.
    """

    name: str = "model"

    @abstractmethod
    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer one request. Failures are returned as ``LLMResponse(error=...)``."""

    def spec(self) -> str:
        return self.name

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        """The most one call of this size can cost, or ``None`` when the price is unknown.

        Used to reserve budget before a call; the default knows no price.
        """
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most models hold nothing
        """Release connections. Models without resources need not override this."""


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text`` the way common BPE tokenizers average out: ~4 characters."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / 4))
