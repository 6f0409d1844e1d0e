"""The model interface: one async method, ``complete(request) -> LLMResponse``.

Every backend — simulated, a Python function, a recorded timeline, a Portkey gateway, an
OpenAI-compatible server — implements :class:`Model`. Wrapping and fallback are composition, not
subclass trees. A model never raises for a failed completion: it returns an ``LLMResponse`` whose
``error`` says what went wrong, so the run records it and goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ekklesia.core.llm import LLMRequest, LLMResponse

__all__ = ["Model"]


class Model(ABC):
    """A language model, real or simulated.

    Subclasses implement :meth:`complete`. ``name`` is what the timeline records; :meth:`spec`
    returns a model spec string that recreates the model where one exists.
    """

    name: str = "model"

    @property
    def supports_tools(self) -> bool:
        """Whether requests to this model should offer tools (``LLMRequest.tools``).

        A model that does not support tool calling ignores offered tools and answers in text, so
        an agent asks this only to decide what to offer and what to ask for in its prompt. False
        unless a model says otherwise: the connectors say yes (unless their spec turns it off).
        """
        return False

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
