"""Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, LM Studio, OpenAI itself) over httpx.

Spec: ``openai:BASE_URL[?options]#MODEL``, for example
``openai:http://127.0.0.1:8000/v1#llama-3.1-8b-instruct`` or
``openai:https://api.openai.com/v1?rpm=500#gpt-4o-mini``.

Options: ``key_env`` names the environment variable or secrets-file entry that holds the API key.
By default it is ``OPENAI_API_KEY`` for ``api.openai.com`` and none elsewhere, so a key is never
sent to a server it was not meant for. ``embedding_model`` names the model for :meth:`embed`; the
call options of :mod:`ekklesia.connectors.options` apply too. A request that offers tools is sent
with OpenAI's ``tools`` and ``tool_choice`` (unless ``tools=off``), and the answer's
``message.tool_calls`` come back as the response's ``tool_calls``. Chat completions and
embeddings run under the endpoint's :class:`~ekklesia.connectors.resilience.Resilience` on one
pooled ``httpx.AsyncClient`` per event loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ekklesia.agents.pricing import PriceTable
from ekklesia.connectors.base import ConnectorModel, describe_failure
from ekklesia.connectors.http import JsonPoster, post_json
from ekklesia.connectors.options import CALL_OPTIONS, SpecOptions, check_url, parse_query
from ekklesia.connectors.resilience import (
    CircuitPolicy,
    ConnectorError,
    EndpointLimits,
    PermanentError,
    Resilience,
    RetryPolicy,
    error_for_status,
)
from ekklesia.connectors.secrets import redact, secret
from ekklesia.connectors.usage import (
    chat_messages,
    priced_response,
    tokens_bound,
    tool_calls_of,
    tool_fields,
)
from ekklesia.core.llm import LLMRequest, LLMResponse
from ekklesia.errors import SpecError

__all__ = ["OpenAICompatModel", "model_from_spec"]

_OPTIONS = ("key_env", "embedding_model", *CALL_OPTIONS)
_SEED_RANGE = 2**31


class OpenAICompatModel(ConnectorModel[JsonPoster]):
    """Chat completions and embeddings from an OpenAI-compatible server.

    ``endpoint`` names what the limits and the circuit breaker are shared under (the base URL by
    default: models on one server share them). ``api_key_env`` names the secret holding the key
    (see :mod:`ekklesia.connectors.secrets`); the key is read in the process that makes the call
    and never stored on the model, so a model shipped to a Ray actor carries no secret.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        embedding_model: str | None = None,
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
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self.api_key_env = api_key_env
        self.embedding_model = embedding_model or model
        self.timeout = timeout
        self.price_as = price_as
        self.tool_calling = tools
        self._prices = prices
        self._spec = spec or f"openai:{self.base_url}#{model}"
        self._resilience = Resilience(
            endpoint or self.base_url, retry=retry, limits=limits, circuit=circuit
        )
        self._start_clients()
        self._urls: dict[str, httpx.URL] = {}

    @property
    def priced_model(self) -> str:
        return self.model

    # -- calls -----------------------------------------------------------------------------------

    async def complete(self, request: LLMRequest) -> LLMResponse:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed % _SEED_RANGE,
        }
        if self.tool_calling:
            payload.update(tool_fields(request))
        started = time.perf_counter()
        try:
            body = await self._resilience.call(
                lambda: self._post("/chat/completions", payload), tokens=tokens_bound(request)
            )
            choice = body["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content") or ""  # null when the model answers with tool calls
            finish = choice.get("finish_reason")
            calls = tool_calls_of(message)
        except Exception as exc:  # a failed call is an answer, never an exception of the run
            return LLMResponse(
                model=self.model,
                error=describe_failure(exc),
                finish_reason="error",
                latency_s=time.perf_counter() - started,
            )
        return priced_response(
            request=request,
            text=str(text),
            finish_reason=finish,
            usage=body.get("usage") if isinstance(body.get("usage"), dict) else None,
            requested_model=self.model,
            reported_model=body.get("model") or None,
            prices=self.prices,
            price_as=self.price_as,
            latency_s=time.perf_counter() - started,
            tool_calls=calls,
        )

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Raises :class:`ConnectorError` when the call fails."""
        if not texts:
            return []
        payload = {"model": self.embedding_model, "input": list(texts)}
        tokens = sum(len(t) for t in texts) // 4 + len(texts)
        try:
            body = await self._resilience.call(
                lambda: self._post("/embeddings", payload), tokens=tokens
            )
            rows = sorted(body["data"], key=lambda row: row["index"])
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except ConnectorError as exc:
            raise type(exc)(redact(str(exc)), status=exc.status) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(
                f"{self.base_url}/embeddings sent a malformed answer ({type(exc).__name__})"
            ) from None
        if len(vectors) != len(texts):
            raise PermanentError(
                f"{self.base_url}/embeddings answered {len(vectors)} vectors for {len(texts)} texts"
            )
        return vectors

    async def _disconnect(self, client: JsonPoster) -> None:
        await client.aclose()

    # -- transport -------------------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        # Parsed once: httpx's URL parsing costs more than one might think, on every call.
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(f"{self.base_url}{path}")
        return url

    def _connect(self) -> JsonPoster:
        headers = {}
        key = secret(self.api_key_env) if self.api_key_env else None
        if key:
            headers["authorization"] = f"Bearer {key}"
        return JsonPoster(
            headers=headers,
            timeout=self.timeout,
            max_connections=self._resilience.limits.concurrency or 100,
        )

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.base_url}{path}"
        poster = await self._clients.get()
        response = await post_json(
            poster, self._url(path), payload, where=where, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise error_for_status(
                response.status_code, response.headers, redact(_detail(response)), where=where
            )
        try:
            body = response.json()
        except ValueError:
            raise PermanentError(f"{where} answered with something that is not JSON") from None
        if not isinstance(body, dict):
            raise PermanentError(f"{where} answered with JSON that is not an object")
        return body


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    return response.text[:300]


def model_from_spec(rest: str) -> OpenAICompatModel:
    """Build the model named by ``openai:<rest>``; see the module docstring for the format."""
    try:
        return _from_spec(rest)
    except SpecError as exc:  # a key pasted into a spec must not reach the message that quotes it
        raise SpecError(redact(str(exc))) from None


def _from_spec(rest: str) -> OpenAICompatModel:
    spec = f"openai:{rest}"
    parts = urlsplit(rest.strip())
    model = parts.fragment.strip()
    if not parts.scheme or not parts.netloc:
        raise SpecError(
            f"malformed model spec {spec!r}: expected openai:BASE_URL#MODEL, "
            "e.g. openai:http://127.0.0.1:8000/v1#my-model"
        )
    if not model:
        raise SpecError(f"model spec {spec!r} names no model: add #MODEL after the base URL")
    base_url = check_url(
        f"{parts.scheme}://{parts.netloc}{parts.path}", spec=spec, what="the base URL"
    )
    options = SpecOptions(parse_query(parts.query, spec=spec, known=_OPTIONS), spec=spec)
    key_env = options.get("key_env")
    if key_env is None and parts.hostname == "api.openai.com":
        key_env = "OPENAI_API_KEY"
    if key_env is not None and not secret(key_env):
        raise SpecError(
            f"model spec {spec!r} needs the API key {key_env}: set it in the environment or in "
            "the file named by $EKKLESIA_SECRETS_FILE"
        )
    return OpenAICompatModel(
        base_url,
        model,
        api_key_env=key_env,
        embedding_model=options.get("embedding_model"),
        timeout=options.timeout(60.0),
        retry=options.retry(),
        limits=options.limits(),
        price_as=options.get("price_as"),
        spec=spec,
        tools=options.flag("tools", True),
    )
