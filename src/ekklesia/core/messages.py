"""Messages between agents: frozen pydantic models in a discriminated union.

One :data:`MESSAGE_ADAPTER` reads and writes every kind, so a timeline round-trips exactly.
``trace`` carries W3C trace context (OpenTelemetry's propagator) from sender to recipient.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["MESSAGE_ADAPTER", "AgentMessage", "Message", "TaskMessage"]


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    round: int = Field(ge=0)
    sender: str
    recipients: tuple[str, ...]
    content: str
    trace: dict[str, str] = Field(default_factory=dict)


class TaskMessage(_Envelope):
    """The task as put to the agents at the start of a run."""

    kind: Literal["task"] = "task"
    task_id: str


class AgentMessage(_Envelope):
    """What an agent said in a round; ``answer`` is what its role's parser read out of it."""

    kind: Literal["agent"] = "agent"
    answer: str | None = None
    confidence: float | None = None
    failed: bool = False


Message = Annotated[TaskMessage | AgentMessage, Field(discriminator="kind")]
MESSAGE_ADAPTER: TypeAdapter[TaskMessage | AgentMessage] = TypeAdapter(Message)
