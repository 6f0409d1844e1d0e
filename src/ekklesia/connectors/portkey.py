"""Models behind a Portkey gateway — hosted, or the open-source gateway run by yourself.

Spec: ``portkey:MODEL[?options]``, where ``MODEL`` is a Portkey model-catalog string
(``@openai/gpt-4o-mini``), for example::

    portkey:@openai/gpt-4o-mini
    portkey:@openai/gpt-4o-mini?config=pc-fallback-1a2b
    portkey:@openai/llama-3.1-8b?base_url=http://127.0.0.1:8787/v1&custom_host=http://127.0.0.1:8000/v1

Options (each also read from an environment variable when the spec leaves it out):

- ``base_url`` (``EKKLESIA_PORTKEY_BASE_URL``): the gateway. By default the hosted one,
  ``https://api.portkey.ai/v1``, which needs a Portkey API key. Any other URL is a self-hosted
  gateway: the open-source gateway has no model catalog, so ``@provider/model`` is sent as the
  provider header and the bare model name.
- ``config`` (``EKKLESIA_PORTKEY_CONFIG``): a Portkey config — fallback, load balancing, retries,
  cache — as a saved config id (``pc-…``) or the path of a JSON file; it is passed through as is.
- ``provider``: the provider, where the model names none.
- ``custom_host``: where a self-hosted gateway sends the request (an OpenAI-compatible server).
- ``key_env``: the secret holding the Portkey API key (default ``PORTKEY_API_KEY``).
- ``provider_key_env``: the secret holding the provider's key, sent to a self-hosted gateway as
  ``Authorization`` (default ``<PROVIDER>_API_KEY``, for example ``OPENAI_API_KEY``, unless a
  ``custom_host`` is set, which gets no key unless one is named).
- the call options ``timeout``, ``retries``, ``concurrency``, ``rpm``, ``tpm``, ``price_as``,
  ``tools`` (``tools=off`` sends no ``tools`` even when a request offers them).

A request that offers tools is sent with OpenAI's ``tools`` and ``tool_choice``, which the gateway
passes on to the provider; the answer's ``message.tool_calls`` come back as the response's
``tool_calls``.

Every call carries the run id as Portkey trace id, the agent, round and call as a span, and
``run_id``/``agent``/``round`` as metadata, so the calls of a run can be found in Portkey's logs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from portkey_ai import AsyncPortkey
from portkey_ai._vendor.openai import APIConnectionError, APIStatusError, APITimeoutError
from portkey_ai.api_resources.types.chat_complete_type import ChatCompletions

from ekklesia.agents.pricing import PriceTable
from ekklesia.connectors.base import ConnectorModel, describe_failure
from ekklesia.connectors.http import pooled_client
from ekklesia.connectors.options import CALL_OPTIONS, SpecOptions, check_url, parse_query
from ekklesia.connectors.resilience import (
    CircuitPolicy,
    EndpointLimits,
    PermanentError,
    Resilience,
    RetryPolicy,
    TransientError,
    error_for_status,
)
from ekklesia.connectors.secrets import redact, remember_secret, secret
from ekklesia.connectors.usage import (
    chat_messages,
    priced_response,
    tokens_bound,
    tool_calls_of,
    tool_fields,
)
from ekklesia.core.llm import LLMRequest, LLMResponse
from ekklesia.errors import SpecError

__all__ = ["HOSTED_BASE_URL", "PortkeyModel", "model_from_spec"]

HOSTED_BASE_URL = "https://api.portkey.ai/v1"
BASE_URL_ENV = "EKKLESIA_PORTKEY_BASE_URL"
CONFIG_ENV = "EKKLESIA_PORTKEY_CONFIG"
_OPTIONS = (
    "base_url",
    "config",
    "provider",
    "custom_host",
    "key_env",
    "provider_key_env",
    *CALL_OPTIONS,
)
_SEED_RANGE = 2**31


class PortkeyModel(ConnectorModel[AsyncPortkey]):
    """A model reached through a Portkey gateway with the ``portkey-ai`` SDK's async client.

    ``endpoint`` names what limits and the circuit breaker are shared under (by default the
    gateway and the provider). Keys are named, not held: ``api_key_env`` and ``provider_key_env``
    are read (environment, then secrets file) in the process that makes the call, so the model
    pickles without secrets.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        config: Mapping[str, Any] | str | None = None,
        provider: str | None = None,
        custom_host: str | None = None,
        api_key_env: str = "PORTKEY_API_KEY",
        provider_key_env: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        limits: EndpointLimits | None = None,
        circuit: CircuitPolicy | None = None,
        prices: PriceTable | None = None,
        price_as: str | None = None,
        endpoint: str | None = None,
        spec: str | None = None,
        tools: bool = True,
    ) -> None:
        self.catalog_model = model
        self.tool_calling = tools
        self.base_url = (base_url or HOSTED_BASE_URL).rstrip("/")
        self.hosted = self.base_url == HOSTED_BASE_URL
        catalog_provider, bare = _split_catalog(model)
        # Only the hosted gateway resolves catalog strings; a self-hosted one needs them apart.
        self.provider = provider or (None if self.hosted else catalog_provider)
        self.model = model if self.hosted else bare
        self.config = dict(config) if isinstance(config, Mapping) else config
        self.custom_host = custom_host
        self.api_key_env = api_key_env
        self.provider_key_env = provider_key_env
        self.metadata = dict(metadata or {})
        self.timeout = timeout
        self.price_as = price_as
        self.name = model
        self._prices = prices
        self._spec = spec or f"portkey:{model}"
        endpoint = endpoint or f"portkey:{self.base_url}/{self.provider or catalog_provider or ''}"
        self._resilience = Resilience(endpoint, retry=retry, limits=limits, circuit=circuit)
        self._start_clients()
        _remember_config_keys(self.config)

    @property
    def priced_model(self) -> str:
        return self.catalog_model

    async def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        try:
            answer = await self._resilience.call(
                lambda: self._create(request), tokens=tokens_bound(request)
            )
            choice = answer["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content") or ""  # null when the model answers with tool calls
            finish = choice.get("finish_reason")
            calls = tool_calls_of(message)
        except Exception as exc:  # a failed call is an answer, never an exception of the run
            return LLMResponse(
                model=self.catalog_model,
                error=describe_failure(exc),
                finish_reason="error",
                latency_s=time.perf_counter() - started,
            )
        usage = answer.get("usage")
        return priced_response(
            request=request,
            text=str(text),
            finish_reason=finish,
            usage=usage if isinstance(usage, dict) else None,
            requested_model=self.catalog_model,
            reported_model=answer.get("model") or None,
            prices=self.prices,
            price_as=self.price_as,
            latency_s=time.perf_counter() - started,
            tool_calls=calls,
        )

    async def _disconnect(self, client: AsyncPortkey) -> None:
        await client.close()

    # -- transport -------------------------------------------------------------------------------

    def trace_headers(self, request: LLMRequest) -> dict[str, str]:
        """The Portkey headers that tie a call to its run, agent and round in Portkey's logs."""
        metadata = {**self.metadata, **request.metadata}
        headers: dict[str, str] = {}
        if request.run_id:
            metadata["run_id"] = request.run_id
            headers["x-portkey-trace-id"] = request.run_id
        if request.agent:
            metadata["agent"] = request.agent
            metadata["_user"] = request.agent
            headers["x-portkey-span-name"] = request.agent
        metadata["round"] = str(request.round)
        span = f"{request.agent or 'call'}.r{request.round}.c{request.call_index}"
        headers["x-portkey-span-id"] = span
        headers["x-portkey-metadata"] = json.dumps(metadata, sort_keys=True)
        return headers

    def _connect(self) -> AsyncPortkey:
        extra: dict[str, Any] = {}
        provider_key_env = self.provider_key_env
        if provider_key_env is None and self.provider and not self.custom_host:
            provider_key_env = f"{self.provider.upper().replace('-', '_')}_API_KEY"
        provider_key = secret(provider_key_env) if provider_key_env else None
        if provider_key:
            extra["Authorization"] = provider_key
        client = AsyncPortkey(
            api_key=secret(self.api_key_env),
            base_url=self.base_url,
            config=self.config,
            provider=self.provider,
            custom_host=self.custom_host,
            http_client=pooled_client(
                timeout=self.timeout,
                max_connections=self._resilience.limits.concurrency or 100,
            ),
            **extra,
        )
        # The SDK's own retries would multiply ours; this discipline is the only one.
        client.openai_client.max_retries = 0
        return client

    async def _create(self, request: LLMRequest) -> dict[str, Any]:
        where = f"Portkey gateway {self.base_url}"
        # The SDK passes fields it has no parameter for (tools, tool_choice) on in the body.
        tools = tool_fields(request) if self.tool_calling else {}
        try:
            client = await self._clients.get()
            answer = await client.chat.completions.create(
                model=self.model,
                messages=chat_messages(request),
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                seed=request.seed % _SEED_RANGE,
                extra_headers=self.trace_headers(request),
                timeout=self.timeout,
                **tools,
            )
        except APITimeoutError as exc:
            if isinstance(exc.__cause__, httpx.ConnectTimeout):
                raise TransientError(f"{where} could not be reached") from None
            raise TransientError(f"{where} did not answer within {self.timeout:g}s") from None
        except APIConnectionError as exc:
            raise TransientError(f"{where} could not be reached ({type(exc).__name__})") from None
        except APIStatusError as exc:
            raise error_for_status(
                exc.status_code, exc.response.headers, redact(_detail(exc)), where=where
            ) from None
        if not isinstance(answer, ChatCompletions):
            raise PermanentError(f"{where} answered a stream to a request for one completion")
        return answer.model_dump()


