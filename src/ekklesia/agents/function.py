"""A model backed by a plain Python callable — the test double users write their swarms against."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from ekklesia.agents.model import Model
from ekklesia.core.llm import LLMRequest, LLMResponse, estimate_tokens

__all__ = ["FunctionModel"]

Reply: TypeAlias = str | LLMResponse
ModelFunction: TypeAlias = Callable[[LLMRequest], Reply | Awaitable[Reply]]


class FunctionModel(Model):
    """Wraps ``fn(request)``, sync or async, returning text or a full :class:`LLMResponse`.

    When ``fn`` returns text, tokens are estimated from the text (and flagged as estimated) and the
    cost is ``cost_usd`` per call — zero unless given, since a local function has no price. An
    exception raised by ``fn`` becomes the response's ``error``: the run records it and goes on.
    ``tools=True`` says the function answers tool calls (it returns an :class:`LLMResponse` with
    ``tool_calls``), so agents offer it their tools.
    """

    def __init__(
        self,
        fn: ModelFunction,
        *,
        name: str | None = None,
        cost_usd: float = 0.0,
        tools: bool = False,
    ):
        self.fn = fn
        self.name = name or f"function:{getattr(fn, '__name__', 'anonymous')}"
        self.cost_usd = cost_usd
        self.tools = tools

    @property
    def supports_tools(self) -> bool:
        return self.tools

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        return self.cost_usd

    async def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        try:
            reply = self.fn(request)
            if inspect.isawaitable(reply):
                reply = await reply
        except Exception as exc:  # the user's function failed: a failed call, not a failed run
            return LLMResponse(
                model=self.name,
                error=f"{type(exc).__name__}: {exc}",
                finish_reason="error",
                latency_s=time.perf_counter() - started,
            )
        if isinstance(reply, LLMResponse):
            return reply
        if not isinstance(reply, str):
            return LLMResponse(
                model=self.name,
                error=f"model function returned {type(reply).__name__}, not str or LLMResponse",
                finish_reason="error",
            )
        return LLMResponse(
            text=reply,
            input_tokens=estimate_tokens(request.prompt_text),
            output_tokens=estimate_tokens(reply),
            usage_estimated=True,
            cost_usd=self.cost_usd,
            latency_s=time.perf_counter() - started,
            model=self.name,
        )
