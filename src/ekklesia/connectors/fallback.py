"""Fallback as composition: ask the next model in a list when one fails."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ekklesia.agents.model import Model
from ekklesia.agents.spec import model_from_spec
from ekklesia.core.llm import LLMRequest, LLMResponse
from ekklesia.errors import SpecError

__all__ = ["FallbackModel"]


class FallbackModel(Model):
    """Try each model in order; the first answer without an error is the answer.

    A budget refusal (``finish_reason="refused"``) is an answer, not a failure: it is returned at
    once, since a cheaper model next in line would spend budget the run was told it does not have.
    When every model fails, the last failure is returned with the others' errors in its message.
    The response's ``model`` says which model answered.
    """

    def __init__(self, models: Sequence[Model | str]) -> None:
        if not models:
            raise SpecError("FallbackModel needs at least one model")
        self.models = [model_from_spec(m) for m in models]
        self.name = " > ".join(m.name for m in self.models)

    @property
    def supports_tools(self) -> bool:
        # Offered tools cost a model that cannot call them nothing: it answers in text.
        return any(m.supports_tools for m in self.models)

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        costs = [m.max_cost_usd(input_tokens, max_output_tokens) for m in self.models]
        if any(c is None for c in costs):
            return None
        return max(c for c in costs if c is not None)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        errors: list[str] = []
        response = LLMResponse(model=self.name, error="no model answered", finish_reason="error")
        for model in self.models:
            response = await model.complete(request)
            if response.ok or response.finish_reason == "refused":
                break
            errors.append(f"{model.name}: {response.error}")
        else:
            response = response.model_copy(update={"error": "; ".join(errors)})
        return response.model_copy(update={"latency_s": time.perf_counter() - started})

    async def aclose(self) -> None:
        for model in self.models:
            await model.aclose()
