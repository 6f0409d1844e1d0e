"""A task: a prompt, optionally the expected answer, and where it came from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Task"]


class Task(BaseModel):
    """One problem put to a swarm. ``expected`` is ``None`` when the answer is not known."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    expected: str | None = None
    suite: str = "custom"
    options: tuple[str, ...] = ()
    meta: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, prompt: str, expected: str | None = None, *, id: str = "task") -> Task:
        return cls(id=id, prompt=prompt, expected=expected)
