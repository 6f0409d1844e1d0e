"""Connectors: everything that talks to the outside — LLM gateways, OpenAI-compatible servers.

Every connector call runs under one discipline (:mod:`ekklesia.connectors.resilience`): per-endpoint
concurrency and rate limits, a circuit breaker, and retries with backoff that honour
``Retry-After``. A model connector never raises for a failed call; it answers
``LLMResponse(error=...)``. Keys come from the environment or a secrets file and are redacted from
everything shown or recorded (:mod:`ekklesia.connectors.secrets`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ekklesia.connectors.fallback import FallbackModel
from ekklesia.connectors.openai_compat import OpenAICompatModel
from ekklesia.connectors.resilience import (
    CircuitOpen,
    CircuitPolicy,
    ConnectorError,
    EndpointLimits,
    PermanentError,
    Resilience,
    RetryPolicy,
    TransientError,
)
from ekklesia.connectors.secrets import redact, secret

if TYPE_CHECKING:
    from ekklesia.connectors.portkey import PortkeyModel

__all__ = [
    "CircuitOpen",
    "CircuitPolicy",
    "ConnectorError",
    "EndpointLimits",
    "FallbackModel",
    "OpenAICompatModel",
    "PermanentError",
    "PortkeyModel",
    "Resilience",
    "RetryPolicy",
    "TransientError",
    "redact",
    "secret",
]


def __getattr__(name: str) -> Any:
    # The Portkey SDK takes a second to import; only models that use it should pay for it.
    if name == "PortkeyModel":
        from ekklesia.connectors.portkey import PortkeyModel

        return PortkeyModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
