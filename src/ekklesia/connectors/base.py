"""What every model behind an HTTP endpoint shares: its spec, its prices, and its clients.

Clients are made one per event loop and closed with it; when a model is pickled to a Ray actor
they stay behind (and so do keys, which are read when a client is made, never stored).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Generic, TypeVar

from ekklesia.agents.model import Model
from ekklesia.agents.pricing import PriceTable, default_prices
from ekklesia.connectors.http import PerLoop
from ekklesia.connectors.resilience import ConnectorError
from ekklesia.connectors.secrets import redact
from ekklesia.connectors.usage import cost_bound

__all__ = ["ConnectorModel", "describe_failure"]

ClientT = TypeVar("ClientT")


class ConnectorModel(Model, Generic[ClientT]):
    """A model reached over HTTP. Subclasses set ``_spec``, ``price_as``, ``_prices`` and
    ``tool_calling``, call :meth:`_start_clients` in ``__init__``, and say how to make and close a
    client.

    ``tool_calling`` is on by default: OpenAI-compatible servers and the Portkey gateway take
    OpenAI's ``tools``; a spec turns it off (``tools=off``) for a server that rejects them.
    """

    _spec: str
    price_as: str | None
    _prices: PriceTable | None
    _clients: PerLoop[ClientT]
    tool_calling: bool = True

    @property
    @abstractmethod
    def priced_model(self) -> str:
        """The model name looked up in the price table when ``price_as`` is not given."""

    @abstractmethod
    def _connect(self) -> ClientT:
        """A new client for the running event loop."""

    @abstractmethod
    async def _disconnect(self, client: ClientT) -> None:
        """Close a client made by :meth:`_connect`."""

    def _start_clients(self) -> None:
        self._clients = PerLoop(self._connect, self._disconnect)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_clients"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start_clients()

    def spec(self) -> str:
        return self._spec

    @property
    def supports_tools(self) -> bool:
        return self.tool_calling

    @property
    def prices(self) -> PriceTable:
        return self._prices or default_prices()

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        return cost_bound(
            self.prices, self.price_as, self.priced_model, input_tokens, max_output_tokens
        )

    async def aclose(self) -> None:
        await self._clients.aclose()


def describe_failure(exc: Exception) -> str:
    """What a failed call's ``LLMResponse.error`` says: redacted, and plain about bad answers."""
    if isinstance(exc, ConnectorError):
        return redact(str(exc))
    if isinstance(exc, (KeyError, IndexError, TypeError)):
        return f"malformed answer: no completion in it ({type(exc).__name__})"
    return redact(f"{type(exc).__name__}: {exc}")
