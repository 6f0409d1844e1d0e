"""From a provider's answer to a priced :class:`~ekklesia.agents.model.LLMResponse`.

Token counts come from the answer's ``usage`` when the provider sends one; otherwise they are
estimated from the text and the response says so (``usage_estimated=True``). The price is looked
up for the model that answered, then for the model that was asked, then for ``price_as``; a model
with no price gets ``cost_usd=None`` and a warning once per model — never a cost of zero.

Both connectors speak OpenAI's chat format, so the request's tools are written
(:func:`tool_fields`) and the answer's tool calls read (:func:`tool_calls_of`) here, once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ekklesia.agents.pricing import PriceTable, warn_unpriced
from ekklesia.core.llm import TOOL_CHOICES, LLMRequest, LLMResponse, ModelToolCall, estimate_tokens

__all__ = [
    "chat_messages",
    "cost_bound",
    "priced_response",
    "tokens_bound",
    "tool_calls_of",
    "tool_fields",
]


def chat_messages(request: LLMRequest) -> list[dict[str, str]]:
    return [{"role": turn.role, "content": turn.content} for turn in request.messages]


def tool_fields(request: LLMRequest) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` of an OpenAI chat request; empty when no tool is offered."""
    if not request.tools:
        return {}
    choice: Any = request.tool_choice
    if choice not in TOOL_CHOICES:
        choice = {"type": "function", "function": {"name": choice}}
    return {"tools": [tool.openai() for tool in request.tools], "tool_choice": choice}


def tool_calls_of(message: Mapping[str, Any] | None) -> tuple[ModelToolCall, ...]:
    """The function calls of an OpenAI chat message (``message.tool_calls``), in order.

    Arguments are kept as the JSON text the model sent; servers that send them as an object
    (Ollama does) have it written back as JSON. Entries that are not function calls are skipped.
    """
    raw = (message or {}).get("tool_calls")
    if not isinstance(raw, list):
        return ()
    calls: list[ModelToolCall] = []
    for entry in raw:
        function = entry.get("function") if isinstance(entry, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            continue
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else json.dumps(arguments)
        calls.append(
            ModelToolCall(id=str(entry.get("id") or ""), name=function["name"], arguments=arguments)
        )
    return tuple(calls)


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
    tool_calls: tuple[ModelToolCall, ...] = (),
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
        written = text + "".join(f"{call.name}{call.arguments}" for call in tool_calls)
        output_tokens = estimate_tokens(written)
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
        finish_reason=finish_reason or ("tool_calls" if tool_calls else "stop"),
        tool_calls=tool_calls,
    )