def _split_catalog(model: str) -> tuple[str | None, str]:
    if model.startswith("@") and "/" in model:
        provider, _, bare = model[1:].partition("/")
        return provider, bare
    return None, model


def _remember_config_keys(config: object) -> None:
    """Keys written into a config (targets' ``api_key``) are secrets too."""
    if isinstance(config, Mapping):
        for key, value in config.items():
            if isinstance(value, str) and "key" in str(key).lower():
                remember_secret(value)
            else:
                _remember_config_keys(value)
    elif isinstance(config, list):
        for item in config:
            _remember_config_keys(item)


def _detail(exc: APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("message"):
            issues = body.get("errors")
            more = f" ({'; '.join(map(str, issues))})" if isinstance(issues, list) else ""
            return f"{body['message']}{more}"
    return str(exc.message)[:300]


def _load_config(value: str, *, spec: str) -> dict[str, Any] | str:
    if value.startswith("pc-"):
        return value
    path = Path(value).expanduser()
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"Portkey config file {value!r} of model spec {spec!r} not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(
            f"Portkey config file {value!r} of model spec {spec!r} is not JSON: {exc}"
        ) from None
    if not isinstance(loaded, dict):
        raise SpecError(f"Portkey config file {value!r} of model spec {spec!r} is not an object")
    return loaded


