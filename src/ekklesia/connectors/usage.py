"""From a provider's answer to a priced :class:`~ekklesia.agents.model.LLMResponse`.

Token counts come from the answer's ``usage`` when the provider sends one; otherwise they are
estimated from the text and the response says so (``usage_estimated=True``). The price is looked
up for the model that answered, then for the model that was asked, then for ``price_as``; a model
with no price gets ``cost_usd=None`` and a warning once per model — never a cost of zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ekklesia.agents.pricing import PriceTable, warn_unpriced
from ekklesia.core.llm import LLMRequest, LLMResponse, estimate_tokens

__all__ = ["chat_messages", "cost_bound", "priced_response", "tokens_bound"]


def chat_messages(request: LLMRequest) -> list[dict[str, str]]:
    return [{"role": turn.role, "content": turn.content} for turn in request.messages]


def tokens_bound(request: LLMRequest) -> int:
    """About the most a request can use, for tokens-per-minute limits."""
    return estimate_tokens(request.prompt_text) + request.max_tokens


def cost_bound(
    prices: PriceTable, price_as: str | None, model: str, input_tokens: int, output_tokens: int
) -> float | None:
    """The cost of a call of this size, priced as ``price_as`` or ``model``; ``None`` if unknown."""
    return prices.cost(price_as or model, input_tokens, output_tokens)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def priced_response(
    *,
    request: LLMRequest,
    text: str,
    finish_reason: str | None,
    usage: Mapping[str, Any] | None,
    requested_model: str,
    reported_model: str | None,
    prices: PriceTable,
    price_as: str | None,
    latency_s: float,
) -> LLMResponse:
    model = reported_model or requested_model
    if usage and ("prompt_tokens" in usage or "completion_tokens" in usage):
        input_tokens = _int(usage.get("prompt_tokens"))
        output_tokens = _int(usage.get("completion_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
        estimated = False
    else:
        input_tokens = estimate_tokens(request.prompt_text)
        output_tokens = estimate_tokens(text)
        cached, estimated = 0, True
    cost: float | None = None
    for name in ([price_as] if price_as else []) + [model, requested_model]:
        cost = prices.cost(name, input_tokens, output_tokens, cached)
        if cost is not None:
            break
    else:
        warn_unpriced(price_as or requested_model)
    return LLMResponse(
        text=text,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=min(cached, input_tokens),
        cost_usd=cost,
        usage_estimated=estimated,
        latency_s=latency_s,
        model=model,
        finish_reason=finish_reason or "stop",
    )
