"""``memory_search``: a search over the swarm's memory tiers, as a tool a model can call."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ekklesia.errors import ToolError
from ekklesia.tools.base import Tool, ToolContext

__all__ = ["MemoryHit", "memory_search"]


class MemoryHit(BaseModel):
    """One entry found: its text, its score, the scope kind it was found in, and its id."""

    model_config = ConfigDict(frozen=True)

    text: str
    score: float
    scope: str
    id: str


async def _memory_search(
    query: str,
    k: int = 5,
    mode: Literal["vector", "text", "hybrid"] = "hybrid",
    scopes: list[Literal["agent", "run", "swarm", "session", "global"]] | None = None,
    context: ToolContext = ToolContext(),  # noqa: B008 - replaced by the caller's context
) -> list[MemoryHit]:
    """Search the swarm's shared memory for the entries most like the query."""
    if context.memory is None:
        raise ToolError("memory_search needs a swarm with memory (Swarm(..., memory=ek.Memory()))")
    if k < 1:
        raise ToolError(f"k must be >= 1, got {k}")
    hits = await context.memory.recall(query, k=k, mode=mode, scopes=scopes)
    return [
        MemoryHit(text=h.text, score=round(h.score, 6), scope=h.scope.partition(":")[0], id=h.id)
        for h in hits
    ]


memory_search: Tool[list[MemoryHit]] = Tool(_memory_search, name="memory_search", timeout_s=30.0)