def model_from_spec(rest: str) -> PortkeyModel:
    """Build the model named by ``portkey:<rest>``; see the module docstring for the format."""
    try:
        return _from_spec(rest)
    except SpecError as exc:  # a key pasted into a spec must not reach the message that quotes it
        raise SpecError(redact(str(exc))) from None


def _from_spec(rest: str) -> PortkeyModel:
    spec = f"portkey:{rest}"
    model, _, query = rest.strip().partition("?")
    model = model.strip()
    if not model or model in ("@", "/") or model.endswith("/"):
        raise SpecError(
            f"malformed model spec {spec!r}: expected portkey:@provider/model, "
            "e.g. portkey:@openai/gpt-4o-mini"
        )
    options = SpecOptions(parse_query(query, spec=spec, known=_OPTIONS), spec=spec)
    base_url_text = options.get("base_url") or os.environ.get(BASE_URL_ENV) or HOSTED_BASE_URL
    base_url = check_url(base_url_text, spec=spec, what="base_url")
    custom_host = options.get("custom_host")
    if custom_host is not None:
        custom_host = check_url(custom_host, spec=spec, what="custom_host")
    config_text = options.get("config") or os.environ.get(CONFIG_ENV)
    config = _load_config(config_text, spec=spec) if config_text else None
    key_env = options.get("key_env") or "PORTKEY_API_KEY"
    if base_url == HOSTED_BASE_URL and not secret(key_env):
        raise SpecError(
            f"model spec {spec!r} uses the hosted Portkey gateway, which needs an API key: set "
            f"{key_env} (or give base_url= for a self-hosted gateway)"
        )
    provider_key_env = options.get("provider_key_env")
    if provider_key_env is not None and not secret(provider_key_env):
        raise SpecError(f"model spec {spec!r} names the key {provider_key_env}, which is not set")
    hosted = base_url == HOSTED_BASE_URL
    provider = options.get("provider")
    if not hosted and provider is None and config is None and not model.startswith("@"):
        raise SpecError(
            f"model spec {spec!r} names no provider for the self-hosted gateway: write the model "
            "as @provider/model, or add provider= or config="
        )
    return PortkeyModel(
        model,
        base_url=base_url,
        config=config,
        provider=provider,
        custom_host=custom_host,
        api_key_env=key_env,
        provider_key_env=provider_key_env,
        timeout=options.timeout(60.0),
        retry=options.retry(),
        limits=options.limits(),
        price_as=options.get("price_as"),
        spec=spec,
        tools=options.flag("tools", True),
    )
