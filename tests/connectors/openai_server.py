"""A scripted OpenAI-compatible server for tests and benchmarks, bound to 127.0.0.1 only.

It answers ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` the way an OpenAI-compatible
server does (``usage`` included), and lets a test script faults per model name: a status code (429
with ``Retry-After``, 500, …), a delay longer than the client's timeout, a response without usage,
and replies that are tool calls (``"tool_calls": [{"name": "sql", "arguments": {...}}]``), sent in
OpenAI's shape: ``message.content`` null unless ``text`` is scripted too, ``message.tool_calls`` as
``{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}`` and
``finish_reason`` ``"tool_calls"``. The model name travels through gateways unchanged, so scripts
work behind the Portkey gateway too.

Control API (plain JSON over HTTP, so a server in another process is scripted the same way):

- ``POST /_control/script`` ``{"model": "m", "steps": [Behaviour, …], "default": Behaviour}``:
  the next requests for model ``m`` take the steps in order, then the default.
- ``GET /_control/requests?model=m``: the requests received (path, model, headers, body — the
  ``tools`` a client offered among it).
- ``GET /_control/stats?model=m``: how many requests, and the most in flight at once.
- ``POST /_control/reset``: forget scripts and requests.

Run it on its own (the benchmark does)::

    python tests/connectors/openai_server.py --port 8000 --latency 0.1

It prints ``listening on http://127.0.0.1:PORT/v1`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

DEFAULT_TEXT = "I worked through the problem step by step.\nAnswer: 42\nConfidence: 0.80"


class ScriptedToolCall(BaseModel):
    """A tool call the model "makes": ``arguments`` as an object (sent as its JSON text) or as
    text sent as is, to script arguments that are not JSON."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class Behaviour(BaseModel):
    """How the server answers one request. Unset fields take the server's defaults."""

    status: int = 200
    retry_after: float | None = None
    delay_s: float | None = None
    text: str | None = None
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | Literal["max"] | None = None
    error: str = "scripted failure"
    tool_calls: list[ScriptedToolCall] | None = None


class Script(BaseModel):
    model: str
    steps: list[Behaviour] = Field(default_factory=list)
    default: Behaviour | None = None


_PLAIN = Behaviour()


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


class _State:
    def __init__(self, latency_s: float, text: str) -> None:
        self.latency_s = latency_s
        self.text = text
        self.steps: dict[str, collections.deque[Behaviour]] = {}
        self.defaults: dict[str, Behaviour] = {}
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.peak: collections.Counter[str] = collections.Counter()

    def next_behaviour(self, model: str) -> Behaviour:
        queue = self.steps.get(model)
        if queue:
            return queue.popleft()
        return self.defaults.get(model, _PLAIN)


