"""One agent of a run spec: name, role, model, tools and, for a user's class, its import path."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.agents.roles import Role

__all__ = ["AgentSpec"]


class AgentSpec(BaseModel):
    """One agent of a spec. ``class`` names a user's ``ek.Agent`` subclass by import path."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    role: str | Role = "solver"
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0.0)
    class_: str | None = Field(default=None, alias="class")
