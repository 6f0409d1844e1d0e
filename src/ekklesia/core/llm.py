"""The vocabulary of model calls: a chat prompt, a request with its coordinates, a priced response.

These are the ground floor that agents, the runtime, connectors and timelines all speak; the
:class:`~ekklesia.agents.model.Model` interface that turns a request into a response lives with the
agents.

Tool calling: a request may offer functions (:class:`ToolSpec`, OpenAI's function shape, as
:meth:`ekklesia.tools.Tool.tool_spec` describes a tool) and say whether the model must call one
(``tool_choice``); a response carries the calls the model asked for (:class:`ModelToolCall`, its
arguments kept as the raw JSON text the model sent). Both default to empty, so a request or a
response of a run without tools reads, writes and digests as it did before tools existed. The
model only *asks* for a call: the agent decides whether to run it, through its step context.
"""

from __future__ import annotations

import json
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

__all__ = [
    "TOOL_CHOICES",
    "ChatTurn",
    "LLMRequest",
    "LLMResponse",
    "ModelToolCall",
    "SimHints",
    "ToolSpec",
    "estimate_tokens",
]

#: ``tool_choice`` values that name no tool: the model may call one, must not, or must call one.
TOOL_CHOICES = ("auto", "none", "required")


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


def _no_parameters() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class ToolSpec(BaseModel):
    """A function offered to a model: its name, what it does, and its parameters as JSON Schema."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    parameters: dict[str, JsonValue] = Field(default_factory=_no_parameters)

    def openai(self) -> dict[str, JsonValue]:
        """The entry of an OpenAI ``tools`` list: ``{"type": "function", "function": {...}}``."""
        function: dict[str, JsonValue] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


class ModelToolCall(BaseModel):
    """A call the model asked for: the provider's call id, the function, the arguments' JSON text.

    ``arguments`` is kept exactly as the model wrote it — possibly not JSON at all — so the record
    shows what was sent; :attr:`parsed_arguments` reads it without ever raising.
    """

    model_config = ConfigDict(frozen=True)

    id: str = ""
    name: str
    arguments: str = ""

    @property
    def parsed_arguments(self) -> dict[str, JsonValue] | None:
        """The arguments as a JSON object, or ``None`` when they are not one."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class LLMRequest(BaseModel):
    """A completion request, with the coordinates that make it reproducible.

    ``tools`` are the functions offered to the model; ``tool_choice`` is ``"auto"`` (the model
    may answer in text or call one), ``"none"``, ``"required"``, or the name of an offered tool
    the model must call. A model that does not support tool calling ignores both.
    """

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
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str = "auto"

    @model_validator(mode="after")
    def _choice_names_an_offered_tool(self) -> LLMRequest:
        if not self.tools and self.tool_choice == "auto":
            return self
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"a tool is offered twice: {', '.join(twice)}")
        if self.tool_choice not in TOOL_CHOICES and self.tool_choice not in names:
            raise ValueError(
                f"tool_choice {self.tool_choice!r} is neither one of {', '.join(TOOL_CHOICES)} "
                "nor the name of an offered tool"
            )
        return self

    @property
    def prompt_text(self) -> str:
        return "\n".join(turn.content for turn in self.messages)


class LLMResponse(BaseModel):
    """What a model call produced, priced.

    ``cost_usd`` is ``None`` when the price of the model is unknown — never zero by default.
    ``usage_estimated`` is true when the provider reported no token counts and they were estimated
    from the text. ``tool_calls`` are the calls the model asked for, in its order (``text`` is
    often empty then, and ``finish_reason`` ``"tool_calls"``).
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
    tool_calls: tuple[ModelToolCall, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def tool_call(self, name: str) -> ModelToolCall | None:
        """The model's first call of the tool ``name``, or ``None``."""
        return next((call for call in self.tool_calls if call.name == name), None)


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text`` the way common BPE tokenizers average out: ~4 characters."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / 4))