def make_app(latency_s: float = 0.0, text: str = DEFAULT_TEXT, dims: int = 8) -> FastAPI:
    """The server as a FastAPI app: ``latency_s`` delays every answer unless a script says not."""
    state = _State(latency_s, text)
    app = FastAPI(title="scripted OpenAI-compatible server")

    async def behave(request: Request, body: dict[str, Any]) -> Behaviour | JSONResponse:
        model = str(body.get("model", ""))
        state.requests.append(
            {
                "path": request.url.path,
                "model": model,
                "headers": dict(request.headers),
                "body": body,
                "time": time.time(),
            }
        )
        behaviour = state.next_behaviour(model)
        delay = state.latency_s if behaviour.delay_s is None else behaviour.delay_s
        state.in_flight[model] += 1
        state.peak[model] = max(state.peak[model], state.in_flight[model])
        try:
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            state.in_flight[model] -= 1
        if behaviour.status != 200:
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            return JSONResponse(
                {"error": {"message": behaviour.error, "code": behaviour.status}},
                status_code=behaviour.status,
                headers=headers,
            )
        return behaviour

    async def chat(request: Request) -> Response:
        body = await request.json()
        outcome = await behave(request, body)
        if isinstance(outcome, JSONResponse):
            return outcome
        calls = _tool_calls(outcome.tool_calls or [], len(state.requests))
        text = state.text if outcome.text is None else outcome.text
        if calls and outcome.text is None:
            text = ""  # a reply that is only tool calls has no content
        written = text + "".join(c["function"]["name"] + c["function"]["arguments"] for c in calls)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 512)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        prompt_tokens = (
            outcome.prompt_tokens if outcome.prompt_tokens is not None else _tokens(prompt)
        )
        if outcome.completion_tokens == "max":
            completion_tokens = max_tokens
        elif outcome.completion_tokens is not None:
            completion_tokens = outcome.completion_tokens
        else:
            completion_tokens = _tokens(written)
        finish = "tool_calls" if calls else "stop"
        if completion_tokens > max_tokens:
            text, completion_tokens, finish = text[: max_tokens * 4], max_tokens, "length"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if text or not calls else None,
        }
        if calls:
            message["tool_calls"] = calls
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{len(state.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if outcome.usage:
            answer["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        # A response object skips FastAPI's encoder, which would cost more than the answer.
        return JSONResponse(answer)

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        outcome = await behave(request, body)
        if isinstance(outcome, JSONResponse):
            return outcome
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(t, dims)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(_tokens(t) for t in texts)
        answer: dict[str, Any] = {"object": "list", "data": data, "model": body.get("model", "")}
        if outcome.usage:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(answer)

    # Plain routes for the two hot paths: FastAPI's per-request dependency solving would make
    # this server, not the client under test, the bottleneck of the benchmark.
    app.add_route("/v1/chat/completions", chat, methods=["POST"])
    app.add_route("/v1/embeddings", embeddings, methods=["POST"])

    @app.get("/v1/models")
    async def models() -> Any:
        names = sorted(set(state.defaults) | set(state.steps) | {"local-model"})
        return {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}

    @app.post("/_control/script")
    async def script(spec: Script) -> Any:
        state.steps.setdefault(spec.model, collections.deque()).extend(spec.steps)
        if spec.default is not None:
            state.defaults[spec.model] = spec.default
        return {"ok": True}

    @app.get("/_control/requests")
    async def requests(model: str | None = None) -> Any:
        return [r for r in state.requests if model is None or r["model"] == model]

    @app.get("/_control/stats")
    async def stats(model: str) -> Any:
        count = sum(1 for r in state.requests if r["model"] == model)
        return {"requests": count, "peak_in_flight": state.peak[model]}

    @app.post("/_control/reset")
    async def reset() -> Any:
        state.steps.clear()
        state.defaults.clear()
        state.requests.clear()
        state.peak.clear()
        return {"ok": True}

    return app


def _tool_calls(scripted: list[ScriptedToolCall], request_number: int) -> list[dict[str, Any]]:
    """OpenAI's ``message.tool_calls``: arguments are JSON text, ids unique per request."""
    return [
        {
            "id": call.id or f"call_{request_number}_{i}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": call.arguments
                if isinstance(call.arguments, str)
                else json.dumps(call.arguments),
            },
        }
        for i, call in enumerate(scripted)
    ]


def _vector(text: str, dims: int) -> list[float]:
    # blake2b gives at most 64 bytes: longer vectors chain further digests after the first
    blocks = [hashlib.blake2b(text.encode(), digest_size=min(dims, 64)).digest()]
    while sum(map(len, blocks)) < dims:
        blocks.append(hashlib.blake2b(f"{len(blocks)}:{text}".encode(), digest_size=64).digest())
    digest = b"".join(blocks)[:dims]
    raw = [b / 255.0 - 0.5 for b in digest]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class LocalOpenAIServer:
    """The scripted server on a free loopback port, in a background thread, and a client for it."""

    def __init__(self, latency_s: float = 0.0, text: str = DEFAULT_TEXT, port: int = 0) -> None:
        config = uvicorn.Config(
            make_app(latency_s, text),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="openai-server", daemon=True)
        self.port = 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL an OpenAI client is given."""
        return f"{self.root}/v1"

    def start(self) -> LocalOpenAIServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted OpenAI server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LocalOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control ---------------------------------------------------------------------------------

    def script(
        self,
        model: str,
        steps: list[dict[str, Any]] | None = None,
        default: dict[str, Any] | None = None,
    ) -> None:
        control(self.root, model, steps, default)

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        params = {"model": model} if model is not None else {}
        answer = httpx.get(f"{self.root}/_control/requests", params=params, timeout=10)
        answer.raise_for_status()
        return list(answer.json())

    def stats(self, model: str) -> dict[str, int]:
        """How many requests ``model`` got, and the most that were in flight at once."""
        answer = httpx.get(f"{self.root}/_control/stats", params={"model": model}, timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def reset(self) -> None:
        httpx.post(f"{self.root}/_control/reset", timeout=10).raise_for_status()


def control(
    root: str,
    model: str,
    steps: list[dict[str, Any]] | None = None,
    default: dict[str, Any] | None = None,
) -> None:
    """Script the server at ``root`` (``http://127.0.0.1:PORT``) for ``model``."""
    payload = {"model": model, "steps": steps or [], "default": default}
    httpx.post(f"{root}/_control/script", json=payload, timeout=10).raise_for_status()


@contextmanager
def running(latency_s: float = 0.0) -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(latency_s) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--text", default=DEFAULT_TEXT)
    args = parser.parse_args()
    server = LocalOpenAIServer(args.latency, args.text, port=args.port).start()
    print(f"listening on {server.url}", flush=True)
    try:
        server._thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
