"""A model that answers from a recorded timeline instead of calling anything."""

from __future__ import annotations

from collections.abc import Iterable

from ekklesia.agents.context import request_digest
from ekklesia.agents.model import Model
from ekklesia.core.events import ModelCalled
from ekklesia.core.llm import LLMRequest, LLMResponse

__all__ = ["ReplayModel"]


class ReplayModel(Model):
    """Returns the recorded response for each (agent, round, call) — and checks the prompt matches.

    A request the recording does not hold, or one whose prompt differs from the recorded one,
    comes back as an error response naming the mismatch: a replay that diverges shows where.
    It supports tools when the recorded calls offered them, so an agent that asks
    :attr:`supports_tools` builds the request it built when the run was recorded.
    """

    def __init__(self, calls: Iterable[ModelCalled]) -> None:
        self.name = "replay"
        self._calls = {(c.agent, c.round, c.call_index): c for c in calls}
        self._offered_tools = any(c.offered_tools for c in self._calls.values())

    @property
    def supports_tools(self) -> bool:
        return self._offered_tools

    async def complete(self, request: LLMRequest) -> LLMResponse:
        key = (request.agent, request.round, request.call_index)
        recorded = self._calls.get(key)
        if recorded is None:
            return LLMResponse(
                model=self.name,
                error=f"replay: no recorded call for agent {key[0]}, round {key[1]}, call {key[2]}",
                finish_reason="error",
            )
        if recorded.request_digest != request_digest(request):
            return LLMResponse(
                model=self.name,
                error=(
                    f"replay: the prompt of agent {key[0]}, round {key[1]}, call {key[2]} "
                    "differs from the recorded one"
                ),
                finish_reason="error",
            )
        return recorded.response
